/* Broker: batch validation, idempotent-producer checks (also across restarts), topics, and
 * offsets by timestamp. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "broker/broker.h"
#include "log/batch_builder.h"
#include "util/crc32c.h"
#include "util/err.h"
#include "util/fileio.h"
#include "util/monotime.h"
#include "util/say.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static void fix_crc(uint8_t *b, size_t len) { put_be(b + 17, hd_crc32c(0, b + 21, len - 21), 4); }

/* One batch of n records with producer fields set. */
static void make_batch(hd_buf_t *out, int n, int64_t pid, int16_t epoch, int32_t seq)
{
    hd_buf_reset(out);
    bb_build(out, n, 1700000000000, 1700000000000 + n - 1, 10);
    put_be(out->p + 43, (uint64_t)pid, 8);
    put_be(out->p + 51, (uint64_t)(uint16_t)epoch, 2);
    put_be(out->p + 53, (uint64_t)(uint32_t)seq, 4);
    fix_crc(out->p, out->len);
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
    fix_crc(b->p, b->len);
}

typedef struct fixture {
    bb_dir_t dir;
    hd_config_t cfg;
    broker_t *b;
    hd_buf_t batch;
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
    hd_buf_init(&f->batch);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    broker_close(f->b);
    hd_config_deinit(&f->cfg);
    hd_buf_deinit(&f->batch);
    bb_dir_remove(&f->dir);
    free(f);
    return 0;
}

static void reopen(fixture_t *f)
{
    broker_close(f->b);
    assert_int_equal(broker_open(&f->cfg, noop_notify, NULL, &f->b), 0);
}

static broker_partition_t *make_topic(fixture_t *f, const char *name)
{
    const char *why = "";
    broker_topic_t *t;
    assert_int_equal(broker_topic_create(f->b, name, 2, NULL, 0, false, &t, &why), 0);
    return broker_topic_partition(t, 0);
}

static void wait_durable(broker_partition_t *p, int64_t target)
{
    for (int i = 0; i < 5000 && broker_partition_hwm(p) < target; i++)
        usleep(1000);
    assert_true(broker_partition_hwm(p) >= target);
}

static void test_valid_batch_passes_and_bad_crc_is_corrupt(void **state)
{
    (void)state;
    hd_buf_t b;
    hd_buf_init(&b);
    make_batch(&b, 3, -1, -1, -1);
    broker_batch_hdr_t h;
    const char *why = "";
    assert_int_equal(broker_batch_validate(hd_buf_slice(&b), true, 1 << 20, &h, &why), 0);
    assert_int_equal(h.records_count, 3);
    b.p[b.len - 1] ^= 0x40;
    assert_int_equal(broker_batch_validate(hd_buf_slice(&b), true, 1 << 20, &h, &why), HD_ECORRUPT);
    hd_buf_deinit(&b);
}

static void test_count_mismatch_and_control_batches_are_invalid(void **state)
{
    (void)state;
    hd_buf_t b;
    hd_buf_init(&b);
    broker_batch_hdr_t h;
    const char *why = "";
    make_batch(&b, 3, -1, -1, -1);
    put_be(b.p + 57, 4, 4); /* recordsCount 4, lastOffsetDelta 2 */
    fix_crc(b.p, b.len);
    assert_int_equal(broker_batch_validate(hd_buf_slice(&b), false, 1 << 20, &h, &why),
                     HD_EMALFORMED);
    make_batch(&b, 3, -1, -1, -1);
    put_be(b.p + 21, 0x20, 2); /* control */
    fix_crc(b.p, b.len);
    assert_int_equal(broker_batch_validate(hd_buf_slice(&b), false, 1 << 20, &h, &why),
                     HD_EMALFORMED);
    /* A record whose length runs past the batch, with a correct CRC. */
    make_batch(&b, 3, -1, -1, -1);
    b.p[61] = 0x7e; /* first record's varint length: 63 */
    fix_crc(b.p, b.len);
    assert_int_equal(broker_batch_validate(hd_buf_slice(&b), true, 1 << 20, &h, &why),
                     HD_EMALFORMED);
    hd_buf_deinit(&b);
}

static int collect_keys(void *ctx, const broker_record_t *rec)
{
    hd_buf_t *keys = ctx;
    hd_buf_put(keys, rec->key.p, rec->key.len);
    hd_buf_put_u8(keys, ',');
    return 0;
}

