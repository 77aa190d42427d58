/* Private to http/: connections, requests, responses, routing, and the handlers per resource.
 * Loop thread only.
 *
 * A request's life: conn.c parses it (http-parser) into an http_req_t, router.c finds the
 * handler, and the handler answers with http_respond*() or http_problem(), at once or later
 * (after a durability wait or a long poll). One request per connection is handled at a time:
 * pipelined requests wait, unparsed, in the input buffer, so answers go out in order. A handler
 * that answers later sets r->on_abort, which is called instead if the connection closes first,
 * and may arm the request's timer with http_req_arm_timer(). A stream (SSE, WebSocket) takes the
 * connection over with http_conn_takeover() and then writes to it directly. */
#ifndef HTTP_INT_H
#define HTTP_INT_H

#include "broker/broker.h"
#include "http/http.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/slice.h"

#include <http_parser.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define HTTP_MAX_HEADERS 100
#define HTTP_MAX_HEADER_BYTES 16384 /* request line and headers together */
#define HTTP_MAX_URL 8192
#define HTTP_MAX_PARAMS 4
/* Unsent answer bytes above which a connection stops reading further requests. */
#define HTTP_MAX_WRITE_BYTES (8u << 20)

typedef struct http_conn http_conn_t;
typedef struct http_req http_req_t;

typedef struct http_header {
    const char *name; /* as sent; compare with strcasecmp */
    const char *value;
} http_header_t;

struct http_req {
    http_conn_t *conn;
    http_server_t *srv;
    broker_t *broker;
    const hd_config_t *cfg;
    hd_arena_t arena; /* everything of this request; freed after the answer is queued */
    int method;       /* enum http_method (HEAD is routed as GET, with no body sent) */
    bool head;        /* the request was HEAD */
    char *path;       /* raw path, without the query */
    char *query;      /* raw query string (after '?'), or NULL */
    http_header_t *headers;
    int nheaders;
    hd_buf_t body;
    const char *params[HTTP_MAX_PARAMS]; /* {} segments of the route, percent-decoded */
    int nparams;
    /* Deferred answers. on_abort is called (instead of an answer) when the connection closes
     * or the server stops while the request is pending: cancel waiters, free state. on_timer
     * fires once after http_req_arm_timer(); on shutdown it fires early so long polls answer. */
    void (*on_abort)(http_req_t *r);
    void (*on_timer)(http_req_t *r);
    void *state;
    bool answered;
    bool taken_over;
    const char *route; /* the matched route's pattern ("" when none), for metrics */
    int64_t t0_ns;     /* when the request was complete, for metrics */
    hd_buf_t extra;    /* extra response header lines, "Name: value\r\n" each */
};

/* ---- answers (conn.c, respond.c) ---- */

/* Queues the answer: status line, Content-Type (when given), Content-Length, the extra headers
 * and the body (copied). Exactly one answer per request; the request is freed afterwards, so r
 * must not be used after this call. */
void http_respond(http_req_t *r, int status, const char *content_type, const void *body,
                  size_t len);
/* Answers with j encoded compactly as application/json (or the given type). Steals j. */
void http_respond_json(http_req_t *r, int status, json_t *j);
void http_respond_json_type(http_req_t *r, int status, const char *content_type, json_t *j);
/* Answers with an RFC 9457 problem: application/problem+json {type, title, status, detail,
 * instance}. detail is printf-style; peer text in it is escaped by the JSON encoder. */
