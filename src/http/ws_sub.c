/* WebSocket consumer of a subscription: GET /subscriptions/{name}/ws?max_unacked=N. Owns this
 * wire format (docs/queues.md describes it for users).
 *
 * The handshake is ws.c's (http__ws_check_upgrade: 400/426 for a bad upgrade), then the
 * subscription must exist (404) and ?max_unacked must be an integer in [1, 10000] (400; default
 * 100). The answer is 101; no subprotocol, no extension.
 *
 * Flow control: the socket holds at most max_unacked leases at once. It leases records as they
 * become deliverable (redeliveries first, as POST .../receive does) while fewer are outstanding,
 * in steps of at least a quarter of max_unacked once it holds some (fewer, larger reads of the
 * log), and stops while the connection has http.stream.buffer.bytes unsent. A lease stops counting
 * when this socket acks or nacks it, when an ack, nack or extend of it is answered "stale", or when
 * it expires (its record may then go to another consumer; a late ack is still answered).
 *
 * Server to client, text messages, one JSON object each:
 *   a message:  the object of POST .../receive: {"partition", "offset", "timestamp", "key" |
 *               "key_b64", "value" | "value_b64", "headers", "receipt", "delivery_count"}
 *   a result:   {"id": <as sent>, "op": "ack" | "nack" | "extend",
 *                "results": [{"receipt", "status": "ok" | "stale" | "invalid"}]}
 *   an error:   {"id": <as sent>, "error": "<why the request was refused>"}
 * ("id" only when the request had one). Results and errors come in the order of the requests,
 * each once its state change is durable (as the REST answers). A ping (empty) after
 * http.stream.heartbeat.ms without anything sent.
 *
 * Client to server, text messages, one JSON object each, with an optional "id" (any JSON value,
 * echoed) and exactly one of:
 *   {"ack": [receipts]}
 *   {"nack": [receipts], "delay_ms": 0..86400000, "error": "text"}   (delay_ms absent: backoff)
 *   {"extend": [receipts], "ms": 1..43200000}
 * with 1..10000 receipts. Pings are answered with pongs (by wslay).
 *
 * Closing: the client's close is answered with its code. Binary messages close with 1003,
 * messages over 1 MiB with 1009, protocol errors with 1002, a client that sends without reading
 * is cut off. The server closes with 1001 when it stops and 1011 when the subscription or its
 * topic is deleted (then waits up to 2 s for the client's close). When the socket closes, every
 * lease it still holds is released at once, as a nack without delay ("consumer disconnected"):
 * the records are redelivered now, counting the delivery (so a record may reach
 * max_deliveries and go to the dead-letter topic, as when a lease expires). */
#include "delivery/delivery.h"
#include "http/http_int.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/monotime.h"
#include "util/strmap.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <wslay/wslay.h>

#define MAX_UNACKED_DEFAULT 100
#define MAX_UNACKED_LIMIT 10000
#define MAX_CLIENT_MSG (1u << 20)
#define MAX_RECEIPTS 10000
#define RECEIVE_STEP 256 /* leases per delivery_receive call */
#define TICK_MS 250      /* lease sweep, heartbeat and close grace checks */
#define CLOSE_GRACE_MS 2000
/* Unsent bytes beyond the stream buffer a client may cause by sending before it is cut off. */
#define MAX_REPLY_BACKLOG (4u << 20)

typedef struct wsq wsq_t;

typedef struct lease {
    char receipt[DELIVERY_RECEIPT_MAX]; /* the key in wsq.leases */
    int64_t deadline_ms;
    struct lease *next_free;
} lease_t;

/* One request's answer, queued until its state change is durable. */
typedef struct answer {
    struct answer *next;
    wsq_t *q;
    broker_waiter_t w;
    hd_buf_t text;
    bool ready;
} answer_t;

struct wsq {
    wslay_event_context_ptr ctx;
    http_conn_t *conn; /* NULL once closed */
    delivery_t *d;
    char name[DELIVERY_NAME_MAX + 1];
    delivery_waiter_t w;
    bool waiting; /* w is registered */
    uv_timer_t timer;
    hd_strmap_t leases; /* receipt -> lease_t */
    int max_unacked;
    int refill;          /* room (free leases) at which more records are leased */
    size_t buffer_bytes; /* unsent bytes above which no more records are leased */
    size_t max_pending;
    int64_t heartbeat_ms;
    int64_t last_send_ms; /* monotonic */
    int64_t closing_since_ms;
    answer_t *head, *tail;
    hd_buf_t out;         /* framed bytes to write */
    hd_buf_t scratch;     /* one message's text */
    lease_t *free_leases; /* settled leases, for reuse */
    const uint8_t *in;
    size_t in_len;
    int depth;
    bool closing; /* a close was queued by the server */
    bool closed;
};

