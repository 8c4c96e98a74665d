# The ceremony transcript's head is pinned (issue 15 item 4, docs/custody.md
# "Transcript", docs/FORMAT.md §10): every manifest carries a signed
# <transcript> pin, the system keeps the newest in .hsmbak/transcript-pin,
# and a deleted, truncated or rolled-back transcript is refused by the next
# ceremony, by verify-transcript and by secure-backup, naming the backup
# that pinned the later head; --new-transcript starts a log that says so.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"
R=$HSMBAK_ROOT
TR=$R/config/custody-transcript.xml
PIN=$R/.hsmbak/transcript-pin
mf() { echo "$R/temporary/$1/backupmanifest.xml"; }
pin_of() { sed -n "s|.*<$2>\(.*\)</$2>.*|\1|p" "$(mf "$1")" | head -n 1; }
entry_hash() { # entry_hash FILE SEQ
  perl -0777 -ne 'print $1 if m{<entry seq="'"$2"'"[^>]*>.*?<hash>([0-9a-f]{64})</hash>}s' "$1"
}

hb system init --profile appliance --version 9.3.5.0 >/dev/null
echo 'pin test' > "$R/config/pin-test.cfg"
fixture_signer signer signer "Backup Signer" "$TOKEN"
fixture_backup_signer signer signer

# ---- the first ceremony ever starts a log, as before; every append pins ----
[ ! -e "$PIN" ] || fail "a new system has a transcript pin"
hb ceremony enroll --token "pkcs11:token=$TOKEN" --custodian alice --name alice >/dev/null
cp "$TR" "$T/transcript.1"
cp "$R/config/custody.xml" "$T/custody.1"
h1=$(entry_hash "$TR" 1)
grep -qx "pin 1 $h1 ceremony [0-9T:Z-]*" "$PIN" || fail "the ceremony did not pin its head: $(cat "$PIN")"
hb ceremony enroll --token "pkcs11:token=$TOKEN" --custodian bob --name bob >/dev/null
h2=$(entry_hash "$TR" 2)
pass "the first ceremony starts a log; each append pins the new head in .hsmbak/transcript-pin"

# ---- a backup signs the pin into its manifest, and pins it here -----------
hb secure-backup alice temporary:///b1 >/dev/null 2>&1
b1=$(pin_of b1 id); c1=$(pin_of b1 created)
[ "$(pin_of b1 seq)" = 2 ] && [ "$(pin_of b1 head)" = "$h2" ] ||
  fail "the manifest does not pin entry 2: $(grep -A3 '<transcript>' "$(mf b1)")"
xmllint --noout --schema "$HSMBAK_SRC/data/schema/manifest.xsd" "$(mf b1)" 2>/dev/null ||
  fail "a pinned manifest does not match the schema"
grep -qx "pin 2 $h2 backup $b1 $c1 made" "$PIN" || fail "the backup did not pin its head: $(cat "$PIN")"
hb inspect temporary:///b1 > "$T/inspect.out"
grep -qE "^ *transcript +entry 2, head $h2\$" "$T/inspect.out" || fail "inspect does not show the pin: $(cat "$T/inspect.out")"
hb --json inspect temporary:///b1 | jq -e --arg h "$h2" '.result.transcript == {"seq": 2, "head": $h}' >/dev/null ||
  fail "inspect --json does not carry the pin"
hb secure-restore alice temporary:///b1 --validate > "$T/validate.out" 2>&1
grep -qE "transcript +entry 2, head $h2" "$T/validate.out" || fail "validate does not show the pin: $(cat "$T/validate.out")"
pass "the manifest carries <transcript><seq>2</seq><head>H2</head> (schema-valid), shown by inspect, --json and validate"

# The pin is signed: changing it breaks the signature.
cp -a "$R/temporary/b1" "$R/temporary/b1x"
sed -i "s|<seq>2</seq>|<seq>1</seq>|" "$(mf b1x)"
expect_fail 5 "manifest signature does not verify" hb inspect temporary:///b1x
cp "$(mf b1)" "$(mf b1x)"
sed -i "s|<head>$h2</head>|<head>$h1</head>|" "$(mf b1x)"
expect_fail 5 "manifest signature does not verify" hb inspect temporary:///b1x
rm -r "$R/temporary/b1x"
pass "the pin is signed: an edited <seq> or <head> is refused"

