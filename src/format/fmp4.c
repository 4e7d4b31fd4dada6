/*
 * fmp4: fragmented MP4 (CMAF) init and media segments, box by box
 * (ISO/IEC 14496-12; sample entries of 14496-15 for H.264 and HEVC, the
 * AV1 and VP9 ISOBMFF bindings, ETSI TS 102 366 for AC-3 and E-AC-3,
 * 14496-14 for AAC), and their exact size model (fmp4.h).
 *
 * A media segment is one moof (mfhd, traf with tfhd, tfdt and one trun)
 * and one mdat. The trun of a video track gives every sample's duration,
 * size, flags and signed composition offset; that of an audio track its
 * duration and size (its samples are all sync samples, trex's default).
 * Nothing else varies, so a segment takes FMP4_BOXES_BYTES plus a fixed
 * number of bytes per sample plus its samples' bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/channel_layout.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/mathematics.h>
#include <libavutil/pixdesc.h>

#include "hlsfs/fmp4.h"

/* moof 8, mfhd 16, traf 8, tfhd 16, tfdt 20, trun 20 without its samples,
 * and the mdat header */
#define FMP4_BOXES_BYTES 96
#define FMP4_VIDEO_SAMPLE_BYTES 16     /* duration, size, flags, offset  */
#define FMP4_AUDIO_SAMPLE_BYTES 8      /* duration, size                 */

#define SAMPLE_FLAGS_SYNC     0x02000000u  /* depends on no other sample */
#define SAMPLE_FLAGS_NON_SYNC 0x01010000u  /* depends on others, non-sync */

/* ---- a growing big-endian byte buffer, with boxes ---------------------- */

struct bw {
    uint8_t *p;
    size_t   len, cap;
    int      err;
};

