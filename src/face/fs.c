/*
 * fs: fuse_operations for hlsfs.
 *
 * A path is either a source entry mirrored as is, or below a video source
 * file, which is shown as a directory (vpath.c has the grammar). Virtual
 * files: playlists and ERROR are text held by the title; source.EXT reads
 * the source; a segment is fetched from the scheduler (session.c: the
 * store, or a wait for its encode) on its handle's first read, not at
 * open, so servers that open on their event loop never wait, and kept by
 * that handle, which therefore sees one version from first byte to last.
 * An open segment is pinned in the segment store (segstore.c) by its
 * rendition key and index, so that it is not evicted meanwhile.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <fuse.h>

#include "hlsfs/fs.h"
#include "hlsfs/hls.h"
#include "hlsfs/library.h"
#include "hlsfs/log.h"
#include "hlsfs/mux.h"
#include "hlsfs/produce.h"
#include "hlsfs/segstore.h"
#include "hlsfs/session.h"
#include "hlsfs/subtitle.h"
#include "hlsfs/title.h"
#include "hlsfs/trick.h"
#include "hlsfs/vpath.h"

struct node {
    char          real[PATH_MAX];  /* the source path (file or title)  */
    struct stat   st;              /* its lstat                        */
    int           is_title;        /* below or at a video source file  */
    const char   *rel;             /* title's path below the root      */
    struct vnode  v;
};

enum handle_kind { H_FD, H_TEXT, H_SEGMENT };

/* What a path below FS_CONTROL_DIR is. */
enum control_node { CTL_NONE, CTL_DIR, CTL_METRICS };

struct handle {
    enum handle_kind kind;
    int              fd;
    struct title    *title;        /* reference, for H_TEXT/H_SEGMENT  */
    const char      *text;         /* H_TEXT: owned by the title, or
                                      by the handle if owned_text       */
    size_t           text_len;
    char            *owned_text;
    int              pinned;       /* H_SEGMENT: pinned in the store
                                      while the handle is open         */
    const struct title_rendition *rend;
    long             segment;
    int              trick;        /* H_SEGMENT: -1, or the trick-play
                                      rendition (enum produce_trick)   */
    pthread_mutex_t  lock;
    uint8_t         *data;         /* H_SEGMENT, protected by lock: the
                                      segment without its padding      */
    size_t           data_len;
    int              error;        /* H_SEGMENT, protected by lock     */
    struct list_node link;         /* in fs_context.open, by open_lock  */
};

static struct fs_context *ctx(void)
{
    return fuse_get_context()->private_data;
}

/* Is path the control directory or a file in it? -ENOENT for other
 * names in it. */
static int control_lookup(const char *path, enum control_node *kind)
{
    size_t n = strlen(FS_CONTROL_DIR);

    *kind = CTL_NONE;
    if (strncmp(path, FS_CONTROL_DIR, n) || (path[n] && path[n] != '/'))
        return 0;
    if (!path[n] || !strcmp(path + n, "/"))
        *kind = CTL_DIR;
    else if (!strcmp(path + n, "/metrics") || !strcmp(path + n, "/metrics.prom"))
        *kind = CTL_METRICS;
    else
        return -ENOENT;
    return 0;
}

static int control_getattr(enum control_node kind, struct stat *st)
{
    struct stat root;
    char *text;
    size_t len;

    if (stat(ctx()->source_root, &root) != 0)
        return -errno;
    memset(st, 0, sizeof(*st));
    st->st_uid = root.st_uid;
    st->st_gid = root.st_gid;
    st->st_atim = st->st_mtim = st->st_ctim = root.st_mtim;
    if (kind == CTL_DIR) {
        st->st_mode = S_IFDIR | 0555;
        st->st_nlink = 2;
        st->st_size = 4096;
        return 0;
    }
    /* the size of the text as it is now; reads bypass the page cache
     * (direct_io), so a reader gets the text of its open, to its end */
    if (metrics_render(&ctx()->metrics, &text, &len) < 0)
        return -ENOMEM;
    free(text);
    clock_gettime(CLOCK_REALTIME, &st->st_mtim);
    st->st_mode = S_IFREG | 0444;
    st->st_nlink = 1;
    st->st_size = (off_t)len;
    return 0;
}

