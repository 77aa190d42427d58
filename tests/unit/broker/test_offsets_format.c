/* The records of __consumer_offsets (Kafka's OffsetCommit and GroupMetadata keys and values, the
 * format before them) and Kafka's partitioning of the topic; and, through a broker, the
 * conversion of a data directory in the old format and the classic-group state a restart
 * restores from GroupMetadata records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "broker/broker_int.h"
#include "broker/group.h"
#include "log/batch_builder.h"
#include "util/err.h"
#include "util/say.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- partitioning ---- */

static void test_partition_is_java_hash_code_modulo_count(void **state)
{
    (void)state;
    /* "g1".hashCode() = 103 * 31 + 49 = 3242. */
    assert_int_equal(broker__offsets_partition_for("g1", 4), 3242 % 4);
    assert_int_equal(broker__offsets_partition_for("g1", 50), 3242 % 50);
    assert_int_equal(broker__offsets_partition_for("", 50), 0);
    /* "polygenelubricants".hashCode() is Integer.MIN_VALUE: Kafka's Utils.abs makes it 0. */
    assert_int_equal(broker__offsets_partition_for("polygenelubricants", 50), 0);
    /* A negative hash: "zzzzzzzz".hashCode() = -1910022912 (32-bit wrap). */
    assert_int_equal(broker__offsets_partition_for("zzzzzzzz", 50), 1910022912 % 50);
    /* Outside the BMP a character is two UTF-16 code units (U+1F600: D83D DE00). */
    assert_int_equal(broker__offsets_partition_for("\xf0\x9f\x98\x80", 1000),
                     (0xD83D * 31 + 0xDE00) % 1000);
    /* Two-byte UTF-8 (U+00E9) is one code unit. */
    assert_int_equal(broker__offsets_partition_for("\xc3\xa9", 1000), 0xE9 % 1000);
}

/* ---- records ---- */

static broker_record_t record(const hd_buf_t *k, const hd_buf_t *v)
{
    broker_record_t r = {0};
    r.key = hd_buf_slice(k);
    if (v)
        r.value = hd_buf_slice(v);
    else
        r.value_null = true;
    return r;
}