static void test_gzip_batch_inflates_to_the_same_records(void **state)
{
    (void)state;
    hd_buf_t b, scratch, keys;
    hd_buf_init(&b);
    hd_buf_init(&scratch);
    hd_buf_init(&keys);
    make_batch(&b, 4, -1, -1, -1);
    gzip_batch(&b);
    broker_batch_hdr_t h;
    const char *why = "";
    assert_int_equal(broker_batch_validate(hd_buf_slice(&b), true, 1 << 20, &h, &why), 0);
    assert_int_equal(
        broker_batch_for_each(hd_buf_slice(&b), 1 << 20, &scratch, collect_keys, &keys), 0);
    assert_int_equal(keys.len, 12);
    assert_memory_equal(keys.p, "k0,k1,k2,k3,", 12);
    /* The same batch must not inflate past a small bound (decompression bombs). */
    assert_int_equal(broker_batch_validate(hd_buf_slice(&b), true, 8, &h, &why), HD_EMALFORMED);
    /* A truncated compressed stream is malformed. */
    b.len -= 6;
    put_be(b.p + 8, b.len - 12, 4);
    fix_crc(b.p, b.len);
    assert_int_equal(broker_batch_validate(hd_buf_slice(&b), true, 1 << 20, &h, &why),
                     HD_EMALFORMED);
    hd_buf_deinit(&b);
    hd_buf_deinit(&scratch);
    hd_buf_deinit(&keys);
}

static void test_idempotent_retry_returns_original_offset(void **state)
{
    fixture_t *f = *state;
    broker_partition_t *p = make_topic(f, "idem");
    broker_append_t r1, r2, r3;
    const char *why = "";
    make_batch(&f->batch, 2, 5000, 0, 0);
    assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r1, &why), 0);
    make_batch(&f->batch, 3, 5000, 0, 2);
    assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r2, &why), 0);
    assert_int_equal(r2.base_offset, 2);
    /* The retry of the second batch: not appended, same offsets. */
    make_batch(&f->batch, 3, 5000, 0, 2);
    assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r3, &why), 0);
    assert_true(r3.duplicate);
    assert_int_equal(r3.base_offset, 2);
    assert_int_equal(r3.end_offset, 5);
    assert_int_equal(broker_partition_end(p), 5);
}

static void test_sequence_gap_and_stale_epoch_are_rejected(void **state)
{
    fixture_t *f = *state;
    broker_partition_t *p = make_topic(f, "seq");
    broker_append_t r;
    const char *why = "";
    make_batch(&f->batch, 2, 6000, 3, 0);
    assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why), 0);
    make_batch(&f->batch, 1, 6000, 3, 5); /* expected 2 */
    assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why),
                     HD_ESEQUENCE);
    make_batch(&f->batch, 1, 6000, 2, 2); /* older epoch */
    assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why), HD_EFENCED);
    make_batch(&f->batch, 1, 6000, 4, 1); /* new epoch must start at 0 */
    assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why),
                     HD_ESEQUENCE);
    make_batch(&f->batch, 1, 6000, 4, 0);
    assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why), 0);
    assert_int_equal(broker_partition_end(p), 3);
}

static void test_retry_after_restart_is_still_deduplicated(void **state)
{
    fixture_t *f = *state;
    broker_partition_t *p = make_topic(f, "restart");
    broker_append_t r;
    const char *why = "";
    make_batch(&f->batch, 4, 7000, 0, 0);
    assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why), 0);
    wait_durable(p, 4);
    reopen(f);
    p = broker_topic_partition(broker_topic_find(f->b, "restart"), 0);
    make_batch(&f->batch, 4, 7000, 0, 0);
    assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why), 0);
    assert_true(r.duplicate);
    assert_int_equal(r.base_offset, 0);
    assert_int_equal(broker_partition_end(p), 4);
    make_batch(&f->batch, 1, 7000, 0, 4);
    assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why), 0);
    assert_int_equal(r.base_offset, 4);
}

