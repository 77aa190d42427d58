/* The journal's cost model (jcost.c): which partitions of a round write
 * direct, and the fdatasync cost it learns from the disk instead of taking a constant. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "log/batch_builder.h"
#include "log/log_int.h"
#include "util/fileio.h"
#include "util/mem.h"
#include "util/say.h"

#include <stdio.h>
#include <time.h>

typedef struct cenv {
    bb_dir_t d;
    log_journal_config_t jc;
    log_journal_t *j;
} cenv_t;

static void cenv_open(cenv_t *e)
{
    bb_dir_make(&e->d);
    log_journal_config_defaults(&e->jc);
    e->jc.file_bytes = 4 << 20;
    e->jc.checkpoint_interval_ms = 3600 * 1000;
    e->jc.checkpoint_interval_bytes = INT64_MAX;
    e->jc.direct_bytes = LOG_DIRECT_ADAPTIVE;
    assert_int_equal(log_journal_open(e->d.root, &e->jc, &e->j), 0);
}

static void cenv_close(cenv_t *e)
{
    log_journal_close(e->j);
    bb_dir_remove(&e->d);
}

/* Feeds `rounds` identical rounds (n partitions of `bytes`, plus `hot` of `hot_bytes`) to the
 * cost model and returns the threshold it picks. */
static int64_t model_pick(log_journal_t *j, int rounds, uint32_t n, int64_t bytes, uint32_t hot,
                          int64_t hot_bytes)
{
    for (int r = 0; r < rounds; r++) {
        log__round_hist_t h = {{0}, {0}};
        for (uint32_t i = 0; i < n; i++)
            log__round_hist_add(&h, bytes);
        for (uint32_t i = 0; i < hot; i++)
            log__round_hist_add(&h, hot_bytes);
        log__journal_round_done(j, n + hot, 0, &h);
    }
    return log__journal_direct_min(j);
}

static void observe_n(log_journal_t *j, int n, int64_t ns)
{
    for (int i = 0; i < n; i++)
        log__journal_sync_observe(j, ns);
}

/* The cost model's picks for the shapes of round it was designed for, at the fdatasync cost it
 * starts from, and that a single small round among large ones moves nothing. */
static void test_cost_model_picks_direct_for_large_rounds_only(void **state)
{
    (void)state;
    cenv_t e;
    cenv_open(&e);
    assert_int_equal(log__journal_sync_estimate(e.j), 150000);
    /* One partition, 500 KB a round: direct, with a threshold far below its rounds. */
    int64_t min = model_pick(e.j, 20, 1, 500000, 0, 0);
    assert_true(min >= 1 && min <= 500000 / 4);
    /* Alone with one small batch: still direct (its sync replaces the journal's). */
    assert_true(model_pick(e.j, 40, 1, 1100, 0, 0) <= 1100);
    /* 16 partitions of 400 KB: direct. */
    assert_true(model_pick(e.j, 40, 16, 400000, 0, 0) <= 400000 / 2);
    /* 1,000 partitions of one 1 KiB record each: journaled, far above their size. */
    assert_true(model_pick(e.j, 40, 1000, 1100, 0, 0) > 4 * 1100);
    /* A round of one partition in between does not send the thousand direct. */
    assert_true(model_pick(e.j, 1, 1, 1100, 0, 0) > 4 * 1100);
    /* 100 partitions of 6 KB: journaled. */
    assert_true(model_pick(e.j, 40, 100, 6000, 0, 0) > 2 * 6000);
    /* One hot partition of 1 MiB among 999 of 1 KiB: the hot one alone direct. */
    min = model_pick(e.j, 40, 999, 1100, 1, 1 << 20);
    assert_true(min > 2 * 1100 && min <= (1 << 20) / 2);
    cenv_close(&e);
}

/* On a disk whose syncs take 2 ms, three partitions of 300 KB a round go through the journal
 * (one sync instead of three); at the starting cost they go direct. On one whose syncs take
 * 20 us, two partitions of 30 KB go direct, where the starting cost journals them. */
