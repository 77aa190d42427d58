/* Observability: Prometheus metrics of the whole broker (metrics.c), W3C trace context
 * (trace.c), the event catalog (catalog.c) and its AsyncAPI export (asyncapi.c), and the
 * console's history of rates and lag (history.c). The protocol modules report requests, connections
 * and streams here; the rest (topics, partitions, groups, syncs) is read from broker/ when asked,
 * and appends are seen through broker/'s append observer. Loop thread only: the counters are plain
 * integers, so reporting costs no lock and no allocation. */
#ifndef OBS_H
#define OBS_H

#include "broker/broker.h"
#include "broker/records.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/slice.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Records when the broker started (herald_start_time_seconds). */
void obs_init(int64_t start_wall_ms);

/* ---- listeners and connections ---- */

enum { OBS_LISTENER_KAFKA, OBS_LISTENER_HTTP, OBS_LISTENER_COUNT };
void obs_conn_opened(int listener);
void obs_conn_closed(int listener);

/* ---- requests ---- */

/* A Kafka request was answered (or dropped) after ns. api_name must be static. */
void obs_kafka_request(int16_t api_key, const char *api_name, int64_t ns);
/* An HTTP request was answered with `status` after ns. route is the route's pattern (static;
 * "" when no route matched), method the request method's name (static). */
void obs_http_request(const char *route, const char *method, int status, int64_t ns);

/* ---- exposition ---- */

/* Appends every metric in the Prometheus text exposition format (version 0.0.4). */
void obs_metrics_render(broker_t *b, hd_buf_t *out);

/* The broker's own health (health.c): whether it can still make what it is sent durable, in the
 * Health Check Response Format for HTTP APIs (draft-inadarei-api-health-check): "status" pass,
 * warn or fail, and "checks" by component. *fail is set when the status is fail. */
#define OBS_HEALTH_CONTENT_TYPE "application/health+json"
json_t *obs_health_json(broker_t *b, bool *fail);
/* The content type of that format. */
#define OBS_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* ---- event catalog (catalog.c) ---- */

/* Starts observing b's appends (the broker's append observer). With enable false the catalog
 * stays empty and appends cost nothing. */
void obs_catalog_init(broker_t *b, bool enable);
/* Frees everything the catalog holds and stops observing b. */
void obs_catalog_free(broker_t *b);
/* A stream (SSE, WebSocket) on topic opened (delta 1) or closed (delta -1). client is the
 * streaming client's id (NULL when unknown), kind "sse" or "websocket" (static). */
void obs_catalog_stream(const char *topic, const char *client, const char *kind, int delta);

/* A registry schema, as the catalog shows it. Pointers are borrowed for the call. */
typedef struct obs_schema_info {
    const char *subject;
    int32_t version;
    const char *type; /* "AVRO", "JSON", "PROTOBUF" */
    const char *text; /* the schema itself */
} obs_schema_info_t;
/* Looks up a schema id; false when unknown. The catalog does not call the registry itself. */
typedef bool (*obs_schema_resolver_fn)(void *ctx, int32_t id, obs_schema_info_t *out);

/* The catalog as JSON (GET /catalog; docs/catalog.md): every topic with its event types,
 * producers and consumers. resolve may be NULL. Returns a new reference. */
json_t *obs_catalog_json(broker_t *b, obs_schema_resolver_fn resolve, void *ctx);

/* ---- AsyncAPI (asyncapi.c) ---- */

/* An AsyncAPI 3.0.0 document from a catalog (obs_catalog_json's result, borrowed): a channel
 * per topic, a message per event type (with its schema when known), a send operation per
 * topic with producers and a receive operation per topic with consumers. kafka_host and
 * http_host name the servers ("host:port"; NULL leaves that server out). */
json_t *obs_asyncapi(const json_t *catalog, const char *kafka_host, const char *http_host);

/* ---- history of rates and lag, for the console (history.c) ---- */

