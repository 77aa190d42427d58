/* REST: the schema registry, compatible with the Confluent Schema Registry API so that its
 * serializers and tools work unchanged. Served on the HTTP listener and, when
 * registry.listeners is set, on a listener of its own.
 *
 *   GET    /schemas/types                        ["AVRO", "JSON"]
 *   GET    /schemas/ids/{id}[/schema|/versions|/subjects]
 *   GET    /subjects                             ?deleted=true ?subjectPrefix=
 *   GET    /subjects/{s}/versions                ?deleted=true
 *   POST   /subjects/{s}/versions                {"schema", "schemaType", "references"} -> {"id"}
 *   GET    /subjects/{s}/versions/{v}[/schema]   v: 1.., "latest" or -1
 *   POST   /subjects/{s}                         look a schema up -> the version
 *   DELETE /subjects/{s}[/versions/{v}]          soft, then ?permanent=true
 *   POST   /compatibility/subjects/{s}/versions[/{v}]   ?verbose=true
 *   GET|PUT|DELETE /config[/{s}]                 compatibility levels
 *   GET    /mode                                 {"mode": "READWRITE"}
 *
 * Answers are application/vnd.schemaregistry.v1+json; errors are the registry's own
 * {"error_code": 40401, "message": "..."} with the matching HTTP status. Changes are answered
 * once they are durable in the registry's log. */
#include "http/http_int.h"
#include "obs/obs.h"
#include "registry/registry.h"
#include "util/err.h"
#include "util/mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SR_TYPE "application/vnd.schemaregistry.v1+json"

static void sr_json(http_req_t *r, int status, json_t *j)
{
    http_respond_json_type(r, status, SR_TYPE, j);
}

static void sr_error(http_req_t *r, int status, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void sr_error(http_req_t *r, int status, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *j = json_object();
    json_object_set_new(j, "error_code", json_integer(code));
    json_object_set_new(j, "message", json_string(msg));
    sr_json(r, status, j);
}

static void sr_fail(http_req_t *r, const registry_err_t *err)
{
    sr_error(r, registry_err_status(err->code), err->code, "%s", err->message);
}

/* The registry, or NULL after answering 404 when this server has none. */
static registry_t *reg_of(http_req_t *r)
{
    registry_t *reg = r->srv->registry;
    if (!reg)
        sr_error(r, 404, 404, "the schema registry is not enabled");
    return reg;
}

static bool query_true(http_req_t *r, const char *name)
{
    const char *v = http_query(r, name);
    return v && (!strcmp(v, "true") || !strcmp(v, ""));
}

/* The JSON body (media type JSON-like, octet-stream or none). NULL after answering. */
static json_t *sr_body(http_req_t *r)
{
    const char *m = http_req_media_type(r);
    size_t n = strlen(m);
    if (n && strcmp(m, "application/json") && strcmp(m, "application/octet-stream") &&
        !(n > 5 && !strcmp(m + n - 5, "+json"))) {
        sr_error(r, 415, 415, "unsupported media type '%s' (send %s or application/json)", m,
                 SR_TYPE);
        return NULL;
    }
    json_error_t e;
    json_t *j = json_loadb((const char *)r->body.p, r->body.len, JSON_REJECT_DUPLICATES, &e);
    if (!j) {
        sr_error(r, 400, 400, "the body is not valid JSON: %s (line %d, column %d)", e.text, e.line,
                 e.column);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        sr_error(r, 422, 422, "the body must be a JSON object");
        return NULL;
    }
    return j;
}

/* Decodes {"schema", "schemaType", "references"} into in (refs in the arena). Answers and
 * returns -1 when it is not one. */
static int schema_in(http_req_t *r, json_t *body, registry_schema_in_t *in)
{
    json_t *schema = json_object_get(body, "schema");
    json_t *type = json_object_get(body, "schemaType");
    json_t *refs = json_object_get(body, "references");
    memset(in, 0, sizeof *in);
    if (!json_is_string(schema) || json_string_length(schema) == 0) {
        sr_error(r, 422, REGISTRY_EINVALID_SCHEMA, "Invalid schema: \"schema\" must be a string");
        return -1;
    }
    in->text = json_string_value(schema);
    in->len = json_string_length(schema);
    in->type = REGISTRY_AVRO;
    if (type && !json_is_null(type)) {
        in->type = registry_type_parse(json_string_value(type));
        if (in->type < 0) {
            sr_error(r, 422, REGISTRY_EINVALID_SCHEMA, "Invalid schema type %s",
                     json_is_string(type) ? json_string_value(type) : "(not a string)");
            return -1;
        }
    }
    if (refs && !json_is_null(refs)) {
        if (!json_is_array(refs) || json_array_size(refs) > 64) {
            sr_error(r, 422, REGISTRY_EINVALID_SCHEMA,
                     "Invalid schema: \"references\" must be an array of at most 64 entries");
            return -1;
        }
        size_t n = json_array_size(refs);
        registry_ref_t *rr = hd_arena_alloc(&r->arena, sizeof *rr * (n ? n : 1));
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_array_get(refs, i);
            json_t *v = json_object_get(e, "version");
            rr[i].name = json_string_value(json_object_get(e, "name"));
            rr[i].subject = json_string_value(json_object_get(e, "subject"));
            if (!rr[i].name || !rr[i].subject || !json_is_integer(v) || json_integer_value(v) < 1 ||
                json_integer_value(v) > INT32_MAX) {
                sr_error(r, 422, REGISTRY_EINVALID_SCHEMA,
                         "Invalid schema: references[%zu] needs \"name\", \"subject\" and a "
                         "\"version\" >= 1",
                         i);
                return -1;
            }
            rr[i].version = (int32_t)json_integer_value(v);
        }
        in->refs = rr;
        in->nrefs = (int)n;
    }
    return 0;
}

