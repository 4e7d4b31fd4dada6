/*
 * test_mux: the ADTS header mux_adts_header() writes, and what it
 * refuses: codec parameters without a usable AudioSpecificConfig, frames
 * longer than ADTS can say; and the null-packet padding that readers make
 * past a segment's bytes (mux_padding, mux_read_padded), against a
 * segment padded in full.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

static void test_adts(void)
{
    /* AAC-LC (2), 48 kHz (index 3), stereo (2) */
    static const uint8_t lc48[2] = { 0x11, 0x90 };
    static const uint8_t main0[2] = { 0x01, 0x90 };   /* object type 0 */
    static const uint8_t explicit_rate[5] = { 0x17, 0x80, 0, 0, 0 };  /* index 15 */
    uint8_t out[MUX_ADTS_HEADER];

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
}

/* A segment of 'len' bytes padded the long way to 'planned': the bytes,
 * then whole null packets, each written out field by field. */
static uint8_t *padded_in_full(const uint8_t *data, size_t len, size_t planned)
{
    uint8_t *buf = malloc(planned ? planned : 1);
    if (!buf)
        return NULL;
    if (len)
        memcpy(buf, data, len);
    for (size_t off = len; off < planned; off += MUX_TS_PACKET) {
        buf[off] = 0x47;                /* sync byte                     */
        buf[off + 1] = 0x1f;            /* PID 0x1FFF, high bits         */
        buf[off + 2] = 0xff;            /* PID, low bits                 */
        buf[off + 3] = 0x10;            /* payload only, counter 0       */
        memset(buf + off + 4, 0xff, MUX_TS_PACKET - 4);
    }
    return buf;
}

static void test_ranges(void)
{
    const size_t len = 5 * MUX_TS_PACKET, planned = 12 * MUX_TS_PACKET;
    uint8_t data[5 * MUX_TS_PACKET], got[13 * MUX_TS_PACKET];
    uint8_t *want;
    int bad = 0;

    check_begin("read-padded/every-range");
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(i * 131 + 7);
    want = padded_in_full(data, len, planned);
    CHECK(want != NULL, "out of memory");
    /* every start, with lengths that cross the data/padding edge and
     * packet edges, and that run past the end */
    for (size_t off = 0; want && off <= planned + 10 && !bad; off += 7) {
        static const size_t sizes[] = { 1, 3, 187, 188, 189, 1000, 4096 };
        for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]) && !bad; k++) {
            size_t n = sizes[k], expect = off >= planned ? 0
                     : n < planned - off ? n : planned - off;
            memset(got, 0xaa, sizeof(got));
            size_t r = mux_read_padded(data, len, planned, off, got,
                                       n < sizeof(got) ? n : sizeof(got));
            if (n > sizeof(got))
                expect = expect < sizeof(got) ? expect : sizeof(got);
            if (r != expect || (r && memcmp(got, want + off, r))) {
                CHECK(0, "offset %zu, %zu bytes: %zu back or bytes differ", off, n, r);
                bad = 1;
            }
        }
    }
    free(want);
    check_end();
}

static void test_no_data(void)
{
    uint8_t got[3 * MUX_TS_PACKET];
    uint8_t *want = padded_in_full(NULL, 0, sizeof(got));

    check_begin("read-padded/only-padding");
    CHECK_INT(mux_read_padded(NULL, 0, sizeof(got), 0, got, sizeof(got)), sizeof(got));
    CHECK(want && !memcmp(got, want, sizeof(got)), "padding differs");
    mux_padding(got, MUX_TS_PACKET + 2, 3);
    CHECK(got[0] == 0xff && got[1] == 0x10 && got[2] == 0xff,
          "mid-packet padding: %02x %02x %02x", got[0], got[1], got[2]);
    free(want);
    check_end();
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);  /* lines survive a sanitizer exit */
    test_adts();
    test_ranges();
    test_no_data();
    return check_summary("test_mux");
}
