# Issue 13: what hsmbak says is true. "scheduled" only once the
# preconditions have passed; "The system will be restarted." only when the
# profile says its post-restore command restarts the system; each next step
# once; sizes in one unit style in the summary, the progress line and dir;
# the same file count in progress and summary; a validate names the backup
# (id, created, signer, recipients) without -v.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"
make_system
SIZE='[0-9]+(\.[0-9])? (B|KiB|MiB|GiB|TiB)'

# A backup that cannot start says why, and never that it was scheduled.
must_refuse 3 "nosuchcert" hb secure-backup nosuchcert "$T/never"
hb secure-backup nosuchcert "$T/never" > "$T/never.out" 2>/dev/null || true
! grep -q scheduled "$T/never.out" || fail "a refused backup was 'scheduled': $(cat "$T/never.out")"
hb secure-backup rcpt "$T/b1" > "$T/b1.out"
grep -q "^Secure backup to '$T/b1' scheduled" "$T/b1.out" || fail "no scheduled line: $(cat "$T/b1.out")"
pass "secure-backup: 'scheduled' only when it starts"

# The summary and dir: one unit style, the archives counted once.
n=$(ls "$T/b1" | grep -vc backupmanifest.xml)
grep -qE "^ total       $n files, $SIZE \($SIZE before compression\)$" "$T/b1.out" || fail "summary total: $(cat "$T/b1.out")"
[ "$(grep -cE "^ file        [a-z-]+\.tzst +zstd +$SIZE$" "$T/b1.out")" -eq "$n" ] || fail "summary files: $(cat "$T/b1.out")"
hb dir "$T/b1" > "$T/dir.out"
[ "$(grep -cE "^   [a-z.-]+ +[A-Z][a-z]{2} .* $SIZE$" "$T/dir.out")" -eq "$((n + 1))" ] || fail "dir sizes: $(cat "$T/dir.out")"
grep -qE "^   $SIZE available to $T/b1$" "$T/dir.out" || fail "dir free space: $(cat "$T/dir.out")"
! grep -qE '[0-9] (bytes|MB)\b' "$T/b1.out" "$T/dir.out" || fail "another unit style: $(cat "$T/b1.out" "$T/dir.out")"
pass "summary and dir: sizes as $SIZE, $n archives"

# The progress line counts the same archives and uses the same units.
script -qfec "$(printf '%q ' "$HSMBAK_BIN" --pin-source "file:$PIN_FILE" secure-backup rcpt "$T/b2")" \
  "$T/b2.tty" < /dev/null > /dev/null || fail "backup in a pty"
grep -aqE "secure-backup  $SIZE / $SIZE +[0-9]+%  $n/$n files  $SIZE/s" "$T/b2.tty" || fail "progress: $(cat -v "$T/b2.tty")"
! grep -aqE "[0-9]+/$((n + 1)) files" "$T/b2.tty" || fail "progress counted another number of files"
grep -aqE "^ total       $n files" "$T/b2.tty" || fail "summary in the pty"
pass "progress and summary count the same $n files, in the same units"

# validate: scheduled after the checks that need no archive, and it names
# the backup without -v.
id=$(sed -n 's/^ backup id   //p' "$T/b1.out")
fp=$(openssl x509 -in "$HSMBAK_ROOT/cert/signer-sscert.pem" -outform DER | sha256sum | cut -d' ' -f1)
hb secure-restore rcptcred "$T/b1" --validate > "$T/v.out"
for want in "The secure-restore validation is complete" " backup id   $id" " created     " \
            " signer      CN=Signer (SHA-256 $fp)" " recipient   CN=Recipient rcpt (rsa-oaep-sha1"; do
  grep -qF -- "$want" "$T/v.out" || fail "validate does not say '$want': $(cat "$T/v.out")"
done
[ "$(grep -n scheduled "$T/v.out" | cut -d: -f1)" = 1 ] || fail "scheduled line: $(cat "$T/v.out")"
hb crypto trusted-signer signer --remove >/dev/null
hb secure-restore rcptcred "$T/b1" --validate > "$T/untrusted.out" 2>/dev/null && fail "validate of an untrusted backup passed"
! grep -q scheduled "$T/untrusted.out" || fail "a refused validate was 'scheduled'"
hb crypto trusted-signer signer >/dev/null
pass "validate names the backup (id, created, signer, recipients); 'scheduled' only when the checks passed"

# Restore on the appliance profile (its post-restore command is `true`):
# no restart is announced, and each next step is said once.
# b2, the newest backup this system made (b1 would be a rollback).
cp -a "$T/b2" "$T/b2.copy"
save_certs
hb factory-reset --yes >/dev/null
redefine_objects
hb secure-restore rcptcred "$T/b2.copy" > "$T/r.out"
grep -q "^Secure restore is complete\.$" "$T/r.out" || fail "restore: $(cat "$T/r.out")"
! grep -q "restarted" "$T/r.out" || fail "a restart was announced: $(cat "$T/r.out")"
awk '/^What to do next:/{on=1; next} on' "$T/r.out" > "$T/steps"
[ -s "$T/steps" ] || fail "no next steps"
[ -z "$(sort "$T/steps" | uniq -d)" ] || fail "a next step twice: $(cat "$T/steps")"
[ "$(grep -ci "admin password" "$T/steps")" -eq 1 ] || fail "the admin password step: $(cat "$T/steps")"
[ "$(grep -ci "ipmi" "$T/steps")" -eq 1 ] || fail "the IPMI step: $(cat "$T/steps")"
hb --json crypto show >/dev/null
pass "restore: no restart announced for a command that restarts nothing; each next step once"

# A profile whose post-restore command restarts the system says so.
R2=$T/host2
cat > "$T/restart.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<profile xmlns="urn:hsmbak:profile:1" format="1" name="restarting">
  <version-file match="exact">VERSION</version-file>
  <resources><resource path="etc"/></resources>
  <post-restore-command restarts="true">touch ../restarted</post-restore-command>
  <next-steps><step>Check the services</step></next-steps>
</profile>
XML
export HSMBAK_ROOT=$R2
hb system init --profile "$T/restart.xml" --version 1.0.0.0 >/dev/null
mkdir -p "$R2/etc" && echo one > "$R2/etc/app.conf"
fixture_signer s2 s2cred "Signer 2"
fixture_backup_signer s2cred s2
add_recipient r2
hb secure-backup r2 "$T/rb" >/dev/null
hb secure-restore r2cred "$T/rb" > "$T/rr.out"
grep -q "^Secure restore is complete\. The system will be restarted\.$" "$T/rr.out" || fail "restart not announced: $(cat "$T/rr.out")"
[ -e "$T/restarted" ] || fail "the post-restore command did not run"
hb --json secure-restore r2cred "$T/rb" | jq -e '.result.restarts == true and .result.post_restore_status == 0' >/dev/null || fail "json restarts"
pass "a profile with restarts=\"true\": 'The system will be restarted.' after its command ran"
finish
