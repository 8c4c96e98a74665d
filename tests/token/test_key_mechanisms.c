/* provider/allowed.c and the read back of backup/custody/keygen.c: a key
 * made by `crypto keygen` (hb_keygen) does only what it is for, as the
 * token itself answers when asked directly through PKCS#11.
 *
 * A recipient key: raw RSA (CKM_RSA_X_509) decryption and signature and
 * PKCS#1 v1.5 decryption refused by the token, RSA-OAEP still unwrapping.
 * A signer: raw RSA refused, SHA-256 signatures still made. On a token
 * without CKA_ALLOWED_MECHANISMS (openCryptoki 3.8) the key is reported
 * unlimited with a warning naming the token instead (docs/custody.md
 * "Allowed mechanisms"). ctest runs it on SoftHSM (token/test_key_mechanisms)
 * and on the TPM and openCryptoki (token/test_key_mechanisms_KIND). */
#include "token_helpers.h"

#include "hbfixture.h"

#include "common/x509.h"
#include "hsmbak/custody.h"
#include "hsmbak/keygen.h"
#include "hsmbak/objects.h"

#include <dlfcn.h>
#include <openssl/pem.h>
#include <p11-kit/pkcs11.h>

static hbfix_appliance app;
static CK_FUNCTION_LIST *f;
static CK_SLOT_ID slot;

static bool kind_is(const char *k)
{
    const char *v = getenv("HSMBAK_TEST_TOKEN_KIND");
    return strcmp(v != NULL ? v : "softhsm", k) == 0;
}

/* The test token's module, straight (the provider reaches the same one
 * through p11-kit: already initialised and logged in is fine). */
