/* Spliced response encoding: the frame assembled from the buffer and the splices is byte for
 * byte the frame kafka_response_encode() writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kafka/kafka.h"

#include <stdlib.h>
#include <string.h>

static void assemble(const hd_buf_t *out, const kafka_splices_t *sp, hd_buf_t *frame)
{
    size_t at = 0;
    for (int i = 0; i < sp->n; i++) {
        hd_buf_put(frame, out->p + at, sp->v[i].at - at);
        hd_buf_put(frame, sp->v[i].p, sp->v[i].len);
        at = sp->v[i].at;
    }
    hd_buf_put(frame, out->p + at, out->len - at);
}

static void test_spliced_fetch_response_equals_copied_one(void **state)
{
    (void)state;
    static uint8_t big[3][5000];
    for (int i = 0; i < 3; i++)
        memset(big[i], 'a' + i, sizeof big[i]);
    kafka_FetchResponse_PartitionData_t parts[4];
    memset(parts, 0, sizeof parts);
    for (int i = 0; i < 4; i++) {
        parts[i].PartitionIndex = i;
        parts[i].HighWatermark = 100 + i;
        parts[i].LastStableOffset = 100 + i;
        parts[i].LogStartOffset = 0;
        parts[i].PreferredReadReplica = -1;
    }
    parts[0].Records.v = hd_slice(big[0], sizeof big[0]);
    parts[1].Records.v = hd_slice("small", 5); /* below the threshold: copied */
    parts[2].Records.v = hd_slice(big[1], sizeof big[1]);
    parts[3].Records.v = hd_slice(big[2], 4096);
    kafka_FetchResponse_FetchableTopicResponse_t topic = {
        .Topic = "t", .Partitions = parts, .Partitions_n = 4};
    kafka_FetchResponse_t resp;
    memset(&resp, 0, sizeof resp);
    resp.Responses = &topic;
    resp.Responses_n = 1;
    const kafka_api_t *api = kafka_api_find(KAFKA_API_Fetch);
    for (int16_t v = api->min_version; v <= api->max_version; v++) {
        hd_buf_t plain, out, frame;
        hd_buf_init(&plain);
        hd_buf_init(&out);
        hd_buf_init(&frame);
        kafka_splices_t sp = {0};
        assert_int_equal(kafka_response_encode(api, v, 9, &resp, &plain), 0);
        assert_int_equal(kafka_response_encode_spliced(api, v, 9, &resp, &out, 4096, &sp), 0);
        assert_int_equal(sp.n, 3);
        assert_int_equal(sp.total, 5000 + 5000 + 4096);
        assemble(&out, &sp, &frame);
        assert_int_equal(frame.len, plain.len);
        assert_memory_equal(frame.p, plain.p, plain.len);
        free(sp.v);
        hd_buf_deinit(&plain);
        hd_buf_deinit(&out);
        hd_buf_deinit(&frame);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spliced_fetch_response_equals_copied_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
