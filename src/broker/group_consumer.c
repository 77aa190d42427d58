/* The consumer-group coordinator of KIP-848 (group.protocol=consumer): ConsumerGroupHeartbeat
 * with server-side assignment. Loop thread only.
 *
 * Vocabulary (Kafka's):
 * - The group epoch advances whenever what the assignment depends on changes: a member joins
 *   or leaves, a subscription or the chosen assignor changes, or a subscribed topic appears,
 *   disappears or grows. The assignment epoch is the group epoch the target assignment was
 *   computed for; a heartbeat that finds the group epoch ahead recomputes it at once.
 * - The target assignment gives every member the partitions it should own, computed by the
 *   "uniform" assignor (balanced, sticky: a partition stays with its previous target owner
 *   while that keeps the counts within one of each other) or the "range" assignor (per topic,
 *   contiguous ranges over the subscribed members in member-id order).
 * - Each member moves from its current assignment towards its target by reconciliation, one
 *   heartbeat at a time. A partition is never owned by two members: partitions to revoke are
 *   taken away first, the member stays at its epoch (state UNREVOKED_PARTITIONS) until a
 *   heartbeat no longer lists them as owned, and only then does it move to the assignment epoch
 *   with the partitions that are free. Partitions still owned by another member are withheld
 *   (state UNRELEASED_PARTITIONS) and handed over on a later heartbeat once released.
 * - A member epoch in a heartbeat must be the member's current epoch; the previous one is
 *   accepted only when the partitions it reports owning are a subset of what it was given (the
 *   answer to its last heartbeat was lost). Anything else is FENCED_MEMBER_EPOCH, after which
 *   the client rejoins with epoch 0.
 * - A member whose heartbeats stop for group.consumer.session.timeout.ms, or which does not
 *   revoke within its rebalance timeout, is removed. Epoch -1 leaves. A static member
 *   (instance id) leaving with epoch -2 keeps its assignment until its session expires; a new
 *   member with the same instance id takes its place and its partitions.
 *
 * - Subscriptions name topics, or give a regex (SubscribedTopicRegex, KIP-848's broker-side
 *   patterns; syntax in topic_regex.c), or both: a member subscribes to the union. A regex is
 *   evaluated against the topics when it is set and again whenever a topic is created or deleted
 *   (on the next heartbeat of any member of the group), and the group epoch advances when what it
 *   matches changes, so a topic created after the subscription is assigned like any other.
 *
 * Group state is kept in memory only: after a restart every member's heartbeat answers
 * UNKNOWN_MEMBER_ID and the members rejoin (committed offsets are durable, as for every group). */
#include "broker/broker_int.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/monotime.h"
#include "util/say.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* Longest topic list one member may subscribe to. */
#define CG_MAX_TOPICS 10000
/* Most partitions the assignment covers (beyond, the assignors would get slow). */
#define CG_MAX_PARTITIONS 200000

enum { CG_STABLE, CG_UNREVOKED, CG_UNRELEASED };

/* A sorted set of partitions. */
typedef struct pset {
    broker_cg_part_t *v;
    int n, cap;
} pset_t;

typedef struct cmember {
    char *id;
    char *instance_id;
    char *rack_id;
    char *client_id;
    char *client_host;
    int32_t epoch, prev_epoch;
    int state;
    int32_t rebalance_ms;
    char **topics; /* sorted */
    int ntopics;
    char *regex;               /* SubscribedTopicRegex, NULL when none */
    broker__topic_regex_t *re; /* compiled regex */
    char **rtopics;            /* the topics the regex matched, sorted */
    int nrtopics;
    uint64_t rgen;   /* broker topics_gen when rtopics was computed */
    bool rdirty;     /* the regex changed: resolve it again */
    pset_t assigned; /* owned now (as far as the coordinator lets it) */
    pset_t revoking; /* being revoked: still owned until the member says otherwise */
    pset_t target;
    int64_t last_seen;
    int64_t revoke_deadline;
} cmember_t;

struct broker__cgroup {
    int32_t group_epoch;
    int32_t assignment_epoch;
    char *assignor; /* NULL: "uniform" */
    cmember_t **members;
    int n, cap;
    uint64_t meta_hash; /* of the subscribed topics' ids and partition counts */
};

/* ---- partition sets ---- */

static int part_cmp(const void *a, const void *b)
{
    const broker_cg_part_t *x = a, *y = b;
    int c = memcmp(x->topic_id, y->topic_id, 16);
    if (c)
        return c;
    return (x->partition > y->partition) - (x->partition < y->partition);
}

static void pset_add(pset_t *s, const broker_cg_part_t *p)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->v = hd_realloc(s->v, (size_t)s->cap * sizeof *s->v);
    }
    s->v[s->n++] = *p;
}

