/*
 * vpath.c -- owns the virtual path grammar of hlsfs: which source names are
 * titles (by extension only), where a title directory ends inside a path,
 * parsing the names below a title directory, and formatting segment names.
 *
 * Pure: no I/O, no allocation, no locale. Case-insensitive comparisons are
 * ASCII-only on purpose (strcasecmp follows the locale, and a Turkish
 * locale must not make "FILM.AVI" stop being a title).
 */
#include "hlsfs/vpath.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Video container extensions, lower case. Audio-only containers (m4a, m4b,
 * mp3, flac, ogg, opus, wav, aac) are deliberately absent: they pass
 * through as plain files. */
static const char *const video_exts[] = {
    "mp4", "m4v", "mkv", "webm", "mov", "avi", "ts", "m2ts", "mts", "flv",
    "wmv", "mpg", "mpeg", "3gp", "ogv", "vob", "mxf", "divx", "asf",
};

#define SEG_DIGITS_MIN 5
#define SEG_DIGITS_MAX 9
#define AUDIO_K_MAX_DIGITS 3

static int ascii_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

/* 1 when s[0..n) equals the NUL-terminated lower-case 'lit', ignoring
 * ASCII case. */
static int eq_nocase(const char *s, size_t n, const char *lit)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (lit[i] == '\0' || ascii_lower((unsigned char)s[i]) != lit[i])
            return 0;
    }
    return lit[n] == '\0';
}

/* 1 when s[0..n) equals the NUL-terminated 'lit' exactly. */
static int eq(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

/* vpath_is_video_name() for a name that is not NUL-terminated. */
static int is_video_name_n(const char *name, size_t n)
{
    size_t dot = n, i;

    for (i = n; i > 0; i--) {
        if (name[i - 1] == '.') {
            dot = i - 1;
            break;
        }
    }
    if (dot == n || dot == 0 || dot + 1 == n)
        return 0;
    for (i = 0; i < sizeof(video_exts) / sizeof(video_exts[0]); i++) {
        if (eq_nocase(name + dot + 1, n - dot - 1, video_exts[i]))
            return 1;
    }
    return 0;
}

int vpath_is_video_name(const char *name)
{
    if (!name)
        return 0;
    return is_video_name_n(name, strlen(name));
}

const char *vpath_ext(const char *name)
{
    const char *dot;

    if (!name)
        return "";
    dot = strrchr(name, '.');
    if (!dot || dot == name)
        return "";
    return dot + 1;
}

long vpath_next_title_split(const char *path, size_t from)
{
    size_t i, start;

    if (!path || from > strlen(path))
        return -1;
    i = from;
    while (path[i] != '\0') {
        if (path[i] == '/') {
            i++;
            continue;
        }
        start = i;
        while (path[i] != '\0' && path[i] != '/')
            i++;
        if (is_video_name_n(path + start, i - start))
            return (long)i;
    }
    return -1;
}

/* A video rendition name: 1..VPATH_NAME_MAX-1 chars of [a-z0-9_-]. */
static int is_rend_name(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || n >= VPATH_NAME_MAX)
        return 0;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static int all_digits(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
    }
    return 1;
}

/* An audio track number: "0", or 1..3 digits without a leading zero. */
static int is_audio_index(const char *s, size_t n)
{
    if (n == 0 || n > AUDIO_K_MAX_DIGITS || !all_digits(s, n))
        return 0;
    return n == 1 || s[0] != '0';
}

/* An audio rendition name: a track number, or one and "-Nch" (its
 * multichannel rendition, "0-6ch": 1 to 2 digits of channels), or one and
 * "-32k" (its rendition for cellular networks). */
static int is_audio_name(const char *s, size_t n)
{
    const char *dash = memchr(s, '-', n);
    size_t k, ch;

    if (!dash)
        return is_audio_index(s, n);
    k = (size_t)(dash - s);
    ch = n - k - 1;
    if (ch == 3 && !memcmp(dash, "-32k", 4))
        return is_audio_index(s, k);
    return is_audio_index(s, k) && ch >= 3 && ch <= 4 &&
           memcmp(s + n - 2, "ch", 2) == 0 && all_digits(dash + 1, ch - 2) &&
           dash[1] != '0';
}

/* "DIGITS.ts" (or "DIGITS.m4s": *m4s) with SEG_DIGITS_MIN..SEG_DIGITS_MAX
 * digits. */
