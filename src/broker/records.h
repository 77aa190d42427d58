/* RecordBatch v2 checks and record iteration (inflating compressed batches) for the broker.
 * Separate from broker.h so tests and fuzz targets can use it alone. */
#ifndef BROKER_RECORDS_H
#define BROKER_RECORDS_H

#include "util/buf.h"
#include "util/slice.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define BROKER_BATCH_HEADER_LEN 61

enum {
    BROKER_CODEC_NONE = 0,
    BROKER_CODEC_GZIP = 1,
    BROKER_CODEC_SNAPPY = 2,
    BROKER_CODEC_LZ4 = 3,
    BROKER_CODEC_ZSTD = 4,
};

#define BROKER_ATTR_CODEC_MASK 0x07
#define BROKER_ATTR_LOG_APPEND_TIME 0x08
#define BROKER_ATTR_TRANSACTIONAL 0x10
#define BROKER_ATTR_CONTROL 0x20

/* The fixed header of a RecordBatch v2, decoded. */
typedef struct broker_batch_hdr {
    int64_t base_offset;
    int32_t batch_length;
    int32_t leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t records_count;
} broker_batch_hdr_t;

/* Decodes the 61-byte header (no checks beyond the length). */
void broker_batch_hdr_decode(const uint8_t *p, broker_batch_hdr_t *h);

/* One record, as slices into the (possibly inflated) records area. */
typedef struct broker_record {
    int64_t offset;
    int64_t timestamp;
    hd_slice_t key;
    bool key_null;
    hd_slice_t value;
    bool value_null;
    int32_t headers_count;
    hd_slice_t headers; /* the raw header area */
} broker_record_t;

/* Validates that `b` is exactly one well-formed RecordBatch v2 as a producer sends it: length
 * field matches, magic 2, CRC-32C correct, recordsCount == lastOffsetDelta + 1 > 0, no control
 * bit, a known codec, and a sequence for idempotent batches. When `deep` is set, also inflates
 * compressed records (up to max_inflated bytes) and checks every record's framing, its
 * offsetDelta (record i has delta i) and the count.
 * Returns 0, HD_ECORRUPT (CRC mismatch), HD_EUNSUPPORTED (unknown codec) or HD_EMALFORMED, with a
 * static reason in *why. */
int broker_batch_validate(hd_slice_t b, bool deep, size_t max_inflated, broker_batch_hdr_t *h,
                          const char **why);

/* Calls cb for each record of the batch (inflating into `scratch` if compressed). cb returns
 * non-zero to stop early; that value is returned. Returns 0 when all records were visited, or
 * HD_EMALFORMED / HD_ETOOBIG (inflated size above max_inflated). A record's offset is the base
 * offset plus its offsetDelta (within [0, lastOffsetDelta]): a stored batch may have gaps (see
 * broker_batch_build_kept()). */
typedef int (*broker_record_cb)(void *ctx, const broker_record_t *rec);
int broker_batch_for_each(hd_slice_t batch, size_t max_inflated, hd_buf_t *scratch,
                          broker_record_cb cb, void *ctx);
/* Where a record starts in an uncompressed batch: record `index` at byte `pos` of the records
 * (counted from the first record's first byte). */
typedef struct broker_rec_pos {
    int32_t index;
    size_t pos;
} broker_rec_pos_t;
/* The same from record `first` on, for a batch as a producer sends it: the records before it are
 * passed over by their length alone (their own framing is not checked), the ones from it on
 * checked (record i must have offsetDelta i) and given to cb. An uncompressed batch's records
 * are passed over from `from` when given (a position an earlier walk of the same bytes stored,
 * at or before `first`), else from the first record; `at`, when given, receives record first's
 * position before cb sees it (index -1 when the walk did not reach it, or the batch is
 * compressed). Passing over a record is a load that waits for the memory holding its length:
 * the walks of a batch cut into parts start from each other's positions instead of all from
 * the first record. */
int broker_batch_for_each_from(hd_slice_t batch, int32_t first, const broker_rec_pos_t *from,
                               broker_rec_pos_t *at, size_t max_inflated, hd_buf_t *scratch,
                               broker_record_cb cb, void *ctx);

