/* Consumer-group APIs: JoinGroup (v0-5), SyncGroup (v0-3), Heartbeat (v0-3), LeaveGroup (v0-3),
 * OffsetCommit (v0-9), OffsetFetch (v0-9), DescribeGroups (v0-6), ListGroups (v0-5),
 * DeleteGroups (v0-3) and OffsetDelete (v0). The coordinator itself is broker/group.c; these
 * handlers translate between the decoded structs and it.
 *
 * Behaviour notes (see also docs/kafka-compat.md):
 * - JoinGroup v0 has no rebalance timeout: the session timeout is used (a -1 made Redpanda
 *   rebalance forever). v4+ joins without a member id get MEMBER_ID_REQUIRED. JoinGroup parks
 *   until the join phase ends; SyncGroup of a follower parks until the leader's SyncGroup.
 * - OffsetCommit v0 and generation -1 with an empty member id commit as a "simple consumer"
 *   (allowed while the group has no members). Each partition is checked (known topic and
 *   partition, metadata at most offset.metadata.max.bytes); the answer waits until the commit
 *   is fsynced in the offsets log. Retention times (v2-4) are ignored.
 * - OffsetFetch answers offset -1, leader epoch -1 and metadata "" for partitions without a
 *   commit and for unknown groups. A null topic list (v2+) means every committed offset. v8+
 *   answers several groups; v9 checks a consumer-protocol member's epoch (group-level
 *   STALE_MEMBER_EPOCH / UNKNOWN_MEMBER_ID), as Kafka does.
 * - DescribeGroups answers an unknown group (and the empty id) with state "Dead", error 0 up to
 *   v5 and GROUP_ID_NOT_FOUND with "Group <id> not found." from v6 (KIP-1043), as Kafka 4 does;
 *   a consumer-protocol group likewise ("... is not a classic group.": ConsumerGroupDescribe
 *   describes it). Member metadata and assignments are sent only while the group is Stable.
 *   Authorized operations, when asked for, are every group operation (no authorizer).
 * - ListGroups also lists share groups (KIP-932, handle_share.c) with type "share".
 * - ListGroups v5 reports each group's type, "classic" or "consumer" (KIP-848, whose APIs are in
 *   handle_cgroups.c), and filters on it. Members of "consumer" groups commit with OffsetCommit
 *   v9+ and their member epoch (broker_cgroup_commit_check).
 * - DeleteGroups and OffsetDelete answer once their tombstones are durable. */
#include "broker/group.h"
#include "kafka/handler_int.h"
#include "util/err.h"
#include "util/say.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *nz(const char *s) { return s ? s : ""; }

/* Committed metadata for a response: the stored bytes, copied (the store may change them). */
static kafka_bytes_t metadata_copy(kafka_req_t *r, const char *m, size_t len)
{
    kafka_bytes_t b = {hd_slice(NULL, 0), false};
    if (len) {
        uint8_t *p = kafka__alloc(r, len);
        memcpy(p, m, len);
        b.v = hd_slice(p, len);
    }
    return b;
}

static kafka_bytes_t bytes_copy(kafka_req_t *r, hd_slice_t s)
{
    kafka_bytes_t b;
    uint8_t *p = kafka__alloc(r, s.len ? s.len : 1);
    if (s.len)
        memcpy(p, s.p, s.len);
    b.v = hd_slice(p, s.len);
    b.is_null = false;
    return b;
}

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

/* ---- answering once the offsets log is durable ---- */

typedef struct durable_state {
    const kafka__deferred_t *ops; /* first member, see kafka_req_deinit() */
    kafka_req_t *r;
    broker_waiter_t w;
    /* Called with the storage error before finishing, to mark the affected entries. */
    void (*on_error)(kafka_req_t *r, int16_t err);
} durable_state_t;

static void durable_abort(kafka_req_t *r)
{
    durable_state_t *st = r->_state;
    broker_waiter_cancel(&st->w);
}

static const kafka__deferred_t durable_ops = {durable_abort, NULL, durable_abort};

