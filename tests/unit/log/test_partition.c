/* Partition log: append, read limits, rolls, indexes, time lookup, retention, reopen, faults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "log/batch_builder.h"
#include "log/log.h"
#include "util/err.h"
#include "util/fileio.h"
#include "util/say.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Appends a batch of nrec records with the given timestamps; returns its base offset. */
static int64_t append_one(log_partition_t *p, int nrec, int64_t ts, size_t vlen)
{
    hd_buf_t b;
    hd_buf_init(&b);
    bb_build(&b, nrec, ts, ts + nrec - 1, vlen);
    int64_t base = -1;
    assert_int_equal(log_partition_append(p, b.p, b.len, &base), 0);
    assert_int_equal(bb_get_i64(b.p), base);
    hd_buf_deinit(&b);
    return base;
}

static log_partition_t *open_part(bb_dir_t *d, const log_config_t *cfg)
{
    log_partition_t *p = NULL;
    assert_int_equal(log_partition_open(d->part, cfg, &p), 0);
    return p;
}

static void test_append_assigns_offsets_and_read_returns_same_bytes(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    log_partition_t *p = open_part(&d, &cfg);
    hd_buf_t b, out;
    hd_buf_init(&b);
    hd_buf_init(&out);
    bb_build(&b, 3, 1000, 1002, 10);
    int64_t base;
    assert_int_equal(log_partition_append(p, b.p, b.len, &base), 0);
    assert_int_equal(base, 0);
    size_t first_len = b.len;
    bb_build(&b, 2, 2000, 2001, 10);
    assert_int_equal(log_partition_append(p, b.p + first_len, b.len - first_len, &base), 0);
    assert_int_equal(base, 3);
    assert_int_equal(bb_get_i64(b.p + first_len), 3);
    assert_int_equal(log_partition_end_offset(p), 5);
    assert_int_equal(log_partition_read(p, 0, 5, 1 << 20, &out), (ssize_t)b.len);
    assert_memory_equal(out.p, b.p, b.len);
    assert_int_equal(log_partition_size_bytes(p), (int64_t)b.len);
    hd_buf_deinit(&b);
    hd_buf_deinit(&out);
    log_partition_close(p);
    bb_dir_remove(&d);
}

static void test_read_from_mid_batch_offset_returns_containing_batch(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    log_partition_t *p = open_part(&d, &cfg);
    append_one(p, 5, 0, 8);
    append_one(p, 5, 0, 8);
    hd_buf_t out;
    hd_buf_init(&out);
    assert_true(log_partition_read(p, 7, 10, 1 << 20, &out) > 0);
    assert_int_equal(bb_get_i64(out.p), 5);
    assert_int_equal(out.len, (size_t)bb_get_i32(out.p + 8) + 12);
    hd_buf_deinit(&out);
    log_partition_close(p);
    bb_dir_remove(&d);
}

static void test_read_excludes_batches_at_or_above_max_offset(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    log_partition_t *p = open_part(&d, &cfg);
    for (int i = 0; i < 4; i++)
        append_one(p, 2, 0, 8);
    hd_buf_t out;
    hd_buf_init(&out);
    ssize_t n = log_partition_read(p, 0, 4, 1 << 20, &out);
    assert_true(n > 0);
    /* Batches 0-1 and 2-3 only. */
    size_t first = (size_t)bb_get_i32(out.p + 8) + 12;
    assert_int_equal(bb_get_i64(out.p + first), 2);
    assert_int_equal((size_t)n, first + (size_t)bb_get_i32(out.p + first + 8) + 12);
    hd_buf_reset(&out);
    assert_int_equal(log_partition_read(p, 4, 4, 1 << 20, &out), 0);
    assert_int_equal(log_partition_read(p, 8, 100, 1 << 20, &out), 0);
    hd_buf_deinit(&out);
    log_partition_close(p);
    bb_dir_remove(&d);
}

static void test_read_stops_at_max_bytes_but_first_batch_whole(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    log_partition_t *p = open_part(&d, &cfg);
    for (int i = 0; i < 3; i++)
        append_one(p, 1, 0, 500);
    hd_buf_t out;
    hd_buf_init(&out);
    ssize_t n = log_partition_read(p, 0, 3, 10, &out);
    assert_true(n > 500);
    assert_int_equal((size_t)n, (size_t)bb_get_i32(out.p + 8) + 12);
    hd_buf_reset(&out);
    n = log_partition_read(p, 0, 3, (size_t)n * 2 + 1, &out);
    assert_int_equal(bb_get_i64(out.p + (size_t)n / 2), 1);
    assert_int_equal((size_t)n % 2, 0); /* exactly two equal-size batches */
    hd_buf_deinit(&out);
    log_partition_close(p);
    bb_dir_remove(&d);
}

static void test_read_outside_log_returns_erange(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    log_partition_t *p = open_part(&d, &cfg);
    append_one(p, 2, 0, 8);
    hd_buf_t out;
    hd_buf_init(&out);
    assert_int_equal(log_partition_read(p, 3, 3, 100, &out), HD_ERANGE);
    assert_int_equal(log_partition_read(p, -1, 3, 100, &out), HD_ERANGE);
    assert_int_equal(log_partition_read(p, 2, 2, 100, &out), 0);
    hd_buf_deinit(&out);
    log_partition_close(p);
    bb_dir_remove(&d);
}

static void test_append_rejects_malformed_and_too_big(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.segment_bytes = 1024;
    log_partition_t *p = open_part(&d, &cfg);
    hd_buf_t b;
    hd_buf_init(&b);
    bb_build(&b, 1, 0, 0, 2000);
    int64_t base;
    assert_int_equal(log_partition_append(p, b.p, b.len, &base), HD_ETOOBIG);
    assert_int_equal(log_partition_append(p, b.p, 30, &base), HD_EMALFORMED);
    b.p[16] = 1;
    assert_int_equal(log_partition_append(p, b.p, b.len, &base), HD_EMALFORMED);
    assert_int_equal(log_partition_end_offset(p), 0);
    hd_buf_deinit(&b);
    log_partition_close(p);
    bb_dir_remove(&d);
}

