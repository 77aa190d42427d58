/* Checking JSON text against a compiled schema while it is parsed, for validation on produce.
 *
 * Most payloads are valid, and most payload schemas only say what members an object has and
 * what each value looks like. For those, this pass reads the text once and checks each value as
 * soon as it is read, with no document: an object's members are looked up in the node's
 * property slots as their keys are read, each member's value is checked against its property's
 * schema (or additionalProperties) as it is parsed, and `required`, minProperties and
 * maxProperties are checked at the closing brace; an array's items likewise (prefixItems or a
 * tuple, then items; minItems and maxItems at the bracket). Scalars are handed to the
 * pass-or-fail walk (jsonschema_fast.c), which takes any keyword on a scalar. The work and depth
 * are counted as that walk counts them.
 *
 * It answers only "passes", and only when it is sure: text it does not read as the flat parser
 * would (not JSON, or a case left to jansson), a duplicate key in an object whose members are
 * checked (jansson keeps the last value), and, on an object or array, keywords that need the
 * whole value at once (applicators, $ref next to other keywords, enum and const, contains,
 * uniqueItems, patternProperties, propertyNames, dependencies, unevaluated*) make it decline;
 * a failing value stops it. In every case but "passes" the caller validates the usual way
 * (flat document, pass-or-fail walk, full walk), which gives the answer and its message, so
 * answers and messages are exactly those of the walks. The differential checks of the walks
 * (jsonschema_tool, the jsonschema_text fuzz target) go through this pass first too. */
#include "registry/jsonschema_scan.h"
#include "registry/registry_int.h"
#include "util/mem.h"

enum { S_DECLINE = -1, S_FAIL = 0, S_PASS = 1 };

/* Open objects and arrays this pass follows; deeper text is declined (the flat document and
 * the walks take it, up to REGISTRY__JDOC_MAX_DEPTH). The pass recurses per level, and its
 * frames are large (sanitizer builds make them kilobytes), so this bound, well under the
 * document's, keeps its stack use small on any thread. */
#define S_MAX_DEPTH 64

/* Bytes in memory order: the mask of a word's first k bytes. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define FIRST(k) ((k) >= 8 ? ~0ULL : ~(~0ULL >> (8 * ((k)&7))))
#else
#define FIRST(k) ((k) >= 8 ? ~0ULL : (1ULL << (8 * ((k)&7))) - 1)
#endif
#define KEY_MASK(k)                                                                                \
    {                                                                                              \
        FIRST(k), FIRST((k) > 8 ? (k)-8 : 0)                                                       \
    }
const uint64_t registry__js_key_masks[17][2] = {
    KEY_MASK(0),  KEY_MASK(1),  KEY_MASK(2),  KEY_MASK(3),  KEY_MASK(4),  KEY_MASK(5),
    KEY_MASK(6),  KEY_MASK(7),  KEY_MASK(8),  KEY_MASK(9),  KEY_MASK(10), KEY_MASK(11),
    KEY_MASK(12), KEY_MASK(13), KEY_MASK(14), KEY_MASK(15), KEY_MASK(16),
};
#undef KEY_MASK
#undef FIRST

/* Keywords on an object or array that need the whole value at once. */
#define S_WHOLE                                                                                    \
    (REGISTRY__JS_P_SLOW | REGISTRY__JS_P_APPLY | REGISTRY__JS_P_VALUES | REGISTRY__JS_P_REF)

typedef struct sctx {
    registry__js_vctx_t *v;
    pstate_t ps;  /* the text; ps.d lends the string buffer */
    size_t nkeys; /* keys of the open checked objects, on ps.d->v */
    int depth;    /* open objects and arrays */
} sctx_t;

/* A value against n (NULL: anything); a scalar is also copied to *keep when keep is set. */
static int value(sctx_t *s, const registry__js_node_t *n, registry__jv_t *keep);
static inline __attribute__((always_inline)) int scalar_at(sctx_t *s, const registry__js_node_t *n,
                                                           registry__jv_t *keep);

