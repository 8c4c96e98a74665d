/* Audit log (common/audit.h): one logfmt line per operation to
 * syslog, or to $HSMBAK_AUDIT_FILE when set. */
#include "common/audit.h"

#include "common/encode.h"
#include "common/fail.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define AUDIT_LINE_MAX 4096

typedef struct line {
    char buf[AUDIT_LINE_MAX];
    size_t len;
    bool truncated;
} line;

static void put_raw(line *l, const char *s, size_t n)
{
    if (l->len + n >= sizeof l->buf) {
        l->truncated = true;
        return;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    l->buf[l->len] = '\0';
}

static bool needs_quotes(const char *v)
{
    if (*v == '\0')
        return true;
    for (const char *c = v; *c; c++)
        if (*c == ' ' || *c == '"' || *c == '=' || *c == '\\' || (unsigned char)*c < 0x20 ||
            *c == 0x7f)
            return true;
    return false;
}

/* key=value, quoted when needed; a value is cut at 512 bytes so one long
 * path cannot push the outcome fields out of the line. */
static void put_pair(line *l, const char *key, const char *value)
{
    if (value == NULL || *value == '\0')
        return;
    put_raw(l, " ", 1);
    put_raw(l, key, strlen(key));
    put_raw(l, "=", 1);
    bool q = needs_quotes(value);
    if (q)
        put_raw(l, "\"", 1);
    size_t n = 0;
    for (const char *c = value; *c && n < 512; c++, n++) {
        if (*c == '"' || *c == '\\') {
            put_raw(l, "\\", 1);
            put_raw(l, c, 1);
        } else if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            put_raw(l, "?", 1);
        } else {
            put_raw(l, c, 1);
        }
    }
    if (q)
        put_raw(l, "\"", 1);
}

const char *hb_audit_outcome(hb_status st)
{
    if (st == HB_OK)
        return "ok";
    if (st == HB_E_REFUSED || st == HB_E_AUTH)
        return "refused";
    return "failed";
}

static void emit(const line *l, hb_status st)
{
    const char *file = getenv("HSMBAK_AUDIT_FILE");
    if (file != NULL && *file != '\0') {
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
        int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
            char out[AUDIT_LINE_MAX + 64];
            int n = snprintf(out, sizeof out, "%s hsmbak[%ld]: %s\n", stamp, (long)getpid(),
                             l->buf);
            /* One write(2) per line: O_APPEND keeps concurrent lines whole. */
            if (n > 0) {
                size_t len = (size_t)n < sizeof out ? (size_t)n : sizeof out - 1;
                ssize_t w = write(fd, out, len);
                (void)w;
            }
            close(fd);
        }
        return;
    }
    int prio = st == HB_OK ? LOG_INFO : st == HB_E_REFUSED || st == HB_E_AUTH ? LOG_WARNING
                                                                             : LOG_ERR;
    openlog("hsmbak", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
    syslog(prio, "%s", l->buf);
    closelog();
}

/* key=<decimal>; 24 bytes hold any 64-bit number, so the check never cuts. */
static void put_number(line *l, const char *key, unsigned long long v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%llu", v);
    if (n > 0 && (size_t)n < sizeof num)
        put_pair(l, key, num);
    else
        l->truncated = true;
}

static void begin(line *l, const char *op, hb_status st)
{
    l->len = 0;
    l->buf[0] = '\0';
    l->truncated = false;
    put_raw(l, "hsmbak-audit v=1", 16);
    put_pair(l, "op", op);
    put_pair(l, "outcome", hb_audit_outcome(st));
    put_number(l, "status", (unsigned long long)st); /* hb_status is never negative */
    uid_t uid = getuid();
    put_number(l, "uid", (unsigned long long)uid);
    if (geteuid() != uid)
        put_number(l, "euid", (unsigned long long)geteuid());
    struct passwd pw, *res = NULL;
    char pwbuf[1024];
    if (getpwuid_r(uid, &pw, pwbuf, sizeof pwbuf, &res) == 0 && res != NULL)
        put_pair(l, "user", res->pw_name);
}

static void finish(line *l, hb_status st, const hb_err *err)
{
    if (st != HB_OK && err != NULL && err->msg[0] != '\0')
        put_pair(l, "reason", err->msg);
    if (l->truncated)
        put_pair(l, "truncated", "yes");
    emit(l, st);
}

void hb_audit_log(const char *op, hb_status st, const hb_err *err, ...)
{
    line l;
    int saved = errno;
    begin(&l, op, st);
    va_list ap;
    va_start(ap, err);
    for (;;) {
        const char *key = va_arg(ap, const char *);
        if (key == NULL)
            break;
        const char *value = va_arg(ap, const char *);
        put_pair(&l, key, value);
    }
    va_end(ap);
    finish(&l, st, err);
    errno = saved;
}


struct hb_audit_line {
    line l;
    int saved_errno;
};

hb_audit_line *hb_audit_begin(const char *op, hb_status st)
{
    hb_audit_line *a = malloc(sizeof *a);
    if (a == NULL)
        return NULL;
    a->saved_errno = errno;
    begin(&a->l, op, st);
    return a;
}

void hb_audit_pair(hb_audit_line *a, const char *key, const char *value)
{
    if (a != NULL)
        put_pair(&a->l, key, value);
}

void hb_audit_end(hb_audit_line *a, hb_status st, const hb_err *err)
{
    if (a == NULL)
        return;
    finish(&a->l, st, err);
    errno = a->saved_errno;
    free(a);
}
