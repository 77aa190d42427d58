/* JSON Schema validation of JSON text, for validation on produce: the payload is parsed into a
 * flat document (jsonschema_doc.c) and the compiled node graph is walked over it.
 *
 * This walk is jsonschema_validate.c's, keyword for keyword and in the same order, with the
 * same messages and the same JSON pointers; only the instance is read from the flat document
 * instead of a jansson tree (so a payload costs one pass over its bytes and no allocation per
 * value). Both must give the same answer and the same error for every schema and instance:
 * tests/jsonschema/jsonschema_tool.c checks that on every case of the test suite and the
 * differential pairs, and the fuzz target tests/fuzz/jsonschema_text.c on generated input.
 * A change to one walk is a change to the other.
 *
 * Where the flat parser declines a text (not JSON, or a case it leaves to jansson: duplicate
 * keys, big integers, ...), jansson parses it: for its error message when it refuses the text
 * too, else to build the flat document from its tree, so the answer is jansson's reading.
 *
 * Each thread keeps one context (the document, the evaluation state with its segment stacks,
 * PCRE2 match data), reused from one payload to the next. */
#include "registry/registry_int.h"
#include "util/err.h"
#include "util/mem.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef const registry__jv_t *jv;

static inline jv first_child(jv j) { return j + 1; }
static inline jv next_sibling(jv j) { return j + j->skip; }
static inline bool is_number(jv j)
{
    return j->kind == REGISTRY__JV_INT || j->kind == REGISTRY__JV_REAL;
}
static inline double number_value(jv j)
{
    return j->kind == REGISTRY__JV_INT ? (double)j->u.i : j->u.d;
}

/* The member of object `obj` named (k, kl), or NULL. */
static jv member_find(jv obj, const char *k, size_t kl)
{
    jv key = first_child(obj);
    for (uint32_t i = 0; i < obj->n; i++) {
        if (key->n == kl && registry__bytes_equal(key->u.s, k, kl))
            return key + 1;
        key = next_sibling(key + 1);
    }
    return NULL;
}

#define MAX_SEGS REGISTRY__JS_MAX_SEGS
typedef registry__js_seg_t seg_t;
typedef registry__js_segs_t segs_t;
typedef registry__js_ref_frame_t ref_frame_t;
typedef registry__js_vctx_t vctx_t;

typedef struct ann {
    uint8_t *seen; /* one byte per property or item of the instance */
    size_t n;
} ann_t;

static bool eval(vctx_t *v, const registry__js_node_t *n, jv inst, ann_t *a);

/* ---- Errors ---- */

static bool unwinding(const vctx_t *v) { return v->recorded && (v->quiet == 0 || v->rc); }

static void push(segs_t *p, const char *s, size_t len, size_t idx)
{
    if (p->n == MAX_SEGS) {
        p->truncated = true;
        return;
    }
    p->v[p->n++] = (seg_t){s, len, idx};
}

static void spush(vctx_t *v, const char *kw)
{
    if (unwinding(v))
        push(&v->spath, kw, strlen(kw), 0);
}

static void spush_key(vctx_t *v, const char *key, size_t len)
{
    if (unwinding(v))
        push(&v->spath, key, len, 0);
}

static void spush_idx(vctx_t *v, size_t idx)
{
    if (unwinding(v))
        push(&v->spath, NULL, 0, idx);
}

static void ipush_key(vctx_t *v, const char *key, size_t len)
{
    if (unwinding(v))
        push(&v->ipath, key, len, 0);
}

static void ipush_idx(vctx_t *v, size_t idx)
{
    if (unwinding(v))
        push(&v->ipath, NULL, 0, idx);
}

static bool fail(vctx_t *v, const char *kw, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the deciding failure at keyword `kw` (unless quiet); returns false. */
static bool fail(vctx_t *v, const char *kw, const char *fmt, ...)
{
    if (v->quiet > 0 || v->recorded)
        return false;
    v->recorded = true;
    v->ipath.n = v->spath.n = 0;
    if (v->err) {
        snprintf(v->err->keyword, sizeof v->err->keyword, "%s", kw);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(v->err->message, sizeof v->err->message, fmt, ap);
        va_end(ap);
    }
    spush(v, kw);
    return false;
}

/* A work bound was hit: fails this evaluation and every one after it. */
static bool limit(vctx_t *v, const char *kw, const char *msg)
{
    if (v->rc)
        return false;
    v->rc = HD_ERANGE;
    v->recorded = false;
    int q = v->quiet;
    v->quiet = 0;
    fail(v, kw, "%s", msg);
    v->quiet = q;
    return false;
}

/* Writes the segments, outermost first, as a JSON pointer. */
static void render_path(const segs_t *p, char *buf, size_t cap, const char *prefix)
{
    size_t n = (size_t)snprintf(buf, cap, "%s", prefix);
    for (size_t i = p->n; i-- > 0 && n + 1 < cap;) {
        const seg_t *s = &p->v[i];
        if (!s->s) {
            n += (size_t)snprintf(buf + n, cap - n, "/%zu", s->idx);
            continue;
        }
        buf[n++] = '/';
        for (size_t k = 0; k < s->len && n + 3 < cap; k++) {
            char c = s->s[k];
            if (c == '~' || c == '/') {
                buf[n++] = '~';
                buf[n++] = c == '~' ? '0' : '1';
            } else {
                buf[n++] = c ? c : '?';
            }
        }
        buf[n < cap ? n : cap - 1] = '\0';
    }
    if (n >= cap - 1 || p->truncated) {
        if (cap > 4)
            memcpy(buf + cap - 4, "...", 4);
    }
}

/* A short rendering of a value for messages. */
static const char *show(jv j, char *buf, size_t cap)
{
    switch (j->kind) {
    case REGISTRY__JV_OBJECT:
        return "an object";
    case REGISTRY__JV_ARRAY:
        return "an array";
    case REGISTRY__JV_STRING:
        snprintf(buf, cap, "\"%.*s%s\"", (int)(j->n > 40 ? 40 : j->n), j->u.s,
                 j->n > 40 ? "..." : "");
        return buf;
    case REGISTRY__JV_INT:
        snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, (json_int_t)j->u.i);
        return buf;
    case REGISTRY__JV_REAL:
        snprintf(buf, cap, "%.17g", j->u.d);
        return buf;
    case REGISTRY__JV_TRUE:
        return "true";
    case REGISTRY__JV_FALSE:
        return "false";
    default:
        return "null";
    }
}

/* ---- Equality and hashing (numbers by value, objects without order) ---- */

