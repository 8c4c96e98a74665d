# Issue 14 (S3): a backup written to a real Ceph RGW on loopback through
# s3:// over TLS (a test CA), validated, inspected and restored from there;
# the objects are the local format (downloaded with s3cmd they validate as a
# local backup); a wrong secret, plain http without the option, an expired
# or unknown TLS certificate, an unknown bucket and a credentials file
# others may read are refused with their own message and write nothing; a
# backup killed mid-upload leaves no manifest, and the next one removes its
# objects and its unfinished multipart upload and succeeds.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"
. "$HSMBAK_SRC/tests/lib/rgw.sh"

make_system
# 20 MB that zstd cannot shrink: config.tzst is uploaded in several parts.
head -c 20000000 /dev/urandom > "$HSMBAK_ROOT/config/big.bin"
rgw_start
echo "# RGW up in $RGW_STARTUP s"
rgw_s3cmd mb s3://hsmbak >/dev/null || fail "cannot make the bucket"
export AWS_ENDPOINT_URL=$RGW_HTTPS AWS_CA_BUNDLE=$RGW_CA AWS_SHARED_CREDENTIALS_FILE=$RGW_CREDENTIALS
unset AWS_PROFILE AWS_REGION AWS_DEFAULT_REGION AWS_ENDPOINT_URL_S3 AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
url=s3://hsmbak/mqa-1
objects() { rgw_s3cmd ls -r "s3://hsmbak/$1" | awk '{print $3, $4}' | LC_ALL=C sort; }
uploads() { rgw_s3cmd multipart s3://hsmbak | grep -c '^[0-9]' || true; }
bucket_digest() { { objects ""; rgw_s3cmd multipart s3://hsmbak | tail -n +2; } | sha256sum; }

# ---- the walkthrough over S3 --------------------------------------------------
hb secure-backup rcpt "$T/local1" >/dev/null
hb secure-backup rcpt "$url/b1" > "$T/backup.out" 2> "$T/backup.err" ||
  fail "backup to $url/b1: $(cat "$T/backup.err")"
grep -q "Secure backup is complete." "$T/backup.out" || fail "backup said: $(cat "$T/backup.out")"
[ "$(objects mqa-1/b1/ | sed 's|.*/||' | LC_ALL=C sort)" = "$(ls "$T/local1" | LC_ALL=C sort)" ] ||
  fail "the objects $(objects mqa-1/b1/) are not the files of a local backup: $(ls "$T/local1")"
[ -z "$(objects "" | grep hsmbak-partial)" ] || fail "a marker was left: $(objects "")"
[ "$(uploads)" -eq 0 ] || fail "an unfinished multipart upload was left"
pass "backup to s3://: the objects are the local backup's file names; no marker, no unfinished upload"

mkdir "$T/copy" && rgw_s3cmd get --recursive "s3://hsmbak/mqa-1/b1/" "$T/copy/" >/dev/null
hb secure-restore rcptcred "$T/copy" --validate | grep -q "validation is complete" ||
  fail "the objects downloaded with s3cmd do not validate as a local backup"
pass "downloaded with s3cmd get, the objects validate as a local backup"

before=$(tree_digest "$HSMBAK_ROOT")
hb secure-restore rcptcred "$url/b1" --validate > "$T/validate.out" || fail "validate from s3://"
grep -q "validation is complete" "$T/validate.out" || fail "validate said: $(cat "$T/validate.out")"
[ "$(tree_digest "$HSMBAK_ROOT")" = "$before" ] || fail "validate changed the system"
pass "validate from s3:// succeeds and changes nothing"

# A tampered and a truncated archive object are caught when read through S3.
cp -a "$T/copy" "$T/flip"; size=$(stat -c %s "$T/flip/config.tzst")
flip_byte "$T/flip/config.tzst" $((size / 2))
rgw_s3cmd put --recursive "$T/flip/" s3://hsmbak/tamper/flip/ >/dev/null
expect_fail 5 "does not match its SHA-256 checksum" hb secure-restore rcptcred s3://hsmbak/tamper/flip --validate
cp -a "$T/copy" "$T/short"; truncate -s -1 "$T/short/config.tzst"
rgw_s3cmd put --recursive "$T/short/" s3://hsmbak/tamper/short/ >/dev/null
hb inspect s3://hsmbak/tamper/short > "$T/inspect-short.out" 2>&1 || true
grep -q "backup file 'config.tzst' is" "$T/inspect-short.out" || fail "inspect missed a short object: $(cat "$T/inspect-short.out")"

hb --json inspect "$url/b1" > "$T/inspect.json" || fail "inspect of s3://"
hb --json inspect "$T/copy" > "$T/inspect-local.json" || fail "inspect of the copy"
[ "$(jq -c '.result.manifest // .result | del(.source)' "$T/inspect.json")" = \
  "$(jq -c '.result.manifest // .result | del(.source)' "$T/inspect-local.json")" ] ||
  fail "inspect over s3:// differs from inspect of a local copy: $(cat "$T/inspect.json")"
pass "inspect of s3:// says what inspect of a local copy says, and sees a short object"

cp -a "$HSMBAK_ROOT" "$T/original"
download
hb factory-reset --yes >/dev/null
prepare_restore rcpt "$TOKEN"
hb secure-restore rcptcred "$url/b1" > "$T/restore.out" 2> "$T/restore.err" ||
  fail "restore from s3://: $(cat "$T/restore.err")"
grep -q "Secure restore is complete." "$T/restore.out" || fail "restore said: $(cat "$T/restore.out")"
diff -rq --no-dereference -x temporary -x .hsmbak "$T/original" "$HSMBAK_ROOT" > "$T/diff.out" || true
grep -v -e "/root/users/admin and " -e "/ipmi/ipmi.cfg and " "$T/diff.out" &&
  fail "restored system differs beyond the documented resets: $(cat "$T/diff.out")"
pass "restore from s3://: the restored system equals the original (but the documented resets)"

# The options of the same names as the variables, without the environment.
env -u AWS_ENDPOINT_URL -u AWS_CA_BUNDLE -u AWS_SHARED_CREDENTIALS_FILE "$HSMBAK_BIN" \
  --pin-source "file:$PIN_FILE" secure-restore rcptcred "$url/b1" --validate \
  --aws-endpoint-url "$RGW_HTTPS" --aws-ca-bundle "$RGW_CA" \
  --aws-shared-credentials-file "$RGW_CREDENTIALS" --aws-profile default --aws-region us-east-1 |
  grep -q "validation is complete" || fail "validate with the --aws-* options"
# Plain http works only when asked for.
hb secure-restore rcptcred "$url/b1" --validate --aws-endpoint-url "$RGW_HTTP" --allow-plain-http |
  grep -q "validation is complete" || fail "validate over http:// with --allow-plain-http"
pass "the --aws-* options stand for the variables; http:// works with --allow-plain-http"

# ---- refusals: each its own message, nothing written ---------------------------
refused() { # refused STATUS FRAGMENT ENV... -- ARGS...: backup and validate both refuse
  local want=$1 fragment=$2; shift 2
  local envs=() d0
  while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
  d0=$(bucket_digest)
  must_refuse "$want" "$fragment" env "${envs[@]}" "$HSMBAK_BIN" --pin-source "file:$PIN_FILE" \
    secure-backup rcpt "$url/refused" "$@"
  [ "$(bucket_digest)" = "$d0" ] || fail "a refused backup wrote to the bucket ($fragment)"
  must_refuse "$want" "$fragment" env "${envs[@]}" "$HSMBAK_BIN" --pin-source "file:$PIN_FILE" \
    secure-restore rcptcred "$url/b1" --validate "$@"
  case "$msg" in *"$RGW_SECRET_KEY"*|*"${RGW_SECRET_KEY%????}"*) fail "a message shows the secret: $msg";; esac
  pass "refused ($want), nothing written: $msg"
}
refused 4 "HTTP 403 SignatureDoesNotMatch" AWS_PROFILE=wrong --
refused 2 "'$RGW_HTTP' is a plain-http endpoint" AWS_ENDPOINT_URL=$RGW_HTTP --
case "$msg" in *"--allow-plain-http"*) ;; *) fail "no advice to use --allow-plain-http: $msg";; esac
refused 4 "the TLS certificate of $RGW_EXPIRED is not accepted: SSL certificate problem: certificate has expired" AWS_ENDPOINT_URL=$RGW_EXPIRED --
refused 4 "the TLS certificate of $RGW_HTTPS is not accepted: SSL certificate problem: unable to get local issuer certificate" -u AWS_CA_BUNDLE --
cp "$RGW_CREDENTIALS" "$T/open_credentials" && chmod 644 "$T/open_credentials"
refused 4 "AWS credentials file '$T/open_credentials' is accessible by group or others (mode 0644); make it private with 'chmod 600 $T/open_credentials'" AWS_SHARED_CREDENTIALS_FILE=$T/open_credentials --
refused 4 "has no profile [nobody]" AWS_PROFILE=nobody --
expect_fail 6 "cannot list 's3://nosuchbucket/' at $RGW_HTTPS: HTTP 404 NoSuchBucket" hb secure-backup rcpt s3://nosuchbucket/mqa-1/x
expect_fail 6 "NoSuchBucket; the bucket does not exist" hb secure-restore rcptcred s3://nosuchbucket/mqa-1/b1 --validate
expect_fail 6 "destination 's3://hsmbak/mqa-1/b1' is not empty" hb secure-backup rcpt "$url/b1"
expect_fail 3 "holds no backupmanifest.xml" hb secure-restore rcptcred "$url/none" --validate
expect_fail 2 "names no bucket and prefix" hb secure-backup rcpt s3://hsmbak
expect_fail 2 "names no backup in the bucket" hb secure-backup rcpt s3://hsmbak/
expect_fail 2 "empty, '.' and '..' components are not allowed" hb secure-restore rcptcred s3://hsmbak/a/../b --validate
expect_fail 2 "is not an S3 endpoint URL" env AWS_ENDPOINT_URL=https://u:p@127.0.0.1/ "$HSMBAK_BIN" --pin-source "file:$PIN_FILE" secure-backup rcpt "$url/x"
expect_fail 2 "an s3:// location is taken only by secure-backup" hb dir "$url"
expect_fail 2 "--keep is not supported for an s3:// destination" hb secure-backup rcpt "$url/b-{date}" --keep 2
closed=$(rgw_free_port)
expect_fail 7 "https://127.0.0.1:$closed is unreachable" env AWS_ENDPOINT_URL=https://127.0.0.1:$closed "$HSMBAK_BIN" --pin-source "file:$PIN_FILE" secure-backup rcpt "$url/x"

