/* Avro schemas: each schema resolution rule of the specification as its own case (reader and
 * writer), the checks of schema validity, and the bounded decoding of payloads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "registry/registry_int.h"
#include "util/err.h"

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    if (!j)
        fail_msg("bad test JSON: %s: %s", text, e.text);
    return j;
}

/* Can data written with `writer` be read with `reader`? Reasons land in *msg (first one). */
static bool reads(const char *reader, const char *writer, char *msg, size_t n)
{
    json_t *r = J(reader), *w = J(writer), *msgs = json_array();
    bool ok = registry_avro_compatible(r, w, msgs);
    if (msg)
        snprintf(msg, n, "%s",
                 json_array_size(msgs) ? json_string_value(json_array_get(msgs, 0)) : "");
    json_decref(r);
    json_decref(w);
    json_decref(msgs);
    return ok;
}

#define READS(r, w) assert_true(reads(r, w, NULL, 0))
#define FAILS(r, w, type)                                                                          \
    do {                                                                                           \
        char m_[800];                                                                              \
        assert_false(reads(r, w, m_, sizeof m_));                                                  \
        if (!strstr(m_, type))                                                                     \
            fail_msg("expected %s, got: %s", type, m_);                                            \
    } while (0)

static void test_same_primitives_resolve(void **state)
{
    (void)state;
    const char *prims[] = {"\"null\"",  "\"boolean\"", "\"int\"",   "\"long\"",
                           "\"float\"", "\"double\"",  "\"bytes\"", "\"string\""};
    for (size_t i = 0; i < sizeof prims / sizeof *prims; i++)
        READS(prims[i], prims[i]);
    READS("{\"type\":\"int\"}", "\"int\"");
    FAILS("\"boolean\"", "\"int\"", "TYPE_MISMATCH");
}

static void test_int_promotes_to_long_float_double(void **state)
{
    (void)state;
    READS("\"long\"", "\"int\"");
    READS("\"float\"", "\"int\"");
    READS("\"double\"", "\"int\"");
}

static void test_long_promotes_to_float_double_not_int(void **state)
{
    (void)state;
    READS("\"float\"", "\"long\"");
    READS("\"double\"", "\"long\"");
    FAILS("\"int\"", "\"long\"", "TYPE_MISMATCH");
}

static void test_float_promotes_to_double_only(void **state)
{
    (void)state;
    READS("\"double\"", "\"float\"");
    FAILS("\"float\"", "\"double\"", "TYPE_MISMATCH");
    FAILS("\"long\"", "\"float\"", "TYPE_MISMATCH");
}

static void test_string_and_bytes_promote_both_ways(void **state)
{
    (void)state;
    READS("\"bytes\"", "\"string\"");
    READS("\"string\"", "\"bytes\"");
}

#define REC(fields) "{\"type\":\"record\",\"name\":\"R\",\"fields\":[" fields "]}"

static void test_reader_field_with_default_may_be_missing_from_writer(void **state)
{
    (void)state;
    READS(REC("{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":\"string\","
              "\"default\":\"x\"}"),
          REC("{\"name\":\"a\",\"type\":\"int\"}"));
}

static void test_reader_field_without_default_must_be_written(void **state)
{
    (void)state;
    FAILS(REC("{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":\"string\"}"),
          REC("{\"name\":\"a\",\"type\":\"int\"}"), "READER_FIELD_MISSING_DEFAULT_VALUE");
}

static void test_writer_field_missing_from_reader_is_skipped(void **state)
{
    (void)state;
    READS(REC("{\"name\":\"a\",\"type\":\"int\"}"),
          REC("{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"gone\",\"type\":\"string\"}"));
}

static void test_field_types_resolve_recursively(void **state)
{
    (void)state;
    READS(REC("{\"name\":\"a\",\"type\":\"long\"}"), REC("{\"name\":\"a\",\"type\":\"int\"}"));
    FAILS(REC("{\"name\":\"a\",\"type\":\"int\"}"), REC("{\"name\":\"a\",\"type\":\"string\"}"),
          "TYPE_MISMATCH");
}

