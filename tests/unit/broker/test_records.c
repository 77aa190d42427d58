/* Building RecordBatches (broker_batch_build) and walking record headers (broker_header_next):
 * built batches validate deeply and iterate back to exactly the records given, match bytes
 * encoded by hand and by the log tests' independent builder, and stay within max_bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "broker/records.h"
#include "log/batch_builder.h"
#include "util/crc32c.h"
#include "util/reader.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What broker_batch_for_each hands back, copied out so it can be compared after the walk. */
typedef struct seen {
    const broker_record_in_t *want;
    int32_t n;
    int32_t visited;
} seen_t;

static void check_headers(const broker_record_t *rec, const broker_record_in_t *in)
{
    assert_int_equal(rec->headers_count, in->nheaders);
    hd_slice_t area = rec->headers;
    for (int32_t k = 0; k < in->nheaders; k++) {
        broker_header_t h;
        assert_int_equal(broker_header_next(&area, &h), 0);
        assert_true(hd_slice_eq(h.name, in->headers[k].name));
        assert_int_equal(h.value_null, in->headers[k].value_null);
        if (!h.value_null)
            assert_true(hd_slice_eq(h.value, in->headers[k].value));
        else
            assert_int_equal(h.value.len, 0);
    }
    assert_int_equal(area.len, 0);
}

static int compare_cb(void *ctx, const broker_record_t *rec)
{
    seen_t *s = ctx;
    assert_true(s->visited < s->n);
    const broker_record_in_t *in = &s->want[s->visited];
    assert_int_equal(rec->offset, s->visited);
    assert_true(rec->timestamp == in->timestamp);
    assert_int_equal(rec->key_null, in->key_null);
    if (!in->key_null)
        assert_true(hd_slice_eq(rec->key, in->key));
    assert_int_equal(rec->value_null, in->value_null);
    if (!in->value_null)
        assert_true(hd_slice_eq(rec->value, in->value));
    check_headers(rec, in);
    s->visited++;
    return 0;
}

/* Builds recs into a fresh buffer and checks everything a reader can see. */
static void build_and_check(const broker_record_in_t *recs, int32_t n)
{
    hd_buf_t out;
    hd_buf_init(&out);
    ssize_t len = broker_batch_build(recs, n, SIZE_MAX, &out);
    assert_true(len > 0);
    assert_int_equal((size_t)len, out.len);

    broker_batch_hdr_t h;
    const char *why = NULL;
    assert_int_equal(broker_batch_validate(hd_buf_slice(&out), true, 1u << 20, &h, &why), 0);
    int64_t min_ts = recs[0].timestamp, max_ts = recs[0].timestamp;
    for (int32_t i = 1; i < n; i++) {
        min_ts = recs[i].timestamp < min_ts ? recs[i].timestamp : min_ts;
        max_ts = recs[i].timestamp > max_ts ? recs[i].timestamp : max_ts;
    }
    assert_true(h.base_offset == 0);
    assert_int_equal(h.leader_epoch, -1);
    assert_int_equal(h.attributes, 0);
    assert_int_equal(h.records_count, n);
    assert_int_equal(h.last_offset_delta, n - 1);
    assert_true(h.base_timestamp == min_ts);
    assert_true(h.max_timestamp == max_ts);
    assert_true(h.producer_id == -1);
    assert_int_equal(h.producer_epoch, -1);
    assert_int_equal(h.base_sequence, -1);

    hd_buf_t scratch;
    hd_buf_init(&scratch);
    seen_t s = {recs, n, 0};
    assert_int_equal(broker_batch_for_each(hd_buf_slice(&out), 1u << 20, &scratch, compare_cb, &s),
                     0);
    assert_int_equal(s.visited, n);
    hd_buf_deinit(&scratch);
    hd_buf_deinit(&out);
}

