/*
 * test_opts: the option table and validation (opts.c). The table is what
 * hlsfs has always had (names, types, defaults, ranges); every option's
 * default is what a mount without it gets; every range is accepted at its
 * ends and refused just past them; numbers out of range, not a number, or
 * not whole where a count is asked for are refused, never cast.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fuse_opt.h>

#include "check.h"
#include "hlsfs/fs.h"
#include "hlsfs/ladder.h"
#include "hlsfs/opts.h"

#define FIELD(o, off, type) ((type *)(void *)((char *)(o) + (off)))

/* opts_parse on "hlsfs [-o OPT] /tmp /mnt"; fills o when it succeeds.
 * With left non-NULL, tells whether "-oLEFT" stayed in the arguments for
 * libfuse. */
static int parse_left(const char *opt, struct hlsfs_opts *o, const char *left,
                      int *stayed)
{
    char *argv[] = { "hlsfs", "-o", (char *)opt, "/tmp", "/mnt", NULL };
    char *bare[] = { "hlsfs", "/tmp", "/mnt", NULL };
    struct fuse_args args = FUSE_ARGS_INIT(opt ? 5 : 3, opt ? argv : bare);
    int ret;

    memset(o, 0, sizeof(*o));
    ret = opts_parse(&args, o);
    if (left) {
        *stayed = 0;
        for (int i = 0; i < args.argc; i++)
            if (strstr(args.argv[i], left))
                *stayed = 1;
    }
    fuse_opt_free_args(&args);
    return ret;
}

static int parse(const char *opt, struct hlsfs_opts *o)
{
    return parse_left(opt, o, NULL, NULL);
}

static void refused(const char *opt)
{
    struct hlsfs_opts o;

    check_begin("refused/%s", opt);
    CHECK_INT(parse(opt, &o), -22);
    opts_free(&o);
    check_end();
}

/* What the table must hold: the options as the README and man page have
 * always documented them. A row added to the table without one here
 * fails table/complete. */
static const struct {
    const char   *name;
    enum opt_type type;
    const char   *def;     /* NULL: computed at start-up */
    double        lo, hi;
} want[] = {
    { "cache_dir",     OPT_PATH,   NULL,       0,        0 },
    { "cache_size",    OPT_SIZE,   "10G",      16 << 20, 0 },
    { "segment_time",  OPT_NUMBER, "6",        1,        60 },
    { "format",        OPT_CHOICE, "ts",       0,        0 },
    { "ladder",        OPT_LADDER, "360:800k,480:1400k,720:2800k,1080:5000k,"
                                   "1440:8000k,2160:14000k", 0, 0 },
    { "preset",        OPT_CHOICE, "veryfast", 0,        0 },
    { "threads",       OPT_COUNT,  "2",        1,        64 },
    { "audio_bitrate", OPT_RATE,   "128k",     32000,    512000 },
    { "max_ahead",     OPT_NUMBER, "60",       0,        3600 },
    { "idle_timeout",  OPT_NUMBER, "60",       0.1,      86400 },
    { "max_threads",   OPT_FUSE,   "256",      0,        0 },
    { "max_sessions",  OPT_COUNT,  NULL,       1,        256 },
    { "segment_keep",  OPT_NUMBER, "720",      0,        1e7 },
    { "clean",         OPT_CHOICE, "pressure", 0,        0 },
};
#define N_WANT (sizeof(want) / sizeof(want[0]))

static void test_table(void)
{
    size_t n;
    const struct opt_desc *t = opts_table(&n);

    check_begin("table/complete");
    CHECK_INT(n, N_WANT);
    for (size_t i = 0; i < n && i < N_WANT; i++) {
        CHECK_STR(t[i].name, want[i].name);
        CHECK_INT(t[i].type, want[i].type);
        CHECK_STR(t[i].def, want[i].def);
        CHECK(t[i].lo == want[i].lo && t[i].hi == want[i].hi,
              "%s: range %g..%g, want %g..%g", t[i].name, t[i].lo, t[i].hi,
              want[i].lo, want[i].hi);
        CHECK(t[i].def || t[i].def_doc, "%s: no default and no def_doc",
              t[i].name);
        CHECK(t[i].help && t[i].help[0] && t[i].arg && t[i].arg[0],
              "%s: no help line or argument name", t[i].name);
        char templ[64];
        snprintf(templ, sizeof(templ), "%s=%%s", t[i].name);
        CHECK_STR(t[i].templ, templ);
    }
    check_end();

    check_begin("table/max_threads-default-is-FS_MAX_THREADS");
    for (size_t i = 0; i < n; i++)
        if (!strcmp(t[i].name, "max_threads")) {
            char def[16];
            snprintf(def, sizeof(def), "%d", FS_MAX_THREADS);
            CHECK_STR(t[i].def, def);
        }
    check_end();
}

