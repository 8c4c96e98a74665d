# What a token implementation really does, proven on the one chosen by
# HSMBAK_TEST_TOKEN (softhsm, tpm, opencryptoki; ctest runs this script once
# per implementation as e2e/token_matrix_KIND):
#   - keygen adapts: signer and recipient keys are made; EC where the token
#     has it; rsa:4096 on the TPM refused naming the token's limit
#   - the OAEP probe finds rsa-oaep-sha256 on the TPM and openCryptoki
#     (rsa-oaep-sha1 on SoftHSM 2.6.1), and a backup wrapped with it is
#     validated and restored with the token's key
#   - keys do only what they are for: the recipient's CKA_ALLOWED_MECHANISMS
#     read back and tried (SoftHSM keeps OAEP + the sign-only mechanism of
#     its self-signature, CKA_SIGN cleared; the TPM narrows to OAEP at seal);
#     openCryptoki 3.8 has no such attribute: one warning naming the token,
#     and crypto show says "unlimited" (tests/token/test_key_mechanisms.c
#     asks the token itself)
#   - every token signature is verified in software before use: a forced bad
#     signature (HSMBAK_FAULT=bad-token-signature) is refused and nothing is
#     written; the manifests the token signs verify with stock xmlsec1
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"
kind=${HSMBAK_TEST_TOKEN_KIND:?run through hsm-config/with-token}
tok="pkcs11:token=$TOKEN"
case "$kind" in
  softhsm) want_wrap=rsa-oaep-sha1 sig_types="ec:p256 rsa:2048" want_mechs=rsa-oaep,sha256-rsa-pkcs ;;
  tpm) want_wrap=rsa-oaep-sha256 sig_types="ec:p256 rsa:2048" want_mechs=rsa-oaep ;;
  opencryptoki) want_wrap=rsa-oaep-sha256 sig_types="rsa:2048" want_mechs= ;;
esac

# tpm2-pkcs11 1.9 prints its own "ERROR: ..." lines on stderr for every
# refused call, at any TPM2_PKCS11_LOG_LEVEL; hsmbak's one line is checked
# without them.
hb_quiet() {
  if [ "$kind" = tpm ]; then
    { "$HSMBAK_BIN" --pin-source "file:$PIN_FILE" "$@" 2>&1 >&3 | grep -v '^ERROR: ' >&2; } 3>&1
    return "${PIPESTATUS[0]}"
  fi
  "$HSMBAK_BIN" --pin-source "file:$PIN_FILE" "$@"
}

bad_signature_backup() { HSMBAK_FAULT=bad-token-signature hb_quiet secure-backup rcpt "$1"; }

hb system init --profile appliance >/dev/null
fixture_populate

# Keygen: a recipient, whose probe names the wrap this token takes.
out=$(hb crypto keygen --cn R --token "$tok" --gen-sscert --file-name rcpt --gen-object 2>&1) ||
  fail "$kind: recipient keygen: $out"
case "$out" in *"unwraps with $want_wrap (probed)"*) ;; *) fail "$kind: probe: $out";; esac
pass "$kind: recipient keygen, the OAEP probe finds $want_wrap"
shown=$(hb crypto show key rcpt)
if [ -n "$want_mechs" ]; then
  case "$out" in *"The token allows the key $want_mechs only (CKA_ALLOWED_MECHANISMS, checked)"*) ;;
    *) fail "$kind: allowed mechanisms: $out";; esac
  case "$out" in *"CKA_ALLOWED_MECHANISMS:"*) fail "$kind: a warning for a token that enforces: $out";; esac
  case "$shown" in *"mechanisms limited"*"allowed-mechanisms $want_mechs"*) ;; *) fail "$kind: crypto show: $shown";; esac
  pass "$kind: the recipient key is allowed $want_mechs only, read back and tried"
else
  [ "$(grep -c 'ignores CKA_ALLOWED_MECHANISMS' <<<"$out")" = 1 ] || fail "$kind: no single warning: $out"
  case "$out" in *"warning: $tok ignores CKA_ALLOWED_MECHANISMS: with the PIN, the key can still do raw RSA (CKM_RSA_X_509: valid signatures) and PKCS#1 v1.5 decryption (a padding oracle); only its usage flags limit it"*) ;;
    *) fail "$kind: the warning: $out";; esac
  case "$shown" in *"mechanisms unlimited"*) ;; *) fail "$kind: crypto show: $shown";; esac
  case "$shown" in *"allowed-mechanisms"*) fail "$kind: crypto show lists mechanisms: $shown";; esac
  pass "$kind: a token without CKA_ALLOWED_MECHANISMS: one warning naming it, crypto show says unlimited"
