/* Fuzz target: segment recovery. The input becomes the .log file of segment 0 in a fresh
 * partition directory; the partition is opened (a full recovery scan), read end to end, appended
 * to, closed cleanly and reopened. Aborts on any broken invariant. */
#include "log/log.h"
#include "fuzz_check.h"
#include "util/crc32c.h"
#include "util/say.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t get64(const uint8_t *p)
{
    return (int64_t)((uint64_t)get32(p) << 32 | get32(p + 4));
}

/* A minimal valid batch: header only, one offset, no records. */
static void make_batch(uint8_t b[61])
{
    memset(b, 0, 61);
    b[11] = 61 - 12; /* batchLength */
    b[16] = 2;       /* magic */
    uint32_t crc = hd_crc32c(0, b + 21, 61 - 21);
    b[17] = (uint8_t)(crc >> 24);
    b[18] = (uint8_t)(crc >> 16);
    b[19] = (uint8_t)(crc >> 8);
    b[20] = (uint8_t)crc;
}

/* The header scan's view: every batch's base offset, in order, continuing where the last
 * ended. */
typedef struct scan_state {
    int64_t next;
    int64_t batches;
} scan_state_t;

static int scan_cb(void *ctx, const uint8_t hdr[61], int64_t base)
{
    scan_state_t *st = ctx;
    CHECK(get64(hdr) == base);
    CHECK(base == st->next);
    st->next = base + (int32_t)get32(hdr + 23) + 1;
    st->batches++;
    return 0;
}

/* Reads the whole log and checks the frames are whole, contiguous, and add up to the size; the
 * header scan (which reads in chunks) must see the same batches. */
static void check_contents(log_partition_t *p)
{
    hd_buf_t out;
    hd_buf_init(&out);
    int64_t start = log_partition_start_offset(p), leo = log_partition_end_offset(p);
    ssize_t n = log_partition_read(p, start, leo, SIZE_MAX, &out);
    CHECK(n >= 0);
    CHECK((int64_t)n == log_partition_size_bytes(p));
    int64_t expect = start;
    for (size_t pos = 0; pos < out.len;) {
        CHECK(out.len - pos >= 61);
        CHECK(get64(out.p + pos) == expect);
        CHECK(out.p[pos + 16] == 2);
        size_t total = (size_t)get32(out.p + pos + 8) + 12;
        CHECK(total <= out.len - pos);
        CHECK(hd_crc32c(0, out.p + pos + 21, total - 21) == get32(out.p + pos + 17));
        expect += (int32_t)get32(out.p + pos + 23) + 1;
        pos += total;
    }
    CHECK(expect == leo);
    hd_buf_deinit(&out);
    scan_state_t st = {start, 0};
    CHECK(log_partition_scan(p, start, -1, scan_cb, &st) == 0);
    CHECK(st.next == (st.batches ? leo : start));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    say_level = -1;
    char root[] = "/tmp/herald-fuzz-XXXXXX", dir[64], path[128];
    if (!mkdtemp(root))
        abort();
    snprintf(dir, sizeof dir, "%s/p", root);
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(path, sizeof path, "%s/00000000000000000000.log", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, data, size) == (ssize_t)size);
    close(fd);

    log_config_t cfg;
    log_config_defaults(&cfg);
    cfg.index_interval_bytes = 128;
    cfg.segment_ms = -1;
    log_partition_t *p = NULL;
    CHECK(log_partition_open(dir, &cfg, &p) == 0);
    check_contents(p);
    int64_t leo = log_partition_end_offset(p), base = -1;
    CHECK(log_partition_durable_offset(p) == leo);
    uint8_t b[61];
    make_batch(b);
    CHECK(log_partition_append(p, b, sizeof b, &base) == 0);
    CHECK(base == leo);
    check_contents(p);
    log_partition_close(p);

    CHECK(log_partition_open(dir, &cfg, &p) == 0);
    CHECK(log_partition_end_offset(p) == leo + 1);
    check_contents(p);
    log_partition_close(p);
    CHECK(log_partition_destroy_dir(dir) == 0);
    rmdir(root);
    return 0;
}
