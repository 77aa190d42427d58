/* JSON Schema compatibility: one test per rule of docs/jsonschema-compat.md, each checked in the
 * direction it breaks (with the reason's wording and location) and in the direction it holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "registry/registry.h"
#include "util/err.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static registry_jsonschema_t *compile(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    if (!j)
        fail_msg("bad test JSON: %s", text);
    registry_jsonschema_t *s = NULL;
    registry_error_t e;
    if (registry_jsonschema_compile(j, NULL, NULL, 0, &s, &e) != 0)
        fail_msg("schema refused: %s: %s", text, e.message);
    json_decref(j);
    return s;
}

/* Returns the compat code of old -> new in `direction`; messages in *m. */
static int compat(const char *old_s, const char *new_s, int direction, registry_compat_msgs_t *m)
{
    registry_jsonschema_t *o = compile(old_s), *n = compile(new_s);
    registry_compat_msgs_init(m);
    int rc = registry_jsonschema_compat(o, n, direction, m);
    registry_jsonschema_free(o);
    registry_jsonschema_free(n);
    return rc;
}

/* Asserts that `old -> new` breaks `bad_dir` with a message holding `words` and holds in
 * `good_dir` (0: not checked). */
static void expect(const char *old_s, const char *new_s, int bad_dir, const char *words,
                   int good_dir)
{
    registry_compat_msgs_t m;
    if (bad_dir) {
        assert_int_equal(compat(old_s, new_s, bad_dir, &m), HD_EINVAL);
        assert_true(m.n >= 1);
        bool found = false;
        for (size_t i = 0; i < m.n; i++)
            found |= strstr(m.msg[i], words) != NULL;
        if (!found)
            fail_msg("no message holds \"%s\"; first: %s", words, m.msg[0]);
    }
    if (good_dir) {
        int rc = compat(old_s, new_s, good_dir, &m);
        if (rc != 0)
            fail_msg("expected compatible, got: %s", m.n ? m.msg[0] : "?");
    }
}

#define B REGISTRY_DIR_BACKWARD
#define F REGISTRY_DIR_FORWARD

static void test_identical_schemas_are_fully_compatible(void **state)
{
    (void)state;
    const char *s = "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"string\","
                    " \"maxLength\": 3}}, \"required\": [\"a\"], \"additionalProperties\": false}";
    expect(s, s, 0, NULL, REGISTRY_DIR_FULL);
}

static void test_added_required_property_is_not_backward(void **state)
{
    (void)state;
    const char *o = "{\"type\": \"object\", \"properties\": {\"a\": {}}}";
    const char *n = "{\"type\": \"object\", \"properties\": {\"a\": {}, \"b\": {}},"
                    " \"required\": [\"b\"]}";
    expect(o, n, B, "BACKWARD: #: required property \"b\" added without a default", F);
}

static void test_added_required_property_with_default_is_backward(void **state)
{
    (void)state;
    /* Old data never holds b (closed model): a reader that fills in b's default reads it. */
    const char *o = "{\"properties\": {\"a\": {}}, \"additionalProperties\": false}";
    const char *n =
        "{\"properties\": {\"a\": {}, \"b\": {\"type\": \"string\", \"default\": \"x\"}},"
        " \"required\": [\"b\"], \"additionalProperties\": false}";
    expect(o, n, F, "property \"b\" removed from a closed content model", B);
    /* Without the default, the same change breaks BACKWARD. */
    const char *n2 = "{\"properties\": {\"a\": {}, \"b\": {\"type\": \"string\"}},"
                     " \"required\": [\"b\"], \"additionalProperties\": false}";
    expect(o, n2, B, "required property \"b\" added without a default", 0);
    /* Under an open model old data may hold any b, default or not. */
    const char *o3 = "{\"properties\": {\"a\": {}}}";
    const char *n3 =
        "{\"properties\": {\"a\": {}, \"b\": {\"type\": \"string\", \"default\": \"x\"}},"
        " \"required\": [\"b\"]}";
    expect(o3, n3, B, "property \"b\" added to an open content model", F);
}

static void test_removed_property_from_closed_model_is_not_backward(void **state)
{
    (void)state;
    const char *o = "{\"properties\": {\"a\": {}, \"b\": {}}, \"additionalProperties\": false}";
    const char *n = "{\"properties\": {\"a\": {}}, \"additionalProperties\": false}";
    expect(o, n, B, "#: property \"b\" removed from a closed content model", F);
    /* From an open model, removing is harmless both ways. */
    expect("{\"properties\": {\"a\": {}, \"b\": {\"type\": \"integer\"}}}",
           "{\"properties\": {\"a\": {}}}", 0, NULL, B);
}

