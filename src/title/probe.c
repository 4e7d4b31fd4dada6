/*
 * probe: source streams and their packet index.
 *
 * MP4/MOV carry a complete sample table (every sample's dts, size and sync
 * flag), which libavformat exposes as index entries: reading it costs no
 * payload I/O. Other containers are scanned with av_read_frame, which
 * parses packet boundaries but decodes nothing. Constant-rate audio is
 * then decoded once to find its silence (find_silence).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/display.h>
#include <libavutil/dovi_meta.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/samplefmt.h>

#include "hlsfs/fmp4.h"
#include "hlsfs/log.h"
#include "hlsfs/probe.h"
#include "hlsfs/source.h"
#include "hlsfs/subtitle.h"

static int set_error(struct probe *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int set_error(struct probe *p, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    free(p->error);
    p->error = strdup(buf);
    return p->error ? 0 : -ENOMEM;
}

static int push_packet(struct probe_stream *s, int64_t dts, int64_t pts,
                       int size, int flags)
{
    if (s->npkts == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        struct probe_packet *n = realloc(s->pkts, cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        s->pkts = n;
        s->cap = cap;
    }
    s->pkts[s->npkts++] = (struct probe_packet){
        .dts = dts, .pts = pts, .size = (uint32_t)size, .flags = (uint32_t)flags,
    };
    return 0;
}

static int stream_init(struct probe_stream *s, const AVStream *st)
{
    const AVDictionaryEntry *e;
    s->index = st->index;
    s->tb = st->time_base;
    s->pts_offset = 0;
    if (!(s->par = avcodec_parameters_alloc()))
        return -ENOMEM;
    if (avcodec_parameters_copy(s->par, st->codecpar) < 0)
        return -ENOMEM;
    if ((e = av_dict_get(st->metadata, "language", NULL, 0)) &&
        strcmp(e->value, "und") && !(s->language = strdup(e->value)))
        return -ENOMEM;
    if ((e = av_dict_get(st->metadata, "title", NULL, 0)) &&
        !(s->name = strdup(e->value)))
        return -ENOMEM;
    s->is_default = !!(st->disposition & AV_DISPOSITION_DEFAULT);
    /* as players do: the container's aspect ratio over the bitstream's */
    s->sar = st->sample_aspect_ratio.num > 0 ? st->sample_aspect_ratio
                                             : st->codecpar->sample_aspect_ratio;
    s->avg_rate = st->avg_frame_rate;
    s->r_rate = st->r_frame_rate;
    const AVDOVIDecoderConfigurationRecord *dovi = (const void *)
        av_stream_get_side_data(st, AV_PKT_DATA_DOVI_CONF, NULL);
    s->dovi_compat = dovi ? dovi->dv_bl_signal_compatibility_id : -1;
    const uint8_t *matrix = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, NULL);
    if (matrix) {
        double theta = -av_display_rotation_get((const int32_t *)matrix);
        if (theta == theta) {                       /* not NaN */
            long quarter = lround(theta / 90.0);
            s->rotation = (int)(((quarter % 4) + 4) % 4) * 90;
        }
    }
    return 0;
}

static void stream_clear(struct probe_stream *s)
{
    avcodec_parameters_free(&s->par);
    free(s->pkts);
    free(s->language);
    free(s->name);
    memset(s, 0, sizeof(*s));
}

/* Where this source's stream goes in the probe, or NULL if unused. */
static struct probe_stream *slot_of(struct probe *p, int index)
{
    if (p->video && p->video->index == index)
        return p->video;
    for (int i = 0; i < p->naudio; i++)
        if (p->audio[i].index == index)
            return &p->audio[i];
    return NULL;
}

/* The reader of a text subtitle stream, or NULL. */
static struct subtitle_reader *text_of(struct probe *p, int index)
{
    for (int i = 0; i < p->ntext; i++)
        if (p->text[i].index == index)
            return p->text[i].reader;
    return NULL;
}

/* Read the presentation time of every 'stride'-th keyframe; the first
 * sets pts_offset, *varies tells whether any other offset was seen. */
