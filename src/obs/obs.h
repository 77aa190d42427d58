/* Observability: Prometheus metrics of the whole broker. The protocol modules report requests
 * and connections here; the rest (topics, partitions, groups, syncs) is read from broker/ when
 * /metrics is scraped. Loop thread only: the counters are plain integers, so reporting costs no
 * lock and no allocation. */
#ifndef OBS_H
#define OBS_H

#include "broker/broker.h"
#include "util/buf.h"

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

#endif