static void test_thousands_of_producers_keep_their_state_across_restart(void **state)
{
    fixture_t *f = *state;
    broker_partition_t *p = make_topic(f, "many");
    broker_append_t r;
    const char *why = "";
    enum { N = 3000 };
    /* Two one-record batches per producer, the second round after all the first ones. */
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < N; i++) {
            make_batch(&f->batch, 1, 100000 + i, 0, round);
            assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why), 0);
            assert_false(r.duplicate);
            assert_int_equal(r.base_offset, round * N + i);
        }
    wait_durable(p, 2 * N);
    for (int pass = 0; pass < 2; pass++) {
        /* Retries of any producer's batches are answered with their first offsets. */
        for (int i = 0; i < N; i += 299) {
            make_batch(&f->batch, 1, 100000 + i, 0, 0);
            assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why), 0);
            assert_true(r.duplicate);
            assert_int_equal(r.base_offset, i);
            make_batch(&f->batch, 1, 100000 + i, 0, 1);
            assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why), 0);
            assert_true(r.duplicate);
            assert_int_equal(r.base_offset, N + i);
        }
        /* A gap is still a gap. */
        make_batch(&f->batch, 1, 100000 + 17, 0, 5);
        assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why),
                         HD_ESEQUENCE);
        assert_int_equal(broker_partition_end(p), 2 * N);
        reopen(f);
        p = broker_topic_partition(broker_topic_find(f->b, "many"), 0);
    }
    make_batch(&f->batch, 1, 100000 + 42, 0, 2);
    assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why), 0);
    assert_int_equal(r.base_offset, 2 * N);
}

static void test_expired_producer_starts_afresh(void **state)
{
    fixture_t *f = *state;
    f->cfg.producer_id_expiration_ms = 200;
    reopen(f);
    broker_partition_t *p = make_topic(f, "expiry");
    broker_append_t r;
    const char *why = "";
    make_batch(&f->batch, 2, 9000, 0, 0);
    assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why), 0);
    /* Within the window a restart at sequence 0 is a duplicate of the first batch... */
    make_batch(&f->batch, 2, 9000, 0, 0);
    assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why), 0);
    assert_true(r.duplicate);
    make_batch(&f->batch, 1, 9000, 0, 0);
    assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why),
                     HD_ESEQUENCE);
    /* ...after it the producer is forgotten, and any sequence starts tracking again. */
    usleep(300 * 1000);
    make_batch(&f->batch, 1, 9000, 0, 0);
    assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why), 0);
    assert_false(r.duplicate);
    assert_int_equal(r.base_offset, 2);
    make_batch(&f->batch, 1, 9000, 0, 1);
    assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why), 0);
    assert_int_equal(r.base_offset, 3);
    /* Producers that come and go: the expired ones are forgotten as new ones arrive. */
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 200; i++) {
            make_batch(&f->batch, 1, 20000 + round * 1000 + i, 0, 0);
            assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why), 0);
            assert_false(r.duplicate);
        }
        usleep(300 * 1000);
    }
    make_batch(&f->batch, 1, 20000 + 5, 0, 7); /* expired: accepted as a fresh start */
    assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why), 0);
    assert_int_equal(broker_partition_end(p), 405);
}

static int preads_left; /* failing_pread fails once this reaches 0 */

static ssize_t failing_pread(int fd, void *buf, size_t n, off_t off)
{
    if (preads_left-- <= 0)
        return -EIO;
    return hd_fileio_default.pread(fd, buf, n, off);
}

static void test_failed_rebuild_is_retried_not_half_kept(void **state)
{
    fixture_t *f = *state;
    broker_partition_t *p = make_topic(f, "rebuild-eio");
    broker_append_t r;
    const char *why = "";
    /* 2,000 producers: the log (about 280 KB) takes several 64 KiB reads to scan. */
    for (int i = 0; i < 2000; i++) {
        make_batch(&f->batch, 4, 30000 + i, 0, 0);
        assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why), 0);
    }
    wait_durable(p, 8000);
    reopen(f);
    p = broker_topic_partition(broker_topic_find(f->b, "rebuild-eio"), 0);
    /* Without the shutdown's snapshot, so that the rebuild reads the whole log. */
    char path[600];
    snprintf(path, sizeof path, "%s/topics/rebuild-eio-0/producers.snapshot", f->dir.root);
    assert_int_equal(unlink(path), 0);
    /* A read in the middle of the rebuild fails: the batch is refused with the I/O error... */
    preads_left = 3;
    hd_io.pread = failing_pread;
    make_batch(&f->batch, 4, 30000 + 1999, 0, 0);
    int rc = broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why);
    hd_io = hd_fileio_default;
    assert_true(rc < 0);
    assert_int_equal(broker_partition_end(p), 8000);
    /* ...and the next one rebuilds in full: a producer from the end of the log is known. */
    make_batch(&f->batch, 4, 30000 + 1999, 0, 0);
    assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why), 0);
    assert_true(r.duplicate);
    assert_int_equal(r.base_offset, 7996);
    make_batch(&f->batch, 1, 30000 + 1999, 0, 9);
    assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why),
                     HD_ESEQUENCE);
    assert_int_equal(broker_partition_end(p), 8000);
}

