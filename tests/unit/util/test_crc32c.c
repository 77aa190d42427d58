/* CRC-32C against the RFC 3720 (iSCSI) appendix B.4 test vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/crc32c.h"

#include <stdlib.h>
#include <string.h>

static void check_both(const uint8_t *p, size_t n, uint32_t want)
{
    assert_int_equal(hd_crc32c(0, p, n), want);
    assert_int_equal(hd_crc32c_sw(0, p, n), want);
}

static void test_rfc3720_32_zero_bytes(void **state)
{
    (void)state;
    uint8_t b[32];
    memset(b, 0, sizeof b);
    check_both(b, sizeof b, 0x8a9136aa);
}

static void test_rfc3720_32_ff_bytes(void **state)
{
    (void)state;
    uint8_t b[32];
    memset(b, 0xff, sizeof b);
    check_both(b, sizeof b, 0x62a8ab43);
}

static void test_rfc3720_incrementing(void **state)
{
    (void)state;
    uint8_t b[32];
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)i;
    check_both(b, sizeof b, 0x46dd794e);
}

static void test_rfc3720_decrementing(void **state)
{
    (void)state;
    uint8_t b[32];
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)(31 - i);
    check_both(b, sizeof b, 0x113fdb5c);
}

static void test_rfc3720_iscsi_read_pdu(void **state)
{
    (void)state;
    static const uint8_t b[48] = {0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00,
                                  0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00,
                                  0x00, 0x18, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                  0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    check_both(b, sizeof b, 0xd9963a56);
}

static void test_check_string_123456789(void **state)
{
    (void)state;
    check_both((const uint8_t *)"123456789", 9, 0xe3069283);
}

static void test_incremental_equals_one_shot(void **state)
{
    (void)state;
    uint8_t b[1000];
    for (int i = 0; i < 1000; i++)
        b[i] = (uint8_t)(i * 7 + 3);
    uint32_t whole = hd_crc32c(0, b, sizeof b);
    for (size_t cut = 0; cut <= sizeof b; cut += 37) {
        uint32_t c = hd_crc32c(0, b, cut);
        c = hd_crc32c(c, b + cut, sizeof b - cut);
        assert_int_equal(c, whole);
        assert_int_equal(hd_crc32c_sw(hd_crc32c_sw(0, b, cut), b + cut, sizeof b - cut), whole);
    }
}

/* The three-lane paths (blocks of 3 x 256 and 3 x 8,192 bytes) against the one-byte-at-a-time
 * table version, at every length around the block sizes and their sums and multiples of 8,
 * unaligned starts included, and continuing from a nonzero CRC. */
static void test_long_buffers_match_table_version(void **state)
{
    (void)state;
    enum { MAX = 70000 };
    uint8_t *b = malloc(MAX + 8);
    assert_non_null(b);
    uint32_t x = 12345;
    for (size_t i = 0; i < MAX + 8; i++) {
        x = x * 1103515245u + 12345u;
        b[i] = (uint8_t)(x >> 16);
    }
    static const size_t lens[] = {0,     7,     8,     767,   768,   769,   775,   776,
                                  1023,  1024,  1536,  1543,  2040,  2047,  2048,  2049,
                                  2055,  2064,  3001,  4096,  6143,  16384, 24575, 24576,
                                  24577, 25343, 25344, 25345, 49152, 65536, 69999, 70000};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
        for (size_t off = 0; off < 8; off += 3) {
            size_t n = lens[li];
            assert_int_equal(hd_crc32c(0, b + off, n), hd_crc32c_sw(0, b + off, n));
            assert_int_equal(hd_crc32c(0xdeadbeef, b + off, n),
                             hd_crc32c_sw(0xdeadbeef, b + off, n));
        }
    free(b);
}

static void test_combine(void **state)
{
    (void)state;
    const uint8_t *s = (const uint8_t *)"123456789";
    for (size_t cut = 0; cut <= 9; cut++)
        assert_int_equal(
            hd_crc32c_combine(hd_crc32c(0, s, cut), hd_crc32c(0, s + cut, 9 - cut), 9 - cut),
            0xe3069283);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3720_32_zero_bytes),
        cmocka_unit_test(test_rfc3720_32_ff_bytes),
        cmocka_unit_test(test_rfc3720_incrementing),
        cmocka_unit_test(test_rfc3720_decrementing),
        cmocka_unit_test(test_rfc3720_iscsi_read_pdu),
        cmocka_unit_test(test_check_string_123456789),
        cmocka_unit_test(test_incremental_equals_one_shot),
        cmocka_unit_test(test_long_buffers_match_table_version),
        cmocka_unit_test(test_combine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
