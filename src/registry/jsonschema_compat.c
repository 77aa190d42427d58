/* JSON Schema compatibility: decides whether every instance valid under a writer schema is also
 * valid under a reader schema, by comparing the two compiled node graphs keyword by keyword.
 *
 * BACKWARD compares old (writer) with new (reader); FORWARD new with old; FULL does both. The
 * question is undecidable in general (patterns, oneOf), so the rules are conservative: each one
 * below proves a part of the inclusion, and a change no rule can prove is reported. Constraints
 * of the writer may always be ignored (that only makes the writer larger), never those of the
 * reader. The rule table with examples is docs/jsonschema-compat.md:
 *
 *   - types: the writer's types must all be reader types (integer fits number);
 *   - enum/const: a writer with enum or const is exact: each of its values must validate
 *     against the reader; a reader enum or const needs a writer enum or const;
 *   - bounds (minimum, maximum, exclusive forms, minLength, maxLength, minItems, maxItems,
 *     minProperties, maxProperties, minContains, maxContains) may only widen; a reader
 *     multipleOf must divide the writer's; a reader pattern (and, with format assertion, a
 *     format) must be the writer's, character for character; uniqueItems may only go;
 *   - objects: a property required by the reader must be required by the writer, unless the
 *     reader gives it a default; each property is compared with the schema the other side
 *     applies to that name (its properties entry, matching patternProperties, else
 *     additionalProperties, else anything), so adding a property to an open content model
 *     and removing one from a closed model are both caught; dependencies may only go;
 *   - arrays: every position (prefixItems or tuple items, then items) is compared likewise;
 *   - applicators: $ref is followed on both sides (a pair already being compared is assumed
 *     to hold, which ends cycles); reader allOf needs every branch; reader anyOf/oneOf needs
 *     each writer branch (or the writer) inside one reader branch; a reader not needs the
 *     writer's not to cover it; a reader if/then/else needs the writer inside both branches or
 *     an identical conditional. Writer combinators are used when they help: writer anyOf
 *     branches one by one, one writer allOf branch or $ref target inside the reader. */
#include "registry/registry_int.h"
#include "util/err.h"
#include "util/mem.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define COMPAT_MAX_DEPTH 64
#define COMPAT_MAX_WORK 200000

void registry_compat_msgs_init(registry_compat_msgs_t *m) { memset(m, 0, sizeof *m); }

void registry_compat_msgs_add(registry_compat_msgs_t *m, const char *fmt, ...)
{
    if (!m)
        return;
    if (m->n == REGISTRY_COMPAT_MAX_MSGS) {
        m->dropped++;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->msg[m->n++], REGISTRY_COMPAT_MSG_MAX, fmt, ap);
    va_end(ap);
}

typedef const registry__js_node_t node_t;

typedef struct pair {
    node_t *w, *r;
} pair_t;

typedef struct cctx {
    const registry_jsonschema_t *reader; /* for validating writer values under the reader */
    registry_compat_msgs_t *msgs;        /* NULL while trying a rule quietly */
    const char *dir;
    bool ok;
    long work;
    pair_t stack[COMPAT_MAX_DEPTH];
    size_t depth;
    char path[REGISTRY_COMPAT_MSG_MAX];
    size_t plen;
} cctx_t;

static bool check(cctx_t *c, node_t *w, node_t *r);