static void test_added_property_to_closed_model_is_not_forward(void **state)
{
    (void)state;
    const char *o = "{\"properties\": {\"a\": {}}, \"additionalProperties\": false}";
    const char *n = "{\"properties\": {\"a\": {}, \"c\": {\"type\": \"string\"}},"
                    " \"additionalProperties\": false}";
    expect(o, n, F, "FORWARD: #: property \"c\" removed from a closed content model", B);
}

static void test_added_property_to_open_model_is_not_backward(void **state)
{
    (void)state;
    const char *o = "{\"properties\": {\"a\": {}}}";
    const char *n = "{\"properties\": {\"a\": {}, \"c\": {\"type\": \"string\"}}}";
    expect(o, n, B, "property \"c\" added to an open content model", F);
    /* With an empty schema it is fine. */
    expect(o, "{\"properties\": {\"a\": {}, \"c\": {}}}", 0, NULL, REGISTRY_DIR_FULL);
}

static void test_closing_an_open_model_is_not_backward(void **state)
{
    (void)state;
    const char *o = "{\"properties\": {\"a\": {}}}";
    const char *n = "{\"properties\": {\"a\": {}}, \"additionalProperties\": false}";
    expect(o, n, B, "#: additionalProperties: the reader closed an open content model", F);
}

static void test_partially_open_model_covers_property(void **state)
{
    (void)state;
    /* b moves from properties into the string-typed additionalProperties: still readable. */
    const char *o = "{\"properties\": {\"a\": {}, \"b\": {\"type\": \"string\"}},"
                    " \"additionalProperties\": {\"type\": \"string\"}}";
    const char *n =
        "{\"properties\": {\"a\": {}}, \"additionalProperties\": {\"type\": \"string\"}}";
    expect(o, n, 0, NULL, REGISTRY_DIR_FULL);
    /* A property whose type the partially open model does not cover. */
    const char *o2 = "{\"properties\": {\"a\": {}, \"b\": {\"type\": \"integer\"}},"
                     " \"additionalProperties\": {\"type\": \"string\"}}";
    expect(o2, n, B, "#/additionalProperties: type narrowed: integer no longer accepted", 0);
}

static void test_narrowing_type_is_not_backward(void **state)
{
    (void)state;
    expect("{\"type\": [\"string\", \"null\"]}", "{\"type\": \"string\"}", B,
           "#: type narrowed: null no longer accepted", F);
    expect("{\"type\": \"number\"}", "{\"type\": \"integer\"}", B,
           "type narrowed: number no longer accepted", F);
    /* integer -> number widens. */
    expect("{\"type\": \"integer\"}", "{\"type\": \"number\"}", F, "type narrowed", B);
}

static void test_narrowing_enum_is_not_backward(void **state)
{
    (void)state;
    expect("{\"enum\": [\"red\", \"green\", \"blue\"]}", "{\"enum\": [\"red\", \"green\"]}", B,
           "the writer's value \"blue\" is rejected by the reader", F);
    /* Adding an enum to a plain type narrows it. */
    expect("{\"type\": \"string\"}", "{\"type\": \"string\", \"enum\": [\"a\"]}", B, "enum added",
           F);
    /* An enum dropped in favour of its type widens. */
    expect("{\"enum\": [1, 2]}", "{\"type\": \"integer\"}", F, "enum added", B);
    expect("{\"const\": \"v1\"}", "{\"const\": \"v2\"}", B, "\"v1\" is rejected", 0);
}

static void test_tightening_numeric_bounds_is_not_backward(void **state)
{
    (void)state;
    expect("{\"minimum\": 0}", "{\"minimum\": 1}", B, "minimum raised", F);
    expect("{\"maximum\": 10}", "{\"maximum\": 9}", B, "maximum lowered", F);
    expect("{\"type\": \"number\"}", "{\"type\": \"number\", \"exclusiveMaximum\": 5}", B,
           "exclusiveMaximum added", F);
    expect("{\"minimum\": 1}", "{\"exclusiveMinimum\": 1}", B, "exclusiveMinimum raised", F);
    expect("{\"multipleOf\": 2}", "{\"multipleOf\": 4}", B, "multipleOf changed", F);
    expect("{\"type\": \"integer\"}", "{\"type\": \"integer\", \"multipleOf\": 3}", B,
           "multipleOf added", F);
}

