# The one fixture of the end-to-end tests (sourced after tests/lib/e2e.sh):
# an appliance root ($HSMBAK_ROOT) with settings and secrets, a backup
# signer and backup recipients on the test token, and the way back to a
# restorable system after a factory reset. Everything lives under $T.
#
# The system, from building blocks:
#   fixture_populate                settings and secrets in every resource:
#                                   files, an executable, a symlink, a hard
#                                   link, a TLS key, random data
#   fixture_keygen NAME CN [TOKEN] [ARGS...]
#                                   a key pair NAME on the token (default
#                                   $TOKEN) with a self-signed certificate
#                                   cert:///NAME-sscert.pem; ARGS go to keygen
#   fixture_signer NAME IDCRED CN [TOKEN] [ARGS...]
#                                   an EC P-256 signing key NAME, its objects
#                                   NAME and idcred IDCRED
#   fixture_recipient NAME CN [TOKEN] [ARGS...]
#                                   an RSA recipient NAME, its objects NAME
#                                   and idcred NAMEcred
#   fixture_define CERT KEY IDCRED TOKEN [OBJECT]
#                                   the seed's walkthrough: certificate CERT of
#                                   cert:///OBJECT-sscert.pem (key-wrap
#                                   rsa-oaep-sha1, what SoftHSM takes), key KEY
#                                   (token object OBJECT, default CERT), idcred
#   fixture_trust CERT              certificate CERT of cert:///CERT-sscert.pem,
#                                   trusted to sign backups
#
# The two systems the tests use:
#   make_system [TOKEN]             signer 'signer' (idcred signercred, the
#                                   backup signer, trusted), recipient 'rcpt'
#                                   (idcred rcptcred), both certificates also
#                                   exported to temporary:
#   fixture_system                  the hardening tests' system (profile
#                                   $FIXTURE_PROFILE, default appliance):
#                                   signer 'backupsigner' (idcred signercred),
#                                   recipient 'mybackupcert' defined the seed's
#                                   way (key mybackupkey, idcred mybackupcred)
#                                   and a second recipient 'othercert'; its
#                                   store and certificates are kept in
#                                   $T/fixture
#   add_recipient NAME [TOKEN]      one more recipient (idcred NAMEcred)
#   fixture_untrusted               a second signer 'roguesigner' (idcred
#                                   roguecred), defined but not trusted
#
# Backups and the way back:
#   fixture_backup DIR              secure-backup to othercert,mybackupcert
#   fixture_factory                 factory-reset, then the store and the
#                                   certificates of $T/fixture back (both are
#                                   ignored by the factory state check)
#   download / save_certs           keep the exported / all certificates
#                                   ($T/download, $T/saved-certs)
#   prepare_restore RECIPIENT TOKEN...
#                                   after a factory reset, what the seed's
#                                   procedure does with the certificates of
#                                   $T/download: trust the signer, define each
#                                   recipient's certificate, key and idcred
#   redefine_objects                the same for 'rcpt' on $TOKEN, with the
#                                   certificates of $T/saved-certs
#
# The refusal matrix (hardening tests): refused_both, matrix_print.

# What the token takes (hsm-config/with-token's HSMBAK_TEST_TOKEN_KIND):
# SoftHSM 2.6.1 unwraps RSA-OAEP with SHA-1 only, the TPM and openCryptoki
# with SHA-256; openCryptoki has no EC, so its signers are RSA.
case "${HSMBAK_TEST_TOKEN_KIND:-softhsm}" in
  softhsm) FIXTURE_WRAP=rsa-oaep-sha1 FIXTURE_SIGNER_TYPE=ec:p256 ;;
  tpm) FIXTURE_WRAP=rsa-oaep-sha256 FIXTURE_SIGNER_TYPE=ec:p256 ;;
  *) FIXTURE_WRAP=rsa-oaep-sha256 FIXTURE_SIGNER_TYPE=rsa:2048 ;;
esac

fixture_populate() {
  local r=$HSMBAK_ROOT
  echo 'admin:$6$operator$changed-by-the-operator' > "$r/root/users/admin"
  printf 'hostname qa\n' > "$r/config/mqa.cfg"
  head -c 200000 /dev/urandom > "$r/config/blob.bin"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$r/cert/tls-privkey.pem" 2>/dev/null
  mkdir -p "$r/local/bin" && printf '#!/bin/sh\necho healthy\n' > "$r/local/bin/run"
  chmod 755 "$r/local/bin/run"
  ln -s bin/run "$r/local/run"
  ln "$r/local/bin/run" "$r/local/run.hard"
  printf 'ldap-bind:%s\n' "$(openssl rand -hex 16)" > "$r/password-map/password-map"
  printf 'app1:%s:mqm\n' "$(openssl rand -hex 8)" > "$r/mq-users/users"
  echo 'ipmi-user admin secret-bmc-password' > "$r/ipmi/ipmi.cfg"
}

