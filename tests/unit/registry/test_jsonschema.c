/* JSON Schema validation through the module's interface: what an error names (keyword, instance
 * and schema pointers, message), compile errors with their locations, $ref resolution through
 * the caller's resolver, the dialect default, format assertion, and the work bounds that keep a
 * hostile schema or instance from hanging or crashing the broker. Keyword semantics are covered
 * by the official test suite and the 2020-12 cases (test jsonschema_suite). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "registry/registry.h"
#include "util/err.h"
#include "util/monotime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *js(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    if (!j)
        fail_msg("bad test JSON: %s: %s", text, e.text);
    return j;
}

/* Compiles `schema` (flags), validates `inst`, returns the validate (or compile) code. */
static int run(const char *schema, unsigned flags, const char *inst, registry_error_t *err)
{
    json_t *s = js(schema), *i = js(inst);
    registry_jsonschema_t *c = NULL;
    int rc = registry_jsonschema_compile(s, NULL, NULL, flags, &c, err);
    if (rc == 0)
        rc = registry_jsonschema_validate(c, i, err);
    registry_jsonschema_free(c);
    json_decref(s);
    json_decref(i);
    return rc;
}

static void test_error_names_keyword_and_both_pointers(void **state)
{
    (void)state;
    registry_error_t e;
    assert_int_equal(run("{\"properties\": {\"a/b\": {\"items\": {\"type\": \"integer\"}}}}", 0,
                         "{\"a/b\": [1, \"x\"]}", &e),
                     HD_EINVAL);
    assert_string_equal(e.keyword, "type");
    assert_string_equal(e.instance_path, "/a~1b/1");
    assert_string_equal(e.schema_path, "#/properties/a~1b/items/type");
    assert_string_equal(e.message, "\"x\" is not of type integer");
}

static void test_error_path_follows_ref(void **state)
{
    (void)state;
    registry_error_t e;
    const char *schema = "{\"$schema\": \"https://json-schema.org/draft/2020-12/schema\","
                         " \"$defs\": {\"age\": {\"minimum\": 0}},"
                         " \"properties\": {\"age\": {\"$ref\": \"#/$defs/age\"}}}";
    assert_int_equal(run(schema, 0, "{\"age\": -1}", &e), HD_EINVAL);
    assert_string_equal(e.keyword, "minimum");
    assert_string_equal(e.instance_path, "/age");
    assert_string_equal(e.schema_path, "#/properties/age/$ref/minimum");
    assert_non_null(strstr(e.message, "-1 is less than 0"));
}

static void test_required_error_names_the_property(void **state)
{
    (void)state;
    registry_error_t e;
    assert_int_equal(run("{\"required\": [\"id\", \"name\"]}", 0, "{\"id\": 1}", &e), HD_EINVAL);
    assert_string_equal(e.keyword, "required");
    assert_string_equal(e.instance_path, "");
    assert_string_equal(e.schema_path, "#/required");
    assert_non_null(strstr(e.message, "\"name\""));
}

static void test_anyof_reports_itself_not_a_branch(void **state)
{
    (void)state;
    registry_error_t e;
    assert_int_equal(run("{\"properties\": {\"v\": {\"anyOf\": [{\"type\": \"string\"},"
                         " {\"type\": \"null\"}]}}}",
                         0, "{\"v\": 3}", &e),
                     HD_EINVAL);
    assert_string_equal(e.keyword, "anyOf");
    assert_string_equal(e.instance_path, "/v");
    assert_string_equal(e.schema_path, "#/properties/v/anyOf");
}

static void test_additional_property_is_named(void **state)
{
    (void)state;
    registry_error_t e;
    assert_int_equal(run("{\"properties\": {\"a\": {}}, \"additionalProperties\": false}", 0,
                         "{\"a\": 1, \"zz\": 2}", &e),
                     HD_EINVAL);
    assert_string_equal(e.keyword, "additionalProperties");
    assert_string_equal(e.instance_path, "/zz");
    assert_non_null(strstr(e.message, "\"zz\""));
}

static void test_valid_instance_leaves_error_empty(void **state)
{
    (void)state;
    registry_error_t e;
    memset(&e, 'x', sizeof e);
    assert_int_equal(run("{\"type\": \"object\"}", 0, "{}", &e), 0);
    assert_string_equal(e.keyword, "");
    assert_string_equal(e.message, "");
}

static void test_false_schema_rejects_everything(void **state)
{
    (void)state;
    registry_error_t e;
    assert_int_equal(run("false", 0, "null", &e), HD_EINVAL);
    assert_string_equal(e.keyword, "false");
    assert_int_equal(run("true", 0, "[1, {}]", &e), 0);
}

