/* Private to log/: the segment and partition structs and the helpers shared by its files. */
#ifndef LOG_LOG_INT_H
#define LOG_LOG_INT_H

#include "log/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Field offsets inside the RecordBatch v2 header (see batch.c). */
enum {
    LOG_HDR_BASE_OFFSET = 0,
    LOG_HDR_BATCH_LENGTH = 8,
    LOG_HDR_LEADER_EPOCH = 12,
    LOG_HDR_MAGIC = 16,
    LOG_HDR_CRC = 17,
    LOG_HDR_ATTRIBUTES = 21,
    LOG_HDR_LAST_OFFSET_DELTA = 23,
    LOG_HDR_BASE_TIMESTAMP = 27,
    LOG_HDR_MAX_TIMESTAMP = 35,
    LOG_HDR_PRODUCER_ID = 43,
    LOG_HDR_RECORDS_COUNT = 57,
};

/* Chunk size for streaming reads (CRC checks during recovery). */
#define LOG_SCRATCH_LEN (64 * 1024)

/* Read size of whole-log header scans (log_partition_scan). */
#define LOG_SCAN_CHUNK (64 * 1024)

/* Largest batch the log accepts or believes on disk (positions in the index are u32). */
#define LOG_BATCH_MAX_LEN INT32_MAX

/* The fields of a batch header that the log uses. */
typedef struct log_hdr {
    int64_t base_offset;
    int64_t total_len; /* batchLength + 12 */
    int32_t last_offset_delta;
    int64_t max_timestamp;
} log_hdr_t;

static inline uint32_t log__get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t log__get_u64(const uint8_t *p)
{
    return (uint64_t)log__get_u32(p) << 32 | log__get_u32(p + 4);
}

static inline void log__put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void log__put_u64(uint8_t *p, uint64_t v)
{
    log__put_u32(p, (uint32_t)(v >> 32));
    log__put_u32(p + 4, (uint32_t)v);
}

/* batch.c */
/* Parses the header structure (length >= 61, magic 2, lastOffsetDelta >= 0). No CRC check.
 * Returns 0 or HD_EMALFORMED. */
int log__hdr_parse(const uint8_t hdr[LOG_BATCH_HEADER_LEN], log_hdr_t *h);
/* Checks the CRC-32C of a complete batch held in memory. */
bool log__batch_crc_ok(const uint8_t *batch, size_t len);

/* One offset-index entry: the batch with base offset base+rel starts at byte pos. */
typedef struct log_idx_entry {
    uint32_t rel;
    uint32_t pos;
} log_idx_entry_t;

/* One time-index entry: every batch up to and including offset base+rel has maxTimestamp <= ts. */
typedef struct log_tidx_entry {
    int64_t ts;
    uint32_t rel;
} log_tidx_entry_t;

/* A segment: one .log file and its two index files. Owned by the loop thread; the flusher thread
 * only reads base_offset and log_fd (both fixed for the segment's life) while holding a ref. */
typedef struct log_segment {
    atomic_int refs;
    int64_t base_offset;
    int log_fd;
    int idx_fd, tidx_fd; /* open only while the segment is active or being rebuilt */
    char *path;          /* "<dir>/<20 digits>." ; the extension is appended in place */
    size_t path_stem_len;

    int64_t size;        /* bytes of valid batches */
    int64_t next_offset; /* offset after the last batch */
    int64_t max_ts;      /* largest maxTimestamp, valid when max_ts_known */
    bool max_ts_known;
    int64_t first_ts;   /* the first batch's maxTimestamp (-1: none); INT64_MIN until known */
    int64_t created_ms; /* wall clock of the first append (or first roll check after open) */
    bool file_longer;   /* the file may extend past size (preallocated): trim before inactive */
    int64_t alloc_end;  /* bytes preallocated from the start of the file (0: none) */
    int64_t zero_end;   /* bytes from the start of the file written with data or zeros */
    /* Where the last read stopped: the batch at hint_pos starts at hint_offset (read.c), so a
     * consumer following the log starts there instead of at the last index entry. */
    int64_t hint_pos, hint_offset;
    bool idx_dirty; /* index files written since open: sync them at clean close */
    bool idx_fresh; /* created this run, index files not yet created (segment.c, "Index writes") */

    int64_t bytes_since_index;
    /* In-memory copy of the indexes, loaded lazily (idx_loaded). While loaded, appended entries
     * go to memory and reach the files in groups (idx_n - idx_file_n of them are not written
     * yet); while not, they go to the files only. */
    bool idx_loaded;
    log_idx_entry_t *idx;
    size_t idx_n, idx_cap;
    log_tidx_entry_t *tidx;
    size_t tidx_n, tidx_cap;
    int64_t idx_file_n, tidx_file_n; /* entries in the files; -1 = unknown (use file size) */
    int64_t tidx_last_ts;            /* ts of the last time-index entry, INT64_MIN if none */
} log_segment_t;

