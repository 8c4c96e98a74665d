/* System roots: init, open and lock, factory reset, leftovers of interrupted runs. */
#include "backup/system/system.h"

#include "backup/system/pathname.h"
#include "backup/system/swap.h"
#include "backup/system/tree.h"
#include "common/buf.h"
#include "common/fileio.h"
#include "common/fail.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define VERSION_CAP 64

static hb_status load_profile(const char *ref, hb_profile **out, hb_err *err)
{
    if (ref[0] == '/')
        return hb_profile_load_file(ref, out, err);
    return hb_profile_load_builtin(ref, out, err);
}

static hb_status check_version(const char *v, hb_err *err)
{
    /* V.R.M.F: four dot-separated numbers. */
    int parts = 0;
    const char *p = v;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return hb_fail(err, HB_E_USAGE, "version '%s' is not V.R.M.F (e.g. 9.3.5.0)", v);
        while (isdigit((unsigned char)*p))
            p++;
        parts++;
        if (*p == '.')
            p++;
        else if (*p != '\0')
            return hb_fail(err, HB_E_USAGE, "version '%s' is not V.R.M.F (e.g. 9.3.5.0)", v);
    }
    if (parts != 4 || p[-1] == '.')
        return hb_fail(err, HB_E_USAGE, "version '%s' is not V.R.M.F (e.g. 9.3.5.0)", v);
    return HB_OK;
}

static hb_status write_text(const char *root, const char *rel, const char *text, hb_err *err)
{
    char path[PATH_MAX];
    hb_status st = hb_path_join(path, sizeof path, root, rel, err);
    if (st == HB_OK)
        st = hb_write_file_atomic(path, text, strlen(text), 0600, err);
    return st;
}

/* Read a one-line file, without its newline. */
static hb_status read_line(const char *root, const char *rel, char **out, hb_err *err)
{
    char path[PATH_MAX];
    unsigned char *data = NULL;
    size_t len = 0;
    hb_status st = hb_path_join(path, sizeof path, root, rel, err);
    if (st == HB_OK)
        st = hb_read_file(path, 4096, &data, &len, err);
    if (st != HB_OK)
        return st;
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' '))
        data[--len] = '\0';
    *out = (char *)data;
    return HB_OK;
}

hb_status hb_system_init(const char *root, const char *profile_ref, const char *version,
                         hb_err *err)
{
    hb_status st = HB_OK;
    hb_profile *profile = NULL;
    char buf[PATH_MAX];
    char abs_profile[PATH_MAX];
    if (version == NULL)
        version = "9.3.5.0";
    HB_TRY(check_version(version, err));
    if (profile_ref == NULL)
        profile_ref = "appliance";
    /* A profile file is remembered by its absolute path. */
    if (strchr(profile_ref, '/') != NULL) {
        if (realpath(profile_ref, abs_profile) == NULL) {
            st = hb_fail(err, HB_E_NOT_FOUND, "profile '%s': %s", profile_ref, strerror(errno));
            goto cleanup;
        }
        profile_ref = abs_profile;
    }
    HB_TRY(load_profile(profile_ref, &profile, err));
    if (!hb_dir_is_empty(root)) {
        st = hb_fail(err, HB_E_REFUSED, "'%s' exists and is not empty; system init only lays "
                     "a system down in a new or empty directory", root);
        goto cleanup;
    }
    HB_TRY(hb_mkdirs(root, 0755, err));
    if (profile->factory_image != NULL)
        HB_TRY(hb_tree_copy(profile->factory_image, root, false, err));
    HB_TRY(hb_path_join(buf, sizeof buf, root, HB_PROFILE_STATE_DIR, err));
    HB_TRY(hb_mkdirs(buf, 0700, err));
    HB_TRY(write_text(root, ".hsmbak/profile", profile_ref, err));
    int n = snprintf(buf, sizeof buf, "%s\n", version);
    if (n < 0 || (size_t)n >= sizeof buf) {
        st = hb_fail(err, HB_E_USAGE, "version too long");
        goto cleanup;
    }
    HB_TRY(write_text(root, profile->version_file, buf, err));
cleanup:
    hb_profile_free(profile);
    return st;
}

