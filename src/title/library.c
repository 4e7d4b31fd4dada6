/*
 * library: path -> title table with reference counts and load-once.
 *
 * DESIGN
 * An entry holds the current title of one source path. library_get either
 * returns it (when the source identity still matches), waits while another
 * thread loads it, or loads it itself outside the lock: first from the
 * cache, else by probing the source and storing the result. A replaced
 * title lives on until its last reference is put.
 *
 * Memory is bounded whatever the size of the library: a current title
 * that nobody but its entry refers to (no open file, no job, no session)
 * is idle, and idle titles are kept in least recently used order, at most
 * LIBRARY_IDLE_MAX of them and LIBRARY_IDLE_BYTES of their arrays; past
 * either, the oldest go with their entries. A title that went comes back
 * from the cache in milliseconds.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hlsfs/cache.h"
#include "hlsfs/library.h"
#include "hlsfs/list.h"
#include "hlsfs/log.h"
#include "hlsfs/probe.h"
#include "hlsfs/record.h"
#include "hlsfs/subtitle.h"
#include "hlsfs/title.h"
#include "hlsfs/vfilter.h"

#define LIBRARY_BUCKETS    4096
#define LIBRARY_IDLE_MAX   64
#define LIBRARY_IDLE_BYTES (32u << 20)

struct library_entry;

struct held_title {            /* a title and its references             */
    struct title      *title;
    int                refs;   /* protected by library.lock              */
    struct list_node   all;    /* in library.held (lock)                 */
    struct library_entry *entry;   /* whose current title it is, or NULL */
    struct list_node   idle;   /* in library.idle when refs is 1 and
                                  entry is set (lock)                    */
    size_t             bytes;  /* title_bytes()                          */
};

struct library_entry {
    char                 *rel;
    struct held_title    *current;   /* protected by library.lock        */
    int                   loading;   /* protected by library.lock        */
    struct library_entry *next;
};

struct library {
    char                 *root;
    struct cache         *cache;
    const struct title_options *opts;
    pthread_mutex_t       lock;
    pthread_cond_t        loaded;
    struct library_entry *buckets[LIBRARY_BUCKETS]; /* protected by lock */
    struct list           held;                     /* protected by lock */
    struct list           idle;   /* newest first; protected by lock     */
    size_t                idle_bytes;               /* protected by lock */
    atomic_uint_least64_t failed;                   /* analyses failed  */
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return h;
}

int library_new(struct library **out, const char *root, struct cache *cache,
                const struct title_options *o)
{
    struct library *l = calloc(1, sizeof(*l));
    *out = NULL;
    if (!l || !(l->root = strdup(root))) {
        free(l);
        return -ENOMEM;
    }
    l->cache = cache;
    l->opts = o;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->loaded, NULL);
    list_init(&l->held);
    list_init(&l->idle);
    *out = l;
    return 0;
}

void library_free(struct library **pl)
{
    struct library *l = pl ? *pl : NULL;
    if (!l)
        return;
    for (int i = 0; i < LIBRARY_BUCKETS; i++)
        for (struct library_entry *e = l->buckets[i], *n; e; e = n) {
            n = e->next;
            free(e->rel);
            free(e);
        }
    for (struct list_node *n = list_first(&l->held), *next; n != list_end(&l->held); n = next) {
        struct held_title *h = LIST_ENTRY(n, struct held_title, all);
        next = n->next;
        title_free(&h->title);
        free(h);
    }
    pthread_cond_destroy(&l->loaded);
    pthread_mutex_destroy(&l->lock);
    free(l->root);
    free(l);
    *pl = NULL;
}

/* What a title holds in memory, roughly: its arrays and texts. */
static size_t title_bytes(const struct title *t)
{
    size_t n = sizeof(*t) + (size_t)(t->nseg + 1) * 2 * sizeof(int64_t) +
               t->master_len + t->error_len;
    for (int i = 0; i < t->nrends; i++)
        n += sizeof(t->rends[i]) + (size_t)(t->nseg + 1) * sizeof(int64_t) +
             (size_t)t->nseg * sizeof(uint64_t) + t->rends[i].playlist_len;
    for (int i = 0; i < t->nsubs; i++)
        n += subtitle_track_bytes(t->subs[i], t->nseg);
    return n;
}

