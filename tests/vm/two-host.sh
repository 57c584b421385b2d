#!/usr/bin/env bash
# The rdma-two-host suite: two VMs, each its own kernel with rxe0 on its own
# NIC, joined by a virtual link. VM A serves, VM B connects; every check
# moves data across the link and verifies it. Prints PASS/FAIL lines, which
# scripts/test.sh counts.
#   tests/vm/two-host.sh BUILD_DIR
set -u
cd "$(dirname "$0")/../.." || exit 1
build=$(realpath "${1:-build}")

# Each netdirect check: connect, then data verified on every iteration
# (--check): send/receive (nd-pingpong), RDMA write (nd-rping -w) and RDMA
# read (nd-readlat), 4 KiB and 64 KiB. Servers run one after the other on
# fixed ports; each serves one client and exits. rping (rdma-core's own) is
# kept as a baseline check of the link itself.
checks='
pingpong|nd-pingpong|54325|
rping-write|nd-rping|54326|-w
readlat|nd-readlat|54328|'
common='-S 4096:65536 -n 50 -W 5 --check -t 60'
# Then the faults suite's dead-link tests on tcp and on rxe0: VM A serves
# the peers (nd-faults --serve), each of which, when told, makes A's end of
# the link drop every frame in both directions (tc, clsact) and later lets
# them pass again; VM B runs the tests, whose TAP lines become PASS/FAIL
# lines (a named skip stays a comment). Why not "ip link set down": on
# QEMU's dgram link a guest whose interface is down stops taking frames,
# so the sender's virtio queue backs up and B's own transmit path stalls,
# which a cut cable does not do (docs/providers/verbs.md).
faults=$build/tests/faults/nd-faults
tap2pass='s/^ok [0-9]+ - (.*)/PASS faults dead link: \1/p; s/^not ok [0-9]+ - (.*)/FAIL faults dead link: \1/p'

server="
export LD_LIBRARY_PATH=$build/src ND_PROVIDERS=verbs
pass() { echo \"PASS \$1\"; }; fail() { echo \"FAIL \$1\"; }
timeout 120 rping -s -a \$LINK_IP -V -C 20 -S 4096 >/tmp/rping.log 2>&1 &&
  pass 'rping server (send, RDMA read and write, verified)' ||
  { cat /tmp/rping.log; fail 'rping server'; }
echo '$checks' | while IFS='|' read -r name tool port opt; do
  [ -n \"\$name\" ] || continue
  timeout 180 $build/examples/\$tool -s \$LINK_IP:\$port --wait 120 >/tmp/\$name.log 2>&1 &&
    pass \"\$name server\" || { cat /tmp/\$name.log; fail \"\$name server\"; }
done
cut=\"tc qdisc add dev \$LINK_DEV clsact &&
  tc filter add dev \$LINK_DEV ingress matchall action drop &&
  tc filter add dev \$LINK_DEV egress matchall action drop\"
restore=\"tc qdisc del dev \$LINK_DEV clsact\"
for p in tcp verbs; do
  ND_PROVIDERS=\$p ND_TEST_ADDR=\$LINK_IP \
    ND_TEST_CUT_LINK=\"\$cut\" ND_TEST_RESTORE_LINK=\"\$restore\" \
    timeout 600 $faults --serve || fail \"faults peers (\$p)\"
done
"
client="
export LD_LIBRARY_PATH=$build/src ND_PROVIDERS=verbs
pass() { echo \"PASS \$1\"; }; fail() { echo \"FAIL \$1\"; }
vm-retry 60 timeout 120 rping -c -a \$PEER_IP -V -C 20 -S 4096 >/tmp/rping.log 2>&1 &&
  pass 'rping client (send, RDMA read and write, verified)' ||
  { cat /tmp/rping.log; fail 'rping client'; }
echo '$checks' | while IFS='|' read -r name tool port opt; do
  [ -n \"\$name\" ] || continue
  vm-retry 60 timeout 120 $build/examples/\$tool -c \$PEER_IP:\$port \$opt $common >/tmp/\$name.log 2>&1 &&
    { pass \"\$name client (data checked every iteration)\"; cat /tmp/\$name.log; } ||
    { cat /tmp/\$name.log; fail \"\$name client\"; }
done
for p in tcp verbs; do
  ND_PROVIDERS=\$p ND_TEST_ADDR=\$LINK_IP ND_TEST_REMOTE_PEER=\$PEER_IP \
    timeout 600 tests/conformance/tap.sh $faults >/tmp/faults-\$p.log 2>&1
  rc=\$?
  cat /tmp/faults-\$p.log
  sed -nE \"$tap2pass\" /tmp/faults-\$p.log | sed \"s/: /: \$p: /\"
  [ \$rc = 0 ] || fail \"faults dead link (\$p): exit \$rc\"
done
"
exec tests/vm/run-two "$server" "$client"
