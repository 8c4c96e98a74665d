/* System roots: init, open and lock, factory reset, leftovers of interrupted runs. */
#include "backup/system/system.h"

#include "backup/system/pathname.h"
#include "backup/system/swap.h"
#include "backup/system/swap_inplace.h"
#include "backup/system/tree.h"
#include "common/beneath.h"
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
#define HB_OS_RELEASE "/etc/os-release"

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

/* The root directory itself, as the operator names it (the one path taken
 * as given; everything below it goes through common/beneath.h). */
static hb_status open_root(const char *root, int *fd, hb_err *err)
{
    *fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*fd < 0)
        return hb_fail(err, errno == ENOENT ? HB_E_NOT_FOUND : HB_E_IO,
                       "cannot open the system root '%s': %s", root, strerror(errno));
    return HB_OK;
}

/* ROOT/rel replaced by text, never through a link beneath the root. */
static hb_status write_text(int rootfd, const char *root, const char *rel, const char *text,
                            hb_err *err)
{
    return hb_beneath_write_file(rootfd, root, rel, text, strlen(text), 0600, err);
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

/* ---- the default version (os-release) --------------------------------------- */

/* os-release(5): KEY=VALUE lines, the value optionally in double or single
 * quotes. *value points into text (not NUL-terminated), *vlen its length. */
static bool os_release_value(const char *text, size_t len, const char *key, const char **value,
                             size_t *vlen)
{
    size_t klen = strlen(key);
    for (size_t i = 0; i < len;) {
        size_t end = i;
        while (end < len && text[end] != '\n')
            end++;
        if (end - i > klen && memcmp(text + i, key, klen) == 0 && text[i + klen] == '=') {
            const char *v = text + i + klen + 1;
            size_t n = end - (i + klen + 1);
            if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
                v++;
                n -= 2;
            }
            *value = v;
            *vlen = n;
            return true;
        }
        i = end + 1;
    }
    return false;
}

hb_status hb_system_version_from_os_release(const char *text, size_t len, char *out,
                                            size_t cap, hb_err *err)
{
    const char *v = NULL;
    size_t n = 0, used = 0;
    unsigned parts = 0;
    if (!os_release_value(text, len, "VERSION_ID", &v, &n))
        return hb_fail(err, HB_E_NOT_FOUND, "os-release has no VERSION_ID; give the system's "
                       "version with --version V.R.M.F");
    /* The leading dot-separated numbers, at most four, padded with ".0":
     * "12" -> 12.0.0.0, "22.04" -> 22.04.0.0, "3.19.1" -> 3.19.1.0. */
    for (size_t i = 0; i < n && parts < 4;) {
        size_t d = i;
        while (d < n && isdigit((unsigned char)v[d]))
            d++;
        if (d == i || d - i > 9)
            break;
        hb_status st = hb_format(out + used, cap - used, "version", err, "%s%.*s",
                                 parts ? "." : "", (int)(d - i), v + i);
        if (st != HB_OK)
            return st;
        used = strlen(out);
        parts++;
        if (d >= n || v[d] != '.')
            break;
        i = d + 1;
    }
    if (parts == 0)
        return hb_fail(err, HB_E_REFUSED, "os-release's VERSION_ID '%.*s' holds no version "
                       "number; give the system's version with --version V.R.M.F",
                       (int)(n < 64 ? n : 64), v);
    for (; parts < 4; parts++) {
        hb_status st = hb_format(out + used, cap - used, "version", err, ".0");
        if (st != HB_OK)
            return st;
        used += 2;
    }
    return HB_OK;
}

/* A profile with a factory image describes a product of its own (the
 * appliance sample: 9.3.5.0); any other describes a host, whose version is
 * its operating system's: ROOT/etc/os-release when the root has one (an
 * adopted "/" or a container's tree), else this machine's /etc/os-release. */
