/*
 * h264: the H.264 profile and level a rendition declares in CODECS
 * ("avc1.PPCCLL"): for a copied stream, what its parameter sets say; for
 * a transcoded rung, the profile the encoder's preset gives and the
 * lowest level of the H.264 level table (Annex A, Table A-1) that its
 * picture size, frame rate and bit rate fit. The encoder is told that
 * level (transcode.c), so its SPS says what CODECS says. Pure: no
 * encoder is opened.
 */
#ifndef HLSFS_H264_H
#define HLSFS_H264_H

#include <stddef.h>
#include <stdint.h>

#include <libavcodec/codec_par.h>

/* level_idc (10 for 1.0 ... 62 for 6.2) of the lowest level that a w x h
 * picture at 'fps' frames per second (25 when unknown) and 'bit_rate'
 * bit/s fits, for the High profile (high != 0) or Baseline/Main; 62 when
 * none does. */
int h264_level(int width, int height, double fps, int64_t bit_rate, int high);

/* CODECS of a rung x264 encodes with 'preset' (profile High, or
 * Constrained Baseline with "ultrafast", which has no CABAC, B-frames or
 * 8x8 transform) at the level h264_level gives. */
void h264_rung_codecs(const char *preset, int width, int height, double fps,
                      int64_t bit_rate, char *out, size_t size);

/* CODECS of a copied H.264 stream, from its avcC or Annex B extradata
 * ("avc1.640028" when it holds no SPS). */
void h264_stream_codecs(const AVCodecParameters *par, char *out, size_t size);

#endif
