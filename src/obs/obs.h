/* Observability: Prometheus metrics of the whole broker (metrics.c), the event catalog
 * (catalog.c) and its AsyncAPI export (asyncapi.c), and the console's history of rates and lag
 * (history.c). The protocol modules report requests, connections and streams here; the rest
 * (topics, partitions, groups, syncs) is read from broker/ when asked, and appends are seen
 * through broker/'s append observer. Loop thread only: the counters are plain integers, so
 * reporting costs no lock and no allocation. */
#ifndef OBS_H
#define OBS_H

#include "broker/broker.h"
#include "util/buf.h"

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
/* Call often (every 100 ms or so): takes a sample when the interval has passed, and updates
 * the catalog's rates. now_ms is the wall clock. */
void obs_tick(broker_t *b, int64_t now_ms);
/* The samples kept (the last OBS_HISTORY_SLOTS): {"interval_ms", "times": [ms...], "topics":
 * {name: {"in": [records/s...], "out": [...]}}, "groups": {id: {"lag": [records...]}}}; a
 * series has null where it did not exist. Returns a new reference. */
json_t *obs_history_json(void);
#define OBS_HISTORY_SLOTS 360
/* Topics and groups now, for the console: {"topics": [{name, partitions, records, bytes,
 * in_rate, out_rate, ...}], "groups": [{group, state, members, lag, partitions: [...]}]}. */
json_t *obs_overview_json(broker_t *b);

#endif
