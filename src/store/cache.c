/*
 * cache: LMDB environment, its tables and the translation of LMDB's error
 * codes into negative errno values (the only place that sees them).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <lmdb.h>

#include "hlsfs/cache.h"
#include "hlsfs/log.h"

/* What "seginfo" holds for a segment (host byte order: the cache is a
 * file of this machine). */
struct seg_record {
    uint32_t magic;
    uint32_t nchunks;
    uint64_t size;
    int64_t  stored_ms;
    int64_t  read_ms;
};
#define SEG_RECORD_MAGIC 0x48534731u    /* "HSG1" */

enum { DBI_TITLES, DBI_SEGINFO, DBI_CHUNKS, DBI_META, NDBI };

struct cache {
    MDB_env *env;
    MDB_dbi  dbi[NDBI];
    char    *dir;
    uint64_t map_size;
    size_t   page_size;
    size_t   chunk;             /* bytes per chunk                       */
};

static const char *const dbi_names[NDBI] = { "titles", "seginfo", "chunks", "meta" };

/* A chunk fills a run of this many pages exactly (LMDB puts a 16-byte
 * header on the first page of a large value). */
#define CHUNK_PAGES 16
#define OVERFLOW_HEADER 16

/* LMDB's codes -> negative errno */
static int cache_errno(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:       return 0;
    case MDB_NOTFOUND:      return -ENOENT;
    case MDB_MAP_FULL:      return -ENOSPC;
    case MDB_TXN_FULL:      return -ENOSPC;
    case MDB_READERS_FULL:  return -EAGAIN;
    case MDB_MAP_RESIZED:   return -EAGAIN;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_INCOMPATIBLE:
    case MDB_VERSION_MISMATCH: return -EIO;
    default:                return rc > 0 ? -rc : -EIO;
    }
}

static int mkdir_p(const char *dir)
{
    char buf[PATH_MAX];
    size_t len = strlen(dir);
    if (len >= sizeof(buf))
        return -ENAMETOOLONG;
    memcpy(buf, dir, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The table of a public table id. */
static MDB_dbi table_dbi(const struct cache *c, enum cache_table t)
{
    (void) t;                   /* CACHE_TITLES is the only one */
    return c->dbi[DBI_TITLES];
}

int cache_open(struct cache **out, const char *dir, uint64_t map_size)
{
    struct cache *c = calloc(1, sizeof(*c));
    MDB_txn *txn = NULL;
    MDB_stat ms;
    MDB_dbi old;
    int rc, ret;

    *out = NULL;
    if (!c)
        return -ENOMEM;
    if ((ret = mkdir_p(dir)) < 0) {
        log_error("cache: cannot create %s: %s", dir, strerror(-ret));
        goto fail;
    }
    if (!(c->dir = strdup(dir))) {
        ret = -ENOMEM;
        goto fail;
    }
    c->map_size = map_size;
    if ((rc = mdb_env_create(&c->env)) ||
        (rc = mdb_env_set_mapsize(c->env, map_size)) ||
        (rc = mdb_env_set_maxdbs(c->env, 8)) ||
        (rc = mdb_env_set_maxreaders(c->env, 256)) ||
        (rc = mdb_env_open(c->env, dir, MDB_NOTLS | MDB_NOMETASYNC, 0644))) {
        log_error("cache: cannot open LMDB in %s: %s", dir, mdb_strerror(rc));
        ret = cache_errno(rc);
        goto fail;
    }
    int stale = 0;
    mdb_reader_check(c->env, &stale);
    if (stale)
        log_info("cache: cleared %d stale reader slot(s) in %s", stale, dir);
    if ((rc = mdb_env_stat(c->env, &ms)))
        goto lmdb_fail;
    c->page_size = ms.ms_psize;
    c->chunk = CHUNK_PAGES * c->page_size - OVERFLOW_HEADER;

    if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)))
        goto lmdb_fail;
    for (int i = 0; i < NDBI; i++)
        if ((rc = mdb_dbi_open(txn, dbi_names[i], MDB_CREATE, &c->dbi[i])))
            goto lmdb_fail;
    /* whole-segment values of an older hlsfs: their space is given back */
    if (mdb_dbi_open(txn, "segments", 0, &old) == MDB_SUCCESS) {
        if ((rc = mdb_drop(txn, old, 1)))
            goto lmdb_fail;
        log_info("cache: dropped the segments of an older cache layout");
    }
    if ((rc = mdb_txn_commit(txn))) {
        txn = NULL;
        goto lmdb_fail;
    }
    *out = c;
    return 0;

