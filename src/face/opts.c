/*
 * opts: hlsfs's -o options. One table (below) names each option, its type,
 * default, range and help line; the fuse_opt spec, the defaults, the range
 * checks with their messages and the --help text all come from it.
 * FUSE's own options are left in the argument list for libfuse.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fuse.h>

#include "hlsfs/fs.h"
#include "hlsfs/ladder.h"
#include "hlsfs/opts.h"

#define STRINGIFY_(x) #x
#define STRINGIFY(x)  STRINGIFY_(x)

enum { KEY_HELP, KEY_VERSION };

static const char *const presets[] = {
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium",
    "slow", "slower", "veryslow", "placebo", NULL,
};

static const char *const clean_modes[] = { "pressure", "eager", NULL };

/* in the order of enum title_format */
static const char *const formats[] = { "ts", "fmp4", NULL };

#define OFF(field) offsetof(struct hlsfs_opts, field)
#define NAME(n)    .name = n, .templ = n "=%s"

/* In the order of the man page. */
static const struct opt_desc table[] = {
    { NAME("cache_dir"), .arg = "DIR", .type = OPT_PATH,
      .def_doc = "/var/cache/hlsfs as root; otherwise $XDG_CACHE_HOME/hlsfs, "
                 "or ~/.cache/hlsfs",
      .text = OFF(cache_dir), .value = OFF(cache_dir),
      .help = "LMDB cache directory, created if missing" },
    { NAME("cache_size"), .arg = "SIZE", .type = OPT_SIZE, .def = "10G",
      .lo = 16 << 20,
      .text = OFF(cache_size_s), .value = OFF(cache_size),
      .help = "cap of the cache file, K/M/G/T suffixes (powers of 1024); "
              "past 90% of it, segments are evicted down to 75%" },
    { NAME("segment_time"), .arg = "SECS", .type = OPT_NUMBER, .def = "6",
      .lo = 1, .hi = 60, .unit = "seconds",
      .text = OFF(segment_time_s), .value = OFF(segment_time),
      .help = "target segment duration, decimals allowed" },
    { NAME("format"), .arg = "FORMAT", .type = OPT_CHOICE, .def = "ts",
      .choices = formats,
      .text = OFF(format_s), .value = OFF(title.format),
      .help = "segment format: 'ts' (MPEG-TS, NNNNN.ts, plays everywhere) or "
              "'fmp4' (CMAF: init.mp4 and NNNNN.m4s; adds the source's HEVC, "
              "AV1 and VP9 video and rotated video as 'original', copied)" },
    { NAME("ladder"), .arg = "H:RATE,...", .type = OPT_LADDER,
      .def = "360:800k,480:1400k,720:2800k,1080:5000k,1440:8000k,2160:14000k",
      .text = OFF(ladder_s), .value = OFF(title.ladder),
      .help = "transcoded rungs by picture height (short side, 2 to 8640) "
              "and bit rate (64k to 200M), at most 16; only rungs up to "
              "the source's size, capped at what it needs" },
    { NAME("preset"), .arg = "NAME", .type = OPT_CHOICE, .def = "veryfast",
      .choices = presets,
      .text = OFF(preset_s), .value = OFF(preset),
      .help = "x264 preset" },
    { NAME("threads"), .arg = "N", .type = OPT_COUNT, .def = "2",
      .lo = 1, .hi = 64,
      .text = OFF(threads_s), .value = OFF(title.video.threads),
      .help = "x264 slice, decoder and scaler threads per segment encode; "
              "part of what shapes the bytes" },
    { NAME("audio_bitrate"), .arg = "RATE", .type = OPT_RATE, .def = "128k",
      .lo = 32000, .hi = 512000,
      .text = OFF(audio_bitrate_s), .value = OFF(title.audio_bit_rate),
      .help = "AAC-LC stereo 48 kHz bit rate, with k (1000) or in bit/s" },
    { NAME("max_ahead"), .arg = "SECS", .type = OPT_NUMBER, .def = "60",
      .lo = 0, .hi = 3600, .unit = "seconds",
      .text = OFF(max_ahead_s), .value = OFF(max_ahead),
      .help = "readahead past the furthest segment read; 0 turns it off" },
    { NAME("idle_timeout"), .arg = "SECS", .type = OPT_NUMBER, .def = "60",
      .lo = 0.1, .hi = 86400, .unit = "seconds",
      .text = OFF(idle_timeout_s), .value = OFF(idle_timeout),
      .help = "a session with no reads stops after this" },
    /* read by libfuse's fuse_parse_cmdline; main.c applies the default */
    { NAME("max_threads"), .arg = "N", .type = OPT_FUSE,
      .def = STRINGIFY(FS_MAX_THREADS),
      .help = "FUSE worker threads (libfuse's own default is 10): readers "
              "waiting for encodes each hold one, the rest keep answering" },
    { NAME("max_sessions"), .arg = "N", .type = OPT_COUNT,
      .def_doc = "the number of online processors", .lo = 1, .hi = 256,
      .text = OFF(max_sessions_s), .value = OFF(max_sessions),
      .help = "segments readers wait for encoded at once, plus as many "
              "readahead ones at nice +10" },
    { NAME("segment_keep"), .arg = "SECS", .type = OPT_NUMBER, .def = "720",
      .lo = 0, .hi = 1e7, .unit = "seconds",
      .text = OFF(segment_keep_s), .value = OFF(segment_keep),
      .help = "in titles of 5 minutes or more, segments further than this "
              "behind every reader are evicted first" },
    { NAME("clean"), .arg = "MODE", .type = OPT_CHOICE, .def = "pressure",
      .choices = clean_modes,
      .text = OFF(clean_s), .value = OFF(clean_eager),
      .help = "'pressure': evict only when the cache is full; 'eager': also "
              "drop segments segment_keep behind the readers at once" },
};

