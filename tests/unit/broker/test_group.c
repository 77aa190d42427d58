/* Consumer groups: the coordinator's state machine (joins, syncs, heartbeats, leaves, expiry,
 * static members, errors) on a fake clock, and the committed-offsets store (replay after
 * reopen, a torn tail, deletes, compaction). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "broker/broker_int.h"
#include "broker/group.h"
#include "log/batch_builder.h"
#include "util/err.h"
#include "util/say.h"

#include <dirent.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The syncs of the broker's flusher thread wait while hold_syncs is set (these definitions take
 * the place of the C library's in this program), so that a test can look at the moment between
 * an append and its durability: otherwise a fast sync on the flusher thread races the
 * assertion that an answer still waits. */
static atomic_bool hold_syncs;
static void wait_for_syncs(void)
{
    while (atomic_load(&hold_syncs))
        usleep(200);
}
int fdatasync(int fd);
int fsync(int fd);
int syncfs(int fd);
int fdatasync(int fd)
{
    wait_for_syncs();
    return (int)syscall(SYS_fdatasync, fd);
}
int fsync(int fd)
{
    wait_for_syncs();
    return (int)syscall(SYS_fsync, fd);
}
int syncfs(int fd)
{
    wait_for_syncs();
    return (int)syscall(SYS_syncfs, fd);
}

static int64_t fake_now;
static int64_t clock_fn(void) { return fake_now; }

#define WALL0 1700000000000LL
static int64_t fake_wall;
static int64_t wall_fn(void) { return fake_wall; }

typedef struct fixture {
    bb_dir_t dir;
    hd_config_t cfg;
    broker_t *b;
} fixture_t;

static void noop_notify(void *ctx) { (void)ctx; }

