/* The flat JSON document (registry/jsonschema_doc.c) and validation of JSON text through it:
 * the node layout, strings in place or decoded, numbers read exactly as jansson reads them, the
 * cases it leaves to jansson (and that the answer is then jansson's reading), and non-JSON
 * payloads reported with jansson's reason. That the walk over the flat document answers as the
 * walk over the jansson tree is checked on every test-suite case by jsonschema_tool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "registry/registry_int.h"
#include "util/err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse(registry__jdoc_t *d, const char *text)
{
    return registry__jdoc_parse(d, text, strlen(text));
}

static void test_nodes_follow_document_order_with_subtree_sizes(void **state)
{
    (void)state;
    registry__jdoc_t d;
    registry__jdoc_init(&d);
    const char *t = " {\"a\": [1, 2.5, \"x\"], \"b\": {\"c\": null}, \"d\": true} ";
    assert_int_equal(parse(&d, t), 0);
    const registry__jv_t *v = d.v;
    assert_int_equal(d.n, 12);
    assert_int_equal(v[0].kind, REGISTRY__JV_OBJECT);
    assert_int_equal(v[0].n, 3);
    assert_int_equal(v[0].skip, 12);
    assert_int_equal(v[1].kind, REGISTRY__JV_STRING);
    assert_memory_equal(v[1].u.s, "a", 1);
    assert_int_equal(v[2].kind, REGISTRY__JV_ARRAY);
    assert_int_equal(v[2].n, 3);
    assert_int_equal(v[2].skip, 4);
    assert_int_equal(v[3].kind, REGISTRY__JV_INT);
    assert_int_equal(v[3].u.i, 1);
    assert_int_equal(v[4].kind, REGISTRY__JV_REAL);
    assert_true(v[4].u.d == 2.5);
    assert_int_equal(v[5].kind, REGISTRY__JV_STRING);
    assert_int_equal(v[5].n, 1);
    assert_memory_equal(v[6].u.s, "b", 1);
    assert_int_equal(v[7].kind, REGISTRY__JV_OBJECT);
    assert_int_equal(v[7].skip, 3);
    assert_int_equal(v[9].kind, REGISTRY__JV_NULL);
    assert_memory_equal(v[10].u.s, "d", 1);
    assert_int_equal(v[11].kind, REGISTRY__JV_TRUE);
    /* The next sibling of "a"'s value is the key "b". */
    assert_ptr_equal(&v[2] + v[2].skip, &v[6]);
    registry__jdoc_deinit(&d);
}

static void test_plain_strings_stay_in_place_escaped_ones_are_decoded(void **state)
{
    (void)state;
    registry__jdoc_t d;
    registry__jdoc_init(&d);
    const char *plain = "\"plain text\"";
    assert_int_equal(parse(&d, plain), 0);
    assert_ptr_equal(d.v[0].u.s, plain + 1);
    assert_int_equal(d.v[0].n, 10);
    assert_true(d.v[0].ascii);

    assert_int_equal(parse(&d, "\"a\\\"b\\\\\\/\\n\\u00e9\\ud83d\\ude00\""), 0);
    const char want[] = "a\"b\\/\n\xc3\xa9\xf0\x9f\x98\x80";
    assert_int_equal(d.v[0].n, sizeof want - 1);
    assert_memory_equal(d.v[0].u.s, want, sizeof want - 1);
    assert_false(d.v[0].ascii);

    assert_int_equal(parse(&d, "\"caf\xc3\xa9\""), 0);
    assert_int_equal(d.v[0].n, 5);
    assert_false(d.v[0].ascii);
    registry__jdoc_deinit(&d);
}

/* The flat parser and jansson on one text: both refuse it, or both read an array whose first
 * item is the same string (or the flat parser declines and jansson decides). */