static void bad(cctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void bad(cctx_t *c, const char *fmt, ...)
{
    c->ok = false;
    if (!c->msgs)
        return;
    char what[REGISTRY_COMPAT_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    registry_compat_msgs_add(c->msgs, "%s: #%s: %s", c->dir, c->path, what);
}

/* Appends "/seg" (escaped) to the path; returns the old length for path_pop. */
static size_t path_push(cctx_t *c, const char *seg, size_t len)
{
    size_t old = c->plen;
    if (c->plen + 2 >= sizeof c->path)
        return old;
    c->path[c->plen++] = '/';
    for (size_t i = 0; i < len && c->plen + 3 < sizeof c->path; i++) {
        char ch = seg[i];
        if (ch == '~' || ch == '/') {
            c->path[c->plen++] = '~';
            c->path[c->plen++] = ch == '~' ? '0' : '1';
        } else {
            c->path[c->plen++] = ch ? ch : '?';
        }
    }
    c->path[c->plen] = '\0';
    return old;
}

static void path_pop(cctx_t *c, size_t old)
{
    c->plen = old;
    c->path[old] = '\0';
}

static bool check_at(cctx_t *c, node_t *w, node_t *r, const char *kw, const char *key, size_t klen,
                     long idx)
{
    size_t old = path_push(c, kw, strlen(kw));
    if (key)
        path_push(c, key, klen);
    if (idx >= 0) {
        char num[24];
        snprintf(num, sizeof num, "%ld", idx);
        path_push(c, num, strlen(num));
    }
    bool ok = check(c, w, r);
    path_pop(c, old);
    return ok;
}

/* Runs a rule without reporting; returns whether it held. */
static bool quietly(cctx_t *c, node_t *w, node_t *r)
{
    registry_compat_msgs_t *m = c->msgs;
    bool ok = c->ok;
    c->msgs = NULL;
    c->ok = true;
    bool held = check(c, w, r);
    c->msgs = m;
    c->ok = ok;
    return held;
}

/* The schema that accepts everything, for what a side leaves unconstrained. */
static node_t *any_node(void)
{
    static registry__js_node_t n = {.boolean = 1,
                                    .types = REGISTRY__JS_ALL,
                                    .min_length = -1,
                                    .max_length = -1,
                                    .min_items = -1,
                                    .max_items = -1,
                                    .min_props = -1,
                                    .max_props = -1,
                                    .min_contains = 1,
                                    .max_contains = -1};
    return &n;
}

static bool has_assertions(node_t *n)
{
    return n->has_type || n->enum_ || n->has_const || n->minimum.set || n->maximum.set ||
           n->multiple_of > 0 || n->min_length >= 0 || n->max_length >= 0 || n->pattern.code ||
           n->nprefix || n->items || n->contains || n->min_items >= 0 || n->max_items >= 0 ||
           n->unique_items || n->unevaluated_items || n->nprops || n->npattern_props ||
           n->additional_props || n->property_names || n->unevaluated_props || n->nrequired ||
           n->min_props >= 0 || n->max_props >= 0 || n->ndep_required || n->ndep_schemas ||
           (n->format != NULL);
}

static bool has_applicators(node_t *n)
{
    return n->ref || n->dynamic_ref || n->nall_of || n->nany_of || n->none_of || n->not_ || n->if_;
}

/* Accepts everything: true, {}, or only annotations. */
static bool trivial(node_t *n)
{
    if (n->boolean >= 0)
        return n->boolean == 1;
    return !has_assertions(n) && !has_applicators(n);
}

static node_t *or_any(node_t *n) { return n ? n : any_node(); }

static const json_t *json_of(node_t *n) { return n ? n->json : json_true(); }

static const char *type_list(uint32_t t, char *buf, size_t cap)
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

/* ---- Scalars ---- */

/* Is the writer's lower (upper) bound at least as tight as the reader's? */
static bool bound_within(const registry__js_bound_t *w, const registry__js_bound_t *r, bool lower)
{
    if (!r->set)
        return true;
    if (!w->set)
        return false;
    if (w->v != r->v)
        return lower ? w->v > r->v : w->v < r->v;
    return !r->exclusive || w->exclusive;
}

static void check_numbers(cctx_t *c, node_t *w, node_t *r)
{
    if (!bound_within(&w->minimum, &r->minimum, true))
        bad(c, "%s %s: the reader's lower bound %.17g is above the writer's",
            r->minimum.exclusive ? "exclusiveMinimum" : "minimum",
            w->minimum.set ? "raised" : "added", r->minimum.v);
    if (!bound_within(&w->maximum, &r->maximum, false))
        bad(c, "%s %s: the reader's upper bound %.17g is below the writer's",
            r->maximum.exclusive ? "exclusiveMaximum" : "maximum",
            w->maximum.set ? "lowered" : "added", r->maximum.v);
    if (r->multiple_of > 0) {
        double q = w->multiple_of > 0 ? w->multiple_of / r->multiple_of : 0.5;
        if (!(q >= 1 && fabs(q - nearbyint(q)) < 1e-9))
            bad(c, "multipleOf %s: %.17g does not divide the writer's values",
                w->multiple_of > 0 ? "changed" : "added", r->multiple_of);
    }
}

static void check_strings(cctx_t *c, node_t *w, node_t *r)
{
    int64_t wmin = w->min_length >= 0 ? w->min_length : 0;
    if (r->min_length > wmin)
        bad(c, "minLength raised to %lld", (long long)r->min_length);
    if (r->max_length >= 0 && (w->max_length < 0 || w->max_length > r->max_length))
        bad(c, "maxLength %s to %lld", w->max_length >= 0 ? "lowered" : "added",
            (long long)r->max_length);
    if (r->pattern.code && (!w->pattern.code || strcmp(w->pattern.src, r->pattern.src)))
        bad(c, "pattern %s: \"%.80s\"", w->pattern.code ? "changed" : "added", r->pattern.src);
    if (r->format && (c->reader->flags & REGISTRY_JSONSCHEMA_FORMAT_ASSERT) &&
        (!w->format || strcmp(w->format, r->format)))
        bad(c, "format %s: \"%.40s\"", w->format ? "changed" : "added", r->format);
}

/* ---- Arrays ---- */

static void check_arrays(cctx_t *c, node_t *w, node_t *r)
{
    int64_t wmin = w->min_items >= 0 ? w->min_items : 0;
    if (r->min_items > wmin)
        bad(c, "minItems raised to %lld", (long long)r->min_items);
    if (r->max_items >= 0 && (w->max_items < 0 || w->max_items > r->max_items))
        bad(c, "maxItems %s to %lld", w->max_items >= 0 ? "lowered" : "added",
            (long long)r->max_items);
    if (r->unique_items && !w->unique_items && !(w->max_items >= 0 && w->max_items <= 1))
        bad(c, "uniqueItems added");
    /* Position by position, then the rest. A writer with items: false has no rest. */
    bool w_closed = w->items && w->items->boolean == 0;
    size_t n = w->nprefix > r->nprefix ? w->nprefix : r->nprefix;
    for (size_t i = 0; i < n; i++) {
        if (w->max_items >= 0 && (int64_t)i >= w->max_items)
            break;
        if (i >= w->nprefix && w_closed)
            break;
        node_t *wi = i < w->nprefix ? w->prefix[i] : or_any(w->items);
        node_t *ri = i < r->nprefix ? r->prefix[i] : r->items;
        if (!ri && r->unevaluated_items)
            ri = r->unevaluated_items;
        if (ri)
            check_at(c, wi, ri, i < r->nprefix ? "prefixItems" : "items", NULL, 0, (long)i);
    }
    node_t *r_rest = r->items ? r->items : r->unevaluated_items;
    if (r_rest && !w_closed && !(w->max_items >= 0 && (size_t)w->max_items <= n)) {
        node_t *w_rest = w->items ? w->items : or_any(w->unevaluated_items);
        check_at(c, w_rest, r_rest, r->items ? "items" : "unevaluatedItems", NULL, 0, -1);
    }
    if (r->contains && r->min_contains > 0) {
        if (!w->contains || w->min_contains < r->min_contains)
            bad(c, "contains %s", w->contains ? "now needs more matching items" : "added");
        else
            check_at(c, w->contains, r->contains, "contains", NULL, 0, -1);
    }
    if (r->contains && r->max_contains >= 0) {
        if (!w->contains || w->max_contains < 0 || w->max_contains > r->max_contains ||
            !quietly(c, r->contains, w->contains))
            bad(c, "maxContains %s to %lld", w->max_contains >= 0 ? "lowered" : "added",
                (long long)r->max_contains);
    }
}

/* ---- Objects ---- */

static bool name_in(const registry__js_named_t *v, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].len == len && !memcmp(v[i].name, name, len))
            return true;
    return false;
}

