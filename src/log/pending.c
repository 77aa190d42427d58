/* Pending segment writes (with a journal only). The journal record makes a batch durable, so its
 * segment write need not happen at once: a batch shorter than LOG_PEND_MAX is copied into the
 * partition's pending chunks, and they are written to the active segment together, with one
 * pwritev (a 1 KiB pwrite into one of 1,000 files cost about 5 us of CPU, most of the broker's
 * time per record at 1,000 partitions). A partition's pending bytes are at most LOG_PEND_MAX, in
 * up to LOG_PEND_CHUNKS chunks of LOG_PEND_CHUNK bytes, so a buffer grows without copying; the
 * chunks come from a pool shared by the journal's partitions, which keeps free ones (up to
 * LOG_PEND_TOTAL_MAX) for reuse, since fresh memory costs a page fault per page at first touch,
 * and frees them after POOL_IDLE_MS without a take.
 *
 * The writer thread (one per journal) makes the segment writes the loop thread does not need to
 * wait for:
 * - When an append would take a partition past LOG_PEND_MAX, the loop thread seals the pending
 *   chunks (they become the partition's `wr_*` set, for the file range just before the new
 *   pending bytes) and queues the partition for the writer thread, which writes the set without
 *   holding the partition's lock. A partition has at most one sealed set: with one still
 *   unwritten, the loop thread writes the new pending bytes itself (a range after the set's: the
 *   order of writes to disjoint ranges of the page cache does not matter).
 * - When the capacity of all pending chunks passes LOG_PEND_TOTAL_MAX, the writer thread writes
 *   and frees every partition's; should it reach twice that first, the loop thread does it itself
 *   (the memory bound).
 *
 * Invariants:
 * - What may be pending: only batches of the active segment, appended and recorded in the
 *   journal, contiguous from wr_pos (or pend_pos without a set) to the segment's size (the
 *   in-memory size, indexes, LEO and snapshot marker all include them; the file may not). A batch
 *   of LOG_PEND_MAX or more is written directly, after the pending bytes.
 * - Everything pending reaches the file (log__pend_flush_locked, which first waits for the
 *   writer thread's write of the set, then writes the set if a failed write left it, then the
 *   pending bytes): before any read of the partition (read.c: fetch, time lookups, scans; every
 *   reader of the log, Kafka, HTTP, delivery, goes through them); before a direct write (the
 *   segment stays contiguous); before a roll (they belong to the old segment) and a clean close
 *   (before its trim and syncs); and by each checkpoint, on its own thread, before it syncs. So
 *   the active segment never changes, and no file closes, while the writer thread writes a set:
 *   it writes to the fd taken when the set was sealed. Retention and DeleteRecords remove only
 *   inactive segments, which hold nothing pending. A close_dirty waits for the writer thread and
 *   drops the rest, as a crash does.
 * - Threads: the `pend_*` and `wr_*` fields are under the partition's `lock`; the loop thread
 *   adds, seals and writes, the writer thread writes sets and (past the total) everything, the
 *   checkpoint thread writes everything. The writer thread never waits for its own set (a set
 *   queued behind the one it writes is written when its turn comes).
 * - Why the checkpoint is safe: it reads the journal's end J first, then takes each partition
 *   appended since the last checkpoint and, under `lock`, writes its pending bytes and copies the
 *   snapshot marker; the loop thread published every batch before J (pending bytes and marker,
 *   under `lock`) before it published J. So every batch before J is in its segment file when the
 *   checkpoint's syncfs runs, and the marker never describes bytes the file lacks. A failed
 *   pending write fails the checkpoint, which keeps the previous one (replay still covers them).
 * - A crash loses the pending bytes like written but unsynced ones: replay from the last
 *   checkpoint puts them back. A failed pending write fails the append that needed it (the bytes
 *   stay pending, retried by the next write); a failed write of a set is logged and retried by the
 *   next write of everything. */
#include "log/log_int.h"
#include "util/err.h"
#include "util/fileio.h"
#include "util/mem.h"
#include "util/monotime.h"
#include "util/say.h"
#include "util/sched.h"

#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

/* Free chunks are freed after this long without a take. */
#define POOL_IDLE_MS 1000

struct log__pender {
    log_journal_t *j;
    _Atomic int64_t bytes;    /* capacity of the partitions' pending chunks */
    atomic_bool flush_wanted; /* the writer thread is to write every partition's */
    /* Free chunks (pool_mu), linked through their first bytes. */
    pthread_mutex_t pool_mu;
    void *pool;
    size_t npool;
    _Atomic int64_t takes;
    /* The writer thread and its queue of partitions with a sealed set (mu; each holds a ref). */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    log_partition_t **q;
    size_t nq, qcap;
};

atomic_bool log__pend_async_hold;

/* Set on the writer thread: it never waits for a set, which only it writes. */
static _Thread_local bool on_writer;

/* ---- chunks ---- */

