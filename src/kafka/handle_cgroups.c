/* The consumer-group APIs of KIP-848: ConsumerGroupHeartbeat (v0-1) and ConsumerGroupDescribe
 * (v0-1). The coordinator is broker/group_consumer.c; these handlers translate between the decoded
 * structs and it.
 *
 * Behaviour notes (see also docs/kafka-compat.md):
 * - Assignments travel as topic ids (the ids Metadata v10+ reports), grouped by topic in the
 *   order of the ids; the Assignment is null when it did not change since the last heartbeat.
 * - v0 joins may leave the member id empty: the coordinator makes one. v1 clients make their own.
 * - A topic regex subscription (v1) is evaluated by the coordinator (group_consumer.c).
 * - ConsumerGroupDescribe answers GROUP_ID_NOT_FOUND for unknown and for classic groups (the
 *   Admin client then describes those with DescribeGroups) with Kafka's messages, and
 *   INVALID_GROUP_ID for the empty id; it reports topic names beside ids, each member's regex,
 *   and from v1 the member type (always 1, consumer: classic members never join these groups). */
#include "broker/group.h"
#include "kafka/handler_int.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

static const char *nz(const char *s) { return s ? s : ""; }

/* "/127.0.0.1" from the peer "127.0.0.1:5555", as Kafka reports client hosts. */
static const char *client_host(kafka_req_t *r)
{
    const char *peer = nz(r->peer);
    const char *colon = strrchr(peer, ':');
    size_t n = colon ? (size_t)(colon - peer) : strlen(peer);
    char *h = kafka__alloc(r, n + 2);
    h[0] = '/';
    memcpy(h + 1, peer, n);
    h[n + 1] = '\0';
    return h;
}

/* Number of distinct topics in a sorted partition set. */
static int32_t count_topics(const broker_cg_part_t *v, int n)
{
    int32_t t = 0;
    for (int i = 0; i < n; i++)
        if (!i || memcmp(v[i].topic_id, v[i - 1].topic_id, 16))
            t++;
    return t;
}

/* ---- ConsumerGroupHeartbeat ---- */

int kafka__handle_ConsumerGroupHeartbeat(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_ConsumerGroupHeartbeatRequest_t *req = req_;
    kafka_ConsumerGroupHeartbeatResponse_t *resp = resp_;
    broker_cg_heartbeat_t hb = {0};
    kafka__group_note(r, req->GroupId);
    hb.group_id = req->GroupId;
    hb.member_id = nz(req->MemberId);
    hb.member_epoch = req->MemberEpoch;
    hb.instance_id = req->InstanceId;
    hb.rack_id = req->RackId;
    hb.rebalance_ms = req->RebalanceTimeoutMs;
    hb.topics = req->SubscribedTopicNames;
    hb.ntopics = req->SubscribedTopicNames_n;
    hb.regex = r->api_version >= 1 ? req->SubscribedTopicRegex : NULL;
    hb.assignor = req->ServerAssignor;
    hb.client_id = r->client_id;
    hb.client_host = client_host(r);
    hb.nowned = -1;
    if (req->TopicPartitions_n >= 0) {
        int64_t total = 0;
        for (int32_t i = 0; i < req->TopicPartitions_n; i++)
            total +=
                req->TopicPartitions[i].Partitions_n > 0 ? req->TopicPartitions[i].Partitions_n : 0;
        /* Bounded by the frame size: each partition took 4 bytes of it. */
        broker_cg_part_t *owned = kafka__alloc(r, sizeof *owned * (size_t)(total + 1));
        int32_t k = 0;
        for (int32_t i = 0; i < req->TopicPartitions_n; i++) {
            kafka_ConsumerGroupHeartbeatRequest_TopicPartitions_t *tp = &req->TopicPartitions[i];
            for (int32_t j = 0; j < tp->Partitions_n; j++, k++) {
                memcpy(owned[k].topic_id, tp->TopicId, 16);
                owned[k].partition = tp->Partitions[j];
            }
        }
        hb.owned = owned;
        hb.nowned = k;
    }
    broker_cg_answer_t a;
    broker_cgroup_heartbeat(r->broker, &hb, &a);
    resp->ThrottleTimeMs = 0;
    resp->ErrorCode = a.error;
    resp->ErrorMessage = a.message;
    /* An error answer carries no member id (null), as Kafka's. */
    resp->MemberId = a.member_id && !a.error ? kafka__strdup(r, a.member_id) : NULL;
    resp->MemberEpoch = a.member_epoch;
    resp->HeartbeatIntervalMs = a.error ? 0 : a.heartbeat_ms;
    resp->Assignment = NULL;
    if (a.error || !a.has_assignment)
        return KAFKA_REQ_DONE;
    kafka_ConsumerGroupHeartbeatResponse_Assignment_t *as = kafka__alloc(r, sizeof *as);
    int32_t nt = count_topics(a.assigned, a.nassigned);
    as->TopicPartitions_n = nt;
    as->TopicPartitions = kafka__alloc(r, sizeof *as->TopicPartitions * (size_t)(nt + 1));
    int32_t *parts = kafka__alloc(r, sizeof *parts * (size_t)(a.nassigned + 1));
    for (int i = 0, t = -1; i < a.nassigned; i++) {
        if (!i || memcmp(a.assigned[i].topic_id, a.assigned[i - 1].topic_id, 16)) {
            t++;
            memcpy(as->TopicPartitions[t].TopicId, a.assigned[i].topic_id, 16);
            as->TopicPartitions[t].Partitions = parts + i;
            as->TopicPartitions[t].Partitions_n = 0;
        }
        parts[i] = a.assigned[i].partition;
        as->TopicPartitions[t].Partitions_n++;
    }
    resp->Assignment = as;
    return KAFKA_REQ_DONE;
}

