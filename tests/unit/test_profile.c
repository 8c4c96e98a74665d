/* backup/profile.c: the built-in profiles and every rejection. */
#include "hbtest.h"

#include "backup/system/profile.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *dir;

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

/* A profile file in the temp dir: header + body + footer. */
static char *profile_file(const char *body)
{
    static int seq;
    char *path = malloc(PATH_MAX);
    snprintf(path, PATH_MAX, "%s/p%d.xml", dir, ++seq);
    char text[8192];
    snprintf(text, sizeof text, "<?xml version=\"1.0\"?>\n<profile xmlns=\"urn:hsmbak:profile:1\" "
             "format=\"1\" name=\"test\">\n%s\n</profile>\n", body);
    write_file(path, text);
    return path;
}

static void expect_reject(const char *body, hb_status want, const char *msg)
{
    hb_err err = {0};
    hb_profile *p = NULL;
    char *path = profile_file(body);
    HBTEST_ASSERT_FAIL(hb_profile_load_file(path, &p, &err), want, &err, msg);
    CU_ASSERT_PTR_NULL(p);
    free(path);
}

/* The built-in profile `name`, which says it is that one. */
static hb_profile *builtin(const char *name)
{
    hb_err err = {0};
    hb_profile *p = NULL;
    HBTEST_ASSERT_OK(hb_profile_load_builtin(name, &p, &err), &err);
    CU_ASSERT_STRING_EQUAL(p->name, name);
    return p;
}

static void test_appliance_builtin(void)
{
    hb_profile *p = builtin("appliance");
    CU_ASSERT_STRING_EQUAL(p->version_file, "VERSION");
    CU_ASSERT(p->version_exact);
    CU_ASSERT(p->requires_factory_state);
    const char *names[] = {"root", "config", "cert", "sharedcert", "local", "password-map",
                           "mq-users"};
    CU_ASSERT_EQUAL_FATAL(p->n_resources, 7);
    for (size_t i = 0; i < 7; i++) {
        CU_ASSERT_STRING_EQUAL(p->resources[i].name, names[i]);
        CU_ASSERT_STRING_EQUAL(p->resources[i].path, names[i]);
        CU_ASSERT_EQUAL(p->resources[i].skip_when_empty, strcmp(names[i], "sharedcert") == 0);
    }
    CU_ASSERT_EQUAL_FATAL(p->n_never_backed_up, 2);
    CU_ASSERT_STRING_EQUAL(p->never_backed_up[0].path, "temporary");
    CU_ASSERT(p->never_backed_up[0].carry_over);
    CU_ASSERT_STRING_EQUAL(p->never_backed_up[1].path, ".hsmbak");
    CU_ASSERT(!p->never_backed_up[1].carry_over);
    CU_ASSERT_EQUAL_FATAL(p->n_excluded, 1);
    CU_ASSERT_STRING_EQUAL(p->excluded[0].name, "ipmi");
    CU_ASSERT_STRING_EQUAL(p->excluded[0].path, "ipmi");
    CU_ASSERT_STRING_EQUAL(p->excluded[0].reason,
                           "IPMI passwords are held by the BMC; set them again after restore");
    CU_ASSERT_EQUAL_FATAL(p->n_reset, 1);
    CU_ASSERT_STRING_EQUAL(p->reset[0].path, "root/users/admin");
    CU_ASSERT_STRING_EQUAL(p->reset[0].message,
                           "the admin password was reset to its factory default; change it now");
    CU_ASSERT_EQUAL_FATAL(p->n_factory_ignores, 3);
    CU_ASSERT_STRING_EQUAL(p->factory_ignores[0], "config/crypto.xml");
    CU_ASSERT_STRING_EQUAL(p->factory_ignores[1], "cert");
    CU_ASSERT_STRING_EQUAL(p->factory_ignores[2], "temporary");
    CU_ASSERT(hb_profile_is_ignorable(p, ".keep"));
    CU_ASSERT(!hb_profile_is_ignorable(p, "keep"));
    CU_ASSERT_STRING_EQUAL(p->post_restore_command, "true");
    CU_ASSERT(!p->post_restore_restarts); /* `true` restarts nothing: no restart is announced */
    /* Issue 13: the admin password and IPMI are said by the reset and the
     * exclusion; the next steps hold only what nothing else says. */
    CU_ASSERT_EQUAL_FATAL(p->n_next_steps, 1);
    CU_ASSERT_STRING_EQUAL(p->next_steps[0],
                           "Restore queue manager backups and set up HA/DR separately");
    CU_ASSERT_PTR_NOT_NULL(hb_profile_find_resource(p, "mq-users"));
    CU_ASSERT_PTR_NULL(hb_profile_find_resource(p, "ipmi"));
    /* The factory image is absolute and holds what the profile relies on. */
    CU_ASSERT_PTR_NOT_NULL_FATAL(p->factory_image);
    CU_ASSERT_EQUAL(p->factory_image[0], '/');
    const char *files[] = {"root/users/admin", "root/system.cfg", "config/mqa.cfg",
                           "ipmi/ipmi.cfg", "cert", "sharedcert", "local", "password-map",
                           "mq-users", "temporary", NULL};
    for (size_t i = 0; files[i] != NULL; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", p->factory_image, files[i]);
        CU_ASSERT_EQUAL(access(path, R_OK), 0);
    }
    char admin[PATH_MAX];
    snprintf(admin, sizeof admin, "%s/root/users/admin", p->factory_image);
    FILE *f = fopen(admin, "r");
    char line[256] = "";
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_PTR_NOT_NULL(fgets(line, sizeof line, f));
    fclose(f);
    CU_ASSERT_EQUAL(strncmp(line, "admin:$6$", 9), 0);
    hb_profile_free(p);
}

