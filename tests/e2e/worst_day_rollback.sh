# Issue 11, class 5: rollback is visible and refused without consent.
# Two validly signed backups of one system, old and new: after a factory
# reset, restoring the old one is refused with a message naming the newer
# one (root, the files beside it and a decoy outside byte-identical), and
# accepted with --allow-rollback; the newer one then restores without it.
# Validate reports a rollback as a warning and changes nothing; validate and
# restore show id, created, sequence, signer and recipients.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"

STATE=$HSMBAK_ROOT/.hsmbak/sequence
make_system
mkdir -p "$T/decoy" && echo decoy > "$T/decoy/file" && echo beside > "$T/beside"
digests() { echo "$(tree_digest "$HSMBAK_ROOT") $(tree_digest "$T/decoy") $(sha256sum < "$T/beside")"; }
# unchanged CASE: nothing changed and no staging tree is left.
unchanged() {
  [ "$(digests)" = "$before" ] || fail "$1: the root, the decoy or the file beside changed"
  if compgen -G "$HSMBAK_ROOT.hsmbak-staging-*" >/dev/null; then fail "$1: a staging tree is left"; fi
}
field() { jq -r ".result.$2" "$T/$1.json"; }

# Old and new: sequence 1 and 2, strictly increasing, created kept.
[ ! -e "$STATE" ] || fail "a new root already has a sequence state"
hb --json secure-backup rcpt "$T/old" > "$T/old.json"
echo 'hostname newer' > "$HSMBAK_ROOT/config/mqa.cfg"
hb --json secure-backup rcpt "$T/new" > "$T/new.json"
OLD=$(field old backup_id) OLDC=$(field old created) NEW=$(field new backup_id) NEWC=$(field new created)
[ "$(field old sequence)" = 1 ] && [ "$(field new sequence)" = 2 ] ||
  fail "sequences $(field old sequence), $(field new sequence), want 1, 2"
grep -q "<sequence>1</sequence>" "$T/old/backupmanifest.xml" || fail "no <sequence> in the old manifest"
printf 'hsmbak-sequence 1\ncounter 2\nnewest 2 %s %s made\n' "$NEW" "$NEWC" | cmp -s - "$STATE" ||
  fail "state after two backups: $(cat "$STATE")"
pass "backups get sequences 1 and 2; the root records the newest it made"

# A backup refused before its commit (a bad token signature) changes nothing.
before=$(digests)
must_refuse 8 "signature does not verify with the key's own public key" \
  env HSMBAK_FAULT=bad-token-signature "$HSMBAK_BIN" --pin-source "file:$PIN_FILE" secure-backup rcpt "$T/bad"
unchanged "refused backup"
[ ! -e "$T/bad" ] || fail "a refused backup was written"
pass "a refused backup leaves the sequence state (and the whole root) as it was"

# Validate of the old one: a warning, not a failure, and nothing changes.
before=$(digests)
hb secure-restore rcptcred "$T/old" --validate > "$T/v.out" 2> "$T/v.err" || fail "validate of the old one: $(cat "$T/v.err")"
want="backup '$OLD' (sequence 1, created $OLDC) is older than backup '$NEW' (sequence 2, created $NEWC) that this system made"
grep -qF "hsmbak: warning: validate: $want; restoring it needs --allow-rollback" "$T/v.err" ||
  fail "validate warned: $(cat "$T/v.err")"
for l in "backup id   $OLD" "created     $OLDC" "sequence    1" "signer      CN=Signer" "recipient   CN=Recipient rcpt"; do
  grep -qF " $l" "$T/v.out" || fail "validate output lacks '$l': $(cat "$T/v.out")"
done
hb --json secure-restore rcptcred "$T/old" --validate > "$T/v.json"
json_ok "$T/v.json" '.ok and .result.sequence == 1 and .result.backup_id == "'"$OLD"'" and
  .result.created == "'"$OLDC"'" and (.result.signer.subject | test("CN=Signer")) and
  (.result.recipients | length) == 1 and .result.history.rollback and
  .result.history.newest_sequence == 2 and .result.history.newest_backup_id == "'"$NEW"'" and
  (.result.checks[] | select(.check == "rollback") | .status == "warning" and (.message | test("is older than")))' \
  "validate --json of the old one"
unchanged "validate"
pass "validate of the old backup warns, naming the newer one, and changes nothing"

# Factory reset keeps the state.
download
state=$(sha256sum < "$STATE")
hb factory-reset --yes >/dev/null
[ "$(sha256sum < "$STATE")" = "$state" ] || fail "factory reset changed .hsmbak/sequence"
prepare_restore rcpt "$TOKEN"
pass "factory reset keeps the root's sequence state"

# The refusal: one line naming both backups; nothing anywhere changed.
before=$(digests)
expect_fail 6 "hsmbak: $want; restore it with --allow-rollback if you mean to roll back" \
  hb secure-restore rcptcred "$T/old"
unchanged "refused rollback"
hb --json secure-restore rcptcred "$T/old" > "$T/r.json" 2>/dev/null && fail "--json restore of the old one succeeded"
json_ok "$T/r.json" '.error.status == "refused" and .result.history.rollback and
  (.result.history.rollback_allowed | not) and .result.history.newest_backup_id == "'"$NEW"'" and
  (.result.checks[] | select(.check == "rollback") | .status == "failed") and
  (.result.checks[] | select(.check == "files") | .status == "ok") and
  ([.result.checks[] | select(.check == "archive" or .check == "swap") | .status] | length > 1 and
   all(. == "not-run"))' "refusal in --json: after the files, before any archive"
unchanged "refused rollback, --json"

