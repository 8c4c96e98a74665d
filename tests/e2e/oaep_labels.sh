# OAEP labels bound to purpose (issue 15 item 6, docs/custody.md "OAEP
# labels"), once per token implementation (ctest: e2e/oaep_labels_KIND):
#   - the keygen probe records whether the token takes a label
#     (oaep-labels-probed in crypto.xml): openCryptoki does, SoftHSM 2.6.1
#     and tpm2-pkcs11 1.9 do not; on the TPM the key still unwraps after the
#     refused labelled probe (the backup's self-check and the restore)
#   - a backup to an openCryptoki recipient is labelled, signed
#     (oaep-label="hsmbak-v1" on its <recipient>), validates and restores;
#     SoftHSM and TPM recipients stay unlabelled and restore (control)
#   - a wrapped key moved to another archive entry (hbcraft swap) or taken
#     from another backup (hbcraft replay), the manifest re-signed by the
#     signer, is refused by the openCryptoki token itself, naming the archive
#     (elsewhere the key commitment refuses it, later)
#   - a 2-of-3 quorum: every member's share wrap labelled on
#     openCryptoki (signed oaep-label on <member>), none elsewhere; any two
#     members open it
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"
kind=${HSMBAK_TEST_TOKEN_KIND:?run through hsm-config/with-token}
case "$kind" in
  opencryptoki) want_probe="rsa-oaep-sha1 rsa-oaep-sha256" labelled=yes ;;
  *) want_probe=none labelled=no ;;
esac

make_system
# The probe's answer, kept with the certificate it asked about.
line=$(grep '<certificate name="rcpt"' "$HSMBAK_ROOT/config/crypto.xml") ||
  fail "$kind: no rcpt certificate in crypto.xml"
case "$line" in *"oaep-labels-probed=\"$want_probe\""*) ;;
  *) fail "$kind: the probe recorded '$line', want oaep-labels-probed=\"$want_probe\"";; esac
# crypto certificate asks the token the same way (a second object, same
# certificate).
hb crypto certificate again cert:///rcpt-sscert.pem >/dev/null 2>&1 || fail "$kind: crypto certificate"
line=$(grep '<certificate name="again"' "$HSMBAK_ROOT/config/crypto.xml")
case "$line" in *"oaep-labels-probed=\"$want_probe\""*) ;;
  *) fail "$kind: crypto certificate recorded '$line', want oaep-labels-probed=\"$want_probe\"";; esac
hb crypto delete certificate again >/dev/null 2>&1 || fail "$kind: delete the second object"
hb --json crypto show > "$T/show.json"
if [ "$labelled" = yes ]; then want_json=true; else want_json=false; fi
json_ok "$T/show.json" ".result.objects[] | select(.type == \"certificate\" and .name == \"rcpt\") |
  .key_wrap_state == \"probed\" and .oaep_labels == $want_json" "crypto show oaep_labels"
pass "$kind: the keygen probe records oaep-labels-probed=\"$want_probe\" (crypto show: oaep_labels $want_json)"

# b2 first: the other backup a wrapped key is taken from; b1 is the newest.
hb secure-backup rcpt temporary:///b2 >/dev/null 2>&1 || fail "$kind: the other backup"
hb --json secure-backup rcpt temporary:///b1 >"$T/b1.json" 2>"$T/b1.err" ||
  fail "$kind: backup: $(cat "$T/b1.err")"
if [ "$labelled" = yes ]; then want_json='"hsmbak-v1"'; else want_json=null; fi
json_ok "$T/b1.json" ".result.recipients[0].oaep_label == $want_json and .result.self_checked == 1" \
  "secure-backup --json: oaep_label, and the self-check unwrapped on the token"
