#!/bin/bash
# bench/callgrind.sh BUILD_DIR
#
# User-space instructions per ping-pong iteration in the post + poll path,
# nd-pingpong (verbs provider) against bench/raw-verbs-pingpong.c (plain
# libibverbs + rdma_cm, RC Send/Receive, polling), both on rxe0 inside the VM
# (tests/vm/run). The client runs under valgrind --tool=callgrind, the server
# natively. Counted (inclusive, i.e. with everything below them in
# libibverbs and the rxe user driver):
#   ours: verbs_qp_send*, verbs_qp_receive*, verbs_get_results_{ex,wc}
#         (the provider's fast-path entries; the few instructions of nd.h's
#         inline wrappers stay in the caller and are not counted)
#   raw:  rv_post_send(_ex), rv_post_recv, rv_poll (thin non-inlined
#         wrappers), run three ways: sends through ibv_post_send; through
#         the extended QP's builders (-X, ibv_wr_*: what the provider uses
#         where the device has them; skipped where it does not); and the
#         same with an idle second thread (-T: a process using the provider
#         has its progress thread, and glibc's system calls, rxe's doorbell
#         write() among them, cost more in a multi-threaded process)
# Setup, control messages and warm-up cancel out: each side runs twice, with
# BENCH_N1 and BENCH_N2 iterations (same warm-up), and the per-iteration
# cost is the difference divided by N2 - N1. Busy-polling spins (empty
# polls, whose number depends on timing) are taken out: the empty-poll cost
# is measured separately (bench/nd-emptypoll.c for ours, the -E tail of
# raw-verbs-pingpong for raw) and subtracted for every poll call that found
# nothing (poll calls minus calls of dispatch / rv_dispatch, which run once
# per non-empty poll).
# Prints `ratio rxe0 callgrind ...: ours/raw` (lower is better; target <= 1.05)
# against each raw variant.
# Env: BENCH_N1 (200) BENCH_N2 (1000) BENCH_SIZE (8) BENCH_INLINE (64)
#   BENCH_DEVICE (rxe0) BENCH_TIMEOUT (300 s per run) VM_TIMEOUT (1200 s).
set -u

if [ "${1:-}" != --in-vm ]; then
	[ -n "${1:-}" ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
	[ -x "$1/examples/nd-pingpong" ] || { echo "$0: $1/examples/nd-pingpong not found" >&2; exit 2; }
	build=$(cd "$1" && pwd) || exit 2
	cd "$(dirname "$0")/.." || exit 2
	case $build in "$PWD"/*) ;; *) echo "$0: $build must be inside $PWD (the VM shares only that)" >&2; exit 2;; esac
	command -v valgrind >/dev/null || { echo "$0: valgrind not found (apt-get install valgrind)" >&2; exit 2; }
	# Build the two helpers on the host (the VM runs the same userspace).
	mkdir -p "$build/bench" || exit 2
	cc -O2 -g -fno-ipa-icf -Wall -Wextra -o "$build/bench/raw-verbs-pingpong" \
		bench/raw-verbs-pingpong.c -lrdmacm -libverbs -lm -pthread || exit 2
	cc -O2 -g -Wall -Wextra -Iinclude -I"$build" -o "$build/bench/nd-emptypoll" bench/nd-emptypoll.c \
		-L"$build/src" -lnetdirect -Wl,-rpath,"$build/src" || exit 2
	env="BENCH_HOST_DATE='$(date -u '+%F %T UTC')' "
	for v in BENCH_N1 BENCH_N2 BENCH_SIZE BENCH_INLINE BENCH_DEVICE BENCH_TIMEOUT; do
		[ -n "${!v:-}" ] && env+="$v=${!v} "
	done
	export VM_TIMEOUT=${VM_TIMEOUT:-1200}
	exec timeout -k 30 $((VM_TIMEOUT + 120)) tests/vm/run "${env}bench/callgrind.sh --in-vm $(printf %q "$build")"
fi
shift
cd "$(dirname "$0")/.." || exit 2
BENCH_TIMEOUT=${BENCH_TIMEOUT:-300}
# shellcheck source=bench/lib.sh
. bench/lib.sh
need_build "${1:-}"
N1=${BENCH_N1:-200}
N2=${BENCH_N2:-1000}
SIZE=${BENCH_SIZE:-8}
INL=${BENCH_INLINE:-64}
DEV=${BENCH_DEVICE:-rxe0}
WARM=10
EMPTY=10000
RAWV=$BUILD_DIR/bench/raw-verbs-pingpong
NEP=$BUILD_DIR/bench/nd-emptypoll
{ [ -x "$RAWV" ] && [ -x "$NEP" ]; } || die "run bench/callgrind.sh on the host (it builds the helpers)"
case $DEV in rxe0) ADDR=${RXE_IP:-};; siw0) ADDR=${SIW_IP:-};; *) ADDR=${ND_TEST_ADDR:-};; esac
[ -n "$ADDR" ] || die "no address for $DEV"
# Exported rather than given with env(1): valgrind must run the tool itself,
# not an env process that execs it.
export ND_PROVIDERS=verbs
CG=(valgrind --tool=callgrind --compress-strings=no --compress-pos=no)

note "callgrind: $DEV ($ADDR), ${SIZE}-byte ping-pong, inline <= $INL B, runs of $N1 and $N2 iterations (+$WARM warm-up), client under callgrind"
note "machine: $(nproc) CPUs, $(uname -r), $(valgrind --version); host clock ${BENCH_HOST_DATE:-$(date -u '+%F %T UTC')}"

# cgsum FILE REGEX: "calls inclusive_Ir" summed over every call of a function
# whose name matches REGEX (callgrind.out with uncompressed names/positions:
# cfn=NAME, then calls=COUNT TARGET, then POSITION INCLUSIVE_IR).
cgsum() {
	awk -v re="$2" '
		/^cfn=/ { fn = substr($0, 5); sub(/ .*/, "", fn); next }
		/^calls=/ { split(substr($0, 7), a, " "); pend = a[1]; want = (fn ~ re); next }
		pend != "" { if (want) { c += pend; ir += $2 } pend = ""; next }
		END { printf "%d %d\n", c, ir }' "$1"
}

