/*
 * test_ladder: the rendition ladder (parsing, rung choice, picture sizes)
 * and the segment byte bounds.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hlsfs/ladder.h"
#include "hlsfs/tssize.h"

#include "check.h"

static void test_parse(void)
{
    static const struct {
        const char *spec;
        int         ok, n, first_h;
        long long   first_rate;
    } cases[] = {
        { "360:800k,720:2800k", 1, 2, 360, 800000 },
        { "720:2.8M,360:800000", 1, 2, 360, 800000 },   /* sorted */
        { "1080:5000k", 1, 1, 1080, 5000000 },
        { "", 0, 0, 0, 0 },
        { "720", 0, 0, 0, 0 },
        { "720:", 0, 0, 0, 0 },
        { "720:10k", 0, 0, 0, 0 },                      /* below 64k */
        { "720:2800k,720:3000k", 0, 0, 0, 0 },          /* duplicate */
        { "720:2800k,", 0, 0, 0, 0 },
        { "x:800k", 0, 0, 0, 0 },
        { "1:800k", 0, 0, 0, 0 },
        { "720:2800q", 0, 0, 0, 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ladder l;
        check_begin("parse/'%s'", cases[i].spec);
        int ret = ladder_parse(cases[i].spec, &l);
        CHECK_INT(ret, cases[i].ok ? 0 : -EINVAL);
        if (cases[i].ok && ret == 0) {
            CHECK_INT(l.n, cases[i].n);
            CHECK_INT(l.rungs[0].height, cases[i].first_h);
            CHECK_INT(l.rungs[0].bit_rate, cases[i].first_rate);
        }
        check_end();
    }
    struct ladder l;
    char text[128];
    check_begin("format/default");
    ladder_default(&l);
    CHECK(ladder_format(&l, text, sizeof(text)) > 0, "format failed");
    CHECK_STR(text, "360:800000,480:1400000,720:2800000,1080:5000000,"
                    "1440:8000000,2160:14000000");
    check_end();
}

static int select_size(const struct ladder *l, int w, int h, struct ladder_choice *c)
{
    struct ladder_source s = { .display_w = w, .display_h = h };
    return ladder_select(l, &s, c);
}

/* Rung choice by picture size alone (the source's rate unknown, no
 * original): the ladder's rungs up to the short side, plus the rung at
 * half the smallest for two renditions and cellular. */
static void test_select(void)
{
    static const struct {
        const char *name;
        int         w, h;         /* display size */
        int         n;            /* rungs offered */
        int         top_w, top_h; /* the largest rung's picture */
    } cases[] = {
        { "1080p-16:9", 1920, 1080, 5, 1920, 1080 },
        { "720p", 1280, 720, 4, 1280, 720 },
        { "between-rungs-1000p", 1778, 1000, 4, 1280, 720 },
        { "portrait-720x1280", 720, 1280, 4, 720, 1280 },
        { "odd-161x121", 161, 121, 2, 160, 120 },
        { "4:3-640x480", 640, 480, 3, 640, 480 },
        { "2160p", 3840, 2160, 7, 3840, 2160 },
        { "cinemascope-1920x800", 1920, 800, 4, 1728, 720 },
        /* no rung wider than the encoder takes (16384): a damaged header's
         * 65280x720 gets none, a 16000x400 panorama its 360p (and 180p) */
        { "damaged-65280x720", 65280, 720, 0, 0, 0 },
        { "panorama-16000x400", 16000, 400, 2, 14400, 360 },
        { "panorama-20000x400", 20000, 400, 0, 0, 0 },
        { "tall-100x40000", 100, 40000, 0, 0, 0 },
    };
    struct ladder l;
    ladder_default(&l);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ladder_choice c[LADDER_MAX];
        check_begin("select/%s", cases[i].name);
        int n = select_size(&l, cases[i].w, cases[i].h, c);
        CHECK_INT(n, cases[i].n);
        if (n > 0) {
            CHECK_INT(c[n - 1].width_px, cases[i].top_w);
            CHECK_INT(c[n - 1].height_px, cases[i].top_h);
            for (int k = 0; k < n; k++) {
                CHECK(c[k].width_px % 2 == 0 && c[k].height_px % 2 == 0,
                      "rung %d: %dx%d not even", k, c[k].width_px, c[k].height_px);
                int short_side = c[k].width_px < c[k].height_px ? c[k].width_px
                                                                : c[k].height_px;
                int src_short = cases[i].w < cases[i].h ? cases[i].w : cases[i].h;
                CHECK(short_side <= src_short + 1, "rung %d upscales", k);
            }
        }
        check_end();
    }
    struct ladder_choice c[LADDER_MAX];
    check_begin("select/no-size");
    CHECK_INT(select_size(&l, 0, 0, c), 0);
    check_end();
    check_begin("select/small-source-rate-scaled");
    CHECK_INT(select_size(&l, 176, 144, c), 2);
    CHECK_INT(c[1].height, 144);
    CHECK(c[1].bit_rate < 800000 && c[1].bit_rate >= 64000, "rate %lld",
          (long long)c[1].bit_rate);
    CHECK_INT(c[0].height, 72);
    CHECK(c[0].bit_rate < c[1].bit_rate, "72p at %lld", (long long)c[0].bit_rate);
    check_end();
    check_begin("select/user-ladder-is-the-candidates");
    struct ladder u;
    CHECK_INT(ladder_parse("240:300k,480:1M", &u), 0);
    /* 240p and 480p from the user's ladder, none under 192 kbit/s: 120p
     * added, at 240p's bits per pixel */
    CHECK_INT(select_size(&u, 1280, 720, c), 3);
    CHECK_INT(c[0].height, 120);
    CHECK(c[0].bit_rate < 192000 && c[0].bit_rate * 4 / 300000 == 1, "120p at %lld",
          (long long)c[0].bit_rate);
    CHECK_INT(c[1].height, 240);
    CHECK_INT(c[1].bit_rate, 300000);
    CHECK_INT(c[2].bit_rate, 1000000);
    check_end();
}

