/*
 * test_budget: the per-segment budgets of transcoded video rungs
 * (budget.h): capped by the rung's rate bound, floored, rising with what
 * the source spent, scaled by picture size and source codec, and the same
 * every time.
 */
#include <stdint.h>

#include "hlsfs/budget.h"
#include "hlsfs/ladder.h"

#include "check.h"

static const struct budget_source src1080 = { AV_CODEC_ID_H264, 1920, 1080 };

/* A 6 s, 180-frame segment of a 1080p H.264 source on a 720p rung. */
static uint64_t b720(uint64_t src_bytes)
{
    return budget_video_payload_bytes(&src1080, src_bytes, 180, 6000, 1280, 720, 2800000);
}

static void test_cap_floor(void)
{
    uint64_t cap = ladder_video_payload_bytes(2800000, 6000);
    uint64_t floor = 180 * (BUDGET_FLOOR_FRAME_BYTES + 1280 * 720 / BUDGET_FLOOR_FRAME_PIXELS) +
                     1280 * 720 / BUDGET_FLOOR_KEY_PIXELS;

    check_begin("budget/capped");
    /* a source far richer than the rung: exactly today's bound */
    CHECK_INT((long long)b720(100u << 20), (long long)cap);
    CHECK_INT((long long)b720(UINT64_MAX / 4), (long long)cap);
    check_end();

    check_begin("budget/floored");
    CHECK_INT((long long)b720(0), (long long)floor);
    CHECK_INT((long long)b720(1000), (long long)floor);
    CHECK(floor < cap / 10, "floor %llu not far below the cap %llu",
          (unsigned long long)floor, (unsigned long long)cap);
    check_end();

    check_begin("budget/no_source_size");
    const struct budget_source none = { AV_CODEC_ID_H264, 0, 0 };
    CHECK_INT((long long)budget_video_payload_bytes(&none, 1000, 180, 6000, 1280, 720, 2800000),
              (long long)cap);
    check_end();
}

static void test_monotonic(void)
{
    check_begin("budget/rises_with_source");
    uint64_t prev = 0;
    for (uint64_t s = 0; s <= (8u << 20); s += 4099) {
        uint64_t b = b720(s);
        if (b < prev) {
            CHECK(0, "budget falls from %llu to %llu at %llu source bytes",
                  (unsigned long long)prev, (unsigned long long)b, (unsigned long long)s);
            break;
        }
        prev = b;
    }
    check_end();

    check_begin("budget/rises_with_frames");
    prev = 0;
    for (long f = 1; f < 2000; f++) {
        uint64_t b = budget_video_payload_bytes(&src1080, 200000, f, 6000, 1280, 720, 2800000);
        CHECK(b >= prev, "budget falls at %ld frames", f);
        prev = b;
    }
    check_end();

    check_begin("budget/prediction");
    /* between floor and cap: the margin times the source's bytes (less
     * its frames' headers) scaled by (pixel ratio)^0.75, plus the frames'
     * headers */
    uint64_t b = b720(400000);
    double want = (400000.0 - 180 * BUDGET_SOURCE_FRAME_BYTES) * BUDGET_MARGIN_PCT / 100.0 *
                  0.5443 + 180 * BUDGET_FRAME_BYTES;
    CHECK(b > want * 0.999 && b < want * 1.001, "720p of 400000 bytes: %llu, want %.0f",
          (unsigned long long)b, want);
    /* a smaller rung needs less, a larger one more */
    uint64_t b360 = budget_video_payload_bytes(&src1080, 400000, 180, 6000, 640, 360, 2800000);
    uint64_t b1080 = budget_video_payload_bytes(&src1080, 400000, 180, 6000, 1920, 1080, 2800000);
    CHECK(b360 < b && b < b1080, "by size: %llu %llu %llu", (unsigned long long)b360,
          (unsigned long long)b, (unsigned long long)b1080);
    check_end();
}

