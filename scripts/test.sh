#!/usr/bin/env bash
# Installs what is missing, builds with -Wall -Wextra -Werror and runs every
# test suite: on this host (unit, conformance-tcp, examples, and again under
# ASan+UBSan, TSan and valgrind; libFuzzer on the tcp wire parser; bad input,
# threads) and, inside a QEMU VM, on real Soft-RoCE and Soft-iWARP devices
# (rdma-rxe0, rdma-siw0, and both again under ASan: rdma-asan), across two
# VMs (rdma-two-host), and faults (tcp here, verbs in the VM). Prints one line per suite and ends with
# the total. Exit status 0 only if nothing failed.
#
# Env: ND_BUILD_DIR (build), ND_SKIP_VM=1 (host suites only; never in CI),
# ND_FUZZ_SECONDS (30).
set -u
cd "$(dirname "$0")/.." || exit 1
. scripts/lib.sh

BUILD=${ND_BUILD_DIR:-build}
total_pass=0 total_fail=0 total_skip=0
failed_suites=()

nd_install $ND_BUILD_PACKAGES
nd_say "building in $BUILD"
nd_build "$BUILD"

report() { # name passed failed skipped
	printf 'suite %s: %d passed, %d failed, %d skipped\n' "$1" "$2" "$3" "$4"
	total_pass=$((total_pass + $2))
	total_fail=$((total_fail + $3))
	total_skip=$((total_skip + $4))
	[ "$3" -eq 0 ] || failed_suites+=("$1")
}

