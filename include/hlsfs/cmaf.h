/*
 * cmaf: what a title in the fMP4 format (TITLE_FORMAT_FMP4) adds to its
 * renditions at analysis time: each one's init segment (init.mp4, kept in
 * the title record), the CODECS its sample entry declares, and the
 * VIDEO-RANGE of a copied original. The segments themselves are made by
 * the make layer through fmp4.h.
 */
#ifndef HLSFS_CMAF_H
#define HLSFS_CMAF_H

#include <libavcodec/codec_par.h>

struct probe_stream;
struct title;
struct title_rendition;

/* The copied original's init segment from the source stream s: its
 * sample entry (avc1, hvc1, av01, vp09), rotation and colour; r->codecs
 * and r->video_range are set from it. Returns 0, a negative AVERROR when
 * fMP4 cannot carry the stream as it is (then no original is offered),
 * or AVERROR(ENOMEM). */
int cmaf_copy_init(const struct title *t, struct title_rendition *r,
                   const struct probe_stream *s);

/* An encoded H.264 rung's init segment (avc3: the encoder's parameter
 * sets travel in the samples), from r's size and CODECS (avc3.PPCCLL). */
int cmaf_rung_init(const struct title *t, struct title_rendition *r);

/* An encoded AAC rendition's init segment, with the encoder's own
 * AudioSpecificConfig. */
int cmaf_audio_init(const struct title *t, struct title_rendition *r,
                    int sample_rate, int64_t bit_rate);

#endif