static void test_roll_by_size_starts_new_segment(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.segment_bytes = 2000;
    log_partition_t *p = open_part(&d, &cfg);
    for (int i = 0; i < 10; i++)
        append_one(p, 1, 0, 400);
    assert_true(log_partition_segment_count(p) >= 3);
    char path[128];
    snprintf(path, sizeof path, "%s/%020d.log", d.part, 4);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size <= 2000);
    log_partition_close(p);
    bb_dir_remove(&d);
}

static void test_roll_by_age_starts_new_segment(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.segment_ms = 1000;
    log_partition_t *p = open_part(&d, &cfg);
    /* 1970 timestamps, far older than segment_ms: what counts is how far a batch's timestamp
     * is past the segment's first one, as in Kafka, so a backfill does not roll per batch. */
    append_one(p, 1, 1000, 8);
    append_one(p, 1, 1500, 8);
    append_one(p, 1, 2000, 8); /* exactly segment_ms after the first: not yet */
    assert_int_equal(log_partition_segment_count(p), 1);
    append_one(p, 1, 2001, 8);
    assert_int_equal(log_partition_segment_count(p), 2);
    append_one(p, 1, 2500, 8);
    assert_int_equal(log_partition_segment_count(p), 2);
    /* Timestamps a client may send at the extremes neither roll nor overflow the difference. */
    append_one(p, 1, INT64_MIN, 8);
    append_one(p, 1, -5, 8);
    assert_int_equal(log_partition_segment_count(p), 2);
    /* After a restart the first batch's timestamp is read back from the segment. */
    log_partition_close(p);
    p = open_part(&d, &cfg);
    append_one(p, 1, 3001, 8);
    assert_int_equal(log_partition_segment_count(p), 2);
    append_one(p, 1, 3002, 8);
    assert_int_equal(log_partition_segment_count(p), 3);
    log_partition_close(p);
    bb_dir_remove(&d);
}

static void test_roll_by_age_without_timestamps_uses_the_wall_clock(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.segment_ms = 100;
    log_partition_t *p = open_part(&d, &cfg);
    append_one(p, 1, -1, 8);
    append_one(p, 1, -1, 8);
    assert_int_equal(log_partition_segment_count(p), 1);
    usleep(200 * 1000);
    append_one(p, 1, -1, 8);
    assert_int_equal(log_partition_segment_count(p), 2);
    log_partition_close(p);
    bb_dir_remove(&d);
}

static void test_read_at_every_offset_across_segments_finds_containing_batch(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.segment_bytes = 8192;
    cfg.index_interval_bytes = 300;
    log_partition_t *p = open_part(&d, &cfg);
    int64_t bases[200];
    for (int i = 0; i < 200; i++)
        bases[i] = append_one(p, 1 + i % 4, i, 20 + (i * 7) % 90);
    assert_true(log_partition_segment_count(p) > 3);
    int64_t leo = log_partition_end_offset(p);
    hd_buf_t out;
    hd_buf_init(&out);
    for (int round = 0; round < 2; round++) {
        int bi = 0;
        for (int64_t off = 0; off < leo; off++) {
            while (bi + 1 < 200 && bases[bi + 1] <= off)
                bi++;
            hd_buf_reset(&out);
            assert_true(log_partition_read(p, off, leo, 1, &out) > 0);
            assert_int_equal(bb_get_i64(out.p), bases[bi]);
        }
        /* Second round after a clean reopen: indexes loaded from disk. */
        log_partition_close(p);
        p = open_part(&d, &cfg);
    }
    hd_buf_deinit(&out);
    log_partition_close(p);
    bb_dir_remove(&d);
}

static void test_max_time_is_largest_batch_timestamp_below_max_offset(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.segment_bytes = 4096;
    cfg.index_interval_bytes = 200;
    log_partition_t *p = open_part(&d, &cfg);
    int64_t ts = -1;
    assert_int_equal(log_partition_max_time(p, 200, &ts), HD_ENOTFOUND);
    /* Batch i holds offsets 2i, 2i+1 with maxTimestamp 1001 + 10 i, except a peak at batch 37. */
    for (int i = 0; i < 100; i++)
        append_one(p, 2, i == 37 ? 90000 : 1000 + i * 10, 40);
    assert_true(log_partition_segment_count(p) > 3);
    for (int round = 0; round < 2; round++) {
        assert_int_equal(log_partition_max_time(p, 200, &ts), 0);
        assert_int_equal(ts, 90001);
        /* Bounded by max_offset, also inside a segment and inside the last one. */
        assert_int_equal(log_partition_max_time(p, 74, &ts), 0);
        assert_int_equal(ts, 1361);
        assert_int_equal(log_partition_max_time(p, 75, &ts), 0);
        assert_int_equal(ts, 90001);
        assert_int_equal(log_partition_max_time(p, 1, &ts), 0);
        assert_int_equal(ts, 1001);
        assert_int_equal(log_partition_max_time(p, 0, &ts), HD_ENOTFOUND);
        log_partition_close(p);
        p = open_part(&d, &cfg);
    }
    log_partition_close(p);
    bb_dir_remove(&d);
}

static void test_find_time_returns_first_batch_with_max_timestamp_at_or_after(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.segment_bytes = 4096;
    cfg.index_interval_bytes = 200;
    log_partition_t *p = open_part(&d, &cfg);
    for (int i = 0; i < 100; i++)
        append_one(p, 2, 1000 + i * 10, 40); /* maxTimestamp = 1001 + 10 i */
    hd_buf_t out;
    hd_buf_init(&out);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 100; i++) {
            int64_t base = -1;
            hd_buf_reset(&out);
            assert_int_equal(log_partition_find_time(p, 1001 + i * 10, 200, &base, &out), 0);
            assert_int_equal(base, 2 * i);
            assert_int_equal(bb_get_i64(out.p), 2 * i);
            hd_buf_reset(&out);
            assert_int_equal(log_partition_find_time(p, 1002 + i * 10 - 10, 200, &base, &out), 0);
            assert_int_equal(base, 2 * i);
        }
        log_partition_close(p);
        p = open_part(&d, &cfg);
    }
    int64_t base;
    assert_int_equal(log_partition_find_time(p, 5000, 200, &base, &out), HD_ENOTFOUND);
    assert_int_equal(log_partition_find_time(p, 1500, 20, &base, &out), HD_ENOTFOUND);
    hd_buf_deinit(&out);
    log_partition_close(p);
    bb_dir_remove(&d);
}