static void test_reader_field_alias_reads_renamed_writer_field(void **state)
{
    (void)state;
    READS(REC("{\"name\":\"b\",\"type\":\"int\",\"aliases\":[\"a\"]}"),
          REC("{\"name\":\"a\",\"type\":\"int\"}"));
}

static void test_record_names_must_match_or_alias(void **state)
{
    (void)state;
    const char *w = "{\"type\":\"record\",\"name\":\"A\",\"fields\":[]}";
    FAILS("{\"type\":\"record\",\"name\":\"B\",\"fields\":[]}", w, "NAME_MISMATCH");
    READS("{\"type\":\"record\",\"name\":\"B\",\"aliases\":[\"A\"],\"fields\":[]}", w);
    /* Unqualified names are compared: a namespace change alone is fine. */
    READS("{\"type\":\"record\",\"name\":\"x.A\",\"fields\":[]}", w);
}

static void test_nested_records_resolve_field_by_field(void **state)
{
    (void)state;
    const char *inner_w = "{\"type\":\"record\",\"name\":\"In\",\"fields\":[{\"name\":\"v\","
                          "\"type\":\"int\"}]}";
    const char *inner_r_ok = "{\"type\":\"record\",\"name\":\"In\",\"fields\":[{\"name\":\"v\","
                             "\"type\":\"double\"},{\"name\":\"w\",\"type\":\"int\","
                             "\"default\":0}]}";
    const char *inner_r_bad = "{\"type\":\"record\",\"name\":\"In\",\"fields\":[{\"name\":\"w\","
                              "\"type\":\"int\"}]}";
    char w[512], r1[512], r2[512];
    snprintf(w, sizeof w, REC("{\"name\":\"in\",\"type\":%s}"), inner_w);
    snprintf(r1, sizeof r1, REC("{\"name\":\"in\",\"type\":%s}"), inner_r_ok);
    snprintf(r2, sizeof r2, REC("{\"name\":\"in\",\"type\":%s}"), inner_r_bad);
    READS(r1, w);
    char msg[800];
    assert_false(reads(r2, w, msg, sizeof msg));
    assert_non_null(strstr(msg, "/fields/0/type/fields/0"));
}

static void test_enum_reader_must_hold_every_writer_symbol(void **state)
{
    (void)state;
    const char *ab = "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]}";
    const char *abc = "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\",\"C\"]}";
    READS(abc, ab);
    FAILS(ab, abc, "MISSING_ENUM_SYMBOLS");
    FAILS("{\"type\":\"enum\",\"name\":\"F\",\"symbols\":[\"A\",\"B\"]}", ab, "NAME_MISMATCH");
}

static void test_enum_reader_default_covers_unknown_symbols(void **state)
{
    (void)state;
    READS("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"U\"],\"default\":\"U\"}",
          "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\",\"C\"]}");
}

static void test_fixed_needs_same_name_and_size(void **state)
{
    (void)state;
    const char *f16 = "{\"type\":\"fixed\",\"name\":\"F\",\"size\":16}";
    READS(f16, f16);
    FAILS("{\"type\":\"fixed\",\"name\":\"F\",\"size\":8}", f16, "FIXED_SIZE_MISMATCH");
    FAILS("{\"type\":\"fixed\",\"name\":\"G\",\"size\":16}", f16, "NAME_MISMATCH");
}

static void test_arrays_resolve_their_items(void **state)
{
    (void)state;
    READS("{\"type\":\"array\",\"items\":\"long\"}", "{\"type\":\"array\",\"items\":\"int\"}");
    FAILS("{\"type\":\"array\",\"items\":\"int\"}", "{\"type\":\"array\",\"items\":\"long\"}",
          "/items");
    FAILS("{\"type\":\"array\",\"items\":\"int\"}", "{\"type\":\"map\",\"values\":\"int\"}",
          "TYPE_MISMATCH");
}

