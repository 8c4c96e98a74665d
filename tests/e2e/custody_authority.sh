# Issue 15 item 1: the signed ceremony transcript, not the unsigned custody
# store, decides who receives a backup. Every hand edit of
# config/custody.xml (a pasted enrollment with a software key, a lowered
# threshold, an added member, a changed key-wrap or state, a swapped
# certificate, a deleted store or transcript) is refused by secure-backup
# with a message naming the disagreement, before anything is written; and a
# transcript written by an older hsmbak (v1 head) needs 'ceremony attest'.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"
read -r t1 t2 t3 <<<"$HSMBAK_TEST_TOKENS"
[ -n "$t3" ] || fail "needs three tokens (HSMBAK_TEST_TOKEN_COUNT >= 3)"
R=$HSMBAK_ROOT
CS=$R/config/custody.xml
TR=$R/config/custody-transcript.xml
ADVICE="the store was changed outside a ceremony; restore config/custody.xml from a backup, or record the change in a ceremony ('hsmbak ceremony attest' records the store as it is); nothing was written"

hb system init --profile appliance --version 9.3.5.0 >/dev/null
echo 'authority test' > "$R/config/authority.cfg"
fixture_signer signer signer "Backup Signer" "$t1"
fixture_backup_signer signer signer
hb ceremony enroll --token "pkcs11:token=$t1" --custodian alice --name alice >/dev/null
hb ceremony enroll --token "pkcs11:token=$t2" --custodian bob --name bob >/dev/null
hb ceremony enroll --token "pkcs11:token=$t3" --custodian carol --name carol >/dev/null
hb ceremony quorum vault --threshold 3 alice bob carol --custodian alice >/dev/null
hb ceremony enroll --token "pkcs11:token=$t1" --custodian dave --name dave >/dev/null
fp_of() { sed -n "/name=\"$1\"/,/<\/enrollment>/s/.*<fingerprint>\(.*\)<\/fingerprint>.*/\1/p" "$CS"; }
dave_fp=$(fp_of dave)
[ ${#dave_fp} -eq 64 ] || fail "no fingerprint for dave"
cp "$CS" "$T/custody.good"
cp "$TR" "$T/transcript.good"
head_time=$(grep -o '<time>[^<]*</time>' "$TR" | tail -1 | sed 's/<[^>]*>//g')
HEAD="(entry 5, enroll, $head_time)"

# ---- control: the untouched store works ---------------------------------
hb ceremony verify-transcript > "$T/vt.out"
grep -q "The transcript verifies: 5 entries" "$T/vt.out" || fail "transcript does not verify"
hb --json ceremony verify-transcript > "$T/vt.json"
json_ok "$T/vt.json" '[.result.entries[].version] | all(. == 2)' "every ceremony writes v2 entries"
json_ok "$T/vt.json" '[.result.entries[] | select(.what == "enroll") | .proof_of_possession] | length == 4 and all' \
  "every enroll entry carries the new key's proof of possession"
json_ok "$T/vt.json" '[.result.entries[] | select(.what != "enroll") | .proof_of_possession] | any | not' \
  "only enroll entries carry a proof of possession"
[ "$(grep -c '<pop>' "$TR")" -eq 4 ] || fail "not four <pop> elements"
hb token list --token "pkcs11:token=$t2" --login | grep -A2 "private-key  *bob" | grep -q "sign no" ||
  fail "bob's key can still sign after it signed its enroll entry"
grep -q '<state>' "$TR" || fail "no custody snapshot in the transcript"
xmllint --noout --schema "$HSMBAK_SRC/data/schema/transcript.xsd" "$TR" 2>/dev/null ||
  fail "the v2 transcript does not match its schema"
hb secure-backup temporary:///control >/dev/null 2>&1
grep -q '<quorum id="q1" name="vault" threshold="3"' "$R/temporary/control/backupmanifest.xml" ||
  fail "the control backup lacks the vault quorum"
pass "untouched store: v2 entries with snapshots verify, the default backup goes to vault and dave"

# ---- a software RSA key, and an enrollment pasted for it ------------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/evil.key" -subj "/CN=Mallory" -days 300 \
  -outform DER -out "$T/evil.der" 2>/dev/null
evil_fp=$(sha256sum "$T/evil.der" | cut -d' ' -f1)
evil_cert=$(base64 -w0 "$T/evil.der")
evil_spki=$(openssl x509 -inform DER -in "$T/evil.der" -pubkey -noout | openssl pkey -pubin -outform DER | base64 -w0)
evil_after=$(date -u -d "+299 days" +%Y-%m-%dT%H:%M:%SZ)
paste_evil() {
  perl -0pi -e "s{(.*</enrollment>)}{\$1
  <enrollment name=\"evil\" state=\"active\">
    <subject>CN=Mallory</subject>
    <fingerprint>$evil_fp</fingerprint>
    <token label=\"x\" serial=\"0\"/>
    <key-uri>pkcs11:token=x;object=evil;type=private</key-uri>
    <key-wrap>rsa-oaep-sha1</key-wrap>
    <custodian>mallory</custodian>
    <enrolled>2026-01-01T00:00:00Z</enrolled>
    <not-after>$evil_after</not-after>
    <public-key>$evil_spki</public-key>
    <certificate>$evil_cert</certificate>
  </enrollment>}s" "$CS"
}

# refused_store WHAT MESSAGE [NAMES]: with the edited store, secure-backup
# (default set, or NAMES) refuses with exactly MESSAGE, exit 5, and leaves no
# backup; the store is then put back.
n=0
refused_store() {
  local what=$1 want=$2 names=${3:-}
  n=$((n + 1))
  local dest=temporary:///refused-$n args=()
  [ -z "$names" ] || args=("$names")
  must_refuse 5 "$want" hb secure-backup "${args[@]}" "$dest"
  [ "$msg" = "hsmbak: $want" ] || fail "$what: message '$msg', want 'hsmbak: $want'"
  [ ! -e "$R/temporary/refused-$n" ] || fail "$what: a refused backup left $R/temporary/refused-$n"
  cp "$T/custody.good" "$CS"
  cp "$T/transcript.good" "$TR"
  pass "$what: refused before anything is written ($want)"
}

paste_evil
hb ceremony list | grep -q "evil" || fail "the pasted enrollment does not load (test set-up)"
PASTED="custody store and ceremony transcript disagree: enrollment 'evil' (certificate SHA-256 $evil_fp) is in $CS but not in the transcript $HEAD: $ADVICE"
cmp -s "$TR" "$T/transcript.good" || fail "set-up changed the transcript"
# verify-transcript no longer passes with a pasted store, and no ceremony
# carries the paste into a signed snapshot.
must_refuse 5 "$PASTED" hb ceremony verify-transcript
must_refuse 5 "$PASTED" hb ceremony retire dave
cmp -s "$TR" "$T/transcript.good" || fail "a ceremony appended to the transcript over a pasted store"
grep -q 'name="dave" state="active"' "$CS" || fail "a refused retire changed the store"
pass "pasted enrollment: verify-transcript and ceremonies refuse; the transcript is unchanged"
refused_store "pasted enrollment, default set" "$PASTED"
paste_evil
refused_store "pasted enrollment, named" "$PASTED" evil

perl -0pi -e 's{<quorum name="vault" threshold="3"}{<quorum name="vault" threshold="2"}' "$CS"
refused_store "threshold lowered" \
  "custody store and ceremony transcript disagree: quorum 'vault' has threshold 2 in $CS but 3 in the transcript $HEAD: $ADVICE"

perl -0pi -e "s{(<quorum name=\"vault\".*?)(</quorum>)}{\$1<member fingerprint=\"$dave_fp\"/>\$2}s" "$CS"
refused_store "member added" \
  "custody store and ceremony transcript disagree: quorum 'vault' has 4 members in $CS but 3 in the transcript $HEAD: $ADVICE" vault

perl -0pi -e 's{(name="dave".*?)<key-wrap>rsa-oaep-sha1</key-wrap>}{$1<key-wrap>rsa-oaep-sha256</key-wrap>}s' "$CS"
refused_store "key-wrap changed" \
  "custody store and ceremony transcript disagree: enrollment 'dave' has key-wrap rsa-oaep-sha256 in $CS but rsa-oaep-sha1 in the transcript $HEAD: $ADVICE" dave

perl -0pi -e 's{<quorum name="vault" threshold="3" state="active">}{<quorum name="vault" threshold="3" state="retired">}' "$CS"
refused_store "state changed" \
  "custody store and ceremony transcript disagree: quorum 'vault' is retired in $CS but active in the transcript $HEAD: $ADVICE"

# dave's certificate and key replaced by the software one (name kept).
perl -0pi -e "s{(name=\"dave\".*?<fingerprint>)[0-9a-f]{64}(.*?<public-key>)[^<]*(</public-key><certificate>|</public-key>\\s*<certificate>)[^<]*}{\${1}$evil_fp\${2}$evil_spki\${3}$evil_cert}s" "$CS"
grep -q "$evil_fp" "$CS" || fail "certificate swap did not apply (test set-up)"
refused_store "certificate swapped" \
  "custody store and ceremony transcript disagree: enrollment 'dave' has certificate SHA-256 $evil_fp in $CS but $dave_fp in the transcript $HEAD: $ADVICE" dave

rm "$CS"
refused_store "store deleted" \
  "custody store and ceremony transcript disagree: $CS has no enrollments or quorum groups (it was deleted or emptied) but the transcript records 4 enrollment(s) and 1 quorum group(s) $HEAD: $ADVICE"

# The transcript deleted: with the head pinned (the control backup pinned
# it) the pin's message says so; with .hsmbak lost too, the store's.
rm "$TR"
must_refuse 5 "no backup is made of a transcript that lost its pinned head: there is no ceremony transcript" \
  hb secure-backup temporary:///refused-pinned
[ ! -e "$R/temporary/refused-pinned" ] || fail "a refused backup left a directory"
mv "$R/.hsmbak/transcript-pin" "$T/pin.kept"
refused_store "transcript deleted" \
  "custody store and ceremony transcript disagree: $CS holds 4 enrollment(s) and 1 quorum group(s) but there is no ceremony transcript at '$TR' (it was deleted, or the store was written outside a ceremony): restore config/custody-transcript.xml from a backup; nothing was written"

mv "$T/pin.kept" "$R/.hsmbak/transcript-pin"

# A certificate object named from crypto.xml is the operator's own choice:
# it is not checked against the transcript (docs/custody.md).
hb crypto certificate mallorycert "$T/evil.der" --key-wrap rsa-oaep-sha1 >/dev/null 2>&1 ||
  { cp "$T/evil.der" "$R/temporary/evil.der"; hb crypto certificate mallorycert temporary:///evil.der --key-wrap rsa-oaep-sha1 >/dev/null 2>&1; }
hb secure-backup mallorycert temporary:///explicit >/dev/null 2>&1 || fail "an explicitly named certificate object is refused"
pass "a certificate object named explicitly (crypto.xml) still works"

# The archive keys of every backup made here go to enrolled keys only.
for m in "$R"/temporary/*/backupmanifest.xml; do
  case "$m" in */explicit/*) continue;; esac
  grep -q "$evil_fp" "$m" && fail "$m lists the software key"
done
pass "no backup made to the default set or an enrollment wraps a key to the software certificate"

# ---- migration: a v1 head needs 'ceremony attest' --------------------------
HSMBAK_FAULT=transcript-v1 hb ceremony enroll --token "pkcs11:token=$t2" --custodian erin --name erin >/dev/null
grep -q '<entry seq="6">' "$TR" || fail "the test hook did not write a v1 entry"
v1_time=$(grep -o '<time>[^<]*</time>' "$TR" | tail -1 | sed 's/<[^>]*>//g')
LEGACY="the ceremony transcript's last entry (entry 6, enroll, $v1_time) was written by an older hsmbak and does not record the custody store, so $CS cannot be checked against it: run 'hsmbak ceremony attest' (it prints the store and records it, signed by the backup signer), after checking what it prints; nothing was written"
hb ceremony verify-transcript > "$T/vt1.out" 2> "$T/vt1.err"
grep -q "The transcript verifies: 6 entries" "$T/vt1.out" || fail "a v1 entry no longer verifies"
grep -q "ceremony attest" "$T/vt1.err" || fail "verify-transcript does not advise attest after a v1 head"
must_refuse 6 "$LEGACY" hb secure-backup temporary:///legacy
[ "$msg" = "hsmbak: $LEGACY" ] || fail "legacy head: '$msg'"
[ ! -e "$R/temporary/legacy" ] || fail "a refused backup left a directory"
must_refuse 6 "$LEGACY" hb ceremony retire erin
pass "v1 head: verify-transcript passes with advice; secure-backup and ceremonies refuse, naming attest"
hb ceremony attest --custodian alice > "$T/attest.out"
grep -q "erin" "$T/attest.out" || fail "attest does not print the store"
grep -q "recorded in the transcript" "$T/attest.out" || fail "attest does not say it recorded"
hb --json ceremony verify-transcript > "$T/vt2.json"
json_ok "$T/vt2.json" '.result.entries[-1].what == "attest" and .result.entries[-1].version == 2 and .result.entries[-1].who == "alice"' \
  "attest is the signed v2 head"
hb secure-backup temporary:///after-attest >/dev/null 2>&1 || fail "backup after attest refused"
grep -q 'name="vault"' "$R/temporary/after-attest/backupmanifest.xml" || fail "after attest: no vault"
pass "ceremony attest records the store; the next default backup works"
finish