lmdb_fail:
    log_error("cache: %s: %s", dir, mdb_strerror(rc));
    ret = cache_errno(rc);
    if (txn)
        mdb_txn_abort(txn);
fail:
    cache_close(&c);
    return ret;
}

void cache_close(struct cache **pc)
{
    struct cache *c = pc ? *pc : NULL;
    if (!c)
        return;
    if (c->env)
        mdb_env_close(c->env);
    free(c->dir);
    free(c);
    *pc = NULL;
}

size_t cache_chunk_size(const struct cache *c)
{
    return c->chunk;
}

/* ---- generic tables -------------------------------------------------- */

int cache_get(struct cache *c, enum cache_table t, const void *key,
              size_t klen, void **val, size_t *vlen)
{
    MDB_txn *txn;
    MDB_val k = { klen, (void *)key }, v;
    int rc, ret;

    *val = NULL;
    *vlen = 0;
    if ((rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn)))
        return cache_errno(rc);
    rc = mdb_get(txn, table_dbi(c, t), &k, &v);
    if (rc == MDB_NOTFOUND) {
        ret = 0;
    } else if (rc) {
        ret = cache_errno(rc);
    } else if (!(*val = malloc(v.mv_size ? v.mv_size : 1))) {
        ret = -ENOMEM;
    } else {
        /* the value lives in the map only until the transaction ends */
        memcpy(*val, v.mv_data, v.mv_size);
        *vlen = v.mv_size;
        ret = 1;
    }
    mdb_txn_abort(txn);
    return ret;
}

int cache_put(struct cache *c, enum cache_table t, const void *key,
              size_t klen, const void *val, size_t vlen)
{
    MDB_txn *txn;
    MDB_val k = { klen, (void *)key }, v = { vlen, NULL };
    int rc;

    if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)))
        return cache_errno(rc);
    if ((rc = mdb_put(txn, table_dbi(c, t), &k, &v, MDB_RESERVE))) {
        mdb_txn_abort(txn);
        return cache_errno(rc);
    }
    memcpy(v.mv_data, val, vlen);
    return cache_errno(mdb_txn_commit(txn));
}

int cache_del(struct cache *c, enum cache_table t, const void *key,
              size_t klen)
{
    MDB_txn *txn;
    MDB_val k = { klen, (void *)key };
    int rc;

    if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)))
        return cache_errno(rc);
    rc = mdb_del(txn, table_dbi(c, t), &k, NULL);
    if (rc && rc != MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return cache_errno(rc);
    }
    return cache_errno(mdb_txn_commit(txn));
}

/* Call fn for every entry of table dbi, in key order, in one read
 * transaction, until it returns non-zero. */
static int each_entry(struct cache *c, MDB_dbi dbi,
                      int (*fn)(void *arg, const MDB_val *k, const MDB_val *v),
                      void *arg)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    if ((rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn)))
        return cache_errno(rc);
    if ((rc = mdb_cursor_open(txn, dbi, &cur))) {
        mdb_txn_abort(txn);
        return cache_errno(rc);
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if (fn(arg, &k, &v))
            break;
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc == MDB_SUCCESS || rc == MDB_NOTFOUND ? 0 : cache_errno(rc);
}

struct each_key {
    int (*fn)(void *arg, const void *key, size_t klen, size_t vlen);
    void *arg;
};

