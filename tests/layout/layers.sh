#!/usr/bin/env bash
# The folders are the architecture, and the build enforces it (CMakeLists.txt,
# docs/design.md §1). For every pair of layers, a one-line probe that includes
# a header of the other layer must compile exactly when that layer is below;
# another folder's *_internal.h never compiles; and the grep rules hold: only
# provider/ includes PKCS#11 or p11-kit headers, the CLI includes only the
# public headers and its own, and no #include climbs out with "../".
#   HSMBAK_BUILD (layers.txt), HSMBAK_SRC, HSMBAK_CC
set -euo pipefail
src=${HSMBAK_SRC:?}; build=${HSMBAK_BUILD:?}; cc=${HSMBAK_CC:-cc}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fails=0; probes=0
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
# shellcheck disable=SC2046
flags=(-fsyntax-only -std=gnu11 -D_GNU_SOURCE -I"$src/include" $(pkg-config --cflags libxml-2.0 p11-kit-1))

declare -A dir_of root_of below_of
layers=()
while read -r name dir root below; do
  layers+=("$name"); dir_of[$name]=$dir; root_of[$name]=$root; below_of[$name]=",$below,"
done < "$build/layers.txt"
[ ${#layers[@]} -ge 6 ] || { echo "FAIL: layers.txt lists ${#layers[@]} layers" >&2; exit 1; }

probe() { # probe LAYER HEADER -> 0 when it compiles in LAYER's include root
  printf '#include "%s"\nint hb_probe;\n' "$1" > "$work/p.c"
  "$cc" "${flags[@]}" -I"${root_of[$2]}" "$work/p.c" 2>/dev/null
}
for l in "${layers[@]}"; do
  for m in "${layers[@]}"; do
    [ "$l" = "$m" ] && continue
    h=$(cd "$src" && ls "${dir_of[$m]}"/*.h | grep -v '_internal\.h$' | head -n 1)
    [ -n "$h" ] || continue
    probes=$((probes + 1))
    if [[ ${below_of[$l]} == *",$m,"* ]]; then
      probe "$h" "$l" || bad "$l may include $m ('$h') but the probe does not compile"
    else
      probe "$h" "$l" && bad "$l must not see $m, yet '#include \"$h\"' compiles there"
    fi
    for internal in $(cd "$src" && ls "${dir_of[$m]}"/*_internal.h 2>/dev/null); do
      probes=$((probes + 1))
      probe "$internal" "$l" && bad "$l includes $m's private '$internal'"
    done
  done
done

cd "$src"
lib_dirs=(common backup)
if grep -rlE '#include\s*[<"](p11-kit/|pkcs11)' "${lib_dirs[@]}" cli include; then
  bad "PKCS#11 or p11-kit headers included outside provider/ (files above)"
fi
if grep -rnE '#include\s*"\.\./' common provider backup cli include; then
  bad "an #include climbs out of its folder with ../ (lines above)"
fi
if grep -nE '#include\s*"' cli/*.c cli/*.h | grep -vE '#include\s*"(hsmbak/[a-z_]+\.h|[a-z_]+\.h)"'; then
  bad "the CLI includes something other than include/hsmbak/ and its own headers"
fi
# The CLI's own headers are its own: a bare name must be a file in cli/.
for h in $(grep -ohE '#include\s*"[a-z_]+\.h"' cli/*.c cli/*.h | sed -E 's/.*"(.*)"/\1/' | sort -u); do
  [ -f "cli/$h" ] || bad "the CLI includes '$h', which is not in cli/"
done
echo "layers: ${#layers[@]} layers, $probes include probes, $fails failures"
[ "$fails" -eq 0 ]
