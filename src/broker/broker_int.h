/* Private to broker/: the structs shared by its files. Loop thread only. */
#ifndef BROKER_INT_H
#define BROKER_INT_H

#include "broker/broker.h"
#include "broker/group.h"
#include "util/strmap.h"

#include <pthread.h>

typedef struct broker__precreate broker__precreate_t; /* precreate.c */

#define BROKER_PRODUCER_BATCHES 5

typedef struct broker__pbatch {
    int32_t first_seq;
    int32_t last_seq;
    int64_t base_offset;
    int64_t end_offset;
} broker__pbatch_t;

/* Idempotent-producer state of one producer on one partition: its epoch and the last five
 * batches, newest at b[(head + n - 1) % 5]. */
typedef struct broker__producer {
    int64_t pid;
    int16_t epoch;
    int n;
    int head;
    int64_t last_ms;
    broker__pbatch_t b[BROKER_PRODUCER_BATCHES];
} broker__producer_t;

struct broker_partition {
    broker_topic_t *topic;
    int32_t index;
    char *dir;
    log_partition_t *log;
    int64_t log_start;        /* set by DeleteRecords (0: none); loaded with the log */
    broker_waiter_t *waiters; /* doubly linked, unordered */
    broker_partition_t *active_next;
    bool active;
    /* Freed while the broker fires waiters: kept (topic, log and waiters gone) on b->graveyard
     * until the firing is over, so the loop over partitions never touches freed memory. */
    bool dead;
    broker_partition_t *grave_next;
    bool producers_loaded;
    broker__producer_t *producers;
    int nproducers, cap_producers;
    /* Producer id -> index + 1 into producers (0: empty slot); open addressing, pidx_cap a
     * power of two at least twice cap_producers. Rebuilt whenever producers are dropped. */
    int32_t *pidx;
    size_t pidx_cap;
};

#define BROKER_MAX_OVERRIDES 32

struct broker_topic {
    broker_t *broker;
    char *name;
    uint8_t id[16]; /* the topic id (KIP-516): random at creation, kept in the .topic file */
    int32_t nparts;
    broker_partition_t **parts;
    broker_topic_config_t cfg;
    /* Explicit overrides (set at creation or altered since), applied in order over the broker
     * defaults; is_default in DescribeConfigs is "not among them". */
    char *override_names[BROKER_MAX_OVERRIDES];
    char *override_values[BROKER_MAX_OVERRIDES];
    int noverrides;
    broker_topic_stats_t stats;
    bool internal; /* an internal log (broker_internal_log_open, the offsets log) */
    broker__precreate_t *precreate; /* its partition files being made ahead (precreate.c) */
};

/* One committed offset of a group, chained in the group's hash table (offsets.c). */
typedef struct broker__offset {
    struct broker__offset *next;
    char *topic;
    int32_t partition;
    uint32_t hash;
    int64_t offset;
    int32_t leader_epoch;
    int64_t commit_ms;
    char *metadata; /* metadata_len bytes (any byte, NUL included), then a NUL */
    size_t metadata_len;
} broker__offset_t;

/* One partition of __consumer_offsets and its compaction state (offsets.c). */
typedef struct broker__opart {
    broker_partition_t *part;
    int64_t snapshot_bytes; /* size of the last snapshot written */
    bool compact_pending;   /* delete segments below compact_base once durable */
    int64_t compact_base, compact_end;
} broker__opart_t;

typedef struct broker__member broker__member_t;         /* group.c */
typedef struct broker__pending broker__pending_t;       /* group.c */
typedef struct broker__completion broker__completion_t; /* group.c */

/* Topics with more partitions than this get no files ahead of need (precreate.c). */
#define BROKER_PRECREATE_MAX 4096
typedef struct broker__cgroup broker__cgroup_t; /* group_consumer.c */

enum {
    BROKER__EMPTY,
    BROKER__PREPARING,
    BROKER__COMPLETING,
    BROKER__STABLE,
};

/* A consumer group: its members and state (group.c) and its committed offsets (offsets.c).
 * It exists while it has members, pending members or offsets. */
