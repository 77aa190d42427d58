/* The pure helpers of src/cli/format.c: option value parsing, UTF-8 checks and the JSON record
 * format (its base64 comes from util/base64.c, tested in tests/unit/util/test_base64.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cli/cli_int.h"
#include "util/err.h"

#include <stdlib.h>
#include <string.h>

static void test_kv_parse_splits_at_first_equals(void **state)
{
    (void)state;
    char *key;
    const char *value, *why;
    assert_int_equal(cli__kv_parse("a=b=c", &key, &value, &why), 0);
    assert_string_equal(key, "a");
    assert_string_equal(value, "b=c");
    free(key);
}

static void test_kv_parse_allows_empty_value(void **state)
{
    (void)state;
    char *key;
    const char *value, *why;
    assert_int_equal(cli__kv_parse("retention.ms=", &key, &value, &why), 0);
    assert_string_equal(key, "retention.ms");
    assert_string_equal(value, "");
    free(key);
}

static void test_kv_parse_rejects_missing_equals_and_empty_key(void **state)
{
    (void)state;
    char *key = NULL;
    const char *value = NULL, *why = NULL;
    assert_int_equal(cli__kv_parse("novalue", &key, &value, &why), HD_EINVAL);
    assert_non_null(why);
    assert_int_equal(cli__kv_parse("=v", &key, &value, &why), HD_EINVAL);
    assert_int_equal(cli__kv_parse("", &key, &value, &why), HD_EINVAL);
    assert_null(key);
}

static void test_int_parse_bounds_and_garbage(void **state)
{
    (void)state;
    int64_t v = 7;
    const char *why;
    assert_int_equal(cli__int_parse("42", 0, 100, &v, &why), 0);
    assert_int_equal(v, 42);
    assert_int_equal(cli__int_parse("-1", -1, 100, &v, &why), 0);
    assert_int_equal(v, -1);
    assert_int_equal(cli__int_parse("101", 0, 100, &v, &why), HD_EINVAL);
    assert_int_equal(cli__int_parse("12x", 0, 100, &v, &why), HD_EINVAL);
    assert_int_equal(cli__int_parse(" 1", 0, 100, &v, &why), HD_EINVAL);
    assert_int_equal(cli__int_parse("+1", 0, 100, &v, &why), HD_EINVAL);
    assert_int_equal(cli__int_parse("", 0, 100, &v, &why), HD_EINVAL);
    assert_int_equal(cli__int_parse("99999999999999999999", 0, INT64_MAX, &v, &why), HD_EINVAL);
    assert_int_equal(v, -1); /* untouched on failure */
}

static void test_from_parse_named_positions(void **state)
{
    (void)state;
    cli_from_t f;
    const char *why;
    assert_int_equal(cli__from_parse("beginning", &f, &why), 0);
    assert_int_equal(f.kind, CLI_FROM_BEGINNING);
    assert_int_equal(cli__from_parse("earliest", &f, &why), 0);
    assert_int_equal(f.kind, CLI_FROM_BEGINNING);
    assert_int_equal(cli__from_parse("end", &f, &why), 0);
    assert_int_equal(f.kind, CLI_FROM_END);
    assert_int_equal(cli__from_parse("latest", &f, &why), 0);
    assert_int_equal(f.kind, CLI_FROM_END);
}

static void test_from_parse_offset_and_timestamp(void **state)
{
    (void)state;
    cli_from_t f;
    const char *why;
    assert_int_equal(cli__from_parse("0", &f, &why), 0);
    assert_int_equal(f.kind, CLI_FROM_OFFSET);
    assert_int_equal(f.value, 0);
    assert_int_equal(cli__from_parse("9223372036854775807", &f, &why), 0);
    assert_int_equal(f.value, INT64_MAX);
    assert_int_equal(cli__from_parse("@1700000000000", &f, &why), 0);
    assert_int_equal(f.kind, CLI_FROM_TIMESTAMP);
    assert_int_equal(f.value, 1700000000000LL);
}

