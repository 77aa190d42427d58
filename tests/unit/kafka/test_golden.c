/* Golden vectors: request and response bytes written by hand from the Kafka protocol spec, checked
 * against the encoder byte for byte and decoded back. */
#include "kafka/kafka.h"
#include "util/err.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static void assert_bytes(const hd_buf_t *b, const uint8_t *want, size_t n)
{
    assert_int_equal(b->len, n);
    assert_memory_equal(b->p, want, n);
}

/* Frame-decodes and header-decodes `frame`, checking key/version/correlation id; leaves *r at the
 * start of the body. */
static void open_request(const uint8_t *frame, size_t n, int16_t key, int16_t ver, int32_t corr,
                         hd_reader_t *r, kafka_request_header_t *h)
{
    hd_slice_t body;
    size_t used;
    assert_int_equal(kafka_frame_decode(hd_slice(frame, n), KAFKA_FRAME_MAX_DEFAULT, &body, &used),
                     0);
    assert_int_equal(used, n);
    *r = hd_reader_init(body);
    assert_int_equal(kafka_request_header_decode(r, h), 0);
    assert_int_equal(h->api_key, key);
    assert_int_equal(h->api_version, ver);
    assert_int_equal(h->correlation_id, corr);
}

static void test_apiversions_v3_request_uses_header_v2_and_compact_strings(void **state)
{
    (void)state;
    static const uint8_t want[] = {
        0x00, 0x00, 0x00, 0x1f,                         /* size 31 */
        0x00, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, /* key 18, v3, correlation 1 */
        0x00, 0x02, 'c',  '1',                          /* client_id: classic int16 length */
        0x00,                                           /* header tag buffer */
        0x0b, 'l',  'i',  'b',  'r',  'd',  'k',  'a',  'f', 'k', 'a', /* compact "librdkafka" */
        0x06, '2',  '.',  '0',  '.',  '2',                             /* compact "2.0.2" */
        0x00,                                                          /* body tag buffer */
    };
    const kafka_api_t *api = kafka_api_find(KAFKA_API_ApiVersions);
    kafka_ApiVersionsRequest_t req = {.ClientSoftwareName = "librdkafka",
                                      .ClientSoftwareVersion = "2.0.2"};
    hd_buf_t b;
    hd_buf_init(&b);
    assert_int_equal(kafka_request_encode(api, 3, 1, "c1", &req, &b), 0);
    assert_bytes(&b, want, sizeof want);

    hd_reader_t r;
    kafka_request_header_t h;
    open_request(want, sizeof want, 18, 3, 1, &r, &h);
    assert_true(h.flexible);
    assert_true(hd_slice_eq_str(h.client_id.v, "c1"));
    hd_arena_t a;
    hd_arena_init(&a, 0);
    kafka_ApiVersionsRequest_t dec;
    assert_int_equal(kafka_request_decode(h.api, 3, &r, &dec, &a), 0);
    assert_string_equal(dec.ClientSoftwareName, "librdkafka");
    assert_string_equal(dec.ClientSoftwareVersion, "2.0.2");
    hd_arena_deinit(&a);
    hd_buf_deinit(&b);
}

static void test_apiversions_v0_request_has_empty_body(void **state)
{
    (void)state;
    static const uint8_t want[] = {0x00, 0x00, 0x00, 0x0a, 0x00, 0x12, 0x00,
                                   0x00, 0x00, 0x00, 0x00, 0x09, 0xff, 0xff};
    hd_buf_t b;
    hd_buf_init(&b);
    kafka_ApiVersionsRequest_t req = {0};
    assert_int_equal(
        kafka_request_encode(kafka_api_find(KAFKA_API_ApiVersions), 0, 9, NULL, &req, &b), 0);
    assert_bytes(&b, want, sizeof want);
    hd_buf_deinit(&b);
}

