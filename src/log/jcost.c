/* The cost model of the journal's adaptive write path (journal.c; partition.c, "Direct writes"):
 * which partitions of the next rounds write straight to their segments.
 *
 * The cost model (log.journal.direct.bytes -3, the default) picks the byte threshold after each
 * round, from the bytes each partition of the round was appended: of "all direct", "direct from
 * 2^k bytes" (k = 10..31) and "all journaled", the one under which that round would have cost
 * least, counting one fdatasync for the journal if anything is journaled, plus COST_BYTE_PS per
 * journaled byte (the second write), plus for the direct partitions one fdatasync each when
 * fewer than LOG_FLUSH_SYNCFS_MIN, else one syncfs (an fdatasync and COST_SYNCFS_FILE_NS per
 * file). So a partition alone in its round always goes direct (its sync replaces the journal's),
 * 16 partitions of 400 KiB each go direct, 100 of 6 KiB or 1,000 of 1 KiB go through the
 * journal, and one hot partition among many small ones goes direct alone. (The flusher makes a
 * round of fewer direct partitions durable with one syncfs, the journal's included, when that
 * would write back few journaled bytes besides: cheaper than counted here, so the model errs
 * towards the journal there.)
 *
 * An fdatasync's cost is the disk's, so the model does not take it as a constant: it starts from
 * COST_SYNC_NS and follows the lower quartile of what the flusher's fdatasyncs take (the
 * journal's and the direct segments'; log__jcost_sync). A quantile, because a sync
 * also writes what its file holds unwritten and can wait behind a checkpoint's writeback, and
 * the model wants the fixed part; a low one, for the same reason. On a disk whose syncs take
 * 1.5 ms (network block storage), a round of three partitions of 300 KB then goes through the
 * journal, one sync instead of three; where they take 20 us, the journal's second write
 * outweighs the syncs it saves sooner.
 *
 * Flusher thread, except the reads of the threshold and the estimate (any thread). */
#include "log/log_int.h"

/* The cost model of the adaptive write path (see above), in ns per round: one
 * fdatasync (of the journal, or of one segment), the extra file of a syncfs, and the journal's
 * second write per byte (in ps). From bench/journal_sync_probe on this disk (16 and 100 files of
 * 16 KiB: one fdatasync 208 and 1,045 us for the whole, one syncfs 465 and 2,141 us, so 11-16 us
 * per extra file; an fdatasync of little data 115-200 us) and from the broker's CPU time per 1 KiB
 * record with every batch journaled against none (1.4-1.8 against 0.8-1.0 us). */
#define COST_SYNC_NS 150000 /* the start: the measured one replaces it (see above) */
#define COST_SYNC_MIN_NS 5000
#define COST_SYNC_MAX_NS 100000000
#define COST_SYNCFS_FILE_NS 12000
#define COST_BYTE_PS 700
/* Thresholds the model picks from: 0 (all direct), 2^COST_MIN_LOG2 .. 2^31, or none (all
 * journaled); it starts at COST_START_MIN. */
#define COST_MIN_LOG2 LOG_JCOST_MIN_LOG2
#define COST_START_MIN (16 * 1024)

void log__jcost_init(log__jcost_t *c, int64_t direct_bytes)
{
    atomic_init(&c->sync_est_ns, COST_SYNC_NS);
    atomic_init(&c->direct_min,
                direct_bytes == LOG_DIRECT_ADAPTIVE ? COST_START_MIN : direct_bytes);
    atomic_init(&c->picks_all, 0);
    atomic_init(&c->picks_split, 0);
    atomic_init(&c->picks_none, 0);
    for (int i = 0; i < LOG_JCOST_NCAND; i++)
        c->acc[i] = 0;
}

void log__round_hist_add(log__round_hist_t *h, int64_t bytes)
{
    int b = 0;
    while (b + 1 < LOG_ROUND_BUCKETS && bytes >= (int64_t)2 << b)
        b++;
    h->n[b]++;
    h->bytes[b] += bytes;
}

/* What making one round durable costs, in ns, when the partitions of h with at least 2^k bytes
 * (all of them for k = 0, none for k = LOG_ROUND_BUCKETS) write direct and the others go through
 * the journal (see the top of this file). */
