/* The write-ahead journal: one sync per round, replay into segments after a crash, torn tails,
 * rotation, checkpoints, and write/sync failures injected through the file-I/O seam. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "log/batch_builder.h"
#include "log/log_int.h"
#include "util/err.h"
#include "util/fileio.h"
#include "util/mem.h"
#include "util/say.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static atomic_int syncs;
static int counting_fdatasync(int fd)
{
    atomic_fetch_add(&syncs, 1);
    return hd_fileio_default.fdatasync(fd);
}

static int failing_fdatasync(int fd)
{
    (void)fd;
    return -EIO;
}

/* pwrite that fails with ENOSPC from its fail_at-th call on. */
static int pwrites, fail_at;
static ssize_t counting_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    if (++pwrites >= fail_at)
        return -ENOSPC;
    return hd_fileio_default.pwrite(fd, buf, n, off);
}

typedef struct env {
    bb_dir_t d;
    log_journal_config_t jc;
    log_journal_t *j;
    log_config_t cfg;
    hd_buf_t b;
} env_t;

static void env_open_journal(env_t *e)
{
    assert_int_equal(log_journal_open(e->d.root, &e->jc, &e->j), 0);
}

static void env_init(env_t *e, int64_t file_bytes)
{
    bb_dir_make(&e->d);
    log_journal_config_defaults(&e->jc);
    e->jc.file_bytes = file_bytes;
    e->jc.checkpoint_interval_ms = 3600 * 1000; /* tests checkpoint by hand */
    e->jc.checkpoint_interval_bytes = INT64_MAX;
    e->jc.direct_bytes = LOG_DIRECT_NEVER; /* these tests are about the journaled path */
    env_open_journal(e);
    log_config_defaults(&e->cfg);
    e->cfg.journal = e->j;
    hd_buf_init(&e->b);
}

static void env_done(env_t *e)
{
    hd_buf_deinit(&e->b);
    bb_dir_remove(&e->d);
}

static log_partition_t *open_p(env_t *e, const char *name)
{
    char dir[160];
    snprintf(dir, sizeof dir, "%s/%s", e->d.root, name);
    log_partition_t *p = NULL;
    assert_int_equal(log_partition_open(dir, &e->cfg, &p), 0);
    return p;
}

/* Appends a batch of n records with values of vlen bytes. */
static int append(env_t *e, log_partition_t *p, int n, size_t vlen, int64_t *base)
{
    hd_buf_reset(&e->b);
    bb_build(&e->b, n, 1000, 1000 + n, vlen);
    return log_partition_append(p, e->b.p, e->b.len, base);
}

static char *seg_path(env_t *e, const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s/00000000000000000000.log", e->d.root, name);
    return buf;
}

static int count_journal_files(env_t *e)
{
    char dir[128];
    snprintf(dir, sizeof dir, "%s/journal", e->d.root);
    DIR *dd = opendir(dir);
    assert_non_null(dd);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dd)))
        n += strlen(de->d_name) == 24 && strcmp(de->d_name + 20, ".jnl") == 0;
    closedir(dd);
    return n;
}

/* Reads every batch of p and checks the offsets are 0..end contiguous. Returns the bytes. */
static size_t read_all(log_partition_t *p, hd_buf_t *out)
{
    hd_buf_reset(out);
    int64_t end = log_partition_end_offset(p), off = 0;
    while (off < end) {
        size_t before = out->len;
        ssize_t n = log_partition_read(p, off, end, 1 << 20, out);
        assert_true(n > 0);
        for (size_t pos = before; pos < out->len;) {
            assert_int_equal(bb_get_i64(out->p + pos), off);
            off = bb_get_i64(out->p + pos) + bb_get_i32(out->p + pos + 23) + 1;
            pos += 12 + (size_t)bb_get_i32(out->p + pos + 8);
        }
    }
    return out->len;
}

