/* System profiles (DESIGN §6): load, check, free. The schema states the
 * structure; this file states the rules a schema cannot: safe relative
 * paths, unique names, no overlaps, a factory image when one is needed. */
#include "backup/system/profile.h"

#include "backup/format/xml.h"
#include "common/datadir.h"
#include "common/fileio.h"
#include "common/fail.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NS HB_PROFILE_NS

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

static void *grow(void *arr, size_t n, size_t elem)
{
    char *p = realloc(arr, (n + 1) * elem);
    if (p != NULL)
        memset(p + n * elem, 0, elem);
    return p;
}

/* Collect the text of every child element of `list` into a string array. */
static hb_status text_list(const xmlNode *list, char ***out, size_t *n, hb_err *err)
{
    for (xmlNodePtr c = hb_xml_first_elem(list); c != NULL; c = hb_xml_next_elem(c)) {
        char **arr = grow(*out, *n, sizeof *arr);
        if (arr == NULL)
            return hb_fail(err, HB_E_INTERNAL, "out of memory");
        *out = arr;
        arr[*n] = hb_xml_text(c);
        if (arr[*n] == NULL)
            return hb_fail(err, HB_E_INTERNAL, "out of memory");
        (*n)++;
    }
    return HB_OK;
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

static hb_status read_doc(hb_profile *p, const xmlNode *root, const char *dir, hb_err *err)
{
    hb_status st = HB_OK;
    xmlNodePtr n;

    p->name = attr(root, "name");
    HB_TRY(hb_xml_child_text(root, NS, "version-file", false, "profile", &p->version_file,
                             err));
    if (p->version_file == NULL && (p->version_file = strdup("VERSION")) == NULL)
        goto oom;
    p->version_exact = true; /* the schema admits match="exact" only */

    n = hb_xml_child(root, NS, "factory-image");
    if (n != NULL) {
        char *rel = hb_xml_text(n);
        if (rel == NULL)
            goto oom;
        p->requires_factory_state = attr_true(n, "requires-factory-state");
        char joined[PATH_MAX], real[PATH_MAX];
        st = rel[0] == '/' ? hb_path_join(joined, sizeof joined, "", rel + 1, err)
                           : hb_path_join(joined, sizeof joined, dir, rel, err);
        free(rel);
        if (st != HB_OK)
            goto cleanup;
        struct stat sb;
        if (realpath(joined, real) == NULL || stat(real, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            st = fail(err, p, "factory image '", joined, "' is not a directory");
            goto cleanup;
        }
        if ((p->factory_image = strdup(real)) == NULL)
            goto oom;
    }

    n = hb_xml_child(root, NS, "resources");
    for (xmlNodePtr r = hb_xml_first_elem(n); r != NULL; r = hb_xml_next_elem(r)) {
        hb_profile_resource *arr = grow(p->resources, p->n_resources, sizeof *arr);
        if (arr == NULL)
            goto oom;
        p->resources = arr;
        hb_profile_resource *res = &arr[p->n_resources++];
        res->path = attr(r, "path");
        res->name = attr(r, "name");
        if (res->name == NULL && res->path != NULL)
            res->name = name_from_path(res->path);
        if (res->path == NULL || res->name == NULL)
            goto oom;
        res->skip_when_empty = attr_true(r, "skip-when-empty");
    }

    n = hb_xml_child(root, NS, "never-backed-up");
    for (xmlNodePtr r = hb_xml_first_elem(n); r != NULL; r = hb_xml_next_elem(r)) {
        hb_profile_never *arr = grow(p->never_backed_up, p->n_never_backed_up, sizeof *arr);
        if (arr == NULL)
            goto oom;
        p->never_backed_up = arr;
        hb_profile_never *nv = &arr[p->n_never_backed_up++];
        if ((nv->path = hb_xml_text(r)) == NULL)
            goto oom;
        nv->carry_over = attr_true(r, "carry-over");
    }

    n = hb_xml_child(root, NS, "excluded");
    for (xmlNodePtr r = hb_xml_first_elem(n); r != NULL; r = hb_xml_next_elem(r)) {
        hb_profile_excluded *arr = grow(p->excluded, p->n_excluded, sizeof *arr);
        if (arr == NULL)
            goto oom;
        p->excluded = arr;
        hb_profile_excluded *x = &arr[p->n_excluded++];
        x->name = attr(r, "name");
        x->path = attr(r, "path");
        x->reason = hb_xml_text(r);
        if (x->name == NULL || x->path == NULL || x->reason == NULL)
            goto oom;
    }

    n = hb_xml_child(root, NS, "reset-on-restore");
    for (xmlNodePtr r = hb_xml_first_elem(n); r != NULL; r = hb_xml_next_elem(r)) {
        hb_profile_reset *arr = grow(p->reset, p->n_reset, sizeof *arr);
        if (arr == NULL)
            goto oom;
        p->reset = arr;
        hb_profile_reset *x = &arr[p->n_reset++];
        x->path = attr(r, "path");
        x->message = hb_xml_text(r);
        if (x->path == NULL || x->message == NULL)
            goto oom;
    }

    HB_TRY(text_list(hb_xml_child(root, NS, "factory-state-ignores"), &p->factory_ignores,
                     &p->n_factory_ignores, err));
    HB_TRY(text_list(hb_xml_child(root, NS, "ignorable-files"), &p->ignorable_files,
                     &p->n_ignorable_files, err));
    HB_TRY(text_list(hb_xml_child(root, NS, "next-steps"), &p->next_steps, &p->n_next_steps,
                     err));
    HB_TRY(hb_xml_child_text(root, NS, "post-restore-command", false, "profile",
                             &p->post_restore_command, err));
    goto cleanup;
oom:
    st = hb_fail(err, HB_E_INTERNAL, "out of memory reading profile '%s'", p->source);
cleanup:
    return st;
}

/* ROOT/.hsmbak is hsmbak's own state: never backed up, whatever the file says. */
static hb_status add_state_dir(hb_profile *p, hb_err *err)
{
    for (size_t i = 0; i < p->n_never_backed_up; i++)
        if (strcmp(p->never_backed_up[i].path, HB_PROFILE_STATE_DIR) == 0)
            return HB_OK;
    hb_profile_never *arr = grow(p->never_backed_up, p->n_never_backed_up, sizeof *arr);
    if (arr == NULL)
        return hb_fail(err, HB_E_INTERNAL, "out of memory");
    p->never_backed_up = arr;
    if ((arr[p->n_never_backed_up].path = strdup(HB_PROFILE_STATE_DIR)) == NULL)
        return hb_fail(err, HB_E_INTERNAL, "out of memory");
    p->n_never_backed_up++;
    return HB_OK;
}

static hb_status check(hb_profile *p, hb_err *err)
{
    hb_status st = HB_OK;
    if (!name_ok(p->name))
        return fail(err, p, "profile name '", p->name, "' must match [a-z0-9][a-z0-9-]*");
    if (!path_ok(p->version_file))
        return fail(err, p, "version file '", p->version_file, "' must be a relative path "
                    "without '.', '..' or empty components");
    if (p->n_resources == 0)
        return fail(err, p, "it lists no resources", NULL, NULL);
    for (size_t i = 0; i < p->n_resources; i++) {
        const hb_profile_resource *r = &p->resources[i];
        if (!name_ok(r->name))
            return fail(err, p, "resource name '", r->name, "' must match [a-z0-9][a-z0-9-]* "
                        "(give the resource a name=\"...\")");
        if (!path_ok(r->path))
            return fail(err, p, "resource path '", r->path, "' must be a relative path "
                        "without '.', '..' or empty components");
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
    for (size_t i = 0; i < p->n_never_backed_up; i++)
        if (!path_ok(p->never_backed_up[i].path))
            return fail(err, p, "never-backed-up path '", p->never_backed_up[i].path,
                        "' must be a relative path without '.', '..' or empty components");
    for (size_t i = 0; i < p->n_excluded; i++) {
        const hb_profile_excluded *x = &p->excluded[i];
        if (!name_ok(x->name))
            return fail(err, p, "excluded item name '", x->name, "' must match "
                        "[a-z0-9][a-z0-9-]*");
        if (!path_ok(x->path))
            return fail(err, p, "excluded path '", x->path, "' must be a relative path "
                        "without '.', '..' or empty components");
        if (!hb_xml_text_ok(x->reason))
            return fail(err, p, "the reason for excluding '", x->name, "' is not one line");
        for (size_t j = 0; j < i; j++)
            if (strcmp(x->name, p->excluded[j].name) == 0)
                return fail(err, p, "excluded item name '", x->name, "' is used twice");
    }
    if ((p->requires_factory_state || p->n_reset > 0) && p->factory_image == NULL)
        return fail(err, p, "a factory image is needed for requires-factory-state and "
                    "reset-on-restore", NULL, NULL);
    for (size_t i = 0; i < p->n_reset; i++) {
        const hb_profile_reset *x = &p->reset[i];
        if (!path_ok(x->path))
            return fail(err, p, "reset path '", x->path, "' must be a relative path without "
                        "'.', '..' or empty components");
        bool inside = false;
        for (size_t j = 0; j < p->n_resources; j++) {
            size_t n = strlen(p->resources[j].path);
            inside |= strncmp(x->path, p->resources[j].path, n) == 0 && x->path[n] == '/';
        }
        if (!inside)
            return fail(err, p, "reset path '", x->path, "' is not inside a resource");
        char src[PATH_MAX];
        struct stat sb;
        HB_TRY(hb_path_join(src, sizeof src, p->factory_image, x->path, err));
        if (lstat(src, &sb) != 0 || !S_ISREG(sb.st_mode))
            return fail(err, p, "reset path '", x->path, "' is not a file in the factory image");
        if (!hb_xml_text_ok(x->message))
            return fail(err, p, "the message for reset path '", x->path, "' is not one line");
    }
    for (size_t i = 0; i < p->n_factory_ignores; i++)
        if (!path_ok(p->factory_ignores[i]))
            return fail(err, p, "factory-state ignore '", p->factory_ignores[i], "' must be a "
                        "relative path without '.', '..' or empty components");
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
    snprintf(what, sizeof what, "profile '%s'", real); /* real < PATH_MAX: fits */
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
    if (name == NULL || (strcmp(name, "appliance") != 0 && strcmp(name, "host") != 0))
        return hb_fail(err, HB_E_NOT_FOUND, "no built-in profile '%s' (built-ins: appliance, "
                       "host; or give a profile file)", name != NULL ? name : "");
    snprintf(rel, sizeof rel, "profiles/%s.xml", name); /* a built-in name: fits */
    st = hb_data_path(rel, path, sizeof path, err);
    if (st != HB_OK)
        return st;
    return hb_profile_load_file(path, out, err);
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
