/* The write-ahead journal: one sequentially written file shared by every partition of a data
 * directory, synced once per group-commit round, so that the cost of making a round durable does
 * not grow with the number of partitions written in it. Partition segments are written as
 * without a journal but made durable lazily, by a checkpoint; recovery replays the journal from
 * the last checkpoint into the segments.
 *
 * Threads: appends (log__journal_append/commit) run on the loop thread; log__journal_sync() on
 * the flusher thread; checkpoints on the journal's own checkpoint thread (or the caller of
 * log_journal_checkpoint()). They share `mu` (the file list, the written end, the staged records,
 * the registry of partitions) and the atomic sticky error. Checkpoints are serialized by
 * `ckpt_mu`, writes of staged records by `wmu`.
 *
 * Writes: an append encodes its record into an in-memory stage, and the flusher writes
 * everything staged with one pwrite just before its round's fdatasync, so a round that carries
 * 1,000 one-record batches of 1,000 partitions costs the journal about one pwrite and one
 * fdatasync, on the flusher's thread. The loop thread writes the stage itself, starting its
 * writeback, only once the stage holds LOG_JOURNAL_STAGE_MAX bytes, and before a rotation.
 * (Appends used to write the stage whenever the flusher was not in a sync: a pwrite and a
 * writeback start per batch on the loop thread between two rounds, a quarter of the broker's CPU
 * at 1,000 partitions; later, the first append after the flusher had gone idle: that write's
 * page, left out of the page cache by the flusher's direct writes, was read from the disk first,
 * the loop thread waiting a median 168 us per request at 100 partitions.)
 * The flusher's writes bypass the page cache (O_DIRECT, a second descriptor of the file): only
 * recovery reads the journal, from the disk, so the page cache's copy and writeback cost CPU for
 * nothing (a tenth of the broker's per record at 100 partitions). A direct write covers whole
 * blocks (util/fileio.h, hd_dio_pwrite), from the block of the previous end, whose earlier bytes
 * the journal keeps, padded with zeros that the next write covers again. The loop thread's
 * writes stay buffered (a direct write waits for the disk), in whole blocks the same way, so that
 * none reads a page first. A write whose first block's earlier bytes are not known is a plain
 * buffered one; so is every write to a file or filesystem without O_DIRECT (or refusing its
 * alignment) for the flusher, and while a test replaced the write hook (its faults assume
 * retried pieces). A staged record is lost by a crash like a written but unsynced one: it was
 * not acknowledged. A failed write is sticky like a failed sync; the segment may then hold the
 * batches of the failed round, never acknowledged.
 *
 * Files, in "<base>/journal/":
 *
 * <seq>.jnl (seq as 20 decimal digits, zero-padded) Preallocated to log.journal.file.bytes (more
 *   when one record needs it) and written from byte 0 with records back to back (encoded and
 *   checked by jrecord.c). Each record starts on a multiple of 8; all integers are big-endian:
 *     byte  0  magic      u32  0x484A524E ("HJRN")
 *     byte  4  crc        u32  CRC-32C of bytes 8 to the end of the record (padding included)
 *     byte  8  seq        u64  the file's sequence number (a record of a reused file never
 *                              matches)
 *     byte 16  kind       u8   1 = batch, 2 = end of file (the journal continues in seq + 1),
 *                              3 = forget (the partition was deleted: replay ignores its records
 *                              written before this one)
 *     byte 17  zero       u8   0
 *     byte 18  name_len   u16  batch, forget: 1..LOG_JOURNAL_NAME_MAX; end of file: 0
 *     byte 20  batch_len  u32  batch: LOG_BATCH_HEADER_LEN..LOG_BATCH_MAX_LEN; others: 0
 *     byte 24  base       i64  batch: the batch's base offset in its partition; others: 0
 *     byte 32  name            the partition directory relative to <base> (no NUL)
 *     then     batch           the RecordBatch v2 exactly as stored in the segment
 *     then     zeros           up to the next multiple of 8
 *   A file ends with an end-of-file record when the next record did not fit (every file keeps
 *   room for one). Bytes after the last record are zeros, or anything after a crash: the first
 *   record that does not validate (magic, seq, kind, lengths inside the file, CRC) ends the
 *   journal, and files after it are ignored; their records were never acknowledged, since a
 *   round syncs the older file before the newer one.
 *
 * checkpoint Two 32-byte slots at bytes 0 and 512; the valid slot with the larger gen wins, and a
 *   new checkpoint overwrites the other one, so a torn write leaves the previous one:
 *     byte  0  magic      u32  0x484A434B ("HJCK")
 *     byte  4  crc        u32  CRC-32C of bytes 8..31
 *     byte  8  gen        u64  1, 2, 3, ... (slot gen % 2)
 *     byte 16  seq        u64  the journal file where replay starts
 *     byte 24  pos        u64  the byte in that file where replay starts
 *   Everything appended before (seq, pos) is durable in the segments, and each partition's
 *   clean-shutdown marker (partition.c) was rewritten to cover it, so that opening the partition
 *   scans only what came after. Without a valid slot replay starts at the oldest file.
 *
 * spare-<n> A journal file kept for reuse: retired by a checkpoint (or a recovery), or written
 *   with zeros by the checkpoint thread when there is none. A new journal file is a spare renamed
 *   when one is available, so that each round's fdatasync overwrites initialized blocks instead
 *   of converting unwritten extents (a metadata write per sync on ext4); its old records carry
 *   another seq and never validate. Only files of log.journal.file.bytes are kept, at most
 *   LOG_JOURNAL_SPARES.
 *
 * A checkpoint: read the written end J; snapshot every partition appended since the last
 * checkpoint, writing its pending segment bytes first (the loop thread publishes each partition's
 * state before it publishes J, so the snapshots cover every record before J); write each one's
 * new segment bytes back, a step at a time (partition.c, log__partition_writeback); syncfs the data
 * directory's filesystem; write the snapshots as markers; syncfs again; write the checkpoint slot
 * (J) and fdatasync it; delete the journal files before J's. A crash anywhere in it leaves the
 * previous checkpoint, from which replay is still correct.
 *
 * Recovery (log_journal_open) reads the records after the checkpoint twice: first to find each
 * partition's last forget record and the partitions named by a record after the checkpoint, which
 * it then opens (without a journal) eight at a time (replay_open_all); then to replay, appending
 * each record if its base offset is the partition's log end, skipping it if below (already in the
 * segment), and warning of a gap if above;
 * then closes the partitions cleanly (one syncfs, markers), writes a checkpoint at a new, empty
 * file and retires the older files (as spares, or deleted). A crash during recovery leaves the
 * journal and the old checkpoint, so the next start replays again, skipping what the first attempt
 * appended.
 *
 * Not every batch is journaled: a partition whose rounds carry many bytes writes straight to its
 * segment, which the flusher then syncs in that round as without a journal (partition.c,
 * "Direct writes"). Its bytes count towards the checkpoint's byte trigger like journal bytes
 * (direct_total), so recovery stays bounded by the interval.
 *
 * The cost model (log.journal.direct.bytes -3, the default; jcost.c) picks that threshold after
 * each round, from the bytes each partition of the round was appended.
 *
 * Limits:
 * - Every journaled byte is written twice (journal and segment) and those segments are made
 *   durable by checkpoints instead of by the rounds, and a checkpoint's syncfs writes back up to
 *   log.recovery.checkpoint.interval.bytes of segment data at once. Direct writes avoid the
 *   double write where it costs more than it saves (large rounds per partition).
 * - One journal per data directory, one flusher: rounds are serialized, so a round's latency is
 *   one fdatasync of this file plus the wait for the round before it.
 * - The journal costs nothing per partition in a round. Its segment writes wait in memory, up to
 *   LOG_PEND_MAX per partition and LOG_PEND_TOTAL_MAX in all, and are written in chunks (see
 *   pending.c); a checkpoint writes them before it syncs. Reads of a
 *   partition write its pending bytes first, so a consumer following the log's end makes that
 *   partition's segment writes one per fetch again.
 * - Replay opens partitions with the default log settings, so a segment it fills may roll at a
 *   different size than its topic's.
 * - Checkpoints syncfs the filesystem of the data directory, which must hold every partition
 *   (log.dirs is one directory); other writers on that filesystem lengthen checkpoints.
 * - Recovery reads at most one checkpoint interval of journal and direct writes together (by
 *   default 256 MiB or 10 s of writes) plus the segment bytes after each partition's
 *   checkpointed marker.
 * - A forget record lost in a crash whose directory deletion and re-creation survived lets replay
 *   put the deleted partition's batches into the new one; the new one had nothing acknowledged
 *   then, since its records come after the forget record in the journal.
 * - Records are staged in memory until the next round: at most LOG_JOURNAL_STAGE_MAX plus one
 *   record, however long an fdatasync stalls, since the loop thread then writes the stage itself.
 */
