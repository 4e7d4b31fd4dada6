/*
 * test_audio.c -- tests for src/audio.c, the AAC rendition: output
 * parameters, errors, determinism, frame counts and timestamps, silence
 * where the source has no audio, continuity across segment boundaries,
 * alignment with the source timeline, and segment sizes against the bit
 * rate. Fixtures are made with the ffmpeg CLI in a temporary directory,
 * removed at the end.
 */
#include "hlsfs/audio.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>

#include "check.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define RATE   48000
#define FRAME  AUDIO_FRAME_SAMPLES
#define SINE_HZ 440.0
#define WIN    2048        /* samples either side of a boundary */

/* ---- packets collected from audio_encode_segment -------------------- */

struct pkts {
    AVPacket **p;
    int        n, cap;
    size_t     bytes;
};

static int collect(void *opaque, const AVPacket *pkt)
{
    struct pkts *l = opaque;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 256;
        AVPacket **n = realloc(l->p, (size_t)cap * sizeof(*n));
        if (!n)
            return AVERROR(ENOMEM);
        l->p = n;
        l->cap = cap;
    }
    if (!(l->p[l->n] = av_packet_clone(pkt)))
        return AVERROR(ENOMEM);
    l->bytes += (size_t)pkt->size;
    l->n++;
    return 0;
}

static void pkts_free(struct pkts *l)
{
    for (int i = 0; i < l->n; i++)
        av_packet_free(&l->p[i]);
    free(l->p);
    memset(l, 0, sizeof(*l));
}

static int pkts_equal(const struct pkts *a, const struct pkts *b)
{
    if (a->n != b->n)
        return 0;
    for (int i = 0; i < a->n; i++)
        if (a->p[i]->pts != b->p[i]->pts || a->p[i]->size != b->p[i]->size ||
            memcmp(a->p[i]->data, b->p[i]->data, (size_t)a->p[i]->size))
            return 0;
    return 1;
}

static const struct audio_params params = { .sample_rate = RATE, .bit_rate = 128000 };

static int encode(const char *path, int idx, int64_t first, int64_t end,
                  const struct audio_params *p, struct pkts *out)
{
    memset(out, 0, sizeof(*out));
    return audio_encode_segment(path, NULL, idx, first, end, p, collect, out);
}

/* ---- decoding packets back to PCM ------------------------------------ */

struct pcm {
    float  *l, *r;
    int64_t n, cap;
};

static void pcm_free(struct pcm *s)
{
    free(s->l);
    free(s->r);
    memset(s, 0, sizeof(*s));
}

static int pcm_append(struct pcm *s, const AVFrame *f)
{
    if (s->n + f->nb_samples > s->cap) {
        int64_t cap = (s->n + f->nb_samples) * 2;
        float *l = realloc(s->l, (size_t)cap * sizeof(float));
        if (!l)
            return -ENOMEM;
        s->l = l;
        float *r = realloc(s->r, (size_t)cap * sizeof(float));
        if (!r)
            return -ENOMEM;
        s->r = r;
        s->cap = cap;
    }
    memcpy(s->l + s->n, f->extended_data[0], (size_t)f->nb_samples * sizeof(float));
    memcpy(s->r + s->n, f->extended_data[1], (size_t)f->nb_samples * sizeof(float));
    s->n += f->nb_samples;
    return 0;
}

/* Decode the packets of lists[0..n) one after another with one decoder.
 * skip_first (per list, or NULL): packets left out at the start of a
 * list (to simulate a lost frame). */
static int decode(const struct pkts *lists, int n, const int *skip_first,
                  struct pcm *out)
{
    const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_AAC);
    AVCodecParameters *par = avcodec_parameters_alloc();
    AVCodecContext *dec = NULL;
    AVFrame *f = av_frame_alloc();
    int ret;

    memset(out, 0, sizeof(*out));
    if (!par || !f || !codec) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    if ((ret = audio_output_parameters(&params, par)) < 0)
        goto fail;
    if (!(dec = avcodec_alloc_context3(codec))) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    if ((ret = avcodec_parameters_to_context(dec, par)) < 0 ||
        (ret = avcodec_open2(dec, codec, NULL)) < 0)
        goto fail;
    for (int i = 0; i < n; i++) {
        for (int k = skip_first ? skip_first[i] : 0; k < lists[i].n; k++) {
            if ((ret = avcodec_send_packet(dec, lists[i].p[k])) < 0)
                goto fail;
            while ((ret = avcodec_receive_frame(dec, f)) >= 0) {
                ret = pcm_append(out, f);
                av_frame_unref(f);
                if (ret < 0)
                    goto fail;
            }
            if (ret != AVERROR(EAGAIN))
                goto fail;
        }
    }
    if ((ret = avcodec_send_packet(dec, NULL)) < 0)
        goto fail;
    while ((ret = avcodec_receive_frame(dec, f)) >= 0) {
        ret = pcm_append(out, f);
        av_frame_unref(f);
        if (ret < 0)
            goto fail;
    }
    ret = ret == AVERROR_EOF ? 0 : ret;