/* The string keywords of node n (plan bit STRING), as check_string in jsonschema_fast.c. */
static inline __attribute__((always_inline)) bool
string_ok(registry__js_vctx_t *v, const registry__js_node_t *n, const registry__jv_t *jv)
{
    const char *str = jv->u.s;
    size_t len = jv->n;
    if (n->min_length >= 0 || n->max_length >= 0) {
        size_t cp = len;
        if (!jv->ascii)
            for (size_t i = cp = 0; i < len; i++)
                cp += ((uint8_t)str[i] & 0xC0) != 0x80;
        if ((n->min_length >= 0 && cp < (size_t)n->min_length) ||
            (n->max_length >= 0 && cp > (size_t)n->max_length))
            return false;
    }
    if (n->pattern.code) {
        v->work += (long)(len / 64);
        const registry__js_simple_t *re = n->pattern.simple;
        int m;
        if (re && re->by_pos && jv->ascii && len <= REGISTRY__JS_SIMPLE_MAX_SUBJECT) {
            m = registry__js_simple_match_pos(re, str, len); /* inline, without a call */
        } else {
            m = re && jv->ascii && len <= REGISTRY__JS_SIMPLE_MAX_SUBJECT
                    ? registry__js_simple_match(re, str, len)
                    : registry__js_regex_search_utf8(&n->pattern, str, len, v->md);
        }
        if (m < 0) {
            v->rc = HD_ERANGE; /* the full walk reports the limit */
            return false;
        }
        if (!m)
            return false;
    }
    return !(n->format && (v->s->flags & REGISTRY_JSONSCHEMA_FORMAT_ASSERT) &&
             !registry__js_format_check(n->format, str, len));
}

/* A scalar against n (NULL: anything). The plans marked inline (plan_inline) are evaluated
 * here, as the pass-or-fail walk's node evaluation (feval) evaluates them, with its accounting
 * of work; any other plan, and an evaluation at a bound, goes to that evaluation. */
static inline __attribute__((always_inline)) int scalar(sctx_t *s, const registry__js_node_t *n,
                                                        const registry__jv_t *jv)
{
    if (!n)
        return S_PASS;
    registry__js_vctx_t *v = s->v;
    uint32_t hops = n->plan_hops;
    const registry__js_node_t *t = hops ? n->plan_target : n;
    /* v->rc is never set here: whatever sets it makes this check decline at once. The work
     * bound is checked once, at the end of the text (registry__js_stream_check): work only
     * grows, so it is over the bound there exactly when an evaluation here would have been. */
    if (!(t->plan_inline >> jv->kind & 1) || v->depth + hops >= REGISTRY_JSONSCHEMA_MAX_DEPTH ||
        v->nrefs + hops >= HD_ARRAY_LEN(v->refs)) {
        if (registry__js_feval(v, n, jv))
            return S_PASS;
        return registry__js_fabandoned(v) ? S_DECLINE : S_FAIL;
    }
    v->work += hops + 1;
    unsigned p = t->plan[jv->kind];
    if (!p)
        return S_PASS;
    if (p & REGISTRY__JS_P_FAIL)
        return S_FAIL;
    if ((p & REGISTRY__JS_P_INTEGRAL) &&
        !(fabs(jv->u.d) >= 0x1p53 || jv->u.d == (double)(int64_t)jv->u.d))
        return S_FAIL;
    if (p & REGISTRY__JS_P_VALUES) { /* enum, on a string */
        const registry__jv_t *e = t->enum_v + 1;
        bool found = false;
        for (size_t i = 0; i < t->enum_v->n && !found; i++, e += e->skip) {
            v->work++;
            found = e->kind == REGISTRY__JV_STRING && e->n == jv->n &&
                    registry__bytes_equal(e->u.s, jv->u.s, jv->n);
        }
        if (!found)
            return S_FAIL;
    }
    if (p & REGISTRY__JS_P_NUMBER) { /* the bounds (no multipleOf) */
        double x = jv->kind == REGISTRY__JV_INT ? (double)jv->u.i : jv->u.d;
        const registry__js_bound_t *lo = &t->minimum, *hi = &t->maximum;
        if (lo->set && (lo->exclusive ? !(x > lo->v) : !(x >= lo->v)))
            return S_FAIL;
        if (hi->set && (hi->exclusive ? !(x < hi->v) : !(x <= hi->v)))
            return S_FAIL;
    }
    if ((p & REGISTRY__JS_P_STRING) && !string_ok(v, t, jv))
        return v->rc ? S_DECLINE : S_FAIL;
    return S_PASS;
}