static int pread_calls;

static ssize_t counting_pread(int fd, void *buf, size_t n, off_t off)
{
    pread_calls++;
    return hd_fileio_default.pread(fd, buf, n, off);
}

/* Reads or replaces the snapshot file of topic `name`, partition 0. */
static size_t snapshot_io(fixture_t *f, const char *name, uint8_t *buf, size_t len, bool write)
{
    char path[600];
    snprintf(path, sizeof path, "%s/topics/%s-0/producers.snapshot", f->dir.root, name);
    FILE *fp = fopen(path, write ? "wb" : "rb");
    assert_non_null(fp);
    size_t n = write ? fwrite(buf, 1, len, fp) : fread(buf, 1, len, fp);
    fclose(fp);
    return n;
}

/* Appends producer pid's batch with sequence seq and checks where it went. */
static void expect_append(fixture_t *f, broker_partition_t *p, int64_t pid, int32_t seq,
                          int64_t base, bool duplicate)
{
    broker_append_t r;
    const char *why = "";
    make_batch(&f->batch, 1, pid, 0, seq);
    assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why), 0);
    assert_int_equal(r.duplicate, duplicate);
    assert_int_equal(r.base_offset, base);
}

static void test_snapshot_spares_the_log_scan_and_carries_state_forward(void **state)
{
    fixture_t *f = *state;
    broker_partition_t *p = make_topic(f, "snap");
    enum { N = 3000 };
    for (int i = 0; i < N; i++)
        expect_append(f, p, 100 + i, 0, i, false);
    wait_durable(p, N);
    reopen(f); /* the clean shutdown writes the snapshot */
    p = broker_topic_partition(broker_topic_find(f->b, "snap"), 0);
    assert_int_equal(broker_partition_end(p), N);
    pread_calls = 0;
    hd_io.pread = counting_pread;
    expect_append(f, p, 100 + 2999, 0, 2999, true); /* a retry: found without reading the log */
    hd_io = hd_fileio_default;
    assert_true(pread_calls <= 1);
    expect_append(f, p, 100 + 7, 0, 7, true);
    static uint8_t old[1 << 20];
    size_t old_len = snapshot_io(f, "snap", old, sizeof old, false);
    assert_true(old_len > 3000 * 19);
    /* Batches after the snapshot, then that older snapshot put back: they are replayed. */
    for (int i = 0; i < 10; i++)
        expect_append(f, p, 100 + i, 1, N + i, false);
    wait_durable(p, N + 10);
    reopen(f);
    assert_int_equal(snapshot_io(f, "snap", old, old_len, true), old_len);
    p = broker_topic_partition(broker_topic_find(f->b, "snap"), 0);
    expect_append(f, p, 100 + 3, 1, N + 3, true);
    expect_append(f, p, 100 + 3, 2, N + 10, false);
    expect_append(f, p, 100 + 500, 0, 500, true);
    /* A snapshot claiming an offset past the log's end (crafted, with a valid CRC) and a
     * corrupt one are both ignored: the log is scanned and the answers are the same. */
    wait_durable(p, N + 11);
    uint8_t *bad = old;
    for (int round = 0; round < 2; round++) {
        reopen(f);
        size_t len = snapshot_io(f, "snap", bad, sizeof old, false);
        if (round == 0) {
            put_be(bad + 6, 1000000, 8);
            put_be(bad + len - 4, hd_crc32c(0, bad, len - 4), 4);
        } else {
            bad[len / 2] ^= 0x10;
        }
        snapshot_io(f, "snap", bad, len, true);
        p = broker_topic_partition(broker_topic_find(f->b, "snap"), 0);
        expect_append(f, p, 100 + 3, 2, N + 10, true);
        expect_append(f, p, 100 + 2999, 0, 2999, true);
        make_batch(&f->batch, 1, 100 + 4, 0, 5); /* producer 104 is at sequence 1: a gap */
        broker_append_t r;
        const char *why = "";
        assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why),
                         HD_ESEQUENCE);
    }
    assert_int_equal(broker_partition_end(p), N + 11);
}

