/*
 * test_session.c -- unit tests for src/sched/session.c: one job per
 * segment, store hits, readahead, idle sessions, priority, failures,
 * persistence, a full store, eviction after the wake, and shutdown.
 * Segments come from a fake producer that makes bytes from (key, segment),
 * counts its calls and can sleep, block or fail on cue, and are kept in a
 * fake store in memory (struct segstore_ops): no LMDB, no evictor.
 *
 * Verdicts never depend on speed: a test that expects something to happen
 * polls for it for a few seconds at most.
 */
#include "hlsfs/session.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hlsfs/log.h"
#include "hlsfs/segstore.h"

#include "check.h"

#define MAXSEG   256
#define MAXORDER 1024
#define GATE_ALL (-2)

/* ---- the fake producer ----------------------------------------------- */

struct fake {
    atomic_int calls[MAXSEG];    /* produce() calls per segment          */
    atomic_int order[MAXORDER];  /* segments in the order produce began  */
    atomic_int norder;
    atomic_int fail_seg;         /* this segment fails (-1: none)        */
    atomic_int sleep_ms;         /* each produce() takes this long       */
    atomic_int gate_seg;         /* this one (GATE_ALL: every one) blocks
                                    until gate_open (-1: none)           */
    atomic_int gate_open;
    atomic_int inflight, max_inflight;
    atomic_int holds, releases;
    uint64_t   big_size;         /* nonzero: every segment is this big   */
    atomic_int over_seg;         /* this one comes out a byte over its
                                    planned size (-1: none)              */
};

static struct fake fk;

static void fake_reset(void)
{
    memset(&fk, 0, sizeof(fk));
    atomic_store(&fk.fail_seg, -1);
    atomic_store(&fk.gate_seg, -1);
    atomic_store(&fk.over_seg, -1);
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

static uint64_t seg_size(long seg)
{
    return fk.big_size ? fk.big_size : 1000 + (uint64_t)(seg * 7919) % 5000;
}

/* What produce() makes of a segment planned at 'size': up to 200 bytes
 * short of it (the rest is padding the reader makes). */
static size_t made_len(uint64_t size, long seg)
{
    return (size_t)(size - (uint64_t)(seg % 3) * 100);
}

/* The bytes of a segment: a function of the key and the index only. */
static void fill(uint8_t *buf, uint64_t size, const uint8_t *key,
                 size_t klen, long seg)
{
    uint64_t x = 1469598103934665603ull;

    for (size_t i = 0; i < klen; i++)
        x = (x ^ key[i]) * 1099511628211ull;
    x ^= (uint64_t)seg * 0x9e3779b97f4a7c15ull;
    for (uint64_t i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (uint8_t)x;
    }
}

/* A rendition: its owner is the struct trend itself. */
struct trend {
    uint8_t  key[64];
    long     nseg;
    int64_t  start_ms[MAXSEG + 1];
    uint64_t sizes[MAXSEG];
    const void *handle;         /* what produce() must get as r->rend   */
    struct sched_rendition r;
};

static int fake_produce(void *ctx, const struct sched_rendition *r, long seg,
                        uint8_t **out, size_t *len)
{
    size_t made = atomic_load(&fk.over_seg) == seg ? (size_t)r->sizes[seg] + 1
                                                   : made_len(r->sizes[seg], seg);
    int n, cur, max, ms, gate;
    uint8_t *buf;

    (void)ctx;
    /* the rendition handle travels beside its owner, as the reader gave it */
    if (!r->owner || r->rend != ((const struct trend *)r->owner)->handle)
        return -EINVAL;
    if (seg >= 0 && seg < MAXSEG)
        atomic_fetch_add(&fk.calls[seg], 1);
    if ((n = atomic_fetch_add(&fk.norder, 1)) < MAXORDER)
        atomic_store(&fk.order[n], (int)seg);
    cur = atomic_fetch_add(&fk.inflight, 1) + 1;
    while ((max = atomic_load(&fk.max_inflight)) < cur &&
           !atomic_compare_exchange_weak(&fk.max_inflight, &max, cur))
        ;
    gate = atomic_load(&fk.gate_seg);
    if (gate == GATE_ALL || gate == seg)
        for (int i = 0; i < 10000 && !atomic_load(&fk.gate_open); i++)
            sleep_ms(1);
    if ((ms = atomic_load(&fk.sleep_ms)) > 0)
        sleep_ms(ms);
    atomic_fetch_sub(&fk.inflight, 1);
    if (atomic_load(&fk.fail_seg) == seg)
        return -EIO;
    if (!(buf = malloc(made ? made : 1)))
        return -ENOMEM;
    fill(buf, made, r->key, r->key_len, seg);
    *out = buf;
    *len = made;
    return 0;
}

static void fake_hold(void *ctx, void *owner)
{
    (void)ctx;
    (void)owner;
    atomic_fetch_add(&fk.holds, 1);
}

static void fake_release(void *ctx, void *owner)
{
    (void)ctx;
    (void)owner;
    atomic_fetch_add(&fk.releases, 1);
}

/* ---- a rendition ----------------------------------------------------- */

static void trend_init(struct trend *t, const char *key, long nseg,
                       int64_t seg_ms)
{
    memset(t, 0, sizeof(*t));
    snprintf((char *)t->key, sizeof(t->key), "%s", key);
    t->nseg = nseg;
    for (long i = 0; i <= nseg; i++)
        t->start_ms[i] = i * seg_ms;
    for (long i = 0; i < nseg; i++)
        t->sizes[i] = seg_size(i);
    t->r.key = t->key;
    t->r.key_len = strlen(key);
    t->r.nseg = nseg;
    t->r.start_ms = t->start_ms;
    t->r.sizes = t->sizes;
    t->r.owner = t;
    t->handle = &t->nseg;
    t->r.rend = t->handle;
}

/* Whether data holds exactly the bytes made of segment seg of t. */
static int bytes_ok(const struct trend *t, long seg, const uint8_t *data)
{
    size_t made = made_len(t->sizes[seg], seg);
    uint8_t *want = malloc(made + 1);
    int ok;

    fill(want, made, t->key, t->r.key_len, seg);
    ok = data && !memcmp(want, data, made);
    free(want);
    return ok;
}

#define SREAD_BAD_LEN (-100000)

/* sched_read, with a check of the length it gives: a read that succeeds
 * with another length than produce() made returns SREAD_BAD_LEN. */
static int sread(struct sched *s, const struct sched_rendition *r, long seg,
                 uint8_t **data)
{
    size_t len = 0;
    int rc = sched_read(s, r, seg, data, &len);
    if (rc == 0 && seg >= 0 && seg < r->nseg && len != made_len(r->sizes[seg], seg))
        return SREAD_BAD_LEN;
    return rc;
}

/* ---- the fake store --------------------------------------------------- */

/* Segments in memory, at most cap bytes of them (0: no cap). A put that
 * does not fit fails with -ENOSPC. With 'evicts', evict() drops the least
 * recently used segments outside the readers' windows: under force at
 * least one, and in any case down to three quarters of the cap; it can be
 * made to block (gate) to show it runs off the readers' path. */
struct fseg {
    uint8_t  key[SEGSTORE_RKEY_MAX];
    size_t   klen;
    long     seg;
    uint8_t *data;
    size_t   len;
    uint64_t used_at;           /* tick of the last put or touch         */
};

struct fstore {
    int             live;       /* initialised, not finished yet        */
    pthread_mutex_t lock;
    struct fseg     v[2 * MAXSEG];
    int             n;
    uint64_t        cap, bytes, tick;
    int             evicts;
    atomic_int      evict_calls[2];   /* [force]                         */
    atomic_int      evicted;          /* segments dropped by evict()     */
    atomic_int      evict_gate;       /* evict(force = 0) blocks until
                                         evict_open                      */
    atomic_int      evict_open;
    atomic_int      evict_inside;
    atomic_int      touches;
    /* the readers of the last evict() call */
    int             nreaders;
    struct segstore_reader readers[4];
};

static void fstore_init(struct fstore *f, uint64_t cap, int evicts)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->lock, NULL);
    f->live = 1;
    f->cap = cap;
    f->evicts = evicts;
}

