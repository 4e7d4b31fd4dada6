/*
 * jpegpad: exact-size JPEGs. The padding is a run of COM segments placed
 * after SOI, each FF FE, a 16-bit big-endian length that counts itself,
 * and spaces; a segment holds at most 65533 bytes of comment, and the last
 * is kept at least JPEGPAD_MIN long.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hlsfs/jpegpad.h"

#define COM_MAX (4 + 65533)     /* bytes of one COM segment at most */

int jpegpad(const uint8_t *data, size_t len, uint64_t planned, uint8_t **out)
{
    uint64_t pad;
    uint8_t *buf, *p;

    *out = NULL;
    if (len < 4 || data[0] != 0xFF || data[1] != 0xD8)
        return -EINVAL;
    if (len > planned)
        return -EOVERFLOW;
    pad = planned - len;
    if (pad > 0 && pad < JPEGPAD_MIN)
        return -EOVERFLOW;
    if (planned > SIZE_MAX || !(buf = malloc((size_t)planned)))
        return -ENOMEM;
    memcpy(buf, data, 2);
    p = buf + 2;
    while (pad > 0) {
        uint64_t take = pad < COM_MAX ? pad : COM_MAX;
        if (pad - take > 0 && pad - take < JPEGPAD_MIN)
            take = pad - JPEGPAD_MIN;
        size_t field = (size_t)take - 2;          /* the length counts itself */
        p[0] = 0xFF;
        p[1] = 0xFE;
        p[2] = (uint8_t)(field >> 8);
        p[3] = (uint8_t)field;
        memset(p + 4, ' ', (size_t)take - 4);
        p += take;
        pad -= take;
    }
    memcpy(p, data + 2, len - 2);
    *out = buf;
    return 0;
}
