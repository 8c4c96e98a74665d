# Issue 14 (SFTP): a backup written to an OpenSSH server on loopback through
# sftp://, validated, inspected and restored from there; the remote directory is the
# local format; unknown and changed host keys, an unauthorized key and an
# identity file others may read are refused with their own message and write
# nothing; a connection cut (or the client killed) mid-upload leaves nothing
# that restore takes for a backup, and the next backup succeeds.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"
. "$HSMBAK_SRC/tests/lib/sshd.sh"

make_system
sshd_start
R=$T/remote/backups            # the server's directory, seen from here
mkdir -p "$R" && chmod 700 "$T/remote" "$R"
ssh_opts=(--ssh-identity "$SSHD_IDENTITY" --ssh-known-hosts "$SSHD_KNOWN_HOSTS")
url=$SSHD_URL$R
remote_digest() { tree_digest "$T/remote"; }
host_fp=$(ssh-keygen -lf "$SSHD_DIR/host_key.pub" | cut -d' ' -f2)

# ---- the walkthrough over SFTP ----------------------------------------------
# A local backup to compare with, made first: restoring the remote one (the
# newest) is then no rollback.
hb secure-backup rcpt "$T/local1" >/dev/null
hb secure-backup rcpt "$url/b1" "${ssh_opts[@]}" > "$T/backup.out" 2> "$T/backup.err" ||
  fail "backup to $url/b1: $(cat "$T/backup.err")"
