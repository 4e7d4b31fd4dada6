/*
 * test_mux: the ADTS header mux_adts_header() writes, and what it
 * refuses: codec parameters without a usable AudioSpecificConfig, frames
 * longer than ADTS can say.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <libavcodec/avcodec.h>

#include "check.h"
#include "hlsfs/mux.h"

static int header(const uint8_t *asc, int asc_len, int payload, uint8_t out[MUX_ADTS_HEADER])
{
    AVCodecParameters *par = avcodec_parameters_alloc();
    int ret;

    if (!par)
        return -ENOMEM;
    if (asc_len >= 0) {
        /* exactly asc_len bytes, as a demuxer or encoder leaves them
         * (the padding libav adds is zeroed: no config in it) */
        par->extradata = av_mallocz((size_t)asc_len + AV_INPUT_BUFFER_PADDING_SIZE);
        if (asc_len)
            memcpy(par->extradata, asc, (size_t)asc_len);
        par->extradata_size = asc_len;
    }
    ret = mux_adts_header(par, payload, out);
    avcodec_parameters_free(&par);
    return ret;
}

int main(void)
{
    /* AAC-LC (2), 48 kHz (index 3), stereo (2) */
    static const uint8_t lc48[2] = { 0x11, 0x90 };
    static const uint8_t main0[2] = { 0x01, 0x90 };   /* object type 0 */
    static const uint8_t explicit_rate[5] = { 0x17, 0x80, 0, 0, 0 };  /* index 15 */
    uint8_t out[MUX_ADTS_HEADER];

    setvbuf(stdout, NULL, _IOLBF, 0);  /* lines survive a sanitizer exit */
    check_begin("adts/aac-lc-48k-stereo");
    memset(out, 0, sizeof(out));
    CHECK_INT(header(lc48, 2, 100, out), 0);
    static const uint8_t want[MUX_ADTS_HEADER] = { 0xff, 0xf1, 0x4c, 0x80, 0x0d, 0x7f, 0xfc };
    for (int i = 0; i < MUX_ADTS_HEADER; i++)
        CHECK(out[i] == want[i], "byte %d: 0x%02x, want 0x%02x", i, out[i], want[i]);
    check_end();

    check_begin("adts/no-extradata");
    CHECK_INT(header(NULL, -1, 100, out), AVERROR(EINVAL));
    check_end();

    check_begin("adts/extradata-0-bytes");
    CHECK_INT(header(lc48, 0, 100, out), AVERROR(EINVAL));
    check_end();

    check_begin("adts/extradata-1-byte");
    CHECK_INT(header(lc48, 1, 100, out), AVERROR(EINVAL));
    check_end();

    check_begin("adts/object-type-0");
    CHECK_INT(header(main0, 2, 100, out), AVERROR(EINVAL));
    check_end();

    check_begin("adts/explicit-sampling-rate");
    CHECK_INT(header(explicit_rate, 5, 100, out), AVERROR(EINVAL));
    check_end();

    check_begin("adts/frame-length-13-bits");
    CHECK_INT(header(lc48, 2, 0x1fff - MUX_ADTS_HEADER, out), 0);
    CHECK_INT(header(lc48, 2, 0x1fff - MUX_ADTS_HEADER + 1, out), AVERROR(EINVAL));
    CHECK_INT(header(lc48, 2, -1, out), AVERROR(EINVAL));
    check_end();
    return check_summary("test_mux");
}