static void on_durable(broker_waiter_t *w, int err)
{
    durable_state_t *st = w->ctx;
    if (err && st->on_error)
        st->on_error(st->r, err == HD_ECLOSED ? KAFKA_ERR_COORDINATOR_NOT_AVAILABLE
                                              : KAFKA_ERR_KAFKA_STORAGE_ERROR);
    kafka__finish(st->r);
}

static int finish_when_durable(kafka_req_t *r, int64_t target,
                               void (*on_error)(kafka_req_t *r, int16_t err))
{
    durable_state_t *st = kafka__alloc(r, sizeof *st);
    memset(st, 0, sizeof *st);
    st->ops = &durable_ops;
    st->r = r;
    st->on_error = on_error;
    st->w.cb = on_durable;
    st->w.ctx = st;
    r->_state = st;
    broker_offsets_wait(r->broker, target, &st->w);
    return KAFKA_REQ_PENDING;
}

/* ---- JoinGroup ---- */

typedef struct join_state {
    const kafka__deferred_t *ops;
    kafka_req_t *r;
    broker_join_waiter_t w;
} join_state_t;

static void join_abort(kafka_req_t *r)
{
    join_state_t *st = r->_state;
    broker_join_waiter_cancel(&st->w);
}

static const kafka__deferred_t join_ops = {join_abort, NULL, join_abort};

static void on_join(broker_join_waiter_t *w, const broker_join_res_t *res)
{
    join_state_t *st = w->ctx;
    kafka_req_t *r = st->r;
    kafka_JoinGroupResponse_t *resp = r->_resp;
    resp->ThrottleTimeMs = 0;
    resp->ErrorCode = res->error;
    resp->GenerationId = res->generation;
    resp->ProtocolName = kafka__strdup(r, nz(res->protocol));
    resp->Leader = kafka__strdup(r, nz(res->leader));
    resp->MemberId = kafka__strdup(r, nz(res->member_id));
    resp->Members_n = res->nmembers;
    resp->Members = kafka__alloc(r, sizeof *resp->Members * (size_t)(res->nmembers + 1));
    for (int i = 0; i < res->nmembers; i++) {
        resp->Members[i].MemberId = kafka__strdup(r, res->members[i].member_id);
        resp->Members[i].GroupInstanceId =
            res->members[i].instance_id ? kafka__strdup(r, res->members[i].instance_id) : NULL;
        resp->Members[i].Metadata = bytes_copy(r, res->members[i].metadata);
    }
    kafka__finish(r);
}

int kafka__handle_JoinGroup(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_JoinGroupRequest_t *req = req_;
    (void)resp_;
    kafka__group_note(r, req->GroupId);
    int32_t np = req->Protocols_n < 0 ? 0 : req->Protocols_n;
    broker_protocol_t *protos = kafka__alloc(r, sizeof *protos * (size_t)(np + 1));
    for (int32_t i = 0; i < np; i++) {
        protos[i].name = req->Protocols[i].Name;
        protos[i].metadata =
            req->Protocols[i].Metadata.is_null ? hd_slice(NULL, 0) : req->Protocols[i].Metadata.v;
    }
    broker_join_req_t jr = {
        .group_id = nz(req->GroupId),
        .member_id = nz(req->MemberId),
        .instance_id = r->api_version >= 5 ? req->GroupInstanceId : NULL,
        .client_id = r->client_id,
        .client_host = client_host(r),
        .protocol_type = nz(req->ProtocolType),
        .session_ms = req->SessionTimeoutMs,
        /* v0 has no rebalance timeout: Kafka uses the session timeout. */
        .rebalance_ms = r->api_version >= 1 && req->RebalanceTimeoutMs > 0 ? req->RebalanceTimeoutMs
                                                                           : req->SessionTimeoutMs,
        .member_id_required = r->api_version >= 4,
        .protocols = protos,
        .nprotocols = np,
    };
    join_state_t *st = kafka__alloc(r, sizeof *st);
    memset(st, 0, sizeof *st);
    st->ops = &join_ops;
    st->r = r;
    st->w.cb = on_join;
    st->w.ctx = st;
    r->_state = st;
    broker_group_join(r->broker, &jr, &st->w);
    return KAFKA_REQ_PENDING;
}

