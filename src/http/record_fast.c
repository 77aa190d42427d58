/* A direct renderer of stored records as the API's JSON (the object of http__record_json),
 * written straight into a buffer without building a jansson tree: the WebSocket consumer of a
 * subscription renders every message with it. It handles the usual records (keys and values
 * that are plain UTF-8 text, not JSON, or not UTF-8; headers with distinct names) and declines
 * anything else, which the caller then renders with http__record_json. For the records it takes,
 * its bytes are exactly those of http__json_dump(http__record_json(...)), which the tests
 * check. */
#include "broker/records.h"
#include "http/http_int.h"
#include "util/base64.h"
#include "util/utf8.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define MAX_FAST_HEADERS 32

/* Whether any of the 8 bytes at p is below 0x20, '"' or '\\' (exact, word at a time). */
static bool needs_escape8(const uint8_t *p)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t x;
    memcpy(&x, p, 8);
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    uint64_t any = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b);
    return (any & highs) != 0;
}

/* Appends v in decimal. */
static void put_i64(hd_buf_t *out, int64_t v)
{
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[sizeof tmp - 1 - n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[sizeof tmp - 1 - n++] = '-';
    hd_buf_put(out, tmp + sizeof tmp - n, (size_t)n);
}

/* s as a JSON string, escaped as jansson does (", \, and control characters; \u00XX in upper
 * case for those without a short form). s is valid UTF-8. */
void http__json_put_string(hd_buf_t *out, const void *p, size_t n)
{
    const uint8_t *s = p;
    hd_buf_put_u8(out, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + 8 <= n && !needs_escape8(s + i)) {
            i += 7;
            continue;
        }
        uint8_t c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        hd_buf_put(out, s + run, i - run);
        run = i + 1;
        char esc[8];
        const char *e = NULL;
        switch (c) {
        case '"':
            e = "\\\"";
            break;
        case '\\':
            e = "\\\\";
            break;
        case '\b':
            e = "\\b";
            break;
        case '\f':
            e = "\\f";
            break;
        case '\n':
            e = "\\n";
            break;
        case '\r':
            e = "\\r";
            break;
        case '\t':
            e = "\\t";
            break;
        default:
            snprintf(esc, sizeof esc, "\\u%04X", c);
            e = esc;
        }
        hd_buf_put(out, e, strlen(e));
    }
    hd_buf_put(out, s + run, n - run);
    hd_buf_put_u8(out, '"');
}

/* Whether bytes that are valid UTF-8 surely are not JSON text (so the records API shows them as
 * a string): empty, or the first non-blank byte cannot begin a JSON value. */
static bool surely_not_json(hd_slice_t s)
{
    if (s.len == 0)
        return true;
    size_t i = 0;
    while (i < s.len && (s.p[i] == ' ' || s.p[i] == '\t' || s.p[i] == '\n' || s.p[i] == '\r'))
        i++;
    if (i == s.len)
        return true; /* only blanks: not JSON */
    static const char *const lits[] = {"true", "false", "null"};
    for (int k = 0; k < 3; k++)
        if (s.p[i] == lits[k][0])
            return s.len - i < strlen(lits[k]) || memcmp(s.p + i, lits[k], strlen(lits[k])) != 0;
    return !strchr("{[\"-0123456789", s.p[i]);
}

/* The key or value member; false when it may be JSON text (declined). */
static bool put_bytes(hd_buf_t *out, const char *name, hd_slice_t s, bool is_null)
{
    if (is_null) {
        hd_buf_put(out, ",\"", 2);
        hd_buf_put(out, name, strlen(name));
        hd_buf_put(out, "\":null", 6);
        return true;
    }
    if (!hd_utf8_valid(s.p, s.len)) {
        hd_buf_put(out, ",\"", 2);
        hd_buf_put(out, name, strlen(name));
        hd_buf_put(out, "_b64\":\"", 7);
        hd_base64_encode(s, out);
        hd_buf_put_u8(out, '"');
        return true;
    }
    if (!surely_not_json(s))
        return false;
    hd_buf_put(out, ",\"", 2);
    hd_buf_put(out, name, strlen(name));
    hd_buf_put(out, "\":", 2);
    http__json_put_string(out, s.p, s.len);
    return true;
}

int http__record_json_fast(int32_t partition, const broker_record_t *rec, hd_buf_t *out)
{
    size_t mark = out->len;
    hd_buf_put(out, "{\"partition\":", 13);
    put_i64(out, partition);
    hd_buf_put(out, ",\"offset\":", 10);
    put_i64(out, rec->offset);
    hd_buf_put(out, ",\"timestamp\":", 13);
    put_i64(out, rec->timestamp);
    if (!put_bytes(out, "key", rec->key, rec->key_null) ||
        !put_bytes(out, "value", rec->value, rec->value_null))
        goto decline;
    if (rec->headers_count > MAX_FAST_HEADERS)
        goto decline;
    broker_header_t h[MAX_FAST_HEADERS];
    hd_slice_t area = rec->headers;
    for (int32_t i = 0; i < rec->headers_count; i++) {
        if (broker_header_next(&area, &h[i]) < 0 || h[i].name.len >= 255 ||
            memchr(h[i].name.p, '\0', h[i].name.len) ||
            !hd_utf8_valid(h[i].name.p, h[i].name.len) ||
            (!h[i].value_null && !hd_utf8_valid(h[i].value.p, h[i].value.len)))
            goto decline;
        for (int32_t j = 0; j < i; j++)
            if (h[j].name.len == h[i].name.len && !memcmp(h[j].name.p, h[i].name.p, h[i].name.len))
                goto decline;
    }
    hd_buf_put(out, ",\"headers\":{", 12);
    for (int32_t i = 0; i < rec->headers_count; i++) {
        if (i)
            hd_buf_put_u8(out, ',');
        http__json_put_string(out, h[i].name.p, h[i].name.len);
        hd_buf_put_u8(out, ':');
        if (h[i].value_null)
            hd_buf_put(out, "null", 4);
        else
            http__json_put_string(out, h[i].value.p, h[i].value.len);
    }
    hd_buf_put(out, "}}", 2);
    return 0;
decline:
    out->len = mark;
    return 1;
}
