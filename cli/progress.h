/* The progress line on stderr for backup, validate and restore:
 *
 *   secure-backup  12.4 MiB / 40.0 MiB  31%  2/7 files  8.1 MiB/s  ETA 0:03  config
 *
 * Drawn only when stderr is a terminal and neither --quiet nor --json is
 * given; redrawn at most 10 times a second and cleared when the work ends.
 * With --verbose, one line per archive started and finished (terminal or
 * not). progress_event is an hb_progress_fn and is thread-safe: backup calls
 * it from the archive pool's workers. */
#ifndef HSMBAK_CLI_PROGRESS_H
#define HSMBAK_CLI_PROGRESS_H

#include "cli.h"

#include <stdint.h>

typedef struct cli_progress cli_progress;

/* NULL only when out of memory (then events are simply not shown). */
cli_progress *progress_new(const cli_ctx *ctx, const char *label);
void progress_event(void *progress, const char *event, const char *name, uint64_t bytes);
/* Clear the line; NULL is fine. */
void progress_free(cli_progress *p);

#endif
