/* JSON Schema compilation: turns a schema document (draft-07 or draft 2020-12) into the node
 * graph of registry_int.h that the validator and the compatibility checker walk.
 *
 * Compilation runs in three steps. First every document is indexed: a walk records, for each
 * schema object, its base URI (from the $id values above it) and its dialect, and registers each
 * resource ($id) and anchor ($anchor, draft-07's "$id": "#name"). Then nodes are made from a
 * worklist, not by recursion, so a deep or cyclic schema costs no stack: each node parses its
 * keywords and queues its subschemas; a $ref is resolved against the node's base URI to a
 * document (this one, an indexed resource, or one the caller's resolver returns), then to a
 * JSON pointer or an anchor inside it, and points at the target's node. Nodes are keyed by
 * the address of their JSON value, so a subschema reached twice is compiled once and $ref
 * cycles close on themselves. Everything lives in one arena whose limit bounds the memory a
 * peer's schema can take. */
#include "registry/registry_int.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/strmap.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define INDEX_MAX_DEPTH 256

/* ---- A map from JSON values (by address) to pointers, for nodes and scopes ---- */

typedef struct ptrmap {
    const void **keys;
    void **vals;
    size_t cap; /* 0 or a power of two */
    size_t n;
} ptrmap_t;

static size_t ptr_hash(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x;
}

static void *ptrmap_get(const ptrmap_t *m, const void *key)
{
    if (!m->cap)
        return NULL;
    for (size_t i = ptr_hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->keys[i])
            return NULL;
        if (m->keys[i] == key)
            return m->vals[i];
    }
}

static void ptrmap_put(ptrmap_t *m, const void *key, void *val)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 64;
        const void **nk = hd_calloc(ncap, sizeof *nk);
        void **nv = hd_calloc(ncap, sizeof *nv);
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->keys[i])
                continue;
            size_t j = ptr_hash(m->keys[i]) & (ncap - 1);
            while (nk[j])
                j = (j + 1) & (ncap - 1);
            nk[j] = m->keys[i];
            nv[j] = m->vals[i];
        }
        free(m->keys);
        free(m->vals);
        m->keys = nk;
        m->vals = nv;
        m->cap = ncap;
    }
    size_t i = ptr_hash(key) & (m->cap - 1);
    while (m->keys[i] && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    if (!m->keys[i])
        m->n++;
    m->keys[i] = key;
    m->vals[i] = val;
}

