/* The event catalog and the console's JSON: GET /catalog, GET /asyncapi.json,
 * GET /console/api/overview and GET /console/api/history. What they show is kept by obs/; this
 * file adds what only the HTTP layer knows: the registry's schemas, the server addresses, and
 * which optional features this build serves. */
#include "http/http_int.h"
#include "obs/obs.h"

#include <stdlib.h>
#include <string.h>

/* obs_schema_resolver_fn over the schema registry: the schema with that id and the first
 * subject and version that use it. */
static bool resolve_schema(void *ctx, int32_t id, obs_schema_info_t *out)
{
    registry_t *reg = ctx;
    const registry_schema_t *s;
    registry_err_t err;
    if (!reg || registry_schema_get(reg, id, &s, &err) < 0)
        return false;
    registry_version_t *vs = NULL;
    int n = registry_schema_versions(reg, id, true, &vs, &err);
    if (n <= 0) {
        free(vs);
        return false;
    }
    out->subject = vs[0].subject;
    out->version = vs[0].version;
    out->type = registry_type_name(registry_schema_type(s));
    out->text = registry_schema_text(s);
    /* The pointers belong to the registry and stay valid until it changes; the array does
     * not, so only its first element's fields were copied. */
    free(vs);
    return true;
}

void http__catalog(http_req_t *r)
{
    http_respond_json(r, 200, obs_catalog_json(r->broker, resolve_schema, r->srv->registry));
}

void http__asyncapi(http_req_t *r)
{
    json_t *cat = obs_catalog_json(r->broker, resolve_schema, r->srv->registry);
    const char *kafka = r->cfg->advertised_addr && r->cfg->advertised_addr[0]
                            ? r->cfg->advertised_addr
                            : r->cfg->kafka_addr;
    /* The HTTP server is where this request came: the Host header names it as the client sees
     * it (bounded, and only when it looks like a host). */
    const char *host = http_req_header(r, "host");
    if (host && (strlen(host) > 255 || strpbrk(host, " \t\"\\/")))
        host = NULL;
    json_t *doc = obs_asyncapi(cat, kafka, host);
    json_decref(cat);
    http_respond_json(r, 200, doc);
}

void http__console_overview(http_req_t *r)
{
    json_t *j = obs_overview_json(r->broker);
    /* Pages of features this build does not have are not shown; each feature that lands
     * reports itself here. */
    json_t *f = json_object();
    json_object_set_new(f, "catalog", json_boolean(r->cfg->catalog_enable));
    json_object_set_new(f, "registry", json_boolean(r->srv->registry != NULL));
    json_object_set_new(f, "subscriptions", json_false());
    json_object_set_new(f, "webhooks", json_false());
    json_object_set_new(j, "features", f);
    http_respond_json(r, 200, j);
}

void http__console_history(http_req_t *r) { http_respond_json(r, 200, obs_history_json()); }