static void bw_put(struct bw *b, const void *data, size_t n)
{
    if (b->err)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *np = realloc(b->p, cap);
        if (!np) {
            b->err = AVERROR(ENOMEM);
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void bw_zero(struct bw *b, size_t n)
{
    static const uint8_t zero[64];
    while (n) {
        size_t k = n < sizeof(zero) ? n : sizeof(zero);
        bw_put(b, zero, k);
        n -= k;
    }
}

static void u8(struct bw *b, unsigned v)
{
    uint8_t x = (uint8_t)v;
    bw_put(b, &x, 1);
}

static void u16(struct bw *b, unsigned v)
{
    uint8_t x[2];
    AV_WB16(x, v);
    bw_put(b, x, 2);
}

static void u24(struct bw *b, unsigned v)
{
    uint8_t x[3];
    AV_WB24(x, v);
    bw_put(b, x, 3);
}

static void u32(struct bw *b, uint32_t v)
{
    uint8_t x[4];
    AV_WB32(x, v);
    bw_put(b, x, 4);
}

static void u64(struct bw *b, uint64_t v)
{
    uint8_t x[8];
    AV_WB64(x, v);
    bw_put(b, x, 8);
}

static void fourcc(struct bw *b, const char *s)
{
    bw_put(b, s, 4);
}

static size_t box_open(struct bw *b, const char *type)
{
    size_t at = b->len;
    u32(b, 0);
    fourcc(b, type);
    return at;
}

static size_t fullbox_open(struct bw *b, const char *type, unsigned version,
                           unsigned flags)
{
    size_t at = box_open(b, type);
    u8(b, version);
    u24(b, flags);
    return at;
}

static void box_close(struct bw *b, size_t at)
{
    if (!b->err)
        AV_WB32(b->p + at, (uint32_t)(b->len - at));
}

/* ---- bits, for dac3 and dec3 ------------------------------------------- */

struct bits {
    uint8_t  buf[16];
    unsigned pos;                   /* in bits */
};

static void bits_put(struct bits *w, unsigned n, unsigned v)
{
    for (unsigned i = n; i-- > 0;) {
        if (w->pos / 8 >= sizeof(w->buf))
            return;
        if ((v >> i) & 1)
            w->buf[w->pos / 8] |= (uint8_t)(0x80 >> (w->pos % 8));
        w->pos++;
    }
}

/* ---- init segment ------------------------------------------------------ */

uint32_t fmp4_timescale(AVRational tb, enum fmp4_kind kind)
{
    if (tb.num == 1 && tb.den > 0)
        return (uint32_t)tb.den;
    return kind == FMP4_VIDEO ? 90000 : 48000;
}

const char *fmp4_video_range(const AVCodecParameters *par)
{
    if (par->color_trc == AVCOL_TRC_SMPTE2084)
        return "PQ";
    if (par->color_trc == AVCOL_TRC_ARIB_STD_B67)
        return "HLG";
    return "SDR";
}

static int is_hdr(const AVCodecParameters *par)
{
    return strcmp(fmp4_video_range(par), "SDR") != 0;
}

/* The transformation matrix of a clockwise rotation (16.16, and 2.30 in
 * the third column), moving the picture back into the positive quadrant
 * as QuickTime expects. */
static void write_matrix(struct bw *b, int rotation, int w, int h)
{
    int32_t m[9] = { 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000 };
    switch (rotation) {
    case 90:
        m[0] = 0;       m[1] = 0x10000;  m[3] = -0x10000; m[4] = 0;
        m[6] = h * 0x10000;
        break;
    case 180:
        m[0] = -0x10000; m[4] = -0x10000;
        m[6] = w * 0x10000; m[7] = h * 0x10000;
        break;
    case 270:
        m[0] = 0;       m[1] = -0x10000; m[3] = 0x10000;  m[4] = 0;
        m[7] = w * 0x10000;
        break;
    default:
        break;
    }
    for (int i = 0; i < 9; i++)
        u32(b, (uint32_t)m[i]);
}

static int bit_depth(const AVCodecParameters *par)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get((enum AVPixelFormat)par->format);
    return d ? d->comp[0].depth : 8;
}

/* "avc1.PPCCLL" from an avcC. */
static int avc_config(struct bw *b, const struct fmp4_track *trk, char *codecs,
                      size_t size)
{
    const AVCodecParameters *par = trk->par;
    const uint8_t *x = par->extradata;
    if (!x || par->extradata_size < 7 || x[0] != 1)
        return AVERROR(EINVAL);
    size_t at = box_open(b, "avcC");
    bw_put(b, x, (size_t)par->extradata_size);
    box_close(b, at);
    snprintf(codecs, size, "%s.%02x%02x%02x", trk->in_band ? "avc3" : "avc1",
             x[1], x[2], x[3]);
    return 0;
}

/* "hvc1.P.C.TL.B..." (ISO/IEC 14496-15 Annex E) from an hvcC. */
static int hevc_config(struct bw *b, const AVCodecParameters *par, char *codecs,
                       size_t size)
{
    const uint8_t *x = par->extradata;
    if (!x || par->extradata_size < 23 || x[0] != 1)
        return AVERROR(EINVAL);
    size_t at = box_open(b, "hvcC");
    bw_put(b, x, (size_t)par->extradata_size);
    box_close(b, at);

    static const char *const space[] = { "", "A", "B", "C" };
    uint32_t compat = AV_RB32(x + 2), rev = 0;
    for (int i = 0; i < 32; i++)
        if (compat & (1u << i))
            rev |= 1u << (31 - i);
    int n = snprintf(codecs, size, "hvc1.%s%d.%X.%c%d", space[x[1] >> 6], x[1] & 0x1f,
                     rev, (x[1] & 0x20) ? 'H' : 'L', x[12]);
    int last = 5;                   /* constraint bytes, trailing zeros left out */
    while (last >= 0 && !x[6 + last])
        last--;
    for (int i = 0; i <= last && n > 0 && (size_t)n < size; i++)
        n += snprintf(codecs + n, size - (size_t)n, ".%X", x[6 + i]);
    return 0;
}

/* "av01.P.LLT.DD" (and the colour fields for HDR) from an av1C. */
static int av1_config(struct bw *b, const AVCodecParameters *par, char *codecs,
                      size_t size)
{
    const uint8_t *x = par->extradata;
    if (!x || par->extradata_size < 4 || x[0] != 0x81)
        return AVERROR(EINVAL);
    size_t at = box_open(b, "av1C");
    bw_put(b, x, (size_t)par->extradata_size);
    box_close(b, at);
    int profile = x[1] >> 5, level = x[1] & 0x1f, tier = x[2] >> 7;
    int depth = (x[2] & 0x40) ? ((x[2] & 0x20) ? 12 : 10) : 8;
    int n = snprintf(codecs, size, "av01.%d.%02d%c.%02d", profile, level,
                     tier ? 'H' : 'M', depth);
    if (is_hdr(par) && n > 0 && (size_t)n < size) {
        int mono = !!(x[2] & 0x10), sx = !!(x[2] & 0x08), sy = !!(x[2] & 0x04);
        snprintf(codecs + n, size - (size_t)n, ".%d.%d%d%d.%02d.%02d.%02d.%d", mono, sx, sy,
                 sx && sy ? x[2] & 3 : 0, par->color_primaries, par->color_trc,
                 par->color_space, par->color_range == AVCOL_RANGE_JPEG);
    }
    return 0;
}

/* VP9's level (its specification, Annex A) for a picture and rate. */
static int vp9_level(int w, int h, double fps)
{
    static const struct { int level; int64_t size, rate; } t[] = {
        { 10, 36864, 829440 },        { 11, 73728, 2764800 },
        { 20, 122880, 4608000 },      { 21, 245760, 9216000 },
        { 30, 552960, 20736000 },     { 31, 983040, 36864000 },
        { 40, 2228224, 83558400 },    { 41, 2228224, 160432128 },
        { 50, 8912896, 311951360 },   { 51, 8912896, 588251136 },
        { 52, 8912896, 1176502272 },  { 60, 35651584, 1176502272 },
        { 61, 35651584, 2353004544 }, { 62, 35651584, 4706009088 },
    };
    int64_t pixels = (int64_t)w * h;
    double rate = (double)pixels * (fps > 0 ? fps : 30);
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (pixels <= t[i].size && rate <= (double)t[i].rate)
            return t[i].level;
    return 62;
}

/* vpcC (version 1) from the stream's parameters, and "vp09.PP.LL.DD". */
static int vp9_config(struct bw *b, const struct fmp4_track *trk, char *codecs,
                      size_t size)
{
    const AVCodecParameters *par = trk->par;
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get((enum AVPixelFormat)par->format);
    int depth = bit_depth(par);
    int sub = 1;                            /* 4:2:0, co-located with luma */
    if (d && d->log2_chroma_w == 1 && d->log2_chroma_h == 0)
        sub = 2;
    else if (d && d->log2_chroma_w == 0 && d->log2_chroma_h == 0)
        sub = 3;
    else if (par->chroma_location == AVCHROMA_LOC_LEFT)
        sub = 0;
    int profile = par->profile >= 0 && par->profile <= 3 ? par->profile
                : (depth > 8 ? 2 : 0) + (sub >= 2);
    int level = par->level > 0 && par->level <= 62 ? par->level
              : vp9_level(par->width, par->height, trk->frame_rate);
    int full = par->color_range == AVCOL_RANGE_JPEG;
    size_t at = fullbox_open(b, "vpcC", 1, 0);
    u8(b, (unsigned)profile);
    u8(b, (unsigned)level);
    u8(b, (unsigned)((depth << 4) | (sub << 1) | full));
    u8(b, par->color_primaries);
    u8(b, par->color_trc);
    u8(b, par->color_space);
    u16(b, 0);
    box_close(b, at);
    int n = snprintf(codecs, size, "vp09.%02d.%02d.%02d", profile, level, depth);
    if (is_hdr(par) && n > 0 && (size_t)n < size)
        snprintf(codecs + n, size - (size_t)n, ".%02d.%02d.%02d.%02d.%02d", sub,
                 par->color_primaries, par->color_trc, par->color_space, full);
    return 0;
}

struct bitreader {
    const uint8_t *p;
    int            size, pos;      /* pos in bits */
};

static unsigned bits_get(struct bitreader *r, int n)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++, r->pos++)
        v = (v << 1) | (r->pos / 8 < r->size ? (r->p[r->pos / 8] >> (7 - r->pos % 8)) & 1 : 0);
    return v;
}