static void put_schema_fields(json_t *j, const registry_schema_t *s)
{
    if (registry_schema_type(s) != REGISTRY_AVRO)
        json_object_set_new(j, "schemaType",
                            json_string(registry_type_name(registry_schema_type(s))));
    const registry_ref_t *refs;
    int n = registry_schema_refs(s, &refs);
    if (n > 0) {
        json_t *a = json_array();
        for (int i = 0; i < n; i++) {
            json_t *o = json_object();
            json_object_set_new(o, "name", json_string(refs[i].name));
            json_object_set_new(o, "subject", json_string(refs[i].subject));
            json_object_set_new(o, "version", json_integer(refs[i].version));
            json_array_append_new(a, o);
        }
        json_object_set_new(j, "references", a);
    }
    json_object_set_new(j, "schema", json_string(registry_schema_text(s)));
}

static json_t *version_json(const registry_version_t *v)
{
    json_t *j = json_object();
    json_object_set_new(j, "subject", json_string(v->subject));
    json_object_set_new(j, "version", json_integer(v->version));
    json_object_set_new(j, "id", json_integer(registry_schema_id(v->schema)));
    put_schema_fields(j, v->schema);
    return j;
}

/* ---- answering once durable ---- */

typedef struct durable {
    broker_waiter_t w;
    http_req_t *r;
    json_t *answer;
} durable_t;

static void durable_abort(http_req_t *r)
{
    durable_t *d = r->state;
    broker_waiter_cancel(&d->w);
    json_decref(d->answer);
    d->answer = NULL;
}

static void on_durable(broker_waiter_t *w, int err)
{
    durable_t *d = w->ctx;
    http_req_t *r = d->r;
    json_t *answer = d->answer;
    d->answer = NULL;
    r->on_abort = NULL;
    if (err) {
        json_decref(answer);
        sr_error(r, 500, REGISTRY_ESTORE, "Error in the backend data store: %s",
                 err == HD_ECLOSED ? "the server is shutting down; the change may not be durable"
                                   : hd_strerror(err));
        return;
    }
    sr_json(r, 200, answer);
}

/* Answers `answer` (stolen) once the registry's log is durable up to at. */
static void answer_durable(http_req_t *r, registry_t *reg, int64_t at, json_t *answer)
{
    durable_t *d = hd_arena_alloc(&r->arena, sizeof *d);
    d->r = r;
    d->answer = answer;
    d->w.cb = on_durable;
    d->w.ctx = d;
    r->state = d;
    r->on_abort = durable_abort;
    registry_wait(reg, at, &d->w);
}

/* ---- handlers ---- */

void http__sr_types(http_req_t *r)
{
    json_t *a = json_array();
    for (int t = REGISTRY_AVRO; t <= REGISTRY_PROTOBUF; t++)
        if (registry_type_supported(t))
            json_array_append_new(a, json_string(registry_type_name(t)));
    sr_json(r, 200, a);
}

static bool parse_id(http_req_t *r, const char *s, int32_t *id)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < 1 || v > INT32_MAX) {
        sr_error(r, 404, REGISTRY_ESCHEMA_NOT_FOUND, "Schema %s not found", s);
        return false;
    }
    *id = (int32_t)v;
    return true;
}

static const registry_schema_t *schema_by_id(http_req_t *r, registry_t **regp)
{
    registry_t *reg = reg_of(r);
    int32_t id;
    const registry_schema_t *s;
    registry_err_t err;
    if (!reg || !parse_id(r, r->params[0], &id))
        return NULL;
    if (registry_schema_get(reg, id, &s, &err) < 0) {
        sr_fail(r, &err);
        return NULL;
    }
    if (regp)
        *regp = reg;
    return s;
}