static int keyframe_pts(AVFormatContext *fmt, struct probe_stream *v,
                        size_t stride, int *varies)
{
    AVPacket *pkt = av_packet_alloc();
    size_t nth = 0;
    int first = 1;
    if (!pkt)
        return -ENOMEM;
    *varies = 0;
    for (unsigned i = 0; i < fmt->nb_streams; i++)
        fmt->streams[i]->discard = (int)i == v->index ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
    for (size_t k = 0; k < v->npkts; k++) {
        if (!(v->pkts[k].flags & PROBE_PKT_KEY) || nth++ % stride)
            continue;
        if (av_seek_frame(fmt, v->index, v->pkts[k].dts, AVSEEK_FLAG_BACKWARD) < 0)
            continue;
        /* the seek lands at or before it: read on to it */
        while (av_read_frame(fmt, pkt) >= 0) {
            int mine = pkt->stream_index == v->index;
            int64_t dts = pkt->dts;
            if (mine && dts == v->pkts[k].dts && pkt->pts != AV_NOPTS_VALUE) {
                v->pkts[k].pts = pkt->pts;
                if (first)
                    v->pts_offset = pkt->pts - pkt->dts;
                else if (pkt->pts - pkt->dts != v->pts_offset)
                    *varies = 1;
                first = 0;
            }
            av_packet_unref(pkt);
            if (mine && (dts == AV_NOPTS_VALUE || dts >= v->pkts[k].dts))
                break;
        }
    }
    av_packet_free(&pkt);
    return 0;
}

/* The presentation times of the packets from the last keyframe to the
 * end, read from the packets themselves (a seek and one GOP of packets,
 * nothing decoded): with a variable frame rate and reordering, the last
 * picture shown is not the last decoded plus the keyframes' offset, and
 * the title ends after it. The sample table's decode times find them. */
static int tail_pts(AVFormatContext *fmt, struct probe_stream *v)
{
    size_t last = v->npkts;
    AVPacket *pkt;
    while (last > 0 && !(v->pkts[last - 1].flags & PROBE_PKT_KEY))
        last--;
    if (last == 0 || !(pkt = av_packet_alloc()))
        return last == 0 ? 0 : -ENOMEM;
    last--;
    for (unsigned i = 0; i < fmt->nb_streams; i++)
        fmt->streams[i]->discard = (int)i == v->index ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
    if (av_seek_frame(fmt, v->index, v->pkts[last].dts, AVSEEK_FLAG_BACKWARD) >= 0) {
        size_t at = last;
        for (size_t n = 0; n < v->npkts - last + 64 && av_read_frame(fmt, pkt) >= 0; n++) {
            /* a packet the edit list leaves out is not shown */
            if (pkt->stream_index == v->index && pkt->dts != AV_NOPTS_VALUE &&
                pkt->pts != AV_NOPTS_VALUE && pkt->dts >= v->pkts[last].dts &&
                !(pkt->flags & AV_PKT_FLAG_DISCARD)) {
                while (at < v->npkts && v->pkts[at].dts < pkt->dts)
                    at++;
                if (at < v->npkts && v->pkts[at].dts == pkt->dts)
                    v->pkts[at].pts = pkt->pts;
            }
            av_packet_unref(pkt);
        }
    }
    av_packet_free(&pkt);
    return 0;
}

/* An edit list that starts after the first keyframe discards it and the
 * pictures after it up to the edit's start, which is shown: the title
 * starts there and its first segment is decoded from that keyframe
 * (title.c). The presentation times of the packets from it to the first
 * keyframe kept (discarded or not), and of the shown ones among the 64
 * after it (pictures reordered before that keyframe), are read from the
 * packets themselves (one seek, nothing decoded). */
