# Issue 15 item 6: every quorum member's share has a signed commitment in
# the manifest. A 2-of-3 backup whose member bob's wrapped share was replaced
# by another share wrapped to bob's own key (tests/tools/hbcraft.c bad-share,
# re-signed by the test's signer; what a faulty or cheating token gives looks
# the same) opens with alice + bob + carol, naming bob's share, and is
# refused with alice + bob, naming bob's share and how many more are needed;
# nothing is restored. Controls: the good backup with all three, the crafted
# one without bob, and a manifest without commitments (older hsmbak).
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"
: "${HSMBAK_CRAFT:?run through ctest (HSMBAK_CRAFT)}"
read -r t1 t2 t3 <<<"$HSMBAK_TEST_TOKENS"
[ -n "$t3" ] || fail "needs three tokens (HSMBAK_TEST_TOKEN_COUNT >= 3)"
R=$HSMBAK_ROOT

hb system init --profile appliance --version 9.3.5.0 >/dev/null
echo 'quorum shares test' > "$R/config/shares-test.cfg"
fixture_signer signer signer "Backup Signer" "$t1"
fixture_backup_signer signer signer
hb ceremony enroll --token "pkcs11:token=$t1" --custodian alice --name alice >/dev/null
hb ceremony enroll --token "pkcs11:token=$t2" --custodian bob --name bob >/dev/null
hb ceremony enroll --token "pkcs11:token=$t3" --custodian carol --name carol >/dev/null
hb ceremony quorum vault --threshold 2 alice bob carol --custodian alice >/dev/null
hb secure-backup vault "$T/q" >/dev/null
M=$T/q/backupmanifest.xml
[ "$(grep -c '<share-commitment algorithm="sha256">[0-9a-f]\{64\}</share-commitment>' "$M")" -eq 3 ] ||
  fail "not one share commitment per member: $(grep -c share-commitment "$M")"
xmllint --noout --schema "$HSMBAK_SRC/data/schema/manifest.xsd" "$M" 2>/dev/null ||
  fail "the manifest with share commitments does not match the schema"
pass "a quorum backup carries one signed SHA-256 share commitment per member"

