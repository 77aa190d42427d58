/* Configuration: one X-macro table (Kafka's name where Kafka has the setting, type, default, range,
 * command-line flag, HERALD_* environment variable, help). Flags, environment, the properties
 * file, `--help` and docs/config.md are all generated from it. Read-only after startup. */
#ifndef HD_CONFIG_H
#define HD_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* X(type, member, "kafka.name", "flag", "ENV", default, min, max, "help")
 * type is INT (int64_t), BOOL or STR (char *, heap). Strings ignore min and max. */
#define HD_CONFIG_TABLE(X)                                                                         \
    X(STR, kafka_addr, "listeners", "kafka-addr", "HERALD_KAFKA_ADDR", "127.0.0.1:9092", 0, 0,     \
      "Kafka protocol listener, HOST:PORT (a PLAINTEXT:// prefix is accepted)")                    \
    X(STR, advertised_addr, "advertised.listeners", "advertised-addr", "HERALD_ADVERTISED_ADDR",   \
      "", 0, 0,                                                                                    \
      "HOST:PORT clients are told to connect to; default: the listener, or this host's name "      \
      "when the listener binds a wildcard address")                                                \
    X(STR, http_addr, "http.listeners", "http-addr", "HERALD_HTTP_ADDR", "127.0.0.1:8080", 0, 0,   \
      "HTTP listener (REST, CloudEvents, SSE, WebSocket), HOST:PORT; empty: no HTTP listener")     \
    X(STR, registry_addr, "registry.listeners", "registry-addr", "HERALD_REGISTRY_ADDR", "", 0, 0, \
      "A second HTTP listener for the schema registry's REST API, HOST:PORT (tools expect "        \
      "8081); empty: none. The HTTP listener serves the registry either way")                      \
    X(INT, http_max_request_bytes, "http.max.request.bytes", "http-max-request-bytes",             \
      "HERALD_HTTP_MAX_REQUEST_BYTES", 16777216, 1024, 1073741824,                                 \
      "Largest HTTP request body (413 above it)")                                                  \
    X(INT, http_idle_timeout_ms, "http.idle.timeout.ms", "http-idle-timeout-ms",                   \
      "HERALD_HTTP_IDLE_TIMEOUT_MS", 60000, 100, 86400000,                                         \
      "Close an HTTP connection idle this long between requests, or this slow to send one")        \
    X(INT, http_stream_buffer_bytes, "http.stream.buffer.bytes", "http-stream-buffer-bytes",       \
      "HERALD_HTTP_STREAM_BUFFER_BYTES", 262144, 4096, 67108864,                                   \
      "Unsent bytes a stream (SSE, WebSocket) may queue for a slow client before it stops "        \
      "reading the log for that client")                                                           \
    X(INT, http_stream_stall_timeout_ms, "http.stream.stall.timeout.ms",                           \
      "http-stream-stall-timeout-ms", "HERALD_HTTP_STREAM_STALL_TIMEOUT_MS", 30000, 100, 86400000, \
      "Close a stream whose client has accepted no bytes for this long while its buffer is full "  \
      "(the client resumes from its last event id)")                                               \
    X(INT, http_stream_heartbeat_ms, "http.stream.heartbeat.ms", "http-stream-heartbeat-ms",       \
      "HERALD_HTTP_STREAM_HEARTBEAT_MS", 15000, 100, 3600000,                                      \
      "Interval of SSE heartbeat comments and WebSocket pings on quiet streams")                   \
    X(STR, data_dir, "log.dirs", "data-dir", "HERALD_DATA_DIR", "./data", 0, 0,                    \
      "Directory holding topics and metadata")                                                     \
    X(INT, node_id, "node.id", "node-id", "HERALD_NODE_ID", 1, 0, 2147483647,                      \
      "This broker's id, reported in Metadata")                                                    \
    X(INT, num_partitions, "num.partitions", "num-partitions", "HERALD_NUM_PARTITIONS", 1, 1,      \
      100000, "Partitions of an auto-created topic")                                               \
    X(BOOL, auto_create_topics, "auto.create.topics.enable", "auto-create-topics",                 \
      "HERALD_AUTO_CREATE_TOPICS_ENABLE", 1, 0, 1,                                                 \
      "Create unknown topics named in Metadata or Produce requests")                               \
    X(INT, message_max_bytes, "message.max.bytes", "message-max-bytes",                            \
      "HERALD_MESSAGE_MAX_BYTES", 1048588, 64, 1073741824,                                         \
      "Largest record batch accepted (MESSAGE_TOO_LARGE above it)")                                \
    X(INT, request_max_bytes, "socket.request.max.bytes", "request-max-bytes",                     \
      "HERALD_SOCKET_REQUEST_MAX_BYTES", 104857600, 1024, 1073741824,                              \
      "Largest request frame; a larger size field closes the connection")                          \
    X(INT, segment_bytes, "log.segment.bytes", "segment-bytes", "HERALD_LOG_SEGMENT_BYTES",        \
      1073741824, 1048576, 2147483647, "Roll to a new segment file at this size")                  \
    X(INT, roll_ms, "log.roll.ms", "roll-ms", "HERALD_LOG_ROLL_MS", 604800000, 1, INT64_MAX,       \
      "Roll to a new segment when a batch's timestamp is this far past the segment's first one "   \
      "(wall clock for batches without timestamps)")                                               \
    X(INT, retention_ms, "log.retention.ms", "retention-ms", "HERALD_LOG_RETENTION_MS", 604800000, \
      -1, INT64_MAX, "Delete segments older than this (-1: keep forever)")                         \
    X(INT, retention_bytes, "log.retention.bytes", "retention-bytes",                              \
      "HERALD_LOG_RETENTION_BYTES", -1, -1, INT64_MAX,                                             \
      "Delete oldest segments while a partition is larger than this (-1: no limit)")               \
    X(INT, retention_check_ms, "log.retention.check.interval.ms", "retention-check-ms",            \
      "HERALD_LOG_RETENTION_CHECK_INTERVAL_MS", 300000, 100, INT64_MAX,                            \
      "How often retention runs")                                                                  \
    X(INT, index_interval_bytes, "log.index.interval.bytes", "index-interval-bytes",               \
      "HERALD_LOG_INDEX_INTERVAL_BYTES", 4096, 1, 1073741824,                                      \
      "Bytes between entries of the sparse offset index")                                          \
    X(BOOL, preallocate, "log.preallocate", "preallocate", "HERALD_LOG_PREALLOCATE", 1, 0, 1,      \
      "Preallocate segment space ahead of writes, in steps from 64 KiB doubling to 16 MiB (an "    \
      "fsync is cheaper when the file size does not change); below 32 MiB/s per partition, also "  \
      "write zeros a little ahead of the data, so syncs overwrite initialized blocks")             \
    X(BOOL, journal, "log.journal.enable", "journal", "HERALD_LOG_JOURNAL_ENABLE", 1, 0, 1,        \
      "Record batches in one write-ahead journal per data directory and sync only it per group "   \
      "commit, whatever the number of partitions written; segments are synced by checkpoints, "    \
      "and recovery replays the journal from the last one. Partitions whose group commits carry "  \
      "many bytes write straight to their segments instead (log.journal.direct.bytes)")            \
    X(INT, journal_file_bytes, "log.journal.file.bytes", "journal-file-bytes",                     \
      "HERALD_LOG_JOURNAL_FILE_BYTES", 67108864, 1048576, 1073741824,                              \
      "Size of each preallocated journal file")                                                    \
    X(INT, journal_direct_bytes, "log.journal.direct.bytes", "journal-direct-bytes",               \
      "HERALD_LOG_JOURNAL_DIRECT_BYTES", -3, -3, 1073741824,                                       \
      "With the journal: a partition that was appended at least this many bytes in its last "      \
      "group commit writes its batches straight to its segment, synced by it as without a "        \
      "journal, instead of writing them twice; -3: the threshold each group commit's cost model "  \
      "picks (sync per partition against the second write per byte); 0: always direct; -1: "       \
      "never, every batch journaled; -2: alternate at every batch (tests)")                        \
    X(INT, checkpoint_interval_ms, "log.recovery.checkpoint.interval.ms",                          \
      "checkpoint-interval-ms", "HERALD_LOG_RECOVERY_CHECKPOINT_INTERVAL_MS", 10000, 100,          \
      86400000,                                                                                    \
      "With the journal: sync the segments and move the replay start at least this often (while "  \
      "anything was written), which bounds recovery after a crash")                                \
    X(INT, checkpoint_interval_bytes, "log.recovery.checkpoint.interval.bytes",                    \
      "checkpoint-interval-bytes", "HERALD_LOG_RECOVERY_CHECKPOINT_INTERVAL_BYTES", 268435456,     \
      1048576, INT64_MAX,                                                                          \
      "With the journal: also checkpoint once this many bytes were written since the last "        \
      "checkpoint (journal records, and batches written straight to their segments)")              \
    X(INT, max_connections, "max.connections", "max-connections", "HERALD_MAX_CONNECTIONS", 10000, \
      1, 1000000, "Connections accepted at once; more are closed on accept")                       \
    X(INT, validation_threads, "schema.validation.threads", "validation-threads",                  \
      "HERALD_SCHEMA_VALIDATION_THREADS", 0, 0, 64,                                                \
      "Worker threads that check produced records against the schema registry, away from the "     \
      "event loop; one request's records (a Kafka Produce, an HTTP produce) are split over them "  \
      "(0: one per CPU, at most 8)")                                                               \
    X(INT, producer_id_expiration_ms, "producer.id.expiration.ms", "producer-id-expiration-ms",    \
      "HERALD_PRODUCER_ID_EXPIRATION_MS", 86400000, 1, INT64_MAX,                                  \
      "Forget an idle idempotent producer's sequence state after this")                            \
    X(INT, group_initial_rebalance_delay_ms, "group.initial.rebalance.delay.ms",                   \
      "group-initial-rebalance-delay-ms", "HERALD_GROUP_INITIAL_REBALANCE_DELAY_MS", 200, 0,       \
      300000, "How long the first rebalance of an empty group waits for more members to join")     \
    X(INT, group_min_session_timeout_ms, "group.min.session.timeout.ms",                           \
      "group-min-session-timeout-ms", "HERALD_GROUP_MIN_SESSION_TIMEOUT_MS", 6000, 1, 86400000,    \
      "Smallest session.timeout.ms a consumer may ask for (INVALID_SESSION_TIMEOUT below)")        \
    X(INT, group_max_session_timeout_ms, "group.max.session.timeout.ms",                           \
      "group-max-session-timeout-ms", "HERALD_GROUP_MAX_SESSION_TIMEOUT_MS", 1800000, 1, 86400000, \
      "Largest session.timeout.ms a consumer may ask for")                                         \
    X(INT, group_consumer_session_timeout_ms, "group.consumer.session.timeout.ms",                 \
      "group-consumer-session-timeout-ms", "HERALD_GROUP_CONSUMER_SESSION_TIMEOUT_MS", 45000,      \
      1000, 86400000,                                                                              \
      "Session timeout of members of consumer-protocol (KIP-848) groups: a member that "           \
      "sends no heartbeat for this long is removed and its partitions move")                       \
    X(INT, group_consumer_heartbeat_interval_ms, "group.consumer.heartbeat.interval.ms",           \
      "group-consumer-heartbeat-interval-ms", "HERALD_GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS", 5000, \
      100, 86400000, "Heartbeat interval given to members of consumer-protocol (KIP-848) groups")  \
    X(INT, group_consumer_max_size, "group.consumer.max.size", "group-consumer-max-size",          \
      "HERALD_GROUP_CONSUMER_MAX_SIZE", 1000, 1, 100000,                                           \
      "Most members a consumer-protocol group may have (GROUP_MAX_SIZE_REACHED beyond)")           \
    X(INT, group_share_session_timeout_ms, "group.share.session.timeout.ms",                       \
      "group-share-session-timeout-ms", "HERALD_GROUP_SHARE_SESSION_TIMEOUT_MS", 45000, 1000,      \
      86400000,                                                                                    \
      "Session timeout of share-group (KIP-932) members: a member that sends no "                  \
      "heartbeat for this long is removed and the records it holds are released")                  \
    X(INT, group_share_heartbeat_interval_ms, "group.share.heartbeat.interval.ms",                 \
      "group-share-heartbeat-interval-ms", "HERALD_GROUP_SHARE_HEARTBEAT_INTERVAL_MS", 5000, 100,  \
      86400000, "Heartbeat interval given to share-group (KIP-932) members")                       \
    X(INT, group_share_record_lock_duration_ms, "group.share.record.lock.duration.ms",             \
      "group-share-record-lock-duration-ms", "HERALD_GROUP_SHARE_RECORD_LOCK_DURATION_MS", 30000,  \
      1000, 3600000,                                                                               \
      "Acquisition lock of records fetched by share-group members (the ack "                       \
      "timeout of the subscriptions share groups create); an expired lock makes the record "       \
      "deliverable again")                                                                         \
    X(INT, group_share_delivery_count_limit, "group.share.delivery.count.limit",                   \
      "group-share-delivery-count-limit", "HERALD_GROUP_SHARE_DELIVERY_COUNT_LIMIT", 5, 2, 10,     \
      "Deliveries of a record to a share group before it goes to the dead-letter topic (the "      \
      "max_deliveries of the subscriptions share groups create)")                                  \
    X(BOOL, group_share_start_earliest, "group.share.start.earliest",                              \
      "group-share-start-earliest", "HERALD_GROUP_SHARE_START_EARLIEST", 0, 0, 1,                  \
      "Whether a share group's subscription created on its first heartbeat starts at the "         \
      "earliest offset (else at the end of the topic, as Kafka's share.auto.offset.reset=latest)") \
    X(INT, offset_metadata_max_bytes, "offset.metadata.max.bytes", "offset-metadata-max-bytes",    \
      "HERALD_OFFSET_METADATA_MAX_BYTES", 4096, 0, 1048576,                                        \
      "Longest metadata string of a committed offset (OFFSET_METADATA_TOO_LARGE above)")           \
    X(INT, offsets_retention_minutes, "offsets.retention.minutes", "offsets-retention-minutes",    \
      "HERALD_OFFSETS_RETENTION_MINUTES", 10080, 1, 52560000,                                      \
      "Minutes a group without members keeps its committed offsets: each one is deleted this "     \
      "long after the later of its commit and the moment the group became empty")                  \
    X(INT, offsets_topic_num_partitions, "offsets.topic.num.partitions",                           \
      "offsets-topic-num-partitions", "HERALD_OFFSETS_TOPIC_NUM_PARTITIONS", 50, 1, 1000,          \
      "Partitions of __consumer_offsets when the data directory is created (fixed afterwards, as " \
      "in Kafka): a group's records go to the partition Kafka would pick for this count")          \
    X(INT, offsets_segment_bytes, "offsets.topic.segment.bytes", "offsets-segment-bytes",          \
      "HERALD_OFFSETS_TOPIC_SEGMENT_BYTES", 16777216, 65536, 1073741824,                           \
      "Segment size of each partition of __consumer_offsets; a partition is compacted into one "   \
      "snapshot once it is larger than this and twice its last snapshot")                          \
    X(BOOL, catalog_enable, "catalog.enable", "catalog-enable", "HERALD_CATALOG_ENABLE", 1, 0, 1,  \
      "Keep the event catalog (GET /catalog): classify every appended record by its event type")   \
    X(INT, console_sample_interval_ms, "console.sample.interval.ms", "console-sample-interval-ms", \
      "HERALD_CONSOLE_SAMPLE_INTERVAL_MS", 10000, 1000, 3600000,                                   \
      "How often the console's history (rates and lag, the last 360 samples) takes a sample")      \
    X(STR, log_level, "log.level", "log-level", "HERALD_LOG_LEVEL", "info", 0, 0,                  \
      "Diagnostics level: error, warn, info or debug")                                             \
    X(STR, log_format, "log.format", "log-format", "HERALD_LOG_FORMAT", "text", 0, 0,              \
      "Diagnostics format: text (one line per event) or json (one JSON object per line: ts, "      \
      "level, msg and the event's fields)")                                                        \
    X(STR, otlp_endpoint, "otel.exporter.otlp.endpoint", "otlp-endpoint", "HERALD_OTLP_ENDPOINT",  \
      "", 0, 0,                                                                                    \
      "OpenTelemetry collector to export produce and delivery spans to, as OTLP/HTTP JSON: "       \
      "http://HOST:PORT (spans go to /v1/traces under it); empty: no export")                      \
    X(INT, otlp_spans_per_second, "otel.spans.per.second", "otlp-spans-per-second",                \
      "HERALD_OTLP_SPANS_PER_SECOND", 1000, 1, 1000000,                                            \
      "Most spans made per second for export (bursts up to this many); the rest are dropped "      \
      "and counted")

