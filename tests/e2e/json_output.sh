# Issue 7: --json on every command is one document on stdout that parses with
# jq and carries the result; failures are JSON too, with the documented exit
# code and nothing on stderr. The audit log gets one line per operation.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"
export HSMBAK_AUDIT_FILE=$T/audit.log
J() { hb --json "$@"; }

# run_json NAME WANT-EXIT CMD...: stdout to $T/NAME.json, stderr must stay empty.
run_json() {
  local name=$1 want=$2 rc=0; shift 2
  "$@" > "$T/$name.json" 2> "$T/$name.err" || rc=$?
  [ "$rc" -eq "$want" ] || fail "$name: exit $rc, want $want: $(cat "$T/$name.json" "$T/$name.err")"
  [ ! -s "$T/$name.err" ] || fail "$name: stderr not empty in --json mode: $(cat "$T/$name.err")"
  jq -e . "$T/$name.json" >/dev/null || fail "$name: not JSON: $(cat "$T/$name.json")"
  [ "$(jq -s length "$T/$name.json")" -eq 1 ] || fail "$name: more than one document"
  json_ok "$T/$name.json" ".exit_code == $want and .ok == ($want == 0)" "$name: exit_code/ok"
}

run_json init 0 J system init --profile appliance
json_ok "$T/init.json" '.command == "system init" and .result.profile == "appliance" and (.result.root|length>0)' "system init"
printf 'hostname json\n' > "$HSMBAK_ROOT/config/mqa.cfg"
pass "system init --json"

run_json kg_signer 0 J crypto keygen --cn "Backup Signer" --usage signer --key-type ec:p256 \
  --token "pkcs11:token=$TOKEN" --gen-sscert --file-name signer --gen-object
json_ok "$T/kg_signer.json" '.result.usage == "signer" and (.result.fingerprint_sha256|test("^[0-9a-f]{64}$")) and .result.object_name == "signer"' "keygen signer"
run_json kg_rcpt 0 J crypto keygen --cn "Op Recipient" --token "pkcs11:token=$TOKEN" --gen-sscert \
  --file-name rcpt --gen-object
json_ok "$T/kg_rcpt.json" '.result.key_wrap == "rsa-oaep-sha1" and .result.bits == 2048 and (.result.key_uri|startswith("pkcs11:"))' "keygen recipient"
pass "crypto keygen --json reports key URI, fingerprint and probed key-wrap"

run_json idc 0 J crypto idcred signercred signer signer
json_ok "$T/idc.json" '.result.action == "created" and .result.type == "idcred"' "idcred"
run_json bs 0 J crypto backup-signer signercred
run_json idc2 0 J crypto idcred rcptcred rcpt rcpt
run_json ts 0 J crypto trusted-signer signer
json_ok "$T/ts.json" '.result.trusted_signer == true' "trusted-signer"
run_json show 0 J crypto show
json_ok "$T/show.json" '.command == "crypto show" and (.result.objects|length) == 6' "crypto show count"
json_ok "$T/show.json" '.result.objects[] | select(.type=="idcred" and .name=="signercred") | .status=="up" and .backup_signer==true' "signer idcred"
json_ok "$T/show.json" '.result.objects[] | select(.type=="certificate" and .name=="rcpt") | .key_wrap=="rsa-oaep-sha1" and .admin_state=="enabled"' "rcpt certificate"
# The text and the JSON list the same objects.
hb crypto show | grep -E '^(certificate|key|idcred): ' | sed 's/ \[.*//' | sort > "$T/show.text"
jq -r '.result.objects[] | "\(.type): \(.name)"' "$T/show.json" | sort > "$T/show.jnames"
cmp -s "$T/show.text" "$T/show.jnames" || fail "crypto show: text and JSON differ"
pass "crypto show --json carries the same objects as the text, with status"

run_json tokens 0 J token list --token "pkcs11:token=$TOKEN" --login
jq -e --arg t "$TOKEN" '.result.tokens[0].label == $t and (.result.tokens[0].serial|length>0)' "$T/tokens.json" >/dev/null || fail "token label"
jq -e '[.result.tokens[0].objects[] | select(.class=="private-key")] | length == 2 and all(.attributes.extractable == false and .attributes.sensitive == true)' "$T/tokens.json" >/dev/null || fail "token objects"
jq -e '.result.tokens[0].objects[] | select(.class=="private-key" and .label=="rcpt") | .attributes.sign == false and .attributes.unwrap == true' "$T/tokens.json" >/dev/null || fail "recipient key attributes"
pass "token list --json: token, objects and key attributes"