static void test_batch_over_max_message_bytes_is_too_large(void **state)
{
    fixture_t *f = *state;
    const char *why = "";
    broker_config_kv_t kv[] = {{"max.message.bytes", "200"}};
    broker_topic_t *t;
    assert_int_equal(broker_topic_create(f->b, "small", 1, kv, 1, false, &t, &why), 0);
    make_batch(&f->batch, 20, -1, -1, -1);
    broker_append_t r;
    assert_int_equal(broker_partition_append(broker_topic_partition(t, 0), f->batch.p, f->batch.len,
                                             7, &r, &why),
                     HD_ETOOBIG);
}

static void test_topic_create_rules_and_persistence(void **state)
{
    fixture_t *f = *state;
    const char *why = "";
    broker_topic_t *t;
    assert_int_equal(broker_topic_create(f->b, "bad/name", 1, NULL, 0, false, &t, &why), HD_EINVAL);
    assert_int_equal(broker_topic_create(f->b, "..", 1, NULL, 0, false, &t, &why), HD_EINVAL);
    broker_config_kv_t bad[] = {{"no.such.config", "1"}};
    assert_int_equal(broker_topic_create(f->b, "x", 1, bad, 1, false, &t, &why), HD_EINVAL);
    broker_config_kv_t kv[] = {{"retention.ms", "12345"}};
    assert_int_equal(broker_topic_create(f->b, "keep", 3, kv, 1, false, &t, &why), 0);
    assert_int_equal(broker_topic_create(f->b, "keep", 3, NULL, 0, false, &t, &why), HD_EEXIST);
    assert_int_equal(broker_topic_create(f->b, "dry", 1, NULL, 0, true, &t, &why), 0);
    assert_null(broker_topic_find(f->b, "dry"));
    assert_int_equal(
        broker_topic_add_partitions(f->b, broker_topic_find(f->b, "keep"), 5, false, &why), 0);
    reopen(f);
    t = broker_topic_find(f->b, "keep");
    assert_non_null(t);
    assert_int_equal(broker_topic_partitions(t), 5);
    assert_int_equal(broker_topic_config(t)->retention_ms, 12345);
    assert_int_equal(broker_topic_delete(f->b, "keep"), 0);
    assert_int_equal(broker_topic_delete(f->b, "keep"), HD_ENOTFOUND);
    reopen(f);
    assert_null(broker_topic_find(f->b, "keep"));
}

static void test_offset_for_time_finds_first_record_at_or_after(void **state)
{
    fixture_t *f = *state;
    broker_partition_t *p = make_topic(f, "times");
    broker_append_t r;
    const char *why = "";
    /* Batch 1: records at 1000..1003; batch 2 (gzip): 2000..2003. */
    hd_buf_reset(&f->batch);
    bb_build(&f->batch, 4, 1000, 1003, 5);
    assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why), 0);
    hd_buf_reset(&f->batch);
    bb_build(&f->batch, 4, 2000, 2003, 5);
    gzip_batch(&f->batch);
    assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why), 0);
    wait_durable(p, 8);
    int64_t off, ts;
    assert_int_equal(broker_partition_offset_for_time(p, 1002, &off, &ts), 0);
    assert_int_equal(off, 2);
    assert_int_equal(ts, 1002);
    assert_int_equal(broker_partition_offset_for_time(p, 1500, &off, &ts), 0);
    assert_int_equal(off, 4);
    assert_int_equal(broker_partition_offset_for_time(p, 2003, &off, &ts), 0);
    assert_int_equal(off, 7);
    assert_int_equal(broker_partition_offset_for_time(p, 2004, &off, &ts), HD_ENOTFOUND);
}

static const char *config_value(broker_topic_t *t, const char *name, bool *is_default)
{
    static broker_config_entry_t ents[40];
    int n = broker_topic_describe_config(t, ents, 40);
    for (int i = 0; i < n; i++)
        if (!strcmp(ents[i].name, name)) {
            *is_default = ents[i].is_default;
            return ents[i].value;
        }
    fail_msg("no setting %s", name);
    return NULL;
}