fail:
    av_frame_free(&f);
    avcodec_free_context(&dec);
    avcodec_parameters_free(&par);
    return ret;
}

/* ---- measurements ---------------------------------------------------- */

/* Largest |a - b| and the error-to-signal ratio (dB) over [from, to). */
struct diff {
    double max, snr_db;
};

static struct diff compare(const struct pcm *a, const struct pcm *b,
                           int64_t from, int64_t to)
{
    double err = 0, sig = 0, mx = 0;
    if (from < 0)
        from = 0;
    if (to > a->n)
        to = a->n;
    if (to > b->n)
        to = b->n;
    for (int64_t i = from; i < to; i++) {
        double dl = (double)a->l[i] - b->l[i], dr = (double)a->r[i] - b->r[i];
        mx = fmax(mx, fmax(fabs(dl), fabs(dr)));
        err += dl * dl + dr * dr;
        sig += (double)b->l[i] * b->l[i] + (double)b->r[i] * b->r[i];
    }
    return (struct diff){ mx, 10 * log10((sig + 1e-20) / (err + 1e-20)) };
}

static double peak(const struct pcm *s, int64_t from, int64_t to)
{
    double mx = 0;
    for (int64_t i = from < 0 ? 0 : from; i < to && i < s->n; i++)
        mx = fmax(mx, fmax(fabs(s->l[i]), fabs(s->r[i])));
    return mx;
}

/* Amplitude and phase (radians, in (-pi, pi]) of the 440 Hz sine in the
 * left channel over [from, to), sample i being at position origin + i. */
static void fit_sine(const struct pcm *s, int64_t origin, int64_t from,
                     int64_t to, double *amp, double *phase)
{
    double ss = 0, sc = 0, cc = 0, ys = 0, yc = 0;
    for (int64_t i = from; i < to && i < s->n; i++) {
        double w = 2 * M_PI * SINE_HZ * (double)(origin + i) / RATE;
        double sn = sin(w), cs = cos(w);
        ss += sn * sn;
        sc += sn * cs;
        cc += cs * cs;
        ys += s->l[i] * sn;
        yc += s->l[i] * cs;
    }
    double det = ss * cc - sc * sc;
    double a = (ys * cc - yc * sc) / det, b = (yc * ss - ys * sc) / det;
    *amp = hypot(a, b);
    *phase = atan2(b, a);
}

/* ---- fixtures -------------------------------------------------------- */

struct fixture {
    const char *name;     /* file name in the temporary directory */
    int         stream;   /* audio stream index                   */
    const char *args;     /* ffmpeg arguments before the output   */
};

#define VIDEO "-f lavfi -i testsrc2=s=160x90:r=10:d=20 "
#define VCODEC " -c:v mpeg4 -g 20"
#define SINE(rate, d) "-f lavfi -i sine=f=440:r=" #rate ":d=" #d " "

static const struct fixture fixtures[] = {
    /* (a) AAC stereo 44.1 kHz in MP4: exact timestamps, edit list */
    { "aac-44k-stereo.mp4", 1,
      VIDEO SINE(44100, 20) "-ac 2 -c:a aac -b:a 128k" VCODEC },
    /* (b) AC-3 5.1 48 kHz in Matroska: the sine in every channel */
    { "ac3-48k-5.1.mkv", 1,
      VIDEO SINE(48000, 20)
      "-af 'pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0' -c:a ac3 -b:a 384k" VCODEC },
    /* (c) MP3 mono 44.1 kHz in AVI */
    { "mp3-44k-mono.avi", 1,
      VIDEO SINE(44100, 20) "-ac 1 -c:a libmp3lame -b:a 128k" VCODEC },
    /* AAC 44.1 kHz in Matroska (millisecond timestamps that do not fall
     * on frames), starting 0.5 s after the video */
    { "aac-44k-late.mkv", 1,
      VIDEO "-itsoffset 0.5 " SINE(44100, 19.5) "-ac 2 -c:a aac -b:a 128k" VCODEC },
    /* Opus 48 kHz in Matroska: 20 ms frames, all timestamps rounded the
     * same way, a decoder delay that moves the first frame after a seek */
    { "opus-48k.mkv", 1,
      VIDEO SINE(48000, 20) "-ac 2 -c:a libopus -b:a 96k" VCODEC },
    /* Vorbis 44.1 kHz in Matroska: millisecond timestamps of a chain that
     * does not start on a whole sample (placed to a fraction of one) */
    { "vorbis-44k.mkv", 1,
      VIDEO SINE(44100, 20) "-ac 2 -c:a libvorbis" VCODEC },
    /* MPEG-TS whose AAC goes from 44.1 kHz stereo to 48 kHz mono at 10 s
     * (the two halves are made first, see make_fixtures) */
    { "rate-change.ts", 0, NULL },
    /* for sizes: loud white noise and digital silence, lossless */
    { "noise.mkv", 0,
      "-f lavfi -i anoisesrc=r=48000:a=1:c=white:d=20:seed=42 -ac 2 -c:a flac" },
    { "silence.mkv", 0,
      "-f lavfi -i anullsrc=r=48000:cl=stereo -t 20 -c:a flac" },
};

