/* delivery/state.c: the state log. A subscription's leases, acks, retries and counters are the
 * same after a reopen (replay) and after a compaction; a torn last batch, cut at any byte, is
 * dropped whole while everything before it holds; receipts go stale once their lease is over;
 * a rejected record is dead-lettered at once (or settled without a dead-letter topic). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "delivery/delivery_int.h"
#include "log/batch_builder.h"
#include "util/err.h"
#include "util/say.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int64_t clock_ms = 1700000000000;
static int64_t fake_now(void) { return clock_ms; }

typedef struct fixture {
    bb_dir_t dir;
    hd_config_t cfg;
    broker_t *b;
    delivery_t *d;
} fixture_t;

static void noop_notify(void *ctx) { (void)ctx; }

static void wait_durable(broker_partition_t *p, int64_t target)
{
    for (int i = 0; i < 5000 && broker_partition_hwm(p) < target; i++)
        usleep(1000);
    assert_true(broker_partition_hwm(p) >= target);
}

static void open_delivery(fixture_t *f)
{
    assert_int_equal(delivery_open(f->b, &f->d), 0);
    delivery_set_clock(f->d, fake_now);
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
    assert_int_equal(broker_open(&f->cfg, noop_notify, NULL, &f->b), 0);
    broker_topic_t *t;
    const char *why = "";
    assert_int_equal(broker_topic_create(f->b, "jobs", 1, NULL, 0, false, &t, &why), 0);
    /* Ten records: values "v0".."v9". */
    broker_record_in_t recs[10];
    char vals[10][4];
    memset(recs, 0, sizeof recs);
    for (int i = 0; i < 10; i++) {
        snprintf(vals[i], sizeof vals[i], "v%d", i);
        recs[i].key_null = true;
        recs[i].value = hd_slice(vals[i], strlen(vals[i]));
        recs[i].timestamp = clock_ms;
    }
    hd_buf_t batch;
    hd_buf_init(&batch);
    assert_true(broker_batch_build(recs, 10, 1 << 20, &batch) > 0);
    broker_append_t res;
    broker_partition_t *p = broker_topic_partition(t, 0);
    assert_int_equal(broker_partition_append(p, batch.p, batch.len, 7, &res, &why), 0);
    hd_buf_deinit(&batch);
    wait_durable(p, 10);
    open_delivery(f);
    delivery_settings_t st;
    delivery_settings_defaults(&st);
    st.name = "w";
    st.topic = "jobs";
    st.start = DELIVERY_START_EARLIEST;
    st.ack_timeout_ms = 1000;
    st.max_deliveries = 5;
    st.backoff.jitter = 0;
    delivery_sub_t *s;
    int64_t at;
    assert_int_equal(delivery_sub_create(f->d, &st, &s, &at, &why), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    delivery_close(f->d);
    broker_close(f->b);
    hd_config_deinit(&f->cfg);
    bb_dir_remove(&f->dir);
    free(f);
    return 0;
}

static void reopen(fixture_t *f)
{
    delivery_close(f->d);
    open_delivery(f);
}

typedef struct got {
    int n;
    char receipts[16][DELIVERY_RECEIPT_MAX];
    int64_t offsets[16];
    int32_t counts[16];
} got_t;

static void collect(void *ctx, const delivery_msg_t *m)
{
    got_t *g = ctx;
    assert_true(g->n < 16);
    snprintf(g->receipts[g->n], DELIVERY_RECEIPT_MAX, "%s", m->receipt);
    g->offsets[g->n] = m->rec->offset;
    g->counts[g->n] = m->delivery_count;
    char want[8];
    snprintf(want, sizeof want, "v%d", (int)m->rec->offset);
    assert_int_equal(m->rec->value.len, strlen(want));
    assert_memory_equal(m->rec->value.p, want, strlen(want));
    g->n++;
}

static delivery_sub_t *sub(fixture_t *f)
{
    delivery_sub_t *s = delivery_sub_find(f->d, "w");
    assert_non_null(s);
    return s;
}

static int ack1(delivery_sub_t *s, const char *receipt)
{
    int res;
    int64_t at;
    const char *r[1] = {receipt};
    delivery_ack(s, r, 1, &res, &at);
    return res;
}

