/* Avro compatibility: can data written with one schema (the writer's) be read with another (the
 * reader's)? The rules are the Avro specification's schema resolution:
 *   - the same primitive type; or a promotion: int to long, float or double; long to float or
 *     double; float to double; string to bytes and bytes to string;
 *   - records with the same name (unqualified, or a reader alias): each reader field is read
 *     from the writer field of the same name (or one of its aliases), else it needs a default;
 *     writer fields the reader lacks are skipped;
 *   - enums with the same name: every writer symbol is a reader symbol, unless the reader has
 *     a default symbol;
 *   - fixed types with the same name and size;
 *   - arrays whose items, and maps whose values, resolve;
 *   - a writer union: every branch resolves against the reader; a reader union (writer not a
 *     union): some branch resolves against the writer.
 * Recursive types are handled by assuming a pair of named types resolves while it is being
 * checked. Each failure is reported in the form Confluent's registry uses:
 *   {errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'...', additionalInfo:'f'} */
#include "registry/registry_int.h"
#include "util/mem.h"

#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 256
#define MAX_ASSUMED 512

typedef struct rctx {
    const avro_node_t *assumed[MAX_ASSUMED][2];
    int nassumed;
    json_t *msgs;
    bool failed;
} rctx_t;

static void report(rctx_t *c, const char *type, const char *path, const char *info, const char *fmt,
                   ...) __attribute__((format(printf, 5, 6)));
static void report(rctx_t *c, const char *type, const char *path, const char *info, const char *fmt,
                   ...)
{
    c->failed = true;
    if (!json_is_array(c->msgs))
        return;
    char desc[400], msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(desc, sizeof desc, fmt, ap);
    va_end(ap);
    snprintf(msg, sizeof msg,
             "{errorType:'%s', description:'%s at path '%s'', additionalInfo:'%s'}", type, desc,
             path[0] ? path : "/", info);
    json_array_append_new(c->msgs, json_string(msg));
}

static bool aliased(const avro_node_t *reader, const char *writer_name)
{
    size_t i;
    json_t *v;
    json_array_foreach(reader->aliases, i, v)
    {
        const char *a = json_string_value(v);
        const char *dot = strrchr(a, '.');
        if (!strcmp(dot ? dot + 1 : a, writer_name))
            return true;
    }
    return false;
}

static bool names_match(const avro_node_t *r, const avro_node_t *w)
{
    return !strcmp(r->name, w->name) || aliased(r, w->name);
}

static bool promotable(int w, int r)
{
    switch (w) {
    case AVRO_K_INT:
        return r == AVRO_K_LONG || r == AVRO_K_FLOAT || r == AVRO_K_DOUBLE;
    case AVRO_K_LONG:
        return r == AVRO_K_FLOAT || r == AVRO_K_DOUBLE;
    case AVRO_K_FLOAT:
        return r == AVRO_K_DOUBLE;
    case AVRO_K_STRING:
        return r == AVRO_K_BYTES;
    case AVRO_K_BYTES:
        return r == AVRO_K_STRING;
    }
    return false;
}

static bool resolve(rctx_t *c, const avro_node_t *r, const avro_node_t *w, char *path, int depth);

/* Resolves without reporting (to pick a union branch). */
static bool quiet(rctx_t *c, const avro_node_t *r, const avro_node_t *w, char *path, int depth)
{
    json_t *msgs = c->msgs;
    bool failed = c->failed;
    c->msgs = NULL;
    c->failed = false;
    bool ok = resolve(c, r, w, path, depth) && !c->failed;
    c->msgs = msgs;
    c->failed = failed;
    return ok;
}

static const char *node_desc(const avro_node_t *n)
{
    return n->fullname ? n->fullname : registry__avro_kind_name(n->kind);
}

static bool resolve_record(rctx_t *c, const avro_node_t *r, const avro_node_t *w, char *path,
                           int depth)
{
    bool ok = true;
    size_t plen = strlen(path);
    for (int i = 0; i < r->nfields; i++) {
        const avro_field_t *rf = &r->fields[i];
        const avro_field_t *wf = NULL;
        for (int k = 0; k < w->nfields && !wf; k++)
            if (!strcmp(w->fields[k].name, rf->name))
                wf = &w->fields[k];
        for (int k = 0; k < w->nfields && !wf && rf->aliases; k++) {
            size_t ai;
            json_t *a;
            json_array_foreach(rf->aliases, ai, a)
            {
                if (json_is_string(a) && !strcmp(json_string_value(a), w->fields[k].name))
                    wf = &w->fields[k];
            }
        }
        snprintf(path + plen, 512 - plen, "/fields/%d", i);
        if (!wf) {
            if (!rf->def) {
                report(c, "READER_FIELD_MISSING_DEFAULT_VALUE", path, rf->name,
                       "The field '%s' in the reader's record '%s' has no default value and is "
                       "missing in the writer's",
                       rf->name, r->fullname);
                ok = false;
            }
            continue;
        }
        char tp[16];
        snprintf(tp, sizeof tp, "/type");
        strncat(path, tp, 511 - strlen(path));
        if (!resolve(c, rf->type, wf->type, path, depth + 1))
            ok = false;
    }
    path[plen] = '\0';
    return ok;
}