enum { FX_MP4, FX_AC3, FX_MP3, FX_LATE, FX_OPUS, FX_VORBIS, FX_RATE,
       FX_NOISE, FX_SILENCE };

struct env {
    char dir[64];
    char path[ARRAY_LEN(fixtures)][128];
    char extra[4][128];   /* other files made by tests */
    int  nextra;
};

static int make_fixtures(struct env *e)
{
    char cmd[1024];

    strcpy(e->dir, "/tmp/test_audio.XXXXXX");
    if (!mkdtemp(e->dir))
        return -errno;
    for (size_t i = 0; i < ARRAY_LEN(fixtures); i++) {
        snprintf(e->path[i], sizeof(e->path[i]), "%s/%s", e->dir,
                 fixtures[i].name);
        if (fixtures[i].args)
            snprintf(cmd, sizeof(cmd),
                     "ffmpeg -nostdin -v error -y %s '%s'", fixtures[i].args,
                     e->path[i]);
        else   /* rate-change.ts: two halves joined by the concat demuxer */
            snprintf(cmd, sizeof(cmd),
                     "cd '%s' && ffmpeg -nostdin -v error -y " SINE(44100, 10)
                     "-ac 2 -c:a aac half1.ts && ffmpeg -nostdin -v error -y "
                     SINE(48000, 10) "-ac 1 -c:a aac half2.ts && "
                     "printf \"file 'half1.ts'\\nfile 'half2.ts'\\n\" > "
                     "halves.txt && ffmpeg -nostdin -v error -y -f concat "
                     "-safe 0 -i halves.txt -c copy '%s'; s=$?; "
                     "rm -f half1.ts half2.ts halves.txt; exit $s",
                     e->dir, e->path[i]);
        if (system(cmd) != 0) {
            fprintf(stderr, "test_audio: cannot make %s\n", fixtures[i].name);
            return -EIO;
        }
    }
    return 0;
}

static void remove_fixtures(struct env *e)
{
    for (size_t i = 0; i < ARRAY_LEN(fixtures); i++)
        if (e->path[i][0])
            unlink(e->path[i]);
    for (int i = 0; i < e->nextra; i++)
        unlink(e->extra[i]);
    if (e->dir[0])
        rmdir(e->dir);
}

/* The plan of the tests: 0, 6.006, 12.012, 18.018 s on the 1024 grid from
 * 0, and an end past the 20 s of the sources. */
static const int64_t bounds[] = { 0, 288768, 576512, 865280, 960512 };
#define NSEG ((int)ARRAY_LEN(bounds) - 1)

/* ---- the cases ------------------------------------------------------- */

static void test_parameters(void)
{
    AVCodecParameters *par = avcodec_parameters_alloc();
    struct audio_params bad = { .sample_rate = 44000, .bit_rate = 128000 };

    check_begin("output-parameters");
    CHECK(par, "alloc");
    if (par) {
        CHECK_INT(audio_output_parameters(&params, par), 0);
        CHECK_INT(par->codec_id, AV_CODEC_ID_AAC);
        CHECK_INT(par->sample_rate, RATE);
        CHECK_INT(par->ch_layout.nb_channels, 2);
        CHECK_INT(par->frame_size, FRAME);
        CHECK_INT(par->initial_padding, 1024);
        CHECK(par->extradata_size >= 2, "extradata size %d", par->extradata_size);
        if (par->extradata_size >= 2) {
            /* AudioSpecificConfig: object type 2 (LC), rate index 3
             * (48000), channel configuration 2 */
            CHECK_INT(par->extradata[0] >> 3, 2);
            CHECK_INT(((par->extradata[0] & 7) << 1) | (par->extradata[1] >> 7), 3);
            CHECK_INT((par->extradata[1] >> 3) & 15, 2);
        }
        av_log_set_level(AV_LOG_QUIET);
        CHECK_INT(audio_output_parameters(&bad, par), AVERROR(EINVAL));
        av_log_set_level(AV_LOG_ERROR);
    }
    avcodec_parameters_free(&par);
    check_end();
}