static void check_string_text(registry__jdoc_t *d, const char *text, size_t len)
{
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY, NULL);
    int rc = registry__jdoc_parse(d, text, len);
    if (!j) {
        if (rc == 0)
            fail_msg("accepted what jansson refuses: %.*s", (int)len, text);
        return;
    }
    if (rc == 0) {
        const json_t *s = json_array_get(j, 0);
        assert_int_equal(d->v[0].kind, REGISTRY__JV_ARRAY);
        assert_int_equal(d->v[1].kind, REGISTRY__JV_STRING);
        assert_int_equal(d->v[1].n, json_string_length(s));
        assert_memory_equal(d->v[1].u.s, json_string_value(s), d->v[1].n);
        assert_int_equal(d->v[2].kind, REGISTRY__JV_INT);
        assert_int_equal(d->v[2].u.i, 7);
    }
    json_decref(j);
}

/* The string and whitespace scans go 16 bytes at a time where SSE2 is there (and one byte at a
 * time in the build of this test with REGISTRY_JDOC_SCALAR): a byte that ends or interrupts the
 * plain run (a quote, an escape, a control character, valid and invalid UTF-8) at every place
 * of strings around and across 16- and 32-byte blocks, and whitespace runs of every length. */
static void test_scans_stop_at_every_position(void **state)
{
    (void)state;
    registry__jdoc_t d;
    registry__jdoc_init(&d);
    static const char *const inserts[] = {
        "\\\"", "\\n",  "\\u00e9", "\x01", "\x1f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
        "\xff", "\xc3", "\x7f",    "\"",   "\\"};
    char text[128];
    for (size_t lead = 0; lead < 3; lead++)
        for (size_t len = 0; len <= 40; len++)
            for (size_t at = 0; at <= len; at++)
                for (size_t k = 0; k < sizeof inserts / sizeof *inserts; k++) {
                    size_t n = 0;
                    memcpy(text + n, "[   ", 1 + lead);
                    n += 1 + lead;
                    text[n++] = '"';
                    for (size_t i = 0; i < at; i++)
                        text[n++] = (char)('a' + i % 26);
                    size_t il = strlen(inserts[k]);
                    memcpy(text + n, inserts[k], il);
                    n += il;
                    for (size_t i = at; i < len; i++)
                        text[n++] = (char)('A' + i % 26);
                    memcpy(text + n, "\",7]", 5);
                    n += 4;
                    check_string_text(&d, text, n);
                }
    /* Whitespace runs of every length before and after tokens, and a byte that is not
     * whitespace (vertical tab, form feed) at the end of a run. */
    static const char ws[] = " \n\r\t";
    for (size_t len = 0; len <= 40; len++)
        for (int bad = 0; bad < 3; bad++) {
            char t[256];
            size_t n = 0;
            t[n++] = '[';
            for (size_t i = 0; i < len; i++)
                t[n++] = ws[i % 4];
            memcpy(t + n, "\"x\"", 3);
            n += 3;
            for (size_t i = 0; i < len; i++)
                t[n++] = ws[(i + 1) % 4];
            if (bad)
                t[n++] = bad == 1 ? '\v' : '\f';
            memcpy(t + n, ",7", 2);
            n += 2;
            for (size_t i = 0; i < len; i++)
                t[n++] = ws[(i + 2) % 4];
            t[n++] = ']';
            json_t *j = json_loadb(t, n, JSON_DECODE_ANY, NULL);
            int rc = registry__jdoc_parse(&d, t, n);
            assert_int_equal(rc == 0, j != NULL);
            assert_int_equal(rc == 0, !bad);
            if (!rc) {
                assert_int_equal(d.n, 3);
                assert_memory_equal(d.v[1].u.s, "x", 1);
                assert_int_equal(d.v[2].u.i, 7);
            }
            json_decref(j);
        }
    registry__jdoc_deinit(&d);
}

/* Both readings of a number: the same kind and the same bits, or the flat parser declines. */
static void check_number(registry__jdoc_t *d, const char *text)
{
    json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
    int rc = parse(d, text);
    if (rc < 0) {
        json_decref(j);
        return; /* jansson decides */
    }
    assert_non_null(j);
    if (json_is_integer(j)) {
        assert_int_equal(d->v[0].kind, REGISTRY__JV_INT);
        assert_int_equal(d->v[0].u.i, json_integer_value(j));
    } else {
        assert_int_equal(d->v[0].kind, REGISTRY__JV_REAL);
        double a = d->v[0].u.d, b = json_real_value(j);
        if (memcmp(&a, &b, sizeof a))
            fail_msg("%s: %.17g against jansson's %.17g", text, a, b);
    }
    json_decref(j);
}

