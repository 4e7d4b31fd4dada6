/*
 * plan.c -- owns the segment plan of a title: which keyframes start a
 * segment (segment durations in milliseconds are plan.h's plan_ms; cuts
 * forced between keyframes are title.c's). Pure: no I/O, no libav.
 *
 * The rule (SPEC section 2, with the multiples counted from the first
 * keyframe): with origin O = key_pts[0] and target T, cut
 * at the first keyframe at or after each multiple O + k*T, k >= 1. When
 * several multiples fall before the same keyframe they make one cut, and
 * the next multiple considered is the smallest one strictly after the
 * keyframe just chosen (a keyframe exactly on a multiple m makes the next
 * multiple m + T). A keyframe not after the previous cut is never a cut,
 * which keeps the plan monotonic for sources with disordered keyframes.
 *
 * All time arithmetic is done on unsigned offsets from the origin, so any
 * int64 timestamps work (2^40, or INT64_MIN..INT64_MAX) without overflow,
 * and the next multiple comes from one division, never from a loop over
 * the multiples in a long gap between keyframes.
 */
#include "hlsfs/plan.h"

#include <errno.h>

long plan_cuts(const int64_t *key_pts, size_t nkeys, int64_t target,
               size_t *cuts)
{
    int64_t origin;
    const uint64_t t = (uint64_t)target;
    uint64_t cut_off = 0;    /* offset of the previous cut from the origin */
    uint64_t next_off = t;   /* offset of the next multiple to cut on      */
    int have_next = 1;       /* 0 once the next multiple is past INT64_MAX */
    size_t n = 1, i;

    if (!key_pts || !cuts || nkeys == 0 || target <= 0)
        return -EINVAL;

    origin = key_pts[0];
    cuts[0] = 0;
    for (i = 1; i < nkeys && have_next; i++) {
        uint64_t off;

        if (key_pts[i] <= origin)
            continue;
        off = (uint64_t)key_pts[i] - (uint64_t)origin;
        /* next_off > cut_off always; the first test states the rule */
        if (off <= cut_off || off < next_off)
            continue;
        cuts[n++] = i;
        cut_off = off;
        /* smallest multiple of t strictly greater than off */
        if (off > UINT64_MAX - t)
            have_next = 0;
        else
            next_off = off - off % t + t;
    }
    return (long)n;
}