# ---- deleted, truncated, rolled back: every ceremony and verify refuse ----
cp "$TR" "$T/transcript.good"
tail_msg="the transcript was truncated, rolled back or deleted; restore config/custody-transcript.xml from that backup"
short_msg="the ceremony transcript ends at entry 1 (head $h1), but backup $b1 (created $c1) pinned entry 2 (head $h2): $tail_msg"
# refused_everywhere DESCRIPTION MESSAGE: the next ceremony, verify-transcript
# and a backup refuse with MESSAGE; nothing in the root changed.
refused_everywhere() {
  local before; before=$(tree_digest "$R")
  expect_fail 5 "$2" hb ceremony enroll --token "pkcs11:token=$TOKEN" --custodian carol --name carol
  expect_fail 5 "$2" hb ceremony retire bob
  expect_fail 5 "$2" hb ceremony verify-transcript
  expect_fail 5 "no backup is made of a transcript that lost its pinned head: $2" \
    hb secure-backup alice temporary:///refused
  [ ! -e "$R/temporary/refused" ] || fail "a refused backup left a directory"
  [ "$(tree_digest "$R")" = "$before" ] || fail "$1: a refusal changed the root"
  hb token list --token "pkcs11:token=$TOKEN" --login | grep -q "carol" && fail "$1: a key was made"
  pass "$1: ceremony, verify-transcript and backup refuse naming backup $b1; root unchanged"
}
rm "$TR"
refused_everywhere "transcript deleted" \
  "there is no ceremony transcript (config/custody-transcript.xml), but backup $b1 (created $c1) pinned entry 2 (head $h2): $tail_msg, or start a new one with a ceremony's --new-transcript (its first entry records this)"
perl -0777 -pe 's{\n  <entry seq="2"[^>]*>.*?</entry>}{}s' "$T/transcript.good" > "$TR"
cmp -s "$TR" "$T/transcript.1" || true
[ "$(grep -c '<entry ' "$TR")" -eq 1 ] || fail "the truncation did not apply"
refused_everywhere "transcript truncated by its last entry" "$short_msg"
cp "$T/transcript.1" "$TR"
refused_everywhere "transcript rolled back to an older copy" "$short_msg"

# .hsmbak lost as well: only a kept backup tells.
cp "$PIN" "$T/pin.kept"
rm "$PIN"
# The transcript alone rolled back no longer matches the custody store
# (issue 15 item 1, docs/custody.md "The store against the transcript")...
expect_fail 5 "custody store and ceremony transcript disagree: enrollment 'bob' (certificate SHA-256" \
  hb ceremony verify-transcript
# ...but transcript and store rolled back together do, without a pin.
cp "$R/config/custody.xml" "$T/custody.now"
cp "$T/custody.1" "$R/config/custody.xml"
hb ceremony verify-transcript >/dev/null 2>&1 || fail "without a pin the rolled-back transcript and store should pass"
expect_fail 5 "$short_msg" hb ceremony verify-transcript --backup temporary:///b1
rm "$TR"
expect_fail 5 "there is no ceremony transcript (config/custody-transcript.xml), but backup $b1 (created $c1) pinned entry 2 (head $h2)" \
  hb ceremony verify-transcript --backup temporary:///b1
cp "$T/transcript.1" "$TR"
cp "$T/pin.kept" "$PIN"
pass "the transcript and .hsmbak/transcript-pin both gone or rolled back: verify-transcript --backup names the kept backup"

# --new-transcript is for a missing transcript only.
expect_fail 6 "--new-transcript starts a log only where config/custody-transcript.xml is missing; this system has one (1 entry)" \
  hb ceremony enroll --token "pkcs11:token=$TOKEN" --custodian carol --name carol --new-transcript
cp "$T/transcript.good" "$TR"
cp "$T/custody.now" "$R/config/custody.xml"
hb ceremony verify-transcript >/dev/null 2>&1 || fail "the whole transcript no longer verifies"
hb ceremony verify-transcript --backup temporary:///b1 > "$T/vb.out" 2>/dev/null ||
  fail "verify-transcript --backup refuses the whole transcript"
grep -qx "It holds the head backup $b1 pinned" "$T/vb.out" || fail "verify-transcript --backup does not say so: $(cat "$T/vb.out")"
pass "the transcript put back from the backup verifies again, also --backup against it"

# A transcript that does not verify is not pinned into a backup either.
perl -0777 -pi -e 's{<who>bob</who>}{<who>mallory</who>}' "$TR"
expect_fail 5 "the ceremony transcript (a backup pins its head): transcript entry 2 (seq 2, 'enroll'" \
  hb secure-backup alice temporary:///refused
