/*
 * test_title: the title layer (probe, title, library) on small sources
 * made with the ffmpeg CLI in a temporary directory.
 */
#include <errno.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavformat/avio.h>
#include <libavutil/avutil.h>
#include <libavutil/mem.h>

#include "check.h"
#include "hlsfs/cache.h"
#include "hlsfs/ladder.h"
#include "hlsfs/library.h"
#include "hlsfs/log.h"
#include "hlsfs/probe.h"
#include "hlsfs/record.h"
#include "hlsfs/remux.h"
#include "hlsfs/source.h"
#include "hlsfs/title.h"
#include "hlsfs/transcode.h"
#include "hlsfs/workbound.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct env {
    char dir[64];
    char va[128];        /* 64x48 H.264 at 10 fps and AAC, 1 s, MP4 */
    char ts[128];        /* the same packets in MPEG-TS              */
    char dense[128];     /* va's size, noisy and lossless: ~550 kbit/s */
};

static int run(const char *cmd)
{
    if (system(cmd) != 0) {
        fprintf(stderr, "test_title: failed: %s\n", cmd);
        return -EIO;
    }
    return 0;
}

static int env_start(struct env *e)
{
    char cmd[1024];

    memset(e, 0, sizeof(*e));
    strcpy(e->dir, "/tmp/test_title.XXXXXX");
    if (!mkdtemp(e->dir))
        return -errno;
    snprintf(e->va, sizeof(e->va), "%s/va.mp4", e->dir);
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -v error -y -f lavfi -i testsrc=size=64x48:rate=10:d=1 "
             "-f lavfi -i sine=r=48000:d=1 -c:v libx264 -g 5 -c:a aac '%s'", e->va);
    if (run(cmd) < 0)
        return -EIO;
    snprintf(e->dense, sizeof(e->dense), "%s/dense.mp4", e->dir);
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -v error -y -f lavfi -i "
             "testsrc=size=64x48:rate=10:d=1,noise=alls=40:allf=t "
             "-f lavfi -i sine=r=48000:d=1 -c:v libx264 -qp 0 -g 5 -c:a aac '%s'", e->dense);
    if (run(cmd) < 0)
        return -EIO;
    snprintf(e->ts, sizeof(e->ts), "%s/va.ts", e->dir);
    snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -v error -y -i '%s' -c copy '%s'",
             e->va, e->ts);
    return run(cmd);
}

static void env_end(struct env *e)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
    if (e->dir[0] && system(cmd) != 0)
        fprintf(stderr, "test_title: cannot remove %s\n", e->dir);
}

static void options(struct title_options *o)
{
    memset(o, 0, sizeof(*o));
    o->segment_time = 6;
    ladder_default(&o->ladder);
    o->video.preset = "veryfast";
    o->video.threads = 1;
    o->audio_bit_rate = 128000;
    o->audio_sample_rate = 48000;
}

static int read_file(const char *path, uint8_t **buf, long *size)
{
    FILE *f = fopen(path, "rb");
    int ok = f && fseek(f, 0, SEEK_END) == 0 && (*size = ftell(f)) > 0 &&
             fseek(f, 0, SEEK_SET) == 0 && (*buf = malloc((size_t)*size)) &&
             fread(*buf, 1, (size_t)*size, f) == (size_t)*size;
    if (f)
        fclose(f);
    return ok ? 0 : -EIO;
}

static int write_file(const char *path, const uint8_t *buf, long size)
{
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(buf, 1, (size_t)size, f) == (size_t)size;
    if (f && fclose(f) != 0)
        ok = 0;
    return ok ? 0 : -EIO;
}

/* ---- allocation failures ------------------------------------------------ */

/* malloc, calloc, realloc and free of the objects linked in pass through
 * here (Makefile: test_title_LDFLAGS, --wrap). While 'tracking', every
 * block they allocate is recorded until it is freed, and the allocation
 * numbered 'fail_at' (from 1) fails. */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

#define LIVE_MAX 8192
static struct {
    int   tracking;
    long  count, fail_at;
    void *live[LIVE_MAX];
    int   nlive, overflow;
} alloc;

