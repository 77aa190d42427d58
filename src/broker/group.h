/* Consumer groups: the classic group coordinator (JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
 * generations, session and rebalance timeouts, static members) and the committed-offsets store
 * (an internal log replayed at startup). Loop thread only.
 *
 * The coordinator's answers are Kafka ErrorCodes (int16_t, BROKER_GERR_*): the state machine is
 * Kafka's own, so its outcomes are expressed in Kafka's vocabulary and kafka/ passes them
 * through unchanged. Functions that touch storage return 0 or a negative HD_ code as usual.
 *
 * A group id names a group of one type: "classic" (JoinGroup/SyncGroup, group.c) or "consumer"
 * (KIP-848's ConsumerGroupHeartbeat with server-side assignment, group_consumer.c). A group that
 * has no members may change type; one with members answers the other protocol with an error. */
#ifndef BROKER_GROUP_H
#define BROKER_GROUP_H

#include "broker/broker.h"
#include "util/slice.h"

#include <stdbool.h>
#include <stdint.h>

/* Kafka ErrorCodes the coordinator answers with (AK Errors.java). */
enum {
    BROKER_GERR_NONE = 0,
    BROKER_GERR_UNKNOWN_TOPIC_OR_PARTITION = 3,
    BROKER_GERR_OFFSET_METADATA_TOO_LARGE = 12,
    BROKER_GERR_COORDINATOR_NOT_AVAILABLE = 15,
    BROKER_GERR_ILLEGAL_GENERATION = 22,
    BROKER_GERR_INCONSISTENT_GROUP_PROTOCOL = 23,
    BROKER_GERR_INVALID_GROUP_ID = 24,
    BROKER_GERR_UNKNOWN_MEMBER_ID = 25,
    BROKER_GERR_INVALID_SESSION_TIMEOUT = 26,
    BROKER_GERR_REBALANCE_IN_PROGRESS = 27,
    BROKER_GERR_KAFKA_STORAGE_ERROR = 56,
    BROKER_GERR_NON_EMPTY_GROUP = 68,
    BROKER_GERR_GROUP_ID_NOT_FOUND = 69,
    BROKER_GERR_MEMBER_ID_REQUIRED = 79,
    BROKER_GERR_FENCED_INSTANCE_ID = 82,
    BROKER_GERR_GROUP_SUBSCRIBED_TO_TOPIC = 86,
    BROKER_GERR_UNSUPPORTED_VERSION = 35,
    BROKER_GERR_INVALID_REQUEST = 42,
    BROKER_GERR_GROUP_MAX_SIZE_REACHED = 81,
    BROKER_GERR_FENCED_MEMBER_EPOCH = 110,
    BROKER_GERR_UNRELEASED_INSTANCE_ID = 111,
    BROKER_GERR_UNSUPPORTED_ASSIGNOR = 112,
    BROKER_GERR_STALE_MEMBER_EPOCH = 113,
    BROKER_GERR_INVALID_REGULAR_EXPRESSION = 128,
};

/* Longest group id, member id, instance id or client id accepted (Kafka has no limit; these
 * bound memory per member). Longer ids get INVALID_GROUP_ID / UNKNOWN_MEMBER_ID. */
#define BROKER_GROUP_ID_MAX 1024
/* Most protocols one member may offer in a JoinGroup. */
#define BROKER_GROUP_MAX_PROTOCOLS 64

typedef struct broker_group broker_group_t;

/* ---- JoinGroup ---- */

typedef struct broker_protocol {
    const char *name;
    hd_slice_t metadata;
} broker_protocol_t;

typedef struct broker_join_req {
    const char *group_id;
    const char *member_id;   /* "" for a new member */
    const char *instance_id; /* NULL for dynamic members */
    const char *client_id;
    const char *client_host;
    const char *protocol_type;
    int32_t session_ms;
    int32_t rebalance_ms;    /* JoinGroup v0: pass session_ms */
    bool member_id_required; /* JoinGroup v4+: a new member first gets MEMBER_ID_REQUIRED */
    const broker_protocol_t *protocols;
    int nprotocols;
} broker_join_req_t;

typedef struct broker_join_member {
    const char *member_id;
    const char *instance_id; /* NULL for dynamic members */
    hd_slice_t metadata;
} broker_join_member_t;

/* Valid only during the callback: copy what is kept. */
typedef struct broker_join_res {
    int16_t error;
    int32_t generation;
    const char *protocol_type;
    const char *protocol; /* NULL when there is none (errors) */
    const char *leader;
    const char *member_id;
    const broker_join_member_t *members; /* the leader's answer only */
    int nmembers;
} broker_join_res_t;

/* Embedded by the caller; answered exactly once unless cancelled first. */
typedef struct broker_join_waiter broker_join_waiter_t;
struct broker_join_waiter {
    void (*cb)(broker_join_waiter_t *w, const broker_join_res_t *res);
    void *ctx;
    void *_member, *_queued;
};

/* Joins (or rejoins) a member. The answer may come synchronously, from inside this call, or later
 * when the join phase completes (broker_group_tick() or another member's request). */
