/* Direct writes of a file written front to back (util/fileio.h, hd_dio_*): a seeded sequence of
 * writes of every size around the block, direct or buffered and noted, must leave the file
 * holding exactly the bytes written, zeros after them; a direct write whose first block is not
 * known is refused before it writes anything. Needs a filesystem with O_DIRECT (the test
 * directory is made in the working directory, which the build keeps on a real disk; on one
 * without, the direct cases are skipped). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/fileio.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FILE_BYTES (1 << 20)

typedef struct fx {
    char dir[64], path[96];
    int fd, dfd;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "test-dio-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/file", f->dir);
    f->fd = open(f->path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    assert_true(f->fd >= 0);
    assert_int_equal(ftruncate(f->fd, FILE_BYTES), 0);
    f->dfd = open(f->path, O_WRONLY | O_DIRECT);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    close(f->fd);
    if (f->dfd >= 0)
        close(f->dfd);
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void check_file(const fx_t *f, const uint8_t *want, size_t end)
{
    uint8_t *got = malloc(FILE_BYTES);
    assert_int_equal(pread(f->fd, got, FILE_BYTES, 0), FILE_BYTES);
    assert_memory_equal(got, want, end);
    for (size_t i = end; i < FILE_BYTES; i++)
        if (got[i]) {
            fail_msg("byte %zu past the end %zu is %d, not zero", i, end, got[i]);
        }
    free(got);
}

static void test_writes_of_every_size_leave_exactly_the_bytes(void **state)
{
    fx_t *f = *state;
    if (f->dfd < 0)
        skip();
    uint8_t *want = calloc(1, FILE_BYTES);
    hd_dio_t d;
    hd_dio_init(&d);
    static const size_t sizes[] = {1,    7,    8,    511,  512,  513,   4095, 4096,
                                   4097, 4100, 8191, 8192, 8193, 12000, 3,    20000};
    uint32_t x = 7;
    size_t end = 0, ndirect = 0, tried = 0;
    for (int round = 0; round < 400 && end < FILE_BYTES - 40000; round++) {
        x = x * 1103515245u + 12345u;
        size_t n = sizes[(x >> 8) % (sizeof sizes / sizeof sizes[0])];
        uint8_t *p = malloc(n);
        for (size_t i = 0; i < n; i++)
            p[i] = (uint8_t)(x >> 16) + (uint8_t)i * 31u + 1u; /* never all zero */
        bool buffered = (x >> 20) % 5 == 0; /* as the journal's loop-thread writes */
        int rc = buffered ? HD_DIO_UNKNOWN : hd_dio_pwrite(&d, f, f->dfd, p, n, (off_t)end);
        tried += !buffered;
        ndirect += rc == 0;
        if (rc == HD_DIO_UNKNOWN) {
            assert_int_equal(hd_io_pwrite_all(f->fd, p, n, (off_t)end), 0);
            hd_dio_note(&d, f, p, n, (off_t)end);
        } else {
            assert_int_equal(rc, 0);
        }
        memcpy(want + end, p, n);
        end += n;
        free(p);
        if (round % 50 == 49)
            check_file(f, want, end);
    }
    /* Only a direct write right after a buffered one ending mid-block goes buffered. */
    assert_true(ndirect > 100 && ndirect * 10 > tried * 7);
    check_file(f, want, end);
    hd_dio_deinit(&d);
    free(want);
}

static void test_an_unknown_first_block_is_refused_before_writing(void **state)
{
    fx_t *f = *state;
    if (f->dfd < 0)
        skip();
    hd_dio_t d;
    hd_dio_init(&d);
    uint8_t a[100], b[100];
    memset(a, 'a', sizeof a);
    memset(b, 'b', sizeof b);
    /* Nothing known of the block before byte 100. */
    assert_int_equal(hd_dio_pwrite(&d, f, f->dfd, b, sizeof b, 100), HD_DIO_UNKNOWN);
    /* Known once the bytes before are written (a block start needs nothing before it). */
    assert_int_equal(hd_dio_pwrite(&d, f, f->dfd, a, sizeof a, 0), 0);
    assert_int_equal(hd_dio_pwrite(&d, f, f->dfd, b, sizeof b, 100), 0);
    /* Another file's tail, or a gap, is not this one's. */
    int other;
    assert_int_equal(hd_dio_pwrite(&d, &other, f->dfd, a, sizeof a, 200), HD_DIO_UNKNOWN);
    assert_int_equal(hd_dio_pwrite(&d, f, f->dfd, a, sizeof a, 300), HD_DIO_UNKNOWN);
    uint8_t want[200];
    memcpy(want, a, 100);
    memcpy(want + 100, b, 100);
    check_file(f, want, sizeof want);
    hd_dio_deinit(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_writes_of_every_size_leave_exactly_the_bytes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_an_unknown_first_block_is_refused_before_writing,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
