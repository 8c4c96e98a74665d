#include "common/fault.h"
#include "common/fail.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hb_fault_point(const char *name)
{
    const char *want = getenv("HSMBAK_FAULT");
    if (want != NULL && strcmp(want, name) == 0)
        raise(SIGKILL);
}

bool hb_fault_active(const char *name)
{
    const char *want = getenv("HSMBAK_FAULT");
    return want != NULL && strcmp(want, name) == 0;
}

void hb_fault_swap(const char *name, const char *path)
{
    const char *want = getenv("HSMBAK_FAULT");
    const char *file = getenv("HSMBAK_FAULT_FILE");
    if (want == NULL || strcmp(want, name) != 0 || file == NULL || file[0] == '\0')
        return;
    const char *fb = strrchr(file, '/'), *pb = strrchr(path, '/');
    if (strcmp(fb != NULL ? fb + 1 : file, pb != NULL ? pb + 1 : path) == 0)
        (void)rename(file, path);
}
