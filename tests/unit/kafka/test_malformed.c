/* Hostile input: framing limits, bad headers, bad lengths and counts, nulls where not allowed,
 * varint overflow, arena limits; plus encoder argument errors and the Kafka error-code table. */
#include "kafka/kafka.h"
#include "util/err.h"
#include "util/mem.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static int decode_req(int16_t key, int16_t ver, const uint8_t *p, size_t n, size_t arena_limit,
                      size_t *arena_used)
{
    const kafka_api_t *api = kafka_api_find(key);
    hd_arena_t a;
    hd_arena_init(&a, arena_limit);
    void *out = hd_malloc(api->req_size);
    hd_reader_t r = hd_reader_init(hd_slice(p, n));
    int rc = kafka_request_decode(api, ver, &r, out, &a);
    if (arena_used)
        *arena_used = a._used;
    free(out);
    hd_arena_deinit(&a);
    return rc;
}

static void test_frame_waits_for_size_and_body(void **state)
{
    (void)state;
    static const uint8_t f[] = {0x00, 0x00, 0x00, 0x0c, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 99};
    hd_slice_t body;
    size_t used = 0;
    for (size_t n = 0; n < 16; n++)
        assert_int_equal(kafka_frame_decode(hd_slice(f, n), 1024, &body, &used), HD_EINCOMPLETE);
    assert_int_equal(kafka_frame_decode(hd_slice(f, sizeof f), 1024, &body, &used), 0);
    assert_int_equal(used, 16);
    assert_ptr_equal(body.p, f + 4);
    assert_int_equal(body.len, 12);
}

static void test_frame_over_max_is_too_big_before_the_body_arrives(void **state)
{
    (void)state;
    static const uint8_t two_gib[] = {0x7f, 0xff, 0xff, 0xff};
    static const uint8_t just_over[] = {0x00, 0x00, 0x04, 0x01};
    hd_slice_t body;
    size_t used;
    assert_int_equal(
        kafka_frame_decode(hd_slice(two_gib, 4), KAFKA_FRAME_MAX_DEFAULT, &body, &used),
        HD_ETOOBIG);
    assert_int_equal(kafka_frame_decode(hd_slice(just_over, 4), 1024, &body, &used), HD_ETOOBIG);
}

