/* The partition log: opening with recovery, appends and rolls, retention, syncs, clean close.
 * Reads are in read.c, segment files and indexes in segment.c, the flusher in flusher.c.
 *
 * Threads: everything here runs on the loop thread except log_partition_sync() (any thread,
 * usually the flusher), log_partition_durable_offset() and ref/unref. The two sides share only
 * `lock` (the segment array, the LEO snapshot, the dir-dirty flag, the sticky sync error) and the
 * atomic durable offset. A sync takes refs on the segments it fsyncs, so a concurrent roll or
 * retention never closes an fd under it.
 *
 * The clean-shutdown marker, file "clean-shutdown" in the partition directory, 68 bytes, all
 * integers big-endian:
 *   byte  0  magic         u32  0x48444353 ("HDCS")
 *   byte  4  version       u32  1
 *   byte  8  active_base   i64  base offset of the active segment at close
 *   byte 16  end_offset    i64  log end offset at close
 *   byte 24  active_size   i64  valid bytes in the active segment's .log
 *   byte 32  idx_entries   i64  entries in the active segment's .index
 *   byte 40  tidx_entries  i64  entries in the active segment's .timeindex
 *   byte 48  tidx_last_ts  i64  ts of the last .timeindex entry (INT64_MIN if none)
 *   byte 56  max_ts        i64  largest maxTimestamp in the active segment (-1 if none)
 *   byte 64  crc           u32  CRC-32C of bytes 0..63
 * It is written (in place; the CRC catches a torn write) only after every segment was fsynced at
 * close, and describes a prefix of the log that appends never change. So it is not removed on
 * open: the next open trusts every segment before active_base and the active segment up to
 * active_size, and scans only what lies beyond (a tail appended after the reopen, and any later
 * segment) like any crash recovery. A marker that does not match the files (segment missing or
 * shorter) is ignored and removed, and every segment is scanned.
 *
 * Pending writes (with a journal only): a journaled batch's segment write waits in memory, and
 * is made in chunks, by the loop thread or the journal's writer thread; pending.c documents the
 * invariants.
 *
 * Direct writes (with a journal only): the adaptive write path. The journal saves syncs when a
 * round carries small batches of many partitions, but writes every byte twice; a partition whose
 * rounds carry many bytes gains nothing from it. So each append chooses (choose_direct): a batch
 * goes straight to the segment, as without a journal and with no journal record, when the
 * partition was the only one in the flusher's last round (its segment's fdatasync replaces the
 * journal's), or when it was appended at least log.journal.direct.bytes in its last round (the
 * journal's second write of those bytes costs more CPU than a sync of one more file; below half
 * of that it goes back to the journal). The flusher syncs such a partition's segments in the
 * round after (flusher.c). Invariants:
 * - Before a direct write, the pending journaled bytes are written to the file (the segment stays
 *   contiguous: a hole would read as a torn tail and cut what follows).
 * - A round that found direct bytes syncs every segment from ckpt_base on (the journaled bytes
 *   before them may not be synced yet, and a torn one would make recovery truncate the direct
 *   bytes after it) and the directory if a file was created; then ckpt_base moves to the active
 *   segment. The durable offset moves only when both the journal and the segment syncs covering
 *   the partition's round succeeded; a failed segment sync is sticky (sync_err), as without a
 *   journal, and a journal error refuses direct appends too.
 * - Direct bytes count towards the checkpoint's byte trigger (log.recovery.checkpoint.interval.
 *   bytes) and mark the partition for the next checkpoint, whose marker covers them: recovery
 *   scans at most a checkpoint interval of segment bytes past each marker.
 * - Replay stays idempotent: a journaled batch below the partition's log end (the segment got it
 *   directly or from pending bytes) is skipped; direct batches have no record to replay.
 * - Only the loop thread decides and writes; the flusher reads direct_unsynced and the bytes of
 *   the round under `lock`. A partition closed (or deleted) during a round is skipped by the
 *   segment sync: its close synced it, or nothing of it is acknowledged any more. */
#include "log/log_int.h"
#include "util/crc32c.h"
#include "util/err.h"
#include "util/fileio.h"
#include "util/mem.h"
#include "util/monotime.h"
#include "util/say.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MARKER_NAME "clean-shutdown"
#define MARKER_MAGIC 0x48444353u
#define MARKER_LEN 68

typedef log__marker_t marker_t;

void log_config_defaults(log_config_t *cfg)
{
    cfg->segment_bytes = 1024LL * 1024 * 1024;
    cfg->segment_ms = 7LL * 24 * 3600 * 1000;
    cfg->retention_ms = -1;
    cfg->retention_bytes = -1;
    cfg->index_interval_bytes = 4096;
    cfg->preallocate = false;
    cfg->zero_max_rate = LOG_ZERO_MAX_RATE;
    cfg->journal = NULL;
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = hd_malloc(n);
    snprintf(s, n, "%s/%s", dir, name);
    return s;
}

static int mkdir_p(const char *dir)
{
    /* The common case, an existing partition, costs one syscall. */
    if (mkdir(dir, 0755) == 0 || errno == EEXIST)
        return 0;
    char *tmp = hd_strdup(dir);
    int rc = 0;
    for (char *c = tmp + 1; *c; c++) {
        if (*c != '/')
            continue;
        *c = 0;
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            rc = -errno;
        *c = '/';
        if (rc)
            break;
    }
    if (!rc && mkdir(tmp, 0755) < 0 && errno != EEXIST)
        rc = -errno;
    free(tmp);
    return rc;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Lists the base offsets of the .log files in dir, sorted. */
static int list_segments(const char *dir, int64_t **out, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *nm = e->d_name;
        if (strlen(nm) != 24 || strcmp(nm + 20, ".log") != 0)
            continue;
        int64_t v = 0;
        bool ok = true;
        for (int i = 0; i < 20 && ok; i++) {
            ok = nm[i] >= '0' && nm[i] <= '9' && v <= (INT64_MAX - 9) / 10;
            v = v * 10 + (nm[i] - '0');
        }
        if (!ok)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = hd_realloc(*out, cap * sizeof **out);
        }
        (*out)[(*n)++] = v;
    }
    closedir(d);
    if (*n)
        qsort(*out, *n, sizeof **out, cmp_i64);
    return 0;
}

/* True if dir's first segment file is empty and no clean-shutdown marker is there. */
static bool is_empty_log(const char *dir)
{
    log_segment_t *s = log__segment_new(dir, 0);
    struct stat st;
    bool empty = stat(log__segment_path(s, "log"), &st) == 0 && st.st_size == 0;
    log__segment_unref(s);
    char *path = join(dir, MARKER_NAME);
    empty = empty && access(path, F_OK) != 0;
    free(path);
    return empty;
}

