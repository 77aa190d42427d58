/* The event catalog as an AsyncAPI 3.0.0 document (GET /asyncapi.json), derived from
 * obs_catalog_json()'s result:
 *   - one channel per topic (its id and address are the topic name, which is always a legal
 *     AsyncAPI key), with the Kafka binding giving its partitions;
 *   - one message per event type seen on the topic, in components/messages, referenced from
 *     the channel. Its id is "<topic>.<type>" with characters other than [A-Za-z0-9._-] made
 *     '_' (and a numeric suffix if two types collide). A type whose registry schema is known
 *     carries it as payload (Avro as application/vnd.apache.avro+json;version=1.9.0, JSON
 *     Schema as application/schema+json;version=draft-07); a CloudEvent describes its ce_*
 *     headers (binary mode) and its sample as an example;
 *   - a "send" operation per topic that has types (its producers' client ids in
 *     x-herald-producers) and a "receive" operation per topic that has consumers (groups and
 *     streams in x-herald-consumers; the groups also in the Kafka operation binding). */
#include "obs/obs.h"

#include <stdio.h>
#include <string.h>

#define KAFKA_BINDING_VERSION "0.5.0"
#define AVRO_FORMAT "application/vnd.apache.avro+json;version=1.9.0"
#define JSON_SCHEMA_FORMAT "application/schema+json;version=draft-07"

/* A component key made of the allowed characters only. */
static void key_of(char *out, size_t cap, const char *topic, const char *type)
{
    int n = snprintf(out, cap, "%s.%s", topic, type);
    if (n < 0)
        out[0] = '\0';
    for (char *p = out; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            *p = '_';
    }
}

static json_t *ref(const char *fmt, const char *a, const char *b)
{
    char buf[1200];
    snprintf(buf, sizeof buf, fmt, a, b);
    json_t *o = json_object();
    json_object_set_new(o, "$ref", json_string(buf));
    return o;
}

static json_t *string_schema(const char *constant, const char *desc)
{
    json_t *s = json_object();
    json_object_set_new(s, "type", json_string("string"));
    if (constant)
        json_object_set_new(s, "const", json_string(constant));
    if (desc)
        json_object_set_new(s, "description", json_string(desc));
    return s;
}

/* The binary-mode CloudEvents headers of a type (Kafka protocol binding). */
static json_t *ce_headers(const char *type)
{
    json_t *props = json_object();
    json_object_set_new(props, "ce_specversion", string_schema("1.0", NULL));
    json_object_set_new(props, "ce_type", string_schema(type, NULL));
    json_object_set_new(props, "ce_id", string_schema(NULL, "Identifies the event."));
    json_object_set_new(props, "ce_source", string_schema(NULL, "Where the event happened."));
    json_object_set_new(props, "ce_time", string_schema(NULL, "RFC 3339 time of the event."));
    json_object_set_new(props, "content-type", string_schema(NULL, "Media type of the data."));
    json_t *h = json_object();
    json_object_set_new(h, "type", json_string("object"));
    json_object_set_new(h, "properties", props);
    return h;
}

