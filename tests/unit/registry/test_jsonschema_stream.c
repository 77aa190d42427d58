/* The check made while parsing (registry/jsonschema_stream.c) and its fast paths: properties
 * found from a plain key's words (keys of every length around the 8- and 16-byte words, near
 * misses, escapes, non-ASCII, keys at the end of the text, members in and out of the schema's
 * order), the scalar plans it evaluates inline (bounds at their edges, exponent forms, integral
 * reals, string enums, lengths in code points, fixed-length patterns and their near misses),
 * and the work bound it checks once per text. Each case is checked two ways: the check's own
 * answer (1 passes, 0 fails, -1 declines), and the answer and message of the text path against
 * those of the walk over jansson's tree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "registry/registry_int.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static registry_jsonschema_t *compile(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j)
        fail_msg("schema is not JSON: %s: %s", je.text, text);
    registry_jsonschema_t *s = NULL;
    registry_error_t err;
    if (registry_jsonschema_compile(j, NULL, NULL, 0, &s, &err) < 0)
        fail_msg("schema refused: %s: %s", err.message, text);
    json_decref(j);
    return s;
}

/* The check's own answer for `text`. */
static int stream(const registry_jsonschema_t *s, const char *text)
{
    registry__js_vctx_t *v = calloc(1, sizeof *v);
    assert_non_null(v);
    v->s = s;
    v->quiet = 1;
    registry__jdoc_t d;
    registry__jdoc_init(&d);
    /* The text alone in its buffer, so that ASan sees any read past its end. */
    size_t len = strlen(text);
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, text, len);
    int rc = registry__js_stream_check(v, s->root, &d, copy, len);
    free(copy);
    registry__jdoc_deinit(&d);
    free(v);
    return rc;
}

/* The text path's answer, which must be the jansson walk's with the same error. */
static int validate(const registry_jsonschema_t *s, const char *text)
{
    registry_error_t err, jerr;
    json_error_t je;
    int rc = registry__js_validate_text(s, text, strlen(text), &err, &je);
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    assert_non_null(j);
    int jrc = registry_jsonschema_validate(s, j, &jerr);
    json_decref(j);
    if (rc != jrc || strcmp(err.keyword, jerr.keyword) || strcmp(err.message, jerr.message) ||
        strcmp(err.instance_path, jerr.instance_path))
        fail_msg("%s: text path %d %s \"%s\", jansson %d %s \"%s\"", text, rc, err.keyword,
                 err.message, jrc, jerr.keyword, jerr.message);
    return rc;
}

/* Passes: the check says so, and so do both walks. */
static void passes(const registry_jsonschema_t *s, const char *text)
{
    if (stream(s, text) != 1)
        fail_msg("check while parsing does not pass: %s", text);
    assert_int_equal(validate(s, text), 0);
}

/* Fails: the check must not pass it (it fails or declines), and both walks fail it. */
static void fails(const registry_jsonschema_t *s, const char *text)
{
    if (stream(s, text) == 1)
        fail_msg("check while parsing passes: %s", text);
    assert_int_equal(validate(s, text), HD_EINVAL);
}

/* Properties named around the word sizes; a property takes integers, any other member
 * strings, so a key matched to the wrong property, or missed, changes the answer. */
static const char *const key_schema =
    "{\"type\": \"object\", \"additionalProperties\": {\"type\": \"string\"},"
    " \"properties\": {"
    "\"a\": {\"type\": \"integer\"}, \"ab\": {\"type\": \"integer\"},"
    " \"abcdefg\": {\"type\": \"integer\"}, \"abcdefgh\": {\"type\": \"integer\"},"
    " \"abcdefghi\": {\"type\": \"integer\"}, \"abcdefghijklmno\": {\"type\": \"integer\"},"
    " \"abcdefghijklmnop\": {\"type\": \"integer\"},"
    " \"abcdefghijklmnopq\": {\"type\": \"integer\"},"
    " \"caf\\u00e9\": {\"type\": \"integer\"}, \"q\\\"t\": {\"type\": \"integer\"},"
    " \"\": {\"type\": \"integer\"}, \" \": {\"type\": \"integer\"}}}";

