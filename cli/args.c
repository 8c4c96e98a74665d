/* The command-line parser and its messages (args.h). */
#include "args.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *cli_spec_name(const cli_spec *spec, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s%s%s", spec->cmd, spec->sub ? " " : "",
                     spec->sub ? spec->sub : "");
    return n >= 0 && (size_t)n < cap ? buf : spec->cmd;
}

hb_status cli_usage(cli_ctx *ctx, const cli_spec *spec, const char *fmt, ...)
{
    char msg[HB_MSG_MAX], name[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        msg[0] = '\0';
    cli_spec_name(spec, name, sizeof name);
    bool asks = n > 0 && (size_t)n < sizeof msg && msg[n - 1] == '?';
    return hb_fail(&ctx->err, HB_E_USAGE, "%s: %s%s 'hsmbak %s --help'", name, msg,
                   asks ? " See" : "; see", name);
}

/* ---- suggestions ------------------------------------------------------------ */

/* Optimal string alignment distance (Levenshtein with adjacent
 * transpositions): "secure-bakup" is 1 from "secure-backup", "--josn" 1 from
 * "--json". Words longer than 63 bytes are never close to anything. */
static size_t distance(const char *a, const char *b)
{
    enum { W = 64 };
    size_t la = strlen(a), lb = strlen(b);
    if (la >= W || lb >= W)
        return (size_t)-1;
    size_t d[W][W];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

const char *cli_suggest(const char *word, const char *const *candidates, size_t n)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1, len = strlen(word);
    /* Close means a third of the word, at least one and at most three edits. */
    size_t limit = len / 3 < 1 ? 1 : len / 3 > 3 ? 3 : len / 3;
    for (size_t i = 0; i < n; i++) {
        const char *c = candidates[i];
        /* A beginning of a longer name ("--comp") is as close as it gets. */
        size_t d = len >= 2 && strncmp(c, word, len) == 0 ? 0 : distance(word, c);
        if (d <= limit && d < best_d) {
            best = c;
            best_d = d;
        }
    }
    return best;
}

/* ---- parsing ------------------------------------------------------------------ */

static const cli_option *find_option(const cli_option *opts, const char *name, size_t len)
{
    for (const cli_option *o = opts; o != NULL && o->name != NULL; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

/* "unknown option '--x'", with "; did you mean '--y'?" when one of the
 * command's or the global options is close. */
static hb_status unknown_option(cli_ctx *ctx, const cli_spec *spec, const char *arg,
                                size_t len)
{
    const char *names[128];
    size_t n = 0;
    char word[128] = "";
    const cli_option *tables[] = {spec->options, cli_global_options};
    for (size_t t = 0; t < 2; t++)
        for (const cli_option *o = tables[t]; o != NULL && o->name != NULL && n < 128; o++)
            names[n++] = o->name;
    const char *guess = NULL;
    if (strncmp(arg, "--", 2) == 0 && len - 2 < sizeof word) {
        memcpy(word, arg + 2, len - 2);
        word[len - 2] = '\0';
        guess = cli_suggest(word, names, n);
    }
    if (guess != NULL)
        return cli_usage(ctx, spec, "unknown option '%.*s'; did you mean '--%s'?", (int)len,
                         arg, guess);
    return cli_usage(ctx, spec, "unknown option '%.*s'", (int)len, arg);
}

/* One option at argv[*i] (which starts with "-"); its value may be the
 * next argument, which *i then skips. */
static hb_status take_option(cli_ctx *ctx, const cli_spec *spec, int argc, char **argv, int *i,
                             cli_args *out)
{
    const char *arg = argv[*i];
    const char *eq = strchr(arg, '=');
    size_t len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
    const cli_option *o = strncmp(arg, "--", 2) == 0 ? find_option(spec->options, arg + 2,
                                                                    len - 2)
                                                      : NULL;
    if (o == NULL)
        return unknown_option(ctx, spec, arg, len);
    const char *value = NULL;
    if (o->arg == NULL && eq != NULL)
        return cli_usage(ctx, spec, "option '--%s' takes no value", o->name);
    if (o->arg != NULL && eq != NULL)
        value = eq + 1;
    else if (o->arg != NULL && (*i + 1 >= argc || strcmp(argv[*i + 1], "--") == 0))
        return cli_usage(ctx, spec, "option '--%s' needs a value (%s)", o->name, o->arg);
    else if (o->arg != NULL)
        value = argv[++*i];
    if (!(o->flags & CLI_REPEAT))
        for (size_t k = 0; k < out->n_given; k++)
            if (out->given[k].opt == o)
                return cli_usage(ctx, spec, "option '--%s' is given twice", o->name);
    out->given[out->n_given].opt = o;
    out->given[out->n_given].value = value;
    out->n_given++;
    return HB_OK;
}

/* The operands' names for a message: "IDCRED SOURCE". */
static void operand_names(const cli_spec *spec, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (const cli_operand *o = spec->operands; o != NULL && o->name != NULL; o++) {
        int n = snprintf(buf + used, cap - used, "%s%s", used ? " " : "", o->name);
        if (n < 0 || (size_t)n >= cap - used)
            return;
        used += (size_t)n;
    }
}

static hb_status check_counts(cli_ctx *ctx, const cli_spec *spec, const cli_args *a)
{
    for (const cli_option *o = spec->options; o != NULL && o->name != NULL; o++)
        if ((o->flags & CLI_REQUIRED) && !cli_has(a, o->id))
            return cli_usage(ctx, spec, "option '--%s %s' is required", o->name,
                             o->arg ? o->arg : "");
    char names[256];
    operand_names(spec, names, sizeof names);
    if (a->n_operands < spec->min_operands)
        return cli_usage(ctx, spec, "%s (expected %s)",
                         a->n_operands == 0 ? "missing arguments" : "too few arguments",
                         names[0] ? names : "none");
    if (a->n_operands > spec->max_operands)
        return cli_usage(ctx, spec, "unexpected argument '%s'%s%s%s",
                         a->operands[spec->max_operands], names[0] ? " (expected " : "",
                         names, names[0] ? ")" : "");
    return HB_OK;
}

hb_status cli_parse(cli_ctx *ctx, const cli_spec *spec, int argc, char **argv, cli_args *out)
{
    hb_status st = HB_OK;
    bool options_end = false;
    memset(out, 0, sizeof *out);
    out->spec = spec;
    out->given = calloc((size_t)argc + 1, sizeof *out->given);
    out->operands = calloc((size_t)argc + 1, sizeof *out->operands);
    if (out->given == NULL || out->operands == NULL)
        return hb_fail(&ctx->err, HB_E_INTERNAL, "out of memory");
    for (int i = 0; i < argc && st == HB_OK; i++) {
        const char *arg = argv[i];
        if (!options_end && strcmp(arg, "--") == 0)
            options_end = true;
        else if (!options_end && arg[0] == '-' && arg[1] != '\0')
            st = take_option(ctx, spec, argc, argv, &i, out);
        else
            out->operands[out->n_operands++] = argv[i];
    }
    if (st == HB_OK)
        st = check_counts(ctx, spec, out);
    return st;
}

void cli_args_free(cli_args *a)
{
    if (a == NULL)
        return;
    free(a->given);
    free(a->operands);
    a->given = NULL;
    a->operands = NULL;
}

const char *cli_get(const cli_args *a, int id)
{
    const char *v = NULL;
    for (size_t i = 0; i < a->n_given; i++)
        if (a->given[i].opt->id == id)
            v = a->given[i].value;
    return v;
}

bool cli_has(const cli_args *a, int id)
{
    for (size_t i = 0; i < a->n_given; i++)
        if (a->given[i].opt->id == id)
            return true;
    return false;
}
