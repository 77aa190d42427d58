/* Share groups (KIP-932): ShareGroupHeartbeat (v1), ShareGroupDescribe (v1), ShareFetch (v1)
 * and ShareAcknowledge (v1), over the delivery engine's subscriptions (delivery/delivery.h).
 *
 * The mapping (see also docs/queues.md and docs/kafka-compat.md):
 * - A share group G reading topic T is the subscription named "share.G.T". It is created on the
 *   first heartbeat of a member subscribed to T (when T exists) with ack_timeout_ms =
 *   group.share.record.lock.duration.ms, max_deliveries = group.share.delivery.count.limit,
 *   no backoff (a released or expired record is deliverable again at once, as in Kafka), the
 *   default dead-letter topic "share.G.T-dlq", and start latest (or earliest with
 *   group.share.start.earliest). A subscription of that name made over HTTP is used as it is, so
 *   HTTP workers and Kafka share consumers can take records from the same subscription. The
 *   group id must be a valid subscription name part ([a-zA-Z0-9._-]); a name that ends up
 *   naming a subscription of another topic is refused with INVALID_REQUEST.
 * - Every member is assigned every partition of every topic it subscribes to (the subscription
 *   hands each record to one member at a time, so members share partitions without overlap).
 *   The member epoch starts at 1 and grows when the member's assignment changes; the assignment
 *   is sent on join, on change, and whenever a heartbeat carries another epoch.
 * - ShareFetch leases up to MaxRecords records (redeliveries first) from the subscriptions of
 *   the session's topics; each goes out as a one-record batch at its own offset, with
 *   AcquiredRecords ranges carrying the delivery count. A member's leases are remembered by
 *   (topic id, partition, offset) so that its acknowledgements find their receipts: accept = ack,
 *   release = nack with no delay, reject = dead-letter now (delivery_reject), gap = nothing.
 *   An acknowledgement of a record this member does not hold (never acquired, lock expired and
 *   taken by another member, already settled) makes the partition's acknowledge error
 *   INVALID_RECORD_STATE. Acknowledgements are answered without waiting for the state log to be
 *   durable: a crash right after may deliver an acknowledged record again (at-least-once).
 * - Share sessions: epoch 0 opens one (replacing the member's previous one), -1 closes it after
 *   its acknowledgements and releases whatever the member still holds; other epochs must follow
 *   the previous one (INVALID_SHARE_SESSION_EPOCH, or SHARE_SESSION_NOT_FOUND without a session).
 *   ShareFetch and ShareAcknowledge need a member that joined with ShareGroupHeartbeat
 *   (UNKNOWN_MEMBER_ID otherwise).
 * - A member that leaves (epoch -1) or sends no heartbeat for group.share.session.timeout.ms is
 *   removed and its leases are released. A group without members stays (its subscriptions keep
 *   their state) until the process ends; the subscriptions stay until deleted over HTTP.
 * - ShareFetch waits up to MaxWaitMs when nothing is deliverable, woken by the subscriptions. */
#include "broker/group.h"
#include "kafka/handler_int.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/monotime.h"
#include "util/say.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHARE_PREFIX "share."
#define SHARE_MEMBER_ID_MAX 64
#define SHARE_TOPICS_MAX 256
#define SHARE_MEMBERS_MAX 1000
#define SHARE_GROUPS_MAX 10000
/* Most records one member may hold at once (its lease table is bounded by this). */
#define SHARE_HELD_MAX 100000
/* How long a member remembers a record after its lease ended (see held_sweep). */
#define SHARE_HELD_GRACE_MS 60000
/* Most partitions one share session may hold. */
#define SHARE_SESSION_PARTS_MAX 10000
#define SHARE_FETCH_DEFAULT 500
#define SHARE_WAIT_MAX_MS 30000

/* One record a member holds: where it is and its receipt. */
typedef struct held {
    struct held *next;
    uint8_t topic_id[16];
    int32_t partition;
    int64_t offset;
    int64_t deadline_ms; /* wall clock: the lease ends then, and the entry is swept */
    char receipt[DELIVERY_RECEIPT_MAX];
} held_t;

/* A (topic id, partition) of a share session. */
typedef struct sess_part {
    uint8_t topic_id[16];
    int32_t partition;
} sess_part_t;

typedef struct member {
    char *id;
    char *client_id, *client_host, *rack;
    int32_t epoch;
    int64_t last_seen_ms;
    char **topics;
    int ntopics;
    /* The last assignment: topics (ids) with their partition counts. */
    uint8_t (*asg_ids)[16];
    int32_t *asg_parts;
    int nasg;
    /* The share session. */
    bool session;
    int32_t session_epoch;
    sess_part_t *sparts;
    int nsparts, capsparts;
    /* Held records, hashed by (topic id, partition, offset). */
    held_t **buckets;
    uint32_t nbuckets, nheld;
} member_t;

typedef struct share_group {
    char *id;
    int32_t epoch;
    member_t **members;
    int nmembers;
} share_group_t;

struct kafka_shares {
    broker_t *b;
    delivery_t *d;
    const hd_config_t *cfg;
    share_group_t **groups;
    int ngroups;
};

static const char *nz(const char *s) { return s ? s : ""; }

static int64_t now_ms(void) { return hd_mono_ms(); }

/* ---- names ---- */

static bool part_valid(const char *s)
{
    if (!s || !s[0])
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return false;
    return true;
}

/* "share.<group>.<topic>" into out; false when it does not fit a subscription name. */
static bool sub_name(const char *group, const char *topic, char *out, size_t cap)
{
    int n = snprintf(out, cap, SHARE_PREFIX "%s.%s", group, topic);
    return n > 0 && (size_t)n < cap && n <= DELIVERY_NAME_MAX;
}

/* The group's subscription of topic, created when create; NULL when the topic is missing, the
 * name is taken by a subscription of another topic, or creation failed. */