static void test_replay_restores_leases_acks_and_retries(void **state)
{
    fixture_t *f = *state;
    got_t g = {0};
    assert_int_equal(delivery_receive(sub(f), 4, collect, &g), 4);
    assert_int_equal(ack1(sub(f), g.receipts[0]), DELIVERY_OK);
    assert_int_equal(ack1(sub(f), g.receipts[2]), DELIVERY_OK);
    const char *r[1] = {g.receipts[1]};
    int res;
    int64_t at;
    delivery_nack(sub(f), r, 1, 5000, "nope", &res, &at);
    assert_int_equal(res, DELIVERY_OK);
    delivery_stats_t before, after;
    delivery_sub_stats(sub(f), &before);
    assert_int_equal(before.in_flight, 1);
    assert_int_equal(before.scheduled, 1);
    assert_int_equal(before.backlog, 8);
    reopen(f);
    delivery_sub_stats(sub(f), &after);
    assert_memory_equal(&before, &after, sizeof before);
    /* The lease of offset 3 is still held under its receipt; 0 and 2 are done. */
    assert_int_equal(ack1(sub(f), g.receipts[0]), DELIVERY_STALE);
    assert_int_equal(ack1(sub(f), g.receipts[3]), DELIVERY_OK);
    /* New records continue after the looked-at ones; the nacked one waits for its delay. */
    got_t g2 = {0};
    assert_int_equal(delivery_receive(sub(f), 16, collect, &g2), 6);
    assert_int_equal(g2.offsets[0], 4);
    for (int i = 0; i < g2.n; i++)
        assert_int_equal(ack1(sub(f), g2.receipts[i]), DELIVERY_OK);
    clock_ms += 5000;
    got_t g3 = {0};
    assert_int_equal(delivery_receive(sub(f), 16, collect, &g3), 1);
    assert_int_equal(g3.offsets[0], 1);
    assert_int_equal(g3.counts[0], 2);
}

static void test_expired_lease_makes_the_old_receipt_stale_after_a_new_lease(void **state)
{
    fixture_t *f = *state;
    got_t g = {0};
    assert_int_equal(delivery_receive(sub(f), 1, collect, &g), 1);
    clock_ms += 1001; /* lease over; backoff 1 s from the deadline */
    delivery_tick(f->d);
    got_t other = {0};
    assert_int_equal(delivery_receive(sub(f), 1, collect, &other), 1); /* offset 1, new */
    assert_int_equal(other.offsets[0], 1);
    /* Due again a second after the deadline: leased again under a new receipt. */
    clock_ms += 1000;
    got_t g2 = {0};
    assert_int_equal(delivery_receive(sub(f), 1, collect, &g2), 1);
    assert_int_equal(g2.offsets[0], 0);
    assert_int_equal(g2.counts[0], 2);
    assert_int_equal(ack1(sub(f), g.receipts[0]), DELIVERY_STALE);
    assert_int_equal(ack1(sub(f), g2.receipts[0]), DELIVERY_OK);
    assert_int_equal(ack1(sub(f), "0-1-zz"), DELIVERY_INVALID);
    /* Well-formed, but no such lease. */
    assert_int_equal(ack1(sub(f), "0-9-0000000000000001"), DELIVERY_STALE);
}

typedef struct dlq_rec {
    int n;
    char value[16];
    char count[16];
    char error[64];
} dlq_rec_t;

static void copy_hdr(char *out, size_t cap, hd_slice_t v)
{
    size_t n = v.len < cap - 1 ? v.len : cap - 1;
    memcpy(out, v.p, n);
    out[n] = '\0';
}

static int on_dlq_rec(void *ctx, const broker_record_t *rec)
{
    dlq_rec_t *d = ctx;
    d->n++;
    copy_hdr(d->value, sizeof d->value, rec->value);
    hd_slice_t area = rec->headers;
    broker_header_t h;
    while (broker_header_next(&area, &h) == 0) {
        if (h.name.len == strlen(DELIVERY_HDR_COUNT) &&
            !memcmp(h.name.p, DELIVERY_HDR_COUNT, h.name.len))
            copy_hdr(d->count, sizeof d->count, h.value);
        if (h.name.len == strlen(DELIVERY_HDR_ERROR) &&
            !memcmp(h.name.p, DELIVERY_HDR_ERROR, h.name.len))
            copy_hdr(d->error, sizeof d->error, h.value);
    }
    return 0;
}

static void test_reject_dead_letters_at_once_on_the_first_delivery(void **state)
{
    fixture_t *f = *state;
    got_t g = {0};
    assert_int_equal(delivery_receive(sub(f), 2, collect, &g), 2);
    const char *r[1] = {g.receipts[0]};
    int res;
    int64_t at;
    delivery_reject(sub(f), r, 1, "poison", &res, &at);
    assert_int_equal(res, DELIVERY_OK);
    /* A second settle of the same lease is stale; the other lease is untouched. */
    delivery_reject(sub(f), r, 1, "again", &res, &at);
    assert_int_equal(res, DELIVERY_STALE);
    assert_int_equal(ack1(sub(f), g.receipts[1]), DELIVERY_OK);
    /* In the dead-letter topic with delivery count 1 (the limit is 5) and the error. */
    broker_topic_t *t = broker_topic_find(f->b, "w-dlq");
    assert_non_null(t);
    broker_partition_t *p = broker_topic_partition(t, 0);
    wait_durable(p, 1);
    hd_buf_t buf, scratch;
    hd_buf_init(&buf);
    hd_buf_init(&scratch);
    assert_true(broker_partition_read(p, 0, 1 << 20, &buf) > 0);
    dlq_rec_t d = {0};
    assert_true(
        broker_batch_for_each(hd_slice(buf.p, buf.len), 1 << 20, &scratch, on_dlq_rec, &d) >= 0);
    hd_buf_deinit(&buf);
    hd_buf_deinit(&scratch);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.value, "v0");
    assert_string_equal(d.count, "1");
    assert_string_equal(d.error, "poison");
    /* Never delivered again: the next records are 2.. and nothing is scheduled. */
    clock_ms += 60000;
    delivery_tick(f->d);
    got_t g2 = {0};
    assert_int_equal(delivery_receive(sub(f), 16, collect, &g2), 8);
    for (int i = 0; i < g2.n; i++)
        assert_true(g2.offsets[i] >= 2);
    delivery_stats_t st;
    delivery_sub_stats(sub(f), &st);
    assert_int_equal(st.scheduled, 0);
}

