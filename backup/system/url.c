/* Appliance URLs: a scheme names a folder of the system root, the rest is a
 * path inside it. Nothing may resolve outside that folder, so "../" and
 * absolute tricks are refused rather than normalised. */
#include "hsmbak/url.h"
#include "common/fail.h"

#include <stdio.h>
#include <string.h>

static const char *const folders[] = {"cert", "sharedcert", "local", "temporary", "config"};

/* Length of the scheme ("cert") when url starts with "<folder>:", else 0. */
static size_t scheme_length(const char *url)
{
    for (size_t i = 0; i < sizeof folders / sizeof folders[0]; i++) {
        size_t n = strlen(folders[i]);
        if (strncmp(url, folders[i], n) == 0 && url[n] == ':')
            return n;
    }
    return 0;
}

bool hb_url_is_appliance(const char *url)
{
    return url != NULL && scheme_length(url) > 0;
}

static bool has_dotdot(const char *path)
{
    for (const char *p = path; *p != '\0';) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return true;
        p += n;
        while (*p == '/')
            p++;
    }
    return false;
}

hb_status hb_url_resolve(const char *root, const char *url, char *out, size_t cap,
                         hb_err *err)
{
    if (url == NULL || *url == '\0')
        return hb_fail(err, HB_E_USAGE, "empty URL or path");
    size_t n = scheme_length(url);
    if (n == 0) {
        if (strncmp(url, "sftp://", 7) == 0 || strncmp(url, "s3://", 5) == 0)
            return hb_fail(err, HB_E_USAGE,
                           "'%s': an %s location is taken only by secure-backup (without "
                           "--keep), secure-restore (and --validate) and inspect so far; give a "
                           "local directory here (docs/remote.md)", url,
                           url[0] == 's' && url[1] == '3' ? "s3://" : "sftp://");
        if (strstr(url, "://") != NULL)
            return hb_fail(err, HB_E_USAGE,
                           "unknown URL '%s': use cert:///, sharedcert:///, local:///, "
                           "temporary:///, config:/// or a plain path", url);
        int m = snprintf(out, cap, "%s", url);
        if (m < 0 || (size_t)m >= cap)
            return hb_fail(err, HB_E_USAGE, "path too long: '%s'", url);
        return HB_OK;
    }
    if (root == NULL || *root == '\0')
        return hb_fail(err, HB_E_USAGE,
                       "'%s' names a folder of the system root, but no root is set: "
                       "give --root DIR or set HSMBAK_ROOT", url);
    const char *rest = url + n + 1;
    /* "cert:///x", "cert://x" and "cert:x" all mean x inside cert. */
    while (*rest == '/')
        rest++;
    if (has_dotdot(rest))
        return hb_fail(err, HB_E_USAGE, "'%s' climbs out of its folder ('..' is not allowed)",
                       url);
    int m = *rest ? snprintf(out, cap, "%s/%.*s/%s", root, (int)n, url, rest)
                  : snprintf(out, cap, "%s/%.*s", root, (int)n, url);
    if (m < 0 || (size_t)m >= cap)
        return hb_fail(err, HB_E_USAGE, "path too long: '%s'", url);
    /* Drop one trailing slash so "temporary:///myBackup/" names the folder. */
    size_t len = strlen(out);
    if (len > 1 && out[len - 1] == '/')
        out[len - 1] = '\0';
    return HB_OK;
}
