/*
 * metrics: the text of MOUNT/.hlsfs/metrics, in the Prometheus text
 * exposition format (version 0.0.4), from the counters of the scheduler,
 * the encoders, the evictor, the library and the cache.
 */
#ifndef HLSFS_METRICS_H
#define HLSFS_METRICS_H

#include <stddef.h>

struct cache;
struct evict;
struct library;
struct produce_ctx;
struct sched;

/* Where the figures come from; any may be NULL (its metrics read 0). */
struct metrics_sources {
    struct sched       *sched;
    struct evict       *evict;
    struct cache       *cache;
    struct library     *library;
    struct produce_ctx *produce;
};

/* Render the metrics into a malloc'd, NUL-terminated *text of *len bytes
 * (the NUL not counted). Returns 0 or -ENOMEM. */
int metrics_render(const struct metrics_sources *m, char **text, size_t *len);

#endif