static void test_codec_cost(void)
{
    check_begin("codec-cost");
    CHECK_INT(ladder_codec_cost_pct("h264"), 100);
    CHECK_INT(ladder_codec_cost_pct("hevc"), 65);
    CHECK_INT(ladder_codec_cost_pct("vp9"), 65);
    CHECK_INT(ladder_codec_cost_pct("av1"), 50);
    CHECK_INT(ladder_codec_cost_pct("mpeg2video"), 150);
    CHECK_INT(ladder_codec_cost_pct("mpeg4"), 150);
    CHECK_INT(ladder_codec_cost_pct("h263"), 150);
    CHECK_INT(ladder_codec_cost_pct("something-new"), 100);
    CHECK_INT(ladder_codec_cost_pct(NULL), 100);
    check_end();
}

/* What the source needs at w x h, computed here from the rule's own
 * words (not from ladder.c): its rate in H.264 bits, scaled by pixels to
 * the 0.75, with a 30 % margin; and the floor. */
static double need_of(int64_t rate, int cost_pct, int sw, int sh, int w, int h)
{
    return rate * 100.0 / cost_pct * pow((double)w * h / ((double)sw * sh), 0.75) * 1.3;
}

static double floor_of(int w, int h)
{
    double f = 100000.0 * pow(fmin(1.0, (double)w * h / (640.0 * 360.0)), 0.75);
    return f < 32000 ? 32000 : f;
}

/* The cellular rate: its 6 s segments and the cellular audio's, muxed,
 * under 192 kbit/s, and not much more room left; less at 60 fps. */
static void test_cellular_rate(void)
{
    check_begin("ladder/cellular-rate");
    uint64_t audio = ladder_audio_segment_bytes(LADDER_CELLULAR_AUDIO_BPS, 48000,
                                                48000 * 6 / 1024 + 1);
    const double fps[] = { 0, 25, 30, 60 };
    for (size_t i = 0; i < sizeof(fps) / sizeof(fps[0]); i++) {
        int64_t r = ladder_cellular_rate(fps[i]);
        long frames = (long)ceil((fps[i] ? fps[i] : 30) * 6);
        uint64_t at = tssize_h264_segment_bytes(ladder_video_payload_bytes(r, 6000), frames, 6000);
        uint64_t more = tssize_h264_segment_bytes(ladder_video_payload_bytes(r + 2000, 6000),
                                                  frames, 6000);
        CHECK((at + audio) * 8 / 6 < 192000, "%.0f fps: %lld bit/s gives %llu", fps[i],
              (long long)r, (unsigned long long)((at + audio) * 8 / 6));
        CHECK((more + audio) * 8 / 6 >= 192000, "%.0f fps: %lld bit/s leaves room", fps[i],
              (long long)r);
    }
    CHECK(ladder_cellular_rate(60) < ladder_cellular_rate(30), "60 fps needs less");
    CHECK_INT(ladder_cellular_rate(0), ladder_cellular_rate(30));
    check_end();
}

