/* Round trips of every request and response schema at every advertised version, truncation at
 * every byte, and consistency checks of the protocol tables themselves. */
#include "kafka/handler_int.h"
#include "kafka/kafka.h"
#include "util/err.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* How the filler treats nullable fields: all null, or none null. */
enum { FILL_VALUES = 0, FILL_NULLS = 1 };

static const uint8_t blob[] = {0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03};

static bool in_version(const kafka_field_t *f, int16_t v)
{
    return v >= f->min_ver && v <= f->max_ver;
}

static bool nullable(const kafka_field_t *f, int16_t v)
{
    return f->nullable_from >= 0 && v >= f->nullable_from;
}

static void set_ptr(uint8_t *base, size_t off, const void *p) { memcpy(base + off, &p, sizeof p); }

static const void *get_ptr(const uint8_t *base, size_t off)
{
    const void *p;
    memcpy(&p, base + off, sizeof p);
    return p;
}

static const char *make_string(hd_arena_t *a, unsigned *seed)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "s%u", (*seed)++);
    return hd_arena_strndup(a, tmp, (size_t)n);
}

static void fill_struct(const kafka_schema_t *s, int16_t v, bool flex, int mode, uint8_t *base,
                        hd_arena_t *a, unsigned *seed, int depth);

/* Sets a field absent from version v to the default the decoder gives it. */
static void fill_default(const kafka_field_t *f, uint8_t *base)
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

static void fill_field(const kafka_field_t *f, int16_t v, bool flex, int mode, uint8_t *base,
                       hd_arena_t *a, unsigned *seed, int depth)
{
    uint8_t *p = base + f->off;
    unsigned k = (*seed)++;
    bool null = mode == FILL_NULLS && nullable(f, v);
    switch (f->kind) {
    case KAFKA_K_I8:
        *(int8_t *)p = (int8_t)(f->def + 1 + (int)(k % 50));
        break;
    case KAFKA_K_I16:
        *(int16_t *)p = (int16_t)(f->def + 1 + (int)(k % 1000));
        break;
    case KAFKA_K_I32:
        *(int32_t *)p = (int32_t)(f->def == INT32_MAX ? 1000 + k : f->def + 100000 + k);
        break;
    case KAFKA_K_I64:
        *(int64_t *)p = f->def + 0x100000000LL + k;
        break;
    case KAFKA_K_U16:
        *(uint16_t *)p = (uint16_t)(f->def + 1 + k);
        break;
    case KAFKA_K_BOOL:
        *(bool *)p = f->def == 0;
        break;
    case KAFKA_K_F64:
        *(double *)p = 1.5 + k;
        break;
    case KAFKA_K_UUID:
        for (int i = 0; i < 16; i++)
            p[i] = (uint8_t)(k + (unsigned)i + 1);
        break;
    case KAFKA_K_STR:
        set_ptr(base, f->off, null ? NULL : make_string(a, seed));
        break;
    case KAFKA_K_BYTES:
    case KAFKA_K_SBYTES: /* a string held as bytes: the blob has NUL bytes, which must survive */
    case KAFKA_K_RECORDS: {
        kafka_bytes_t *b = (kafka_bytes_t *)p;
        b->is_null = null;
        b->v = null ? hd_slice(NULL, 0) : hd_slice(blob, 1 + k % sizeof blob);
        break;
    }
    case KAFKA_K_STRUCT: {
        uint8_t *c = NULL;
        if (!null) {
            c = hd_arena_alloc(a, f->child->size);
            fill_struct(f->child, v, flex, mode, c, a, seed, depth + 1);
        }
        set_ptr(base, f->off, c);
        break;
    }
    default: {
        int32_t *np = (int32_t *)(base + f->off_n);
        if (null) {
            *np = -1;
            set_ptr(base, f->off, NULL);
            break;
        }
        size_t esz = f->kind == KAFKA_K_ARR_I8    ? sizeof(int8_t)
                     : f->kind == KAFKA_K_ARR_I32 ? sizeof(int32_t)
                     : f->kind == KAFKA_K_ARR_I64 ? sizeof(int64_t)
                     : f->kind == KAFKA_K_ARR_STR ? sizeof(char *)
                                                  : f->child->size;
        uint8_t *e = hd_arena_alloc(a, 2 * esz);
        *np = 2;
        set_ptr(base, f->off, e);
        for (int i = 0; i < 2; i++) {
            uint8_t *el = e + (size_t)i * esz;
            if (f->kind == KAFKA_K_ARR_I8)
                *(int8_t *)el = (int8_t)(k % 100 - 50 + (unsigned)i);
            else if (f->kind == KAFKA_K_ARR_I32)
                *(int32_t *)el = (int32_t)(k * 10 + (unsigned)i);
            else if (f->kind == KAFKA_K_ARR_I64)
                *(int64_t *)el = (int64_t)k * 1000 + i;
            else if (f->kind == KAFKA_K_ARR_STR)
                set_ptr(el, 0, make_string(a, seed));
            else
                fill_struct(f->child, v, flex, mode, el, a, seed, depth + 1);
        }
        break;
    }
    }
}