static void test_errors(const struct env *e)
{
    struct pkts l;

    check_begin("errors");
    CHECK_INT(encode("/nonexistent/file.mkv", 1, 0, FRAME, &params, &l),
              AVERROR(ENOENT));
    pkts_free(&l);
    /* stream 0 is the video */
    CHECK_INT(encode(e->path[FX_MP4], 0, 0, FRAME, &params, &l), AVERROR(EINVAL));
    pkts_free(&l);
    CHECK_INT(encode(e->path[FX_MP4], 7, 0, FRAME, &params, &l), AVERROR(EINVAL));
    pkts_free(&l);
    CHECK_INT(encode(e->path[FX_MP4], 1, 0, 1000, &params, &l), AVERROR(EINVAL));
    pkts_free(&l);
    CHECK_INT(encode(e->path[FX_MP4], 1, FRAME, 0, &params, &l), AVERROR(EINVAL));
    pkts_free(&l);
    CHECK_INT(encode(e->path[FX_MP4], 1, 0, 0, &params, &l), 0);
    CHECK_INT(l.n, 0);
    pkts_free(&l);
    check_end();
}

/* A read that fails with EIO at the end of the file (the source through
 * libavformat's concat protocol, followed by /proc/self/mem, whose first
 * page cannot be read) fails the segment: it must not be padded with
 * silence and stored as if the stream had ended. */
static void test_read_error(const struct env *e)
{
    char path[300];
    struct pkts l;

    check_begin("errors/read-error-fails-the-segment");
    snprintf(path, sizeof(path), "concat:%s|/proc/self/mem", e->path[FX_RATE]);
    av_log_set_level(AV_LOG_QUIET);
    CHECK_INT(encode(path, 0, bounds[3], bounds[4], &params, &l), AVERROR(EIO));
    pkts_free(&l);
    /* the same segment of the file itself is made */
    CHECK_INT(encode(e->path[FX_RATE], 0, bounds[3], bounds[4], &params, &l), 0);
    av_log_set_level(AV_LOG_ERROR);
    CHECK_INT(l.n, (bounds[4] - bounds[3]) / FRAME);
    pkts_free(&l);
    check_end();
}

static void test_determinism(const struct env *e, int fx)
{
    struct pkts a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 }, x = { 0 };
    const char *path = e->path[fx];
    int idx = fixtures[fx].stream;

    check_begin("determinism/%s", fixtures[fx].name);
    /* segment 2 twice in a row */
    CHECK_INT(encode(path, idx, bounds[1], bounds[2], &params, &a), 0);
    CHECK_INT(encode(path, idx, bounds[1], bounds[2], &params, &b), 0);
    CHECK(a.n > 0 && pkts_equal(&a, &b), "segment 2 twice differs");
    /* segment 3 after segment 2 (above) and before it (x is encoded after c) */
    CHECK_INT(encode(path, idx, bounds[2], bounds[3], &params, &c), 0);
    pkts_free(&b);
    CHECK_INT(encode(path, idx, bounds[2], bounds[3], &params, &d), 0);
    CHECK_INT(encode(path, idx, bounds[1], bounds[2], &params, &x), 0);
    CHECK(c.n > 0 && pkts_equal(&c, &d), "segment 3 depends on order");
    CHECK(pkts_equal(&a, &x), "segment 2 depends on order");
    pkts_free(&a);
    pkts_free(&c);
    pkts_free(&d);
    pkts_free(&x);
    check_end();
}

/* Exact packet count and pts; the decoded audio silent over [silent_from,
 * silent_to) and the sine present over [sine_from, sine_to) (absolute
 * positions; empty ranges skip the check). */
