/* Reading the partition log: fetch reads, timestamp lookups and header scans. Loop thread.
 * Every read starts from the sparse offset index (segment.c), or from where the last read of the
 * segment stopped when that is closer, and walks batch headers with pread; the batches
 * themselves are copied with one pread per segment. Whole-log header scans read in chunks. With a
 * journal, each read first writes the partition's pending bytes (pending.c). */
#include "log/log_int.h"
#include "util/err.h"
#include "util/fileio.h"
#include "util/mem.h"

#include <stdlib.h>

/* Writes the partition's pending bytes (pending.c) before a read, which may
 * reach them: every read goes to the files. */
static int pend_write(log_partition_t *p)
{
    return p->journal ? log__partition_pend_flush(p, false) : 0;
}

/* Index of the last segment whose base offset is <= offset (offset >= the start offset). */
static size_t find_segment(const log_partition_t *p, int64_t offset)
{
    size_t lo = 0, hi = p->nsegs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->segs[mid]->base_offset <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? lo - 1 : 0;
}

/* Finds the batch of s that contains offset. Returns 0 with *pos and *h set, 1 if the segment
 * holds no such batch, or an error. */
static int find_batch(log_partition_t *p, log_segment_t *s, int64_t offset, int64_t *pos,
                      uint8_t hdr[LOG_BATCH_HEADER_LEN], log_hdr_t *h)
{
    int rc = log__segment_index_load(s, p->cfg.index_interval_bytes);
    if (rc < 0)
        return rc;
    int64_t at = log__segment_lookup(s, offset);
    if (s->hint_offset <= offset && s->hint_pos > at && s->hint_pos < s->size)
        at = s->hint_pos;
    for (; at < s->size; at += h->total_len) {
        if ((rc = log__segment_read_hdr(s, at, hdr, h)) < 0)
            return rc;
        if (h->base_offset + h->last_offset_delta >= offset) {
            *pos = at;
            return 0;
        }
    }
    return 1;
}

ssize_t log_partition_read(log_partition_t *p, int64_t offset, int64_t max_offset, size_t max_bytes,
                           hd_buf_t *out)
{
    if (offset < log_partition_start_offset(p) || offset > p->leo)
        return HD_ERANGE;
    if (max_offset > p->leo)
        max_offset = p->leo;
    if (offset >= max_offset)
        return 0;
    int rc = pend_write(p);
    if (rc < 0)
        return rc;
    uint8_t hdr[LOG_BATCH_HEADER_LEN];
    log_hdr_t h;
    size_t copied = 0;
    for (size_t i = find_segment(p, offset); i < p->nsegs; i++) {
        log_segment_t *s = p->segs[i];
        if (s->base_offset >= max_offset)
            break;
        int64_t pos = 0;
        if (copied == 0) {
            rc = find_batch(p, s, offset, &pos, hdr, &h);
            if (rc < 0)
                return rc;
            if (rc > 0)
                continue;
        } else if ((rc = log__segment_index_load(s, p->cfg.index_interval_bytes)) < 0) {
            return rc;
        }
        /* Everything below max_offset lies before the first indexed batch at or past it. */
        int64_t bound = log__segment_upper_bound(s, max_offset);
        if (bound <= pos)
            bound = s->size;
        size_t want = (size_t)(bound - pos);
        size_t room = copied < max_bytes ? max_bytes - copied : 0;
        if (want > room)
            want = copied == 0 && room < (size_t)h.total_len ? (size_t)h.total_len : room;
        if (want < LOG_BATCH_HEADER_LEN)
            break;
        uint8_t *dst = hd_buf_ensure(out, want);
        ssize_t n = hd_io_pread_full(s->log_fd, dst, want, (off_t)pos);
        if (n < 0)
            return n;
        size_t keep = 0;
        int64_t next = -1;
        while (keep + LOG_BATCH_HEADER_LEN <= (size_t)n) {
            log_hdr_t bh;
            if (log__hdr_parse(dst + keep, &bh) < 0 || bh.base_offset >= max_offset ||
                (size_t)bh.total_len > (size_t)n - keep)
                break;
            keep += (size_t)bh.total_len;
            next = bh.base_offset + bh.last_offset_delta + 1;
        }
        if (keep > 0) {
            s->hint_pos = pos + (int64_t)keep;
            s->hint_offset = next;
        }
        out->len += keep;
        copied += keep;
        if (keep < (size_t)n || pos + (int64_t)keep < s->size || keep == 0)
            break;
    }
    return (ssize_t)copied;
}

