/*
 * opts: the hlsfs option table (opts.c), and what comes from it: the
 * fuse_opt spec that parses -o options, their defaults and range checks,
 * and the --help text. The README's and the man page's option lists are
 * checked against the table by tests/unit/test_optdoc.c.
 */
#ifndef HLSFS_OPTS_H
#define HLSFS_OPTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hlsfs/title.h"

struct fuse_args;

struct hlsfs_opts {
    char    *source;        /* absolute path of SOURCE (owned)       */
    char    *cache_dir;     /* owned; absolute after opts_parse      */
    /* as given (owned), parsed by opts_parse into the fields below  */
    char    *cache_size_s, *segment_time_s, *ladder_s, *preset_s;
    char    *audio_bitrate_s, *threads_s, *max_ahead_s, *idle_timeout_s;
    char    *max_sessions_s, *segment_keep_s, *clean_s;
    char    *format_s;
    uint64_t cache_size;    /* bytes                                 */
    double   segment_time;  /* seconds                               */
    double   max_ahead;     /* seconds of readahead                  */
    double   idle_timeout;  /* seconds                               */
    int      max_sessions;  /* encoder workers                       */
    double   segment_keep;  /* seconds kept behind a reader          */
    int      preset;        /* index in the preset option's choices  */
    int      clean_eager;   /* clean=eager (index 1 of its choices)  */
    struct title_options title;  /* what shapes every title's bytes  */
    int      show_help;
    int      show_version;
};

enum opt_type {
    OPT_PATH,    /* a directory, made absolute (char *)                    */
    OPT_SIZE,    /* bytes; K M G T suffixes, powers of 1024 (uint64_t)     */
    OPT_NUMBER,  /* a decimal number from lo to hi (double)                */
    OPT_COUNT,   /* a whole number from lo to hi (int)                     */
    OPT_RATE,    /* bit/s from lo to hi, "128k" or "128000" (int64_t)      */
    OPT_LADDER,  /* HEIGHT:RATE,... (struct ladder, ladder_parse)          */
    OPT_CHOICE,  /* one of choices[] (int: its index)                      */
    OPT_FUSE,    /* parsed by libfuse; in the table for its help and docs  */
};

/* One -o option. */
struct opt_desc {
    const char   *name;      /* "cache_size"                               */
    const char   *templ;     /* "cache_size=%s", for fuse_opt              */
    const char   *arg;       /* what the help shows after '=': "SIZE"      */
    enum opt_type type;
    /* the default as it would be written on the command line, or NULL
     * when it is computed at start-up (then def_doc says what it is) */
    const char   *def;
    const char   *def_doc;
    double        lo, hi;    /* OPT_NUMBER, OPT_COUNT, OPT_RATE; OPT_SIZE
                              * lo only                                   */
    const char   *unit;      /* "seconds", or NULL                        */
    const char *const *choices;   /* OPT_CHOICE, NULL-terminated          */
    size_t        text;      /* offsetof the char * as given              */
    size_t        value;     /* offsetof the parsed field                 */
    const char   *help;      /* one paragraph; the range and the default
                              * are added to it                           */
};

/* The table, in the order of --help and the man page. */
const struct opt_desc *opts_table(size_t *n);

/* Parse hlsfs's own options out of args (FUSE's stay in args for
 * fuse_parse_cmdline). Returns 0, or -EINVAL after printing why.
 * With show_help or show_version set, nothing is validated. */
int opts_parse(struct fuse_args *args, struct hlsfs_opts *o);

/* Write usage and hlsfs's options, from the table. */
void opts_write_help(FILE *f, const char *progname);

/* The same to stdout. */
void opts_print_help(const char *progname);

/* Parse "10G", "512M", "123456": returns 0 and *out, or -EINVAL. */
int opts_parse_size(const char *s, uint64_t *out);

void opts_free(struct hlsfs_opts *o);

#endif