static void test_build_single_record_matches_hand_encoded_bytes(void **state)
{
    (void)state;
    const broker_header_t hdr = {hd_slice("h", 1), hd_slice("x", 1), false};
    const broker_record_in_t rec = {.key = hd_slice("k", 1),
                                    .value = hd_slice("v", 1),
                                    .headers = &hdr,
                                    .nheaders = 1,
                                    .timestamp = 1000};
    /* Encoded from the format description; the CRC-32C was computed separately. */
    const uint8_t want[74] = {
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* baseOffset 0 */
        0x00, 0x00, 0x00, 0x3e,                         /* batchLength 62 */
        0xff, 0xff, 0xff, 0xff,                         /* partitionLeaderEpoch -1 */
        0x02,                                           /* magic */
        0x85, 0xd4, 0x93, 0x6f,                         /* crc */
        0x00, 0x00,                                     /* attributes */
        0x00, 0x00, 0x00, 0x00,                         /* lastOffsetDelta */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe8, /* baseTimestamp 1000 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe8, /* maxTimestamp 1000 */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* producerId -1 */
        0xff, 0xff,                                     /* producerEpoch -1 */
        0xff, 0xff, 0xff, 0xff,                         /* baseSequence -1 */
        0x00, 0x00, 0x00, 0x01,                         /* recordsCount 1 */
        0x18,                                           /* record length 12 */
        0x00, 0x00, 0x00,                               /* attributes, tsDelta, offsetDelta */
        0x02, 'k',  0x02, 'v',                          /* key, value */
        0x02, 0x02, 'h',  0x02, 'x',                    /* one header */
    };
    hd_buf_t out;
    hd_buf_init(&out);
    assert_int_equal(broker_batch_build(&rec, 1, SIZE_MAX, &out), sizeof want);
    assert_int_equal(out.len, sizeof want);
    assert_memory_equal(out.p, want, sizeof want);
    hd_buf_deinit(&out);
}

static void test_build_matches_log_tests_batch_builder(void **state)
{
    (void)state;
    /* bb_build: key "k<i>", value of 200 bytes 'a' + (i + j) % 26, timestamp base + i except the
     * last, which is max_ts. It writes leader epoch 0 where we write -1; the CRC does not cover it.
     */
    enum { N = 40, VLEN = 200 };
    char keys[N][16];
    uint8_t values[N][VLEN];
    broker_record_in_t recs[N];
    memset(recs, 0, sizeof recs);
    for (int i = 0; i < N; i++) {
        int klen = snprintf(keys[i], sizeof keys[i], "k%d", i);
        for (int j = 0; j < VLEN; j++)
            values[i][j] = (uint8_t)('a' + (i + j) % 26);
        recs[i].key = hd_slice(keys[i], (size_t)klen);
        recs[i].value = hd_slice(values[i], VLEN);
        recs[i].timestamp = i == N - 1 ? 1700000009999LL : 1700000000000LL + i;
    }
    hd_buf_t ours, theirs;
    hd_buf_init(&ours);
    hd_buf_init(&theirs);
    assert_true(broker_batch_build(recs, N, SIZE_MAX, &ours) > 0);
    bb_build(&theirs, N, 1700000000000LL, 1700000009999LL, VLEN);
    assert_int_equal(ours.len, theirs.len);
    assert_memory_equal(ours.p, theirs.p, 12);
    assert_memory_equal(ours.p + 16, theirs.p + 16, ours.len - 16);
    hd_buf_deinit(&ours);
    hd_buf_deinit(&theirs);
}

static void test_build_round_trips_null_and_empty_keys_and_values(void **state)
{
    (void)state;
    const broker_record_in_t recs[] = {
        {.key_null = true, .value = hd_slice("v0", 2), .timestamp = 10},
        {.key = hd_slice("k1", 2), .value_null = true, .timestamp = 11},
        {.key_null = true, .value_null = true, .timestamp = 12},
        {.key = hd_slice("", 0), .value = hd_slice("", 0), .timestamp = 13},
        {.key = hd_slice("k\0\xff", 3), .value = hd_slice("\0", 1), .timestamp = 14},
    };
    build_and_check(recs, 5);
}

static void test_build_round_trips_zero_some_and_many_headers(void **state)
{
    (void)state;
    enum { MANY = 300 }; /* past 63, so the header count takes a two-byte varint */
    static broker_header_t many[MANY];
    static char names[MANY][16];
    for (int i = 0; i < MANY; i++) {
        int len = snprintf(names[i], sizeof names[i], "h%d", i);
        many[i].name = hd_slice(names[i], (size_t)len);
        many[i].value = hd_slice(names[i], (size_t)(i % 5));
        many[i].value_null = i % 7 == 3;
    }
    const broker_header_t some[] = {
        {hd_slice("trace", 5), hd_slice("abc", 3), false},
        {hd_slice("", 0), hd_slice("", 0), false}, /* empty name and empty value */
        {hd_slice("gone", 4), hd_slice(NULL, 0), true},
        {hd_slice("trace", 5), hd_slice("dup", 3), false}, /* repeated names are kept */
    };
    const broker_record_in_t recs[] = {
        {.key = hd_slice("a", 1), .value = hd_slice("1", 1), .timestamp = 100},
        {.key = hd_slice("b", 1),
         .value = hd_slice("2", 1),
         .headers = some,
         .nheaders = 4,
         .timestamp = 100},
        {.key_null = true, .value_null = true, .headers = many, .nheaders = MANY, .timestamp = 100},
    };
    build_and_check(recs, 3);
}