static int count_cb(void *ctx, const uint8_t hdr[61], int64_t base)
{
    int64_t *c = ctx;
    assert_int_equal(bb_get_i64(hdr), base);
    c[0]++;
    c[1] = base;
    return 0;
}

static void test_scan_visits_every_batch_from_offset(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.segment_bytes = 1000;
    log_partition_t *p = open_part(&d, &cfg);
    for (int i = 0; i < 20; i++)
        append_one(p, 3, 0, 50);
    int64_t c[2] = {0, 0};
    assert_int_equal(log_partition_scan(p, 31, -1, count_cb, c), 0);
    assert_int_equal(c[0], 9); /* bases 33..57 */
    assert_int_equal(c[1], 57);
    log_partition_close(p);
    bb_dir_remove(&d);
}

/* Records every base offset the scan reports, to check order and completeness. */
typedef struct scan_log {
    int64_t bases[512];
    int n;
} scan_log_t;

static int log_cb(void *ctx, const uint8_t hdr[61], int64_t base)
{
    scan_log_t *l = ctx;
    assert_int_equal(bb_get_i64(hdr), base);
    assert_true(l->n < 512);
    l->bases[l->n++] = base;
    return 0;
}

static void test_scan_reads_headers_across_chunk_edges_and_past_big_batches(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    log_partition_t *p = open_part(&d, &cfg);
    /* Batches of several sizes, so headers straddle the 64 KiB read boundaries, with batches
     * bigger than one read in between. */
    int64_t want[300];
    int n = 0;
    for (int i = 0; i < 300; i++) {
        size_t vlen = i % 50 == 7 ? 150000 : 300 + (size_t)(i * 37) % 900;
        want[n++] = append_one(p, 1 + i % 3, 1000 + i, vlen);
    }
    scan_log_t l = {.n = 0};
    assert_int_equal(log_partition_scan(p, 0, -1, log_cb, &l), 0);
    assert_int_equal(l.n, n);
    for (int i = 0; i < n; i++)
        assert_int_equal(l.bases[i], want[i]);
    /* From the middle: exactly the batches that start at or after the offset. */
    l.n = 0;
    assert_int_equal(log_partition_scan(p, want[150], -1, log_cb, &l), 0);
    assert_int_equal(l.n, n - 150);
    assert_int_equal(l.bases[0], want[150]);
    log_partition_close(p);
    bb_dir_remove(&d);
}

static void test_scan_skips_inactive_segments_older_than_min_ts(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.segment_bytes = 600;
    log_partition_t *p = open_part(&d, &cfg);
    /* Timestamps 1000.. then 5000..: the old batches fill whole segments of their own. */
    for (int i = 0; i < 6; i++)
        append_one(p, 2, 1000 + i, 100);
    for (int i = 0; i < 6; i++)
        append_one(p, 2, 5000 + i, 100);
    assert_true(log_partition_segment_count(p) >= 4);
    scan_log_t l = {.n = 0};
    assert_int_equal(log_partition_scan(p, 0, 4000, log_cb, &l), 0);
    assert_int_equal(l.n, 6);
    assert_int_equal(l.bases[0], 12);
    /* The active segment is always scanned, however old its batches. */
    l.n = 0;
    assert_int_equal(log_partition_scan(p, 0, 999999, log_cb, &l), 0);
    assert_true(l.n >= 1);
    assert_int_equal(l.bases[l.n - 1], 22);
    /* min_ts -1 skips nothing. */
    l.n = 0;
    assert_int_equal(log_partition_scan(p, 0, -1, log_cb, &l), 0);
    assert_int_equal(l.n, 12);
    /* Old segments after a recent one are scanned: the batches seen stay a suffix of the log,
     * so a producer's newest batches are never skipped while its older ones are seen. */
    for (int i = 0; i < 6; i++)
        append_one(p, 2, 1100 + i, 100);
    l.n = 0;
    assert_int_equal(log_partition_scan(p, 0, 4000, log_cb, &l), 0);
    assert_int_equal(l.n, 12);
    assert_int_equal(l.bases[0], 12);
    assert_int_equal(l.bases[11], 34);
    log_partition_close(p);
    bb_dir_remove(&d);
}

static void test_retention_by_time_deletes_old_inactive_segments(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.segment_bytes = 600;
    cfg.retention_ms = 1000;
    log_partition_t *p = open_part(&d, &cfg);
    for (int i = 0; i < 6; i++)
        append_one(p, 1, 10000, 400); /* one batch per segment, old */
    for (int i = 0; i < 3; i++)
        append_one(p, 1, 50000, 400); /* recent */
    assert_int_equal(log_partition_segment_count(p), 9);
    assert_int_equal(log_partition_apply_retention(p, 50500), 6);
    assert_int_equal(log_partition_start_offset(p), 6);
    assert_int_equal(log_partition_segment_count(p), 3);
    char path[128];
    snprintf(path, sizeof path, "%s/%020d.log", d.part, 0);
    assert_int_equal(access(path, F_OK), -1);
    /* Everything expired: the active segment stays. */
    assert_int_equal(log_partition_apply_retention(p, 1000000), 2);
    assert_int_equal(log_partition_start_offset(p), 8);
    hd_buf_t out;
    hd_buf_init(&out);
    assert_int_equal(log_partition_read(p, 2, 9, 100, &out), HD_ERANGE);
    hd_buf_deinit(&out);
    log_partition_close(p);
    /* Retention after reopen reads segment max timestamps from the time index. */
    p = open_part(&d, &cfg);
    assert_int_equal(log_partition_start_offset(p), 8);
    log_partition_close(p);
    bb_dir_remove(&d);
}

static void test_retention_by_time_after_reopen_uses_time_index(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.segment_bytes = 600;
    cfg.retention_ms = 1000;
    log_partition_t *p = open_part(&d, &cfg);
    for (int i = 0; i < 4; i++)
        append_one(p, 1, 10000 + i * 10000, 400);
    log_partition_close(p);
    p = open_part(&d, &cfg);
    assert_int_equal(log_partition_apply_retention(p, 31500), 3);
    assert_int_equal(log_partition_start_offset(p), 3);
    log_partition_close(p);
    bb_dir_remove(&d);
}

