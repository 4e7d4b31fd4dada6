/*
 * subtitle: text subtitles as WebVTT: reading a source's text subtitle
 * streams and the sidecar files beside it into cues, and writing the
 * WebVTT files of a track from its cues (subtitle.h).
 *
 * Every text format goes the same way: libavcodec's decoder for it
 * (subrip, ass, mov_text, webvtt) gives each cue as an ASS event, whose
 * text is turned into WebVTT cue text here (bold, italic and underline
 * kept, the rest of ASS's overrides dropped, & < > escaped). A sidecar
 * file is first made UTF-8 (subtitle_to_utf8), then read by libavformat's
 * demuxer for its format from memory. What is kept is only the cues; the
 * WebVTT text of a segment or of the whole track is made from them by
 * one writer (subtitle_vtt), which both counts the sizes and makes the
 * bytes, so that the two cannot differ.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/mem.h>

#include "hlsfs/log.h"
#include "hlsfs/playlist.h"
#include "hlsfs/subtitle.h"

/* ---- codecs -------------------------------------------------------------- */

int subtitle_codec_is_text(int codec_id)
{
    switch (codec_id) {
    case AV_CODEC_ID_SUBRIP:
    case AV_CODEC_ID_TEXT:
    case AV_CODEC_ID_ASS:
    case AV_CODEC_ID_SSA:
    case AV_CODEC_ID_MOV_TEXT:
    case AV_CODEC_ID_WEBVTT:
        return 1;
    default:
        return 0;
    }
}

int subtitle_codec_is_bitmap(int codec_id)
{
    switch (codec_id) {
    case AV_CODEC_ID_HDMV_PGS_SUBTITLE:
    case AV_CODEC_ID_DVB_SUBTITLE:
    case AV_CODEC_ID_DVD_SUBTITLE:
    case AV_CODEC_ID_XSUB:
        return 1;
    default:
        return 0;
    }
}

/* ---- tracks -------------------------------------------------------------- */

struct subtitle_track *subtitle_track_new(void)
{
    return calloc(1, sizeof(struct subtitle_track));
}

int subtitle_track_add(struct subtitle_track *t, int64_t start_ms, int64_t end_ms,
                       const char *text)
{
    size_t n = strlen(text);
    if (!n || t->ncues >= SUBTITLE_CUES_MAX)
        return 0;
    if (n > SUBTITLE_TEXT_MAX)
        n = SUBTITLE_TEXT_MAX;
    if (t->ncues == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        struct subtitle_cue *c = realloc(t->cues, cap * sizeof(*c));
        if (!c)
            return -ENOMEM;
        t->cues = c;
        t->cap = cap;
    }
    char *copy = malloc(n + 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, text, n);
    copy[n] = '\0';
    /* cut short: not in the middle of a UTF-8 sequence */
    if (n < strlen(text)) {
        size_t k = n;
        while (k > 0 && ((unsigned char)copy[k - 1] & 0xc0) == 0x80)
            k--;
        if (k > 0 && ((unsigned char)copy[k - 1] & 0x80))
            copy[k - 1] = '\0';
    }
    t->cues[t->ncues++] = (struct subtitle_cue){ start_ms, end_ms, copy };
    return 0;
}

void subtitle_track_free(struct subtitle_track **pt)
{
    struct subtitle_track *t = pt ? *pt : NULL;
    if (!t)
        return;
    for (size_t i = 0; i < t->ncues; i++)
        free(t->cues[i].text);
    free(t->cues);
    free(t->sizes);
    free(t->playlist);
    free(t);
    *pt = NULL;
}

static int cue_order(const void *a, const void *b)
{
    const struct subtitle_cue *x = *(const struct subtitle_cue *const *)a;
    const struct subtitle_cue *y = *(const struct subtitle_cue *const *)b;
    if (x->start_ms != y->start_ms)
        return x->start_ms < y->start_ms ? -1 : 1;
    return x < y ? -1 : x > y;      /* stable: the order they came in */
}