static int head_pts(AVFormatContext *fmt, struct probe_stream *v)
{
    size_t kept = 0;
    AVPacket *pkt;
    if (!v->npkts || !(v->pkts[0].flags & PROBE_PKT_KEY) || !(v->pkts[0].flags & PROBE_PKT_DISCARD))
        return 0;
    while (kept < v->npkts && (!(v->pkts[kept].flags & PROBE_PKT_KEY) ||
                               (v->pkts[kept].flags & PROBE_PKT_DISCARD)))
        kept++;
    if (kept == v->npkts || !(pkt = av_packet_alloc()))
        return kept == v->npkts ? 0 : -ENOMEM;
    for (unsigned i = 0; i < fmt->nb_streams; i++)
        fmt->streams[i]->discard = (int)i == v->index ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
    if (av_seek_frame(fmt, v->index, v->pkts[0].dts, AVSEEK_FLAG_BACKWARD) >= 0) {
        size_t at = 0;
        for (size_t n = 0; n < kept + 64 && av_read_frame(fmt, pkt) >= 0; n++) {
            if (pkt->stream_index == v->index && pkt->dts != AV_NOPTS_VALUE &&
                pkt->pts != AV_NOPTS_VALUE) {
                while (at < v->npkts && v->pkts[at].dts < pkt->dts)
                    at++;
                if (at < v->npkts && v->pkts[at].dts == pkt->dts &&
                    v->pkts[at].pts == AV_NOPTS_VALUE &&
                    (at < kept || !(pkt->flags & AV_PKT_FLAG_DISCARD)))
                    v->pkts[at].pts = pkt->pts;
            }
            av_packet_unref(pkt);
        }
    }
    av_packet_free(&pkt);
    return 0;
}

/* MP4/MOV: the sample table, from libavformat's index entries. Returns 1
 * when used, 0 when the container has no complete table. */
static int index_from_container(struct probe *p, AVFormatContext *fmt,
                                int64_t file_size)
{
    int64_t expected_end = 0;
    if (!strstr(fmt->iformat->name, "mp4"))
        return 0;
    /* every stream used has a table, or none is filled: the packet scan
     * that follows appends to the streams */
    for (unsigned i = 0; i < fmt->nb_streams; i++)
        if (slot_of(p, (int)i) && avformat_index_get_entries_count(fmt->streams[i]) <= 0)
            return 0;
    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        struct probe_stream *s = slot_of(p, (int)i);
        if (!s)
            continue;
        AVStream *st = fmt->streams[i];
        int n = avformat_index_get_entries_count(st);
        for (int k = 0; k < n; k++) {
            const AVIndexEntry *e = avformat_index_get_entry(st, k);
            int flags = 0;
            if (e->flags & AVINDEX_KEYFRAME)
                flags |= PROBE_PKT_KEY;
            if (e->flags & AVINDEX_DISCARD_FRAME)
                flags |= PROBE_PKT_DISCARD;
            if (e->pos + e->size > expected_end)
                expected_end = e->pos + e->size;
            if (push_packet(s, e->timestamp, AV_NOPTS_VALUE, e->size, flags) < 0)
                return -ENOMEM;
        }
    }
    if (expected_end > file_size && file_size >= 0) {
        int pct = (int)(file_size * 100 / expected_end);
        return set_error(p, "truncated file at %d%%", pct) < 0 ? -ENOMEM : 1;
    }
    /* the table has decode times only: a keyframe's presentation time is
     * read from the keyframe itself (a seek to it, one packet). When 16
     * keyframes spread over the title all show the same offset from their
     * decode time, that offset serves for the rest; otherwise (variable
     * frame rate with reordering) every keyframe is read. */
    if (p->video) {
        struct probe_stream *v = p->video;
        size_t nkeys = 0;
        int varies = 0;
        for (size_t k = 0; k < v->npkts; k++)
            nkeys += !!(v->pkts[k].flags & PROBE_PKT_KEY);
        size_t stride = nkeys > 16 ? nkeys / 16 : 1;
        int ret = keyframe_pts(fmt, v, stride, &varies);
        if (ret < 0)
            return ret;
        if (varies && stride > 1 && (ret = keyframe_pts(fmt, v, 1, &varies)) < 0)
            return ret;
        for (size_t k = 0; k < v->npkts; k++)
            if ((v->pkts[k].flags & PROBE_PKT_KEY) && v->pkts[k].pts == AV_NOPTS_VALUE)
                v->pkts[k].pts = v->pkts[k].dts + v->pts_offset;
        if ((ret = tail_pts(fmt, v)) < 0 || (ret = head_pts(fmt, v)) < 0)
            return ret;
    }
    p->method = "container index";
    return 1;
}

