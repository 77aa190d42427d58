/* Validation of produced records against the registry (topics with
 * confluent.value.schema.validation or confluent.key.schema.validation).
 *
 * A record passes when its value (or key) is
 *   - in the Confluent wire format: byte 0 is the magic 0, bytes 1..4 a big-endian schema id
 *     that is a live version of the topic's subject, and the rest a payload that the schema
 *     accepts (Avro binary, or JSON text for JSON Schema); or
 *   - a CloudEvent naming its schema in dataschema: in binary mode the ce_dataschema header
 *     (the value is the event's data), in structured mode (content-type
 *     application/cloudevents+json) the event's "dataschema" member (its "data" is checked).
 *     The dataschema is a URI ending in /schemas/ids/{id} or /subjects/{subject}/versions/{v},
 *     naming a live version of the topic's subject;
 *   - null (a tombstone).
 * Anything else is refused with a sentence saying which rule failed. */
#include "registry/registry_int.h"
#include "broker/records.h"
#include "util/err.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The live version of subject whose schema has id, or NULL. */
static registry_schema_t *subject_schema(registry_t *reg, const char *subject, int32_t id)
{
    registry__subject_t *s = registry__subject(reg, subject, false);
    for (int i = s ? s->nv : 0; i-- > 0;)
        if (!s->v[i].deleted && s->v[i].schema->id == id)
            return s->v[i].schema;
    return NULL;
}

static int check_payload(registry_t *reg, registry_schema_t *sc, hd_slice_t payload, char *why,
                         size_t whylen)
{
    char inner[400];
    void *compiled = registry__compiled(reg, sc, inner, sizeof inner);
    if (!compiled) {
        snprintf(why, whylen, "schema %d cannot be used for validation: %s", sc->id, inner);
        return HD_EINVAL;
    }
    const registry__type_t *t = registry__type(sc->type);
    if (t->validate(compiled, payload, inner, sizeof inner) < 0) {
        snprintf(why, whylen, "does not match schema %d (%s): %s", sc->id,
                 registry_type_name(sc->type), inner);
        return HD_EINVAL;
    }
    return 0;
}

/* Resolves a dataschema URI to a live version's schema of subject. */
static registry_schema_t *dataschema(registry_t *reg, const char *subject, const char *uri,
                                     size_t len, char *why, size_t whylen)
{
    char buf[512];
    if (len >= sizeof buf) {
        snprintf(why, whylen, "its dataschema is longer than %zu bytes", sizeof buf - 1);
        return NULL;
    }
    memcpy(buf, uri, len);
    buf[len] = '\0';
    char *q = strpbrk(buf, "?#");
    if (q)
        *q = '\0';
    const char *p;
    registry_schema_t *sc = NULL;
    if ((p = strstr(buf, "/schemas/ids/"))) {
        char *end;
        long id = strtol(p + 13, &end, 10);
        if (end != p + 13 && (*end == '\0' || !strcmp(end, "/schema")) && id > 0 &&
            id <= INT32_MAX) {
            sc = subject_schema(reg, subject, (int32_t)id);
            if (!sc)
                snprintf(why, whylen,
                         "its dataschema names schema %ld, which is not a version "
                         "of subject '%s'",
                         id, subject);
            return sc;
        }
    } else if ((p = strstr(buf, "/subjects/"))) {
        const char *v = strstr(p + 10, "/versions/");
        if (v) {
            char subj[REGISTRY_MAX_SUBJECT + 1];
            size_t n = (size_t)(v - (p + 10));
            if (n <= REGISTRY_MAX_SUBJECT) {
                memcpy(subj, p + 10, n);
                subj[n] = '\0';
                char vs[16];
                snprintf(vs, sizeof vs, "%.*s", (int)strcspn(v + 10, "/"), v + 10);
                registry_version_t ver;
                registry_err_t err;
                if (strcmp(subj, subject)) {
                    snprintf(why, whylen,
                             "its dataschema names subject '%s', not the topic's "
                             "subject '%s'",
                             subj, subject);
                    return NULL;
                }
                if (registry_version_get(reg, subj, vs, false, &ver, &err) < 0) {
                    snprintf(why, whylen, "its dataschema: %s", err.message);
                    return NULL;
                }
                return (registry_schema_t *)ver.schema;
            }
        }
    }
    snprintf(why, whylen,
             "its dataschema '%s' names no schema of this registry (expected "
             ".../schemas/ids/{id} or .../subjects/{subject}/versions/{version})",
             buf);
    return NULL;
}

static bool header_is(const broker_header_t *h, const char *name)
{
    return h->name.len == strlen(name) && !strncasecmp((const char *)h->name.p, name, h->name.len);
}

