/*
 * fmp4: the fragmented MP4 (CMAF) segment format: a rendition's init
 * segment (ftyp + moov with one track and mvex) made from the stream's
 * parameters, and its media segments (moof + mdat), written here box by
 * box rather than by libavformat's mov muxer, so that their size is known
 * in closed form: fmp4_segment_bytes is exact, not a bound.
 *
 * Times: a track's timescale comes from the time base of its samples
 * (fmp4_timescale); every time is the source's, plus FMP4_OFFSET_MS (the
 * same shift as the MPEG-TS format's), so that decode times are never
 * negative. Within a segment the decode times are shifted so that the
 * first sample's decode time is its presentation time (trun version 1,
 * signed composition offsets): tfdt is then the segment's presentation
 * start, the same in every rendition cut on one plan.
 *
 * Padding: a segment made smaller than its planned size is followed by a
 * 'free' box up to it, made by the reader (fmp4_read_padded); a slack too
 * small for a box header (1 to 7 bytes) is taken into the mdat instead
 * (fmp4_seg_take), where no sample refers to it.
 */
#ifndef HLSFS_FMP4_H
#define HLSFS_FMP4_H

#include <stddef.h>
#include <stdint.h>

#include <libavcodec/codec_par.h>
#include <libavcodec/packet.h>
#include <libavutil/rational.h>

#define FMP4_OFFSET_MS 1400     /* added to every time, as in MPEG-TS     */
#define FMP4_FREE_MIN  8        /* the smallest 'free' box                */
/* bytes a copied Annex B sample may grow by per NAL unit (a 3-byte start
 * code becomes a 4-byte length): the size plan of encoded rungs counts
 * this many units per frame; a segment over its plan is encoded again */
#define FMP4_NAL_GROWTH_PER_FRAME 4

enum fmp4_kind { FMP4_VIDEO, FMP4_AUDIO };

/* What an init segment describes. */
struct fmp4_track {
    enum fmp4_kind           kind;
    const AVCodecParameters *par;   /* codec, extradata, picture or audio
                                       parameters, colour                  */
    AVRational               tb;    /* of the samples                      */
    int                      rotation;  /* video: clockwise degrees to
                                           display upright (0/90/180/270)  */
    double                   frame_rate; /* VP9's level when par has none  */
    int                      in_band;   /* H.264: parameter sets in the
                                           samples (avc3; par's extradata
                                           may then be empty)              */
    const char              *language;  /* ISO 639-2 or NULL               */
};

/* The timescale of a track whose samples are in time base tb: tb's
 * denominator when its numerator is 1, else 90000 (video) or 48000. */
uint32_t fmp4_timescale(AVRational tb, enum fmp4_kind kind);

/* The init segment of a track: *buf (malloc'd, *len bytes), and its CODECS
 * string (RFC 6381, what the sample entry holds: "avc1.640028",
 * "hvc1.2.4.L150.B0", "av01.0.08M.10", "vp09.00.40.08", "mp4a.40.2",
 * "ac-3", "ec-3"). Returns 0, AVERROR(ENOSYS) for a codec fMP4 is not
 * written for here, AVERROR(EINVAL) for parameters it cannot describe
 * (no decoder configuration), or AVERROR(ENOMEM). */
int fmp4_init_segment(const struct fmp4_track *trk, uint8_t **buf, size_t *len,
                      char *codecs, size_t codecs_size);

/* A VP9 stream whose container says nothing of its profile and pixel
 * format (WebM): both, and its colour space and range, from the
 * uncompressed header of a keyframe's data. Returns 1 when par was
 * filled, 0 when the data is not a VP9 keyframe. */
int fmp4_vp9_keyframe_params(AVCodecParameters *par, const uint8_t *data, int size);

/* The VIDEO-RANGE of a stream: "PQ", "HLG", or "SDR". */
const char *fmp4_video_range(const AVCodecParameters *par);

/* Exact bytes of a media segment of 'samples' samples of 'payload' bytes
 * in all, and the inverse: the most payload a segment of 'segment_bytes'
 * holds (0 when not even the boxes fit). */
uint64_t fmp4_segment_bytes(enum fmp4_kind kind, long samples, uint64_t payload);
uint64_t fmp4_payload_bytes(enum fmp4_kind kind, long samples, uint64_t segment_bytes);

/* One media segment, in memory. */
struct fmp4_seg;

struct fmp4_seg_config {
    enum fmp4_kind kind;
    AVRational     tb;          /* of the packets written                  */
    AVRational     track_tb;    /* the init segment's (fmp4_track.tb): the
                                   timescale the times are written in      */
    uint32_t       sequence;    /* mfhd sequence number (segment + 1)      */
    int            annexb;      /* samples come as Annex B: rewritten with
                                   4-byte NAL lengths                      */
};

int fmp4_seg_open(struct fmp4_seg **out, const struct fmp4_seg_config *c);

/* One sample, in decode order (the data is referenced or copied). */
int fmp4_seg_write(struct fmp4_seg *s, const AVPacket *pkt);

/* Finish: *size receives the segment's bytes. AVERROR(ERANGE) when a time
 * falls before the track's zero even after FMP4_OFFSET_MS. */
int fmp4_seg_finish(struct fmp4_seg *s, uint64_t *size);

/* After fmp4_seg_finish: hand the bytes over (malloc'd); the padding up
 * to 'planned' is the reader's (fmp4_read_padded), but a slack under
 * FMP4_FREE_MIN is put in the mdat here. Returns 0, or -EOVERFLOW when
 * the segment is larger than planned. */
int fmp4_seg_take(struct fmp4_seg *s, uint64_t planned, uint8_t **buf, size_t *len);

void fmp4_seg_free(struct fmp4_seg **s);

/* Bytes [off, off + n) of a segment of 'planned' bytes whose first 'len'
 * are 'data', followed by a 'free' box up to 'planned' (planned == len, or
 * planned >= len + FMP4_FREE_MIN); n is clipped to the end. Returns the
 * bytes written to dst. */
size_t fmp4_read_padded(const uint8_t *data, size_t len, uint64_t planned,
                        uint64_t off, uint8_t *dst, size_t n);

#endif