#include "log/log_int.h"
#include "util/crc32c.h"
#include "util/err.h"
#include "util/fileio.h"
#include "util/mem.h"
#include "util/monotime.h"
#include "util/say.h"
#include "util/sched.h"
#include "util/strmap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CKPT_MAGIC 0x484A434Bu
#define CKPT_NAME "checkpoint"
#define CKPT_SLOT_LEN 32
#define CKPT_SLOT2_AT 512
#define LOG_JOURNAL_READ_CHUNK (1024 * 1024)
/* Spare files kept for reuse; see "Spare files" above. */
#define LOG_JOURNAL_SPARES 4
#define SPARE_PREFIX "spare-"
/* Staged journal bytes from which the loop thread writes them itself (see `stage`). */
#define LOG_JOURNAL_STAGE_MAX (1024 * 1024)

typedef struct jfile {
    atomic_int refs;
    uint64_t seq;
    int fd;
    int dfd; /* the same file opened with O_DIRECT, or -1; wmu */
    int64_t size;
    bool dirty; /* j->mu: written since the flusher last synced it */
} jfile_t;

struct log_journal {
    char *base;  /* the data directory; partitions are named relative to it */
    char *dir;   /* base/journal */
    int base_fd; /* for syncfs of the data directory's filesystem */
    int dir_fd;  /* `dir`, for syncfs of the journal's filesystem (log__journal_syncfs) */
    dev_t dev;   /* that filesystem */
    log_journal_config_t cfg;

    /* Loop thread only: the file being written and the end of its records, written or staged. */
    jfile_t *cur;
    int64_t pos;

    /* Records are staged in memory (`stage`, under mu: appended by the loop thread, taken by
     * stage_write) and written to `cur` from `stage_pos` in chunks: by the flusher just before its
     * fdatasync, by the loop thread when LOG_JOURNAL_STAGE_MAX is reached or the file rotates.
     * A writer holds `wmu` from taking a chunk until its pwrite returned, so chunks are written
     * in order, and whoever next takes wmu finds every chunk taken before written. `wchunk` is
     * the wmu holder's buffer, swapped with `stage`. */
    pthread_mutex_t wmu;
    hd_buf_t stage;    /* mu */
    int64_t stage_pos; /* mu: where stage's first byte goes in cur */
    hd_buf_t wchunk;   /* wmu */
    hd_dio_t dio;      /* wmu: the flusher's direct writes, and the written end's block */

    pthread_mutex_t mu;
    jfile_t **files; /* mu: open files, oldest first (the last is cur) */
    size_t nfiles, files_cap;
    bool dir_dirty;   /* mu: a file was created since the last sync */
    uint64_t end_seq; /* mu: the written end published by log__journal_commit */
    int64_t end_pos;
    int64_t written_total;   /* mu: bytes of records written since open */
    log_partition_t **parts; /* mu: attached partitions */
    size_t nparts, parts_cap;
    bool unclean_detach;                 /* mu: a partition was closed without syncing */
    uint64_t spares[LOG_JOURNAL_SPARES]; /* mu: ids of spare files ready for reuse */
    size_t nspares;
    uint64_t spare_next;   /* mu: id for the next spare */
    _Atomic int err;       /* sticky: the first write or sync failure */
    log__pender_t *pender; /* the partitions' pending segment writes (pending.c) */
    /* The adaptive write path (partition.c, "Direct writes"): bytes appended straight to the
     * segments (they count towards the checkpoint's byte trigger like journal bytes), the dirty
     * partitions of the last round, and totals logged at close. */
    _Atomic int64_t direct_total;
    /* Journaled partitions' segment bytes written to the page cache (pending.c), in all, and
     * how many of them were written before the latest syncfs that succeeded: the rest is what
     * a syncfs would write back beside a round's own bytes (log__journal_seg_unsynced). */
    _Atomic int64_t seg_written, seg_covered;
    log__jcost_t cost; /* the cost model (jcost.c) */
    _Atomic int64_t rounds, round_syncs_direct, round_syncs_journal;
    hd_hist_t ckpt_hist;               /* each checkpoint that wrote something, its duration */
    _Atomic int64_t ckpts, ckpt_fails; /* checkpoints that wrote something, and failed ones */
    _Atomic bool ckpt_failing;         /* the last checkpoint failed */
    int64_t replay_ns, replay_batches; /* the recovery at open (set before any other thread) */

    pthread_mutex_t ckpt_mu; /* one checkpoint at a time */
    uint64_t ckpt_gen, ckpt_seq;
    int64_t ckpt_pos, ckpt_total; /* ckpt_mu; ckpt_total is written_total at the checkpoint */
    int64_t ckpt_ms;

    pthread_t thread;
    bool thread_started;
    pthread_cond_t cv;
    bool stop; /* mu */
};

void log_journal_config_defaults(log_journal_config_t *cfg)
{
    cfg->file_bytes = LOG_JOURNAL_FILE_BYTES;
    cfg->checkpoint_interval_ms = 10000;
    cfg->checkpoint_interval_bytes = 256LL * 1024 * 1024;
    cfg->direct_bytes = LOG_DIRECT_ADAPTIVE;
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = hd_malloc(n);
    snprintf(s, n, "%s/%s", dir, name);
    return s;
}

static char *file_path(const log_journal_t *j, uint64_t seq)
{
    size_t n = strlen(j->dir) + 32;
    char *s = hd_malloc(n);
    snprintf(s, n, "%s/%020llu.jnl", j->dir, (unsigned long long)seq);
    return s;
}

static void jfile_unref(jfile_t *f)
{
    if (f && atomic_fetch_sub(&f->refs, 1) == 1) {
        if (f->dfd >= 0)
            close(f->dfd);
        close(f->fd);
        free(f);
    }
}

/* ---- the checkpoint file ---- */

static bool ckpt_read(const char *dir, uint64_t *gen, uint64_t *seq, int64_t *pos)
{
    char *path = join(dir, CKPT_NAME);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0)
        return false;
    bool found = false;
    for (int slot = 0; slot < 2; slot++) {
        uint8_t b[CKPT_SLOT_LEN];
        if (hd_io_pread_full(fd, b, sizeof b, slot * CKPT_SLOT2_AT) != CKPT_SLOT_LEN)
            continue;
        if (log__get_u32(b) != CKPT_MAGIC || hd_crc32c(0, b + 8, 24) != log__get_u32(b + 4))
            continue;
        uint64_t g = log__get_u64(b + 8);
        int64_t p = (int64_t)log__get_u64(b + 24);
        if (p < 0 || (found && g <= *gen))
            continue;
        found = true;
        *gen = g;
        *seq = log__get_u64(b + 16);
        *pos = p;
    }
    close(fd);
    return found;
}

