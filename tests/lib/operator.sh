# Shared set-up for the operator-experience tests (sourced after e2e.sh):
# a system with a backup signer and one recipient, both made on the token.
setup_system() {
  hb system init --profile appliance >/dev/null
  printf 'hostname op-test\n' > "$HSMBAK_ROOT/config/mqa.cfg"
  head -c 300000 /dev/urandom > "$HSMBAK_ROOT/local/blob.bin"
  hb crypto keygen --cn "Backup Signer" --usage signer --key-type ec:p256 --token "pkcs11:token=$TOKEN" \
     --gen-sscert --file-name signer --gen-object >/dev/null
  hb crypto idcred signercred signer signer >/dev/null
  hb crypto backup-signer signercred >/dev/null
  hb crypto keygen --cn "Op Recipient" --token "pkcs11:token=$TOKEN" --gen-sscert \
     --file-name rcpt --gen-object >/dev/null
  hb crypto idcred rcptcred rcpt rcpt >/dev/null
  hb crypto trusted-signer signer >/dev/null
}

# After a factory reset: the certificates come back and the objects are defined again.
redefine_objects() {
  cp "$T/saved-certs/"*.pem "$HSMBAK_ROOT/cert/"
  hb crypto certificate rcpt cert:///rcpt-sscert.pem --key-wrap rsa-oaep-sha1 >/dev/null
  hb crypto key rcpt "pkcs11:token=$TOKEN;object=rcpt;type=private" >/dev/null
  hb crypto idcred rcptcred rcpt rcpt >/dev/null
  hb crypto certificate signer cert:///signer-sscert.pem >/dev/null
  hb crypto trusted-signer signer >/dev/null
}

save_certs() { mkdir -p "$T/saved-certs"; cp "$HSMBAK_ROOT/cert/"*.pem "$T/saved-certs/"; }

# json_ok FILE JQ-EXPR MESSAGE: the document parses and the expression is true.
json_ok() {
  jq -e "$2" "$1" >/dev/null || fail "$3: $(cat "$1")"
}
