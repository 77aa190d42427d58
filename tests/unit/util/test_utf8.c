/* Strict UTF-8 validation: every valid sequence length at its range edges is accepted; overlong
 * forms, surrogates, code points past U+10FFFF, stray continuation bytes and truncated sequences
 * are rejected wherever they occur in the input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/utf8.h"

#include <string.h>

static bool valid(const char *s) { return hd_utf8_valid(s, strlen(s)); }

static void test_accepts_valid_one_to_four_byte_sequences(void **state)
{
    (void)state;
    assert_true(hd_utf8_valid("", 0));
    assert_true(hd_utf8_valid(NULL, 0));
    assert_true(hd_utf8_valid("a\0b", 3)); /* NUL is U+0000 */
    assert_true(valid("plain ascii \x7f"));
    assert_true(valid("\xc2\x80"));         /* U+0080, smallest 2-byte */
    assert_true(valid("\xc3\xa9"));         /* é */
    assert_true(valid("\xdf\xbf"));         /* U+07FF */
    assert_true(valid("\xe0\xa0\x80"));     /* U+0800, smallest 3-byte */
    assert_true(valid("\xe2\x82\xac"));     /* € */
    assert_true(valid("\xed\x9f\xbf"));     /* U+D7FF, just below the surrogates */
    assert_true(valid("\xee\x80\x80"));     /* U+E000, just above them */
    assert_true(valid("\xef\xbf\xbf"));     /* U+FFFF */
    assert_true(valid("\xf0\x90\x80\x80")); /* U+10000, smallest 4-byte */
    assert_true(valid("\xf0\x9f\x98\x80")); /* 😀 */
    assert_true(valid("\xf4\x8f\xbf\xbf")); /* U+10FFFF, the largest */
    assert_true(valid("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z"));
}

static void test_rejects_overlong_forms(void **state)
{
    (void)state;
    assert_false(valid("\xc0\x80"));         /* U+0000 in 2 bytes */
    assert_false(valid("\xc1\xbf"));         /* U+007F in 2 bytes */
    assert_false(valid("\xe0\x80\x80"));     /* U+0000 in 3 bytes */
    assert_false(valid("\xe0\x9f\xbf"));     /* U+07FF in 3 bytes */
    assert_false(valid("\xf0\x80\x80\x80")); /* U+0000 in 4 bytes */
    assert_false(valid("\xf0\x8f\xbf\xbf")); /* U+FFFF in 4 bytes */
}

static void test_rejects_surrogates_and_above_max(void **state)
{
    (void)state;
    assert_false(valid("\xed\xa0\x80"));             /* U+D800 */
    assert_false(valid("\xed\xbf\xbf"));             /* U+DFFF */
    assert_false(valid("\xed\xa0\xbd\xed\xb8\x80")); /* CESU-8 pair for U+1F600 */
    assert_false(valid("\xf4\x90\x80\x80"));         /* U+110000 */
    assert_false(valid("\xf5\x80\x80\x80"));
    assert_false(valid("\xf7\xbf\xbf\xbf"));
    assert_false(valid("\xf8\x88\x80\x80\x80")); /* old 5-byte form */
    assert_false(valid("\xfe"));
    assert_false(valid("\xff"));
}

static void test_rejects_stray_or_missing_continuation_bytes(void **state)
{
    (void)state;
    assert_false(valid("\x80"));
    assert_false(valid("a\xbf"));
    assert_false(valid("\xc3\xa9\xa9")); /* one continuation too many */
    assert_false(valid("\xc3("));        /* lead byte then ASCII */
    assert_false(valid("\xe2\x82("));
    assert_false(valid("\xf0\x9f\x98("));
    assert_false(valid("\xe2(\xac"));
    assert_false(valid("\xf0\x9f(\x80"));
}

static void test_rejects_every_truncation_of_multibyte_sequences(void **state)
{
    (void)state;
    const char *seqs[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf"};
    char buf[16];
    for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
        size_t n = strlen(seqs[i]);
        for (size_t cut = 1; cut < n; cut++) {
            /* Truncated at the end of the input, and followed by more text. */
            assert_false(hd_utf8_valid(seqs[i], cut));
            memcpy(buf, "ok", 2);
            memcpy(buf + 2, seqs[i], cut);
            assert_false(hd_utf8_valid(buf, 2 + cut));
            buf[2 + cut] = 'x';
            assert_false(hd_utf8_valid(buf, 3 + cut));
        }
        assert_true(hd_utf8_valid(seqs[i], n));
    }
}

/* The code point rules written the other way round: decode, then range-check the result. */
static bool reference_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        size_t n = c < 0x80             ? 1
                   : (c & 0xe0) == 0xc0 ? 2
                   : (c & 0xf0) == 0xe0 ? 3
                   : (c & 0xf8) == 0xf0 ? 4
                                        : 0;
        if (n == 0 || len - i < n)
            return false;
        uint32_t cp = n == 1 ? c : c & (0xff >> (n + 1));
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n;
    }
    return true;
}

static void test_agrees_with_reference_on_all_short_inputs(void **state)
{
    (void)state;
    /* Every 1-, 2- and 3-byte input, and 4-byte inputs over every lead and second byte. */
    uint8_t b[4];
    for (uint32_t v = 0; v < (1u << 24); v++) {
        b[0] = (uint8_t)(v >> 16);
        b[1] = (uint8_t)(v >> 8);
        b[2] = (uint8_t)v;
        if (v < 256)
            assert_int_equal(hd_utf8_valid(b + 2, 1), reference_valid(b + 2, 1));
        if (v < 65536)
            assert_int_equal(hd_utf8_valid(b + 1, 2), reference_valid(b + 1, 2));
        if (hd_utf8_valid(b, 3) != reference_valid(b, 3))
            fail_msg("3-byte input %06x", v);
    }
    static const uint8_t tails[][2] = {{0x80, 0x80}, {0xbf, 0xbf}, {0x80, 0x41}, {0x41, 0x80}};
    for (uint32_t v = 0; v < 65536; v++)
        for (size_t t = 0; t < 4; t++) {
            b[0] = (uint8_t)(v >> 8);
            b[1] = (uint8_t)v;
            b[2] = tails[t][0];
            b[3] = tails[t][1];
            if (hd_utf8_valid(b, 4) != reference_valid(b, 4))
                fail_msg("4-byte input %02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_valid_one_to_four_byte_sequences),
        cmocka_unit_test(test_rejects_overlong_forms),
        cmocka_unit_test(test_rejects_surrogates_and_above_max),
        cmocka_unit_test(test_rejects_stray_or_missing_continuation_bytes),
        cmocka_unit_test(test_rejects_every_truncation_of_multibyte_sequences),
        cmocka_unit_test(test_agrees_with_reference_on_all_short_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
