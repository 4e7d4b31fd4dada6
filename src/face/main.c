/*
 * main: start-up and teardown of hlsfs. Parses options, checks the cache
 * can be opened, mounts, daemonizes, then opens the cache and the library
 * (LMDB must not cross a fork) and runs the FUSE loop. Teardown runs the
 * same ladder in reverse.
 */

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fuse.h>
#include <fuse_lowlevel.h>
#include <libavformat/avformat.h>

#include "hlsfs/cache.h"
#include "hlsfs/evict.h"
#include "hlsfs/fs.h"
#include "hlsfs/library.h"
#include "hlsfs/log.h"
#include "hlsfs/opts.h"
#include "hlsfs/produce.h"
#include "hlsfs/segstore.h"
#include "hlsfs/session.h"

#ifndef HLSFS_VERSION
#define HLSFS_VERSION "0.1.0"
#endif

/* What the termination signals reach. A signal handler has no argument
 * to carry them, so this is the one piece of static state: set before the
 * handlers are installed, cleared after they are removed. */
static struct {
    struct fuse_session *se;
    atomic_int          *stop;
} on_signal;

/* SIGTERM, SIGINT, SIGHUP: the encodes in progress give up at once (so
 * that the FUSE threads waiting for them are answered), then the FUSE
 * loop ends, as with libfuse's own handler. Both steps are plain stores,
 * safe in a signal handler. */
static void exit_handler(int sig)
{
    (void) sig;
    if (on_signal.stop)
        atomic_store(on_signal.stop, 1);
    if (on_signal.se)
        fuse_session_exit(on_signal.se);
}

static int set_exit_handlers(struct fuse_session *se, atomic_int *stop)
{
    static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
    struct sigaction sa;

    on_signal.se = se;
    on_signal.stop = stop;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = exit_handler;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        if (sigaction(sigs[i], &sa, NULL) == -1) {
            perror("hlsfs: cannot set signal handler");
            return -1;
        }
    return 0;
}

static void remove_exit_handlers(void)
{
    static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
    on_signal.se = NULL;
    on_signal.stop = NULL;
}