static void test_one_journal_sync_makes_every_dirty_partition_durable(void **state)
{
    (void)state;
    enum { N = 8 };
    env_t e;
    env_init(&e, 1 << 20);
    log_partition_t *p[N];
    for (int i = 0; i < N; i++) {
        char name[16];
        snprintf(name, sizeof name, "t-%d", i);
        p[i] = open_p(&e, name);
    }
    log_flusher_t *f = NULL;
    assert_int_equal(log_flusher_start(NULL, NULL, &f), 0);
    log_flusher_set_journal(f, e.j);
    hd_io.fdatasync = counting_fdatasync;
    atomic_store(&syncs, 0);
    int64_t base;
    for (int i = 0; i < N; i++) {
        assert_int_equal(append(&e, p[i], 3, 100, &base), 0);
        assert_int_equal(base, 0);
    }
    for (int i = 0; i < N; i++)
        log_flusher_mark_dirty(f, p[i]);
    for (int k = 0; k < 5000; k++) {
        bool all = true;
        for (int i = 0; i < N; i++)
            all = all && log_partition_durable_offset(p[i]) == 3;
        if (all)
            break;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(log_partition_durable_offset(p[i]), 3);
    /* The journal file only, once or twice (the marks may split over two rounds), never once
     * per partition. */
    assert_true(atomic_load(&syncs) >= 1 && atomic_load(&syncs) <= 2);
    hd_io = hd_fileio_default;
    log_flusher_stop(f);
    for (int i = 0; i < N; i++)
        log_partition_close(p[i]);
    log_journal_close(e.j);
    env_done(&e);
}

/* A record whose CRC holds but whose partition name has a NUL in it ends the journal like a torn
 * one: names are directories, and a NUL would make two names one for replay. */
static void test_record_with_a_nul_in_its_name_is_corrupt(void **state)
{
    (void)state;
    hd_buf_t b, batch;
    hd_buf_init(&b);
    hd_buf_init(&batch);
    bb_build(&batch, 1, 1000, 1000, 10);
    log_journal_rec_t rec;
    log__journal_record_build(&b, 7, LOG_JOURNAL_KIND_BATCH, "t-0", 3, 5, batch.p, batch.len);
    assert_int_equal(log__journal_record_parse(b.p, b.len, 7, &rec), (ssize_t)b.len);
    assert_memory_equal(rec.name, "t-0", 3);
    assert_int_equal(rec.base_offset, 5);
    hd_buf_reset(&b);
    log__journal_record_build(&b, 7, LOG_JOURNAL_KIND_BATCH, "t\0x", 3, 5, batch.p, batch.len);
    assert_int_equal(log__journal_record_parse(b.p, b.len, 7, &rec), HD_ECORRUPT);
    hd_buf_deinit(&b);
    hd_buf_deinit(&batch);
}

/* Writeback starts (not waits) of any file. */
static atomic_int wb_starts;
static int counting_writeback(int fd, off_t off, off_t len, bool wait)
{
    if (!wait)
        atomic_fetch_add(&wb_starts, 1);
    return hd_fileio_default.writeback(fd, off, len, wait);
}

/* A crash that lost the segment's tail (power loss before the checkpoint) keeps everything the
 * journal holds: replay appends it back, byte for byte, without starting the writeback of each
 * batch. */
static void test_replay_restores_a_lost_segment_tail(void **state)
{
    (void)state;
    env_t e;
    env_init(&e, 1 << 20);
    log_partition_t *p = open_p(&e, "a-0");
    int64_t base;
    for (int i = 0; i < 6; i++)
        assert_int_equal(append(&e, p, 2 + i, 50 + (size_t)i, &base), 0);
    hd_buf_t want;
    hd_buf_init(&want);
    size_t want_len = read_all(p, &want);
    int64_t end = log_partition_end_offset(p);
    assert_int_equal(log__journal_sync(e.j), 0);
    log_partition_close_dirty(p);
    log_journal_close_dirty(e.j);
    /* The segment lost everything after its second batch (and the marker, if any). */
    char path[200];
    int64_t keep = 12 + bb_get_i32(want.p + 8);
    keep += 12 + bb_get_i32(want.p + keep + 8);
    assert_int_equal(truncate(seg_path(&e, "a-0", path, sizeof path), keep), 0);
    /* Replay appends the four lost batches without starting their writeback one by one: its
     * end syncs them all (partition.c, writeback_early). */
    atomic_store(&wb_starts, 0);
    hd_io.writeback = counting_writeback;
    env_open_journal(&e);
    hd_io = hd_fileio_default;
    assert_int_equal(atomic_load(&wb_starts), 0);
    e.cfg.journal = e.j;
    p = open_p(&e, "a-0");
    assert_int_equal(log_partition_end_offset(p), end);
    hd_buf_t got;
    hd_buf_init(&got);
    assert_int_equal(read_all(p, &got), want_len);
    assert_memory_equal(got.p, want.p, want_len);
    /* And it takes new appends at its end. */
    assert_int_equal(append(&e, p, 1, 10, &base), 0);
    assert_int_equal(base, end);
    log_partition_close(p);
    log_journal_close(e.j);
    hd_buf_deinit(&want);
    hd_buf_deinit(&got);
    env_done(&e);
}

/* Cuts the journal's last record at every byte (the rest zeros, as in a preallocated file):
 * exactly the whole records before it are replayed. */
static void test_torn_journal_tail_is_cut_at_every_byte(void **state)
{
    (void)state;
    size_t rec_len = 0;
    for (size_t cut = 0;; cut += 7) {
        env_t e;
        env_init(&e, 1 << 16);
        log_partition_t *p = open_p(&e, "b-0");
        int64_t base;
        assert_int_equal(append(&e, p, 2, 40, &base), 0);
        assert_int_equal(append(&e, p, 3, 40, &base), 0);
        /* The record's own bytes; zeroing only its padding (zeros already) changes nothing. */
        if (!rec_len)
            rec_len = LOG_JOURNAL_REC_HDR + 3 + e.b.len;
        bool last = cut >= rec_len;
        assert_int_equal(log__journal_sync(e.j), 0); /* the round writes the staged records */
        log_partition_close_dirty(p);
        log_journal_close_dirty(e.j);
        char path[200];
        assert_int_equal(truncate(seg_path(&e, "b-0", path, sizeof path), 0), 0);
        /* The journal file is the only one; its second record starts after the first. */
        char jpath[200];
        snprintf(jpath, sizeof jpath, "%s/journal/00000000000000000000.jnl", e.d.root);
        int fd = open(jpath, O_RDWR);
        assert_true(fd >= 0);
        uint8_t hdr[32];
        assert_int_equal(pread(fd, hdr, 32, 0), 32);
        size_t r1 = log__journal_record_len((size_t)hdr[18] << 8 | hdr[19], bb_get_i32(hdr + 20));
        if (!last) {
            static const uint8_t zeros[4096];
            assert_int_equal(pwrite(fd, zeros, rec_len - cut, (off_t)(r1 + cut)),
                             (ssize_t)(rec_len - cut));
        }
        close(fd);
        env_open_journal(&e);
        e.cfg.journal = e.j;
        p = open_p(&e, "b-0");
        assert_int_equal(log_partition_end_offset(p), last ? 5 : 2);
        log_partition_close(p);
        log_journal_close(e.j);
        env_done(&e);
        if (last)
            break;
    }
}

/* A journal file that ends inside a record (cut short, not zeroed) ends the replay there. */
static void test_journal_file_cut_inside_a_record_ends_replay(void **state)
{
    (void)state;
    env_t e;
    env_init(&e, 1 << 16);
    log_partition_t *p = open_p(&e, "k-0");
    int64_t base;
    assert_int_equal(append(&e, p, 2, 40, &base), 0);
    assert_int_equal(append(&e, p, 3, 40, &base), 0);
    assert_int_equal(log__journal_sync(e.j), 0); /* the round writes the staged records */
    log_partition_close_dirty(p);
    log_journal_close_dirty(e.j);
    char path[200];
    assert_int_equal(truncate(seg_path(&e, "k-0", path, sizeof path), 0), 0);
    snprintf(path, sizeof path, "%s/journal/00000000000000000000.jnl", e.d.root);
    int fd = open(path, O_RDONLY);
    uint8_t hdr[32];
    assert_int_equal(pread(fd, hdr, 32, 0), 32);
    close(fd);
    size_t r1 = log__journal_record_len((size_t)hdr[18] << 8 | hdr[19], bb_get_i32(hdr + 20));
    assert_int_equal(truncate(path, (off_t)r1 + 40), 0);
    env_open_journal(&e);
    e.cfg.journal = e.j;
    p = open_p(&e, "k-0");
    assert_int_equal(log_partition_end_offset(p), 2);
    log_partition_close(p);
    log_journal_close(e.j);
    env_done(&e);
}

/* A partition deleted and created again in the same directory before a checkpoint: replay puts
 * only the new partition's batches into it, never the deleted one's. */
static void test_replay_skips_records_of_a_deleted_partition(void **state)
{
    (void)state;
    env_t e;
    env_init(&e, 1 << 20);
    log_partition_t *p = open_p(&e, "x-0");
    int64_t base;
    for (int i = 0; i < 3; i++)
        assert_int_equal(append(&e, p, 5, 80, &base), 0);
    log_partition_forget(p);
    log_partition_close(p);
    char dir[160];
    snprintf(dir, sizeof dir, "%s/x-0", e.d.root);
    assert_int_equal(log_partition_destroy_dir(dir), 0);
    p = open_p(&e, "x-0");
    assert_int_equal(append(&e, p, 2, 33, &base), 0);
    assert_int_equal(base, 0);
    hd_buf_t want;
    hd_buf_init(&want);
    size_t want_len = read_all(p, &want);
    assert_int_equal(log__journal_sync(e.j), 0); /* the round writes the staged records */
    log_partition_close_dirty(p);
    log_journal_close_dirty(e.j);
    char path[200];
    assert_int_equal(truncate(seg_path(&e, "x-0", path, sizeof path), 0), 0);
    env_open_journal(&e);
    e.cfg.journal = e.j;
    p = open_p(&e, "x-0");
    assert_int_equal(log_partition_end_offset(p), 2);
    hd_buf_t got;
    hd_buf_init(&got);
    assert_int_equal(read_all(p, &got), want_len);
    assert_memory_equal(got.p, want.p, want_len);
    log_partition_close(p);
    log_journal_close(e.j);
    hd_buf_deinit(&want);
    hd_buf_deinit(&got);
    env_done(&e);
}

/* Appends, the flusher's rounds and the checkpoint thread (checkpointing continuously) all at
 * once; after a crash the partitions hold exactly what was appended. Run under TSan by
 * `make unit-tsan`. */
static void test_checkpoints_run_concurrently_with_appends_and_syncs(void **state)
{
    (void)state;
    enum { N = 4, ROUNDS = 400 };
    env_t e;
    bb_dir_make(&e.d);
    log_journal_config_defaults(&e.jc);
    e.jc.file_bytes = 16384;
    e.jc.checkpoint_interval_ms = 0;
    env_open_journal(&e);
    log_config_defaults(&e.cfg);
    e.cfg.journal = e.j;
    hd_buf_init(&e.b);
    log_partition_t *p[N];
    for (int i = 0; i < N; i++) {
        char name[16];
        snprintf(name, sizeof name, "c-%d", i);
        p[i] = open_p(&e, name);
    }
    log_flusher_t *f = NULL;
    assert_int_equal(log_flusher_start(NULL, NULL, &f), 0);
    log_flusher_set_journal(f, e.j);
    int64_t base;
    for (int k = 0; k < ROUNDS; k++) {
        assert_int_equal(append(&e, p[k % N], 3, 100, &base), 0);
        log_flusher_mark_dirty(f, p[k % N]);
    }
    log_flusher_stop(f);
    for (int i = 0; i < N; i++) {
        assert_int_equal(log_partition_durable_offset(p[i]), 3 * ROUNDS / N);
        log_partition_close_dirty(p[i]);
    }
    log_journal_close_dirty(e.j);
    env_open_journal(&e);
    e.cfg.journal = e.j;
    for (int i = 0; i < N; i++) {
        char name[16];
        snprintf(name, sizeof name, "c-%d", i);
        p[i] = open_p(&e, name);
        assert_int_equal(log_partition_end_offset(p[i]), 3 * ROUNDS / N);
        hd_buf_t got;
        hd_buf_init(&got);
        read_all(p[i], &got);
        hd_buf_deinit(&got);
        log_partition_close(p[i]);
    }
    log_journal_close(e.j);
    env_done(&e);
}

/* Small files: the journal rotates many times, and replay follows the end-of-file records
 * across all of them. */
static void test_replay_follows_rotation_across_files(void **state)
{
    (void)state;
    env_t e;
    env_init(&e, 4096);
    log_partition_t *p = open_p(&e, "c-0"), *q = open_p(&e, "c-1");
    int64_t base;
    for (int i = 0; i < 40; i++)
        assert_int_equal(append(&e, i % 2 ? q : p, 4, 200, &base), 0);
    assert_true(count_journal_files(&e) >= 8);
    int64_t pend = log_partition_end_offset(p), qend = log_partition_end_offset(q);
    assert_int_equal(log__journal_sync(e.j), 0); /* the round writes the staged records */
    log_partition_close_dirty(p);
    log_partition_close_dirty(q);
    log_journal_close_dirty(e.j);
    char path[200];
    assert_int_equal(truncate(seg_path(&e, "c-0", path, sizeof path), 0), 0);
    assert_int_equal(truncate(seg_path(&e, "c-1", path, sizeof path), 0), 0);
    env_open_journal(&e);
    e.cfg.journal = e.j;
    /* Recovery starts a fresh file and deletes the replayed ones. */
    assert_int_equal(count_journal_files(&e), 1);
    p = open_p(&e, "c-0");
    q = open_p(&e, "c-1");
    assert_int_equal(log_partition_end_offset(p), pend);
    assert_int_equal(log_partition_end_offset(q), qend);
    log_partition_close(p);
    log_partition_close(q);
    log_journal_close(e.j);
    env_done(&e);
}

/* A checkpoint makes the segments durable and lets the journal drop its older files; after it
 * nothing before the checkpoint is replayed (a segment cut below it stays cut: the checkpoint
 * vouched for the disk). */
static void test_checkpoint_moves_the_replay_start_and_drops_files(void **state)
{
    (void)state;
    env_t e;
    env_init(&e, 4096);
    log_partition_t *p = open_p(&e, "d-0");
    int64_t base;
    for (int i = 0; i < 20; i++)
        assert_int_equal(append(&e, p, 4, 200, &base), 0);
    assert_true(count_journal_files(&e) >= 4);
    assert_int_equal(log_journal_checkpoint(e.j), 0);
    assert_int_equal(count_journal_files(&e), 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(append(&e, p, 4, 200, &base), 0);
    assert_int_equal(log__journal_sync(e.j), 0); /* what a round acknowledges survives */
    int64_t end = log_partition_end_offset(p);
    log_partition_close_dirty(p);
    log_journal_close_dirty(e.j);
    env_open_journal(&e);
    e.cfg.journal = e.j;
    p = open_p(&e, "d-0");
    assert_int_equal(log_partition_end_offset(p), end);
    hd_buf_t got;
    hd_buf_init(&got);
    read_all(p, &got);
    hd_buf_deinit(&got);
    log_partition_close(p);
    log_journal_close(e.j);
    env_done(&e);
}

/* ENOSPC on the journal write (made by the round's sync, which writes the staged records): the
 * sync fails and no durable offset moves, every later append is refused (the error is sticky),
 * and after a restart the log holds what was acknowledged, not the batch whose round failed (it
 * waited in the partition's pending segment bytes, lost with the process), and takes appends
 * again. */
static void test_enospc_on_journal_write_fails_appends_until_restart(void **state)
{
    (void)state;
    env_t e;
    env_init(&e, 1 << 20);
    log_partition_t *p = open_p(&e, "e-0");
    log_flusher_t *f = NULL;
    assert_int_equal(log_flusher_start(NULL, NULL, &f), 0);
    log_flusher_set_journal(f, e.j);
    int64_t base;
    assert_int_equal(append(&e, p, 2, 30, &base), 0);
    log_flusher_mark_dirty(f, p);
    for (int k = 0; k < 2000 && log_partition_durable_offset(p) < 2; k++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    assert_int_equal(log_partition_durable_offset(p), 2);
    pwrites = 0;
    fail_at = 1; /* the segment write waits in memory; the journal write fails */
    hd_io.pwrite = counting_pwrite;
    assert_int_equal(append(&e, p, 3, 30, &base), 0);
    log_flusher_mark_dirty(f, p);
    for (int k = 0; k < 2000 && !log_journal_error(e.j); k++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    hd_io = hd_fileio_default;
    assert_int_equal(log_journal_error(e.j), -ENOSPC);
    assert_int_equal(log_partition_durable_offset(p), 2);
    assert_int_equal(append(&e, p, 3, 30, &base), -ENOSPC);
    assert_int_equal(log__journal_sync(e.j), -ENOSPC);
    log_flusher_stop(f);
    assert_int_equal(log_partition_durable_offset(p), 2);
    log_partition_close_dirty(p);
    log_journal_close_dirty(e.j);
    env_open_journal(&e);
    e.cfg.journal = e.j;
    p = open_p(&e, "e-0");
    assert_int_equal(log_partition_end_offset(p), 2);
    assert_int_equal(append(&e, p, 3, 30, &base), 0);
    assert_int_equal(base, 2);
    log_partition_close(p);
    log_journal_close(e.j);
    env_done(&e);
}

/* EIO from the journal's fdatasync: no durable offset moves, and the error is sticky. */
static void test_eio_on_journal_sync_keeps_durable_offsets(void **state)
{
    (void)state;
    env_t e;
    env_init(&e, 1 << 20);
    log_partition_t *p = open_p(&e, "f-0");
    log_flusher_t *f = NULL;
    assert_int_equal(log_flusher_start(NULL, NULL, &f), 0);
    log_flusher_set_journal(f, e.j);
    int64_t base;
    hd_io.fdatasync = failing_fdatasync;
    assert_int_equal(append(&e, p, 2, 30, &base), 0);
    log_flusher_mark_dirty(f, p);
    for (int k = 0; k < 200 && !log_journal_error(e.j); k++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    hd_io = hd_fileio_default;
    assert_int_equal(log_journal_error(e.j), -EIO);
    assert_int_equal(log_partition_durable_offset(p), 0);
    assert_int_equal(append(&e, p, 2, 30, &base), -EIO);
    log_flusher_stop(f);
    assert_int_equal(log_partition_durable_offset(p), 0);
    log_partition_close(p);
    log_journal_close(e.j);
    env_done(&e);
}

/* A failure in the middle of recovery (here ENOSPC on a replayed append) leaves the journal and
 * its checkpoint as they were: the next open recovers everything. */
static void test_failed_recovery_recovers_on_the_next_open(void **state)
{
    (void)state;
    env_t e;
    env_init(&e, 1 << 20);
    log_partition_t *p = open_p(&e, "g-0");
    int64_t base;
    for (int i = 0; i < 5; i++)
        assert_int_equal(append(&e, p, 2, 60, &base), 0);
    assert_int_equal(log__journal_sync(e.j), 0); /* the round writes the staged records */
    log_partition_close_dirty(p);
    log_journal_close_dirty(e.j);
    char path[200];
    assert_int_equal(truncate(seg_path(&e, "g-0", path, sizeof path), 0), 0);
    pwrites = 0;
    fail_at = 3; /* the third batch replayed cannot be written */
    hd_io.pwrite = counting_pwrite;
    log_journal_t *j = NULL;
    assert_int_equal(log_journal_open(e.d.root, &e.jc, &j), -ENOSPC);
    hd_io = hd_fileio_default;
    env_open_journal(&e);
    e.cfg.journal = e.j;
    p = open_p(&e, "g-0");
    assert_int_equal(log_partition_end_offset(p), 10);
    log_partition_close(p);
    log_journal_close(e.j);
    env_done(&e);
}

static int count_rec(void *ctx, const log_journal_rec_t *rec)
{
    (void)rec;
    (*(int *)ctx)++;
    return 0;
}

static int count_spares(env_t *e)
{
    char dir[128];
    snprintf(dir, sizeof dir, "%s/journal", e->d.root);
    DIR *dd = opendir(dir);
    assert_non_null(dd);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dd)))
        n += strncmp(de->d_name, "spare-", 6) == 0;
    closedir(dd);
    return n;
}

/* Files retired by a checkpoint are kept as spares and reused by the next rotations; the old
 * records they still hold never validate under the new name, so replay reads only the new ones
 * and a crash after the reuse recovers exactly the log. */
static void test_checkpointed_files_are_reused_and_old_records_ignored(void **state)
{
    (void)state;
    env_t e;
    env_init(&e, 4096);
    log_partition_t *p = open_p(&e, "s-0");
    int64_t base;
    for (int i = 0; i < 20; i++)
        assert_int_equal(append(&e, p, 4, 200, &base), 0);
    assert_int_equal(log_journal_checkpoint(e.j), 0);
    int spares = count_spares(&e);
    assert_true(spares >= 1);
    /* A 4 KiB file holds four of these records: four appends rotate into a spare. */
    for (int i = 0; i < 4; i++)
        assert_int_equal(append(&e, p, 4, 200, &base), 0);
    assert_true(count_spares(&e) < spares);
    int64_t end = log_partition_end_offset(p);
    assert_int_equal(log__journal_sync(e.j), 0); /* the round writes the staged records */
    log_partition_close_dirty(p);
    log_journal_close_dirty(e.j);
    /* The newest file is a reused one: only the records written since hold its seq. */
    char jdir[128];
    snprintf(jdir, sizeof jdir, "%s/journal", e.d.root);
    DIR *dd = opendir(jdir);
    uint64_t last = 0;
    struct dirent *de;
    while ((de = readdir(dd)))
        if (strlen(de->d_name) == 24 && strcmp(de->d_name + 20, ".jnl") == 0 &&
            strtoull(de->d_name, NULL, 10) > last)
            last = strtoull(de->d_name, NULL, 10);
    closedir(dd);
    char path[200];
    snprintf(path, sizeof path, "%s/%020llu.jnl", jdir, (unsigned long long)last);
    int fd = open(path, O_RDONLY);
    uint8_t buf[4096];
    assert_int_equal(pread(fd, buf, sizeof buf, 0), (ssize_t)sizeof buf);
    close(fd);
    int n = 0, why;
    assert_true(log__journal_scan(buf, sizeof buf, last, &why, count_rec, &n) > 0);
    if (n < 1 || n > 4)
        fail_msg("%d records in the reused file", n);
    assert_int_equal(why, HD_ECORRUPT); /* ends at an old record (or zeros), not at garbage */
    env_open_journal(&e);
    e.cfg.journal = e.j;
    p = open_p(&e, "s-0");
    assert_int_equal(log_partition_end_offset(p), end);
    hd_buf_t got;
    hd_buf_init(&got);
    read_all(p, &got);
    hd_buf_deinit(&got);
    log_partition_close(p);
    log_journal_close(e.j);
    env_done(&e);
}

/* A record of a journal file read under another file's sequence number (a reused or renamed
 * file) does not validate. */
static void test_record_of_another_file_does_not_parse(void **state)
{
    (void)state;
    env_t e;
    env_init(&e, 1 << 20);
    log_partition_t *p = open_p(&e, "h-0");
    int64_t base;
    assert_int_equal(append(&e, p, 2, 60, &base), 0);
    assert_int_equal(log__journal_sync(e.j), 0); /* the round writes the staged records */
    char jpath[200];
    snprintf(jpath, sizeof jpath, "%s/journal/00000000000000000000.jnl", e.d.root);
    int fd = open(jpath, O_RDONLY);
    uint8_t buf[512];
    assert_int_equal(pread(fd, buf, sizeof buf, 0), (ssize_t)sizeof buf);
    close(fd);
    log_journal_rec_t rec;
    ssize_t n = log__journal_record_parse(buf, sizeof buf, 0, &rec);
    assert_true(n > 0);
    assert_int_equal(rec.base_offset, 0);
    assert_int_equal(rec.name_len, 3);
    assert_memory_equal(rec.name, "h-0", 3);
    assert_int_equal(log__journal_record_parse(buf, sizeof buf, 1, &rec), HD_ECORRUPT);
    assert_int_equal(log__journal_record_parse(buf, (size_t)n - 1, 0, &rec), HD_EINCOMPLETE);
    buf[40] ^= 1;
    assert_int_equal(log__journal_record_parse(buf, sizeof buf, 0, &rec), HD_ECORRUPT);
    log_partition_close(p);
    log_journal_close(e.j);
    env_done(&e);
}

/* ---- pending segment writes (partition.c, "Pending writes") ---- */

enum { PN = 40 };

typedef struct pend_env {
    env_t e;
    log_partition_t *p[PN];
    hd_buf_t want[PN]; /* every batch appended to p[i], as stored */
} pend_env_t;

static void pend_open(pend_env_t *pe)
{
    for (int i = 0; i < PN; i++) {
        char name[16];
        snprintf(name, sizeof name, "q-%d", i);
        pe->p[i] = open_p(&pe->e, name);
    }
}

static void pend_init(pend_env_t *pe)
{
    env_init(&pe->e, 1 << 20);
    pe->e.cfg.segment_bytes = 48 * 1024; /* rolls, with bytes pending, along the way */
    for (int i = 0; i < PN; i++)
        hd_buf_init(&pe->want[i]);
    pend_open(pe);
}

static void pend_done(pend_env_t *pe)
{
    for (int i = 0; i < PN; i++)
        hd_buf_deinit(&pe->want[i]);
    env_done(&pe->e);
}

/* Appends `rounds` one-record batches of `vlen` bytes to each partition in turn. */
static void pend_append(pend_env_t *pe, int rounds, size_t vlen)
{
    for (int k = 0; k < rounds; k++)
        for (int i = 0; i < PN; i++) {
            int64_t base;
            assert_int_equal(append(&pe->e, pe->p[i], 1, vlen + (size_t)(k % 7), &base), 0);
            hd_buf_put(&pe->want[i], pe->e.b.p, pe->e.b.len);
        }
}

static size_t pending_of(log_partition_t *p)
{
    pthread_mutex_lock(&p->lock);
    size_t n = p->pend_len;
    pthread_mutex_unlock(&p->lock);
    return n;
}

/* Every partition reads back exactly what was appended to it. */
static void pend_check(pend_env_t *pe)
{
    hd_buf_t got;
    hd_buf_init(&got);
    for (int i = 0; i < PN; i++) {
        assert_int_equal(read_all(pe->p[i], &got), pe->want[i].len);
        assert_memory_equal(got.p, pe->want[i].p, got.len);
    }
    hd_buf_deinit(&got);
}

/* The bytes of p's active segment file from pos on, as on disk (not through the log). */
static bool file_holds(pend_env_t *pe, int i, int64_t pos, const uint8_t *want, size_t len)
{
    log_segment_t *s = pe->p[i]->segs[pe->p[i]->nsegs - 1];
    uint8_t *buf = hd_malloc(len);
    ssize_t n = pread(s->log_fd, buf, len, (off_t)pos);
    bool same = n == (ssize_t)len && memcmp(buf, want, len) == 0;
    free(buf);
    return same;
}

/* Small batches to many partitions wait in memory, not in the segment files, and every read
 * (before and after the partitions' own bound, a roll, a checkpoint) sees all of them. */
static void test_pending_batches_are_read_back_before_and_after_flushes(void **state)
{
    (void)state;
    pend_env_t pe;
    pend_init(&pe);
    pend_append(&pe, 3, 100);
    /* Nothing of the three batches is in the file yet; a read writes them first. */
    for (int i = 0; i < PN; i++) {
        assert_int_equal(pending_of(pe.p[i]), pe.want[i].len);
        assert_false(file_holds(&pe, i, 0, pe.want[i].p, pe.want[i].len));
    }
    pend_check(&pe);
    for (int i = 0; i < PN; i++) {
        assert_int_equal(pending_of(pe.p[i]), 0);
        assert_true(file_holds(&pe, i, 0, pe.want[i].p, pe.want[i].len));
    }
    /* Past LOG_PEND_MAX per partition and past several rolls; then pending again. */
    pend_append(&pe, 400, 300);
    for (int i = 0; i < PN; i++) {
        assert_true(pending_of(pe.p[i]) > 0);
        assert_true(pending_of(pe.p[i]) <= LOG_PEND_MAX);
        assert_true(log_partition_segment_count(pe.p[i]) > 2);
    }
    pend_check(&pe);
    pend_append(&pe, 5, 100);
    /* The offset and time lookups see pending batches too. */
    int64_t ts;
    assert_int_equal(log_partition_max_time(pe.p[0], log_partition_end_offset(pe.p[0]), &ts), 0);
    assert_int_equal(ts, 1001);
    assert_int_equal(pending_of(pe.p[0]), 0);
    /* A checkpoint writes them all. */
    assert_int_equal(log__journal_sync(pe.e.j), 0);
    assert_int_equal(log_journal_checkpoint(pe.e.j), 0);
    for (int i = 0; i < PN; i++)
        assert_int_equal(pending_of(pe.p[i]), 0);
    pend_check(&pe);
    /* A clean close writes them too: reopened without replay, everything is there. */
    pend_append(&pe, 2, 100);
    for (int i = 0; i < PN; i++)
        log_partition_close(pe.p[i]);
    log_journal_close(pe.e.j);
    env_open_journal(&pe.e);
    pe.e.cfg.journal = pe.e.j;
    pend_open(&pe);
    pend_check(&pe);
    for (int i = 0; i < PN; i++)
        log_partition_close(pe.p[i]);
    log_journal_close(pe.e.j);
    pend_done(&pe);
}

/* The process dies (kill -9) with synced, acknowledged batches only in the pending buffers, some
 * of them after a checkpoint: replay restores every one. A checkpoint that did not write the
 * pending bytes first would move the replay start past batches no segment holds. */
/* Distinct threads that read segment files (replay opens its partitions together). */
static pthread_t seg_readers[LOG_OPEN_THREADS_MAX + 1];
static int nseg_readers;
static pthread_mutex_t seg_readers_mu = PTHREAD_MUTEX_INITIALIZER;
static ssize_t noting_pread(int fd, void *buf, size_t n, off_t off)
{
    char link[64], path[512];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t k = readlink(link, path, sizeof path - 1);
    if (k > 4 && memcmp(path + k - 4, ".log", 4) == 0) {
        pthread_mutex_lock(&seg_readers_mu);
        int i = 0;
        while (i < nseg_readers && !pthread_equal(seg_readers[i], pthread_self()))
            i++;
        if (i == nseg_readers && i < (int)HD_ARRAY_LEN(seg_readers))
            seg_readers[nseg_readers++] = pthread_self();
        pthread_mutex_unlock(&seg_readers_mu);
    }
    return hd_fileio_default.pread(fd, buf, n, off);
}

static void crash_with_pending(bool checkpoint)
{
    pend_env_t pe;
    pend_init(&pe);
    pend_append(&pe, 30, 200);
    if (checkpoint) {
        assert_int_equal(log__journal_sync(pe.e.j), 0);
        for (int i = 0; i < PN; i++)
            assert_true(pending_of(pe.p[i]) > 0);
        assert_int_equal(log_journal_checkpoint(pe.e.j), 0);
    }
    pend_append(&pe, 3, 100);
    assert_int_equal(log__journal_sync(pe.e.j), 0);
    int64_t end[PN];
    for (int i = 0; i < PN; i++) {
        assert_true(pending_of(pe.p[i]) > 0);
        end[i] = log_partition_end_offset(pe.p[i]);
        log_partition_close_dirty(pe.p[i]); /* the pending bytes are lost */
    }
    log_journal_close_dirty(pe.e.j);
    env_open_journal(&pe.e);
    pe.e.cfg.journal = pe.e.j;
    pend_open(&pe);
    for (int i = 0; i < PN; i++)
        assert_int_equal(log_partition_end_offset(pe.p[i]), end[i]);
    pend_check(&pe);
    for (int i = 0; i < PN; i++)
        log_partition_close(pe.p[i]);
    log_journal_close(pe.e.j);
    pend_done(&pe);
}

static void test_crash_with_pending_batches_replays_them(void **state)
{
    (void)state;
    crash_with_pending(false);
}

static void test_checkpoint_writes_pending_batches_before_moving_replay_start(void **state)
{
    (void)state;
    crash_with_pending(true);
}

/* Replay opens its partitions on several threads at once (each open reads its segments from the
 * last marker on), and every partition still reads back exactly what was appended. */
static void test_replay_opens_partitions_together(void **state)
{
    (void)state;
    enum { NP = 24 };
    env_t e;
    env_init(&e, 16 << 20);
    log_partition_t *p[NP];
    hd_buf_t want[NP], got;
    hd_buf_init(&got);
    int64_t base;
    for (int i = 0; i < NP; i++) {
        char name[16];
        snprintf(name, sizeof name, "o-%d", i);
        p[i] = open_p(&e, name);
        hd_buf_init(&want[i]);
        /* Past LOG_PEND_MAX: written to the segment at once, which the open then scans. */
        assert_int_equal(append(&e, p[i], 1, LOG_PEND_MAX + 100 * (size_t)i, &base), 0);
        hd_buf_put(&want[i], e.b.p, e.b.len);
        assert_int_equal(append(&e, p[i], 2, 300, &base), 0);
        hd_buf_put(&want[i], e.b.p, e.b.len);
    }
    assert_int_equal(log__journal_sync(e.j), 0);
    for (int i = 0; i < NP; i++)
        log_partition_close_dirty(p[i]);
    log_journal_close_dirty(e.j);
    nseg_readers = 0;
    hd_io.pread = noting_pread;
    env_open_journal(&e);
    hd_io = hd_fileio_default;
    assert_true(nseg_readers >= 2);
    e.cfg.journal = e.j;
    for (int i = 0; i < NP; i++) {
        char name[16];
        snprintf(name, sizeof name, "o-%d", i);
        p[i] = open_p(&e, name);
        assert_int_equal(log_partition_end_offset(p[i]), 3);
        assert_int_equal(read_all(p[i], &got), want[i].len);
        assert_memory_equal(got.p, want[i].p, got.len);
        log_partition_close(p[i]);
        hd_buf_deinit(&want[i]);
    }
    hd_buf_deinit(&got);
    log_journal_close(e.j);
    env_done(&e);
}

/* The checkpoint's waited writebacks: (file, from, length) of each, and an error to return. */
static struct {
    dev_t dev;
    ino_t ino;
    int64_t off, len;
} wbs[64];
static int nwbs, wb_err;
static int recording_writeback(int fd, off_t off, off_t len, bool wait)
{
    if (wait) {
        if (wb_err)
            return wb_err;
        struct stat st;
        assert_int_equal(fstat(fd, &st), 0);
        assert_true(nwbs < (int)HD_ARRAY_LEN(wbs));
        wbs[nwbs].dev = st.st_dev;
        wbs[nwbs].ino = st.st_ino;
        wbs[nwbs].off = off;
        wbs[nwbs].len = len;
        nwbs++;
    }
    return hd_fileio_default.writeback(fd, off, len, wait);
}

/* Checks that the recorded writebacks of the file at path cover [from, to) exactly, in order, in
 * steps of at most LOG_WB_STEP; returns their number. */
static int wb_covered(const char *path, int64_t from, int64_t to)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    int64_t at = from;
    int k = 0;
    for (int i = 0; i < nwbs; i++) {
        if (wbs[i].dev != st.st_dev || wbs[i].ino != st.st_ino)
            continue;
        assert_int_equal(wbs[i].off, at);
        assert_true(wbs[i].len > 0 && wbs[i].len <= LOG_WB_STEP);
        at += wbs[i].len;
        k++;
    }
    assert_int_equal(at, to);
    return k;
}

/* A checkpoint writes each partition's new segment bytes back itself, a step at a time, before
 * its syncfs (partition.c, "The checkpoint's writeback"): from where the last one ended (its
 * page), only for partitions appended since; a failed writeback fails the checkpoint, and the
 * next one covers the same bytes again. */
static void test_checkpoint_writes_segments_back_in_steps(void **state)
{
    (void)state;
    env_t e;
    env_init(&e, 64 << 20);
    log_partition_t *a = open_p(&e, "wb-a"), *b = open_p(&e, "wb-b");
    char pa[160], pb[160];
    seg_path(&e, "wb-a", pa, sizeof pa);
    seg_path(&e, "wb-b", pb, sizeof pb);
    int64_t base;
    for (int i = 0; i < 10; i++) /* 5 MiB and a little: two steps */
        assert_int_equal(append(&e, a, 1, 512 * 1024, &base), 0);
    for (int i = 0; i < 3; i++) /* pending until the checkpoint writes them */
        assert_int_equal(append(&e, b, 1, 1000, &base), 0);
    int64_t a1 = a->segs[0]->size, b1 = b->segs[0]->size;
    hd_io.writeback = recording_writeback;
    nwbs = 0;
    assert_int_equal(log_journal_checkpoint(e.j), 0);
    assert_int_equal(wb_covered(pa, 0, a1), 2);
    assert_int_equal(wb_covered(pb, 0, b1), 1);
    /* Only b appended since: b from the page where the last checkpoint ended, a not at all. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(append(&e, b, 1, 1000, &base), 0);
    int64_t b2 = b->segs[0]->size;
    nwbs = 0;
    assert_int_equal(log_journal_checkpoint(e.j), 0);
    assert_int_equal(wb_covered(pb, b1 & ~(int64_t)4095, b2), 1);
    assert_int_equal(wb_covered(pa, 0, 0), 0);
    /* A writeback error fails the checkpoint; the next one starts again where the last good one
     * ended. */
    assert_int_equal(append(&e, a, 1, 1000, &base), 0);
    int64_t a2 = a->segs[0]->size;
    wb_err = -EIO;
    assert_int_equal(log_journal_checkpoint(e.j), -EIO);
    wb_err = 0;
    nwbs = 0;
    assert_int_equal(log_journal_checkpoint(e.j), 0);
    assert_int_equal(wb_covered(pa, a1 & ~(int64_t)4095, a2), 1);
    hd_io = hd_fileio_default;
    log_partition_close(a);
    log_partition_close(b);
    log_journal_close(e.j);
    env_done(&e);
}

/* Appends `rounds` one-record batches of 1,000 bytes to each of np partitions (a round synced
 * every 20); returns the peak capacity of their pending buffers. */
static int64_t pend_fill(env_t *e, log_partition_t **p, int np, int rounds)
{
    int64_t peak = 0, base;
    for (int k = 0; k < rounds; k++) {
        for (int i = 0; i < np; i++) {
            assert_int_equal(append(e, p[i], 1, 1000, &base), 0);
            int64_t total = log__journal_pend_total(e->j);
            if (total > peak)
                peak = total;
        }
        if (k % 20 == 19)
            assert_int_equal(log__journal_sync(e->j), 0);
    }
    return peak;
}

static void pend_check_and_close(env_t *e, log_partition_t **p, int np, int64_t end)
{
    hd_buf_t got;
    hd_buf_init(&got);
    for (int i = 0; i < np; i += 37) {
        read_all(p[i], &got);
        assert_int_equal(log_partition_end_offset(p[i]), end);
    }
    hd_buf_deinit(&got);
    assert_int_equal(log_partition_close_many(p, np), 0);
    free(p);
    log_journal_close(e->j);
    env_done(e);
}

static log_partition_t **pend_open_many(env_t *e, int np)
{
    env_init(e, 64 << 20);
    log_partition_t **p = hd_calloc((size_t)np, sizeof *p);
    for (int i = 0; i < np; i++) {
        char name[16];
        snprintf(name, sizeof name, "t-%d", i);
        p[i] = open_p(e, name);
    }
    return p;
}

/* Past LOG_PEND_TOTAL_MAX of capacity the writer thread writes every partition's pending
 * bytes and frees the buffers, while the loop thread goes on appending; every byte reads back. */
static void test_pending_buffers_are_written_by_the_writer_thread(void **state)
{
    (void)state;
    enum { NP = 700 };
    env_t e;
    log_partition_t **p = pend_open_many(&e, NP);
    int64_t peak = pend_fill(&e, p, NP, 60);
    assert_true(peak > LOG_PEND_TOTAL_MAX / 2);
    /* 700 buffers of up to 64 KiB would reach 44 MiB: the thread brought them back. */
    int64_t total = log__journal_pend_total(e.j);
    for (int i = 0; i < 500 && total > LOG_PEND_TOTAL_MAX; i++) {
        usleep(10 * 1000);
        total = log__journal_pend_total(e.j);
    }
    assert_true(total <= LOG_PEND_TOTAL_MAX);
    pend_check_and_close(&e, p, NP, 60);
}

/* The memory bound: with the writer thread held, the loop thread writes and frees every
 * partition's pending bytes itself once the capacity reaches twice LOG_PEND_TOTAL_MAX. */
static void test_pending_buffers_are_bounded_in_total(void **state)
{
    (void)state;
    enum { NP = 1200 };
    env_t e;
    atomic_store(&log__pend_async_hold, true);
    log_partition_t **p = pend_open_many(&e, NP);
    int64_t peak = pend_fill(&e, p, NP, 60);
    atomic_store(&log__pend_async_hold, false);
    /* 1,200 buffers of up to 64 KiB would reach 75 MiB. */
    assert_true(peak > LOG_PEND_TOTAL_MAX);
    assert_true(peak <= 2 * LOG_PEND_TOTAL_MAX + 2 * LOG_PEND_MAX);
    pend_check_and_close(&e, p, NP, 60);
}

/* pwrite that counts the bytes written to segment files on the test's thread and off it, and
 * fails the first seg_fail writes off it with EIO. */
static pthread_t test_thread;
static atomic_long seg_on_thread, seg_off_thread;
static atomic_int seg_fail;
static ssize_t thread_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    char link[64], path[512];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t k = readlink(link, path, sizeof path - 1);
    if (k > 4 && memcmp(path + k - 4, ".log", 4) == 0) {
        if (pthread_equal(pthread_self(), test_thread)) {
            atomic_fetch_add(&seg_on_thread, (long)n);
        } else {
            if (atomic_load(&seg_fail) > 0) {
                atomic_fetch_sub(&seg_fail, 1);
                return -EIO;
            }
            atomic_fetch_add(&seg_off_thread, (long)n);
        }
    }
    return hd_fileio_default.pwrite(fd, buf, n, off);
}