/* A mount without options: every default, as its field holds it. */
static void test_defaults(void)
{
    struct hlsfs_opts o;
    struct ladder l;
    char *saved_xdg = getenv("XDG_CACHE_HOME");
    char *xdg = saved_xdg ? strdup(saved_xdg) : NULL;

    check_begin("default/all");
    setenv("XDG_CACHE_HOME", "/tmp/xdg", 1);
    CHECK_INT(parse(NULL, &o), 0);
    CHECK_STR(o.cache_dir, geteuid() == 0 ? "/var/cache/hlsfs"
                                          : "/tmp/xdg/hlsfs");
    CHECK_INT(o.cache_size, 10ULL << 30);
    CHECK(o.segment_time == 6 && o.title.segment_time == 6,
          "segment_time %g", o.segment_time);
    ladder_default(&l);
    CHECK_INT(o.title.ladder.n, l.n);
    for (int i = 0; i < l.n && i < o.title.ladder.n; i++) {
        CHECK_INT(o.title.ladder.rungs[i].height, l.rungs[i].height);
        CHECK_INT(o.title.ladder.rungs[i].bit_rate, l.rungs[i].bit_rate);
    }
    CHECK_STR(o.title.video.preset, "veryfast");
    CHECK_INT(o.title.video.threads, 2);
    CHECK_INT(o.title.audio_bit_rate, 128000);
    CHECK_INT(o.title.audio_sample_rate, 48000);
    CHECK(o.max_ahead == 60, "max_ahead %g", o.max_ahead);
    CHECK(o.idle_timeout == 60, "idle_timeout %g", o.idle_timeout);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    CHECK_INT(o.max_sessions, cores > 0 ? cores : 1);
    CHECK(o.segment_keep == 720, "segment_keep %g", o.segment_keep);
    CHECK_INT(o.clean_eager, 0);
    opts_free(&o);
    check_end();

    if (geteuid() != 0) {
        check_begin("default/cache_dir-home");
        unsetenv("XDG_CACHE_HOME");
        char *home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
        setenv("HOME", "/tmp/home", 1);
        CHECK_INT(parse(NULL, &o), 0);
        CHECK_STR(o.cache_dir, "/tmp/home/.cache/hlsfs");
        opts_free(&o);
        if (home)
            setenv("HOME", home, 1);
        free(home);
        check_end();
    }
    if (xdg)
        setenv("XDG_CACHE_HOME", xdg, 1);
    else
        unsetenv("XDG_CACHE_HOME");
    free(xdg);

    /* a literal default given explicitly parses to the same field */
    size_t n;
    const struct opt_desc *t = opts_table(&n);
    for (size_t i = 0; i < n; i++) {
        struct hlsfs_opts given;
        char opt[256];
        if (!t[i].def || t[i].type == OPT_FUSE)
            continue;
        check_begin("default/%s-as-given", t[i].name);
        snprintf(opt, sizeof(opt), "%s=%s", t[i].name, t[i].def);
        CHECK_INT(parse(opt, &given), 0);
        CHECK_INT(parse(NULL, &o), 0);
        /* both zeroed first: padding bytes compare equal too */
        CHECK(!memcmp(&given.title, &o.title, sizeof(o.title)),
              "title options differ");
        CHECK_INT(given.cache_size, o.cache_size);
        CHECK(given.segment_time == o.segment_time &&
              given.max_ahead == o.max_ahead &&
              given.idle_timeout == o.idle_timeout &&
              given.segment_keep == o.segment_keep, "a number differs");
        CHECK_INT(given.clean_eager, o.clean_eager);
        CHECK_INT(given.title.video.threads, o.title.video.threads);
        CHECK_INT(given.title.audio_bit_rate, o.title.audio_bit_rate);
        opts_free(&given);
        opts_free(&o);
        check_end();
    }
}

/* "NAME=TEXT" accepted, or refused. */
static int try(const struct opt_desc *d, const char *text,
               struct hlsfs_opts *o)
{
    char opt[128];
    snprintf(opt, sizeof(opt), "%s=%s", d->name, text);
    return parse(opt, o);
}