static bool equal_w(jv a, jv b, long *work)
{
    (*work)++;
    if (is_number(a) && is_number(b)) {
        if (a->kind == REGISTRY__JV_INT && b->kind == REGISTRY__JV_INT)
            return a->u.i == b->u.i;
        return number_value(a) == number_value(b);
    }
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case REGISTRY__JV_STRING:
        return a->n == b->n && !memcmp(a->u.s, b->u.s, a->n);
    case REGISTRY__JV_ARRAY: {
        if (a->n != b->n)
            return false;
        jv x = first_child(a), y = first_child(b);
        for (size_t i = 0; i < a->n; i++, x = next_sibling(x), y = next_sibling(y))
            if (!equal_w(x, y, work))
                return false;
        return true;
    }
    case REGISTRY__JV_OBJECT: {
        if (a->n != b->n)
            return false;
        jv key = first_child(a);
        for (size_t i = 0; i < a->n; i++, key = next_sibling(key + 1)) {
            jv vb = member_find(b, key->u.s, key->n);
            if (!vb || !equal_w(key + 1, vb, work))
                return false;
        }
        return true;
    }
    default:
        return true;
    }
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ULL;
    x ^= x >> 27;
    x *= 0x81dadef4bc2dd44dULL;
    x ^= x >> 33;
    return x;
}

static uint64_t bytes_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
    return h;
}

/* Equal values (equal_w) hash alike. */
static uint64_t value_hash(jv j, long *work)
{
    (*work)++;
    switch (j->kind) {
    case REGISTRY__JV_INT:
        return mix((uint64_t)j->u.i ^ 0x1);
    case REGISTRY__JV_REAL: {
        double d = j->u.d;
        if (d == floor(d) && fabs(d) < 9.2e18)
            return mix((uint64_t)(int64_t)d ^ 0x1);
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        return mix(bits ^ 0x2);
    }
    case REGISTRY__JV_STRING:
        return mix(bytes_hash(j->u.s, j->n) ^ 0x3);
    case REGISTRY__JV_ARRAY: {
        uint64_t h = 0x4;
        jv x = first_child(j);
        for (size_t i = 0; i < j->n; i++, x = next_sibling(x))
            h = mix(h * 31 + value_hash(x, work));
        return h;
    }
    case REGISTRY__JV_OBJECT: {
        uint64_t h = 0x5;
        jv key = first_child(j);
        for (size_t i = 0; i < j->n; i++, key = next_sibling(key + 1))
            h += mix(bytes_hash(key->u.s, key->n) * 31 + value_hash(key + 1, work));
        return mix(h);
    }
    case REGISTRY__JV_TRUE:
        return 0x6;
    case REGISTRY__JV_FALSE:
        return 0x7;
    default:
        return 0x8;
    }
}

typedef struct hashed {
    uint64_t h;
    size_t i;
    jv item;
} hashed_t;

static int hashed_cmp(const void *a, const void *b)
{
    const hashed_t *x = a, *y = b;
    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    return x->i < y->i ? -1 : (x->i > y->i);
}

/* Returns 1 when all items differ, 0 when two are equal (their indexes in *i, *j). */
static int all_unique(vctx_t *v, jv arr, size_t *i_out, size_t *j_out)
{
    size_t n = arr->n;
    if (n < 2)
        return 1;
    hashed_t *h = hd_malloc(n * sizeof *h);
    jv x = first_child(arr);
    for (size_t i = 0; i < n; i++, x = next_sibling(x))
        h[i] = (hashed_t){value_hash(x, &v->work), i, x};
    qsort(h, n, sizeof *h, hashed_cmp);
    v->work += (long)n;
    int rc = 1;
    for (size_t i = 0; i < n && rc; i++)
        for (size_t j = i + 1; j < n && h[j].h == h[i].h && rc; j++)
            if (equal_w(h[i].item, h[j].item, &v->work)) {
                *i_out = h[i].i;
                *j_out = h[j].i;
                rc = 0;
            }
    free(h);
    return rc;
}

/* ---- Annotations ---- */

static ann_t ann_new(jv inst)
{
    ann_t a;
    a.n = inst->kind == REGISTRY__JV_OBJECT || inst->kind == REGISTRY__JV_ARRAY ? inst->n : 0;
    a.seen = hd_calloc(a.n ? a.n : 1, 1);
    return a;
}

static void ann_merge(ann_t *into, const ann_t *from)
{
    if (!into)
        return;
    for (size_t i = 0; i < into->n && i < from->n; i++)
        into->seen[i] |= from->seen[i];
}

static inline void mark(ann_t *a, size_t i)
{
    if (a && i < a->n)
        a->seen[i] = 1;
}

/* ---- Keywords ---- */

static uint32_t inst_types(jv j)
{
    switch (j->kind) {
    case REGISTRY__JV_OBJECT:
        return REGISTRY__JS_OBJECT;
    case REGISTRY__JV_ARRAY:
        return REGISTRY__JS_ARRAY;
    case REGISTRY__JV_STRING:
        return REGISTRY__JS_STRING;
    case REGISTRY__JV_INT:
        return REGISTRY__JS_NUMBER | REGISTRY__JS_INTEGER;
    case REGISTRY__JV_REAL:
        /* d == floor(d) without a libm call: past 2^53 every double is an integer. */
        return REGISTRY__JS_NUMBER |
               (fabs(j->u.d) >= 0x1p53 || j->u.d == (double)(int64_t)j->u.d ? REGISTRY__JS_INTEGER
                                                                            : 0);
    case REGISTRY__JV_TRUE:
    case REGISTRY__JV_FALSE:
        return REGISTRY__JS_BOOLEAN;
    default:
        return REGISTRY__JS_NULL;
    }
}

static const char *type_names(uint32_t t, char *buf, size_t cap)
{
    static const char *const names[] = {"null",   "boolean", "object", "array",
                                        "number", "string",  "integer"};
    size_t n = 0;
    buf[0] = '\0';
    if (t & REGISTRY__JS_NUMBER)
        t &= ~(uint32_t)REGISTRY__JS_INTEGER;
    for (int i = 0; i < 7; i++)
        if (t & (1u << i))
            n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s%s", n ? ", " : "", names[i]);
    return buf;
}