/* Sorts and removes duplicates. */
static void pset_sort(pset_t *s)
{
    if (s->n < 2)
        return;
    qsort(s->v, (size_t)s->n, sizeof *s->v, part_cmp);
    int w = 1;
    for (int i = 1; i < s->n; i++)
        if (part_cmp(&s->v[i], &s->v[w - 1]))
            s->v[w++] = s->v[i];
    s->n = w;
}

static bool pset_has(const pset_t *s, const broker_cg_part_t *p)
{
    return s->n && bsearch(p, s->v, (size_t)s->n, sizeof *s->v, part_cmp) != NULL;
}

static bool pset_equal(const pset_t *a, const pset_t *b)
{
    return a->n == b->n && (!a->n || !memcmp(a->v, b->v, (size_t)a->n * sizeof *a->v));
}

static void pset_copy(pset_t *dst, const pset_t *src)
{
    dst->n = 0;
    for (int i = 0; i < src->n; i++)
        pset_add(dst, &src->v[i]);
}

static void pset_free(pset_t *s)
{
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* ---- members ---- */

static bool sorted_has(char *const *v, int n, const char *topic)
{
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int c = strcmp(v[mid], topic);
        if (!c)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return false;
}

/* Subscribed by name or through the member's regex. */
static bool member_subscribes(const cmember_t *m, const char *topic)
{
    return sorted_has(m->topics, m->ntopics, topic) || sorted_has(m->rtopics, m->nrtopics, topic);
}

static void free_strv(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void member_free(cmember_t *m)
{
    if (!m)
        return;
    free(m->id);
    free(m->instance_id);
    free(m->rack_id);
    free(m->client_id);
    free(m->client_host);
    free_strv(m->topics, m->ntopics);
    free(m->regex);
    broker__topic_regex_free(m->re);
    free_strv(m->rtopics, m->nrtopics);
    pset_free(&m->assigned);
    pset_free(&m->revoking);
    pset_free(&m->target);
    free(m);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replaces the subscription; returns whether it changed. */
static bool member_set_topics(cmember_t *m, const char *const *topics, int n)
{
    char **t = hd_malloc((size_t)(n ? n : 1) * sizeof *t);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (topics[i] && topics[i][0])
            t[k++] = hd_strdup(topics[i]);
    qsort(t, (size_t)k, sizeof *t, str_cmp);
    int w = 0;
    for (int i = 0; i < k; i++) {
        if (w && !strcmp(t[w - 1], t[i]))
            free(t[i]);
        else
            t[w++] = t[i];
    }
    bool same = w == m->ntopics;
    for (int i = 0; same && i < w; i++)
        same = !strcmp(t[i], m->topics[i]);
    for (int i = 0; i < m->ntopics; i++)
        free(m->topics[i]);
    free(m->topics);
    m->topics = t;
    m->ntopics = w;
    return !same;
}

static void set_str(char **dst, const char *src)
{
    if (src && *dst && !strcmp(*dst, src))
        return;
    free(*dst);
    *dst = src ? hd_strdup(src) : NULL;
}

static int find_member(const broker__cgroup_t *cg, const char *id)
{
    for (int i = 0; id && i < cg->n; i++)
        if (!strcmp(cg->members[i]->id, id))
            return i;
    return -1;
}

static int find_instance(const broker__cgroup_t *cg, const char *iid)
{
    for (int i = 0; iid && i < cg->n; i++)
        if (cg->members[i]->instance_id && !strcmp(cg->members[i]->instance_id, iid))
            return i;
    return -1;
}

static void remove_member(broker__cgroup_t *cg, int idx)
{
    member_free(cg->members[idx]);
    memmove(cg->members + idx, cg->members + idx + 1,
            (size_t)(cg->n - idx - 1) * sizeof *cg->members);
    cg->n--;
    cg->group_epoch++;
}

/* A member id as Kafka's clients make them: 22 characters of URL-safe base64 of 16 random
 * bytes. */
static void new_member_id(char out[23])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t raw[22];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        static uint64_t ctr;
        uint64_t x = 0x9e3779b97f4a7c15ull * ++ctr ^ (uint64_t)hd_mono_ns();
        for (size_t i = 0; i < sizeof raw; i++, x = x * 6364136223846793005ull + 1)
            raw[i] = (uint8_t)(x >> 33);
    }
    for (int i = 0; i < 22; i++)
        out[i] = alphabet[raw[i] & 63];
    out[22] = '\0';
}

/* ---- the group ---- */

void broker__cgroup_free(broker__cgroup_t *cg)
{
    if (!cg)
        return;
    for (int i = 0; i < cg->n; i++)
        member_free(cg->members[i]);
    free(cg->members);
    free(cg->assignor);
    free(cg);
}

int broker__cgroup_nmembers(const broker__cgroup_t *cg) { return cg ? cg->n : 0; }

bool broker__cgroup_subscribes(const broker__cgroup_t *cg, const char *topic)
{
    for (int i = 0; i < cg->n; i++)
        if (member_subscribes(cg->members[i], topic))
            return true;
    return false;
}

const char *broker__cgroup_state(const broker__cgroup_t *cg)
{
    if (!cg->n)
        return "Empty";
    if (cg->assignment_epoch < cg->group_epoch)
        return "Assigning";
    for (int i = 0; i < cg->n; i++) {
        const cmember_t *m = cg->members[i];
        if (m->epoch >= 0 && (m->epoch != cg->assignment_epoch || m->state != CG_STABLE))
            return "Reconciling";
    }
    return "Stable";
}

bool broker_group_is_consumer(const broker_group_t *g) { return g && g->cg; }

static const char *assignor_name(const broker__cgroup_t *cg)
{
    return cg->assignor ? cg->assignor : "uniform";
}

/* The subscribed topics that exist, sorted by name, without duplicates. */
static int subscribed_topics(broker_t *b, const broker__cgroup_t *cg, broker_topic_t ***out)
{
    int total = 0;
    for (int i = 0; i < cg->n; i++)
        total += cg->members[i]->ntopics + cg->members[i]->nrtopics;
    const char **names = hd_malloc((size_t)(total ? total : 1) * sizeof *names);
    int k = 0;
    for (int i = 0; i < cg->n; i++) {
        for (int j = 0; j < cg->members[i]->ntopics; j++)
            names[k++] = cg->members[i]->topics[j];
        for (int j = 0; j < cg->members[i]->nrtopics; j++)
            names[k++] = cg->members[i]->rtopics[j];
    }
    qsort(names, (size_t)k, sizeof *names, str_cmp);
    broker_topic_t **ts = hd_malloc((size_t)(k ? k : 1) * sizeof *ts);
    int nt = 0;
    for (int i = 0; i < k; i++) {
        if (i && !strcmp(names[i], names[i - 1]))
            continue;
        broker_topic_t *t = broker_topic_find(b, names[i]);
        if (t)
            ts[nt++] = t;
    }
    free(names);
    *out = ts;
    return nt;
}

/* FNV-1a over the subscribed topics' names, ids and partition counts. */
static uint64_t metadata_hash(broker_t *b, const broker__cgroup_t *cg)
{
    broker_topic_t **ts;
    int nt = subscribed_topics(b, cg, &ts);
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < nt; i++) {
        const char *name = broker_topic_name(ts[i]);
        const uint8_t *id = broker_topic_id(ts[i]);
        int32_t np = broker_topic_partitions(ts[i]);
        for (const char *c = name; *c; c++)
            h = (h ^ (uint8_t)*c) * 1099511628211ull;
        for (int k = 0; k < 16; k++)
            h = (h ^ id[k]) * 1099511628211ull;
        for (int k = 0; k < 4; k++)
            h = (h ^ (uint8_t)(np >> (8 * k))) * 1099511628211ull;
    }
    free(ts);
    return h;
}

