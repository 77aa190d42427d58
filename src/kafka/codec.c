/* The generic Kafka codec: one walker that decodes and encodes any schema of kafka/schema.h.
 *
 * Wire format (all integers big-endian), per field kind:
 *   int8/16/32/64, uint16, float64   fixed width; bool is one byte (any non-zero reads as true)
 *   uuid                             16 raw bytes
 *   string   classic: int16 length, -1 = null      flexible: uvarint length+1, 0 = null
 *   bytes    classic: int32 length, -1 = null      flexible: uvarint length+1, 0 = null
 *   records  as bytes
 *   array    classic: int32 count, -1 = null       flexible: uvarint count+1, 0 = null
 *            (elements: int8, int32, int64, string or struct)
 *   struct   (a single nested struct, flexible versions only) its fields inline; when nullable
 *            in the version, preceded by an int8: -1 = null, 1 = present
 * In flexible versions every struct (the body and each array element) ends with a tag buffer:
 *   uvarint count, then per tag: uvarint tag, uvarint size, size bytes of the field's value.
 * Unknown tags are skipped on decode; known tagged fields are written only in their versions and
 * only when they differ from their default.
 *
 * Every length and count is checked against the bytes left before anything is allocated, so a
 * peer cannot make the arena grow beyond a small multiple of the frame size. Errors travel in the
 * reader's sticky error. */
#include "kafka/kafka.h"
#include "kafka/kafka_int.h"
#include "util/err.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

#define KAFKA_STRING_MAX 0x7fff

static bool in_version(const kafka_field_t *f, int16_t v)
{
    return v >= f->min_ver && v <= f->max_ver;
}

static bool is_nullable(const kafka_field_t *f, int16_t v)
{
    return f->nullable_from >= 0 && v >= f->nullable_from;
}

/* ---- Decoding ---- */

void kafka__skip_tags(hd_reader_t *r)
{
    uint32_t n = hd_read_uvarint32(r);
    if (n > hd_reader_left(r) / 2) /* each tag takes at least 2 bytes */
        hd_reader_fail(r, HD_EMALFORMED);
    for (uint32_t i = 0; i < n && !r->err; i++) {
        (void)hd_read_uvarint32(r);
        uint32_t size = hd_read_uvarint32(r);
        hd_read_skip(r, size);
    }
}

/* Reads a length or count: classic int16 (wide = false) or int32, or a flexible uvarint N+1.
 * Returns -1 for null, or fails the reader for anything below -1. */
static int64_t read_len(hd_reader_t *r, bool flex, bool wide)
{
    int64_t n;
    if (flex)
        n = (int64_t)hd_read_uvarint32(r) - 1;
    else
        n = wide ? hd_read_i32(r) : hd_read_i16(r);
    if (r->err)
        return 0;
    if (n < -1)
        hd_reader_fail(r, HD_EMALFORMED);
    return n;
}

static void store_ptr(uint8_t *base, size_t off, const void *p)
{
    memcpy(base + off, &p, sizeof p);
}

static void *load_ptr(const uint8_t *base, size_t off)
{
    void *p;
    memcpy(&p, base + off, sizeof p);
    return p;
}

static const char *read_string(hd_reader_t *r, bool flex, bool nullable, hd_arena_t *a)
{
    int64_t n = read_len(r, flex, false);
    if (r->err)
        return NULL;
    if (n == -1) {
        if (!nullable)
            hd_reader_fail(r, HD_EMALFORMED);
        return NULL;
    }
    if (n > KAFKA_STRING_MAX || (size_t)n > hd_reader_left(r)) {
        hd_reader_fail(r, HD_EMALFORMED);
        return NULL;
    }
    hd_slice_t s = hd_read_bytes(r, (size_t)n);
    char *p = n ? hd_arena_strndup(a, (const char *)s.p, (size_t)n) : hd_arena_alloc(a, 1);
    if (!p)
        hd_reader_fail(r, HD_ETOOBIG);
    return p;
}

