/* Records as the HTTP API shows and takes them: JSON objects with key, value, headers and
 * positions. Bytes that are JSON text are embedded as JSON, other UTF-8 as strings, anything
 * else as base64 in *_b64 members, so every record round-trips exactly. */
#include "http/http_int.h"
#include "util/base64.h"
#include "util/err.h"
#include "util/monotime.h"
#include "util/utf8.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- compact JSON text with the shortest exact reals ---- */

/* jansson prints reals with 17 significant digits (9.99 becomes 9.9900000000000002). Stored
 * data is what Kafka consumers parse, so reals are written with the fewest digits that read
 * back as the same double. */
static void dump_real(double d, hd_buf_t *out)
{
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    hd_buf_put(out, tmp, strlen(tmp));
    /* Keep it a real for readers that care: 1.0 printed as "1" would read back as an integer. */
    if (!strpbrk(tmp, ".eEn"))
        hd_buf_put(out, ".0", 2);
}

int http__json_dump(json_t *j, hd_buf_t *out)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        hd_buf_put_u8(out, '{');
        const char *k;
        json_t *v;
        bool first = true;
        json_object_foreach(j, k, v)
        {
            if (!first)
                hd_buf_put_u8(out, ',');
            first = false;
            json_t *ks = json_string(k);
            int rc = ks ? http__json_dump(ks, out) : HD_EINVAL;
            json_decref(ks);
            if (rc < 0)
                return rc;
            hd_buf_put_u8(out, ':');
            if ((rc = http__json_dump(v, out)) < 0)
                return rc;
        }
        hd_buf_put_u8(out, '}');
        return 0;
    }
    case JSON_ARRAY: {
        hd_buf_put_u8(out, '[');
        for (size_t i = 0; i < json_array_size(j); i++) {
            if (i)
                hd_buf_put_u8(out, ',');
            int rc = http__json_dump(json_array_get(j, i), out);
            if (rc < 0)
                return rc;
        }
        hd_buf_put_u8(out, ']');
        return 0;
    }
    case JSON_REAL: {
        double d = json_real_value(j);
        if (!isfinite(d))
            return HD_EINVAL;
        dump_real(d, out);
        return 0;
    }
    default: {
        char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!s)
            return HD_EINVAL;
        hd_buf_put(out, s, strlen(s));
        free(s);
        return 0;
    }
    }
}

/* The JSON member for bytes: an embedded JSON value, a string, or NULL when neither fits. */
static json_t *bytes_json(hd_slice_t s)
{
    if (!hd_utf8_valid(s.p, s.len))
        return NULL;
    if (s.len > 0) {
        json_t *j = json_loadb((const char *)s.p, s.len, JSON_DECODE_ANY, NULL);
        if (j)
            return j;
    }
    return json_stringn((const char *)s.p, s.len);
}

static json_t *b64_json(hd_slice_t s)
{
    hd_buf_t b;
    hd_buf_init(&b);
    hd_base64_encode(s, &b);
    json_t *j = json_stringn((const char *)(b.p ? b.p : (const uint8_t *)""), b.len);
    hd_buf_deinit(&b);
    return j;
}

static void set_bytes(json_t *obj, const char *name, const char *name_b64, hd_slice_t s,
                      bool is_null)
{
    if (is_null) {
        json_object_set_new(obj, name, json_null());
        return;
    }
    json_t *j = bytes_json(s);
    if (j)
        json_object_set_new(obj, name, j);
    else
        json_object_set_new(obj, name_b64, b64_json(s));
}

json_t *http__record_json(int32_t partition, const broker_record_t *rec)
{
    json_t *o = json_object();
    json_object_set_new(o, "partition", json_integer(partition));
    json_object_set_new(o, "offset", json_integer(rec->offset));
    json_object_set_new(o, "timestamp", json_integer(rec->timestamp));
    set_bytes(o, "key", "key_b64", rec->key, rec->key_null);
    set_bytes(o, "value", "value_b64", rec->value, rec->value_null);
    json_t *hdrs = json_object();
    json_t *hdrs_b64 = NULL;
    hd_slice_t area = rec->headers;
    for (int32_t i = 0; i < rec->headers_count; i++) {
        broker_header_t h;
        if (broker_header_next(&area, &h) < 0)
            break; /* validated when stored; a bad area is not shown */
        /* Header names are strings in Kafka; a name that is not UTF-8 cannot be a JSON key. */
        if (!hd_utf8_valid(h.name.p, h.name.len))
            continue;
        char name[256];
        size_t nl = h.name.len < sizeof name - 1 ? h.name.len : sizeof name - 1;
        memcpy(name, h.name.p, nl);
        name[nl] = '\0';
        if (memchr(name, '\0', nl))
            continue;
        if (h.value_null) {
            json_object_set_new(hdrs, name, json_null());
        } else if (hd_utf8_valid(h.value.p, h.value.len)) {
            json_object_set_new(hdrs, name, json_stringn((const char *)h.value.p, h.value.len));
        } else {
            if (!hdrs_b64)
                hdrs_b64 = json_object();
            json_object_set_new(hdrs_b64, name, b64_json(h.value));
        }
    }
    json_object_set_new(o, "headers", hdrs);
    if (hdrs_b64)
        json_object_set_new(o, "headers_b64", hdrs_b64);
    return o;
}

/* Stores a JSON value given under "key"/"value": strings as their characters, null as null,
 * anything else as its compact JSON text. */
