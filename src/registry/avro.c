/* Avro schemas: parsing a schema's JSON into a graph of nodes (checking names, fields, unions
 * and defaults as the Avro specification requires), a second opinion from libavro's own parser,
 * and the bounded decoding of binary payloads against a schema (validation on produce).
 *
 * Payloads are decoded here, walking the schema graph, rather than with libavro's value reader:
 * a payload comes from a producer and is not trusted, and libavro allocates whatever length a
 * string or block claims before checking it against the bytes there. Every length is checked
 * against the bytes left, block counts are bounded, and nesting is limited. */
#include "registry/registry_int.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/reader.h"
#include "util/utf8.h"

#include <avro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 128
#define MAX_ITEMS (1 << 20) /* array items and map entries in one payload */

struct registry__avro {
    avro_node_t *root;
    avro_node_t **nodes; /* every node allocated, to free */
    int nnodes, cap;
    hd_strmap_t names; /* full name -> node */
    char **strs;       /* full names owned */
    int nstrs, capstrs;
    json_t *keep; /* the documents the nodes point into */
};

typedef struct parse_ctx {
    registry__avro_t *a;
    char *why;
    size_t whylen;
    bool failed;
} parse_ctx_t;

static const struct {
    const char *name;
    int kind;
} prims[] = {
    {"null", AVRO_K_NULL},   {"boolean", AVRO_K_BOOLEAN}, {"int", AVRO_K_INT},
    {"long", AVRO_K_LONG},   {"float", AVRO_K_FLOAT},     {"double", AVRO_K_DOUBLE},
    {"bytes", AVRO_K_BYTES}, {"string", AVRO_K_STRING},
};

static avro_node_t prim_nodes[] = {
    {.kind = AVRO_K_NULL},  {.kind = AVRO_K_BOOLEAN}, {.kind = AVRO_K_INT},
    {.kind = AVRO_K_LONG},  {.kind = AVRO_K_FLOAT},   {.kind = AVRO_K_DOUBLE},
    {.kind = AVRO_K_BYTES}, {.kind = AVRO_K_STRING},
};

const char *registry__avro_kind_name(int kind)
{
    static const char *const names[] = {"null",   "boolean", "int",    "long",   "float",
                                        "double", "bytes",   "string", "record", "enum",
                                        "fixed",  "array",   "map",    "union"};
    return kind >= 0 && kind < (int)HD_ARRAY_LEN(names) ? names[kind] : "?";
}

static int prim_kind(const char *s)
{
    for (size_t i = 0; i < HD_ARRAY_LEN(prims); i++)
        if (!strcmp(prims[i].name, s))
            return prims[i].kind;
    return -1;
}

static bool fail(parse_ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(parse_ctx_t *c, const char *fmt, ...)
{
    if (!c->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->why, c->whylen, fmt, ap);
        va_end(ap);
        c->failed = true;
    }
    return false;
}

static avro_node_t *node_new(registry__avro_t *a, int kind)
{
    avro_node_t *n = hd_calloc(1, sizeof *n);
    n->kind = kind;
    if (a->nnodes == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 16;
        a->nodes = hd_realloc(a->nodes, sizeof *a->nodes * (size_t)a->cap);
    }
    a->nodes[a->nnodes++] = n;
    return n;
}

static const char *own(registry__avro_t *a, char *s)
{
    if (a->nstrs == a->capstrs) {
        a->capstrs = a->capstrs ? 2 * a->capstrs : 16;
        a->strs = hd_realloc(a->strs, sizeof *a->strs * (size_t)a->capstrs);
    }
    a->strs[a->nstrs++] = s;
    return s;
}

