/*
 * fuzz_title: a libFuzzer target for everything hlsfs does with a source.
 * The input is a source file, read from memory through a custom
 * AVIOContext (source_io): it is analysed (probe, packet index, plan,
 * segment sizes, playlists, the cache record and back), then one segment
 * of each kind is made: the lowest transcoded video rung, the copied
 * `original` rung, and the first audio rendition. Each segment's work has
 * a bound of FUZZ_WORK_S seconds, so a slow input fails its segment (EIO,
 * as a mount would) instead of stalling the fuzzer.
 *
 * Built with clang's -fsanitize=fuzzer for `make fuzz`, and with a main()
 * of its own (replay.c) for `make check`, which replays tests/fuzz/regress.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <libavformat/avformat.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>

#include "hlsfs/ladder.h"
#include "hlsfs/log.h"
#include "hlsfs/probe.h"
#include "hlsfs/source.h"
#include "hlsfs/record.h"
#include "hlsfs/produce.h"
#include "hlsfs/title.h"
#include "hlsfs/trick.h"
#include "hlsfs/workbound.h"

#define FUZZ_WORK_S  2       /* wall-clock bound of one segment's work  */
#define FUZZ_IO_BUF  4096

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the source in memory: one reader per open ------------------------ */

struct mem_source {
    const uint8_t *data;
    size_t         size;
};

struct mem_reader {
    const struct mem_source *src;
    size_t                   pos;
};

static int mem_read(void *opaque, uint8_t *buf, int len)
{
    struct mem_reader *r = opaque;
    size_t left = r->src->size - r->pos;
    size_t n = (size_t)len < left ? (size_t)len : left;
    if (!n)
        return AVERROR_EOF;
    memcpy(buf, r->src->data + r->pos, n);
    r->pos += n;
    return (int)n;
}

static int64_t mem_seek(void *opaque, int64_t offset, int whence)
{
    struct mem_reader *r = opaque;
    int64_t size = (int64_t)r->src->size, to;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return size;
    case SEEK_SET:    to = offset; break;
    case SEEK_CUR:    to = (int64_t)r->pos + offset; break;
    case SEEK_END:    to = size + offset; break;
    default:          return AVERROR(EINVAL);
    }
    if (to < 0 || to > size)
        return AVERROR(EINVAL);
    r->pos = (size_t)to;
    return to;
}

static int mem_open(void *opaque, AVIOContext **pb)
{
    struct mem_reader *r = malloc(sizeof(*r));
    uint8_t *buf = av_malloc(FUZZ_IO_BUF);
    *pb = NULL;
    if (!r || !buf ||
        !(*pb = avio_alloc_context(buf, FUZZ_IO_BUF, 0, r, mem_read, NULL, mem_seek))) {
        free(r);
        av_free(buf);
        return AVERROR(ENOMEM);
    }
    r->src = opaque;
    r->pos = 0;
    return 0;
}

static void mem_close(void *opaque, AVIOContext **pb)
{
    (void)opaque;
    if (!*pb)
        return;
    free((*pb)->opaque);
    av_freep(&(*pb)->buffer);   /* libavformat may have replaced it */
    avio_context_free(pb);
}

/* ---- one input -------------------------------------------------------- */

/* The rendition of that kind and mode (-1: any) with the smallest picture. */
static const struct title_rendition *pick(const struct title *t, enum rend_kind kind,
                                          int mode)
{
    const struct title_rendition *best = NULL;
    for (int i = 0; i < t->nrends; i++) {
        const struct title_rendition *r = &t->rends[i];
        if (r->kind != kind || (mode >= 0 && (int)r->mode != mode))
            continue;
        if (!best || (kind == REND_VIDEO && r->height < best->height))
            best = r;
    }
    return best;
}

static void make_segment(const struct mem_source *src, const struct source_io *io,
                         const struct title *t, const struct title_rendition *r,
                         const struct title_options *o)
{
    struct work_bound bound = { .stop = NULL };
    struct timespec now;
    uint8_t *out = NULL;
    size_t len = 0;
    /* one segment, chosen by the input: the first, or one past a seek */
    long seg = (long)(src->size % (size_t)t->nseg);

    if (!r)
        return;
    clock_gettime(CLOCK_MONOTONIC, &now);
    bound.deadline = ((int64_t)now.tv_sec + FUZZ_WORK_S) * 1000000000 + now.tv_nsec;
    if (produce_segment_within("fuzz", io, t, r, seg, o, &bound, &out, &len) == 0) {
        /* what a reader gets: whole TS packets, the planned size at most
         * (readers pad the rest) */
        if (r->sizes[seg] % 188 || !r->sizes[seg] || len % 188 || len > r->sizes[seg] ||
            (len && out[0] != 0x47))
            abort();
    }
    free(out);
}

