/* Unsigned LEB128 and zigzag varint coding. */
#include "util/varint.h"
#include "util/err.h"

size_t hd_uvarint_encode(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

size_t hd_varint_encode(uint8_t *out, int64_t v)
{
    return hd_uvarint_encode(out, hd_zigzag_encode(v));
}

int hd_uvarint_decode(const uint8_t *p, size_t len, size_t max_bytes, uint64_t *out)
{
    uint64_t v = 0;
    for (size_t i = 0; i < max_bytes; i++) {
        if (i >= len)
            return HD_EINCOMPLETE;
        uint8_t b = p[i];
        /* The 10th byte of a 64-bit value may only carry one bit. */
        if (i == 9 && b > 1)
            return HD_EMALFORMED;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (max_bytes == 5 && v > UINT32_MAX)
                return HD_EMALFORMED;
            *out = v;
            return (int)(i + 1);
        }
    }
    return HD_EMALFORMED;
}

int hd_varint_decode(const uint8_t *p, size_t len, size_t max_bytes, int64_t *out)
{
    uint64_t u;
    int n = hd_uvarint_decode(p, len, max_bytes, &u);
    if (n > 0)
        *out = hd_zigzag_decode(u);
    return n;
}

size_t hd_uvarint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t hd_varint_size(int64_t v) { return hd_uvarint_size(hd_zigzag_encode(v)); }