static void test_host_builtin(void)
{
    hb_err err = {0};
    hb_profile *p = builtin("host");
    CU_ASSERT_EQUAL_FATAL(p->n_resources, 1);
    CU_ASSERT_STRING_EQUAL(p->resources[0].name, "etc");
    CU_ASSERT_STRING_EQUAL(p->resources[0].path, "etc");
    CU_ASSERT(!p->requires_factory_state);
    CU_ASSERT_PTR_NULL(p->factory_image);
    CU_ASSERT_EQUAL(p->n_reset, 0);
    CU_ASSERT(p->version_exact);
    CU_ASSERT_PTR_NULL(p->post_restore_command);
    hb_profile_free(p);
    HBTEST_ASSERT_FAIL(hb_profile_load_builtin("router", &p, &err), HB_E_NOT_FOUND, &err,
                       "no built-in profile 'router'");
    hb_profile_free(NULL);
}

static void test_custom_profile(void)
{
    hb_err err = {0};
    hb_profile *p = NULL;
    /* Names derived from paths; .hsmbak added; factory image beside the file. */
    char img[PATH_MAX], users[PATH_MAX], admin[PATH_MAX];
    snprintf(img, sizeof img, "%s/fac", dir);
    snprintf(users, sizeof users, "%s/fac/data", dir);
    snprintf(admin, sizeof admin, "%s/fac/data/pw", dir);
    mkdir(img, 0700);
    mkdir(users, 0700);
    write_file(admin, "x\n");
    char *path = profile_file(
        "<factory-image>fac</factory-image>\n"
        "<resources><resource path=\"var/lib/app\"/><resource name=\"data\" path=\"data\"/>"
        "</resources>\n"
        "<reset-on-restore><reset path=\"data/pw\">pw reset</reset></reset-on-restore>");
    HBTEST_ASSERT_OK(hb_profile_load_file(path, &p, &err), &err);
    CU_ASSERT_STRING_EQUAL(p->resources[0].name, "var-lib-app");
    CU_ASSERT_EQUAL_FATAL(p->n_never_backed_up, 1);
    CU_ASSERT_STRING_EQUAL(p->never_backed_up[0].path, ".hsmbak");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p->factory_image);
    CU_ASSERT_PTR_NOT_NULL(strstr(p->factory_image, "/fac"));
    CU_ASSERT(!p->requires_factory_state);
    hb_profile_free(p);
    free(path);
}

/* One resource, for the cases about something else. */
#define RES "<resources><resource name=\"a\" path=\"a\"/></resources>"

