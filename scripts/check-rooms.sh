#!/usr/bin/env bash
# Checks the shape of the tree (docs/ARCHITECTURE.md, "The rooms"):
# - no include circle between the rooms of core/ (a room is a directory
#   core/NAME; an #include "x.h" of a header in another room is an edge);
# - no C source file over 800 lines outside core/raft/ (tests, fuzz and
#   bench aside).
# Prints what is wrong and exits 1; prints a one-line summary otherwise.
# CHECK_ROOMS_ROOT names another tree to check (tests/style checks that a
# circle and a large file in a made-up tree are caught).
set -euo pipefail
cd "${CHECK_ROOMS_ROOT:-$(dirname "$0")/..}"
status=0

declare -A room_of
for h in core/*/*.h; do
	room=${h#core/}; room=${room%%/*}
	room_of[$(basename "$h")]=$room
done

edges=$(mktemp)
trap 'rm -f "$edges"' EXIT
for f in core/*/*.[ch]; do
	room=${f#core/}; room=${room%%/*}
	while read -r inc; do
		other=${room_of[$inc]:-}
		[ -n "$other" ] && [ "$other" != "$room" ] && echo "$room $other"
	done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
done | sort -u >"$edges"

if ! tsort "$edges" >/dev/null 2>"$edges.err"; then
	echo "check-rooms: include circle between rooms of core/:"
	sed 's/^/  /' "$edges.err"
	echo "  (edges: room -> room it includes)"
	sed 's/^/    /' "$edges"
	status=1
fi
rm -f "$edges.err"

while read -r f; do
	n=$(wc -l <"$f")
	if [ "$n" -gt 800 ]; then
		echo "check-rooms: $f has $n lines (at most 800 outside core/raft/): split it by what it owns"
		status=1
	fi
done < <({ git ls-files '*.c' 2>/dev/null || find . -name '*.c' | sed 's|^\./||'; } |
	 grep -vE '^(core/raft/|tests/|fuzz/|bench/)')

[ $status -eq 0 ] && echo "check-rooms: $(wc -l <"$edges") edges between $(cut -d' ' -f1 "$edges" | sort -u | wc -l) rooms, no circle; no source file over 800 lines"
exit $status