/* Resolve a path: the source entry, or the title file and the part below. */
static int resolve(const char *path, struct node *n)
{
    const struct fs_context *c = ctx();
    size_t from = 0;

    memset(n, 0, sizeof(*n));
    for (;;) {
        long split = vpath_next_title_split(path, from);
        if (split < 0)
            break;
        if (snprintf(n->real, sizeof(n->real), "%s%.*s", c->source_root,
                     (int)split, path) >= (int)sizeof(n->real))
            return -ENAMETOOLONG;
        if (lstat(n->real, &n->st) != 0)
            return -errno;
        if (S_ISREG(n->st.st_mode)) {
            const char *base = strrchr(n->real, '/') + 1;
            n->is_title = 1;
            n->rel = n->real + strlen(c->source_root);
            return vpath_parse_inner(path + split, vpath_ext(base), &n->v);
        }
        from = (size_t)split;
    }
    if (snprintf(n->real, sizeof(n->real), "%s%s", c->source_root,
                 strcmp(path, "/") ? path : "") >= (int)sizeof(n->real))
        return -ENAMETOOLONG;
    if (lstat(n->real, &n->st) != 0)
        return -errno;
    return 0;
}

static int get_title(struct node *n, struct title **t)
{
    /* rel points into real; the title key is the lstat identity */
    return library_get(ctx()->library, n->rel, &n->st, t);
}

/* The trick-play nodes (trick.h): video/iframes/ and thumbs/. 1 when v
 * is one of them (size and is_dir set), 0 when it is not, -ENOENT when
 * the title has no such file. */
static int trick_node(const struct title *t, const struct vnode *v, off_t *size,
                      int *is_dir)
{
    const struct trick *tr = t->trick;
    int iframes = (v->kind == VN_REND_DIR || v->kind == VN_PLAYLIST || v->kind == VN_SEGMENT) &&
                  v->rkind == REND_VIDEO && !strcmp(v->rend, TRICK_IFRAME_NAME);
    long n;

    if (!iframes && v->kind != VN_THUMB_DIR && v->kind != VN_THUMB_INDEX &&
        v->kind != VN_THUMB_SPRITE)
        return 0;
    if (!tr)
        return -ENOENT;
    switch (v->kind) {
    case VN_REND_DIR:
    case VN_THUMB_DIR:
        *is_dir = 1;
        return 1;
    case VN_PLAYLIST:
        *size = (off_t)tr->iframes.playlist_len;
        return 1;
    case VN_THUMB_INDEX:
        *size = (off_t)tr->thumbs.vtt_len;
        return 1;
    case VN_SEGMENT:
    case VN_THUMB_SPRITE:
        n = v->kind == VN_SEGMENT ? tr->iframes.pic.n : tr->thumbs.nsprite;
        if (v->segment >= n || v->seg_digits != vpath_segment_digits(n))
            return -ENOENT;
        *size = (off_t)(v->kind == VN_SEGMENT ? tr->iframes.sizes : tr->thumbs.sizes)[v->segment];
        return 1;
    default:
        return -ENOENT;
    }
}

/* The subtitle track a node names ("subtitles/K..."), or NULL. */
static const struct subtitle_track *subtitle_of(const struct title *t, const struct vnode *v)
{
    char *end;
    long k = strtol(v->rend, &end, 10);
    return *v->rend && !*end && k >= 0 && k < t->nsubs ? t->subs[k] : NULL;
}

/* title_node for the names below "subtitles". */
static int subtitle_node(const struct title *t, const struct vnode *v, off_t *size,
                         int *is_dir)
{
    const struct subtitle_track *s;
    if (v->kind == VN_KIND_DIR) {
        *is_dir = 1;
        return t->nsubs ? 0 : -ENOENT;
    }
    if (!(s = subtitle_of(t, v)))
        return -ENOENT;
    switch (v->kind) {
    case VN_REND_DIR:
        *is_dir = 1;
        return 0;
    case VN_PLAYLIST:
        *size = (off_t)s->playlist_len;
        return 0;
    case VN_SUBTITLE_FILE:
        *size = (off_t)s->whole_size;
        return 0;
    case VN_SEGMENT:
        if (v->segment >= t->nseg || v->seg_digits != vpath_segment_digits(t->nseg))
            return -ENOENT;
        *size = (off_t)s->sizes[v->segment];
        return 0;
    default:
        return -ENOENT;
    }
}