# ---- interrupted uploads -------------------------------------------------------
# Killed once a part of config.tzst is on the server: its multipart upload is
# unfinished, the objects uploaded before it are there, no manifest.
rc=0; HSMBAK_FAULT=s3-kill-upload hb secure-backup rcpt "$url/b2" --jobs 1 >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 137 ] || fail "the backup was not killed at the upload point (exit $rc)"
objects mqa-1/b2/ | grep -q backupmanifest.xml && fail "a killed backup left a manifest"
[ "$(uploads)" -ge 1 ] || fail "expected the killed backup's unfinished multipart upload"
expect_fail 3 "holds no backupmanifest.xml" hb secure-restore rcptcred "$url/b2" --validate
expect_fail 3 "holds no backupmanifest.xml" hb inspect "$url/b2"
pass "killed mid-upload: no manifest, nothing restore or inspect takes for a backup ($(uploads) unfinished upload(s))"

# Another machine's marker (another tag) on another prefix is left alone,
# and refuses a backup to its prefix.
: > "$T/empty"; rgw_s3cmd put "$T/empty" s3://hsmbak/mqa-1/.b5.hsmbak-partial-0123456789abcdef-1 >/dev/null
hb secure-backup rcpt "$url/b2" > "$T/again.out" 2>&1 || fail "the next backup to b2: $(cat "$T/again.out")"
grep -q "removed 1 partial backup(s) left by an interrupted run" "$T/again.out" || fail "stale partial not reported: $(cat "$T/again.out")"
[ "$(uploads)" -eq 0 ] || fail "a stale multipart upload is left: $(rgw_s3cmd multipart s3://hsmbak)"
[ "$(objects mqa-1/b2/ | sed 's|.*/||' | LC_ALL=C sort)" = "$(ls "$T/local1" | LC_ALL=C sort)" ] ||
  fail "b2 holds other objects than a backup: $(objects mqa-1/b2/)"
