/* CloudEvents conversions: JSON-format and HTTP binary-mode events to Kafka binary-mode records
 * (headers, content-type, key, value), required-attribute and value checks, the HTTP binding's
 * header value decoding, RFC 3339 times, and stored records (binary or structured mode, built
 * into real RecordBatches) back to JSON events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "broker/records.h"
#include "http/http_int.h"
#include "util/err.h"

#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &e);
    if (!j)
        fail_msg("bad test JSON at %d: %s", e.column, e.text);
    return j;
}

/* The header named `name` of rec, as a NUL-terminated string in a static buffer, or NULL. */
static const char *hdr(const broker_record_in_t *rec, const char *name)
{
    static char buf[256];
    for (int32_t i = 0; i < rec->nheaders; i++) {
        if (hd_slice_eq_str(rec->headers[i].name, name)) {
            size_t n = rec->headers[i].value.len;
            assert_true(n < sizeof buf);
            memcpy(buf, rec->headers[i].value.p, n);
            buf[n] = '\0';
            return buf;
        }
    }
    return NULL;
}

static void assert_slice(hd_slice_t s, const char *want)
{
    if (!hd_slice_eq_str(s, want))
        fail_msg("got '%.*s', want '%s'", (int)s.len, (const char *)s.p, want);
}

typedef struct stored {
    hd_buf_t batch, scratch;
    json_t *ev; /* http__record_ce_json of the record */
    bool is_ce;
    hd_slice_t type;
    char type_text[128];
} stored_t;

static int on_record(void *ctx, const broker_record_t *rec)
{
    stored_t *s = ctx;
    s->ev = http__record_ce_json(rec);
    hd_buf_t tmp;
    hd_buf_init(&tmp);
    s->is_ce = http__record_ce_type(rec, &tmp, &s->type);
    if (s->is_ce) {
        assert_true(s->type.len < sizeof s->type_text);
        memcpy(s->type_text, s->type.p, s->type.len);
        s->type_text[s->type.len] = '\0';
    }
    hd_buf_deinit(&tmp);
    return 0;
}

/* Stores rec in a real RecordBatch and reads it back as the GET handler does. */
static void store_and_read(const broker_record_in_t *rec, stored_t *s)
{
    memset(s, 0, sizeof *s);
    hd_buf_init(&s->batch);
    hd_buf_init(&s->scratch);
    assert_true(broker_batch_build(rec, 1, 1u << 20, &s->batch) > 0);
    assert_int_equal(
        broker_batch_for_each(hd_buf_slice(&s->batch), 1u << 20, &s->scratch, on_record, s), 0);
}

static void stored_free(stored_t *s)
{
    json_decref(s->ev);
    hd_buf_deinit(&s->batch);
    hd_buf_deinit(&s->scratch);
}

static void assert_json_eq(json_t *got, const char *want_text)
{
    json_t *want = parse(want_text);
    if (!json_equal(got, want)) {
        char *g = got ? json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        fail_msg("got %s\nwant %s", g ? g : "NULL", want_text);
    }
    json_decref(want);
}

static broker_record_in_t raw_record(broker_header_t *h, int n, const char *value)
{
    broker_record_in_t r;
    memset(&r, 0, sizeof r);
    r.key_null = true;
    r.headers = h;
    r.nheaders = n;
    r.value_null = value == NULL;
    r.value = value ? hd_slice_str(value) : hd_slice(NULL, 0);
    r.timestamp = 1000;
    return r;
}

#define H(n, v)                                                                                    \
    {                                                                                              \
        hd_slice_str(n), hd_slice_str(v), false                                                    \
    }

/* ---- JSON format -> record ---- */

