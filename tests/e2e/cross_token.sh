# Issue 12: one backup, keys on three PKCS#11 implementations at once. The
# signer is on SoftHSM; a backup made for two recipients, one on the TPM 2.0
# emulator and one on openCryptoki, restores with either token alone (each
# unwraps RSA-OAEP-SHA256, probed per recipient); a 2-of-3 quorum with one
# member on each implementation opens with any two and with no one alone,
# and restores with the TPM and openCryptoki members. Runs under
# HSMBAK_TEST_TOKEN=softhsm,tpm,opencryptoki (tests/CMakeLists.txt): one
# hsmbak process sees the three token sets through the p11-kit proxy.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"
s=hsmbak-softhsm t=hsmbak-tpm o=hsmbak-opencryptoki
for l in $s $t $o; do
  case " $HSMBAK_TEST_TOKENS " in *" $l "*) ;; *) fail "token $l missing: run with HSMBAK_TEST_TOKEN=softhsm,tpm,opencryptoki";; esac
done
FIXTURE_SIGNER_TYPE=ec:p256
make_system "$s"
add_recipient ontpm "$t"
add_recipient onocki "$o"
hb --json crypto show > "$T/show.json"
json_ok "$T/show.json" '[.result.objects[] | select(.type == "certificate") | {(.name): .key_wrap}] | add |
  .rcpt == "rsa-oaep-sha1" and .ontpm == "rsa-oaep-sha256" and .onocki == "rsa-oaep-sha256"' \
  "the key-wrap probed per recipient"
pass "key-wraps probed per token: SoftHSM rsa-oaep-sha1, TPM and openCryptoki rsa-oaep-sha256"

out=$(hb secure-backup ontpm,onocki "$T/b" 2>&1)
case "$out" in *"Self-check: 2 recipient key(s) on this system's tokens opened the backup."*"Secure backup is complete."*) ;;
  *) fail "backup to the TPM and openCryptoki recipients said: $out";; esac
[ "$(grep -c '<key-wrap>rsa-oaep-sha256</key-wrap>' "$T/b/backupmanifest.xml")" -eq 2 ] || fail "the manifest lacks the SHA-256 wraps"
xmlsec1 --verify --enabled-key-data x509 --insecure "$T/b/backupmanifest.xml" >/dev/null 2>&1 ||
  fail "stock xmlsec1 refuses the manifest signed on SoftHSM"
pass "one backup for a TPM and an openCryptoki recipient, signed on SoftHSM, self-checked on both, verified by xmlsec1"
download
cp -a "$HSMBAK_ROOT" "$T/original"
for who in ontpm onocki; do
  tok=$t; [ $who = onocki ] && tok=$o
  hb factory-reset --yes >/dev/null
  prepare_restore "$who" "$tok"
  hb secure-restore "${who}cred" "$T/b" >/dev/null || fail "restore with $who ($tok)"
  diff -rq --no-dereference -x temporary -x .hsmbak -x admin -x ipmi.cfg "$T/original" "$HSMBAK_ROOT" ||
    fail "restore with $who differs"
  pass "restored with the $who recipient's token ($tok) alone: nothing lost"
done

# A 2-of-3 quorum across the three implementations.
hb factory-reset --yes >/dev/null
R=$HSMBAK_ROOT
cp "$T/original/cert/"signer-sscert.pem "$R/cert/"
cp "$T/original/config/crypto.xml" "$T/crypto.xml"
make_system_again() { # the signer objects back (its key stayed on its token)
  hb crypto certificate signer cert:///signer-sscert.pem >/dev/null
  hb crypto key signer "pkcs11:token=$s;object=signer;type=private" >/dev/null
  hb crypto idcred signercred signer signer >/dev/null
  fixture_backup_signer signercred signer
}
make_system_again
fixture_populate
hb ceremony enroll --token "pkcs11:token=$s" --custodian alice --name alice >/dev/null
hb ceremony enroll --token "pkcs11:token=$t" --custodian bob --name bob >/dev/null
hb ceremony enroll --token "pkcs11:token=$o" --custodian carol --name carol >/dev/null
hb ceremony quorum vault --threshold 2 alice bob carol --custodian alice --custodian bob >/dev/null
hb secure-backup vault temporary:///q >/dev/null || fail "quorum backup across three tokens"
for pair in "alice bob" "bob carol" "carol alice"; do
  set -- $pair
  hb secure-restore --idcred "$1" --idcred "$2" temporary:///q --validate >/dev/null ||
    fail "the quorum does not open with $1 and $2"
done
for who in alice bob carol; do
  must_refuse 6 "only 1 is present ($who); 1 more needed" hb secure-restore --idcred "$who" temporary:///q --validate
done
pass "2-of-3 quorum with a member on SoftHSM, the TPM and openCryptoki opens with any two, with no one alone"

before=$(tree_digest "$R/config")
mkdir "$T/certs" && cp "$R/cert/bob-sscert.pem" "$R/cert/carol-sscert.pem" "$R/cert/signer-sscert.pem" "$T/certs/"
cp -a "$R/temporary/q" "$T/q"
hb factory-reset --yes >/dev/null
cp "$T/certs/"*.pem "$R/cert/"
fixture_trust signer
fixture_define bob bob bob "$t"
fixture_define carol carol carol "$o"
hb secure-restore --idcred bob --idcred carol "$T/q" >/dev/null || fail "quorum restore with the TPM and openCryptoki members"
[ "$(tree_digest "$R/config")" = "$before" ] || fail "the quorum restore lost something in config"
pass "restored from the quorum backup with the TPM and openCryptoki members: config identical"
finish
