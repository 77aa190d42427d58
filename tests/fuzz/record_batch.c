/* Fuzz target: RecordBatch v2 validation and record iteration (all codecs), as a Produce's
 * records field reaches the broker. A batch that validates must also iterate cleanly, and,
 * rewritten with another codec (a topic's compression.type), still validate and hold the same
 * records. The check of the broker's own kept batches (broker_batch_validate_kept) accepts every
 * batch a producer may send, and what it accepts iterates cleanly. */
#include "broker/records.h"
#include "util/crc32c.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_cb(void *ctx, const broker_record_t *rec)
{
    size_t *n = ctx;
    (*n) += rec->key.len + rec->value.len + 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20))
        return 0;
    /* Fix up the CRC half of the time so the fuzzer reaches the record parser. */
    uint8_t *b = malloc(size ? size : 1);
    memcpy(b, data, size);
    if (size >= BROKER_BATCH_HEADER_LEN && (b[size - 1] & 1)) {
        uint32_t crc = hd_crc32c(0, b + 21, size - 21);
        b[17] = (uint8_t)(crc >> 24);
        b[18] = (uint8_t)(crc >> 16);
        b[19] = (uint8_t)(crc >> 8);
        b[20] = (uint8_t)crc;
    }
    broker_batch_hdr_t h;
    const char *why = "";
    int rc = broker_batch_validate(hd_slice(b, size), true, 4u << 20, &h, &why);
    hd_buf_t scratch;
    hd_buf_init(&scratch);
    size_t n = 0;
    int it = broker_batch_for_each(hd_slice(b, size), 4u << 20, &scratch, count_cb, &n);
    if (rc == 0 && it != 0)
        abort(); /* validated but does not iterate */
    broker_batch_hdr_t hk;
    int kept = broker_batch_validate_kept(hd_slice(b, size), 4u << 20, &hk, &why);
    if ((rc == 0 && kept != 0) || (kept == 0 && it != 0))
        abort(); /* the kept check is looser, and what it accepts iterates */
    if (rc == 0) {
        int codec = (h.attributes & BROKER_ATTR_CODEC_MASK) == BROKER_CODEC_NONE
                        ? 1 + (int)(size % 4)
                        : BROKER_CODEC_NONE;
        hd_buf_t z;
        hd_buf_init(&z);
        if (broker_batch_recompress(hd_slice(b, size), codec, 4u << 20, &scratch, &z) != 0)
            abort(); /* a validated batch always recompresses */
        broker_batch_hdr_t h2;
        size_t n2 = 0;
        if (broker_batch_validate(hd_buf_slice(&z), true, 4u << 20, &h2, &why) != 0 ||
            h2.records_count != h.records_count ||
            broker_batch_for_each(hd_buf_slice(&z), 4u << 20, &scratch, count_cb, &n2) != 0 ||
            n2 != n)
            abort();
        hd_buf_deinit(&z);
    }
    hd_buf_deinit(&scratch);
    free(b);
    return 0;
}