/* Appends one 1,000-byte record and waits until the writer thread is done with p's set. */
static void append_and_settle(env_t *e, log_partition_t *p)
{
    int64_t base;
    assert_int_equal(append(e, p, 1, 1000, &base), 0);
    for (int i = 0; i < 5000; i++) {
        pthread_mutex_lock(&p->lock);
        bool busy = p->wr_busy;
        pthread_mutex_unlock(&p->lock);
        if (!busy)
            return;
        usleep(1000);
    }
    fail_msg("the writer thread kept the set");
}

static void thread_pwrite_on(int fail)
{
    test_thread = pthread_self();
    atomic_store(&seg_on_thread, 0);
    atomic_store(&seg_off_thread, 0);
    atomic_store(&seg_fail, fail);
    hd_io.pwrite = thread_pwrite;
}

/* Closes p (cleanly), opens it again and checks that it ends at `end` and reads back `got`
 * byte for byte; frees got and closes everything. */
static void reopen_reads_the_same(env_t *e, log_partition_t *p, const char *name, hd_buf_t *got,
                                  int64_t end)
{
    log_partition_close(p);
    p = open_p(e, name);
    assert_int_equal(log_partition_end_offset(p), end);
    hd_buf_t again;
    hd_buf_init(&again);
    assert_int_equal(read_all(p, &again), got->len);
    assert_memory_equal(again.p, got->p, got->len);
    hd_buf_deinit(&again);
    hd_buf_deinit(got);
    log_partition_close(p);
    log_journal_close(e->j);
    env_done(e);
}