static kafka_bytes_t read_bytes_value(hd_reader_t *r, bool flex, bool nullable)
{
    kafka_bytes_t b = {hd_slice(NULL, 0), false};
    int64_t n = read_len(r, flex, true);
    if (r->err)
        return b;
    if (n == -1) {
        if (!nullable)
            hd_reader_fail(r, HD_EMALFORMED);
        b.is_null = true;
        return b;
    }
    if ((size_t)n > hd_reader_left(r)) {
        hd_reader_fail(r, HD_EMALFORMED);
        return b;
    }
    b.v = hd_read_bytes(r, (size_t)n);
    return b;
}

/* A string on the wire (i16 or compact length), kept as a slice of the frame. */
static kafka_bytes_t read_string_bytes(hd_reader_t *r, bool flex, bool nullable)
{
    kafka_bytes_t b = {hd_slice(NULL, 0), false};
    int64_t n = read_len(r, flex, false);
    if (r->err)
        return b;
    if (n == -1) {
        if (!nullable)
            hd_reader_fail(r, HD_EMALFORMED);
        b.is_null = true;
        return b;
    }
    if (n > KAFKA_STRING_MAX || (size_t)n > hd_reader_left(r)) {
        hd_reader_fail(r, HD_EMALFORMED);
        return b;
    }
    b.v = hd_read_bytes(r, (size_t)n);
    return b;
}

static void decode_struct(const kafka_schema_t *s, int16_t v, bool flex, hd_reader_t *r,
                          uint8_t *base, hd_arena_t *a);

static void read_array(const kafka_field_t *f, int16_t v, bool flex, hd_reader_t *r, uint8_t *base,
                       hd_arena_t *a)
{
    int64_t n = read_len(r, flex, true);
    if (r->err)
        return;
    int32_t *np = (int32_t *)(base + f->off_n);
    if (n == -1) {
        if (!is_nullable(f, v))
            hd_reader_fail(r, HD_EMALFORMED);
        *np = -1;
        return;
    }
    size_t min_size, elem_size;
    switch (f->kind) {
    case KAFKA_K_ARR_I8:
        min_size = elem_size = sizeof(int8_t);
        break;
    case KAFKA_K_ARR_I32:
        min_size = elem_size = sizeof(int32_t);
        break;
    case KAFKA_K_ARR_I64:
        min_size = elem_size = sizeof(int64_t);
        break;
    case KAFKA_K_ARR_STR:
        min_size = flex ? 1 : 2;
        elem_size = sizeof(const char *);
        break;
    default:
        min_size = 1;
        elem_size = f->child->size;
        break;
    }
    /* Bound the count by the bytes left before allocating anything for it. */
    if ((uint64_t)n * min_size > hd_reader_left(r)) {
        hd_reader_fail(r, HD_EMALFORMED);
        return;
    }
    if (n > KAFKA_MAX_ARRAY) {
        hd_reader_fail(r, HD_ETOOBIG);
        return;
    }
    *np = (int32_t)n;
    if (n == 0)
        return;
    uint8_t *elems = hd_arena_alloc(a, (size_t)n * elem_size);
    if (!elems) {
        hd_reader_fail(r, HD_ETOOBIG);
        return;
    }
    store_ptr(base, f->off, elems);
    for (int64_t i = 0; i < n && !r->err; i++) {
        uint8_t *e = elems + (size_t)i * elem_size;
        switch (f->kind) {
        case KAFKA_K_ARR_I8:
            *(int8_t *)e = hd_read_i8(r);
            break;
        case KAFKA_K_ARR_I32:
            *(int32_t *)e = hd_read_i32(r);
            break;
        case KAFKA_K_ARR_I64:
            *(int64_t *)e = hd_read_i64(r);
            break;
        case KAFKA_K_ARR_STR:
            store_ptr(e, 0, read_string(r, flex, false, a));
            break;
        default:
            decode_struct(f->child, v, flex, r, e, a);
            break;
        }
    }
}

