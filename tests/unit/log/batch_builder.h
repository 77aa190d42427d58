/* Test helper: builds valid RecordBatch v2 frames with N uncompressed records, and temp dirs. */
#ifndef TEST_LOG_BATCH_BUILDER_H
#define TEST_LOG_BATCH_BUILDER_H

#include "util/buf.h"
#include "util/crc32c.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends one frame to `out`: `nrecords` records, each with a key "k<i>" and a value of
 * `value_len` bytes; record i has timestamp base_ts + i (the last one max_ts). baseOffset is 0
 * (the log assigns it). Returns the frame's offset in out. */
static inline size_t bb_build(hd_buf_t *out, int nrecords, int64_t base_ts, int64_t max_ts,
                              size_t value_len)
{
    size_t start = out->len;
    hd_buf_put_i64be(out, 0);                /* baseOffset */
    size_t len_at = hd_buf_reserve_i32(out); /* batchLength */
    hd_buf_put_i32be(out, 0);                /* partitionLeaderEpoch */
    hd_buf_put_u8(out, 2);                   /* magic */
    hd_buf_put_u32be(out, 0);                /* crc, patched below */
    hd_buf_put_i16be(out, 0);                /* attributes */
    hd_buf_put_i32be(out, nrecords - 1);     /* lastOffsetDelta */
    hd_buf_put_i64be(out, base_ts);
    hd_buf_put_i64be(out, max_ts);
    hd_buf_put_i64be(out, -1); /* producerId */
    hd_buf_put_i16be(out, -1); /* producerEpoch */
    hd_buf_put_i32be(out, -1); /* baseSequence */
    hd_buf_put_i32be(out, nrecords);
    for (int i = 0; i < nrecords; i++) {
        char key[16];
        int klen = snprintf(key, sizeof key, "k%d", i);
        int64_t ts_delta = i == nrecords - 1 ? max_ts - base_ts : (int64_t)i;
        hd_buf_t rec;
        hd_buf_init(&rec);
        hd_buf_put_u8(&rec, 0); /* attributes */
        hd_buf_put_varint(&rec, ts_delta);
        hd_buf_put_varint(&rec, i); /* offsetDelta */
        hd_buf_put_varint(&rec, klen);
        hd_buf_put(&rec, key, (size_t)klen);
        hd_buf_put_varint(&rec, (int64_t)value_len);
        uint8_t *v = hd_buf_ensure(&rec, value_len);
        for (size_t j = 0; j < value_len; j++)
            v[j] = (uint8_t)('a' + (i + j) % 26);
        rec.len += value_len;
        hd_buf_put_varint(&rec, 0); /* headers */
        hd_buf_put_varint(out, (int64_t)rec.len);
        hd_buf_put(out, rec.p, rec.len);
        hd_buf_deinit(&rec);
    }
    hd_buf_patch_i32be(out, len_at, (int32_t)(out->len - start - 12));
    uint32_t crc = hd_crc32c(0, out->p + start + 21, out->len - start - 21);
    uint8_t *c = out->p + start + 17;
    c[0] = (uint8_t)(crc >> 24);
    c[1] = (uint8_t)(crc >> 16);
    c[2] = (uint8_t)(crc >> 8);
    c[3] = (uint8_t)crc;
    return start;
}

static inline int64_t bb_get_i64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return (int64_t)v;
}

static inline int32_t bb_get_i32(const uint8_t *p)
{
    return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

/* A fresh temp dir; the partition lives in <tmp>/p (created by open). */
typedef struct bb_dir {
    char root[64];
    char part[80];
} bb_dir_t;

static inline void bb_dir_make(bb_dir_t *d)
{
    strcpy(d->root, "/tmp/herald-log-XXXXXX");
    if (!mkdtemp(d->root))
        abort();
    snprintf(d->part, sizeof d->part, "%s/p", d->root);
}

static inline void bb_dir_remove(bb_dir_t *d)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d->root);
    if (system(cmd) != 0)
        abort();
}

#endif
