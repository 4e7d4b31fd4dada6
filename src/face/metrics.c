/*
 * metrics: renders the Prometheus text of MOUNT/.hlsfs/metrics. Every
 * family has its HELP and TYPE lines; counters end in _total.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hlsfs/cache.h"
#include "hlsfs/evict.h"
#include "hlsfs/library.h"
#include "hlsfs/metrics.h"
#include "hlsfs/produce.h"
#include "hlsfs/session.h"

/* A growing text buffer; 'failed' once an allocation failed. */
struct text {
    char  *buf;
    size_t len, cap;
    int    failed;
};

static void add(struct text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (t->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n + 1;
        char *b = realloc(t->buf, cap);
        if (!b) {
            t->failed = 1;
            return;
        }
        t->buf = b;
        t->cap = cap;
    }
}

static void family(struct text *t, const char *name, const char *type,
                   const char *help)
{
    add(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int metrics_render(const struct metrics_sources *m, char **text, size_t *len)
{
    struct text t = { .buf = malloc(4096), .cap = 4096 };
    struct sched_stats ss;
    struct evict_stats es;
    struct cache_usage cu = { 0 };
    uint64_t made[PRODUCE_NKINDS] = { 0 }, failed[PRODUCE_NKINDS] = { 0 };
    uint64_t busy[PRODUCE_NKINDS] = { 0 }, media[PRODUCE_NKINDS] = { 0 };
    uint64_t produce_failed = 0;

    *text = NULL;
    *len = 0;
    if (!t.buf)
        return -ENOMEM;
    t.buf[0] = '\0';
    sched_get_stats(m->sched, &ss);
    evict_get_stats(m->evict, &es);
    if (m->cache && cache_get_usage(m->cache, &cu) < 0)
        memset(&cu, 0, sizeof(cu));
    for (int k = 0; m->produce && k < PRODUCE_NKINDS; k++) {
        const struct produce_counter *c = &m->produce->count[k];
        made[k] = atomic_load(&c->made);
        failed[k] = atomic_load(&c->failed);
        busy[k] = atomic_load(&c->busy_us);
        media[k] = atomic_load(&c->media_ms);
        produce_failed += failed[k];
    }

    family(&t, "hlsfs_segment_reads_total", "counter",
           "Segments handed to readers, from the cache (hit) or after waiting for their encode (miss).");
    add(&t, "hlsfs_segment_reads_total{result=\"hit\"} %" PRIu64 "\n", ss.cache_hits);
    add(&t, "hlsfs_segment_reads_total{result=\"miss\"} %" PRIu64 "\n", ss.waits);

    family(&t, "hlsfs_encodes_total", "counter",
           "Segments made, by rendition kind (video and audio are encoded, copy is the original stream).");
    for (int k = 0; k < PRODUCE_NKINDS; k++)
        add(&t, "hlsfs_encodes_total{kind=\"%s\"} %" PRIu64 "\n",
            produce_kind_name((enum produce_kind)k), made[k]);
    family(&t, "hlsfs_encode_seconds_total", "counter",
           "Wall-clock seconds spent making segments, by rendition kind.");
    for (int k = 0; k < PRODUCE_NKINDS; k++)
        add(&t, "hlsfs_encode_seconds_total{kind=\"%s\"} %.6f\n",
            produce_kind_name((enum produce_kind)k), (double)busy[k] / 1e6);
    family(&t, "hlsfs_encoded_media_seconds_total", "counter",
           "Media seconds of the segments made, by rendition kind.");
    for (int k = 0; k < PRODUCE_NKINDS; k++)
        add(&t, "hlsfs_encoded_media_seconds_total{kind=\"%s\"} %.3f\n",
            produce_kind_name((enum produce_kind)k), (double)media[k] / 1e3);
    family(&t, "hlsfs_encode_realtime_factor", "gauge",
           "Media seconds made per second of work since the mount, by rendition kind (0 before the first).");
    for (int k = 0; k < PRODUCE_NKINDS; k++)
        add(&t, "hlsfs_encode_realtime_factor{kind=\"%s\"} %.3f\n",
            produce_kind_name((enum produce_kind)k),
            busy[k] ? (double)media[k] * 1e3 / (double)busy[k] : 0.0);

    family(&t, "hlsfs_active_sessions", "gauge",
           "Readers' sessions alive (a session stops after idle_timeout without reads).");
    add(&t, "hlsfs_active_sessions %d\n", ss.active_sessions);
    family(&t, "hlsfs_waiting_readers", "gauge",
           "Reads waiting now for a segment to be made.");
    add(&t, "hlsfs_waiting_readers %d\n", ss.waiting_readers);
    family(&t, "hlsfs_running_encodes", "gauge", "Segments being made now.");
    add(&t, "hlsfs_running_encodes %d\n", ss.running_jobs);
    family(&t, "hlsfs_queued_encodes", "gauge",
           "Segments queued to be made (waited for or read ahead).");
    add(&t, "hlsfs_queued_encodes %d\n", ss.queued_jobs);
    family(&t, "hlsfs_readahead_total", "counter", "Readahead encodes queued.");
    add(&t, "hlsfs_readahead_total %" PRIu64 "\n", ss.readahead_jobs);

    family(&t, "hlsfs_cache_bytes_used", "gauge",
           "Bytes of the LMDB pages that hold live data.");
    add(&t, "hlsfs_cache_bytes_used %" PRIu64 "\n", cu.used);
    family(&t, "hlsfs_cache_bytes_cap", "gauge",
           "cache_size: the LMDB file never grows past it.");
    add(&t, "hlsfs_cache_bytes_cap %" PRIu64 "\n", cu.cap);
    family(&t, "hlsfs_cache_file_bytes", "gauge",
           "Bytes of the LMDB file written so far (it does not shrink).");
    add(&t, "hlsfs_cache_file_bytes %" PRIu64 "\n", cu.file);
    family(&t, "hlsfs_cache_segments", "gauge", "Segments stored in the cache.");
    add(&t, "hlsfs_cache_segments %" PRIu64 "\n", cu.segments);

    family(&t, "hlsfs_evictions_total", "counter",
           "Segments (and title indexes, reason title) evicted, by reason.");
    for (int r = 0; r < EVICT_NREASONS; r++)
        add(&t, "hlsfs_evictions_total{reason=\"%s\"} %" PRIu64 "\n",
            evict_reason_name((enum evict_reason)r), es.count[r]);
    family(&t, "hlsfs_evicted_bytes_total", "counter", "Bytes evicted, by reason.");
    for (int r = 0; r < EVICT_NREASONS; r++)
        add(&t, "hlsfs_evicted_bytes_total{reason=\"%s\"} %" PRIu64 "\n",
            evict_reason_name((enum evict_reason)r), es.bytes[r]);

    struct library_stats ls;
    library_get_stats(m->library, &ls);
    family(&t, "hlsfs_titles_in_memory", "gauge",
           "Titles held in memory: all, and the idle ones (nothing refers to them; the least recently used go past 64 or 32 MiB).");
    add(&t, "hlsfs_titles_in_memory{state=\"all\"} %" PRIu64 "\n", ls.titles);
    add(&t, "hlsfs_titles_in_memory{state=\"idle\"} %" PRIu64 "\n", ls.idle);

    family(&t, "hlsfs_errors_total", "counter",
           "Errors by kind: segment (a segment could not be made), not_cached (served from memory, the cache had no room), cache (an LMDB operation failed), title (a source could not be analysed or served).");
    add(&t, "hlsfs_errors_total{kind=\"segment\"} %" PRIu64 "\n", produce_failed);
    add(&t, "hlsfs_errors_total{kind=\"not_cached\"} %" PRIu64 "\n", ss.not_cached);
    add(&t, "hlsfs_errors_total{kind=\"cache\"} %" PRIu64 "\n", es.errors);
    add(&t, "hlsfs_errors_total{kind=\"title\"} %" PRIu64 "\n",
        library_failed_analyses(m->library));

    if (t.failed) {
        free(t.buf);
        return -ENOMEM;
    }
    *text = t.buf;
    *len = t.len;
    return 0;
}
