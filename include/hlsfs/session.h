/*
 * session: the segment scheduler. Decides who makes which segment and
 * when, keeps finished segments in a segment store and makes readers wait
 * for the ones being made. It knows nothing of libav, FUSE or LMDB: a
 * segment is made by the produce() callback of struct sched_config and
 * stored through the struct segstore_ops it is given (segstore.h).
 *
 * Caveats:
 *  - A segment is identified by the rendition's key and its index only.
 *    Two renditions with equal keys are the same rendition: same segment
 *    count, same sizes, same bytes.
 *  - produce() must be deterministic: a segment made twice (after an
 *    eviction, or in a rare race) must come out byte-identical.
 *  - sched_free() waits for the jobs that are running to finish; it cannot
 *    interrupt produce().
 *  - The hold() and release() callbacks, and every store call, are never
 *    made with the scheduler's lock held, so they may take locks of their
 *    own and release() may free the owner; none may call back into the
 *    scheduler.
 */
#ifndef HLSFS_SESSION_H
#define HLSFS_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "hlsfs/segstore.h"

struct sched;

/* Longest rendition key, in bytes. */
#define SCHED_KEY_MAX 200

/* What the scheduler knows of one rendition. */
struct sched_rendition {
    /* Unique id of the rendition (1 to SCHED_KEY_MAX bytes): the title
     * identity + rendition name + encode options. The store names the
     * rendition's segments by it. */
    const uint8_t  *key;
    size_t          key_len;
    long            nseg;       /* number of segments (>= 1)              */
    /* nseg + 1 entries, nondecreasing: segment i covers
     * [start_ms[i], start_ms[i + 1]) milliseconds. */
    const int64_t  *start_ms;
    const uint64_t *sizes;      /* exact byte size of each segment         */
    void           *owner;      /* opaque (the title), passed to hold,
                                   release and produce                     */
    const void     *rend;       /* opaque (the title's rendition, which
                                   owner keeps alive), passed to produce
                                   with owner: never read from the key     */
    int             no_readahead; /* 1: its segments are made only when
                                   read, never read ahead                  */
};

struct sched_config {
    /* Encoder threads (max_sessions); <= 0: the number of online cores. */
    int    workers;
    /* Seconds of readahead past the end of the furthest segment read:
     * segment i is read ahead when it starts before that end plus
     * max_ahead. 0 disables readahead; < 0: the default, 60. */
    double max_ahead;
    /* Seconds without reads after which a session stops; <= 0: the
     * default, 60. */
    double idle_timeout;
    /* Make segment 'seg' of r: *out malloc'd, its first *len bytes, at
     * most r->sizes[seg] (the scheduler frees it); the rest up to
     * r->sizes[seg] is padding that readers make, never stored. Returns 0
     * or a negative errno. Called on
     * worker threads without any scheduler lock, possibly several at once
     * for different segments, also of the same rendition. r and its arrays
     * are valid during the call only. */
    int  (*produce)(void *ctx, const struct sched_rendition *r, long seg,
                    uint8_t **out, size_t *len);
    void  *ctx;                 /* produce()'s                            */
    /* Keep owner alive: called when the scheduler starts referring to a
     * rendition (a job or a session of it starts to exist). Optional. */
    void (*hold)(void *owner_ctx, void *owner);
    /* Balance of hold: called when no job or session refers to the
     * rendition any more. Optional. */
    void (*release)(void *owner_ctx, void *owner);
    void  *owner_ctx;           /* hold()'s and release()'s              */
    /* Where finished segments are kept (copied; get, has and put are
     * required). Its evict() runs after every segment stored, once the
     * segment's readers have been woken, and when a put finds no room
     * (then once more put); touch() after every hit. */
    struct segstore_ops store;
};

/* Counters since sched_new, and the present state. */
struct sched_stats {
    uint64_t produced;        /* produce() calls that succeeded            */
    uint64_t cache_hits;      /* sched_read served straight from the cache */
    uint64_t waits;           /* sched_read that waited for a job          */
    uint64_t failures;        /* produce() calls that failed               */
    uint64_t readahead_jobs;  /* readahead jobs queued                     */
    uint64_t dropped;         /* readahead jobs dropped by idle sessions   */
    uint64_t not_cached;      /* segments served but not stored (no room) */
    int      active_sessions; /* sessions alive now                        */
    int      running_jobs;    /* jobs on a worker now                      */
    int      queued_jobs;     /* jobs waiting for a worker now             */
    int      waiting_readers; /* sched_read calls waiting for a job now    */
};

/** @brief Create a scheduler and start its workers.
 *
 * @param[out] out   the new scheduler; NULL on failure.
 * @param[in]  cfg   copied; produce and the store's get, has and put are
 *                   required. The store must stay usable until
 *                   sched_free() returns.
 * @return 0, or a negative errno:
 *  <ul>
 *   <li>-EINVAL - cfg, produce or a required store function is missing.
 *   <li>-ENOMEM - out of memory.
 *   <li>-EAGAIN - a worker thread could not be started.
 *  </ul>
 */
int sched_new(struct sched **out, const struct sched_config *cfg);

/** @brief Stop the scheduler and free it.
 *
 * Readers waiting in sched_read() return -ESHUTDOWN at once; queued jobs
 * are dropped; a job that is running finishes (and is stored) first. Every
 * hold() is balanced by a release() before this returns.
 *
 * @param[in,out] s  accepts NULL and *s == NULL; set to NULL.
 * @note No sched_read() may start once this has been called; those already
 *  in progress are waited for.
 */
void sched_free(struct sched **s);

/** @brief Get segment 'seg' of r.
 *
 * Looks in the store first; a hit is returned without touching any job.
 * Otherwise joins the job making the segment (or queues one, ahead of all
 * readahead) and waits for it. Either way the read moves the reader's
 * session, which then queues readahead up to max_ahead.
 *
 * @param[in]  s     the scheduler.
 * @param[in]  r     the rendition; it and its arrays need only live during
 *                   the call (what is kept is copied).
 * @param[in]  seg   segment index, 0 <= seg < r->nseg.
 * @param[out] data  on success a malloc'd copy of the segment's first
 *                   *len bytes, for the caller to free; NULL otherwise.
 *                   The bytes from *len to r->sizes[seg] are padding,
 *                   for the caller to make.
 * @param[out] len   at most r->sizes[seg]; 0 on failure.
 * @return 0, or a negative errno:
 *  <ul>
 *   <li>-EINVAL    - bad rendition or segment index.
 *   <li>-ENOMEM    - out of memory.
 *   <li>-ESHUTDOWN - sched_free() was called.
 *   <li>-EIO       - the rendition's key is known with another plan.
 *   <li>the error of produce() (-EIO when it gave no errno), for every
 *       reader waiting for that job; the failure is not cached, so a
 *       later read tries again.
 *  </ul>
 * @note Thread-safe. Never waits for anything but the job of this segment.
 */
int sched_read(struct sched *s, const struct sched_rendition *r, long seg,
               uint8_t **data, size_t *len);

/** @brief Copy the counters and the present state into *st (zeros when
 * s is NULL).
 * @note Thread-safe; the values are one consistent snapshot. */
void sched_get_stats(struct sched *s, struct sched_stats *st);

#endif
