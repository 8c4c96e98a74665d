# A sample appliance with a signer and a recipient on the test token, for the
# secure-backup/secure-restore tests (sourced after tests/lib/e2e.sh).

# make_system: init, settings and secrets, signer (EC, backup-signer),
# recipient "rcpt" (RSA, key-wrap probed), idcred "rcptcred", and the signer's
# certificate trusted for restores. Token label: $1 (default $TOKEN).
make_system() {
  local token=${1:-$TOKEN} r=$HSMBAK_ROOT
  hb system init --profile appliance >/dev/null
  echo 'admin:$6$x$operator-changed' > "$r/root/users/admin"
  printf 'hostname qa\n' > "$r/config/mqa.cfg"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$r/cert/tls-privkey.pem" 2>/dev/null
  mkdir -p "$r/local/bin" && printf '#!/bin/sh\n' > "$r/local/bin/run" && chmod 755 "$r/local/bin/run"
  ln -s bin/run "$r/local/run"
  ln "$r/local/bin/run" "$r/local/run.hard"
  echo "alias:$(openssl rand -hex 8)" > "$r/password-map/password-map"
  echo "app1:$(openssl rand -hex 8)" > "$r/mq-users/users"
  hb crypto keygen --cn "Signer" --usage signer --key-type ec:p256 --token "pkcs11:token=$token" \
     --gen-sscert --file-name signer --export-sscert --gen-object >/dev/null
  hb crypto idcred signercred signer signer >/dev/null
  hb crypto backup-signer signercred >/dev/null
  hb crypto trusted-signer signer >/dev/null
  add_recipient rcpt "$token"
}

# add_recipient NAME [TOKEN]: a recipient key, certificate object NAME and
# idcred NAMEcred.
add_recipient() {
  local name=$1 token=${2:-$TOKEN}
  hb crypto keygen --cn "Recipient $name" --token "pkcs11:token=$token" --gen-sscert \
     --file-name "$name" --export-sscert --gen-object >/dev/null
  hb crypto idcred "${name}cred" "$name" "$name" >/dev/null
}

# prepare_restore RECIPIENT TOKEN...: after a factory reset, what the seed's
# procedure does: upload the certificates, define certificate, key and idcred,
# and trust the signer. The certificates come from $T/download.
prepare_restore() {
  local r=$HSMBAK_ROOT
  cp "$T/download/signer-sscert.pem" "$r/cert/"
  hb crypto certificate signer cert:///signer-sscert.pem >/dev/null
  hb crypto trusted-signer signer >/dev/null
  while [ $# -gt 0 ]; do
    local name=$1 token=$2; shift 2
    cp "$T/download/$name-sscert.pem" "$r/cert/"
    hb crypto certificate "$name" "cert:///$name-sscert.pem" --key-wrap rsa-oaep-sha1 >/dev/null
    hb crypto key "$name" "pkcs11:token=$token;object=$name;type=private" >/dev/null
    hb crypto idcred "${name}cred" "$name" "$name" >/dev/null
  done
}

# download: keep copies of the exported certificates outside the root.
download() {
  mkdir -p "$T/download"
  cp "$HSMBAK_ROOT"/temporary/*-sscert.pem "$T/download/"
}