/* The WebVTT text of a subtitle segment or whole track into h. */
static int subtitle_text(const struct title *t, const struct vnode *v, struct handle *h)
{
    const struct subtitle_track *s = subtitle_of(t, v);
    struct subtitle_timing tm;
    long i = v->kind == VN_SEGMENT ? v->segment : -1;
    uint64_t want = i < 0 ? s->whole_size : s->sizes[i];

    if (v->kind == VN_PLAYLIST) {
        h->text = s->playlist;
        h->text_len = s->playlist_len;
        return 0;
    }
    hls_subtitle_timing(t, &tm);
    if (!(h->owned_text = malloc((size_t)want + 1)))
        return -ENOMEM;
    h->text_len = subtitle_vtt(s, &tm, i, NULL) == want
                  ? subtitle_vtt(s, &tm, i, h->owned_text) : 0;
    if (h->text_len != want) {
        log_error("%s: subtitles/%s: the text is not its planned %llu bytes",
                  t->source_path ? t->source_path : "title", v->rend,
                  (unsigned long long)want);
        return -EIO;
    }
    h->text = h->owned_text;
    return 0;
}

/* Does title t have the node? Fills size for files. */
static int title_node(const struct title *t, const struct node *n, off_t *size,
                      int *is_dir, const struct title_rendition **rend)
{
    const struct vnode *v = &n->v;
    *size = 0;
    *is_dir = 0;
    *rend = NULL;
    if (v->kind == VN_TITLE_DIR) {
        *is_dir = 1;
        return 0;
    }
    if (v->kind == VN_SOURCE) {
        *size = n->st.st_size;
        return 0;
    }
    if (t->error) {
        if (v->kind != VN_ERROR)
            return -ENOENT;
        *size = (off_t)t->error_len;
        return 0;
    }
    if (v->rkind == REND_SUBTITLE)
        return subtitle_node(t, v, size, is_dir);
    int trick = trick_node(t, v, size, is_dir);
    if (trick)
        return trick < 0 ? trick : 0;
    switch (v->kind) {
    case VN_MASTER:
        *size = (off_t)t->master_len;
        return 0;
    case VN_KIND_DIR:
        for (int i = 0; i < t->nrends; i++)
            if (t->rends[i].kind == v->rkind) {
                *is_dir = 1;
                return 0;
            }
        return -ENOENT;
    case VN_REND_DIR:
    case VN_PLAYLIST:
    case VN_SEGMENT:
        if (!(*rend = title_find(t, v->rkind, v->rend)))
            return -ENOENT;
        if (v->kind == VN_REND_DIR) {
            *is_dir = 1;
        } else if (v->kind == VN_PLAYLIST) {
            *size = (off_t)(*rend)->playlist_len;
        } else {
            if (v->segment >= t->nseg ||
                v->seg_digits != vpath_segment_digits(t->nseg))
                return -ENOENT;
            *size = (off_t)(*rend)->sizes[v->segment];
        }
        return 0;
    default:
        return -ENOENT;
    }
}

/* Attributes of a virtual entry: the source's owner, mode and times. */
static void virtual_stat(const struct stat *src, int is_dir, off_t size,
                         struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_uid = src->st_uid;
    st->st_gid = src->st_gid;
    st->st_atim = st->st_mtim = st->st_ctim = src->st_mtim;
    mode_t perm = src->st_mode & 07777;
    if (is_dir) {
        perm |= (perm & 0444) >> 2;        /* readable -> searchable */
        st->st_mode = S_IFDIR | perm;
        st->st_nlink = 2;
        st->st_size = 4096;
    } else {
        st->st_mode = S_IFREG | perm;
        st->st_nlink = 1;
        st->st_size = size;
    }
    st->st_blksize = 65536;
    st->st_blocks = (st->st_size + 511) / 512;
}

static int hlsfs_getattr(const char *path, struct stat *st,
                         struct fuse_file_info *fi)
{
    struct node n;
    struct title *t = NULL;
    const struct title_rendition *rend;
    off_t size;
    enum control_node ctl;
    int is_dir, ret;
    (void) fi;

