# Issue 2: keys that hsmbak makes are usable by independent PKCS#11 clients —
# the stock openssl CLI with hsm-config/openssl.cnf (pkcs11-provider), and
# libp11's engine (not on the TPM: see 2.), OpenSC's pkcs11-tool — and
# hsmbak's signatures verify with the default provider.
. "$HSMBAK_SRC/tests/lib/e2e.sh"

hb system init --profile appliance >/dev/null
hb crypto keygen --cn "Interop" --token "pkcs11:token=$TOKEN" --gen-sscert --file-name interop >/dev/null
cert=$HSMBAK_ROOT/cert/interop-sscert.pem
openssl x509 -in "$cert" -pubkey -noout > "$T/pub.pem"
head -c 32 /dev/urandom > "$T/dek"
openssl pkeyutl -encrypt -pubin -inkey "$T/pub.pem" -pkeyopt rsa_padding_mode:oaep \
  -pkeyopt rsa_oaep_md:sha1 -pkeyopt rsa_mgf1_md:sha1 -in "$T/dek" -out "$T/wrapped"

# 1. stock openssl + pkcs11-provider through the repo's snippet.
OPENSSL_CONF=$HSMBAK_SRC/hsm-config/openssl.cnf openssl pkeyutl -decrypt \
  -inkey "pkcs11:token=$TOKEN;object=interop;type=private?pin-source=file:$PIN_FILE" \
  -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha1 -pkeyopt rsa_mgf1_md:sha1 \
  -in "$T/wrapped" -out "$T/dek.provider" 2>"$T/provider.err" || fail "openssl+pkcs11-provider: $(cat "$T/provider.err")"
cmp -s "$T/dek" "$T/dek.provider" || fail "pkcs11-provider decrypted something else"
pass "stock openssl with hsm-config/openssl.cnf unwraps on the token"

# 2. libp11's engine, an independent PKCS#11 client. Not on the TPM: the
#    engine brings EVP_PKEY methods for RSA and EC into the process, and
#    tpm2-tss, which does its auth-session crypto with the same in-process
#    OpenSSL, then fails to build the TPM's public key ("fromdata_init:
#    operation not supported for this keytype", pmeth_gn.c:351), so the
#    engine's C_Login ends in Esys_StartAuthSession's catch-all error and
#    CKR_GENERAL_ERROR (with -engine and with the engine loaded by
#    configuration alike). OpenSC's pkcs11-tool (3.) logs in and decrypts
#    with the same key there.
if [ "${HSMBAK_TEST_TOKEN_KIND:-softhsm}" != tpm ]; then
  cat > "$T/engine.cnf" <<CNF
openssl_conf = openssl_init
[openssl_init]
engines = engine_section
[engine_section]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
dynamic_path = /usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so
MODULE_PATH = ${HSMBAK_TEST_MODULE:-/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so}
init = 0
CNF
  OPENSSL_CONF=$T/engine.cnf openssl pkeyutl -decrypt -engine pkcs11 -keyform engine \
    -inkey "pkcs11:token=$TOKEN;object=interop;type=private" -passin "file:$PIN_FILE" \
    -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha1 -pkeyopt rsa_mgf1_md:sha1 \
    -in "$T/wrapped" -out "$T/dek.engine" 2>"$T/engine.err" || fail "libp11 engine: $(cat "$T/engine.err")"
  cmp -s "$T/dek" "$T/dek.engine" || fail "libp11 engine decrypted something else"
  pass "libp11's engine unwraps with the same token key"
fi

# 3. On the TPM, OpenSC's pkcs11-tool is the second client, straight to the
#    module. (On SoftHSM 2.6.1, pkcs11-tool 0.23 finds no private key to
#    decrypt with, also with --login: libp11 is the second client there.)
if [ "${HSMBAK_TEST_TOKEN_KIND:-softhsm}" = tpm ]; then
  HB_P11_PIN=$(cat "$PIN_FILE") pkcs11-tool --module "${HSMBAK_TEST_MODULE:-/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so}" \
    --token-label "$TOKEN" --login --pin env:HB_P11_PIN --decrypt -m RSA-PKCS-OAEP \
    --hash-algorithm SHA-1 --mgf MGF1-SHA1 --label interop --input-file "$T/wrapped" \
    --output-file "$T/dek.p11tool" >"$T/p11tool.err" 2>&1 || fail "pkcs11-tool: $(cat "$T/p11tool.err")"
  cmp -s "$T/dek" "$T/dek.p11tool" || fail "pkcs11-tool decrypted something else"
  pass "OpenSC's pkcs11-tool unwraps with the same token key"
fi

# 4. The certificate's signature (made on the token) verifies with the
#    default provider only.
openssl verify -CAfile "$cert" "$cert" >/dev/null || fail "signature made on the token does not verify"
pass "token-made signature verifies with the default provider"
finish
