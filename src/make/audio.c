/*
 * audio: decode -> resample -> AAC-LC for one segment of one audio track,
 * with pre-roll at its start and post-roll at its end.
 *
 * DESIGN
 *
 * One call is one job with its own demuxer, decoder, resampler and
 * encoder, all freed by job_free(). Nothing depends on an earlier call,
 * so the bytes depend only on the source, the range and the parameters.
 * The job runs straight through:
 *
 *   seek      The demuxer is sought to half a second before the pre-roll
 *             (a point that depends only on the request). If the first
 *             audio frame found there starts after the pre-roll, the seek
 *             goes further back (4 s, 32 s), then to the start of the
 *             file (reopened), which is also where a failed seek goes. If
 *             the audio really starts later, that is silence.
 *
 *   place     Decoded frames are placed on the timeline by their
 *             timestamps, but only by timestamps the container holds:
 *             those libavformat interpolates (laced Matroska frames,
 *             frames split out of a PES packet) are dropped before
 *             decoding, as they can be off by milliseconds. Frames whose
 *             timestamps agree with their sample counts form a chain,
 *             whose samples follow each other without gap. Its start is
 *             fixed from all the timestamps of its first 8 s (or 8 MiB) of
 *             frames, held until then: each timestamp, rounded to the time
 *             base, puts the start within half a tick of pts - samples
 *             before it; a whole sample inside the range they leave is
 *             taken when there is one, else its middle (kept to 1/65536 of
 *             a sample). With exact timestamps (MP4, MPEG-TS) that is the
 *             first frame's; with Matroska's milliseconds it is what makes
 *             two jobs that start decoding at different points put a
 *             sample at the same place. Timestamps that wander around
 *             the sample count by up to 1/40 s (a muxer that wrote frames
 *             of 1024 samples as lasting 960, then 1408 to catch up) stay
 *             on their chain, its start then the middle of the range they
 *             imply. A frame off its chain by more than that, a tick and
 *             two samples starts a new chain: the hole before it is filled
 *             with silence, an overlap is cut off.
 *
 *   resample  One swr context per run of frames of one format (rate,
 *             layout, sample format), converting to stereo (or 5.1:
 *             audio_params.channels) float planar
 *             at the output rate with a float internal format (so no
 *             matrix normalisation depends on the source's sample format).
 *             A run starts at or before the first output sample still
 *             wanted, on the input sample whose time falls nearest an
 *             output sample, among the in/gcd(in, out) candidates: for a
 *             chain on whole samples, exactly on a point common to both
 *             grids, so its output is the same whichever segment is made;
 *             for a chain between samples, within 1/2/(in/gcd) output
 *             samples. A format change, or a chain off the run's grid,
 *             drains the run and starts another where the output stands.
 *
 *   encode    Output samples before first_sample - preroll are dropped;
 *             from there the encoder gets 1024-sample frames with
 *             pts = their position, up to end_sample + POSTROLL, then it
 *             is flushed. libavcodec's AAC encoder delays its output by
 *             initial_padding (1024): the packet with pts X is the one
 *             that decodes to [X, X + 1024), and the packets with pts in
 *             [first_sample, end_sample) are passed on.
 *
 * Cost beyond the segment itself: decoding half a second of lead-in, and
 * encoding the pre-roll (4 frames) and post-roll (2 frames and the flush).
 * Memory: the held frames, at most 8 MiB of decoded audio.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libavutil/mathematics.h>
#include <libavutil/opt.h>
#include <libavutil/samplefmt.h>
#include <libswresample/swresample.h>

#include "hlsfs/audio.h"
#include "hlsfs/log.h"
#include "hlsfs/source.h"
#include "hlsfs/timeline.h"
#include "hlsfs/workbound.h"

#define POSTROLL        2048  /* output samples of real audio after end  */
#define SEEK_MARGIN_DIV 2     /* first seek: 1/2 s before the pre-roll   */
#define SEEK_MAX_S      60    /* beyond this, start from the beginning   */
#define CHAIN_SECONDS   8     /* audio that fixes where a chain starts...*/
#define CHAIN_BYTES     (8 << 20) /* ...or this much of it decoded       */
#define CHAIN_JITTER_DIV 40   /* timestamps may wander 1/40 s around the
                                 sample count and stay on their chain    */
#define SILENCE_CHUNK   4096  /* input samples of silence per conversion */
#define MAX_PLANES      64    /* SWR_CH_MAX                              */

#define RETRY_SEEK      1     /* on_frame: the seek landed too late      */

/* Input positions are kept in 1/65536 of a sample: a chain's start is
 * known to a fraction of a sample, and a resampler run can start on any
 * of in/gcd(in, out) phases of the output grid. */
#define POS_ONE         65536
#define PHASE_TOL       (POS_ONE / 10) /* a chain further off the run's
                                         grid gets a run of its own       */
#define RUN_TRIES       4096  /* start samples a run placement weighs     */

