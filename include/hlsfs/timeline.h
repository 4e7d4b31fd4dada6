/*
 * timeline: the re-timing of a source whose clock jumps forward (two
 * recordings joined with cat, the second's clock hours later). Each jump
 * is where the source's time 'at' begins a later part and by how much
 * that part is moved back ('delta'), so that it follows the part before
 * it; both in microseconds. The title's plan, playlists and segments are
 * all in the re-timed clock; the producers re-time every packet they read
 * and turn a re-timed seek point back into the source's clock.
 *
 * A part's packets all lie at or past its 'at' and every earlier part's
 * before it, in every stream (title.c chooses 'at' so), and each part is
 * moved back to just past the end of the one before: the mapping is
 * monotonic, both ways.
 */
#ifndef HLSFS_TIMELINE_H
#define HLSFS_TIMELINE_H

#include <stdint.h>

#include <libavcodec/packet.h>
#include <libavutil/avutil.h>
#include <libavutil/mathematics.h>

#define TIMELINE_JUMPS_MAX 16

struct timeline {
    int n;                        /* jumps, in source order            */
    struct timeline_jump {
        int64_t at_us;            /* first source time of the part     */
        int64_t delta_us;         /* how far the part moves back       */
    } jump[TIMELINE_JUMPS_MAX];
};

/* Source time ts (time base tb) in the re-timed clock. */
static inline int64_t timeline_retime(const struct timeline *tl, AVRational tb,
                                      int64_t ts)
{
    if (!tl || !tl->n || ts == AV_NOPTS_VALUE)
        return ts;
    int64_t us = av_rescale_q(ts, tb, AV_TIME_BASE_Q), shift = 0;
    for (int i = 0; i < tl->n && us >= tl->jump[i].at_us; i++)
        shift += tl->jump[i].delta_us;
    return shift ? ts - av_rescale_q(shift, AV_TIME_BASE_Q, tb) : ts;
}

/* A re-timed time back in the source's clock (the inverse). */
static inline int64_t timeline_source(const struct timeline *tl, AVRational tb,
                                      int64_t ts)
{
    if (!tl || !tl->n || ts == AV_NOPTS_VALUE || ts == INT64_MIN)
        return ts;
    int64_t us = av_rescale_q(ts, tb, AV_TIME_BASE_Q), shift = 0;
    for (int i = 0; i < tl->n && us + shift + tl->jump[i].delta_us >= tl->jump[i].at_us; i++)
        shift += tl->jump[i].delta_us;
    return shift ? ts + av_rescale_q(shift, AV_TIME_BASE_Q, tb) : ts;
}

/* Re-time a packet read from the source (time base tb) in place. */
static inline void timeline_packet(const struct timeline *tl, AVRational tb,
                                   AVPacket *pkt)
{
    if (!tl || !tl->n)
        return;
    /* one part per packet: by its decode time when it has one */
    int64_t ref = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
    if (ref == AV_NOPTS_VALUE)
        return;
    int64_t moved = ref - timeline_retime(tl, tb, ref);
    if (pkt->pts != AV_NOPTS_VALUE)
        pkt->pts -= moved;
    if (pkt->dts != AV_NOPTS_VALUE)
        pkt->dts -= moved;
}

#endif