static delivery_sub_t *group_sub(kafka_shares_t *sh, const char *group, const char *topic,
                                 bool create)
{
    char name[DELIVERY_NAME_MAX + 1];
    if (!sub_name(group, topic, name, sizeof name))
        return NULL;
    delivery_sub_t *s = delivery_sub_find(sh->d, name);
    if (s)
        return strcmp(delivery_sub_settings(s)->topic, topic) ? NULL : s;
    if (!create || !broker_topic_find(sh->b, topic))
        return NULL;
    delivery_settings_t set;
    delivery_settings_defaults(&set);
    set.name = name;
    set.topic = topic;
    set.ack_timeout_ms = sh->cfg->group_share_record_lock_duration_ms;
    set.max_deliveries = (int32_t)sh->cfg->group_share_delivery_count_limit;
    set.backoff.initial_ms = 0;
    set.backoff.max_ms = 0;
    set.backoff.multiplier = 1.0;
    set.backoff.jitter = 0.0;
    set.start =
        sh->cfg->group_share_start_earliest ? DELIVERY_START_EARLIEST : DELIVERY_START_LATEST;
    const char *why = NULL;
    int64_t durable_at;
    int rc = delivery_sub_create(sh->d, &set, &s, &durable_at, &why);
    if (rc < 0) {
        say_warn_every(10, "share group %s: subscription %s not created: %s", group, name,
                       why ? why : hd_strerror(rc));
        return NULL;
    }
    say_info("share group %s: created subscription %s", group, name);
    return s;
}

/* ---- held records ---- */

static uint32_t held_hash(const uint8_t id[16], int32_t p, int64_t off)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < 16; i++)
        h = (h ^ id[i]) * 1099511628211ull;
    h = (h ^ (uint64_t)(uint32_t)p) * 1099511628211ull;
    h = (h ^ (uint64_t)off) * 1099511628211ull;
    return (uint32_t)(h ^ (h >> 32));
}

static held_t **held_slot(member_t *m, const uint8_t id[16], int32_t p, int64_t off)
{
    if (!m->nbuckets)
        return NULL;
    held_t **pp = &m->buckets[held_hash(id, p, off) & (m->nbuckets - 1)];
    while (*pp &&
           !((*pp)->partition == p && (*pp)->offset == off && !memcmp((*pp)->topic_id, id, 16)))
        pp = &(*pp)->next;
    return pp;
}

static void held_put(member_t *m, const uint8_t id[16], int32_t p, int64_t off, const char *receipt,
                     int64_t deadline_ms)
{
    if (m->nheld + 1 > m->nbuckets) {
        uint32_t nb = m->nbuckets ? m->nbuckets * 2 : 64;
        held_t **buckets = hd_calloc(nb, sizeof *buckets);
        for (uint32_t i = 0; i < m->nbuckets; i++)
            for (held_t *h = m->buckets[i], *next; h; h = next) {
                next = h->next;
                uint32_t k = held_hash(h->topic_id, h->partition, h->offset) & (nb - 1);
                h->next = buckets[k];
                buckets[k] = h;
            }
        free(m->buckets);
        m->buckets = buckets;
        m->nbuckets = nb;
    }
    held_t **pp = held_slot(m, id, p, off);
    held_t *h = *pp;
    if (!h) {
        h = hd_calloc(1, sizeof *h);
        memcpy(h->topic_id, id, 16);
        h->partition = p;
        h->offset = off;
        *pp = h;
        m->nheld++;
    }
    snprintf(h->receipt, sizeof h->receipt, "%s", receipt);
    h->deadline_ms = deadline_ms;
}

/* Forgets held records a while after their lease ended. Until then an acknowledgement of one is
 * still passed to the subscription, which takes it while nobody else leased the record (a late
 * ack); after that the record is deliverable again anyway, perhaps already to another member. */
static void held_sweep(member_t *m, int64_t now_wall)
{
    for (uint32_t i = 0; i < m->nbuckets; i++)
        for (held_t **pp = &m->buckets[i]; *pp;) {
            held_t *h = *pp;
            if (h->deadline_ms + SHARE_HELD_GRACE_MS < now_wall) {
                *pp = h->next;
                m->nheld--;
                free(h);
            } else {
                pp = &h->next;
            }
        }
}

/* Takes the held record out; the caller frees it. NULL when not held. */
static held_t *held_take(member_t *m, const uint8_t id[16], int32_t p, int64_t off)
{
    held_t **pp = held_slot(m, id, p, off);
    if (!pp || !*pp)
        return NULL;
    held_t *h = *pp;
    *pp = h->next;
    m->nheld--;
    return h;
}

/* ---- groups and members ---- */

static share_group_t *group_find(kafka_shares_t *sh, const char *id)
{
    for (int i = 0; i < sh->ngroups; i++)
        if (!strcmp(sh->groups[i]->id, id))
            return sh->groups[i];
    return NULL;
}

static member_t *member_find(share_group_t *g, const char *id)
{
    for (int i = 0; g && i < g->nmembers; i++)
        if (!strcmp(g->members[i]->id, id))
            return g->members[i];
    return NULL;
}

static void free_topics(member_t *m)
{
    for (int i = 0; i < m->ntopics; i++)
        free(m->topics[i]);
    free(m->topics);
    m->topics = NULL;
    m->ntopics = 0;
}

/* Settles every record the member holds: released (delivered again at once) or, with ack,
 * acknowledged. */
static void release_all(kafka_shares_t *sh, share_group_t *g, member_t *m, const char *why)
{
    for (uint32_t i = 0; i < m->nbuckets; i++) {
        for (held_t *h = m->buckets[i], *next; h; h = next) {
            next = h->next;
            broker_topic_t *t = broker_topic_find_id(sh->b, h->topic_id);
            delivery_sub_t *s = t ? group_sub(sh, g->id, broker_topic_name(t), false) : NULL;
            if (s) {
                const char *rc[1] = {h->receipt};
                int res;
                int64_t durable_at;
                delivery_nack(s, rc, 1, 0, why, &res, &durable_at);
            }
            free(h);
        }
        m->buckets[i] = NULL;
    }
    m->nheld = 0;
}

static void member_free(member_t *m)
{
    free(m->id);
    free(m->client_id);
    free(m->client_host);
    free(m->rack);
    free_topics(m);
    free(m->asg_ids);
    free(m->asg_parts);
    free(m->sparts);
    free(m->buckets);
    free(m);
}

static void member_remove(kafka_shares_t *sh, share_group_t *g, member_t *m, const char *why)
{
    release_all(sh, g, m, why);
    for (int i = 0; i < g->nmembers; i++)
        if (g->members[i] == m) {
            g->members[i] = g->members[--g->nmembers];
            break;
        }
    g->epoch++;
    member_free(m);
}