grep -q "Secure backup is complete." "$T/backup.out" || fail "backup said: $(cat "$T/backup.out")"
[ -f "$R/b1/backupmanifest.xml" ] || fail "no manifest on the server"
[ "$(stat -c %a "$R/b1")" = 700 ] || fail "remote backup directory is not 0700"
for f in "$R"/b1/*; do [ "$(stat -c %a "$f")" = 600 ] || fail "$f is not 0600"; done
[ "$(ls -a "$R" | grep -c hsmbak-partial)" -eq 0 ] || fail "a partial directory was left"
ls "$R/b1" | grep -q '\.part$' && fail "a .part file was left"
pass "backup to sftp://: complete, directory 0700, files 0600, no partial or .part left"

# The remote directory is exactly the local format: a copy validates locally,
# and a local backup has the same file names.
cp -a "$R/b1" "$T/copy"
hb secure-restore rcptcred "$T/copy" --validate | grep -q "validation is complete" ||
  fail "a copy of the remote backup does not validate as a local one"
[ "$(ls "$T/local1")" = "$(ls "$R/b1")" ] || fail "remote files $(ls "$R/b1") differ from local $(ls "$T/local1")"
pass "the remote directory is the local format (a copy validates; same files as a local backup)"

before=$(tree_digest "$HSMBAK_ROOT")
hb secure-restore rcptcred "$url/b1" --validate "${ssh_opts[@]}" > "$T/validate.out" ||
  fail "validate from sftp://"
grep -q "validation is complete" "$T/validate.out" || fail "validate said: $(cat "$T/validate.out")"
[ "$(tree_digest "$HSMBAK_ROOT")" = "$before" ] || fail "validate changed the system"
pass "validate from sftp:// succeeds and changes nothing"

# A tampered remote archive is caught when read through SFTP.
cp -a "$R/b1" "$R/flip"; size=$(stat -c %s "$R/flip/config.tzst")
flip_byte "$R/flip/config.tzst" $((size / 2))
expect_fail 5 "does not match its SHA-256 checksum" hb secure-restore rcptcred "$url/flip" --validate "${ssh_opts[@]}"
rm -rf "$R/flip"

# inspect reads the manifest from the server and checks each file's size there.
hb --json inspect "$url/b1" "${ssh_opts[@]}" > "$T/inspect.json" || fail "inspect of sftp://"
hb --json inspect "$T/copy" > "$T/inspect-local.json" || fail "inspect of the copy"
[ "$(jq -c '.result.manifest // .result | del(.source)' "$T/inspect.json")" = \
  "$(jq -c '.result.manifest // .result | del(.source)' "$T/inspect-local.json")" ] ||
  fail "inspect over sftp:// differs from inspect of a local copy: $(cat "$T/inspect.json")"
cp -a "$R/b1" "$R/short"; truncate -s -1 "$R/short/config.tzst"
hb inspect "$url/short" "${ssh_opts[@]}" > "$T/inspect-short.out" 2>&1 || true
grep -q "backup file 'config.tzst' is" "$T/inspect-short.out" || fail "inspect missed a short remote file: $(cat "$T/inspect-short.out")"
rm -rf "$R/short"
pass "inspect of sftp:// says what inspect of a local copy says, and sees a short remote file"

# Factory reset, then restore from the server; the diff is the documented resets only.
cp -a "$HSMBAK_ROOT" "$T/original"
download
hb factory-reset --yes >/dev/null
prepare_restore rcpt "$TOKEN"
hb secure-restore rcptcred "$url/b1" "${ssh_opts[@]}" > "$T/restore.out" 2> "$T/restore.err" ||
  fail "restore from sftp://: $(cat "$T/restore.err")"
grep -q "Secure restore is complete." "$T/restore.out" || fail "restore said: $(cat "$T/restore.out")"
diff -rq --no-dereference -x temporary -x .hsmbak "$T/original" "$HSMBAK_ROOT" > "$T/diff.out" || true
grep -v -e "/root/users/admin and " -e "/ipmi/ipmi.cfg and " "$T/diff.out" &&
  fail "restored system differs beyond the documented resets: $(cat "$T/diff.out")"
pass "restore from sftp://: the restored system equals the original (but the documented resets)"

# The defaults: ~/.ssh/id_ed25519 and ~/.ssh/known_hosts.
mkdir -p "$T/home/.ssh" && chmod 700 "$T/home/.ssh"
cp "$SSHD_IDENTITY" "$T/home/.ssh/id_ed25519" && cp "$SSHD_KNOWN_HOSTS" "$T/home/.ssh/known_hosts"
HOME=$T/home hb secure-restore rcptcred "$url/b1" --validate | grep -q "validation is complete" ||
  fail "validate with the default identity and known_hosts"
pass "default identity ~/.ssh/id_ed25519 and known hosts ~/.ssh/known_hosts"

# ---- refusals: each its own message, nothing written -------------------------
refused() { # refused STATUS FRAGMENT ARGS...: backup and validate both refuse
  local want=$1 fragment=$2; shift 2
  local d0; d0=$(remote_digest)
  must_refuse "$want" "$fragment" hb secure-backup rcpt "$url/refused" "$@"
  [ "$(remote_digest)" = "$d0" ] || fail "a refused backup wrote on the server ($fragment)"
  must_refuse "$want" "$fragment" hb secure-restore rcptcred "$url/b1" --validate "$@"
  pass "refused ($want, '$fragment'), nothing written: $msg"
}
: > "$T/empty_known_hosts"
refused 4 "the host key of [127.0.0.1]:$SSHD_PORT (ssh-ed25519 $host_fp) is not in the known hosts file '$T/empty_known_hosts'" \
  --ssh-identity "$SSHD_IDENTITY" --ssh-known-hosts "$T/empty_known_hosts"
case "$msg" in *"ssh-keyscan -p $SSHD_PORT 127.0.0.1 >> $T/empty_known_hosts"*) ;; *) fail "no ssh-keyscan advice: $msg";; esac
refused 4 "(no such file)" --ssh-identity "$SSHD_IDENTITY" --ssh-known-hosts "$T/no_such_known_hosts"
ssh-keygen -q -t ed25519 -N '' -f "$T/other_host_key"
printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$(cut -d' ' -f1,2 "$T/other_host_key.pub")" > "$T/changed_known_hosts"
refused 4 "the host key of [127.0.0.1]:$SSHD_PORT has CHANGED: the server offers ssh-ed25519 $host_fp" \
  --ssh-identity "$SSHD_IDENTITY" --ssh-known-hosts "$T/changed_known_hosts"
ssh-keygen -q -t ed25519 -N '' -f "$T/stranger_key"
refused 4 "127.0.0.1 refused to log in as $SSHD_USER with the key in '$T/stranger_key'" \
  --ssh-identity "$T/stranger_key" --ssh-known-hosts "$SSHD_KNOWN_HOSTS"
cp "$SSHD_IDENTITY" "$T/open_key" && chmod 644 "$T/open_key"
refused 4 "SSH identity file '$T/open_key' is accessible by group or others (mode 0644); make it private with 'chmod 600 $T/open_key'" \
  --ssh-identity "$T/open_key" --ssh-known-hosts "$SSHD_KNOWN_HOSTS"
grep -q "PRIVATE KEY" <<< "$msg" && fail "the message shows key material"
# A port nobody listens on: a closed loopback port refuses at once.
closed=$((SSHD_PORT == 65535 ? SSHD_PORT - 1 : SSHD_PORT + 1))
expect_fail 7 "cannot connect to 127.0.0.1 port $closed" hb secure-backup rcpt "sftp://127.0.0.1:$closed$R/x" "${ssh_opts[@]}"
expect_fail 2 "a password in the URL is not accepted" hb secure-backup rcpt "sftp://u:secret@127.0.0.1:$SSHD_PORT$R/x" "${ssh_opts[@]}"
grep -q secret <<< "$msg" && fail "the password was echoed"
expect_fail 2 "the port must be a number from 1 to 65535" hb secure-backup rcpt "sftp://127.0.0.1:99999$R/x" "${ssh_opts[@]}"
expect_fail 2 "has no path" hb secure-backup rcpt "sftp://127.0.0.1:$SSHD_PORT" "${ssh_opts[@]}"
expect_fail 2 "names no directory on the server" hb secure-restore rcptcred "sftp://127.0.0.1:$SSHD_PORT/" "${ssh_opts[@]}"
# What does not take sftp:// yet says so instead of taking it for a path.
expect_fail 2 "an sftp:// location is taken only by secure-backup" hb dir "$url"
expect_fail 2 "--keep is not supported for an sftp:// destination" hb secure-backup rcpt "$url/b-{date}" --keep 2 "${ssh_opts[@]}"

# ---- interrupted uploads ------------------------------------------------------
partials() { ls -a "$R" | grep -c "^\.$1\.hsmbak-partial-" || true; }
# The connection cut while an archive is on its way: hsmbak stops itself
# once bytes are on the server, the server's side of the connection is
# killed, hsmbak continues and must fail.
HSMBAK_FAULT=sftp-stop-upload "$HSMBAK_BIN" --pin-source "file:$PIN_FILE" secure-backup rcpt \
  "$url/b2" "${ssh_opts[@]}" > /dev/null 2> "$T/cut.err" &
pid=$!
for i in $(seq 100); do
  case "$(ps -o stat= -p "$pid" 2>/dev/null)" in T*) break;; esac
  sleep 0.1
done
case "$(ps -o stat= -p "$pid" 2>/dev/null)" in T*) ;; *) fail "hsmbak did not stop at the upload point: $(cat "$T/cut.err")";; esac
[ "$(partials b2)" -eq 1 ] || fail "no partial directory while uploading"
ls "$R"/.b2.hsmbak-partial-*/ | grep -q '\.part$' || fail "no .part file while uploading"
children=$(sshd_children)
[ -n "$children" ] || fail "no sshd connection process to kill"
kill -9 $children
kill -CONT "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" -ne 0 ] || fail "a backup whose connection was cut succeeded"
grep -q "sftp://$SSHD_USER@127.0.0.1:$SSHD_PORT" "$T/cut.err" || fail "the error does not name the server: $(cat "$T/cut.err")"
[ ! -e "$R/b2" ] || fail "a cut backup left its destination"
expect_fail 3 "holds no backupmanifest.xml" hb secure-restore rcptcred "$url/b2" --validate "${ssh_opts[@]}"
p=$(ls -d "$R"/.b2.hsmbak-partial-* | head -1)
expect_fail 3 "holds no backupmanifest.xml" hb secure-restore rcptcred "$SSHD_URL$p" --validate "${ssh_opts[@]}"
pass "connection cut mid-upload (exit $rc: $(head -c 160 "$T/cut.err")): no backup at the destination, the hidden partial is not one"

