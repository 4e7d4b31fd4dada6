/*
 * plan: segment boundaries from a keyframe index (pure, no I/O).
 *
 * Times are integers in one time base chosen by the caller (the video
 * stream's). A cut is made at the first keyframe at or after each multiple
 * of the target duration, counted from the title's origin (its first
 * keyframe), so the plan depends only on the keyframe index and the target.
 */
#ifndef HLSFS_PLAN_H
#define HLSFS_PLAN_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

/*
 * key_pts:  presentation times of the keyframes, in decode order.
 * nkeys:    number of keyframes (>= 1).
 * target:   segment target duration (> 0), same unit.
 * cuts:     out: indexes into key_pts of the keyframes that start a
 *           segment; cuts[0] is always 0. Caller allocates nkeys entries.
 * Returns the number of segments (>= 1), or -EINVAL.
 * A keyframe whose time is not after the previous cut is never a cut.
 */
long plan_cuts(const int64_t *key_pts, size_t nkeys, int64_t target,
               size_t *cuts);

/* Milliseconds of [start, end) in time base num/den, rounded to nearest
 * (halves up), exact for any int64 times. Returns -EINVAL when end < start
 * or num/den is not positive; saturates at INT64_MAX. */
/* Exact: with d = end - start, the result is round(d * num * 1000 / den),
 * halves rounded up. Writing d = q*den + r and m = num*1000 = a*den + b
 * gives d*m/den = q*m + r*a + r*b/den, where r, b < den < 2^31, so no
 * product exceeds 2^63. Inline: the make layer's segment durations come
 * from it without linking the planner. */
static inline int64_t plan_ms(int64_t start, int64_t end, int tb_num, int tb_den)
{
    uint64_t d, m, den, q, r, a, b, tail;

    if (tb_num <= 0 || tb_den <= 0 || end < start)
        return -EINVAL;
    d = (uint64_t)end - (uint64_t)start;
    m = (uint64_t)tb_num * 1000;
    den = (uint64_t)tb_den;
    q = d / den;
    r = d % den;
    a = m / den;
    b = m % den;
    tail = r * a + (2 * r * b + den) / (2 * den);
    if (q > ((uint64_t)INT64_MAX - tail) / m)
        return INT64_MAX;
    return (int64_t)(q * m + tail);
}

#endif