#define N_OPTS (sizeof(table) / sizeof(table[0]))

const struct opt_desc *opts_table(size_t *n)
{
    *n = N_OPTS;
    return table;
}

#define FIELD(o, off, type) ((type *)(void *)((char *)(o) + (off)))

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

/* A bound as the help and the messages show it: 16, 0.1, 10000000. */
static void format_bound(char *buf, size_t size, double v)
{
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, size, "%.0f", v);
    else
        snprintf(buf, size, "%g", v);
}

/* 16777216 as "16M": the largest suffix that divides it. */
static void format_size(char *buf, size_t size, uint64_t v)
{
    static const char suffix[] = "KMGT";
    int i = -1;
    while (i < 3 && v && v % 1024 == 0) {
        v /= 1024;
        i++;
    }
    if (i < 0)
        snprintf(buf, size, "%llu", (unsigned long long)v);
    else
        snprintf(buf, size, "%llu%c", (unsigned long long)v, suffix[i]);
}

/* What the option accepts, for --help: "1 to 60 seconds", "at least 16M". */
static void format_range(char *buf, size_t size, const struct opt_desc *d)
{
    char lo[32], hi[32];
    size_t n = 0;

    buf[0] = '\0';
    switch (d->type) {
    case OPT_NUMBER: case OPT_COUNT:
        format_bound(lo, sizeof(lo), d->lo);
        format_bound(hi, sizeof(hi), d->hi);
        snprintf(buf, size, "%s to %s%s%s", lo, hi, d->unit ? " " : "",
                 d->unit ? d->unit : "");
        break;
    case OPT_SIZE:
        format_size(lo, sizeof(lo), (uint64_t)d->lo);
        snprintf(buf, size, "at least %s", lo);
        break;
    case OPT_RATE:
        format_bound(lo, sizeof(lo), d->lo / 1000);
        format_bound(hi, sizeof(hi), d->hi / 1000);
        snprintf(buf, size, "%sk to %sk", lo, hi);
        break;
    case OPT_CHOICE:
        for (const char *const *c = d->choices; *c && n < size; c++)
            n += (size_t)snprintf(buf + n, size - n, "%s%s",
                                  c == d->choices ? "" : c[1] ? ", " : " or ",
                                  *c);
        break;
    default:
        break;
    }
}

/* The computed defaults: the cache directory and the number of cores. */
static char *computed_default(const struct opt_desc *d)
{
    if (d->type == OPT_PATH)
        return default_cache_dir();
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    char buf[24];
    snprintf(buf, sizeof(buf), "%ld", cores > 0 ? cores : 1);
    return strdup(buf);
}