static void pump(wsq_t *q);

static delivery_sub_t *sub_of(wsq_t *q) { return q->d ? delivery_sub_find(q->d, q->name) : NULL; }

/* ---- wslay's callbacks ---- */

static ssize_t q_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
    (void)flags;
    wsq_t *q = user;
    if (q->in_len == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < q->in_len ? len : q->in_len;
    memcpy(buf, q->in, n);
    q->in += n;
    q->in_len -= n;
    return (ssize_t)n;
}

static ssize_t q_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                      void *user)
{
    (void)ctx;
    (void)flags;
    wsq_t *q = user;
    hd_buf_put(&q->out, data, len);
    return (ssize_t)len;
}

/* Frames what wslay queued and writes it; ends the connection once both closes have passed. */
static void flush(wsq_t *q)
{
    if (!q->conn)
        return;
    if (wslay_event_send(q->ctx) != 0) {
        http_conn_close(q->conn);
        return;
    }
    if (q->out.len) {
        q->last_send_ms = hd_mono_ms();
        http_conn_write_buf(q->conn, &q->out);
    }
    if (!wslay_event_want_read(q->ctx) && !wslay_event_want_write(q->ctx))
        http_conn_end(q->conn);
}

static void queue_text(wsq_t *q, const void *p, size_t n)
{
    struct wslay_event_msg msg = {WSLAY_TEXT_FRAME, p, n};
    wslay_event_queue_msg(q->ctx, &msg);
}

static void queue_close(wsq_t *q, uint16_t code, const char *reason)
{
    if (q->closing)
        return;
    q->closing = true;
    q->closing_since_ms = hd_mono_ms();
    if (q->waiting) {
        delivery_waiter_cancel(&q->w);
        q->waiting = false;
    }
    wslay_event_queue_close(q->ctx, code, (const uint8_t *)reason, strlen(reason));
}

/* ---- answers ---- */

static void answers_send(wsq_t *q)
{
    while (q->head && q->head->ready) {
        answer_t *a = q->head;
        q->head = a->next;
        if (!q->head)
            q->tail = NULL;
        if (!q->closing)
            queue_text(q, a->text.p, a->text.len);
        hd_buf_deinit(&a->text);
        free(a);
    }
}

static void on_durable(broker_waiter_t *w, int err)
{
    answer_t *a = w->ctx;
    wsq_t *q = a->q;
    if (err) {
        hd_buf_reset(&a->text);
        static const char gone[] =
            "{\"error\":\"the subscription was deleted or the server stopped\"}";
        hd_buf_put(&a->text, gone, sizeof gone - 1);
    }
    a->ready = true;
    if (q->depth == 0) {
        answers_send(q);
        flush(q);
    }
}

/* Queues an answer: j (stolen) with the request's id; waits for durable_at when >= 0. */
/* Queues an answer whose text is in *text (taken); waits for durable_at when >= 0. */
static void answer_text(wsq_t *q, hd_buf_t *text, delivery_sub_t *s, int64_t durable_at)
{
    answer_t *a = hd_calloc(1, sizeof *a);
    a->q = q;
    a->text = *text;
    hd_buf_init(text);
    if (q->tail)
        q->tail->next = a;
    else
        q->head = a;
    q->tail = a;
    if (s && durable_at >= 0) {
        a->w.cb = on_durable;
        a->w.ctx = a;
        q->depth++; /* it may fire at once */
        delivery_sub_wait(s, durable_at, &a->w);
        q->depth--;
    } else {
        a->ready = true;
    }
    answers_send(q);
}

/* Queues an answer: j (stolen) with the request's id. */
static void answer(wsq_t *q, json_t *id, json_t *j, delivery_sub_t *s, int64_t durable_at)
{
    if (id)
        json_object_set(j, "id", id);
    hd_buf_t text;
    hd_buf_init(&text);
    http__json_dump(j, &text);
    json_decref(j);
    answer_text(q, &text, s, durable_at);
}

