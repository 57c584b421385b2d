#!/bin/bash
# tests/vm/perftest.sh DEVICE TEST [perftest options...]
#   e.g. tests/vm/perftest.sh rxe0 ib_send_lat -s 2 -n 1000
#
# Runs one perftest test (ib_send_lat, ib_write_bw, ...) in loopback on DEVICE: the server
# in the background, then the client against the device's own IP address. Meant to run
# inside the VM (tests/vm/run), so that our benchmarks and perftest are measured in the
# same boot; works the same on a host with real RDMA hardware.
#   - iWARP devices (siw0, node type RNIC) get -R: they can only connect through rdma_cm.
#     PERFTEST_CM=1 forces -R for other devices too.
#   - The options are given to both server and client.
#   - The client's output goes to stdout (that is where the results table is); the
#     server's output is shown on stderr only if something failed.
#   - Each side runs under a timeout of PERFTEST_TIMEOUT seconds (default 60).
# Exit status: the client's, else the server's (124 = timed out).
set -u
[ $# -ge 2 ] || { echo "usage: $0 DEVICE TEST [perftest options...]" >&2; exit 2; }
dev=$1 test=$2; shift 2
T=${PERFTEST_TIMEOUT:-60}
die() { echo "perftest.sh: $*" >&2; exit 2; }

[ -d "/sys/class/infiniband/$dev" ] || die "no RDMA device $dev (have: $(cd /sys/class/infiniband 2>/dev/null && echo *))"
command -v "$test" >/dev/null || die "$test not found (apt-get install perftest)"

cm=${PERFTEST_CM:-0}
case $(cat "/sys/class/infiniband/$dev/node_type") in *RNIC*) cm=1;; esac
flags=(-d "$dev")
[ "$cm" = 1 ] && flags+=(-R)

# The client connects to the IP of the device's netdev (rdma_cm resolves the device from
# it); ND_TEST_ADDR overrides, e.g. for an InfiniBand port whose IP is on an ipoib netdev.
addr=${ND_TEST_ADDR:-}
if [ -z "$addr" ]; then
  netdev=$(rdma link show "$dev/1" 2>/dev/null | sed -n 's/.* netdev \([^ ]*\).*/\1/p')
  [ -n "$netdev" ] && addr=$(ip -4 -o addr show dev "$netdev" | awk '{ sub(/\/.*/, "", $4); print $4; exit }')
fi
if [ -z "$addr" ]; then
  [ "$cm" = 1 ] && die "no IPv4 address on $dev's netdev; set ND_TEST_ADDR"
  addr=127.0.0.1   # without rdma_cm the address only carries perftest's TCP handshake
fi

# The port the server listens on (perftest's default unless -p/--port is given).
port=18515 prev=
for a in "$@"; do
  case $prev in -p|--port) port=$a;; esac
  case $a in --port=*) port=${a#--port=};; esac
  prev=$a
done

# server_ready: the server listens (rdma_cm listener for -R, otherwise its TCP socket).
server_ready() {
  if [ "$cm" = 1 ]; then
    rdma resource show cm_id 2>/dev/null | grep -q "state LISTEN .*:$port\b"
  else
    [ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]
  fi
}

slog=$(mktemp) || exit 2
trap 'rm -f "$slog"' EXIT
timeout -k 5 "$T" "$test" "${flags[@]}" "$@" >"$slog" 2>&1 &
spid=$!
# Wait (at most 10 s) for the listener; a client started too early just fails.
for ((i = 0; i < 100; i++)); do
  server_ready && break
  kill -0 "$spid" 2>/dev/null || break
  sleep 0.1
done
if ! server_ready; then
  kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
  echo "perftest.sh: $test server on $dev did not start listening on port $port:" >&2
  cat "$slog" >&2
  exit 1
fi

timeout -k 5 "$T" "$test" "${flags[@]}" "$@" "$addr"
crc=$?
wait "$spid"
src=$?
if [ $crc != 0 ] || [ $src != 0 ]; then
  echo "perftest.sh: $test on $dev: client exit $crc, server exit $src; server output:" >&2
  cat "$slog" >&2
  [ $crc != 0 ] && exit $crc
  exit $src
fi
exit 0
