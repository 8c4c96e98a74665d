# Issue 13: hsmbak inspect SOURCE says what a backup is -- id, created, tool,
# system version and profile, signer, recipients with their key-wrap,
# quorum groups, files with compression and size, excluded items -- after
# verifying the manifest's signature against this system's trusted signers
# (or --signer). It needs no PIN and no token (it runs with a module that
# does not exist) and changes nothing; an untrusted signer is refused with
# its fingerprint, a tampered manifest with the signature's failure.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"
make_system
hb --json secure-backup rcpt "$T/b1" > "$T/b1.json"
id=$(jq -r .result.backup_id "$T/b1.json")
signer_fp=$(openssl x509 -in "$HSMBAK_ROOT/cert/signer-sscert.pem" -outform DER | sha256sum | cut -d' ' -f1)
rcpt_fp=$(openssl x509 -in "$HSMBAK_ROOT/cert/rcpt-sscert.pem" -outform DER | sha256sum | cut -d' ' -f1)

# No token, no PIN: a module that does not exist, no PIN source, no terminal.
NOTOKEN=("$HSMBAK_BIN" --module /nonexistent/pkcs11.so)
snapshot() { echo "$(tree_digest "$HSMBAK_ROOT") $(tree_digest "$T/b1")"; }
before=$(snapshot)
"${NOTOKEN[@]}" inspect "$T/b1" > "$T/i.out" 2> "$T/i.err" < /dev/null || fail "inspect: $(cat "$T/i.out" "$T/i.err")"
[ ! -s "$T/i.err" ] || fail "inspect wrote to stderr: $(cat "$T/i.err")"
[ "$(snapshot)" = "$before" ] || fail "inspect changed the root or the backup"
for want in "backup id   $id" "tool        hsmbak " "system      9.3.5.0 (appliance profile)" \
            "signer      CN=Signer (SHA-256 $signer_fp, valid until " \
            "recipient   CN=Recipient rcpt (rsa-oaep-sha1, SHA-256 $rcpt_fp)" \
            "excluded    ipmi: IPMI passwords" "total       "; do
  grep -qF -- "$want" "$T/i.out" || fail "inspect does not say '$want': $(cat "$T/i.out")"
done
grep -qE '^ created     [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' "$T/i.out" || fail "created"
grep -qE '^ sequence    1$' "$T/i.out" || fail "sequence: $(cat "$T/i.out")"
grep -qE '^ file        config\.tzst +zstd +[0-9.]+ (B|KiB|MiB)$' "$T/i.out" || fail "files: $(cat "$T/i.out")"
[ "$(grep -c '^ file ' "$T/i.out")" -eq "$(jq '.result.files|length' "$T/b1.json")" ] || fail "file count"
pass "inspect: the signed, trusted backup's summary, with no token and no change"

"${NOTOKEN[@]}" --json inspect "$T/b1" > "$T/i.json" 2> "$T/i.jerr" || fail "inspect --json"
[ ! -s "$T/i.jerr" ] || fail "--json stderr"
json_ok "$T/i.json" '.command == "inspect"' "command"
json_ok "$T/i.json" ".result.backup_id == \"$id\" and (.result.tool|startswith(\"hsmbak \")) and .result.system.version == \"9.3.5.0\" and .result.system.profile == \"appliance\"" "identity"
json_ok "$T/i.json" ".result.signer.fingerprint_sha256 == \"$signer_fp\" and .result.signer.trusted == true and .result.signer.subject == \"CN=Signer\" and (.result.signer.not_after|test(\"Z\$\"))" "signer"
json_ok "$T/i.json" ".result.recipients[0].key_wrap == \"rsa-oaep-sha1\" and .result.recipients[0].fingerprint_sha256 == \"$rcpt_fp\"" "recipients"
json_ok "$T/i.json" '(.result.files|length) >= 5 and all(.result.files[]; .size > 0 and .compression == "zstd" and (.problem == null))' "files"
json_ok "$T/i.json" '.result.excluded[0].name == "ipmi" and .result.archive_bytes > 0' "excluded"
jq -S '.result | del(.source, .signer)' "$T/i.json" > "$T/i.fields"
jq -S '.result | {backup_id, created, sequence, transcript, tool, system, recipients, files, archive_bytes, excluded}' "$T/b1.json" > "$T/b.fields"
cmp -s "$T/i.fields" "$T/b.fields" || fail "inspect --json and the backup's --json describe it differently: $(diff "$T/b.fields" "$T/i.fields")"
pass "inspect --json: the same description as the backup made, the signer trusted"

