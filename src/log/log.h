/* log/: the partition log. Stores RecordBatch v2 frames verbatim in segment files with sparse
 * offset and time indexes, recovers after a crash, applies retention, and group-commits fsyncs on
 * a flusher thread. Knows nothing of Kafka requests. */
#ifndef LOG_LOG_H
#define LOG_LOG_H

#include "util/hist.h"
#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Size of the fixed RecordBatch v2 header. */
#define LOG_BATCH_HEADER_LEN 61

/* --- Configuration --- */

typedef struct log_config {
    int64_t segment_bytes;        /* log.segment.bytes, default 1 GiB (at most INT32_MAX) */
    int64_t segment_ms;           /* log.roll.ms, default 7 days; roll when the active segment's
                                     first batch is older */
    int64_t retention_ms;         /* log.retention.ms, -1 = keep forever */
    int64_t retention_bytes;      /* log.retention.bytes, -1 = unlimited */
    int32_t index_interval_bytes; /* log.index.interval.bytes, default 4096 */
    bool preallocate;      /* preallocate segment space ahead of the writes (LOG_PREALLOC_*) */
    int64_t zero_max_rate; /* bytes/s appended above which nothing is zeroed ahead of the data
                              (LOG_ZERO_*); default 32 MiB/s */
    /* The journal that records this partition's appends (NULL: none, the default). Borrowed;
     * the partition's directory must lie under the journal's base directory. */
    struct log_journal *journal;
} log_config_t;

void log_config_defaults(log_config_t *cfg);

/* Owned by the loop thread, except the functions marked thread-safe. */
typedef struct log_partition log_partition_t;

/* --- Lifecycle --- */

/* Opens or creates the partition in `dir` (created if missing) and recovers it: segments not
 * covered by the clean-shutdown marker are scanned (length, magic, CRC-32C, contiguous offsets);
 * the first torn or corrupt batch and everything after it are truncated and indexes rebuilt.
 * After a clean close no segment data is read. Returns 0, HD_EINVAL (bad cfg) or -errno. */
int log_partition_open(const char *dir, const log_config_t *cfg, log_partition_t **out);
/* Replaces the partition's settings (a topic's configs were altered); they apply from the next
 * append, roll and retention pass. zero_max_rate is kept. Returns 0 or HD_EINVAL (bad cfg, then
 * nothing changes). Loop thread. */
int log_partition_set_config(log_partition_t *p, const log_config_t *cfg);
/* Clean close: trims preallocation, syncs, writes the clean-shutdown marker, drops the
 * creator's ref. NULL ok. close_dirty skips all of that (tests use it to simulate a crash). */
void log_partition_close(log_partition_t *p);
/* log_partition_close() of v[0..n) (NULL entries skipped) with one syncfs per filesystem instead
 * of fdatasyncs per file: a shutdown with many partitions takes one sync. Any partition whose
 * syncfs or preparation failed is closed on its own, as log_partition_close() does. Returns 0,
 * or the first error of a partition that could not be closed cleanly. */
int log_partition_close_many(log_partition_t **v, size_t n);
void log_partition_close_dirty(log_partition_t *p);
/* Call before closing a partition that is being deleted: with a journal, records that its
 * earlier appends are void, so that a replay never puts them into a partition created later in
 * the same directory. No-op without a journal. Loop thread. */
void log_partition_forget(log_partition_t *p);
/* Removes the partition's files and directory (after close). */
int log_partition_destroy_dir(const char *dir);
/* Creates the directory of a partition that was never written, with its first (empty) segment
 * file, and holds nothing open: what the first log_partition_open() would create, made ahead of
 * need, so that the open finds it and creates no file. Any thread; a partition that has files
 * already is left as it is. Returns 0 or -errno. */
int log_partition_precreate(const char *dir);
/* A hint that p will be appended to soon (a request's later partitions, while the loop thread
 * appends the earlier ones): level 0 fetches the partition's fields into the cache, level 1
 * (once those had time to arrive) its active segment's. Reads nothing that may be stale. */
void log_partition_prefetch(const log_partition_t *p, int level);
/* Atomic refcount, thread-safe; the last unref frees. */
void log_partition_ref(log_partition_t *p);
void log_partition_unref(log_partition_t *p);

/* --- Writing --- */