[ ! -e "$R/temporary/refused" ] || fail "a refused backup left a directory"
cp "$T/transcript.good" "$TR"
pass "secure-backup refuses a transcript whose chain or signatures do not verify"

# ---- --new-transcript: a new log whose first entry says so ----------------
rm "$TR"
hb ceremony enroll --token "pkcs11:token=$TOKEN" --custodian carol --name carol --new-transcript >/dev/null
hb --json ceremony verify-transcript > "$T/new.json" 2>/dev/null
jq -e --arg d "new transcript; previous head seq 2 $h2 pinned by backup $b1 (created $c1); enrolled 'carol'" \
  '(.result.entries | length) == 1 and (.result.entries[0].detail | startswith($d))' "$T/new.json" >/dev/null ||
  fail "the new log's first entry does not record the new start: $(cat "$T/new.json")"
n1=$(entry_hash "$TR" 1)
grep -qx "pin 1 $n1 ceremony [0-9T:Z-]*" "$PIN" || fail "the new log's head is not pinned"
pass "--new-transcript starts a log whose signed first entry names the previous pinned head and backup"

hb secure-backup alice temporary:///b2 >/dev/null 2>&1
[ "$(pin_of b2 seq)" = 1 ] && [ "$(pin_of b2 head)" = "$n1" ] || fail "b2 does not pin the new log"
cp "$TR" "$T/transcript.new"

# ---- factory reset and restore: the restored transcript is the pinned one -
mkdir "$T/certs" "$T/keep" && cp "$R/cert/"*.pem "$T/certs/"
cp -a "$R/temporary/b1" "$R/temporary/b2" "$T/keep/"
# factory_state: a factory-reset root with the backups, certificates, the
# trusted signer and alice's idcred put back (what an operator does first).
factory_state() {
  hb factory-reset --yes >/dev/null
  cp "$T/certs/"*.pem "$R/cert/"
  cp -a "$T/keep/b1" "$T/keep/b2" "$R/temporary/"
  fixture_trust signer
  fixture_define alice alice alice "$TOKEN"
}
factory_state
[ -e "$PIN" ] || fail "factory reset lost the transcript pin"
hb secure-restore alice temporary:///b2 >/dev/null 2>&1
cmp -s "$TR" "$T/transcript.new" || fail "the restore did not bring the transcript back"
b2=$(pin_of b2 id); c2=$(pin_of b2 created)
grep -qx "pin 1 $n1 backup $b2 $c2 restored" "$PIN" || fail "the restore did not pin b2's head: $(cat "$PIN")"
hb ceremony verify-transcript >/dev/null 2>&1 || fail "the restored transcript does not verify"
hb ceremony retire bob >/dev/null || fail "a ceremony after the restore is refused"
pass "restore on a factory-reset system: transcript restored, its pin taken, later ceremonies work"

# A rollback restore takes the older backup's pin (the old log of 2 entries).
factory_state
hb secure-restore alice temporary:///b1 --allow-rollback >/dev/null 2>&1
cmp -s "$TR" "$T/transcript.good" || fail "the rollback restore did not bring b1's transcript"
grep -qx "pin 2 $h2 backup $b1 $c1 restored" "$PIN" || fail "the rollback restore did not pin b1's head: $(cat "$PIN")"
hb ceremony retire bob >/dev/null || fail "a ceremony after the rollback restore is refused"
pass "a rollback restore (--allow-rollback) pins the restored backup's head; ceremonies continue its log"

# A pin file hsmbak did not write is refused, not read as "no pin".
cp "$PIN" "$T/pin.good"
echo "garbage" > "$PIN"
expect_fail 5 "is not a transcript pin hsmbak wrote" hb ceremony verify-transcript
sed '2s/$/ extra/' "$T/pin.good" > "$PIN"
expect_fail 5 "is not a transcript pin hsmbak wrote" hb ceremony verify-transcript
rm "$PIN" && mkfifo "$PIN"
expect_fail 5 "is not a regular file, so it is not a transcript pin hsmbak wrote" \
  timeout 20 "$HSMBAK_BIN" --pin-source "file:$PIN_FILE" ceremony verify-transcript
rm "$PIN" && ln -s "$T/pin.good" "$PIN"
expect_fail 6 "is a symbolic link" hb ceremony verify-transcript
rm "$PIN" && cp "$T/pin.good" "$PIN"
hb ceremony verify-transcript >/dev/null 2>&1 || fail "the pin put back is refused"
pass "a pin file hsmbak did not write (garbage, a trailing word, a FIFO, a link) is refused, never read as no pin"
finish
