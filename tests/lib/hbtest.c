#include "hbtest.h"

#include "hbtest_token.h"

#include <CUnit/Basic.h>
#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int run_cases(const char *suite_name, const hbtest_case *cases)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite suite = CU_add_suite(suite_name, NULL, NULL);
    if (suite == NULL)
        return 2;
    for (const hbtest_case *c = cases; c->name != NULL; c++)
        if (CU_add_test(suite, c->name, c->fn) == NULL)
            return 2;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned ran = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    if (ran == 0)
        return 3;
    return failed == 0 ? 0 : 1;
}

int hbtest_run(const hbtest_suite *s)
{
    if (s->no_terminal && freopen("/dev/null", "r", stdin) == NULL)
        return 2;
    if (s->scratch != NULL)
        *s->scratch = hbtest_tempdir(s->name);
    if (s->prov != NULL)
        *s->prov = th_open(s->module);
    int rc = s->setup != NULL ? s->setup() : 0;
    if (rc == 0)
        rc = run_cases(s->name, s->cases);
    if (s->teardown != NULL)
        s->teardown();
    if (s->prov != NULL) {
        hb_provider_free(*s->prov);
        *s->prov = NULL;
    }
    if (s->scratch != NULL) {
        hbtest_rmtree(*s->scratch);
        free(*s->scratch);
        *s->scratch = NULL;
    }
    return rc;
}

int hbtest_main(const char *suite_name, const hbtest_case *cases)
{
    return hbtest_run(&(const hbtest_suite){.name = suite_name, .cases = cases});
}

const char *hbtest_env(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0') {
        fprintf(stderr, "test needs %s (run it through hsm-config/with-token)\n", name);
        exit(2);
    }
    return v;
}

char *hbtest_tempdir(const char *tag)
{
    const char *base = getenv("HSMBAK_TEST_DIR");
    if (base == NULL)
        base = getenv("TMPDIR");
    if (base == NULL)
        base = "/tmp";
    char tmpl[PATH_MAX];
    int n = snprintf(tmpl, sizeof tmpl, "%s/%s.XXXXXX", base, tag);
    if (n < 0 || (size_t)n >= sizeof tmpl) {
        fprintf(stderr, "hbtest_tempdir: '%s' is too long for a path\n", base);
        exit(2);
    }
    char *dir = mkdtemp(tmpl);
    if (dir == NULL) {
        fprintf(stderr, "mkdtemp %s: %s\n", tmpl, strerror(errno));
        exit(2);
    }
    return strdup(dir);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag == FTW_DP)
        return rmdir(path);
    return unlink(path);
}

void hbtest_rmtree(const char *path)
{
    if (path == NULL)
        return;
    if (nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
        fprintf(stderr, "could not remove %s: %s\n", path, strerror(errno));
}

int hbtest_write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}