static void test_retention_by_size_deletes_oldest_while_rest_exceeds_limit(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.segment_bytes = 600;
    cfg.retention_bytes = 1500;
    log_partition_t *p = open_part(&d, &cfg);
    for (int i = 0; i < 8; i++)
        append_one(p, 1, 0, 400);
    /* As Kafka: a segment goes only if the rest still holds at least retention_bytes. */
    int64_t seg = log_partition_size_bytes(p) / 8;
    int removed = log_partition_apply_retention(p, 0);
    assert_true(removed > 0);
    assert_true(log_partition_size_bytes(p) >= 1500);
    assert_true(log_partition_size_bytes(p) - seg < 1500);
    assert_int_equal(log_partition_start_offset(p), removed);
    cfg.retention_bytes = 0;
    log_partition_close(p);
    p = open_part(&d, &cfg);
    log_partition_apply_retention(p, 0);
    assert_int_equal(log_partition_segment_count(p), 1); /* the active one stays */
    assert_int_equal(log_partition_end_offset(p), 8);
    log_partition_close(p);
    bb_dir_remove(&d);
}

static void test_reopen_after_clean_close_keeps_batches_and_end_offset(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.segment_bytes = 1500;
    log_partition_t *p = open_part(&d, &cfg);
    for (int i = 0; i < 10; i++)
        append_one(p, 2, i, 100);
    hd_buf_t before, after;
    hd_buf_init(&before);
    hd_buf_init(&after);
    log_partition_read(p, 0, 20, 1 << 20, &before);
    int64_t size = log_partition_size_bytes(p);
    log_partition_close(p);
    p = open_part(&d, &cfg);
    assert_int_equal(log_partition_end_offset(p), 20);
    assert_int_equal(log_partition_durable_offset(p), 20);
    assert_int_equal(log_partition_size_bytes(p), size);
    log_partition_read(p, 0, 20, 1 << 20, &after);
    assert_int_equal(after.len, before.len);
    assert_memory_equal(after.p, before.p, before.len);
    assert_int_equal(append_one(p, 1, 0, 10), 20);
    hd_buf_deinit(&before);
    hd_buf_deinit(&after);
    log_partition_close(p);
    bb_dir_remove(&d);
}

static size_t pread_bytes;
static ssize_t counting_pread(int fd, void *buf, size_t n, off_t off)
{
    ssize_t r = hd_fileio_default.pread(fd, buf, n, off);
    if (r > 0)
        pread_bytes += (size_t)r;
    return r;
}

/* Opens the partition log in dir and returns the bytes the open read (a scan shows up there;
 * a clean open reads only its marker). */
static size_t open_counting_reads(const char *dir, const log_config_t *cfg, log_partition_t **p)
{
    pread_bytes = 0;
    hd_io.pread = counting_pread;
    int rc = log_partition_open(dir, cfg, p);
    hd_io = hd_fileio_default;
    assert_int_equal(rc, 0);
    return pread_bytes;
}

static int preads_before_eio; /* eio_pread fails once this reaches 0 */

static ssize_t eio_pread(int fd, void *buf, size_t n, off_t off)
{
    if (preads_before_eio-- <= 0)
        return -EIO;
    return hd_fileio_default.pread(fd, buf, n, off);
}

/* Reads the whole partition and checks it holds batches with bases 0, 2, 4, ... (2 records
 * each) up to `end`, each with its original value bytes. */
static void check_pairs(log_partition_t *p, int64_t end)
{
    hd_buf_t out;
    hd_buf_init(&out);
    int64_t next = 0;
    while (next < end) {
        hd_buf_reset(&out);
        ssize_t n = log_partition_read(p, next, end, 1 << 20, &out);
        assert_true(n > 0);
        for (size_t at = 0; at < out.len;) {
            assert_int_equal(bb_get_i64(out.p + at), next);
            at += 12 + (size_t)bb_get_i32(out.p + at + 8);
            next += 2;
        }
    }
    assert_int_equal(next, end);
    hd_buf_deinit(&out);
}

static void test_failed_index_rebuild_keeps_the_data_and_the_append_position(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.index_interval_bytes = 300;
    log_partition_t *p = open_part(&d, &cfg);
    for (int i = 0; i < 60; i++)
        append_one(p, 2, 1000 + i, 100);
    log_partition_close(p);
    /* A short index file: the next load finds the index invalid and rebuilds it. */
    char path[512];
    snprintf(path, sizeof path, "%s/%020d.index", d.part, 0);
    assert_int_equal(truncate(path, 4), 0);
    p = open_part(&d, &cfg);
    assert_int_equal(log_partition_end_offset(p), 120);
    /* The rebuild fails part-way with EIO: the read fails... */
    hd_buf_t out;
    hd_buf_init(&out);
    preads_before_eio = 8;
    hd_io.pread = eio_pread;
    ssize_t n = log_partition_read(p, 100, 120, 1 << 20, &out);
    hd_io = hd_fileio_default;
    assert_int_equal(n, -EIO);
    hd_buf_deinit(&out);
    /* ...but the segment still ends where it did: the next batch goes after the others instead
     * of over the first ones, and everything reads back, now and after a restart. */
    assert_int_equal(append_one(p, 2, 2000, 100), 120);
    check_pairs(p, 122);
    log_partition_close(p);
    p = open_part(&d, &cfg);
    check_pairs(p, 122);
    log_partition_close(p);
    bb_dir_remove(&d);
}

static void test_open_after_clean_close_reads_no_segment_data(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.segment_bytes = 64 * 1024;
    cfg.preallocate = true;
    log_partition_t *p = open_part(&d, &cfg);
    for (int i = 0; i < 300; i++)
        append_one(p, 1, i, 1000);
    log_partition_close(p);
    assert_true(open_counting_reads(d.part, &cfg, &p) < 128); /* the marker only, no scan */
    assert_int_equal(log_partition_end_offset(p), 300);
    assert_int_equal(append_one(p, 1, 0, 10), 300);
    log_partition_close(p);
    bb_dir_remove(&d);
}

/* Each clean close rewrites the same marker file in place (no new file per shutdown), and the
 * marker always describes the latest close. */
