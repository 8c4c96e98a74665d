#!/usr/bin/env bash
# The read side end to end (issue 16): a system whose local/ holds a copy of
# TREE, one secure-backup, then `secure-restore --validate` and
# `secure-restore` timed against `openssl enc -d | zstd -d | tar -t` and
# `... | tar -x` of the same tree. Run under hsm-config/with-token:
#
#   HSMBAK_BIN=build/hsmbak HSMBAK_SRC=. TMPDIR=/dev/shm \
#     hsm-config/with-token bash ci/bench.d/restore_system.sh /usr/share [REPS]
#
# BENCH_READ_WORKERS (any of 1 2 0, default "0": one per CPU) sets
# HSMBAK_READ_WORKERS for each hsmbak run. BENCH_PROFILE=strace|perf wraps
# one restore in `strace -c -f` or `perf record -g` (output in $BENCH_OUT).
# Prints Markdown rows: step, wall, CPU (user+sys), peak RSS, baseline,
# ratio.
set -euo pipefail
tree=${1:?tree}; reps=${2:-2}
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"
BENCH_OUT=${BENCH_OUT:-$T/out}
mkdir -p "$BENCH_OUT"
K=$(printf '%064x' 7); IV=$(printf '%032x' 1)

# best_of N CMD... -> "wall rss_kib cpu" (min wall, max RSS, min user+sys)
best_of() {
  local n=$1; shift
  local best="" rss=0 cpu="" t m u s c
  for _ in $(seq "$n"); do
    /usr/bin/time -f "%e %M %U %S" -o "$BENCH_OUT/time" "$@" >/dev/null 2>"$BENCH_OUT/err" ||
      { cat "$BENCH_OUT/err" >&2; return 1; }
    read -r t m u s < "$BENCH_OUT/time"
    c=$(awk "BEGIN{print $u + $s}")
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
    if [ -z "$cpu" ] || awk "BEGIN{exit !($c < $cpu)}"; then cpu=$c; fi
    [ "$m" -gt "$rss" ] && rss=$m
  done
  echo "$best $rss $cpu"
}

make_system
rm -rf "$HSMBAK_ROOT/local"
cp -a "$tree" "$HSMBAK_ROOT/local"
entries=$(find "$HSMBAK_ROOT/local" | wc -l)
hb secure-backup rcpt "$T/b" >/dev/null
download
tar -cf - -C "$HSMBAK_ROOT/local" . | zstd -3 -q | openssl enc -aes-256-ctr -K "$K" -iv "$IV" > "$BENCH_OUT/b.tzst"
hb factory-reset --yes >/dev/null
prepare_restore rcpt "$TOKEN"
cp -a "$HSMBAK_ROOT" "$T/factory"

# Back to the factory state before each restore (not timed).
fresh() { rm -rf "$HSMBAK_ROOT"; cp -a "$T/factory" "$HSMBAK_ROOT"; sync -f "$T" 2>/dev/null || true; }

bv=$(best_of "$reps" bash -c "openssl enc -d -aes-256-ctr -K $K -iv $IV < '$BENCH_OUT/b.tzst' | zstd -d -q | tar -tf - > /dev/null")
bx=$(best_of "$reps" bash -c "rm -rf '$BENCH_OUT/y'; mkdir '$BENCH_OUT/y'; openssl enc -d -aes-256-ctr -K $K -iv $IV < '$BENCH_OUT/b.tzst' | zstd -d -q | tar -xf - -C '$BENCH_OUT/y'; sync -f '$BENCH_OUT/y'")
rm -rf "$BENCH_OUT/y"

row() { # step "wall rss cpu" "wall rss cpu"
  local o=($2) b=($3)
  printf '| %s | %.2f s | %.2f s | %s MiB | %.2f s | %.2f s | **%.2f** |\n' "$1" "${o[0]}" "${o[2]}" \
    "$(( o[1] / 1024 ))" "${b[0]}" "${b[2]}" "$(awk "BEGIN{print ${o[0]}/${b[0]}}")"
}
echo "tree $tree ($entries entries), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
echo "| step | hsmbak wall | CPU | RSS | baseline wall | CPU | ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for w in ${BENCH_READ_WORKERS:-0}; do
  export HSMBAK_READ_WORKERS=$w
  o=$(best_of "$reps" "$HSMBAK_BIN" --pin-source "file:$PIN_FILE" secure-restore rcptcred "$T/b" --validate)
  row "validate, workers=$w" "$o" "$bv"
  best=""
  for _ in $(seq "$reps"); do
    fresh
    o1=$(best_of 1 "$HSMBAK_BIN" --pin-source "file:$PIN_FILE" secure-restore rcptcred "$T/b")
    if [ -z "$best" ] || awk "BEGIN{split(\"$o1\",a);split(\"$best\",b);exit !(a[1]<b[1])}"; then best=$o1; fi
  done
  row "restore, workers=$w" "$best" "$bx"
done
case ${BENCH_PROFILE:-} in
  strace)
    fresh
    strace -c -f -o "$BENCH_OUT/strace.txt" "$HSMBAK_BIN" --pin-source "file:$PIN_FILE" secure-restore rcptcred "$T/b" >/dev/null
    cp "$BENCH_OUT/strace.txt" "${BENCH_KEEP:-/tmp}/restore-strace.txt" ;;
  perf)
    fresh
    perf record -g -o "$BENCH_OUT/perf.data" "$HSMBAK_BIN" --pin-source "file:$PIN_FILE" secure-restore rcptcred "$T/b" >/dev/null 2>&1
    perf report -i "$BENCH_OUT/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null | head -80 > "${BENCH_KEEP:-/tmp}/restore-perf.txt" ;;
esac