member() { sed -n "/<member x=\"$1\">/,/<\/member>/s/.*<$2[^>]*>\(.*\)<\/$2>.*/\1/p" "$M"; }
bob_fp=$(member 2 fingerprint); bob_subject=$(member 2 subject)
carol_fp=$(member 3 fingerprint); carol_subject=$(member 3 subject)
[ ${#bob_fp} -eq 64 ] && [ -n "$bob_subject" ] && [ ${#carol_fp} -eq 64 ] || fail "members not found"
bad_note="quorum 'vault': the share of member bob (SHA-256 $bob_fp, $bob_subject) does not match the signed manifest; it is not used"

# Control: all good shares, all three members: no warning.
hb secure-restore --idcred alice --idcred bob --idcred carol "$T/q" --validate >/dev/null 2> "$T/good.err"
grep -q "warning" "$T/good.err" && fail "good shares warned: $(cat "$T/good.err")"
hb secure-restore --idcred alice --idcred bob "$T/q" --validate >/dev/null 2>&1 || fail "alice + bob"
pass "control: the good backup opens with all three and with alice + bob, no warning"

"$HSMBAK_CRAFT" bad-share "$T/q" "$T/bad" "pkcs11:token=$t1;object=signer;type=private" \
  "$R/cert/signer-sscert.pem" "file:$PIN_FILE" || fail "hbcraft bad-share"
cmp -s "$M" "$T/bad/backupmanifest.xml" && fail "hbcraft did not change the manifest"
[ "$(member 2 wrapped-share)" != "$(sed -n '/<member x="2">/,/<\/member>/s/.*<wrapped-share>\(.*\)<\/wrapped-share>.*/\1/p' "$T/bad/backupmanifest.xml")" ] ||
  fail "bob's wrapped share is unchanged"
# Control: the crafted backup is validly signed and opens without bob.
hb secure-restore --idcred alice --idcred carol "$T/bad" --validate >/dev/null 2> "$T/ac.err" ||
  fail "the crafted backup does not open with alice + carol: $(cat "$T/ac.err")"
pass "control: the crafted backup (re-signed) opens with alice + carol"

hb secure-restore --idcred alice --idcred bob --idcred carol "$T/bad" --validate > "$T/abc.out" 2> "$T/abc.err" ||
  fail "alice + bob + carol refused: $(cat "$T/abc.err")"
grep -qxF "hsmbak: warning: validate: $bad_note" "$T/abc.err" ||
  fail "bob's share not named: $(cat "$T/abc.err")"
hb --json secure-restore --idcred bob --idcred alice --idcred carol "$T/bad" --validate > "$T/abc.json" 2>/dev/null ||
  fail "bob + alice + carol refused"
jq -e --arg n "$bad_note" '.ok and (.result.checks[] | select(.check == "idcred") |
  .status == "warning" and .message == $n)' "$T/abc.json" >/dev/null ||
  fail "--json: the idcred check does not carry bob's share: $(cat "$T/abc.json")"
pass "alice + bob + carol: bob's share is named and left out, the backup opens with alice + carol (also bob first, --json)"

want="quorum 'vault' needs 2 of its 3 member shares to open this backup, but only 1 good share is present (alice): $bad_note; 1 more needed: add --idcred for members holding any of these certificates (SHA-256): $carol_fp ($carol_subject)"
must_refuse 5 "$want" hb secure-restore --idcred alice --idcred bob "$T/bad" --validate
pass "alice + bob: refused (exit 5), naming bob's share and the one more needed (carol)"

# Bob's share wrapped to carol's certificate: bob's token refuses it; it is
# named with the token's answer and left out the same way.
HBCRAFT_SHARE_CERT_X=3 "$HSMBAK_CRAFT" bad-share "$T/q" "$T/badkey" \
  "pkcs11:token=$t1;object=signer;type=private" "$R/cert/signer-sscert.pem" "file:$PIN_FILE" ||
  fail "hbcraft bad-share (carol's certificate)"
hb secure-restore --idcred alice --idcred bob --idcred carol "$T/badkey" --validate >/dev/null 2> "$T/key.err" ||
  fail "alice + bob + carol refused (bob's token refuses his share): $(cat "$T/key.err")"
grep -qF "hsmbak: warning: validate: quorum 'vault': the share of member bob (SHA-256 $bob_fp, $bob_subject) cannot be used (unwrapping the quorum share of idcred 'bob': the token refused RSA-OAEP decryption" "$T/key.err" ||
  fail "bob's refused share not named: $(cat "$T/key.err")"
grep -q "; it is not used$" "$T/key.err" || fail "bob's refused share: $(cat "$T/key.err")"
must_refuse 5 "but only 1 good share is present (alice): quorum 'vault': the share of member bob (SHA-256 $bob_fp, $bob_subject) cannot be used (" \
  hb secure-restore --idcred alice --idcred bob "$T/badkey" --validate
pass "bob's share wrapped to another key: his token refuses it, it is named and left out; alice + bob refused"

# Manifests without commitments (older hsmbak) restore as before.
"$HSMBAK_CRAFT" no-commitment "$T/q" "$T/old" "pkcs11:token=$t1;object=signer;type=private" \
  "$R/cert/signer-sscert.pem" "file:$PIN_FILE" || fail "hbcraft no-commitment"
grep -q "share-commitment" "$T/old/backupmanifest.xml" && fail "commitments left in the old-style manifest"
hb secure-restore --idcred alice --idcred bob --idcred carol "$T/old" --validate >/dev/null 2> "$T/old.err" ||
  fail "a manifest without share commitments does not open: $(cat "$T/old.err")"
pass "a manifest without share commitments (older hsmbak) still opens"

# ---- a real restore of the crafted backup ----------------------------------
before=$(tree_digest "$R/config")
mkdir "$T/certs" && cp "$R/cert/"{alice,bob,carol,signer}-sscert.pem "$T/certs/"
hb factory-reset --yes >/dev/null
cp "$T/certs/"*.pem "$R/cert/"
fixture_trust signer
fixture_define alice alice alice "$t1"
fixture_define bob bob bob "$t2"
fixture_define carol carol carol "$t3"
reset_digest=$(tree_digest "$R")
must_refuse 5 "$want" hb secure-restore --idcred alice --idcred bob "$T/bad"
[ "$(tree_digest "$R")" = "$reset_digest" ] || fail "a refused restore changed the system root"
if compgen -G "$R.hsmbak-staging-*" >/dev/null; then fail "a refused restore left a staging tree"; fi
hb secure-restore --idcred alice --idcred bob --idcred carol "$T/bad" > "$T/r.out" 2> "$T/r.err" ||
  fail "restore with alice + bob + carol: $(cat "$T/r.err")"
grep -qxF "hsmbak: warning: secure-restore: $bad_note" "$T/r.err" || fail "restore: bob's share not named: $(cat "$T/r.err")"
[ "$(tree_digest "$R/config")" = "$before" ] || fail "restored config differs"
pass "restore: alice + bob refused with nothing changed; alice + bob + carol restores the system, naming bob's share"
finish