static json_t *message(const json_t *ty, const char *topic)
{
    const char *type = json_string_value(json_object_get(ty, "type"));
    const char *kind = json_string_value(json_object_get(ty, "kind"));
    json_t *m = json_object();
    json_object_set_new(m, "name", json_string(type ? type : ""));
    json_object_set_new(m, "title", json_string(type ? type : ""));
    char summary[600];
    snprintf(summary, sizeof summary, "%s records on %s",
             kind && !strcmp(kind, "cloudevents") ? "CloudEvents"
             : kind && !strcmp(kind, "schema")    ? "Schema-registry encoded"
                                                  : "Untyped",
             topic);
    json_object_set_new(m, "summary", json_string(summary));
    const char *ctype = json_string_value(json_object_get(ty, "content_type"));
    const json_t *schema = json_object_get(ty, "schema");
    const json_t *body = schema ? json_object_get(schema, "schema") : NULL;
    const char *stype = schema ? json_string_value(json_object_get(schema, "schemaType")) : NULL;
    if (body && stype && !strcmp(stype, "AVRO")) {
        json_t *p = json_object();
        json_object_set_new(p, "schemaFormat", json_string(AVRO_FORMAT));
        json_object_set(p, "schema", (json_t *)body);
        json_object_set_new(m, "payload", p);
        json_object_set_new(m, "contentType", json_string("application/octet-stream"));
    } else if (body && stype && !strcmp(stype, "JSON") && json_is_object(body)) {
        json_t *p = json_object();
        json_object_set_new(p, "schemaFormat", json_string(JSON_SCHEMA_FORMAT));
        json_object_set(p, "schema", (json_t *)body);
        json_object_set_new(m, "payload", p);
        json_object_set_new(m, "contentType", json_string("application/octet-stream"));
    } else if (ctype) {
        json_object_set_new(m, "contentType", json_string(ctype));
    }
    if (kind && !strcmp(kind, "cloudevents") && type)
        json_object_set_new(m, "headers", ce_headers(type));
    const json_t *sample = json_object_get(ty, "sample");
    const json_t *value = sample ? json_object_get(sample, "value") : NULL;
    if (value && !json_is_null(value) && !json_object_get(m, "payload")) {
        json_t *ex = json_object();
        json_object_set_new(ex, "name", json_string("recent"));
        json_object_set_new(ex, "summary", json_string("A record seen on the topic"));
        json_object_set(ex, "payload", (json_t *)value);
        json_t *exs = json_array();
        json_array_append_new(exs, ex);
        json_object_set_new(m, "examples", exs);
    }
    json_t *x = json_object();
    json_object_set(x, "records", json_object_get(ty, "records"));
    json_object_set(x, "first_seen", json_object_get(ty, "first_seen"));
    json_object_set(x, "last_seen", json_object_get(ty, "last_seen"));
    if (schema)
        json_object_set(x, "schema_id", json_object_get(schema, "id"));
    json_object_set_new(m, "x-herald", x);
    return m;
}