static void test_rejections(void)
{
    expect_reject("<resources><resource name=\"a\" path=\"a\"/></resources><color/>",
                  HB_E_VERIFY, "does not match the schema: line 3: Element "
                  "'{urn:hsmbak:profile:1}color': This element is not expected");
    expect_reject("<resources/>", HB_E_VERIFY, "does not match the schema");
    expect_reject("<resources><resource name=\"a\" path=\"a\"/>"
                  "<resource name=\"a\" path=\"b\"/></resources>",
                  HB_E_VERIFY, "resource name 'a' is used twice");
    expect_reject("<resources><resource name=\"a\" path=\"/etc\"/></resources>", HB_E_VERIFY,
                  "resource path '/etc' must be a relative path");
    expect_reject("<resources><resource name=\"a\" path=\"x/../../etc\"/></resources>",
                  HB_E_VERIFY, "resource path 'x/../../etc' must be a relative path");
    expect_reject("<resources><resource name=\"a\" path=\"..\"/></resources>", HB_E_VERIFY,
                  "resource path '..' must be a relative path");
    expect_reject("<resources><resource name=\"a\" path=\"a//b\"/></resources>", HB_E_VERIFY,
                  "must be a relative path");
    expect_reject("<resources><resource name=\"a\" path=\"etc\"/>"
                  "<resource name=\"b\" path=\"etc/ssl\"/></resources>",
                  HB_E_VERIFY, "resource path 'etc/ssl' overlaps another resource");
    expect_reject("<resources><resource name=\"a\" path=\"etc/ssl\"/>"
                  "<resource name=\"b\" path=\"etc\"/></resources>",
                  HB_E_VERIFY, "resource path 'etc' overlaps another resource");
    expect_reject("<resources><resource name=\"a\" path=\"etc\"/>"
                  "<resource name=\"b\" path=\"etcetera\"/></resources>"
                  "<post-restore-command>bad\ncommand</post-restore-command>",
                  HB_E_VERIFY, "the post-restore command must be one line");
    expect_reject("<resources><resource name=\"Config\" path=\"a\"/></resources>", HB_E_VERIFY,
                  "resource name 'Config' must match [a-z0-9][a-z0-9-]*");
    expect_reject("<resources><resource name=\"-a\" path=\"a\"/></resources>", HB_E_VERIFY,
                  "resource name '-a' must match");
    expect_reject("<resources><resource path=\"My_Dir\"/></resources>", HB_E_VERIFY,
                  "resource name 'My_Dir' must match [a-z0-9][a-z0-9-]* (give the resource a "
                  "name=");
    expect_reject("<resources><resource name=\"h\" path=\".hsmbak\"/></resources>", HB_E_VERIFY,
                  "resource path '.hsmbak' overlaps a never-backed-up path");
    expect_reject("<resources><resource name=\"a\" path=\"a\"/></resources>"
                  "<excluded><item name=\"x\" path=\"a/x\">why</item></excluded>", HB_E_VERIFY,
                  "resource path 'a' overlaps an excluded path");
    expect_reject("<version-file>a/VERSION</version-file>"
                  "<resources><resource name=\"a\" path=\"a\"/></resources>", HB_E_VERIFY,
                  "resource path 'a' overlaps the version file");
    expect_reject("<version-file match=\"at-least\">VERSION</version-file>"
                  "<resources><resource name=\"a\" path=\"a\"/></resources>", HB_E_VERIFY,
                  "does not match the schema");
    expect_reject("<factory-image requires-factory-state=\"true\">nowhere</factory-image>" RES,
                  HB_E_VERIFY, "nowhere' is not a directory");
    expect_reject(RES "<reset-on-restore><reset path=\"a/pw\">m</reset></reset-on-restore>",
                  HB_E_VERIFY, "a factory image is needed");
    char img[PATH_MAX];
    snprintf(img, sizeof img, "%s/img", dir);
    mkdir(img, 0700);
    expect_reject("<factory-image>img</factory-image>" RES
                  "<reset-on-restore><reset path=\"b/pw\">m</reset></reset-on-restore>",
                  HB_E_VERIFY, "reset path 'b/pw' is not inside a resource");
    expect_reject("<factory-image>img</factory-image>" RES
                  "<reset-on-restore><reset path=\"a/pw\">m</reset></reset-on-restore>",
                  HB_E_VERIFY, "reset path 'a/pw' is not a file in the factory image");
    expect_reject(RES "<ignorable-files><name>x/.keep</name></ignorable-files>", HB_E_VERIFY,
                  "ignorable file 'x/.keep' must be a plain file name");
    expect_reject(RES "<factory-state-ignores><path>../x</path></factory-state-ignores>",
                  HB_E_VERIFY, "factory-state ignore '../x' must be a relative path");
    /* The hardened parser applies to profiles too. */
    char *path = malloc(PATH_MAX);
    snprintf(path, PATH_MAX, "%s/dtd.xml", dir);
    write_file(path, "<!DOCTYPE profile [<!ENTITY x \"y\">]><profile/>");
    hb_err err = {0};
    hb_profile *p = NULL;
    HBTEST_ASSERT_FAIL(hb_profile_load_file(path, &p, &err), HB_E_VERIFY, &err,
                       "dtd.xml' contains a DTD; refusing to parse it");
    snprintf(path, PATH_MAX, "%s/other.xml", dir);
    write_file(path, "<profile xmlns=\"urn:other\"/>");
    HBTEST_ASSERT_FAIL(hb_profile_load_file(path, &p, &err), HB_E_VERIFY, &err,
                       "does not match the schema");
    snprintf(path, PATH_MAX, "%s/missing.xml", dir);
    HBTEST_ASSERT_FAIL(hb_profile_load_file(path, &p, &err), HB_E_NOT_FOUND, &err,
                       "cannot open profile");
    free(path);
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"built-in appliance profile", test_appliance_builtin},
        {"built-in host profile", test_host_builtin},
        {"custom profile: derived names, factory image", test_custom_profile},
        {"rejections", test_rejections},
        {NULL, NULL},
    };
    return hbtest_run(&(hbtest_suite){"profile", cases, .scratch = &dir});
}
