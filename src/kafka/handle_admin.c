/* Handlers for ApiVersions, Metadata, CreateTopics, DeleteTopics, DeleteRecords,
 * CreatePartitions, DescribeCluster and InitProducerId (the config APIs are in
 * handle_configs.c).
 *
 * Behaviour notes (see also docs/kafka-compat.md):
 * - Metadata: v0 with an empty topic list and v1+ with a null list mean "all topics"; v1+ with an
 *   empty list means none. Named unknown topics are created when auto.create.topics.enable is on
 *   and (v4+) the request allows it; the creating request gets the full metadata with no error.
 *   One broker, this node, is leader, replica and ISR of every partition; controller = this node.
 * - CreateTopics: replication factor must be 1 (or -1, the default), partitions >= 1 (or -1 for
 *   num.partitions; Kafka defines -1 from v4, but kafkajs sends it on v3 too and Kafka accepts
 *   it); manual assignments must name this node only.
 * - Authorized operations (Metadata v8+, DescribeCluster): there is no authorizer, so as Kafka
 *   without one, a request that asks gets every operation the resource type supports; one that
 *   does not gets INT32_MIN ("not requested").
 * - DeleteRecords: offset -1 means the high watermark; an offset above it answers
 *   OFFSET_OUT_OF_RANGE; the answer (the new low watermark) comes once the new log start is on
 *   disk.
 * - DescribeCluster: this node, for either endpoint type (it is broker and controller).
 * - InitProducerId: a fresh producer id with epoch 0 for every call without a transactional id;
 *   transactions are not supported. */
#include "kafka/handler_int.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/say.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- ApiVersions ---- */

int kafka__handle_ApiVersions(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_ApiVersionsRequest_t *req = req_;
    kafka_ApiVersionsResponse_t *resp = resp_;
    if (r->api_version >= 3 && req->ClientSoftwareName)
        say_debug("conn %s: client software %s %s", r->peer, req->ClientSoftwareName,
                  req->ClientSoftwareVersion ? req->ClientSoftwareVersion : "");
    resp->ErrorCode = 0;
    resp->ApiKeys_n = kafka__nhandlers;
    resp->ApiKeys = kafka__alloc(r, sizeof *resp->ApiKeys * (size_t)kafka__nhandlers);
    for (int i = 0; i < kafka__nhandlers; i++) {
        const kafka_api_t *api = kafka_api_find(kafka__handlers[i].key);
        resp->ApiKeys[i].ApiKey = api->key;
        resp->ApiKeys[i].MinVersion = api->min_version;
        resp->ApiKeys[i].MaxVersion = api->max_version;
    }
    resp->ThrottleTimeMs = 0;
    resp->FinalizedFeaturesEpoch = -1;
    return KAFKA_REQ_DONE;
}

/* ---- Metadata ---- */

/* Kafka's AclOperation codes as bits: what a topic and the cluster support (Kafka's
 * AclEntry.supportedOperations), reported in full since nothing is denied without an
 * authorizer. */
#define ACL_BIT(op) (1 << (op))
enum {
    ACL_READ = 3,
    ACL_WRITE = 4,
    ACL_CREATE = 5,
    ACL_DELETE = 6,
    ACL_ALTER = 7,
    ACL_DESCRIBE = 8,
    ACL_CLUSTER_ACTION = 9,
    ACL_DESCRIBE_CONFIGS = 10,
    ACL_ALTER_CONFIGS = 11,
    ACL_IDEMPOTENT_WRITE = 12,
};
#define TOPIC_OPERATIONS                                                                           \
    (ACL_BIT(ACL_READ) | ACL_BIT(ACL_WRITE) | ACL_BIT(ACL_CREATE) | ACL_BIT(ACL_DELETE) |          \
     ACL_BIT(ACL_ALTER) | ACL_BIT(ACL_DESCRIBE) | ACL_BIT(ACL_DESCRIBE_CONFIGS) |                  \
     ACL_BIT(ACL_ALTER_CONFIGS))
#define CLUSTER_OPERATIONS                                                                         \
    (ACL_BIT(ACL_CREATE) | ACL_BIT(ACL_ALTER) | ACL_BIT(ACL_DESCRIBE) |                            \
     ACL_BIT(ACL_CLUSTER_ACTION) | ACL_BIT(ACL_DESCRIBE_CONFIGS) | ACL_BIT(ACL_ALTER_CONFIGS) |    \
     ACL_BIT(ACL_IDEMPOTENT_WRITE))
