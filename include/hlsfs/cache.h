/*
 * cache: the LMDB environment in cache_dir. Short transactions, one writer
 * at a time (LMDB's own lock), values copied out before a read ends.
 *
 * Tables: CACHE_TITLES maps a title key (source identity + options) to the
 * serialized analysis of that title. CACHE_SEGMENTS maps a rendition key
 * followed by a 4-byte big-endian segment index to the segment's bytes
 * (written by session.c, one transaction per segment).
 */
#ifndef HLSFS_CACHE_H
#define HLSFS_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct cache;

enum cache_table { CACHE_TITLES, CACHE_SEGMENTS, CACHE_NTABLES };

/* Create cache_dir if needed and open the environment, capped at
 * map_size bytes. Returns 0 or a negative errno (message logged). */
int cache_open(struct cache **out, const char *dir, uint64_t map_size);

/* Close the environment; accepts NULL and *c == NULL; sets *c to NULL. */
void cache_close(struct cache **c);

/* Copy the value of key into a malloc'd *val. Returns 1 on a hit, 0 on a
 * miss, or a negative errno. Thread-safe. */
int cache_get(struct cache *c, enum cache_table t, const void *key,
              size_t klen, void **val, size_t *vlen);

/* Whether key is present, without copying its value. Returns 1 if it is,
 * 0 if not, or a negative errno. Thread-safe. */
int cache_has(struct cache *c, enum cache_table t, const void *key,
              size_t klen);

/* Store key -> value atomically (one transaction). Returns 0 or a
 * negative errno (-ENOSPC when the map is full). Thread-safe. */
int cache_put(struct cache *c, enum cache_table t, const void *key,
              size_t klen, const void *val, size_t vlen);

#endif
