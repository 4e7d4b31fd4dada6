/*
 * fs: the FUSE operations. Maps a path to a node (a mirrored source entry
 * or a virtual file of a title) and answers with -errno at the call site.
 */
#ifndef HLSFS_FS_H
#define HLSFS_FS_H

#include <pthread.h>

#include "hlsfs/list.h"
#include "hlsfs/metrics.h"

struct handle;
struct library;
struct sched;
struct segstore;

/* The control directory: MOUNT/.hlsfs, reachable by path but not listed
 * in the root (so that copies of the mount leave it out). */
#define FS_CONTROL_DIR "/.hlsfs"

/* FUSE worker threads (-o max_threads, when not given) and background
 * requests the kernel may have in flight (readahead of page-cached reads):
 * each read waiting for an encode holds one of each, and the rest must
 * stay free for stat, listings and cached reads. */
#define FS_MAX_THREADS    256
#define FS_MAX_BACKGROUND 256

struct fs_context {
    const char     *source_root;   /* absolute, no trailing slash       */
    struct library *library;       /* set before the loop starts         */
    struct sched   *sched;         /* set before the loop starts         */
    struct segstore *store;        /* pins of open segments; may be NULL */
    struct metrics_sources metrics;  /* what .hlsfs/metrics shows        */
    pthread_mutex_t open_lock;     /* initialised by the owner           */
    struct list     open;          /* fs.c's open handles, by open_lock;
                                      list_init'ed by the owner          */
};

/* The operations table; private_data must be a struct fs_context. */
const struct fuse_operations *fs_operations(void);

/* Release the handles the kernel never released: a mount ended by a
 * signal, or unmounted with a release still in flight, leaves files open.
 * Call once the FUSE loop has ended, before the library, scheduler and
 * evictor go. */
void fs_release_open(struct fs_context *c);

#endif