kafka_shares_t *kafka_shares_new(broker_t *b, delivery_t *d, const hd_config_t *cfg)
{
    kafka_shares_t *sh = hd_calloc(1, sizeof *sh);
    sh->b = b;
    sh->d = d;
    sh->cfg = cfg;
    return sh;
}

void kafka_shares_free(kafka_shares_t *sh)
{
    if (!sh)
        return;
    for (int i = 0; i < sh->ngroups; i++) {
        share_group_t *g = sh->groups[i];
        while (g->nmembers)
            member_remove(sh, g, g->members[0], "broker stopped");
        free(g->members);
        free(g->id);
        free(g);
    }
    free(sh->groups);
    free(sh);
}

void kafka_shares_tick(kafka_shares_t *sh)
{
    if (!sh)
        return;
    int64_t now = now_ms(), wall = hd_wall_ms();
    for (int i = 0; i < sh->ngroups; i++) {
        share_group_t *g = sh->groups[i];
        for (int k = 0; k < g->nmembers;) {
            member_t *m = g->members[k];
            if (now - m->last_seen_ms > sh->cfg->group_share_session_timeout_ms) {
                say_info("share group %s: member %s timed out, releasing %u records", g->id, m->id,
                         m->nheld);
                member_remove(sh, g, m, "member session timed out");
            } else {
                held_sweep(m, wall);
                k++;
            }
        }
    }
}

int kafka__share_group_count(const kafka_shares_t *sh) { return sh ? sh->ngroups : 0; }

const char *kafka__share_group_at(const kafka_shares_t *sh, int i, const char **state)
{
    *state = sh->groups[i]->nmembers ? "Stable" : "Empty";
    return sh->groups[i]->id;
}

/* ---- ShareGroupHeartbeat ---- */

/* Recomputes the member's assignment (every partition of its topics that exist, creating the
 * subscriptions); true when it changed. */
static bool reassign(kafka_shares_t *sh, share_group_t *g, member_t *m)
{
    uint8_t(*ids)[16] = hd_calloc((size_t)m->ntopics + 1, 16);
    int32_t *parts = hd_calloc((size_t)m->ntopics + 1, sizeof *parts);
    int n = 0;
    for (int i = 0; i < m->ntopics; i++) {
        broker_topic_t *t = broker_topic_find(sh->b, m->topics[i]);
        if (!t || !group_sub(sh, g->id, m->topics[i], true))
            continue;
        memcpy(ids[n], broker_topic_id(t), 16);
        parts[n] = broker_topic_partitions(t);
        n++;
    }
    bool changed = n != m->nasg || (n && (memcmp(ids, m->asg_ids, (size_t)n * 16) ||
                                          memcmp(parts, m->asg_parts, (size_t)n * sizeof *parts)));
    free(m->asg_ids);
    free(m->asg_parts);
    m->asg_ids = ids;
    m->asg_parts = parts;
    m->nasg = n;
    return changed;
}

static kafka_ShareGroupHeartbeatResponse_Assignment_t *assignment_of(kafka_req_t *r, member_t *m)
{
    kafka_ShareGroupHeartbeatResponse_Assignment_t *a = kafka__alloc(r, sizeof *a);
    memset(a, 0, sizeof *a);
    a->TopicPartitions_n = m->nasg;
    a->TopicPartitions = kafka__alloc(r, sizeof *a->TopicPartitions * (size_t)(m->nasg + 1));
    for (int i = 0; i < m->nasg; i++) {
        kafka_ShareGroupHeartbeatResponse_TopicPartitions_t *tp = &a->TopicPartitions[i];
        memcpy(tp->TopicId, m->asg_ids[i], 16);
        int32_t np = m->asg_parts[i];
        tp->Partitions_n = np;
        tp->Partitions = kafka__alloc(r, sizeof *tp->Partitions * (size_t)(np + 1));
        for (int32_t p = 0; p < np; p++)
            tp->Partitions[p] = p;
    }
    return a;
}

/* "/127.0.0.1" from the peer "127.0.0.1:5555", as Kafka reports client hosts. */
static char *client_host(const char *peer)
{
    peer = nz(peer);
    const char *colon = strrchr(peer, ':');
    size_t n = colon ? (size_t)(colon - peer) : strlen(peer);
    char *h = hd_malloc(n + 2);
    h[0] = '/';
    memcpy(h + 1, peer, n);
    h[n + 1] = '\0';
    return h;
}