/* The ladder fits the title: a table of source sizes, codecs and rates. */
static void test_fit(void)
{
    static const struct {
        const char *name;
        int         w, h;
        const char *codec;
        long long   rate;         /* measured, bit/s */
        int         original;     /* H.264 without rotation: copied too */
        const char *want;         /* "height:rate,..." smallest first; rate
                                     0: only checked by the rules */
    } cases[] = {
        { "1080p-h264-5M", 1920, 1080, "h264", 5000000, 1,
          "180:92666,360:800000,480:1400000,720:2800000,1080:5000000" },
        { "1080p-h264-220k", 1920, 1080, "h264", 220000, 1,
          "240:54369,480:100000,720:155678,1080:286000" },
        { "1080p-av1-10k", 1920, 1080, "av1", 10000, 0, "540:92666,1080:100000" },
        { "1080p-hevc-2M", 1920, 1080, "hevc", 2000000, 0,
          "180:92666,360:0,480:0,720:0,1080:0" },
        { "720p-h264-2.5M", 1280, 720, "h264", 2500000, 1,
          "180:92666,360:800000,480:1400000,720:2800000" },
        { "720p-h264-600k", 1280, 720, "h264", 600000, 1, "180:0,360:0,480:0,720:0" },
        { "360p-h264-800k", 640, 360, "h264", 800000, 1, "180:92666,360:800000" },
        { "360p-mpeg4-800k", 640, 360, "mpeg4", 800000, 0, "180:92666,360:693333" },
        { "240p-h264-300k", 426, 240, "h264", 300000, 1, "120:0,240:0" },
        { "240p-h263-300k", 320, 240, "h263", 300000, 0, "120:0,240:0" },
        { "qcif-h264-100k", 176, 144, "h264", 100000, 1, "72:32000,144:128000" },
        { "qcif-h263-64k", 176, 144, "h263", 64000, 0, "72:32000,144:55466" },
        { "qcif-h264-30k", 176, 144, "h264", 30000, 1, "144:39000" },
        { "portrait-1080x1920-h264-3M", 1080, 1920, "h264", 3000000, 0,
          "180:92666,360:0,480:0,720:0,1080:0" },
    };
    struct ladder l;
    ladder_default(&l);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ladder_source s = {
            .display_w = cases[i].w, .display_h = cases[i].h,
            .bit_rate = cases[i].rate,
            .cost_pct = ladder_codec_cost_pct(cases[i].codec),
            .original = cases[i].original,
        };
        struct ladder_choice c[LADDER_MAX];
        check_begin("fit/%s", cases[i].name);
        int n = ladder_select(&l, &s, c);
        /* the rules */
        CHECK(n + cases[i].original >= 2, "%d video renditions", n + cases[i].original);
        int cellular = 0;
        for (int k = 0; k < n; k++) {
            cellular |= c[k].bit_rate <= ladder_cellular_rate(s.fps);
            double need = need_of(s.bit_rate, s.cost_pct, s.display_w, s.display_h,
                                  c[k].width_px, c[k].height_px);
            double fl = floor_of(c[k].width_px, c[k].height_px);
            CHECK(c[k].bit_rate <= (need > fl ? need : fl) + 1,
                  "%dp at %lld, above the source's need %.0f (floor %.0f)", c[k].height,
                  (long long)c[k].bit_rate, need, fl);
            if (k > 0) {
                CHECK(c[k].bit_rate > c[k - 1].bit_rate, "%dp at %lld not above %dp at %lld",
                      c[k].height, (long long)c[k].bit_rate, c[k - 1].height,
                      (long long)c[k - 1].bit_rate);
                CHECK(c[k].width_px > c[k - 1].width_px && c[k].height_px > c[k - 1].height_px,
                      "%dp not larger than %dp", c[k].height, c[k - 1].height);
            }
        }
        CHECK(cellular, "no rung for cellular networks");
        /* the table */
        char want[200], *save = NULL;
        snprintf(want, sizeof(want), "%s", cases[i].want);
        int k = 0;
        for (char *tok = strtok_r(want, ",", &save); tok; tok = strtok_r(NULL, ",", &save), k++) {
            int h = atoi(tok);
            long long rate = atoll(strchr(tok, ':') + 1);
            if (k >= n)
                continue;
            CHECK(c[k].height == h, "rung %d is %dp, want %dp", k, c[k].height, h);
            if (rate)
                CHECK(llabs((long long)c[k].bit_rate - rate) <= 1, "%dp at %lld, want %lld",
                      c[k].height, (long long)c[k].bit_rate, rate);
        }
        CHECK_INT(n, k);
        check_end();
    }
    /* a user's ladder is capped the same way: 300 kbit/s of 720p H.264
     * need less than 240:300k and 480:1M, and 240p is then under 192k */
    check_begin("fit/user-ladder-capped");
    struct ladder u;
    CHECK_INT(ladder_parse("240:300k,480:1M", &u), 0);
    struct ladder_source us = { 1280, 720, 300000, 100, 1, 0 };
    struct ladder_choice uc[LADDER_MAX];
    CHECK_INT(ladder_select(&u, &us, uc), 2);
    CHECK_INT(uc[0].height, 240);
    CHECK_INT(uc[1].height, 480);
    for (int k = 0; k < 2; k++) {
        double need = need_of(300000, 100, 1280, 720, uc[k].width_px, uc[k].height_px);
        CHECK(llabs(uc[k].bit_rate - (long long)need) <= 1, "%dp at %lld, need %.0f",
              uc[k].height, (long long)uc[k].bit_rate, need);
    }
    check_end();
    /* the same source at a lower rate never gets a higher rung rate */
    check_begin("fit/rate-lower-never-higher");
    for (long long r = 20000; r < 20000000; r = r * 3 / 2) {
        struct ladder_source a = { 1920, 1080, r, 100, 1, 0 }, b = a;
        b.bit_rate = r * 3 / 2;
        struct ladder_choice ca[LADDER_MAX], cb[LADDER_MAX];
        int na = ladder_select(&l, &a, ca), nb = ladder_select(&l, &b, cb);
        CHECK(ca[na - 1].bit_rate <= cb[nb - 1].bit_rate, "top rung at %lld: %lld > %lld", r,
              (long long)ca[na - 1].bit_rate, (long long)cb[nb - 1].bit_rate);
    }
    check_end();
}