/* Pending bytes that would pass LOG_PEND_MAX are sealed and written by the journal's writer
 * thread: the appending thread writes no segment byte, and every batch reads back in order. */
static void test_sealed_pending_bytes_are_written_by_the_writer_thread(void **state)
{
    (void)state;
    env_t e;
    env_init(&e, 1 << 20);
    log_partition_t *p = open_p(&e, "w-0");
    thread_pwrite_on(0);
    for (int i = 0; i < 200; i++) /* about 214 KiB: three sets of about 64 KiB */
        append_and_settle(&e, p);
    assert_int_equal(atomic_load(&seg_on_thread), 0);
    assert_true(atomic_load(&seg_off_thread) >= 3 * (LOG_PEND_MAX - 2048));
    hd_buf_t got;
    hd_buf_init(&got);
    size_t len = read_all(p, &got); /* writes the rest on this thread */
    hd_io = hd_fileio_default;
    assert_int_equal(log_partition_end_offset(p), 200);
    assert_int_equal((size_t)(atomic_load(&seg_on_thread) + atomic_load(&seg_off_thread)), len);
    reopen_reads_the_same(&e, p, "w-0", &got, 200);
}

/* A failed write of a sealed set keeps it: the appends go on (the next pending bytes are written
 * after it), and the next write of everything (here a read's) writes it again, so the segment
 * has no hole. */