/* ---- regex subscriptions ---- */

/* Sets the member's regex (NULL or "": none), taking `re`. Returns whether it changed. */
static bool member_set_regex(cmember_t *m, const char *regex, broker__topic_regex_t *re)
{
    if (regex && !regex[0])
        regex = NULL;
    if ((!regex && !m->regex) || (regex && m->regex && !strcmp(regex, m->regex))) {
        broker__topic_regex_free(re);
        return false;
    }
    free(m->regex);
    broker__topic_regex_free(m->re);
    m->regex = regex ? hd_strdup(regex) : NULL;
    m->re = regex ? re : NULL;
    if (!regex)
        broker__topic_regex_free(re);
    m->rdirty = true;
    return true;
}

/* Evaluates the members' regexes again where the regex or the set of topics changed since the
 * last time (a topic created after the subscription is picked up here, on the next heartbeat of
 * any member). Returns whether any member's matched topics changed. Topics are matched against
 * the broker's own topics only: Kafka's internal topics are never listed among them. */
static bool resolve_regexes(broker_t *b, broker__cgroup_t *cg)
{
    bool changed = false;
    int nt = broker_topic_count(b);
    for (int i = 0; i < cg->n; i++) {
        cmember_t *m = cg->members[i];
        if (!m->rdirty && m->rgen == b->topics_gen)
            continue;
        m->rdirty = false;
        m->rgen = b->topics_gen;
        char **v = NULL;
        int n = 0;
        if (m->re) {
            v = hd_malloc((size_t)(nt ? nt : 1) * sizeof *v);
            for (int t = 0; t < nt; t++) {
                const char *name = broker_topic_name(broker_topic_at(b, t));
                if (broker__topic_regex_matches(m->re, name))
                    v[n++] = hd_strdup(name);
            }
            qsort(v, (size_t)n, sizeof *v, str_cmp);
        }
        bool same = n == m->nrtopics;
        for (int k = 0; same && k < n; k++)
            same = !strcmp(v[k], m->rtopics[k]);
        free_strv(m->rtopics, m->nrtopics);
        m->rtopics = v;
        m->nrtopics = n;
        changed |= !same;
    }
    return changed;
}

