/* hd_hist_t: a latency histogram with fixed power-of-two buckets, cheap enough for every request
 * and safe to update from one thread while another reads it (relaxed atomics, no locks). Bucket
 * i counts observations <= HD_HIST_MIN_NS << i; the last bucket is everything above. */
#ifndef HD_HIST_H
#define HD_HIST_H

#include <stdatomic.h>
#include <stdint.h>

#define HD_HIST_BUCKETS 20 /* 8 us .. 4.2 s, then +Inf */
#define HD_HIST_MIN_NS 8000LL

typedef struct hd_hist {
    _Atomic uint64_t buckets[HD_HIST_BUCKETS + 1];
    _Atomic uint64_t count;
    _Atomic uint64_t sum_ns;
} hd_hist_t;

/* Records one observation of ns nanoseconds (negative counts as 0). */
void hd_hist_observe(hd_hist_t *h, int64_t ns);
/* The upper bound of bucket i in nanoseconds (i < HD_HIST_BUCKETS). */
static inline int64_t hd_hist_bound_ns(int i) { return HD_HIST_MIN_NS << i; }

#endif
