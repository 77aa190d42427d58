/* A flat JSON document for validating payloads: one pass over the bytes (RFC 8259) into an array
 * of nodes, in document order, with no allocation per value.
 *
 * Layout of a document (registry__jdoc_t.v): each value is one node (registry__jv_t); an array's
 * node is followed by its items, an object's by its members, each a key node (a string) and
 * then the value's nodes. A node's `skip` counts the nodes of its subtree, itself included, so
 * the next sibling is at `node + skip`; `n` is a string's length in bytes, or the number of
 * items or members. A string without escapes points into the parsed bytes (it is not
 * NUL-terminated: the closing quote follows it); one with escapes is decoded into the
 * document's string buffer. Numbers are parsed as jansson parses them, so that both readings
 * give the same values: a number without fraction or exponent is an integer (int64), any other
 * a real (double, correctly rounded).
 *
 * The parser accepts only what jansson's json_loadb(JSON_DECODE_ANY) accepts, and reads it the
 * same way. Where the two could differ, or where the jansson reading would take work that this
 * parser leaves out, it declines (HD_EMALFORMED) and the caller asks jansson: invalid JSON,
 * duplicate object keys (jansson keeps the first key's position and the last value), \u0000,
 * integers of more than 18 digits, reals over the double range, nesting deeper than
 * REGISTRY__JDOC_MAX_DEPTH. The document owns its buffers and is reused from one parse to the
 * next; its size is bounded by the input's (a node per byte at most). */
#include "registry/registry_int.h"
#include "util/err.h"
#include "util/mem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

typedef struct pstate {
    registry__jdoc_t *d;
    const uint8_t *p, *end;
    int depth;
} pstate_t;

void registry__jdoc_init(registry__jdoc_t *d) { memset(d, 0, sizeof *d); }

void registry__jdoc_deinit(registry__jdoc_t *d)
{
    free(d->v);
    free(d->str);
    free(d->slots);
    memset(d, 0, sizeof *d);
}

/* Buffers grown for one large payload are given back afterwards, so that a thread that once
 * validated a big record does not keep its memory. */
#define KEEP_BYTES (256u << 10)

void registry__jdoc_trim(registry__jdoc_t *d)
{
    if (d->cap * sizeof *d->v > KEEP_BYTES || d->capstr > KEEP_BYTES ||
        d->capslots * sizeof *d->slots > KEEP_BYTES)
        registry__jdoc_deinit(d);
}

static inline uint32_t node_new(pstate_t *ps)
{
    registry__jdoc_t *d = ps->d;
    if (__builtin_expect(d->n == d->cap, 0)) {
        d->cap = d->cap ? d->cap * 2 : 256;
        d->v = hd_realloc(d->v, d->cap * sizeof *d->v);
    }
    return (uint32_t)d->n++;
}

static inline void skip_ws(pstate_t *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
        ps->p++;
}

/* Length of the UTF-8 sequence at p (strict: no overlong forms, surrogates or code points past
 * U+10FFFF), or 0 when it is not one. */
static size_t utf8_seq(const uint8_t *p, const uint8_t *end)
{
    uint8_t c = p[0];
    size_t avail = (size_t)(end - p);
    if (c >= 0xC2 && c <= 0xDF)
        return avail >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (avail < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F))
            return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (avail < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F))
            return 0;
        return 4;
    }
    return 0;
}

static int hex4(const uint8_t *p, const uint8_t *end, uint32_t *out)
{
    if (end - p < 4)
        return HD_EMALFORMED;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return HD_EMALFORMED;
    }
    *out = v;
    return 0;
}

/* Advances over plain string bytes (not '"', '\\', a control character or non-ASCII). */
static inline const uint8_t *plain_run(const uint8_t *p, const uint8_t *end)
{
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
                  space = _mm_set1_epi8(0x20);
    while (end - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        /* Signed compare: bytes >= 0x80 are negative, so this also finds non-ASCII. */
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)),
                                 _mm_cmplt_epi8(x, space));
        int bits = _mm_movemask_epi8(m);
        if (bits)
            return p + __builtin_ctz((unsigned)bits);
        p += 16;
    }
#endif
    while (p < end && *p != '"' && *p != '\\' && *p >= 0x20 && *p < 0x80)
        p++;
    return p;
}

/* Decodes the rest of a string with escapes, from `from` (the first backslash), into the
 * document's string buffer, which was sized for the whole input and so never moves. */