/* Frames of one format whose timestamps agree with their sample counts. */
struct chain {
    int                 active;
    int                 rate;
    AVChannelLayout     layout;
    enum AVSampleFormat fmt;
    int64_t             count;      /* samples in it so far               */
    /* where it started, implied by each timestamp so far, in units of
     * 1 / (rate * tb.den) s: pts * tb.num * rate - samples_before * tb.den;
     * all of them (r_), and those of frames that are not the decoder's
     * first (e_): see on_frame() */
    int                 have_r, have_e;
    int64_t             r_min, r_max, e_min, e_max;
    int                 committed;  /* start fixed; frames go straight on */
    int64_t             anchor;     /* input position of its start, in
                                       1/POS_ONE samples                  */
};

/* A decoded frame waiting for its chain's start to be fixed. */
struct held {
    AVFrame *frame;
    int64_t  at;          /* offset in the chain, in samples            */
};

struct job {
    /* the request */
    const char                *path;
    const struct source_io     *io;      /* NULL: the file at path         */
    int                        idx;
    int64_t                    first, end;
    int                        out_rate;
    audio_packet_fn            fn;
    void                      *opaque;
    int64_t                    feed_start, feed_end; /* encoder input     */
    const struct work_bound   *bound;   /* crossed: give up               */
    const struct timeline     *timeline;  /* the source's re-timing       */
    int64_t                    packets, max_packets; /* read, and bound   */
    int64_t                    base_packets; /* the bound after a seek    */

    AVFormatContext           *fmt;
    AVStream                  *st;
    AVCodecContext            *dec;
    AVCodecContext            *enc;
    AVPacket                  *pkt;
    AVFrame                   *frame;   /* decoder output                 */
    AVFrame                   *eframe;  /* encoder input                  */
    AVAudioFifo               *fifo;    /* resampled, from enc_pos on     */

    /* the resampler's run: its input sample i (at in_rate) is at input
     * position run_at + i * POS_ONE, its output sample j at base_out + j */
    SwrContext                *swr;
    int                        in_rate;
    int                        run_phases; /* in_rate / gcd(in, out)      */
    AVChannelLayout            in_layout;
    enum AVSampleFormat        in_fmt;
    int                        had_swr;   /* one was opened before        */
    int64_t                    run_at, base_out;
    int64_t                    in_pos;    /* input samples fed            */
    int64_t                    out_pos;   /* position of its next output  */
    uint8_t                  **silence;   /* SILENCE_CHUNK, in_fmt        */
    uint8_t                   *obuf[AUDIO_CHANNELS_MAX]; /* swr output, ocap
                                                           samples        */
    AVChannelLayout            out_layout; /* stereo, or 5.1             */
    int                        nch;       /* its channels                */
    int                        ocap;

    struct chain               ch;
    struct held               *held;      /* frames of ch, not yet placed */
    int                        nheld, held_cap;
    size_t                     held_bytes;
    int64_t                    prev_end;  /* where the last chain ended
                                             (1/POS_ONE samples),         */
    int                        prev_rate; /* for frames without pts       */

    int                        dec_fresh; /* no frame decoded yet        */
    int64_t                    last_pos;  /* file position of the last packet */
    int                        saw_pos;   /* packets have file positions  */
    int                        probing;   /* first timestamp not seen yet */
    int                        at_start;  /* the demuxer began at the start
                                             of the file                  */
    int64_t                    enc_pos;   /* pts of the next encoder frame */
    int64_t                    next_pkt;  /* pts of the next packet out   */
    int                        done;      /* encoder fed through feed_end */
    int                        dec_errors; /* from the pre-roll on     */
    int                        counting;  /* the last packet was there  */
    int                        read_error; /* AVERROR that ended reading  */
};

/* floor(a / b), b > 0 */
static int64_t div_floor(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b < 0) ? q - 1 : q;
}

/* a / b rounded to nearest (halves up), b > 0 */
static int64_t div_round(int64_t a, int64_t b)
{
    return div_floor(a + b / 2, b);
}

