/*
 * mux: MPEG-TS into memory with libavformat, and null-packet padding.
 * What it writes at most is modelled in tssize.c.
 *
 * Settings that make segments independent and deterministic:
 * - a fresh muxer per segment, so every segment opens with SDT, PAT, PMT;
 * - "initial_discontinuity": the first packet of every PID says the
 *   continuity counter restarts, so segments from different runs join;
 * - max_delay 0.7 s: the usual MPEG-TS offset, timestamps = source + 1.4 s
 *   in every rendition, keeping PCR ahead of any B-frame reordering; an
 *   audio PES spans half of it (tssize.h);
 * - no avoid_negative_ts shift, which would move each segment differently.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>

#include "hlsfs/fmp4.h"
#include "hlsfs/mux.h"
#include "hlsfs/tssize.h"

#define MUX_MAX_DELAY_US 700000
#define MUX_IO_BUFFER    (MUX_TS_PACKET * 64)

struct mux {
    AVFormatContext *fmt;
    AVRational       in_tb;
    int              count_only;
    uint8_t         *buf;        /* the segment so far (not when counting) */
    size_t           len, cap;
    uint64_t         total;      /* bytes written by the muxer            */
    int              finished;
    AVPacket        *view;       /* borrows the caller's packet fields    */
    struct fmp4_seg *fmp4;       /* an fMP4 segment instead (fmp4.c)      */
};

static int mux_io_write(void *opaque, uint8_t *data, int size)
{
    struct mux *m = opaque;
    m->total += (uint64_t)size;
    if (m->count_only)
        return size;
    if (m->len + (size_t)size > m->cap) {
        size_t cap = m->cap ? m->cap : 256 * 1024;
        while (cap < m->len + (size_t)size)
            cap *= 2;
        uint8_t *n = realloc(m->buf, cap);
        if (!n)
            return AVERROR(ENOMEM);
        m->buf = n;
        m->cap = cap;
    }
    memcpy(m->buf + m->len, data, (size_t)size);
    m->len += (size_t)size;
    return size;
}