head -c 200000 /dev/urandom > "$HSMBAK_ROOT/local/blob.bin"
run_json backup 0 J secure-backup rcpt temporary:///b1
json_ok "$T/backup.json" '.command == "secure-backup" and (.result.backup_id|test("^[0-9a-f-]{36}$"))' "backup id"
json_ok "$T/backup.json" '(.result.files|length) >= 3 and all(.result.files[]; (.sha256|test("^[0-9a-f]{64}$")) and .size > 0)' "backup files"
json_ok "$T/backup.json" '.result.recipients[0].key_wrap == "rsa-oaep-sha1" and .result.recipients[0].subject == "CN=Op Recipient"' "recipients"
fp=$(openssl x509 -in "$HSMBAK_ROOT/cert/rcpt-sscert.pem" -outform DER | sha256sum | cut -d' ' -f1)
jq -e --arg fp "$fp" '.result.recipients[0].fingerprint_sha256 == $fp' "$T/backup.json" >/dev/null || fail "recipient fingerprint"
for f in $(jq -r '.result.files[] | "\(.filename)=\(.sha256)=\(.size)"' "$T/backup.json"); do
  IFS== read -r name sum size <<<"$f"
  [ "$(sha256sum "$HSMBAK_ROOT/temporary/b1/$name" | cut -d' ' -f1)" = "$sum" ] || fail "checksum of $name"
  [ "$(stat -c %s "$HSMBAK_ROOT/temporary/b1/$name")" = "$size" ] || fail "size of $name"
done
json_ok "$T/backup.json" '.result.excluded[0].name == "ipmi" and .result.expanded_bytes >= 200000' "excluded/expanded"
pass "secure-backup --json: id, files with sizes and checksums that match the disk, recipients"

run_json dir 0 J dir temporary:///b1
json_ok "$T/dir.json" '.result.entries[0].name == "backupmanifest.xml" and .result.entries[0].type == "file" and (.result.entries[0].modified|test("Z$")) and .result.available > 0' "dir"
pass "dir --json"

run_json validate 0 J secure-restore rcptcred temporary:///b1 --validate
json_ok "$T/validate.json" '.result.mode == "validate" and .result.backup_id == '"$(jq .result.backup_id "$T/backup.json")" "validate id"
json_ok "$T/validate.json" '[.result.checks[] | select(.status != "ok" and .status != "skipped")] | length == 0' "validate checks"
json_ok "$T/validate.json" '[.result.checks[].check] | index("signature") == 0 and (index("files") > 0)' "check names"
json_ok "$T/validate.json" '[.result.checks[] | select(.check=="archive")] | length == '"$(jq '.result.files|length' "$T/backup.json")" "one check per archive"
json_ok "$T/validate.json" '.result.signer.fingerprint_sha256|test("^[0-9a-f]{64}$")' "signer"
pass "secure-restore --validate --json: every check with its status"

# A changed archive: exit 5, JSON error, the files check failed, later ones not run.
cp -a "$HSMBAK_ROOT/temporary/b1" "$T/bad"
f=$(ls "$T/bad" | grep -v manifest | head -1)
flip_byte "$T/bad/$f" 200
run_json tampered 5 J secure-restore rcptcred "$T/bad" --validate
json_ok "$T/tampered.json" '.error.code == 5 and .error.status == "verify-failed" and (.error.message|test("checksum"))' "tamper error"
json_ok "$T/tampered.json" '.result.checks[] | select(.check=="files") | .status == "failed" and (.message|length>0)' "files failed"
json_ok "$T/tampered.json" '.result.checks[] | select(.check=="signature") | .status == "ok"' "signature ok"
json_ok "$T/tampered.json" '[.result.checks[] | select(.status=="failed")] | length == 1' "one failure"
pass "a tampered backup: exit 5, JSON error, the failed check named"

