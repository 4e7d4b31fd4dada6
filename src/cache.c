/*
 * cache: LMDB environment, its tables and the translation of LMDB's error
 * codes into negative errno values (the only place that sees them).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

#include "hlsfs/cache.h"
#include "hlsfs/log.h"

struct cache {
    MDB_env *env;
    MDB_dbi  dbi[CACHE_NTABLES];
    char    *dir;
};

static const char *const table_names[CACHE_NTABLES] = { "titles", "segments" };

/* LMDB's codes -> negative errno */
static int cache_errno(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:       return 0;
    case MDB_NOTFOUND:      return -ENOENT;
    case MDB_MAP_FULL:      return -ENOSPC;
    case MDB_READERS_FULL:  return -EAGAIN;
    case MDB_MAP_RESIZED:   return -EAGAIN;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
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

int cache_open(struct cache **out, const char *dir, uint64_t map_size)
{
    struct cache *c = calloc(1, sizeof(*c));
    MDB_txn *txn = NULL;
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
    if ((rc = mdb_env_create(&c->env)) ||
        (rc = mdb_env_set_mapsize(c->env, map_size)) ||
        (rc = mdb_env_set_maxdbs(c->env, CACHE_NTABLES)) ||
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

    if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)))
        goto lmdb_fail;
    for (int i = 0; i < CACHE_NTABLES; i++)
        if ((rc = mdb_dbi_open(txn, table_names[i], MDB_CREATE, &c->dbi[i])))
            goto lmdb_fail;
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
    rc = mdb_get(txn, c->dbi[t], &k, &v);
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

int cache_has(struct cache *c, enum cache_table t, const void *key,
              size_t klen)
{
    MDB_txn *txn;
    MDB_val k = { klen, (void *)key }, v;
    int rc, ret;

    if ((rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn)))
        return cache_errno(rc);
    rc = mdb_get(txn, c->dbi[t], &k, &v);
    ret = rc == MDB_NOTFOUND ? 0 : rc ? cache_errno(rc) : 1;
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
    if ((rc = mdb_put(txn, c->dbi[t], &k, &v, MDB_RESERVE))) {
        mdb_txn_abort(txn);
        return cache_errno(rc);
    }
    memcpy(v.mv_data, val, vlen);
    return cache_errno(mdb_txn_commit(txn));
}