void http_problem(http_req_t *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Adds "name: value" to the answer's headers (before http_respond). */
void http_req_add_header(http_req_t *r, const char *name, const char *value);
/* The reason phrase of a status code ("Not Found"). */
const char *http_status_text(int status);

/* ---- reading the request (respond.c) ---- */

/* The first header of that name (case-insensitive), or NULL. */
const char *http_req_header(const http_req_t *r, const char *name);
/* A query parameter, percent-decoded ('+' is a space), or NULL when absent. A parameter given
 * without '=' is "". */
const char *http_query(http_req_t *r, const char *name);
/* Parses an integer query parameter in [min, max]; absent gives def. On a bad value answers 400
 * and returns HD_EINVAL (the request is then answered: return from the handler). */
int http_query_int(http_req_t *r, const char *name, int64_t def, int64_t min, int64_t max,
                   int64_t *out);
/* The media type of Content-Type, lowercased, without parameters ("" when absent). */
const char *http_req_media_type(http_req_t *r);
/* Parses the body as JSON. Checks the media type is JSON-like (application/json or +json, or
 * none) else answers 415; on bad JSON answers 400 naming line and column. Returns NULL when it
 * answered. The caller owns the result. */
json_t *http_req_json(http_req_t *r);
/* Who is calling, for the event catalog: the Herald-Client-Id header, else the ?client_id
 * query parameter (for browsers' EventSource and WebSocket, which cannot set headers), else the
 * User-Agent, else NULL. */
const char *http__client_id(http_req_t *r);
/* Percent-decodes s (n bytes) into the arena; '+' becomes a space when plus_space. NULL when an
 * escape is malformed or decodes to NUL. */
char *http_pct_decode(hd_arena_t *a, const char *s, size_t n, bool plus_space);

/* ---- deferred answers (conn.c) ---- */

/* Fires r->on_timer once after ms (re-arming replaces the previous deadline). */
void http_req_arm_timer(http_req_t *r, int64_t ms);
void http_req_stop_timer(http_req_t *r);

/* ---- streams (conn.c) ---- */

typedef struct http_stream_ops {
    /* Bytes read from the client after the takeover (WebSocket frames). */
    void (*on_read)(void *ctx, const uint8_t *p, size_t n);
    /* Unsent bytes fell below the stream buffer limit (or to zero). */
    void (*on_drain)(void *ctx);
    /* The server is stopping: say goodbye (e.g. a WebSocket close frame), then
     * http_conn_end(). */
    void (*on_shutdown)(void *ctx);
    /* The connection is closing (peer gone, error, or http_conn_close): free ctx. No more calls
     * follow, and the conn must not be used. */
    void (*on_close)(void *ctx);
} http_stream_ops_t;

/* Hands the connection to a stream. The request is finished (freed: copy what you need from it
 * first); from now on the stream writes its own bytes, the response head included. Input that
 * follows the request goes to ops->on_read. The idle timeout no longer applies. */
http_conn_t *http_conn_takeover(http_req_t *r, const http_stream_ops_t *ops, void *ctx);
/* Queues bytes (copied). Returns 0 or HD_ECLOSED when the connection is closing. */
int http_conn_write(http_conn_t *c, const void *p, size_t n);
/* Queues the whole buffer without copying: takes its memory and leaves b empty. */
int http_conn_write_buf(http_conn_t *c, hd_buf_t *b);
/* Bytes queued and not yet written to the socket. */
size_t http_conn_pending(const http_conn_t *c);
/* Closes at once (pending bytes are dropped). on_close follows. */
void http_conn_close(http_conn_t *c);
/* Closes once the pending bytes are written. */
void http_conn_end(http_conn_t *c);
const char *http_conn_peer(const http_conn_t *c);
broker_t *http_conn_broker(const http_conn_t *c);
const hd_config_t *http_conn_config(const http_conn_t *c);
uv_loop_t *http_conn_loop(const http_conn_t *c);

/* ---- routing (router.c) ---- */

/* Finds the route for r->method and r->path, fills r->params and calls the handler; answers
 * 404 or 405 (with Allow) when there is none. */
void http__route(http_req_t *r);

/* ---- records as JSON (records_json.c) ---- */

/* Appends j as compact JSON text, reals with the fewest digits that read back as the same
 * double (jansson's own printer gives 17: 9.99 would become 9.9900000000000002). Returns 0, or
 * HD_EINVAL for a non-finite real. */
int http__json_dump(json_t *j, hd_buf_t *out);

/* Renders a stored record as the API's JSON object: {"partition", "offset", "timestamp",
 * "key" or "key_b64", "value" or "value_b64", "headers"}. A key or value that is valid JSON text
 * is embedded as that JSON value; other valid UTF-8 as a JSON string; any other bytes as
 * standard base64 under key_b64 / value_b64; a null key or value is JSON null. Headers are an
 * object of name -> string; a header whose value is not valid UTF-8 goes, base64-encoded, into
 * a "headers_b64" object instead; a null header value is JSON null; a later duplicate name
 * wins. Returns a new reference. */
json_t *http__record_json(int32_t partition, const broker_record_t *rec);

/* record_fast.c: appends the JSON text of http__json_dump(http__record_json(partition, rec)) to
 * out without building a tree, for the usual records (keys and values that are not JSON text,
 * headers with distinct UTF-8 names). Returns 0, or 1 (out unchanged) when it declines: then
 * render with http__record_json. */
int http__record_json_fast(int32_t partition, const broker_record_t *rec, hd_buf_t *out);
/* record_fast.c: appends p[0..n) (valid UTF-8) as a JSON string, escaped as http__json_dump
 * escapes strings. */
void http__json_put_string(hd_buf_t *out, const void *p, size_t n);

/* Decodes the API's JSON form of a record to produce ({"key" | "key_b64", "value" |
 * "value_b64", "headers", "partition", "timestamp"}) into `out`, allocating in r->arena. A JSON
 * string is stored as its UTF-8 characters (so a Kafka consumer, and the key partitioner, see
 * o-1, not "o-1"); any other JSON value as its compact JSON text; null as a null key or value.
 * Header values are strings (or null). The timestamp defaults to now. *partition is -1 when
 * absent. Returns 0, or HD_EINVAL with a static reason in *why. */
int http__record_from_json(http_req_t *r, json_t *j, broker_record_in_t *out, int32_t *partition,
                           const char **why);

/* ---- producing (produce.c) ---- */

/* One record to produce and its target partition: >= 0 explicit, -1 chosen by key (Kafka's
 * murmur2 partitioner, as the Java client), or spread round-robin when the key is null. */
typedef struct http_produce_rec {
    broker_record_in_t rec;
    int32_t partition;
} http_produce_rec_t;

/* Appends recs[0..n) to topic t, one batch per partition, and answers r once every batch is
 * durable (as acks=all) with 200 {"offsets": [{"partition", "offset"}, ...]} in input order.
 * Bad partitions (400), a batch over max.message.bytes (413), storage errors (500/507) are
 * answered as problems; nothing is appended when validation fails. For a topic with schema
 * validation the records are checked first, on the validation threads (http__produce_check),
 * and the answer comes later. recs must live in r->arena (or in r->body); record bytes may also
 * point into doc, a JSON document of which a reference is kept while they are needed (NULL:
 * none). The caller may release its own reference on doc when this returns. */
void http__produce(http_req_t *r, broker_topic_t *t, http_produce_rec_t *recs, int n, json_t *doc);
/* http__produce without the validation: places, encodes and appends at once (loop thread). */
void http__produce_append(http_req_t *r, broker_topic_t *t, http_produce_rec_t *recs, int n);

/* produce_check.c: validation on produce for HTTP producers. Checks recs against t's schema
 * rules on libuv's worker pool (split over the validation threads), then, on the loop thread:
 * every record passes: http__produce_append; reject mode: 422 naming the first bad record,
 * nothing appended; dlq mode: the bad records go to t's dead-letter topic (the answer's
 * Herald-Dead-Lettered header counts them), the good ones to http__produce_append. Answers 503
 * at once when the listener serves no registry. Sets r->state and r->on_abort meanwhile. */
void http__produce_check(http_req_t *r, broker_topic_t *t, http_produce_rec_t *recs, int n,
                         json_t *doc);

/* produce_json.c: decodes a POST .../records body ({"records": [...]}) in one pass into the
 * arena, giving exactly the records the jansson path would. Returns 0 with *out and *n set, or 1
 * (declined: anything unusual or wrong) when the caller must take the general path, which also
 * gives the precise error. Never answers the request. */
int http__produce_parse_fast(http_req_t *r, http_produce_rec_t **out, int *n);

/* ---- CloudEvents (cloudevents.c) ---- */

/* The CloudEvents type of a stored record: the ce_type header (binary mode), or the "type"
 * member of the value when its content-type header is application/cloudevents+json (structured
 * mode). Returns false when the record is not a CloudEvent. *type points into the record or
 * into `scratch` (which the caller deinits). */
bool http__record_ce_type(const broker_record_t *rec, hd_buf_t *scratch, hd_slice_t *type);
/* The record as a structured-mode CloudEvent JSON object, or NULL when it is not a CloudEvent.
 */
json_t *http__record_ce_json(const broker_record_t *rec);
/* Conversions behind POST /topics/{topic}/events (exposed for unit tests). Each decodes one
 * event into a record to produce as the Kafka binding's binary mode (ce_* headers, content-type,
 * key from partitionkey), allocating in `a`, with timestamp ts. Returns 0, HD_EINVAL with a
 * static reason in *why and the attribute concerned in *attr (or NULL), or HD_ETOOBIG when the
 * arena is exhausted. from_json takes one event of the JSON format (values may point into j);
 * from_binary the ce- and Content-Type headers and the body of an HTTP binary-mode request. */
int http__ce_from_json(hd_arena_t *a, json_t *j, int64_t ts, broker_record_in_t *out,
                       const char **why, const char **attr);
int http__ce_from_binary(hd_arena_t *a, const http_header_t *hdrs, int nhdrs, hd_slice_t body,
                         int64_t ts, broker_record_in_t *out, const char **why, const char **attr);
/* A ce- header value decoded as the HTTP binding says (unquoted, percent-decoded once, UTF-8),
 * in the arena; NULL when malformed. */
char *http__ce_header_value(hd_arena_t *a, const char *v);
/* s[0..n) is an RFC 3339 date-time. */
bool http__ce_time_valid(const char *s, size_t n);

/* ---- handlers, one file per resource ---- */

/* rest_records.c: POST and GET /topics/{topic}/records */
void http__records_produce(http_req_t *r);
void http__records_fetch(http_req_t *r);

/* cloudevents.c: POST /topics/{topic}/events (structured, batched and binary mode) and GET
 * /topics/{topic}/events (a long-polled batch of CloudEvents; with Accept: text/event-stream it
 * hands over to http__sse_start) */
void http__events_post(http_req_t *r);
void http__events_get(http_req_t *r);

/* sse.c: GET /topics/{topic}/events as Server-Sent Events */
void http__sse_start(http_req_t *r);
/* ws.c: GET /topics/{topic}/ws, a WebSocket stream */
void http__ws_start(http_req_t *r);
/* ws.c: the handshake every WebSocket endpoint shares. check_upgrade checks that r is a valid
 * RFC 6455 upgrade request (GET, HTTP/1.1, Upgrade, Connection, version 13, a key of 16
 * bytes); it answers 400 or 426 and returns false when it is not, else sets *key (r's header).
 * accept_head appends the 101 response head for that key; returns 0 or HD_EINVAL (no SHA-1). */
bool http__ws_check_upgrade(http_req_t *r, const char **key);
int http__ws_accept_head(const char *key, hd_buf_t *head);
/* ws_sub.c: GET /subscriptions/{name}/ws, a WebSocket consumer of a subscription */
void http__sub_ws_start(http_req_t *r);

/* ---- live streams: the engine shared by SSE and WebSocket (stream.c) ---- */

/* A stream of a topic's records (every partition, or one), read from the log as the client
 * accepts bytes and parked on the partitions' waiters when caught up. Loop thread only. */
typedef struct http_stream http_stream_t;

/* What a stream's protocol does with the engine's output. Each callback appends its bytes to
 * http__stream_out(s); the engine writes them to the connection. */
typedef struct http_stream_proto {
    const char *name; /* "sse", "websocket": how the event catalog names the stream */
    /* One record: id is its event id (see stream.c), data its JSON object (borrowed). */
    void (*record)(http_stream_t *s, const char *id, json_t *data);
    /* Nothing was written for http.stream.heartbeat.ms. */
    void (*heartbeat)(http_stream_t *s);
    /* The stream ends: why is HD_ENOTFOUND (topic deleted), HD_ECLOSED (server stopping),
     * HD_ETOOBIG (the client accepted nothing for http.stream.stall.timeout.ms) or a storage
     * error; reason says it in words. Append a goodbye; return true to keep the connection
     * until http__stream_done() (a WebSocket close handshake), false to close after it. */
    bool (*end)(http_stream_t *s, int why, const char *reason);
    /* Bytes from the client (may be NULL: input is then discarded). */
    void (*read)(http_stream_t *s, const uint8_t *p, size_t n);
    /* The stream is freed: free the protocol's state. */
    void (*free)(http_stream_t *s);
    /* OBS_DELIVERY_SSE or OBS_DELIVERY_WS, for end-to-end latency and delivery spans. */
    int obs_kind;
} http_stream_proto_t;

/* Parses the stream request's topic (r->params[0]) and ?partition, ?from, ?type and ?key, and
 * last_event_id (the Last-Event-ID header or ?last_event_id, NULL when absent), and positions
 * the stream. On bad input answers 400 (malformed) or 404 (unknown topic or partition) and
 * returns NULL. */
http_stream_t *http__stream_open(http_req_t *r, const char *last_event_id);
/* Frees a stream that was never started. */
void http__stream_free(http_stream_t *s);
/* Takes the connection over, writes head (the response head), and starts streaming. Frees r. */
void http__stream_start(http_stream_t *s, http_req_t *r, const void *head, size_t head_len,
                        const http_stream_proto_t *proto, void *proto_ctx);
/* The buffer a protocol appends its bytes to. */
hd_buf_t *http__stream_out(http_stream_t *s);
/* Writes the buffered bytes now (outside the engine's own callbacks). */
void http__stream_flush(http_stream_t *s);
/* Ends the stream as the client asked or broke the protocol: no more records; closes once
 * what is buffered is written. */
void http__stream_done(http_stream_t *s);
/* Ends the stream at once (pending bytes are dropped). */
void http__stream_abort(http_stream_t *s, const char *why);
void *http__stream_proto_ctx(http_stream_t *s);
const char *http__stream_peer(const http_stream_t *s);
/* Unsent bytes of the stream's connection. */
size_t http__stream_pending(const http_stream_t *s);

/* assets.c: GET /openapi.json, GET /examples/... (the static pages built into the binary) and
 * GET / (an index of links) */
void http__openapi(http_req_t *r);
void http__static(http_req_t *r);
void http__console_static(http_req_t *r);
void http__index(http_req_t *r);

/* A static file compiled into the binary (generated by cmake/embed_assets.cmake into
 * <build>/gen/http_assets.c from examples/ and src/http/assets/). */
typedef struct http_asset {
    const char *path;         /* the URL path: "/examples/orders/index.html", "/openapi.json" */
    const char *content_type; /* from the file's extension */
    const uint8_t *bytes;
    size_t len;
    const char *etag; /* quoted, strong: a hash of the bytes */
} http_asset_t;

/* Sorted by path (byte order). */
extern const http_asset_t http__assets[];
extern const size_t http__nassets;
/* The asset at that URL path, or NULL. */
const http_asset_t *http__asset_find(const char *path);
/* Answers with the asset: its bytes and type, a strong ETag, Cache-Control: no-cache, and 304
 * when If-None-Match names the ETag. */
void http__asset_serve(http_req_t *r, const http_asset_t *a);

/* rest_console.c: the event catalog, its AsyncAPI export and the console's JSON */
void http__catalog(http_req_t *r);
/* GET /health/architecture: the architecture check (obs/doctor.c) */
void http__architecture(http_req_t *r);
void http__asyncapi(http_req_t *r);
void http__console_overview(http_req_t *r);
void http__console_history(http_req_t *r);

/* metrics: GET /metrics (Prometheus text format) */
void http__metrics(http_req_t *r);
void http__health(http_req_t *r);

/* rest_subscriptions.c: the subscriptions resource (delivery/) */
void http__subs_list(http_req_t *r);
void http__subs_create(http_req_t *r);
void http__sub_get(http_req_t *r);
void http__sub_delete(http_req_t *r);
void http__sub_receive(http_req_t *r);
void http__sub_ack(http_req_t *r);
void http__sub_nack(http_req_t *r);
void http__sub_extend(http_req_t *r);
void http__sub_redrive(http_req_t *r);
void http__sub_purge(http_req_t *r);

/* rest_topics.c */
void http__topics_list(http_req_t *r);
void http__topics_create(http_req_t *r);
void http__topic_get(http_req_t *r);
void http__topic_delete(http_req_t *r);

/* rest_registry.c: the schema registry (Confluent's REST API) */
void http__sr_types(http_req_t *r);
void http__sr_schema_by_id(http_req_t *r);
void http__sr_schema_text_by_id(http_req_t *r);
void http__sr_schema_versions(http_req_t *r);
void http__sr_schema_subjects(http_req_t *r);
void http__sr_subjects(http_req_t *r);
void http__sr_versions(http_req_t *r);
void http__sr_register(http_req_t *r);
void http__sr_version_get(http_req_t *r);
void http__sr_version_schema(http_req_t *r);
void http__sr_lookup(http_req_t *r);
void http__sr_subject_delete(http_req_t *r);
void http__sr_version_delete(http_req_t *r);
void http__sr_compat_version(http_req_t *r);
void http__sr_compat_all(http_req_t *r);
void http__sr_config_get(http_req_t *r);
void http__sr_config_put(http_req_t *r);
void http__sr_config_delete(http_req_t *r);
void http__sr_subject_config_get(http_req_t *r);
void http__sr_subject_config_put(http_req_t *r);
void http__sr_subject_config_delete(http_req_t *r);
void http__sr_mode(http_req_t *r);

/* ---- the server and its connections (server.c, conn.c) ---- */

struct http_server {
    uv_loop_t *loop;
    broker_t *broker;
    registry_t *registry;   /* NULL: no schema registry routes */
    int validation_threads; /* parts a produced batch is checked in, at most (0: 1) */
    delivery_t *delivery;   /* NULL: no subscriptions */
    const hd_config_t *cfg;
    uv_tcp_t listener;
    http_conn_t *conns;
    int nconns;
    int port;
    int open_handles; /* the listener and every conn's handles; freed at zero after close */
    bool listening;
    bool stopping;
    bool closed;
};

struct http_conn {
    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe; /* tests and fuzzing: one end of a socketpair */
        uv_stream_t stream;
        uv_handle_t handle;
    } io;
    uv_timer_t timer; /* idle / slow-request deadline, then the request's own timer */
    http_server_t *srv;
    http_conn_t *prev, *next;
    http_parser parser;
    hd_buf_t in;
    size_t in_pos;       /* bytes of `in` the parser has consumed */
    http_req_t *req;     /* being parsed or being handled */
    hd_buf_t url;        /* the request target, accumulated */
    hd_buf_t hname;      /* the header being parsed: name */
    hd_buf_t hvalue;     /* and value */
    size_t header_bytes; /* request line and headers so far */
    int nheaders;
    int hstate; /* 0 between headers, 1 in a name, 2 in a value */
    http_header_t hdrs[HTTP_MAX_HEADERS];
    int reject_status; /* set by a parser callback: answer this and close */
    const char *reject_why;
    bool req_complete; /* the parser saw the whole request; handle it */
    bool keep_alive;
    bool expect_continue;
    size_t write_bytes; /* queued, not yet written */
    int writes;         /* uv_write calls in flight */
    bool reading;
    bool closing;
    bool end_after_flush;
    bool in_process;
    bool upgrade;
    bool lingering;             /* answered a rejected request: discarding input, then closing */
    uv_shutdown_t shutdown_req; /* the lingering close's half-close */
    int handles;                /* tcp and timer, each closed asynchronously */
    const http_stream_ops_t *stream;
    void *stream_ctx;
    char peer[80];
};

/* conn.c */
void http__on_connection(uv_stream_t *listener, int status);
/* Serves HTTP on an already connected socket (a socketpair end), as if accepted. For tests and
 * fuzz targets. Returns 0 or a libuv error. */
int http__conn_open_fd(http_server_t *s, int fd);
/* server.c: a server without a listener, for http__conn_open_fd(). Free with
 * http_server_close(). */
http_server_t *http__server_new_detached(uv_loop_t *loop, broker_t *b, const hd_config_t *cfg);
void http__conn_quiesce(http_conn_t *c);
/* Called when a connection's last handle closed (server.c frees the server when it was the
 * last one after http_server_close). */
void http__handle_closed(http_server_t *s);

#endif