static int number_refused(const struct opt_desc *d, const char *s)
{
    char lo[32], hi[32];
    format_bound(lo, sizeof(lo), d->lo);
    format_bound(hi, sizeof(hi), d->hi);
    fprintf(stderr, "hlsfs: %s '%s' must be a number%s%s from %s to %s\n",
            d->name, s, d->unit ? " of " : "", d->unit ? d->unit : "", lo, hi);
    return -EINVAL;
}

/* A relative cache directory made absolute (it need not exist yet). */
static int absolute_dir(char **dir)
{
    if ((*dir)[0] == '/')
        return 0;
    char *abs = realpath(*dir, NULL);
    if (!abs) {
        char cwd[PATH_MAX], buf[PATH_MAX * 2];
        if (!getcwd(cwd, sizeof(cwd)))
            return -errno;
        snprintf(buf, sizeof(buf), "%s/%s", cwd, *dir);
        if (!(abs = strdup(buf)))
            return -ENOMEM;
    }
    free(*dir);
    *dir = abs;
    return 0;
}

/* Option d's text s into its field, or -EINVAL after saying why. Numbers
 * are checked against their range before any cast. */
static int parse_value(const struct opt_desc *d, const char *s,
                       struct hlsfs_opts *o)
{
    char *end;
    double v;

    switch (d->type) {
    case OPT_SIZE: {
        uint64_t *out = FIELD(o, d->value, uint64_t);
        if (opts_parse_size(s, out) < 0 || *out < (uint64_t)d->lo) {
            char lo[32];
            format_size(lo, sizeof(lo), (uint64_t)d->lo);
            fprintf(stderr, "hlsfs: %s '%s' is not a size of at least %s "
                    "(e.g. 512M, 10G)\n", d->name, s, lo);
            return -EINVAL;
        }
        return 0;
    }
    case OPT_NUMBER: case OPT_COUNT:
        errno = 0;
        v = strtod(s, &end);
        if (errno || end == s || *end || !(v >= d->lo) || v > d->hi)
            return number_refused(d, s);
        if (d->type == OPT_NUMBER) {
            *FIELD(o, d->value, double) = v;
            return 0;
        }
        if (v != (double)(int)v) {
            fprintf(stderr, "hlsfs: %s '%s' must be a whole number\n",
                    d->name, s);
            return -EINVAL;
        }
        *FIELD(o, d->value, int) = (int)v;
        return 0;
    case OPT_RATE: {
        double kbit = strtod(s, &end);
        if (end != s && (*end == 'k' || *end == 'K') && end[1] == '\0')
            ;
        else if (end != s && *end == '\0')
            kbit /= 1000.0;
        else
            kbit = -1;
        if (!(kbit >= d->lo / 1000 && kbit <= d->hi / 1000)) {
            char lo[32], hi[32];
            format_bound(lo, sizeof(lo), d->lo / 1000);
            format_bound(hi, sizeof(hi), d->hi / 1000);
            fprintf(stderr, "hlsfs: %s '%s' must be %sk to %sk\n", d->name, s,
                    lo, hi);
            return -EINVAL;
        }
        *FIELD(o, d->value, int64_t) = (int64_t)(kbit * 1000 + 0.5);
        return 0;
    }
    case OPT_LADDER:
        if (ladder_parse(s, FIELD(o, d->value, struct ladder)) < 0) {
            fprintf(stderr, "hlsfs: %s '%s' is not a list of HEIGHT:RATE "
                    "(e.g. 360:800k,720:2800k)\n", d->name, s);
            return -EINVAL;
        }
        return 0;
    case OPT_CHOICE:
        for (int i = 0; d->choices[i]; i++)
            if (!strcmp(s, d->choices[i])) {
                *FIELD(o, d->value, int) = i;
                return 0;
            }
        char range[256];
        format_range(range, sizeof(range), d);
        fprintf(stderr, "hlsfs: %s '%s' must be %s\n", d->name, s, range);
        return -EINVAL;
    default:
        return 0;
    }
}

