/* Recovery: torn and corrupt batches, garbage and zero tails, invalid indexes and markers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "log/batch_builder.h"
#include "log/log.h"
#include "util/err.h"
#include "util/monotime.h"
#include "util/say.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static int64_t append_one(log_partition_t *p, int nrec, size_t vlen)
{
    hd_buf_t b;
    hd_buf_init(&b);
    int64_t now = hd_wall_ms(); /* recent, so that no roll by age happens */
    bb_build(&b, nrec, now, now + nrec, vlen);
    int64_t base = -1;
    assert_int_equal(log_partition_append(p, b.p, b.len, &base), 0);
    hd_buf_deinit(&b);
    return base;
}

static log_partition_t *open_part(const char *dir, const log_config_t *cfg)
{
    log_partition_t *p = NULL;
    assert_int_equal(log_partition_open(dir, cfg, &p), 0);
    return p;
}

static void seg_path(char *out, size_t n, const char *dir, int64_t base, const char *ext)
{
    snprintf(out, n, "%s/%020lld.%s", dir, (long long)base, ext);
}

static int64_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

/* Replaces dst with a copy of the directory src. */
static void copy_dir(const char *src, const char *dst)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", dst, src, dst);
    assert_int_equal(system(cmd), 0);
}

/* Checks that the log holds exactly the first `nb` batches of `want` (sizes in lens) and that
 * the next append gets offset `leo`. */
static void check_prefix(log_partition_t *p, const hd_buf_t *want, size_t bytes, int64_t leo)
{
    hd_buf_t out;
    hd_buf_init(&out);
    assert_int_equal(log_partition_end_offset(p), leo);
    if (leo > 0)
        assert_int_equal(log_partition_read(p, 0, leo, SIZE_MAX, &out), (ssize_t)bytes);
    if (bytes)
        assert_memory_equal(out.p, want->p, bytes);
    assert_int_equal(append_one(p, 1, 5), leo);
    hd_buf_reset(&out);
    assert_true(log_partition_read(p, leo, leo + 1, 1, &out) > 0);
    assert_int_equal(bb_get_i64(out.p), leo);
    hd_buf_deinit(&out);
}

static void cut_every_byte(bool clean_first)
{
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.index_interval_bytes = 50;
    log_partition_t *p = open_part(d.part, &cfg);
    append_one(p, 2, 30);
    append_one(p, 3, 30);
    if (clean_first) {
        log_partition_close(p);
        p = open_part(d.part, &cfg);
    }
    append_one(p, 4, 30);
    hd_buf_t all;
    hd_buf_init(&all);
    log_partition_read(p, 0, 9, SIZE_MAX, &all);
    log_partition_close_dirty(p);
    /* Find the start of the last batch by walking the frames. */
    size_t pos = 0, prev = 0;
    while (pos < all.len) {
        prev = pos;
        pos += (size_t)bb_get_i32(all.p + pos + 8) + 12;
    }
    size_t last_start = prev;
    char work[128], logp[160];
    snprintf(work, sizeof work, "%s/w", d.root);
    seg_path(logp, sizeof logp, work, 0, "log");
    for (size_t cut = last_start; cut <= all.len; cut++) {
        copy_dir(d.part, work);
        assert_int_equal(truncate(logp, (off_t)cut), 0);
        p = open_part(work, &cfg);
        bool whole = cut == all.len;
        check_prefix(p, &all, whole ? all.len : last_start, whole ? 9 : 5);
        log_partition_close_dirty(p);
    }
    hd_buf_deinit(&all);
    bb_dir_remove(&d);
}

static void test_cut_at_every_byte_of_last_batch_keeps_whole_batches(void **state)
{
    (void)state;
    cut_every_byte(false);
}

static void test_cut_after_clean_reopen_keeps_whole_batches(void **state)
{
    (void)state;
    cut_every_byte(true);
}

static void test_flipped_crc_byte_truncates_batch_and_everything_after(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.segment_bytes = 600;
    log_partition_t *p = open_part(d.part, &cfg);
    int64_t bases[12];
    for (int i = 0; i < 12; i++)
        bases[i] = append_one(p, 2, 100); /* two batches per segment */
    hd_buf_t all;
    hd_buf_init(&all);
    log_partition_read(p, 0, 24, SIZE_MAX, &all);
    size_t nsegs = log_partition_segment_count(p);
    log_partition_close(p);
    /* Corrupt the second batch of the segment starting at offset 8 (batches 4 and 5). */
    char path[160];
    seg_path(path, sizeof path, d.part, bases[4], "log");
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    size_t blen = all.len / 12;
    uint8_t c;
    assert_int_equal(pread(fd, &c, 1, (off_t)(blen + 17)), 1);
    c ^= 0x01;
    assert_int_equal(pwrite(fd, &c, 1, (off_t)(blen + 17)), 1);
    close(fd);
    /* The marker trusts the files, so corrupt data is found only by a recovery open. */
    char marker[160];
    snprintf(marker, sizeof marker, "%s/clean-shutdown", d.part);
    unlink(marker);
    p = open_part(d.part, &cfg);
    assert_true(log_partition_segment_count(p) < nsegs);
    check_prefix(p, &all, 5 * blen, bases[5]);
    seg_path(path, sizeof path, d.part, bases[6], "log");
    assert_int_equal(access(path, F_OK), -1);
    log_partition_close(p);
    hd_buf_deinit(&all);
    bb_dir_remove(&d);
}

