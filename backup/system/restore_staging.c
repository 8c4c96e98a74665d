/* The new root a restore builds, and its swap (restore_staging.h). */
#include "backup/system/restore_staging.h"

#include "backup/system/swap.h"
#include "backup/system/swap_inplace.h"
#include "backup/system/tree.h"
#include "common/beneath.h"
#include "common/fail.h"
#include "common/fault.h"
#include "common/fileio.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A reset file is a small settings file (an admin password hash). */
#define HB_RESET_FILE_CAP ((size_t)1 << 20)

struct hb_restore_staging {
    const hb_system *sys;
    char path[PATH_MAX];     /* "" until made and once swapped in */
    const char **provided;   /* resource paths the backup provides, NULL-terminated */
};

hb_status hb_restore_staging_open(const hb_system *sys, const hb_manifest *m,
                                  hb_restore_staging **out, hb_err *err)
{
    hb_status st = HB_OK;
    const hb_profile *prof = sys->profile;
    char made[PATH_MAX];
    size_t n = 0;
    hb_restore_staging *s = calloc(1, sizeof *s);
    HB_ALLOC(s);
    s->sys = sys;
    size_t n_pinned = 0;
    while (hb_inplace_pinned[n_pinned] != NULL)
        n_pinned++;
    s->provided = calloc(prof->n_resources + n_pinned + 1, sizeof *s->provided);
    HB_ALLOC(s->provided);
    /* Only a path that was really made is ever removed. */
    HB_TRY(hb_staging_create(sys->root, m->id, made, sizeof made, err));
    memcpy(s->path, made, sizeof made);
    for (size_t i = 0; i < prof->n_resources; i++) {
        const hb_profile_resource *r = &prof->resources[i];
        if (r->skip_when_empty && hb_manifest_find_file(m, r->name) == NULL)
            continue;
        char dir[PATH_MAX];
        s->provided[n++] = r->path;
        HB_TRY(hb_path_join(dir, sizeof dir, s->path, r->path, err));
        HB_TRY(hb_mkdirs(dir, 0755, err));
    }
    /* Staged inside the root: what stays in place (.hsmbak, which holds the
     * staging tree itself) is not carried over (swap_inplace.h). */
    if (hb_inplace_staging_is(sys->root, s->path))
        for (size_t i = 0; i < n_pinned; i++)
            s->provided[n++] = hb_inplace_pinned[i];
    *out = s;
    s = NULL;
cleanup:
    hb_restore_staging_free(s);
    return st;
}

hb_status hb_restore_staging_dir(const hb_restore_staging *s, const char *name, char *out,
                                 size_t cap, hb_err *err)
{
    const hb_profile_resource *r = hb_profile_find_resource(s->sys->profile, name);
    if (r == NULL)
        return hb_fail(err, HB_E_VERIFY, "the backup holds '%s', which is not a resource of "
                       "profile '%s'", name, s->sys->profile->name);
    return hb_path_join(out, cap, s->path, r->path, err);
}

/* The reset file rel, as the factory image has it, into the staging tree.
 * The path is resolved beneath the staging tree and never through a link:
 * a backup whose tree holds a link on the way to a reset file (root/users
 * -> /somewhere, made on the source system and signed) is refused, naming
 * the link, before anything is written (docs/reliability.md, "Symlinks
 * beneath the root"). */
static hb_status copy_reset(const char *factory, const char *staging, const char *rel,
                            hb_err *err)
{
    hb_status st = HB_OK;
    char from[PATH_MAX];
    unsigned char *data = NULL;
    size_t len = 0;
    int sfd = -1;
    HB_TRY(hb_path_join(from, sizeof from, factory, rel, err));
    HB_TRY(hb_read_file(from, HB_RESET_FILE_CAP, &data, &len, err));
    HB_TRY(hb_beneath_open_top(staging, &sfd, err));
    st = hb_beneath_write_file(sfd, "", rel, data, len, 0600, err);
    if (st == HB_E_REFUSED || st == HB_E_NOT_FOUND) {
        char inner[HB_MSG_MAX];
        memcpy(inner, err->msg, sizeof inner);
        st = hb_fail(err, HB_E_REFUSED, "the backup cannot be restored: in its tree, %s (on "
                     "the way to '%s', which the profile resets to the factory default); the "
                     "system is unchanged", inner, rel);
    }
cleanup:
    if (sfd >= 0)
        close(sfd);
    free(data);
    return st;
}

hb_status hb_restore_staging_swap(hb_restore_staging *s, hb_err *err)
{
    hb_status st = HB_OK;
    const hb_profile *prof = s->sys->profile;
    HB_ENSURE(s->path[0] != '\0', HB_E_INTERNAL, "the restore's staging tree is not there");
    /* What a backup never holds comes over from the current root. */
    HB_TRY(hb_staging_carry_over(s->sys->root, s->path, s->provided, err));
    for (size_t i = 0; i < prof->n_reset; i++)
        HB_TRY(copy_reset(prof->factory_image, s->path, prof->reset[i].path, err));
    hb_fault_point("restore-before-swap");
    HB_TRY(hb_staging_commit(s->sys->root, s->path, err));
    s->path[0] = '\0';
cleanup:
    return st;
}

void hb_restore_staging_free(hb_restore_staging *s)
{
    if (s == NULL)
        return;
    if (s->path[0] != '\0')
        hb_staging_discard(s->sys->root, s->path);
    free(s->provided);
    free(s);
}