static void test_codecs(void)
{
    check_begin("budget/codec_factor");
    const struct budget_source av1 = { AV_CODEC_ID_AV1, 1920, 1080 };
    const struct budget_source hevc = { AV_CODEC_ID_HEVC, 1920, 1080 };
    const struct budget_source mpeg2 = { AV_CODEC_ID_MPEG2VIDEO, 1920, 1080 };
    uint64_t h = b720(400000);
    uint64_t a = budget_video_payload_bytes(&av1, 400000, 180, 6000, 1280, 720, 2800000);
    uint64_t e = budget_video_payload_bytes(&hevc, 400000, 180, 6000, 1280, 720, 2800000);
    uint64_t m = budget_video_payload_bytes(&mpeg2, 400000, 180, 6000, 1280, 720, 2800000);
    /* an efficient codec's byte is worth more H.264 bytes */
    CHECK(m < h && h < e && e < a, "mpeg2 %llu h264 %llu hevc %llu av1 %llu",
          (unsigned long long)m, (unsigned long long)h, (unsigned long long)e,
          (unsigned long long)a);
    CHECK_INT(budget_codec_percent(AV_CODEC_ID_H264), 100);
    CHECK_INT(budget_codec_percent(AV_CODEC_ID_AV1), 200);
    CHECK_INT(budget_codec_percent(AV_CODEC_ID_MJPEG), 100);
    check_end();
}

static void test_deterministic(void)
{
    check_begin("budget/deterministic");
    /* the same inputs, the same bytes; and these exact values, which a
     * change of the model must change on purpose */
    for (int i = 0; i < 3; i++) {
        CHECK_INT((long long)b720(400000), 262277);
        CHECK_INT((long long)budget_video_payload_bytes(&src1080, 123457, 251, 8367, 854, 480,
                                                        1400000), 46508);
    }
    check_end();
}

static void test_audio(void)
{
    /* 6 s of 48 kHz: 281 frames of 1024 samples, at 128 kbit/s */
    uint64_t cap = ladder_audio_payload_bytes(128000, 48000, 281);
    uint64_t floor = ladder_audio_payload_bytes(BUDGET_AUDIO_FLOOR_RATE, 48000, 281);

    check_begin("budget/audio_capped_floored");
    CHECK_INT((long long)budget_audio_payload_bytes(AV_CODEC_ID_AAC, 2, 1u << 20, 281, 0, 48000,
                                                    128000), (long long)cap);
    CHECK_INT((long long)budget_audio_payload_bytes(AV_CODEC_ID_AAC, 2, 0, 281, 0, 48000, 128000),
              (long long)floor);
    /* a rate below the floor: the rate */
    CHECK_INT((long long)budget_audio_payload_bytes(AV_CODEC_ID_AAC, 2, 0, 281, 0, 48000, 16000),
              (long long)ladder_audio_payload_bytes(16000, 48000, 281));
    check_end();

    check_begin("budget/audio_prediction");
    uint64_t prev = 0;
    for (uint64_t s = 0; s < 200000; s += 101) {
        uint64_t b = budget_audio_payload_bytes(AV_CODEC_ID_MP3, 2, s, 281, 0, 48000, 128000);
        if (b < prev) {
            CHECK(0, "falls at %llu source bytes", (unsigned long long)s);
            break;
        }
        prev = b;
    }
    /* 48 kbit/s of AAC: the margin; Opus is worth more, 5.1 AC-3 less */
    uint64_t src = 48000 * 6 / 8;
    CHECK_INT((long long)budget_audio_payload_bytes(AV_CODEC_ID_AAC, 2, src, 281, 0, 48000, 128000),
              (long long)(src * BUDGET_MARGIN_PCT / 100));
    uint64_t opus = budget_audio_payload_bytes(AV_CODEC_ID_OPUS, 2, src, 281, 0, 48000, 128000);
    CHECK(opus > src * BUDGET_MARGIN_PCT / 100 && opus < cap, "Opus at 48 kbit/s: %llu", (unsigned long long)opus);
    CHECK(budget_audio_payload_bytes(AV_CODEC_ID_OPUS, 2, src * 5 / 3, 281, 0, 48000, 128000) == cap,
          "Opus at 80 kbit/s: the cap");
    uint64_t ac3 = budget_audio_payload_bytes(AV_CODEC_ID_AC3, 6, 4 * src, 281, 0, 48000, 128000);
    CHECK(ac3 < cap && ac3 > floor, "5.1 AC-3 at 192 kbit/s: %llu", (unsigned long long)ac3);
    check_end();
}