static int64_t gcd64(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* The output layout of p: stereo, or 5.1 for channels == 6. */
static AVChannelLayout output_layout(const struct audio_params *p)
{
    AVChannelLayout stereo = AV_CHANNEL_LAYOUT_STEREO, six = AV_CHANNEL_LAYOUT_5POINT1_BACK;
    return p->channels == 6 ? six : stereo;
}

static int open_encoder(const struct audio_params *p, AVCodecContext **out)
{
    const AVCodec *codec = avcodec_find_encoder_by_name("aac");
    AVChannelLayout stereo = output_layout(p);
    AVCodecContext *enc;
    int ret;

    *out = NULL;
    if (p->sample_rate <= 0 || p->bit_rate <= 0 ||
        (p->channels && p->channels != 2 && p->channels != 6))
        return AVERROR(EINVAL);
    if (!codec)
        return AVERROR_ENCODER_NOT_FOUND;
    if (!(enc = avcodec_alloc_context3(codec)))
        return AVERROR(ENOMEM);
    enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    enc->sample_rate = p->sample_rate;
    enc->bit_rate = p->bit_rate;
    enc->profile = FF_PROFILE_AAC_LOW;
    enc->time_base = (AVRational){ 1, p->sample_rate };
    enc->thread_count = 1;
    enc->flags |= AV_CODEC_FLAG_BITEXACT | AV_CODEC_FLAG_GLOBAL_HEADER;
    if ((ret = av_channel_layout_copy(&enc->ch_layout, &stereo)) < 0 ||
        (ret = avcodec_open2(enc, codec, NULL)) < 0) {
        avcodec_free_context(&enc);
        return ret;
    }
    *out = enc;
    return 0;
}

int audio_output_parameters(const struct audio_params *p,
                            AVCodecParameters *par)
{
    AVCodecContext *enc;
    int ret;

    if ((ret = open_encoder(p, &enc)) < 0)
        return ret;
    ret = avcodec_parameters_from_context(par, enc);
    avcodec_free_context(&enc);
    return ret;
}

/* ---- output side: fifo -> encoder -> packet sink ---------------------- */

static int drain_packets(struct job *j)
{
    int ret;

    for (;;) {
        ret = avcodec_receive_packet(j->enc, j->pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0)
            return ret;
        if (j->pkt->pts >= j->first && j->pkt->pts < j->end) {
            if (j->pkt->pts != j->next_pkt) {
                log_error("audio: %s: AAC packet at %" PRId64 ", expected %"
                          PRId64, j->path, j->pkt->pts, j->next_pkt);
                av_packet_unref(j->pkt);
                return AVERROR_BUG;
            }
            j->pkt->dts = j->pkt->pts;
            j->pkt->duration = AUDIO_FRAME_SAMPLES;
            j->pkt->time_base = (AVRational){ 1, j->out_rate };
            j->pkt->stream_index = 0;
            ret = j->fn(j->opaque, j->pkt);
            j->next_pkt += AUDIO_FRAME_SAMPLES;
        }
        av_packet_unref(j->pkt);
        if (ret < 0)
            return ret;
    }
}

/* Send every whole frame in the fifo to the encoder, up to feed_end. */
static int encode_ready(struct job *j)
{
    int ret;

    while (!j->done && av_audio_fifo_size(j->fifo) >= AUDIO_FRAME_SAMPLES) {
        if ((ret = av_frame_make_writable(j->eframe)) < 0)
            return ret;
        if (av_audio_fifo_read(j->fifo, (void **)j->eframe->data,
                               AUDIO_FRAME_SAMPLES) != AUDIO_FRAME_SAMPLES)
            return AVERROR_BUG;
        j->eframe->pts = j->enc_pos;
        j->enc_pos += AUDIO_FRAME_SAMPLES;
        if ((ret = avcodec_send_frame(j->enc, j->eframe)) < 0 ||
            (ret = drain_packets(j)) < 0)
            return ret;
        if (j->enc_pos >= j->feed_end)
            j->done = 1;
    }
    return 0;
}

/* Resampled samples at positions [pos, pos + n); only what lies at or
 * after the fifo's end and before feed_end is kept. */
static int push_output(struct job *j, int64_t pos, uint8_t *const *data,
                       int n)
{
    int64_t fifo_end = j->enc_pos + av_audio_fifo_size(j->fifo);
    int64_t skip = fifo_end - pos, take;
    void *ptr[AUDIO_CHANNELS_MAX];

    if (j->done || skip >= n)
        return 0;
    if (skip < 0)   /* cannot happen: runs are contiguous from before */
        return AVERROR_BUG;
    take = n - skip;
    if (take > j->feed_end - fifo_end)
        take = j->feed_end - fifo_end;
    for (int c = 0; c < j->nch; c++)
        ptr[c] = data[c] + skip * (int64_t)sizeof(float);
    if (av_audio_fifo_write(j->fifo, ptr, (int)take) != take)
        return AVERROR(ENOMEM);
    return encode_ready(j);
}

/* Silence straight into the fifo up to feed_end (no resampler run). */
static int push_silence(struct job *j)
{
    float zero[AUDIO_FRAME_SAMPLES] = { 0 };
    uint8_t *data[AUDIO_CHANNELS_MAX];
    for (int c = 0; c < AUDIO_CHANNELS_MAX; c++)
        data[c] = (uint8_t *)zero;
    int ret;

    while (!j->done) {
        int64_t pos = j->enc_pos + av_audio_fifo_size(j->fifo);
        if ((ret = push_output(j, pos, data, AUDIO_FRAME_SAMPLES)) < 0)
            return ret;
    }
    return 0;
}

/* ---- the resampler run ------------------------------------------------ */

static int grow_obuf(struct job *j, int n)
{
    if (n <= j->ocap)
        return 0;
    av_freep(&j->obuf[0]);
    memset(j->obuf, 0, sizeof(j->obuf));
    j->ocap = 0;
    if (av_samples_alloc(j->obuf, NULL, j->nch, n, AV_SAMPLE_FMT_FLTP, 0) < 0)
        return AVERROR(ENOMEM);
    j->ocap = n;
    return 0;
}

/* Convert n input samples (NULL: drain) and pass the output on. */
static int convert(struct job *j, const uint8_t **in, int n)
{
    int cap = swr_get_out_samples(j->swr, n), got, ret;

    if (cap < 0)
        return cap;
    if ((ret = grow_obuf(j, cap + 16)) < 0)
        return ret;
    got = swr_convert(j->swr, j->obuf, j->ocap, in, n);
    if (got < 0)
        return got;
    j->in_pos += n;
    j->out_pos += got;
    return push_output(j, j->out_pos - got, j->obuf, got);
}

static int feed_silence(struct job *j, int64_t n)
{
    int ret;

    while (n > 0 && !j->done) {
        int c = n > SILENCE_CHUNK ? SILENCE_CHUNK : (int)n;
        if ((ret = convert(j, (const uint8_t **)j->silence, c)) < 0)
            return ret;
        n -= c;
    }
    return 0;
}

/* Drain the current run and free it. */
static int swr_end(struct job *j)
{
    int64_t before;
    int ret = 0;

    if (!j->swr)
        return 0;
    while (!j->done && swr_get_out_samples(j->swr, 0) > 0) {
        before = j->out_pos;
        if ((ret = convert(j, NULL, 0)) < 0 || j->out_pos == before)
            break;
    }
    swr_free(&j->swr);
    if (j->silence)
        av_freep(&j->silence[0]);
    av_freep(&j->silence);
    av_channel_layout_uninit(&j->in_layout);
    return ret;
}

/* Place a new run for input rate 'rate' whose input grid holds position
 * at (1/POS_ONE samples): it starts at or before the first output position
 * not yet produced, on whichever of the grid's samples lands nearest an
 * output sample (exactly, when the chain's start is a whole sample and
 * the first run of a job starts on a point common to both rates). */
static void run_place(struct job *j, int rate, int64_t at)
{
    int64_t until = j->enc_pos + av_audio_fifo_size(j->fifo);
    int64_t until_in = av_rescale_rnd(until, (int64_t)rate * POS_ONE,
                                      j->out_rate, AV_ROUND_DOWN);
    int64_t s_max = div_floor(until_in - at, POS_ONE);
    int64_t best_s = s_max, best_out = 0, best_err = INT64_MAX;
    int64_t tries = FFMIN(j->run_phases, RUN_TRIES);

    for (int64_t s = s_max; s > s_max - tries; s--) {
        int64_t t = av_rescale_rnd(at + s * POS_ONE, j->out_rate, rate,
                                   AV_ROUND_NEAR_INF);
        int64_t o = div_round(t, POS_ONE), err = llabs(t - o * POS_ONE);
        if (o <= until && err < best_err) {
            best_err = err;
            best_s = s;
            best_out = o;
        }
    }
    j->run_at = at + best_s * POS_ONE;
    j->base_out = best_out;
}

static int swr_begin(struct job *j, const AVFrame *f,
                     const AVChannelLayout *layout, int64_t at)
{
    int ret;

    /* libswresample 4.7 takes the layouts as non-const; it reads them */
    if ((ret = swr_alloc_set_opts2(&j->swr, &j->out_layout, AV_SAMPLE_FMT_FLTP,
                                   j->out_rate, (AVChannelLayout *)layout,
                                   f->format, f->sample_rate, 0, NULL)) < 0)
        return ret;
    if ((ret = av_opt_set_sample_fmt(j->swr, "internal_sample_fmt",
                                     AV_SAMPLE_FMT_FLTP, 0)) < 0 ||
        (ret = swr_init(j->swr)) < 0)
        return ret;
    if ((ret = av_samples_alloc_array_and_samples(&j->silence, NULL,
                                                  layout->nb_channels,
                                                  SILENCE_CHUNK, f->format,
                                                  0)) < 0)
        return ret;
    av_samples_set_silence(j->silence, 0, SILENCE_CHUNK, layout->nb_channels,
                           f->format);
    if ((ret = av_channel_layout_copy(&j->in_layout, layout)) < 0)
        return ret;
    j->in_rate = f->sample_rate;
    j->in_fmt = f->format;
    j->run_phases = (int)(f->sample_rate / gcd64(f->sample_rate, j->out_rate));
    run_place(j, f->sample_rate, at);
    j->out_pos = j->base_out;
    j->in_pos = 0;
    j->had_swr = 1;
    return 0;
}

/* Feed frame f, whose first sample is at input position 'at' (1/POS_ONE
 * samples at its own rate), to the resampler, after silence for a hole
 * before it or without what overlaps the samples already fed. */
static int emit(struct job *j, const AVFrame *f, const AVChannelLayout *layout,
                int64_t at)
{
    const uint8_t *ptr[MAX_PLANES];
    int64_t q, skip, d;
    int ret, planar, planes, bps;

    if (j->done)
        return 0;
    if (j->swr && (j->in_rate != f->sample_rate || j->in_fmt != f->format ||
                   av_channel_layout_compare(&j->in_layout, layout))) {
        if ((ret = swr_end(j)) < 0)
            return ret;
    }
    if (j->swr && j->run_phases > 1) {
        /* a chain off this run's grid: it gets a run placed for it */
        d = at - j->run_at;
        if (llabs(d - div_round(d, POS_ONE) * POS_ONE) > PHASE_TOL &&
            (ret = swr_end(j)) < 0)
            return ret;
    }
    if (j->done)
        return 0;
    if (!j->swr) {
        /* wholly before anything the first run could start with */
        int64_t lead = (int64_t)f->nb_samples + RUN_TRIES + 1;
        if (!j->had_swr &&
            at + lead * POS_ONE < av_rescale_rnd(j->feed_start,
                                                 (int64_t)f->sample_rate * POS_ONE,
                                                 j->out_rate, AV_ROUND_DOWN))
            return 0;
        if ((ret = swr_begin(j, f, layout, at)) < 0)
            return ret;
    }
    q = div_round(at - j->run_at, POS_ONE);
    if (q > j->in_pos && (ret = feed_silence(j, q - j->in_pos)) < 0)
        return ret;
    if (j->done)
        return 0;
    skip = j->in_pos - q;
    if (skip < 0)
        skip = 0;
    if (skip >= f->nb_samples)
        return 0;
    planar = av_sample_fmt_is_planar(f->format);
    planes = planar ? layout->nb_channels : 1;
    bps = av_get_bytes_per_sample(f->format) * (planar ? 1 : layout->nb_channels);
    for (int i = 0; i < planes; i++)
        ptr[i] = f->extended_data[i] + skip * bps;
    return convert(j, ptr, f->nb_samples - (int)skip);
}

/* ---- placing decoded frames: chains ----------------------------------- */

static void chain_reset(struct job *j)
{
    for (int i = 0; i < j->nheld; i++)
        av_frame_free(&j->held[i].frame);
    j->nheld = 0;
    j->held_bytes = 0;
    av_channel_layout_uninit(&j->ch.layout);
    memset(&j->ch, 0, sizeof(j->ch));
}

/* Keep f (its reference is moved) until the chain's start is fixed. */
static int hold(struct job *j, AVFrame *f, int64_t at)
{
    if (j->nheld == j->held_cap) {
        int cap = j->held_cap ? 2 * j->held_cap : 64;
        struct held *n = av_realloc_array(j->held, (size_t)cap, sizeof(*n));
        if (!n)
            return AVERROR(ENOMEM);
        j->held = n;
        j->held_cap = cap;
    }
    int bytes = av_samples_get_buffer_size(NULL, f->ch_layout.nb_channels,
                                           f->nb_samples, f->format, 1);
    if (bytes < 0)
        return bytes;
    if (!(j->held[j->nheld].frame = av_frame_alloc()))
        return AVERROR(ENOMEM);
    j->held_bytes += (size_t)bytes;
    av_frame_move_ref(j->held[j->nheld].frame, f);
    j->held[j->nheld++].at = at;
    return 0;
}

/* Where a chain starts (1/POS_ONE samples), given the extremes of the
 * starts its timestamps imply: each timestamp, rounded to the time base,
 * allows half a tick either side, so the start lies in [hi - tick/2,
 * lo + tick/2]. A whole sample in that range is taken when there is one
 * (a source cut on its own sample grid, the usual case: every job then
 * finds the same sample however few timestamps it saw), else the middle. */
static int64_t chain_start(const struct job *j, int64_t lo, int64_t hi)
{
    AVRational tb = j->st->time_base;
    int64_t den2 = 2 * (int64_t)tb.den;           /* units of 1/den2 samples */
    int64_t tick = (int64_t)tb.num * j->ch.rate;  /* half a tick, in them    */
    int64_t from = 2 * hi - tick, to = 2 * lo + tick, mid = lo + hi;
    int64_t n_lo = -div_floor(-from, den2), n_hi = div_floor(to, den2), n;

    if (from <= to && n_lo <= n_hi) {
        n = div_round(mid, den2);
        return (n < n_lo ? n_lo : n > n_hi ? n_hi : n) * POS_ONE;
    }
    return av_rescale_rnd(mid, POS_ONE, den2, AV_ROUND_NEAR_INF);
}

/* Fix the chain's start and feed the frames held until now. */
static int chain_commit(struct job *j)
{
    struct chain *c = &j->ch;
    int ret = 0;

    if (c->committed)
        return 0;
    c->committed = 1;
    c->anchor = c->have_e ? chain_start(j, c->e_min, c->e_max)
                          : chain_start(j, c->r_min, c->r_max);
    for (int i = 0; i < j->nheld; i++) {
        if (ret >= 0)
            ret = emit(j, j->held[i].frame, &c->layout,
                       c->anchor + j->held[i].at * POS_ONE);
        av_frame_free(&j->held[i].frame);
    }
    j->nheld = 0;
    j->held_bytes = 0;
    return ret;
}

static int chain_end(struct job *j)
{
    struct chain *c = &j->ch;
    int ret;

    if (!c->active)
        return 0;
    ret = chain_commit(j);
    j->prev_end = c->anchor + c->count * POS_ONE;
    j->prev_rate = c->rate;
    chain_reset(j);
    return ret;
}

/* The chain start that timestamp pts implies, or 0 when it is unusable. */
static int implied_start(const struct job *j, int64_t pts, int rate,
                         int64_t before, int64_t *e)
{
    AVRational tb = j->st->time_base;
    int64_t scale = (int64_t)tb.num * rate;

    if (pts == AV_NOPTS_VALUE || tb.num <= 0 || tb.den <= 0 ||
        llabs(pts) > INT64_MAX / 4 / scale ||
        before > INT64_MAX / 4 / tb.den)
        return 0;
    *e = pts * scale - before * tb.den;
    return 1;
}

/* A decoded frame (j->frame): place it. Returns RETRY_SEEK when it is the
 * first one with a timestamp and it starts after the pre-roll. */
static int on_frame(struct job *j, AVFrame *f)
{
    struct chain *c = &j->ch;
    AVChannelLayout layout = { 0 };
    AVRational tb = j->st->time_base;
    int64_t pts = f->best_effort_timestamp, e = 0, tol, at;
    int have_e, ret, dec_first = j->dec_fresh;

    j->dec_fresh = 0;

    if (pts == AV_NOPTS_VALUE)
        pts = f->pts;
    if (f->nb_samples <= 0 || f->sample_rate <= 0 ||
        f->ch_layout.nb_channels <= 0 || f->ch_layout.nb_channels > MAX_PLANES)
        return 0;
    if (j->probing && pts != AV_NOPTS_VALUE) {
        j->probing = 0;
        if (!j->at_start &&
            av_rescale_q(pts, tb, (AVRational){ 1, j->out_rate }) > j->feed_start) {
            av_frame_unref(f);
            return RETRY_SEEK;
        }
    }
    if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
        av_channel_layout_default(&layout, f->ch_layout.nb_channels);
    else if ((ret = av_channel_layout_copy(&layout, &f->ch_layout)) < 0)
        return ret;

    if (c->active && (c->rate != f->sample_rate || c->fmt != f->format ||
                      av_channel_layout_compare(&c->layout, &layout)) &&
        (ret = chain_end(j)) < 0)
        goto done;
    have_e = c->active ? implied_start(j, pts, c->rate, c->count, &e) : 0;
    if (c->active && have_e) {
        /* a tick of the time base (rounding), two samples, and the
         * jitter of a muxer that wrote durations other than the frames'
         * (960 and 1408 samples for frames of 1024): the samples are
         * right, the timestamps only wander around them */
        tol = (int64_t)tb.num * c->rate + 2 * (int64_t)tb.den +
              (int64_t)(c->rate / CHAIN_JITTER_DIV) * tb.den;
        if (c->committed
                ? llabs(av_rescale_rnd(e, POS_ONE, tb.den, AV_ROUND_NEAR_INF) -
                        c->anchor) > av_rescale_rnd(tol, POS_ONE, tb.den,
                                                    AV_ROUND_UP)
                : FFMAX(c->r_max, e) - FFMIN(c->r_min, e) > 2 * tol) {
            if ((ret = chain_end(j)) < 0)
                goto done;
        }
    }
    if (!c->active) {
        c->active = 1;
        c->rate = f->sample_rate;
        c->fmt = f->format;
        if ((ret = av_channel_layout_copy(&c->layout, &layout)) < 0)
            goto done;
        have_e = implied_start(j, pts, c->rate, 0, &e);
        if (!have_e) {
            if (j->prev_rate != c->rate) {   /* nowhere to put it */
                chain_reset(j);
                ret = 0;
                goto done;
            }
            c->committed = 1;
            c->anchor = j->prev_end;
        }
    }
    if (have_e && !c->committed) {
        c->r_min = c->have_r ? FFMIN(c->r_min, e) : e;
        c->r_max = c->have_r ? FFMAX(c->r_max, e) : e;
        c->have_r = 1;
        if (!dec_first) {
            c->e_min = c->have_e ? FFMIN(c->e_min, e) : e;
            c->e_max = c->have_e ? FFMAX(c->e_max, e) : e;
            c->have_e = 1;
        }
    }
    at = c->count;
    c->count += f->nb_samples;
    if (c->committed) {
        ret = emit(j, f, &c->layout, c->anchor + at * POS_ONE);
        goto done;
    }
    if ((ret = hold(j, f, at)) >= 0 &&
        (j->held_bytes >= CHAIN_BYTES ||
         c->count >= (int64_t)CHAIN_SECONDS * c->rate))
        ret = chain_commit(j);
done:
    av_frame_unref(f);
    av_channel_layout_uninit(&layout);
    return ret;
}

/* ---- source side -------------------------------------------------------- */

static int open_decoder(struct job *j)
{
    const AVCodecParameters *par = j->st->codecpar;
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    int ret;

    avcodec_free_context(&j->dec);
    if (!codec)
        return AVERROR_DECODER_NOT_FOUND;
    if (!(j->dec = avcodec_alloc_context3(codec)))
        return AVERROR(ENOMEM);
    if ((ret = avcodec_parameters_to_context(j->dec, par)) < 0)
        return ret;
    j->dec->pkt_timebase = j->st->time_base;
    j->dec->thread_count = 1;
    j->dec_fresh = 1;
    j->last_pos = -1;
    j->saw_pos = 0;
    return avcodec_open2(j->dec, codec, NULL);
}

static int open_source(struct job *j)
{
    int ret;

    source_close_input(j->io, &j->fmt);
    j->st = NULL;
    if ((ret = source_open_input(j->path, j->io, j->bound, &j->fmt)) < 0)
        return ret;
    if (j->idx < 0 || (unsigned)j->idx >= j->fmt->nb_streams ||
        j->fmt->streams[j->idx]->codecpar->codec_type != AVMEDIA_TYPE_AUDIO)
        return AVERROR(EINVAL);
    for (unsigned i = 0; i < j->fmt->nb_streams; i++)
        j->fmt->streams[i]->discard =
            (int)i == j->idx ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
    j->st = j->fmt->streams[j->idx];
    j->at_start = 1;
    return 0;
}

/* Position the demuxer 'margin' output samples before the pre-roll, or at
 * the start of the file when margin < 0 or the seek fails. */
static int seek_source(struct job *j, int64_t margin)
{
    int64_t ts;

    if (margin >= 0) {
        ts = av_rescale_q_rnd(j->feed_start - margin,
                              (AVRational){ 1, j->out_rate }, j->st->time_base,
                              AV_ROUND_DOWN | AV_ROUND_PASS_MINMAX);
        /* the seek is in the source's clock */
        ts = timeline_source(j->timeline, j->st->time_base, ts);
        if (av_seek_frame(j->fmt, j->idx, ts, AVSEEK_FLAG_BACKWARD) >= 0) {
            j->at_start = 0;
            return 0;
        }
    }
    return open_source(j);
}

static int receive_frames(struct job *j)
{
    int ret;

    for (;;) {
        ret = avcodec_receive_frame(j->dec, j->frame);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0) {
            j->dec_errors += j->counting;
            return 0;
        }
        if ((ret = on_frame(j, j->frame)) != 0 || j->done)
            return ret;
    }
}