/* Whether the open object whose keys start at `base` has a member named (k, kl). */
static bool has_key(const sctx_t *s, size_t base, const char *k, size_t kl)
{
    const registry__jv_t *keys = s->ps.d->v;
    for (size_t i = base; i < s->nkeys; i++)
        if (keys[i].n == kl && registry__bytes_equal(keys[i].u.s, k, kl))
            return true;
    return false;
}

/* The node a member applies, found by its key (pushed on the key stack): its property's, else
 * additionalProperties (NULL: none). Sets *dup for a repeated key: a property's by its `have`
 * mark, any other key through the object's 128-bit filter and, on a hit, the keys so far. */
static const registry__js_node_t *member_node(sctx_t *s, const registry__js_node_t *n, size_t base,
                                              uint64_t filter[2], uint8_t *have, bool *dup)
{
    registry__jv_t *key = &s->ps.d->v[s->nkeys];
    uint32_t h = (uint32_t)registry__js_key_hash(key->u.s, key->n);
    *dup = false;
    uint32_t at = n->nprops ? registry__js_prop_slot(n, key->u.s, key->n, h) : 0;
    if (at) {
        *dup = have[at - 1];
        have[at - 1] = 1;
        s->nkeys++;
        return n->props[at - 1].node;
    }
    unsigned bit = h & 127;
    uint64_t m = 1ULL << (bit & 63);
    *dup = (filter[bit >> 6] & m) && has_key(s, base, key->u.s, key->n);
    filter[bit >> 6] |= m;
    s->nkeys++;
    return n->additional_props;
}

/* The slot of n's key_slots for the plain key (k, kl) of 1 to 16 bytes (16 readable at k),
 * or NULL when no plain short property has that name. The slot `guess` is tried first, then
 * set to the slot of the property `properties` lists next (or the chain's end). */
static inline const registry__js_key_slot_t *key_slot(const registry__js_node_t *n, const char *k,
                                                      size_t kl,
                                                      const registry__js_key_slot_t **guess)
{
    uint64_t w[2];
    registry__js_key_words(k, kl, w);
    const registry__js_key_slot_t *ks = *guess;
    if (ks->w[0] != w[0] || ks->w[1] != w[1]) {
        for (uint32_t h = registry__js_key_words_hash(w);; h++) {
            ks = &n->key_slots[h & n->key_mask];
            if (ks->w[0] == w[0] && ks->w[1] == w[1])
                break;
            if (!ks->idx)
                return NULL;
        }
    }
    *guess = &n->key_slots[ks->next];
    return ks;
}

/* After the closing brace: the counts and `required`. */
static bool object_done(const sctx_t *s, const registry__js_node_t *n, size_t base, uint32_t count,
                        const uint8_t *have)
{
    if ((n->min_props >= 0 && count < (uint64_t)n->min_props) ||
        (n->max_props >= 0 && count > (uint64_t)n->max_props))
        return false;
    const int32_t *rq = n->nprops ? n->required_prop : NULL;
    if (rq && n->required_in_props) {
        /* Present bits only: one pass without a branch per name. */
        uint8_t all = 1;
        for (size_t i = 0; i < n->nrequired; i++)
            all &= have[rq[i]];
        return all;
    }
    for (size_t i = 0; i < n->nrequired; i++) {
        int32_t rp = rq ? rq[i] : -1;
        if (rp >= 0 ? !have[rp] : !has_key(s, base, n->required[i].name, n->required[i].len))
            return false;
    }
    return true;
}

