/*
 * playlist.c -- owns the m3u8 text of a title: the VOD media playlist of a
 * rendition and the multivariant (master) playlist. Pure: no I/O, no
 * libav; the only dependency is vpath.c for segment names.
 *
 * Numbers are formatted with integer arithmetic only (EXTINF from ms,
 * FRAME-RATE from rounded thousandths), so the text does not depend on
 * LC_NUMERIC: a locale with a decimal comma must not break a playlist.
 */
#include "hlsfs/playlist.h"
#include "hlsfs/vpath.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing NUL-terminated text. 'failed' is sticky: once an allocation
 * fails every append is a no-op and sb_finish() returns NULL. */
struct sbuf {
    char  *buf;
    size_t len, cap;
    int    failed;
};

static int sb_reserve(struct sbuf *sb, size_t extra)
{
    size_t need, cap;
    char *nbuf;

    if (sb->failed)
        return -1;
    if (extra > SIZE_MAX - sb->len - 1)
        goto fail;
    need = sb->len + extra + 1;
    if (need <= sb->cap)
        return 0;
    cap = sb->cap ? sb->cap : 1024;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    nbuf = realloc(sb->buf, cap);
    if (!nbuf)
        goto fail;
    sb->buf = nbuf;
    sb->cap = cap;
    return 0;
fail:
    sb->failed = 1;
    return -1;
}

