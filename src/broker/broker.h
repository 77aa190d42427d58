/* The broker: topics, partitions, idempotent-producer state, and waiters on durability.
 * Everything here is owned by the loop thread. The flusher thread only calls log/ functions
 * marked thread-safe; its progress reaches the broker through broker_on_durable(). */
#ifndef BROKER_H
#define BROKER_H

#include "broker/records.h"
#include "log/log.h"
#include "util/buf.h"
#include "util/config.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct broker broker_t;
typedef struct broker_topic broker_topic_t;
typedef struct broker_partition broker_partition_t;

/* ---- lifecycle ---- */

/* Opens the data directory (creating it), loads every topic and runs log recovery. The config
 * must outlive the broker. notify(ctx) is called on the flusher thread when durable offsets
 * advanced; the server wakes the loop with it and then calls broker_on_durable(). */
int broker_open(const hd_config_t *cfg, void (*notify)(void *ctx), void *notify_ctx,
                broker_t **out);
/* Fires every waiter with HD_ECLOSED, stops the flusher after a final sync, closes logs. */
void broker_close(broker_t *b);
const char *broker_cluster_id(const broker_t *b);
const hd_config_t *broker_config(const broker_t *b);

/* ---- topics ---- */

/* Per-topic settings. Topic overrides use Kafka's topic config names (retention.ms, ...). */
typedef struct broker_topic_config {
    int64_t retention_ms;
    int64_t retention_bytes;
    int64_t segment_bytes;
    int64_t segment_ms;
    int64_t max_message_bytes;
    int64_t index_interval_bytes;
    bool preallocate;
    bool log_append_time; /* message.timestamp.type=LogAppendTime */
    /* cleanup.policy as set: "delete" (default), "compact" or both. Compaction is not performed:
     * a compacted topic keeps every record (a superset of what Kafka's cleaner would leave, in
     * which the newest value of each key still wins), and without "delete" nothing is removed by
     * retention.ms / retention.bytes, as in Kafka. */
    char cleanup_policy[24];
    bool cleanup_delete;
    int8_t compression; /* compression.type: -1 producer (stored as sent), else the codec
                           (BROKER_CODEC_*) every batch is stored with */
    /* Validation on produce against the schema registry (registry/): a record's value (key)
     * must carry a schema of the value (key) subject. One flag to test on the hot path. */
    bool schema_validation;       /* either of the two below */
    bool value_schema_validation; /* confluent.value.schema.validation */
    bool key_schema_validation;   /* confluent.key.schema.validation */
    bool validation_dlq;          /* herald.schema.validation.mode=dlq (else reject) */
    char value_subject[256];      /* herald.value.schema.subject, "" = <topic>-value */
    char key_subject[256];        /* herald.key.schema.subject, "" = <topic>-key */
    char dead_letter_topic[250];  /* herald.dead.letter.topic, "" = <topic>.dlq */
} broker_topic_config_t;

/* One name=value pair for topic creation. */
typedef struct broker_config_kv {
    const char *name;
    const char *value;
} broker_config_kv_t;

/* Legal names: [a-zA-Z0-9._-], 1..249 characters, not "." or "..". */
bool broker_topic_name_valid(const char *name);
/* Kafka's internal topic names (__consumer_offsets, __transaction_state, __share_group_state,
 * __cluster_metadata): never created as ordinary topics, by any path. */
bool broker_topic_name_reserved(const char *name);
broker_topic_t *broker_topic_find(broker_t *b, const char *name);
/* Kafka's internal topic that clients may read, __consumer_offsets (broker/offsets.c), by name;
 * NULL for any other name. It is not among the topics above (broker_topic_find, _count, _at):
 * the Kafka protocol's Metadata, DescribeConfigs, ListOffsets and Fetch reach it through this,
 * and every write path refuses its name (broker_topic_name_reserved). */