static int ckpt_write(log_journal_t *j, uint64_t gen, uint64_t seq, int64_t pos)
{
    uint8_t b[CKPT_SLOT_LEN];
    log__put_u32(b, CKPT_MAGIC);
    log__put_u64(b + 8, gen);
    log__put_u64(b + 16, seq);
    log__put_u64(b + 24, (uint64_t)pos);
    log__put_u32(b + 4, hd_crc32c(0, b + 8, 24));
    char *path = join(j->dir, CKPT_NAME);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    free(path);
    if (fd < 0)
        return -errno;
    int rc = hd_io_pwrite_all(fd, b, sizeof b, (off_t)((gen % 2) * CKPT_SLOT2_AT));
    if (rc == 0)
        rc = hd_io.fdatasync(fd);
    close(fd);
    return rc;
}

/* ---- files ---- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Lists the sequence numbers of the journal files, sorted. */
static int list_files(const char *dir, uint64_t **out, size_t *n)
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
        if (strlen(nm) != 24 || strcmp(nm + 20, ".jnl") != 0)
            continue;
        uint64_t v = 0;
        bool ok = true;
        for (int i = 0; i < 20 && ok; i++) {
            ok = nm[i] >= '0' && nm[i] <= '9' && v <= (UINT64_MAX - 9) / 10;
            v = v * 10 + (uint64_t)(nm[i] - '0');
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
        qsort(*out, *n, sizeof **out, cmp_u64);
    return 0;
}

static char *spare_path(const log_journal_t *j, uint64_t id)
{
    size_t n = strlen(j->dir) + 48;
    char *s = hd_malloc(n);
    snprintf(s, n, "%s/" SPARE_PREFIX "%llu", j->dir, (unsigned long long)id);
    return s;
}

/* Takes a spare file of the standard size and names it `path`; returns its fd, or -1 if there
 * is none (or the rename failed, which drops it). */
static int spare_take(log_journal_t *j, const char *path)
{
    pthread_mutex_lock(&j->mu);
    if (j->nspares == 0) {
        pthread_mutex_unlock(&j->mu);
        return -1;
    }
    uint64_t id = j->spares[--j->nspares];
    pthread_mutex_unlock(&j->mu);
    char *sp = spare_path(j, id);
    int fd = -1;
    struct stat st;
    if (rename(sp, path) == 0) {
        fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd >= 0 && (fstat(fd, &st) < 0 || st.st_size != j->cfg.file_bytes)) {
            close(fd);
            fd = -1;
        }
    } else {
        unlink(sp);
    }
    free(sp);
    return fd;
}

/* Keeps the journal file at `path` (of `size` bytes, retired by a checkpoint or a recovery) as
 * a spare if there is room, else deletes it. */
static void spare_put(log_journal_t *j, const char *path, int64_t size)
{
    pthread_mutex_lock(&j->mu);
    bool keep = size == j->cfg.file_bytes && j->nspares < LOG_JOURNAL_SPARES;
    uint64_t id = keep ? j->spare_next++ : 0;
    pthread_mutex_unlock(&j->mu);
    char *sp = keep ? spare_path(j, id) : NULL;
    if (keep && rename(path, sp) == 0) {
        pthread_mutex_lock(&j->mu);
        j->spares[j->nspares++] = id;
        pthread_mutex_unlock(&j->mu);
    } else {
        unlink(path);
    }
    free(sp);
}

/* Makes a spare from zeros when there is none and the current file is half used (checkpoint
 * thread): the first files of a fresh journal, or when checkpoints retire fewer files than the
 * writes use. Written in 1 MiB steps
 * and synced, so that the rounds that later write into it overwrite initialized blocks. */
static void spare_make(log_journal_t *j)
{
    pthread_mutex_lock(&j->mu);
    /* Only once the current file is half used: an idle journal writes nothing. */
    bool need = j->nspares == 0 && !j->stop && j->end_pos >= j->cfg.file_bytes / 2;
    uint64_t id = need ? j->spare_next++ : 0;
    pthread_mutex_unlock(&j->mu);
    if (!need)
        return;
    char *sp = spare_path(j, id);
    /* The zeros go to the disk with O_DIRECT where the filesystem has it: through the page cache
     * they cost as much CPU as the journal's own writes (a tenth of the broker's time at 100
     * partitions), on cores the loop thread and the clients need. */
    int fd = open(sp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0644);
    bool direct = fd >= 0;
    if (fd < 0 && errno == EINVAL)
        fd = open(sp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = fd < 0 ? -errno : 0;
    void *z = NULL;
    if (rc == 0 && (rc = -posix_memalign(&z, LOG_PAGE, LOG_JOURNAL_READ_CHUNK)) == 0)
        memset(z, 0, LOG_JOURNAL_READ_CHUNK);
    bool stop = false;
    for (int64_t off = 0; rc == 0 && off < j->cfg.file_bytes; off += LOG_JOURNAL_READ_CHUNK) {
        pthread_mutex_lock(&j->mu);
        stop = j->stop;
        pthread_mutex_unlock(&j->mu);
        if (stop) {
            rc = HD_ECLOSED;
            break;
        }
        int64_t n = j->cfg.file_bytes - off;
        if (n > LOG_JOURNAL_READ_CHUNK)
            n = LOG_JOURNAL_READ_CHUNK;
        if (direct && n % LOG_PAGE) { /* a tail not a whole page: through the page cache */
            direct = false;
            if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_DIRECT) < 0) {
                rc = -errno;
                break;
            }
        }
        rc = hd_io_pwrite_all(fd, z, (size_t)n, (off_t)off);
    }
    free(z);
    if (rc == 0)
        rc = hd_io.fdatasync(fd);
    if (fd >= 0)
        close(fd);
    if (rc == 0) {
        pthread_mutex_lock(&j->mu);
        j->spares[j->nspares++] = id;
        pthread_mutex_unlock(&j->mu);
    } else {
        if (!stop)
            say_warn("journal %s: cannot prepare a spare file: %s", j->dir, hd_strerror(rc));
        unlink(sp);
    }
    free(sp);
}

/* Finds the spare files left by an earlier run (open). */
static void spares_load(log_journal_t *j)
{
    DIR *d = opendir(j->dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, SPARE_PREFIX, strlen(SPARE_PREFIX)) != 0)
            continue;
        char *end;
        unsigned long long id = strtoull(e->d_name + strlen(SPARE_PREFIX), &end, 10);
        char *path = join(j->dir, e->d_name);
        struct stat st;
        if (*end == 0 && j->nspares < LOG_JOURNAL_SPARES && stat(path, &st) == 0 &&
            st.st_size == j->cfg.file_bytes) {
            j->spares[j->nspares++] = id;
            if (id >= j->spare_next)
                j->spare_next = id + 1;
        } else {
            unlink(path);
        }
        free(path);
    }
    closedir(d);
}

/* Creates file seq of `size` bytes, from a spare when one fits, else preallocated, and makes
 * it current. Loop thread (or open). */