/* ---- assignors ---- */

/* Members in member-id order, for deterministic assignments. */
static int member_order_cmp(const void *a, const void *b)
{
    return strcmp((*(cmember_t *const *)a)->id, (*(cmember_t *const *)b)->id);
}

static void assign_range(broker_topic_t **ts, int nt, cmember_t **ms, int nm)
{
    cmember_t **subs = hd_malloc((size_t)nm * sizeof *subs);
    for (int t = 0; t < nt; t++) {
        const char *name = broker_topic_name(ts[t]);
        int ns = 0;
        for (int i = 0; i < nm; i++)
            if (member_subscribes(ms[i], name))
                subs[ns++] = ms[i];
        if (!ns)
            continue;
        int32_t np = broker_topic_partitions(ts[t]);
        int32_t per = np / ns, extra = np % ns, p = 0;
        for (int i = 0; i < ns; i++) {
            int32_t count = per + (i < extra ? 1 : 0);
            for (int32_t k = 0; k < count; k++, p++) {
                broker_cg_part_t part;
                memcpy(part.topic_id, broker_topic_id(ts[t]), 16);
                part.partition = p;
                pset_add(&subs[i]->target, &part);
            }
        }
    }
    free(subs);
}

/* Balanced and sticky: keep previous targets, place the rest on the least loaded eligible
 * member, then move partitions from a member to an eligible one with at least two fewer until
 * no such move exists (each move lowers the sum of squared counts, so this ends). */
static void assign_uniform(broker_topic_t **ts, int nt, cmember_t **ms, int nm, const pset_t *prev)
{
    int total = 0;
    for (int t = 0; t < nt; t++)
        total += broker_topic_partitions(ts[t]);
    if (!total || !nm)
        return;
    broker_cg_part_t *parts = hd_malloc((size_t)total * sizeof *parts);
    int *topic_of = hd_malloc((size_t)total * sizeof *topic_of);
    int *owner = hd_malloc((size_t)total * sizeof *owner);
    int *count = hd_calloc((size_t)nm, sizeof *count);
    bool *elig = hd_malloc((size_t)nt * (size_t)nm * sizeof *elig);
    int k = 0;
    for (int t = 0; t < nt; t++) {
        for (int i = 0; i < nm; i++)
            elig[t * nm + i] = member_subscribes(ms[i], broker_topic_name(ts[t]));
        for (int32_t p = 0; p < broker_topic_partitions(ts[t]); p++, k++) {
            memcpy(parts[k].topic_id, broker_topic_id(ts[t]), 16);
            parts[k].partition = p;
            topic_of[k] = t;
            owner[k] = -1;
        }
    }
    for (int i = 0; i < nm; i++)
        for (int k2 = 0; k2 < total; k2++)
            if (owner[k2] < 0 && elig[topic_of[k2] * nm + i] && pset_has(&prev[i], &parts[k2])) {
                owner[k2] = i;
                count[i]++;
            }
    for (int p = 0; p < total; p++) {
        if (owner[p] >= 0)
            continue;
        int best = -1;
        for (int i = 0; i < nm; i++)
            if (elig[topic_of[p] * nm + i] && (best < 0 || count[i] < count[best]))
                best = i;
        if (best >= 0) {
            owner[p] = best;
            count[best]++;
        }
    }
    for (bool moved = true; moved;) {
        moved = false;
        for (int p = 0; p < total; p++) {
            int a = owner[p];
            if (a < 0)
                continue;
            int best = -1;
            for (int i = 0; i < nm; i++)
                if (elig[topic_of[p] * nm + i] && (best < 0 || count[i] < count[best]))
                    best = i;
            if (best >= 0 && count[a] > count[best] + 1) {
                owner[p] = best;
                count[a]--;
                count[best]++;
                moved = true;
            }
        }
    }
    for (int p = 0; p < total; p++)
        if (owner[p] >= 0)
            pset_add(&ms[owner[p]]->target, &parts[p]);
    free(parts);
    free(topic_of);
    free(owner);
    free(count);
    free(elig);
}

