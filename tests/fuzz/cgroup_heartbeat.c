/* Fuzz target: the KIP-848 coordinator (broker/group_consumer.c) driven by arbitrary sequences
 * of heartbeats, leaves and clock ticks from up to eight members (some static) subscribed to
 * one or two topics. After every step it checks the protocol's promises: no partition is in the
 * current assignment of two members, what a heartbeat answers is what ConsumerGroupDescribe
 * reports, every subscribed partition has exactly one target owner, and only existing partitions
 * are handed out.
 *
 * Input: 4 bytes per step.
 *   byte 0  bits 0-2: 0-4 heartbeat, 5 leave (-1), 6 static leave (-2), 7 tick after
 *           (byte 1) * 100 ms
 *   byte 1  bits 0-2: member index; bit 3: static (instance id); bit 4: also subscribe "b"
 *   byte 2  epoch: 0 join, 1 the last epoch answered, 2 one less, 3 byte 3 as is
 *   byte 3  owned partitions of "a": 0xff null, bit 7 set: exactly what was last answered,
 *           else the low 6 bits as a mask */
#include "broker/group.h"
#include "fuzz_check.h"
#include "util/config.h"
#include "util/say.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static hd_config_t cfg;
static broker_t *b;
static unsigned runs;
static int64_t now_ms = 1000000;
static uint8_t id_a[16], id_b[16];

static int64_t fake_now(void) { return now_ms; }
static void noop(void *ctx) { (void)ctx; }

static void open_broker(void)
{
    hd_config_init(&cfg);
    free(cfg.data_dir);
    cfg.data_dir = fuzz_tmpdir("cgroup");
    cfg.preallocate = false;
    cfg.group_consumer_session_timeout_ms = 3000;
    say_level = SAY_ERROR;
    if (broker_open(&cfg, noop, NULL, &b) < 0)
        abort();
    broker_group_set_clock(b, fake_now);
    const char *why = "";
    broker_topic_t *t;
    if (broker_topic_create(b, "a", 6, NULL, 0, false, &t, &why) < 0)
        abort();
    memcpy(id_a, broker_topic_id(t), 16);
    if (broker_topic_create(b, "b", 3, NULL, 0, false, &t, &why) < 0)
        abort();
    memcpy(id_b, broker_topic_id(t), 16);
}

typedef struct model {
    char id[32];
    int32_t epoch;
    uint32_t mask; /* of "a", as last answered */
    bool known;
} model_t;

static bool same_part(const broker_cg_part_t *x, const broker_cg_part_t *y)
{
    return !memcmp(x->topic_id, y->topic_id, 16) && x->partition == y->partition;
}

static bool valid_part(const broker_cg_part_t *p)
{
    if (!memcmp(p->topic_id, id_a, 16))
        return p->partition >= 0 && p->partition < 6;
    if (!memcmp(p->topic_id, id_b, 16))
        return p->partition >= 0 && p->partition < 3;
    return false;
}