/* ---- SyncGroup ---- */

typedef struct sync_state {
    const kafka__deferred_t *ops;
    kafka_req_t *r;
    broker_sync_waiter_t w;
} sync_state_t;

static void sync_abort(kafka_req_t *r)
{
    sync_state_t *st = r->_state;
    broker_sync_waiter_cancel(&st->w);
}

static const kafka__deferred_t sync_ops = {sync_abort, NULL, sync_abort};

static void on_sync(broker_sync_waiter_t *w, int16_t err, const char *protocol_type,
                    const char *protocol, hd_slice_t assignment)
{
    (void)protocol_type;
    (void)protocol;
    sync_state_t *st = w->ctx;
    kafka_SyncGroupResponse_t *resp = st->r->_resp;
    resp->ThrottleTimeMs = 0;
    resp->ErrorCode = err;
    resp->Assignment = bytes_copy(st->r, err ? hd_slice(NULL, 0) : assignment);
    kafka__finish(st->r);
}

int kafka__handle_SyncGroup(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_SyncGroupRequest_t *req = req_;
    (void)resp_;
    kafka__group_note(r, req->GroupId);
    int32_t na = req->Assignments_n < 0 ? 0 : req->Assignments_n;
    broker_assignment_t *as = kafka__alloc(r, sizeof *as * (size_t)(na + 1));
    for (int32_t i = 0; i < na; i++) {
        as[i].member_id = nz(req->Assignments[i].MemberId);
        as[i].assignment = req->Assignments[i].Assignment.is_null
                               ? hd_slice(NULL, 0)
                               : req->Assignments[i].Assignment.v;
    }
    sync_state_t *st = kafka__alloc(r, sizeof *st);
    memset(st, 0, sizeof *st);
    st->ops = &sync_ops;
    st->r = r;
    st->w.cb = on_sync;
    st->w.ctx = st;
    r->_state = st;
    broker_group_sync(r->broker, nz(req->GroupId), req->GenerationId, nz(req->MemberId),
                      r->api_version >= 3 ? req->GroupInstanceId : NULL, as, na, &st->w);
    return KAFKA_REQ_PENDING;
}

/* ---- Heartbeat, LeaveGroup ---- */

int kafka__handle_Heartbeat(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_HeartbeatRequest_t *req = req_;
    kafka_HeartbeatResponse_t *resp = resp_;
    kafka__group_note(r, req->GroupId);
    resp->ThrottleTimeMs = 0;
    resp->ErrorCode =
        broker_group_heartbeat(r->broker, nz(req->GroupId), req->GenerationId, nz(req->MemberId),
                               r->api_version >= 3 ? req->GroupInstanceId : NULL);
    return KAFKA_REQ_DONE;
}

int kafka__handle_LeaveGroup(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_LeaveGroupRequest_t *req = req_;
    kafka_LeaveGroupResponse_t *resp = resp_;
    resp->ThrottleTimeMs = 0;
    const char *group = nz(req->GroupId);
    if (r->api_version < 3) {
        resp->ErrorCode = broker_group_leave(r->broker, group, nz(req->MemberId), NULL);
        return KAFKA_REQ_DONE;
    }
    int32_t n = req->Members_n < 0 ? 0 : req->Members_n;
    resp->ErrorCode = group[0] ? KAFKA_ERR_NONE : KAFKA_ERR_INVALID_GROUP_ID;
    resp->Members_n = n;
    resp->Members = kafka__alloc(r, sizeof *resp->Members * (size_t)(n + 1));
    for (int32_t i = 0; i < n; i++) {
        kafka_LeaveGroupRequest_MemberIdentity_t *m = &req->Members[i];
        resp->Members[i].MemberId = nz(m->MemberId);
        resp->Members[i].GroupInstanceId = m->GroupInstanceId;
        resp->Members[i].ErrorCode =
            group[0] ? broker_group_leave(r->broker, group, nz(m->MemberId), m->GroupInstanceId)
                     : KAFKA_ERR_INVALID_GROUP_ID;
    }
    return KAFKA_REQ_DONE;
}