static void answer_error(wsq_t *q, json_t *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void answer_error(wsq_t *q, json_t *id, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    json_t *j = json_object();
    json_object_set_new(j, "error", json_string(why));
    answer(q, id, j, NULL, -1);
}

/* ---- leases ---- */

static void lease_drop(wsq_t *q, const char *receipt)
{
    lease_t *l = hd_strmap_del(&q->leases, receipt);
    if (l) {
        l->next_free = q->free_leases;
        q->free_leases = l;
    }
}

/* Forgets leases whose deadline passed: their records may be with another consumer now. */
static void leases_sweep(wsq_t *q)
{
    int64_t now = hd_wall_ms();
    for (size_t i = 0; i < q->leases.cap; i++) {
        hd_strmap_slot_t *sl = &q->leases.slots[i];
        if (!sl->val)
            continue;
        lease_t *l = sl->val;
        if (l->deadline_ms <= now)
            lease_drop(q, l->receipt);
    }
}

/* ---- requests ---- */

static const char *const OPS[] = {"ack", "nack", "extend"};

static void on_request(wsq_t *q, const uint8_t *p, size_t n)
{
    json_error_t jerr;
    json_t *j = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        answer_error(q, NULL, "malformed JSON at line %d column %d: %s", jerr.line, jerr.column,
                     jerr.text);
        return;
    }
    if (!json_is_object(j)) {
        answer_error(q, NULL, "expected a JSON object");
        json_decref(j);
        return;
    }
    json_t *id = json_object_get(j, "id");
    int op = -1;
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        int o = -1;
        for (int i = 0; i < 3; i++)
            if (!strcmp(k, OPS[i]))
                o = i;
        if (o >= 0) {
            if (op >= 0) {
                answer_error(q, id, "a request has exactly one of ack, nack and extend");
                goto out;
            }
            op = o;
        } else if (strcmp(k, "id") &&
                   !(!strcmp(k, "delay_ms") || !strcmp(k, "error") || !strcmp(k, "ms"))) {
            answer_error(q, id, "unknown member %.100s", k);
            goto out;
        }
    }
    if (op < 0) {
        answer_error(q, id, "a request has one of ack, nack and extend");
        goto out;
    }
    if ((op != 1 && (json_object_get(j, "delay_ms") || json_object_get(j, "error"))) ||
        (op != 2 && json_object_get(j, "ms"))) {
        answer_error(q, id, "delay_ms and error go with nack, ms with extend");
        goto out;
    }
    json_t *arr = json_object_get(j, OPS[op]);
    size_t nr = json_is_array(arr) ? json_array_size(arr) : 0;
    if (nr == 0 || nr > MAX_RECEIPTS) {
        answer_error(q, id, "%s must be an array of 1 to %d receipt strings", OPS[op],
                     MAX_RECEIPTS);
        goto out;
    }
    int64_t arg = -1;
    const char *error = NULL;
    if (op == 1) {
        json_t *dv = json_object_get(j, "delay_ms");
        json_t *ev = json_object_get(j, "error");
        if (dv && !json_is_null(dv)) {
            if (!json_is_integer(dv) || json_integer_value(dv) < 0 ||
                json_integer_value(dv) > 86400000) {
                answer_error(q, id, "delay_ms must be an integer in [0, 86400000]");
                goto out;
            }
            arg = json_integer_value(dv);
        }
        if (ev && !json_is_null(ev)) {
            if (!json_is_string(ev)) {
                answer_error(q, id, "error must be a string");
                goto out;
            }
            error = json_string_value(ev);
        }
    } else if (op == 2) {
        json_t *mv = json_object_get(j, "ms");
        if (!json_is_integer(mv) || json_integer_value(mv) < 1 ||
            json_integer_value(mv) > 12 * 3600 * 1000) {
            answer_error(q, id, "ms must be an integer in [1, 43200000]");
            goto out;
        }
        arg = json_integer_value(mv);
    }
    const char **receipts = hd_malloc(sizeof *receipts * nr);
    int *results = hd_malloc(sizeof *results * nr);
    for (size_t i = 0; i < nr; i++) {
        receipts[i] = json_string_value(json_array_get(arr, i));
        if (!receipts[i]) {
            answer_error(q, id, "%s[%zu] must be a string", OPS[op], i);
            goto out_free;
        }
    }
    delivery_sub_t *s = sub_of(q);
    if (!s) {
        answer_error(q, id, "subscription '%s' does not exist", q->name);
        queue_close(q, WSLAY_CODE_INTERNAL_SERVER_ERROR, "subscription deleted");
        goto out_free;
    }
    int64_t at;
    if (op == 0)
        delivery_ack(s, receipts, (int)nr, results, &at);
    else if (op == 1)
        delivery_nack(s, receipts, (int)nr, arg, error, results, &at);
    else
        delivery_extend(s, receipts, (int)nr, arg, results, &at);
    int64_t deadline = hd_wall_ms() + arg;
    /* {"op": ..., "results": [{"receipt", "status"}, ...], "id": ...}, written directly: this is
     * every acknowledgement's answer. */
    hd_buf_t text;
    hd_buf_init(&text);
    hd_buf_put(&text, "{\"op\":\"", 7);
    hd_buf_put(&text, OPS[op], strlen(OPS[op]));
    hd_buf_put(&text, "\",\"results\":[", 13);
    for (size_t i = 0; i < nr; i++) {
        if (op != 2 || results[i] == DELIVERY_STALE) {
            lease_drop(q, receipts[i]);
        } else if (results[i] == DELIVERY_OK) {
            lease_t *l = hd_strmap_get(&q->leases, receipts[i]);
            if (l)
                l->deadline_ms = deadline;
        }
        hd_buf_put(&text, i ? ",{\"receipt\":" : "{\"receipt\":", i ? 12 : 11);
        http__json_put_string(&text, receipts[i], strlen(receipts[i]));
        hd_buf_put(&text, ",\"status\":\"", 11);
        const char *st = delivery_result_name(results[i]);
        hd_buf_put(&text, st, strlen(st));
        hd_buf_put(&text, "\"}", 2);
    }
    hd_buf_put_u8(&text, ']');
    if (id) {
        hd_buf_put(&text, ",\"id\":", 6);
        http__json_dump(id, &text);
    }
    hd_buf_put_u8(&text, '}');
    answer_text(q, &text, s, at);
