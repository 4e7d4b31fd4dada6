/*
 * vpath: the virtual path grammar of a title directory (pure, no I/O).
 *
 * A video source "film.mkv" is shown as a directory; below it:
 *   master.m3u8, source.EXT, ERROR,
 *   video/, video/NAME/, video/NAME/index.m3u8, video/NAME/NNNNN.ts,
 *   audio/, audio/K/,   audio/K/index.m3u8,   audio/K/NNNNN.ts
 *   subtitles/, subtitles/K/, subtitles/K/index.m3u8,
 *   subtitles/K/NNNNN.vtt, subtitles/K.vtt
 *   thumbs/, thumbs/thumbs.vtt, thumbs/NNNNN.jpg
 * (video/iframes/ is a video rendition name like any other here.)
 */
#ifndef HLSFS_VPATH_H
#define HLSFS_VPATH_H

#include <stddef.h>

enum vnode_kind {
    VN_TITLE_DIR,   /* ""                           */
    VN_MASTER,      /* "master.m3u8"                */
    VN_SOURCE,      /* "source.EXT"                 */
    VN_ERROR,       /* "ERROR"                      */
    VN_KIND_DIR,    /* "video" or "audio"           */
    VN_REND_DIR,    /* "video/NAME" or "audio/K"    */
    VN_PLAYLIST,    /* ".../index.m3u8"             */
    VN_SEGMENT,     /* ".../NNNNN.ts"; subtitles: NNNNN.vtt */
    VN_SUBTITLE_FILE, /* "subtitles/K.vtt": a whole track */
    VN_THUMB_DIR,   /* "thumbs"                     */
    VN_THUMB_INDEX, /* "thumbs/thumbs.vtt"          */
    VN_THUMB_SPRITE,/* "thumbs/NNNNN.jpg" (segment) */
};

enum rend_kind { REND_VIDEO, REND_AUDIO, REND_SUBTITLE };

#define VPATH_NAME_MAX 32

struct vnode {
    enum vnode_kind kind;
    enum rend_kind  rkind;                /* for KIND_DIR and below       */
    char            rend[VPATH_NAME_MAX]; /* "original", "720p", "0" ... */
    long            segment;              /* for VN_SEGMENT               */
    int             seg_digits;           /* digits in the segment name   */
};

/* 1 when a file name has a video extension (case-insensitive), else 0. */
int vpath_is_video_name(const char *name);

/* The extension of a name without the dot ("mkv"), or "" when none. */
const char *vpath_ext(const char *name);

/* Offset just past the first path component at or after 'from' whose name
 * has a video extension: "/a/b.mkv/master.m3u8" -> 8. Returns -1 if none. */
long vpath_next_title_split(const char *path, size_t from);

/* Parse the part of a path below a title directory ("" , "/master.m3u8",
 * "/video/original/00042.ts" ...). 'source_ext' is the source's extension,
 * so that "source.EXT" is recognised. Returns 0, or -ENOENT when the text
 * is not a name of the grammar (whether the title has it is checked later). */
int vpath_parse_inner(const char *inner, const char *source_ext,
                      struct vnode *out);

/* Digits in the segment names of a rendition with 'count' segments:
 * five, more when count - 1 needs more. */
int vpath_segment_digits(long count);

/* Write the name of segment 'index' ("00042.ts") into buf. Returns its
 * length, -ENAMETOOLONG when it does not fit in size bytes, or -EINVAL
 * for a negative index. */
int vpath_segment_name(char *buf, size_t size, long index, long count);

/* Write the name of thumbnail sprite 'index' ("00003.jpg") into buf, as
 * vpath_segment_name does for segments. */
int vpath_sprite_name(char *buf, size_t size, long index, long count);

#endif