json_t *obs_asyncapi(const json_t *catalog, const char *kafka_host, const char *http_host)
{
    json_t *doc = json_object();
    json_object_set_new(doc, "asyncapi", json_string("3.0.0"));
    json_t *info = json_object();
    json_object_set_new(info, "title", json_string("Herald event catalog"));
    json_object_set_new(info, "version", json_string("1.0.0"));
    json_object_set_new(info, "description",
                        json_string("Event types Herald has seen on its topics since it "
                                    "started, with their producers and consumers."));
    json_object_set_new(doc, "info", info);
    json_t *servers = json_object();
    if (kafka_host) {
        json_t *s = json_object();
        json_object_set_new(s, "host", json_string(kafka_host));
        json_object_set_new(s, "protocol", json_string("kafka"));
        json_object_set_new(s, "description", json_string("Herald's Kafka listener"));
        json_object_set_new(servers, "kafka", s);
    }
    if (http_host) {
        json_t *s = json_object();
        json_object_set_new(s, "host", json_string(http_host));
        json_object_set_new(s, "protocol", json_string("http"));
        json_object_set_new(s, "description", json_string("Herald's HTTP API"));
        json_object_set_new(servers, "http", s);
    }
    json_object_set_new(doc, "servers", servers);
    json_t *channels = json_object(), *operations = json_object(), *msgs = json_object();
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(catalog, "topics"), i, t)
    {
        const char *topic = json_string_value(json_object_get(t, "topic"));
        if (!topic)
            continue;
        json_t *ch = json_object();
        json_object_set_new(ch, "address", json_string(topic));
        json_t *cmsgs = json_object();
        json_t *send_refs = json_array(), *producers = json_array();
        size_t k;
        json_t *ty;
        json_array_foreach(json_object_get(t, "types"), k, ty)
        {
            const char *type = json_string_value(json_object_get(ty, "type"));
            char key[600], uniq[620];
            key_of(key, sizeof key, topic, type ? type : "untyped");
            snprintf(uniq, sizeof uniq, "%s", key);
            for (int n = 2; json_object_get(msgs, uniq); n++)
                snprintf(uniq, sizeof uniq, "%s-%d", key, n);
            json_object_set_new(msgs, uniq, message(ty, topic));
            json_object_set_new(cmsgs, uniq, ref("#/components/messages/%s%s", uniq, ""));
            json_array_append_new(send_refs, ref("#/channels/%s/messages/%s", topic, uniq));
            size_t q;
            json_t *pr;
            json_array_foreach(json_object_get(ty, "producers"), q, pr)
            {
                json_t *id = json_object_get(pr, "client_id");
                bool dup = false;
                size_t z;
                json_t *e;
                json_array_foreach(producers, z, e) dup = dup || json_equal(e, id);
                if (!dup)
                    json_array_append(producers, id);
            }
        }
        json_object_set_new(ch, "messages", cmsgs);
        json_t *kb = json_object();
        json_object_set_new(kb, "topic", json_string(topic));
        json_object_set(kb, "partitions", json_object_get(t, "partitions"));
        json_object_set_new(kb, "bindingVersion", json_string(KAFKA_BINDING_VERSION));
        json_t *bind = json_object();
        json_object_set_new(bind, "kafka", kb);
        json_object_set_new(ch, "bindings", bind);
        json_object_set_new(channels, topic, ch);

        char opid[300];
        if (json_array_size(send_refs) > 0) {
            json_t *op = json_object();
            json_object_set_new(op, "action", json_string("send"));
            json_object_set_new(op, "channel", ref("#/channels/%s%s", topic, ""));
            json_object_set(op, "messages", send_refs);
            json_object_set_new(op, "summary", json_string("Producers of the topic"));
            json_object_set_new(op, "x-herald-producers", producers);
            producers = NULL;
            snprintf(opid, sizeof opid, "%s.send", topic);
            json_object_set_new(operations, opid, op);
        }
        json_decref(producers);
        const json_t *consumers = json_object_get(t, "consumers");
        if (json_array_size(consumers) > 0) {
            json_t *op = json_object();
            json_object_set_new(op, "action", json_string("receive"));
            json_object_set_new(op, "channel", ref("#/channels/%s%s", topic, ""));
            json_object_set(op, "messages", send_refs);
            json_object_set_new(op, "summary", json_string("Consumers of the topic"));
            json_object_set(op, "x-herald-consumers", (json_t *)consumers);
            json_t *groups = json_array();
            size_t q;
            json_t *c;
            json_array_foreach(consumers, q, c)
            {
                const char *ck = json_string_value(json_object_get(c, "kind"));
                if (ck && !strcmp(ck, "group"))
                    json_array_append(groups, json_object_get(c, "id"));
            }
            if (json_array_size(groups) > 0) {
                json_t *gs = json_object();
                json_object_set_new(gs, "type", json_string("string"));
                json_object_set_new(gs, "enum", groups);
                json_t *ob = json_object();
                json_object_set_new(ob, "groupId", gs);
                json_object_set_new(ob, "bindingVersion", json_string(KAFKA_BINDING_VERSION));
                json_t *b = json_object();
                json_object_set_new(b, "kafka", ob);
                json_object_set_new(op, "bindings", b);
            } else {
                json_decref(groups);
            }
            snprintf(opid, sizeof opid, "%s.receive", topic);
            json_object_set_new(operations, opid, op);
        }
        json_decref(send_refs);
    }
    json_object_set_new(doc, "channels", channels);
    json_object_set_new(doc, "operations", operations);
    json_t *comp = json_object();
    json_object_set_new(comp, "messages", msgs);
    json_object_set_new(doc, "components", comp);
    return doc;
}
