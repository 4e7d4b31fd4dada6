/*
 * record: the title record, the bytes a title is kept as in the cache
 * (CACHE_TITLES), and a title read back from them.
 *
 * Layout, all integers little-endian: the title key as it is in memory
 * (its magic "HTI" + TITLE_RECORD_VERSION), the error text (u32 length,
 * bytes; empty when the title can be served), then the title's fields and
 * each rendition's fields in the order of record.c's field tables: one
 * table per level, used for writing and for reading. Playlists and other
 * derived text are not stored; they are made again on reading.
 */
#ifndef HLSFS_RECORD_H
#define HLSFS_RECORD_H

#include <stddef.h>
#include <stdint.h>

struct title;

/* The record of t in a malloc'd buffer (*buf, *len bytes). Returns 0 or
 * -ENOMEM. */
int record_write(const struct title *t, uint8_t **buf, size_t *len);

/* A title from a record. Returns 0, -EINVAL for a record of another
 * version, a truncated or otherwise malformed one, or -ENOMEM. */
int record_read(const uint8_t *buf, size_t len, struct title **out);

#endif
