#!/usr/bin/env bash
# The rdma-two-host suite: two VMs, each its own kernel with rxe0 on its own
# NIC, joined by a virtual link. VM A serves, VM B connects; every check
# moves data across the link and verifies it. Prints PASS/FAIL lines, which
# scripts/test.sh counts.
#   tests/vm/two-host.sh BUILD_DIR
set -u
cd "$(dirname "$0")/../.." || exit 1
build=${1:-build}

# Each side writes its verdicts; both run under timeouts inside the VMs.
server='
pass() { echo "PASS $1"; }; fail() { echo "FAIL $1"; }
timeout 120 rping -s -a $LINK_IP -V -C 20 -S 4096 >/tmp/rping.log 2>&1 &&
  pass "rping-server (send, RDMA read and write, 20 x 4 KiB, verified)" ||
  { cat /tmp/rping.log; fail rping-server; }
'
client='
pass() { echo "PASS $1"; }; fail() { echo "FAIL $1"; }
vm-retry 60 timeout 120 rping -c -a $PEER_IP -V -C 20 -S 4096 >/tmp/rping.log 2>&1 &&
  pass "rping-client (send, RDMA read and write, 20 x 4 KiB, verified)" ||
  { cat /tmp/rping.log; fail rping-client; }
'
exec tests/vm/run-two "$server" "$client"
