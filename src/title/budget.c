/*
 * budget: per-segment byte budgets of the transcoded video rungs and
 * audio renditions, from the source's own packet sizes (budget.h).
 */
#include <math.h>

#include "hlsfs/budget.h"
#include "hlsfs/ladder.h"

int budget_codec_percent(enum AVCodecID codec)
{
    switch (codec) {
    case AV_CODEC_ID_H264:       return 100;
    case AV_CODEC_ID_HEVC:
    case AV_CODEC_ID_VP9:        return 150;
    case AV_CODEC_ID_AV1:
    case AV_CODEC_ID_VVC:        return 200;
    case AV_CODEC_ID_VP8:        return 110;
    case AV_CODEC_ID_MPEG4:
    case AV_CODEC_ID_H263:
    case AV_CODEC_ID_H263P:
    case AV_CODEC_ID_MSMPEG4V3:  return 70;
    case AV_CODEC_ID_MPEG2VIDEO: return 60;
    case AV_CODEC_ID_MPEG1VIDEO: return 55;
    default:                     return 100;
    }
}

uint64_t budget_video_payload_bytes(const struct budget_source *src, uint64_t src_bytes,
                                    long frames, int64_t duration_ms,
                                    int rung_w, int rung_h, int64_t bit_rate)
{
    uint64_t cap = ladder_video_payload_bytes(bit_rate, duration_ms);
    uint64_t f = frames > 0 ? (uint64_t)frames : 1;
    uint64_t src_px = (uint64_t)(src->width > 0 ? src->width : 0) *
                      (uint64_t)(src->height > 0 ? src->height : 0);
    uint64_t px = (uint64_t)(rung_w > 0 ? rung_w : 0) * (uint64_t)(rung_h > 0 ? rung_h : 0);

    if (!src_px || !px)
        return cap;             /* nothing to scale from: the bound      */
    /* ratio^0.75 as sqrt(ratio) * sqrt(sqrt(ratio)): square roots are
     * correctly rounded everywhere, pow() need not be */
    double ratio = (double)px / (double)src_px;
    double scale = sqrt(ratio) * sqrt(sqrt(ratio));
    /* less the headers every source frame carries whatever it shows
     * (AV1's and VP9's frame headers, start codes) */
    uint64_t pictures = src_bytes > f * BUDGET_SOURCE_FRAME_BYTES
                      ? src_bytes - f * BUDGET_SOURCE_FRAME_BYTES : 0;
    double need = (double)pictures * budget_codec_percent(src->codec) / 100.0 * scale *
                  BUDGET_MARGIN_PCT / 100.0;
    uint64_t want = (uint64_t)fmin(need, 1e18) + f * BUDGET_FRAME_BYTES;
    uint64_t floor_bytes = f * (BUDGET_FLOOR_FRAME_BYTES + px / BUDGET_FLOOR_FRAME_PIXELS) +
                           px / BUDGET_FLOOR_KEY_PIXELS;

    if (want < floor_bytes)
        want = floor_bytes;
    return want < cap ? want : cap;
}

uint64_t budget_iframe_payload_bytes(uint64_t key_bytes, int64_t key_px, int w, int h,
                                     uint64_t bound)
{
    uint64_t px = (uint64_t)(w > 0 ? w : 0) * (uint64_t)(h > 0 ? h : 0);
    if (!key_bytes || key_px <= 0 || !px)
        return bound;
    double ratio = (double)px / (double)key_px;
    double need = (double)key_bytes * sqrt(ratio) * sqrt(sqrt(ratio)) *
                  BUDGET_MARGIN_PCT / 100.0;
    uint64_t want = (uint64_t)fmin(need, 1e18) + BUDGET_FLOOR_IFRAME_BYTES +
                    px / BUDGET_FLOOR_KEY_PIXELS;
    return want < bound ? want : bound;
}

int budget_audio_codec_percent(enum AVCodecID codec)
{
    switch (codec) {
    case AV_CODEC_ID_AAC:        return 100;
    case AV_CODEC_ID_MP3:        return 75;
    case AV_CODEC_ID_OPUS:
    case AV_CODEC_ID_VORBIS:     return 150;
    case AV_CODEC_ID_AC3:
    case AV_CODEC_ID_EAC3:
    case AV_CODEC_ID_MP2:        return 60;
    default:                     return 100;
    }
}

int budget_audio_packet_silent(enum AVCodecID codec, int channels, uint32_t size)
{
    int pairs = channels > 2 ? (channels + 1) / 2 : 1;
    if (codec != AV_CODEC_ID_AAC && codec != AV_CODEC_ID_OPUS)
        return 0;
    return size <= (uint32_t)(pairs * BUDGET_AUDIO_SILENT_PKT_BYTES);
}

uint64_t budget_audio_payload_bytes(enum AVCodecID codec, int channels, uint64_t src_bytes,
                                    long frames, long silent_frames, int sample_rate,
                                    int64_t bit_rate)
{
    if (silent_frames < 0)
        silent_frames = 0;
    if (silent_frames > frames)
        silent_frames = frames;
    uint64_t cap = ladder_audio_payload_bytes(bit_rate, sample_rate, frames);
    uint64_t floor_bytes = ladder_audio_payload_bytes(BUDGET_AUDIO_FLOOR_RATE, sample_rate,
                                                      frames - silent_frames) +
                           (uint64_t)silent_frames * BUDGET_AUDIO_SILENT_FRAME_BYTES;
    double need = (double)src_bytes * budget_audio_codec_percent(codec) / 100.0 *
                  BUDGET_MARGIN_PCT / 100.0;
    if (channels > 2)
        need *= sqrt(2.0 / channels);
    uint64_t want = (uint64_t)fmin(need, 1e18);
    if (want < floor_bytes)
        want = floor_bytes;
    return want < cap ? want : cap;
}