/* Appends one complete RecordBatch v2 (CRC already checked by the caller): writes baseOffset =
 * LEO and partitionLeaderEpoch = 0 into `batch` in place, rolls first if the segment is full or
 * too old, writes it with one pwrite (with a journal, a small batch waits in memory and is written
 * with the partition's next ones; every read writes it first: pending.c),
 * updates the sparse indexes. Never fsyncs. Returns 0,
 * HD_ETOOBIG (> segment_bytes), HD_EMALFORMED or -errno; a failed append changes nothing. */
int log_partition_append(log_partition_t *p, uint8_t *batch, size_t len, int64_t *base_offset);
/* Deletes whole inactive segments, oldest first: by time (largest timestamp < now -
 * retention_ms) and by size (while the rest still holds >= retention_bytes, as Kafka). Returns
 * the number removed or -errno. */
int log_partition_apply_retention(log_partition_t *p, int64_t now_ms);
/* Deletes whole segments that lie entirely below `offset` (the next segment starts at or below
 * it), oldest first; the active segment is never deleted. Returns the number removed. */
int log_partition_delete_before(log_partition_t *p, int64_t offset);
/* Thread-safe (flusher): fdatasyncs every segment with unsynced data (and the directory after
 * a roll), then advances the durable offset to the LEO seen when it started. On failure returns
 * -errno and the partition stays un-durable until reopened (the error is sticky). */
int log_partition_sync(log_partition_t *p);

/* --- State --- */

int64_t log_partition_end_offset(const log_partition_t *p);
int64_t log_partition_start_offset(const log_partition_t *p);
/* The partition's sticky sync error (a failed fdatasync: none of its later batches is
 * acknowledged until the broker restarts), or 0. Any thread. */
int log_partition_error(const log_partition_t *p);
/* Thread-safe: everything below it is fsynced. */
int64_t log_partition_durable_offset(const log_partition_t *p);
int64_t log_partition_size_bytes(const log_partition_t *p);
/* Number of segments (for tests and metrics). Loop thread. */
size_t log_partition_segment_count(const log_partition_t *p);

/* --- Reading --- */

/* Appends whole batches to `out` from the one CONTAINING `offset`, none with base offset >=
 * max_offset, stopping before max_bytes would be exceeded (the first batch is always whole).
 * Returns bytes copied (0 at max_offset), HD_ERANGE outside [start, end], or -errno. */
ssize_t log_partition_read(log_partition_t *p, int64_t offset, int64_t max_offset, size_t max_bytes,
                           hd_buf_t *out);
/* Copies the first batch (below max_offset) whose maxTimestamp >= ts into `out` and sets
 * *base_offset. Returns 0, HD_ENOTFOUND or -errno. */
int log_partition_find_time(log_partition_t *p, int64_t ts, int64_t max_offset,
                            int64_t *base_offset, hd_buf_t *out);
/* The largest batch maxTimestamp below max_offset. Returns 0, HD_ENOTFOUND (no batch) or
 * -errno. Segments wholly below max_offset answer from their time index; the one that reaches
 * past it is read header by header. */
int log_partition_max_time(log_partition_t *p, int64_t max_offset, int64_t *ts);

/* Calls cb with the header of every batch with base offset >= from_offset, in order; cb returns
 * non-zero to stop. With min_ts >= 0, the leading inactive segments whose largest timestamp is
 * below min_ts are skipped, up to the first that is not (or has no timestamps): the batches seen
 * are always a suffix of the log. Returns 0 or an error. */
typedef int (*log_scan_cb)(void *ctx, const uint8_t hdr[61], int64_t base_offset);
int log_partition_scan(log_partition_t *p, int64_t from_offset, int64_t min_ts, log_scan_cb cb,
                       void *ctx);

/* --- Group-commit flusher --- */

typedef struct log_flusher log_flusher_t;

/* Starts the flusher thread. notify(ctx) runs ON THE FLUSHER THREAD after each round that
 * advanced at least one durable offset. */
int log_flusher_start(void (*notify)(void *ctx), void *ctx, log_flusher_t **out);
/* Loop thread: queues p for the next round (one flag check if queued); takes a ref. */
void log_flusher_mark_dirty(log_flusher_t *f, log_partition_t *p);
/* Loop thread: between hold and the matching release (they nest), no round starts (one under way
 * goes on) and log_flusher_mark_dirty() only queues; the release wakes the flusher if anything
 * was queued. log_flusher_stop() is not held back. A request that appends to many partitions
 * holds the flusher for its appends, so that one round covers them all: woken at its first
 * append, the flusher would sync the first few partitions alone, and the rest in a round of
 * their own. */
