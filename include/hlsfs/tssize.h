/*
 * tssize: the MPEG-TS size model: how many bytes libavformat's MPEG-TS
 * muxer, as mux.c sets it up, writes for a segment at most. Sizes are
 * planned from it before any segment is made (title.c, ladder.c), and
 * every segment is padded up to its planned size (mux.c), so a bound here
 * that is too small makes a segment that cannot be served; one too loose
 * only costs padding.
 *
 * The muxer writes each video frame as one PES and gathers audio frames
 * into PES packets of up to 0.35 s; every PES takes a header with PTS and DTS, may take
 * an adaptation field with PCR, and leaves at most one partly filled TS
 * packet. A segment opens with SDT, PAT and PMT, which are repeated every
 * TSSIZE_TABLE_PERIOD_MS and (PAT, PMT) before each video keyframe.
 */
#ifndef HLSFS_TSSIZE_H
#define HLSFS_TSSIZE_H

#include <stdint.h>

#include <libavcodec/codec_par.h>

#define TSSIZE_PACKET   188     /* bytes of a TS packet                        */
#define TSSIZE_PAYLOAD  184     /* of them after the 4-byte header             */
/* how often the muxer repeats its tables (its pat_period and sdt_period,
 * set from this in mux.c) */
#define TSSIZE_TABLE_PERIOD_MS 30000
#define TSSIZE_AUD_BYTES  6     /* the access unit delimiter added to H.264    */
#define TSSIZE_ADTS_BYTES 7     /* the ADTS header of each AAC frame           */
/* The most bytes of audio frames one PES gathers (the muxer's
 * pes_payload_size, set from this in mux.c for an audio stream): a
 * multiple of 184 less 14, as the muxer rounds it, and small enough that
 * the PES length field holds it. At 2930 bytes (the default) a 6 s
 * segment at 128 kbit/s took 34 PES and the model had to allow 71; as
 * large as this, a PES ends every 0.35 s whatever the rate. */
#define TSSIZE_AUDIO_PES_PAYLOAD 65490

/* Most TS bytes one PES of 'payload' bytes takes. */
uint64_t tssize_pes_bytes(uint64_t payload);

/* TS bytes of the tables (SDT, PAT, PMT) a segment of 'duration_ms'
 * carries at most: at its start and again every table period. */
uint64_t tssize_table_bytes(int64_t duration_ms);

/* TS bytes the muxer adds before a video keyframe: PAT and PMT again. */
uint64_t tssize_keyframe_bytes(void);

/* A copied H.264 stream: the bytes of Annex B parameter sets that the
 * Annex B filter or the muxer may put before a keyframe, and in
 * *length_size the AVCC NAL length size (0 for Annex B); -1 when the
 * filter cannot be set up. */
int tssize_h264_insert_bound(const AVCodecParameters *par, int *length_size);

/* Most TS bytes one copied H.264 frame of 'size' bytes takes, in its own
 * PES: start codes for NAL lengths, an access unit delimiter, and for a
 * keyframe the parameter sets (ps_bound) and the repeated PAT and PMT. */
uint64_t tssize_h264_frame_bytes(uint64_t size, int keyframe, int ps_bound,
                                 int length_size);

/* Most TS bytes of a whole segment of 'duration_ms' whose elementary
 * stream holds at most 'es_bytes': H.264 in at most 'frames' frames (each
 * gains an access unit delimiter), or AAC in 'frames' frames (each gains
 * an ADTS header). Tables included; a multiple of TSSIZE_PACKET. */
uint64_t tssize_h264_segment_bytes(uint64_t es_bytes, long frames,
                                   int64_t duration_ms);
uint64_t tssize_aac_segment_bytes(uint64_t es_bytes, long frames,
                                  int64_t duration_ms);

/* The inverse for H.264: the most elementary-stream bytes whose
 * tssize_h264_segment_bytes(es, frames, duration_ms) is at most
 * segment_bytes (0 when not even an empty stream fits). */
uint64_t tssize_h264_payload_bytes(uint64_t segment_bytes, long frames,
                                   int64_t duration_ms);
/* The same for AAC and tssize_aac_segment_bytes. */
uint64_t tssize_aac_payload_bytes(uint64_t segment_bytes, long frames,
                                  int64_t duration_ms);

#endif