    if ((ret = control_lookup(path, &ctl)) < 0)
        return ret;
    if (ctl != CTL_NONE)
        return control_getattr(ctl, st);
    if ((ret = resolve(path, &n)) < 0)
        return ret;
    if (!n.is_title) {
        *st = n.st;
        return 0;
    }
    /* the title directory and source.EXT need no analysis */
    if (n.v.kind == VN_TITLE_DIR || n.v.kind == VN_SOURCE) {
        virtual_stat(&n.st, n.v.kind == VN_TITLE_DIR, n.st.st_size, st);
        if (n.v.kind == VN_SOURCE)
            st->st_blocks = n.st.st_blocks;
        return 0;
    }
    if ((ret = get_title(&n, &t)) < 0)
        return ret;
    ret = title_node(t, &n, &size, &is_dir, &rend);
    if (ret == 0)
        virtual_stat(&n.st, is_dir, size, st);
    library_put(ctx()->library, t);
    return ret;
}

static int hlsfs_readlink(const char *path, char *buf, size_t size)
{
    struct node n;
    int ret;
    if ((ret = resolve(path, &n)) < 0)
        return ret;
    if (n.is_title)
        return -EINVAL;
    ssize_t len = readlink(n.real, buf, size - 1);
    if (len < 0)
        return -errno;
    buf[len] = '\0';
    return 0;
}

static int fill_title_dir(const struct title *t, const struct node *n,
                          void *buf, fuse_fill_dir_t filler)
{
    const struct vnode *v = &n->v;
    char name[NAME_MAX + 16];

    if (v->kind == VN_TITLE_DIR) {
        const char *base = strrchr(n->real, '/') + 1;
        const char *ext = vpath_ext(base);
        snprintf(name, sizeof(name), *ext ? "source.%s" : "source", ext);
        filler(buf, name, NULL, 0, 0);
        if (t->error) {
            filler(buf, "ERROR", NULL, 0, 0);
            return 0;
        }
        filler(buf, "master.m3u8", NULL, 0, 0);
        int has_video = 0, has_audio = 0;
        for (int i = 0; i < t->nrends; i++) {
            has_video |= t->rends[i].kind == REND_VIDEO;
            has_audio |= t->rends[i].kind == REND_AUDIO;
        }
        if (has_video)
            filler(buf, "video", NULL, 0, 0);
        if (has_audio)
            filler(buf, "audio", NULL, 0, 0);
        if (t->trick)
            filler(buf, "thumbs", NULL, 0, 0);
        if (t->nsubs)
            filler(buf, "subtitles", NULL, 0, 0);
        return 0;
    }
    if (v->rkind == REND_SUBTITLE && v->kind == VN_KIND_DIR) {
        for (int i = 0; i < t->nsubs; i++) {
            snprintf(name, sizeof(name), "%d", i);
            filler(buf, name, NULL, 0, 0);
            snprintf(name, sizeof(name), "%d.vtt", i);
            filler(buf, name, NULL, 0, 0);
        }
        return 0;
    }
    if (v->rkind == REND_SUBTITLE && v->kind == VN_REND_DIR) {
        filler(buf, "index.m3u8", NULL, 0, 0);
        for (long i = 0; i < t->nseg; i++) {
            snprintf(name, sizeof(name), "%0*ld.vtt", vpath_segment_digits(t->nseg), i);
            if (filler(buf, name, NULL, 0, 0))
                break;
        }
        return 0;
    }
    if (v->kind == VN_KIND_DIR) {
        for (int i = 0; i < t->nrends; i++)
            if (t->rends[i].kind == v->rkind)
                filler(buf, t->rends[i].name, NULL, 0, 0);
        if (t->trick && v->rkind == REND_VIDEO)
            filler(buf, TRICK_IFRAME_NAME, NULL, 0, 0);
        return 0;
    }
    if (t->trick && (v->kind == VN_THUMB_DIR ||
                     (v->kind == VN_REND_DIR && v->rkind == REND_VIDEO &&
                      !strcmp(v->rend, TRICK_IFRAME_NAME)))) {
        int thumbs = v->kind == VN_THUMB_DIR;
        long count = thumbs ? t->trick->thumbs.nsprite : t->trick->iframes.pic.n;
        filler(buf, thumbs ? "thumbs.vtt" : "index.m3u8", NULL, 0, 0);
        for (long i = 0; i < count; i++) {
            if (thumbs)
                vpath_sprite_name(name, sizeof(name), i, count);
            else
                vpath_segment_name(name, sizeof(name), i, count);
            if (filler(buf, name, NULL, 0, 0))
                break;
        }
        return 0;
    }
    if (v->kind == VN_REND_DIR) {
        filler(buf, "index.m3u8", NULL, 0, 0);
        for (long i = 0; i < t->nseg; i++) {
            vpath_segment_name(name, sizeof(name), i, t->nseg);
            if (filler(buf, name, NULL, 0, 0))
                break;
        }
        return 0;
    }
    return -ENOTDIR;
}

