/* The text summary of a backup (summary.h). */
#include "summary.h"

#include "output.h"
#include "units.h"

#include <stdio.h>

static void line(const char *label, const char *value)
{
    if (value != NULL)
        printf(" %-11s %s\n", label, value);
}

static void print_signer(const json_t *sg)
{
    const char *until = out_get_str(sg, "not_after");
    printf(" %-11s %s (SHA-256 %s%s%s)\n", "signer", out_get_str(sg, "subject"),
           out_get_str(sg, "fingerprint_sha256"), until ? ", valid until " : "",
           until ? until : "");
}

/* A single recipient, or a quorum group. */
static void print_recipient(const json_t *rc)
{
    const json_t *members = json_object_get(rc, "members");
    if (members != NULL)
        printf(" %-11s %s: any %lld of %zu members together\n", "quorum",
               out_get_str(rc, "quorum"), out_get_int(rc, "threshold"),
               json_array_size(members));
    else
        printf(" %-11s %s (%s, SHA-256 %s)\n", "recipient", out_get_str(rc, "subject"),
               out_get_str(rc, "key_wrap"), out_get_str(rc, "fingerprint_sha256"));
}

static void print_file(const json_t *f)
{
    char size[32];
    const char *problem = out_get_str(f, "problem");
    printf(" %-11s %-22s %-5s %10s%s%s\n", "file", out_get_str(f, "filename"),
           out_get_str(f, "compression"),
           cli_size((uint64_t)out_get_int(f, "size"), size, sizeof size),
           problem ? "  PROBLEM: " : "", problem ? problem : "");
}

void print_summary(const json_t *r, unsigned what)
{
    char sys[256], a[32], b[32];
    size_t i;
    json_t *v;
    const json_t *system = json_object_get(r, "system");
    putchar('\n');
    line("backup id", out_get_str(r, "backup_id"));
    line("created", out_get_str(r, "created"));
    if (json_is_integer(json_object_get(r, "sequence"))) {
        char seq[32];
        if (snprintf(seq, sizeof seq, "%lld", out_get_int(r, "sequence")) < (int)sizeof seq)
            line("sequence", seq);
    } else if (json_object_get(r, "sequence") != NULL) {
        line("sequence", "none (made by an hsmbak before sequence numbers)");
    }
    const json_t *pin = json_object_get(r, "transcript");
    if (json_is_object(pin)) {
        char text[128];
        if (snprintf(text, sizeof text, "entry %lld, head %s", out_get_int(pin, "seq"),
                     out_get_str(pin, "head")) < (int)sizeof text)
            line("transcript", text);
    }
    if (what & SUMMARY_TOOL)
        line("tool", out_get_str(r, "tool"));
    if (snprintf(sys, sizeof sys, "%s (%s profile)", out_get_str(system, "version"),
                 out_get_str(system, "profile")) < (int)sizeof sys)
        line("system", sys);
    if ((what & SUMMARY_SIGNER) && json_object_get(r, "signer") != NULL)
        print_signer(json_object_get(r, "signer"));
    json_array_foreach(json_object_get(r, "recipients"), i, v)
        print_recipient(v);
    if (what & SUMMARY_FILES)
        json_array_foreach(json_object_get(r, "files"), i, v)
            print_file(v);
    if (what & SUMMARY_EXCLUDED)
        json_array_foreach(json_object_get(r, "excluded"), i, v)
            printf(" %-11s %s: %s\n", "excluded", out_get_str(v, "name"),
                   out_get_str(v, "reason"));
    if (what & SUMMARY_TOTAL) {
        size_t n = json_array_size(json_object_get(r, "files"));
        printf(" %-11s %zu file%s, %s", "total", n, n == 1 ? "" : "s",
               cli_size((uint64_t)out_get_int(r, "archive_bytes"), a, sizeof a));
        if (json_object_get(r, "expanded_bytes") != NULL)
            printf(" (%s before compression)",
                   cli_size((uint64_t)out_get_int(r, "expanded_bytes"), b, sizeof b));
        putchar('\n');
    }
    putchar('\n');
}
