/* Varints as Kafka uses them: unsigned LEB128 for flexible-version lengths and tags, and zigzag
 * signed varints/varlongs for the fields of records inside a RecordBatch. */
#ifndef HD_VARINT_H
#define HD_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define HD_VARINT_MAX_LEN 10

/* Encodes into out (at least HD_VARINT_MAX_LEN bytes); returns the bytes written. */
size_t hd_uvarint_encode(uint8_t *out, uint64_t v);
size_t hd_varint_encode(uint8_t *out, int64_t v);
/* Decodes from p[0..len). Returns bytes consumed, HD_EINCOMPLETE if the input ends inside the
 * varint, or HD_EMALFORMED if it is longer than max_bytes (5 for 32-bit, 10 for 64-bit values). */
int hd_uvarint_decode(const uint8_t *p, size_t len, size_t max_bytes, uint64_t *out);
int hd_varint_decode(const uint8_t *p, size_t len, size_t max_bytes, int64_t *out);
size_t hd_uvarint_size(uint64_t v);
size_t hd_varint_size(int64_t v);

static inline uint64_t hd_zigzag_encode(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t hd_zigzag_decode(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

#endif
