/* Fuzz target: journal replay. The input becomes journal file 0 of a data directory holding two
 * partition directories, t-0 and t-1; the journal is opened (replay from the start: there is no
 * checkpoint), the partitions are read end to end, and the journal is opened again (nothing left
 * to replay). With the first input byte odd, the harness first repairs the magic, the sequence
 * number and both CRCs of every record it can frame, so the fuzzer explores names, offsets, gaps,
 * kinds and end-of-file records instead of checksums. Aborts on any broken invariant. */
#include "fuzz_check.h"
#include "log/log_int.h"
#include "util/crc32c.h"
#include "util/say.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* Makes every record that can be framed valid apart from its content. */
static void repair(uint8_t *p, size_t len)
{
    size_t pos = 0;
    while (len - pos >= LOG_JOURNAL_REC_HDR) {
        uint8_t *r = p + pos;
        size_t nlen = (size_t)r[18] << 8 | r[19];
        size_t blen = log__get_u32(r + 20);
        size_t rlen = log__journal_record_len(nlen, blen);
        if (blen > len || rlen > len - pos)
            break;
        log__put_u32(r, 0x484A524Eu);
        log__put_u64(r + 8, 0);
        uint8_t *b = r + LOG_JOURNAL_REC_HDR + nlen;
        if (blen >= LOG_BATCH_HEADER_LEN)
            log__put_u32(b + LOG_HDR_CRC,
                         hd_crc32c(0, b + LOG_HDR_ATTRIBUTES, blen - LOG_HDR_ATTRIBUTES));
        log__put_u32(r + 4, hd_crc32c(0, r + 8, rlen - 8));
        pos += rlen;
    }
}

/* Reads the whole partition: whole batches with good CRCs and contiguous offsets. */
static void check_partition(const char *dir)
{
    log_config_t cfg;
    log_config_defaults(&cfg);
    log_partition_t *p = NULL;
    CHECK(log_partition_open(dir, &cfg, &p) == 0);
    hd_buf_t out;
    hd_buf_init(&out);
    int64_t leo = log_partition_end_offset(p), expect = 0;
    ssize_t n = log_partition_read(p, 0, leo, SIZE_MAX, &out);
    CHECK(n >= 0);
    for (size_t pos = 0; pos < out.len;) {
        CHECK(out.len - pos >= LOG_BATCH_HEADER_LEN);
        CHECK((int64_t)log__get_u64(out.p + pos) == expect);
        size_t total = (size_t)log__get_u32(out.p + pos + 8) + 12;
        CHECK(total <= out.len - pos);
        CHECK(log__batch_crc_ok(out.p + pos, total));
        expect += (int32_t)log__get_u32(out.p + pos + LOG_HDR_LAST_OFFSET_DELTA) + 1;
        pos += total;
    }
    CHECK(expect == leo);
    hd_buf_deinit(&out);
    log_partition_close(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    say_level = -1;
    if (size < 1 || size > (1 << 20))
        return 0;
    char root[] = "/tmp/herald-fuzz-XXXXXX", path[160], t0[96], t1[96];
    if (!mkdtemp(root))
        abort();
    snprintf(t0, sizeof t0, "%s/t-0", root);
    snprintf(t1, sizeof t1, "%s/t-1", root);
    snprintf(path, sizeof path, "%s/journal", root);
    CHECK(mkdir(t0, 0755) == 0 && mkdir(t1, 0755) == 0 && mkdir(path, 0755) == 0);
    uint8_t *buf = malloc(size - 1 ? size - 1 : 1);
    memcpy(buf, data + 1, size - 1);
    if (data[0] & 1)
        repair(buf, size - 1);
    snprintf(path, sizeof path, "%s/journal/00000000000000000000.jnl", root);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, buf, size - 1) == (ssize_t)(size - 1));
    close(fd);
    free(buf);

    log_journal_config_t jc;
    log_journal_config_defaults(&jc);
    jc.file_bytes = 65536;
    log_journal_t *j = NULL;
    CHECK(log_journal_open(root, &jc, &j) == 0);
    log_journal_close(j);
    check_partition(t0);
    check_partition(t1);
    /* Replayed and checkpointed: a second open finds nothing to do and changes nothing. */
    CHECK(log_journal_open(root, &jc, &j) == 0);
    log_journal_close(j);
    check_partition(t0);
    check_partition(t1);
    CHECK(nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0);
    return 0;
}