# cgrun OUT NAME SERVER_CMD -- CLIENT_CMD: like pair, with the client under callgrind.
cgrun() {
	local out=$1 name=$2; shift 2
	local srv=() cli=()
	while [ "$1" != -- ]; do srv+=("$1"); shift; done
	shift
	pair "$out.log" "$name" "${srv[@]}" -- "${CG[@]}" --callgrind-out-file="$out" "$@"
}

# Figures of one run, into globals: post (Ir), poll (Ir), pc (poll calls),
# ne (non-empty polls). WHO: ours or raw.
measure() {
	local f=$1 who=$2 a
	if [ "$who" = ours ]; then
		read -r _ a <<<"$(cgsum "$f" '^verbs_qp_send(_q|_x)?$')"; post=$a
		read -r _ a <<<"$(cgsum "$f" '^verbs_qp_receive(_q|_srq)?$')"; post=$((post + a))
		read -r pc poll <<<"$(cgsum "$f" '^verbs_get_results_(ex|wc)$')"
		read -r ne _ <<<"$(cgsum "$f" '^dispatch$')"
	else
		read -r _ a <<<"$(cgsum "$f" '^rv_post_send(_ex)?$')"; post=$a
		read -r _ a <<<"$(cgsum "$f" '^rv_post_recv$')"; post=$((post + a))
		read -r pc poll <<<"$(cgsum "$f" '^rv_poll$')"
		read -r ne _ <<<"$(cgsum "$f" '^rv_dispatch$')"
	fi
}

ok=1
declare -A E=() # empty-poll cost per side
# 1. empty-poll cost, each side
o=$BENCH_TMP/nep.cg
if timeout -k 5 "$T" "${CG[@]}" --callgrind-out-file="$o" "$NEP" "$ADDR" $EMPTY >"$o.log" 2>&1; then
	read -r c ir <<<"$(cgsum "$o" '^verbs_get_results_(ex|wc)$')"
	E[ours]=$(awk -v c="$c" -v i="$ir" 'BEGIN { if (c > 0) printf "%.2f", i / c }')
else
	echo "# nd-emptypoll failed:" >&2; tail -n 5 "$o.log" >&2; ok=0
fi

