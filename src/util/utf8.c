/* Strict UTF-8 validation (RFC 3629 section 4). The allowed range of the second byte depends on
 * the lead byte, which rules out overlong forms (E0 80..9F, F0 80..8F), UTF-16 surrogates
 * (ED A0..BF) and code points above U+10FFFF (F4 90..BF) without decoding the code point. */
#include "util/utf8.h"

#include <string.h>

#include <stdint.h>

bool hd_utf8_valid(const void *p, size_t len)
{
    const uint8_t *s = p;
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            /* ASCII runs, eight bytes at a time */
            while (len - i >= 8) {
                uint64_t w;
                memcpy(&w, s + i, 8);
                if (w & 0x8080808080808080ull)
                    break;
                i += 8;
            }
            continue;
        }
        size_t n;
        uint8_t lo = 0x80, hi = 0xbf; /* range of the second byte */
        if (c >= 0xc2 && c <= 0xdf) {
            n = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 3;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 4;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else {
            return false; /* a continuation byte first, C0/C1 (always overlong), or F5..FF */
        }
        if (len - i < n)
            return false;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k < n; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
        i += n;
    }
    return true;
}