# A backup without a sequence (an older hsmbak made it) cannot be shown newer.
"$HSMBAK_CRAFT" no-sequence "$T/old" "$T/legacy" "pkcs11:token=$TOKEN;object=signer;type=private" \
  "$T/download/signer-sscert.pem" "file:$PIN_FILE" || fail "hbcraft no-sequence"
grep -q "<sequence>" "$T/legacy/backupmanifest.xml" && fail "hbcraft left the sequence in"
expect_fail 6 "hsmbak: backup '$OLD' (created $OLDC) has no sequence number (an older hsmbak made it), so it cannot be shown newer than backup '$NEW' (sequence 2, created $NEWC) that this system made; restore it with --allow-rollback" \
  hb secure-restore rcptcred "$T/legacy"
unchanged "refused legacy"

# An edited sequence breaks the signature.
cp -a "$T/old" "$T/edited" && sed -i 's|<sequence>1</sequence>|<sequence>9</sequence>|' "$T/edited/backupmanifest.xml"
expect_fail 5 "digest mismatch" hb secure-restore rcptcred "$T/edited"
unchanged "edited sequence"
pass "the old backup, one without a sequence and one with an edited sequence are refused; nothing changed"

# Consent: --allow-rollback restores the old one, says so, and the newest stays.
hb secure-restore rcptcred "$T/old" --allow-rollback > "$T/a.out" 2> "$T/a.err" || fail "--allow-rollback: $(cat "$T/a.err")"
grep -q "Secure restore is complete" "$T/a.out" || fail "allowed restore output: $(cat "$T/a.out")"
grep -qF "hsmbak: warning: secure-restore: $want; restored as --allow-rollback asks" "$T/a.err" ||
  fail "allowed restore warned: $(cat "$T/a.err")"
grep -qF " sequence    1" "$T/a.out" || fail "restore output lacks the sequence"
[ "$(cat "$HSMBAK_ROOT/config/mqa.cfg")" = "hostname qa" ] || fail "the old config was not restored"
printf 'hsmbak-sequence 1\ncounter 2\nnewest 2 %s %s made\n' "$NEW" "$NEWC" | cmp -s - "$STATE" ||
  fail "an allowed rollback changed the newest: $(cat "$STATE")"
pass "--allow-rollback restores the old backup with a warning; the newest known stays sequence 2"

# The newer one restores without the option, and becomes what this system restored.
hb factory-reset --yes >/dev/null
prepare_restore rcpt "$TOKEN"
hb --json secure-restore rcptcred "$T/new" > "$T/n.json" || fail "restore of the newer one: $(cat "$T/n.json")"
json_ok "$T/n.json" '.ok and .result.mode == "restore" and .result.sequence == 2 and
  .result.backup_id == "'"$NEW"'" and .result.created == "'"$NEWC"'" and
  (.result.signer.subject | test("CN=Signer")) and (.result.signer.fingerprint_sha256 | length) == 64 and
  (.result.recipients[0].subject | test("CN=Recipient rcpt")) and
  (.result.history.rollback | not) and .result.history.newest_sequence == 2 and
  (.result.checks[] | select(.check == "rollback") | .status == "ok")' "restore --json of the newer one"
[ "$(cat "$HSMBAK_ROOT/config/mqa.cfg")" = "hostname newer" ] || fail "the newer config was not restored"
pass "the newer backup restores without --allow-rollback; --json has id, created, sequence, signer, recipients"

# Text output of a restore, and the next backup continues after the newest.
hb factory-reset --yes >/dev/null
prepare_restore rcpt "$TOKEN"
hb secure-restore rcptcred "$T/new" > "$T/n.out" 2> "$T/n.err" || fail "restore: $(cat "$T/n.err")"
[ ! -s "$T/n.err" ] || fail "a restore that is no rollback warned: $(cat "$T/n.err")"
for l in "backup id   $NEW" "created     $NEWC" "sequence    2" "signer      CN=Signer" "recipient   CN=Recipient rcpt"; do
  grep -qF " $l" "$T/n.out" || fail "restore output lacks '$l': $(cat "$T/n.out")"
done
hb --json secure-backup rcpt "$T/third" > "$T/third.json" || fail "backup after restore: $(cat "$T/third.json")"
[ "$(field third sequence)" = 3 ] || fail "the backup after the restore has sequence $(field third sequence)"
pass "restore text shows id, created, sequence, signer, recipients; the next backup is sequence 3"

# A state file hsmbak did not write is refused, not taken for "no history".
cp "$STATE" "$T/state.keep"
echo 'newest 0' > "$STATE"
expect_fail 5 "'$STATE' is not a backup sequence state hsmbak wrote" hb secure-restore rcptcred "$T/old" --validate
cp "$T/state.keep" "$STATE"

# The option is in --help, the man page and bash completion.
hb secure-restore --help | grep -q -- "--allow-rollback  *restore a backup older than the newest" || fail "--help"
grep -q 'allow\\-rollback' "$HSMBAK_SRC/man/hsmbak.1" || fail "man page"
(
  PATH=$(dirname "$HSMBAK_BIN"):$PATH
  . "$HSMBAK_SRC/completion/hsmbak.bash"
  COMP_WORDS=(hsmbak secure-restore --allow-r); COMP_CWORD=2; COMPREPLY=()
  _hsmbak hsmbak --allow-r secure-restore 2>/dev/null
  [ "${COMPREPLY[*]}" = "--allow-rollback " ] || [ "${COMPREPLY[*]}" = "--allow-rollback" ] ||
    fail "completion: '${COMPREPLY[*]}'"
)
pass "--allow-rollback is in --help, hsmbak(1) and bash completion"
finish
