/* The request layer between a connection (server/) and the broker: one kafka_req_t per request,
 * decoded with the protocol tables, handled by one handler per API, answered in place or later
 * (acks=all Produce waits for fsync, Fetch long-polls). */
#ifndef KAFKA_HANDLER_H
#define KAFKA_HANDLER_H

#include "broker/broker.h"
#include "delivery/delivery.h"
#include "kafka/kafka.h"
#include "registry/registry.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/slice.h"

#include <stdbool.h>
#include <stdint.h>

enum {
    KAFKA_REQ_DONE = 0,    /* response (if any) is in `out` */
    KAFKA_REQ_PENDING = 1, /* on_done() will be called once the response is ready */
    KAFKA_REQ_CLOSE = 2,   /* protocol violation: close the connection (after earlier replies) */
    KAFKA_REQ_READY = 3,   /* kafka_req_start(): decoded; kafka_req_run() handles it */
    KAFKA_REQ_PREPARE = 4, /* kafka_req_start(): decoded, with work for other threads first */
};

typedef struct kafka_req kafka_req_t;

/* Share groups (KIP-932): members, their assignments and share sessions, over the delivery
 * engine's subscriptions (kafka/handle_share.c). One per server; loop thread only. */
typedef struct kafka_shares kafka_shares_t;
kafka_shares_t *kafka_shares_new(broker_t *b, delivery_t *d, const hd_config_t *cfg);
/* Releases what every member holds and frees. Before delivery_close(). NULL ok. */
void kafka_shares_free(kafka_shares_t *sh);
/* Removes members whose session timed out (their records are released). Call every second or
 * so. */
void kafka_shares_tick(kafka_shares_t *sh);

/* Owned by the connection; loop thread only (but for kafka_req_prepare_next()). */
struct kafka_req {
    /* Set by the connection before kafka_req_handle(). */
    broker_t *broker;
    registry_t *registry;   /* NULL: produced records are not validated */
    kafka_shares_t *shares; /* NULL: the share-group APIs answer errors */
    const hd_config_t *cfg;
    int max_parts; /* how many threads may prepare this request at once (0 or 1: one) */
    /* The caller keeps the frame body alive, and writes nothing into it, until the request has
     * run (kafka_req_run() returned) or is freed: a request prepared on other threads then
     * reads its records where they are instead of copying them at kafka_req_start(). */
    bool body_kept;
    void *conn;
    const char *peer;
    /* Deferred completion. */
    void (*on_done)(kafka_req_t *r);
    /* Arms (or re-arms) a one-shot timer; kafka_req_timeout() is called when it fires. */
    void (*arm_timer)(kafka_req_t *r, int64_t ms);
    void (*stop_timer)(kafka_req_t *r);

    /* Filled by kafka_req_handle(). */
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    const char *client_id; /* from the request header, arena copy ("" if null) */
    hd_arena_t arena;
    hd_buf_t out;            /* the framed response, without the spliced records below */
    kafka_splices_t splices; /* records sent from where they are (Fetch), inserted into out */
    bool has_response;       /* false for acks=0 Produce */
    bool done;
    int prep_parts; /* KAFKA_REQ_PREPARE: the parts kafka_req_prepare_next() checks */
    /* Of those, how many the caller's own thread may check, at most, besides the workers (see
     * KAFKA_PREP_HERE_MAX_BYTES). */
    int prep_here;

    /* Private to kafka/. */
    const void *_api;
    void *_resp;
    void *_state;
    void *_plan; /* produce_check.c */
    void *_req;  /* the decoded request, between start and run */
    int (*_fn)(kafka_req_t *r, void *req, void *resp);
    bool _in_handle;
    int64_t _t0_ns; /* arrival, for metrics */
};

void kafka_req_init(kafka_req_t *r);
/* Frees the arena and output; aborts anything pending first. */
void kafka_req_deinit(kafka_req_t *r);
/* Decodes and handles one request frame body. The body may be modified in place (Produce writes
 * offsets into record batches) and must stay valid only until this returns. Work that could be
 * prepared on other threads is done here. */
int kafka_req_handle(kafka_req_t *r, uint8_t *body, size_t len);
/* The same in steps, for a connection that prepares on worker threads and keeps requests in
 * order. kafka_req_start() decodes the frame body: KAFKA_REQ_DONE or KAFKA_REQ_CLOSE (answered
 * or refused already), KAFKA_REQ_READY (call kafka_req_run() when every earlier request of the
 * connection has run; the body must stay valid until kafka_req_run() has returned), or
 * KAFKA_REQ_PREPARE: the request no longer refers to the body (unless body_kept); have threads
 * call kafka_req_prepare_next() until it returns false (any number of threads, concurrently:
 * each call claims and checks one of the prep_parts parts), and when every call has returned,
 * kafka_req_run() on the loop thread, in order as for READY. Nothing but the prepare calls may
 * touch the request meanwhile (not even kafka_req_deinit()). kafka_req_run() returns as
 * kafka_req_handle(). */
int kafka_req_start(kafka_req_t *r, uint8_t *body, size_t len);
/* The records the loop thread may check itself of one request (prep_here parts), while the
 * workers wake up: about half a millisecond of checks, which keeps the loop's other connections
 * waiting no longer than a worker's wake-up and the hop back would keep this one. */
#define KAFKA_PREP_HERE_MAX_BYTES (384 * 1024)
/* Claims the next unclaimed part of a prepared request and checks it; false when none was left.
 * Any thread. */
bool kafka_req_prepare_next(kafka_req_t *r);
/* Every part of a prepared request has been claimed (loop thread: workers that have not started
 * yet are not needed). */
bool kafka_req_prepare_claimed(const kafka_req_t *r);
int kafka_req_run(kafka_req_t *r);
/* The connection is going away: cancel waiters; on_done will not be called. */
void kafka_req_abort(kafka_req_t *r);
/* The timer armed with arm_timer fired. */
void kafka_req_timeout(kafka_req_t *r);

/* ---- used by the handler files ---- */

/* Encodes r->_resp with the API's response schema into r->out, framed, and marks r done. */
void kafka__finish(kafka_req_t *r);

#endif