/* A single nested struct, allocated in the arena; NULL stays for a null one. */
static void read_struct(const kafka_field_t *f, int16_t v, bool flex, hd_reader_t *r, uint8_t *base,
                        hd_arena_t *a)
{
    if (is_nullable(f, v)) {
        int8_t marker = hd_read_i8(r);
        if (r->err || marker < 0)
            return;
    }
    if (hd_reader_left(r) == 0) {
        hd_reader_fail(r, HD_EMALFORMED);
        return;
    }
    uint8_t *child = hd_arena_alloc(a, f->child->size);
    if (!child) {
        hd_reader_fail(r, HD_ETOOBIG);
        return;
    }
    memset(child, 0, f->child->size);
    store_ptr(base, f->off, child);
    decode_struct(f->child, v, flex, r, child, a);
}

static void decode_value(const kafka_field_t *f, int16_t v, bool flex, hd_reader_t *r,
                         uint8_t *base, hd_arena_t *a)
{
    uint8_t *p = base + f->off;
    switch (f->kind) {
    case KAFKA_K_I8:
        *(int8_t *)p = hd_read_i8(r);
        break;
    case KAFKA_K_I16:
        *(int16_t *)p = hd_read_i16(r);
        break;
    case KAFKA_K_I32:
        *(int32_t *)p = hd_read_i32(r);
        break;
    case KAFKA_K_I64:
        *(int64_t *)p = hd_read_i64(r);
        break;
    case KAFKA_K_U16:
        *(uint16_t *)p = (uint16_t)hd_read_i16(r);
        break;
    case KAFKA_K_BOOL:
        *(bool *)p = hd_read_i8(r) != 0;
        break;
    case KAFKA_K_F64:
        *(double *)p = hd_read_f64(r);
        break;
    case KAFKA_K_UUID: {
        hd_slice_t s = hd_read_bytes(r, 16);
        if (!r->err)
            memcpy(p, s.p, 16);
        break;
    }
    case KAFKA_K_STR:
        store_ptr(base, f->off, read_string(r, flex, is_nullable(f, v), a));
        break;
    case KAFKA_K_BYTES:
    case KAFKA_K_RECORDS:
        *(kafka_bytes_t *)p = read_bytes_value(r, flex, is_nullable(f, v));
        break;
    case KAFKA_K_SBYTES:
        *(kafka_bytes_t *)p = read_string_bytes(r, flex, is_nullable(f, v));
        break;
    case KAFKA_K_ARR_I8:
    case KAFKA_K_ARR_I32:
    case KAFKA_K_ARR_I64:
    case KAFKA_K_ARR_STR:
    case KAFKA_K_ARR_STRUCT:
        read_array(f, v, flex, r, base, a);
        break;
    case KAFKA_K_STRUCT:
        read_struct(f, v, flex, r, base, a);
        break;
    }
}

/* Sets a field that is not on the wire in this version to its default. The struct is zeroed
 * already, so only non-zero defaults need writing. */
static void set_default(const kafka_field_t *f, uint8_t *base)
{
    uint8_t *p = base + f->off;
    switch (f->kind) {
    case KAFKA_K_I8:
        *(int8_t *)p = (int8_t)f->def;
        break;
    case KAFKA_K_I16:
        *(int16_t *)p = (int16_t)f->def;
        break;
    case KAFKA_K_I32:
        *(int32_t *)p = (int32_t)f->def;
        break;
    case KAFKA_K_I64:
        *(int64_t *)p = f->def;
        break;
    case KAFKA_K_U16:
        *(uint16_t *)p = (uint16_t)f->def;
        break;
    case KAFKA_K_BOOL:
        *(bool *)p = f->def != 0;
        break;
    case KAFKA_K_F64:
        *(double *)p = (double)f->def;
        break;
    default:
        break;
    }
}