static int index_from_scan(struct probe *p, AVFormatContext *fmt)
{
    AVPacket *pkt = av_packet_alloc();
    int ret;
    if (!pkt)
        return -ENOMEM;
    for (unsigned i = 0; i < fmt->nb_streams; i++)
        fmt->streams[i]->discard = slot_of(p, (int)i) || text_of(p, (int)i)
                                   ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
    while ((ret = av_read_frame(fmt, pkt)) >= 0) {
        struct probe_stream *s = slot_of(p, pkt->stream_index);
        struct subtitle_reader *text = text_of(p, pkt->stream_index);
        if (text) {
            ret = subtitle_reader_packet(text, pkt);
            av_packet_unref(pkt);
            if (ret < 0) {
                av_packet_free(&pkt);
                return ret;
            }
            continue;
        }
        int64_t dts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
        if (!s || pkt->size <= 0) {
            av_packet_unref(pkt);
            continue;
        }
        if (dts == AV_NOPTS_VALUE) {
            /* no timestamp (e.g. the second field of an interlaced
             * frame): it travels in the previous packet's PES */
            if (s->npkts)
                s->pkts[s->npkts - 1].size += (uint32_t)pkt->size;
            av_packet_unref(pkt);
            continue;
        }
        if (s == p->video && s->par->codec_id == AV_CODEC_ID_VP9 && s->par->profile < 0 &&
            (pkt->flags & AV_PKT_FLAG_KEY))
            fmp4_vp9_keyframe_params(s->par, pkt->data, pkt->size);
        int flags = 0;
        if (pkt->dts == AV_NOPTS_VALUE)
            s->no_dts = 1;
        if (pkt->flags & AV_PKT_FLAG_KEY)
            flags |= PROBE_PKT_KEY;
        if (pkt->flags & AV_PKT_FLAG_DISCARD)
            flags |= PROBE_PKT_DISCARD;
        ret = push_packet(s, dts, pkt->pts, pkt->size, flags);
        av_packet_unref(pkt);
        if (ret < 0) {
            av_packet_free(&pkt);
            return ret;
        }
    }
    av_packet_free(&pkt);
    if (source_error_is_transient(ret))
        return ret;
    if (ret != AVERROR_EOF) {
        char err[AV_ERROR_MAX_STRING_SIZE];
        av_strerror(ret, err, sizeof(err));
        log_warn("probe: packet scan stopped early: %s", err);
    }
    p->method = "packet scan";
    return 0;
}

/* MP4 and Matroska are not probed further than their headers
 * (source_open_input), which seldom say whether the picture is
 * interlaced: the codec's parser reads it from the first keyframe (its
 * parameter sets and picture headers; nothing is decoded), as
 * libavformat's own stream probe would. The transcoded rungs are
 * deinterlaced or not on what this finds (vfilter_detect). */
static int probe_field_order(AVFormatContext *fmt, struct probe_stream *v)
{
    AVCodecParserContext *parser;
    AVCodecContext *ctx;
    AVPacket *pkt;
    size_t first = 0;

    if (v->par->field_order != AV_FIELD_UNKNOWN)
        return 0;
    while (first < v->npkts && !(v->pkts[first].flags & PROBE_PKT_KEY))
        first++;
    if (first == v->npkts || !(parser = av_parser_init(v->par->codec_id)))
        return 0;                   /* no parser: left unknown (progressive) */
    ctx = avcodec_alloc_context3(NULL);
    pkt = av_packet_alloc();
    if (!ctx || !pkt || avcodec_parameters_to_context(ctx, v->par) < 0) {
        av_packet_free(&pkt);
        avcodec_free_context(&ctx);
        av_parser_close(parser);
        return -ENOMEM;
    }
    parser->flags |= PARSER_FLAG_COMPLETE_FRAMES;     /* a packet is a picture */
    for (unsigned i = 0; i < fmt->nb_streams; i++)
        fmt->streams[i]->discard = (int)i == v->index ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
    /* the first keyframe and the packets after it, until a picture's field
     * order shows (a few packets at most) */
    if (av_seek_frame(fmt, v->index, v->pkts[first].dts, AVSEEK_FLAG_BACKWARD) >= 0) {
        for (int n = 0; n < 8 && parser->field_order == AV_FIELD_UNKNOWN &&
                        av_read_frame(fmt, pkt) >= 0; n++) {
            if (pkt->stream_index == v->index) {
                uint8_t *data = NULL;
                int size = 0;
                av_parser_parse2(parser, ctx, &data, &size, pkt->data, pkt->size,
                                 pkt->pts, pkt->dts, pkt->pos);
            } else {
                n--;
            }
            av_packet_unref(pkt);
        }
    }
    v->par->field_order = parser->field_order;
    av_packet_free(&pkt);
    avcodec_free_context(&ctx);
    av_parser_close(parser);
    return 0;
}