static int file_create(log_journal_t *j, uint64_t seq, int64_t size)
{
    char *path = file_path(j, seq);
    int fd = size == j->cfg.file_bytes ? spare_take(j, path) : -1;
    int rc = 0;
    if (fd < 0) {
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        rc = fd < 0 ? -errno : hd_io.fallocate(fd, 0, (off_t)size);
    }
    if (rc < 0) {
        say_error("journal %s: cannot create: %s", path, hd_strerror(rc));
        if (fd >= 0) {
            close(fd);
            unlink(path);
        }
        free(path);
        return rc;
    }
    jfile_t *f = hd_calloc(1, sizeof *f);
    /* For the flusher's writes (see "Writes"); a filesystem without O_DIRECT refuses it. */
    f->dfd = open(path, O_WRONLY | O_CLOEXEC | O_DIRECT);
    free(path);
    atomic_init(&f->refs, 1);
    f->seq = seq;
    f->fd = fd;
    f->size = size;
    pthread_mutex_lock(&j->mu);
    if (j->nfiles == j->files_cap) {
        j->files_cap = j->files_cap ? j->files_cap * 2 : 8;
        j->files = hd_realloc(j->files, j->files_cap * sizeof *j->files);
    }
    j->files[j->nfiles++] = f;
    j->dir_dirty = true;
    j->stage_pos = 0; /* the stage is empty: rotation wrote it out */
    j->cur = f;
    pthread_mutex_unlock(&j->mu);
    j->pos = 0;
    return 0;
}

/* Closes and deletes the files before seq (they are covered by a checkpoint). */
static void drop_files_before(log_journal_t *j, uint64_t seq)
{
    pthread_mutex_lock(&j->mu);
    size_t k = 0;
    while (k < j->nfiles && j->files[k]->seq < seq && j->files[k] != j->cur)
        k++;
    jfile_t **gone = hd_malloc((k ? k : 1) * sizeof *gone);
    memcpy(gone, j->files, k * sizeof *gone);
    memmove(j->files, j->files + k, (j->nfiles - k) * sizeof *j->files);
    j->nfiles -= k;
    pthread_mutex_unlock(&j->mu);
    for (size_t i = 0; i < k; i++) {
        char *path = file_path(j, gone[i]->seq);
        spare_put(j, path, gone[i]->size);
        free(path);
        jfile_unref(gone[i]);
    }
    free(gone);
}

static void set_err(log_journal_t *j, int rc, const char *what)
{
    int none = 0;
    if (atomic_compare_exchange_strong(&j->err, &none, rc))
        say_error("journal %s: %s failed, appends are refused until restart: %s", j->dir, what,
                  hd_strerror(rc));
}

/* ---- appends (loop thread) ---- */

/* Writes out what is staged (see `stage`); any thread. With `writeback`, also starts the
 * chunk's writeback (for chunks written ahead of the flusher's sync); with `direct`, writes it
 * past the page cache when it can (see "Writes"). A failure is sticky. */
static int stage_write(log_journal_t *j, bool writeback, bool direct)
{
    pthread_mutex_lock(&j->wmu);
    pthread_mutex_lock(&j->mu);
    hd_buf_t chunk = j->stage;
    j->stage = j->wchunk;
    j->stage.len = 0;
    jfile_t *f = j->cur;
    int64_t at = j->stage_pos;
    j->stage_pos += (int64_t)chunk.len;
    if (chunk.len) {
        f->dirty = true;
        atomic_fetch_add(&f->refs, 1);
    }
    pthread_mutex_unlock(&j->mu);
    int rc = HD_DIO_UNKNOWN;
    if (chunk.len && hd_io.pwrite == hd_fileio_default.pwrite) {
        /* Whole blocks either way (see "Writes"): past the page cache when asked and possible,
         * else buffered, where a write into part of a page the direct writes left out of the
         * page cache would read it from the disk first. */
        bool dio = direct && f->dfd >= 0;
        rc = hd_dio_pwrite(&j->dio, f, dio ? f->dfd : f->fd, chunk.p, chunk.len, (off_t)at);
        if (dio && rc == -EINVAL) { /* alignment the filesystem refuses: buffered from now on */
            close(f->dfd);
            f->dfd = -1;
        }
        if (rc == -ENOMEM || (dio && rc == -EINVAL)) /* nothing written: a plain write instead */
            rc = HD_DIO_UNKNOWN;
    }
    if (chunk.len && rc == HD_DIO_UNKNOWN) {
        rc = hd_io_pwrite_all(f->fd, chunk.p, chunk.len, (off_t)at);
        if (rc == 0)
            hd_dio_note(&j->dio, f, chunk.p, chunk.len, (off_t)at);
    }
    if (chunk.len && rc == 0 && writeback) /* the loop thread's writes, never direct */
        (void)hd_io.writeback(f->fd, (off_t)at, (off_t)chunk.len, false);
    if (chunk.len)
        jfile_unref(f);
    else
        rc = 0;
    chunk.len = 0;
    j->wchunk = chunk;
    pthread_mutex_unlock(&j->wmu);
    if (rc < 0)
        set_err(j, rc, "write");
    return rc;
}

/* Stages one record (loop thread). Rotation and a full stage write it out on this thread. */
static int write_record(log_journal_t *j, uint8_t kind, const char *name, size_t name_len,
                        int64_t base, const uint8_t *batch, size_t len)
{
    int rc = atomic_load(&j->err);
    if (rc)
        return rc;
    size_t rlen = log__journal_record_len(name_len, len);
    if (j->pos + (int64_t)rlen + LOG_JOURNAL_REC_HDR > j->cur->size) {
        /* Rotate: close this file with an end-of-file record, continue in the next. */
        pthread_mutex_lock(&j->mu);
        log__journal_record_build(&j->stage, j->cur->seq, LOG_JOURNAL_KIND_EOF, NULL, 0, 0, NULL,
                                  0);
        pthread_mutex_unlock(&j->mu);
        rc = stage_write(j, false, false);
        int64_t size = j->cfg.file_bytes;
        if (size < (int64_t)rlen + LOG_JOURNAL_REC_HDR)
            size = (int64_t)rlen + LOG_JOURNAL_REC_HDR;
        if (rc == 0)
            rc = file_create(j, j->cur->seq + 1, size);
        if (rc < 0) {
            set_err(j, rc, "rotation");
            return rc;
        }
    }
    pthread_mutex_lock(&j->mu);
    log__journal_record_build(&j->stage, j->cur->seq, kind, name, name_len, base, batch, len);
    j->written_total += (int64_t)rlen;
    bool full = j->stage.len >= LOG_JOURNAL_STAGE_MAX;
    pthread_mutex_unlock(&j->mu);
    j->pos += (int64_t)rlen;
    /* Large batches are written ahead of the round, with their writeback started, so the
     * fdatasync mostly waits for writes under way; small ones wait for the flusher. */
    if (full && (rc = stage_write(j, true, false)) < 0)
        return rc;
    return 0;
}

int log__journal_append(log_journal_t *j, const char *name, size_t name_len, int64_t base,
                        const uint8_t *batch, size_t len)
{
    return write_record(j, LOG_JOURNAL_KIND_BATCH, name, name_len, base, batch, len);
}

int log__journal_forget(log_journal_t *j, const char *name, size_t name_len)
{
    return write_record(j, LOG_JOURNAL_KIND_FORGET, name, name_len, 0, NULL, 0);
}

void log__journal_commit(log_journal_t *j)
{
    /* The record waits in the stage for the flusher's round (see "Writes" above). */
    pthread_mutex_lock(&j->mu);
    j->end_seq = j->cur->seq;
    j->end_pos = j->pos;
    pthread_mutex_unlock(&j->mu);
}

int log_journal_error(const log_journal_t *j) { return atomic_load(&((log_journal_t *)j)->err); }

/* ---- syncs (flusher thread) ---- */

/* A syncfs that started after `written` segment bytes had been written succeeded (the flusher's
 * and the checkpoint's may end in either order). */
static void seg_covered_to(log_journal_t *j, int64_t written)
{
    int64_t c = atomic_load(&j->seg_covered);
    while (c < written && !atomic_compare_exchange_weak(&j->seg_covered, &c, written))
        ;
}