broker_topic_t *broker_internal_topic_find(broker_t *b, const char *name);
/* Creates a topic with `partitions` partitions and the given config overrides. With
 * validate_only, checks everything and creates nothing. Returns 0, HD_EEXIST, HD_EINVAL (bad
 * or reserved name, partition count or config; *why says which) or -errno. */
int broker_topic_create(broker_t *b, const char *name, int32_t partitions,
                        const broker_config_kv_t *configs, int nconfigs, bool validate_only,
                        broker_topic_t **out, const char **why);
/* One change of a topic setting (IncrementalAlterConfigs' operations, Kafka's numbering). */
enum {
    BROKER_CONFIG_SET = 0,
    BROKER_CONFIG_DELETE = 1,   /* back to the broker default */
    BROKER_CONFIG_APPEND = 2,   /* list-type settings only (cleanup.policy) */
    BROKER_CONFIG_SUBTRACT = 3, /* list-type settings only */
};
typedef struct broker_config_op {
    const char *name;
    const char *value; /* NULL for DELETE */
    int op;
} broker_config_op_t;
/* Alters a topic's settings: applies `ops` in order to its overrides (with `replace`, to an
 * empty set first, as AlterConfigs does), checks that every resulting setting is valid, then
 * (unless validate_only) rewrites the topic's definition durably before the new settings take
 * effect (also on its open partition logs). All or nothing. Returns 0, HD_EINVAL (unknown
 * setting, bad value or op; *why says which) or -errno (nothing changed). */
int broker_topic_alter_config(broker_t *b, broker_topic_t *t, const broker_config_op_t *ops,
                              int nops, bool replace, bool validate_only, const char **why);
/* Removes the topic, its files, and fires its waiters with HD_ENOTFOUND. */
int broker_topic_delete(broker_t *b, const char *name);
/* Grows the topic to `total` partitions. HD_EINVAL if total is not larger. */
int broker_topic_add_partitions(broker_t *b, broker_topic_t *t, int32_t total, bool validate_only,
                                const char **why);
/* Open files (fdbudget.c). A partition holds a descriptor per segment file once it is first
 * used, and two for its active segment's indexes; nothing before. Whether `more` new partitions
 * fit the process's open-file limit, next to the descriptors open now, BROKER_FDS_PER_PARTITION
 * for each partition not opened yet and for each new one, and BROKER_FD_RESERVE for connections,
 * the journal and the listeners. Returns 0 (also when the limit or the count cannot be read), or
 * HD_ERANGE with a message in *why that says what to raise (valid until the next call). Loop
 * thread. */
#define BROKER_FDS_PER_PARTITION 3
#define BROKER_FD_RESERVE 256
int broker_fd_budget(broker_t *b, int64_t more, const char **why);
int broker_topic_count(const broker_t *b);
broker_topic_t *broker_topic_at(broker_t *b, int i);
const char *broker_topic_name(const broker_topic_t *t);
/* The topic's id (16 bytes, never all zero): random at creation, stable across restarts; a topic
 * re-created under the same name gets a new one. */
const uint8_t *broker_topic_id(const broker_topic_t *t);
broker_topic_t *broker_topic_find_id(broker_t *b, const uint8_t id[16]);
/* A topic id as 32 lowercase hex digits (and a NUL), as topic files store it; and back (false
 * when s is not 32 hex digits). */
void broker_topic_id_hex(const uint8_t id[16], char out[33]);
bool broker_topic_id_parse(const char *s, uint8_t id[16]);
int32_t broker_topic_partitions(const broker_topic_t *t);
broker_partition_t *broker_topic_partition(broker_topic_t *t, int32_t index);
const broker_topic_config_t *broker_topic_config(const broker_topic_t *t);
/* Names and values of every topic setting, for DescribeConfigs. is_default tells whether the
 * value comes from the broker default. Returns the count written (at most max). */
typedef struct broker_config_entry {
    const char *name;
    char value[256];
    bool is_default;
} broker_config_entry_t;
int broker_topic_describe_config(const broker_topic_t *t, broker_config_entry_t *out, int max);

