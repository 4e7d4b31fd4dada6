/*
 * demux: reading one rendition's source stream: where a segment starts,
 * in the time its plan is counted in, and the packets from there.
 */
#ifndef HLSFS_DEMUX_H
#define HLSFS_DEMUX_H

#include <stdint.h>

#include <libavcodec/packet.h>

struct AVFormatContext;
struct timeline;
struct title_rendition;

/* The time a rendition's ranges are counted in: the decode time, or the
 * presentation time for sources without decode times (key_by_pts). */
int64_t demux_packet_time(const struct title_rendition *r, const AVPacket *pkt);

/* Next packet of the rendition's stream into pkt, re-timed by tl (may be
 * NULL: timeline.h). With need_time, packets without a timestamp are
 * passed over. Returns 0 or an AVERROR. */
int demux_read(struct AVFormatContext *fmt, const struct title_rendition *r,
               const struct timeline *tl, AVPacket *pkt, int need_time);

/* Seek so that the next packet of the stream is at or before 'start'
 * (INT64_MIN: the beginning), and leave that packet in pkt. The seek point
 * depends only on 'start'. Returns 0, AVERROR_EOF, or another AVERROR. */
int demux_seek_before(struct AVFormatContext *fmt, const struct title_rendition *r,
                      const struct timeline *tl, int64_t start, AVPacket *pkt);

#endif
