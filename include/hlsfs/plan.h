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
int64_t plan_ms(int64_t start, int64_t end, int tb_num, int tb_den);

#endif