static void ptrmap_deinit(ptrmap_t *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* ---- Compilation state ---- */

typedef struct scope {
    const char *base;
    int dialect;
} scope_t;

typedef struct resource {
    const char *uri;
    json_t *root;
    int dialect;
} resource_t;

typedef struct anchor {
    json_t *target;
} anchor_t;

typedef struct cstate {
    registry_jsonschema_t *s;
    registry_ref_resolver_fn resolve;
    void *ctx;
    hd_strmap_t resources; /* URI without fragment -> resource_t */
    hd_strmap_t anchors;   /* "URI#name" -> anchor_t */
    ptrmap_t scopes;       /* schema object -> scope_t */
    ptrmap_t nodes;        /* schema value -> registry__js_node_t */
    registry__js_node_t **work;
    size_t nwork, capwork;
    registry_error_t *err;
    int rc;
} cstate_t;

static void set_error(cstate_t *cs, const registry__js_node_t *n, const char *keyword, int rc,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void set_error(cstate_t *cs, const registry__js_node_t *n, const char *keyword, int rc,
                      const char *fmt, ...)
{
    if (cs->rc)
        return;
    cs->rc = rc;
    registry_error_t *e = cs->err;
    if (!e)
        return;
    memset(e, 0, sizeof *e);
    snprintf(e->keyword, sizeof e->keyword, "%s", keyword ? keyword : "");
    char loc[REGISTRY_ERROR_TEXT_MAX];
    loc[0] = '\0';
    if (n)
        registry__js_node_location(n, loc, sizeof loc);
    int w = snprintf(e->schema_path, sizeof e->schema_path, "#%s%s%s", loc, keyword ? "/" : "",
                     keyword ? keyword : "");
    if (w >= (int)sizeof e->schema_path)
        memcpy(e->schema_path + sizeof e->schema_path - 4, "...", 4);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

static void *alloc(cstate_t *cs, size_t n)
{
    void *p = hd_arena_alloc(&cs->s->arena, n);
    if (!p)
        set_error(cs, NULL, NULL, HD_ETOOBIG, "schema needs more than %u bytes once compiled",
                  (unsigned)REGISTRY_JSONSCHEMA_MAX_BYTES);
    return p;
}

static char *dup_n(cstate_t *cs, const char *s, size_t n)
{
    char *p = alloc(cs, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static void hold(registry_jsonschema_t *s, json_t *doc)
{
    if (s->nheld == s->capheld) {
        s->capheld = s->capheld ? s->capheld * 2 : 4;
        s->held = hd_realloc(s->held, s->capheld * sizeof *s->held);
    }
    s->held[s->nheld++] = json_incref(doc);
}

/* ---- URI references (RFC 3986 section 5) ---- */

typedef struct uri {
    const char *scheme, *auth, *path, *query, *frag;
    size_t scheme_len, auth_len, path_len, query_len, frag_len;
    bool has_scheme, has_auth, has_query, has_frag;
} uri_t;

/* Splits like the regular expression of RFC 3986 appendix B. */
static uri_t uri_split(const char *s)
{
    uri_t u;
    memset(&u, 0, sizeof u);
    const char *p = s;
    const char *c = p + strcspn(p, ":/?#");
    if (*c == ':' && c > p) {
        u.has_scheme = true;
        u.scheme = p;
        u.scheme_len = (size_t)(c - p);
        p = c + 1;
    }
    if (p[0] == '/' && p[1] == '/') {
        u.has_auth = true;
        u.auth = p + 2;
        u.auth_len = strcspn(u.auth, "/?#");
        p = u.auth + u.auth_len;
    }
    u.path = p;
    u.path_len = strcspn(p, "?#");
    p += u.path_len;
    if (*p == '?') {
        u.has_query = true;
        u.query = p + 1;
        u.query_len = strcspn(u.query, "#");
        p = u.query + u.query_len;
    }
    if (*p == '#') {
        u.has_frag = true;
        u.frag = p + 1;
        u.frag_len = strlen(u.frag);
    }
    return u;
}

/* Appends path `in` to `out` (capacity enough for in_len more bytes) removing "." and ".."
 * segments (RFC 3986 5.2.4); returns the new length of out. */
static size_t remove_dots(char *out, size_t olen, const char *in, size_t in_len)
{
    size_t i = 0;
    while (i < in_len) {
        const char *r = in + i;
        size_t left = in_len - i;
        if (left >= 3 && !memcmp(r, "../", 3)) {
            i += 3;
        } else if (left >= 2 && !memcmp(r, "./", 2)) {
            i += 2;
        } else if (left >= 3 && !memcmp(r, "/./", 3)) {
            i += 2;
        } else if (left == 2 && !memcmp(r, "/.", 2)) {
            out[olen++] = '/';
            i += 2;
        } else if ((left >= 4 && !memcmp(r, "/../", 4)) || (left == 3 && !memcmp(r, "/..", 3))) {
            i += 3;
            if (left == 3) {
                /* "/.." at the end: replace it with "/" after dropping the last segment */
                while (olen > 0 && out[olen - 1] != '/')
                    olen--;
                if (olen > 0)
                    olen--;
                out[olen++] = '/';
                continue;
            }
            while (olen > 0 && out[olen - 1] != '/')
                olen--;
            if (olen > 0)
                olen--;
        } else if ((left == 1 && r[0] == '.') || (left == 2 && !memcmp(r, "..", 2))) {
            i += left;
        } else {
            size_t j = (r[0] == '/') ? 1 : 0;
            while (j < left && r[j] != '/')
                j++;
            memcpy(out + olen, r, j);
            olen += j;
            i += j;
        }
    }
    return olen;
}

/* Resolves `ref` against `base`; returns an arena string or NULL (out of memory). */
static char *uri_resolve(cstate_t *cs, const char *base, const char *ref)
{
    uri_t b = uri_split(base), r = uri_split(ref);
    size_t cap = strlen(base) + strlen(ref) + 8;
    char *out = alloc(cs, cap);
    if (!out)
        return NULL;
    size_t n = 0;
#define PUT(p, l)                                                                                  \
    do {                                                                                           \
        memcpy(out + n, (p), (l));                                                                 \
        n += (l);                                                                                  \
    } while (0)
    const uri_t *sch = r.has_scheme ? &r : &b;
    if (sch->has_scheme) {
        PUT(sch->scheme, sch->scheme_len);
        out[n++] = ':';
    }
    const uri_t *q = &r;
    if (r.has_scheme || r.has_auth) {
        if (r.has_auth) {
            PUT("//", 2);
            PUT(r.auth, r.auth_len);
        }
        n = remove_dots(out, n, r.path, r.path_len);
    } else {
        if (b.has_auth) {
            PUT("//", 2);
            PUT(b.auth, b.auth_len);
        }
        if (r.path_len == 0) {
            PUT(b.path, b.path_len);
            if (!r.has_query)
                q = &b;
        } else if (r.path[0] == '/') {
            n = remove_dots(out, n, r.path, r.path_len);
        } else {
            /* merge: the base path up to its last '/', then the reference's path */
            char *m = hd_malloc(b.path_len + r.path_len + 2);
            size_t ml = 0;
            if (b.has_auth && b.path_len == 0) {
                m[ml++] = '/';
            } else {
                size_t last = b.path_len;
                while (last > 0 && b.path[last - 1] != '/')
                    last--;
                memcpy(m, b.path, last);
                ml = last;
            }
            memcpy(m + ml, r.path, r.path_len);
            ml += r.path_len;
            n = remove_dots(out, n, m, ml);
            free(m);
        }
    }
    if (q->has_query) {
        out[n++] = '?';
        PUT(q->query, q->query_len);
    }
    if (r.has_frag) {
        out[n++] = '#';
        PUT(r.frag, r.frag_len);
    }
#undef PUT
    out[n] = '\0';
    return out;
}

/* ---- Dialects ---- */

static int dialect_of(const json_t *schema_kw, int fallback)
{
    const char *u = json_string_value(schema_kw);
    if (!u)
        return fallback;
    if (strstr(u, "json-schema.org/draft-07/") || strstr(u, "json-schema.org/draft-06/") ||
        strstr(u, "json-schema.org/draft-04/"))
        return REGISTRY__JS_DRAFT7;
    if (strstr(u, "json-schema.org/draft/2020-12/") || strstr(u, "json-schema.org/draft/2019-09/"))
        return REGISTRY__JS_2020;
    return fallback;
}

/* ---- Indexing: base URIs, resources and anchors ---- */

static resource_t *add_resource(cstate_t *cs, const char *uri, json_t *root, int dialect)
{
    resource_t *r = hd_strmap_get(&cs->resources, uri);
    if (r)
        return r;
    r = alloc(cs, sizeof *r);
    char *key = r ? dup_n(cs, uri, strlen(uri)) : NULL;
    if (!key)
        return NULL;
    r->uri = key;
    r->root = root;
    r->dialect = dialect;
    hd_strmap_put(&cs->resources, key, r);
    return r;
}

static int add_anchor(cstate_t *cs, const char *base, const char *name, size_t len, json_t *target)
{
    size_t bl = strlen(base);
    char *key = alloc(cs, bl + len + 2);
    anchor_t *a = alloc(cs, sizeof *a);
    if (!key || !a)
        return cs->rc;
    memcpy(key, base, bl);
    key[bl] = '#';
    memcpy(key + bl + 1, name, len);
    key[bl + 1 + len] = '\0';
    if (hd_strmap_get(&cs->anchors, key))
        return 0; /* the first one wins */
    a->target = target;
    hd_strmap_put(&cs->anchors, key, a);
    return 0;
}

static bool is_map_keyword(const char *k)
{
    return !strcmp(k, "properties") || !strcmp(k, "patternProperties") || !strcmp(k, "$defs") ||
           !strcmp(k, "definitions") || !strcmp(k, "dependentSchemas") ||
           !strcmp(k, "dependencies");
}

/* Keywords whose values are data or plain values, never schemas. */
static bool is_data_keyword(const char *k)
{
    static const char *const data[] = {"enum",     "const",          "examples", "default",
                                       "$ref",     "$dynamicRef",    "$id",      "$schema",
                                       "$anchor",  "$dynamicAnchor", "$comment", "$vocabulary",
                                       "required", "type",           "title",    "description"};
    for (size_t i = 0; i < HD_ARRAY_LEN(data); i++)
        if (!strcmp(k, data[i]))
            return true;
    return false;
}

static int index_schema(cstate_t *cs, json_t *j, const char *base, int dialect, int depth);

static int index_value(cstate_t *cs, json_t *v, const char *base, int dialect, int depth)
{
    if (json_is_object(v))
        return index_schema(cs, v, base, dialect, depth + 1);
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if (json_is_object(e)) {
                int rc = index_schema(cs, e, base, dialect, depth + 1);
                if (rc)
                    return rc;
            }
        }
    }
    return 0;
}

static int index_schema(cstate_t *cs, json_t *j, const char *base, int dialect, int depth)
{
    if (depth > INDEX_MAX_DEPTH) {
        set_error(cs, NULL, NULL, HD_ETOOBIG, "schema nested deeper than %d levels",
                  INDEX_MAX_DEPTH);
        return cs->rc;
    }
    if (ptrmap_get(&cs->scopes, j))
        return 0; /* indexed already (a document reached twice) */
    json_t *id = json_object_get(j, "$id");
    bool id_applies = json_is_string(id);
    if (dialect == REGISTRY__JS_DRAFT7 && json_object_get(j, "$ref"))
        id_applies = false; /* draft-07 ignores every sibling of $ref */
    if (id_applies || depth == 0)
        dialect = dialect_of(json_object_get(j, "$schema"), dialect);
    if (id_applies) {
        const char *idv = json_string_value(id);
        if (dialect == REGISTRY__JS_DRAFT7 && idv[0] == '#') {
            if (add_anchor(cs, base, idv + 1, strlen(idv + 1), j))
                return cs->rc;
        } else {
            char *abs = uri_resolve(cs, base, idv);
            if (!abs)
                return cs->rc;
            char *hash = strchr(abs, '#');
            if (hash) {
                *hash = '\0';
                if (hash[1] && add_anchor(cs, abs, hash + 1, strlen(hash + 1), j))
                    return cs->rc;
            }
            base = abs;
            if (!add_resource(cs, base, j, dialect))
                return cs->rc;
        }
    }
    if (dialect == REGISTRY__JS_2020) {
        const char *names[] = {"$anchor", "$dynamicAnchor"};
        for (size_t i = 0; i < 2; i++) {
            const char *a = json_string_value(json_object_get(j, names[i]));
            if (a && add_anchor(cs, base, a, strlen(a), j))
                return cs->rc;
        }
    }
    scope_t *sc = alloc(cs, sizeof *sc);
    if (!sc)
        return cs->rc;
    sc->base = base;
    sc->dialect = dialect;
    ptrmap_put(&cs->scopes, j, sc);

    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        if (is_data_keyword(k))
            continue;
        int rc = 0;
        if (is_map_keyword(k) && json_is_object(v)) {
            const char *k2;
            json_t *v2;
            json_object_foreach(v, k2, v2)
            {
                if (json_is_object(v2) && (rc = index_schema(cs, v2, base, dialect, depth + 1)))
                    return rc;
            }
        } else if ((rc = index_value(cs, v, base, dialect, depth))) {
            return rc;
        }
    }
    return 0;
}

/* ---- Locations ---- */

void registry__js_node_location(const registry__js_node_t *n, char *buf, size_t cap)
{
    const char *segs[64];
    size_t ns = 0;
    for (; n && n->parent && ns < HD_ARRAY_LEN(segs); n = n->parent)
        segs[ns++] = n->seg;
    size_t len = 0;
    buf[0] = '\0';
    if (n && n->parent)
        len += (size_t)snprintf(buf, cap, "/...");
    while (ns > 0 && len < cap) {
        int w = snprintf(buf + len, cap - len, "%s", segs[--ns]);
        if (w < 0)
            break;
        len += (size_t)w;
    }
}

/* Appends one pointer segment ("~" and "/" escaped) to a new arena string "<prefix>/<seg>". */
static const char *make_seg(cstate_t *cs, const char *kw, const char *key, size_t key_len, long idx)
{
    char num[24] = "";
    if (idx >= 0)
        snprintf(num, sizeof num, "/%ld", idx);
    size_t kl = strlen(kw);
    char *s = alloc(cs, 1 + kl + (key ? 1 + 2 * key_len : 0) + strlen(num) + 1);
    if (!s)
        return NULL;
    size_t n = 0;
    s[n++] = '/';
    memcpy(s + n, kw, kl);
    n += kl;
    if (key) {
        s[n++] = '/';
        for (size_t i = 0; i < key_len; i++) {
            if (key[i] == '~' || key[i] == '/') {
                s[n++] = '~';
                s[n++] = key[i] == '~' ? '0' : '1';
            } else {
                s[n++] = key[i] ? key[i] : '?';
            }
        }
    }
    memcpy(s + n, num, strlen(num) + 1);
    return s;
}

/* ---- Nodes ---- */

static registry__js_node_t *get_node(cstate_t *cs, json_t *j, registry__js_node_t *parent,
                                     const char *seg)
{
    registry__js_node_t *n = ptrmap_get(&cs->nodes, j);
    if (n)
        return n;
    n = alloc(cs, sizeof *n);
    if (!n)
        return NULL;
    n->json = j;
    n->parent = parent;
    n->seg = seg ? seg : "";
    ptrmap_put(&cs->nodes, j, n);
    if (cs->nwork == cs->capwork) {
        cs->capwork = cs->capwork ? cs->capwork * 2 : 64;
        cs->work = hd_realloc(cs->work, cs->capwork * sizeof *cs->work);
    }
    cs->work[cs->nwork++] = n;
    return n;
}

/* The subschema at parent[kw] (key: parent[kw][key]; idx >= 0: parent[kw][idx]). */
static registry__js_node_t *child(cstate_t *cs, registry__js_node_t *parent, json_t *j,
                                  const char *kw, const char *key, size_t key_len, long idx)
{
    if (!json_is_object(j) && !json_is_boolean(j)) {
        set_error(cs, parent, kw, HD_EMALFORMED, "%s: a subschema must be an object or a boolean",
                  kw);
        return NULL;
    }
    registry__js_node_t *n = ptrmap_get(&cs->nodes, j);
    if (n)
        return n;
    const char *seg = make_seg(cs, kw, key, key_len, idx);
    return seg ? get_node(cs, j, parent, seg) : NULL;
}

static registry__js_node_t **child_array(cstate_t *cs, registry__js_node_t *n, json_t *v,
                                         const char *kw, size_t *count, bool allow_empty)
{
    if (!json_is_array(v) || (!allow_empty && json_array_size(v) == 0)) {
        set_error(cs, n, kw, HD_EMALFORMED, "%s must be a%s array of schemas", kw,
                  allow_empty ? "n" : " non-empty");
        return NULL;
    }
    size_t c = json_array_size(v);
    registry__js_node_t **a = alloc(cs, (c ? c : 1) * sizeof *a);
    if (!a)
        return NULL;
    for (size_t i = 0; i < c; i++)
        if (!(a[i] = child(cs, n, json_array_get(v, i), kw, NULL, 0, (long)i)))
            return NULL;
    *count = c;
    return a;
}

static int named_cmp(const void *a, const void *b)
{
    const registry__js_named_t *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp(x->name, y->name, x->len);
}

const registry__js_named_t *registry__js_named_find(const registry__js_named_t *v, size_t n,
                                                    const char *name, size_t len)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = v[mid].len != len ? (v[mid].len < len ? -1 : 1) : memcmp(v[mid].name, name, len);
        if (c == 0)
            return &v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* A map keyword (properties, $defs, ...): returns the sorted list of name -> subschema. */
static registry__js_named_t *child_map(cstate_t *cs, registry__js_node_t *n, json_t *v,
                                       const char *kw, size_t *count)
{
    if (!json_is_object(v)) {
        set_error(cs, n, kw, HD_EMALFORMED, "%s must be an object of schemas", kw);
        return NULL;
    }
    size_t c = json_object_size(v);
    registry__js_named_t *a = alloc(cs, (c ? c : 1) * sizeof *a);
    if (!a)
        return NULL;
    size_t i = 0;
    const char *k;
    size_t kl;
    json_t *sub;
    json_object_keylen_foreach(v, k, kl, sub)
    {
        a[i].name = k;
        a[i].len = kl;
        if (!(a[i].node = child(cs, n, sub, kw, k, kl, -1)))
            return NULL;
        i++;
    }
    qsort(a, c, sizeof *a, named_cmp);
    *count = c;
    return a;
}

static int node_regex(cstate_t *cs, registry__js_node_t *n, const char *kw, const char *src,
                      size_t len, registry__js_regex_t *out)
{
    const char *why = "";
    if (registry__js_regex_compile(cs->s, src, len, out, &why)) {
        set_error(cs, n, kw, HD_EMALFORMED, "%s: %s: \"%.100s\"", kw, why, src);
        return cs->rc;
    }
    out->src = dup_n(cs, src, len);
    if (!out->src)
        return cs->rc;
    registry__js_simple_t simple;
    if (registry__js_simple_compile(src, len, &simple)) {
        registry__js_simple_t *p = alloc(cs, sizeof *p);
        if (!p)
            return cs->rc;
        *p = simple;
        out->simple = p;
    }
    return 0;
}

/* ---- $ref resolution ---- */

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes %XX escapes of a URI fragment into a new heap string. */
static char *pct_decode(const char *s, size_t len, size_t *out_len)
{
    char *d = hd_malloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%' && i + 2 < len && hex_val(s[i + 1]) >= 0 && hex_val(s[i + 2]) >= 0) {
            d[n++] = (char)(hex_val(s[i + 1]) * 16 + hex_val(s[i + 2]));
            i += 2;
        } else {
            d[n++] = s[i];
        }
    }
    d[n] = '\0';
    *out_len = n;
    return d;
}

