/* The scanners of JSON text shared by the flat document's parser (jsonschema_doc.c) and the
 * check made while parsing (jsonschema_stream.c): whitespace, strings (strict UTF-8, escapes
 * decoded into the document's string buffer) and numbers (read as jansson reads them). Each
 * returns HD_EMALFORMED where the text is not JSON or is a case left to jansson (see
 * jsonschema_doc.c). Private to registry/; included by those two files only. */
#ifndef REGISTRY_JSONSCHEMA_SCAN_H
#define REGISTRY_JSONSCHEMA_SCAN_H

#include "registry/registry_int.h"
#include "util/err.h"

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

/* One byte at a time: whitespace runs are short, if any (a newline and the indentation), and
 * skipping them 16 bytes at a time with SSE2 measured slower on indented records. */
static inline const uint8_t *skip_ws(const uint8_t *p, const uint8_t *end)
{
    if (p<end && * p> ' ')
        return p; /* compact text: no whitespace between tokens */
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

/* Length of the UTF-8 sequence at p (strict: no overlong forms, surrogates or code points past
 * U+10FFFF), or 0 when it is not one. */
static inline size_t utf8_seq(const uint8_t *p, const uint8_t *end)
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

static inline int hex4(const uint8_t *p, const uint8_t *end, uint32_t *out)
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
static inline int string_escaped(pstate_t *ps, const uint8_t *start, registry__jv_t *v)
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
    /* No string is longer than UINT32_MAX: registry__jdoc_reserve bounds the whole text. */
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
static inline int parse_number(pstate_t *ps, registry__jv_t *v)
{
    const uint8_t *p = ps->p, *end = ps->end, *start = p;
    bool neg = false;
    if (p < end && *p == '-') {
        neg = true;
        p++;
    }
    if (p == end || *p < '0' || *p > '9')
        return HD_EMALFORMED;
    /* mant is used only while it holds every significant digit (at most 18 for an integer, 15
     * for a real); beyond, it wraps unused and strtod or jansson decide. */
    uint64_t mant = 0;
    int digits = 0; /* significant digits */
    if (*p == '0') {
        p++;
    } else {
        const uint8_t *d0 = p;
        while (p < end && (unsigned)(*p - '0') <= 9) {
            mant = mant * 10 + (uint64_t)(*p - '0');
            p++;
        }
        digits = (int)(p - d0);
    }
    int int_digits = digits;
    int frac_digits = 0;
    bool real = false;
    if (p < end && *p == '.') {
        real = true;
        p++;
        if (p == end || *p < '0' || *p > '9')
            return HD_EMALFORMED;
        while (p < end && (unsigned)(*p - '0') <= 9) {
            if (digits || *p != '0') {
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

#endif