static uint8_t *chunk_take(log__pender_t *w)
{
    atomic_fetch_add_explicit(&w->takes, 1, memory_order_relaxed);
    pthread_mutex_lock(&w->pool_mu);
    void *c = w->pool;
    if (c) {
        memcpy(&w->pool, c, sizeof(void *));
        w->npool--;
    }
    pthread_mutex_unlock(&w->pool_mu);
    return c ? c : hd_malloc(LOG_PEND_CHUNK);
}

/* Gives n chunks back (kept for reuse, or freed) and takes them out of the total. */
static void chunks_give(log__pender_t *w, uint8_t **c, size_t n)
{
    if (!n)
        return;
    (void)log__pender_note(w, -(int64_t)(n * LOG_PEND_CHUNK));
    pthread_mutex_lock(&w->pool_mu);
    size_t i = 0;
    for (; i < n && w->npool < LOG_PEND_TOTAL_MAX / LOG_PEND_CHUNK; i++) {
        memcpy(c[i], &w->pool, sizeof(void *));
        w->pool = c[i];
        w->npool++;
    }
    pthread_mutex_unlock(&w->pool_mu);
    for (; i < n; i++)
        free(c[i]);
}

static void pool_trim(log__pender_t *w)
{
    pthread_mutex_lock(&w->pool_mu);
    void *c = w->pool;
    w->pool = NULL;
    w->npool = 0;
    pthread_mutex_unlock(&w->pool_mu);
    while (c) {
        void *next;
        memcpy(&next, c, sizeof next);
        free(c);
        c = next;
    }
}

int64_t log__pender_total(const log__pender_t *w)
{
    return atomic_load(&((log__pender_t *)w)->bytes);
}

