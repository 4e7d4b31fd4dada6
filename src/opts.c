/*
 * opts: hlsfs's -o options (table, defaults, validation) and --help text.
 * FUSE's own options are left in the argument list for libfuse.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FUSE_USE_VERSION 35
#include <fuse.h>

#include "hlsfs/opts.h"

#define DEFAULT_CACHE_SIZE   "10G"
#define DEFAULT_SEGMENT_TIME "6"

enum { KEY_HELP, KEY_VERSION };

#define OPT(t, p) { t, offsetof(struct hlsfs_opts, p), 1 }
static const struct fuse_opt opt_spec[] = {
    OPT("cache_dir=%s", cache_dir),
    OPT("cache_size=%s", cache_size_s),
    OPT("segment_time=%s", segment_time_s),
    FUSE_OPT_KEY("-h", KEY_HELP),
    FUSE_OPT_KEY("--help", KEY_HELP),
    FUSE_OPT_KEY("-V", KEY_VERSION),
    FUSE_OPT_KEY("--version", KEY_VERSION),
    FUSE_OPT_END
};

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
           "    -o cache_size=SIZE     cap of the cache, K/M/G/T suffixes\n"
           "                           (default " DEFAULT_CACHE_SIZE ")\n"
           "    -o segment_time=SECS   target segment duration, 1 to 60\n"
           "                           (default " DEFAULT_SEGMENT_TIME ")\n"
           "    -h, --help             print this help and exit\n"
           "    -V, --version          print the version and exit\n"
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
    memset(o, 0, sizeof(*o));
}