/* Takes the journal files written since the last sync (with a ref each) and whether a file was
 * created, clearing both: what a sync must now cover. *v is `local` or allocated. */
static size_t take_dirty(log_journal_t *j, jfile_t **local, size_t nlocal, jfile_t ***v,
                         bool *dir_dirty)
{
    pthread_mutex_lock(&j->mu);
    size_t n = 0;
    for (size_t i = 0; i < j->nfiles; i++)
        n += j->files[i]->dirty;
    *v = n > nlocal ? hd_malloc(n * sizeof **v) : local;
    n = 0;
    for (size_t i = 0; i < j->nfiles; i++)
        if (j->files[i]->dirty) {
            j->files[i]->dirty = false;
            atomic_fetch_add(&j->files[i]->refs, 1);
            (*v)[n++] = j->files[i];
        }
    *dir_dirty = j->dir_dirty;
    j->dir_dirty = false;
    pthread_mutex_unlock(&j->mu);
    return n;
}

/* fdatasyncs the taken files, oldest first (a record in a newer file is durable only after every
 * older one is), then the directory if a file was created; drops the refs. */
static int sync_taken(log_journal_t *j, jfile_t **v, size_t n, bool dir_dirty, int rc)
{
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = log__journal_fdatasync_timed(j, v[i]->fd);
    if (rc == 0 && dir_dirty)
        rc = hd_io_fsync_dir_via(j->dir, n ? v[n - 1]->fd : -1);
    for (size_t i = 0; i < n; i++)
        jfile_unref(v[i]);
    if (rc < 0)
        /* A failed fdatasync may have dropped the dirty pages: a later one proves nothing. */
        set_err(j, rc, "fdatasync");
    return rc;
}

/* log__journal_sync(), and with `fs` log__journal_syncfs(). */
static int sync_round(log_journal_t *j, bool fs, bool *covered)
{
    *covered = false;
    int rc = atomic_load(&j->err);
    if (rc)
        return rc;
    /* Every record of the round is staged or written: write the rest, then sync every file
     * written to (stage_write marked them dirty). */
    if ((rc = stage_write(j, false, true)) < 0)
        return rc;
    jfile_t *local[4], **v;
    bool dir_dirty;
    size_t n = take_dirty(j, local, HD_ARRAY_LEN(local), &v, &dir_dirty);
    int64_t written = atomic_load(&j->seg_written), t0 = hd_mono_ns();
    if (fs && hd_io.syncfs(j->dir_fd) == 0) {
        /* It wrote and flushed every file of the filesystem, the directory's entries included;
         * with the journal's and a few segments' bytes, it costs what an fdatasync does (the
         * cost model's estimate follows it too). */
        log__journal_sync_observe(j, hd_mono_ns() - t0);
        seg_covered_to(j, written);
        *covered = true;
        dir_dirty = false;
        for (size_t i = 0; i < n; i++)
            jfile_unref(v[i]);
        n = 0;
    }
    /* Without a syncfs, or after a failed one (it may have been another file's error: each
     * journal file's own fdatasync still reports a failed writeback of its pages, since the
     * error is recorded per file too), the files' fdatasyncs decide. */
    rc = sync_taken(j, v, n, dir_dirty, 0);
    if (v != local)
        free(v);
    return rc;
}

int log__journal_sync(log_journal_t *j)
{
    bool covered;
    return sync_round(j, false, &covered);
}

int log__journal_syncfs(log_journal_t *j, bool *covered) { return sync_round(j, true, covered); }

dev_t log__journal_dev(const log_journal_t *j) { return j->dev; }

void log__journal_seg_written(log_journal_t *j, int64_t bytes)
{
    atomic_fetch_add(&j->seg_written, bytes);
}

int64_t log__journal_seg_unsynced(const log_journal_t *j)
{
    log_journal_t *m = (log_journal_t *)j;
    return atomic_load(&m->seg_written) - atomic_load(&m->seg_covered);
}

/* ---- partitions ---- */

int log__journal_attach(log_journal_t *j, log_partition_t *p)
{
    size_t bl = strlen(j->base);
    while (bl > 1 && j->base[bl - 1] == '/')
        bl--;
    if (strncmp(p->dir, j->base, bl) != 0 || p->dir[bl] != '/')
        return HD_EINVAL;
    const char *name = p->dir + bl;
    while (*name == '/')
        name++;
    size_t nlen = strlen(name);
    while (nlen && name[nlen - 1] == '/')
        nlen--;
    if (nlen == 0 || nlen > LOG_JOURNAL_NAME_MAX)
        return HD_EINVAL;
    p->jname = hd_strndup(name, nlen);
    p->jname_len = nlen;
    p->journal = j;
    p->pender = j->pender;
    pthread_mutex_lock(&j->mu);
    if (j->nparts == j->parts_cap) {
        j->parts_cap = j->parts_cap ? j->parts_cap * 2 : 64;
        j->parts = hd_realloc(j->parts, j->parts_cap * sizeof *j->parts);
    }
    j->parts[j->nparts++] = p;
    pthread_mutex_unlock(&j->mu);
    return 0;
}

void log__journal_detach(log_journal_t *j, log_partition_t *p, bool clean)
{
    pthread_mutex_lock(&j->mu);
    for (size_t i = 0; i < j->nparts; i++)
        if (j->parts[i] == p) {
            j->parts[i] = j->parts[--j->nparts];
            break;
        }
    if (!clean)
        j->unclean_detach = true;
    pthread_mutex_unlock(&j->mu);
}

/* ---- the adaptive write path (partition.c, "Direct writes") ---- */

int64_t log__journal_direct_min(const log_journal_t *j) { return log__jcost_direct_min(&j->cost); }

void log__journal_sync_observe(log_journal_t *j, int64_t ns) { log__jcost_sync(&j->cost, ns); }

int log__journal_fdatasync_timed(log_journal_t *j, int fd)
{
    int64_t t0 = hd_mono_ns();
    int rc = hd_io.fdatasync(fd);
    if (rc == 0 && j)
        log__journal_sync_observe(j, hd_mono_ns() - t0);
    return rc;
}

int64_t log__journal_sync_estimate(const log_journal_t *j)
{
    return log__jcost_sync_estimate(&j->cost);
}

void log__journal_note_direct(log_journal_t *j, int64_t bytes)
{
    atomic_fetch_add_explicit(&j->direct_total, bytes, memory_order_relaxed);
}

void log__journal_round_done(log_journal_t *j, size_t parts, size_t direct,
                             const log__round_hist_t *h)
{
    if (j->cfg.direct_bytes == LOG_DIRECT_ADAPTIVE && parts)
        log__jcost_round(&j->cost, h);
    atomic_fetch_add_explicit(&j->rounds, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&j->round_syncs_direct, (int64_t)direct, memory_order_relaxed);
    atomic_fetch_add_explicit(&j->round_syncs_journal, (int64_t)(parts - direct),
                              memory_order_relaxed);
}

/* ---- pending segment writes (pending.c) ---- */

int64_t log__journal_pend_total(const log_journal_t *j) { return log__pender_total(j->pender); }

void log__journal_pend_flush_all(log_journal_t *j)
{
    pthread_mutex_lock(&j->mu);
    size_t n = j->nparts;
    log_partition_t **v = hd_malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v[i] = j->parts[i];
        log_partition_ref(v[i]);
    }
    pthread_mutex_unlock(&j->mu);
    /* Errors are logged and the bytes stay pending: each partition's next append, read or
     * checkpoint retries them, and an append refuses to grow its buffer past LOG_PEND_MAX. */
    for (size_t i = 0; i < n; i++) {
        (void)log__partition_pend_flush(v[i], true);
        log_partition_unref(v[i]);
    }
    free(v);
}

