/* PINs: from a URI's pin-source (RFC 7512 §2.4), the configured source
 * (--pin-source file:PATH|env:VAR), or a no-echo prompt on a terminal. Never
 * from the command line, never logged; every buffer that held one is wiped.
 * A typed PIN is asked once per token and process (pin_cache.c). */
#include "provider/provider_internal.h"

#include "common/buf.h"
#include "common/fail.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

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

/* A PIN file is this user's secret: like ssh with a private key, refuse one
 * that group or others may read or write, and say which mode to set. The
 * mode is read from the descriptor the PIN is then read from. */
static hb_status pin_from_file(const char *path, const char *what, char *pin, size_t *pinlen,
                               hb_err *err)
{
    hb_status st = HB_OK;
    char data[4096]; /* a PIN file bigger than this is not a PIN file */
    size_t len = 0;
    struct stat sb;
    /* O_NONBLOCK: a FIFO is refused below instead of waiting for a writer. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        st = hb_fail(err, errno == EACCES ? HB_E_AUTH : HB_E_IO,
                     "reading the PIN for %s: cannot open PIN file '%s': %s%s", what, path,
                     strerror(errno), errno == EACCES ? " (a permission problem: run as the "
                     "file's owner)" : "");
        goto cleanup;
    }
    HB_ENSURE(fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode), HB_E_AUTH,
              "reading the PIN for %s: PIN file '%s' is not a regular file", what, path);
    HB_ENSURE((sb.st_mode & 077) == 0, HB_E_AUTH,
              "reading the PIN for %s: PIN file '%s' is accessible by group or others (mode "
              "%04o); make it private with 'chmod 600 %s'", what, path,
              (unsigned)(sb.st_mode & 07777), path);
    for (;;) {
        ssize_t n = read(fd, data + len, sizeof data - len);
        if (n < 0 && errno == EINTR)
            continue;
        HB_ENSURE(n >= 0, HB_E_IO, "reading the PIN for %s: cannot read PIN file '%s': %s",
                  what, path, strerror(errno));
        if (n == 0)
            break;
        len += (size_t)n;
        HB_ENSURE(len < sizeof data, HB_E_AUTH,
                  "reading the PIN for %s: PIN file '%s' is larger than %zu bytes", what, path,
                  sizeof data - 1);
    }
    st = pin_copy(data, len, "PIN file", path, pin, pinlen, err);
cleanup:
    OPENSSL_cleanse(data, sizeof data);
    if (fd >= 0)
        (void)close(fd);
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