struct broker_group {
    char *id;
    int state;
    int32_t generation;
    char *protocol_type; /* NULL until the first member joins */
    char *protocol;      /* chosen at the end of a join phase */
    char *leader;        /* member id of the leader, NULL if none */
    broker__member_t **members;
    int nmembers, cap_members;
    broker__pending_t *pending; /* MEMBER_ID_REQUIRED ids not yet rejoined */
    int npending, cap_pending;
    int64_t deadline;    /* join phase (Preparing) or sync (Completing) deadline */
    int64_t initial_cap; /* last moment the initial rebalance delay may extend to */
    bool initial_delay;  /* this join phase began in Empty: wait for more members */
    broker__offset_t **obuckets;
    uint32_t nobuckets;
    int noffsets;
    int64_t empty_since_ms; /* wall clock: when the group was created or last became Empty */
    broker__cgroup_t *cg;   /* non-NULL: a consumer-protocol (KIP-848) group */
    /* The GroupMetadataValue last written to __consumer_offsets for this group (NULL: none, or
     * its tombstone): re-written by compaction, tombstoned when the group goes away. */
    uint8_t *meta_rec;
    size_t meta_len;
    /* Between the leader's SyncGroup and its group record being durable (group.c): the
     * members' SyncGroup answers wait for store_w, as Kafka answers them only once the
     * assignment is stored. */
    bool storing;
    broker_waiter_t store_w;
    broker_t *owner;
};

struct broker {
    const hd_config_t *cfg;
    char *data_dir;
    char *topics_dir;
    char cluster_id[40];
    broker_topic_t **topics;
    int ntopics, cap_topics;
    hd_strmap_t topic_index; /* name -> topic, for the topics above */
    uint64_t topics_gen;     /* advances whenever a topic is created or deleted */
    log_flusher_t *flusher;
    log_journal_t *journal;     /* NULL unless log.journal.enable */
    broker_partition_t *active; /* partitions with waiters */
    int64_t next_pid, pid_limit;
    bool clean_start; /* the last shutdown was clean: partition logs open on first use */
    bool open_ok;     /* broker_open() completed: a clean close may mark the data dir clean */
    hd_buf_t scratch;
    hd_buf_t zbuf; /* a batch recompressed for its topic's compression.type, until appended */
    broker_append_observer_fn append_observer; /* see broker_set_append_observer */
    void *append_observer_ctx;
    /* Consumer groups (group.c) and the offsets log (offsets.c). */
    broker_group_t **groups;
    int ngroups, cap_groups;
    hd_strmap_t group_index; /* id -> group, for the groups above */
    int64_t (*now_ms)(void);
    int firing;                    /* broker_on_durable() is calling waiter callbacks */
    broker_partition_t *graveyard; /* partitions freed meanwhile (see broker_partition.dead) */
    int64_t (*wall_ms)(void);      /* commit times and offset expiry; hd_wall_ms unless a test's */
    int64_t next_expiry_ms;        /* wall clock: when offsets.c next looks for expired offsets */
    broker__completion_t *cq_head, *cq_tail;
    bool cq_firing;
    /* __consumer_offsets (offsets.c): not among the topics; read-only to Kafka clients. */
    broker_topic_t *offsets_topic;
    broker__opart_t *oparts; /* one per partition of offsets_topic */
    int32_t noparts;
    bool oreplaying; /* replaying the offsets log: groups are restored, nothing is appended */
    hd_buf_t obatch;
    /* Internal logs of capability modules (broker_internal_log_open), closed with the broker. */
    broker_topic_t **internal;
    int ninternal;
    void (*notify)(void *ctx); /* wakes the loop to run broker_on_durable(); any thread */
    void *notify_ctx;
    /* precreate.c: the thread making partition files ahead, its queue and finished jobs. */
    pthread_t pre_thread;
    bool pre_started;
    pthread_mutex_t pre_mu;
    pthread_cond_t pre_cv;
    broker__precreate_t *pre_queue, *pre_done; /* pre_mu */
    bool pre_stop;                             /* pre_mu */
    char fd_why[400];                          /* fdbudget.c: the last refusal's message */
};

/* precreate.c: queues the creation of t's partition files (a new topic; loop thread). */
void broker__precreate_start(broker_t *b, broker_topic_t *t);
/* The topic is being deleted: no more of its files are made; a waiting request is answered. */
void broker__precreate_topic_gone(broker_topic_t *t);
/* Loop thread, on notify: answers the requests whose topic's files are made. */
void broker__precreate_drain(broker_t *b);
/* Stops the thread; unfinished jobs are dropped and their requests answered HD_ECLOSED. */
void broker__precreate_stop(broker_t *b);

