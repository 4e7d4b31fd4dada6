/*
 * audio: the AAC rendition of a source audio track, one segment at a
 * time. Any audio codec libavcodec decodes becomes AAC-LC stereo, cut on
 * the title's plan; every segment is encoded on its own, from the source
 * alone, and the same request always gives the same bytes.
 *
 * Timeline: an audio sample position s is the source presentation time
 * s / sample_rate seconds (sample_rate of struct audio_params), on the
 * source's own timeline: stream timestamps converted to seconds, not
 * counted from the start of the file. Where the source has no audio
 * (before its first packet, in gaps, after its end) the segment carries
 * silence, so a segment always holds exactly the frames asked for.
 *
 * @note Thread-safe: no global state. Calls for different segments, even
 * of one file, may run at once; each opens the source for itself.
 */
#ifndef HLSFS_AUDIO_H
#define HLSFS_AUDIO_H

#include <stdint.h>

#include <libavcodec/codec_par.h>
#include <libavcodec/packet.h>

/* Samples per AAC-LC frame; segment lengths are multiples of it. */
#define AUDIO_FRAME_SAMPLES 1024

/* Channels an output may have at most (audio_params.channels). */
#define AUDIO_CHANNELS_MAX 8

/* Pre-roll used when audio_params.preroll is 0, in samples. */
#define AUDIO_PREROLL_DEFAULT 4096

struct source_io;
struct timeline;
struct work_bound;

struct audio_params {
    int     sample_rate;   /* output rate in Hz, e.g. 48000; one of AAC's
                              rates (96000 ... 7350)                      */
    int64_t bit_rate;      /* bit/s, e.g. 128000                          */
    int     preroll;       /* samples encoded before first_sample and
                              dropped, so that a segment's first frame
                              joins the previous segment without a click:
                              0 means AUDIO_PREROLL_DEFAULT, other values
                              are rounded up to a multiple of 1024, a
                              negative value means none (for tests only:
                              boundaries then click). Part of the output's
                              identity: segments of one rendition must all
                              use the same value.                          */
    const struct work_bound *bound;  /* stop flag and deadline of the job
                                        (workbound.h), or NULL; crossed:
                                        the call fails with its AVERROR   */
    int     channels;      /* 0 or 2: stereo; 6: 5.1 (C L R Ls Rs LFE in
                              AAC's order), upmixed or downmixed by
                              libswresample's default matrix             */
    const struct timeline   *timeline;  /* the source's re-timing (a joined
                                           recording), or NULL: positions
                                           are in the re-timed clock      */
};

/*
 * Describe the stream that audio_encode_segment() produces.
 *
 * @param[in]  p    output rate and bit rate
 * @param[out] par  receives codec id (AAC), profile LC, sample rate, the
 *                  stereo (or 5.1) channel layout, bit rate, extradata (the
 *                  AudioSpecificConfig), frame_size 1024 and
 *                  initial_padding (the encoder's delay, 1024)
 * @return 0, or a negative AVERROR: AVERROR(EINVAL) for a rate AAC does
 *         not have or a bit rate <= 0, AVERROR_ENCODER_NOT_FOUND.
 */
int audio_output_parameters(const struct audio_params *p,
                            AVCodecParameters *par);

/*
 * Receives each AAC packet of a segment, in order: raw AAC (no ADTS
 * header), pts == dts in 1/sample_rate, duration 1024. The callee does
 * not own pkt; it must copy or reference what it keeps.
 *
 * @return >= 0 to go on, a negative value to abort the encode (that value
 *         is then returned by audio_encode_segment()).
 */
typedef int (*audio_packet_fn)(void *opaque, const AVPacket *pkt);

/*
 * Encode [first_sample, end_sample) of audio stream 'stream_index' of
 * 'path': exactly (end_sample - first_sample) / 1024 packets, the k-th
 * with pts first_sample + k * 1024, decoding (after the decoder's usual
 * start-up) to the source audio of [pts, pts + 1024). Decoding the
 * packets of consecutive segments one after the other gives a continuous
 * signal: each segment is encoded from p->preroll samples before its
 * start, and its last frames from real audio past its end.
 *
 * The source is opened, sought and decoded afresh by each call, and the
 * decoder, resampler (libswresample: downmix with the default matrix,
 * LFE dropped, no normalisation; mono goes to both sides at -3 dB) and
 * encoder (libavcodec's native "aac", one thread, bit-exact) are new
 * each time, so the bytes depend only on the source, the range and p.
 *
 * @param[in] path          source file
 * @param[in] io            NULL, or how to read the source instead of
 *                          from path (source_open_input)
 * @param[in] stream_index  an audio stream of it (libavformat numbering)
 * @param[in] first_sample  any integer; may lie before the source audio
 * @param[in] end_sample    first_sample + a multiple of 1024; may lie
 *                          after the end of the source
 * @param[in] p             output parameters, as given to
 *                          audio_output_parameters()
 * @param[in] fn, opaque    packet sink
 * @return 0, or a negative AVERROR: the source's open or I/O error,
 *         AVERROR(EINVAL) for a bad range, parameter or stream index,
 *         AVERROR_DECODER_NOT_FOUND, AVERROR(ENOMEM), or fn's value.
 *         Packets that fail to decode are not an error: silence takes
 *         their place and one warning names the file and range.
 */
int audio_encode_segment(const char *path, const struct source_io *io,
                         int stream_index,
                         int64_t first_sample, int64_t end_sample,
                         const struct audio_params *p,
                         audio_packet_fn fn, void *opaque);

#endif