hb secure-restore rcptcred "$url/b2" --validate | grep -q "validation is complete" || fail "the next backup b2 does not validate"
objects "" | grep -q "mqa-1/.b5.hsmbak-partial-0123456789abcdef-1" || fail "another machine's marker was removed"
expect_fail 6 "another backup is being written to 's3://hsmbak/mqa-1/b5'" hb secure-backup rcpt "$url/b5"
pass "the next backup removes the killed one's objects and unfinished upload (and says so), and validates; another machine's marker stays"

# Killed after the manifest (the commit point), before the marker is removed:
# the backup is complete and valid; the next backup there refuses (not empty).
rc=0; HSMBAK_FAULT=backup-before-rename hb secure-backup rcpt "$url/b4" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 137 ] || fail "the backup was not killed at the commit point (exit $rc)"
hb secure-restore rcptcred "$url/b4" --validate | grep -q "validation is complete" ||
  fail "a backup killed after its manifest does not validate"
expect_fail 6 "destination 's3://hsmbak/mqa-1/b4' is not empty" hb secure-backup rcpt "$url/b4"
objects "" | grep -q "b4.hsmbak-partial" && fail "the dead marker of b4 was not removed"
pass "killed after the manifest: a complete backup; the next backup there refuses and removes the dead marker"
# ---- Object Lock ----------------------------------------------------------------
# A bucket with Object Lock (s3cmd cannot make one: signed with curl).
E0=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
s3curl() { curl -s --cacert "$RGW_CA" --aws-sigv4 aws:amz:us-east-1:s3 -u "$RGW_ACCESS_KEY:$RGW_SECRET_KEY" -H "x-amz-content-sha256: $E0" "$@"; }
[ "$(s3curl -o /dev/null -w '%{http_code}' -X PUT -H 'x-amz-bucket-object-lock-enabled: true' "$RGW_HTTPS/locked/")" = 200 ] ||
  fail "cannot make a bucket with Object Lock"