static void live_add(void *p)
{
    if (!p || !alloc.tracking)
        return;
    if (alloc.nlive == LIVE_MAX)
        alloc.overflow = 1;
    else
        alloc.live[alloc.nlive++] = p;
}

static void live_del(void *p)
{
    for (int i = 0; p && i < alloc.nlive; i++)
        if (alloc.live[i] == p) {
            alloc.live[i] = alloc.live[--alloc.nlive];
            return;
        }
}

static int alloc_fails(void)
{
    return alloc.tracking && ++alloc.count == alloc.fail_at;
}

void *__wrap_malloc(size_t n)
{
    void *p = alloc_fails() ? NULL : __real_malloc(n);
    live_add(p);
    return p;
}

void *__wrap_calloc(size_t n, size_t size)
{
    void *p = alloc_fails() ? NULL : __real_calloc(n, size);
    live_add(p);
    return p;
}

void *__wrap_realloc(void *p, size_t n)
{
    void *q;
    if (alloc_fails())
        return NULL;
    if ((q = __real_realloc(p, n))) {
        live_del(p);
        live_add(q);
    }
    return q;
}

void __wrap_free(void *p)
{
    live_del(p);
    __real_free(p);
}

/* Runs fn with its 1st, 2nd, 3rd ... allocation failing, until it
 * succeeds: each failure must be -ENOMEM and leave nothing allocated. */
static void every_allocation_fails(const char *what, int (*fn)(void *), void *arg,
                                   void (*undo)(void *))
{
    long n;
    int ret = -ENOMEM, leaks = 0, wrong = 0;

    for (n = 1; n < 100000 && ret == -ENOMEM; n++) {
        alloc.nlive = alloc.overflow = 0;
        alloc.count = 0;
        alloc.fail_at = n;
        alloc.tracking = 1;
        ret = fn(arg);
        alloc.tracking = 0;
        if (ret == 0) {
            CHECK(alloc.count < n, "%s: succeeded although allocation %ld failed",
                  what, n);
            undo(arg);
            break;
        }
        if (ret != -ENOMEM && !wrong++)
            CHECK(0, "%s: allocation %ld failed: returned %d, not -ENOMEM", what, n, ret);
        if (alloc.nlive && !leaks++)
            CHECK(0, "%s: allocation %ld failed: %d block(s) not freed", what, n,
                  alloc.nlive);
    }
    CHECK(!alloc.overflow, "%s: more blocks than the table holds", what);
    CHECK_INT(ret, 0);
    CHECK(n > 5, "%s: only %ld allocations", what, n);
}

struct deser {
    const uint8_t *buf;
    size_t         len;
    struct title  *t;
};

static int do_deserialize(void *arg)
{
    struct deser *d = arg;
    return record_read(d->buf, d->len, &d->t);
}

static void undo_deserialize(void *arg)
{
    title_free(&((struct deser *)arg)->t);
}

struct build {
    struct probe             *p;
    const struct title_key   *key;
    const struct title_options *o;
    struct title             *t;
};

static int do_build(void *arg)
{
    struct build *b = arg;
    return title_build(b->p, b->key, b->o, &b->t);
}

static void undo_build(void *arg)
{
    title_free(&((struct build *)arg)->t);
}

/* A title built and read back with each allocation failing in turn. */
static void test_allocation_failures(const struct env *e)
{
    struct title_options o;
    struct title_key key;
    struct probe *p = NULL;
    struct title *t = NULL;
    struct stat st;
    uint8_t *buf = NULL;
    size_t len = 0;

    check_begin("title/allocation-failures-leak-nothing");
    options(&o);
    CHECK_INT(stat(e->va, &st), 0);
    title_make_key(&key, &st, &o);
    CHECK_INT(probe_source(e->va, NULL, &p), 0);
    if (p && title_build(p, &key, &o, &t) == 0 && !t->error &&
        record_write(t, &buf, &len) == 0) {
        struct build b = { .p = p, .key = &key, .o = &o };
        struct deser d = { .buf = buf, .len = len };
        log_setup(0, LOG_LVL_ERROR);
        every_allocation_fails("title_build", do_build, &b, undo_build);
        every_allocation_fails("record_read", do_deserialize, &d, undo_deserialize);
    } else {
        CHECK(0, "no title built and serialized");
    }
    free(buf);
    title_free(&t);
    probe_free(&p);
    check_end();
}

