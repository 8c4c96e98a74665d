# Issue 13: the README's quick start and restore section are exact
# commands. This runs both blocks as written, on the test token and in this
# test's directory instead of /srv/appliance and /root (the only edits), and
# checks that the restore brings the settings back.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
readme=$HSMBAK_SRC/README.md

# The code block after each "readme_commands.sh runs" marker.
awk '/tests\/e2e\/readme_commands.sh runs/ { want = 1; next }
     want && /^```/ { if (inside) { inside = 0; want = 0; print "# ---- end of block" } else inside = 1; next }
     inside { print }' "$readme" > "$T/blocks.sh"
[ "$(grep -c '^# ---- end of block' "$T/blocks.sh")" -eq 2 ] || fail "the README's two marked blocks: $(cat "$T/blocks.sh")"
grep -q "factory-reset --yes" "$T/blocks.sh" && grep -q "secure-restore mybackupcred temporary:///myBackup$" "$T/blocks.sh" \
  || fail "the restore block lost its commands"

# The edits: the throw-away token (made by with-token) for softhsm2-util and
# 'backup', this test's directory for /srv and /root.
sed -e '/^softhsm2-util /d' \
    -e "s|/srv/appliance|$T/appliance|g" -e "s|/root/hsmbak-save|$T/save|g" \
    -e "s|pkcs11:token=backup|pkcs11:token=$TOKEN|g" "$T/blocks.sh" > "$T/run.sh"
# Between the blocks, what the operator's system holds: a setting.
awk -v marker="printf 'hostname readme\\\\n' > \"\$HSMBAK_ROOT/config/mqa.cfg\"" \
    '/^hsmbak secure-backup / && !done { print marker; done = 1 } { print }' "$T/run.sh" > "$T/run2.sh"
grep -q "hostname readme" "$T/run2.sh" || fail "could not place the setting"
cat > "$T/prelude.sh" <<PRELUDE
set -euo pipefail
hsmbak() { "$HSMBAK_BIN" --pin-source "file:$PIN_FILE" "\$@"; }
PRELUDE
cat "$T/prelude.sh" "$T/run2.sh" > "$T/readme.sh"
bash "$T/readme.sh" > "$T/readme.out" 2>&1 || fail "the README's commands failed: $(tail -20 "$T/readme.out")"
grep -q "Secure backup is complete." "$T/readme.out" || fail "no backup"
grep -q "backup id" "$T/readme.out" || fail "inspect said nothing"
grep -q "The secure-restore validation is complete" "$T/readme.out" || fail "no validation"
grep -q "Secure restore is complete." "$T/readme.out" || fail "no restore: $(tail "$T/readme.out")"
[ "$(cat "$T/appliance/config/mqa.cfg")" = "hostname readme" ] || fail "the setting was not restored"
pass "the README's quick start and restore section run as written and restore the system"
finish