rc=0; HSMBAK_FAULT=sftp-kill-upload hb secure-backup rcpt "$url/b3" "${ssh_opts[@]}" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 137 ] || fail "the backup was not killed at the upload point (exit $rc)"
[ ! -e "$R/b3" ] || fail "a killed backup left its destination"
expect_fail 3 "holds no backupmanifest.xml" hb secure-restore rcptcred "$url/b3" --validate "${ssh_opts[@]}"
pass "client killed mid-upload: no backup at the destination"

# Killed at the commit point: the manifest is written, the directory not renamed.
rc=0; HSMBAK_FAULT=backup-before-rename hb secure-backup rcpt "$url/b4" "${ssh_opts[@]}" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 137 ] || fail "the backup was not killed before the rename (exit $rc)"
[ ! -e "$R/b4" ] || fail "a backup killed before its rename left its destination"
[ -f "$(ls -d "$R"/.b4.hsmbak-partial-* | head -1)/backupmanifest.xml" ] || fail "expected the manifest inside the hidden partial"
ls "$R"/.b4.hsmbak-partial-*/ | grep -q '\.part$' && fail "a .part file was left behind a complete partial"
expect_fail 3 "holds no backupmanifest.xml" hb secure-restore rcptcred "$url/b4" --validate "${ssh_opts[@]}"
pass "killed before the final rename: the complete backup stays hidden, nothing at the destination"

