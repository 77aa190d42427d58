/* Broker-side compression: deflating a records area with Kafka's codecs, and rewriting a
 * RecordBatch v2 with another codec (a topic's compression.type other than `producer`).
 *
 * Framings written, as Apache Kafka's own broker writes them, so every client that reads a batch
 * Kafka recompressed reads these:
 *   gzip    one RFC 1952 member (zlib, default level)
 *   snappy  the xerial "snappy-java" stream: magic 82 'SNAPPY' 00, i32 version 1, i32
 *           compatible version 1, then per block of at most 32 KiB of input an i32 length and
 *           one raw snappy block
 *   lz4     one LZ4 frame, 64 KiB independent blocks, no content size or checksums
 *   zstd    one zstd frame (default level)
 * A rewritten batch keeps every header field except attributes bits 0-2 (the codec), the batch
 * length and the CRC-32C, which is recomputed; producer id, epoch and base sequence stay, so an
 * idempotent producer's sequence checks still hold. */
#include "broker/records.h"
#include "util/crc32c.h"
#include "util/err.h"
#include "util/mem.h"

#include <errno.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#define SNAPPY_BLOCK (32 * 1024)

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static int deflate_gzip(hd_slice_t in, hd_buf_t *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* 15 + 16: a gzip header and trailer around the deflate stream. */
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK)
        return -ENOMEM;
    size_t bound = deflateBound(&zs, (uLong)in.len);
    zs.next_in = (Bytef *)(uintptr_t)in.p;
    zs.avail_in = (uInt)in.len;
    zs.next_out = hd_buf_ensure(out, bound);
    zs.avail_out = (uInt)bound;
    int z = deflate(&zs, Z_FINISH);
    size_t n = bound - zs.avail_out;
    deflateEnd(&zs);
    if (z != Z_STREAM_END)
        return HD_EMALFORMED;
    out->len += n;
    return 0;
}

static int deflate_snappy(hd_slice_t in, hd_buf_t *out)
{
    static const uint8_t head[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
    hd_buf_put(out, head, sizeof head);
    for (size_t pos = 0; pos < in.len; pos += SNAPPY_BLOCK) {
        size_t n = in.len - pos < SNAPPY_BLOCK ? in.len - pos : SNAPPY_BLOCK;
        size_t clen = snappy_max_compressed_length(n);
        uint8_t *dst = hd_buf_ensure(out, 4 + clen);
        if (snappy_compress((const char *)in.p + pos, n, (char *)dst + 4, &clen) != SNAPPY_OK)
            return HD_EMALFORMED;
        put_be32(dst, (uint32_t)clen);
        out->len += 4 + clen;
    }
    return 0;
}

static int deflate_lz4(hd_slice_t in, hd_buf_t *out)
{
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    size_t bound = LZ4F_compressFrameBound(in.len, &prefs);
    uint8_t *dst = hd_buf_ensure(out, bound);
    size_t n = LZ4F_compressFrame(dst, bound, in.p, in.len, &prefs);
    if (LZ4F_isError(n))
        return HD_EMALFORMED;
    out->len += n;
    return 0;
}

static int deflate_zstd(hd_slice_t in, hd_buf_t *out)
{
    size_t bound = ZSTD_compressBound(in.len);
    uint8_t *dst = hd_buf_ensure(out, bound);
    size_t n = ZSTD_compress(dst, bound, in.p, in.len, ZSTD_CLEVEL_DEFAULT);
    if (ZSTD_isError(n))
        return HD_EMALFORMED;
    out->len += n;
    return 0;
}

int broker_deflate(int codec, hd_slice_t in, hd_buf_t *out)
{
    switch (codec) {
    case BROKER_CODEC_GZIP:
        return deflate_gzip(in, out);
    case BROKER_CODEC_SNAPPY:
        return deflate_snappy(in, out);
    case BROKER_CODEC_LZ4:
        return deflate_lz4(in, out);
    case BROKER_CODEC_ZSTD:
        return deflate_zstd(in, out);
    default:
        return HD_EUNSUPPORTED;
    }
}

int broker_batch_recompress(hd_slice_t batch, int codec, size_t max_inflated, hd_buf_t *scratch,
                            hd_buf_t *out)
{
    if (batch.len < BROKER_BATCH_HEADER_LEN || codec < BROKER_CODEC_NONE ||
        codec > BROKER_CODEC_ZSTD)
        return HD_EMALFORMED;
    broker_batch_hdr_t h;
    broker_batch_hdr_decode(batch.p, &h);
    int from = h.attributes & BROKER_ATTR_CODEC_MASK;
    hd_slice_t recs =
        hd_slice(batch.p + BROKER_BATCH_HEADER_LEN, batch.len - BROKER_BATCH_HEADER_LEN);
    if (from != BROKER_CODEC_NONE) {
        scratch->len = 0;
        int rc = broker_inflate(from, recs, max_inflated, scratch);
        if (rc < 0)
            return rc;
        recs = hd_slice(scratch->p, scratch->len);
    }
    size_t start = out->len;
    hd_buf_put(out, batch.p, BROKER_BATCH_HEADER_LEN);
    if (codec == BROKER_CODEC_NONE) {
        hd_buf_put(out, recs.p, recs.len);
    } else {
        int rc = broker_deflate(codec, recs, out);
        if (rc < 0) {
            out->len = start;
            return rc;
        }
    }
    size_t total = out->len - start;
    if (total - 12 > INT32_MAX) {
        out->len = start;
        return HD_ETOOBIG;
    }
    uint8_t *p = out->p + start;
    put_be32(p + 8, (uint32_t)(total - 12));
    uint16_t attrs = (uint16_t)(((uint16_t)h.attributes & ~BROKER_ATTR_CODEC_MASK) | codec);
    p[21] = (uint8_t)(attrs >> 8);
    p[22] = (uint8_t)attrs;
    put_be32(p + 17, hd_crc32c(0, p + 21, total - 21));
    return 0;
}
