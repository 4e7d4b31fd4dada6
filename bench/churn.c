/*
 * churn: write throughput of the segment cache when empty and when full.
 *
 *     churn DIR CAP_BYTES [SEED [CAPS]]
 *
 * Opens a fresh cache in DIR capped at CAP_BYTES and stores segments of
 * 0.3-3 MB (uniform, deterministic from SEED) of several renditions the
 * way the scheduler has the store do it (src/sched/session.c, job_store,
 * through src/store/segstore.c): cache_segment_put; on -ENOSPC
 * evict_run(force = 1) and one more put; evict_run(force = 0) after every
 * stored segment. It goes on until four caps' worth have been
 * written: one to fill the cache, three more of churn, where every store
 * needs evictions and reuses the pages freed by them (CAPS, default 4,
 * changes how many caps are written).
 *
 * The point is fragmentation: LMDB puts a large value on a run of
 * contiguous pages, so freed space can break into runs too short for the
 * next value, making writes slow (long free-list searches) or growing the
 * file. Reported as key=value lines: MB/s (10^6 bytes per second of wall
 * time around put + evictions) over the first cap written (empty cache)
 * and over the last one (full, after three caps of churn), the same per
 * CPU-second of this process (less disturbed by other load), the peak size
 * of data.mdb (stat after every store) against the cap, failed stores,
 * evictions and the final live bytes. Exit status 1 when a store failed
 * or the file passed the cap, 2 on a usage or setup error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "hlsfs/cache.h"
#include "hlsfs/evict.h"
#include "hlsfs/log.h"

#define SEG_MIN   300000u           /* bytes of the smallest segment     */
#define SEG_MAX   3000000u          /* and of the largest                */
#define NREND     12                /* renditions written interleaved    */
#define MAX_CAPS  64                /* caps written at most              */

static uint64_t rng_state;