int fmp4_vp9_keyframe_params(AVCodecParameters *par, const uint8_t *data, int size)
{
    /* VP9 bitstream specification 6.2: uncompressed_header, color_config */
    static const enum AVColorSpace spaces[8] = {
        AVCOL_SPC_UNSPECIFIED, AVCOL_SPC_BT470BG, AVCOL_SPC_BT709, AVCOL_SPC_SMPTE170M,
        AVCOL_SPC_SMPTE240M, AVCOL_SPC_BT2020_NCL, AVCOL_SPC_RESERVED, AVCOL_SPC_RGB,
    };
    struct bitreader r = { data, size, 0 };
    if (size < 8 || bits_get(&r, 2) != 2)
        return 0;
    int profile = (int)bits_get(&r, 1);
    profile |= (int)bits_get(&r, 1) << 1;
    if (profile == 3)
        bits_get(&r, 1);
    if (bits_get(&r, 1))                /* show_existing_frame */
        return 0;
    if (bits_get(&r, 1) != 0)           /* frame_type: not a key frame */
        return 0;
    bits_get(&r, 2);                    /* show_frame, error_resilient_mode */
    if (bits_get(&r, 24) != 0x498342)
        return 0;
    int depth = profile >= 2 ? (bits_get(&r, 1) ? 12 : 10) : 8;
    int cs = (int)bits_get(&r, 3), full = 1, sx = 0, sy = 0;
    if (cs != 7) {
        full = (int)bits_get(&r, 1);
        sx = sy = 1;
        if (profile == 1 || profile == 3) {
            sx = (int)bits_get(&r, 1);
            sy = (int)bits_get(&r, 1);
        }
    }
    static const enum AVPixelFormat fmts[3][3] = {
        /* 4:2:0, 4:2:2, 4:4:4 at 8, 10, 12 bits */
        { AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUV420P10, AV_PIX_FMT_YUV420P12 },
        { AV_PIX_FMT_YUV422P, AV_PIX_FMT_YUV422P10, AV_PIX_FMT_YUV422P12 },
        { AV_PIX_FMT_YUV444P, AV_PIX_FMT_YUV444P10, AV_PIX_FMT_YUV444P12 },
    };
    int layout = sx && sy ? 0 : sx ? 1 : 2;
    par->profile = profile;
    par->format = fmts[layout][(depth - 8) / 2];
    if (par->color_space == AVCOL_SPC_UNSPECIFIED)
        par->color_space = spaces[cs];
    par->color_range = full ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
    return 1;
}