static void test_build_uses_min_and_max_timestamps_in_any_order(void **state)
{
    (void)state;
    const broker_record_in_t recs[] = {
        {.key_null = true, .value = hd_slice("a", 1), .timestamp = 1700000000500LL},
        {.key_null = true, .value = hd_slice("b", 1), .timestamp = 1700000000000LL},
        {.key_null = true, .value = hd_slice("c", 1), .timestamp = 1700000009000LL},
        {.key_null = true, .value = hd_slice("d", 1), .timestamp = -1},
    };
    build_and_check(recs, 4);
    /* Deltas that wrap around int64 still come back exactly. */
    const broker_record_in_t extreme[] = {
        {.key_null = true, .value_null = true, .timestamp = INT64_MAX},
        {.key_null = true, .value_null = true, .timestamp = INT64_MIN},
        {.key_null = true, .value_null = true, .timestamp = 0},
    };
    build_and_check(extreme, 3);
}

static void test_build_many_records_with_large_values(void **state)
{
    (void)state;
    enum { N = 1000 };
    static broker_record_in_t recs[N];
    static uint8_t big[20000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7);
    for (int i = 0; i < N; i++) {
        memset(&recs[i], 0, sizeof recs[i]);
        recs[i].key = hd_slice(big + i, (size_t)(i % 9));
        recs[i].value = hd_slice(big, (size_t)(i * 13) % sizeof big);
        recs[i].timestamp = 1700000000000LL + i * 1000;
    }
    build_and_check(recs, N);
}

/* The walk decodes short varints inline: a batch whose records end early, at any byte (inside a
 * varint of any width, a key, a value, a header), is refused, from any first record, and
 * nothing is read past the records (each cut is copied to a buffer of its exact size). */
static void test_walk_refuses_records_cut_at_any_byte(void **state)
{
    (void)state;
    enum { N = 40 };
    static broker_record_in_t recs[N];
    static uint8_t big[300];
    broker_header_t hs[2] = {{hd_slice("h", 1), hd_slice(big, 200), false},
                             {hd_slice("n", 1), hd_slice(NULL, 0), true}};
    for (int i = 0; i < N; i++) {
        memset(&recs[i], 0, sizeof recs[i]);
        recs[i].key_null = i % 5 == 0;
        recs[i].key = hd_slice(big, (size_t)(i * 7) % 90);
        recs[i].value = hd_slice(big, (size_t)(i * 37) % sizeof big);
        recs[i].headers = hs;
        recs[i].nheaders = i % 3 == 0 ? 2 : 0;
        recs[i].timestamp = 1700000000000LL + (int64_t)i * i * 977;
    }
    hd_buf_t out, scratch;
    hd_buf_init(&out);
    hd_buf_init(&scratch);
    ssize_t len = broker_batch_build(recs, N, SIZE_MAX, &out);
    assert_true(len > 61);
    seen_t s = {recs, N, 0};
    assert_int_equal(broker_batch_for_each(hd_buf_slice(&out), 1u << 20, &scratch, compare_cb, &s),
                     0);
    assert_int_equal(s.visited, N);
    for (size_t cut = 61; cut < (size_t)len; cut++) {
        uint8_t *b = malloc(cut);
        assert_non_null(b);
        memcpy(b, out.p, cut);
        uint32_t bl = (uint32_t)(cut - 12);
        b[8] = (uint8_t)(bl >> 24);
        b[9] = (uint8_t)(bl >> 16);
        b[10] = (uint8_t)(bl >> 8);
        b[11] = (uint8_t)bl;
        for (int32_t first = 0; first < N; first += 13)
            assert_int_equal(broker_batch_for_each_from(hd_slice(b, cut), first, NULL, NULL,
                                                        1u << 20, &scratch, NULL, NULL),
                             HD_EMALFORMED);
        free(b);
    }
    hd_buf_deinit(&scratch);
    hd_buf_deinit(&out);
}

/* A walk from record `first` stores where that record starts; a later walk given any stored
 * position at or before its own first record visits exactly what a walk from the first record
 * visits, and stores the same position. Positions after `first`, at record 0, or for a
 * compressed batch are not used (and a compressed batch's walk stores none). */
