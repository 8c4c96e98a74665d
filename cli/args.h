/* The command line, declared: every command is one cli_spec (its words, a
 * one-line purpose, its operands and a table of options, each with what it
 * does and its default), and the parser, the help (help.c), the error
 * messages and the suggestions are all made from that table. hsmbak(1)
 * documents the same options (tests/e2e/help_man.sh compares them).
 *
 * Adding an option to a command: one row in that command's cli_option
 * table ({id, "name", "ARG" or NULL for a flag, "what it does", "default"
 * or NULL}), a case where the command reads it (cli_get / cli_has), and a
 * line in the command's section of man/hsmbak.1. Completion reads the
 * options from `hsmbak CMD --help`, so it follows by itself. */
#ifndef HSMBAK_CLI_ARGS_H
#define HSMBAK_CLI_ARGS_H

#include "cli.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* cli_option.flags */
#define CLI_REQUIRED 1u /* must be given (shown without brackets) */
#define CLI_REPEAT 2u   /* may be given more than once (shown with "...") */

typedef struct cli_option {
    int id;             /* what the command asks for (cli_get); unique and > 0 */
    const char *name;   /* "compression" for --compression */
    const char *arg;    /* the value's placeholder ("N", "zstd|gzip|none"); NULL: a flag */
    const char *help;   /* what it does, one line, lower case, no full stop */
    const char *dflt;   /* the default as shown ("zstd"); NULL when there is none */
    unsigned flags;
} cli_option;

typedef struct cli_operand {
    const char *name;   /* as in the synopsis: "DEST", "[CERT[,CERT...]]" */
    const char *help;
} cli_operand;

typedef struct cli_args cli_args;
typedef hb_status (*cli_run_fn)(cli_ctx *ctx, const cli_args *a);

typedef struct cli_spec {
    const char *cmd;              /* "crypto" */
    const char *sub;              /* "keygen"; NULL for one-word commands */
    const char *purpose;          /* one line, starts with a capital, no full stop */
    const cli_operand *operands;  /* {NULL}-terminated; NULL: none */
    const cli_option *options;    /* {0}-terminated; NULL: none */
    unsigned min_operands, max_operands;
    cli_run_fn run;
    const char *details;          /* more help text after the options, or NULL */
} cli_spec;

typedef struct cli_given {
    const cli_option *opt;
    const char *value;            /* NULL for a flag */
} cli_given;

struct cli_args {
    const cli_spec *spec;
    cli_given *given;             /* in command-line order */
    size_t n_given;
    char **operands;
    size_t n_operands;
};

/* Every command, in the order help lists them (commands.c). */
extern const cli_spec *const cli_specs[];
extern const size_t cli_n_specs;
/* The global options (main.c takes them out of argv before a command's own
 * are parsed; listed here for help and suggestions). */
extern const cli_option cli_global_options[];

/* "secure-backup", "crypto keygen": the command's words (a static buffer
 * per spec is not needed: cap bytes into buf). */
const char *cli_spec_name(const cli_spec *spec, char *buf, size_t cap);

/* Parse argv (what follows the command's words) against spec: options
 * anywhere, --name VALUE or --name=VALUE, "--" ends them; an unknown or
 * misspelt option, a missing value, a value given to a flag, an option
 * given twice that is not CLI_REPEAT, a missing CLI_REQUIRED option and too
 * few or too many operands are each a usage error that names it (with a
 * suggestion when a known option is close). Free *out with cli_args_free. */
hb_status cli_parse(cli_ctx *ctx, const cli_spec *spec, int argc, char **argv,
                    cli_args *out);
void cli_args_free(cli_args *a);

/* The option's value (the last one given), NULL when it was not given. */
const char *cli_get(const cli_args *a, int id);
bool cli_has(const cli_args *a, int id);

/* A usage error about this command, one line: "CMD: MESSAGE; see 'hsmbak
 * CMD --help'" (exit 2). */
hb_status cli_usage(cli_ctx *ctx, const cli_spec *spec, const char *fmt, ...) HB_PRINTF(3, 4);

/* The closest of the candidates to word (a misspelling, a prefix), or NULL
 * when none is close enough to suggest. */
const char *cli_suggest(const char *word, const char *const *candidates, size_t n);

/* help.c: the overview (every command with its purpose, the global
 * options, exit statuses), one command's help, or the commands of a group
 * ("crypto"). */
void cli_print_overview(FILE *to);
void cli_print_spec_help(FILE *to, const cli_spec *spec);
void cli_print_group_help(FILE *to, const char *cmd);

#endif