void http__sr_schema_by_id(http_req_t *r)
{
    const registry_schema_t *s = schema_by_id(r, NULL);
    if (!s)
        return;
    json_t *j = json_object();
    put_schema_fields(j, s);
    sr_json(r, 200, j);
}

void http__sr_schema_text_by_id(http_req_t *r)
{
    const registry_schema_t *s = schema_by_id(r, NULL);
    if (s)
        http_respond(r, 200, SR_TYPE, registry_schema_text(s), strlen(registry_schema_text(s)));
}

static void schema_usages(http_req_t *r, bool subjects_only)
{
    registry_t *reg;
    const registry_schema_t *s = schema_by_id(r, &reg);
    if (!s)
        return;
    registry_version_t *v;
    registry_err_t err;
    int n =
        registry_schema_versions(reg, registry_schema_id(s), query_true(r, "deleted"), &v, &err);
    if (n < 0) {
        sr_fail(r, &err);
        return;
    }
    json_t *a = json_array();
    for (int i = 0; i < n; i++) {
        if (subjects_only) {
            if (i == 0 || strcmp(v[i].subject, v[i - 1].subject))
                json_array_append_new(a, json_string(v[i].subject));
            continue;
        }
        json_t *o = json_object();
        json_object_set_new(o, "subject", json_string(v[i].subject));
        json_object_set_new(o, "version", json_integer(v[i].version));
        json_array_append_new(a, o);
    }
    free(v);
    sr_json(r, 200, a);
}

void http__sr_schema_versions(http_req_t *r) { schema_usages(r, false); }
void http__sr_schema_subjects(http_req_t *r) { schema_usages(r, true); }

void http__sr_subjects(http_req_t *r)
{
    registry_t *reg = reg_of(r);
    if (!reg)
        return;
    const char **names;
    const char *prefix = http_query(r, "subjectPrefix");
    int n = registry_subjects(reg, query_true(r, "deleted"), &names);
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        if (!prefix || !strncmp(names[i], prefix, strlen(prefix)))
            json_array_append_new(a, json_string(names[i]));
    free(names);
    sr_json(r, 200, a);
}

void http__sr_versions(http_req_t *r)
{
    registry_t *reg = reg_of(r);
    if (!reg)
        return;
    int32_t *v;
    registry_err_t err;
    int n = registry_versions(reg, r->params[0], query_true(r, "deleted"), &v, &err);
    if (n < 0) {
        sr_fail(r, &err);
        return;
    }
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_integer(v[i]));
    free(v);
    sr_json(r, 200, a);
}

void http__sr_register(http_req_t *r)
{
    registry_t *reg = reg_of(r);
    json_t *body = reg ? sr_body(r) : NULL;
    registry_schema_in_t in;
    if (!body)
        return;
    if (schema_in(r, body, &in) == 0) {
        int32_t id;
        int64_t at;
        registry_err_t err;
        if (registry_register(reg, r->params[0], &in, &id, &at, &err) < 0) {
            /* A breaking change attempted: the architecture check counts them. */
            if (err.code == REGISTRY_EINCOMPATIBLE)
                obs_doctor_incompatible(r->params[0]);
            sr_fail(r, &err);
        } else {
            json_t *j = json_object();
            json_object_set_new(j, "id", json_integer(id));
            answer_durable(r, reg, at, j);
        }
    }
    json_decref(body);
}

void http__sr_version_get(http_req_t *r)
{
    registry_t *reg = reg_of(r);
    registry_version_t v;
    registry_err_t err;
    if (!reg)
        return;
    if (registry_version_get(reg, r->params[0], r->params[1], query_true(r, "deleted"), &v, &err) <
        0) {
        sr_fail(r, &err);
        return;
    }
    sr_json(r, 200, version_json(&v));
}

void http__sr_version_schema(http_req_t *r)
{
    registry_t *reg = reg_of(r);
    registry_version_t v;
    registry_err_t err;
    if (!reg)
        return;
    if (registry_version_get(reg, r->params[0], r->params[1], query_true(r, "deleted"), &v, &err) <
        0) {
        sr_fail(r, &err);
        return;
    }
    const char *t = registry_schema_text(v.schema);
    http_respond(r, 200, SR_TYPE, t, strlen(t));
}

void http__sr_lookup(http_req_t *r)
{
    registry_t *reg = reg_of(r);
    json_t *body = reg ? sr_body(r) : NULL;
    registry_schema_in_t in;
    if (!body)
        return;
    if (schema_in(r, body, &in) == 0) {
        registry_version_t v;
        registry_err_t err;
        if (registry_lookup(reg, r->params[0], &in, query_true(r, "deleted"), &v, &err) < 0)
            sr_fail(r, &err);
        else
            sr_json(r, 200, version_json(&v));
    }
    json_decref(body);
}