static int hlsfs_readdir(const char *path, void *buf, fuse_fill_dir_t filler,
                         off_t offset, struct fuse_file_info *fi,
                         enum fuse_readdir_flags flags)
{
    struct node n;
    enum control_node ctl;
    int ret;
    (void) offset;
    (void) fi;
    (void) flags;

    if ((ret = control_lookup(path, &ctl)) < 0)
        return ret;
    if (ctl == CTL_METRICS)
        return -ENOTDIR;
    if (ctl == CTL_DIR) {
        filler(buf, ".", NULL, 0, 0);
        filler(buf, "..", NULL, 0, 0);
        filler(buf, "metrics", NULL, 0, 0);
        filler(buf, "metrics.prom", NULL, 0, 0);
        return 0;
    }
    if ((ret = resolve(path, &n)) < 0)
        return ret;
    filler(buf, ".", NULL, 0, 0);
    filler(buf, "..", NULL, 0, 0);
    if (n.is_title) {
        struct title *t = NULL;
        const struct title_rendition *rend;
        off_t size;
        int is_dir;
        if ((ret = get_title(&n, &t)) < 0)
            return ret;
        ret = title_node(t, &n, &size, &is_dir, &rend);
        if (ret == 0)
            ret = is_dir ? fill_title_dir(t, &n, buf, filler) : -ENOTDIR;
        library_put(ctx()->library, t);
        return ret;
    }

    DIR *dir = opendir(n.real);
    if (!dir)
        return -errno;
    struct dirent *de;
    while ((de = readdir(dir))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        struct stat st;
        memset(&st, 0, sizeof(st));
        unsigned char type = de->d_type;
        if (type == DT_UNKNOWN && vpath_is_video_name(de->d_name)) {
            char full[PATH_MAX];
            struct stat real;
            if (snprintf(full, sizeof(full), "%s/%s", n.real, de->d_name) <
                    (int)sizeof(full) && lstat(full, &real) == 0 && S_ISREG(real.st_mode))
                type = DT_REG;
        }
        /* a video file is shown as a directory: decided by name alone */
        if (type == DT_REG && vpath_is_video_name(de->d_name))
            type = DT_DIR;
        st.st_mode = (mode_t)(type == DT_UNKNOWN ? 0 : DTTOIF(type));
        if (filler(buf, de->d_name, &st, 0, 0))
            break;
    }
    closedir(dir);
    return 0;
}

static struct handle *handle_new(enum handle_kind kind)
{
    struct fs_context *c = ctx();
    struct handle *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->kind = kind;
    h->fd = -1;
    h->trick = -1;
    pthread_mutex_init(&h->lock, NULL);
    pthread_mutex_lock(&c->open_lock);
    list_push_front(&c->open, &h->link);
    pthread_mutex_unlock(&c->open_lock);
    return h;
}

/* The scheduler's view of an open segment's rendition. */
static void handle_view(const struct handle *h, uint8_t *key, struct sched_rendition *sr)
{
    if (h->trick >= 0)
        produce_trick_rendition(h->title, (enum produce_trick)h->trick, key, sr);
    else
        produce_rendition(h->title, h->rend, key, sr);
}