static void test_json_event_maps_to_binary_mode_headers_key_and_value(void **state)
{
    (void)state;
    hd_arena_t a;
    hd_arena_init(&a, 0);
    json_t *j = parse("{\"type\":\"t.created\",\"comexampleflag\":false,\"id\":\"42\","
                      "\"partitionkey\":\"cust-1\",\"source\":\"/src\",\"specversion\":\"1.0\","
                      "\"comexamplen\":-7,\"subject\":null,\"datacontenttype\":\"application/"
                      "json\",\"data\":{\"p\":9.99,\"r\":1.0,\"q\":[0.1,1e300]}}");
    broker_record_in_t rec;
    const char *why = NULL, *attr = NULL;
    assert_int_equal(http__ce_from_json(&a, j, 1234, &rec, &why, &attr), 0);
    /* Required attributes first, then the rest in input order, then content-type. */
    const char *names[] = {
        "ce_specversion",    "ce_id",           "ce_source",      "ce_type",
        "ce_comexampleflag", "ce_partitionkey", "ce_comexamplen", "content-type"};
    assert_int_equal(rec.nheaders, 8);
    for (int i = 0; i < 8; i++)
        assert_slice(rec.headers[i].name, names[i]);
    assert_string_equal(hdr(&rec, "ce_specversion"), "1.0");
    assert_string_equal(hdr(&rec, "ce_id"), "42");
    assert_string_equal(hdr(&rec, "ce_comexampleflag"), "false");
    assert_string_equal(hdr(&rec, "ce_comexamplen"), "-7");
    assert_null(hdr(&rec, "ce_subject")); /* null is unset */
    assert_null(hdr(&rec, "ce_datacontenttype"));
    assert_string_equal(hdr(&rec, "content-type"), "application/json");
    assert_false(rec.key_null);
    assert_slice(rec.key, "cust-1");
    assert_false(rec.value_null);
    assert_slice(rec.value, "{\"p\":9.99,\"r\":1.0,\"q\":[0.1,1e+300]}");
    assert_int_equal(rec.timestamp, 1234);
    json_decref(j);
    hd_arena_deinit(&a);
}

static void test_json_data_by_content_type(void **state)
{
    (void)state;
    static const struct {
        const char *extra; /* members after the required ones */
        const char *ct;    /* content-type header, or NULL */
        const char *value; /* record value, or NULL */
    } cases[] = {
        {",\"data\":\"just a string\"", "application/json", "\"just a string\""},
        {",\"datacontenttype\":\"text/xml\",\"data\":\"<a x=\\\"1\\\"/>\"", "text/xml",
         "<a x=\"1\"/>"},
        {",\"datacontenttype\":\"application/vnd.x+json\",\"data\":\"s\"", "application/vnd.x+json",
         "\"s\""},
        {",\"datacontenttype\":\"application/json\",\"data\":null", "application/json", "null"},
        {",\"datacontenttype\":\"application/octet-stream\",\"data_base64\":\"/wD+gA==\"",
         "application/octet-stream", "\xff\x00\xfe\x80"},
        {",\"data_base64\":\"\"", NULL, ""},
        {"", NULL, NULL},
        {",\"datacontenttype\":\"text/plain\"", "text/plain", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hd_arena_t a;
        hd_arena_init(&a, 0);
        char text[512];
        snprintf(text, sizeof text,
                 "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"%s}",
                 cases[i].extra);
        json_t *j = parse(text);
        broker_record_in_t rec;
        const char *why = NULL, *attr = NULL;
        assert_int_equal(http__ce_from_json(&a, j, 0, &rec, &why, &attr), 0);
        const char *ct = hdr(&rec, "content-type");
        if (cases[i].ct)
            assert_string_equal(ct, cases[i].ct);
        else
            assert_null(ct);
        if (!cases[i].value) {
            assert_true(rec.value_null);
        } else {
            assert_false(rec.value_null);
            size_t n = i == 4 ? 4 : strlen(cases[i].value);
            assert_int_equal(rec.value.len, n);
            assert_memory_equal(rec.value.p, cases[i].value, n);
        }
        assert_true(rec.key_null);
        json_decref(j);
        hd_arena_deinit(&a);
    }
}