/* [A-Za-z_][A-Za-z0-9_]* */
static bool name_ok(const char *s, size_t n)
{
    if (n == 0 || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

/* Dot-separated names ("" is the null namespace). */
static bool dotted_ok(const char *s)
{
    if (!*s)
        return true;
    for (;;) {
        const char *d = strchr(s, '.');
        size_t n = d ? (size_t)(d - s) : strlen(s);
        if (!name_ok(s, n))
            return false;
        if (!d)
            return true;
        s = d + 1;
    }
}

static char *join_name(const char *ns, const char *name)
{
    size_t n = strlen(ns) + strlen(name) + 2;
    char *s = hd_malloc(n);
    if (*ns)
        snprintf(s, n, "%s.%s", ns, name);
    else
        snprintf(s, n, "%s", name);
    return s;
}

static avro_node_t *lookup(registry__avro_t *a, const char *ns, const char *name)
{
    if (strchr(name, '.'))
        return hd_strmap_get(&a->names, name);
    char *full = join_name(ns, name);
    avro_node_t *n = hd_strmap_get(&a->names, full);
    free(full);
    /* A name without a namespace also resolves in the null namespace, as Avro's Java parser
     * does, so a type from a reference keeps working inside a namespaced record. */
    return n ? n : hd_strmap_get(&a->names, name);
}

static avro_node_t *build(parse_ctx_t *c, json_t *j, const char *ns, const char *path, int depth);
static bool default_ok(const avro_node_t *n, json_t *d, int depth);

/* Defines a named type: name, namespace, full name, aliases. */
static bool define(parse_ctx_t *c, json_t *j, avro_node_t *n, const char *ns, const char *path,
                   const char **own_ns)
{
    json_t *jn = json_object_get(j, "name"), *jns = json_object_get(j, "namespace");
    if (!json_is_string(jn))
        return fail(c, "%s: a %s needs a \"name\"", path, registry__avro_kind_name(n->kind));
    const char *name = json_string_value(jn);
    if (jns && !json_is_string(jns) && !json_is_null(jns))
        return fail(c, "%s: \"namespace\" must be a string", path);
    char *full;
    if (strchr(name, '.')) {
        if (!dotted_ok(name))
            return fail(c, "%s: invalid name '%s'", path, name);
        full = hd_strdup(name);
    } else {
        if (!name_ok(name, strlen(name)))
            return fail(c, "%s: invalid name '%s'", path, name);
        const char *space = json_is_string(jns) ? json_string_value(jns) : ns;
        if (!dotted_ok(space))
            return fail(c, "%s: invalid namespace '%s'", path, space);
        full = join_name(space, name);
    }
    own(c->a, full);
    if (prim_kind(full) >= 0)
        return fail(c, "%s: '%s' is a primitive type and cannot be redefined", path, full);
    if (hd_strmap_get(&c->a->names, full))
        return fail(c, "%s: the type '%s' is defined twice", path, full);
    n->fullname = full;
    const char *dot = strrchr(full, '.');
    n->name = dot ? dot + 1 : full;
    /* The namespace of what is nested: this type's own. */
    *own_ns = own(c->a, dot ? hd_strndup(full, (size_t)(dot - full)) : hd_strdup(""));
    json_t *al = json_object_get(j, "aliases");
    if (al) {
        size_t i;
        json_t *v;
        if (!json_is_array(al))
            return fail(c, "%s: \"aliases\" must be an array of names", path);
        json_array_foreach(
            al, i, v) if (!json_is_string(v) ||
                          !dotted_ok(json_string_value(
                              v))) return fail(c, "%s: \"aliases\" must be an array of names",
                                               path);
        n->aliases = al;
    }
    hd_strmap_put(&c->a->names, full, n);
    return true;
}

static avro_node_t *build_record(parse_ctx_t *c, json_t *j, const char *ns, const char *path,
                                 int depth)
{
    avro_node_t *n = node_new(c->a, AVRO_K_RECORD);
    const char *rns;
    if (!define(c, j, n, ns, path, &rns))
        return NULL;
    json_t *fields = json_object_get(j, "fields");
    if (!json_is_array(fields))
        return fail(c, "%s: record '%s' needs a \"fields\" array", path, n->fullname), NULL;
    size_t nf = json_array_size(fields);
    n->fields = hd_calloc(nf ? nf : 1, sizeof *n->fields);
    for (size_t i = 0; i < nf; i++) {
        json_t *f = json_array_get(fields, i);
        char fpath[256];
        snprintf(fpath, sizeof fpath, "%s/fields/%zu", path, i);
        json_t *fname = json_object_get(f, "name");
        if (!json_is_object(f) || !json_is_string(fname) ||
            !name_ok(json_string_value(fname), strlen(json_string_value(fname))))
            return fail(c, "%s: a field needs a valid \"name\"", fpath), NULL;
        const char *name = json_string_value(fname);
        for (int k = 0; k < n->nfields; k++)
            if (!strcmp(n->fields[k].name, name))
                return fail(c, "%s: record '%s' has two fields named '%s'", fpath, n->fullname,
                            name),
                       NULL;
        json_t *ft = json_object_get(f, "type");
        if (!ft)
            return fail(c, "%s: field '%s' needs a \"type\"", fpath, name), NULL;
        char tpath[300];
        snprintf(tpath, sizeof tpath, "%s/type", fpath);
        avro_node_t *t = build(c, ft, rns, tpath, depth + 1);
        if (!t)
            return NULL;
        avro_field_t *af = &n->fields[n->nfields++];
        af->name = name;
        af->type = t;
        af->def = json_object_get(f, "default");
        json_t *al = json_object_get(f, "aliases");
        af->aliases = json_is_array(al) ? al : NULL;
        if (af->def && !default_ok(t, af->def, 0))
            return fail(c, "%s: the default of field '%s' is not a valid %s", fpath, name,
                        registry__avro_kind_name(
                            t->kind == AVRO_K_UNION && t->nsub ? t->sub[0]->kind : t->kind)),
                   NULL;
    }
    return n;
}

static avro_node_t *build_object(parse_ctx_t *c, json_t *j, const char *ns, const char *path,
                                 int depth)
{
    json_t *jt = json_object_get(j, "type");
    if (!jt)
        return fail(c, "%s: a schema object needs a \"type\"", path), NULL;
    if (!json_is_string(jt))
        return build(c, jt, ns, path, depth + 1);
    const char *t = json_string_value(jt);
    int pk = prim_kind(t);
    if (pk >= 0)
        return &prim_nodes[pk];
    if (!strcmp(t, "record") || !strcmp(t, "error"))
        return build_record(c, j, ns, path, depth);
    if (!strcmp(t, "enum")) {
        avro_node_t *n = node_new(c->a, AVRO_K_ENUM);
        const char *ens;
        if (!define(c, j, n, ns, path, &ens))
            return NULL;
        json_t *sy = json_object_get(j, "symbols");
        if (!json_is_array(sy))
            return fail(c, "%s: enum '%s' needs a \"symbols\" array", path, n->fullname), NULL;
        for (size_t i = 0; i < json_array_size(sy); i++) {
            json_t *s = json_array_get(sy, i);
            if (!json_is_string(s) || !name_ok(json_string_value(s), strlen(json_string_value(s))))
                return fail(c, "%s: enum '%s' has an invalid symbol", path, n->fullname), NULL;
            for (size_t k = 0; k < i; k++)
                if (json_equal(s, json_array_get(sy, k)))
                    return fail(c, "%s: enum '%s' repeats the symbol '%s'", path, n->fullname,
                                json_string_value(s)),
                           NULL;
        }
        n->symbols = sy;
        json_t *d = json_object_get(j, "default");
        if (d) {
            bool found = false;
            for (size_t i = 0; json_is_string(d) && i < json_array_size(sy); i++)
                found = found || json_equal(d, json_array_get(sy, i));
            if (!found)
                return fail(c, "%s: the default of enum '%s' is not one of its symbols", path,
                            n->fullname),
                       NULL;
            n->has_enum_default = true;
        }
        return n;
    }
    if (!strcmp(t, "fixed")) {
        avro_node_t *n = node_new(c->a, AVRO_K_FIXED);
        const char *fns;
        if (!define(c, j, n, ns, path, &fns))
            return NULL;
        json_t *sz = json_object_get(j, "size");
        if (!json_is_integer(sz) || json_integer_value(sz) < 0 ||
            json_integer_value(sz) > INT32_MAX)
            return fail(c, "%s: fixed '%s' needs a \"size\" >= 0", path, n->fullname), NULL;
        n->size = json_integer_value(sz);
        return n;
    }
    if (!strcmp(t, "array") || !strcmp(t, "map")) {
        bool arr = t[0] == 'a';
        json_t *sub = json_object_get(j, arr ? "items" : "values");
        if (!sub)
            return fail(c, "%s: %s needs \"%s\"", path, t, arr ? "items" : "values"), NULL;
        avro_node_t *n = node_new(c->a, arr ? AVRO_K_ARRAY : AVRO_K_MAP);
        char sp[300];
        snprintf(sp, sizeof sp, "%s/%s", path, arr ? "items" : "values");
        n->sub = hd_malloc(sizeof *n->sub);
        n->sub[0] = build(c, sub, ns, sp, depth + 1);
        if (!n->sub[0])
            return NULL;
        n->nsub = 1;
        return n;
    }
    avro_node_t *named = lookup(c->a, ns, t);
    if (named)
        return named;
    return fail(c, "%s: unknown type '%s'", path, t), NULL;
}

static avro_node_t *build(parse_ctx_t *c, json_t *j, const char *ns, const char *path, int depth)
{
    if (depth > MAX_DEPTH)
        return fail(c, "%s: nested too deeply", path), NULL;
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        int pk = prim_kind(s);
        if (pk >= 0)
            return &prim_nodes[pk];
        avro_node_t *n = lookup(c->a, ns, s);
        if (!n)
            return fail(c, "%s: unknown type '%s'", path, s), NULL;
        return n;
    }
    if (json_is_object(j))
        return build_object(c, j, ns, path, depth);
    if (json_is_array(j)) {
        avro_node_t *n = node_new(c->a, AVRO_K_UNION);
        size_t nb = json_array_size(j);
        n->sub = hd_calloc(nb ? nb : 1, sizeof *n->sub);
        for (size_t i = 0; i < nb; i++) {
            char bp[300];
            snprintf(bp, sizeof bp, "%s/%zu", path, i);
            avro_node_t *b = build(c, json_array_get(j, i), ns, bp, depth + 1);
            if (!b)
                return NULL;
            if (b->kind == AVRO_K_UNION)
                return fail(c, "%s: a union may not directly contain a union", bp), NULL;
            for (int k = 0; k < n->nsub; k++) {
                const avro_node_t *o = n->sub[k];
                bool named = b->fullname != NULL;
                if (o->kind == b->kind && (!named || !strcmp(o->fullname, b->fullname)))
                    return fail(c, "%s: the union already has a branch of type %s", bp,
                                named ? b->fullname : registry__avro_kind_name(b->kind)),
                           NULL;
            }
            n->sub[n->nsub++] = b;
        }
        return n;
    }
    return fail(c, "%s: a schema is a string, an object or an array (a union)", path), NULL;
}

/* The spec: a default matches the field's type (for a union, Avro's Java parser accepts any
 * branch, and so do we). */
static bool default_ok(const avro_node_t *n, json_t *d, int depth)
{
    if (depth > MAX_DEPTH)
        return false;
    switch (n->kind) {
    case AVRO_K_NULL:
        return json_is_null(d);
    case AVRO_K_BOOLEAN:
        return json_is_boolean(d);
    case AVRO_K_INT:
        return json_is_integer(d) && json_integer_value(d) >= INT32_MIN &&
               json_integer_value(d) <= INT32_MAX;
    case AVRO_K_LONG:
        return json_is_integer(d);
    case AVRO_K_FLOAT:
    case AVRO_K_DOUBLE:
        return json_is_number(d) || json_is_string(d); /* "NaN", "Infinity" */
    case AVRO_K_BYTES:
    case AVRO_K_STRING:
    case AVRO_K_FIXED:
        return json_is_string(d);
    case AVRO_K_ENUM:
        for (size_t i = 0; json_is_string(d) && i < json_array_size(n->symbols); i++)
            if (json_equal(d, json_array_get(n->symbols, i)))
                return true;
        return false;
    case AVRO_K_ARRAY: {
        if (!json_is_array(d))
            return false;
        size_t i;
        json_t *v;
        json_array_foreach(d, i, v) if (!default_ok(n->sub[0], v, depth + 1)) return false;
        return true;
    }
    case AVRO_K_MAP: {
        if (!json_is_object(d))
            return false;
        const char *k;
        json_t *v;
        json_object_foreach(d, k, v) if (!default_ok(n->sub[0], v, depth + 1)) return false;
        return true;
    }
    case AVRO_K_RECORD:
        if (!json_is_object(d))
            return false;
        for (int i = 0; i < n->nfields; i++) {
            json_t *v = json_object_get(d, n->fields[i].name);
            if (v ? !default_ok(n->fields[i].type, v, depth + 1) : !n->fields[i].def)
                return false;
        }
        return true;
    case AVRO_K_UNION:
        for (int i = 0; i < n->nsub; i++)
            if (default_ok(n->sub[i], d, depth + 1))
                return true;
        return false;
    }
    return false;
}

/* Collects the named types a referenced schema defines (its own and nested ones). */
static bool add_ref(parse_ctx_t *c, json_t *ref)
{
    return build(c, ref, "", "reference", 0) != NULL;
}

registry__avro_t *registry__avro_parse(json_t *doc, json_t *const *refs, int nrefs, char *why,
                                       size_t whylen)
{
    registry__avro_t *a = hd_calloc(1, sizeof *a);
    hd_strmap_init(&a->names);
    a->keep = json_array();
    parse_ctx_t c = {a, why, whylen, false};
    for (int i = 0; i < nrefs; i++) {
        json_array_append(a->keep, refs[i]);
        if (!add_ref(&c, refs[i]))
            goto fail;
    }
    json_array_append(a->keep, doc);
    a->root = build(&c, doc, "", "schema", 0);
    if (!a->root)
        goto fail;
    return a;
fail:
    registry__avro_free(a);
    return NULL;
}

void registry__avro_free(registry__avro_t *a)
{
    if (!a)
        return;
    for (int i = 0; i < a->nnodes; i++) {
        free(a->nodes[i]->sub);
        free(a->nodes[i]->fields);
        free(a->nodes[i]);
    }
    free(a->nodes);
    for (int i = 0; i < a->nstrs; i++)
        free(a->strs[i]);
    free(a->strs);
    hd_strmap_deinit(&a->names);
    json_decref(a->keep);
    free(a);
}

const avro_node_t *registry__avro_root(const registry__avro_t *a) { return a->root; }

/* ---- libavro's opinion ---- */

/* A reference's name matches a use by its full or its unqualified name. */
static bool same_name(const char *ref, const char *use)
{
    const char *dot = strrchr(ref, '.');
    return !strcmp(ref, use) || (dot && !strchr(use, '.') && !strcmp(dot + 1, use));
}

/* Inlines each referenced schema at the first place the document names it, so that libavro
 * (which knows nothing of references) sees every type defined before use. */
static json_t *inline_refs(json_t *j, json_t *const *refs, const char *const *names, int nrefs,
                           bool *used, int depth)
{
    if (depth > MAX_DEPTH)
        return json_incref(j);
    if (json_is_string(j)) {
        for (int i = 0; i < nrefs; i++)
            if (!used[i] && names[i] && same_name(names[i], json_string_value(j))) {
                used[i] = true;
                return json_deep_copy(refs[i]);
            }
        return json_incref(j);
    }
    if (json_is_array(j)) {
        json_t *out = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
            json_array_append_new(out, inline_refs(v, refs, names, nrefs, used, depth + 1));
        return out;
    }
    if (!json_is_object(j))
        return json_incref(j);
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        bool type_pos = !strcmp(k, "type") || !strcmp(k, "items") || !strcmp(k, "values");
        if (!strcmp(k, "fields") && json_is_array(v)) {
            json_t *fs = json_array();
            size_t i;
            json_t *f;
            json_array_foreach(v, i, f)
            {
                json_t *nf = json_is_object(f) ? json_copy(f) : json_incref(f);
                json_t *ft = json_object_get(nf, "type");
                if (ft)
                    json_object_set_new(nf, "type",
                                        inline_refs(ft, refs, names, nrefs, used, depth + 1));
                json_array_append_new(fs, nf);
            }
            json_object_set_new(out, k, fs);
        } else if (type_pos) {
            json_object_set_new(out, k, inline_refs(v, refs, names, nrefs, used, depth + 1));
        } else {
            json_object_set(out, k, v);
        }
    }
    return out;
}

