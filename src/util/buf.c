/* hd_buf_t: growable byte buffer, doubling capacity. */
#include "util/buf.h"
#include "util/mem.h"
#include "util/varint.h"

#include <stdlib.h>
#include <string.h>

char *hd_slice_dup(hd_slice_t s)
{
    return hd_strndup((const char *)(s.p ? s.p : (const uint8_t *)""), s.len);
}

void hd_buf_init(hd_buf_t *b)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
}

void hd_buf_deinit(hd_buf_t *b)
{
    free(b->p);
    hd_buf_init(b);
}

uint8_t *hd_buf_ensure(hd_buf_t *b, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        b->p = hd_realloc(b->p, cap);
        b->cap = cap;
    }
    return b->p + b->len;
}

void hd_buf_reset(hd_buf_t *b) { b->len = 0; }

void hd_buf_consume(hd_buf_t *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

void hd_buf_put(hd_buf_t *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    memcpy(hd_buf_ensure(b, n), p, n);
    b->len += n;
}

void hd_buf_put_u8(hd_buf_t *b, uint8_t v)
{
    *hd_buf_ensure(b, 1) = v;
    b->len += 1;
}

void hd_buf_put_i16be(hd_buf_t *b, int16_t v)
{
    uint8_t *p = hd_buf_ensure(b, 2);
    uint16_t u = (uint16_t)v;
    p[0] = (uint8_t)(u >> 8);
    p[1] = (uint8_t)u;
    b->len += 2;
}

void hd_buf_put_u32be(hd_buf_t *b, uint32_t u)
{
    uint8_t *p = hd_buf_ensure(b, 4);
    p[0] = (uint8_t)(u >> 24);
    p[1] = (uint8_t)(u >> 16);
    p[2] = (uint8_t)(u >> 8);
    p[3] = (uint8_t)u;
    b->len += 4;
}

void hd_buf_put_i32be(hd_buf_t *b, int32_t v) { hd_buf_put_u32be(b, (uint32_t)v); }

void hd_buf_put_i64be(hd_buf_t *b, int64_t v)
{
    uint64_t u = (uint64_t)v;
    hd_buf_put_u32be(b, (uint32_t)(u >> 32));
    hd_buf_put_u32be(b, (uint32_t)u);
}

void hd_buf_put_f64be(hd_buf_t *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    hd_buf_put_i64be(b, (int64_t)u);
}

void hd_buf_put_uvarint(hd_buf_t *b, uint64_t v)
{
    b->len += hd_uvarint_encode(hd_buf_ensure(b, HD_VARINT_MAX_LEN), v);
}

void hd_buf_put_varint(hd_buf_t *b, int64_t v)
{
    b->len += hd_varint_encode(hd_buf_ensure(b, HD_VARINT_MAX_LEN), v);
}

size_t hd_buf_reserve_i32(hd_buf_t *b)
{
    size_t off = b->len;
    hd_buf_put_i32be(b, 0);
    return off;
}

void hd_buf_patch_i32be(hd_buf_t *b, size_t off, int32_t v)
{
    uint32_t u = (uint32_t)v;
    b->p[off] = (uint8_t)(u >> 24);
    b->p[off + 1] = (uint8_t)(u >> 16);
    b->p[off + 2] = (uint8_t)(u >> 8);
    b->p[off + 3] = (uint8_t)u;
}
