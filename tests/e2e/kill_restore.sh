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
finish