static int avro_check(json_t *doc, json_t *const *refs, const char *const *ref_names, int nrefs,
                      char *why, size_t whylen)
{
    registry__avro_t *a = registry__avro_parse(doc, refs, nrefs, why, whylen);
    if (!a)
        return HD_EINVAL;
    registry__avro_free(a);
    bool used[REGISTRY_MAX_REFS] = {false};
    json_t *full = nrefs ? inline_refs(doc, refs, ref_names, nrefs, used, 0) : json_incref(doc);
    char *text = json_dumps(full, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(full);
    int rc = 0;
    avro_schema_t s;
    if (!text || avro_schema_from_json_length(text, strlen(text), &s) != 0) {
        snprintf(why, whylen, "libavro rejects the schema: %s", text ? avro_strerror() : "?");
        rc = HD_EINVAL;
    } else {
        avro_schema_decref(s);
    }
    free(text);
    return rc;
}

/* ---- decoding payloads ---- */

/* One step of the path to the value being decoded: a record field, or an array item or map
 * entry by its index in its block. Kept as a stack and written out only when a record fails, so
 * that a good record costs no formatting. */
typedef struct dec_step {
    const char *field; /* NULL: an item or entry, `index` */
    int64_t index;
} dec_step_t;

typedef struct dec {
    hd_reader_t r;
    int64_t items;
    char *why;
    size_t whylen;
    dec_step_t path[MAX_DEPTH + 2]; /* each level of decode() pushes at most one step */
    int nsteps;
    bool failed;
} dec_t;

static bool dfail(dec_t *d, const char *what)
{
    if (!d->failed) {
        char path[256] = "";
        size_t n = 0;
        for (int i = 0; i < d->nsteps && n < sizeof path - 1; i++) {
            const dec_step_t *st = &d->path[i];
            int w = st->field ? snprintf(path + n, sizeof path - n, ".%s", st->field)
                              : snprintf(path + n, sizeof path - n, "[%lld]", (long long)st->index);
            if (w > 0) /* snprintf truncates at the end of the buffer: so does the path */
                n = n + (size_t)w >= sizeof path ? sizeof path - 1 : n + (size_t)w;
        }
        snprintf(d->why, d->whylen, "Avro payload invalid at %s: %s", path[0] ? path : "/", what);
        d->failed = true;
    }
    return false;
}

static bool decode(dec_t *d, const avro_node_t *n, int depth);

static bool decode_len(dec_t *d, int64_t *len)
{
    *len = hd_read_varlong(&d->r);
    if (d->r.err)
        return dfail(d, "truncated length");
    if (*len < 0 || (uint64_t)*len > hd_reader_left(&d->r))
        return dfail(d, "a length runs past the end of the payload");
    return true;
}

static bool decode_blocks(dec_t *d, const avro_node_t *n, bool map, int depth)
{
    for (;;) {
        int64_t count = hd_read_varlong(&d->r);
        if (d->r.err)
            return dfail(d, "truncated block count");
        if (count == 0)
            return true;
        if (count < 0) {
            if (count == INT64_MIN)
                return dfail(d, "invalid block count");
            count = -count;
            int64_t bytes;
            if (!decode_len(d, &bytes))
                return false;
        }
        if (count > MAX_ITEMS - d->items)
            return dfail(d, "too many array items or map entries");
        d->items += count;
        for (int64_t i = 0; i < count; i++) {
            if (map) {
                int64_t kl;
                if (!decode_len(d, &kl))
                    return false;
                hd_slice_t k = hd_read_bytes(&d->r, (size_t)kl);
                if (!hd_utf8_valid(k.p, k.len))
                    return dfail(d, "a map key is not UTF-8");
            }
            d->path[d->nsteps++] = (dec_step_t){NULL, i};
            bool ok = decode(d, n->sub[0], depth + 1);
            d->nsteps--;
            if (!ok)
                return false;
        }
    }
}

static bool decode(dec_t *d, const avro_node_t *n, int depth)
{
    if (depth > MAX_DEPTH)
        return dfail(d, "nested too deeply");
    switch (n->kind) {
    case AVRO_K_NULL:
        return true;
    case AVRO_K_BOOLEAN: {
        int8_t v = hd_read_i8(&d->r);
        if (d->r.err)
            return dfail(d, "expected a boolean, the payload ended");
        if (v != 0 && v != 1)
            return dfail(d, "a boolean byte is neither 0 nor 1");
        return true;
    }
    case AVRO_K_INT:
        hd_read_varint(&d->r);
        return d->r.err ? dfail(d, "expected an int (zigzag varint)") : true;
    case AVRO_K_LONG:
        hd_read_varlong(&d->r);
        return d->r.err ? dfail(d, "expected a long (zigzag varint)") : true;
    case AVRO_K_FLOAT:
        hd_read_skip(&d->r, 4);
        return d->r.err ? dfail(d, "expected a float (4 bytes)") : true;
    case AVRO_K_DOUBLE:
        hd_read_skip(&d->r, 8);
        return d->r.err ? dfail(d, "expected a double (8 bytes)") : true;
    case AVRO_K_BYTES:
    case AVRO_K_STRING: {
        int64_t len;
        if (!decode_len(d, &len))
            return false;
        hd_slice_t s = hd_read_bytes(&d->r, (size_t)len);
        if (n->kind == AVRO_K_STRING && !hd_utf8_valid(s.p, s.len))
            return dfail(d, "a string is not valid UTF-8");
        return true;
    }
    case AVRO_K_FIXED:
        hd_read_skip(&d->r, (size_t)n->size);
        return d->r.err ? dfail(d, "a fixed value is cut short") : true;
    case AVRO_K_ENUM: {
        int64_t i = hd_read_varlong(&d->r);
        if (d->r.err || i < 0 || (size_t)i >= json_array_size(n->symbols))
            return dfail(d, "an enum index is out of range");
        return true;
    }
    case AVRO_K_UNION: {
        int64_t i = hd_read_varlong(&d->r);
        if (d->r.err || i < 0 || i >= n->nsub)
            return dfail(d, "a union branch index is out of range");
        return decode(d, n->sub[i], depth + 1);
    }
    case AVRO_K_ARRAY:
    case AVRO_K_MAP:
        return decode_blocks(d, n, n->kind == AVRO_K_MAP, depth);
    case AVRO_K_RECORD: {
        for (int i = 0; i < n->nfields; i++) {
            d->path[d->nsteps++] = (dec_step_t){n->fields[i].name, 0};
            bool ok = decode(d, n->fields[i].type, depth + 1);
            d->nsteps--;
            if (!ok)
                return false;
        }
        return true;
    }
    }
    return dfail(d, "unknown type");
}

int registry__avro_decode(const registry__avro_t *a, hd_slice_t payload, char *why, size_t whylen)
{
    /* Field by field: an initialiser would clear the whole path stack for every record. */
    dec_t d;
    d.r = hd_reader_init(payload);
    d.items = 0;
    d.why = why;
    d.whylen = whylen;
    d.nsteps = 0;
    d.failed = false;
    if (!decode(&d, a->root, 0))
        return HD_EINVAL;
    if (hd_reader_left(&d.r)) {
        snprintf(why, whylen, "Avro payload invalid: %zu bytes left over after the record",
                 hd_reader_left(&d.r));
        return HD_EINVAL;
    }
    return 0;
}

/* ---- the type table entry ---- */

static bool avro_compatible(json_t *old_doc, json_t *const *old_refs,
                            const char *const *old_ref_names, int old_nrefs, json_t *new_doc,
                            json_t *const *new_refs, const char *const *new_ref_names,
                            int new_nrefs, int direction, json_t *msgs)
{
    (void)old_ref_names; /* Avro references define named types: their names are inside */
    (void)new_ref_names;
    char why[256];
    registry__avro_t *o = registry__avro_parse(old_doc, old_refs, old_nrefs, why, sizeof why);
    registry__avro_t *n = registry__avro_parse(new_doc, new_refs, new_nrefs, why, sizeof why);
    bool ok = o && n;
    if (!ok && json_is_array(msgs))
        json_array_append_new(msgs, json_string(why));
    if (ok && (direction & REGISTRY_DIR_BACKWARD))
        ok = registry__avro_resolve(n->root, o->root, msgs);
    if (ok && (direction & REGISTRY_DIR_FORWARD))
        ok = registry__avro_resolve(o->root, n->root, msgs);
    registry__avro_free(o);
    registry__avro_free(n);
    return ok;
}

static void *avro_compile(json_t *doc, json_t *const *refs, const char *const *ref_names, int nrefs,
                          char *why, size_t whylen)
{
    (void)ref_names;
    return registry__avro_parse(doc, refs, nrefs, why, whylen);
}

static void avro_free_compiled(void *p) { registry__avro_free(p); }

static int avro_validate(void *compiled, hd_slice_t payload, char *why, size_t whylen)
{
    return registry__avro_decode(compiled, payload, why, whylen);
}

static const registry__type_t avro_type = {
    REGISTRY_AVRO, avro_check, avro_compatible, avro_compile, avro_free_compiled, avro_validate,
};

const registry__type_t *registry__type_avro(void) { return &avro_type; }
