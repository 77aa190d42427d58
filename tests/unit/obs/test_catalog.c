/* The event catalog: classification of records (binary and structured CloudEvents, the schema
 * registry's wire format, untyped), producers, stream consumers, the caps on memory, sampling of
 * compressed batches, and what the broker's append observer is (not) told. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "broker/broker.h"
#include "log/batch_builder.h"
#include "obs/obs.h"
#include "util/crc32c.h"
#include "util/err.h"
#include "util/say.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct fixture {
    bb_dir_t dir;
    hd_config_t cfg;
    broker_t *b;
    broker_topic_t *t;
} fixture_t;

static void noop_notify(void *ctx) { (void)ctx; }

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    bb_dir_make(&f->dir);
    hd_config_init(&f->cfg);
    free(f->cfg.data_dir);
    f->cfg.data_dir = strdup(f->dir.root);
    f->cfg.preallocate = false;
    say_level = SAY_ERROR;
    assert_int_equal(broker_open(&f->cfg, noop_notify, NULL, &f->b), 0);
    const char *why = "";
    assert_int_equal(broker_topic_create(f->b, "t", 1, NULL, 0, false, &f->t, &why), 0);
    obs_catalog_init(f->b, true);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    obs_catalog_free(f->b);
    broker_close(f->b);
    hd_config_deinit(&f->cfg);
    bb_dir_remove(&f->dir);
    free(f);
    return 0;
}

static hd_slice_t sl(const char *s) { return hd_slice((const uint8_t *)s, strlen(s)); }

/* One record with a value and up to two headers (name/value pairs, NULL-terminated). */
static broker_record_in_t rec(const void *value, size_t len, const char *h1, const char *v1,
                              const char *h2, const char *v2, broker_header_t *hs)
{
    broker_record_in_t r;
    memset(&r, 0, sizeof r);
    r.key_null = true;
    r.value = hd_slice(value, len);
    r.timestamp = 1700000000000;
    int n = 0;
    if (h1) {
        hs[n].name = sl(h1);
        hs[n].value = sl(v1);
        hs[n++].value_null = false;
    }
    if (h2) {
        hs[n].name = sl(h2);
        hs[n].value = sl(v2);
        hs[n++].value_null = false;
    }
    r.headers = hs;
    r.nheaders = n;
    return r;
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/* Rewrites an uncompressed batch as a gzip-compressed one. */
static void gzip_batch(hd_buf_t *b)
{
    uint8_t out[65536];
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = b->p + 61;
    zs.avail_in = (uInt)(b->len - 61);
    zs.next_out = out;
    zs.avail_out = sizeof out;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t clen = sizeof out - zs.avail_out;
    deflateEnd(&zs);
    b->len = 61;
    hd_buf_put(b, out, clen);
    put_be(b->p + 8, b->len - 12, 4);
    put_be(b->p + 21, 1, 2); /* gzip */
    put_be(b->p + 17, hd_crc32c(0, b->p + 21, b->len - 21), 4);
}

static void append(fixture_t *f, const char *client, const broker_record_in_t *recs, int n,
                   bool gzip)
{
    hd_buf_t buf;
    hd_buf_init(&buf);
    assert_true(broker_batch_build(recs, n, 1 << 20, &buf) > 0);
    if (gzip)
        gzip_batch(&buf);
    broker_append_t res;
    const char *why = "";
    assert_int_equal(broker_partition_append_as(broker_topic_partition(f->t, 0), buf.p, buf.len, 9,
                                                client, &res, &why),
                     0);
    hd_buf_deinit(&buf);
}

/* The catalog entry of topic t. */
static json_t *topic_json(fixture_t *f, json_t **cat)
{
    *cat = obs_catalog_json(f->b, NULL, NULL);
    json_t *topics = json_object_get(*cat, "topics");
    assert_int_equal(json_array_size(topics), 1);
    return json_array_get(topics, 0);
}

/* The type named `name` in the topic's entry, or NULL. */
static json_t *find_type(json_t *topic, const char *name)
{
    size_t i;
    json_t *ty;
    json_array_foreach(json_object_get(topic, "types"), i,
                       ty) if (strcmp(json_string_value(json_object_get(ty, "type")), name) ==
                               0) return ty;
    return NULL;
}

static json_int_t records_of(json_t *ty)
{
    return json_integer_value(json_object_get(ty, "records"));
}

static void test_binary_cloudevent_is_typed_by_its_header_and_credited_to_the_client(void **state)
{
    fixture_t *f = *state;
    broker_header_t h[3][2];
    const char *v = "{\"order_id\":\"o-1\"}";
    broker_record_in_t r[3] = {
        rec(v, strlen(v), "ce_type", "order.placed", "content-type", "application/json", h[0]),
        rec(v, strlen(v), "ce_type", "order.placed", NULL, NULL, h[1]),
        rec(v, strlen(v), "ce_type", "order.paid", NULL, NULL, h[2]),
    };
    append(f, "shop", r, 3, false);
    append(f, "other", r, 1, false);
    json_t *cat, *t = topic_json(f, &cat);
    assert_int_equal(json_integer_value(json_object_get(t, "records_seen")), 4);
    json_t *placed = find_type(t, "order.placed");
    assert_non_null(placed);
    assert_int_equal(records_of(placed), 3);
    assert_string_equal(json_string_value(json_object_get(placed, "kind")), "cloudevents");
    assert_string_equal(json_string_value(json_object_get(placed, "content_type")),
                        "application/json");
    json_t *prods = json_object_get(placed, "producers");
    assert_int_equal(json_array_size(prods), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(prods, 0), "client_id")),
                        "shop");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(prods, 0), "records")), 2);
    json_t *sample = json_object_get(json_object_get(placed, "sample"), "value");
    assert_string_equal(json_string_value(json_object_get(sample, "order_id")), "o-1");
    assert_int_equal(records_of(find_type(t, "order.paid")), 1);
    json_decref(cat);
}