static void test_marker_is_rewritten_in_place(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    char marker[200];
    snprintf(marker, sizeof marker, "%s/clean-shutdown", d.part);
    log_partition_t *p = open_part(&d, &cfg);
    for (int i = 0; i < 4; i++)
        append_one(p, 2, i, 100);
    log_partition_close(p);
    struct stat st1, st2;
    assert_int_equal(stat(marker, &st1), 0);
    assert_int_equal(st1.st_size, 68);
    assert_true(open_counting_reads(d.part, &cfg, &p) < 128);
    assert_int_equal(log_partition_end_offset(p), 8);
    for (int i = 0; i < 3; i++)
        append_one(p, 1, i, 100);
    log_partition_close(p);
    assert_int_equal(stat(marker, &st2), 0);
    assert_int_equal(st2.st_ino, st1.st_ino);
    assert_int_equal(st2.st_size, 68);
    assert_true(open_counting_reads(d.part, &cfg, &p) < 128); /* trusted: no scan */
    assert_int_equal(log_partition_end_offset(p), 11);
    log_partition_close(p);
    bb_dir_remove(&d);
}

/* A marker torn by a crash during its write fails its CRC: the next open scans every batch and
 * finds the whole log, exactly as without a marker. */
static void test_torn_marker_means_a_full_scan(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    log_partition_t *p = open_part(&d, &cfg);
    for (int i = 0; i < 5; i++)
        append_one(p, 1, i, 200);
    log_partition_close(p);
    char marker[200];
    snprintf(marker, sizeof marker, "%s/clean-shutdown", d.part);
    int fd = open(marker, O_WRONLY);
    assert_true(fd >= 0);
    /* end_offset (bytes 16-23) half rewritten, the CRC left as it was */
    assert_int_equal(pwrite(fd, "\0\0\0\x7f", 4, 16), 4);
    close(fd);
    assert_true(open_counting_reads(d.part, &cfg, &p) > 5 * 200); /* every batch scanned */
    assert_int_equal(log_partition_end_offset(p), 5);
    hd_buf_t out;
    hd_buf_init(&out);
    assert_true(log_partition_read(p, 0, 5, SIZE_MAX, &out) > 5 * 200);
    hd_buf_deinit(&out);
    log_partition_close(p);
    bb_dir_remove(&d);
}

/* Closing many partitions at once (one syncfs) leaves each one exactly as a close of its own:
 * preallocation trimmed, clean marker written, so the reopen reads no segment data. */
static void test_close_many_marks_every_partition_clean(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.preallocate = true;
    enum { N = 3 };
    char dirs[N][160];
    log_partition_t *v[N + 1];
    int64_t sizes[N];
    int64_t now = (int64_t)time(NULL) * 1000;
    for (int i = 0; i < N; i++) {
        snprintf(dirs[i], sizeof dirs[i], "%s/p%d", d.root, i);
        assert_int_equal(log_partition_open(dirs[i], &cfg, &v[i]), 0);
        for (int k = 0; k <= 10 * i; k++)
            append_one(v[i], 2, now, 300);
        sizes[i] = log_partition_size_bytes(v[i]);
    }
    v[N] = NULL; /* skipped */
    log_partition_close_many(v, N + 1);
    for (int i = 0; i < N; i++) {
        char path[200];
        snprintf(path, sizeof path, "%s/%020d.log", dirs[i], 0);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_size, sizes[i]); /* trimmed to the data */
        log_partition_t *p = NULL;
        assert_true(open_counting_reads(dirs[i], &cfg, &p) < 128); /* the marker only, no scan */
        assert_int_equal(log_partition_end_offset(p), 2 * (10 * i + 1));
        hd_buf_t out;
        hd_buf_init(&out);
        assert_int_equal(log_partition_read(p, 0, 1000, SIZE_MAX, &out), sizes[i]);
        hd_buf_deinit(&out);
        log_partition_close(p);
    }
    log_partition_close_many(v, 0);
    bb_dir_remove(&d);
}

static int failing_ftruncate(int fd, off_t len)
{
    (void)fd;
    (void)len;
    return -EIO;
}

/* A partition whose close cannot be prepared (the trim fails) is closed on its own and left
 * without a marker, so its next open scans it; the others still close cleanly. */
static void test_close_many_leaves_a_failed_partition_unclean(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg, plain;
    log_config_defaults(&cfg);
    cfg.preallocate = true; /* has a tail to trim */
    log_config_defaults(&plain);
    char dirs[2][160];
    log_partition_t *v[2];
    int64_t now = (int64_t)time(NULL) * 1000;
    for (int i = 0; i < 2; i++) {
        snprintf(dirs[i], sizeof dirs[i], "%s/p%d", d.root, i);
        assert_int_equal(log_partition_open(dirs[i], i == 0 ? &cfg : &plain, &v[i]), 0);
        for (int k = 0; k < 5; k++)
            append_one(v[i], 1, now, 200);
    }
    hd_io.ftruncate = failing_ftruncate;
    log_partition_close_many(v, 2);
    hd_io = hd_fileio_default;
    for (int i = 0; i < 2; i++) {
        log_partition_t *p = NULL;
        size_t read = open_counting_reads(dirs[i], &plain, &p);
        if (i == 0)
            assert_true(read > 5 * 200); /* no marker: every batch scanned */
        else
            assert_true(read < 128); /* the marker only */
        assert_int_equal(log_partition_end_offset(p), 5);
        log_partition_close(p);
    }
    bb_dir_remove(&d);
}

static int pread_calls;
static ssize_t counting_pread_calls(int fd, void *buf, size_t n, off_t off)
{
    pread_calls++;
    return hd_fileio_default.pread(fd, buf, n, off);
}

/* A consumer following the log starts where its last read stopped, not at the last index entry:
 * with no index entries at all, reading the next batch must not walk the segment from its start
 * (which made fetches at the tail take milliseconds with a large log.index.interval.bytes). */