static void test_tightening_string_constraints_is_not_backward(void **state)
{
    (void)state;
    expect("{\"maxLength\": 10}", "{\"maxLength\": 5}", B, "maxLength lowered to 5", F);
    expect("{\"type\": \"string\"}", "{\"type\": \"string\", \"minLength\": 1}", B,
           "minLength raised to 1", F);
    expect("{\"type\": \"string\"}", "{\"type\": \"string\", \"pattern\": \"^[a-z]+$\"}", B,
           "pattern added", F);
    /* A changed pattern cannot be proven either way. */
    expect("{\"pattern\": \"^a\"}", "{\"pattern\": \"^ab?\"}", B | F, "pattern changed", 0);
    /* Constraints of a type the writer does not allow do not matter. */
    expect("{\"type\": \"integer\"}", "{\"type\": \"integer\", \"maxLength\": 1}", 0, NULL,
           REGISTRY_DIR_FULL);
}

static void test_tightening_array_and_object_counts_is_not_backward(void **state)
{
    (void)state;
    expect("{\"maxItems\": 5}", "{\"maxItems\": 4}", B, "maxItems lowered", F);
    expect("{\"type\": \"array\"}", "{\"type\": \"array\", \"minItems\": 1}", B, "minItems raised",
           F);
    expect("{\"type\": \"array\"}", "{\"type\": \"array\", \"uniqueItems\": true}", B,
           "uniqueItems added", F);
    expect("{\"type\": \"object\"}", "{\"type\": \"object\", \"maxProperties\": 3}", B,
           "maxProperties added", F);
    expect("{\"minProperties\": 1}", "{\"minProperties\": 2}", B, "minProperties raised", F);
}

static void test_changes_inside_nested_objects_and_arrays(void **state)
{
    (void)state;
    const char *o =
        "{\"properties\": {\"order\": {\"properties\": {\"lines\": {\"type\": \"array\","
        " \"items\": {\"properties\": {\"qty\": {\"type\": \"number\"}}}}}}}}";
    const char *n =
        "{\"properties\": {\"order\": {\"properties\": {\"lines\": {\"type\": \"array\","
        " \"items\": {\"properties\": {\"qty\": {\"type\": \"integer\"}}}}}}}}";
    expect(o, n, B,
           "BACKWARD: #/properties/order/properties/lines/items/properties/qty: type narrowed", F);
    /* Tuple positions. */
    expect("{\"$schema\": \"https://json-schema.org/draft/2020-12/schema\","
           " \"prefixItems\": [{\"type\": \"string\"}, {}]}",
           "{\"$schema\": \"https://json-schema.org/draft/2020-12/schema\","
           " \"prefixItems\": [{\"type\": \"string\"}, {\"type\": \"boolean\"}]}",
           B, "#/prefixItems/1: type narrowed", F);
}

static void test_changes_in_referenced_definitions(void **state)
{
    (void)state;
    const char *o = "{\"definitions\": {\"money\": {\"type\": \"number\", \"minimum\": 0}},"
                    " \"properties\": {\"price\": {\"$ref\": \"#/definitions/money\"}}}";
    const char *n = "{\"definitions\": {\"money\": {\"type\": \"number\", \"minimum\": 1}},"
                    " \"properties\": {\"price\": {\"$ref\": \"#/definitions/money\"}}}";
    expect(o, n, B, "#/properties/price/$ref: minimum raised", F);
    /* Recursive definitions compare without looping. */
    const char *tree = "{\"$defs\": {\"t\": {\"type\": \"object\", \"properties\": {\"kids\":"
                       " {\"type\": \"array\", \"items\": {\"$ref\": \"#/$defs/t\"}}}}},"
                       " \"$ref\": \"#/$defs/t\", \"$schema\": "
                       "\"https://json-schema.org/draft/2020-12/schema\"}";
    expect(tree, tree, 0, NULL, REGISTRY_DIR_FULL);
}

static void test_union_extension_is_backward_only(void **state)
{
    (void)state;
    const char *o = "{\"type\": \"string\"}";
    const char *n = "{\"anyOf\": [{\"type\": \"string\"}, {\"type\": \"integer\"}]}";
    expect(o, n, F, "FORWARD: #/anyOf/1: type narrowed: integer no longer accepted", B);
    /* Each writer branch must land in some reader branch. */
    const char *o2 = "{\"oneOf\": [{\"type\": \"string\"}, {\"type\": \"null\"}]}";
    const char *n2 = "{\"oneOf\": [{\"type\": \"null\"}, {\"type\": \"string\"},"
                     " {\"type\": \"boolean\"}]}";
    expect(o2, n2, F, "FORWARD: #/oneOf/2/oneOf: no oneOf branch of the reader accepts", B);
    /* A reader union must hold each writer branch in one of its own. */
    expect("{\"anyOf\": [{\"type\": \"string\"}, {\"type\": \"integer\"}]}",
           "{\"anyOf\": [{\"type\": \"string\", \"maxLength\": 3}, {\"type\": \"integer\"}]}", B,
           "#/anyOf/0/anyOf: no anyOf branch of the reader accepts everything", F);
}

