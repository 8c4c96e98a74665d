/* `hsmbak --help` and `hsmbak CMD [SUB] --help`. The synopsis lines are the
 * ones in man/hsmbak.1 (tests/e2e/help_man.sh checks that both list the same
 * subcommands). */
#include "cli.h"

#include <string.h>

typedef struct help_entry {
    const char *cmd, *sub; /* "crypto", "keygen"; sub NULL for one-word commands */
    const char *synopsis;  /* after "hsmbak "; continuation lines start with spaces */
} help_entry;

static const help_entry entries[] = {
    {"token", "list", "token list [--token URI] [--login]"},
    {"crypto", "keygen",
     "crypto keygen --cn CN [--o O] [--ou OU] [--c C] [--st ST] [--l L] --token URI\n"
     "                [--key-type rsa:2048|rsa:3072|rsa:4096|ec:p256|ec:p384]\n"
     "                [--usage recipient|signer] [--gen-sscert [--days N]] [--csr]\n"
     "                [--file-name NAME] [--export-sscert] [--gen-object [--object-name NAME]]"},
    {"crypto", "certificate",
     "crypto certificate NAME URL [--ignore-expiration] [--disable]\n"
     "                [--key-wrap rsa-oaep-sha256|rsa-oaep-sha1]"},
    {"crypto", "key", "crypto key NAME PKCS11-URI"},
    {"crypto", "idcred", "crypto idcred NAME KEY CERT"},
    {"crypto", "backup-signer", "crypto backup-signer IDCRED"},
    {"crypto", "trusted-signer", "crypto trusted-signer CERT [--remove]"},
    {"crypto", "show", "crypto show [certificate|key|idcred] [NAME] [--names]"},
    {"crypto", "delete", "crypto delete certificate|key|idcred NAME"},
    {"secure-backup", NULL,
     "secure-backup [CERT[,CERT...]] DEST [--compression zstd|gzip|none] [--jobs N]\n"
     "                [--keep N]"},
    {"secure-restore", NULL,
     "secure-restore IDCRED SOURCE [--validate] [--signer CERT] [--max-size SIZE]\n"
     "                [--idcred IDCRED]..."},
    {"dir", NULL, "dir URL"},
    {"factory-reset", NULL, "factory-reset [--yes]"},
    {"system", "init", "system init --profile appliance|host|FILE [--version V.R.M.F]"},
    {"ceremony", "enroll",
     "ceremony enroll --token URI --custodian NAME [--custodian NAME]... [--name NAME]\n"
     "                [--cn CN] [--key-type rsa:2048|rsa:3072|rsa:4096] [--csr] [--days N]"},
    {"ceremony", "import-cert", "ceremony import-cert NAME FILE [--custodian NAME]..."},
    {"ceremony", "retire", "ceremony retire FINGERPRINT|NAME|GROUP [--custodian NAME]..."},
    {"ceremony", "quorum",
     "ceremony quorum NAME --threshold K MEMBER... [--custodian NAME]..."},
    {"ceremony", "verify-transcript", "ceremony verify-transcript"},
    {"ceremony", "list", "ceremony list"},
};

static const char globals[] =
    "usage: hsmbak [--root DIR] [--module PATH] [--pin-source file:PATH|env:VAR]\n"
    "              [--json] [--quiet|--verbose] COMMAND ...\n"
    "       hsmbak --version | --help | COMMAND --help\n";

static const char footer[] =
    "\n"
    "The root defaults to $HSMBAK_ROOT, the module to $HSMBAK_PKCS11_MODULE, then the\n"
    "p11-kit proxy. PINs are never taken on the command line.\n"
    "--json prints one JSON document on stdout (docs/json.md); --quiet prints only\n"
    "errors and listings; --verbose reports each archive and check on stderr.\n"
    "\n"
    "exit status: 0 ok, 2 usage, 3 not found, 4 PIN or login, 5 verification failed,\n"
    "6 refused by a precondition, 7 I/O, 8 token, 9 internal. See hsmbak(1).\n";

static void print_entry(FILE *to, const help_entry *e)
{
    fprintf(to, "  %s\n", e->synopsis);
}

void print_usage(FILE *to)
{
    fputs(globals, to);
    fputs("\ncommands:\n", to);
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++)
        print_entry(to, &entries[i]);
    fputs(footer, to);
}

bool print_help(FILE *to, const char *cmd, const char *sub)
{
    bool sub_known = false, found = false;
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++)
        if (sub != NULL && entries[i].sub != NULL && strcmp(entries[i].cmd, cmd) == 0 &&
            strcmp(entries[i].sub, sub) == 0)
            sub_known = true;
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++) {
        const help_entry *e = &entries[i];
        if (strcmp(e->cmd, cmd) != 0 || (sub_known && strcmp(e->sub, sub) != 0))
            continue;
        if (!found)
            fputs("usage:\n", to);
        fprintf(to, "  hsmbak %s\n", e->synopsis);
        found = true;
    }
    if (found)
        fputs("\nGlobal options (--root, --module, --pin-source, --json, --quiet, --verbose)\n"
              "may stand anywhere. See hsmbak(1) for every option.\n", to);
    return found;
}
