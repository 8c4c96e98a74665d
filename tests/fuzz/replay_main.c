/* Replays fuzz inputs through a harness without libFuzzer, so the normal and
 * ASan test trees run every committed seed and every past crash (zstd's
 * regression driver; ctest fuzz/replay_TARGET).
 *   replay_TARGET FILE|DIR...  */
#include "fuzz_common.h"

#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            uint8_t *nb = realloc(buf, cap);
            if (nb == NULL)
                abort();
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        if (n == 0)
            break;
        len += n;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    int failed = 0, n = 0;
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) != 0) {
            perror(argv[i]);
            return 1;
        }
        if (!S_ISDIR(sb.st_mode)) {
            failed |= replay_file(argv[i]);
            n++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        struct dirent *de;
        while (d != NULL && (de = readdir(d)) != NULL) {
            char p[PATH_MAX];
            if (de->d_name[0] == '.' ||
                snprintf(p, sizeof p, "%s/%s", argv[i], de->d_name) >= (int)sizeof p)
                continue;
            failed |= replay_file(p);
            n++;
        }
        if (d != NULL)
            closedir(d);
    }
    unlink(fuzz_scratch(".profile.xml"));
    unlink(fuzz_scratch(".archive"));
    printf("replayed %d inputs\n", n);
    return failed;
}
