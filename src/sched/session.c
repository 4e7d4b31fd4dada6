/*
 * session: the segment scheduler. It decides who makes which segment and
 * when, keeps finished segments in the store it is given (struct
 * segstore_ops: get, has, put, touch, evict, drop) and makes readers wait
 * for the ones being made. What a segment is made of is none of its
 * business: the produce() callback makes it; where and how it is stored
 * neither: it names a segment by its rendition key and index.
 *
 * DESIGN
 * ------
 *
 * There are three kinds of object, and one mutex, sched.lock, protects
 * them all and the lists that hold them (list.h: the two job queues, each
 * rendition's jobs, the records in use and dead, the sessions). Nothing
 * slow happens under it: no produce(), no store call, no callback, no
 * large copy.
 *
 * A rendition record (struct rend) is our copy of what a reader told us
 * about a rendition: its key, segment times and sizes, and its owner.
 * Jobs and sessions of the rendition share it; it counts its users, and the
 * owner is held for as long as the record exists. A record whose count
 * drops to zero moves to a "dead" list, and unlock_and_release() releases the
 * owners after it has dropped the lock, so that release() may free a title
 * and take other locks.
 *
 * A job is one segment of one rendition to be made. From the moment it is
 * queued until it is done a job is in its rendition's job list, and a
 * reader of that segment joins it rather than making another: however many
 * readers ask, one job, one produce(). There are two FIFO queues of jobs:
 * "urgent" holds the jobs somebody waits for, "ahead" the readahead jobs.
 * A worker takes from urgent first. When a reader joins a queued readahead
 * job, the job moves to the tail of urgent.
 *
 * A session is one reader's frontier on one rendition: the furthest
 * segment read, and how far readahead has been queued. A read of segment N
 * joins a session of the rendition if N lies between the session's lowest
 * pending segment (or its furthest read, if lower) and the last segment it
 * reads ahead; otherwise it starts a new session at N. After every read,
 * hits included, the session queues readahead for the segments that start
 * less than max_ahead seconds after the end of its furthest read, skipping
 * those that are cached or have a job. A session with no reader inside it
 * whose last read is older than idle_timeout stops; its queued readahead
 * jobs that nobody waits for are handed to another session of the
 * rendition that covers them, or dropped. A running job always finishes.
 *
 * Workers. There are two crews of cfg.workers threads each: the urgent
 * crew takes only jobs somebody waits for, the readahead crew only
 * readahead, at a lower CPU priority (nice + AHEAD_NICE, which the codec
 * threads a job starts inherit). A readahead job starts only while no job
 * somebody waits for is queued or running. So a reader's segment never
 * queues behind readahead, and has the CPU to itself unless readahead
 * started before it (then it still comes first). A worker loops: stop
 * idle sessions (they wait with a
 * timeout set to the next session's expiry), pop a job, and run it without
 * the lock: look in the store, call produce() if it is not there, put
 * the segment in the store (one transaction), and only then, under the
 * lock, unlink the job, record the result and wake its waiters. So a
 * reader that misses the store finds either the job, still linked, or the
 * segment in the store; and if it slips between the two and queues a new
 * job, the worker finds the segment in the store and produce() is not
 * called again. A put that fails (no room) is logged and the segment is
 * still handed to its waiters.
 *
 * Eviction is the store's: it is told of every hit (touch) and asked to
 * evict after every segment stored, on the worker, once the segment's
 * waiters have been woken (they never wait for an eviction), without
 * sched.lock, with a snapshot of the sessions' positions and windows that
 * readers_snapshot() took under sched.lock beforehand; the store never
 * calls back. When a put finds no room, the worker has the store evict
 * and puts once more before it wakes the waiters: their segment is in the
 * store when they wake, or it has no room for it. With clean=eager, a
 * read that moves every session of a rendition on queues the segments now
 * segment_keep behind them all; a readahead worker has the store drop them
 * (eager_queue, cleanup_run).
 *
 * Waiting. Each job has a condition variable, broadcast when it is done.
 * The waiters share the job's buffer: the last one to look takes it, the
 * others copy it (outside the lock; the job lives while it has waiters).
 * A failed job hands its error to all of its waiters and is unlinked like
 * any other job, so nothing of the failure remains: the next read queues a
 * new job. A reader never waits for anything but its job, which always
 * ends (done, failed, or sched_free()).
 *
 * Shutdown. sched_free() sets sched.shutdown, wakes every waiter (they
 * return -ESHUTDOWN), waits for the readers still inside sched_read() to
 * leave, joins the workers (a running job finishes and is stored), then
 * frees what is left and releases every owner.
 *
 * Locks: sched.lock is the only lock of this file. The store is called
 * only without it and never calls back, so its locks (LMDB's writer lock,
 * the evictor's) never nest with sched.lock.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sys/resource.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hlsfs/list.h"
#include "hlsfs/log.h"
#include "hlsfs/session.h"

_Static_assert(SCHED_KEY_MAX <= SEGSTORE_RKEY_MAX,
               "rendition keys fit the store");

/* How much nicer the readahead crew is than the urgent one: at +10 the
 * kernel gives a waited-for encode about nine times the CPU share. */
#define AHEAD_NICE 10

struct job;
struct sched;

/* One crew of workers: what every thread of it is handed. */
struct crew {
    struct sched *s;
    int           urgent;       /* takes waited-for jobs, not readahead  */
};