static void colour_boxes(struct bw *b, const AVCodecParameters *par)
{
    if (par->color_primaries != AVCOL_PRI_UNSPECIFIED ||
        par->color_trc != AVCOL_TRC_UNSPECIFIED ||
        par->color_space != AVCOL_SPC_UNSPECIFIED) {
        size_t at = box_open(b, "colr");
        fourcc(b, "nclx");
        u16(b, par->color_primaries);
        u16(b, par->color_trc);
        u16(b, par->color_space);
        u8(b, par->color_range == AVCOL_RANGE_JPEG ? 0x80 : 0);
        box_close(b, at);
    }
    AVRational sar = par->sample_aspect_ratio;
    if (sar.num > 0 && sar.den > 0 && sar.num != sar.den) {
        size_t at = box_open(b, "pasp");
        u32(b, (uint32_t)sar.num);
        u32(b, (uint32_t)sar.den);
        box_close(b, at);
    }
}

static int video_entry(struct bw *b, const struct fmp4_track *trk, char *codecs,
                       size_t size)
{
    const AVCodecParameters *par = trk->par;
    const char *type;
    switch (par->codec_id) {
    case AV_CODEC_ID_H264: type = trk->in_band ? "avc3" : "avc1"; break;
    case AV_CODEC_ID_HEVC: type = "hvc1"; break;
    case AV_CODEC_ID_AV1:  type = "av01"; break;
    case AV_CODEC_ID_VP9:  type = "vp09"; break;
    default: return AVERROR(ENOSYS);
    }
    if (par->width <= 0 || par->height <= 0 || par->width > 0xffff || par->height > 0xffff)
        return AVERROR(EINVAL);
    size_t at = box_open(b, type);
    bw_zero(b, 6);
    u16(b, 1);                              /* data reference index  */
    bw_zero(b, 16);
    u16(b, (unsigned)par->width);
    u16(b, (unsigned)par->height);
    u32(b, 0x00480000);                     /* 72 dpi                */
    u32(b, 0x00480000);
    u32(b, 0);
    u16(b, 1);                              /* frame count           */
    bw_zero(b, 32);                         /* compressor name       */
    u16(b, 0x0018);
    u16(b, 0xffff);
    int ret;
    switch (par->codec_id) {
    case AV_CODEC_ID_H264: ret = avc_config(b, trk, codecs, size); break;
    case AV_CODEC_ID_HEVC: ret = hevc_config(b, par, codecs, size); break;
    case AV_CODEC_ID_AV1:  ret = av1_config(b, par, codecs, size); break;
    default:               ret = vp9_config(b, trk, codecs, size); break;
    }
    if (ret < 0)
        return ret;
    colour_boxes(b, par);
    box_close(b, at);
    return 0;
}

static void descriptor(struct bw *b, unsigned tag, size_t len)
{
    u8(b, tag);
    u8(b, (unsigned)len);           /* every descriptor here is < 128 bytes */
}

static int aac_config(struct bw *b, const AVCodecParameters *par, char *codecs,
                      size_t size)
{
    const uint8_t *x = par->extradata;
    int n = par->extradata_size;
    if (!x || n < 2 || n > 64)
        return AVERROR(EINVAL);
    size_t at = fullbox_open(b, "esds", 0, 0);
    descriptor(b, 0x03, 3 + 2 + 13 + 2 + (size_t)n + 3);    /* ES            */
    u16(b, 0);                                              /* ES_ID         */
    u8(b, 0);
    descriptor(b, 0x04, 13 + 2 + (size_t)n);                /* decoder config */
    u8(b, 0x40);                                            /* MPEG-4 audio  */
    u8(b, 0x15);                                            /* audio stream  */
    u24(b, 0);
    uint32_t rate = par->bit_rate > 0 && par->bit_rate < UINT32_MAX ? (uint32_t)par->bit_rate : 0;
    u32(b, rate);
    u32(b, rate);
    descriptor(b, 0x05, (size_t)n);                         /* ASC           */
    bw_put(b, x, (size_t)n);
    descriptor(b, 0x06, 1);                                 /* SL config     */
    u8(b, 0x02);
    box_close(b, at);
    int aot = x[0] >> 3;
    if (aot == 31 && n >= 2)
        aot = 32 + (((x[0] & 7) << 3) | (x[1] >> 5));
    snprintf(codecs, size, "mp4a.40.%d", aot);
    return 0;
}