/* ---- ConsumerGroupDescribe ---- */

static kafka_ConsumerGroupDescribeResponse_Assignment_t *
describe_assignment(kafka_req_t *r, const broker_cg_part_t *v, int n)
{
    kafka_ConsumerGroupDescribeResponse_Assignment_t *as = kafka__alloc(r, sizeof *as);
    int32_t nt = count_topics(v, n);
    as->TopicPartitions_n = nt;
    as->TopicPartitions = kafka__alloc(r, sizeof *as->TopicPartitions * (size_t)(nt + 1));
    int32_t *parts = kafka__alloc(r, sizeof *parts * (size_t)(n + 1));
    for (int i = 0, t = -1; i < n; i++) {
        if (!i || memcmp(v[i].topic_id, v[i - 1].topic_id, 16)) {
            kafka_ConsumerGroupDescribeResponse_TopicPartitions_t *tp = &as->TopicPartitions[++t];
            broker_topic_t *topic = broker_topic_find_id(r->broker, v[i].topic_id);
            memcpy(tp->TopicId, v[i].topic_id, 16);
            tp->TopicName = topic ? kafka__strdup(r, broker_topic_name(topic)) : "";
            tp->Partitions = parts + i;
            tp->Partitions_n = 0;
        }
        parts[i] = v[i].partition;
        as->TopicPartitions[t].Partitions_n++;
    }
    return as;
}

int kafka__handle_ConsumerGroupDescribe(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_ConsumerGroupDescribeRequest_t *req = req_;
    kafka_ConsumerGroupDescribeResponse_t *resp = resp_;
    int32_t n = req->GroupIds_n < 0 ? 0 : req->GroupIds_n;
    resp->ThrottleTimeMs = 0;
    resp->Groups_n = n;
    resp->Groups = kafka__alloc(r, sizeof *resp->Groups * (size_t)(n + 1));
    for (int32_t i = 0; i < n; i++) {
        kafka_ConsumerGroupDescribeResponse_DescribedGroup_t *d = &resp->Groups[i];
        const char *id = nz(req->GroupIds[i]);
        broker_group_t *g = id[0] ? broker_group_find(r->broker, id) : NULL;
        d->GroupId = id;
        d->GroupState = "";
        d->AssignorName = "";
        d->AuthorizedOperations = INT32_MIN;
        if (!id[0]) {
            d->ErrorCode = KAFKA_ERR_INVALID_GROUP_ID; /* and no message, as Kafka */
            continue;
        }
        if (!g || !broker_group_is_consumer(g)) {
            size_t len = strlen(id) + 40;
            char *msg = kafka__alloc(r, len);
            snprintf(msg, len, g ? "Group %s is not a consumer group." : "Group %s not found.", id);
            d->ErrorCode = KAFKA_ERR_GROUP_ID_NOT_FOUND;
            d->ErrorMessage = msg;
            continue;
        }
        if (req->IncludeAuthorizedOperations)
            d->AuthorizedOperations = KAFKA_GROUP_AUTHORIZED_OPS;
        broker_cg_info_t info;
        broker_cgroup_info(g, &info);
        d->GroupState = kafka__strdup(r, broker_group_state(g));
        d->GroupEpoch = info.group_epoch;
        d->AssignmentEpoch = info.assignment_epoch;
        d->AssignorName = kafka__strdup(r, info.assignor);
        d->Members_n = info.nmembers;
        d->Members = kafka__alloc(r, sizeof *d->Members * (size_t)(info.nmembers + 1));
        for (int k = 0; k < info.nmembers; k++) {
            broker_cg_member_info_t mi;
            broker_cgroup_member(g, k, &mi);
            kafka_ConsumerGroupDescribeResponse_Member_t *m = &d->Members[k];
            m->MemberId = kafka__strdup(r, mi.member_id);
            m->InstanceId = mi.instance_id ? kafka__strdup(r, mi.instance_id) : NULL;
            m->RackId = mi.rack_id ? kafka__strdup(r, mi.rack_id) : NULL;
            m->MemberEpoch = mi.member_epoch;
            m->ClientId = kafka__strdup(r, mi.client_id);
            m->ClientHost = kafka__strdup(r, mi.client_host);
            m->SubscribedTopicNames_n = mi.ntopics;
            m->SubscribedTopicNames =
                kafka__alloc(r, sizeof *m->SubscribedTopicNames * (size_t)(mi.ntopics + 1));
            for (int t = 0; t < mi.ntopics; t++)
                m->SubscribedTopicNames[t] = kafka__strdup(r, mi.topics[t]);
            /* "" without a regex, as Kafka reports it. */
            m->SubscribedTopicRegex = mi.regex ? kafka__strdup(r, mi.regex) : "";
            m->MemberType = 1; /* a consumer-protocol member (KIP-1099) */
            m->Assignment = describe_assignment(r, mi.assigned, mi.nassigned);
            m->TargetAssignment = describe_assignment(r, mi.target, mi.ntarget);
        }
    }
    return KAFKA_REQ_DONE;
}
