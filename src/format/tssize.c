/*
 * tssize: the MPEG-TS size model (tssize.h): closed-form bounds of what
 * mux.c's muxer writes, checked against it by test_tssize.
 */
#include <libavcodec/bsf.h>

#include "hlsfs/tssize.h"

#define TABLE_PACKETS 3          /* SDT, PAT, PMT                          */
#define PES_HEADER_MAX 19        /* start code, flags, PTS and DTS         */
#define AF_MAX 8                 /* adaptation field with PCR              */
#define AUDIO_PES_SPAN_MS 350    /* the muxer's audio delay: max_delay
                                    (0.7 s) / 2                            */
#define AAC_FRAME_MAX (8 * 768 + TSSIZE_ADTS_BYTES) /* AAC-LC: 6144 bits
                                    per channel, 8 channels at most, and
                                    the ADTS header                        */

uint64_t tssize_table_bytes(int64_t duration_ms)
{
    /* at the start, then each time the clock has moved on by a period (a
     * second more for decode-order delays) */
    uint64_t span = duration_ms > 0 ? (uint64_t)duration_ms + 1000 : 1000;
    return (span / TSSIZE_TABLE_PERIOD_MS + 1) * TABLE_PACKETS * TSSIZE_PACKET;
}

uint64_t tssize_keyframe_bytes(void)
{
    return 2 * TSSIZE_PACKET;
}

uint64_t tssize_pes_bytes(uint64_t payload)
{
    return (payload + PES_HEADER_MAX + AF_MAX + TSSIZE_PAYLOAD - 1) / TSSIZE_PAYLOAD *
           TSSIZE_PACKET;
}

int tssize_h264_insert_bound(const AVCodecParameters *par, int *length_size)
{
    *length_size = 0;
    if (par->extradata_size < 7 || par->extradata[0] != 1)
        return par->extradata_size;          /* Annex B: extradata as is */
    *length_size = (par->extradata[4] & 3) + 1;
    const AVBitStreamFilter *f = av_bsf_get_by_name("h264_mp4toannexb");
    AVBSFContext *bsf = NULL;
    int bound = -1;
    if (f && av_bsf_alloc(f, &bsf) >= 0 &&
        avcodec_parameters_copy(bsf->par_in, par) >= 0 && av_bsf_init(bsf) >= 0)
        bound = bsf->par_out->extradata_size;
    av_bsf_free(&bsf);
    return bound;
}

uint64_t tssize_h264_frame_bytes(uint64_t size, int keyframe, int ps_bound,
                                 int length_size)
{
    uint64_t b = size + TSSIZE_AUD_BYTES;
    if (keyframe)
        b += (uint64_t)ps_bound;
    if (length_size && length_size < 4)      /* start codes outgrow lengths */
        b += (uint64_t)(4 - length_size) * (size / (uint64_t)(length_size + 1) + 1);
    return tssize_pes_bytes(b) + (keyframe ? tssize_keyframe_bytes() : 0);
}

/* TS bytes for 'bytes' of PES payload split into 'pes' PES packets. */
static uint64_t stream_bytes(uint64_t bytes, uint64_t pes, int64_t duration_ms)
{
    uint64_t per_pes = PES_HEADER_MAX + AF_MAX;
    /* every PES may leave one partly filled TS packet */
    uint64_t packets = (bytes + pes * per_pes + TSSIZE_PAYLOAD - 1) / TSSIZE_PAYLOAD + pes;
    return packets * TSSIZE_PACKET + tssize_table_bytes(duration_ms);
}

uint64_t tssize_h264_segment_bytes(uint64_t es_bytes, long frames, int64_t duration_ms)
{
    uint64_t f = frames > 0 ? (uint64_t)frames : 1;
    return stream_bytes(es_bytes + f * TSSIZE_AUD_BYTES, f, duration_ms);
}

uint64_t tssize_h264_payload_bytes(uint64_t segment_bytes, long frames, int64_t duration_ms)
{
    uint64_t f = frames > 0 ? (uint64_t)frames : 1;
    uint64_t tables = tssize_table_bytes(duration_ms);
    uint64_t packets = segment_bytes > tables ? (segment_bytes - tables) / TSSIZE_PACKET : 0;
    uint64_t per_frame = TSSIZE_AUD_BYTES + PES_HEADER_MAX + AF_MAX;
    /* stream_bytes() inverted: the packets left after one partly filled
     * packet per PES, less every frame's delimiter and PES overhead */
    if (packets <= f || (packets - f) * TSSIZE_PAYLOAD <= f * per_frame)
        return 0;
    return (packets - f) * TSSIZE_PAYLOAD - f * per_frame;
}

/* PES packets of an AAC segment of 'payload' bytes (frames with their
 * ADTS headers) over duration_ms. libavformat's muxer closes an audio PES
 * when the next frame would take it past TSSIZE_AUDIO_PES_PAYLOAD bytes,
 * or when that frame starts AUDIO_PES_SPAN_MS or more after the PES's
 * first: so every PES but the last either holds more than
 * TSSIZE_AUDIO_PES_PAYLOAD - AAC_FRAME_MAX bytes or spans that time.
 * (No count per frame: at a low sample rate a PES closed by time holds as
 * few as three frames.) */
static uint64_t aac_pes(uint64_t payload, int64_t duration_ms)
{
    uint64_t ms = duration_ms > 0 ? (uint64_t)duration_ms : 0;
    return payload / (TSSIZE_AUDIO_PES_PAYLOAD - AAC_FRAME_MAX) + ms / AUDIO_PES_SPAN_MS + 1;
}

uint64_t tssize_aac_segment_bytes(uint64_t es_bytes, long frames, int64_t duration_ms)
{
    uint64_t f = frames > 0 ? (uint64_t)frames : 1;
    uint64_t payload = es_bytes + f * TSSIZE_ADTS_BYTES;
    return stream_bytes(payload, aac_pes(payload, duration_ms), duration_ms);
}

uint64_t tssize_aac_payload_bytes(uint64_t segment_bytes, long frames, int64_t duration_ms)
{
    /* tssize_aac_segment_bytes rises with es_bytes: the largest that
     * fits, by bisection */
    uint64_t lo = 0, hi = segment_bytes;
    if (tssize_aac_segment_bytes(0, frames, duration_ms) > segment_bytes)
        return 0;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo + 1) / 2;
        if (tssize_aac_segment_bytes(mid, frames, duration_ms) <= segment_bytes)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}