static void test_frame_negative_or_tiny_size_is_malformed(void **state)
{
    (void)state;
    static const uint8_t neg1[] = {0xff, 0xff, 0xff, 0xff};
    static const uint8_t min32[] = {0x80, 0x00, 0x00, 0x00}; /* 2 GiB as an int32 */
    static const uint8_t tiny[] = {0x00, 0x00, 0x00, 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    hd_slice_t body;
    size_t used;
    assert_int_equal(kafka_frame_decode(hd_slice(neg1, 4), 1024, &body, &used), HD_EMALFORMED);
    assert_int_equal(kafka_frame_decode(hd_slice(min32, 4), 1024, &body, &used), HD_EMALFORMED);
    assert_int_equal(kafka_frame_decode(hd_slice(tiny, sizeof tiny), 1024, &body, &used),
                     HD_EMALFORMED);
}

static void test_header_unknown_key_still_gives_correlation_id(void **state)
{
    (void)state;
    static const uint8_t h1[] = {0x00, 0x63, 0x00, 0x01, 0x00, 0x00, 0x01, 0x02, 0xff, 0xff};
    kafka_request_header_t h;
    hd_reader_t r = hd_reader_init(hd_slice(h1, sizeof h1));
    assert_int_equal(kafka_request_header_decode(&r, &h), HD_EUNSUPPORTED);
    assert_int_equal(h.api_key, 99);
    assert_int_equal(h.correlation_id, 0x102);
    assert_null(h.api);
}

static void test_header_too_new_apiversions_is_unsupported_with_api_set(void **state)
{
    (void)state;
    /* ApiVersions v4 with a body we must not parse. */
    static const uint8_t h4[] = {0x00, 0x12, 0x00, 0x04, 0x00, 0x00, 0x00,
                                 0x2a, 0x00, 0x00, 0x00, 0x07, 0x66, 0x00};
    kafka_request_header_t h;
    hd_reader_t r = hd_reader_init(hd_slice(h4, sizeof h4));
    assert_int_equal(kafka_request_header_decode(&r, &h), HD_EUNSUPPORTED);
    assert_int_equal(h.api_key, KAFKA_API_ApiVersions);
    assert_int_equal(h.api_version, 4);
    assert_int_equal(h.correlation_id, 42);
    assert_non_null(h.api);
    /* Versions below the advertised minimum (Fetch v2) are unsupported too. */
    static const uint8_t p2[] = {0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0xff, 0xff};
    r = hd_reader_init(hd_slice(p2, sizeof p2));
    assert_int_equal(kafka_request_header_decode(&r, &h), HD_EUNSUPPORTED);
}

static void test_header_truncated_or_bad_client_id_is_malformed(void **state)
{
    (void)state;
    static const uint8_t ok[] = {0x00, 0x03, 0x00, 0x01, 0x00, 0x00,
                                 0x00, 0x01, 0x00, 0x02, 'a',  'b'};
    kafka_request_header_t h;
    for (size_t n = 0; n < sizeof ok; n++) {
        hd_reader_t r = hd_reader_init(hd_slice(ok, n));
        assert_int_equal(kafka_request_header_decode(&r, &h), HD_EMALFORMED);
    }
    uint8_t bad[sizeof ok];
    memcpy(bad, ok, sizeof ok);
    bad[8] = 0xff;
    bad[9] = 0xfe; /* client_id length -2 */
    hd_reader_t r = hd_reader_init(hd_slice(bad, sizeof bad));
    assert_int_equal(kafka_request_header_decode(&r, &h), HD_EMALFORMED);
}

static void test_huge_array_count_fails_without_allocating(void **state)
{
    (void)state;
    /* Metadata v1: Topics count 0x7fffffff with 2 bytes behind it. */
    static const uint8_t m[] = {0x7f, 0xff, 0xff, 0xff, 0x00, 0x01};
    size_t used = 1;
    assert_int_equal(decode_req(KAFKA_API_Metadata, 1, m, sizeof m, 0, &used), HD_EMALFORMED);
    assert_int_equal(used, 0);
    /* OffsetFetch v6 (compact): Topics count 0xfffffffe in a 5-byte uvarint. */
    static const uint8_t o[] = {0x02, 'g', 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00};
    assert_int_equal(decode_req(KAFKA_API_OffsetFetch, 6, o, sizeof o, 0, &used), HD_EMALFORMED);
    /* Only the group id string was allocated. */
    assert_true(used <= 16);
}

static void test_array_over_max_count_is_too_big(void **state)
{
    (void)state;
    /* DeleteTopics v0: TopicNames of KAFKA_MAX_ARRAY + 1 empty strings (2 bytes each), present. */
    size_t n = (size_t)KAFKA_MAX_ARRAY + 1;
    size_t len = 4 + 2 * n + 4;
    uint8_t *p = hd_calloc(1, len);
    p[0] = (uint8_t)(n >> 24);
    p[1] = (uint8_t)(n >> 16);
    p[2] = (uint8_t)(n >> 8);
    p[3] = (uint8_t)n;
    assert_int_equal(decode_req(KAFKA_API_DeleteTopics, 0, p, len, 0, NULL), HD_ETOOBIG);
    free(p);
}

static void test_arena_limit_is_too_big(void **state)
{
    (void)state;
    /* Metadata v1 with 3 topics: the topic array alone needs more than 16 bytes. */
    static const uint8_t m[] = {0x00, 0x00, 0x00, 0x03, 0x00, 0x01, 'a',
                                0x00, 0x01, 'b',  0x00, 0x01, 'c'};
    assert_int_equal(decode_req(KAFKA_API_Metadata, 1, m, sizeof m, 16, NULL), HD_ETOOBIG);
    assert_int_equal(decode_req(KAFKA_API_Metadata, 1, m, sizeof m, 0, NULL), 0);
}

static void test_negative_lengths_are_malformed(void **state)
{
    (void)state;
    /* Metadata v1: array count -2. */
    static const uint8_t a[] = {0xff, 0xff, 0xff, 0xfe};
    assert_int_equal(decode_req(KAFKA_API_Metadata, 1, a, sizeof a, 0, NULL), HD_EMALFORMED);
    /* Metadata v1: topic name length -2. */
    static const uint8_t s[] = {0x00, 0x00, 0x00, 0x01, 0xff, 0xfe};
    assert_int_equal(decode_req(KAFKA_API_Metadata, 1, s, sizeof s, 0, NULL), HD_EMALFORMED);
    /* Produce v3: records length -5. */
    static const uint8_t pr[] = {0xff, 0xff, 0x00, 0x01, 0x00, 0x00, 0x00, 0x10, 0x00,
                                 0x00, 0x00, 0x01, 0x00, 0x01, 't',  0x00, 0x00, 0x00,
                                 0x01, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xfb};
    assert_int_equal(decode_req(KAFKA_API_Produce, 3, pr, sizeof pr, 0, NULL), HD_EMALFORMED);
    /* ... while -1 (null records) is allowed there. */
    uint8_t ok[sizeof pr];
    memcpy(ok, pr, sizeof pr);
    ok[sizeof ok - 1] = 0xff;
    assert_int_equal(decode_req(KAFKA_API_Produce, 3, ok, sizeof ok, 0, NULL), 0);
}

static void test_null_where_not_nullable_is_malformed(void **state)
{
    (void)state;
    /* Produce v3 with the topic name null. */
    static const uint8_t pr[] = {0xff, 0xff, 0x00, 0x01, 0x00, 0x00, 0x00, 0x10, 0x00,
                                 0x00, 0x00, 0x01, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00};
    assert_int_equal(decode_req(KAFKA_API_Produce, 3, pr, sizeof pr, 0, NULL), HD_EMALFORMED);
    /* OffsetFetch v6 with a null (compact 0) group id. */
    static const uint8_t of[] = {0x00, 0x01, 0x00};
    assert_int_equal(decode_req(KAFKA_API_OffsetFetch, 6, of, sizeof of, 0, NULL), HD_EMALFORMED);
    /* OffsetFetch v1: Topics not nullable before v2. */
    static const uint8_t of1[] = {0x00, 0x01, 'g', 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(decode_req(KAFKA_API_OffsetFetch, 1, of1, sizeof of1, 0, NULL), HD_EMALFORMED);
    assert_int_equal(decode_req(KAFKA_API_OffsetFetch, 2, of1, sizeof of1, 0, NULL), 0);
}

static void test_varint_overflow_is_malformed(void **state)
{
    (void)state;
    /* ApiVersions v3: ClientSoftwareName length as a 6-byte varint, and as 5 bytes > UINT32_MAX. */
    static const uint8_t six[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01, 0x00};
    static const uint8_t big[] = {0xff, 0xff, 0xff, 0xff, 0x7f, 0x01, 0x00};
    assert_int_equal(decode_req(KAFKA_API_ApiVersions, 3, six, sizeof six, 0, NULL), HD_EMALFORMED);
    assert_int_equal(decode_req(KAFKA_API_ApiVersions, 3, big, sizeof big, 0, NULL), HD_EMALFORMED);
    /* A tag buffer claiming more tags than bytes. */
    static const uint8_t tags[] = {0x01, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f};
    assert_int_equal(decode_req(KAFKA_API_ApiVersions, 3, tags, sizeof tags, 0, NULL),
                     HD_EMALFORMED);
}

static void test_string_longer_than_input_is_malformed(void **state)
{
    (void)state;
    static const uint8_t s[] = {0x10, 'a', 'b', 0x01, 0x00};
    assert_int_equal(decode_req(KAFKA_API_ApiVersions, 3, s, sizeof s, 0, NULL), HD_EMALFORMED);
}

static void test_tagged_field_with_wrong_size_is_malformed(void **state)
{
    (void)state;
    /* ApiVersionsResponse v3: tag 1 (int64) with size 9. */
    static const uint8_t t[] = {0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x09,
                                0,    0,    0,    0,    0,    0,    0,    5,    0};
    hd_arena_t a;
    hd_arena_init(&a, 0);
    kafka_ApiVersionsResponse_t dec;
    hd_reader_t r = hd_reader_init(hd_slice(t, sizeof t));
    assert_int_equal(kafka_decode(&kafka_schema_ApiVersionsResponse, 3, true, &r, &dec, &a),
                     HD_EMALFORMED);
    hd_arena_deinit(&a);
}

static void test_encode_rejects_bad_structs_and_leaves_buffer(void **state)
{
    (void)state;
    hd_buf_t b;
    hd_buf_init(&b);
    hd_buf_put_u8(&b, 0xaa);
    char *big = hd_malloc(40000);
    memset(big, 'x', 39999);
    big[39999] = 0;
    kafka_MetadataRequest_MetadataRequestTopic_t t = {.Name = big};
    kafka_MetadataRequest_t req = {.Topics = &t, .Topics_n = 1};
    assert_int_equal(kafka_encode(&kafka_schema_MetadataRequest, 1, false, &req, &b), HD_EINVAL);
    assert_int_equal(b.len, 1);
    req.Topics_n = -2;
    assert_int_equal(kafka_encode(&kafka_schema_MetadataRequest, 1, false, &req, &b), HD_EINVAL);
    kafka_MetadataResponse_t resp;
    kafka_defaults(&kafka_schema_MetadataResponse, &resp);
    resp.Brokers_n = 3; /* with a NULL pointer */
    assert_int_equal(kafka_response_encode(kafka_api_find(KAFKA_API_Metadata), 1, 1, &resp, &b),
                     HD_EINVAL);
    assert_int_equal(b.len, 1);
    /* Null where the version does not allow it is written empty. */
    req.Topics = NULL;
    req.Topics_n = -1;
    assert_int_equal(kafka_encode(&kafka_schema_MetadataRequest, 0, false, &req, &b), 0);
    assert_int_equal(b.len, 5);
    assert_int_equal(b.p[4], 0);
    free(big);
    hd_buf_deinit(&b);
}

static void test_error_names_and_rc_mapping(void **state)
{
    (void)state;
    assert_string_equal(kafka_err_name(KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION),
                        "UNKNOWN_TOPIC_OR_PARTITION");
    assert_string_equal(kafka_err_name(-1), "UNKNOWN_SERVER_ERROR");
    assert_string_equal(kafka_err_name(87), "INVALID_RECORD");
    assert_string_equal(kafka_err_name(9999), "UNKNOWN_CODE");
    assert_int_equal(kafka_err_from_rc(0), 0);
    assert_int_equal(kafka_err_from_rc(HD_ENOTFOUND), 3);
    assert_int_equal(kafka_err_from_rc(HD_ETOOBIG), 10);
    assert_int_equal(kafka_err_from_rc(HD_ECORRUPT), 2);
    assert_int_equal(kafka_err_from_rc(HD_EMALFORMED), 87);
    assert_int_equal(kafka_err_from_rc(HD_ESEQUENCE), 45);
    assert_int_equal(kafka_err_from_rc(HD_EFENCED), 47);
    assert_int_equal(kafka_err_from_rc(-5 /* -EIO */), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_waits_for_size_and_body),
        cmocka_unit_test(test_frame_over_max_is_too_big_before_the_body_arrives),
        cmocka_unit_test(test_frame_negative_or_tiny_size_is_malformed),
        cmocka_unit_test(test_header_unknown_key_still_gives_correlation_id),
        cmocka_unit_test(test_header_too_new_apiversions_is_unsupported_with_api_set),
        cmocka_unit_test(test_header_truncated_or_bad_client_id_is_malformed),
        cmocka_unit_test(test_huge_array_count_fails_without_allocating),
        cmocka_unit_test(test_array_over_max_count_is_too_big),
        cmocka_unit_test(test_arena_limit_is_too_big),
        cmocka_unit_test(test_negative_lengths_are_malformed),
        cmocka_unit_test(test_null_where_not_nullable_is_malformed),
        cmocka_unit_test(test_varint_overflow_is_malformed),
        cmocka_unit_test(test_string_longer_than_input_is_malformed),
        cmocka_unit_test(test_tagged_field_with_wrong_size_is_malformed),
        cmocka_unit_test(test_encode_rejects_bad_structs_and_leaves_buffer),
        cmocka_unit_test(test_error_names_and_rc_mapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