static void test_offset_commit_record_is_kafkas_key_1_value_3(void **state)
{
    (void)state;
    hd_buf_t k, v;
    hd_buf_init(&k);
    hd_buf_init(&v);
    broker__okey_offset(&k, "g", "tp", 7);
    static const uint8_t key[] = {0, 1, 0, 1, 'g', 0, 2, 't', 'p', 0, 0, 0, 7};
    assert_int_equal(k.len, sizeof key);
    assert_memory_equal(k.p, key, sizeof key);
    broker__oval_offset(&v, 0x0102030405060708, -1, " m", 2, 0x1122334455667788);
    static const uint8_t val[] = {0,    3,    1,    2,    3,    4,    5,    6,   7,
                                  8,    0xff, 0xff, 0xff, 0xff, 0,    2,    ' ', 'm',
                                  0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
    assert_int_equal(v.len, sizeof val);
    assert_memory_equal(v.p, val, sizeof val);
    broker_record_t r = record(&k, &v);
    broker__orec_t o;
    assert_int_equal(broker__orec_parse(&r, &o), 0);
    assert_int_equal(o.type, BROKER__OREC_OFFSET);
    assert_int_equal(o.partition, 7);
    assert_int_equal(o.offset, 0x0102030405060708);
    assert_int_equal(o.leader_epoch, -1);
    assert_int_equal(o.commit_ms, 0x1122334455667788);
    assert_int_equal(o.metadata.len, 2);
    assert_false(o.tombstone);
    r = record(&k, NULL);
    assert_int_equal(broker__orec_parse(&r, &o), 0);
    assert_true(o.tombstone);
    hd_buf_deinit(&k);
    hd_buf_deinit(&v);
}

static void test_older_and_flexible_offset_values_are_read(void **state)
{
    (void)state;
    hd_buf_t k, v;
    hd_buf_init(&k);
    hd_buf_init(&v);
    broker__okey_offset(&k, "g", "t", 0);
    k.p[1] = 0; /* key version 0 */
    /* Version 1: offset, metadata, commit, expire. */
    hd_buf_put_i16be(&v, 1);
    hd_buf_put_i64be(&v, 42);
    hd_buf_put_i16be(&v, 1);
    hd_buf_put_u8(&v, 'x');
    hd_buf_put_i64be(&v, 99);
    hd_buf_put_i64be(&v, 100);
    broker_record_t r = record(&k, &v);
    broker__orec_t o;
    assert_int_equal(broker__orec_parse(&r, &o), 0);
    assert_int_equal(o.offset, 42);
    assert_int_equal(o.leader_epoch, -1);
    assert_int_equal(o.commit_ms, 99);
    /* Version 4 (Kafka 4.4): compact string and a tagged topic id. */
    hd_buf_reset(&v);
    hd_buf_put_i16be(&v, 4);
    hd_buf_put_i64be(&v, 43);
    hd_buf_put_i32be(&v, 5);
    hd_buf_put_uvarint(&v, 3);
    hd_buf_put(&v, "ab", 2);
    hd_buf_put_i64be(&v, 77);
    hd_buf_put_uvarint(&v, 1);
    hd_buf_put_uvarint(&v, 0);
    hd_buf_put_uvarint(&v, 16);
    hd_buf_put(&v, "0123456789abcdef", 16);
    r = record(&k, &v);
    assert_int_equal(broker__orec_parse(&r, &o), 0);
    assert_int_equal(o.offset, 43);
    assert_int_equal(o.leader_epoch, 5);
    assert_int_equal(o.metadata.len, 2);
    assert_int_equal(o.commit_ms, 77);
    /* Truncated, unknown version, NUL in a string: malformed. */
    v.len -= 3;
    r = record(&k, &v);
    assert_int_equal(broker__orec_parse(&r, &o), HD_EMALFORMED);
    broker__oval_offset(&v, 1, 1, "", 0, 1);
    v.p[1] = 9;
    r = record(&k, &v);
    assert_int_equal(broker__orec_parse(&r, &o), HD_EMALFORMED);
    broker__okey_offset(&k, "a\001", "t", 0);
    k.p[5] = 0;
    r = record(&k, NULL);
    assert_int_equal(broker__orec_parse(&r, &o), HD_EMALFORMED);
    /* Other record types (consumer-protocol groups, key version 3+) are skipped. */
    hd_buf_reset(&k);
    hd_buf_put_i16be(&k, 3);
    r = record(&k, NULL);
    assert_int_equal(broker__orec_parse(&r, &o), 0);
    assert_int_equal(o.type, BROKER__OREC_OTHER);
    hd_buf_deinit(&k);
    hd_buf_deinit(&v);
}

static void test_group_metadata_round_trips(void **state)
{
    (void)state;
    broker__gmember_t ms[2] = {
        {"m-1",
         NULL,
         "cli",
         "/127.0.0.1",
         20000,
         10000,
         {(const uint8_t *)"sub", 3},
         {(const uint8_t *)"as", 2}},
        {"m-2", "static-2", "cli2", "/10.0.0.1", 300000, 45000, {NULL, 0}, {NULL, 0}},
    };
    broker__gmeta_t m = {"consumer", "range", "m-1", 7, 1234, ms, 2};
    hd_buf_t v;
    hd_buf_init(&v);
    broker__gmeta_encode(&v, &m);
    /* i16 3, "consumer", i32 7, "range", "m-1", i64 1234, i32 2, ... */
    assert_int_equal(v.p[1], 3);
    assert_memory_equal(v.p + 2, "\0\010consumer\0\0\0\007\0\005range\0\003m-1", 26);
    broker__gmeta_t d;
    assert_int_equal(broker__gmeta_decode(hd_buf_slice(&v), &d), 0);
    assert_string_equal(d.protocol_type, "consumer");
    assert_string_equal(d.protocol, "range");
    assert_string_equal(d.leader, "m-1");
    assert_int_equal(d.generation, 7);
    assert_int_equal(d.state_ms, 1234);
    assert_int_equal(d.nmembers, 2);
    assert_null(d.members[0].instance_id);
    assert_string_equal(d.members[1].instance_id, "static-2");
    assert_string_equal(d.members[1].client_host, "/10.0.0.1");
    assert_int_equal(d.members[1].rebalance_ms, 300000);
    assert_int_equal(d.members[1].session_ms, 45000);
    assert_int_equal(d.members[0].subscription.len, 3);
    assert_memory_equal(d.members[0].assignment.p, "as", 2);
    broker__gmeta_free(&d);
    /* Every cut of the value is refused, never read past. */
    for (size_t n = 0; n < v.len; n++)
        if (broker__gmeta_decode(hd_slice(v.p, n), &d) == 0)
            fail_msg("a value cut at %zu of %zu was accepted", n, v.len);
    /* An empty group: null protocol and leader, no members. */
    broker__gmeta_t e = {"consumer", NULL, NULL, 8, 99, NULL, 0};
    broker__gmeta_encode(&v, &e);
    assert_int_equal(broker__gmeta_decode(hd_buf_slice(&v), &d), 0);
    assert_null(d.protocol);
    assert_null(d.leader);
    assert_int_equal(d.nmembers, 0);
    broker__gmeta_free(&d);
    /* A null member array (count -1) is malformed, not a huge allocation (found by fuzzing). */
    v.len -= 4;
    hd_buf_put_i32be(&v, -1);
    assert_int_equal(broker__gmeta_decode(hd_buf_slice(&v), &d), HD_EMALFORMED);
    hd_buf_deinit(&v);
}

/* ---- through a broker ---- */

typedef struct fixture {
    bb_dir_t dir;
    hd_config_t cfg;
    broker_t *b;
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
    f->cfg.group_initial_rebalance_delay_ms = 0;
    f->cfg.offsets_topic_num_partitions = 3;
    say_level = SAY_ERROR;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    broker_close(f->b);
    hd_config_deinit(&f->cfg);
    bb_dir_remove(&f->dir);
    free(f);
    return 0;
}

/* One legacy batch: records (key, value or NULL) built into out. */
static void legacy_batch(hd_buf_t *out, hd_buf_t *keys, hd_buf_t **values, int n)
{
    hd_buf_reset(out);
    hd_buf_put_i64be(out, 0);
    hd_buf_put_i32be(out, 0);
    hd_buf_put_i32be(out, 0);
    hd_buf_put_u8(out, 2);
    hd_buf_put_u32be(out, 0);
    hd_buf_put_i16be(out, 0);
    hd_buf_put_i32be(out, n - 1);
    hd_buf_put_i64be(out, 1000);
    hd_buf_put_i64be(out, 1000);
    hd_buf_put_i64be(out, -1);
    hd_buf_put_i16be(out, -1);
    hd_buf_put_i32be(out, -1);
    hd_buf_put_i32be(out, n);
    for (int i = 0; i < n; i++) {
        hd_buf_t r;
        hd_buf_init(&r);
        hd_buf_put_u8(&r, 0);
        hd_buf_put_varint(&r, 0);
        hd_buf_put_varint(&r, i);
        hd_buf_put_varint(&r, (int64_t)keys[i].len);
        hd_buf_put(&r, keys[i].p, keys[i].len);
        if (values[i]) {
            hd_buf_put_varint(&r, (int64_t)values[i]->len);
            hd_buf_put(&r, values[i]->p, values[i]->len);
        } else {
            hd_buf_put_varint(&r, -1);
        }
        hd_buf_put_varint(&r, 0);
        hd_buf_put_varint(out, (int64_t)r.len);
        hd_buf_put(out, r.p, r.len);
        hd_buf_deinit(&r);
    }
    hd_buf_patch_i32be(out, 8, (int32_t)(out->len - 12));
    hd_buf_patch_i32be(out, 17, (int32_t)hd_crc32c(0, out->p + 21, out->len - 21));
}

static void put_s(hd_buf_t *b, const char *s)
{
    hd_buf_put_i16be(b, (int16_t)strlen(s));
    hd_buf_put(b, s, strlen(s));
}

static void legacy_offset(hd_buf_t *k, hd_buf_t *v, const char *g, int32_t p, int64_t off,
                          const char *meta)
{
    hd_buf_init(k);
    hd_buf_put_i16be(k, 0);
    put_s(k, g);
    put_s(k, "orders");
    hd_buf_put_i32be(k, p);
    if (v) {
        hd_buf_init(v);
        hd_buf_put_i16be(v, 0);
        hd_buf_put_i64be(v, off);
        hd_buf_put_i32be(v, 2);
        hd_buf_put_i64be(v, 5000);
        put_s(v, meta);
    }
}

static int count_legacy_files(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".log") || strstr(e->d_name, "index"))
            n++;
    closedir(d);
    return n;
}