static void test_maps_resolve_their_values(void **state)
{
    (void)state;
    READS("{\"type\":\"map\",\"values\":\"double\"}", "{\"type\":\"map\",\"values\":\"float\"}");
    FAILS("{\"type\":\"map\",\"values\":\"string\"}", "{\"type\":\"map\",\"values\":\"int\"}",
          "/values");
}

static void test_writer_union_needs_every_branch_readable(void **state)
{
    (void)state;
    READS("[\"null\",\"string\",\"int\"]", "[\"null\",\"string\"]");
    FAILS("[\"null\",\"string\"]", "[\"null\",\"string\",\"int\"]", "MISSING_UNION_BRANCH");
    /* A writer union against a plain reader: every branch must resolve against it. */
    READS("\"long\"", "[\"int\",\"long\"]");
    FAILS("\"string\"", "[\"null\",\"string\"]", "TYPE_MISMATCH");
}

static void test_reader_union_needs_a_branch_for_the_writer(void **state)
{
    (void)state;
    READS("[\"null\",\"string\"]", "\"string\"");
    READS("[\"null\",\"long\"]", "\"int\"");
    FAILS("[\"null\",\"string\"]", "\"int\"", "MISSING_UNION_BRANCH");
}

static void test_named_types_referenced_by_name_and_recursion(void **state)
{
    (void)state;
    const char *list = "{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":\"v\","
                       "\"type\":\"int\"},{\"name\":\"next\",\"type\":[\"null\",\"L\"]}]}";
    const char *list2 = "{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":\"v\","
                        "\"type\":\"long\"},{\"name\":\"next\",\"type\":[\"null\",\"L\"]}]}";
    READS(list, list);
    READS(list2, list);
    FAILS(list, list2, "TYPE_MISMATCH");
}

/* ---- validity ---- */

static int check(const char *text, char *why, size_t n)
{
    json_t *j = J(text);
    int rc = registry__type_avro()->check(j, NULL, NULL, 0, why, n);
    json_decref(j);
    return rc;
}