static void test_garbage_tail_is_truncated(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    log_partition_t *p = open_part(d.part, &cfg);
    append_one(p, 3, 40);
    append_one(p, 3, 40);
    hd_buf_t all;
    hd_buf_init(&all);
    log_partition_read(p, 0, 6, SIZE_MAX, &all);
    log_partition_close_dirty(p);
    char path[160];
    seg_path(path, sizeof path, d.part, 0, "log");
    int fd = open(path, O_WRONLY | O_APPEND);
    uint8_t junk[300];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 37 + 1);
    assert_int_equal(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
    close(fd);
    p = open_part(d.part, &cfg);
    assert_int_equal(file_size(path), (int64_t)all.len);
    check_prefix(p, &all, all.len, 6);
    log_partition_close(p);
    hd_buf_deinit(&all);
    bb_dir_remove(&d);
}

static void test_zero_tail_after_preallocation_ends_the_log(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.segment_bytes = 256 * 1024;
    cfg.preallocate = true;
    log_partition_t *p = open_part(d.part, &cfg);
    for (int i = 0; i < 5; i++)
        append_one(p, 2, 40);
    hd_buf_t all;
    hd_buf_init(&all);
    log_partition_read(p, 0, 10, SIZE_MAX, &all);
    log_partition_close_dirty(p); /* a crash: the file still has its preallocated zeros */
    char path[160];
    seg_path(path, sizeof path, d.part, 0, "log");
    assert_true(file_size(path) > (int64_t)all.len);
    p = open_part(d.part, &cfg);
    check_prefix(p, &all, all.len, 10);
    log_partition_close(p);
    p = open_part(d.part, &cfg);
    assert_int_equal(log_partition_end_offset(p), 11);
    log_partition_close(p);
    hd_buf_deinit(&all);
    bb_dir_remove(&d);
}

static void test_invalid_index_is_rebuilt(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.segment_bytes = 4000;
    cfg.index_interval_bytes = 100;
    log_partition_t *p = open_part(d.part, &cfg);
    for (int i = 0; i < 40; i++)
        append_one(p, 1, 60);
    log_partition_close(p);
    char path[160];
    seg_path(path, sizeof path, d.part, 0, "index");
    int fd = open(path, O_WRONLY);
    uint8_t junk[16];
    memset(junk, 0x7f, sizeof junk);
    assert_int_equal(pwrite(fd, junk, sizeof junk, 8), (ssize_t)sizeof junk);
    close(fd);
    p = open_part(d.part, &cfg);
    hd_buf_t out;
    hd_buf_init(&out);
    for (int64_t off = 0; off < 40; off++) {
        hd_buf_reset(&out);
        assert_true(log_partition_read(p, off, 40, 1, &out) > 0);
        assert_int_equal(bb_get_i64(out.p), off);
    }
    hd_buf_deinit(&out);
    log_partition_close(p);
    bb_dir_remove(&d);
}

static void test_marker_for_shorter_segment_is_ignored(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    log_partition_t *p = open_part(d.part, &cfg);
    for (int i = 0; i < 4; i++)
        append_one(p, 1, 50);
    hd_buf_t all;
    hd_buf_init(&all);
    log_partition_read(p, 0, 4, SIZE_MAX, &all);
    log_partition_close(p);
    char path[160];
    seg_path(path, sizeof path, d.part, 0, "log");
    size_t blen = all.len / 4;
    assert_int_equal(truncate(path, (off_t)(2 * blen + 7)), 0);
    p = open_part(d.part, &cfg);
    check_prefix(p, &all, 2 * blen, 2);
    log_partition_close(p);
    hd_buf_deinit(&all);
    bb_dir_remove(&d);
}

int main(void)
{
    say_level = SAY_ERROR;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cut_at_every_byte_of_last_batch_keeps_whole_batches),
        cmocka_unit_test(test_cut_after_clean_reopen_keeps_whole_batches),
        cmocka_unit_test(test_flipped_crc_byte_truncates_batch_and_everything_after),
        cmocka_unit_test(test_garbage_tail_is_truncated),
        cmocka_unit_test(test_zero_tail_after_preallocation_ends_the_log),
        cmocka_unit_test(test_invalid_index_is_rebuilt),
        cmocka_unit_test(test_marker_for_shorter_segment_is_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
