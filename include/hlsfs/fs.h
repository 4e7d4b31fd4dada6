/*
 * fs: the FUSE operations. Maps a path to a node (a mirrored source entry
 * or a virtual file of a title) and answers with -errno at the call site.
 */
#ifndef HLSFS_FS_H
#define HLSFS_FS_H

struct library;
struct sched;

struct fs_context {
    const char     *source_root;   /* absolute, no trailing slash       */
    struct library *library;       /* set before the loop starts         */
    struct sched   *sched;         /* set before the loop starts         */
};

/* The operations table; private_data must be a struct fs_context. */
const struct fuse_operations *fs_operations(void);

#endif
