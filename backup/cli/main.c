/* hsmbak — command line entry point. Parses global options, dispatches to
 * one subcommand file, prints results and errors. All work is in libhsmbak. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("hsmbak %s\n", HSMBAK_VERSION);
        return 0;
    }
    fprintf(stderr, "usage: hsmbak [--version] COMMAND ...\n");
    return 2;
}
