/*
 * jpegpad: a JPEG padded to an exact size with comment (COM) segments
 * right after its SOI marker, which every decoder skips (pure).
 */
#ifndef HLSFS_JPEGPAD_H
#define HLSFS_JPEGPAD_H

#include <stddef.h>
#include <stdint.h>

/* The fewest bytes padding can add: one COM marker and its length. */
#define JPEGPAD_MIN 4

/* 'len' bytes of JPEG (starting with SOI, FF D8) made exactly 'planned'
 * bytes long into *out (malloc'd). Returns 0, -EINVAL when the data is
 * not a JPEG, -EOVERFLOW when it is larger than planned or too close to
 * it to pad (planned - len below JPEGPAD_MIN but not 0), -ENOMEM. */
int jpegpad(const uint8_t *data, size_t len, uint64_t planned, uint8_t **out);

#endif
