/*
 * evict: which cached segments go when the cache fills up (SPEC §5), and
 * the bookkeeping that decides it: segments held open by a handle, when
 * each segment was last read, and eviction counters.
 *
 * The policy, in order:
 *  1. segments of renditions of at least SEGSTORE_LONG_MS that lie more than
 *     segment_keep seconds behind every active reader of the rendition;
 *  2. other segments, least recently read first;
 *  3. title records (keyframe indexes) last.
 * Never evicted: a segment some handle has open (evict_pin), or one in
 * the window an active reader still needs (struct segstore_reader).
 *
 * An eviction starts when the live pages of the LMDB file pass the high
 * mark and stops below the low mark. With clean=eager, evict_behind()
 * also drops segments as soon as readers leave them segment_keep behind.
 */
#ifndef HLSFS_EVICT_H
#define HLSFS_EVICT_H

#include <stddef.h>
#include <stdint.h>

#include "hlsfs/cache.h"
#include "hlsfs/segstore.h"

struct evict;

/* Titles shorter than this are never "behind a reader" (SPEC §5). */
#define EVICT_LONG_MS SEGSTORE_LONG_MS

/* The high and low marks, in percent of the cap. */
#define EVICT_HIGH_PERCENT 90
#define EVICT_LOW_PERCENT  75

struct evict_config {
    double segment_keep;    /* seconds; <= 0: the default, 720          */
    int    eager;           /* clean=eager                              */
};

enum evict_reason { EVICT_BEHIND, EVICT_LRU, EVICT_EAGER, EVICT_TITLE,
                    EVICT_NREASONS };

/* The name of a reason in metrics and logs: "behind_reader", ... */
const char *evict_reason_name(enum evict_reason r);

struct evict_stats {
    uint64_t count[EVICT_NREASONS];   /* segments (titles) evicted       */
    uint64_t bytes[EVICT_NREASONS];   /* their bytes                     */
    uint64_t runs;                    /* evictions under pressure        */
    uint64_t errors;                  /* cache operations that failed    */
};

/* c must outlive the evictor. Returns 0 or -ENOMEM. */
int evict_new(struct evict **out, struct cache *c,
              const struct evict_config *cfg);

/* Write the read times still in memory to the cache, then free. Accepts
 * NULL and *e == NULL; sets *e to NULL. */
void evict_free(struct evict **e);

/* Seconds of segment_keep, and whether clean=eager. */
double evict_segment_keep(const struct evict *e);
int    evict_is_eager(const struct evict *e);

/* A handle opened / closed the segment (segment key). Pins nest. */
void evict_pin(struct evict *e, const uint8_t *key, size_t klen);
void evict_unpin(struct evict *e, const uint8_t *key, size_t klen);

/* The segment was read now. Kept in memory; written to the cache at the
 * next evict_run() that finds enough of them, and by evict_free(). */
void evict_touch(struct evict *e, const uint8_t *key, size_t klen);

/* After a segment was stored (force = 0), or when storing one failed
 * for lack of room (force = 1): when the live pages pass the high mark,
 * or with force, evict down to the low mark, sparing the windows of the
 * active readers rd[0..nrd) (rd may be NULL when nrd is 0; the caller took the
 * snapshot, nothing here calls back). One run at a time; thread-safe.
 * Returns the bytes evicted or a negative errno. */
int64_t evict_run(struct evict *e, int force, const struct segstore_reader *rd,
                  int nrd);

/* clean=eager: drop the stored segments [from, to) of rendition rkey
 * that no handle holds. Returns how many were dropped, or a negative
 * errno. */
int evict_behind(struct evict *e, const uint8_t *rkey, size_t rlen,
                 long from, long to);

void evict_get_stats(struct evict *e, struct evict_stats *st);

#endif
