/*
 * hls: a title's playlists and HLS attributes (hls.c).
 */
#ifndef HLSFS_HLS_H
#define HLSFS_HLS_H

struct title;

/* What is derived from a title's stored fields: segment starts
 * (start_ms), each rendition's rates and media playlist, the master
 * playlist. Returns 0 or -ENOMEM (what was made is freed by title_free). */
int hls_make_playlists(struct title *t);

/* The RFC 5646 tag for an ISO 639-2 code ("eng" -> "en"), or the code. */
const char *hls_language_tag(const char *lang);

#endif
