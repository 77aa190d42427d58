/* hd_reader_t: bounds-checked big-endian and varint reads with a sticky error.
 * The first failed read sets `err` (HD_EMALFORMED) and every later read returns 0 / an empty
 * slice, so callers check once per group of fields. */
#ifndef HD_READER_H
#define HD_READER_H

#include "util/slice.h"

#include <stdint.h>

typedef struct hd_reader {
    const uint8_t *p;
    size_t len;
    size_t pos;
    int err;
} hd_reader_t;

static inline hd_reader_t hd_reader_init(hd_slice_t s)
{
    hd_reader_t r = {s.p, s.len, 0, 0};
    return r;
}

static inline size_t hd_reader_left(const hd_reader_t *r) { return r->err ? 0 : r->len - r->pos; }

int8_t hd_read_i8(hd_reader_t *r);
int16_t hd_read_i16(hd_reader_t *r);
int32_t hd_read_i32(hd_reader_t *r);
uint32_t hd_read_u32(hd_reader_t *r);
int64_t hd_read_i64(hd_reader_t *r);
double hd_read_f64(hd_reader_t *r);
/* Unsigned LEB128; at most 5 bytes (u32) or 10 bytes (u64). */
uint32_t hd_read_uvarint32(hd_reader_t *r);
uint64_t hd_read_uvarint64(hd_reader_t *r);
/* Zigzag signed varint (32-bit) and varlong (64-bit). */
int32_t hd_read_varint(hd_reader_t *r);
int64_t hd_read_varlong(hd_reader_t *r);
/* Borrows n bytes; fails if fewer remain. */
hd_slice_t hd_read_bytes(hd_reader_t *r, size_t n);
void hd_read_skip(hd_reader_t *r, size_t n);
/* Reads an i32 array count: -1 stays -1 (null); otherwise it must be in [0, max] and no larger
 * than the bytes left (each element takes at least one byte), or the reader fails. */
int32_t hd_read_count(hd_reader_t *r, int32_t max);
/* Marks the reader failed with rc (only if not failed already). */
void hd_reader_fail(hd_reader_t *r, int rc);

#endif