static void test_walk_from_a_stored_position_matches_a_walk_from_the_start(void **state)
{
    (void)state;
    enum { N = 60 };
    static broker_record_in_t recs[N];
    static uint8_t big[3000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 13);
    broker_header_t hs[1] = {{hd_slice("h", 1), hd_slice(big, 40), false}};
    for (int i = 0; i < N; i++) {
        memset(&recs[i], 0, sizeof recs[i]);
        recs[i].key = hd_slice(big, (size_t)(i * 5) % 30);
        /* values of 0 to 2,999 bytes: length varints of one and two bytes */
        recs[i].value = hd_slice(big, (size_t)(i * 211) % sizeof big);
        recs[i].headers = hs;
        recs[i].nheaders = i % 4 == 1 ? 1 : 0;
        recs[i].timestamp = 1700000000000LL + i;
    }
    hd_buf_t out, scratch, z;
    hd_buf_init(&out);
    hd_buf_init(&scratch);
    hd_buf_init(&z);
    assert_true(broker_batch_build(recs, N, SIZE_MAX, &out) > 0);
    hd_slice_t b = hd_buf_slice(&out);
    broker_rec_pos_t at[N];
    size_t expect = 0; /* record 0 starts the records */
    for (int32_t first = 0; first < N; first++) {
        seen_t s = {recs, N, first};
        assert_int_equal(broker_batch_for_each_from(b, first, NULL, &at[first], 1u << 20, &scratch,
                                                    compare_cb, &s),
                         0);
        assert_int_equal(s.visited, N);
        assert_int_equal(at[first].index, first);
        assert_int_equal(at[first].pos, expect);
        /* the record's length varint, then that many bytes */
        hd_reader_t r = hd_reader_init(hd_slice(b.p + 61 + expect, b.len - 61 - expect));
        int32_t rl = hd_read_varint(&r);
        expect += (size_t)rl + r.pos;
        assert_false(r.err);
    }
    for (int32_t first = 0; first < N; first++) {
        for (int32_t j = 0; j < N; j++) {
            seen_t s = {recs, N, first};
            broker_rec_pos_t got;
            assert_int_equal(broker_batch_for_each_from(b, first, &at[j], &got, 1u << 20, &scratch,
                                                        compare_cb, &s),
                             0);
            assert_int_equal(s.visited, N);
            assert_int_equal(got.index, first);
            assert_int_equal(got.pos, at[first].pos);
        }
    }
    /* Compressed: the records are inflated, positions are neither used nor stored. */
    assert_int_equal(broker_batch_recompress(b, BROKER_CODEC_GZIP, 64u << 20, &scratch, &z), 0);
    seen_t s = {recs, N, 7};
    broker_rec_pos_t got = {.index = 3, .pos = 5};
    assert_int_equal(broker_batch_for_each_from(hd_buf_slice(&z), 7, &at[5], &got, 1u << 20,
                                                &scratch, compare_cb, &s),
                     0);
    assert_int_equal(s.visited, N);
    assert_int_equal(got.index, -1);
    hd_buf_deinit(&z);
    hd_buf_deinit(&scratch);
    hd_buf_deinit(&out);
}

static void test_build_appends_after_existing_bytes(void **state)
{
    (void)state;
    const broker_record_in_t rec = {.key = hd_slice("k", 1), .value = hd_slice("v", 1)};
    hd_buf_t out;
    hd_buf_init(&out);
    hd_buf_put(&out, "prefix", 6);
    ssize_t len = broker_batch_build(&rec, 1, SIZE_MAX, &out);
    assert_true(len > 0);
    assert_int_equal(out.len, 6 + (size_t)len);
    assert_memory_equal(out.p, "prefix", 6);
    broker_batch_hdr_t h;
    const char *why = NULL;
    assert_int_equal(
        broker_batch_validate(hd_slice(out.p + 6, (size_t)len), true, 1u << 20, &h, &why), 0);
    hd_buf_deinit(&out);
}