static bool marker_read(const char *dir, marker_t *m)
{
    char *path = join(dir, MARKER_NAME);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0)
        return false;
    uint8_t b[MARKER_LEN + 1];
    ssize_t n = hd_io_pread_full(fd, b, sizeof b, 0);
    close(fd);
    if (n != MARKER_LEN || log__get_u32(b) != MARKER_MAGIC || log__get_u32(b + 4) != 1 ||
        hd_crc32c(0, b, 64) != log__get_u32(b + 64))
        return false;
    int64_t *f[] = {&m->active_base, &m->end_offset,   &m->active_size, &m->idx_n,
                    &m->tidx_n,      &m->tidx_last_ts, &m->max_ts};
    for (size_t i = 0; i < HD_ARRAY_LEN(f); i++)
        *f[i] = (int64_t)log__get_u64(b + 8 + 8 * i);
    return m->active_base >= 0 && m->end_offset >= m->active_base && m->active_size >= 0 &&
           m->active_size <= INT32_MAX && m->idx_n >= 0 && m->tidx_n >= 0 &&
           m->idx_n <= m->active_size && m->tidx_n <= m->active_size + 1 &&
           m->end_offset - m->active_base <= UINT32_MAX + 1LL;
}

/* The marker describing p as it is now. Loop thread. */
static void marker_fill(const log_partition_t *p, marker_t *m)
{
    const log_segment_t *s = p->segs[p->nsegs - 1];
    m->active_base = s->base_offset;
    m->end_offset = p->leo;
    m->active_size = s->size;
    m->idx_n = s->idx_file_n;
    m->tidx_n = s->tidx_file_n;
    m->tidx_last_ts = log__segment_tidx_file_last_ts(s); /* entries written, as idx_n, tidx_n */
    m->max_ts = s->max_ts;
}

static int marker_put(const char *dir, const marker_t *m)
{
    uint8_t b[MARKER_LEN];
    log__put_u32(b, MARKER_MAGIC);
    log__put_u32(b + 4, 1);
    int64_t f[] = {m->active_base, m->end_offset,   m->active_size, m->idx_n,
                   m->tidx_n,      m->tidx_last_ts, m->max_ts};
    for (size_t i = 0; i < HD_ARRAY_LEN(f); i++)
        log__put_u64(b + 8 + 8 * i, (uint64_t)f[i]);
    log__put_u32(b + 64, hd_crc32c(0, b, 64));
    /* Overwritten in place: a write torn by a crash fails the CRC and only costs a full scan
     * at the next open, as no marker would; creating a new file and renaming it over the old
     * one cost a directory update per partition (0.27 ms each at shutdown here). */
    char *path = join(dir, MARKER_NAME);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    free(path);
    if (fd < 0)
        return -errno;
    struct stat st;
    int rc = hd_io_pwrite_all(fd, b, sizeof b, 0);
    if (rc == 0 && fstat(fd, &st) == 0 && st.st_size > MARKER_LEN)
        rc = hd_io.ftruncate(fd, MARKER_LEN);
    close(fd);
    return rc;
}

static int marker_write(log_partition_t *p)
{
    marker_t m;
    marker_fill(p, &m);
    return marker_put(p->dir, &m);
}

int log__partition_marker_snapshot(log_partition_t *p, log__marker_t *m)
{
    pthread_mutex_lock(&p->lock);
    /* A partition closed meanwhile wrote its pending bytes, or (closed dirty) dropped them. */
    int rc = atomic_load(&p->detached) ? 0 : log__pend_flush_locked(p, true);
    *m = p->snap_marker;
    pthread_mutex_unlock(&p->lock);
    return rc;
}

/* With p's lock held: refs p's segments from the one holding offset `from` (the first if none
 * does) through the active one, into local (room for nlocal) or an allocation the caller frees;
 * returns their number. */
static size_t segs_ref_from(log_partition_t *p, int64_t from, log_segment_t **local, size_t nlocal,
                            log_segment_t ***out)
{
    size_t first = 0;
    for (size_t i = p->nsegs; i-- > 0;)
        if (p->segs[i]->base_offset <= from) {
            first = i;
            break;
        }
    size_t n = p->nsegs - first;
    log_segment_t **segs = n > nlocal ? hd_malloc(n * sizeof *segs) : local;
    for (size_t i = 0; i < n; i++) {
        segs[i] = p->segs[first + i];
        log__segment_ref(segs[i]);
    }
    *out = segs;
    return n;
}

/* The checkpoint's writeback. Nothing writes journaled partitions' segment bytes to the disk
 * between checkpoints: the kernel starts on its own only past a tenth or so of the memory in dirty
 * pages, far above the checkpoint's byte interval. A checkpoint's syncfs alone would write up to
 * log.recovery.checkpoint.interval.bytes at once: about 0.2 s of this disk, with the device's
 * queue full, so the flusher's journal writes and syncs waited behind it, and produce over 1,000
 * partitions fell by half for a quarter of a second every 1.7 s. So the checkpoint first writes
 * each partition's new bytes back itself, LOG_WB_STEP at a time, waiting for each step: the queue
 * then holds at most one step of it, the rounds go on between the steps, and the syncfs finds
 * little left. The same bytes reach the disk as before, over a longer checkpoint; short bursts of
 * produce are unaffected, since the page cache still absorbs them until the next checkpoint.
 * Measured in docs/performance.md ("Checkpoint writeback"). */
int log__partition_writeback(log_partition_t *p, const log__marker_t *m)
{
    /* A partition closed meanwhile synced itself, or (closed dirty) has nothing left to keep. */
    if (atomic_load(&p->detached))
        return 0;
    log_segment_t *local[8], **segs;
    int64_t lend[8], *ends = lend;
    pthread_mutex_lock(&p->lock);
    size_t n = segs_ref_from(p, p->wb_base, local, HD_ARRAY_LEN(local), &segs);
    if (n > HD_ARRAY_LEN(lend))
        ends = hd_malloc(n * sizeof *ends);
    /* Up to the snapshot's active segment; one before it no longer grows. */
    for (size_t i = 0; i < n; i++)
        ends[i] = segs[i]->base_offset == m->active_base  ? m->active_size
                  : segs[i]->base_offset < m->active_base ? segs[i]->size
                                                          : 0;
    pthread_mutex_unlock(&p->lock);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t from =
            segs[i]->base_offset == p->wb_base ? p->wb_pos & ~(int64_t)(LOG_PAGE - 1) : 0;
        for (int64_t off = from; rc == 0 && off < ends[i]; off += LOG_WB_STEP) {
            int64_t len = ends[i] - off < LOG_WB_STEP ? ends[i] - off : LOG_WB_STEP;
            rc = hd_io.writeback(segs[i]->log_fd, (off_t)off, (off_t)len, true);
        }
        log__segment_unref(segs[i]);
    }
    if (segs != local)
        free(segs);
    if (ends != lend)
        free(ends);
    if (rc == 0) {
        p->wb_base = m->active_base;
        p->wb_pos = m->active_size;
    }
    return rc;
}

/* Moves p's ckpt_base up to base (never down). */
static void raise_ckpt_base(log_partition_t *p, int64_t base)
{
    pthread_mutex_lock(&p->lock);
    if (base > p->ckpt_base)
        p->ckpt_base = base;
    pthread_mutex_unlock(&p->lock);
}