__attribute__((format(printf, 2, 3)))
static void sb_printf(struct sbuf *sb, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        sb->failed = 1;
        return;
    }
    if (sb_reserve(sb, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

/*
 * Append s with every '"' and every byte below 0x20 (newline, tab, other
 * control characters) replaced by '_': names and languages come from the
 * source's metadata, and a quote would end an attribute value early while
 * a newline would start a new tag. Other bytes (UTF-8) pass unchanged.
 */
static void sb_put_clean(struct sbuf *sb, const char *s)
{
    size_t n = strlen(s), i;

    if (sb_reserve(sb, n) < 0)
        return;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        sb->buf[sb->len++] = (c == '"' || c < 0x20) ? '_' : (char)c;
    }
    sb->buf[sb->len] = '\0';
}

static char *sb_finish(struct sbuf *sb)
{
    if (sb->failed || sb_reserve(sb, 0) < 0) {
        free(sb->buf);
        sb->buf = NULL;
        return NULL;
    }
    return sb->buf;
}

/* A VOD media playlist of MPEG-TS segments, or of fMP4 ones (version 7,
 * EXT-X-MAP of init.mp4, .m4s names). */
static char *media_playlist(const int64_t *durations_ms, long count, int fmp4)
{
    struct sbuf sb = {0};
    int64_t max_ms = 0, target;
    char name[32];
    long i;

    if (count < 0 || (count > 0 && !durations_ms))
        return NULL;
    for (i = 0; i < count; i++) {
        if (durations_ms[i] < 0)
            return NULL;
        if (durations_ms[i] > max_ms)
            max_ms = durations_ms[i];
    }
    target = max_ms / 1000 + (max_ms % 1000 != 0);
    if (target < 1)
        target = 1;

    sb_printf(&sb, "#EXTM3U\n"
                   "#EXT-X-VERSION:%d\n"
                   "#EXT-X-PLAYLIST-TYPE:VOD\n"
                   "#EXT-X-INDEPENDENT-SEGMENTS\n"
                   "#EXT-X-TARGETDURATION:%lld\n"
                   "#EXT-X-MEDIA-SEQUENCE:0\n%s",
              fmp4 ? 7 : 3, (long long)target,
              fmp4 ? "#EXT-X-MAP:URI=\"init.mp4\"\n" : "");
    for (i = 0; i < count && !sb.failed; i++) {
        if (vpath_segment_name_as(name, sizeof(name), i, count, fmp4) < 0) {
            sb.failed = 1;
            break;
        }
        sb_printf(&sb, "#EXTINF:%lld.%03d,\n%s\n",
                  (long long)(durations_ms[i] / 1000),
                  (int)(durations_ms[i] % 1000), name);
    }
    sb_printf(&sb, "#EXT-X-ENDLIST\n");
    return sb_finish(&sb);
}

/* playlist_media with EXT-X-MAP and .m4s names; the same checks. */
char *playlist_media_fmp4(const int64_t *durations_ms, long count)
{
    return media_playlist(durations_ms, count, 1);
}

/* Returns NULL on allocation failure, or when count < 0, durations_ms is
 * NULL while count > 0, or a duration is negative. */
char *playlist_media(const int64_t *durations_ms, long count)
{
    return media_playlist(durations_ms, count, 0);
}

/* Returns NULL on allocation failure, for a negative count, a NULL array
 * with a positive count, or a NULL required string (audio group, name
 * and uri; variant uri). Optional parts are left out: LANGUAGE when the
 * language is NULL or "", CHANNELS when channels <= 0, RESOLUTION when
 * width or height <= 0, FRAME-RATE when the rate is 0 (or not a finite
 * positive number), CODECS when codecs is NULL or "", AUDIO when
 * audio_group is NULL. */
char *playlist_master(const struct playlist_variant *variants, int nvariants,
                      const struct playlist_audio *audios, int naudios)
{
    struct sbuf sb = {0};
    int i;

    if (nvariants < 0 || naudios < 0 || (nvariants > 0 && !variants) ||
        (naudios > 0 && !audios))
        return NULL;
    for (i = 0; i < naudios; i++) {
        if (!audios[i].group || !audios[i].name || !audios[i].uri)
            return NULL;
    }
    for (i = 0; i < nvariants; i++) {
        if (!variants[i].uri)
            return NULL;
    }

    sb_printf(&sb, "#EXTM3U\n"
                   "#EXT-X-VERSION:3\n"
                   "#EXT-X-INDEPENDENT-SEGMENTS\n");

    for (i = 0; i < naudios; i++) {
        const struct playlist_audio *a = &audios[i];

        sb_printf(&sb, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"");
        sb_put_clean(&sb, a->group);
        if (a->language && a->language[0] != '\0') {
            sb_printf(&sb, "\",LANGUAGE=\"");
            sb_put_clean(&sb, a->language);
        }
        sb_printf(&sb, "\",NAME=\"");
        sb_put_clean(&sb, a->name);
        sb_printf(&sb, "\",DEFAULT=%s,AUTOSELECT=YES",
                  a->is_default ? "YES" : "NO");
        if (a->channels > 0)
            sb_printf(&sb, ",CHANNELS=\"%d\"", a->channels);
        sb_printf(&sb, ",URI=\"");
        sb_put_clean(&sb, a->uri);
        sb_printf(&sb, "\"\n");
    }

    for (i = 0; i < nvariants; i++) {
        const struct playlist_variant *v = &variants[i];

        sb_printf(&sb, "#EXT-X-STREAM-INF:BANDWIDTH=%llu,"
                       "AVERAGE-BANDWIDTH=%llu",
                  (unsigned long long)v->bandwidth,
                  (unsigned long long)v->avg_bandwidth);
        if (v->width > 0 && v->height > 0)
            sb_printf(&sb, ",RESOLUTION=%dx%d", v->width, v->height);
        if (isfinite(v->frame_rate) && v->frame_rate > 0 &&
            v->frame_rate < 1e9) {
            long long milli = llround(v->frame_rate * 1000.0);
            sb_printf(&sb, ",FRAME-RATE=%lld.%03lld", milli / 1000,
                      milli % 1000);
        }
        if (v->codecs && v->codecs[0] != '\0') {
            sb_printf(&sb, ",CODECS=\"");
            sb_put_clean(&sb, v->codecs);
            sb_printf(&sb, "\"");
        }
        if (v->audio_group) {
            sb_printf(&sb, ",AUDIO=\"");
            sb_put_clean(&sb, v->audio_group);
            sb_printf(&sb, "\"");
        }
        if (v->video_range && v->video_range[0] != '\0') {
            sb_printf(&sb, ",VIDEO-RANGE=");
            sb_put_clean(&sb, v->video_range);
        }
        sb_printf(&sb, "\n");
        sb_put_clean(&sb, v->uri);
        sb_printf(&sb, "\n");
    }
    return sb_finish(&sb);
}

/* Like playlist_media, with "NNNNN.vtt" segments. */
char *playlist_subtitle_media(const int64_t *durations_ms, long count)
{
    struct sbuf sb = {0};
    int64_t max_ms = 0, target;
    long i;

    if (count < 0 || (count > 0 && !durations_ms))
        return NULL;
    for (i = 0; i < count; i++) {
        if (durations_ms[i] < 0)
            return NULL;
        if (durations_ms[i] > max_ms)
            max_ms = durations_ms[i];
    }
    target = max_ms / 1000 + (max_ms % 1000 != 0);
    if (target < 1)
        target = 1;
    sb_printf(&sb, "#EXTM3U\n"
                   "#EXT-X-VERSION:3\n"
                   "#EXT-X-PLAYLIST-TYPE:VOD\n"
                   "#EXT-X-INDEPENDENT-SEGMENTS\n"
                   "#EXT-X-TARGETDURATION:%lld\n"
                   "#EXT-X-MEDIA-SEQUENCE:0\n",
              (long long)target);
    for (i = 0; i < count && !sb.failed; i++)
        sb_printf(&sb, "#EXTINF:%lld.%03d,\n%0*ld.vtt\n",
                  (long long)(durations_ms[i] / 1000), (int)(durations_ms[i] % 1000),
                  vpath_segment_digits(count), i);
    sb_printf(&sb, "#EXT-X-ENDLIST\n");
    return sb_finish(&sb);
}

char *playlist_master_subtitles(const char *master, const struct playlist_subtitle *subs,
                                int nsubs, const char *group)
{
    struct sbuf sb = {0};
    const char *p = master, *first_stream;
    int i;

    if (!master || nsubs < 0 || (nsubs > 0 && (!subs || !group)))
        return NULL;
    for (i = 0; i < nsubs; i++)
        if (!subs[i].name || !subs[i].uri)
            return NULL;
    /* the subtitle group before the first variant, and every variant
     * names it */
    first_stream = strstr(master, "#EXT-X-STREAM-INF:");
    if (!first_stream)
        first_stream = master + strlen(master);
    sb_reserve(&sb, 0);
    if (sb_reserve(&sb, (size_t)(first_stream - master)) == 0) {
        memcpy(sb.buf, master, (size_t)(first_stream - master));
        sb.len = (size_t)(first_stream - master);
        sb.buf[sb.len] = '\0';
    }
    for (i = 0; i < nsubs; i++) {
        const struct playlist_subtitle *s = &subs[i];
        sb_printf(&sb, "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"");
        sb_put_clean(&sb, group);
        if (s->language && s->language[0] != '\0') {
            sb_printf(&sb, "\",LANGUAGE=\"");
            sb_put_clean(&sb, s->language);
        }
        sb_printf(&sb, "\",NAME=\"");
        sb_put_clean(&sb, s->name);
        sb_printf(&sb, "\",DEFAULT=%s,AUTOSELECT=YES,FORCED=%s",
                  s->is_default ? "YES" : "NO", s->forced ? "YES" : "NO");
        if (s->sdh)
            sb_printf(&sb, ",CHARACTERISTICS=\"public.accessibility.transcribes-spoken-dialog,"
                           "public.accessibility.describes-music-and-sound\"");
        sb_printf(&sb, ",URI=\"");
        sb_put_clean(&sb, s->uri);
        sb_printf(&sb, "\"\n");
    }
    for (p = first_stream; *p && !sb.failed;) {
        size_t n = strcspn(p, "\n");
        int is_stream = !strncmp(p, "#EXT-X-STREAM-INF:", 18);
        if (sb_reserve(&sb, n) == 0) {
            memcpy(sb.buf + sb.len, p, n);
            sb.len += n;
            sb.buf[sb.len] = '\0';
        }
        if (is_stream && nsubs) {
            sb_printf(&sb, ",SUBTITLES=\"");
            sb_put_clean(&sb, group);
            sb_printf(&sb, "\"");
        }
        p += n;
        if (*p == '\n') {
            sb_printf(&sb, "\n");
            p++;
        }
    }
    return sb_finish(&sb);
}