# count NAME RC: counts meson's log for NAME; a non-zero RC with no test
# failure recorded (a harness or VM failure) counts as one failure.
count() {
	local name=$1 rc=$2 log=$BUILD/meson-logs/$1.json p=0 f=0 s=0
	[ -s "$log" ] && read -r p f s < <(python3 scripts/count-tests.py "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	if [ "$f" -ne 0 ]; then
		echo "--- $name: last lines of $BUILD/$name.out ---"
		tail -n 60 "$BUILD/$name.out"
	fi
	report "$name" "$p" "$f" "$s"
}

has_suite() { # meson exits 1 with "No suitable tests defined."
	has_suite_in "$BUILD" "$1"
}

has_suite_in() { # build-dir suite
	meson test -C "$1" --no-rebuild --list --suite "$2" >/dev/null 2>&1
}

host_suite() { # report name, meson suite
	local name=$1 suite=$2
	has_suite "$suite" || return 0
	rm -f "$BUILD/meson-logs/$name.json"
	meson test -C "$BUILD" --no-rebuild --suite "$suite" --logbase "$name" \
		--print-errorlogs >"$BUILD/$name.out" 2>&1
	count "$name" $?
}

# Runs a VM command; a VM that gave no status at all (255: it did not boot,
# no test ran) is booted once more, saying so. Test failures are not retried.
vm_run() { # output-file command...
	local out=$1 rc; shift
	"$@" >"$out" 2>&1
	rc=$?
	if [ $rc -eq 255 ]; then
		echo "WARNING: the VM gave no status (boot failure?); retrying once" | tee -a "$out.retry"
		cat "$out" >>"$out.retry"
		"$@" >"$out" 2>&1
		rc=$?
	fi
	return $rc
}

# The rdma suite inside the VM, on one device.
vm_suite() { # name device ip-variable
	local name=$1 dev=$2 ipvar=$3
	rm -f "$BUILD/meson-logs/$name.json"
	# Through cat: on the VM's serial console meson would draw progress bars.
	vm_run "$BUILD/$name.out" tests/vm/run "ND_TEST_DEVICE=$dev \
ND_TEST_ADDR=\$$ipvar meson test -C $BUILD --no-rebuild --suite rdma \
--logbase $name --print-errorlogs | cat; exit \${PIPESTATUS[0]}"
	count "$name" $?
}

two_host_suite() {
	local name=rdma-two-host
	rm -f "$BUILD/meson-logs/$name.json"
	vm_run "$BUILD/$name.out" tests/vm/two-host.sh "$BUILD"
	local rc=$?
	# One test per checked transfer, as the script reports them.
	local p f
	p=$(grep -cE '^(\[[AB]\] )?PASS ' "$BUILD/$name.out")
	f=$(grep -cE '^(\[[AB]\] )?FAIL ' "$BUILD/$name.out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	[ "$f" -eq 0 ] || { echo "--- $name ---"; tail -n 60 "$BUILD/$name.out"; }
	report "$name" "$p" "$f" 0
}

# The host suites again in a sanitizer build of their own.
sanitizer_suite() { # name b_sanitize meson-suites...
	local name=$1 sanitize=$2 dir=$BUILD-$1 args=()
	shift 2
	for s in "$@"; do has_suite "$s" && args+=(--suite "$s"); done
	nd_say "building with -Db_sanitize=$sanitize in $dir"
	nd_build "$dir" -Db_sanitize="$sanitize" -Db_lundef=false
	rm -f "$dir/meson-logs/$name.json"
	meson test -C "$dir" --no-rebuild "${args[@]}" --logbase "$name" \
		--print-errorlogs >"$BUILD/$name.out" 2>&1
	local rc=$?
	cp "$dir/meson-logs/$name.json" "$BUILD/meson-logs/$name.json" 2>/dev/null
	count "$name" $rc
}

host_suite unit unit
host_suite conformance-tcp conformance-tcp
host_suite examples examples
# Every public call with bad input and in the wrong state (exact statuses);
# several threads on one adapter, cancelling and releasing under waiters.
host_suite bad-input bad-input
host_suite threads threads
# ASan + UBSan: memory errors, leaks and undefined behaviour. TSan: races in
# the core's engine and the providers' progress threads.
sanitizer_suite asan address,undefined unit conformance-tcp examples \
	bad-input threads faults
sanitizer_suite tsan thread unit conformance-tcp threads bad-input

# libFuzzer on the tcp provider: its frame checker, and the real receive
# path of a live adapter, each bounded (clang build, the library itself
# instrumented so that coverage reaches the provider).
fuzz_suite() {
	local name=fuzz-tcp dir=$BUILD-fuzz
	nd_say "building with clang for the fuzz targets in $dir"
	CC=clang nd_build "$dir" -Dexamples=false -Db_sanitize=address,undefined \
		-Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link
	has_suite_in "$dir" fuzz-tcp || { report $name 0 1 0; echo "fuzz-tcp: no fuzz target was configured"; return; }
	rm -f "$dir/meson-logs/$name.json"
	meson test -C "$dir" --suite fuzz-tcp --logbase "$name" \
		--test-args=-max_total_time="${ND_FUZZ_SECONDS:-30}" \
		--print-errorlogs >"$BUILD/$name.out" 2>&1
	local rc=$?
	cp "$dir/meson-logs/$name.json" "$BUILD/meson-logs/$name.json" 2>/dev/null
	count "$name" $rc
}
fuzz_suite

# valgrind memcheck under every example tool over tcp: any memory error or
# definite leak fails the tool. valgrind runs one thread at a time; with its
# default scheduler a busy-polling thread starves the provider's progress
# thread until the tools' own timeouts fire, hence --fair-sched=yes.
if has_suite examples; then
	rm -f "$BUILD/meson-logs/valgrind.json"
	SMOKE_TIMEOUT=180 SMOKE_WRAPPER="valgrind -q --fair-sched=yes --error-exitcode=99 \
--leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite" \
		meson test -C "$BUILD" --no-rebuild --suite examples \
		--logbase valgrind --timeout-multiplier 4 --print-errorlogs \
		>"$BUILD/valgrind.out" 2>&1
	count valgrind $?
fi

skip_vm=0
if [ "${ND_SKIP_VM:-0}" = 1 ] && [ "${CI:-}" != true ]; then
	echo "SKIP: the VM suites (rdma-rxe0, rdma-siw0, rdma-two-host, faults on verbs): ND_SKIP_VM=1"
	skip_vm=1
else
	nd_say "booting the VM for the rdma suites (rxe0, siw0, two hosts)"
	vm_suite rdma-rxe0 rxe0 RXE_IP
	vm_suite rdma-siw0 siw0 SIW_IP
	two_host_suite
fi

# The rdma suite again in the ASan+UBSan build, on rxe0 and siw0 in one VM
# boot: memory errors of the verbs provider on real devices (the host's
# asan suite reaches only the tcp provider and the core).
rdma_asan_suite() {
	local name=rdma-asan dir=$BUILD-asan logs=$BUILD-asan/meson-logs
	[ "$skip_vm" = 0 ] && has_suite_in "$dir" rdma || return 0
	rm -f "$logs"/rdma-asan*.json
	nd_say "booting the VM for the rdma suite under ASan on rxe0 and siw0"
	vm_run "$BUILD/$name.out" tests/vm/run "rc=0; for d in rxe0:\$RXE_IP \
siw0:\$SIW_IP; do IFS=: read -r dev addr <<<\$d; ND_TEST_DEVICE=\$dev \
ND_TEST_ADDR=\$addr meson test -C $dir --no-rebuild --suite rdma \
--logbase rdma-asan-\$dev --print-errorlogs | cat; \
[ \${PIPESTATUS[0]} = 0 ] || rc=1; done; exit \$rc"
	local rc=$?
	cat "$logs"/rdma-asan-*.json >"$BUILD/meson-logs/$name.json" 2>/dev/null
	count "$name" $rc
}
rdma_asan_suite

# Faults (a peer killed, a listener closed, nobody answering, a disconnect
# mid-transfer): the tcp provider here, then the verbs provider on rxe0 and
# siw0 in one VM boot; one suite line for all three.
faults_suite() {
	local logs=$BUILD/meson-logs rc=0
	has_suite faults || return 0
	rm -f "$logs"/faults*.json
	meson test -C "$BUILD" --no-rebuild --suite faults --logbase faults-tcp \
		--print-errorlogs >"$BUILD/faults.out" 2>&1 || rc=1
	if [ "$skip_vm" = 0 ] && has_suite faults-verbs; then
		nd_say "booting the VM for the faults suite on rxe0 and siw0"
		# ND_TEST_SILENT_ADDR: an unused address on the device's
		# subnet, whose ARP nobody answers (connect to a silent host).
		vm_run "$BUILD/faults-vm.out" tests/vm/run "rc=0; for d in \
rxe0:\$RXE_IP:10.0.2.200 siw0:\$SIW_IP:10.0.9.2; do IFS=: read -r dev addr silent <<<\$d; \
ND_TEST_DEVICE=\$dev ND_TEST_ADDR=\$addr ND_TEST_SILENT_ADDR=\$silent meson test \
-C $BUILD --no-rebuild --suite faults-verbs --logbase faults-\$dev --print-errorlogs | cat; \
[ \${PIPESTATUS[0]} = 0 ] || rc=1; done; exit \$rc" || rc=1
		cat "$BUILD/faults-vm.out" >>"$BUILD/faults.out"
	fi
	cat "$logs"/faults-*.json >"$logs/faults.json" 2>/dev/null
	count faults $rc
}
faults_suite

[ ${#failed_suites[@]} -eq 0 ] || echo "failed suites: ${failed_suites[*]}"
printf '%d passed, %d failed, %d skipped\n' "$total_pass" "$total_fail" "$total_skip"
[ "$total_fail" -eq 0 ]