static void test_apiversions_v3_response_header_is_v0(void **state)
{
    (void)state;
    const kafka_api_t *api = kafka_api_find(KAFKA_API_ApiVersions);
    kafka_ApiVersionsResponse_ApiVersion_t keys[32];
    assert_true(kafka_apis_n <= 32);
    for (size_t i = 0; i < kafka_apis_n; i++) {
        keys[i].ApiKey = kafka_apis[i].key;
        keys[i].MinVersion = kafka_apis[i].min_version;
        keys[i].MaxVersion = kafka_apis[i].max_version;
    }
    kafka_ApiVersionsResponse_t resp;
    kafka_defaults(&kafka_schema_ApiVersionsResponse, &resp);
    resp.ApiKeys = keys;
    resp.ApiKeys_n = 20;
    hd_buf_t b;
    hd_buf_init(&b);
    assert_int_equal(kafka_response_encode(api, 3, 77, &resp, &b), 0);
    /* size, correlation id, and no header tag buffer: ErrorCode follows at once. */
    static const uint8_t head[] = {
        0x00, 0x00, 0x00, 0x4d,                  /* correlation 77 */
        0x00, 0x00,                              /* ErrorCode */
        0x15,                                    /* compact count 20 + 1 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x00 /* {Produce, 0, 9}, tags */
    };
    assert_true(b.len >= 4 + sizeof head);
    assert_memory_equal(b.p + 4, head, sizeof head);
    /* 4 size + 4 corr + 2 err + 1 count + 20 * 7 + 4 throttle + 1 tags */
    assert_int_equal(b.len, 4 + 4 + 2 + 1 + 20 * 7 + 4 + 1);
    assert_int_equal(b.p[3], b.len - 4);
    hd_buf_deinit(&b);
}

static void test_tagged_field_is_written_only_when_set(void **state)
{
    (void)state;
    kafka_ApiVersionsResponse_t resp = {.FinalizedFeaturesEpoch = -1};
    hd_buf_t b;
    hd_buf_init(&b);
    assert_int_equal(kafka_encode(&kafka_schema_ApiVersionsResponse, 3, true, &resp, &b), 0);
    static const uint8_t plain[] = {0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00};
    assert_bytes(&b, plain, sizeof plain);

    hd_buf_reset(&b);
    resp.FinalizedFeaturesEpoch = 5;
    assert_int_equal(kafka_encode(&kafka_schema_ApiVersionsResponse, 3, true, &resp, &b), 0);
    static const uint8_t tagged[] = {0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, /* one tag */
                                     0x01, 0x08, 0,    0,    0,    0,    0,    0,    0, 5};
    assert_bytes(&b, tagged, sizeof tagged);

    /* Decode it back, with an unknown tag 9 added before it (skipped). */
    static const uint8_t with_unknown[] = {0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x02,
                                           0x01, 0x08, 0,    0,    0,    0,    0,    0,
                                           0,    5,    0x09, 0x02, 0xaa, 0xbb};
    hd_arena_t a;
    hd_arena_init(&a, 0);
    kafka_ApiVersionsResponse_t dec;
    hd_reader_t r = hd_reader_init(hd_slice(with_unknown, sizeof with_unknown));
    assert_int_equal(kafka_decode(&kafka_schema_ApiVersionsResponse, 3, true, &r, &dec, &a), 0);
    assert_int_equal(dec.FinalizedFeaturesEpoch, 5);
    assert_false(dec.ZkMigrationReady);
    /* Absent tagged fields take their defaults. */
    r = hd_reader_init(hd_slice(plain, sizeof plain));
    assert_int_equal(kafka_decode(&kafka_schema_ApiVersionsResponse, 3, true, &r, &dec, &a), 0);
    assert_int_equal(dec.FinalizedFeaturesEpoch, -1);
    hd_arena_deinit(&a);
    hd_buf_deinit(&b);
}

