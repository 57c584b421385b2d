#!/bin/bash
# bench/soak.sh BUILD_DIR
#
# Does netdirect give back what it takes? bench/nd-soak (compiled here into
# BUILD_DIR/bench/) runs, with both sides in one process:
#   pingpong  one connection, SOAK_PINGPONGS Send/Receive round trips,
#             every message checked byte for byte
#   connect   SOAK_CYCLES cycles of create, connect, one message each way,
#             disconnect, release
# on the tcp provider at 127.0.0.1 on this host, then on the verbs provider
# on rxe0 (Soft-RoCE) and siw0 (Soft-iWARP) inside ONE VM boot
# (tests/vm/run). Each run samples resident memory, heap in use, pinned
# memory (VmPin), open descriptors, mappings and threads at the start, after
# warm-up (1%), every 10% and after teardown, and ends with
#   soak <device> <mode>: rss start X KiB end Y KiB, fds ..., pinned ...: flat|GROWS
# (start = after warm-up). Not a test: growth is printed, never an exit
# status. Raw outputs: BUILD_DIR/bench/logs/soak/. See docs/reliability.md.
# Env: SOAK_PINGPONGS (1000000) SOAK_CYCLES (10000) SOAK_SIZE (64 bytes)
#   SOAK_DEVICES ("rxe0 siw0"; empty: no VM) SOAK_VM_PINGPONGS and
#   SOAK_VM_CYCLES (the counts inside the VM; default the same)
#   SOAK_TIMEOUT (7200 s per run) VM_TIMEOUT (7200 s for the whole boot).
set -u

SOAK_TIMEOUT=${SOAK_TIMEOUT:-7200}

# soak DEVICE ADDR PROVIDER PINGPONGS CYCLES: both modes on one device; the
# output of each run in $BENCH_TMP/DEVICE.MODE.log, its verdict to stdout.
soak() {
	local dev=$1 addr=$2 prov=$3 mode n log rc
	for mode in pingpong connect; do
		n=$4; [ $mode = connect ] && n=$5
		log=$BENCH_TMP/$dev.$mode.log
		note "$dev $mode x $n ($(date -u '+%T UTC'))"
		# tcache off: the heap figure is then exact (see nd-soak.c).
		timeout -k 10 "$SOAK_TIMEOUT" env ND_PROVIDERS="$prov" \
			GLIBC_TUNABLES=glibc.malloc.tcache_count=0 \
			"$SOAK" "$mode" -n "$n" -a "$addr" -S "$SIZE" -t 60 >"$log" 2>&1
		rc=$?
		grep -E '^(sample (start|warm|end|after)|soak )' "$log"
		[ $rc = 0 ] || { echo "soak $dev $mode: run failed (exit $rc):"; tail -n 5 "$log"; }
	done
}

if [ "${1:-}" = --in-vm ]; then
	# ---- inside the VM: the verbs devices ----
	shift
	cd "$(dirname "$0")/.." || exit 2
	# shellcheck source=bench/lib.sh
	. bench/lib.sh
	BUILD_DIR=$1 SOAK=$1/bench/nd-soak
	BENCH_TMP=$BUILD_DIR/bench/logs/soak # made by the host side; keep its logs
	SIZE=${SOAK_SIZE:-64}
	[ -n "${ND_VM:-}" ] || note "warning: not inside the VM harness (ND_VM unset)"
	note "VM: $(nproc) CPUs, $(uname -r), $(awk '/MemTotal/ { print $2 / 1024 " MiB" }' /proc/meminfo), ulimit -l $(ulimit -l)"
	for dev in ${SOAK_DEVICES:-rxe0 siw0}; do
		case $dev in
		rxe0) addr=${RXE_IP:-};;
		siw0) addr=${SIW_IP:-};;
		*) addr=${ND_TEST_ADDR:-};;
		esac
		if [ ! -d "/sys/class/infiniband/$dev" ] || [ -z "$addr" ]; then
			note "$dev: not present (or no address): skipped"; continue
		fi
		soak "$dev" "$addr" verbs "${SOAK_VM_PINGPONGS:-${SOAK_PINGPONGS:-1000000}}" \
			"${SOAK_VM_CYCLES:-${SOAK_CYCLES:-10000}}"
	done
	exit 0
fi

# ---- on the host: tcp, then the VM ----
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
need_build "${1:-}"
SOAK=$(build_raw nd-soak -I"$BENCH_DIR/../include" -I"$BUILD_DIR" -L"$BUILD_DIR/src" \
	-lnetdirect -Wl,-rpath,"$BUILD_DIR/src")
SIZE=${SOAK_SIZE:-64}
note "soak: ${SOAK_PINGPONGS:-1000000} ping-pongs of $SIZE bytes, ${SOAK_CYCLES:-10000} connect cycles; $(date -u '+%F %T UTC')"
note "machine: $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg); main at $(git -C "$BENCH_DIR" rev-parse --short HEAD 2>/dev/null)"
soak tcp 127.0.0.1 tcp "${SOAK_PINGPONGS:-1000000}" "${SOAK_CYCLES:-10000}"

DEVS=${SOAK_DEVICES-rxe0 siw0}
[ -n "$DEVS" ] || exit 0
# The VM shares the current directory (the repository) at the same path and
# passes in only ND_* variables: forward the knobs on the command line.
cd "$BENCH_DIR/.." || exit 2
case $BUILD_DIR in "$PWD"/*) ;; *) die "$BUILD_DIR must be inside $PWD (the VM shares only that)";; esac
env="SOAK_DEVICES='$DEVS' "
for v in SOAK_PINGPONGS SOAK_CYCLES SOAK_VM_PINGPONGS SOAK_VM_CYCLES SOAK_SIZE SOAK_TIMEOUT; do
	[ -n "${!v:-}" ] && env+="$v=${!v} "
done
export VM_TIMEOUT=${VM_TIMEOUT:-7200}
timeout -k 30 $((VM_TIMEOUT + 120)) tests/vm/run "${env}bench/soak.sh --in-vm $(printf %q "$BUILD_DIR")"
exit 0