void broker_group_join(broker_t *b, const broker_join_req_t *req, broker_join_waiter_t *w);
/* The request went away (connection closed). The member stays until its session expires. */
void broker_join_waiter_cancel(broker_join_waiter_t *w);

/* ---- SyncGroup ---- */

typedef struct broker_assignment {
    const char *member_id;
    hd_slice_t assignment;
} broker_assignment_t;

typedef struct broker_sync_waiter broker_sync_waiter_t;
struct broker_sync_waiter {
    /* assignment is valid only during the callback. */
    void (*cb)(broker_sync_waiter_t *w, int16_t error, const char *protocol_type,
               const char *protocol, hd_slice_t assignment);
    void *ctx;
    void *_member, *_queued;
};

/* The leader passes every member's assignment; followers pass none. Followers wait for the
 * leader's SyncGroup. */
void broker_group_sync(broker_t *b, const char *group_id, int32_t generation, const char *member_id,
                       const char *instance_id, const broker_assignment_t *assignments,
                       int nassignments, broker_sync_waiter_t *w);
void broker_sync_waiter_cancel(broker_sync_waiter_t *w);

/* ---- Heartbeat, LeaveGroup ---- */

int16_t broker_group_heartbeat(broker_t *b, const char *group_id, int32_t generation,
                               const char *member_id, const char *instance_id);
/* member_id may be "" when instance_id names a static member. */
int16_t broker_group_leave(broker_t *b, const char *group_id, const char *member_id,
                           const char *instance_id);

/* Expires sessions, pending members and rebalance deadlines. Call every 50-100 ms. */
void broker_group_tick(broker_t *b);

/* ---- committed offsets ---- */

typedef struct broker_offset_commit {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    const char *metadata; /* metadata_len bytes, kept byte for byte; NULL is stored as "" */
    size_t metadata_len;
} broker_offset_commit_t;

typedef struct broker_offset {
    int64_t offset;
    int32_t leader_epoch;
    int64_t commit_ms;
    const char *metadata; /* owned by the store; valid until the next change */
    size_t metadata_len;  /* its length: metadata may hold NUL bytes (a client's own) */
} broker_offset_t;

/* Whether the group's member may commit now (generation -1 with an empty member id is the
 * "simple consumer" path, allowed while the group has no members). Creates nothing. */
int16_t broker_group_commit_check(broker_t *b, const char *group_id, int32_t generation,
                                  const char *member_id, const char *instance_id);
/* Stores the commits in memory and appends them to the offsets log. *durable_at is the offsets
 * log position to wait for with broker_offsets_wait(). Returns 0, HD_ETOOBIG or -errno. */
int broker_offsets_commit(broker_t *b, const char *group_id, const broker_offset_commit_t *c, int n,
                          int64_t *durable_at);
/* Fires w (w->target is set here) once the offsets log is durable up to `durable_at`. */
void broker_offsets_wait(broker_t *b, int64_t durable_at, broker_waiter_t *w);
/* Returns true and fills *out when the group has a commit for the partition. */
bool broker_offsets_get(broker_t *b, const char *group_id, const char *topic, int32_t partition,
                        broker_offset_t *out);
/* Calls cb for every committed offset of the group, grouped by topic; stops when cb returns
 * non-zero. */
typedef int (*broker_offset_cb)(void *ctx, const char *topic, int32_t partition,
                                const broker_offset_t *o);
void broker_offsets_each(broker_t *b, const char *group_id, broker_offset_cb cb, void *ctx);
/* OffsetDelete for one partition: GROUP_ID_NOT_FOUND, GROUP_SUBSCRIBED_TO_TOPIC (a member of a
 * "consumer" group subscribes to the topic) or NONE (also when nothing was committed). */
int16_t broker_offsets_delete(broker_t *b, const char *group_id, const char *topic,
                              int32_t partition, int64_t *durable_at);

/* ---- listing, describing, deleting ---- */

int broker_group_count(const broker_t *b);
broker_group_t *broker_group_at(broker_t *b, int i);
broker_group_t *broker_group_find(broker_t *b, const char *group_id);
const char *broker_group_id(const broker_group_t *g);
/* Classic: "Empty", "PreparingRebalance", "CompletingRebalance" or "Stable". Consumer:
 * "Empty", "Assigning", "Reconciling" or "Stable". */
const char *broker_group_state(const broker_group_t *g);
const char *broker_group_protocol_type(const broker_group_t *g); /* "" if unknown */
/* "classic" or "consumer" (ListGroups v5 GroupType). */
const char *broker_group_type(const broker_group_t *g);
const char *broker_group_protocol(const broker_group_t *g); /* "" unless Stable/Completing */
int32_t broker_group_generation(const broker_group_t *g);
/* Members of a classic group (0 for a consumer group: see broker_cgroup_info). */
int broker_group_member_count(const broker_group_t *g);

typedef struct broker_member_info {
    const char *member_id;
    const char *instance_id; /* NULL for dynamic members */
    const char *client_id;
    const char *client_host;
    hd_slice_t metadata;   /* for the chosen protocol */
    hd_slice_t assignment; /* empty until the leader's SyncGroup */
} broker_member_info_t;
void broker_group_member(const broker_group_t *g, int i, broker_member_info_t *out);

