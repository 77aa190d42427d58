/* Private to server/: the server and connection structs. Loop thread only. */
#ifndef SERVER_INT_H
#define SERVER_INT_H

#include "broker/broker.h"
#include "delivery/delivery.h"
#include "http/http.h"
#include "kafka/handler.h"
#include "server/server.h"

#include <uv.h>

typedef struct server server_t;
typedef struct conn conn_t;
typedef struct creq creq_t;

/* A connection's input buffer, once requests that have not run yet refer to frames in it: the
 * connection then reads on into a new buffer, and the last holder frees this one. Loop thread
 * only (worker threads read the frames, never the count). */
typedef struct inblk {
    int refs;    /* the connection's, until it lets go, and one per request that holds it */
    size_t cap;  /* the buffer's capacity */
    size_t held; /* counted in conn.held_bytes (once the connection let go), or 0 */
    uint8_t *p;
} inblk_t;

/* One request on a connection, answered in arrival order. */
struct creq {
    kafka_req_t k; /* first member: a kafka_req_t * is a creq_t * */
    creq_t *next;
    conn_t *conn;
    uv_timer_t *timer; /* lazily made; closed asynchronously */
    uv_write_t wr;
    /* Worker-thread preparation (kafka_req_prepare), and requests that wait to run behind it. */
    inblk_t *blk; /* the input buffer its frame lies in, held until it has run */
    bool held;    /* decoded, not yet run */
    bool orphan;  /* the connection closed while parts were running: freed by the last */
    int jobs;     /* parts still running */
    struct prep_job *jobv;
};

struct conn {
    uv_tcp_t tcp;
    server_t *srv;
    conn_t *prev, *next;
    hd_buf_t in;
    size_t in_pos;   /* bytes of `in` already handled */
    inblk_t *in_blk; /* `in` while requests hold frames in it (inside process_input() only) */
    creq_t *head, *tail;
    int nreqs;
    int writing;        /* uv_write calls in flight */
    size_t write_bytes; /* bytes handed to uv_write and not yet written */
    bool reading;
    bool closing;
    bool in_process; /* inside process_input(): completions must not re-enter it */
    bool close_after_flush;
    bool handle_closed; /* uv_close finished; freed once no part runs for it */
    bool drop_held;     /* a held request broke the protocol: drop the ones behind it */
    creq_t *gate;       /* the first request not yet run (its parts still run, or an earlier's) */
    size_t held_bytes;  /* input buffers kept for requests that have not run */
    int jobs;           /* parts of its requests running on worker threads */
    char peer[80];
};

struct server {
    uv_loop_t *loop;
    const hd_config_t *cfg;
    broker_t *broker;
    uv_tcp_t listener;
    http_server_t *http;          /* NULL when http.listeners is empty */
    http_server_t *registry_http; /* NULL when registry.listeners is empty */
    registry_t *registry;
    uv_async_t durable_async;
    uv_signal_t sigint, sigterm;
    uv_timer_t retention_timer;
    uv_timer_t group_timer; /* consumer-group sessions and rebalance deadlines */
    uv_timer_t stop_timer;
    uv_timer_t delivery_timer; /* subscriptions' leases, retries and delays */
    delivery_t *delivery;
    kafka_shares_t *shares; /* share groups over the subscriptions */
    conn_t *conns;
    int nconns;
    int jobs;       /* parts running on worker threads, over every connection */
    int prep_parts; /* threads that prepare requests (schema.validation.threads, resolved) */
    bool stopping;
    int64_t stop_deadline;
};

/* conn.c */
void server__on_connection(uv_stream_t *listener, int status);
void server__conn_close(conn_t *c);
void server__start_read(conn_t *c);
/* Stops reading from every connection (shutdown). */
void server__conns_quiesce(server_t *s);
int server__pending_requests(server_t *s);

#endif