static void test_read_after_read_starts_where_the_last_one_stopped(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.index_interval_bytes = 1000000000;
    log_partition_t *p = open_part(&d, &cfg);
    int64_t now = (int64_t)time(NULL) * 1000;
    for (int i = 0; i < 200; i++)
        append_one(p, 1, now, 100);
    hd_buf_t out;
    hd_buf_init(&out);
    int64_t off = 0;
    int reads = 0;
    while (off < 200) {
        hd_buf_reset(&out);
        pread_calls = 0;
        hd_io.pread = counting_pread_calls;
        ssize_t n = log_partition_read(p, off, 200, 10 * 170, &out);
        hd_io = hd_fileio_default;
        assert_true(n > 0);
        assert_int_equal(bb_get_i64(out.p), off); /* exactly the wanted batch first */
        if (off > 0)
            assert_true(pread_calls <= 2); /* its header, then the batches */
        /* Continue from the end of what was returned. */
        size_t at = 0;
        int64_t last = -1;
        while (at < (size_t)n) {
            last = bb_get_i64(out.p + at);
            at += 12 + (size_t)bb_get_i32(out.p + at + 8);
        }
        assert_int_equal(at, (size_t)n);
        off = last + 1;
        reads++;
    }
    assert_true(reads >= 10);
    /* A reader behind the hint still finds its batch, through the index. */
    hd_buf_reset(&out);
    assert_true(log_partition_read(p, 5, 200, 1, &out) > 0);
    assert_int_equal(bb_get_i64(out.p), 5);
    hd_buf_deinit(&out);
    log_partition_close(p);
    bb_dir_remove(&d);
}

static void test_preallocated_segment_is_trimmed_on_clean_close(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.segment_bytes = 1 << 20;
    cfg.preallocate = true;
    log_partition_t *p = open_part(&d, &cfg);
    int64_t now = (int64_t)time(NULL) * 1000; /* recent, so no roll by age */
    append_one(p, 1, now, 10);
    int64_t size = log_partition_size_bytes(p);
    char path[128];
    snprintf(path, sizeof path, "%s/%020d.log", d.part, 0);
    struct stat st;
    /* Space is allocated ahead of the data in growing steps, never the whole segment at once. */
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > size);
    assert_true(st.st_size < 1 << 20);
    for (int i = 0; i < 200; i++)
        append_one(p, 1, now, 1000);
    assert_int_equal(log_partition_segment_count(p), 1);
    size = log_partition_size_bytes(p);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size >= size);
    assert_true(st.st_size <= 1 << 20);
    log_partition_close(p);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, size);
    bb_dir_remove(&d);
}

/* Whether [from, to) of the file is all written extents (no hole, no unwritten extent): 1 or 0;
 * -1 when the filesystem cannot tell (no FIEMAP). */
static int range_written(const char *path, int64_t from, int64_t to)
{
    enum { NEXT = 256 };
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    struct fiemap *fm = calloc(1, sizeof *fm + NEXT * sizeof(struct fiemap_extent));
    fm->fm_start = (uint64_t)from;
    fm->fm_length = (uint64_t)(to - from);
    fm->fm_flags = FIEMAP_FLAG_SYNC;
    fm->fm_extent_count = NEXT;
    int rc = ioctl(fd, FS_IOC_FIEMAP, fm) < 0 ? -1 : 0;
    close(fd);
    int64_t at = from;
    for (unsigned i = 0; rc == 0 && i < fm->fm_mapped_extents && at < to; i++) {
        const struct fiemap_extent *e = &fm->fm_extents[i];
        if ((int64_t)e->fe_logical > at || (e->fe_flags & FIEMAP_EXTENT_UNWRITTEN))
            break;
        at = (int64_t)(e->fe_logical + e->fe_length);
    }
    free(fm);
    return rc < 0 ? -1 : at >= to;
}

static int64_t elapsed_ms(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Appends 8 KiB batches, `per_ms` apart (0: back to back), `bytes` in all, then waits until a
 * second has passed since the first and appends `after` more, so the partition knows its rate. */
static void append_at_rate(log_partition_t *p, int64_t bytes, int per_ms, int after)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int64_t now = (int64_t)time(NULL) * 1000; /* recent, so no roll by age */
    for (int64_t n = 0; n < bytes; n += 8192) {
        append_one(p, 1, now, 8000);
        if (per_ms)
            usleep((useconds_t)per_ms * 1000);
    }
    while (elapsed_ms(&t0) < 1050)
        usleep(10 * 1000);
    for (int i = 0; i < after; i++)
        append_one(p, 1, now, 8000);
}

static void check_reopen_keeps_every_batch(bb_dir_t *d, const log_config_t *cfg, log_partition_t *p)
{
    int64_t leo = log_partition_end_offset(p), size = log_partition_size_bytes(p);
    hd_buf_t out;
    hd_buf_init(&out);
    assert_int_equal(log_partition_read(p, 0, leo, SIZE_MAX, &out), size);
    log_partition_close_dirty(p); /* the zeros past the data stay in the file */
    p = open_part(d, cfg);
    assert_int_equal(log_partition_end_offset(p), leo);
    assert_int_equal(log_partition_size_bytes(p), size);
    assert_int_equal(append_one(p, 1, (int64_t)time(NULL) * 1000, 10), leo);
    assert_int_equal(log_partition_segment_count(p), 1);
    hd_buf_deinit(&out);
    log_partition_close(p);
}

/* range_written() on the first segment of d's partition; when the filesystem cannot tell, closes
 * p, removes d and skips the test. */
static int first_segment_written(bb_dir_t *d, log_partition_t *p, int64_t from, int64_t to)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%020d.log", d->part, 0);
    int w = range_written(path, from, to);
    if (w < 0) {
        log_partition_close(p);
        bb_dir_remove(d);
        skip(); /* this filesystem does not report extents */
    }
    return w;
}

static void test_light_rate_writes_zeros_ahead_of_the_data(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.preallocate = true;
    log_partition_t *p = open_part(&d, &cfg);
    /* About 1.6 MB/s: a quarter second ahead is about 400 KiB, written 64 KiB per append. */
    append_at_rate(p, 1600 * 1024, 5, 10);
    int64_t size = log_partition_size_bytes(p);
    assert_int_equal(first_segment_written(&d, p, size, size + 128 * 1024), 1);
    check_reopen_keeps_every_batch(&d, &cfg, p);
    bb_dir_remove(&d);
}

