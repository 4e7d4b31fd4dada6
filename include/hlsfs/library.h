/*
 * library: the titles of the mounted tree, each analysed once. A title is
 * found by its source path and must still match the source's identity;
 * otherwise it is loaded again (from the cache, or by probing).
 * Concurrent requests for a title that is being loaded wait for it.
 * Titles nothing refers to are kept in least recently used order, within
 * a bound, so memory does not grow with the library.
 */
#ifndef HLSFS_LIBRARY_H
#define HLSFS_LIBRARY_H

#include <stdint.h>
#include <sys/stat.h>

struct cache;
struct library;
struct title;
struct title_options;

/* 'o' must outlive the library. */
int library_new(struct library **out, const char *source_root,
                struct cache *cache, const struct title_options *o);
void library_free(struct library **l);

/* The title of the source file 'rel' (path below the source root, with a
 * leading '/') whose lstat is 'st'. Returns 0 with a reference in *out, or
 * a negative errno. Release the reference with library_put. */
int library_get(struct library *l, const char *rel, const struct stat *st,
                struct title **out);

/* One more reference to a title the caller already holds. */
void library_hold(struct library *l, struct title *t);

void library_put(struct library *l, struct title *t);

/* library_hold and library_put with untyped arguments, as the scheduler's
 * hold and release callbacks (struct sched_config: owner_ctx is the
 * library, the owner a title). */
void library_hold_owner(void *library, void *title);
void library_put_owner(void *library, void *title);

/* How many analyses found a source that cannot be served or failed. */
uint64_t library_failed_analyses(struct library *l);

/* Titles in memory now: all of them, and the idle ones (referred to by
 * nothing but the library; at most 64 and 32 MiB of them are kept, least
 * recently used go first). */
struct library_stats {
    uint64_t titles, idle, idle_bytes;
};
void library_get_stats(struct library *l, struct library_stats *st);

#endif
