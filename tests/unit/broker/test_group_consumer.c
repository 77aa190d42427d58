/* Consumer-protocol (KIP-848) groups: the heartbeat state machine on a fake clock — joins, the
 * uniform and range assignors, reconciliation that revokes before it assigns, epoch fencing,
 * session and revocation timeouts, static members, commits, and the group's type. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "broker/group.h"
#include "log/batch_builder.h"
#include "util/err.h"
#include "util/say.h"

#include <stdio.h>
#include <string.h>

static int64_t fake_now;
static int64_t clock_fn(void) { return fake_now; }

typedef struct fixture {
    bb_dir_t dir;
    hd_config_t cfg;
    broker_t *b;
    uint8_t orders[16]; /* topic id of "orders" (6 partitions) */
} fixture_t;

static void noop_notify(void *ctx) { (void)ctx; }

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    bb_dir_make(&f->dir);
    hd_config_init(&f->cfg);
    free(f->cfg.data_dir);
    f->cfg.data_dir = strdup(f->dir.root);
    f->cfg.preallocate = false;
    f->cfg.group_consumer_session_timeout_ms = 10000;
    f->cfg.group_consumer_heartbeat_interval_ms = 1000;
    say_level = SAY_ERROR;
    fake_now = 1000000;
    assert_int_equal(broker_open(&f->cfg, noop_notify, NULL, &f->b), 0);
    broker_group_set_clock(f->b, clock_fn);
    const char *why = "";
    broker_topic_t *t;
    assert_int_equal(broker_topic_create(f->b, "orders", 6, NULL, 0, false, &t, &why), 0);
    memcpy(f->orders, broker_topic_id(t), 16);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    broker_close(f->b);
    hd_config_deinit(&f->cfg);
    bb_dir_remove(&f->dir);
    free(f);
    return 0;
}

/* One heartbeat's answer, copied: partitions of "orders" as a bit mask. */
typedef struct hb {
    int16_t err;
    int32_t epoch;
    bool has;
    uint32_t mask;
    char id[64];
} hb_t;

#define UNCHANGED (-1)
#define OWNS(m) ((int64_t)(m))

typedef struct hbreq {
    const char *group;
    const char *id;
    int32_t epoch;
    const char *instance;
    const char *topics; /* comma-separated; NULL: unchanged */
    int64_t owned;      /* mask of "orders" partitions; UNCHANGED: null */
    const char *assignor;
    int32_t rebalance_ms;
    int16_t version;
    const char *regex; /* SubscribedTopicRegex; NULL: unchanged */
} hbreq_t;

static hb_t heartbeat(fixture_t *f, hbreq_t q)
{
    broker_cg_heartbeat_t r = {0};
    r.group_id = q.group ? q.group : "g";
    r.member_id = q.id ? q.id : "";
    r.member_epoch = q.epoch;
    r.instance_id = q.instance;
    r.rebalance_ms = q.rebalance_ms ? q.rebalance_ms : (q.epoch == 0 ? 30000 : -1);
    r.assignor = q.assignor;
    r.regex = q.regex;
    r.client_id = "c";
    r.client_host = "/127.0.0.1";
    char buf[256];
    const char *topics[16];
    r.ntopics = -1;
    if (q.topics) {
        snprintf(buf, sizeof buf, "%s", q.topics);
        r.ntopics = 0;
        for (char *s = strtok(buf, ","); s; s = strtok(NULL, ","))
            topics[r.ntopics++] = s;
        r.topics = topics;
    }
    broker_cg_part_t owned[32];
    r.nowned = -1;
    if (q.owned != UNCHANGED) {
        r.nowned = 0;
        for (int p = 0; p < 32; p++)
            if (q.owned & (1LL << p)) {
                memcpy(owned[r.nowned].topic_id, f->orders, 16);
                owned[r.nowned++].partition = p;
            }
        r.owned = owned;
    }
    broker_cg_answer_t a;
    broker_cgroup_heartbeat(f->b, &r, &a);
    hb_t out = {.err = a.error, .epoch = a.member_epoch, .has = a.has_assignment};
    snprintf(out.id, sizeof out.id, "%s", a.member_id ? a.member_id : "");
    for (int i = 0; !a.error && i < a.nassigned; i++)
        if (!memcmp(a.assigned[i].topic_id, f->orders, 16))
            out.mask |= 1u << a.assigned[i].partition;
    return out;
}

