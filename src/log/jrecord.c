/* The journal's record format, as documented at the top of journal.c (which owns the file
 * format): encoding, validation and scanning, shared by the journal's writes, its replay and the
 * replay fuzz target. */
#include "log/log_int.h"
#include "util/buf.h"
#include "util/crc32c.h"
#include "util/err.h"

#include <string.h>

static size_t pad8(size_t n) { return (n + 7) & ~(size_t)7; }

size_t log__journal_record_len(size_t name_len, size_t batch_len)
{
    return pad8(LOG_JOURNAL_REC_HDR + name_len + batch_len);
}

ssize_t log__journal_record_parse(const uint8_t *p, size_t avail, uint64_t seq,
                                  log_journal_rec_t *rec)
{
    if (avail < LOG_JOURNAL_REC_HDR)
        return HD_EINCOMPLETE;
    if (log__get_u32(p) != LOG_JOURNAL_REC_MAGIC || log__get_u64(p + 8) != seq)
        return HD_ECORRUPT;
    uint8_t kind = p[16];
    size_t nlen = (size_t)p[18] << 8 | p[19];
    size_t blen = log__get_u32(p + 20);
    int64_t base = (int64_t)log__get_u64(p + 24);
    if (p[17] != 0)
        return HD_ECORRUPT;
    if (kind == LOG_JOURNAL_KIND_EOF) {
        if (nlen || blen || base)
            return HD_ECORRUPT;
    } else if (kind == LOG_JOURNAL_KIND_FORGET) {
        if (nlen == 0 || nlen > LOG_JOURNAL_NAME_MAX || blen || base)
            return HD_ECORRUPT;
    } else if (kind != LOG_JOURNAL_KIND_BATCH || nlen == 0 || nlen > LOG_JOURNAL_NAME_MAX ||
               blen < LOG_BATCH_HEADER_LEN || blen > LOG_BATCH_MAX_LEN || base < 0) {
        return HD_ECORRUPT;
    }
    size_t len = log__journal_record_len(nlen, blen);
    if (len > avail)
        return HD_EINCOMPLETE;
    if (hd_crc32c(0, p + 8, len - 8) != log__get_u32(p + 4))
        return HD_ECORRUPT;
    if (memchr(p + LOG_JOURNAL_REC_HDR, 0, nlen)) /* a name is a directory, never holds a NUL */
        return HD_ECORRUPT;
    rec->kind = kind;
    rec->name = (const char *)p + LOG_JOURNAL_REC_HDR;
    rec->name_len = nlen;
    rec->batch = p + LOG_JOURNAL_REC_HDR + nlen;
    rec->batch_len = blen;
    rec->base_offset = base;
    return (ssize_t)len;
}

void log__journal_record_build(hd_buf_t *b, uint64_t seq, uint8_t kind, const char *name,
                               size_t nlen, int64_t base, const uint8_t *batch, size_t blen)
{
    size_t len = log__journal_record_len(nlen, blen);
    uint8_t *p = hd_buf_ensure(b, len);
    memset(p, 0, LOG_JOURNAL_REC_HDR);
    log__put_u32(p, LOG_JOURNAL_REC_MAGIC);
    log__put_u64(p + 8, seq);
    p[16] = kind;
    p[18] = (uint8_t)(nlen >> 8);
    p[19] = (uint8_t)nlen;
    log__put_u32(p + 20, (uint32_t)blen);
    log__put_u64(p + 24, (uint64_t)base);
    if (nlen)
        memcpy(p + LOG_JOURNAL_REC_HDR, name, nlen);
    if (blen)
        memcpy(p + LOG_JOURNAL_REC_HDR + nlen, batch, blen);
    memset(p + LOG_JOURNAL_REC_HDR + nlen + blen, 0, len - LOG_JOURNAL_REC_HDR - nlen - blen);
    log__put_u32(p + 4, hd_crc32c(0, p + 8, len - 8));
    b->len += len;
}

ssize_t log__journal_scan(const uint8_t *buf, size_t len, uint64_t seq, int *end,
                          int (*cb)(void *ctx, const log_journal_rec_t *rec), void *ctx)
{
    size_t pos = 0;
    *end = HD_ECORRUPT;
    for (;;) {
        log_journal_rec_t rec;
        ssize_t n = log__journal_record_parse(buf + pos, len - pos, seq, &rec);
        if (n < 0) {
            *end = (int)n;
            break;
        }
        pos += (size_t)n;
        if (rec.kind == LOG_JOURNAL_KIND_EOF) {
            *end = 0;
            break;
        }
        int rc = cb ? cb(ctx, &rec) : 0;
        if (rc < 0)
            return rc;
    }
    return (ssize_t)pos;
}
