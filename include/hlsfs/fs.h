/*
 * fs: the FUSE operations. Maps a path to a node (a mirrored source entry
 * or a virtual file of a title) and answers with -errno at the call site.
 */
#ifndef HLSFS_FS_H
#define HLSFS_FS_H

#include "hlsfs/metrics.h"

struct evict;
struct library;
struct sched;

/* The control directory: MOUNT/.hlsfs, reachable by path but not listed
 * in the root (so that copies of the mount leave it out). */
#define FS_CONTROL_DIR "/.hlsfs"

struct fs_context {
    const char     *source_root;   /* absolute, no trailing slash       */
    struct library *library;       /* set before the loop starts         */
    struct sched   *sched;         /* set before the loop starts         */
    struct evict   *evict;         /* pins of open segments; may be NULL */
    struct metrics_sources metrics;  /* what .hlsfs/metrics shows        */
};

/* The operations table; private_data must be a struct fs_context. */
const struct fuse_operations *fs_operations(void);

#endif
