# Issue 2: keygen on the token, crypto objects with live status, and every
# bad input a one-line error with a non-zero exit that leaves the store as it was.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"

hb system init --profile appliance >/dev/null
pass "system init"

# --- keygen: recipient (RSA) and signer (EC), certificates signed on the token
hb crypto keygen --cn "My Backup Cert" --token "pkcs11:token=$TOKEN" --gen-sscert \
   --file-name mybackupcert --export-sscert > "$T/keygen.out"
grep -q "Saved self-signed certificate in 'cert:///mybackupcert-sscert.pem'" "$T/keygen.out" || fail "keygen output"
grep -q "unwraps with $FIXTURE_WRAP (probed)" "$T/keygen.out" || fail "probe result not reported: $(cat "$T/keygen.out")"
[ -f "$HSMBAK_ROOT/temporary/mybackupcert-sscert.pem" ] || fail "export-sscert"
[ "$(stat -c %a "$HSMBAK_ROOT/cert/mybackupcert-sscert.pem")" = 600 ] || fail "cert file mode"
pass "keygen recipient with self-signed certificate"

hb crypto keygen --cn "Backup Signer" --usage signer --key-type "$FIXTURE_SIGNER_TYPE" --token "pkcs11:token=$TOKEN" \
   --gen-sscert --file-name signer --gen-object >/dev/null
pass "keygen signer with --gen-object"

# The self-signed certificate verifies with the default provider only.
openssl verify -CAfile "$HSMBAK_ROOT/cert/mybackupcert-sscert.pem" "$HSMBAK_ROOT/cert/mybackupcert-sscert.pem" >/dev/null \
  || fail "self-signed recipient certificate does not verify"
openssl verify -CAfile "$HSMBAK_ROOT/cert/signer-sscert.pem" "$HSMBAK_ROOT/cert/signer-sscert.pem" >/dev/null \
  || fail "self-signed signer certificate does not verify"
pass "certificates signed on the token verify with stock openssl"

# Attributes as the token reports them.
hb token list --token "pkcs11:token=$TOKEN" --login > "$T/list.out"
grep -A2 "private-key  mybackupcert" "$T/list.out" | grep -q "sensitive yes, always-sensitive yes, extractable no, never-extractable yes, decrypt yes, unwrap yes, sign no" \
  || fail "recipient key attributes: $(cat "$T/list.out")"
grep -A2 "private-key  signer" "$T/list.out" | grep -q "extractable no, never-extractable yes, decrypt no, unwrap no, sign yes" \
  || fail "signer key attributes"
pass "token list reports sensitive, never-extractable keys with split usage"

expect_fail 6 "--export-key is refused" hb crypto keygen --cn x --token "pkcs11:token=$TOKEN" --export-key

# --- objects, as in the seed's walkthrough
hb crypto certificate mybackupcert cert:///mybackupcert-sscert.pem --key-wrap "$FIXTURE_WRAP" | grep -q "Creating certificate 'mybackupcert'"
hb crypto key mybackupkey "pkcs11:token=$TOKEN;object=mybackupcert;type=private" | grep -q "Creating key 'mybackupkey'"
hb crypto idcred mybackupcred mybackupkey mybackupcert | grep -q "Creating Identification Credentials 'mybackupcred'"
hb crypto show idcred mybackupcred > "$T/show.out"
grep -q "idcred: mybackupcred \[up\]" "$T/show.out" || fail "idcred not up: $(cat "$T/show.out")"
grep -q "key mybackupkey \[up\]" "$T/show.out" || fail "key not up"
pass "certificate, key and idcred objects are up"

store=$HSMBAK_ROOT/config/crypto.xml
before=$(sha256sum "$store")
expect_fail 3 "no such" hb crypto certificate c2 cert:///missing.pem
echo "not a certificate" > "$HSMBAK_ROOT/cert/junk.pem"
expect_fail 5 "is not a certificate" hb crypto certificate c2 cert:///junk.pem
expect_fail 3 "nosuchkey" hb crypto key k2 "pkcs11:token=$TOKEN;object=nosuchkey;type=private"
expect_fail 3 "nosuchtoken" hb crypto key k2 "pkcs11:token=nosuchtoken;object=mybackupcert;type=private"
expect_fail 2 "not a PKCS#11 URI" hb crypto key k2 "pkcs12:token=$TOKEN;object=mybackupcert"
expect_fail 2 "PIN may not be stored" hb crypto key k2 "pkcs11:token=$TOKEN;object=x;type=private;pin-value=1234"
hb crypto certificate signercert cert:///signer-sscert.pem >/dev/null
after_cert=$(sha256sum "$store")
expect_fail 6 "do not match" hb crypto idcred bad mybackupkey signercert
expect_fail 3 "no key named" hb crypto idcred bad nokey mybackupcert
[ "$(sha256sum "$store")" = "$after_cert" ] || fail "a refused definition changed the store"
pass "refused definitions leave the object store unchanged"

# Wrong PIN: a one-line error naming the URI, nothing changed.
echo 00000000 > "$T/wrong.pin"
expect_fail 4 "PIN" "$HSMBAK_BIN" --pin-source "file:$T/wrong.pin" crypto keygen --cn w --token "pkcs11:token=$TOKEN" --file-name w
expect_fail 2 "never taken on the command line" "$HSMBAK_BIN" --pin 1234 token list
[ "$(sha256sum "$store")" = "$after_cert" ] || fail "store changed"

# Status goes down with its reason.
mv "$HSMBAK_ROOT/cert/mybackupcert-sscert.pem" "$T/"
hb crypto show certificate mybackupcert | grep -q "certificate: mybackupcert \[down\]" || fail "missing file not down"
mv "$T/mybackupcert-sscert.pem" "$HSMBAK_ROOT/cert/"
hb crypto delete idcred mybackupcred | grep -q "Deleted idcred"
expect_fail 3 "no idcred named" hb crypto delete idcred mybackupcred
pass "status and delete"
finish