/* Traffic of a topic since the broker started (or the topic was created): records and bytes
 * appended, and records and bytes read out in whole batches (by Kafka fetches, HTTP reads and
 * streams alike). */
typedef struct broker_topic_stats {
    uint64_t records_in, bytes_in;
    uint64_t records_out, bytes_out;
} broker_topic_stats_t;
void broker_topic_stats(const broker_topic_t *t, broker_topic_stats_t *out);

/* ---- partitions ---- */

int64_t broker_partition_hwm(const broker_partition_t *p); /* the durable offset */
int64_t broker_partition_start(const broker_partition_t *p);
int64_t broker_partition_end(const broker_partition_t *p);
broker_topic_t *broker_partition_topic(broker_partition_t *p);
int32_t broker_partition_index(const broker_partition_t *p);
/* DeleteRecords (KIP-107): moves the log start offset up to `offset` (-1: the high watermark),
 * durably (written and fsynced before returning), and deletes the whole segments below it.
 * Fetches below the new start then answer out of range. *low is the log start afterwards (an
 * offset at or below the current start changes nothing). Returns 0, HD_ERANGE (offset above the
 * high watermark or below -1) or -errno. */
int broker_partition_delete_records(broker_partition_t *p, int64_t offset, int64_t *low);
/* Bytes of the partition's segment files. */
int64_t broker_partition_size_bytes(const broker_partition_t *p);
/* Durations of the group-commit sync rounds (the fsync latency producers wait for). */
const hd_hist_t *broker_sync_hist(const broker_t *b);
/* The write-ahead journal's figures (log_journal_stats); false when the journal is off. */
bool broker_journal_stats(const broker_t *b, log_journal_stats_t *out);
/* The partition's sticky sync error (log_partition_error), or 0; a partition not opened yet has
 * none. */
int broker_partition_error(const broker_partition_t *p);

/* Result of one produced batch. */
typedef struct broker_append {
    int64_t base_offset;
    int64_t end_offset;      /* base + count: durable once hwm >= this */
    int64_t log_append_time; /* -1 unless the topic uses LogAppendTime */
    bool duplicate;          /* an idempotent retry: nothing was appended */
} broker_append_t;

/* Validates and appends one RecordBatch (Produce's records field, modified in place: base offset,
 * leader epoch, and for LogAppendTime the timestamp and CRC). api_version is the Produce version
 * (zstd needs 7). Returns 0, or an HD_ code: HD_ECORRUPT (CRC), HD_EMALFORMED (INVALID_RECORD),
 * HD_ETOOBIG (larger than max.message.bytes), HD_EUNSUPPORTED (codec not allowed), HD_ESEQUENCE,
 * HD_EFENCED, or -errno from storage. *why explains. */
int broker_partition_append(broker_partition_t *p, uint8_t *batch, size_t len, int16_t api_version,
                            broker_append_t *res, const char **why);
/* Bracket the appends of one request to several partitions (they nest; loop thread): the syncs
 * that make them durable start at the end, as one round, instead of at the first append (see
 * log_flusher_hold()). */
void broker_appends_begin(broker_t *b);
void broker_appends_end(broker_t *b);
/* A hint that p will be appended to soon, for a request that writes many partitions: call it
 * with level 0, 1 and 2 a few partitions apart (level 2 nearest), each level fetching into the
 * cache what the one before made reachable (the partition, its log, the log's active segment and
 * its producers). Changes nothing. */
void broker_partition_prefetch(const broker_partition_t *p, int level);
/* The same, on behalf of a named client (a Kafka client_id, an HTTP client's id), which the
 * append observer is told. client_id may be NULL (unknown). */
int broker_partition_append_as(broker_partition_t *p, uint8_t *batch, size_t len,
                               int16_t api_version, const char *client_id, broker_append_t *res,
                               const char **why);