static void fill_struct(const kafka_schema_t *s, int16_t v, bool flex, int mode, uint8_t *base,
                        hd_arena_t *a, unsigned *seed, int depth)
{
    assert_true(depth < 8);
    for (size_t i = 0; i < s->nfields; i++) {
        const kafka_field_t *f = &s->fields[i];
        bool on_wire = in_version(f, v) && (f->tag < 0 || flex);
        if (on_wire)
            fill_field(f, v, flex, mode, base, a, seed, depth);
        else
            fill_default(f, base);
    }
}

/* Compares two structs field by field; fails with the schema and field name. */
static void compare_struct(const kafka_schema_t *s, int16_t v, const uint8_t *x, const uint8_t *y)
{
    for (size_t i = 0; i < s->nfields; i++) {
        const kafka_field_t *f = &s->fields[i];
        const uint8_t *px = x + f->off, *py = y + f->off;
        bool ok = true;
        switch (f->kind) {
        case KAFKA_K_I8:
            ok = *(const int8_t *)px == *(const int8_t *)py;
            break;
        case KAFKA_K_I16:
        case KAFKA_K_U16:
            ok = memcmp(px, py, 2) == 0;
            break;
        case KAFKA_K_I32:
            ok = *(const int32_t *)px == *(const int32_t *)py;
            break;
        case KAFKA_K_I64:
            ok = *(const int64_t *)px == *(const int64_t *)py;
            break;
        case KAFKA_K_BOOL:
            ok = *(const bool *)px == *(const bool *)py;
            break;
        case KAFKA_K_F64:
            ok = *(const double *)px == *(const double *)py;
            break;
        case KAFKA_K_UUID:
            ok = memcmp(px, py, 16) == 0;
            break;
        case KAFKA_K_STR: {
            const char *sx = get_ptr(x, f->off), *sy = get_ptr(y, f->off);
            ok = (!sx && !sy) || (sx && sy && strcmp(sx, sy) == 0);
            break;
        }
        case KAFKA_K_BYTES:
        case KAFKA_K_SBYTES:
        case KAFKA_K_RECORDS: {
            const kafka_bytes_t *bx = (const kafka_bytes_t *)px, *by = (const kafka_bytes_t *)py;
            ok = bx->is_null == by->is_null && hd_slice_eq(bx->v, by->v);
            break;
        }
        case KAFKA_K_STRUCT: {
            const uint8_t *cx = get_ptr(x, f->off), *cy = get_ptr(y, f->off);
            ok = !cx == !cy;
            if (ok && cx)
                compare_struct(f->child, v, cx, cy);
            break;
        }
        default: {
            int32_t nx = *(const int32_t *)(x + f->off_n), ny = *(const int32_t *)(y + f->off_n);
            ok = nx == ny;
            const uint8_t *ex = get_ptr(x, f->off), *ey = get_ptr(y, f->off);
            for (int32_t k = 0; ok && k < nx; k++) {
                if (f->kind == KAFKA_K_ARR_I8)
                    ok = ((const int8_t *)ex)[k] == ((const int8_t *)ey)[k];
                else if (f->kind == KAFKA_K_ARR_I32)
                    ok = ((const int32_t *)(const void *)ex)[k] ==
                         ((const int32_t *)(const void *)ey)[k];
                else if (f->kind == KAFKA_K_ARR_I64)
                    ok = ((const int64_t *)(const void *)ex)[k] ==
                         ((const int64_t *)(const void *)ey)[k];
                else if (f->kind == KAFKA_K_ARR_STR)
                    ok = strcmp(get_ptr(ex, (size_t)k * sizeof(char *)),
                                get_ptr(ey, (size_t)k * sizeof(char *))) == 0;
                else
                    compare_struct(f->child, v, ex + (size_t)k * f->child->size,
                                   ey + (size_t)k * f->child->size);
            }
            break;
        }
        }
        if (!ok)
            fail_msg("%s.%s differs at v%d", s->name, f->name, v);
    }
}

