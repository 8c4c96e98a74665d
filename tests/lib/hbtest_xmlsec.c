/* xmlsec1 --verify runner (hbtest_xmlsec.h). */
#include "hbtest_xmlsec.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/wait.h>

extern char **environ;

int hbtest_xmlsec1_verify(const char *pem, const char *xml_path)
{
    char *argv[] = {"xmlsec1", "--verify", "--trusted-pem", (char *)pem,
                    "--enabled-reference-uris", "empty", (char *)xml_path, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, "xmlsec1", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fprintf(stderr, "  cannot run xmlsec1 (install the xmlsec1 package)\n");
        return -1;
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}