/* AC-3's acmod and lfeon for a channel count (with LFE when 'lfe'). */
static int ac3_mode(const AVCodecParameters *par, int *acmod, int *lfe)
{
    int n = par->ch_layout.nb_channels;
    AVChannelLayout layout = { 0 };
    /* a layout the container did not name (Matroska): the usual one */
    if (par->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
        av_channel_layout_default(&layout, n);
    else if (av_channel_layout_copy(&layout, &par->ch_layout) < 0)
        return AVERROR(ENOMEM);
    *lfe = av_channel_layout_index_from_channel(&layout, AV_CHAN_LOW_FREQUENCY) >= 0;
    av_channel_layout_uninit(&layout);
    static const int modes[] = { -1, 1, 2, 3, 6, 7 };  /* 1/0 2/0 3/0 2/2 3/2 */
    int full = n - *lfe;
    if (full < 1 || full > 5)
        return AVERROR(EINVAL);
    *acmod = modes[full];
    return 0;
}

static int ac3_fscod(int rate)
{
    return rate == 48000 ? 0 : rate == 44100 ? 1 : rate == 32000 ? 2 : -1;
}

static int ac3_config(struct bw *b, const AVCodecParameters *par, char *codecs,
                      size_t size)
{
    static const int kbps[] = { 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192,
                                224, 256, 320, 384, 448, 512, 576, 640 };
    int acmod, lfe, fscod = ac3_fscod(par->sample_rate), code = -1;
    if (fscod < 0 || ac3_mode(par, &acmod, &lfe) < 0)
        return AVERROR(EINVAL);
    for (int i = 0; i < (int)(sizeof(kbps) / sizeof(kbps[0])); i++)
        if (par->bit_rate / 1000 == kbps[i])
            code = i;
    if (code < 0)
        code = 15;                  /* 448 kbit/s, when the rate is unknown */
    struct bits w = { { 0 }, 0 };
    bits_put(&w, 2, (unsigned)fscod);
    bits_put(&w, 5, 8);             /* bsid                                */
    bits_put(&w, 3, 0);             /* bsmod: complete main                */
    bits_put(&w, 3, (unsigned)acmod);
    bits_put(&w, 1, (unsigned)lfe);
    bits_put(&w, 5, (unsigned)code);
    bits_put(&w, 5, 0);
    size_t at = box_open(b, "dac3");
    bw_put(b, w.buf, 3);
    box_close(b, at);
    snprintf(codecs, size, "ac-3");
    return 0;
}

static int eac3_config(struct bw *b, const AVCodecParameters *par, char *codecs,
                       size_t size)
{
    int acmod, lfe, fscod = ac3_fscod(par->sample_rate);
    if (fscod < 0 || ac3_mode(par, &acmod, &lfe) < 0)
        return AVERROR(EINVAL);
    int64_t kbps = par->bit_rate > 0 ? par->bit_rate / 1000 : 640;
    struct bits w = { { 0 }, 0 };
    bits_put(&w, 13, (unsigned)(kbps < 8191 ? kbps : 8191));   /* data_rate */
    bits_put(&w, 3, 0);             /* one independent substream           */
    bits_put(&w, 2, (unsigned)fscod);
    bits_put(&w, 5, 16);            /* bsid                                */
    bits_put(&w, 1, 0);
    bits_put(&w, 1, 0);             /* asvc                                */
    bits_put(&w, 3, 0);             /* bsmod                               */
    bits_put(&w, 3, (unsigned)acmod);
    bits_put(&w, 1, (unsigned)lfe);
    bits_put(&w, 3, 0);
    bits_put(&w, 4, 0);             /* no dependent substreams             */
    bits_put(&w, 1, 0);
    size_t at = box_open(b, "dec3");
    bw_put(b, w.buf, (w.pos + 7) / 8);
    box_close(b, at);
    snprintf(codecs, size, "ec-3");
    return 0;
}

static int audio_entry(struct bw *b, const struct fmp4_track *trk, char *codecs,
                       size_t size)
{
    const AVCodecParameters *par = trk->par;
    const char *type;
    switch (par->codec_id) {
    case AV_CODEC_ID_AAC:  type = "mp4a"; break;
    case AV_CODEC_ID_AC3:  type = "ac-3"; break;
    case AV_CODEC_ID_EAC3: type = "ec-3"; break;
    default: return AVERROR(ENOSYS);
    }
    int channels = par->ch_layout.nb_channels;
    if (channels < 1 || par->sample_rate <= 0)
        return AVERROR(EINVAL);
    size_t at = box_open(b, type);
    bw_zero(b, 6);
    u16(b, 1);                              /* data reference index  */
    bw_zero(b, 8);
    u16(b, (unsigned)channels);
    u16(b, 16);
    u32(b, 0);
    u32(b, par->sample_rate <= 0xffff ? (uint32_t)par->sample_rate << 16 : 0);
    int ret = par->codec_id == AV_CODEC_ID_AAC ? aac_config(b, par, codecs, size)
            : par->codec_id == AV_CODEC_ID_AC3 ? ac3_config(b, par, codecs, size)
            : eac3_config(b, par, codecs, size);
    if (ret < 0)
        return ret;
    box_close(b, at);
    return 0;
}

/* ISO 639-2/T packed in 15 bits; "und" when the tag is not three letters. */
static unsigned packed_language(const char *lang)
{
    const char *l = lang && strlen(lang) == 3 ? lang : "und";
    unsigned v = 0;
    for (int i = 0; i < 3; i++) {
        if (l[i] < 'a' || l[i] > 'z')
            return packed_language("und");
        v = (v << 5) | (unsigned)(l[i] - 0x60);
    }
    return v;
}

int fmp4_init_segment(const struct fmp4_track *trk, uint8_t **buf, size_t *len,
                      char *codecs, size_t codecs_size)
{
    const AVCodecParameters *par = trk->par;
    int video = trk->kind == FMP4_VIDEO;
    struct bw b = { 0 };
    int ret = 0;

    *buf = NULL;
    *len = 0;
    size_t ftyp = box_open(&b, "ftyp");
    fourcc(&b, "iso6");
    u32(&b, 0);
    fourcc(&b, "iso6");
    fourcc(&b, "cmfc");
    fourcc(&b, "mp41");
    box_close(&b, ftyp);

    size_t moov = box_open(&b, "moov");
    size_t mvhd = fullbox_open(&b, "mvhd", 0, 0);
    u32(&b, 0);                 /* creation, modification: none (deterministic) */
    u32(&b, 0);
    u32(&b, 1000);
    u32(&b, 0);                 /* duration: in the fragments             */
    u32(&b, 0x00010000);
    u16(&b, 0x0100);
    bw_zero(&b, 10);
    write_matrix(&b, 0, 0, 0);
    bw_zero(&b, 24);
    u32(&b, 2);                 /* next track ID                          */
    box_close(&b, mvhd);

    size_t trak = box_open(&b, "trak");
    size_t tkhd = fullbox_open(&b, "tkhd", 0, 3);     /* enabled, in movie */
    u32(&b, 0);
    u32(&b, 0);
    u32(&b, 1);                 /* track ID                               */
    u32(&b, 0);
    u32(&b, 0);
    bw_zero(&b, 8);
    u16(&b, 0);                 /* layer                                  */
    u16(&b, 0);                 /* alternate group                        */
    u16(&b, video ? 0 : 0x0100);
    u16(&b, 0);
    int w = 0, h = 0;
    if (video) {
        AVRational sar = par->sample_aspect_ratio;
        w = par->width;
        h = par->height;
        if (sar.num > 0 && sar.den > 0)
            w = (int)av_rescale(w, sar.num, sar.den);
    }
    write_matrix(&b, video ? trk->rotation : 0, w, h);
    u32(&b, (uint32_t)w << 16);
    u32(&b, (uint32_t)h << 16);
    box_close(&b, tkhd);

    size_t mdia = box_open(&b, "mdia");
    size_t mdhd = fullbox_open(&b, "mdhd", 0, 0);
    u32(&b, 0);
    u32(&b, 0);
    u32(&b, fmp4_timescale(trk->tb, trk->kind));
    u32(&b, 0);
    u16(&b, packed_language(trk->language));
    u16(&b, 0);
    box_close(&b, mdhd);
    size_t hdlr = fullbox_open(&b, "hdlr", 0, 0);
    u32(&b, 0);
    fourcc(&b, video ? "vide" : "soun");
    bw_zero(&b, 12);
    const char *name = video ? "VideoHandler" : "SoundHandler";
    bw_put(&b, name, strlen(name) + 1);
    box_close(&b, hdlr);

    size_t minf = box_open(&b, "minf");
    if (video) {
        size_t vmhd = fullbox_open(&b, "vmhd", 0, 1);
        bw_zero(&b, 8);
        box_close(&b, vmhd);
    } else {
        size_t smhd = fullbox_open(&b, "smhd", 0, 0);
        bw_zero(&b, 4);
        box_close(&b, smhd);
    }
    size_t dinf = box_open(&b, "dinf");
    size_t dref = fullbox_open(&b, "dref", 0, 0);
    u32(&b, 1);
    size_t url = fullbox_open(&b, "url ", 0, 1);      /* in this file */
    box_close(&b, url);
    box_close(&b, dref);
    box_close(&b, dinf);

    size_t stbl = box_open(&b, "stbl");
    size_t stsd = fullbox_open(&b, "stsd", 0, 0);
    u32(&b, 1);
    if ((ret = video ? video_entry(&b, trk, codecs, codecs_size)
                     : audio_entry(&b, trk, codecs, codecs_size)) < 0)
        goto fail;
    box_close(&b, stsd);
    static const char *const empty[] = { "stts", "stsc", "stco" };
    for (int i = 0; i < 3; i++) {
        size_t at = fullbox_open(&b, empty[i], 0, 0);
        u32(&b, 0);
        box_close(&b, at);
    }
    size_t stsz = fullbox_open(&b, "stsz", 0, 0);
    u32(&b, 0);
    u32(&b, 0);
    box_close(&b, stsz);
    box_close(&b, stbl);
    box_close(&b, minf);
    box_close(&b, mdia);
    box_close(&b, trak);

    size_t mvex = box_open(&b, "mvex");
    size_t trex = fullbox_open(&b, "trex", 0, 0);
    u32(&b, 1);                 /* track ID                               */
    u32(&b, 1);                 /* sample description                     */
    u32(&b, 0);
    u32(&b, 0);
    u32(&b, 0);                 /* sample flags: sync (audio)             */
    box_close(&b, trex);
    box_close(&b, mvex);
    box_close(&b, moov);
    if ((ret = b.err) < 0)
        goto fail;
    *buf = b.p;
    *len = b.len;
    return 0;
fail:
    free(b.p);
    return ret;
}

/* ---- media segments ---------------------------------------------------- */

struct fmp4_sample {
    AVPacket *pkt;              /* its data (Annex B rewritten)           */
    int64_t   pts, dts;         /* in the timescale                       */
    int64_t   duration;
    int       key;
};

struct fmp4_seg {
    struct fmp4_seg_config cfg;
    uint32_t            timescale;
    struct fmp4_sample *s;
    size_t              n, cap;
    uint64_t            payload;
    struct bw           out;
    size_t              mdat_at;    /* where the mdat box starts          */
    int                 finished;
};

int fmp4_seg_open(struct fmp4_seg **out, const struct fmp4_seg_config *c)
{
    struct fmp4_seg *s = calloc(1, sizeof(*s));
    *out = NULL;
    if (!s)
        return AVERROR(ENOMEM);
    s->cfg = *c;
    s->timescale = fmp4_timescale(c->track_tb, c->kind);
    *out = s;
    return 0;
}

/* Annex B to 4-byte NAL lengths, into dst (new packet data). */
static int annexb_to_lengths(const AVPacket *in, AVPacket *dst)
{
    const uint8_t *p = in->data, *end = in->data + in->size;
    struct bw b = { 0 };
    const uint8_t *nal = NULL;
    int ret;
    for (const uint8_t *q = p; q + 3 <= end; q++) {
        if (q[0] || q[1] || q[2] != 1)
            continue;
        if (nal) {
            const uint8_t *e = q;
            if (e > nal && e[-1] == 0)      /* the zero byte of 00 00 00 01 */
                e--;
            u32(&b, (uint32_t)(e - nal));
            bw_put(&b, nal, (size_t)(e - nal));
        }
        nal = q + 3;
        q += 2;
    }
    if (nal) {
        u32(&b, (uint32_t)(end - nal));
        bw_put(&b, nal, (size_t)(end - nal));
    }
    if ((ret = b.err) < 0 || (ret = av_new_packet(dst, (int)b.len)) < 0) {
        free(b.p);
        return ret;
    }
    if (b.len)
        memcpy(dst->data, b.p, b.len);
    free(b.p);
    return 0;
}

int fmp4_seg_write(struct fmp4_seg *s, const AVPacket *pkt)
{
    int ret;
    if (s->finished)
        return AVERROR(EINVAL);
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        struct fmp4_sample *ns = realloc(s->s, cap * sizeof(*ns));
        if (!ns)
            return AVERROR(ENOMEM);
        s->s = ns;
        s->cap = cap;
    }
    struct fmp4_sample *x = &s->s[s->n];
    AVRational ts = { 1, (int)s->timescale };
    memset(x, 0, sizeof(*x));
    if (!(x->pkt = av_packet_alloc()))
        return AVERROR(ENOMEM);
    ret = s->cfg.annexb ? annexb_to_lengths(pkt, x->pkt) : av_packet_ref(x->pkt, pkt);
    if (ret < 0) {
        av_packet_free(&x->pkt);
        return ret;
    }
    int64_t dts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
    int64_t pts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : dts;
    if (dts == AV_NOPTS_VALUE) {
        av_packet_free(&x->pkt);
        return AVERROR(EINVAL);
    }
    x->pts = av_rescale_q(pts, s->cfg.tb, ts);
    x->dts = av_rescale_q(dts, s->cfg.tb, ts);
    x->duration = pkt->duration > 0 ? av_rescale_q(pkt->duration, s->cfg.tb, ts) : 0;
    x->key = !!(pkt->flags & AV_PKT_FLAG_KEY);
    s->payload += (uint64_t)x->pkt->size;
    s->n++;
    return 0;
}