/* The authorized-operations value of a response field nobody asked for. */
#define OPERATIONS_NOT_REQUESTED INT32_MIN

static void fill_topic(kafka_req_t *r, kafka_MetadataResponse_MetadataResponseTopic_t *mt,
                       broker_topic_t *t, bool with_operations)
{
    mt->TopicAuthorizedOperations = with_operations ? TOPIC_OPERATIONS : OPERATIONS_NOT_REQUESTED;
    int32_t node = (int32_t)r->cfg->node_id;
    int32_t n = broker_topic_partitions(t);
    mt->ErrorCode = 0;
    mt->Name = broker_topic_name(t);
    memcpy(mt->TopicId, broker_topic_id(t), 16);
    mt->IsInternal = false;
    mt->Partitions_n = n;
    mt->Partitions = kafka__alloc(r, sizeof *mt->Partitions * (size_t)n);
    int32_t *nodes = kafka__alloc(r, sizeof *nodes);
    nodes[0] = node;
    for (int32_t i = 0; i < n; i++) {
        kafka_MetadataResponse_MetadataResponsePartition_t *p = &mt->Partitions[i];
        p->ErrorCode = 0;
        p->PartitionIndex = i;
        p->LeaderId = node;
        p->LeaderEpoch = 0; /* this broker's only epoch, as Fetch and ListOffsets say */
        p->ReplicaNodes = nodes;
        p->ReplicaNodes_n = 1;
        p->IsrNodes = nodes;
        p->IsrNodes_n = 1;
        p->OfflineReplicas_n = 0;
    }
}