static void check_frames(const struct env *e, int fx, const char *what,
                         int64_t first, int64_t end, int64_t silent_from,
                         int64_t silent_to, int64_t sine_from, int64_t sine_to)
{
    struct pkts l = { 0 };
    struct pcm s = { 0 };
    int ret, pts_ok = 1;

    check_begin("frames/%s/%s", fixtures[fx].name, what);
    ret = encode(e->path[fx], fixtures[fx].stream, first, end, &params, &l);
    CHECK_INT(ret, 0);
    CHECK_INT(l.n, (end - first) / FRAME);
    for (int k = 0; k < l.n && pts_ok; k++) {
        pts_ok = l.p[k]->pts == first + (int64_t)k * FRAME &&
                 l.p[k]->dts == l.p[k]->pts && l.p[k]->duration == FRAME;
        CHECK(pts_ok, "packet %d: pts %" PRId64 " dts %" PRId64
              " duration %" PRId64, k, l.p[k]->pts, l.p[k]->dts,
              l.p[k]->duration);
    }
    if (ret == 0 && (ret = decode(&l, 1, NULL, &s)) != 0)
        CHECK(0, "the segment does not decode: %d", ret);
    else if (ret == 0) {
        CHECK_INT(s.n, end - first);
        if (silent_to > silent_from) {
            double pk = peak(&s, silent_from - first, silent_to - first);
            CHECK(pk < 1e-4, "peak %.6f where the source has no audio", pk);
        }
        if (sine_to > sine_from) {
            double amp, ph;
            fit_sine(&s, first, sine_from - first, sine_to - first, &amp, &ph);
            CHECK(amp > 0.05, "sine amplitude %.4f where there is audio", amp);
        }
    }
    pcm_free(&s);
    pkts_free(&l);
    check_end();
}

static void test_frames(const struct env *e)
{
    /* audio from 0.5 s (24000): a first segment starting before it */
    check_frames(e, FX_LATE, "first-before-audio", bounds[0], bounds[1],
                 FRAME, 24000 - 1200, 24000 + 2400, bounds[1]);
    check_frames(e, FX_LATE, "middle", bounds[1], bounds[2], 0, 0,
                 bounds[1] + FRAME, bounds[2]);
    /* the audio ends at 20 s (960000) */
    check_frames(e, FX_MP4, "past-end", bounds[3], bounds[3] + 288768,
                 960000 + 2400, bounds[3] + 288768, bounds[3] + FRAME, 955000);
    check_frames(e, FX_MP4, "odd-start", 12345, 12345 + 10 * FRAME, 0, 0,
                 12345 + FRAME, 12345 + 10 * FRAME);
    check_frames(e, FX_MP4, "before-source", -100 * FRAME, -50 * FRAME,
                 -100 * FRAME, -50 * FRAME, 0, 0);
    check_frames(e, FX_AC3, "after-source", 30 * RATE, 30 * RATE + 50 * FRAME,
                 30 * RATE, 30 * RATE + 50 * FRAME, 0, 0);
    check_frames(e, FX_MP3, "middle", bounds[1], bounds[2], 0, 0,
                 bounds[1] + FRAME, bounds[2]);
}

/* Encode the plan segment by segment and in one piece, decode both:
 * worst boundary and interior differences. preroll/skip/shift simulate
 * bugs. */
struct continuity {
    int64_t total;             /* decoded samples of the segments     */
    double  bound_max, bound_snr;   /* worst over the boundaries      */
    double  inner_max, inner_snr;   /* worst over segment middles     */
    size_t  bytes;
};

static int measure(const struct env *e, int fx, const struct audio_params *p,
                   int drop_frame, int shift, struct continuity *m)
{
    struct pkts seg[NSEG], whole = { 0 };
    struct pcm a = { 0 }, b = { 0 };
    int skip[NSEG] = { 0 }, ret = 0;
    const char *path = e->path[fx];
    int idx = fixtures[fx].stream;

    memset(seg, 0, sizeof(seg));
    memset(m, 0, sizeof(*m));
    m->bound_snr = m->inner_snr = INFINITY;
    for (int i = 0; i < NSEG && ret == 0; i++) {
        int64_t s = bounds[i] + (i == 2 ? shift : 0);
        ret = encode(path, idx, s, bounds[i + 1] + (i == 2 ? shift : 0), p,
                     &seg[i]);
        m->bytes += seg[i].bytes;
    }
    if (ret == 0)
        ret = encode(path, idx, bounds[0], bounds[NSEG], &params, &whole);
    if (drop_frame)
        skip[2] = 1;
    if (ret == 0)
        ret = decode(seg, NSEG, skip, &a);
    if (ret == 0)
        ret = decode(&whole, 1, NULL, &b);
    if (ret == 0) {
        m->total = a.n;
        for (int i = 1; i < NSEG; i++) {
            struct diff d = compare(&a, &b, bounds[i] - WIN, bounds[i] + WIN);
            m->bound_max = fmax(m->bound_max, d.max);
            m->bound_snr = fmin(m->bound_snr, d.snr_db);
        }
        for (int i = 0; i < NSEG; i++) {
            int64_t mid = (bounds[i] + bounds[i + 1]) / 2;
            if (mid + WIN > 950000)
                continue;
            struct diff d = compare(&a, &b, mid - WIN, mid + WIN);
            m->inner_max = fmax(m->inner_max, d.max);
            m->inner_snr = fmin(m->inner_snr, d.snr_db);
        }
    }
    for (int i = 0; i < NSEG; i++)
        pkts_free(&seg[i]);
    pkts_free(&whole);
    pcm_free(&a);
    pcm_free(&b);
    return ret;
}