static bool is_closed(node_t *n)
{
    return n->additional_props && n->additional_props->boolean == 0 && !n->npattern_props;
}

/* The one schema a (writer) side gives a property name: its properties entry, else the first
 * matching patternProperties entry, else additionalProperties, else anything. */
static node_t *writer_schema_for(node_t *w, const char *name, size_t len)
{
    const registry__js_named_t *p = registry__js_named_find(w->props, w->nprops, name, len);
    if (p)
        return p->node;
    for (size_t i = 0; i < w->npattern_props; i++)
        if (registry__js_regex_search(&w->pattern_props[i].re, name, len, NULL) == 1)
            return w->pattern_props[i].node;
    if (w->additional_props)
        return w->additional_props;
    return or_any(w->unevaluated_props);
}

/* Compares the writer's schema for `name` with every schema the reader applies to it. */
static void check_property(cctx_t *c, node_t *w, node_t *r, const char *name, size_t len)
{
    node_t *ws = writer_schema_for(w, name, len);
    bool in_w = registry__js_named_find(w->props, w->nprops, name, len) != NULL;
    const registry__js_named_t *rp = registry__js_named_find(r->props, r->nprops, name, len);
    bool covered = rp != NULL;
    if (rp && !quietly(c, ws, rp->node)) {
        if (!in_w && trivial(ws))
            bad(c,
                "property \"%.60s\" added to an open content model: writers may send any "
                "value for it",
                name);
        else
            check_at(c, ws, rp->node, "properties", name, len, -1);
    }
    for (size_t i = 0; i < r->npattern_props; i++) {
        const registry__js_pattern_prop_t *pp = &r->pattern_props[i];
        if (registry__js_regex_search(&pp->re, name, len, NULL) != 1)
            continue;
        covered = true;
        check_at(c, ws, pp->node, "patternProperties", pp->re.src, strlen(pp->re.src), -1);
    }
    if (covered)
        return;
    node_t *rest = r->additional_props ? r->additional_props : r->unevaluated_props;
    if (!rest || quietly(c, ws, rest))
        return;
    if (in_w && rest->boolean == 0)
        bad(c, "property \"%.60s\" removed from a closed content model", name);
    else
        check_at(c, ws, rest,
                 r->additional_props ? "additionalProperties" : "unevaluatedProperties", NULL, 0,
                 -1);
}

