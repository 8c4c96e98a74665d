/* Why a module may see no tokens: its token store is not readable by this
 * user (issue 11 class 7). A module that cannot read its files says
 * CKR_GENERAL_ERROR (SoftHSM: an unreadable configuration or token
 * directory) or silently lists fewer tokens; the p11-kit proxy skips a module
 * that fails. Only the stores Debian's modules keep in files are looked at;
 * looking never changes anything. */
#include "provider/provider_internal.h"

#include "common/buf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SOFTHSM_DEFAULT_CONF "/etc/softhsm/softhsm2.conf"

static bool denied(const char *path, int mode)
{
    return faccessat(AT_FDCWD, path, mode, AT_EACCESS) != 0 && errno == EACCES;
}

/* The value of SoftHSM's directories.tokendir in conf, or "" (unreadable:
 * the caller has already said so). Its syntax: "key = value", '#' comments. */
static void softhsm_tokendir(const char *conf, char *out, size_t cap)
{
    static const char key[] = "directories.tokendir";
    out[0] = '\0';
    FILE *f = fopen(conf, "re");
    char line[1024];
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        const char *s = line + strspn(line, " \t");
        if (strncmp(s, key, sizeof key - 1) != 0)
            continue;
        s += sizeof key - 1;
        s += strspn(s, " \t");
        if (*s++ != '=')
            continue;
        s += strspn(s, " \t");
        size_t n = strcspn(s, " \t\r\n#");
        hb_err ignored;
        if (n > 0 && hb_format(out, cap, "a token directory", &ignored, "%.*s", (int)n, s) != HB_OK)
            out[0] = '\0';
    }
    if (f != NULL)
        fclose(f);
}

/* A token directory under tokendir this user cannot enter, or "". */
static void unreadable_token(const char *tokendir, char *out, size_t cap)
{
    out[0] = '\0';
    DIR *d = opendir(tokendir);
    struct dirent *e;
    while (d != NULL && out[0] == '\0' && (e = readdir(d)) != NULL) {
        char path[2048];
        hb_err ignored;
        if (e->d_name[0] == '.' || hb_format(path, sizeof path, "a token path", &ignored,
                                             "%s/%s", tokendir, e->d_name) != HB_OK)
            continue;
        if (denied(path, R_OK | X_OK) &&
            hb_format(out, cap, "a token path", &ignored, "%s", path) != HB_OK)
            out[0] = '\0';
    }
    if (d != NULL)
        closedir(d);
}

static bool is_softhsm_or_proxy(const char *module)
{
    return module == NULL || strstr(module, "softhsm") != NULL ||
           strstr(module, "p11-kit") != NULL;
}

bool hb_token_store_unreadable(const char *module, char *why, size_t cap)
{
    if (!is_softhsm_or_proxy(module))
        return false;
    const char *conf = getenv("SOFTHSM2_CONF");
    if (conf == NULL || *conf == '\0')
        conf = SOFTHSM_DEFAULT_CONF;
    char dir[1024], token[2048];
    const char *what = NULL, *path = NULL;
    if (denied(conf, R_OK)) {
        what = "SoftHSM's configuration";
        path = conf;
    } else {
        softhsm_tokendir(conf, dir, sizeof dir);
        if (dir[0] != '\0' && denied(dir, R_OK | X_OK)) {
            what = "SoftHSM's token directory";
            path = dir;
        } else if (dir[0] != '\0') {
            unreadable_token(dir, token, sizeof token);
            if (token[0] != '\0') {
                what = "the SoftHSM token directory";
                path = token;
            }
        }
    }
    if (what == NULL)
        return false;
    hb_err ignored;
    return hb_format(why, cap, "a reason", &ignored, "%s '%s' is not readable by this user "
                     "(uid %ld): permission denied; run hsmbak as a user who may read it (on "
                     "Debian, a member of group 'softhsm') or as root", what, path,
                     (long)geteuid()) == HB_OK;
}
