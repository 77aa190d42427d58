/* hd_buf_t: a growable output buffer with big-endian and varint writers. */
#ifndef HD_BUF_H
#define HD_BUF_H

#include "util/slice.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hd_buf {
    uint8_t *p;
    size_t len;
    size_t cap;
} hd_buf_t;

void hd_buf_init(hd_buf_t *b);
void hd_buf_deinit(hd_buf_t *b);
/* Makes room for n more bytes; returns a pointer to them (len is not changed). */
uint8_t *hd_buf_ensure(hd_buf_t *b, size_t n);
void hd_buf_reset(hd_buf_t *b);
/* Drops the first n bytes (memmove of the rest). */
void hd_buf_consume(hd_buf_t *b, size_t n);

void hd_buf_put(hd_buf_t *b, const void *p, size_t n);
void hd_buf_put_u8(hd_buf_t *b, uint8_t v);
void hd_buf_put_i16be(hd_buf_t *b, int16_t v);
void hd_buf_put_i32be(hd_buf_t *b, int32_t v);
void hd_buf_put_u32be(hd_buf_t *b, uint32_t v);
void hd_buf_put_i64be(hd_buf_t *b, int64_t v);
void hd_buf_put_f64be(hd_buf_t *b, double v);
/* Unsigned LEB128 varint (Kafka's flexible-version lengths and tags). */
void hd_buf_put_uvarint(hd_buf_t *b, uint64_t v);
/* Zigzag signed varint/varlong (record fields inside a RecordBatch). */
void hd_buf_put_varint(hd_buf_t *b, int64_t v);
/* Reserves 4 bytes for a length patched later with hd_buf_patch_i32be(); returns their offset. */
size_t hd_buf_reserve_i32(hd_buf_t *b);
void hd_buf_patch_i32be(hd_buf_t *b, size_t off, int32_t v);

static inline hd_slice_t hd_buf_slice(const hd_buf_t *b) { return hd_slice(b->p, b->len); }

#endif