static bool has_default(node_t *r, const char *name, size_t len)
{
    const registry__js_named_t *p = registry__js_named_find(r->props, r->nprops, name, len);
    return p && p->node->boolean < 0 && json_object_get(p->node->json, "default");
}

static void check_objects(cctx_t *c, node_t *w, node_t *r)
{
    int64_t wmin = w->min_props >= 0 ? w->min_props : 0;
    if (r->min_props > wmin)
        bad(c, "minProperties raised to %lld", (long long)r->min_props);
    if (r->max_props >= 0 && (w->max_props < 0 || w->max_props > r->max_props))
        bad(c, "maxProperties %s to %lld", w->max_props >= 0 ? "lowered" : "added",
            (long long)r->max_props);
    for (size_t i = 0; i < r->nrequired; i++) {
        const registry__js_named_t *q = &r->required[i];
        if (!name_in(w->required, w->nrequired, q->name, q->len) &&
            !has_default(r, q->name, q->len))
            bad(c, "required property \"%.60s\" added without a default", q->name);
    }
    for (size_t i = 0; i < r->ndep_required; i++) {
        const registry__js_dep_req_t *rd = &r->dep_required[i];
        const registry__js_dep_req_t *wd = NULL;
        for (size_t j = 0; j < w->ndep_required; j++)
            if (w->dep_required[j].len == rd->len &&
                !memcmp(w->dep_required[j].name, rd->name, rd->len))
                wd = &w->dep_required[j];
        for (size_t k = 0; k < rd->nreq; k++) {
            bool have = name_in(w->required, w->nrequired, rd->req[k], rd->req_len[k]);
            for (size_t j = 0; wd && j < wd->nreq && !have; j++)
                have = wd->req_len[j] == rd->req_len[k] &&
                       !memcmp(wd->req[j], rd->req[k], rd->req_len[k]);
            if (!have)
                bad(c, "dependency added: \"%.60s\" now requires \"%.60s\"", rd->name, rd->req[k]);
        }
    }
    for (size_t i = 0; i < r->ndep_schemas; i++) {
        const registry__js_named_t *rd = &r->dep_schemas[i];
        const registry__js_named_t *wd = NULL;
        for (size_t j = 0; j < w->ndep_schemas; j++)
            if (w->dep_schemas[j].len == rd->len &&
                !memcmp(w->dep_schemas[j].name, rd->name, rd->len))
                wd = &w->dep_schemas[j];
        if (!wd && !trivial(rd->node))
            bad(c, "dependent schema added for \"%.60s\"", rd->name);
        else if (wd)
            check_at(c, wd->node, rd->node, "dependentSchemas", rd->name, rd->len, -1);
    }
    if (r->property_names && !trivial(r->property_names)) {
        if (w->property_names) {
            check_at(c, w->property_names, r->property_names, "propertyNames", NULL, 0, -1);
        } else if (is_closed(w)) {
            for (size_t i = 0; i < w->nprops; i++) {
                json_t *name = json_stringn_nocheck(w->props[i].name, w->props[i].len);
                if (registry__js_validate_at(c->reader, r->property_names, name) != 0)
                    bad(c, "propertyNames rejects the writer's property \"%.60s\"",
                        w->props[i].name);
                json_decref(name);
            }
        } else {
            bad(c, "propertyNames added");
        }
    }
    /* Every property either side names, then names neither side lists. */
    for (size_t i = 0; i < w->nprops; i++)
        check_property(c, w, r, w->props[i].name, w->props[i].len);
    for (size_t i = 0; i < r->nprops; i++)
        if (!registry__js_named_find(w->props, w->nprops, r->props[i].name, r->props[i].len))
            check_property(c, w, r, r->props[i].name, r->props[i].len);
    node_t *w_rest = w->additional_props ? w->additional_props : or_any(w->unevaluated_props);
    for (size_t i = 0; i < r->npattern_props; i++) {
        const registry__js_pattern_prop_t *rp = &r->pattern_props[i];
        node_t *ws = w_rest;
        for (size_t j = 0; j < w->npattern_props; j++)
            if (!strcmp(w->pattern_props[j].re.src, rp->re.src))
                ws = w->pattern_props[j].node;
        check_at(c, ws, rp->node, "patternProperties", rp->re.src, strlen(rp->re.src), -1);
    }
    node_t *r_rest = r->additional_props ? r->additional_props : r->unevaluated_props;
    if (r_rest) {
        const char *kw = r->additional_props ? "additionalProperties" : "unevaluatedProperties";
        for (size_t j = 0; j < w->npattern_props; j++) {
            bool same = false;
            for (size_t i = 0; i < r->npattern_props; i++)
                same |= !strcmp(w->pattern_props[j].re.src, r->pattern_props[i].re.src);
            if (!same)
                check_at(c, w->pattern_props[j].node, r_rest, kw, NULL, 0, -1);
        }
        if (!quietly(c, w_rest, r_rest)) {
            if (r_rest->boolean == 0 && trivial(w_rest))
                bad(c, "%s: the reader closed an open content model", kw);
            else
                check_at(c, w_rest, r_rest, kw, NULL, 0, -1);
        }
    }
}

