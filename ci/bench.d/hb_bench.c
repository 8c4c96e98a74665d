/* Benchmark driver for ci/bench: one library call per run.
 *   hb_bench create  zstd|gzip|none ZSTD_THREADS SRC OUT
 *   hb_bench pool    zstd|gzip|none POOL_THREADS ZSTD_THREADS OUTDIR SRC...
 *   hb_bench walk    zstd|gzip|none FILE
 *   hb_bench extract zstd|gzip|none FILE STAGING
 * Prints "seconds bytes_in bytes_out". The DEK is fixed: this measures
 * speed, not secrecy. */
#include "backup/format/archive.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ID "00000000-0000-4000-8000-000000000000"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned num(const char *s)
{
    char *end = NULL;
    unsigned long v = strtoul(s, &end, 10);
    if (end == s || *end != '\0' || v > 1024) {
        fprintf(stderr, "hb_bench: not a small number: %s\n", s);
        exit(2);
    }
    return (unsigned)v;
}

int main(int argc, char **argv)
{
    static const uint8_t dek[HB_DEK_LEN] = {42};
    hb_err err = {0};
    hb_status st = HB_E_USAGE;
    hb_archive_info info = {0};
    hb_archive_spec spec = {.backup_id = ID, .name = "bench"};
    hb_archive_limits lim;
    hb_archive_limits_default(&lim);
    if (argc < 4 || hb_compression_from_name(argv[2], &spec.compression, &err) != HB_OK) {
        fprintf(stderr, "usage: see ci/bench.d/hb_bench.c %s\n", err.msg);
        return 2;
    }
    double t0 = now();
    if (strcmp(argv[1], "create") == 0 && argc == 6) {
        spec.zstd_threads = num(argv[3]);
        st = hb_archive_create(argv[4], argv[5], &spec, dek, &info, &err);
    } else if (strcmp(argv[1], "pool") == 0 && argc >= 7) {
        size_t n = (size_t)argc - 6;
        hb_archive_job *jobs = calloc(n, sizeof *jobs);
        char (*paths)[PATH_MAX] = calloc(n, PATH_MAX);
        char (*names)[32] = calloc(n, 32);
        if (jobs == NULL || paths == NULL || names == NULL)
            return 1;
        for (size_t i = 0; i < n; i++) {
            snprintf(names[i], 32, "r%zu", i);
            snprintf(paths[i], PATH_MAX, "%s/%s%s", argv[5], names[i],
                     hb_compression_extension(spec.compression));
            jobs[i].src_dir = argv[6 + i];
            jobs[i].out_path = paths[i];
            jobs[i].spec = spec;
            jobs[i].spec.name = names[i];
            jobs[i].spec.zstd_threads = num(argv[4]);
            memcpy(jobs[i].dek, dek, sizeof dek);
        }
        st = hb_archive_create_all(jobs, n, num(argv[3]), &err);
        for (size_t i = 0; i < n; i++) {
            info.file_size += jobs[i].info.file_size;
            info.expanded_bytes += jobs[i].info.expanded_bytes;
        }
        free(jobs);
        free(paths);
        free(names);
    } else if (strcmp(argv[1], "walk") == 0 && argc == 4) {
        st = hb_archive_walk(argv[3], &spec, dek, &lim, &info, &err);
    } else if (strcmp(argv[1], "extract") == 0 && argc == 5) {
        st = hb_archive_extract(argv[3], &spec, dek, argv[4], &lim, &info, &err);
    } else {
        fprintf(stderr, "usage: see ci/bench.d/hb_bench.c\n");
        return 2;
    }
    if (st != HB_OK) {
        fprintf(stderr, "hb_bench: %s\n", err.msg);
        return 1;
    }
    printf("%.3f %llu %llu\n", now() - t0, (unsigned long long)info.expanded_bytes,
           (unsigned long long)info.file_size);
    return 0;
}
