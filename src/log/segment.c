/* Segments: one .log file of RecordBatch frames plus its sparse offset and time indexes.
 * Creating files, recovery scans, index maintenance, lazy index loading and lookups.
 *
 * Files of a segment whose first offset is B (B printed as 20 decimal digits, zero-padded):
 *
 * B.log        RecordBatch v2 frames back to back, verbatim as appended (see batch.c). The first
 *              frame has baseOffset B; each next frame has baseOffset = previous baseOffset +
 *              lastOffsetDelta + 1. With preallocation the file may continue with zero bytes (or,
 *              after a crash, garbage) past the last valid frame; a batchLength of 0 ends the log.
 *
 * B.index      Sparse offset index, an array of 8-byte entries, all big-endian:
 *                byte 0  rel  u32  baseOffset of a frame minus B
 *                byte 4  pos  u32  byte position of that frame in B.log
 *              An entry is added for the first frame written after at least
 *              log.index.interval.bytes have been appended since the previous entry (the first
 *              frame of a segment has no entry: lookups fall back to position 0). rel and pos
 *              are strictly increasing.
 *
 * B.timeindex  Sparse time index, an array of 12-byte entries, all big-endian:
 *                byte 0  ts   i64  largest maxTimestamp of every frame up to this one
 *                byte 8  rel  u32  last offset of that frame (baseOffset + lastOffsetDelta) - B
 *              Written together with an offset-index entry when ts grew since the last entry, and
 *              once more when the segment stops being active (roll, clean close) so that the
 *              last entry holds the segment's largest timestamp. ts is strictly increasing.
 *
 * Index files are a cache: if one fails validation when loaded, it is rebuilt from B.log.
 *
 * Index writes. A segment created here (a new partition, a roll) has no index files until its
 * first index write: the files are created (or, made empty by log_partition_precreate on
 * CreateTopics' thread, opened and truncated) then. While the in-memory copy of the indexes is
 * loaded (always for a segment created or rebuilt in this run), new entries go to memory only and
 * are written to the files LOG_IDX_PENDING_MAX at a time, and before the segment stops being
 * active, is closed, or has its time index finished: with 1 KiB batches over 1,000 partitions,
 * two index writes every fourth batch were an eighth of the broker's time, and creating two
 * index files on a partition's first write half of its file creations. The files therefore lag
 * the log by up to LOG_IDX_PENDING_MAX entries; the clean-shutdown marker (partition.c) counts
 * only the entries written, so after a crash the entries not yet written are simply missing from
 * a sparse index (lookups start at an earlier entry and walk forward). */
#include "log/log_int.h"
#include "util/crc32c.h"
#include "util/err.h"
#include "util/fileio.h"
#include "util/mem.h"
#include "util/say.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IDX_ENTRY_LEN 8
#define TIDX_ENTRY_LEN 12
/* Index entries held in memory before one write adds them to the files (see "Index writes"). */
#define LOG_IDX_PENDING_MAX 64

log_segment_t *log__segment_new(const char *dir, int64_t base_offset)
{
    log_segment_t *s = hd_calloc(1, sizeof *s);
    atomic_init(&s->refs, 1);
    s->base_offset = base_offset;
    s->log_fd = s->idx_fd = s->tidx_fd = -1;
    size_t dl = strlen(dir);
    size_t cap = dl + 48;
    s->path = hd_malloc(cap);
    int n = snprintf(s->path, cap, "%s%s%020lld.", dir, (dl && dir[dl - 1] == '/') ? "" : "/",
                     (long long)base_offset);
    s->path_stem_len = (size_t)n;
    s->next_offset = base_offset;
    s->max_ts = -1;
    s->first_ts = INT64_MIN;
    s->created_ms = INT64_MIN;
    s->tidx_last_ts = INT64_MIN;
    s->idx_file_n = s->tidx_file_n = -1;
    return s;
}

void log__segment_ref(log_segment_t *s) { atomic_fetch_add(&s->refs, 1); }

void log__segment_unref(log_segment_t *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    if (s->log_fd >= 0)
        close(s->log_fd);
    log__segment_close_index(s);
    free(s->idx);
    free(s->tidx);
    free(s->path);
    free(s);
}

const char *log__segment_path(log_segment_t *s, const char *ext)
{
    strcpy(s->path + s->path_stem_len, ext);
    return s->path;
}