static hb_status default_version(const char *root, const hb_profile *profile, char *out,
                                 size_t cap, hb_err *err)
{
    hb_status st = HB_OK;
    char path[PATH_MAX];
    unsigned char *text = NULL;
    size_t len = 0;
    if (profile->factory_image != NULL) {
        st = hb_format(out, cap, "version", err, "%s", HB_SYSTEM_DEFAULT_VERSION);
        goto cleanup;
    }
    HB_TRY(hb_path_join(path, sizeof path, root, "etc/os-release", err));
    if (access(path, R_OK) != 0)
        HB_TRY(hb_format(path, sizeof path, "path", err, "%s", HB_OS_RELEASE));
    /* os-release is a link by design (os-release(5): to ../usr/lib/os-release);
     * hb_read_file follows none, so it is read where it leads. */
    char real[PATH_MAX];
    st = hb_read_file(realpath(path, real) != NULL ? real : path, 64 * 1024, &text, &len, err);
    if (st != HB_OK) {
        hb_err_prefix(err, "the system's version (give it with --version V.R.M.F)");
        goto cleanup;
    }
    HB_TRY(hb_system_version_from_os_release((const char *)text, len, out, cap, err));
cleanup:
    free(text);
    return st;
}

/* ---- init and adopt ----------------------------------------------------------- */

/* profile_ref as the root remembers it (a file by its absolute path) and
 * the profile it names. */
static hb_status open_profile(const char *profile_ref, char *abs_profile, size_t cap,
                              const char **ref, hb_profile **out, hb_err *err)
{
    if (profile_ref == NULL)
        profile_ref = "appliance";
    if (strchr(profile_ref, '/') != NULL) {
        if (cap < PATH_MAX || realpath(profile_ref, abs_profile) == NULL)
            return hb_fail(err, HB_E_NOT_FOUND, "profile '%s': %s", profile_ref,
                           strerror(errno));
        profile_ref = abs_profile;
    }
    *ref = profile_ref;
    return load_profile(profile_ref, out, err);
}

/* The folders hsmbak itself works in (the crypto object store in config:,
 * certificates in cert:, uploads and backups in temporary:), made when the
 * root lacks them: a factory image brings its own, a host root has none. */
static hb_status make_folders(int rootfd, const char *root, hb_err *err)
{
    static const struct {
        const char *name;
        mode_t mode;
    } folders[] = {{"config", 0700}, {"cert", 0755}, {"temporary", 0700}};
    for (size_t i = 0; i < sizeof folders / sizeof folders[0]; i++) {
        /* An existing folder is kept as it is; a link in its place is refused. */
        hb_status st = hb_beneath_mkdirs(rootfd, root, folders[i].name, folders[i].mode, NULL,
                                         err);
        if (st != HB_OK)
            return st;
    }
    return HB_OK;
}

/* ROOT/.hsmbak/profile, hsmbak's folders and, unless the root already has
 * one, its version file (version, or the profile's default). */
static hb_status write_state(const char *root, const char *ref, const hb_profile *profile,
                             const char *version, bool keep_version, hb_err *err)
{
    hb_status st = HB_OK;
    char buf[PATH_MAX], v[VERSION_CAP];
    int rootfd = -1;
    HB_TRY(open_root(root, &rootfd, err));
    HB_TRY(hb_beneath_mkdirs(rootfd, root, HB_PROFILE_STATE_DIR, 0700, NULL, err));
    HB_TRY(make_folders(rootfd, root, err));
    HB_TRY(write_text(rootfd, root, ".hsmbak/profile", ref, err));
    if (keep_version)
        goto cleanup;
    if (version == NULL)
        HB_TRY(default_version(root, profile, v, sizeof v, err));
    else
        HB_TRY(hb_format(v, sizeof v, "version", err, "%s", version));
    HB_TRY(check_version(v, err));
    HB_TRY(hb_format(buf, sizeof buf, "version", err, "%s\n", v));
    HB_TRY(write_text(rootfd, root, profile->version_file, buf, err));
cleanup:
    if (rootfd >= 0)
        close(rootfd);
    return st;
}