static void test_keys_find_their_property_at_every_length(void **state)
{
    (void)state;
    registry_jsonschema_t *s = compile(key_schema);
    static const char *const names[] = {"a",
                                        "ab",
                                        "abcdefg",
                                        "abcdefgh",
                                        "abcdefghi",
                                        "abcdefghijklmno",
                                        "abcdefghijklmnop",
                                        "abcdefghijklmnopq",
                                        "caf\xc3\xa9",
                                        "caf\\u00e9",
                                        "q\\\"t",
                                        "",
                                        " ",
                                        "\\u0061",
                                        "a\\u0062"};
    char text[256];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        /* Padded after the member, so that 16 bytes can be read past any key, and not. */
        snprintf(text, sizeof text, "{\"%s\": 5, \"pad\": \"................\"}", names[i]);
        passes(s, text);
        snprintf(text, sizeof text, "{\"%s\": \"5\", \"pad\": \"................\"}", names[i]);
        fails(s, text);
        snprintf(text, sizeof text, "{\"%s\":5}", names[i]);
        passes(s, text);
        snprintf(text, sizeof text, "{\"%s\":\"5\"}", names[i]);
        fails(s, text);
    }
    registry_jsonschema_free(s);
}

static void test_near_miss_keys_are_other_members(void **state)
{
    (void)state;
    registry_jsonschema_t *s = compile(key_schema);
    static const char *const names[] = {"b",
                                        "A",
                                        "a ",
                                        "abc",
                                        "abcdefgi",
                                        "bbcdefgh",
                                        "abcdefgj",
                                        "abcdefghj",
                                        "abcdefghh",
                                        "abcdefghijklmnoo",
                                        "abcdefghijklmnoq",
                                        "bbcdefghijklmnop",
                                        "abcdefghijklmnopr",
                                        "abcdefghijklmnopqr",
                                        "cafe",
                                        "caf\xc3\xa8",
                                        "q\\\\t",
                                        "\\u0062",
                                        "  ",
                                        "abcdefghijklmnop\\u0000x"};
    static const char *const props[] = {"a",
                                        "ab",
                                        "abcdefg",
                                        "abcdefgh",
                                        "abcdefghi",
                                        "abcdefghijklmno",
                                        "abcdefghijklmnop",
                                        "abcdefghijklmnopq"};
    char text[256];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        /* After each property: the property `properties` lists next is tried first. */
        for (size_t j = 0; j < sizeof props / sizeof props[0] && !strstr(names[i], "\\u0000");
             j++) {
            snprintf(text, sizeof text, "{\"%s\": 1, \"%s\": \"x\", \"pad\": \"............\"}",
                     props[j], names[i]);
            passes(s, text);
            snprintf(text, sizeof text, "{\"%s\": 1, \"%s\": 2}", props[j], names[i]);
            fails(s, text);
        }
        snprintf(text, sizeof text, "{\"%s\": \"x\", \"pad\": \"................\"}", names[i]);
        if (strstr(names[i], "\\u0000")) {
            /* Left to jansson, which refuses it: the check declines. */
            assert_int_equal(stream(s, text), -1);
            continue;
        }
        passes(s, text);
        snprintf(text, sizeof text, "{\"%s\": 5, \"pad\": \"................\"}", names[i]);
        fails(s, text);
    }
    registry_jsonschema_free(s);
}

static void test_members_in_any_order_with_required_and_duplicates(void **state)
{
    (void)state;
    registry_jsonschema_t *s = compile(
        "{\"type\": \"object\", \"additionalProperties\": false,"
        " \"required\": [\"id\", \"name\", \"qty\"],"
        " \"properties\": {\"id\": {\"type\": \"string\"}, \"name\": {\"type\": \"string\"},"
        " \"qty\": {\"type\": \"integer\"}, \"note\": {\"type\": \"string\"}}}");
    passes(s, "{\"id\": \"1\", \"name\": \"n\", \"qty\": 2, \"note\": \"x\"}");
    passes(s, "{\"note\": \"x\", \"qty\": 2, \"name\": \"n\", \"id\": \"1\"}");
    passes(s, "{\"id\": \"1\", \"qty\": 2, \"name\": \"n\"}");
    passes(s, "{\"qty\": 2, \"id\": \"1\", \"name\": \"n\"}");
    fails(s, "{\"id\": \"1\", \"name\": \"n\"}");
    fails(s, "{\"id\": \"1\", \"note\": \"x\", \"qty\": 2}");
    fails(s, "{\"id\": \"1\", \"name\": \"n\", \"qty\": 2, \"other\": 1}");
    /* A repeated property: jansson keeps the last value, so the check leaves it to the walks. */
    assert_int_equal(stream(s, "{\"id\": \"1\", \"name\": \"n\", \"qty\": 2, \"qty\": 3}"), -1);
    assert_int_equal(validate(s, "{\"id\": \"1\", \"name\": \"n\", \"qty\": 2, \"qty\": 3}"), 0);
    assert_int_equal(stream(s, "{\"id\": \"1\", \"name\": \"n\", \"qty\": 2, \"q\\u0074y\": 3}"),
                     -1);
    assert_int_equal(validate(s, "{\"id\": \"1\", \"name\": \"n\", \"qty\": 2, \"qty\": \"x\"}"),
                     HD_EINVAL);
    registry_jsonschema_free(s);
}