int log_partition_find_time(log_partition_t *p, int64_t ts, int64_t max_offset,
                            int64_t *base_offset, hd_buf_t *out)
{
    if (max_offset > p->leo)
        max_offset = p->leo;
    int prc = pend_write(p);
    if (prc < 0)
        return prc;
    uint8_t hdr[LOG_BATCH_HEADER_LEN];
    log_hdr_t h;
    for (size_t i = 0; i < p->nsegs; i++) {
        log_segment_t *s = p->segs[i];
        if (s->base_offset >= max_offset)
            break;
        int64_t mt;
        int rc = log__segment_max_ts(s, p->cfg.index_interval_bytes, &mt);
        if (rc < 0)
            return rc;
        if (mt < ts)
            continue;
        if ((rc = log__segment_index_load(s, p->cfg.index_interval_bytes)) < 0)
            return rc;
        int64_t pos = log__segment_lookup(s, log__segment_time_lookup(s, ts));
        for (; pos < s->size; pos += h.total_len) {
            if ((rc = log__segment_read_hdr(s, pos, hdr, &h)) < 0)
                return rc;
            if (h.base_offset >= max_offset)
                return HD_ENOTFOUND;
            if (h.max_timestamp < ts)
                continue;
            uint8_t *dst = hd_buf_ensure(out, (size_t)h.total_len);
            ssize_t n = hd_io_pread_full(s->log_fd, dst, (size_t)h.total_len, (off_t)pos);
            if (n < 0)
                return (int)n;
            if (n != h.total_len)
                return HD_ECORRUPT;
            out->len += (size_t)n;
            *base_offset = h.base_offset;
            return 0;
        }
    }
    return HD_ENOTFOUND;
}

int log_partition_max_time(log_partition_t *p, int64_t max_offset, int64_t *ts)
{
    if (max_offset > p->leo)
        max_offset = p->leo;
    int prc = pend_write(p);
    if (prc < 0)
        return prc;
    uint8_t hdr[LOG_BATCH_HEADER_LEN];
    log_hdr_t h;
    int64_t best = -1;
    bool any = false;
    for (size_t i = 0; i < p->nsegs; i++) {
        log_segment_t *s = p->segs[i];
        if (s->base_offset >= max_offset || s->size == 0)
            break;
        int rc;
        if (s->next_offset <= max_offset) {
            /* Every batch of the segment counts: its recorded largest timestamp. */
            int64_t mt;
            if ((rc = log__segment_max_ts(s, p->cfg.index_interval_bytes, &mt)) < 0)
                return rc;
            if (!any || mt > best)
                best = mt;
            any = true;
            continue;
        }
        /* The segment that reaches past max_offset (batches not yet durable): its headers
         * below max_offset, one by one. */
        for (int64_t pos = 0; pos < s->size; pos += h.total_len) {
            if ((rc = log__segment_read_hdr(s, pos, hdr, &h)) < 0)
                return rc;
            if (h.base_offset >= max_offset)
                break;
            if (!any || h.max_timestamp > best)
                best = h.max_timestamp;
            any = true;
        }
        break;
    }
    if (!any)
        return HD_ENOTFOUND;
    *ts = best;
    return 0;
}

int log_partition_scan(log_partition_t *p, int64_t from_offset, int64_t min_ts, log_scan_cb cb,
                       void *ctx)
{
    if (from_offset < log_partition_start_offset(p))
        from_offset = log_partition_start_offset(p);
    if (from_offset >= p->leo)
        return 0;
    int prc = pend_write(p);
    if (prc < 0)
        return prc;
    /* Headers are read LOG_SCAN_CHUNK bytes at a time: one pread covers hundreds of small
     * batches, where a pread per header made a scan of a million batches a million calls. */
    uint8_t *buf = hd_malloc(LOG_SCAN_CHUNK);
    log_hdr_t h;
    int rc = 0;
    size_t first = find_segment(p, from_offset);
    /* Only a leading run of old segments is skipped: everything after the first segment that
     * is scanned is scanned too, so what the callback sees is always a suffix of the log. */
    bool skipping = min_ts >= 0;
    for (size_t i = first; i < p->nsegs && rc == 0; i++) {
        log_segment_t *s = p->segs[i];
        int64_t pos = 0;
        if (skipping && i + 1 < p->nsegs) {
            int64_t mt;
            if ((rc = log__segment_max_ts(s, p->cfg.index_interval_bytes, &mt)) < 0)
                break;
            if (mt >= 0 && mt < min_ts)
                continue; /* every batch of this inactive segment is older than min_ts */
        }
        skipping = false;
        if (i == first) {
            if ((rc = log__segment_index_load(s, p->cfg.index_interval_bytes)) < 0)
                break;
            pos = log__segment_lookup(s, from_offset);
        }
        int64_t buf_pos = 0;
        size_t buf_len = 0;
        for (; pos < s->size; pos += h.total_len) {
            if (pos < buf_pos || pos + LOG_BATCH_HEADER_LEN > buf_pos + (int64_t)buf_len) {
                int64_t left = s->size - pos;
                size_t want = left < LOG_SCAN_CHUNK ? (size_t)left : LOG_SCAN_CHUNK;
                ssize_t n = want < LOG_BATCH_HEADER_LEN
                                ? HD_ECORRUPT
                                : hd_io_pread_full(s->log_fd, buf, want, (off_t)pos);
                if (n >= 0 && n < LOG_BATCH_HEADER_LEN)
                    n = HD_ECORRUPT;
                if (n < 0) {
                    rc = (int)n;
                    break;
                }
                buf_pos = pos;
                buf_len = (size_t)n;
            }
            const uint8_t *hdr = buf + (pos - buf_pos);
            if (log__hdr_parse(hdr, &h) < 0 || h.total_len > s->size - pos) {
                rc = HD_ECORRUPT;
                break;
            }
            if (h.base_offset + h.last_offset_delta < from_offset)
                continue;
            if (h.base_offset >= from_offset && cb(ctx, hdr, h.base_offset) != 0) {
                free(buf);
                return 0;
            }
        }
    }
    free(buf);
    return rc;
}
