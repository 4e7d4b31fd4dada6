/*
 * evict: the eviction policy of the segment cache, and what it needs to
 * know that LMDB does not: open handles (pins) and recent reads.
 *
 * Memory: a hash table of segment keys, one entry per segment that is
 * pinned or was read since its read time was last written back. An
 * entry goes when it is neither.
 *
 * Locks: e->lock protects the table and the counters; e->run_lock makes
 * evictions run one at a time. run_lock is taken before lock, never the
 * other way round. The one cache call made under lock is the delete of a
 * batch of victims, with the check that none is pinned: a pin (taken
 * under lock) comes before both or after both. cache.c never calls back
 * here, so LMDB's writer lock is only ever taken after e->lock.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hlsfs/cache.h"
#include "hlsfs/evict.h"
#include "hlsfs/log.h"

#define NBUCKETS 4096
/* Read times are written back once this many are waiting. */
#define TOUCH_FLUSH 64
/* Segments deleted per transaction. */
#define DELETE_BATCH 32

struct entry {
    struct entry *next;
    int64_t       read_ms;      /* 0: not read since written back       */
    int           pins;
    size_t        klen;
    uint8_t       key[];
};

struct evict {
    struct cache   *cache;
    double          keep_s;
    int             eager;
    pthread_mutex_t lock;
    pthread_mutex_t run_lock;
    struct entry   *buckets[NBUCKETS];
    int             dirty;      /* entries with read_ms != 0             */
    struct evict_stats st;
};

static const char *const reason_names[EVICT_NREASONS] = {
    "behind_reader", "lru", "eager", "title",
};