int kafka__handle_ShareGroupHeartbeat(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_ShareGroupHeartbeatRequest_t *req = req_;
    kafka_ShareGroupHeartbeatResponse_t *resp = resp_;
    kafka_shares_t *sh = r->shares;
    resp->HeartbeatIntervalMs = sh ? (int32_t)sh->cfg->group_share_heartbeat_interval_ms : 5000;
    const char *gid = nz(req->GroupId), *mid = nz(req->MemberId);
    if (!sh) {
        resp->ErrorCode = KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
        return KAFKA_REQ_DONE;
    }
    if (!part_valid(gid) || strlen(gid) > DELIVERY_NAME_MAX - 8) {
        resp->ErrorCode = KAFKA_ERR_INVALID_REQUEST;
        resp->ErrorMessage = "share group ids must be 1-192 characters of [a-zA-Z0-9._-]";
        return KAFKA_REQ_DONE;
    }
    if (!mid[0] || strlen(mid) > SHARE_MEMBER_ID_MAX) {
        resp->ErrorCode = KAFKA_ERR_INVALID_REQUEST;
        resp->ErrorMessage = "MemberId must be 1-64 characters";
        return KAFKA_REQ_DONE;
    }
    if (req->SubscribedTopicNames_n > SHARE_TOPICS_MAX) {
        resp->ErrorCode = KAFKA_ERR_INVALID_REQUEST;
        resp->ErrorMessage = "too many subscribed topics";
        return KAFKA_REQ_DONE;
    }
    share_group_t *g = group_find(sh, gid);
    if (!g && broker_group_find(sh->b, gid)) {
        /* Group ids are shared by every kind of group, as in Kafka. */
        resp->ErrorCode = KAFKA_ERR_GROUP_ID_NOT_FOUND;
        resp->ErrorMessage = "the group id belongs to a group that is not a share group";
        return KAFKA_REQ_DONE;
    }
    member_t *m = member_find(g, mid);
    if (req->MemberEpoch == -1) { /* leave */
        if (m)
            member_remove(sh, g, m, "member left");
        resp->MemberId = kafka__strdup(r, mid);
        resp->MemberEpoch = -1;
        return KAFKA_REQ_DONE;
    }
    if (req->MemberEpoch < -1) {
        resp->ErrorCode = KAFKA_ERR_INVALID_REQUEST;
        resp->ErrorMessage = "MemberEpoch must be -1, 0 or the member's epoch";
        return KAFKA_REQ_DONE;
    }
    bool joining = req->MemberEpoch == 0;
    if (!m && !joining) {
        resp->ErrorCode = KAFKA_ERR_UNKNOWN_MEMBER_ID;
        return KAFKA_REQ_DONE;
    }
    if (joining && req->SubscribedTopicNames_n < 0 && !m) {
        resp->ErrorCode = KAFKA_ERR_INVALID_REQUEST;
        resp->ErrorMessage = "SubscribedTopicNames must be given when joining";
        return KAFKA_REQ_DONE;
    }
    if (!g) {
        if (sh->ngroups >= SHARE_GROUPS_MAX) {
            resp->ErrorCode = KAFKA_ERR_GROUP_MAX_SIZE_REACHED;
            return KAFKA_REQ_DONE;
        }
        g = hd_calloc(1, sizeof *g);
        g->id = hd_strdup(gid);
        sh->groups = hd_realloc(sh->groups, sizeof *sh->groups * (size_t)(sh->ngroups + 1));
        sh->groups[sh->ngroups++] = g;
    }
    bool send = joining || req->MemberEpoch != (m ? m->epoch : 0);
    if (!m) {
        if (g->nmembers >= SHARE_MEMBERS_MAX) {
            resp->ErrorCode = KAFKA_ERR_GROUP_MAX_SIZE_REACHED;
            return KAFKA_REQ_DONE;
        }
        m = hd_calloc(1, sizeof *m);
        m->id = hd_strdup(mid);
        m->client_id = hd_strdup(nz(r->client_id));
        m->client_host = client_host(r->peer);
        m->epoch = 0;
        g->members = hd_realloc(g->members, sizeof *g->members * (size_t)(g->nmembers + 1));
        g->members[g->nmembers++] = m;
        g->epoch++;
    }
    m->last_seen_ms = now_ms();
    if (req->RackId) {
        free(m->rack);
        m->rack = hd_strdup(req->RackId);
    }
    if (req->SubscribedTopicNames_n >= 0) {
        free_topics(m);
        m->topics = hd_calloc((size_t)req->SubscribedTopicNames_n + 1, sizeof *m->topics);
        for (int32_t i = 0; i < req->SubscribedTopicNames_n; i++)
            if (req->SubscribedTopicNames[i] &&
                broker_topic_name_valid(req->SubscribedTopicNames[i]))
                m->topics[m->ntopics++] = hd_strdup(req->SubscribedTopicNames[i]);
    }
    if (reassign(sh, g, m) || m->epoch == 0) {
        m->epoch++;
        g->epoch++;
        send = true;
    }
    resp->MemberId = kafka__strdup(r, m->id);
    resp->MemberEpoch = m->epoch;
    if (send)
        resp->Assignment = assignment_of(r, m);
    return KAFKA_REQ_DONE;
}

/* ---- ShareGroupDescribe ---- */

int kafka__handle_ShareGroupDescribe(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_ShareGroupDescribeRequest_t *req = req_;
    kafka_ShareGroupDescribeResponse_t *resp = resp_;
    kafka_shares_t *sh = r->shares;
    int32_t n = req->GroupIds_n < 0 ? 0 : req->GroupIds_n;
    resp->Groups_n = n;
    resp->Groups = kafka__alloc(r, sizeof *resp->Groups * (size_t)(n + 1));
    for (int32_t i = 0; i < n; i++) {
        kafka_ShareGroupDescribeResponse_DescribedGroup_t *dg = &resp->Groups[i];
        memset(dg, 0, sizeof *dg);
        const char *gid = nz(req->GroupIds[i]);
        dg->GroupId = kafka__strdup(r, gid);
        dg->GroupState = "Dead";
        dg->AssignorName = "simple";
        dg->AuthorizedOperations = INT32_MIN;
        share_group_t *g = sh ? group_find(sh, gid) : NULL;
        if (!g) {
            dg->ErrorCode = gid[0] ? KAFKA_ERR_GROUP_ID_NOT_FOUND : KAFKA_ERR_INVALID_GROUP_ID;
            dg->ErrorMessage = "no share group of that id";
            continue;
        }
        dg->GroupState = g->nmembers ? "Stable" : "Empty";
        dg->GroupEpoch = g->epoch;
        dg->AssignmentEpoch = g->epoch;
        dg->Members_n = g->nmembers;
        dg->Members = kafka__alloc(r, sizeof *dg->Members * (size_t)(g->nmembers + 1));
        for (int k = 0; k < g->nmembers; k++) {
            member_t *m = g->members[k];
            kafka_ShareGroupDescribeResponse_Member_t *dm = &dg->Members[k];
            memset(dm, 0, sizeof *dm);
            dm->MemberId = kafka__strdup(r, m->id);
            dm->RackId = m->rack ? kafka__strdup(r, m->rack) : NULL;
            dm->MemberEpoch = m->epoch;
            dm->ClientId = kafka__strdup(r, m->client_id);
            dm->ClientHost = kafka__strdup(r, m->client_host);
            dm->SubscribedTopicNames_n = m->ntopics;
            dm->SubscribedTopicNames = kafka__alloc(r, sizeof(char *) * (size_t)(m->ntopics + 1));
            for (int t = 0; t < m->ntopics; t++)
                dm->SubscribedTopicNames[t] = kafka__strdup(r, m->topics[t]);
            kafka_ShareGroupDescribeResponse_Assignment_t *a = kafka__alloc(r, sizeof *a);
            a->TopicPartitions_n = m->nasg;
            a->TopicPartitions =
                kafka__alloc(r, sizeof *a->TopicPartitions * (size_t)(m->nasg + 1));
            for (int t = 0; t < m->nasg; t++) {
                kafka_ShareGroupDescribeResponse_TopicPartitions_t *tp = &a->TopicPartitions[t];
                broker_topic_t *bt = broker_topic_find_id(sh->b, m->asg_ids[t]);
                memcpy(tp->TopicId, m->asg_ids[t], 16);
                tp->TopicName = kafka__strdup(r, bt ? broker_topic_name(bt) : "");
                tp->Partitions_n = m->asg_parts[t];
                tp->Partitions = kafka__alloc(r, sizeof(int32_t) * (size_t)(m->asg_parts[t] + 1));
                for (int32_t p = 0; p < m->asg_parts[t]; p++)
                    tp->Partitions[p] = p;
            }
            dm->Assignment = a;
        }
    }
    return KAFKA_REQ_DONE;
}