static void open_broker(fixture_t *f)
{
    assert_int_equal(broker_open(&f->cfg, noop_notify, NULL, &f->b), 0);
    broker_group_set_clock(f->b, clock_fn);
    broker_offsets_set_wall_clock(f->b, wall_fn);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    bb_dir_make(&f->dir);
    hd_config_init(&f->cfg);
    free(f->cfg.data_dir);
    f->cfg.data_dir = strdup(f->dir.root);
    f->cfg.preallocate = false;
    f->cfg.group_initial_rebalance_delay_ms = 100;
    say_level = SAY_ERROR;
    fake_now = 1000000;
    fake_wall = WALL0;
    open_broker(f);
    const char *why = "";
    broker_topic_t *t;
    assert_int_equal(broker_topic_create(f->b, "orders", 6, NULL, 0, false, &t, &why), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    atomic_store(&hold_syncs, false); /* a failed test may have left them held */
    broker_close(f->b);
    hd_config_deinit(&f->cfg);
    bb_dir_remove(&f->dir);
    free(f);
    return 0;
}

static void reopen(fixture_t *f)
{
    broker_close(f->b);
    open_broker(f);
}

/* ---- join/sync helpers ---- */

typedef struct joined {
    broker_join_waiter_t w;
    bool got;
    int16_t error;
    int32_t generation;
    char member_id[256];
    char leader[256];
    char protocol[64];
    int nmembers;
} joined_t;

static void on_join(broker_join_waiter_t *w, const broker_join_res_t *res)
{
    joined_t *j = w->ctx;
    j->got = true;
    j->error = res->error;
    j->generation = res->generation;
    snprintf(j->member_id, sizeof j->member_id, "%s", res->member_id);
    snprintf(j->leader, sizeof j->leader, "%s", res->leader);
    snprintf(j->protocol, sizeof j->protocol, "%s", res->protocol ? res->protocol : "");
    j->nmembers = res->nmembers;
}

static void join_as(fixture_t *f, joined_t *j, const char *member_id, const char *instance, bool v4,
                    const char *proto)
{
    memset(j, 0, sizeof *j);
    broker_protocol_t p[2] = {{proto, hd_slice("meta", 4)}, {"range", hd_slice("m2", 2)}};
    broker_join_req_t req = {.group_id = "g",
                             .member_id = member_id,
                             .instance_id = instance,
                             .client_id = "cli",
                             .client_host = "/127.0.0.1",
                             .protocol_type = "consumer",
                             .session_ms = 10000,
                             .rebalance_ms = 20000,
                             .member_id_required = v4,
                             .protocols = p,
                             .nprotocols = 2};
    j->w.cb = on_join;
    j->w.ctx = j;
    broker_group_join(f->b, &req, &j->w);
}

typedef struct synced {
    broker_sync_waiter_t w;
    bool got;
    int16_t error;
    char assignment[64];
} synced_t;

static void on_sync(broker_sync_waiter_t *w, int16_t err, const char *pt, const char *p,
                    hd_slice_t a)
{
    (void)pt;
    (void)p;
    synced_t *s = w->ctx;
    s->got = true;
    s->error = err;
    snprintf(s->assignment, sizeof s->assignment, "%.*s", (int)a.len, (const char *)a.p);
}

static void sync_as(fixture_t *f, synced_t *s, const joined_t *j, const broker_assignment_t *as,
                    int n)
{
    memset(s, 0, sizeof *s);
    s->w.cb = on_sync;
    s->w.ctx = s;
    broker_group_sync(f->b, "g", j->generation, j->member_id, NULL, as, n, &s->w);
}

static void advance(fixture_t *f, int64_t ms)
{
    fake_now += ms;
    broker_group_tick(f->b);
}

/* Lets the flusher make appends durable until *flag is set (at most 5 s). */
static void until_durable(fixture_t *f, const bool *flag)
{
    for (int i = 0; i < 5000 && !*flag; i++) {
        usleep(1000);
        broker_on_durable(f->b);
    }
}

/* Two members joined and synced: a is the leader. */
static void make_stable(fixture_t *f, joined_t *a, joined_t *b)
{
    join_as(f, a, "", NULL, false, "roundrobin");
    join_as(f, b, "", NULL, false, "roundrobin");
    assert_false(a->got);
    assert_false(b->got);
    advance(f, 150); /* the initial rebalance delay */
    assert_true(a->got && b->got);
    assert_int_equal(a->error, 0);
    assert_int_equal(a->generation, 1);
    assert_string_equal(a->leader, a->member_id);
    assert_int_equal(a->nmembers, 2);
    assert_int_equal(b->nmembers, 0);
    assert_string_equal(a->protocol, "roundrobin");
    synced_t sa, sb;
    sync_as(f, &sb, b, NULL, 0);
    assert_false(sb.got);
    broker_assignment_t as[2] = {{a->member_id, hd_slice("A", 1)},
                                 {b->member_id, hd_slice("B", 1)}};
    atomic_store(&hold_syncs, true);
    sync_as(f, &sa, a, as, 2);
    /* The answers wait for the group record to be durable, as Kafka's: the flusher had time
     * enough to sync it, were its syncs not held. */
    usleep(20000);
    broker_on_durable(f->b);
    assert_false(sa.got || sb.got);
    atomic_store(&hold_syncs, false);
    until_durable(f, &sa.got);
    assert_true(sa.got && sb.got);
    assert_string_equal(sa.assignment, "A");
    assert_string_equal(sb.assignment, "B");
    assert_string_equal(broker_group_state(broker_group_find(f->b, "g")), "Stable");
}

static void test_two_members_join_sync_and_heartbeat(void **state)
{
    fixture_t *f = *state;
    joined_t a, b;
    make_stable(f, &a, &b);
    assert_int_equal(broker_group_heartbeat(f->b, "g", 1, a.member_id, NULL), 0);
    assert_int_equal(broker_group_heartbeat(f->b, "g", 0, a.member_id, NULL),
                     BROKER_GERR_ILLEGAL_GENERATION);
    assert_int_equal(broker_group_heartbeat(f->b, "g", 1, "nobody", NULL),
                     BROKER_GERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(broker_group_heartbeat(f->b, "nogroup", 1, "x", NULL),
                     BROKER_GERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(broker_group_heartbeat(f->b, "", 1, "x", NULL), BROKER_GERR_INVALID_GROUP_ID);
}

static void test_leave_rebalances_the_rest(void **state)
{
    fixture_t *f = *state;
    joined_t a, b;
    make_stable(f, &a, &b);
    assert_int_equal(broker_group_leave(f->b, "g", b.member_id, NULL), 0);
    assert_int_equal(broker_group_heartbeat(f->b, "g", 1, a.member_id, NULL),
                     BROKER_GERR_REBALANCE_IN_PROGRESS);
    joined_t a2;
    join_as(f, &a2, a.member_id, NULL, false, "roundrobin");
    assert_true(a2.got); /* the only member rejoined: the phase ends at once */
    assert_int_equal(a2.generation, 2);
    assert_int_equal(a2.nmembers, 1);
    assert_int_equal(broker_group_leave(f->b, "g", b.member_id, NULL),
                     BROKER_GERR_UNKNOWN_MEMBER_ID);
}

static void test_expired_session_removes_member(void **state)
{
    fixture_t *f = *state;
    joined_t a, b;
    make_stable(f, &a, &b);
    for (int i = 0; i < 12; i++) {
        advance(f, 1000);
        broker_group_heartbeat(f->b, "g", 1, a.member_id, NULL);
    }
    /* b was silent for 12 s > its 10 s session. */
    assert_int_equal(broker_group_heartbeat(f->b, "g", 1, a.member_id, NULL),
                     BROKER_GERR_REBALANCE_IN_PROGRESS);
    joined_t a2;
    join_as(f, &a2, a.member_id, NULL, false, "roundrobin");
    assert_true(a2.got);
    assert_int_equal(a2.nmembers, 1);
    assert_int_equal(broker_group_member_count(broker_group_find(f->b, "g")), 1);
}

static void test_member_that_does_not_rejoin_is_dropped_at_the_deadline(void **state)
{
    fixture_t *f = *state;
    joined_t a, b, c;
    make_stable(f, &a, &b);
    join_as(f, &c, "", NULL, false, "roundrobin"); /* a new member starts a rebalance */
    joined_t a2;
    join_as(f, &a2, a.member_id, NULL, false, "roundrobin");
    assert_false(a2.got);
    /* b keeps heartbeating (27) but never rejoins: the rebalance timeout (20 s) ends it. */
    for (int i = 0; i < 21; i++) {
        advance(f, 1000);
        if (!a2.got)
            assert_int_equal(broker_group_heartbeat(f->b, "g", 1, b.member_id, NULL),
                             BROKER_GERR_REBALANCE_IN_PROGRESS);
    }
    assert_true(a2.got && c.got);
    assert_int_equal(a2.generation, 2);
    assert_int_equal(a2.nmembers + c.nmembers, 2);
}

static void test_member_id_required_and_pending_ids_do_not_stall(void **state)
{
    fixture_t *f = *state;
    joined_t p1, p2, j;
    join_as(f, &p1, "", NULL, true, "range");
    assert_true(p1.got);
    assert_int_equal(p1.error, BROKER_GERR_MEMBER_ID_REQUIRED);
    assert_true(strncmp(p1.member_id, "cli-", 4) == 0);
    join_as(f, &p2, "", NULL, true, "range"); /* never comes back */
    assert_int_equal(p2.error, BROKER_GERR_MEMBER_ID_REQUIRED);
    join_as(f, &j, p1.member_id, NULL, true, "range");
    assert_false(j.got);
    advance(f, 150);
    assert_true(j.got);
    assert_int_equal(j.error, 0);
    assert_int_equal(j.nmembers, 1);
    for (int i = 0; i < 11; i++) { /* the pending id expires; the group keeps its member */
        advance(f, 1000);
        assert_int_equal(broker_group_heartbeat(f->b, "g", j.generation, j.member_id, NULL), 0);
    }
    assert_int_equal(broker_group_member_count(broker_group_find(f->b, "g")), 1);
}

static void test_join_errors(void **state)
{
    fixture_t *f = *state;
    joined_t j;
    broker_protocol_t p = {"range", hd_slice("m", 1)};
    broker_join_req_t req = {.group_id = "g",
                             .member_id = "",
                             .client_id = "c",
                             .protocol_type = "consumer",
                             .session_ms = 1000,
                             .rebalance_ms = 1000,
                             .protocols = &p,
                             .nprotocols = 1};
    j.w.cb = on_join;
    j.w.ctx = &j;
    broker_group_join(f->b, &req, &j.w);
    assert_int_equal(j.error, BROKER_GERR_INVALID_SESSION_TIMEOUT);
    req.session_ms = 6000;
    req.group_id = "";
    broker_group_join(f->b, &req, &j.w);
    assert_int_equal(j.error, BROKER_GERR_INVALID_GROUP_ID);
    req.group_id = "g";
    req.nprotocols = 0;
    broker_group_join(f->b, &req, &j.w);
    assert_int_equal(j.error, BROKER_GERR_INCONSISTENT_GROUP_PROTOCOL);
    req.nprotocols = 1;
    req.member_id = "stranger";
    broker_group_join(f->b, &req, &j.w);
    assert_int_equal(j.error, BROKER_GERR_UNKNOWN_MEMBER_ID);
    /* A member whose protocols share nothing with the group's. */
    joined_t a, b;
    make_stable(f, &a, &b);
    broker_protocol_t other = {"sticky-only", hd_slice("m", 1)};
    req.member_id = "";
    req.protocols = &other;
    broker_group_join(f->b, &req, &j.w);
    assert_int_equal(j.error, BROKER_GERR_INCONSISTENT_GROUP_PROTOCOL);
    assert_int_equal(broker_group_count(f->b), 1);
}

/* SyncGroup answers wait for the group record; a rebalance that starts meanwhile answers them
 * with REBALANCE_IN_PROGRESS, and the record becoming durable later answers nothing twice. */
static void test_sync_answers_wait_for_the_stored_assignment(void **state)
{
    fixture_t *f = *state;
    joined_t a, b;
    join_as(f, &a, "", NULL, false, "range");
    join_as(f, &b, "", NULL, false, "range");
    advance(f, 150);
    assert_true(a.got && b.got);
    synced_t sa, sb, sb2;
    sync_as(f, &sb, &b, NULL, 0);
    broker_assignment_t as[2] = {{a.member_id, hd_slice("A", 1)}, {b.member_id, hd_slice("B", 1)}};
    atomic_store(&hold_syncs, true);
    sync_as(f, &sa, &a, as, 2);
    assert_false(sa.got || sb.got);
    assert_string_equal(broker_group_state(broker_group_find(f->b, "g")), "Stable");
    /* The follower asks again (a client retry): it waits with the others. */
    sync_as(f, &sb2, &b, NULL, 0);
    assert_true(sb.got && !sb2.got);
    assert_int_equal(sb.error, BROKER_GERR_REBALANCE_IN_PROGRESS);
    /* A third member joins before the record is durable. */
    joined_t c;
    join_as(f, &c, "", NULL, false, "range");
    assert_true(sa.got && sb2.got);
    assert_int_equal(sa.error, BROKER_GERR_REBALANCE_IN_PROGRESS);
    assert_int_equal(sb2.error, BROKER_GERR_REBALANCE_IN_PROGRESS);
    sa.got = sb2.got = false;
    atomic_store(&hold_syncs, false);
    for (int i = 0; i < 100; i++) {
        usleep(1000);
        broker_on_durable(f->b);
    }
    assert_false(sa.got || sb2.got);
    assert_string_equal(broker_group_state(broker_group_find(f->b, "g")), "PreparingRebalance");
}

static void test_static_member_rejoins_without_rebalance(void **state)
{
    fixture_t *f = *state;
    joined_t a, s;
    join_as(f, &a, "", NULL, false, "range");
    join_as(f, &s, "", "inst-1", false, "range");
    advance(f, 150);
    assert_true(a.got && s.got);
    synced_t sa, ss;
    sync_as(f, &ss, &s, NULL, 0);
    broker_assignment_t as[2] = {{a.member_id, hd_slice("A", 1)}, {s.member_id, hd_slice("S", 1)}};
    sync_as(f, &sa, &a, as, 2);
    until_durable(f, &ss.got);
    assert_string_equal(ss.assignment, "S");
    /* The static member restarts: same instance id, no member id. */
    joined_t s2;
    join_as(f, &s2, "", "inst-1", false, "range");
    assert_true(s2.got);
    assert_int_equal(s2.error, 0);
    assert_int_equal(s2.generation, 1);
    assert_string_not_equal(s2.member_id, s.member_id);
    assert_string_equal(broker_group_state(broker_group_find(f->b, "g")), "Stable");
    assert_int_equal(broker_group_heartbeat(f->b, "g", 1, a.member_id, NULL), 0);
    joined_t tmp = s2;
    synced_t s3;
    sync_as(f, &s3, &tmp, NULL, 0);
    assert_string_equal(s3.assignment, "S");
    assert_int_equal(broker_group_heartbeat(f->b, "g", 1, s.member_id, "inst-1"),
                     BROKER_GERR_FENCED_INSTANCE_ID);
}

/* A join answer that re-enters the coordinator (as a connection handling its next pipelined
 * request does) sees a finished transition and may change the group again. */
static fixture_t *reenter_f;
static char reenter_leave[256];
static void on_join_reenter(broker_join_waiter_t *w, const broker_join_res_t *res)
{
    on_join(w, res);
    if (reenter_leave[0]) {
        assert_int_equal(broker_group_leave(reenter_f->b, "g", reenter_leave, NULL), 0);
        reenter_leave[0] = '\0';
        static joined_t again; /* parked: must outlive this callback */
        join_as(reenter_f, &again, "", NULL, false, "roundrobin");
    }
}

static void test_answers_may_reenter_the_coordinator(void **state)
{
    fixture_t *f = *state;
    joined_t a, b;
    make_stable(f, &a, &b);
    assert_int_equal(broker_group_leave(f->b, "g", b.member_id, NULL), 0);
    joined_t a2;
    memset(&a2, 0, sizeof a2);
    reenter_f = f;
    snprintf(reenter_leave, sizeof reenter_leave, "%s", a.member_id);
    broker_protocol_t p[2] = {{"roundrobin", hd_slice("meta", 4)}, {"range", hd_slice("m2", 2)}};
    broker_join_req_t req = {.group_id = "g",
                             .member_id = a.member_id,
                             .client_id = "cli",
                             .protocol_type = "consumer",
                             .session_ms = 10000,
                             .rebalance_ms = 20000,
                             .protocols = p,
                             .nprotocols = 2};
    a2.w.cb = on_join_reenter;
    a2.w.ctx = &a2;
    broker_group_join(f->b, &req, &a2.w);
    assert_true(a2.got);
    assert_int_equal(a2.generation, 2);
    /* a left from inside its own answer and a new member joined: a fresh join phase. */
    broker_group_t *g = broker_group_find(f->b, "g");
    assert_non_null(g);
    assert_int_equal(broker_group_member_count(g), 1);
    assert_string_equal(broker_group_state(g), "PreparingRebalance");
    advance(f, 200);
    assert_string_equal(broker_group_state(g), "CompletingRebalance");
}

/* ---- offsets ---- */

static bool fired;
static void on_durable(broker_waiter_t *w, int err)
{
    (void)w;
    assert_int_equal(err, 0);
    fired = true;
}

static void commit_bytes_durably(fixture_t *f, const char *group, int32_t part, int64_t off,
                                 const char *meta, size_t meta_len)
{
    broker_offset_commit_t c = {"orders", part, off, 3, meta, meta_len};
    int64_t at;
    assert_int_equal(broker_offsets_commit(f->b, group, &c, 1, &at), 0);
    broker_waiter_t w = {.cb = on_durable};
    fired = false;
    broker_offsets_wait(f->b, group, at, &w);
    for (int i = 0; i < 5000 && !fired; i++) {
        usleep(1000);
        broker_on_durable(f->b);
    }
    assert_true(fired);
}

static void commit_durably(fixture_t *f, const char *group, int32_t part, int64_t off,
                           const char *meta)
{
    commit_bytes_durably(f, group, part, off, meta, meta ? strlen(meta) : 0);
}

static void test_commits_survive_reopen_with_metadata(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(broker_group_commit_check(f->b, "svc", -1, "", NULL), 0);
    commit_durably(f, "svc", 0, 10, "hello");
    commit_durably(f, "svc", 0, 12, "again");
    commit_durably(f, "svc", 5, 7, NULL);
    commit_durably(f, "other", 1, 99, "x");
    reopen(f);
    broker_offset_t o;
    assert_true(broker_offsets_get(f->b, "svc", "orders", 0, &o));
    assert_int_equal(o.offset, 12);
    assert_int_equal(o.leader_epoch, 3);
    assert_string_equal(o.metadata, "again");
    assert_true(broker_offsets_get(f->b, "svc", "orders", 5, &o));
    assert_string_equal(o.metadata, "");
    assert_false(broker_offsets_get(f->b, "svc", "orders", 1, &o));
    assert_int_equal(broker_group_count(f->b), 2);
    assert_string_equal(broker_group_state(broker_group_find(f->b, "svc")), "Empty");
}

/* Metadata is the client's bytes exactly: leading and trailing spaces, and NUL bytes
 * (confluent-kafka commits its metadata with the C string's terminator), in memory, after a
 * reopen (replay of the offsets log) and after compaction rewrote the log. */
static void test_commit_metadata_is_kept_byte_for_byte(void **state)
{
    fixture_t *f = *state;
    static const char spaced[] = "       Hello";
    static const char nul[] = "h\xc3\xa9llo\0 tail\0";
    commit_durably(f, "md", 0, 1, spaced);
    commit_bytes_durably(f, "md", 1, 2, nul, sizeof nul - 1);
    commit_bytes_durably(f, "md", 2, 3, "\0", 1);
    for (int round = 0; round < 3; round++) {
        if (round == 1)
            reopen(f);
        if (round == 2) {
            assert_true(broker_offsets_compact(f->b, true) >= 0);
            reopen(f);
        }
        broker_offset_t o;
        assert_true(broker_offsets_get(f->b, "md", "orders", 0, &o));
        assert_int_equal(o.metadata_len, 12);
        assert_memory_equal(o.metadata, spaced, 12);
        assert_true(broker_offsets_get(f->b, "md", "orders", 1, &o));
        assert_int_equal(o.metadata_len, sizeof nul - 1);
        assert_memory_equal(o.metadata, nul, sizeof nul - 1);
        assert_true(broker_offsets_get(f->b, "md", "orders", 2, &o));
        assert_int_equal(o.metadata_len, 1);
        assert_int_equal(o.metadata[0], 0);
    }
}

static void test_delete_group_and_offset_survive_reopen(void **state)
{
    fixture_t *f = *state;
    commit_durably(f, "gone", 0, 1, "");
    commit_durably(f, "kept", 0, 1, "");
    commit_durably(f, "kept", 1, 2, "");
    int64_t at;
    assert_int_equal(broker_group_delete(f->b, "gone", &at), 0);
    assert_int_equal(broker_group_delete(f->b, "gone", &at), BROKER_GERR_GROUP_ID_NOT_FOUND);
    assert_int_equal(broker_offsets_delete(f->b, "kept", "orders", 1, &at), 0);
    reopen(f);
    broker_offset_t o;
    assert_null(broker_group_find(f->b, "gone"));
    assert_true(broker_offsets_get(f->b, "kept", "orders", 0, &o));
    assert_false(broker_offsets_get(f->b, "kept", "orders", 1, &o));
}

static void check_orders_offsets_gone(fixture_t *f)
{
    broker_offset_t o;
    assert_false(broker_offsets_get(f->b, "both", "orders", 1, &o));
    assert_true(broker_offsets_get(f->b, "both", "audit", 1, &o));
    assert_int_equal(o.offset, 42);
    assert_string_equal(o.metadata, "m");
    assert_null(broker_group_find(f->b, "only-orders")); /* nothing left: the group goes too */
    assert_int_equal(broker_group_count(f->b), 1);
}

static void test_deleting_a_topic_deletes_its_committed_offsets(void **state)
{
    fixture_t *f = *state;
    const char *why = "";
    broker_topic_t *t;
    assert_int_equal(broker_topic_create(f->b, "audit", 2, NULL, 0, false, &t, &why), 0);
    commit_durably(f, "only-orders", 0, 5, "");
    commit_durably(f, "only-orders", 3, 8, "");
    commit_durably(f, "both", 1, 6, "");
    broker_offset_commit_t c = {"audit", 1, 42, 3, "m", 1};
    int64_t at;
    assert_int_equal(broker_offsets_commit(f->b, "both", &c, 1, &at), 0);
    assert_int_equal(broker_topic_delete(f->b, "orders"), 0);
    check_orders_offsets_gone(f);
    reopen(f); /* the deletions are in the offsets log */
    check_orders_offsets_gone(f);
    /* A topic created again under the name starts without the old offsets. */
    assert_int_equal(broker_topic_create(f->b, "orders", 6, NULL, 0, false, &t, &why), 0);
    broker_offset_t o;
    assert_false(broker_offsets_get(f->b, "both", "orders", 1, &o));
    assert_false(broker_offsets_get(f->b, "only-orders", "orders", 0, &o));
}

/* offsets.retention.minutes (KIP-211): an empty group's offset goes `retention` after the later
 * of its commit and the moment the group became empty; a group with members keeps them. */
static void test_offsets_of_an_empty_group_expire_after_the_retention(void **state)
{
    fixture_t *f = *state;
    f->cfg.offsets_retention_minutes = 10;
    joined_t a, b;
    make_stable(f, &a, &b); /* group "g" has members */
    commit_durably(f, "g", 2, 20, "");
    commit_durably(f, "old", 0, 5, ""); /* "old" has none: created and empty at WALL0 */
    fake_wall = WALL0 + 5 * 60000;
    commit_durably(f, "old", 1, 6, "");
    broker_group_tick(f->b);
    broker_offset_t o;
    assert_true(broker_offsets_get(f->b, "old", "orders", 0, &o));
    fake_wall = WALL0 + 10 * 60000; /* partition 0's commit is 10 minutes old */
    broker_group_tick(f->b);
    assert_false(broker_offsets_get(f->b, "old", "orders", 0, &o));
    assert_true(broker_offsets_get(f->b, "old", "orders", 1, &o));
    assert_true(broker_offsets_get(f->b, "g", "orders", 2, &o));
    fake_wall = WALL0 + 15 * 60000; /* and partition 1's */
    broker_group_tick(f->b);
    assert_false(broker_offsets_get(f->b, "old", "orders", 1, &o));
    assert_null(broker_group_find(f->b, "old"));                 /* nothing left */
    assert_true(broker_offsets_get(f->b, "g", "orders", 2, &o)); /* members: kept */
    /* "g" becomes empty now: its offset, committed 15 minutes ago, gets 10 minutes from here. */
    assert_int_equal(broker_group_leave(f->b, "g", b.member_id, NULL), 0);
    assert_int_equal(broker_group_leave(f->b, "g", a.member_id, NULL), 0);
    assert_string_equal(broker_group_state(broker_group_find(f->b, "g")), "Empty");
    fake_wall = WALL0 + 24 * 60000;
    broker_group_tick(f->b);
    assert_true(broker_offsets_get(f->b, "g", "orders", 2, &o));
    fake_wall = WALL0 + 25 * 60000;
    broker_group_tick(f->b);
    assert_false(broker_offsets_get(f->b, "g", "orders", 2, &o));
    assert_null(broker_group_find(f->b, "g"));
    reopen(f); /* the expiries are in the offsets log */
    assert_int_equal(broker_group_count(f->b), 0);
}

static void test_delete_of_a_live_group_is_refused(void **state)
{
    fixture_t *f = *state;
    joined_t a, b;
    make_stable(f, &a, &b);
    int64_t at;
    assert_int_equal(broker_group_delete(f->b, "g", &at), BROKER_GERR_NON_EMPTY_GROUP);
    /* Members commit with their generation; the simple path is refused while members exist. */
    assert_int_equal(broker_group_commit_check(f->b, "g", 1, a.member_id, NULL), 0);
    assert_int_equal(broker_group_commit_check(f->b, "g", 7, a.member_id, NULL),
                     BROKER_GERR_ILLEGAL_GENERATION);
    assert_int_equal(broker_group_commit_check(f->b, "g", -1, "", NULL),
                     BROKER_GERR_UNKNOWN_MEMBER_ID);
}

/* The newest segment file of the group's partition of __consumer_offsets. */
static void last_segment(fixture_t *f, const char *group, char *out, size_t n)
{
    char dir[160];
    snprintf(dir, sizeof dir, "%s/__consumer_offsets/%d", f->dir.root,
             broker__offsets_partition_for(group, (int32_t)f->cfg.offsets_topic_num_partitions));
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    char best[256] = "";
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".log") && strcmp(e->d_name, best) > 0)
            snprintf(best, sizeof best, "%s", e->d_name);
    closedir(d);
    snprintf(out, n, "%s/%s", dir, best);
    char marker[200];
    snprintf(marker, sizeof marker, "%s/clean-shutdown", dir);
    unlink(marker);
}

static void test_torn_tail_loses_only_the_last_commit(void **state)
{
    fixture_t *f = *state;
    commit_durably(f, "svc", 0, 10, "first");
    commit_durably(f, "svc", 0, 20, "second");
    broker_close(f->b);
    f->b = NULL;
    char seg[512];
    last_segment(f, "svc", seg, sizeof seg);
    struct stat st;
    assert_int_equal(stat(seg, &st), 0);
    assert_int_equal(truncate(seg, st.st_size - 5), 0); /* cut into the last batch */
    open_broker(f);
    broker_offset_t o;
    assert_true(broker_offsets_get(f->b, "svc", "orders", 0, &o));
    assert_int_equal(o.offset, 10);
    assert_string_equal(o.metadata, "first");
}

static void test_compaction_shrinks_the_log_and_keeps_the_latest(void **state)
{
    fixture_t *f = *state;
    broker_close(f->b);
    f->cfg.offsets_segment_bytes = 65536;
    open_broker(f);
    for (int i = 0; i < 3000; i++)
        commit_durably(f, i % 2 ? "a" : "b", i % 6, i, "meta");
    int64_t before = broker_offsets_log_bytes(f->b);
    assert_true(before > 2 * 65536);
    assert_int_equal(broker_offsets_compact(f->b, true), 1);
    commit_durably(f, "a", 0, 5000, "after"); /* the snapshot is durable too now */
    broker_group_tick(f->b);
    assert_true(broker_offsets_log_bytes(f->b) < 65536 * 2);
    reopen(f);
    broker_offset_t o;
    assert_true(broker_offsets_get(f->b, "a", "orders", 0, &o));
    assert_int_equal(o.offset, 5000);
    assert_true(broker_offsets_get(f->b, "b", "orders", 4, &o));
    assert_int_equal(o.offset, 2998);
    assert_true(broker_offsets_get(f->b, "a", "orders", 5, &o));
    assert_int_equal(o.offset, 2999);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_members_join_sync_and_heartbeat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_answers_wait_for_the_stored_assignment, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_leave_rebalances_the_rest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired_session_removes_member, setup, teardown),
        cmocka_unit_test_setup_teardown(test_member_that_does_not_rejoin_is_dropped_at_the_deadline,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_member_id_required_and_pending_ids_do_not_stall, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_join_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_static_member_rejoins_without_rebalance, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_answers_may_reenter_the_coordinator, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commits_survive_reopen_with_metadata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_metadata_is_kept_byte_for_byte, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deleting_a_topic_deletes_its_committed_offsets, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_offsets_of_an_empty_group_expire_after_the_retention,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_group_and_offset_survive_reopen, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_delete_of_a_live_group_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_loses_only_the_last_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction_shrinks_the_log_and_keeps_the_latest, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