static void test_metadata_v0_and_v1_requests(void **state)
{
    (void)state;
    const kafka_api_t *api = kafka_api_find(KAFKA_API_Metadata);
    static const uint8_t v0[] = {0x00, 0x00, 0x00, 0x11, 0x00, 0x03, 0x00,
                                 0x00, 0x00, 0x00, 0x00, 0x02, 0xff, 0xff, /* client_id null */
                                 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't'};
    static const uint8_t v1[] = {0x00, 0x00, 0x00, 0x0e, 0x00, 0x03, 0x00, 0x01, 0x00,
                                 0x00, 0x00, 0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    kafka_MetadataRequest_MetadataRequestTopic_t t = {.Name = "t"};
    kafka_MetadataRequest_t req = {.Topics = &t, .Topics_n = 1};
    hd_buf_t b;
    hd_buf_init(&b);
    assert_int_equal(kafka_request_encode(api, 0, 2, NULL, &req, &b), 0);
    assert_bytes(&b, v0, sizeof v0);
    hd_buf_reset(&b);
    req.Topics = NULL;
    req.Topics_n = -1; /* null = all topics, from v1 */
    assert_int_equal(kafka_request_encode(api, 1, 3, NULL, &req, &b), 0);
    assert_bytes(&b, v1, sizeof v1);

    hd_arena_t a;
    hd_arena_init(&a, 0);
    hd_reader_t r;
    kafka_request_header_t h;
    kafka_MetadataRequest_t dec;
    open_request(v0, sizeof v0, 3, 0, 2, &r, &h);
    assert_true(h.client_id.is_null);
    assert_int_equal(kafka_request_decode(h.api, 0, &r, &dec, &a), 0);
    assert_int_equal(dec.Topics_n, 1);
    assert_string_equal(dec.Topics[0].Name, "t");
    assert_true(dec.AllowAutoTopicCreation); /* absent before v4: default true */
    open_request(v1, sizeof v1, 3, 1, 3, &r, &h);
    assert_int_equal(kafka_request_decode(h.api, 1, &r, &dec, &a), 0);
    assert_int_equal(dec.Topics_n, -1);
    assert_null(dec.Topics);
    /* The same null in v0, where Topics is not nullable, is malformed. */
    uint8_t bad[sizeof v1];
    memcpy(bad, v1, sizeof v1);
    bad[7] = 0;
    open_request(bad, sizeof bad, 3, 0, 3, &r, &h);
    assert_int_equal(kafka_request_decode(h.api, 0, &r, &dec, &a), HD_EMALFORMED);
    hd_arena_deinit(&a);
    hd_buf_deinit(&b);
}

static void test_produce_v7_request_with_one_partition(void **state)
{
    (void)state;
    static const uint8_t want[] = {
        0x00, 0x00, 0x00, 0x2a,                         /* size 42 */
        0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x03, /* Produce v7, correlation 3 */
        0x00, 0x01, 'p',                                /* client_id "p" */
        0xff, 0xff,                                     /* TransactionalId null */
        0xff, 0xff,                                     /* Acks -1 */
        0x00, 0x00, 0x75, 0x30,                         /* TimeoutMs 30000 */
        0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't',        /* TopicData[1], Name "t" */
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, /* PartitionData[1], Index 0 */
        0x00, 0x00, 0x00, 0x04, 0xca, 0xfe, 0xba, 0xbe, /* Records: 4 bytes */
    };
    static const uint8_t records[] = {0xca, 0xfe, 0xba, 0xbe};
    kafka_ProduceRequest_PartitionProduceData_t p = {.Index = 0};
    p.Records.v = hd_slice(records, sizeof records);
    kafka_ProduceRequest_TopicProduceData_t t = {
        .Name = "t", .PartitionData = &p, .PartitionData_n = 1};
    kafka_ProduceRequest_t req = {
        .Acks = -1, .TimeoutMs = 30000, .TopicData = &t, .TopicData_n = 1};
    const kafka_api_t *api = kafka_api_find(KAFKA_API_Produce);
    hd_buf_t b;
    hd_buf_init(&b);
    assert_int_equal(kafka_request_encode(api, 7, 3, "p", &req, &b), 0);
    assert_bytes(&b, want, sizeof want);

    hd_arena_t a;
    hd_arena_init(&a, 0);
    hd_reader_t r;
    kafka_request_header_t h;
    kafka_ProduceRequest_t dec;
    open_request(want, sizeof want, 0, 7, 3, &r, &h);
    assert_false(h.flexible);
    assert_int_equal(kafka_request_decode(h.api, 7, &r, &dec, &a), 0);
    assert_null(dec.TransactionalId);
    assert_int_equal(dec.Acks, -1);
    assert_int_equal(dec.TimeoutMs, 30000);
    assert_int_equal(dec.TopicData_n, 1);
    assert_string_equal(dec.TopicData[0].Name, "t");
    assert_int_equal(dec.TopicData[0].PartitionData_n, 1);
    const kafka_ProduceRequest_PartitionProduceData_t *dp = &dec.TopicData[0].PartitionData[0];
    assert_int_equal(dp->Index, 0);
    assert_false(dp->Records.is_null);
    assert_int_equal(dp->Records.v.len, 4);
    assert_ptr_equal(dp->Records.v.p, want + sizeof want - 4); /* zero copy */
    hd_arena_deinit(&a);
    hd_buf_deinit(&b);
}

static void test_fetch_v11_response(void **state)
{
    (void)state;
    static const uint8_t want[] = {
        0x00, 0x00, 0x00, 0x46, /* size 70 */
        0x00, 0x00, 0x00, 0x04, /* correlation 4 (header v0: Fetch v11 is not flexible) */
        0x00, 0x00, 0x00, 0x0a, /* ThrottleTimeMs 10 */
        0x00, 0x00,             /* ErrorCode 0 */
        0x00, 0x00, 0x00, 0x2a, /* SessionId 42 */
        0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't',        /* Responses[1], Topic "t" */
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, /* Partitions[1], index 2 */
        0x00, 0x00,                                     /* ErrorCode */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, /* HighWatermark 16 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, /* LastStableOffset 16 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* LogStartOffset 0 */
        0xff, 0xff, 0xff, 0xff,                         /* AbortedTransactions null */
        0xff, 0xff, 0xff, 0xff,                         /* PreferredReadReplica -1 */
        0x00, 0x00, 0x00, 0x03, 0x01, 0x02, 0x03,       /* Records */
    };
    static const uint8_t records[] = {1, 2, 3};
    kafka_FetchResponse_PartitionData_t p = {.PartitionIndex = 2,
                                             .HighWatermark = 16,
                                             .LastStableOffset = 16,
                                             .LogStartOffset = 0,
                                             .AbortedTransactions_n = -1,
                                             .PreferredReadReplica = -1};
    p.Records.v = hd_slice(records, 3);
    kafka_FetchResponse_FetchableTopicResponse_t t = {
        .Topic = "t", .Partitions = &p, .Partitions_n = 1};
    kafka_FetchResponse_t resp = {
        .ThrottleTimeMs = 10, .SessionId = 42, .Responses = &t, .Responses_n = 1};
    const kafka_api_t *api = kafka_api_find(KAFKA_API_Fetch);
    hd_buf_t b;
    hd_buf_init(&b);
    assert_int_equal(kafka_response_encode(api, 11, 4, &resp, &b), 0);
    assert_bytes(&b, want, sizeof want);

    hd_arena_t a;
    hd_arena_init(&a, 0);
    hd_reader_t r = hd_reader_init(hd_slice(want + 8, sizeof want - 8));
    kafka_FetchResponse_t dec;
    assert_int_equal(kafka_response_decode(api, 11, &r, &dec, &a), 0);
    assert_int_equal(dec.ThrottleTimeMs, 10);
    assert_int_equal(dec.ErrorCode, 0);
    assert_int_equal(dec.SessionId, 42);
    assert_int_equal(dec.Responses[0].Partitions[0].AbortedTransactions_n, -1);
    assert_int_equal(dec.Responses[0].Partitions[0].PreferredReadReplica, -1);
    hd_arena_deinit(&a);
    hd_buf_deinit(&b);
}

static void test_offsetfetch_v6_request_is_flexible(void **state)
{
    (void)state;
    static const uint8_t want[] = {
        0x00, 0x00, 0x00, 0x1c,                               /* size 28 */
        0x00, 0x09, 0x00, 0x06, 0x00, 0x00, 0x00, 0x05,       /* OffsetFetch v6, correlation 5 */
        0x00, 0x01, 'c',  0x00,                               /* client_id "c", header tags */
        0x02, 'g',                                            /* GroupId compact "g" */
        0x02, 0x02, 't',                                      /* Topics[1], Name compact "t" */
        0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* PartitionIndexes [0, 1] */
        0x00,                                                 /* topic tags */
        0x00,                                                 /* body tags */
    };
    int32_t parts[] = {0, 1};
    kafka_OffsetFetchRequest_OffsetFetchRequestTopic_t t = {
        .Name = "t", .PartitionIndexes = parts, .PartitionIndexes_n = 2};
    kafka_OffsetFetchRequest_t req = {.GroupId = "g", .Topics = &t, .Topics_n = 1};
    const kafka_api_t *api = kafka_api_find(KAFKA_API_OffsetFetch);
    hd_buf_t b;
    hd_buf_init(&b);
    assert_int_equal(kafka_request_encode(api, 6, 5, "c", &req, &b), 0);
    assert_bytes(&b, want, sizeof want);

    hd_arena_t a;
    hd_arena_init(&a, 0);
    hd_reader_t r;
    kafka_request_header_t h;
    kafka_OffsetFetchRequest_t dec;
    open_request(want, sizeof want, 9, 6, 5, &r, &h);
    assert_true(h.flexible);
    assert_int_equal(kafka_request_decode(h.api, 6, &r, &dec, &a), 0);
    assert_string_equal(dec.GroupId, "g");
    assert_int_equal(dec.Topics[0].PartitionIndexes_n, 2);
    assert_int_equal(dec.Topics[0].PartitionIndexes[1], 1);
    assert_false(dec.RequireStable);
    hd_arena_deinit(&a);
    hd_buf_deinit(&b);
}

static void test_initproducerid_v4_request(void **state)
{
    (void)state;
    static const uint8_t want[] = {
        0x00, 0x00, 0x00, 0x1c,                         /* size 28 */
        0x00, 0x16, 0x00, 0x04, 0x00, 0x00, 0x00, 0x06, /* InitProducerId v4, correlation 6 */
        0x00, 0x01, 'c',  0x00,                         /* client_id "c", header tags */
        0x00,                                           /* TransactionalId null (compact) */
        0x00, 0x00, 0xea, 0x60,                         /* TransactionTimeoutMs 60000 */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* ProducerId -1 */
        0xff, 0xff,                                     /* ProducerEpoch -1 */
        0x00,                                           /* body tags */
    };
    kafka_InitProducerIdRequest_t req = {.TransactionalId = NULL,
                                         .TransactionTimeoutMs = 60000,
                                         .ProducerId = -1,
                                         .ProducerEpoch = -1};
    const kafka_api_t *api = kafka_api_find(KAFKA_API_InitProducerId);
    hd_buf_t b;
    hd_buf_init(&b);
    assert_int_equal(kafka_request_encode(api, 4, 6, "c", &req, &b), 0);
    assert_bytes(&b, want, sizeof want);

    hd_arena_t a;
    hd_arena_init(&a, 0);
    hd_reader_t r;
    kafka_request_header_t h;
    kafka_InitProducerIdRequest_t dec;
    open_request(want, sizeof want, 22, 4, 6, &r, &h);
    assert_int_equal(kafka_request_decode(h.api, 4, &r, &dec, &a), 0);
    assert_null(dec.TransactionalId);
    assert_int_equal(dec.TransactionTimeoutMs, 60000);
    assert_int_equal(dec.ProducerId, -1);
    assert_int_equal(dec.ProducerEpoch, -1);
    hd_arena_deinit(&a);
    hd_buf_deinit(&b);
}

static void test_apiversions_fallback_is_v0_with_error_35(void **state)
{
    (void)state;
    static const uint8_t want[] = {
        0x00, 0x00, 0x00, 0x10,             /* size 16 */
        0x00, 0x00, 0x00, 0x07,             /* correlation 7 */
        0x00, 0x23,                         /* ErrorCode 35 */
        0x00, 0x00, 0x00, 0x01,             /* ApiKeys[1] */
        0x00, 0x12, 0x00, 0x00, 0x00, 0x03, /* {18, 0, 3} */
    };
    hd_buf_t b;
    hd_buf_init(&b);
    kafka_apiversions_fallback_encode(7, &b);
    assert_bytes(&b, want, sizeof want);
    /* It is also what the v0 response schema decodes. */
    hd_arena_t a;
    hd_arena_init(&a, 0);
    kafka_ApiVersionsResponse_t dec;
    hd_reader_t r = hd_reader_init(hd_slice(want + 8, sizeof want - 8));
    assert_int_equal(kafka_response_decode(kafka_api_find(KAFKA_API_ApiVersions), 0, &r, &dec, &a),
                     0);
    assert_int_equal(dec.ErrorCode, KAFKA_ERR_UNSUPPORTED_VERSION);
    assert_int_equal(dec.ApiKeys_n, 1);
    assert_int_equal(dec.ApiKeys[0].MaxVersion, 3);
    hd_arena_deinit(&a);
    hd_buf_deinit(&b);
}

static void test_flexible_response_header_has_tag_buffer(void **state)
{
    (void)state;
    hd_buf_t b;
    hd_buf_init(&b);
    kafka_response_header_encode(&b, kafka_api_find(KAFKA_API_OffsetFetch), 6, 1);
    assert_int_equal(b.len, 5);
    assert_int_equal(b.p[4], 0);
    hd_buf_reset(&b);
    kafka_response_header_encode(&b, kafka_api_find(KAFKA_API_OffsetFetch), 5, 1);
    assert_int_equal(b.len, 4);
    hd_buf_deinit(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apiversions_v3_request_uses_header_v2_and_compact_strings),
        cmocka_unit_test(test_apiversions_v0_request_has_empty_body),
        cmocka_unit_test(test_apiversions_v3_response_header_is_v0),
        cmocka_unit_test(test_tagged_field_is_written_only_when_set),
        cmocka_unit_test(test_metadata_v0_and_v1_requests),
        cmocka_unit_test(test_produce_v7_request_with_one_partition),
        cmocka_unit_test(test_fetch_v11_response),
        cmocka_unit_test(test_offsetfetch_v6_request_is_flexible),
        cmocka_unit_test(test_initproducerid_v4_request),
        cmocka_unit_test(test_apiversions_fallback_is_v0_with_error_35),
        cmocka_unit_test(test_flexible_response_header_has_tag_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
