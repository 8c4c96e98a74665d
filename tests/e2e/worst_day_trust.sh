# Issue 11, class 3: trust means currently valid. A backup validly signed by
# a certificate that has expired, is not valid yet, or whose object is
# disabled is refused by --validate and by restore, through the
# trusted-signer list and through --signer alike (one rule, trust.c); the
# root, a file beside it and a decoy outside it are byte-identical after
# each refusal. `crypto trusted-signer` warns about such a certificate.
# Controls: the same backup restores once the object says ignore-expiration.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"
: "${HSMBAK_CRAFT:?run through ctest (HSMBAK_CRAFT)}"

fixture_system
fixture_backup "$T/b1"
blob=$(sha256sum < "$HSMBAK_ROOT/config/blob.bin")
fixture_factory
SIGNER="pkcs11:token=$TOKEN;object=backupsigner;type=private"
mkdir -p "$T/decoy" && echo decoy > "$T/decoy/file" && echo beside > "$T/beside"

# reissue NAME FROM,TO: $T/NAME, b1 signed by the signer's key under a
# certificate valid FROM..TO days from now, defined as certificate NAME.
reissue() {
  local name=$1
  HBCRAFT_SIGNER_DAYS=$2 HBCRAFT_SIGNER_OUT="$HSMBAK_ROOT/cert/$1-sscert.pem" \
    "$HSMBAK_CRAFT" none "$T/b1" "$T/$1" "$SIGNER" "$T/fixture/backupsigner-sscert.pem" \
    "file:$PIN_FILE" || fail "hbcraft for $1"
  shift 2
  hb crypto certificate "$name" "cert:///$name-sscert.pem" "$@" >/dev/null
}
reissue expired -30,-1
reissue early 2,30
reissue disabled -1,30 --disable
for c in expired early disabled; do
  out=$(hb crypto trusted-signer "$c" 2>&1)
  case "$c:$out" in
    expired:*"warning: certificate 'expired' vouches for no backup now: its certificate expired on "*) ;;
    early:*"warning: certificate 'early' vouches for no backup now: its certificate is not valid until "*) ;;
    disabled:*"warning: certificate 'disabled' vouches for no backup now: its certificate object 'disabled' is disabled"*) ;;
    *) fail "trusted-signer $c said: $out";;
  esac
done
out=$(hb crypto trusted-signer backupsigner 2>&1)
[ "$out" = "Certificate 'backupsigner' is now trusted to sign backups" ] ||
  fail "a valid signer was warned about: $out"
pass "crypto trusted-signer warns about an expired, a not yet valid and a disabled certificate, not a valid one"

digests() { echo "$(tree_digest "$HSMBAK_ROOT") $(tree_digest "$T/decoy") $(sha256sum < "$T/beside")"; }
before=$(digests)
unchanged() {
  [ "$(digests)" = "$before" ] || fail "$1: the root, the decoy or the file beside changed"
  if compgen -G "$HSMBAK_ROOT.hsmbak-staging-*" >/dev/null; then fail "$1: a staging tree is left"; fi
}
while IFS='|' read -r name fragment; do
  for how in list signer; do
    args=()
    [ $how = signer ] && args=(--signer "$name")
    must_refuse 6 "$fragment" hb secure-restore mybackupcred "$T/$name" --validate "${args[@]}"
    must_refuse 6 "$fragment" hb secure-restore mybackupcred "$T/$name" "${args[@]}"
    unchanged "$name ($how)"
  done
  pass "$name: refused by --validate and restore, listed and named with --signer; nothing changed"
done <<'CASES'
expired|which this system does not trust now: its certificate expired on
early|which this system does not trust now: its certificate is not valid until
disabled|which this system does not trust now: its certificate object 'disabled' is disabled; define it again without --disable
CASES
msg=$(hb secure-restore mybackupcred "$T/expired" --validate 2>&1 >/dev/null || true)
case "$msg" in *"(certificate object 'expired'); renew it, or define the object with --ignore-expiration"*) ;;
  *) fail "the refusal does not say what to do: $msg";; esac
pass "the refusal names the object and what to do"

# Controls: ignore-expiration trusts the expired certificate again (never a
# disabled one); the backup validates and restores.
hb crypto certificate disabled cert:///disabled-sscert.pem --disable --ignore-expiration >/dev/null
must_refuse 6 "is disabled" hb secure-restore mybackupcred "$T/disabled" --validate --signer disabled
hb crypto certificate expired cert:///expired-sscert.pem --ignore-expiration >/dev/null
hb secure-restore mybackupcred "$T/expired" --validate >/dev/null || fail "ignore-expiration: validate refused"
hb secure-restore mybackupcred "$T/expired" >/dev/null || fail "ignore-expiration: restore refused"
[ "$(sha256sum < "$HSMBAK_ROOT/config/blob.bin")" = "$blob" ] || fail "the restore did not bring config back"
pass "control: with ignore-expiration the expired signer's backup validates and restores; a disabled one stays refused"
finish
