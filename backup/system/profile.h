/* hsmbak — system profiles (DESIGN §6).
 *
 * A profile names a system root's resources (the directories backed up, one
 * archive each), where the version string lives, the factory image, what is
 * never backed up, what is excluded (with the reason shown to the operator),
 * what is reset on restore, and what to run and say afterwards.
 *
 * Every path in a profile is relative to the system root ROOT, made of plain
 * components (no "", ".", ".." and no leading "/"). ROOT/.hsmbak holds
 * hsmbak's own state (the system's copy of its profile, locks) and is never
 * backed up; the loader adds it to never_backed_up when a profile omits it.
 *
 * The struct is public, owns everything it points to, and is read-only. */
#ifndef HSMBAK_SYSTEM_PROFILE_H
#define HSMBAK_SYSTEM_PROFILE_H

#include "hsmbak/status.h"

#include <stdbool.h>
#include <stddef.h>


#define HB_PROFILE_NS "urn:hsmbak:profile:1"
#define HB_PROFILE_STATE_DIR ".hsmbak"          /* ROOT/.hsmbak */
#define HB_PROFILE_COPY ".hsmbak/profile.xml"   /* the system's profile copy */
#define HB_PROFILE_MAX_SIZE ((size_t)1024 * 1024)

typedef struct hb_profile_resource {
    char *name;            /* archive name, [a-z0-9][a-z0-9-]* */
    char *path;            /* directory under ROOT */
    bool skip_when_empty;  /* back up only when it holds files (ignoring
                              ignorable_files), e.g. sharedcert */
} hb_profile_resource;

typedef struct hb_profile_never {
    char *path;            /* under ROOT */
    bool carry_over;       /* kept as it is across a restore (temporary) */
} hb_profile_never;

typedef struct hb_profile_excluded {
    char *name;
    char *path;            /* under ROOT */
    char *reason;          /* shown to the operator and written to the manifest */
} hb_profile_excluded;

typedef struct hb_profile_reset {
    char *path;            /* under ROOT, inside a resource; copied from the
                              factory image after a restore */
    char *message;         /* shown to the operator afterwards */
} hb_profile_reset;

typedef struct hb_profile {
    char *name;
    char *source;          /* absolute path of the profile file */
    char *version_file;    /* under ROOT, one line V.R.M.F; default "VERSION" */
    bool version_exact;    /* restore needs exactly the same V.R.M.F (always
                              true in format 1; the only match rule) */
    bool requires_factory_state; /* restore only onto a system identical to
                                    the factory image */
    char *factory_image;   /* absolute directory, or NULL */
    hb_profile_resource *resources;   /* in backup order */
    size_t n_resources;
    hb_profile_never *never_backed_up;
    size_t n_never_backed_up;
    hb_profile_excluded *excluded;
    size_t n_excluded;
    hb_profile_reset *reset;
    size_t n_reset;
    char **factory_ignores;  /* paths the factory-state check skips (files or
                                whole directories); the version file and
                                .hsmbak are always skipped as well */
    size_t n_factory_ignores;
    char **ignorable_files;  /* file names that never count as content
                                anywhere (".keep" placeholders) */
    size_t n_ignorable_files;
    char *post_restore_command; /* run with /bin/sh -c in ROOT, or NULL */
    bool post_restore_restarts; /* the command restarts the system or its services
                                   (restarts="true"): the operator is told so */
    char **next_steps;       /* lines to print after a restore */
    size_t n_next_steps;
} hb_profile;

/* Load and check a profile file (schema data/schema/profile.xsd, then the
 * rules above: unique names, safe non-overlapping paths, a factory image
 * when one is needed). HB_E_VERIFY with the file named in the message. */
hb_status hb_profile_load_file(const char *path, hb_profile **out, hb_err *err) HB_MUST_CHECK;

/* A built-in profile by name: "appliance" or "host" (data/profiles/NAME.xml). */
hb_status hb_profile_load_builtin(const char *name, hb_profile **out,
                                  hb_err *err) HB_MUST_CHECK;

void hb_profile_free(hb_profile *p);

/* Lookups; NULL / false when absent. */
const hb_profile_resource *hb_profile_find_resource(const hb_profile *p, const char *name);

/* The reset paths inside resource `name`, relative to its path, into rel
 * (added; the caller frees). None for an unknown resource. */
hb_status hb_profile_resets_in(const hb_profile *p, const char *name, hb_strlist *rel,
                               hb_err *err) HB_MUST_CHECK;
bool hb_profile_is_ignorable(const hb_profile *p, const char *file_name);

#endif