/* ---- sessions and acknowledgements ---- */

/* Checks the session epoch and opens or advances the session. Returns a Kafka error or 0. */
static int16_t session_step(member_t *m, int32_t epoch)
{
    if (epoch == 0) {
        m->session = true;
        m->session_epoch = 0;
        m->nsparts = 0;
        return 0;
    }
    if (epoch == -1) {
        if (!m->session)
            return KAFKA_ERR_SHARE_SESSION_NOT_FOUND;
        return 0;
    }
    if (!m->session)
        return KAFKA_ERR_SHARE_SESSION_NOT_FOUND;
    if (epoch != m->session_epoch + 1)
        return KAFKA_ERR_INVALID_SHARE_SESSION_EPOCH;
    m->session_epoch = epoch;
    return 0;
}

/* Adds a partition to the session; false when the session is full. */
static bool session_add(member_t *m, const uint8_t id[16], int32_t p)
{
    for (int i = 0; i < m->nsparts; i++)
        if (m->sparts[i].partition == p && !memcmp(m->sparts[i].topic_id, id, 16))
            return true;
    if (m->nsparts >= SHARE_SESSION_PARTS_MAX)
        return false;
    if (m->nsparts == m->capsparts) {
        m->capsparts = m->capsparts ? m->capsparts * 2 : 16;
        m->sparts = hd_realloc(m->sparts, sizeof *m->sparts * (size_t)m->capsparts);
    }
    memcpy(m->sparts[m->nsparts].topic_id, id, 16);
    m->sparts[m->nsparts++].partition = p;
    return true;
}

static void session_forget(member_t *m, const uint8_t id[16], int32_t p)
{
    for (int i = 0; i < m->nsparts; i++)
        if (m->sparts[i].partition == p && !memcmp(m->sparts[i].topic_id, id, 16)) {
            m->sparts[i] = m->sparts[--m->nsparts];
            return;
        }
}

/* One acknowledgement batch's worth of the generated request structs (ShareFetch's and
 * ShareAcknowledge's have the same shape). */
typedef struct ack_batch {
    int64_t first, last;
    const int8_t *types;
    int32_t ntypes;
} ack_batch_t;

enum { ACK_GAP = 0, ACK_ACCEPT = 1, ACK_RELEASE = 2, ACK_REJECT = 3 };
#define ACK_RANGE_MAX 100000

/* Applies a partition's acknowledgements; returns its acknowledge error code. */
static int16_t apply_acks(kafka_shares_t *sh, share_group_t *g, member_t *m, const uint8_t id[16],
                          int32_t p, const ack_batch_t *batches, int32_t nb)
{
    broker_topic_t *t = broker_topic_find_id(sh->b, id);
    if (!t)
        return KAFKA_ERR_UNKNOWN_TOPIC_ID;
    if (p < 0 || p >= broker_topic_partitions(t))
        return KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    delivery_sub_t *s = group_sub(sh, g->id, broker_topic_name(t), false);
    int16_t err = 0;
    for (int32_t b = 0; b < nb; b++) {
        const ack_batch_t *ab = &batches[b];
        if (ab->last < ab->first || ab->last - ab->first >= ACK_RANGE_MAX || ab->ntypes < 1 ||
            (ab->ntypes != 1 && ab->ntypes != ab->last - ab->first + 1)) {
            err = KAFKA_ERR_INVALID_REQUEST;
            continue;
        }
        for (int64_t off = ab->first; off <= ab->last; off++) {
            int8_t type = ab->types[ab->ntypes == 1 ? 0 : off - ab->first];
            if (type == ACK_GAP)
                continue;
            if (type < ACK_ACCEPT || type > ACK_REJECT) {
                err = KAFKA_ERR_INVALID_REQUEST;
                continue;
            }
            held_t *h = held_take(m, id, p, off);
            if (!h || !s) {
                free(h);
                err = KAFKA_ERR_INVALID_RECORD_STATE;
                continue;
            }
            const char *rc[1] = {h->receipt};
            int res = DELIVERY_INVALID;
            int64_t durable_at;
            if (type == ACK_ACCEPT)
                delivery_ack(s, rc, 1, &res, &durable_at);
            else if (type == ACK_RELEASE)
                delivery_nack(s, rc, 1, 0, "released", &res, &durable_at);
            else
                delivery_reject(s, rc, 1, "rejected by a share consumer", &res, &durable_at);
            free(h);
            if (res != DELIVERY_OK)
                err = KAFKA_ERR_INVALID_RECORD_STATE;
        }
    }
    return err;
}

/* Finds (or reports) the member of a ShareFetch or ShareAcknowledge. */
static int16_t find_member(kafka_req_t *r, const char *gid, const char *mid, share_group_t **gout,
                           member_t **mout)
{
    kafka_shares_t *sh = r->shares;
    if (!sh)
        return KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
    share_group_t *g = group_find(sh, nz(gid));
    member_t *m = member_find(g, nz(mid));
    if (!m)
        return KAFKA_ERR_UNKNOWN_MEMBER_ID;
    *gout = g;
    *mout = m;
    return 0;
}

/* ---- ShareFetch ---- */

/* Records of one response partition under construction. */
typedef struct out_part {
    uint8_t topic_id[16];
    int32_t partition;
    int16_t err;     /* the fetch error of this partition */
    int16_t ack_err; /* its acknowledgements' error */
    hd_buf_t recs;
    kafka_ShareFetchResponse_AcquiredRecords_t *acq;
    int32_t nacq, capacq;
} out_part_t;