/* Every byte of a title key is one of its fields: no padding, whose
 * bytes a copy need not keep, reaches the cache keys. */
static void test_key_bytes(void)
{
    struct title_key k;
    size_t fields = sizeof(k.magic) + sizeof(k.reserved0) + sizeof(k.dev) +
                    sizeof(k.ino) + sizeof(k.size) + sizeof(k.mtime_ns) +
                    sizeof(k.segment_ms) + sizeof(k.reserved) + sizeof(k.options_hash);

    check_begin("title/key-has-no-padding");
    CHECK_INT(sizeof(struct title_key), fields);
    check_end();
}

/* ---- probe ------------------------------------------------------------ */

/* An MP4 whose audio track lost its sample table (sample count 0) has a
 * container index for the video only: the packet scan then indexes every
 * stream once, not the video twice. */
static void test_partial_index(const struct env *e)
{
    char path[160];
    uint8_t *buf = NULL;
    long size = 0;
    struct probe *whole = NULL, *part = NULL;

    check_begin("probe/partial-container-index");
    snprintf(path, sizeof(path), "%s/partial.mp4", e->dir);
    CHECK_INT(read_file(e->va, &buf, &size), 0);
    if (buf) {
        /* the second 'stsz' box is the audio track's: its sample size
         * and count (after the version and flags) set to 0 */
        uint8_t *first = memmem(buf, (size_t)size, "stsz", 4), *second = NULL;
        if (first)
            second = memmem(first + 4, (size_t)(buf + size - first - 4), "stsz", 4);
        CHECK(second && second + 16 <= buf + size, "no second stsz box");
        if (second && second + 16 <= buf + size) {
            memset(second + 8, 0, 8);
            CHECK_INT(write_file(path, buf, size), 0);
        }
    }
    free(buf);
    CHECK_INT(probe_source(e->va, NULL, &whole), 0);
    av_log_set_level(AV_LOG_QUIET);   /* "missing mandatory atoms" */
    CHECK_INT(probe_source(path, NULL, &part), 0);
    av_log_set_level(AV_LOG_ERROR);
    if (whole && part && whole->video && part->video) {
        CHECK_STR(whole->method, "container index");
        CHECK(!part->error, "error: %s", part->error);
        CHECK_INT(part->video->npkts, whole->video->npkts);
        for (size_t i = 1; i < part->video->npkts; i++)
            CHECK(part->video->pkts[i].dts > part->video->pkts[i - 1].dts,
                  "video packet %zu: dts %lld after %lld", i,
                  (long long)part->video->pkts[i].dts,
                  (long long)part->video->pkts[i - 1].dts);
    }
    probe_free(&whole);
    probe_free(&part);
    check_end();
}

/* ---- title -------------------------------------------------------------- */

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

/* A ladder of LADDER_MAX rungs, all below the source and (its rate high
 * enough) none capped to the rate of another: every video rendition is a
 * variant of the master playlist. */