static int compile_error(const char *schema, registry_error_t *e)
{
    json_t *s = js(schema);
    registry_jsonschema_t *c = (registry_jsonschema_t *)0x1;
    int rc = registry_jsonschema_compile(s, NULL, NULL, 0, &c, e);
    assert_ptr_equal(c, (registry_jsonschema_t *)0x1); /* out untouched on failure */
    json_decref(s);
    return rc;
}

static void test_compile_rejects_bad_keyword_values_with_location(void **state)
{
    (void)state;
    registry_error_t e;
    assert_int_equal(compile_error("{\"properties\": {\"a\": {\"type\": 5}}}", &e), HD_EMALFORMED);
    assert_string_equal(e.keyword, "type");
    assert_string_equal(e.schema_path, "#/properties/a/type");
    assert_int_equal(compile_error("{\"minLength\": -1}", &e), HD_EMALFORMED);
    assert_string_equal(e.schema_path, "#/minLength");
    assert_int_equal(compile_error("{\"items\": {\"pattern\": \"(\"}}", &e), HD_EMALFORMED);
    assert_string_equal(e.schema_path, "#/items/pattern");
    assert_int_equal(compile_error("{\"pattern\": \"\\\\Z\"}", &e), HD_EMALFORMED);
    assert_int_equal(compile_error("{\"multipleOf\": 0}", &e), HD_EMALFORMED);
    assert_int_equal(compile_error("{\"allOf\": []}", &e), HD_EMALFORMED);
    assert_int_equal(compile_error("{\"required\": [1]}", &e), HD_EMALFORMED);
    assert_int_equal(compile_error("{\"properties\": {\"a\": 3}}", &e), HD_EMALFORMED);
    assert_int_equal(compile_error("[1]", &e), HD_EMALFORMED);
}

static void test_compile_unresolvable_ref_is_not_found(void **state)
{
    (void)state;
    registry_error_t e;
    assert_int_equal(compile_error("{\"$ref\": \"#/definitions/missing\"}", &e), HD_ENOTFOUND);
    assert_string_equal(e.keyword, "$ref");
    assert_non_null(strstr(e.message, "#/definitions/missing"));
    assert_int_equal(compile_error("{\"items\": {\"$ref\": \"other.json\"}}", &e), HD_ENOTFOUND);
    assert_string_equal(e.schema_path, "#/items/$ref");
}

typedef struct docs {
    const char *uri[4];
    json_t *doc[4];
    char asked[4][128];
    int nasked;
} docs_t;

static json_t *resolve(void *ctx, const char *uri)
{
    docs_t *d = ctx;
    if (d->nasked < 4)
        snprintf(d->asked[d->nasked++], sizeof d->asked[0], "%s", uri);
    for (int i = 0; i < 4 && d->uri[i]; i++)
        if (!strcmp(d->uri[i], uri))
            return d->doc[i];
    return NULL;
}

static void test_resolver_serves_other_documents_relative_to_id(void **state)
{
    (void)state;
    docs_t d;
    memset(&d, 0, sizeof d);
    d.uri[0] = "https://example.com/schemas/address.json";
    d.doc[0] = js("{\"$defs\": {\"zip\": {\"type\": \"string\", \"pattern\": \"^[0-9]{5}$\"}},"
                  " \"properties\": {\"zip\": {\"$ref\": \"#/$defs/zip\"}}}");
    d.uri[1] = "customer";
    d.doc[1] = js("{\"required\": [\"name\"]}");
    json_t *s = js("{\"$schema\": \"https://json-schema.org/draft/2020-12/schema\","
                   " \"$id\": \"https://example.com/schemas/order.json\","
                   " \"properties\": {\"ship\": {\"$ref\": \"address.json\"},"
                   "                  \"bill\": {\"$ref\": \"address.json#/$defs/zip\"}}}");
    registry_jsonschema_t *c = NULL;
    registry_error_t e;
    assert_int_equal(registry_jsonschema_compile(s, resolve, &d, 0, &c, &e), 0);
    assert_int_equal(d.nasked, 1); /* each document is asked for once */
    assert_string_equal(d.asked[0], "https://example.com/schemas/address.json");
    json_t *good = js("{\"ship\": {\"zip\": \"12345\"}, \"bill\": \"54321\"}");
    json_t *bad = js("{\"ship\": {\"zip\": \"1234\"}}");
    assert_int_equal(registry_jsonschema_validate(c, good, &e), 0);
    assert_int_equal(registry_jsonschema_validate(c, bad, &e), HD_EINVAL);
    assert_string_equal(e.keyword, "pattern");
    assert_string_equal(e.instance_path, "/ship/zip");
    /* The compiled schema holds its own references: the caller may drop everything. */
    json_decref(d.doc[0]);
    json_decref(s);
    assert_int_equal(registry_jsonschema_validate(c, good, &e), 0);
    registry_jsonschema_free(c);

    /* A registry reference by name, without any $id. */
    s = js("{\"properties\": {\"who\": {\"$ref\": \"customer\"}}}");
    assert_int_equal(registry_jsonschema_compile(s, resolve, &d, 0, &c, &e), 0);
    json_t *anon = js("{\"who\": {}}");
    assert_int_equal(registry_jsonschema_validate(c, anon, &e), HD_EINVAL);
    assert_string_equal(e.schema_path, "#/properties/who/$ref/required");
    registry_jsonschema_free(c);
    json_decref(s);
    json_decref(anon);
    json_decref(d.doc[1]);
    json_decref(good);
    json_decref(bad);
}