/* A structured-mode CloudEvent: validates its data against its dataschema. */
static int structured(registry_t *reg, const char *subject, hd_slice_t payload, char *why,
                      size_t whylen)
{
    json_t *ev = json_loadb((const char *)payload.p, payload.len, 0, NULL);
    int rc = HD_EINVAL;
    json_t *ds = json_object_get(ev, "dataschema");
    if (!json_is_string(ds)) {
        snprintf(why, whylen, "is a structured CloudEvent without a dataschema");
        goto out;
    }
    registry_schema_t *sc =
        dataschema(reg, subject, json_string_value(ds), json_string_length(ds), why, whylen);
    if (!sc)
        goto out;
    if (sc->type != REGISTRY_JSON) {
        snprintf(why, whylen,
                 "is a structured CloudEvent whose dataschema is a %s schema "
                 "(only JSON Schema data can be checked in structured mode)",
                 registry_type_name(sc->type));
        goto out;
    }
    char *data = json_dumps(json_object_get(ev, "data"), JSON_COMPACT | JSON_ENCODE_ANY);
    if (!data) {
        snprintf(why, whylen, "is a structured CloudEvent without data");
        goto out;
    }
    rc = check_payload(reg, sc, hd_slice_str(data), why, whylen);
    free(data);
out:
    json_decref(ev);
    return rc;
}

void registry_ce_from_headers(const broker_header_t *h, int32_t n, registry_ce_t *out)
{
    memset(out, 0, sizeof *out);
    for (int32_t i = 0; i < n; i++) {
        if (h[i].value_null)
            continue;
        if (header_is(&h[i], "ce_dataschema")) {
            out->dataschema = h[i].value;
            out->has_dataschema = true;
        } else if (header_is(&h[i], "content-type") && h[i].value.len >= 28 &&
                   !strncasecmp((const char *)h[i].value.p, "application/cloudevents+json", 28)) {
            out->structured = true;
        }
    }
}

void registry_ce_from_area(hd_slice_t area, int32_t count, registry_ce_t *out)
{
    memset(out, 0, sizeof *out);
    for (int32_t i = 0; i < count; i++) {
        broker_header_t h;
        if (broker_header_next(&area, &h) < 0)
            break;
        registry_ce_t one;
        registry_ce_from_headers(&h, 1, &one);
        if (one.has_dataschema) {
            out->dataschema = one.dataschema;
            out->has_dataschema = true;
        }
        out->structured = out->structured || one.structured;
    }
}

int registry_validate(registry_t *reg, const char *subject, hd_slice_t payload, bool is_null,
                      const registry_ce_t *ce, char *why, size_t whylen)
{
    if (is_null)
        return 0;
    if (payload.len >= 5 && payload.p[0] == 0) {
        int32_t id = (int32_t)((uint32_t)payload.p[1] << 24 | (uint32_t)payload.p[2] << 16 |
                               (uint32_t)payload.p[3] << 8 | payload.p[4]);
        registry_schema_t *sc = subject_schema(reg, subject, id);
        if (!sc) {
            snprintf(why, whylen, "has schema id %d, which is not a version of subject '%s'", id,
                     subject);
            return HD_EINVAL;
        }
        return check_payload(reg, sc, hd_slice(payload.p + 5, payload.len - 5), why, whylen);
    }
    if (ce && ce->has_dataschema) {
        registry_schema_t *sc = dataschema(reg, subject, (const char *)ce->dataschema.p,
                                           ce->dataschema.len, why, whylen);
        if (!sc)
            return HD_EINVAL;
        return check_payload(reg, sc, payload, why, whylen);
    }
    if (ce && ce->structured)
        return structured(reg, subject, payload, why, whylen);
    snprintf(why, whylen,
             "is not in the schema registry wire format (magic byte 0 and a 4-byte "
             "schema id) and is not a CloudEvent with a dataschema");
    return HD_EINVAL;
}

/* The subject of t's values (or keys) into buf: the configured one, else "<topic>-value". */
static void subject_of(const broker_topic_t *t, bool key, char *buf, size_t n)
{
    const broker_topic_config_t *tc = broker_topic_config(t);
    const char *s = key ? tc->key_subject : tc->value_subject;
    if (s[0]) {
        snprintf(buf, n, "%s", s);
        return;
    }
    /* "<topic>-value", as snprintf would write it, without its cost on every record. */
    const char *name = broker_topic_name(t), *suffix = key ? "-key" : "-value";
    size_t nl = strlen(name), sl = strlen(suffix);
    if (nl > n - 1)
        nl = n - 1;
    if (sl > n - 1 - nl)
        sl = n - 1 - nl;
    memcpy(buf, name, nl);
    memcpy(buf + nl, suffix, sl);
    buf[nl + sl] = '\0';
}

