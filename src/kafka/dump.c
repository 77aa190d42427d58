/* kafka_dump(): a one-line rendering of a decoded struct, for debug logs and test failures. */
#include "kafka/kafka.h"
#include "util/say.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void put_fmt(hd_buf_t *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put_fmt(hd_buf_t *out, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        hd_buf_put(out, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void put_str(hd_buf_t *out, const char *s)
{
    if (!s) {
        hd_buf_put(out, "null", 4);
        return;
    }
    char esc[256];
    say_escape(esc, sizeof esc, s, strlen(s));
    put_fmt(out, "\"%s\"", esc);
}

static const void *ptr_at(const uint8_t *base, size_t off)
{
    const void *p;
    memcpy(&p, base + off, sizeof p);
    return p;
}

static void dump_struct(const kafka_schema_t *s, int16_t v, const uint8_t *base, hd_buf_t *out)
{
    hd_buf_put_u8(out, '{');
    bool first = true;
    for (size_t i = 0; i < s->nfields; i++) {
        const kafka_field_t *f = &s->fields[i];
        if (v < f->min_ver || v > f->max_ver)
            continue;
        const uint8_t *p = base + f->off;
        put_fmt(out, "%s%s=", first ? "" : " ", f->name);
        first = false;
        switch (f->kind) {
        case KAFKA_K_I8:
            put_fmt(out, "%d", *(const int8_t *)p);
            break;
        case KAFKA_K_I16:
            put_fmt(out, "%d", *(const int16_t *)p);
            break;
        case KAFKA_K_I32:
            put_fmt(out, "%" PRId32, *(const int32_t *)p);
            break;
        case KAFKA_K_I64:
            put_fmt(out, "%" PRId64, *(const int64_t *)p);
            break;
        case KAFKA_K_U16:
            put_fmt(out, "%u", *(const uint16_t *)p);
            break;
        case KAFKA_K_BOOL:
            put_fmt(out, "%s", *(const bool *)p ? "true" : "false");
            break;
        case KAFKA_K_F64:
            put_fmt(out, "%g", *(const double *)p);
            break;
        case KAFKA_K_UUID:
            for (int k = 0; k < 16; k++)
                put_fmt(out, "%02x", p[k]);
            break;
        case KAFKA_K_STR:
            put_str(out, ptr_at(base, f->off));
            break;
        case KAFKA_K_BYTES:
        case KAFKA_K_SBYTES:
        case KAFKA_K_RECORDS: {
            const kafka_bytes_t *b = (const kafka_bytes_t *)p;
            if (b->is_null)
                put_fmt(out, "null");
            else
                put_fmt(out, "<%zu bytes>", b->v.len);
            break;
        }
        case KAFKA_K_STRUCT: {
            const uint8_t *c = ptr_at(base, f->off);
            if (c)
                dump_struct(f->child, v, c, out);
            else
                put_fmt(out, "null");
            break;
        }
        default: {
            int32_t n = *(const int32_t *)(base + f->off_n);
            const uint8_t *e = ptr_at(base, f->off);
            if (n < 0) {
                put_fmt(out, "null");
                break;
            }
            hd_buf_put_u8(out, '[');
            for (int32_t k = 0; k < n && e; k++) {
                if (k)
                    hd_buf_put_u8(out, ',');
                if (f->kind == KAFKA_K_ARR_I8)
                    put_fmt(out, "%d", ((const int8_t *)(const void *)e)[k]);
                else if (f->kind == KAFKA_K_ARR_I32)
                    put_fmt(out, "%" PRId32, ((const int32_t *)(const void *)e)[k]);
                else if (f->kind == KAFKA_K_ARR_I64)
                    put_fmt(out, "%" PRId64, ((const int64_t *)(const void *)e)[k]);
                else if (f->kind == KAFKA_K_ARR_STR)
                    put_str(out, ptr_at(e, (size_t)k * sizeof(char *)));
                else
                    dump_struct(f->child, v, e + (size_t)k * f->child->size, out);
            }
            hd_buf_put_u8(out, ']');
            break;
        }
        }
    }
    hd_buf_put_u8(out, '}');
}

void kafka_dump(const kafka_schema_t *s, int16_t version, const void *in, hd_buf_t *out)
{
    hd_buf_put(out, s->name, strlen(s->name));
    dump_struct(s, version, in, out);
}
