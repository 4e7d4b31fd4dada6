/*
 * test_mux: the null-packet padding that readers make past a segment's
 * bytes (mux_padding, mux_read_padded), against a segment padded in full.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hlsfs/mux.h"

#include "check.h"

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
    test_ranges();
    test_no_data();
    return check_summary("test_mux");
}
