#!/bin/bash
# bench/verbs-vm.sh BUILD_DIR
#
# netdirect's tools on the verbs provider against perftest, inside ONE VM boot
# (tests/vm/run), on rxe0 (Soft-RoCE) and siw0 (Soft-iWARP), round by round
# (alternating ours / perftest), same sizes, iterations and inline setting:
#   nd-pingpong        vs ib_send_lat    (one-way = round trip / 2, both)
#   nd-rpingpong       vs ib_write_lat   (one-way, both poll memory)
#   nd-readlat         vs ib_read_lat    (full read round trip, both)
#   nd-rping -w -q 128 vs ib_write_bw -t 128  (MB/s; perftest's MiB/s converted)
# perftest runs through tests/vm/perftest.sh (loopback, -R for iWARP); a
# perftest output containing "inf" is rejected. Prints medians per device and
# `ratio DEV ...: ours/theirs` lines (latency: lower is better; bandwidth:
# higher is better).
# Env: BENCH_ITERS (1000) BENCH_BW_ITERS (200) BENCH_SIZE (8) BENCH_BW_SIZE
#   (1048576) BENCH_INLINE (64) BENCH_RUNS (3) BENCH_DEVICES ("rxe0 siw0")
#   BENCH_TIMEOUT (120 s per run) VM_TIMEOUT (1800 s for the whole boot).
set -u