out_free:
    free(receipts);
    free(results);
out:
    json_decref(j);
}

static void q_on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                     void *user)
{
    wsq_t *q = user;
    if (arg->opcode == WSLAY_BINARY_FRAME) {
        static const char why[] = "binary messages are not accepted";
        (void)ctx;
        queue_close(q, WSLAY_CODE_UNSUPPORTED_DATA, why);
    } else if (arg->opcode == WSLAY_TEXT_FRAME && !q->closing) {
        on_request(q, arg->msg, arg->msg_length);
    } else if (arg->opcode == WSLAY_CONNECTION_CLOSE && !q->closing) {
        /* wslay answers with the same code; nothing more is leased. */
        q->closing = true;
        q->closing_since_ms = hd_mono_ms();
        if (q->waiting) {
            delivery_waiter_cancel(&q->w);
            q->waiting = false;
        }
    }
}

static const struct wslay_event_callbacks q_callbacks = {
    .recv_callback = q_recv,
    .send_callback = q_send,
    .on_msg_recv_callback = q_on_msg,
};

/* ---- leasing ---- */

/* Appends a server text frame (unmasked) holding text to q->out, past wslay: wslay's own queue
 * is always sent out whole before (pump calls wslay_event_send first), so frames stay in order. */
static void put_text_frame(wsq_t *q, const uint8_t *p, size_t n)
{
    uint8_t h[10];
    size_t hl = 0;
    h[hl++] = 0x81;
    if (n < 126) {
        h[hl++] = (uint8_t)n;
    } else if (n < 65536) {
        h[hl++] = 126;
        h[hl++] = (uint8_t)(n >> 8);
        h[hl++] = (uint8_t)n;
    } else {
        h[hl++] = 127;
        for (int i = 7; i >= 0; i--)
            h[hl++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    hd_buf_put(&q->out, h, hl);
    hd_buf_put(&q->out, p, n);
}

static lease_t *lease_new(wsq_t *q)
{
    lease_t *l = q->free_leases;
    if (l) {
        q->free_leases = l->next_free;
        return l;
    }
    return hd_malloc(sizeof *l);
}

static void on_msg(void *ctx, const delivery_msg_t *m)
{
    wsq_t *q = ctx;
    hd_buf_t *text = &q->scratch;
    hd_buf_reset(text);
    if (http__record_json_fast(m->partition, m->rec, text) == 0) {
        text->len--; /* the object's closing brace; receipts need no escaping */
        hd_buf_put(text, ",\"receipt\":\"", 12);
        hd_buf_put(text, m->receipt, strlen(m->receipt));
        hd_buf_put(text, "\",\"delivery_count\":", 19);
        char num[16];
        int n = snprintf(num, sizeof num, "%d}", (int)m->delivery_count);
        hd_buf_put(text, num, (size_t)n);
    } else {
        json_t *o = http__record_json(m->partition, m->rec);
        json_object_set_new(o, "receipt", json_string(m->receipt));
        json_object_set_new(o, "delivery_count", json_integer(m->delivery_count));
        http__json_dump(o, text);
        json_decref(o);
    }
    put_text_frame(q, text->p, text->len);
    lease_t *l = lease_new(q);
    size_t rl = strnlen(m->receipt, sizeof l->receipt - 1);
    memcpy(l->receipt, m->receipt, rl);
    l->receipt[rl] = '\0';
    l->deadline_ms = m->lease_deadline_ms;
    lease_t *old = hd_strmap_get(&q->leases, l->receipt);
    if (old) {
        hd_strmap_del(&q->leases, old->receipt);
        free(old);
    }
    hd_strmap_put(&q->leases, l->receipt, l);
}

static void on_wake(delivery_waiter_t *w, int err)
{
    wsq_t *q = w->ctx;
    q->waiting = false;
    if (err) {
        queue_close(q, err == HD_ECLOSED ? WSLAY_CODE_GOING_AWAY : WSLAY_CODE_INTERNAL_SERVER_ERROR,
                    err == HD_ECLOSED ? "server shutting down" : "subscription deleted");
        flush(q);
        return;
    }
    pump(q);
}

/* Leases records while the socket has room (leases and buffer), then waits for more. */
static void pump(wsq_t *q)
{
    if (!q->conn || q->closing || q->depth > 0)
        return;
    q->depth++;
    delivery_sub_t *s = sub_of(q);
    int room = q->max_unacked - (int)q->leases.n;
    if (!s) {
        queue_close(q, WSLAY_CODE_INTERNAL_SERVER_ERROR, "subscription deleted");
    } else if (room < q->refill && q->leases.n > 0) {
        /* Not enough room yet: lease in larger steps (an ack frees the room). */
    } else {
        bool more = true;
        while (more && (int)q->leases.n < q->max_unacked &&
               http_conn_pending(q->conn) + q->out.len < q->buffer_bytes) {
            int want = q->max_unacked - (int)q->leases.n;
            if (want > RECEIVE_STEP)
                want = RECEIVE_STEP;
            if (wslay_event_send(q->ctx) != 0)
                break;
            int n = delivery_receive(s, want, on_msg, q);
            if (n == HD_ENOTFOUND) {
                queue_close(q, WSLAY_CODE_INTERNAL_SERVER_ERROR, "topic deleted");
                break;
            }
            more = n == want;
        }
        if (!q->closing && !more && !q->waiting) {
            q->w.cb = on_wake;
            q->w.ctx = q;
            q->waiting = true;
            delivery_waiter_add(s, &q->w);
        }
    }
    q->depth--;
    answers_send(q);
    flush(q);
}

/* ---- the connection ---- */

static void q_on_read(void *ctx, const uint8_t *p, size_t n)
{
    wsq_t *q = ctx;
    if (http_conn_pending(q->conn) > q->max_pending) {
        http_conn_close(q->conn);
        return;
    }
    q->in = p;
    q->in_len = n;
    q->depth++;
    int rc = wslay_event_recv(q->ctx);
    q->depth--;
    q->in = NULL;
    q->in_len = 0;
    if (rc != 0) {
        http_conn_close(q->conn);
        return;
    }
    answers_send(q);
    pump(q);
    flush(q);
}

static void q_on_drain(void *ctx) { pump(ctx); }

static void q_on_shutdown(void *ctx)
{
    wsq_t *q = ctx;
    queue_close(q, WSLAY_CODE_GOING_AWAY, "server shutting down");
    wslay_event_send(q->ctx);
    if (q->out.len)
        http_conn_write_buf(q->conn, &q->out);
    http_conn_end(q->conn);
}

static void q_timer_closed(uv_handle_t *h)
{
    wsq_t *q = h->data;
    free(q);
}

/* Releases the leases still held (redelivered now) and frees everything. */
static void q_on_close(void *ctx)
{
    wsq_t *q = ctx;
    q->conn = NULL;
    q->closed = true;
    if (q->waiting)
        delivery_waiter_cancel(&q->w);
    q->waiting = false;
    delivery_sub_t *s = sub_of(q);
    if (s && q->leases.n > 0) {
        const char **receipts = hd_malloc(sizeof *receipts * q->leases.n);
        int *results = hd_malloc(sizeof *results * q->leases.n);
        int n = 0;
        for (size_t i = 0; i < q->leases.cap; i++)
            if (q->leases.slots[i].val)
                receipts[n++] = ((lease_t *)q->leases.slots[i].val)->receipt;
        int64_t at;
        delivery_nack(s, receipts, n, 0, "consumer disconnected", results, &at);
        free(receipts);
        free(results);
    }
    for (size_t i = 0; i < q->leases.cap; i++)
        free(q->leases.slots[i].val);
    hd_strmap_deinit(&q->leases);
    while (q->free_leases) {
        lease_t *l = q->free_leases;
        q->free_leases = l->next_free;
        free(l);
    }
    hd_buf_deinit(&q->scratch);
    while (q->head) {
        answer_t *a = q->head;
        q->head = a->next;
        broker_waiter_cancel(&a->w);
        hd_buf_deinit(&a->text);
        free(a);
    }
    hd_buf_deinit(&q->out);
    wslay_event_context_free(q->ctx);
    uv_timer_stop(&q->timer);
    uv_close((uv_handle_t *)&q->timer, q_timer_closed);
}

static void on_tick(uv_timer_t *t)
{
    wsq_t *q = t->data;
    if (!q->conn)
        return;
    int64_t now = hd_mono_ms();
    if (q->closing) {
        if (now - q->closing_since_ms >= CLOSE_GRACE_MS)
            http_conn_close(q->conn);
        return;
    }
    size_t before = q->leases.n;
    leases_sweep(q);
    if (now - q->last_send_ms >= q->heartbeat_ms) {
        struct wslay_event_msg msg = {WSLAY_PING, NULL, 0};
        wslay_event_queue_msg(q->ctx, &msg);
    }
    if (q->leases.n < before || !sub_of(q))
        pump(q);
    flush(q);
}

static const http_stream_ops_t q_ops = {
    .on_read = q_on_read,
    .on_drain = q_on_drain,
    .on_shutdown = q_on_shutdown,
    .on_close = q_on_close,
};

void http__sub_ws_start(http_req_t *r)
{
    const char *key;
    if (!http__ws_check_upgrade(r, &key))
        return;
    delivery_t *d = r->srv->delivery;
    if (!d) {
        http_problem(r, 503, "subscriptions are not available on this server");
        return;
    }
    if (!delivery_sub_find(d, r->params[0])) {
        http_problem(r, 404, "subscription '%s' does not exist", r->params[0]);
        return;
    }
    int64_t max_unacked;
    if (http_query_int(r, "max_unacked", MAX_UNACKED_DEFAULT, 1, MAX_UNACKED_LIMIT, &max_unacked) <
        0)
        return;
    hd_buf_t head;
    hd_buf_init(&head);
    if (http__ws_accept_head(key, &head) < 0) {
        hd_buf_deinit(&head);
        http_problem(r, 500, "SHA-1 is not available");
        return;
    }
    wsq_t *q = hd_calloc(1, sizeof *q);
    if (wslay_event_context_server_init(&q->ctx, &q_callbacks, q) != 0) {
        free(q);
        hd_buf_deinit(&head);
        http_problem(r, 500, "out of memory");
        return;
    }
    wslay_event_config_set_max_recv_msg_length(q->ctx, MAX_CLIENT_MSG);
    q->d = d;
    snprintf(q->name, sizeof q->name, "%s", r->params[0]);
    q->max_unacked = (int)max_unacked;
    q->refill = q->max_unacked / 4 > 1 ? q->max_unacked / 4 : 1;
    q->buffer_bytes = (size_t)r->cfg->http_stream_buffer_bytes;
    q->max_pending = q->buffer_bytes + MAX_REPLY_BACKLOG;
    q->heartbeat_ms = r->cfg->http_stream_heartbeat_ms;
    q->last_send_ms = hd_mono_ms();
    hd_strmap_init(&q->leases);
    hd_buf_init(&q->out);
    hd_buf_init(&q->scratch);
    uv_timer_init(http_conn_loop(r->conn), &q->timer);
    q->timer.data = q;
    q->conn = http_conn_takeover(r, &q_ops, q);
    http_conn_write_buf(q->conn, &head);
    uv_timer_start(&q->timer, on_tick, TICK_MS, TICK_MS);
    pump(q);
}
