/* Secrets left in released memory (STYLE.md "Wipe by default"; issue 6),
 * for the suites that prove a secret is wiped before its memory goes back
 * (hbtest_wipe.c). Such a suite interposes free() (HBWIPE_INTERPOSE_FREE):
 * while armed, every block released through free() -- hsmbak's, and
 * OpenSSL's, pkcs11-provider's and SoftHSM's alike -- is scanned for the
 * secrets, and a block that still holds one is a hit.
 *
 * Sanitizer builds intercept free() themselves: there nothing is scanned
 * (HBWIPE_CHECKS is 0) and the checks are skipped; the release tree runs
 * them. */
#ifndef HSMBAK_HBTEST_WIPE_H
#define HSMBAK_HBTEST_WIPE_H

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define HBWIPE_CHECKS 0
#else
#define HBWIPE_CHECKS 1
#endif

/* Scan a block about to be released (while armed). */
void hbwipe_scan(void *p);

/* At file scope in the suite: its free(), which scans each block and then
 * releases it. The test library itself defines no free(), so no other
 * suite gets one. */
#if HBWIPE_CHECKS
#define HBWIPE_INTERPOSE_FREE()       \
    extern void __libc_free(void *p); \
    void free(void *p)                \
    {                                 \
        hbwipe_scan(p);               \
        __libc_free(p);               \
    }
#else
#define HBWIPE_INTERPOSE_FREE()
#endif

/* One secret to look for (kept by pointer while armed). */
typedef struct hbwipe_secret {
    const void *data;
    size_t len;
} hbwipe_secret;

/* Scan every block released from now on for the n secrets. */
void hbwipe_arm(const hbwipe_secret *secrets, size_t n);

/* Stop scanning; the blocks scanned and those that held a secret since
 * hbwipe_arm. */
void hbwipe_disarm(unsigned *scanned, unsigned *hits);

/* hbwipe_disarm, then (with HBWIPE_CHECKS) assert that blocks were scanned
 * and that none still held a secret; `what` names the secrets in the
 * message printed when one did. */
void hbwipe_disarm_and_check(const char *what);

#endif