M=$HSMBAK_ROOT/temporary/b1/backupmanifest.xml
if [ "$labelled" = yes ]; then
  grep -q '<recipient id="r1" oaep-label="hsmbak-v1">' "$M" ||
    fail "$kind: the manifest does not say the wrap is labelled: $(grep '<recipient' "$M")"
  pass "$kind: the backup's signed manifest says its wraps are labelled (oaep-label=\"hsmbak-v1\")"
else
  grep -q 'oaep-label' "$M" && fail "$kind: an unlabelled recipient was marked labelled"
  grep -q '<recipient id="r1">' "$M" || fail "$kind: no plain <recipient id=\"r1\">"
fi
xmllint --noout --schema "$HSMBAK_SRC/data/schema/manifest.xsd" "$M" 2>/dev/null ||
  fail "$kind: the manifest does not match the schema"
if [ "$labelled" = no ]; then
  pass "$kind: the recipient's token takes no label: its wraps stay unlabelled, as before"
fi
# The self-check unwrapped the first archive's key on the token after the
# probe (on the TPM: the refused labelled probe left it usable).
grep -q "self-check skipped" "$T/b1.err" && fail "$kind: self-check skipped: $(cat "$T/b1.err")"
hb secure-restore rcptcred temporary:///b1 --validate >/dev/null || fail "$kind: validate"
pass "$kind: the backup validates (every archive key unwrapped on the token)"

# Moved wraps, re-signed by the signer (what only the signer's key could do).
craft() {
  "$HSMBAK_CRAFT" "$1" "$HSMBAK_ROOT/temporary/b1" "$HSMBAK_ROOT/temporary/$2" \
    "pkcs11:token=$TOKEN;object=signer;type=private" "$HSMBAK_ROOT/cert/signer-sscert.pem" \
    "file:$PIN_FILE" ${3:+"$3"} 2>"$T/craft.err" || fail "hbcraft $1: $(cat "$T/craft.err")"
}
craft swap moved
craft replay replayed "$HSMBAK_ROOT/temporary/b2"
if [ "$labelled" = yes ]; then
  grep -q 'oaep-label="hsmbak-v1"' "$HSMBAK_ROOT/temporary/moved/backupmanifest.xml" ||
    fail "$kind: hbcraft dropped the label mark"
  refusal="unwrapping the key of 'cert.tzst': the token refused RSA-OAEP decryption with rsa-oaep-sha256 and this wrap's label: the wrapped key was made for another archive, backup, group or key (moved here), or was altered"
  expect_fail 8 "$refusal" hb secure-restore rcptcred temporary:///moved --validate
  refusal="unwrapping the key of 'config.tzst': the token refused RSA-OAEP decryption with rsa-oaep-sha256 and this wrap's label"
  expect_fail 8 "$refusal" hb secure-restore rcptcred temporary:///replayed --validate
else
  # Control: without labels the token unwraps the moved key; the key
  # commitment refuses the archive afterwards.
  expect_fail 5 "archive 'cert': key commitment mismatch" \
    hb secure-restore rcptcred temporary:///moved --validate
  expect_fail 5 "archive 'config': key commitment mismatch" \
    hb secure-restore rcptcred temporary:///replayed --validate
fi