/* ---- OffsetCommit ---- */

static void commit_failed(kafka_req_t *r, int16_t err)
{
    kafka_OffsetCommitResponse_t *resp = r->_resp;
    for (int32_t i = 0; i < resp->Topics_n; i++)
        for (int32_t k = 0; k < resp->Topics[i].Partitions_n; k++)
            if (resp->Topics[i].Partitions[k].ErrorCode == KAFKA_ERR_NONE)
                resp->Topics[i].Partitions[k].ErrorCode = err;
}

int kafka__handle_OffsetCommit(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_OffsetCommitRequest_t *req = req_;
    kafka_OffsetCommitResponse_t *resp = resp_;
    broker_t *b = r->broker;
    const char *group = nz(req->GroupId);
    kafka__group_note(r, group);
    int32_t generation = r->api_version >= 1 ? req->GenerationIdOrMemberEpoch : -1;
    broker_group_t *g = group[0] ? broker_group_find(b, group) : NULL;
    int16_t gerr =
        broker_group_is_consumer(g)
            ? broker_cgroup_commit_check(b, g, generation, nz(req->MemberId), r->api_version)
            : broker_group_commit_check(b, group, generation, nz(req->MemberId),
                                        r->api_version >= 7 ? req->GroupInstanceId : NULL);
    int32_t nt = req->Topics_n < 0 ? 0 : req->Topics_n;
    int total = 0;
    for (int32_t i = 0; i < nt; i++)
        total += req->Topics[i].Partitions_n < 0 ? 0 : req->Topics[i].Partitions_n;
    broker_offset_commit_t *cs = kafka__alloc(r, sizeof *cs * (size_t)(total + 1));
    int nc = 0;
    resp->ThrottleTimeMs = 0;
    resp->Topics_n = nt;
    resp->Topics = kafka__alloc(r, sizeof *resp->Topics * (size_t)(nt + 1));
    for (int32_t i = 0; i < nt; i++) {
        kafka_OffsetCommitRequest_OffsetCommitRequestTopic_t *t = &req->Topics[i];
        kafka_OffsetCommitResponse_OffsetCommitResponseTopic_t *rt = &resp->Topics[i];
        int32_t np = t->Partitions_n < 0 ? 0 : t->Partitions_n;
        const char *name = nz(t->Name);
        broker_topic_t *topic = gerr ? NULL : broker_topic_find(b, name);
        rt->Name = name;
        rt->Partitions_n = np;
        rt->Partitions = kafka__alloc(r, sizeof *rt->Partitions * (size_t)(np + 1));
        for (int32_t k = 0; k < np; k++) {
            kafka_OffsetCommitRequest_OffsetCommitRequestPartition_t *p = &t->Partitions[k];
            rt->Partitions[k].PartitionIndex = p->PartitionIndex;
            int16_t err = gerr;
            if (!err && (!topic || p->PartitionIndex < 0 ||
                         p->PartitionIndex >= broker_topic_partitions(topic)))
                err = KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
            else if (!err &&
                     (int64_t)p->CommittedMetadata.v.len > r->cfg->offset_metadata_max_bytes)
                err = KAFKA_ERR_OFFSET_METADATA_TOO_LARGE;
            rt->Partitions[k].ErrorCode = err;
            if (err)
                continue;
            cs[nc].topic = name;
            cs[nc].partition = p->PartitionIndex;
            cs[nc].offset = p->CommittedOffset;
            cs[nc].leader_epoch = r->api_version >= 6 ? p->CommittedLeaderEpoch : -1;
            /* Byte for byte, NUL bytes included; null is stored as "". */
            cs[nc].metadata = (const char *)p->CommittedMetadata.v.p;
            cs[nc].metadata_len = p->CommittedMetadata.v.len;
            nc++;
        }
    }
    if (!nc)
        return KAFKA_REQ_DONE;
    int64_t at;
    int rc = broker_offsets_commit(b, group, cs, nc, &at);
    if (rc < 0) {
        say_warn_every(5, "conn %s: commit for group %s failed: %s", r->peer, group,
                       hd_strerror(rc));
        commit_failed(r, KAFKA_ERR_KAFKA_STORAGE_ERROR);
        return KAFKA_REQ_DONE;
    }
    return finish_when_durable(r, at, commit_failed);
}