static void test_audio_silence(void)
{
    uint64_t floor = ladder_audio_payload_bytes(BUDGET_AUDIO_FLOOR_RATE, 48000, 281);

    check_begin("budget/audio_silence");
    /* an empty AAC or Opus frame is silence; a larger one, or an MP3 or
     * AC-3 frame of any size, is not */
    CHECK(budget_audio_packet_silent(AV_CODEC_ID_AAC, 2, 6), "6-byte stereo AAC frame");
    CHECK(!budget_audio_packet_silent(AV_CODEC_ID_AAC, 2, 40), "40-byte stereo AAC frame");
    CHECK(budget_audio_packet_silent(AV_CODEC_ID_AAC, 6, 20), "20-byte 5.1 AAC frame");
    CHECK(budget_audio_packet_silent(AV_CODEC_ID_OPUS, 2, 3), "3-byte Opus frame");
    CHECK(!budget_audio_packet_silent(AV_CODEC_ID_MP3, 2, 4), "MP3 frame");
    CHECK(!budget_audio_packet_silent(AV_CODEC_ID_AC3, 2, 4), "AC-3 frame");
    /* a silent segment is planned at the silent frames' allowance, far
     * under the floor of sound; half silent, half the floor of sound */
    uint64_t all = budget_audio_payload_bytes(AV_CODEC_ID_AAC, 2, 0, 281, 281, 48000, 128000);
    CHECK_INT((long long)all, 281LL * BUDGET_AUDIO_SILENT_FRAME_BYTES);
    CHECK(all * 4 < floor, "silence %llu vs floor %llu", (unsigned long long)all,
          (unsigned long long)floor);
    uint64_t half = budget_audio_payload_bytes(AV_CODEC_ID_AAC, 2, 0, 281, 140, 48000, 128000);
    CHECK_INT((long long)half, (long long)(ladder_audio_payload_bytes(BUDGET_AUDIO_FLOOR_RATE,
                                                                      48000, 141) +
                                           140 * BUDGET_AUDIO_SILENT_FRAME_BYTES));
    /* more silent frames than frames: all of them */
    CHECK_INT((long long)budget_audio_payload_bytes(AV_CODEC_ID_AAC, 2, 0, 281, 999, 48000,
                                                    128000), (long long)all);
    /* sound in the rest still gets what the source spent on it */
    uint64_t src = 48000 * 6 / 8 / 2;
    CHECK_INT((long long)budget_audio_payload_bytes(AV_CODEC_ID_AAC, 2, src, 281, 140, 48000,
                                                    128000), (long long)(src * BUDGET_MARGIN_PCT / 100));
    check_end();
}

static void test_iframe(void)
{
    const uint64_t bound = 2048 + 480 * 270 / 4;
    check_begin("budget/iframe");
    /* nothing known of the source's keyframe: the bound */
    CHECK_INT(budget_iframe_payload_bytes(0, 1920 * 1080, 480, 270, bound), bound);
    CHECK_INT(budget_iframe_payload_bytes(50000, 0, 480, 270, bound), bound);
    /* a flat picture's small keyframe: far under the bound, above the floor */
    uint64_t flat = budget_iframe_payload_bytes(2000, 1920 * 1080, 480, 270, bound);
    CHECK(flat < bound / 4, "flat keyframe: %llu of %llu", (unsigned long long)flat,
          (unsigned long long)bound);
    CHECK(flat >= BUDGET_FLOOR_IFRAME_BYTES + 480 * 270 / BUDGET_FLOOR_KEY_PIXELS,
          "under the floor: %llu", (unsigned long long)flat);
    /* scaled as the rungs: (pixel ratio)^0.75 with the margin */
    uint64_t busy = budget_iframe_payload_bytes(20000, 1920 * 1080, 480, 270, bound);
    double want = 20000.0 * pow(1.0 / 16, 0.75) * BUDGET_MARGIN_PCT / 100.0 +
                  BUDGET_FLOOR_IFRAME_BYTES + 480 * 270 / BUDGET_FLOOR_KEY_PIXELS;
    CHECK(busy > want - 2 && busy < want + 2, "20000 bytes at 1080p: %llu, want %.0f",
          (unsigned long long)busy, want);
    /* a noisy keyframe takes the bound, never more */
    CHECK_INT(budget_iframe_payload_bytes(900000, 1920 * 1080, 480, 270, bound), bound);
    check_end();
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_cap_floor();
    test_monotonic();
    test_codecs();
    test_deterministic();
    test_audio();
    test_audio_silence();
    test_iframe();
    return check_summary("test_budget");
}