/* An object or an array (at its opening character) against n (NULL: anything). */
static inline __attribute__((always_inline)) int container(sctx_t *s, const registry__js_node_t *n0,
                                                           const bool obj)
{
    const registry__js_node_t *n = NULL;
    uint32_t hops = 0;
    unsigned plan = 0;
    if (n0) {
        n = registry__js_fenter(s->v, n0, &hops);
        if (!n)
            return S_DECLINE;
        plan = n->plan[obj ? REGISTRY__JV_OBJECT : REGISTRY__JV_ARRAY];
        int rc = S_PASS;
        if (plan & S_WHOLE)
            rc = S_DECLINE;
        else if (plan & REGISTRY__JS_P_FAIL)
            rc = S_FAIL;
        else if (obj && (plan & REGISTRY__JS_P_OBJECT) &&
                 (n->nprops > REGISTRY__JS_LOOKUP_MAX_PROPS || n->ndep_required ||
                  n->property_names || n->npattern_props || n->ndep_schemas))
            rc = S_DECLINE;
        else if (!obj && (plan & REGISTRY__JS_P_ARRAY) && n->contains)
            rc = S_DECLINE;
        if (rc != S_PASS) {
            registry__js_fleave(s->v, hops);
            return rc;
        }
    }
    bool checked = plan & (obj ? REGISTRY__JS_P_OBJECT : REGISTRY__JS_P_ARRAY);
    /* uniqueItems: the items (scalars only) are kept on the key stack after an array node, as
     * a flat document would hold them, for the walk's check at the bracket. */
    registry__jv_t *arr = NULL;
    if (checked && !obj && n->unique_items) {
        arr = &s->ps.d->v[s->nkeys++];
        arr->kind = REGISTRY__JV_ARRAY;
    }
    uint8_t have[REGISTRY__JS_LOOKUP_MAX_PROPS];
    uint64_t filter[2] = {0, 0};
    if (checked && obj && n->nprops)
        memset(have, 0, n->nprops);
    size_t base = s->nkeys;
    uint32_t count = 0;
    const registry__js_key_slot_t *guess =
        checked && obj && n->key_slots ? &n->key_slots[n->key_first] : NULL;
    const uint8_t *end = s->ps.end;
    const uint8_t *p = skip_ws(s->ps.p + 1, end);
    int rc = S_PASS;
    if (p < end && *p == (obj ? '}' : ']')) {
        p++;
        goto close;
    }
    for (;;) {
        const registry__js_node_t *sub = NULL;
        if (obj) {
            if (p == end || *p != '"') {
                rc = S_DECLINE;
                break;
            }
            s->ps.p = p;
            if (checked && n->key_slots) {
                /* A plain key of up to 16 bytes: its property from its words. */
                const uint8_t *k = p + 1, *q = plain_run(k, end);
                size_t kl = (size_t)(q - k);
                if (q < end && *q == '"' && kl - 1 < 16 && end - k >= 16) {
                    const registry__js_key_slot_t *ks = key_slot(n, (const char *)k, kl, &guess);
                    if (ks) {
                        if (have[ks->idx - 1]) {
                            rc = S_DECLINE; /* jansson keeps the last value: the walks decide */
                            break;
                        }
                        have[ks->idx - 1] = 1;
                        sub = ks->node;
                        if (end - q > 2 && q[1] == ':' && q[2] > ' ') {
                            /* Compact text: the value right after the colon. */
                            s->ps.p = p = q + 2;
                            goto value_at;
                        }
                        p = skip_ws(q + 1, end);
                        goto colon;
                    }
                }
            }
            registry__jv_t key;
            if (parse_string(&s->ps, checked ? &s->ps.d->v[s->nkeys] : &key) < 0) {
                rc = S_DECLINE;
                break;
            }
            if (checked) {
                bool dup;
                sub = member_node(s, n, base, filter, have, &dup);
                if (dup) {
                    rc = S_DECLINE; /* jansson keeps the last value: the walks decide */
                    break;
                }
            }
            p = skip_ws(s->ps.p, end);
        colon:
            if (p == end || *p != ':') {
                rc = S_DECLINE;
                break;
            }
            s->ps.p = p + 1;
        } else {
            s->ps.p = p;
            if (checked)
                sub = count < n->nprefix ? n->prefix[count] : n->items;
            if (arr && (p == end || *p == '{' || *p == '[')) {
                rc = S_DECLINE; /* unique containers: the walks decide */
                break;
            }
        }
        p = skip_ws(s->ps.p, end);
    value_at:
        if (p < end && *p != '{' && *p != '[') {
            s->ps.p = p;
            rc = scalar_at(s, sub, arr ? &s->ps.d->v[s->nkeys] : NULL);
        } else {
            rc = value(s, sub, NULL); /* a container (unique items refused it above) */
        }
        if (arr)
            s->nkeys++;
        if (rc != S_PASS)
            break;
        count++;
        p = skip_ws(s->ps.p, end);
        if (p < end && *p == ',') {
            p = skip_ws(p + 1, end);
            continue;
        }
        if (p == end || *p != (obj ? '}' : ']'))
            rc = S_DECLINE;
        else
            p++;
        break;
    }
close:
    if (rc == S_PASS && checked) {
        bool ok = obj ? object_done(s, n, base, count, have)
                      : !((n->min_items >= 0 && count < (uint64_t)n->min_items) ||
                          (n->max_items >= 0 && count > (uint64_t)n->max_items));
        if (ok && arr) {
            arr->n = count;
            arr->skip = count + 1;
            ok = registry__js_funique(s->v, arr);
            if (!ok && registry__js_fabandoned(s->v))
                rc = S_DECLINE;
        }
        if (rc == S_PASS)
            rc = ok ? S_PASS : S_FAIL;
    }
    s->ps.p = p;
    s->nkeys = base;
    if (n)
        registry__js_fleave(s->v, hops);
    return rc;
}

