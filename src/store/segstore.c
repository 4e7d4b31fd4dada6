/*
 * segstore: the segment store seen from outside src/store. It turns a
 * (rendition key, index) into the cache key (cache_segment_key: the
 * rendition key and the 4-byte big-endian index, the layout of every cache
 * written so far) and hands the call to cache.c or evict.c: the
 * scheduler's struct segstore_ops, and the pins of open segments.
 *
 * It holds no state of its own but the two pointers: LMDB's locks and the
 * evictor's are taken inside those modules.
 */
#include <errno.h>
#include <stdlib.h>

#include "hlsfs/cache.h"
#include "hlsfs/evict.h"
#include "hlsfs/segstore.h"

_Static_assert(SEGSTORE_RKEY_MAX + 4 <= CACHE_KEY_MAX,
               "a rendition key and an index fit a cache key");

struct segstore {
    struct cache *cache;
    struct evict *evict;        /* may be NULL */
};

/* The cache key of segment seg of rkey into key; 0 when rkey is empty or
 * too long. */
static size_t seg_key(uint8_t key[CACHE_KEY_MAX], const uint8_t *rkey,
                      size_t rlen, long seg)
{
    if (!rlen || rlen > SEGSTORE_RKEY_MAX || seg < 0 ||
        (unsigned long)seg > UINT32_MAX)
        return 0;
    return cache_segment_key(key, rkey, rlen, seg);
}

int segstore_new(struct segstore **out, struct cache *c, struct evict *e)
{
    struct segstore *s;

    *out = NULL;
    if (!c)
        return -EINVAL;
    if (!(s = calloc(1, sizeof(*s))))
        return -ENOMEM;
    s->cache = c;
    s->evict = e;
    *out = s;
    return 0;
}

void segstore_free(struct segstore **ps)
{
    if (!ps || !*ps)
        return;
    free(*ps);
    *ps = NULL;
}

static int op_get(void *ctx, const uint8_t *rkey, size_t rlen, long seg,
                  void **val, size_t *len)
{
    struct segstore *s = ctx;
    uint8_t key[CACHE_KEY_MAX];
    size_t klen = seg_key(key, rkey, rlen, seg);

    *val = NULL;
    *len = 0;
    return klen ? cache_segment_get(s->cache, key, klen, val, len) : -EINVAL;
}

static int op_has(void *ctx, const uint8_t *rkey, size_t rlen, long seg)
{
    struct segstore *s = ctx;
    uint8_t key[CACHE_KEY_MAX];
    size_t klen = seg_key(key, rkey, rlen, seg);

    return klen ? cache_segment_has(s->cache, key, klen) : -EINVAL;
}

static int op_put(void *ctx, const uint8_t *rkey, size_t rlen, long seg,
                  const void *data, size_t len)
{
    struct segstore *s = ctx;
    uint8_t key[CACHE_KEY_MAX];
    size_t klen = seg_key(key, rkey, rlen, seg);

    return klen ? cache_segment_put(s->cache, key, klen, data, len) : -EINVAL;
}

static void op_touch(void *ctx, const uint8_t *rkey, size_t rlen, long seg)
{
    struct segstore *s = ctx;
    uint8_t key[CACHE_KEY_MAX];
    size_t klen = seg_key(key, rkey, rlen, seg);

    if (klen)
        evict_touch(s->evict, key, klen);
}

static int64_t op_evict(void *ctx, int force, const struct segstore_reader *rd,
                        int n)
{
    struct segstore *s = ctx;
    return evict_run(s->evict, force, rd, n);
}

static int op_drop(void *ctx, const uint8_t *rkey, size_t rlen, long from,
                   long to)
{
    struct segstore *s = ctx;
    return evict_behind(s->evict, rkey, rlen, from, to);
}

void segstore_bind(struct segstore *s, struct segstore_ops *ops)
{
    *ops = (struct segstore_ops){
        .ctx = s, .get = op_get, .has = op_has, .put = op_put,
    };
    if (s->evict) {
        ops->touch = op_touch;
        ops->evict = op_evict;
        ops->drop = op_drop;
        ops->segment_keep = evict_segment_keep(s->evict);
        ops->eager = evict_is_eager(s->evict);
    }
}

int segstore_pin(struct segstore *s, const uint8_t *rkey, size_t rlen,
                 long seg)
{
    uint8_t key[CACHE_KEY_MAX];
    size_t klen = seg_key(key, rkey, rlen, seg);

    if (!klen)
        return -EINVAL;
    if (s && s->evict)
        evict_pin(s->evict, key, klen);
    return 0;
}

void segstore_unpin(struct segstore *s, const uint8_t *rkey, size_t rlen,
                    long seg)
{
    uint8_t key[CACHE_KEY_MAX];
    size_t klen = seg_key(key, rkey, rlen, seg);

    if (klen && s && s->evict)
        evict_unpin(s->evict, key, klen);
}