typedef struct sf_state sf_state_t;

typedef struct sf_wait {
    delivery_waiter_t w;
    sf_state_t *st;
} sf_wait_t;

struct sf_state {
    const kafka__deferred_t *ops; /* first member */
    kafka_req_t *r;
    kafka_ShareFetchRequest_t *req;
    kafka_ShareFetchResponse_t *resp;
    char *gid, *mid; /* heap copies: the member may go away while we wait */
    out_part_t *parts;
    int nparts, capparts;
    sf_wait_t *waits;
    int nwaits;
    bool finished;
    /* While leasing: the topic being read. */
    const uint8_t *cur_id;
    member_t *cur_m;
    size_t max_bytes;
};

static out_part_t *out_part(sf_state_t *st, const uint8_t id[16], int32_t p)
{
    for (int i = 0; i < st->nparts; i++)
        if (st->parts[i].partition == p && !memcmp(st->parts[i].topic_id, id, 16))
            return &st->parts[i];
    if (st->nparts == st->capparts) {
        st->capparts = st->capparts ? st->capparts * 2 : 16;
        st->parts = hd_realloc(st->parts, sizeof *st->parts * (size_t)st->capparts);
    }
    out_part_t *op = &st->parts[st->nparts++];
    memset(op, 0, sizeof *op);
    memcpy(op->topic_id, id, 16);
    op->partition = p;
    hd_buf_init(&op->recs);
    return op;
}

static void sf_cancel(sf_state_t *st)
{
    for (int i = 0; i < st->nwaits; i++)
        delivery_waiter_cancel(&st->waits[i].w);
    free(st->waits);
    st->waits = NULL;
    st->nwaits = 0;
}

static void sf_free(kafka_req_t *r)
{
    sf_state_t *st = r->_state;
    sf_cancel(st);
    for (int i = 0; i < st->nparts; i++) {
        hd_buf_deinit(&st->parts[i].recs);
        free(st->parts[i].acq);
    }
    free(st->parts);
    free(st->gid);
    free(st->mid);
    st->parts = NULL;
    st->nparts = 0;
    st->gid = st->mid = NULL;
}

static void sf_abort(kafka_req_t *r)
{
    sf_state_t *st = r->_state;
    st->finished = true;
    sf_cancel(st);
    if (r->stop_timer)
        r->stop_timer(r);
}

static void sf_timeout(kafka_req_t *r);
static const kafka__deferred_t sf_ops = {sf_abort, sf_timeout, sf_free};

/* One leased record: a one-record batch at its offset, and its acquired range. */
static void on_leased(void *ctx, const delivery_msg_t *msg)
{
    sf_state_t *st = ctx;
    out_part_t *op = out_part(st, st->cur_id, msg->partition);
    const broker_record_t *rec = msg->rec;
    int32_t n = rec->headers_count < 0 ? 0 : rec->headers_count;
    if (n > 4096)
        n = 4096;
    broker_header_t *hs = hd_calloc((size_t)n + 1, sizeof *hs);
    hd_slice_t area = rec->headers;
    int32_t nh = 0;
    while (nh < n && broker_header_next(&area, &hs[nh]) == 0)
        nh++;
    broker_record_in_t in = {rec->key, rec->key_null, rec->value, rec->value_null, hs,
                             nh,       rec->timestamp};
    size_t at = op->recs.len;
    ssize_t blen = broker_batch_build(&in, 1, SIZE_MAX / 2, &op->recs);
    free(hs);
    if (blen > 0) {
        /* The base offset is outside the CRC: the batch says where the record is. */
        uint8_t *p = op->recs.p + at;
        uint64_t off = (uint64_t)rec->offset;
        for (int i = 0; i < 8; i++)
            p[i] = (uint8_t)(off >> (56 - 8 * i));
        st->max_bytes = st->max_bytes > (size_t)blen ? st->max_bytes - (size_t)blen : 0;
    }
    kafka_ShareFetchResponse_AcquiredRecords_t *last = op->nacq ? &op->acq[op->nacq - 1] : NULL;
    if (last && last->LastOffset + 1 == rec->offset && last->DeliveryCount == msg->delivery_count) {
        last->LastOffset = rec->offset;
    } else {
        if (op->nacq == op->capacq) {
            op->capacq = op->capacq ? op->capacq * 2 : 16;
            op->acq = hd_realloc(op->acq, sizeof *op->acq * (size_t)op->capacq);
        }
        kafka_ShareFetchResponse_AcquiredRecords_t *a = &op->acq[op->nacq++];
        a->FirstOffset = a->LastOffset = rec->offset;
        a->DeliveryCount =
            (int16_t)(msg->delivery_count > INT16_MAX ? INT16_MAX : msg->delivery_count);
    }
    held_put(st->cur_m, st->cur_id, msg->partition, rec->offset, msg->receipt,
             msg->lease_deadline_ms);
}

/* Leases records for the session's topics. Returns how many. */
static int sf_lease(sf_state_t *st, share_group_t *g, member_t *m)
{
    kafka_shares_t *sh = st->r->shares;
    int want = st->req->MaxRecords > 0 ? st->req->MaxRecords : SHARE_FETCH_DEFAULT;
    if (want > SHARE_FETCH_DEFAULT * 20)
        want = SHARE_FETCH_DEFAULT * 20;
    int got = 0;
    /* Each topic of the session once, whole topics only: the subscription hands out records of
     * all its partitions, so a topic is read when the session covers every partition of it. */
    for (int i = 0; i < m->nsparts && got < want && st->max_bytes > 0; i++) {
        const uint8_t *id = m->sparts[i].topic_id;
        bool seen = false;
        for (int k = 0; k < i && !seen; k++)
            seen = !memcmp(m->sparts[k].topic_id, id, 16);
        if (seen)
            continue;
        broker_topic_t *t = broker_topic_find_id(sh->b, id);
        if (!t)
            continue;
        int32_t covered = 0;
        for (int k = 0; k < m->nsparts; k++)
            covered += !memcmp(m->sparts[k].topic_id, id, 16);
        if (covered < broker_topic_partitions(t))
            continue;
        delivery_sub_t *s = group_sub(sh, g->id, broker_topic_name(t), false);
        if (!s)
            continue;
        st->cur_id = broker_topic_id(t);
        st->cur_m = m;
        while (got < want && st->max_bytes > 0 && m->nheld < SHARE_HELD_MAX) {
            int chunk = want - got < 100 ? want - got : 100;
            int n = delivery_receive(s, chunk, on_leased, st);
            if (n <= 0)
                break;
            got += n;
        }
    }
    return got;
}