static void test_build_over_max_bytes_is_too_big_and_leaves_out_unchanged(void **state)
{
    (void)state;
    const broker_header_t hdr = {hd_slice("h", 1), hd_slice("x", 1), false};
    const broker_record_in_t recs[] = {
        {.key = hd_slice("k", 1), .value = hd_slice("value", 5), .headers = &hdr, .nheaders = 1},
        {.key_null = true, .value = hd_slice("second", 6)},
    };
    hd_buf_t out;
    hd_buf_init(&out);
    ssize_t exact = broker_batch_build(recs, 2, SIZE_MAX, &out);
    assert_true(exact > BROKER_BATCH_HEADER_LEN);
    hd_buf_reset(&out);
    hd_buf_put(&out, "keep", 4);
    const uint8_t *p_before = out.p;
    size_t cap_before = out.cap;
    const size_t limits[] = {(size_t)exact - 1, BROKER_BATCH_HEADER_LEN, 0};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        assert_int_equal(broker_batch_build(recs, 2, limits[i], &out), HD_ETOOBIG);
        assert_int_equal(out.len, 4);
        assert_ptr_equal(out.p, p_before);
        assert_int_equal(out.cap, cap_before);
        assert_memory_equal(out.p, "keep", 4);
    }
    /* Exactly max_bytes fits. */
    assert_int_equal(broker_batch_build(recs, 2, (size_t)exact, &out), exact);
    assert_int_equal(out.len, 4 + (size_t)exact);
    hd_buf_deinit(&out);
}

static void test_header_next_walks_then_fails_at_the_end(void **state)
{
    (void)state;
    hd_buf_t b;
    hd_buf_init(&b);
    hd_buf_put_varint(&b, 2);
    hd_buf_put(&b, "ab", 2);
    hd_buf_put_varint(&b, -1);
    hd_buf_put_varint(&b, 0);
    hd_buf_put_varint(&b, 3);
    hd_buf_put(&b, "xyz", 3);
    hd_slice_t area = hd_buf_slice(&b);
    broker_header_t h;
    assert_int_equal(broker_header_next(&area, &h), 0);
    assert_true(hd_slice_eq_str(h.name, "ab"));
    assert_true(h.value_null);
    assert_int_equal(broker_header_next(&area, &h), 0);
    assert_int_equal(h.name.len, 0);
    assert_false(h.value_null);
    assert_true(hd_slice_eq_str(h.value, "xyz"));
    assert_int_equal(area.len, 0);
    assert_int_equal(broker_header_next(&area, &h), HD_EMALFORMED);
    hd_buf_deinit(&b);
}

static void test_header_next_rejects_truncated_and_negative_lengths(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        uint8_t bytes[8];
        size_t len;
    } bad[] = {
        {"empty area", {0}, 0},
        {"name length varint cut", {0x80}, 1},
        {"null name (-1)", {0x01, 0x00}, 2},
        {"negative name length (-2)", {0x03, 0x00}, 2},
        {"name longer than the area", {0x06, 'a', 'b', 0x00}, 4},
        {"value length missing", {0x02, 'a'}, 2},
        {"value length varint cut", {0x02, 'a', 0x80}, 3},
        {"value length -2", {0x02, 'a', 0x03}, 3},
        {"value longer than the area", {0x02, 'a', 0x04, 'x'}, 4},
        {"varint over 5 bytes", {0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 6},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hd_slice_t area = hd_slice(bad[i].bytes, bad[i].len);
        broker_header_t h = {hd_slice("untouched", 9), hd_slice("u", 1), true};
        if (broker_header_next(&area, &h) != HD_EMALFORMED)
            fail_msg("accepted: %s", bad[i].what);
        /* On failure neither the area nor the header moves. */
        assert_ptr_equal(area.p, bad[i].bytes);
        assert_int_equal(area.len, bad[i].len);
        assert_true(hd_slice_eq_str(h.name, "untouched"));
        assert_true(h.value_null);
    }
}

static void test_header_next_on_every_truncation_of_a_built_record(void **state)
{
    (void)state;
    const broker_header_t hdrs[] = {
        {hd_slice("content-type", 12), hd_slice("application/json", 16), false},
        {hd_slice("n", 1), hd_slice(NULL, 0), true},
    };
    const broker_record_in_t rec = {
        .key = hd_slice("k", 1), .value = hd_slice("v", 1), .headers = hdrs, .nheaders = 2};
    hd_buf_t out, scratch;
    hd_buf_init(&out);
    hd_buf_init(&scratch);
    assert_true(broker_batch_build(&rec, 1, SIZE_MAX, &out) > 0);
    seen_t s = {&rec, 1, 0};
    assert_int_equal(broker_batch_for_each(hd_buf_slice(&out), 1u << 20, &scratch, compare_cb, &s),
                     0);
    /* The header area is the batch's tail; every cut inside it must fail cleanly, not read past. */
    size_t area_len = (1 + 12 + 1 + 16) + (1 + 1 + 1);
    const uint8_t *area_p = out.p + out.len - area_len;
    for (size_t cut = 0; cut < area_len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, area_p, cut);
        hd_slice_t area = hd_slice(copy, cut);
        broker_header_t h;
        int rc = broker_header_next(&area, &h);
        if (cut >= 1 + 12 + 1 + 16) {
            assert_int_equal(rc, 0); /* the first header is whole */
            rc = broker_header_next(&area, &h);
        }
        assert_int_equal(rc, HD_EMALFORMED);
        free(copy);
    }
    hd_buf_deinit(&scratch);
    hd_buf_deinit(&out);
}