if [ "${1:-}" != --in-vm ]; then
	[ -n "${1:-}" ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
	[ -x "$1/examples/nd-pingpong" ] || { echo "$0: $1/examples/nd-pingpong not found" >&2; exit 2; }
	build=$(cd "$1" && pwd) || exit 2
	# The VM shares the current directory (the repository) at the same path.
	cd "$(dirname "$0")/.." || exit 2
	case $build in "$PWD"/*) ;; *) echo "$0: $build must be inside $PWD (the VM shares only that)" >&2; exit 2;; esac
	# Forward the knobs: tests/vm/run passes only ND_* variables into the VM.
	env="BENCH_HOST_DATE='$(date -u '+%F %T UTC')' "
	for v in BENCH_ITERS BENCH_BW_ITERS BENCH_SIZE BENCH_BW_SIZE BENCH_INLINE BENCH_RUNS BENCH_DEVICES BENCH_TIMEOUT; do
		[ -n "${!v:-}" ] && env+="$v=${!v} "
	done
	export VM_TIMEOUT=${VM_TIMEOUT:-1800}
	exec timeout -k 30 $((VM_TIMEOUT + 120)) tests/vm/run "${env}bench/verbs-vm.sh --in-vm $(printf %q "$build")"
fi
shift
cd "$(dirname "$0")/.." || exit 2
# ---- inside the VM ----
# shellcheck source=bench/lib.sh
. bench/lib.sh
need_build "${1:-}"
SIZE=${BENCH_SIZE:-8}
N=${BENCH_ITERS:-1000}
BWSIZE=${BENCH_BW_SIZE:-1048576}
NB=${BENCH_BW_ITERS:-200}
INL=${BENCH_INLINE:-64}
DEPTH=128
ND=(env ND_PROVIDERS=verbs)
[ -n "${ND_VM:-}" ] || note "warning: not inside the VM harness (ND_VM unset)"

note "verbs-vm: latency ${SIZE} B x $N, bandwidth ${BWSIZE} B x $NB (depth $DEPTH), inline <= $INL B, $RUNS rounds"
note "machine: $(nproc) CPUs, $(uname -r), $(awk '/MemTotal/ { print $2 / 1024 " MiB" }' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg); host clock ${BENCH_HOST_DATE:-$(date -u '+%F %T UTC')}"

# nd DEV NAME TOOL COLUMN ARGS...: one run of an nd-* tool on DEV; records COLUMN
# of its table row (5 t_typical, 6 t_avg, 10 MB/s).
nd() {
	local dev=$1 name=$2 tool=$3 o=$BENCH_TMP/$1.$2.$r; shift 3
	local size=$SIZE; [ "$tool" = nd-rping ] && size=$BWSIZE
	pair "$o" "$dev $tool" "${ND[@]}" "$ND_BIN/$tool" -s "$ADDR:0" --wait 30 -t 30 -- \
		"${ND[@]}" "$ND_BIN/$tool" "$@" -t 30 -c "$ADDR:" || return
	if [ "$tool" = nd-rping ]; then
		record "$dev.$name.bw" "$(col "$o" "$size" 10)"
	else
		record "$dev.$name.typ" "$(col "$o" "$size" 5)"
		record "$dev.$name.avg" "$(col "$o" "$size" 6)"
	fi
}

# pt DEV NAME TEST ARGS...: one perftest run through tests/vm/perftest.sh.
pt() {
	local dev=$1 name=$2 test=$3 o=$BENCH_TMP/$1.$2.$r rc v; shift 3
	PERFTEST_TIMEOUT=$T timeout -k 5 $((T + 15)) tests/vm/perftest.sh "$dev" "$test" "$@" -p "$(free_port)" >"$o" 2>&1
	rc=$?
	if [ $rc != 0 ]; then
		echo "# $dev $test: exit $rc:" >&2; tail -n 8 "$o" >&2; return
	fi
	if grep -qiw 'inf' "$o"; then
		echo "# $dev $test: output contains 'inf', run rejected:" >&2; grep -iw inf "$o" >&2; return
	fi
	case $test in
	*_bw)
		v=$(col "$o" "$BWSIZE" 4)
		# perftest's MB/sec is 2^20 bytes per second; ours is 10^6.
		[ -n "$v" ] && v=$(awk -v v="$v" 'BEGIN { printf "%.2f\n", v * 1.048576 }')
		record "$dev.$name.bw" "$v";;
	*)
		record "$dev.$name.typ" "$(col "$o" "$SIZE" 5)"
		record "$dev.$name.avg" "$(col "$o" "$SIZE" 6)";;
	esac
}

DEVS=${BENCH_DEVICES:-rxe0 siw0}
for dev in $DEVS; do
	case $dev in
	rxe0) ADDR=${RXE_IP:-};;
	siw0) ADDR=${SIW_IP:-};;
	*) ADDR=${ND_TEST_ADDR:-};;
	esac
	if [ ! -d "/sys/class/infiniband/$dev" ] || [ -z "$ADDR" ]; then
		note "$dev: not present (or no address): skipped"; continue
	fi
	note "== $dev ($ADDR, $(cat "/sys/class/infiniband/$dev/node_type" 2>/dev/null))"
	for ((r = 1; r <= RUNS; r++)); do
		note "$dev round $r/$RUNS"
		nd "$dev" nd-pingpong nd-pingpong -S "$SIZE" -n "$N" -I "$INL"
		pt "$dev" ib_send_lat ib_send_lat -s "$SIZE" -n "$N" -I "$INL"
		nd "$dev" nd-rpingpong nd-rpingpong -S "$SIZE" -n "$N" -I "$INL"
		pt "$dev" ib_write_lat ib_write_lat -s "$SIZE" -n "$N" -I "$INL"
		nd "$dev" nd-readlat nd-readlat -S "$SIZE" -n "$N"
		pt "$dev" ib_read_lat ib_read_lat -s "$SIZE" -n "$N"
		nd "$dev" nd-rping nd-rping -w -S "$BWSIZE" -n "$NB" -q "$DEPTH"
		pt "$dev" ib_write_bw ib_write_bw -s "$BWSIZE" -n "$NB" -t "$DEPTH"
	done
done

echo
note "medians over the rounds that succeeded; latency in microseconds, bandwidth in MB/s (10^6 B/s)"
printf '# %-6s %-14s %5s %10s %10s %10s\n' dev tool runs t_typical t_avg MB/s
for dev in $DEVS; do
	for t in nd-pingpong ib_send_lat nd-rpingpong ib_write_lat nd-readlat ib_read_lat nd-rping ib_write_bw; do
		k=$dev.$t
		n=$(( $(runs_of "$k.typ") + $(runs_of "$k.bw") ))
		printf '# %-6s %-14s %5s %10s %10s %10s\n' "$dev" "$t" "$n" \
			"$(med "$k.typ")" "$(med "$k.avg")" "$(med "$k.bw")"
	done
done
for dev in $DEVS; do
	echo "ratio $dev nd-pingpong/ib_send_lat t_typical: $(ratio "$(med "$dev.nd-pingpong.typ")" "$(med "$dev.ib_send_lat.typ")")"
	echo "ratio $dev nd-rpingpong/ib_write_lat t_typical: $(ratio "$(med "$dev.nd-rpingpong.typ")" "$(med "$dev.ib_write_lat.typ")")"
	echo "ratio $dev nd-readlat/ib_read_lat t_typical: $(ratio "$(med "$dev.nd-readlat.typ")" "$(med "$dev.ib_read_lat.typ")")"
	echo "ratio $dev nd-rping-w/ib_write_bw MB/s (higher is better): $(ratio "$(med "$dev.nd-rping.bw")" "$(med "$dev.ib_write_bw.bw")")"
done
exit 0