static int each_key_entry(void *arg, const MDB_val *k, const MDB_val *v)
{
    const struct each_key *ek = arg;
    return ek->fn(ek->arg, k->mv_data, k->mv_size, v->mv_size);
}

int cache_each_key(struct cache *c, enum cache_table t,
                   int (*fn)(void *arg, const void *key, size_t klen,
                             size_t vlen),
                   void *arg)
{
    struct each_key ek = { fn, arg };
    return each_entry(c, table_dbi(c, t), each_key_entry, &ek);
}

/* ---- segments -------------------------------------------------------- */

size_t cache_segment_key(uint8_t *out, const uint8_t *rkey, size_t rlen,
                         long seg)
{
    uint32_t i = (uint32_t)seg;

    memcpy(out, rkey, rlen);
    out[rlen]     = (uint8_t)(i >> 24);
    out[rlen + 1] = (uint8_t)(i >> 16);
    out[rlen + 2] = (uint8_t)(i >> 8);
    out[rlen + 3] = (uint8_t)i;
    return rlen + 4;
}

long cache_segment_index(const uint8_t *key, size_t klen)
{
    const uint8_t *p = key + klen - 4;
    return (long)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
                  (uint32_t)p[2] << 8 | p[3]);
}

/* The key of chunk i of a segment: segment key + 2-byte index. */
static size_t chunk_key(uint8_t *out, const uint8_t *key, size_t klen,
                        uint32_t i)
{
    memcpy(out, key, klen);
    out[klen] = (uint8_t)(i >> 8);
    out[klen + 1] = (uint8_t)i;
    return klen + 2;
}

static int read_record(MDB_txn *txn, const struct cache *c, const uint8_t *key,
                       size_t klen, struct seg_record *rec)
{
    MDB_val k = { klen, (void *)key }, v;
    int rc = mdb_get(txn, c->dbi[DBI_SEGINFO], &k, &v);

    if (rc)
        return rc;
    if (v.mv_size != sizeof(*rec))
        return MDB_INCOMPATIBLE;
    memcpy(rec, v.mv_data, sizeof(*rec));
    return rec->magic == SEG_RECORD_MAGIC ? 0 : MDB_INCOMPATIBLE;
}

int cache_segment_get(struct cache *c, const uint8_t *key, size_t klen,
                      void **val, size_t *vlen)
{
    uint8_t ck[CACHE_KEY_MAX + 2];
    struct seg_record rec;
    MDB_txn *txn;
    MDB_val k, v;
    uint8_t *buf = NULL;
    uint64_t off = 0;
    int rc, ret;

    *val = NULL;
    *vlen = 0;
    if (klen > CACHE_KEY_MAX)
        return -EINVAL;
    if ((rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn)))
        return cache_errno(rc);
    rc = read_record(txn, c, key, klen, &rec);
    if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE) {
        ret = 0;
        goto out;
    }
    if (rc) {
        ret = cache_errno(rc);
        goto out;
    }
    if (rec.size > SIZE_MAX - 1 || !(buf = malloc(rec.size ? rec.size : 1))) {
        ret = -ENOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < rec.nchunks; i++) {
        k.mv_size = chunk_key(ck, key, klen, i);
        k.mv_data = ck;
        if ((rc = mdb_get(txn, c->dbi[DBI_CHUNKS], &k, &v)) ||
            v.mv_size > rec.size - off) {
            /* cannot happen with records written by cache_segment_put */
            log_error("cache: segment record without its chunk %u", i);
            ret = 0;
            goto out;
        }
        memcpy(buf + off, v.mv_data, v.mv_size);
        off += v.mv_size;
    }
    if (off != rec.size) {
        log_error("cache: segment chunks hold %" PRIu64 " of %" PRIu64
                  " bytes", off, rec.size);
        ret = 0;
        goto out;
    }
    *val = buf;
    *vlen = (size_t)rec.size;
    buf = NULL;
    ret = 1;
out:
    mdb_txn_abort(txn);
    free(buf);
    return ret;
}