static bool check_number(vctx_t *v, const registry__js_node_t *n, jv inst)
{
    double x = number_value(inst);
    char b1[48];
    const registry__js_bound_t *lo = &n->minimum, *hi = &n->maximum;
    if (lo->set && (lo->exclusive ? !(x > lo->v) : !(x >= lo->v)))
        return fail(v, lo->exclusive ? "exclusiveMinimum" : "minimum", "%s is less than %s%.17g",
                    show(inst, b1, sizeof b1), lo->exclusive ? "or equal to " : "", lo->v);
    if (hi->set && (hi->exclusive ? !(x < hi->v) : !(x <= hi->v)))
        return fail(v, hi->exclusive ? "exclusiveMaximum" : "maximum", "%s is greater than %s%.17g",
                    show(inst, b1, sizeof b1), hi->exclusive ? "or equal to " : "", hi->v);
    if (n->multiple_of > 0) {
        bool ok;
        if (inst->kind == REGISTRY__JV_INT && json_is_integer(n->multiple_of_json)) {
            ok = inst->u.i % json_integer_value(n->multiple_of_json) == 0;
        } else if (json_is_real(n->multiple_of_json)) {
            double q = x / n->multiple_of;
            ok = isfinite(q) ? q == floor(q) : fmod(x, n->multiple_of) == 0;
        } else {
            ok = fmod(x, n->multiple_of) == 0;
        }
        if (!ok)
            return fail(v, "multipleOf", "%s is not a multiple of %.17g", show(inst, b1, sizeof b1),
                        n->multiple_of);
    }
    return true;
}

static size_t code_points(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((uint8_t)s[i] & 0xC0) != 0x80;
    return n;
}

static bool check_string(vctx_t *v, const registry__js_node_t *n, jv inst)
{
    const char *s = inst->u.s;
    size_t len = inst->n;
    if (n->min_length >= 0 || n->max_length >= 0) {
        size_t cp = inst->ascii ? len : code_points(s, len);
        if (n->min_length >= 0 && cp < (size_t)n->min_length)
            return fail(v, "minLength", "string of %zu characters is shorter than %lld", cp,
                        (long long)n->min_length);
        if (n->max_length >= 0 && cp > (size_t)n->max_length)
            return fail(v, "maxLength", "string of %zu characters is longer than %lld", cp,
                        (long long)n->max_length);
    }
    if (n->pattern.code) {
        v->work += (long)(len / 64);
        int m = n->pattern.simple && inst->ascii && len <= REGISTRY__JS_SIMPLE_MAX_SUBJECT
                    ? registry__js_simple_match(n->pattern.simple, s, len)
                    : registry__js_regex_search_utf8(&n->pattern, s, len, v->md);
        if (m < 0)
            return limit(v, "pattern", "pattern match over its work limit");
        if (!m)
            return fail(v, "pattern", "string does not match pattern \"%.80s\"", n->pattern.src);
    }
    if (n->format && (v->s->flags & REGISTRY_JSONSCHEMA_FORMAT_ASSERT) &&
        !registry__js_format_check(n->format, s, len))
        return fail(v, "format", "string is not a valid %.40s", n->format);
    return true;
}

static bool check_array(vctx_t *v, const registry__js_node_t *n, jv inst, ann_t *a)
{
    size_t size = inst->n;
    if (n->min_items >= 0 && size < (size_t)n->min_items)
        return fail(v, "minItems", "array of %zu items has fewer than %lld", size,
                    (long long)n->min_items);
    if (n->max_items >= 0 && size > (size_t)n->max_items)
        return fail(v, "maxItems", "array of %zu items has more than %lld", size,
                    (long long)n->max_items);
    jv item = first_child(inst);
    size_t i = 0;
    for (; i < size && i < n->nprefix; i++, item = next_sibling(item)) {
        if (!eval(v, n->prefix[i], item, NULL)) {
            ipush_idx(v, i);
            spush_idx(v, i);
            spush(v, n->dialect == REGISTRY__JS_2020 && n->prefix ? "prefixItems" : "items");
            return false;
        }
        mark(a, i);
    }
    if (n->items) {
        for (; i < size; i++, item = next_sibling(item)) {
            if (!eval(v, n->items, item, NULL)) {
                ipush_idx(v, i);
                spush(v, n->nprefix && n->dialect == REGISTRY__JS_DRAFT7 ? "additionalItems"
                                                                         : "items");
                return false;
            }
            mark(a, i);
        }
    }
    if (n->contains) {
        int64_t matches = 0;
        v->quiet++;
        item = first_child(inst);
        for (i = 0; i < size; i++, item = next_sibling(item)) {
            if (eval(v, n->contains, item, NULL)) {
                matches++;
                mark(a, i);
                if (!a && n->max_contains < 0 && matches >= n->min_contains)
                    break;
                if (n->max_contains >= 0 && matches > n->max_contains)
                    break;
            }
            if (v->rc)
                break;
        }
        v->quiet--;
        if (v->rc)
            return false;
        if (matches < n->min_contains)
            return fail(v, n->min_contains > 1 ? "minContains" : "contains",
                        "array has %lld items matching contains, fewer than %lld",
                        (long long)matches, (long long)n->min_contains);
        if (n->max_contains >= 0 && matches > n->max_contains)
            return fail(v, "maxContains", "array has more than %lld items matching contains",
                        (long long)n->max_contains);
    }
    if (n->unique_items) {
        size_t x = 0, y = 0;
        if (!all_unique(v, inst, &x, &y))
            return fail(v, "uniqueItems", "items %zu and %zu are equal", x, y);
    }
    return true;
}

/* Objects and schemas up to these sizes get the hashed property lookup (stack arrays). */
#define LOOKUP_MAX_PROPS REGISTRY__JS_LOOKUP_MAX_PROPS
#define LOOKUP_MAX_MEMBERS 128