/* One I-frame segment (chosen by the input) and the first thumbnail
 * sprite: the I-frame whole TS packets within its size, the sprite its
 * exact size, a JPEG. */
static void make_trick(const struct mem_source *src, const struct source_io *io,
                       const struct title *t, const struct title_options *o)
{
    const struct trick *tr = t->trick;
    uint8_t *out = NULL;
    size_t len = 0;
    long i;

    if (!tr)
        return;
    i = (long)(src->size % (size_t)tr->iframes.pic.n);
    if (produce_trick_item("fuzz", io, t, PRODUCE_IFRAMES, i, o, NULL, &out, &len) == 0 &&
        (tr->iframes.sizes[i] % 188 || len % 188 || len > tr->iframes.sizes[i] ||
         !len || out[0] != 0x47))
        abort();
    free(out);
    out = NULL;
    if (produce_trick_item("fuzz", io, t, PRODUCE_THUMBS, 0, o, NULL, &out, &len) == 0 &&
        (len != tr->thumbs.sizes[0] || out[0] != 0xFF || out[1] != 0xD8 ||
         out[len - 2] != 0xFF || out[len - 1] != 0xD9))
        abort();
    free(out);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* hlsfs's errors only; libav's messages go through the same bridge,
     * below that level */
    log_setup(0, LOG_LVL_ERROR);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mem_source src = { data, size };
    struct source_io io = { mem_open, mem_close, &src };
    struct title_options o = {
        .segment_time = 2.0,
        .video = { .preset = "ultrafast", .threads = 1 },
        .audio_bit_rate = 64000,
        .audio_sample_rate = 48000,
    };
    struct stat st = { .st_dev = 1, .st_ino = 1, .st_size = (off_t)size };
    struct title_key key;
    struct probe *p = NULL;
    struct title *t = NULL, *back = NULL;
    uint8_t *rec = NULL;
    size_t rec_len = 0;
    int ret;

    ladder_default(&o.ladder);
    title_make_key(&key, &st, &o);
    /* a source that cannot be served is an answer (p->error, t->error);
     * a failure is only for want of memory */
    if ((ret = probe_source("fuzz", &io, &p)) < 0 && ret != -ENOMEM &&
        !source_error_is_transient(ret))
        abort();
    if (ret < 0 || p->error)
        goto done;
    if ((ret = title_build(p, &key, &o, &t)) < 0 && ret != -ENOMEM)
        abort();
    if (ret < 0 || t->error)
        goto done;
    if (!t->master || t->nseg < 1)
        abort();
    for (int i = 0; i < t->nrends; i++)
        if (!t->rends[i].playlist)
            abort();
    /* the cache record reads back */
    if (record_write(t, &rec, &rec_len) == 0 &&
        record_read(rec, rec_len, &back) == 0 &&
        (back->nseg != t->nseg || back->nrends != t->nrends))
        abort();
    /* the trick-play files follow from the record alone */
    if (back && (!back->trick != !t->trick ||
                 (t->trick && (back->trick->iframes.pic.n != t->trick->iframes.pic.n ||
                               back->trick->thumbs.nsprite != t->trick->thumbs.nsprite ||
                               back->trick->thumbs.sizes[0] != t->trick->thumbs.sizes[0] ||
                               back->master_len != t->master_len))))
        abort();

    make_segment(&src, &io, t, pick(t, REND_VIDEO, REND_ENCODE), &o);
    make_segment(&src, &io, t, pick(t, REND_VIDEO, REND_COPY), &o);
    make_segment(&src, &io, t, pick(t, REND_AUDIO, -1), &o);
    make_trick(&src, &io, t, &o);
done:
    free(rec);
    title_free(&back);
    title_free(&t);
    probe_free(&p);
    return 0;
}
