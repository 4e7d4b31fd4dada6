/*
 * source: opening a source for reading with libavformat, demuxer only (the
 * file at its path, or the bytes a struct source_io gives, as the fuzzer
 * has), within a work bound from the first byte; and which errors of a
 * source are the system's rather than its content's. Used by the title's
 * analysis (probe.c) and by every producer.
 */
#include <errno.h>
#include <string.h>

#include <libavformat/avformat.h>
#include <libavutil/mem.h>

#include "hlsfs/source.h"
#include "hlsfs/workbound.h"

int source_open_input(const char *path, const struct source_io *io,
                      const struct work_bound *bound, AVFormatContext **fmt)
{
    AVIOContext *pb = NULL;
    int ret;
    *fmt = NULL;
    if (io) {
        if ((ret = io->open(io->opaque, &pb)) < 0)
            return ret;
        /* bytes have no neighbours: no protocol may open another file or
         * URL for the demuxer (playlists, references, image sequences) */
        if (!(*fmt = avformat_alloc_context()) ||
            !((*fmt)->protocol_whitelist = av_strdup("none"))) {
            avformat_free_context(*fmt);
            *fmt = NULL;
            io->close(io->opaque, &pb);
            return AVERROR(ENOMEM);
        }
        (*fmt)->pb = pb;
    }
    /* before the open: libavformat copies the callback into the I/O
     * context it opens, so a later one never reaches its reads */
    if (bound && !*fmt && !(*fmt = avformat_alloc_context()))
        return AVERROR(ENOMEM);
    work_bound_attach(bound, *fmt);
    if ((ret = avformat_open_input(fmt, path, NULL, NULL)) < 0) {
        if (io)
            io->close(io->opaque, &pb);  /* libavformat leaves a custom pb */
        return ret;
    }
    /* MP4 and Matroska headers usually describe their streams fully;
     * other containers (and codecs such as H.263 in MP4) need a look at
     * their first packets */
    const char *name = (*fmt)->iformat->name;
    int incomplete = 0;
    for (unsigned i = 0; i < (*fmt)->nb_streams; i++) {
        const AVCodecParameters *par = (*fmt)->streams[i]->codecpar;
        if (par->codec_type == AVMEDIA_TYPE_VIDEO)
            incomplete |= par->width <= 0 || par->height <= 0;
        else if (par->codec_type == AVMEDIA_TYPE_AUDIO)
            incomplete |= par->sample_rate <= 0 || par->ch_layout.nb_channels <= 0;
    }
    if (incomplete || (!strstr(name, "mp4") && !strstr(name, "matroska"))) {
        (*fmt)->probesize = 5 << 20;
        if ((ret = avformat_find_stream_info(*fmt, NULL)) < 0) {
            source_close_input(io, fmt);
            return ret;
        }
    }
    return 0;
}

void source_close_input(const struct source_io *io, AVFormatContext **fmt)
{
    AVIOContext *pb = io && *fmt ? (*fmt)->pb : NULL;
    avformat_close_input(fmt);
    if (pb)
        io->close(io->opaque, &pb);
}

int source_error_is_transient(int err)
{
    static const int transient[] = {
        EIO, ENOMEM, ENOENT, EACCES, EPERM, ESTALE, ENXIO, ENODEV, EINTR,
        EAGAIN, ETIMEDOUT, EMFILE, ENFILE, EBUSY, ENOTCONN, ECONNRESET,
        EHOSTDOWN, ENOLCK, ENOBUFS,
    };
    if (err == AVERROR_EXIT)
        return 1;
    for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
        if (err == AVERROR(transient[i]))
            return 1;
    return 0;
}