static void test_json_event_problems_name_the_attribute(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *attr; /* NULL: no attribute named */
    } cases[] = {
        {"{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"}", "specversion"},
        {"{\"specversion\":\"1.0\",\"source\":\"/s\",\"type\":\"t\"}", "id"},
        {"{\"specversion\":\"1.0\",\"id\":\"1\",\"type\":\"t\"}", "source"},
        {"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\"}", "type"},
        {"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":null}", "type"},
        {"{\"specversion\":\"1.0\",\"id\":\"\",\"source\":\"/s\",\"type\":\"t\"}", "id"},
        {"{\"specversion\":\"0.3\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"}", "specversion"},
        {"{\"specversion\":1.0,\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"}", "specversion"},
        {"{\"specversion\":\"1.0\",\"id\":1,\"source\":\"/s\",\"type\":\"t\"}", "id"},
        {"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"Ext\":\"x\"}",
         "Ext"},
        {"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"a_b\":\"x\"}",
         "a_b"},
        {"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"e\":1.5}", "e"},
        {"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"e\":[]}", "e"},
        {"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"e\":2147483648}",
         "e"},
        {"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/"
         "s\",\"type\":\"t\",\"e\":\"a\\u0001\"}",
         "e"},
        {"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"time\":\"now\"}",
         "time"},
        {"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"subject\":\"\"}",
         "subject"},
        {"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"data_base64\":"
         "\"AA=\"}",
         "data_base64"},
        {"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"data_base64\":"
         "5}",
         "data_base64"},
        {"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/"
         "s\",\"type\":\"t\",\"datacontenttype\":"
         "\"text/plain\",\"data\":{}}",
         "data"},
        {"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"data\":1,"
         "\"data_base64\":\"AA==\"}",
         NULL},
        {"[]", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hd_arena_t a;
        hd_arena_init(&a, 0);
        json_t *j = parse(cases[i].text);
        broker_record_in_t rec;
        const char *why = NULL, *attr = NULL;
        int rc = http__ce_from_json(&a, j, 0, &rec, &why, &attr);
        if (rc != HD_EINVAL)
            fail_msg("case %zu (%s): rc %d", i, cases[i].text, rc);
        assert_non_null(why);
        if (cases[i].attr) {
            assert_non_null(attr);
            assert_string_equal(attr, cases[i].attr);
        } else {
            assert_null(attr);
        }
        json_decref(j);
        hd_arena_deinit(&a);
    }
}

/* ---- HTTP binary mode ---- */

static void test_header_value_decoding(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out; /* out NULL: rejected */
    } cases[] = {
        {"plain", "plain"},
        {"Euro%20%E2%82%AC%20%F0%9F%98%80", "Euro \xe2\x82\xac \xf0\x9f\x98\x80"},
        {"lower%e2%82%ac", "lower\xe2\x82\xac"},
        {"%41%42", "AB"},
        {"\"quoted value\"", "quoted value"},
        {"\"with \\\"escapes\\\" and %25\"", "with \"escapes\" and %"},
        {"\"\"", ""},
        {"", ""},
        {"%zz", NULL},
        {"%4", NULL},
        {"%00", NULL},
        {"%C0%A0", NULL}, /* overlong U+0020 */
        {"%FF", NULL},
        {"\"unterminated", NULL},
        {"\"a\"b", NULL},
        {"\"a\\", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hd_arena_t a;
        hd_arena_init(&a, 0);
        char *got = http__ce_header_value(&a, cases[i].in);
        if (!cases[i].out) {
            if (got)
                fail_msg("'%s' decoded to '%s', want rejected", cases[i].in, got);
        } else {
            if (!got)
                fail_msg("'%s' rejected", cases[i].in);
            assert_string_equal(got, cases[i].out);
        }
        hd_arena_deinit(&a);
    }
}