static int string_escaped(pstate_t *ps, const uint8_t *start, registry__jv_t *v)
{
    registry__jdoc_t *d = ps->d;
    char *out = d->str + d->nstr;
    size_t n = (size_t)(ps->p - start);
    memcpy(out, start, n);
    const uint8_t *p = ps->p, *end = ps->end;
    for (;;) {
        const uint8_t *q = plain_run(p, end);
        memcpy(out + n, p, (size_t)(q - p));
        n += (size_t)(q - p);
        p = q;
        if (p == end)
            return HD_EMALFORMED;
        uint8_t c = *p;
        if (c == '"')
            break;
        if (c < 0x20)
            return HD_EMALFORMED;
        if (c >= 0x80) {
            size_t k = utf8_seq(p, end);
            if (!k)
                return HD_EMALFORMED;
            memcpy(out + n, p, k);
            n += k;
            p += k;
            continue;
        }
        /* A backslash. */
        if (end - p < 2)
            return HD_EMALFORMED;
        c = p[1];
        p += 2;
        switch (c) {
        case '"':
        case '\\':
        case '/':
            out[n++] = (char)c;
            continue;
        case 'b':
            out[n++] = '\b';
            continue;
        case 'f':
            out[n++] = '\f';
            continue;
        case 'n':
            out[n++] = '\n';
            continue;
        case 'r':
            out[n++] = '\r';
            continue;
        case 't':
            out[n++] = '\t';
            continue;
        case 'u':
            break;
        default:
            return HD_EMALFORMED;
        }
        uint32_t cp;
        if (hex4(p, end, &cp) < 0)
            return HD_EMALFORMED;
        p += 4;
        if (cp == 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
            return HD_EMALFORMED; /* jansson refuses \u0000 and a lone low surrogate */
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo;
            if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, end, &lo) < 0 ||
                lo < 0xDC00 || lo > 0xDFFF)
                return HD_EMALFORMED;
            p += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        /* Escapes shrink: six bytes give at most three, twelve at most four. */
        if (cp < 0x80) {
            out[n++] = (char)cp;
        } else if (cp < 0x800) {
            out[n++] = (char)(0xC0 | cp >> 6);
            out[n++] = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out[n++] = (char)(0xE0 | cp >> 12);
            out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            out[n++] = (char)(0x80 | (cp & 0x3F));
        } else {
            out[n++] = (char)(0xF0 | cp >> 18);
            out[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
            out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            out[n++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    ps->p = p + 1;
    out[n] = '\0';
    d->nstr += n + 1;
    v->u.s = out;
    v->n = (uint32_t)n;
    return 0;
}

/* A string; ps->p is at the opening quote. */
static int parse_string(pstate_t *ps, registry__jv_t *v)
{
    const uint8_t *start = ++ps->p, *end = ps->end;
    const uint8_t *p = start;
    bool ascii = true;
    v->kind = REGISTRY__JV_STRING;
    v->skip = 1;
    for (;;) {
        p = plain_run(p, end);
        if (p == end)
            return HD_EMALFORMED;
        if (*p == '"')
            break;
        if (*p == '\\') {
            ps->p = p;
            v->ascii = false;
            return string_escaped(ps, start, v);
        }
        if (*p < 0x20)
            return HD_EMALFORMED;
        size_t k = utf8_seq(p, end);
        if (!k)
            return HD_EMALFORMED;
        p += k;
        ascii = false;
    }
    v->ascii = ascii;
    if ((size_t)(p - start) > UINT32_MAX)
        return HD_EMALFORMED;
    v->u.s = (const char *)start;
    v->n = (uint32_t)(p - start);
    ps->p = p + 1;
    return 0;
}

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* A number. Integers of up to 18 digits are exact in int64. Reals whose digits fit in 2^53
 * and whose decimal exponent is within 10^22 are one exact product or quotient of two exact
 * doubles, so correctly rounded, as strtod's answer is; the others go through strtod. */
static int parse_number(pstate_t *ps, registry__jv_t *v)
{
    const uint8_t *p = ps->p, *end = ps->end, *start = p;
    bool neg = false;
    if (p < end && *p == '-') {
        neg = true;
        p++;
    }
    if (p == end || *p < '0' || *p > '9')
        return HD_EMALFORMED;
    uint64_t mant = 0;
    int digits = 0; /* significant digits in mant */
    if (*p == '0') {
        p++;
    } else {
        while (p < end && *p >= '0' && *p <= '9') {
            if (digits < 19)
                mant = mant * 10 + (uint64_t)(*p - '0');
            digits++;
            p++;
        }
    }
    int int_digits = digits;
    int frac_digits = 0;
    bool real = false;
    if (p < end && *p == '.') {
        real = true;
        p++;
        if (p == end || *p < '0' || *p > '9')
            return HD_EMALFORMED;
        while (p < end && *p >= '0' && *p <= '9') {
            if (digits || *p != '0') {
                if (digits < 19)
                    mant = mant * 10 + (uint64_t)(*p - '0');
                digits++;
            }
            frac_digits++;
            p++;
        }
    }
    long exp10 = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        real = true;
        p++;
        bool eneg = false;
        if (p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        if (p == end || *p < '0' || *p > '9')
            return HD_EMALFORMED;
        while (p < end && *p >= '0' && *p <= '9') {
            if (exp10 < 100000)
                exp10 = exp10 * 10 + (*p - '0');
            p++;
        }
        if (eneg)
            exp10 = -exp10;
    }
    ps->p = p;
    v->skip = 1;
    if (!real) {
        if (int_digits > 18)
            return HD_EMALFORMED; /* jansson decides (it refuses what overflows int64) */
        v->kind = REGISTRY__JV_INT;
        v->u.i = neg ? -(int64_t)mant : (int64_t)mant;
        return 0;
    }
    v->kind = REGISTRY__JV_REAL;
    long e = exp10 - frac_digits;
    if (digits <= 15 && e >= -22 && e <= 22) {
        double d = (double)mant;
        d = e < 0 ? d / pow10_exact[-e] : d * pow10_exact[e];
        v->u.d = neg ? -d : d;
        return 0;
    }
    char buf[128];
    size_t len = (size_t)(p - start);
    if (len >= sizeof buf)
        return HD_EMALFORMED;
    memcpy(buf, start, len);
    buf[len] = '\0';
    double d = strtod(buf, NULL);
    if (isinf(d))
        return HD_EMALFORMED; /* jansson refuses an overflowing real */
    v->u.d = d;
    return 0;
}

static bool key_equal(const registry__jv_t *a, const registry__jv_t *b)
{
    return a->n == b->n && !memcmp(a->u.s, b->u.s, a->n);
}

/* Returns whether two members of the object at `obj` have the same key. */
static bool has_duplicate_keys(registry__jdoc_t *d, uint32_t obj)
{
    uint32_t nm = d->v[obj].n;
    if (nm < 2)
        return false;
    if (nm <= 8) {
        const registry__jv_t *keys[8];
        uint32_t k = obj + 1;
        for (uint32_t i = 0; i < nm; i++) {
            keys[i] = &d->v[k];
            for (uint32_t j = 0; j < i; j++)
                if (key_equal(keys[i], keys[j]))
                    return true;
            k += 1 + d->v[k + 1].skip;
        }
        return false;
    }
    size_t size = 16;
    while (size < (size_t)nm * 2)
        size *= 2;
    if (size > d->capslots) {
        free(d->slots);
        d->slots = hd_malloc(size * sizeof *d->slots);
        d->capslots = size;
    }
    memset(d->slots, 0, size * sizeof *d->slots);
    uint32_t k = obj + 1;
    for (uint32_t i = 0; i < nm; i++) {
        const registry__jv_t *key = &d->v[k];
        uint64_t h = key->n * 0x9E3779B97F4A7C15ULL;
        if (key->n) {
            uint8_t a = (uint8_t)key->u.s[0], b = (uint8_t)key->u.s[key->n - 1],
                    c = (uint8_t)key->u.s[key->n / 2];
            h ^= ((uint64_t)a << 16 | (uint64_t)b << 8 | c) * 0xC2B2AE3D27D4EB4FULL;
        }
        size_t s = (size_t)(h >> 32) & (size - 1);
        while (d->slots[s]) {
            if (key_equal(key, &d->v[d->slots[s] - 1]))
                return true;
            s = (s + 1) & (size - 1);
        }
        d->slots[s] = k + 1;
        k += 1 + d->v[k + 1].skip;
    }
    return false;
}

static int parse_value(pstate_t *ps)
{
    registry__jdoc_t *d = ps->d;
    skip_ws(ps);
    if (ps->p == ps->end)
        return HD_EMALFORMED;
    uint32_t at = node_new(ps);
    registry__jv_t *v = &d->v[at];
    uint8_t c = *ps->p;
    int rc;
    switch (c) {
    case '"':
        return parse_string(ps, v);
    case '{':
    case '[': {
        if (++ps->depth > REGISTRY__JDOC_MAX_DEPTH)
            return HD_EMALFORMED;
        bool obj = c == '{';
        ps->p++;
        v->kind = obj ? REGISTRY__JV_OBJECT : REGISTRY__JV_ARRAY;
        uint32_t count = 0;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == (obj ? '}' : ']')) {
            ps->p++;
        } else {
            for (;;) {
                if (obj) {
                    skip_ws(ps);
                    if (ps->p == ps->end || *ps->p != '"')
                        return HD_EMALFORMED;
                    uint32_t k = node_new(ps);
                    if ((rc = parse_string(ps, &d->v[k])) < 0)
                        return rc;
                    skip_ws(ps);
                    if (ps->p == ps->end || *ps->p != ':')
                        return HD_EMALFORMED;
                    ps->p++;
                }
                if ((rc = parse_value(ps)) < 0)
                    return rc;
                count++;
                skip_ws(ps);
                if (ps->p == ps->end)
                    return HD_EMALFORMED;
                if (*ps->p == ',') {
                    ps->p++;
                    continue;
                }
                if (*ps->p != (obj ? '}' : ']'))
                    return HD_EMALFORMED;
                ps->p++;
                break;
            }
        }
        ps->depth--;
        v = &d->v[at]; /* the array may have moved */
        v->n = count;
        v->skip = (uint32_t)(d->n - at);
        if (obj && has_duplicate_keys(d, at))
            return HD_EMALFORMED;
        return 0;
    }
    case 't':
    case 'f':
    case 'n': {
        static const char *const words[] = {"true", "false", "null"};
        static const uint8_t kinds[] = {REGISTRY__JV_TRUE, REGISTRY__JV_FALSE, REGISTRY__JV_NULL};
        int w = c == 't' ? 0 : c == 'f' ? 1 : 2;
        size_t wl = strlen(words[w]);
        if ((size_t)(ps->end - ps->p) < wl || memcmp(ps->p, words[w], wl))
            return HD_EMALFORMED;
        ps->p += wl;
        v->kind = kinds[w];
        v->skip = 1;
        v->n = 0;
        return 0;
    }
    default:
        return parse_number(ps, v);
    }
}

int registry__jdoc_parse(registry__jdoc_t *d, const char *text, size_t len)
{
    d->n = 0;
    d->nstr = 0;
    if (len >= UINT32_MAX)
        return HD_EMALFORMED;
    /* Decoded strings are never longer than their escaped text (plus a NUL each, and a string
     * takes at least two bytes of quotes), so this buffer never grows during the parse. */
    if (d->capstr < len + 1) {
        free(d->str);
        d->capstr = len + 1;
        d->str = hd_malloc(d->capstr);
    }
    pstate_t ps = {d, (const uint8_t *)text, (const uint8_t *)text + len, 0};
    int rc = parse_value(&ps);
    if (rc < 0)
        return rc;
    skip_ws(&ps);
    return ps.p == ps.end ? 0 : HD_EMALFORMED;
}

/* ---- from jansson ---- */

size_t registry__jv_count(const json_t *j)
{
    size_t n = 1;
    if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++)
            n += registry__jv_count(json_array_get(j, i));
    } else if (json_is_object(j)) {
        const char *k;
        json_t *val;
        json_object_foreach((json_t *)j, k, val) n += 1 + registry__jv_count(val);
    }
    return n;
}