# Errors of every kind are JSON with the stable codes.
run_json usage 2 J secure-backup
run_json notfound 3 J crypto show certificate nosuch
run_json refused 6 J crypto keygen --cn x --token "pkcs11:token=$TOKEN" --export-key
run_json unknown 2 J frobnicate
json_ok "$T/refused.json" '.error.status == "refused" and .command == "crypto keygen"' "refused"
echo 00000000 > "$T/wrong.pin"
rc=0; "$HSMBAK_BIN" --json --pin-source "file:$T/wrong.pin" secure-restore rcptcred temporary:///b1 --validate > "$T/auth.json" 2> "$T/auth.err" || rc=$?
[ "$rc" -eq 4 ] || fail "wrong PIN: exit $rc"
[ ! -s "$T/auth.err" ] || fail "wrong PIN: stderr $(cat "$T/auth.err")"
json_ok "$T/auth.json" '.error.code == 4' "auth error"
pass "errors in --json mode: usage 2, not-found 3, PIN 4, verify 5, refused 6 — JSON on stdout, stderr empty"

# Restore (after a factory reset) — swap is a check too.
cp -a "$HSMBAK_ROOT/temporary/b1" "$T/b1"
save_certs
run_json reset 0 J factory-reset --yes
redefine_objects
run_json restore 0 J secure-restore rcptcred "$T/b1"
json_ok "$T/restore.json" '.result.mode == "restore" and (.result.checks[] | select(.check=="swap") | .status == "ok")' "restore swap"
json_ok "$T/restore.json" '(.result.next_steps|length) > 0 and .result.entries > 0' "restore next steps"
pass "secure-restore --json: checks through swap, next steps"

# The remaining object commands and --version.
run_json cert 0 J crypto certificate extra cert:///rcpt-sscert.pem --key-wrap rsa-oaep-sha1
json_ok "$T/cert.json" '.command == "crypto certificate" and .result == {"action": "created", "type": "certificate", "name": "extra", "key_wrap": "rsa-oaep-sha1", "key_wrap_state": "probed"}' "certificate"
run_json key 0 J crypto key extrakey "pkcs11:token=$TOKEN;object=rcpt;type=private"
json_ok "$T/key.json" '.result.action == "created" and .result.type == "key"' "key"
run_json del 0 J crypto delete certificate extra
json_ok "$T/del.json" '.result == {"action": "deleted", "type": "certificate", "name": "extra"}' "delete"
run_json untrust 0 J crypto trusted-signer signer --remove
json_ok "$T/untrust.json" '.result.trusted_signer == false' "trusted-signer --remove"
run_json version 0 J --version
json_ok "$T/version.json" '.command == "version" and (.result.version|test("^[0-9]+\\.[0-9]+\\.[0-9]+$"))' "version"
run_json nocmd 2 J
pass "crypto certificate/key/delete/trusted-signer --remove and --version in --json"

# --- audit log: one line per operation, with who, what, outcome, ids and fingerprints
a=$T/audit.log
[ -s "$a" ] || fail "no audit log written"
id=$(jq -r .result.backup_id "$T/backup.json")
grep -E "op=secure-backup outcome=ok status=0 uid=$(id -u) " "$a" | grep -q "backup_id=$id" || fail "backup audit: $(cat "$a")"
grep "op=secure-backup outcome=ok" "$a" | grep -q "recipients=sha256:$fp" || fail "backup audit recipients"
grep "op=secure-backup outcome=ok" "$a" | grep -qE "signer=sha256:[0-9a-f]{64}" || fail "backup audit signer"
grep "op=validate outcome=ok" "$a" | grep -q "backup_id=$id" || fail "validate audit"
grep -q "op=validate outcome=failed status=5 .*reason=" "$a" || fail "failed validate audit"
grep -q "op=validate outcome=refused status=4" "$a" || fail "wrong-PIN audit"
grep "op=secure-restore outcome=ok" "$a" | grep -q "idcred=rcptcred" || fail "restore audit"
[ "$(grep -c 'op=keygen outcome=ok' "$a")" -eq 2 ] || fail "keygen audit"
grep -q "op=keygen outcome=refused status=6 .*request=export-key" "$a" || fail "refusal audit"
grep -qF -- "$(cat "$PIN_FILE")" "$a" && fail "the PIN is in the audit log"
grep -qE -e "-----BEGIN|PRIVATE KEY" "$a" && fail "key material in the audit log"
n_lines=$(wc -l < "$a")
[ "$n_lines" -eq "$(grep -c '^[0-9T:-]*Z hsmbak\[[0-9]*\]: hsmbak-audit v=1 op=' "$a")" ] || fail "malformed audit lines"
pass "audit log: $n_lines structured lines, no PIN, no key material"
finish