static void test_allof_and_not(void **state)
{
    (void)state;
    expect("{\"type\": \"string\"}", "{\"allOf\": [{\"type\": \"string\"}, {\"maxLength\": 2}]}", B,
           "#/allOf/1: maxLength added", F);
    expect("{\"type\": \"string\"}", "{\"type\": \"string\", \"not\": {\"const\": \"\"}}", B,
           "not added", F);
    expect("{\"not\": {\"enum\": [1, 2]}}", "{\"not\": {\"const\": 1}}", F, "not widened", B);
}

static void test_dependencies_may_only_go(void **state)
{
    (void)state;
    expect("{\"type\": \"object\"}",
           "{\"type\": \"object\", \"dependencies\": {\"card\": [\"cvc\"]}}", B,
           "dependency added: \"card\" now requires \"cvc\"", F);
    expect("{\"$schema\": \"https://json-schema.org/draft/2020-12/schema\"}",
           "{\"$schema\": \"https://json-schema.org/draft/2020-12/schema\","
           " \"dependentSchemas\": {\"a\": {\"required\": [\"b\"]}}}",
           B, "dependent schema added for \"a\"", F);
}

static void test_full_reports_both_directions(void **state)
{
    (void)state;
    registry_compat_msgs_t m;
    assert_int_equal(
        compat("{\"type\": \"integer\"}", "{\"type\": \"string\"}", REGISTRY_DIR_FULL, &m),
        HD_EINVAL);
    assert_int_equal(m.n, 2);
    assert_string_equal(m.msg[0], "BACKWARD: #: type narrowed: integer no longer accepted");
    assert_string_equal(m.msg[1], "FORWARD: #: type narrowed: string no longer accepted");
}

static void test_messages_are_bounded(void **state)
{
    (void)state;
    char o[4096], n[4096];
    size_t lo = (size_t)snprintf(o, sizeof o, "{\"properties\": {");
    size_t ln = (size_t)snprintf(n, sizeof n, "{\"properties\": {");
    for (int i = 0; i < 40; i++) {
        lo += (size_t)snprintf(o + lo, sizeof o - lo, "%s\"p%d\": {\"type\": \"number\"}",
                               i ? "," : "", i);
        ln += (size_t)snprintf(n + ln, sizeof n - ln, "%s\"p%d\": {\"type\": \"integer\"}",
                               i ? "," : "", i);
    }
    snprintf(o + lo, sizeof o - lo, "}}");
    snprintf(n + ln, sizeof n - ln, "}}");
    registry_compat_msgs_t m;
    assert_int_equal(compat(o, n, B, &m), HD_EINVAL);
    assert_int_equal(m.n, REGISTRY_COMPAT_MAX_MSGS);
    assert_int_equal(m.dropped, 40 - REGISTRY_COMPAT_MAX_MSGS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identical_schemas_are_fully_compatible),
        cmocka_unit_test(test_added_required_property_is_not_backward),
        cmocka_unit_test(test_added_required_property_with_default_is_backward),
        cmocka_unit_test(test_removed_property_from_closed_model_is_not_backward),
        cmocka_unit_test(test_added_property_to_closed_model_is_not_forward),
        cmocka_unit_test(test_added_property_to_open_model_is_not_backward),
        cmocka_unit_test(test_closing_an_open_model_is_not_backward),
        cmocka_unit_test(test_partially_open_model_covers_property),
        cmocka_unit_test(test_narrowing_type_is_not_backward),
        cmocka_unit_test(test_narrowing_enum_is_not_backward),
        cmocka_unit_test(test_tightening_numeric_bounds_is_not_backward),
        cmocka_unit_test(test_tightening_string_constraints_is_not_backward),
        cmocka_unit_test(test_tightening_array_and_object_counts_is_not_backward),
        cmocka_unit_test(test_changes_inside_nested_objects_and_arrays),
        cmocka_unit_test(test_changes_in_referenced_definitions),
        cmocka_unit_test(test_union_extension_is_backward_only),
        cmocka_unit_test(test_allof_and_not),
        cmocka_unit_test(test_dependencies_may_only_go),
        cmocka_unit_test(test_full_reports_both_directions),
        cmocka_unit_test(test_messages_are_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
