/*
 * h264: profile and level of a rendition's CODECS (h264.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hlsfs/h264.h"

/* H.264 Table A-1: level_idc, MaxMBPS (macroblocks/s), MaxFS (macroblocks
 * per frame), MaxBR (1000 bit/s for Baseline and Main, 1250 for High).
 * Level 1b is left out: x264 writes it as 1.1 with a constraint flag. */
static const struct level {
    int      idc;
    int64_t  mbps, fs, br;
} levels[] = {
    { 10, 1485, 99, 64 },          { 11, 3000, 396, 192 },
    { 12, 6000, 396, 384 },        { 13, 11880, 396, 768 },
    { 20, 11880, 396, 2000 },      { 21, 19800, 792, 4000 },
    { 22, 20250, 1620, 4000 },     { 30, 40500, 1620, 10000 },
    { 31, 108000, 3600, 14000 },   { 32, 216000, 5120, 20000 },
    { 40, 245760, 8192, 20000 },   { 41, 245760, 8192, 50000 },
    { 42, 522240, 8704, 50000 },   { 50, 589824, 22080, 135000 },
    { 51, 983040, 36864, 240000 }, { 52, 2073600, 36864, 240000 },
    { 60, 4177920, 139264, 240000 }, { 61, 8355840, 139264, 480000 },
    { 62, 16711680, 139264, 800000 },
};

int h264_level(int width, int height, double fps, int64_t bit_rate, int high)
{
    int64_t wmb = (width + 15) / 16, hmb = (height + 15) / 16, fs = wmb * hmb;
    double rate = fps > 0 ? fps : 25;
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        const struct level *l = &levels[i];
        /* neither side longer than sqrt(8 MaxFS) macroblocks (A.3.1) */
        if (fs > l->fs || wmb * wmb > 8 * l->fs || hmb * hmb > 8 * l->fs)
            continue;
        if ((double)fs * rate > (double)l->mbps)
            continue;
        if (bit_rate > l->br * (high ? 1250 : 1000))
            continue;
        return l->idc;
    }
    return 62;
}

void h264_rung_codecs(const char *preset, int width, int height, double fps,
                      int64_t bit_rate, char *out, size_t size)
{
    /* profile_idc and constraint flags as x264 writes them: 100 and none
     * for High; 66 with constraint_set0 and set1 for Baseline */
    int baseline = preset && !strcmp(preset, "ultrafast");
    snprintf(out, size, "avc1.%s%02x", baseline ? "42c0" : "6400",
             h264_level(width, height, fps, bit_rate, !baseline));
}

void h264_stream_codecs(const AVCodecParameters *par, char *out, size_t size)
{
    const uint8_t *x = par->extradata;
    int n = par->extradata_size;
    snprintf(out, size, "avc1.640028");     /* when nothing better is known */
    if (n >= 4 && x[0] == 1) {
        snprintf(out, size, "avc1.%02x%02x%02x", x[1], x[2], x[3]);
        return;
    }
    for (int i = 0; i + 7 < n; i++)         /* Annex B: find the SPS */
        if (x[i] == 0 && x[i + 1] == 0 && x[i + 2] == 1 && (x[i + 3] & 0x1f) == 7) {
            snprintf(out, size, "avc1.%02x%02x%02x", x[i + 4], x[i + 5], x[i + 6]);
            return;
        }
}
