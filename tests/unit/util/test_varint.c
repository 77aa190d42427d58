/* Varints: unsigned LEB128 and zigzag signed, at edge values, plus malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/reader.h"
#include "util/varint.h"

static void test_zigzag_maps_small_signed_to_small_unsigned(void **state)
{
    (void)state;
    assert_int_equal(hd_zigzag_encode(0), 0);
    assert_int_equal(hd_zigzag_encode(-1), 1);
    assert_int_equal(hd_zigzag_encode(1), 2);
    assert_int_equal(hd_zigzag_encode(-2), 3);
    assert_true(hd_zigzag_encode(INT64_MAX) == UINT64_MAX - 1);
    assert_true(hd_zigzag_encode(INT64_MIN) == UINT64_MAX);
    assert_true(hd_zigzag_decode(UINT64_MAX) == INT64_MIN);
}

static void test_uvarint_known_encodings(void **state)
{
    (void)state;
    uint8_t b[10];
    assert_int_equal(hd_uvarint_encode(b, 0), 1);
    assert_int_equal(b[0], 0);
    assert_int_equal(hd_uvarint_encode(b, 127), 1);
    assert_int_equal(b[0], 0x7f);
    assert_int_equal(hd_uvarint_encode(b, 128), 2);
    assert_int_equal(b[0], 0x80);
    assert_int_equal(b[1], 0x01);
    assert_int_equal(hd_uvarint_encode(b, 300), 2);
    assert_int_equal(b[0], 0xac);
    assert_int_equal(b[1], 0x02);
    assert_int_equal(hd_uvarint_encode(b, UINT32_MAX), 5);
    assert_int_equal(hd_uvarint_encode(b, UINT64_MAX), 10);
    assert_int_equal(b[9], 0x01);
}

static void test_varint_roundtrip_edges(void **state)
{
    (void)state;
    const int64_t vals[] = {0,         1,         -1,        63,        -64,
                            64,        -65,       8191,      -8192,     INT32_MAX,
                            INT32_MIN, INT64_MAX, INT64_MIN, 1LL << 35, -(1LL << 35)};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        uint8_t b[10];
        size_t n = hd_varint_encode(b, vals[i]);
        assert_int_equal(n, hd_varint_size(vals[i]));
        int64_t out = 0;
        assert_int_equal(hd_varint_decode(b, n, 10, &out), (int)n);
        assert_true(out == vals[i]);
        /* Every strict prefix is incomplete. */
        for (size_t k = 0; k < n; k++)
            assert_int_equal(hd_varint_decode(b, k, 10, &out), HD_EINCOMPLETE);
    }
}

static void test_uvarint_rejects_overlong_and_overflow(void **state)
{
    (void)state;
    uint64_t v;
    const uint8_t eleven[11] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    assert_int_equal(hd_uvarint_decode(eleven, sizeof eleven, 10, &v), HD_EMALFORMED);
    const uint8_t tenth_too_big[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    assert_int_equal(hd_uvarint_decode(tenth_too_big, 10, 10, &v), HD_EMALFORMED);
    const uint8_t u32_over[5] = {0xff, 0xff, 0xff, 0xff, 0x1f};
    assert_int_equal(hd_uvarint_decode(u32_over, 5, 5, &v), HD_EMALFORMED);
    const uint8_t u32_max[5] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    assert_int_equal(hd_uvarint_decode(u32_max, 5, 5, &v), 5);
    assert_true(v == UINT32_MAX);
}

static void test_reader_varint_sticky_error(void **state)
{
    (void)state;
    hd_buf_t b;
    hd_buf_init(&b);
    hd_buf_put_varint(&b, -300);
    hd_buf_put_varint(&b, INT64_MIN);
    hd_buf_put_uvarint(&b, 5);
    hd_reader_t r = hd_reader_init(hd_buf_slice(&b));
    assert_int_equal(hd_read_varint(&r), -300);
    assert_true(hd_read_varlong(&r) == INT64_MIN);
    assert_int_equal(hd_read_uvarint32(&r), 5);
    assert_int_equal(r.err, 0);
    assert_int_equal(hd_read_i32(&r), 0);
    assert_int_equal(r.err, HD_EMALFORMED);
    hd_buf_deinit(&b);
}

static void test_buf_big_endian_writers(void **state)
{
    (void)state;
    hd_buf_t b;
    hd_buf_init(&b);
    hd_buf_put_i16be(&b, -2);
    hd_buf_put_i32be(&b, 0x01020304);
    hd_buf_put_i64be(&b, -1);
    size_t at = hd_buf_reserve_i32(&b);
    hd_buf_patch_i32be(&b, at, 7);
    const uint8_t want[] = {0xff, 0xfe, 1,    2,    3,    4, 0xff, 0xff, 0xff,
                            0xff, 0xff, 0xff, 0xff, 0xff, 0, 0,    0,    7};
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.p, want, sizeof want);
    hd_reader_t r = hd_reader_init(hd_buf_slice(&b));
    assert_int_equal(hd_read_i16(&r), -2);
    assert_int_equal(hd_read_i32(&r), 0x01020304);
    assert_true(hd_read_i64(&r) == -1);
    assert_int_equal(hd_read_count(&r, 100), 0);
    assert_int_equal(r.err, HD_EMALFORMED); /* count 7 > bytes left (0) */
    hd_buf_deinit(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zigzag_maps_small_signed_to_small_unsigned),
        cmocka_unit_test(test_uvarint_known_encodings),
        cmocka_unit_test(test_varint_roundtrip_edges),
        cmocka_unit_test(test_uvarint_rejects_overlong_and_overflow),
        cmocka_unit_test(test_reader_varint_sticky_error),
        cmocka_unit_test(test_buf_big_endian_writers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
