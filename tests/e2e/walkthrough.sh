# The README's main job, end to end, with the built binary.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
out=$T/walkthrough.out
TMPDIR=$T "$HSMBAK_SRC/ci/walkthrough" "$HSMBAK_BIN" > "$out" 2>&1 || { cat "$out"; fail "walkthrough failed"; }
grep -q "Secure backup is complete." "$out" || fail "no backup"
grep -q "The secure-restore validation is complete" "$out" || fail "no validation"
grep -q "Secure restore is complete." "$out" || fail "no restore"
grep -q "Restored system equals the original" "$out" || fail "no final comparison"
pass "walkthrough: keygen, backup, dir, factory reset, validate, restore, diff"
finish
