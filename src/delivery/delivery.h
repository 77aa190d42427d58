/* delivery/: per-message delivery on top of the log. A subscription is a named consumer of one
 * topic (all its partitions or a set) that hands records out one by one under leases and takes
 * them back one by one: acknowledged, refused (retried after a backoff), or, after too many
 * deliveries, moved to a dead-letter topic. Records may ask to be delivered later (delays).
 *
 * This is the one delivery engine of Herald: REST subscriptions (http/rest_subscriptions.c) use
 * it, and so will outbound webhooks. It calls broker/ through broker.h only, keeps its durable
 * state in internal logs in the data directory (see state.c and delay.c for the formats), and
 * costs memory in proportion to what is in flight, not to the backlog.
 *
 * Everything here runs on the loop thread. Time is the wall clock in milliseconds (leases and
 * schedules survive restarts, so they are stored as wall-clock instants). */
#ifndef DELIVERY_H
#define DELIVERY_H

#include "broker/broker.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct delivery delivery_t;
typedef struct delivery_sub delivery_sub_t;

/* Subscription names: as topic names, [a-zA-Z0-9._-], 1..200 characters, not "." or "..". */
#define DELIVERY_NAME_MAX 200
/* Most partitions a subscription may list explicitly. */
#define DELIVERY_MAX_PARTITIONS 1024
/* Offsets a partition may have handed out above its ack floor (the lookahead window). */
#define DELIVERY_WINDOW 16384
/* Longest last-error text kept with a record (longer ones are cut). */
#define DELIVERY_ERROR_MAX 512

/* ---- settings ---- */

/* Retry delays: the n-th redelivery (n >= 1) waits min(max_ms, initial_ms * multiplier^(n-1)),
 * then shortened by a random fraction in [0, jitter) of itself (jitter in [0, 1]). */
typedef struct delivery_backoff {
    int64_t initial_ms;
    double multiplier;
    int64_t max_ms;
    double jitter;
} delivery_backoff_t;

enum { DELIVERY_ORDER_NONE = 0, DELIVERY_ORDER_KEY = 1 };
enum { DELIVERY_START_LATEST = 0, DELIVERY_START_EARLIEST = 1 };

/* A subscription's settings. Strings are owned by whoever fills the struct; the engine copies
 * them. */
typedef struct delivery_settings {
    const char *name;
    const char *topic;
    const int32_t *partitions; /* NULL: all partitions, also those added later */
    int npartitions;
    int64_t ack_timeout_ms;
    int32_t max_deliveries; /* 0: unlimited (never dead-lettered) */
    delivery_backoff_t backoff;
    const char *dead_letter_topic; /* NULL or "" with max_deliveries > 0: "<name>-dlq" */
    const char *filter_type;       /* NULL: any; else the CloudEvents type must equal it */
    const char *filter_key;        /* NULL: any; else the record key must equal these bytes */
    int ordering;                  /* DELIVERY_ORDER_* */
    int start;                     /* DELIVERY_START_*: where a new subscription begins */
} delivery_settings_t;

/* Fills the defaults: ack_timeout 30 s, max_deliveries 0, backoff 1 s x2 up to 60 s with jitter
 * 0.2, ordering none, start latest. */
void delivery_settings_defaults(delivery_settings_t *s);
/* Checks ranges and names without touching anything. Returns 0 or HD_EINVAL with *why. */
int delivery_settings_check(const delivery_settings_t *s, const char **why);
/* Retry delay of the n-th redelivery (n >= 1) for a uniform random r in [0, 1). Pure. */
int64_t delivery_backoff_ms(const delivery_backoff_t *b, int32_t n, double r);

/* ---- the engine ---- */

/* Opens every subscription stored under DATA_DIR/__subscriptions/ (replaying their state).
 * Returns 0 or -errno. The broker must outlive the engine. */
int delivery_open(broker_t *b, delivery_t **out);
/* Closes every subscription (waiters fire with HD_ECLOSED). Before broker_close(). NULL ok. */
void delivery_close(delivery_t *d);
/* Timers: expires leases, makes due retries and delays deliverable, compacts state. Call every
 * few tens of milliseconds. */
void delivery_tick(delivery_t *d);
/* Tests only: replaces the wall clock. */
void delivery_set_clock(delivery_t *d, int64_t (*now_ms)(void));

/* ---- subscriptions ---- */

/* Creates a subscription (and its dead-letter topic if missing). *durable_at is the position
 * of its state log to wait for (delivery_sub_wait) before saying it exists. Returns 0, HD_EEXIST
 * (name taken), HD_ENOTFOUND (no such topic), HD_EINVAL (*why) or -errno. */
int delivery_sub_create(delivery_t *d, const delivery_settings_t *s, delivery_sub_t **out,
                        int64_t *durable_at, const char **why);
/* Deletes a subscription and its state (its waiters fire with HD_ENOTFOUND). */
int delivery_sub_delete(delivery_t *d, const char *name);
delivery_sub_t *delivery_sub_find(delivery_t *d, const char *name);
int delivery_sub_count(const delivery_t *d);
delivery_sub_t *delivery_sub_at(delivery_t *d, int i);
/* The settings as stored (strings owned by the subscription). */
const delivery_settings_t *delivery_sub_settings(const delivery_sub_t *s);