static int value_bytes(http_req_t *r, json_t *v, hd_slice_t *out, bool *is_null)
{
    *is_null = false;
    if (json_is_null(v)) {
        *is_null = true;
        *out = hd_slice(NULL, 0);
        return 0;
    }
    if (json_is_string(v)) {
        size_t n = json_string_length(v);
        char *p = hd_arena_strndup(&r->arena, json_string_value(v), n);
        if (!p)
            return HD_ENOMEM;
        *out = hd_slice(p, n);
        return 0;
    }
    hd_buf_t text;
    hd_buf_init(&text);
    int rc = http__json_dump(v, &text);
    char *p = rc < 0 ? NULL : hd_arena_alloc(&r->arena, text.len + 1);
    if (p && text.len)
        memcpy(p, text.p, text.len);
    size_t n = text.len;
    hd_buf_deinit(&text);
    if (!p)
        return rc < 0 ? rc : HD_ENOMEM;
    *out = hd_slice(p, n);
    return 0;
}

static int b64_bytes(http_req_t *r, json_t *v, hd_slice_t *out)
{
    if (!json_is_string(v))
        return HD_EINVAL;
    hd_buf_t b;
    hd_buf_init(&b);
    int rc = hd_base64_decode(hd_slice(json_string_value(v), json_string_length(v)), &b);
    if (rc == 0) {
        char *p = hd_arena_alloc(&r->arena, b.len + 1);
        if (!p) {
            rc = HD_ENOMEM;
        } else {
            if (b.len)
                memcpy(p, b.p, b.len);
            *out = hd_slice(p, b.len);
        }
    }
    hd_buf_deinit(&b);
    return rc;
}

static int bytes_member(http_req_t *r, json_t *j, const char *name, const char *name_b64,
                        hd_slice_t *out, bool *is_null, const char **why)
{
    json_t *v = json_object_get(j, name);
    json_t *b = json_object_get(j, name_b64);
    *is_null = true;
    *out = hd_slice(NULL, 0);
    if (v && b) {
        *why = strcmp(name, "key") == 0 ? "give either \"key\" or \"key_b64\", not both"
                                        : "give either \"value\" or \"value_b64\", not both";
        return HD_EINVAL;
    }
    if (b) {
        *is_null = false;
        if (b64_bytes(r, b, out) < 0) {
            *why = strcmp(name, "key") == 0 ? "\"key_b64\" is not valid base64"
                                            : "\"value_b64\" is not valid base64";
            return HD_EINVAL;
        }
        return 0;
    }
    if (v && value_bytes(r, v, out, is_null) < 0) {
        *why = "request too large";
        return HD_EINVAL;
    }
    return 0;
}

int http__record_from_json(http_req_t *r, json_t *j, broker_record_in_t *out, int32_t *partition,
                           const char **why)
{
    memset(out, 0, sizeof *out);
    *partition = -1;
    if (!json_is_object(j)) {
        *why = "each record must be a JSON object";
        return HD_EINVAL;
    }
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        if (strcmp(k, "key") && strcmp(k, "key_b64") && strcmp(k, "value") &&
            strcmp(k, "value_b64") && strcmp(k, "headers") && strcmp(k, "partition") &&
            strcmp(k, "timestamp")) {
            *why = "unknown member in a record (known: key, key_b64, value, value_b64, headers, "
                   "partition, timestamp)";
            return HD_EINVAL;
        }
    }
    if (bytes_member(r, j, "key", "key_b64", &out->key, &out->key_null, why) < 0 ||
        bytes_member(r, j, "value", "value_b64", &out->value, &out->value_null, why) < 0)
        return HD_EINVAL;
    json_t *p = json_object_get(j, "partition");
    if (p && !json_is_null(p)) {
        if (!json_is_integer(p) || json_integer_value(p) < 0 || json_integer_value(p) > INT32_MAX) {
            *why = "\"partition\" must be a non-negative integer";
            return HD_EINVAL;
        }
        *partition = (int32_t)json_integer_value(p);
    }
    json_t *ts = json_object_get(j, "timestamp");
    out->timestamp = hd_wall_ms();
    if (ts && !json_is_null(ts)) {
        if (!json_is_integer(ts) || json_integer_value(ts) < 0) {
            *why = "\"timestamp\" must be milliseconds since the epoch (a non-negative integer)";
            return HD_EINVAL;
        }
        out->timestamp = json_integer_value(ts);
    }
    json_t *h = json_object_get(j, "headers");
    if (h && !json_is_null(h)) {
        if (!json_is_object(h)) {
            *why = "\"headers\" must be an object of names to string values";
            return HD_EINVAL;
        }
        size_t n = json_object_size(h);
        if (n > 1000) {
            *why = "at most 1000 headers per record";
            return HD_EINVAL;
        }
        broker_header_t *hs = hd_arena_alloc(&r->arena, sizeof *hs * (n ? n : 1));
        if (!hs) {
            *why = "request too large";
            return HD_EINVAL;
        }
        size_t i = 0;
        json_object_foreach(h, k, v)
        {
            if (!json_is_string(v) && !json_is_null(v)) {
                *why = "header values must be strings (or null)";
                return HD_EINVAL;
            }
            hs[i].name = hd_slice(k, strlen(k));
            hs[i].value_null = json_is_null(v);
            hs[i].value = json_is_null(v) ? hd_slice(NULL, 0)
                                          : hd_slice(json_string_value(v), json_string_length(v));
            i++;
        }
        out->headers = hs;
        out->nheaders = (int32_t)n;
    }
    return 0;
}