static void test_failed_set_write_is_retried_by_the_next_write(void **state)
{
    (void)state;
    env_t e;
    env_init(&e, 1 << 20);
    log_partition_t *p = open_p(&e, "w-0");
    thread_pwrite_on(1);
    int n = 0;
    for (; n < 70; n++)
        append_and_settle(&e, p);
    pthread_mutex_lock(&p->lock);
    size_t kept = p->wr_len;
    pthread_mutex_unlock(&p->lock);
    assert_true(kept > LOG_PEND_MAX - 2048);
    assert_int_equal(atomic_load(&seg_fail), 0);
    for (; n < 200; n++)
        append_and_settle(&e, p);
    assert_true(atomic_load(&seg_on_thread) > 0); /* pending bytes written after the kept set */
    hd_buf_t got;
    hd_buf_init(&got);
    size_t len = read_all(p, &got); /* read_all checks every batch's offset: no hole */
    hd_io = hd_fileio_default;
    pthread_mutex_lock(&p->lock);
    assert_int_equal(p->wr_len, 0);
    pthread_mutex_unlock(&p->lock);
    assert_int_equal(log_partition_end_offset(p), 200);
    assert_int_equal(len, got.len);
    reopen_reads_the_same(&e, p, "w-0", &got, 200);
}

/* pwrite that counts the writes to journal files made on the test's thread. */
static atomic_int jnl_on_thread;
static ssize_t jnl_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    char link[64], path[512];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t k = readlink(link, path, sizeof path - 1);
    if (k > 4 && memcmp(path + k - 4, ".jnl", 4) == 0 && pthread_equal(pthread_self(), test_thread))
        atomic_fetch_add(&jnl_on_thread, 1);
    return hd_fileio_default.pwrite(fd, buf, n, off);
}