static void test_master_all_rungs(const struct env *e)
{
    struct title_options o;
    struct title_key key;
    struct probe *p = NULL;
    struct title *t = NULL;
    struct stat st;
    char spec[512];
    int at = 0, nvideo = 0;

    check_begin("title/master-has-every-rung");
    options(&o);
    for (int i = 0; i < LADDER_MAX; i++)
        at += snprintf(spec + at, sizeof(spec) - (size_t)at, "%s%d:%dk",
                       i ? "," : "", 18 + 2 * i, 100 + 10 * i);
    CHECK_INT(ladder_parse(spec, &o.ladder), 0);
    CHECK_INT(o.ladder.n, LADDER_MAX);
    CHECK_INT(stat(e->dense, &st), 0);
    title_make_key(&key, &st, &o);
    CHECK_INT(probe_source(e->dense, NULL, &p), 0);
    if (p && title_build(p, &key, &o, &t) == 0 && !t->error) {
        for (int i = 0; i < t->nrends; i++)
            nvideo += t->rends[i].kind == REND_VIDEO;
        CHECK(nvideo > LADDER_MAX, "%d video renditions", nvideo);
        /* every video rendition a variant, and the smallest again with
         * the cellular audio, under 192 kbit/s */
        CHECK_INT(count(t->master, "#EXT-X-STREAM-INF"), nvideo + 1);
        CHECK_INT(count(t->master, "#EXT-X-MEDIA:TYPE=AUDIO"), 2);
        CHECK_INT(count(t->master, "AUDIO=\"audio-32k\""), 1);
        const char *cell = strstr(t->master, "AUDIO=\"audio-32k\"");
        const char *line = cell;
        while (line && line > t->master && line[-1] != '\n')
            line--;
        const char *bw = line ? strstr(line, "BANDWIDTH=") : NULL;
        CHECK(bw && bw < cell && strtol(bw + 10, NULL, 10) < 192000,
              "the cellular variant: %.120s", line ? line : "(none)");
        for (int i = 0; i < t->nrends; i++) {
            char uri[64];
            snprintf(uri, sizeof(uri), "%s/%s/index.m3u8",
                     t->rends[i].kind == REND_VIDEO ? "video" : "audio",
                     t->rends[i].name);
            CHECK(strstr(t->master, uri), "%s not in the master", uri);
        }
    } else {
        CHECK(0, "no title built%s%s", t && t->error ? ": " : "",
              t && t->error ? t->error : "");
    }
    title_free(&t);
    probe_free(&p);
    check_end();
}

/* The ladder is fitted to what the source spends (title.c measures it
 * from the index): va's 20-odd kbit/s get a 48p rung at the floor, below
 * the 64 kbit/s the ladder alone gives a picture that small; dense's
 * ~550 kbit/s are no cap for the same ladder. Both have the original and
 * so two renditions. */
static void test_ladder_fits(const struct env *e)
{
    const char *srcs[] = { e->va, e->dense };
    for (int k = 0; k < 2; k++) {
        struct title_options o;
        struct title_key key;
        struct probe *p = NULL;
        struct title *t = NULL;
        struct stat st;

        check_begin("title/ladder-fits-%s", k ? "dense" : "va");
        options(&o);
        CHECK_INT(stat(srcs[k], &st), 0);
        title_make_key(&key, &st, &o);
        CHECK_INT(probe_source(srcs[k], NULL, &p), 0);
        if (p && title_build(p, &key, &o, &t) == 0 && !t->error) {
            const struct title_rendition *orig = title_find(t, REND_VIDEO, "original");
            const struct title_rendition *r = title_find(t, REND_VIDEO, "48p");
            CHECK(orig && r, "original %p, 48p %p", (void *)orig, (void *)r);
            if (r && !k)
                CHECK_INT(r->bit_rate, LADDER_FLOOR_MIN_BPS);
            if (r && k)
                CHECK_INT(r->bit_rate, 64000);
        } else {
            CHECK(0, "no title built");
        }
        title_free(&t);
        probe_free(&p);
        check_end();
    }
}

/* ---- making segments ------------------------------------------------ */

/* The MPEG-TS fixture's title with options o: 0, or -1 (a failed check
 * recorded). */
static int ts_title(const struct env *e, const struct title_options *o, struct stat *st,
                    struct probe **p, struct title **t)
{
    struct title_key key;
    CHECK_INT(stat(e->ts, st), 0);
    title_make_key(&key, st, o);
    CHECK_INT(probe_source(e->ts, NULL, p), 0);
    if (*p && title_build(*p, &key, o, t) == 0 && !(*t)->error)
        return 0;
    CHECK(0, "no title built");
    return -1;
}

/* The title's first video rendition made in 'mode', or NULL. */
static const struct title_rendition *video_rendition(const struct title *t, int mode)
{
    for (int i = 0; i < t->nrends; i++)
        if (t->rends[i].kind == REND_VIDEO && (int)t->rends[i].mode == mode)
            return &t->rends[i];
    return NULL;
}

/* A read that fails with EIO (the source through libavformat's concat
 * protocol, followed by /proc/self/mem, whose first page cannot be read)
 * fails the segment, transcoded or copied: it is not padded and handed
 * over to be cached as if the stream had ended there. */