uint64_t fmp4_segment_bytes(enum fmp4_kind kind, long samples, uint64_t payload)
{
    uint64_t per = kind == FMP4_VIDEO ? FMP4_VIDEO_SAMPLE_BYTES : FMP4_AUDIO_SAMPLE_BYTES;
    return FMP4_BOXES_BYTES + per * (uint64_t)(samples > 0 ? samples : 0) + payload;
}

uint64_t fmp4_payload_bytes(enum fmp4_kind kind, long samples, uint64_t segment_bytes)
{
    uint64_t boxes = fmp4_segment_bytes(kind, samples, 0);
    return segment_bytes > boxes ? segment_bytes - boxes : 0;
}

int fmp4_seg_finish(struct fmp4_seg *s, uint64_t *size)
{
    struct bw *b = &s->out;
    int video = s->cfg.kind == FMP4_VIDEO;
    int64_t off = (int64_t)s->timescale * FMP4_OFFSET_MS / 1000;

    if (s->finished) {
        *size = b->len;
        return 0;
    }
    s->finished = 1;
    /* decode times shifted so that the first sample's is its
     * presentation time */
    int64_t shift = s->n ? s->s[0].pts - s->s[0].dts : 0;
    int64_t base = s->n ? s->s[0].pts + off : off;
    if (base < 0 || base - off != (s->n ? s->s[0].pts : 0))
        return AVERROR(ERANGE);

    size_t moof = box_open(b, "moof");
    size_t mfhd = fullbox_open(b, "mfhd", 0, 0);
    u32(b, s->cfg.sequence);
    box_close(b, mfhd);
    size_t traf = box_open(b, "traf");
    size_t tfhd = fullbox_open(b, "tfhd", 0, 0x020000);   /* base is moof */
    u32(b, 1);
    box_close(b, tfhd);
    size_t tfdt = fullbox_open(b, "tfdt", 1, 0);
    u64(b, (uint64_t)base);
    box_close(b, tfdt);
    size_t trun = fullbox_open(b, "trun", video ? 1 : 0, video ? 0x000f01 : 0x000301);
    u32(b, (uint32_t)s->n);
    size_t data_offset = b->len;
    u32(b, 0);
    for (size_t i = 0; i < s->n; i++) {
        const struct fmp4_sample *x = &s->s[i];
        int64_t d = i + 1 < s->n ? s->s[i + 1].dts - x->dts
                  : x->duration > 0 ? x->duration
                  : i > 0 ? x->dts - s->s[i - 1].dts : 0;
        int64_t cto = x->pts - x->dts - shift;
        if (d < 0 || d > UINT32_MAX)
            d = 0;
        if (cto < INT32_MIN || cto > INT32_MAX)
            return AVERROR(ERANGE);
        u32(b, (uint32_t)d);
        u32(b, (uint32_t)x->pkt->size);
        if (video) {
            u32(b, x->key ? SAMPLE_FLAGS_SYNC : SAMPLE_FLAGS_NON_SYNC);
            u32(b, (uint32_t)(int32_t)cto);
        }
    }
    box_close(b, trun);
    box_close(b, traf);
    box_close(b, moof);
    if (!b->err)
        AV_WB32(b->p + data_offset, (uint32_t)(b->len - moof + 8));
    s->mdat_at = b->len;
    if (s->payload + 8 > UINT32_MAX)
        return AVERROR(ERANGE);
    u32(b, (uint32_t)(s->payload + 8));
    fourcc(b, "mdat");
    for (size_t i = 0; i < s->n; i++) {
        bw_put(b, s->s[i].pkt->data, (size_t)s->s[i].pkt->size);
        av_packet_free(&s->s[i].pkt);
    }
    if (b->err)
        return b->err;
    *size = b->len;
    return 0;
}

