/* PINs: from a URI's pin-source (RFC 7512 §2.4), the configured source
 * (--pin-source file:PATH|env:VAR), or a no-echo prompt on a terminal. Never
 * from the command line, never logged; every buffer that held one is wiped.
 * A typed PIN is asked once per token and process (pin_cache.c). */
#include "provider/provider_internal.h"

#include "common/buf.h"
#include "common/fail.h"
#include "common/fileio.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One line: a trailing newline (and CR) is not part of the PIN. Messages say
 * where it came from: "<from> '<name>'" (a PIN file, an environment variable). */
static hb_status pin_copy(const char *src, size_t len, const char *from, const char *name,
                          char *pin, size_t *pinlen, hb_err *err)
{
    while (len > 0 && (src[len - 1] == '\n' || src[len - 1] == '\r'))
        len--;
    if (len == 0)
        return hb_fail(err, HB_E_AUTH, "the PIN from %s '%s' is empty", from, name);
    if (len >= HB_PIN_MAX)
        return hb_fail(err, HB_E_AUTH, "the PIN from %s '%s' is longer than %d bytes", from, name,
                       HB_PIN_MAX - 1);
    if (memchr(src, '\0', len) != NULL || memchr(src, '\n', len) != NULL)
        return hb_fail(err, HB_E_AUTH, "the PIN from %s '%s' has more than one line", from,
                       name);
    memcpy(pin, src, len);
    pin[len] = '\0';
    *pinlen = len;
    return HB_OK;
}

static hb_status pin_from_file(const char *path, const char *what, char *pin, size_t *pinlen,
                               hb_err *err)
{
    unsigned char *data = NULL;
    size_t len = 0;
    /* A PIN file bigger than this is not a PIN file. */
    hb_status st = hb_read_file(path, 4096, &data, &len, err);
    if (st != HB_OK) {
        hb_err_prefix(err, "reading the PIN for %s", what);
        return err != NULL ? err->status : st;
    }
    st = pin_copy((const char *)data, len, "PIN file", path, pin, pinlen, err);
    OPENSSL_cleanse(data, len);
    free(data);
    return st;
}

static hb_status pin_from_source(const char *source, const char *what, char *pin,
                                 size_t *pinlen, hb_err *err)
{
    if (strncmp(source, "file:", 5) == 0)
        return pin_from_file(source + 5, what, pin, pinlen, err);
    if (source[0] == '/')
        return pin_from_file(source, what, pin, pinlen, err);
    if (strncmp(source, "env:", 4) == 0) {
        const char *v = getenv(source + 4);
        if (v == NULL)
            return hb_fail(err, HB_E_AUTH, "PIN for %s: environment variable '%s' is not set",
                           what, source + 4);
        return pin_copy(v, strlen(v), "environment variable", source + 4, pin, pinlen, err);
    }
    return hb_fail(err, HB_E_USAGE, "PIN source '%s' for %s is neither file:PATH nor env:VAR",
                   source, what);
}

/* OpenSSL's UI reads from the terminal with echo off. */
static hb_status pin_from_terminal(const char *what, char *pin, size_t *pinlen, hb_err *err)
{
    hb_status st = HB_OK;
    hb_buf prompt = HB_BUF_INIT(64 * 1024);
    HB_TRY(hb_buf_addf(&prompt, err, "PIN for %s: ", what));
    if (EVP_read_pw_string_min(pin, 1, HB_PIN_MAX, hb_buf_str(&prompt), 0) != 0)
        HB_FAIL_OSSL(HB_E_AUTH, "no PIN entered for %s", what);
    *pinlen = strlen(pin);
cleanup:
    hb_buf_free(&prompt);
    return st;
}

hb_status hb_pin_resolve(const hb_provider *p, const char *uri_pin_source, const char *token_key,
                         const char *what, char *pin, size_t *pinlen, bool *typed,
                         hb_err *err)
{
    hb_status st = HB_OK;
    *pinlen = 0;
    *typed = false;
    pin[0] = '\0';
    if (uri_pin_source != NULL && *uri_pin_source != '\0') {
        st = pin_from_source(uri_pin_source, what, pin, pinlen, err);
    } else if (p != NULL && p->pin_source != NULL) {
        st = pin_from_source(p->pin_source, what, pin, pinlen, err);
    } else if (hb_pin_cache_get(token_key, pin, pinlen)) {
        st = HB_OK;
    } else if (isatty(STDIN_FILENO)) {
        st = pin_from_terminal(what, pin, pinlen, err);
        *typed = st == HB_OK;
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
