/* SHA-1: the FIPS 180 example messages (one block, two blocks, a million bytes fed in uneven
 * pieces), every padding boundary against a bytewise feed, and RFC 6455's handshake example. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/sha1.h"

#include <stdio.h>
#include <string.h>

static void hex(const uint8_t d[HD_SHA1_LEN], char out[41])
{
    for (int i = 0; i < HD_SHA1_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void check(const char *msg, const char *want)
{
    uint8_t d[HD_SHA1_LEN];
    char h[41];
    hd_sha1(msg, strlen(msg), d);
    hex(d, h);
    assert_string_equal(h, want);
}

static void test_fips_examples(void **state)
{
    (void)state;
    check("", "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    check("abc", "a9993e364706816aba3e25717850c26c9cd0d89d");
    check("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
          "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    check("The quick brown fox jumps over the lazy dog",
          "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12");
}

static void test_million_a_in_uneven_pieces(void **state)
{
    (void)state;
    static char a[1000];
    memset(a, 'a', sizeof a);
    hd_sha1_t s;
    hd_sha1_init(&s);
    size_t left = 1000000, step = 1;
    while (left > 0) {
        size_t n = step < left ? step : left;
        if (n > sizeof a)
            n = sizeof a;
        hd_sha1_update(&s, a, n);
        left -= n;
        step = step * 7 % 997 + 1;
    }
    uint8_t d[HD_SHA1_LEN];
    char h[41];
    hd_sha1_final(&s, d);
    hex(d, h);
    assert_string_equal(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

static void test_every_length_bytewise_equals_one_call(void **state)
{
    (void)state;
    uint8_t msg[200];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 31 + 7);
    for (size_t n = 0; n <= sizeof msg; n++) {
        uint8_t one[HD_SHA1_LEN], bytewise[HD_SHA1_LEN];
        hd_sha1(msg, n, one);
        hd_sha1_t s;
        hd_sha1_init(&s);
        for (size_t i = 0; i < n; i++)
            hd_sha1_update(&s, msg + i, 1);
        hd_sha1_final(&s, bytewise);
        assert_memory_equal(one, bytewise, HD_SHA1_LEN);
    }
    /* 55, 56 and 64 bytes straddle the padding boundaries. */
    check("0123456789012345678901234567890123456789012345678901234",
          "9f3a4ce7f66b1b74c34da2c5d732c39f81e0f8df");
    check("01234567890123456789012345678901234567890123456789012345",
          "0a40b8fbdaafb7c29651618ac15d27e772287130");
    check("0123456789012345678901234567890123456789012345678901234567890123",
          "cf0800f7644ace3cb4c3fa33388d3ba0ea3c8b6e");
}

static void test_websocket_accept_example(void **state)
{
    (void)state;
    /* RFC 6455 section 1.3: the key plus the GUID hashes to the base64
     * s3pPLMBiTxaQ9kYGzzhZRbK+xOo=. */
    check("dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
          "b37a4f2cc0624f1690f64606cf385945b2bec4ea");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fips_examples),
        cmocka_unit_test(test_million_a_in_uneven_pieces),
        cmocka_unit_test(test_every_length_bytewise_equals_one_call),
        cmocka_unit_test(test_websocket_accept_example),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