void log__partition_checkpointed(log_partition_t *p, const log__marker_t *m)
{
    raise_ckpt_base(p, m->active_base);
}

int log__partition_marker_put(log_partition_t *p, const log__marker_t *m)
{
    /* A partition closed meanwhile wrote its own, newer marker. */
    if (atomic_load(&p->detached))
        return 0;
    return marker_put(p->dir, m);
}

/* Takes p out of its journal's registry at close. */
static void journal_detach(log_partition_t *p, bool clean)
{
    if (p->journal && !atomic_exchange(&p->detached, true))
        log__journal_detach(p->journal, p, clean);
}

static void segs_push(log_partition_t *p, log_segment_t *s)
{
    pthread_mutex_lock(&p->lock);
    if (p->nsegs == p->segs_cap) {
        p->segs_cap = p->segs_cap ? p->segs_cap * 2 : 8;
        p->segs = hd_realloc(p->segs, p->segs_cap * sizeof *p->segs);
    }
    p->segs[p->nsegs++] = s;
    p->dir_dirty = true;
    pthread_mutex_unlock(&p->lock);
}

/* Deletes segments [from, nsegs): they follow a truncation, so their offsets no longer connect. */
static void drop_segments_from(log_partition_t *p, size_t from)
{
    while (p->nsegs > from) {
        log_segment_t *s = p->segs[--p->nsegs];
        say_warn("segment %s: follows a truncated segment, deleting", log__segment_path(s, "log"));
        log__segment_unlink(s);
        log__segment_unref(s);
    }
}

static void partition_free(log_partition_t *p)
{
    for (size_t i = 0; i < p->nsegs; i++)
        log__segment_unref(p->segs[i]);
    free(p->segs);
    free(p->dir);
    free(p->jname);
    for (size_t i = 0; i < p->pend_nchunks; i++)
        free(p->pend_chunk[i]);
    for (size_t i = 0; i < p->wr_nchunks; i++)
        free(p->wr_chunk[i]);
    pthread_cond_destroy(&p->wr_cv);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* Logs and truncates the invalid tail that log__segment_recover() reported (kind 1 or 2). */
static int truncate_tail(log_segment_t *s, int kind, int64_t file_size)
{
    if (kind == 1)
        say_warn("segment %s: torn or corrupt batch at %lld, truncating %lld bytes",
                 log__segment_path(s, "log"), (long long)s->size, (long long)(file_size - s->size));
    else
        say_info("segment %s: zero tail at %lld, trimming", log__segment_path(s, "log"),
                 (long long)s->size);
    s->file_longer = false;
    s->alloc_end = 0;
    return hd_io.ftruncate(s->log_fd, (off_t)s->size);
}

/* Recovers the segments from index `from` on by scanning them in full. */
static int recover_from(log_partition_t *p, size_t from, const int64_t *fsize)
{
    int32_t iv = p->cfg.index_interval_bytes;
    for (size_t i = from; i < p->nsegs; i++) {
        log_segment_t *s = p->segs[i];
        if (i > 0 && s->base_offset != p->segs[i - 1]->next_offset) {
            say_warn("segment %s: base offset does not follow the previous segment",
                     log__segment_path(s, "log"));
            drop_segments_from(p, i);
            break;
        }
        int rc = log__segment_open_index(s);
        if (rc == 0)
            rc = log__segment_recover(s, 0, s->base_offset, fsize[i], iv);
        if (rc < 0)
            return rc;
        if (rc > 0) {
            if ((rc = truncate_tail(s, rc, fsize[i])) < 0)
                return rc;
            drop_segments_from(p, i + 1);
        }
        if (i + 1 < p->nsegs) {
            if ((rc = log__segment_tidx_finalize(s)) < 0)
                return rc;
            log__segment_close_index(s);
        }
    }
    return 0;
}

static int validate_config(const log_config_t *cfg)
{
    if (cfg->segment_bytes < LOG_BATCH_HEADER_LEN || cfg->segment_bytes > INT32_MAX ||
        cfg->index_interval_bytes < 0)
        return HD_EINVAL;
    return 0;
}

int log_partition_set_config(log_partition_t *p, const log_config_t *cfg)
{
    int rc = validate_config(cfg);
    if (rc < 0)
        return rc;
    int64_t zero_max_rate = p->cfg.zero_max_rate;
    log_journal_t *journal = p->cfg.journal; /* fixed for the partition's life */
    p->cfg = *cfg;
    p->cfg.zero_max_rate = zero_max_rate;
    p->cfg.journal = journal;
    return 0;
}

int log_partition_open(const char *dir, const log_config_t *cfg, log_partition_t **out)
{
    int rc = validate_config(cfg);
    if (rc < 0)
        return rc;
    if ((rc = mkdir_p(dir)) < 0)
        return rc;
    log_partition_t *p = hd_calloc(1, sizeof *p);
    atomic_init(&p->refs, 1);
    atomic_init(&p->durable, 0);
    atomic_init(&p->flush_queued, false);
    atomic_init(&p->ckpt_dirty, false);
    atomic_init(&p->detached, false);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wr_cv, NULL);
    p->wr_fd = -1;
    p->dir = hd_strdup(dir);
    p->cfg = *cfg;
    struct stat dst;
    p->dev = stat(dir, &dst) == 0 ? dst.st_dev : 0;
    int64_t *bases = NULL, *fsize = NULL;
    size_t nb = 0;
    bool dirty_scan = false;
    int64_t scanned = 0; /* bytes of valid batches checked because no marker covered them */
    if ((rc = list_segments(dir, &bases, &nb)) < 0)
        goto fail;
    if (nb == 1 && bases[0] == 0 && is_empty_log(dir)) {
        /* Only an empty first segment (log_partition_precreate, or a crash before the first
         * write): nothing to recover, opened as a new partition. */
        nb = 0;
    }
    if (nb == 0) {
        log_segment_t *s = log__segment_new(dir, 0);
        if ((rc = log__segment_create(s, 0)) < 0) {
            log__segment_unref(s);
            goto fail;
        }
        segs_push(p, s);
    } else {
        fsize = hd_calloc(nb, sizeof *fsize);
        for (size_t i = 0; i < nb; i++) {
            log_segment_t *s = log__segment_new(dir, bases[i]);
            segs_push(p, s);
            if ((rc = log__segment_open_log(s, &fsize[i])) < 0)
                goto fail;
        }
        marker_t m;
        bool have_marker = marker_read(dir, &m);
        ssize_t t = -1;
        for (size_t i = 0; have_marker && i < nb; i++)
            if (bases[i] == m.active_base && fsize[i] >= m.active_size)
                t = (ssize_t)i;
        if (t < 0) {
            char *path = join(dir, MARKER_NAME);
            if (unlink(path) == 0)
                hd_io_fsync_dir(dir);
            free(path);
        }
        for (ssize_t i = 0; i < t; i++) {
            log_segment_t *s = p->segs[i];
            s->size = fsize[i];
            s->next_offset = bases[i + 1];
        }
        if (t >= 0) {
            log_segment_t *s = p->segs[t];
            s->size = m.active_size;
            s->next_offset = m.end_offset;
            s->max_ts = m.max_ts;
            s->max_ts_known = true;
            s->idx_file_n = m.idx_n;
            s->tidx_file_n = m.tidx_n;
            s->tidx_last_ts = m.tidx_last_ts;
            if ((rc = log__segment_open_index(s)) < 0 ||
                (rc = hd_io.ftruncate(s->idx_fd, (off_t)(m.idx_n * 8))) < 0 ||
                (rc = hd_io.ftruncate(s->tidx_fd, (off_t)(m.tidx_n * 12))) < 0)
                goto fail;
            if (fsize[t] > m.active_size) {
                dirty_scan = true;
                rc = log__segment_recover(s, m.active_size, m.end_offset, fsize[t],
                                          cfg->index_interval_bytes);
                if (rc < 0)
                    goto fail;
                if (rc > 0) {
                    if ((rc = truncate_tail(s, rc, fsize[t])) < 0)
                        goto fail;
                    drop_segments_from(p, (size_t)t + 1);
                }
                scanned += s->size - m.active_size;
            }
            if ((size_t)t + 1 < p->nsegs) {
                if ((rc = log__segment_tidx_finalize(s)) < 0)
                    goto fail;
                log__segment_close_index(s);
            }
        }
        if ((size_t)(t + 1) < p->nsegs) {
            dirty_scan = true;
            if ((rc = recover_from(p, (size_t)(t + 1), fsize)) < 0)
                goto fail;
            for (size_t i = (size_t)(t + 1); i < p->nsegs; i++)
                scanned += p->segs[i]->size;
        }
    }
    log_segment_t *act = p->segs[p->nsegs - 1];
    if (!act->idx_fresh && (rc = log__segment_open_index(act)) < 0)
        goto fail;
    /* Preallocation resumes with the first append (prealloc_ahead), so opening an idle
     * partition writes nothing. */
    for (size_t i = 0; i < p->nsegs; i++)
        p->size_bytes += p->segs[i]->size;
    p->leo = act->next_offset;
    p->snap_leo = p->leo;
    if (dirty_scan) {
        /* Recovered data may still sit only in the page cache (the process, not the machine,
         * crashed): make it durable before calling it so. */
        for (size_t i = 0; i < p->nsegs; i++)
            if ((rc = hd_io.fdatasync(p->segs[i]->log_fd)) < 0)
                goto fail;
        hd_io_fsync_dir(dir);
        say_info("partition %s: recovered after an unclean shutdown: every batch since the last "
                 "clean shutdown or checkpoint checked (%lld bytes scanned), log end offset %lld",
                 dir, (long long)scanned, (long long)p->leo);
    }
    atomic_store(&p->durable, p->leo);
    marker_fill(p, &p->snap_marker);
    p->ckpt_base = act->base_offset; /* open synced (or found clean) everything before */
    p->wb_base = act->base_offset;
    p->wb_pos = act->size;
    if (cfg->journal && (rc = log__journal_attach(cfg->journal, p)) < 0)
        goto fail;
    free(bases);
    free(fsize);
    *out = p;
    return 0;
fail:
    say_error("partition %s: open failed: %s", dir, hd_strerror(rc));
    free(bases);
    free(fsize);
    partition_free(p);
    return rc;
}

