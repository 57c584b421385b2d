#!/bin/sh
# SPDX-License-Identifier: MIT
# Smoke runner for the nd-* tools (meson suites 'examples' and 'rdma').
#
#   smoke.sh pair TOOL ADDR [ARGS...]    server on ADDR port 0 + client, both
#                                        with ARGS; fails if either fails
#   smoke.sh single TOOL [ARGS...]       one process (nd-mrlat, nd-adapterinfo)
#   smoke.sh fail TEXT TOOL [ARGS...]    must exit non-zero with exactly one
#                                        line on stderr, containing TEXT
#
# "@ADDR" in ADDR or ARGS stands for $ND_TEST_ADDR (skip, exit 77, if unset).
# Every process is killed after SMOKE_TIMEOUT seconds (default 60).
# SMOKE_WRAPPER (e.g. "valgrind --error-exitcode=99") runs every tool under
# that command: scripts/test.sh's valgrind suite.
set -u

limit=${SMOKE_TIMEOUT:-60}
wrapper=${SMOKE_WRAPPER:-} # split into words on purpose
mode=$1
shift

subst() {
	case $1 in
	*@ADDR*)
		if [ -z "${ND_TEST_ADDR:-}" ]; then
			echo "ND_TEST_ADDR is not set: skipped" >&2
			exit 77
		fi
		printf '%s\n' "$1" | sed "s|@ADDR|$ND_TEST_ADDR|"
		;;
	*) printf '%s\n' "$1" ;;
	esac
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

case $mode in
single)
	tool=$1
	shift
	for a in "$@"; do
		shift
		a=$(subst "$a") || exit $?
		set -- "$@" "$a"
	done
	timeout -k 5 "$limit" $wrapper "$tool" "$@"
	rc=$?
	[ $rc -eq 124 ] && echo "smoke: $tool timed out after ${limit}s" >&2
	exit $rc
	;;
fail)
	text=$1
	tool=$2
	shift 2
	timeout -k 5 "$limit" $wrapper "$tool" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	cat "$tmp/out"
	cat "$tmp/err" >&2
	if [ $rc -eq 0 ] || [ $rc -ge 124 ]; then
		echo "smoke: expected a clean failure, got exit status $rc" >&2
		exit 1
	fi
	if [ "$(wc -l <"$tmp/err")" -ne 1 ]; then
		echo "smoke: expected exactly one line on stderr" >&2
		exit 1
	fi
	if ! grep -q -- "$text" "$tmp/err"; then
		echo "smoke: stderr does not mention '$text'" >&2
		exit 1
	fi
	exit 0
	;;
pair) ;;
*)
	echo "usage: smoke.sh pair|single|fail ..." >&2
	exit 2
	;;
esac

tool=$1
addr=$(subst "$2") || exit $?
shift 2
case $addr in
*:*:*) saddr="[$addr]:0" ;; # IPv6
*) saddr="$addr:0" ;;
esac

timeout -k 5 "$limit" $wrapper "$tool" -s "$saddr" --wait "$limit" "$@" >"$tmp/server" 2>&1 &
spid=$!

# Wait for the server to listen; it prints "# <tool>: listening on ADDR".
peer=""
i=0
while [ $i -lt 100 ]; do
	peer=$(sed -n 's/^# .*: listening on //p' "$tmp/server")
	[ -n "$peer" ] && break
	if ! kill -0 $spid 2>/dev/null; then
		break
	fi
	sleep 0.1
	i=$((i + 1))
done
if [ -z "$peer" ]; then
	echo "smoke: the server did not start listening" >&2
	cat "$tmp/server" >&2
	kill $spid 2>/dev/null
	wait $spid
	exit 1
fi

timeout -k 5 "$limit" $wrapper "$tool" -c "$peer" "$@" >"$tmp/client" 2>&1
crc=$?
# A client that failed early may leave the server waiting: give it a few
# seconds to notice, then stop it.
i=0
while [ $i -lt 50 ] && kill -0 $spid 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
kill $spid 2>/dev/null
wait $spid
src=$?

echo "--- client ($tool -c $peer $*): exit $crc"
cat "$tmp/client"
echo "--- server ($tool -s $saddr $*): exit $src"
cat "$tmp/server"
[ $crc -eq 124 ] && echo "smoke: the client timed out after ${limit}s" >&2
[ $src -eq 124 ] && echo "smoke: the server timed out after ${limit}s" >&2
# A device without what the tool needs is a skip, not a failure.
if grep -q "nd-rpingpong needs it" "$tmp/client"; then
	echo "smoke: skipped: the adapter lacks in-order RDMA placement" >&2
	exit 77
fi
[ $crc -ne 0 ] && exit 1
[ $src -ne 0 ] && exit 1
exit 0