/* Demux and decode until the encoder has its input or the stream ends.
 * Returns 0, RETRY_SEEK, or a negative AVERROR. */
static int decode_all(struct job *j)
{
    int ret;

    while (!j->done) {
        if ((ret = work_bound_check(j->bound)) < 0)
            return ret;
        if (++j->packets > j->max_packets) {
            log_error("audio: %s: stream %d: %" PRId64 " packets read without "
                      "reaching the segment's end", j->path, j->idx, j->max_packets);
            return AVERROR_INVALIDDATA;
        }
        ret = av_read_frame(j->fmt, j->pkt);
        if (ret == AVERROR(EAGAIN))
            continue;
        if (ret < 0) {
            if (ret != AVERROR_EOF) {
                if (source_error_is_transient(ret))
                    return ret;
                j->read_error = ret;
            }
            if ((ret = avcodec_send_packet(j->dec, NULL)) < 0)
                return ret;
            return receive_frames(j);
        }
        if (j->pkt->stream_index != j->idx) {
            av_packet_unref(j->pkt);
            continue;
        }
        timeline_packet(j->timeline, j->st->time_base, j->pkt);
        /* a packet with the file position of the one before it (a laced
         * frame of a Matroska block), or with none in a file that gives
         * positions (a frame split out of an MPEG-TS PES packet), carries
         * a timestamp libavformat made up from durations that may be
         * rounded or stale: its frame is counted on from the one before */
        if (j->pkt->pos >= 0 ? j->pkt->pos == j->last_pos : j->saw_pos)
            j->pkt->pts = j->pkt->dts = AV_NOPTS_VALUE;
        j->saw_pos |= j->pkt->pos >= 0;
        j->last_pos = j->pkt->pos;
        /* errors in the lead-in (a decoder just after a seek) do not count */
        j->counting = j->pkt->pts == AV_NOPTS_VALUE ? j->counting :
            av_rescale_q(j->pkt->pts, j->st->time_base,
                         (AVRational){ 1, j->out_rate }) >= j->feed_start;
        ret = avcodec_send_packet(j->dec, j->pkt);
        av_packet_unref(j->pkt);
        if (ret < 0 && ret != AVERROR(EAGAIN)) {
            if (ret == AVERROR(ENOMEM))
                return ret;
            j->dec_errors += j->counting;
            continue;
        }
        if ((ret = receive_frames(j)) != 0)
            return ret;
    }
    return 0;
}