/* broker_partition_append_as() for a batch already checked in full (broker_batch_validate()
 * deep, or broker_batch_validate() and a broker_batch_for_each() walk to its end) with the
 * partition's inflation bound, broker_append_max_inflated(): it is not checked again. */
int broker_partition_append_checked(broker_partition_t *p, uint8_t *batch, size_t len,
                                    int16_t api_version, const char *client_id,
                                    broker_append_t *res, const char **why);
/* Appends a batch the broker built from some of a producer's records
 * (broker_batch_build_kept(): the producer's lastOffsetDelta and sequence range, only the kept
 * records, offsets with gaps, perhaps no record at all), checked by broker_batch_validate_kept()
 * instead of broker_batch_validate(). Everything else is as broker_partition_append_as(): the
 * producer's sequence check (a retry of the producer's batch is a duplicate of this one), the
 * topic's compression.type, LogAppendTime. Never for a producer's own bytes. */
int broker_partition_append_kept(broker_partition_t *p, uint8_t *batch, size_t len,
                                 int16_t api_version, const char *client_id, broker_append_t *res,
                                 const char **why);
/* The idempotent-producer check an append makes, without appending: for a batch header `h`
 * whose producer id is set, 0 when the batch may be appended, 0 with dup->duplicate set (and
 * its original offsets) for a retry of a batch already appended, HD_ESEQUENCE or HD_EFENCED.
 * 0 for a batch without a producer id. Loop thread. */
int broker_partition_producer_check(broker_partition_t *p, const broker_batch_hdr_t *h,
                                    broker_append_t *dup, const char **why);
/* The bound on a batch's inflated records that appends to p check against. */
size_t broker_append_max_inflated(const broker_partition_t *p);

/* ---- observing appends ---- */

/* Called on the loop thread after every batch appended to a topic (not to internal logs, not
 * for idempotent duplicates): the partition, the batch as stored, its decoded header and the
 * producing client's id (NULL when unknown). It runs on every produce, so it must be cheap; it
 * must not append, create or delete topics. */
typedef void (*broker_append_observer_fn)(void *ctx, broker_partition_t *p, hd_slice_t batch,
                                          const broker_batch_hdr_t *h, const char *client_id);
/* Installs the observer (one per broker; NULL removes it). Capability modules (obs/) register
 * here so that broker/ never calls them. */
void broker_set_append_observer(broker_t *b, broker_append_observer_fn fn, void *ctx);

/* Copies whole batches from `offset` up to the high watermark, at most max_bytes (the first batch
 * is always whole). Returns bytes copied, or HD_ERANGE when offset is outside [start, hwm]. */
ssize_t broker_partition_read(broker_partition_t *p, int64_t offset, size_t max_bytes,
                              hd_buf_t *out);
/* The same without counting what is read into the topic's records_out/bytes_out: for readers
 * that look at batches without handing them to a consumer as they are (the delivery engine,
 * which reads a batch again for every few records it leases and counts its deliveries itself
 * with broker_topic_count_out(); lag and replay scans). */
ssize_t broker_partition_read_quiet(broker_partition_t *p, int64_t offset, size_t max_bytes,
                                    hd_buf_t *out);
/* Counts records and bytes delivered out of t by a reader that uses the quiet read. */
void broker_topic_count_out(broker_topic_t *t, uint64_t records, uint64_t bytes);
/* The first offset whose record timestamp is >= ts, and that record's timestamp; HD_ENOTFOUND
 * when there is none below the high watermark. */
/* The first record with the largest timestamp below the high watermark (ListOffsets
 * MAX_TIMESTAMP, KIP-734): its offset and timestamp; HD_ENOTFOUND for an empty partition. */
int broker_partition_offset_for_max_time(broker_partition_t *p, int64_t *offset,
                                         int64_t *timestamp);
int broker_partition_offset_for_time(broker_partition_t *p, int64_t ts, int64_t *offset,
                                     int64_t *timestamp);

/* ---- waiting for durability ---- */

