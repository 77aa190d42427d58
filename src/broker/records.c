/* RecordBatch v2 validation, record iteration, and building uncompressed batches.
 *
 * Batch layout (big-endian; Kafka's DefaultRecordBatch):
 *   0 baseOffset i64 | 8 batchLength i32 (bytes after this field) | 12 partitionLeaderEpoch i32
 *   16 magic i8 (2) | 17 crc u32: CRC-32C of bytes 21..end | 21 attributes i16 (bits 0-2 codec,
 *   3 timestamp type, 4 transactional, 5 control) | 23 lastOffsetDelta i32 | 27 baseTimestamp i64
 *   35 maxTimestamp i64 | 43 producerId i64 | 51 producerEpoch i16 | 53 baseSequence i32
 *   57 recordsCount i32 | 61 records (one compressed blob when the codec is not 0)
 * Record: varint length, i8 attributes, varlong timestampDelta, varint offsetDelta, varint keyLen
 *   (-1 null) + key, varint valueLen (-1 null) + value, varint headerCount, then per header varint
 *   keyLen + key, varint valueLen (-1 null) + value. Varints here are zigzag-signed.
 * Compression framings accepted on inflate: gzip (RFC 1952), snappy raw blocks and the xerial
 * "snappy-java" stream (magic 82 'SNAPPY' 00, two i32, then i32 length + block chunks), the LZ4
 * frame format, and zstd frames.
 * Offsets: a producer's batch holds recordsCount == lastOffsetDelta + 1 records, record i with
 * offsetDelta i. A batch the broker kept only some records of (a producer's batch whose invalid
 * records went to a dead-letter topic, see broker_batch_build_kept()) keeps the producer's
 * lastOffsetDelta and each kept record's offsetDelta: its offsets have gaps, as after Kafka's log
 * compaction, and it may hold no record at all. Readers take each record's offset as baseOffset +
 * offsetDelta and the batch's end as baseOffset + lastOffsetDelta + 1, never from the count. */
#include "broker/records.h"
#include "util/crc32c.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/reader.h"
#include "util/varint.h"

#include <lz4frame.h>
#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint16_t be16(const uint8_t *p) { return (uint16_t)(((uint16_t)p[0] << 8) | p[1]); }

void broker_batch_hdr_decode(const uint8_t *p, broker_batch_hdr_t *h)
{
    h->base_offset = (int64_t)be64(p);
    h->batch_length = (int32_t)be32(p + 8);
    h->leader_epoch = (int32_t)be32(p + 12);
    h->magic = (int8_t)p[16];
    h->crc = be32(p + 17);
    h->attributes = (int16_t)be16(p + 21);
    h->last_offset_delta = (int32_t)be32(p + 23);
    h->base_timestamp = (int64_t)be64(p + 27);
    h->max_timestamp = (int64_t)be64(p + 35);
    h->producer_id = (int64_t)be64(p + 43);
    h->producer_epoch = (int16_t)be16(p + 51);
    h->base_sequence = (int32_t)be32(p + 53);
    h->records_count = (int32_t)be32(p + 57);
}

static int inflate_gzip(hd_slice_t in, size_t max_out, hd_buf_t *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 15 + 32) != Z_OK)
        return HD_EMALFORMED;
    zs.next_in = (Bytef *)(uintptr_t)in.p;
    zs.avail_in = (uInt)in.len;
    size_t start = out->len;
    int rc = HD_EMALFORMED;
    for (;;) {
        size_t room = 64 * 1024;
        zs.next_out = hd_buf_ensure(out, room);
        zs.avail_out = (uInt)room;
        int z = inflate(&zs, Z_NO_FLUSH);
        out->len += room - zs.avail_out;
        if (out->len - start > max_out) {
            rc = HD_ETOOBIG;
            break;
        }
        if (z == Z_STREAM_END) {
            rc = 0;
            break;
        }
        if (z != Z_OK && !(z == Z_BUF_ERROR && zs.avail_out == 0))
            break;
        if (zs.avail_in == 0 && zs.avail_out != 0)
            break; /* truncated stream */
    }
    inflateEnd(&zs);
    return rc;
}

