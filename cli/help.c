/* `hsmbak --help`, `hsmbak help [CMD [SUB]]` and `hsmbak CMD [SUB] --help`,
 * made from the command tables (args.h); man/hsmbak.1 says the same
 * (tests/e2e/help_man.sh checks that they agree). */
#include "args.h"

#include <string.h>

#define WIDTH 79
#define COLUMN 26          /* where descriptions of options and operands start */
#define COMMAND_COLUMN 30  /* where a command's purpose starts in a list */

/* Print text from column col, wrapping at WIDTH onto lines indented by
 * indent; ends the line. */
static void print_wrapped(FILE *to, const char *text, size_t col, size_t indent)
{
    const char *p = text;
    while (*p != '\0') {
        size_t word = strcspn(p, " ");
        if (col > indent && col + 1 + word > WIDTH) {
            fprintf(to, "\n%*s", (int)indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', to);
            col++;
        }
        fprintf(to, "%.*s", (int)word, p);
        col += word;
        p += word;
        while (*p == ' ')
            p++;
    }
    fputc('\n', to);
}

/* "  NAME        text" with text from column `column` (on the next line
 * when NAME is too wide). */
static void print_row_at(FILE *to, const char *name, const char *text, size_t column)
{
    int n = fprintf(to, "  %s", name);
    size_t col = n > 0 ? (size_t)n : 0;
    if (col + 2 > column) {
        fputc('\n', to);
        col = 0;
    }
    fprintf(to, "%*s", (int)(column - col), "");
    print_wrapped(to, text, column, column);
}

static void print_row(FILE *to, const char *name, const char *text)
{
    print_row_at(to, name, text, COLUMN);
}

/* One option's row: "--name ARG", its help and "(default: D)". */
static void print_option(FILE *to, const cli_option *o)
{
    char name[128], text[512];
    int n = snprintf(name, sizeof name, "--%s%s%s", o->name, o->arg ? " " : "",
                     o->arg ? o->arg : "");
    if (n < 0 || (size_t)n >= sizeof name)
        name[0] = '\0';
    n = snprintf(text, sizeof text, "%s%s%s%s%s%s", o->help,
                 (o->flags & CLI_REQUIRED) ? " (required)" : "",
                 (o->flags & CLI_REPEAT) ? " (may be repeated)" : "",
                 o->dflt ? " (default: " : "", o->dflt ? o->dflt : "", o->dflt ? ")" : "");
    if (n < 0 || (size_t)n >= sizeof text)
        text[0] = '\0';
    print_row(to, name, text);
}

/* The synopsis: "  hsmbak CMD SUB OPERANDS [--opt ARG]...", wrapped with
 * continuation lines indented further. */
static void print_synopsis(FILE *to, const cli_spec *s)
{
    char name[64];
    int n = fprintf(to, "  hsmbak %s", cli_spec_name(s, name, sizeof name));
    size_t col = n > 0 ? (size_t)n : 0, indent = 10;
    for (const cli_operand *op = s->operands; op != NULL && op->name != NULL; op++) {
        fprintf(to, " %s", op->name);
        col += 1 + strlen(op->name);
    }
    for (const cli_option *o = s->options; o != NULL && o->name != NULL; o++) {
        char word[160];
        bool req = o->flags & CLI_REQUIRED, rep = o->flags & CLI_REPEAT;
        int w = snprintf(word, sizeof word, "%s--%s%s%s%s%s", req ? "" : "[", o->name,
                         o->arg ? " " : "", o->arg ? o->arg : "", req ? "" : "]",
                         rep ? "..." : "");
        if (w < 0 || (size_t)w >= sizeof word)
            continue;
        if (col + 1 + (size_t)w > WIDTH) {
            fprintf(to, "\n%*s", (int)indent, "");
            col = indent;
        } else {
            fputc(' ', to);
            col++;
        }
        fputs(word, to);
        col += (size_t)w;
    }
    fputc('\n', to);
}

static const char globals_line[] =
    "\nGlobal options (--root, --module, --pin-source, --json, --quiet, --verbose)\n"
    "may stand anywhere; see 'hsmbak --help' and hsmbak(1).\n";

void cli_print_spec_help(FILE *to, const cli_spec *s)
{
    fputs("usage:\n", to);
    print_synopsis(to, s);
    fputc('\n', to);
    print_wrapped(to, s->purpose, 0, 0);
    if (s->operands != NULL && s->operands[0].name != NULL) {
        fputs("\narguments:\n", to);
        for (const cli_operand *op = s->operands; op->name != NULL; op++)
            print_row(to, op->name, op->help);
    }
    if (s->options != NULL && s->options[0].name != NULL) {
        fputs("\noptions:\n", to);
        for (const cli_option *o = s->options; o->name != NULL; o++)
            print_option(to, o);
    }
    if (s->details != NULL) {
        fputc('\n', to);
        print_wrapped(to, s->details, 0, 0);
    }
    fputs(globals_line, to);
}

void cli_print_group_help(FILE *to, const char *cmd)
{
    fputs("usage:\n", to);
    for (size_t i = 0; i < cli_n_specs; i++)
        if (strcmp(cli_specs[i]->cmd, cmd) == 0)
            print_synopsis(to, cli_specs[i]);
    fputs("\ncommands:\n", to);
    for (size_t i = 0; i < cli_n_specs; i++) {
        char name[64];
        if (strcmp(cli_specs[i]->cmd, cmd) == 0)
            print_row_at(to, cli_spec_name(cli_specs[i], name, sizeof name),
                         cli_specs[i]->purpose, COMMAND_COLUMN);
    }
    fprintf(to, "\n'hsmbak %s COMMAND --help' shows a command's options.\n", cmd);
    fputs(globals_line, to);
}

static const char overview_head[] =
    "usage: hsmbak [--root DIR] [--module PATH] [--pin-source file:PATH|env:VAR]\n"
    "              [--json] [--quiet|--verbose] COMMAND ...\n"
    "       hsmbak --version | --help | help COMMAND | COMMAND --help\n"
    "\n"
    "Secure, HSM-backed backups of a system's settings and secrets: one encrypted\n"
    "archive per resource, keys wrapped to token-held keys, a signed manifest.\n";

static const char overview_tail[] =
    "\n"
    "'hsmbak help COMMAND' or 'hsmbak COMMAND --help' shows a command's arguments\n"
    "and options. PINs are never taken on the command line. --json output is\n"
    "described in docs/json.md.\n"
    "\n"
    "exit status: 0 ok, 2 usage, 3 not found, 4 PIN or login, 5 verification failed,\n"
    "6 refused by a precondition, 7 I/O, 8 token, 9 internal. See hsmbak(1).\n";

void cli_print_overview(FILE *to)
{
    fputs(overview_head, to);
    fputs("\ncommands:\n", to);
    for (size_t i = 0; i < cli_n_specs; i++) {
        char name[64];
        print_row_at(to, cli_spec_name(cli_specs[i], name, sizeof name), cli_specs[i]->purpose,
                     COMMAND_COLUMN);
    }
    fputs("\nglobal options:\n", to);
    for (const cli_option *o = cli_global_options; o->name != NULL; o++)
        print_option(to, o);
    fputs(overview_tail, to);
}