/* An append leaves its journal record staged for the flusher's round, whether the flusher
 * is idle or in a round: the appending thread writes no journal byte (a write of part of a page
 * the flusher's direct writes left out of the page cache would read it from the disk first),
 * and each round makes what was staged before it durable. */
static void test_appends_leave_the_journal_writes_to_the_flusher(void **state)
{
    (void)state;
    env_t e;
    env_init(&e, 1 << 20);
    log_partition_t *p[2] = {open_p(&e, "i-0"), open_p(&e, "i-1")};
    log_flusher_t *f = NULL;
    assert_int_equal(log_flusher_start(NULL, NULL, &f), 0);
    log_flusher_set_journal(f, e.j);
    test_thread = pthread_self();
    atomic_store(&jnl_on_thread, 0);
    hd_io.pwrite = jnl_pwrite;
    int64_t base;
    int64_t want[2] = {0, 0};
    for (int round = 0; round < 6; round++) {
        /* Even rounds start after the flusher has waited idle for 20 ms, odd ones as soon as the
         * previous round made its records durable. */
        if (round % 2 == 0)
            usleep(20000);
        for (int i = 0; i < 2; i++) {
            assert_int_equal(append(&e, p[i], 1 + i, 100, &base), 0);
            want[i] += 1 + i;
            log_flusher_mark_dirty(f, p[i]);
        }
        for (int k = 0; k < 5000; k++) {
            if (log_partition_durable_offset(p[0]) == want[0] &&
                log_partition_durable_offset(p[1]) == want[1])
                break;
            usleep(1000);
        }
        assert_int_equal(log_partition_durable_offset(p[0]), want[0]);
        assert_int_equal(log_partition_durable_offset(p[1]), want[1]);
    }
    hd_io = hd_fileio_default;
    assert_int_equal(atomic_load(&jnl_on_thread), 0);
    log_flusher_stop(f);
    log_partition_close(p[0]);
    log_partition_close(p[1]);
    log_journal_close(e.j);
    env_done(&e);
}

