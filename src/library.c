/*
 * library: path -> title table with reference counts and load-once.
 *
 * DESIGN
 * An entry holds the current title of one source path. library_get either
 * returns it (when the source identity still matches), waits while another
 * thread loads it, or loads it itself outside the lock: first from the
 * cache, else by probing the source and storing the result. A replaced
 * title lives on until its last reference is put.
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
#include "hlsfs/log.h"
#include "hlsfs/probe.h"
#include "hlsfs/title.h"

#define LIBRARY_BUCKETS 4096

struct held_title {            /* a title and its references             */
    struct title      *title;
    int                refs;   /* protected by library.lock              */
    struct held_title *next_all, *prev_all;  /* protected by library.lock */
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
    struct held_title    *held;                     /* protected by lock */
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
    for (struct held_title *h = l->held, *n; h; h = n) {
        n = h->next_all;
        title_free(&h->title);
        free(h);
    }
    pthread_cond_destroy(&l->loaded);
    pthread_mutex_destroy(&l->lock);
    free(l->root);
    free(l);
    *pl = NULL;
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
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ret = cache_get(l->cache, CACHE_TITLES, &key, sizeof(key), &val, &vlen);
    if (ret > 0) {
        ret = title_deserialize(val, vlen, out);
        free(val);
        if (ret == 0) {
            log_info("%s: index loaded from cache in %.1f ms", rel, ms_since(&t0));
            return 0;
        }
        log_warn("%s: cached index unreadable, building it again", rel);
    } else if (ret < 0) {
        log_warn("%s: cache read failed: %s", rel, strerror(-ret));
    }

    if (snprintf(path, sizeof(path), "%s%s", l->root, rel) >= (int)sizeof(path))
        return -ENAMETOOLONG;
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
                 "sizes), %ld segments", rel, p->method, ms_since(&t0), probe_ms,
                 (*out)->nseg);
    else
        log_error("%s: analysis failed: %s", rel, strerror(-ret));
    probe_free(&p);
    if (ret < 0)
        return ret;

    uint8_t *buf = NULL;
    size_t len = 0;
    if (title_serialize(*out, &buf, &len) == 0) {
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

/* Drop one reference; caller holds the lock. */
static void release_locked(struct library *l, struct held_title *h)
{
    if (--h->refs > 0)
        return;
    if (h->prev_all)
        h->prev_all->next_all = h->next_all;
    else
        l->held = h->next_all;
    if (h->next_all)
        h->next_all->prev_all = h->prev_all;
    title_free(&h->title);
    free(h);
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
            e->current->refs++;
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
        h->refs = 2;            /* the entry's and the caller's */
        h->next_all = l->held;
        if (l->held)
            l->held->prev_all = h;
        l->held = h;
        if (e->current)
            release_locked(l, e->current);
        e->current = h;
        *out = t;
    }
    pthread_cond_broadcast(&l->loaded);
    pthread_mutex_unlock(&l->lock);
    return ret;
}

void library_hold(struct library *l, struct title *t)
{
    pthread_mutex_lock(&l->lock);
    ((struct held_title *)t->holder)->refs++;
    pthread_mutex_unlock(&l->lock);
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
