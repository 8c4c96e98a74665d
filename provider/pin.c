/* PINs: from a URI's pin-source (RFC 7512 §2.4), the configured source
 * (--pin-source file:PATH|env:VAR), or a no-echo prompt on a terminal. Never
 * from the command line, never logged; every buffer that held one is wiped. */
#include "provider/provider_internal.h"

#include "common/fileio.h"
#include "common/fail.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One line: a trailing newline (and CR) is not part of the PIN. */
static hb_status pin_copy(const char *src, size_t len, const char *from, char *pin,
                          size_t *pinlen, hb_err *err)
{
    while (len > 0 && (src[len - 1] == '\n' || src[len - 1] == '\r'))
        len--;
    if (len == 0)
        return hb_fail(err, HB_E_AUTH, "the PIN from %s is empty", from);
    if (len >= HB_PIN_MAX)
        return hb_fail(err, HB_E_AUTH, "the PIN from %s is longer than %d bytes", from,
                       HB_PIN_MAX - 1);
    if (memchr(src, '\0', len) != NULL || memchr(src, '\n', len) != NULL)
        return hb_fail(err, HB_E_AUTH, "the PIN from %s has more than one line", from);
    memcpy(pin, src, len);
    pin[len] = '\0';
    *pinlen = len;
    return HB_OK;
}

static hb_status pin_from_source(const char *source, const char *what, char *pin,
                                 size_t *pinlen, hb_err *err)
{
    hb_status st = HB_OK;
    unsigned char *data = NULL;
    size_t len = 0;
    const char *path = NULL;
    if (strncmp(source, "file:", 5) == 0)
        path = source + 5;
    else if (source[0] == '/')
        path = source;
    if (path != NULL) {
        /* A PIN file bigger than this is not a PIN file. */
        st = hb_read_file(path, 4096, &data, &len, err);
        if (st != HB_OK) {
            hb_err_prefix(err, "reading the PIN for %s", what);
            st = err != NULL ? err->status : st;
            goto cleanup;
        }
        char from[600]; /* for messages only: a truncated path still says where */
        snprintf(from, sizeof from, "PIN file '%s'", path);
        HB_TRY(pin_copy((const char *)data, len, from, pin, pinlen, err));
    } else if (strncmp(source, "env:", 4) == 0) {
        const char *v = getenv(source + 4);
        if (v == NULL) {
            st = hb_fail(err, HB_E_AUTH,
                         "PIN for %s: environment variable '%s' is not set", what, source + 4);
            goto cleanup;
        }
        char from[300];
        snprintf(from, sizeof from, "environment variable '%s'", source + 4);
        HB_TRY(pin_copy(v, strlen(v), from, pin, pinlen, err));
    } else {
        st = hb_fail(err, HB_E_USAGE,
                     "PIN source '%s' for %s is neither file:PATH nor env:VAR", source, what);
        goto cleanup;
    }
cleanup:
    if (data != NULL) {
        OPENSSL_cleanse(data, len);
        free(data);
    }
    return st;
}

hb_status hb_pin_resolve(const hb_provider *p, const char *uri_pin_source, const char *what,
                         char *pin, size_t *pinlen, hb_err *err)
{
    hb_status st = HB_OK;
    *pinlen = 0;
    pin[0] = '\0';
    if (uri_pin_source != NULL && *uri_pin_source != '\0') {
        st = pin_from_source(uri_pin_source, what, pin, pinlen, err);
    } else if (p != NULL && p->pin_source != NULL) {
        st = pin_from_source(p->pin_source, what, pin, pinlen, err);
    } else if (isatty(STDIN_FILENO)) {
        char prompt[400]; /* truncation shortens the prompt, nothing else */
        snprintf(prompt, sizeof prompt, "PIN for %s: ", what);
        /* OpenSSL's UI reads from the terminal with echo off. */
        if (EVP_read_pw_string_min(pin, 1, HB_PIN_MAX, prompt, 0) != 0) {
            OPENSSL_cleanse(pin, HB_PIN_MAX);
            st = hb_fail_ossl(err, HB_E_AUTH, "no PIN entered for %s", what);
        } else {
            *pinlen = strlen(pin);
        }
    } else {
        st = hb_fail(err, HB_E_AUTH,
                     "%s needs a PIN and stdin is not a terminal: use --pin-source "
                     "file:PATH|env:VAR or pin-source=file:PATH in the URI",
                     what);
    }
    if (st != HB_OK) {
        OPENSSL_cleanse(pin, HB_PIN_MAX);
        *pinlen = 0;
    }
    return st;
}