/* A waiter fires once the partition's high watermark reaches `target`, or with an error when
 * the partition is deleted or the broker closes. The caller owns the struct (embed it). */
typedef struct broker_waiter broker_waiter_t;
struct broker_waiter {
    broker_waiter_t *_next, *_prev;
    broker_partition_t *_part;
    int64_t target;
    void (*cb)(broker_waiter_t *w, int err);
    void *ctx;
};

/* Registers w (fires immediately, synchronously, if already reached). */
void broker_waiter_add(broker_partition_t *p, broker_waiter_t *w);
/* A topic just created has its partitions' directories and first segment files made by a
 * thread (broker/precreate.c). Returns true if that is still under way: then w->cb(w, err) is
 * called once it is done (err 0), or the topic was deleted or the broker closed meanwhile;
 * false if there is nothing to wait for (w is not used). One waiter per topic. Loop thread. */
bool broker_topic_precreate_wait(broker_topic_t *t, broker_waiter_t *w);
/* Forgets w (its request is gone); t may be NULL or already have answered. */
void broker_topic_precreate_cancel_wait(broker_topic_t *t, broker_waiter_t *w);
/* Unlinks w if still registered; safe to call twice. */
void broker_waiter_cancel(broker_waiter_t *w);
/* Loop thread, after notify: fires every waiter whose target is reached. */
void broker_on_durable(broker_t *b);
/* Applies retention to every partition (loop thread timer). */
void broker_run_retention(broker_t *b, int64_t now_ms);

/* ---- internal logs (the durable state of capability modules, e.g. the schema registry) ---- */

/* Largest batch an internal log accepts, whatever message.max.bytes says. */
#define BROKER_INTERNAL_MAX_BATCH (64 << 20)

/* Opens DATA_DIR/<name>/ (created if missing) as a one-partition log that is not a topic: not
 * listed, not reachable by Kafka or HTTP clients, recovered now like any log (a torn or corrupt
 * tail is cut). name is [a-z0-9_.-], starts with "__" and is not "__consumer_offsets". Append
 * with broker_partition_append(), wait for durability with broker_waiter_add(), read back with
 * broker_partition_read() (after opening, everything up to the log end is durable). The broker
 * owns the log and closes it in broker_close(); opening the same name again returns the same
 * partition. Returns 0, HD_EINVAL (bad name) or -errno. */
int broker_internal_log_open(broker_t *b, const char *name, broker_partition_t **out);

/* A caller-owned internal log: like the above, but at DATA_DIR/<relpath>/ (directories created;
 * relpath starts with "__" and stays inside the data directory), with its own segment size, and
 * owned by the caller, which closes it (or destroys it with its files) before broker_close():
 * for state that comes and goes with its owner, as a subscription's does. Opens and recovers;
 * returns 0 or -errno. */
int broker_internal_open(broker_t *b, const char *relpath, int64_t segment_bytes,
                         broker_partition_t **out);
/* Fires its waiters (HD_ECLOSED, or HD_ENOTFOUND when destroyed), closes the log cleanly (or
 * removes its files with destroy) and frees it. Must come before broker_close(). NULL ok. */
void broker_internal_close(broker_partition_t *p, bool destroy);
/* For both kinds: appends one complete RecordBatch v2 built by the caller (CRC included; the log
 * writes the base offset) and queues it for the flusher. Returns 0 with *end = the offset after the
 * batch (it is durable once the high watermark reaches it), HD_EMALFORMED, HD_ETOOBIG or -errno. */
int broker_internal_append(broker_partition_t *p, uint8_t *batch, size_t len, int64_t *end);
/* For both kinds: deletes the whole segments lying below offset (after a snapshot). Returns the
 * count removed. */
int broker_internal_delete_before(broker_partition_t *p, int64_t offset);

/* ---- idempotent producers ---- */

/* Allocates a fresh producer id (unique across restarts). Returns 0 or -errno. */
int broker_producer_id_next(broker_t *b, int64_t *pid);

#endif