/* ---- Applicators ---- */

static void check_reader_applicators(cctx_t *c, node_t *w, node_t *r)
{
    if (r->ref)
        check_at(c, w, r->ref, "$ref", NULL, 0, -1);
    if (r->dynamic_ref)
        check_at(c, w, r->dynamic_ref, "$dynamicRef", NULL, 0, -1);
    for (size_t i = 0; i < r->nall_of; i++)
        check_at(c, w, r->all_of[i], "allOf", NULL, 0, (long)i);
    for (int k = 0; k < 2; k++) {
        registry__js_node_t *const *br = k ? r->one_of : r->any_of;
        size_t nbr = k ? r->none_of : r->nany_of;
        const char *kw = k ? "oneOf" : "anyOf";
        if (!nbr)
            continue;
        /* Each writer alternative must fit in one reader branch. */
        registry__js_node_t *self = (registry__js_node_t *)w;
        registry__js_node_t *const *alts = w->nany_of ? w->any_of : w->none_of ? w->one_of : &self;
        size_t nalts = w->nany_of ? w->nany_of : w->none_of ? w->none_of : 1;
        for (size_t a = 0; a < nalts; a++) {
            bool fits = false;
            for (size_t i = 0; i < nbr && !fits; i++)
                fits = quietly(c, alts[a], br[i]);
            if (!fits && nalts > 1) {
                for (size_t i = 0; i < nbr && !fits; i++)
                    fits = quietly(c, w, br[i]);
                a = nalts; /* the writer as a whole was the last resort */
            }
            if (!fits) {
                size_t old = path_push(c, kw, strlen(kw));
                bad(c, "no %s branch of the reader accepts everything the writer does", kw);
                path_pop(c, old);
                break;
            }
        }
    }
    if (r->not_) {
        if (!w->not_ || !quietly(c, r->not_, w->not_)) {
            size_t old = path_push(c, "not", 3);
            bad(c, "not %s: the reader now excludes values the writer allows",
                w->not_ ? "widened" : "added");
            path_pop(c, old);
        }
    }
    if (r->if_) {
        node_t *then_ = or_any(r->then_), *else_ = or_any(r->else_);
        bool same = w->if_ && registry__js_equal(w->if_->json, r->if_->json) &&
                    registry__js_equal(json_of(w->then_), json_of(r->then_)) &&
                    registry__js_equal(json_of(w->else_), json_of(r->else_));
        if (!same && !(quietly(c, w, then_) && quietly(c, w, else_))) {
            size_t old = path_push(c, "if", 2);
            bad(c, "conditional (if/then/else) changed");
            path_pop(c, old);
        }
    }
}