/* ---- OffsetFetch ---- */

static void fill_fetched(kafka_req_t *r, const char *group, const char *topic,
                         kafka_OffsetFetchResponse_OffsetFetchResponsePartition_t *p,
                         int32_t partition)
{
    broker_offset_t o;
    p->PartitionIndex = partition;
    p->ErrorCode = 0;
    if (group[0] && broker_offsets_get(r->broker, group, topic, partition, &o)) {
        p->CommittedOffset = o.offset;
        p->CommittedLeaderEpoch = o.leader_epoch;
        p->Metadata = metadata_copy(r, o.metadata, o.metadata_len);
    } else {
        p->CommittedOffset = -1;
        p->CommittedLeaderEpoch = -1;
        p->Metadata = (kafka_bytes_t){hd_slice(NULL, 0), false}; /* "" */
    }
}

typedef struct fetch_all {
    kafka_req_t *r;
    kafka_OffsetFetchResponse_OffsetFetchResponseTopic_t *topics; /* room for one per offset */
    int32_t ntopics;
    kafka_OffsetFetchResponse_OffsetFetchResponsePartition_t *parts; /* one flat array */
    int32_t nparts;
} fetch_all_t;

static int collect_offset(void *ctx, const char *topic, int32_t partition, const broker_offset_t *o)
{
    fetch_all_t *fa = ctx;
    kafka_OffsetFetchResponse_OffsetFetchResponseTopic_t *t =
        fa->ntopics ? &fa->topics[fa->ntopics - 1] : NULL;
    /* Offsets arrive grouped by topic, so each topic's partitions are a contiguous run of the
     * flat array, and a new name starts a new topic. */
    if (!t || strcmp(t->Name, topic)) {
        t = &fa->topics[fa->ntopics++];
        t->Name = kafka__strdup(fa->r, topic);
        t->Partitions_n = 0;
        t->Partitions = &fa->parts[fa->nparts];
    }
    kafka_OffsetFetchResponse_OffsetFetchResponsePartition_t *p = &fa->parts[fa->nparts++];
    t->Partitions_n++;
    p->PartitionIndex = partition;
    p->CommittedOffset = o->offset;
    p->CommittedLeaderEpoch = o->leader_epoch;
    p->Metadata = metadata_copy(fa->r, o->metadata, o->metadata_len);
    p->ErrorCode = 0;
    return 0;
}

static int count_offset(void *ctx, const char *topic, int32_t partition, const broker_offset_t *o)
{
    (void)topic;
    (void)partition;
    (void)o;
    (*(int32_t *)ctx)++;
    return 0;
}

/* One group's answer: the asked partitions, or (ntopics -1: a null list) every committed
 * offset of the group. */