hb_status hb_system_init(const char *root, const char *profile_ref, const char *version,
                         hb_err *err)
{
    hb_status st = HB_OK;
    hb_profile *profile = NULL;
    char abs_profile[PATH_MAX];
    const char *ref = NULL;
    if (version != NULL)
        HB_TRY(check_version(version, err));
    HB_TRY(open_profile(profile_ref, abs_profile, sizeof abs_profile, &ref, &profile, err));
    if (!hb_dir_is_empty(root)) {
        st = hb_fail(err, HB_E_REFUSED, "'%s' exists and is not empty; system init only lays "
                     "a system down in a new or empty directory (take an existing directory "
                     "as it is with --adopt)", root);
        goto cleanup;
    }
    HB_TRY(hb_mkdirs(root, 0755, err));
    if (profile->factory_image != NULL)
        HB_TRY(hb_tree_copy(profile->factory_image, root, false, err));
    HB_TRY(write_state(root, ref, profile, version, false, err));
cleanup:
    hb_profile_free(profile);
    return st;
}

/* The version an adopted root already records, checked against the one
 * asked for; *have false when it records none. */
static hb_status adopted_version(const char *root, const hb_profile *profile,
                                 const char *version, bool *have, hb_err *err)
{
    hb_status st = HB_OK;
    char path[PATH_MAX], *v = NULL;
    HB_TRY(hb_path_join(path, sizeof path, root, profile->version_file, err));
    *have = access(path, F_OK) == 0;
    if (!*have)
        goto cleanup;
    HB_TRY(read_line(root, profile->version_file, &v, err));
    HB_ENSURE(check_version(v, err) == HB_OK, HB_E_REFUSED, "'%s' holds '%s', which is not a "
              "V.R.M.F version: it is not a version file hsmbak can keep; move it away or "
              "choose a profile with another version file", path, v);
    HB_ENSURE(version == NULL || strcmp(version, v) == 0, HB_E_REFUSED, "'%s' already says "
              "version %s, not %s; correct or remove it first", path, v, version);
cleanup:
    free(v);
    return st;
}

/* At least one of the profile's resources is a directory under root. */
static hb_status check_has_resources(const char *root, const hb_profile *profile, hb_err *err)
{
    for (size_t i = 0; i < profile->n_resources; i++) {
        char path[PATH_MAX];
        struct stat sb;
        hb_status st = hb_path_join(path, sizeof path, root, profile->resources[i].path, err);
        if (st != HB_OK)
            return st;
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
            return HB_OK;
    }
    return hb_fail(err, HB_E_REFUSED, "'%s' holds none of profile '%s''s resources (%s%s): "
                   "nothing would be backed up", root, profile->name,
                   profile->n_resources ? profile->resources[0].path : "none",
                   profile->n_resources > 1 ? ", ..." : "");
}

hb_status hb_system_adopt(const char *root, const char *profile_ref, const char *version,
                          hb_err *err)
{
    hb_status st = HB_OK;
    hb_profile *profile = NULL;
    char abs_profile[PATH_MAX], path[PATH_MAX];
    const char *ref = NULL;
    struct stat sb;
    bool have_version = false;
    if (version != NULL)
        HB_TRY(check_version(version, err));
    HB_ENSURE(root != NULL && *root != '\0', HB_E_USAGE,
              "no system root: give --root DIR or set HSMBAK_ROOT");
    HB_ENSURE(stat(root, &sb) == 0 && S_ISDIR(sb.st_mode), HB_E_NOT_FOUND, "'%s' is not an "
              "existing directory; --adopt takes one as it is (without --adopt, system init "
              "lays a new one down)", root);
    HB_ENSURE(realpath(root, path) != NULL && strcmp(path, "/") != 0, HB_E_REFUSED, "'%s' "
              "cannot be adopted: a restore builds the new root beside the old one and swaps "
              "the two, which the file system's root cannot do; adopt the directory that "
              "holds the settings (docs/decisions.md)", root);
    HB_TRY(open_profile(profile_ref, abs_profile, sizeof abs_profile, &ref, &profile, err));
    HB_ENSURE(profile->factory_image == NULL, HB_E_REFUSED, "profile '%s' lays its system "
              "down from a factory image and restores only onto it; --adopt is for profiles "
              "without one (host)", profile->name);
    HB_TRY(hb_path_join(path, sizeof path, root, ".hsmbak/profile", err));
    HB_ENSURE(access(path, F_OK) != 0, HB_E_REFUSED, "'%s' is a system root already (it has "
              "%s)", root, path);
    HB_TRY(check_has_resources(root, profile, err));
    HB_TRY(adopted_version(root, profile, version, &have_version, err));
    HB_TRY(write_state(root, ref, profile, version, have_version, err));
cleanup:
    hb_profile_free(profile);
    return st;
}