static void test_numbers_are_read_as_jansson_reads_them(void **state)
{
    (void)state;
    registry__jdoc_t d;
    registry__jdoc_init(&d);
    static const char *const fixed[] = {"0",
                                        "-0",
                                        "-0.0",
                                        "7",
                                        "123456789012345678",
                                        "-123456789012345678",
                                        "1.5",
                                        "0.1",
                                        "0.30000000000000004",
                                        "1e22",
                                        "1e23",
                                        "1E+2",
                                        "123.456e-7",
                                        "9007199254740993.0",
                                        "2.2250738585072014e-308",
                                        "4.9e-324",
                                        "1e-400",
                                        "0.000001",
                                        "100000000000000000000.5",
                                        "3.141592653589793238462643383279",
                                        "1.7976931348623157e308"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        check_number(&d, fixed[i]);
    /* Random decimals around the fast path's edges (up to 20 digits, exponents to +-30). */
    srand(14);
    for (int k = 0; k < 20000; k++) {
        char buf[64];
        size_t n = 0;
        if (rand() % 2)
            buf[n++] = '-';
        int ndig = 1 + rand() % 20, dot = rand() % (ndig + 1);
        for (int i = 0; i < ndig; i++) {
            if (i == dot && i > 0)
                buf[n++] = '.';
            buf[n++] = (char)('0' + (i == 0 ? 1 + rand() % 9 : rand() % 10));
        }
        if (rand() % 3 == 0)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "e%d", rand() % 61 - 30);
        buf[n] = '\0';
        check_number(&d, buf);
    }
    registry__jdoc_deinit(&d);
}

static void test_declines_what_it_leaves_to_jansson(void **state)
{
    (void)state;
    registry__jdoc_t d;
    registry__jdoc_init(&d);
    static const char *const declined[] = {"{\"a\": 1, \"a\": 2}", /* duplicate keys */
                                           "\"\\u0000\"",          /* jansson refuses NUL */
                                           "12345678901234567890", /* past 18 digits */
                                           "1e400",                /* overflows a double */
                                           "\"\\ud800\"",          /* lone surrogates */
                                           "\"\\udc00\"",          /* */
                                           "[1,]",
                                           "01",
                                           "1.",
                                           ".5",
                                           "-",
                                           "1e",
                                           "+1",
                                           "tru",
                                           "nul",
                                           "{\"a\" 1}",
                                           "{a: 1}",
                                           "[1 2]",
                                           "\"\x01\"",
                                           "\"\xc0\x80\"",
                                           "\"\xed\xa0\x80\"",
                                           "\"\xf4\x90\x80\x80\"",
                                           "\"\xe2\x82\"",
                                           "1 2",
                                           "",
                                           "   ",
                                           "\"open",
                                           "[",
                                           "{\"a\":1",
                                           "\"\\x\"",
                                           "\"\\u12g4\""};
    for (size_t i = 0; i < sizeof declined / sizeof declined[0]; i++)
        if (parse(&d, declined[i]) != HD_EMALFORMED)
            fail_msg("accepted %s", declined[i]);
    /* Nesting past REGISTRY__JDOC_MAX_DEPTH. */
    char deep[2 * REGISTRY__JDOC_MAX_DEPTH + 3];
    memset(deep, '[', REGISTRY__JDOC_MAX_DEPTH + 1);
    memset(deep + REGISTRY__JDOC_MAX_DEPTH + 1, ']', REGISTRY__JDOC_MAX_DEPTH + 1);
    deep[sizeof deep - 1] = '\0';
    assert_int_equal(parse(&d, deep), HD_EMALFORMED);
    deep[0] = ' ';
    deep[sizeof deep - 2] = ' ';
    assert_int_equal(parse(&d, deep), 0);
    registry__jdoc_deinit(&d);
}