int cache_segment_has(struct cache *c, const uint8_t *key, size_t klen)
{
    struct seg_record rec;
    MDB_txn *txn;
    int rc, ret;

    if ((rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn)))
        return cache_errno(rc);
    rc = read_record(txn, c, key, klen, &rec);
    ret = rc == 0 ? 1 : rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE ? 0
                                                                     : cache_errno(rc);
    mdb_txn_abort(txn);
    return ret;
}

/* Delete a segment's record and chunks inside txn. Returns its size in
 * *size (0 when absent) and an LMDB code. */
static int delete_segment(MDB_txn *txn, const struct cache *c,
                          const uint8_t *key, size_t klen, uint64_t *size)
{
    uint8_t ck[CACHE_KEY_MAX + 2];
    struct seg_record rec;
    MDB_val k;
    int rc;

    *size = 0;
    rc = read_record(txn, c, key, klen, &rec);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc && rc != MDB_INCOMPATIBLE)
        return rc;
    if (rc == 0) {
        *size = rec.size;
        for (uint32_t i = 0; i < rec.nchunks; i++) {
            k.mv_size = chunk_key(ck, key, klen, i);
            k.mv_data = ck;
            if ((rc = mdb_del(txn, c->dbi[DBI_CHUNKS], &k, NULL)) &&
                rc != MDB_NOTFOUND)
                return rc;
        }
    }
    k.mv_size = klen;
    k.mv_data = (void *)key;
    rc = mdb_del(txn, c->dbi[DBI_SEGINFO], &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int cache_segment_put(struct cache *c, const uint8_t *key, size_t klen,
                      const void *data, size_t len)
{
    uint8_t ck[CACHE_KEY_MAX + 2];
    struct seg_record rec = { .magic = SEG_RECORD_MAGIC };
    MDB_txn *txn;
    MDB_val k, v;
    uint64_t old;
    size_t off = 0;
    int rc;

    if (klen > CACHE_KEY_MAX || len / c->chunk >= 0xffff)
        return -EINVAL;
    if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)))
        return cache_errno(rc);
    if ((rc = delete_segment(txn, c, key, klen, &old)))
        goto fail;
    rec.size = len;
    rec.nchunks = (uint32_t)((len + c->chunk - 1) / c->chunk);
    rec.stored_ms = rec.read_ms = wall_ms();
    for (uint32_t i = 0; i < rec.nchunks; i++) {
        k.mv_size = chunk_key(ck, key, klen, i);
        k.mv_data = ck;
        v.mv_size = len - off < c->chunk ? len - off : c->chunk;
        v.mv_data = NULL;
        if ((rc = mdb_put(txn, c->dbi[DBI_CHUNKS], &k, &v, MDB_RESERVE)))
            goto fail;
        memcpy(v.mv_data, (const uint8_t *)data + off, v.mv_size);
        off += v.mv_size;
    }
    k.mv_size = klen;
    k.mv_data = (void *)key;
    v.mv_size = sizeof(rec);
    v.mv_data = &rec;
    if ((rc = mdb_put(txn, c->dbi[DBI_SEGINFO], &k, &v, 0)))
        goto fail;
    return cache_errno(mdb_txn_commit(txn));
fail:
    mdb_txn_abort(txn);
    return cache_errno(rc);
}

int cache_segments_del(struct cache *c, const uint8_t *const *keys,
                       const size_t *klens, int n, uint64_t *freed)
{
    MDB_txn *txn;
    uint64_t size, total = 0;
    int rc, deleted = 0;

    if (freed)
        *freed = 0;
    if (n <= 0)
        return 0;
    if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)))
        return cache_errno(rc);
    for (int i = 0; i < n; i++) {
        if ((rc = delete_segment(txn, c, keys[i], klens[i], &size))) {
            mdb_txn_abort(txn);
            return cache_errno(rc);
        }
        if (size) {
            total += size;
            deleted++;
        }
    }
    if ((rc = mdb_txn_commit(txn)))
        return cache_errno(rc);
    if (freed)
        *freed = total;
    return deleted;
}