/* ---- checkpoints ---- */

int log_journal_checkpoint(log_journal_t *j)
{
    pthread_mutex_lock(&j->ckpt_mu);
    pthread_mutex_lock(&j->mu);
    uint64_t seq = j->end_seq;
    int64_t pos = j->end_pos, total = j->written_total + atomic_load(&j->direct_total);
    size_t n = 0;
    log_partition_t **v = hd_malloc((j->nparts ? j->nparts : 1) * sizeof *v);
    for (size_t i = 0; i < j->nparts; i++)
        if (atomic_exchange(&j->parts[i]->ckpt_dirty, false)) {
            log_partition_ref(j->parts[i]);
            v[n++] = j->parts[i];
        }
    pthread_mutex_unlock(&j->mu);
    int rc = 0;
    if (seq == j->ckpt_seq && pos == j->ckpt_pos && n == 0)
        goto done;
    int64_t t0 = hd_mono_ns();
    log__marker_t *snap = hd_malloc((n ? n : 1) * sizeof *snap);
    /* Each snapshot first writes the partition's pending segment bytes, so the syncfs below
     * covers every batch before J (see pending.c). */
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = log__partition_marker_snapshot(v[i], &snap[i]);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = log__partition_writeback(v[i], &snap[i]); /* a step at a time: see partition.c */
    int64_t written = atomic_load(&j->seg_written);
    if (rc == 0)
        rc = hd_io.syncfs(j->base_fd);
    if (rc == 0)
        seg_covered_to(j, written);
    for (size_t i = 0; i < n && rc == 0; i++) {
        log__partition_checkpointed(v[i], &snap[i]);
        log__partition_marker_put(v[i], &snap[i]); /* best effort: only costs a longer scan */
    }
    if (rc == 0 && n)
        rc = hd_io.syncfs(j->base_fd);
    if (rc == 0)
        rc = ckpt_write(j, j->ckpt_gen + 1, seq, pos);
    free(snap);
    if (rc < 0) {
        say_error("journal %s: checkpoint failed, the journal keeps growing: %s", j->dir,
                  hd_strerror(rc));
        for (size_t i = 0; i < n; i++)
            atomic_store(&v[i]->ckpt_dirty, true);
        atomic_fetch_add_explicit(&j->ckpt_fails, 1, memory_order_relaxed);
        atomic_store(&j->ckpt_failing, true);
        goto done;
    }
    atomic_store(&j->ckpt_failing, false);
    hd_hist_observe(&j->ckpt_hist, hd_mono_ns() - t0);
    atomic_fetch_add_explicit(&j->ckpts, 1, memory_order_relaxed);
    j->ckpt_gen++;
    j->ckpt_seq = seq;
    j->ckpt_pos = pos;
    j->ckpt_total = total;
    say_debug("journal %s: checkpoint at %llu:%lld, %zu partitions, %.1f ms", j->dir,
              (unsigned long long)seq, (long long)pos, n, (double)(hd_mono_ns() - t0) / 1e6);
    drop_files_before(j, seq);
done:
    j->ckpt_ms = hd_mono_ms();
    for (size_t i = 0; i < n; i++)
        log_partition_unref(v[i]);
    free(v);
    pthread_mutex_unlock(&j->ckpt_mu);
    return rc;
}

static void *ckpt_main(void *arg)
{
    log_journal_t *j = arg;
    hd_thread_name("hd-checkpoint");
    pthread_mutex_lock(&j->mu);
    while (!j->stop) {
        struct timespec ts;
        hd_mono_deadline(&ts, 50);
        pthread_cond_timedwait(&j->cv, &j->mu, &ts);
        if (j->stop)
            break;
        int64_t total = j->written_total + atomic_load(&j->direct_total);
        pthread_mutex_unlock(&j->mu);
        /* ckpt_total and ckpt_ms are only written by checkpoints, which this thread runs, except
         * a test's log_journal_checkpoint(): reading them without ckpt_mu may be stale, which
         * only moves one checkpoint. */
        pthread_mutex_lock(&j->ckpt_mu);
        bool due =
            total - j->ckpt_total >= j->cfg.checkpoint_interval_bytes ||
            (total != j->ckpt_total && hd_mono_ms() - j->ckpt_ms >= j->cfg.checkpoint_interval_ms);
        pthread_mutex_unlock(&j->ckpt_mu);
        if (due)
            log_journal_checkpoint(j);
        spare_make(j);
        pthread_mutex_lock(&j->mu);
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* ---- recovery ---- */

typedef struct replay_part {
    char *name;
    log_partition_t *p; /* NULL: the partition's directory is gone (deleted) */
} replay_part_t;

typedef struct replay {
    log_journal_t *j;
    hd_strmap_t map;
    replay_part_t **v;
    size_t n, cap;
    int64_t applied, skipped, gaps, forgotten;
    /* Records are numbered in journal order; pass 1 notes each name's last forget record in
     * `forgets` and its last batch record in `lasts` (name -> int64_t *, the name stored after
     * it), pass 2 skips the records of a name numbered before its forget. Between the passes,
     * the partitions pass 2 appends to are opened together (replay_open_all). */
    int pass;
    int64_t ordinal;
    hd_strmap_t forgets, lasts;
    uint8_t *copy;
    size_t copy_cap;
} replay_t;

/* Adds the entry for partition `key`; returns its directory to open, or NULL if it is gone. */
static char *replay_part_add(replay_t *r, const char *key, replay_part_t **out)
{
    replay_part_t *rp = hd_calloc(1, sizeof *rp);
    rp->name = hd_strdup(key);
    hd_strmap_put(&r->map, rp->name, rp);
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->v = hd_realloc(r->v, r->cap * sizeof *r->v);
    }
    r->v[r->n++] = rp;
    *out = rp;
    /* Disk input: a name must stay under base, and never be the journal's own directory (the
     * record parser already refused a NUL in it). */
    bool safe = strstr(key, "..") == NULL && key[0] != '/' && strncmp(key, "journal", 7) != 0;
    char *dir = join(r->j->base, key);
    struct stat st;
    if (safe && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return dir;
    say_info("journal: partition %s: gone, its journal records are skipped", dir);
    free(dir);
    return NULL;
}

/* Opens every partition that pass 2 will append to, REPLAY_OPEN_THREADS at a time: opening one
 * reads its segments' bytes after its last marker from the disk, and one after another the
 * opens were most of a recovery at 1,000 partitions (1.1-1.25 of 1.7-1.8 s here). */
#define REPLAY_OPEN_THREADS 8
static void replay_open_all(replay_t *r)
{
    char **dirs = hd_malloc((r->lasts.n ? r->lasts.n : 1) * sizeof *dirs);
    replay_part_t **rps = hd_malloc((r->lasts.n ? r->lasts.n : 1) * sizeof *rps);
    size_t n = 0;
    for (size_t i = 0; i < r->lasts.cap; i++) {
        const char *key = r->lasts.slots[i].key;
        const int64_t *last = r->lasts.slots[i].val;
        if (!key || key != (const char *)(last + 1) || hd_strmap_get(&r->map, key))
            continue;
        const int64_t *forget = hd_strmap_get(&r->forgets, key);
        if (forget && *last < *forget)
            continue; /* every record of it comes before its forget record */
        if ((dirs[n] = replay_part_add(r, key, &rps[n])))
            n++;
    }
    log_partition_t **ps = hd_malloc((n ? n : 1) * sizeof *ps);
    int *rcs = hd_malloc((n ? n : 1) * sizeof *rcs);
    log_config_t cfg;
    log_config_defaults(&cfg);
    log__partitions_open_many(dirs, n, &cfg, REPLAY_OPEN_THREADS, ps, rcs);
    for (size_t i = 0; i < n; i++) {
        if (rcs[i] < 0) {
            say_error("journal: partition %s: cannot open for replay: %s", dirs[i],
                      hd_strerror(rcs[i]));
        } else {
            rps[i]->p = ps[i];
            ps[i]->replay = true;
        }
        free(dirs[i]);
    }
    free(dirs);
    free(rps);
    free(ps);
    free(rcs);
}

/* Notes ordinal under key in m (see replay_t). */
static void note_ordinal(hd_strmap_t *m, const char *key, size_t len, int64_t ordinal)
{
    int64_t *v = hd_strmap_get(m, key);
    if (!v) {
        v = hd_malloc(sizeof *v + len + 1);
        memcpy(v + 1, key, len + 1);
        hd_strmap_put(m, (const char *)(v + 1), v);
    }
    *v = ordinal;
}

static void free_ordinals(hd_strmap_t *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].val &&
            m->slots[i].key == (const char *)((int64_t *)m->slots[i].val + 1))
            free(m->slots[i].val);
    hd_strmap_deinit(m);
}