static void test_read_error(const struct env *e)
{
    struct title_options o;
    struct probe *p = NULL;
    struct title *t = NULL;
    struct stat st;
    char broken[300];

    check_begin("make/read-error-fails-the-segment");
    options(&o);
    snprintf(broken, sizeof(broken), "concat:%s|/proc/self/mem", e->ts);
    if (ts_title(e, &o, &st, &p, &t) == 0) {
        const struct title_rendition *enc = video_rendition(t, REND_ENCODE);
        const struct title_rendition *copy = video_rendition(t, REND_COPY);
        CHECK(enc && copy, "no encoded or copied video rendition");
        CHECK_INT(t->nseg, 1);
        if (enc && copy) {
            uint8_t *out = NULL;
            size_t len = 0;
            av_log_set_level(AV_LOG_QUIET);
            CHECK_INT(transcode_segment(broken, NULL, t, enc, 0, &o.video, NULL, &out, &len), -EIO);
            CHECK(!out, "a segment was made");
            free(out);
            out = NULL;
            CHECK_INT(remux_segment(broken, NULL, t, copy, 0, NULL, &out, &len), -EIO);
            free(out);
            out = NULL;
            av_log_set_level(AV_LOG_ERROR);
            /* the file itself gives both */
            CHECK_INT(transcode_segment(e->ts, NULL, t, enc, 0, &o.video, NULL, &out, &len), 0);
            free(out);
            out = NULL;
            CHECK_INT(remux_segment(e->ts, NULL, t, copy, 0, NULL, &out, &len), 0);
            free(out);
        }
    }
    title_free(&t);
    probe_free(&p);
    check_end();
}

/* A source whose reads fail with 'err' at the moment the mount's stop
 * flag is set, past 'cut' bytes: what a shutdown looks like to a demuxer
 * that turns an interrupted read into bad data or the end of the file. */
struct cut_source {
    const char *path;
    atomic_int  stop;
    int64_t     cut;
    int         err;
};

struct cut_reader {
    struct cut_source *src;
    FILE              *f;
    int64_t            pos;
};

static int cut_read(void *opaque, uint8_t *buf, int size)
{
    struct cut_reader *c = opaque;
    if (c->pos >= c->src->cut) {
        atomic_store(&c->src->stop, 1);
        return c->src->err;
    }
    if ((int64_t)size > c->src->cut - c->pos)
        size = (int)(c->src->cut - c->pos);
    size_t n = fread(buf, 1, (size_t)size, c->f);
    c->pos += (int64_t)n;
    return n ? (int)n : AVERROR_EOF;
}

static int64_t cut_seek(void *opaque, int64_t offset, int whence)
{
    struct cut_reader *c = opaque;
    if (whence == AVSEEK_SIZE)
        return -1;
    if (fseeko(c->f, offset, whence & ~AVSEEK_FORCE) != 0)
        return -1;
    return c->pos = ftello(c->f);
}

static int cut_open(void *opaque, AVIOContext **pb)
{
    struct cut_reader *c = calloc(1, sizeof(*c));
    uint8_t *buf = av_malloc(4096);
    if (c)
        c->src = opaque;
    if (!c || !buf || !(c->f = fopen(c->src->path, "rb")) ||
        !(*pb = avio_alloc_context(buf, 4096, 0, c, cut_read, NULL, cut_seek))) {
        if (c && c->f)
            fclose(c->f);
        free(c);
        av_free(buf);
        return AVERROR(ENOMEM);
    }
    return 0;
}

static void cut_close(void *opaque, AVIOContext **pb)
{
    (void) opaque;
    if (!*pb)
        return;
    struct cut_reader *c = (*pb)->opaque;
    fclose(c->f);
    free(c);
    av_freep(&(*pb)->buffer);
    avio_context_free(pb);
}

/* Work stopped by a shutdown is cancelled, whatever error (or none) the
 * read cut short gave: no short segment is handed over to be cached, and
 * no failure is logged or kept as the source's. */