static void test_structured_cloudevent_takes_the_top_level_type(void **state)
{
    fixture_t *f = *state;
    static const char *const values[] = {
        /* nested "type" members and a tricky string come before the real one */
        "{\"data\":{\"type\":\"no\",\"a\":[{\"type\":\"no\"}]},\"s\":\"\\\"type\\\":\\\"no\\\"\","
        "\"type\":\"order.returned\",\"specversion\":\"1.0\"}",
        "  {\n \"type\" : \"order.returned\" }",
    };
    broker_header_t h[2][2];
    broker_record_in_t r[2];
    for (int i = 0; i < 2; i++)
        r[i] = rec(values[i], strlen(values[i]), "content-type",
                   "Application/CloudEvents+JSON; charset=utf-8", NULL, NULL, h[i]);
    append(f, "returns", r, 2, false);
    json_t *cat, *t = topic_json(f, &cat);
    json_t *ty = find_type(t, "order.returned");
    assert_non_null(ty);
    assert_int_equal(records_of(ty), 2);
    assert_int_equal(json_array_size(json_object_get(t, "types")), 1);
    json_decref(cat);
}

static void test_malformed_structured_values_are_untyped(void **state)
{
    fixture_t *f = *state;
    static const char *const bad[] = {
        "",
        "{",
        "{\"type\"",
        "{\"type\":",
        "{\"type\":\"unterminated",
        "{\"type\":7}",
        "[\"type\",\"x\"]",
        "{\"a\":{\"type\":\"x\"}",
        "{\"a\" \"type\":\"x\"}",
        "{\"type\":\"\"}",
        "{\"a\":\"\\\"}",
        "{\"a\":1 \"type\":\"x\"}",
        "not json",
    };
    size_t n = sizeof bad / sizeof bad[0];
    broker_header_t h[16][2];
    broker_record_in_t r[16];
    for (size_t i = 0; i < n; i++)
        r[i] = rec(bad[i], strlen(bad[i]), "content-type", "application/cloudevents+json", NULL,
                   NULL, h[i]);
    append(f, "fuzzy", r, (int)n, false);
    json_t *cat, *t = topic_json(f, &cat);
    json_t *ty = find_type(t, "(untyped)");
    assert_non_null(ty);
    assert_int_equal(records_of(ty), (json_int_t)n);
    assert_int_equal(json_array_size(json_object_get(t, "types")), 1);
    json_decref(cat);
}