void log_partition_ref(log_partition_t *p) { atomic_fetch_add(&p->refs, 1); }

void log_partition_unref(log_partition_t *p)
{
    if (p && atomic_fetch_sub(&p->refs, 1) == 1)
        partition_free(p);
}

/* fdatasyncs the index files written this session (they are trusted after a clean close). */
static int sync_indexes(log_partition_t *p)
{
    for (size_t i = 0; i < p->nsegs; i++) {
        log_segment_t *s = p->segs[i];
        if (!s->idx_dirty)
            continue;
        bool opened_here = s->idx_fd < 0;
        int rc = log__segment_open_index(s);
        if (rc == 0 && (rc = hd_io.fdatasync(s->idx_fd)) == 0)
            rc = hd_io.fdatasync(s->tidx_fd);
        if (opened_here)
            log__segment_close_index(s);
        if (rc < 0)
            return rc;
        s->idx_dirty = false;
    }
    return 0;
}

/* The writes of a clean close: the active segment's preallocation trimmed, its time index
 * finished. Nothing synced yet. */
static int close_prepare(log_partition_t *p)
{
    log_segment_t *act = p->segs[p->nsegs - 1];
    int rc = log__partition_pend_flush(p, true);
    if (rc == 0 && act->file_longer && (rc = hd_io.ftruncate(act->log_fd, (off_t)act->size)) == 0) {
        act->file_longer = false;
        act->alloc_end = 0;
    }
    if (rc == 0)
        rc = log__segment_tidx_finalize(act);
    return rc;
}

/* log_partition_close(), returning 0 when the close was clean, or the error. */
static int close_partition(log_partition_t *p)
{
    log_segment_t *act = p->segs[p->nsegs - 1];
    int rc = close_prepare(p);
    if (p->journal) {
        /* The segments written since the last checkpoint are not synced, whatever the durable
         * offset says (the journal made it durable): sync them and their indexes here. */
        log__sync_ticket_t t;
        pthread_mutex_lock(&p->lock);
        int64_t from = p->ckpt_base;
        pthread_mutex_unlock(&p->lock);
        if (rc == 0)
            rc = sync_indexes(p);
        for (size_t i = 0; rc == 0 && i < p->nsegs; i++)
            if (p->segs[i]->base_offset >= from)
                rc = hd_io.fdatasync(p->segs[i]->log_fd); /* covers the trim */
        if (rc == 0)
            rc = hd_io_fsync_dir(p->dir);
        if (rc == 0 && log__partition_sync_begin(p, &t))
            log__partition_sync_end(p, &t, true);
    } else {
        if (rc == 0)
            rc = sync_indexes(p);
        if (rc == 0)
            rc = hd_io.fdatasync(act->log_fd); /* covers the trim */
        if (rc == 0)
            rc = log_partition_sync(p);
    }
    if (rc == 0)
        rc = marker_write(p);
    if (rc < 0)
        say_error("partition %s: unclean close: %s", p->dir, hd_strerror(rc));
    journal_detach(p, rc == 0);
    log_partition_unref(p);
    return rc;
}

typedef struct open_many {
    char *const *dirs;
    const log_config_t *cfg;
    log_partition_t **out;
    int *rcs;
    size_t n;
    atomic_size_t next;
} open_many_t;

static void *open_many_main(void *arg)
{
    open_many_t *m = arg;
    for (size_t i; (i = atomic_fetch_add(&m->next, 1)) < m->n;) {
        m->out[i] = NULL;
        m->rcs[i] = log_partition_open(m->dirs[i], m->cfg, &m->out[i]);
    }
    return NULL;
}

