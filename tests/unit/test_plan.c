/*
 * test_plan.c -- unit tests for src/plan.c: where segments are cut, and
 * segment durations in milliseconds.
 */
#include "hlsfs/plan.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "check.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MAXK 16

struct cuts_case {
    const char *name;
    int64_t     keys[MAXK];
    size_t      nkeys;
    int64_t     target;
    size_t      want[MAXK];
    long        nwant;
};

static const struct cuts_case cuts_cases[] = {
    /* 2 s GOPs, 6 s target: every third keyframe */
    { "regular-gop", { 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20 }, 11, 6,
      { 0, 3, 6, 9 }, 4 },
    /* 2 s GOPs in 90 kHz, not starting at 0 */
    { "regular-gop-90k-offset",
      { 900000, 1080000, 1260000, 1440000, 1620000, 1800000, 1980000 }, 7,
      540000, { 0, 3, 6 }, 3 },
    /* GOP of 10 s, target 6: every keyframe is a cut */
    { "gop-longer-than-target", { 0, 10, 20, 30 }, 4, 6, { 0, 1, 2, 3 }, 4 },
    /* 6 and 12 both fall before 13: one cut, and the next multiple is
     * 18 (not 12 + 6 counted from the folded one): 15 is no cut */
    { "multiples-fold-into-one-cut", { 0, 13, 15, 19 }, 4, 6, { 0, 1, 3 }, 3 },
    { "gop-13-target-6", { 0, 13, 26, 39 }, 4, 6, { 0, 1, 2, 3 }, 4 },
    /* keyframes exactly on the multiples */
    { "keys-on-multiples", { 0, 3, 6, 9, 12, 15, 18 }, 7, 6, { 0, 2, 4, 6 }, 4 },
    /* a cut exactly on 6: the next multiple is 12, so 7 and 11 are not */
    { "cut-on-multiple-next-is-plus-target", { 0, 6, 7, 11, 12 }, 5, 6,
      { 0, 1, 4 }, 3 },
    /* just before and just after a multiple */
    { "just-before-multiple", { 0, 5999, 6001, 11999, 12000 }, 5, 6000,
      { 0, 2, 4 }, 3 },
    /* irregular (VFR, scene-cut) keyframes */
    { "irregular-vfr", { 0, 1, 5, 7, 8, 11, 14, 17, 18, 25 }, 10, 6,
      { 0, 3, 6, 8, 9 }, 5 },
    /* the timeline counts from the first keyframe, not from 0:
     * multiples are 1006, 1012: 1003 is no cut */
    { "origin-is-first-key", { 1000, 1003, 1006, 1008, 1013 }, 5, 6,
      { 0, 2, 4 }, 3 },
    /* negative origin: multiples -2, 1, 4 (floor division matters) */
    { "negative-origin", { -5, -3, 0, 1, 4 }, 5, 3, { 0, 2, 3, 4 }, 4 },
    /* a single keyframe, one segment */
    { "single-key", { 0 }, 1, 6, { 0 }, 1 },
    { "single-key-nonzero", { 123456789 }, 1, 6, { 0 }, 1 },
    /* keyframes but none reaches the first multiple */
    { "shorter-than-target", { 0, 1, 2, 3, 4, 5 }, 6, 6, { 0 }, 1 },
    /* non-monotonic keyframe times: 5 after 7, 12 after 13 */
    { "non-monotonic", { 0, 7, 5, 13, 12, 20 }, 6, 6, { 0, 1, 3, 5 }, 4 },
    /* a repeated time is not after the previous cut */
    { "repeated-time", { 0, 6, 6, 12, 12 }, 5, 6, { 0, 1, 3 }, 3 },
    /* keyframes before the origin are never cuts */
    { "before-origin", { 10, 3, 16, -100, 22 }, 5, 6, { 0, 2, 4 }, 3 },
    /* a keyframe that goes back after a cut and one that stays below */
    { "back-then-short", { 0, 8, 7, 9 }, 4, 6, { 0, 1 }, 2 },
    /* 2 s GOPs at 2^40 in 90 kHz */
    { "huge-pts-2^40",
      { 1099511627776, 1099511807776, 1099511987776, 1099512167776,
        1099512347776, 1099512527776, 1099512707776 }, 7, 540000,
      { 0, 3, 6 }, 3 },
    /* right below INT64_MAX: O + k*target would overflow int64 */
    { "near-int64-max",
      { INT64_MAX - 100, INT64_MAX - 50, INT64_MAX }, 3, 40, { 0, 1, 2 }, 3 },
    /* the whole int64 range */
    { "int64-min-to-max", { INT64_MIN, 0, INT64_MAX }, 3, INT64_MAX,
      { 0, 1, 2 }, 3 },
    { "int64-min-to-max-target-1", { INT64_MIN, INT64_MAX }, 2, 1,
      { 0, 1 }, 2 },
    /* a gap of 10^15 units with target 1: must not walk the multiples */
    { "long-gap-target-1", { 0, 1000000000000000, 1000000000000001 }, 3, 1,
      { 0, 1, 2 }, 3 },
    /* 10^15 - 4 is a multiple of 6: the next one is 6 later, not 3 */
    { "long-gap-then-short", { 0, 999999999999996, 999999999999999,
      1000000000000002 }, 4, 6, { 0, 1, 3 }, 3 },
};

