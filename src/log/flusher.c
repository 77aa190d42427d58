/* The group-commit flusher: one thread that owns every fdatasync of partition data and, with a
 * journal, of the journal (journal.c) and of the segments written direct (partition.c).
 *
 * The loop thread marks partitions dirty after appending. The flusher sleeps on a condition
 * variable; when woken it takes the whole dirty set, syncs each partition (one fdatasync covers
 * every batch written before it started), calls notify() if any durable offset moved, and loops.
 * Batches appended while a round runs are marked dirty again and go into the next round, so
 * writing and syncing overlap. The dirty set holds a ref on each partition. */
#include "log/log_int.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/monotime.h"
#include "util/say.h"
#include "util/sched.h"

#include <stdlib.h>

struct log_flusher {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* mu: the dirty set and the stop flag. `work` is the flusher thread's own array. */
    log_partition_t **dirty, **work;
    size_t ndirty, dirty_cap, work_cap;
    bool stop;
    int hold; /* log_flusher_hold() calls not released yet: no round starts */
    /* The flusher thread's own per-round scratch for the syncfs path (sized to `work`). */
    log__sync_ticket_t *tickets;
    bool *needed;
    bool *synced;
    bool *want;
    size_t tickets_cap;
    void (*notify)(void *ctx);
    void *ctx;
    log_journal_t *journal; /* set before the first round; then read-only */
    hd_hist_t sync_hist;    /* duration of each round's syncs; read by any thread */
};

/* Sizes the per-round scratch arrays for n partitions (flusher thread). */
static void ensure_scratch(log_flusher_t *f, size_t n)
{
    if (f->tickets_cap >= n)
        return;
    f->tickets_cap = n;
    f->tickets = hd_realloc(f->tickets, n * sizeof *f->tickets);
    f->needed = hd_realloc(f->needed, n * sizeof *f->needed);
    f->synced = hd_realloc(f->synced, n * sizeof *f->synced);
    f->want = hd_realloc(f->want, n * sizeof *f->want);
}

/* One round with a journal (see partition.c, "Direct writes"): the partitions whose batches went
 * through the journal are covered by one sync of it (usually one fdatasync, however many
 * partitions it wrote); those written direct since their last round by their own segments'
 * fdatasync, or one syncfs when there are many, as without a journal. The snapshots are taken
 * first, so each covers only what was written before the syncs, and a partition's durable
 * offset moves only when both syncs covering it succeeded. Returns whether one moved. */
static bool journal_round(log_flusher_t *f, log_partition_t **work, size_t n)
{
    ensure_scratch(f, n);
    size_t nneeded = 0, ndirect = 0;
    log__round_hist_t hist = {{0}, {0}};
    int64_t direct_bytes = 0;
    dev_t jdev = log__journal_dev(f->journal);
    bool jdev_only = true; /* every direct partition on the journal's filesystem */
    for (size_t i = 0; i < n; i++) {
        atomic_store(&work[i]->flush_queued, false);
        f->needed[i] = log__partition_round_begin(work[i], &f->tickets[i]);
        if (f->needed[i])
            log__round_hist_add(&hist, f->tickets[i].bytes);
        f->want[i] = f->needed[i] && f->tickets[i].direct;
        f->synced[i] = false;
        nneeded += f->needed[i];
        ndirect += f->want[i];
        if (f->want[i]) {
            direct_bytes += f->tickets[i].bytes;
            jdev_only = jdev_only && work[i]->dev == jdev;
        }
    }
    /* Partitions written direct beside journaled ones (or two or more of them), all on the
     * journal's filesystem: one syncfs covers them and the journal (log__journal_syncfs), one
     * disk flush for the round where there would be two or more. A flush waits for every write
     * in flight, so the journal's and each segment's fdatasync one after another each wait for
     * the others' writeback. Unless the syncfs would also write back much of what the journaled
     * partitions left in the page cache: with few direct partitions, at most as much as the
     * round's own direct bytes (or LOG_FLUSH_SYNCFS_SPARE). A syncfs also writes back what other
     * programs left dirty on that filesystem, as the checkpoints' do. */
    bool one_fs = ndirect > 0 && (nneeded > ndirect || ndirect > 1) && jdev_only;
    if (one_fs && ndirect < LOG_FLUSH_SYNCFS_MIN) {
        int64_t spare =
            direct_bytes > LOG_FLUSH_SYNCFS_SPARE ? direct_bytes : LOG_FLUSH_SYNCFS_SPARE;
        one_fs = log__journal_seg_unsynced(f->journal) <= spare;
    }
    bool jsynced;
    if (one_fs) {
        bool covered;
        jsynced = log__journal_syncfs(f->journal, &covered) == 0;
        for (size_t i = 0; i < n; i++)
            f->synced[i] = covered && f->want[i];
    } else {
        /* Cheap when nothing was journaled: no file is dirty, nothing is synced. */
        jsynced = nneeded == 0 || log__journal_sync(f->journal) == 0;
        if (ndirect >= LOG_FLUSH_SYNCFS_MIN && jsynced)
            log__partitions_syncfs(work, f->want, f->synced, n);
    }
    for (size_t i = 0; i < n; i++)
        if (jsynced && f->want[i] && f->synced[i])
            log__partition_direct_synced(work[i], &f->tickets[i]);
    bool advanced = false;
    for (size_t i = 0; i < n; i++) {
        log_partition_t *p = work[i];
        if (f->needed[i]) {
            bool ok = jsynced;
            if (ok && f->want[i] && !f->synced[i]) /* few, or the syncfs failed: one by one */
                ok = log__partition_sync_direct(p, &f->tickets[i]) == 0;
            int64_t before = log_partition_durable_offset(p);
            log__partition_sync_end(p, &f->tickets[i], ok);
            if (log_partition_durable_offset(p) > before)
                advanced = true;
        }
        log_partition_unref(p);
    }
    log__journal_round_done(f->journal, nneeded, ndirect, &hist);
    return advanced;
}