/* Reopens pe's journal and partitions with the adaptive path's mode `direct_bytes`. */
static void pend_reopen_mode(pend_env_t *pe, int64_t direct_bytes)
{
    for (int i = 0; i < PN; i++)
        log_partition_close(pe->p[i]);
    log_journal_close(pe->e.j);
    pe->e.jc.direct_bytes = direct_bytes;
    env_open_journal(&pe->e);
    pe->e.cfg.journal = pe->e.j;
    pend_open(pe);
}

/* Partitions that switch between journaled and direct batches at every append (with rolls along
 * the way): each direct write comes after the pending journaled bytes in the file (the segment
 * stays contiguous), and a crash with batches both pending and written direct recovers every
 * byte, from the segments and the journal. */
static void test_switching_modes_keeps_segments_contiguous_through_a_crash(void **state)
{
    (void)state;
    pend_env_t pe;
    pend_init(&pe);
    pend_reopen_mode(&pe, LOG_DIRECT_ALTERNATE);
    for (int k = 0; k < 80; k++) {
        pend_append(&pe, 1, 200 + (size_t)k);
        for (int i = 0; i < PN; i++) {
            log_partition_t *p = pe.p[i];
            if (!p->direct) {
                assert_true(pending_of(p) > 0);
                continue;
            }
            /* Direct: nothing pending, and the active segment's file holds all of it. */
            assert_int_equal(pending_of(p), 0);
            int64_t size = p->segs[p->nsegs - 1]->size;
            assert_true(file_holds(&pe, i, 0, pe.want[i].p + pe.want[i].len - size, (size_t)size));
        }
    }
    assert_int_equal(log__journal_sync(pe.e.j), 0);
    assert_int_equal(log_journal_checkpoint(pe.e.j), 0);
    pend_append(&pe, 6, 150); /* after the checkpoint: replayed, or scanned in the segment */
    assert_int_equal(log__journal_sync(pe.e.j), 0);
    int64_t end[PN];
    for (int i = 0; i < PN; i++) {
        assert_false(pe.p[i]->direct); /* the last append was journaled, and is pending */
        assert_true(pending_of(pe.p[i]) > 0);
        end[i] = log_partition_end_offset(pe.p[i]);
        log_partition_close_dirty(pe.p[i]);
    }
    log_journal_close_dirty(pe.e.j);
    env_open_journal(&pe.e);
    pe.e.cfg.journal = pe.e.j;
    pend_open(&pe);
    for (int i = 0; i < PN; i++)
        assert_int_equal(log_partition_end_offset(pe.p[i]), end[i]);
    pend_check(&pe);
    for (int i = 0; i < PN; i++)
        log_partition_close(pe.p[i]);
    log_journal_close(pe.e.j);
    pend_done(&pe);
}

