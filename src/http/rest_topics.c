/* REST: the topics resource. GET /topics, POST /topics, GET /topics/{topic},
 * DELETE /topics/{topic}. */
#include "http/http_int.h"
#include "util/err.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CONFIGS 64

static json_t *topic_json(broker_topic_t *t, bool detail)
{
    json_t *j = json_object();
    json_object_set_new(j, "name", json_string(broker_topic_name(t)));
    int32_t np = broker_topic_partitions(t);
    if (!detail) {
        json_object_set_new(j, "partitions", json_integer(np));
        return j;
    }
    json_t *parts = json_array();
    for (int32_t i = 0; i < np; i++) {
        broker_partition_t *p = broker_topic_partition(t, i);
        json_t *pj = json_object();
        json_object_set_new(pj, "partition", json_integer(i));
        json_object_set_new(pj, "log_start_offset", json_integer(broker_partition_start(p)));
        json_object_set_new(pj, "high_watermark", json_integer(broker_partition_hwm(p)));
        json_array_append_new(parts, pj);
    }
    json_object_set_new(j, "partitions", parts);
    broker_config_entry_t entries[32];
    int n = broker_topic_describe_config(t, entries, (int)HD_ARRAY_LEN(entries));
    json_t *cfg = json_object();
    for (int i = 0; i < n; i++)
        json_object_set_new(cfg, entries[i].name, json_string(entries[i].value));
    json_object_set_new(j, "config", cfg);
    return j;
}

void http__topics_list(http_req_t *r)
{
    json_t *arr = json_array();
    int n = broker_topic_count(r->broker);
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, topic_json(broker_topic_at(r->broker, i), false));
    json_t *j = json_object();
    json_object_set_new(j, "topics", arr);
    http_respond_json(r, 200, j);
}

/* The topic named by the first path parameter, or NULL after answering 404. */
static broker_topic_t *find_topic(http_req_t *r)
{
    broker_topic_t *t = broker_topic_find(r->broker, r->params[0]);
    if (!t)
        http_problem(r, 404, "topic '%s' does not exist", r->params[0]);
    return t;
}

void http__topic_get(http_req_t *r)
{
    broker_topic_t *t = find_topic(r);
    if (t)
        http_respond_json(r, 200, topic_json(t, true));
}

void http__topic_delete(http_req_t *r)
{
    if (!find_topic(r))
        return;
    int rc = broker_topic_delete(r->broker, r->params[0]);
    if (rc < 0) {
        http_problem(r, 500, "deleting topic '%s' failed: %s", r->params[0], hd_strerror(rc));
        return;
    }
    http_respond(r, 204, NULL, NULL, 0);
}

/* A config value as text: strings as they are, numbers and booleans in their JSON form. */
static const char *config_value(http_req_t *r, json_t *v)
{
    char buf[64];
    switch (json_typeof(v)) {
    case JSON_STRING:
        return json_string_value(v);
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return hd_arena_strndup(&r->arena, buf, strlen(buf));
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    default:
        return NULL;
    }
}

void http__topics_create(http_req_t *r)
{
    json_t *body = http_req_json(r);
    if (!body)
        return;
    broker_config_kv_t kvs[MAX_CONFIGS];
    int nkv = 0;
    json_t *name = json_object_get(body, "name");
    json_t *parts = json_object_get(body, "partitions");
    json_t *config = json_object_get(body, "config");
    if (!json_is_object(body)) {
        http_problem(r, 400, "expected a JSON object {\"name\", \"partitions\", \"config\"}");
        goto out;
    }
    if (!json_is_string(name)) {
        http_problem(r, 400, "\"name\" must be a string");
        goto out;
    }
    int64_t np = r->cfg->num_partitions;
    if (parts) {
        if (!json_is_integer(parts) || json_integer_value(parts) < 1 ||
            json_integer_value(parts) > 100000) {
            http_problem(r, 400, "\"partitions\" must be an integer in [1, 100000]");
            goto out;
        }
        np = json_integer_value(parts);
    }
    if (config && !json_is_null(config)) {
        if (!json_is_object(config)) {
            http_problem(r, 400, "\"config\" must be an object of setting names to values");
            goto out;
        }
        const char *k;
        json_t *v;
        json_object_foreach(config, k, v)
        {
            if (nkv >= MAX_CONFIGS) {
                http_problem(r, 400, "at most %d config entries", MAX_CONFIGS);
                goto out;
            }
            const char *val = config_value(r, v);
            if (!val) {
                http_problem(r, 400, "config '%s' must be a string, number or boolean", k);
                goto out;
            }
            kvs[nkv].name = k;
            kvs[nkv].value = val;
            nkv++;
        }
    }
    const char *why = NULL;
    broker_topic_t *t = NULL;
    int rc = broker_topic_create(r->broker, json_string_value(name), (int32_t)np, kvs, nkv, false,
                                 &t, &why);
    if (rc == HD_EEXIST) {
        http_problem(r, 409, "topic '%s' already exists", json_string_value(name));
    } else if (rc == HD_EINVAL) {
        http_problem(r, 400, "%s", why ? why : "invalid topic");
    } else if (rc == HD_ERANGE) {
        /* The partitions do not fit the open files limit (broker_fd_budget). */
        http_problem(r, 507, "%s", why ? why : "not enough open files for the partitions");
    } else if (rc < 0) {
        http_problem(r, 500, "creating topic failed: %s", hd_strerror(rc));
    } else {
        char loc[300];
        snprintf(loc, sizeof loc, "/topics/%s", json_string_value(name));
        http_req_add_header(r, "Location", loc);
        http_respond_json(r, 201, topic_json(t, true));
    }
out:
    json_decref(body);
}
