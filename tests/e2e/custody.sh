# Key custody (issue 5) end to end on three SoftHSM tokens: enrollment
# ceremonies, the signed transcript and its tamper detection, recipient sets,
# retire, and a 2-of-3 quorum backup.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"
read -r t1 t2 t3 <<<"$HSMBAK_TEST_TOKENS"
[ -n "$t3" ] || fail "needs three tokens (HSMBAK_TEST_TOKEN_COUNT >= 3)"
R=$HSMBAK_ROOT
TR=$R/config/custody-transcript.xml
manifest() { cat "$R/temporary/$1/backupmanifest.xml"; }

hb system init --profile appliance --version 9.3.5.0 >/dev/null
echo 'custody test' > "$R/config/custody-test.cfg"

expect_fail 6 "no backup signer is set" \
  hb ceremony enroll --token "pkcs11:token=$t1" --custodian alice --name alice
[ ! -e "$R/config/custody.xml" ] || fail "a refused enrollment left a custody store"

fixture_signer signer signer "Backup Signer" "$t1"
fixture_backup_signer signer signer

# ---- enrollment: one recipient per token ----------------------------------
hb ceremony enroll --token "pkcs11:token=$t1" --custodian alice --name alice > "$T/enroll.out"
grep -q "unwraps with rsa-oaep-sha1" "$T/enroll.out" || fail "enroll did not report the probe"
hb ceremony enroll --token "pkcs11:token=$t2" --custodian bob --custodian "Bob Deputy" --name bob >/dev/null
hb ceremony enroll --token "pkcs11:token=$t3" --custodian carol --name carol --key-type rsa:3072 >/dev/null
pass "three recipients enrolled, one per token"

[ "$(grep -c '<key-wrap>rsa-oaep-sha1</key-wrap>' "$R/config/custody.xml")" -eq 3 ] ||
  fail "SoftHSM 2.6.1 should be recorded as rsa-oaep-sha1"
grep -q "<token label=\"$t2\" serial=\"[0-9a-f]\{16\}\"/>" "$R/config/custody.xml" ||
  fail "token label and serial not recorded"
grep -q "<custodian>Bob Deputy</custodian>" "$R/config/custody.xml" || fail "custodians not recorded"
xmllint --noout --schema "$HSMBAK_SRC/data/schema/custody.xsd" "$R/config/custody.xml" 2>/dev/null ||
  fail "custody.xml does not match its schema"
pass "enrollment records key-wrap rsa-oaep-sha1 (probed), token label/serial, custodians"

hb token list --token "pkcs11:token=$t2" --login > "$T/tok.out"
grep -A2 "private-key  *bob" "$T/tok.out" | grep -q "sensitive yes, always-sensitive yes, extractable no, never-extractable yes, decrypt yes, unwrap yes, sign no" ||
  { cat "$T/tok.out"; fail "bob's key is not a sealed, non-extractable decrypt key"; }
pass "enrolled key is sensitive, never extractable, decrypt/unwrap only"

expect_fail 6 "exists" hb ceremony enroll --token "pkcs11:token=$t1" --custodian x --name alice
expect_fail 2 "--custodian" hb ceremony enroll --token "pkcs11:token=$t1" --name nobody

# ---- CSR enrollment, CA-signed certificate import -------------------------
hb ceremony enroll --token "pkcs11:token=$t1" --custodian dave --name dave --csr --cn "Dave Backup" >/dev/null
grep -q '<enrollment name="dave" state="pending">' "$R/config/custody.xml" || fail "dave not pending"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/ca.key" -subj "/CN=Test CA" -days 30 \
  -out "$T/ca.pem" 2>/dev/null
sign_csr() { openssl x509 -req -in "$R/temporary/dave.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
  -CAcreateserial -days "$2" -out "$1" 2>/dev/null; }
# A certificate for another key is refused.
openssl req -new -newkey rsa:2048 -nodes -keyout "$T/other.key" -subj "/CN=Other" -out "$T/other.csr" 2>/dev/null
openssl x509 -req -in "$T/other.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 20 \
  -out "$R/temporary/other.pem" 2>/dev/null
