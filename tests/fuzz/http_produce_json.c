/* Differential fuzz target for the one-pass decoder of POST /topics/{topic}/records bodies
 * (src/http/produce_json.c): whatever it accepts, the general path (jansson with duplicate
 * names refused, then http__record_from_json per record) must accept too, giving the same
 * records byte for byte: keys, values, null flags, headers, partitions and explicit
 * timestamps. Inputs it declines are the general path's alone, so they need no check. */
#include "fuzz_check.h"
#include "http/http_int.h"
#include "util/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool same_slice(hd_slice_t a, bool an, hd_slice_t b, bool bn)
{
    if (an || bn)
        return an == bn;
    return hd_slice_eq(a, b);
}

static void compare(const http_produce_rec_t *f, const broker_record_in_t *s, int32_t spart)
{
    CHECK(f->partition == spart);
    CHECK(same_slice(f->rec.key, f->rec.key_null, s->key, s->key_null));
    CHECK(same_slice(f->rec.value, f->rec.value_null, s->value, s->value_null));
    CHECK(f->rec.nheaders == s->nheaders);
    for (int32_t i = 0; i < s->nheaders; i++) {
        CHECK(hd_slice_eq(f->rec.headers[i].name, s->headers[i].name));
        CHECK(same_slice(f->rec.headers[i].value, f->rec.headers[i].value_null, s->headers[i].value,
                         s->headers[i].value_null));
    }
    /* Absent timestamps are "now" on both sides, read at slightly different moments. */
    int64_t d = f->rec.timestamp - s->timestamp;
    CHECK(d == 0 || (d > -60000 && d < 60000));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    http_req_t *r = hd_calloc(1, sizeof *r);
    hd_arena_init(&r->arena, 0);
    hd_buf_init(&r->body);
    hd_buf_put(&r->body, data, size);
    http_produce_rec_t *fast = NULL;
    int n = 0;
    int rc = http__produce_parse_fast(r, &fast, &n);
    if (rc == 0) {
        CHECK(n > 0 && fast);
        json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
        CHECK(body && json_is_object(body));
        json_t *arr = json_object_get(body, "records");
        CHECK(json_is_array(arr) && json_array_size(arr) == (size_t)n);
        for (int i = 0; i < n; i++) {
            broker_record_in_t rec;
            int32_t part;
            const char *why = NULL;
            CHECK(http__record_from_json(r, json_array_get(arr, (size_t)i), &rec, &part, &why) ==
                  0);
            compare(&fast[i], &rec, part);
        }
        json_decref(body);
    } else {
        CHECK(rc == 1);
    }
    hd_arena_deinit(&r->arena);
    hd_buf_deinit(&r->body);
    free(r);
    return 0;
}