int mux_open(struct mux **out, const AVCodecParameters *par, AVRational tb,
             int count_only)
{
    struct mux *m = calloc(1, sizeof(*m));
    AVDictionary *opts = NULL;
    uint8_t *iobuf = NULL;
    AVStream *st;
    int ret;

    *out = NULL;
    if (!m)
        return AVERROR(ENOMEM);
    m->in_tb = tb;
    m->count_only = count_only;
    if (!(m->view = av_packet_alloc())) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    if ((ret = avformat_alloc_output_context2(&m->fmt, NULL, "mpegts", NULL)) < 0)
        goto fail;
    if (!(iobuf = av_malloc(MUX_IO_BUFFER)) ||
        !(m->fmt->pb = avio_alloc_context(iobuf, MUX_IO_BUFFER, 1, m, NULL,
                                          mux_io_write, NULL))) {
        av_free(iobuf);
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    m->fmt->pb->seekable = 0;
    m->fmt->flags |= AVFMT_FLAG_CUSTOM_IO | AVFMT_FLAG_BITEXACT;
    m->fmt->max_delay = MUX_MAX_DELAY_US;
    /* keep source timestamps: no per-segment shift of negative ones */
    m->fmt->avoid_negative_ts = AVFMT_AVOID_NEG_TS_DISABLED;
    if (!(st = avformat_new_stream(m->fmt, NULL))) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    if ((ret = avcodec_parameters_copy(st->codecpar, par)) < 0)
        goto fail;
    st->codecpar->codec_tag = 0;
    st->time_base = tb;
    av_dict_set(&opts, "mpegts_flags", "+initial_discontinuity", 0);
    /* every segment opens with SDT, PAT and PMT; repeating them within a
     * segment only costs bytes (two packets every 0.1 s by default): once
     * per table period of the size model */
    char period[32];
    snprintf(period, sizeof(period), "%dms", TSSIZE_TABLE_PERIOD_MS);
    av_dict_set(&opts, "pat_period", period, 0);
    av_dict_set(&opts, "sdt_period", period, 0);
    /* audio frames gathered by time alone (0.35 s a PES), not in PES of
     * 2930 bytes: fewer PES headers and partly filled packets */
    if (par->codec_type == AVMEDIA_TYPE_AUDIO)
        av_dict_set_int(&opts, "pes_payload_size", TSSIZE_AUDIO_PES_PAYLOAD, 0);
    ret = avformat_write_header(m->fmt, &opts);
    av_dict_free(&opts);
    if (ret < 0)
        goto fail;
    *out = m;
    return 0;
fail:
    mux_free(&m);
    return ret;
}

int mux_open_fmp4(struct mux **out, const struct fmp4_seg_config *c)
{
    struct mux *m = calloc(1, sizeof(*m));
    int ret;
    *out = NULL;
    if (!m)
        return AVERROR(ENOMEM);
    if ((ret = fmp4_seg_open(&m->fmp4, c)) < 0) {
        free(m);
        return ret;
    }
    *out = m;
    return 0;
}

int mux_write(struct mux *m, const AVPacket *in)
{
    if (m->fmp4)
        return fmp4_seg_write(m->fmp4, in);
    /* av_write_frame references the data itself (or uses it in place
     * when the packet is not reference-counted): no copy is needed */
    AVPacket *v = m->view;
    AVRational tb = m->fmt->streams[0]->time_base;
    v->buf = in->buf;
    v->data = in->data;
    v->size = in->size;
    v->flags = in->flags;
    v->stream_index = 0;
    v->pts = av_rescale_q(in->pts, m->in_tb, tb);
    v->dts = av_rescale_q(in->dts, m->in_tb, tb);
    v->duration = av_rescale_q(in->duration, m->in_tb, tb);
    int ret = av_write_frame(m->fmt, v);
    v->buf = NULL;
    v->data = NULL;
    v->size = 0;
    return ret;
}

int mux_finish(struct mux *m, uint64_t *size)
{
    int ret = 0;
    if (m->fmp4)
        return fmp4_seg_finish(m->fmp4, size);
    if (!m->finished) {
        ret = av_write_trailer(m->fmt);
        avio_flush(m->fmt->pb);
        m->finished = 1;
    }
    *size = m->total;
    return ret;
}

int mux_take(struct mux *m, uint64_t planned, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (m->fmp4)
        return fmp4_seg_take(m->fmp4, planned, out, len);
    if (!m->finished || m->count_only || planned % MUX_TS_PACKET ||
        m->len % MUX_TS_PACKET)
        return -EINVAL;
    if (m->len > planned)
        return -EOVERFLOW;
    uint8_t *buf = m->buf;
    if (!buf && !(buf = malloc(1)))
        return -ENOMEM;
    if (m->cap > m->len + m->len / 8) {     /* give back the spare room */
        uint8_t *n = realloc(buf, m->len ? m->len : 1);
        if (n)
            buf = n;
    }
    *out = buf;
    *len = m->len;
    m->buf = NULL;
    m->len = m->cap = 0;
    return 0;
}

void mux_padding(uint8_t *dst, uint64_t off, size_t n)
{
    /* a null packet: PID 0x1FFF, no payload_unit_start, payload only,
     * continuity counter 0, 0xff bytes */
    static const uint8_t head[4] = { 0x47, 0x1f, 0xff, 0x10 };
    for (size_t i = 0; i < n; i++) {
        uint64_t at = (off + i) % MUX_TS_PACKET;
        dst[i] = at < 4 ? head[at] : 0xff;
    }
}

size_t mux_read_padded(const uint8_t *data, size_t len, uint64_t planned,
                       uint64_t off, uint8_t *dst, size_t n)
{
    size_t done = 0;
    if (off >= planned)
        return 0;
    if (n > planned - off)
        n = (size_t)(planned - off);
    if (off < len) {
        done = len - (size_t)off < n ? len - (size_t)off : n;
        memcpy(dst, data + off, done);
    }
    if (done < n)
        mux_padding(dst + done, off + done - len, n - done);
    return n;
}

void mux_free(struct mux **pm)
{
    struct mux *m = pm ? *pm : NULL;
    if (!m)
        return;
    if (m->fmt) {
        if (m->fmt->pb) {
            av_freep(&m->fmt->pb->buffer);
            avio_context_free(&m->fmt->pb);
        }
        avformat_free_context(m->fmt);
    }
    av_packet_free(&m->view);
    fmp4_seg_free(&m->fmp4);
    free(m->buf);
    free(m);
    *pm = NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t *sorted_copy(const int64_t *v, size_t n)
{
    int64_t *s = malloc((n ? n : 1) * sizeof(*s));
    if (s) {
        memcpy(s, v, n * sizeof(*s));
        qsort(s, n, sizeof(*s), cmp_i64);
    }
    return s;
}

int mux_dts_shift(const int64_t *pts, size_t n, int64_t *shift)
{
    int64_t *s = sorted_copy(pts, n);
    if (!s)
        return -ENOMEM;
    *shift = 0;
    for (size_t k = 0; k < n; k++)
        if (s[k] - pts[k] > *shift)
            *shift = s[k] - pts[k];
    free(s);
    return 0;
}

int mux_decode_times(const int64_t *pts, size_t n, int64_t shift, int64_t *dts)
{
    int64_t *s = sorted_copy(pts, n);
    if (!s)
        return -ENOMEM;
    for (size_t k = 0; k < n; k++)
        dts[k] = s[k] - shift;
    free(s);
    return 0;
}

int mux_adts_header(const AVCodecParameters *par, int payload,
                    uint8_t out[MUX_ADTS_HEADER])
{
    const uint8_t *x = par->extradata;
    /* the AudioSpecificConfig's first two bytes: object type, sampling
     * frequency index, channel configuration; a frame length of 13 bits */
    if (!x || par->extradata_size < 2 || payload < 0 ||
        payload > 0x1fff - MUX_ADTS_HEADER)
        return AVERROR(EINVAL);
    int aot = x[0] >> 3;
    int rate_index = ((x[0] & 7) << 1) | (x[1] >> 7);
    int channels = (x[1] >> 3) & 0xf;
    int len = payload + MUX_ADTS_HEADER;
    /* ADTS has two bits for the object type (1..4) and no room for an
     * explicit sampling frequency (index 15) */
    if (aot < 1 || aot > 4 || rate_index > 12)
        return AVERROR(EINVAL);

    out[0] = 0xff;                                   /* syncword          */
    out[1] = 0xf1;                                   /* MPEG-4, no CRC    */
    out[2] = (uint8_t)(((aot - 1) << 6) | (rate_index << 2) | (channels >> 2));
    out[3] = (uint8_t)(((channels & 3) << 6) | (len >> 11));
    out[4] = (uint8_t)((len >> 3) & 0xff);
    out[5] = (uint8_t)(((len & 7) << 5) | 0x1f);     /* buffer fullness   */
    out[6] = 0xfc;                                   /* VBR, one frame    */
    return 0;
}