/* Moves the built partitions into the response. */
static void sf_respond(sf_state_t *st)
{
    kafka_req_t *r = st->r;
    kafka_ShareFetchResponse_t *resp = st->resp;
    int ntopics = 0;
    for (int i = 0; i < st->nparts; i++) {
        bool first = true;
        for (int k = 0; k < i && first; k++)
            first = memcmp(st->parts[k].topic_id, st->parts[i].topic_id, 16) != 0;
        ntopics += first;
    }
    resp->Responses_n = ntopics;
    resp->Responses = kafka__alloc(r, sizeof *resp->Responses * (size_t)(ntopics + 1));
    int ti = 0;
    for (int i = 0; i < st->nparts; i++) {
        bool first = true;
        for (int k = 0; k < i && first; k++)
            first = memcmp(st->parts[k].topic_id, st->parts[i].topic_id, 16) != 0;
        if (!first)
            continue;
        kafka_ShareFetchResponse_ShareFetchableTopicResponse_t *tr = &resp->Responses[ti++];
        memset(tr, 0, sizeof *tr);
        memcpy(tr->TopicId, st->parts[i].topic_id, 16);
        int np = 0;
        for (int k = i; k < st->nparts; k++)
            np += !memcmp(st->parts[k].topic_id, tr->TopicId, 16);
        tr->Partitions_n = np;
        tr->Partitions = kafka__alloc(r, sizeof *tr->Partitions * (size_t)np);
        int pi = 0;
        for (int k = i; k < st->nparts; k++) {
            out_part_t *op = &st->parts[k];
            if (memcmp(op->topic_id, tr->TopicId, 16))
                continue;
            kafka_ShareFetchResponse_PartitionData_t *pd = &tr->Partitions[pi++];
            memset(pd, 0, sizeof *pd);
            pd->PartitionIndex = op->partition;
            pd->ErrorCode = op->err;
            pd->AcknowledgeErrorCode = op->ack_err;
            pd->CurrentLeader = kafka__alloc(r, sizeof *pd->CurrentLeader);
            pd->CurrentLeader->LeaderId = (int32_t)r->cfg->node_id;
            pd->CurrentLeader->LeaderEpoch = 0;
            if (op->recs.len) {
                uint8_t *copy = kafka__alloc(r, op->recs.len);
                memcpy(copy, op->recs.p, op->recs.len);
                pd->Records.v = hd_slice(copy, op->recs.len);
            }
            pd->AcquiredRecords_n = op->nacq;
            pd->AcquiredRecords =
                kafka__alloc(r, sizeof *pd->AcquiredRecords * (size_t)(op->nacq + 1));
            if (op->nacq)
                memcpy(pd->AcquiredRecords, op->acq, sizeof *op->acq * (size_t)op->nacq);
        }
    }
}

static void on_sf_wake(delivery_waiter_t *w, int err);

/* Leases and answers, or parks until something is deliverable. Returns true when answered. */
static bool sf_step(sf_state_t *st, bool final)
{
    kafka_req_t *r = st->r;
    share_group_t *g;
    member_t *m;
    int16_t err = find_member(r, st->gid, st->mid, &g, &m);
    int got = 0;
    if (err == 0 && m->session && st->req->ShareSessionEpoch != -1)
        got = sf_lease(st, g, m);
    if (got > 0 || final || err || st->req->MaxWaitMs <= 0 || !m->session) {
        st->finished = true;
        sf_cancel(st);
        if (r->stop_timer)
            r->stop_timer(r);
        sf_respond(st);
        kafka__finish(r);
        return true;
    }
    /* Wait on every subscription of the session. */
    sf_cancel(st);
    st->waits = hd_calloc((size_t)m->nsparts + 1, sizeof *st->waits);
    for (int i = 0; i < m->nsparts; i++) {
        bool seen = false;
        for (int k = 0; k < i && !seen; k++)
            seen = !memcmp(m->sparts[k].topic_id, m->sparts[i].topic_id, 16);
        broker_topic_t *t = seen ? NULL : broker_topic_find_id(r->shares->b, m->sparts[i].topic_id);
        delivery_sub_t *s = t ? group_sub(r->shares, g->id, broker_topic_name(t), false) : NULL;
        if (!s)
            continue;
        sf_wait_t *sw = &st->waits[st->nwaits++];
        sw->st = st;
        sw->w.cb = on_sf_wake;
        sw->w.ctx = sw;
        delivery_waiter_add(s, &sw->w);
    }
    return false;
}

static void on_sf_wake(delivery_waiter_t *w, int err)
{
    sf_wait_t *sw = w->ctx;
    sf_state_t *st = sw->st;
    if (st->finished)
        return;
    /* Waiters fire once and are unlinked: forget them all before re-registering. */
    for (int i = 0; i < st->nwaits; i++)
        if (&st->waits[i].w != w)
            delivery_waiter_cancel(&st->waits[i].w);
    free(st->waits);
    st->waits = NULL;
    st->nwaits = 0;
    sf_step(st, err != 0);
}

static void sf_timeout(kafka_req_t *r)
{
    sf_state_t *st = r->_state;
    if (st->finished)
        return;
    sf_step(st, true);
}