/* Direct writes through the flusher: each round syncs the partitions' own segments (no journal
 * record), durable offsets move; an EIO from a segment's fdatasync keeps its durable offset where
 * it was for good, while the other partition goes on. */
static void test_direct_rounds_sync_segments_and_keep_eio_sticky(void **state)
{
    (void)state;
    env_t e;
    env_init(&e, 1 << 20);
    log_journal_close(e.j);
    e.jc.direct_bytes = LOG_DIRECT_ALWAYS;
    env_open_journal(&e);
    e.cfg.journal = e.j;
    log_partition_t *p = open_p(&e, "d-0"), *q = open_p(&e, "d-1");
    log_flusher_t *f = NULL;
    assert_int_equal(log_flusher_start(NULL, NULL, &f), 0);
    log_flusher_set_journal(f, e.j);
    int64_t base;
    assert_int_equal(append(&e, p, 2, 30, &base), 0);
    off_t plen = (off_t)e.b.len;
    assert_int_equal(append(&e, q, 3, 30, &base), 0);
    struct stat st;
    char path[160];
    assert_int_equal(stat(seg_path(&e, "d-0", path, sizeof path), &st), 0);
    assert_int_equal(st.st_size, plen); /* written at once, not pending */
    log_flusher_mark_dirty(f, p);
    log_flusher_mark_dirty(f, q);
    for (int k = 0;
         k < 5000 && (log_partition_durable_offset(p) < 2 || log_partition_durable_offset(q) < 3);
         k++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    assert_int_equal(log_partition_durable_offset(p), 2);
    assert_int_equal(log_partition_durable_offset(q), 3);
    /* EIO on p's segment sync (q appends nothing meanwhile), and on the syncfs that covers a
     * round of few direct partitions (flusher.c), so that the segment's fdatasync decides. */
    hd_io.fdatasync = failing_fdatasync;
    hd_io.syncfs = failing_fdatasync;
    assert_int_equal(append(&e, p, 2, 30, &base), 0);
    log_flusher_mark_dirty(f, p);
    for (int k = 0; k < 2000; k++) {
        pthread_mutex_lock(&p->lock);
        int err = p->sync_err;
        pthread_mutex_unlock(&p->lock);
        if (err)
            break;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    hd_io = hd_fileio_default;
    pthread_mutex_lock(&p->lock);
    assert_int_equal(p->sync_err, -EIO);
    pthread_mutex_unlock(&p->lock);
    assert_int_equal(log_partition_durable_offset(p), 2);
    assert_int_equal(append(&e, p, 1, 30, &base), 0);
    assert_int_equal(append(&e, q, 1, 30, &base), 0);
    log_flusher_mark_dirty(f, p);
    log_flusher_mark_dirty(f, q);
    for (int k = 0; k < 5000 && log_partition_durable_offset(q) < 4; k++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    assert_int_equal(log_partition_durable_offset(q), 4);
    log_flusher_stop(f);
    assert_int_equal(log_partition_durable_offset(p), 2); /* never acknowledged */
    log_partition_close(p);
    log_partition_close(q);
    log_journal_close(e.j);
    env_done(&e);
}

int main(void)
{
    say_level = SAY_ERROR;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_journal_sync_makes_every_dirty_partition_durable),
        cmocka_unit_test(test_replay_restores_a_lost_segment_tail),
        cmocka_unit_test(test_torn_journal_tail_is_cut_at_every_byte),
        cmocka_unit_test(test_journal_file_cut_inside_a_record_ends_replay),
        cmocka_unit_test(test_replay_skips_records_of_a_deleted_partition),
        cmocka_unit_test(test_checkpoints_run_concurrently_with_appends_and_syncs),
        cmocka_unit_test(test_replay_follows_rotation_across_files),
        cmocka_unit_test(test_checkpoint_moves_the_replay_start_and_drops_files),
        cmocka_unit_test(test_enospc_on_journal_write_fails_appends_until_restart),
        cmocka_unit_test(test_eio_on_journal_sync_keeps_durable_offsets),
        cmocka_unit_test(test_failed_recovery_recovers_on_the_next_open),
        cmocka_unit_test(test_record_of_another_file_does_not_parse),
        cmocka_unit_test(test_checkpointed_files_are_reused_and_old_records_ignored),
        cmocka_unit_test(test_pending_batches_are_read_back_before_and_after_flushes),
        cmocka_unit_test(test_crash_with_pending_batches_replays_them),
        cmocka_unit_test(test_checkpoint_writes_pending_batches_before_moving_replay_start),
        cmocka_unit_test(test_replay_opens_partitions_together),
        cmocka_unit_test(test_record_with_a_nul_in_its_name_is_corrupt),
        cmocka_unit_test(test_checkpoint_writes_segments_back_in_steps),
        cmocka_unit_test(test_pending_buffers_are_bounded_in_total),
        cmocka_unit_test(test_pending_buffers_are_written_by_the_writer_thread),
        cmocka_unit_test(test_sealed_pending_bytes_are_written_by_the_writer_thread),
        cmocka_unit_test(test_failed_set_write_is_retried_by_the_next_write),
        cmocka_unit_test(test_appends_leave_the_journal_writes_to_the_flusher),
        cmocka_unit_test(test_switching_modes_keeps_segments_contiguous_through_a_crash),
        cmocka_unit_test(test_direct_rounds_sync_segments_and_keep_eio_sticky),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