/* Seek (further back while the audio found starts after the pre-roll),
 * then decode through. */
static int decode_source(struct job *j)
{
    int64_t margin = j->out_rate / SEEK_MARGIN_DIV;
    int ret;

    for (;;) {
        if ((ret = seek_source(j, margin)) < 0 || (ret = open_decoder(j)) < 0)
            return ret;
        j->probing = 1;
        /* each pass counts its own packets; one from the start of the
         * file may read everything before the segment */
        j->packets = 0;
        j->max_packets = j->base_packets;
        if (j->at_start && j->end > 0)
            j->max_packets += j->end / j->out_rate * 500;
        ret = decode_all(j);
        if (ret != RETRY_SEEK)
            return ret;
        chain_reset(j);
        j->dec_errors = 0;
        j->read_error = 0;
        margin = margin * 8 > (int64_t)SEEK_MAX_S * j->out_rate ? -1 : margin * 8;
    }
}

static void job_free(struct job *j)
{
    chain_reset(j);
    av_freep(&j->held);
    swr_free(&j->swr);
    if (j->silence)
        av_freep(&j->silence[0]);
    av_freep(&j->silence);
    av_channel_layout_uninit(&j->in_layout);
    av_freep(&j->obuf[0]);
    av_audio_fifo_free(j->fifo);
    j->fifo = NULL;
    av_frame_free(&j->eframe);
    av_frame_free(&j->frame);
    av_packet_free(&j->pkt);
    avcodec_free_context(&j->enc);
    avcodec_free_context(&j->dec);
    source_close_input(j->io, &j->fmt);
}

