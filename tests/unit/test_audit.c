/* backup/audit.c: the audit line's form, through HSMBAK_AUDIT_FILE. */
#include "hbtest.h"

#include "backup/ops/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *dir, path[512];

static char *last_line(void)
{
    static char line[8192];
    FILE *f = fopen(path, "r");
    line[0] = '\0';
    if (f == NULL)
        return line;
    while (fgets(line, sizeof line, f) != NULL) {
    }
    fclose(f);
    return line;
}

static void test_fields_and_quoting(void)
{
    hb_audit_log("keygen", HB_OK, NULL, "token", "pkcs11:token=my token", "label", "k1",
                 "empty", "", "absent", (const char *)NULL, "quote", "a\"b\\c",
                 "ctl", "x\ny", (const char *)NULL);
    char *l = last_line();
    char uid[64];
    snprintf(uid, sizeof uid, " uid=%lu ", (unsigned long)getuid());
    CU_ASSERT_PTR_NOT_NULL(strstr(l, "]: hsmbak-audit v=1 op=keygen outcome=ok status=0"));
    CU_ASSERT_PTR_NOT_NULL(strstr(l, uid));
    CU_ASSERT_PTR_NOT_NULL(strstr(l, " token=\"pkcs11:token=my token\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(l, " label=k1"));
    CU_ASSERT_PTR_NULL(strstr(l, "empty="));
    CU_ASSERT_PTR_NULL(strstr(l, "absent="));
    CU_ASSERT_PTR_NOT_NULL(strstr(l, " quote=\"a\\\"b\\\\c\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(l, " ctl=\"x?y\""));
    CU_ASSERT_EQUAL(l[strlen(l) - 1], '\n');
    struct stat sb;
    CU_ASSERT_EQUAL(stat(path, &sb), 0);
    CU_ASSERT_EQUAL(sb.st_mode & 0777, 0600);
}

static void test_outcomes_and_reason(void)
{
    hb_err err = {0};
    hb_fail(&err, HB_E_REFUSED, "the destination is not empty");
    hb_audit_log("secure-backup", HB_E_REFUSED, &err, (const char *)NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(last_line(), "outcome=refused status=6"));
    CU_ASSERT_PTR_NOT_NULL(strstr(last_line(), "reason=\"the destination is not empty\""));
    hb_fail(&err, HB_E_VERIFY, "bad tag");
    hb_audit_backup_op("validate", HB_E_VERIFY, &err, "/b", NULL, NULL, "cred");
    CU_ASSERT_PTR_NOT_NULL(strstr(last_line(), "op=validate outcome=failed status=5"));
    CU_ASSERT_PTR_NOT_NULL(strstr(last_line(), "idcred=cred"));
    CU_ASSERT_STRING_EQUAL(hb_audit_outcome(HB_E_AUTH), "refused");
    CU_ASSERT_STRING_EQUAL(hb_audit_outcome(HB_E_IO), "failed");
    CU_ASSERT_STRING_EQUAL(hb_audit_outcome(HB_OK), "ok");
}

static void test_long_values_are_cut(void)
{
    char big[3000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    hb_audit_log("keygen", HB_OK, NULL, "a", big, "b", big, "c", big, "d", big, "e", big,
                 "f", big, "g", big, "h", big, "i", big, (const char *)NULL);
    char *l = last_line();
    CU_ASSERT_TRUE(strlen(l) < 4200);
    CU_ASSERT_PTR_NOT_NULL(strstr(l, "outcome=ok"));
}

static void test_symlink_refused(void)
{
    char target[600], link[600];
    snprintf(target, sizeof target, "%s/target", dir);
    snprintf(link, sizeof link, "%s/link", dir);
    CU_ASSERT_EQUAL(symlink(target, link), 0);
    setenv("HSMBAK_AUDIT_FILE", link, 1);
    hb_audit_log("keygen", HB_OK, NULL, (const char *)NULL);
    struct stat sb;
    CU_ASSERT_NOT_EQUAL(stat(target, &sb), 0); /* nothing written through the link */
    setenv("HSMBAK_AUDIT_FILE", path, 1);
}

static int set_audit_file(void)
{
    snprintf(path, sizeof path, "%s/audit.log", dir);
    setenv("HSMBAK_AUDIT_FILE", path, 1);
    return 0;
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"one logfmt line: op, outcome, uid, quoted values, no empty fields", test_fields_and_quoting},
        {"refused and failed outcomes carry the reason", test_outcomes_and_reason},
        {"long values are cut, the line stays bounded", test_long_values_are_cut},
        {"HSMBAK_AUDIT_FILE is never written through a symlink", test_symlink_refused},
        {NULL, NULL},
    };
    return hbtest_run(&(hbtest_suite){"audit", cases, .scratch = &dir, .setup = set_audit_file});
}