typedef struct hd_config {
#define HD_CONFIG_FIELD_INT(m) int64_t m;
#define HD_CONFIG_FIELD_BOOL(m) bool m;
#define HD_CONFIG_FIELD_STR(m) char *m;
#define HD_CONFIG_FIELD(type, m, key, flag, env, def, lo, hi, help) HD_CONFIG_FIELD_##type(m)
    HD_CONFIG_TABLE(HD_CONFIG_FIELD)
#undef HD_CONFIG_FIELD
#undef HD_CONFIG_FIELD_INT
#undef HD_CONFIG_FIELD_BOOL
#undef HD_CONFIG_FIELD_STR
} hd_config_t;

/* Fills defaults. Pair with hd_config_deinit(). */
void hd_config_init(hd_config_t *c);
void hd_config_deinit(hd_config_t *c);
/* Sets one setting by its Kafka name or flag name. Returns 0, HD_ENOTFOUND (unknown key) or
 * HD_EINVAL (bad value or out of range; *why says which). */
int hd_config_set(hd_config_t *c, const char *key, const char *value, const char **why);
/* Parses a properties file's text (key=value or key: value, # and ! comments). On error returns
 * HD_EINVAL/HD_ENOTFOUND and sets *line_no to the offending line. */
int hd_config_parse_properties(hd_config_t *c, const char *text, size_t len, int *line_no,
                               const char **why);
/* Applies every HERALD_* variable found in the environment. Returns 0 or the first error, naming
 * the variable in *bad_env. */
int hd_config_apply_env(hd_config_t *c, const char **bad_env, const char **why);
/* Prints `--flag VALUE  help (default)` lines, and the Markdown table for docs/config.md. */
void hd_config_print_help(FILE *out);
void hd_config_print_markdown(FILE *out);
/* One setting as text, for DescribeConfigs. */
typedef struct hd_config_entry {
    const char *name; /* Kafka name */
    char value[256];
    bool is_default;
} hd_config_entry_t;
/* Writes up to max entries; returns the count. */
int hd_config_entries(const hd_config_t *c, hd_config_entry_t *out, int max);
/* Looks a flag up by its name (without dashes). Returns true and whether it is a BOOL. */
bool hd_config_has_flag(const char *flag, bool *is_bool);

#endif