static int parse_segment(const char *s, size_t n, long *value, int *digits,
                         int *m4s)
{
    size_t nd, i;
    long v = 0;

    *m4s = n >= 4 && memcmp(s + n - 4, ".m4s", 4) == 0;
    if (!*m4s && (n < 3 || memcmp(s + n - 3, ".ts", 3) != 0))
        return -ENOENT;
    nd = n - (*m4s ? 4 : 3);
    if (nd < SEG_DIGITS_MIN || nd > SEG_DIGITS_MAX || !all_digits(s, nd))
        return -ENOENT;
    for (i = 0; i < nd; i++)
        v = v * 10 + (s[i] - '0');
    *value = v;
    *digits = (int)nd;
    return 0;
}

/* "DIGITS.jpg" with SEG_DIGITS_MIN..SEG_DIGITS_MAX digits. */
static int parse_sprite(const char *s, size_t n, long *value, int *digits)
{
    size_t nd, i;
    long v = 0;

    if (n < 4 || memcmp(s + n - 4, ".jpg", 4) != 0)
        return -ENOENT;
    nd = n - 4;
    if (nd < SEG_DIGITS_MIN || nd > SEG_DIGITS_MAX || !all_digits(s, nd))
        return -ENOENT;
    for (i = 0; i < nd; i++)
        v = v * 10 + (s[i] - '0');
    *value = v;
    *digits = (int)nd;
    return 0;
}

/* "thumbs", "thumbs/thumbs.vtt", "thumbs/NNNNN.jpg". */
static int parse_thumbs(const char *const *comp, const size_t *clen, int n,
                        int trailing, struct vnode *v)
{
    if (n == 1) {
        v->kind = VN_THUMB_DIR;
        return 0;
    }
    if (n != 2 || trailing)
        return -ENOENT;
    if (eq(comp[1], clen[1], "thumbs.vtt")) {
        v->kind = VN_THUMB_INDEX;
        return 0;
    }
    if (parse_sprite(comp[1], clen[1], &v->segment, &v->seg_digits) == 0) {
        v->kind = VN_THUMB_SPRITE;
        return 0;
    }
    return -ENOENT;
}

/* "source." followed by exactly 'ext'; an empty or missing ext never
 * matches (a title's name always has one). */
static int is_source_name(const char *s, size_t n, const char *ext)
{
    size_t elen;

    if (!ext || ext[0] == '\0')
        return 0;
    elen = strlen(ext);
    return n == 7 + elen && memcmp(s, "source.", 7) == 0 &&
           memcmp(s + 7, ext, elen) == 0;
}

#define INNER_MAX_COMPONENTS 3

/* Below "subtitles": K/ (a track's folder), K.vtt, K/index.m3u8 and
 * K/NNNNN.vtt; comp[0] is "subtitles". */
static int parse_subtitles(const char *const *comp, const size_t *clen, int n,
                           int trailing, struct vnode *out)
{
    struct vnode v;
    long seg = 0;
    int digits = 0;

    memset(&v, 0, sizeof(v));
    v.rkind = REND_SUBTITLE;
    if (n == 1) {
        v.kind = VN_KIND_DIR;
        *out = v;
        return 0;
    }
    size_t k = clen[1];
    if (n == 2 && !trailing && k > 4 && !memcmp(comp[1] + k - 4, ".vtt", 4) &&
        is_audio_index(comp[1], k - 4)) {
        v.kind = VN_SUBTITLE_FILE;
        memcpy(v.rend, comp[1], k - 4);
        v.rend[k - 4] = '\0';
        *out = v;
        return 0;
    }
    if (!is_audio_index(comp[1], k))
        return -ENOENT;
    memcpy(v.rend, comp[1], k);
    v.rend[k] = '\0';
    if (n == 2) {
        v.kind = VN_REND_DIR;
    } else if (trailing) {
        return -ENOENT;
    } else if (eq(comp[2], clen[2], "index.m3u8")) {
        v.kind = VN_PLAYLIST;
    } else if (clen[2] > 4 && !memcmp(comp[2] + clen[2] - 4, ".vtt", 4) &&
               clen[2] - 4 >= SEG_DIGITS_MIN && clen[2] - 4 <= SEG_DIGITS_MAX &&
               all_digits(comp[2], clen[2] - 4)) {
        for (size_t i = 0; i < clen[2] - 4; i++)
            seg = seg * 10 + (comp[2][i] - '0');
        digits = (int)(clen[2] - 4);
        v.kind = VN_SEGMENT;
        v.segment = seg;
        v.seg_digits = digits;
    } else {
        return -ENOENT;
    }
    *out = v;
    return 0;
}

