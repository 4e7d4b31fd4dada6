/*
 * segmux: the muxer of one segment in its title's format: MPEG-TS
 * (mux_open) or an fMP4 media segment (mux_open_fmp4) whose track matches
 * the rendition's init segment. Either way it is driven by mux_write,
 * mux_finish and mux_take.
 */
#ifndef HLSFS_SEGMUX_H
#define HLSFS_SEGMUX_H

#include <stdint.h>

#include <libavcodec/codec_par.h>
#include <libavutil/rational.h>

struct mux;
struct title;
struct title_rendition;

/* The muxer of segment seg of r: packets in time base tb; annexb: the
 * packets are Annex B H.264 (an encoder's), which fMP4 stores with NAL
 * lengths. */
int segmux_open(const struct title *t, const struct title_rendition *r, long seg,
                const AVCodecParameters *par, AVRational tb, int annexb,
                struct mux **out);

/* The elementary-stream bytes a segment of 'planned' bytes leaves for
 * 'frames' H.264 frames (video) or AAC frames (audio) of 'duration_ms',
 * in the title's format: the inverse of its size model. */
uint64_t segmux_video_payload(const struct title *t, uint64_t planned, long frames,
                              int64_t duration_ms);
uint64_t segmux_audio_payload(const struct title *t, uint64_t planned, long frames,
                              int64_t duration_ms);

#endif
