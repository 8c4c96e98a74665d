/* hb_archive_create_all: archives made by a pool of worker threads.
 *
 * Locking: `next`, `stop` and `first` are guarded by `lock`; each job's
 * info and the hb_err of its worker are touched only by the worker that
 * took the job. The DEKs stay in the caller's jobs; the workers read them. */
#include "backup/format/archive.h"
#include "common/fail.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct pool {
    hb_archive_job *jobs;
    size_t n_jobs;
    pthread_mutex_t lock;
    size_t next;
    bool stop;
    hb_err first;  /* the first failure, as reported */
} pool;

static void *worker(void *arg)
{
    pool *p = arg;
    hb_err err = {0};
    for (;;) {
        pthread_mutex_lock(&p->lock);
        size_t i = p->next;
        bool go = !p->stop && i < p->n_jobs;
        if (go)
            p->next++;
        pthread_mutex_unlock(&p->lock);
        if (!go)
            break;
        hb_archive_job *j = &p->jobs[i];
        hb_status st = j->sink != NULL
                           ? hb_archive_create_to(j->src_dir, j->sink, j->sink_ctx, &j->spec,
                                                  j->dek, &j->info, &err)
                           : hb_archive_create(j->src_dir, j->out_path, &j->spec, j->dek,
                                               &j->info, &err);
        if (st != HB_OK) {
            pthread_mutex_lock(&p->lock);
            if (!p->stop) {
                p->stop = true;
                p->first = err;
            }
            pthread_mutex_unlock(&p->lock);
            break;
        }
    }
    return NULL;
}

hb_status hb_archive_create_all(hb_archive_job *jobs, size_t n_jobs, unsigned threads,
                                hb_err *err)
{
    hb_status st = HB_OK;
    pool p = {.jobs = jobs, .n_jobs = n_jobs};
    pthread_t *tids = NULL;
    size_t started = 0;
    bool locked = false;
    HB_ENSURE(n_jobs == 0 || jobs != NULL, HB_E_USAGE, "hb_archive_create_all: no jobs");
    if (threads == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cpus > 0 ? (unsigned)cpus : 1;
    }
    if (threads > n_jobs)
        threads = (unsigned)n_jobs;
    if (threads == 0)
        goto cleanup;
    HB_ENSURE(pthread_mutex_init(&p.lock, NULL) == 0, HB_E_INTERNAL, "cannot create a mutex");
    locked = true;
    HB_ALLOC(tids = calloc(threads, sizeof *tids));
    for (; started < threads; started++) {
        if (pthread_create(&tids[started], NULL, worker, &p) != 0)
            break; /* run with the threads we have */
    }
    if (started == 0)
        worker(&p); /* no thread at all: do the work here */
    for (size_t i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    if (p.stop) {
        if (err != NULL)
            *err = p.first;
        st = p.first.status;
    }
cleanup:
    free(tids);
    if (locked)
        pthread_mutex_destroy(&p.lock);
    return st;
}