static void handle_free_in(struct fs_context *c, struct handle *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&c->open_lock);
    list_remove(&c->open, &h->link);
    pthread_mutex_unlock(&c->open_lock);
    if (h->fd >= 0)
        close(h->fd);
    if (h->pinned) {
        uint8_t rkey[PRODUCE_KEY_MAX];
        struct sched_rendition sr;
        handle_view(h, rkey, &sr);
        segstore_unpin(c->store, sr.key, sr.key_len, h->segment);
    }
    free(h->owned_text);
    if (h->title)
        library_put(c->library, h->title);
    pthread_mutex_destroy(&h->lock);
    free(h->data);
    free(h);
}

static void handle_free(struct handle *h)
{
    handle_free_in(ctx(), h);
}

void fs_release_open(struct fs_context *c)
{
    while (c->open.n)
        handle_free_in(c, LIST_ENTRY(list_first(&c->open), struct handle, link));
}

static int hlsfs_open(const char *path, struct fuse_file_info *fi)
{
    struct node n;
    struct handle *h = NULL;
    enum control_node ctl;
    int ret;

    if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & (O_TRUNC | O_CREAT)))
        return -EROFS;
    if ((ret = control_lookup(path, &ctl)) < 0)
        return ret;
    if (ctl == CTL_DIR)
        return -EISDIR;
    if (ctl == CTL_METRICS) {
        if (!(h = handle_new(H_TEXT)))
            return -ENOMEM;
        if (metrics_render(&ctx()->metrics, &h->owned_text, &h->text_len) < 0) {
            handle_free(h);
            return -ENOMEM;
        }
        h->text = h->owned_text;
        fi->direct_io = 1;
        fi->fh = (uintptr_t)h;
        return 0;
    }
    if ((ret = resolve(path, &n)) < 0)
        return ret;
    if (!n.is_title || n.v.kind == VN_SOURCE) {
        if (!(h = handle_new(H_FD)))
            return -ENOMEM;
        if ((h->fd = open(n.real, O_RDONLY | O_NOFOLLOW)) < 0) {
            ret = -errno;
            handle_free(h);
            return ret;
        }
        fi->fh = (uintptr_t)h;
        return 0;
    }

    struct title *t = NULL;
    const struct title_rendition *rend;
    off_t size;
    int is_dir;
    if ((ret = get_title(&n, &t)) < 0)
        return ret;
    if ((ret = title_node(t, &n, &size, &is_dir, &rend)) < 0 ||
        (is_dir && (ret = -EISDIR))) {
        library_put(ctx()->library, t);
        return ret;
    }
    int trick = t->trick && !rend && !t->error && n.v.rkind != REND_SUBTITLE &&
                (n.v.kind == VN_PLAYLIST || n.v.kind == VN_SEGMENT ||
                 n.v.kind == VN_THUMB_INDEX || n.v.kind == VN_THUMB_SPRITE);
    int is_segment = (n.v.kind == VN_SEGMENT && n.v.rkind != REND_SUBTITLE) ||
                     n.v.kind == VN_THUMB_SPRITE;
    if (!(h = handle_new(is_segment ? H_SEGMENT : H_TEXT))) {
        library_put(ctx()->library, t);
        return -ENOMEM;
    }
    h->title = t;
    h->rend = rend;
    if (n.v.rkind == REND_SUBTITLE) {
        if ((ret = subtitle_text(t, &n.v, h)) < 0) {
            handle_free(h);
            return ret;
        }
        fi->fh = (uintptr_t)h;
        return 0;
    }
    if (trick) {
        /* video/iframes/ and thumbs/ (trick.h) */
        const struct trick *tr = t->trick;
        if (n.v.kind == VN_PLAYLIST) {
            h->text = tr->iframes.playlist;
            h->text_len = tr->iframes.playlist_len;
        } else if (n.v.kind == VN_THUMB_INDEX) {
            h->text = tr->thumbs.vtt;
            h->text_len = tr->thumbs.vtt_len;
        } else {
            uint8_t rkey[PRODUCE_KEY_MAX];
            struct sched_rendition sr;
            h->segment = n.v.segment;
            h->trick = n.v.kind == VN_SEGMENT ? PRODUCE_IFRAMES : PRODUCE_THUMBS;
            handle_view(h, rkey, &sr);
            h->pinned = segstore_pin(ctx()->store, sr.key, sr.key_len, h->segment) == 0;
        }
        fi->fh = (uintptr_t)h;
        return 0;
    }
    switch (n.v.kind) {
    case VN_ERROR:    h->text = t->error;  h->text_len = t->error_len;  break;
    case VN_MASTER:   h->text = t->master; h->text_len = t->master_len; break;
    case VN_PLAYLIST: h->text = rend->playlist; h->text_len = rend->playlist_len; break;
    case VN_SEGMENT: {
        uint8_t rkey[PRODUCE_KEY_MAX];
        struct sched_rendition sr;
        h->segment = n.v.segment;
        /* an open segment is never evicted */
        produce_rendition(t, rend, rkey, &sr);
        h->pinned = segstore_pin(ctx()->store, sr.key, sr.key_len, h->segment) == 0;
        break;
    }
    default:
        handle_free(h);
        return -EIO;
    }
    fi->fh = (uintptr_t)h;
    return 0;
}

