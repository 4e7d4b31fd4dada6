/*
 * cmaf: the init segments of a title's fMP4 renditions (cmaf.h), made
 * once at analysis from the source's stream parameters or, for encoded
 * renditions, from the parameters their encoders are given.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>

#include "hlsfs/audio.h"
#include "hlsfs/cmaf.h"
#include "hlsfs/fmp4.h"
#include "hlsfs/probe.h"
#include "hlsfs/title.h"

static int make_init(struct title_rendition *r, const struct fmp4_track *trk)
{
    char codecs[sizeof(r->codecs)];
    uint8_t *buf;
    size_t len;
    int ret = fmp4_init_segment(trk, &buf, &len, codecs, sizeof(codecs));
    if (ret < 0)
        return ret;
    free(r->init.data);
    r->init.data = buf;
    r->init.len = len;
    memcpy(r->codecs, codecs, sizeof(codecs));
    return 0;
}

int cmaf_copy_init(const struct title *t, struct title_rendition *r,
                   const struct probe_stream *s)
{
    const struct fmp4_track trk = {
        .kind = r->kind == REND_VIDEO ? FMP4_VIDEO : FMP4_AUDIO, .par = s->par,
        .tb = r->tb, .rotation = r->rotation, .frame_rate = t->frame_rate,
        .language = s->language,
    };
    int ret = make_init(r, &trk);
    if (ret >= 0 && r->kind == REND_VIDEO) {
        const char *range = fmp4_video_range(s->par);
        snprintf(r->video_range, sizeof(r->video_range), "%s",
                 strcmp(range, "SDR") ? range : "");
    }
    return ret;
}

static int hex_byte(const char *c)
{
    int v = 0;
    for (int i = 0; i < 2; i++) {
        int d = c[i] >= '0' && c[i] <= '9' ? c[i] - '0'
              : c[i] >= 'a' && c[i] <= 'f' ? c[i] - 'a' + 10
              : c[i] >= 'A' && c[i] <= 'F' ? c[i] - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

int cmaf_rung_init(const struct title *t, struct title_rendition *r)
{
    AVCodecParameters *par = avcodec_parameters_alloc();
    int ret = AVERROR(EINVAL);
    if (!par)
        return AVERROR(ENOMEM);
    /* an avcC with the profile, constraints and level of CODECS and no
     * parameter sets: x264 puts them before its IDR frame */
    const char *c = r->codecs;
    if (strlen(c) == 11 && (!strncmp(c, "avc1.", 5) || !strncmp(c, "avc3.", 5))) {
        int p = hex_byte(c + 5), k = hex_byte(c + 7), l = hex_byte(c + 9);
        if (p >= 0 && k >= 0 && l >= 0 &&
            (par->extradata = av_mallocz(7 + AV_INPUT_BUFFER_PADDING_SIZE))) {
            const uint8_t avcc[7] = { 1, (uint8_t)p, (uint8_t)k, (uint8_t)l, 0xff, 0xe0, 0 };
            memcpy(par->extradata, avcc, sizeof(avcc));
            par->extradata_size = 7;
            par->codec_type = AVMEDIA_TYPE_VIDEO;
            par->codec_id = AV_CODEC_ID_H264;
            par->width = r->width;
            par->height = r->height;
            par->format = AV_PIX_FMT_YUV420P;
            const struct fmp4_track trk = {
                .kind = FMP4_VIDEO, .par = par, .tb = r->tb, .frame_rate = t->frame_rate,
                .in_band = 1,
            };
            ret = make_init(r, &trk);
        } else if (p >= 0 && k >= 0 && l >= 0) {
            ret = AVERROR(ENOMEM);
        }
    }
    avcodec_parameters_free(&par);
    return ret;
}

int cmaf_audio_init(const struct title *t, struct title_rendition *r,
                    int sample_rate, int64_t bit_rate)
{
    const struct audio_params ap = { .sample_rate = sample_rate, .bit_rate = bit_rate,
                                     .channels = r->channels > 2 ? r->channels : 0 };
    AVCodecParameters *par = avcodec_parameters_alloc();
    int ret;
    (void)t;
    if (!par)
        return AVERROR(ENOMEM);
    if ((ret = audio_output_parameters(&ap, par)) >= 0) {
        const struct fmp4_track trk = { .kind = FMP4_AUDIO, .par = par, .tb = r->tb };
        ret = make_init(r, &trk);
    }
    avcodec_parameters_free(&par);
    return ret;
}