void registry_target_of(const broker_topic_t *t, registry_target_t *out)
{
    const broker_topic_config_t *tc = broker_topic_config(t);
    out->value = tc->value_schema_validation;
    out->key = tc->key_schema_validation;
    out->value_subject[0] = out->key_subject[0] = '\0';
    if (out->value)
        subject_of(t, false, out->value_subject, sizeof out->value_subject);
    if (out->key)
        subject_of(t, true, out->key_subject, sizeof out->key_subject);
}

int registry_validate_target(registry_t *reg, const registry_target_t *tg,
                             const broker_record_in_t *rec, const registry_ce_t *ce, char *why,
                             size_t whylen)
{
    char inner[700];
    if (tg->value && registry_validate(reg, tg->value_subject, rec->value, rec->value_null, ce,
                                       inner, sizeof inner) < 0) {
        snprintf(why, whylen, "value %s", inner);
        return HD_EINVAL;
    }
    if (tg->key && registry_validate(reg, tg->key_subject, rec->key, rec->key_null, NULL, inner,
                                     sizeof inner) < 0) {
        snprintf(why, whylen, "key %s", inner);
        return HD_EINVAL;
    }
    return 0;
}

int registry_validate_record(registry_t *reg, const broker_topic_t *t,
                             const broker_record_in_t *rec, const registry_ce_t *ce, char *why,
                             size_t whylen)
{
    registry_target_t tg;
    registry_target_of(t, &tg);
    return registry_validate_target(reg, &tg, rec, ce, why, whylen);
}

/* ---- dead letters ---- */

#define DLQ_API_VERSION 9

int registry_dead_letter(registry_t *reg, broker_topic_t *t, int32_t partition,
                         const broker_record_in_t *recs, const char *const *whys, int n)
{
    const broker_topic_config_t *tc = broker_topic_config(t);
    char name[300];
    if (tc->dead_letter_topic[0])
        snprintf(name, sizeof name, "%s", tc->dead_letter_topic);
    else
        snprintf(name, sizeof name, "%s.dlq", broker_topic_name(t));
    broker_topic_t *dt = broker_topic_find(reg->broker, name);
    const char *why = NULL;
    int rc = 0;
    if (!dt && (rc = broker_topic_create(reg->broker, name, 1, NULL, 0, false, &dt, &why)) < 0)
        return rc;
    if (dt == t)
        return HD_EINVAL; /* a topic that is its own dead-letter topic */
    char part[16];
    snprintf(part, sizeof part, "%d", partition);
    broker_record_in_t *out = hd_calloc((size_t)n, sizeof *out);
    broker_header_t **hs = hd_calloc((size_t)n, sizeof *hs);
    for (int i = 0; i < n; i++) {
        out[i] = recs[i];
        hs[i] = hd_calloc((size_t)recs[i].nheaders + 3, sizeof **hs);
        if (recs[i].nheaders)
            memcpy(hs[i], recs[i].headers, sizeof **hs * (size_t)recs[i].nheaders);
        broker_header_t *x = &hs[i][recs[i].nheaders];
        x[0] = (broker_header_t){hd_slice_str("herald.dlq.reason"), hd_slice_str(whys[i]), false};
        x[1] = (broker_header_t){hd_slice_str("herald.dlq.topic"),
                                 hd_slice_str(broker_topic_name(t)), false};
        x[2] = (broker_header_t){hd_slice_str("herald.dlq.partition"), hd_slice_str(part), false};
        out[i].headers = hs[i];
        out[i].nheaders = recs[i].nheaders + 3;
    }
    hd_buf_t b;
    hd_buf_init(&b);
    broker_partition_t *p = broker_topic_partition(dt, 0);
    int64_t max = broker_topic_config(dt)->max_message_bytes;
    /* One batch per record: a dead letter is as large as the record it holds. */
    for (int i = 0; i < n && rc == 0; i++) {
        hd_buf_reset(&b);
        ssize_t len = broker_batch_build(&out[i], 1, (size_t)max, &b);
        broker_append_t res;
        rc = len < 0 ? (int)len
                     : broker_partition_append_as(p, b.p, (size_t)len, DLQ_API_VERSION,
                                                  "herald (schema validation)", &res, &why);
    }
    hd_buf_deinit(&b);
    for (int i = 0; i < n; i++)
        free(hs[i]);
    free(hs);
    free(out);
    return rc;
}
