/* The progress line (see progress.h). */
#include "progress.h"

#include "units.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct cli_progress {
    pthread_mutex_t lock;     /* guards everything below: workers call in */
    const char *label;
    bool draw, verbose;
    uint64_t total, done;
    unsigned files, files_done, files_archived;
    char current[64];
    double start, last_draw;
    bool drawn, have_total;
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void human(uint64_t v, char *out, size_t cap)
{
    cli_size(v, out, cap); /* the one unit style of the text output (units.h) */
}

/* Caller holds the lock. */
static void draw(cli_progress *p, bool force)
{
    double t = now_seconds();
    /* Nothing until the total is known: a line without it says little. */
    if (!p->draw || !p->have_total || (!force && p->drawn && t - p->last_draw < 0.1))
        return;
    p->last_draw = t;
    p->drawn = true;
    char done[32], total[32], rate[32], eta[32] = "ETA --:--", pct[16] = "";
    human(p->done, done, sizeof done);
    human(p->total, total, sizeof total);
    double elapsed = t - p->start;
    double bps = elapsed > 0.05 ? (double)p->done / elapsed : 0;
    human((uint64_t)bps, rate, sizeof rate);
    if (p->total > 0) {
        uint64_t shown = p->done > p->total ? p->total : p->done;
        snprintf(pct, sizeof pct, "%3u%%", (unsigned)(shown * 100 / p->total));
        if (bps > 0 && elapsed >= 1.0) { /* the first second's rate is noise */
            double left = p->total > p->done ? (double)(p->total - p->done) / bps : 0;
            unsigned long s = (unsigned long)(left + 0.5);
            snprintf(eta, sizeof eta, "ETA %lu:%02lu", s / 60, s % 60);
        }
    }
    fprintf(stderr, "\r\033[K%s  %s / %s  %s  %u/%u files  %s/s  %s  %s", p->label, done,
            total, pct, p->files_done > p->files_archived ? p->files_done : p->files_archived,
            p->files, rate, eta, p->current);
    fflush(stderr);
}

/* Caller holds the lock. */
static void clear_line(cli_progress *p)
{
    if (p->draw && p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->drawn = false;
    }
}

cli_progress *progress_new(const cli_ctx *ctx, const char *label)
{
    cli_progress *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p);
        return NULL;
    }
    p->label = label;
    p->draw = !ctx->quiet && !ctx->json && isatty(STDERR_FILENO) &&
              getenv("HSMBAK_NO_PROGRESS") == NULL;
    p->verbose = ctx->verbose && !ctx->json;
    p->start = now_seconds();
    return p;
}

void progress_event(void *progress, const char *event, const char *name, uint64_t bytes)
{
    cli_progress *p = progress;
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    bool force = false;
    if (strcmp(event, "bytes") == 0) {
        p->done += bytes;
    } else if (strcmp(event, "total") == 0) {
        p->total = bytes;
        p->have_total = true;
        force = true;
    } else if (strcmp(event, "scheduled") == 0) {
        p->files++;
    } else if (strcmp(event, "validating") == 0 || strcmp(event, "restoring") == 0) {
        force = true;
    } else if (strcmp(event, "complete") == 0) {
        p->files_done++;
        force = true;
    } else if (strcmp(event, "archived") == 0) {
        p->files_archived++; /* backup: written before "complete" (keys wrapped) */
        force = true;
    }
    if (name != NULL && strcmp(event, "total") != 0 && strcmp(event, "check") != 0)
        snprintf(p->current, sizeof p->current, "%s", name);
    if (p->verbose && name != NULL && strcmp(event, "bytes") != 0 &&
        strcmp(event, "total") != 0) {
        clear_line(p);
        if (strcmp(event, "check") == 0)
            fprintf(stderr, "%s: check %s: ok\n", p->label, name);
        else {
            char size[32];
            fprintf(stderr, "%s: %s %s (%s)\n", p->label, event, name,
                    cli_size(bytes, size, sizeof size));
        }
    }
    draw(p, force);
    pthread_mutex_unlock(&p->lock);
}

void progress_free(cli_progress *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    clear_line(p);
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
