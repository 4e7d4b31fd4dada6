/*
 * test_cache: the segment store (chunks, records, usage) and the eviction
 * policy (evict.c) on a real LMDB environment in a temporary directory:
 * round trips at chunk boundaries, replacement, behind-the-reader before
 * least-recently-read, readers' windows and open handles never evicted,
 * clean=eager, a churn of three caps' worth of segments that must
 * never fail a write nor grow the file past the cap, and the segment store
 * on top of both (segstore.c): its cache keys and its pins.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "hlsfs/cache.h"
#include "hlsfs/evict.h"
#include "hlsfs/log.h"
#include "hlsfs/segstore.h"

struct env {
    char          dir[64];
    struct cache *c;
    struct evict *e;
};

static int env_start(struct env *v, uint64_t cap, const struct evict_config *ec)
{
    int rc;

    memset(v, 0, sizeof(*v));
    snprintf(v->dir, sizeof(v->dir), "/tmp/test_cache.XXXXXX");
    if (!mkdtemp(v->dir)) {
        CHECK(0, "mkdtemp: %s", strerror(errno));
        return -1;
    }
    if ((rc = cache_open(&v->c, v->dir, cap)) < 0) {
        CHECK(0, "cache_open: %s", strerror(-rc));
        return -1;
    }
    if ((rc = evict_new(&v->e, v->c, ec)) < 0) {
        CHECK(0, "evict_new: %s", strerror(-rc));
        cache_close(&v->c);
        return -1;
    }
    return 0;
}

static void env_end(struct env *v)
{
    char path[128];

    evict_free(&v->e);
    cache_close(&v->c);
    CHECK(!v->e && !v->c, "free functions must clear the pointer");
    snprintf(path, sizeof(path), "%s/data.mdb", v->dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", v->dir);
    unlink(path);
    rmdir(v->dir);
}

static off_t file_size(const struct env *v)
{
    char path[128];
    struct stat st;

    snprintf(path, sizeof(path), "%s/data.mdb", v->dir);
    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Bytes of segment seg of rendition name: a pattern of both. */
static void fill(uint8_t *p, size_t n, const char *name, long seg)
{
    uint32_t x = (uint32_t)seg * 2654435761u + (uint32_t)strlen(name) * 40503u + 1;

    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)(x >> 16);
    }
}

static size_t key_of(uint8_t *out, const char *name, long seg)
{
    return cache_segment_key(out, (const uint8_t *)name, strlen(name), seg);
}

static int put_seg(struct env *v, const char *name, long seg, size_t size)
{
    uint8_t key[CACHE_KEY_MAX], *p = malloc(size ? size : 1);
    size_t klen = key_of(key, name, seg);
    int rc;

    if (!p)
        return -ENOMEM;
    fill(p, size, name, seg);
    rc = cache_segment_put(v->c, key, klen, p, size);
    free(p);
    return rc;
}

/* 1 when the stored segment has the bytes fill() gives for size. */
static int seg_ok(struct env *v, const char *name, long seg, size_t size)
{
    uint8_t key[CACHE_KEY_MAX], *want = malloc(size ? size : 1);
    size_t klen = key_of(key, name, seg), vlen = 0;
    void *val = NULL;
    int rc, ok;

    fill(want, size, name, seg);
    rc = cache_segment_get(v->c, key, klen, &val, &vlen);
    ok = rc == 1 && vlen == size && !memcmp(val, want, size);
    free(val);
    free(want);
    return ok;
}