static void test_heavy_rate_leaves_preallocation_unwritten(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.preallocate = true;
    cfg.zero_max_rate = 256 * 1024; /* a low limit, so a short burst exceeds it on any machine */
    log_partition_t *p = open_part(&d, &cfg);
    append_at_rate(p, 2 << 20, 0, 10); /* above the limit: the disk's bandwidth goes to data */
    int64_t size = log_partition_size_bytes(p);
    assert_int_equal(first_segment_written(&d, p, size, size + 64 * 1024), 0);
    assert_int_equal(first_segment_written(&d, p, 0, size), 1); /* the data itself */
    check_reopen_keeps_every_batch(&d, &cfg, p);
    bb_dir_remove(&d);
}

/* --- Fault injection --- */

static int fail_after_bytes; /* pwrite succeeds for this many bytes, then fails */
static int fail_errno;
static ssize_t faulty_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    if (fail_after_bytes <= 0)
        return -fail_errno;
    if (n > (size_t)fail_after_bytes)
        n = (size_t)fail_after_bytes; /* a short write */
    fail_after_bytes -= (int)n;
    return hd_fileio_default.pwrite(fd, buf, n, off);
}

/* reopen: close and reopen before the failing append, so that the index is not loaded and the
 * append itself writes its index entry (a loaded index is written later, in groups). */
static void check_failed_append_leaves_log_consistent(int err, int allow_bytes, bool reopen)
{
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.index_interval_bytes = 0; /* index every batch, so index writes fail too */
    log_partition_t *p = open_part(&d, &cfg);
    append_one(p, 2, 0, 100);
    if (reopen) {
        log_partition_close(p);
        p = open_part(&d, &cfg);
    }
    int64_t size = log_partition_size_bytes(p);
    hd_buf_t b, out;
    hd_buf_init(&b);
    hd_buf_init(&out);
    bb_build(&b, 3, 0, 2, 100);
    fail_after_bytes = allow_bytes;
    fail_errno = err;
    hd_io.pwrite = faulty_pwrite;
    int64_t base;
    int rc = log_partition_append(p, b.p, b.len, &base);
    hd_io = hd_fileio_default;
    assert_int_equal(rc, -err);
    assert_int_equal(log_partition_end_offset(p), 2);
    assert_int_equal(log_partition_size_bytes(p), size);
    assert_int_equal(log_partition_read(p, 0, 100, 1 << 20, &out), size);
    assert_int_equal(append_one(p, 1, 0, 10), 2);
    log_partition_close_dirty(p);
    p = open_part(&d, &cfg);
    assert_int_equal(log_partition_end_offset(p), 3);
    hd_buf_reset(&out);
    assert_true(log_partition_read(p, 2, 3, 1 << 20, &out) > 0);
    assert_int_equal(bb_get_i64(out.p), 2);
    hd_buf_deinit(&b);
    hd_buf_deinit(&out);
    log_partition_close(p);
    bb_dir_remove(&d);
}

static void test_short_write_then_enospc_on_append_leaves_log_consistent(void **state)
{
    (void)state;
    check_failed_append_leaves_log_consistent(ENOSPC, 8 + 50, false);
}

static void test_eio_on_append_leaves_log_consistent(void **state)
{
    (void)state;
    check_failed_append_leaves_log_consistent(EIO, 0, false);
}

static void test_enospc_on_index_write_fails_append_cleanly(void **state)
{
    (void)state;
    check_failed_append_leaves_log_consistent(ENOSPC, 4, true);
}