# Another machine's partial (another tag) and a live writer's are left alone.
mkdir "$R/.b2.hsmbak-partial-0123456789abcdef-1" "$R/.b2.hsmbak-partial-$(basename "$(ls -d "$R"/.b2.hsmbak-partial-* | head -1)" | sed 's/.*-partial-\([0-9a-f]*\)-.*/\1/')-$$"
[ "$(partials b2)" -eq 3 ] || fail "expected 3 partials of b2: $(ls -a "$R")"
for b in b2 b3 b4; do
  hb secure-backup rcpt "$url/$b" "${ssh_opts[@]}" > "$T/again.out" 2>&1 || fail "the next backup to $b: $(cat "$T/again.out")"
  grep -q "removed 1 partial backup(s) left by an interrupted run" "$T/again.out" || fail "stale partial of $b not reported: $(cat "$T/again.out")"
  hb secure-restore rcptcred "$url/$b" --validate "${ssh_opts[@]}" | grep -q "validation is complete" ||
    fail "the next backup $b does not validate"
done
[ "$(partials b3)" -eq 0 ] && [ "$(partials b4)" -eq 0 ] || fail "a stale partial of b3 or b4 is still there"
[ "$(partials b2)" -eq 2 ] || fail "another machine's or a live writer's partial was removed: $(ls -a "$R")"
ls -a "$R" | grep -q "^\.b2\.hsmbak-partial-0123456789abcdef-1$" || fail "another machine's partial was removed"
pass "the next backups after the interruptions succeed, validate, and remove (and report) their dead partials only"

# The options complete (from --help) and take file names.
PATH=$(dirname "$HSMBAK_BIN"):$PATH
. "$HSMBAK_SRC/completion/hsmbak.bash"
COMP_WORDS=(hsmbak secure-restore --ssh-k); COMP_CWORD=2; COMPREPLY=()
_hsmbak hsmbak --ssh-k secure-restore 2>/dev/null
[ "${COMPREPLY[*]}" = "--ssh-known-hosts" ] || fail "completion of --ssh-k: '${COMPREPLY[*]}'"
COMP_WORDS=(hsmbak secure-backup --ssh-identity "$SSHD_DIR/id_ed"); COMP_CWORD=3; COMPREPLY=()
_hsmbak hsmbak "$SSHD_DIR/id_ed" --ssh-identity 2>/dev/null
[[ " ${COMPREPLY[*]} " == *" $SSHD_IDENTITY "* ]] || fail "completion of --ssh-identity PATH: '${COMPREPLY[*]}'"
pass "completion: --ssh-known-hosts, and a file name after --ssh-identity"
finish
