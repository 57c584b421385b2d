#!/bin/sh
# Installs into a scratch DESTDIR and builds a program outside the tree with
# pkg-config, as a user would, then runs nd_startup/nd_cleanup through it.
#   check-install.sh BUILD_DIR SANITIZE
set -u
build=$1
sanitize=${2:-none}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
echo "1..3"

if meson install -C "$build" --destdir "$stage" --no-rebuild >"$stage/install.log" 2>&1; then
	echo "ok 1 - meson install --destdir"
else
	cat "$stage/install.log" | sed 's/^/# /'
	echo "not ok 1 - meson install --destdir"
	exit 1
fi

pc=$(find "$stage" -name netdirect.pc | head -n 1)
libdir=$(dirname "$(find "$stage" -name 'libnetdirect.so.1' | head -n 1)")
cat >"$stage/hello.c" <<'PROG'
#include <netdirect/nd.h>
#include <stdio.h>
int main(void)
{
	if (nd_startup() != ND_SUCCESS || nd_cleanup() != ND_SUCCESS)
		return 1;
	return nd_cleanup() == ND_DEVICE_NOT_READY ? 0 : 1;
}
PROG
flags=$(PKG_CONFIG_SYSROOT_DIR=$stage PKG_CONFIG_PATH=$(dirname "$pc") \
	pkg-config --cflags --libs netdirect)
if [ -n "$pc" ] && cc "$stage/hello.c" $flags -o "$stage/hello" 2>"$stage/cc.log"; then
	echo "ok 2 - an outside program builds with pkg-config --cflags --libs netdirect"
else
	sed 's/^/# /' "$stage/cc.log"
	echo "not ok 2 - an outside program builds with pkg-config"
	exit 1
fi
if [ "$sanitize" != none ]; then
	# A plain program cannot load a sanitizer-instrumented library.
	echo "ok 3 - run against the installed library # SKIP sanitized build ($sanitize)"
elif LD_LIBRARY_PATH=$libdir ND_PROVIDERS=none "$stage/hello"; then
	echo "ok 3 - it runs nd_startup/nd_cleanup against the installed library"
else
	echo "not ok 3 - it runs nd_startup/nd_cleanup against the installed library"
	exit 1
fi