static void idle_remove(struct library *l, struct held_title *h)
{
    if (!list_linked(&h->idle))
        return;
    list_remove(&l->idle, &h->idle);
    l->idle_bytes -= h->bytes;
}

static void idle_push(struct library *l, struct held_title *h)
{
    list_push_front(&l->idle, &h->idle);
    l->idle_bytes += h->bytes;
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Read the title from the cache or analyse the source. */
static int load_title(struct library *l, const char *rel, const struct stat *st,
                      struct title **out)
{
    struct title_key key;
    char path[PATH_MAX];
    struct timespec t0;
    void *val = NULL;
    size_t vlen = 0;
    int ret;

    title_make_key(&key, st, l->opts);
    if (snprintf(path, sizeof(path), "%s%s", l->root, rel) >= (int)sizeof(path))
        return -ENAMETOOLONG;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ret = cache_get(l->cache, CACHE_TITLES, &key, sizeof(key), &val, &vlen);
    if (ret > 0) {
        ret = record_read(val, vlen, out);
        free(val);
        /* sidecar subtitle files added, changed or gone since: analysed
         * again (the video's segments stay what they were) */
        if (ret == 0 && !(*out)->error &&
            (*out)->sidecar_stamp != subtitle_sidecar_stamp(path)) {
            log_info("%s: its subtitle files changed, analysing it again", rel);
            title_free(out);
            ret = 1;
        }
        if (ret == 0) {
            log_info("%s: index loaded from cache in %.1f ms", rel, ms_since(&t0));
            return 0;
        }
        if (ret < 0)
            log_warn("%s: cached index unreadable, building it again", rel);
    } else if (ret < 0) {
        log_warn("%s: cache read failed: %s", rel, strerror(-ret));
    }

    struct probe *p = NULL;
    if ((ret = probe_source(path, NULL, &p)) < 0)
        return ret;
    double probe_ms = ms_since(&t0);
    ret = title_build(p, &key, l->opts, out);
    if (ret < 0 || (*out)->error)
        atomic_fetch_add(&l->failed, 1);
    if (ret == 0 && (*out)->error)
        log_warn("%s: cannot be served: %.*s", rel, (int)(*out)->error_len - 1,
                 (*out)->error);
    else if (ret == 0)
        log_info("%s: index built from %s in %.1f ms (%.1f ms index, the rest "
                 "sizes), %ld segments%s", rel, p->method, ms_since(&t0), probe_ms,
                 (*out)->nseg, vfilter_describe(title_video_filters(*out)));
    else
        log_error("%s: analysis failed: %s", rel, strerror(-ret));
    int keep = !p->error_not_kept;
    probe_free(&p);
    if (ret < 0 || !keep)
        return ret;

    uint8_t *buf = NULL;
    size_t len = 0;
    if (record_write(*out, &buf, &len) == 0) {
        int cr = cache_put(l->cache, CACHE_TITLES, &key, sizeof(key), buf, len);
        if (cr < 0)
            log_warn("%s: index not stored in the cache: %s", rel, strerror(-cr));
        free(buf);
    }
    return 0;
}

static int same_source(const struct title *t, const struct stat *st,
                       const struct title_options *o)
{
    struct title_key key;
    title_make_key(&key, st, o);
    return !memcmp(&key, &t->key, sizeof(key));
}

static void idle_trim(struct library *l);

/* Drop one reference; caller holds the lock. A current title left with
 * only its entry's reference becomes idle. */
static void release_locked(struct library *l, struct held_title *h)
{
    if (--h->refs > 0) {
        if (h->refs == 1 && h->entry && !list_linked(&h->idle)) {
            idle_push(l, h);
            idle_trim(l);
        }
        return;
    }
    idle_remove(l, h);
    if (h->entry && h->entry->current == h)
        h->entry->current = NULL;
    list_remove(&l->held, &h->all);
    title_free(&h->title);
    free(h);
}

/* Remove entry e (no current title, not loading) from its bucket. */
static void entry_drop(struct library *l, struct library_entry *e)
{
    struct library_entry **pe = &l->buckets[hash_str(e->rel) % LIBRARY_BUCKETS];
    while (*pe && *pe != e)
        pe = &(*pe)->next;
    if (*pe)
        *pe = e->next;
    free(e->rel);
    free(e);
}

/* Let the least recently used idle titles go, with their entries, while
 * there are too many or they hold too much. */
static void idle_trim(struct library *l)
{
    while (l->idle.n && (l->idle.n > LIBRARY_IDLE_MAX ||
                         l->idle_bytes > LIBRARY_IDLE_BYTES)) {
        struct held_title *h = LIST_ENTRY(list_last(&l->idle), struct held_title, idle);
        struct library_entry *e = h->entry;
        idle_remove(l, h);
        h->entry = NULL;
        e->current = NULL;
        if (!e->loading)
            entry_drop(l, e);
        release_locked(l, h);   /* the entry's reference: the last */
    }
}

/* Take a reference; caller holds the lock. */
static void hold_locked(struct library *l, struct held_title *h)
{
    idle_remove(l, h);
    h->refs++;
}

int library_get(struct library *l, const char *rel, const struct stat *st,
                struct title **out)
{
    struct library_entry *e;
    uint64_t b = hash_str(rel) % LIBRARY_BUCKETS;
    int ret;

    *out = NULL;
    pthread_mutex_lock(&l->lock);
    for (;;) {
        for (e = l->buckets[b]; e && strcmp(e->rel, rel); e = e->next)
            ;
        if (!e) {
            if (!(e = calloc(1, sizeof(*e))) || !(e->rel = strdup(rel))) {
                free(e);
                pthread_mutex_unlock(&l->lock);
                return -ENOMEM;
            }
            e->next = l->buckets[b];
            l->buckets[b] = e;
        }
        if (e->current && same_source(e->current->title, st, l->opts)) {
            hold_locked(l, e->current);
            *out = e->current->title;
            pthread_mutex_unlock(&l->lock);
            return 0;
        }
        if (!e->loading)
            break;
        pthread_cond_wait(&l->loaded, &l->lock);
    }
    e->loading = 1;
    pthread_mutex_unlock(&l->lock);

    struct title *t = NULL;
    struct held_title *h = NULL;
    ret = load_title(l, rel, st, &t);
    if (ret == 0 && (!(h = calloc(1, sizeof(*h))) ||
                     asprintf(&t->source_path, "%s%s", l->root, rel) < 0)) {
        t->source_path = NULL;
        free(h);
        h = NULL;
        title_free(&t);
        ret = -ENOMEM;
    }

    pthread_mutex_lock(&l->lock);
    e->loading = 0;
    if (ret == 0) {
        h->title = t;
        t->holder = h;
        h->bytes = title_bytes(t);
        h->refs = 2;            /* the entry's and the caller's */
        list_push_front(&l->held, &h->all);
        if (e->current) {       /* replaced: it lives on while referred to */
            struct held_title *old = e->current;
            idle_remove(l, old);
            old->entry = NULL;
            e->current = NULL;
            release_locked(l, old);
        }
        e->current = h;
        h->entry = e;
        *out = t;
    } else if (!e->current) {
        entry_drop(l, e);       /* nothing to keep; waiters look again */
    }
    pthread_cond_broadcast(&l->loaded);
    pthread_mutex_unlock(&l->lock);
    return ret;
}

void library_hold(struct library *l, struct title *t)
{
    pthread_mutex_lock(&l->lock);
    hold_locked(l, t->holder);
    pthread_mutex_unlock(&l->lock);
}

void library_hold_owner(void *library, void *title)
{
    library_hold(library, title);
}

void library_put_owner(void *library, void *title)
{
    library_put(library, title);
}

void library_put(struct library *l, struct title *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&l->lock);
    release_locked(l, t->holder);
    pthread_mutex_unlock(&l->lock);
}

uint64_t library_failed_analyses(struct library *l)
{
    return l ? atomic_load(&l->failed) : 0;
}

void library_get_stats(struct library *l, struct library_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (!l)
        return;
    pthread_mutex_lock(&l->lock);
    st->titles = l->held.n;
    st->idle = l->idle.n;
    st->idle_bytes = l->idle_bytes;
    pthread_mutex_unlock(&l->lock);
}