static hb_t join(fixture_t *f, const char *id)
{
    return heartbeat(f, (hbreq_t){.id = id, .epoch = 0, .topics = "orders", .owned = 0});
}

/* A heartbeat that reports owning exactly what the member was last given. */
static hb_t beat(fixture_t *f, const char *id, int32_t epoch, uint32_t owned)
{
    return heartbeat(f, (hbreq_t){.id = id, .epoch = epoch, .owned = OWNS(owned)});
}

static int popcount(uint32_t x) { return __builtin_popcount(x); }

static void test_first_member_gets_everything(void **state)
{
    fixture_t *f = *state;
    hb_t a = join(f, "m1");
    assert_int_equal(a.err, 0);
    assert_string_equal(a.id, "m1");
    assert_int_equal(a.epoch, 1);
    assert_true(a.has);
    assert_int_equal(a.mask, 0x3f);
    /* Nothing changed: the next heartbeat carries no assignment. */
    a = beat(f, "m1", 1, 0x3f);
    assert_int_equal(a.err, 0);
    assert_int_equal(a.epoch, 1);
    assert_false(heartbeat(f, (hbreq_t){.id = "m1", .epoch = 1, .owned = UNCHANGED}).has);
    broker_group_t *g = broker_group_find(f->b, "g");
    assert_true(broker_group_is_consumer(g));
    assert_string_equal(broker_group_type(g), "consumer");
    assert_string_equal(broker_group_state(g), "Stable");
}

static void test_v0_join_without_member_id_gets_one(void **state)
{
    fixture_t *f = *state;
    hb_t a = join(f, "");
    assert_int_equal(a.err, 0);
    assert_int_equal(strlen(a.id), 22);
    assert_int_equal(beat(f, a.id, 1, 0x3f).err, 0);
}

/* The heart of KIP-848: a partition moves only after its owner stopped owning it. */
static void test_second_member_waits_for_revocation(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(join(f, "m1").mask, 0x3f);
    hb_t b = join(f, "m2");
    assert_int_equal(b.err, 0);
    assert_int_equal(b.epoch, 2);
    assert_int_equal(b.mask, 0); /* its partitions are still m1's */
    assert_string_equal(broker_group_state(broker_group_find(f->b, "g")), "Reconciling");

    /* m1 is asked to give up three partitions and stays at epoch 1 until it does. */
    hb_t a = beat(f, "m1", 1, 0x3f);
    assert_int_equal(a.epoch, 1);
    assert_true(a.has);
    assert_int_equal(popcount(a.mask), 3);
    uint32_t keep = a.mask;
    assert_int_equal(beat(f, "m2", 2, 0).mask, 0);
    a = beat(f, "m1", 1, 0x3f); /* still owns them: nothing changes */
    assert_int_equal(a.epoch, 1);
    assert_int_equal(beat(f, "m2", 2, 0).mask, 0);

    /* Revoked: m1 moves to epoch 2, and m2 gets the rest on its next heartbeat. */
    a = beat(f, "m1", 1, keep);
    assert_int_equal(a.err, 0);
    assert_int_equal(a.epoch, 2);
    assert_int_equal(a.mask, keep);
    b = beat(f, "m2", 2, 0);
    assert_int_equal(b.epoch, 2);
    assert_true(b.has);
    assert_int_equal(b.mask, 0x3f & ~keep);
    assert_string_equal(broker_group_state(broker_group_find(f->b, "g")), "Stable");

    broker_cg_info_t info;
    broker_cgroup_info(broker_group_find(f->b, "g"), &info);
    assert_int_equal(info.group_epoch, 2);
    assert_int_equal(info.assignment_epoch, 2);
    assert_string_equal(info.assignor, "uniform");
    assert_int_equal(info.nmembers, 2);
}

/* Brings m1 and m2 to a stable 3/3 split; returns m1's partitions. */
static uint32_t two_stable(fixture_t *f)
{
    join(f, "m1");
    join(f, "m2");
    uint32_t keep = beat(f, "m1", 1, 0x3f).mask;
    assert_int_equal(beat(f, "m1", 1, keep).epoch, 2);
    assert_int_equal(beat(f, "m2", 2, 0).mask, 0x3f & ~keep);
    return keep;
}

