/* Handlers for the config APIs: DescribeConfigs, AlterConfigs (KIP-133) and
 * IncrementalAlterConfigs (KIP-339).
 *
 * Behaviour notes (see also docs/kafka-compat.md):
 * - Resources: topics (type 2) and the broker (type 4, named by this node's id or empty). Other
 *   types answer INVALID_REQUEST.
 * - DescribeConfigs: a topic lists every setting Herald supports with its source (topic override
 *   or default); the broker lists its settings, all read-only.
 * - Altering a topic: every setting DescribeConfigs lists can be altered. AlterConfigs replaces
 *   the topic's overrides with the given set; IncrementalAlterConfigs applies SET, DELETE (back to
 *   the default), APPEND and SUBTRACT (list settings only: cleanup.policy) to them. The change is
 *   all or nothing per resource, checked in full first (INVALID_CONFIG for an unknown setting,
 *   a bad value or an op the setting does not take), written durably with the topic's definition
 *   before it is answered, and honours ValidateOnly. A name given twice in one resource, or a
 *   resource named twice in one request, answers INVALID_REQUEST, as in Kafka.
 * - Altering the broker: Herald's broker settings are read-only after start-up, so any change
 *   answers INVALID_REQUEST ("cannot update these configs dynamically"), which is what Kafka
 *   answers for its read-only broker configs; an empty change succeeds. */
#include "kafka/handler_int.h"
#include "util/err.h"
#include "util/say.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ---- DescribeConfigs ---- */

enum { SOURCE_TOPIC = 1, SOURCE_STATIC_BROKER = 4, SOURCE_DEFAULT = 5 };

static bool wanted(const kafka_DescribeConfigsRequest_DescribeConfigsResource_t *res,
                   const char *name)
{
    if (res->ConfigurationKeys_n < 0)
        return true;
    for (int32_t i = 0; i < res->ConfigurationKeys_n; i++)
        if (res->ConfigurationKeys[i] && !strcmp(res->ConfigurationKeys[i], name))
            return true;
    return false;
}

int kafka__handle_DescribeConfigs(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_DescribeConfigsRequest_t *req = req_;
    kafka_DescribeConfigsResponse_t *resp = resp_;
    int32_t n = req->Resources_n < 0 ? 0 : req->Resources_n;
    resp->ThrottleTimeMs = 0;
    resp->Results_n = n;
    resp->Results = kafka__alloc(r, sizeof *resp->Results * (size_t)(n ? n : 1));
    for (int32_t i = 0; i < n; i++) {
        kafka_DescribeConfigsRequest_DescribeConfigsResource_t *rs = &req->Resources[i];
        kafka_DescribeConfigsResponse_DescribeConfigsResult_t *out = &resp->Results[i];
        out->ResourceType = rs->ResourceType;
        out->ResourceName = rs->ResourceName ? rs->ResourceName : "";
        out->ErrorMessage = NULL;
        hd_config_entry_t ents[64];
        broker_config_entry_t tents[32];
        int count = 0;
        const char *names[64];
        const char *values[64];
        bool is_default[64];
        int8_t sources[64];
        if (rs->ResourceType == 2) {
            broker_topic_t *t = broker_topic_find(r->broker, out->ResourceName);
            if (!t)
                t = broker_internal_topic_find(r->broker, out->ResourceName);
            if (!t) {
                out->ErrorCode = KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                out->ErrorMessage = "unknown topic";
                continue;
            }
            int m = broker_topic_describe_config(t, tents, 32);
            for (int k = 0; k < m; k++) {
                names[count] = tents[k].name;
                values[count] = kafka__strdup(r, tents[k].value);
                is_default[count] = tents[k].is_default;
                sources[count] = tents[k].is_default ? SOURCE_DEFAULT : SOURCE_TOPIC;
                count++;
            }
        } else if (rs->ResourceType == 4) {
            char id[24];
            snprintf(id, sizeof id, "%" PRId64, r->cfg->node_id);
            if (out->ResourceName[0] && strcmp(out->ResourceName, id)) {
                out->ErrorCode = KAFKA_ERR_INVALID_REQUEST;
                out->ErrorMessage = "unknown broker id";
                continue;
            }
            int m = hd_config_entries(r->cfg, ents, 64);
            for (int k = 0; k < m; k++) {
                names[count] = ents[k].name;
                values[count] = kafka__strdup(r, ents[k].value);
                is_default[count] = ents[k].is_default;
                sources[count] = ents[k].is_default ? SOURCE_DEFAULT : SOURCE_STATIC_BROKER;
                count++;
            }
        } else {
            out->ErrorCode = KAFKA_ERR_INVALID_REQUEST;
            out->ErrorMessage = "only topic (2) and broker (4) resources are supported";
            continue;
        }
        out->ErrorCode = 0;
        out->Configs = kafka__alloc(r, sizeof *out->Configs * (size_t)(count ? count : 1));
        int32_t w = 0;
        for (int k = 0; k < count; k++) {
            if (!wanted(rs, names[k]))
                continue;
            kafka_DescribeConfigsResponse_DescribeConfigsResourceResult_t *c = &out->Configs[w++];
            c->Name = names[k];
            c->Value = values[k];
            c->ReadOnly = rs->ResourceType == 4;
            c->IsDefault = is_default[k];
            c->ConfigSource = sources[k];
            c->IsSensitive = false;
            c->Synonyms_n = 0;
        }
        out->Configs_n = w;
    }
    return KAFKA_REQ_DONE;
}