struct rend {
    struct list_node link;      /* in sched.rends or sched.dead:
                                   protected by sched.lock               */
    int          refs;          /* jobs + sessions + sched_read calls
                                   using it: protected by sched.lock     */
    struct list  jobs;          /* queued and running jobs of it (by
                                   job.rlink): protected by sched.lock   */
    long         cleaned;       /* clean=eager: the segments below it are
                                   dropped or queued to be: protected by
                                   sched.lock                            */
    /* immutable from creation: */
    struct sched_rendition view;  /* what produce() sees; points below   */
    uint8_t      key[SCHED_KEY_MAX];
    int64_t     *start_ms;
    uint64_t    *sizes;
};

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

/* All fields but r and seg (immutable) are protected by sched.lock. A job
 * lives until it is done and has no waiters left. */
struct job {
    struct rend    *r;
    long            seg;
    enum job_state  state;
    int             urgent;     /* in sched.urgent, not sched.ahead      */
    int             waiters;    /* sched_read calls holding it           */
    struct session *session;    /* whose readahead it is, or NULL        */
    struct list_node qlink;     /* in a queue while JOB_QUEUED           */
    struct list_node rlink;     /* in r->jobs until JOB_DONE             */
    int             rc;         /* once JOB_DONE: 0 or a negative errno  */
    uint8_t        *data;       /* once JOB_DONE with rc 0: the segment's
                                   bytes without their padding, until the
                                   last waiter takes them                */
    size_t          len;        /* of data                               */
    pthread_cond_t  done;       /* broadcast when JOB_DONE or shutdown   */
};

/* clean=eager: segments [from, to) of r to drop; holds a use of r. */
struct cleanup {
    struct cleanup *next;
    struct rend    *r;
    long            from, to;
};

/* All fields are protected by sched.lock. */
struct session {
    struct list_node link;        /* in sched.sessions                   */
    struct rend    *r;
    long            furthest;     /* furthest segment read               */
    long            ahead_next;   /* first segment readahead has not
                                     considered yet                      */
    int             readers;      /* sched_read calls inside it: a
                                     session is never idle while > 0     */
    int64_t         last_read;    /* monotonic ns, end of the last read  */
};

struct sched {
    /* immutable after sched_new: */
    struct sched_config cfg;      /* cfg.store: where segments are kept  */
    int64_t             ahead_ms;
    int64_t             keep_ms;  /* segment_keep of the store           */
    int64_t             idle_ns;
    pthread_t          *threads;
    int                 nthreads;
    struct crew         crews[2]; /* [0] urgent, [1] readahead           */

    pthread_mutex_t     lock;
    pthread_cond_t      work;   /* workers: a job queued, a session went
                                   idle, or shutdown                     */
    pthread_cond_t      left;   /* sched_free: the last reader left      */
    int                 sync_ok;  /* lock and conds were initialised     */

    /* protected by sched.lock: */
    int                 shutdown;
    int                 inside;   /* sched_read calls in progress        */
    struct list         urgent, ahead;  /* FIFO queues of jobs (qlink)  */
    struct list         rends;    /* records in use (rend.link)          */
    struct list         dead;     /* records to release after unlocking  */
    struct list         sessions; /* (session.link)                      */
    int                 running;
    int                 running_urgent;  /* of them, by the urgent crew  */
    int                 waiting;  /* readers waiting for a job           */
    struct cleanup     *cleanups; /* clean=eager work for the readahead
                                     crew                                */
    struct sched_stats  st;       /* the counters only                   */
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A rendition key for a log line: printable bytes as they are, others as
 * \xNN, cut short if need be. */
static const char *key_text(char *buf, size_t size, const uint8_t *key,
                            size_t len)
{
    size_t o = 0;

    for (size_t i = 0; i < len && o + 5 < size; i++) {
        if (key[i] >= 0x20 && key[i] < 0x7f && key[i] != '\\')
            buf[o++] = (char)key[i];
        else
            o += (size_t)snprintf(buf + o, size - o, "\\x%02x", key[i]);
    }
    buf[o] = '\0';
    return buf;
}

/* ---- queues ---------------------------------------------------------- */

static void q_push(struct list *q, struct job *j)
{
    list_push_back(q, &j->qlink);
}

static void q_remove(struct list *q, struct job *j)
{
    list_remove(q, &j->qlink);
}

static struct job *q_pop(struct list *q)
{
    struct job *j;

    if (list_first(q) == list_end(q))
        return NULL;
    j = LIST_ENTRY(list_first(q), struct job, qlink);
    q_remove(q, j);
    return j;
}

#define JOB_OF(n)  LIST_ENTRY(n, struct job, rlink)
#define REND_OF(n) LIST_ENTRY(n, struct rend, link)
#define SESS_OF(n) LIST_ENTRY(n, struct session, link)

/* ---- rendition records ----------------------------------------------- */

static void rend_free(struct rend *r)
{
    if (!r)
        return;
    free(r->start_ms);
    free(r->sizes);
    free(r);
}

/* A copy of *in, unlinked, with no users yet. */
static struct rend *rend_new(const struct sched_rendition *in)
{
    struct rend *r = calloc(1, sizeof(*r));
    size_t n = (size_t)in->nseg;