void log__partitions_open_many(char *const *dirs, size_t n, const log_config_t *cfg, int threads,
                               log_partition_t **out, int *rcs)
{
    open_many_t m = {.dirs = dirs, .cfg = cfg, .out = out, .rcs = rcs, .n = n};
    atomic_init(&m.next, 0);
    pthread_t t[LOG_OPEN_THREADS_MAX];
    int k = 0;
    while (k < threads && k < LOG_OPEN_THREADS_MAX && (size_t)k + 1 < n &&
           pthread_create(&t[k], NULL, open_many_main, &m) == 0)
        k++;
    open_many_main(&m); /* this thread too, and alone if no thread started */
    while (k > 0)
        pthread_join(t[--k], NULL);
}

void log_partition_close(log_partition_t *p)
{
    if (p)
        (void)close_partition(p);
}

int log_partition_close_many(log_partition_t **v, size_t n)
{
    bool *want = hd_calloc(n ? n : 1, sizeof *want), *ok = hd_calloc(n ? n : 1, sizeof *ok);
    int err = 0;
    for (size_t i = 0; i < n; i++)
        want[i] = v[i] && close_prepare(v[i]) == 0;
    log__partitions_syncfs(v, want, ok, n);
    for (size_t i = 0; i < n; i++) {
        log_partition_t *p = v[i];
        if (!p)
            continue;
        log__sync_ticket_t t;
        if (ok[i]) {
            /* The syncfs covered every file of p: data, indexes, the trim, directory entries. */
            if (log__partition_sync_begin(p, &t))
                log__partition_sync_end(p, &t, true);
            for (size_t k = 0; k < p->nsegs; k++)
                p->segs[k]->idx_dirty = false;
        }
        pthread_mutex_lock(&p->lock);
        bool clean = ok[i] && !p->sync_err && atomic_load(&p->durable) == p->leo;
        pthread_mutex_unlock(&p->lock);
        if (clean && marker_write(p) == 0) {
            journal_detach(p, true);
            log_partition_unref(p);
        } else {
            /* Each file on its own, which also reports the error. */
            int rc = close_partition(p);
            if (rc < 0 && err == 0)
                err = rc;
        }
    }
    free(want);
    free(ok);
    return err;
}

void log_partition_forget(log_partition_t *p)
{
    if (p && p->journal && !atomic_load(&p->detached) &&
        log__journal_forget(p->journal, p->jname, p->jname_len) == 0)
        log__journal_commit(p->journal);
}

void log_partition_close_dirty(log_partition_t *p)
{
    if (!p)
        return;
    /* As a crash: the pending bytes are lost (the journal still has them). */
    pthread_mutex_lock(&p->lock);
    log__pend_release_locked(p);
    pthread_mutex_unlock(&p->lock);
    journal_detach(p, false);
    log_partition_unref(p);
}

int log_partition_destroy_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *path = join(dir, e->d_name);
        unlink(path);
        free(path);
    }
    closedir(d);
    return rmdir(dir) < 0 ? -errno : 0;
}

void log_partition_prefetch(const log_partition_t *p, int level)
{
    const char *at = (const char *)p;
    size_t n = sizeof *p;
    if (level > 0) { /* the loop thread owns segs and nsegs */
        at = (const char *)p->segs[p->nsegs - 1];
        n = sizeof(log_segment_t);
    }
    for (size_t off = 0; off < n; off += 64)
        __builtin_prefetch(at + off, 1);
}