static void test_number_bounds_at_their_edges_and_in_every_form(void **state)
{
    (void)state;
    registry_jsonschema_t *s =
        compile("{\"properties\": {\"m\": {\"type\": \"number\", \"minimum\": 0,"
                " \"maximum\": 1000000}, \"x\": {\"exclusiveMinimum\": 0.1,"
                " \"exclusiveMaximum\": 2.5}, \"i\": {\"type\": \"integer\", \"minimum\": 1,"
                " \"maximum\": 5}, \"r\": {\"$ref\": \"#/properties/m\"}}}");
    static const char *const good_m[] = {"0",       "-0",        "0.0",      "-0.0",   "0e5",
                                         "1000000", "1000000.0", "1e6",      "1E+6",   "10E5",
                                         "1e+06",   "999999.99", "0.000001", "1e-300", "661.44",
                                         "4.9",     "100000e1",  "0.1e7"};
    static const char *const bad_m[] = {"-1",      "-0.000001", "-1e-300",     "1000000.0000001",
                                        "1000001", "1e7",       "1.0000001e6", "10000000e-1x",
                                        "\"1\"",   "-1E0",      "1e400"};
    char text[128];
    for (size_t i = 0; i < sizeof good_m / sizeof good_m[0]; i++) {
        snprintf(text, sizeof text, "{\"m\": %s, \"r\": %s}", good_m[i], good_m[i]);
        passes(s, text);
    }
    for (size_t i = 0; i < sizeof bad_m / sizeof bad_m[0]; i++) {
        snprintf(text, sizeof text, "{\"m\": %s}", bad_m[i]);
        if (strstr(bad_m[i], "x") || strstr(bad_m[i], "e400")) {
            assert_int_not_equal(stream(s, text), 1); /* not JSON, or left to jansson */
            continue;
        }
        fails(s, text);
        snprintf(text, sizeof text, "{\"r\": %s}", bad_m[i]);
        fails(s, text);
    }
    fails(s, "{\"x\": 0.10000000000000001e0}"); /* the double 0.1 itself: not above it */
    fails(s, "{\"x\": 0.1}");
    passes(s, "{\"x\": 0.1000000000000001}");
    passes(s, "{\"x\": 2.4999999999999996}");
    fails(s, "{\"x\": 2.5}");
    fails(s, "{\"x\": 25e-1}");
    passes(s, "{\"i\": 1, \"x\": 1}");
    passes(s, "{\"i\": 5.0}");
    passes(s, "{\"i\": 1e0}");
    passes(s, "{\"i\": 50e-1}");
    fails(s, "{\"i\": 0}");
    fails(s, "{\"i\": 6}");
    fails(s, "{\"i\": 4.5}");
    fails(s, "{\"i\": 5.000000001}");
    fails(s, "{\"i\": true}");
    registry_jsonschema_free(s);
}