static int snappy_block(const uint8_t *p, size_t n, size_t max_out, size_t used, hd_buf_t *out)
{
    size_t ulen;
    if (snappy_uncompressed_length((const char *)p, n, &ulen) != SNAPPY_OK)
        return HD_EMALFORMED;
    if (ulen > max_out - used)
        return HD_ETOOBIG;
    uint8_t *dst = hd_buf_ensure(out, ulen);
    if (snappy_uncompress((const char *)p, n, (char *)dst, &ulen) != SNAPPY_OK)
        return HD_EMALFORMED;
    out->len += ulen;
    return 0;
}

static int inflate_snappy(hd_slice_t in, size_t max_out, hd_buf_t *out)
{
    static const uint8_t xerial[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
    size_t start = out->len;
    if (in.len >= 16 && memcmp(in.p, xerial, 8) == 0) {
        size_t pos = 16;
        while (pos < in.len) {
            if (in.len - pos < 4)
                return HD_EMALFORMED;
            uint32_t n = be32(in.p + pos);
            pos += 4;
            if (n > in.len - pos)
                return HD_EMALFORMED;
            int rc = snappy_block(in.p + pos, n, max_out, out->len - start, out);
            if (rc < 0)
                return rc;
            pos += n;
        }
        return 0;
    }
    return snappy_block(in.p, in.len, max_out, 0, out);
}

static int inflate_lz4(hd_slice_t in, size_t max_out, hd_buf_t *out)
{
    LZ4F_dctx *dctx;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
        return HD_EMALFORMED;
    size_t start = out->len;
    size_t pos = 0;
    int rc = HD_EMALFORMED;
    for (;;) {
        size_t room = 64 * 1024;
        uint8_t *dst = hd_buf_ensure(out, room);
        size_t dst_len = room, src_len = in.len - pos;
        size_t hint = LZ4F_decompress(dctx, dst, &dst_len, in.p + pos, &src_len, NULL);
        if (LZ4F_isError(hint))
            break;
        pos += src_len;
        out->len += dst_len;
        if (out->len - start > max_out) {
            rc = HD_ETOOBIG;
            break;
        }
        if (hint == 0) {
            rc = 0;
            break;
        }
        if (pos >= in.len && dst_len == 0)
            break; /* truncated frame */
    }
    LZ4F_freeDecompressionContext(dctx);
    return rc;
}

static int inflate_zstd(hd_slice_t in, size_t max_out, hd_buf_t *out)
{
    ZSTD_DStream *ds = ZSTD_createDStream();
    if (!ds)
        return HD_EMALFORMED;
    ZSTD_initDStream(ds);
    ZSTD_inBuffer ib = {in.p, in.len, 0};
    size_t start = out->len;
    int rc = HD_EMALFORMED;
    for (;;) {
        size_t room = 64 * 1024;
        ZSTD_outBuffer ob = {hd_buf_ensure(out, room), room, 0};
        size_t r = ZSTD_decompressStream(ds, &ob, &ib);
        if (ZSTD_isError(r))
            break;
        out->len += ob.pos;
        if (out->len - start > max_out) {
            rc = HD_ETOOBIG;
            break;
        }
        if (r == 0 && ib.pos == ib.size) {
            rc = 0;
            break;
        }
        if (ib.pos == ib.size && ob.pos == 0)
            break; /* truncated frame */
    }
    ZSTD_freeDStream(ds);
    return rc;
}

int broker_inflate(int codec, hd_slice_t in, size_t max_out, hd_buf_t *out)
{
    switch (codec) {
    case BROKER_CODEC_GZIP:
        return inflate_gzip(in, max_out, out);
    case BROKER_CODEC_SNAPPY:
        return inflate_snappy(in, max_out, out);
    case BROKER_CODEC_LZ4:
        return inflate_lz4(in, max_out, out);
    case BROKER_CODEC_ZSTD:
        return inflate_zstd(in, max_out, out);
    default:
        return HD_EUNSUPPORTED;
    }
}

/* A record's zigzag varint (wide: a varlong). Nearly every one is one or two bytes long; those
 * are decoded here, without the calls of the general reader, which takes the rest (and the
 * errors). */
static inline int64_t rec_varint(hd_reader_t *r, bool wide)
{
    if (!r->err && r->pos < r->len) {
        const uint8_t *q = r->p + r->pos;
        uint32_t u;
        if (q[0] < 0x80) {
            u = q[0];
            r->pos += 1;
            return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
        }
        if (r->len - r->pos >= 2 && q[1] < 0x80) {
            u = (q[0] & 0x7fu) | (uint32_t)q[1] << 7;
            r->pos += 2;
            return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
        }
    }
    return wide ? hd_read_varlong(r) : hd_read_varint(r);
}

/* n bytes of a record, as hd_read_bytes(), the common case inline. */
static inline hd_slice_t rec_bytes(hd_reader_t *r, size_t n)
{
    if (!r->err && n <= r->len - r->pos) {
        hd_slice_t s = hd_slice(r->p + r->pos, n);
        r->pos += n;
        return s;
    }
    return hd_read_bytes(r, n);
}

/* How strictly a walk checks the records' offset deltas. */
typedef enum {
    DELTA_ANY,      /* within [0, lastOffsetDelta]: reading what is stored */
    DELTA_PRODUCED, /* record i has delta i, as a producer sends them */
    DELTA_KEPT,     /* strictly ascending within [0, lastOffsetDelta]: a batch the broker kept
                     * some records of (gaps where the others were) */
} delta_rule_t;

/* Walks the records in r from record `start`, which begins at r's position: those before
 * `first` only over their length (storing first's position in *at when given). Returns 0,
 * HD_EMALFORMED, or cb's non-zero value. */
static int walk_records(hd_reader_t *r, const broker_batch_hdr_t *h, int32_t start, int32_t first,
                        broker_rec_pos_t *at, delta_rule_t rule, broker_record_cb cb, void *ctx)
{
    int32_t prev = -1;
    for (int32_t i = start; i < h->records_count; i++) {
        size_t rec_pos = r->pos;
        int32_t len = (int32_t)rec_varint(r, false);
        if (r->err || len < 0 || (size_t)len > hd_reader_left(r))
            return HD_EMALFORMED;
        if (i < first) {
            (void)rec_bytes(r, (size_t)len);
            continue;
        }
        if (i == first && at)
            *at = (broker_rec_pos_t){.index = i, .pos = rec_pos};
        hd_reader_t rr = hd_reader_init(rec_bytes(r, (size_t)len));
        broker_record_t rec;
        memset(&rec, 0, sizeof rec);
        (void)rec_bytes(&rr, 1); /* attributes, unused */
        int64_t ts_delta = rec_varint(&rr, true);
        int32_t off_delta = (int32_t)rec_varint(&rr, false);
        int32_t klen = (int32_t)rec_varint(&rr, false);
        if (rr.err || klen < -1 || (klen > 0 && (size_t)klen > hd_reader_left(&rr)))
            return HD_EMALFORMED;
        rec.key_null = klen < 0;
        rec.key = rec_bytes(&rr, klen < 0 ? 0 : (size_t)klen);
        int32_t vlen = (int32_t)rec_varint(&rr, false);
        if (rr.err || vlen < -1 || (vlen > 0 && (size_t)vlen > hd_reader_left(&rr)))
            return HD_EMALFORMED;
        rec.value_null = vlen < 0;
        rec.value = rec_bytes(&rr, vlen < 0 ? 0 : (size_t)vlen);
        int32_t nh = (int32_t)rec_varint(&rr, false);
        if (rr.err || nh < 0 || (size_t)nh > hd_reader_left(&rr))
            return HD_EMALFORMED;
        size_t hstart = rr.pos;
        for (int32_t k = 0; k < nh; k++) {
            int32_t hk = (int32_t)rec_varint(&rr, false);
            if (rr.err || hk < 0 || (size_t)hk > hd_reader_left(&rr))
                return HD_EMALFORMED;
            (void)rec_bytes(&rr, (size_t)hk);
            int32_t hv = (int32_t)rec_varint(&rr, false);
            if (rr.err || hv < -1 || (hv > 0 && (size_t)hv > hd_reader_left(&rr)))
                return HD_EMALFORMED;
            if (hv > 0)
                (void)rec_bytes(&rr, (size_t)hv);
        }
        if (rr.err || hd_reader_left(&rr) != 0)
            return HD_EMALFORMED;
        if (off_delta < 0 || off_delta > h->last_offset_delta)
            return HD_EMALFORMED;
        if ((rule == DELTA_PRODUCED && off_delta != i) || (rule == DELTA_KEPT && off_delta <= prev))
            return HD_EMALFORMED;
        prev = off_delta;
        rec.headers = hd_slice(rr.p + hstart, rr.pos - hstart);
        rec.headers_count = nh;
        rec.offset = h->base_offset + off_delta;
        rec.timestamp = (h->attributes & BROKER_ATTR_LOG_APPEND_TIME)
                            ? h->max_timestamp
                            : (int64_t)((uint64_t)h->base_timestamp + (uint64_t)ts_delta);
        if (cb) {
            int stop = cb(ctx, &rec);
            if (stop)
                return stop;
        }
    }
    if (hd_reader_left(r) != 0)
        return HD_EMALFORMED;
    return 0;
}

/* Walks the batch's records (see broker_batch_for_each_from for first, from and at). */
static int for_each(hd_slice_t batch, int32_t first, const broker_rec_pos_t *from,
                    broker_rec_pos_t *at, delta_rule_t rule, size_t max_inflated, hd_buf_t *scratch,
                    broker_record_cb cb, void *ctx)
{
    if (at)
        at->index = -1;
    if (batch.len < BROKER_BATCH_HEADER_LEN)
        return HD_EMALFORMED;
    broker_batch_hdr_t h;
    broker_batch_hdr_decode(batch.p, &h);
    if (h.batch_length < BROKER_BATCH_HEADER_LEN - 12 || (size_t)h.batch_length + 12 > batch.len ||
        h.records_count < 0)
        return HD_EMALFORMED;
    hd_slice_t recs = hd_slice(batch.p + BROKER_BATCH_HEADER_LEN,
                               (size_t)h.batch_length + 12 - BROKER_BATCH_HEADER_LEN);
    int codec = h.attributes & BROKER_ATTR_CODEC_MASK;
    if (codec != BROKER_CODEC_NONE) {
        hd_buf_reset(scratch);
        int rc = broker_inflate(codec, recs, max_inflated, scratch);
        if (rc < 0)
            return rc;
        recs = hd_buf_slice(scratch);
    }
    hd_reader_t r = hd_reader_init(recs);
    int32_t start = 0;
    if (codec == BROKER_CODEC_NONE && from && from->index > 0 && from->index <= first &&
        from->pos <= recs.len) {
        r.pos = from->pos;
        start = from->index;
    }
    if (codec != BROKER_CODEC_NONE)
        at = NULL;
    return walk_records(&r, &h, start, first, at, rule, cb, ctx);
}

int broker_batch_for_each(hd_slice_t batch, size_t max_inflated, hd_buf_t *scratch,
                          broker_record_cb cb, void *ctx)
{
    return for_each(batch, 0, NULL, NULL, DELTA_ANY, max_inflated, scratch, cb, ctx);
}

int broker_batch_for_each_from(hd_slice_t batch, int32_t first, const broker_rec_pos_t *from,
                               broker_rec_pos_t *at, size_t max_inflated, hd_buf_t *scratch,
                               broker_record_cb cb, void *ctx)
{
    return for_each(batch, first, from, at, DELTA_PRODUCED, max_inflated, scratch, cb, ctx);
}

int broker_batch_validate(hd_slice_t b, bool deep, size_t max_inflated, broker_batch_hdr_t *h,
                          const char **why)
{
    if (b.len < BROKER_BATCH_HEADER_LEN) {
        *why = "record batch shorter than its header";
        return HD_EMALFORMED;
    }
    broker_batch_hdr_decode(b.p, h);
    if (h->magic != 2) {
        *why = "record batch magic is not 2";
        return HD_EMALFORMED;
    }
    if (h->batch_length < 0 || (size_t)h->batch_length + 12 != b.len) {
        *why = "records field must hold exactly one record batch";
        return HD_EMALFORMED;
    }
    if (hd_crc32c(0, b.p + 21, b.len - 21) != h->crc) {
        *why = "record batch CRC-32C mismatch";
        return HD_ECORRUPT;
    }
    if (h->records_count <= 0 || h->last_offset_delta != h->records_count - 1) {
        *why = "record count does not match lastOffsetDelta";
        return HD_EMALFORMED;
    }
    if (h->attributes & BROKER_ATTR_CONTROL) {
        *why = "control batches may only be written by the broker";
        return HD_EMALFORMED;
    }
    int codec = h->attributes & BROKER_ATTR_CODEC_MASK;
    if (codec > BROKER_CODEC_ZSTD) {
        *why = "unknown compression codec";
        return HD_EUNSUPPORTED;
    }
    if (h->producer_id >= 0 && h->base_sequence < 0) {
        *why = "idempotent batch without a base sequence";
        return HD_EMALFORMED;
    }
    if (!deep)
        return 0;
    hd_buf_t scratch;
    hd_buf_init(&scratch);
    int rc = for_each(b, 0, NULL, NULL, DELTA_PRODUCED, max_inflated, &scratch, NULL, NULL);
    hd_buf_deinit(&scratch);
    if (rc == HD_ETOOBIG) {
        *why = "records inflate beyond the size limit";
        return HD_EMALFORMED;
    }
    if (rc < 0) {
        *why =
            codec ? "compressed records do not inflate to valid records" : "records are malformed";
        return HD_EMALFORMED;
    }
    return 0;
}

/* Building batches: the inverse of walk_records(), for records that arrive without a Kafka
 * client to frame them (the HTTP API). The sizes are worked out before anything is written, so a
 * batch over max_bytes leaves `out` untouched and allocates nothing. */

/* The encoded length of one record after its length prefix, or HD_ETOOBIG when a field does
 * not fit the int32 lengths of the format. */
static ssize_t record_body_size(const broker_record_in_t *rec, int64_t ts_delta, int32_t off_delta)
{
    if ((!rec->key_null && rec->key.len > INT32_MAX) ||
        (!rec->value_null && rec->value.len > INT32_MAX))
        return HD_ETOOBIG;
    size_t n = 1 + hd_varint_size(ts_delta) + hd_varint_size(off_delta);
    n += rec->key_null ? hd_varint_size(-1) : hd_varint_size((int64_t)rec->key.len) + rec->key.len;
    n += rec->value_null ? hd_varint_size(-1)
                         : hd_varint_size((int64_t)rec->value.len) + rec->value.len;
    n += hd_varint_size(rec->nheaders);
    for (int32_t k = 0; k < rec->nheaders; k++) {
        const broker_header_t *h = &rec->headers[k];
        if (h->name.len > INT32_MAX || (!h->value_null && h->value.len > INT32_MAX))
            return HD_ETOOBIG;
        n += hd_varint_size((int64_t)h->name.len) + h->name.len;
        n += h->value_null ? hd_varint_size(-1)
                           : hd_varint_size((int64_t)h->value.len) + h->value.len;
        if (n > INT32_MAX)
            return HD_ETOOBIG;
    }
    if (n > INT32_MAX)
        return HD_ETOOBIG;
    return (ssize_t)n;
}

/* A nullable bytes field: varint length (-1 for null), then the bytes. */
static void put_nullable(hd_buf_t *out, hd_slice_t s, bool is_null)
{
    if (is_null) {
        hd_buf_put_varint(out, -1);
        return;
    }
    hd_buf_put_varint(out, (int64_t)s.len);
    hd_buf_put(out, s.p, s.len);
}

/* The timestamp delta from the base, wrapping like the reader's (uint64_t) addition does, so even
 * timestamps INT64_MIN and INT64_MAX in one batch come back exactly. */
static int64_t ts_delta_of(int64_t ts, int64_t base)
{
    return (int64_t)((uint64_t)ts - (uint64_t)base);
}

/* The header fields a built batch takes from elsewhere than its records. */
typedef struct build_spec {
    int16_t attributes; /* codec bits clear */
    int32_t last_offset_delta;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int64_t base_ts, max_ts; /* for an empty batch only */
} build_spec_t;

/* Appends the batch of recs[0..n), record i with offset delta deltas[i] (i when deltas is NULL). */
static ssize_t build(const build_spec_t *sp, const broker_record_in_t *recs, const int32_t *deltas,
                     int32_t n, size_t max_bytes, hd_buf_t *out)
{
    int64_t base_ts = n ? recs[0].timestamp : sp->base_ts;
    int64_t max_ts = n ? recs[0].timestamp : sp->max_ts;
    for (int32_t i = 1; i < n; i++) {
        if (recs[i].timestamp < base_ts)
            base_ts = recs[i].timestamp;
        if (recs[i].timestamp > max_ts)
            max_ts = recs[i].timestamp;
    }
    /* batchLength is an int32 counting the bytes after offset 12. */
    size_t limit = max_bytes < (size_t)INT32_MAX + 12 ? max_bytes : (size_t)INT32_MAX + 12;
    size_t total = BROKER_BATCH_HEADER_LEN;
    if (total > limit)
        return HD_ETOOBIG;
    for (int32_t i = 0; i < n; i++) {
        HD_ASSERT(recs[i].nheaders >= 0 && (recs[i].nheaders == 0 || recs[i].headers));
        ssize_t body = record_body_size(&recs[i], ts_delta_of(recs[i].timestamp, base_ts),
                                        deltas ? deltas[i] : i);
        if (body < 0)
            return body;
        total += hd_varint_size(body) + (size_t)body;
        if (total > limit)
            return HD_ETOOBIG;
    }

    size_t start = out->len;
    hd_buf_ensure(out, total);
    hd_buf_put_i64be(out, 0);                     /* baseOffset */
    hd_buf_put_i32be(out, (int32_t)(total - 12)); /* batchLength */
    hd_buf_put_i32be(out, -1);                    /* partitionLeaderEpoch */
    hd_buf_put_u8(out, 2);                        /* magic */
    size_t crc_at = hd_buf_reserve_i32(out);      /* crc, patched below */
    hd_buf_put_i16be(out, sp->attributes);
    hd_buf_put_i32be(out, sp->last_offset_delta);
    hd_buf_put_i64be(out, base_ts);
    hd_buf_put_i64be(out, max_ts);
    hd_buf_put_i64be(out, sp->producer_id);
    hd_buf_put_i16be(out, sp->producer_epoch);
    hd_buf_put_i32be(out, sp->base_sequence);
    hd_buf_put_i32be(out, n); /* recordsCount */
    for (int32_t i = 0; i < n; i++) {
        const broker_record_in_t *rec = &recs[i];
        int64_t ts_delta = ts_delta_of(rec->timestamp, base_ts);
        int32_t off_delta = deltas ? deltas[i] : i;
        hd_buf_put_varint(out, record_body_size(rec, ts_delta, off_delta));
        hd_buf_put_u8(out, 0); /* record attributes, unused */
        hd_buf_put_varint(out, ts_delta);
        hd_buf_put_varint(out, off_delta);
        put_nullable(out, rec->key, rec->key_null);
        put_nullable(out, rec->value, rec->value_null);
        hd_buf_put_varint(out, rec->nheaders);
        for (int32_t k = 0; k < rec->nheaders; k++) {
            const broker_header_t *h = &rec->headers[k];
            put_nullable(out, h->name, false);
            put_nullable(out, h->value, h->value_null);
        }
    }
    HD_ASSERT(out->len - start == total);
    uint32_t crc = hd_crc32c(0, out->p + start + 21, total - 21);
    hd_buf_patch_i32be(out, crc_at, (int32_t)crc);
    return (ssize_t)total;
}

ssize_t broker_batch_build(const broker_record_in_t *recs, int32_t n, size_t max_bytes,
                           hd_buf_t *out)
{
    HD_ASSERT(n > 0);
    build_spec_t sp = {.attributes = 0,
                       .last_offset_delta = n - 1,
                       .producer_id = -1,
                       .producer_epoch = -1,
                       .base_sequence = -1};
    return build(&sp, recs, NULL, n, max_bytes, out);
}

ssize_t broker_batch_build_kept(const broker_batch_hdr_t *orig, const broker_record_in_t *recs,
                                const int32_t *deltas, int32_t n, size_t max_bytes, hd_buf_t *out)
{
    HD_ASSERT(n >= 0 && n <= orig->last_offset_delta + 1);
    for (int32_t i = 0; i < n; i++)
        HD_ASSERT(deltas[i] >= 0 && deltas[i] <= orig->last_offset_delta &&
                  (i == 0 || deltas[i] > deltas[i - 1]));
    build_spec_t sp = {.attributes = (int16_t)(orig->attributes & ~BROKER_ATTR_CODEC_MASK),
                       .last_offset_delta = orig->last_offset_delta,
                       .producer_id = orig->producer_id,
                       .producer_epoch = orig->producer_epoch,
                       .base_sequence = orig->base_sequence,
                       .base_ts = orig->base_timestamp,
                       .max_ts = orig->max_timestamp};
    return build(&sp, recs, deltas, n, max_bytes, out);
}

int broker_batch_validate_kept(hd_slice_t b, size_t max_inflated, broker_batch_hdr_t *h,
                               const char **why)
{
    if (b.len < BROKER_BATCH_HEADER_LEN) {
        *why = "record batch shorter than its header";
        return HD_EMALFORMED;
    }
    broker_batch_hdr_decode(b.p, h);
    if (h->magic != 2 || h->batch_length < 0 || (size_t)h->batch_length + 12 != b.len) {
        *why = "kept records are not one record batch";
        return HD_EMALFORMED;
    }
    if (hd_crc32c(0, b.p + 21, b.len - 21) != h->crc) {
        *why = "record batch CRC-32C mismatch";
        return HD_ECORRUPT;
    }
    if (h->records_count < 0 || h->last_offset_delta < 0 ||
        h->records_count > h->last_offset_delta + 1 || (h->attributes & BROKER_ATTR_CONTROL) ||
        (h->attributes & BROKER_ATTR_CODEC_MASK) > BROKER_CODEC_ZSTD ||
        (h->producer_id >= 0 && h->base_sequence < 0)) {
        *why = "kept records have a bad batch header";
        return HD_EMALFORMED;
    }
    hd_buf_t scratch;
    hd_buf_init(&scratch);
    int rc = for_each(b, 0, NULL, NULL, DELTA_KEPT, max_inflated, &scratch, NULL, NULL);
    hd_buf_deinit(&scratch);
    if (rc < 0) {
        *why = "kept records are malformed";
        return HD_EMALFORMED;
    }
    return 0;
}

int broker_header_next(hd_slice_t *area, broker_header_t *h)
{
    hd_reader_t r = hd_reader_init(*area);
    int32_t klen = hd_read_varint(&r);
    if (r.err || klen < 0 || (size_t)klen > hd_reader_left(&r))
        return HD_EMALFORMED;
    hd_slice_t name = hd_read_bytes(&r, (size_t)klen);
    int32_t vlen = hd_read_varint(&r);
    if (r.err || vlen < -1 || (vlen > 0 && (size_t)vlen > hd_reader_left(&r)))
        return HD_EMALFORMED;
    hd_slice_t value = hd_read_bytes(&r, vlen < 0 ? 0 : (size_t)vlen);
    h->name = name;
    h->value = value;
    h->value_null = vlen < 0;
    *area = hd_slice(area->p + r.pos, area->len - r.pos);
    return 0;
}