static bool check_object(vctx_t *v, const registry__js_node_t *n, jv inst, ann_t *a)
{
    size_t size = inst->n;
    if (n->min_props >= 0 && size < (size_t)n->min_props)
        return fail(v, "minProperties", "object of %zu properties has fewer than %lld", size,
                    (long long)n->min_props);
    if (n->max_props >= 0 && size > (size_t)n->max_props)
        return fail(v, "maxProperties", "object of %zu properties has more than %lld", size,
                    (long long)n->max_props);
    /* Each member's entry in properties (through the node's hash table), found once for the
     * required check and the per-key loop; `have` marks the properties present. */
    uint8_t have[LOOKUP_MAX_PROPS];
    uint16_t pidx[LOOKUP_MAX_MEMBERS]; /* index in props + 1; 0: none */
    bool lookup = n->nprops && n->nprops <= LOOKUP_MAX_PROPS && size <= LOOKUP_MAX_MEMBERS;
    if (lookup) {
        memset(have, 0, n->nprops);
        jv key = first_child(inst);
        for (size_t i = 0; i < size; i++, key = next_sibling(key + 1)) {
            uint32_t at = registry__js_prop_slot(n, key->u.s, key->n, key->hash);
            pidx[i] = (uint16_t)at;
            if (at)
                have[at - 1] = 1;
        }
    }
    for (size_t i = 0; i < n->nrequired; i++) {
        int32_t rp = lookup ? n->required_prop[i] : -1;
        if (rp >= 0 ? !have[rp] : !member_find(inst, n->required[i].name, n->required[i].len))
            return fail(v, "required", "required property \"%.60s\" is missing",
                        n->required[i].name);
    }
    for (size_t d = 0; d < n->ndep_required; d++) {
        const registry__js_dep_req_t *dr = &n->dep_required[d];
        if (!member_find(inst, dr->name, dr->len))
            continue;
        for (size_t i = 0; i < dr->nreq; i++)
            if (!member_find(inst, dr->req[i], dr->req_len[i])) {
                return fail(v,
                            n->dialect == REGISTRY__JS_2020 ? "dependentRequired" : "dependencies",
                            "property \"%.60s\" requires property \"%.60s\"", dr->name, dr->req[i]);
            }
    }
    bool per_key = n->nprops || n->npattern_props || n->additional_props || n->property_names;
    if (per_key) {
        jv key = first_child(inst);
        for (size_t i = 0; i < size; i++, key = next_sibling(key + 1)) {
            const char *k = key->u.s;
            size_t kl = key->n;
            jv val = key + 1;
            if (n->property_names) {
                if (!eval(v, n->property_names, key, NULL)) {
                    ipush_key(v, k, kl);
                    spush(v, "propertyNames");
                    return false;
                }
            }
            bool matched = false;
            const registry__js_named_t *p =
                lookup ? (pidx[i] ? &n->props[pidx[i] - 1] : NULL)
                       : registry__js_named_find(n->props, n->nprops, k, kl);
            if (p) {
                matched = true;
                if (!eval(v, p->node, val, NULL)) {
                    ipush_key(v, k, kl);
                    spush_key(v, k, kl);
                    spush(v, "properties");
                    return false;
                }
            }
            for (size_t j = 0; j < n->npattern_props; j++) {
                const registry__js_pattern_prop_t *pp = &n->pattern_props[j];
                int m = pp->re.simple && key->ascii && kl <= REGISTRY__JS_SIMPLE_MAX_SUBJECT
                            ? registry__js_simple_match(pp->re.simple, k, kl)
                            : registry__js_regex_search_utf8(&pp->re, k, kl, v->md);
                if (m < 0)
                    return limit(v, "patternProperties", "pattern match over its work limit");
                if (!m)
                    continue;
                matched = true;
                if (!eval(v, pp->node, val, NULL)) {
                    ipush_key(v, k, kl);
                    spush_key(v, pp->re.src, strlen(pp->re.src));
                    spush(v, "patternProperties");
                    return false;
                }
            }
            if (!matched && n->additional_props) {
                if (n->additional_props->boolean == 0) {
                    fail(v, "additionalProperties", "property \"%.*s\" is not allowed",
                         (int)(kl > 60 ? 60 : kl), k);
                    ipush_key(v, k, kl);
                    return false;
                }
                if (!eval(v, n->additional_props, val, NULL)) {
                    ipush_key(v, k, kl);
                    spush(v, "additionalProperties");
                    return false;
                }
                matched = true;
            }
            if (matched)
                mark(a, i);
        }
    }
    for (size_t d = 0; d < n->ndep_schemas; d++) {
        const registry__js_named_t *ds = &n->dep_schemas[d];
        if (!member_find(inst, ds->name, ds->len))
            continue;
        if (!eval(v, ds->node, inst, a)) {
            spush_key(v, ds->name, ds->len);
            spush(v, n->dialect == REGISTRY__JS_2020 ? "dependentSchemas" : "dependencies");
            return false;
        }
    }
    return true;
}

static bool eval_ref(vctx_t *v, const registry__js_node_t *target, const char *kw, jv inst,
                     ann_t *a)
{
    for (size_t i = 0; i < v->nrefs; i++)
        if (v->refs[i].n == target && v->refs[i].inst == inst)
            return limit(v, kw, "$ref cycle that never reaches a keyword");
    if (v->nrefs == HD_ARRAY_LEN(v->refs))
        return limit(v, kw, "schema nested too deeply");
    v->refs[v->nrefs++] = (ref_frame_t){target, inst};
    bool ok = eval(v, target, inst, a);
    v->nrefs--;
    if (!ok)
        spush(v, kw);
    return ok;
}

static bool check_applicators(vctx_t *v, const registry__js_node_t *n, jv inst, ann_t *a)
{
    for (size_t i = 0; i < n->nall_of; i++) {
        if (!eval(v, n->all_of[i], inst, a)) {
            spush_idx(v, i);
            spush(v, "allOf");
            return false;
        }
    }
    if (n->nany_of) {
        bool any = false;
        v->quiet++;
        for (size_t i = 0; i < n->nany_of && !v->rc; i++) {
            if (!a) {
                if ((any = eval(v, n->any_of[i], inst, NULL)))
                    break;
                continue;
            }
            ann_t t = ann_new(inst);
            if (eval(v, n->any_of[i], inst, &t)) {
                any = true;
                ann_merge(a, &t);
            }
            free(t.seen);
        }
        v->quiet--;
        if (v->rc)
            return false;
        if (!any)
            return fail(v, "anyOf", "value matches none of the %zu anyOf schemas", n->nany_of);
    }
    if (n->none_of) {
        size_t matched = 0, first = 0;
        ann_t keep = {NULL, 0};
        v->quiet++;
        for (size_t i = 0; i < n->none_of && matched < 2 && !v->rc; i++) {
            ann_t t = a ? ann_new(inst) : (ann_t){NULL, 0};
            if (eval(v, n->one_of[i], inst, a ? &t : NULL)) {
                if (matched++ == 0) {
                    first = i;
                    keep = t;
                    t.seen = NULL;
                }
            }
            free(t.seen);
        }
        v->quiet--;
        if (!v->rc && matched == 1)
            ann_merge(a, &keep);
        free(keep.seen);
        if (v->rc)
            return false;
        if (matched == 0)
            return fail(v, "oneOf", "value matches none of the %zu oneOf schemas", n->none_of);
        if (matched > 1)
            return fail(v, "oneOf", "value matches more than one oneOf schema (%zu and more)",
                        first);
    }
    if (n->not_) {
        v->quiet++;
        bool ok = eval(v, n->not_, inst, NULL);
        v->quiet--;
        if (v->rc)
            return false;
        if (ok)
            return fail(v, "not", "value matches the schema under not");
    }
    if (n->if_) {
        ann_t t = a ? ann_new(inst) : (ann_t){NULL, 0};
        v->quiet++;
        bool cond = eval(v, n->if_, inst, a ? &t : NULL);
        v->quiet--;
        if (cond)
            ann_merge(a, &t);
        free(t.seen);
        if (v->rc)
            return false;
        const registry__js_node_t *branch = cond ? n->then_ : n->else_;
        if (branch && !eval(v, branch, inst, a)) {
            spush(v, cond ? "then" : "else");
            return false;
        }
    }
    return true;
}