/* Samples every interval_ms (at least 1000). */
void obs_history_init(int64_t interval_ms);
/* Subscriptions, as the history samples them: obs/ does not call delivery/, so the server
 * hands it a source. count(ctx) says how many there are, at(ctx, i, out) fills one (strings
 * borrowed until the next call). */
typedef struct obs_sub_sample {
    const char *name, *topic;
    int64_t backlog, dead_lettered;
} obs_sub_sample_t;
typedef struct obs_sub_source {
    int (*count)(void *ctx);
    void (*at)(void *ctx, int i, obs_sub_sample_t *out);
    void *ctx;
} obs_sub_source_t;
/* Installs the source (copied; NULL removes it). */
void obs_history_set_subs(const obs_sub_source_t *src);
/* Call often (every 100 ms or so): takes a sample when the interval has passed, and updates
 * the catalog's rates. now_ms is the wall clock. */
void obs_tick(broker_t *b, int64_t now_ms);
/* The samples kept (the last OBS_HISTORY_SLOTS): {"interval_ms", "times": [ms...], "topics":
 * {name: {"in": [records/s...], "out": [...]}}, "groups": {id: {"lag": [records...]}},
 * "subscriptions": {name: {"backlog": [...], "dead_letters": [...]}}}; a series has null where
 * it did not exist. Returns a new reference. */
json_t *obs_history_json(void);
#define OBS_HISTORY_SLOTS 360
/* Topics and groups now, for the console: {"topics": [{name, partitions, records, bytes,
 * in_rate, out_rate, ...}], "groups": [{group, state, members, lag, partitions: [...]}]}. */
json_t *obs_overview_json(broker_t *b);

/* ---- architecture health (doctor.c; docs/doctor.md) ---- */

/* The registry refused an incompatible registration under subject (HTTP 409): a breaking
 * change attempted. Counted per subject since the broker started. */
void obs_doctor_incompatible(const char *subject);
/* Frees those counts. */
void obs_doctor_free(void);
/* Whether the registry has a live version under subject. */
typedef bool (*obs_subject_exists_fn)(void *ctx, const char *subject);
/* The topic of the subscription called name, or NULL when there is none (any more). */
typedef const char *(*obs_sub_topic_fn)(void *ctx, const char *name);
/* The architecture check as JSON (GET /health/architecture): {"status": "ok" | "warning" |
 * "error", "counts", "checks", "thresholds", "trace_context", "findings": [{check, category,
 * severity, message, and the topic, type, group, subscription, subject, producers or consumers
 * behind it}]}. catalog is obs_catalog_json's result with the subscriptions added as consumers
 * (each may carry "filter_type"), borrowed. The callbacks may be NULL (no registry: every type
 * lacks a schema; no subscriptions). Returns a new reference. */
json_t *obs_doctor_json(broker_t *b, const json_t *catalog, obs_subject_exists_fn has_subject,
                        void *hctx, obs_sub_topic_fn sub_topic, void *sctx);

/* ---- trace context (trace.c) ---- */

/* W3C Trace Context: a traceparent header "00-<32 hex trace-id>-<16 hex parent-id>-<2 hex
 * flags>", lowercase hex, trace-id and parent-id not all zero. */
#define OBS_TRACEPARENT_LEN 55
#define OBS_TRACESTATE_MAX 512

typedef struct obs_trace_ctx {
    uint8_t trace_id[16];
    uint8_t parent_id[8];
    uint8_t flags;
} obs_trace_ctx_t;

/* Parses s[0..n) as a traceparent value, strictly: version 00 is exactly 55 characters; a
 * later version (01..fe) is accepted when its first 55 characters have the same form and the
 * next one, if any, is '-' (the spec's rule for versions a parser does not know); version ff,
 * uppercase hex, all-zero ids and any other shape are refused. Returns true and fills *out (may
 * be NULL) when valid. */
bool obs_traceparent_parse(const char *s, size_t n, obs_trace_ctx_t *out);
/* s[0..n) is a tracestate value worth carrying: 1..512 characters, printable ASCII, at most 32
 * comma-separated list members each "key=value" (or empty, which the spec allows). */