static hb_status take_lock(hb_system *sys, unsigned wait_seconds, hb_err *err)
{
    hb_status st = HB_OK;
    char path[PATH_MAX];
    int fd = -1;
    HB_TRY(hb_path_join(path, sizeof path, sys->root, ".hsmbak/lock", err));
    fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    HB_ENSURE(fd >= 0, HB_E_IO, "cannot open the lock '%s': %s", path, strerror(errno));
    for (unsigned waited = 0; flock(fd, LOCK_EX | LOCK_NB) != 0; waited++) {
        HB_ENSURE(errno == EWOULDBLOCK && waited < wait_seconds * 10, HB_E_REFUSED,
                  "another hsmbak operation is working on '%s' (it holds %s); wait for it "
                  "to finish and run this again", sys->root, path);
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    sys->lock_fd = fd;
    fd = -1;
cleanup:
    if (fd >= 0)
        close(fd);
    return st;
}

hb_status hb_system_open(const char *root, unsigned wait_seconds, hb_system **out, hb_err *err)
{
    hb_status st = HB_OK;
    char abs_root[PATH_MAX];
    hb_system *sys = calloc(1, sizeof *sys);
    HB_ALLOC(sys);
    sys->lock_fd = -1;
    HB_ENSURE(root != NULL && *root != '\0', HB_E_USAGE,
              "no system root: give --root DIR or set HSMBAK_ROOT");
    HB_ENSURE(realpath(root, abs_root) != NULL, HB_E_NOT_FOUND, "system root '%s': %s; make "
              "one with 'hsmbak system init --root %s --profile appliance'", root,
              strerror(errno), root);
    sys->root = strdup(abs_root);
    HB_ALLOC(sys->root);
    HB_ENSURE(read_line(sys->root, ".hsmbak/profile", &sys->profile_ref, err) == HB_OK,
              HB_E_NOT_FOUND, "'%s' is not a system root made by hsmbak (no .hsmbak/profile); "
              "make one with 'hsmbak system init --root %s'", root, root);
    HB_TRY(load_profile(sys->profile_ref, &sys->profile, err));
    HB_TRY(take_lock(sys, wait_seconds, err));
    st = read_line(sys->root, sys->profile->version_file, &sys->version, err);
    if (st != HB_OK) {
        hb_err_prefix(err, "system version");
        goto cleanup;
    }
    HB_TRY(check_version(sys->version, err));
    *out = sys;
    sys = NULL;
cleanup:
    hb_system_close(sys);
    return st;
}

void hb_system_close(hb_system *sys)
{
    if (sys == NULL)
        return;
    if (sys->lock_fd >= 0)
        close(sys->lock_fd); /* releases the flock */
    hb_profile_free(sys->profile);
    free(sys->root);
    free(sys->version);
    free(sys->profile_ref);
    free(sys);
}

hb_status hb_system_factory_reset(hb_system *sys, hb_err *err)
{
    hb_status st = HB_OK;
    char staging[PATH_MAX] = "", tag[32];
    const hb_profile *p = sys->profile;
    const char *keep[] = {HB_PROFILE_STATE_DIR, p->version_file, NULL};
    unsigned cleaned = 0;
    HB_ENSURE(p->factory_image != NULL, HB_E_REFUSED, "profile '%s' has no factory image; "
              "nothing to reset to", p->name);
    HB_TRY(hb_format(tag, sizeof tag, "staging tag", err, "reset-%ld", (long)getpid()));
    /* Staging trees of an interrupted restore or reset (we hold the lock). */
    HB_TRY(hb_system_clean_leftovers(sys->root, &cleaned, err));
    HB_TRY(hb_staging_create(sys->root, tag, staging, sizeof staging, err));
    HB_TRY(hb_tree_copy(p->factory_image, staging, false, err));
    HB_TRY(hb_staging_carry_paths(sys->root, staging, keep, err));
    HB_TRY(hb_staging_commit(sys->root, staging, err));
    staging[0] = '\0';
cleanup:
    if (staging[0] != '\0')
        hb_tree_remove_quietly(staging);
    return st;
}

hb_status hb_system_clean_leftovers(const char *root, unsigned *cleaned, hb_err *err)
{
    hb_status st = HB_OK;
    char trimmed[PATH_MAX], parent[PATH_MAX], prefix[PATH_MAX];
    const char *base = NULL;
    DIR *d = NULL;
    *cleaned = 0;
    HB_TRY(hb_format(trimmed, sizeof trimmed, "root path", err, "%s", root));
    for (size_t n = strlen(trimmed); n > 1 && trimmed[n - 1] == '/'; n--)
        trimmed[n - 1] = '\0';
    HB_TRY(hb_path_parent(trimmed, parent, sizeof parent, &base, err));
    HB_TRY(hb_format(prefix, sizeof prefix, "root path", err, "%s%s", base, HB_STAGING_INFIX));
    d = opendir(parent);
    if (d == NULL)
        goto cleanup; /* nothing beside a root that cannot be listed */
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
            continue;
        char path[PATH_MAX];
        HB_TRY(hb_path_join(path, sizeof path, parent, de->d_name, err));
        HB_TRY(hb_tree_remove(path, err));
        (*cleaned)++;
    }
cleanup:
    if (d != NULL)
        closedir(d);
    return st;
}

const char *hb_system_root(const hb_system *sys) { return sys->root; }
const char *hb_system_version(const hb_system *sys) { return sys->version; }
const char *hb_system_profile_name(const hb_system *sys) { return sys->profile->name; }