static int64_t file_size_or_neg(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

/* Reads offset 0..n-1 of a log of one-record batches: each read starts with that offset. */
static void check_singles(log_partition_t *p, int64_t n)
{
    hd_buf_t out;
    hd_buf_init(&out);
    for (int64_t off = 0; off < n; off++) {
        hd_buf_reset(&out);
        assert_true(log_partition_read(p, off, n, 1, &out) > 0);
        assert_int_equal(bb_get_i64(out.p), off);
    }
    hd_buf_deinit(&out);
}

/* A new segment has no index files before its first index write; the entries of a loaded index
 * reach the files 64 at a time and at close; a crash loses only entries not yet written, and
 * every batch is still found. */
static void test_index_entries_are_written_in_groups(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.index_interval_bytes = 0; /* an entry for every batch */
    const char *idx = "00000000000000000000.index", *tidx = "00000000000000000000.timeindex";
    log_partition_t *p = open_part(&d, &cfg);
    for (int i = 0; i < 63; i++)
        append_one(p, 1, 1000 + i, 50);
    assert_int_equal(file_size_or_neg(d.part, idx), -1);
    assert_int_equal(file_size_or_neg(d.part, tidx), -1);
    append_one(p, 1, 1063, 50);
    assert_int_equal(file_size_or_neg(d.part, idx), 64 * 8);
    assert_int_equal(file_size_or_neg(d.part, tidx), 64 * 12);
    for (int i = 64; i < 74; i++)
        append_one(p, 1, 1000 + i, 50);
    assert_int_equal(file_size_or_neg(d.part, idx), 64 * 8);
    check_singles(p, 74);
    log_partition_close(p);
    assert_int_equal(file_size_or_neg(d.part, idx), 74 * 8);
    assert_int_equal(file_size_or_neg(d.part, tidx), 74 * 12);
    p = open_part(&d, &cfg);
    check_singles(p, 74); /* loads the index from the files */
    for (int i = 74; i < 144; i++)
        append_one(p, 1, 1000 + i, 50);
    assert_int_equal(file_size_or_neg(d.part, idx), 138 * 8); /* 6 entries not written yet */
    log_partition_close_dirty(p);
    p = open_part(&d, &cfg);
    assert_int_equal(log_partition_end_offset(p), 144);
    check_singles(p, 144);
    int64_t t = -1;
    hd_buf_t out;
    hd_buf_init(&out);
    for (int64_t k = 0; k < 144; k += 13) {
        hd_buf_reset(&out);
        assert_int_equal(log_partition_find_time(p, 1000 + k, 144, &t, &out), 0);
        assert_int_equal(t, k);
    }
    hd_buf_deinit(&out);
    log_partition_close(p);
    bb_dir_remove(&d);
}

/* A precreated partition (directory and empty first segment with empty index files, nothing
 * open) opens as a new log without a recovery scan; precreating a partition that has data leaves
 * it as it is, and a reopen after a crash reads by offset with the index files still empty. */
static void test_precreated_partition_opens_as_new_and_data_is_never_truncated(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    assert_int_equal(log_partition_precreate(d.part), 0); /* d.part did not exist */
    assert_int_equal(file_size_or_neg(d.part, "00000000000000000000.log"), 0);
    /* The index files too, empty: the first index write opens them instead of creating them. */
    assert_int_equal(file_size_or_neg(d.part, "00000000000000000000.index"), 0);
    assert_int_equal(file_size_or_neg(d.part, "00000000000000000000.timeindex"), 0);
    log_partition_t *p = NULL;
    assert_true(open_counting_reads(d.part, &cfg, &p) == 0); /* nothing scanned */
    assert_int_equal(log_partition_end_offset(p), 0);
    assert_int_equal(append_one(p, 2, 0, 100), 0);
    int64_t size = log_partition_size_bytes(p);
    /* A late precreate (a race with the first open) must not touch the data. */
    assert_int_equal(log_partition_precreate(d.part), 0);
    assert_int_equal(append_one(p, 1, 0, 100), 2);
    log_partition_close_dirty(p);
    assert_int_equal(log_partition_precreate(d.part), 0);
    p = open_part(&d, &cfg);
    assert_int_equal(log_partition_end_offset(p), 3);
    assert_true(log_partition_size_bytes(p) > size);
    hd_buf_t out;
    hd_buf_init(&out);
    assert_true(log_partition_read(p, 1, 3, 1, &out) > 0);
    assert_int_equal(bb_get_i64(out.p), 0);
    hd_buf_reset(&out);
    assert_true(log_partition_read(p, 2, 3, 1, &out) > 0);
    assert_int_equal(bb_get_i64(out.p), 2);
    hd_buf_deinit(&out);
    log_partition_close(p);
    bb_dir_remove(&d);
}

static int failing_fdatasync(int fd)
{
    (void)fd;
    return -EIO;
}

static void test_sync_advances_durable_offset(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    log_partition_t *p = open_part(&d, &cfg);
    append_one(p, 4, 0, 10);
    assert_int_equal(log_partition_durable_offset(p), 0);
    assert_int_equal(log_partition_sync(p), 0);
    assert_int_equal(log_partition_durable_offset(p), 4);
    log_partition_close(p);
    bb_dir_remove(&d);
}

static void test_eio_on_sync_keeps_durable_offset(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    log_partition_t *p = open_part(&d, &cfg);
    append_one(p, 4, 0, 10);
    hd_io.fdatasync = failing_fdatasync;
    assert_int_equal(log_partition_sync(p), -EIO);
    hd_io = hd_fileio_default;
    assert_int_equal(log_partition_durable_offset(p), 0);
    /* Sticky: a later fdatasync cannot prove the lost pages reached the disk. */
    assert_int_equal(log_partition_sync(p), -EIO);
    assert_int_equal(log_partition_durable_offset(p), 0);
    log_partition_close(p); /* no clean marker: the next open recovers */
    p = open_part(&d, &cfg);
    assert_int_equal(log_partition_durable_offset(p), 4);
    log_partition_close(p);
    bb_dir_remove(&d);
}

int main(void)
{
    say_level = SAY_ERROR;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_assigns_offsets_and_read_returns_same_bytes),
        cmocka_unit_test(test_read_from_mid_batch_offset_returns_containing_batch),
        cmocka_unit_test(test_read_excludes_batches_at_or_above_max_offset),
        cmocka_unit_test(test_read_stops_at_max_bytes_but_first_batch_whole),
        cmocka_unit_test(test_read_outside_log_returns_erange),
        cmocka_unit_test(test_append_rejects_malformed_and_too_big),
        cmocka_unit_test(test_roll_by_size_starts_new_segment),
        cmocka_unit_test(test_roll_by_age_starts_new_segment),
        cmocka_unit_test(test_roll_by_age_without_timestamps_uses_the_wall_clock),
        cmocka_unit_test(test_read_at_every_offset_across_segments_finds_containing_batch),
        cmocka_unit_test(test_find_time_returns_first_batch_with_max_timestamp_at_or_after),
        cmocka_unit_test(test_max_time_is_largest_batch_timestamp_below_max_offset),
        cmocka_unit_test(test_scan_visits_every_batch_from_offset),
        cmocka_unit_test(test_scan_reads_headers_across_chunk_edges_and_past_big_batches),
        cmocka_unit_test(test_scan_skips_inactive_segments_older_than_min_ts),
        cmocka_unit_test(test_retention_by_time_deletes_old_inactive_segments),
        cmocka_unit_test(test_retention_by_time_after_reopen_uses_time_index),
        cmocka_unit_test(test_retention_by_size_deletes_oldest_while_rest_exceeds_limit),
        cmocka_unit_test(test_reopen_after_clean_close_keeps_batches_and_end_offset),
        cmocka_unit_test(test_failed_index_rebuild_keeps_the_data_and_the_append_position),
        cmocka_unit_test(test_open_after_clean_close_reads_no_segment_data),
        cmocka_unit_test(test_marker_is_rewritten_in_place),
        cmocka_unit_test(test_torn_marker_means_a_full_scan),
        cmocka_unit_test(test_preallocated_segment_is_trimmed_on_clean_close),
        cmocka_unit_test(test_read_after_read_starts_where_the_last_one_stopped),
        cmocka_unit_test(test_close_many_marks_every_partition_clean),
        cmocka_unit_test(test_close_many_leaves_a_failed_partition_unclean),
        cmocka_unit_test(test_light_rate_writes_zeros_ahead_of_the_data),
        cmocka_unit_test(test_heavy_rate_leaves_preallocation_unwritten),
        cmocka_unit_test(test_short_write_then_enospc_on_append_leaves_log_consistent),
        cmocka_unit_test(test_eio_on_append_leaves_log_consistent),
        cmocka_unit_test(test_enospc_on_index_write_fails_append_cleanly),
        cmocka_unit_test(test_index_entries_are_written_in_groups),
        cmocka_unit_test(test_precreated_partition_opens_as_new_and_data_is_never_truncated),
        cmocka_unit_test(test_sync_advances_durable_offset),
        cmocka_unit_test(test_eio_on_sync_keeps_durable_offset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