/* A boundary passes when its error is within a few times the coding
 * noise of the segment middles, and at least 25 dB below the signal. */
#define BOUND_MAX_RATIO 4.0
#define BOUND_MIN_SNR   25.0

static int boundary_ok(const struct continuity *m)
{
    return m->bound_max <= BOUND_MAX_RATIO * fmax(m->inner_max, 1e-3) &&
           m->bound_snr >= BOUND_MIN_SNR;
}

static void test_continuity(const struct env *e, int fx)
{
    struct continuity m;

    check_begin("continuity/%s", fixtures[fx].name);
    CHECK_INT(measure(e, fx, &params, 0, 0, &m), 0);
    CHECK_INT(m.total, bounds[NSEG] - bounds[0]);
    CHECK(boundary_ok(&m), "boundary: max %.5f snr %.1f dB; middles: max "
          "%.5f snr %.1f dB", m.bound_max, m.bound_snr, m.inner_max,
          m.inner_snr);
    printf("  %-20s boundaries: max |diff| %.5f, SNR %5.1f dB; middles: "
           "max %.5f, SNR %5.1f dB\n", fixtures[fx].name, m.bound_max,
           m.bound_snr, m.inner_max, m.inner_snr);
    check_end();
}

/* The measure above must see the bugs it is there for. */
static void test_continuity_catches(const struct env *e)
{
    struct audio_params none = params;
    struct continuity m;

    none.preroll = -1;
    check_begin("continuity-catches/no-preroll");
    CHECK_INT(measure(e, FX_MP4, &none, 0, 0, &m), 0);
    CHECK(!boundary_ok(&m), "not caught: max %.5f snr %.1f dB",
          m.bound_max, m.bound_snr);
    printf("  no pre-roll:         boundaries: max |diff| %.5f, SNR %5.1f dB\n",
           m.bound_max, m.bound_snr);
    check_end();

    check_begin("continuity-catches/missing-frame");
    CHECK_INT(measure(e, FX_MP4, &params, 1, 0, &m), 0);
    CHECK(m.total != bounds[NSEG] - bounds[0], "sample count unchanged");
    CHECK(!boundary_ok(&m), "not caught: max %.5f snr %.1f dB",
          m.bound_max, m.bound_snr);
    printf("  missing frame:       boundaries: max |diff| %.5f, SNR %5.1f dB\n",
           m.bound_max, m.bound_snr);
    check_end();

    check_begin("continuity-catches/shift-1024");
    CHECK_INT(measure(e, FX_MP4, &params, 0, FRAME, &m), 0);
    CHECK(!boundary_ok(&m), "not caught: max %.5f snr %.1f dB",
          m.bound_max, m.bound_snr);
    printf("  1024 shift:          boundaries: max |diff| %.5f, SNR %5.1f dB\n",
           m.bound_max, m.bound_snr);
    check_end();
}

/* The decoded sine is where the source puts it: phase 0 at position 0
 * (the MP4's AAC has exact timestamps and its priming removed). */
static void test_alignment(const struct env *e)
{
    struct pkts l = { 0 };
    struct pcm s = { 0 };
    double amp = 0, ph = 0;
    int64_t first = bounds[2], end = bounds[3];

    check_begin("alignment/%s", fixtures[FX_MP4].name);
    CHECK_INT(encode(e->path[FX_MP4], 1, first, end, &params, &l), 0);
    CHECK_INT(decode(&l, 1, NULL, &s), 0);
    fit_sine(&s, first, 4 * FRAME, s.n, &amp, &ph);
    /* one sample is 0.058 rad at 440 Hz */
    CHECK(fabs(ph) < 0.1, "phase %.3f rad (%.1f samples)", ph,
          ph / (2 * M_PI * SINE_HZ / RATE));
    /* the mono sine was upmixed to stereo at -3 dB by ffmpeg */
    CHECK(fabs(amp - 0.125 * M_SQRT1_2) < 0.005, "amplitude %.4f", amp);
    printf("  %-20s phase %+.4f rad (%+.2f samples), amplitude %.4f\n",
           fixtures[FX_MP4].name, ph, ph / (2 * M_PI * SINE_HZ / RATE), amp);
    pcm_free(&s);
    pkts_free(&l);
    check_end();
}

