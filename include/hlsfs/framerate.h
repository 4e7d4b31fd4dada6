/*
 * framerate: a video stream's frame rate from its packets (framerate.c).
 */
#ifndef HLSFS_FRAMERATE_H
#define HLSFS_FRAMERATE_H

#include <stddef.h>

struct probe_stream;

/* The rate of v's frames from packet 'from' on: the container's average
 * or libavformat's base rate when one is within 5 % of the rate of the
 * typical (median) step between timestamps, else the mean rate of the
 * frames. 0 when unknown, -1 without memory. */
double framerate_of(const struct probe_stream *v, size_t from);

#endif
