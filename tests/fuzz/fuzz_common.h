/* Shared bits of the libFuzzer harnesses (tests/fuzz). */
#ifndef HSMBAK_FUZZ_COMMON_H
#define HSMBAK_FUZZ_COMMON_H
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A per-process scratch file that each input is written to (the readers
 * under test open paths with O_NOFOLLOW, so /proc/self/fd links will not do). */
static inline const char *fuzz_scratch(const char *suffix)
{
    static char path[256];
    if (path[0] == '\0') {
        const char *dir = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/hsmbak-fuzz-%ld%s", dir ? dir : "/tmp", (long)getpid(),
                 suffix);
    }
    return path;
}

static inline int fuzz_write(const char *path, const void *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    const uint8_t *p = data;
    while (size > 0) {
        ssize_t n = write(fd, p, size);
        if (n <= 0) {
            close(fd);
            return -1;
        }
        p += n;
        size -= (size_t)n;
    }
    close(fd);
    return 0;
}
#endif
