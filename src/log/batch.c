/* RecordBatch v2 header checks: the only part of Kafka's format the log needs.
 *
 * A RecordBatch v2 frame, all integers big-endian:
 *   byte  0  baseOffset            i64  assigned by the log on append (not covered by the CRC)
 *   byte  8  batchLength           i32  bytes after this field, i.e. total length - 12
 *   byte 12  partitionLeaderEpoch  i32  set to 0 by the log on append (not covered by the CRC)
 *   byte 16  magic                 i8   must be 2
 *   byte 17  crc                   u32  CRC-32C (Castagnoli) of bytes 21..end
 *   byte 21  attributes            i16
 *   byte 23  lastOffsetDelta       i32  the batch holds offsets baseOffset..baseOffset+delta
 *   byte 27  baseTimestamp         i64
 *   byte 35  maxTimestamp          i64  used by the time index and time retention
 *   byte 43  producerId            i64
 *   byte 51  producerEpoch         i16
 *   byte 53  baseSequence          i32
 *   byte 57  recordsCount          i32
 *   byte 61  records               (opaque to the log, possibly compressed)
 */
#include "log/log_int.h"
#include "util/crc32c.h"
#include "util/err.h"

int log__hdr_parse(const uint8_t hdr[LOG_BATCH_HEADER_LEN], log_hdr_t *h)
{
    int32_t blen = (int32_t)log__get_u32(hdr + LOG_HDR_BATCH_LENGTH);
    int32_t lod = (int32_t)log__get_u32(hdr + LOG_HDR_LAST_OFFSET_DELTA);
    if (blen < LOG_BATCH_HEADER_LEN - 12 || blen > LOG_BATCH_MAX_LEN - 12)
        return HD_EMALFORMED;
    if (hdr[LOG_HDR_MAGIC] != 2 || lod < 0)
        return HD_EMALFORMED;
    h->base_offset = (int64_t)log__get_u64(hdr + LOG_HDR_BASE_OFFSET);
    h->total_len = (int64_t)blen + 12;
    h->last_offset_delta = lod;
    h->max_timestamp = (int64_t)log__get_u64(hdr + LOG_HDR_MAX_TIMESTAMP);
    return 0;
}

bool log__batch_crc_ok(const uint8_t *batch, size_t len)
{
    if (len < LOG_BATCH_HEADER_LEN)
        return false;
    uint32_t want = log__get_u32(batch + LOG_HDR_CRC);
    return hd_crc32c(0, batch + LOG_HDR_ATTRIBUTES, len - LOG_HDR_ATTRIBUTES) == want;
}
