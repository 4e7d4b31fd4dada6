/*
 * workbound: stop flag and deadline of one segment's work (workbound.h).
 */
#include <errno.h>
#include <time.h>

#include <libavformat/avformat.h>

#include "hlsfs/workbound.h"

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void work_bound_init(struct work_bound *b, const atomic_int *stop, double media_s)
{
    double s = WORK_FLOOR_S + WORK_FACTOR * (media_s > 0 ? media_s : 0);
    b->stop = stop;
    b->deadline = s < 1e9 ? mono_ns() + (int64_t)(s * 1e9) : INT64_MAX;
}

int work_bound_check(const struct work_bound *b)
{
    if (!b)
        return 0;
    if (b->stop && atomic_load(b->stop))
        return AVERROR_EXIT;
    if (b->deadline != INT64_MAX && mono_ns() > b->deadline)
        return AVERROR(ETIMEDOUT);
    return 0;
}

int work_bound_stopped(const struct work_bound *b)
{
    return b && b->stop && atomic_load(b->stop);
}

static int interrupt_cb(void *opaque)
{
    return work_bound_check(opaque) != 0;
}

void work_bound_attach(const struct work_bound *b, AVFormatContext *fmt)
{
    if (!b || !fmt)
        return;
    fmt->interrupt_callback.callback = interrupt_cb;
    fmt->interrupt_callback.opaque = (void *)b;
}
