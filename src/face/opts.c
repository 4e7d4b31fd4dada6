/*
 * opts: hlsfs's -o options (table, defaults, validation) and --help text.
 * FUSE's own options are left in the argument list for libfuse.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fuse.h>

#include "hlsfs/opts.h"

#define DEFAULT_CACHE_SIZE   "10G"
#define DEFAULT_SEGMENT_TIME "6"
#define DEFAULT_PRESET       "veryfast"
#define DEFAULT_AUDIO_RATE   "128k"
#define DEFAULT_THREADS      "2"
#define DEFAULT_MAX_AHEAD    "60"
#define DEFAULT_IDLE_TIMEOUT "60"
#define DEFAULT_SEGMENT_KEEP "720"

enum { KEY_HELP, KEY_VERSION };

#define OPT(t, p) { t, offsetof(struct hlsfs_opts, p), 1 }
static const struct fuse_opt opt_spec[] = {
    OPT("cache_dir=%s", cache_dir),
    OPT("cache_size=%s", cache_size_s),
    OPT("segment_time=%s", segment_time_s),
    OPT("ladder=%s", ladder_s),
    OPT("preset=%s", preset_s),
    OPT("audio_bitrate=%s", audio_bitrate_s),
    OPT("threads=%s", threads_s),
    OPT("max_ahead=%s", max_ahead_s),
    OPT("idle_timeout=%s", idle_timeout_s),
    OPT("max_sessions=%s", max_sessions_s),
    OPT("segment_keep=%s", segment_keep_s),
    OPT("clean=%s", clean_s),
    FUSE_OPT_KEY("-h", KEY_HELP),
    FUSE_OPT_KEY("--help", KEY_HELP),
    FUSE_OPT_KEY("-V", KEY_VERSION),
    FUSE_OPT_KEY("--version", KEY_VERSION),
    FUSE_OPT_END
};

/* "720:2800k": a rung of a ladder option. */
static int looks_like_rung(const char *arg)
{
    const char *p = arg;
    if (!isdigit((unsigned char)*p))
        return 0;
    while (isdigit((unsigned char)*p))
        p++;
    if (*p++ != ':' || !isdigit((unsigned char)*p))
        return 0;
    while (isdigit((unsigned char)*p) || *p == '.')
        p++;
    if (*p == 'k' || *p == 'K' || *p == 'm' || *p == 'M')
        p++;
    return *p == '\0';
}

static int opt_proc(void *data, const char *arg, int key,
                    struct fuse_args *outargs)
{
    struct hlsfs_opts *o = data;
    (void) outargs;
    switch (key) {
    case KEY_HELP:
        o->show_help = 1;
        return 1;     /* libfuse prints its own part of the help too */
    case KEY_VERSION:
        o->show_version = 1;
        return 1;
    case FUSE_OPT_KEY_OPT:
        /* "-o ladder=360:800k,720:2800k": libfuse splits -o at commas, so
         * the rungs after the first arrive alone; they rejoin the ladder */
        if (o->ladder_s && looks_like_rung(arg)) {
            char *joined;
            if (asprintf(&joined, "%s,%s", o->ladder_s, arg) < 0)
                return -1;
            free(o->ladder_s);
            o->ladder_s = joined;
            return 0;
        }
        return 1;
    case FUSE_OPT_KEY_NONOPT:
        if (!o->source) {
            o->source = strdup(arg);
            return o->source ? 0 : -1;
        }
        return 1;     /* the mount point, for fuse_parse_cmdline */
    default:
        return 1;
    }
}

int opts_parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-')
        return -EINVAL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -EINVAL;
    unsigned shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    default: break;
    }
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end)
        return -EINVAL;
    if (shift && v > (UINT64_MAX >> shift))
        return -EINVAL;
    *out = (uint64_t)v << shift;
    return 0;
}

static char *default_cache_dir(void)
{
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    char buf[PATH_MAX];
    if (geteuid() == 0)
        return strdup("/var/cache/hlsfs");
    if (xdg && *xdg)
        snprintf(buf, sizeof(buf), "%s/hlsfs", xdg);
    else if (home && *home)
        snprintf(buf, sizeof(buf), "%s/.cache/hlsfs", home);
    else
        return strdup("/var/cache/hlsfs");
    return strdup(buf);
}

/* A number in [lo, hi], or -EINVAL after saying which option is wrong. */
static int parse_number(const char *name, const char *text, const char *def,
                        double lo, double hi, double *out)
{
    const char *s = text ? text : def;
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    if (errno || end == s || *end || !(*out >= lo) || *out > hi) {
        fprintf(stderr, "hlsfs: %s '%s' must be a number from %g to %g\n",
                name, s, lo, hi);
        return -EINVAL;
    }
    return 0;
}

