/* http__record_json_fast against http__json_dump(http__record_json()): for every record it takes
 * the bytes must be identical; the records it must decline (JSON keys or values, duplicate or
 * non-UTF-8 header names) are declined and leave the buffer as it was. Records are built into
 * real RecordBatches and read back, as the log gives them. Also a randomized run over mixed
 * bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "broker/records.h"
#include "http/http_int.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct check {
    int taken, declined;
    bool expect_decline;
} check_t;

static int compare_one(void *ctx, const broker_record_t *rec)
{
    check_t *c = ctx;
    hd_buf_t fast, slow;
    hd_buf_init(&fast);
    hd_buf_init(&slow);
    hd_buf_put(&fast, "x", 1); /* a prefix that must survive */
    int rc = http__record_json_fast(3, rec, &fast);
    json_t *j = http__record_json(3, rec);
    assert_int_equal(http__json_dump(j, &slow), 0);
    json_decref(j);
    if (rc == 0) {
        c->taken++;
        assert_false(c->expect_decline);
        if (fast.len - 1 != slow.len || memcmp(fast.p + 1, slow.p, slow.len) != 0)
            fail_msg("fast:\n%.*s\nslow:\n%.*s", (int)fast.len - 1, (const char *)fast.p + 1,
                     (int)slow.len, (const char *)slow.p);
    } else {
        assert_int_equal(rc, 1);
        c->declined++;
        if (getenv("DEBUG_FAST"))
            fprintf(stderr, "declined offset %lld\n", (long long)rec->offset);
        assert_int_equal(fast.len, 1);
    }
    hd_buf_deinit(&fast);
    hd_buf_deinit(&slow);
    return 0;
}

static void run(const broker_record_in_t *recs, int n, check_t *c)
{
    hd_buf_t b, scratch;
    hd_buf_init(&b);
    hd_buf_init(&scratch);
    assert_true(broker_batch_build(recs, n, 64 << 20, &b) > 0);
    assert_int_equal(
        broker_batch_for_each(hd_slice(b.p, b.len), 64 << 20, &scratch, compare_one, c), 0);
    hd_buf_deinit(&b);
    hd_buf_deinit(&scratch);
}

static hd_slice_t S(const char *s) { return hd_slice((const uint8_t *)s, strlen(s)); }

static void test_usual_records_are_byte_identical(void **state)
{
    (void)state;
    static const uint8_t bin[] = {0xff, 0x00, 0x80, 'a'};
    static const char ctl[] = "tab\there \"q\" back\\slash nl\n cr\r bs\b ff\f \x01\x1f del\x7f";
    broker_header_t h1[] = {{S("ce_type"), S("order.created"), false},
                            {S("trace"), S(""), true},
                            {S("h\"x"), S(ctl), false},
                            {S("ünï"), S("värde ✓"), false}};
    broker_record_in_t recs[] = {
        {S("k1"), false, S("plain text value"), false, NULL, 0, 1700000000000},
        {S(""), true, S(""), false, NULL, 0, 1},
        {S("key"), false, S(""), true, h1, 4, 2},
        {hd_slice(bin, sizeof bin), false, hd_slice(bin, 3), false, NULL, 0, 3},
        {S("  hello"), false, S(ctl), false, NULL, 0, 4},
        {S("日本語"), false, S("   "), false, NULL, 0, 5},
        {S("nul"), false, S("fals"), false, NULL, 0, 6},
        {S("Z"), false, S("xyz {\"a\":1}"), false, h1, 2, -1},
    };
    check_t c = {0};
    run(recs, (int)(sizeof recs / sizeof recs[0]), &c);
    assert_int_equal(c.taken, 8);
}

static void test_json_and_unusual_records_are_declined(void **state)
{
    (void)state;
    static const uint8_t badname[] = {0xc3, 0x28};
    broker_header_t dup[] = {{S("a"), S("1"), false}, {S("a"), S("2"), false}};
    broker_header_t bad[] = {{hd_slice(badname, 2), S("1"), false}};
    broker_header_t binval[] = {{S("b"), hd_slice(badname, 2), false}};
    broker_record_in_t recs[] = {
        {S("k"), false, S("{\"a\":1}"), false, NULL, 0, 1},
        {S("k"), false, S(" [1, 2]"), false, NULL, 0, 1},
        {S("k"), false, S("\"quoted\""), false, NULL, 0, 1},
        {S("k"), false, S("42"), false, NULL, 0, 1},
        {S("k"), false, S("-1x"), false, NULL, 0, 1}, /* not JSON, but may look like it */
        {S("true"), false, S("v"), false, NULL, 0, 1},
        {S("nullx"), false, S("v"), false, NULL, 0, 1}, /* starts like null: maybe JSON */
        {S("k"), false, S("\n false"), false, NULL, 0, 1},
        {S("k"), false, S("v"), false, dup, 2, 1},
        {S("k"), false, S("v"), false, bad, 1, 1},
        {S("k"), false, S("v"), false, binval, 1, 1},
    };
    check_t c = {.expect_decline = true};
    run(recs, (int)(sizeof recs / sizeof recs[0]), &c);
    assert_int_equal(c.declined, 11);
}

static void test_random_bytes_agree(void **state)
{
    (void)state;
    srand(7);
    enum { N = 400 };
    static uint8_t pool[N][2][40];
    broker_record_in_t recs[N];
    broker_header_t hs[N][2];
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < 2; k++)
            for (int b = 0; b < 40; b++) {
                int r = rand() % 10;
                /* mostly printable text, some controls, quotes and high bytes */
                pool[i][k][b] = (uint8_t)(r < 6   ? 'a' + rand() % 26
                                          : r < 7 ? rand() % 32
                                          : r < 8 ? "\"\\ {}"[rand() % 5]
                                                  : 0x80 + rand() % 128);
            }
        size_t kl = (size_t)(rand() % 40), vl = (size_t)(rand() % 40);
        hs[i][0] = (broker_header_t){S("h"), hd_slice(pool[i][0], (size_t)(rand() % 10)), false};
        hs[i][1] = (broker_header_t){S("g"), hd_slice(pool[i][1], (size_t)(rand() % 10)), false};
        recs[i] = (broker_record_in_t){hd_slice(pool[i][0], kl),
                                       rand() % 9 == 0,
                                       hd_slice(pool[i][1], vl),
                                       rand() % 9 == 0,
                                       hs[i],
                                       rand() % 3,
                                       i};
    }
    check_t c = {0};
    run(recs, N, &c);
    assert_true(c.taken > N / 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usual_records_are_byte_identical),
        cmocka_unit_test(test_json_and_unusual_records_are_declined),
        cmocka_unit_test(test_random_bytes_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