const char *evict_reason_name(enum evict_reason r)
{
    return (unsigned)r < EVICT_NREASONS ? reason_names[r] : "?";
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t hash_key(const uint8_t *key, size_t klen)
{
    uint64_t h = 1469598103934665603ull;        /* FNV-1a */
    for (size_t i = 0; i < klen; i++)
        h = (h ^ key[i]) * 1099511628211ull;
    return (size_t)(h % NBUCKETS);
}

/* The entry of key, made if 'create'. Called with e->lock held. */
static struct entry *entry_find(struct evict *e, const uint8_t *key,
                                size_t klen, int create)
{
    size_t b = hash_key(key, klen);
    struct entry *x;

    for (x = e->buckets[b]; x; x = x->next)
        if (x->klen == klen && !memcmp(x->key, key, klen))
            return x;
    if (!create || klen > CACHE_KEY_MAX || !(x = calloc(1, sizeof(*x) + klen)))
        return NULL;
    x->klen = klen;
    memcpy(x->key, key, klen);
    x->next = e->buckets[b];
    e->buckets[b] = x;
    return x;
}

/* Free the entry of key if it is neither pinned nor dirty. Called with
 * e->lock held. */
static void entry_drop_if_idle(struct evict *e, const uint8_t *key,
                               size_t klen)
{
    struct entry **p = &e->buckets[hash_key(key, klen)], *x;

    for (; (x = *p); p = &x->next) {
        if (x->klen != klen || memcmp(x->key, key, klen))
            continue;
        if (!x->pins && !x->read_ms) {
            *p = x->next;
            free(x);
        }
        return;
    }
}

static void count_error(struct evict *e)
{
    pthread_mutex_lock(&e->lock);
    e->st.errors++;
    pthread_mutex_unlock(&e->lock);
}

int evict_new(struct evict **out, struct cache *c,
              const struct evict_config *cfg)
{
    struct evict *e = calloc(1, sizeof(*e));

    *out = NULL;
    if (!e)
        return -ENOMEM;
    e->cache = c;
    e->keep_s = cfg && cfg->segment_keep > 0 ? cfg->segment_keep : 720;
    e->eager = cfg ? cfg->eager : 0;
    if (pthread_mutex_init(&e->lock, NULL)) {
        free(e);
        return -ENOMEM;
    }
    if (pthread_mutex_init(&e->run_lock, NULL)) {
        pthread_mutex_destroy(&e->lock);
        free(e);
        return -ENOMEM;
    }
    *out = e;
    return 0;
}

double evict_segment_keep(const struct evict *e)
{
    return e->keep_s;
}

int evict_is_eager(const struct evict *e)
{
    return e->eager;
}

void evict_pin(struct evict *e, const uint8_t *key, size_t klen)
{
    struct entry *x;

    pthread_mutex_lock(&e->lock);
    if ((x = entry_find(e, key, klen, 1)))
        x->pins++;
    pthread_mutex_unlock(&e->lock);
}

void evict_unpin(struct evict *e, const uint8_t *key, size_t klen)
{
    struct entry *x;

    pthread_mutex_lock(&e->lock);
    if ((x = entry_find(e, key, klen, 0)) && x->pins > 0) {
        x->pins--;
        entry_drop_if_idle(e, key, klen);
    }
    pthread_mutex_unlock(&e->lock);
}

void evict_touch(struct evict *e, const uint8_t *key, size_t klen)
{
    struct entry *x;

    pthread_mutex_lock(&e->lock);
    if ((x = entry_find(e, key, klen, 1))) {
        if (!x->read_ms)
            e->dirty++;
        x->read_ms = wall_ms();
    }
    pthread_mutex_unlock(&e->lock);
}

/* Write the waiting read times back to the cache. Called with run_lock
 * held (or at the end), without e->lock. */
static void flush_touches(struct evict *e)
{
    struct cache_touch *t = NULL;
    int n = 0, rc;

    /* copies of the keys: the table may change once unlocked */
    pthread_mutex_lock(&e->lock);
    if (e->dirty > 0 && (t = malloc((size_t)e->dirty * sizeof(*t))))
        for (int b = 0; b < NBUCKETS; b++)
            for (struct entry *x = e->buckets[b]; x && n < e->dirty; x = x->next) {
                if (!x->read_ms)
                    continue;
                memcpy(t[n].key, x->key, x->klen);
                t[n].klen = x->klen;
                t[n++].read_ms = x->read_ms;
            }
    pthread_mutex_unlock(&e->lock);

    rc = cache_segments_touch(e->cache, t, n);
    pthread_mutex_lock(&e->lock);
    if (rc < 0) {
        e->st.errors++;
    } else {
        for (int i = 0; i < n; i++) {
            struct entry *x = entry_find(e, t[i].key, t[i].klen, 0);
            if (x && x->read_ms == t[i].read_ms) {  /* not read again since */
                x->read_ms = 0;
                e->dirty--;
                entry_drop_if_idle(e, t[i].key, t[i].klen);
            }
        }
    }
    pthread_mutex_unlock(&e->lock);
    if (rc < 0)
        log_warn("cache: read times not recorded: %s", strerror(-rc));
    free(t);
}

void evict_free(struct evict **pe)
{
    struct evict *e = pe ? *pe : NULL;

    if (!e)
        return;
    *pe = NULL;
    flush_touches(e);
    for (int b = 0; b < NBUCKETS; b++)
        for (struct entry *x = e->buckets[b], *next; x; x = next) {
            next = x->next;
            free(x);
        }
    pthread_mutex_destroy(&e->run_lock);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

/* ---- choosing victims ------------------------------------------------ */

struct victim {
    uint8_t          *key;
    size_t            klen;
    enum evict_reason reason;
    int64_t           read_ms;
    uint64_t          size;
};

struct scan {
    struct evict              *e;
    const struct segstore_reader *readers;
    int                        nreaders;
    struct victim             *v;
    int                        n, cap;
    int                        failed;
};

/* Rank of a segment: victims go by reason (behind_reader before lru),
 * then oldest read first. */
static int victim_cmp(const void *a, const void *b)
{
    const struct victim *x = a, *y = b;

    if (x->reason != y->reason)
        return x->reason < y->reason ? -1 : 1;
    if (x->read_ms != y->read_ms)
        return x->read_ms < y->read_ms ? -1 : 1;
    if (x->klen != y->klen)
        return x->klen < y->klen ? -1 : 1;
    return memcmp(x->key, y->key, x->klen);
}

/* Is segment seg of rendition rkey protected by a reader, and if not, is
 * it behind all of its readers? */
static int classify(const struct scan *sc, const uint8_t *rkey, size_t rlen,
                    long seg, enum evict_reason *reason)
{
    long behind = -1;               /* min over the rendition's readers */

    for (int i = 0; i < sc->nreaders; i++) {
        const struct segstore_reader *r = &sc->readers[i];
        if (r->key_len != rlen || memcmp(r->key, rkey, rlen))
            continue;
        if (seg >= r->keep_from && seg <= r->keep_to)
            return 0;
        if (r->duration_ms < EVICT_LONG_MS)
            behind = 0;
        else if (behind < 0 || r->behind < behind)
            behind = r->behind;
    }
    *reason = behind > 0 && seg < behind ? EVICT_BEHIND : EVICT_LRU;
    return 1;
}

static int scan_segment(void *arg, const struct cache_segment_info *info)
{
    struct scan *sc = arg;
    struct evict *e = sc->e;
    enum evict_reason reason;
    int64_t read_ms = info->read_ms;
    struct entry *x;
    int pinned = 0;

    if (!classify(sc, info->key, info->klen - 4,
                  cache_segment_index(info->key, info->klen), &reason))
        return 0;
    pthread_mutex_lock(&e->lock);
    if ((x = entry_find(e, info->key, info->klen, 0))) {
        pinned = x->pins > 0;
        if (x->read_ms > read_ms)
            read_ms = x->read_ms;
    }
    pthread_mutex_unlock(&e->lock);
    if (pinned)
        return 0;
    if (sc->n == sc->cap) {
        int cap = sc->cap ? sc->cap * 2 : 256;
        struct victim *v = realloc(sc->v, (size_t)cap * sizeof(*v));
        if (!v) {
            sc->failed = 1;
            return 1;
        }
        sc->v = v;
        sc->cap = cap;
    }
    if (!(sc->v[sc->n].key = malloc(info->klen))) {
        sc->failed = 1;
        return 1;
    }
    memcpy(sc->v[sc->n].key, info->key, info->klen);
    sc->v[sc->n].klen = info->klen;
    sc->v[sc->n].reason = reason;
    sc->v[sc->n].read_ms = read_ms;
    sc->v[sc->n].size = info->size;
    sc->n++;
    return 0;
}

/* Title records, in key order, for the last resort. */
struct title_rec {
    uint8_t *key;
    size_t   klen, vlen;
};

struct title_list {
    struct title_rec *v;
    int               n, cap;
};

static int collect_title(void *arg, const void *key, size_t klen, size_t vlen)
{
    struct title_list *tl = arg;

    if (tl->n == tl->cap) {
        int cap = tl->cap ? tl->cap * 2 : 64;
        struct title_rec *v = realloc(tl->v, (size_t)cap * sizeof(*v));
        if (!v)
            return 1;
        tl->v = v;
        tl->cap = cap;
    }
    if (!(tl->v[tl->n].key = malloc(klen)))
        return 1;
    memcpy(tl->v[tl->n].key, key, klen);
    tl->v[tl->n].klen = klen;
    tl->v[tl->n++].vlen = vlen;
    return 0;
}

/* Drop title records until the live pages are at most 'low'. */
static void evict_titles(struct evict *e, uint64_t low)
{
    struct title_list tl = { 0 };
    struct cache_usage u;

    if (cache_each_key(e->cache, CACHE_TITLES, collect_title, &tl) < 0)
        count_error(e);
    for (int i = 0; i < tl.n; i++) {
        if (cache_get_usage(e->cache, &u) < 0 || u.used <= low)
            break;
        if (cache_del(e->cache, CACHE_TITLES, tl.v[i].key, tl.v[i].klen) < 0) {
            count_error(e);
            break;
        }
        pthread_mutex_lock(&e->lock);
        e->st.count[EVICT_TITLE]++;
        e->st.bytes[EVICT_TITLE] += tl.v[i].vlen;
        pthread_mutex_unlock(&e->lock);
    }
    for (int i = 0; i < tl.n; i++)
        free(tl.v[i].key);
    free(tl.v);
}

/* Bytes of the pages a segment of 'size' bytes occupies: each chunk fills
 * a run of pages whose header takes 16 bytes. */
static uint64_t segment_pages_bytes(const struct evict *e, uint64_t size)
{
    uint64_t chunk = cache_chunk_size(e->cache);

    return (size + chunk - 1) / chunk * (chunk + 16);
}

int64_t evict_run(struct evict *e, int force, const struct segstore_reader *rd,
                  int nrd)
{
    struct scan sc = { .e = e };
    struct cache_usage u;
    uint64_t high, low, est, freed = 0, by[EVICT_NREASONS] = { 0 };
    int64_t ret = 0;
    int rc, i, dirty;

    pthread_mutex_lock(&e->run_lock);
    /* victims are ranked by the read times in memory too: writing them
     * back is only for the next mount */
    pthread_mutex_lock(&e->lock);
    dirty = e->dirty;
    pthread_mutex_unlock(&e->lock);
    if (dirty >= TOUCH_FLUSH)
        flush_touches(e);

    if ((rc = cache_get_usage(e->cache, &u)) < 0) {
        ret = rc;
        goto out;
    }
    high = u.cap / 100 * EVICT_HIGH_PERCENT;
    low = u.cap / 100 * EVICT_LOW_PERCENT;
    if (!force && u.used <= high)
        goto out;

    if (rd && nrd > 0) {
        sc.readers = rd;
        sc.nreaders = nrd;
    }
    if ((rc = cache_segments_each(e->cache, scan_segment, &sc)) < 0 || sc.failed) {
        ret = rc < 0 ? rc : -ENOMEM;
        goto out;
    }
    if (sc.n > 1)
        qsort(sc.v, (size_t)sc.n, sizeof(*sc.v), victim_cmp);

    /* with force the map was full at a lower mark: free a batch at least */
    est = u.used;
    for (i = 0; i < sc.n && (est > low || (force && i == 0));) {
        const uint8_t *keys[DELETE_BATCH];
        size_t klens[DELETE_BATCH];
        uint64_t got = 0, planned;
        int n = 0, first = i;

        for (; i < sc.n && n < DELETE_BATCH && (est > low || n == 0); i++, n++) {
            keys[n] = sc.v[i].key;
            klens[n] = sc.v[i].klen;
            planned = segment_pages_bytes(e, sc.v[i].size);
            est = est > planned ? est - planned : 0;
        }
        /* a pin taken since the scan wins: that segment stays. The check
         * and the delete are one step under e->lock, so that no pin comes
         * between them (a handle opened meanwhile waits, then finds the
         * segment gone and has it made again) */
        int skip[DELETE_BATCH] = { 0 }, m = 0;
        const uint8_t *del[DELETE_BATCH];
        size_t dlens[DELETE_BATCH];
        pthread_mutex_lock(&e->lock);
        for (int k = 0; k < n; k++) {
            struct entry *x = entry_find(e, keys[k], klens[k], 0);
            if ((skip[k] = x && x->pins))
                continue;
            del[m] = keys[k];
            dlens[m++] = klens[k];
        }
        rc = cache_segments_del(e->cache, del, dlens, m, &got);
        pthread_mutex_unlock(&e->lock);
        if (rc < 0) {
            ret = rc;
            goto out;
        }
        freed += got;
        pthread_mutex_lock(&e->lock);
        for (int k = 0; k < n; k++) {
            const struct victim *v = &sc.v[first + k];
            if (skip[k])
                continue;
            e->st.count[v->reason]++;
            e->st.bytes[v->reason] += v->size;
            by[v->reason]++;
        }
        pthread_mutex_unlock(&e->lock);
        if (cache_get_usage(e->cache, &u) == 0)
            est = u.used;
    }
    if (est > low && i >= sc.n)
        evict_titles(e, low);
    /* make the freed pages usable by the next write */
    if (cache_advance(e->cache) < 0)
        count_error(e);
    cache_get_usage(e->cache, &u);
    pthread_mutex_lock(&e->lock);
    e->st.runs++;
    pthread_mutex_unlock(&e->lock);
    log_info("cache: evicted %" PRIu64 " segment(s) behind readers and %"
             PRIu64 " least recently read, %.1f MB; %.1f of %.1f MB in use",
             by[EVICT_BEHIND], by[EVICT_LRU], (double)freed / 1e6,
             (double)u.used / 1e6, (double)u.cap / 1e6);
    ret = (int64_t)freed;
out:
    if (ret < 0) {
        count_error(e);
        log_warn("cache: eviction failed: %s", strerror((int)-ret));
    }
    for (i = 0; i < sc.n; i++)
        free(sc.v[i].key);
    free(sc.v);
    pthread_mutex_unlock(&e->run_lock);
    return ret;
}

int evict_behind(struct evict *e, const uint8_t *rkey, size_t rlen,
                 long from, long to)
{
    uint8_t keybuf[DELETE_BATCH][CACHE_KEY_MAX];
    const uint8_t *keys[DELETE_BATCH];
    size_t klens[DELETE_BATCH];
    uint64_t got;
    int total = 0, rc;

    if (rlen + 4 > CACHE_KEY_MAX)
        return -EINVAL;
    pthread_mutex_lock(&e->run_lock);
    for (long seg = from; seg < to;) {
        int n = 0;
        pthread_mutex_lock(&e->lock);
        for (; seg < to && n < DELETE_BATCH; seg++) {
            size_t klen = cache_segment_key(keybuf[n], rkey, rlen, seg);
            struct entry *x = entry_find(e, keybuf[n], klen, 0);
            if (x && x->pins)
                continue;
            keys[n] = keybuf[n];
            klens[n++] = klen;
        }
        /* checked and deleted under one hold of e->lock, as in evict_run */
        rc = cache_segments_del(e->cache, keys, klens, n, &got);
        pthread_mutex_unlock(&e->lock);
        if (rc < 0) {
            count_error(e);
            pthread_mutex_unlock(&e->run_lock);
            return rc;
        }
        pthread_mutex_lock(&e->lock);
        e->st.count[EVICT_EAGER] += (uint64_t)rc;
        e->st.bytes[EVICT_EAGER] += got;
        pthread_mutex_unlock(&e->lock);
        total += rc;
    }
    pthread_mutex_unlock(&e->run_lock);
    return total;
}

void evict_get_stats(struct evict *e, struct evict_stats *st)
{
    if (!e) {
        memset(st, 0, sizeof(*st));
        return;
    }
    pthread_mutex_lock(&e->lock);
    *st = e->st;
    pthread_mutex_unlock(&e->lock);
}