static void decode_tags(const kafka_schema_t *s, int16_t v, hd_reader_t *r, uint8_t *base,
                        hd_arena_t *a)
{
    uint32_t n = hd_read_uvarint32(r);
    if (n > hd_reader_left(r) / 2) /* each tag takes at least 2 bytes */
        hd_reader_fail(r, HD_EMALFORMED);
    for (uint32_t i = 0; i < n && !r->err; i++) {
        uint32_t tag = hd_read_uvarint32(r);
        uint32_t size = hd_read_uvarint32(r);
        if (r->err)
            return;
        if (size > hd_reader_left(r)) {
            hd_reader_fail(r, HD_EMALFORMED);
            return;
        }
        hd_slice_t body = hd_read_bytes(r, size);
        const kafka_field_t *f = NULL;
        for (size_t k = 0; k < s->nfields; k++) {
            if (s->fields[k].tag >= 0 && (uint32_t)s->fields[k].tag == tag &&
                in_version(&s->fields[k], v)) {
                f = &s->fields[k];
                break;
            }
        }
        if (!f)
            continue; /* unknown tag: skipped */
        hd_reader_t sub = hd_reader_init(body);
        decode_value(f, v, true, &sub, base, a);
        if (sub.err)
            hd_reader_fail(r, sub.err);
        else if (sub.pos != sub.len)
            hd_reader_fail(r, HD_EMALFORMED);
    }
}

static void decode_struct(const kafka_schema_t *s, int16_t v, bool flex, hd_reader_t *r,
                          uint8_t *base, hd_arena_t *a)
{
    for (size_t i = 0; i < s->nfields && !r->err; i++) {
        const kafka_field_t *f = &s->fields[i];
        if (in_version(f, v) && f->tag < 0)
            decode_value(f, v, flex, r, base, a);
        else
            set_default(f, base);
    }
    if (flex && !r->err)
        decode_tags(s, v, r, base, a);
}

int kafka_decode_prefix(const kafka_schema_t *s, int16_t version, bool flexible, hd_reader_t *r,
                        void *out, hd_arena_t *a)
{
    if (r->err)
        return r->err;
    memset(out, 0, s->size);
    decode_struct(s, version, flexible, r, out, a);
    return r->err;
}

int kafka_decode(const kafka_schema_t *s, int16_t version, bool flexible, hd_reader_t *r, void *out,
                 hd_arena_t *a)
{
    kafka_decode_prefix(s, version, flexible, r, out, a);
    if (!r->err && r->pos != r->len)
        hd_reader_fail(r, HD_EMALFORMED); /* trailing bytes after the body */
    return r->err;
}

void kafka_defaults(const kafka_schema_t *s, void *out)
{
    memset(out, 0, s->size);
    for (size_t i = 0; i < s->nfields; i++)
        set_default(&s->fields[i], out);
}

/* ---- Encoding ---- */

static void put_len(hd_buf_t *out, bool flex, bool wide, int64_t n)
{
    if (flex)
        hd_buf_put_uvarint(out, (uint64_t)(n + 1));
    else if (wide)
        hd_buf_put_i32be(out, (int32_t)n);
    else
        hd_buf_put_i16be(out, (int16_t)n);
}

static int put_string(hd_buf_t *out, bool flex, bool nullable, const char *s)
{
    if (!s) {
        put_len(out, flex, false, nullable ? -1 : 0);
        return 0;
    }
    size_t n = strlen(s);
    if (n > KAFKA_STRING_MAX)
        return HD_EINVAL;
    put_len(out, flex, false, (int64_t)n);
    hd_buf_put(out, s, n);
    return 0;
}

static int encode_struct(const kafka_schema_t *s, int16_t v, bool flex, const uint8_t *base,
                         hd_buf_t *out);

