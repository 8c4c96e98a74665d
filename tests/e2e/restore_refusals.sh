# Issue 4: every refusal of secure-backup and secure-restore, with its exact
# message and exit status, and a system root that is byte-identical afterwards.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"

make_system
hb secure-backup rcpt "$T/b1" > "$T/backup.out"
grep -q "Secure backup is complete." "$T/backup.out" || fail "backup"
[ -f "$T/b1/backupmanifest.xml" ] || fail "no manifest"
[ "$(stat -c %a "$T/b1")" = 700 ] || fail "backup directory is not 0700"
for f in "$T"/b1/*; do [ "$(stat -c %a "$f")" = 600 ] || fail "$f is not 0600"; done
ls "$T/b1" | grep -q '^sharedcert' && fail "empty sharedcert was backed up"
pass "backup: directory 0700, files 0600, empty sharedcert left out"

before=$(tree_digest "$HSMBAK_ROOT")
hb secure-restore rcptcred "$T/b1" --validate | grep -q "validation is complete" || fail "validate"
[ "$(tree_digest "$HSMBAK_ROOT")" = "$before" ] || fail "validate changed the system"
pass "validate on an intact backup succeeds and writes nothing"
expect_fail 6 "past the cap of 1024 bytes" hb secure-restore rcptcred "$T/b1" --validate --max-size 1K
expect_fail 2 "must be a size" hb secure-restore rcptcred "$T/b1" --validate --max-size 12Q

# tampered copy of the backup: tcopy NAME
tcopy() { rm -rf "$T/$1"; cp -a "$T/b1" "$T/$1"; echo "$T/$1"; }
unchanged() { [ "$(tree_digest "$HSMBAK_ROOT")" = "$before" ] || fail "system changed after: $*"; }

# Refused by validate (and, below, by restore) -------------------------------
b=$(tcopy missing); rm "$b/config.tzst"
expect_fail 5 "backup file 'config.tzst' is missing" hb secure-restore rcptcred "$b" --validate; unchanged missing

b=$(tcopy extra); printf x >> "$b/cert.tzst"
expect_fail 5 "'cert.tzst' is" hb secure-restore rcptcred "$b" --validate; unchanged extra

b=$(tcopy flip); size=$(stat -c %s "$b/root.tzst")
flip_byte "$b/root.tzst" $((size / 2))
expect_fail 5 "does not match its SHA-256 checksum" hb secure-restore rcptcred "$b" --validate; unchanged flip

b=$(tcopy added); cp "$b/root.tzst" "$b/root-copy.tzst"
expect_fail 5 "'root-copy.tzst' in the backup directory is not listed" hb secure-restore rcptcred "$b" --validate; unchanged added

b=$(tcopy edited); sed -i 's|<size>\([0-9]*\)</size>|<size>1\1</size>|' "$b/backupmanifest.xml"
expect_fail 5 "digest mismatch" hb secure-restore rcptcred "$b" --validate; unchanged edited

b=$(tcopy dtd); sed -i '1a <!DOCTYPE backupmanifest [<!ENTITY x "y">]>' "$b/backupmanifest.xml"
expect_fail 5 "DTD" hb secure-restore rcptcred "$b" --validate; unchanged dtd

b=$(tcopy unsigned); sed -i '/<Signature/,$d' "$b/backupmanifest.xml"; echo '</backupmanifest>' >> "$b/backupmanifest.xml"
expect_fail 5 "not signed" hb secure-restore rcptcred "$b" --validate; unchanged unsigned

b=$(tcopy nomanifest); rm "$b/backupmanifest.xml"
expect_fail 3 "holds no backupmanifest.xml" hb secure-restore rcptcred "$b" --validate; unchanged nomanifest

# Wrong idcred: a valid key and certificate that are not a recipient.
add_recipient other
before=$(tree_digest "$HSMBAK_ROOT")
expect_fail 6 "is not a recipient of this backup" hb secure-restore othercred "$T/b1" --validate; unchanged other

# Untrusted signer: valid signature, but nobody said to trust it.
hb crypto trusted-signer signer --remove >/dev/null
before=$(tree_digest "$HSMBAK_ROOT")
expect_fail 6 "which this system does not trust" hb secure-restore rcptcred "$T/b1" --validate; unchanged untrusted
hb secure-restore rcptcred "$T/b1" --validate --signer signer >/dev/null || fail "--signer did not trust it"
pass "--signer trusts the named certificate for one run"
hb crypto trusted-signer signer >/dev/null

# Version mismatch.
cp "$HSMBAK_ROOT/VERSION" "$T/VERSION.saved"; echo 9.3.5.1 > "$HSMBAK_ROOT/VERSION"
before=$(tree_digest "$HSMBAK_ROOT")
expect_fail 6 "made on version 9.3.5.0 and this system runs 9.3.5.1" hb secure-restore rcptcred "$T/b1" --validate; unchanged version
cp "$T/VERSION.saved" "$HSMBAK_ROOT/VERSION"

# Backup refusals --------------------------------------------------------------
expect_fail 2 "inside resource 'local'" hb secure-backup rcpt local:///backups/b
[ ! -e "$HSMBAK_ROOT/local/backups" ] || fail "a refused backup left a directory behind"
mkdir -p "$T/full" && touch "$T/full/x"
expect_fail 6 "is not empty" hb secure-backup rcpt "$T/full"
[ "$(ls "$T/full")" = x ] || fail "non-empty destination was touched"
mkdir -p "$T/ca" && (cd "$T/ca" && touch index.txt && echo 01 > serial &&
  printf '[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n' > ca.cnf &&
  openssl req -new -newkey rsa:2048 -nodes -keyout k.pem -subj /CN=expired -out r.csr 2>/dev/null &&
  openssl ca -batch -config ca.cnf -selfsign -keyfile k.pem -in r.csr -startdate 20200101000000Z \
    -enddate 20210101000000Z -out old.pem >/dev/null 2>&1)
cp "$T/ca/old.pem" "$HSMBAK_ROOT/cert/expired.pem"
hb crypto certificate expired cert:///expired.pem >/dev/null
expect_fail 6 "expired" hb secure-backup expired "$T/b-expired"
[ ! -e "$T/b-expired" ] || fail "a refused backup left a directory"
ls -a "$T" | grep -q "hsmbak-partial" && fail "a refused backup left a partial directory"
hb crypto certificate expired cert:///expired.pem --ignore-expiration >/dev/null
hb secure-backup expired "$T/b-expired" >/dev/null || fail "ignore-expiration"
pass "an expired recipient is refused unless ignore-expiration"
hb crypto delete certificate expired >/dev/null
rm "$HSMBAK_ROOT/cert/expired.pem"

hb crypto backup-signer signercred >/dev/null
cp "$HSMBAK_ROOT/config/crypto.xml" "$T/crypto.saved"
hb crypto delete idcred signercred >/dev/null
expect_fail 6 "no backup signer is set" hb secure-backup rcpt "$T/b-nosigner"
cp "$T/crypto.saved" "$HSMBAK_ROOT/config/crypto.xml"

# Restore refusals --------------------------------------------------------------
before=$(tree_digest "$HSMBAK_ROOT")
expect_fail 6 "not in factory state" hb secure-restore rcptcred "$T/b1"; unchanged factory

download
hb factory-reset --yes >/dev/null
prepare_restore rcpt "$TOKEN"
before=$(tree_digest "$HSMBAK_ROOT")
for c in missing extra flip added edited dtd unsigned; do
  rc=0; hb secure-restore rcptcred "$T/$c" >/dev/null 2>&1 || rc=$?
  [ "$rc" -eq 5 ] || fail "restore of tampered '$c' exited $rc"
  unchanged "restore $c"
done
pass "restore refuses every tampered copy and leaves the system unchanged"
ls "$(dirname "$HSMBAK_ROOT")" | grep -q "hsmbak-staging" && fail "a refused restore left a staging tree"

# b-expired, made after b1, is the newest backup this system made: b1 is a
# rollback, restored here with consent (worst_day_rollback.sh tests the refusal).
hb secure-restore rcptcred "$T/b1" --allow-rollback > "$T/restore.out" 2> "$T/restore.err" ||
  fail "restore: $(cat "$T/restore.out" "$T/restore.err")"
grep -q "is older than backup" "$T/restore.err" || fail "no rollback warning: $(cat "$T/restore.err")"
grep -q "Secure restore is complete" "$T/restore.out" || fail "restore output"
grep -q "change it now" "$T/restore.out" || fail "next steps"
[ "$(cat "$HSMBAK_ROOT/config/mqa.cfg")" = "hostname qa" ] || fail "config not restored"
[ "$(readlink "$HSMBAK_ROOT/local/run")" = bin/run ] || fail "symlink not restored"
[ "$(stat -c %i "$HSMBAK_ROOT/local/run.hard")" = "$(stat -c %i "$HSMBAK_ROOT/local/bin/run")" ] || fail "hard link not restored"
[ "$(stat -c %a "$HSMBAK_ROOT/local/bin/run")" = 755 ] || fail "mode not restored"
grep -q hsmbakfactory "$HSMBAK_ROOT/root/users/admin" || fail "admin password not reset"
pass "restore after factory reset: content, links, modes; admin reset"
finish