    if (!r)
        return NULL;
    list_init(&r->jobs);
    r->start_ms = malloc((n + 1) * sizeof(*r->start_ms));
    r->sizes = malloc(n * sizeof(*r->sizes));
    if (!r->start_ms || !r->sizes) {
        rend_free(r);
        return NULL;
    }
    memcpy(r->key, in->key, in->key_len);
    memcpy(r->start_ms, in->start_ms, (n + 1) * sizeof(*r->start_ms));
    memcpy(r->sizes, in->sizes, n * sizeof(*r->sizes));
    r->view.key = r->key;
    r->view.key_len = in->key_len;
    r->view.nseg = in->nseg;
    r->view.start_ms = r->start_ms;
    r->view.sizes = r->sizes;
    r->view.owner = in->owner;
    r->view.rend = in->rend;
    r->view.no_readahead = in->no_readahead;
    return r;
}

static struct rend *rend_find(struct sched *s, const uint8_t *key,
                              size_t len)
{
    for (struct list_node *n = list_first(&s->rends); n != list_end(&s->rends);
         n = n->next) {
        struct rend *r = REND_OF(n);
        if (r->view.key_len == len && !memcmp(r->key, key, len))
            return r;
    }
    return NULL;
}

/* Drop one user; the last one sends the record to the dead list, whose
 * owners unlock_and_release() releases. Called with sched.lock held. */
static void rend_unref(struct sched *s, struct rend *r)
{
    if (--r->refs > 0)
        return;
    list_remove(&s->rends, &r->link);
    list_push_front(&s->dead, &r->link);
}

/* Unlock sched.lock, then release the owners of the records that lost
 * their last user while it was held. */
static void unlock_and_release(struct sched *s)
{
    struct list dead;

    list_init(&dead);
    while (list_first(&s->dead) != list_end(&s->dead)) {
        struct list_node *n = list_first(&s->dead);
        list_remove(&s->dead, n);
        list_push_back(&dead, n);
    }
    pthread_mutex_unlock(&s->lock);
    while (list_first(&dead) != list_end(&dead)) {
        struct rend *r = REND_OF(list_first(&dead));
        list_remove(&dead, &r->link);
        if (s->cfg.release)
            s->cfg.release(s->cfg.owner_ctx, r->view.owner);
        rend_free(r);
    }
}

/* The record of in's key with one more user: found, or made and held.
 * Called with sched.lock held; drops it for a while to make a record
 * (hold() is called without it). Returns 0 or -ENOMEM. */
static int rend_get(struct sched *s, const struct sched_rendition *in,
                    struct rend **out)
{
    struct rend *r = rend_find(s, in->key, in->key_len), *nr;