bool obs_tracestate_valid(const char *s, size_t n);
/* The trace context of a stored record: its "traceparent" header when valid, else its
 * "ce_traceparent" header (a CloudEvent's distributed-tracing extension). */
bool obs_record_trace(const broker_record_t *rec, obs_trace_ctx_t *out);

/* ---- end-to-end latency (trace.c) ---- */

/* How records left the broker, for herald_e2e_latency_seconds{kind}. */
enum {
    OBS_DELIVERY_KAFKA,     /* Kafka Fetch */
    OBS_DELIVERY_HTTP_READ, /* GET /topics/{topic}/records and /events */
    OBS_DELIVERY_SSE,
    OBS_DELIVERY_WS,
    OBS_DELIVERY_SUBSCRIPTION, /* POST /subscriptions/{name}/receive; group = the subscription */
    OBS_DELIVERY_KINDS
};
/* Records were delivered whose newest timestamp is max_ts_ms (epoch ms): one observation of
 * now - max_ts_ms per batch or per answer, under (kind, group). group "" when not known. */
void obs_e2e_observe(int kind, const char *group, int64_t max_ts_ms);
/* The same for a chunk of stored RecordBatches (as read from a partition): observes the largest
 * MaxTimestamp among the chunk's batches once. */
void obs_e2e_observe_batches(int kind, const char *group, hd_slice_t batches);

/* ---- span export, OTLP/HTTP JSON (otlp.c) ---- */

/* Starts the exporter thread when otel.exporter.otlp.endpoint is set. Returns 0, or HD_EINVAL
 * (with *why) for an endpoint that is not http(s)://HOST[:PORT][/path]. Main thread, once. */
int obs_otlp_start(const hd_config_t *cfg, const char **why);
/* Sends what is queued (for at most a few seconds) and stops the thread. */
void obs_otlp_stop(void);
/* Spans are being exported: callers skip the work of finding trace context when false. */
extern bool obs_otlp_on;

/* What the broker did with some records, for their spans. Strings are borrowed for the call. */
typedef struct obs_span_op {
    bool deliver;             /* false: records were produced; true: delivered */
    const char *via;          /* "kafka", "http", "sse", "ws" */
    const char *topic;        /* messaging.destination.name */
    int32_t partition;        /* messaging.destination.partition.id */
    const char *client_id;    /* messaging.client.id, or NULL */
    const char *group;        /* messaging.consumer.group.name, or NULL / "" */
    const char *subscription; /* messaging.destination.subscription.name, or NULL */
    int64_t start_ns;         /* when the request arrived (hd_mono_ns clock) */
    int64_t base_offset;      /* >= 0: the offset of the first batch's first record (its header may
                               * still say 0); -1: the headers are right */
    int64_t from_offset;      /* records below this offset are skipped (fetches start mid-batch) */
} obs_span_op_t;

/* Makes spans for the records of the RecordBatches in `batches` that carry trace context: one
 * span per run of consecutive records with the same traceparent, rate-limited by
 * otel.spans.per.second and queued for the exporter thread (dropped and counted when the queue
 * is full). A no-op when export is off. Loop thread only. */
void obs_trace_batches(const obs_span_op_t *op, hd_slice_t batches);
/* One span for n records produced or delivered under the trace context tc (HTTP requests). */
void obs_trace_span(const obs_span_op_t *op, const obs_trace_ctx_t *tc, int64_t first_offset,
                    int n);

/* Appends the tracing and end-to-end latency metrics (called by obs_metrics_render). */
void obs__trace_render(hd_buf_t *out);
/* Helpers shared by the renderers in obs/ (metrics.c). */
void obs__family(hd_buf_t *out, const char *name, const char *type, const char *help);
void obs__label(hd_buf_t *out, const char *v);
/* otlp.c: the exporter's counters. */
void obs__otlp_render(hd_buf_t *out);

#endif