static void fetch_group(kafka_req_t *r, const char *group,
                        const kafka_OffsetFetchRequest_OffsetFetchRequestTopic_t *topics,
                        int32_t ntopics, kafka_OffsetFetchResponse_OffsetFetchResponseTopic_t **out,
                        int32_t *nout)
{
    if (ntopics < 0) {
        int32_t n = 0;
        if (group[0])
            broker_offsets_each(r->broker, group, count_offset, &n);
        fetch_all_t fa = {r, NULL, 0, NULL, 0};
        fa.parts = kafka__alloc(r, sizeof *fa.parts * (size_t)(n + 1));
        fa.topics = kafka__alloc(r, sizeof *fa.topics * (size_t)(n + 1));
        if (group[0])
            broker_offsets_each(r->broker, group, collect_offset, &fa);
        *out = fa.topics;
        *nout = fa.ntopics;
        return;
    }
    kafka_OffsetFetchResponse_OffsetFetchResponseTopic_t *rts =
        kafka__alloc(r, sizeof *rts * (size_t)(ntopics + 1));
    for (int32_t i = 0; i < ntopics; i++) {
        const kafka_OffsetFetchRequest_OffsetFetchRequestTopic_t *t = &topics[i];
        kafka_OffsetFetchResponse_OffsetFetchResponseTopic_t *rt = &rts[i];
        int32_t np = t->PartitionIndexes_n < 0 ? 0 : t->PartitionIndexes_n;
        rt->Name = nz(t->Name);
        rt->Partitions_n = np;
        rt->Partitions = kafka__alloc(r, sizeof *rt->Partitions * (size_t)(np + 1));
        for (int32_t k = 0; k < np; k++) {
            fill_fetched(r, group, rt->Name, &rt->Partitions[k], t->PartitionIndexes[k]);
            if (!group[0] && r->api_version < 2)
                rt->Partitions[k].ErrorCode = KAFKA_ERR_INVALID_GROUP_ID;
        }
    }
    *out = rts;
    *nout = ntopics;
}

int kafka__handle_OffsetFetch(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_OffsetFetchRequest_t *req = req_;
    kafka_OffsetFetchResponse_t *resp = resp_;
    resp->ThrottleTimeMs = 0;
    if (r->api_version < 8) {
        const char *group = nz(req->GroupId);
        kafka__group_note(r, group);
        resp->ErrorCode = group[0] ? KAFKA_ERR_NONE : KAFKA_ERR_INVALID_GROUP_ID;
        fetch_group(r, group, req->Topics, req->Topics_n, &resp->Topics, &resp->Topics_n);
        return KAFKA_REQ_DONE;
    }
    /* v8+: several groups; v9: a consumer-protocol member names itself and its epoch. */
    int32_t ng = req->Groups_n < 0 ? 0 : req->Groups_n;
    resp->Groups_n = ng;
    resp->Groups = kafka__alloc(r, sizeof *resp->Groups * (size_t)(ng + 1));
    for (int32_t i = 0; i < ng; i++) {
        kafka_OffsetFetchRequest_OffsetFetchRequestGroup_t *q = &req->Groups[i];
        kafka_OffsetFetchResponse_OffsetFetchResponseGroup_t *rg = &resp->Groups[i];
        const char *group = nz(q->GroupId);
        kafka__group_note(r, group);
        rg->GroupId = group;
        rg->ErrorCode = group[0] ? KAFKA_ERR_NONE : KAFKA_ERR_INVALID_GROUP_ID;
        broker_group_t *g = group[0] ? broker_group_find(r->broker, group) : NULL;
        if (r->api_version >= 9 && broker_group_is_consumer(g))
            rg->ErrorCode = broker_cgroup_fetch_check(g, q->MemberId, q->MemberEpoch);
        rg->Topics_n = 0;
        rg->Topics = NULL;
        if (rg->ErrorCode)
            continue;
        fetch_group(r, group, q->Topics, q->Topics_n, &rg->Topics, &rg->Topics_n);
    }
    return KAFKA_REQ_DONE;
}

/* ---- DescribeGroups, ListGroups, DeleteGroups, OffsetDelete ---- */

