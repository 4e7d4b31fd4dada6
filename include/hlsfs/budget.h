/*
 * budget: how many elementary-stream bytes a transcoded video or audio
 * segment is planned to take, predicted from what the source itself spent
 * on that segment (pure, no I/O; title.c plans each rendition's sizes
 * from it).
 *
 * The source's bytes are scaled by the pixel ratio of rung to source,
 * sublinearly (^0.75: a smaller picture keeps most of its detail per
 * pixel), and by how many H.264 bytes one byte of the source's codec is
 * worth at equal quality; then a margin and an allowance for the frames'
 * headers are added. The result is floored where libx264's rate control
 * cannot reliably go lower (every frame costs some bytes, the segment's
 * IDR more) and capped by the rung's nominal rate (its bound today), so a
 * complex segment is planned exactly as before. Integer arithmetic and
 * square roots only: the same result on every machine.
 */
#ifndef HLSFS_BUDGET_H
#define HLSFS_BUDGET_H

#include <stdint.h>

#include <libavcodec/codec_id.h>

/* Margin over the prediction, in percent of it. */
#define BUDGET_MARGIN_PCT    120
/* What every source frame spends on headers, whatever it shows: not
 * counted as picture. */
#define BUDGET_SOURCE_FRAME_BYTES 16
/* Header allowance of every frame, in bytes. */
#define BUDGET_FRAME_BYTES    16
/* The floor: per frame BUDGET_FLOOR_FRAME_BYTES plus one byte per
 * BUDGET_FLOOR_FRAME_PIXELS pixels, and for the segment's IDR one byte
 * per BUDGET_FLOOR_KEY_PIXELS pixels. */
#define BUDGET_FLOOR_FRAME_BYTES   16
#define BUDGET_FLOOR_FRAME_PIXELS  65536
#define BUDGET_FLOOR_KEY_PIXELS    1024

/* The source's video, as the prediction sees it. */
struct budget_source {
    enum AVCodecID codec;
    int            width, height;   /* coded picture                     */
};

/* H.264 bytes one byte of 'codec' is worth at equal quality, in percent
 * (H.264 100, HEVC and VP9 150, AV1 200, MPEG-2 60 ...; 100 for codecs
 * not listed). */
int budget_codec_percent(enum AVCodecID codec);

/* Elementary-stream bytes planned for one segment of a rung of
 * rung_w x rung_h at nominal 'bit_rate': the segment spans duration_ms,
 * holds 'frames' frames, and the source spent src_bytes on it (its
 * packets, plus the keyframe it is decoded from when that lies before
 * it). At most ladder_video_payload_bytes(bit_rate, duration_ms); rises
 * with src_bytes and frames. */
uint64_t budget_video_payload_bytes(const struct budget_source *src, uint64_t src_bytes,
                                    long frames, int64_t duration_ms,
                                    int rung_w, int rung_h, int64_t bit_rate);

/* The I-frame rendition: the ES bytes planned for one IDR of w x h when
 * the source's keyframe there took key_bytes (in H.264 bytes,
 * budget_codec_percent) for key_px pixels: scaled as the rungs are, with
 * the margin, plus BUDGET_FLOOR_IFRAME_BYTES and one byte per
 * BUDGET_FLOOR_KEY_PIXELS; at most 'bound', and 'bound' when key_bytes
 * or key_px is 0. */
/* (x264's first IDR carries its parameter sets and a version SEI of
 * some 700 bytes) */
#define BUDGET_FLOOR_IFRAME_BYTES 1024
uint64_t budget_iframe_payload_bytes(uint64_t key_bytes, int64_t key_px, int w, int h,
                                     uint64_t bound);

/* Audio: the AAC (ADTS payload) bytes planned for one segment of 'frames'
 * frames of 1024 samples at sample_rate, 'silent_frames' of which the
 * source holds silence in (budget_audio_packet_silent), when the source
 * spent src_bytes on the rest of that time in 'codec' with 'channels'
 * channels: the source's bytes times what one byte of its codec is worth
 * in AAC-LC (MP3 75 %, Opus and Vorbis 150 %, AC-3 and MP2 60 %), times
 * sqrt(2 / channels) when it has more than two (they are mixed to
 * stereo), with the margin; never below BUDGET_AUDIO_FLOOR_RATE over the
 * frames that are not silent plus BUDGET_AUDIO_SILENT_FRAME_BYTES for
 * each silent one, never above bit_rate (both over the segment's
 * samples, as ladder_audio_payload_bytes). */
#define BUDGET_AUDIO_FLOOR_RATE 24000
/* libavcodec's AAC encoder spends 6 bytes on a silent stereo frame (13
 * with its ADTS header); the plan allows one more */
#define BUDGET_AUDIO_SILENT_FRAME_BYTES 7
/* An AAC or Opus packet of at most this many bytes per pair of channels
 * carries no sound: an empty spectrum (AAC) or a DTX / silence frame
 * (Opus). Other codecs' packets are never taken for silence (their
 * encoders spend a constant rate on it). */
#define BUDGET_AUDIO_SILENT_PKT_BYTES 8

int budget_audio_codec_percent(enum AVCodecID codec);

/* 1 when a source packet of 'size' bytes holds silence, else 0. */
int budget_audio_packet_silent(enum AVCodecID codec, int channels, uint32_t size);

uint64_t budget_audio_payload_bytes(enum AVCodecID codec, int channels, uint64_t src_bytes,
                                    long frames, long silent_frames, int sample_rate,
                                    int64_t bit_rate);

#endif
