/* The registry's durable state: what is registered, deleted and configured survives a reopen
 * (the log is replayed), and entries that do not parse or do not fit are skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../log/batch_builder.h"
#include "registry/registry_int.h"
#include "util/err.h"
#include "util/say.h"

typedef struct fixture {
    bb_dir_t dir;
    hd_config_t cfg;
    broker_t *b;
    registry_t *reg;
} fixture_t;

static void noop_notify(void *ctx) { (void)ctx; }

static void open_all(fixture_t *f)
{
    assert_int_equal(broker_open(&f->cfg, noop_notify, NULL, &f->b), 0);
    assert_int_equal(registry_open(f->b, &f->reg), 0);
}

static void close_all(fixture_t *f)
{
    registry_close(f->reg);
    broker_close(f->b);
    f->reg = NULL;
    f->b = NULL;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    bb_dir_make(&f->dir);
    hd_config_init(&f->cfg);
    free(f->cfg.data_dir);
    f->cfg.data_dir = strdup(f->dir.root);
    f->cfg.preallocate = false;
    say_level = SAY_ERROR;
    open_all(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    close_all(f);
    hd_config_deinit(&f->cfg);
    bb_dir_remove(&f->dir);
    free(f);
    return 0;
}

static int32_t reg_schema(fixture_t *f, const char *subject, const char *text)
{
    registry_schema_in_t in = {REGISTRY_AVRO, text, strlen(text), NULL, 0};
    int32_t id = -1;
    int64_t at;
    registry_err_t err;
    if (registry_register(f->reg, subject, &in, &id, &at, &err) < 0)
        return -err.code;
    return id;
}

#define S1 "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}"
#define S2                                                                                         \
    "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"long\"},"          \
    "{\"name\":\"b\",\"type\":\"string\",\"default\":\"\"}]}"

static void test_state_survives_reopen(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(reg_schema(f, "a", S1), 1);
    assert_int_equal(reg_schema(f, "a",
                                "{ \"type\":\"record\", \"name\":\"R\",\"fields\":"
                                "[{\"name\":\"a\",\"type\":\"int\"}] }"),
                     1);
    assert_int_equal(reg_schema(f, "b", S1), 1);
    assert_int_equal(reg_schema(f, "a", S2), 2);
    int64_t at;
    int old;
    int32_t v, *vs;
    registry_err_t err;
    assert_int_equal(registry_config_set(f->reg, "b", REGISTRY_FULL, &old, &at, &err), 0);
    assert_int_equal(registry_delete_version(f->reg, "a", "1", false, &v, &at, &err), 0);
    assert_int_equal(registry_delete_subject(f->reg, "b", false, &vs, &at, &err), 1);
    free(vs);
    assert_int_equal(registry_delete_subject(f->reg, "b", true, &vs, &at, &err), 1);
    free(vs);
    close_all(f);
    open_all(f);
    registry_version_t ver;
    assert_int_equal(registry_version_get(f->reg, "a", "latest", false, &ver, &err), 0);
    assert_int_equal(ver.version, 2);
    assert_int_equal(registry_schema_id(ver.schema), 2);
    assert_string_equal(registry_schema_text(ver.schema),
                        "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":"
                        "\"long\"},{\"name\":\"b\",\"type\":\"string\",\"default\":\"\"}]}");
    assert_int_equal(registry_version_get(f->reg, "a", "1", false, &ver, &err), -1);
    assert_int_equal(err.code, REGISTRY_EVERSION_NOT_FOUND);
    assert_int_equal(registry_version_get(f->reg, "a", "1", true, &ver, &err), 0);
    assert_true(ver.deleted);
    assert_int_equal(registry_versions(f->reg, "b", true, &vs, &err), -1);
    assert_int_equal(err.code, REGISTRY_ESUBJECT_NOT_FOUND);
    int level;
    assert_int_equal(registry_config_get(f->reg, "b", false, &level, &err), 0);
    assert_int_equal(level, REGISTRY_FULL);
    /* Ids continue after the highest one replayed. */
    assert_int_equal(reg_schema(f, "c", "\"string\""), 3);
}

static void test_registration_waits_for_durability(void **state)
{
    fixture_t *f = *state;
    registry_schema_in_t in = {REGISTRY_AVRO, S1, strlen(S1), NULL, 0};
    int32_t id;
    int64_t at;
    registry_err_t err;
    assert_int_equal(registry_register(f->reg, "d", &in, &id, &at, &err), 0);
    assert_true(at > 0);
    for (int i = 0; i < 5000 && broker_partition_hwm(f->reg->log) < at; i++)
        usleep(1000);
    assert_true(broker_partition_hwm(f->reg->log) >= at);
}

/* One batch holding the given record values (NULL: a null value). */
static void batch_of(hd_buf_t *out, const char *const *values, int n)
{
    broker_record_in_t recs[8];
    memset(recs, 0, sizeof recs);
    for (int i = 0; i < n; i++) {
        recs[i].key_null = true;
        recs[i].value_null = values[i] == NULL;
        recs[i].value = values[i] ? hd_slice_str(values[i]) : hd_slice(NULL, 0);
    }
    hd_buf_reset(out);
    assert_true(broker_batch_build(recs, n, 1 << 20, out) > 0);
}

static void test_bad_entries_are_skipped(void **state)
{
    fixture_t *f = *state;
    hd_buf_t b;
    hd_buf_init(&b);
    const char *vals[] = {
        "{\"t\":\"schema\",\"subject\":\"s\",\"version\":1,\"id\":5,\"schemaType\":\"AVRO\","
        "\"schema\":\"\\\"int\\\"\",\"references\":[]}",
        "not json",
        NULL,
        "{\"t\":\"schema\",\"subject\":\"s\",\"version\":1,\"id\":6,\"schemaType\":\"AVRO\","
        "\"schema\":\"\\\"long\\\"\"}", /* version 1 again */
        "{\"t\":\"schema\",\"subject\":\"u\",\"version\":1,\"id\":5,\"schemaType\":\"AVRO\","
        "\"schema\":\"\\\"long\\\"\"}", /* id 5 redefined */
        "{\"t\":\"delete\",\"subject\":\"zz\",\"version\":1,\"permanent\":false}",
        "{\"t\":\"config\",\"subject\":null,\"compatibility\":\"SIDEWAYS\"}",
        "{\"t\":\"config\",\"subject\":null,\"compatibility\":\"NONE\"}",
    };
    batch_of(&b, vals, 8);
    assert_int_equal(registry__store_apply_batch(f->reg, hd_buf_slice(&b)), 0);
    assert_int_equal(f->reg->skipped, 6);
    registry_version_t v;
    registry_err_t err;
    assert_int_equal(registry_version_get(f->reg, "s", "1", false, &v, &err), 0);
    assert_int_equal(registry_schema_id(v.schema), 5);
    assert_string_equal(registry_schema_text(v.schema), "\"int\"");
    int level;
    assert_int_equal(registry_config_get(f->reg, NULL, false, &level, &err), 0);
    assert_int_equal(level, REGISTRY_NONE);
    hd_buf_deinit(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_state_survives_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registration_waits_for_durability, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_entries_are_skipped, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
