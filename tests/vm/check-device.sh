#!/bin/sh
# The rdma suite's first test: the device under test is there, its port is
# active, ND_TEST_ADDR is on its netdev, and it moves data (perftest's
# ib_send_lat over loopback, which checks completions, not timing).
# Skips (77) without ND_TEST_DEVICE, i.e. outside the VM or a real-hardware
# run.
set -u
dev=${ND_TEST_DEVICE:-}
addr=${ND_TEST_ADDR:-}
if [ -z "$dev" ]; then
	echo "SKIP vm-device: ND_TEST_DEVICE is not set (no RDMA device to test)"
	exit 77
fi
fail() { echo "FAIL vm-device: $*"; exit 1; }

ibv_devinfo -d "$dev" >/tmp/devinfo.$$ 2>&1 || fail "ibv_devinfo -d $dev failed"
grep -q 'PORT_ACTIVE' /tmp/devinfo.$$ || fail "$dev has no active port"
transport=$(awk '/transport:/ {print $2; exit}' /tmp/devinfo.$$)
rm -f /tmp/devinfo.$$
netdev=$(rdma link show | awk -v d="$dev" '$2 ~ "^"d"/" {for (i=1;i<NF;i++) if ($i=="netdev") print $(i+1)}')
[ -n "$netdev" ] || fail "no netdev for $dev"
[ -z "$addr" ] || ip -o addr show dev "$netdev" | grep -qw "$addr" ||
	fail "$addr is not on $netdev"

# iWARP connects through the CM only (-R); RoCE can use either.
cm=
[ "$transport" = iWARP ] && cm=-R
# Both sides bounded: a client that never got through must not leave the
# server waiting forever. On a loaded host the server may not listen yet
# after a second, and a client that got halfway (siw: the connection was
# made, then its first completion flushed) ends the server's one session:
# each try starts a fresh server, so a failed try leaves nothing behind.
rc=1 src=1
for try in 1 2 3 4 5; do
	timeout 100 ib_send_lat -d "$dev" $cm -n 200 -s 64 >/tmp/srv.$$ 2>&1 &
	srv=$!
	sleep $try
	timeout 60 ib_send_lat -d "$dev" $cm -n 200 -s 64 "${addr:-127.0.0.1}" >/tmp/cli.$$ 2>&1
	rc=$?
	if grep -q '^ *64 *200' /tmp/cli.$$; then
		wait $srv
		src=$?
		break
	fi
	kill $srv 2>/dev/null
	wait $srv 2>/dev/null
	grep -qi "couldn't connect\|unable to\|connection refused\|rdma_connect\|bad wc status\|failed to sync" /tmp/cli.$$ || break
	echo "vm-device: try $try did not get through; again with a fresh server"
done
grep -q '^ *64 *200' /tmp/cli.$$ || rc=1
[ $rc -eq 0 ] && [ $src -eq 0 ] || { cat /tmp/cli.$$ /tmp/srv.$$; fail "ib_send_lat on $dev failed"; }
rm -f /tmp/srv.$$ /tmp/cli.$$
echo "PASS vm-device: $dev ($transport on $netdev, $addr) moves data"