/* Bytes [off, off + size) of an open segment into bv (then *bufp): its
 * bytes as made, then the null packets up to its planned size, made here
 * for the range asked and never stored. */
static int segment_bytes(const struct handle *h, struct fuse_bufvec *bv,
                         size_t size, uint64_t off, struct fuse_bufvec **bufp)
{
    uint64_t planned = h->trick == PRODUCE_IFRAMES ? h->title->trick->iframes.sizes[h->segment]
                     : h->trick == PRODUCE_THUMBS ? h->title->trick->thumbs.sizes[h->segment]
                     : h->rend->sizes[h->segment];

    if (off >= planned)
        size = 0;
    else if (size > planned - off)
        size = (size_t)(planned - off);
    *bv = FUSE_BUFVEC_INIT(size);
    if (size && !(bv->buf[0].mem = malloc(size))) {
        free(bv);
        return -ENOMEM;
    }
    if (size)
        mux_read_padded(h->data, h->data_len, planned, off, bv->buf[0].mem, size);
    *bufp = bv;
    return 0;
}

/* Reads hand libfuse what to send: for pass-through files the source's
 * descriptor and offset (libfuse may splice it, with no copy through this
 * process), for virtual files a copy of the bytes asked for. */
static int hlsfs_read_buf(const char *path, struct fuse_bufvec **bufp,
                          size_t size, off_t off, struct fuse_file_info *fi)
{
    struct handle *h = (struct handle *)(uintptr_t)fi->fh;
    struct fuse_bufvec *bv;
    const uint8_t *src;
    size_t len;
    (void) path;

    if (off < 0)
        return -EINVAL;
    if (!(bv = malloc(sizeof(*bv))))
        return -ENOMEM;
    switch (h->kind) {
    case H_FD:
        *bv = FUSE_BUFVEC_INIT(size);
        bv->buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
        bv->buf[0].fd = h->fd;
        bv->buf[0].pos = off;
        *bufp = bv;
        return 0;
    case H_TEXT:
        src = (const uint8_t *)h->text;
        len = h->text_len;
        break;
    case H_SEGMENT:
        pthread_mutex_lock(&h->lock);
        if (!h->data && !h->error) {
            uint8_t key[PRODUCE_KEY_MAX];
            struct sched_rendition sr;
            handle_view(h, key, &sr);
            int ret = sched_read(ctx()->sched, &sr, h->segment, &h->data,
                                 &h->data_len);
            if (ret < 0)
                h->error = ret == -ESHUTDOWN ? -EIO : ret;
        }
        pthread_mutex_unlock(&h->lock);
        if (h->error) {
            free(bv);
            return h->error;
        }
        return segment_bytes(h, bv, size, (uint64_t)off, bufp);
    default:
        free(bv);
        return -EIO;
    }
    if ((uint64_t)off >= len)
        size = 0;
    else if (size > len - (size_t)off)
        size = len - (size_t)off;
    *bv = FUSE_BUFVEC_INIT(size);
    /* libfuse frees the memory of the buffer it is handed: a copy */
    if (size && !(bv->buf[0].mem = malloc(size))) {
        free(bv);
        return -ENOMEM;
    }
    if (size)
        memcpy(bv->buf[0].mem, src + off, size);
    *bufp = bv;
    return 0;
}