bool log__pender_note(log__pender_t *w, int64_t delta)
{
    int64_t total = atomic_fetch_add(&w->bytes, delta) + delta;
    if (delta > 0 && total > LOG_PEND_TOTAL_MAX && !atomic_exchange(&w->flush_wanted, true)) {
        pthread_mutex_lock(&w->mu);
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
    return total > 2 * (int64_t)LOG_PEND_TOTAL_MAX;
}

/* ---- a partition's pending bytes (its lock held) ---- */

size_t log__pend_put_locked(log_partition_t *p, const uint8_t *b, size_t len)
{
    size_t grown = 0;
    while (len) {
        size_t at = p->pend_len % LOG_PEND_CHUNK, k = p->pend_len / LOG_PEND_CHUNK;
        if (k == p->pend_nchunks) {
            p->pend_chunk[p->pend_nchunks++] = chunk_take(p->pender);
            grown += LOG_PEND_CHUNK;
        }
        size_t n = LOG_PEND_CHUNK - at < len ? LOG_PEND_CHUNK - at : len;
        memcpy(p->pend_chunk[k] + at, b, n);
        p->pend_len += n;
        b += n;
        len -= n;
    }
    return grown;
}

/* Writes len bytes of the chunks c at pos of fd, a segment of p. */
static int chunks_write(const log_partition_t *p, int fd, uint8_t **c, size_t len, int64_t pos)
{
    struct iovec iov[LOG_PEND_CHUNKS];
    int n = 0;
    for (size_t left = len; left; n++) {
        iov[n].iov_base = c[n];
        iov[n].iov_len = left < LOG_PEND_CHUNK ? left : LOG_PEND_CHUNK;
        left -= iov[n].iov_len;
    }
    int rc = hd_io_pwritev_all(fd, iov, n, (off_t)pos);
    if (rc == 0)
        log__journal_seg_written(p->journal, (int64_t)len);
    return rc;
}

static int active_fd(const log_partition_t *p) { return p->segs[p->nsegs - 1]->log_fd; }

/* Waits until the writer thread is done with p's set (not on the writer thread itself). */
static void wait_writer(log_partition_t *p)
{
    while (p->wr_busy && !on_writer)
        pthread_cond_wait(&p->wr_cv, &p->lock);
}

static void set_drop(log_partition_t *p)
{
    chunks_give(p->pender, p->wr_chunk, p->wr_nchunks);
    p->wr_nchunks = 0;
    p->wr_len = 0;
}

/* Writes the pending bytes (not the set) to the active segment at pend_pos; the chunks stay. */
static int pend_write(log_partition_t *p)
{
    int rc = chunks_write(p, active_fd(p), p->pend_chunk, p->pend_len, p->pend_pos);
    if (rc < 0)
        return rc;
    p->pend_pos += (int64_t)p->pend_len;
    p->pend_len = 0;
    return 0;
}

void log__pend_release_locked(log_partition_t *p)
{
    if (!p->pender)
        return;
    wait_writer(p);
    if (!p->wr_busy)
        set_drop(p);
    chunks_give(p->pender, p->pend_chunk, p->pend_nchunks);
    p->pend_nchunks = 0;
    p->pend_len = 0;
}

int log__pend_flush_locked(log_partition_t *p, bool release)
{
    wait_writer(p);
    int rc;
    if (!p->wr_busy && p->wr_len) { /* a set whose write failed */
        if ((rc = chunks_write(p, p->wr_fd, p->wr_chunk, p->wr_len, p->wr_pos)) < 0)
            return rc;
        set_drop(p);
    }
    if (p->pend_len && (rc = pend_write(p)) < 0)
        return rc;
    if (release)
        log__pend_release_locked(p);
    return 0;
}

int log__pend_make_room_locked(log_partition_t *p, size_t len)
{
    if (!p->pend_len || p->pend_len + len <= LOG_PEND_MAX)
        return 0;
    if (p->wr_busy || p->wr_len) /* the set is the writer thread's (or failed): these after it */
        return pend_write(p);
    memcpy(p->wr_chunk, p->pend_chunk, p->pend_nchunks * sizeof *p->wr_chunk);
    p->wr_nchunks = p->pend_nchunks;
    p->wr_len = p->pend_len;
    p->wr_pos = p->pend_pos;
    p->wr_fd = active_fd(p);
    p->wr_busy = true;
    p->pend_pos += (int64_t)p->pend_len;
    p->pend_nchunks = 0;
    p->pend_len = 0;
    log__pender_t *w = p->pender;
    log_partition_ref(p);
    pthread_mutex_lock(&w->mu);
    if (w->nq == w->qcap) {
        w->qcap = w->qcap ? w->qcap * 2 : 64;
        w->q = hd_realloc(w->q, w->qcap * sizeof *w->q);
    }
    w->q[w->nq++] = p;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

int log__partition_pend_flush(log_partition_t *p, bool release)
{
    pthread_mutex_lock(&p->lock);
    int rc = log__pend_flush_locked(p, release);
    pthread_mutex_unlock(&p->lock);
    if (rc < 0)
        say_error("segment %s: pending write failed: %s", p->dir, hd_strerror(rc));
    return rc;
}

/* ---- the writer thread ---- */

/* Writes p's sealed set (writer thread). */
static void set_write(log_partition_t *p)
{
    pthread_mutex_lock(&p->lock);
    int fd = p->wr_fd;
    size_t len = p->wr_len;
    int64_t pos = p->wr_pos;
    uint8_t *c[LOG_PEND_CHUNKS];
    memcpy(c, p->wr_chunk, sizeof c);
    pthread_mutex_unlock(&p->lock);
    /* The chunks, fd and range are this thread's until wr_busy clears. */
    int rc = chunks_write(p, fd, c, len, pos);
    pthread_mutex_lock(&p->lock);
    if (rc == 0)
        set_drop(p);
    else
        say_error("segment %s: pending write failed (retried by the next write): %s", p->dir,
                  hd_strerror(rc));
    p->wr_busy = false;
    pthread_cond_broadcast(&p->wr_cv);
    pthread_mutex_unlock(&p->lock);
}

static void *writer_main(void *arg)
{
    log__pender_t *w = arg;
    hd_thread_name("hd-segwriter");
    on_writer = true;
    int64_t takes_seen = 0, takes_ms = hd_mono_ms();
    log_partition_t **mine = NULL;
    size_t mine_cap = 0;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        if (!w->nq && !w->stop && !atomic_load(&w->flush_wanted)) {
            struct timespec ts;
            hd_mono_deadline(&ts, 100);
            pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        }
        /* Swap the queue out, so the loop thread keeps queueing while this one writes. */
        log_partition_t **q = w->q;
        size_t n = w->nq, cap = w->qcap;
        w->q = mine;
        w->qcap = mine_cap;
        w->nq = 0;
        mine = q;
        mine_cap = cap;
        bool stop = w->stop;
        pthread_mutex_unlock(&w->mu);
        for (size_t i = 0; i < n; i++) {
            set_write(mine[i]);
            log_partition_unref(mine[i]);
        }
        if (!atomic_load(&log__pend_async_hold) && atomic_exchange(&w->flush_wanted, false))
            log__journal_pend_flush_all(w->j);
        int64_t takes = atomic_load_explicit(&w->takes, memory_order_relaxed);
        if (takes != takes_seen) {
            takes_seen = takes;
            takes_ms = hd_mono_ms();
        } else if (hd_mono_ms() - takes_ms >= POOL_IDLE_MS) {
            pool_trim(w);
        }
        pthread_mutex_lock(&w->mu);
        if (stop && !w->nq)
            break;
    }
    pthread_mutex_unlock(&w->mu);
    free(mine);
    return NULL;
}

int log__pender_start(log_journal_t *j, log__pender_t **out)
{
    log__pender_t *w = hd_calloc(1, sizeof *w);
    w->j = j;
    atomic_init(&w->bytes, 0);
    atomic_init(&w->flush_wanted, false);
    atomic_init(&w->takes, 0);
    pthread_mutex_init(&w->pool_mu, NULL);
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = -pthread_create(&w->thread, NULL, writer_main, w);
    if (rc < 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        pthread_mutex_destroy(&w->pool_mu);
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

void log__pender_stop(log__pender_t *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pool_trim(w);
    free(w->q);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    pthread_mutex_destroy(&w->pool_mu);
    free(w);
}
