/* The registry read from worker threads while the loop thread changes it (validation on produce
 * runs on worker threads): threads validate Avro and JSON Schema payloads between
 * registry_read_begin/end, as the Produce path does, while this thread registers, soft- and
 * hard-deletes subjects. Every answer must stay right, and under ThreadSanitizer (make
 * unit-tsan) no access may race; the JSON Schema is compiled on first use by whichever thread
 * gets there first. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../log/batch_builder.h"
#include "registry/registry_int.h"
#include "util/err.h"
#include "util/say.h"

#define THREADS 3
#define ROUNDS 4000
#define AVRO_S                                                                                     \
    "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},"           \
    "{\"name\":\"s\",\"type\":\"string\"}]}"
#define JSON_S                                                                                     \
    "{\"type\":\"object\",\"required\":[\"n\"],\"properties\":{\"n\":{\"type\":\"integer\","       \
    "\"minimum\":0},\"tag\":{\"type\":\"string\",\"pattern\":\"^[a-z]+$\"}}}"

typedef struct shared {
    registry_t *reg;
    int32_t avro_id, json_id;
    int wrong; /* answers that were not what they should be */
    pthread_mutex_t lock;
} shared_t;

static void noop_notify(void *ctx) { (void)ctx; }

static int32_t reg_schema(registry_t *reg, const char *subject, int type, const char *text)
{
    registry_schema_in_t in = {type, text, strlen(text), NULL, 0};
    int32_t id = -1;
    int64_t at;
    registry_err_t err;
    if (registry_register(reg, subject, &in, &id, &at, &err) < 0)
        return -err.code;
    return id;
}

static hd_slice_t wire(uint8_t *buf, int32_t id, const char *payload, size_t len)
{
    buf[0] = 0;
    buf[1] = (uint8_t)(id >> 24);
    buf[2] = (uint8_t)(id >> 16);
    buf[3] = (uint8_t)(id >> 8);
    buf[4] = (uint8_t)id;
    memcpy(buf + 5, payload, len);
    return hd_slice(buf, len + 5);
}

static bool check(registry_t *reg, const registry_target_t *tg, hd_slice_t value)
{
    broker_record_in_t rec = {.value = value};
    char why[700];
    return registry_validate_target(reg, tg, &rec, NULL, why, sizeof why) == 0;
}

static void *validator(void *arg)
{
    shared_t *sh = arg;
    registry_target_t avro = {.value = true}, json = {.value = true};
    snprintf(avro.value_subject, sizeof avro.value_subject, "orders-value");
    snprintf(json.value_subject, sizeof json.value_subject, "events-value");
    /* Avro: zigzag 3, then the string "ab"; a truncated copy is refused. */
    static const char av[] = {6, 4, 'a', 'b'};
    const char *jgood = "{\"n\":5,\"tag\":\"abc\"}", *jbad = "{\"n\":-1,\"tag\":\"abc\"}";
    uint8_t buf[64];
    int wrong = 0;
    registry_read_begin(sh->reg);
    for (int i = 0; i < ROUNDS; i++) {
        wrong += !check(sh->reg, &avro, wire(buf, sh->avro_id, av, sizeof av));
        wrong += check(sh->reg, &avro, wire(buf, sh->avro_id, av, sizeof av - 1));
        wrong += !check(sh->reg, &json, wire(buf, sh->json_id, jgood, strlen(jgood)));
        wrong += check(sh->reg, &json, wire(buf, sh->json_id, jbad, strlen(jbad)));
        if (i % 64 == 63) { /* as the Produce path does: let a waiting change in */
            registry_read_end(sh->reg);
            registry_read_begin(sh->reg);
        }
    }
    registry_read_end(sh->reg);
    pthread_mutex_lock(&sh->lock);
    sh->wrong += wrong;
    pthread_mutex_unlock(&sh->lock);
    return NULL;
}

static void test_validate_while_changing(void **state)
{
    (void)state;
    bb_dir_t dir;
    bb_dir_make(&dir);
    hd_config_t cfg;
    hd_config_init(&cfg);
    free(cfg.data_dir);
    cfg.data_dir = strdup(dir.root);
    cfg.preallocate = false;
    say_level = SAY_ERROR;
    broker_t *b;
    shared_t sh = {0};
    pthread_mutex_init(&sh.lock, NULL);
    assert_int_equal(broker_open(&cfg, noop_notify, NULL, &b), 0);
    assert_int_equal(registry_open(b, &sh.reg), 0);
    sh.avro_id = reg_schema(sh.reg, "orders-value", REGISTRY_AVRO, AVRO_S);
    sh.json_id = reg_schema(sh.reg, "events-value", REGISTRY_JSON, JSON_S);
    assert_true(sh.avro_id > 0 && sh.json_id > 0);

    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, validator, &sh), 0);
    /* Meanwhile: new subjects (the maps grow and rehash), deletions, and a second version of
     * the subject being validated. */
    registry_err_t err;
    int64_t at;
    for (int i = 0; i < 300; i++) {
        char subject[32], text[160];
        snprintf(subject, sizeof subject, "churn-%d", i);
        snprintf(text, sizeof text,
                 "{\"type\":\"record\",\"name\":\"C%d\",\"fields\":[{\"name\":\"f\","
                 "\"type\":\"int\"}]}",
                 i);
        assert_true(reg_schema(sh.reg, subject, REGISTRY_AVRO, text) > 0);
        if (i % 2 == 0) {
            int32_t *versions = NULL;
            assert_int_equal(registry_delete_subject(sh.reg, subject, false, &versions, &at, &err),
                             1);
            free(versions);
            versions = NULL;
            assert_int_equal(registry_delete_subject(sh.reg, subject, true, &versions, &at, &err),
                             1);
            free(versions);
        }
        if (i == 150)
            assert_true(reg_schema(sh.reg, "orders-value", REGISTRY_AVRO,
                                   "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":"
                                   "\"a\",\"type\":\"int\"},{\"name\":\"s\",\"type\":\"string\"},"
                                   "{\"name\":\"x\",\"type\":\"int\",\"default\":0}]}") > 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(sh.wrong, 0);

    registry_close(sh.reg);
    broker_close(b);
    pthread_mutex_destroy(&sh.lock);
    hd_config_deinit(&cfg);
    bb_dir_remove(&dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate_while_changing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
