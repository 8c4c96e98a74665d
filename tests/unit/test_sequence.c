/* backup/system/sequence.c: the root's backup sequence state (issue 11
 * class 5): no history, taking and recording, survival of a factory reset,
 * the lock, and every file hsmbak did not write refused. */
#include "hbtest.h"

#include "backup/system/sequence.h"
#include "backup/system/system.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *base;
static char root[PATH_MAX], state[PATH_MAX + 32];

static const char ID1[] = "0f8fad5b-d9cb-469f-a165-70867728950e";
static const char ID2[] = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
static const char T1[] = "2026-12-02T13:00:00Z", T2[] = "2026-12-02T14:00:00Z";

static hb_system *open_root(void)
{
    hb_err err = {0};
    hb_system *sys = NULL;
    HBTEST_ASSERT_OK(hb_system_open(root, 0, &sys, &err), &err);
    return sys;
}

/* What a backup does: the next sequence, claimed at its commit. */
static hb_status take(const hb_system *sys, uint64_t *seq, hb_err *err)
{
    hb_status st = hb_sequence_next(sys, seq, err);
    return st != HB_OK ? st : hb_sequence_claim(sys, *seq, err);
}

static char *state_text(void)
{
    static char text[4096];
    FILE *f = fopen(state, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    return text;
}

static void test_no_history_then_take_and_record(void)
{
    hb_err err = {0};
    hb_sequence_state s;
    uint64_t seq = 0;
    snprintf(root, sizeof root, "%s/root", base);
    snprintf(state, sizeof state, "%s/%s", root, HB_SEQUENCE_STATE);
    HBTEST_ASSERT_OK(hb_system_init(root, "appliance", "9.3.5.0", &err), &err);
    hb_system *sys = open_root();
    HBTEST_ASSERT_OK(hb_sequence_load(sys, &s, &err), &err);
    CU_ASSERT_EQUAL(s.counter, 0);
    CU_ASSERT_EQUAL(s.newest, 0);
    CU_ASSERT_EQUAL(access(state, F_OK), -1); /* loading writes nothing */

    /* Reading the next one writes nothing (a refused backup changes nothing). */
    HBTEST_ASSERT_OK(hb_sequence_next(sys, &seq, &err), &err);
    CU_ASSERT_EQUAL(seq, 1);
    CU_ASSERT_EQUAL(access(state, F_OK), -1);
    HBTEST_ASSERT_OK(hb_sequence_claim(sys, seq, &err), &err);
    CU_ASSERT_STRING_EQUAL(state_text(), "hsmbak-sequence 1\ncounter 1\nnewest none\n");
    /* A sequence not above the counter was not read under this lock. */
    HBTEST_ASSERT_FAIL(hb_sequence_claim(sys, 1, &err), HB_E_INTERNAL, &err,
                       "is not above this system's 1");
    HBTEST_ASSERT_OK(hb_sequence_record(sys, 1, ID1, T1, "made", &err), &err);
    CU_ASSERT_STRING_EQUAL(state_text(), "hsmbak-sequence 1\ncounter 1\nnewest 1 "
                                         "0f8fad5b-d9cb-469f-a165-70867728950e "
                                         "2026-12-02T13:00:00Z made\n");
    /* A failed backup leaves a gap: the counter moved, the newest did not. */
    HBTEST_ASSERT_OK(take(sys, &seq, &err), &err);
    CU_ASSERT_EQUAL(seq, 2);
    HBTEST_ASSERT_OK(take(sys, &seq, &err), &err);
    CU_ASSERT_EQUAL(seq, 3);
    HBTEST_ASSERT_OK(hb_sequence_load(sys, &s, &err), &err);
    CU_ASSERT_EQUAL(s.counter, 3);
    CU_ASSERT_EQUAL(s.newest, 1);
    CU_ASSERT_STRING_EQUAL(s.newest_id, ID1);
    CU_ASSERT_STRING_EQUAL(s.newest_created, T1);
    CU_ASSERT_STRING_EQUAL(s.newest_how, "made");

    /* Restoring another system's newer backup: the next one continues after it. */
    HBTEST_ASSERT_OK(hb_sequence_record(sys, 9, ID2, T2, "restored", &err), &err);
    HBTEST_ASSERT_OK(take(sys, &seq, &err), &err);
    CU_ASSERT_EQUAL(seq, 10);
    /* Older, equal or none: the newest stays. */
    HBTEST_ASSERT_OK(hb_sequence_record(sys, 5, ID1, T1, "restored", &err), &err);
    HBTEST_ASSERT_OK(hb_sequence_record(sys, 9, ID1, T1, "restored", &err), &err);
    HBTEST_ASSERT_OK(hb_sequence_record(sys, 0, ID1, T1, "restored", &err), &err);
    HBTEST_ASSERT_OK(hb_sequence_load(sys, &s, &err), &err);
    CU_ASSERT_EQUAL(s.newest, 9);
    CU_ASSERT_STRING_EQUAL(s.newest_id, ID2);
    CU_ASSERT_STRING_EQUAL(s.newest_how, "restored");
    HBTEST_ASSERT_STATUS(hb_sequence_record(sys, 11, "not-an-id", T1, "made", &err),
                         HB_E_INTERNAL, &err);
    HBTEST_ASSERT_STATUS(hb_sequence_record(sys, 11, ID1, T1, "guessed", &err), HB_E_INTERNAL,
                         &err);

    /* Factory reset keeps .hsmbak/, so the history survives it. */
    char before[4096];
    snprintf(before, sizeof before, "%s", state_text());
    HBTEST_ASSERT_OK(hb_system_factory_reset(sys, &err), &err);
    CU_ASSERT_STRING_EQUAL(state_text(), before);
    hb_system_close(sys);
}

static void test_lock_required(void)
{
    hb_err err = {0};
    hb_sequence_state s;
    uint64_t seq = 0;
    hb_system *sys = open_root();
    int fd = sys->lock_fd;
    sys->lock_fd = -1;
    HBTEST_ASSERT_FAIL(hb_sequence_load(sys, &s, &err), HB_E_INTERNAL, &err, "under the system "
                       "root's lock");
    HBTEST_ASSERT_STATUS(take(sys, &seq, &err), HB_E_INTERNAL, &err);
    sys->lock_fd = fd;
    hb_system_close(sys);
}

/* Each text is refused with the one message, and left as it is. */
static void test_foreign_state_refused(void)
{
    static const char *const bad[] = {
        "",
        "hsmbak-sequence 1\n",
        "hsmbak-sequence 2\ncounter 1\nnewest none\n",
        "hsmbak-sequence 1\ncounter 1\nnewest none",            /* no final newline */
        "hsmbak-sequence 1\ncounter 1\nnewest none\n\n",        /* a line more */
        "hsmbak-sequence 1\ncounter -1\nnewest none\n",
        "hsmbak-sequence 1\ncounter 01\nnewest none\n",
        "hsmbak-sequence 1\ncounter 9223372036854775808\nnewest none\n",
        "hsmbak-sequence 1\ncounter  1\nnewest none\n",
        "hsmbak-sequence 1\ncounter 1 \nnewest none\n",
        "hsmbak-sequence 1\ncounter 1\nnewest 0\n",
        "hsmbak-sequence 1\ncounter 1\nnewest 0 0f8fad5b-d9cb-469f-a165-70867728950e "
        "2026-12-02T13:00:00Z made\n",
        "hsmbak-sequence 1\ncounter 1\nnewest 2 0F8FAD5B-D9CB-469F-A165-70867728950E "
        "2026-12-02T13:00:00Z made\n",
        "hsmbak-sequence 1\ncounter 1\nnewest 2 0f8fad5b-d9cb-469f-a165-70867728950e "
        "2026-12-02 13:00:00 made\n",
        "hsmbak-sequence 1\ncounter 1\nnewest 2 0f8fad5b-d9cb-469f-a165-70867728950e "
        "2026-12-02T13:00:00Z stolen\n",
        "hsmbak-sequence 1\ncounter 1\nnewest 2 0f8fad5b-d9cb-469f-a165-70867728950e "
        "2026-12-02T13:00:00Z made extra\n",
        "hsmbak-sequence 1\nnewest none\ncounter 1\n",
    };
    hb_system *sys = open_root();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hb_err err = {0};
        hb_sequence_state s;
        uint64_t seq = 0;
        CU_ASSERT_EQUAL_FATAL(hbtest_write_text(state, bad[i]), 0);
        HBTEST_ASSERT_FAIL(hb_sequence_load(sys, &s, &err), HB_E_VERIFY, &err,
                           "is not a backup sequence state hsmbak wrote");
        HBTEST_ASSERT_STATUS(take(sys, &seq, &err), HB_E_VERIFY, &err);
        CU_ASSERT_STRING_EQUAL(state_text(), bad[i]);
    }
    /* At the limit, no backup can be newer. */
    hb_err err = {0};
    uint64_t seq = 0;
    CU_ASSERT_EQUAL_FATAL(hbtest_write_text(state, "hsmbak-sequence 1\ncounter "
                                                   "9223372036854775807\nnewest none\n"), 0);
    HBTEST_ASSERT_FAIL(take(sys, &seq, &err), HB_E_REFUSED, &err, "at its limit");
    hb_system_close(sys);
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"no history; take, record, gaps, max; survives factory reset",
         test_no_history_then_take_and_record},
        {"only under the root's lock", test_lock_required},
        {"a state file hsmbak did not write is refused, never read as no history",
         test_foreign_state_refused},
        {NULL, NULL},
    };
    return hbtest_run(&(hbtest_suite){"sequence", cases, .scratch = &base});
}