/* ---- AlterConfigs and IncrementalAlterConfigs ---- */

enum { RESOURCE_TOPIC = 2, RESOURCE_BROKER = 4 };

/* One resource of either request, normalised: `ops` has one entry per config. */
typedef struct alter_resource {
    int8_t type;
    const char *name;
    broker_config_op_t *ops;
    int32_t nops;
} alter_resource_t;

/* The outcome of one resource. */
typedef struct alter_result {
    int16_t err;
    const char *msg;
} alter_result_t;

static alter_result_t alter_one(kafka_req_t *r, const alter_resource_t *rs, bool replace,
                                bool validate_only)
{
    for (int32_t i = 0; i < rs->nops; i++)
        for (int32_t k = 0; k < i; k++)
            if (rs->ops[i].name && rs->ops[k].name && !strcmp(rs->ops[i].name, rs->ops[k].name))
                return (alter_result_t){KAFKA_ERR_INVALID_REQUEST, "duplicate config keys"};
    if (rs->type == RESOURCE_BROKER) {
        char id[24];
        snprintf(id, sizeof id, "%" PRId64, r->cfg->node_id);
        if (rs->name[0] && strcmp(rs->name, id))
            return (alter_result_t){KAFKA_ERR_INVALID_REQUEST, "unexpected broker id"};
        if (rs->nops > 0)
            return (alter_result_t){KAFKA_ERR_INVALID_REQUEST,
                                    "Cannot update these configs dynamically: Herald's broker "
                                    "settings are read-only after start-up"};
        return (alter_result_t){0, NULL};
    }
    if (rs->type != RESOURCE_TOPIC)
        return (alter_result_t){KAFKA_ERR_INVALID_REQUEST,
                                "only topic (2) and broker (4) resources are supported"};
    if (broker_internal_topic_find(r->broker, rs->name))
        return (alter_result_t){KAFKA_ERR_INVALID_REQUEST,
                                "the internal topic __consumer_offsets is read-only"};
    broker_topic_t *t = broker_topic_find(r->broker, rs->name);
    if (!t)
        return (alter_result_t){KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION, "unknown topic"};
    const char *why = "";
    int rc =
        broker_topic_alter_config(r->broker, t, rs->ops, rs->nops, replace, validate_only, &why);
    if (rc == 0)
        return (alter_result_t){0, NULL};
    if (rc == HD_EINVAL)
        return (alter_result_t){KAFKA_ERR_INVALID_CONFIG, why};
    say_warn("topic %s: altering configs failed: %s", rs->name, hd_strerror(rc));
    return (alter_result_t){KAFKA_ERR_KAFKA_STORAGE_ERROR, why};
}