int fmp4_seg_take(struct fmp4_seg *s, uint64_t planned, uint8_t **buf, size_t *len)
{
    struct bw *b = &s->out;
    *buf = NULL;
    *len = 0;
    if (!s->finished || b->err)
        return -EINVAL;
    if (b->len > planned)
        return -EOVERFLOW;
    uint64_t slack = planned - b->len;
    if (slack && slack < FMP4_FREE_MIN) {
        /* too little room for a box: unreferenced bytes in the mdat */
        bw_zero(b, (size_t)slack);
        if (b->err)
            return -ENOMEM;
        AV_WB32(b->p + s->mdat_at, AV_RB32(b->p + s->mdat_at) + (uint32_t)slack);
    }
    if (!b->p && !(b->p = malloc(1)))
        return -ENOMEM;
    *buf = b->p;
    *len = b->len;
    memset(b, 0, sizeof(*b));
    return 0;
}

void fmp4_seg_free(struct fmp4_seg **ps)
{
    struct fmp4_seg *s = ps ? *ps : NULL;
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        av_packet_free(&s->s[i].pkt);
    free(s->s);
    free(s->out.p);
    free(s);
    *ps = NULL;
}

size_t fmp4_read_padded(const uint8_t *data, size_t len, uint64_t planned,
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
    if (done < n) {
        /* the 'free' box: its size and type, then zeros */
        uint8_t head[8];
        uint64_t box = planned - len;
        AV_WB32(head, box <= UINT32_MAX ? (uint32_t)box : 0);
        memcpy(head + 4, "free", 4);
        for (size_t i = done; i < n; i++) {
            uint64_t at = off + i - len;
            dst[i] = at < 8 ? head[at] : 0;
        }
    }
    return n;
}