static int64_t round_cost(const log__round_hist_t *h, int k, int64_t sync_ns)
{
    int64_t nj = 0, bj = 0, nd = 0;
    for (int b = 0; b < LOG_ROUND_BUCKETS; b++) {
        if (b < k || (k > 0 && b == 0)) {
            nj += h->n[b];
            bj += h->bytes[b];
        } else {
            nd += h->n[b];
        }
    }
    int64_t cost = nj ? sync_ns + bj * COST_BYTE_PS / 1000 : 0;
    if (nd >= LOG_FLUSH_SYNCFS_MIN)
        cost += sync_ns + nd * COST_SYNCFS_FILE_NS;
    else
        cost += nd * sync_ns;
    return cost;
}

void log__jcost_sync(log__jcost_t *c, int64_t ns)
{
    /* The lower quartile: down by a 16th for a sync below it, up by a 48th for one above, so
     * that it settles where three syncs in four take longer. */
    int64_t est = atomic_load_explicit(&c->sync_est_ns, memory_order_relaxed);
    est = ns < est ? est - est / 16 : est + est / 48 + 1;
    if (est < COST_SYNC_MIN_NS)
        est = COST_SYNC_MIN_NS;
    else if (est > COST_SYNC_MAX_NS)
        est = COST_SYNC_MAX_NS;
    atomic_store_explicit(&c->sync_est_ns, est, memory_order_relaxed);
}

int64_t log__jcost_sync_estimate(const log__jcost_t *c)
{
    return atomic_load_explicit(&((log__jcost_t *)c)->sync_est_ns, memory_order_relaxed);
}

int64_t log__jcost_direct_min(const log__jcost_t *c)
{
    return atomic_load_explicit(&((log__jcost_t *)c)->direct_min, memory_order_relaxed);
}

void log__jcost_round(log__jcost_t *c, const log__round_hist_t *h)
{
    /* Candidates in order: all direct, direct from 2^k bytes on, all journaled. Each is
     * scored by what the recent rounds would have cost under it (a decaying sum, an eighth
     * per round), so the big rounds weigh as much as they cost and a round of one partition
     * (the flusher woken by the first append of a request for a thousand) moves nothing.
     * Several next to each other often split the rounds the same way at the same least
     * cost: take the middle of that run, the threshold farthest from the rounds' own sizes,
     * so that partitions whose rounds vary a little keep their mode. */
    int cand[LOG_JCOST_NCAND];
    int64_t *cost = c->acc;
    cand[0] = 0;
    for (int i = 1; i < LOG_JCOST_NCAND; i++)
        cand[i] = COST_MIN_LOG2 + i - 1; /* the last is LOG_ROUND_BUCKETS: none direct */
    int64_t sync_ns = log__jcost_sync_estimate(c);
    int lo = 0;
    for (int i = 0; i < LOG_JCOST_NCAND; i++) {
        cost[i] += round_cost(h, cand[i], sync_ns) - cost[i] / 8;
        if (cost[i] < cost[lo])
            lo = i;
    }
    int hi = lo;
    while (hi + 1 < LOG_JCOST_NCAND && cost[hi + 1] == cost[lo])
        hi++;
    /* A run that reaches either end means all direct (or none) for every size the rounds
     * had: keep that end, the more robust choice, rather than a threshold in between. */
    int best = lo == 0 ? 0 : hi == LOG_JCOST_NCAND - 1 ? LOG_ROUND_BUCKETS : cand[(lo + hi) / 2];
    /* "All direct" means every partition that was appended in its last round: one not
     * measured yet (new, or idle until now) starts through the journal, so that a round
     * of one partition does not send the first writes of a thousand new ones direct. */
    int64_t min = best == 0 ? 1 : best == LOG_ROUND_BUCKETS ? INT64_MAX : (int64_t)1 << best;
    atomic_store_explicit(&c->direct_min, min, memory_order_relaxed);
    atomic_fetch_add_explicit(best == 0                   ? &c->picks_all
                              : best == LOG_ROUND_BUCKETS ? &c->picks_none
                                                          : &c->picks_split,
                              1, memory_order_relaxed);
}
