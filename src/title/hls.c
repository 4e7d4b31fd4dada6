/*
 * hls: a title's HLS text: the media playlist of each rendition and the
 * master playlist (through playlist.c's m3u8 writer), the BANDWIDTH and
 * AVERAGE-BANDWIDTH of each rendition from its planned sizes, and the
 * language tags HLS wants. Made after building a title and after reading
 * its record: none of it is stored.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hlsfs/hls.h"
#include "hlsfs/playlist.h"
#include "hlsfs/subtitle.h"
#include "hlsfs/title.h"
#include "hlsfs/trick.h"

/* ISO 639-2 (as containers store it) to the RFC 5646 tag HLS wants. */
const char *hls_language_tag(const char *lang)
{
    static const char *const map[][2] = {
        { "eng", "en" }, { "fra", "fr" }, { "fre", "fr" }, { "deu", "de" },
        { "ger", "de" }, { "spa", "es" }, { "ita", "it" }, { "por", "pt" },
        { "rus", "ru" }, { "jpn", "ja" }, { "zho", "zh" }, { "chi", "zh" },
        { "kor", "ko" }, { "nld", "nl" }, { "dut", "nl" }, { "swe", "sv" },
        { "nor", "no" }, { "dan", "da" }, { "fin", "fi" }, { "pol", "pl" },
        { "tur", "tr" }, { "ara", "ar" }, { "hin", "hi" }, { "ces", "cs" },
        { "cze", "cs" }, { "ell", "el" }, { "gre", "el" }, { "heb", "he" },
        { "hun", "hu" }, { "ukr", "uk" },
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcmp(lang, map[i][0]))
            return map[i][1];
    return lang;
}

static void rendition_rates(struct title *t, struct title_rendition *r)
{
    uint64_t total = 0;
    int64_t total_ms = 0;
    r->peak_bps = 0;
    for (long i = 0; i < t->nseg; i++) {
        int64_t ms = title_segment_ms(t, i);
        total += r->sizes[i];
        total_ms += ms;
        if (ms > 0) {
            uint64_t bps = (r->sizes[i] * 8000 + (uint64_t)ms - 1) / (uint64_t)ms;
            if (bps > r->peak_bps)
                r->peak_bps = bps;
        }
    }
    r->avg_bps = total_ms > 0 ? (total * 8000 + (uint64_t)total_ms - 1) / (uint64_t)total_ms : 0;
}

/* The master playlist: every video rendition a variant, every audio
 * rendition a member of one group (as many as the title has). */
static int make_master(struct title *t)
{
    struct master_text {
        char uri[VPATH_NAME_MAX + 32];
        char codecs[80];
    };
    size_t n = t->nrends > 0 ? (size_t)t->nrends : 1;
    struct playlist_audio *audios = calloc(n, sizeof(*audios));
    struct playlist_variant *variants = calloc(n, sizeof(*variants));
    struct master_text *text = calloc(n, sizeof(*text));
    int naudio = 0, nvideo = 0, default_done = 0, ret = 0;
    uint64_t audio_peak = 0, audio_avg = 0;

    if (!audios || !variants || !text) {
        ret = -ENOMEM;
        goto done;
    }
    for (int i = 0; i < t->nrends; i++) {
        struct title_rendition *r = &t->rends[i];
        if (r->kind != REND_AUDIO)
            continue;
        snprintf(text[i].uri, sizeof(text[i].uri), "audio/%s/index.m3u8", r->name);
        int is_default = r->is_default && !default_done;
        default_done |= is_default;
        audios[naudio] = (struct playlist_audio){
            .group = "audio", .language = r->language, .name = r->label,
            .is_default = is_default, .channels = r->channels, .uri = text[i].uri,
        };
        naudio++;
        if (r->peak_bps > audio_peak)
            audio_peak = r->peak_bps;
        if (r->avg_bps > audio_avg)
            audio_avg = r->avg_bps;
    }
    if (naudio && !default_done)
        audios[0].is_default = 1;
    const char *audio_codecs = NULL;
    for (int i = 0; i < t->nrends; i++)
        if (t->rends[i].kind == REND_AUDIO) {
            audio_codecs = t->rends[i].codecs;
            break;
        }
    for (int i = 0; i < t->nrends; i++) {
        struct title_rendition *r = &t->rends[i];
        if (r->kind != REND_VIDEO)
            continue;
        snprintf(text[i].uri, sizeof(text[i].uri), "video/%s/index.m3u8", r->name);
        if (audio_codecs)
            snprintf(text[i].codecs, sizeof(text[i].codecs), "%s,%s", r->codecs,
                     audio_codecs);
        else
            snprintf(text[i].codecs, sizeof(text[i].codecs), "%s", r->codecs);
        variants[nvideo] = (struct playlist_variant){
            .bandwidth = r->peak_bps + audio_peak,
            .avg_bandwidth = r->avg_bps + audio_avg,
            .width = r->width, .height = r->height, .frame_rate = t->frame_rate,
            .codecs = text[i].codecs, .audio_group = naudio ? "audio" : NULL,
            .uri = text[i].uri,
        };
        nvideo++;
    }
    if (!(t->master = playlist_master(variants, nvideo, audios, naudio)))
        ret = -ENOMEM;
    else
        t->master_len = strlen(t->master);
done:
    free(audios);
    free(variants);
    free(text);
    return ret;
}