static void test_invalid_schemas_are_refused_with_a_reason(void **state)
{
    (void)state;
    char why[400];
    struct {
        const char *schema, *reason;
    } bad[] = {
        {"\"nosuch\"", "unknown type 'nosuch'"},
        {"{\"type\":\"record\",\"name\":\"R\"}", "needs a \"fields\" array"},
        {"{\"type\":\"record\",\"name\":\"1R\",\"fields\":[]}", "invalid name"},
        {REC("{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"a\",\"type\":\"long\"}"),
         "two fields named 'a'"},
        {REC("{\"name\":\"a\",\"type\":\"int\",\"default\":\"x\"}"), "default of field 'a'"},
        {"[\"null\",\"null\"]", "already has a branch"},
        {"[\"int\",[\"null\"]]", "may not directly contain a union"},
        {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"A\"]}", "repeats the symbol"},
        {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"],\"default\":\"B\"}",
         "not one of its symbols"},
        {"{\"type\":\"fixed\",\"name\":\"F\",\"size\":-1}", "\"size\" >= 0"},
        {"{\"type\":\"array\"}", "needs \"items\""},
        {"[{\"type\":\"record\",\"name\":\"R\",\"fields\":[]},{\"type\":\"record\",\"name\":\"R\","
         "\"fields\":[]}]",
         "defined twice"},
        {"42", "a string, an object or an array"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        why[0] = '\0';
        assert_int_equal(check(bad[i].schema, why, sizeof why), HD_EINVAL);
        if (!strstr(why, bad[i].reason))
            fail_msg("%s: expected '%s' in '%s'", bad[i].schema, bad[i].reason, why);
    }
    assert_int_equal(check(REC("{\"name\":\"a\",\"type\":[\"null\",\"int\"],\"default\":null},"
                               "{\"name\":\"t\",\"type\":{\"type\":\"long\",\"logicalType\":"
                               "\"timestamp-millis\"}}"),
                           why, sizeof why),
                     0);
}

/* ---- decoding payloads ---- */

static int decode(const char *schema, const void *p, size_t n, char *why, size_t whylen)
{
    json_t *j = J(schema);
    char w[200];
    registry__avro_t *a = registry__avro_parse(j, NULL, 0, w, sizeof w);
    assert_non_null(a);
    int rc = registry__avro_decode(a, hd_slice(p, n), why, whylen);
    registry__avro_free(a);
    json_decref(j);
    return rc;
}

#define ORDER                                                                                      \
    REC("{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"tags\",\"type\":{\"type\":\"array\","     \
        "\"items\":\"string\"}},{\"name\":\"m\",\"type\":[\"null\",\"double\"]},{\"name\":\"e\","  \
        "\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]}}")

static void test_valid_payload_decodes(void **state)
{
    (void)state;
    /* id 3, tags ["ab"], m null, e B */
    const uint8_t ok[] = {0x06, 0x02, 0x04, 'a', 'b', 0x00, 0x00, 0x02};
    char why[300];
    assert_int_equal(decode(ORDER, ok, sizeof ok, why, sizeof why), 0);
    /* A negative block count carries a byte size before the items. */
    const uint8_t neg[] = {0x06, 0x01, 0x06, 0x04, 'a', 'b', 0x00, 0x00, 0x02};
    assert_int_equal(decode(ORDER, neg, sizeof neg, why, sizeof why), 0);
}

static void test_bad_payloads_are_refused_naming_the_field(void **state)
{
    (void)state;
    char why[300];
    struct {
        uint8_t b[16];
        size_t n;
        const char *reason;
    } bad[] = {
        {{0x06, 0x02, 0x04, 'a'}, 4, "past the end"},
        {{0x06, 0x02, 0x04, 'a', 'b', 0x00, 0x04, 0x02}, 8, "union branch index"},
        {{0x06, 0x02, 0x04, 'a', 'b', 0x00, 0x00, 0x08}, 8, "enum index"},
        {{0x06, 0x02, 0x04, 'a', 'b', 0x00, 0x00, 0x02, 0x00}, 9, "left over"},
        {{0x06, 0x02, 0x04, 0xff, 0xfe, 0x00, 0x00, 0x02}, 8, "not valid UTF-8"},
        {{0x06, 0x02, 0xfe, 0xff, 0xff, 0xff, 0x0f}, 7, "past the end"},
        {{0x06, 0x02, 0x04, 'a', 'b', 0x00, 0x02, 1, 2}, 9, "double (8 bytes)"},
        {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 11, "long"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        why[0] = '\0';
        assert_int_equal(decode(ORDER, bad[i].b, bad[i].n, why, sizeof why), HD_EINVAL);
        if (!strstr(why, bad[i].reason))
            fail_msg("case %zu: expected '%s' in '%s'", i, bad[i].reason, why);
    }
    const uint8_t t[] = {0x06, 0x02, 0x04, 'a', 'b', 0x00, 0x00, 0x08};
    assert_int_equal(decode(ORDER, t, sizeof t, why, sizeof why), HD_EINVAL);
    assert_non_null(strstr(why, ".e"));
}

/* The path in a refusal names each record field and each item or map entry by its index in
 * its block, and only the steps down to the failing value. */
static void test_refusals_name_the_path_to_the_failing_value(void **state)
{
    (void)state;
    const char *schema =
        "{\"type\":\"record\",\"name\":\"O\",\"fields\":[{\"name\":\"items\",\"type\":{\"type\":"
        "\"array\",\"items\":{\"type\":\"record\",\"name\":\"I\",\"fields\":[{\"name\":\"q\","
        "\"type\":\"int\"},{\"name\":\"attrs\",\"type\":{\"type\":\"map\",\"values\":"
        "\"string\"}}]}}},{\"name\":\"after\",\"type\":\"boolean\"}]}";
    char why[300];
    /* items [{q 1, attrs {k: v}}, {q 2, attrs {k: <not UTF-8>}}] */
    const uint8_t deep[] = {0x04, 0x02, 0x02, 0x02, 'k',  0x02, 'v',  0x00, 0x04,
                            0x02, 0x02, 'k',  0x02, 0xff, 0x00, 0x00, 0x01};
    assert_int_equal(decode(schema, deep, sizeof deep, why, sizeof why), HD_EINVAL);
    assert_string_equal(why, "Avro payload invalid at .items[1].attrs[0]: a string is not "
                             "valid UTF-8");
    /* The same items, good, then a bad boolean: the steps into the items are gone. */
    const uint8_t after[] = {0x04, 0x02, 0x02, 0x02, 'k', 0x02, 'v',  0x00, 0x04,
                             0x02, 0x02, 'k',  0x02, 'w', 0x00, 0x00, 0x05};
    assert_int_equal(decode(schema, after, sizeof after, why, sizeof why), HD_EINVAL);
    assert_string_equal(why, "Avro payload invalid at .after: a boolean byte is neither 0 nor 1");
    const uint8_t good[] = {0x04, 0x02, 0x02, 0x02, 'k', 0x02, 'v',  0x00, 0x04,
                            0x02, 0x02, 'k',  0x02, 'w', 0x00, 0x00, 0x01};
    assert_int_equal(decode(schema, good, sizeof good, why, sizeof why), 0);
    /* A failing top-level value has the path "/". */
    const uint8_t cut[] = {0x80};
    assert_int_equal(decode("\"int\"", cut, sizeof cut, why, sizeof why), HD_EINVAL);
    assert_string_equal(why, "Avro payload invalid at /: expected an int (zigzag varint)");
}

static void test_huge_counts_of_empty_items_are_bounded(void **state)
{
    (void)state;
    /* 2^40 nulls in one block take five bytes to claim. */
    const uint8_t b[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 0x00};
    char why[300];
    assert_int_equal(
        decode("{\"type\":\"array\",\"items\":\"null\"}", b, sizeof b, why, sizeof why), HD_EINVAL);
    assert_non_null(strstr(why, "too many"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_primitives_resolve),
        cmocka_unit_test(test_int_promotes_to_long_float_double),
        cmocka_unit_test(test_long_promotes_to_float_double_not_int),
        cmocka_unit_test(test_float_promotes_to_double_only),
        cmocka_unit_test(test_string_and_bytes_promote_both_ways),
        cmocka_unit_test(test_reader_field_with_default_may_be_missing_from_writer),
        cmocka_unit_test(test_reader_field_without_default_must_be_written),
        cmocka_unit_test(test_writer_field_missing_from_reader_is_skipped),
        cmocka_unit_test(test_field_types_resolve_recursively),
        cmocka_unit_test(test_reader_field_alias_reads_renamed_writer_field),
        cmocka_unit_test(test_record_names_must_match_or_alias),
        cmocka_unit_test(test_nested_records_resolve_field_by_field),
        cmocka_unit_test(test_enum_reader_must_hold_every_writer_symbol),
        cmocka_unit_test(test_enum_reader_default_covers_unknown_symbols),
        cmocka_unit_test(test_fixed_needs_same_name_and_size),
        cmocka_unit_test(test_arrays_resolve_their_items),
        cmocka_unit_test(test_maps_resolve_their_values),
        cmocka_unit_test(test_writer_union_needs_every_branch_readable),
        cmocka_unit_test(test_reader_union_needs_a_branch_for_the_writer),
        cmocka_unit_test(test_named_types_referenced_by_name_and_recursion),
        cmocka_unit_test(test_invalid_schemas_are_refused_with_a_reason),
        cmocka_unit_test(test_valid_payload_decodes),
        cmocka_unit_test(test_bad_payloads_are_refused_naming_the_field),
        cmocka_unit_test(test_refusals_name_the_path_to_the_failing_value),
        cmocka_unit_test(test_huge_counts_of_empty_items_are_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