static void test_string_keywords_inline(void **state)
{
    (void)state;
    registry_jsonschema_t *s = compile(
        "{\"properties\": {\"status\": {\"enum\": [\"pending\", \"paid\", 3, \"shipped\","
        " \"a-much-longer-enum-value\"]}, \"cur\": {\"type\": \"string\", \"enum\": [\"EUR\","
        " \"USD\"]}, \"name\": {\"type\": \"string\", \"minLength\": 2, \"maxLength\": 3},"
        " \"sku\": {\"type\": \"string\", \"pattern\": \"^[A-Z]{3}-[0-9]{6}$\"},"
        " \"tag\": {\"type\": \"string\", \"pattern\": \"^[a-z][a-z0-9-]{0,5}$\"}}}");
    passes(s, "{\"status\": \"paid\", \"cur\": \"EUR\"}");
    passes(s, "{\"status\": 3}");
    passes(s, "{\"status\": \"a-much-longer-enum-value\"}");
    passes(s, "{\"status\": \"p\\u0061id\"}");
    fails(s, "{\"status\": \"pai\"}");
    fails(s, "{\"status\": \"paid \"}");
    fails(s, "{\"status\": \"Paid\"}");
    fails(s, "{\"status\": \"a-much-longer-enum-valuf\"}");
    fails(s, "{\"status\": \"3\"}");
    fails(s, "{\"cur\": \"GBP\"}");
    fails(s, "{\"cur\": 1}");
    passes(s, "{\"name\": \"ab\"}");
    passes(s, "{\"name\": \"\xc3\xa9\xc3\xa9\xc3\xa9\"}"); /* three characters, six bytes */
    passes(s, "{\"name\": \"\\u00e9\\u00e9\"}");
    fails(s, "{\"name\": \"a\"}");
    fails(s, "{\"name\": \"abcd\"}");
    fails(s, "{\"name\": \"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}");
    passes(s, "{\"sku\": \"WZX-552716\"}");
    passes(s, "{\"sku\": \"WZ\\u0058-552716\"}");
    static const char *const bad_sku[] = {
        "WZX-55271", "WZX-5527160", "wZX-552716",        "WZX_552716", "WZX-55271a", "WZ1-552716",
        "",          "WZX-552716 ", "\xc3\x84ZX-552716", "WZX--552716"};
    char text[128];
    for (size_t i = 0; i < sizeof bad_sku / sizeof bad_sku[0]; i++) {
        snprintf(text, sizeof text, "{\"sku\": \"%s\"}", bad_sku[i]);
        fails(s, text);
    }
    passes(s, "{\"tag\": \"a\"}");
    passes(s, "{\"tag\": \"a-1b2c\"}");
    fails(s, "{\"tag\": \"a-1b2cd\"}");
    fails(s, "{\"tag\": \"1a\"}");
    fails(s, "{\"tag\": \"a-1B\"}");
    fails(s, "{\"tag\": \"ab_c\"}");
    fails(s, "{\"tag\": \"\"}");
    registry_jsonschema_free(s);
}

/* Strings and keys whose ends fall at every place of the 16-byte blocks the scanner reads. */
static void test_long_strings_across_blocks(void **state)
{
    (void)state;
    registry_jsonschema_t *s = compile(
        "{\"type\": \"object\", \"additionalProperties\": {\"type\": \"string\", \"maxLength\": "
        "40},"
        " \"properties\": {\"k\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 40}}}");
    char text[256], body[64];
    for (int len = 0; len <= 48; len++) {
        for (int i = 0; i < len; i++)
            body[i] = (char)('a' + i % 26);
        body[len] = '\0';
        for (int pad = 0; pad < 17; pad++) {
            snprintf(text, sizeof text, "%*s{\"k\":\"%s\",\"%s\":\"%s\"}", pad, "", body, body,
                     body);
            if (len >= 1 && len <= 40)
                passes(s, text);
            else
                fails(s, text);
        }
        if (len >= 2) {
            /* A non-ASCII character and an escape at the end: lengths in code points. */
            snprintf(text, sizeof text, "{\"k\":\"%.*s\xc3\xa9\",\"x\":\"%.*s\\n\"}", len - 1, body,
                     len - 1, body);
            if (len <= 40)
                passes(s, text);
            else
                fails(s, text);
        }
    }
    registry_jsonschema_free(s);
}

/* The inline evaluations count work as the pass-or-fail walk does: a text over the bound is
 * declined by the check and reported by the full walk. */
static void test_work_bound_is_kept(void **state)
{
    (void)state;
    registry_jsonschema_t *s = compile("{\"items\": {\"type\": \"integer\"}}");
    size_t n = REGISTRY_JSONSCHEMA_MAX_WORK + 10;
    char *text = malloc(2 * n + 2);
    assert_non_null(text);
    text[0] = '[';
    for (size_t i = 0; i < n; i++) {
        text[1 + 2 * i] = '1';
        text[2 + 2 * i] = i + 1 < n ? ',' : ']';
    }
    text[2 * n + 1] = '\0';
    assert_int_equal(stream(s, text), -1);
    registry_error_t err;
    json_error_t je;
    assert_int_equal(registry__js_validate_text(s, text, strlen(text), &err, &je), HD_ERANGE);
    /* Just under the bound it passes (the array's node and each item are one step each). */
    size_t m = REGISTRY_JSONSCHEMA_MAX_WORK - 1;
    text[2 * m] = ']';
    text[2 * m + 1] = '\0';
    assert_int_equal(stream(s, text), 1);
    assert_int_equal(registry__js_validate_text(s, text, strlen(text), &err, &je), 0);
    registry_jsonschema_free(s);
    /* Through a $ref: two steps an item (the reference and its target). */
    s = compile("{\"items\": {\"$ref\": \"#/definitions/i\"},"
                " \"definitions\": {\"i\": {\"type\": \"integer\"}}}");
    m = REGISTRY_JSONSCHEMA_MAX_WORK / 2;
    for (size_t i = 0; i < m; i++) {
        text[1 + 2 * i] = '1';
        text[2 + 2 * i] = i + 1 < m ? ',' : ']';
    }
    text[2 * m + 1] = '\0';
    assert_int_equal(stream(s, text), -1);
    assert_int_equal(registry__js_validate_text(s, text, strlen(text), &err, &je), HD_ERANGE);
    text[2 * (m - 1)] = ']';
    text[2 * (m - 1) + 1] = '\0';
    assert_int_equal(stream(s, text), 1);
    assert_int_equal(registry__js_validate_text(s, text, strlen(text), &err, &je), 0);
    free(text);
    registry_jsonschema_free(s);
}