static void reset_index_state(log_segment_t *s)
{
    s->idx_n = s->tidx_n = 0;
    s->idx_loaded = true;
    s->idx_file_n = s->tidx_file_n = 0;
    s->tidx_last_ts = INT64_MIN;
    s->bytes_since_index = 0;
    s->size = 0;
    s->next_offset = s->base_offset;
    s->max_ts = -1;
    s->max_ts_known = true;
}

int log__segment_create(log_segment_t *s, int64_t prealloc)
{
    int rc;
    s->log_fd = open(log__segment_path(s, "log"), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (s->log_fd < 0)
        return -errno;
    if (prealloc > 0) {
        rc = hd_io.fallocate(s->log_fd, 0, (off_t)prealloc);
        if (rc < 0 && rc != -EOPNOTSUPP && rc != -EINVAL)
            goto fail;
        s->file_longer = rc == 0;
        s->alloc_end = rc == 0 ? prealloc : 0;
    }
    reset_index_state(s);
    s->idx_fresh =
        true; /* the index files are created (truncating stale ones) when first written */
    return 0;
fail:
    close(s->log_fd);
    s->log_fd = -1;
    log__segment_unlink(s);
    return rc;
}

int log__segment_open_log(log_segment_t *s, int64_t *file_size)
{
    struct stat st;
    s->log_fd = open(log__segment_path(s, "log"), O_RDWR | O_CLOEXEC);
    if (s->log_fd < 0)
        return -errno;
    if (fstat(s->log_fd, &st) < 0)
        return -errno;
    *file_size = st.st_size;
    return 0;
}

int log__segment_open_index(log_segment_t *s)
{
    int flags = O_RDWR | O_CREAT | O_CLOEXEC | (s->idx_fresh ? O_TRUNC : 0);
    if (s->idx_fd < 0) {
        s->idx_fd = open(log__segment_path(s, "index"), flags, 0644);
        if (s->idx_fd < 0)
            return -errno;
    }
    if (s->tidx_fd < 0) {
        s->tidx_fd = open(log__segment_path(s, "timeindex"), flags, 0644);
        if (s->tidx_fd < 0)
            return -errno;
    }
    s->idx_fresh = false;
    return 0;
}

void log__segment_close_index(log_segment_t *s)
{
    if (s->idx_fd >= 0)
        close(s->idx_fd);
    if (s->tidx_fd >= 0)
        close(s->tidx_fd);
    s->idx_fd = s->tidx_fd = -1;
}

void log__segment_unlink(log_segment_t *s)
{
    unlink(log__segment_path(s, "log"));
    unlink(log__segment_path(s, "index"));
    unlink(log__segment_path(s, "timeindex"));
}

static void idx_push(log_segment_t *s, uint32_t rel, uint32_t pos)
{
    if (s->idx_n == s->idx_cap) {
        s->idx_cap = s->idx_cap ? s->idx_cap * 2 : 64;
        s->idx = hd_realloc(s->idx, s->idx_cap * sizeof *s->idx);
    }
    s->idx[s->idx_n].rel = rel;
    s->idx[s->idx_n].pos = pos;
    s->idx_n++;
}

static void tidx_push(log_segment_t *s, int64_t ts, uint32_t rel)
{
    if (s->tidx_n == s->tidx_cap) {
        s->tidx_cap = s->tidx_cap ? s->tidx_cap * 2 : 64;
        s->tidx = hd_realloc(s->tidx, s->tidx_cap * sizeof *s->tidx);
    }
    s->tidx[s->tidx_n].ts = ts;
    s->tidx[s->tidx_n].rel = rel;
    s->tidx_n++;
}

int log__segment_index_prepare(log_segment_t *s, int32_t interval, const log_hdr_t *h, int64_t pos,
                               bool *idx_due, bool *tidx_due)
{
    *idx_due = *tidx_due = false;
    if (s->bytes_since_index < interval)
        return 0;
    int64_t ts = h->max_timestamp > s->max_ts ? h->max_timestamp : s->max_ts;
    *idx_due = true;
    *tidx_due = ts > s->tidx_last_ts;
    if (s->idx_loaded)
        return 0; /* kept in memory, written by log__segment_index_flush() */
    /* Not loaded (an active segment reopened from a clean-shutdown marker and not read since):
     * the entries go straight to the files. */
    uint8_t e[TIDX_ENTRY_LEN];
    uint32_t rel = (uint32_t)(h->base_offset - s->base_offset);
    log__put_u32(e, rel);
    log__put_u32(e + 4, (uint32_t)pos);
    int rc = log__segment_open_index(s);
    if (rc == 0)
        rc = hd_io_pwrite_all(s->idx_fd, e, IDX_ENTRY_LEN, (off_t)(s->idx_file_n * IDX_ENTRY_LEN));
    if (rc < 0)
        return rc;
    if (*tidx_due) {
        log__put_u64(e, (uint64_t)ts);
        log__put_u32(e + 8, rel + (uint32_t)h->last_offset_delta);
        rc = hd_io_pwrite_all(s->tidx_fd, e, TIDX_ENTRY_LEN,
                              (off_t)(s->tidx_file_n * TIDX_ENTRY_LEN));
        if (rc < 0) {
            /* The offset entry stays in the file but uncounted: the next one overwrites it. */
            *idx_due = *tidx_due = false;
            return rc;
        }
    }
    return 0;
}

void log__segment_index_commit(log_segment_t *s, const log_hdr_t *h, int64_t pos, bool idx_due,
                               bool tidx_due)
{
    uint32_t rel = (uint32_t)(h->base_offset - s->base_offset);
    int64_t ts = h->max_timestamp > s->max_ts ? h->max_timestamp : s->max_ts;
    if (idx_due) {
        if (s->idx_loaded)
            idx_push(s, rel, (uint32_t)pos);
        else
            s->idx_file_n++;
        s->bytes_since_index = 0;
        s->idx_dirty = true;
    }
    if (tidx_due) {
        if (s->idx_loaded)
            tidx_push(s, ts, rel + (uint32_t)h->last_offset_delta);
        else
            s->tidx_file_n++;
        s->tidx_last_ts = ts;
    }
    s->bytes_since_index += h->total_len;
    s->size = pos + h->total_len;
    s->next_offset = h->base_offset + h->last_offset_delta + 1;
    s->max_ts = ts;
    if (s->idx_loaded && ((int64_t)s->idx_n - s->idx_file_n >= LOG_IDX_PENDING_MAX ||
                          (int64_t)s->tidx_n - s->tidx_file_n >= LOG_IDX_PENDING_MAX)) {
        int rc = log__segment_index_flush(s);
        if (rc < 0) /* kept in memory; the next flush tries again */
            say_warn("segment %s: index write failed: %s", log__segment_path(s, "index"),
                     hd_strerror(rc));
    }
}

int log__segment_index_flush(log_segment_t *s)
{
    if (!s->idx_loaded ||
        (s->idx_file_n >= (int64_t)s->idx_n && s->tidx_file_n >= (int64_t)s->tidx_n))
        return 0;
    int rc = log__segment_open_index(s);
    if (rc < 0)
        return rc;
    uint8_t b[LOG_IDX_PENDING_MAX * TIDX_ENTRY_LEN];
    while (s->idx_file_n < (int64_t)s->idx_n) {
        size_t k = 0;
        for (int64_t i = s->idx_file_n; i < (int64_t)s->idx_n && k < LOG_IDX_PENDING_MAX;
             i++, k++) {
            log__put_u32(b + k * IDX_ENTRY_LEN, s->idx[i].rel);
            log__put_u32(b + k * IDX_ENTRY_LEN + 4, s->idx[i].pos);
        }
        rc = hd_io_pwrite_all(s->idx_fd, b, k * IDX_ENTRY_LEN,
                              (off_t)(s->idx_file_n * IDX_ENTRY_LEN));
        if (rc < 0)
            return rc;
        s->idx_file_n += (int64_t)k;
        s->idx_dirty = true;
    }
    while (s->tidx_file_n < (int64_t)s->tidx_n) {
        size_t k = 0;
        for (int64_t i = s->tidx_file_n; i < (int64_t)s->tidx_n && k < LOG_IDX_PENDING_MAX;
             i++, k++) {
            log__put_u64(b + k * TIDX_ENTRY_LEN, (uint64_t)s->tidx[i].ts);
            log__put_u32(b + k * TIDX_ENTRY_LEN + 8, s->tidx[i].rel);
        }
        rc = hd_io_pwrite_all(s->tidx_fd, b, k * TIDX_ENTRY_LEN,
                              (off_t)(s->tidx_file_n * TIDX_ENTRY_LEN));
        if (rc < 0)
            return rc;
        s->tidx_file_n += (int64_t)k;
        s->idx_dirty = true;
    }
    return 0;
}

int64_t log__segment_tidx_file_last_ts(const log_segment_t *s)
{
    if (s->idx_loaded && s->tidx_file_n < (int64_t)s->tidx_n)
        return s->tidx_file_n > 0 ? s->tidx[s->tidx_file_n - 1].ts : INT64_MIN;
    return s->tidx_last_ts;
}

int log__segment_tidx_finalize(log_segment_t *s)
{
    int rc = log__segment_index_flush(s);
    if (rc < 0)
        return rc;
    if (!s->max_ts_known || s->max_ts <= s->tidx_last_ts || s->next_offset == s->base_offset)
        return 0;
    if ((rc = log__segment_open_index(s)) < 0)
        return rc;
    uint8_t e[TIDX_ENTRY_LEN];
    uint32_t rel = (uint32_t)(s->next_offset - 1 - s->base_offset);
    log__put_u64(e, (uint64_t)s->max_ts);
    log__put_u32(e + 8, rel);
    rc = hd_io_pwrite_all(s->tidx_fd, e, TIDX_ENTRY_LEN, (off_t)(s->tidx_file_n * TIDX_ENTRY_LEN));
    if (rc < 0)
        return rc;
    s->tidx_file_n++;
    if (s->idx_loaded)
        tidx_push(s, s->max_ts, rel);
    s->tidx_last_ts = s->max_ts;
    s->idx_dirty = true;
    return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* Continues the CRC over the `len` bytes of the frame after its header, reading in chunks. */
static int crc_rest(const log_segment_t *s, int64_t pos, int64_t len, uint8_t *buf, uint32_t *crc)
{
    while (len > 0) {
        size_t n = len > LOG_SCRATCH_LEN ? LOG_SCRATCH_LEN : (size_t)len;
        ssize_t r = hd_io_pread_full(s->log_fd, buf, n, (off_t)pos);
        if (r < 0)
            return (int)r;
        if ((size_t)r < n)
            return HD_ECORRUPT;
        *crc = hd_crc32c(*crc, buf, n);
        pos += (int64_t)n;
        len -= (int64_t)n;
    }
    return 0;
}

int log__segment_recover(log_segment_t *s, int64_t pos, int64_t expect, int64_t file_size,
                         int32_t interval)
{
    uint8_t hdr[LOG_BATCH_HEADER_LEN];
    uint8_t *buf = hd_malloc(LOG_SCRATCH_LEN);
    int rc;
    if (pos == 0) {
        reset_index_state(s);
        if ((rc = hd_io.ftruncate(s->idx_fd, 0)) < 0 || (rc = hd_io.ftruncate(s->tidx_fd, 0)) < 0)
            goto out;
        s->idx_dirty = true;
    }
    for (;;) {
        int64_t left = file_size - pos;
        if (left == 0) {
            rc = 0;
            break;
        }
        size_t want = left < LOG_BATCH_HEADER_LEN ? (size_t)left : LOG_BATCH_HEADER_LEN;
        ssize_t n = hd_io_pread_full(s->log_fd, hdr, want, (off_t)pos);
        if (n < 0) {
            rc = (int)n;
            goto out;
        }
        if ((size_t)n < LOG_BATCH_HEADER_LEN) {
            rc = all_zero(hdr, (size_t)n) ? 2 : 1;
            break;
        }
        log_hdr_t h;
        if (log__hdr_parse(hdr, &h) < 0 || h.base_offset != expect || h.total_len > left ||
            pos + h.total_len > UINT32_MAX ||
            expect - s->base_offset + h.last_offset_delta > UINT32_MAX) {
            rc = all_zero(hdr, sizeof hdr) ? 2 : 1;
            break;
        }
        uint32_t crc = hd_crc32c(0, hdr + LOG_HDR_ATTRIBUTES, LOG_BATCH_HEADER_LEN - 21);
        rc = crc_rest(s, pos + LOG_BATCH_HEADER_LEN, h.total_len - LOG_BATCH_HEADER_LEN, buf, &crc);
        if (rc == HD_ECORRUPT || (rc == 0 && crc != log__get_u32(hdr + LOG_HDR_CRC))) {
            rc = 1;
            break;
        }
        if (rc < 0)
            goto out;
        bool iw, tw;
        if ((rc = log__segment_index_prepare(s, interval, &h, pos, &iw, &tw)) < 0)
            goto out;
        log__segment_index_commit(s, &h, pos, iw, tw);
        if (s->first_ts == INT64_MIN && pos == 0)
            s->first_ts = h.max_timestamp;
        pos += h.total_len;
        expect = s->next_offset;
    }
out:
    free(buf);
    return rc;
}

/* Reads `n` entries of `esz` bytes from fd into a fresh buffer; NULL on a short read. */
static uint8_t *read_entries(int fd, int64_t n, size_t esz)
{
    size_t len = (size_t)n * esz;
    uint8_t *b = hd_malloc(len);
    if (hd_io_pread_full(fd, b, len, 0) != (ssize_t)len) {
        free(b);
        return NULL;
    }
    return b;
}

static int64_t entry_count(int fd, int64_t known, size_t esz)
{
    if (known >= 0)
        return known;
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size % (off_t)esz)
        return -1;
    return st.st_size / (off_t)esz;
}

/* Loads both index files into memory; returns false if they are not consistent with the log. */
static bool load_and_validate(log_segment_t *s)
{
    int64_t ni = entry_count(s->idx_fd, s->idx_file_n, IDX_ENTRY_LEN);
    int64_t nt = entry_count(s->tidx_fd, s->tidx_file_n, TIDX_ENTRY_LEN);
    int64_t bound = s->size / LOG_BATCH_HEADER_LEN + 2; /* bounds both counts before allocating */
    if (ni < 0 || nt < 0 || ni > bound || nt > bound ||
        (s->size > 0 && nt == 0 && !s->max_ts_known))
        return false;
    uint8_t *bi = ni ? read_entries(s->idx_fd, ni, IDX_ENTRY_LEN) : NULL;
    uint8_t *bt = nt ? read_entries(s->tidx_fd, nt, TIDX_ENTRY_LEN) : NULL;
    bool ok = (!ni || bi) && (!nt || bt);
    int64_t span = s->next_offset - s->base_offset;
    s->idx_n = s->tidx_n = 0;
    for (int64_t i = 0; ok && i < ni; i++) {
        uint32_t rel = log__get_u32(bi + i * IDX_ENTRY_LEN);
        uint32_t pos = log__get_u32(bi + i * IDX_ENTRY_LEN + 4);
        if (rel >= span || pos >= s->size ||
            (s->idx_n && (rel <= s->idx[s->idx_n - 1].rel || pos <= s->idx[s->idx_n - 1].pos)))
            ok = false;
        else
            idx_push(s, rel, pos);
    }
    for (int64_t i = 0; ok && i < nt; i++) {
        int64_t ts = (int64_t)log__get_u64(bt + i * TIDX_ENTRY_LEN);
        uint32_t rel = log__get_u32(bt + i * TIDX_ENTRY_LEN + 8);
        if (rel >= span ||
            (s->tidx_n && (ts <= s->tidx[s->tidx_n - 1].ts || rel < s->tidx[s->tidx_n - 1].rel)))
            ok = false;
        else
            tidx_push(s, ts, rel);
    }
    free(bi);
    free(bt);
    if (!ok)
        return false;
    s->idx_file_n = ni;
    s->tidx_file_n = nt;
    s->tidx_last_ts = nt ? s->tidx[nt - 1].ts : INT64_MIN;
    if (!s->max_ts_known) {
        s->max_ts = nt ? s->tidx[nt - 1].ts : -1;
        s->max_ts_known = true;
    }
    s->idx_loaded = true;
    return true;
}

/* After a rebuild that failed part-way (an I/O error): the data is as trusted as before, so its
 * size and next offset are put back (the rebuild had reset them, and appends write at `size`);
 * the half-built index is dropped, to be rebuilt from scratch by the next load. */
static void forget_failed_rebuild(log_segment_t *s, int64_t size, int64_t next)
{
    s->size = size;
    s->next_offset = next;
    s->idx_n = s->tidx_n = 0;
    s->idx_loaded = false;
    s->max_ts_known = false;
    s->tidx_last_ts = INT64_MIN;
    s->bytes_since_index = 0;
    s->idx_file_n = s->tidx_file_n = 0;
    /* Best effort: entries past the counts are ignored while the counts are known. */
    (void)hd_io.ftruncate(s->idx_fd, 0);
    (void)hd_io.ftruncate(s->tidx_fd, 0);
}

int log__segment_index_load(log_segment_t *s, int32_t interval)
{
    if (s->idx_loaded)
        return 0;
    bool opened_here = s->idx_fd < 0;
    int rc = log__segment_open_index(s);
    if (rc < 0)
        goto out;
    if (load_and_validate(s))
        goto out;
    say_warn("segment %s: index invalid, rebuilding", log__segment_path(s, "log"));
    int64_t size = s->size, next = s->next_offset;
    rc = log__segment_recover(s, 0, s->base_offset, size, interval);
    if (rc < 0) {
        forget_failed_rebuild(s, size, next);
        goto out;
    }
    if (rc > 0) {
        say_error("segment %s: corrupt batch at %lld inside trusted data, reads stop there",
                  log__segment_path(s, "log"), (long long)s->size);
        rc = 0;
    }
    if (rc == 0 && opened_here)
        rc = log__segment_tidx_finalize(s);
    if (rc == 0 && s->size == size)
        s->next_offset = next;
out:
    if (opened_here)
        log__segment_close_index(s);
    return rc;
}

int log__segment_max_ts(log_segment_t *s, int32_t interval, int64_t *out)
{
    if (!s->max_ts_known) {
        /* Cheap path: the last time-index entry of an inactive segment holds its largest
         * timestamp; fall back to a full load (and rebuild) if it does not look right. */
        int fd = open(log__segment_path(s, "timeindex"), O_RDONLY | O_CLOEXEC);
        struct stat st;
        uint8_t e[TIDX_ENTRY_LEN];
        if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size >= TIDX_ENTRY_LEN &&
            st.st_size % TIDX_ENTRY_LEN == 0 &&
            hd_io_pread_full(fd, e, sizeof e, st.st_size - TIDX_ENTRY_LEN) == (ssize_t)sizeof e &&
            log__get_u32(e + 8) == (uint64_t)(s->next_offset - 1 - s->base_offset)) {
            s->max_ts = (int64_t)log__get_u64(e);
            s->max_ts_known = true;
        }
        if (fd >= 0)
            close(fd);
    }
    if (!s->max_ts_known) {
        int rc = log__segment_index_load(s, interval);
        if (rc < 0)
            return rc;
    }
    *out = s->max_ts;
    return 0;
}