static int seg_has(struct env *v, const char *name, long seg)
{
    uint8_t key[CACHE_KEY_MAX];
    size_t klen = key_of(key, name, seg);
    return cache_segment_has(v->c, key, klen);
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

/* ---- store ----------------------------------------------------------- */

static void test_roundtrip(void)
{
    struct env v;

    check_begin("chunks-roundtrip");
    if (env_start(&v, 64u << 20, NULL) == 0) {
        size_t ch = cache_chunk_size(v.c);
        size_t sizes[] = { 0, 1, ch - 1, ch, ch + 1, 5 * ch + 7, 3 * 1024 * 1024 };
        int n = (int)(sizeof(sizes) / sizeof(sizes[0]));
        struct cache_usage u;

        CHECK(ch > 4096 && ch % 4096 == 4096 - 16, "chunk size %zu", ch);
        for (int i = 0; i < n; i++)
            CHECK_INT(put_seg(&v, "r/720p", i, sizes[i]), 0);
        for (int i = 0; i < n; i++)
            CHECK(seg_ok(&v, "r/720p", i, sizes[i]), "segment %d (%zu bytes)", i, sizes[i]);
        CHECK_INT(seg_has(&v, "r/720p", n), 0);
        CHECK_INT(seg_has(&v, "r/720", 1), 0);      /* a key prefix is not a key */
        CHECK_INT(cache_get_usage(v.c, &u), 0);
        CHECK_INT(u.segments, n);
        CHECK(u.used > 3 * 1024 * 1024 && u.used <= u.file && u.file <= u.cap,
              "usage %" PRIu64 " file %" PRIu64 " cap %" PRIu64, u.used, u.file, u.cap);

        /* replacing keeps one version, and its chunks only */
        CHECK_INT(put_seg(&v, "r/720p", 5, 10), 0);
        CHECK(seg_ok(&v, "r/720p", 5, 10), "replaced segment");
        CHECK_INT(cache_get_usage(v.c, &u), 0);
        CHECK_INT(u.segments, n);

        /* delete: what was there is counted, a missing key is not */
        uint8_t k0[CACHE_KEY_MAX], k1[CACHE_KEY_MAX];
        const uint8_t *keys[2] = { k0, k1 };
        size_t klens[2] = { key_of(k0, "r/720p", 6), key_of(k1, "r/720p", 99) };
        uint64_t freed = 0;
        CHECK_INT(cache_segments_del(v.c, keys, klens, 2, &freed), 1);
        CHECK_INT(freed, 3 * 1024 * 1024);
        CHECK_INT(seg_has(&v, "r/720p", 6), 0);
        CHECK_INT(cache_segment_index(k0, klens[0]), 6);
        env_end(&v);
    }
    check_end();
}

/* ---- policy ---------------------------------------------------------- */

/* A reader of rendition "long/720p" at segment 50 of a 10-minute title,
 * with 40 segments behind it and a window of [50, 60]. */
static struct segstore_reader reader_long = {
    .key = "long/720p", .key_len = 9, .duration_ms = 600000,
    .behind = 40, .keep_from = 50, .keep_to = 60,
};


static void test_behind_first(void)
{
    struct env v;
    struct evict_stats st;

    check_begin("evict-behind-reader-first");
    if (env_start(&v, 12u << 20, NULL) == 0) {
        size_t seg = 2 * cache_chunk_size(v.c);
        uint8_t key[CACHE_KEY_MAX];
        size_t klen;

        /* "short" (a short title) is written first: the least recently
         * read; the behind segments of "long" still go before it */
        for (long i = 0; i < 20; i++)
            CHECK_INT(put_seg(&v, "short/360p", i, seg), 0);
        sleep_ms(5);
        for (long i = 0; i < 70; i++)
            CHECK_INT(put_seg(&v, "long/720p", i, seg), 0);
        klen = key_of(key, "long/720p", 1);
        evict_pin(v.e, key, klen);              /* an open handle */

        CHECK(evict_run(v.e, 1, &reader_long, 1) > 0, "nothing evicted");
        evict_get_stats(v.e, &st);
        CHECK(st.count[EVICT_BEHIND] > 0, "no behind-the-reader victim");
        CHECK_INT(st.count[EVICT_LRU], 0);
        for (long i = 0; i < 20; i++)
            CHECK_INT(seg_has(&v, "short/360p", i), 1);
        CHECK_INT(seg_has(&v, "long/720p", 1), 1);     /* pinned */
        CHECK_INT(seg_has(&v, "long/720p", 0), 0);     /* behind, first */
        for (long i = 40; i < 70; i++)
            CHECK_INT(seg_has(&v, "long/720p", i), 1);
        evict_unpin(v.e, key, klen);
        env_end(&v);
    }
    check_end();
}

static void test_lru_and_window(void)
{
    struct env v;
    struct evict_stats st;
    struct segstore_reader rd = reader_long;

    check_begin("evict-lru-spares-window-and-recent");
    if (env_start(&v, 12u << 20, NULL) == 0) {
        size_t seg = 2 * cache_chunk_size(v.c);
        uint8_t key[CACHE_KEY_MAX];

        rd.behind = 0;                          /* nothing behind it */
        for (long i = 0; i < 30; i++)
            CHECK_INT(put_seg(&v, "idle/360p", i, seg), 0);
        sleep_ms(5);
        for (long i = 40; i < 70; i++)
            CHECK_INT(put_seg(&v, "long/720p", i, seg), 0);
        sleep_ms(5);
        /* the first ten of "idle" are read again: now the most recent */
        for (long i = 0; i < 10; i++)
            evict_touch(v.e, key, key_of(key, "idle/360p", i));

        /* below the low mark, a forced run (the map was full) frees one
         * segment: the least recently read */
        CHECK(evict_run(v.e, 1, &rd, 1) > 0, "nothing evicted");
        CHECK_INT(seg_has(&v, "idle/360p", 10), 0);    /* oldest unread */
        CHECK_INT(seg_has(&v, "idle/360p", 11), 1);
        CHECK_INT(seg_has(&v, "idle/360p", 0), 1);     /* read again */
        /* forced again and again: everything but the window goes, the
         * segments read again last of all */
        for (int k = 0; k < 200; k++)
            evict_run(v.e, 1, &rd, 1);
        for (long i = 50; i <= 60; i++)
            CHECK_INT(seg_has(&v, "long/720p", i), 1);
        for (long i = 0; i < 30; i++)
            CHECK_INT(seg_has(&v, "idle/360p", i), 0);
        evict_get_stats(v.e, &st);
        CHECK_INT(st.count[EVICT_BEHIND], 0);
        CHECK_INT(st.count[EVICT_LRU], 30 + 30 - 11);
        env_end(&v);
    }
    check_end();
}

static void test_eager(void)
{
    struct env v;
    struct evict_config ec = { .segment_keep = 30, .eager = 1 };
    struct evict_stats st;

    check_begin("evict-eager-behind");
    if (env_start(&v, 64u << 20, &ec) == 0) {
        uint8_t key[CACHE_KEY_MAX];
        size_t klen;

        CHECK_INT(evict_is_eager(v.e), 1);
        CHECK(evict_segment_keep(v.e) == 30, "segment_keep");
        for (long i = 0; i < 12; i++)
            CHECK_INT(put_seg(&v, "long/720p", i, 1000), 0);
        klen = key_of(key, "long/720p", 3);
        evict_pin(v.e, key, klen);
        CHECK_INT(evict_behind(v.e, (const uint8_t *)"long/720p", 9, 0, 8), 7);
        CHECK_INT(seg_has(&v, "long/720p", 3), 1);
        CHECK_INT(seg_has(&v, "long/720p", 0), 0);
        CHECK_INT(seg_has(&v, "long/720p", 7), 0);
        CHECK_INT(seg_has(&v, "long/720p", 8), 1);
        evict_get_stats(v.e, &st);
        CHECK_INT(st.count[EVICT_EAGER], 7);
        CHECK_INT(st.bytes[EVICT_EAGER], 7000);
        evict_unpin(v.e, key, klen);
        env_end(&v);
    }
    check_end();
}

/* Read times survive a reopen: evict_free writes them back. */
static void test_read_times_persist(void)
{
    struct env v;
    struct evict_stats st;
    int rc;

    check_begin("evict-read-times-persist");
    if (env_start(&v, 12u << 20, NULL) == 0) {
        size_t seg = 2 * cache_chunk_size(v.c);
        uint8_t key[CACHE_KEY_MAX];

        for (long i = 0; i < 60; i++)
            CHECK_INT(put_seg(&v, "a/360p", i, seg), 0);
        sleep_ms(5);
        for (long i = 0; i < 5; i++)
            evict_touch(v.e, key, key_of(key, "a/360p", i));
        evict_free(&v.e);
        cache_close(&v.c);
        if ((rc = cache_open(&v.c, v.dir, 12u << 20)) < 0 ||
            (rc = evict_new(&v.e, v.c, NULL)) < 0) {
            CHECK(0, "reopen: %s", strerror(-rc));
        } else {
            /* one forced run frees the least recently read: segment 5,
             * not 0 to 4, whose reads were written back */
            CHECK(evict_run(v.e, 1, NULL, 0) > 0, "nothing evicted");
            evict_get_stats(v.e, &st);
            CHECK_INT(st.count[EVICT_LRU], 1);
            for (long i = 0; i < 5; i++)
                CHECK_INT(seg_has(&v, "a/360p", i), 1);
            CHECK_INT(seg_has(&v, "a/360p", 5), 0);
        }
        env_end(&v);
    }
    check_end();
}

/* ---- a pin racing a delete --------------------------------------------- */

/* The evictor's deletes pass through here (the test is linked with
 * --wrap=cache_segments_del). When armed, the first delete has another
 * thread pin its first victim (as a FUSE open does) and waits up to
 * 300 ms for that pin before it deletes. */
int __real_cache_segments_del(struct cache *c, const uint8_t *const *keys,
                              const size_t *klens, int n, uint64_t *freed);

static struct {
    struct evict *e;
    int           armed;
    uint8_t       key[CACHE_KEY_MAX];
    size_t        klen;
    atomic_int    pinned;          /* the thread's pin is done          */
    int           pinned_first;    /* it was done before the delete     */
    pthread_t     thread;
    int           started;
} race;

static void *pin_main(void *arg)
{
    (void) arg;
    evict_pin(race.e, race.key, race.klen);
    atomic_store(&race.pinned, 1);
    return NULL;
}

int __wrap_cache_segments_del(struct cache *c, const uint8_t *const *keys,
                              const size_t *klens, int n, uint64_t *freed);
int __wrap_cache_segments_del(struct cache *c, const uint8_t *const *keys,
                              const size_t *klens, int n, uint64_t *freed)
{
    if (race.armed && n > 0) {
        race.armed = 0;
        memcpy(race.key, keys[0], klens[0]);
        race.klen = klens[0];
        atomic_store(&race.pinned, 0);
        race.started = pthread_create(&race.thread, NULL, pin_main, NULL) == 0;
        for (int i = 0; i < 300 && !atomic_load(&race.pinned); i++)
            sleep_ms(1);
        race.pinned_first = atomic_load(&race.pinned);
    }
    return __real_cache_segments_del(c, keys, klens, n, freed);
}

/* Ends the race: the pin is done; a segment pinned before its delete
 * began is still stored. */
static void race_end(struct env *v, const char *what)
{
    CHECK(race.started, "%s: no delete was made", what);
    if (!race.started)
        return;
    pthread_join(race.thread, NULL);
    race.started = 0;
    CHECK(!race.pinned_first || cache_segment_has(v->c, race.key, race.klen) == 1,
          "%s: a segment pinned after the pin check and before the delete "
          "was deleted", what);
    evict_unpin(v->e, race.key, race.klen);
}

static void test_pin_race(void)
{
    struct env v;
    struct evict_config ec = { .segment_keep = 30, .eager = 1 };

    check_begin("evict-pin-between-check-and-delete");
    if (env_start(&v, 12u << 20, &ec) == 0) {
        size_t seg = 2 * cache_chunk_size(v.c);

        for (long i = 0; i < 60; i++)
            CHECK_INT(put_seg(&v, "race/720p", i, seg), 0);
        race.e = v.e;
        race.armed = 1;
        CHECK(evict_run(v.e, 1, NULL, 0) > 0, "nothing evicted");
        race_end(&v, "evict_run");
        race.armed = 1;
        CHECK(evict_behind(v.e, (const uint8_t *)"race/720p", 9, 0, 60) > 0,
              "nothing dropped");
        race_end(&v, "evict_behind");
        race.armed = 0;
        env_end(&v);
    }
    check_end();
}

/* ---- churn ----------------------------------------------------------- */

/* Three caps' worth of segments of mixed sizes, written and evicted as
 * the scheduler does: no write may fail for lack of room once eviction
 * has run, the file never passes the cap, and use stays under the high
 * mark after every run. */
static void test_churn(void)
{
    const uint64_t cap = 48u << 20;
    struct env v;
    struct cache_usage u;
    uint64_t written = 0;
    uint32_t x = 12345;
    size_t size = 0;
    long seg = 0;
    int failures = 0, over = 0, rc;

    check_begin("churn-three-caps");
    if (env_start(&v, cap, NULL) == 0) {
        /* a store that fails every put ends the loop too */
        while (written < 4 * cap && failures < 100) {
            x = x * 1103515245u + 12345u;
            size = 100000 + (x >> 8) % 2000000;
            rc = put_seg(&v, "churn/720p", seg, size);
            if (rc == -ENOSPC && evict_run(v.e, 1, NULL, 0) >= 0)
                rc = put_seg(&v, "churn/720p", seg, size);
            if (rc < 0)
                failures++;
            else
                written += size;
            evict_run(v.e, 0, NULL, 0);
            if (cache_get_usage(v.c, &u) == 0 && u.used > cap / 100 * EVICT_HIGH_PERCENT)
                over++;
            if (file_size(&v) > (off_t)cap)
                over += 1000;
            seg++;
        }
        CHECK_INT(failures, 0);
        CHECK_INT(over, 0);
        CHECK(seg_ok(&v, "churn/720p", seg - 1, size), "the last segment is not stored whole");
        env_end(&v);
    }
    check_end();
}

/* The segment store names a segment by (rendition key, index): the cache
 * key it makes is the one every cache so far was written with (the
 * rendition key, then the index as 4 bytes big-endian), and a segment it
 * pins is never evicted. */
static void test_segstore(void)
{
    static const uint8_t raw[] = { 'l', 'o', 'n', 'g', '/', '7', '2', '0', 'p',
                                   0x00, 0x00, 0x01, 0x02 };
    const uint8_t *lk = (const uint8_t *)"long/720p", *ik = (const uint8_t *)"idle/360p";
    uint8_t toolong[SEGSTORE_RKEY_MAX + 1], *p = NULL;
    struct segstore *st = NULL;
    struct segstore_ops ops;
    struct env v;
    void *val = NULL;
    size_t vlen = 0;

    check_begin("segstore-keys-and-pins");
    memset(toolong, 'k', sizeof(toolong));
    if (env_start(&v, 12u << 20, NULL) == 0) {
        size_t size = 2 * cache_chunk_size(v.c);
        CHECK_INT(segstore_new(&st, v.c, v.e), 0);
        if (st && (p = malloc(size))) {
            segstore_bind(st, &ops);
            CHECK(ops.segment_keep == 720 && !ops.eager, "the evictor's settings");
            fill(p, 5000, "long/720p", 258);
            CHECK_INT(ops.put(ops.ctx, lk, 9, 258, p, 5000), 0);
            CHECK_INT(cache_segment_has(v.c, raw, sizeof(raw)), 1);
            CHECK_INT(ops.has(ops.ctx, lk, 9, 258), 1);
            CHECK_INT(ops.has(ops.ctx, lk, 9, 259), 0);
            CHECK_INT(ops.get(ops.ctx, lk, 9, 258, &val, &vlen), 1);
            CHECK(vlen == 5000 && val && !memcmp(val, p, 5000), "get: other bytes");
            free(val);
            CHECK_INT(ops.put(ops.ctx, toolong, sizeof(toolong), 0, p, 10), -EINVAL);
            CHECK_INT(segstore_pin(st, toolong, sizeof(toolong), 0), -EINVAL);

            for (long i = 0; i < 30; i++) {
                fill(p, size, "idle/360p", i);
                CHECK_INT(ops.put(ops.ctx, ik, 9, i, p, size), 0);
            }
            CHECK_INT(segstore_pin(st, ik, 9, 3), 0);
            CHECK_INT(segstore_pin(st, ik, 9, 3), 0);     /* pins nest */
            segstore_unpin(st, ik, 9, 3);
            for (int k = 0; k < 200; k++)
                ops.evict(ops.ctx, 1, NULL, 0);
            CHECK_INT(ops.has(ops.ctx, ik, 9, 3), 1);     /* pinned */
            CHECK_INT(ops.has(ops.ctx, ik, 9, 4), 0);
            CHECK_INT(ops.has(ops.ctx, lk, 9, 258), 0);
            segstore_unpin(st, ik, 9, 3);
            for (int k = 0; k < 5 && ops.has(ops.ctx, ik, 9, 3) == 1; k++)
                ops.evict(ops.ctx, 1, NULL, 0);
            CHECK_INT(ops.has(ops.ctx, ik, 9, 3), 0);     /* unpinned: goes */
        }
        free(p);
        segstore_free(&st);
        CHECK(!st, "segstore_free must clear the pointer");
        env_end(&v);
    }
    check_end();
}

int main(void)
{
    log_setup(0, LOG_LVL_ERROR);
    test_roundtrip();
    test_behind_first();
    test_lru_and_window();
    test_eager();
    test_read_times_persist();
    test_pin_race();
    test_churn();
    test_segstore();
    return check_summary("test_cache");
}