struct each_segment {
    int (*fn)(void *arg, const struct cache_segment_info *);
    void *arg;
};

static int each_segment_entry(void *arg, const MDB_val *k, const MDB_val *v)
{
    const struct each_segment *es = arg;
    struct cache_segment_info info;
    struct seg_record rec;

    if (v->mv_size != sizeof(rec) || k->mv_size <= 4)
        return 0;
    memcpy(&rec, v->mv_data, sizeof(rec));
    if (rec.magic != SEG_RECORD_MAGIC)
        return 0;
    info.key = k->mv_data;
    info.klen = k->mv_size;
    info.size = rec.size;
    info.stored_ms = rec.stored_ms;
    info.read_ms = rec.read_ms;
    return es->fn(es->arg, &info);
}

int cache_segments_each(struct cache *c,
                        int (*fn)(void *arg, const struct cache_segment_info *),
                        void *arg)
{
    struct each_segment es = { fn, arg };
    return each_entry(c, c->dbi[DBI_SEGINFO], each_segment_entry, &es);
}

int cache_segments_touch(struct cache *c, const struct cache_touch *t, int n)
{
    struct seg_record rec;
    MDB_txn *txn;
    MDB_val k, v;
    int rc;

    if (n <= 0)
        return 0;
    if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)))
        return cache_errno(rc);
    for (int i = 0; i < n; i++) {
        rc = read_record(txn, c, t[i].key, t[i].klen, &rec);
        if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE ||
            (rc == 0 && t[i].read_ms <= rec.read_ms))
            continue;               /* gone, or nothing newer */
        if (rc)
            goto fail;
        rec.read_ms = t[i].read_ms;
        k.mv_size = t[i].klen;
        k.mv_data = (void *)t[i].key;
        v.mv_size = sizeof(rec);
        v.mv_data = &rec;
        if ((rc = mdb_put(txn, c->dbi[DBI_SEGINFO], &k, &v, 0)))
            goto fail;
    }
    return cache_errno(mdb_txn_commit(txn));
fail:
    mdb_txn_abort(txn);
    return cache_errno(rc);
}

int cache_advance(struct cache *c)
{
    static const char key[] = "generation";
    MDB_txn *txn;
    MDB_val k = { sizeof(key) - 1, (void *)key }, v;
    uint64_t gen = 0;
    int rc;

    if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)))
        return cache_errno(rc);
    if (mdb_get(txn, c->dbi[DBI_META], &k, &v) == 0 && v.mv_size == sizeof(gen))
        memcpy(&gen, v.mv_data, sizeof(gen));
    gen++;
    v.mv_size = sizeof(gen);
    v.mv_data = &gen;
    if ((rc = mdb_put(txn, c->dbi[DBI_META], &k, &v, 0))) {
        mdb_txn_abort(txn);
        return cache_errno(rc);
    }
    return cache_errno(mdb_txn_commit(txn));
}

int cache_get_usage(struct cache *c, struct cache_usage *u)
{
    MDB_envinfo info;
    MDB_stat st;
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    uint64_t free_pages = 0, pages;
    int rc;

    memset(u, 0, sizeof(*u));
    u->cap = c->map_size;
    if ((rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn)))
        return cache_errno(rc);
    if ((rc = mdb_env_info(c->env, &info)))
        goto out;
    /* the free list (table 0): each record is a page list whose first
     * word is its length */
    if ((rc = mdb_cursor_open(txn, 0, &cur)))
        goto out;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if (v.mv_size >= sizeof(size_t))
            free_pages += *(const size_t *)v.mv_data;
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        goto out;
    if ((rc = mdb_stat(txn, c->dbi[DBI_SEGINFO], &st)))
        goto out;
    pages = (uint64_t)info.me_last_pgno + 1;
    u->file = pages * c->page_size;
    u->used = (pages > free_pages ? pages - free_pages : 0) * c->page_size;
    u->segments = st.ms_entries;
out:
    mdb_txn_abort(txn);
    return cache_errno(rc);
}