static void test_schema_wire_format_is_typed_by_schema_id(void **state)
{
    fixture_t *f = *state;
    static const uint8_t v1[] = {0, 0, 0, 1, 0x2c, 0x06, 'a', 'b', 'c'};
    static const uint8_t v2[] = {0, 0, 0, 0, 7};
    static const uint8_t short_v[] = {0, 0, 0, 1}; /* too short: untyped */
    broker_header_t h[4][2];
    broker_record_in_t r[4] = {
        rec(v1, sizeof v1, NULL, NULL, NULL, NULL, h[0]),
        rec(v1, sizeof v1, NULL, NULL, NULL, NULL, h[1]),
        rec(v2, sizeof v2, NULL, NULL, NULL, NULL, h[2]),
        rec(short_v, sizeof short_v, NULL, NULL, NULL, NULL, h[3]),
    };
    append(f, "avro", r, 4, false);
    json_t *cat, *t = topic_json(f, &cat);
    json_t *a = find_type(t, "schema-id:300"), *b = find_type(t, "schema-id:7");
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(records_of(a), 2);
    assert_string_equal(json_string_value(json_object_get(a, "kind")), "schema");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "schema"), "id")), 300);
    /* Binary values are sampled as base64. */
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(a, "sample"), "value_b64")),
        "AAAAASwGYWJj");
    assert_int_equal(records_of(find_type(t, "(untyped)")), 1);
    json_decref(cat);
}

static void test_types_and_producers_are_capped(void **state)
{
    fixture_t *f = *state;
    char names[40][16];
    broker_header_t h[40][2];
    broker_record_in_t r[40];
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof names[i], "t.%d", i);
        r[i] = rec("{}", 2, "ce_type", names[i], NULL, NULL, h[i]);
    }
    append(f, "spam", r, 40, false);
    char client[32];
    for (int i = 0; i < 10; i++) {
        snprintf(client, sizeof client, "client-%d", i);
        append(f, client, r, 1, false);
    }
    json_t *cat, *t = topic_json(f, &cat);
    assert_int_equal(json_array_size(json_object_get(t, "types")), 32);
    assert_int_equal(json_integer_value(json_object_get(t, "other_records")), 8);
    assert_int_equal(json_integer_value(json_object_get(t, "records_seen")), 50);
    json_t *t0 = find_type(t, "t.0");
    assert_int_equal(records_of(t0), 11);
    assert_int_equal(json_array_size(json_object_get(t0, "producers")), 8);
    assert_int_equal(json_integer_value(json_object_get(t0, "other_producers_records")), 3);
    json_decref(cat);
}

static void test_compressed_batches_are_sampled(void **state)
{
    fixture_t *f = *state;
    broker_header_t h[2][2];
    broker_record_in_t r[2] = {
        rec("{}", 2, "ce_type", "zipped.a", NULL, NULL, h[0]),
        rec("{}", 2, "ce_type", "zipped.b", NULL, NULL, h[1]),
    };
    append(f, "z", r, 2, true);
    /* Within the second: not inflated, counted under the last type seen compressed. */
    append(f, "z", r, 2, true);
    json_t *cat, *t = topic_json(f, &cat);
    assert_int_equal(records_of(find_type(t, "zipped.a")), 1);
    assert_int_equal(records_of(find_type(t, "zipped.b")), 3);
    assert_int_equal(json_integer_value(json_object_get(t, "records_seen")), 4);
    json_decref(cat);
}