static int encode_array(const kafka_field_t *f, int16_t v, bool flex, const uint8_t *base,
                        hd_buf_t *out)
{
    int32_t n = *(const int32_t *)(base + f->off_n);
    const uint8_t *elems = load_ptr(base, f->off);
    if (n < -1 || (n > 0 && !elems))
        return HD_EINVAL;
    if (n == -1) {
        put_len(out, flex, true, is_nullable(f, v) ? -1 : 0);
        return 0;
    }
    put_len(out, flex, true, n);
    for (int32_t i = 0; i < n; i++) {
        int rc = 0;
        switch (f->kind) {
        case KAFKA_K_ARR_I8:
            hd_buf_put_u8(out, (uint8_t)((const int8_t *)elems)[i]);
            break;
        case KAFKA_K_ARR_I32:
            hd_buf_put_i32be(out, ((const int32_t *)elems)[i]);
            break;
        case KAFKA_K_ARR_I64:
            hd_buf_put_i64be(out, ((const int64_t *)elems)[i]);
            break;
        case KAFKA_K_ARR_STR:
            rc = put_string(out, flex, false, load_ptr(elems, (size_t)i * sizeof(char *)));
            break;
        default:
            rc = encode_struct(f->child, v, flex, elems + (size_t)i * f->child->size, out);
            break;
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int encode_value(const kafka_field_t *f, int16_t v, bool flex, const uint8_t *base,
                        hd_buf_t *out)
{
    const uint8_t *p = base + f->off;
    switch (f->kind) {
    case KAFKA_K_I8:
        hd_buf_put_u8(out, (uint8_t) * (const int8_t *)p);
        break;
    case KAFKA_K_I16:
        hd_buf_put_i16be(out, *(const int16_t *)p);
        break;
    case KAFKA_K_I32:
        hd_buf_put_i32be(out, *(const int32_t *)p);
        break;
    case KAFKA_K_I64:
        hd_buf_put_i64be(out, *(const int64_t *)p);
        break;
    case KAFKA_K_U16:
        hd_buf_put_i16be(out, (int16_t) * (const uint16_t *)p);
        break;
    case KAFKA_K_BOOL:
        hd_buf_put_u8(out, *(const bool *)p ? 1 : 0);
        break;
    case KAFKA_K_F64:
        hd_buf_put_f64be(out, *(const double *)p);
        break;
    case KAFKA_K_UUID:
        hd_buf_put(out, p, 16);
        break;
    case KAFKA_K_STR:
        return put_string(out, flex, is_nullable(f, v), load_ptr(base, f->off));
    case KAFKA_K_SBYTES: {
        const kafka_bytes_t *b = (const kafka_bytes_t *)p;
        if (b->is_null) {
            put_len(out, flex, false, is_nullable(f, v) ? -1 : 0);
            break;
        }
        if (b->v.len > KAFKA_STRING_MAX || (b->v.len && !b->v.p))
            return HD_EINVAL;
        put_len(out, flex, false, (int64_t)b->v.len);
        if (b->v.len)
            hd_buf_put(out, b->v.p, b->v.len);
        break;
    }
    case KAFKA_K_BYTES:
    case KAFKA_K_RECORDS: {
        const kafka_bytes_t *b = (const kafka_bytes_t *)p;
        if (b->is_null) {
            put_len(out, flex, true, is_nullable(f, v) ? -1 : 0);
            break;
        }
        if (b->v.len >= INT32_MAX || (b->v.len && !b->v.p))
            return HD_EINVAL;
        put_len(out, flex, true, (int64_t)b->v.len);
        if (f->kind == KAFKA_K_RECORDS && kafka__splices && b->v.len >= kafka__splice_min) {
            kafka_splices_t *sp = kafka__splices;
            if (sp->n == sp->cap) {
                sp->cap = sp->cap ? sp->cap * 2 : 16;
                sp->v = hd_realloc(sp->v, (size_t)sp->cap * sizeof *sp->v);
            }
            sp->v[sp->n++] = (kafka_splice_t){out->len, b->v.p, b->v.len};
            sp->total += b->v.len;
        } else if (b->v.len) {
            hd_buf_put(out, b->v.p, b->v.len);
        }
        break;
    }
    case KAFKA_K_ARR_I8:
    case KAFKA_K_ARR_I32:
    case KAFKA_K_ARR_I64:
    case KAFKA_K_ARR_STR:
    case KAFKA_K_ARR_STRUCT:
        return encode_array(f, v, flex, base, out);
    case KAFKA_K_STRUCT: {
        const uint8_t *child = load_ptr(base, f->off);
        bool nullable = is_nullable(f, v);
        if (!child && nullable) {
            hd_buf_put_u8(out, 0xff);
            return 0;
        }
        if (nullable)
            hd_buf_put_u8(out, 1);
        if (child)
            return encode_struct(f->child, v, flex, child, out);
        /* A non-nullable struct left unset goes out with its defaults. */
        uint8_t *dflt = hd_calloc(1, f->child->size);
        kafka_defaults(f->child, dflt);
        int rc = encode_struct(f->child, v, flex, dflt, out);
        free(dflt);
        return rc;
    }
    }
    return 0;
}

/* Whether a tagged field holds its default and so is left out of the tag buffer. */
static bool holds_default(const kafka_field_t *f, const uint8_t *base)
{
    const uint8_t *p = base + f->off;
    switch (f->kind) {
    case KAFKA_K_I8:
        return *(const int8_t *)p == (int8_t)f->def;
    case KAFKA_K_I16:
        return *(const int16_t *)p == (int16_t)f->def;
    case KAFKA_K_I32:
        return *(const int32_t *)p == (int32_t)f->def;
    case KAFKA_K_I64:
        return *(const int64_t *)p == f->def;
    case KAFKA_K_U16:
        return *(const uint16_t *)p == (uint16_t)f->def;
    case KAFKA_K_BOOL:
        return *(const bool *)p == (f->def != 0);
    case KAFKA_K_F64:
        return *(const double *)p == (double)f->def;
    case KAFKA_K_UUID: {
        static const uint8_t zero[16];
        return memcmp(p, zero, 16) == 0;
    }
    case KAFKA_K_STR:
        return load_ptr(base, f->off) == NULL;
    case KAFKA_K_BYTES:
    case KAFKA_K_RECORDS:
    case KAFKA_K_SBYTES:
        return ((const kafka_bytes_t *)p)->v.len == 0;
    case KAFKA_K_STRUCT:
        return load_ptr(base, f->off) == NULL;
    default:
        return *(const int32_t *)(base + f->off_n) <= 0;
    }
}

static int encode_tags(const kafka_schema_t *s, int16_t v, const uint8_t *base, hd_buf_t *out)
{
    uint32_t n = 0;
    for (size_t i = 0; i < s->nfields; i++) {
        const kafka_field_t *f = &s->fields[i];
        if (f->tag >= 0 && in_version(f, v) && !holds_default(f, base))
            n++;
    }
    hd_buf_put_uvarint(out, n);
    if (n == 0)
        return 0;
    /* Tagged rows are listed in ascending tag order (checked by the unit tests). */
    hd_buf_t tmp;
    hd_buf_init(&tmp);
    int rc = 0;
    for (size_t i = 0; i < s->nfields && !rc; i++) {
        const kafka_field_t *f = &s->fields[i];
        if (f->tag < 0 || !in_version(f, v) || holds_default(f, base))
            continue;
        hd_buf_reset(&tmp);
        rc = encode_value(f, v, true, base, &tmp);
        if (rc)
            break;
        hd_buf_put_uvarint(out, (uint64_t)f->tag);
        hd_buf_put_uvarint(out, tmp.len);
        hd_buf_put(out, tmp.p, tmp.len);
    }
    hd_buf_deinit(&tmp);
    return rc;
}

static int encode_struct(const kafka_schema_t *s, int16_t v, bool flex, const uint8_t *base,
                         hd_buf_t *out)
{
    for (size_t i = 0; i < s->nfields; i++) {
        const kafka_field_t *f = &s->fields[i];
        if (!in_version(f, v) || f->tag >= 0)
            continue;
        int rc = encode_value(f, v, flex, base, out);
        if (rc)
            return rc;
    }
    return flex ? encode_tags(s, v, base, out) : 0;
}

int kafka_encode(const kafka_schema_t *s, int16_t version, bool flexible, const void *in,
                 hd_buf_t *out)
{
    size_t start = out->len;
    int rc = encode_struct(s, version, flexible, in, out);
    if (rc)
        out->len = start;
    return rc;
}