static void fstore_fini(struct fstore *f)
{
    if (!f->live)
        return;
    f->live = 0;
    for (int i = 0; i < f->n; i++)
        free(f->v[i].data);
    f->n = 0;
    pthread_mutex_destroy(&f->lock);
}

/* Called with f->lock held. */
static struct fseg *fstore_find(struct fstore *f, const uint8_t *rkey,
                                size_t rlen, long seg)
{
    for (int i = 0; i < f->n; i++)
        if (f->v[i].seg == seg && f->v[i].klen == rlen &&
            !memcmp(f->v[i].key, rkey, rlen))
            return &f->v[i];
    return NULL;
}

/* Called with f->lock held. */
static void fstore_remove(struct fstore *f, struct fseg *x)
{
    f->bytes -= x->len;
    free(x->data);
    *x = f->v[--f->n];
}

static int fs_get(void *ctx, const uint8_t *rkey, size_t rlen, long seg,
                  void **val, size_t *len)
{
    struct fstore *f = ctx;
    struct fseg *x;
    int rc = 0;

    *val = NULL;
    *len = 0;
    pthread_mutex_lock(&f->lock);
    if ((x = fstore_find(f, rkey, rlen, seg))) {
        if ((*val = malloc(x->len ? x->len : 1))) {
            memcpy(*val, x->data, x->len);
            *len = x->len;
            rc = 1;
        } else {
            rc = -ENOMEM;
        }
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

static int fs_has(void *ctx, const uint8_t *rkey, size_t rlen, long seg)
{
    struct fstore *f = ctx;
    int rc;

    pthread_mutex_lock(&f->lock);
    rc = fstore_find(f, rkey, rlen, seg) != NULL;
    pthread_mutex_unlock(&f->lock);
    return rc;
}

static int fs_put(void *ctx, const uint8_t *rkey, size_t rlen, long seg,
                  const void *data, size_t len)
{
    struct fstore *f = ctx;
    struct fseg *x;
    uint8_t *copy;
    int rc = 0;

    if (rlen > SEGSTORE_RKEY_MAX || !(copy = malloc(len ? len : 1)))
        return -ENOMEM;
    memcpy(copy, data, len);
    pthread_mutex_lock(&f->lock);
    if ((x = fstore_find(f, rkey, rlen, seg)))
        fstore_remove(f, x);
    if ((f->cap && f->bytes + len > f->cap) || f->n == 2 * MAXSEG) {
        rc = -ENOSPC;
        free(copy);
    } else {
        x = &f->v[f->n++];
        memcpy(x->key, rkey, rlen);
        x->klen = rlen;
        x->seg = seg;
        x->data = copy;
        x->len = len;
        x->used_at = ++f->tick;
        f->bytes += len;
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

static void fs_touch(void *ctx, const uint8_t *rkey, size_t rlen, long seg)
{
    struct fstore *f = ctx;
    struct fseg *x;

    atomic_fetch_add(&f->touches, 1);
    pthread_mutex_lock(&f->lock);
    if ((x = fstore_find(f, rkey, rlen, seg)))
        x->used_at = ++f->tick;
    pthread_mutex_unlock(&f->lock);
}

/* Called with f->lock held. */
static int in_a_window(const struct fseg *x, const struct segstore_reader *rd,
                       int n)
{
    for (int i = 0; i < n; i++)
        if (rd[i].key_len == x->klen && !memcmp(rd[i].key, x->key, x->klen) &&
            x->seg >= rd[i].keep_from && x->seg <= rd[i].keep_to)
            return 1;
    return 0;
}

static int64_t fs_evict(void *ctx, int force, const struct segstore_reader *rd,
                        int n)
{
    struct fstore *f = ctx;
    int64_t freed = 0;
    int dropped = 0;

    atomic_fetch_add(&f->evict_calls[force ? 1 : 0], 1);
    atomic_fetch_add(&f->evict_inside, 1);
    if (!force && atomic_load(&f->evict_gate))
        for (int i = 0; i < 5000 && !atomic_load(&f->evict_open); i++)
            sleep_ms(1);
    pthread_mutex_lock(&f->lock);
    f->nreaders = n;
    for (int i = 0; i < n && i < 4; i++)
        f->readers[i] = rd[i];
    while (f->cap && (f->bytes > f->cap / 4 * 3 || (force && !dropped))) {
        struct fseg *lru = NULL;
        for (int i = 0; i < f->n; i++)
            if (!in_a_window(&f->v[i], rd, n) &&
                (!lru || f->v[i].used_at < lru->used_at))
                lru = &f->v[i];
        if (!lru)
            break;
        freed += (int64_t)lru->len;
        fstore_remove(f, lru);
        dropped++;
    }
    pthread_mutex_unlock(&f->lock);
    atomic_fetch_add(&f->evicted, dropped);
    atomic_fetch_sub(&f->evict_inside, 1);
    return freed;
}

static struct segstore_ops fstore_ops(struct fstore *f)
{
    struct segstore_ops ops = {
        .ctx = f, .get = fs_get, .has = fs_has, .put = fs_put,
        .touch = fs_touch,
    };
    if (f->evicts) {
        ops.evict = fs_evict;
        ops.segment_keep = 4;           /* seconds */
    }
    return ops;
}

/* The stored length of a segment, or -1 when it is not stored. */
static long fstore_len(struct fstore *f, const struct sched_rendition *r,
                       long seg)
{
    struct fseg *x;
    long len;

    pthread_mutex_lock(&f->lock);
    x = fstore_find(f, r->key, r->key_len, seg);
    len = x ? (long)x->len : -1;
    pthread_mutex_unlock(&f->lock);
    return len;
}

/* ---- a scheduler on a fresh store ------------------------------------ */

struct env {
    struct fstore store;
    struct sched *s;
};

static struct sched_config config(int workers, double ahead, double idle)
{
    struct sched_config cfg = {
        .workers = workers, .max_ahead = ahead, .idle_timeout = idle,
        .produce = fake_produce, .hold = fake_hold, .release = fake_release,
    };
    return cfg;
}

/* A scheduler on the env's store (as it is: a reopen finds what the last
 * scheduler stored). */
static int env_open(struct env *e, const struct sched_config *cfg)
{
    struct sched_config c = *cfg;
    int rc;

    c.store = fstore_ops(&e->store);
    if ((rc = sched_new(&e->s, &c)) < 0) {
        CHECK(0, "sched_new: %s", strerror(-rc));
        return rc;
    }
    return 0;
}

/* A scheduler on a fresh store of cap bytes (0: no cap), which evicts if
 * 'evicts'. */
static int env_start_with(struct env *e, const struct sched_config *cfg,
                          uint64_t cap, int evicts)
{
    e->s = NULL;
    fstore_init(&e->store, cap, evicts);
    return env_open(e, cfg);
}

static int env_start(struct env *e, const struct sched_config *cfg)
{
    return env_start_with(e, cfg, 0, 0);
}

static void env_close(struct env *e)
{
    sched_free(&e->s);
    CHECK(!e->s, "sched_free must clear the pointer");
    CHECK_INT(atomic_load(&fk.releases), atomic_load(&fk.holds));
}

static void env_end(struct env *e)
{
    env_close(e);
    fstore_fini(&e->store);
}

static struct sched_stats stats(struct sched *s)
{
    struct sched_stats st;
    sched_get_stats(s, &st);
    return st;
}

/* Poll until no job is queued or running; 0 on time-out. */
static int settle(struct sched *s, int max_ms)
{
    for (int t = 0; t < max_ms; t += 5) {
        struct sched_stats st = stats(s);
        if (st.queued_jobs == 0 && st.running_jobs == 0)
            return 1;
        sleep_ms(5);
    }
    return 0;
}

/* Poll until *v >= want; 0 on time-out. */
static int wait_atomic(atomic_int *v, int want, int max_ms)
{
    for (int t = 0; t < max_ms; t += 2) {
        if (atomic_load(v) >= want)
            return 1;
        sleep_ms(2);
    }
    return atomic_load(v) >= want;
}

static int wait_waits(struct sched *s, uint64_t want, int max_ms)
{
    for (int t = 0; t < max_ms; t += 2) {
        if (stats(s).waits >= want)
            return 1;
        sleep_ms(2);
    }
    return 0;
}

/* ---- reader threads -------------------------------------------------- */

struct reader {
    pthread_t          th;
    struct sched      *s;
    struct trend      *t;
    long               seg;
    pthread_barrier_t *start;
    atomic_int        *finished;
    int                rc;
    uint8_t           *data;
};

static void *reader_main(void *arg)
{
    struct reader *rd = arg;

    if (rd->start)
        pthread_barrier_wait(rd->start);
    rd->rc = sread(rd->s, &rd->t->r, rd->seg, &rd->data);
    if (rd->finished)
        atomic_fetch_add(rd->finished, 1);
    return NULL;
}

/* ---- cases ----------------------------------------------------------- */

static void test_hit_after_produce(void)
{
    struct sched_config cfg = config(2, 0, 60);
    struct trend t;
    struct env e;
    uint8_t *a = NULL, *b = NULL;

    check_begin("hit-after-produce");
    fake_reset();
    trend_init(&t, "title/hit/0", 10, 2000);
    if (env_start(&e, &cfg) == 0) {
        CHECK_INT(sread(e.s, &t.r, 2, &a), 0);
        CHECK_INT(atomic_load(&fk.calls[2]), 1);
        CHECK(bytes_ok(&t, 2, a), "first read: wrong bytes");
        CHECK_INT(sread(e.s, &t.r, 2, &b), 0);
        CHECK_INT(atomic_load(&fk.calls[2]), 1);
        CHECK(a && b && !memcmp(a, b, made_len(t.sizes[2], 2)), "second read differs");
        CHECK_INT(stats(e.s).cache_hits, 1);
        CHECK_INT(stats(e.s).produced, 1);
        CHECK_INT(atomic_load(&fk.norder), 1);
        free(a);
        free(b);
        env_end(&e);
    }
    check_end();
}

static void test_one_job_many_readers(void)
{
    struct sched_config cfg = config(4, 0, 60);
    struct reader rd[8];
    pthread_barrier_t start;
    struct trend t;
    struct env e;
    struct sched_stats st;

    check_begin("one-job-many-readers");
    fake_reset();
    atomic_store(&fk.sleep_ms, 100);
    trend_init(&t, "title/many/0", 10, 2000);
    if (env_start(&e, &cfg) == 0) {
        pthread_barrier_init(&start, NULL, 8);
        for (int i = 0; i < 8; i++) {
            rd[i] = (struct reader){ .s = e.s, .t = &t, .seg = 5,
                                     .start = &start };
            pthread_create(&rd[i].th, NULL, reader_main, &rd[i]);
        }
        for (int i = 0; i < 8; i++)
            pthread_join(rd[i].th, NULL);
        pthread_barrier_destroy(&start);
        CHECK_INT(atomic_load(&fk.calls[5]), 1);
        for (int i = 0; i < 8; i++) {
            CHECK_INT(rd[i].rc, 0);
            CHECK(bytes_ok(&t, 5, rd[i].data), "reader %d: wrong bytes", i);
            CHECK(rd[i].data != rd[0].data || i == 0,
                  "readers %d and 0 share a buffer", i);
            free(rd[i].data);
        }
        st = stats(e.s);
        CHECK_INT(st.waits + st.cache_hits, 8);
        CHECK_INT(st.produced, 1);
        env_end(&e);
    }
    check_end();
}

static void test_readahead(void)
{
    struct sched_config cfg = config(2, 10, 60);
    struct trend t;
    struct env e;
    uint8_t *d = NULL;

    check_begin("readahead-up-to-max-ahead");
    fake_reset();
    trend_init(&t, "title/ahead/0", 30, 2000);
    if (env_start(&e, &cfg) == 0) {
        /* segment 0 ends at 2 s: readahead covers starts before 12 s */
        CHECK_INT(sread(e.s, &t.r, 0, &d), 0);
        free(d);
        d = NULL;
        CHECK(settle(e.s, 5000), "readahead did not settle");
        for (long i = 1; i <= 5; i++)
            CHECK(atomic_load(&fk.calls[i]) == 1,
                  "segment %ld produced %d times, want 1", i,
                  atomic_load(&fk.calls[i]));
        for (long i = 6; i < t.nseg; i++)
            CHECK(atomic_load(&fk.calls[i]) == 0,
                  "segment %ld produced beyond max_ahead", i);
        CHECK_INT(stats(e.s).readahead_jobs, 5);
        CHECK_INT(stats(e.s).active_sessions, 1);

        /* a hit moves the frontier: segment 3 ends at 8 s, so up to 8 */
        CHECK_INT(sread(e.s, &t.r, 3, &d), 0);
        CHECK(bytes_ok(&t, 3, d), "segment 3: wrong bytes");
        free(d);
        CHECK_INT(stats(e.s).cache_hits, 1);
        CHECK(settle(e.s, 5000), "readahead did not settle");
        for (long i = 6; i <= 8; i++)
            CHECK(atomic_load(&fk.calls[i]) == 1,
                  "segment %ld produced %d times, want 1", i,
                  atomic_load(&fk.calls[i]));
        for (long i = 9; i < t.nseg; i++)
            CHECK(atomic_load(&fk.calls[i]) == 0,
                  "segment %ld produced beyond max_ahead", i);
        for (long i = 1; i <= 5; i++)
            CHECK(atomic_load(&fk.calls[i]) == 1,
                  "segment %ld produced again", i);
        CHECK_INT(stats(e.s).active_sessions, 1);
        env_end(&e);
    }
    check_end();
}

static void test_idle_session_stops(void)
{
    struct sched_config cfg = config(1, 1000, 0.3);
    struct trend t;
    struct env e;
    struct sched_stats st;
    uint8_t *d = NULL;
    uint64_t produced;

    check_begin("idle-session-stops-readahead");
    fake_reset();
    atomic_store(&fk.sleep_ms, 50);
    trend_init(&t, "title/idle/0", 200, 1000);
    if (env_start(&e, &cfg) == 0) {
        CHECK_INT(sread(e.s, &t.r, 0, &d), 0);
        free(d);
        st = stats(e.s);
        CHECK(st.readahead_jobs == 199, "readahead_jobs %ju, want 199",
              (uintmax_t)st.readahead_jobs);
        /* the reader is gone: after 0.3 s the queue is dropped */
        CHECK(settle(e.s, 5000), "queued readahead was not dropped");
        st = stats(e.s);
        produced = st.produced;
        CHECK(st.dropped > 0, "nothing dropped");
        CHECK_INT(st.active_sessions, 0);
        sleep_ms(600);
        st = stats(e.s);
        CHECK(st.produced == produced, "production went on: %ju -> %ju",
              (uintmax_t)produced, (uintmax_t)st.produced);
        CHECK(produced < 100, "%ju segments produced, want well short of 200",
              (uintmax_t)produced);
        CHECK_INT(st.produced + st.dropped, 200);
        /* the rendition record went with its last session */
        CHECK_INT(atomic_load(&fk.releases), atomic_load(&fk.holds));
        env_end(&e);
    }
    check_end();
}

static void test_waited_job_first(void)
{
    struct sched_config cfg = config(1, 20, 60);
    struct trend t;
    struct env e;
    struct reader rd;
    uint8_t *d = NULL;

    check_begin("waited-job-not-behind-readahead");
    fake_reset();
    trend_init(&t, "title/prio/0", 100, 1000);
    atomic_store(&fk.gate_seg, 1);
    if (env_start(&e, &cfg) == 0) {
        CHECK_INT(sread(e.s, &t.r, 0, &d), 0);
        free(d);
        /* the readahead worker is stuck in segment 1, 2..20 are queued */
        CHECK(wait_atomic(&fk.norder, 2, 5000), "segment 1 did not start");
        CHECK(atomic_load(&fk.calls[1]) == 1, "segment 1 not in production");
        /* a reader of 60 is served meanwhile, by the urgent crew */
        rd = (struct reader){ .s = e.s, .t = &t, .seg = 60 };
        pthread_create(&rd.th, NULL, reader_main, &rd);
        pthread_join(rd.th, NULL);
        CHECK_INT(rd.rc, 0);
        CHECK(bytes_ok(&t, 60, rd.data), "segment 60: wrong bytes");
        free(rd.data);
        CHECK_INT(atomic_load(&fk.inflight), 1);   /* 1 is still stuck */
        CHECK_INT(atomic_load(&fk.order[2]), 60);
        atomic_store(&fk.gate_open, 1);
        CHECK(wait_atomic(&fk.norder, 4, 5000), "readahead stopped");
        CHECK_INT(atomic_load(&fk.order[3]), 2);   /* FIFO readahead */
        env_end(&e);
    }
    check_end();
}

static void test_readahead_after_waited(void)
{
    struct sched_config cfg = config(1, 20, 60);
    struct trend t;
    struct env e;
    struct reader rd;

    check_begin("readahead-waits-for-the-waited-segment");
    fake_reset();
    trend_init(&t, "title/after/0", 100, 1000);
    atomic_store(&fk.gate_seg, 0);
    if (env_start(&e, &cfg) == 0) {
        /* the read of 0 queues readahead 1..20 before it waits */
        rd = (struct reader){ .s = e.s, .t = &t, .seg = 0 };
        pthread_create(&rd.th, NULL, reader_main, &rd);
        CHECK(wait_atomic(&fk.norder, 1, 5000), "segment 0 did not start");
        for (int i = 0; i < 500 && stats(e.s).readahead_jobs < 20; i++)
            sleep_ms(2);
        CHECK(stats(e.s).readahead_jobs == 20, "readahead_jobs %ju, want 20",
              (uintmax_t)stats(e.s).readahead_jobs);
        sleep_ms(100);
        /* the readahead crew is idle while segment 0 is being made */
        CHECK_INT(atomic_load(&fk.norder), 1);
        CHECK_INT(atomic_load(&fk.calls[1]), 0);
        atomic_store(&fk.gate_open, 1);
        pthread_join(rd.th, NULL);
        CHECK_INT(rd.rc, 0);
        free(rd.data);
        CHECK(wait_atomic(&fk.norder, 2, 5000), "readahead did not start after 0");
        CHECK_INT(atomic_load(&fk.order[1]), 1);
        env_end(&e);
    }
    check_end();
}

static void test_promote_readahead(void)
{
    struct sched_config cfg = config(1, 20, 60);
    struct trend t;
    struct env e;
    struct reader rd;
    uint8_t *d = NULL;

    check_begin("waited-readahead-job-is-promoted");
    fake_reset();
    trend_init(&t, "title/promote/0", 100, 1000);
    atomic_store(&fk.gate_seg, 1);
    if (env_start(&e, &cfg) == 0) {
        CHECK_INT(sread(e.s, &t.r, 0, &d), 0);
        free(d);
        CHECK(wait_atomic(&fk.norder, 2, 5000), "segment 1 did not start");
        /* 15 is queued as readahead behind 2..14: a reader moves it up */
        rd = (struct reader){ .s = e.s, .t = &t, .seg = 15 };
        pthread_create(&rd.th, NULL, reader_main, &rd);
        CHECK(wait_waits(e.s, 2, 5000), "the reader of 15 did not queue");
        atomic_store(&fk.gate_open, 1);
        pthread_join(rd.th, NULL);
        CHECK_INT(rd.rc, 0);
        CHECK(bytes_ok(&t, 15, rd.data), "segment 15: wrong bytes");
        free(rd.data);
        CHECK_INT(atomic_load(&fk.order[2]), 15);
        CHECK_INT(atomic_load(&fk.calls[15]), 1);
        env_end(&e);
    }
    check_end();
}

static void test_parallel_segments(void)
{
    struct sched_config cfg = config(4, 0, 60);
    struct trend t;
    struct env e;
    struct reader rd[4];

    check_begin("segments-of-one-rendition-in-parallel");
    fake_reset();
    trend_init(&t, "title/parallel/0", 10, 2000);
    atomic_store(&fk.gate_seg, GATE_ALL);
    if (env_start(&e, &cfg) == 0) {
        for (int i = 0; i < 4; i++) {
            rd[i] = (struct reader){ .s = e.s, .t = &t, .seg = i * 2 };
            pthread_create(&rd[i].th, NULL, reader_main, &rd[i]);
        }
        CHECK(wait_atomic(&fk.inflight, 4, 5000),
              "%d of 4 segments in production at once",
              atomic_load(&fk.inflight));
        atomic_store(&fk.gate_open, 1);
        for (int i = 0; i < 4; i++) {
            pthread_join(rd[i].th, NULL);
            CHECK_INT(rd[i].rc, 0);
            CHECK(bytes_ok(&t, i * 2, rd[i].data), "wrong bytes");
            free(rd[i].data);
        }
        env_end(&e);
    }
    check_end();
}

static void test_failure(void)
{
    struct sched_config cfg = config(2, 0, 60);
    struct reader rd[4];
    pthread_barrier_t start;
    atomic_int finished = 0;
    struct trend t;
    struct env e;
    uint8_t *d = NULL;
    int calls;

    check_begin("failure-reaches-every-waiter");
    fake_reset();
    atomic_store(&fk.fail_seg, 3);
    atomic_store(&fk.sleep_ms, 100);
    trend_init(&t, "title/fail/0", 10, 2000);
    if (env_start(&e, &cfg) == 0) {
        pthread_barrier_init(&start, NULL, 4);
        for (int i = 0; i < 4; i++) {
            rd[i] = (struct reader){ .s = e.s, .t = &t, .seg = 3,
                                     .start = &start, .finished = &finished };
            pthread_create(&rd[i].th, NULL, reader_main, &rd[i]);
        }
        CHECK(wait_atomic(&finished, 4, 5000), "waiters of a failed job hang");
        for (int i = 0; i < 4; i++) {
            pthread_join(rd[i].th, NULL);
            CHECK_INT(rd[i].rc, -EIO);
            CHECK(!rd[i].data, "data set on failure");
        }
        pthread_barrier_destroy(&start);
        CHECK(stats(e.s).failures >= 1, "no failure counted");

        atomic_store(&fk.sleep_ms, 0);
        CHECK_INT(sread(e.s, &t.r, 4, &d), 0);
        CHECK(bytes_ok(&t, 4, d), "segment 4: wrong bytes");
        free(d);
        d = NULL;
        CHECK_INT(sread(e.s, &t.r, 3, &d), -EIO);   /* not cached */

        calls = atomic_load(&fk.calls[3]);
        atomic_store(&fk.fail_seg, -1);
        CHECK_INT(sread(e.s, &t.r, 3, &d), 0);
        CHECK(bytes_ok(&t, 3, d), "segment 3 after retry: wrong bytes");
        CHECK_INT(atomic_load(&fk.calls[3]), calls + 1);
        free(d);
        env_end(&e);
    }
    check_end();
}

static void test_persistence(void)
{
    struct sched_config cfg = config(2, 0, 60);
    struct trend t;
    struct env e;
    uint8_t *d = NULL;

    check_begin("persistence-across-reopen");
    fake_reset();
    trend_init(&t, "title/persist/0", 10, 2000);
    if (env_start(&e, &cfg) == 0) {
        for (long i = 0; i < 4; i++) {
            CHECK_INT(sread(e.s, &t.r, i, &d), 0);
            free(d);
            d = NULL;
        }
        env_close(&e);
        fake_reset();
        if (env_open(&e, &cfg) == 0) {
            for (long i = 0; i < 4; i++) {
                CHECK_INT(sread(e.s, &t.r, i, &d), 0);
                CHECK(bytes_ok(&t, i, d), "segment %ld: wrong bytes", i);
                free(d);
                d = NULL;
            }
            CHECK_INT(atomic_load(&fk.norder), 0);
            CHECK_INT(stats(e.s).cache_hits, 4);
        }
        env_end(&e);
    }
    check_end();
}

/* The cache holds what produce() made, not the padding up to the planned
 * size; a segment made larger than planned is refused, not cached. */
static void test_stores_made_bytes(void)
{
    struct sched_config cfg = config(2, 0, 60);
    uint8_t *d = NULL;
    struct trend t;
    struct env e;

    check_begin("stores-made-bytes-not-padding");
    fake_reset();
    trend_init(&t, "title/short/0", 6, 2000);
    if (env_start(&e, &cfg) == 0) {
        CHECK_INT(sread(e.s, &t.r, 2, &d), 0);       /* made 200 bytes short */
        free(d);
        d = NULL;
        CHECK_INT(fstore_len(&e.store, &t.r, 2), (long)made_len(t.sizes[2], 2));
        CHECK(made_len(t.sizes[2], 2) < t.sizes[2], "the fixture's segment is not short");
        CHECK_INT(sread(e.s, &t.r, 2, &d), 0);       /* a hit, same length */
        CHECK(bytes_ok(&t, 2, d), "the hit: wrong bytes");
        CHECK_INT(stats(e.s).cache_hits, 1);
        free(d);
        d = NULL;

        atomic_store(&fk.over_seg, 4);
        CHECK_INT(sread(e.s, &t.r, 4, &d), -EIO);
        CHECK(!d, "data set on failure");
        CHECK_INT(fstore_len(&e.store, &t.r, 4), -1);
        env_end(&e);
    }
    check_end();
}

struct freer {
    pthread_t     th;
    struct sched *s;
    atomic_int    done;
};

static void *freer_main(void *arg)
{
    struct freer *f = arg;
    sched_free(&f->s);
    atomic_store(&f->done, 1);
    return NULL;
}

static void test_free_while_waiting(void)
{
    struct sched_config cfg = config(1, 0, 60);
    struct reader rd[3];
    atomic_int finished = 0;
    struct freer f;
    struct trend t;
    struct env e;

    check_begin("free-while-readers-wait");
    fake_reset();
    trend_init(&t, "title/free/0", 10, 2000);
    atomic_store(&fk.gate_seg, 0);
    if (env_start(&e, &cfg) == 0) {
        long segs[3] = { 0, 0, 1 };
        /* the two readers of 0 first, so that 0 is the job that runs and
         * blocks the only worker; then the reader of 1, queued behind */
        for (int i = 0; i < 3; i++) {
            rd[i] = (struct reader){ .s = e.s, .t = &t, .seg = segs[i],
                                     .finished = &finished };
            pthread_create(&rd[i].th, NULL, reader_main, &rd[i]);
            if (i == 1) {
                CHECK(wait_atomic(&fk.norder, 1, 5000),
                      "segment 0 did not start");
                CHECK(wait_waits(e.s, 2, 5000), "readers of 0 did not queue");
            }
        }
        CHECK(wait_waits(e.s, 3, 5000), "reader of 1 did not queue");

        f = (struct freer){ .s = e.s };
        pthread_create(&f.th, NULL, freer_main, &f);
        /* readers leave while the job of segment 0 is still running */
        CHECK(wait_atomic(&finished, 3, 5000), "waiters hang at shutdown");
        CHECK(!atomic_load(&f.done), "sched_free did not wait for the job");
        for (int i = 0; i < 3; i++) {
            pthread_join(rd[i].th, NULL);
            CHECK_INT(rd[i].rc, -ESHUTDOWN);
            CHECK(!rd[i].data, "data set at shutdown");
            free(rd[i].data);
        }
        atomic_store(&fk.gate_open, 1);
        pthread_join(f.th, NULL);
        CHECK(!f.s, "sched_free did not clear the pointer");
        e.s = NULL;
        CHECK_INT(atomic_load(&fk.calls[1]), 0);

        /* the running job finished and was stored; the queued one not */
        CHECK_INT(fstore_len(&e.store, &t.r, 0), (long)made_len(t.sizes[0], 0));
        CHECK_INT(fstore_len(&e.store, &t.r, 1), -1);
        env_end(&e);
    }
    check_end();
}

static void test_cache_full(void)
{
    struct sched_config cfg = config(1, 0, 60);
    struct trend t;
    struct env e;
    uint8_t *d = NULL;

    check_begin("cache-full-still-serves");
    fake_reset();
    fk.big_size = 1u << 20;        /* a segment does not fit the store */
    trend_init(&t, "title/full/0", 4, 2000);
    if (env_start_with(&e, &cfg, 256u << 10, 0) == 0) {
        CHECK_INT(sread(e.s, &t.r, 1, &d), 0);
        CHECK(bytes_ok(&t, 1, d), "wrong bytes");
        free(d);
        d = NULL;
        CHECK_INT(sread(e.s, &t.r, 1, &d), 0);
        CHECK(bytes_ok(&t, 1, d), "wrong bytes");
        free(d);
        CHECK_INT(atomic_load(&fk.calls[1]), 2);
        CHECK_INT(stats(e.s).cache_hits, 0);
        CHECK_INT(stats(e.s).not_cached, 2);
        CHECK_INT(fstore_len(&e.store, &t.r, 1), -1);
    }
    env_end(&e);
    check_end();
}

/* With eviction, a store too full for the next segment is not an error:
 * the worker has the store evict (the least recently read, outside the
 * reader's window) and stores the segment; nothing is served uncached. */
static void test_cache_full_evicts(void)
{
    struct sched_config cfg = config(1, 0, 60);
    struct trend t;
    struct env e;
    uint8_t *d = NULL;

    check_begin("cache-full-evicts-and-stores");
    fake_reset();
    fk.big_size = 700u << 10;     /* the third does not fit beside two */
    trend_init(&t, "title/evict/0", 12, 2000);
    if (env_start_with(&e, &cfg, 2u << 20, 1) == 0) {
        for (long i = 0; i < 12; i++) {
            CHECK_INT(sread(e.s, &t.r, i, &d), 0);
            CHECK(bytes_ok(&t, i, d), "wrong bytes of %ld", i);
            free(d);
            d = NULL;
        }
        CHECK_INT(stats(e.s).not_cached, 0);
        CHECK(atomic_load(&e.store.evict_calls[1]) > 0, "no eviction for room");
        CHECK(atomic_load(&e.store.evicted) > 0, "nothing evicted");
        /* every segment stored is followed by an eviction check, on the
         * worker after the reader was woken: the last may still be due */
        CHECK(wait_atomic(&e.store.evict_calls[0], 12, 5000),
              "%d eviction checks after 12 segments stored",
              atomic_load(&e.store.evict_calls[0]));
        CHECK_INT(atomic_load(&e.store.evict_calls[0]), 12);
        /* the last segment read is cached: a hit, no new produce */
        CHECK_INT(sread(e.s, &t.r, 11, &d), 0);
        free(d);
        CHECK_INT(atomic_load(&fk.calls[11]), 1);
    }
    env_end(&e);
    check_end();
}

/* A reader is woken once its segment is stored: the eviction that follows
 * runs after, on the worker, off the reader's path, and is handed the
 * readers' positions as the scheduler saw them. */
static void test_evict_after_wake(void)
{
    struct sched_config cfg = config(1, 0, 60);
    atomic_int finished = 0;
    struct reader rd;
    struct trend t;
    struct env e;

    check_begin("reader-woken-before-eviction");
    fake_reset();
    trend_init(&t, "title/wake/0", 10, 2000);
    if (env_start_with(&e, &cfg, 0, 1) == 0) {
        atomic_store(&e.store.evict_gate, 1);
        rd = (struct reader){ .s = e.s, .t = &t, .seg = 5,
                              .finished = &finished };
        pthread_create(&rd.th, NULL, reader_main, &rd);
        CHECK(wait_atomic(&e.store.evict_inside, 1, 5000),
              "no eviction after the segment was stored");
        CHECK(wait_atomic(&finished, 1, 3000),
              "the reader waited for the eviction");
        CHECK_INT(atomic_load(&e.store.evict_inside), 1);   /* still in it */
        atomic_store(&e.store.evict_open, 1);
        pthread_join(rd.th, NULL);
        CHECK_INT(rd.rc, 0);
        CHECK(bytes_ok(&t, 5, rd.data), "wrong bytes");
        free(rd.data);
        for (int i = 0; i < 2500 && atomic_load(&e.store.evict_inside); i++)
            sleep_ms(2);
        CHECK_INT(atomic_load(&e.store.evict_calls[0]), 1);
        CHECK_INT(atomic_load(&e.store.evict_calls[1]), 0);
        pthread_mutex_lock(&e.store.lock);
        CHECK_INT(e.store.nreaders, 1);
        if (e.store.nreaders == 1) {
            const struct segstore_reader *x = &e.store.readers[0];
            CHECK(x->key_len == t.r.key_len && !memcmp(x->key, t.key, x->key_len),
                  "the reader's rendition key");
            CHECK_INT(x->keep_from, 5);
            CHECK_INT(x->keep_to, 5);
            CHECK_INT(x->duration_ms, 20000);
            CHECK_INT(x->behind, 3);    /* 0-2 end 4 s or more before 5 */
        }
        pthread_mutex_unlock(&e.store.lock);
        env_end(&e);
    }
    check_end();
}

/* The scheduler's condition variables are set to CLOCK_MONOTONIC through
 * here (the test is linked with --wrap=pthread_condattr_setclock); with
 * 'setclock_fails' the call fails as it may on a system without it. */
int __real_pthread_condattr_setclock(pthread_condattr_t *a, clockid_t c);
int __wrap_pthread_condattr_setclock(pthread_condattr_t *a, clockid_t c);
static atomic_int setclock_fails;

int __wrap_pthread_condattr_setclock(pthread_condattr_t *a, clockid_t c)
{
    if (atomic_load(&setclock_fails))
        return EINVAL;
    return __real_pthread_condattr_setclock(a, c);
}

/* Without a monotonic clock for its waits the scheduler is not made
 * (its deadlines are CLOCK_MONOTONIC times). */
static void test_setclock_fails(void)
{
    struct sched_config cfg = config(1, 0, 60);
    struct env e;
    struct sched *s = (struct sched *)&s;

    check_begin("sched-new-setclock-fails");
    fake_reset();
    if (env_start(&e, &cfg) == 0) {
        cfg.store = fstore_ops(&e.store);
        atomic_store(&setclock_fails, 1);
        CHECK_INT(sched_new(&s, &cfg), -EINVAL);
        atomic_store(&setclock_fails, 0);
        CHECK(!s, "sched_new failure left a scheduler");
        sched_free(&s);
        env_end(&e);
    }
    check_end();
}

static void test_bad_arguments(void)
{
    struct sched_config cfg = config(1, 0, 60), bad = cfg;
    struct trend t;
    struct env e;
    struct sched *s = NULL;
    uint8_t *d = (uint8_t *)&d;

    check_begin("bad-arguments");
    fake_reset();
    trend_init(&t, "title/bad/0", 4, 2000);
    if (env_start(&e, &cfg) == 0) {
        CHECK_INT(sread(e.s, &t.r, 4, &d), -EINVAL);
        CHECK(!d, "data not cleared");
        CHECK_INT(sread(e.s, &t.r, -1, &d), -EINVAL);
        t.r.key_len = SCHED_KEY_MAX + 1;
        CHECK_INT(sread(e.s, &t.r, 0, &d), -EINVAL);
        t.r.key_len = 0;
        CHECK_INT(sread(e.s, &t.r, 0, &d), -EINVAL);
        bad.store = fstore_ops(&e.store);
        bad.produce = NULL;
        CHECK_INT(sched_new(&s, &bad), -EINVAL);
        CHECK(!s, "sched_new failure left a scheduler");
        bad.produce = fake_produce;
        bad.store.put = NULL;           /* a store that cannot store */
        CHECK_INT(sched_new(&s, &bad), -EINVAL);
        CHECK(!s, "sched_new failure left a scheduler");
        sched_free(NULL);
        sched_free(&s);
        CHECK_INT(atomic_load(&fk.norder), 0);
        env_end(&e);
    }
    check_end();
}

struct stresser {
    pthread_t     th;
    struct sched *s;
    struct trend *t[2];
    unsigned      seed;
    int           bad;      /* reads that went wrong */
};

static void *stresser_main(void *arg)
{
    struct stresser *st = arg;

    for (int i = 0; i < 150; i++) {
        struct trend *t = st->t[rand_r(&st->seed) % 2];
        long seg = rand_r(&st->seed) % t->nseg;
        uint8_t *d = NULL;
        int rc = sread(st->s, &t->r, seg, &d);

        if (seg == 7 ? rc != 0 && rc != -EIO
                     : rc != 0 || !bytes_ok(t, seg, d))
            st->bad++;
        free(d);
    }
    return NULL;
}

/* Many readers, two renditions, one failing segment, readahead and idle
 * expiry all at once: every read ends, with the right bytes or -EIO. */
static void test_stress(void)
{
    struct sched_config cfg = config(3, 6, 0.05);
    struct stresser st[12];
    struct trend t[2];
    struct env e;

    check_begin("stress-many-readers");
    fake_reset();
    atomic_store(&fk.fail_seg, 7);
    atomic_store(&fk.sleep_ms, 1);
    trend_init(&t[0], "title/stress/0", 40, 2000);
    trend_init(&t[1], "title/stress/1", 40, 1000);
    if (env_start(&e, &cfg) == 0) {
        for (int i = 0; i < 12; i++) {
            st[i] = (struct stresser){ .s = e.s, .t = { &t[0], &t[1] },
                                       .seed = 1234u + (unsigned)i };
            pthread_create(&st[i].th, NULL, stresser_main, &st[i]);
        }
        for (int i = 0; i < 12; i++) {
            pthread_join(st[i].th, NULL);
            CHECK(!st[i].bad, "reader %d: %d bad reads", i, st[i].bad);
        }
        /* a cached segment is never made again: at most one call per
         * rendition for each index (7 fails, so it is tried again) */
        for (long i = 0; i < 40; i++)
            CHECK(i == 7 || atomic_load(&fk.calls[i]) <= 2,
                  "segment %ld produced %d times", i,
                  atomic_load(&fk.calls[i]));
        env_end(&e);
    }
    check_end();
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);  /* lines survive a sanitizer exit */
    log_setup(0, LOG_LVL_ERROR);    /* the cache-full warning is expected */
    test_hit_after_produce();
    test_one_job_many_readers();
    test_readahead();
    test_idle_session_stops();
    test_waited_job_first();
    test_readahead_after_waited();
    test_promote_readahead();
    test_parallel_segments();
    test_failure();
    test_persistence();
    test_stores_made_bytes();
    test_free_while_waiting();
    test_cache_full();
    test_cache_full_evicts();
    test_evict_after_wake();
    test_bad_arguments();
    test_setclock_fails();
    test_stress();
    return check_summary("test_session");
}