expect_fail 6 "not for the key enrolled as 'dave'" hb ceremony import-cert dave temporary:///other.pem
expect_fail 5 "is not a certificate" hb ceremony import-cert dave temporary:///dave.csr
expect_fail 6 "is active, not waiting for a certificate" hb ceremony import-cert alice temporary:///other.pem
sign_csr "$R/temporary/dave.pem" 20
hb ceremony import-cert dave temporary:///dave.pem --custodian dave >/dev/null 2> "$T/imp.err"
grep -q '<enrollment name="dave" state="active">' "$R/config/custody.xml" || fail "dave not active"
grep -q "warning: the certificate of enrolled recipient 'dave'.*expires on .*within 30 days" "$T/imp.err" ||
  fail "no expiry warning when the 20-day certificate was imported"
pass "CSR enrollment: a foreign certificate is refused, the CA-signed one activates it"
dave_fp=$(sed -n '/name="dave"/,/<\/enrollment>/s/.*<fingerprint>\(.*\)<\/fingerprint>.*/\1/p' "$R/config/custody.xml")
[ ${#dave_fp} -eq 64 ] || fail "no fingerprint for dave"

# ---- transcript ------------------------------------------------------------
hb ceremony verify-transcript > "$T/vt.out" 2> "$T/vt.err"
grep -q "The transcript verifies: 5 entries" "$T/vt.out" || { cat "$T/vt.out"; fail "transcript does not verify"; }
grep -q "import-cert" "$T/vt.out" || fail "import-cert not in the transcript"
grep -q "warning: the certificate of enrolled recipient 'dave'.*within 30 days" "$T/vt.err" ||
  fail "no expiry warning for dave on verify-transcript"
pass "transcript: 5 signed entries verify; expiry within 30 days warned"
hb --json ceremony verify-transcript > "$T/vt.json"
jq -e '.ok and .result.verified and (.result.entries | length) == 5
       and (.result.entries[0].prev == .result.anchor_sha256)
       and (.result.head == .result.entries[4].hash)
       and (.warnings | map(test("dave")) | any)' "$T/vt.json" >/dev/null ||
  fail "verify-transcript --json: $(cat "$T/vt.json")"
hb --json ceremony list | jq -e '(.result.enrollments | map(.name) | index("dave")) != null
       and (.result.enrollments[0].key_wrap == "rsa-oaep-sha1")' >/dev/null || fail "ceremony list --json"
pass "verify-transcript and list --json carry the same data as the text"

cp "$TR" "$T/transcript.good"
# The good transcript with one perl edit (which must change it) is refused
# by verify-transcript, saying $2.
tampered_refused() {
  cp "$T/transcript.good" "$TR"
  perl -0777 -pi -e "$1" "$TR"
  cmp -s "$TR" "$T/transcript.good" && fail "tamper '$1' did not apply"
  expect_fail 5 "$2" hb ceremony verify-transcript
}
tampered_refused 's{<who>bob, Bob Deputy</who>}{<who>mallory</who>}' \
  "transcript entry 2 (seq 2, 'enroll'"
# Nothing is appended to a transcript that does not verify.
expect_fail 5 "nothing is appended to a transcript that does not verify" hb ceremony retire dave
# A forged hash over altered content: the signature (and the chain) give it away.
tampered_refused 's{(<entry seq="3".*?<hash>)[0-9a-f]{64}}{${1}aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}s' \
  "transcript entry 3 (seq 3, 'enroll'"
tampered_refused 's{\n  <entry seq="2".*?</entry>}{}s' \
  "transcript entry 2 in file order has sequence number 3"
tampered_refused 's{(\n  <entry seq="2".*?</entry>)(\n  <entry seq="3".*?</entry>)}{$2$1}s' \
  "transcript entry 2 in file order has sequence number 3"
tampered_refused 's{\n  <entry seq="1".*?</entry>}{}s' "(the start of the log is missing)"
# Renumbering after a deletion changes the signed bytes of every later entry.
tampered_refused 's{\n  <entry seq="2".*?</entry>}{}s; s{<entry seq="3"}{<entry seq="2"}; s{<entry seq="4"}{<entry seq="3"}; s{<entry seq="5"}{<entry seq="4"}' \
  "transcript entry 2 (seq 2, 'enroll'"
cp "$T/transcript.good" "$TR"
hb ceremony verify-transcript >/dev/null 2>&1 || fail "the good transcript no longer verifies"
pass "transcript tampering (alter, forge hash, delete, reorder, cut the head, renumber) is detected"

# ---- recipient sets --------------------------------------------------------
hb secure-backup temporary:///all > "$T/b.out" 2> "$T/b.err"
[ "$(manifest all | grep -c '<recipient id=')" -eq 4 ] || fail "default backup is not to the 4 enrolled recipients"
grep -q "warning: the certificate of enrolled recipient 'dave'" "$T/b.err" || fail "no expiry warning on backup"
for who in alice bob carol dave; do
  hb secure-restore "$who" temporary:///all --validate >/dev/null
done
pass "no recipient argument: all 4 enrolled recipients; each opens the backup alone"

hb secure-backup "bob,${dave_fp:0:12}" temporary:///two >/dev/null 2>&1
[ "$(manifest two | grep -c '<recipient id=')" -eq 2 ] || fail "named recipients not exactly those"
manifest two | grep -q "$dave_fp" || fail "dave (by fingerprint prefix) missing"
expect_fail 6 "is not a recipient of this backup" hb secure-restore alice temporary:///two --validate
pass "named recipients (enrollment name, fingerprint prefix): exactly those"

# ---- retire ----------------------------------------------------------------
hb ceremony retire "$dave_fp" --custodian dave >/dev/null
hb secure-backup temporary:///after-retire >/dev/null 2>&1
[ "$(manifest after-retire | grep -c '<recipient id=')" -eq 3 ] || fail "retired recipient still in new backups"
manifest after-retire | grep -q "$dave_fp" && fail "dave's certificate is in a new backup"
expect_fail 6 "was retired on" hb secure-backup dave temporary:///nope
expect_fail 6 "was retired on" hb secure-backup alice,dave temporary:///nope2
hb secure-restore dave temporary:///all --validate >/dev/null
pass "retired recipient: absent from new backups, refused by name, still opens old backups"

# ---- quorum 2 of 3 ---------------------------------------------------------
expect_fail 2 "2 <= --threshold" hb ceremony quorum solo --threshold 1 alice bob
expect_fail 6 "is retired, not active" hb ceremony quorum bad --threshold 2 alice dave
hb ceremony quorum vault --threshold 2 alice bob carol --custodian alice --custodian bob >/dev/null
hb secure-backup vault temporary:///q >/dev/null
manifest q | grep -q '<quorum id="q1" name="vault" threshold="2" secret-sharing="shamir-gf256" key-wrap="aes-256-wrap-pad">' ||
  fail "no quorum recipient in the manifest"
[ "$(manifest q | grep -c '<wrapped-share>')" -eq 3 ] || fail "not 3 wrapped shares"
manifest q | grep -q '<recipient id=' && fail "a quorum-only backup lists a single recipient"
manifest q | grep -q 'wrapped-key recipient="r' && fail "a quorum-only backup has a key for a single recipient"
[ "$(manifest q | grep -c 'wrapped-key recipient="q1"')" -ge 6 ] || fail "files lack the quorum-wrapped key"
xmllint --noout --schema "$HSMBAK_SRC/data/schema/manifest.xsd" "$R/temporary/q/backupmanifest.xml" 2>/dev/null ||
  fail "quorum manifest does not match the schema"
pass "quorum backup: <quorum> with 3 wrapped shares, RFC 5649 keys, nothing for a single member"

hb secure-restore --idcred alice --idcred bob temporary:///q --validate >/dev/null
hb secure-restore --idcred bob --idcred carol temporary:///q --validate >/dev/null
hb secure-restore --idcred carol --idcred alice temporary:///q --validate >/dev/null
pass "2-of-3 quorum backup opens with each pair of members (on different tokens)"
for who in alice bob carol; do
  expect_fail 6 "needs 2 of its 3 member shares to open this backup, but only 1 is present ($who); 1 more needed" \
    hb secure-restore --idcred "$who" temporary:///q --validate
done
expect_fail 6 "only 1 is present (alice)" hb secure-restore alice temporary:///q --validate
out=$(hb secure-restore --idcred alice --idcred alice temporary:///q --validate 2>&1 >/dev/null || true)
case "$out" in *"only 1 is present"*) ;; *) fail "the same member twice counted twice: $out";; esac
bob_fp=$(manifest q | grep -A3 'x="2"' | sed -n 's/.*<fingerprint algorithm="sha256">\(.*\)<\/fingerprint>.*/\1/p')
out=$(hb secure-restore --idcred alice temporary:///q --validate 2>&1 >/dev/null || true)
case "$out" in *"$bob_fp"*) ;; *) fail "the error does not name the fingerprints that could help: $out";; esac
pass "one member alone: refused, saying present 1, needed 2, and which fingerprints could help"