static bool check_unevaluated(vctx_t *v, const registry__js_node_t *n, jv inst, ann_t *a)
{
    if (n->unevaluated_items && inst->kind == REGISTRY__JV_ARRAY) {
        jv item = first_child(inst);
        for (size_t i = 0; i < inst->n; i++, item = next_sibling(item)) {
            if (a->seen[i])
                continue;
            if (n->unevaluated_items->boolean == 0) {
                fail(v, "unevaluatedItems", "item %zu is not allowed", i);
                ipush_idx(v, i);
                return false;
            }
            if (!eval(v, n->unevaluated_items, item, NULL)) {
                ipush_idx(v, i);
                spush(v, "unevaluatedItems");
                return false;
            }
            a->seen[i] = 1;
        }
    }
    if (n->unevaluated_props && inst->kind == REGISTRY__JV_OBJECT) {
        jv key = first_child(inst);
        for (size_t i = 0; i < inst->n; i++, key = next_sibling(key + 1)) {
            const char *k = key->u.s;
            size_t kl = key->n;
            if (!a->seen[i]) {
                if (n->unevaluated_props->boolean == 0) {
                    fail(v, "unevaluatedProperties", "property \"%.*s\" is not allowed",
                         (int)(kl > 60 ? 60 : kl), k);
                    ipush_key(v, k, kl);
                    return false;
                }
                if (!eval(v, n->unevaluated_props, key + 1, NULL)) {
                    ipush_key(v, k, kl);
                    spush(v, "unevaluatedProperties");
                    return false;
                }
                a->seen[i] = 1;
            }
        }
    }
    return true;
}

static bool eval_keywords(vctx_t *v, const registry__js_node_t *n, jv inst, ann_t *a)
{
    char b1[48], b2[96];
    if (n->dialect == REGISTRY__JS_DRAFT7 && n->ref)
        return eval_ref(v, n->ref, "$ref", inst, a);
    uint32_t t = inst_types(inst);
    if (n->has_type && !(n->types & t))
        return fail(v, "type", "%s is not of type %s", show(inst, b1, sizeof b1),
                    type_names(n->types, b2, sizeof b2));
    unsigned kw = n->kw;
    if (kw & REGISTRY__JS_KW_VALUES) {
        if (n->has_const && !equal_w(inst, n->const_v, &v->work))
            return fail(v, "const", "%s is not the constant value", show(inst, b1, sizeof b1));
        if (n->enum_v) {
            bool found = false;
            jv e = first_child(n->enum_v);
            for (size_t i = 0; i < n->enum_v->n && !found; i++, e = next_sibling(e))
                found = equal_w(inst, e, &v->work);
            if (!found)
                return fail(v, "enum", "%s is not one of the %zu enum values",
                            show(inst, b1, sizeof b1), (size_t)n->enum_v->n);
        }
    }
    if ((t & REGISTRY__JS_NUMBER) && (kw & REGISTRY__JS_KW_NUMBER) && !check_number(v, n, inst))
        return false;
    if ((t & REGISTRY__JS_STRING) && (kw & REGISTRY__JS_KW_STRING) && !check_string(v, n, inst))
        return false;
    if ((t & REGISTRY__JS_ARRAY) && (kw & REGISTRY__JS_KW_ARRAY) && !check_array(v, n, inst, a))
        return false;
    if ((t & REGISTRY__JS_OBJECT) && (kw & REGISTRY__JS_KW_OBJECT) && !check_object(v, n, inst, a))
        return false;
    if ((kw & REGISTRY__JS_KW_APPLY) && !check_applicators(v, n, inst, a))
        return false;
    /* References last, as in jsonschema_validate.c. */
    if (n->ref && !eval_ref(v, n->ref, "$ref", inst, a))
        return false;
    if (n->dynamic_ref && !eval_ref(v, n->dynamic_ref, "$dynamicRef", inst, a))
        return false;
    return true;
}

static bool eval(vctx_t *v, const registry__js_node_t *n, jv inst, ann_t *a)
{
    if (v->rc)
        return false;
    if (++v->work > REGISTRY_JSONSCHEMA_MAX_WORK)
        return limit(v, "", "validation needs more work than allowed");
    if (n->boolean == 1)
        return true;
    if (n->boolean == 0)
        return fail(v, "false", "no value is allowed here");
    if (v->depth >= REGISTRY_JSONSCHEMA_MAX_DEPTH)
        return limit(v, "", "schema and value nested too deeply");
    v->depth++;
    ann_t own = {NULL, 0};
    bool collect =
        n->collects && (inst->kind == REGISTRY__JV_OBJECT || inst->kind == REGISTRY__JV_ARRAY);
    if (collect)
        own = ann_new(inst);
    bool ok = eval_keywords(v, n, inst, collect ? &own : a);
    if (ok && collect)
        ok = check_unevaluated(v, n, inst, &own);
    if (collect) {
        if (ok)
            ann_merge(a, &own);
        free(own.seen);
    }
    v->depth--;
    return ok;
}

/* ---- The pass-or-fail walk ----
 *
 * Most payloads are valid, and for those the walk above does work only a failure needs: it
 * carries annotations, tests every keyword group of a node, and goes through each `$ref`
 * node of a chain. This walk answers only whether the instance is valid: quiet throughout (no
 * message, no pointer), without annotations (a node that collects them is left to the full
 * walk), following each node's plan (the checks its keywords make for the instance's kind, in
 * eval_keywords's order) and draft-07 `$ref` chains resolved at compile. It counts work and
 * depth as the full walk does or more, and sets v->rc (abandon) where the full walk would hit a
 * bound or cannot be followed: so when it passes, the full walk passes too. When it does not,
 * validate_doc runs the full walk from the start for the answer and its message. */

static bool feval(vctx_t *v, const registry__js_node_t *n, jv inst);

/* Abandons the pass-or-fail walk (the full walk decides). */
static bool fabandon(vctx_t *v)
{
    v->rc = HD_ERANGE;
    return false;
}

static bool fcheck_array(vctx_t *v, const registry__js_node_t *n, jv inst)
{
    size_t size = inst->n;
    if (n->min_items >= 0 && size < (size_t)n->min_items)
        return false;
    if (n->max_items >= 0 && size > (size_t)n->max_items)
        return false;
    jv item = first_child(inst);
    size_t i = 0;
    for (; i < size && i < n->nprefix; i++, item = next_sibling(item))
        if (!feval(v, n->prefix[i], item))
            return false;
    if (n->items)
        for (; i < size; i++, item = next_sibling(item))
            if (!feval(v, n->items, item))
                return false;
    if (n->contains) {
        int64_t matches = 0;
        item = first_child(inst);
        for (i = 0; i < size; i++, item = next_sibling(item)) {
            if (feval(v, n->contains, item)) {
                matches++;
                if (n->max_contains < 0 && matches >= n->min_contains)
                    break;
                if (n->max_contains >= 0 && matches > n->max_contains)
                    break;
            }
            if (v->rc)
                return false;
        }
        if (matches < n->min_contains)
            return false;
        if (n->max_contains >= 0 && matches > n->max_contains)
            return false;
    }
    if (n->unique_items) {
        size_t x = 0, y = 0;
        if (!all_unique(v, inst, &x, &y))
            return false;
    }
    return true;
}