static void *flusher_main(void *arg)
{
    log_flusher_t *f = arg;
    hd_thread_name("hd-flusher");
    pthread_mutex_lock(&f->mu);
    for (;;) {
        while ((f->ndirty == 0 || f->hold) && !f->stop)
            pthread_cond_wait(&f->cv, &f->mu);
        if (f->ndirty == 0 && f->stop)
            break;
        /* Swap arrays so mark_dirty can keep filling the other one without allocating. */
        log_partition_t **work = f->dirty;
        size_t n = f->ndirty, cap = f->dirty_cap;
        f->dirty = f->work;
        f->dirty_cap = f->work_cap;
        f->ndirty = 0;
        f->work = work;
        f->work_cap = cap;
        pthread_mutex_unlock(&f->mu);

        bool advanced = false;
        int64_t round_t0 = hd_mono_ns();
        if (f->journal) {
            advanced = journal_round(f, work, n);
            n = 0;
        }
        if (n >= LOG_FLUSH_SYNCFS_MIN) {
            /* Many dirty partitions: one syncfs writes all of them back with a single journal
             * commit, where an fdatasync per partition would commit it once each. Snapshots are
             * taken before the syncfs, so each covers only what was written before it. If the
             * syncfs fails, every partition falls back to its own fdatasync, which attributes
             * the error to the right files. */
            ensure_scratch(f, n);
            for (size_t i = 0; i < n; i++) {
                atomic_store(&work[i]->flush_queued, false);
                f->needed[i] = log__partition_sync_begin(work[i], &f->tickets[i]);
            }
            /* One syncfs per filesystem, in case partitions live on more than one. */
            log__partitions_syncfs(work, f->needed, f->synced, n);
            for (size_t i = 0; i < n; i++) {
                log_partition_t *p = work[i];
                if (f->needed[i]) {
                    int64_t before = log_partition_durable_offset(p);
                    log__partition_sync_end(p, &f->tickets[i], f->synced[i]);
                    if (!f->synced[i])
                        log_partition_sync(p);
                    if (log_partition_durable_offset(p) > before)
                        advanced = true;
                }
                log_partition_unref(p);
            }
            n = 0;
        }
        for (size_t i = 0; i < n; i++) {
            log_partition_t *p = work[i];
            /* Cleared before the sync: an append from now on queues p again. */
            atomic_store(&p->flush_queued, false);
            int64_t before = log_partition_durable_offset(p);
            log_partition_sync(p); /* logs its own errors */
            if (log_partition_durable_offset(p) > before)
                advanced = true;
            log_partition_unref(p);
        }
        hd_hist_observe(&f->sync_hist, hd_mono_ns() - round_t0);
        if (advanced && f->notify)
            f->notify(f->ctx);
        pthread_mutex_lock(&f->mu);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

int log_flusher_start(void (*notify)(void *ctx), void *ctx, log_flusher_t **out)
{
    log_flusher_t *f = hd_calloc(1, sizeof *f);
    f->notify = notify;
    f->ctx = ctx;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    int rc = pthread_create(&f->thread, NULL, flusher_main, f);
    if (rc) {
        pthread_cond_destroy(&f->cv);
        pthread_mutex_destroy(&f->mu);
        free(f);
        return -rc;
    }
    *out = f;
    return 0;
}

void log_flusher_mark_dirty(log_flusher_t *f, log_partition_t *p)
{
    if (atomic_exchange(&p->flush_queued, true))
        return;
    log_partition_ref(p);
    pthread_mutex_lock(&f->mu);
    if (f->ndirty == f->dirty_cap) {
        f->dirty_cap = f->dirty_cap ? f->dirty_cap * 2 : 64;
        f->dirty = hd_realloc(f->dirty, f->dirty_cap * sizeof *f->dirty);
    }
    f->dirty[f->ndirty++] = p;
    if (!f->hold)
        pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

void log_flusher_hold(log_flusher_t *f)
{
    pthread_mutex_lock(&f->mu);
    f->hold++;
    pthread_mutex_unlock(&f->mu);
}

void log_flusher_release(log_flusher_t *f)
{
    pthread_mutex_lock(&f->mu);
    HD_ASSERT(f->hold > 0);
    if (--f->hold == 0 && f->ndirty)
        pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

const hd_hist_t *log_flusher_sync_hist(const log_flusher_t *f) { return &f->sync_hist; }

void log_flusher_set_journal(log_flusher_t *f, log_journal_t *j)
{
    pthread_mutex_lock(&f->mu);
    f->journal = j;
    pthread_mutex_unlock(&f->mu);
}

void log_flusher_stop(log_flusher_t *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->stop = true;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f->dirty);
    free(f->work);
    free(f->tickets);
    free(f->needed);
    free(f->synced);
    free(f->want);
    free(f);
}