/* Writer alternatives that may prove the inclusion on their own. */
static bool writer_parts_fit(cctx_t *c, node_t *w, node_t *r)
{
    if (w->nany_of || w->none_of) {
        registry__js_node_t *const *br = w->nany_of ? w->any_of : w->one_of;
        size_t n = w->nany_of ? w->nany_of : w->none_of;
        bool all = true;
        for (size_t i = 0; i < n && all; i++)
            all = quietly(c, br[i], r);
        if (all)
            return true;
    }
    for (size_t i = 0; i < w->nall_of; i++)
        if (quietly(c, w->all_of[i], r))
            return true;
    if (w->ref && has_assertions(w) && quietly(c, w->ref, r))
        return true;
    if (w->if_ && w->then_ && w->else_ && quietly(c, w->then_, r) && quietly(c, w->else_, r))
        return true;
    return false;
}

static bool check(cctx_t *c, node_t *w, node_t *r)
{
    if (trivial(r) || w->boolean == 0)
        return true;
    if (++c->work > COMPAT_MAX_WORK || c->depth >= COMPAT_MAX_DEPTH) {
        bad(c, "schemas too large or too deep to compare");
        return false;
    }
    for (size_t i = 0; i < c->depth; i++)
        if (c->stack[i].w == w && c->stack[i].r == r)
            return true; /* being compared further up: assume it holds */
    if (r->boolean == 0) {
        bad(c, "the reader accepts nothing here");
        return false;
    }
    bool ok_before = c->ok;
    c->ok = true;
    c->stack[c->depth++] = (pair_t){w, r};
    /* A writer that is only a reference is its target. */
    if (w->ref && !has_assertions(w) && !w->nall_of && !w->nany_of && !w->none_of && !w->not_ &&
        !w->if_) {
        check(c, w->ref, r);
        goto out;
    }
    if (w->dialect == REGISTRY__JS_DRAFT7 && w->ref) {
        check(c, w->ref, r);
        goto out;
    }
    if (has_applicators(w) && writer_parts_fit(c, w, r))
        goto out;
    if ((w->nany_of || w->none_of) && !has_assertions(w) && !w->ref && !w->nall_of) {
        /* The writer is its union: report the branches the reader cannot take. */
        registry__js_node_t *const *br = w->nany_of ? w->any_of : w->one_of;
        size_t n = w->nany_of ? w->nany_of : w->none_of;
        for (size_t i = 0; i < n; i++)
            check_at(c, br[i], r, w->nany_of ? "anyOf" : "oneOf", NULL, 0, (long)i);
        goto out;
    }
    if (w->enum_ || w->has_const) {
        /* The writer's values are all there is: validate each against the reader. */
        size_t n = w->enum_ ? json_array_size(w->enum_) : 1;
        for (size_t i = 0; i < n; i++) {
            const json_t *v = w->enum_ ? json_array_get(w->enum_, i) : w->const_;
            if (w->enum_ && w->has_const && !registry__js_equal(v, w->const_))
                continue;
            if (registry__js_validate_at(c->reader, r, v) != 0) {
                char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
                bad(c, "the writer's value %.60s is rejected by the reader", s ? s : "?");
                free(s);
            }
        }
        goto out;
    }
    check_reader_applicators(c, w, r);
    if (r->enum_ || r->has_const) {
        bad(c, "%s added: the writer is not limited to listed values", r->enum_ ? "enum" : "const");
        goto out;
    }
    uint32_t missing = w->types & ~r->types;
    char b1[96];
    if (missing)
        bad(c, "type narrowed: %s no longer accepted", type_list(missing, b1, sizeof b1));
    uint32_t both = w->types & r->types;
    if (both & (REGISTRY__JS_NUMBER | REGISTRY__JS_INTEGER))
        check_numbers(c, w, r);
    if (both & REGISTRY__JS_STRING)
        check_strings(c, w, r);
    if (both & REGISTRY__JS_ARRAY)
        check_arrays(c, w, r);
    if (both & REGISTRY__JS_OBJECT)
        check_objects(c, w, r);
out:
    c->depth--;
    bool held = c->ok;
    c->ok = ok_before && held;
    return held;
}

static bool one_direction(const registry_jsonschema_t *writer, const registry_jsonschema_t *reader,
                          const char *dir, registry_compat_msgs_t *msgs)
{
    cctx_t *c = hd_calloc(1, sizeof *c);
    c->reader = reader;
    c->msgs = msgs;
    c->dir = dir;
    c->ok = true;
    bool ok = check(c, writer->root, reader->root);
    free(c);
    return ok;
}

int registry_jsonschema_compat(const registry_jsonschema_t *old_schema,
                               const registry_jsonschema_t *new_schema, int direction,
                               registry_compat_msgs_t *msgs)
{
    bool ok = true;
    if (direction & REGISTRY_DIR_BACKWARD)
        ok &= one_direction(old_schema, new_schema, "BACKWARD", msgs);
    if (direction & REGISTRY_DIR_FORWARD)
        ok &= one_direction(new_schema, old_schema, "FORWARD", msgs);
    return ok ? 0 : HD_EINVAL;
}