static void fill(registry__jv_t *base, size_t *at_n, const json_t *j)
{
    size_t at = (*at_n)++;
    registry__jv_t *v = &base[at];
    memset(v, 0, sizeof *v);
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        v->kind = REGISTRY__JV_OBJECT;
        v->n = (uint32_t)json_object_size(j);
        const char *k;
        size_t kl;
        json_t *val;
        json_object_keylen_foreach((json_t *)j, k, kl, val)
        {
            registry__jv_t *key = &base[(*at_n)++];
            memset(key, 0, sizeof *key);
            key->kind = REGISTRY__JV_STRING;
            key->skip = 1;
            key->n = (uint32_t)kl;
            key->u.s = k;
            fill(base, at_n, val);
        }
        break;
    }
    case JSON_ARRAY:
        v->kind = REGISTRY__JV_ARRAY;
        v->n = (uint32_t)json_array_size(j);
        for (size_t i = 0; i < json_array_size(j); i++)
            fill(base, at_n, json_array_get(j, i));
        break;
    case JSON_STRING:
        v->kind = REGISTRY__JV_STRING;
        v->n = (uint32_t)json_string_length(j);
        v->u.s = json_string_value(j);
        break;
    case JSON_INTEGER:
        v->kind = REGISTRY__JV_INT;
        v->u.i = json_integer_value(j);
        break;
    case JSON_REAL:
        v->kind = REGISTRY__JV_REAL;
        v->u.d = json_real_value(j);
        break;
    case JSON_TRUE:
        v->kind = REGISTRY__JV_TRUE;
        break;
    case JSON_FALSE:
        v->kind = REGISTRY__JV_FALSE;
        break;
    default:
        v->kind = REGISTRY__JV_NULL;
        break;
    }
    base[at].skip = (uint32_t)(*at_n - at);
}

void registry__jv_fill(registry__jv_t *out, const json_t *j)
{
    size_t n = 0;
    fill(out, &n, j);
}

void registry__jdoc_from_json(registry__jdoc_t *d, const json_t *j)
{
    size_t n = registry__jv_count(j);
    d->n = 0;
    d->nstr = 0;
    if (n > d->cap) {
        free(d->v);
        d->v = hd_malloc(n * sizeof *d->v);
        d->cap = n;
    }
    registry__jv_fill(d->v, j);
    d->n = n;
}
