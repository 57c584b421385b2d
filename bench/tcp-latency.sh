#!/bin/bash
# bench/tcp-latency.sh BUILD_DIR
#
# One-way 8-byte latency on 127.0.0.1, round by round (alternating):
#   nd-pingpong (tcp provider), busy-polling (-p) and blocking (-b)
#   bench/raw-tcp-pingpong: busy-poll on a non-blocking socket, and blocking
#   fi_pingpong -p tcp -e msg (libfabric-bin), when installed
#   ucx_perftest -t tag_lat with UCX_TLS=tcp (ucx-utils), when installed
# Same message size and iteration count everywhere. Prints the medians over
# the rounds and `ratio ...: ours/theirs` lines (latency: lower is better).
# Env: BENCH_SIZE (8) BENCH_ITERS (1000) BENCH_RUNS (3) BENCH_TIMEOUT (120 s).
set -u
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
need_build "${1:-}"
SIZE=${BENCH_SIZE:-8}
N=${BENCH_ITERS:-1000}
W=$((N / 10)); ((W < 1)) && W=1; ((W > 200)) && W=200
RAW=$(build_raw raw-tcp-pingpong -lm)
ND=(env ND_PROVIDERS=tcp)
H=127.0.0.1

have_fi=0 have_ucx=0
if command -v fi_pingpong >/dev/null; then have_fi=1
else note "fi_pingpong not run: not installed (apt-get install libfabric-bin)"; fi
if command -v ucx_perftest >/dev/null; then have_ucx=1
else note "ucx_perftest not run: not installed (apt-get install ucx-utils)"; fi

note "tcp-latency: ${SIZE}-byte one-way latency (round trip / 2), $N iterations, warm-up $W, $RUNS rounds, $H"
note "machine: $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u '+%F %T UTC')"

# nd_lat NAME MODE: one nd-pingpong run (MODE -p or -b); records t_typical/t_avg.
nd_lat() {
	local o=$BENCH_TMP/$1.$r
	pair "$o" "$1" "${ND[@]}" "$ND_BIN/nd-pingpong" -s $H:0 --wait 30 -t 30 -- \
		"${ND[@]}" "$ND_BIN/nd-pingpong" -S "$SIZE" -n "$N" -W "$W" "$2" -t 30 -c $H: || return
	record "$1.typ" "$(col "$o" "$SIZE" 5)"; record "$1.avg" "$(col "$o" "$SIZE" 6)"
}

raw_lat() {
	local o=$BENCH_TMP/$1.$r
	pair "$o" "$1" "$RAW" -s $H:0 -- "$RAW" -S "$SIZE" -n "$N" -W "$W" "$2" -c $H: || return
	record "$1.typ" "$(col "$o" "$SIZE" 5)"; record "$1.avg" "$(col "$o" "$SIZE" 6)"
}

# fi_pingpong prints only the average: usec/xfer = elapsed / iterations / 2.
fi_lat() {
	local o=$BENCH_TMP/fi.$r p rc
	p=$(free_port)
	start_server "$o.server" fi_pingpong -p tcp -e msg -I "$N" -S "$SIZE" -B "$p"
	wait_port "$p" || { echo "# fi_pingpong: server did not start:" >&2; cat "$o.server" >&2; finish_server; return; }
	timeout -k 5 "$T" fi_pingpong -p tcp -e msg -I "$N" -S "$SIZE" -P "$p" $H >"$o" 2>&1
	rc=$?; finish_server
	[ $rc = 0 ] || { echo "# fi_pingpong: client exit $rc:" >&2; tail -n 5 "$o" "$o.server" >&2; return; }
	record fi.avg "$(awk -v s="$SIZE" '$1 == s && $7 ~ /^[0-9.]+$/ { print $7; exit }' "$o")"
}

# ucx_perftest -f prints one final line: iterations, 50%ile, average, overall, ...
ucx_lat() {
	local o=$BENCH_TMP/ucx.$r p rc
	local u=(env UCX_TLS=tcp UCX_NET_DEVICES=lo ucx_perftest -t tag_lat -s "$SIZE" -n "$N" -w "$W")
	p=$(free_port)
	start_server "$o.server" "${u[@]}" -p "$p"
	wait_port "$p" || { echo "# ucx_perftest: server did not start:" >&2; cat "$o.server" >&2; finish_server; return; }
	timeout -k 5 "$T" "${u[@]}" -p "$p" -f $H >"$o" 2>&1
	rc=$?; finish_server
	[ $rc = 0 ] || { echo "# ucx_perftest: client exit $rc:" >&2; tail -n 5 "$o" "$o.server" >&2; return; }
	record ucx.typ "$(awk -v n="$N" '$1 == n && NF >= 3 { print $2; exit }' "$o")"
	record ucx.avg "$(awk -v n="$N" '$1 == n && NF >= 3 { print $3; exit }' "$o")"
}

for ((r = 1; r <= RUNS; r++)); do
	note "round $r/$RUNS"
	nd_lat nd-poll -p
	raw_lat raw-poll -p
	[ $have_fi = 1 ] && fi_lat
	[ $have_ucx = 1 ] && ucx_lat
	nd_lat nd-block -b
	raw_lat raw-block -b
done

echo
note "one-way latency in microseconds, median over the rounds that succeeded"
printf '# %-36s %5s %10s %10s\n' "tool" "runs" "t_typical" "t_avg"
row() { printf '# %-36s %5s %10s %10s\n' "$1" "$(runs_of "$2.avg")" "$(med "$2.typ")" "$(med "$2.avg")"; }
row "nd-pingpong tcp, busy-poll" nd-poll
row "raw TCP, busy-poll" raw-poll
[ $have_fi = 1 ] && row "fi_pingpong -p tcp -e msg (avg only)" "fi"
[ $have_ucx = 1 ] && row "ucx_perftest tag_lat UCX_TLS=tcp" ucx
row "nd-pingpong tcp, blocking" nd-block
row "raw TCP, blocking" raw-block

echo "ratio nd-pingpong/raw-tcp busy-poll t_typical: $(ratio "$(med nd-poll.typ)" "$(med raw-poll.typ)")"
echo "ratio nd-pingpong/raw-tcp busy-poll t_avg: $(ratio "$(med nd-poll.avg)" "$(med raw-poll.avg)")"
echo "ratio nd-pingpong/raw-tcp blocking t_typical: $(ratio "$(med nd-block.typ)" "$(med raw-block.typ)")"
echo "ratio nd-pingpong/raw-tcp blocking t_avg: $(ratio "$(med nd-block.avg)" "$(med raw-block.avg)")"
[ $have_fi = 1 ] &&
	echo "ratio nd-pingpong/fi_pingpong-tcp busy-poll t_avg: $(ratio "$(med nd-poll.avg)" "$(med fi.avg)")"
[ $have_ucx = 1 ] && {
	echo "ratio nd-pingpong/ucx_perftest-tcp busy-poll t_typical: $(ratio "$(med nd-poll.typ)" "$(med ucx.typ)")"
	echo "ratio nd-pingpong/ucx_perftest-tcp busy-poll t_avg: $(ratio "$(med nd-poll.avg)" "$(med ucx.avg)")"
}
exit 0
