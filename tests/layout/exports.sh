#!/usr/bin/env bash
# The public API is the header: libhsmbak.so exports exactly the functions
# that include/hsmbak/ declares with HB_API (the library is built with
# -fvisibility=hidden), no more and no fewer.   HSMBAK_SO, HSMBAK_SRC
set -euo pipefail
so=${HSMBAK_SO:?}; src=${HSMBAK_SRC:?}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
nm -D --defined-only "$so" | awk '$2 ~ /^[TW]$/ {print $3}' | sort -u > "$work/exported"
# One declaration per HB_API line: the function is the first hb_ name that
# is followed by '(' on that line.
grep -h '^HB_API' "$src"/include/hsmbak/*.h |
  sed -nE 's/^[^(]*[ *](hb_[A-Za-z0-9_]*)\(.*/\1/p' | sort -u > "$work/declared"
extra=$(comm -23 "$work/exported" "$work/declared")
missing=$(comm -13 "$work/exported" "$work/declared")
[ -z "$extra" ] || { echo "FAIL: exported but not declared in include/hsmbak/:" >&2; echo "$extra" >&2; }
[ -z "$missing" ] || { echo "FAIL: declared HB_API but not exported:" >&2; echo "$missing" >&2; }
echo "exports: $(wc -l < "$work/exported") functions exported, $(wc -l < "$work/declared") declared"
[ -z "$extra" ] && [ -z "$missing" ]