/* broker.c: the partition's log, opened on first use; NULL (logged) if it cannot be opened. */
log_partition_t *broker__partition_log(broker_partition_t *p);

/* broker.c: writes the topic's definition file (partition count, topic id and overrides)
 * atomically and durably. Returns 0 or -errno. */
int broker__topic_save(broker_t *b, const broker_topic_t *t, int32_t partitions);

/* topic_config.c */
void broker__topic_config_defaults(const hd_config_t *c, broker_topic_config_t *tc);
/* Applies one topic setting; returns 0 or HD_EINVAL with *why. */
int broker__topic_config_set(broker_topic_config_t *tc, const char *name, const char *value,
                             const char **why);
void broker__log_config_of(const broker_topic_config_t *tc, log_config_t *lc);

/* producer.c */
int broker__producer_check(broker_partition_t *p, const broker_batch_hdr_t *h, broker_append_t *dup,
                           const char **why);
void broker__producer_record(broker_partition_t *p, const broker_batch_hdr_t *h,
                             int64_t base_offset);
void broker__producers_free(broker_partition_t *p);
/* Writes the partition's idempotent-producer state to producers.snapshot in its directory (at
 * a clean shutdown, with the log synced; a partition without loaded state writes nothing). */
void broker__producers_save(broker_partition_t *p);
/* Parses a snapshot file: 0 with the offset it describes and a malloc'ed array of *count
 * producers (ring order reset: oldest batch first), or HD_ECORRUPT. */
int broker__producers_parse(const uint8_t *b, size_t len, int64_t *offset, broker__producer_t **out,
                            int *count);

/* broker.c: small-file helpers (paths, an atomic durable rewrite). */
char *broker__path_join(const char *a, const char *b);
int broker__mkdir_p(const char *path);
int broker__read_small(const char *path, char **out);
int broker__write_atomic(const char *dir, const char *path, const char *text);

/* broker.c: a one-partition topic that is not listed (the internal logs). */
int broker__internal_topic_open(broker_t *b, const char *name, const char *dir,
                                const log_config_t *lc, broker_topic_t **out);
void broker__internal_topic_free(broker_topic_t *t);

/* group.c */
broker_group_t *broker__group_get(broker_t *b, const char *id, bool create);
/* Frees the group if it has no members, pending members or offsets. */
void broker__group_maybe_drop(broker_t *b, broker_group_t *g);
bool broker__group_subscribes(const broker_group_t *g, const char *topic);
void broker__groups_free(broker_t *b);
int64_t broker__now(broker_t *b);

/* group_consumer.c */
void broker__cgroup_free(broker__cgroup_t *cg);
int broker__cgroup_nmembers(const broker__cgroup_t *cg);
bool broker__cgroup_subscribes(const broker__cgroup_t *cg, const char *topic);
const char *broker__cgroup_state(const broker__cgroup_t *cg);
/* Removes members whose session or revocation deadline passed. */
void broker__cgroup_tick(broker_t *b, broker_group_t *g, int64_t now);

/* group.c: a classic group's state as a GroupMetadata record (pointers borrowed from the group;
 * the caller frees only out->members), and the state such a record restores at replay (m NULL:
 * the group's tombstone). */
typedef struct broker__gmeta broker__gmeta_t;
void broker__group_meta(broker_t *b, const broker_group_t *g, broker__gmeta_t *out);
void broker__group_restore(broker_t *b, broker_group_t *g, const broker__gmeta_t *m);

/* offsets_format.c: the records of __consumer_offsets (Kafka's; the format is documented
 * there). Key versions: */