static void test_binary_mode_headers_to_record(void **state)
{
    (void)state;
    hd_arena_t a;
    hd_arena_init(&a, 0);
    http_header_t h[] = {
        {"Host", "x"},
        {"CE-Type", "t.reading"},
        {"ce-specversion", "1.0"},
        {"Content-Type", "application/json; charset=utf-8"},
        {"ce-ID", "b-1"},
        {"ce-source", "/dev%2F7"},
        {"ce-partitionkey", "dev-7"},
        {"ce-time", "2024-02-29T23:59:60.123-11:30"},
        {"Content-Length", "5"},
    };
    broker_record_in_t rec;
    const char *why = NULL, *attr = NULL;
    assert_int_equal(http__ce_from_binary(&a, h, 9, hd_slice_str("[1,2]"), 5, &rec, &why, &attr),
                     0);
    assert_int_equal(rec.nheaders, 7);
    assert_slice(rec.headers[0].name, "ce_specversion");
    assert_slice(rec.headers[3].name, "ce_type");
    assert_string_equal(hdr(&rec, "ce_id"), "b-1");
    assert_string_equal(hdr(&rec, "ce_source"), "/dev/7");
    assert_string_equal(hdr(&rec, "content-type"), "application/json; charset=utf-8");
    assert_null(hdr(&rec, "ce_content-length"));
    assert_slice(rec.key, "dev-7");
    assert_slice(rec.value, "[1,2]");
    /* An empty body is no data. */
    assert_int_equal(http__ce_from_binary(&a, h, 9, hd_slice(NULL, 0), 5, &rec, &why, &attr), 0);
    assert_true(rec.value_null);
    hd_arena_deinit(&a);
}

static void test_binary_mode_problems(void **state)
{
    (void)state;
    static const struct {
        const char *name, *value; /* replaces ce-type */
        const char *attr;
    } cases[] = {
        {"x-other", "x", "type"},
        {"ce-type", "", "type"},
        {"ce-type", "%C3", "type"},
        {"ce-datacontenttype", "text/plain", "datacontenttype"},
        {"ce-data", "x", "data"},
        {"ce-Bad_Name", "x", "bad_name"},
        {"ce-specversion", "1.0", "specversion"}, /* given twice */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hd_arena_t a;
        hd_arena_init(&a, 0);
        http_header_t h[] = {
            {"ce-specversion", "1.0"},
            {"ce-id", "1"},
            {"ce-source", "/s"},
            {cases[i].name, cases[i].value},
        };
        broker_record_in_t rec;
        const char *why = NULL, *attr = NULL;
        assert_int_equal(http__ce_from_binary(&a, h, 4, hd_slice_str("x"), 0, &rec, &why, &attr),
                         HD_EINVAL);
        assert_non_null(why);
        assert_non_null(attr);
        assert_string_equal(attr, cases[i].attr);
        hd_arena_deinit(&a);
    }
}