/* Keywords the inline evaluation leaves to the walk's: multipleOf, const, enum on a number. */
static void test_keywords_left_to_the_walk(void **state)
{
    (void)state;
    registry_jsonschema_t *s =
        compile("{\"properties\": {\"m\": {\"type\": \"integer\", \"multipleOf\": 3,"
                " \"maximum\": 100}, \"c\": {\"type\": \"string\", \"const\": \"a\"},"
                " \"e\": {\"enum\": [1, \"1\", 2.5]}, \"r\": {\"multipleOf\": 0.5}}}");
    passes(s, "{\"m\": 99, \"c\": \"a\", \"e\": 2.5, \"r\": 1.5}");
    passes(s, "{\"e\": \"1\"}");
    passes(s, "{\"e\": 1.0}");
    fails(s, "{\"m\": 98}");
    fails(s, "{\"m\": 102}");
    fails(s, "{\"c\": \"b\"}");
    fails(s, "{\"e\": 2}");
    fails(s, "{\"e\": \"2.5\"}");
    fails(s, "{\"r\": 1.25}");
    registry_jsonschema_free(s);
    s = compile("{\"items\": {\"const\": \"a\", \"enum\": [\"a\", \"b\"]}}");
    passes(s, "[\"a\", \"a\"]");
    fails(s, "[\"a\", \"b\"]");
    registry_jsonschema_free(s);
}

/* A draft-07 `$ref` chain that comes back on itself, with a keyword next to the first `$ref`:
 * the walks report the cycle (a limit), so the check must not pass the value on that
 * keyword's plan; and a nesting deeper than the check follows is declined, never recursed
 * into (the walks take it). */
static void test_ref_cycles_and_deep_nesting_are_left_to_the_walks(void **state)
{
    (void)state;
    registry_jsonschema_t *s =
        compile("{\"$schema\": \"http://json-schema.org/draft-07/schema#\","
                " \"definitions\": {\"str\": {\"$ref\": \"#/definitions/str\"}},"
                " \"$ref\": \"#/definitions/str\", \"maxLength\": 5}");
    for (int i = 0; i < 3; i++) {
        const char *text = (const char *[]){"\"abcd\"", "\"abcdefg\"", "5"}[i];
        if (stream(s, text) == 1)
            fail_msg("check while parsing passes a $ref cycle: %s", text);
        assert_int_equal(validate(s, text), HD_ERANGE);
    }
    registry_jsonschema_free(s);
    s = compile("{\"items\": {\"type\": \"array\"}}");
    enum { DEEP = 400 };
    char *text = malloc(2 * DEEP + 1);
    assert_non_null(text);
    memset(text, '[', DEEP);
    memset(text + DEEP, ']', DEEP);
    text[2 * DEEP] = 0;
    assert_int_not_equal(stream(s, text), 1);
    assert_int_equal(validate(s, text), 0);
    free(text);
    registry_jsonschema_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_find_their_property_at_every_length),
        cmocka_unit_test(test_near_miss_keys_are_other_members),
        cmocka_unit_test(test_members_in_any_order_with_required_and_duplicates),
        cmocka_unit_test(test_number_bounds_at_their_edges_and_in_every_form),
        cmocka_unit_test(test_string_keywords_inline),
        cmocka_unit_test(test_long_strings_across_blocks),
        cmocka_unit_test(test_work_bound_is_kept),
        cmocka_unit_test(test_keywords_left_to_the_walk),
        cmocka_unit_test(test_ref_cycles_and_deep_nesting_are_left_to_the_walks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