/* Walks a JSON pointer ("/a/0/b~1c") from `root`; NULL when it names nothing. */
static json_t *pointer_get(json_t *root, const char *p, size_t len)
{
    json_t *cur = root;
    size_t i = 0;
    char *tok = hd_malloc(len + 1);
    while (cur && i < len) {
        if (p[i] != '/') {
            cur = NULL;
            break;
        }
        i++;
        size_t tl = 0;
        while (i < len && p[i] != '/') {
            if (p[i] == '~' && i + 1 < len && (p[i + 1] == '0' || p[i + 1] == '1')) {
                tok[tl++] = p[i + 1] == '0' ? '~' : '/';
                i += 2;
            } else {
                tok[tl++] = p[i++];
            }
        }
        if (json_is_object(cur)) {
            cur = json_object_getn(cur, tok, tl);
        } else if (json_is_array(cur)) {
            char *end = NULL;
            tok[tl] = '\0';
            unsigned long long ix = strtoull(tok, &end, 10);
            bool ok = tl > 0 && *end == '\0' && (tl == 1 || tok[0] != '0') && tok[0] != '-' &&
                      tok[0] != '+';
            cur = ok ? json_array_get(cur, (size_t)ix) : NULL;
        } else {
            cur = NULL;
        }
    }
    free(tok);
    return cur;
}