static void test_uniform_assignor_is_sticky(void **state)
{
    fixture_t *f = *state;
    uint32_t m1 = two_stable(f);
    uint32_t m2 = 0x3f & ~m1;
    hb_t c = join(f, "m3");
    assert_int_equal(c.epoch, 3);
    hb_t a = beat(f, "m1", 2, m1);
    hb_t b = beat(f, "m2", 2, m2);
    /* Each old member gives up exactly one partition and keeps the other two. */
    assert_int_equal(popcount(a.mask), 2);
    assert_int_equal(popcount(b.mask), 2);
    assert_int_equal(a.mask & ~m1, 0);
    assert_int_equal(b.mask & ~m2, 0);
    beat(f, "m1", 2, a.mask);
    beat(f, "m2", 2, b.mask);
    c = beat(f, "m3", 3, 0);
    assert_int_equal(c.mask, 0x3f & ~(a.mask | b.mask));
    assert_int_equal(popcount(c.mask), 2);
}

static void test_epoch_fencing(void **state)
{
    fixture_t *f = *state;
    two_stable(f);
    assert_int_equal(beat(f, "m2", 7, 0).err, BROKER_GERR_FENCED_MEMBER_EPOCH);
    assert_int_equal(beat(f, "m2", 1, 0).err, BROKER_GERR_FENCED_MEMBER_EPOCH);
    assert_int_equal(beat(f, "nobody", 2, 0).err, BROKER_GERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(heartbeat(f, (hbreq_t){.group = "none", .id = "x", .epoch = 3}).err,
                     BROKER_GERR_UNKNOWN_MEMBER_ID);
    /* m1 moved 1 -> 2 while revoking; a retry at epoch 1 that owns a subset of its partitions
     * is the same member whose answer was lost: accepted, answered with epoch 2. */
    hb_t a = heartbeat(f, (hbreq_t){.id = "m1", .epoch = 1, .owned = 0});
    assert_int_equal(a.err, 0);
    assert_int_equal(a.epoch, 2);
    /* ... but not without saying what it owns. */
    assert_int_equal(heartbeat(f, (hbreq_t){.id = "m1", .epoch = 1, .owned = UNCHANGED}).err,
                     BROKER_GERR_FENCED_MEMBER_EPOCH);
}

static void test_invalid_requests(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(heartbeat(f, (hbreq_t){.group = "", .id = "m", .topics = "orders"}).err,
                     BROKER_GERR_INVALID_GROUP_ID);
    assert_int_equal(heartbeat(f, (hbreq_t){.id = "m", .owned = 0}).err,
                     BROKER_GERR_INVALID_REQUEST); /* no topics on join */
    assert_int_equal(heartbeat(f, (hbreq_t){.id = "m", .topics = "orders", .owned = 0x1}).err,
                     BROKER_GERR_INVALID_REQUEST); /* owning partitions on join */
    assert_int_equal(heartbeat(f, (hbreq_t){.id = "m", .epoch = -2}).err,
                     BROKER_GERR_INVALID_REQUEST); /* -2 without an instance id */
    assert_int_equal(heartbeat(f, (hbreq_t){.id = "m", .epoch = -3}).err,
                     BROKER_GERR_INVALID_REQUEST);
    assert_int_equal(
        heartbeat(f, (hbreq_t){.id = "m", .topics = "orders", .owned = 0, .assignor = "magic"}).err,
        BROKER_GERR_UNSUPPORTED_ASSIGNOR);
    assert_null(broker_group_find(f->b, "g"));
}

static void test_leave_moves_partitions(void **state)
{
    fixture_t *f = *state;
    uint32_t m1 = two_stable(f);
    hb_t a = heartbeat(f, (hbreq_t){.id = "m1", .epoch = -1});
    assert_int_equal(a.err, 0);
    assert_int_equal(a.epoch, -1);
    hb_t b = beat(f, "m2", 2, 0x3f & ~m1);
    assert_int_equal(b.epoch, 3);
    assert_int_equal(b.mask, 0x3f);
    assert_int_equal(heartbeat(f, (hbreq_t){.id = "m2", .epoch = -1}).err, 0);
    broker_group_t *g = broker_group_find(f->b, "g");
    assert_null(g); /* no members and no offsets: gone */
}

static void test_session_expiry_moves_partitions(void **state)
{
    fixture_t *f = *state;
    uint32_t m1 = two_stable(f);
    /* m2 keeps heartbeating, m1 goes silent. */
    for (int i = 0; i < 12; i++) {
        fake_now += 1000;
        broker_group_tick(f->b);
        beat(f, "m2", 2, 0x3f & ~m1);
    }
    hb_t b = beat(f, "m2", 2, 0x3f & ~m1);
    assert_int_equal(b.epoch, 3);
    assert_int_equal(b.mask, 0x3f);
    assert_int_equal(beat(f, "m1", 2, m1).err, BROKER_GERR_UNKNOWN_MEMBER_ID);
}

static void test_member_that_does_not_revoke_is_removed(void **state)
{
    fixture_t *f = *state;
    heartbeat(f, (hbreq_t){.id = "m1", .topics = "orders", .owned = 0, .rebalance_ms = 5000});
    join(f, "m2");
    hb_t a = beat(f, "m1", 1, 0x3f);
    assert_int_equal(popcount(a.mask), 3);
    /* m1 keeps heartbeating but never lets go; after its rebalance timeout it is removed. */
    for (int i = 0; i < 6; i++) {
        fake_now += 1000;
        broker_group_tick(f->b);
        beat(f, "m2", 2, 0);
        if (i < 4)
            assert_int_equal(beat(f, "m1", 1, 0x3f).err, 0);
    }
    assert_int_equal(beat(f, "m1", 1, 0x3f).err, BROKER_GERR_UNKNOWN_MEMBER_ID);
    hb_t b = beat(f, "m2", 2, 0);
    assert_int_equal(b.mask, 0x3f);
}

static void test_static_member_rejoins_with_its_partitions(void **state)
{
    fixture_t *f = *state;
    heartbeat(f, (hbreq_t){.id = "s1", .instance = "i1", .topics = "orders", .owned = 0});
    join(f, "m2");
    uint32_t keep = beat(f, "s1", 1, 0x3f).mask;
    beat(f, "s1", 1, keep);
    assert_int_equal(beat(f, "m2", 2, 0).mask, 0x3f & ~keep);

    /* s1 leaves "for now": nothing moves, the instance id stays taken. */
    hb_t s = heartbeat(f, (hbreq_t){.id = "s1", .epoch = -2, .instance = "i1"});
    assert_int_equal(s.err, 0);
    assert_int_equal(s.epoch, -2);
    assert_int_equal(beat(f, "m2", 2, 0x3f & ~keep).mask, 0x3f & ~keep);
    broker_cg_info_t info;
    broker_cgroup_info(broker_group_find(f->b, "g"), &info);
    assert_int_equal(info.group_epoch, 2);

    /* Back under a new member id: the old place and partitions, no rebalance. */
    s = heartbeat(f, (hbreq_t){.id = "s1b", .instance = "i1", .topics = "orders", .owned = 0});
    assert_int_equal(s.err, 0);
    assert_int_equal(s.epoch, 2);
    assert_int_equal(s.mask, keep);
    /* A second process with the same instance id while it is active is refused. */
    s = heartbeat(f, (hbreq_t){.id = "s1c", .instance = "i1", .topics = "orders", .owned = 0});
    assert_int_equal(s.err, BROKER_GERR_UNRELEASED_INSTANCE_ID);
    assert_int_equal(beat(f, "s1", 2, keep).err, BROKER_GERR_UNKNOWN_MEMBER_ID);
}

static void test_static_member_gone_for_good_after_session(void **state)
{
    fixture_t *f = *state;
    heartbeat(f, (hbreq_t){.id = "s1", .instance = "i1", .topics = "orders", .owned = 0});
    heartbeat(f, (hbreq_t){.id = "s1", .epoch = -2, .instance = "i1"});
    join(f, "m2");
    assert_int_equal(beat(f, "m2", 2, 0).mask, 0); /* s1 still holds everything */
    for (int i = 0; i < 12; i++) {
        fake_now += 1000;
        broker_group_tick(f->b);
        beat(f, "m2", 2, 0);
    }
    assert_int_equal(beat(f, "m2", 3, 0).mask, 0x3f);
}

static void test_range_assignor(void **state)
{
    fixture_t *f = *state;
    heartbeat(f, (hbreq_t){.id = "a", .topics = "orders", .owned = 0, .assignor = "range"});
    heartbeat(f, (hbreq_t){.id = "b", .topics = "orders", .owned = 0, .assignor = "range"});
    uint32_t keep = beat(f, "a", 1, 0x3f).mask;
    assert_int_equal(keep, 0x07); /* member "a" (first by id) gets partitions 0-2 */
    beat(f, "a", 1, keep);
    assert_int_equal(beat(f, "b", 2, 0).mask, 0x38);
    broker_cg_info_t info;
    broker_cgroup_info(broker_group_find(f->b, "g"), &info);
    assert_string_equal(info.assignor, "range");
}

static void test_new_partitions_are_assigned(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(join(f, "m1").mask, 0x3f);
    const char *why = "";
    assert_int_equal(
        broker_topic_add_partitions(f->b, broker_topic_find(f->b, "orders"), 8, false, &why), 0);
    hb_t a = beat(f, "m1", 1, 0x3f);
    assert_int_equal(a.epoch, 2);
    assert_int_equal(a.mask, 0xff);
}

static void test_unsubscribed_topic_is_revoked(void **state)
{
    fixture_t *f = *state;
    const char *why = "";
    broker_topic_t *t;
    assert_int_equal(broker_topic_create(f->b, "other", 2, NULL, 0, false, &t, &why), 0);
    assert_int_equal(join(f, "m1").mask, 0x3f);
    hb_t a = heartbeat(f, (hbreq_t){.id = "m1", .epoch = 1, .topics = "other", .owned = 0x3f});
    assert_int_equal(a.epoch, 1); /* revoke "orders" first */
    assert_int_equal(a.mask, 0);
    a = heartbeat(f, (hbreq_t){.id = "m1", .epoch = 1, .owned = 0});
    assert_int_equal(a.epoch, 2);
    broker_cg_member_info_t mi;
    broker_cgroup_member(broker_group_find(f->b, "g"), 0, &mi);
    assert_int_equal(mi.nassigned, 2);
    assert_memory_equal(mi.assigned[0].topic_id, broker_topic_id(t), 16);
    assert_int_equal(mi.ntopics, 1);
    assert_string_equal(mi.topics[0], "other");
}

static void test_commit_checks_member_epoch(void **state)
{
    fixture_t *f = *state;
    two_stable(f);
    broker_group_t *g = broker_group_find(f->b, "g");
    assert_int_equal(broker_cgroup_commit_check(f->b, g, 2, "m1", 9), 0);
    assert_int_equal(broker_cgroup_commit_check(f->b, g, 1, "m1", 9),
                     BROKER_GERR_STALE_MEMBER_EPOCH);
    assert_int_equal(broker_cgroup_commit_check(f->b, g, 2, "m1", 8),
                     BROKER_GERR_UNSUPPORTED_VERSION);
    assert_int_equal(broker_cgroup_commit_check(f->b, g, 2, "zz", 9),
                     BROKER_GERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(broker_cgroup_commit_check(f->b, g, -1, "", 9),
                     BROKER_GERR_UNKNOWN_MEMBER_ID); /* members present */
    /* With a committed offset the group outlives its members, as a consumer group: then anyone
     * may commit, as admin tools do. */
    int64_t at;
    broker_offset_commit_t c = {.topic = "orders", .partition = 0, .offset = 5, .metadata = ""};
    assert_int_equal(broker_offsets_commit(f->b, "g", &c, 1, &at), 0);
    assert_int_equal(broker_cgroup_fetch_check(g, "m1", 2), 0);
    assert_int_equal(broker_cgroup_fetch_check(g, "m1", 1), BROKER_GERR_STALE_MEMBER_EPOCH);
    assert_int_equal(broker_cgroup_fetch_check(g, "zz", 2), BROKER_GERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(broker_cgroup_fetch_check(g, NULL, -1), 0);
    heartbeat(f, (hbreq_t){.id = "m1", .epoch = -1});
    heartbeat(f, (hbreq_t){.id = "m2", .epoch = -1});
    g = broker_group_find(f->b, "g");
    assert_non_null(g);
    assert_true(broker_group_is_consumer(g));
    assert_int_equal(broker_cgroup_commit_check(f->b, g, -1, "", 9), 0);
    assert_string_equal(broker_group_state(g), "Empty");
}

static void test_classic_group_with_offsets_becomes_consumer_group(void **state)
{
    fixture_t *f = *state;
    int64_t at;
    broker_offset_commit_t c = {.topic = "orders", .partition = 1, .offset = 9, .metadata = "x"};
    assert_int_equal(broker_offsets_commit(f->b, "g", &c, 1, &at), 0);
    broker_group_t *g = broker_group_find(f->b, "g");
    assert_string_equal(broker_group_type(g), "classic");
    assert_int_equal(join(f, "m1").err, 0);
    assert_string_equal(broker_group_type(g), "consumer");
    assert_string_equal(broker_group_protocol_type(g), "consumer");
    broker_offset_t o;
    assert_true(broker_offsets_get(f->b, "g", "orders", 1, &o));
    assert_int_equal(o.offset, 9);
    /* Not deletable while it has members; OffsetDelete sees the subscription. */
    assert_int_equal(broker_group_delete(f->b, "g", &at), BROKER_GERR_NON_EMPTY_GROUP);
    assert_int_equal(broker_offsets_delete(f->b, "g", "orders", 1, &at),
                     BROKER_GERR_GROUP_SUBSCRIBED_TO_TOPIC);
    heartbeat(f, (hbreq_t){.id = "m1", .epoch = -1});
    assert_int_equal(broker_group_delete(f->b, "g", &at), 0);
    assert_null(broker_group_find(f->b, "g"));
}

/* SubscribedTopicRegex: whole-name matches only, evaluated again when a topic appears (the group
 * epoch moves and the member gets the new partitions), refused with INVALID_REGULAR_EXPRESSION
 * when it does not compile or uses what RE2/J does not have. */
static void test_regex_subscription_follows_new_topics(void **state)
{
    fixture_t *f = *state;
    const char *why = "";
    broker_topic_t *t;
    assert_int_equal(broker_topic_create(f->b, "ord", 1, NULL, 0, false, &t, &why), 0);
    assert_int_equal(broker_topic_create(f->b, "xorders", 1, NULL, 0, false, &t, &why), 0);
    static const char *const bad[] = {"ord(",       "(a)\\1",     "(?=o).*", "(?<!x)orders",
                                      "(?>o)rders", "(*ACCEPT)o", "(?R)?"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hb_t r = heartbeat(f, (hbreq_t){.id = "m", .epoch = 0, .regex = bad[i], .owned = 0});
        assert_int_equal(r.err, BROKER_GERR_INVALID_REGULAR_EXPRESSION);
    }
    assert_int_equal(broker_group_count(f->b), 0); /* a refused join makes nothing */

    hb_t a = heartbeat(f, (hbreq_t){.id = "m", .epoch = 0, .regex = "ord[a-z]*", .owned = 0});
    assert_int_equal(a.err, 0);
    assert_int_equal(a.mask, 0x3f); /* "orders"; "ord" has no partition of orders; not xorders */
    broker_cg_info_t info;
    broker_group_t *g = broker_group_find(f->b, "g");
    broker_cgroup_info(g, &info);
    int32_t epoch = info.group_epoch;
    broker_cg_member_info_t mi;
    broker_cgroup_member(g, 0, &mi);
    assert_string_equal(mi.regex, "ord[a-z]*");
    assert_int_equal(mi.ntopics, 0);
    assert_int_equal(mi.ntarget, 7); /* orders 0-5 and ord 0 */

    /* A matching topic created later is assigned on the next heartbeat. */
    assert_int_equal(broker_topic_create(f->b, "ordnew", 2, NULL, 0, false, &t, &why), 0);
    hb_t b = beat(f, "m", a.epoch, a.mask);
    assert_int_equal(b.err, 0);
    broker_cgroup_info(g, &info);
    assert_true(info.group_epoch > epoch);
    broker_cgroup_member(g, 0, &mi);
    assert_int_equal(mi.ntarget, 9);
    /* A topic that does not match changes nothing. */
    epoch = info.group_epoch;
    assert_int_equal(broker_topic_create(f->b, "other", 2, NULL, 0, false, &t, &why), 0);
    assert_int_equal(beat(f, "m", b.epoch, b.mask).err, 0);
    broker_cgroup_info(g, &info);
    assert_int_equal(info.group_epoch, epoch);
    /* The regex is dropped with "": nothing is left. */
    hb_t c = heartbeat(f, (hbreq_t){.id = "m", .epoch = b.epoch, .regex = "", .owned = 0});
    assert_int_equal(c.err, 0);
    broker_cgroup_member(g, 0, &mi);
    assert_null(mi.regex);
    assert_int_equal(mi.ntarget, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_regex_subscription_follows_new_topics, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_first_member_gets_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v0_join_without_member_id_gets_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_member_waits_for_revocation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uniform_assignor_is_sticky, setup, teardown),
        cmocka_unit_test_setup_teardown(test_epoch_fencing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leave_moves_partitions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_expiry_moves_partitions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_member_that_does_not_revoke_is_removed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_static_member_rejoins_with_its_partitions, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_static_member_gone_for_good_after_session, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_range_assignor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_partitions_are_assigned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsubscribed_topic_is_revoked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_checks_member_epoch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_classic_group_with_offsets_becomes_consumer_group,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