static bool fcheck_object(vctx_t *v, const registry__js_node_t *n, jv inst)
{
    size_t size = inst->n;
    if (n->min_props >= 0 && size < (size_t)n->min_props)
        return false;
    if (n->max_props >= 0 && size > (size_t)n->max_props)
        return false;
    uint8_t have[LOOKUP_MAX_PROPS];
    uint16_t pidx[LOOKUP_MAX_MEMBERS];
    bool lookup = n->nprops && n->nprops <= LOOKUP_MAX_PROPS && size <= LOOKUP_MAX_MEMBERS;
    if (lookup && !n->ndep_required && !n->property_names && !n->npattern_props) {
        /* One pass: each member's property and its value, then `required` from what was seen.
         * The full walk checks `required` first; the answer is the same, and a bound this
         * order meets first abandons this walk as it would. */
        memset(have, 0, n->nprops);
        jv key = first_child(inst);
        for (size_t i = 0; i < size; i++, key = next_sibling(key + 1)) {
            uint32_t at = registry__js_prop_slot(n, key->u.s, key->n, key->hash);
            const registry__js_node_t *sub = n->additional_props;
            if (at) {
                have[at - 1] = 1;
                sub = n->props[at - 1].node;
            }
            if (sub && !feval(v, sub, key + 1))
                return false;
        }
        for (size_t i = 0; i < n->nrequired; i++)
            if (n->required_prop[i] >= 0
                    ? !have[n->required_prop[i]]
                    : !member_find(inst, n->required[i].name, n->required[i].len))
                return false;
        goto dep_schemas;
    }
    /* As check_object: each member's property found once, for required and the member loop. */
    if (lookup) {
        memset(have, 0, n->nprops);
        jv key = first_child(inst);
        for (size_t i = 0; i < size; i++, key = next_sibling(key + 1)) {
            uint32_t at = registry__js_prop_slot(n, key->u.s, key->n, key->hash);
            pidx[i] = (uint16_t)at;
            if (at)
                have[at - 1] = 1;
        }
    }
    for (size_t i = 0; i < n->nrequired; i++) {
        int32_t rp = lookup ? n->required_prop[i] : -1;
        if (rp >= 0 ? !have[rp] : !member_find(inst, n->required[i].name, n->required[i].len))
            return false;
    }
    for (size_t d = 0; d < n->ndep_required; d++) {
        const registry__js_dep_req_t *dr = &n->dep_required[d];
        if (!member_find(inst, dr->name, dr->len))
            continue;
        for (size_t i = 0; i < dr->nreq; i++)
            if (!member_find(inst, dr->req[i], dr->req_len[i]))
                return false;
    }
    if (n->nprops || n->npattern_props || n->additional_props || n->property_names) {
        jv key = first_child(inst);
        for (size_t i = 0; i < size; i++, key = next_sibling(key + 1)) {
            const char *k = key->u.s;
            size_t kl = key->n;
            jv val = key + 1;
            if (n->property_names && !feval(v, n->property_names, key))
                return false;
            bool matched = false;
            const registry__js_named_t *p =
                lookup ? (pidx[i] ? &n->props[pidx[i] - 1] : NULL)
                       : registry__js_named_find(n->props, n->nprops, k, kl);
            if (p) {
                matched = true;
                if (!feval(v, p->node, val))
                    return false;
            }
            for (size_t j = 0; j < n->npattern_props; j++) {
                const registry__js_pattern_prop_t *pp = &n->pattern_props[j];
                int m = pp->re.simple && key->ascii && kl <= REGISTRY__JS_SIMPLE_MAX_SUBJECT
                            ? registry__js_simple_match(pp->re.simple, k, kl)
                            : registry__js_regex_search_utf8(&pp->re, k, kl, v->md);
                if (m < 0)
                    return fabandon(v);
                if (!m)
                    continue;
                matched = true;
                if (!feval(v, pp->node, val))
                    return false;
            }
            if (!matched && n->additional_props && !feval(v, n->additional_props, val))
                return false;
        }
    }
dep_schemas:
    for (size_t d = 0; d < n->ndep_schemas; d++) {
        const registry__js_named_t *ds = &n->dep_schemas[d];
        if (member_find(inst, ds->name, ds->len) && !feval(v, ds->node, inst))
            return false;
    }
    return true;
}

static bool fcheck_applicators(vctx_t *v, const registry__js_node_t *n, jv inst)
{
    for (size_t i = 0; i < n->nall_of; i++)
        if (!feval(v, n->all_of[i], inst))
            return false;
    if (n->nany_of) {
        bool any = false;
        for (size_t i = 0; i < n->nany_of && !v->rc && !any; i++)
            any = feval(v, n->any_of[i], inst);
        if (v->rc || !any)
            return false;
    }
    if (n->none_of) {
        size_t matched = 0;
        for (size_t i = 0; i < n->none_of && matched < 2 && !v->rc; i++)
            matched += feval(v, n->one_of[i], inst);
        if (v->rc || matched != 1)
            return false;
    }
    if (n->not_) {
        bool ok = feval(v, n->not_, inst);
        if (v->rc || ok)
            return false;
    }
    if (n->if_) {
        bool cond = feval(v, n->if_, inst);
        if (v->rc)
            return false;
        const registry__js_node_t *branch = cond ? n->then_ : n->else_;
        if (branch && !feval(v, branch, inst))
            return false;
    }
    return true;
}

/* The full walk's reference step without its cycle check: a cycle recurses until the depth
 * bound abandons this walk, and the full walk then reports it. */
static bool fref(vctx_t *v, const registry__js_node_t *target, jv inst)
{
    if (v->nrefs >= HD_ARRAY_LEN(v->refs) - 1)
        return fabandon(v);
    v->nrefs++;
    bool ok = feval(v, target, inst);
    v->nrefs--;
    return ok;
}

