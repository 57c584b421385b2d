# Shared by scripts/*.sh: dependency installation and the build.
# shellcheck shell=bash

# Debian packages the build and the host test suites need.
ND_BUILD_PACKAGES="meson ninja-build pkg-config gcc libc6-dev libcmocka-dev
  libibverbs-dev librdmacm-dev rdma-core ibverbs-providers clang-format
  python3 valgrind clang libclang-rt-14-dev iproute2
  openmpi-bin libopenmpi-dev"

nd_say() { printf '==> %s\n' "$*"; }
nd_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Installs the packages that are missing (apt-get; root or sudo needed).
nd_install() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	nd_say "installing: ${missing[*]}"
	local sudo=
	[ "$(id -u)" = 0 ] || sudo=sudo
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" \
		>/tmp/netdirect-apt.log 2>&1 ||
		{ $sudo apt-get update -q >>/tmp/netdirect-apt.log 2>&1 &&
		  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" \
			>>/tmp/netdirect-apt.log 2>&1; } ||
		nd_die "apt-get install failed; see /tmp/netdirect-apt.log"
}

# nd_build DIR [meson options...]: configure once, then build. Logs go
# into DIR (setup.log, build.log).
nd_build() {
	local dir=$1; shift
	mkdir -p "$dir"
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" -Dwerror=true "$@" >"$dir/setup.log" 2>&1 ||
			{ cat "$dir/setup.log" >&2; nd_die "meson setup failed"; }
	fi
	ninja -C "$dir" >"$dir/build.log" 2>&1 ||
		{ tail -n 40 "$dir/build.log" >&2; nd_die "build failed (see $dir/build.log)"; }
}