/* Recomputes every member's target for the current group epoch. */
static void compute_target(broker_t *b, broker__cgroup_t *cg)
{
    broker_topic_t **ts;
    int nt = subscribed_topics(b, cg, &ts);
    int64_t total = 0;
    for (int t = 0; t < nt; t++)
        total += broker_topic_partitions(ts[t]);
    if (total > CG_MAX_PARTITIONS) {
        say_warn_every(60,
                       "consumer group: %lld subscribed partitions, only the first %d "
                       "are assigned",
                       (long long)total, CG_MAX_PARTITIONS);
        while (nt > 0 && total > CG_MAX_PARTITIONS)
            total -= broker_topic_partitions(ts[--nt]);
    }
    int nm = cg->n;
    cmember_t **ms = hd_malloc((size_t)(nm ? nm : 1) * sizeof *ms);
    memcpy(ms, cg->members, (size_t)nm * sizeof *ms);
    qsort(ms, (size_t)nm, sizeof *ms, member_order_cmp);
    pset_t *prev = hd_calloc((size_t)(nm ? nm : 1), sizeof *prev);
    for (int i = 0; i < nm; i++) {
        prev[i] = ms[i]->target;
        memset(&ms[i]->target, 0, sizeof ms[i]->target);
    }
    if (cg->assignor && !strcmp(cg->assignor, "range"))
        assign_range(ts, nt, ms, nm);
    else
        assign_uniform(ts, nt, ms, nm, prev);
    for (int i = 0; i < nm; i++) {
        pset_sort(&ms[i]->target);
        pset_free(&prev[i]);
    }
    free(prev);
    free(ms);
    free(ts);
    cg->assignment_epoch = cg->group_epoch;
}

/* ---- reconciliation ---- */

static bool owned_by_other(const broker__cgroup_t *cg, const cmember_t *self,
                           const broker_cg_part_t *p)
{
    for (int i = 0; i < cg->n; i++) {
        const cmember_t *m = cg->members[i];
        if (m != self && (pset_has(&m->assigned, p) || pset_has(&m->revoking, p)))
            return true;
    }
    return false;
}

/* Whether the member still owns any of `set` by its own account (unknown: assume it does). */
static bool owns_any(const pset_t *owned, bool owned_known, const pset_t *set)
{
    if (!owned_known)
        return set->n > 0;
    for (int i = 0; i < set->n; i++)
        if (pset_has(owned, &set->v[i]))
            return true;
    return false;
}

/* One step of the member towards its target (Kafka's CurrentAssignmentBuilder). */
static void reconcile(const broker__cgroup_t *cg, cmember_t *m, const pset_t *owned,
                      bool owned_known, int64_t now)
{
    if (m->state == CG_STABLE && m->epoch == cg->assignment_epoch)
        return;
    if (m->state == CG_UNREVOKED && owns_any(owned, owned_known, &m->revoking))
        return; /* still revoking */
    pset_t keep = {0}, revoke = {0}, add = {0};
    bool unreleased = false;
    for (int i = 0; i < m->assigned.n; i++)
        pset_add(pset_has(&m->target, &m->assigned.v[i]) ? &keep : &revoke, &m->assigned.v[i]);
    for (int i = 0; i < m->target.n; i++) {
        const broker_cg_part_t *p = &m->target.v[i];
        if (pset_has(&m->assigned, p))
            continue;
        if (owned_by_other(cg, m, p))
            unreleased = true;
        else
            pset_add(&add, p);
    }
    if (revoke.n && owns_any(owned, owned_known, &revoke)) {
        /* Revoke first, at the current epoch; nothing new until that is acknowledged. */
        pset_copy(&m->assigned, &keep);
        pset_copy(&m->revoking, &revoke);
        m->state = CG_UNREVOKED;
        m->revoke_deadline = now + (m->rebalance_ms > 0 ? m->rebalance_ms : 300000);
    } else {
        for (int i = 0; i < add.n; i++)
            pset_add(&keep, &add.v[i]);
        pset_sort(&keep);
        pset_copy(&m->assigned, &keep);
        m->revoking.n = 0;
        m->prev_epoch = m->epoch;
        m->epoch = cg->assignment_epoch;
        m->state = unreleased ? CG_UNRELEASED : CG_STABLE;
    }
    pset_free(&keep);
    pset_free(&revoke);
    pset_free(&add);
}

/* ---- ConsumerGroupHeartbeat ---- */

/* Fills an error answer; returns the error (for `return answer_error(...)`). */
static int16_t answer_error(broker_cg_answer_t *out, const broker_cg_heartbeat_t *req, int16_t err,
                            const char *message)
{
    out->error = err;
    out->message = message;
    out->member_id = req->member_id;
    out->member_epoch = req->member_epoch;
    return err;
}

