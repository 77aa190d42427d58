/* Kafka framing and headers, and the hand-built ApiVersions fallback answer.
 *
 * A frame is an int32 big-endian size followed by that many bytes. A request frame holds
 *   request header v1: api_key i16, api_version i16, correlation_id i32,
 *                      client_id nullable string (int16 length, -1 = null)
 *   request header v2: the same, then a tag buffer (client_id keeps its int16 length)
 * then the body. A response frame holds
 *   response header v0: correlation_id i32
 *   response header v1: correlation_id i32, then a tag buffer
 * then the body. v2/v1 are used for flexible versions, except that the ApiVersions response
 * header is always v0 (AK ApiMessageTypeGenerator; COMPAT §3). */
#include "kafka/kafka.h"
#include "kafka/kafka_int.h"
#include "util/err.h"
#include "util/say.h"

#include <string.h>

int kafka_frame_decode(hd_slice_t in, size_t max_frame, hd_slice_t *body, size_t *consumed)
{
    if (in.len < 4)
        return HD_EINCOMPLETE;
    int32_t size = (int32_t)(((uint32_t)in.p[0] << 24) | ((uint32_t)in.p[1] << 16) |
                             ((uint32_t)in.p[2] << 8) | in.p[3]);
    if (size < 0)
        return HD_EMALFORMED;
    if ((size_t)size > max_frame)
        return HD_ETOOBIG;
    if (size < KAFKA_REQUEST_HEADER_MIN)
        return HD_EMALFORMED;
    if (in.len - 4 < (size_t)size)
        return HD_EINCOMPLETE;
    *body = hd_slice(in.p + 4, (size_t)size);
    *consumed = 4 + (size_t)size;
    return 0;
}

int kafka_request_header_decode(hd_reader_t *r, kafka_request_header_t *h)
{
    memset(h, 0, sizeof *h);
    h->api_key = hd_read_i16(r);
    h->api_version = hd_read_i16(r);
    h->correlation_id = hd_read_i32(r);
    if (r->err)
        return r->err;
    h->api = kafka_api_find(h->api_key);
    if (!h->api || !kafka_api_supports(h->api, h->api_version))
        return HD_EUNSUPPORTED;
    h->flexible = kafka_api_flexible(h->api, h->api_version);
    int16_t n = hd_read_i16(r);
    if (n == -1) {
        h->client_id.is_null = true;
    } else if (n < -1) {
        hd_reader_fail(r, HD_EMALFORMED);
    } else {
        h->client_id.v = hd_read_bytes(r, (size_t)n);
    }
    if (h->flexible && !r->err)
        kafka__skip_tags(r);
    return r->err;
}

void kafka_request_header_encode(hd_buf_t *out, const kafka_api_t *api, int16_t version,
                                 int32_t correlation_id, const char *client_id)
{
    hd_buf_put_i16be(out, api->key);
    hd_buf_put_i16be(out, version);
    hd_buf_put_i32be(out, correlation_id);
    if (client_id) {
        size_t n = strnlen(client_id, INT16_MAX);
        hd_buf_put_i16be(out, (int16_t)n);
        hd_buf_put(out, client_id, n);
    } else {
        hd_buf_put_i16be(out, -1);
    }
    if (kafka_api_flexible(api, version))
        hd_buf_put_u8(out, 0);
}

void kafka_response_header_encode(hd_buf_t *out, const kafka_api_t *api, int16_t version,
                                  int32_t correlation_id)
{
    hd_buf_put_i32be(out, correlation_id);
    if (api->key != KAFKA_API_ApiVersions && kafka_api_flexible(api, version))
        hd_buf_put_u8(out, 0);
}

int kafka_request_decode(const kafka_api_t *api, int16_t version, hd_reader_t *r, void *out,
                         hd_arena_t *a)
{
    /* Kafka ignores bytes after a request body, and librdkafka 2.0.2 sends some: after
     * ListGroups v4 and OffsetFetch v7 bodies (an extra tag buffer). So requests are decoded
     * as a prefix of the frame. */
    int rc = kafka_decode_prefix(api->req, version, kafka_api_flexible(api, version), r, out, a);
    if (rc == 0 && r->pos != r->len)
        say_debug("%s v%d: ignoring %zu bytes after the request body", api->name, version,
                  r->len - r->pos);
    return rc;
}

int kafka_response_decode(const kafka_api_t *api, int16_t version, hd_reader_t *r, void *out,
                          hd_arena_t *a)
{
    return kafka_decode(api->resp, version, kafka_api_flexible(api, version), r, out, a);
}

int kafka_response_encode(const kafka_api_t *api, int16_t version, int32_t correlation_id,
                          const void *resp, hd_buf_t *out)
{
    size_t start = out->len;
    size_t off = hd_buf_reserve_i32(out);
    kafka_response_header_encode(out, api, version, correlation_id);
    int rc = kafka_encode(api->resp, version, kafka_api_flexible(api, version), resp, out);
    if (rc) {
        out->len = start;
        return rc;
    }
    hd_buf_patch_i32be(out, off, (int32_t)(out->len - off - 4));
    return 0;
}

_Thread_local kafka_splices_t *kafka__splices;
_Thread_local size_t kafka__splice_min;

int kafka_response_encode_spliced(const kafka_api_t *api, int16_t version, int32_t correlation_id,
                                  const void *resp, hd_buf_t *out, size_t min_len,
                                  kafka_splices_t *sp)
{
    size_t start = out->len;
    int n0 = sp->n;
    size_t total0 = sp->total;
    size_t off = hd_buf_reserve_i32(out);
    kafka_response_header_encode(out, api, version, correlation_id);
    kafka__splices = sp;
    kafka__splice_min = min_len ? min_len : 1;
    int rc = kafka_encode(api->resp, version, kafka_api_flexible(api, version), resp, out);
    kafka__splices = NULL;
    if (rc) {
        out->len = start;
        sp->n = n0;
        sp->total = total0;
        return rc;
    }
    hd_buf_patch_i32be(out, off, (int32_t)(out->len - off - 4 + (sp->total - total0)));
    return 0;
}

int kafka_request_encode(const kafka_api_t *api, int16_t version, int32_t correlation_id,
                         const char *client_id, const void *req, hd_buf_t *out)
{
    size_t start = out->len;
    size_t off = hd_buf_reserve_i32(out);
    kafka_request_header_encode(out, api, version, correlation_id, client_id);
    int rc = kafka_encode(api->req, version, kafka_api_flexible(api, version), req, out);
    if (rc) {
        out->len = start;
        return rc;
    }
    hd_buf_patch_i32be(out, off, (int32_t)(out->len - off - 4));
    return 0;
}

/* Bytes: size(4) correlation_id(4) ErrorCode=35(2) ApiKeys count=1(4) {18, min, max}(6).
 * AK answers exactly this without parsing the request body (RequestContext.java, KIP-511). */
void kafka_apiversions_fallback_encode(int32_t correlation_id, hd_buf_t *out)
{
    const kafka_api_t *api = kafka_api_find(KAFKA_API_ApiVersions);
    size_t off = hd_buf_reserve_i32(out);
    hd_buf_put_i32be(out, correlation_id);
    hd_buf_put_i16be(out, KAFKA_ERR_UNSUPPORTED_VERSION);
    hd_buf_put_i32be(out, 1);
    hd_buf_put_i16be(out, api->key);
    hd_buf_put_i16be(out, api->min_version);
    hd_buf_put_i16be(out, api->max_version);
    hd_buf_patch_i32be(out, off, (int32_t)(out->len - off - 4));
}