static void test_from_parse_rejects_bad_positions(void **state)
{
    (void)state;
    cli_from_t f;
    const char *why;
    const char *bad[] = {"", "-1", "@", "@-5", "@12a", "begin", "1.5", "Beginning", "@@1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(cli__from_parse(bad[i], &f, &why), HD_EINVAL);
}

static void test_acks_compression_delim_parse(void **state)
{
    (void)state;
    const char *acks, *why;
    char d;
    assert_int_equal(cli__acks_parse("all", &acks, &why), 0);
    assert_string_equal(acks, "all");
    assert_int_equal(cli__acks_parse("-1", &acks, &why), 0);
    assert_string_equal(acks, "all");
    assert_int_equal(cli__acks_parse("0", &acks, &why), 0);
    assert_string_equal(acks, "0");
    assert_int_equal(cli__acks_parse("2", &acks, &why), HD_EINVAL);
    assert_int_equal(cli__compression_parse("zstd", &why), 0);
    assert_int_equal(cli__compression_parse("brotli", &why), HD_EINVAL);
    assert_int_equal(cli__delim_parse(":", &d, &why), 0);
    assert_int_equal(d, ':');
    assert_int_equal(cli__delim_parse("\\t", &d, &why), 0);
    assert_int_equal(d, '\t');
    assert_int_equal(cli__delim_parse("::", &d, &why), HD_EINVAL);
    assert_int_equal(cli__delim_parse("", &d, &why), HD_EINVAL);
}

static void test_utf8_check_accepts_valid_text(void **state)
{
    (void)state;
    assert_true(cli__utf8_check("", 0));
    assert_true(cli__utf8_check("plain", 5));
    assert_true(cli__utf8_check("a\0b", 3));             /* NUL is valid UTF-8 */
    assert_true(cli__utf8_check("\xc3\xa9", 2));         /* é */
    assert_true(cli__utf8_check("\xe2\x82\xac", 3));     /* € */
    assert_true(cli__utf8_check("\xf0\x9f\x98\x80", 4)); /* U+1F600 */
    assert_true(cli__utf8_check("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
}

static void test_utf8_check_rejects_malformed(void **state)
{
    (void)state;
    assert_false(cli__utf8_check("\x80", 1));             /* lone continuation */
    assert_false(cli__utf8_check("\xc3", 1));             /* truncated */
    assert_false(cli__utf8_check("\xc0\xaf", 2));         /* overlong '/' */
    assert_false(cli__utf8_check("\xe0\x80\xaf", 3));     /* overlong, 3 bytes */
    assert_false(cli__utf8_check("\xed\xa0\x80", 3));     /* surrogate U+D800 */
    assert_false(cli__utf8_check("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
    assert_false(cli__utf8_check("\xff", 1));
    assert_false(cli__utf8_check("ok\xe2\x82", 4)); /* truncated at the end */
}

static void test_json_record_with_null_key_and_no_headers(void **state)
{
    (void)state;
    cli_record_t r = {.topic = "t",
                      .partition = 2,
                      .offset = 42,
                      .timestamp = 1700000000000LL,
                      .key = hd_slice(NULL, 0),
                      .value = hd_slice("hello", 5)};
    char *s = cli__record_format_json(&r);
    assert_string_equal(s, "{\"topic\":\"t\",\"partition\":2,\"offset\":42,\"timestamp\":"
                           "1700000000000,\"key\":null,\"value\":\"hello\",\"headers\":[]}");
    free(s);
}

static void test_json_record_tombstone_has_null_value_and_empty_key(void **state)
{
    (void)state;
    cli_record_t r = {.topic = "t", .timestamp = -1, .key = hd_slice("", 0)};
    char *s = cli__record_format_json(&r);
    assert_string_equal(s, "{\"topic\":\"t\",\"partition\":0,\"offset\":0,\"timestamp\":-1,"
                           "\"key\":\"\",\"value\":null,\"headers\":[]}");
    free(s);
}

static void test_json_record_binary_value_is_base64_with_flag(void **state)
{
    (void)state;
    const uint8_t bin[] = {0xff, 0x00, 0x80};
    cli_record_t r = {.topic = "t", .key = hd_slice("k", 1), .value = hd_slice(bin, sizeof bin)};
    char *s = cli__record_format_json(&r);
    assert_string_equal(s, "{\"topic\":\"t\",\"partition\":0,\"offset\":0,\"timestamp\":0,"
                           "\"key\":\"k\",\"value\":\"/wCA\",\"value_encoding\":\"base64\","
                           "\"headers\":[]}");
    free(s);
}

static void test_json_record_escapes_control_characters_and_nul(void **state)
{
    (void)state;
    cli_record_t r = {.topic = "t", .value = hd_slice("a\"\n\0b", 5)};
    char *s = cli__record_format_json(&r);
    assert_non_null(strstr(s, "\"value\":\"a\\\"\\n\\u0000b\""));
    free(s);
}

static void test_json_record_headers_with_null_and_binary_values(void **state)
{
    (void)state;
    const cli_header_t hs[] = {
        {.name = "trace", .name_len = 5, .value = hd_slice("abc", 3)},
        {.name = "empty", .name_len = 5, .value = hd_slice(NULL, 0)},
        {.name = "bin", .name_len = 3, .value = hd_slice("\xfe", 1)},
    };
    cli_record_t r = {.topic = "t", .value = hd_slice("v", 1), .headers = hs, .nheaders = 3};
    char *s = cli__record_format_json(&r);
    assert_non_null(strstr(s, "\"headers\":[{\"key\":\"trace\",\"value\":\"abc\"},"
                              "{\"key\":\"empty\",\"value\":null},"
                              "{\"key\":\"bin\",\"value\":\"/g==\",\"value_encoding\":"
                              "\"base64\"}]}"));
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kv_parse_splits_at_first_equals),
        cmocka_unit_test(test_kv_parse_allows_empty_value),
        cmocka_unit_test(test_kv_parse_rejects_missing_equals_and_empty_key),
        cmocka_unit_test(test_int_parse_bounds_and_garbage),
        cmocka_unit_test(test_from_parse_named_positions),
        cmocka_unit_test(test_from_parse_offset_and_timestamp),
        cmocka_unit_test(test_from_parse_rejects_bad_positions),
        cmocka_unit_test(test_acks_compression_delim_parse),
        cmocka_unit_test(test_utf8_check_accepts_valid_text),
        cmocka_unit_test(test_utf8_check_rejects_malformed),
        cmocka_unit_test(test_json_record_with_null_key_and_no_headers),
        cmocka_unit_test(test_json_record_tombstone_has_null_value_and_empty_key),
        cmocka_unit_test(test_json_record_binary_value_is_base64_with_flag),
        cmocka_unit_test(test_json_record_escapes_control_characters_and_nul),
        cmocka_unit_test(test_json_record_headers_with_null_and_binary_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