/* Was "-o NAME=..." given? (libfuse's parser gives defaults, not that.) */
static int option_given(const struct fuse_args *args, const char *name)
{
    size_t n = strlen(name);
    for (int i = 1; i < args->argc; i++) {
        const char *a = args->argv[i];
        if (!strcmp(a, "-o") && i + 1 < args->argc)
            a = args->argv[++i];
        else if (!strncmp(a, "-o", 2))
            a += 2;
        else
            continue;
        for (const char *p = a; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
            if (!strncmp(p, name, n) && p[n] == '=')
                return 1;
    }
    return 0;
}

int main(int argc, char *argv[])
{
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    struct fuse_cmdline_opts cmd;
    struct hlsfs_opts opts;
    struct fs_context fsctx;
    struct cache *cache = NULL;
    struct library *library = NULL;
    struct sched *sched = NULL;
    struct evict *evict = NULL;
    struct segstore *store = NULL;
    struct produce_ctx produce = { 0 };
    struct fuse *fuse = NULL;
    int status = 1;

    memset(&opts, 0, sizeof(opts));
    memset(&cmd, 0, sizeof(cmd));
    memset(&fsctx, 0, sizeof(fsctx));
    pthread_mutex_init(&fsctx.open_lock, NULL);
    list_init(&fsctx.open);

    if (opts_parse(&args, &opts) < 0)
        goto out_args;
    int threads_given = option_given(&args, "max_threads");
    if (fuse_parse_cmdline(&args, &cmd) != 0)
        goto out_args;
    /* a FUSE thread is held by every read that waits for an encode: enough
     * of them that stat, listings, playlists and cached reads still find
     * one however many readers wait (libfuse's own default is 10) */
    if (!threads_given)
        cmd.max_threads = FS_MAX_THREADS;
    if (opts.show_help || cmd.show_help) {
        opts_print_help(argv[0]);
        printf("FUSE options:\n");
        fuse_cmdline_help();
        fuse_lib_help(&args);
        status = 0;
        goto out_cmd;
    }
    if (opts.show_version || cmd.show_version) {
        printf("hlsfs %s (libavformat %s, FUSE %s)\n", HLSFS_VERSION,
               AV_STRINGIFY(LIBAVFORMAT_VERSION), fuse_pkgversion());
        status = 0;
        goto out_cmd;
    }
    if (!cmd.mountpoint) {
        fprintf(stderr, "hlsfs: missing MOUNTPOINT (see --help)\n");
        goto out_cmd;
    }

    log_setup(0, cmd.debug ? LOG_LVL_DEBUG : LOG_LVL_INFO);
    /* fail before mounting when the cache cannot be opened */
    if (cache_open(&cache, opts.cache_dir, opts.cache_size) < 0)
        goto out_cmd;
    cache_close(&cache);

    fsctx.source_root = opts.source;
    if (!(fuse = fuse_new(&args, fs_operations(), sizeof(struct fuse_operations),
                          &fsctx)))
        goto out_cmd;
    if (fuse_mount(fuse, cmd.mountpoint) != 0)
        goto out_fuse;
    if (fuse_daemonize(cmd.foreground) != 0)
        goto out_unmount;
    if (!cmd.foreground)
        log_setup(1, cmd.debug ? LOG_LVL_DEBUG : LOG_LVL_INFO);
    if (cache_open(&cache, opts.cache_dir, opts.cache_size) < 0)
        goto out_unmount;
    struct evict_config ec = { .segment_keep = opts.segment_keep,
                               .eager = opts.clean_eager };
    if (evict_new(&evict, cache, &ec) < 0)
        goto out_cache;
    if (segstore_new(&store, cache, evict) < 0)
        goto out_evict;
    if (library_new(&library, opts.source, cache, &opts.title) < 0)
        goto out_store;
    fsctx.library = library;
    produce.opts = &opts.title;
    struct sched_config sc = {
        .workers = opts.max_sessions, .max_ahead = opts.max_ahead,
        .idle_timeout = opts.idle_timeout, .produce = produce_scheduled,
        .ctx = &produce, .hold = library_hold_owner, .release = library_put_owner,
        .owner_ctx = library,
    };
    segstore_bind(store, &sc.store);
    fsctx.store = store;
    if (sched_new(&sched, &sc) < 0)
        goto out_library;
    fsctx.sched = sched;
    fsctx.metrics = (struct metrics_sources){
        .sched = sched, .evict = evict, .cache = cache, .library = library,
        .produce = &produce,
    };
    /* libfuse's handlers (SIGPIPE ignored), then ours for the signals
     * that end the mount */
    if (fuse_set_signal_handlers(fuse_get_session(fuse)) != 0)
        goto out_sched;
    if (set_exit_handlers(fuse_get_session(fuse), &produce.stop) != 0)
        goto out_signals;

    log_info("serving %s at %s (cache %s, %.0f MB, clean=%s; segment_time %.3g s)",
             opts.source, cmd.mountpoint, opts.cache_dir,
             (double)opts.cache_size / 1e6, opts.clean_eager ? "eager" : "pressure",
             opts.segment_time);
    if (cmd.singlethread) {
        status = fuse_loop(fuse) < 0;   /* > 0: ended by SIGTERM/SIGINT */
    } else {
        struct fuse_loop_config *loop = fuse_loop_cfg_create();
        if (!loop)
            goto out_signals;
        fuse_loop_cfg_set_clone_fd(loop, (unsigned)cmd.clone_fd);
        if (cmd.max_idle_threads <= 100000)    /* UINT_MAX: not given */
            fuse_loop_cfg_set_idle_threads(loop, cmd.max_idle_threads);
        if (cmd.max_threads > 0 && cmd.max_threads <= 100000)
            fuse_loop_cfg_set_max_threads(loop, cmd.max_threads);
        status = fuse_loop_mt(fuse, loop) < 0;
        fuse_loop_cfg_destroy(loop);
    }
    log_info("unmounting %s", cmd.mountpoint);
    atomic_store(&produce.stop, 1);     /* encodes in progress give up */
    fs_release_open(&fsctx);

out_signals:
    remove_exit_handlers();
    fuse_remove_signal_handlers(fuse_get_session(fuse));
out_sched:
    sched_free(&sched);
out_library:
    library_free(&library);
out_store:
    segstore_free(&store);
out_evict:
    evict_free(&evict);
out_cache:
    cache_close(&cache);
out_unmount:
    fuse_unmount(fuse);
out_fuse:
    fuse_destroy(fuse);
out_cmd:
    free(cmd.mountpoint);
out_args:
    fuse_opt_free_args(&args);
    opts_free(&opts);
    pthread_mutex_destroy(&fsctx.open_lock);
    return status;
}