/* Preallocation grows ahead of the data: the first step is small, each later one doubles the
 * allocation up to LOG_PREALLOC_MAX_STEP, so empty partitions cost little disk. */
#define LOG_PREALLOC_FIRST (64 * 1024)
#define LOG_PREALLOC_MAX_STEP (16 * 1024 * 1024)

/* Zeroing ahead: under a light append rate the active segment's preallocated blocks are written
 * with zeros a little ahead of the data, so the group-commit fdatasync overwrites initialized
 * blocks instead of converting unwritten extents (one metadata write less per sync). Ahead by a
 * quarter second of the partition's rate, at most LOG_ZERO_AHEAD_MAX; at most LOG_ZERO_STEP per
 * append so no single sync carries much; off above LOG_ZERO_MAX_RATE, where the disk's bandwidth
 * is worth more than the sync's latency. */
#define LOG_ZERO_AHEAD_MAX (1024 * 1024)
#define LOG_ZERO_STEP (64 * 1024)
#define LOG_ZERO_MAX_RATE (32 * 1024 * 1024)

/* Zeroing ahead works in whole pages. */
#define LOG_PAGE 4096

/* partition.c: a sync in two halves around one syncfs of the whole filesystem, for rounds with
 * many dirty partitions. begin() snapshots what a sync would cover and returns false when there
 * is nothing to do; end() publishes the snapshot as durable when `synced`, or else puts the
 * partition back as it was (the caller then falls back to log_partition_sync()). */
typedef struct log__sync_ticket {
    int64_t target;
    bool dir_dirty;
    /* Journal rounds (log__partition_round_begin): bytes were written direct since the last
     * round, so the segments need their own sync; seg_base is the active segment's base then;
     * bytes were appended since the last round. */
    bool direct;
    int64_t seg_base;
    int64_t bytes;
} log__sync_ticket_t;
bool log__partition_sync_begin(log_partition_t *p, log__sync_ticket_t *t);
/* Dirty partitions in one round from which a syncfs pays off (flusher.c). */
#define LOG_FLUSH_SYNCFS_MIN 4
/* Journaled segment bytes a round's syncfs may write back beside the round's own, at least
 * (flusher.c, journal_round). */
#define LOG_FLUSH_SYNCFS_SPARE (1024 * 1024)
void log__partition_sync_end(log_partition_t *p, const log__sync_ticket_t *t, bool synced);
/* With a journal (partition.c, "Direct writes"): the snapshot of a journal round. Also notes
 * the bytes p was appended since the last round (what the next appends decide their mode by).
 * Leaves dir_dirty set unless the ticket is direct (only a segment sync covers a new file). */
bool log__partition_round_begin(log_partition_t *p, log__sync_ticket_t *t);
/* fdatasyncs the segments that may hold bytes no sync covered (from ckpt_base on) and, if
 * t->dir_dirty, the directory: 0 or -errno (then sticky, as log_partition_sync). */
int log__partition_sync_direct(log_partition_t *p, const log__sync_ticket_t *t);
/* Notes that a sync (syncfs) covered every segment file of p as of ticket t. */
void log__partition_direct_synced(log_partition_t *p, const log__sync_ticket_t *t);
/* syncfs(2) of the filesystem holding p's active segment: 0 or -errno. Since Linux 5.8 it also
 * reports write-back errors of any file on that filesystem. */
int log__partition_syncfs(log_partition_t *p);
/* Calls log__partition_syncfs() once per filesystem among the n partitions v[i] with want[i],
 * and sets ok[i] to whether the one covering v[i] succeeded. */
void log__partitions_syncfs(log_partition_t *const *v, const bool *want, bool *ok, size_t n);
/* Opens the partitions in dirs[0..n) as log_partition_open() does (out[i], and its result in
 * rcs[i]), on this thread and up to `threads` more at once, so that their recovery scans read the
 * disk together instead of one after another. */