static void test_many_keys_are_not_taken_for_duplicates(void **state)
{
    (void)state;
    registry__jdoc_t d;
    registry__jdoc_init(&d);
    char buf[8192];
    size_t n = (size_t)snprintf(buf, sizeof buf, "{");
    for (int i = 0; i < 400; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\"k%d\":%d", i ? "," : "", i, i);
    snprintf(buf + n, sizeof buf - n, "}");
    assert_int_equal(parse(&d, buf), 0);
    assert_int_equal(d.v[0].n, 400);
    snprintf(buf + n, sizeof buf - n, ",\"k123\":0}");
    assert_int_equal(parse(&d, buf), HD_EMALFORMED);
    registry__jdoc_deinit(&d);
}

static registry_jsonschema_t *compile(const char *schema)
{
    json_t *s = json_loads(schema, JSON_DECODE_ANY, NULL);
    assert_non_null(s);
    registry_jsonschema_t *c = NULL;
    assert_int_equal(registry_jsonschema_compile(s, NULL, NULL, 0, &c, NULL), 0);
    json_decref(s);
    return c;
}

static int validate(const registry_jsonschema_t *c, const char *text, registry_error_t *err,
                    json_error_t *je)
{
    return registry__js_validate_text(c, text, strlen(text), err, je);
}

/* jansson keeps a repeated key where it first stood, with the last value: so does the answer. */
static void test_duplicate_keys_are_read_as_jansson_reads_them(void **state)
{
    (void)state;
    registry_jsonschema_t *c = compile("{\"properties\": {\"a\": {\"type\": \"integer\"}}}");
    registry_error_t err;
    json_error_t je;
    assert_int_equal(validate(c, "{\"a\": \"x\", \"b\": 0, \"a\": 1}", &err, &je), 0);
    assert_int_equal(validate(c, "{\"a\": 1, \"b\": 0, \"a\": \"x\"}", &err, &je), HD_EINVAL);
    assert_string_equal(err.keyword, "type");
    assert_string_equal(err.instance_path, "/a");
    assert_string_equal(err.schema_path, "#/properties/a/type");
    assert_string_equal(err.message, "\"x\" is not of type integer");
    registry_jsonschema_free(c);
    /* The check while parsing must not count a repeated key twice, a property's (found by its
     * slot) nor another key (found by the object's filter): jansson sees one member. */
    c = compile("{\"properties\": {\"a\": {}}, \"minProperties\": 2}");
    assert_int_equal(validate(c, "{\"a\": 1, \"a\": 2}", &err, &je), HD_EINVAL);
    assert_string_equal(err.keyword, "minProperties");
    assert_int_equal(validate(c, "{\"b\": 1, \"b\": 2}", &err, &je), HD_EINVAL);
    assert_int_equal(validate(c, "{\"a\": 1, \"b\": 2}", &err, &je), 0);
    registry_jsonschema_free(c);
}

static void test_errors_name_keyword_pointers_and_value(void **state)
{
    (void)state;
    registry_jsonschema_t *c =
        compile("{\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"id\"],"
                " \"properties\": {\"id\": {\"type\": \"string\", \"pattern\": \"^[A-Z]{3}$\"},"
                " \"n\": {\"type\": \"array\", \"items\": {\"enum\": [1, 2.5, \"x\"]}}}}");
    registry_error_t err;
    json_error_t je;
    assert_int_equal(validate(c, "{\"id\": \"ABC\", \"n\": [1, 2.5, \"x\", 1.0]}", &err, &je), 0);
    assert_int_equal(validate(c, "{\"id\": \"ABC\", \"n\": [1, 3]}", &err, &je), HD_EINVAL);
    assert_string_equal(err.keyword, "enum");
    assert_string_equal(err.instance_path, "/n/1");
    assert_string_equal(err.schema_path, "#/properties/n/items/enum");
    assert_string_equal(err.message, "3 is not one of the 3 enum values");
    assert_int_equal(validate(c, "{\"id\": \"AB\\u0043D\"}", &err, &je), HD_EINVAL);
    assert_string_equal(err.keyword, "pattern");
    assert_string_equal(err.instance_path, "/id");
    assert_int_equal(validate(c, "{\"id\": \"ABC\", \"a/b~\": 1}", &err, &je), HD_EINVAL);
    assert_string_equal(err.keyword, "additionalProperties");
    assert_string_equal(err.instance_path, "/a~1b~0");
    assert_string_equal(err.message, "property \"a/b~\" is not allowed");
    assert_int_equal(validate(c, "{}", &err, &je), HD_EINVAL);
    assert_string_equal(err.message, "required property \"id\" is missing");
    registry_jsonschema_free(c);
}