static bool feval(vctx_t *v, const registry__js_node_t *n, jv inst)
{
    if (v->rc)
        return false;
    /* A draft-07 `$ref` chain: one evaluation and one reference per node the full walk would
     * go through. */
    uint32_t hops = n->plan_hops;
    if (hops) {
        n = n->plan_target;
        v->work += hops;
        v->nrefs += hops;
    }
    bool ok = false;
    if (++v->work > REGISTRY_JSONSCHEMA_MAX_WORK ||
        v->depth + hops >= REGISTRY_JSONSCHEMA_MAX_DEPTH || v->nrefs >= HD_ARRAY_LEN(v->refs)) {
        fabandon(v);
        goto out;
    }
    unsigned p = n->plan[inst->kind];
    if (p & (REGISTRY__JS_P_FAIL | REGISTRY__JS_P_SLOW)) {
        if (p & REGISTRY__JS_P_SLOW)
            fabandon(v);
        goto out;
    }
    if (p) {
        v->depth += hops + 1;
        ok = (!(p & REGISTRY__JS_P_INTEGRAL) || fabs(inst->u.d) >= 0x1p53 ||
              inst->u.d == (double)(int64_t)inst->u.d);
        if (ok && (p & REGISTRY__JS_P_VALUES)) {
            if (n->has_const && !equal_w(inst, n->const_v, &v->work)) {
                ok = false;
            } else if (n->enum_v) {
                bool found = false;
                jv e = first_child(n->enum_v);
                if (inst->kind == REGISTRY__JV_STRING) {
                    /* equal_w on a string, inline. */
                    for (size_t i = 0; i < n->enum_v->n && !found; i++, e = next_sibling(e)) {
                        v->work++;
                        found = e->kind == REGISTRY__JV_STRING && e->n == inst->n &&
                                !memcmp(e->u.s, inst->u.s, inst->n);
                    }
                } else {
                    for (size_t i = 0; i < n->enum_v->n && !found; i++, e = next_sibling(e))
                        found = equal_w(inst, e, &v->work);
                }
                ok = found;
            }
        }
        ok = ok && (!(p & REGISTRY__JS_P_NUMBER) || check_number(v, n, inst));
        ok = ok && (!(p & REGISTRY__JS_P_STRING) || check_string(v, n, inst));
        ok = ok && (!(p & REGISTRY__JS_P_ARRAY) || fcheck_array(v, n, inst));
        ok = ok && (!(p & REGISTRY__JS_P_OBJECT) || fcheck_object(v, n, inst));
        ok = ok && (!(p & REGISTRY__JS_P_APPLY) || fcheck_applicators(v, n, inst));
        if (ok && (p & REGISTRY__JS_P_REF)) {
            ok = (!n->ref || fref(v, n->ref, inst)) &&
                 (!n->dynamic_ref || fref(v, n->dynamic_ref, inst));
        }
        v->depth -= hops + 1;
    } else {
        ok = true;
    }
out:
    v->nrefs -= hops;
    return ok && !v->rc;
}

bool registry__js_feval(vctx_t *v, const registry__js_node_t *n, const registry__jv_t *inst)
{
    return feval(v, n, inst);
}

bool registry__js_fabandoned(const vctx_t *v) { return v->rc != 0; }

/* Arrays up to this many items are checked pair by pair, without allocating or sorting. */
#define UNIQUE_PAIRWISE_MAX 16

bool registry__js_funique(vctx_t *v, const registry__jv_t *arr)
{
    size_t n = arr->n;
    if (n < 2)
        return true;
    if (n > UNIQUE_PAIRWISE_MAX) {
        size_t i, j;
        return all_unique(v, arr, &i, &j) == 1;
    }
    /* The same hashes, and the same equal-hash pairs compared, as all_unique(): the same work
     * counted when the items are unique (the only answer this gives without the full walk). */
    uint64_t h[UNIQUE_PAIRWISE_MAX];
    jv items[UNIQUE_PAIRWISE_MAX];
    jv x = first_child(arr);
    for (size_t i = 0; i < n; i++, x = next_sibling(x)) {
        items[i] = x;
        h[i] = value_hash(x, &v->work);
    }
    v->work += (long)n;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (h[i] == h[j] && equal_w(items[i], items[j], &v->work))
                return false;
    return true;
}

const registry__js_node_t *registry__js_fenter(vctx_t *v, const registry__js_node_t *n,
                                               uint32_t *hops_out)
{
    /* feval's accounting, for an instance checked while it is parsed. */
    uint32_t hops = n->plan_hops;
    if (hops) {
        n = n->plan_target;
        v->work += hops;
        v->nrefs += hops;
    }
    *hops_out = hops;
    if (v->rc || ++v->work > REGISTRY_JSONSCHEMA_MAX_WORK ||
        v->depth + hops >= REGISTRY_JSONSCHEMA_MAX_DEPTH || v->nrefs >= HD_ARRAY_LEN(v->refs)) {
        v->nrefs -= hops;
        fabandon(v);
        return NULL;
    }
    v->depth += hops + 1;
    return n;
}

void registry__js_fleave(vctx_t *v, uint32_t hops)
{
    v->depth -= hops + 1;
    v->nrefs -= hops;
}

/* ---- The plans, built at compile (jsonschema.c calls this for each node) ---- */

/* The plan of the pass-or-fail walk (jsonschema_fast.c) for one filled node: per instance kind,
 * the checks eval_keywords would run, in its order. */