static void test_alter_config_is_all_or_nothing_and_durable(void **state)
{
    fixture_t *f = *state;
    const char *why = "";
    broker_topic_t *t;
    broker_config_kv_t kv[] = {{"retention.ms", "12345"}, {"segment.ms", "999"}};
    assert_int_equal(broker_topic_create(f->b, "alt", 1, kv, 2, false, &t, &why), 0);
    bool dflt;
    /* SET, DELETE and APPEND in one change. */
    broker_config_op_t ops[] = {{"max.message.bytes", "5000", BROKER_CONFIG_SET},
                                {"retention.ms", NULL, BROKER_CONFIG_DELETE},
                                {"cleanup.policy", "delete", BROKER_CONFIG_APPEND},
                                {"compression.type", "lz4", BROKER_CONFIG_SET}};
    assert_int_equal(broker_topic_alter_config(f->b, t, ops, 4, false, false, &why), 0);
    assert_int_equal(broker_topic_config(t)->max_message_bytes, 5000);
    assert_int_equal(broker_topic_config(t)->retention_ms, f->cfg.retention_ms);
    assert_int_equal(broker_topic_config(t)->compression, 3);
    assert_string_equal(config_value(t, "retention.ms", &dflt), "604800000");
    assert_true(dflt);
    assert_string_equal(config_value(t, "cleanup.policy", &dflt), "delete");
    assert_false(dflt);
    /* Failures change nothing: a bad value after a good one, an unknown name, APPEND on a
     * non-list setting, a value that would break the definition file. */
    broker_config_op_t bad1[] = {{"segment.ms", "1", BROKER_CONFIG_SET},
                                 {"retention.ms", "soon", BROKER_CONFIG_SET}};
    assert_int_equal(broker_topic_alter_config(f->b, t, bad1, 2, false, false, &why), HD_EINVAL);
    broker_config_op_t bad2[] = {{"no.such", "1", BROKER_CONFIG_SET}};
    assert_int_equal(broker_topic_alter_config(f->b, t, bad2, 1, false, false, &why), HD_EINVAL);
    broker_config_op_t bad3[] = {{"segment.ms", "1", BROKER_CONFIG_APPEND}};
    assert_int_equal(broker_topic_alter_config(f->b, t, bad3, 1, false, false, &why), HD_EINVAL);
    broker_config_op_t bad4[] = {{"herald.key.schema.subject", "a\npartitions=9", 0}};
    assert_int_equal(broker_topic_alter_config(f->b, t, bad4, 1, false, false, &why), HD_EINVAL);
    broker_config_op_t bad5[] = {{"cleanup.policy", "compacted", BROKER_CONFIG_APPEND}};
    assert_int_equal(broker_topic_alter_config(f->b, t, bad5, 1, false, false, &why), HD_EINVAL);
    /* validate_only changes nothing either. */
    broker_config_op_t dry[] = {{"segment.ms", "1", BROKER_CONFIG_SET}};
    assert_int_equal(broker_topic_alter_config(f->b, t, dry, 1, false, true, &why), 0);
    assert_int_equal(broker_topic_config(t)->segment_ms, 999);
    /* Growing the topic keeps the altered overrides; a restart finds them all. */
    assert_int_equal(broker_topic_add_partitions(f->b, t, 3, false, &why), 0);
    reopen(f);
    t = broker_topic_find(f->b, "alt");
    assert_int_equal(broker_topic_partitions(t), 3);
    assert_int_equal(broker_topic_config(t)->max_message_bytes, 5000);
    assert_int_equal(broker_topic_config(t)->segment_ms, 999);
    assert_int_equal(broker_topic_config(t)->compression, 3);
    config_value(t, "retention.ms", &dflt);
    assert_true(dflt);
    /* replace (AlterConfigs): unlisted overrides go back to their defaults. */
    broker_config_op_t only[] = {{"retention.bytes", "100000", BROKER_CONFIG_SET}};
    assert_int_equal(broker_topic_alter_config(f->b, t, only, 1, true, false, &why), 0);
    reopen(f);
    t = broker_topic_find(f->b, "alt");
    assert_int_equal(broker_topic_config(t)->retention_bytes, 100000);
    assert_int_equal(broker_topic_config(t)->segment_ms, f->cfg.roll_ms);
    assert_int_equal(broker_topic_config(t)->compression, -1);
    /* Reserved names are never topics. */
    assert_int_equal(broker_topic_create(f->b, "__consumer_offsets", 1, NULL, 0, false, &t, &why),
                     HD_EINVAL);
}

