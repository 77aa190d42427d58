/* Standard base64 (RFC 4648 section 4): the alphabet A-Z a-z 0-9 + /, '=' padding to a multiple
 * of four characters. Decoding is strict, so that each byte string has exactly one accepted
 * encoding: a value that round-trips through the HTTP API comes back spelled the same way. */
#include "util/base64.h"
#include "util/err.h"

#include <stdint.h>
#include <sys/types.h>

static const char enc_tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of each byte as a base64 character, or 0x80 for anything outside the alphabet
 * (including '='): one lookup a character, with no branch to mispredict on random data (a
 * branch a character made decoding most of the time of an HTTP produce of value_b64 records). */
/* clang-format off */
static const uint8_t dec_tab[256] = {
    128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
    128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
    128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 62, 128, 128, 128, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 128, 128, 128, 128, 128, 128,
    128, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 128, 128, 128, 128, 128,
    128, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 128, 128, 128, 128, 128,
    128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
    128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
    128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
    128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
    128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
    128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
    128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
    128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
};
/* clang-format on */

size_t hd_base64_encoded_len(size_t n) { return (n + 2) / 3 * 4; }

void hd_base64_encode(hd_slice_t in, hd_buf_t *out)
{
    size_t n = hd_base64_encoded_len(in.len);
    if (n == 0)
        return;
    uint8_t *o = hd_buf_ensure(out, n);
    const uint8_t *s = in.p;
    size_t i = 0;
    for (; i + 3 <= in.len; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        *o++ = (uint8_t)enc_tab[v >> 18];
        *o++ = (uint8_t)enc_tab[(v >> 12) & 63];
        *o++ = (uint8_t)enc_tab[(v >> 6) & 63];
        *o++ = (uint8_t)enc_tab[v & 63];
    }
    size_t rest = in.len - i;
    if (rest > 0) {
        uint32_t v = (uint32_t)s[i] << 16 | (rest == 2 ? (uint32_t)s[i + 1] << 8 : 0);
        *o++ = (uint8_t)enc_tab[v >> 18];
        *o++ = (uint8_t)enc_tab[(v >> 12) & 63];
        *o++ = rest == 2 ? (uint8_t)enc_tab[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    out->len += n;
}

/* Decodes `in` into dst (room for in.len / 4 * 3 bytes). Returns the decoded length, or
 * HD_EMALFORMED, having written any part of dst. */
static ssize_t decode(hd_slice_t in, uint8_t *dst)
{
    if (in.len % 4 != 0)
        return HD_EMALFORMED;
    if (in.len == 0)
        return 0;
    const uint8_t *g = in.p;
    const uint8_t *last = in.p + in.len - 4;
    uint8_t *o = dst;
    for (; g < last; g += 4) {
        uint8_t a = dec_tab[g[0]], b = dec_tab[g[1]], c = dec_tab[g[2]], d = dec_tab[g[3]];
        if ((a | b | c | d) & 0x80)
            return HD_EMALFORMED;
        uint32_t w = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | d;
        o[0] = (uint8_t)(w >> 16);
        o[1] = (uint8_t)(w >> 8);
        o[2] = (uint8_t)w;
        o += 3;
    }
    /* Padding may only end the last group: "xx==" or "xxx=". */
    int pad = g[3] == '=' ? (g[2] == '=' ? 2 : 1) : 0;
    uint32_t w = 0;
    for (int k = 0; k < 4; k++) {
        uint8_t v = k < 4 - pad ? dec_tab[g[k]] : 0;
        if (v & 0x80)
            return HD_EMALFORMED;
        w = w << 6 | v;
    }
    /* The bits below the last whole byte must be zero, or two spellings would decode alike. */
    if ((pad == 2 && (w & 0xffff) != 0) || (pad == 1 && (w & 0xff) != 0))
        return HD_EMALFORMED;
    o[0] = (uint8_t)(w >> 16);
    if (pad < 2)
        o[1] = (uint8_t)(w >> 8);
    if (pad < 1)
        o[2] = (uint8_t)w;
    o += 3 - pad;
    return o - dst;
}

int hd_base64_decode(hd_slice_t in, hd_buf_t *out)
{
    if (in.len % 4 != 0)
        return HD_EMALFORMED;
    if (in.len == 0)
        return 0;
    /* Decoded past out's end, and kept only when the whole input is good: out's bytes are
     * untouched either way. */
    ssize_t n = decode(in, hd_buf_ensure(out, in.len / 4 * 3));
    if (n < 0)
        return (int)n;
    out->len += (size_t)n;
    return 0;
}
