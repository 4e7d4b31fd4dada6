/*
 * demux: positioning and reading a rendition's source stream for one
 * segment. The seek point depends only on the segment, never on what was
 * read before, so a segment is the same whichever run makes it.
 */
#include <stdint.h>

#include <libavformat/avformat.h>

#include "hlsfs/demux.h"
#include "hlsfs/timeline.h"
#include "hlsfs/title.h"

/* The time a rendition's ranges are counted in: the decode time, or the
 * presentation time for sources without decode times. */
int64_t demux_packet_time(const struct title_rendition *r, const AVPacket *pkt)
{
    if (r->key_by_pts)
        return pkt->pts;
    return pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
}

/* Next packet of the rendition's stream. With need_time, packets without
 * a timestamp are passed over. Returns 0 or AVERROR. */
int demux_read(AVFormatContext *fmt, const struct title_rendition *r,
               const struct timeline *tl, AVPacket *pkt, int need_time)
{
    int ret;
    while ((ret = av_read_frame(fmt, pkt)) >= 0) {
        if (pkt->stream_index == r->src_index && pkt->size > 0 &&
            (!need_time || demux_packet_time(r, pkt) != AV_NOPTS_VALUE)) {
            timeline_packet(tl, fmt->streams[r->src_index]->time_base, pkt);
            return 0;
        }
        av_packet_unref(pkt);
    }
    return ret;
}

/* Position the demuxer so that the next packet of the stream is at or
 * before 'start', leaving that packet in pkt. Returns 0, AVERROR_EOF when
 * the stream has no packet at all, or another AVERROR. */
int demux_seek_before(AVFormatContext *fmt, const struct title_rendition *r,
                      const struct timeline *tl, int64_t start, AVPacket *pkt)
{
    int index = r->src_index;
    AVStream *st = fmt->streams[index];
    int64_t second = av_rescale_q(1, (AVRational){ 1, 1 }, st->time_base);
    int ret;

    if (start != INT64_MIN) {
        for (int64_t back = 0; back <= 64 * second; back = back ? back * 4 : second) {
            /* the seek is in the source's clock */
            int64_t at = timeline_source(tl, st->time_base, start - back);
            if (av_seek_frame(fmt, index, at, AVSEEK_FLAG_BACKWARD) < 0)
                break;
            if ((ret = demux_read(fmt, r, tl, pkt, 1)) < 0)
                break;
            if (demux_packet_time(r, pkt) <= start)
                return 0;
            av_packet_unref(pkt);
        }
    }
    /* from the very beginning */
    if ((ret = avformat_seek_file(fmt, -1, INT64_MIN, INT64_MIN, INT64_MIN, 0)) < 0 &&
        (ret = av_seek_frame(fmt, -1, 0, AVSEEK_FLAG_BYTE)) < 0)
        return ret;
    return demux_read(fmt, r, tl, pkt, 1);
}