static void test_rfc3339_times(void **state)
{
    (void)state;
    static const char *const good[] = {
        "2018-04-05T17:31:00Z",      "2018-04-05t17:31:00z",
        "2024-02-29T00:00:00+00:00", "2016-12-31T23:59:60Z",
        "2018-04-05T17:31:00.1Z",    "2018-04-05T17:31:00.123456789-08:00",
        "0001-01-01T00:00:00+23:59", "2000-02-29T12:00:00Z",
    };
    static const char *const bad[] = {
        "2018-04-05",
        "2018-04-05T17:31:00",
        "2018-04-05 17:31:00Z",
        "2018-13-05T17:31:00Z",
        "2018-04-31T17:31:00Z",
        "2023-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2018-04-05T24:00:00Z",
        "2018-04-05T17:60:00Z",
        "2018-04-05T17:31:61Z",
        "2018-04-05T17:31:00.Z",
        "2018-04-05T17:31:00+0100",
        "2018-04-05T17:31:00+24:00",
        "2018-04-05T17:31:00Zjunk",
        "2018-4-05T17:31:00Z",
        "+018-04-05T17:31:00Z",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!http__ce_time_valid(good[i], strlen(good[i])))
            fail_msg("'%s' rejected", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (http__ce_time_valid(bad[i], strlen(bad[i])))
            fail_msg("'%s' accepted", bad[i]);
}

/* ---- stored record -> JSON event ---- */

static void test_posted_event_reads_back_as_the_same_event(void **state)
{
    (void)state;
    static const char *const events[] = {
        "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"subject\":\"x\","
        "\"partitionkey\":\"k\",\"datacontenttype\":\"application/json\",\"data\":{\"a\":[1,"
        "\"b\",null,true]}}",
        "{\"specversion\":\"1.0\",\"id\":\"2\",\"source\":\"/s\",\"type\":\"t\","
        "\"datacontenttype\":\"text/plain\",\"data\":\"h\\u00e9llo\"}",
        "{\"specversion\":\"1.0\",\"id\":\"3\",\"source\":\"/s\",\"type\":\"t\","
        "\"datacontenttype\":\"image/png\",\"data_base64\":\"iVBORw0KGgr/AA==\"}",
        "{\"specversion\":\"1.0\",\"id\":\"4\",\"source\":\"/s\",\"type\":\"t\"}",
        "{\"specversion\":\"1.0\",\"id\":\"5\",\"source\":\"/s\",\"type\":\"t\","
        "\"datacontenttype\":\"application/json\",\"data\":\"a string\"}",
    };
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
        hd_arena_t a;
        hd_arena_init(&a, 0);
        json_t *j = parse(events[i]);
        broker_record_in_t rec;
        const char *why = NULL, *attr = NULL;
        assert_int_equal(http__ce_from_json(&a, j, 0, &rec, &why, &attr), 0);
        stored_t s;
        store_and_read(&rec, &s);
        assert_true(s.is_ce);
        assert_string_equal(s.type_text, "t");
        assert_json_eq(s.ev, events[i]);
        stored_free(&s);
        json_decref(j);
        hd_arena_deinit(&a);
    }
}

static void test_json_without_content_type_gets_it_explicitly(void **state)
{
    (void)state;
    hd_arena_t a;
    hd_arena_init(&a, 0);
    json_t *j = parse("{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
                      "\"data\":[1]}");
    broker_record_in_t rec;
    const char *why = NULL, *attr = NULL;
    assert_int_equal(http__ce_from_json(&a, j, 0, &rec, &why, &attr), 0);
    stored_t s;
    store_and_read(&rec, &s);
    assert_json_eq(s.ev, "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
                         "\"datacontenttype\":\"application/json\",\"data\":[1]}");
    stored_free(&s);
    json_decref(j);
    hd_arena_deinit(&a);
}

static void test_kafka_binary_mode_records(void **state)
{
    (void)state;
    /* JSON content type but not JSON bytes: data_base64, never a lie about the type. */
    broker_header_t h1[] = {H("ce_specversion", "1.0"),
                            H("ce_id", "1"),
                            H("ce_source", "/k"),
                            H("ce_type", "t.k"),
                            H("content-type", "application/json"),
                            H("ce_Bad", "skipped"),
                            H("other", "skipped"),
                            H("ce_ext", "first"),
                            H("ce_ext", "later wins")};
    broker_record_in_t r1 = raw_record(h1, 9, "not json");
    stored_t s;
    store_and_read(&r1, &s);
    assert_json_eq(s.ev, "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/k\",\"type\":"
                         "\"t.k\",\"ext\":\"later wins\",\"datacontenttype\":\"application/"
                         "json\",\"data_base64\":\"bm90IGpzb24=\"}");
    assert_string_equal(s.type_text, "t.k");
    stored_free(&s);
    /* No content type: JSON bytes are data, other bytes data_base64. */
    broker_header_t h2[] = {H("ce_specversion", "1.0"), H("ce_id", "2"), H("ce_source", "/k"),
                            H("ce_type", "t.k")};
    broker_record_in_t r2 = raw_record(h2, 4, "{\"a\":1}");
    store_and_read(&r2, &s);
    assert_json_eq(s.ev, "{\"specversion\":\"1.0\",\"id\":\"2\",\"source\":\"/k\",\"type\":"
                         "\"t.k\",\"data\":{\"a\":1}}");
    stored_free(&s);
    r2 = raw_record(h2, 4, "\xff\xfe");
    store_and_read(&r2, &s);
    assert_json_eq(s.ev, "{\"specversion\":\"1.0\",\"id\":\"2\",\"source\":\"/k\",\"type\":"
                         "\"t.k\",\"data_base64\":\"//4=\"}");
    stored_free(&s);
    /* Text that is not UTF-8 also goes as base64. */
    broker_header_t h3[] = {H("ce_specversion", "1.0"), H("ce_id", "3"), H("ce_source", "/k"),
                            H("ce_type", "t.k"), H("content-type", "text/plain")};
    broker_record_in_t r3 = raw_record(h3, 5, "caf\xe9");
    store_and_read(&r3, &s);
    assert_json_eq(s.ev, "{\"specversion\":\"1.0\",\"id\":\"3\",\"source\":\"/k\",\"type\":"
                         "\"t.k\",\"datacontenttype\":\"text/plain\",\"data_base64\":"
                         "\"Y2Fm6Q==\"}");
    stored_free(&s);
}