/* DeleteGroups: NON_EMPTY_GROUP while it has members, GROUP_ID_NOT_FOUND (also for the empty
 * id), or NONE (its offsets are removed; a tombstone is appended, durable at *durable_at). */
int16_t broker_group_delete(broker_t *b, const char *group_id, int64_t *durable_at);

/* ---- consumer-protocol groups (KIP-848, group_consumer.c) ---- */

/* One partition of a topic named by its id. Sets of them are kept sorted by (id, partition). */
typedef struct broker_cg_part {
    uint8_t topic_id[16];
    int32_t partition;
} broker_cg_part_t;

/* A ConsumerGroupHeartbeat. Fields marked "unchanged" keep their last value when NULL / -1. */
typedef struct broker_cg_heartbeat {
    const char *group_id;
    const char *member_id;     /* "" on a v0 join: the coordinator makes one */
    int32_t member_epoch;      /* 0 joins, -1 leaves, -2 leaves as a static member, else current */
    const char *instance_id;   /* NULL: dynamic member (or unchanged) */
    const char *rack_id;       /* NULL: unchanged */
    int32_t rebalance_ms;      /* -1: unchanged */
    const char *const *topics; /* subscribed topic names */
    int32_t ntopics;           /* -1: unchanged */
    const char *regex;         /* NULL: unchanged; "": none; else a topic regex (RE2/J-like) */
    const char *assignor;      /* NULL: unchanged ("uniform" by default, or "range") */
    const broker_cg_part_t *owned; /* the partitions the member owns now */
    int32_t nowned;                /* -1: unchanged */
    const char *client_id, *client_host;
} broker_cg_heartbeat_t;

/* The answer. Pointers are valid until the next call into the coordinator. */
typedef struct broker_cg_answer {
    int16_t error;
    const char *message; /* static, or NULL */
    const char *member_id;
    int32_t member_epoch;
    int32_t heartbeat_ms;
    bool has_assignment; /* false: "unchanged" (the response's Assignment is null) */
    const broker_cg_part_t *assigned;
    int nassigned;
} broker_cg_answer_t;

/* Runs one heartbeat: joins, leaves, fences, recomputes the target assignment when the group
 * epoch moved, and reconciles the member towards its target, revoking partitions before they
 * are given to another member. Always fills *out. */
void broker_cgroup_heartbeat(broker_t *b, const broker_cg_heartbeat_t *req,
                             broker_cg_answer_t *out);

/* Whether the group is a consumer-protocol group. */
bool broker_group_is_consumer(const broker_group_t *g);

/* OffsetCommit into a consumer-protocol group: a member commits with its current member epoch
 * and OffsetCommit v9+ (UNSUPPORTED_VERSION below); epoch -1 with no member commits only while
 * the group has no members. Returns a Kafka ErrorCode. */
int16_t broker_cgroup_commit_check(broker_t *b, broker_group_t *g, int32_t member_epoch,
                                   const char *member_id, int16_t api_version);

/* OffsetFetch v9 from a consumer-protocol group: a member id (with its epoch) must name a member
 * at that epoch (UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH); no member id and epoch -1 is an admin
 * tool, always allowed. Returns a Kafka ErrorCode. */
int16_t broker_cgroup_fetch_check(const broker_group_t *g, const char *member_id,
                                  int32_t member_epoch);

typedef struct broker_cg_info {
    int32_t group_epoch;
    int32_t assignment_epoch;
    const char *assignor;
    int nmembers;
} broker_cg_info_t;
void broker_cgroup_info(const broker_group_t *g, broker_cg_info_t *out);

typedef struct broker_cg_member_info {
    const char *member_id;
    const char *instance_id; /* NULL for dynamic members */
    const char *rack_id;     /* NULL if not given */
    const char *client_id;
    const char *client_host;
    int32_t member_epoch;
    const char *const *topics;
    int ntopics;
    const char *regex;                /* the SubscribedTopicRegex, or NULL */
    const broker_cg_part_t *assigned; /* what the member owns now */
    int nassigned;
    const broker_cg_part_t *target; /* where the group wants it to be */
    int ntarget;
} broker_cg_member_info_t;
void broker_cgroup_member(const broker_group_t *g, int i, broker_cg_member_info_t *out);

/* ---- lifecycle (called by broker_open/broker_close) and tests ---- */

/* Overrides the coordinator's monotonic clock (tests). NULL restores hd_mono_ms. */
void broker_group_set_clock(broker_t *b, int64_t (*now_ms)(void));
/* For tests: the wall clock of commit times and offsets.retention.minutes (hd_wall_ms). */
void broker_offsets_set_wall_clock(broker_t *b, int64_t (*wall_ms)(void));
/* Rewrites the offsets log as one snapshot if it grew past offsets.topic.segment.bytes and
 * holds mostly superseded commits. Called from broker_group_tick(); exposed for tests. */
int broker_offsets_compact(broker_t *b, bool force);
/* Size of the offsets log in bytes (tests, metrics). */
int64_t broker_offsets_log_bytes(const broker_t *b);

#endif
