/* How many token objects a pkcs11: URI names (provider/token.h). A URI the
 * shell cut at its first ';' ("pkcs11:token=backup") names every object on
 * the token, and OSSL_STORE would silently take the first; the layers
 * above refuse such a URI at definition, and this says how many it names.
 *
 * Only what a session without login sees is counted (RFC 7512 §2.3 object
 * attributes: object, id, type): private keys are usually CKA_PRIVATE, so a
 * key URI is counted through its public half (type=public). */
#include "provider/provider_internal.h"

#include "common/buf.h"

#include <stdlib.h>
#include <string.h>

#define BATCH 16

/* One more label for the list "a, b, c", which ends in "..." once the
 * next one does not fit. */
static void add_label(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                      char *labels, size_t cap)
{
    char label[129] = "";
    CK_ATTRIBUTE a = {CKA_LABEL, label, sizeof label - 1};
    size_t used = strlen(labels);
    hb_err ignored;
    if (strstr(labels, "...") != NULL || f->C_GetAttributeValue(s, o, &a, 1) != CKR_OK ||
        a.ulValueLen >= sizeof label)
        return;
    label[a.ulValueLen] = '\0';
    if (hb_format(labels + used, cap - used, "labels", &ignored, "%s%s", used ? ", " : "",
                  label) == HB_OK)
        return;
    labels[used] = '\0';
    if (hb_format(labels + used, cap - used, "labels", &ignored, "%s...", used ? ", " : "") !=
        HB_OK)
        labels[used] = '\0';
}

hb_status hb_token_count_matches(hb_provider *p, const char *uri, size_t *count, char *labels,
                                 size_t cap, hb_err *err)
{
    hb_status st = HB_OK;
    hb_token_session ts = {.s = CK_INVALID_HANDLE};
    P11KitUri *u = NULL;
    CK_ATTRIBUTE tmpl[8];
    CK_ULONG n = 0, nattr = 0, got = 0;
    CK_BBOOL on_token = CK_TRUE;
    CK_OBJECT_HANDLE found[BATCH];
    bool searching = false;
    size_t total = 0;
    if (cap == 0)
        labels = NULL;
    if (labels != NULL)
        labels[0] = '\0';
    HB_ENSURE(p != NULL && uri != NULL && count != NULL, HB_E_USAGE,
              "object count: missing argument");
    HB_TRY(hb_token_session_open(p, uri, false, false, &ts, err));
    HB_TRY(hb_uri_parse(ts.uri, &u, err));
    CK_ATTRIBUTE *a = p11_kit_uri_get_attributes(u, &nattr);
    for (CK_ULONG i = 0; i < nattr && n < 7; i++)
        tmpl[n++] = a[i];
    /* Token objects only: pkcs11-provider may add session objects. */
    tmpl[n++] = (CK_ATTRIBUTE){CKA_TOKEN, &on_token, sizeof on_token};
    CK_RV rv = ts.f->C_FindObjectsInit(ts.s, tmpl, n);
    HB_ENSURE(rv == CKR_OK, HB_E_TOKEN, "cannot search %s: %s", ts.what, hb_ckr_name(rv));
    searching = true;
    do {
        rv = ts.f->C_FindObjects(ts.s, found, BATCH, &got);
        HB_ENSURE(rv == CKR_OK, HB_E_TOKEN, "cannot search %s: %s", ts.what, hb_ckr_name(rv));
        for (CK_ULONG i = 0; i < got && labels != NULL; i++)
            add_label(ts.f, ts.s, found[i], labels, cap);
        total += got;
    } while (got == BATCH);
    *count = total;
cleanup:
    if (searching)
        (void)ts.f->C_FindObjectsFinal(ts.s);
    hb_token_session_close(&ts);
    if (u != NULL)
        p11_kit_uri_free(u);
    return st;
}