/* Audio whose packet sizes say nothing of what they hold (a constant
 * rate) is decoded once, so that the size plan knows its silence: a
 * packet is marked PROBE_PKT_SILENT when it and the next decode to
 * samples that are all exactly zero (the next too, for a decoder whose
 * output lags a packet). Only constant-rate codecs are decoded, and only
 * when the pass reads at most SILENCE_SCAN_BYTES: the stream's packets
 * where a container index lets the demuxer skip the others (MP4, MOV),
 * the whole file otherwise. Anything that fails leaves packets unmarked
 * (planned as sound). */
#define SILENCE_SCAN_BYTES (32u << 20)
#define CBR_SPREAD_DIV     16  /* sizes within 1/16 (+2 bytes): constant */

/* 'whole' is the bytes a pass reads whatever the stream (the file's size
 * for a source without a container index, -1 when unknown), 0 when the
 * pass reads only this stream's packets. */
static int stream_is_constant_rate(const struct probe_stream *s, int64_t whole)
{
    uint32_t lo = UINT32_MAX, hi = 0;
    uint64_t total = 0;
    switch (s->par->codec_id) {
    case AV_CODEC_ID_AAC: case AV_CODEC_ID_MP2: case AV_CODEC_ID_MP3:
    case AV_CODEC_ID_AC3: case AV_CODEC_ID_EAC3:
        break;
    default:
        return 0;
    }
    if (s->npkts < 8)
        return 0;
    /* the first and last packets may be partial */
    for (size_t k = 2; k + 2 < s->npkts; k++) {
        lo = s->pkts[k].size < lo ? s->pkts[k].size : lo;
        hi = s->pkts[k].size > hi ? s->pkts[k].size : hi;
    }
    for (size_t k = 0; k < s->npkts && !whole; k++)
        total += s->pkts[k].size;
    if (whole)
        total = whole < 0 ? UINT64_MAX : (uint64_t)whole;
    return total <= SILENCE_SCAN_BYTES && lo > 0 && hi <= lo + lo / CBR_SPREAD_DIV + 2;
}

static int frame_is_zero(const AVFrame *f)
{
    enum AVSampleFormat fmt = av_get_packed_sample_fmt(f->format);
    int planar = av_sample_fmt_is_planar(f->format);
    int planes = planar ? f->ch_layout.nb_channels : 1;
    size_t n = (size_t)f->nb_samples * (size_t)(planar ? 1 : f->ch_layout.nb_channels);
    /* unsigned 8-bit silence is 0x80: never taken for silence */
    if (fmt == AV_SAMPLE_FMT_U8 || !n)
        return 0;
    for (int p = 0; p < planes; p++) {
        const uint8_t *d = f->extended_data[p];
        size_t bytes = n * (size_t)av_get_bytes_per_sample(fmt);
        /* a transform's zeros may be negative zeros: floats are compared
         * as numbers */
        if (fmt == AV_SAMPLE_FMT_FLT) {
            for (size_t i = 0; i < n; i++)
                if (((const float *)d)[i] != 0.0f)
                    return 0;
        } else if (fmt == AV_SAMPLE_FMT_DBL) {
            for (size_t i = 0; i < n; i++)
                if (((const double *)d)[i] != 0.0)
                    return 0;
        } else {
            for (size_t i = 0; i < bytes; i++)
                if (d[i])
                    return 0;
        }
    }
    return 1;
}