/* Recompression (broker_batch_recompress): a batch rewritten with every codec keeps its header
 * fields and records, passes validation with the new codec, and comes back byte for byte. */
static void test_recompress_each_codec_round_trips(void **state)
{
    (void)state;
    enum { N = 300 };
    static broker_record_in_t recs[N];
    static uint8_t big[70000]; /* larger than one snappy block and one lz4 block */
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)((i * 7) ^ (i >> 9));
    for (int i = 0; i < N; i++) {
        memset(&recs[i], 0, sizeof recs[i]);
        recs[i].key = hd_slice(big + i, (size_t)(i % 9));
        recs[i].value = hd_slice(big, (size_t)(i * 977) % sizeof big);
        recs[i].timestamp = 1700000000000LL + i;
    }
    hd_buf_t plain, z, back, scratch;
    hd_buf_init(&plain);
    hd_buf_init(&z);
    hd_buf_init(&back);
    hd_buf_init(&scratch);
    assert_true(broker_batch_build(recs, N, SIZE_MAX, &plain) > 0);
    /* An idempotent producer's fields must survive. */
    static const uint8_t producer[] = {0, 0, 0, 0, 0, 0, 0x30, 0x39, 0, 7, 0, 0, 0, 42};
    memcpy(plain.p + 43, producer, sizeof producer);
    uint32_t crc = hd_crc32c(0, plain.p + 21, plain.len - 21);
    for (int i = 0; i < 4; i++)
        plain.p[17 + i] = (uint8_t)(crc >> (24 - 8 * i));
    for (int codec = BROKER_CODEC_GZIP; codec <= BROKER_CODEC_ZSTD; codec++) {
        z.len = back.len = 0;
        assert_int_equal(
            broker_batch_recompress(hd_buf_slice(&plain), codec, 64u << 20, &scratch, &z), 0);
        broker_batch_hdr_t h, p0;
        const char *why = NULL;
        assert_int_equal(broker_batch_validate(hd_buf_slice(&z), true, 64u << 20, &h, &why), 0);
        broker_batch_hdr_decode(plain.p, &p0);
        assert_int_equal(h.attributes, codec);
        assert_true(h.producer_id == 12345 && h.producer_epoch == 7 && h.base_sequence == 42);
        assert_int_equal(h.records_count, N);
        assert_true(h.max_timestamp == p0.max_timestamp && h.base_timestamp == p0.base_timestamp);
        assert_true(z.len < plain.len);
        seen_t s = {recs, N, 0};
        assert_int_equal(
            broker_batch_for_each(hd_buf_slice(&z), 64u << 20, &scratch, compare_cb, &s), 0);
        assert_int_equal(s.visited, N);
        assert_int_equal(broker_batch_recompress(hd_buf_slice(&z), BROKER_CODEC_NONE, 64u << 20,
                                                 &scratch, &back),
                         0);
        assert_int_equal(back.len, plain.len);
        assert_memory_equal(back.p, plain.p, plain.len);
    }
    /* A bound on the inflated size is honoured. */
    z.len = back.len = 0;
    assert_int_equal(
        broker_batch_recompress(hd_buf_slice(&plain), BROKER_CODEC_ZSTD, 64u << 20, &scratch, &z),
        0);
    assert_int_equal(
        broker_batch_recompress(hd_buf_slice(&z), BROKER_CODEC_GZIP, 1000, &scratch, &back),
        HD_ETOOBIG);
    assert_int_equal(back.len, 0);
    hd_buf_deinit(&plain);
    hd_buf_deinit(&z);
    hd_buf_deinit(&back);
    hd_buf_deinit(&scratch);
}

/* Offsets seen by a walk, in order. */
typedef struct offs {
    int64_t v[16];
    int n;
} offs_t;

static int offs_cb(void *ctx, const broker_record_t *rec)
{
    offs_t *o = ctx;
    assert_true(o->n < 16);
    o->v[o->n++] = rec->offset;
    return 0;
}

