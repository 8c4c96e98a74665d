/* exchange_swapper: stale-partial cleanup under a concurrent RENAME_EXCHANGE
 * swapper never removes anything outside the destination's parent (issue 11
 * class 1; test-only).
 *
 *   exchange_swapper WORKDIR ROUNDS
 *
 * WORKDIR/shared is the destination's parent (a shared directory), and
 * WORKDIR/decoy a directory outside it. Each round leaves a stale partial
 * backup .dest.hsmbak-partial-PID (PID a process that has exited) in shared,
 * holding files, a directory d and a link dl -> ../../decoy, with a link
 * shared/lnk -> ../decoy beside it. A child process (one for all rounds,
 * started and stopped through pipes) then swaps, as fast as it can, the
 * partial with lnk and d with dl (renameat2 RENAME_EXCHANGE), while this
 * process runs a backup's hb_store_begin (the stale-partial
 * cleanup of backup/storage/local.c) and hb_store_free. After every round
 * each file of the decoy must still be there with its content.
 *
 * Exit 0 and one line of figures when every round left the decoy intact;
 * 1 with the round and the file that went otherwise. */
#include "backup/storage/storage.h"
#include "common/beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DECOY_FILES 8

static void die(const char *what)
{
    fprintf(stderr, "exchange_swapper: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void put(int dfd, const char *name, const char *text)
{
    int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) != 0)
        die(name);
}

static void decoy_make(int dfd)
{
    for (int i = 0; i < DECOY_FILES; i++) {
        char name[16];
        snprintf(name, sizeof name, "f%d", i);
        put(dfd, name, "decoy\n");
    }
    if (mkdirat(dfd, "d", 0755) != 0 && errno != EEXIST)
        die("decoy/d");
    int sub = openat(dfd, "d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0)
        die("decoy/d");
    put(sub, "x", "decoy\n");
    close(sub);
}

/* The decoy's files, all there with their content: NULL, else the one gone. */
static const char *decoy_missing(int dfd)
{
    static char name[16];
    char buf[16];
    for (int i = 0; i <= DECOY_FILES; i++) {
        if (i < DECOY_FILES)
            snprintf(name, sizeof name, "f%d", i);
        else
            snprintf(name, sizeof name, "d/x");
        int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : -1;
        if (fd >= 0)
            close(fd);
        if (n != 6 || memcmp(buf, "decoy\n", 6) != 0)
            return name;
    }
    return NULL;
}

/* A pid no process has: a child that has exited and been reaped. */
static pid_t dead_pid(void)
{
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0)
        _exit(0);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    return pid;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: exchange_swapper WORKDIR ROUNDS\n");
        return 2;
    }
    const char *work = argv[1];
    long rounds = strtol(argv[2], NULL, 10);
    char shared[PATH_MAX], dest[PATH_MAX + 8];
    if (snprintf(shared, sizeof shared, "%s/shared", work) >= (int)sizeof shared ||
        snprintf(dest, sizeof dest, "%s/dest", shared) >= (int)sizeof dest)
        die("path too long");
    int wfd = open(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (wfd < 0)
        die(work);
    if ((mkdirat(wfd, "shared", 0755) != 0 && errno != EEXIST) ||
        (mkdirat(wfd, "decoy", 0755) != 0 && errno != EEXIST))
        die("mkdir");
    int sfd = openat(wfd, "shared", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int dfd = openat(wfd, "decoy", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sfd < 0 || dfd < 0)
        die("open");
    decoy_make(dfd);
    unsigned long removed = 0, left = 0, swaps = 0;
    struct timespec t0, t1;
    char name[64];
    snprintf(name, sizeof name, ".dest.hsmbak-partial-%ld", (long)dead_pid());
    /* The attacker, one process for all rounds: told to start and stop
     * through pipes, it swaps while a shared flag says so. */
    volatile int *running = mmap(NULL, sizeof *running, PROT_READ | PROT_WRITE,
                                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int go[2], ack[2];
    if (running == MAP_FAILED || pipe(go) != 0 || pipe(ack) != 0)
        die("mmap/pipe");
    pid_t child = fork();
    if (child < 0)
        die("fork");
    if (child == 0) {
        char c;
        close(go[1]);
        close(ack[0]);
        while (read(go[0], &c, 1) == 1) {
            int pfd = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (pfd < 0 || write(ack[1], "s", 1) != 1)
                _exit(1);
            while (__atomic_load_n(running, __ATOMIC_SEQ_CST)) {
                (void)renameat2(sfd, name, sfd, "lnk", RENAME_EXCHANGE);
                (void)renameat2(pfd, "d", pfd, "dl", RENAME_EXCHANGE);
            }
            close(pfd);
            if (write(ack[1], "e", 1) != 1)
                _exit(1);
        }
        _exit(0);
    }
    close(go[0]);
    close(ack[1]);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long r = 0; r < rounds; r++) {
        hb_err err;
        char c;
        if (mkdirat(sfd, name, 0700) != 0)
            die(name);
        int pfd = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (pfd < 0)
            die(name);
        put(pfd, "manifest.xml", "partial\n");
        put(pfd, "config.tar.enc", "partial\n");
        if (mkdirat(pfd, "d", 0700) != 0)
            die("d");
        int sub = openat(pfd, "d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
            die("d");
        put(sub, "x", "partial\n");
        close(sub);
        if (symlinkat("../../decoy", pfd, "dl") != 0 || symlinkat("../decoy", sfd, "lnk") != 0)
            die("symlink");
        close(pfd);
        __atomic_store_n(running, 1, __ATOMIC_SEQ_CST);
        if (write(go[1], "g", 1) != 1 || read(ack[0], &c, 1) != 1)
            die("swapper start");
        hb_store *store = NULL;
        if (hb_store_open_local(dest, NULL, &store, &err) != HB_OK ||
            hb_store_begin(store, &err) != HB_OK) {
            fprintf(stderr, "exchange_swapper: round %ld: %s\n", r, err.msg);
            kill(child, SIGKILL);
            return 1;
        }
        if (hb_store_stale_removed(store) > 0)
            removed++;
        else
            left++;
        hb_store_free(store);
        __atomic_store_n(running, 0, __ATOMIC_SEQ_CST);
        if (read(ack[0], &c, 1) != 1)
            die("swapper stop");
        swaps++;
        const char *gone = decoy_missing(dfd);
        if (gone != NULL) {
            fprintf(stderr, "exchange_swapper: round %ld: decoy/%s outside the destination's "
                            "parent was removed or changed by the stale-partial cleanup\n",
                    r, gone);
            kill(child, SIGKILL);
            return 1;
        }
        /* What the round left in shared (the partial, the link, either name). */
        if (hb_beneath_remove(sfd, shared, name, 0, &err) != HB_OK ||
            hb_beneath_remove(sfd, shared, "lnk", 0, &err) != HB_OK) {
            fprintf(stderr, "exchange_swapper: round %ld: %s\n", r, err.msg);
            kill(child, SIGKILL);
            return 1;
        }
    }
    close(go[1]);
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%lu rounds in %.1f s: the stale partial was removed in %lu, left alone (a link in "
           "its place) in %lu; the decoy is intact\n", swaps, secs, removed, left);
    return 0;
}