static void roundtrip_one(const kafka_schema_t *s, int16_t v, bool flex, int mode)
{
    hd_arena_t a;
    hd_arena_init(&a, 0);
    unsigned seed = 1;
    uint8_t *orig = hd_arena_alloc(&a, s->size);
    uint8_t *dec = hd_arena_alloc(&a, s->size);
    fill_struct(s, v, flex, mode, orig, &a, &seed, 0);

    hd_buf_t b1, b2;
    hd_buf_init(&b1);
    hd_buf_init(&b2);
    assert_int_equal(kafka_encode(s, v, flex, orig, &b1), 0);
    hd_reader_t r = hd_reader_init(hd_buf_slice(&b1));
    int rc = kafka_decode(s, v, flex, &r, dec, &a);
    if (rc)
        fail_msg("%s v%d mode %d: decode %s at %zu of %zu", s->name, v, mode, hd_strerror(rc),
                 r.pos, b1.len);
    compare_struct(s, v, orig, dec);
    assert_int_equal(kafka_encode(s, v, flex, dec, &b2), 0);
    assert_int_equal(b1.len, b2.len);
    assert_memory_equal(b1.p, b2.p, b1.len);

    /* Every strict prefix is malformed (never a crash, never success). */
    for (size_t cut = 0; cut < b1.len; cut++) {
        hd_reader_t t = hd_reader_init(hd_slice(b1.p, cut));
        uint8_t *tmp = hd_arena_alloc(&a, s->size);
        rc = kafka_decode(s, v, flex, &t, tmp, &a);
        if (rc != HD_EMALFORMED)
            fail_msg("%s v%d cut at %zu/%zu: rc %d", s->name, v, cut, b1.len, rc);
    }
    /* A trailing byte is malformed too. */
    hd_buf_put_u8(&b1, 0);
    hd_reader_t t = hd_reader_init(hd_buf_slice(&b1));
    assert_int_equal(kafka_decode(s, v, flex, &t, dec, &a), HD_EMALFORMED);

    hd_buf_deinit(&b1);
    hd_buf_deinit(&b2);
    hd_arena_deinit(&a);
}

static void test_every_schema_at_every_version_round_trips(void **state)
{
    (void)state;
    int n = 0;
    for (size_t i = 0; i < kafka_apis_n; i++) {
        const kafka_api_t *api = &kafka_apis[i];
        for (int16_t v = api->min_version; v <= api->max_version; v++) {
            bool flex = kafka_api_flexible(api, v);
            for (int mode = FILL_VALUES; mode <= FILL_NULLS; mode++) {
                roundtrip_one(api->req, v, flex, mode);
                roundtrip_one(api->resp, v, flex, mode);
                n += 2;
            }
        }
    }
    assert_true(n > 300);
}

/* With HERALD_KAFKA_SEED_DIR set, writes each framed request there as a fuzz seed (this is how
 * tests/fuzz/corpus/kafka_request/ was made). */
static void write_seed(const kafka_api_t *api, int16_t v, const hd_buf_t *b)
{
    const char *dir = getenv("HERALD_KAFKA_SEED_DIR");
    if (!dir)
        return;
    char path[512];
    snprintf(path, sizeof path, "%s/%s_v%d", dir, api->name, v);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b->p, 1, b->len, f), b->len);
    assert_int_equal(fclose(f), 0);
}

