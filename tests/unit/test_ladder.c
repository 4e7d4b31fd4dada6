/*
 * test_ladder: the rendition ladder (parsing, rung choice, picture sizes)
 * and the segment byte bounds.
 */
#include <errno.h>
#include <stdlib.h>

#include "hlsfs/ladder.h"

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

static void test_select(void)
{
    static const struct {
        const char *name;
        int         w, h;         /* display size */
        int         n;            /* rungs offered */
        int         top_w, top_h; /* the largest rung's picture */
    } cases[] = {
        { "1080p-16:9", 1920, 1080, 4, 1920, 1080 },
        { "720p", 1280, 720, 3, 1280, 720 },
        { "between-rungs-1000p", 1778, 1000, 3, 1280, 720 },
        { "portrait-720x1280", 720, 1280, 3, 720, 1280 },
        { "odd-161x121", 161, 121, 1, 160, 120 },
        { "4:3-640x480", 640, 480, 2, 640, 480 },
        { "2160p", 3840, 2160, 6, 3840, 2160 },
        { "cinemascope-1920x800", 1920, 800, 3, 1728, 720 },
        /* no rung wider than the encoder takes (16384): a damaged header's
         * 65280x720 gets none, a 16000x400 panorama its 360p */
        { "damaged-65280x720", 65280, 720, 0, 0, 0 },
        { "panorama-16000x400", 16000, 400, 1, 14400, 360 },
        { "panorama-20000x400", 20000, 400, 0, 0, 0 },
        { "tall-100x40000", 100, 40000, 0, 0, 0 },
    };
    struct ladder l;
    ladder_default(&l);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ladder_choice c[LADDER_MAX];
        check_begin("select/%s", cases[i].name);
        int n = ladder_select(&l, cases[i].w, cases[i].h, c);
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
    CHECK_INT(ladder_select(&l, 0, 0, c), 0);
    check_end();
    check_begin("select/small-source-rate-scaled");
    CHECK_INT(ladder_select(&l, 176, 144, c), 1);
    CHECK(c[0].bit_rate < 800000 && c[0].bit_rate >= 64000, "rate %lld",
          (long long)c[0].bit_rate);
    check_end();
}

static void test_bounds(void)
{
    check_begin("bounds/video-covers-payload-and-headers");
    for (long frames = 1; frames < 400; frames += 37) {
        uint64_t payload = ladder_video_payload_bytes(2800000, 6000);
        uint64_t b = ladder_video_segment_bytes(2800000, 6000, frames);
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
    CHECK(ladder_video_segment_bytes(2800000, 6000, 144) <
          ladder_video_segment_bytes(2800000, 6001, 144), "duration");
    CHECK(ladder_video_segment_bytes(2800000, 6000, 144) <
          ladder_video_segment_bytes(2900000, 6000, 144), "rate");
    CHECK(ladder_video_segment_bytes(2800000, 6000, 144) <
          ladder_video_segment_bytes(2800000, 6000, 145), "frames");
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
    test_bounds();
    return check_summary("test_ladder");
}
