/* One way to write a size for people, everywhere the text output shows one
 * (the backup summary, the progress line, `dir`, inspect): binary units
 * with one decimal, "812 B", "4.1 KiB", "12.4 MiB". --json carries exact
 * byte counts. */
#ifndef HSMBAK_CLI_UNITS_H
#define HSMBAK_CLI_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* Writes into out (cap >= 16 always suffices) and returns it. */
const char *cli_size(uint64_t bytes, char *out, size_t cap);

#endif