/* splitmix64: deterministic, the same on every machine */
static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double clock_s(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

/* CPU time of this process, user + system */
static double cpu_s(void)
{
    return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static int64_t file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

int main(int argc, char **argv)
{
    static const char *const names[] = {
        "video/1080p", "video/720p", "video/480p", "audio/0",
    };
    struct rendition {
        uint8_t key[CACHE_KEY_MAX];
        size_t  len;
        long    next;               /* next segment index                */
    } rend[NREND];
    double q_time[MAX_CAPS] = { 0 }, q_put[MAX_CAPS] = { 0 };
    double q_cpu[MAX_CAPS] = { 0 };
    uint64_t q_bytes[MAX_CAPS] = { 0 };
    uint64_t cap, written = 0, segments = 0, peak_used = 0;
    int64_t peak_file = 0, fsz;
    long failures = 0, retries = 0;
    struct cache *c = NULL;
    struct evict *e = NULL;
    struct cache_usage u;
    struct evict_stats st;
    uint8_t *pool;
    char *end, path[4096];
    double t_all;
    int rc, ncaps = 4;

    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: %s DIR CAP_BYTES [SEED [CAPS]]\n", argv[0]);
        return 2;
    }
    errno = 0;
    cap = strtoull(argv[2], &end, 10);
    if (errno || *end || cap < (64u << 20)) {
        fprintf(stderr, "churn: CAP_BYTES must be a number >= 64 MiB\n");
        return 2;
    }
    rng_state = argc >= 4 ? strtoull(argv[3], NULL, 10) : 1;
    if (argc == 5 && ((ncaps = atoi(argv[4])) < 2 || ncaps > MAX_CAPS)) {
        fprintf(stderr, "churn: CAPS must be 2 to %d\n", MAX_CAPS);
        return 2;
    }
    if (snprintf(path, sizeof(path), "%s/data.mdb", argv[1]) >= (int)sizeof(path)) {
        fprintf(stderr, "churn: DIR too long\n");
        return 2;
    }
    if (file_size(path) >= 0) {
        fprintf(stderr, "churn: %s exists; DIR must hold no cache\n", path);
        return 2;
    }

    log_setup(0, LOG_LVL_WARN);     /* evict_run logs every run at info */
    if ((rc = cache_open(&c, argv[1], cap)) < 0) {
        fprintf(stderr, "churn: cache_open %s: %s\n", argv[1], strerror(-rc));
        return 2;
    }
    if ((rc = evict_new(&e, c, NULL)) < 0) {
        fprintf(stderr, "churn: evict_new: %s\n", strerror(-rc));
        cache_close(&c);
        return 2;
    }

    /* segment bytes: windows of one random pool (LMDB does not look at
     * them; making them is kept out of the timing) */
    if (!(pool = malloc(2 * SEG_MAX))) {
        fprintf(stderr, "churn: out of memory\n");
        return 2;
    }
    for (size_t i = 0; i + 8 <= 2 * SEG_MAX; i += 8) {
        uint64_t x = rng_next();
        memcpy(pool + i, &x, 8);
    }

    /* rendition keys shaped like the daemon's: title identity, rendition
     * name, encode options */
    for (int r = 0; r < NREND; r++) {
        char k[CACHE_KEY_MAX];
        int n = snprintf(k, sizeof(k),
                         "/srv/media/Films/title-%02d.mkv|dev=2049,ino=%d,"
                         "size=%d,mtime=1700000000|%s|veryfast,2800k",
                         r / 4, 131072 + r / 4, 734003200 + r / 4,
                         names[r % 4]);
        memcpy(rend[r].key, k, (size_t)n);
        rend[r].len = (size_t)n;
        rend[r].next = 0;
    }

    t_all = now_s();
    while (written < (uint64_t)ncaps * cap) {
        struct rendition *r = &rend[rng_next() % NREND];
        size_t size = SEG_MIN + (size_t)(rng_next() % (SEG_MAX - SEG_MIN + 1));
        const uint8_t *data = pool + rng_next() % SEG_MAX;
        int q = (int)(written / cap);
        uint8_t key[CACHE_KEY_MAX];
        size_t klen = cache_segment_key(key, r->key, r->len, r->next++);
        double t0, t1, c0 = cpu_s();

        t0 = now_s();
        rc = cache_segment_put(c, key, klen, data, size);
        if (rc == -ENOSPC) {
            retries++;
            if (evict_run(e, 1, NULL, 0) >= 0)
                rc = cache_segment_put(c, key, klen, data, size);
        }
        t1 = now_s();
        if (rc < 0) {
            if (failures++ < 5)
                fprintf(stderr, "churn: segment %" PRIu64 " (%zu bytes) "
                        "not stored: %s\n", segments, size, strerror(-rc));
        } else {
            evict_run(e, 0, NULL, 0);    /* errors: st.errors */
        }
        q_time[q] += now_s() - t0;
        q_cpu[q] += cpu_s() - c0;
        q_put[q] += t1 - t0;
        q_bytes[q] += size;
        written += size;
        segments++;

        if ((fsz = file_size(path)) > peak_file)
            peak_file = fsz;
        if (cache_get_usage(c, &u) == 0 && u.used > peak_used)
            peak_used = u.used;
    }
    t_all = now_s() - t_all;

    evict_get_stats(e, &st);
    if (cache_get_usage(c, &u) < 0)
        memset(&u, 0, sizeof(u));
    fsz = file_size(path);

    double mbps[MAX_CAPS], cpu_mbps[MAX_CAPS];
    for (int q = 0; q < ncaps; q++) {
        mbps[q] = q_time[q] > 0 ? (double)q_bytes[q] / q_time[q] / 1e6 : 0;
        cpu_mbps[q] = q_cpu[q] > 0 ? (double)q_bytes[q] / q_cpu[q] / 1e6 : 0;
    }
    uint64_t evicted = 0;
    for (int i = 0; i < EVICT_NREASONS; i++)
        evicted += st.count[i];

    printf("cap_bytes=%" PRIu64 "\n", cap);
    printf("chunk_bytes=%zu\n", cache_chunk_size(c));
    printf("seed=%s\n", argc >= 4 ? argv[3] : "1");
    printf("caps_written=%d\n", ncaps);
    printf("segments=%" PRIu64 "\n", segments);
    printf("written_bytes=%" PRIu64 "\n", written);
    printf("elapsed_s=%.2f\n", t_all);
    printf("empty_mbps=%.1f\n", mbps[0]);
    printf("full_mbps=%.1f\n", mbps[ncaps - 1]);
    printf("ratio=%.3f\n", mbps[0] > 0 ? mbps[ncaps - 1] / mbps[0] : 0);
    printf("empty_cpu_mbps=%.1f\n", cpu_mbps[0]);
    printf("full_cpu_mbps=%.1f\n", cpu_mbps[ncaps - 1]);
    printf("cpu_ratio=%.3f\n",
           cpu_mbps[0] > 0 ? cpu_mbps[ncaps - 1] / cpu_mbps[0] : 0);
    printf("mbps_by_cap=");
    for (int q = 0; q < ncaps; q++)
        printf("%s%.1f", q ? "," : "", mbps[q]);
    printf("\n");
    printf("cpu_mbps_by_cap=");
    for (int q = 0; q < ncaps; q++)
        printf("%s%.1f", q ? "," : "", cpu_mbps[q]);
    printf("\n");
    /* the part of each cap's time spent in cache_segment_put (with the
     * forced eviction of a retry), the rest being evict_run(force = 0) */
    printf("put_share_by_cap=");
    for (int q = 0; q < ncaps; q++)
        printf("%s%.2f", q ? "," : "", q_time[q] > 0 ? q_put[q] / q_time[q] : 0);
    printf("\n");
    printf("peak_file_bytes=%" PRId64 "\n", peak_file);
    printf("peak_file_of_cap=%.3f\n", (double)peak_file / (double)cap);
    printf("final_file_bytes=%" PRId64 "\n", fsz);
    printf("peak_used_bytes=%" PRIu64 "\n", peak_used);
    printf("final_used_bytes=%" PRIu64 "\n", u.used);
    printf("final_segments=%" PRIu64 "\n", u.segments);
    printf("failures=%ld\n", failures);
    printf("enospc_retries=%ld\n", retries);
    printf("evictions=%" PRIu64 "\n", evicted);
    printf("evict_runs=%" PRIu64 "\n", st.runs);
    printf("evict_errors=%" PRIu64 "\n", st.errors);

    evict_free(&e);
    cache_close(&c);
    free(pool);
    return failures || peak_file > (int64_t)cap ? 1 : 0;
}