/* Finds the value a resolved reference (absolute URI with fragment) names. */
static json_t *lookup_ref(cstate_t *cs, registry__js_node_t *from, const char *kw, const char *abs)
{
    const char *hash = strchr(abs, '#');
    size_t dl = hash ? (size_t)(hash - abs) : strlen(abs);
    char *doc = dup_n(cs, abs, dl);
    if (!doc)
        return NULL;
    const char *frag = hash ? hash + 1 : "";
    resource_t *r = hd_strmap_get(&cs->resources, doc);
    if (!r) {
        json_t *d = cs->resolve ? cs->resolve(cs->ctx, doc) : NULL;
        if (!d || (!json_is_object(d) && !json_is_boolean(d))) {
            set_error(cs, from, kw, HD_ENOTFOUND, "%s: cannot resolve \"%.150s\"", kw, abs);
            return NULL;
        }
        hold(cs->s, d);
        int dialect = dialect_of(json_object_get(d, "$schema"), from->dialect);
        if (!(r = add_resource(cs, doc, d, dialect)))
            return NULL;
        if (json_is_object(d) && index_schema(cs, d, doc, dialect, 0))
            return NULL;
    }
    size_t fl = 0;
    char *f = pct_decode(frag, strlen(frag), &fl);
    json_t *t = NULL;
    if (fl == 0) {
        t = r->root;
    } else if (f[0] == '/') {
        t = pointer_get(r->root, f, fl);
    } else {
        char *key = alloc(cs, dl + fl + 2);
        if (key) {
            snprintf(key, dl + fl + 2, "%s#%s", doc, f);
            anchor_t *a = hd_strmap_get(&cs->anchors, key);
            t = a ? a->target : NULL;
        }
    }
    free(f);
    if (!t && !cs->rc)
        set_error(cs, from, kw, HD_ENOTFOUND, "%s: \"%.150s\" names nothing", kw, abs);
    return t;
}