#define LOG_OPEN_THREADS_MAX 16
void log__partitions_open_many(char *const *dirs, size_t n, const log_config_t *cfg, int threads,
                               log_partition_t **out, int *rcs);

/* segment.c */
log_segment_t *log__segment_new(const char *dir, int64_t base_offset);
void log__segment_ref(log_segment_t *s);
void log__segment_unref(log_segment_t *s);
/* Returns s->path with `ext` ("log", "index", "timeindex", or "" for the stem) appended. */
const char *log__segment_path(log_segment_t *s, const char *ext);
/* Creates (truncating) the .log and preallocates it if prealloc > 0; the index files are created
 * by the first index write. */
int log__segment_create(log_segment_t *s, int64_t prealloc);
/* Opens the existing .log read-write; sets *file_size. */
int log__segment_open_log(log_segment_t *s, int64_t *file_size);
/* Opens (creating) the index files read-write. */
int log__segment_open_index(log_segment_t *s);
void log__segment_close_index(log_segment_t *s);
/* Scans and verifies batches from `pos` expecting base offset `expect`, up to file_size; adds
 * index entries; sets size/next_offset/max_ts to the end of the last good batch. Returns 1 if
 * invalid bytes followed (the caller truncates), 0 if the scan reached file_size, or -errno. */
int log__segment_recover(log_segment_t *s, int64_t pos, int64_t expect, int64_t file_size,
                         int32_t interval);
/* Notes one batch appended at `pos` for the indexes: returns in *idx_due and *tidx_due whether
 * it gets entries, and, when the indexes are not loaded, writes them to the files (not yet
 * counted); the caller commits with log__segment_index_commit() after the batch itself is
 * written, which adds loaded entries to memory and writes them once LOG_IDX_PENDING_MAX wait. */
int log__segment_index_prepare(log_segment_t *s, int32_t interval, const log_hdr_t *h, int64_t pos,
                               bool *idx_due, bool *tidx_due);
void log__segment_index_commit(log_segment_t *s, const log_hdr_t *h, int64_t pos, bool idx_due,
                               bool tidx_due);
/* Writes the index entries held in memory to the files (creating them if needed). */
int log__segment_index_flush(log_segment_t *s);
/* The timestamp of the last time-index entry written to the file (INT64_MIN if none). */
int64_t log__segment_tidx_file_last_ts(const log_segment_t *s);
/* Writes the entries held in memory, then the final time-index entry (segment max timestamp) if
 * it is not there yet. */
int log__segment_tidx_finalize(log_segment_t *s);
/* Loads (and validates, rebuilding if invalid) the in-memory indexes. */
int log__segment_index_load(log_segment_t *s, int32_t interval);
/* Makes s->max_ts known (reads the last time-index entry). */
int log__segment_max_ts(log_segment_t *s, int32_t interval, int64_t *out);
/* Byte position to start scanning from for `offset` (index loaded). */
int64_t log__segment_lookup(const log_segment_t *s, int64_t offset);
/* Position of the first indexed batch with base >= offset, or s->size. */
int64_t log__segment_upper_bound(const log_segment_t *s, int64_t offset);
/* Offset to start a time search from (index loaded): every batch before it has maxTs < ts. */
int64_t log__segment_time_lookup(const log_segment_t *s, int64_t ts);
/* Reads and parses the header at pos (pos + 61 <= size). Returns 0, HD_ECORRUPT or -errno. */
int log__segment_read_hdr(const log_segment_t *s, int64_t pos, uint8_t hdr[LOG_BATCH_HEADER_LEN],
                          log_hdr_t *h);
/* Unlinks the three files (the fds stay valid until the last unref). */
void log__segment_unlink(log_segment_t *s);

/* The fields of a partition's clean-shutdown marker (partition.c documents the file). */
typedef struct log__marker {
    int64_t active_base, end_offset, active_size, idx_n, tidx_n, tidx_last_ts, max_ts;
} log__marker_t;

typedef struct log__pender log__pender_t;

/* Pending writes (pending.c): a partition's batches wait in memory, up to LOG_PEND_MAX each, in
 * chunks of LOG_PEND_CHUNK; the writer thread writes every partition's once the capacity of all
 * passes LOG_PEND_TOTAL_MAX, and the loop thread itself at twice that (the memory bound). */