static void test_delete_records_moves_the_start_durably(void **state)
{
    fixture_t *f = *state;
    broker_partition_t *p = make_topic(f, "dr");
    broker_append_t r;
    const char *why = "";
    for (int i = 0; i < 4; i++) {
        make_batch(&f->batch, 5, -1, -1, -1);
        assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why), 0);
    }
    wait_durable(p, 20);
    int64_t low;
    assert_int_equal(broker_partition_delete_records(p, 21, &low), HD_ERANGE);
    assert_int_equal(broker_partition_delete_records(p, 7, &low), 0);
    assert_int_equal(low, 7);
    assert_int_equal(broker_partition_start(p), 7);
    assert_int_equal(broker_partition_delete_records(p, 3, &low), 0);
    assert_int_equal(low, 7);
    hd_buf_t out;
    hd_buf_init(&out);
    assert_int_equal(broker_partition_read(p, 6, 1 << 20, &out), HD_ERANGE);
    assert_true(broker_partition_read(p, 7, 1 << 20, &out) > 0);
    broker_batch_hdr_t h;
    broker_batch_hdr_decode(out.p, &h);
    assert_int_equal(h.base_offset, 5); /* the batch holding offset 7 */
    int64_t off, ts;
    assert_int_equal(broker_partition_offset_for_time(p, 0, &off, &ts), 0);
    assert_int_equal(off, 7);
    reopen(f);
    p = broker_topic_partition(broker_topic_find(f->b, "dr"), 0);
    assert_int_equal(broker_partition_start(p), 7);
    assert_int_equal(broker_partition_delete_records(p, -1, &low), 0);
    assert_int_equal(low, 20);
    reopen(f);
    p = broker_topic_partition(broker_topic_find(f->b, "dr"), 0);
    assert_int_equal(broker_partition_start(p), 20);
    assert_int_equal(broker_partition_end(p), 20);
    hd_buf_deinit(&out);
}

static bool exists(const char *root, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", root, name);
    return access(path, F_OK) == 0;
}

static void test_partition_logs_open_lazily_after_a_clean_shutdown(void **state)
{
    fixture_t *f = *state;
    const char *why = "";
    broker_topic_t *t;
    assert_int_equal(broker_topic_create(f->b, "lazy", 3, NULL, 0, false, &t, &why), 0);
    /* A new partition's log is made on first use. */
    assert_false(exists(f->dir.root, "topics/lazy-1"));
    make_batch(&f->batch, 2, -1, -1, -1);
    broker_append_t r;
    assert_int_equal(broker_partition_append(broker_topic_partition(t, 1), f->batch.p, f->batch.len,
                                             7, &r, &why),
                     0);
    assert_true(exists(f->dir.root, "topics/lazy-1"));
    wait_durable(broker_topic_partition(t, 1), 2);
    assert_false(exists(f->dir.root, "clean-shutdown"));
    broker_close(f->b);
    assert_true(exists(f->dir.root, "clean-shutdown"));
    assert_int_equal(broker_open(&f->cfg, noop_notify, NULL, &f->b), 0);
    /* The marker is consumed at start, so a crash from now on means a full recovery. */
    assert_false(exists(f->dir.root, "clean-shutdown"));
    t = broker_topic_find(f->b, "lazy");
    assert_non_null(t);
    broker_partition_t *p = broker_topic_partition(t, 1);
    assert_int_equal(broker_partition_end(p), 2);
    assert_int_equal(broker_partition_hwm(p), 2);
    assert_int_equal(broker_partition_end(broker_topic_partition(t, 2)), 0);
}

/* ---- waiters ---- */

typedef struct twait {
    broker_waiter_t w;
    int fired, err;
    struct twait *cancel_other;   /* cancelled by this one's callback */
    broker_partition_t *readd_on; /* this one's callback parks `readd` there */
    struct twait *readd;
    fixture_t *delete_topic; /* this one's callback deletes topic "w" */
} twait_t;

static void twait_cb(broker_waiter_t *w, int err)
{
    twait_t *t = w->ctx;
    t->fired++;
    t->err = err;
    if (t->cancel_other)
        broker_waiter_cancel(&t->cancel_other->w);
    if (t->readd)
        broker_waiter_add(t->readd_on, &t->readd->w);
    if (t->delete_topic)
        assert_int_equal(broker_topic_delete(t->delete_topic->b, "w"), 0);
}

static void twait_init(twait_t *t, int64_t target)
{
    memset(t, 0, sizeof *t);
    t->w.target = target;
    t->w.cb = twait_cb;
    t->w.ctx = t;
}

/* Appends records until the partition's high watermark reaches `to`, then fires due waiters. */
static void advance(fixture_t *f, broker_partition_t *p, int64_t to)
{
    const char *why = "";
    broker_append_t r;
    while (broker_partition_end(p) < to) {
        make_batch(&f->batch, 1, -1, 0, 0);
        assert_int_equal(broker_partition_append(p, f->batch.p, f->batch.len, 7, &r, &why), 0);
    }
    wait_durable(p, to);
    broker_on_durable(f->b);
}