/* Valid payloads are answered by a pass-or-fail walk with draft-07 $ref chains resolved at
 * compile; it must stop at the bounds the full walk stops at, and leave the error to it. */
static void test_text_path_keeps_the_bounds_and_ref_chains(void **state)
{
    (void)state;
    registry_error_t err;
    json_error_t je;
    /* A chain of three $ref nodes: passes, and a failure names the whole chain. */
    registry_jsonschema_t *c =
        compile("{\"definitions\": {\"a\": {\"$ref\": \"#/definitions/b\"},"
                " \"b\": {\"$ref\": \"#/definitions/c\"}, \"c\": {\"type\": \"integer\"}},"
                " \"properties\": {\"x\": {\"$ref\": \"#/definitions/a\"}}}");
    assert_int_equal(validate(c, "{\"x\": 3, \"y\": \"z\"}", &err, &je), 0);
    assert_string_equal(err.keyword, "");
    assert_int_equal(validate(c, "{\"x\": 3.5}", &err, &je), HD_EINVAL);
    assert_string_equal(err.keyword, "type");
    assert_string_equal(err.instance_path, "/x");
    assert_string_equal(err.schema_path, "#/properties/x/$ref/$ref/$ref/type");
    registry_jsonschema_free(c);
    /* A chain that comes back on itself, under not (its failure must not become success). */
    c = compile(
        "{\"definitions\": {\"a\": {\"$ref\": \"#/definitions/b\"},"
        " \"b\": {\"$ref\": \"#/definitions/a\"}}, \"not\": {\"$ref\": \"#/definitions/a\"}}");
    assert_int_equal(validate(c, "{}", &err, &je), HD_ERANGE);
    assert_non_null(strstr(err.message, "cycle"));
    registry_jsonschema_free(c);
    /* A cycle through an applicator, in a branch of anyOf that another branch would pass. */
    c = compile("{\"anyOf\": [{\"$ref\": \"#\"}, true]}");
    assert_int_equal(validate(c, "1", &err, &je), HD_ERANGE);
    registry_jsonschema_free(c);
    /* Depth: a schema that descends with the instance. */
    char inst[2001];
    for (int i = 0; i < 1000; i++) {
        inst[i] = '[';
        inst[1999 - i] = ']';
    }
    inst[2000] = '\0';
    c = compile("{\"items\": {\"$ref\": \"#\"}}");
    assert_int_equal(validate(c, inst, &err, &je), HD_ERANGE);
    assert_non_null(strstr(err.message, "deep"));
    registry_jsonschema_free(c);
    /* Work: 2^40 paths through anyOf, every one of them failing at the end. */
    char schema[16384];
    size_t n = (size_t)snprintf(schema, sizeof schema, "{\"$ref\": \"#/$defs/l0\", \"$defs\": {");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(schema + n, sizeof schema - n,
                              "\"l%d\": {\"anyOf\": [{\"$ref\": \"#/$defs/l%d\"},"
                              " {\"$ref\": \"#/$defs/l%d\"}]},",
                              i, i + 1, i + 1);
    snprintf(schema + n, sizeof schema - n,
             "\"l40\": false}, \"$schema\": \"https://json-schema.org/draft/2020-12/schema\"}");
    c = compile(schema);
    assert_int_equal(validate(c, "1", &err, &je), HD_ERANGE);
    assert_non_null(strstr(err.message, "work"));
    registry_jsonschema_free(c);
}