/* AAC that changes rate and channels mid-stream (MPEG-TS starts at
 * 1.4 s; the change is at 11.4 s): the right frames, the same bytes twice,
 * the sine at full level on both sides. */
static void test_rate_change(const struct env *e)
{
    const int64_t first = 468 * FRAME, end = first + 141 * FRAME;
    const int64_t change = 11 * RATE + RATE * 2 / 5;
    struct pkts a = { 0 }, b = { 0 };
    struct pcm s = { 0 };
    double amp1 = 0, amp2 = 0, ph;

    check_begin("rate-change/%s", fixtures[FX_RATE].name);
    CHECK_INT(encode(e->path[FX_RATE], 0, first, end, &params, &a), 0);
    CHECK_INT(a.n, (end - first) / FRAME);
    CHECK_INT(encode(e->path[FX_RATE], 0, first, end, &params, &b), 0);
    CHECK(pkts_equal(&a, &b), "two encodes differ");
    CHECK_INT(decode(&a, 1, NULL, &s), 0);
    fit_sine(&s, first, 2 * FRAME, change - RATE / 10 - first, &amp1, &ph);
    fit_sine(&s, first, change + RATE / 10 - first, s.n, &amp2, &ph);
    CHECK(fabs(amp1 - 0.125 * M_SQRT1_2) < 0.005, "before: amplitude %.4f", amp1);
    CHECK(fabs(amp2 - 0.125 * M_SQRT1_2) < 0.005, "after: amplitude %.4f", amp2);
    pcm_free(&s);
    pkts_free(&a);
    pkts_free(&b);
    check_end();
}

/* Garbage in the middle of the file: the segment is still made, whole,
 * with silence where packets would not decode (and a warning). */
static void test_corrupt(struct env *e)
{
    char path[sizeof(e->extra[0])];
    struct pkts l = { 0 };
    struct pcm s = { 0 };
    FILE *in = fopen(e->path[FX_MP4], "rb"), *out = NULL;
    long size = 0;
    uint8_t *buf = NULL;

    check_begin("corrupt-data");
    snprintf(path, sizeof(path), "%s/corrupt.mp4", e->dir);
    memcpy(e->extra[e->nextra++], path, sizeof(path));
    if (in && fseek(in, 0, SEEK_END) == 0 && (size = ftell(in)) > 0 &&
        fseek(in, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size)) &&
        fread(buf, 1, (size_t)size, in) == (size_t)size) {
        /* 32 KiB of noise at 42 %: inside segment 2 (6 .. 12 s) */
        for (long i = 0; i < 32768; i++)
            buf[size * 42 / 100 + i] = (uint8_t)(i * 7919 >> 3);
        if ((out = fopen(path, "wb")))
            fwrite(buf, 1, (size_t)size, out);
    }
    CHECK(out, "cannot write %s", path);
    if (out && fclose(out) == 0) {
        av_log_set_level(AV_LOG_QUIET);   /* the decoder's complaints */
        CHECK_INT(encode(path, 1, bounds[1], bounds[2], &params, &l), 0);
        av_log_set_level(AV_LOG_ERROR);
        CHECK_INT(l.n, (bounds[2] - bounds[1]) / FRAME);
        int dr = decode(&l, 1, NULL, &s);
        CHECK_INT(dr, 0);
        if (dr == 0)
            CHECK(peak(&s, 0, s.n) > 0.05, "no audio left");
    }
    if (in)
        fclose(in);
    free(buf);
    pcm_free(&s);
    pkts_free(&l);
    check_end();
}

/* How far the left channel over [from, to) is from the sine fitted to it
 * (fit_sine), in dB: the signal over the residual. */
static double sine_snr(const struct pcm *s, int64_t origin, int64_t from, int64_t to)
{
    double amp = 0, ph = 0, sig = 0, err = 0;
    fit_sine(s, origin, from, to, &amp, &ph);
    for (int64_t i = from; i < to && i < s->n; i++) {
        double w = 2 * M_PI * SINE_HZ * (double)(origin + i) / RATE;
        double d = s->l[i] - amp * sin(w + ph);
        sig += (double)s->l[i] * s->l[i];
        err += d * d;
    }
    return 10 * log10((sig + 1e-20) / (err + 1e-20));
}

/* The MP4's AAC with timestamps that wander as some muxers write them:
 * frames of 1024 samples said to last 960, every seventh 1408 to catch
 * up. The samples are right: two segments decode to one unbroken sine
 * (placing each frame by its timestamp cut 64 samples from most frames),
 * the same bytes twice. */
#define JITTER_MIN_SNR 30.0

