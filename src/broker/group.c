/* The classic consumer-group coordinator (Kafka's ClassicGroup state machine). Loop thread only.
 *
 *   Empty --join--> PreparingRebalance --all joined / timeout--> CompletingRebalance
 *         --leader's SyncGroup--> Stable --join, leave, expiry--> PreparingRebalance ...
 *
 * - A join phase ends when every known member has rejoined, or at the rebalance deadline (the
 *   largest rebalance timeout of the members); dynamic members that did not rejoin are removed.
 *   The generation advances only there. The first join phase of an Empty group waits
 *   group.initial.rebalance.delay.ms, extended by each new member up to the rebalance timeout.
 * - JoinGroup v4+ without a member id gets MEMBER_ID_REQUIRED and a *pending* id. Pending ids
 *   never hold up a join phase (librdkafka may leave one behind, confluentinc/librdkafka#5570)
 *   and expire after the session timeout.
 * - The protocol is voted: each member votes for its most preferred protocol among those all
 *   members support. Subscription and assignment bytes are opaque and only forwarded.
 * - Static members (group.instance.id) keep their place across restarts: a join with a known
 *   instance id and no member id replaces the old member id; in Stable with unchanged
 *   protocols and a non-leader member it answers at once, without a rebalance. The old id is
 *   fenced (FENCED_INSTANCE_ID).
 * - Heartbeats, joins, syncs and commits refresh the session; broker_group_tick() removes
 *   members whose session expired (not while they wait in a join phase or for the leader's sync)
 *   and members that did not sync before the sync deadline.
 *
 * Answers to parked requests are queued and delivered after the state change is complete: an
 * answer makes the connection handle its next buffered request at once, which may re-enter the
 * coordinator. */
#include "broker/broker_int.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/monotime.h"
#include "util/reader.h"
#include "util/say.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct broker__member {
    char *id;
    char *instance_id;
    char *client_id;
    char *client_host;
    int32_t session_ms;
    int32_t rebalance_ms;
    int nprotocols;
    char **proto_names;
    hd_slice_t *proto_meta; /* owned copies */
    uint8_t *assignment;
    size_t assignment_len;
    int64_t last_seen;
    bool awaiting_join; /* rejoined in the current join phase */
    bool synced;        /* sent SyncGroup in the current generation */
    broker_join_waiter_t *join_w;
    broker_sync_waiter_t *sync_w;
};

struct broker__pending {
    char *id;
    int64_t expires;
};

/* One queued answer, with owned copies of everything it carries. */
struct broker__completion {
    broker__completion_t *next;
    broker_join_waiter_t *jw;
    broker_sync_waiter_t *sw;
    int16_t error;
    int32_t generation;
    char *protocol_type, *protocol, *leader, *member_id;
    broker_join_member_t *members;
    int nmembers;
    uint8_t *assignment;
    size_t assignment_len;
};

int64_t broker__now(broker_t *b) { return b->now_ms ? b->now_ms() : hd_mono_ms(); }

void broker_group_set_clock(broker_t *b, int64_t (*now_ms)(void)) { b->now_ms = now_ms; }

int64_t broker__wall(broker_t *b) { return b->wall_ms ? b->wall_ms() : hd_wall_ms(); }

void broker_offsets_set_wall_clock(broker_t *b, int64_t (*wall_ms)(void)) { b->wall_ms = wall_ms; }

static char *dup_or_null(const char *s) { return s ? hd_strdup(s) : NULL; }

static uint8_t *dup_bytes(hd_slice_t s)
{
    uint8_t *p = hd_malloc(s.len ? s.len : 1);
    if (s.len)
        memcpy(p, s.p, s.len);
    return p;
}

/* ---- the answer queue ---- */

static void cq_push(broker_t *b, broker__completion_t *c)
{
    c->next = NULL;
    if (b->cq_tail)
        b->cq_tail->next = c;
    else
        b->cq_head = c;
    b->cq_tail = c;
}

static void completion_free(broker__completion_t *c)
{
    free(c->protocol_type);
    free(c->protocol);
    free(c->leader);
    free(c->member_id);
    for (int i = 0; i < c->nmembers; i++) {
        free((char *)c->members[i].member_id);
        free((char *)c->members[i].instance_id);
        free((void *)c->members[i].metadata.p);
    }
    free(c->members);
    free(c->assignment);
    free(c);
}

static void cq_flush(broker_t *b)
{
    if (b->cq_firing)
        return;
    b->cq_firing = true;
    while (b->cq_head) {
        broker__completion_t *c = b->cq_head;
        b->cq_head = c->next;
        if (!b->cq_head)
            b->cq_tail = NULL;
        if (c->jw) {
            broker_join_waiter_t *w = c->jw;
            w->_queued = NULL;
            broker_join_res_t res = {c->error,
                                     c->generation,
                                     c->protocol_type ? c->protocol_type : "",
                                     c->protocol,
                                     c->leader ? c->leader : "",
                                     c->member_id ? c->member_id : "",
                                     c->members,
                                     c->nmembers};
            w->cb(w, &res);
        } else if (c->sw) {
            broker_sync_waiter_t *w = c->sw;
            w->_queued = NULL;
            w->cb(w, c->error, c->protocol_type, c->protocol,
                  hd_slice(c->assignment, c->assignment_len));
        }
        completion_free(c);
    }
    b->cq_firing = false;
}

/* ---- members ---- */

static int find_member(const broker_group_t *g, const char *id)
{
    if (!id || !id[0])
        return -1;
    for (int i = 0; i < g->nmembers; i++)
        if (!strcmp(g->members[i]->id, id))
            return i;
    return -1;
}

static int find_instance(const broker_group_t *g, const char *iid)
{
    if (!iid)
        return -1;
    for (int i = 0; i < g->nmembers; i++)
        if (g->members[i]->instance_id && !strcmp(g->members[i]->instance_id, iid))
            return i;
    return -1;
}

static void member_clear_protocols(broker__member_t *m)
{
    for (int i = 0; i < m->nprotocols; i++) {
        free(m->proto_names[i]);
        free((void *)m->proto_meta[i].p);
    }
    free(m->proto_names);
    free(m->proto_meta);
    m->proto_names = NULL;
    m->proto_meta = NULL;
    m->nprotocols = 0;
}

