# Issue 4: a restore killed (SIGKILL) during extraction, just before the swap,
# or just after it leaves the root either untouched or fully restored, never a
# mix; the next run cleans up and succeeds. A backup killed just before its
# final rename leaves nothing that looks like a backup.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"

make_system
rc=0; HSMBAK_FAULT=backup-before-rename hb secure-backup rcpt "$T/b1" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 137 ] || fail "backup was not killed at the fault point (exit $rc)"
[ ! -e "$T/b1" ] || fail "a killed backup left its destination"
ls -a "$T" | grep -q '^\.b1\.hsmbak-partial-' || fail "expected the hidden partial directory"
hb secure-backup rcpt "$T/b1" 2> "$T/backup.err" >/dev/null || fail "backup after a kill"
grep -q "removed 1 partial backup" "$T/backup.err" || fail "stale partial not reported: $(cat "$T/backup.err")"
ls -a "$T" | grep -q 'hsmbak-partial' && fail "stale partial not removed"
pass "killed backup: no destination, partial removed and reported by the next run"

download
hb factory-reset --yes >/dev/null
prepare_restore rcpt "$TOKEN"
old=$(tree_digest "$HSMBAK_ROOT")
# The fully restored tree, made once on a copy of the root.
cp -a "$HSMBAK_ROOT" "$T/reference"
HSMBAK_ROOT=$T/reference hb secure-restore rcptcred "$T/b1" >/dev/null || fail "reference restore"
new=$(tree_digest "$T/reference")
[ "$old" != "$new" ] || fail "restore changed nothing?"
staging() { ls -d "$HSMBAK_ROOT".hsmbak-staging-* 2>/dev/null | wc -l; }

for point in restore-during-extract restore-before-swap after-swap; do
  rc=0; HSMBAK_FAULT=$point hb secure-restore rcptcred "$T/b1" >/dev/null 2>&1 || rc=$?
  [ "$rc" -eq 137 ] || fail "$point: not killed (exit $rc)"
  now=$(tree_digest "$HSMBAK_ROOT")
  if [ "$point" = after-swap ]; then
    [ "$now" = "$new" ] || fail "$point: the root is not the restored tree"
    [ "$(staging)" -eq 1 ] || fail "$point: expected the old tree beside the root"
    hb secure-restore rcptcred "$T/b1" --validate 2> "$T/v.err" >/dev/null || fail "$point: validate after kill"
    grep -q "removed 1 staging tree" "$T/v.err" || fail "$point: leftover not reported"
  else
    [ "$now" = "$old" ] || fail "$point: the root changed although the swap never happened"
    [ "$(staging)" -eq 1 ] || fail "$point: expected a staging tree"
    hb secure-restore rcptcred "$T/b1" 2> "$T/r.err" >/dev/null || fail "$point: rerun failed: $(cat "$T/r.err")"
    grep -q "removed 1 staging tree" "$T/r.err" || fail "$point: leftover not reported"
    [ "$(tree_digest "$HSMBAK_ROOT")" = "$new" ] || fail "$point: rerun did not restore fully"
  fi
  [ "$(staging)" -eq 0 ] || fail "$point: leftovers remain"
  pass "SIGKILL at $point: root was $( [ "$point" = after-swap ] && echo new || echo old ), never mixed; next run cleaned up"
  # Back to the factory state for the next point.
  hb factory-reset --yes >/dev/null
  prepare_restore rcpt "$TOKEN"
  [ "$(tree_digest "$HSMBAK_ROOT")" = "$old" ] || fail "could not get back to the factory state"
done

# Issue 16: a parallel restore (two archives read at once) killed at random
# points (seeded, so a failure can be replayed: KILL_SEED) is old or new,
# never mixed. Several archives with thousands of entries each, so the kill
# falls inside extraction as well as before and after it.
seed=${KILL_SEED:-$RANDOM}
echo "# kill points seeded with KILL_SEED=$seed"
RANDOM=$seed
rm -rf "$T/reference" "$T/b2"
hb secure-restore rcptcred "$T/b1" >/dev/null || fail "restore of the original system"
for r in local config cert; do
  mkdir -p "$HSMBAK_ROOT/$r/many"
  for d in $(seq 20); do
    mkdir "$HSMBAK_ROOT/$r/many/$d"
    for f in $(seq 100); do echo "$r $d $f" > "$HSMBAK_ROOT/$r/many/$d/$f"; done
  done
  head -c 3000000 /dev/urandom > "$HSMBAK_ROOT/$r/many/big.bin"
done
# The certificates and store stay in place: the restore's objects.
hb secure-backup rcpt "$T/b2" >/dev/null || fail "backup for the parallel kill"
hb factory-reset --yes >/dev/null
prepare_restore rcpt "$TOKEN"
old=$(tree_digest "$HSMBAK_ROOT")
cp -a "$HSMBAK_ROOT" "$T/reference"
export HSMBAK_READ_WORKERS=2
start=$(date +%s%N)
HSMBAK_ROOT=$T/reference hb secure-restore rcptcred "$T/b2" >/dev/null || fail "reference restore"
took_ms=$(( ($(date +%s%N) - start) / 1000000 ))
new=$(tree_digest "$T/reference")
olds=0 news=0
for i in $(seq 8); do
  delay_ms=$(( RANDOM % (took_ms + took_ms / 4 + 1) ))
  "$HSMBAK_BIN" --pin-source "file:$PIN_FILE" secure-restore rcptcred "$T/b2" >/dev/null 2>&1 &
  pid=$!
  sleep "$(awk "BEGIN{print $delay_ms / 1000}")"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  now=$(tree_digest "$HSMBAK_ROOT")
  if [ "$now" = "$old" ]; then
    olds=$((olds + 1))
    hb secure-restore rcptcred "$T/b2" >/dev/null 2>"$T/r.err" || fail "kill $i at ${delay_ms} ms: rerun failed: $(cat "$T/r.err")"
    [ "$(tree_digest "$HSMBAK_ROOT")" = "$new" ] || fail "kill $i: rerun did not restore fully"
  elif [ "$now" = "$new" ]; then
    news=$((news + 1))
  else
    fail "kill $i at ${delay_ms} ms (of ${took_ms}): the root is neither the old nor the new tree"
  fi
  [ "$(staging)" -le 1 ] || fail "kill $i: more than one leftover tree"
  hb factory-reset --yes >/dev/null
  prepare_restore rcpt "$TOKEN"
  [ "$(tree_digest "$HSMBAK_ROOT")" = "$old" ] || fail "kill $i: could not get back to the factory state"
done
pass "parallel restore killed at 8 random points (seed $seed, restore ${took_ms} ms): $olds old, $news new, never mixed"
finish
