/* JSON Schema validation: walks the compiled node graph (registry_int.h) over an instance.
 *
 * Each evaluation of a node against a value returns valid or not and stops at the first failing
 * keyword. Only failures that decide the answer are reported: branches of anyOf, oneOf, not, if
 * and contains are evaluated "quietly" and their failures are not the record's error (the
 * keyword that owns them reports instead). When a reported failure unwinds, each level adds
 * its keyword and its instance step to two segment stacks, which become the JSON pointers of
 * registry_error_t at the end.
 *
 * unevaluatedProperties and unevaluatedItems need to know what the other keywords of their
 * schema, and every in-place subschema ($ref, allOf, anyOf, oneOf, if/then/else,
 * dependentSchemas) that succeeded, looked at. A node with either keyword gets an annotation
 * set: one byte per property (in the object's iteration order) or per item, set when evaluated.
 * In-place subschemas write into it; branches that may fail get a set of their own, merged only
 * when they succeed.
 *
 * Work is bounded three ways: nesting depth, a step budget per call, and a stack of the $ref
 * targets being evaluated: reaching the same target again for the same value is a cycle that
 * would never end, and fails at once.
 *
 * Payloads validated on produce take jsonschema_fast.c instead, the same walk over a flat
 * document parsed from the payload's text; both must answer alike (jsonschema_tool and the fuzz
 * target jsonschema_text check it), so a change here is a change there. */
#include "registry/registry_int.h"
#include "util/err.h"
#include "util/mem.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_SEGS REGISTRY__JS_MAX_SEGS

/* The error paths' steps, as the walks over flat documents keep them (registry_int.h). */
typedef registry__js_seg_t seg_t;
typedef registry__js_segs_t segs_t;

typedef struct ref_frame {
    const registry__js_node_t *n;
    const json_t *inst;
} ref_frame_t;

typedef struct vctx {
    const registry_jsonschema_t *s;
    registry_error_t *err;
    int quiet;     /* > 0: inside a branch whose failure does not decide the answer */
    bool recorded; /* the deciding failure is recorded; the levels above add their steps */
    int rc;        /* HD_ERANGE once a bound was hit: every evaluation fails from then on */
    int depth;
    long work;
    pcre2_match_data *md;
    ref_frame_t refs[REGISTRY_JSONSCHEMA_MAX_DEPTH];
    size_t nrefs;
    segs_t ipath, spath;
} vctx_t;

typedef struct ann {
    uint8_t *seen; /* one byte per property or item of the instance */
    size_t n;
} ann_t;

static bool eval(vctx_t *v, const registry__js_node_t *n, const json_t *inst, ann_t *a);

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
static const char *show(const json_t *j, char *buf, size_t cap)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        snprintf(buf, cap, "\"%.40s%s\"", json_string_value(j),
                 json_string_length(j) > 40 ? "..." : "");
        return buf;
    case JSON_INTEGER:
        snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        return buf;
    case JSON_REAL:
        snprintf(buf, cap, "%.17g", json_real_value(j));
        return buf;
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    default:
        return "null";
    }
}

/* ---- Equality and hashing (numbers by value, objects without order) ---- */

static bool equal_w(const json_t *a, const json_t *b, long *work)
{
    (*work)++;
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        return json_number_value(a) == json_number_value(b);
    }
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               !memcmp(json_string_value(a), json_string_value(b), json_string_length(a));
    case JSON_ARRAY: {
        size_t n = json_array_size(a);
        if (n != json_array_size(b))
            return false;
        for (size_t i = 0; i < n; i++)
            if (!equal_w(json_array_get(a, i), json_array_get(b, i), work))
                return false;
        return true;
    }
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return false;
        const char *k;
        size_t kl;
        json_t *va;
        json_object_keylen_foreach((json_t *)a, k, kl, va)
        {
            json_t *vb = json_object_getn(b, k, kl);
            if (!vb || !equal_w(va, vb, work))
                return false;
        }
        return true;
    }
    default:
        return true;
    }
}

