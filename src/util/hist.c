/* Fixed-bucket latency histograms (see hist.h). */
#include "util/hist.h"

void hd_hist_observe(hd_hist_t *h, int64_t ns)
{
    if (ns < 0)
        ns = 0;
    int i = 0;
    while (i < HD_HIST_BUCKETS && ns > hd_hist_bound_ns(i))
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, (uint64_t)ns, memory_order_relaxed);
}
