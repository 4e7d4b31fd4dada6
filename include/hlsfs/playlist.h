/*
 * playlist: m3u8 text for one title (pure, no I/O, no libav).
 */
#ifndef HLSFS_PLAYLIST_H
#define HLSFS_PLAYLIST_H

#include <stddef.h>
#include <stdint.h>

/* A VOD media playlist. durations_ms: one per segment. Returns a malloc'd
 * NUL-terminated text, or NULL on allocation failure. */
char *playlist_media(const int64_t *durations_ms, long count);

struct playlist_audio {
    const char *group;      /* GROUP-ID                        */
    const char *language;   /* NULL or "" when unknown         */
    const char *name;       /* NAME                            */
    int         is_default; /* DEFAULT=YES / NO                */
    int         channels;   /* CHANNELS                        */
    const char *uri;        /* "audio/0/index.m3u8"            */
};

struct playlist_variant {
    uint64_t    bandwidth;      /* peak bit/s, audio included  */
    uint64_t    avg_bandwidth;  /* average bit/s               */
    int         width, height;
    double      frame_rate;     /* 0 when unknown              */
    const char *codecs;         /* "avc1.64001f,mp4a.40.2"     */
    const char *audio_group;    /* NULL when no audio          */
    const char *uri;            /* "video/original/index.m3u8" */
};

char *playlist_master(const struct playlist_variant *variants, int nvariants,
                      const struct playlist_audio *audios, int naudios);

/* A media playlist of WebVTT segments ("00000.vtt" ...), otherwise as
 * playlist_media. */
char *playlist_subtitle_media(const int64_t *durations_ms, long count);

struct playlist_subtitle {
    const char *language;   /* NULL or "" when unknown         */
    const char *name;       /* NAME                            */
    int         is_default; /* DEFAULT=YES / NO                */
    int         forced;     /* FORCED=YES / NO                 */
    int         sdh;        /* CHARACTERISTICS for the deaf    */
    const char *uri;        /* "subtitles/0/index.m3u8"        */
};

/* A master playlist (playlist_master's text) with a SUBTITLES group
 * 'group' of nsubs renditions, listed before the first variant, and
 * SUBTITLES="group" on every EXT-X-STREAM-INF. Returns a malloc'd text,
 * or NULL (no memory, or a NULL name or uri). */
char *playlist_master_subtitles(const char *master, const struct playlist_subtitle *subs,
                                int nsubs, const char *group);

#endif
