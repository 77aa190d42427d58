/* The JSON Schema type of the registry: the glue between the registry and the JSON Schema
 * validator (jsonschema.c) and its compatibility rules (jsonschema_compat.c). The build defines
 * REGISTRY_HAVE_JSONSCHEMA when the validator is part of the source tree; without it, JSON
 * schemas are refused as an unsupported type. Payloads are JSON text.
 *
 * Schema references work as in the Confluent registry: a reference's name is what the schema's
 * $ref uses ("$ref": "customer.json" with a reference named "customer.json"), so the resolver
 * maps a URI to the referenced schema whose name is that URI, or whose name ends it (a $ref
 * resolved against an $id base), or whose own $id is that URI. */
#include "registry/registry_int.h"
#include "util/err.h"

#include <stdio.h>
#include <string.h>

#ifdef REGISTRY_HAVE_JSONSCHEMA

typedef struct refs {
    json_t *const *docs;
    const char *const *names;
    int n;
} refs_t;

static json_t *resolve_ref(void *ctx, const char *uri)
{
    const refs_t *r = ctx;
    size_t ul = strlen(uri);
    for (int pass = 0; pass < 3; pass++) {
        for (int i = 0; i < r->n; i++) {
            const char *name = r->names ? r->names[i] : NULL;
            const char *id = json_string_value(json_object_get(r->docs[i], "$id"));
            size_t nl = name ? strlen(name) : 0;
            if (pass == 0 && name && !strcmp(name, uri))
                return r->docs[i];
            if (pass == 1 && name && nl < ul && uri[ul - nl - 1] == '/' &&
                !strcmp(uri + ul - nl, name))
                return r->docs[i];
            if (pass == 2 && id && !strcmp(id, uri))
                return r->docs[i];
        }
    }
    return NULL;
}

static registry_jsonschema_t *compile_doc(json_t *doc, json_t *const *refs,
                                          const char *const *names, int nrefs, char *why,
                                          size_t whylen)
{
    refs_t r = {refs, names, nrefs};
    registry_jsonschema_t *s = NULL;
    registry_error_t err;
    if (registry_jsonschema_compile(doc, resolve_ref, &r, 0, &s, &err) < 0) {
        snprintf(why, whylen, "%s (at %s)", err.message[0] ? err.message : "not a JSON Schema",
                 err.schema_path[0] ? err.schema_path : "#");
        return NULL;
    }
    return s;
}

static int json_check(json_t *doc, json_t *const *refs, const char *const *ref_names, int nrefs,
                      char *why, size_t whylen)
{
    registry_jsonschema_t *s = compile_doc(doc, refs, ref_names, nrefs, why, whylen);
    if (!s)
        return HD_EINVAL;
    registry_jsonschema_free(s);
    return 0;
}

static bool json_compatible(json_t *old_doc, json_t *const *old_refs,
                            const char *const *old_ref_names, int old_nrefs, json_t *new_doc,
                            json_t *const *new_refs, const char *const *new_ref_names,
                            int new_nrefs, int direction, json_t *msgs)
{
    char why[300];
    registry_jsonschema_t *o =
        compile_doc(old_doc, old_refs, old_ref_names, old_nrefs, why, sizeof why);
    registry_jsonschema_t *n =
        o ? compile_doc(new_doc, new_refs, new_ref_names, new_nrefs, why, sizeof why) : NULL;
    if (!o || !n) {
        if (json_is_array(msgs))
            json_array_append_new(msgs, json_sprintf("%s schema: %s", o ? "new" : "old", why));
        registry_jsonschema_free(o);
        return false;
    }
    registry_compat_msgs_t m;
    registry_compat_msgs_init(&m);
    int rc = registry_jsonschema_compat(o, n, direction, &m);
    if (json_is_array(msgs)) {
        for (size_t i = 0; i < m.n; i++)
            json_array_append_new(msgs, json_string(m.msg[i]));
        if (m.dropped)
            json_array_append_new(msgs, json_sprintf("... and %zu more", m.dropped));
    }
    registry_jsonschema_free(o);
    registry_jsonschema_free(n);
    return rc == 0;
}

static void *json_compile(json_t *doc, json_t *const *refs, const char *const *ref_names, int nrefs,
                          char *why, size_t whylen)
{
    return compile_doc(doc, refs, ref_names, nrefs, why, whylen);
}

static void json_free(void *p) { registry_jsonschema_free(p); }

static int json_validate(void *compiled, hd_slice_t payload, char *why, size_t whylen)
{
    json_error_t e;
    registry_error_t err;
    int rc = registry__js_validate_text(compiled, (const char *)payload.p, payload.len, &err, &e);
    if (rc == 0)
        return 0;
    if (rc == HD_EMALFORMED) {
        snprintf(why, whylen, "the payload is not JSON: %s (column %d)", e.text, e.column);
        return HD_EINVAL;
    }
    snprintf(why, whylen, "%s at \"%s\" (keyword %s, schema %s)", err.message, err.instance_path,
             err.keyword[0] ? err.keyword : "?", err.schema_path);
    return HD_EINVAL;
}

static const registry__type_t jsonschema_type = {
    REGISTRY_JSON, json_check, json_compatible, json_compile, json_free, json_validate,
};

const registry__type_t *registry__type_json(void) { return &jsonschema_type; }

#else

const registry__type_t *registry__type_json(void) { return NULL; }

#endif
