#!/bin/bash
# bench/tcp-bandwidth.sh BUILD_DIR
#
# One-way 1 MiB throughput on 127.0.0.1, round by round (alternating):
#   nd-rping -w (RDMA Write, tcp provider, pipeline depth 128), busy-polling
#   and blocking
#   bench/raw-tcp-pingpong -B: one socket, the client writes 1 MiB messages
#   back to back (busy-poll on a non-blocking socket, and blocking)
# Same size and message count. MB/s = 10^6 payload bytes per second; prints
# the medians and `ratio ...: ours/theirs` (bandwidth: HIGHER is better).
# Env: BENCH_SIZE (1048576) BENCH_ITERS (1000) BENCH_RUNS (3) BENCH_TIMEOUT.
set -u
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
need_build "${1:-}"
SIZE=${BENCH_SIZE:-1048576}
N=${BENCH_ITERS:-1000}
W=$((N / 10)); ((W < 1)) && W=1; ((W > 200)) && W=200
RAW=$(build_raw raw-tcp-pingpong -lm)
ND=(env ND_PROVIDERS=tcp)
H=127.0.0.1

note "tcp-bandwidth: $SIZE-byte messages, $N per run, warm-up $W, $RUNS rounds, $H"
note "machine: $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u '+%F %T UTC')"

nd_bw() {
	local o=$BENCH_TMP/$1.$r
	pair "$o" "$1" "${ND[@]}" "$ND_BIN/nd-rping" -s $H:0 --wait 30 -t 30 -- \
		"${ND[@]}" "$ND_BIN/nd-rping" -w -S "$SIZE" -n "$N" -W "$W" "$2" -t 30 -c $H: || return
	record "$1" "$(col "$o" "$SIZE" 10)"
}

raw_bw() {
	local o=$BENCH_TMP/$1.$r
	pair "$o" "$1" "$RAW" -s $H:0 -- "$RAW" -B -S "$SIZE" -n "$N" -W "$W" "$2" -c $H: || return
	record "$1" "$(col "$o" "$SIZE" 10)"
}

for ((r = 1; r <= RUNS; r++)); do
	note "round $r/$RUNS"
	nd_bw nd-poll -p
	raw_bw raw-poll -p
	nd_bw nd-block -b
	raw_bw raw-block -b
done

echo
note "MB/s (10^6 bytes/s), median over the rounds that succeeded"
printf '# %-36s %5s %10s\n' "tool" "runs" "MB/s"
row() { printf '# %-36s %5s %10s\n' "$1" "$(runs_of "$2")" "$(med "$2")"; }
row "nd-rping -w tcp, busy-poll" nd-poll
row "raw TCP, busy-poll" raw-poll
row "nd-rping -w tcp, blocking" nd-block
row "raw TCP, blocking" raw-block
echo "ratio nd-rping-w/raw-tcp busy-poll MB/s (higher is better): $(ratio "$(med nd-poll)" "$(med raw-poll)")"
echo "ratio nd-rping-w/raw-tcp blocking MB/s (higher is better): $(ratio "$(med nd-block)" "$(med raw-block)")"
exit 0