# The restore itself, with the token's key; the root as it was.
orig=$(tree_digest "$HSMBAK_ROOT/config")
mkdir -p "$T/fixture" && cp "$HSMBAK_ROOT/config/crypto.xml" "$T/fixture/" &&
  cp "$HSMBAK_ROOT"/cert/*-sscert.pem "$T/fixture/"
cp -a "$HSMBAK_ROOT/temporary/b1" "$T/download-b1"
fixture_factory
cp -a "$T/download-b1" "$HSMBAK_ROOT/temporary/b1"
hb secure-restore rcptcred temporary:///b1 >/dev/null 2>"$T/r.err" ||
  fail "$kind: restore: $(cat "$T/r.err")"
[ "$(tree_digest "$HSMBAK_ROOT/config")" = "$orig" ] || fail "$kind: restored config differs"
pass "$kind: the $( [ "$labelled" = yes ] && echo labelled || echo unlabelled ) backup restores, config byte-identical"

# A 2-of-3 quorum of three keys on this kind's token: each member's share
# wrap is labelled exactly where the token takes labels, and any two open
# it. (One token, the signer's: on openCryptoki 3.8.1, after an enrollment
# on a second token the signer's key handle on the first is refused,
# "The specified key handle is not valid", with or without labels.)
for who in alice bob carol; do
  hb ceremony enroll --token "pkcs11:token=$TOKEN" --custodian "$who" --name "$who" \
    >/dev/null 2>"$T/e.err" || fail "$kind: enroll $who: $(cat "$T/e.err")"
done
hb ceremony quorum vault --threshold 2 alice bob carol --custodian alice >/dev/null
hb secure-backup vault temporary:///q >/dev/null 2>&1 || fail "$kind: quorum backup"
Q=$HSMBAK_ROOT/temporary/q/backupmanifest.xml
marked=$(grep -c '<member x="[123]" oaep-label="hsmbak-v1">' "$Q" || true)
if [ "$labelled" = yes ]; then want_marked=3; else want_marked=0; fi
[ "$marked" -eq "$want_marked" ] || fail "$kind: $marked members marked labelled, want $want_marked"
xmllint --noout --schema "$HSMBAK_SRC/data/schema/manifest.xsd" "$Q" 2>/dev/null ||
  fail "$kind: the quorum manifest does not match the schema"
for pair in "alice bob" "bob carol"; do
  set -- $pair
  hb secure-restore --idcred "$1" --idcred "$2" temporary:///q --validate >/dev/null 2>&1 ||
    fail "$kind: the quorum does not open with $1 and $2"
done
pass "$kind: quorum shares: $want_marked of 3 members' wraps labelled; any two open the backup"

# Bob's wrapped share taken from another backup to the same group (q2),
# re-signed: on openCryptoki his token refuses it (its label names q2's
# backup); elsewhere it unwraps and its signed commitment catches it. Named
# either way, and alice + bob + carol still open the backup.
hb secure-backup vault temporary:///q2 >/dev/null 2>&1 || fail "$kind: second quorum backup"
"$HSMBAK_CRAFT" share-replay "$HSMBAK_ROOT/temporary/q" "$HSMBAK_ROOT/temporary/qr" \
  "pkcs11:token=$TOKEN;object=signer;type=private" "$HSMBAK_ROOT/cert/signer-sscert.pem" \
  "file:$PIN_FILE" "$HSMBAK_ROOT/temporary/q2" 2>"$T/craft.err" ||
  fail "hbcraft share-replay: $(cat "$T/craft.err")"
hb secure-restore --idcred alice --idcred bob --idcred carol temporary:///qr --validate \
  >/dev/null 2>"$T/qr.err" || fail "$kind: alice + bob + carol: $(cat "$T/qr.err")"
bob_fp=$(openssl x509 -in "$HSMBAK_ROOT/cert/bob-sscert.pem" -outform DER | sha256sum | cut -d' ' -f1)
if [ "$labelled" = yes ]; then
  note="quorum 'vault': the share of member bob (SHA-256 $bob_fp, CN=hsmbak backup recipient bob) cannot be used (unwrapping the quorum share of idcred 'bob': the token refused RSA-OAEP decryption with rsa-oaep-sha256 and this wrap's label"
else
  note="quorum 'vault': the share of member bob (SHA-256 $bob_fp, CN=hsmbak backup recipient bob) does not match the signed manifest; it is not used"
fi
grep -qF "$note" "$T/qr.err" || fail "$kind: bob's replayed share not named: $(cat "$T/qr.err")"
pass "$kind: a share replayed from another backup is named ($( [ "$labelled" = yes ] && echo "refused by the token: its label" || echo "its commitment")); the other two open the backup"
finish