static bool bad_len(const char *s) { return s && strlen(s) > BROKER_GROUP_ID_MAX; }

/* Fills the heartbeat's "owned" set; returns false when the field was null. */
static bool owned_set(const broker_cg_heartbeat_t *req, pset_t *owned)
{
    if (req->nowned < 0)
        return false;
    for (int32_t i = 0; i < req->nowned; i++)
        pset_add(owned, &req->owned[i]);
    pset_sort(owned);
    return true;
}

static bool is_subset(const pset_t *a, const pset_t *b)
{
    for (int i = 0; i < a->n; i++)
        if (!pset_has(b, &a->v[i]))
            return false;
    return true;
}

/* The buffer behind answer.member_id for generated ids. */
static char made_id[23];

/* Returns the answer's error code (0 on success). */
static int16_t heartbeat(broker_t *b, const broker_cg_heartbeat_t *req, broker_cg_answer_t *out,
                         pset_t *owned, broker__topic_regex_t **re)
{
    const hd_config_t *cfg = b->cfg;
    int64_t now = broker__now(b);
    int32_t epoch = req->member_epoch;
    if (!req->group_id || !req->group_id[0] || bad_len(req->group_id))
        return answer_error(out, req, BROKER_GERR_INVALID_GROUP_ID, "GroupId can't be empty.");
    if (!req->member_id || bad_len(req->member_id) || bad_len(req->instance_id) ||
        bad_len(req->rack_id) || bad_len(req->client_id) || bad_len(req->assignor))
        return answer_error(out, req, BROKER_GERR_INVALID_REQUEST, "an id is too long");
    if (req->instance_id && !req->instance_id[0])
        return answer_error(out, req, BROKER_GERR_INVALID_REQUEST, "InstanceId can't be empty.");
    if (req->rack_id && !req->rack_id[0])
        return answer_error(out, req, BROKER_GERR_INVALID_REQUEST, "RackId can't be empty.");
    if (epoch < -2)
        return answer_error(out, req, BROKER_GERR_INVALID_REQUEST, "MemberEpoch is invalid.");
    if (epoch != 0 && !req->member_id[0])
        return answer_error(out, req, BROKER_GERR_INVALID_REQUEST, "MemberId can't be empty.");
    if (epoch == -2 && !req->instance_id)
        return answer_error(out, req, BROKER_GERR_INVALID_REQUEST, "InstanceId can't be null.");
    if (epoch == 0 && req->rebalance_ms == -1)
        return answer_error(out, req, BROKER_GERR_INVALID_REQUEST,
                            "RebalanceTimeoutMs must be provided in first request.");
    if (epoch == 0 && req->nowned != 0)
        return answer_error(out, req, BROKER_GERR_INVALID_REQUEST,
                            "TopicPartitions must be empty when (re-)joining.");
    /* As Kafka: null, not empty, is refused (a Java client subscribed to a Pattern that matches
     * nothing yet joins with an empty list). */
    if (epoch == 0 && req->ntopics < 0 && !req->regex)
        return answer_error(out, req, BROKER_GERR_INVALID_REQUEST,
                            "SubscribedTopicNames or SubscribedTopicRegex must be set in first "
                            "request.");
    if (req->ntopics > CG_MAX_TOPICS)
        return answer_error(out, req, BROKER_GERR_INVALID_REQUEST, "too many subscribed topics");
    if (req->assignor && strcmp(req->assignor, "uniform") && strcmp(req->assignor, "range"))
        return answer_error(out, req, BROKER_GERR_UNSUPPORTED_ASSIGNOR,
                            "the server assignors are \"uniform\" and \"range\"");

    broker_group_t *g = broker__group_get(b, req->group_id, epoch == 0);
    if (!g || (!g->cg && epoch != 0))
        return answer_error(out, req, BROKER_GERR_UNKNOWN_MEMBER_ID, "unknown member");
    if (!g->cg) {
        if (g->nmembers || g->npending || g->state != BROKER__EMPTY)
            return answer_error(out, req, BROKER_GERR_GROUP_ID_NOT_FOUND,
                                "the group is a classic group with members");
        g->cg = hd_calloc(1, sizeof *g->cg);
        free(g->protocol_type);
        g->protocol_type = NULL;
    }
    broker__cgroup_t *cg = g->cg;
    int idx = find_member(cg, req->member_id);

    if (epoch < 0) {
        /* Leaving: -1 for good, -2 as a static member that will be back. */
        if (idx < 0 && req->instance_id)
            idx = find_instance(cg, req->instance_id);
        if (idx < 0)
            return answer_error(out, req, BROKER_GERR_UNKNOWN_MEMBER_ID, "unknown member");
        cmember_t *m = cg->members[idx];
        if (epoch == -2) {
            say_info("group %s: static member %s (%s) left for now", g->id, m->id,
                     req->instance_id);
            m->epoch = -2;
            m->state = CG_STABLE;
            m->revoking.n = 0;
            m->last_seen = now;
        } else {
            say_info("group %s: member %s left (epoch %d)", g->id, m->id, (int)m->epoch);
            remove_member(cg, idx);
            broker__group_maybe_drop(b, g);
        }
        out->member_id = req->member_id;
        out->member_epoch = epoch;
        out->heartbeat_ms = (int32_t)cfg->group_consumer_heartbeat_interval_ms;
        return 0;
    }

    cmember_t *m = idx >= 0 ? cg->members[idx] : NULL;
    bool changed = false;
    if (epoch == 0) {
        int si = req->instance_id ? find_instance(cg, req->instance_id) : -1;
        if (si >= 0 && cg->members[si] != m) {
            cmember_t *old = cg->members[si];
            if (old->epoch != -2)
                return answer_error(out, req, BROKER_GERR_UNRELEASED_INSTANCE_ID,
                                    "the instance id is in use by another member");
            /* The static member is back under a new member id: it takes the old place,
             * partitions included. */
            if (m)
                remove_member(cg, idx);
            m = old;
            if (req->member_id[0]) {
                set_str(&m->id, req->member_id);
            } else {
                new_member_id(made_id);
                set_str(&m->id, made_id);
            }
            m->epoch = m->prev_epoch = 0;
            say_info("group %s: static member %s rejoined as %s", g->id, m->instance_id, m->id);
        } else if (m) {
            /* A rejoin of a known member: it gave up whatever it owned. */
            m->assigned.n = m->revoking.n = 0;
            m->epoch = m->prev_epoch = 0;
            m->state = CG_STABLE;
        } else {
            if (cg->n >= cfg->group_consumer_max_size)
                return answer_error(out, req, BROKER_GERR_GROUP_MAX_SIZE_REACHED,
                                    "the group is full");
            m = hd_calloc(1, sizeof *m);
            if (req->member_id[0]) {
                m->id = hd_strdup(req->member_id);
            } else {
                new_member_id(made_id);
                m->id = hd_strdup(made_id);
            }
            m->rebalance_ms = 300000;
            if (cg->n == cg->cap) {
                cg->cap = cg->cap ? cg->cap * 2 : 8;
                cg->members = hd_realloc(cg->members, (size_t)cg->cap * sizeof *cg->members);
            }
            cg->members[cg->n++] = m;
            changed = true;
            say_info("group %s: member %s joined", g->id, m->id);
        }
    } else {
        if (!m)
            return answer_error(out, req, BROKER_GERR_UNKNOWN_MEMBER_ID, "unknown member");
        if (epoch != m->epoch) {
            bool lost_answer = epoch == m->prev_epoch && req->nowned >= 0 &&
                               is_subset(owned, &m->assigned) && m->epoch > 0;
            if (!lost_answer)
                return answer_error(out, req, BROKER_GERR_FENCED_MEMBER_EPOCH,
                                    "the member epoch is fenced; rejoin with epoch 0");
        }
    }

    m->last_seen = now;
    if (req->instance_id)
        set_str(&m->instance_id, req->instance_id);
    if (req->rack_id)
        set_str(&m->rack_id, req->rack_id);
    if (req->client_id)
        set_str(&m->client_id, req->client_id);
    if (req->client_host)
        set_str(&m->client_host, req->client_host);
    if (req->rebalance_ms > 0)
        m->rebalance_ms = req->rebalance_ms;
    if (req->ntopics >= 0 && member_set_topics(m, req->topics, req->ntopics))
        changed = true;
    if (req->regex) {
        changed |= member_set_regex(m, req->regex, *re);
        *re = NULL;
    }
    if (resolve_regexes(b, cg))
        changed = true;
    if (req->assignor && (!cg->assignor || strcmp(cg->assignor, req->assignor))) {
        set_str(&cg->assignor, req->assignor);
        changed = true;
    }
    if (changed)
        cg->group_epoch++;
    uint64_t h = metadata_hash(b, cg);
    if (h != cg->meta_hash) {
        cg->meta_hash = h;
        if (!changed)
            cg->group_epoch++;
    }
    if (cg->group_epoch > cg->assignment_epoch)
        compute_target(b, cg);

    pset_t before = {0};
    pset_copy(&before, &m->assigned);
    reconcile(cg, m, owned, req->nowned >= 0, now);
    bool full = epoch == 0 || (req->rebalance_ms != -1 && req->ntopics >= 0 && req->nowned >= 0);
    out->member_id = m->id;
    out->member_epoch = m->epoch;
    out->heartbeat_ms = (int32_t)cfg->group_consumer_heartbeat_interval_ms;
    out->has_assignment = full || !pset_equal(&before, &m->assigned);
    out->assigned = m->assigned.v;
    out->nassigned = m->assigned.n;
    pset_free(&before);
    return 0;
}

