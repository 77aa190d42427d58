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
#include "registry/jsonschema_scan.h"
#include "registry/registry_int.h"
#include "util/err.h"
#include "util/mem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

int registry__jdoc_reserve(registry__jdoc_t *d, size_t len)
{
    d->n = 0;
    d->nstr = 0;
    if (len >= UINT32_MAX / 2)
        return HD_EMALFORMED;
    /* In JSON text every node takes at least two bytes of text but the last ("[1,2]": three
     * nodes, five bytes), so len / 2 + 2 nodes suffice. A text cut short (or that goes wrong
     * after a while) has its nodes written up to where it stops, and it is a valid text with
     * its open containers not yet closed: at most one node more per open container (the
     * closing bracket it lacks, and a member's missing value), so with REGISTRY__JDOC_MAX_DEPTH
     * more the parser never checks for room, even on "[[[[...". Decoded strings are never
     * longer than their escaped text (plus a NUL each, and a string takes at least two bytes
     * of quotes), so the string buffer does not grow either. */
    size_t need = len / 2 + 2 + REGISTRY__JDOC_MAX_DEPTH;
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
    return 0;
}

int registry__jdoc_parse(registry__jdoc_t *d, const char *text, size_t len)
{
    if (registry__jdoc_reserve(d, len) < 0)
        return HD_EMALFORMED;
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