    if (r) {
        r->refs++;
        *out = r;
        return 0;
    }
    unlock_and_release(s);
    nr = rend_new(in);
    if (nr && s->cfg.hold)
        s->cfg.hold(s->cfg.owner_ctx, nr->view.owner);
    pthread_mutex_lock(&s->lock);
    if (!nr)
        return -ENOMEM;
    if ((r = rend_find(s, in->key, in->key_len))) {
        /* made meanwhile by another reader: ours goes, released later */
        list_push_front(&s->dead, &nr->link);
        r->refs++;
        *out = r;
        return 0;
    }
    nr->refs = 1;
    list_push_front(&s->rends, &nr->link);
    *out = nr;
    return 0;
}

/* ---- jobs ------------------------------------------------------------ */

static struct job *job_find(struct rend *r, long seg)
{
    for (struct list_node *n = list_first(&r->jobs); n != list_end(&r->jobs);
         n = n->next)
        if (JOB_OF(n)->seg == seg)
            return JOB_OF(n);
    return NULL;
}

/* Queue a new job for seg of r. Called with sched.lock held. */
static struct job *job_new(struct sched *s, struct rend *r, long seg,
                           int urgent, struct session *sess)
{
    struct job *j = calloc(1, sizeof(*j));

    if (!j)
        return NULL;
    if (pthread_cond_init(&j->done, NULL)) {
        free(j);
        return NULL;
    }
    j->r = r;
    j->seg = seg;
    j->state = JOB_QUEUED;
    j->urgent = urgent;
    j->session = sess;
    r->refs++;
    list_push_front(&r->jobs, &j->rlink);
    q_push(urgent ? &s->urgent : &s->ahead, j);
    pthread_cond_broadcast(&s->work);
    return j;
}

/* Take j out of its rendition's job list: from now on a reader of the
 * segment makes a new job. Called with sched.lock held. */
static void job_unlink(struct job *j)
{
    list_remove(&j->r->jobs, &j->rlink);
}

/* Free an unlinked job. Called with sched.lock held. */
static void job_free(struct sched *s, struct job *j)
{
    pthread_cond_destroy(&j->done);
    free(j->data);
    rend_unref(s, j->r);
    free(j);
}

static int readers_snapshot(struct sched *s, struct segstore_reader **out);

/* Let the store evict, sparing the readers as they are now (a snapshot
 * taken under sched.lock, handed over without it). Called without
 * sched.lock. */
static int64_t store_evict(struct sched *s, int force)
{
    const struct segstore_ops *st = &s->cfg.store;
    struct segstore_reader *rd = NULL;
    int64_t ret;
    int n;

    if (!st->evict)
        return -ENOSPC;
    n = readers_snapshot(s, &rd);
    ret = st->evict(st->ctx, force, rd, n > 0 ? n : 0);
    free(rd);
    return ret;
}

/* Store a segment made by produce(). When there is no room, evict and try
 * once more; a segment that still does not fit is served from memory.
 * Returns whether it was stored. */
static int job_store(struct sched *s, const struct rend *r, long seg,
                     const uint8_t *data, size_t size)
{
    const struct segstore_ops *st = &s->cfg.store;
    char kt[128];
    int rc;

    rc = st->put(st->ctx, r->key, r->view.key_len, seg, data, size);
    if (rc == -ENOSPC && st->evict && store_evict(s, 1) >= 0)
        rc = st->put(st->ctx, r->key, r->view.key_len, seg, data, size);
    if (rc < 0) {
        log_warn("session: segment %ld of %s not cached, served from memory: %s",
                 seg, key_text(kt, sizeof(kt), r->key, r->view.key_len),
                 strerror(-rc));
        pthread_mutex_lock(&s->lock);
        s->st.not_cached++;
        pthread_mutex_unlock(&s->lock);
        return 0;
    }
    return 1;
}

/* Make the segment of j: from the store if an earlier job left it there,
 * else by produce(), then stored (*stored: whether it was). Called without
 * sched.lock. Returns 1 (found in the store), 0 (produced) or a negative
 * errno; *out holds the segment on success. */
static int job_run(struct sched *s, struct job *j, uint8_t **out, size_t *len,
                   int *stored)
{
    const struct segstore_ops *st = &s->cfg.store;
    const struct rend *r = j->r;
    uint64_t size = r->sizes[j->seg];
    uint8_t *data = NULL;
    size_t dlen = 0, vlen = 0;
    void *val = NULL;
    int rc;

    *out = NULL;
    *len = 0;
    *stored = 0;
    rc = st->get(st->ctx, r->key, r->view.key_len, j->seg, &val, &vlen);
    if (rc == 1 && vlen <= size) {
        *out = val;
        *len = vlen;
        return 1;
    }
    free(val);

    rc = s->cfg.produce(s->cfg.ctx, &r->view, j->seg, &data, &dlen);
    if (rc >= 0 && !data && dlen == 0)
        data = malloc(1);
    if (rc >= 0 && (!data || dlen > size))
        rc = -EIO;                  /* more than planned: a bug, not cached */
    if (rc < 0) {
        free(data);
        return rc >= -4095 ? rc : -EIO;
    }
    *stored = job_store(s, r, j->seg, data, dlen);
    *out = data;
    *len = dlen;
    return 0;
}

/* Record the result of a run, wake the waiters. Called with sched.lock
 * held. */
static void job_finish(struct sched *s, struct job *j, int rc, uint8_t *data,
                       size_t len)
{
    s->running--;
    job_unlink(j);
    j->state = JOB_DONE;
    j->session = NULL;
    j->rc = rc < 0 ? rc : 0;
    j->data = rc < 0 ? NULL : data;
    j->len = rc < 0 ? 0 : len;
    if (rc == 0)
        s->st.produced++;
    else if (rc < 0)
        s->st.failures++;
    if (j->waiters)
        pthread_cond_broadcast(&j->done);
    else
        job_free(s, j);
}

/* ---- sessions -------------------------------------------------------- */

/* The last segment read ahead of a session whose furthest read is
 * 'furthest': the last one starting before the end of that read plus
 * max_ahead. 'furthest' itself when there is none. */
static long ahead_last(const struct sched *s, const struct rend *r,
                       long furthest)
{
    const int64_t *t = r->start_ms;
    long lo = furthest + 1, hi = r->view.nseg, mid;
    int64_t horizon;

    if (lo >= hi)
        return furthest;
    horizon = t[lo] > INT64_MAX - s->ahead_ms ? INT64_MAX
                                               : t[lo] + s->ahead_ms;
    while (lo < hi) {               /* first segment at or past horizon */
        mid = lo + (hi - lo) / 2;
        if (t[mid] < horizon)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo - 1;
}

/* Lowest segment a session still cares about: its lowest pending job, or
 * its furthest read if lower. */
static long session_lowest(const struct session *sess)
{
    long lo = sess->furthest;

    for (const struct list_node *n = list_first(&sess->r->jobs);
         n != list_end(&sess->r->jobs); n = n->next)
        if (JOB_OF(n)->session == sess && JOB_OF(n)->seg < lo)
            lo = JOB_OF(n)->seg;
    return lo;
}

/* A session covers its lowest pending segment up to the last it reads
 * ahead, and always the next one: a reader going on in order stays in
 * its session, readahead or not. */
static int session_covers(const struct sched *s, const struct session *sess,
                          long seg)
{
    long last = ahead_last(s, sess->r, sess->furthest);

    return seg >= session_lowest(sess) &&
           seg <= (last > sess->furthest ? last : sess->furthest + 1);
}

/* The session of r that seg belongs to, nearest to its frontier, or NULL.
 * 'except' is never chosen. */
static struct session *session_find(struct sched *s, const struct rend *r,
                                    long seg, const struct session *except)
{
    struct session *best = NULL;
    long best_d = 0, d;

    for (struct list_node *n = list_first(&s->sessions);
         n != list_end(&s->sessions); n = n->next) {
        struct session *sess = SESS_OF(n);
        if (sess->r != r || sess == except || !session_covers(s, sess, seg))
            continue;
        d = seg > sess->furthest ? seg - sess->furthest : sess->furthest - seg;
        if (!best || d < best_d) {
            best = sess;
            best_d = d;
        }
    }
    return best;
}

/* A reader of seg of r comes in: join or start its session. NULL when
 * out of memory (the read goes on without readahead). Called with
 * sched.lock held. */
static struct session *session_enter(struct sched *s, struct rend *r,
                                     long seg)
{
    struct session *sess = session_find(s, r, seg, NULL);

    if (!sess) {
        if (!(sess = calloc(1, sizeof(*sess))))
            return NULL;
        sess->r = r;
        r->refs++;
        sess->furthest = seg;
        sess->ahead_next = seg + 1;
        list_push_front(&s->sessions, &sess->link);
    }
    if (seg > sess->furthest)
        sess->furthest = seg;
    sess->readers++;
    sess->last_read = now_ns();
    return sess;
}

/* The reader leaves: the idle clock of the session starts. Called with
 * sched.lock held. */
static void session_leave(struct sched *s, struct session *sess)
{
    sess->last_read = now_ns();
    if (--sess->readers == 0)
        pthread_cond_broadcast(&s->work);  /* a worker times its expiry */
}

/* Stop a session: its queued readahead nobody waits for goes to another
 * session that covers it, or is dropped. Called with sched.lock held. */
static void session_stop(struct sched *s, struct session *sess)
{
    struct rend *r = sess->r;
    struct list_node *n, *next;

    list_remove(&s->sessions, &sess->link);

    for (n = list_first(&r->jobs); n != list_end(&r->jobs); n = next) {
        struct job *j = JOB_OF(n);
        next = n->next;
        if (j->session != sess)
            continue;
        j->session = session_find(s, r, j->seg, sess);
        if (j->session || j->state != JOB_QUEUED || j->waiters)
            continue;
        q_remove(j->urgent ? &s->urgent : &s->ahead, j);
        job_unlink(j);
        job_free(s, j);
        s->st.dropped++;
    }
    rend_unref(s, r);
    free(sess);
}

/* Stop the sessions idle since before now - idle_timeout. Returns when
 * the next one expires (INT64_MAX: none will by itself). Called with
 * sched.lock held. */
static int64_t sessions_reap(struct sched *s, int64_t now)
{
    struct list_node *n, *next;
    int64_t next_exp = INT64_MAX, exp;

    for (n = list_first(&s->sessions); n != list_end(&s->sessions); n = next) {
        struct session *sess = SESS_OF(n);
        next = n->next;
        if (sess->readers)
            continue;
        exp = sess->last_read + s->idle_ns;
        if (exp <= now)
            session_stop(s, sess);
        else if (exp < next_exp)
            next_exp = exp;
    }
    return next_exp;
}

/* Readahead, step 1: the segments of sess's window not considered yet and
 * without a job, malloc'd into *segs. Called with sched.lock held. */
static int readahead_plan(struct sched *s, struct session *sess, long **segs)
{
    long from = sess->ahead_next > sess->furthest + 1 ? sess->ahead_next
                                                      : sess->furthest + 1;
    long to = ahead_last(s, sess->r, sess->furthest);
    long *v;
    int n = 0;

    *segs = NULL;
    if (from > to || sess->r->view.no_readahead)
        return 0;
    if (!(v = malloc((size_t)(to - from + 1) * sizeof(*v))))
        return 0;
    sess->ahead_next = to + 1;
    for (long i = from; i <= to; i++)
        if (!job_find(sess->r, i))
            v[n++] = i;
    *segs = v;
    return n;
}

/* Readahead, step 2: queue jobs for those of segs not in the cache.
 * Called without sched.lock; sess is safe as the caller is inside it. */
static void readahead_queue(struct sched *s, struct session *sess,
                            long *segs, int n)
{
    const struct segstore_ops *st = &s->cfg.store;
    struct rend *r = sess->r;

    for (int i = 0; i < n; i++)
        if (st->has(st->ctx, r->key, r->view.key_len, segs[i]) == 1)
            segs[i] = -1;
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < n && !s->shutdown; i++) {
        if (segs[i] < 0 || job_find(r, segs[i]))
            continue;
        if (!job_new(s, r, segs[i], 0, sess))
            break;
        s->st.readahead_jobs++;
    }
    unlock_and_release(s);
}

/* ---- eviction -------------------------------------------------------- */

/* How many segments of r lie more than segment_keep behind a reader at
 * segment 'furthest': those that end at or before its start minus keep. */
static long behind_count(const struct sched *s, const struct rend *r,
                         long furthest)
{
    const int64_t *t = r->start_ms;
    int64_t limit = t[furthest] - s->keep_ms;
    long lo = 0, hi = furthest, mid;

    while (lo < hi) {               /* first segment ending past limit */
        mid = lo + (hi - lo) / 2;
        if (t[mid + 1] <= limit)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int64_t rend_duration_ms(const struct rend *r)
{
    return r->start_ms[r->view.nseg] - r->start_ms[0];
}

/* Every session is an active reader (an idle one stops): their positions
 * and windows, into a malloc'd *out. Returns how many, or -ENOMEM. Takes
 * sched.lock. */
static int readers_snapshot(struct sched *s, struct segstore_reader **out)
{
    struct segstore_reader *v;
    int n = 0;

    pthread_mutex_lock(&s->lock);
    if (!(v = calloc(s->sessions.n + 1, sizeof(*v)))) {
        pthread_mutex_unlock(&s->lock);
        *out = NULL;
        return -ENOMEM;
    }
    for (struct list_node *ln = list_first(&s->sessions);
         ln != list_end(&s->sessions); ln = ln->next) {
        const struct session *sess = SESS_OF(ln);
        const struct rend *r = sess->r;
        struct segstore_reader *x = &v[n++];
        memcpy(x->key, r->key, r->view.key_len);
        x->key_len = r->view.key_len;
        x->duration_ms = rend_duration_ms(r);
        x->behind = behind_count(s, r, sess->furthest);
        x->keep_from = session_lowest(sess);
        x->keep_to = ahead_last(s, r, sess->furthest);
    }
    pthread_mutex_unlock(&s->lock);
    *out = v;
    return n;
}

/* clean=eager: after a read of r, queue the segments that every session
 * of it has left more than segment_keep behind and that were not queued
 * yet, for a readahead worker to drop (a write transaction does not
 * belong on the reader's path). Called with sched.lock held. */
static void eager_queue(struct sched *s, struct rend *r)
{
    struct cleanup *k;
    long behind = -1, b;

    if (!s->cfg.store.drop || !s->cfg.store.eager ||
        rend_duration_ms(r) < SEGSTORE_LONG_MS)
        return;
    for (struct list_node *n = list_first(&s->sessions);
         n != list_end(&s->sessions); n = n->next) {
        const struct session *sess = SESS_OF(n);
        if (sess->r != r)
            continue;
        b = behind_count(s, r, sess->furthest);
        if (behind < 0 || b < behind)
            behind = b;
    }
    if (behind <= r->cleaned || !(k = malloc(sizeof(*k))))
        return;
    k->r = r;
    r->refs++;
    k->from = r->cleaned;
    k->to = behind;
    k->next = s->cleanups;
    s->cleanups = k;
    r->cleaned = behind;
    pthread_cond_broadcast(&s->work);
}

/* Drop the segments of a queued cleanup. Called with sched.lock held,
 * which it drops meanwhile. */
static void cleanup_run(struct sched *s, struct cleanup *k)
{
    unlock_and_release(s);
    s->cfg.store.drop(s->cfg.store.ctx, k->r->key, k->r->view.key_len, k->from,
                      k->to);
    pthread_mutex_lock(&s->lock);
    rend_unref(s, k->r);
    free(k);
}

/* ---- workers --------------------------------------------------------- */

/* Lower the calling thread's CPU priority by AHEAD_NICE (Linux keeps a
 * nice value per thread). Failure only costs the preference. */
static void worker_be_nice(void)
{
    id_t tid = (id_t)gettid();
    int cur;

    errno = 0;
    cur = getpriority(PRIO_PROCESS, tid);
    if (errno == 0)
        setpriority(PRIO_PROCESS, tid, cur + AHEAD_NICE > 19 ? 19 : cur + AHEAD_NICE);
}

static void *worker_main(void *arg)
{
    const struct crew *c = arg;
    struct sched *s = c->s;
    struct list *q = c->urgent ? &s->urgent : &s->ahead;
    struct job *j;
    uint8_t *data;
    size_t len;
    int64_t next_exp;
    int rc, stored;

    if (!c->urgent)
        worker_be_nice();
    pthread_mutex_lock(&s->lock);
    while (!s->shutdown) {
        next_exp = sessions_reap(s, now_ns());
        if (!c->urgent && s->cleanups) {
            struct cleanup *k = s->cleanups;
            s->cleanups = k->next;
            cleanup_run(s, k);
            continue;
        }
        /* readahead starts only while nobody waits for a segment */
        j = q == &s->urgent || (!s->running_urgent && !s->urgent.n) ? q_pop(q) : NULL;
        if (!j) {
            if (s->dead.n) {        /* release before sleeping */
                unlock_and_release(s);
                pthread_mutex_lock(&s->lock);
            } else if (next_exp == INT64_MAX) {
                pthread_cond_wait(&s->work, &s->lock);
            } else {
                struct timespec ts = { .tv_sec = next_exp / 1000000000,
                                       .tv_nsec = next_exp % 1000000000 };
                pthread_cond_timedwait(&s->work, &s->lock, &ts);
            }
            continue;
        }
        j->state = JOB_RUNNING;
        s->running++;
        if (q == &s->urgent)
            s->running_urgent++;
        unlock_and_release(s);

        rc = job_run(s, j, &data, &len, &stored);

        pthread_mutex_lock(&s->lock);
        job_finish(s, j, rc, data, len);
        if (q == &s->urgent && --s->running_urgent == 0)
            pthread_cond_broadcast(&s->work);   /* readahead may start */
        if (stored && s->cfg.store.evict) {
            /* the waiters are awake: eviction is off their path */
            unlock_and_release(s);
            store_evict(s, 0);
            pthread_mutex_lock(&s->lock);
        }
    }
    unlock_and_release(s);
    return NULL;
}

/* ---- public ---------------------------------------------------------- */

int sched_new(struct sched **out, const struct sched_config *cfg)
{
    struct sched *s;
    pthread_condattr_t ca;
    sigset_t all, old;
    double ahead, idle, keep;
    long cores;
    int workers, rc, ret = 0;

    if (out)
        *out = NULL;
    if (!out || !cfg || !cfg->produce || !cfg->store.get || !cfg->store.has ||
        !cfg->store.put)
        return -EINVAL;
    if (!(s = calloc(1, sizeof(*s))))
        return -ENOMEM;
    list_init(&s->urgent);
    list_init(&s->ahead);
    list_init(&s->rends);
    list_init(&s->dead);
    list_init(&s->sessions);
    s->cfg = *cfg;
    ahead = cfg->max_ahead;
    if (!(ahead >= 0))              /* negative or NaN: the default */
        ahead = 60;
    idle = cfg->idle_timeout;
    if (!(idle > 0))
        idle = 60;
    s->ahead_ms = (int64_t)((ahead < 1e12 ? ahead : 1e12) * 1000 + 0.5);
    s->idle_ns = (int64_t)((idle < 1e9 ? idle : 1e9) * 1e9 + 0.5);
    keep = cfg->store.segment_keep;
    if (keep > 0)
        s->keep_ms = (int64_t)((keep < 1e12 ? keep : 1e12) * 1000 + 0.5);
    cores = sysconf(_SC_NPROCESSORS_ONLN);
    workers = cfg->workers > 0 ? cfg->workers : cores > 0 ? (int)cores : 1;

    if (pthread_condattr_init(&ca)) {
        free(s);
        return -ENOMEM;
    }
    /* the deadlines of the work condition are CLOCK_MONOTONIC times */
    if ((rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC))) {
        pthread_condattr_destroy(&ca);
        free(s);
        return -rc;
    }
    if (pthread_mutex_init(&s->lock, NULL)) {
        pthread_condattr_destroy(&ca);
        free(s);
        return -ENOMEM;
    }
    if (pthread_cond_init(&s->work, &ca)) {
        pthread_mutex_destroy(&s->lock);
        pthread_condattr_destroy(&ca);
        free(s);
        return -ENOMEM;
    }
    if (pthread_cond_init(&s->left, NULL)) {
        pthread_cond_destroy(&s->work);
        pthread_mutex_destroy(&s->lock);
        pthread_condattr_destroy(&ca);
        free(s);
        return -ENOMEM;
    }
    pthread_condattr_destroy(&ca);
    s->sync_ok = 1;

    s->crews[0] = (struct crew){ .s = s, .urgent = 1 };
    s->crews[1] = (struct crew){ .s = s, .urgent = 0 };
    if (!(s->threads = calloc((size_t)workers * 2, sizeof(*s->threads)))) {
        ret = -ENOMEM;
        goto fail;
    }
    /* signals are for the main thread (FUSE's handlers), not workers */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int i = 0; i < workers * 2; i++) {
        struct crew *c = &s->crews[i < workers ? 0 : 1];
        char name[32];
        if ((rc = pthread_create(&s->threads[i], NULL, worker_main, c))) {
            log_error("session: cannot start worker %d: %s", i, strerror(rc));
            ret = -rc;
            break;
        }
        snprintf(name, sizeof(name), "hlsfs-%s%d", c->urgent ? "wait" : "ahead",
                 i % workers);
        name[15] = '\0';           /* the kernel's limit */
        pthread_setname_np(s->threads[i], name);
        s->nthreads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (ret < 0)
        goto fail;
    *out = s;
    return 0;

fail:
    sched_free(&s);
    return ret;
}

void sched_free(struct sched **ps)
{
    struct sched *s = ps ? *ps : NULL;
    struct job *j;

    if (!s)
        return;
    *ps = NULL;
    if (!s->sync_ok) {
        free(s);
        return;
    }

    pthread_mutex_lock(&s->lock);
    s->shutdown = 1;
    pthread_cond_broadcast(&s->work);
    for (struct list_node *rn = list_first(&s->rends); rn != list_end(&s->rends);
         rn = rn->next)
        for (struct list_node *jn = list_first(&REND_OF(rn)->jobs);
             jn != list_end(&REND_OF(rn)->jobs); jn = jn->next)
            pthread_cond_broadcast(&JOB_OF(jn)->done);
    while (s->inside > 0)
        pthread_cond_wait(&s->left, &s->lock);
    unlock_and_release(s);

    for (int i = 0; i < s->nthreads; i++)
        pthread_join(s->threads[i], NULL);

    /* nobody else is left: drop what is queued, stop every session */
    pthread_mutex_lock(&s->lock);
    while ((j = q_pop(&s->urgent)) || (j = q_pop(&s->ahead))) {
        job_unlink(j);
        job_free(s, j);
    }
    while (list_first(&s->sessions) != list_end(&s->sessions))
        session_stop(s, SESS_OF(list_first(&s->sessions)));
    while (s->cleanups) {
        struct cleanup *k = s->cleanups;
        s->cleanups = k->next;
        rend_unref(s, k->r);
        free(k);
    }
    if (s->rends.n)
        log_error("session: rendition records left at shutdown");
    unlock_and_release(s);

    pthread_cond_destroy(&s->left);
    pthread_cond_destroy(&s->work);
    pthread_mutex_destroy(&s->lock);
    free(s->threads);
    free(s);
}

/* Wait for j, then take its result. Called with sched.lock held, which it
 * drops for a while to copy a shared segment. */
static int job_wait(struct sched *s, struct job *j, uint8_t **data,
                    size_t *len)
{
    int ret = 0, copy = 0;

    while (j->state != JOB_DONE && !s->shutdown)
        pthread_cond_wait(&j->done, &s->lock);
    if (j->state != JOB_DONE) {
        ret = -ESHUTDOWN;
    } else if (j->rc < 0) {
        ret = j->rc;
    } else if (j->waiters == 1) {
        *data = j->data;            /* the last to look takes the buffer */
        *len = j->len;
        j->data = NULL;
    } else {
        copy = 1;
    }
    if (copy) {
        /* j->data stays: the job lives while we are one of its waiters,
         * and nobody takes the buffer while others still wait */
        pthread_mutex_unlock(&s->lock);
        if ((*data = malloc(j->len ? j->len : 1))) {
            memcpy(*data, j->data, j->len);
            *len = j->len;
        } else
            ret = -ENOMEM;
        pthread_mutex_lock(&s->lock);
    }
    if (--j->waiters == 0 && j->state == JOB_DONE)
        job_free(s, j);
    return ret;
}

int sched_read(struct sched *s, const struct sched_rendition *in, long seg,
               uint8_t **data, size_t *len)
{
    const struct segstore_ops *st;
    uint8_t *buf = NULL;
    size_t vlen = 0, blen = 0;
    uint64_t size;
    void *val = NULL;
    struct rend *r = NULL;
    struct session *sess = NULL;
    struct job *j = NULL;
    long *segs = NULL;
    int nsegs = 0, hit, rc, ret = 0;
    char kt[128];

    if (data)
        *data = NULL;
    if (len)
        *len = 0;
    if (!s || !in || !data || !len || !in->key || !in->key_len ||
        in->key_len > SCHED_KEY_MAX || in->nseg < 1 ||
        (unsigned long)in->nseg > UINT32_MAX || !in->start_ms || !in->sizes ||
        seg < 0 || seg >= in->nseg)
        return -EINVAL;
    size = in->sizes[seg];
    st = &s->cfg.store;

    pthread_mutex_lock(&s->lock);
    if (s->shutdown) {
        pthread_mutex_unlock(&s->lock);
        return -ESHUTDOWN;
    }
    s->inside++;
    pthread_mutex_unlock(&s->lock);

    rc = st->get(st->ctx, in->key, in->key_len, seg, &val, &vlen);
    hit = rc == 1 && vlen <= size;
    if (rc == 1 && !hit) {
        log_warn("session: segment %ld of %s: cached size %zu, more than the "
                 "planned %" PRIu64 "; making it again", seg,
                 key_text(kt, sizeof(kt), in->key, in->key_len), vlen, size);
        free(val);
        val = NULL;
    }

    pthread_mutex_lock(&s->lock);
    if (hit)
        s->st.cache_hits++;
    if (s->shutdown) {
        ret = -ESHUTDOWN;
        goto out;
    }
    if ((rc = rend_get(s, in, &r)) < 0) {
        ret = rc;
        goto out;
    }
    if (seg >= r->view.nseg || r->sizes[seg] != size) {
        log_warn("session: %s reused with another plan (segment %ld)",
                 key_text(kt, sizeof(kt), in->key, in->key_len), seg);
        ret = -EIO;
        goto out;
    }
    if (s->shutdown) {              /* rend_get dropped the lock */
        ret = -ESHUTDOWN;
        goto out;
    }
    sess = session_enter(s, r, seg);
    if (!hit) {
        if (!(j = job_find(r, seg))) {
            if (!(j = job_new(s, r, seg, 1, sess))) {
                ret = -ENOMEM;
                goto out;
            }
        } else if (!j->urgent && j->state == JOB_QUEUED) {
            q_remove(&s->ahead, j);     /* promote: someone waits now */
            j->urgent = 1;
            q_push(&s->urgent, j);
            pthread_cond_broadcast(&s->work);
        }
        j->urgent = 1;
        j->waiters++;
        s->st.waits++;
    }
    if (sess)
        nsegs = readahead_plan(s, sess, &segs);
    eager_queue(s, r);
    unlock_and_release(s);

    if (hit && st->touch)
        st->touch(st->ctx, in->key, in->key_len, seg);
    if (nsegs > 0)
        readahead_queue(s, sess, segs, nsegs);
    free(segs);

    pthread_mutex_lock(&s->lock);
    if (j) {
        s->waiting++;
        ret = job_wait(s, j, &buf, &blen);
        s->waiting--;
    }

out:
    if (sess)
        session_leave(s, sess);
    if (r)
        rend_unref(s, r);
    if (hit) {                      /* a hit is a hit, even at shutdown */
        buf = val;
        blen = vlen;
        ret = 0;
    }
    if (--s->inside == 0 && s->shutdown)
        pthread_cond_broadcast(&s->left);
    unlock_and_release(s);

    if (ret < 0) {
        free(buf);
        return ret;
    }
    *data = buf;
    *len = blen;
    return 0;
}

void sched_get_stats(struct sched *s, struct sched_stats *st)
{
    if (!s) {
        memset(st, 0, sizeof(*st));
        return;
    }
    pthread_mutex_lock(&s->lock);
    *st = s->st;
    st->active_sessions = (int)s->sessions.n;
    st->running_jobs = s->running;
    st->queued_jobs = (int)(s->urgent.n + s->ahead.n);
    st->waiting_readers = s->waiting;
    pthread_mutex_unlock(&s->lock);
}
