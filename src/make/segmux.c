/*
 * segmux: a segment's muxer and size model in its title's format.
 */
#include "hlsfs/fmp4.h"
#include "hlsfs/mux.h"
#include "hlsfs/segmux.h"
#include "hlsfs/title.h"
#include "hlsfs/tssize.h"

int segmux_open(const struct title *t, const struct title_rendition *r, long seg,
                const AVCodecParameters *par, AVRational tb, int annexb,
                struct mux **out)
{
    if (t->format != TITLE_FORMAT_FMP4)
        return mux_open(out, par, tb, 0);
    const struct fmp4_seg_config c = {
        .kind = r->kind == REND_VIDEO ? FMP4_VIDEO : FMP4_AUDIO,
        .tb = tb, .track_tb = r->tb, .sequence = (uint32_t)(seg + 1),
        .annexb = annexb,
    };
    return mux_open_fmp4(out, &c);
}

uint64_t segmux_video_payload(const struct title *t, uint64_t planned, long frames,
                              int64_t duration_ms)
{
    if (t->format != TITLE_FORMAT_FMP4)
        return tssize_h264_payload_bytes(planned, frames, duration_ms);
    uint64_t es = fmp4_payload_bytes(FMP4_VIDEO, frames, planned);
    uint64_t growth = (uint64_t)(frames > 0 ? frames : 1) * FMP4_NAL_GROWTH_PER_FRAME;
    return es > growth ? es - growth : 0;
}

uint64_t segmux_audio_payload(const struct title *t, uint64_t planned, long frames,
                              int64_t duration_ms)
{
    if (t->format != TITLE_FORMAT_FMP4)
        return tssize_aac_payload_bytes(planned, frames, duration_ms);
    return fmp4_payload_bytes(FMP4_AUDIO, frames, planned);
}
