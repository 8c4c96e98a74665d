#!/usr/bin/env bash
# The library's code reads like the design (docs/design.md §8): it checks,
# over every .c file of the library (common/, provider/, backup/), that
#   - no function is longer than 120 lines;
#   - a function with a `cleanup:` label returns only after it (the one
#     error idiom: HB_TRY / HB_FAIL / HB_ENSURE reach cleanup, nothing skips it);
#   - no snprintf result is thrown away (checked, or hb_format / hb_buf used);
#   - no banned call (sprintf, strcat, strncpy, strtok, atoi, sscanf; STYLE.md).
# Prints every offence with file:line and fails when there is one.
#   HSMBAK_SRC; STYLE_MAX_LINES (default 120)
set -euo pipefail
src=${HSMBAK_SRC:?}
cd "$src"
max=${STYLE_MAX_LINES:-120}
files=$(ls common/*.c provider/*.c backup/*/*.c)
# shellcheck disable=SC2086
awk -v max="$max" '
  FNR == 1 { name = ""; start = 0; body = 0; has_cleanup = 0; early = "" }
  # A definition starts at column 0 with a name and "(", and is not a prototype.
  !body && /^[A-Za-z_].*\(/ && !/;[ \t]*$/ && !/^(typedef|static const|const char \*const)/ {
      name = $0; start = FNR }
  /^\{/ && start { body = 1; bstart = start; has_cleanup = 0; early = ""; after = 0 }
  body && /^cleanup:/ { has_cleanup = 1; after = 1 }
  body && !after && /(^|[^a-z_])return[ ;(]/ { early = early " " FNR }
  /^\}/ && body {
      len = FNR - bstart + 1
      fn = name; sub(/\(.*/, "", fn); n = split(fn, w, /[ *]+/); fn = w[n]
      if (len > max) printf "%s:%d: %s is %d lines (at most %d)\n", FILENAME, bstart, fn, len, max
      if (has_cleanup && early != "")
          printf "%s:%d: %s has a cleanup label but returns before it (lines%s)\n", FILENAME, bstart, fn, early
      body = 0; start = 0; name = ""
  }
' $files > /tmp/hsmbak-style.$$ || true
grep -nE '^\s*(\(void\)\s*)?snprintf\(' $files | sed 's/$/  <- snprintf result unchecked/' >> /tmp/hsmbak-style.$$ || true
grep -nE '(^|[^a-z_])(sprintf|strcat|strncpy|strtok|atoi|sscanf)\(' $files | grep -v 'snprintf(' |
  sed 's/$/  <- banned call/' >> /tmp/hsmbak-style.$$ || true
n=$(wc -l < /tmp/hsmbak-style.$$)
cat /tmp/hsmbak-style.$$; rm -f /tmp/hsmbak-style.$$
echo "style: $n offences in $(echo "$files" | wc -l) files"
[ "$n" -eq 0 ]
