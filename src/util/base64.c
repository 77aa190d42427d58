/* Standard base64 (RFC 4648 section 4): the alphabet A-Z a-z 0-9 + /, '=' padding to a multiple
 * of four characters. Decoding is strict, so that each byte string has exactly one accepted
 * encoding: a value that round-trips through the HTTP API comes back spelled the same way. */
#include "util/base64.h"
#include "util/err.h"

#include <stdint.h>
#include <sys/types.h>

static const char enc_tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of a base64 character, or -1 for anything outside the alphabet (including '=').
 */
static int dec_char(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

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

/* Decodes `in` into dst, or only checks it when dst is NULL. Returns the decoded length, or
 * HD_EMALFORMED. Checking before writing keeps `out` untouched when the input is bad. */
static ssize_t decode(hd_slice_t in, uint8_t *dst)
{
    if (in.len % 4 != 0)
        return HD_EMALFORMED;
    size_t n = 0;
    for (size_t i = 0; i < in.len; i += 4) {
        const uint8_t *g = in.p + i;
        bool last = i + 4 == in.len;
        /* Padding may only end the last group: "xx==" or "xxx=". */
        int pad = (last && g[3] == '=') ? (g[2] == '=' ? 2 : 1) : 0;
        int v[4] = {0, 0, 0, 0};
        for (int k = 0; k < 4 - pad; k++) {
            v[k] = dec_char(g[k]);
            if (v[k] < 0)
                return HD_EMALFORMED;
        }
        uint32_t w =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        /* The bits below the last whole byte must be zero, or two spellings would decode alike. */
        if ((pad == 2 && (w & 0xffff) != 0) || (pad == 1 && (w & 0xff) != 0))
            return HD_EMALFORMED;
        if (dst) {
            dst[n] = (uint8_t)(w >> 16);
            if (pad < 2)
                dst[n + 1] = (uint8_t)(w >> 8);
            if (pad < 1)
                dst[n + 2] = (uint8_t)w;
        }
        n += (size_t)(3 - pad);
    }
    return (ssize_t)n;
}

int hd_base64_decode(hd_slice_t in, hd_buf_t *out)
{
    ssize_t n = decode(in, NULL);
    if (n < 0)
        return (int)n;
    if (n == 0)
        return 0;
    decode(in, hd_buf_ensure(out, (size_t)n));
    out->len += (size_t)n;
    return 0;
}