/* Sets the batch's header field at `at` (4 bytes) and fixes the CRC. */
static void patch_i32(hd_buf_t *b, size_t at, int32_t v)
{
    for (int i = 0; i < 4; i++)
        b->p[at + (size_t)i] = (uint8_t)((uint32_t)v >> (24 - 8 * i));
    uint32_t crc = hd_crc32c(0, b->p + 21, b->len - 21);
    for (int i = 0; i < 4; i++)
        b->p[17 + i] = (uint8_t)(crc >> (24 - 8 * i));
}

static void test_kept_batch_keeps_the_producer_range_and_record_offsets(void **state)
{
    (void)state;
    broker_record_in_t recs[5];
    for (int i = 0; i < 5; i++)
        recs[i] = (broker_record_in_t){
            .key_null = true, .value = hd_slice("v", 1), .timestamp = 1000 + i};
    /* The producer's batch: five records, sequence 40.. of producer 7, epoch 3, gzip. */
    hd_buf_t orig, kept, scratch;
    hd_buf_init(&orig);
    hd_buf_init(&kept);
    hd_buf_init(&scratch);
    assert_true(broker_batch_build(recs, 5, SIZE_MAX, &orig) > 0);
    broker_batch_hdr_t oh;
    broker_batch_hdr_decode(orig.p, &oh);
    oh.producer_id = 7;
    oh.producer_epoch = 3;
    oh.base_sequence = 40;
    oh.attributes = BROKER_CODEC_GZIP | BROKER_ATTR_LOG_APPEND_TIME;
    /* Records 0, 2 and 4 kept: their own deltas, gaps at 1 and 3. */
    broker_record_in_t keep[3] = {recs[0], recs[2], recs[4]};
    int32_t deltas[3] = {0, 2, 4};
    assert_true(broker_batch_build_kept(&oh, keep, deltas, 3, SIZE_MAX, &kept) > 0);
    broker_batch_hdr_t h;
    const char *why = NULL;
    assert_int_equal(broker_batch_validate_kept(hd_buf_slice(&kept), 1u << 20, &h, &why), 0);
    assert_int_equal(h.records_count, 3);
    assert_int_equal(h.last_offset_delta, 4);
    assert_true(h.producer_id == 7 && h.producer_epoch == 3 && h.base_sequence == 40);
    assert_int_equal(h.attributes, BROKER_ATTR_LOG_APPEND_TIME); /* uncompressed */
    assert_true(h.base_timestamp == 1000 && h.max_timestamp == 1004);
    /* Not a batch a producer may send. */
    assert_int_equal(broker_batch_validate(hd_buf_slice(&kept), true, 1u << 20, &h, &why),
                     HD_EMALFORMED);
    offs_t o = {{0}, 0};
    assert_int_equal(broker_batch_for_each(hd_buf_slice(&kept), 1u << 20, &scratch, offs_cb, &o),
                     0);
    assert_int_equal(o.n, 3);
    assert_true(o.v[0] == 0 && o.v[1] == 2 && o.v[2] == 4);
    /* Deltas out of order are refused. */
    hd_buf_t swapped;
    hd_buf_init(&swapped);
    broker_record_in_t two[2] = {recs[0], recs[1]};
    int32_t d2[2] = {0, 1};
    oh.attributes = 0;
    assert_true(broker_batch_build_kept(&oh, two, d2, 2, SIZE_MAX, &swapped) > 0);
    assert_int_equal(broker_batch_validate_kept(hd_buf_slice(&swapped), 1u << 20, &h, &why), 0);
    /* Record 1's offset delta (byte 4 of its body: length, attributes, timestamp delta 1)
     * made 0, then the CRC fixed: two records at delta 0. */
    size_t r1 = BROKER_BATCH_HEADER_LEN + 1 + swapped.p[BROKER_BATCH_HEADER_LEN] / 2;
    assert_int_equal(swapped.p[r1 + 3], 2); /* zigzag 1 */
    swapped.p[r1 + 3] = 0;
    patch_i32(&swapped, 23, 4); /* any lastOffsetDelta above */
    assert_int_equal(broker_batch_validate_kept(hd_buf_slice(&swapped), 1u << 20, &h, &why),
                     HD_EMALFORMED);
    hd_buf_deinit(&swapped);
    hd_buf_deinit(&orig);
    hd_buf_deinit(&kept);
    hd_buf_deinit(&scratch);
}