/* Opening brackets take one byte and one node each: a text of them that never closes must not
 * write past the nodes reserved for its length (a text of valid JSON needs at most len / 2 + 2;
 * one cut short, one more per container still open). */
static void test_unclosed_containers_stay_within_the_nodes(void **state)
{
    (void)state;
    registry__jdoc_t d;
    registry__jdoc_init(&d);
    for (size_t len = 1; len <= 2 * REGISTRY__JDOC_MAX_DEPTH; len += len < 300 ? 1 : 37) {
        for (int form = 0; form < 3; form++) {
            char *text = malloc(len + 1);
            assert_non_null(text);
            memset(text, form == 1 ? '{' : '[', len);
            if (form == 2 && len > 2)
                text[len - 1] = '1'; /* a scalar after the last bracket */
            text[len] = '\0';
            assert_int_equal(registry__jdoc_parse(&d, text, len), HD_EMALFORMED);
            registry__jdoc_trim(&d);
            free(text);
        }
    }
    registry__jdoc_deinit(&d);
    registry_jsonschema_t *c = compile("{\"items\": {\"items\": true}}");
    char text[301];
    memset(text, '[', 300);
    text[300] = '\0';
    registry_error_t err;
    json_error_t je;
    assert_int_equal(validate(c, text, &err, &je), HD_EMALFORMED);
    registry_jsonschema_free(c);
}

static void test_non_json_payloads_get_janssons_reason(void **state)
{
    (void)state;
    registry_jsonschema_t *c = compile("true");
    registry_error_t err;
    json_error_t je;
    assert_int_equal(validate(c, "{\"a\": tru}", &err, &je), HD_EMALFORMED);
    assert_true(strstr(je.text, "invalid token") != NULL);
    assert_int_equal(je.column, 9);
    assert_int_equal(validate(c, "[1, 2", &err, &je), HD_EMALFORMED);
    assert_int_equal(validate(c, "12345678901234567890", &err, &je), HD_EMALFORMED);
    assert_true(strstr(je.text, "too big") != NULL);
    /* Declined by the flat parser, accepted by jansson: jansson's reading is validated. */
    assert_int_equal(validate(c, "{\"a\": 1, \"a\": 2}", &err, &je), 0);
    registry_jsonschema_free(c);
}

static void test_large_payloads_validate_and_buffers_are_given_back(void **state)
{
    (void)state;
    registry_jsonschema_t *c = compile("{\"items\": {\"type\": \"integer\", \"maximum\": 9}}");
    size_t n = 3 << 20;
    char *big = malloc(n + 1);
    big[0] = '[';
    for (size_t i = 1; i + 1 < n; i += 2) {
        big[i] = (char)('0' + i % 10);
        big[i + 1] = ',';
    }
    big[n - 2] = ' ';
    big[n - 1] = ']';
    big[n] = '\0';
    registry_error_t err;
    json_error_t je;
    assert_int_equal(registry__js_validate_text(c, big, n, &err, &je), 0);
    big[n - 3] = 'x';
    assert_int_equal(registry__js_validate_text(c, big, n, &err, &je), HD_EMALFORMED);
    free(big);
    registry_jsonschema_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nodes_follow_document_order_with_subtree_sizes),
        cmocka_unit_test(test_plain_strings_stay_in_place_escaped_ones_are_decoded),
        cmocka_unit_test(test_scans_stop_at_every_position),
        cmocka_unit_test(test_numbers_are_read_as_jansson_reads_them),
        cmocka_unit_test(test_declines_what_it_leaves_to_jansson),
        cmocka_unit_test(test_many_keys_are_not_taken_for_duplicates),
        cmocka_unit_test(test_duplicate_keys_are_read_as_jansson_reads_them),
        cmocka_unit_test(test_errors_name_keyword_pointers_and_value),
        cmocka_unit_test(test_text_path_keeps_the_bounds_and_ref_chains),
        cmocka_unit_test(test_unclosed_containers_stay_within_the_nodes),
        cmocka_unit_test(test_non_json_payloads_get_janssons_reason),
        cmocka_unit_test(test_large_payloads_validate_and_buffers_are_given_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
