/*
 * segstore: the segment store, the one way into stored segments from
 * outside src/store. Its users name a segment by its rendition's key
 * (opaque bytes: whatever identifies the rendition to them) and its index;
 * the cache key the two make (cache.c's layout) and LMDB never leave
 * src/store. On top of cache.c (LMDB) and evict.c (eviction, pins, read
 * times) it offers:
 *  - struct segstore_ops: the interface the scheduler (session.c) stores
 *    through, as function pointers and a context, so that the scheduler
 *    links neither LMDB nor the evictor and its tests use a fake;
 *  - segstore_pin() / segstore_unpin(): an open segment is never evicted.
 *
 * This header declares no LMDB type and includes no other hlsfs header.
 */
#ifndef HLSFS_SEGSTORE_H
#define HLSFS_SEGSTORE_H

#include <stddef.h>
#include <stdint.h>

struct cache;
struct evict;
struct segstore;

/* Longest rendition key, in bytes. */
#define SEGSTORE_RKEY_MAX 252

/* Renditions shorter than this have no segments "behind a reader" (SPEC
 * §5): eviction does not prefer them, clean=eager does not drop them. */
#define SEGSTORE_LONG_MS (5 * 60 * 1000)

/* One active reader of a rendition, as the scheduler sees it: what
 * eviction must spare and what lies behind it (evict.h). */
struct segstore_reader {
    uint8_t  key[SEGSTORE_RKEY_MAX];  /* the rendition key              */
    size_t   key_len;
    int64_t  duration_ms;         /* of the rendition                   */
    long     behind;              /* segments [0, behind) are more than
                                     segment_keep behind this reader    */
    long     keep_from, keep_to;  /* [keep_from, keep_to] is its window:
                                     never evicted                      */
};

/* The interface a segment store offers the scheduler. Every function is
 * thread-safe and is called without any lock of the caller held; rkey is
 * 1 to SEGSTORE_RKEY_MAX bytes. */
struct segstore_ops {
    void *ctx;
    /* Copy segment seg of rkey into a malloc'd *val. 1: a hit, 0: a miss,
     * or a negative errno. Required. */
    int  (*get)(void *ctx, const uint8_t *rkey, size_t rlen, long seg,
                void **val, size_t *len);
    /* Whether the segment is stored: 1, 0 or a negative errno. Required. */
    int  (*has)(void *ctx, const uint8_t *rkey, size_t rlen, long seg);
    /* Store the segment, all of it or nothing, in one transaction: when it
     * returns 0 a get() finds it. A negative errno otherwise, -ENOSPC when
     * there is no room. Required. */
    int  (*put)(void *ctx, const uint8_t *rkey, size_t rlen, long seg,
                const void *data, size_t len);
    /* A stored segment was read now. Optional. */
    void (*touch)(void *ctx, const uint8_t *rkey, size_t rlen, long seg);
    /* Evict under pressure (force = 0: only past the high mark; force = 1:
     * a put found no room), sparing the readers rd[0..n). Returns the bytes
     * evicted or a negative errno. Optional: NULL, nothing is evicted. */
    int64_t (*evict)(void *ctx, int force, const struct segstore_reader *rd,
                     int n);
    /* clean=eager: drop the stored segments [from, to) of rkey that are
     * not pinned. Returns how many, or a negative errno. Optional. */
    int  (*drop)(void *ctx, const uint8_t *rkey, size_t rlen, long from,
                 long to);
    double segment_keep;   /* seconds a reader keeps behind it; 0: none  */
    int    eager;          /* clean=eager: call drop() behind readers    */
};

/** @brief A segment store on an open cache and its evictor.
 * @param[in] c  must outlive the store.
 * @param[in] e  the evictor of c, or NULL for none (no eviction, no pins);
 *               must outlive the store.
 * @return 0, -EINVAL (c is NULL) or -ENOMEM. */
int segstore_new(struct segstore **out, struct cache *c, struct evict *e);

/* Accepts NULL and *s == NULL; sets *s to NULL. */
void segstore_free(struct segstore **s);

/* The scheduler's interface to s, in *ops; valid while s lives. */
void segstore_bind(struct segstore *s, struct segstore_ops *ops);

/* A handle opened / closed segment seg of rkey: a pinned segment is never
 * evicted. Pins nest; every pin is balanced by one unpin with the same
 * arguments. Returns 0, or -EINVAL when rkey is too long (nothing pinned:
 * its unpin is a no-op too). Accepts s == NULL (no store: nothing to
 * pin). */
int  segstore_pin(struct segstore *s, const uint8_t *rkey, size_t rlen,
                  long seg);
void segstore_unpin(struct segstore *s, const uint8_t *rkey, size_t rlen,
                    long seg);

#endif