void log_flusher_hold(log_flusher_t *f);
void log_flusher_release(log_flusher_t *f);
/* Runs a final round, stops the thread, frees. NULL ok. */
void log_flusher_stop(log_flusher_t *f);
/* Durations of the flusher's rounds (every sync of one group commit). Any thread. */
const hd_hist_t *log_flusher_sync_hist(const log_flusher_t *f);
/* Makes every round sync the journal `j` once instead of each dirty partition's files: the
 * partitions marked dirty must all record their appends in j. Call before the first
 * log_flusher_mark_dirty(); j must outlive the flusher. */
void log_flusher_set_journal(log_flusher_t *f, struct log_journal *j);

/* --- Write-ahead journal (journal.c documents the files) --- */

typedef struct log_journal log_journal_t;

/* Default size of a journal file. */
#define LOG_JOURNAL_FILE_BYTES (64LL * 1024 * 1024)

typedef struct log_journal_config {
    int64_t file_bytes;                /* log.journal.file.bytes: each file's preallocation */
    int64_t checkpoint_interval_ms;    /* log.recovery.checkpoint.interval.ms */
    int64_t checkpoint_interval_bytes; /* log.recovery.checkpoint.interval.bytes */
    /* log.journal.direct.bytes: LOG_DIRECT_ADAPTIVE, or a fixed threshold: a partition that was
     * appended at least this many bytes in its last round writes straight to its segment
     * (partition.c, "Direct writes"); or one of the other LOG_DIRECT_* modes. */
    int64_t direct_bytes;
} log_journal_config_t;

/* Special values of log_journal_config_t.direct_bytes. */
#define LOG_DIRECT_ALWAYS 0       /* every append direct: as without a journal */
#define LOG_DIRECT_NEVER (-1)     /* every append journaled */
#define LOG_DIRECT_ALTERNATE (-2) /* each partition switches mode at every append (tests) */
#define LOG_DIRECT_ADAPTIVE (-3)  /* the threshold each round's cost model picks (jcost.c) */

void log_journal_config_defaults(log_journal_config_t *cfg);
/* Opens the journal of the data directory `base` (files in base/journal, created if missing)
 * and recovers: replays every record after the last checkpoint into its partition (opened for
 * the replay with default settings, then closed cleanly), cuts a torn tail, checkpoints, and
 * starts the checkpoint thread. Call before any partition under base is opened. Returns 0,
 * HD_EINVAL (bad cfg) or -errno. */
int log_journal_open(const char *base, const log_journal_config_t *cfg, log_journal_t **out);
/* Makes every segment write recorded before now durable in the segments, rewrites the
 * partitions' markers, and moves the replay start to the journal's end; deletes the journal
 * files before it. The checkpoint thread calls it every interval. Any thread except the loop
 * thread (it syncs). Returns 0 or -errno (the journal then keeps the previous checkpoint). */
int log_journal_checkpoint(log_journal_t *j);
/* Stops the checkpoint thread, writes a last checkpoint if every attached partition was closed
 * cleanly, frees. Call after the flusher stopped and the partitions were closed. NULL ok.
 * close_dirty skips the checkpoint (tests use it to simulate a crash). */
void log_journal_close(log_journal_t *j);
void log_journal_close_dirty(log_journal_t *j);
/* The sticky error after a failed journal write or sync (appends are refused), or 0. */
int log_journal_error(const log_journal_t *j);
/* What the journal has done since it was opened, for metrics. Any thread; the counts are read
 * one after another, not as one snapshot. */
typedef struct log_journal_stats {
    int64_t rounds;          /* group-commit rounds */
    int64_t bytes_journaled; /* bytes of records written to the journal */
    int64_t bytes_direct;    /* bytes partitions wrote straight to their segments */
    int64_t checkpoints;     /* checkpoints that wrote something */
    int64_t checkpoint_failures;
    const hd_hist_t *checkpoint_hist; /* their durations */
    int64_t replay_ns;                /* the recovery at open, whole (short after a clean stop) */
    int64_t replayed_batches;         /* batches it put back into segments */
    int64_t sync_estimate_ns;         /* what the cost model takes an fdatasync to cost */
    int error;                        /* log_journal_error */
    bool checkpoint_failing;          /* the last checkpoint failed */
} log_journal_stats_t;
void log_journal_stats(const log_journal_t *j, log_journal_stats_t *out);

#endif