static void open_module(void)
{
    if (f != NULL)
        return;
    void *h = dlopen(hbtest_env("HSMBAK_TEST_MODULE"), RTLD_NOW);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    CK_C_GetFunctionList gfl = (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList");
    CU_ASSERT_PTR_NOT_NULL_FATAL(gfl);
    CU_ASSERT_EQUAL_FATAL(gfl(&f), CKR_OK);
    CK_RV rv = f->C_Initialize(NULL);
    CU_ASSERT_FATAL(rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED);
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16;
    CU_ASSERT_EQUAL_FATAL(f->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
    const char *want = hbtest_env("HSMBAK_TEST_TOKEN");
    bool found = false;
    for (CK_ULONG i = 0; i < n && !found; i++) {
        CK_TOKEN_INFO ti;
        char label[33];
        if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
            continue;
        size_t len = sizeof ti.label;
        while (len > 0 && ti.label[len - 1] == ' ')
            len--;
        memcpy(label, ti.label, len);
        label[len] = '\0';
        if (strcmp(label, want) == 0) {
            slot = slots[i];
            found = true;
        }
    }
    CU_ASSERT_TRUE_FATAL(found);
}

/* A logged-in session and the private key labelled label. */
static CK_SESSION_HANDLE session_on(const char *label, CK_OBJECT_HANDLE *key)
{
    CK_SESSION_HANDLE s;
    open_module();
    CU_ASSERT_EQUAL_FATAL(f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK);
    char pin[64];
    FILE *pf = fopen(hbtest_env("HSMBAK_TEST_PIN_FILE"), "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(pf);
    size_t pl = fread(pin, 1, sizeof pin, pf);
    fclose(pf);
    CK_RV rv = f->C_Login(s, CKU_USER, (CK_BYTE *)pin, pl);
    CU_ASSERT_FATAL(rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN);
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, (void *)label, strlen(label)}};
    CK_ULONG count = 0;
    CU_ASSERT_EQUAL_FATAL(f->C_FindObjectsInit(s, t, 2), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(f->C_FindObjects(s, key, 1, &count), CKR_OK);
    (void)f->C_FindObjectsFinal(s);
    CU_ASSERT_EQUAL_FATAL(count, 1);
    return s;
}

/* The token's answer to op with mechanism m on the key (init, then the
 * operation on a value below the modulus); CKR_OK: it was done. */
static CK_RV try_op(const char *label, bool decrypt, CK_MECHANISM_TYPE m)
{
    CK_OBJECT_HANDLE key;
    CK_SESSION_HANDLE s = session_on(label, &key);
    CK_BYTE in[256], out[512];
    CK_ULONG outlen = sizeof out;
    memset(in, 0x01, sizeof in);
    in[0] = 0x00;
    CK_MECHANISM mech = {m, NULL, 0};
    CK_RV rv = decrypt ? f->C_DecryptInit(s, &mech, key) : f->C_SignInit(s, &mech, key);
    if (rv == CKR_OK)
        rv = decrypt ? f->C_Decrypt(s, in, sizeof in, out, &outlen)
                     : f->C_Sign(s, in, m == CKM_RSA_X_509 ? sizeof in : 32, out, &outlen);
    (void)f->C_CloseSession(s);
    return rv;
}

static bool refused(CK_RV rv)
{
    if (rv != CKR_MECHANISM_INVALID && rv != CKR_KEY_FUNCTION_NOT_PERMITTED)
        fprintf(stderr, "  the token answered 0x%lx, not a refusal\n", (unsigned long)rv);
    return rv == CKR_MECHANISM_INVALID || rv == CKR_KEY_FUNCTION_NOT_PERMITTED;
}

/* The key's CKA_ALLOWED_MECHANISMS as the token reports it (n = 0: none). */
static CK_ULONG allowed_of(const char *label, CK_MECHANISM_TYPE list[8])
{
    CK_OBJECT_HANDLE key;
    CK_SESSION_HANDLE s = session_on(label, &key);
    CK_ATTRIBUTE a = {CKA_ALLOWED_MECHANISMS, list, 8 * sizeof list[0]};
    CK_RV rv = f->C_GetAttributeValue(s, key, &a, 1);
    (void)f->C_CloseSession(s);
    return rv == CKR_OK ? a.ulValueLen / sizeof list[0] : 0;
}

static hb_keygen_request request(const char *cn, const char *name, hb_key_usage usage,
                                 hb_key_type type)
{
    hb_keygen_request r = {.root = app.root, .token_uri = th_token_uri(0), .dn = {.cn = cn},
                           .key_type = type, .usage = usage, .gen_sscert = true,
                           .csr = true, .file_name = name, .gen_object = true};
    return r;
}

/* What `crypto keygen` says of a token that has no CKA_ALLOWED_MECHANISMS. */
static void assert_reported_unlimited(const hb_keygen_result *res)
{
    CU_ASSERT_STRING_EQUAL(res->mechanisms_limit, "unlimited");
    CU_ASSERT_PTR_NOT_NULL(strstr(res->mechanisms_warning, "ignores CKA_ALLOWED_MECHANISMS"));
    CU_ASSERT_PTR_NOT_NULL(strstr(res->mechanisms_warning, th_token_uri(0) + 13));
}

static void test_recipient_oaep_only(void)
{
    hb_err err = {0};
    hb_keygen_result res;
    hb_keygen_request r = request("Recipient", "recipient", HB_USAGE_RECIPIENT, HB_KEY_RSA2048);
    HBTEST_ASSERT_OK(hb_keygen(app.prov, &r, &res, &err), &err);
    CK_MECHANISM_TYPE list[8];
    CK_ULONG n = allowed_of("recipient", list);
    if (kind_is("opencryptoki")) {
        CU_ASSERT_EQUAL(n, 0);
        assert_reported_unlimited(&res);
    } else {
        /* SoftHSM keeps the list as generated (read-only): OAEP and the
         * sign-only mechanism of the self-signature, CKA_SIGN now FALSE;
         * the TPM takes the narrowing at seal. */
        CU_ASSERT_EQUAL(list[0], CKM_RSA_PKCS_OAEP);
        CU_ASSERT_EQUAL(n, kind_is("softhsm") ? 2 : 1);
        if (n == 2)
            CU_ASSERT_EQUAL(list[1], CKM_SHA256_RSA_PKCS);
        CU_ASSERT_STRING_EQUAL(res.mechanisms_limit, "limited");
        CU_ASSERT_STRING_EQUAL(res.mechanisms_warning, "");
        CU_ASSERT_TRUE(refused(try_op("recipient", true, CKM_RSA_X_509)));
        CU_ASSERT_TRUE(refused(try_op("recipient", true, CKM_RSA_PKCS)));
        CU_ASSERT_TRUE(refused(try_op("recipient", false, CKM_RSA_X_509)));
        CU_ASSERT_TRUE(refused(try_op("recipient", false, CKM_RSA_PKCS)));
        CU_ASSERT_TRUE(refused(try_op("recipient", false, CKM_SHA256_RSA_PKCS)));
    }
    /* RSA-OAEP still opens what was wrapped to the certificate. */
    X509 *cert = NULL;
    HBTEST_ASSERT_OK(hb_provider_load_certificate(
                         app.prov, "pkcs11:token=hsmbak-test;object=recipient;type=cert", &cert,
                         &err),
                     &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cert);
    const uint8_t dek[32] = {7, 7, 7, 1, 2, 3};
    uint8_t *wrapped = NULL, out[512];
    size_t wlen = 0, outlen = sizeof out;
    HBTEST_ASSERT_OK(hb_oaep_encrypt(hb_provider_libctx(app.prov), X509_get0_pubkey(cert),
                                     res.key_wrap, dek, sizeof dek, &wrapped, &wlen, &err),
                     &err);
    EVP_PKEY *key = NULL;
    HBTEST_ASSERT_OK(hb_provider_load_private_key(app.prov, res.key_uri, &key, &err), &err);
    HBTEST_ASSERT_OK(hb_provider_decrypt_oaep(app.prov, key, res.key_wrap, wrapped, wlen, out,
                                              &outlen, &err),
                     &err);
    CU_ASSERT_EQUAL(outlen, sizeof dek);
    CU_ASSERT_EQUAL(memcmp(out, dek, sizeof dek), 0);
    EVP_PKEY_free(key);
    OPENSSL_free(wrapped);
    X509_free(cert);
}

/* Before seal (what the self-signature and the enrollment's proof of
 * possession sign with): SHA-256 signatures work, and PKCS#1 v1.5 or raw
 * decryption is refused already. */
static void test_unsealed_signs_sha256_only(void)
{
    char *priv = NULL, *pub = NULL;
    hb_err err = {0};
    th_keygen(app.prov, 0, "unsealed", HB_KEY_RSA2048, HB_USAGE_RECIPIENT_UNSEALED, &priv, &pub);
    EVP_PKEY *key = NULL;
    HBTEST_ASSERT_OK(hb_provider_load_private_key(app.prov, priv, &key, &err), &err);
    uint8_t *sig = NULL;
    size_t siglen = 0;
    const uint8_t msg[] = "enrollment entry";
    HBTEST_ASSERT_OK(hb_provider_sign_sha256(app.prov, key, msg, sizeof msg, &sig, &siglen, &err),
                     &err);
    if (!kind_is("opencryptoki")) {
        CU_ASSERT_TRUE(refused(try_op("unsealed", true, CKM_RSA_X_509)));
        CU_ASSERT_TRUE(refused(try_op("unsealed", true, CKM_RSA_PKCS)));
        CU_ASSERT_TRUE(refused(try_op("unsealed", false, CKM_RSA_X_509)));
    }
    HBTEST_ASSERT_OK(hb_token_key_seal(app.prov, priv, &err), &err);
    hb_key_mechanisms m;
    HBTEST_ASSERT_OK(hb_token_key_mechanisms(app.prov, priv, &m, &err), &err);
    CU_ASSERT_EQUAL(m.limit, kind_is("opencryptoki") ? HB_MECH_UNLIMITED : HB_MECH_LIMITED);
    if (kind_is("softhsm"))
        CU_ASSERT_STRING_EQUAL(m.allowed, "rsa-oaep,sha256-rsa-pkcs");
    if (kind_is("tpm"))
        CU_ASSERT_STRING_EQUAL(m.allowed, "rsa-oaep");
    OPENSSL_free(sig);
    EVP_PKEY_free(key);
    free(priv);
    free(pub);
}

static void test_signers_sign_only(void)
{
    hb_err err = {0};
    hb_keygen_result res;
    hb_keygen_request r = request("Signer", "signer", HB_USAGE_SIGNER, HB_KEY_RSA2048);
    HBTEST_ASSERT_OK(hb_keygen(app.prov, &r, &res, &err), &err);
    CK_MECHANISM_TYPE list[8];
    CK_ULONG n = allowed_of("signer", list);
    if (kind_is("opencryptoki")) {
        assert_reported_unlimited(&res);
    } else {
        CU_ASSERT_EQUAL(n, 1);
        CU_ASSERT_EQUAL(list[0], CKM_SHA256_RSA_PKCS);
        CU_ASSERT_STRING_EQUAL(res.mechanisms_limit, "limited");
        CU_ASSERT_TRUE(refused(try_op("signer", false, CKM_RSA_X_509)));
        CU_ASSERT_TRUE(refused(try_op("signer", false, CKM_RSA_PKCS)));
        CU_ASSERT_TRUE(refused(try_op("signer", true, CKM_RSA_X_509)));
    }
    /* openCryptoki 3.8 makes no EC keys; on the TPM the emulator's
     * resource manager has run out of object contexts for this process by
     * now (some ten keys used): e2e/token_matrix_tpm makes EC signers. */
    if (kind_is("opencryptoki") || kind_is("tpm"))
        return;
    r = request("Signer EC", "signer-ec", HB_USAGE_SIGNER, HB_KEY_EC_P256);
    HBTEST_ASSERT_OK(hb_keygen(app.prov, &r, &res, &err), &err);
    n = allowed_of("signer-ec", list);
    CU_ASSERT_TRUE(n >= 1 && list[0] == CKM_ECDSA);
    CU_ASSERT_STRING_EQUAL(res.mechanisms_limit, "limited");
}

/* ceremony enroll: the same key, the same read back, in the result, the
 * key object (ceremony list) and refused by the token when asked. */
static void test_enrolled_recipient(void)
{
    hb_err err = {0};
    hb_keygen_result kr;
    hb_keygen_request kq = request("Backup Signer", "bsigner", HB_USAGE_SIGNER, HB_KEY_RSA2048);
    HBTEST_ASSERT_OK(hb_keygen(app.prov, &kq, &kr, &err), &err);
    hb_object_store *s = hbfix_objects(app.root);
    bool created;
    HBTEST_ASSERT_OK(hb_objects_set_idcred(s, "bsigner", "bsigner", "bsigner", &created, &err),
                     &err);
    HBTEST_ASSERT_OK(hb_objects_set_backup_signer(s, "bsigner", &err), &err);
    hbfix_objects_save(s);
    static const char *const who[] = {"erin"};
    hb_enroll_request r = {.root = app.root, .token_uri = th_token_uri(0), .custodians = who,
                           .n_custodians = 1, .name = "erin", .key_type = HB_KEY_RSA2048};
    hb_enroll_result res;
    HBTEST_ASSERT_OK(hb_ceremony_enroll(app.prov, &r, &res, &err), &err);
    s = hbfix_objects(app.root);
    const hb_crypto_object *key = hb_objects_find(s, HB_OBJECT_KEY, "erin");
    CU_ASSERT_PTR_NOT_NULL_FATAL(key);
    if (kind_is("opencryptoki")) {
        CU_ASSERT_STRING_EQUAL(res.mechanisms_limit, "unlimited");
        CU_ASSERT_PTR_NOT_NULL(strstr(res.mechanisms_warning, "ignores CKA_ALLOWED_MECHANISMS"));
        CU_ASSERT_STRING_EQUAL(key->mechanisms, "unlimited");
    } else {
        const char *want = kind_is("softhsm") ? "rsa-oaep,sha256-rsa-pkcs" : "rsa-oaep";
        CU_ASSERT_STRING_EQUAL(res.mechanisms_limit, "limited");
        CU_ASSERT_STRING_EQUAL(res.allowed_mechanisms, want);
        CU_ASSERT_STRING_EQUAL(res.mechanisms_warning, "");
        CU_ASSERT_STRING_EQUAL(key->mechanisms, "limited");
        CU_ASSERT_STRING_EQUAL(key->allowed_mechanisms, want);
        CU_ASSERT_TRUE(refused(try_op("erin", true, CKM_RSA_X_509)));
        CU_ASSERT_TRUE(refused(try_op("erin", true, CKM_RSA_PKCS)));
        CU_ASSERT_TRUE(refused(try_op("erin", false, CKM_RSA_X_509)));
    }
    /* Redefined to another key, the object no longer claims the facts. */
    bool made;
    HBTEST_ASSERT_OK(hb_objects_set_key(s, "erin", "pkcs11:token=hsmbak-test;object=signer;type=private",
                                        &made, &err),
                     &err);
    key = hb_objects_find(s, HB_OBJECT_KEY, "erin");
    CU_ASSERT_STRING_EQUAL(key->mechanisms, "");
    CU_ASSERT_STRING_EQUAL(key->allowed_mechanisms, "");
    hb_objects_free(s);
    hb_enroll_result_free(&res);
}

int main(void)
{
    /* Enrollment first: on the TPM emulator one process runs out of object
     * contexts after some ten keys used. */
    static const hbtest_case cases[] = {
        {"ceremony enroll: read back, recorded, refused by the token", test_enrolled_recipient},
        {"recipient: only RSA-OAEP, raw RSA and PKCS#1 v1.5 refused by the token",
         test_recipient_oaep_only},
        {"unsealed recipient: SHA-256 signatures, no v1.5 or raw decryption",
         test_unsealed_signs_sha256_only},
        {"signers: their signing mechanism only", test_signers_sign_only},
        {NULL, NULL},
    };
    return hbfix_appliance_main("key-mechanisms", cases, &app);
}