/* Thousands of waiters on one partition, parked in mixed order: one durable advance fires
 * exactly the due ones, once each, and leaves the others parked. */
static void test_due_waiters_fire_once_and_the_rest_stay(void **state)
{
    fixture_t *f = *state;
    broker_partition_t *p = make_topic(f, "w");
    enum { N = 3000 };
    twait_t *t = calloc(N, sizeof *t);
    for (int i = 0; i < N; i++) {
        twait_init(&t[i], i % 300 + 1);
        broker_waiter_add(p, &t[i].w);
    }
    advance(f, p, 150);
    for (int i = 0; i < N; i++)
        assert_int_equal(t[i].fired, t[i].w.target <= 150 ? 1 : 0);
    advance(f, p, 300);
    for (int i = 0; i < N; i++)
        assert_int_equal(t[i].fired, 1);
    free(t);
}

/* A callback may cancel another due waiter (it then never fires), park a new one that is not
 * due (it waits for a later advance) or one that is (it fires at once). */
static void test_callbacks_may_cancel_and_park_waiters(void **state)
{
    fixture_t *f = *state;
    broker_partition_t *p = make_topic(f, "w");
    twait_t a, b, c1, c2, d, e, x;
    twait_init(&a, 1);
    twait_init(&b, 1);
    a.cancel_other = &b;
    b.cancel_other = &a;
    twait_init(&c1, 2);
    twait_init(&d, 5);
    c1.readd_on = p;
    c1.readd = &d;
    twait_init(&c2, 1);
    twait_init(&e, 1);
    c2.readd_on = p;
    c2.readd = &e;
    twait_init(&x, 100);
    /* a and b are neighbours, so the first to fire cancels the waiter the walk visits next. */
    twait_t *all[] = {&x, &c1, &a, &b, &c2};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        broker_waiter_add(p, &all[i]->w);
    advance(f, p, 2);
    assert_int_equal(a.fired + b.fired, 1); /* whichever fired first cancelled the other */
    assert_int_equal(c1.fired, 1);
    assert_int_equal(c2.fired, 1);
    assert_int_equal(e.fired, 1);
    assert_int_equal(d.fired, 0);
    assert_int_equal(x.fired, 0);
    advance(f, p, 5);
    assert_int_equal(d.fired, 1);
    assert_int_equal(x.fired, 0);
    assert_int_equal(a.fired + b.fired, 1);
    broker_waiter_cancel(&x.w);
}

/* A callback may delete the topic: the waiters not fired yet get HD_ENOTFOUND, every waiter
 * fires exactly once, and nothing touches the freed partition (AddressSanitizer). */
static void test_callback_may_delete_the_topic(void **state)
{
    fixture_t *f = *state;
    broker_partition_t *p = make_topic(f, "w");
    twait_t k, m1, m2, n;
    twait_init(&k, 1);
    k.delete_topic = f;
    twait_init(&m1, 1);
    twait_init(&m2, 1);
    twait_init(&n, 50);
    broker_waiter_add(p, &m1.w);
    broker_waiter_add(p, &k.w);
    broker_waiter_add(p, &n.w);
    broker_waiter_add(p, &m2.w);
    advance(f, p, 1);
    twait_t *all[] = {&k, &m1, &m2, &n};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        assert_int_equal(all[i]->fired, 1);
    assert_int_equal(k.err, 0);
    assert_int_equal(n.err, HD_ENOTFOUND);
    assert_null(broker_topic_find(f->b, "w"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_batch_passes_and_bad_crc_is_corrupt),
        cmocka_unit_test(test_count_mismatch_and_control_batches_are_invalid),
        cmocka_unit_test(test_gzip_batch_inflates_to_the_same_records),
        cmocka_unit_test_setup_teardown(test_thousands_of_producers_keep_their_state_across_restart,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired_producer_starts_afresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alter_config_is_all_or_nothing_and_durable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_delete_records_moves_the_start_durably, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_spares_the_log_scan_and_carries_state_forward,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_rebuild_is_retried_not_half_kept, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_idempotent_retry_returns_original_offset, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sequence_gap_and_stale_epoch_are_rejected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_retry_after_restart_is_still_deduplicated, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_batch_over_max_message_bytes_is_too_large, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_topic_create_rules_and_persistence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offset_for_time_finds_first_record_at_or_after, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_partition_logs_open_lazily_after_a_clean_shutdown,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_due_waiters_fire_once_and_the_rest_stay, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_callbacks_may_cancel_and_park_waiters, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_callback_may_delete_the_topic, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