static void test_streams_are_consumers_while_open(void **state)
{
    fixture_t *f = *state;
    obs_catalog_stream("t", "dash", "sse", 1);
    obs_catalog_stream("t", "dash", "sse", 1);
    obs_catalog_stream("t", NULL, "websocket", 1);
    obs_catalog_stream("t", "dash", "sse", -1);
    obs_catalog_stream("nope", "x", "sse", -1); /* unknown: ignored */
    json_t *cat, *t = topic_json(f, &cat);
    json_t *cons = json_object_get(t, "consumers");
    assert_int_equal(json_array_size(cons), 2);
    json_t *c0 = json_array_get(cons, 0), *c1 = json_array_get(cons, 1);
    assert_string_equal(json_string_value(json_object_get(c0, "id")), "dash");
    assert_int_equal(json_integer_value(json_object_get(c0, "open")), 1);
    assert_string_equal(json_string_value(json_object_get(c1, "id")), "(unknown)");
    assert_string_equal(json_string_value(json_object_get(c1, "protocol")), "websocket");
    json_decref(cat);
}

static int observed;

static void count_observer(void *ctx, broker_partition_t *p, hd_slice_t batch,
                           const broker_batch_hdr_t *h, const char *client_id)
{
    (void)ctx;
    (void)p;
    (void)batch;
    (void)h;
    (void)client_id;
    observed++;
}

static void test_internal_logs_are_not_observed(void **state)
{
    fixture_t *f = *state;
    broker_set_append_observer(f->b, count_observer, NULL);
    observed = 0;
    broker_partition_t *ip;
    assert_int_equal(broker_internal_log_open(f->b, "__internal", &ip), 0);
    broker_header_t h[1][2];
    broker_record_in_t r = rec("x", 1, NULL, NULL, NULL, NULL, h[0]);
    hd_buf_t buf;
    hd_buf_init(&buf);
    assert_true(broker_batch_build(&r, 1, 1 << 20, &buf) > 0);
    broker_append_t res;
    const char *why = "";
    assert_int_equal(broker_partition_append(ip, buf.p, buf.len, 9, &res, &why), 0);
    assert_int_equal(observed, 0);
    hd_buf_deinit(&buf);
    append(f, NULL, &r, 1, false);
    assert_int_equal(observed, 1);
}

static void test_unknown_producer_and_untyped_text_sample(void **state)
{
    fixture_t *f = *state;
    broker_header_t h[1][2];
    broker_record_in_t r = rec("just text", 9, NULL, NULL, NULL, NULL, h[0]);
    append(f, NULL, &r, 1, false);
    json_t *cat, *t = topic_json(f, &cat);
    json_t *ty = find_type(t, "(untyped)");
    json_t *p0 = json_array_get(json_object_get(ty, "producers"), 0);
    assert_string_equal(json_string_value(json_object_get(p0, "client_id")), "(unknown)");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ty, "sample"), "value")),
                        "just text");
    json_decref(cat);
}

static void test_asyncapi_has_a_channel_message_and_send_operation(void **state)
{
    fixture_t *f = *state;
    broker_header_t h[1][2];
    broker_record_in_t r = rec("{}", 2, "ce_type", "a b/c", NULL, NULL, h[0]);
    append(f, "p", &r, 1, false);
    json_t *cat = obs_catalog_json(f->b, NULL, NULL);
    json_t *doc = obs_asyncapi(cat, "127.0.0.1:9092", NULL);
    assert_string_equal(json_string_value(json_object_get(doc, "asyncapi")), "3.0.0");
    json_t *msgs = json_object_get(json_object_get(doc, "components"), "messages");
    json_t *m = json_object_get(msgs, "t.a_b_c"); /* made a legal key */
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "name")), "a b/c");
    json_t *op = json_object_get(json_object_get(doc, "operations"), "t.send");
    assert_string_equal(json_string_value(json_object_get(op, "action")), "send");
    assert_null(json_object_get(json_object_get(doc, "operations"), "t.receive"));
    assert_null(json_object_get(json_object_get(doc, "servers"), "http"));
    json_decref(doc);
    json_decref(cat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_binary_cloudevent_is_typed_by_its_header_and_credited_to_the_client, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_structured_cloudevent_takes_the_top_level_type, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_malformed_structured_values_are_untyped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_schema_wire_format_is_typed_by_schema_id, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_types_and_producers_are_capped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compressed_batches_are_sampled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streams_are_consumers_while_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_internal_logs_are_not_observed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_producer_and_untyped_text_sample, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_asyncapi_has_a_channel_message_and_send_operation,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
