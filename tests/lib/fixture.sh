# Shared fixture for the hardening e2e tests (sourced after tests/lib/e2e.sh).
#
#   fixture_system        an appliance root (profile $FIXTURE_PROFILE, default
#                         the built-in appliance) ($HSMBAK_ROOT) with settings and
#                         secrets, a backup signer (EC P-256) and a backup
#                         recipient (RSA 2048) on the test token, the signer
#                         trusted, the recipient's idcred 'mybackupcred'
#   fixture_backup DIR    secure-backup to DIR (a path outside the root)
#   fixture_factory       factory-reset, then put the crypto objects and the
#                         certificates back (both are ignored by the factory
#                         state check), ready for secure-restore
#   fixture_untrusted     a second signer 'roguecred' on the token, defined
#                         but not trusted (for re-signing attacks)
# Everything lives under $T.

fixture_populate() {
  local r=$HSMBAK_ROOT
  echo 'admin:$6$operator$changed-by-the-operator' > "$r/root/users/admin"
  printf 'hostname mqa-test\nntp-server 192.0.2.10\n' > "$r/config/mqa.cfg"
  head -c 200000 /dev/urandom > "$r/config/blob.bin"
  mkdir -p "$r/local/scripts" && printf '#!/bin/sh\necho healthy\n' > "$r/local/scripts/health.sh"
  chmod 755 "$r/local/scripts/health.sh" && ln -sf scripts/health.sh "$r/local/health"
  printf 'ldap-bind:%s\n' "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" > "$r/password-map/password-map"
  printf 'app1:secret1:mqm\n' > "$r/mq-users/users"
  echo 'ipmi-user admin secret-bmc-password' > "$r/ipmi/ipmi.cfg"
}

fixture_system() {
  hb system init --profile "${FIXTURE_PROFILE:-appliance}" --version 9.3.5.0 >/dev/null
  fixture_populate
  hb crypto keygen --cn "Backup Signer" --usage signer --key-type ec:p256 --token "pkcs11:token=$TOKEN" \
     --gen-sscert --file-name backupsigner --gen-object >/dev/null
  hb crypto idcred signercred backupsigner backupsigner >/dev/null
  hb crypto backup-signer signercred >/dev/null
  hb crypto trusted-signer backupsigner >/dev/null
  hb crypto keygen --cn "My Backup Cert" --token "pkcs11:token=$TOKEN" --gen-sscert \
     --file-name mybackupcert >/dev/null
  hb crypto keygen --cn "Other Backup Cert" --token "pkcs11:token=$TOKEN" --gen-sscert \
     --file-name othercert >/dev/null
  hb crypto certificate othercert cert:///othercert-sscert.pem --key-wrap rsa-oaep-sha1 >/dev/null
  hb crypto certificate mybackupcert cert:///mybackupcert-sscert.pem --key-wrap rsa-oaep-sha1 >/dev/null
  hb crypto key mybackupkey "pkcs11:token=$TOKEN;object=mybackupcert;type=private" >/dev/null
  hb crypto idcred mybackupcred mybackupkey mybackupcert >/dev/null
  mkdir -p "$T/fixture"
  cp "$HSMBAK_ROOT/config/crypto.xml" "$T/fixture/crypto.xml"
  cp "$HSMBAK_ROOT"/cert/*.pem "$T/fixture/"
}

fixture_untrusted() {
  hb crypto keygen --cn "Rogue Signer" --usage signer --key-type ec:p256 --token "pkcs11:token=$TOKEN" \
     --gen-sscert --file-name roguesigner --gen-object >/dev/null
  hb crypto idcred roguecred roguesigner roguesigner >/dev/null
  cp "$HSMBAK_ROOT/config/crypto.xml" "$T/fixture/crypto.xml"
  cp "$HSMBAK_ROOT"/cert/*.pem "$T/fixture/"
}

# Two recipients; ours (mybackupcert) is the last one (hbcraft no-recipient drops it).
fixture_backup() { hb secure-backup othercert,mybackupcert "$1" >/dev/null; }

fixture_factory() {
  hb factory-reset --yes >/dev/null
  cp "$T"/fixture/*.pem "$HSMBAK_ROOT/cert/"
  cp "$T/fixture/crypto.xml" "$HSMBAK_ROOT/config/crypto.xml"
}

# ---- refusal matrix ---------------------------------------------------------
# ROOT_DIGEST must hold tree_digest of the (factory-state) root beforehand.
MATRIX=$T/matrix.txt

# must_refuse WANT FRAGMENT CMD...: CMD exits WANT with one stderr line
# holding FRAGMENT; sets $msg to that line.
must_refuse() {
  local want=$1 fragment=$2; shift 2
  local rc=0
  msg=$("$@" 2>&1 >/dev/null) || rc=$?
  [ "$rc" -eq "$want" ] || fail "'$*' exited $rc, want $want: $msg"
  [ "$(printf '%s\n' "$msg" | wc -l)" -eq 1 ] || fail "'$*' printed more than one line: $msg"
  case "$msg" in *"$fragment"*) ;; *) fail "'$*' said '$msg', want '$fragment'";; esac
}

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