int log_partition_precreate(const char *dir)
{
    int rc = mkdir_p(dir);
    if (rc < 0)
        return rc;
    log_segment_t *s = log__segment_new(dir, 0);
    /* Without O_TRUNC: a log created meanwhile by an open keeps its data. The index files too,
     * empty, so that the first index write (on the loop thread) opens them instead of creating
     * them: a file creation took about 250 us here, half a second of the loop thread for a new
     * topic of 1,000 partitions. An index file shorter than its log is rebuilt on open. */
    static const char *const ext[] = {"log", "index", "timeindex"};
    rc = 0;
    for (size_t i = 0; i < HD_ARRAY_LEN(ext) && rc == 0; i++) {
        int fd = open(log__segment_path(s, ext[i]), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        rc = fd < 0 ? -errno : 0;
        if (fd >= 0)
            close(fd);
    }
    log__segment_unref(s);
    return rc;
}

/* Loop thread: closes the active segment and starts a new one at the log end offset. */
static int roll(log_partition_t *p)
{
    log_segment_t *old = p->segs[p->nsegs - 1];
    int rc = log__partition_pend_flush(p, false); /* pending bytes belong to the old segment */
    if (rc < 0)
        return rc;
    log_segment_t *s = log__segment_new(p->dir, p->leo);
    rc = log__segment_create(s, p->cfg.preallocate ? (p->cfg.segment_bytes < LOG_PREALLOC_FIRST
                                                          ? p->cfg.segment_bytes
                                                          : LOG_PREALLOC_FIRST)
                                                   : 0);
    if (rc < 0) {
        say_error("segment %s: create failed: %s", log__segment_path(s, "log"), hd_strerror(rc));
        log__segment_unref(s);
        return rc;
    }
    if (old->file_longer) {
        if ((rc = hd_io.ftruncate(old->log_fd, (off_t)old->size)) == 0) {
            old->file_longer = false;
            old->alloc_end = 0;
        } else
            say_warn("segment %s: trim failed: %s", log__segment_path(old, "log"), hd_strerror(rc));
    }
    if ((rc = log__segment_tidx_finalize(old)) < 0) {
        /* An empty time index makes the next load rebuild it instead of trusting a wrong max. */
        say_warn("segment %s: time index write failed: %s", log__segment_path(old, "timeindex"),
                 hd_strerror(rc));
        hd_io.ftruncate(old->tidx_fd, 0);
    }
    log__segment_close_index(old);
    segs_push(p, s);
    return 0;
}

static bool need_roll(log_partition_t *p, log_segment_t *s, const log_hdr_t *h)
{
    if (s->size == 0)
        return false;
    if (s->size + h->total_len > p->cfg.segment_bytes ||
        p->leo - s->base_offset + h->last_offset_delta > UINT32_MAX)
        return true;
    if (p->cfg.segment_ms < 0)
        return false;
    if (s->first_ts == INT64_MIN) {
        uint8_t hdr[LOG_BATCH_HEADER_LEN];
        log_hdr_t fh;
        s->first_ts = log__segment_read_hdr(s, 0, hdr, &fh) == 0 ? fh.max_timestamp : -1;
    }
    /* As Kafka: the new batch's timestamp against the segment's first one, so batches carrying
     * old timestamps (a backfill) fill segments as usual instead of rolling one each; the wall
     * clock only when the first batch has no timestamp. */
    if (s->first_ts >= 0) /* both non-negative: the difference cannot overflow */
        return h->max_timestamp >= 0 && h->max_timestamp - s->first_ts > p->cfg.segment_ms;
    int64_t now = hd_wall_ms();
    if (s->created_ms == INT64_MIN)
        s->created_ms = now;
    return now - s->created_ms > p->cfg.segment_ms;
}

/* Extends the active segment's preallocation to cover need_end bytes (see LOG_PREALLOC_*).
 * Failure is not an error: the write then simply grows the file. */
static void prealloc_ahead(log_partition_t *p, log_segment_t *s, int64_t need_end)
{
    if (!p->cfg.preallocate || need_end <= s->alloc_end)
        return;
    int64_t step = s->alloc_end < LOG_PREALLOC_FIRST ? LOG_PREALLOC_FIRST : s->alloc_end;
    if (step > LOG_PREALLOC_MAX_STEP)
        step = LOG_PREALLOC_MAX_STEP;
    int64_t end = s->alloc_end + step;
    if (end < need_end)
        end = need_end + step;
    if (end > p->cfg.segment_bytes)
        end = p->cfg.segment_bytes > need_end ? p->cfg.segment_bytes : need_end;
    if (hd_io.fallocate(s->log_fd, 0, (off_t)end) == 0) {
        s->alloc_end = end;
        s->file_longer = true;
    }
}

/* Counts appended bytes per second (loop thread). */
static void note_rate(log_partition_t *p, size_t len)
{
    int64_t now = hd_mono_ms();
    if (now - p->rate_start_ms >= 1000) {
        p->rate_prev_bytes = now - p->rate_start_ms < 2000 ? p->rate_bytes : 0;
        p->rate_start_ms = now;
        p->rate_bytes = 0;
    }
    p->rate_bytes += (int64_t)len;
}

/* Writes zeros ahead of the data just appended at [.., end) (see LOG_ZERO_AHEAD_MAX), inside the
 * preallocated part of the file only. Failure is not an error: the next syncs are just slower. */
static void zero_ahead(log_partition_t *p, log_segment_t *s, int64_t end)
{
    /* Not const: a zero-filled const array would be stored in the binary's read-only data. */
    static uint8_t zeros[LOG_ZERO_STEP];
    const int64_t page_mask = ~(int64_t)(LOG_PAGE - 1);
    /* The page holding the data's end is initialized by the data write itself. */
    int64_t data_pages_end = (end + LOG_PAGE - 1) & page_mask;
    if (s->zero_end < data_pages_end)
        s->zero_end = data_pages_end;
    if (!s->file_longer || p->rate_prev_bytes > p->cfg.zero_max_rate)
        return;
    int64_t ahead = p->rate_prev_bytes / 4;
    if (ahead > LOG_ZERO_AHEAD_MAX)
        ahead = LOG_ZERO_AHEAD_MAX;
    int64_t to = (end + ahead) & page_mask;
    if (to > (s->alloc_end & page_mask))
        to = s->alloc_end & page_mask;
    if (to - s->zero_end < LOG_ZERO_STEP / 4)
        return; /* not worth a write yet */
    if (to - s->zero_end > LOG_ZERO_STEP)
        to = s->zero_end + LOG_ZERO_STEP;
    size_t n = (size_t)(to - s->zero_end);
    if (hd_io_pwrite_all(s->log_fd, zeros, n, (off_t)s->zero_end) < 0)
        return;
    (void)hd_io.writeback(s->log_fd, (off_t)s->zero_end, (off_t)n, false);
    s->zero_end = to;
}

/* Starts writing a batch just written to its segment to the disk (asynchronous, errors surface at
 * the sync): the flusher's next fdatasync then finds most of it written instead of starting it,
 * which shortens each group-commit round (about +6% durable produce throughput at 1,000 records
 * in flight here). Also for small batches, although their last page is written again by the next
 * one: waiting for whole pages made the median sync of the latency benchmark 0.35 instead of 0.26
 * ms. Not for a partition journal replay opened: replay syncs everything once at its end, and a
 * start per replayed batch was a fifth of the CPU time of a recovery at 1,000 partitions. */
static void writeback_early(log_partition_t *p, const log_segment_t *s, int64_t pos, size_t len)
{
    if (!p->replay)
        (void)hd_io.writeback(s->log_fd, (off_t)pos, (off_t)len, false);
}

/* Whether p's next append goes straight to its segment (see "Direct writes"). Loop thread. */
static bool choose_direct(const log_partition_t *p)
{
    int64_t min = log__journal_direct_min(p->journal);
    if (min == LOG_DIRECT_NEVER || min == LOG_DIRECT_ALWAYS)
        return min == LOG_DIRECT_ALWAYS;
    if (min == LOG_DIRECT_ALTERNATE)
        return !p->direct;
    /* Hysteresis: a partition leaves direct mode only below half the threshold. */
    int64_t last =
        atomic_load_explicit(&((log_partition_t *)p)->last_round_bytes, memory_order_relaxed);
    return last >= (p->direct ? min / 2 : min);
}

/* log_partition_append() with a journal, for a batch written straight to the segment (see
 * "Direct writes"): as without a journal, after writing what is pending (the segment stays
 * contiguous); the next journal round syncs the segment. */
static int append_direct(log_partition_t *p, log_segment_t *s, const uint8_t *batch, size_t len,
                         const log_hdr_t *h, int64_t *base_offset)
{
    int64_t pos = s->size;
    pthread_mutex_lock(&p->lock);
    int rc = log__pend_flush_locked(p, true);
    pthread_mutex_unlock(&p->lock);
    if (rc < 0) {
        say_error("segment %s: pending write failed: %s", log__segment_path(s, "log"),
                  hd_strerror(rc));
        return rc;
    }
    prealloc_ahead(p, s, pos + (int64_t)len);
    bool iw, tw;
    if ((rc = log__segment_index_prepare(s, p->cfg.index_interval_bytes, h, pos, &iw, &tw)) < 0)
        return rc;
    if ((rc = hd_io_pwrite_all(s->log_fd, batch, len, (off_t)pos)) < 0) {
        if (!s->file_longer)
            hd_io.ftruncate(s->log_fd, (off_t)pos);
        return rc;
    }
    writeback_early(p, s, pos, len);
    log__segment_index_commit(s, h, pos, iw, tw);
    note_rate(p, len);
    zero_ahead(p, s, pos + (int64_t)len);
    if (pos == 0) {
        s->first_ts = h->max_timestamp;
        s->created_ms = hd_wall_ms();
    }
    p->leo = s->next_offset;
    p->size_bytes += (int64_t)len;
    pthread_mutex_lock(&p->lock);
    p->snap_leo = p->leo;
    p->round_bytes += (int64_t)len;
    p->direct_unsynced = true;
    marker_fill(p, &p->snap_marker);
    pthread_mutex_unlock(&p->lock);
    atomic_store(&p->ckpt_dirty, true);
    log__journal_note_direct(p->journal, (int64_t)len);
    *base_offset = h->base_offset;
    return 0;
}

/* log_partition_append() with a journal, from the index preparation on (see "Pending
 * writes"). The journal record is what makes the batch durable; the segment is synced by the
 * next checkpoint, so its writeback is left to the kernel and nothing is zeroed ahead. If the
 * record cannot be written the append fails (the journal refuses every later one), so the
 * segment never holds an acknowledged batch the journal lacks. */
static int append_journaled(log_partition_t *p, log_segment_t *s, const uint8_t *batch, size_t len,
                            const log_hdr_t *h, int64_t *base_offset)
{
    int64_t pos = s->size;
    int rc = log_journal_error(p->journal);
    if (rc < 0)
        return rc; /* sticky: nothing is acknowledged any more, direct or not */
    p->direct = choose_direct(p);
    if (p->direct)
        return append_direct(p, s, batch, len, h, base_offset);
    pthread_mutex_lock(&p->lock);
    rc = log__pend_make_room_locked(p, len);
    pthread_mutex_unlock(&p->lock);
    if (rc < 0) {
        say_error("segment %s: pending write failed: %s", log__segment_path(s, "log"),
                  hd_strerror(rc));
        return rc;
    }
    prealloc_ahead(p, s, pos + (int64_t)len);
    bool iw, tw;
    if ((rc = log__segment_index_prepare(s, p->cfg.index_interval_bytes, h, pos, &iw, &tw)) < 0)
        return rc;
    bool direct = len >= LOG_PEND_MAX; /* a large batch gains nothing from waiting */
    if (direct && (rc = hd_io_pwrite_all(s->log_fd, batch, len, (off_t)pos)) < 0) {
        /* Drop a partial write so it does not occupy space; recovery would stop there anyway. */
        if (!s->file_longer)
            hd_io.ftruncate(s->log_fd, (off_t)pos);
        return rc;
    }
    rc = log__journal_append(p->journal, p->jname, p->jname_len, h->base_offset, batch, len);
    if (rc < 0) {
        if (direct && !s->file_longer)
            hd_io.ftruncate(s->log_fd, (off_t)pos);
        return rc;
    }
    log__segment_index_commit(s, h, pos, iw, tw);
    if (pos == 0) {
        s->first_ts = h->max_timestamp;
        s->created_ms = hd_wall_ms();
    }
    p->leo = s->next_offset;
    p->size_bytes += (int64_t)len;
    pthread_mutex_lock(&p->lock);
    size_t grown = 0;
    if (!direct) {
        if (!p->pend_len)
            p->pend_pos = pos;
        grown = log__pend_put_locked(p, batch, len);
    }
    p->snap_leo = p->leo;
    p->round_bytes += (int64_t)len;
    marker_fill(p, &p->snap_marker);
    pthread_mutex_unlock(&p->lock);
    atomic_store(&p->ckpt_dirty, true);
    log__journal_commit(p->journal);
    if (grown && log__pender_note(p->pender, (int64_t)grown))
        log__journal_pend_flush_all(p->journal);
    *base_offset = h->base_offset;
    return 0;
}

int log_partition_append(log_partition_t *p, uint8_t *batch, size_t len, int64_t *base_offset)
{
    log_hdr_t h;
    if (len < LOG_BATCH_HEADER_LEN || log__hdr_parse(batch, &h) < 0 || h.total_len != (int64_t)len)
        return HD_EMALFORMED;
    if ((int64_t)len > p->cfg.segment_bytes)
        return HD_ETOOBIG;
    log_segment_t *s = p->segs[p->nsegs - 1];
    int rc;
    if (need_roll(p, s, &h)) {
        if ((rc = roll(p)) < 0)
            return rc;
        s = p->segs[p->nsegs - 1];
    }
    h.base_offset = p->leo;
    log__put_u64(batch + LOG_HDR_BASE_OFFSET, (uint64_t)p->leo);
    log__put_u32(batch + LOG_HDR_LEADER_EPOCH, 0);
    int64_t pos = s->size;
    if (p->journal)
        return append_journaled(p, s, batch, len, &h, base_offset);
    prealloc_ahead(p, s, pos + (int64_t)len);
    bool iw, tw;
    if ((rc = log__segment_index_prepare(s, p->cfg.index_interval_bytes, &h, pos, &iw, &tw)) < 0)
        return rc;
    if ((rc = hd_io_pwrite_all(s->log_fd, batch, len, (off_t)pos)) < 0) {
        /* Drop a partial write so it does not occupy space; recovery would stop there anyway. */
        if (!s->file_longer)
            hd_io.ftruncate(s->log_fd, (off_t)pos);
        return rc;
    }
    writeback_early(p, s, pos, len);
    log__segment_index_commit(s, &h, pos, iw, tw);
    note_rate(p, len);
    zero_ahead(p, s, pos + (int64_t)len);
    if (pos == 0) {
        s->first_ts = h.max_timestamp;
        s->created_ms = hd_wall_ms();
    }
    p->leo = s->next_offset;
    p->size_bytes += (int64_t)len;
    pthread_mutex_lock(&p->lock);
    p->snap_leo = p->leo;
    pthread_mutex_unlock(&p->lock);
    *base_offset = h.base_offset;
    return 0;
}

int64_t log_partition_end_offset(const log_partition_t *p) { return p->leo; }

int64_t log_partition_start_offset(const log_partition_t *p) { return p->segs[0]->base_offset; }

int log_partition_error(const log_partition_t *p)
{
    log_partition_t *m = (log_partition_t *)p;
    pthread_mutex_lock(&m->lock);
    int rc = m->sync_err;
    pthread_mutex_unlock(&m->lock);
    return rc;
}

int64_t log_partition_durable_offset(const log_partition_t *p)
{
    return atomic_load(&((log_partition_t *)p)->durable);
}

int64_t log_partition_size_bytes(const log_partition_t *p) { return p->size_bytes; }

size_t log_partition_segment_count(const log_partition_t *p) { return p->nsegs; }

int log_partition_apply_retention(log_partition_t *p, int64_t now_ms)
{
    int removed = 0;
    while (p->nsegs > 1) {
        log_segment_t *s = p->segs[0];
        bool del = false;
        if (p->cfg.retention_ms >= 0) {
            int64_t mt;
            int rc = log__segment_max_ts(s, p->cfg.index_interval_bytes, &mt);
            if (rc < 0)
                return rc;
            if (mt < 0) {
                /* No batch carries a timestamp: age the segment by its file's last write, as
                 * Kafka does, rather than expiring it at once. */
                struct stat st;
                if (stat(log__segment_path(s, "log"), &st) == 0)
                    mt = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
                else
                    mt = now_ms;
            }
            del = mt < now_ms - p->cfg.retention_ms;
        }
        if (!del && p->cfg.retention_bytes >= 0)
            del = p->size_bytes - s->size >= p->cfg.retention_bytes;
        if (!del)
            break;
        pthread_mutex_lock(&p->lock);
        memmove(p->segs, p->segs + 1, (p->nsegs - 1) * sizeof *p->segs);
        p->nsegs--;
        pthread_mutex_unlock(&p->lock);
        p->size_bytes -= s->size;
        say_info("segment %s: deleted by retention", log__segment_path(s, "log"));
        log__segment_unlink(s);
        log__segment_unref(s);
        removed++;
    }
    return removed;
}

int log__partition_syncfs(log_partition_t *p)
{
    pthread_mutex_lock(&p->lock);
    log_segment_t *s = p->segs[p->nsegs - 1];
    log__segment_ref(s);
    pthread_mutex_unlock(&p->lock);
    int rc = hd_io.syncfs(s->log_fd);
    log__segment_unref(s);
    return rc;
}

void log__partitions_syncfs(log_partition_t *const *v, const bool *want, bool *ok, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ok[i] = false;
    for (size_t i = 0; i < n; i++) {
        if (!want[i])
            continue;
        size_t j = 0; /* an earlier partition on the same filesystem already synced it */
        while (j < i && !(want[j] && v[j]->dev == v[i]->dev))
            j++;
        ok[i] = j < i ? ok[j] : log__partition_syncfs(v[i]) == 0;
    }
}

bool log__partition_sync_begin(log_partition_t *p, log__sync_ticket_t *t)
{
    pthread_mutex_lock(&p->lock);
    t->target = p->snap_leo;
    t->dir_dirty = p->dir_dirty;
    t->direct = false;
    t->seg_base = p->segs[p->nsegs - 1]->base_offset;
    t->bytes = 0;
    bool needed = !p->sync_err && (t->target > atomic_load(&p->durable) || t->dir_dirty);
    if (needed) {
        p->dir_dirty = false;
        p->direct_unsynced = false; /* the caller syncs every file */
    }
    pthread_mutex_unlock(&p->lock);
    return needed;
}

bool log__partition_round_begin(log_partition_t *p, log__sync_ticket_t *t)
{
    pthread_mutex_lock(&p->lock);
    t->target = p->snap_leo;
    t->direct = p->direct_unsynced;
    t->dir_dirty = t->direct && p->dir_dirty;
    t->seg_base = p->segs[p->nsegs - 1]->base_offset;
    t->bytes = p->round_bytes;
    atomic_store_explicit(&p->last_round_bytes, p->round_bytes, memory_order_relaxed);
    p->round_bytes = 0;
    bool needed = !p->sync_err && (t->target > atomic_load(&p->durable) || t->direct);
    if (needed) {
        p->direct_unsynced = false;
        if (t->dir_dirty)
            p->dir_dirty = false;
    }
    pthread_mutex_unlock(&p->lock);
    return needed;
}

void log__partition_direct_synced(log_partition_t *p, const log__sync_ticket_t *t)
{
    raise_ckpt_base(p, t->seg_base);
}

int log__partition_sync_direct(log_partition_t *p, const log__sync_ticket_t *t)
{
    /* Closed meanwhile: a clean close synced everything, a dirty one (or a deletion) needs
     * nothing; either way this round acknowledges nothing more of p. */
    if (atomic_load(&p->detached))
        return HD_ECLOSED;
    log_segment_t *local[8], **segs;
    pthread_mutex_lock(&p->lock);
    int rc = p->sync_err;
    if (rc) {
        pthread_mutex_unlock(&p->lock);
        return rc;
    }
    /* Every segment that may hold bytes no sync covered: journaled bytes written there since the
     * last checkpoint come before the direct ones, and a torn one would make recovery cut the
     * direct bytes after it. */
    size_t n = segs_ref_from(p, p->ckpt_base, local, HD_ARRAY_LEN(local), &segs);
    pthread_mutex_unlock(&p->lock);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = log__journal_fdatasync_timed(p->journal, segs[i]->log_fd);
    if (rc == 0 && t->dir_dirty)
        rc = hd_io_fsync_dir_via(p->dir, n ? segs[n - 1]->log_fd : -1);
    for (size_t i = 0; i < n; i++)
        log__segment_unref(segs[i]);
    if (segs != local)
        free(segs);
    pthread_mutex_lock(&p->lock);
    if (rc < 0)
        p->sync_err = rc; /* as log_partition_sync: a later fdatasync proves nothing */
    else if (t->seg_base > p->ckpt_base)
        p->ckpt_base = t->seg_base;
    pthread_mutex_unlock(&p->lock);
    if (rc < 0)
        say_error("partition %s: fdatasync failed, durable offset stays at %lld: %s", p->dir,
                  (long long)atomic_load(&p->durable), hd_strerror(rc));
    return rc;
}

void log__partition_sync_end(log_partition_t *p, const log__sync_ticket_t *t, bool synced)
{
    pthread_mutex_lock(&p->lock);
    if (!synced) {
        p->dir_dirty = p->dir_dirty || t->dir_dirty;
        p->direct_unsynced = p->direct_unsynced || t->direct;
    } else if (t->target > atomic_load(&p->durable))
        atomic_store(&p->durable, t->target);
    pthread_mutex_unlock(&p->lock);
}

int log_partition_delete_before(log_partition_t *p, int64_t offset)
{
    int removed = 0;
    while (p->nsegs > 1 && p->segs[1]->base_offset <= offset) {
        log_segment_t *s = p->segs[0];
        pthread_mutex_lock(&p->lock);
        memmove(p->segs, p->segs + 1, (p->nsegs - 1) * sizeof *p->segs);
        p->nsegs--;
        pthread_mutex_unlock(&p->lock);
        p->size_bytes -= s->size;
        say_info("segment %s: deleted, superseded by offset %lld", log__segment_path(s, "log"),
                 (long long)offset);
        log__segment_unlink(s);
        log__segment_unref(s);
        removed++;
    }
    return removed;
}

int log_partition_sync(log_partition_t *p)
{
    log_segment_t *local[8], **segs;
    pthread_mutex_lock(&p->lock);
    int rc = p->sync_err;
    int64_t durable = atomic_load(&p->durable), target = p->snap_leo;
    bool dir_dirty = p->dir_dirty;
    if (rc || (target <= durable && !dir_dirty)) {
        pthread_mutex_unlock(&p->lock);
        return rc;
    }
    size_t n = segs_ref_from(p, durable, local, HD_ARRAY_LEN(local), &segs);
    p->dir_dirty = false;
    pthread_mutex_unlock(&p->lock);

    for (size_t i = 0; i < n && rc == 0; i++)
        rc = hd_io.fdatasync(segs[i]->log_fd);
    if (rc == 0 && dir_dirty)
        rc = hd_io_fsync_dir_via(p->dir, n ? segs[n - 1]->log_fd : -1);
    for (size_t i = 0; i < n; i++)
        log__segment_unref(segs[i]);
    if (segs != local)
        free(segs);

    pthread_mutex_lock(&p->lock);
    if (rc < 0) {
        /* After a failed fdatasync Linux may have dropped the dirty pages, so a later successful
         * one proves nothing: the partition stays un-durable until it is reopened (recovered). */
        p->sync_err = rc;
        p->dir_dirty = p->dir_dirty || dir_dirty;
    } else if (target > atomic_load(&p->durable)) {
        atomic_store(&p->durable, target);
    }
    pthread_mutex_unlock(&p->lock);
    if (rc < 0)
        say_error("partition %s: fdatasync failed, durable offset stays at %lld: %s", p->dir,
                  (long long)durable, hd_strerror(rc));
    return rc;
}