/* Answers every resource; a resource named twice in the request gets INVALID_REQUEST. */
static void alter_all(kafka_req_t *r, const alter_resource_t *rs, int32_t n, bool replace,
                      bool validate_only, alter_result_t *out)
{
    for (int32_t i = 0; i < n; i++) {
        bool dup = false;
        for (int32_t k = 0; k < n; k++)
            if (k != i && rs[k].type == rs[i].type && !strcmp(rs[k].name, rs[i].name))
                dup = true;
        out[i] = dup ? (alter_result_t){KAFKA_ERR_INVALID_REQUEST,
                                        "a resource appears more than once in the request"}
                     : alter_one(r, &rs[i], replace, validate_only);
    }
}

int kafka__handle_AlterConfigs(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_AlterConfigsRequest_t *req = req_;
    kafka_AlterConfigsResponse_t *resp = resp_;
    int32_t n = req->Resources_n < 0 ? 0 : req->Resources_n;
    alter_resource_t *rs = kafka__alloc(r, sizeof *rs * (size_t)(n ? n : 1));
    for (int32_t i = 0; i < n; i++) {
        kafka_AlterConfigsRequest_AlterConfigsResource_t *q = &req->Resources[i];
        rs[i].type = q->ResourceType;
        rs[i].name = q->ResourceName ? q->ResourceName : "";
        rs[i].nops = q->Configs_n < 0 ? 0 : q->Configs_n;
        rs[i].ops = kafka__alloc(r, sizeof *rs[i].ops * (size_t)(rs[i].nops ? rs[i].nops : 1));
        for (int32_t k = 0; k < rs[i].nops; k++)
            rs[i].ops[k] = (broker_config_op_t){q->Configs[k].Name ? q->Configs[k].Name : "",
                                                q->Configs[k].Value, BROKER_CONFIG_SET};
    }
    alter_result_t *res = kafka__alloc(r, sizeof *res * (size_t)(n ? n : 1));
    alter_all(r, rs, n, true, req->ValidateOnly, res);
    resp->ThrottleTimeMs = 0;
    resp->Responses_n = n;
    resp->Responses = kafka__alloc(r, sizeof *resp->Responses * (size_t)(n ? n : 1));
    for (int32_t i = 0; i < n; i++) {
        resp->Responses[i].ErrorCode = res[i].err;
        resp->Responses[i].ErrorMessage = res[i].msg;
        resp->Responses[i].ResourceType = rs[i].type;
        resp->Responses[i].ResourceName = rs[i].name;
    }
    return KAFKA_REQ_DONE;
}

int kafka__handle_IncrementalAlterConfigs(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_IncrementalAlterConfigsRequest_t *req = req_;
    kafka_IncrementalAlterConfigsResponse_t *resp = resp_;
    int32_t n = req->Resources_n < 0 ? 0 : req->Resources_n;
    alter_resource_t *rs = kafka__alloc(r, sizeof *rs * (size_t)(n ? n : 1));
    for (int32_t i = 0; i < n; i++) {
        kafka_IncrementalAlterConfigsRequest_AlterConfigsResource_t *q = &req->Resources[i];
        rs[i].type = q->ResourceType;
        rs[i].name = q->ResourceName ? q->ResourceName : "";
        rs[i].nops = q->Configs_n < 0 ? 0 : q->Configs_n;
        rs[i].ops = kafka__alloc(r, sizeof *rs[i].ops * (size_t)(rs[i].nops ? rs[i].nops : 1));
        for (int32_t k = 0; k < rs[i].nops; k++)
            rs[i].ops[k] = (broker_config_op_t){q->Configs[k].Name ? q->Configs[k].Name : "",
                                                q->Configs[k].Value, q->Configs[k].ConfigOperation};
    }
    alter_result_t *res = kafka__alloc(r, sizeof *res * (size_t)(n ? n : 1));
    alter_all(r, rs, n, false, req->ValidateOnly, res);
    resp->ThrottleTimeMs = 0;
    resp->Responses_n = n;
    resp->Responses = kafka__alloc(r, sizeof *resp->Responses * (size_t)(n ? n : 1));
    for (int32_t i = 0; i < n; i++) {
        resp->Responses[i].ErrorCode = res[i].err;
        resp->Responses[i].ErrorMessage = res[i].msg;
        resp->Responses[i].ResourceType = rs[i].type;
        resp->Responses[i].ResourceName = rs[i].name;
    }
    return KAFKA_REQ_DONE;
}