bool registry__js_equal(const json_t *a, const json_t *b)
{
    long work = 0;
    return equal_w(a, b, &work);
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

/* Equal values (registry__js_equal) hash alike. */
static uint64_t value_hash(const json_t *j, long *work)
{
    (*work)++;
    switch (json_typeof(j)) {
    case JSON_INTEGER:
    case JSON_REAL: {
        double d = json_number_value(j);
        if (json_is_integer(j))
            return mix((uint64_t)json_integer_value(j) ^ 0x1);
        if (d == floor(d) && fabs(d) < 9.2e18)
            return mix((uint64_t)(int64_t)d ^ 0x1);
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        return mix(bits ^ 0x2);
    }
    case JSON_STRING:
        return mix(bytes_hash(json_string_value(j), json_string_length(j)) ^ 0x3);
    case JSON_ARRAY: {
        uint64_t h = 0x4;
        for (size_t i = 0; i < json_array_size(j); i++)
            h = mix(h * 31 + value_hash(json_array_get(j, i), work));
        return h;
    }
    case JSON_OBJECT: {
        uint64_t h = 0x5;
        const char *k;
        size_t kl;
        json_t *val;
        json_object_keylen_foreach((json_t *)j, k, kl, val)
        {
            h += mix(bytes_hash(k, kl) * 31 + value_hash(val, work));
        }
        return mix(h);
    }
    case JSON_TRUE:
        return 0x6;
    case JSON_FALSE:
        return 0x7;
    default:
        return 0x8;
    }
}

typedef struct hashed {
    uint64_t h;
    size_t i;
} hashed_t;

static int hashed_cmp(const void *a, const void *b)
{
    const hashed_t *x = a, *y = b;
    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    return x->i < y->i ? -1 : (x->i > y->i);
}

/* Returns 1 when all items differ, 0 when two are equal (their indexes in *i, *j). */
static int all_unique(vctx_t *v, const json_t *arr, size_t *i_out, size_t *j_out)
{
    size_t n = json_array_size(arr);
    if (n < 2)
        return 1;
    hashed_t *h = hd_malloc(n * sizeof *h);
    for (size_t i = 0; i < n; i++)
        h[i] = (hashed_t){value_hash(json_array_get(arr, i), &v->work), i};
    qsort(h, n, sizeof *h, hashed_cmp);
    v->work += (long)n;
    int rc = 1;
    for (size_t i = 0; i < n && rc; i++)
        for (size_t j = i + 1; j < n && h[j].h == h[i].h && rc; j++)
            if (equal_w(json_array_get(arr, h[i].i), json_array_get(arr, h[j].i), &v->work)) {
                *i_out = h[i].i;
                *j_out = h[j].i;
                rc = 0;
            }
    free(h);
    return rc;
}

/* ---- Annotations ---- */

static ann_t ann_new(const json_t *inst)
{
    ann_t a;
    a.n = json_is_object(inst) ? json_object_size(inst) : json_array_size(inst);
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

static uint32_t inst_types(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return REGISTRY__JS_OBJECT;
    case JSON_ARRAY:
        return REGISTRY__JS_ARRAY;
    case JSON_STRING:
        return REGISTRY__JS_STRING;
    case JSON_INTEGER:
        return REGISTRY__JS_NUMBER | REGISTRY__JS_INTEGER;
    case JSON_REAL: {
        double d = json_real_value(j);
        return REGISTRY__JS_NUMBER | (d == floor(d) ? REGISTRY__JS_INTEGER : 0);
    }
    case JSON_TRUE:
    case JSON_FALSE:
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

static bool check_number(vctx_t *v, const registry__js_node_t *n, const json_t *inst)
{
    double x = json_number_value(inst);
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
        if (json_is_integer(inst) && json_is_integer(n->multiple_of_json)) {
            ok = json_integer_value(inst) % json_integer_value(n->multiple_of_json) == 0;
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

static bool check_string(vctx_t *v, const registry__js_node_t *n, const json_t *inst)
{
    const char *s = json_string_value(inst);
    size_t len = json_string_length(inst);
    if (n->min_length >= 0 || n->max_length >= 0) {
        size_t cp = code_points(s, len);
        if (n->min_length >= 0 && cp < (size_t)n->min_length)
            return fail(v, "minLength", "string of %zu characters is shorter than %lld", cp,
                        (long long)n->min_length);
        if (n->max_length >= 0 && cp > (size_t)n->max_length)
            return fail(v, "maxLength", "string of %zu characters is longer than %lld", cp,
                        (long long)n->max_length);
    }
    if (n->pattern.code) {
        v->work += (long)(len / 64);
        int m = registry__js_regex_search(&n->pattern, s, len, v->md);
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

static bool check_array(vctx_t *v, const registry__js_node_t *n, const json_t *inst, ann_t *a)
{
    size_t size = json_array_size(inst);
    if (n->min_items >= 0 && size < (size_t)n->min_items)
        return fail(v, "minItems", "array of %zu items has fewer than %lld", size,
                    (long long)n->min_items);
    if (n->max_items >= 0 && size > (size_t)n->max_items)
        return fail(v, "maxItems", "array of %zu items has more than %lld", size,
                    (long long)n->max_items);
    for (size_t i = 0; i < size && i < n->nprefix; i++) {
        if (!eval(v, n->prefix[i], json_array_get(inst, i), NULL)) {
            ipush_idx(v, i);
            spush_idx(v, i);
            spush(v, n->dialect == REGISTRY__JS_2020 && n->prefix ? "prefixItems" : "items");
            return false;
        }
        mark(a, i);
    }
    if (n->items) {
        for (size_t i = n->nprefix; i < size; i++) {
            if (!eval(v, n->items, json_array_get(inst, i), NULL)) {
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
        for (size_t i = 0; i < size; i++) {
            if (eval(v, n->contains, json_array_get(inst, i), NULL)) {
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
        size_t i = 0, j = 0;
        if (!all_unique(v, inst, &i, &j))
            return fail(v, "uniqueItems", "items %zu and %zu are equal", i, j);
    }
    return true;
}

static bool check_object(vctx_t *v, const registry__js_node_t *n, const json_t *inst, ann_t *a)
{
    size_t size = json_object_size(inst);
    if (n->min_props >= 0 && size < (size_t)n->min_props)
        return fail(v, "minProperties", "object of %zu properties has fewer than %lld", size,
                    (long long)n->min_props);
    if (n->max_props >= 0 && size > (size_t)n->max_props)
        return fail(v, "maxProperties", "object of %zu properties has more than %lld", size,
                    (long long)n->max_props);
    for (size_t i = 0; i < n->nrequired; i++)
        if (!json_object_getn(inst, n->required[i].name, n->required[i].len))
            return fail(v, "required", "required property \"%.60s\" is missing",
                        n->required[i].name);
    for (size_t d = 0; d < n->ndep_required; d++) {
        const registry__js_dep_req_t *dr = &n->dep_required[d];
        if (!json_object_getn(inst, dr->name, dr->len))
            continue;
        for (size_t i = 0; i < dr->nreq; i++)
            if (!json_object_getn(inst, dr->req[i], dr->req_len[i])) {
                return fail(v,
                            n->dialect == REGISTRY__JS_2020 ? "dependentRequired" : "dependencies",
                            "property \"%.60s\" requires property \"%.60s\"", dr->name, dr->req[i]);
            }
    }
    bool per_key = n->nprops || n->npattern_props || n->additional_props || n->property_names;
    if (per_key) {
        size_t i = 0;
        const char *k;
        size_t kl;
        json_t *val;
        json_object_keylen_foreach((json_t *)inst, k, kl, val)
        {
            if (n->property_names) {
                json_t *name = json_stringn_nocheck(k, kl);
                bool ok = eval(v, n->property_names, name, NULL);
                json_decref(name);
                if (!ok) {
                    ipush_key(v, k, kl);
                    spush(v, "propertyNames");
                    return false;
                }
            }
            bool matched = false;
            const registry__js_named_t *p = registry__js_named_find(n->props, n->nprops, k, kl);
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
                int m = registry__js_regex_search(&pp->re, k, kl, v->md);
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
                    fail(v, "additionalProperties", "property \"%.60s\" is not allowed", k);
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
            i++;
        }
    }
    for (size_t d = 0; d < n->ndep_schemas; d++) {
        const registry__js_named_t *ds = &n->dep_schemas[d];
        if (!json_object_getn(inst, ds->name, ds->len))
            continue;
        if (!eval(v, ds->node, inst, a)) {
            spush_key(v, ds->name, ds->len);
            spush(v, n->dialect == REGISTRY__JS_2020 ? "dependentSchemas" : "dependencies");
            return false;
        }
    }
    return true;
}

static bool eval_ref(vctx_t *v, const registry__js_node_t *target, const char *kw,
                     const json_t *inst, ann_t *a)
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

static bool check_applicators(vctx_t *v, const registry__js_node_t *n, const json_t *inst, ann_t *a)
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

static bool check_unevaluated(vctx_t *v, const registry__js_node_t *n, const json_t *inst, ann_t *a)
{
    if (n->unevaluated_items && json_is_array(inst)) {
        for (size_t i = 0; i < json_array_size(inst); i++) {
            if (a->seen[i])
                continue;
            if (n->unevaluated_items->boolean == 0) {
                fail(v, "unevaluatedItems", "item %zu is not allowed", i);
                ipush_idx(v, i);
                return false;
            }
            if (!eval(v, n->unevaluated_items, json_array_get(inst, i), NULL)) {
                ipush_idx(v, i);
                spush(v, "unevaluatedItems");
                return false;
            }
            a->seen[i] = 1;
        }
    }
    if (n->unevaluated_props && json_is_object(inst)) {
        size_t i = 0;
        const char *k;
        size_t kl;
        json_t *val;
        json_object_keylen_foreach((json_t *)inst, k, kl, val)
        {
            if (!a->seen[i]) {
                if (n->unevaluated_props->boolean == 0) {
                    fail(v, "unevaluatedProperties", "property \"%.60s\" is not allowed", k);
                    ipush_key(v, k, kl);
                    return false;
                }
                if (!eval(v, n->unevaluated_props, val, NULL)) {
                    ipush_key(v, k, kl);
                    spush(v, "unevaluatedProperties");
                    return false;
                }
                a->seen[i] = 1;
            }
            i++;
        }
    }
    return true;
}

static bool eval_keywords(vctx_t *v, const registry__js_node_t *n, const json_t *inst, ann_t *a)
{
    char b1[48], b2[96];
    if (n->dialect == REGISTRY__JS_DRAFT7 && n->ref)
        return eval_ref(v, n->ref, "$ref", inst, a);
    uint32_t t = inst_types(inst);
    if (n->has_type && !(n->types & t))
        return fail(v, "type", "%s is not of type %s", show(inst, b1, sizeof b1),
                    type_names(n->types, b2, sizeof b2));
    if (n->has_const && !equal_w(inst, n->const_, &v->work))
        return fail(v, "const", "%s is not the constant value", show(inst, b1, sizeof b1));
    if (n->enum_) {
        bool found = false;
        for (size_t i = 0; i < json_array_size(n->enum_) && !found; i++)
            found = equal_w(inst, json_array_get(n->enum_, i), &v->work);
        if (!found)
            return fail(v, "enum", "%s is not one of the %zu enum values",
                        show(inst, b1, sizeof b1), json_array_size(n->enum_));
    }
    if ((t & REGISTRY__JS_NUMBER) && !check_number(v, n, inst))
        return false;
    if ((t & REGISTRY__JS_STRING) && !check_string(v, n, inst))
        return false;
    if ((t & REGISTRY__JS_ARRAY) && !check_array(v, n, inst, a))
        return false;
    if ((t & REGISTRY__JS_OBJECT) && !check_object(v, n, inst, a))
        return false;
    if (!check_applicators(v, n, inst, a))
        return false;
    /* References last: a cheaper keyword that fails first saves following them (and a schema
     * whose $ref loops back to itself is only a cycle when everything else passes). */
    if (n->ref && !eval_ref(v, n->ref, "$ref", inst, a))
        return false;
    if (n->dynamic_ref && !eval_ref(v, n->dynamic_ref, "$dynamicRef", inst, a))
        return false;
    return true;
}

static bool eval(vctx_t *v, const registry__js_node_t *n, const json_t *inst, ann_t *a)
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
    bool collect = n->collects && (json_is_object(inst) || json_is_array(inst));
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

static int validate_node(const registry_jsonschema_t *s, const registry__js_node_t *n,
                         const json_t *instance, registry_error_t *err)
{
    /* The segment stacks are large and only read after a failure: leave them uninitialised. */
    vctx_t *v = hd_malloc(sizeof *v);
    memset(v, 0, offsetof(vctx_t, refs));
    v->nrefs = 0;
    v->ipath.n = v->spath.n = 0;
    v->ipath.truncated = v->spath.truncated = false;
    v->s = s;
    v->err = err;
    if (err)
        memset(err, 0, sizeof *err);
    if (s->ncodes) {
        v->md = pcre2_match_data_create(1, NULL);
        HD_ASSERT(v->md);
    }
    bool ok = eval(v, n, instance, NULL);
    int rc = ok ? 0 : (v->rc ? v->rc : HD_EINVAL);
    if (!ok && err) {
        render_path(&v->ipath, err->instance_path, sizeof err->instance_path, "");
        render_path(&v->spath, err->schema_path, sizeof err->schema_path, "#");
    }
    pcre2_match_data_free(v->md);
    free(v);
    return rc;
}

int registry__js_validate_at(const registry_jsonschema_t *s, const registry__js_node_t *n,
                             const json_t *inst)
{
    return validate_node(s, n, inst, NULL);
}

int registry_jsonschema_validate(const registry_jsonschema_t *s, const json_t *instance,
                                 registry_error_t *err)
{
    return validate_node(s, s->root, instance, err);
}
