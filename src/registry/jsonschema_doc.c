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

/* The scanners read 16 bytes at a time with SSE2 (part of the x86-64 baseline), else one byte at
 * a time; REGISTRY_JDOC_SCALAR forces the latter (a unit test builds this file so, to check the
 * fallback on machines that have SSE2). Both find the same bytes. */
#if defined(__SSE2__) && !defined(REGISTRY_JDOC_SCALAR)
#define JDOC_SSE2 1
#include <emmintrin.h>
#else
#define JDOC_SSE2 0
#endif

typedef struct pstate {
    registry__jdoc_t *d;
    const uint8_t *p, *end;
    int depth;
} pstate_t; /* for the string and number scanners */

void registry__jdoc_init(registry__jdoc_t *d) { memset(d, 0, sizeof *d); }

void registry__jdoc_deinit(registry__jdoc_t *d)
{
    free(d->v);
    free(d->str);
    memset(d, 0, sizeof *d);
}

/* Buffers grown for one large payload are given back afterwards, so that a thread that once
 * validated a big record does not keep its memory. */
#define KEEP_BYTES (256u << 10)

void registry__jdoc_trim(registry__jdoc_t *d)
{
    if (d->cap * sizeof *d->v > KEEP_BYTES || d->capstr > KEEP_BYTES)
        registry__jdoc_deinit(d);
}

/* One byte at a time: whitespace runs are short, if any (a newline and the indentation), and
 * skipping them 16 bytes at a time with SSE2 measured slower on indented records. */
static inline const uint8_t *skip_ws(const uint8_t *p, const uint8_t *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
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
#if JDOC_SSE2
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
static inline __attribute__((always_inline)) int parse_string(pstate_t *ps, registry__jv_t *v)
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

/* An open array or object. `keys` is a 128-bit filter of the object's keys so far (by their
 * hash, which the walk's property lookups use too): a key whose bit is clear is new; one whose
 * bit is set is compared with the earlier keys. */
typedef struct frame {
    uint32_t at;
    uint32_t count;
    uint64_t keys[2];
} frame_t;

static inline unsigned key_bit(const registry__jv_t *k) { return k->hash & 127; }

/* Whether key node `k`, the next member of the object in f, repeats one of its earlier keys. */
static bool duplicate_key(const registry__jv_t *v, frame_t *f, const registry__jv_t *k)
{
    unsigned bit = key_bit(k);
    uint64_t m = 1ULL << (bit & 63);
    if (!(f->keys[bit >> 6] & m)) {
        f->keys[bit >> 6] |= m;
        return false;
    }
    const registry__jv_t *e = &v[f->at + 1];
    for (uint32_t i = 0; i < f->count; i++, e += 1 + e[1].skip)
        if (key_equal(e, k))
            return true;
    return false;
}

int registry__jdoc_parse(registry__jdoc_t *d, const char *text, size_t len)
{
    d->n = 0;
    d->nstr = 0;
    if (len >= UINT32_MAX / 2)
        return HD_EMALFORMED;
    /* Every node takes at least two bytes of text but the last ("[1,2]": three nodes, five
     * bytes), so len / 2 + 2 nodes always suffice and the loop below never checks for room.
     * Decoded strings are never longer than their escaped text (plus a NUL each, and a string
     * takes at least two bytes of quotes), so the string buffer does not grow either. */
    size_t need = len / 2 + 2;
    if (d->cap < need) {
        free(d->v);
        d->cap = need < 256 ? 256 : need;
        d->v = hd_malloc(d->cap * sizeof *d->v);
    }
    if (d->capstr < len + 1) {
        free(d->str);
        d->capstr = len + 1;
        d->str = hd_malloc(d->capstr);
    }
    frame_t stack[REGISTRY__JDOC_MAX_DEPTH];
    int depth = 0;
    registry__jv_t *v = d->v;
    size_t n = 0;
    const uint8_t *p = (const uint8_t *)text, *end = p + len;
    pstate_t ps = {d, p, end, 0};

value:
    p = skip_ws(p, end);
    if (p == end)
        return HD_EMALFORMED;
    switch (*p) {
    case '{':
    case '[': {
        bool obj = *p == '{';
        if (depth == REGISTRY__JDOC_MAX_DEPTH)
            return HD_EMALFORMED;
        uint32_t at = (uint32_t)n++;
        v[at].kind = obj ? REGISTRY__JV_OBJECT : REGISTRY__JV_ARRAY;
        p = skip_ws(p + 1, end);
        if (p < end && *p == (obj ? '}' : ']')) {
            p++;
            v[at].n = 0;
            v[at].skip = 1;
            goto after_value;
        }
        stack[depth++] = (frame_t){at, 0, {0, 0}};
        if (obj)
            goto key;
        goto value;
    }
    case '"':
        ps.p = p;
        if (parse_string(&ps, &v[n]) < 0)
            return HD_EMALFORMED;
        n++;
        p = ps.p;
        goto after_value;
    case 't':
        if (end - p < 4 || memcmp(p, "true", 4))
            return HD_EMALFORMED;
        p += 4;
        v[n].kind = REGISTRY__JV_TRUE;
        goto literal;
    case 'f':
        if (end - p < 5 || memcmp(p, "false", 5))
            return HD_EMALFORMED;
        p += 5;
        v[n].kind = REGISTRY__JV_FALSE;
        goto literal;
    case 'n':
        if (end - p < 4 || memcmp(p, "null", 4))
            return HD_EMALFORMED;
        p += 4;
        v[n].kind = REGISTRY__JV_NULL;
        goto literal;
    default:
        ps.p = p;
        if (parse_number(&ps, &v[n]) < 0)
            return HD_EMALFORMED;
        n++;
        p = ps.p;
        goto after_value;
    }
literal:
    v[n].n = 0;
    v[n].skip = 1;
    n++;
after_value:
    if (depth == 0)
        goto done;
    p = skip_ws(p, end);
    if (p == end)
        return HD_EMALFORMED;
    {
        frame_t *f = &stack[depth - 1];
        bool obj = v[f->at].kind == REGISTRY__JV_OBJECT;
        f->count++;
        if (*p == ',') {
            p++;
            if (obj)
                goto key;
            goto value;
        }
        if (*p != (obj ? '}' : ']'))
            return HD_EMALFORMED;
        p++;
        v[f->at].n = f->count;
        v[f->at].skip = (uint32_t)(n - f->at);
        depth--;
        goto after_value;
    }
key:
    p = skip_ws(p, end);
    if (p == end || *p != '"')
        return HD_EMALFORMED;
    ps.p = p;
    if (parse_string(&ps, &v[n]) < 0)
        return HD_EMALFORMED;
    v[n].hash = (uint32_t)registry__js_key_hash(v[n].u.s, v[n].n);
    if (duplicate_key(v, &stack[depth - 1], &v[n]))
        return HD_EMALFORMED;
    n++;
    p = skip_ws(ps.p, end);
    if (p == end || *p != ':')
        return HD_EMALFORMED;
    p++;
    goto value;
done:
    d->n = n;
    p = skip_ws(p, end);
    return p == end ? 0 : HD_EMALFORMED;
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
            key->hash = (uint32_t)registry__js_key_hash(k, kl);
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
