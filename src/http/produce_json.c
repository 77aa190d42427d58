/* The fast path for POST /topics/{topic}/records bodies: one pass over the JSON text that decodes
 * the records straight into the request's arena, with no tree of JSON values in between (that
 * tree, built by jansson, was most of the CPU time of an HTTP produce).
 *
 * It gives exactly the records the general path (jansson, then http__record_from_json) gives:
 * strings decoded to their characters, other values re-printed compactly the way
 * http__json_dump prints them (jansson's escapes, integers as int64, reals with the shortest
 * digits). It is only an accelerator: on anything unusual or wrong - an unknown member, a
 * duplicate name anywhere, invalid UTF-8, an out-of-range number, deep nesting, no records - it
 * declines, and the general path parses the body again and gives the precise answer. A fuzz
 * target (tests/fuzz/http_produce_json.c) checks that whatever this accepts, the general path
 * accepts too, with the same records. */
#include "http/http_int.h"
#include "util/base64.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/monotime.h"
#include "util/utf8.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PJ_MAX_DEPTH 64
#define PJ_MAX_KEYS 64 /* members of one nested object checked for duplicates */
#define PJ_DECLINE 1

typedef struct pj {
    const char *p, *end;
    hd_arena_t *a;
    int depth;
} pj_t;

static void skip_ws(pj_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

static bool eat(pj_t *j, char ch)
{
    skip_ws(j);
    if (j->p < j->end && *j->p == ch) {
        j->p++;
        return true;
    }
    return false;
}

static int hex4(const char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static void put_utf8(hd_buf_t *b, uint32_t cp)
{
    uint8_t u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (uint8_t)(0xc0 | cp >> 6);
        u[1] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (uint8_t)(0xe0 | cp >> 12);
        u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (uint8_t)(0xf0 | cp >> 18);
        u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 4;
    }
    hd_buf_put(b, u, n);
}

/* Decodes a string (at its opening quote) into `out` (appended). Declines on anything jansson
 * refuses: raw control characters, bad escapes, unpaired surrogates, \u0000, invalid UTF-8. */
static int read_string(pj_t *j, hd_buf_t *out)
{
    skip_ws(j);
    if (j->p >= j->end || *j->p != '"')
        return PJ_DECLINE;
    const char *s = ++j->p;
    size_t start = out->len;
    for (;;) {
        const char *q = s;
        while (q < j->end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
            q++;
        if (q >= j->end)
            return PJ_DECLINE;
        hd_buf_put(out, s, (size_t)(q - s));
        if (*q == '"') {
            j->p = q + 1;
            break;
        }
        if (*q != '\\')
            return PJ_DECLINE; /* a raw control character */
        if (q + 1 >= j->end)
            return PJ_DECLINE;
        char e = q[1];
        s = q + 2;
        switch (e) {
        case '"':
            hd_buf_put_u8(out, '"');
            break;
        case '\\':
            hd_buf_put_u8(out, '\\');
            break;
        case '/':
            hd_buf_put_u8(out, '/');
            break;
        case 'b':
            hd_buf_put_u8(out, '\b');
            break;
        case 'f':
            hd_buf_put_u8(out, '\f');
            break;
        case 'n':
            hd_buf_put_u8(out, '\n');
            break;
        case 'r':
            hd_buf_put_u8(out, '\r');
            break;
        case 't':
            hd_buf_put_u8(out, '\t');
            break;
        case 'u': {
            uint32_t cp;
            if (j->end - s < 4 || hex4(s, &cp) < 0)
                return PJ_DECLINE;
            s += 4;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                uint32_t lo;
                if (j->end - s < 6 || s[0] != '\\' || s[1] != 'u' || hex4(s + 2, &lo) < 0 ||
                    lo < 0xdc00 || lo > 0xdfff)
                    return PJ_DECLINE;
                s += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if ((cp >= 0xdc00 && cp <= 0xdfff) || cp == 0) {
                return PJ_DECLINE;
            }
            put_utf8(out, cp);
            break;
        }
        default:
            return PJ_DECLINE;
        }
    }
    if (!hd_utf8_valid(out->p + start, out->len - start))
        return PJ_DECLINE;
    return 0;
}

/* Appends a string as jansson prints it (JSON_COMPACT, no extra flags). */
static void write_string(hd_buf_t *out, const uint8_t *s, size_t n)
{
    hd_buf_put_u8(out, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        hd_buf_put(out, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            hd_buf_put(out, "\\\"", 2);
            break;
        case '\\':
            hd_buf_put(out, "\\\\", 2);
            break;
        case '\b':
            hd_buf_put(out, "\\b", 2);
            break;
        case '\f':
            hd_buf_put(out, "\\f", 2);
            break;
        case '\n':
            hd_buf_put(out, "\\n", 2);
            break;
        case '\r':
            hd_buf_put(out, "\\r", 2);
            break;
        case '\t':
            hd_buf_put(out, "\\t", 2);
            break;
        default: {
            char u[8];
            snprintf(u, sizeof u, "\\u%04X", c);
            hd_buf_put(out, u, 6);
        }
        }
    }
    hd_buf_put(out, s + run, n - run);
    hd_buf_put_u8(out, '"');
}

/* Reads a number token and appends it as http__json_dump prints it. *is_int and *ival give
 * the value when it is an integer. */
static int read_number(pj_t *j, hd_buf_t *out, bool *is_int, int64_t *ival)
{
    const char *s = j->p, *q = s;
    if (q < j->end && *q == '-')
        q++;
    if (q >= j->end)
        return PJ_DECLINE;
    if (*q == '0') {
        q++;
    } else if (*q >= '1' && *q <= '9') {
        while (q < j->end && *q >= '0' && *q <= '9')
            q++;
    } else {
        return PJ_DECLINE;
    }
    bool real = false;
    if (q < j->end && *q == '.') {
        real = true;
        q++;
        if (q >= j->end || *q < '0' || *q > '9')
            return PJ_DECLINE;
        while (q < j->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < j->end && (*q == 'e' || *q == 'E')) {
        real = true;
        q++;
        if (q < j->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= j->end || *q < '0' || *q > '9')
            return PJ_DECLINE;
        while (q < j->end && *q >= '0' && *q <= '9')
            q++;
    }
    char tmp[64];
    size_t n = (size_t)(q - s);
    if (n >= sizeof tmp)
        return PJ_DECLINE; /* unusual: leave it to the general path */
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    j->p = q;
    errno = 0;
    if (!real) {
        char *e;
        long long v = strtoll(tmp, &e, 10);
        if (errno || *e)
            return PJ_DECLINE; /* jansson refuses integers past int64 */
        *is_int = true;
        *ival = v;
        if (out) {
            char buf[32];
            int m = snprintf(buf, sizeof buf, "%lld", v);
            hd_buf_put(out, buf, (size_t)m);
        }
        return 0;
    }
    double d = strtod(tmp, NULL);
    if (errno == ERANGE && isinf(d))
        return PJ_DECLINE; /* jansson refuses reals that overflow */
    *is_int = false;
    if (out) {
        json_t *x = json_real(d);
        int rc = x ? http__json_dump(x, out) : HD_EINVAL;
        json_decref(x);
        if (rc < 0)
            return PJ_DECLINE;
    }
    return 0;
}

static bool literal(pj_t *j, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
        return false;
    j->p += n;
    return true;
}

/* Reads any JSON value and, when out is given, appends its compact form. Objects are checked
 * for duplicate names, as the general path refuses them. */
static int read_value(pj_t *j, hd_buf_t *out);

static int read_object(pj_t *j, hd_buf_t *out)
{
    if (++j->depth > PJ_MAX_DEPTH)
        return PJ_DECLINE;
    j->p++; /* '{' */
    if (out)
        hd_buf_put_u8(out, '{');
    hd_buf_t keys;
    hd_buf_init(&keys);
    size_t offs[PJ_MAX_KEYS + 1];
    int nkeys = 0;
    int rc = 0;
    offs[0] = 0;
    if (eat(j, '}'))
        goto done;
    for (;;) {
        if (nkeys >= PJ_MAX_KEYS || (rc = read_string(j, &keys)) != 0) {
            rc = PJ_DECLINE;
            goto done;
        }
        size_t kb = offs[nkeys], ke = keys.len;
        for (int i = 0; i < nkeys; i++)
            if (offs[i + 1] - offs[i] == ke - kb &&
                memcmp(keys.p + offs[i], keys.p + kb, ke - kb) == 0) {
                rc = PJ_DECLINE;
                goto done;
            }
        offs[++nkeys] = ke;
        if (out) {
            if (nkeys > 1)
                hd_buf_put_u8(out, ',');
            write_string(out, keys.p + kb, ke - kb);
            hd_buf_put_u8(out, ':');
        }
        if (!eat(j, ':') || (rc = read_value(j, out)) != 0) {
            rc = PJ_DECLINE;
            goto done;
        }
        if (eat(j, ','))
            continue;
        if (eat(j, '}'))
            break;
        rc = PJ_DECLINE;
        goto done;
    }
done:
    hd_buf_deinit(&keys);
    if (out && rc == 0)
        hd_buf_put_u8(out, '}');
    j->depth--;
    return rc;
}

static int read_array(pj_t *j, hd_buf_t *out)
{
    if (++j->depth > PJ_MAX_DEPTH)
        return PJ_DECLINE;
    j->p++; /* '[' */
    if (out)
        hd_buf_put_u8(out, '[');
    int rc = 0;
    if (!eat(j, ']')) {
        for (bool first = true;; first = false) {
            if (out && !first)
                hd_buf_put_u8(out, ',');
            if ((rc = read_value(j, out)) != 0)
                break;
            if (eat(j, ','))
                continue;
            if (!eat(j, ']'))
                rc = PJ_DECLINE;
            break;
        }
    }
    if (out && rc == 0)
        hd_buf_put_u8(out, ']');
    j->depth--;
    return rc;
}

static int read_value(pj_t *j, hd_buf_t *out)
{
    skip_ws(j);
    if (j->p >= j->end)
        return PJ_DECLINE;
    switch (*j->p) {
    case '{':
        return read_object(j, out);
    case '[':
        return read_array(j, out);
    case '"': {
        hd_buf_t s;
        hd_buf_init(&s);
        int rc = read_string(j, &s);
        if (rc == 0 && out)
            write_string(out, s.p, s.len);
        hd_buf_deinit(&s);
        return rc;
    }
    case 't':
        if (!literal(j, "true"))
            return PJ_DECLINE;
        if (out)
            hd_buf_put(out, "true", 4);
        return 0;
    case 'f':
        if (!literal(j, "false"))
            return PJ_DECLINE;
        if (out)
            hd_buf_put(out, "false", 5);
        return 0;
    case 'n':
        if (!literal(j, "null"))
            return PJ_DECLINE;
        if (out)
            hd_buf_put(out, "null", 4);
        return 0;
    default: {
        bool is_int;
        int64_t v;
        return read_number(j, out, &is_int, &v);
    }
    }
}

/* Copies a buffer's bytes into the arena as a slice. */
static int to_arena(pj_t *j, const hd_buf_t *b, hd_slice_t *out)
{
    char *p = hd_arena_alloc(j->a, b->len + 1);
    if (!p)
        return PJ_DECLINE;
    if (b->len)
        memcpy(p, b->p, b->len);
    *out = hd_slice(p, b->len);
    return 0;
}

/* "key"/"value": a string is stored as its characters, null as null, anything else as its
 * compact JSON text. */
static int read_bytes_member(pj_t *j, hd_slice_t *out, bool *is_null, hd_buf_t *tmp)
{
    skip_ws(j);
    hd_buf_reset(tmp);
    *is_null = false;
    if (j->p < j->end && *j->p == 'n') {
        if (!literal(j, "null"))
            return PJ_DECLINE;
        *is_null = true;
        *out = hd_slice(NULL, 0);
        return 0;
    }
    int rc = j->p < j->end && *j->p == '"' ? read_string(j, tmp) : read_value(j, tmp);
    return rc ? rc : to_arena(j, tmp, out);
}

static int read_b64_member(pj_t *j, hd_slice_t *out, bool *is_null, hd_buf_t *tmp)
{
    hd_buf_reset(tmp);
    if (read_string(j, tmp) != 0)
        return PJ_DECLINE;
    hd_buf_t dec;
    hd_buf_init(&dec);
    int rc = hd_base64_decode(hd_buf_slice(tmp), &dec) == 0 ? to_arena(j, &dec, out) : PJ_DECLINE;
    hd_buf_deinit(&dec);
    *is_null = false;
    return rc;
}

static int read_int_member(pj_t *j, int64_t min, int64_t max, int64_t *out, bool *is_null)
{
    skip_ws(j);
    *is_null = false;
    if (j->p < j->end && *j->p == 'n') {
        *is_null = literal(j, "null");
        return *is_null ? 0 : PJ_DECLINE;
    }
    bool is_int = false;
    int64_t v = 0;
    if (j->p >= j->end || (*j->p != '-' && (*j->p < '0' || *j->p > '9')) ||
        read_number(j, NULL, &is_int, &v) != 0 || !is_int || v < min || v > max)
        return PJ_DECLINE;
    *out = v;
    return 0;
}

static int read_headers(pj_t *j, broker_record_in_t *rec, hd_buf_t *tmp)
{
    skip_ws(j);
    if (j->p < j->end && *j->p == 'n')
        return literal(j, "null") ? 0 : PJ_DECLINE;
    if (!eat(j, '{'))
        return PJ_DECLINE;
    /* Names and values go to the arena as they come; the array grows in a scratch buffer. */
    hd_buf_t hs;
    hd_buf_init(&hs);
    int rc = PJ_DECLINE;
    int n = 0;
    if (eat(j, '}')) {
        rc = 0;
        goto done;
    }
    for (;;) {
        broker_header_t h;
        memset(&h, 0, sizeof h);
        hd_buf_reset(tmp);
        if (n >= 1000 || read_string(j, tmp) != 0 || to_arena(j, tmp, &h.name) != 0)
            goto done;
        const broker_header_t *prev = (const broker_header_t *)(const void *)hs.p;
        for (int i = 0; i < n; i++)
            if (hd_slice_eq(prev[i].name, h.name))
                goto done;
        if (!eat(j, ':'))
            goto done;
        skip_ws(j);
        if (j->p < j->end && *j->p == 'n') {
            if (!literal(j, "null"))
                goto done;
            h.value_null = true;
        } else {
            hd_buf_reset(tmp);
            if (read_string(j, tmp) != 0 || to_arena(j, tmp, &h.value) != 0)
                goto done;
        }
        hd_buf_put(&hs, &h, sizeof h);
        n++;
        if (eat(j, ','))
            continue;
        if (!eat(j, '}'))
            goto done;
        break;
    }
    rc = 0;
done:
    if (rc == 0 && n > 0) {
        broker_header_t *arr = hd_arena_alloc(j->a, hs.len);
        if (!arr) {
            rc = PJ_DECLINE;
        } else {
            memcpy(arr, hs.p, hs.len);
            rec->headers = arr;
            rec->nheaders = n;
        }
    }
    hd_buf_deinit(&hs);
    return rc;
}

enum {
    M_KEY = 1,
    M_KEY_B64 = 2,
    M_VALUE = 4,
    M_VALUE_B64 = 8,
    M_HEADERS = 16,
    M_PART = 32,
    M_TS = 64
};

static int read_record(pj_t *j, http_produce_rec_t *pr, hd_buf_t *tmp, int64_t now)
{
    memset(pr, 0, sizeof *pr);
    pr->partition = -1;
    pr->rec.key_null = pr->rec.value_null = true;
    pr->rec.timestamp = now;
    if (!eat(j, '{'))
        return PJ_DECLINE;
    if (eat(j, '}'))
        return 0;
    unsigned seen = 0;
    hd_buf_t name;
    hd_buf_init(&name);
    int rc = PJ_DECLINE;
    for (;;) {
        hd_buf_reset(&name);
        if (read_string(j, &name) != 0 || !eat(j, ':'))
            goto done;
        hd_slice_t k = hd_buf_slice(&name);
        unsigned m = hd_slice_eq_str(k, "key")         ? M_KEY
                     : hd_slice_eq_str(k, "key_b64")   ? M_KEY_B64
                     : hd_slice_eq_str(k, "value")     ? M_VALUE
                     : hd_slice_eq_str(k, "value_b64") ? M_VALUE_B64
                     : hd_slice_eq_str(k, "headers")   ? M_HEADERS
                     : hd_slice_eq_str(k, "partition") ? M_PART
                     : hd_slice_eq_str(k, "timestamp") ? M_TS
                                                       : 0;
        if (!m || (seen & m))
            goto done; /* unknown or repeated: the general path explains */
        seen |= m;
        int r2;
        bool is_null;
        int64_t v;
        switch (m) {
        case M_KEY:
            r2 = read_bytes_member(j, &pr->rec.key, &pr->rec.key_null, tmp);
            break;
        case M_VALUE:
            r2 = read_bytes_member(j, &pr->rec.value, &pr->rec.value_null, tmp);
            break;
        case M_KEY_B64:
            r2 = read_b64_member(j, &pr->rec.key, &pr->rec.key_null, tmp);
            break;
        case M_VALUE_B64:
            r2 = read_b64_member(j, &pr->rec.value, &pr->rec.value_null, tmp);
            break;
        case M_HEADERS:
            r2 = read_headers(j, &pr->rec, tmp);
            break;
        case M_PART:
            r2 = read_int_member(j, 0, INT32_MAX, &v, &is_null);
            if (r2 == 0 && !is_null)
                pr->partition = (int32_t)v;
            break;
        default:
            r2 = read_int_member(j, 0, INT64_MAX, &v, &is_null);
            if (r2 == 0 && !is_null)
                pr->rec.timestamp = v;
            break;
        }
        if (r2 != 0)
            goto done;
        if (eat(j, ','))
            continue;
        if (!eat(j, '}'))
            goto done;
        break;
    }
    /* A key (or value) given both ways is an error of the general path. */
    if (((seen & M_KEY) && (seen & M_KEY_B64)) || ((seen & M_VALUE) && (seen & M_VALUE_B64)))
        goto done;
    rc = 0;
done:
    hd_buf_deinit(&name);
    return rc;
}

int http__produce_parse_fast(http_req_t *r, http_produce_rec_t **out, int *n)
{
    pj_t j = {(const char *)r->body.p, (const char *)r->body.p + r->body.len, &r->arena, 0};
    hd_buf_t recs, tmp, name, seen;
    hd_buf_init(&recs);
    hd_buf_init(&tmp);
    hd_buf_init(&name);
    hd_buf_init(&seen); /* top-level names, NUL-separated, to refuse duplicates */
    int nseen = 0;
    int rc = PJ_DECLINE;
    int count = 0;
    bool have_records = false;
    int64_t now = hd_wall_ms();
    if (!r->body.len || !eat(&j, '{') || eat(&j, '}'))
        goto done;
    for (;;) {
        hd_buf_reset(&name);
        if (read_string(&j, &name) != 0 || !eat(&j, ':') || ++nseen > PJ_MAX_KEYS ||
            memchr(name.p, '\0', name.len))
            goto done;
        for (size_t at = 0; at < seen.len;) {
            size_t l = strlen((const char *)seen.p + at);
            if (l == name.len && memcmp(seen.p + at, name.p, l) == 0)
                goto done;
            at += l + 1;
        }
        hd_buf_put(&seen, name.p, name.len);
        hd_buf_put_u8(&seen, 0);
        if (hd_slice_eq_str(hd_buf_slice(&name), "records")) {
            if (have_records || !eat(&j, '['))
                goto done;
            have_records = true;
            if (eat(&j, ']'))
                goto done; /* no records: the general path answers 400 */
            for (;;) {
                http_produce_rec_t pr;
                if (read_record(&j, &pr, &tmp, now) != 0)
                    goto done;
                hd_buf_put(&recs, &pr, sizeof pr);
                count++;
                if (eat(&j, ','))
                    continue;
                if (!eat(&j, ']'))
                    goto done;
                break;
            }
        } else if (read_value(&j, NULL) != 0) {
            goto done; /* other members are allowed, and ignored, if they are valid */
        }
        if (eat(&j, ','))
            continue;
        if (!eat(&j, '}'))
            goto done;
        break;
    }
    skip_ws(&j);
    if (j.p != j.end || !have_records)
        goto done;
    http_produce_rec_t *arr = hd_arena_alloc(&r->arena, recs.len);
    if (!arr)
        goto done;
    memcpy(arr, recs.p, recs.len);
    *out = arr;
    *n = count;
    rc = 0;
done:
    hd_buf_deinit(&recs);
    hd_buf_deinit(&tmp);
    hd_buf_deinit(&name);
    hd_buf_deinit(&seen);
    return rc;
}