int64_t log__segment_lookup(const log_segment_t *s, int64_t offset)
{
    int64_t rel = offset - s->base_offset;
    size_t lo = 0, hi = s->idx_n; /* find the last entry with entry.rel <= rel */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((int64_t)s->idx[mid].rel <= rel)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? s->idx[lo - 1].pos : 0;
}

int64_t log__segment_upper_bound(const log_segment_t *s, int64_t offset)
{
    int64_t rel = offset - s->base_offset;
    size_t lo = 0, hi = s->idx_n; /* find the first entry with entry.rel >= rel */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((int64_t)s->idx[mid].rel < rel)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->idx_n ? s->idx[lo].pos : s->size;
}

int64_t log__segment_time_lookup(const log_segment_t *s, int64_t ts)
{
    size_t lo = 0, hi = s->tidx_n; /* find the last entry with entry.ts < ts */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->tidx[mid].ts < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? s->base_offset + s->tidx[lo - 1].rel : s->base_offset;
}

int log__segment_read_hdr(const log_segment_t *s, int64_t pos, uint8_t hdr[LOG_BATCH_HEADER_LEN],
                          log_hdr_t *h)
{
    if (s->size - pos < LOG_BATCH_HEADER_LEN)
        return HD_ECORRUPT;
    ssize_t n = hd_io_pread_full(s->log_fd, hdr, LOG_BATCH_HEADER_LEN, (off_t)pos);
    if (n < 0)
        return (int)n;
    if (n < LOG_BATCH_HEADER_LEN || log__hdr_parse(hdr, h) < 0 || h->total_len > s->size - pos)
        return HD_ECORRUPT;
    return 0;
}
