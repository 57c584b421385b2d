# shellcheck shell=bash
# bench/lib.sh: helpers shared by the bench/*.sh scripts (sourced, not run).
# Every network command runs under `timeout`; background servers are
# remembered and killed (by pid) on exit.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T=${BENCH_TIMEOUT:-120}          # bound on each client/server run, seconds
# shellcheck disable=SC2034  # used by the sourcing scripts
RUNS=${BENCH_RUNS:-3}            # alternating rounds per comparison
BENCH_PIDS=()
BENCH_TMP= # every tool's output, kept in BUILD_DIR/bench/logs/<script> (see need_build)

bench_cleanup() {
	local p
	for p in "${BENCH_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "${0##*/}: $*" >&2; exit 2; }
note() { echo "# $*"; }

# need_build DIR: the nd-* tools exist in DIR; sets ND_BIN.
need_build() {
	[ -n "${1:-}" ] || die "usage: $0 BUILD_DIR"
	ND_BIN=$(cd "$1" && pwd)/examples
	[ -x "$ND_BIN/nd-pingpong" ] || die "$ND_BIN/nd-pingpong not found (meson setup $1 -Dbuildtype=release && ninja -C $1)"
	BUILD_DIR=$(cd "$1" && pwd)
	BENCH_TMP=$BUILD_DIR/bench/logs/$(basename "$0" .sh)
	{ rm -rf "$BENCH_TMP" && mkdir -p "$BENCH_TMP"; } || die "cannot create $BENCH_TMP"
}

# build_raw NAME [cc flags...]: compile bench/NAME.c into $BUILD_DIR/bench/NAME
# (cc -O2), only when the source is newer than the binary.
build_raw() {
	local name=$1 out; shift
	mkdir -p "$BUILD_DIR/bench" || exit 1
	out=$BUILD_DIR/bench/$name
	if [ ! -x "$out" ] || [ "$BENCH_DIR/$name.c" -nt "$out" ]; then
		${CC:-cc} -O2 -Wall -Wextra -o "$out" "$BENCH_DIR/$name.c" "$@" ||
			die "cannot build $out"
	fi
	echo "$out"
}

# free_port: a TCP port nobody listens on, from a random start (ports are
# only needed for tools that cannot take port 0 and print the choice).
free_port() {
	local p=$((40000 + RANDOM % 20000)) i
	for ((i = 0; i < 200; i++, p++)); do
		[ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ] && { echo $p; return; }
	done
	die "no free port"
}

# start_server LOG CMD...: CMD in the background under timeout, output to LOG.
# Sets SPID.
start_server() {
	local log=$1; shift
	: >"$log"
	timeout -k 5 "$T" "$@" >"$log" 2>&1 &
	SPID=$!
	BENCH_PIDS+=("$SPID")
}

# wait_listening LOG: wait (10 s at most) for "listening on ADDR:PORT" in LOG
# (nd-* tools and raw-tcp-pingpong started on port 0); prints the port.
wait_listening() {
	local i port
	for ((i = 0; i < 100; i++)); do
		port=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\).*/\1/p' "$1" | head -n 1)
		[ -n "$port" ] && { echo "$port"; return 0; }
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}

# wait_port PORT: wait (10 s at most) until something listens on PORT.
wait_port() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ] && return 0
		kill -0 "$SPID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# finish_server: wait for the server; kill it if it outlives its client by 10 s.
finish_server() {
	local i
	for ((i = 0; i < 100; i++)); do
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
	done
	kill "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
}

# pair OUT NAME SERVER_CMD -- CLIENT_CMD: the nd-* / raw-tcp pattern: start the
# server on port 0, read its port, run the client against HOST:PORT (the
# client command's last word is the address prefix "HOST:" + port). The
# client's output goes to OUT; failures are reported, not fatal.
pair() {
	local out=$1 name=$2 slog port rc; shift 2
	local srv=() cli=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do srv+=("$1"); shift; done
	shift
	cli=("$@")
	slog=$out.server
	start_server "$slog" "${srv[@]}"
	if ! port=$(wait_listening "$slog"); then
		echo "# $name: server did not start:" >&2; cat "$slog" >&2
		finish_server; return 1
	fi
	cli[${#cli[@]} - 1]=${cli[${#cli[@]} - 1]}$port
	timeout -k 5 "$T" "${cli[@]}" >"$out" 2>&1
	rc=$?
	# A server whose client failed would wait for another one: stop it now.
	[ $rc = 0 ] || kill "$SPID" 2>/dev/null
	finish_server
	if [ $rc != 0 ]; then
		echo "# $name: client exit $rc:" >&2; tail -n 5 "$out" "$slog" >&2
		return 1
	fi
	return 0
}

# col FILE SIZE N: field N of the table row for SIZE (perftest and nd-*
# tables: 1 bytes 2 iterations 3 t_min 4 t_max 5 t_typical 6 t_avg).
col() {
	awk -v s="$2" -v n="$3" '$1 == s && $2 ~ /^[0-9]+$/ { print $n; exit }' "$1"
}

# median VALUES...: the median of the numbers given (empty if none).
median() {
	[ $# -gt 0 ] || return 0
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio A B: A / B with 3 decimals, or "n/a" if either is missing or B is 0.
ratio() {
	awk -v a="${1:-}" -v b="${2:-}" 'BEGIN {
		if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.3f\n", a / b }'
}

# SERIES[NAME]: the values recorded for NAME (one per successful run).
declare -A SERIES=()
record() { [ -n "${2:-}" ] && SERIES[$1]="${SERIES[$1]:-} $2"; return 0; }
# shellcheck disable=SC2086  # word splitting intended
med() { median ${SERIES[$1]:-}; }
runs_of() { local a; read -ra a <<<"${SERIES[$1]:-}"; echo ${#a[@]}; }