#define LOG_PEND_MAX (64 * 1024)
#define LOG_PEND_TOTAL_MAX (32 * 1024 * 1024)
#define LOG_PEND_CHUNK (16 * 1024)
#define LOG_PEND_CHUNKS (LOG_PEND_MAX / LOG_PEND_CHUNK)

/* The partition. Loop thread, except the fields under `lock` and the atomics. */
struct log_partition {
    atomic_int refs;
    char *dir;
    dev_t dev; /* the filesystem holding dir: one syncfs covers the partitions that share it */
    log_config_t cfg;

    /* The segment array is changed only by the loop thread and only under `lock`, so the loop
     * reads it freely and the flusher reads it under `lock`. */
    log_segment_t **segs;
    size_t nsegs, segs_cap;
    int64_t leo;
    int64_t size_bytes;
    /* Append rate, for zeroing ahead (partition.c): bytes appended in the window that started
     * at rate_start_ms, and in the whole second before it. */
    int64_t rate_start_ms, rate_bytes, rate_prev_bytes;

    pthread_mutex_t lock;
    int64_t snap_leo; /* lock: LEO after the last completed append */
    bool dir_dirty;   /* lock: files created since the last sync */
    int sync_err;     /* lock: sticky fdatasync failure */
    _Atomic int64_t durable;

    atomic_bool flush_queued; /* flusher.c: already in the flusher's dirty set */

    /* With a journal (journal.c): the partition's name in journal records (its directory
     * relative to the journal's base), whether it was appended to since the last checkpoint, and
     * the marker describing it after the last completed append (lock), which the checkpoint
     * writes once the segments are synced. */
    log_journal_t *journal;
    char *jname;
    size_t jname_len;
    atomic_bool ckpt_dirty;
    atomic_bool detached;      /* closed: taken out of the journal's registry */
    log__marker_t snap_marker; /* lock */
    int64_t ckpt_base; /* lock: segments from this base on may hold data no sync covered yet */
    /* Checkpoint thread: the segment, and the byte in it, through which the last checkpoint wrote
     * p back (log__partition_writeback). */
    int64_t wb_base, wb_pos;
    bool replay; /* opened by journal replay, which syncs it once at its end (writeback_early) */
    /* With a journal: batches appended but not yet written to the active segment's file
     * (pending.c): pend_len bytes back to back in pend_nchunks chunks of LOG_PEND_CHUNK bytes
     * (each counted in the pender's total) for the file from pend_pos; before them, the sealed
     * set the writer thread writes (while wr_busy; wr_cv is signalled when it clears) or whose
     * write failed, wr_len bytes for wr_fd from wr_pos. */
    log__pender_t *pender;
    uint8_t *pend_chunk[LOG_PEND_CHUNKS]; /* lock */
    size_t pend_nchunks;                  /* lock */
    size_t pend_len;                      /* lock */
    int64_t pend_pos;                     /* lock */
    uint8_t *wr_chunk[LOG_PEND_CHUNKS];   /* lock */
    size_t wr_nchunks, wr_len;            /* lock */
    int64_t wr_pos;                       /* lock */
    int wr_fd;                            /* lock */
    bool wr_busy;                         /* lock */
    pthread_cond_t wr_cv;
    /* With a journal: the adaptive write path (partition.c, "Direct writes"). `direct` is the
     * mode of the last append (loop thread); direct_unsynced says bytes were written straight
     * to the segment since the last round's snapshot; round_bytes counts the bytes appended
     * since then, and last_round_bytes what the last snapshot found. */
    bool direct;
    bool direct_unsynced;             /* lock */
    int64_t round_bytes;              /* lock */
    _Atomic int64_t last_round_bytes; /* written by the flusher, read by the loop thread */
};

/* pending.c: any thread. Writes p's pending bytes to its active segment; `release` also frees
 * the buffer. Returns 0 or -errno (the bytes stay pending). */
int log__partition_pend_flush(log_partition_t *p, bool release);
/* pending.c, with p's lock held: the same; drops the pending bytes (and any failed set) and
 * frees their chunks; copies len bytes after the pending ones (p->pend_len + len <=
 * LOG_PEND_MAX), returning the bytes of chunks taken; and before an append of len bytes, seals
 * the pending bytes for the writer thread or writes them if they would pass LOG_PEND_MAX. */
