#!/bin/sh
# Every C source under git is clang-format clean (the style in .clang-format).
#   check-format.sh SRCROOT
set -u
cd "$1" || exit 1
echo "1..1"
if ! command -v clang-format >/dev/null; then
	echo "ok 1 - clang-format clean # SKIP clang-format is not installed"
	exit 0
fi
bad=$(git ls-files '*.c' '*.h' | while read -r f; do
	clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || echo "$f"
done)
if [ -z "$bad" ]; then
	echo "ok 1 - clang-format clean"
else
	echo "$bad" | sed 's/^/#   needs clang-format: /'
	echo "not ok 1 - clang-format clean"
	exit 1
fi