static int replay_record(void *ctx, const log_journal_rec_t *rec)
{
    replay_t *r = ctx;
    int64_t ordinal = r->ordinal++;
    char key[LOG_JOURNAL_NAME_MAX + 1];
    memcpy(key, rec->name, rec->name_len);
    key[rec->name_len] = 0;
    int64_t *forget = hd_strmap_get(&r->forgets, key);
    if (r->pass == 1) {
        note_ordinal(rec->kind == LOG_JOURNAL_KIND_FORGET ? &r->forgets : &r->lasts, key,
                     rec->name_len, ordinal);
        return 0;
    }
    if (rec->kind != LOG_JOURNAL_KIND_BATCH)
        return 0;
    if (forget && ordinal < *forget) {
        r->forgotten++;
        return 0;
    }
    replay_part_t *rp = hd_strmap_get(&r->map, key); /* opened by replay_open_all */
    if (!rp || !rp->p)
        return 0;
    int64_t leo = log_partition_end_offset(rp->p);
    if (rec->base_offset < leo) {
        r->skipped++;
        return 0;
    }
    if (rec->base_offset > leo) {
        r->gaps++;
        say_error("journal: partition %s: record at offset %lld but the log ends at %lld, "
                  "skipping it",
                  rp->name, (long long)rec->base_offset, (long long)leo);
        return 0;
    }
    if (!log__batch_crc_ok(rec->batch, rec->batch_len)) {
        say_error("journal: partition %s: record at offset %lld fails its batch CRC, skipping it",
                  rp->name, (long long)rec->base_offset);
        r->gaps++;
        return 0;
    }
    if (r->copy_cap < rec->batch_len) {
        r->copy_cap = rec->batch_len;
        r->copy = hd_realloc(r->copy, r->copy_cap);
    }
    memcpy(r->copy, rec->batch, rec->batch_len);
    int64_t base;
    int rc = log_partition_append(rp->p, r->copy, rec->batch_len, &base);
    if (rc == HD_EMALFORMED || rc == HD_ETOOBIG) {
        /* Only a batch the log accepted is ever journaled: this record is damaged. */
        say_error("journal: partition %s: record at offset %lld is not a batch the log takes "
                  "(%s), skipping it",
                  rp->name, (long long)rec->base_offset, hd_strerror(rc));
        r->gaps++;
        return 0;
    }
    if (rc < 0) {
        say_error("journal: partition %s: replay append failed: %s", rp->name, hd_strerror(rc));
        return rc;
    }
    r->applied++;
    return 0;
}

/* Replays file seq from pos, reading LOG_JOURNAL_READ_CHUNK at a time (more for a larger
 * record), so that the unused, preallocated rest of the file is not read. Sets *eof when the
 * file ends with an end-of-file record, and *end to where its valid records end. */
static int replay_file(log_journal_t *j, replay_t *r, uint64_t seq, int64_t pos, bool *eof,
                       int64_t *end)
{
    char *path = file_path(j, seq);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0)
        return -errno;
    struct stat st;
    int rc = 0;
    size_t cap = LOG_JOURNAL_READ_CHUNK;
    uint8_t *buf = hd_malloc(cap);
    *eof = false;
    *end = pos;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        goto out;
    }
    size_t want = cap;
    while (pos < st.st_size) {
        if ((int64_t)want > st.st_size - pos)
            want = (size_t)(st.st_size - pos);
        if (want > cap) {
            cap = want;
            buf = hd_realloc(buf, cap);
        }
        ssize_t got = hd_io_pread_full(fd, buf, want, (off_t)pos);
        if (got < 0) {
            rc = (int)got;
            goto out;
        }
        int why;
        ssize_t used = log__journal_scan(buf, (size_t)got, seq, &why, replay_record, r);
        if (used < 0) {
            rc = (int)used;
            goto out;
        }
        bool at_file_end = pos + got >= st.st_size || (size_t)got < want;
        pos += used;
        *end = pos;
        if (why == 0)
            *eof = true;
        /* A record cut by the end of the file is a torn tail like any other. */
        if (why != HD_EINCOMPLETE || at_file_end)
            break;
        /* A record continues past the chunk: read again from its start, whole. */
        want = LOG_JOURNAL_READ_CHUNK;
        if (used == 0 && (size_t)got >= LOG_JOURNAL_REC_HDR) {
            size_t nlen = (size_t)buf[18] << 8 | buf[19];
            want = log__journal_record_len(nlen, log__get_u32(buf + 20));
        }
    }
out:
    free(buf);
    close(fd);
    return rc;
}

