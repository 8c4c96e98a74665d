/* System profiles (DESIGN §6): load, check, free. The schema states the
 * structure; this file states the rules a schema cannot: safe relative
 * paths, unique names, no overlaps, a factory image when one is needed. */
#include "backup/system/profile.h"

#include "backup/format/xml.h"
#include "common/buf.h"
#include "common/datadir.h"
#include "common/fileio.h"
#include "common/fail.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NS HB_PROFILE_NS
/* Far more entries of any one kind than a profile has. */
#define HB_PROFILE_MAX_ITEMS 10000

static bool name_ok(const char *s)
{
    if (s == NULL || s[0] == '\0' || s[0] == '-' || strlen(s) > 64)
        return false;
    for (; *s != '\0'; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
            return false;
    return true;
}

/* A path under ROOT: plain components only, so it can never leave ROOT. */
static bool path_ok(const char *s)
{
    if (s == NULL || s[0] == '\0' || s[0] == '/' || strlen(s) > 1024 || !hb_xml_text_ok(s))
        return false;
    const char *c = s;
    for (;;) {
        const char *end = strchr(c, '/');
        size_t n = end != NULL ? (size_t)(end - c) : strlen(c);
        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        if (end == NULL)
            return true;
        c = end + 1;
    }
}

/* a equals b, or one is a directory above the other. */
static bool overlaps(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t n = la < lb ? la : lb;
    if (strncmp(a, b, n) != 0)
        return false;
    return la == lb || (la < lb ? b[la] == '/' : a[lb] == '/');
}

static hb_status fail(hb_err *err, const hb_profile *p, const char *fmt, const char *a,
                      const char *b)
{
    return hb_fail(err, HB_E_VERIFY, "profile '%s' is invalid: %s%s%s",
                   p->source != NULL ? p->source : "?", fmt, a != NULL ? a : "",
                   b != NULL ? b : "");
}

static char *attr(const xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetNoNsProp(n, BAD_CAST name);
    char *s = v != NULL ? strdup((const char *)v) : NULL;
    xmlFree(v);
    return s;
}

static bool attr_true(const xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetNoNsProp(n, BAD_CAST name);
    bool yes = v != NULL && (xmlStrEqual(v, BAD_CAST "true") || xmlStrEqual(v, BAD_CAST "1"));
    xmlFree(v);
    return yes;
}

static hb_status oom(const hb_profile *p, hb_err *err)
{
    return hb_fail(err, HB_E_INTERNAL, "out of memory reading profile '%s'",
                   p->source != NULL ? p->source : "?");
}

/* "var/lib/app" -> "var-lib-app" for resources given by path only. */
static char *name_from_path(const char *path)
{
    char *s = strdup(path);
    for (char *c = s; c != NULL && *c != '\0'; c++)
        if (*c == '/')
            *c = '-';
    return s;
}

/* <factory-image>, relative to the profile's directory dir. */
static hb_status read_factory_image(hb_profile *p, const xmlNode *n, const char *dir,
                                    hb_err *err)
{
    char joined[PATH_MAX], real[PATH_MAX];
    if (n == NULL)
        return HB_OK;
    char *rel = hb_xml_text(n);
    if (rel == NULL)
        return oom(p, err);
    p->requires_factory_state = attr_true(n, "requires-factory-state");
    hb_status st = rel[0] == '/' ? hb_path_join(joined, sizeof joined, "", rel + 1, err)
                                 : hb_path_join(joined, sizeof joined, dir, rel, err);
    free(rel);
    if (st != HB_OK)
        return st;
    struct stat sb;
    if (realpath(joined, real) == NULL || stat(real, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return fail(err, p, "factory image '", joined, "' is not a directory");
    if ((p->factory_image = strdup(real)) == NULL)
        return oom(p, err);
    return HB_OK;
}

/* Every child element of `list`, read by read_entry into a new entry of
 * the array *arr (*n entries of elem bytes, built by hb_array_push alone);
 * read_entry returns false when it ran out of memory. */
typedef bool (*entry_reader)(void *entry, const xmlNode *el);

static hb_status read_list(const hb_profile *p, const xmlNode *list, void *arr, size_t *n,
                           size_t elem, entry_reader read_entry, hb_err *err)
{
    for (xmlNodePtr el = hb_xml_first_elem(list); el != NULL; el = hb_xml_next_elem(el)) {
        void *entry = hb_array_push(arr, n, elem, HB_PROFILE_MAX_ITEMS, err);
        if (entry == NULL)
            return err->status;
        if (!read_entry(entry, el))
            return oom(p, err);
    }
    return HB_OK;
}
#define READ_LIST(p, list, arr, n, read_entry, err) \
    read_list((p), (list), &(arr), &(n), sizeof *(arr), (read_entry), (err))

static bool read_text(void *entry, const xmlNode *el)
{
    char **text = entry;
    return (*text = hb_xml_text(el)) != NULL;
}

static bool read_resource(void *entry, const xmlNode *el)
{
    hb_profile_resource *res = entry;
    res->path = attr(el, "path");
    res->name = attr(el, "name");
    if (res->name == NULL && res->path != NULL)
        res->name = name_from_path(res->path);
    res->skip_when_empty = attr_true(el, "skip-when-empty");
    return res->path != NULL && res->name != NULL;
}

static bool read_never(void *entry, const xmlNode *el)
{
    hb_profile_never *nv = entry;
    nv->carry_over = attr_true(el, "carry-over");
    return (nv->path = hb_xml_text(el)) != NULL;
}

static bool read_excluded(void *entry, const xmlNode *el)
{
    hb_profile_excluded *x = entry;
    x->name = attr(el, "name");
    x->path = attr(el, "path");
    x->reason = hb_xml_text(el);
    return x->name != NULL && x->path != NULL && x->reason != NULL;
}

static bool read_reset(void *entry, const xmlNode *el)
{
    hb_profile_reset *x = entry;
    x->path = attr(el, "path");
    x->message = hb_xml_text(el);
    return x->path != NULL && x->message != NULL;
}

static hb_status read_doc(hb_profile *p, const xmlNode *root, const char *dir, hb_err *err)
{
    hb_status st = HB_OK;
    p->name = attr(root, "name");
    HB_TRY(hb_xml_child_text(root, NS, "version-file", false, "profile", &p->version_file,
                             err));
    if (p->version_file == NULL && (p->version_file = strdup("VERSION")) == NULL)
        HB_TRY(oom(p, err));
    p->version_exact = true; /* the schema admits match="exact" only */
    HB_TRY(read_factory_image(p, hb_xml_child(root, NS, "factory-image"), dir, err));
    HB_TRY(READ_LIST(p, hb_xml_child(root, NS, "resources"), p->resources, p->n_resources,
                     read_resource, err));
    HB_TRY(READ_LIST(p, hb_xml_child(root, NS, "never-backed-up"), p->never_backed_up,
                     p->n_never_backed_up, read_never, err));
    HB_TRY(READ_LIST(p, hb_xml_child(root, NS, "excluded"), p->excluded, p->n_excluded,
                     read_excluded, err));
    HB_TRY(READ_LIST(p, hb_xml_child(root, NS, "reset-on-restore"), p->reset, p->n_reset,
                     read_reset, err));
    HB_TRY(READ_LIST(p, hb_xml_child(root, NS, "factory-state-ignores"), p->factory_ignores,
                     p->n_factory_ignores, read_text, err));
    HB_TRY(READ_LIST(p, hb_xml_child(root, NS, "ignorable-files"), p->ignorable_files,
                     p->n_ignorable_files, read_text, err));
    HB_TRY(READ_LIST(p, hb_xml_child(root, NS, "next-steps"), p->next_steps, p->n_next_steps,
                     read_text, err));
    HB_TRY(hb_xml_child_text(root, NS, "post-restore-command", false, "profile",
                             &p->post_restore_command, err));
    const xmlNode *cmd = hb_xml_child(root, NS, "post-restore-command");
    p->post_restore_restarts = cmd != NULL && attr_true(cmd, "restarts");
cleanup:
    return st;
}

/* ROOT/.hsmbak is hsmbak's own state: never backed up, whatever the file says. */
static hb_status add_state_dir(hb_profile *p, hb_err *err)
{
    for (size_t i = 0; i < p->n_never_backed_up; i++)
        if (strcmp(p->never_backed_up[i].path, HB_PROFILE_STATE_DIR) == 0)
            return HB_OK;
    hb_profile_never *nv = HB_ARRAY_PUSH(p->never_backed_up, p->n_never_backed_up,
                                         HB_PROFILE_MAX_ITEMS + 1, err);
    if (nv == NULL)
        return err->status;
    if ((nv->path = strdup(HB_PROFILE_STATE_DIR)) == NULL)
        return oom(p, err);
    return HB_OK;
}

#define RELATIVE "' must be a relative path without '.', '..' or empty components"

static hb_status check_resources(const hb_profile *p, hb_err *err)
{
    if (p->n_resources == 0)
        return fail(err, p, "it lists no resources", NULL, NULL);
    for (size_t i = 0; i < p->n_resources; i++) {
        const hb_profile_resource *r = &p->resources[i];
        if (!name_ok(r->name))
            return fail(err, p, "resource name '", r->name, "' must match [a-z0-9][a-z0-9-]* "
                        "(give the resource a name=\"...\")");
        if (!path_ok(r->path))
            return fail(err, p, "resource path '", r->path, RELATIVE);
        if (overlaps(r->path, p->version_file))
            return fail(err, p, "resource path '", r->path, "' overlaps the version file");
        for (size_t j = 0; j < i; j++) {
            if (strcmp(r->name, p->resources[j].name) == 0)
                return fail(err, p, "resource name '", r->name, "' is used twice");
            if (overlaps(r->path, p->resources[j].path))
                return fail(err, p, "resource path '", r->path, "' overlaps another resource");
        }
        for (size_t j = 0; j < p->n_never_backed_up; j++)
            if (overlaps(r->path, p->never_backed_up[j].path))
                return fail(err, p, "resource path '", r->path, "' overlaps a never-backed-up "
                            "path");
        for (size_t j = 0; j < p->n_excluded; j++)
            if (overlaps(r->path, p->excluded[j].path))
                return fail(err, p, "resource path '", r->path, "' overlaps an excluded path");
    }
    return HB_OK;
}

static hb_status check_excluded(const hb_profile *p, hb_err *err)
{
    for (size_t i = 0; i < p->n_never_backed_up; i++)
        if (!path_ok(p->never_backed_up[i].path))
            return fail(err, p, "never-backed-up path '", p->never_backed_up[i].path, RELATIVE);
    for (size_t i = 0; i < p->n_excluded; i++) {
        const hb_profile_excluded *x = &p->excluded[i];
        if (!name_ok(x->name))
            return fail(err, p, "excluded item name '", x->name, "' must match "
                        "[a-z0-9][a-z0-9-]*");
        if (!path_ok(x->path))
            return fail(err, p, "excluded path '", x->path, RELATIVE);
        if (!hb_xml_text_ok(x->reason))
            return fail(err, p, "the reason for excluding '", x->name, "' is not one line");
        for (size_t j = 0; j < i; j++)
            if (strcmp(x->name, p->excluded[j].name) == 0)
                return fail(err, p, "excluded item name '", x->name, "' is used twice");
    }
    return HB_OK;
}

/* Each reset is a file of the factory image inside a resource. */
static hb_status check_resets(const hb_profile *p, hb_err *err)
{
    if ((p->requires_factory_state || p->n_reset > 0) && p->factory_image == NULL)
        return fail(err, p, "a factory image is needed for requires-factory-state and "
                    "reset-on-restore", NULL, NULL);
    for (size_t i = 0; i < p->n_reset; i++) {
        const hb_profile_reset *x = &p->reset[i];
        if (!path_ok(x->path))
            return fail(err, p, "reset path '", x->path, RELATIVE);
        bool inside = false;
        for (size_t j = 0; j < p->n_resources; j++) {
            size_t n = strlen(p->resources[j].path);
            inside |= strncmp(x->path, p->resources[j].path, n) == 0 && x->path[n] == '/';
        }
        if (!inside)
            return fail(err, p, "reset path '", x->path, "' is not inside a resource");
        char src[PATH_MAX];
        struct stat sb;
        hb_status st = hb_path_join(src, sizeof src, p->factory_image, x->path, err);
        if (st != HB_OK)
            return st;
        if (lstat(src, &sb) != 0 || !S_ISREG(sb.st_mode))
            return fail(err, p, "reset path '", x->path, "' is not a file in the factory image");
        if (!hb_xml_text_ok(x->message))
            return fail(err, p, "the message for reset path '", x->path, "' is not one line");
    }
    return HB_OK;
}

static hb_status check_lists(const hb_profile *p, hb_err *err)
{
    for (size_t i = 0; i < p->n_factory_ignores; i++)
        if (!path_ok(p->factory_ignores[i]))
            return fail(err, p, "factory-state ignore '", p->factory_ignores[i], RELATIVE);
    for (size_t i = 0; i < p->n_ignorable_files; i++) {
        const char *f = p->ignorable_files[i];
        if (!path_ok(f) || strchr(f, '/') != NULL)
            return fail(err, p, "ignorable file '", f, "' must be a plain file name");
    }
    if (p->post_restore_command != NULL && !hb_xml_text_ok(p->post_restore_command))
        return fail(err, p, "the post-restore command must be one line", NULL, NULL);
    for (size_t i = 0; i < p->n_next_steps; i++)
        if (!hb_xml_text_ok(p->next_steps[i]))
            return fail(err, p, "next step '", p->next_steps[i], "' is not one line");
    return HB_OK;
}

/* The rules a schema cannot state, in the order a reader meets them. */
static hb_status check(const hb_profile *p, hb_err *err)
{
    hb_status st = HB_OK;
    if (!name_ok(p->name))
        HB_TRY(fail(err, p, "profile name '", p->name, "' must match [a-z0-9][a-z0-9-]*"));
    if (!path_ok(p->version_file))
        HB_TRY(fail(err, p, "version file '", p->version_file, RELATIVE));
    HB_TRY(check_resources(p, err));
    HB_TRY(check_excluded(p, err));
    HB_TRY(check_resets(p, err));
    HB_TRY(check_lists(p, err));
cleanup:
    return st;
}

hb_status hb_profile_load_file(const char *path, hb_profile **out, hb_err *err)
{
    hb_status st = HB_OK;
    hb_profile *p = NULL;
    unsigned char *data = NULL;
    size_t len = 0;
    xmlDocPtr doc = NULL;
    char real[PATH_MAX], what[PATH_MAX + 16];

    *out = NULL;
    if (path == NULL || realpath(path, real) == NULL) {
        st = hb_fail(err, errno == ENOENT ? HB_E_NOT_FOUND : HB_E_IO,
                     "cannot open profile '%s': %s", path != NULL ? path : "(null)",
                     strerror(errno));
        goto cleanup;
    }
    HB_TRY(hb_read_file(real, HB_PROFILE_MAX_SIZE, &data, &len, err));
    p = calloc(1, sizeof *p);
    if (p == NULL || (p->source = strdup(real)) == NULL) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    HB_TRY(hb_format(what, sizeof what, "profile path", err, "profile '%s'", real));
    HB_TRY(hb_xml_parse(data, len, HB_PROFILE_MAX_SIZE, 0, "schema/profile.xsd", what, &doc,
                        err));
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (!hb_xml_is(root, NS, "profile")) {
        st = hb_fail(err, HB_E_VERIFY, "'%s' is not an hsmbak profile (expected <profile "
                     "xmlns=\"%s\">)", real, NS);
        goto cleanup;
    }
    char *slash = strrchr(real, '/');
    *slash = '\0'; /* real is absolute, so there is one; real is now the dir */
    HB_TRY(read_doc(p, root, real[0] != '\0' ? real : "/", err));
    HB_TRY(add_state_dir(p, err));
    HB_TRY(check(p, err));
    *out = p;
    p = NULL;
cleanup:
    xmlFreeDoc(doc);
    free(data);
    hb_profile_free(p);
    return st;
}

hb_status hb_profile_load_builtin(const char *name, hb_profile **out, hb_err *err)
{
    char rel[128], path[PATH_MAX];
    hb_status st = HB_OK;
    *out = NULL;
    HB_ENSURE(name != NULL && (strcmp(name, "appliance") == 0 || strcmp(name, "host") == 0),
              HB_E_NOT_FOUND, "no built-in profile '%s' (built-ins: appliance, host; or give a "
              "profile file)", name != NULL ? name : "");
    HB_TRY(hb_format(rel, sizeof rel, "profile name", err, "profiles/%s.xml", name));
    HB_TRY(hb_data_path(rel, path, sizeof path, err));
    HB_TRY(hb_profile_load_file(path, out, err));
cleanup:
    return st;
}

static void free_list(char **l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(l[i]);
    free(l);
}

void hb_profile_free(hb_profile *p)
{
    if (p == NULL)
        return;
    free(p->name);
    free(p->source);
    free(p->version_file);
    free(p->factory_image);
    for (size_t i = 0; i < p->n_resources; i++) {
        free(p->resources[i].name);
        free(p->resources[i].path);
    }
    free(p->resources);
    for (size_t i = 0; i < p->n_never_backed_up; i++)
        free(p->never_backed_up[i].path);
    free(p->never_backed_up);
    for (size_t i = 0; i < p->n_excluded; i++) {
        free(p->excluded[i].name);
        free(p->excluded[i].path);
        free(p->excluded[i].reason);
    }
    free(p->excluded);
    for (size_t i = 0; i < p->n_reset; i++) {
        free(p->reset[i].path);
        free(p->reset[i].message);
    }
    free(p->reset);
    free_list(p->factory_ignores, p->n_factory_ignores);
    free_list(p->ignorable_files, p->n_ignorable_files);
    free(p->post_restore_command);
    free_list(p->next_steps, p->n_next_steps);
    free(p);
}

const hb_profile_resource *hb_profile_find_resource(const hb_profile *p, const char *name)
{
    for (size_t i = 0; p != NULL && name != NULL && i < p->n_resources; i++)
        if (strcmp(p->resources[i].name, name) == 0)
            return &p->resources[i];
    return NULL;
}

bool hb_profile_is_ignorable(const hb_profile *p, const char *file_name)
{
    for (size_t i = 0; p != NULL && file_name != NULL && i < p->n_ignorable_files; i++)
        if (strcmp(p->ignorable_files[i], file_name) == 0)
            return true;
    return false;
}

hb_status hb_profile_resets_in(const hb_profile *p, const char *name, hb_strlist *rel,
                               hb_err *err)
{
    const hb_profile_resource *r = hb_profile_find_resource(p, name);
    size_t n = r != NULL ? strlen(r->path) : 0;
    for (size_t i = 0; r != NULL && i < p->n_reset; i++) {
        const char *path = p->reset[i].path;
        if (strncmp(path, r->path, n) != 0 || path[n] != '/' || path[n + 1] == '\0')
            continue;
        hb_status st = hb_strlist_add(rel, path + n + 1, err);
        if (st != HB_OK)
            return st;
    }
    return HB_OK;
}