void http__sr_subject_delete(http_req_t *r)
{
    registry_t *reg = reg_of(r);
    if (!reg)
        return;
    int32_t *v;
    int64_t at;
    registry_err_t err;
    int n = registry_delete_subject(reg, r->params[0], query_true(r, "permanent"), &v, &at, &err);
    if (n < 0) {
        sr_fail(r, &err);
        return;
    }
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_integer(v[i]));
    free(v);
    answer_durable(r, reg, at, a);
}

void http__sr_version_delete(http_req_t *r)
{
    registry_t *reg = reg_of(r);
    if (!reg)
        return;
    int32_t v;
    int64_t at;
    registry_err_t err;
    if (registry_delete_version(reg, r->params[0], r->params[1], query_true(r, "permanent"), &v,
                                &at, &err) < 0) {
        sr_fail(r, &err);
        return;
    }
    answer_durable(r, reg, at, json_integer(v));
}

static void compat(http_req_t *r, const char *vs)
{
    registry_t *reg = reg_of(r);
    json_t *body = reg ? sr_body(r) : NULL;
    registry_schema_in_t in;
    if (!body)
        return;
    if (schema_in(r, body, &in) == 0) {
        bool verbose = query_true(r, "verbose"), ok = false;
        json_t *msgs = json_array();
        registry_err_t err;
        if (registry_check(reg, r->params[0], vs, &in, &ok, msgs, &err) < 0) {
            sr_fail(r, &err);
            json_decref(msgs);
        } else {
            json_t *j = json_object();
            json_object_set_new(j, "is_compatible", json_boolean(ok));
            if (verbose)
                json_object_set_new(j, "messages", msgs);
            else
                json_decref(msgs);
            sr_json(r, 200, j);
        }
    }
    json_decref(body);
}

void http__sr_compat_version(http_req_t *r) { compat(r, r->params[1]); }
void http__sr_compat_all(http_req_t *r) { compat(r, NULL); }

static void config_get(http_req_t *r, const char *subject)
{
    registry_t *reg = reg_of(r);
    int level;
    registry_err_t err;
    if (!reg)
        return;
    if (registry_config_get(reg, subject, query_true(r, "defaultToGlobal"), &level, &err) < 0) {
        sr_fail(r, &err);
        return;
    }
    json_t *j = json_object();
    json_object_set_new(j, "compatibilityLevel", json_string(registry_compat_name(level)));
    sr_json(r, 200, j);
}

static void config_put(http_req_t *r, const char *subject)
{
    registry_t *reg = reg_of(r);
    json_t *body = reg ? sr_body(r) : NULL;
    if (!body)
        return;
    json_t *c = json_object_get(body, "compatibility");
    if (!c)
        c = json_object_get(body, "compatibilityLevel");
    int level = registry_compat_parse(json_string_value(c));
    int old;
    int64_t at;
    registry_err_t err;
    if (level < 0) {
        sr_error(r, 422, REGISTRY_EINVALID_COMPAT,
                 "Invalid compatibility level. Valid values "
                 "are none, backward, forward, full, "
                 "backward_transitive, forward_transitive, "
                 "and full_transitive");
    } else if (registry_config_set(reg, subject, level, &old, &at, &err) < 0) {
        sr_fail(r, &err);
    } else {
        json_t *j = json_object();
        json_object_set_new(j, "compatibility", json_string(registry_compat_name(level)));
        answer_durable(r, reg, at, j);
    }
    json_decref(body);
}

static void config_delete(http_req_t *r, const char *subject)
{
    registry_t *reg = reg_of(r);
    int old;
    int64_t at;
    registry_err_t err;
    if (!reg)
        return;
    if (registry_config_set(reg, subject, -1, &old, &at, &err) < 0) {
        sr_fail(r, &err);
        return;
    }
    json_t *j = json_object();
    json_object_set_new(j, "compatibilityLevel", json_string(registry_compat_name(old)));
    answer_durable(r, reg, at, j);
}

void http__sr_config_get(http_req_t *r) { config_get(r, NULL); }
void http__sr_config_put(http_req_t *r) { config_put(r, NULL); }
void http__sr_config_delete(http_req_t *r) { config_delete(r, NULL); }
void http__sr_subject_config_get(http_req_t *r) { config_get(r, r->params[0]); }
void http__sr_subject_config_put(http_req_t *r) { config_put(r, r->params[0]); }
void http__sr_subject_config_delete(http_req_t *r) { config_delete(r, r->params[0]); }

void http__sr_mode(http_req_t *r)
{
    if (!reg_of(r))
        return;
    json_t *j = json_object();
    json_object_set_new(j, "mode", json_string("READWRITE"));
    sr_json(r, 200, j);
}