static int recover(log_journal_t *j)
{
    uint64_t *seqs = NULL;
    size_t nseq = 0;
    replay_t r = {.j = j};
    hd_strmap_init(&r.map);
    hd_strmap_init(&r.forgets);
    hd_strmap_init(&r.lasts);
    int64_t t0 = hd_mono_ns();
    int rc = list_files(j->dir, &seqs, &nseq);
    if (rc < 0)
        goto out;
    uint64_t gen = 0, seq = 0;
    int64_t pos = 0;
    bool have_ckpt = ckpt_read(j->dir, &gen, &seq, &pos);
    if (!have_ckpt) {
        seq = nseq ? seqs[0] : 0;
        pos = 0;
    }
    j->ckpt_gen = gen;
    uint64_t next = seq;
    int64_t end = pos;
    size_t k = 0;
    while (k < nseq && seqs[k] < seq)
        k++;
    size_t k0 = k;
    for (r.pass = 1; r.pass <= 2; r.pass++) {
        if (r.pass == 2)
            replay_open_all(&r);
        r.ordinal = 0;
        next = seq;
        end = pos;
        for (k = k0; k < nseq && seqs[k] == next; k++) {
            bool eof = false;
            if ((rc = replay_file(j, &r, next, next == seq ? pos : 0, &eof, &end)) < 0)
                goto out;
            if (!eof)
                break;
            next++;
            end = 0;
        }
    }
    if (r.applied || r.skipped || r.gaps || r.forgotten)
        say_info("journal %s: replayed from %llu:%lld to %llu:%lld: %lld batches applied, %lld "
                 "already in their segments, %lld gaps, %lld of deleted partitions, %zu "
                 "partitions, %.1f ms",
                 j->dir, (unsigned long long)seq, (long long)pos, (unsigned long long)next,
                 (long long)end, (long long)r.applied, (long long)r.skipped, (long long)r.gaps,
                 (long long)r.forgotten, r.n, (double)(hd_mono_ns() - t0) / 1e6);
    /* Make what was replayed durable (one syncfs, markers), then start a fresh file after
     * everything read: a torn tail is never written over in place. */
    log_partition_t **ps = hd_malloc((r.n ? r.n : 1) * sizeof *ps);
    size_t np = 0;
    for (size_t i = 0; i < r.n; i++)
        if (r.v[i]->p)
            ps[np++] = r.v[i]->p;
    rc = log_partition_close_many(ps, np);
    free(ps);
    for (size_t i = 0; i < r.n; i++)
        r.v[i]->p = NULL;
    if (rc < 0) {
        say_error("journal %s: replayed partitions could not be synced: %s", j->dir,
                  hd_strerror(rc));
        goto out;
    }
    uint64_t fresh = nseq ? seqs[nseq - 1] + 1 : seq;
    if (fresh < next + 1 && nseq)
        fresh = next + 1;
    if ((rc = file_create(j, fresh, j->cfg.file_bytes)) < 0)
        goto out;
    if ((rc = hd_io_fsync_dir(j->dir)) < 0)
        goto out;
    pthread_mutex_lock(&j->mu);
    j->dir_dirty = false;
    j->end_seq = fresh;
    j->end_pos = 0;
    pthread_mutex_unlock(&j->mu);
    if ((rc = ckpt_write(j, j->ckpt_gen + 1, fresh, 0)) < 0)
        goto out;
    j->ckpt_gen++;
    j->ckpt_seq = fresh;
    j->ckpt_pos = 0;
    for (size_t i = 0; i < nseq; i++) {
        char *path = file_path(j, seqs[i]);
        struct stat st;
        spare_put(j, path, stat(path, &st) == 0 ? st.st_size : -1);
        free(path);
    }
    j->replay_ns = hd_mono_ns() - t0;
    j->replay_batches = r.applied;
out:
    for (size_t i = 0; i < r.n; i++) {
        log_partition_close_dirty(r.v[i]->p);
        free(r.v[i]->name);
        free(r.v[i]);
    }
    free(r.v);
    free(r.copy);
    hd_strmap_deinit(&r.map);
    free_ordinals(&r.forgets);
    free_ordinals(&r.lasts);
    free(seqs);
    return rc;
}

void log_journal_stats(const log_journal_t *j, log_journal_stats_t *out)
{
    log_journal_t *m = (log_journal_t *)j;
    pthread_mutex_lock(&m->mu);
    out->bytes_journaled = m->written_total;
    pthread_mutex_unlock(&m->mu);
    out->rounds = atomic_load_explicit(&m->rounds, memory_order_relaxed);
    out->bytes_direct = atomic_load_explicit(&m->direct_total, memory_order_relaxed);
    out->checkpoints = atomic_load_explicit(&m->ckpts, memory_order_relaxed);
    out->checkpoint_failures = atomic_load_explicit(&m->ckpt_fails, memory_order_relaxed);
    out->checkpoint_hist = &m->ckpt_hist;
    out->replay_ns = m->replay_ns;
    out->replayed_batches = m->replay_batches;
    out->sync_estimate_ns = log__journal_sync_estimate(j);
    out->error = log_journal_error(j);
    out->checkpoint_failing = atomic_load(&m->ckpt_failing);
}

/* ---- lifecycle ---- */

static void journal_free(log_journal_t *j)
{
    if (atomic_load(&j->rounds))
        say_info("journal %s: %lld rounds; partitions synced by their segments %lld times, by the "
                 "journal %lld times; %lld bytes written direct, %lld journaled; the cost model "
                 "sent all partitions direct %lld times, some %lld, none %lld (an fdatasync "
                 "taken as %.0f us)",
                 j->dir, (long long)atomic_load(&j->rounds),
                 (long long)atomic_load(&j->round_syncs_direct),
                 (long long)atomic_load(&j->round_syncs_journal),
                 (long long)atomic_load(&j->direct_total), (long long)j->written_total,
                 (long long)atomic_load(&j->cost.picks_all),
                 (long long)atomic_load(&j->cost.picks_split),
                 (long long)atomic_load(&j->cost.picks_none),
                 (double)log__journal_sync_estimate(j) / 1e3);
    for (size_t i = 0; i < j->nfiles; i++)
        jfile_unref(j->files[i]);
    free(j->files);
    free(j->parts);
    hd_buf_deinit(&j->stage);
    hd_buf_deinit(&j->wchunk);
    hd_dio_deinit(&j->dio);
    log__pender_stop(j->pender);
    if (j->base_fd >= 0)
        close(j->base_fd);
    if (j->dir_fd >= 0)
        close(j->dir_fd);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    pthread_mutex_destroy(&j->wmu);
    pthread_mutex_destroy(&j->ckpt_mu);
    free(j->base);
    free(j->dir);
    free(j);
}

int log_journal_open(const char *base, const log_journal_config_t *cfg, log_journal_t **out)
{
    if (cfg->file_bytes < 4096 || cfg->checkpoint_interval_ms < 0 ||
        cfg->checkpoint_interval_bytes < 0 || cfg->direct_bytes < LOG_DIRECT_ADAPTIVE)
        return HD_EINVAL;
    log_journal_t *j = hd_calloc(1, sizeof *j);
    j->base = hd_strdup(base);
    j->dir = join(base, "journal");
    j->cfg = *cfg;
    j->base_fd = j->dir_fd = -1;
    atomic_init(&j->err, 0);
    atomic_init(&j->direct_total, 0);
    atomic_init(&j->seg_written, 0);
    atomic_init(&j->seg_covered, 0);
    /* Until the first round has been measured: the middle of the range the model picks from. */
    log__jcost_init(&j->cost, cfg->direct_bytes);
    atomic_init(&j->rounds, 0);
    atomic_init(&j->round_syncs_direct, 0);
    atomic_init(&j->round_syncs_journal, 0);
    hd_buf_init(&j->stage);
    hd_buf_init(&j->wchunk);
    hd_dio_init(&j->dio);
    pthread_mutex_init(&j->mu, NULL);
    pthread_mutex_init(&j->wmu, NULL);
    pthread_mutex_init(&j->ckpt_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = 0;
    if (mkdir(j->dir, 0755) < 0 && errno != EEXIST) {
        rc = -errno;
        goto fail;
    }
    j->base_fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    j->dir_fd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (j->base_fd < 0 || j->dir_fd < 0 || fstat(j->dir_fd, &st) < 0) {
        rc = -errno;
        goto fail;
    }
    j->dev = st.st_dev;
    spares_load(j);
    if ((rc = recover(j)) < 0)
        goto fail;
    j->ckpt_ms = hd_mono_ms();
    if ((rc = log__pender_start(j, &j->pender)) < 0)
        goto fail;
    if ((rc = -pthread_create(&j->thread, NULL, ckpt_main, j)) < 0)
        goto fail;
    j->thread_started = true;
    *out = j;
    return 0;
fail:
    say_error("journal %s: open failed: %s", j->dir, hd_strerror(rc));
    journal_free(j);
    return rc;
}

void log_journal_close(log_journal_t *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    j->stop = true;
    pthread_cond_signal(&j->cv);
    bool clean = !j->unclean_detach && j->nparts == 0 && !atomic_load(&j->err);
    pthread_mutex_unlock(&j->mu);
    if (j->thread_started)
        pthread_join(j->thread, NULL);
    /* Every partition was closed cleanly (synced, marked): nothing needs replaying. */
    if (clean)
        log_journal_checkpoint(j);
    journal_free(j);
}

void log_journal_close_dirty(log_journal_t *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    j->stop = true;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    if (j->thread_started)
        pthread_join(j->thread, NULL);
    journal_free(j);
}