static registry__js_node_t *compile_ref(cstate_t *cs, registry__js_node_t *n, const char *kw,
                                        json_t *v)
{
    if (!json_is_string(v)) {
        set_error(cs, n, kw, HD_EMALFORMED, "%s must be a string", kw);
        return NULL;
    }
    char *abs = uri_resolve(cs, n->base, json_string_value(v));
    json_t *t = abs ? lookup_ref(cs, n, kw, abs) : NULL;
    if (!t)
        return NULL;
    return child(cs, n, t, kw, NULL, 0, -1);
}

/* ---- Keywords ---- */

static bool get_count(cstate_t *cs, registry__js_node_t *n, json_t *o, const char *kw, int64_t *out)
{
    json_t *v = json_object_get(o, kw);
    if (!v)
        return true;
    double d = json_number_value(v);
    if (!json_is_number(v) || d < 0 || d != floor(d) || d > 9.0e15) {
        set_error(cs, n, kw, HD_EMALFORMED, "%s must be a non-negative integer", kw);
        return false;
    }
    *out = (int64_t)d;
    return true;
}

static bool get_number(cstate_t *cs, registry__js_node_t *n, json_t *v, const char *kw, double *out)
{
    if (!json_is_number(v) || !isfinite(json_number_value(v))) {
        set_error(cs, n, kw, HD_EMALFORMED, "%s must be a number", kw);
        return false;
    }
    *out = json_number_value(v);
    return true;
}

static uint32_t type_bit(const char *t)
{
    static const struct {
        const char *name;
        uint32_t bit;
    } types[] = {{"null", REGISTRY__JS_NULL},
                 {"boolean", REGISTRY__JS_BOOLEAN},
                 {"object", REGISTRY__JS_OBJECT},
                 {"array", REGISTRY__JS_ARRAY},
                 {"number", REGISTRY__JS_NUMBER | REGISTRY__JS_INTEGER},
                 {"string", REGISTRY__JS_STRING},
                 {"integer", REGISTRY__JS_INTEGER}};
    for (size_t i = 0; i < HD_ARRAY_LEN(types); i++)
        if (t && !strcmp(t, types[i].name))
            return types[i].bit;
    return 0;
}

static int compile_type(cstate_t *cs, registry__js_node_t *n, json_t *v)
{
    n->has_type = true;
    n->types = 0;
    if (json_is_string(v)) {
        n->types = type_bit(json_string_value(v));
        if (!n->types)
            goto bad;
        return 0;
    }
    if (!json_is_array(v))
        goto bad;
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        uint32_t b = type_bit(json_string_value(e));
        if (!b)
            goto bad;
        n->types |= b;
    }
    return 0;
bad:
    set_error(cs, n, "type", HD_EMALFORMED,
              "type must be one of null, boolean, object, array, number, string, integer, or an "
              "array of them");
    return cs->rc;
}

/* minimum/maximum with their exclusive forms: draft-06 and later numbers, draft-04 booleans. */
static int compile_bounds(cstate_t *cs, registry__js_node_t *n, json_t *o)
{
    const char *kw[2][2] = {{"minimum", "exclusiveMinimum"}, {"maximum", "exclusiveMaximum"}};
    registry__js_bound_t *b[2] = {&n->minimum, &n->maximum};
    for (int side = 0; side < 2; side++) {
        json_t *inc = json_object_get(o, kw[side][0]);
        json_t *exc = json_object_get(o, kw[side][1]);
        double iv = 0, ev = 0;
        if (inc && !get_number(cs, n, inc, kw[side][0], &iv))
            return cs->rc;
        if (json_is_boolean(exc)) {
            if (inc) {
                b[side]->set = true;
                b[side]->v = iv;
                b[side]->exclusive = json_is_true(exc);
            }
            continue;
        }
        if (exc && !get_number(cs, n, exc, kw[side][1], &ev))
            return cs->rc;
        if (inc) {
            b[side]->set = true;
            b[side]->v = iv;
        }
        if (exc) {
            /* Both present: keep the stricter one. */
            bool stricter = !b[side]->set || (side == 0 ? ev >= b[side]->v : ev <= b[side]->v);
            if (stricter) {
                b[side]->set = true;
                b[side]->v = ev;
                b[side]->exclusive = true;
            }
        }
    }
    return 0;
}

static int compile_required(cstate_t *cs, registry__js_node_t *n, json_t *v, const char *kw,
                            registry__js_named_t **out, size_t *count)
{
    if (!json_is_array(v)) {
        set_error(cs, n, kw, HD_EMALFORMED, "%s must be an array of strings", kw);
        return cs->rc;
    }
    size_t c = json_array_size(v);
    registry__js_named_t *a = alloc(cs, (c ? c : 1) * sizeof *a);
    if (!a)
        return cs->rc;
    for (size_t i = 0; i < c; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_string(e)) {
            set_error(cs, n, kw, HD_EMALFORMED, "%s must be an array of strings", kw);
            return cs->rc;
        }
        a[i].name = json_string_value(e);
        a[i].len = json_string_length(e);
    }
    *out = a;
    *count = c;
    return 0;
}

static int compile_dep_required(cstate_t *cs, registry__js_node_t *n, const char *kw,
                                const char *name, size_t len, json_t *list)
{
    registry__js_named_t *req = NULL;
    size_t nreq = 0;
    if (compile_required(cs, n, list, kw, &req, &nreq))
        return cs->rc;
    registry__js_dep_req_t *d = &n->dep_required[n->ndep_required++];
    d->name = name;
    d->len = len;
    d->nreq = nreq;
    d->req = alloc(cs, (nreq ? nreq : 1) * sizeof *d->req);
    d->req_len = alloc(cs, (nreq ? nreq : 1) * sizeof *d->req_len);
    if (!d->req || !d->req_len)
        return cs->rc;
    for (size_t i = 0; i < nreq; i++) {
        d->req[i] = req[i].name;
        d->req_len[i] = req[i].len;
    }
    return 0;
}