int kafka__handle_DescribeGroups(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_DescribeGroupsRequest_t *req = req_;
    kafka_DescribeGroupsResponse_t *resp = resp_;
    int32_t n = req->Groups_n < 0 ? 0 : req->Groups_n;
    resp->ThrottleTimeMs = 0;
    resp->Groups_n = n;
    resp->Groups = kafka__alloc(r, sizeof *resp->Groups * (size_t)(n + 1));
    for (int32_t i = 0; i < n; i++) {
        kafka_DescribeGroupsResponse_DescribedGroup_t *d = &resp->Groups[i];
        const char *id = nz(req->Groups[i]);
        broker_group_t *g = id[0] ? broker_group_find(r->broker, id) : NULL;
        d->GroupId = id;
        d->ErrorCode = KAFKA_ERR_NONE;
        d->ErrorMessage = NULL;
        d->AuthorizedOperations =
            req->IncludeAuthorizedOperations ? KAFKA_GROUP_AUTHORIZED_OPS : INT32_MIN;
        if (!g || broker_group_is_consumer(g)) {
            /* As Kafka 4: an unknown group (the empty id included) and a consumer-protocol
             * group (described by ConsumerGroupDescribe) are Dead with no error up to v5; v6
             * answers GROUP_ID_NOT_FOUND with a message (KIP-1043). */
            d->GroupState = "Dead";
            d->ProtocolType = "";
            d->ProtocolData = "";
            d->Members_n = 0;
            d->Members = NULL;
            if (r->api_version >= 6) {
                size_t len = strlen(id) + 40;
                char *msg = kafka__alloc(r, len);
                snprintf(msg, len, g ? "Group %s is not a classic group." : "Group %s not found.",
                         id);
                d->ErrorCode = KAFKA_ERR_GROUP_ID_NOT_FOUND;
                d->ErrorMessage = msg;
                d->AuthorizedOperations = INT32_MIN;
            }
            continue;
        }
        const char *state = broker_group_state(g);
        bool stable = !strcmp(state, "Stable");
        d->GroupState = state;
        d->ProtocolType = kafka__strdup(r, broker_group_protocol_type(g));
        d->ProtocolData = kafka__strdup(r, broker_group_protocol(g));
        int nm = broker_group_member_count(g);
        d->Members_n = nm;
        d->Members = kafka__alloc(r, sizeof *d->Members * (size_t)(nm + 1));
        for (int k = 0; k < nm; k++) {
            broker_member_info_t mi;
            broker_group_member(g, k, &mi);
            kafka_DescribeGroupsResponse_DescribedGroupMember_t *m = &d->Members[k];
            m->MemberId = kafka__strdup(r, mi.member_id);
            m->GroupInstanceId = mi.instance_id ? kafka__strdup(r, mi.instance_id) : NULL;
            m->ClientId = kafka__strdup(r, mi.client_id);
            m->ClientHost = kafka__strdup(r, mi.client_host);
            m->MemberMetadata = bytes_copy(r, stable ? mi.metadata : hd_slice(NULL, 0));
            m->MemberAssignment = bytes_copy(r, stable ? mi.assignment : hd_slice(NULL, 0));
        }
    }
    return KAFKA_REQ_DONE;
}

/* Whether ListGroups' type and state filters let a group through. */
static bool list_keeps(const kafka_ListGroupsRequest_t *req, int32_t ntf, int32_t nf,
                       const char *type, const char *state)
{
    bool type_ok = ntf == 0;
    for (int32_t k = 0; k < ntf && !type_ok; k++)
        type_ok = req->TypesFilter[k] && !strcasecmp(req->TypesFilter[k], type);
    bool keep = nf == 0;
    for (int32_t k = 0; k < nf && !keep; k++)
        keep = req->StatesFilter[k] && !strcasecmp(req->StatesFilter[k], state);
    return type_ok && keep;
}

int kafka__handle_ListGroups(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_ListGroupsRequest_t *req = req_;
    kafka_ListGroupsResponse_t *resp = resp_;
    int n = broker_group_count(r->broker);
    int nshare = kafka__share_group_count(r->shares);
    int32_t nf = r->api_version >= 4 && req->StatesFilter_n > 0 ? req->StatesFilter_n : 0;
    resp->ThrottleTimeMs = 0;
    resp->ErrorCode = 0;
    resp->Groups_n = 0;
    resp->Groups = kafka__alloc(r, sizeof *resp->Groups * (size_t)(n + nshare + 1));
    int32_t ntf = r->api_version >= 5 && req->TypesFilter_n > 0 ? req->TypesFilter_n : 0;
    for (int i = 0; i < n; i++) {
        broker_group_t *g = broker_group_at(r->broker, i);
        const char *state = broker_group_state(g);
        const char *type = broker_group_type(g);
        if (!list_keeps(req, ntf, nf, type, state))
            continue;
        kafka_ListGroupsResponse_ListedGroup_t *lg = &resp->Groups[resp->Groups_n++];
        lg->GroupId = kafka__strdup(r, broker_group_id(g));
        lg->ProtocolType = kafka__strdup(r, broker_group_protocol_type(g));
        lg->GroupState = state;
        lg->GroupType = type;
    }
    /* Share groups (KIP-932, handle_share.c): type and protocol type "share". */
    for (int i = 0; i < nshare; i++) {
        const char *state;
        const char *id = kafka__share_group_at(r->shares, i, &state);
        if (!list_keeps(req, ntf, nf, "share", state))
            continue;
        kafka_ListGroupsResponse_ListedGroup_t *lg = &resp->Groups[resp->Groups_n++];
        lg->GroupId = kafka__strdup(r, id);
        lg->ProtocolType = "share";
        lg->GroupState = state;
        lg->GroupType = "share";
    }
    return KAFKA_REQ_DONE;
}