enum { BROKER__OKEY_LEGACY_OFFSET = 0, BROKER__OKEY_OFFSET = 1, BROKER__OKEY_GROUP = 2 };
enum { BROKER__OREC_OTHER, BROKER__OREC_OFFSET, BROKER__OREC_GROUP, BROKER__OREC_SNAPSHOT };
/* One parsed record; slices point into the record. */
typedef struct broker__orec {
    int type;
    hd_slice_t group, topic;
    int32_t partition;
    bool tombstone; /* null value */
    int64_t offset;
    int32_t leader_epoch;
    int64_t commit_ms;
    hd_slice_t metadata;
    hd_slice_t value; /* GROUP: the GroupMetadataValue, for broker__gmeta_decode() */
} broker__orec_t;
typedef struct broker__gmember {
    char *member_id, *instance_id, *client_id, *client_host;
    int32_t rebalance_ms, session_ms;
    hd_slice_t subscription, assignment;
} broker__gmember_t;
struct broker__gmeta {
    char *protocol_type, *protocol, *leader;
    int32_t generation;
    int64_t state_ms;
    broker__gmember_t *members;
    int nmembers;
};
/* Kafka's partition of a group: abs(Java hashCode of the id) % nparts. */
int32_t broker__offsets_partition_for(const char *group, int32_t nparts);
void broker__okey_offset(hd_buf_t *k, const char *group, const char *topic, int32_t partition);
void broker__oval_offset(hd_buf_t *v, int64_t offset, int32_t epoch, const char *meta,
                         size_t meta_len, int64_t commit_ms);
void broker__okey_group(hd_buf_t *k, const char *group);
void broker__gmeta_encode(hd_buf_t *v, const broker__gmeta_t *m);
/* Parse a record: 0 (OTHER for record types Herald does not keep) or HD_EMALFORMED. */
int broker__orec_parse(const broker_record_t *rec, broker__orec_t *out);
int broker__orec_parse_legacy(const broker_record_t *rec, broker__orec_t *out);
/* 0 with *out owning its strings (the bytes stay slices of value; free with
 * broker__gmeta_free), or HD_EMALFORMED. */
int broker__gmeta_decode(hd_slice_t value, broker__gmeta_t *out);
void broker__gmeta_free(broker__gmeta_t *m);

/* topic_regex.c: KIP-848 topic regular expressions (RE2/J-compatible subset of PCRE2). */
typedef struct broker__topic_regex broker__topic_regex_t;
/* Longest SubscribedTopicRegex accepted. */
#define BROKER_TOPIC_REGEX_MAX 4096
/* Compiles a pattern for whole-name matching. Returns 0, or HD_EINVAL with the reason written to
 * `why` (as Kafka's message puts it after "is not a valid regular expression: "). */
int broker__topic_regex_compile(const char *pattern, broker__topic_regex_t **out, char *why,
                                size_t whylen);
/* Whether the whole topic name matches (bounded; a match that hits a limit is no match). */
bool broker__topic_regex_matches(const broker__topic_regex_t *re, const char *topic);
void broker__topic_regex_free(broker__topic_regex_t *re);

/* offsets.c */
/* The __consumer_offsets partition that holds the group's records. */
broker_partition_t *broker__offsets_part_of(broker_t *b, const char *group);
/* Appends g's GroupMetadata record (a classic group that completed a rebalance or became
 * Empty). Returns the offset to wait for with broker_offsets_wait() before the record is
 * durable, 0 when nothing was written (replaying, no offsets topic), or a negative error. Only
 * the leader's SyncGroup waits (group.c); a crash before the other records are durable restores
 * the previous state. */
int64_t broker__offsets_write_group(broker_t *b, broker_group_t *g);
/* The group is going away: appends its GroupMetadata tombstone if it has a record (not while
 * replaying) and forgets the record. */
void broker__offsets_forget_group(broker_t *b, broker_group_t *g);
/* The wall clock of commit times and offset expiry (b->wall_ms, else hd_wall_ms). */
int64_t broker__wall(broker_t *b);
int broker__offsets_open(broker_t *b);
void broker__offsets_close(broker_t *b);
void broker__offsets_free_group(broker_group_t *g);
void broker__offsets_tick(broker_t *b);
/* Applies one __consumer_offsets batch (legacy: one of the format before) to the in-memory
 * tables, as replay does (fuzz target). */
int broker__offsets_apply(broker_t *b, hd_slice_t batch, bool legacy);
/* Appends tombstones for the group's offsets and its GroupMetadata and forgets the offsets
 * (the caller frees the group); *durable_at is in the group's partition. */
int broker__offsets_delete_group(broker_t *b, broker_group_t *g, int64_t *durable_at);
/* Deletes every group's committed offsets of `topic` (which was just deleted), as tombstones in
 * the offsets log, so a topic created later under the same name starts without them. */
void broker__offsets_drop_topic(broker_t *b, const char *topic);

#endif
