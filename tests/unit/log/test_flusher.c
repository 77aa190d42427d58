/* The group-commit flusher: durable offsets advance, notify fires, appends overlap syncs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "log/batch_builder.h"
#include "log/log.h"
#include "log/log_int.h"
#include "util/fileio.h"
#include "util/monotime.h"
#include "util/say.h"

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static atomic_int notified;
static void on_notify(void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&notified, 1);
}

static void append_one(log_partition_t *p, hd_buf_t *b)
{
    hd_buf_reset(b);
    int64_t now = hd_wall_ms();
    bb_build(b, 2, now, now + 1, 30);
    int64_t base;
    assert_int_equal(log_partition_append(p, b->p, b->len, &base), 0);
}

/* Waits up to 5 s for the durable offset to reach want. */
static bool wait_durable(log_partition_t *p, int64_t want)
{
    for (int i = 0; i < 5000 && log_partition_durable_offset(p) < want; i++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    return log_partition_durable_offset(p) >= want;
}

/* Opens n partitions p0, p1, ... under d's root. */
static void open_parts(const bb_dir_t *d, const log_config_t *cfg, log_partition_t **p, int n)
{
    for (int i = 0; i < n; i++) {
        char dir[160];
        snprintf(dir, sizeof dir, "%s/p%d", d->root, i);
        assert_int_equal(log_partition_open(dir, cfg, &p[i]), 0);
    }
}

static void test_durable_offset_advances_after_mark_dirty(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    log_partition_t *p = NULL;
    assert_int_equal(log_partition_open(d.part, &cfg, &p), 0);
    log_flusher_t *f = NULL;
    atomic_store(&notified, 0);
    assert_int_equal(log_flusher_start(on_notify, NULL, &f), 0);
    hd_buf_t b;
    hd_buf_init(&b);
    append_one(p, &b);
    log_flusher_mark_dirty(f, p);
    assert_true(wait_durable(p, 2));
    for (int i = 0; i < 1000 && atomic_load(&notified) == 0; i++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    assert_true(atomic_load(&notified) >= 1);
    log_flusher_stop(f);
    hd_buf_deinit(&b);
    log_partition_close(p);
    bb_dir_remove(&d);
}

/* Rounds with many dirty partitions take the one-syncfs path; every partition still becomes
 * durable at exactly what was appended, and later appends keep being picked up. */
static void test_many_dirty_partitions_all_become_durable(void **state)
{
    (void)state;
    enum { N = 12 };
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    log_partition_t *p[N];
    open_parts(&d, &cfg, p, N);
    log_flusher_t *f = NULL;
    assert_int_equal(log_flusher_start(on_notify, NULL, &f), 0);
    hd_buf_t b;
    hd_buf_init(&b);
    for (int round = 1; round <= 3; round++) {
        for (int i = 0; i < N; i++) {
            for (int k = 0; k <= i % 3; k++)
                append_one(p[i], &b);
            log_flusher_mark_dirty(f, p[i]);
        }
        for (int i = 0; i < N; i++) {
            assert_true(wait_durable(p[i], log_partition_end_offset(p[i])));
            assert_int_equal(log_partition_durable_offset(p[i]), log_partition_end_offset(p[i]));
        }
    }
    log_flusher_stop(f);
    hd_buf_deinit(&b);
    for (int i = 0; i < N; i++)
        log_partition_close(p[i]);
    bb_dir_remove(&d);
}

static void test_appends_continue_while_flusher_syncs(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.segment_bytes = 16 * 1024;   /* rolls race with syncs */
    cfg.retention_bytes = 64 * 1024; /* and so do deletions */
    log_partition_t *p = NULL;
    assert_int_equal(log_partition_open(d.part, &cfg, &p), 0);
    log_flusher_t *f = NULL;
    assert_int_equal(log_flusher_start(on_notify, NULL, &f), 0);
    hd_buf_t b;
    hd_buf_init(&b);
    int64_t last_durable = 0;
    for (int i = 0; i < 3000; i++) {
        append_one(p, &b);
        log_flusher_mark_dirty(f, p);
        int64_t dur = log_partition_durable_offset(p);
        assert_true(dur >= last_durable);
        assert_true(dur <= log_partition_end_offset(p));
        last_durable = dur;
        if (i % 100 == 0)
            assert_true(log_partition_apply_retention(p, hd_wall_ms()) >= 0);
    }
    assert_true(wait_durable(p, log_partition_end_offset(p)));
    log_flusher_stop(f);
    hd_buf_deinit(&b);
    log_partition_close(p);
    bb_dir_remove(&d);
}

/* While held (nested twice), partitions marked dirty are not synced: nothing becomes durable
 * until the last release, and then everything marked does, in one round. */
static void test_held_flusher_syncs_nothing_until_the_last_release(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    enum { N = 3 };
    log_partition_t *p[N];
    open_parts(&d, &cfg, p, N);
    log_flusher_t *f = NULL;
    atomic_store(&notified, 0);
    assert_int_equal(log_flusher_start(on_notify, NULL, &f), 0);
    hd_buf_t b;
    hd_buf_init(&b);
    log_flusher_hold(f);
    log_flusher_hold(f);
    for (int i = 0; i < N; i++) {
        append_one(p[i], &b);
        log_flusher_mark_dirty(f, p[i]);
    }
    log_flusher_release(f);
    nanosleep(&(struct timespec){0, 100000000}, NULL); /* 100 ms: a woken flusher syncs in less */
    for (int i = 0; i < N; i++)
        assert_int_equal(log_partition_durable_offset(p[i]), 0);
    assert_int_equal(atomic_load(&notified), 0);
    log_flusher_release(f);
    for (int i = 0; i < N; i++)
        assert_true(wait_durable(p[i], 2));
    for (int i = 0; i < 1000 && atomic_load(&notified) == 0; i++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    assert_int_equal(atomic_load(&notified), 1); /* one round for all three */
    /* Released: a mark wakes it at once again. */
    append_one(p[0], &b);
    log_flusher_mark_dirty(f, p[0]);
    assert_true(wait_durable(p[0], 4));
    log_flusher_stop(f);
    hd_buf_deinit(&b);
    for (int i = 0; i < N; i++)
        log_partition_close(p[i]);
    bb_dir_remove(&d);
}

static void test_stop_runs_a_final_round(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    log_partition_t *p = NULL;
    assert_int_equal(log_partition_open(d.part, &cfg, &p), 0);
    log_flusher_t *f = NULL;
    assert_int_equal(log_flusher_start(NULL, NULL, &f), 0);
    hd_buf_t b;
    hd_buf_init(&b);
    for (int i = 0; i < 10; i++) {
        append_one(p, &b);
        log_flusher_mark_dirty(f, p);
    }
    log_flusher_stop(f);
    assert_int_equal(log_partition_durable_offset(p), 20);
    hd_buf_deinit(&b);
    log_partition_close(p);
    bb_dir_remove(&d);
}

static void test_partition_closed_while_queued_is_freed_by_flusher(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_config_t cfg;
    log_config_defaults(&cfg);
    log_partition_t *p = NULL;
    assert_int_equal(log_partition_open(d.part, &cfg, &p), 0);
    log_flusher_t *f = NULL;
    assert_int_equal(log_flusher_start(NULL, NULL, &f), 0);
    hd_buf_t b;
    hd_buf_init(&b);
    append_one(p, &b);
    log_flusher_mark_dirty(f, p);
    log_partition_close(p); /* the flusher's ref keeps it alive; ASan checks the rest */
    log_flusher_stop(f);
    hd_buf_deinit(&b);
    bb_dir_remove(&d);
}

/* Threads of this process whose name (/proc/self/task/<tid>/comm) is `name`. */
static int threads_named(const char *name)
{
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], comm[64] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *fp = fopen(path, "r");
        if (!fp)
            continue; /* the thread ended meanwhile */
        if (fgets(comm, sizeof comm, fp))
            comm[strcspn(comm, "\n")] = 0;
        fclose(fp);
        n += strcmp(comm, name) == 0;
    }
    closedir(d);
    return n;
}

static void test_the_flusher_thread_is_named(void **state)
{
    (void)state;
    assert_int_equal(threads_named("hd-flusher"), 0);
    log_flusher_t *f = NULL;
    assert_int_equal(log_flusher_start(NULL, NULL, &f), 0);
    /* The thread names itself when it starts, which may be after log_flusher_start returns. */
    int64_t deadline = hd_mono_ms() + 5000;
    while (threads_named("hd-flusher") == 0 && hd_mono_ms() < deadline)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    assert_int_equal(threads_named("hd-flusher"), 1);
    log_flusher_stop(f);
    assert_int_equal(threads_named("hd-flusher"), 0);
}

/* Counting sync hooks (the flusher's thread calls them, the test thread reads the counts). */
static atomic_int n_fdatasync, n_syncfs;
static atomic_bool fail_syncfs;
static int counting_fdatasync(int fd)
{
    atomic_fetch_add(&n_fdatasync, 1);
    return hd_fileio_default.fdatasync(fd);
}
static int counting_syncfs(int fd)
{
    atomic_fetch_add(&n_syncfs, 1);
    return atomic_load(&fail_syncfs) ? -EIO : hd_fileio_default.syncfs(fd);
}

/* One round (the flusher held while the three are appended): p[0] and p[1] 30 records of 1,000
 * bytes each, p[2] one small record. Returns once all three are durable. */
static void mixed_round(log_flusher_t *f, log_partition_t **p, hd_buf_t *b, int64_t *end)
{
    log_flusher_hold(f);
    for (int i = 0; i < 3; i++) {
        hd_buf_reset(b);
        int64_t now = hd_wall_ms(), base;
        int n = i < 2 ? 30 : 1;
        bb_build(b, n, now, now + 1, i < 2 ? 1000 : 30);
        assert_int_equal(log_partition_append(p[i], b->p, b->len, &base), 0);
        end[i] = base + n;
        log_flusher_mark_dirty(f, p[i]);
    }
    log_flusher_release(f);
    for (int i = 0; i < 3; i++)
        assert_true(wait_durable(p[i], end[i]));
}

/* With a journal, a round whose few partitions were written direct while another was journaled
 * is made durable by one syncfs, not by the journal's fdatasync and then one per segment (each
 * flush would wait for the others' writeback). Not when the syncfs would also write back many
 * journaled segment bytes, and when it fails, the fdatasyncs decide and every offset still
 * becomes durable. */
static void test_direct_and_journaled_round_is_one_syncfs(void **state)
{
    (void)state;
    bb_dir_t d;
    bb_dir_make(&d);
    log_journal_config_t jc;
    log_journal_config_defaults(&jc);
    jc.file_bytes = 4 << 20;
    jc.checkpoint_interval_ms = 3600 * 1000;
    jc.checkpoint_interval_bytes = INT64_MAX;
    jc.direct_bytes = 8192; /* rounds of 30 KB go direct, one small record through the journal */
    log_journal_t *j = NULL;
    assert_int_equal(log_journal_open(d.root, &jc, &j), 0);
    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.journal = j;
    log_partition_t *p[3];
    open_parts(&d, &cfg, p, 3);
    log_flusher_t *f = NULL;
    assert_int_equal(log_flusher_start(NULL, NULL, &f), 0);
    log_flusher_set_journal(f, j);
    hd_buf_t b;
    hd_buf_init(&b);
    int64_t end[3];
    for (int r = 0; r < 2; r++) /* the first round of a partition is journaled */
        mixed_round(f, p, &b, end);
    hd_io.fdatasync = counting_fdatasync;
    hd_io.syncfs = counting_syncfs;
    for (int r = 0; r < 3; r++)
        mixed_round(f, p, &b, end);
    assert_true(p[0]->direct && p[1]->direct && !p[2]->direct);
    assert_int_equal(atomic_load(&n_syncfs), 3);
    assert_int_equal(atomic_load(&n_fdatasync), 0);
    /* Journaled segment bytes a syncfs would write back: the journal's and the segments' own
     * fdatasyncs instead. */
    log__journal_seg_written(j, 64 << 20);
    atomic_store(&n_syncfs, 0);
    atomic_store(&n_fdatasync, 0);
    mixed_round(f, p, &b, end);
    assert_int_equal(atomic_load(&n_syncfs), 0);
    assert_true(atomic_load(&n_fdatasync) >= 3);
    /* A checkpoint's syncfs covers them; then a failing syncfs falls back to the fdatasyncs. */
    assert_int_equal(log_journal_checkpoint(j), 0);
    assert_int_equal(log__journal_seg_unsynced(j), 0);
    atomic_store(&fail_syncfs, true);
    atomic_store(&n_syncfs, 0);
    atomic_store(&n_fdatasync, 0);
    mixed_round(f, p, &b, end);
    assert_int_equal(atomic_load(&n_syncfs), 1);
    assert_true(atomic_load(&n_fdatasync) >= 3);
    assert_int_equal(log_journal_error(j), 0);
    atomic_store(&fail_syncfs, false);
    mixed_round(f, p, &b, end);
    hd_io = hd_fileio_default;
    log_flusher_stop(f);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(log_partition_durable_offset(p[i]), end[i]);
        log_partition_close(p[i]);
    }
    hd_buf_deinit(&b);
    log_journal_close(j);
    bb_dir_remove(&d);
}

int main(void)
{
    say_level = SAY_ERROR;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durable_offset_advances_after_mark_dirty),
        cmocka_unit_test(test_many_dirty_partitions_all_become_durable),
        cmocka_unit_test(test_appends_continue_while_flusher_syncs),
        cmocka_unit_test(test_held_flusher_syncs_nothing_until_the_last_release),
        cmocka_unit_test(test_stop_runs_a_final_round),
        cmocka_unit_test(test_partition_closed_while_queued_is_freed_by_flusher),
        cmocka_unit_test(test_the_flusher_thread_is_named),
        cmocka_unit_test(test_direct_and_journaled_round_is_one_syncfs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