# An untrusted signer: refused, naming its fingerprint; --signer trusts it.
fixture_untrusted
hb crypto backup-signer roguecred >/dev/null
hb secure-backup rcpt "$T/rogue" >/dev/null
hb crypto backup-signer signercred >/dev/null
rogue_fp=$(openssl x509 -in "$HSMBAK_ROOT/cert/roguesigner-sscert.pem" -outform DER | sha256sum | cut -d' ' -f1)
expect_fail 6 "the backup is signed by 'CN=Rogue Signer' (SHA-256 fingerprint $rogue_fp), which this system does not trust" \
  "${NOTOKEN[@]}" inspect "$T/rogue"
rc=0; "${NOTOKEN[@]}" --json inspect "$T/rogue" > "$T/r.json" || rc=$?
[ "$rc" -eq 6 ] || fail "untrusted --json exit $rc"
json_ok "$T/r.json" ".error.status == \"refused\" and .result.signer.fingerprint_sha256 == \"$rogue_fp\" and .result.signer.trusted == false and .result.backup_id == null" "untrusted json"
"${NOTOKEN[@]}" inspect "$T/rogue" --signer roguesigner | grep -q "signer      CN=Rogue Signer" || fail "--signer CERT"
"${NOTOKEN[@]}" inspect "$T/rogue" --signer cert:///roguesigner-sscert.pem | grep -q "CN=Rogue Signer" || fail "--signer FILE"
expect_fail 6 "fingerprint $rogue_fp" "${NOTOKEN[@]}" inspect "$T/rogue" --signer cert:///signer-sscert.pem
# Without a system root a certificate file is the only trust there is.
env -u HSMBAK_ROOT "${NOTOKEN[@]}" inspect "$T/b1" --signer "$HSMBAK_ROOT/cert/signer-sscert.pem" | grep -qF "$id" || fail "no root, --signer FILE"
must_refuse 6 "no system root names the signers it trusts" env -u HSMBAK_ROOT "${NOTOKEN[@]}" inspect "$T/b1"
pass "untrusted signer refused with its fingerprint; --signer CERT or FILE trusts it for the run"

# A tampered manifest: refused, nothing printed of it. A missing archive
# is reported (inspect reads no archive, it looks).
cp -a "$T/b1" "$T/bad"
sed -i 's|<size>\([0-9]*\)</size>|<size>1\1</size>|' "$T/bad/backupmanifest.xml"
must_refuse 5 "" "${NOTOKEN[@]}" inspect "$T/bad"
"${NOTOKEN[@]}" inspect "$T/bad" > "$T/bad.out" 2>/dev/null || true
[ ! -s "$T/bad.out" ] || fail "a tampered manifest was described: $(cat "$T/bad.out")"
pass "tampered manifest: refused (exit 5: $msg)"
expect_fail 3 "holds no backupmanifest.xml" "${NOTOKEN[@]}" inspect "$T"
cp -a "$T/b1" "$T/partial" && rm "$T/partial/config.tzst"
"${NOTOKEN[@]}" inspect "$T/partial" > "$T/p.out" 2> "$T/p.err" || fail "inspect of a backup missing a file"
grep -q "config.tzst .*PROBLEM: backup file 'config.tzst' is missing" "$T/p.out" || fail "missing file not shown: $(cat "$T/p.out")"
grep -q "warning: inspect: backup file 'config.tzst' is missing" "$T/p.err" || fail "missing file not warned"
pass "a missing archive is reported by inspect"

# In a terminal with no PIN source: no prompt (no token is opened).
script -qfec "$(printf '%q ' "$HSMBAK_BIN" inspect "$T/b1")" "$T/tty.log" < /dev/null > /dev/null || fail "inspect in a pty"
grep -v "^Script " "$T/tty.log" | grep -qi "pin" && fail "inspect asked for a PIN: $(cat "$T/tty.log")"
grep -qF "$id" "$T/tty.log" || fail "inspect in a pty: $(cat "$T/tty.log")"
pass "inspect in a terminal asks for no PIN"
finish