static void test_framed_request_round_trips_through_header_decode(void **state)
{
    (void)state;
    for (size_t i = 0; i < kafka_apis_n; i++) {
        const kafka_api_t *api = &kafka_apis[i];
        for (int16_t v = api->min_version; v <= api->max_version; v++) {
            hd_arena_t a;
            hd_arena_init(&a, 0);
            unsigned seed = 7;
            uint8_t *req = hd_arena_alloc(&a, api->req_size);
            uint8_t *dec = hd_arena_alloc(&a, api->req_size);
            fill_struct(api->req, v, kafka_api_flexible(api, v), FILL_VALUES, req, &a, &seed, 0);
            hd_buf_t b;
            hd_buf_init(&b);
            assert_int_equal(kafka_request_encode(api, v, 1234 + v, "client-x", req, &b), 0);
            write_seed(api, v, &b);

            hd_slice_t body;
            size_t used;
            assert_int_equal(kafka_frame_decode(hd_buf_slice(&b), 1 << 20, &body, &used), 0);
            assert_int_equal(used, b.len);
            hd_reader_t r = hd_reader_init(body);
            kafka_request_header_t h;
            assert_int_equal(kafka_request_header_decode(&r, &h), 0);
            assert_int_equal(h.api_key, api->key);
            assert_int_equal(h.api_version, v);
            assert_int_equal(h.correlation_id, 1234 + v);
            assert_ptr_equal(h.api, api);
            assert_true(hd_slice_eq_str(h.client_id.v, "client-x"));
            assert_int_equal(kafka_request_decode(api, v, &r, dec, &a), 0);
            compare_struct(api->req, v, req, dec);
            hd_buf_deinit(&b);
            hd_arena_deinit(&a);
        }
    }
}

static void check_schema(const kafka_schema_t *s, int16_t lo, int16_t hi)
{
    int32_t last_tag = -1;
    assert_true(s->nfields > 0);
    for (size_t i = 0; i < s->nfields; i++) {
        const kafka_field_t *f = &s->fields[i];
        if (f->min_ver > f->max_ver || f->max_ver < lo || f->min_ver > hi)
            fail_msg("%s.%s: version range %d-%d outside %d-%d", s->name, f->name, f->min_ver,
                     f->max_ver, lo, hi);
        if (f->nullable_from >= 0 && f->nullable_from < f->min_ver)
            fail_msg("%s.%s: nullable before it exists", s->name, f->name);
        if (f->tag >= 0) {
            if (f->tag <= last_tag)
                fail_msg("%s.%s: tags not ascending", s->name, f->name);
            last_tag = f->tag;
        }
        assert_true((f->kind == KAFKA_K_ARR_STRUCT || f->kind == KAFKA_K_STRUCT) ==
                    (f->child != NULL));
        if (f->child)
            check_schema(f->child, lo, hi);
    }
}

static void test_tables_are_consistent(void **state)
{
    (void)state;
    int16_t last_key = -1;
    for (size_t i = 0; i < kafka_apis_n; i++) {
        const kafka_api_t *api = &kafka_apis[i];
        assert_true(api->key > last_key);
        last_key = api->key;
        assert_ptr_equal(kafka_api_find(api->key), api);
        assert_true(api->min_version <= api->max_version);
        assert_int_equal(api->req->size, api->req_size);
        assert_int_equal(api->resp->size, api->resp_size);
        check_schema(api->req, api->min_version, api->max_version);
        check_schema(api->resp, api->min_version, api->max_version);
    }
    /* Every advertised API has a handler, and every handler an advertised API. */
    assert_int_equal(kafka_apis_n, 31);
    assert_int_equal(kafka_apis_n, (size_t)kafka__nhandlers);
    for (int i = 0; i < kafka__nhandlers; i++)
        assert_non_null(kafka_api_find(kafka__handlers[i].key));
    assert_null(kafka_api_find(17));
    assert_null(kafka_api_find(-1));
}

static void test_dump_names_fields(void **state)
{
    (void)state;
    kafka_ProduceRequest_PartitionProduceData_t part = {.Index = 3};
    part.Records.v = hd_slice(blob, 4);
    kafka_ProduceRequest_TopicProduceData_t topic = {.Name = "t1"};
    topic.PartitionData = &part;
    topic.PartitionData_n = 1;
    kafka_ProduceRequest_t req = {.Acks = -1, .TimeoutMs = 500, .TransactionalId = NULL};
    req.TopicData = &topic;
    req.TopicData_n = 1;
    hd_buf_t b;
    hd_buf_init(&b);
    kafka_dump(&kafka_schema_ProduceRequest, 7, &req, &b);
    hd_buf_put_u8(&b, 0);
    assert_string_equal((const char *)b.p,
                        "ProduceRequest{TransactionalId=null Acks=-1 TimeoutMs=500 "
                        "TopicData=[{Name=\"t1\" PartitionData=[{Index=3 Records=<4 bytes>}]}]}");
    hd_buf_deinit(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables_are_consistent),
        cmocka_unit_test(test_every_schema_at_every_version_round_trips),
        cmocka_unit_test(test_framed_request_round_trips_through_header_decode),
        cmocka_unit_test(test_dump_names_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