/* Inflates the records area of a batch with the given codec into out (appending). */
int broker_inflate(int codec, hd_slice_t in, size_t max_out, hd_buf_t *out);

/* ---- compression (compress.c) ---- */

/* Compresses `in` with the codec (Kafka's framings, see compress.c), appending to out. Returns 0,
 * HD_EUNSUPPORTED (codec none or unknown) or HD_EMALFORMED (the library failed). */
int broker_deflate(int codec, hd_slice_t in, hd_buf_t *out);
/* Appends to `out` the batch rewritten with `codec` (BROKER_CODEC_NONE stores the records
 * uncompressed): records inflated into `scratch` (at most max_inflated bytes) if compressed,
 * deflated again, batch length, codec bits and CRC-32C rewritten, every other header field kept.
 * The batch must have passed broker_batch_validate(). Returns 0, HD_ETOOBIG, HD_EMALFORMED or
 * HD_EUNSUPPORTED (out unchanged on error). */
int broker_batch_recompress(hd_slice_t batch, int codec, size_t max_inflated, hd_buf_t *scratch,
                            hd_buf_t *out);

/* ---- building batches (for producers that are not Kafka clients, e.g. HTTP) ---- */

/* One record header. A null value is encoded with length -1. */
typedef struct broker_header {
    hd_slice_t name;
    hd_slice_t value;
    bool value_null;
} broker_header_t;

/* One record to encode into a batch. */
typedef struct broker_record_in {
    hd_slice_t key;
    bool key_null;
    hd_slice_t value;
    bool value_null;
    const broker_header_t *headers;
    int32_t nheaders;
    int64_t timestamp; /* CreateTime, milliseconds since the epoch */
} broker_record_in_t;

/* Appends one uncompressed RecordBatch v2 holding recs[0..n) to out: base offset 0, partition
 * leader epoch -1, attributes 0 (CreateTime), producer id -1, producer epoch -1, base sequence
 * -1, base timestamp = the smallest record timestamp, max timestamp = the largest, CRC-32C over
 * attributes..end. The result passes broker_batch_validate(deep). n > 0. Returns the bytes
 * appended, or HD_ETOOBIG when the batch would exceed max_bytes (out unchanged). */
ssize_t broker_batch_build(const broker_record_in_t *recs, int32_t n, size_t max_bytes,
                           hd_buf_t *out);

/* Appends the batch that keeps recs[0..n) (n >= 0) of the producer's batch `orig`, record i with
 * its original offsetDelta deltas[i] (strictly ascending, within [0, orig lastOffsetDelta]):
 * uncompressed, with orig's attributes (codec bits cleared), lastOffsetDelta, producer id,
 * epoch and base sequence, so that it consumes the same offsets and sequence numbers; the
 * offsets of the records left out are gaps, as after Kafka's log compaction. Timestamps: the
 * smallest and largest of recs, or orig's when n == 0 (the empty batch Kafka's compaction keeps
 * for a producer's state). It passes broker_batch_validate_kept(), not broker_batch_validate().
 * Returns the bytes appended, or HD_ETOOBIG when over max_bytes (out unchanged). */
ssize_t broker_batch_build_kept(const broker_batch_hdr_t *orig, const broker_record_in_t *recs,
                                const int32_t *deltas, int32_t n, size_t max_bytes, hd_buf_t *out);
/* Validates a batch built by broker_batch_build_kept() (the broker's own, never a producer's):
 * one RecordBatch v2, CRC-32C correct, 0 <= recordsCount <= lastOffsetDelta + 1, no control bit,
 * a known codec, a sequence for idempotent batches, and every record well framed with strictly
 * ascending offsetDeltas within [0, lastOffsetDelta]. Returns 0, HD_ECORRUPT or HD_EMALFORMED. */
int broker_batch_validate_kept(hd_slice_t b, size_t max_inflated, broker_batch_hdr_t *h,
                               const char **why);

/* Iterates the raw header area of a record (broker_record_t.headers, headers_count entries).
 * Each call decodes the next header from *area into *h and advances *area. Returns 0, or
 * HD_EMALFORMED when the area is truncated or a length is negative (names may not be null). */
int broker_header_next(hd_slice_t *area, broker_header_t *h);

#endif