static int hlsfs_release(const char *path, struct fuse_file_info *fi)
{
    (void) path;
    handle_free((struct handle *)(uintptr_t)fi->fh);
    return 0;
}

static int hlsfs_statfs(const char *path, struct statvfs *sv)
{
    (void) path;
    if (statvfs(ctx()->source_root, sv) != 0)
        return -errno;
    sv->f_flag |= ST_RDONLY;
    return 0;
}

static int hlsfs_access(const char *path, int mask)
{
    struct stat st;
    int ret;
    if (mask & W_OK)
        return -EROFS;
    if ((ret = hlsfs_getattr(path, &st, NULL)) < 0)
        return ret;
    return 0;
}

static void *hlsfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    /* the kernel's default is 12 background requests: 12 readers waiting
     * for encodes would hold every one, and cached reads queue behind */
    conn->max_background = FS_MAX_BACKGROUND;
    conn->congestion_threshold = FS_MAX_BACKGROUND * 3 / 4;
    cfg->use_ino = 0;
    cfg->auto_cache = 1;        /* drop cached pages when mtime/size change */
    return fuse_get_context()->private_data;
}

/* Everything that would modify the tree. */
static int ro_path(const char *p) { (void) p; return -EROFS; }
static int ro_path2(const char *a, const char *b) { (void) a; (void) b; return -EROFS; }
static int ro_mode(const char *p, mode_t m) { (void) p; (void) m; return -EROFS; }
static int ro_mknod(const char *p, mode_t m, dev_t d) { (void) p; (void) m; (void) d; return -EROFS; }
static int ro_rename(const char *a, const char *b, unsigned int f) { (void) a; (void) b; (void) f; return -EROFS; }
static int ro_chmod(const char *p, mode_t m, struct fuse_file_info *fi) { (void) p; (void) m; (void) fi; return -EROFS; }
static int ro_chown(const char *p, uid_t u, gid_t g, struct fuse_file_info *fi) { (void) p; (void) u; (void) g; (void) fi; return -EROFS; }
static int ro_truncate(const char *p, off_t o, struct fuse_file_info *fi) { (void) p; (void) o; (void) fi; return -EROFS; }
static int ro_write(const char *p, const char *b, size_t s, off_t o, struct fuse_file_info *fi) { (void) p; (void) b; (void) s; (void) o; (void) fi; return -EROFS; }
static int ro_create(const char *p, mode_t m, struct fuse_file_info *fi) { (void) p; (void) m; (void) fi; return -EROFS; }
static int ro_utimens(const char *p, const struct timespec tv[2], struct fuse_file_info *fi) { (void) p; (void) tv; (void) fi; return -EROFS; }
static int ro_setxattr(const char *p, const char *n, const char *v, size_t s, int f) { (void) p; (void) n; (void) v; (void) s; (void) f; return -EROFS; }
static int ro_removexattr(const char *p, const char *n) { (void) p; (void) n; return -EROFS; }
static int ro_fallocate(const char *p, int m, off_t o, off_t l, struct fuse_file_info *fi) { (void) p; (void) m; (void) o; (void) l; (void) fi; return -EROFS; }

static const struct fuse_operations hlsfs_ops = {
    .init        = hlsfs_init,
    .getattr     = hlsfs_getattr,
    .readlink    = hlsfs_readlink,
    .readdir     = hlsfs_readdir,
    .open        = hlsfs_open,
    .read_buf    = hlsfs_read_buf,
    .release     = hlsfs_release,
    .statfs      = hlsfs_statfs,
    .access      = hlsfs_access,
    .mknod       = ro_mknod,
    .mkdir       = ro_mode,
    .unlink      = ro_path,
    .rmdir       = ro_path,
    .symlink     = ro_path2,
    .link        = ro_path2,
    .rename      = ro_rename,
    .chmod       = ro_chmod,
    .chown       = ro_chown,
    .truncate    = ro_truncate,
    .write       = ro_write,
    .create      = ro_create,
    .utimens     = ro_utimens,
    .setxattr    = ro_setxattr,
    .removexattr = ro_removexattr,
    .fallocate   = ro_fallocate,
};

const struct fuse_operations *fs_operations(void)
{
    return &hlsfs_ops;
}