static void test_sync_cost_follows_the_disk(void **state)
{
    (void)state;
    cenv_t e;
    cenv_open(&e);
    assert_true(model_pick(e.j, 40, 3, 300000, 0, 0) <= 300000);
    assert_true(model_pick(e.j, 40, 2, 30000, 0, 0) > 30000);

    observe_n(e.j, 400, 2000000);
    int64_t est = log__journal_sync_estimate(e.j);
    assert_true(est >= 1800000 && est <= 2200000);
    assert_true(model_pick(e.j, 40, 3, 300000, 0, 0) > 300000);
    /* Large rounds of many partitions stay direct: one syncfs either way. */
    assert_true(model_pick(e.j, 40, 16, 400000, 0, 0) <= 400000 / 2);

    observe_n(e.j, 400, 20000);
    est = log__journal_sync_estimate(e.j);
    assert_true(est >= 18000 && est <= 22000);
    assert_true(model_pick(e.j, 40, 2, 30000, 0, 0) <= 30000);
    /* Many small partitions still go through the journal: a syncfs costs per file. */
    assert_true(model_pick(e.j, 40, 100, 6000, 0, 0) > 6000);
    cenv_close(&e);
}

/* Syncs that stall (behind a checkpoint's writeback, or writing what their file held) do not
 * move the estimate while most syncs are fast: a quarter of them at 50 ms among 100 us ones. */
static void test_sync_cost_ignores_stalls(void **state)
{
    (void)state;
    cenv_t e;
    cenv_open(&e);
    for (int i = 0; i < 400; i++)
        log__journal_sync_observe(e.j, i % 4 == 0 ? 50000000 : 100000);
    int64_t est = log__journal_sync_estimate(e.j);
    assert_true(est >= 85000 && est <= 120000);
    cenv_close(&e);
}

static int slow_fdatasync(int fd)
{
    nanosleep(&(struct timespec){0, 2000000}, NULL);
    return hd_fileio_default.fdatasync(fd);
}

static int slow_syncfs(int fd)
{
    nanosleep(&(struct timespec){0, 2000000}, NULL);
    return hd_fileio_default.syncfs(fd);
}

/* The flusher's own syncs feed the estimate: three partitions written direct at first, on a disk
 * whose syncs take 2 ms, move through the journal once it has learned that. Without the timing
 * of the syncs the estimate stays at its start and they stay direct. (Their rounds are made
 * durable by one syncfs, flusher.c, which the estimate follows like an fdatasync.) */
static void test_flusher_syncs_teach_the_model(void **state)
{
    (void)state;
    cenv_t e;
    cenv_open(&e);
    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.journal = e.j;
    log_partition_t *p[3];
    for (int i = 0; i < 3; i++) {
        char dir[200];
        snprintf(dir, sizeof dir, "%s/t-%d", e.d.root, i);
        assert_int_equal(log_partition_open(dir, &cfg, &p[i]), 0);
    }
    log_flusher_t *f = NULL;
    assert_int_equal(log_flusher_start(NULL, NULL, &f), 0);
    log_flusher_set_journal(f, e.j);
    hd_io.fdatasync = slow_fdatasync;
    hd_io.syncfs = slow_syncfs;
    hd_buf_t b;
    hd_buf_init(&b);
    bb_build(&b, 300, 1000, 1300, 1000); /* 300 records of 1,000 bytes: about 300 KB */
    int64_t end = 0, base;
    for (int r = 0; r < 60; r++) {
        for (int i = 0; i < 3; i++) {
            assert_int_equal(log_partition_append(p[i], b.p, b.len, &base), 0);
            log_flusher_mark_dirty(f, p[i]);
        }
        end += 300;
        for (int k = 0; k < 5000 && log_partition_durable_offset(p[2]) < end; k++)
            nanosleep(&(struct timespec){0, 200000}, NULL);
        assert_int_equal(log_partition_durable_offset(p[2]), end);
    }
    log_flusher_stop(f);
    hd_io = hd_fileio_default;
    assert_true(log__journal_sync_estimate(e.j) >= 500000);
    assert_true(log__journal_direct_min(e.j) > (int64_t)b.len);
    hd_buf_deinit(&b);
    for (int i = 0; i < 3; i++)
        log_partition_close(p[i]);
    cenv_close(&e);
}

int main(void)
{
    say_level = SAY_ERROR;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cost_model_picks_direct_for_large_rounds_only),
        cmocka_unit_test(test_sync_cost_follows_the_disk),
        cmocka_unit_test(test_sync_cost_ignores_stalls),
        cmocka_unit_test(test_flusher_syncs_teach_the_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