/* A video segment's largest TS bytes at a rate: the rate's payload
 * framed by tssize.h's model, as title.c plans a rung at its bound. */
static uint64_t video_bound(int64_t bit_rate, int64_t duration_ms, long frames)
{
    return tssize_h264_segment_bytes(ladder_video_payload_bytes(bit_rate, duration_ms),
                                     frames, duration_ms);
}

static void test_bounds(void)
{
    check_begin("bounds/video-covers-payload-and-headers");
    for (long frames = 1; frames < 400; frames += 37) {
        uint64_t payload = ladder_video_payload_bytes(2800000, 6000);
        uint64_t b = video_bound(2800000, 6000, frames);
        CHECK(b % 188 == 0, "not whole TS packets: %llu", (unsigned long long)b);
        /* payload in 184-byte pieces, one partial packet and 33 header
         * bytes per frame, three tables */
        uint64_t need = (payload + (uint64_t)frames * 33 + 183) / 184 * 188 +
                        (uint64_t)frames * 188 + 3 * 188;
        CHECK(b >= need, "%ld frames: bound %llu < %llu", frames,
              (unsigned long long)b, (unsigned long long)need);
        CHECK(b < need + 188 * 2 + (uint64_t)frames * 188 / 4, "%ld frames: bound %llu far above %llu",
              frames, (unsigned long long)b, (unsigned long long)need);
    }
    check_end();
    check_begin("bounds/video-grows-with-duration-rate-frames");
    CHECK(video_bound(2800000, 6000, 144) <
          video_bound(2800000, 6001, 144), "duration");
    CHECK(video_bound(2800000, 6000, 144) <
          video_bound(2900000, 6000, 144), "rate");
    CHECK(video_bound(2800000, 6000, 144) <
          video_bound(2800000, 6000, 145), "frames");
    check_end();
    check_begin("bounds/audio");
    /* 6 s at 48 kHz is 281.25 frames: 281 frames of 128 kbit/s */
    uint64_t payload = ladder_audio_payload_bytes(128000, 48000, 281);
    CHECK(payload >= 95914 && payload <= 95916, "payload %llu", (unsigned long long)payload);
    uint64_t b = ladder_audio_segment_bytes(128000, 48000, 281);
    CHECK(b % 188 == 0, "not whole TS packets");
    CHECK(b > payload * 105 / 100 + 281 * 7, "bound %llu below payload + 5%% and ADTS",
          (unsigned long long)b);
    CHECK(b < (payload + 281 * 7) * 14 / 10, "bound %llu over 40%% above payload",
          (unsigned long long)b);
    check_end();
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_parse();
    test_select();
    test_codec_cost();
    test_cellular_rate();
    test_fit();
    test_bounds();
    return check_summary("test_ladder");
}
