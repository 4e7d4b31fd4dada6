/*
 * vfilter: the libavfilter graph a transcoded rung's pictures go through
 * before scaling: deinterlacing (bwdif) of interlaced sources and HDR
 * (PQ, HLG) to BT.709 SDR tone mapping (zscale + tonemap). Which filters
 * a rung needs is decided once, at analysis time, from the source's
 * stream parameters (vfilter_detect) and kept in the title record; a rung
 * that needs none never builds a graph, so its bytes are what they were
 * before filters existed. A graph lives for one segment (fresh state).
 */
#ifndef HLSFS_VFILTER_H
#define HLSFS_VFILTER_H

#include <libavcodec/codec_par.h>
#include <libavutil/frame.h>
#include <libavutil/rational.h>

#define VFILTER_DEINTERLACE 1   /* interlaced source: bwdif, frame rate kept */
#define VFILTER_TONEMAP_PQ  2   /* SMPTE ST 2084 (HDR10, DV 8.1) to BT.709  */
#define VFILTER_TONEMAP_HLG 4   /* ARIB STD-B67 (HLG, DV 8.4) to BT.709     */
#define VFILTER_TONEMAP     (VFILTER_TONEMAP_PQ | VFILTER_TONEMAP_HLG)

/* The filters a source video stream needs: par's field order and transfer
 * characteristic, and the base layer's signal compatibility of a Dolby
 * Vision configuration record (dovi_compat; -1 when there is none), which
 * names the transfer when the stream itself does not. */
int vfilter_detect(const AVCodecParameters *par, int dovi_compat);

/* What the flags do, for a log line: "" for none, else ", deinterlaced"
 * and/or ", tone-mapped from PQ" or ", tone-mapped from HLG". */
const char *vfilter_describe(int flags);

struct vfilter;

struct vfilter_config {
    int        flags;          /* VFILTER_*, at least one                  */
    int        width, height;  /* a tone-mapped picture's size (the rung's
                                  before rotation); deinterlaced only: the
                                  source's is kept                          */
    AVRational time_base;      /* of the frames in and out                 */
    int        threads;        /* slice threads: the same pixels           */
};

/* A filter chain for one segment; its graph is built from the first frame
 * sent (its size, pixel format and colour properties). */
int vfilter_open(const struct vfilter_config *cfg, struct vfilter **out);

/* Whether frame f has the size and pixel format the graph was built for
 * (true before the first frame). A frame that does not: end the graph
 * (vfilter_send NULL), take its last pictures, vfilter_reset, go on. */
int vfilter_matches(const struct vfilter *vf, const AVFrame *f);

/* Give the graph a decoded frame (its pts in cfg->time_base; the frame is
 * left empty), or NULL at the end of the segment's frames. */
int vfilter_send(struct vfilter *vf, AVFrame *f);

/* The next filtered picture into f: 0, AVERROR(EAGAIN) when it needs
 * more frames, AVERROR_EOF after the end. Its pts is in cfg->time_base;
 * a tone-mapped one is 8-bit 4:2:0 tagged BT.709 (limited range). */
int vfilter_receive(struct vfilter *vf, AVFrame *f);

/* Drop the graph; the next frame sent builds a new one. */
void vfilter_reset(struct vfilter *vf);

void vfilter_free(struct vfilter **vf);

#endif