static void test_stopped_work(const struct env *e)
{
    struct title_options o;
    struct probe *p = NULL;
    struct title *t = NULL;
    struct stat st;

    check_begin("make/stopped-work-is-cancelled");
    options(&o);
    if (ts_title(e, &o, &st, &p, &t) == 0) {
        const struct title_rendition *enc = video_rendition(t, REND_ENCODE);
        const struct title_rendition *copy = video_rendition(t, REND_COPY);
        CHECK(enc && copy, "no encoded or copied video rendition");
        for (int k = 0; enc && copy && k < 4; k++) {
            /* cut at the first byte and in the middle of the packets */
            struct cut_source src = { .path = e->ts, .cut = k & 1 ? st.st_size / 2 : 0,
                                      .err = k & 2 ? AVERROR_EOF : AVERROR_INVALIDDATA };
            struct source_io io = { cut_open, cut_close, &src };
            struct work_bound bound;
            uint8_t *out = NULL;
            size_t len = 0;
            av_log_set_level(AV_LOG_QUIET);
            work_bound_init(&bound, &src.stop, 60);
            CHECK_INT(transcode_segment(e->ts, &io, t, enc, 0, &o.video, &bound, &out, &len),
                      -ECANCELED);
            CHECK(!out && !len, "a stopped encode handed over %zu bytes", len);
            free(out);
            out = NULL;
            atomic_store(&src.stop, 0);
            work_bound_init(&bound, &src.stop, 60);
            CHECK_INT(remux_segment(e->ts, &io, t, copy, 0, &bound, &out, &len), -ECANCELED);
            CHECK(!out && !len, "a stopped copy handed over %zu bytes", len);
            free(out);
            av_log_set_level(AV_LOG_ERROR);
        }
    }
    title_free(&t);
    probe_free(&p);
    check_end();
}

/* ---- library ------------------------------------------------------------ */

/* Looks a title up as a reader who may not read the file (root gives up
 * its file-system capabilities for the call with a non-root fsuid). */
static int get_as_nobody(struct library *l, const char *rel, const struct stat *st,
                         struct title **t)
{
    int was = setfsuid(65534), ret;
    ret = library_get(l, rel, st, t);
    setfsuid((uid_t)was);
    return ret;
}

/* A source that cannot be opened for now (EACCES) gets an error from the
 * lookup, not a cached ERROR title: after chmod, with the same identity
 * (ctime is not in the key), the next lookup serves it. */
static void test_unreadable_then_fixed(const struct env *e)
{
    struct title_options o;
    struct cache *c = NULL;
    struct library *l = NULL;
    struct title *t = NULL;
    struct stat st;
    char cache_dir[160], src[160], cmd[512];

    check_begin("library/unreadable-source-then-chmod");
    if (geteuid() != 0) {
        check_skip("needs root (chown to root, setfsuid to nobody)");
        return;
    }
    options(&o);
    snprintf(cache_dir, sizeof(cache_dir), "%s/cache", e->dir);
    snprintf(src, sizeof(src), "%s/lib/a.mp4", e->dir);
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s/lib' && cp '%s' '%s' && chmod 0600 '%s'",
             e->dir, e->va, src, src);
    CHECK_INT(run(cmd), 0);
    /* the reader is uid 65534: the file is not its own, the directories
     * above it it may search */
    CHECK_INT(chown(src, 0, 0), 0);
    CHECK_INT(chmod(e->dir, 0755), 0);
    CHECK_INT(cache_open(&c, cache_dir, 64u << 20), 0);
    CHECK_INT(library_new(&l, e->dir, c, &o), 0);
    CHECK_INT(stat(src, &st), 0);
    if (c && l) {
        CHECK_INT(get_as_nobody(l, "/lib/a.mp4", &st, &t), -EACCES);
        if (t) {
            CHECK(0, "a title%s%.*s", t->error ? " with ERROR: " : "",
                  t->error ? (int)t->error_len - 1 : 0, t->error ? t->error : "");
            library_put(l, t);
            t = NULL;
        }
        CHECK_INT(chmod(src, 0644), 0);
        CHECK_INT(stat(src, &st), 0);
        CHECK_INT(get_as_nobody(l, "/lib/a.mp4", &st, &t), 0);
        CHECK(t && !t->error, "ERROR: %.*s", t && t->error ? (int)t->error_len - 1 : 0,
              t && t->error ? t->error : "");
        CHECK(t && t->nrends > 0, "no renditions");
        library_put(l, t);
    }
    library_free(&l);
    cache_close(&c);
    check_end();
}