static void bound(const struct opt_desc *d, const char *what,
                  const char *text, int ok, double value)
{
    struct hlsfs_opts o;

    check_begin("bounds/%s/%s=%s", d->name, what, text);
    int ret = try(d, text, &o);
    CHECK_INT(ret, ok ? 0 : -22);
    if (ret == 0 && ok) {
        switch (d->type) {
        case OPT_NUMBER:
            CHECK(*FIELD(&o, d->value, double) == value, "got %.17g",
                  *FIELD(&o, d->value, double));
            break;
        case OPT_COUNT:
            CHECK_INT(*FIELD(&o, d->value, int), (int)value);
            break;
        case OPT_SIZE:
            CHECK_INT(*FIELD(&o, d->value, uint64_t), (uint64_t)value);
            break;
        case OPT_RATE:
            CHECK_INT(*FIELD(&o, d->value, int64_t), (int64_t)value);
            break;
        case OPT_CHOICE:
            CHECK_INT(*FIELD(&o, d->value, int), (int)value);
            break;
        default:
            break;
        }
    }
    opts_free(&o);
    check_end();
}

/* Each option's range from the table: its ends accepted, just past them
 * refused. */
static void test_bounds(void)
{
    size_t n;
    const struct opt_desc *t = opts_table(&n);
    char s[64];

    for (size_t i = 0; i < n; i++) {
        const struct opt_desc *d = &t[i];
        switch (d->type) {
        case OPT_NUMBER:
            snprintf(s, sizeof(s), "%.17g", d->lo);
            bound(d, "lo", s, 1, d->lo);
            snprintf(s, sizeof(s), "%.17g", d->hi);
            bound(d, "hi", s, 1, d->hi);
            snprintf(s, sizeof(s), "%.17g", nextafter(d->lo, -INFINITY));
            bound(d, "below", s, 0, 0);
            snprintf(s, sizeof(s), "%.17g", nextafter(d->hi, INFINITY));
            bound(d, "above", s, 0, 0);
            bound(d, "nan", "nan", 0, 0);
            bound(d, "empty", "", 0, 0);
            bound(d, "suffix", "5x", 0, 0);
            break;
        case OPT_COUNT:
            snprintf(s, sizeof(s), "%.0f", d->lo);
            bound(d, "lo", s, 1, d->lo);
            snprintf(s, sizeof(s), "%.0f", d->hi);
            bound(d, "hi", s, 1, d->hi);
            snprintf(s, sizeof(s), "%.0f", d->lo - 1);
            bound(d, "below", s, 0, 0);
            snprintf(s, sizeof(s), "%.0f", d->hi + 1);
            bound(d, "above", s, 0, 0);
            snprintf(s, sizeof(s), "%.1f", d->lo + 0.5);
            bound(d, "half", s, 0, 0);
            snprintf(s, sizeof(s), "%.1f", d->lo);
            bound(d, "whole-decimal", s, 1, d->lo);
            break;
        case OPT_SIZE:
            snprintf(s, sizeof(s), "%.0f", d->lo);
            bound(d, "lo", s, 1, d->lo);
            snprintf(s, sizeof(s), "%.0fK", d->lo / 1024);
            bound(d, "lo-K", s, 1, d->lo);
            snprintf(s, sizeof(s), "%.0fMB", d->lo / (1 << 20));
            bound(d, "lo-MB", s, 1, d->lo);
            snprintf(s, sizeof(s), "%.0f", d->lo - 1);
            bound(d, "below", s, 0, 0);
            bound(d, "T", "1T", 1, (double)(1ULL << 40));
            bound(d, "overflow", "16777216T", 0, 0);
            bound(d, "negative", "-1", 0, 0);
            bound(d, "suffix", "1X", 0, 0);
            break;
        case OPT_RATE:
            snprintf(s, sizeof(s), "%.0fk", d->lo / 1000);
            bound(d, "lo-k", s, 1, d->lo);
            snprintf(s, sizeof(s), "%.0f", d->lo);
            bound(d, "lo", s, 1, d->lo);
            snprintf(s, sizeof(s), "%.0fK", d->hi / 1000);
            bound(d, "hi-K", s, 1, d->hi);
            snprintf(s, sizeof(s), "%.0f", d->hi);
            bound(d, "hi", s, 1, d->hi);
            snprintf(s, sizeof(s), "%.0f", d->lo - 1);
            bound(d, "below", s, 0, 0);
            snprintf(s, sizeof(s), "%.0f", d->hi + 1);
            bound(d, "above", s, 0, 0);
            bound(d, "suffix", "128kb", 0, 0);
            break;
        case OPT_CHOICE:
            for (int c = 0; d->choices[c]; c++)
                bound(d, "choice", d->choices[c], 1, c);
            bound(d, "other", "x", 0, 0);
            bound(d, "empty", "", 0, 0);
            break;
        case OPT_LADDER:
            bound(d, "one", "360:800k", 1, 0);
            bound(d, "height-lo", "2:800k", 1, 0);
            bound(d, "height-hi", "8640:800k", 1, 0);
            bound(d, "height-below", "1:800k", 0, 0);
            bound(d, "height-above", "8641:800k", 0, 0);
            bound(d, "rate-lo", "360:64k", 1, 0);
            bound(d, "rate-hi", "360:200M", 1, 0);
            bound(d, "empty", "", 0, 0);
            break;
        default:
            break;
        }
    }
}