static bool resolve(rctx_t *c, const avro_node_t *r, const avro_node_t *w, char *path, int depth)
{
    if (depth > MAX_DEPTH)
        return true;
    size_t plen = strlen(path);
    if (w->kind == AVRO_K_UNION) {
        bool ok = true;
        for (int i = 0; i < w->nsub; i++) {
            const avro_node_t *wb = w->sub[i];
            if (r->kind == AVRO_K_UNION) {
                bool any = false;
                for (int k = 0; k < r->nsub && !any; k++)
                    any = quiet(c, r->sub[k], wb, path, depth + 1);
                if (!any) {
                    snprintf(path + plen, 512 - plen, "/%d", i);
                    report(c, "MISSING_UNION_BRANCH", path, node_desc(wb),
                           "The reader's union lacks a branch that reads the writer's %s",
                           node_desc(wb));
                    path[plen] = '\0';
                    ok = false;
                }
            } else if (!resolve(c, r, wb, path, depth + 1)) {
                ok = false;
            }
        }
        return ok;
    }
    if (r->kind == AVRO_K_UNION) {
        for (int k = 0; k < r->nsub; k++)
            if (quiet(c, r->sub[k], w, path, depth + 1))
                return true;
        report(c, "MISSING_UNION_BRANCH", path, node_desc(w),
               "The reader's union has no branch that reads the writer's %s", node_desc(w));
        return false;
    }
    if (r->kind != w->kind) {
        if (promotable(w->kind, r->kind))
            return true;
        report(c, "TYPE_MISMATCH", path, registry__avro_kind_name(r->kind),
               "The type %s of the reader does not match the writer's %s", node_desc(r),
               node_desc(w));
        return false;
    }
    switch (r->kind) {
    case AVRO_K_ARRAY:
        strncat(path, "/items", 511 - plen);
        bool ai = resolve(c, r->sub[0], w->sub[0], path, depth + 1);
        path[plen] = '\0';
        return ai;
    case AVRO_K_MAP:
        strncat(path, "/values", 511 - plen);
        bool mv = resolve(c, r->sub[0], w->sub[0], path, depth + 1);
        path[plen] = '\0';
        return mv;
    case AVRO_K_RECORD:
    case AVRO_K_ENUM:
    case AVRO_K_FIXED:
        break;
    default:
        return true; /* the same primitive */
    }
    if (!names_match(r, w)) {
        report(c, "NAME_MISMATCH", path, r->name,
               "The reader's type name '%s' does not match the writer's '%s'", r->fullname,
               w->fullname);
        return false;
    }
    if (r->kind == AVRO_K_FIXED) {
        if (r->size == w->size)
            return true;
        report(c, "FIXED_SIZE_MISMATCH", path, r->fullname,
               "The size of fixed '%s' is %lld in the reader and %lld in the writer", r->fullname,
               (long long)r->size, (long long)w->size);
        return false;
    }
    if (r->kind == AVRO_K_ENUM) {
        if (r->has_enum_default)
            return true;
        char missing[300] = "";
        size_t i;
        json_t *ws;
        json_array_foreach(w->symbols, i, ws)
        {
            bool found = false;
            for (size_t k = 0; k < json_array_size(r->symbols) && !found; k++)
                found = json_equal(ws, json_array_get(r->symbols, k));
            if (!found) {
                size_t l = strlen(missing);
                snprintf(missing + l, sizeof missing - l, "%s%s", l ? ", " : "",
                         json_string_value(ws));
            }
        }
        if (!missing[0])
            return true;
        report(c, "MISSING_ENUM_SYMBOLS", path, missing,
               "The reader's enum '%s' lacks the writer's symbols [%s]", r->fullname, missing);
        return false;
    }
    /* Records: a pair already being checked further up is assumed to resolve (recursion). */
    for (int i = 0; i < c->nassumed; i++)
        if (c->assumed[i][0] == r && c->assumed[i][1] == w)
            return true;
    if (c->nassumed == MAX_ASSUMED)
        return true;
    c->assumed[c->nassumed][0] = r;
    c->assumed[c->nassumed][1] = w;
    c->nassumed++;
    bool ok = resolve_record(c, r, w, path, depth);
    c->nassumed--;
    return ok;
}

bool registry__avro_resolve(const avro_node_t *reader, const avro_node_t *writer, json_t *msgs)
{
    rctx_t *c = hd_calloc(1, sizeof *c);
    c->msgs = msgs;
    char path[512] = "";
    bool ok = resolve(c, reader, writer, path, 0) && !c->failed;
    free(c);
    return ok;
}

bool registry_avro_compatible(json_t *reader, json_t *writer, json_t *msgs)
{
    char why[256];
    registry__avro_t *r = registry__avro_parse(reader, NULL, 0, why, sizeof why);
    registry__avro_t *w = registry__avro_parse(writer, NULL, 0, why, sizeof why);
    bool ok = r && w;
    if (!ok && json_is_array(msgs))
        json_array_append_new(msgs, json_string(why));
    if (ok)
        ok = registry__avro_resolve(registry__avro_root(r), registry__avro_root(w), msgs);
    registry__avro_free(r);
    registry__avro_free(w);
    return ok;
}