void registry__js_plan_node(registry__js_node_t *n)
{
    static const uint32_t kind_type[8] = {
        [REGISTRY__JV_NULL] = REGISTRY__JS_NULL,     [REGISTRY__JV_TRUE] = REGISTRY__JS_BOOLEAN,
        [REGISTRY__JV_FALSE] = REGISTRY__JS_BOOLEAN, [REGISTRY__JV_INT] = REGISTRY__JS_NUMBER,
        [REGISTRY__JV_REAL] = REGISTRY__JS_NUMBER,   [REGISTRY__JV_STRING] = REGISTRY__JS_STRING,
        [REGISTRY__JV_ARRAY] = REGISTRY__JS_ARRAY,   [REGISTRY__JV_OBJECT] = REGISTRY__JS_OBJECT,
    };
    for (int k = 0; k < 8; k++) {
        unsigned p = 0;
        if (n->boolean == 0 || n->boolean == 1) {
            n->plan[k] = n->boolean ? 0 : REGISTRY__JS_P_FAIL;
            n->plan_inline |= (uint8_t)(1u << k);
            continue;
        }
        bool num = k == REGISTRY__JV_INT || k == REGISTRY__JV_REAL;
        if (n->has_type && !(n->types & kind_type[k])) {
            /* A number that is not of type number may still be an integer. */
            if (k == REGISTRY__JV_REAL && (n->types & REGISTRY__JS_INTEGER))
                p |= REGISTRY__JS_P_INTEGRAL;
            else if (!(k == REGISTRY__JV_INT && (n->types & REGISTRY__JS_INTEGER)))
                p |= REGISTRY__JS_P_FAIL;
        }
        if (n->kw & REGISTRY__JS_KW_VALUES)
            p |= REGISTRY__JS_P_VALUES;
        if (num && (n->kw & REGISTRY__JS_KW_NUMBER))
            p |= REGISTRY__JS_P_NUMBER;
        if (k == REGISTRY__JV_STRING && (n->kw & REGISTRY__JS_KW_STRING))
            p |= REGISTRY__JS_P_STRING;
        if (k == REGISTRY__JV_ARRAY && (n->kw & REGISTRY__JS_KW_ARRAY))
            p |= REGISTRY__JS_P_ARRAY;
        if (k == REGISTRY__JV_OBJECT && (n->kw & REGISTRY__JS_KW_OBJECT))
            p |= REGISTRY__JS_P_OBJECT;
        if (n->kw & REGISTRY__JS_KW_APPLY)
            p |= REGISTRY__JS_P_APPLY;
        if ((n->ref && n->dialect != REGISTRY__JS_DRAFT7) || n->dynamic_ref)
            p |= REGISTRY__JS_P_REF;
        if (n->collects && (k == REGISTRY__JV_ARRAY || k == REGISTRY__JV_OBJECT))
            p |= REGISTRY__JS_P_SLOW;
        n->plan[k] = (uint16_t)p;
        /* What the check while parsing evaluates inline (jsonschema_stream.c, scalar()). */
        bool inl = !(p & ~(unsigned)(REGISTRY__JS_P_FAIL | REGISTRY__JS_P_INTEGRAL |
                                     REGISTRY__JS_P_VALUES | REGISTRY__JS_P_NUMBER |
                                     REGISTRY__JS_P_STRING));
        if ((p & REGISTRY__JS_P_VALUES) && (n->has_const || !n->enum_v || k != REGISTRY__JV_STRING))
            inl = false;
        if ((p & REGISTRY__JS_P_NUMBER) && n->multiple_of > 0)
            inl = false;
        if (inl && k < 8)
            n->plan_inline |= (uint8_t)(1u << k);
    }
    /* draft-07 `$ref` replaces its node: follow the chain of such nodes to its end (a chain
     * that comes back on itself is left to the full walk, which reports the cycle). */
    if (n->boolean == -1 && n->dialect == REGISTRY__JS_DRAFT7 && n->ref) {
        const registry__js_node_t *t = n;
        uint32_t hops = 0;
        while (t->boolean == -1 && t->dialect == REGISTRY__JS_DRAFT7 && t->ref &&
               hops <= REGISTRY_JSONSCHEMA_MAX_DEPTH) {
            t = t->ref;
            hops++;
        }
        if (hops > REGISTRY_JSONSCHEMA_MAX_DEPTH) {
            /* Nothing inline either: the check while parsing must not read these plans as its
             * own (a SLOW plan has none of the bits it evaluates, so it would pass). */
            for (int k = 0; k < 8; k++)
                n->plan[k] = REGISTRY__JS_P_SLOW;
            n->plan_inline = 0;
        } else {
            n->plan_hops = hops;
            n->plan_target = t;
        }
    }
}

/* ---- The per-thread context ---- */

typedef struct tctx {
    vctx_t v;
    registry__jdoc_t doc;
} tctx_t;

static pthread_key_t tctx_key;
static pthread_once_t tctx_once = PTHREAD_ONCE_INIT;

/* The key frees a thread's context when the thread ends; this pointer finds it quickly. */
static _Thread_local tctx_t *tctx_mine;

static void tctx_free(void *p)
{
    tctx_t *t = p;
    tctx_mine = NULL;
    registry__jdoc_deinit(&t->doc);
    pcre2_match_data_free(t->v.md);
    free(t);
}

static void tctx_key_init(void) { HD_ASSERT(pthread_key_create(&tctx_key, tctx_free) == 0); }

static tctx_t *tctx_get(void)
{
    tctx_t *t = tctx_mine;
    if (t)
        return t;
    pthread_once(&tctx_once, tctx_key_init);
    t = pthread_getspecific(tctx_key);
    if (!t) {
        t = hd_malloc(sizeof *t);
        memset(t, 0, offsetof(tctx_t, v.refs));
        registry__jdoc_init(&t->doc);
        t->v.md = pcre2_match_data_create(1, NULL);
        HD_ASSERT(t->v.md);
        HD_ASSERT(pthread_setspecific(tctx_key, t) == 0);
    }
    tctx_mine = t;
    return t;
}

/* Readies the context for a pass-or-fail check. */
static void quiet_start(vctx_t *v, const registry_jsonschema_t *s)
{
    pcre2_match_data *md = v->md;
    memset(v, 0, offsetof(vctx_t, refs));
    v->md = md;
    v->nrefs = 0;
    v->s = s;
    v->quiet = 1;
}

static int validate_doc(tctx_t *t, const registry_jsonschema_t *s, registry_error_t *err)
{
    vctx_t *v = &t->v;
    pcre2_match_data *md = v->md;
    /* The pass-or-fail walk first; the full walk for anything else. */
    quiet_start(v, s);
    if (feval(v, s->root, t->doc.v)) {
        if (err)
            memset(err, 0, sizeof *err);
        return 0;
    }
    /* The segment stacks are large and only read after a failure: leave them uninitialised. */
    memset(v, 0, offsetof(vctx_t, refs));
    v->md = md;
    v->nrefs = 0;
    v->ipath.n = v->spath.n = 0;
    v->ipath.truncated = v->spath.truncated = false;
    v->s = s;
    v->err = err;
    if (err)
        memset(err, 0, sizeof *err);
    bool ok = eval(v, s->root, t->doc.v, NULL);
    int rc = ok ? 0 : (v->rc ? v->rc : HD_EINVAL);
    if (!ok && err) {
        render_path(&v->ipath, err->instance_path, sizeof err->instance_path, "");
        render_path(&v->spath, err->schema_path, sizeof err->schema_path, "#");
    }
    return rc;
}

int registry__js_validate_text(const registry_jsonschema_t *s, const char *text, size_t len,
                               registry_error_t *err, json_error_t *jerr)
{
    tctx_t *t = tctx_get();
    int rc;
    /* A check while parsing first (jsonschema_stream.c): it answers only "passes". */
    quiet_start(&t->v, s);
    if (registry__js_stream_check(&t->v, s->root, &t->doc, text, len) == 1) {
        if (err)
            memset(err, 0, sizeof *err);
        registry__jdoc_trim(&t->doc);
        return 0;
    }
    if (registry__jdoc_parse(&t->doc, text, len) == 0) {
        rc = validate_doc(t, s, err);
    } else {
        json_t *j = json_loadb(text, len, JSON_DECODE_ANY, jerr);
        if (!j) {
            registry__jdoc_trim(&t->doc);
            return HD_EMALFORMED;
        }
        registry__jdoc_from_json(&t->doc, j);
        rc = validate_doc(t, s, err);
        json_decref(j);
    }
    registry__jdoc_trim(&t->doc);
    return rc;
}