static hb_status take_lock(hb_system *sys, unsigned wait_seconds, hb_err *err)
{
    hb_status st = HB_OK;
    char path[PATH_MAX];
    int fd = -1, rootfd = -1;
    HB_TRY(hb_path_join(path, sizeof path, sys->root, ".hsmbak/lock", err));
    HB_TRY(open_root(sys->root, &rootfd, err));
    st = hb_beneath_open(rootfd, sys->root, ".hsmbak/lock", O_RDWR | O_CREAT, 0600, &fd, err);
    if (st != HB_OK) {
        hb_err_prefix(err, "cannot open the lock");
        goto cleanup;
    }
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
    if (rootfd >= 0)
        close(rootfd);
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
    if (read_line(sys->root, ".hsmbak/profile", &sys->profile_ref, err) != HB_OK) {
        /* EACCES anywhere on the way is a permission problem, not a missing root. */
        char state[PATH_MAX];
        HB_TRY(hb_format(state, sizeof state, "state path", err, "%s/.hsmbak/profile",
                         sys->root));
        HB_ENSURE(faccessat(AT_FDCWD, state, R_OK, AT_EACCESS) == 0 || errno != EACCES,
                  HB_E_IO, "cannot read '%s': permission denied; hsmbak reads and locks the "
                  "system root's state as its owner or root (this is uid %ld)", state,
                  (long)geteuid());
        HB_FAIL(HB_E_NOT_FOUND, "'%s' is not a system root made by hsmbak (no .hsmbak/profile); "
                "make one with 'hsmbak system init --root %s'", root, root);
    }
    HB_TRY(load_profile(sys->profile_ref, &sys->profile, err));
    HB_TRY(take_lock(sys, wait_seconds, err));
    /* Before anything reads the root: a swap a crash interrupted is
     * finished first, so no operation ever sees a half-swapped root. */
    HB_TRY(hb_inplace_recover(sys->root, &sys->finished_swap, err));
    HB_TRY(hb_root_is_mount_point(sys->root, &sys->in_place, err));
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
    const char *const *carry = keep;
    unsigned cleaned = 0;
    HB_ENSURE(p->factory_image != NULL, HB_E_REFUSED, "profile '%s' has no factory image; "
              "nothing to reset to", p->name);
    HB_TRY(hb_format(tag, sizeof tag, "staging tag", err, "reset-%ld", (long)getpid()));
    /* Staging trees of an interrupted restore or reset (we hold the lock). */
    HB_TRY(hb_system_clean_leftovers(sys->root, &cleaned, err));
    HB_TRY(hb_staging_create(sys->root, tag, staging, sizeof staging, err));
    HB_TRY(hb_tree_copy(p->factory_image, staging, false, err));
    /* Staged inside the root, .hsmbak stays where it is (swap_inplace.h). */
    if (hb_inplace_staging_is(sys->root, staging))
        carry = keep + 1;
    HB_TRY(hb_staging_carry_paths(sys->root, staging, carry, err));
    HB_TRY(hb_staging_commit(sys->root, staging, err));
    staging[0] = '\0';
cleanup:
    if (staging[0] != '\0')
        hb_staging_discard(sys->root, staging);
    return st;
}

hb_status hb_system_clean_leftovers(const char *root, unsigned *cleaned, hb_err *err)
{
    hb_status st = HB_OK;
    char trimmed[PATH_MAX], parent[PATH_MAX], prefix[PATH_MAX];
    const char *base = NULL;
    DIR *d = NULL;
    bool finished = false;
    *cleaned = 0;
    /* A swap a crash interrupted inside a mounted root is finished first
     * (its staging tree holds the new entries not yet swapped in). */
    HB_TRY(hb_inplace_recover(root, &finished, err));
    HB_TRY(hb_inplace_clean(root, cleaned, err));
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
bool hb_system_swaps_in_place(const hb_system *sys) { return sys->in_place; }
bool hb_system_finished_swap(const hb_system *sys) { return sys->finished_swap; }
const char *hb_system_version(const hb_system *sys) { return sys->version; }
const char *hb_system_profile_name(const hb_system *sys) { return sys->profile->name; }
