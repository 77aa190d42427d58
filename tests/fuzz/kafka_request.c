/* libFuzzer target: arbitrary bytes through frame decode, request header decode and the request
 * decoder of whatever API and version the header names; a decoded request is re-encoded, decoded
 * again and re-encoded, and the two encodings must be identical (the first decode normalises,
 * e.g. any non-zero bool byte to 1). Unsupported ApiVersions versions get the fallback answer. */
#include "kafka/kafka.h"
#include "util/err.h"
#include "util/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hd_slice_t body;
    size_t used;
    if (kafka_frame_decode(hd_slice(data, size), 1 << 20, &body, &used) != 0)
        return 0;
    hd_reader_t r = hd_reader_init(body);
    kafka_request_header_t h;
    hd_buf_t out, again;
    hd_buf_init(&out);
    hd_buf_init(&again);
    hd_arena_t a;
    hd_arena_init(&a, 8 * size + 65536);
    void *req = NULL, *req2 = NULL;

    int rc = kafka_request_header_decode(&r, &h);
    if (rc == HD_EUNSUPPORTED && h.api_key == KAFKA_API_ApiVersions)
        kafka_apiversions_fallback_encode(h.correlation_id, &out);
    if (rc)
        goto done;
    req = hd_malloc(h.api->req_size);
    if (kafka_request_decode(h.api, h.api_version, &r, req, &a) != 0)
        goto done;
    kafka_dump(h.api->req, h.api_version, req, &out);
    hd_buf_reset(&out);
    HD_ASSERT(kafka_request_encode(h.api, h.api_version, h.correlation_id, NULL, req, &out) == 0);

    /* The re-encoded frame must decode, and encode to the same bytes. */
    HD_ASSERT(kafka_frame_decode(hd_buf_slice(&out), 1 << 30, &body, &used) == 0);
    r = hd_reader_init(body);
    HD_ASSERT(kafka_request_header_decode(&r, &h) == 0);
    req2 = hd_malloc(h.api->req_size);
    HD_ASSERT(kafka_request_decode(h.api, h.api_version, &r, req2, &a) == 0);
    HD_ASSERT(kafka_request_encode(h.api, h.api_version, h.correlation_id, NULL, req2, &again) ==
              0);
    HD_ASSERT(again.len == out.len && memcmp(again.p, out.p, out.len) == 0);
done:
    free(req);
    free(req2);
    hd_arena_deinit(&a);
    hd_buf_deinit(&out);
    hd_buf_deinit(&again);
    return 0;
}
