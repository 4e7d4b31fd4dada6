/*
 * test_h264: the level a rung declares (h264.c) from the H.264 level
 * table, for the default ladder's sizes at common frame rates, and the
 * profile a preset gives.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "hlsfs/h264.h"

static const struct {
    int w, h;
    double fps;
    long long rate;
    int level;
} cases[] = {
    { 640, 360, 30, 800000, 30 },      /* 920 MB x 30 = 27600 MB/s > 2.2's 20250 */
    { 640, 360, 15, 800000, 22 },
    { 854, 480, 25, 1400000, 30 },     /* 1620 MB x 25 = 40500: 3.0 exactly */
    { 854, 480, 30, 1400000, 31 },
    { 1280, 720, 30, 2800000, 31 },
    { 1280, 720, 60, 2800000, 32 },
    { 1920, 1080, 29.97, 5000000, 40 },
    { 1920, 1080, 30, 5000000, 40 },   /* 8160 MB x 30 = 244800 <= 245760 */
    { 1920, 1080, 50, 5000000, 42 },
    { 1920, 1080, 60, 5000000, 42 },
    { 1920, 1080, 30, 30000000, 41 },  /* 4.0 carries 25 Mbit/s in High */
    { 2560, 1440, 30, 8000000, 50 },
    { 2560, 1440, 60, 8000000, 51 },
    { 3840, 2160, 30, 14000000, 51 },
    { 3840, 2160, 60, 14000000, 52 },
    { 1080, 1920, 60, 5000000, 42 },   /* portrait: the same macroblocks */
    { 176, 144, 0, 200000, 11 },       /* unknown rate: 25 fps */
    { 120, 68, 25, 200000, 11 },       /* 1.0 carries 80 kbit/s in High */
};

int main(void)
{
    char codecs[32];

    setvbuf(stdout, NULL, _IOLBF, 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_begin("h264/level/%dx%d@%g/%lld", cases[i].w, cases[i].h, cases[i].fps,
                    cases[i].rate);
        CHECK_INT(h264_level(cases[i].w, cases[i].h, cases[i].fps, cases[i].rate, 1),
                  cases[i].level);
        check_end();
    }
    check_begin("h264/level/baseline-rate");
    /* 3.0's 10 Mbit/s is 12.5 in High */
    CHECK_INT(h264_level(640, 360, 30, 12000000, 1), 30);
    CHECK_INT(h264_level(640, 360, 30, 12000000, 0), 31);
    CHECK_INT(h264_level(8192, 4320, 120, 1000000, 1), 62);
    check_end();
    check_begin("h264/codecs/profile-of-preset");
    h264_rung_codecs("medium", 1920, 1080, 60, 5000000, codecs, sizeof(codecs));
    CHECK_STR(codecs, "avc1.64002a");
    h264_rung_codecs("veryfast", 640, 360, 30, 800000, codecs, sizeof(codecs));
    CHECK_STR(codecs, "avc1.64001e");
    h264_rung_codecs("ultrafast", 320, 180, 30, 300000, codecs, sizeof(codecs));
    CHECK_STR(codecs, "avc1.42c00d");     /* 240 MB x 30 = 7200 MB/s: 1.3 */
    check_end();
    return check_summary("test_h264");
}
