/* Text and --json output for every command.
 *
 * In --json mode a command builds its result into out_result(ctx) and prints
 * nothing itself; main prints ONE document on stdout when the command
 * returns (docs/json.md):
 *
 *   {"hsmbak": "0.1.0", "command": "crypto show", "ok": true, "exit_code": 0,
 *    "result": {...}, "warnings": ["..."]}
 *   {"hsmbak": "0.1.0", "command": "secure-restore", "ok": false, "exit_code": 5,
 *    "error": {"status": "verify-failed", "code": 5, "message": "..."},
 *    "result": {...what was known, e.g. the checks...}}
 *
 * While a JSON-mode command runs, stdout is pointed at /dev/null (out_begin),
 * so stray text from any command can never corrupt the document; stderr
 * carries nothing either (warnings go into "warnings").
 *
 * One description, two renderings: a command describes its result once, into
 * out_record(ctx) with out_str &c.; --json prints that record as the
 * document's "result", and text mode prints the same record through the
 * command's own small renderer, which reads it back with out_get_*. So the
 * text shows nothing the JSON lacks, and the two cannot drift apart.
 * Warnings go through out_warning. Every setter accepts a NULL object and
 * then does nothing (out_result is NULL in text mode). */
#ifndef HSMBAK_CLI_OUTPUT_H
#define HSMBAK_CLI_OUTPUT_H

#include "cli.h"
#include "hsmbak/manifest.h"
#include "hsmbak/system.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* The result object of this run (created on first use), or NULL when not
 * in --json mode. Borrowed: main owns and prints it. */
json_t *out_result(cli_ctx *ctx);

/* True when human text goes to stdout: not --json and not --quiet. */
bool out_text(const cli_ctx *ctx);

/* The result record of this run in either mode: out_result(ctx) with
 * --json, else an object text is rendered from (freed by out_finish). */
json_t *out_record(cli_ctx *ctx);

/* Reading a record back, for text renderers: the string (NULL when absent
 * or null), the boolean (false when absent), the integer (0 when absent). */
const char *out_get_str(const json_t *obj, const char *key);
bool out_get_bool(const json_t *obj, const char *key);
long long out_get_int(const json_t *obj, const char *key);

/* A record's key as a word of text, '_' replaced by sep ("login_required",
 * ' ' -> "login required"; "always_sensitive", '-' -> "always-sensitive"),
 * in buf (keys are short; cut at cap). */
const char *out_key_label(const char *key, char sep, char *buf, size_t cap);

/* Print the strings of a JSON array, sep between them. */
void out_print_strings(const json_t *array, const char *sep);

/* obj[key] = value; NULL obj does nothing; NULL string values become null. */
void out_str(json_t *obj, const char *key, const char *value);
void out_u64(json_t *obj, const char *key, uint64_t value);
void out_int(json_t *obj, const char *key, long long value);
void out_bool(json_t *obj, const char *key, bool value);
void out_time(json_t *obj, const char *key, time_t when); /* RFC 3339 UTC */
/* A new array / object stored at obj[key] (borrowed), NULL when obj is. */
json_t *out_array(json_t *obj, const char *key);
json_t *out_object(json_t *obj, const char *key);
/* A new object appended to array (borrowed), NULL when array is. */
json_t *out_push_object(json_t *array);
void out_push_str(json_t *array, const char *value);

/* What a manifest says, shared by the backup, restore and inspect
 * documents: "backup_id", "created", "tool", "system", "recipients" (single
 * certificates and quorum groups), "files", "archive_bytes" (their sum),
 * "excluded". */
void out_manifest(json_t *r, const hb_manifest *m);

/* A warning: "hsmbak: warning: ..." on stderr in text mode (unless
 * --quiet), an entry of "warnings" in --json mode. */
void out_warning(cli_ctx *ctx, const char *fmt, ...) HB_PRINTF(2, 3);

/* How a restore or factory reset will replace the root, said up front:
 * "swap" ("exchange" or "in-place") in the result, and for a mount point
 * one line on stderr (text mode, unless --quiet); a swap that opening the
 * root finished for an interrupted run is a warning. swaps false (a
 * validation): only that warning. */
void out_swap_mode(cli_ctx *ctx, const char *label, const hb_system *sys, bool swaps);

/* main: start a run (JSON mode: stdout to /dev/null, keep the real one),
 * and end it: print the document (JSON) or the error line (text). */
void out_begin(cli_ctx *ctx, const char *command);
void out_finish(cli_ctx *ctx, hb_status st);

#endif
