/* Trace context: the W3C traceparent parser (valid values, every kind of malformed one, future
 * versions), tracestate checks, and finding a record's trace context in its headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "broker/records.h"
#include "obs/obs.h"

#include <string.h>

#define TP "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

static bool parse(const char *s, obs_trace_ctx_t *tc)
{
    return obs_traceparent_parse(s, strlen(s), tc);
}

static void test_valid_traceparent_gives_ids_and_flags(void **state)
{
    (void)state;
    obs_trace_ctx_t tc;
    assert_true(parse(TP, &tc));
    static const uint8_t tid[16] = {0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd,
                                    0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c};
    static const uint8_t pid[8] = {0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31};
    assert_memory_equal(tc.trace_id, tid, 16);
    assert_memory_equal(tc.parent_id, pid, 8);
    assert_int_equal(tc.flags, 1);
    assert_true(parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", &tc));
    assert_int_equal(tc.flags, 0);
    assert_true(parse(TP, NULL));
}

static void test_traceparent_with_bad_shape_is_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "00",
        /* one character short and one too long for version 00 */
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-011",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-",
        /* uppercase hex */
        "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-B7AD6B7169203331-01",
        "0A-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        /* all-zero ids */
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
        /* version ff is invalid */
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        /* wrong separators, non-hex digits */
        "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319cxb7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331x01",
        "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333z-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0g",
        " 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        /* a future version followed by something other than '-' */
        "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        obs_trace_ctx_t tc;
        memset(&tc, 0x5a, sizeof tc);
        if (parse(bad[i], &tc))
            fail_msg("accepted '%s'", bad[i]);
        assert_int_equal(tc.flags, 0x5a); /* out untouched */
    }
    assert_false(obs_traceparent_parse(NULL, 0, NULL));
}

static void test_future_version_is_parsed_by_its_first_fields(void **state)
{
    (void)state;
    obs_trace_ctx_t tc;
    assert_true(parse("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", &tc));
    assert_true(parse("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what-ever", &tc));
    assert_int_equal(tc.parent_id[0], 0xb7);
}

static void test_tracestate_checks(void **state)
{
    (void)state;
    static const char *const good[] = {
        "congo=t61rcWkgMzE", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", "a=1, b=2", "a=1,,b=2"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(obs_tracestate_valid(good[i], strlen(good[i])));
    static const char *const bad[] = {"", "novalue", "=x", "k=", "a=1,b", "a=1\n", "a=\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (obs_tracestate_valid(bad[i], strlen(bad[i])))
            fail_msg("accepted '%s'", bad[i]);
    char many[400] = "";
    for (int i = 0; i < 33; i++)
        sprintf(many + strlen(many), "%sk%d=v", i ? "," : "", i);
    assert_false(obs_tracestate_valid(many, strlen(many)));
    *strrchr(many, ',') = '\0';
    assert_true(obs_tracestate_valid(many, strlen(many)));
    char long_[600];
    memset(long_, 'a', sizeof long_);
    long_[1] = '=';
    assert_true(obs_tracestate_valid(long_, 512));
    assert_false(obs_tracestate_valid(long_, 513));
}

/* Builds a one-record batch with the given headers and calls obs_record_trace on it. */
typedef struct found {
    bool ok;
    obs_trace_ctx_t tc;
} found_t;

static int on_rec(void *ctx, const broker_record_t *rec)
{
    found_t *f = ctx;
    f->ok = obs_record_trace(rec, &f->tc);
    return 0;
}

static found_t find_in(const broker_header_t *h, int32_t n)
{
    broker_record_in_t rec = {
        .key_null = true, .value = hd_slice_str("v"), .headers = h, .nheaders = n, .timestamp = 1};
    hd_buf_t b, scratch;
    hd_buf_init(&b);
    hd_buf_init(&scratch);
    assert_true(broker_batch_build(&rec, 1, 1 << 20, &b) > 0);
    found_t f = {0};
    assert_int_equal(broker_batch_for_each(hd_buf_slice(&b), 1 << 20, &scratch, on_rec, &f), 0);
    hd_buf_deinit(&b);
    hd_buf_deinit(&scratch);
    return f;
}

#define H(n, v)                                                                                    \
    {                                                                                              \
        hd_slice_str(n), hd_slice_str(v), false                                                    \
    }

static void test_record_trace_prefers_traceparent_then_ce_traceparent(void **state)
{
    (void)state;
    const char *ce = "00-11111111111111111111111111111111-2222222222222222-01";
    broker_header_t both[] = {H("ce_traceparent", ce), H("traceparent", TP)};
    found_t f = find_in(both, 2);
    assert_true(f.ok);
    assert_int_equal(f.tc.trace_id[0], 0x0a);
    broker_header_t ce_only[] = {H("content-type", "x"), H("ce_traceparent", ce)};
    f = find_in(ce_only, 2);
    assert_true(f.ok);
    assert_int_equal(f.tc.trace_id[0], 0x11);
    /* An invalid traceparent falls back to the CloudEvent's. */
    broker_header_t bad_tp[] = {H("traceparent", "00-zz"), H("ce_traceparent", ce)};
    f = find_in(bad_tp, 2);
    assert_true(f.ok);
    assert_int_equal(f.tc.parent_id[0], 0x22);
    broker_header_t none[] = {H("traceparent", "garbage"), H("x", TP)};
    assert_false(find_in(none, 2).ok);
    assert_false(find_in(NULL, 0).ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_traceparent_gives_ids_and_flags),
        cmocka_unit_test(test_traceparent_with_bad_shape_is_refused),
        cmocka_unit_test(test_future_version_is_parsed_by_its_first_fields),
        cmocka_unit_test(test_tracestate_checks),
        cmocka_unit_test(test_record_trace_prefers_traceparent_then_ce_traceparent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
