/*
 * mux: one MPEG-TS segment of one elementary stream, written by
 * libavformat's mpegts muxer into memory; readers pad it with null
 * packets (PID 0x1FFF) up to its planned size.
 *
 * Every segment is muxed by a fresh muxer with the same settings, so its
 * bytes depend only on its packets. Sizes are planned in closed form by
 * the size model of tssize.h, which bounds what this muxer writes; a
 * counting muxer (count_only: no buffer) gives the bytes a set of packets
 * takes, for checking that model.
 */
#ifndef HLSFS_MUX_H
#define HLSFS_MUX_H

#include <stddef.h>
#include <stdint.h>

#include <libavcodec/packet.h>
#include <libavcodec/codec_par.h>

#include "hlsfs/tssize.h"

#define MUX_TS_PACKET TSSIZE_PACKET

struct mux;

/* par: the stream's parameters (copied); tb: time base of the packets
 * given to mux_write. count_only: keep no bytes, only count them. */
int mux_open(struct mux **out, const AVCodecParameters *par, AVRational tb,
             int count_only);

/* An fMP4 media segment (fmp4.h) behind the same calls: mux_write,
 * mux_finish, mux_take (its own padding rule) and mux_free. */
struct fmp4_seg_config;
int mux_open_fmp4(struct mux **out, const struct fmp4_seg_config *c);

/* Write one packet (not consumed). Returns 0 or a negative AVERROR. */
int mux_write(struct mux *m, const AVPacket *pkt);

/* Finish the segment; *size receives its unpadded length in bytes. */
int mux_finish(struct mux *m, uint64_t *size);

/* After mux_finish: hand the segment's bytes over (*buf, malloc'd, *len
 * bytes, a whole number of TS packets). The padding up to 'planned' is
 * not made here: readers make it with mux_padding(). Returns 0, or
 * -EOVERFLOW when the segment is larger than planned (never truncated),
 * or -EINVAL if planned is not a multiple of the TS packet size. */
int mux_take(struct mux *m, uint64_t planned, uint8_t **buf, size_t *len);

/* The padding of a segment: n bytes from offset 'off' of a run of null
 * TS packets (PID 0x1FFF) into dst. */
void mux_padding(uint8_t *dst, uint64_t off, size_t n);

/* Bytes [off, off + n) of a segment of 'planned' bytes whose first 'len'
 * are 'data' and the rest padding, into dst; n is clipped to the end.
 * Returns the bytes written. */
size_t mux_read_padded(const uint8_t *data, size_t len, uint64_t planned,
                       uint64_t off, uint8_t *dst, size_t n);

void mux_free(struct mux **m);

#define MUX_ADTS_HEADER 7

/* The ADTS header for one raw AAC frame of 'payload' bytes (a plain
 * AudioSpecificConfig, as the AAC-LC encoder writes). Returns 0, or
 * AVERROR(EINVAL) when par has no such config (extradata shorter than 2
 * bytes, an object type or sampling index ADTS cannot carry) or the frame
 * is longer than ADTS's 13-bit length. */
int mux_adts_header(const AVCodecParameters *par, int payload,
                    uint8_t out[MUX_ADTS_HEADER]);

/* Decode times for packets that have only presentation times (Matroska):
 * the k-th smallest pts minus 'shift', so they increase in decode order.
 * mux_dts_shift gives the smallest shift that keeps every dts <= its pts.
 * Both return -ENOMEM or 0. */
int mux_dts_shift(const int64_t *pts, size_t n, int64_t *shift);
int mux_decode_times(const int64_t *pts, size_t n, int64_t shift,
                     int64_t *dts);

#endif
