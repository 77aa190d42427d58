/* The JSON Schema type of the registry: the glue between the registry and the JSON Schema
 * validator (jsonschema.c) and its compatibility rules (jsonschema_compat.c). The build defines
 * REGISTRY_HAVE_JSONSCHEMA when the validator is part of the source tree; without it, JSON
 * schemas are refused as an unsupported type. Payloads are JSON text. */
#include "registry/registry_int.h"
#include "util/err.h"

#include <stdio.h>

#ifdef REGISTRY_HAVE_JSONSCHEMA

/* References of JSON schemas are not resolved here: $ref to another subject's schema is left
 * to the validator, which sees only the schema itself. */
static int json_check(json_t *doc, json_t *const *refs, const char *const *ref_names, int nrefs,
                      char *why, size_t whylen)
{
    (void)refs;
    (void)ref_names;
    (void)nrefs;
    registry_jsonschema_t *s = NULL;
    const char *reason = NULL;
    if (registry_jsonschema_compile(doc, &s, &reason) < 0) {
        snprintf(why, whylen, "%s", reason ? reason : "not a valid JSON Schema");
        return HD_EINVAL;
    }
    registry_jsonschema_free(s);
    return 0;
}

static bool json_compatible(json_t *old_doc, json_t *const *old_refs, int old_nrefs,
                            json_t *new_doc, json_t *const *new_refs, int new_nrefs, int direction,
                            json_t *msgs)
{
    (void)old_refs;
    (void)old_nrefs;
    (void)new_refs;
    (void)new_nrefs;
    return registry_jsonschema_compat(old_doc, new_doc, direction, msgs) == 0;
}

static void *json_compile(json_t *doc, json_t *const *refs, int nrefs, char *why, size_t whylen)
{
    (void)refs;
    (void)nrefs;
    registry_jsonschema_t *s = NULL;
    const char *reason = NULL;
    if (registry_jsonschema_compile(doc, &s, &reason) < 0) {
        snprintf(why, whylen, "%s", reason ? reason : "not a valid JSON Schema");
        return NULL;
    }
    return s;
}

static void json_free(void *p) { registry_jsonschema_free(p); }

static int json_validate(void *compiled, hd_slice_t payload, char *why, size_t whylen)
{
    json_error_t e;
    json_t *j = json_loadb((const char *)payload.p, payload.len, JSON_DECODE_ANY, &e);
    if (!j) {
        snprintf(why, whylen, "the payload is not JSON: %s (column %d)", e.text, e.column);
        return HD_EINVAL;
    }
    int rc = registry_jsonschema_validate(compiled, j, why, whylen);
    json_decref(j);
    return rc < 0 ? HD_EINVAL : 0;
}

static const registry__type_t json_type = {
    REGISTRY_JSON, json_check, json_compatible, json_compile, json_free, json_validate,
};

const registry__type_t *registry__type_json(void) { return &json_type; }

#else

const registry__type_t *registry__type_json(void) { return NULL; }

#endif
