#!/usr/bin/env bash
# scripts/check-rooms.sh on made-up trees: a tree without a circle passes,
# then the same tree with an include circle between two rooms fails naming
# it, and a .c file of 801 lines fails naming the file.
set -uo pipefail
src=$1
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
check() { CHECK_ROOMS_ROOT=$tree bash "$src/scripts/check-rooms.sh"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$tree/core/low" "$tree/core/high"
printf '#include "low.h"\n' >"$tree/core/high/high.h"
printf '/* leaf */\n' >"$tree/core/low/low.h"
printf '#include "high.h"\nint x;\n' >"$tree/core/high/high.c"
out=$(check) || fail "a tree without a circle was refused: $out"
echo "$out" | grep -q "no circle" || fail "no summary: $out"

printf '#include "high.h"\n' >"$tree/core/low/low.h"
out=$(check) && fail "the circle low <-> high passed: $out"
echo "$out" | grep -q "include circle" || fail "the circle is not named: $out"
printf '/* leaf */\n' >"$tree/core/low/low.h"

for i in $(seq 801); do echo "int v$i;"; done >"$tree/core/low/big.c"
out=$(check) && fail "an 801-line file passed: $out"
echo "$out" | grep -q "core/low/big.c has 801 lines" || fail "the big file is not named: $out"
echo "1 passed, 0 failed"