static int mark_silence(AVFormatContext *fmt, struct probe_stream *s)
{
    const AVCodec *dec = avcodec_find_decoder(s->par->codec_id);
    AVCodecContext *ctx = NULL;
    AVPacket *pkt = NULL;
    AVFrame *frame = NULL;
    uint8_t *zero = NULL;
    size_t at = 0;
    int ret = 0;

    if (!dec)
        return 0;
    if (!(ctx = avcodec_alloc_context3(dec)) || !(pkt = av_packet_alloc()) ||
        !(frame = av_frame_alloc()) || !(zero = calloc(s->npkts, 1))) {
        ret = -ENOMEM;
        goto done;
    }
    ctx->thread_count = 1;
    if (avcodec_parameters_to_context(ctx, s->par) < 0 || avcodec_open2(ctx, dec, NULL) < 0)
        goto done;                  /* not decodable here: nothing marked */
    for (unsigned i = 0; i < fmt->nb_streams; i++)
        fmt->streams[i]->discard = (int)i == s->index ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
    if (av_seek_frame(fmt, s->index, s->pkts[0].dts, AVSEEK_FLAG_BACKWARD | AVSEEK_FLAG_ANY) < 0)
        goto done;
    while (at < s->npkts && av_read_frame(fmt, pkt) >= 0) {
        int64_t key = s->no_dts ? pkt->pts : pkt->dts;
        if (pkt->stream_index != s->index || key == AV_NOPTS_VALUE) {
            av_packet_unref(pkt);
            continue;
        }
        while (at < s->npkts && s->pkts[at].dts < key)
            at++;
        int mine = at < s->npkts && s->pkts[at].dts == key;
        int frames = 0, all_zero = 1;
        if (avcodec_send_packet(ctx, pkt) >= 0) {
            while (avcodec_receive_frame(ctx, frame) >= 0) {
                frames++;
                all_zero &= frame_is_zero(frame);
                av_frame_unref(frame);
            }
        }
        if (mine)
            zero[at++] = frames > 0 && all_zero;
        av_packet_unref(pkt);
    }
    for (size_t k = 0; k < s->npkts; k++)
        if (zero[k] && (k + 1 == s->npkts || zero[k + 1]))
            s->pkts[k].flags |= PROBE_PKT_SILENT;
done:
    free(zero);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&ctx);
    return ret;
}

static int find_silence(struct probe *p, AVFormatContext *fmt, int64_t whole)
{
    int ret = 0;
    for (int i = 0; i < p->naudio && ret == 0; i++)
        if (stream_is_constant_rate(&p->audio[i], whole))
            ret = mark_silence(fmt, &p->audio[i]);
    return ret;
}

/* After a container index: the text subtitle streams' packets, read on
 * their own (the other streams discarded). */
static int read_text_streams(struct probe *p, AVFormatContext *fmt)
{
    AVPacket *pkt;
    int ret = 0;
    if (!p->ntext)
        return 0;
    if (!(pkt = av_packet_alloc()))
        return -ENOMEM;
    for (unsigned i = 0; i < fmt->nb_streams; i++)
        fmt->streams[i]->discard = text_of(p, (int)i) ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
    /* back to the start: the index's reading moved the demuxer */
    const AVStream *first = fmt->streams[p->text[0].index];
    av_seek_frame(fmt, p->text[0].index,
                  first->start_time != AV_NOPTS_VALUE ? first->start_time : 0,
                  AVSEEK_FLAG_BACKWARD | AVSEEK_FLAG_ANY);
    while (av_read_frame(fmt, pkt) >= 0) {
        struct subtitle_reader *text = text_of(p, pkt->stream_index);
        if (text)
            ret = subtitle_reader_packet(text, pkt);
        av_packet_unref(pkt);
        if (ret < 0)
            break;
    }
    av_packet_free(&pkt);
    return ret;
}