void subtitle_track_normalize(struct subtitle_track *t)
{
    size_t n = t->ncues, k = 0;
    if (!n)
        return;
    struct subtitle_cue **order = malloc(n * sizeof(*order));
    struct subtitle_cue *sorted = malloc(n * sizeof(*sorted));
    if (order && sorted) {
        for (size_t i = 0; i < n; i++)
            order[i] = &t->cues[i];
        qsort(order, n, sizeof(*order), cue_order);
        for (size_t i = 0; i < n; i++)
            sorted[i] = *order[i];
        memcpy(t->cues, sorted, n * sizeof(*sorted));
    }
    /* without memory the cues stay in the order they came: still valid */
    free(order);
    free(sorted);
    /* first the cues that end before they start go, then open ends */
    for (size_t i = 0; i < n; i++) {
        struct subtitle_cue *c = &t->cues[i];
        if (c->end_ms != SUBTITLE_END_OPEN && c->end_ms <= c->start_ms)
            free(c->text);
        else
            t->cues[k++] = *c;
    }
    n = k;
    k = 0;
    for (size_t i = 0; i < n; i++) {
        struct subtitle_cue *c = &t->cues[i];
        if (c->end_ms == SUBTITLE_END_OPEN) {
            /* open: until the next cue that starts later, at most a while */
            int64_t end = c->start_ms + SUBTITLE_OPEN_END_MS;
            for (size_t j = i + 1; j < n; j++)
                if (t->cues[j].start_ms > c->start_ms) {
                    if (t->cues[j].start_ms < end)
                        end = t->cues[j].start_ms;
                    break;
                }
            c->end_ms = end;
        }
        if (c->end_ms <= c->start_ms) {
            free(c->text);
            continue;
        }
        t->cues[k++] = *c;
    }
    t->ncues = k;
}

/* ---- language names ------------------------------------------------------- */

static const char *const languages[][3] = {
    { "eng", "en", "English" },    { "fra", "fr", "French" },
    { "fre", "fr", "French" },     { "deu", "de", "German" },
    { "ger", "de", "German" },     { "spa", "es", "Spanish" },
    { "ita", "it", "Italian" },    { "por", "pt", "Portuguese" },
    { "rus", "ru", "Russian" },    { "jpn", "ja", "Japanese" },
    { "zho", "zh", "Chinese" },    { "chi", "zh", "Chinese" },
    { "kor", "ko", "Korean" },     { "nld", "nl", "Dutch" },
    { "dut", "nl", "Dutch" },      { "swe", "sv", "Swedish" },
    { "nor", "no", "Norwegian" },  { "dan", "da", "Danish" },
    { "fin", "fi", "Finnish" },    { "pol", "pl", "Polish" },
    { "tur", "tr", "Turkish" },    { "ara", "ar", "Arabic" },
    { "hin", "hi", "Hindi" },      { "ces", "cs", "Czech" },
    { "cze", "cs", "Czech" },      { "ell", "el", "Greek" },
    { "gre", "el", "Greek" },      { "heb", "he", "Hebrew" },
    { "hun", "hu", "Hungarian" },  { "ukr", "uk", "Ukrainian" },
};

/* The English name of a language code (ISO 639-1 or -2, a region after
 * it ignored), or NULL. */
static const char *language_name(const char *code)
{
    char base[4];
    size_t n = strcspn(code, "-_");
    if (n < 2 || n > 3)
        return NULL;
    for (size_t i = 0; i < n; i++)
        base[i] = (char)tolower((unsigned char)code[i]);
    base[n] = '\0';
    for (size_t i = 0; i < sizeof(languages) / sizeof(languages[0]); i++)
        if (!strcmp(base, languages[i][0]) || !strcmp(base, languages[i][1]))
            return languages[i][2];
    return NULL;
}

void subtitle_name_tracks(struct subtitle_track **tracks, int n)
{
    for (int i = 0; i < n; i++) {
        struct subtitle_track *t = tracks[i];
        if (!t->name[0]) {
            const char *lang = t->language[0] ? language_name(t->language) : NULL;
            snprintf(t->name, sizeof(t->name), "%s%s%s",
                     lang ? lang : t->language[0] ? t->language : "Subtitles",
                     t->forced ? " (forced)" : "", t->sdh ? " (SDH)" : "");
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(tracks[j]->name, t->name)) {
                char tmp[sizeof(t->name)];
                snprintf(tmp, sizeof(tmp), "%.50s %d", t->name, i + 1);
                memcpy(t->name, tmp, sizeof(tmp));
                j = -1;             /* check the new name against all */
            }
    }
}

/* ---- ASS text to WebVTT ------------------------------------------------- */

struct tbuf { char *p; size_t len, cap; int err; };