int log__pend_flush_locked(log_partition_t *p, bool release);
void log__pend_release_locked(log_partition_t *p);
size_t log__pend_put_locked(log_partition_t *p, const uint8_t *b, size_t len);
int log__pend_make_room_locked(log_partition_t *p, size_t len);
/* pending.c: the chunk pool, the total and the writer thread of one journal. note() adds delta
 * to the capacity of the pending chunks; past LOG_PEND_TOTAL_MAX it asks the writer thread to
 * write them all, and it returns true past twice that, when the caller (the loop thread) must
 * write them itself. stop() drains the writer's queue first. */
int log__pender_start(log_journal_t *j, log__pender_t **out);
void log__pender_stop(log__pender_t *w);
bool log__pender_note(log__pender_t *w, int64_t delta);
int64_t log__pender_total(const log__pender_t *w);
/* Tests: while set, the writer thread leaves the pending buffers to the loop thread's bound (it
 * writes them once it is cleared). */
extern atomic_bool log__pend_async_hold;

/* partition.c: the marker of a checkpoint (fields of the clean-shutdown marker), after writing
 * the pending bytes it covers to the segment. Returns 0 or -errno (nothing to checkpoint). */
int log__partition_marker_snapshot(log_partition_t *p, log__marker_t *m);
/* partition.c, checkpoint thread: writes back, and waits for, the segment bytes m describes that
 * the last checkpoint did not (after log__partition_marker_snapshot). Returns 0 or -errno. */
int log__partition_writeback(log_partition_t *p, const log__marker_t *m);
#define LOG_WB_STEP (4 * 1024 * 1024) /* bytes written back per wait */
/* Notes that a checkpoint synced everything m describes. */
void log__partition_checkpointed(log_partition_t *p, const log__marker_t *m);
/* Writes m as p's marker file. Returns 0 or -errno (not synced). */
int log__partition_marker_put(log_partition_t *p, const log__marker_t *m);

/* journal.c; the record codec in jrecord.c */
#define LOG_JOURNAL_REC_MAGIC 0x484A524Eu
#define LOG_JOURNAL_REC_HDR 32
#define LOG_JOURNAL_NAME_MAX 255
#define LOG_JOURNAL_KIND_BATCH 1
#define LOG_JOURNAL_KIND_EOF 2
#define LOG_JOURNAL_KIND_FORGET 3

/* A decoded journal record; name and batch point into the parsed buffer. */
typedef struct log_journal_rec {
    uint8_t kind;
    const char *name;
    size_t name_len;
    const uint8_t *batch;
    size_t batch_len;
    int64_t base_offset;
} log_journal_rec_t;

/* Bytes of a record with that name and batch (header, padding). */
size_t log__journal_record_len(size_t name_len, size_t batch_len);
/* Validates the record at p (avail bytes readable) of file seq. Returns its length,
 * HD_EINCOMPLETE (it may continue past avail) or HD_ECORRUPT (the journal ends there). */
ssize_t log__journal_record_parse(const uint8_t *p, size_t avail, uint64_t seq,
                                  log_journal_rec_t *rec);
/* Encodes one record at the end of b. */
void log__journal_record_build(hd_buf_t *b, uint64_t seq, uint8_t kind, const char *name,
                               size_t nlen, int64_t base, const uint8_t *batch, size_t blen);
/* Calls cb for each batch and forget record of buf (file seq) up to the first record that does not
 * parse (*end = its error) or through the end-of-file record (*end = 0). Returns the bytes of
 * valid records, or cb's error. */
ssize_t log__journal_scan(const uint8_t *buf, size_t len, uint64_t seq, int *end,
                          int (*cb)(void *ctx, const log_journal_rec_t *rec), void *ctx);
/* Loop thread: writes one batch record. Returns 0 or the (sticky) error. */
int log__journal_append(log_journal_t *j, const char *name, size_t name_len, int64_t base,
                        const uint8_t *batch, size_t len);
/* Loop thread: writes a forget record for the partition `name` (see journal.c). */
int log__journal_forget(log_journal_t *j, const char *name, size_t name_len);
/* Any thread: writes and frees every attached partition's pending bytes. */
void log__journal_pend_flush_all(log_journal_t *j);
/* The capacity of the journal's pending segment buffers now (tests). */
int64_t log__journal_pend_total(const log_journal_t *j);
/* The adaptive write path (partition.c, "Direct writes"): the threshold in force (bytes in its
 * last round from which a partition writes direct: a fixed log.journal.direct.bytes or the cost
 * model's latest pick), or LOG_DIRECT_NEVER / _ALWAYS / _ALTERNATE; and the direct bytes, which
 * count towards the checkpoint's byte trigger. */