int audio_encode_segment(const char *path, const struct source_io *io,
                         int stream_index,
                         int64_t first_sample, int64_t end_sample,
                         const struct audio_params *p,
                         audio_packet_fn fn, void *opaque)
{
    struct job j = { 0 };
    int64_t preroll = AUDIO_PREROLL_DEFAULT;
    int ret;

    if (!path || !p || !fn || end_sample < first_sample ||
        (end_sample - first_sample) % AUDIO_FRAME_SAMPLES ||
        first_sample < INT64_MIN / 4 || end_sample > INT64_MAX / 4)
        return AVERROR(EINVAL);
    if (end_sample == first_sample)
        return 0;
    if (p->preroll < 0)
        preroll = 0;
    else if (p->preroll > 0)
        preroll = ((int64_t)p->preroll + AUDIO_FRAME_SAMPLES - 1) /
                  AUDIO_FRAME_SAMPLES * AUDIO_FRAME_SAMPLES;

    j.path = path;
    j.io = io;
    j.idx = stream_index;
    j.first = first_sample;
    j.end = end_sample;
    j.out_rate = p->sample_rate;
    j.fn = fn;
    j.opaque = opaque;
    j.feed_start = first_sample - preroll;
    j.feed_end = end_sample + POSTROLL;
    j.enc_pos = j.feed_start;
    j.next_pkt = first_sample;
    j.prev_rate = -1;
    j.bound = p->bound;
    j.timeline = p->timeline;
    j.out_layout = output_layout(p);
    j.nch = j.out_layout.nb_channels;
    /* a bound on packets read: 500 a second of what a job may read (the
     * segment, its rolls and the furthest seek back), and 2000 more */
    j.base_packets = ((end_sample - first_sample + preroll) / p->sample_rate +
                     SEEK_MAX_S + 2) * 500 + 2000;

    if ((ret = open_encoder(p, &j.enc)) < 0)
        goto fail;
    if (!(j.pkt = av_packet_alloc()) || !(j.frame = av_frame_alloc()) ||
        !(j.eframe = av_frame_alloc()) ||
        !(j.fifo = av_audio_fifo_alloc(AV_SAMPLE_FMT_FLTP, j.nch,
                                       4 * AUDIO_FRAME_SAMPLES))) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    j.eframe->format = AV_SAMPLE_FMT_FLTP;
    j.eframe->sample_rate = j.out_rate;
    j.eframe->nb_samples = AUDIO_FRAME_SAMPLES;
    if ((ret = av_channel_layout_copy(&j.eframe->ch_layout,
                                      &j.enc->ch_layout)) < 0 ||
        (ret = av_frame_get_buffer(j.eframe, 0)) < 0)
        goto fail;

    if ((ret = open_source(&j)) < 0 || (ret = decode_source(&j)) < 0 ||
        (ret = chain_end(&j)) < 0)
        goto fail;
    /* the source ended (or had nothing here): silence to the end */
    if (j.swr) {
        while (!j.done)
            if ((ret = feed_silence(&j, SILENCE_CHUNK)) < 0)
                goto fail;
    } else if ((ret = push_silence(&j)) < 0) {
        goto fail;
    }
    if ((ret = avcodec_send_frame(j.enc, NULL)) < 0 ||
        (ret = drain_packets(&j)) < 0)
        goto fail;
    if (j.next_pkt != j.end) {
        log_error("audio: %s: stream %d, samples [%" PRId64 ", %" PRId64
                  "): %" PRId64 " packets made, %" PRId64 " wanted", path,
                  stream_index, first_sample, end_sample,
                  (j.next_pkt - first_sample) / AUDIO_FRAME_SAMPLES,
                  (end_sample - first_sample) / AUDIO_FRAME_SAMPLES);
        ret = AVERROR_BUG;
        goto fail;
    }
    if (j.dec_errors || j.read_error) {
        char err[AV_ERROR_MAX_STRING_SIZE] = "";
        if (j.read_error)
            av_strerror(j.read_error, err, sizeof(err));
        log_warn("audio: %s: stream %d, samples [%" PRId64 ", %" PRId64
                 "): %d packet(s) could not be decoded%s%s; silence in "
                 "their place", path, stream_index, first_sample, end_sample,
                 j.dec_errors, j.read_error ? ", reading stopped: " : "", err);
    }
    ret = 0;
fail:
    job_free(&j);
    return ret;
}