static void test_an_old_data_directory_is_converted_once(void **state)
{
    fixture_t *f = *state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/__consumer_offsets", f->dir.root);
    assert_int_equal(mkdir(dir, 0755), 0);
    log_config_t lc;
    log_config_defaults(&lc);
    lc.preallocate = false;
    log_partition_t *old;
    assert_int_equal(log_partition_open(dir, &lc, &old), 0);
    /* svc: p0=10 then 12 "again", p1=7 deleted; gone: a deleted group; then a snapshot
     * start followed by kept's only offset (so "early" before it is forgotten). */
    hd_buf_t k[4], v[4], *vs[4], batch;
    hd_buf_init(&batch);
    legacy_offset(&k[0], &v[0], "early", 0, 1, "");
    vs[0] = &v[0];
    legacy_batch(&batch, k, vs, 1);
    int64_t base;
    assert_int_equal(log_partition_append(old, batch.p, batch.len, &base), 0);
    hd_buf_deinit(&k[0]);
    hd_buf_deinit(&v[0]);
    hd_buf_init(&k[0]);
    hd_buf_put_i16be(&k[0], 2); /* snapshot start */
    vs[0] = NULL;
    legacy_offset(&k[1], &v[1], "svc", 0, 10, "first");
    legacy_offset(&k[2], &v[2], "svc", 1, 7, "");
    legacy_offset(&k[3], &v[3], "gone", 0, 3, "");
    vs[1] = &v[1], vs[2] = &v[2], vs[3] = &v[3];
    legacy_batch(&batch, k, vs, 4);
    assert_int_equal(log_partition_append(old, batch.p, batch.len, &base), 0);
    for (int i = 0; i < 4; i++) {
        hd_buf_deinit(&k[i]);
        if (i)
            hd_buf_deinit(&v[i]);
    }
    legacy_offset(&k[0], &v[0], "svc", 0, 12, "   again");
    vs[0] = &v[0];
    legacy_offset(&k[1], NULL, "svc", 1, 0, "");
    vs[1] = NULL;
    hd_buf_init(&k[2]);
    hd_buf_put_i16be(&k[2], 1); /* group deleted */
    put_s(&k[2], "gone");
    vs[2] = NULL;
    legacy_batch(&batch, k, vs, 3);
    assert_int_equal(log_partition_append(old, batch.p, batch.len, &base), 0);
    for (int i = 0; i < 3; i++)
        hd_buf_deinit(&k[i]);
    hd_buf_deinit(&v[0]);
    hd_buf_deinit(&batch);
    assert_int_equal(log_partition_sync(old), 0);
    log_partition_close(old);
    assert_true(count_legacy_files(dir) > 0);

    for (int round = 0; round < 2; round++) {
        assert_int_equal(broker_open(&f->cfg, noop_notify, NULL, &f->b), 0);
        assert_int_equal(count_legacy_files(dir), 0);
        broker_offset_t o;
        assert_true(broker_offsets_get(f->b, "svc", "orders", 0, &o));
        assert_int_equal(o.offset, 12);
        assert_int_equal(o.leader_epoch, 2);
        assert_int_equal(o.commit_ms, 5000);
        assert_string_equal(o.metadata, "   again");
        assert_false(broker_offsets_get(f->b, "svc", "orders", 1, &o));
        assert_null(broker_group_find(f->b, "gone"));
        assert_null(broker_group_find(f->b, "early"));
        assert_int_equal(broker_group_count(f->b), 1);
        broker_close(f->b);
        f->b = NULL;
    }
    /* The layout: 3 partitions (the configured count), svc's records in its own. */
    char parts[600];
    snprintf(parts, sizeof parts, "%s/partitions", dir);
    FILE *pf = fopen(parts, "r");
    assert_non_null(pf);
    char line[64] = "";
    assert_non_null(fgets(line, sizeof line, pf));
    fclose(pf);
    assert_string_equal(line, "partitions=3\n");
    f->cfg.offsets_topic_num_partitions = 7; /* fixed once made */
    assert_int_equal(broker_open(&f->cfg, noop_notify, NULL, &f->b), 0);
    assert_int_equal(
        broker_topic_partitions(broker_internal_topic_find(f->b, "__consumer_offsets")), 3);
    broker_partition_t *p = broker__offsets_part_of(f->b, "svc");
    assert_int_equal(broker_partition_index(p), broker__offsets_partition_for("svc", 3));
    assert_true(broker_partition_end(p) >= 1);
}