/* The subtitle timing of a title, for subtitle_vtt. */
void hls_subtitle_timing(const struct title *t, struct subtitle_timing *tm)
{
    tm->nseg = t->nseg;
    tm->start_ms = t->start_ms;
    tm->origin_ms = av_rescale_q(t->bounds[0], t->tb, (AVRational){ 1, 1000 });
    tm->mpegts = (av_rescale_q(t->bounds[0], t->tb, (AVRational){ 1, 90000 }) +
                  SUBTITLE_TS_OFFSET) & ((INT64_C(1) << 33) - 1);
}

/* Each subtitle track's sizes and media playlist, and the master's
 * SUBTITLES group (at most one DEFAULT=YES: the first marked so). */
static int make_subtitles(struct title *t, const int64_t *ms)
{
    struct subtitle_timing tm;
    struct playlist_subtitle *subs;
    char (*uri)[48];
    int ret = 0, default_done = 0;

    if (!t->nsubs)
        return 0;
    hls_subtitle_timing(t, &tm);
    subs = calloc((size_t)t->nsubs, sizeof(*subs));
    uri = calloc((size_t)t->nsubs, sizeof(*uri));
    if (!subs || !uri) {
        ret = -ENOMEM;
        goto done;
    }
    for (int i = 0; i < t->nsubs; i++) {
        struct subtitle_track *s = t->subs[i];
        if ((ret = subtitle_derive(s, &tm, ms)) < 0)
            goto done;
        snprintf(uri[i], sizeof(uri[i]), "subtitles/%d/index.m3u8", i);
        int is_default = s->is_default && !default_done;
        default_done |= is_default;
        subs[i] = (struct playlist_subtitle){
            .language = s->language[0] ? hls_language_tag(s->language) : NULL,
            .name = s->name, .is_default = is_default, .forced = s->forced,
            .sdh = s->sdh, .uri = uri[i],
        };
    }
    char *master = playlist_master_subtitles(t->master, subs, t->nsubs, "subs");
    if (!master) {
        ret = -ENOMEM;
        goto done;
    }
    free(t->master);
    t->master = master;
    t->master_len = strlen(master);
done:
    free(subs);
    free(uri);
    return ret;
}

int hls_make_playlists(struct title *t)
{
    int64_t *ms = malloc((size_t)t->nseg * sizeof(*ms));

    if (!ms)
        return -ENOMEM;
    if (!(t->start_ms = malloc(((size_t)t->nseg + 1) * sizeof(*t->start_ms)))) {
        free(ms);
        return -ENOMEM;
    }
    t->start_ms[0] = 0;
    for (long i = 0; i < t->nseg; i++) {
        ms[i] = title_segment_ms(t, i);
        t->start_ms[i + 1] = t->start_ms[i] + ms[i];
    }
    for (int i = 0; i < t->nrends; i++) {
        struct title_rendition *r = &t->rends[i];
        rendition_rates(t, r);
        if (!(r->playlist = playlist_media(ms, t->nseg))) {
            free(ms);
            return -ENOMEM;
        }
        r->playlist_len = strlen(r->playlist);
    }
    int ret = make_master(t);
    if (ret == 0)
        ret = make_subtitles(t, ms);
    free(ms);
    return ret < 0 ? ret : trick_make(t);
}