static int validate(struct hlsfs_opts *o)
{
    struct stat st;

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

    for (size_t i = 0; i < N_OPTS; i++) {
        const struct opt_desc *d = &table[i];
        char **text = FIELD(o, d->text, char *);
        char *computed = NULL;
        int ret;

        if (d->type == OPT_FUSE)
            continue;
        if (d->type == OPT_PATH) {
            if (!*text && !(*text = computed_default(d)))
                return -ENOMEM;
            if ((ret = absolute_dir(text)) < 0)
                return ret;
            continue;
        }
        if (!*text && !d->def && !(computed = computed_default(d)))
            return -ENOMEM;
        ret = parse_value(d, *text ? *text : d->def ? d->def : computed, o);
        free(computed);
        if (ret < 0)
            return ret;
    }

    struct title_options *t = &o->title;
    t->segment_time = o->segment_time;
    t->video.preset = presets[o->preset];
    t->audio_sample_rate = 48000;
    return 0;
}

int opts_parse(struct fuse_args *args, struct hlsfs_opts *o)
{
    struct fuse_opt spec[N_OPTS + 5];
    size_t n = 0;

    for (size_t i = 0; i < N_OPTS; i++)
        if (table[i].type != OPT_FUSE)
            spec[n++] = (struct fuse_opt){ table[i].templ,
                                           (unsigned long)table[i].text, 1 };
    spec[n++] = (struct fuse_opt)FUSE_OPT_KEY("-h", KEY_HELP);
    spec[n++] = (struct fuse_opt)FUSE_OPT_KEY("--help", KEY_HELP);
    spec[n++] = (struct fuse_opt)FUSE_OPT_KEY("-V", KEY_VERSION);
    spec[n++] = (struct fuse_opt)FUSE_OPT_KEY("--version", KEY_VERSION);
    spec[n] = (struct fuse_opt)FUSE_OPT_END;
    if (fuse_opt_parse(args, o, spec, opt_proc) == -1)
        return -EINVAL;
    if (o->show_help || o->show_version)
        return 0;
    return validate(o);
}

/* Words of text from column 'col' up to column 78, continued lines
 * indented to 'indent'. */
static void write_wrapped(FILE *f, const char *text, int col, int indent)
{
    const char *p = text;
    while (*p) {
        const char *w = p;
        while (*p && *p != ' ')
            p++;
        int len = (int)(p - w);
        if (col > indent && col + 1 + len > 78) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', f);
            col++;
        }
        fwrite(w, 1, (size_t)len, f);
        col += len;
        while (*p == ' ')
            p++;
    }
    fputc('\n', f);
}

void opts_write_help(FILE *f, const char *progname)
{
    enum { INDENT = 27 };

    fprintf(f, "usage: %s [options] SOURCE MOUNTPOINT\n"
            "\n"
            "Mirror SOURCE at MOUNTPOINT, showing every video file as a\n"
            "directory of HLS playlists and MPEG-TS segments.\n"
            "\n"
            "hlsfs options:\n", progname);
    for (size_t i = 0; i < N_OPTS; i++) {
        const struct opt_desc *d = &table[i];
        char range[256], text[1024];
        int col = fprintf(f, "    -o %s=%s", d->name, d->arg);

        if (col + 1 >= INDENT) {
            fprintf(f, "\n");
            col = 0;
        }
        fprintf(f, "%*s", INDENT - col, "");
        format_range(range, sizeof(range), d);
        snprintf(text, sizeof(text), "%s (%s%sdefault%s %s)", d->help, range,
                 range[0] ? "; " : "", d->def ? "" : ":",
                 d->def ? d->def : d->def_doc);
        write_wrapped(f, text, INDENT, INDENT);
    }
    fprintf(f, "    -h, --help             print this help and exit\n"
            "    -V, --version          print the version and exit\n"
            "\n"
            "Metrics (Prometheus text): MOUNTPOINT/.hlsfs/metrics\n"
            "\n");
}

void opts_print_help(const char *progname)
{
    opts_write_help(stdout, progname);
}

void opts_free(struct hlsfs_opts *o)
{
    if (!o)
        return;
    free(o->source);
    for (size_t i = 0; i < N_OPTS; i++)
        if (table[i].type != OPT_FUSE)
            free(*FIELD(o, table[i].text, char *));
    memset(o, 0, sizeof(*o));
}