typedef struct delivery_stats {
    int64_t backlog;       /* records not yet settled (acknowledged, dead-lettered or filtered) */
    int64_t in_flight;     /* leased now */
    int64_t scheduled;     /* waiting for a retry or a delay */
    int64_t dead_lettered; /* in the dead-letter topic and neither redriven nor purged */
    int64_t oldest_unacked_ms; /* age of the oldest unsettled record, 0 when none */
} delivery_stats_t;
void delivery_sub_stats(delivery_sub_t *s, delivery_stats_t *out);

/* ---- receiving ---- */

#define DELIVERY_RECEIPT_MAX 48

/* One leased record. rec points into engine buffers valid during the callback only. */
typedef struct delivery_msg {
    int32_t partition;
    const broker_record_t *rec;
    int32_t delivery_count; /* 1 on the first delivery */
    int64_t lease_deadline_ms;
    char receipt[DELIVERY_RECEIPT_MAX];
} delivery_msg_t;

typedef void (*delivery_msg_cb)(void *ctx, const delivery_msg_t *m);

/* Leases up to max records (redeliveries first, then new ones) and calls cb for each, in
 * order. Returns the count leased (0 when nothing is deliverable now), or HD_ENOTFOUND when the
 * topic is gone. */
int delivery_receive(delivery_sub_t *s, int max, delivery_msg_cb cb, void *ctx);

/* A consumer waiting for records. It fires (once; re-add to keep waiting) with 0 when something
 * may have become deliverable, or with HD_ENOTFOUND (subscription deleted) or HD_ECLOSED. The
 * caller owns the struct. */
typedef struct delivery_waiter delivery_waiter_t;
struct delivery_waiter {
    delivery_waiter_t *_next, *_prev;
    delivery_sub_t *_sub;
    void (*cb)(delivery_waiter_t *w, int err);
    void *ctx;
};
void delivery_waiter_add(delivery_sub_t *s, delivery_waiter_t *w);
/* Unlinks w if registered; safe to call twice. */
void delivery_waiter_cancel(delivery_waiter_t *w);

/* ---- settling ---- */

enum {
    DELIVERY_OK = 0,
    DELIVERY_STALE = 1,   /* the receipt's lease is over: the record was leased again,
                             acknowledged, or dead-lettered */
    DELIVERY_INVALID = 2, /* not a receipt of this subscription */
};
const char *delivery_result_name(int result);

/* Each settles receipts[0..n) and writes one DELIVERY_* per receipt into results. *durable_at
 * is the state-log position to wait for (delivery_sub_wait) before answering: then an OK is
 * durable. */
/* Acknowledges: the records are done. */
void delivery_ack(delivery_sub_t *s, const char *const *receipts, int n, int *results,
                  int64_t *durable_at);
/* Refuses: redelivered after delay_ms (< 0: the backoff), or dead-lettered when out of
 * deliveries. error (may be NULL) is kept for the dead-letter headers. */
void delivery_nack(delivery_sub_t *s, const char *const *receipts, int n, int64_t delay_ms,
                   const char *error, int *results, int64_t *durable_at);
/* Rejects: the records are not to be retried and go to the dead-letter topic now, whatever
 * their delivery count (acknowledged instead when the subscription has no dead-letter topic).
 * error (may be NULL) is kept for the dead-letter headers. A reject is durable as a retry: after
 * a crash before the dead letter is written, the record is delivered again. */
void delivery_reject(delivery_sub_t *s, const char *const *receipts, int n, const char *error,
                     int *results, int64_t *durable_at);
/* Extends live leases to now + ms. */
void delivery_extend(delivery_sub_t *s, const char *const *receipts, int n, int64_t ms,
                     int *results, int64_t *durable_at);
/* Waits until the subscription's state log is durable up to durable_at; w fires with 0, or an
 * error when the subscription is deleted or the engine closes. */
void delivery_sub_wait(delivery_sub_t *s, int64_t durable_at, broker_waiter_t *w);

/* ---- dead letters ---- */

/* Dead-letter records carry the original key, value, timestamp and headers, plus these. */
#define DELIVERY_HDR_SUBSCRIPTION "herald-dlq-subscription"
#define DELIVERY_HDR_TOPIC "herald-dlq-topic"
#define DELIVERY_HDR_PARTITION "herald-dlq-partition"
#define DELIVERY_HDR_OFFSET "herald-dlq-offset"
#define DELIVERY_HDR_COUNT "herald-dlq-delivery-count"
#define DELIVERY_HDR_ERROR "herald-dlq-error"
/* Delay headers of produced records. */
#define DELIVERY_HDR_DELIVER_AT "herald-deliver-at"
#define DELIVERY_HDR_DELAY_MS "herald-delay-ms"

/* Most dead letters one redrive call moves. */
#define DELIVERY_REDRIVE_MAX 10000

typedef struct delivery_redrive_result {
    int64_t redriven;    /* scheduled for redelivery now */
    int64_t missing;     /* their original record is gone (retention): dropped */
    int64_t next_offset; /* < to: stopped at the limit; call again from here */
} delivery_redrive_result_t;

/* Schedules this subscription's dead letters at dead-letter-topic offsets [from, to) (of every
 * partition of that topic; to < 0: up to the end) for redelivery with a fresh delivery count,
 * and forgets them as dead letters. Returns 0, HD_EINVAL (no dead-letter topic) or -errno. */
int delivery_redrive(delivery_sub_t *s, int64_t from, int64_t to, delivery_redrive_result_t *res,
                     int64_t *durable_at);
/* Forgets every dead letter of this subscription (they stay in the topic until its retention
 * removes them, but are no longer counted or redriven). *dropped: how many were counted. */
int delivery_purge(delivery_sub_t *s, int64_t *dropped, int64_t *durable_at);

#endif
