/* The event catalog and the console's JSON: GET /catalog, GET /asyncapi.json,
 * GET /health/architecture, GET /console/api/overview and GET /console/api/history. What they show
 * is kept by obs/; this file adds what only the HTTP layer knows: the registry's schemas, the
 * subscriptions (as consumers in the catalog, with their stats in the overview), the server
 * addresses, and which optional features this build serves. */
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

/* Adds each subscription to the consumers of its topic in the catalog. */
static void add_subscriptions(json_t *cat, delivery_t *d)
{
    if (!d)
        return;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(cat, "topics"), i, t)
    {
        const char *topic = json_string_value(json_object_get(t, "topic"));
        json_t *consumers = json_object_get(t, "consumers");
        for (int k = 0; topic && consumers && k < delivery_sub_count(d); k++) {
            delivery_sub_t *s = delivery_sub_at(d, k);
            const delivery_settings_t *st = delivery_sub_settings(s);
            if (strcmp(st->topic, topic) != 0)
                continue;
            delivery_stats_t ds;
            delivery_sub_stats(s, &ds);
            json_t *c = json_object();
            json_object_set_new(c, "kind", json_string("subscription"));
            json_object_set_new(c, "id", json_string(st->name));
            json_object_set_new(c, "backlog", json_integer(ds.backlog));
            json_object_set_new(c, "in_flight", json_integer(ds.in_flight));
            json_object_set_new(c, "dead_lettered", json_integer(ds.dead_lettered));
            if (st->filter_type)
                json_object_set_new(c, "filter_type", json_string(st->filter_type));
            json_array_append_new(consumers, c);
        }
    }
}

static json_t *catalog(http_req_t *r)
{
    json_t *cat = obs_catalog_json(r->broker, resolve_schema, r->srv->registry);
    add_subscriptions(cat, r->srv->delivery);
    return cat;
}

void http__catalog(http_req_t *r) { http_respond_json(r, 200, catalog(r)); }

/* obs_subject_exists_fn over the registry. */
static bool subject_exists(void *ctx, const char *subject)
{
    registry_t *reg = ctx;
    int32_t *vs = NULL;
    registry_err_t err;
    int n = reg ? registry_versions(reg, subject, false, &vs, &err) : -1;
    free(vs);
    return n > 0;
}

/* obs_sub_topic_fn over the delivery engine. */
static const char *sub_topic(void *ctx, const char *name)
{
    delivery_sub_t *s = ctx ? delivery_sub_find(ctx, name) : NULL;
    return s ? delivery_sub_settings(s)->topic : NULL;
}

void http__architecture(http_req_t *r)
{
    json_t *cat = catalog(r);
    json_t *j = obs_doctor_json(r->broker, cat, r->srv->registry ? subject_exists : NULL,
                                r->srv->registry, sub_topic, r->srv->delivery);
    json_decref(cat);
    http_respond_json(r, 200, j);
}

void http__asyncapi(http_req_t *r)
{
    json_t *cat = catalog(r);
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

/* Every subscription with its settings that matter to an operator and its stats. */
static json_t *subscriptions(delivery_t *d)
{
    json_t *arr = json_array();
    for (int i = 0; i < delivery_sub_count(d); i++) {
        delivery_sub_t *s = delivery_sub_at(d, i);
        const delivery_settings_t *st = delivery_sub_settings(s);
        delivery_stats_t ds;
        delivery_sub_stats(s, &ds);
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(st->name));
        json_object_set_new(o, "topic", json_string(st->topic));
        json_object_set_new(o, "max_deliveries", json_integer(st->max_deliveries));
        json_object_set_new(o, "dead_letter_topic",
                            st->dead_letter_topic && st->dead_letter_topic[0]
                                ? json_string(st->dead_letter_topic)
                                : json_null());
        json_object_set_new(o, "ordering",
                            json_string(st->ordering == DELIVERY_ORDER_KEY ? "key" : "none"));
        json_object_set_new(o, "backlog", json_integer(ds.backlog));
        json_object_set_new(o, "in_flight", json_integer(ds.in_flight));
        json_object_set_new(o, "scheduled", json_integer(ds.scheduled));
        json_object_set_new(o, "dead_lettered", json_integer(ds.dead_lettered));
        json_object_set_new(o, "oldest_unacked_ms", json_integer(ds.oldest_unacked_ms));
        json_array_append_new(arr, o);
    }
    return arr;
}

void http__console_overview(http_req_t *r)
{
    json_t *j = obs_overview_json(r->broker);
    if (r->srv->delivery)
        json_object_set_new(j, "subscriptions", subscriptions(r->srv->delivery));
    /* Pages of features this build does not have are not shown; each feature that lands
     * reports itself here. */
    json_t *f = json_object();
    json_object_set_new(f, "catalog", json_boolean(r->cfg->catalog_enable));
    json_object_set_new(f, "registry", json_boolean(r->srv->registry != NULL));
    json_object_set_new(f, "subscriptions", json_boolean(r->srv->delivery != NULL));
    json_object_set_new(f, "webhooks", json_false());
    json_object_set_new(j, "features", f);
    http_respond_json(r, 200, j);
}

void http__console_history(http_req_t *r) { http_respond_json(r, 200, obs_history_json()); }
