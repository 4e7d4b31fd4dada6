/*
 * framerate: the frame rate a title declares (FRAME-RATE, and the level
 * of its rungs), from the timestamps of its video packets.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include <libavutil/rational.h>

#include "hlsfs/framerate.h"
#include "hlsfs/probe.h"

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Sort timestamps that are sorted already, or nearly (presentation times
 * in decode order are out of order by a few frames at most): insertion
 * sort while it stays cheap, qsort otherwise. */
static void sort_timestamps(int64_t *v, size_t n)
{
    size_t moves = 0;
    for (size_t i = 1; i < n; i++) {
        int64_t x = v[i];
        size_t j = i;
        while (j > 0 && v[j - 1] > x) {
            v[j] = v[j - 1];
            j--;
            if (++moves > 16 * n) {
                qsort(v, n, sizeof(*v), cmp_i64);
                return;
            }
        }
        v[j] = x;
    }
}

/* The k-th smallest of v[0..n) (v is reordered): quickselect. */
static int64_t select_kth(int64_t *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        int64_t pivot = v[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                int64_t t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return v[k];
    }
    return v[k];
}

/* FRAME-RATE: the container's average or libavformat's base rate when one
 * is within 5 % of the rate of the typical (median) step between
 * timestamps (they are exact where timestamps are rounded, and some
 * containers report a bogus average); else the mean rate of the frames.
 * 0 when unknown, -1 without memory. */
double framerate_of(const struct probe_stream *v, size_t from)
{
    size_t n = v->npkts - from, k = 0;
    int64_t *ts = malloc((n ? n : 1) * sizeof(*ts));
    double step_rate = 0, mean_rate = 0, tb = av_q2d(v->tb);
    if (!ts)
        return -1;          /* no memory: not "unknown", which is kept */
    int all_pts = 1;        /* a sample table gives decode times only */
    for (size_t i = from; i < v->npkts; i++)
        all_pts &= v->pkts[i].pts != AV_NOPTS_VALUE;
    for (size_t i = from; i < v->npkts; i++)
        ts[i - from] = all_pts ? v->pkts[i].pts : v->pkts[i].dts;
    sort_timestamps(ts, n);
    if (n > 1 && ts[n - 1] > ts[0])
        mean_rate = (double)(n - 1) / ((double)(ts[n - 1] - ts[0]) * tb);
    for (size_t i = 1; i < n; i++)
        if (ts[i] > ts[i - 1])
            ts[k++] = ts[i] - ts[i - 1];
    if (k)
        step_rate = 1.0 / ((double)select_kth(ts, k, k / 2) * tb);
    free(ts);
    const AVRational cand[2] = { v->avg_rate, v->r_rate };
    for (int i = 0; i < 2; i++)
        if (cand[i].num > 0 && cand[i].den > 0 &&
            (step_rate <= 0 || fabs(av_q2d(cand[i]) - step_rate) <= step_rate * 0.05))
            return av_q2d(cand[i]);
    return mean_rate > 0 ? mean_rate : step_rate;
}
