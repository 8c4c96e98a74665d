/* The post-restore command and the next steps (post_restore.h). */
#include "backup/system/post_restore.h"

#include "common/buf.h"
#include "common/fail.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Spawn /bin/sh -c cmd in root with stdin from /dev/null and wait for it. */
static hb_status run_command(const char *root, const char *cmd, int *status, hb_err *err)
{
    hb_status st = HB_OK;
    char env_root[PATH_MAX + 16], cwd[PATH_MAX];
    char *envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", env_root, NULL};
    char *argv[] = {"sh", "-c", (char *)cmd, NULL};
    posix_spawn_file_actions_t fa;
    bool have_fa = false, have_cwd = getcwd(cwd, sizeof cwd) != NULL;
    pid_t pid;
    *status = -1;
    HB_TRY(hb_format(env_root, sizeof env_root, "root path", err, "HSMBAK_ROOT=%s", root));
    HB_ENSURE(posix_spawn_file_actions_init(&fa) == 0, HB_E_INTERNAL,
              "cannot prepare the post-restore command");
    have_fa = true;
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (chdir(root) == 0 && posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, envp) == 0) {
        int ws;
        while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
        }
        *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    }
    if (have_cwd && chdir(cwd) != 0 && *status == 0)
        *status = -1;
cleanup:
    if (have_fa)
        posix_spawn_file_actions_destroy(&fa);
    return st;
}

/* Each step once: a profile's next step that repeats a reset's message
 * word for word is not said twice. */
static hb_status add_step(hb_strlist *out, const char *step, hb_err *err)
{
    for (size_t i = 0; i < out->n; i++)
        if (strcmp(out->items[i], step) == 0)
            return HB_OK;
    return hb_strlist_add(out, step, err);
}

static hb_status list_next_steps(const hb_profile *prof, const hb_manifest *m, hb_strlist *out,
                                 hb_err *err)
{
    hb_status st = HB_OK;
    for (size_t i = 0; i < prof->n_reset; i++)
        HB_TRY(add_step(out, prof->reset[i].message, err));
    for (size_t i = 0; i < m->n_excluded; i++)
        HB_TRY(hb_strlist_addf(out, err, "not restored: %s: %s", m->excluded[i].name,
                               m->excluded[i].reason));
    for (size_t i = 0; i < prof->n_next_steps; i++)
        HB_TRY(add_step(out, prof->next_steps[i], err));
cleanup:
    return st;
}

hb_status hb_system_post_restore(const hb_system *sys, const hb_manifest *m, int *status,
                                 hb_strlist *next_steps, hb_err *err)
{
    hb_status st = HB_OK;
    *status = -1;
    if (sys->profile->post_restore_command != NULL)
        HB_TRY(run_command(sys->root, sys->profile->post_restore_command, status, err));
    HB_TRY(list_next_steps(sys->profile, m, next_steps, err));
cleanup:
    return st;
}