/* A count: a whole number from lo to hi (checked before any cast). */
static int parse_count(const char *name, const char *text, const char *def,
                       int lo, int hi, int *out)
{
    double v;
    if (parse_number(name, text, def, lo, hi, &v) < 0)
        return -EINVAL;
    if (v != (double)(int)v) {
        fprintf(stderr, "hlsfs: %s '%s' must be a whole number\n", name,
                text ? text : def);
        return -EINVAL;
    }
    *out = (int)v;
    return 0;
}

static int valid_preset(const char *p)
{
    static const char *const presets[] = {
        "ultrafast", "superfast", "veryfast", "faster", "fast", "medium",
        "slow", "slower", "veryslow", "placebo",
    };
    for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
        if (!strcmp(p, presets[i]))
            return 1;
    return 0;
}

static int validate_encoding(struct hlsfs_opts *o)
{
    struct title_options *t = &o->title;

    t->segment_time = o->segment_time;
    if (o->ladder_s) {
        if (ladder_parse(o->ladder_s, &t->ladder) < 0) {
            fprintf(stderr, "hlsfs: ladder '%s' is not a list of HEIGHT:RATE "
                    "(e.g. 360:800k,720:2800k)\n", o->ladder_s);
            return -EINVAL;
        }
    } else {
        ladder_default(&t->ladder);
    }
    t->video.preset = o->preset_s ? o->preset_s : DEFAULT_PRESET;
    if (!valid_preset(t->video.preset)) {
        fprintf(stderr, "hlsfs: preset '%s' is not an x264 preset "
                "(ultrafast ... veryslow)\n", t->video.preset);
        return -EINVAL;
    }
    const char *ab = o->audio_bitrate_s ? o->audio_bitrate_s : DEFAULT_AUDIO_RATE;
    char *end;
    double kbit = strtod(ab, &end);
    if (end != ab && (*end == 'k' || *end == 'K') && end[1] == '\0')
        kbit *= 1.0;
    else if (end != ab && *end == '\0')
        kbit /= 1000.0;
    else
        kbit = -1;
    if (!(kbit >= 32 && kbit <= 512)) {
        fprintf(stderr, "hlsfs: audio_bitrate '%s' must be 32k to 512k\n", ab);
        return -EINVAL;
    }
    t->audio_bit_rate = (int64_t)(kbit * 1000 + 0.5);
    t->audio_sample_rate = 48000;
    if (parse_count("threads", o->threads_s, DEFAULT_THREADS, 1, 64,
                    &t->video.threads) < 0)
        return -EINVAL;
    if (parse_number("max_ahead", o->max_ahead_s, DEFAULT_MAX_AHEAD, 0, 3600,
                     &o->max_ahead) < 0 ||
        parse_number("idle_timeout", o->idle_timeout_s, DEFAULT_IDLE_TIMEOUT, 0.1,
                     86400, &o->idle_timeout) < 0)
        return -EINVAL;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    char def_sessions[24];
    snprintf(def_sessions, sizeof(def_sessions), "%ld", cores > 0 ? cores : 1);
    if (parse_count("max_sessions", o->max_sessions_s, def_sessions, 1, 256,
                    &o->max_sessions) < 0)
        return -EINVAL;
    if (parse_number("segment_keep", o->segment_keep_s, DEFAULT_SEGMENT_KEEP,
                     0, 1e7, &o->segment_keep) < 0)
        return -EINVAL;
    if (!o->clean_s || !strcmp(o->clean_s, "pressure")) {
        o->clean_eager = 0;
    } else if (!strcmp(o->clean_s, "eager")) {
        o->clean_eager = 1;
    } else {
        fprintf(stderr, "hlsfs: clean '%s' must be 'pressure' or 'eager'\n",
                o->clean_s);
        return -EINVAL;
    }
    return 0;
}

static int validate(struct hlsfs_opts *o)
{
    struct stat st;
    char *end;

    if (!o->source) {
        fprintf(stderr, "hlsfs: missing SOURCE (see --help)\n");
        return -EINVAL;
    }
    char *abs = realpath(o->source, NULL);
    if (!abs || stat(abs, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "hlsfs: SOURCE '%s' is not a readable directory\n",
                o->source);
        free(abs);
        return -EINVAL;
    }
    free(o->source);
    o->source = abs;

    if (opts_parse_size(o->cache_size_s ? o->cache_size_s : DEFAULT_CACHE_SIZE,
                        &o->cache_size) < 0 || o->cache_size < (16u << 20)) {
        fprintf(stderr, "hlsfs: cache_size '%s' is not a size of at least 16M "
                "(e.g. 512M, 10G)\n", o->cache_size_s);
        return -EINVAL;
    }

    const char *seg = o->segment_time_s ? o->segment_time_s : DEFAULT_SEGMENT_TIME;
    errno = 0;
    o->segment_time = strtod(seg, &end);
    if (errno || end == seg || *end || !(o->segment_time >= 1.0) ||
        o->segment_time > 60.0) {
        fprintf(stderr, "hlsfs: segment_time '%s' must be a number of seconds "
                "from 1 to 60\n", seg);
        return -EINVAL;
    }

    if (validate_encoding(o) < 0)
        return -EINVAL;
    if (!o->cache_dir && !(o->cache_dir = default_cache_dir()))
        return -ENOMEM;
    if (o->cache_dir[0] != '/') {
        char *abs_cache = realpath(o->cache_dir, NULL);
        if (!abs_cache) {
            char cwd[PATH_MAX], buf[PATH_MAX * 2];
            if (!getcwd(cwd, sizeof(cwd)))
                return -errno;
            snprintf(buf, sizeof(buf), "%s/%s", cwd, o->cache_dir);
            abs_cache = strdup(buf);
            if (!abs_cache)
                return -ENOMEM;
        }
        free(o->cache_dir);
        o->cache_dir = abs_cache;
    }
    return 0;
}