static void test_cuts_table(void)
{
    size_t i, j;

    for (i = 0; i < ARRAY_LEN(cuts_cases); i++) {
        const struct cuts_case *c = &cuts_cases[i];
        /* exactly nkeys entries, so ASan sees any write past them */
        size_t *cuts = malloc(c->nkeys * sizeof(*cuts));
        long n;

        check_begin("plan_cuts/%s", c->name);
        CHECK(cuts != NULL, "out of memory");
        if (!cuts) {
            check_end();
            continue;
        }
        n = plan_cuts(c->keys, c->nkeys, c->target, cuts);
        CHECK_INT(n, c->nwant);
        for (j = 0; n == c->nwant && j < (size_t)n; j++) {
            CHECK(cuts[j] == c->want[j], "cuts[%zu]: got %zu, want %zu", j,
                  cuts[j], c->want[j]);
        }
        free(cuts);
        check_end();
    }
}

static void test_cuts_invalid(void)
{
    static const int64_t keys[] = { 0, 6, 12 };
    size_t cuts[3];

    check_begin("plan_cuts/invalid/nkeys-0");
    CHECK_INT(plan_cuts(keys, 0, 6, cuts), -EINVAL);
    check_end();
    check_begin("plan_cuts/invalid/target-0");
    CHECK_INT(plan_cuts(keys, 3, 0, cuts), -EINVAL);
    check_end();
    check_begin("plan_cuts/invalid/target-negative");
    CHECK_INT(plan_cuts(keys, 3, -6, cuts), -EINVAL);
    check_end();
    check_begin("plan_cuts/invalid/target-int64-min");
    CHECK_INT(plan_cuts(keys, 3, INT64_MIN, cuts), -EINVAL);
    check_end();
    check_begin("plan_cuts/invalid/keys-null");
    CHECK_INT(plan_cuts(NULL, 3, 6, cuts), -EINVAL);
    check_end();
    check_begin("plan_cuts/invalid/cuts-null");
    CHECK_INT(plan_cuts(keys, 3, 6, NULL), -EINVAL);
    check_end();
}

/*
 * The rule stated the slow way, multiple by multiple, for small values:
 * after a cut at p the next multiple is the smallest O + k*T > p.
 */
static long reference_cuts(const int64_t *k, size_t n, int64_t t, size_t *cuts)
{
    int64_t o = k[0], p = k[0], m;
    long nc = 1;
    size_t i;

    cuts[0] = 0;
    for (i = 1; i < n; i++) {
        if (k[i] <= p)
            continue;
        for (m = o + t; m <= p; m += t)
            ;
        if (k[i] >= m) {
            cuts[nc++] = i;
            p = k[i];
        }
    }
    return nc;
}

/* Random keyframe sequences (mostly increasing, some going back, some on
 * multiples) against the reference; plus the plan's invariants. */