int vpath_parse_inner(const char *inner, const char *source_ext,
                      struct vnode *out)
{
    const char *comp[INNER_MAX_COMPONENTS];
    size_t clen[INNER_MAX_COMPONENTS];
    int n = 0, trailing = 0;
    const char *p;
    struct vnode v;

    if (!inner || !out)
        return -EINVAL;
    memset(&v, 0, sizeof(v));

    if (inner[0] == '\0' || (inner[0] == '/' && inner[1] == '\0')) {
        v.kind = VN_TITLE_DIR;
        *out = v;
        return 0;
    }
    if (inner[0] != '/')
        return -ENOENT;

    /* Split into components; an empty one ("//") is an error, except that
     * a single trailing slash is noted for the directory check below. */
    p = inner + 1;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);

        if (len == 0 || n == INNER_MAX_COMPONENTS)
            return -ENOENT;
        comp[n] = p;
        clen[n] = len;
        n++;
        if (!end)
            break;
        if (end[1] == '\0') {
            trailing = 1;
            break;
        }
        p = end + 1;
    }

    if (eq(comp[0], clen[0], "subtitles"))
        return parse_subtitles(comp, clen, n, trailing, out);
    if (eq(comp[0], clen[0], "thumbs")) {
        int ret = parse_thumbs(comp, clen, n, trailing, &v);
        if (ret == 0)
            *out = v;
        return ret;
    }
    if (n == 1) {
        if (eq(comp[0], clen[0], "video") || eq(comp[0], clen[0], "audio")) {
            v.kind = VN_KIND_DIR;
            v.rkind = comp[0][0] == 'v' ? REND_VIDEO : REND_AUDIO;
        } else if (trailing) {
            return -ENOENT;
        } else if (eq(comp[0], clen[0], "master.m3u8")) {
            v.kind = VN_MASTER;
        } else if (eq(comp[0], clen[0], "ERROR")) {
            v.kind = VN_ERROR;
        } else if (is_source_name(comp[0], clen[0], source_ext)) {
            v.kind = VN_SOURCE;
        } else {
            return -ENOENT;
        }
        *out = v;
        return 0;
    }

    if (eq(comp[0], clen[0], "video")) {
        if (!is_rend_name(comp[1], clen[1]))
            return -ENOENT;
        v.rkind = REND_VIDEO;
    } else if (eq(comp[0], clen[0], "audio")) {
        if (!is_audio_name(comp[1], clen[1]))
            return -ENOENT;
        v.rkind = REND_AUDIO;
    } else {
        return -ENOENT;
    }
    memcpy(v.rend, comp[1], clen[1]); /* clen[1] < VPATH_NAME_MAX */
    v.rend[clen[1]] = '\0';

    if (n == 2) {
        v.kind = VN_REND_DIR;
    } else if (trailing) {
        return -ENOENT;
    } else if (eq(comp[2], clen[2], "index.m3u8")) {
        v.kind = VN_PLAYLIST;
    } else if (eq(comp[2], clen[2], "init.mp4")) {
        v.kind = VN_INIT;
    } else if (parse_segment(comp[2], clen[2], &v.segment,
                             &v.seg_digits, &v.m4s) == 0) {
        v.kind = VN_SEGMENT;
    } else {
        return -ENOENT;
    }
    *out = v;
    return 0;
}

int vpath_segment_digits(long count)
{
    long last;
    int digits = 1;

    if (count <= 1)
        return SEG_DIGITS_MIN;
    for (last = count - 1; last >= 10; last /= 10)
        digits++;
    return digits > SEG_DIGITS_MIN ? digits : SEG_DIGITS_MIN;
}

/* "DIGITS.EXT" for index of count: the length written (without the NUL),
 * -EINVAL for a negative index, or -ENAMETOOLONG when buf (size bytes) is
 * too small. */
static int numbered_name(char *buf, size_t size, long index, long count, const char *ext)
{
    int len;

    if (index < 0 || (!buf && size > 0))
        return -EINVAL;
    len = snprintf(buf, size, "%0*ld.%s", vpath_segment_digits(count), index, ext);
    if (len < 0)
        return -EINVAL;
    if ((size_t)len >= size)
        return -ENAMETOOLONG;
    return len;
}

int vpath_segment_name(char *buf, size_t size, long index, long count)
{
    return numbered_name(buf, size, index, count, "ts");
}

int vpath_sprite_name(char *buf, size_t size, long index, long count)
{
    return numbered_name(buf, size, index, count, "jpg");
}

int vpath_segment_name_as(char *buf, size_t size, long index, long count, int m4s)
{
    return numbered_name(buf, size, index, count, m4s ? "m4s" : "ts");
}