static void test_forms(void)
{
    struct hlsfs_opts o;
    int stayed;

    check_begin("forms/ladder-commas-rejoined");
    char *argv[] = { "hlsfs", "-o", "ladder=480:1500k,1080:5M,preset=fast",
                     "/tmp", "/mnt", NULL };
    struct fuse_args args = FUSE_ARGS_INIT(5, argv);
    memset(&o, 0, sizeof(o));
    CHECK_INT(opts_parse(&args, &o), 0);
    CHECK_INT(o.title.ladder.n, 2);
    CHECK_INT(o.title.ladder.rungs[1].bit_rate, 5000000);
    CHECK_STR(o.title.video.preset, "fast");
    fuse_opt_free_args(&args);
    opts_free(&o);
    check_end();

    check_begin("forms/max_threads-left-for-libfuse");
    CHECK_INT(parse_left("max_threads=5", &o, "max_threads=5", &stayed), 0);
    CHECK_INT(stayed, 1);
    opts_free(&o);
    check_end();

    check_begin("forms/cache_dir-made-absolute");
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof(cwd)) != NULL, "getcwd");
    CHECK_INT(parse("cache_dir=no-such-dir-here/c", &o), 0);
    char want_dir[8192];
    snprintf(want_dir, sizeof(want_dir), "%s/no-such-dir-here/c", cwd);
    CHECK_STR(o.cache_dir, want_dir);
    opts_free(&o);
    check_end();

    check_begin("forms/clean=eager");
    CHECK_INT(parse("clean=eager", &o), 0);
    CHECK_INT(o.clean_eager, 1);
    opts_free(&o);
    check_end();

    check_begin("forms/audio_bitrate=96.5k");
    CHECK_INT(parse("audio_bitrate=96.5k", &o), 0);
    CHECK_INT(o.title.audio_bit_rate, 96500);
    opts_free(&o);
    check_end();
}

int main(void)
{
    static const char *const bad[] = {
        "threads=1e300", "threads=-1e300", "threads=nan", "threads=inf",
        "threads=2.5", "threads=0", "threads=65",
        "max_sessions=2.5", "max_sessions=1e300", "max_sessions=nan",
        "max_sessions=-inf", "max_sessions=0", "max_sessions=257",
        "max_ahead=nan", "idle_timeout=1e400", "segment_keep=-1",
        "segment_time=1e400", "audio_bitrate=1e400k", "audio_bitrate=nan",
    };
    struct hlsfs_opts o;

    test_table();
    test_defaults();
    test_bounds();
    test_forms();

    /* the refusals print why on stderr */
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        refused(bad[i]);

    check_begin("accepted/threads=4");
    CHECK_INT(parse("threads=4", &o), 0);
    CHECK_INT(o.title.video.threads, 4);
    opts_free(&o);
    check_end();

    check_begin("accepted/max_sessions=3");
    CHECK_INT(parse("max_sessions=3", &o), 0);
    CHECK_INT(o.max_sessions, 3);
    opts_free(&o);
    check_end();

    check_begin("accepted/max_sessions=2.0");
    CHECK_INT(parse("max_sessions=2.0", &o), 0);
    CHECK_INT(o.max_sessions, 2);
    opts_free(&o);
    check_end();
    return check_summary("test_opts");
}