static void test_cuts_random(void)
{
    enum { ROUNDS = 300, N = 200 };
    uint32_t seed = 12345;
    int r;

    for (r = 0; r < ROUNDS; r++) {
        int64_t keys[N], t;
        size_t got[N], want[N], i, n;
        long ng, nw;

        seed = seed * 1664525u + 1013904223u;
        n = 1 + (seed >> 8) % N;
        seed = seed * 1664525u + 1013904223u;
        t = 1 + (seed >> 8) % 50;
        seed = seed * 1664525u + 1013904223u;
        keys[0] = (int64_t)((seed >> 8) % 1000) - 500;
        for (i = 1; i < n; i++) {
            seed = seed * 1664525u + 1013904223u;
            switch ((seed >> 8) % 8) {
            case 0:  keys[i] = keys[i - 1] - (int64_t)((seed >> 12) % 20); break;
            case 1:  keys[i] = keys[i - 1] + t; break;
            case 2:  keys[i] = keys[i - 1] + 3 * t + 1; break;
            default: keys[i] = keys[i - 1] + (int64_t)((seed >> 12) % 30); break;
            }
        }
        check_begin("plan_cuts/random-%03d(n=%zu,t=%lld)", r, n, (long long)t);
        ng = plan_cuts(keys, n, t, got);
        nw = reference_cuts(keys, n, t, want);
        CHECK_INT(ng, nw);
        for (i = 0; ng == nw && i < (size_t)ng; i++)
            CHECK(got[i] == want[i], "cuts[%zu]: got %zu, want %zu", i,
                  got[i], want[i]);
        for (i = 1; ng > 0 && i < (size_t)ng; i++)
            CHECK(got[i] > got[i - 1] && keys[got[i]] > keys[got[i - 1]],
                  "cut %zu is not after cut %zu", i, i - 1);
        check_end();
    }
}

static void test_ms(void)
{
    static const struct {
        const char *name;
        int64_t start, end;
        int num, den;
        int64_t want;
    } cases[] = {
        { "6.006s-90k", 0, 540540, 1, 90000, 6006 },
        { "third-down", 0, 1, 1, 3, 333 },
        { "two-thirds-up", 0, 2, 1, 3, 667 },
        { "half-rounds-up", 0, 1, 1, 2000, 1 },
        { "three-halves-up", 0, 3, 1, 2000, 2 },
        { "below-half-down", 0, 1, 1, 2001, 0 },
        { "frac-num-above-half", 0, 1, 1001, 2000000, 1 },
        { "frac-num-below-half", 0, 1, 999, 2000000, 0 },
        { "frame-30000/1001", 0, 1001, 1, 30000, 33 },
        { "frame-24000/1001", 0, 1001, 1, 24000, 42 },
        { "tb-1001/24000", 0, 24, 1001, 24000, 1001 },
        { "empty", 5, 5, 1, 90000, 0 },
        { "offset-2^40", 1099511627776, 1099511717776, 1, 90000, 1000 },
        { "negative-start", -90000, 0, 1, 90000, 1000 },
        { "across-zero", -45, 45, 1, 90000, 1 },
        { "10-days-ms", 0, 864000000, 1, 1000, 864000000 },
        { "3-days-ns", 0, 259200000000000, 1, 1000000000, 259200000 },
        { "3-days-ns-half-up", 0, 259200000500000, 1, 1000000000, 259200001 },
        { "3-days-ns-below-half", 0, 259200000499999, 1, 1000000000,
          259200000 },
        /* d * num * 1000 is about 2.6e20, beyond int64 */
        { "num-1001-den-1e9", 0, 259200000000000, 1001, 1000000000,
          259459200000 },
        { "int-max-tb", 0, 5, INT_MAX, INT_MAX, 5000 },
        { "num-int-max", 0, 1000, INT_MAX, 1, 2147483647000000 },
        { "saturates", INT64_MIN, INT64_MAX, 1, 1, INT64_MAX },
        { "invalid-num-0", 0, 1, 0, 1, -EINVAL },
        { "invalid-den-0", 0, 1, 1, 0, -EINVAL },
        { "invalid-num-negative", 0, 1, -1, 90000, -EINVAL },
        { "invalid-den-negative", 0, 1, 1, -90000, -EINVAL },
        { "invalid-end-before-start", 10, 5, 1, 90000, -EINVAL },
    };
    size_t i;

    for (i = 0; i < ARRAY_LEN(cases); i++) {
        check_begin("plan_ms/%s", cases[i].name);
        CHECK_INT(plan_ms(cases[i].start, cases[i].end, cases[i].num,
                          cases[i].den),
                  cases[i].want);
        check_end();
    }
}

int main(void)
{
    test_cuts_table();
    test_cuts_invalid();
    test_cuts_random();
    test_ms();
    return check_summary("test_plan");
}