int kafka__handle_ShareFetch(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_ShareFetchRequest_t *req = req_;
    kafka_ShareFetchResponse_t *resp = resp_;
    share_group_t *g;
    member_t *m;
    int16_t err = find_member(r, req->GroupId, req->MemberId, &g, &m);
    if (!err)
        err = session_step(m, req->ShareSessionEpoch);
    if (err) {
        resp->ErrorCode = err;
        return KAFKA_REQ_DONE;
    }
    kafka_shares_t *sh = r->shares;
    resp->AcquisitionLockTimeoutMs = (int32_t)sh->cfg->group_share_record_lock_duration_ms;
    sf_state_t *st = kafka__alloc(r, sizeof *st);
    memset(st, 0, sizeof *st);
    st->ops = &sf_ops;
    st->r = r;
    st->req = req;
    st->resp = resp;
    st->gid = hd_strdup(g->id);
    st->mid = hd_strdup(m->id);
    st->max_bytes = req->MaxBytes > 0 ? (size_t)req->MaxBytes : 1;
    r->_state = st;
    for (int32_t i = 0; i < req->ForgottenTopicsData_n; i++) {
        kafka_ShareFetchRequest_ForgottenTopic_t *ft = &req->ForgottenTopicsData[i];
        for (int32_t k = 0; k < ft->Partitions_n; k++)
            session_forget(m, ft->TopicId, ft->Partitions[k]);
    }
    for (int32_t i = 0; i < req->Topics_n; i++) {
        kafka_ShareFetchRequest_FetchTopic_t *ft = &req->Topics[i];
        for (int32_t k = 0; k < ft->Partitions_n; k++) {
            kafka_ShareFetchRequest_FetchPartition_t *fp = &ft->Partitions[k];
            broker_topic_t *t = broker_topic_find_id(sh->b, ft->TopicId);
            int16_t perr = 0;
            if (!t)
                perr = KAFKA_ERR_UNKNOWN_TOPIC_ID;
            else if (fp->PartitionIndex < 0 || fp->PartitionIndex >= broker_topic_partitions(t))
                perr = KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
            else if (req->ShareSessionEpoch != -1 &&
                     !session_add(m, ft->TopicId, fp->PartitionIndex))
                perr = KAFKA_ERR_INVALID_REQUEST; /* the session is full */
            if (perr)
                out_part(st, ft->TopicId, fp->PartitionIndex)->err = perr;
            if (fp->AcknowledgementBatches_n <= 0)
                continue;
            int32_t nb = fp->AcknowledgementBatches_n;
            ack_batch_t *bs = kafka__alloc(r, sizeof *bs * (size_t)nb);
            for (int32_t b = 0; b < nb; b++) {
                kafka_ShareFetchRequest_AcknowledgementBatch_t *ab = &fp->AcknowledgementBatches[b];
                bs[b] = (ack_batch_t){ab->FirstOffset, ab->LastOffset, ab->AcknowledgeTypes,
                                      ab->AcknowledgeTypes_n};
            }
            out_part_t *op = out_part(st, ft->TopicId, fp->PartitionIndex);
            op->ack_err = apply_acks(sh, g, m, ft->TopicId, fp->PartitionIndex, bs, nb);
        }
    }
    if (req->ShareSessionEpoch == -1) {
        release_all(sh, g, m, "share session closed");
        m->session = false;
        m->nsparts = 0;
    }
    if (req->MaxWaitMs > SHARE_WAIT_MAX_MS)
        req->MaxWaitMs = SHARE_WAIT_MAX_MS;
    if (sf_step(st, false))
        return KAFKA_REQ_PENDING; /* answered already; the dispatcher sees r->done */
    r->arm_timer(r, req->MaxWaitMs);
    return KAFKA_REQ_PENDING;
}

/* ---- ShareAcknowledge ---- */

int kafka__handle_ShareAcknowledge(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_ShareAcknowledgeRequest_t *req = req_;
    kafka_ShareAcknowledgeResponse_t *resp = resp_;
    share_group_t *g;
    member_t *m;
    int16_t err = find_member(r, req->GroupId, req->MemberId, &g, &m);
    if (!err && req->ShareSessionEpoch == 0)
        err = KAFKA_ERR_INVALID_SHARE_SESSION_EPOCH; /* acknowledgements need an open session */
    if (!err)
        err = session_step(m, req->ShareSessionEpoch);
    if (err) {
        resp->ErrorCode = err;
        return KAFKA_REQ_DONE;
    }
    kafka_shares_t *sh = r->shares;
    int32_t nt = req->Topics_n < 0 ? 0 : req->Topics_n;
    resp->Responses_n = nt;
    resp->Responses = kafka__alloc(r, sizeof *resp->Responses * (size_t)(nt + 1));
    for (int32_t i = 0; i < nt; i++) {
        kafka_ShareAcknowledgeRequest_AcknowledgeTopic_t *at = &req->Topics[i];
        kafka_ShareAcknowledgeResponse_ShareAcknowledgeTopicResponse_t *tr = &resp->Responses[i];
        memset(tr, 0, sizeof *tr);
        memcpy(tr->TopicId, at->TopicId, 16);
        int32_t np = at->Partitions_n < 0 ? 0 : at->Partitions_n;
        tr->Partitions_n = np;
        tr->Partitions = kafka__alloc(r, sizeof *tr->Partitions * (size_t)(np + 1));
        for (int32_t k = 0; k < np; k++) {
            kafka_ShareAcknowledgeRequest_AcknowledgePartition_t *ap = &at->Partitions[k];
            kafka_ShareAcknowledgeResponse_PartitionData_t *pd = &tr->Partitions[k];
            memset(pd, 0, sizeof *pd);
            pd->PartitionIndex = ap->PartitionIndex;
            pd->CurrentLeader = kafka__alloc(r, sizeof *pd->CurrentLeader);
            pd->CurrentLeader->LeaderId = (int32_t)r->cfg->node_id;
            pd->CurrentLeader->LeaderEpoch = 0;
            int32_t nb = ap->AcknowledgementBatches_n < 0 ? 0 : ap->AcknowledgementBatches_n;
            ack_batch_t *bs = kafka__alloc(r, sizeof *bs * (size_t)(nb + 1));
            for (int32_t b = 0; b < nb; b++) {
                kafka_ShareAcknowledgeRequest_AcknowledgementBatch_t *ab =
                    &ap->AcknowledgementBatches[b];
                bs[b] = (ack_batch_t){ab->FirstOffset, ab->LastOffset, ab->AcknowledgeTypes,
                                      ab->AcknowledgeTypes_n};
            }
            pd->ErrorCode = apply_acks(sh, g, m, at->TopicId, ap->PartitionIndex, bs, nb);
        }
    }
    if (req->ShareSessionEpoch == -1) {
        release_all(sh, g, m, "share session closed");
        m->session = false;
        m->nsparts = 0;
    }
    return KAFKA_REQ_DONE;
}