static bool member_same_protocols(const broker__member_t *m, const broker_join_req_t *req)
{
    if (m->nprotocols != req->nprotocols)
        return false;
    for (int i = 0; i < m->nprotocols; i++)
        if (strcmp(m->proto_names[i], req->protocols[i].name) ||
            !hd_slice_eq(m->proto_meta[i], req->protocols[i].metadata))
            return false;
    return true;
}

static void member_update(broker__member_t *m, const broker_join_req_t *req, int64_t now)
{
    member_clear_protocols(m);
    m->nprotocols = req->nprotocols;
    m->proto_names = hd_malloc(sizeof *m->proto_names * (size_t)req->nprotocols);
    m->proto_meta = hd_malloc(sizeof *m->proto_meta * (size_t)req->nprotocols);
    for (int i = 0; i < req->nprotocols; i++) {
        m->proto_names[i] = hd_strdup(req->protocols[i].name);
        m->proto_meta[i] =
            hd_slice(dup_bytes(req->protocols[i].metadata), req->protocols[i].metadata.len);
    }
    free(m->client_id);
    free(m->client_host);
    m->client_id = hd_strdup(req->client_id ? req->client_id : "");
    m->client_host = hd_strdup(req->client_host ? req->client_host : "");
    m->session_ms = req->session_ms;
    m->rebalance_ms = req->rebalance_ms;
    m->last_seen = now;
}

static hd_slice_t member_metadata(const broker__member_t *m, const char *protocol)
{
    for (int i = 0; protocol && i < m->nprotocols; i++)
        if (!strcmp(m->proto_names[i], protocol))
            return m->proto_meta[i];
    return hd_slice(NULL, 0);
}

static bool member_supports(const broker__member_t *m, const char *name)
{
    for (int i = 0; i < m->nprotocols; i++)
        if (!strcmp(m->proto_names[i], name))
            return true;
    return false;
}

static void set_assignment(broker__member_t *m, hd_slice_t a)
{
    free(m->assignment);
    m->assignment = a.len ? dup_bytes(a) : NULL;
    m->assignment_len = a.len;
}