declare -A R=()
for n in "$N1" "$N2"; do
	o=$BENCH_TMP/ours.$n.cg
	if cgrun "$o" "nd-pingpong -n $n" "$ND_BIN/nd-pingpong" -s "$ADDR:0" --wait 60 -t 60 -- \
		"$ND_BIN/nd-pingpong" -S "$SIZE" -n "$n" -W $WARM -I "$INL" -t 60 -c "$ADDR:"; then
		measure "$o" ours; R[ours.$n]="$post $poll $pc $ne"
	else ok=0; fi
	# raw: ibv_post_send; rawx: the builders (-X), where the device has
	# them; rawxt: the same in a multi-threaded process (-T), as ours is
	for who in raw rawx rawxt; do
		case $who in raw) x=;; rawx) x=-X;; rawxt) x="-X -T";; esac
		o=$BENCH_TMP/$who.$n.cg
		# shellcheck disable=SC2086  # $x: zero, one or two options
		if cgrun "$o" "raw-verbs-pingpong $x -n $n" "$RAWV" -s "$ADDR:0" -- \
			"$RAWV" -S "$SIZE" -n "$n" -W $WARM -I "$INL" -E $EMPTY $x -c "$ADDR:"; then
			measure "$o" raw; R[$who.$n]="$post $poll $pc $ne"
			read -r c ir <<<"$(cgsum "$o" '^rv_poll_empty$')"
			E[$who]=$(awk -v c="$c" -v i="$ir" 'BEGIN { if (c > 0) printf "%.2f", i / c }')
		elif [ $who != raw ] && grep -q rdma_create_qp_ex "$o.log"; then
			note "$DEV has no extended QP (ibv_wr_*): raw-verbs-pingpong -X skipped"
		else ok=0; fi
	done
done

# per_iter WHO: per iteration "post all empties net".
per_iter() {
	local a b
	read -r -a a <<<"${R[$1.$N1]:-}"
	read -r -a b <<<"${R[$1.$N2]:-}"
	if [ ${#a[@]} != 4 ] || [ ${#b[@]} != 4 ]; then echo "n/a n/a n/a n/a"; return; fi
	awk -v p1="${a[0]}" -v q1="${a[1]}" -v c1="${a[2]}" -v k1="${a[3]}" \
	    -v p2="${b[0]}" -v q2="${b[1]}" -v c2="${b[2]}" -v k2="${b[3]}" \
	    -v e="${E[$1]:-${E[raw]:-0}}" -v d="$((N2 - N1))" 'BEGIN {
		raw = ((p2 + q2) - (p1 + q1)) / d
		post = (p2 - p1) / d
		empties = ((c2 - k2) - (c1 - k1)) / d
		net = raw - e * empties
		printf "%.1f %.1f %.1f %.1f\n", post, raw, empties, net }'
}

echo
note "instructions (Ir) per iteration, from the difference of the $N1- and $N2-iteration runs"
note "post = send + receive posting; all = post + every poll; empty polls per iteration; net = all - empty polls x empty-poll cost"
printf '# %-32s %8s %8s %11s %8s %8s\n' side post all empty/iter e_empty net
declare -A P=() N=()
for who in ours raw rawx rawxt; do
	case $who in
	ours) label="nd-pingpong (verbs)";;
	raw) label="raw-verbs-pingpong (post_send)";;
	rawx) label="raw-verbs-pingpong -X (wr_*)";;
	rawxt) label="raw-verbs-pingpong -X -T (+thread)";;
	esac
	[ -n "${R[$who.$N2]:-}" ] || continue
	read -r po al em ne <<<"$(per_iter $who)"
	P[$who]=$po; N[$who]=$ne
	printf '# %-32s %8s %8s %11s %8s %8s\n' "$label" "$po" "$al" "$em" "${E[$who]:-${E[raw]:-n/a}}" "$ne"
done
[ $ok = 1 ] || note "some runs failed (see above): ratios from what ran"
na() { [ "$1" = n/a ] && echo || echo "$1"; }
for who in raw rawx rawxt; do
	[ -n "${N[$who]:-}" ] || continue
	case $who in
	raw) api=ibv_post_send;; rawx) api="ibv_wr_*";; rawxt) api="ibv_wr_*, multi-threaded";;
	esac
	echo "ratio $DEV callgrind post+poll Ir/iteration vs raw $api, empty polls removed (target <= 1.05): $(ratio "$(na "${N[ours]}")" "$(na "${N[$who]}")")"
	echo "ratio $DEV callgrind post-only Ir/iteration vs raw $api: $(ratio "$(na "${P[ours]}")" "$(na "${P[$who]}")")"
done
echo "ratio $DEV callgrind empty-poll Ir/call: $(ratio "${E[ours]:-}" "${E[raw]:-}")"
exit 0