fi
# The self-signature made on the token verifies in stock OpenSSL (openCryptoki
# through pkcs11-provider signs the bare hash unless hsmbak re-signs it).
openssl verify -check_ss_sig -CAfile "$HSMBAK_ROOT/cert/rcpt-sscert.pem" "$HSMBAK_ROOT/cert/rcpt-sscert.pem" \
  >/dev/null 2>&1 || fail "$kind: the recipient's self-signed certificate does not verify"

case "$kind" in
  tpm) expect_fail 6 "makes RSA keys of 1024 to 3072 bits only, not rsa:4096" \
         hb crypto keygen --cn R4 --key-type rsa:4096 --token "$tok" --gen-sscert --file-name r4 ;;
  opencryptoki) expect_fail 6 "cannot make EC keys (it has no CKM_EC_KEY_PAIR_GEN)" \
         hb crypto keygen --cn E --usage signer --key-type ec:p256 --token "$tok" --gen-sscert --file-name e ;;
esac

hb crypto certificate rcpt cert:///rcpt-sscert.pem --key-wrap "$want_wrap" >/dev/null
hb crypto idcred rcptcred rcpt rcpt >/dev/null

n=0
for st in $sig_types; do
  n=$((n + 1))
  hb crypto keygen --cn "Signer $n" --usage signer --key-type "$st" --token "$tok" --gen-sscert \
     --file-name "sig$n" --gen-object >/dev/null 2>&1 || fail "$kind: $st signer keygen"
  openssl verify -check_ss_sig -CAfile "$HSMBAK_ROOT/cert/sig$n-sscert.pem" "$HSMBAK_ROOT/cert/sig$n-sscert.pem" \
    >/dev/null 2>&1 || fail "$kind: the $st signer's self-signed certificate does not verify"
  hb crypto idcred "sig${n}cred" "sig$n" "sig$n" >/dev/null
  hb crypto backup-signer "sig${n}cred" >/dev/null
  hb crypto trusted-signer "sig$n" >/dev/null

  # A forced bad token signature: refused, nothing written.
  before=$(tree_digest "$HSMBAK_ROOT")
  must_refuse 8 "signature does not verify with the key's own public key; nothing was signed or written" \
    bad_signature_backup "temporary:///bad$n"
  [ ! -e "$HSMBAK_ROOT/temporary/bad$n" ] || fail "$kind: a backup was left after a bad signature"
  [ "$(tree_digest "$HSMBAK_ROOT")" = "$before" ] || fail "$kind: the system changed after a bad signature"
  pass "$kind: $st signer: a forced bad token signature is caught, nothing written"

  hb secure-backup rcpt "temporary:///b$n" >/dev/null
  m=$HSMBAK_ROOT/temporary/b$n/backupmanifest.xml
  [ -f "$m" ] || fail "$kind: no manifest"
  xmlsec1 --verify --pubkey-cert-pem "$HSMBAK_ROOT/cert/sig$n-sscert.pem" \
    "$m" > "$T/xmlsec.out" 2>&1 || { cat "$T/xmlsec.out"; fail "$kind: xmlsec1 refuses the $st manifest"; }
  pass "$kind: $st signer: stock xmlsec1 verifies the manifest"

  hb secure-restore rcptcred "temporary:///b$n" --validate >/dev/null ||
    fail "$kind: validate of a $want_wrap backup"
  pass "$kind: $want_wrap backup validated (unwrapped on the token)"
done

# The restore itself, with the token's key.
orig=$(tree_digest "$HSMBAK_ROOT/config")
fixture_keep
cp -a "$HSMBAK_ROOT/temporary/b$n" "$T/download-b"
fixture_factory
cp -a "$T/download-b" "$HSMBAK_ROOT/temporary/b$n"
hb secure-restore rcptcred "temporary:///b$n" >/dev/null || fail "$kind: restore"
[ "$(tree_digest "$HSMBAK_ROOT/config")" = "$orig" ] || fail "$kind: restored config differs"
pass "$kind: $want_wrap backup restored with the token's key"

# On the module itself, tpm2-pkcs11 is not asked the keygen template it always
# refuses, so it prints none of its ERROR lines (behind the p11-kit proxy the
# module cannot be told: hsm-config/README.md).
if [ "$kind" = tpm ]; then
  out=$(hb --module "$HSMBAK_TEST_MODULE" crypto keygen --cn Q --token "$tok" --file-name quiet 2>&1) ||
    fail "$kind: keygen on the module itself: $out"
  case "$out" in *"ERROR:"*) fail "$kind: tpm2-pkcs11 printed errors for hsmbak's keygen: $out";; esac
  pass "$kind: keygen on tpm2-pkcs11 itself makes no call it refuses (no ERROR lines)"
fi
finish
