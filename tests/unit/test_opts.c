/*
 * test_opts: option validation (opts.c): numbers out of range, not a
 * number, or not whole where a count is asked for are refused, never cast.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fuse_opt.h>

#include "check.h"
#include "hlsfs/opts.h"

/* opts_parse on "hlsfs -o OPT /tmp /mnt"; fills o when it succeeds. */
static int parse(const char *opt, struct hlsfs_opts *o)
{
    char *argv[] = { "hlsfs", "-o", (char *)opt, "/tmp", "/mnt", NULL };
    struct fuse_args args = FUSE_ARGS_INIT(5, argv);
    int ret;

    memset(o, 0, sizeof(*o));
    ret = opts_parse(&args, o);
    fuse_opt_free_args(&args);
    return ret;
}

static void refused(const char *opt)
{
    struct hlsfs_opts o;

    check_begin("refused/%s", opt);
    CHECK_INT(parse(opt, &o), -22);
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
    };
    struct hlsfs_opts o;

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
