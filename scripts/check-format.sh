#!/usr/bin/env bash
# Checks that C files follow the tree's style (.clang-format at the root):
# runs `clang-format --dry-run --Werror` on each .c/.h file under the paths
# of FORMAT_CHECKED (or under the paths given as arguments), prints the
# files that would change and exits 1; prints a one-line summary otherwise.
# `scripts/check-format.sh --fix [PATH...]` rewrites those files instead.
#
# The list grows as parts of the tree are reformatted; the aim is the
# whole tree. Every other .c/.h file is held to the one indentation rule
# they all follow already: code is indented with tabs, never with spaces
# (a line starting with four spaces and code).
set -euo pipefail
cd "$(dirname "$0")/.."

FORMAT_CHECKED=(
	core/api
	orchctl
	tests/api_http
	tests/orchctl
)

fix=false
if [ "${1:-}" = "--fix" ]; then
	fix=true
	shift
fi
paths=("$@")
[ ${#paths[@]} -eq 0 ] && paths=("${FORMAT_CHECKED[@]}")

if ! command -v clang-format >/dev/null; then
	echo "check-format: clang-format is not installed (apt-get install clang-format)" >&2
	exit 2
fi

mapfile -t files < <(git ls-files --cached --others --exclude-standard -- "${paths[@]}" | grep -E '\.[ch]$' || true)
if [ ${#files[@]} -eq 0 ]; then
	echo "check-format: no .c or .h file under: ${paths[*]}" >&2
	exit 2
fi

if $fix; then
	clang-format -i "${files[@]}"
	echo "check-format: formatted ${#files[@]} files"
	exit 0
fi

mapfile -t spaced < <(git ls-files --cached --others --exclude-standard -- '*.c' '*.h' |
	xargs -r grep -lE '^    [A-Za-z_{}()]' || true)
if [ ${#spaced[@]} -gt 0 ]; then
	echo "check-format: indented with spaces instead of tabs:"
	printf '  %s\n' "${spaced[@]}"
	exit 1
fi

bad=()
for f in "${files[@]}"; do
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		bad+=("$f")
	fi
done
if [ ${#bad[@]} -gt 0 ]; then
	echo "check-format: ${#bad[@]} of ${#files[@]} files differ from .clang-format" \
		"(see: clang-format --dry-run FILE; fix: scripts/check-format.sh --fix FILE):"
	printf '  %s\n' "${bad[@]}"
	exit 1
fi
echo "check-format: ${#files[@]} files follow .clang-format; every C file is indented with tabs"