static void test_records_that_are_not_cloudevents(void **state)
{
    (void)state;
    broker_header_t no_type[] = {H("ce_specversion", "1.0"), H("ce_id", "1"), H("ce_source", "/k")};
    broker_header_t bad_utf8[] = {H("ce_specversion", "1.0"), H("ce_id", "1"), H("ce_source", "/k"),
                                  H("ce_type", "\xff")};
    broker_header_t structured[] = {H("content-type", "application/cloudevents+json")};
    struct {
        broker_header_t *h;
        int n;
        const char *value;
    } cases[] = {
        {NULL, 0, "plain"},
        {no_type, 3, "x"},
        {bad_utf8, 4, "x"},
        {structured, 1, "not json"},
        {structured, 1, "[1]"},
        {structured, 1, "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\"}"},
        {structured, 1, "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":5}"},
        {structured, 1, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        broker_record_in_t r = raw_record(cases[i].h, cases[i].n, cases[i].value);
        stored_t s;
        store_and_read(&r, &s);
        if (s.ev || s.is_ce)
            fail_msg("case %zu taken for a CloudEvent", i);
        stored_free(&s);
    }
}

static void test_kafka_structured_mode_passes_through(void **state)
{
    (void)state;
    const char *ev = "{\"specversion\":\"1.0\",\"id\":\"s\",\"source\":\"/k\",\"type\":\"t.s\","
                     "\"datacontenttype\":\"application/xml\",\"data\":\"<x/>\",\"n\":5}";
    broker_header_t h[] = {H("content-type", "Application/CloudEvents+JSON; charset=UTF-8"),
                           H("ce_type", "ignored.in.structured.mode")};
    broker_record_in_t r = raw_record(h, 2, ev);
    stored_t s;
    store_and_read(&r, &s);
    assert_json_eq(s.ev, ev);
    assert_true(s.is_ce);
    assert_string_equal(s.type_text, "t.s");
    stored_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_event_maps_to_binary_mode_headers_key_and_value),
        cmocka_unit_test(test_json_data_by_content_type),
        cmocka_unit_test(test_json_event_problems_name_the_attribute),
        cmocka_unit_test(test_header_value_decoding),
        cmocka_unit_test(test_binary_mode_headers_to_record),
        cmocka_unit_test(test_binary_mode_problems),
        cmocka_unit_test(test_rfc3339_times),
        cmocka_unit_test(test_posted_event_reads_back_as_the_same_event),
        cmocka_unit_test(test_json_without_content_type_gets_it_explicitly),
        cmocka_unit_test(test_kafka_binary_mode_records),
        cmocka_unit_test(test_records_that_are_not_cloudevents),
        cmocka_unit_test(test_kafka_structured_mode_passes_through),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