void broker_cgroup_heartbeat(broker_t *b, const broker_cg_heartbeat_t *req, broker_cg_answer_t *out)
{
    memset(out, 0, sizeof *out);
    pset_t owned = {0};
    if (req->nowned > CG_MAX_PARTITIONS) {
        answer_error(out, req, BROKER_GERR_INVALID_REQUEST, "too many owned partitions");
        return;
    }
    /* The regex is checked before anything else, as Kafka does: a bad one changes nothing. */
    broker__topic_regex_t *re = NULL;
    if (req->regex && req->regex[0]) {
        static char why[400];
        char reason[200];
        if (broker__topic_regex_compile(req->regex, &re, reason, sizeof reason) < 0) {
            snprintf(why, sizeof why,
                     "SubscribedTopicRegex `%.64s%s` is not a valid regular expression: %s.",
                     req->regex, strlen(req->regex) > 64 ? "..." : "", reason);
            answer_error(out, req, BROKER_GERR_INVALID_REGULAR_EXPRESSION, why);
            return;
        }
    }
    owned_set(req, &owned);
    (void)heartbeat(b, req, out, &owned, &re);
    broker__topic_regex_free(re); /* not taken: the heartbeat failed */
    pset_free(&owned);
}

void broker__cgroup_tick(broker_t *b, broker_group_t *g, int64_t now)
{
    broker__cgroup_t *cg = g->cg;
    int64_t session = b->cfg->group_consumer_session_timeout_ms;
    for (int i = cg->n; i-- > 0;) {
        cmember_t *m = cg->members[i];
        if (now - m->last_seen > session) {
            say_info("group %s: member %s session expired after %lld ms; removed", g->id, m->id,
                     (long long)session);
            remove_member(cg, i);
        } else if (m->state == CG_UNREVOKED && now > m->revoke_deadline) {
            say_info("group %s: member %s did not revoke its partitions within %d ms; removed",
                     g->id, m->id, m->rebalance_ms);
            remove_member(cg, i);
        }
    }
}

