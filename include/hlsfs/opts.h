/*
 * opts: the hlsfs option table, defaults, validation and --help text.
 */
#ifndef HLSFS_OPTS_H
#define HLSFS_OPTS_H

#include <stdint.h>

#include "hlsfs/title.h"

struct fuse_args;

struct hlsfs_opts {
    char    *source;        /* absolute path of SOURCE (owned)       */
    char    *cache_dir;     /* owned                                 */
    /* as given (owned), parsed by opts_parse into the fields below  */
    char    *cache_size_s, *segment_time_s, *ladder_s, *preset_s;
    char    *audio_bitrate_s, *threads_s, *max_ahead_s, *idle_timeout_s;
    char    *max_sessions_s, *segment_keep_s, *clean_s;
    uint64_t cache_size;    /* bytes                                 */
    double   segment_time;  /* seconds                               */
    double   max_ahead;     /* seconds of readahead                  */
    double   idle_timeout;  /* seconds                               */
    int      max_sessions;  /* encoder workers                       */
    double   segment_keep;  /* seconds kept behind a reader          */
    int      clean_eager;   /* clean=eager                           */
    struct title_options title;  /* what shapes every title's bytes  */
    int      show_help;
    int      show_version;
};

/* Parse hlsfs's own options out of args (FUSE's stay in args for
 * fuse_parse_cmdline). Returns 0, or -EINVAL after printing why.
 * With show_help or show_version set, nothing is validated. */
int opts_parse(struct fuse_args *args, struct hlsfs_opts *o);

/* Print usage and hlsfs's options to stdout. */
void opts_print_help(const char *progname);

/* Parse "10G", "512M", "123456": returns 0 and *out, or -EINVAL. */
int opts_parse_size(const char *s, uint64_t *out);

void opts_free(struct hlsfs_opts *o);

#endif
