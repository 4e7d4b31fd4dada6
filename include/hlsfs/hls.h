/*
 * hls: a title's playlists and HLS attributes (hls.c).
 */
#ifndef HLSFS_HLS_H
#define HLSFS_HLS_H

struct title;
struct subtitle_timing;

/* What is derived from a title's stored fields: segment starts
 * (start_ms), each rendition's rates and media playlist, the master
 * playlist. Returns 0 or -ENOMEM (what was made is freed by title_free). */
int hls_make_playlists(struct title *t);

/* The RFC 5646 tag for an ISO 639-2 code ("eng" -> "en"), or the code. */
const char *hls_language_tag(const char *lang);

/* Where a title's subtitle segments lie (subtitle.h): its plan, its
 * start, and that start's 90 kHz time in the MPEG-TS segments. */
void hls_subtitle_timing(const struct title *t, struct subtitle_timing *tm);

#endif
