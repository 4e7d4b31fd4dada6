/*
 * cache: the LMDB environment in cache_dir, capped at cache_size bytes (the
 * map size, so the file can never grow past it). Short transactions, one
 * writer at a time (LMDB's own lock), values copied out before a read ends.
 *
 * Tables:
 *  - "titles": title key (source identity + options) -> the serialized
 *    analysis of the title (cache_get/cache_put with CACHE_TITLES).
 *  - "seginfo": segment key -> a small record: size, chunk count, when the
 *    segment was stored and last read.
 *  - "chunks": segment key + 2-byte big-endian chunk number -> the bytes of
 *    the segment, in chunks of one fixed size (the last one shorter).
 *  - "meta": a generation counter (cache_advance).
 *
 * A segment key is a rendition key followed by the 4-byte big-endian
 * segment index (cache_segment_key). A segment is written with its record
 * and all its chunks in one transaction and read in one, so a reader sees
 * all of it or none of it, also after a crash.
 *
 * Why chunks: LMDB stores a large value on a run of contiguous pages. When
 * segments of all sizes are written and evicted for ever, the free space
 * breaks into runs too short for the next segment and the file grows until
 * the map is full. Chunks of one size always fit the hole a chunk left.
 */
#ifndef HLSFS_CACHE_H
#define HLSFS_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct cache;

enum cache_table { CACHE_TITLES, CACHE_NTABLES };

/* Longest segment key, in bytes. */
#define CACHE_KEY_MAX 256

/* Create cache_dir if needed and open the environment, capped at
 * map_size bytes. Returns 0 or a negative errno (message logged). */
int cache_open(struct cache **out, const char *dir, uint64_t map_size);

/* Close the environment; accepts NULL and *c == NULL; sets *c to NULL. */
void cache_close(struct cache **c);

/* Copy the value of key into a malloc'd *val. Returns 1 on a hit, 0 on a
 * miss, or a negative errno. Thread-safe. */
int cache_get(struct cache *c, enum cache_table t, const void *key,
              size_t klen, void **val, size_t *vlen);

/* Store key -> value atomically (one transaction). Returns 0 or a
 * negative errno (-ENOSPC when the map is full). Thread-safe. */
int cache_put(struct cache *c, enum cache_table t, const void *key,
              size_t klen, const void *val, size_t vlen);

/* Delete key; 0 (also when it was not there) or a negative errno. */
int cache_del(struct cache *c, enum cache_table t, const void *key,
              size_t klen);

/* Call fn for every key of table t, with the size of its value, in key
 * order, until it returns non-zero. The key is valid during the call
 * only. Returns 0 or a negative errno. */
int cache_each_key(struct cache *c, enum cache_table t,
                   int (*fn)(void *arg, const void *key, size_t klen,
                             size_t vlen),
                   void *arg);

/* ---- segments -------------------------------------------------------- */

/* Write the key of segment seg of the rendition rkey (rlen bytes, at most
 * CACHE_KEY_MAX - 4) into out; returns its length. */
size_t cache_segment_key(uint8_t *out, const uint8_t *rkey, size_t rlen,
                         long seg);

/* The rendition key and index of a segment key (klen > 4). */
long cache_segment_index(const uint8_t *key, size_t klen);

/* Copy a whole segment into a malloc'd *val. Returns 1 on a hit, 0 on a
 * miss, or a negative errno. Thread-safe. */
int cache_segment_get(struct cache *c, const uint8_t *key, size_t klen,
                      void **val, size_t *vlen);

/* Whether the segment is stored: 1, 0, or a negative errno. */
int cache_segment_has(struct cache *c, const uint8_t *key, size_t klen);

/* Store a segment, replacing any older version, in one transaction.
 * Returns 0 or a negative errno: -ENOSPC when the map is full. */
int cache_segment_put(struct cache *c, const uint8_t *key, size_t klen,
                      const void *data, size_t len);

/* Delete segments (keys[i], klens[i]), all in one transaction. *freed
 * (may be NULL) gets the bytes of those that were there. Returns the
 * number deleted or a negative errno. */
int cache_segments_del(struct cache *c, const uint8_t *const *keys,
                       const size_t *klens, int n, uint64_t *freed);

/* What the cache knows of one stored segment. */
struct cache_segment_info {
    const uint8_t *key;         /* valid during the callback only        */
    size_t         klen;
    uint64_t       size;        /* bytes of the segment                  */
    int64_t        stored_ms;   /* wall clock, ms since the epoch        */
    int64_t        read_ms;     /* last read written back, or stored_ms  */
};

/* Call fn for every stored segment, in key order, until it returns
 * non-zero. One read transaction. Returns 0 or a negative errno. */
int cache_segments_each(struct cache *c,
                        int (*fn)(void *arg, const struct cache_segment_info *),
                        void *arg);

/* A read time to record: read_ms for the segment key. */
struct cache_touch {
    uint8_t key[CACHE_KEY_MAX];
    size_t  klen;
    int64_t read_ms;
};

/* Record the read times of those of t[0..n) still stored, where newer,
 * in one transaction. Returns 0 or a negative errno. */
int cache_segments_touch(struct cache *c, const struct cache_touch *t, int n);

/* Commit one small transaction. LMDB reuses the pages a transaction
 * freed only from the second transaction after it: an eviction calls this
 * so that the next segment can use the room it made. Returns 0 or a
 * negative errno. */
int cache_advance(struct cache *c);

/* How full the cache is. */
struct cache_usage {
    uint64_t cap;          /* the map size: the file never grows past it */
    uint64_t file;         /* bytes of the file in use so far            */
    uint64_t used;         /* bytes of pages holding live data           */
    uint64_t segments;     /* segments stored                            */
};
int cache_get_usage(struct cache *c, struct cache_usage *u);

/* The chunk size, in bytes (fixed at open from the page size). */
size_t cache_chunk_size(const struct cache *c);

#endif