/* dependencies (draft-07), dependentRequired and dependentSchemas (2020-12). */
static int compile_dependencies(cstate_t *cs, registry__js_node_t *n, json_t *o)
{
    json_t *deps = n->dialect == REGISTRY__JS_DRAFT7 ? json_object_get(o, "dependencies") : NULL;
    json_t *dreq = n->dialect == REGISTRY__JS_2020 ? json_object_get(o, "dependentRequired") : NULL;
    json_t *dsch = n->dialect == REGISTRY__JS_2020 ? json_object_get(o, "dependentSchemas") : NULL;
    const char *kws[3] = {"dependencies", "dependentRequired", "dependentSchemas"};
    json_t *vals[3] = {deps, dreq, dsch};
    size_t total = 0;
    for (int i = 0; i < 3; i++) {
        if (!vals[i])
            continue;
        if (!json_is_object(vals[i])) {
            set_error(cs, n, kws[i], HD_EMALFORMED, "%s must be an object", kws[i]);
            return cs->rc;
        }
        total += json_object_size(vals[i]);
    }
    if (!total)
        return 0;
    n->dep_required = alloc(cs, total * sizeof *n->dep_required);
    n->dep_schemas = alloc(cs, total * sizeof *n->dep_schemas);
    if (!n->dep_required || !n->dep_schemas)
        return cs->rc;
    for (int i = 0; i < 3; i++) {
        const char *k;
        size_t kl;
        json_t *v;
        if (!vals[i])
            continue;
        json_object_keylen_foreach(vals[i], k, kl, v)
        {
            bool as_list = i == 1 || (i == 0 && json_is_array(v));
            if (as_list) {
                if (compile_dep_required(cs, n, kws[i], k, kl, v))
                    return cs->rc;
                continue;
            }
            registry__js_named_t *d = &n->dep_schemas[n->ndep_schemas++];
            d->name = k;
            d->len = kl;
            if (!(d->node = child(cs, n, v, kws[i], k, kl, -1)))
                return cs->rc;
        }
    }
    return 0;
}

/* Whether a property name can be a key_slots entry: 1 to 16 bytes that a JSON string holds
 * as they are (no escape, no control or non-ASCII byte). */
static bool plain_short_name(const char *s, size_t len)
{
    if (len < 1 || len > 16)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((uint8_t)s[i] < 0x20 || (uint8_t)s[i] >= 0x80 || s[i] == '"' || s[i] == '\\')
            return false;
    return true;
}

/* key_slots: the plain short property names by their words (open addressing, at most half
 * full). */
static int compile_key_slots(cstate_t *cs, registry__js_node_t *n)
{
    size_t count = 0;
    for (size_t i = 0; i < n->nprops; i++)
        count += plain_short_name(n->props[i].name, n->props[i].len);
    if (!count || n->nprops > REGISTRY__JS_LOOKUP_MAX_PROPS)
        return 0;
    size_t size = 8;
    while (size < count * 2)
        size *= 2;
    if (!(n->key_slots = alloc(cs, (size + 1) * sizeof *n->key_slots)))
        return cs->rc;
    memset(n->key_slots, 0, (size + 1) * sizeof *n->key_slots);
    n->key_mask = (uint32_t)(size - 1);
    for (size_t i = 0; i < n->nprops; i++) {
        const registry__js_named_t *p = &n->props[i];
        if (!plain_short_name(p->name, p->len))
            continue;
        char buf[16] = {0};
        memcpy(buf, p->name, p->len);
        uint64_t w[2];
        registry__js_key_words(buf, p->len, w);
        uint32_t h = registry__js_key_words_hash(w);
        while (n->key_slots[h & n->key_mask].idx)
            h++;
        registry__js_key_slot_t *k = &n->key_slots[h & n->key_mask];
        k->w[0] = w[0];
        k->w[1] = w[1];
        k->node = p->node;
        k->idx = (uint32_t)i + 1;
    }
    /* The slots in the order `properties` lists them, the order producers most often write
     * the members in: the check while parsing tries the next one first. */
    json_t *props = json_object_get(n->json, "properties");
    const char *name;
    size_t len;
    json_t *sub;
    uint32_t *link = &n->key_first;
    for (size_t i = 0; i <= size; i++)
        n->key_slots[i].next = (uint32_t)size;
    n->key_first = (uint32_t)size;
    json_object_keylen_foreach(props, name, len, sub)
    {
        (void)sub;
        if (!plain_short_name(name, len))
            continue;
        char buf[16] = {0};
        memcpy(buf, name, len);
        uint64_t w[2];
        registry__js_key_words(buf, len, w);
        uint32_t h = registry__js_key_words_hash(w);
        while (n->key_slots[h & n->key_mask].w[0] != w[0] ||
               n->key_slots[h & n->key_mask].w[1] != w[1])
            h++;
        *link = h & n->key_mask;
        link = &n->key_slots[h & n->key_mask].next;
    }
    return 0;
}

/* The lookup aids of registry__js_node_t for the walk over flat documents. */
static int compile_lookup(cstate_t *cs, registry__js_node_t *n)
{
    if (n->nprops) {
        size_t size = 8;
        while (size < n->nprops * 2)
            size *= 2;
        if (!(n->prop_slots = alloc(cs, size * sizeof *n->prop_slots)))
            return cs->rc;
        n->prop_mask = (uint32_t)(size - 1);
        for (size_t i = 0; i < n->nprops; i++) {
            uint32_t h = (uint32_t)registry__js_key_hash(n->props[i].name, n->props[i].len);
            while (n->prop_slots[h & n->prop_mask])
                h++;
            n->prop_slots[h & n->prop_mask] = (uint32_t)i + 1;
        }
        if (compile_key_slots(cs, n))
            return cs->rc;
    }
    if (n->nrequired) {
        if (!(n->required_prop = alloc(cs, n->nrequired * sizeof *n->required_prop)))
            return cs->rc;
        for (size_t i = 0; i < n->nrequired; i++) {
            const registry__js_named_t *p = registry__js_named_find(
                n->props, n->nprops, n->required[i].name, n->required[i].len);
            n->required_prop[i] = p ? (int32_t)(p - n->props) : -1;
        }
        n->required_in_props = true;
        for (size_t i = 0; i < n->nrequired; i++)
            n->required_in_props &= n->required_prop[i] >= 0;
    }
    return 0;
}

static const registry__jv_t *flatten(cstate_t *cs, const json_t *j)
{
    registry__jv_t *v = alloc(cs, registry__jv_count(j) * sizeof *v);
    if (v)
        registry__jv_fill(v, j);
    return v;
}