int kafka__handle_DeleteGroups(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_DeleteGroupsRequest_t *req = req_;
    kafka_DeleteGroupsResponse_t *resp = resp_;
    int32_t n = req->GroupsNames_n < 0 ? 0 : req->GroupsNames_n;
    resp->ThrottleTimeMs = 0;
    resp->Results_n = n;
    resp->Results = kafka__alloc(r, sizeof *resp->Results * (size_t)(n + 1));
    int64_t wait_for = -1;
    for (int32_t i = 0; i < n; i++) {
        const char *id = nz(req->GroupsNames[i]);
        int64_t at;
        resp->Results[i].GroupId = id;
        resp->Results[i].ErrorCode = broker_group_delete(r->broker, id, &at);
        if (!resp->Results[i].ErrorCode && at > wait_for)
            wait_for = at;
    }
    if (wait_for < 0)
        return KAFKA_REQ_DONE;
    return finish_when_durable(r, wait_for, NULL);
}

int kafka__handle_OffsetDelete(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_OffsetDeleteRequest_t *req = req_;
    kafka_OffsetDeleteResponse_t *resp = resp_;
    const char *group = nz(req->GroupId);
    int32_t nt = req->Topics_n < 0 ? 0 : req->Topics_n;
    resp->ThrottleTimeMs = 0;
    resp->ErrorCode = KAFKA_ERR_NONE;
    resp->Topics_n = 0;
    resp->Topics = NULL;
    if (!group[0] || !broker_group_find(r->broker, group)) {
        resp->ErrorCode = group[0] ? KAFKA_ERR_GROUP_ID_NOT_FOUND : KAFKA_ERR_INVALID_GROUP_ID;
        return KAFKA_REQ_DONE;
    }
    resp->Topics_n = nt;
    resp->Topics = kafka__alloc(r, sizeof *resp->Topics * (size_t)(nt + 1));
    int64_t wait_for = -1;
    for (int32_t i = 0; i < nt; i++) {
        kafka_OffsetDeleteRequest_OffsetDeleteRequestTopic_t *t = &req->Topics[i];
        kafka_OffsetDeleteResponse_OffsetDeleteResponseTopic_t *rt = &resp->Topics[i];
        int32_t np = t->Partitions_n < 0 ? 0 : t->Partitions_n;
        rt->Name = nz(t->Name);
        rt->Partitions_n = np;
        rt->Partitions = kafka__alloc(r, sizeof *rt->Partitions * (size_t)(np + 1));
        for (int32_t k = 0; k < np; k++) {
            int64_t at = -1;
            int32_t pi = t->Partitions[k].PartitionIndex;
            rt->Partitions[k].PartitionIndex = pi;
            /* The group disappears once its last offset is gone: nothing left to delete. */
            int16_t err = broker_group_find(r->broker, group)
                              ? broker_offsets_delete(r->broker, group, rt->Name, pi, &at)
                              : KAFKA_ERR_NONE;
            rt->Partitions[k].ErrorCode = err;
            if (!err && at > wait_for)
                wait_for = at;
        }
    }
    if (wait_for < 0)
        return KAFKA_REQ_DONE;
    return finish_when_durable(r, wait_for, NULL);
}