/* The text subtitle tracks: each stream's cues, then the sidecar files
 * beside a source read from its path. */
static int finish_subtitles(struct probe *p, const char *path, int sidecars)
{
    int ret = 0;
    for (int i = 0; i < p->ntext; i++) {
        struct subtitle_track *t = NULL;
        if ((ret = subtitle_reader_finish(&p->text[i].reader, &t)) < 0)
            return ret;
        if (t && p->nsubs == SUBTITLE_TRACKS_MAX) {
            log_warn("probe: more than %d text subtitle streams: stream %d left out",
                     SUBTITLE_TRACKS_MAX, p->text[i].index);
            subtitle_track_free(&t);
        }
        if (!t)
            continue;
        struct subtitle_track **n = realloc(p->subs, (size_t)(p->nsubs + 1) * sizeof(*n));
        if (!n) {
            subtitle_track_free(&t);
            return -ENOMEM;
        }
        p->subs = n;
        p->subs[p->nsubs++] = t;
    }
    if (sidecars)
        p->sidecar_stamp = subtitle_sidecar_stamp(path);
    if (sidecars && (ret = subtitle_sidecars(path, &p->subs, &p->nsubs)) < 0)
        return ret;
    subtitle_name_tracks(p->subs, p->nsubs);
    return 0;
}

/* After a scan: was the file cut short of what its header announces? */
static int check_truncated_scan(struct probe *p, AVFormatContext *fmt)
{
    const char *name = fmt->iformat->name;
    struct probe_stream *v = p->video;
    if (!v || !v->npkts || fmt->duration <= 0)
        return 0;
    /* only containers whose header duration can be trusted */
    if (!strstr(name, "matroska") && strcmp(name, "avi"))
        return 0;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < v->npkts; i++) {
        lo = v->pkts[i].dts < lo ? v->pkts[i].dts : lo;
        hi = v->pkts[i].dts > hi ? v->pkts[i].dts : hi;
    }
    int64_t got = av_rescale_q(hi - lo, v->tb, AV_TIME_BASE_Q);
    int64_t missing = fmt->duration - got;
    /* short clips end a frame or two before their audio: only a gap of
     * seconds and of a tenth of the title counts as truncation */
    if (missing > 2 * AV_TIME_BASE && missing * 10 > fmt->duration) {
        int pct = (int)(got * 100 / fmt->duration);
        return set_error(p, "truncated file at %d%%", pct);
    }
    return 0;
}