static void new_member_id(const char *client_id, char *out, size_t outlen)
{
    uint8_t u[16];
    if (getrandom(u, sizeof u, 0) != (ssize_t)sizeof u) {
        /* getrandom(2) does not fail for 16 bytes once the pool is ready; fall back anyway. */
        static uint64_t ctr;
        uint64_t x = (uint64_t)hd_mono_ns() ^ (++ctr * 0x9e3779b97f4a7c15ull);
        for (int i = 0; i < 16; i++)
            u[i] = (uint8_t)(x >> ((i % 8) * 8)) ^ (uint8_t)i;
    }
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
    snprintf(out, outlen,
             "%.200s-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             client_id && client_id[0] ? client_id : "member", u[0], u[1], u[2], u[3], u[4], u[5],
             u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

/* ---- answering ---- */

static broker__completion_t *completion_new(void)
{
    return hd_calloc(1, sizeof(broker__completion_t));
}

/* Queues a join answer for `w` carrying the group's current generation (members for the
 * leader). */
static void answer_join(broker_t *b, broker_group_t *g, broker_join_waiter_t *w, int16_t err,
                        const char *member_id, bool with_members)
{
    if (!w)
        return;
    broker__completion_t *c = completion_new();
    c->jw = w;
    w->_queued = c;
    c->error = err;
    c->member_id = dup_or_null(member_id);
    c->generation = -1;
    if (!err && g) {
        c->generation = g->generation;
        c->protocol_type = dup_or_null(g->protocol_type);
        c->protocol = dup_or_null(g->protocol);
        c->leader = dup_or_null(g->leader);
        if (with_members) {
            c->nmembers = g->nmembers;
            c->members = hd_calloc((size_t)(g->nmembers ? g->nmembers : 1), sizeof *c->members);
            for (int i = 0; i < g->nmembers; i++) {
                broker__member_t *m = g->members[i];
                hd_slice_t md = member_metadata(m, g->protocol);
                c->members[i].member_id = hd_strdup(m->id);
                c->members[i].instance_id = dup_or_null(m->instance_id);
                c->members[i].metadata = hd_slice(dup_bytes(md), md.len);
            }
        }
    }
    cq_push(b, c);
}

static void answer_join_error(broker_t *b, broker_join_waiter_t *w, int16_t err,
                              const char *member_id)
{
    answer_join(b, NULL, w, err, member_id, false);
}

static void answer_sync(broker_t *b, broker_group_t *g, broker_sync_waiter_t *w, int16_t err,
                        hd_slice_t assignment)
{
    if (!w)
        return;
    broker__completion_t *c = completion_new();
    c->sw = w;
    w->_queued = c;
    c->error = err;
    if (!err && g) {
        c->protocol_type = dup_or_null(g->protocol_type);
        c->protocol = dup_or_null(g->protocol);
        c->assignment = dup_bytes(assignment);
        c->assignment_len = assignment.len;
    }
    cq_push(b, c);
}

/* Takes the parked join request of m (if any) off the member. */
static broker_join_waiter_t *take_join(broker__member_t *m)
{
    broker_join_waiter_t *w = m->join_w;
    if (w)
        w->_member = NULL;
    m->join_w = NULL;
    return w;
}

static broker_sync_waiter_t *take_sync(broker__member_t *m)
{
    broker_sync_waiter_t *w = m->sync_w;
    if (w)
        w->_member = NULL;
    m->sync_w = NULL;
    return w;
}

static void park_join(broker__member_t *m, broker_join_waiter_t *w)
{
    m->join_w = w;
    w->_member = m;
}

static void member_free(broker__member_t *m)
{
    member_clear_protocols(m);
    free(m->id);
    free(m->instance_id);
    free(m->client_id);
    free(m->client_host);
    free(m->assignment);
    free(m);
}

/* Removes members[idx], answering its parked requests with `err`. */
static void remove_member(broker_t *b, broker_group_t *g, int idx, int16_t err)
{
    broker__member_t *m = g->members[idx];
    answer_join_error(b, take_join(m), err, m->id);
    answer_sync(b, g, take_sync(m), err, hd_slice(NULL, 0));
    if (g->leader && !strcmp(g->leader, m->id)) {
        free(g->leader);
        g->leader = NULL;
    }
    memmove(g->members + idx, g->members + idx + 1,
            (size_t)(g->nmembers - idx - 1) * sizeof *g->members);
    g->nmembers--;
    member_free(m);
}

static broker__member_t *add_member(broker_group_t *g, const char *id, const broker_join_req_t *req,
                                    int64_t now)
{
    broker__member_t *m = hd_calloc(1, sizeof *m);
    m->id = hd_strdup(id);
    m->instance_id = dup_or_null(req->instance_id);
    member_update(m, req, now);
    if (g->nmembers == g->cap_members) {
        g->cap_members = g->cap_members ? g->cap_members * 2 : 4;
        g->members = hd_realloc(g->members, (size_t)g->cap_members * sizeof *g->members);
    }
    g->members[g->nmembers++] = m;
    if (!g->protocol_type)
        g->protocol_type = hd_strdup(req->protocol_type);
    return m;
}

/* ---- groups ---- */

broker_group_t *broker__group_get(broker_t *b, const char *id, bool create)
{
    broker_group_t *found = hd_strmap_get(&b->group_index, id);
    if (found || !create)
        return found;
    broker_group_t *g = hd_calloc(1, sizeof *g);
    g->id = hd_strdup(id);
    g->owner = b;
    g->state = BROKER__EMPTY;
    g->empty_since_ms = broker__wall(b);
    if (b->ngroups == b->cap_groups) {
        b->cap_groups = b->cap_groups ? b->cap_groups * 2 : 16;
        b->groups = hd_realloc(b->groups, (size_t)b->cap_groups * sizeof *b->groups);
    }
    b->groups[b->ngroups++] = g;
    hd_strmap_put(&b->group_index, g->id, g);
    return g;
}

static void group_free(broker_group_t *g)
{
    broker_waiter_cancel(&g->store_w);
    for (int i = 0; i < g->nmembers; i++)
        member_free(g->members[i]);
    for (int i = 0; i < g->npending; i++)
        free(g->pending[i].id);
    broker__offsets_free_group(g);
    broker__cgroup_free(g->cg);
    free(g->members);
    free(g->pending);
    free(g->id);
    free(g->protocol_type);
    free(g->protocol);
    free(g->leader);
    free(g->meta_rec);
    free(g);
}

static void group_unlink_free(broker_t *b, broker_group_t *g)
{
    hd_strmap_del(&b->group_index, g->id);
    for (int i = 0; i < b->ngroups; i++)
        if (b->groups[i] == g) {
            memmove(b->groups + i, b->groups + i + 1,
                    (size_t)(b->ngroups - i - 1) * sizeof *b->groups);
            b->ngroups--;
            break;
        }
    group_free(g);
}

void broker__group_maybe_drop(broker_t *b, broker_group_t *g)
{
    if (!g || g->state != BROKER__EMPTY || g->nmembers || g->npending || g->noffsets ||
        (g->cg && broker__cgroup_nmembers(g->cg)))
        return;
    /* A replayed group record may be followed by the group's offsets: decided after replay. */
    if (b->oreplaying && g->meta_rec)
        return;
    broker__offsets_forget_group(b, g);
    group_unlink_free(b, g);
}

void broker__groups_free(broker_t *b)
{
    for (int i = 0; i < b->ngroups; i++) {
        broker_group_t *g = b->groups[i];
        /* Connections are closed before the broker, so nothing should be parked; drop any
         * leftover waiter links without calling back. */
        for (int k = 0; k < g->nmembers; k++) {
            take_join(g->members[k]);
            take_sync(g->members[k]);
        }
        group_free(g);
    }
    while (b->cq_head) {
        broker__completion_t *c = b->cq_head;
        b->cq_head = c->next;
        if (c->jw)
            c->jw->_queued = NULL;
        if (c->sw)
            c->sw->_queued = NULL;
        completion_free(c);
    }
    b->cq_tail = NULL;
    free(b->groups);
    b->groups = NULL;
    b->ngroups = b->cap_groups = 0;
    hd_strmap_deinit(&b->group_index);
}

static int32_t max_rebalance_ms(const broker_group_t *g)
{
    int32_t mx = 0;
    for (int i = 0; i < g->nmembers; i++)
        if (g->members[i]->rebalance_ms > mx)
            mx = g->members[i]->rebalance_ms;
    return mx;
}

/* Whether a member offering these protocols may join (ignoring member `self`). */
static bool supports_protocols(const broker_group_t *g, const broker_join_req_t *req,
                               const broker__member_t *self)
{
    if (!req->protocol_type || !req->protocol_type[0] || req->nprotocols <= 0)
        return false;
    int others = g->nmembers - (self ? 1 : 0);
    if (others <= 0)
        return true;
    if (g->protocol_type && strcmp(g->protocol_type, req->protocol_type))
        return false;
    for (int p = 0; p < req->nprotocols; p++) {
        bool all = true;
        for (int i = 0; i < g->nmembers && all; i++)
            if (g->members[i] != self && !member_supports(g->members[i], req->protocols[p].name))
                all = false;
        if (all)
            return true;
    }
    return false;
}

/* The vote: every member names its most preferred protocol that all members support; the name
 * with most votes wins (ties: the first member's preference order). */
static char *select_protocol(const broker_group_t *g)
{
    const broker__member_t *first = g->members[0];
    int best = -1, best_votes = 0;
    int *votes = hd_calloc((size_t)first->nprotocols + 1, sizeof *votes);
    for (int i = 0; i < g->nmembers; i++) {
        const broker__member_t *m = g->members[i];
        for (int p = 0; p < m->nprotocols; p++) {
            int idx = -1;
            for (int q = 0; q < first->nprotocols; q++)
                if (!strcmp(first->proto_names[q], m->proto_names[p]))
                    idx = q;
            bool all = idx >= 0;
            for (int k = 0; k < g->nmembers && all; k++)
                all = member_supports(g->members[k], m->proto_names[p]);
            if (all) {
                votes[idx]++;
                break;
            }
        }
    }
    for (int q = 0; q < first->nprotocols; q++)
        if (votes[q] > best_votes) {
            best_votes = votes[q];
            best = q;
        }
    free(votes);
    return best >= 0 ? hd_strdup(first->proto_names[best]) : NULL;
}

static void prepare_rebalance(broker_t *b, broker_group_t *g)
{
    int64_t now = broker__now(b);
    if (g->storing) {
        broker_waiter_cancel(&g->store_w);
        g->storing = false;
    }
    if (g->state == BROKER__COMPLETING || g->state == BROKER__STABLE) {
        /* Members waiting for the leader's assignment, or for it to be stored, rejoin
         * instead. */
        for (int i = 0; i < g->nmembers; i++) {
            answer_sync(b, g, take_sync(g->members[i]), BROKER_GERR_REBALANCE_IN_PROGRESS,
                        hd_slice(NULL, 0));
            if (g->state == BROKER__COMPLETING)
                set_assignment(g->members[i], hd_slice(NULL, 0));
        }
    }
    if (g->state == BROKER__EMPTY && b->cfg->group_initial_rebalance_delay_ms > 0) {
        g->initial_delay = true;
        g->deadline = now + b->cfg->group_initial_rebalance_delay_ms;
        g->initial_cap = now + max_rebalance_ms(g);
        if (g->deadline > g->initial_cap)
            g->deadline = g->initial_cap;
    } else {
        g->initial_delay = false;
        g->deadline = now + max_rebalance_ms(g);
    }
    g->state = BROKER__PREPARING;
    say_debug("group %s: preparing rebalance (generation %d, %d members)", g->id, g->generation,
              g->nmembers);
}

static void complete_join(broker_t *b, broker_group_t *g)
{
    int64_t now = broker__now(b);
    for (int i = g->nmembers; i-- > 0;) {
        broker__member_t *m = g->members[i];
        if (!m->awaiting_join && !m->instance_id) {
            say_info("group %s: member %s did not rejoin in time; removed", g->id, m->id);
            remove_member(b, g, i, BROKER_GERR_UNKNOWN_MEMBER_ID);
        }
    }
    g->generation++;
    g->initial_delay = false;
    free(g->protocol);
    g->protocol = NULL;
    if (!g->nmembers) {
        g->state = BROKER__EMPTY;
        g->empty_since_ms = broker__wall(b);
        free(g->leader);
        g->leader = NULL;
        say_info("group %s: empty at generation %d", g->id, g->generation);
        broker__offsets_write_group(b, g);
        return;
    }
    g->protocol = select_protocol(g);
    if (!g->leader || find_member(g, g->leader) < 0) {
        free(g->leader);
        int pick = 0;
        for (int i = 0; i < g->nmembers; i++)
            if (g->members[i]->awaiting_join) {
                pick = i;
                break;
            }
        g->leader = hd_strdup(g->members[pick]->id);
    }
    g->state = BROKER__COMPLETING;
    g->deadline = now + max_rebalance_ms(g);
    say_info("group %s: generation %d with %d members, protocol %s, leader %s", g->id,
             g->generation, g->nmembers, g->protocol ? g->protocol : "-", g->leader);
    for (int i = 0; i < g->nmembers; i++) {
        broker__member_t *m = g->members[i];
        m->synced = false;
        m->last_seen = now;
        set_assignment(m, hd_slice(NULL, 0));
        if (m->awaiting_join)
            answer_join(b, g, take_join(m), BROKER_GERR_NONE, m->id, !strcmp(m->id, g->leader));
        m->awaiting_join = false;
    }
}

static bool all_joined(const broker_group_t *g)
{
    for (int i = 0; i < g->nmembers; i++)
        if (!g->members[i]->awaiting_join)
            return false;
    return true;
}

static void maybe_complete_join(broker_t *b, broker_group_t *g)
{
    if (g->state == BROKER__PREPARING && !g->initial_delay && all_joined(g))
        complete_join(b, g);
}

/* After a member left or expired. */
static void member_gone(broker_t *b, broker_group_t *g)
{
    if (g->state == BROKER__STABLE || g->state == BROKER__COMPLETING)
        prepare_rebalance(b, g);
    if (g->state == BROKER__PREPARING && !g->nmembers)
        g->initial_delay = false;
    maybe_complete_join(b, g);
}

/* A new member joined (or a known one changed): it waits for the join phase to end. */
static void join_and_rebalance(broker_t *b, broker_group_t *g, broker__member_t *m,
                               broker_join_waiter_t *w)
{
    m->awaiting_join = true;
    park_join(m, w);
    if (g->state == BROKER__PREPARING) {
        if (g->initial_delay) {
            int64_t d = broker__now(b) + b->cfg->group_initial_rebalance_delay_ms;
            int64_t cap = broker__now(b) + max_rebalance_ms(g);
            if (cap > g->initial_cap)
                g->initial_cap = cap;
            g->deadline = d < g->initial_cap ? d : g->initial_cap;
        }
    } else {
        prepare_rebalance(b, g);
    }
    maybe_complete_join(b, g);
}

static bool bad_id(const char *s) { return s && strlen(s) > BROKER_GROUP_ID_MAX; }

static void add_pending(broker_group_t *g, const char *id, int64_t expires)
{
    if (g->npending == g->cap_pending) {
        g->cap_pending = g->cap_pending ? g->cap_pending * 2 : 4;
        g->pending = hd_realloc(g->pending, (size_t)g->cap_pending * sizeof *g->pending);
    }
    g->pending[g->npending].id = hd_strdup(id);
    g->pending[g->npending].expires = expires;
    g->npending++;
}

static bool take_pending(broker_group_t *g, const char *id)
{
    for (int i = 0; i < g->npending; i++)
        if (!strcmp(g->pending[i].id, id)) {
            free(g->pending[i].id);
            g->pending[i] = g->pending[--g->npending];
            return true;
        }
    return false;
}

static void join(broker_t *b, const broker_join_req_t *req, broker_join_waiter_t *w)
{
    const hd_config_t *cfg = b->cfg;
    const char *mid = req->member_id ? req->member_id : "";
    int64_t now = broker__now(b);
    if (!req->group_id || !req->group_id[0] || bad_id(req->group_id)) {
        answer_join_error(b, w, BROKER_GERR_INVALID_GROUP_ID, mid);
        return;
    }
    if (req->session_ms < cfg->group_min_session_timeout_ms ||
        req->session_ms > cfg->group_max_session_timeout_ms) {
        answer_join_error(b, w, BROKER_GERR_INVALID_SESSION_TIMEOUT, mid);
        return;
    }
    if (bad_id(mid) || bad_id(req->instance_id) || bad_id(req->client_id) ||
        (req->instance_id && !req->instance_id[0])) {
        answer_join_error(b, w, BROKER_GERR_UNKNOWN_MEMBER_ID, mid);
        return;
    }
    if (req->nprotocols <= 0 || req->nprotocols > BROKER_GROUP_MAX_PROTOCOLS ||
        !req->protocol_type || !req->protocol_type[0]) {
        answer_join_error(b, w, BROKER_GERR_INCONSISTENT_GROUP_PROTOCOL, mid);
        return;
    }
    for (int i = 0; i < req->nprotocols; i++)
        if (!req->protocols[i].name || bad_id(req->protocols[i].name)) {
            answer_join_error(b, w, BROKER_GERR_INCONSISTENT_GROUP_PROTOCOL, mid);
            return;
        }
    broker_group_t *g = broker__group_get(b, req->group_id, !mid[0]);
    if (!g) {
        answer_join_error(b, w, BROKER_GERR_UNKNOWN_MEMBER_ID, mid);
        return;
    }
    if (g->cg) {
        /* A consumer-protocol group: taken over only once it has no members. */
        if (broker__cgroup_nmembers(g->cg)) {
            answer_join_error(b, w, BROKER_GERR_INCONSISTENT_GROUP_PROTOCOL, mid);
            return;
        }
        broker__cgroup_free(g->cg);
        g->cg = NULL;
    }
    int idx = find_member(g, mid);
    broker__member_t *self = idx >= 0 ? g->members[idx] : NULL;
    if (!self && req->instance_id) {
        int si = find_instance(g, req->instance_id);
        self = si >= 0 ? g->members[si] : NULL;
    }
    if (!supports_protocols(g, req, self)) {
        answer_join_error(b, w, BROKER_GERR_INCONSISTENT_GROUP_PROTOCOL, mid);
        return;
    }
    char newid[BROKER_GROUP_ID_MAX + 64];
    if (!mid[0]) {
        new_member_id(req->client_id, newid, sizeof newid);
        int si = find_instance(g, req->instance_id);
        if (si >= 0) {
            /* A static member is back under a new member id: fence the old one. */
            broker__member_t *m = g->members[si];
            bool changed = !member_same_protocols(m, req);
            bool was_leader = g->leader && !strcmp(g->leader, m->id);
            answer_join_error(b, take_join(m), BROKER_GERR_FENCED_INSTANCE_ID, m->id);
            answer_sync(b, g, take_sync(m), BROKER_GERR_FENCED_INSTANCE_ID, hd_slice(NULL, 0));
            say_info("group %s: static member %s rejoined as %s", g->id, m->instance_id, newid);
            free(m->id);
            m->id = hd_strdup(newid);
            if (was_leader) {
                free(g->leader);
                g->leader = hd_strdup(newid);
            }
            member_update(m, req, now);
            if (g->state == BROKER__STABLE && !changed && !was_leader) {
                broker__offsets_write_group(b, g); /* the new member id, as Kafka persists it */
                answer_join(b, g, w, BROKER_GERR_NONE, m->id, false);
                return;
            }
            if (g->state == BROKER__COMPLETING && !changed) {
                answer_join(b, g, w, BROKER_GERR_NONE, m->id, was_leader);
                return;
            }
            join_and_rebalance(b, g, m, w);
            return;
        }
        if (req->member_id_required && !req->instance_id) {
            add_pending(g, newid, now + req->session_ms);
            answer_join_error(b, w, BROKER_GERR_MEMBER_ID_REQUIRED, newid);
            return;
        }
        broker__member_t *m = add_member(g, newid, req, now);
        say_debug("group %s: new member %s", g->id, newid);
        join_and_rebalance(b, g, m, w);
        return;
    }
    if (idx < 0) {
        if (take_pending(g, mid)) {
            broker__member_t *m = add_member(g, mid, req, now);
            say_debug("group %s: new member %s", g->id, mid);
            join_and_rebalance(b, g, m, w);
            return;
        }
        answer_join_error(b, w, BROKER_GERR_UNKNOWN_MEMBER_ID, mid);
        return;
    }
    broker__member_t *m = g->members[idx];
    if ((m->instance_id || req->instance_id) &&
        (!m->instance_id || !req->instance_id || strcmp(m->instance_id, req->instance_id))) {
        answer_join_error(b, w, BROKER_GERR_FENCED_INSTANCE_ID, mid);
        return;
    }
    /* A second join while the first still waits: the older request gives way. */
    answer_join_error(b, take_join(m), BROKER_GERR_REBALANCE_IN_PROGRESS, m->id);
    bool changed = !member_same_protocols(m, req);
    member_update(m, req, now);
    bool is_leader = g->leader && !strcmp(g->leader, m->id);
    if (g->state == BROKER__COMPLETING && !changed) {
        answer_join(b, g, w, BROKER_GERR_NONE, m->id, is_leader);
        return;
    }
    if (g->state == BROKER__STABLE && !changed && !is_leader) {
        answer_join(b, g, w, BROKER_GERR_NONE, m->id, false);
        return;
    }
    join_and_rebalance(b, g, m, w);
}

void broker_group_join(broker_t *b, const broker_join_req_t *req, broker_join_waiter_t *w)
{
    w->_member = w->_queued = NULL;
    join(b, req, w);
    broker_group_t *g = req->group_id ? broker__group_get(b, req->group_id, false) : NULL;
    broker__group_maybe_drop(b, g);
    cq_flush(b);
}

void broker_join_waiter_cancel(broker_join_waiter_t *w)
{
    if (w->_member)
        ((broker__member_t *)w->_member)->join_w = NULL;
    if (w->_queued)
        ((broker__completion_t *)w->_queued)->jw = NULL;
    w->_member = w->_queued = NULL;
}

void broker_sync_waiter_cancel(broker_sync_waiter_t *w)
{
    if (w->_member)
        ((broker__member_t *)w->_member)->sync_w = NULL;
    if (w->_queued)
        ((broker__completion_t *)w->_queued)->sw = NULL;
    w->_member = w->_queued = NULL;
}

/* Finds the member a request names and checks its instance id: returns its index, or -1 with
 * *err set. */
static int member_of(broker_group_t *g, const char *member_id, const char *instance_id,
                     int16_t *err)
{
    int idx = g ? find_member(g, member_id) : -1;
    if (idx < 0) {
        /* A static member's old id after it was replaced is fenced, not unknown. */
        *err = g && find_instance(g, instance_id) >= 0 ? BROKER_GERR_FENCED_INSTANCE_ID
                                                       : BROKER_GERR_UNKNOWN_MEMBER_ID;
        return -1;
    }
    const char *have = g->members[idx]->instance_id;
    if (instance_id && (!have || strcmp(have, instance_id))) {
        *err = BROKER_GERR_FENCED_INSTANCE_ID;
        return -1;
    }
    *err = BROKER_GERR_NONE;
    return idx;
}

/* Answers every member's parked SyncGroup: its assignment, or err. */
static void answer_waiting_syncs(broker_t *b, broker_group_t *g, int16_t err)
{
    for (int i = 0; i < g->nmembers; i++) {
        broker__member_t *x = g->members[i];
        answer_sync(b, g, take_sync(x), err,
                    err ? hd_slice(NULL, 0) : hd_slice(x->assignment, x->assignment_len));
    }
}

static void on_group_stored(broker_waiter_t *w, int err)
{
    broker_group_t *g = w->ctx;
    broker_t *b = g->owner;
    g->storing = false;
    if (err)
        say_warn("group %s: the group record did not become durable (%s); members must rejoin",
                 g->id, hd_strerror(err));
    answer_waiting_syncs(b, g, err ? BROKER_GERR_COORDINATOR_NOT_AVAILABLE : BROKER_GERR_NONE);
    cq_flush(b);
}

static void sync(broker_t *b, const char *group_id, int32_t generation, const char *member_id,
                 const char *instance_id, const broker_assignment_t *as, int nas,
                 broker_sync_waiter_t *w)
{
    if (!group_id || !group_id[0]) {
        answer_sync(b, NULL, w, BROKER_GERR_INVALID_GROUP_ID, hd_slice(NULL, 0));
        return;
    }
    broker_group_t *g = broker__group_get(b, group_id, false);
    int16_t err;
    int idx = member_of(g, member_id, instance_id, &err);
    if (idx < 0) {
        answer_sync(b, NULL, w, err, hd_slice(NULL, 0));
        return;
    }
    broker__member_t *m = g->members[idx];
    if (generation != g->generation) {
        answer_sync(b, NULL, w, BROKER_GERR_ILLEGAL_GENERATION, hd_slice(NULL, 0));
        return;
    }
    m->last_seen = broker__now(b);
    switch (g->state) {
    case BROKER__PREPARING:
        answer_sync(b, NULL, w, BROKER_GERR_REBALANCE_IN_PROGRESS, hd_slice(NULL, 0));
        return;
    case BROKER__STABLE:
        if (g->storing)
            break; /* waits for the stored assignment with the others */
        answer_sync(b, g, w, BROKER_GERR_NONE, hd_slice(m->assignment, m->assignment_len));
        return;
    case BROKER__COMPLETING:
        break;
    default:
        answer_sync(b, NULL, w, BROKER_GERR_UNKNOWN_MEMBER_ID, hd_slice(NULL, 0));
        return;
    }
    answer_sync(b, NULL, take_sync(m), BROKER_GERR_REBALANCE_IN_PROGRESS, hd_slice(NULL, 0));
    m->sync_w = w;
    w->_member = m;
    m->synced = true;
    if (g->storing || !g->leader || strcmp(g->leader, m->id))
        return;
    for (int i = 0; i < nas; i++) {
        int k = find_member(g, as[i].member_id);
        if (k >= 0)
            set_assignment(g->members[k], as[i].assignment);
    }
    g->state = BROKER__STABLE;
    say_info("group %s: stable at generation %d", g->id, g->generation);
    int64_t end = broker__offsets_write_group(b, g);
    if (end < 0) {
        say_warn("group %s: the group record was not written (%s); members must rejoin", g->id,
                 hd_strerror((int)end));
        answer_waiting_syncs(b, g, BROKER_GERR_COORDINATOR_NOT_AVAILABLE);
        return;
    }
    if (end == 0) {
        answer_waiting_syncs(b, g, BROKER_GERR_NONE);
        return;
    }
    /* As Kafka: the answers wait until the assignment is durable. */
    g->storing = true;
    g->store_w.cb = on_group_stored;
    g->store_w.ctx = g;
    broker_offsets_wait(b, g->id, end, &g->store_w);
}

void broker_group_sync(broker_t *b, const char *group_id, int32_t generation, const char *member_id,
                       const char *instance_id, const broker_assignment_t *assignments,
                       int nassignments, broker_sync_waiter_t *w)
{
    w->_member = w->_queued = NULL;
    sync(b, group_id, generation, member_id, instance_id, assignments, nassignments, w);
    cq_flush(b);
}

int16_t broker_group_heartbeat(broker_t *b, const char *group_id, int32_t generation,
                               const char *member_id, const char *instance_id)
{
    if (!group_id || !group_id[0])
        return BROKER_GERR_INVALID_GROUP_ID;
    broker_group_t *g = broker__group_get(b, group_id, false);
    int16_t err;
    int idx = member_of(g, member_id, instance_id, &err);
    if (idx < 0)
        return err;
    if (generation != g->generation)
        return BROKER_GERR_ILLEGAL_GENERATION;
    g->members[idx]->last_seen = broker__now(b);
    if (g->state == BROKER__PREPARING)
        return BROKER_GERR_REBALANCE_IN_PROGRESS;
    return BROKER_GERR_NONE;
}

int16_t broker_group_leave(broker_t *b, const char *group_id, const char *member_id,
                           const char *instance_id)
{
    if (!group_id || !group_id[0])
        return BROKER_GERR_INVALID_GROUP_ID;
    broker_group_t *g = broker__group_get(b, group_id, false);
    if (!g)
        return BROKER_GERR_UNKNOWN_MEMBER_ID;
    int idx;
    int16_t err = BROKER_GERR_NONE;
    if ((!member_id || !member_id[0]) && instance_id) {
        idx = find_instance(g, instance_id);
        if (idx < 0)
            return BROKER_GERR_UNKNOWN_MEMBER_ID;
    } else {
        idx = member_of(g, member_id, instance_id, &err);
        if (idx < 0) {
            /* A pending member (MEMBER_ID_REQUIRED) may leave before it ever joined. */
            if (member_id && take_pending(g, member_id)) {
                broker__group_maybe_drop(b, g);
                return BROKER_GERR_NONE;
            }
            return err;
        }
    }
    say_info("group %s: member %s left", g->id, g->members[idx]->id);
    remove_member(b, g, idx, BROKER_GERR_UNKNOWN_MEMBER_ID);
    member_gone(b, g);
    broker__group_maybe_drop(b, g);
    cq_flush(b);
    return BROKER_GERR_NONE;
}

void broker_group_tick(broker_t *b)
{
    int64_t now = broker__now(b);
    for (int gi = b->ngroups; gi-- > 0;) {
        broker_group_t *g = b->groups[gi];
        for (int i = g->npending; i-- > 0;)
            if (g->pending[i].expires <= now) {
                free(g->pending[i].id);
                g->pending[i] = g->pending[--g->npending];
            }
        bool gone = false;
        for (int i = g->nmembers; i-- > 0;) {
            broker__member_t *m = g->members[i];
            bool parked = (g->state == BROKER__PREPARING && m->awaiting_join) || m->sync_w;
            if (!parked && now - m->last_seen > m->session_ms) {
                say_info("group %s: member %s session expired after %d ms; removed", g->id, m->id,
                         m->session_ms);
                remove_member(b, g, i, BROKER_GERR_UNKNOWN_MEMBER_ID);
                gone = true;
            }
        }
        if (gone)
            member_gone(b, g);
        if (g->cg)
            broker__cgroup_tick(b, g, now);
        if (g->state == BROKER__PREPARING && now >= g->deadline)
            complete_join(b, g);
        if (g->state == BROKER__COMPLETING && now >= g->deadline) {
            bool removed = false;
            for (int i = g->nmembers; i-- > 0;)
                if (!g->members[i]->synced) {
                    say_info("group %s: member %s did not sync in time; removed", g->id,
                             g->members[i]->id);
                    remove_member(b, g, i, BROKER_GERR_UNKNOWN_MEMBER_ID);
                    removed = true;
                }
            if (removed)
                member_gone(b, g);
        }
        broker__group_maybe_drop(b, g);
    }
    cq_flush(b);
    broker__offsets_tick(b);
}

/* ---- offsets: who may commit ---- */

int16_t broker_group_commit_check(broker_t *b, const char *group_id, int32_t generation,
                                  const char *member_id, const char *instance_id)
{
    if (!group_id || !group_id[0] || bad_id(group_id))
        return BROKER_GERR_INVALID_GROUP_ID;
    broker_group_t *g = broker__group_get(b, group_id, false);
    if (generation < 0 && (!member_id || !member_id[0])) {
        /* The "simple consumer" path: assign() + commit, admin tools. */
        if (!g || g->state == BROKER__EMPTY)
            return BROKER_GERR_NONE;
        return BROKER_GERR_UNKNOWN_MEMBER_ID;
    }
    if (!g)
        return generation < 0 ? BROKER_GERR_UNKNOWN_MEMBER_ID : BROKER_GERR_ILLEGAL_GENERATION;
    int16_t err;
    int idx = member_of(g, member_id, instance_id, &err);
    if (idx < 0)
        return err;
    if (generation != g->generation)
        return BROKER_GERR_ILLEGAL_GENERATION;
    if (g->state == BROKER__COMPLETING)
        return BROKER_GERR_REBALANCE_IN_PROGRESS;
    g->members[idx]->last_seen = broker__now(b);
    return BROKER_GERR_NONE;
}

/* Whether a member's ConsumerProtocolSubscription (i16 version, i32 count, i16-length topic
 * names, ...) names the topic. */
static bool subscription_has(hd_slice_t md, const char *topic)
{
    hd_reader_t r = hd_reader_init(md);
    hd_read_i16(&r);
    int32_t n = hd_read_count(&r, 1 << 20);
    for (int32_t i = 0; i < n && !r.err; i++) {
        int16_t len = hd_read_i16(&r);
        hd_slice_t s = hd_read_bytes(&r, len < 0 ? 0 : (size_t)len);
        if (!r.err && s.len == strlen(topic) && !memcmp(s.p, topic, s.len))
            return true;
    }
    return false;
}

bool broker__group_subscribes(const broker_group_t *g, const char *topic)
{
    if (g->cg)
        return broker__cgroup_subscribes(g->cg, topic);
    if (!g->protocol_type || strcmp(g->protocol_type, "consumer"))
        return false;
    for (int i = 0; i < g->nmembers; i++) {
        const broker__member_t *m = g->members[i];
        hd_slice_t md = member_metadata(m, g->protocol);
        if (!g->protocol && m->nprotocols)
            md = m->proto_meta[0];
        if (subscription_has(md, topic))
            return true;
    }
    return false;
}

/* ---- listing, describing, deleting ---- */

int broker_group_count(const broker_t *b) { return b->ngroups; }

broker_group_t *broker_group_at(broker_t *b, int i)
{
    return i >= 0 && i < b->ngroups ? b->groups[i] : NULL;
}

broker_group_t *broker_group_find(broker_t *b, const char *group_id)
{
    return group_id ? broker__group_get(b, group_id, false) : NULL;
}

const char *broker_group_id(const broker_group_t *g) { return g->id; }

const char *broker_group_state(const broker_group_t *g)
{
    if (g->cg)
        return broker__cgroup_state(g->cg);
    switch (g->state) {
    case BROKER__PREPARING:
        return "PreparingRebalance";
    case BROKER__COMPLETING:
        return "CompletingRebalance";
    case BROKER__STABLE:
        return "Stable";
    default:
        return "Empty";
    }
}

const char *broker_group_type(const broker_group_t *g) { return g->cg ? "consumer" : "classic"; }

const char *broker_group_protocol_type(const broker_group_t *g)
{
    if (g->cg)
        return "consumer";
    return g->protocol_type ? g->protocol_type : "";
}

const char *broker_group_protocol(const broker_group_t *g)
{
    bool chosen = g->state == BROKER__STABLE || g->state == BROKER__COMPLETING;
    return chosen && g->protocol ? g->protocol : "";
}

int32_t broker_group_generation(const broker_group_t *g) { return g->generation; }

int broker_group_member_count(const broker_group_t *g) { return g->nmembers; }

void broker_group_member(const broker_group_t *g, int i, broker_member_info_t *out)
{
    const broker__member_t *m = g->members[i];
    out->member_id = m->id;
    out->instance_id = m->instance_id;
    out->client_id = m->client_id;
    out->client_host = m->client_host;
    out->metadata = member_metadata(m, g->protocol);
    out->assignment = hd_slice(m->assignment, m->assignment_len);
}

int16_t broker_group_delete(broker_t *b, const char *group_id, int64_t *durable_at)
{
    *durable_at = group_id ? broker_partition_end(broker__offsets_part_of(b, group_id)) : 0;
    /* The empty id names no group: GROUP_ID_NOT_FOUND, as Kafka 4 answers. */
    broker_group_t *g = group_id && group_id[0] ? broker__group_get(b, group_id, false) : NULL;
    if (!g)
        return BROKER_GERR_GROUP_ID_NOT_FOUND;
    if (g->nmembers || g->state != BROKER__EMPTY || (g->cg && broker__cgroup_nmembers(g->cg)))
        return BROKER_GERR_NON_EMPTY_GROUP;
    if ((g->noffsets || g->meta_rec) && broker__offsets_delete_group(b, g, durable_at) < 0)
        return BROKER_GERR_KAFKA_STORAGE_ERROR;
    group_unlink_free(b, g);
    say_info("group %s: deleted", group_id);
    return BROKER_GERR_NONE;
}

/* ---- the group's record in __consumer_offsets ---- */

void broker__group_meta(broker_t *b, const broker_group_t *g, broker__gmeta_t *out)
{
    memset(out, 0, sizeof *out);
    out->protocol_type = g->protocol_type ? g->protocol_type : "";
    out->generation = g->generation;
    out->state_ms = broker__wall(b);
    if (!g->nmembers)
        return; /* Empty: null protocol and leader, as Kafka writes it */
    out->protocol = g->protocol ? g->protocol : "";
    out->leader = g->leader ? g->leader : g->members[0]->id;
    out->members = hd_calloc((size_t)g->nmembers, sizeof *out->members);
    out->nmembers = g->nmembers;
    for (int i = 0; i < g->nmembers; i++) {
        const broker__member_t *m = g->members[i];
        broker__gmember_t *x = &out->members[i];
        x->member_id = m->id;
        x->instance_id = m->instance_id;
        x->client_id = m->client_id;
        x->client_host = m->client_host;
        x->rebalance_ms = m->rebalance_ms;
        x->session_ms = m->session_ms;
        x->subscription = member_metadata(m, g->protocol);
        x->assignment = hd_slice(m->assignment, m->assignment_len);
    }
}

void broker__group_restore(broker_t *b, broker_group_t *g, const broker__gmeta_t *m)
{
    if (g->cg) {
        if (broker__cgroup_nmembers(g->cg))
            return; /* a consumer-protocol group has no classic record */
        broker__cgroup_free(g->cg);
        g->cg = NULL;
    }
    for (int i = g->nmembers; i-- > 0;)
        remove_member(b, g, i, BROKER_GERR_UNKNOWN_MEMBER_ID);
    for (int i = 0; i < g->npending; i++)
        free(g->pending[i].id);
    g->npending = 0;
    free(g->protocol_type);
    free(g->protocol);
    free(g->leader);
    g->protocol_type = g->protocol = g->leader = NULL;
    g->state = BROKER__EMPTY;
    g->initial_delay = false;
    g->generation = m ? m->generation : 0;
    if (m && m->protocol_type[0])
        g->protocol_type = hd_strdup(m->protocol_type);
    if (m && m->state_ms > 0 && !m->nmembers)
        g->empty_since_ms = m->state_ms;
    if (!m || !m->nmembers || !g->protocol_type) {
        cq_flush(b);
        return;
    }
    /* Stable, as Kafka loads it: the members keep their ids, generation and assignments, and
     * leave by session expiry unless they heartbeat. */
    int64_t now = broker__now(b);
    g->protocol = hd_strdup(m->protocol);
    for (int i = 0; i < m->nmembers; i++) {
        const broker__gmember_t *x = &m->members[i];
        if (find_member(g, x->member_id) >= 0)
            continue;
        broker__member_t *mm = hd_calloc(1, sizeof *mm);
        mm->id = hd_strdup(x->member_id);
        mm->instance_id = dup_or_null(x->instance_id);
        mm->client_id = hd_strdup(x->client_id);
        mm->client_host = hd_strdup(x->client_host);
        mm->session_ms = x->session_ms;
        mm->rebalance_ms = x->rebalance_ms;
        mm->nprotocols = 1;
        mm->proto_names = hd_malloc(sizeof *mm->proto_names);
        mm->proto_meta = hd_malloc(sizeof *mm->proto_meta);
        mm->proto_names[0] = hd_strdup(m->protocol);
        mm->proto_meta[0] = hd_slice(dup_bytes(x->subscription), x->subscription.len);
        set_assignment(mm, x->assignment);
        mm->last_seen = now;
        mm->synced = true;
        if (g->nmembers == g->cap_members) {
            g->cap_members = g->cap_members ? g->cap_members * 2 : 4;
            g->members = hd_realloc(g->members, (size_t)g->cap_members * sizeof *g->members);
        }
        g->members[g->nmembers++] = mm;
    }
    g->leader = hd_strdup(find_member(g, m->leader) >= 0 ? m->leader : g->members[0]->id);
    g->state = BROKER__STABLE;
    cq_flush(b);
}