/* ---- commits, describing ---- */

int16_t broker_cgroup_commit_check(broker_t *b, broker_group_t *g, int32_t member_epoch,
                                   const char *member_id, int16_t api_version)
{
    broker__cgroup_t *cg = g->cg;
    if (member_epoch < 0 && cg->n == 0)
        return BROKER_GERR_NONE; /* admin tools and assign() users, while nobody is a member */
    int idx = find_member(cg, member_id);
    if (idx < 0)
        return BROKER_GERR_UNKNOWN_MEMBER_ID;
    if (api_version < 9)
        return BROKER_GERR_UNSUPPORTED_VERSION;
    cmember_t *m = cg->members[idx];
    if (member_epoch != m->epoch)
        return BROKER_GERR_STALE_MEMBER_EPOCH;
    m->last_seen = broker__now(b);
    return BROKER_GERR_NONE;
}

int16_t broker_cgroup_fetch_check(const broker_group_t *g, const char *member_id,
                                  int32_t member_epoch)
{
    if (member_epoch < 0 && !member_id)
        return BROKER_GERR_NONE;
    int idx = find_member(g->cg, member_id);
    if (idx < 0)
        return BROKER_GERR_UNKNOWN_MEMBER_ID;
    if (member_epoch != g->cg->members[idx]->epoch)
        return BROKER_GERR_STALE_MEMBER_EPOCH;
    return BROKER_GERR_NONE;
}

void broker_cgroup_info(const broker_group_t *g, broker_cg_info_t *out)
{
    const broker__cgroup_t *cg = g->cg;
    out->group_epoch = cg->group_epoch;
    out->assignment_epoch = cg->assignment_epoch;
    out->assignor = assignor_name(cg);
    out->nmembers = cg->n;
}

void broker_cgroup_member(const broker_group_t *g, int i, broker_cg_member_info_t *out)
{
    const cmember_t *m = g->cg->members[i];
    out->member_id = m->id;
    out->instance_id = m->instance_id;
    out->rack_id = m->rack_id;
    out->client_id = m->client_id ? m->client_id : "";
    out->client_host = m->client_host ? m->client_host : "";
    out->member_epoch = m->epoch;
    out->topics = (const char *const *)m->topics;
    out->ntopics = m->ntopics;
    out->regex = m->regex;
    out->assigned = m->assigned.v;
    out->nassigned = m->assigned.n;
    out->target = m->target.v;
    out->ntarget = m->target.n;
}