static void check_group(const char *group, const broker_cg_answer_t *ans, const char *who)
{
    broker_group_t *g = broker_group_find(b, group);
    if (!g || !broker_group_is_consumer(g))
        return;
    broker_cg_info_t info;
    broker_cgroup_info(g, &info);
    CHECK(info.assignment_epoch <= info.group_epoch);
    int targets_a[6] = {0}, targets_b[3] = {0};
    bool subs_a = false, subs_b = false;
    for (int i = 0; i < info.nmembers; i++) {
        broker_cg_member_info_t x;
        broker_cgroup_member(g, i, &x);
        for (int t = 0; t < x.ntopics; t++) {
            subs_a |= !strcmp(x.topics[t], "a");
            subs_b |= !strcmp(x.topics[t], "b");
        }
        for (int k = 0; k < x.nassigned; k++) {
            CHECK(valid_part(&x.assigned[k]));
            for (int j = i + 1; j < info.nmembers; j++) {
                broker_cg_member_info_t y;
                broker_cgroup_member(g, j, &y);
                for (int l = 0; l < y.nassigned; l++)
                    CHECK(!same_part(&x.assigned[k], &y.assigned[l]));
            }
        }
        for (int k = 0; k < x.ntarget; k++) {
            CHECK(valid_part(&x.target[k]));
            if (!memcmp(x.target[k].topic_id, id_a, 16))
                targets_a[x.target[k].partition]++;
            else
                targets_b[x.target[k].partition]++;
        }
        if (ans && ans->has_assignment && !ans->error && !strcmp(x.member_id, who)) {
            CHECK(ans->nassigned == x.nassigned);
            for (int k = 0; k < x.nassigned; k++)
                CHECK(same_part(&ans->assigned[k], &x.assigned[k]));
        }
    }
    if (info.assignment_epoch == info.group_epoch && info.nmembers) {
        for (int p = 0; p < 6; p++)
            CHECK(targets_a[p] == (subs_a ? 1 : 0));
        for (int p = 0; p < 3; p++)
            CHECK(targets_b[p] == (subs_b ? 1 : 0));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4 * 512)
        return 0;
    if (!b)
        open_broker();
    char group[32];
    snprintf(group, sizeof group, "g%u", runs++);
    model_t m[8] = {0};
    for (int i = 0; i < 8; i++)
        snprintf(m[i].id, sizeof m[i].id, "member-%u-%d", runs, i);
    for (size_t at = 0; at + 4 <= size; at += 4) {
        const uint8_t *op = data + at;
        int kind = op[0] & 7, idx = op[1] & 7;
        if (kind == 7) {
            now_ms += (int64_t)op[1] * 100;
            broker_group_tick(b);
            check_group(group, NULL, "");
            continue;
        }
        model_t *x = &m[idx];
        char instance[8];
        snprintf(instance, sizeof instance, "i%d", idx & 3);
        const char *topics[2] = {"a", "b"};
        broker_cg_part_t owned[6];
        broker_cg_heartbeat_t r = {0};
        r.group_id = group;
        r.member_id = x->id;
        r.instance_id = (op[1] & 8) ? instance : NULL;
        r.client_id = "fuzz";
        r.client_host = "/127.0.0.1";
        r.rebalance_ms = -1;
        r.ntopics = -1;
        r.nowned = -1;
        switch (op[2] & 3) {
        case 0:
            r.member_epoch = 0;
            break;
        case 1:
            r.member_epoch = x->epoch;
            break;
        case 2:
            r.member_epoch = x->epoch - 1;
            break;
        default:
            r.member_epoch = (int8_t)op[3];
            break;
        }
        if (kind == 5)
            r.member_epoch = -1;
        if (kind == 6)
            r.member_epoch = -2;
        if (r.member_epoch == 0) {
            r.rebalance_ms = 5000;
            r.topics = topics;
            r.ntopics = (op[1] & 16) ? 2 : 1;
            r.nowned = 0;
            r.owned = owned;
        } else if (op[3] != 0xff && r.member_epoch > 0) {
            uint32_t mask = (op[3] & 0x80) ? x->mask : (op[3] & 0x3f);
            r.nowned = 0;
            for (int p = 0; p < 6; p++)
                if (mask & (1u << p)) {
                    memcpy(owned[r.nowned].topic_id, id_a, 16);
                    owned[r.nowned++].partition = p;
                }
            r.owned = owned;
        }
        broker_cg_answer_t ans;
        broker_cgroup_heartbeat(b, &r, &ans);
        if (!ans.error && r.member_epoch >= 0) {
            x->epoch = ans.member_epoch;
            x->known = true;
            if (ans.has_assignment) {
                x->mask = 0;
                for (int k = 0; k < ans.nassigned; k++)
                    if (!memcmp(ans.assigned[k].topic_id, id_a, 16))
                        x->mask |= 1u << ans.assigned[k].partition;
            }
        }
        check_group(group, &ans, x->id);
    }
    /* Clean up: everyone leaves, static members' sessions run out. */
    for (int i = 0; i < 8; i++) {
        broker_cg_heartbeat_t r = {.group_id = group,
                                   .member_id = m[i].id,
                                   .member_epoch = -1,
                                   .rebalance_ms = -1,
                                   .ntopics = -1,
                                   .nowned = -1};
        broker_cg_answer_t ans;
        broker_cgroup_heartbeat(b, &r, &ans);
    }
    now_ms += 10000;
    broker_group_tick(b);
    CHECK(broker_group_find(b, group) == NULL);
    return 0;
}