static int compile_objects(cstate_t *cs, registry__js_node_t *n, json_t *o)
{
    json_t *v;
    if ((v = json_object_get(o, "properties")) &&
        !(n->props = child_map(cs, n, v, "properties", &n->nprops)))
        return cs->rc;
    if ((v = json_object_get(o, "patternProperties"))) {
        if (!json_is_object(v)) {
            set_error(cs, n, "patternProperties", HD_EMALFORMED,
                      "patternProperties must be an object of schemas");
            return cs->rc;
        }
        size_t c = json_object_size(v);
        n->pattern_props = alloc(cs, (c ? c : 1) * sizeof *n->pattern_props);
        if (!n->pattern_props)
            return cs->rc;
        const char *k;
        size_t kl;
        json_t *sub;
        json_object_keylen_foreach(v, k, kl, sub)
        {
            registry__js_pattern_prop_t *p = &n->pattern_props[n->npattern_props++];
            if (node_regex(cs, n, "patternProperties", k, kl, &p->re))
                return cs->rc;
            if (!(p->node = child(cs, n, sub, "patternProperties", k, kl, -1)))
                return cs->rc;
        }
    }
    if ((v = json_object_get(o, "additionalProperties")) &&
        !(n->additional_props = child(cs, n, v, "additionalProperties", NULL, 0, -1)))
        return cs->rc;
    if ((v = json_object_get(o, "propertyNames")) &&
        !(n->property_names = child(cs, n, v, "propertyNames", NULL, 0, -1)))
        return cs->rc;
    if ((v = json_object_get(o, "required")) &&
        compile_required(cs, n, v, "required", &n->required, &n->nrequired))
        return cs->rc;
    if (!get_count(cs, n, o, "minProperties", &n->min_props) ||
        !get_count(cs, n, o, "maxProperties", &n->max_props))
        return cs->rc;
    if (n->dialect == REGISTRY__JS_2020 && (v = json_object_get(o, "unevaluatedProperties"))) {
        if (!(n->unevaluated_props = child(cs, n, v, "unevaluatedProperties", NULL, 0, -1)))
            return cs->rc;
        n->collects = true;
    }
    if (compile_lookup(cs, n))
        return cs->rc;
    return compile_dependencies(cs, n, o);
}

static int compile_arrays(cstate_t *cs, registry__js_node_t *n, json_t *o)
{
    json_t *items = json_object_get(o, "items");
    json_t *prefix = n->dialect == REGISTRY__JS_2020 ? json_object_get(o, "prefixItems") : NULL;
    json_t *v;
    if (prefix && !(n->prefix = child_array(cs, n, prefix, "prefixItems", &n->nprefix, false)))
        return cs->rc;
    if (json_is_array(items) && !prefix) {
        /* Tuple form (draft-07, 2019-09): the rest is additionalItems. */
        if (!(n->prefix = child_array(cs, n, items, "items", &n->nprefix, true)))
            return cs->rc;
        if ((v = json_object_get(o, "additionalItems")) &&
            !(n->items = child(cs, n, v, "additionalItems", NULL, 0, -1)))
            return cs->rc;
    } else if (items && !(n->items = child(cs, n, items, "items", NULL, 0, -1))) {
        return cs->rc;
    }
    if ((v = json_object_get(o, "contains")) &&
        !(n->contains = child(cs, n, v, "contains", NULL, 0, -1)))
        return cs->rc;
    n->min_contains = 1;
    if (n->dialect == REGISTRY__JS_2020 && (!get_count(cs, n, o, "minContains", &n->min_contains) ||
                                            !get_count(cs, n, o, "maxContains", &n->max_contains)))
        return cs->rc;
    if (!get_count(cs, n, o, "minItems", &n->min_items) ||
        !get_count(cs, n, o, "maxItems", &n->max_items))
        return cs->rc;
    if ((v = json_object_get(o, "uniqueItems"))) {
        if (!json_is_boolean(v)) {
            set_error(cs, n, "uniqueItems", HD_EMALFORMED, "uniqueItems must be a boolean");
            return cs->rc;
        }
        n->unique_items = json_is_true(v);
    }
    if (n->dialect == REGISTRY__JS_2020 && (v = json_object_get(o, "unevaluatedItems"))) {
        if (!(n->unevaluated_items = child(cs, n, v, "unevaluatedItems", NULL, 0, -1)))
            return cs->rc;
        n->collects = true;
    }
    return 0;
}

static int compile_scalars(cstate_t *cs, registry__js_node_t *n, json_t *o)
{
    json_t *v;
    if ((v = json_object_get(o, "type")) && compile_type(cs, n, v))
        return cs->rc;
    if ((v = json_object_get(o, "enum"))) {
        if (!json_is_array(v)) {
            set_error(cs, n, "enum", HD_EMALFORMED, "enum must be an array");
            return cs->rc;
        }
        n->enum_ = v;
        if (!(n->enum_v = flatten(cs, v)))
            return cs->rc;
    }
    if ((v = json_object_get(o, "const"))) {
        n->const_ = v;
        n->has_const = true;
        if (!(n->const_v = flatten(cs, v)))
            return cs->rc;
    }
    if ((v = json_object_get(o, "multipleOf"))) {
        if (!get_number(cs, n, v, "multipleOf", &n->multiple_of))
            return cs->rc;
        if (n->multiple_of <= 0) {
            set_error(cs, n, "multipleOf", HD_EMALFORMED, "multipleOf must be greater than 0");
            return cs->rc;
        }
        n->multiple_of_json = v;
    }
    if (compile_bounds(cs, n, o))
        return cs->rc;
    if (!get_count(cs, n, o, "minLength", &n->min_length) ||
        !get_count(cs, n, o, "maxLength", &n->max_length))
        return cs->rc;
    if ((v = json_object_get(o, "pattern"))) {
        if (!json_is_string(v)) {
            set_error(cs, n, "pattern", HD_EMALFORMED, "pattern must be a string");
            return cs->rc;
        }
        if (node_regex(cs, n, "pattern", json_string_value(v), json_string_length(v), &n->pattern))
            return cs->rc;
    }
    if ((v = json_object_get(o, "format"))) {
        if (!json_is_string(v)) {
            set_error(cs, n, "format", HD_EMALFORMED, "format must be a string");
            return cs->rc;
        }
        n->format = json_string_value(v);
    }
    return 0;
}