/* A scalar at s->ps.p (not whitespace) against n; copied to *keep when keep is set. Inlined
 * into the member and item loop: most values are scalars. */
static inline __attribute__((always_inline)) int scalar_at(sctx_t *s, const registry__js_node_t *n,
                                                           registry__jv_t *keep)
{
    const uint8_t *p = s->ps.p, *end = s->ps.end;
    registry__jv_t local, *jv = keep ? keep : &local;
    jv->n = 0;
    jv->skip = 1;
    jv->ascii = false;
    switch (*p) {
    case '"':
        if (parse_string(&s->ps, jv) < 0)
            return S_DECLINE;
        break;
    case 't':
        if (end - p < 4 || memcmp(p, "true", 4))
            return S_DECLINE;
        s->ps.p = p + 4;
        jv->kind = REGISTRY__JV_TRUE;
        break;
    case 'f':
        if (end - p < 5 || memcmp(p, "false", 5))
            return S_DECLINE;
        s->ps.p = p + 5;
        jv->kind = REGISTRY__JV_FALSE;
        break;
    case 'n':
        if (end - p < 4 || memcmp(p, "null", 4))
            return S_DECLINE;
        s->ps.p = p + 4;
        jv->kind = REGISTRY__JV_NULL;
        break;
    default:
        if (parse_number(&s->ps, jv) < 0)
            return S_DECLINE;
    }
    return scalar(s, n, jv);
}

/* The two forms of container(), each compiled for its kind. */
static int object(sctx_t *s, const registry__js_node_t *n) { return container(s, n, true); }
static int array(sctx_t *s, const registry__js_node_t *n) { return container(s, n, false); }

static int value(sctx_t *s, const registry__js_node_t *n, registry__jv_t *keep)
{
    const uint8_t *p = skip_ws(s->ps.p, s->ps.end);
    if (p == s->ps.end)
        return S_DECLINE;
    s->ps.p = p;
    if (*p != '{' && *p != '[')
        return scalar_at(s, n, keep);
    if (s->depth == S_MAX_DEPTH)
        return S_DECLINE;
    s->depth++;
    int rc = *p == '{' ? object(s, n) : array(s, n);
    s->depth--;
    return rc;
}

int registry__js_stream_check(registry__js_vctx_t *v, const registry__js_node_t *root,
                              registry__jdoc_t *d, const char *text, size_t len)
{
    /* The key stack and decoded strings fit in what the flat parser would take. */
    if (registry__jdoc_reserve(d, len) < 0)
        return S_DECLINE;
    const uint8_t *p = (const uint8_t *)text;
    sctx_t s = {v, {d, p, p + len, 0}, 0, 0};
    int rc = value(&s, root, NULL);
    if (rc != S_PASS)
        return rc;
    if (v->work > REGISTRY_JSONSCHEMA_MAX_WORK)
        return S_DECLINE; /* an inline evaluation went over the bound (see scalar()) */
    return skip_ws(s.ps.p, s.ps.end) == s.ps.end ? S_PASS : S_DECLINE;
}
