#!/usr/bin/env bash
# Installs what is missing, builds, and runs the nd-pingpong latency table
# over loopback on the best provider this machine has: verbs on an RDMA
# device if there is one, else tcp on 127.0.0.1.
#
# Env: ND_BUILD_DIR (build), ND_DEMO_ADDR (force the address to use).
set -u
cd "$(dirname "$0")/.." || exit 1
. scripts/lib.sh

BUILD=${ND_BUILD_DIR:-build}
nd_install $ND_BUILD_PACKAGES
nd_say "building in $BUILD"
nd_build "$BUILD"

pingpong=$BUILD/examples/nd-pingpong
if [ ! -x "$pingpong" ]; then
	echo "netdirect: built, but this version has no nd-pingpong yet; nothing to run."
	exit 0
fi

# The best address: the first RDMA device's own IP if the verbs provider
# can serve it, else loopback for the tcp provider.
addr=${ND_DEMO_ADDR:-}
if [ -z "$addr" ] && command -v rdma >/dev/null; then
	netdev=$(rdma link show 2>/dev/null | awk '/state ACTIVE/ {for (i=1;i<NF;i++) if ($i=="netdev") {print $(i+1); exit}}')
	[ -n "$netdev" ] && addr=$(ip -o -4 addr show dev "$netdev" | awk '{sub(/\/.*/, "", $4); print $4; exit}')
fi
addr=${addr:-127.0.0.1}

export LD_LIBRARY_PATH=$BUILD/src${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
if ! "$BUILD/examples/nd-adapterinfo" "$addr" >/dev/null 2>&1; then
	echo "netdirect: no provider serves $addr on this machine (providers built: $(grep -o "providers *: .*" "$BUILD/setup.log" 2>/dev/null || echo unknown))."
	exit 1
fi

port=$((20000 + RANDOM % 20000))
nd_say "nd-pingpong over $addr (server and client on this machine)"
timeout 120 "$pingpong" -s "$addr:$port" >/tmp/nd-demo-server.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null' EXIT
sleep 0.5
timeout 120 "$pingpong" -c "$addr:$port"
rc=$?
wait $server || [ $rc -ne 0 ] || { cat /tmp/nd-demo-server.log; rc=1; }
exit $rc