static void test_jitter(struct env *e)
{
    char path[sizeof(e->extra[0])], cmd[600];
    struct pkts seg[2] = { { 0 } }, again = { 0 };
    struct pcm s = { 0 };

    check_begin("jittered-timestamps");
    snprintf(path, sizeof(path), "%s/jitter.mp4", e->dir);
    memcpy(e->extra[e->nextra++], path, sizeof(path));
    snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -v error -y -i '%s' -map 0:a -c copy "
             "-bsf:a 'setts=ts=N*1024-mod(N\\,7)*64' '%s'", e->path[FX_MP4], path);
    CHECK(system(cmd) == 0, "cannot make %s", path);
    for (int i = 0; i < 2; i++) {
        CHECK_INT(encode(path, 0, bounds[i + 1], bounds[i + 2], &params, &seg[i]), 0);
        CHECK_INT(seg[i].n, (bounds[i + 2] - bounds[i + 1]) / FRAME);
    }
    CHECK_INT(encode(path, 0, bounds[2], bounds[3], &params, &again), 0);
    CHECK(pkts_equal(&seg[1], &again), "two encodes differ");
    if (decode(seg, 2, NULL, &s) == 0 && s.n > 4 * FRAME) {
        int64_t b = bounds[2] - bounds[1];
        double inner = sine_snr(&s, bounds[1], 4 * FRAME, b - WIN);
        double edge = sine_snr(&s, bounds[1], b - WIN, b + WIN);
        CHECK(inner >= JITTER_MIN_SNR, "segment: %.1f dB from a sine", inner);
        CHECK(edge >= JITTER_MIN_SNR, "boundary: %.1f dB from a sine", edge);
        printf("  jittered timestamps: %.1f dB from a sine within a segment, %.1f dB "
               "across the boundary\n", inner, edge);
    } else {
        CHECK(0, "the segments do not decode");
    }
    pcm_free(&s);
    pkts_free(&seg[0]);
    pkts_free(&seg[1]);
    pkts_free(&again);
    check_end();
}

/* Segment bytes against bit_rate / 8 * duration. */
#define SIZE_MAX_RATIO 1.10

static void test_sizes(const struct env *e)
{
    static const int fxs[] = { FX_NOISE, FX_SILENCE, FX_MP4, FX_AC3 };
    struct audio_params hi = params;
    double worst = 0;

    hi.bit_rate = 256000;
    check_begin("sizes");
    for (int r = 0; r < 2; r++) {
        const struct audio_params *p = r ? &hi : &params;
        for (size_t i = 0; i < ARRAY_LEN(fxs); i++) {
            for (int s = 0; s < NSEG; s++) {
                struct pkts l = { 0 };
                double budget, ratio;
                CHECK_INT(encode(e->path[fxs[i]], fixtures[fxs[i]].stream,
                                 bounds[s], bounds[s + 1], p, &l), 0);
                budget = (double)p->bit_rate / 8 *
                         (double)(bounds[s + 1] - bounds[s]) / RATE;
                ratio = (double)l.bytes / budget;
                worst = fmax(worst, ratio);
                CHECK(ratio <= SIZE_MAX_RATIO, "%s at %" PRId64 " bit/s, "
                      "segment %d: %zu bytes, %.3f of the budget",
                      fixtures[fxs[i]].name, p->bit_rate, s, l.bytes, ratio);
                    printf("  %-20s %3" PRId64 "k segment %d: %zu bytes, "
                           "%.3f of the budget\n", fixtures[fxs[i]].name,
                           p->bit_rate / 1000, s, l.bytes, ratio);
                pkts_free(&l);
            }
        }
    }
    printf("  worst segment bytes / (bit_rate/8 x duration): %.3f\n", worst);
    check_end();
}

int main(void)
{
    struct env e;

    memset(&e, 0, sizeof(e));
    av_log_set_level(AV_LOG_ERROR);
    test_parameters();
    if (make_fixtures(&e) < 0) {
        check_begin("fixtures");
        CHECK(0, "ffmpeg could not make the test media");
        check_end();
        remove_fixtures(&e);
        return check_summary("test_audio");
    }
    test_errors(&e);
    test_read_error(&e);
    test_determinism(&e, FX_MP4);
    test_determinism(&e, FX_LATE);
    test_frames(&e);
    test_alignment(&e);
    test_continuity(&e, FX_MP4);
    test_continuity(&e, FX_AC3);
    test_continuity(&e, FX_MP3);
    test_continuity(&e, FX_LATE);
    test_continuity(&e, FX_OPUS);
    test_continuity(&e, FX_VORBIS);
    test_continuity_catches(&e);
    test_rate_change(&e);
    test_corrupt(&e);
    test_jitter(&e);
    test_sizes(&e);
    remove_fixtures(&e);
    return check_summary("test_audio");
}
