/* Base64: the RFC 4648 test vectors both ways, every byte value round-tripping, and strict
 * decoding (length, alphabet, padding position, non-zero trailing bits) leaving out unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/base64.h"
#include "util/err.h"

#include <string.h>

static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *const coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};

static void test_encode_rfc4648_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < 7; i++) {
        hd_buf_t b;
        hd_buf_init(&b);
        hd_base64_encode(hd_slice_str(plain[i]), &b);
        assert_int_equal(b.len, strlen(coded[i]));
        assert_int_equal(hd_base64_encoded_len(strlen(plain[i])), strlen(coded[i]));
        assert_true(hd_slice_eq_str(hd_buf_slice(&b), coded[i]));
        hd_buf_deinit(&b);
    }
}

static void test_encode_appends_after_existing_bytes(void **state)
{
    (void)state;
    hd_buf_t b;
    hd_buf_init(&b);
    hd_buf_put(&b, "x:", 2);
    hd_base64_encode(hd_slice_str("fo"), &b);
    assert_true(hd_slice_eq_str(hd_buf_slice(&b), "x:Zm8="));
    hd_buf_deinit(&b);
}

static void test_decode_rfc4648_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < 7; i++) {
        hd_buf_t b;
        hd_buf_init(&b);
        assert_int_equal(hd_base64_decode(hd_slice_str(coded[i]), &b), 0);
        assert_true(hd_slice_eq_str(hd_buf_slice(&b), plain[i]));
        hd_buf_deinit(&b);
    }
}

static void test_every_byte_value_round_trips(void **state)
{
    (void)state;
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)(255 - i);
    for (size_t n = 0; n <= sizeof all; n++) {
        hd_buf_t enc, dec;
        hd_buf_init(&enc);
        hd_buf_init(&dec);
        hd_base64_encode(hd_slice(all, n), &enc);
        assert_int_equal(enc.len, hd_base64_encoded_len(n));
        assert_int_equal(hd_base64_decode(hd_buf_slice(&enc), &dec), 0);
        assert_true(hd_slice_eq(hd_buf_slice(&dec), hd_slice(all, n)));
        hd_buf_deinit(&enc);
        hd_buf_deinit(&dec);
    }
}

static void test_decode_rejects_non_canonical_input_and_leaves_out_unchanged(void **state)
{
    (void)state;
    const char *bad[] = {
        "Zg",            /* padding missing */
        "Zg=",           /* not a multiple of 4 */
        "Zm9vY",         /* not a multiple of 4 */
        "Zh==",          /* trailing bits not zero */
        "Zm9=",          /* trailing bits not zero */
        "Zg==Zg==",      /* padding before the end */
        "Z===",          /* three padding characters */
        "====",          /* padding only */
        "Zm=v",          /* padding inside a group */
        "Zm9v\n",        /* whitespace */
        "Zm 9v",         /* whitespace */
        "Zm9-",          /* base64url alphabet */
        "Zm9_",          /* base64url alphabet */
        "Zm9v\xc3\xa9=", /* non-ASCII */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hd_buf_t b;
        hd_buf_init(&b);
        hd_buf_put(&b, "keep", 4);
        assert_int_equal(hd_base64_decode(hd_slice_str(bad[i]), &b), HD_EMALFORMED);
        assert_true(hd_slice_eq_str(hd_buf_slice(&b), "keep"));
        hd_buf_deinit(&b);
    }
    /* The slice's length is what counts, even when the bytes after it would complete it. */
    {
        hd_buf_t b;
        hd_buf_init(&b);
        assert_int_equal(hd_base64_decode(hd_slice("ZgAA", 2), &b), HD_EMALFORMED);
        assert_int_equal(hd_base64_decode(hd_slice("Zm9vYgAA", 6), &b), HD_EMALFORMED);
        assert_int_equal(b.len, 0);
        hd_buf_deinit(&b);
    }
    /* An embedded NUL is outside the alphabet too. */
    hd_buf_t b;
    hd_buf_init(&b);
    assert_int_equal(hd_base64_decode(hd_slice("Zm\0v", 4), &b), HD_EMALFORMED);
    assert_int_equal(b.len, 0);
    hd_buf_deinit(&b);
}

static void test_decode_accepts_plus_and_slash(void **state)
{
    (void)state;
    hd_buf_t b;
    hd_buf_init(&b);
    assert_int_equal(hd_base64_decode(hd_slice_str("+/+/"), &b), 0);
    const uint8_t want[] = {0xfb, 0xff, 0xbf};
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.p, want, 3);
    hd_buf_deinit(&b);
}

static void test_a_bad_character_anywhere_in_a_long_input_is_refused(void **state)
{
    (void)state;
    uint8_t raw[300];
    for (size_t i = 0; i < sizeof raw; i++)
        raw[i] = (uint8_t)(i * 37 + 11);
    hd_buf_t enc;
    hd_buf_init(&enc);
    hd_base64_encode(hd_slice(raw, sizeof raw), &enc);
    const char bad[] = {'=', '-', '_', ' ', '\0', '\n', (char)0x80, (char)0xff};
    for (size_t at = 0; at < enc.len; at++) {
        for (size_t k = 0; k < sizeof bad; k++) {
            uint8_t keep = enc.p[at];
            enc.p[at] = (uint8_t)bad[k];
            hd_buf_t b;
            hd_buf_init(&b);
            hd_buf_put(&b, "keep", 4);
            assert_int_equal(hd_base64_decode(hd_buf_slice(&enc), &b), HD_EMALFORMED);
            assert_true(hd_slice_eq_str(hd_buf_slice(&b), "keep"));
            hd_buf_deinit(&b);
            enc.p[at] = keep;
        }
    }
    hd_buf_deinit(&enc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_rfc4648_vectors),
        cmocka_unit_test(test_encode_appends_after_existing_bytes),
        cmocka_unit_test(test_decode_rfc4648_vectors),
        cmocka_unit_test(test_every_byte_value_round_trips),
        cmocka_unit_test(test_decode_rejects_non_canonical_input_and_leaves_out_unchanged),
        cmocka_unit_test(test_decode_accepts_plus_and_slash),
        cmocka_unit_test(test_a_bad_character_anywhere_in_a_long_input_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