static void tb_put(struct tbuf *b, const char *s, size_t n)
{
    if (b->err)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 128;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->err = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void tb_str(struct tbuf *b, const char *s)
{
    tb_put(b, s, strlen(s));
}

enum { STYLE_B, STYLE_I, STYLE_U, NSTYLES };

struct styles {
    int on[NSTYLES];            /* wanted                               */
    int open[NSTYLES];          /* tags open in the output, in order    */
    int nopen;
};

/* Make the open tags what is wanted: close all that differ, reopen. */
static void sync_styles(struct tbuf *b, struct styles *s)
{
    static const char *const tag[NSTYLES] = { "b", "i", "u" };
    int keep = 0;
    while (keep < s->nopen && s->on[s->open[keep]])
        keep++;
    for (int k = s->nopen - 1; k >= keep; k--) {
        tb_str(b, "</");
        tb_str(b, tag[s->open[k]]);
        tb_str(b, ">");
    }
    s->nopen = keep;
    for (int st = 0; st < NSTYLES; st++) {
        int is_open = 0;
        for (int k = 0; k < s->nopen; k++)
            is_open |= s->open[k] == st;
        if (s->on[st] && !is_open) {
            tb_str(b, "<");
            tb_str(b, tag[st]);
            tb_str(b, ">");
            s->open[s->nopen++] = st;
        }
    }
}

/* One override block's text, between { and }: bold, italic, underline,
 * drawing mode, reset. */
static void override_block(const char *p, const char *end, struct styles *s,
                           int *drawing)
{
    while (p < end) {
        if (*p++ != '\\')
            continue;
        const char *tag = p;
        while (p < end && *p != '\\')
            p++;
        size_t n = (size_t)(p - tag);
        if (n >= 1 && (tag[0] == 'b' || tag[0] == 'i' || tag[0] == 'u') &&
            (n == 1 || isdigit((unsigned char)tag[1]))) {
            long v = n > 1 ? strtol(tag + 1, NULL, 10) : 0;
            int st = tag[0] == 'b' ? STYLE_B : tag[0] == 'i' ? STYLE_I : STYLE_U;
            s->on[st] = v != 0;
        } else if (n >= 2 && tag[0] == 'p' && isdigit((unsigned char)tag[1])) {
            *drawing = strtol(tag + 1, NULL, 10) > 0;
        } else if (n >= 1 && tag[0] == 'r') {
            memset(s->on, 0, sizeof(s->on));
        }
    }
}

char *subtitle_ass_to_vtt(const char *ass, int fields)
{
    struct tbuf b = { 0 }, out = { 0 };
    struct styles s = { 0 };
    const char *p = ass;
    int drawing = 0, visible = 0;

    /* the text is after the eighth comma of an event */
    for (int k = 0; fields && k < 8 && p; k++) {
        p = strchr(p, ',');
        p = p ? p + 1 : NULL;
    }
    tb_put(&b, "", 0);
    for (; p && *p; p++) {
        if (*p == '{') {
            const char *end = strchr(p, '}');
            if (end) {
                override_block(p + 1, end, &s, &drawing);
                p = end;
                continue;
            }
        }
        if (*p == '\\' && (p[1] == 'N' || p[1] == 'n' || p[1] == 'h')) {
            if (!drawing)
                tb_str(&b, p[1] == 'h' ? " " : "\n");
            p++;
            continue;
        }
        if (drawing || *p == '\r')
            continue;
        if (*p == '\n') {
            tb_str(&b, "\n");
            continue;
        }
        sync_styles(&b, &s);
        if (*p == '&')
            tb_str(&b, "&amp;");
        else if (*p == '<')
            tb_str(&b, "&lt;");
        else if (*p == '>')
            tb_str(&b, "&gt;");
        else
            tb_put(&b, p, 1);
        if (!isspace((unsigned char)*p))
            visible = 1;
    }
    memset(s.on, 0, sizeof(s.on));
    sync_styles(&b, &s);
    if (b.err) {
        free(b.p);
        return NULL;
    }
    /* no blank line inside a cue (it would end it), none at its ends */
    tb_put(&out, "", 0);
    for (const char *line = b.p; visible && *line;) {
        size_t n = strcspn(line, "\n");
        int blank = 1;
        for (size_t i = 0; i < n; i++)
            blank &= isspace((unsigned char)line[i]) != 0;
        if (!blank) {
            if (out.len)
                tb_str(&out, "\n");
            tb_put(&out, line, n);
        }
        line += n + (line[n] == '\n');
    }
    free(b.p);
    if (out.err) {
        free(out.p);
        return NULL;
    }
    return out.p;
}

/* ---- readers --------------------------------------------------------------- */

struct subtitle_reader {
    AVCodecContext        *dec;
    AVRational             tb;
    struct subtitle_track *track;
    int                    failed;     /* packets that did not decode  */
};

void subtitle_reader_free(struct subtitle_reader **pr)
{
    struct subtitle_reader *r = pr ? *pr : NULL;
    if (!r)
        return;
    avcodec_free_context(&r->dec);
    subtitle_track_free(&r->track);
    free(r);
    *pr = NULL;
}

static void copy_text(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

int subtitle_reader_open(const AVStream *st, struct subtitle_reader **out)
{
    const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
    const AVDictionaryEntry *e;
    struct subtitle_reader *r;

    *out = NULL;
    if (!codec)
        return 0;
    if (!(r = calloc(1, sizeof(*r))) || !(r->track = subtitle_track_new()) ||
        !(r->dec = avcodec_alloc_context3(codec))) {
        subtitle_reader_free(&r);
        return -ENOMEM;
    }
    r->tb = st->time_base;
    if (avcodec_parameters_to_context(r->dec, st->codecpar) < 0) {
        subtitle_reader_free(&r);
        return -ENOMEM;
    }
    r->dec->pkt_timebase = st->time_base;
    if (avcodec_open2(r->dec, codec, NULL) < 0) {
        subtitle_reader_free(&r);
        return 0;
    }
    if ((e = av_dict_get(st->metadata, "language", NULL, 0)) && strcmp(e->value, "und"))
        copy_text(r->track->language, sizeof(r->track->language), e->value);
    if ((e = av_dict_get(st->metadata, "title", NULL, 0)))
        copy_text(r->track->name, sizeof(r->track->name), e->value);
    r->track->is_default = !!(st->disposition & AV_DISPOSITION_DEFAULT);
    r->track->forced = !!(st->disposition & AV_DISPOSITION_FORCED);
    r->track->sdh = !!(st->disposition & AV_DISPOSITION_HEARING_IMPAIRED);
    *out = r;
    return 0;
}

int subtitle_reader_packet(struct subtitle_reader *r, AVPacket *pkt)
{
    AVSubtitle sub;
    int got = 0, ret = 0;
    int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;

    if (ts == AV_NOPTS_VALUE || pkt->size <= 0)
        return 0;
    memset(&sub, 0, sizeof(sub));
    if (avcodec_decode_subtitle2(r->dec, &sub, &got, pkt) < 0 || !got) {
        r->failed += !got;
        return 0;
    }
    int64_t at = av_rescale_q(ts, r->tb, (AVRational){ 1, 1000 });
    if (at < -SUBTITLE_TIME_MAX_MS || at > SUBTITLE_TIME_MAX_MS) {
        avsubtitle_free(&sub);      /* a damaged timestamp */
        return 0;
    }
    int64_t start = at + sub.start_display_time, end = SUBTITLE_END_OPEN;
    if (sub.end_display_time > sub.start_display_time && sub.end_display_time != UINT32_MAX)
        end = at + sub.end_display_time;
    else if (pkt->duration > 0)
        end = at + av_rescale_q(pkt->duration, r->tb, (AVRational){ 1, 1000 });
    if (end != SUBTITLE_END_OPEN && end > start + SUBTITLE_CUE_MAX_MS)
        end = start + SUBTITLE_CUE_MAX_MS;
    struct tbuf text = { 0 };
    tb_put(&text, "", 0);
    for (unsigned i = 0; i < sub.num_rects; i++) {
        const AVSubtitleRect *rect = sub.rects[i];
        char *vtt = NULL;
        if (rect->type == SUBTITLE_ASS && rect->ass)
            vtt = subtitle_ass_to_vtt(rect->ass, 1);
        else if (rect->type == SUBTITLE_TEXT && rect->text)
            vtt = subtitle_ass_to_vtt(rect->text, 0);
        else
            continue;
        if (!vtt) {
            text.err = 1;
            break;
        }
        if (*vtt && text.len)
            tb_str(&text, "\n");
        tb_str(&text, vtt);
        free(vtt);
    }
    avsubtitle_free(&sub);
    if (text.err)
        ret = -ENOMEM;
    else if (text.len)
        ret = subtitle_track_add(r->track, start, end, text.p);
    free(text.p);
    return ret;
}

int subtitle_reader_finish(struct subtitle_reader **pr, struct subtitle_track **track)
{
    struct subtitle_reader *r = *pr;
    *track = NULL;
    subtitle_track_normalize(r->track);
    if (r->track->ncues) {
        *track = r->track;
        r->track = NULL;
    }
    subtitle_reader_free(pr);
    return 0;
}

/* ---- encodings ------------------------------------------------------------ */

static void put_utf8(struct tbuf *b, uint32_t c)
{
    char u[4];
    size_t n;
    if (c == 0)
        return;                     /* no NUL inside the text */
    if (c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        c = 0xfffd;
    if (c < 0x80) {
        u[0] = (char)c;
        n = 1;
    } else if (c < 0x800) {
        u[0] = (char)(0xc0 | (c >> 6));
        u[1] = (char)(0x80 | (c & 0x3f));
        n = 2;
    } else if (c < 0x10000) {
        u[0] = (char)(0xe0 | (c >> 12));
        u[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        u[2] = (char)(0x80 | (c & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | (c >> 18));
        u[1] = (char)(0x80 | ((c >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((c >> 6) & 0x3f));
        u[3] = (char)(0x80 | (c & 0x3f));
        n = 4;
    }
    tb_put(b, u, n);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
    size_t len;
    uint32_t c;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2, c = s[0] & 0x1f;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, c = s[0] & 0x0f;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, c = s[0] & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
        (len == 4 && (c < 0x10000 || c > 0x10ffff)))
        return 0;
    return len;
}

static void from_utf16(struct tbuf *b, const uint8_t *s, size_t n, int be)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        uint32_t c = be ? (uint32_t)s[i] << 8 | s[i + 1] : (uint32_t)s[i + 1] << 8 | s[i];
        if (c >= 0xd800 && c <= 0xdbff && i + 3 < n) {
            uint32_t lo = be ? (uint32_t)s[i + 2] << 8 | s[i + 3]
                             : (uint32_t)s[i + 3] << 8 | s[i + 2];
            if (lo >= 0xdc00 && lo <= 0xdfff) {
                c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
                i += 2;
            }
        }
        put_utf8(b, c);
    }
}

/* Windows-1252's characters for 0x80..0x9f (0: as Latin-1). */
static const uint16_t cp1252[32] = {
    0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
    0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017d, 0,
    0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
    0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178,
};

int subtitle_to_utf8(const uint8_t *in, size_t n, char **out, size_t *outlen)
{
    struct tbuf b = { 0 };
    size_t i = 0;
    int utf8 = 1;

    tb_put(&b, "", 0);
    if (n >= 2 && ((in[0] == 0xff && in[1] == 0xfe) || (in[0] == 0xfe && in[1] == 0xff))) {
        from_utf16(&b, in + 2, n - 2, in[0] == 0xfe);
        goto done;
    }
    if (n >= 3 && in[0] == 0xef && in[1] == 0xbb && in[2] == 0xbf)
        i = 3;
    /* UTF-16 without a mark: text with a zero in every other byte */
    if (i == 0 && n >= 4) {
        size_t zero_even = 0, zero_odd = 0;
        for (size_t k = 0; k + 1 < n; k += 2) {
            zero_even += in[k] == 0;
            zero_odd += in[k + 1] == 0;
        }
        if (zero_odd * 10 > n / 2 * 4 && zero_even * 10 < n / 2) {
            from_utf16(&b, in, n, 0);
            goto done;
        }
        if (zero_even * 10 > n / 2 * 4 && zero_odd * 10 < n / 2) {
            from_utf16(&b, in, n, 1);
            goto done;
        }
    }
    for (size_t k = i; k < n;) {
        size_t len = utf8_seq(in + k, n - k);
        if (!len) {
            utf8 = 0;
            break;
        }
        k += len;
    }
    for (size_t k = i; k < n; k++) {
        if (utf8) {
            if (in[k])
                tb_put(&b, (const char *)in + k, 1);
        } else if (in[k] >= 0x80 && in[k] <= 0x9f && cp1252[in[k] - 0x80]) {
            put_utf8(&b, cp1252[in[k] - 0x80]);
        } else {
            put_utf8(&b, in[k]);
        }
    }
done:
    if (b.err) {
        free(b.p);
        return -ENOMEM;
    }
    *out = b.p;
    *outlen = b.len;
    return 0;
}

/* ---- sidecar files --------------------------------------------------------- */

static int word_is(const char *w, size_t n, const char *lit)
{
    if (strlen(lit) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)w[i]) != lit[i])
            return 0;
    return 1;
}

/* "en", "eng", "pt-BR", "zh_Hant": letters, a region or script after. */
static int word_is_language(const char *w, size_t n)
{
    size_t k = 0;
    while (k < n && isalpha((unsigned char)w[k]))
        k++;
    if (k < 2 || k > 3)
        return 0;
    if (k == n)
        return 1;
    if (w[k] != '-' && w[k] != '_')
        return 0;
    size_t rest = n - k - 1;
    if (rest < 2 || rest > 4)
        return 0;
    for (size_t i = k + 1; i < n; i++)
        if (!isalnum((unsigned char)w[i]))
            return 0;
    return 1;
}

const char *subtitle_sidecar_kind(const char *stem, const char *name,
                                  char *language, size_t lsize, int *forced,
                                  int *sdh, int *is_default)
{
    static const char *const exts[] = { "srt", "vtt", "ass", "ssa" };
    size_t sl = strlen(stem), nl = strlen(name);
    const char *dot = strrchr(name, '.'), *ext = NULL;

    *forced = *sdh = *is_default = 0;
    if (lsize)
        language[0] = '\0';
    if (!sl || nl <= sl + 1 || strncmp(name, stem, sl) || name[sl] != '.' || !dot ||
        dot < name + sl)
        return NULL;
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
        if (word_is(dot + 1, strlen(dot + 1), exts[i]))
            ext = exts[i];
    if (!ext)
        return NULL;
    /* every word between says something, or it is another file's */
    for (const char *w = name + sl + 1; w < dot;) {
        size_t n = strcspn(w, ".");
        if (w + n > dot)
            n = (size_t)(dot - w);
        if (word_is(w, n, "forced") || word_is(w, n, "foreign"))
            *forced = 1;
        else if (word_is(w, n, "sdh") || word_is(w, n, "cc") || word_is(w, n, "hi"))
            *sdh = 1;
        else if (word_is(w, n, "default"))
            *is_default = 1;
        else if (word_is_language(w, n) && lsize && !language[0])
            snprintf(language, lsize, "%.*s", (int)n, w);
        else
            return NULL;
        w += n + 1;
    }
    /* "hi" alone is Hindi, not hearing impaired */
    if (*sdh && !language[0] && strstr(name + sl, ".hi.") && lsize > 2) {
        snprintf(language, lsize, "hi");
        *sdh = 0;
    }
    return ext;
}

struct membuf { const uint8_t *p; size_t len, pos; };

static int mem_read(void *opaque, uint8_t *buf, int size)
{
    struct membuf *m = opaque;
    size_t n = m->len - m->pos;
    if (!n)
        return AVERROR_EOF;
    if (n > (size_t)size)
        n = (size_t)size;
    memcpy(buf, m->p + m->pos, n);
    m->pos += n;
    return (int)n;
}

static int64_t mem_seek(void *opaque, int64_t off, int whence)
{
    struct membuf *m = opaque;
    int64_t to;
    if (whence == AVSEEK_SIZE)
        return (int64_t)m->len;
    whence &= ~AVSEEK_FORCE;
    to = whence == SEEK_SET ? off : whence == SEEK_CUR ? (int64_t)m->pos + off
       : whence == SEEK_END ? (int64_t)m->len + off : -1;
    if (to < 0 || to > (int64_t)m->len)
        return AVERROR(EINVAL);
    m->pos = (size_t)to;
    return to;
}

/* The cues of a subtitle file's UTF-8 text, read by libavformat's demuxer
 * 'format'. Returns 0 with *track (NULL: nothing read), or -ENOMEM. */
static int read_text_file(const char *text, size_t len, const char *format,
                          struct subtitle_track **track)
{
    struct membuf m = { (const uint8_t *)text, len, 0 };
    AVFormatContext *fmt = NULL;
    struct subtitle_reader *r = NULL;
    AVPacket *pkt = NULL;
    uint8_t *iobuf = NULL;
    int ret = 0;

    *track = NULL;
    if (!(fmt = avformat_alloc_context()) || !(iobuf = av_malloc(4096)) ||
        !(fmt->pb = avio_alloc_context(iobuf, 4096, 0, &m, mem_read, NULL, mem_seek))) {
        av_free(iobuf);
        avformat_free_context(fmt);
        return -ENOMEM;
    }
    fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    AVIOContext *pb = fmt->pb;
    if (avformat_open_input(&fmt, NULL, av_find_input_format(format), NULL) < 0) {
        fmt = NULL;                 /* freed by the failed open */
        goto done;
    }
    int index = -1;
    for (unsigned i = 0; i < fmt->nb_streams && index < 0; i++)
        if (subtitle_codec_is_text(fmt->streams[i]->codecpar->codec_id))
            index = (int)i;
    if (index < 0)
        goto done;
    if ((ret = subtitle_reader_open(fmt->streams[index], &r)) < 0 || !r)
        goto done;
    if (!(pkt = av_packet_alloc())) {
        ret = -ENOMEM;
        goto done;
    }
    while (av_read_frame(fmt, pkt) >= 0) {
        if (pkt->stream_index == index)
            ret = subtitle_reader_packet(r, pkt);
        av_packet_unref(pkt);
        if (ret < 0)
            goto done;
    }
    ret = subtitle_reader_finish(&r, track);
done:
    av_packet_free(&pkt);
    subtitle_reader_free(&r);
    avformat_close_input(&fmt);
    if (pb) {
        av_freep(&pb->buffer);
        avio_context_free(&pb);
    }
    return ret;
}

/* A sidecar file read into a track (*track NULL: not readable). */
static int read_sidecar(const char *path, const char *ext, struct subtitle_track **track)
{
    struct stat sb;
    uint8_t *raw = NULL;
    char *text = NULL;
    size_t len = 0;
    int ret = 0;
    FILE *f;

    *track = NULL;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return 0;
    if ((uint64_t)sb.st_size > SUBTITLE_FILE_MAX) {
        log_warn("subtitle: %s: %lld bytes, more than a subtitle file has: left out",
                 path, (long long)sb.st_size);
        return 0;
    }
    if (!(f = fopen(path, "rb"))) {
        log_warn("subtitle: %s: %s: left out", path, strerror(errno));
        return 0;
    }
    if (!(raw = malloc((size_t)sb.st_size + 1))) {
        fclose(f);
        return -ENOMEM;
    }
    len = fread(raw, 1, (size_t)sb.st_size, f);
    fclose(f);
    if ((ret = subtitle_to_utf8(raw, len, &text, &len)) == 0)
        ret = read_text_file(text, len, !strcmp(ext, "srt") ? "srt"
                                      : !strcmp(ext, "vtt") ? "webvtt" : "ass", track);
    free(raw);
    free(text);
    if (ret == 0 && !*track)
        log_warn("subtitle: %s: no cue could be read: left out", path);
    return ret;
}

static int name_order(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The directory and name stem of a source path. */
static void split_source(const char *source_path, char *dir, size_t dsize, char *stem,
                         size_t ssize)
{
    const char *slash = strrchr(source_path, '/');
    const char *base = slash ? slash + 1 : source_path;
    if (slash)
        snprintf(dir, dsize, "%.*s", (int)(slash - source_path), source_path);
    else
        snprintf(dir, dsize, ".");
    if (!dir[0])
        snprintf(dir, dsize, "/");
    snprintf(stem, ssize, "%s", base);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem)
        *dot = '\0';
}

/* The sorted names of the sidecars of stem in dir (*names, *n). Returns
 * 0 (also for a directory that cannot be read) or -ENOMEM. */
static int sidecar_names(const char *dir, const char *stem, char ***names, size_t *n)
{
    char lang[16];
    size_t cap = 0;
    int forced, sdh, is_default, ret = 0;
    DIR *d;

    *names = NULL;
    *n = 0;
    if (!(d = opendir(dir)))
        return 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (!subtitle_sidecar_kind(stem, de->d_name, lang, sizeof(lang), &forced, &sdh,
                                   &is_default))
            continue;
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            char **nn = realloc(*names, ncap * sizeof(*nn));
            if (!nn) {
                ret = -ENOMEM;
                break;
            }
            *names = nn;
            cap = ncap;
        }
        if (!((*names)[*n] = strdup(de->d_name))) {
            ret = -ENOMEM;
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (*n)
        qsort(*names, *n, sizeof(**names), name_order);
    return ret;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

uint64_t subtitle_sidecar_stamp(const char *source_path)
{
    char dir[PATH_MAX], stem[NAME_MAX + 1], path[PATH_MAX], text[NAME_MAX + 96];
    char **names;
    size_t n;
    uint64_t h = 1469598103934665603ull;
    struct stat sb;

    split_source(source_path, dir, sizeof(dir), stem, sizeof(stem));
    if (sidecar_names(dir, stem, &names, &n) < 0 || !n) {
        free_names(names, n);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= (int)sizeof(path) ||
            stat(path, &sb) != 0)
            memset(&sb, 0, sizeof(sb));
        snprintf(text, sizeof(text), "%s/%lld/%lld.%09ld;", names[i], (long long)sb.st_size,
                 (long long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
        for (const char *c = text; *c; c++)
            h = (h ^ (unsigned char)*c) * 1099511628211ull;
    }
    free_names(names, n);
    return h ? h : 1;
}

size_t subtitle_track_bytes(const struct subtitle_track *t, long nseg)
{
    size_t n = sizeof(*t) + t->cap * sizeof(*t->cues) + t->playlist_len +
               (size_t)(nseg > 0 ? nseg : 0) * sizeof(*t->sizes);
    for (size_t i = 0; i < t->ncues; i++)
        n += strlen(t->cues[i].text) + 1;
    return n;
}

int subtitle_sidecars(const char *source_path, struct subtitle_track ***tracks,
                      int *ntracks)
{
    char dir[PATH_MAX], stem[NAME_MAX + 1], path[PATH_MAX], lang[16];
    char **names = NULL;
    size_t nnames = 0;
    int ret, forced, sdh, is_default;

    split_source(source_path, dir, sizeof(dir), stem, sizeof(stem));
    ret = sidecar_names(dir, stem, &names, &nnames);
    for (size_t i = 0; i < nnames && ret == 0 && *ntracks < SUBTITLE_TRACKS_MAX; i++) {
        struct subtitle_track *t = NULL;
        const char *ext = subtitle_sidecar_kind(stem, names[i], lang, sizeof(lang),
                                                &forced, &sdh, &is_default);
        if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= (int)sizeof(path))
            continue;
        if ((ret = read_sidecar(path, ext, &t)) < 0 || !t)
            continue;
        struct subtitle_track **nt = realloc(*tracks, (size_t)(*ntracks + 1) * sizeof(*nt));
        if (!nt) {
            subtitle_track_free(&t);
            ret = -ENOMEM;
            break;
        }
        *tracks = nt;
        copy_text(t->language, sizeof(t->language), lang);
        t->name[0] = '\0';
        t->forced = forced;
        t->sdh = sdh;
        t->is_default = is_default;
        (*tracks)[(*ntracks)++] = t;
        log_info("subtitle: %s: %zu cues", names[i], t->ncues);
    }
    free_names(names, nnames);
    return ret;
}

/* ---- WebVTT text ------------------------------------------------------------ */

/* "HH:MM:SS.mmm" of a non-negative time in ms. */
static int vtt_time(char *buf, size_t size, int64_t ms)
{
    return snprintf(buf, size, "%02" PRId64 ":%02d:%02d.%03d", ms / 3600000,
                    (int)(ms / 60000 % 60), (int)(ms / 1000 % 60), (int)(ms % 1000));
}

/* Bytes of one cue (on the title's timeline), written at buf if not NULL. */
static size_t cue_bytes(const struct subtitle_cue *c, int64_t origin_ms, char *buf)
{
    char a[32], b[32];
    int64_t s = c->start_ms - origin_ms, e = c->end_ms - origin_ms;
    if (s < 0)
        s = 0;
    int la = vtt_time(a, sizeof(a), s), lb = vtt_time(b, sizeof(b), e);
    size_t n = strlen(c->text);
    size_t total = (size_t)la + 5 + (size_t)lb + 1 + n + 2;
    if (buf) {
        memcpy(buf, a, (size_t)la);
        memcpy(buf + la, " --> ", 5);
        memcpy(buf + la + 5, b, (size_t)lb);
        buf[la + 5 + lb] = '\n';
        memcpy(buf + la + 6 + lb, c->text, n);
        memcpy(buf + la + 6 + lb + n, "\n\n", 2);
    }
    return total;
}

/* The header of a segment's file (i >= 0) or the whole track's. */
static size_t header_bytes(const struct subtitle_timing *tm, long i, char *buf)
{
    char h[96];
    int n;
    if (i < 0)
        n = snprintf(h, sizeof(h), "WEBVTT\n\n");
    else
        n = snprintf(h, sizeof(h), "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:%" PRId64
                     ",LOCAL:00:00:00.000\n\n", tm->mpegts);
    if (buf)
        memcpy(buf, h, (size_t)n);
    return (size_t)n;
}

/* Does cue c (title timeline) show in segment i? The first segment
 * takes what starts before the title, the last what ends after it. */
static int cue_in(const struct subtitle_cue *c, const struct subtitle_timing *tm, long i)
{
    int64_t s = c->start_ms - tm->origin_ms, e = c->end_ms - tm->origin_ms;
    if (e <= 0)
        return 0;
    return (i + 1 == tm->nseg || s < tm->start_ms[i + 1]) && (i == 0 || e > tm->start_ms[i]);
}

size_t subtitle_vtt(const struct subtitle_track *t, const struct subtitle_timing *tm,
                    long i, char *buf)
{
    size_t n = header_bytes(tm, i, buf);
    for (size_t k = 0; k < t->ncues; k++) {
        const struct subtitle_cue *c = &t->cues[k];
        if (i < 0 ? c->end_ms - tm->origin_ms > 0 : cue_in(c, tm, i))
            n += cue_bytes(c, tm->origin_ms, buf ? buf + n : NULL);
    }
    if (buf)
        buf[n] = '\0';
    return n;
}

int subtitle_derive(struct subtitle_track *t, const struct subtitle_timing *tm,
                    const int64_t *durations_ms)
{
    if (!(t->sizes = malloc((size_t)(tm->nseg > 0 ? tm->nseg : 1) * sizeof(*t->sizes))))
        return -ENOMEM;
    for (long i = 0; i < tm->nseg; i++)
        t->sizes[i] = header_bytes(tm, i, NULL);
    t->whole_size = header_bytes(tm, -1, NULL);
    /* each cue adds its bytes to the segments it shows in: those from
     * the one its start falls in to the one its end falls in */
    for (size_t k = 0; k < t->ncues; k++) {
        const struct subtitle_cue *c = &t->cues[k];
        int64_t s = c->start_ms - tm->origin_ms;
        if (c->end_ms - tm->origin_ms <= 0)
            continue;
        size_t n = cue_bytes(c, tm->origin_ms, NULL);
        t->whole_size += n;
        long lo = 0, hi = tm->nseg - 1;       /* last segment starting <= s */
        while (lo < hi) {
            long mid = lo + (hi - lo + 1) / 2;
            if (tm->start_ms[mid] <= s)
                lo = mid;
            else
                hi = mid - 1;
        }
        for (long i = lo > 0 ? lo - 1 : 0; i < tm->nseg; i++) {
            if (i > lo && !cue_in(c, tm, i))
                break;
            if (cue_in(c, tm, i))
                t->sizes[i] += n;
        }
    }
    if (!(t->playlist = playlist_subtitle_media(durations_ms, tm->nseg)))
        return -ENOMEM;
    t->playlist_len = strlen(t->playlist);
    return 0;
}