int kafka__handle_Metadata(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_MetadataRequest_t *req = req_;
    kafka_MetadataResponse_t *resp = resp_;
    broker_t *b = r->broker;
    char host[256];
    int32_t port;
    kafka__advertised(r->cfg, host, sizeof host, &port);
    resp->ThrottleTimeMs = 0;
    resp->Brokers_n = 1;
    resp->Brokers = kafka__alloc(r, sizeof *resp->Brokers);
    resp->Brokers[0].NodeId = (int32_t)r->cfg->node_id;
    resp->Brokers[0].Host = kafka__strdup(r, host);
    resp->Brokers[0].Port = port;
    resp->Brokers[0].Rack = NULL;
    resp->ClusterId = broker_cluster_id(b);
    resp->ControllerId = (int32_t)r->cfg->node_id;
    resp->ClusterAuthorizedOperations =
        req->IncludeClusterAuthorizedOperations ? CLUSTER_OPERATIONS : OPERATIONS_NOT_REQUESTED;
    bool ops = req->IncludeTopicAuthorizedOperations;

    bool all = req->Topics_n < 0 || (r->api_version == 0 && req->Topics_n == 0);
    if (all) {
        /* Kafka lists its internal topics too (clients leave them out of subscriptions). */
        int n = broker_topic_count(b);
        broker_topic_t *internal = broker_internal_topic_find(b, "__consumer_offsets");
        resp->Topics_n = n + (internal ? 1 : 0);
        resp->Topics = kafka__alloc(r, sizeof *resp->Topics * (size_t)(n + 1));
        for (int i = 0; i < n; i++)
            fill_topic(r, &resp->Topics[i], broker_topic_at(b, i), ops);
        if (internal) {
            fill_topic(r, &resp->Topics[n], internal, ops);
            resp->Topics[n].IsInternal = true;
        }
        return KAFKA_REQ_DONE;
    }
    bool may_create =
        r->cfg->auto_create_topics && (r->api_version < 4 || req->AllowAutoTopicCreation);
    resp->Topics_n = req->Topics_n;
    resp->Topics =
        kafka__alloc(r, sizeof *resp->Topics * (size_t)(req->Topics_n ? req->Topics_n : 1));
    for (int32_t i = 0; i < req->Topics_n; i++) {
        kafka_MetadataResponse_MetadataResponseTopic_t *mt = &resp->Topics[i];
        mt->TopicAuthorizedOperations = OPERATIONS_NOT_REQUESTED;
        static const uint8_t zero_id[16];
        if (!req->Topics[i].Name || memcmp(req->Topics[i].TopicId, zero_id, 16)) {
            /* v12: a topic asked for by id. A non-zero id wins over the name, as in Kafka: the
             * Java client asks for the topics of a KIP-848 assignment by id with Name "" (its
             * default), not null. */
            memcpy(mt->TopicId, req->Topics[i].TopicId, 16);
            broker_topic_t *t = broker_topic_find_id(b, req->Topics[i].TopicId);
            if (t)
                fill_topic(r, mt, t, ops);
            else
                mt->ErrorCode = KAFKA_ERR_UNKNOWN_TOPIC_ID;
            continue;
        }
        const char *name = req->Topics[i].Name;
        mt->Name = name;
        broker_topic_t *internal = broker_internal_topic_find(b, name);
        if (internal) {
            fill_topic(r, mt, internal, ops);
            mt->IsInternal = true;
            continue;
        }
        if (broker_topic_name_reserved(name)) {
            /* Kafka's internal topics are never auto-created as user topics; Kafka answers
             * this for them until its coordinators have made them. */
            mt->ErrorCode = KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
            mt->IsInternal = true;
            continue;
        }
        broker_topic_t *t = broker_topic_find(b, name);
        if (!t && !broker_topic_name_valid(name)) {
            mt->ErrorCode = KAFKA_ERR_INVALID_TOPIC_EXCEPTION;
            continue;
        }
        if (!t && may_create) {
            const char *why = "";
            int rc = broker_topic_create(b, name, (int32_t)r->cfg->num_partitions, NULL, 0, false,
                                         &t, &why);
            if (rc < 0 && rc != HD_EEXIST) {
                say_warn_every(5, "topic %s: auto-create failed: %s (%s)", name, why,
                               hd_strerror(rc));
                mt->ErrorCode = KAFKA_ERR_LEADER_NOT_AVAILABLE;
                continue;
            }
            t = broker_topic_find(b, name);
        }
        if (!t) {
            mt->ErrorCode = KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        fill_topic(r, mt, t, ops);
    }
    return KAFKA_REQ_DONE;
}

/* ---- CreateTopics ---- */

/* Waiting for the partition files of the topics just created (broker/precreate.c): one thread
 * makes them in order, so the request waits for its last topic's. */
typedef struct create_state {
    const kafka__deferred_t *ops;
    kafka_req_t *r;
    broker_topic_t *topic; /* NULL once answered */
    broker_waiter_t w;
} create_state_t;

static void create_abort(kafka_req_t *r)
{
    create_state_t *st = r->_state;
    broker_topic_precreate_cancel_wait(st->topic, &st->w);
    st->topic = NULL;
}

static const kafka__deferred_t create_ops = {create_abort, NULL, create_abort};

static void on_precreated(broker_waiter_t *w, int err)
{
    (void)err; /* the topics exist either way; a first write creates any missing file */
    create_state_t *st = w->ctx;
    st->topic = NULL;
    kafka__finish(st->r);
}

int kafka__handle_CreateTopics(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_CreateTopicsRequest_t *req = req_;
    kafka_CreateTopicsResponse_t *resp = resp_;
    int32_t node = (int32_t)r->cfg->node_id;
    int32_t n = req->Topics_n < 0 ? 0 : req->Topics_n;
    resp->ThrottleTimeMs = 0;
    resp->Topics_n = n;
    resp->Topics = kafka__alloc(r, sizeof *resp->Topics * (size_t)(n ? n : 1));
    broker_topic_t *last = NULL; /* the last topic created */
    for (int32_t i = 0; i < n; i++) {
        kafka_CreateTopicsRequest_CreatableTopic_t *ct = &req->Topics[i];
        kafka_CreateTopicsResponse_CreatableTopicResult_t *res = &resp->Topics[i];
        res->Name = ct->Name ? ct->Name : "";
        res->ErrorMessage = NULL;
        int32_t parts = ct->NumPartitions;
        bool dup = false;
        for (int32_t k = 0; k < i; k++)
            if (req->Topics[k].Name && ct->Name && !strcmp(req->Topics[k].Name, ct->Name))
                dup = true;
        if (dup) {
            res->ErrorCode = KAFKA_ERR_INVALID_REQUEST;
            res->ErrorMessage = "topic named twice in one request";
            continue;
        }
        if (ct->Assignments_n > 0) {
            if (parts != -1 || (ct->ReplicationFactor != -1)) {
                res->ErrorCode = KAFKA_ERR_INVALID_REQUEST;
                res->ErrorMessage = "give either assignments or partitions and replication factor";
                continue;
            }
            bool ok = true;
            for (int32_t a = 0; a < ct->Assignments_n; a++) {
                kafka_CreateTopicsRequest_CreatableReplicaAssignment_t *as = &ct->Assignments[a];
                if (as->BrokerIds_n != 1 || as->BrokerIds[0] != node || as->PartitionIndex != a)
                    ok = false;
            }
            if (!ok) {
                res->ErrorCode = KAFKA_ERR_INVALID_REPLICA_ASSIGNMENT;
                res->ErrorMessage = "assignments must place each partition, in order, on this "
                                    "single broker";
                continue;
            }
            parts = ct->Assignments_n;
        } else {
            /* -1 means "the broker default" (KIP-464, v4); kafkajs sends it on v3 as well, and
             * Kafka accepts it there, so any version does. */
            if (parts == -1)
                parts = (int32_t)r->cfg->num_partitions;
            if (parts < 1) {
                res->ErrorCode = KAFKA_ERR_INVALID_PARTITIONS;
                res->ErrorMessage = "number of partitions must be at least 1";
                continue;
            }
            if (ct->ReplicationFactor != 1 && ct->ReplicationFactor != -1) {
                res->ErrorCode = KAFKA_ERR_INVALID_REPLICATION_FACTOR;
                res->ErrorMessage = "replication factor must be 1: Herald is a single broker";
                continue;
            }
        }
        int32_t nc = ct->Configs_n < 0 ? 0 : ct->Configs_n;
        broker_config_kv_t *kv = kafka__alloc(r, sizeof *kv * (size_t)(nc ? nc : 1));
        for (int32_t c = 0; c < nc; c++) {
            kv[c].name = ct->Configs[c].Name ? ct->Configs[c].Name : "";
            kv[c].value = ct->Configs[c].Value;
        }
        const char *why = "";
        broker_topic_t *t = NULL;
        int rc =
            broker_topic_create(r->broker, res->Name, parts, kv, nc, req->validateOnly, &t, &why);
        if (rc == 0) {
            res->ErrorCode = 0;
            if (t)
                last = t;
            continue;
        }
        res->ErrorMessage = why;
        if (broker_internal_topic_find(r->broker, res->Name)) {
            res->ErrorCode = KAFKA_ERR_TOPIC_ALREADY_EXISTS; /* as Kafka answers */
            res->ErrorMessage = "the internal topic exists already";
        } else if (broker_topic_name_reserved(res->Name)) {
            /* As Kafka answers for its reserved metadata topic. */
            res->ErrorCode = KAFKA_ERR_INVALID_REQUEST;
            res->ErrorMessage = "creation of an internal topic is prohibited";
        } else if (rc == HD_EEXIST)
            res->ErrorCode = KAFKA_ERR_TOPIC_ALREADY_EXISTS;
        else if (rc == HD_ERANGE)
            res->ErrorCode = KAFKA_ERR_INVALID_PARTITIONS;
        else if (rc == HD_EINVAL && !broker_topic_name_valid(res->Name))
            res->ErrorCode = KAFKA_ERR_INVALID_TOPIC_EXCEPTION;
        else if (rc == HD_EINVAL)
            res->ErrorCode = KAFKA_ERR_INVALID_CONFIG;
        else
            res->ErrorCode = KAFKA_ERR_KAFKA_STORAGE_ERROR;
    }
    if (last) {
        create_state_t *st = kafka__alloc(r, sizeof *st);
        memset(st, 0, sizeof *st);
        st->ops = &create_ops;
        st->r = r;
        st->topic = last;
        st->w.cb = on_precreated;
        st->w.ctx = st;
        if (broker_topic_precreate_wait(last, &st->w)) {
            r->_state = st;
            return KAFKA_REQ_PENDING;
        }
    }
    return KAFKA_REQ_DONE;
}

/* ---- DeleteTopics ---- */

int kafka__handle_DeleteTopics(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_DeleteTopicsRequest_t *req = req_;
    kafka_DeleteTopicsResponse_t *resp = resp_;
    int32_t n = req->TopicNames_n < 0 ? 0 : req->TopicNames_n;
    resp->ThrottleTimeMs = 0;
    resp->Responses_n = n;
    resp->Responses = kafka__alloc(r, sizeof *resp->Responses * (size_t)(n ? n : 1));
    for (int32_t i = 0; i < n; i++) {
        const char *name = req->TopicNames[i] ? req->TopicNames[i] : "";
        resp->Responses[i].Name = name;
        if (broker_internal_topic_find(r->broker, name)) {
            /* Herald keeps its group state there: read-only (docs/kafka-compat.md). */
            resp->Responses[i].ErrorCode = KAFKA_ERR_INVALID_REQUEST;
            continue;
        }
        int rc = broker_topic_delete(r->broker, name);
        resp->Responses[i].ErrorCode = rc == 0              ? 0
                                       : rc == HD_ENOTFOUND ? KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION
                                                            : KAFKA_ERR_KAFKA_STORAGE_ERROR;
    }
    return KAFKA_REQ_DONE;
}

/* ---- DeleteRecords ---- */

int kafka__handle_DeleteRecords(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_DeleteRecordsRequest_t *req = req_;
    kafka_DeleteRecordsResponse_t *resp = resp_;
    int32_t nt = req->Topics_n < 0 ? 0 : req->Topics_n;
    resp->ThrottleTimeMs = 0;
    resp->Topics_n = nt;
    resp->Topics = kafka__alloc(r, sizeof *resp->Topics * (size_t)(nt ? nt : 1));
    for (int32_t i = 0; i < nt; i++) {
        kafka_DeleteRecordsRequest_DeleteRecordsTopic_t *qt = &req->Topics[i];
        kafka_DeleteRecordsResponse_DeleteRecordsTopicResult_t *rt = &resp->Topics[i];
        rt->Name = qt->Name ? qt->Name : "";
        int32_t np = qt->Partitions_n < 0 ? 0 : qt->Partitions_n;
        rt->Partitions_n = np;
        rt->Partitions = kafka__alloc(r, sizeof *rt->Partitions * (size_t)(np ? np : 1));
        broker_topic_t *t = broker_topic_find(r->broker, rt->Name);
        bool internal = broker_topic_name_reserved(rt->Name);
        for (int32_t k = 0; k < np; k++) {
            kafka_DeleteRecordsResponse_DeleteRecordsPartitionResult_t *rp = &rt->Partitions[k];
            rp->PartitionIndex = qt->Partitions[k].PartitionIndex;
            rp->LowWatermark = -1;
            if (internal) {
                rp->ErrorCode = KAFKA_ERR_INVALID_TOPIC_EXCEPTION; /* as Kafka answers */
                continue;
            }
            broker_partition_t *p = t ? broker_topic_partition(t, rp->PartitionIndex) : NULL;
            if (!p) {
                rp->ErrorCode = KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            int64_t low;
            int rc = broker_partition_delete_records(p, qt->Partitions[k].Offset, &low);
            if (rc == 0) {
                rp->ErrorCode = 0;
                rp->LowWatermark = low;
            } else if (rc == HD_ERANGE) {
                rp->ErrorCode = KAFKA_ERR_OFFSET_OUT_OF_RANGE;
            } else {
                say_warn("topic %s: DeleteRecords on partition %" PRId32 " failed: %s", rt->Name,
                         rp->PartitionIndex, hd_strerror(rc));
                rp->ErrorCode = KAFKA_ERR_KAFKA_STORAGE_ERROR;
            }
        }
    }
    return KAFKA_REQ_DONE;
}

/* ---- DescribeCluster ---- */

int kafka__handle_DescribeCluster(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_DescribeClusterRequest_t *req = req_;
    kafka_DescribeClusterResponse_t *resp = resp_;
    char host[256];
    int32_t port;
    kafka__advertised(r->cfg, host, sizeof host, &port);
    resp->ThrottleTimeMs = 0;
    resp->ErrorCode = 0;
    resp->ErrorMessage = NULL;
    resp->EndpointType = req->EndpointType;
    resp->ClusterId = broker_cluster_id(r->broker);
    resp->ControllerId = (int32_t)r->cfg->node_id;
    resp->Brokers_n = 1;
    resp->Brokers = kafka__alloc(r, sizeof *resp->Brokers);
    resp->Brokers[0].BrokerId = (int32_t)r->cfg->node_id;
    resp->Brokers[0].Host = kafka__strdup(r, host);
    resp->Brokers[0].Port = port;
    resp->Brokers[0].Rack = NULL;
    resp->ClusterAuthorizedOperations =
        req->IncludeClusterAuthorizedOperations ? CLUSTER_OPERATIONS : OPERATIONS_NOT_REQUESTED;
    return KAFKA_REQ_DONE;
}

/* ---- CreatePartitions ---- */

int kafka__handle_CreatePartitions(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_CreatePartitionsRequest_t *req = req_;
    kafka_CreatePartitionsResponse_t *resp = resp_;
    int32_t n = req->Topics_n < 0 ? 0 : req->Topics_n;
    resp->ThrottleTimeMs = 0;
    resp->Results_n = n;
    resp->Results = kafka__alloc(r, sizeof *resp->Results * (size_t)(n ? n : 1));
    for (int32_t i = 0; i < n; i++) {
        kafka_CreatePartitionsRequest_CreatePartitionsTopic_t *ct = &req->Topics[i];
        kafka_CreatePartitionsResponse_CreatePartitionsTopicResult_t *res = &resp->Results[i];
        res->Name = ct->Name ? ct->Name : "";
        broker_topic_t *t = broker_topic_find(r->broker, res->Name);
        if (broker_internal_topic_find(r->broker, res->Name)) {
            res->ErrorCode = KAFKA_ERR_INVALID_REQUEST;
            res->ErrorMessage = "the internal topic __consumer_offsets is read-only";
            continue;
        }
        if (!t) {
            res->ErrorCode = KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
            res->ErrorMessage = "unknown topic";
            continue;
        }
        if (ct->Assignments_n > 0) {
            bool ok = ct->Assignments_n == ct->Count - broker_topic_partitions(t);
            for (int32_t a = 0; ok && a < ct->Assignments_n; a++)
                ok = ct->Assignments[a].BrokerIds_n == 1 &&
                     ct->Assignments[a].BrokerIds[0] == (int32_t)r->cfg->node_id;
            if (!ok) {
                res->ErrorCode = KAFKA_ERR_INVALID_REPLICA_ASSIGNMENT;
                res->ErrorMessage = "assignments must name this single broker, one per new "
                                    "partition";
                continue;
            }
        }
        const char *why = "";
        int rc = broker_topic_add_partitions(r->broker, t, ct->Count, req->ValidateOnly, &why);
        res->ErrorCode = rc == 0                              ? 0
                         : rc == HD_EINVAL || rc == HD_ERANGE ? KAFKA_ERR_INVALID_PARTITIONS
                                                              : KAFKA_ERR_KAFKA_STORAGE_ERROR;
        res->ErrorMessage = rc == 0 ? NULL : why;
    }
    return KAFKA_REQ_DONE;
}

/* ---- InitProducerId ---- */

int kafka__handle_InitProducerId(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_InitProducerIdRequest_t *req = req_;
    kafka_InitProducerIdResponse_t *resp = resp_;
    resp->ThrottleTimeMs = 0;
    resp->ProducerId = -1;
    resp->ProducerEpoch = -1;
    if (req->TransactionalId) {
        say_warn_every(10,
                       "conn %s: transactional producer refused (transactions are not "
                       "supported)",
                       r->peer);
        resp->ErrorCode = KAFKA_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
        return KAFKA_REQ_DONE;
    }
    int64_t pid;
    int rc = broker_producer_id_next(r->broker, &pid);
    if (rc < 0) {
        resp->ErrorCode = KAFKA_ERR_KAFKA_STORAGE_ERROR;
        return KAFKA_REQ_DONE;
    }
    resp->ErrorCode = 0;
    resp->ProducerId = pid;
    resp->ProducerEpoch = 0;
    return KAFKA_REQ_DONE;
}

/* ---- FindCoordinator ---- */

int kafka__handle_FindCoordinator(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_FindCoordinatorRequest_t *req = req_;
    kafka_FindCoordinatorResponse_t *resp = resp_;
    resp->ThrottleTimeMs = 0;
    resp->ErrorMessage = NULL;
    resp->NodeId = -1;
    resp->Host = "";
    resp->Port = -1;
    if (req->KeyType != 0) {
        /* Transactions have no coordinator here. */
        resp->ErrorCode = KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
        resp->ErrorMessage = "transactions are not supported";
        return KAFKA_REQ_DONE;
    }
    char host[256];
    int32_t port;
    kafka__advertised(r->cfg, host, sizeof host, &port);
    resp->ErrorCode = 0;
    resp->NodeId = (int32_t)r->cfg->node_id;
    resp->Host = kafka__strdup(r, host);
    resp->Port = port;
    return KAFKA_REQ_DONE;
}