/* ---- group state across a restart ---- */

typedef struct joined {
    broker_join_waiter_t w;
    bool got;
    int16_t error;
    int32_t generation;
    char member_id[256];
} joined_t;

static void on_join(broker_join_waiter_t *w, const broker_join_res_t *res)
{
    joined_t *j = w->ctx;
    j->got = true;
    j->error = res->error;
    j->generation = res->generation;
    snprintf(j->member_id, sizeof j->member_id, "%s", res->member_id);
}

static void on_sync(broker_sync_waiter_t *w, int16_t err, const char *pt, const char *p,
                    hd_slice_t a)
{
    (void)pt;
    (void)p;
    (void)a;
    *(int16_t *)w->ctx = err;
}

static int64_t now_ms = 5000000;
static int64_t clock_fn(void) { return now_ms; }

static void test_a_stable_group_is_restored_with_its_members(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(broker_open(&f->cfg, noop_notify, NULL, &f->b), 0);
    broker_group_set_clock(f->b, clock_fn);
    broker_protocol_t p = {"range", hd_slice("subscription", 12)};
    broker_join_req_t req = {.group_id = "g",
                             .member_id = "",
                             .instance_id = "inst",
                             .client_id = "cli",
                             .client_host = "/127.0.0.1",
                             .protocol_type = "consumer",
                             .session_ms = 10000,
                             .rebalance_ms = 20000,
                             .protocols = &p,
                             .nprotocols = 1};
    joined_t j = {0};
    j.w.cb = on_join;
    j.w.ctx = &j;
    broker_group_join(f->b, &req, &j.w);
    assert_true(j.got);
    assert_int_equal(j.error, 0);
    int16_t serr = -1;
    broker_sync_waiter_t sw = {.cb = on_sync, .ctx = &serr};
    broker_assignment_t as = {j.member_id, hd_slice("assigned", 8)};
    broker_group_sync(f->b, "g", j.generation, j.member_id, "inst", &as, 1, &sw);
    /* Answered once the group record is durable. */
    for (int i = 0; i < 5000 && serr == -1; i++) {
        usleep(1000);
        broker_on_durable(f->b);
    }
    assert_int_equal(serr, 0);
    broker_close(f->b);
    assert_int_equal(broker_open(&f->cfg, noop_notify, NULL, &f->b), 0);
    broker_group_set_clock(f->b, clock_fn);
    broker_group_t *g = broker_group_find(f->b, "g");
    assert_non_null(g);
    assert_string_equal(broker_group_state(g), "Stable");
    assert_int_equal(broker_group_generation(g), j.generation);
    assert_string_equal(broker_group_protocol(g), "range");
    assert_int_equal(broker_group_member_count(g), 1);
    broker_member_info_t mi;
    broker_group_member(g, 0, &mi);
    assert_string_equal(mi.member_id, j.member_id);
    assert_string_equal(mi.instance_id, "inst");
    assert_string_equal(mi.client_host, "/127.0.0.1");
    assert_int_equal(mi.assignment.len, 8);
    assert_memory_equal(mi.metadata.p, "subscription", 12);
    assert_int_equal(broker_group_heartbeat(f->b, "g", j.generation, j.member_id, "inst"), 0);
    /* A member that does not come back expires; the group empties, is written and dropped. */
    now_ms += 10001;
    broker_group_tick(f->b);
    assert_null(broker_group_find(f->b, "g"));
    broker_close(f->b);
    assert_int_equal(broker_open(&f->cfg, noop_notify, NULL, &f->b), 0);
    assert_null(broker_group_find(f->b, "g"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partition_is_java_hash_code_modulo_count),
        cmocka_unit_test(test_offset_commit_record_is_kafkas_key_1_value_3),
        cmocka_unit_test(test_older_and_flexible_offset_values_are_read),
        cmocka_unit_test(test_group_metadata_round_trips),
        cmocka_unit_test_setup_teardown(test_an_old_data_directory_is_converted_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_stable_group_is_restored_with_its_members, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