hb secure-backup rcpt s3://locked/mqa-1/b1 --lock compliance --retain 1 > "$T/lock.out" 2>&1 || fail "backup with --lock: $(cat "$T/lock.out")"
hb secure-restore rcptcred s3://locked/mqa-1/b1 --validate | grep -q "validation is complete" || fail "a locked backup does not validate"
until=$(date -u -d '+1 day' +%Y-%m-%d)
for f in $(ls "$T/local1"); do
  s3curl "$RGW_HTTPS/locked/mqa-1/b1/$f?retention=" > "$T/retention.xml"
  grep -q "<Mode>COMPLIANCE</Mode><RetainUntilDate>$until" "$T/retention.xml" || fail "$f is not locked until $until: $(cat "$T/retention.xml")"
done
# The same credentials cannot delete a locked version (a plain DELETE only
# hides it behind a delete marker; the version stays).
s3curl "$RGW_HTTPS/locked/?prefix=mqa-1%2Fb1%2Fbackupmanifest.xml&versions=" > "$T/versions.xml"
vid=$(sed -n 's|.*<VersionId>\([^<]*\)</VersionId>.*|\1|p' "$T/versions.xml" | head -1)
[ -n "$vid" ] || fail "no version of the manifest: $(cat "$T/versions.xml")"
code=$(s3curl -o "$T/delete.xml" -w '%{http_code}' -X DELETE "$RGW_HTTPS/locked/mqa-1/b1/backupmanifest.xml?versionId=$vid")
[ "$code" = 403 ] && grep -q AccessDenied "$T/delete.xml" || fail "a locked version was deletable ($code): $(cat "$T/delete.xml")"
code=$(s3curl -o "$T/delete.xml" -w '%{http_code}' -X DELETE -H 'x-amz-bypass-governance-retention: true' "$RGW_HTTPS/locked/mqa-1/b1/backupmanifest.xml?versionId=$vid")
[ "$code" = 403 ] || fail "a COMPLIANCE version was deletable with the governance bypass ($code)"
hb secure-restore rcptcred s3://locked/mqa-1/b1 --validate | grep -q "validation is complete" || fail "the locked backup is gone"
pass "--lock compliance --retain 1: every object locked until $until; deleting the manifest's version refused (403 AccessDenied, also with the bypass header); it still validates"
expect_fail 2 "--lock and --retain DAYS go together" hb secure-backup rcpt s3://locked/mqa-1/b2 --lock compliance
expect_fail 2 "--lock 'forever': write compliance or governance" hb secure-backup rcpt s3://locked/mqa-1/b2 --lock forever --retain 1
expect_fail 2 "--lock and --retain are for an s3:// destination" hb secure-backup rcpt "$T/local-locked" --lock governance --retain 1
[ ! -e "$T/local-locked" ] || fail "a refused --lock backup wrote locally"
finish
