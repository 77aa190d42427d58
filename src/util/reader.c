/* hd_reader_t implementation. */
#include "util/reader.h"
#include "util/err.h"
#include "util/varint.h"

#include <string.h>

void hd_reader_fail(hd_reader_t *r, int rc)
{
    if (!r->err)
        r->err = rc;
}

static const uint8_t *take(hd_reader_t *r, size_t n)
{
    if (r->err)
        return NULL;
    if (r->len - r->pos < n) {
        r->err = HD_EMALFORMED;
        return NULL;
    }
    const uint8_t *p = r->p + r->pos;
    r->pos += n;
    return p;
}

int8_t hd_read_i8(hd_reader_t *r)
{
    const uint8_t *p = take(r, 1);
    return p ? (int8_t)p[0] : 0;
}

int16_t hd_read_i16(hd_reader_t *r)
{
    const uint8_t *p = take(r, 2);
    return p ? (int16_t)(((uint16_t)p[0] << 8) | p[1]) : 0;
}

uint32_t hd_read_u32(hd_reader_t *r)
{
    const uint8_t *p = take(r, 4);
    if (!p)
        return 0;
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

int32_t hd_read_i32(hd_reader_t *r) { return (int32_t)hd_read_u32(r); }

int64_t hd_read_i64(hd_reader_t *r)
{
    uint64_t hi = hd_read_u32(r);
    uint64_t lo = hd_read_u32(r);
    return (int64_t)((hi << 32) | lo);
}

double hd_read_f64(hd_reader_t *r)
{
    uint64_t u = (uint64_t)hd_read_i64(r);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static uint64_t read_uv(hd_reader_t *r, size_t max)
{
    if (r->err)
        return 0;
    uint64_t v;
    int n = hd_uvarint_decode(r->p + r->pos, r->len - r->pos, max, &v);
    if (n < 0) {
        r->err = HD_EMALFORMED;
        return 0;
    }
    r->pos += (size_t)n;
    return v;
}

uint32_t hd_read_uvarint32(hd_reader_t *r) { return (uint32_t)read_uv(r, 5); }

uint64_t hd_read_uvarint64(hd_reader_t *r) { return read_uv(r, 10); }

int32_t hd_read_varint(hd_reader_t *r) { return (int32_t)hd_zigzag_decode(read_uv(r, 5)); }

int64_t hd_read_varlong(hd_reader_t *r) { return hd_zigzag_decode(read_uv(r, 10)); }

hd_slice_t hd_read_bytes(hd_reader_t *r, size_t n)
{
    const uint8_t *p = take(r, n);
    return p ? hd_slice(p, n) : hd_slice(NULL, 0);
}

void hd_read_skip(hd_reader_t *r, size_t n) { (void)take(r, n); }

int32_t hd_read_count(hd_reader_t *r, int32_t max)
{
    int32_t n = hd_read_i32(r);
    if (r->err)
        return 0;
    if (n == -1)
        return -1;
    if (n < 0 || n > max || (size_t)n > r->len - r->pos) {
        r->err = HD_EMALFORMED;
        return 0;
    }
    return n;
}
