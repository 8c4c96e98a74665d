/* Restore preconditions: version, profile, factory state (preconditions.h). */
#include "backup/system/preconditions.h"

#include "backup/system/tree.h"
#include "common/fail.h"

#include <stdlib.h>
#include <string.h>

hb_status hb_system_check_version(const hb_system *sys, const hb_manifest *m, hb_err *err)
{
    if (strcmp(m->version, sys->version) != 0)
        return hb_fail(err, HB_E_REFUSED, "the backup was made on version %s and this system "
                       "runs %s; a secure backup restores only onto exactly the same version",
                       m->version, sys->version);
    return HB_OK;
}

hb_status hb_system_check_profile(const hb_system *sys, const hb_manifest *m, hb_err *err)
{
    if (strcmp(m->profile, sys->profile->name) != 0)
        return hb_fail(err, HB_E_REFUSED, "the backup is of a '%s' system and this one is '%s'",
                       m->profile, sys->profile->name);
    return HB_OK;
}

/* What the factory-state check never looks at: hsmbak's own state, the
 * version, what the profile ignores, excludes or never backs up, and on a
 * root that is a mount point the filesystem's lost+found (it stays in place
 * across a reset: swap_inplace.h). */
static hb_status factory_skips(const hb_profile *p, bool mount_root, const char ***out,
                               hb_err *err)
{
    size_t n = 3 + p->n_factory_ignores + p->n_excluded + p->n_never_backed_up + 1;
    const char **skip = calloc(n, sizeof *skip);
    if (skip == NULL)
        return hb_fail_oom(err);
    size_t k = 0;
    skip[k++] = HB_PROFILE_STATE_DIR;
    skip[k++] = p->version_file;
    if (mount_root)
        skip[k++] = "lost+found";
    for (size_t i = 0; i < p->n_factory_ignores; i++)
        skip[k++] = p->factory_ignores[i];
    for (size_t i = 0; i < p->n_excluded; i++)
        skip[k++] = p->excluded[i].path;
    for (size_t i = 0; i < p->n_never_backed_up; i++)
        skip[k++] = p->never_backed_up[i].path;
    skip[k] = NULL;
    *out = skip;
    return HB_OK;
}

hb_status hb_system_check_factory_state(const hb_system *sys, hb_err *err)
{
    hb_status st = HB_OK;
    const char **skip = NULL;
    hb_tree now = {0}, factory = {0};
    hb_tree_change change;
    const hb_profile *p = sys->profile;
    if (!p->requires_factory_state)
        goto cleanup;
    HB_ENSURE(p->factory_image != NULL, HB_E_INTERNAL, "profile '%s' requires factory state "
              "but has no factory image", p->name);
    HB_TRY(factory_skips(p, sys->in_place, &skip, err));
    HB_TRY(hb_tree_list(sys->root, skip, &now, err));
    HB_TRY(hb_tree_list(p->factory_image, skip, &factory, err));
    if (hb_tree_diff(&factory, &now, &change))
        HB_FAIL(HB_E_REFUSED, "the system is not in factory state ('%s' was %s since the "
                "factory reset); restore only onto a factory-reset system: run 'hsmbak "
                "factory-reset', define the restore credentials, then restore", change.path,
                change.how);
cleanup:
    hb_tree_free(&now);
    hb_tree_free(&factory);
    free(skip);
    return st;
}