fixture_keygen() {
  local name=$1 cn=$2 token=${3:-$TOKEN}
  shift $(( $# < 3 ? $# : 3 ))
  hb crypto keygen --cn "$cn" --token "pkcs11:token=$token" --gen-sscert --file-name "$name" \
     "$@" >/dev/null
}

fixture_signer() {
  local name=$1 idcred=$2 cn=$3 token=${4:-$TOKEN}
  shift $(( $# < 4 ? $# : 4 ))
  fixture_keygen "$name" "$cn" "$token" --usage signer --key-type "$FIXTURE_SIGNER_TYPE" --gen-object "$@"
  hb crypto idcred "$idcred" "$name" "$name" >/dev/null
}

fixture_recipient() {
  local name=$1 cn=$2 token=${3:-$TOKEN}
  shift $(( $# < 3 ? $# : 3 ))
  fixture_keygen "$name" "$cn" "$token" --gen-object "$@"
  hb crypto idcred "${name}cred" "$name" "$name" >/dev/null
}

fixture_define() {
  local cert=$1 key=$2 idcred=$3 token=$4 object=${5:-$1}
  hb crypto certificate "$cert" "cert:///$object-sscert.pem" --key-wrap "$FIXTURE_WRAP" >/dev/null
  hb crypto key "$key" "pkcs11:token=$token;object=$object;type=private" >/dev/null
  hb crypto idcred "$idcred" "$key" "$cert" >/dev/null
}

fixture_trust() {
  hb crypto certificate "$1" "cert:///$1-sscert.pem" >/dev/null
  hb crypto trusted-signer "$1" >/dev/null
}

# The signer signs backups and is trusted to.
fixture_backup_signer() {
  hb crypto backup-signer "$1" >/dev/null
  hb crypto trusted-signer "$2" >/dev/null
}

make_system() {
  local token=${1:-$TOKEN}
  hb system init --profile appliance >/dev/null
  fixture_populate
  fixture_signer signer signercred "Signer" "$token" --export-sscert
  fixture_backup_signer signercred signer
  add_recipient rcpt "$token"
}

add_recipient() { fixture_recipient "$1" "Recipient $1" "${2:-$TOKEN}" --export-sscert; }

# The store and the certificates, for fixture_factory.
fixture_keep() {
  mkdir -p "$T/fixture"
  cp "$HSMBAK_ROOT/config/crypto.xml" "$T/fixture/crypto.xml"
  cp "$HSMBAK_ROOT"/cert/*-sscert.pem "$T/fixture/"
}

fixture_system() {
  hb system init --profile "${FIXTURE_PROFILE:-appliance}" --version 9.3.5.0 >/dev/null
  fixture_populate
  fixture_signer backupsigner signercred "Backup Signer"
  fixture_backup_signer signercred backupsigner
  fixture_keygen mybackupcert "My Backup Cert"
  fixture_keygen othercert "Other Backup Cert"
  hb crypto certificate othercert cert:///othercert-sscert.pem --key-wrap "$FIXTURE_WRAP" >/dev/null
  fixture_define mybackupcert mybackupkey mybackupcred "$TOKEN"
  fixture_keep
}

fixture_untrusted() {
  fixture_signer roguesigner roguecred "Rogue Signer"
  fixture_keep
}

# Two recipients; ours (mybackupcert) is the last one (hbcraft no-recipient drops it).
fixture_backup() { hb secure-backup othercert,mybackupcert "$1" >/dev/null; }

fixture_factory() {
  hb factory-reset --yes >/dev/null
  cp "$T"/fixture/*.pem "$HSMBAK_ROOT/cert/"
  cp "$T/fixture/crypto.xml" "$HSMBAK_ROOT/config/crypto.xml"
}

download() { mkdir -p "$T/download" && cp "$HSMBAK_ROOT"/temporary/*-sscert.pem "$T/download/"; }

save_certs() { mkdir -p "$T/saved-certs" && cp "$HSMBAK_ROOT/cert/"*.pem "$T/saved-certs/"; }

# restore_objects DIR RECIPIENT TOKEN...: the signer's and each recipient's
# certificate from DIR back into cert:, the signer trusted, and each
# recipient's certificate, key and idcred defined.
restore_objects() {
  local from=$1; shift
  cp "$from/signer-sscert.pem" "$HSMBAK_ROOT/cert/"
  fixture_trust signer
  while [ $# -gt 0 ]; do
    cp "$from/$1-sscert.pem" "$HSMBAK_ROOT/cert/"
    fixture_define "$1" "$1" "${1}cred" "$2"
    shift 2
  done
}

prepare_restore() { restore_objects "$T/download" "$@"; }

redefine_objects() { restore_objects "$T/saved-certs" rcpt "$TOKEN"; }

# ---- refusal matrix ---------------------------------------------------------
# ROOT_DIGEST must hold tree_digest of the (factory-state) root beforehand.
MATRIX=$T/matrix.txt

# refused_both CASE WANT FRAGMENT DIR [ARGS...]: secure-restore --validate and
# secure-restore of DIR both refuse with WANT/FRAGMENT; the root is unchanged
# and no staging tree is left; one row of the matrix.
refused_both() {
  local name=$1 want=$2 fragment=$3 dir=$4; shift 4
  must_refuse "$want" "$fragment" hb secure-restore mybackupcred "$dir" --validate "$@"
  local vmsg=$msg
  must_refuse "$want" "$fragment" hb secure-restore mybackupcred "$dir" "$@"
  [ "$vmsg" = "$msg" ] || fail "$name: validate said '$vmsg' but restore said '$msg'"
  [ "$(tree_digest "$HSMBAK_ROOT")" = "$ROOT_DIGEST" ] || fail "$name: the system root changed"
  if compgen -G "$HSMBAK_ROOT.hsmbak-staging-*" >/dev/null; then fail "$name: staging tree left"; fi
  printf '%-40s | %-8s | %-8s | %s\n' "$name" "exit $want" "exit $want" "${msg#hsmbak: }" >> "$MATRIX"
  pass "$name: refused by validate and restore (exit $want), root unchanged"
}

matrix_print() {
  printf '\n%-40s | %-8s | %-8s | %s\n' case validate restore message
  printf '%s\n' "-----------------------------------+----------+----------+--------"
  cat "$MATRIX"
  echo "$(wc -l < "$MATRIX") cases, all refused by both"
}
