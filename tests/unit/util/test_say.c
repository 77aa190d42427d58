/* Diagnostics lines: the JSON format is one valid JSON object per line with ts, level, msg and
 * typed fields, whatever bytes the message quotes and however long it is; the text format puts
 * fields after a colon as key=value. stderr is redirected to a temp file to read the lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/say.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[64];
static int saved_fd;

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "/tmp/herald_say_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    saved_fd = dup(2);
    dup2(fd, 2);
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fflush(stderr);
    dup2(saved_fd, 2);
    close(saved_fd);
    unlink(path);
    say_format = SAY_FORMAT_TEXT;
    return 0;
}

/* The lines written so far (caller frees), and their count. */
static char *captured(int *nlines)
{
    fflush(stderr);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    *nlines = 0;
    for (size_t i = 0; i < n; i++)
        *nlines += buf[i] == '\n';
    return strdup(buf);
}

static void test_json_line_has_ts_level_msg_and_typed_fields(void **state)
{
    (void)state;
    say_format = SAY_FORMAT_JSON;
    say_kv(SAY_WARN, "topic created", "topic", "orders", "partitions", "3", "id", "007");
    int n;
    char *text = captured(&n);
    assert_int_equal(n, 1);
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "level")), "warn");
    assert_string_equal(json_string_value(json_object_get(j, "msg")), "topic created");
    assert_string_equal(json_string_value(json_object_get(j, "topic")), "orders");
    assert_int_equal(json_integer_value(json_object_get(j, "partitions")), 3);
    assert_string_equal(json_string_value(json_object_get(j, "id")), "007");
    const char *ts = json_string_value(json_object_get(j, "ts"));
    assert_int_equal(strlen(ts), 24);
    assert_int_equal(ts[10], 'T');
    assert_int_equal(ts[23], 'Z');
    json_decref(j);
    free(text);
}

static void test_json_escapes_peer_bytes_and_stays_one_valid_line(void **state)
{
    (void)state;
    say_format = SAY_FORMAT_JSON;
    char big[5000];
    memset(big, 'x', sizeof big);
    big[sizeof big - 1] = '\0';
    memcpy(big + 10, "\n\"\\\x01\xc3\xa9\xff", 7);
    say_error("conn %s: bad", big);
    say_kv(SAY_INFO, "m\xc3\xa9", "k", big, "after", "1");
    int n;
    char *text = captured(&n);
    assert_int_equal(n, 2);
    char *line2 = strchr(text, '\n') + 1;
    *strchr(line2, '\n') = '\0';
    json_error_t err;
    json_t *a = json_loadb(text, (size_t)(strchr(text, '\n') - text), 0, &err);
    assert_non_null(a);
    const char *msg = json_string_value(json_object_get(a, "msg"));
    assert_memory_equal(msg, "conn xxxxxxxxxx\n\"\\\x01\xc3\xa9\xc3\xbf", 23); /* 0xff: U+00FF */
    json_decref(a);
    json_t *b = json_loads(line2, 0, &err);
    assert_non_null(b);
    assert_string_equal(json_string_value(json_object_get(b, "msg")), "m\xc3\xa9");
    assert_true(strlen(line2) <= 2048);
    assert_null(json_object_get(b, "after")); /* no room left: dropped whole */
    json_decref(b);
    free(text);
}

static void test_text_fields_follow_a_colon(void **state)
{
    (void)state;
    say_format = SAY_FORMAT_TEXT;
    say_kv(SAY_INFO, "herald serving", "kafka", "127.0.0.1:9092", "http", "a b", "q", "x\"y");
    int n;
    char *text = captured(&n);
    assert_int_equal(n, 1);
    assert_non_null(
        strstr(text, " info  herald serving: kafka=127.0.0.1:9092 http=\"a b\" q=\"x\\\"y\"\n"));
    free(text);
}

static void test_format_names_parse(void **state)
{
    (void)state;
    assert_int_equal(say_format_parse("text"), SAY_FORMAT_TEXT);
    assert_int_equal(say_format_parse("json"), SAY_FORMAT_JSON);
    assert_int_equal(say_format_parse("JSON"), -1);
    assert_int_equal(say_format_parse(""), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_json_line_has_ts_level_msg_and_typed_fields, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_json_escapes_peer_bytes_and_stays_one_valid_line,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_fields_follow_a_colon, setup, teardown),
        cmocka_unit_test(test_format_names_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