int probe_source(const char *path, const struct source_io *io, struct probe **out)
{
    AVFormatContext *fmt = NULL;
    struct probe *p = calloc(1, sizeof(*p));
    int64_t file_size = -1;
    int ret;

    *out = NULL;
    if (!p)
        return -ENOMEM;
    if (!io) {
        struct stat sb;
        if (stat(path, &sb) != 0) {
            /* the caller found the file: it went, or cannot be reached now */
            ret = -errno;
            goto done;
        }
        file_size = sb.st_size;
    }
    if (file_size == 0) {
        ret = set_error(p, "empty file");
        goto done;
    }
    if ((ret = source_open_input(path, io, NULL, &fmt)) < 0) {
        char err[AV_ERROR_MAX_STRING_SIZE];
        /* libavformat answers a header that asks for absurd sizes with
         * ENOMEM too: an ERROR readers see, kept out of the cache so that
         * a real shortage of memory is not remembered */
        p->error_not_kept = ret == AVERROR(ENOMEM);
        if (source_error_is_transient(ret) && !p->error_not_kept)
            goto done;
        av_strerror(ret, err, sizeof(err));
        ret = set_error(p, "not a readable media file: %s", err);
        goto done;
    }
    if (io)
        file_size = avio_size(fmt->pb);
    if (!(p->format = strdup(fmt->iformat->name))) {
        ret = -ENOMEM;
        goto done;
    }

    int naudio = 0;
    char unread[512] = "";          /* subtitle streams that are not text */
    for (unsigned i = 0; i < fmt->nb_streams; i++)
        naudio += fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO;
    if (naudio && !(p->audio = calloc((size_t)naudio, sizeof(*p->audio)))) {
        ret = -ENOMEM;
        goto done;
    }
    if (!(p->text = calloc(fmt->nb_streams ? fmt->nb_streams : 1, sizeof(*p->text)))) {
        ret = -ENOMEM;
        goto done;
    }
    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        AVStream *st = fmt->streams[i];
        enum AVMediaType type = st->codecpar->codec_type;
        if (type == AVMEDIA_TYPE_VIDEO && !p->video &&
            !(st->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
            if (!(p->video = calloc(1, sizeof(*p->video))) ||
                stream_init(p->video, st) < 0) {
                ret = -ENOMEM;
                goto done;
            }
        } else if (type == AVMEDIA_TYPE_AUDIO) {
            if (stream_init(&p->audio[p->naudio++], st) < 0) {
                ret = -ENOMEM;
                goto done;
            }
        } else if (type == AVMEDIA_TYPE_SUBTITLE &&
                   subtitle_codec_is_text(st->codecpar->codec_id)) {
            struct subtitle_reader *r = NULL;
            if ((ret = subtitle_reader_open(st, &r)) < 0)
                goto done;
            if (r)
                p->text[p->ntext++] = (struct probe_text){ (int)i, r };
        } else if (type == AVMEDIA_TYPE_SUBTITLE) {
            const AVDictionaryEntry *e = av_dict_get(st->metadata, "language", NULL, 0);
            size_t n = strlen(unread);
            snprintf(unread + n, sizeof(unread) - n, "%s%u (%s%s%s%s)", n ? ", " : "", i,
                     avcodec_get_name(st->codecpar->codec_id), e ? ", " : "",
                     e ? e->value : "",
                     subtitle_codec_is_bitmap(st->codecpar->codec_id) ? ", pictures" : "");
        }
    }
    /* named once, when the title is analysed */
    if (unread[0]) {
        const char *base = strrchr(path, '/');
        log_info("probe: %s: subtitle stream(s) %s not offered: not text", base ? base + 1 : path,
                 unread);
    }
    if (!p->video) {
        ret = set_error(p, "no video stream");
        goto done;
    }

    ret = index_from_container(p, fmt, file_size);
    /* what a pass over one stream reads: its packets with an index */
    int64_t whole = ret == 1 ? 0 : file_size;
    if (ret == 1 && !p->error)
        ret = read_text_streams(p, fmt);
    else if (ret == 0)
        ret = index_from_scan(p, fmt);
    if (ret < 0 || p->error)
        goto done;
    if ((ret = check_truncated_scan(p, fmt)) < 0 || p->error)
        goto done;
    if ((ret = probe_field_order(fmt, p->video)) < 0)
        goto done;
    if ((ret = find_silence(p, fmt, whole)) < 0)
        goto done;

    size_t nkeys = 0;
    for (size_t i = 0; i < p->video->npkts; i++)
        nkeys += !!(p->video->pkts[i].flags & PROBE_PKT_KEY);
    if (!p->video->npkts)
        ret = set_error(p, "no video packets (truncated or empty file)");
    else if (!nkeys)
        ret = set_error(p, "no keyframe in the video stream");
    if (ret == 0 && !p->error)
        ret = finish_subtitles(p, path, !io);

done:
    source_close_input(io, &fmt);
    if (ret < 0) {
        probe_free(&p);
        return ret;
    }
    *out = p;
    return 0;
}

void probe_free(struct probe **pp)
{
    struct probe *p = pp ? *pp : NULL;
    if (!p)
        return;
    if (p->video) {
        stream_clear(p->video);
        free(p->video);
    }
    for (int i = 0; i < p->naudio; i++)
        stream_clear(&p->audio[i]);
    free(p->audio);
    for (int i = 0; i < p->ntext; i++)
        subtitle_reader_free(&p->text[i].reader);
    free(p->text);
    for (int i = 0; i < p->nsubs; i++)
        subtitle_track_free(&p->subs[i]);
    free(p->subs);
    free(p->format);
    free(p->error);
    free(p);
    *pp = NULL;
}