int opts_parse(struct fuse_args *args, struct hlsfs_opts *o)
{
    if (fuse_opt_parse(args, o, opt_spec, opt_proc) == -1)
        return -EINVAL;
    if (o->show_help || o->show_version)
        return 0;
    return validate(o);
}

void opts_print_help(const char *progname)
{
    printf("usage: %s [options] SOURCE MOUNTPOINT\n"
           "\n"
           "Mirror SOURCE at MOUNTPOINT, showing every video file as a\n"
           "directory of HLS playlists and MPEG-TS segments.\n"
           "\n"
           "hlsfs options:\n"
           "    -o cache_dir=DIR       LMDB cache directory\n"
           "                           (default $XDG_CACHE_HOME/hlsfs,\n"
           "                           ~/.cache/hlsfs, /var/cache/hlsfs for root)\n"
           "    -o cache_size=SIZE     cap of the cache file, K/M/G/T suffixes\n"
           "                           (default " DEFAULT_CACHE_SIZE "); past 90%% of it,\n"
           "                           segments are evicted down to 75%%\n"
           "    -o segment_keep=SECS   segments further than this behind every\n"
           "                           reader of a title of 5 minutes or more are\n"
           "                           evicted first (default " DEFAULT_SEGMENT_KEEP ")\n"
           "    -o clean=MODE          'pressure': evict only when the cache is\n"
           "                           full (default); 'eager': also drop segments\n"
           "                           segment_keep behind the readers at once\n"
           "    -o segment_time=SECS   target segment duration, 1 to 60\n"
           "                           (default " DEFAULT_SEGMENT_TIME ")\n"
           "    -o ladder=H:RATE,...   transcoded rungs by picture height (short\n"
           "                           side) and bit rate (default 360:800k,\n"
           "                           480:1400k,720:2800k,1080:5000k,1440:8000k,\n"
           "                           2160:14000k); only rungs up to the source\n"
           "    -o preset=NAME         x264 preset (default " DEFAULT_PRESET ")\n"
           "    -o threads=N           x264, decoder and scaler threads per segment\n"
           "                           (default " DEFAULT_THREADS "); part of what shapes the bytes\n"
           "    -o audio_bitrate=RATE  AAC-LC stereo 48 kHz bit rate (default\n"
           "                           " DEFAULT_AUDIO_RATE ")\n"
           "    -o max_ahead=SECS      readahead past the furthest segment read\n"
           "                           (default " DEFAULT_MAX_AHEAD ")\n"
           "    -o idle_timeout=SECS   a session with no reads stops after this\n"
           "                           (default " DEFAULT_IDLE_TIMEOUT ")\n"
           "    -o max_sessions=N      segments readers wait for encoded at once,\n"
           "                           plus as many readahead ones at nice +10\n"
           "                           (default: cores)\n"
           "    -o max_threads=N       FUSE worker threads (default 256 here, not\n"
           "                           libfuse's 10): readers waiting for encodes\n"
           "                           each hold one, the rest keep answering\n"
           "    -h, --help             print this help and exit\n"
           "    -V, --version          print the version and exit\n"
           "\n"
           "Metrics (Prometheus text): MOUNTPOINT/.hlsfs/metrics\n"
           "\n", progname);
}

void opts_free(struct hlsfs_opts *o)
{
    if (!o)
        return;
    free(o->source);
    free(o->cache_dir);
    free(o->cache_size_s);
    free(o->segment_time_s);
    free(o->ladder_s);
    free(o->preset_s);
    free(o->audio_bitrate_s);
    free(o->threads_s);
    free(o->max_ahead_s);
    free(o->idle_timeout_s);
    free(o->max_sessions_s);
    free(o->segment_keep_s);
    free(o->clean_s);
    memset(o, 0, sizeof(*o));
}
