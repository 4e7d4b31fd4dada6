/*
 * workbound: the end every segment's work has. A segment is made under a
 * bound: the mount's stop flag (unmount, SIGTERM, SIGINT) and a deadline
 * set from the segment's media duration when its work starts. Loops that
 * read, decode or encode check it once per packet or frame, and libav's
 * own blocking reads check it through an AVIOInterruptCB, so that neither
 * a damaged file nor a shutdown can keep a worker for long.
 */
#ifndef HLSFS_WORKBOUND_H
#define HLSFS_WORKBOUND_H

#include <stdatomic.h>
#include <stdint.h>

struct AVFormatContext;

/* Wall-clock time a segment may take: WORK_FLOOR_S plus WORK_FACTOR times
 * the media time it decodes (its duration and the lead-in from the
 * keyframe it starts at). */
#define WORK_FLOOR_S  30.0
#define WORK_FACTOR   10.0

struct work_bound {
    const atomic_int *stop;      /* non-zero: give up; may be NULL       */
    int64_t           deadline;  /* CLOCK_MONOTONIC ns; INT64_MAX: none  */
};

/* A bound for work on 'media_s' seconds of media, starting now. */
void work_bound_init(struct work_bound *b, const atomic_int *stop, double media_s);

/* 0 while the work may go on; AVERROR_EXIT once stop is set, or
 * AVERROR(ETIMEDOUT) once the deadline has passed. b may be NULL. */
int work_bound_check(const struct work_bound *b);

/* Has the mount's stop flag been set? Work that fails once it is, with
 * whatever error (a demuxer may turn an interrupted read into "invalid
 * data"), was stopped by the shutdown: it is not the source's failure and
 * is neither logged nor kept as one. b may be NULL. */
int work_bound_stopped(const struct work_bound *b);

/* Make libav's blocking reads on fmt give up when the bound is crossed
 * (av_read_frame then returns AVERROR_EXIT). b must outlive fmt's use. */
void work_bound_attach(const struct work_bound *b, struct AVFormatContext *fmt);

#endif