static void test_default_dialect_is_draft7_unless_asked(void **state)
{
    (void)state;
    const char *schema = "{\"prefixItems\": [{\"type\": \"integer\"}]}";
    assert_int_equal(run(schema, 0, "[\"x\"]", NULL), 0);
    assert_int_equal(run(schema, REGISTRY_JSONSCHEMA_DEFAULT_2020_12, "[\"x\"]", NULL), HD_EINVAL);
    /* $schema wins over the flag. */
    assert_int_equal(run("{\"$schema\": \"http://json-schema.org/draft-07/schema#\","
                         " \"prefixItems\": [{\"type\": \"integer\"}]}",
                         REGISTRY_JSONSCHEMA_DEFAULT_2020_12, "[\"x\"]", NULL),
                     0);
}

static void test_format_annotates_unless_asserted(void **state)
{
    (void)state;
    const unsigned A = REGISTRY_JSONSCHEMA_FORMAT_ASSERT;
    assert_int_equal(run("{\"format\": \"date\"}", 0, "\"not a date\"", NULL), 0);
    assert_int_equal(run("{\"format\": \"date\"}", A, "\"not a date\"", NULL), HD_EINVAL);
    static const struct {
        const char *format, *value;
        int rc;
    } cases[] = {
        {"date", "\"2024-02-29\"", 0},
        {"date", "\"2023-02-29\"", HD_EINVAL},
        {"date-time", "\"2024-01-01T10:00:00.5+02:00\"", 0},
        {"date-time", "\"1998-12-31T23:59:60Z\"", 0},
        {"date-time", "\"1998-12-31T22:59:60Z\"", HD_EINVAL},
        {"date-time", "\"2024-01-01 10:00:00Z\"", HD_EINVAL},
        {"time", "\"08:30:06Z\"", 0},
        {"time", "\"08:30:06\"", HD_EINVAL},
        {"email", "\"joe.bloggs@example.com\"", 0},
        {"email", "\"joe..bloggs@example.com\"", HD_EINVAL},
        {"ipv4", "\"192.168.0.1\"", 0},
        {"ipv4", "\"192.168.00.1\"", HD_EINVAL},
        {"ipv4", "\"256.0.0.1\"", HD_EINVAL},
        {"ipv6", "\"::ffff:192.168.0.1\"", 0},
        {"ipv6", "\"1::2::3\"", HD_EINVAL},
        {"uri", "\"https://example.com/a?b=c#d\"", 0},
        {"uri", "\"/relative\"", HD_EINVAL},
        {"uri", "\"http://exa mple.com\"", HD_EINVAL},
        {"uuid", "\"2eb8aa08-aa98-11ea-b4aa-73b441d16380\"", 0},
        {"uuid", "\"2eb8aa08aa9811eab4aa73b441d16380\"", HD_EINVAL},
        {"unknown-format", "\"anything\"", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char schema[64];
        snprintf(schema, sizeof schema, "{\"format\": \"%s\"}", cases[i].format);
        int rc = run(schema, A, cases[i].value, NULL);
        if (rc != cases[i].rc)
            fail_msg("format %s, %s: got %d", cases[i].format, cases[i].value, rc);
    }
    /* Formats apply to strings only. */
    assert_int_equal(run("{\"format\": \"ipv4\"}", A, "12", NULL), 0);
}

static void test_ref_cycle_without_progress_is_a_range_error(void **state)
{
    (void)state;
    registry_error_t e;
    const char *d2020 = "{\"$schema\": \"https://json-schema.org/draft/2020-12/schema\","
                        " \"$ref\": \"#\"}";
    assert_int_equal(run(d2020, 0, "1", &e), HD_ERANGE);
    assert_string_equal(e.keyword, "$ref");
    assert_non_null(strstr(e.message, "cycle"));
    /* Through two definitions, under not (which must not turn the failure into success). */
    assert_int_equal(run("{\"definitions\": {\"a\": {\"$ref\": \"#/definitions/b\"},"
                         " \"b\": {\"$ref\": \"#/definitions/a\"}},"
                         " \"not\": {\"$ref\": \"#/definitions/a\"}}",
                         0, "{}", &e),
                     HD_ERANGE);
    /* A recursive schema that consumes input is fine. */
    assert_int_equal(
        run("{\"items\": {\"$ref\": \"#\"}, \"type\": \"array\"}", 0, "[[[], [[]]]]", &e), 0);
}

static void test_deep_instance_hits_depth_bound(void **state)
{
    (void)state;
    char inst[4096];
    size_t n = 0;
    for (int i = 0; i < 1000; i++)
        inst[n++] = '[';
    for (int i = 0; i < 1000; i++)
        inst[n++] = ']';
    inst[n] = '\0';
    registry_error_t e;
    assert_int_equal(run("{\"items\": {\"$ref\": \"#\"}}", 0, inst, &e), HD_ERANGE);
    assert_non_null(strstr(e.message, "deep"));
    /* Without a schema that descends, depth costs nothing. */
    assert_int_equal(run("{\"type\": \"array\"}", 0, inst, &e), 0);
}

static void test_exponential_schema_hits_work_bound_quickly(void **state)
{
    (void)state;
    /* Level i is anyOf[ref i+1, ref i+1]; the last level is false: 2^40 paths. */
    char schema[16384];
    size_t n = (size_t)snprintf(schema, sizeof schema, "{\"$ref\": \"#/$defs/l0\", \"$defs\": {");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(schema + n, sizeof schema - n,
                              "\"l%d\": {\"anyOf\": [{\"$ref\": \"#/$defs/l%d\"},"
                              " {\"$ref\": \"#/$defs/l%d\"}]},",
                              i, i + 1, i + 1);
    snprintf(schema + n, sizeof schema - n,
             "\"l40\": false}, \"$schema\": \"https://json-schema.org/draft/2020-12/schema\"}");
    int64_t t0 = hd_mono_ms();
    registry_error_t e;
    assert_int_equal(run(schema, 0, "1", &e), HD_ERANGE);
    assert_non_null(strstr(e.message, "work"));
    assert_true(hd_mono_ms() - t0 < 5000);
}

static void test_catastrophic_pattern_is_bounded(void **state)
{
    (void)state;
    char inst[256];
    memset(inst, 'a', sizeof inst);
    inst[0] = '"';
    memcpy(inst + 200, "!\"", 3);
    int64_t t0 = hd_mono_ms();
    int rc = run("{\"pattern\": \"^(a|aa)+(b|a+)*$\"}", 0, inst, NULL);
    assert_true(rc == HD_ERANGE || rc == HD_EINVAL);
    assert_true(hd_mono_ms() - t0 < 5000);
}

static void test_unique_items_on_large_array_is_fast(void **state)
{
    (void)state;
    json_t *arr = json_array();
    for (int i = 0; i < 50000; i++)
        json_array_append_new(arr, json_integer(i));
    json_t *s = js("{\"uniqueItems\": true}");
    registry_jsonschema_t *c = NULL;
    assert_int_equal(registry_jsonschema_compile(s, NULL, NULL, 0, &c, NULL), 0);
    int64_t t0 = hd_mono_ms();
    assert_int_equal(registry_jsonschema_validate(c, arr, NULL), 0);
    json_array_append_new(arr, json_real(777.0));
    registry_error_t e;
    assert_int_equal(registry_jsonschema_validate(c, arr, &e), HD_EINVAL);
    assert_non_null(strstr(e.message, "777"));
    assert_non_null(strstr(e.message, "50000"));
    assert_true(hd_mono_ms() - t0 < 2000);
    registry_jsonschema_free(c);
    json_decref(s);
    json_decref(arr);
}

static void test_free_null_is_noop(void **state)
{
    (void)state;
    registry_jsonschema_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_names_keyword_and_both_pointers),
        cmocka_unit_test(test_error_path_follows_ref),
        cmocka_unit_test(test_required_error_names_the_property),
        cmocka_unit_test(test_anyof_reports_itself_not_a_branch),
        cmocka_unit_test(test_additional_property_is_named),
        cmocka_unit_test(test_valid_instance_leaves_error_empty),
        cmocka_unit_test(test_false_schema_rejects_everything),
        cmocka_unit_test(test_compile_rejects_bad_keyword_values_with_location),
        cmocka_unit_test(test_compile_unresolvable_ref_is_not_found),
        cmocka_unit_test(test_resolver_serves_other_documents_relative_to_id),
        cmocka_unit_test(test_default_dialect_is_draft7_unless_asked),
        cmocka_unit_test(test_format_annotates_unless_asserted),
        cmocka_unit_test(test_ref_cycle_without_progress_is_a_range_error),
        cmocka_unit_test(test_deep_instance_hits_depth_bound),
        cmocka_unit_test(test_exponential_schema_hits_work_bound_quickly),
        cmocka_unit_test(test_catastrophic_pattern_is_bounded),
        cmocka_unit_test(test_unique_items_on_large_array_is_fast),
        cmocka_unit_test(test_free_null_is_noop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