# A member whose token is absent (no terminal to ask for it): a clear error.
cp "$R/config/crypto.xml" "$T/crypto.good"
sed -i "s|pkcs11:token=$t3;object=carol;type=private|pkcs11:token=absent-token;object=carol;type=private|" "$R/config/crypto.xml"
expect_fail 3 "the token of idcred 'carol' is needed for its quorum share" \
  hb secure-restore --idcred alice --idcred carol temporary:///q --validate </dev/null
cp "$T/crypto.good" "$R/config/crypto.xml"
pass "a member's token missing without a terminal: says which idcred's token is needed"

# Default set: the group, not its members one by one.
hb secure-backup temporary:///default-q >/dev/null 2>&1
manifest default-q | grep -q '<quorum id="q1" name="vault"' || fail "default backup lacks the active group"
manifest default-q | grep -q '<recipient id=' && fail "default backup lets a group member open it alone"
pass "no recipient argument with a quorum group: the group, not its members alone"

hb ceremony verify-transcript > "$T/vt2.out" 2>/dev/null
grep -q "The transcript verifies: 7 entries" "$T/vt2.out" || { cat "$T/vt2.out"; fail "transcript after retire/quorum"; }
pass "retire and quorum are in the verified transcript"

# ---- a real restore with two members ---------------------------------------
before=$(tree_digest "$R/config")
mkdir "$T/certs" && cp "$R/cert/bob-sscert.pem" "$R/cert/carol-sscert.pem" "$R/cert/signer-sscert.pem" "$T/certs/"
cp -a "$R/temporary/q" "$T/q"
hb factory-reset --yes >/dev/null
cp "$T/certs/"*.pem "$R/cert/"
cp -a "$T/q" "$R/temporary/q"
fixture_trust signer
fixture_define bob bob bob "$t2"
fixture_define carol carol carol "$t3"
# Backups made after q are newer: restoring q is a rollback, consented to.
hb secure-restore --idcred bob --idcred carol temporary:///q --allow-rollback >/dev/null 2>&1
[ "$(tree_digest "$R/config")" = "$before" ] || fail "restored config differs"
hb ceremony verify-transcript >/dev/null 2>&1 || fail "restored transcript does not verify"
pass "restore with bob + carol brings the system (and its custody records) back"

# ---- retiring a group never weakens (issue 15) -----------------------------
hb ceremony retire vault --custodian alice > "$T/retire-vault.out"
grep -q "the members of 'vault' (alice, bob, carol) stay out of the default set" "$T/retire-vault.out" ||
  fail "retiring a group does not say what happens to its members: $(cat "$T/retire-vault.out")"
expect_fail 2 "members of a quorum group, also a retired one, are default recipients only through an active group" \
  hb secure-backup temporary:///after-vault
[ ! -e "$R/temporary/after-vault" ] || fail "a refused default backup left a directory"
hb ceremony verify-transcript > "$T/vt3.out" 2>/dev/null || fail "transcript after retiring the group"
grep -q "its members stay out of the default set" "$TR" || fail "the transcript does not record the change of the default set"
hb secure-backup alice temporary:///alice-named >/dev/null 2>&1 || fail "a named member is refused"
[ "$(manifest alice-named | grep -c '<recipient id=')" -eq 1 ] || fail "the named backup is not to alice alone"
pass "retired 2-of-3 group: no member alone opens the next default backup; the change is printed and in the transcript; naming one still works"
finish