static void test_reject_without_a_dead_letter_topic_settles_the_record(void **state)
{
    fixture_t *f = *state;
    delivery_settings_t st;
    delivery_settings_defaults(&st);
    st.name = "nodlq";
    st.topic = "jobs";
    st.start = DELIVERY_START_EARLIEST;
    st.max_deliveries = 0;
    delivery_sub_t *s;
    int64_t at;
    const char *why = "";
    assert_int_equal(delivery_sub_create(f->d, &st, &s, &at, &why), 0);
    got_t g = {0};
    assert_int_equal(delivery_receive(s, 1, collect, &g), 1);
    const char *r[1] = {g.receipts[0]};
    int res;
    delivery_reject(s, r, 1, "poison", &res, &at);
    assert_int_equal(res, DELIVERY_OK);
    delivery_stats_t stats;
    delivery_sub_stats(s, &stats);
    assert_int_equal(stats.backlog, 9);
    assert_int_equal(stats.in_flight, 0);
    assert_int_equal(stats.dead_lettered, 0);
    clock_ms += 60000;
    got_t g2 = {0};
    assert_int_equal(delivery_receive(s, 16, collect, &g2), 9);
    assert_int_equal(g2.offsets[0], 1);
}

static void test_compaction_keeps_the_state(void **state)
{
    fixture_t *f = *state;
    got_t g = {0};
    assert_int_equal(delivery_receive(sub(f), 6, collect, &g), 6);
    for (int i = 0; i < 6; i += 2)
        assert_int_equal(ack1(sub(f), g.receipts[i]), DELIVERY_OK);
    delivery_stats_t before, after;
    delivery_sub_stats(sub(f), &before);
    dl__st_maybe_compact(sub(f), true);
    reopen(f);
    delivery_sub_stats(sub(f), &after);
    assert_memory_equal(&before, &after, sizeof before);
    for (int i = 1; i < 6; i += 2)
        assert_int_equal(ack1(sub(f), g.receipts[i]), DELIVERY_OK);
    got_t g2 = {0};
    assert_int_equal(delivery_receive(sub(f), 16, collect, &g2), 4);
    assert_int_equal(g2.offsets[0], 6);
}

static off_t file_size(const char *p)
{
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    return st.st_size;
}

static void copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    assert_non_null(a);
    assert_non_null(b);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0)
        assert_int_equal(fwrite(buf, 1, n, b), n);
    fclose(a);
    fclose(b);
}

static void test_a_torn_last_batch_is_dropped_whole_at_every_cut(void **state)
{
    fixture_t *f = *state;
    got_t g = {0};
    assert_int_equal(delivery_receive(sub(f), 3, collect, &g), 3);
    assert_int_equal(ack1(sub(f), g.receipts[0]), DELIVERY_OK);
    char dir[512], seg[600], saved[600], marker[600];
    snprintf(dir, sizeof dir, "%s/__subscriptions/w/state", f->dir.root);
    snprintf(seg, sizeof seg, "%s/00000000000000000000.log", dir);
    snprintf(saved, sizeof saved, "%s/saved.bin", f->dir.root);
    snprintf(marker, sizeof marker, "%s/clean-shutdown", dir);
    delivery_close(f->d); /* clean: synced */
    f->d = NULL;
    off_t before = file_size(seg);
    open_delivery(f);
    assert_int_equal(ack1(sub(f), g.receipts[1]), DELIVERY_OK); /* the last batch */
    delivery_close(f->d);
    f->d = NULL;
    off_t full = file_size(seg);
    assert_true(full > before);
    copy_file(seg, saved);
    for (off_t cut = before; cut <= full; cut++) {
        copy_file(saved, seg);
        assert_int_equal(truncate(seg, cut), 0);
        unlink(marker); /* as after a crash: recovery scans the log */
        open_delivery(f);
        bool whole = cut == full;
        assert_int_equal(ack1(sub(f), g.receipts[1]), whole ? DELIVERY_STALE : DELIVERY_OK);
        assert_int_equal(ack1(sub(f), g.receipts[0]), DELIVERY_STALE);
        delivery_close(f->d);
        f->d = NULL;
    }
    open_delivery(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replay_restores_leases_acks_and_retries, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_expired_lease_makes_the_old_receipt_stale_after_a_new_lease, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_dead_letters_at_once_on_the_first_delivery,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_without_a_dead_letter_topic_settles_the_record,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction_keeps_the_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_torn_last_batch_is_dropped_whole_at_every_cut, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
