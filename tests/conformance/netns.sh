#!/bin/bash
# SPDX-License-Identifier: MIT
# Two hosts on one machine: network namespaces A and B joined by a veth pair,
# A = 192.168.77.1/24 + fd77::1/64, B = 192.168.77.2/24 + fd77::2/64. Runs a
# test across them, then deletes both namespaces, whatever happened.
#
#   netns.sh conformance 4|6 PROGRAM [ARGS...]
#       The conformance program (TAP, through tap.sh) in A: its active side
#       uses A's address; its passive side opens its adapter and binds its
#       listeners in B (ND_TEST_PEER_ADDR, ND_TEST_PEER_NETNS).
#   netns.sh pair 4|6 TOOL [ARGS...]
#       examples/smoke.sh pair with the server (-s) in B and the client (-c)
#       in A: two processes, two network stacks.
#   netns.sh faults 4 PROGRAM
#       tests/faults' nd-faults (TAP, through tap.sh) in A against peers
#       that "PROGRAM --serve" runs in B (ND_TEST_REMOTE_PEER); a peer cuts
#       the link by setting B's end down, and later up again. IPv4 only:
#       setting a link down flushes its IPv6 addresses.
#   netns.sh in-role TOOL -s|-c ...
#       Internal: smoke.sh's SMOKE_WRAPPER, runs TOOL in B (-s) or A (-c).
#
# Needs root and `ip netns` (iproute2): without them it skips, saying why
# (TAP "1..0 # SKIP" for conformance, exit 77 for pair). As root, failing
# to build the namespaces is a failure, not a skip.
# NETNS_TIMEOUT (default 280 s) bounds the command, under meson's timeout,
# so that the namespaces are always deleted here.
set -u
here=$(cd "$(dirname "$0")" && pwd)
mode=${1:-}

if [ "$mode" = in-role ]; then
	shift
	case ${2:-} in
	-s) exec ip netns exec "$NETNS_SERVER" "$@" ;;
	-c) exec ip netns exec "$NETNS_CLIENT" "$@" ;;
	*)
		echo "netns.sh in-role: expected TOOL -s|-c ..., got: $*" >&2
		exit 2
		;;
	esac
fi

if [ $# -lt 3 ] ||
	{ [ "$mode" != conformance ] && [ "$mode" != pair ] &&
		[ "$mode" != faults ]; } ||
	{ [ "$2" != 4 ] && [ "$2" != 6 ]; } ||
	{ [ "$mode" = faults ] && [ "$2" != 4 ]; }; then
	echo "usage: netns.sh conformance|pair 4|6 PROGRAM [ARGS...]" >&2
	echo "       netns.sh faults 4 PROGRAM" >&2
	exit 2
fi
family=$2
shift 2

skip() {
	if [ "$mode" != pair ]; then
		echo "1..0 # SKIP two-namespace run: $*"
		exit 0
	fi
	echo "SKIP two-namespace run: $*" >&2
	exit 77
}

die() {
	if [ "$mode" != pair ]; then
		echo "Bail out! netns.sh: $*"
	fi
	echo "netns.sh: $*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, a veth pair)"
command -v ip >/dev/null || skip "no ip command (iproute2 is not installed)"
ip netns list >/dev/null 2>&1 || skip "ip netns is not available"
[ -x "$1" ] || skip "$1 is not built"

# Names of our own: several runs (build dirs, sanitizer builds) may overlap.
ns_a=nd-a-$$
ns_b=nd-b-$$
made=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	local ns
	for ns in "${made[@]}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" || echo "netns.sh: could not delete $ns" >&2
	done
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

out=$(ip netns add "$ns_a" 2>&1) || die "ip netns add $ns_a: $out"
made+=("$ns_a")
out=$(ip netns add "$ns_b" 2>&1) || die "ip netns add $ns_b: $out"
made+=("$ns_b")
out=$(ip link add name nd0 netns "$ns_a" type veth peer name nd0 \
	netns "$ns_b" 2>&1) || die "ip link add (veth): $out"
n=1
for ns in "$ns_a" "$ns_b"; do
	out=$({ ip -n "$ns" link set lo up &&
		ip -n "$ns" addr add 192.168.77.$n/24 dev nd0 &&
		ip -n "$ns" addr add fd77::$n/64 dev nd0 nodad &&
		ip -n "$ns" link set nd0 up; } 2>&1) ||
		die "configuring $ns: $out"
	n=$((n + 1))
done

# Both ends up with carrier, the addresses usable (nodad: no tentative
# IPv6 address); bounded.
ready() {
	local ns
	for ns in "$ns_a" "$ns_b"; do
		ip -n "$ns" link show nd0 | grep -q 'LOWER_UP' || return 1
		ip -n "$ns" -6 addr show dev nd0 tentative | grep -q . && return 1
	done
	return 0
}
i=0
until ready; do
	i=$((i + 1))
	[ $i -le 100 ] || die "the veth pair did not come up within 10 s"
	sleep 0.1
done

if [ "$family" = 4 ]; then
	addr_a=192.168.77.1 addr_b=192.168.77.2
else
	addr_a=fd77::1 addr_b=fd77::2
fi
limit=${NETNS_TIMEOUT:-280}

# In the background so that a TERM from meson reaches the trap at once.
case $mode in
conformance)
	timeout -k 5 "$limit" ip netns exec "$ns_a" env ND_TEST_ADDR=$addr_a \
		ND_TEST_PEER_ADDR=$addr_b ND_TEST_PEER_NETNS="$ns_b" \
		"$here/tap.sh" "$@" &
	;;
faults)
	# The peers' server in B; it ends when the survivor says "quit", and
	# the cleanup kills whatever is left in the namespaces.
	ip netns exec "$ns_b" env ND_TEST_ADDR=$addr_b \
		ND_TEST_CUT_LINK="ip link set nd0 down" \
		ND_TEST_RESTORE_LINK="ip link set nd0 up" "$1" --serve &
	timeout -k 5 "$limit" ip netns exec "$ns_a" env ND_TEST_ADDR=$addr_a \
		ND_TEST_REMOTE_PEER=$addr_b "$here/tap.sh" "$1" &
	;;
pair)
	NETNS_SERVER=$ns_b NETNS_CLIENT=$ns_a SMOKE_TIMEOUT=$limit \
		SMOKE_WRAPPER="$here/netns.sh in-role" \
		"$here/../../examples/smoke.sh" pair "$1" "$addr_b" "${@:2}" &
	;;
esac
wait $!
rc=$?
[ $rc -eq 124 ] && die "timed out after ${limit}s"

# What crossed the veth pair, seen from B's end.
veth_stat() { ip netns exec "$ns_b" cat "/sys/class/net/nd0/statistics/$1"; }
rx=$(veth_stat rx_bytes) tx=$(veth_stat tx_bytes)
echo "# veth pair, B's end: received $rx bytes, sent $tx bytes"
# The run's claim: the conformance traffic went through it. The send and
# write scenarios alone move over 16 MiB from A to B.
if [ "$mode" = conformance ] && [ $rc -eq 0 ] &&
	[ "${rx:-0}" -lt $((16 * 1024 * 1024)) ]; then
	die "B received only ${rx:-0} bytes over the veth pair"
fi
exit $rc