int64_t log__journal_direct_min(const log_journal_t *j);
void log__journal_note_direct(log_journal_t *j, int64_t bytes);
/* Per-round statistics for the cost model: partitions by log2 of the bytes they were appended
 * in the round (bucket 0 also holds 0 bytes). */
#define LOG_ROUND_BUCKETS 32
typedef struct log__round_hist {
    uint32_t n[LOG_ROUND_BUCKETS];
    int64_t bytes[LOG_ROUND_BUCKETS];
} log__round_hist_t;
void log__round_hist_add(log__round_hist_t *h, int64_t bytes);
/* The cost model (jcost.c): its threshold in force, its scores and its fdatasync estimate. */
#define LOG_JCOST_MIN_LOG2 10 /* thresholds: 0, 2^LOG_JCOST_MIN_LOG2 .. 2^31, none */
#define LOG_JCOST_NCAND (LOG_ROUND_BUCKETS - LOG_JCOST_MIN_LOG2 + 2)
typedef struct log__jcost {
    _Atomic int64_t direct_min;                         /* the threshold in force */
    _Atomic int64_t picks_all, picks_split, picks_none; /* its picks, by kind */
    _Atomic int64_t sync_est_ns;                        /* what an fdatasync costs */
    int64_t acc[LOG_JCOST_NCAND];                       /* flusher thread: the scores */
} log__jcost_t;
void log__jcost_init(log__jcost_t *c, int64_t direct_bytes);
void log__jcost_round(log__jcost_t *c, const log__round_hist_t *h);
void log__jcost_sync(log__jcost_t *c, int64_t ns);
int64_t log__jcost_sync_estimate(const log__jcost_t *c);
int64_t log__jcost_direct_min(const log__jcost_t *c);
/* Flusher thread: one journal round synced `parts` partitions, `direct` of them by their
 * segments; h describes the round. Picks the threshold for the next appends (adaptive mode). */
void log__journal_round_done(log_journal_t *j, size_t parts, size_t direct,
                             const log__round_hist_t *h);
/* Flusher thread: an fdatasync of the journal or of a direct partition's segment took ns; the
 * cost model's estimate of one follows (jcost.c). The estimate, any thread. */
void log__journal_sync_observe(log_journal_t *j, int64_t ns);
/* Flusher thread: hd_io.fdatasync(fd), timed into j's estimate when it succeeds (j may be NULL). */
int log__journal_fdatasync_timed(log_journal_t *j, int fd);
int64_t log__journal_sync_estimate(const log_journal_t *j);
/* Loop thread: publishes the end of the records written so far to checkpoints; call after the
 * appending partitions published their state. */
void log__journal_commit(log_journal_t *j);
/* Flusher thread: fdatasyncs every journal file written since the last call (and the
 * directory after a new file). Returns 0 or the sticky error. */
int log__journal_sync(log_journal_t *j);
/* Flusher thread: log__journal_sync() with one syncfs of the journal's filesystem in place of the
 * files' fdatasyncs (flusher.c, journal_round, says when). When the syncfs succeeds (*covered),
 * it also made durable everything written before it to the partitions on that filesystem
 * (log__journal_dev). When it fails, the journal files' fdatasyncs decide, and *covered is
 * false. Returns 0 or the sticky error. */
int log__journal_syncfs(log_journal_t *j, bool *covered);
dev_t log__journal_dev(const log_journal_t *j);
/* Any thread: `bytes` of journaled partitions' segment data reached the page cache (pending.c).
 * log__journal_seg_unsynced() is what of it no syncfs has covered since: the extra bytes a
 * syncfs of a round would write back. */
void log__journal_seg_written(log_journal_t *j, int64_t bytes);
int64_t log__journal_seg_unsynced(const log_journal_t *j);
/* Registers p (opened with cfg.journal = j): sets p->jname. HD_EINVAL if p's directory is not
 * under the journal's base. */
int log__journal_attach(log_journal_t *j, log_partition_t *p);
/* Unregisters p at close; `clean` when its data was synced. */
void log__journal_detach(log_journal_t *j, log_partition_t *p, bool clean);

#endif