/* Move the second half of every stream's packets (by time) by 'by_s'. */
static void shift_second_half(struct probe *p, double by_s)
{
    for (int si = -1; si < p->naudio; si++) {
        struct probe_stream *st = si < 0 ? p->video : &p->audio[si];
        int64_t by = (int64_t)(by_s / av_q2d(st->tb));
        int64_t half = (st->npkts ? st->pkts[0].dts : 0) + (int64_t)(0.5 / av_q2d(st->tb));
        for (size_t i = 0; i < st->npkts; i++) {
            struct probe_packet *pk = &st->pkts[i];
            if (pk->dts < half)
                continue;
            pk->dts += by;
            if (pk->pts != AV_NOPTS_VALUE)
                pk->pts += by;
        }
    }
}

/* A clock that jumps 10 h ahead halfway (two recordings joined): the
 * second part is re-timed to follow the first, the title lasts what the
 * two parts last, and the re-timing survives the cache record; a jump
 * back cannot be planned and says so. */
static void test_timeline(const struct env *e)
{
    struct title_options o;
    struct title_key key;
    struct stat st;
    struct probe *p = NULL;
    struct title *t = NULL, *back = NULL;
    uint8_t *rec = NULL;
    size_t len = 0;

    options(&o);
    check_begin("timeline/jump-ahead-re-timed");
    if (stat(e->ts, &st) == 0 && probe_source(e->ts, NULL, &p) == 0 && p->video) {
        title_make_key(&key, &st, &o);
        shift_second_half(p, 36000);
        CHECK_INT(title_build(p, &key, &o, &t), 0);
        CHECK(t && !t->error, "ERROR: %s", t && t->error ? t->error : "");
        if (t && !t->error) {
            double span = (double)(t->bounds[t->nseg] - t->bounds[0]) * av_q2d(t->tb);
            CHECK_INT(t->timeline.n, 1);
            CHECK(span > 0.9 && span < 1.3, "the title lasts %.3f s, not about 1", span);
            CHECK_INT(record_write(t, &rec, &len), 0);
            CHECK_INT(record_read(rec, len, &back), 0);
            CHECK(back && back->timeline.n == 1 &&
                  back->timeline.jump[0].at_us == t->timeline.jump[0].at_us &&
                  back->timeline.jump[0].delta_us == t->timeline.jump[0].delta_us,
                  "the re-timing did not survive the record");
            /* the delta takes the second part back to about 0.5 s */
            CHECK(t->timeline.jump[0].delta_us > 35999000000LL &&
                  t->timeline.jump[0].delta_us < 36000100000LL,
                  "delta %" PRId64 " us", t->timeline.jump[0].delta_us);
        }
    } else {
        CHECK(0, "cannot probe %s", e->ts);
    }
    free(rec);
    title_free(&back);
    title_free(&t);
    probe_free(&p);
    check_end();

    check_begin("timeline/jump-back-error");
    if (stat(e->ts, &st) == 0 && probe_source(e->ts, NULL, &p) == 0 && p->video) {
        title_make_key(&key, &st, &o);
        shift_second_half(p, -36000);
        CHECK_INT(title_build(p, &key, &o, &t), 0);
        CHECK(t && t->error && strstr(t->error, "jump back"), "ERROR: %s",
              t && t->error ? t->error : "(none)");
    } else {
        CHECK(0, "cannot probe %s", e->ts);
    }
    title_free(&t);
    probe_free(&p);
    check_end();
}

int main(void)
{
    struct env e;

    setvbuf(stdout, NULL, _IOLBF, 0);  /* lines survive a sanitizer exit */
    log_setup(0, LOG_LVL_ERROR);
    av_log_set_level(AV_LOG_ERROR);
    if (env_start(&e) < 0) {
        check_begin("fixtures");
        CHECK(0, "ffmpeg could not make the test media");
        check_end();
    } else {
        test_key_bytes();
        test_partial_index(&e);
        test_master_all_rungs(&e);
        test_ladder_fits(&e);
        test_read_error(&e);
        test_stopped_work(&e);
        test_unreadable_then_fixed(&e);
        test_allocation_failures(&e);
        test_timeline(&e);
    }
    env_end(&e);
    return check_summary("test_title");
}