static int compile_applicators(cstate_t *cs, registry__js_node_t *n, json_t *o)
{
    json_t *v;
    if ((v = json_object_get(o, "allOf")) &&
        !(n->all_of = child_array(cs, n, v, "allOf", &n->nall_of, false)))
        return cs->rc;
    if ((v = json_object_get(o, "anyOf")) &&
        !(n->any_of = child_array(cs, n, v, "anyOf", &n->nany_of, false)))
        return cs->rc;
    if ((v = json_object_get(o, "oneOf")) &&
        !(n->one_of = child_array(cs, n, v, "oneOf", &n->none_of, false)))
        return cs->rc;
    if ((v = json_object_get(o, "not")) && !(n->not_ = child(cs, n, v, "not", NULL, 0, -1)))
        return cs->rc;
    if ((v = json_object_get(o, "if"))) {
        if (!(n->if_ = child(cs, n, v, "if", NULL, 0, -1)))
            return cs->rc;
        if ((v = json_object_get(o, "then")) && !(n->then_ = child(cs, n, v, "then", NULL, 0, -1)))
            return cs->rc;
        if ((v = json_object_get(o, "else")) && !(n->else_ = child(cs, n, v, "else", NULL, 0, -1)))
            return cs->rc;
    }
    if (n->dialect == REGISTRY__JS_2020 && (v = json_object_get(o, "$dynamicRef")) &&
        !(n->dynamic_ref = compile_ref(cs, n, "$dynamicRef", v)))
        return cs->rc;
    return 0;
}

static int fill_node(cstate_t *cs, registry__js_node_t *n)
{
    n->types = REGISTRY__JS_ALL;
    n->min_length = n->max_length = -1;
    n->min_items = n->max_items = -1;
    n->min_props = n->max_props = -1;
    n->min_contains = 1;
    n->max_contains = -1;
    scope_t *sc = ptrmap_get(&cs->scopes, n->json);
    if (sc) {
        n->base = sc->base;
        n->dialect = sc->dialect;
    } else {
        /* Not indexed (reached by a pointer into data): the scope of whoever reached it. */
        n->base = n->parent ? n->parent->base : "";
        n->dialect = n->parent ? n->parent->dialect : REGISTRY__JS_DRAFT7;
    }
    if (json_is_boolean(n->json)) {
        n->boolean = json_is_true(n->json) ? 1 : 0;
        return 0;
    }
    n->boolean = -1;
    json_t *o = n->json;
    json_t *ref = json_object_get(o, "$ref");
    if (ref && !(n->ref = compile_ref(cs, n, "$ref", ref)))
        return cs->rc;
    if (ref && n->dialect == REGISTRY__JS_DRAFT7)
        return 0; /* draft-07: $ref replaces the whole schema */
    if (compile_scalars(cs, n, o) || compile_arrays(cs, n, o) || compile_objects(cs, n, o) ||
        compile_applicators(cs, n, o))
        return cs->rc;
    n->kw =
        (n->enum_ || n->has_const ? REGISTRY__JS_KW_VALUES : 0) |
        (n->minimum.set || n->maximum.set || n->multiple_of > 0 ? REGISTRY__JS_KW_NUMBER : 0) |
        (n->min_length >= 0 || n->max_length >= 0 || n->pattern.code || n->format
             ? REGISTRY__JS_KW_STRING
             : 0) |
        (n->min_items >= 0 || n->max_items >= 0 || n->nprefix || n->items || n->contains ||
                 n->unique_items
             ? REGISTRY__JS_KW_ARRAY
             : 0) |
        (n->min_props >= 0 || n->max_props >= 0 || n->nrequired || n->ndep_required || n->nprops ||
                 n->npattern_props || n->additional_props || n->property_names || n->ndep_schemas
             ? REGISTRY__JS_KW_OBJECT
             : 0) |
        (n->nall_of || n->nany_of || n->none_of || n->not_ || n->if_ ? REGISTRY__JS_KW_APPLY : 0);
    return 0;
}

int registry_jsonschema_compile(json_t *schema, registry_ref_resolver_fn resolve, void *ctx,
                                unsigned flags, registry_jsonschema_t **out, registry_error_t *err)
{
    if (err)
        memset(err, 0, sizeof *err);
    registry_jsonschema_t *s = hd_calloc(1, sizeof *s);
    hd_arena_init(&s->arena, REGISTRY_JSONSCHEMA_MAX_BYTES);
    s->flags = flags;
    cstate_t cs;
    memset(&cs, 0, sizeof cs);
    cs.s = s;
    cs.resolve = resolve;
    cs.ctx = ctx;
    cs.err = err;
    hd_strmap_init(&cs.resources);
    hd_strmap_init(&cs.anchors);
    if (!schema || (!json_is_object(schema) && !json_is_boolean(schema))) {
        set_error(&cs, NULL, NULL, HD_EMALFORMED, "a schema must be an object or a boolean");
        goto fail;
    }
    hold(s, schema);
    int dialect =
        (flags & REGISTRY_JSONSCHEMA_DEFAULT_2020_12) ? REGISTRY__JS_2020 : REGISTRY__JS_DRAFT7;
    dialect = dialect_of(json_object_get(schema, "$schema"), dialect);
    if (!add_resource(&cs, "", schema, dialect))
        goto fail;
    if (json_is_object(schema) && index_schema(&cs, schema, "", dialect, 0))
        goto fail;
    if (!(s->root = get_node(&cs, schema, NULL, NULL)))
        goto fail;
    while (cs.nwork > 0) {
        registry__js_node_t *n = cs.work[--cs.nwork];
        if (fill_node(&cs, n))
            goto fail;
    }
    if (cs.rc)
        goto fail;
    for (size_t i = 0; i < cs.nodes.cap; i++)
        if (cs.nodes.keys[i])
            registry__js_plan_node(cs.nodes.vals[i]);
    hd_strmap_deinit(&cs.resources);
    hd_strmap_deinit(&cs.anchors);
    ptrmap_deinit(&cs.scopes);
    ptrmap_deinit(&cs.nodes);
    free(cs.work);
    *out = s;
    return 0;
fail:;
    int rc = cs.rc ? cs.rc : HD_EMALFORMED;
    hd_strmap_deinit(&cs.resources);
    hd_strmap_deinit(&cs.anchors);
    ptrmap_deinit(&cs.scopes);
    ptrmap_deinit(&cs.nodes);
    free(cs.work);
    registry_jsonschema_free(s);
    return rc;
}

void registry_jsonschema_free(registry_jsonschema_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->ncodes; i++)
        pcre2_code_free(s->codes[i]);
    free(s->codes);
    for (size_t i = 0; i < s->nheld; i++)
        json_decref(s->held[i]);
    free(s->held);
    hd_arena_deinit(&s->arena);
    free(s);
}