static void test_empty_kept_batch_keeps_the_range_and_timestamps(void **state)
{
    (void)state;
    broker_batch_hdr_t oh = {.last_offset_delta = 2,
                             .producer_id = 9,
                             .producer_epoch = 0,
                             .base_sequence = 3,
                             .base_timestamp = 500,
                             .max_timestamp = 700};
    hd_buf_t kept;
    hd_buf_init(&kept);
    assert_int_equal(broker_batch_build_kept(&oh, NULL, NULL, 0, SIZE_MAX, &kept),
                     BROKER_BATCH_HEADER_LEN);
    broker_batch_hdr_t h;
    const char *why = NULL;
    assert_int_equal(broker_batch_validate_kept(hd_buf_slice(&kept), 1u << 20, &h, &why), 0);
    assert_true(h.records_count == 0 && h.last_offset_delta == 2 && h.base_sequence == 3);
    assert_true(h.base_timestamp == 500 && h.max_timestamp == 700);
    assert_int_equal(broker_batch_validate(hd_buf_slice(&kept), true, 1u << 20, &h, &why),
                     HD_EMALFORMED);
    /* A count above lastOffsetDelta + 1 is refused. */
    patch_i32(&kept, 23, -1);
    assert_int_equal(broker_batch_validate_kept(hd_buf_slice(&kept), 1u << 20, &h, &why),
                     HD_EMALFORMED);
    hd_buf_deinit(&kept);
}

static void test_producer_batch_needs_delta_equal_to_index(void **state)
{
    (void)state;
    broker_record_in_t recs[2] = {
        {.key_null = true, .value = hd_slice("a", 1), .timestamp = 5},
        {.key_null = true, .value = hd_slice("b", 1), .timestamp = 5},
    };
    hd_buf_t b;
    hd_buf_init(&b);
    assert_true(broker_batch_build(recs, 2, SIZE_MAX, &b) > 0);
    broker_batch_hdr_t h;
    const char *why = NULL;
    assert_int_equal(broker_batch_validate(hd_buf_slice(&b), true, 1u << 20, &h, &why), 0);
    /* Record 1 given delta 0 (a duplicate offset): refused from a producer, still readable. */
    size_t r1 = BROKER_BATCH_HEADER_LEN + 1 + b.p[BROKER_BATCH_HEADER_LEN] / 2;
    assert_int_equal(b.p[r1 + 3], 2);
    b.p[r1 + 3] = 0;
    patch_i32(&b, 23, 1);
    assert_int_equal(broker_batch_validate(hd_buf_slice(&b), true, 1u << 20, &h, &why),
                     HD_EMALFORMED);
    hd_buf_t scratch;
    hd_buf_init(&scratch);
    assert_int_equal(
        broker_batch_for_each_from(hd_buf_slice(&b), 0, NULL, NULL, 1u << 20, &scratch, NULL, NULL),
        HD_EMALFORMED);
    offs_t o = {{0}, 0};
    assert_int_equal(broker_batch_for_each(hd_buf_slice(&b), 1u << 20, &scratch, offs_cb, &o), 0);
    assert_true(o.n == 2 && o.v[0] == 0 && o.v[1] == 0);
    hd_buf_deinit(&scratch);
    hd_buf_deinit(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_single_record_matches_hand_encoded_bytes),
        cmocka_unit_test(test_build_matches_log_tests_batch_builder),
        cmocka_unit_test(test_build_round_trips_null_and_empty_keys_and_values),
        cmocka_unit_test(test_build_round_trips_zero_some_and_many_headers),
        cmocka_unit_test(test_build_uses_min_and_max_timestamps_in_any_order),
        cmocka_unit_test(test_build_many_records_with_large_values),
        cmocka_unit_test(test_build_appends_after_existing_bytes),
        cmocka_unit_test(test_build_over_max_bytes_is_too_big_and_leaves_out_unchanged),
        cmocka_unit_test(test_header_next_walks_then_fails_at_the_end),
        cmocka_unit_test(test_header_next_rejects_truncated_and_negative_lengths),
        cmocka_unit_test(test_header_next_on_every_truncation_of_a_built_record),
        cmocka_unit_test(test_recompress_each_codec_round_trips),
        cmocka_unit_test(test_walk_refuses_records_cut_at_any_byte),
        cmocka_unit_test(test_walk_from_a_stored_position_matches_a_walk_from_the_start),
        cmocka_unit_test(test_kept_batch_keeps_the_producer_range_and_record_offsets),
        cmocka_unit_test(test_empty_kept_batch_keeps_the_range_and_timestamps),
        cmocka_unit_test(test_producer_batch_needs_delta_equal_to_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
