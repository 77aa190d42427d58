/* REST: subscriptions, the per-message queues of delivery/. POST /subscriptions creates one;
 * GET /subscriptions lists them; GET and DELETE /subscriptions/{name}; and per subscription
 * POST .../receive (long-polled leases), .../ack, .../nack, .../extend (answered per receipt,
 * once the state change is durable), .../redrive and .../purge (its dead letters). Records are
 * rendered as the records API does (http__record_json) with their receipt and delivery count. */
#include "http/http_int.h"
#include "obs/obs.h"
#include "util/err.h"
#include "util/mem.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define RECEIVE_MAX 1000
#define RECEIVE_MAX_WAIT_MS 60000
#define SETTLE_MAX_RECEIPTS 10000

/* ---- helpers ---- */

static delivery_t *engine(http_req_t *r)
{
    delivery_t *d = r->srv->delivery;
    if (!d)
        http_problem(r, 503, "subscriptions are not available on this server");
    return d;
}

/* The subscription named by the first path parameter, or NULL after answering. */
static delivery_sub_t *find_sub(http_req_t *r)
{
    delivery_t *d = engine(r);
    if (!d)
        return NULL;
    delivery_sub_t *s = delivery_sub_find(d, r->params[0]);
    if (!s)
        http_problem(r, 404, "subscription '%s' does not exist", r->params[0]);
    return s;
}

/* The body as a JSON object, or an empty object when there is no body. NULL after answering. */
static json_t *optional_body(http_req_t *r)
{
    if (r->body.len == 0)
        return json_object();
    json_t *j = http_req_json(r);
    if (j && !json_is_object(j)) {
        http_problem(r, 400, "expected a JSON object");
        json_decref(j);
        return NULL;
    }
    return j;
}

/* Reads an integer member in [min, max] (absent: unchanged). Answers 400 and returns false on a
 * bad value. */
static bool member_int(http_req_t *r, json_t *o, const char *path, const char *k, int64_t min,
                       int64_t max, int64_t *out)
{
    json_t *v = json_object_get(o, k);
    if (!v)
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        http_problem(r, 400, "%s%s must be an integer in [%lld, %lld]", path, k, (long long)min,
                     (long long)max);
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

static bool member_real(http_req_t *r, json_t *o, const char *path, const char *k, double min,
                        double max, double *out)
{
    json_t *v = json_object_get(o, k);
    if (!v)
        return true;
    if (!json_is_number(v) || !(json_number_value(v) >= min && json_number_value(v) <= max)) {
        http_problem(r, 400, "%s%s must be a number in [%g, %g]", path, k, min, max);
        return false;
    }
    *out = json_number_value(v);
    return true;
}

/* A string member (absent: NULL, unchanged); answers 400 when it is not a string. */
static bool member_str(http_req_t *r, json_t *o, const char *path, const char *k, const char **out)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v))
        return true;
    if (!json_is_string(v)) {
        http_problem(r, 400, "%s%s must be a string", path, k);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

/* Answers 400 naming the first member of o not in allowed (NULL-terminated). */
static bool only_members(http_req_t *r, json_t *o, const char *path, const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        bool ok = false;
        for (int i = 0; allowed[i] && !ok; i++)
            ok = !strcmp(k, allowed[i]);
        if (!ok) {
            http_problem(r, 400, "unknown member %s%s", path, k);
            return false;
        }
    }
    return true;
}

static json_t *sub_json(delivery_sub_t *s, bool stats)
{
    const delivery_settings_t *st = delivery_sub_settings(s);
    json_t *j = json_object();
    json_object_set_new(j, "name", json_string(st->name));
    json_object_set_new(j, "topic", json_string(st->topic));
    if (st->partitions) {
        json_t *a = json_array();
        for (int i = 0; i < st->npartitions; i++)
            json_array_append_new(a, json_integer(st->partitions[i]));
        json_object_set_new(j, "partitions", a);
    }
    json_object_set_new(j, "ack_timeout_ms", json_integer(st->ack_timeout_ms));
    json_object_set_new(j, "max_deliveries", json_integer(st->max_deliveries));
    json_t *b = json_object();
    json_object_set_new(b, "initial_ms", json_integer(st->backoff.initial_ms));
    json_object_set_new(b, "multiplier", json_real(st->backoff.multiplier));
    json_object_set_new(b, "max_ms", json_integer(st->backoff.max_ms));
    json_object_set_new(b, "jitter", json_real(st->backoff.jitter));
    json_object_set_new(j, "backoff", b);
    json_object_set_new(j, "dead_letter_topic",
                        st->dead_letter_topic ? json_string(st->dead_letter_topic) : json_null());
    json_t *f = json_object();
    if (st->filter_type)
        json_object_set_new(f, "type", json_string(st->filter_type));
    if (st->filter_key)
        json_object_set_new(f, "key", json_string(st->filter_key));
    json_object_set_new(j, "filter", f);
    json_object_set_new(j, "ordering",
                        json_string(st->ordering == DELIVERY_ORDER_KEY ? "key" : "none"));
    if (stats) {
        delivery_stats_t ds;
        delivery_sub_stats(s, &ds);
        json_t *o = json_object();
        json_object_set_new(o, "backlog", json_integer(ds.backlog));
        json_object_set_new(o, "in_flight", json_integer(ds.in_flight));
        json_object_set_new(o, "scheduled", json_integer(ds.scheduled));
        json_object_set_new(o, "dead_lettered", json_integer(ds.dead_lettered));
        json_object_set_new(o, "oldest_unacked_ms", json_integer(ds.oldest_unacked_ms));
        json_object_set_new(j, "stats", o);
    }
    return j;
}

/* ---- answering once the state is durable ---- */

typedef struct durable_answer {
    http_req_t *r;
    broker_waiter_t w;
    int status;
    json_t *body;
} durable_answer_t;

static void on_durable(broker_waiter_t *w, int err)
{
    durable_answer_t *da = w->ctx;
    http_req_t *r = da->r;
    json_t *body = da->body;
    da->body = NULL;
    if (err == 0)
        http_respond_json(r, da->status, body);
    else {
        json_decref(body);
        if (err == HD_ECLOSED || err == HD_ENOTFOUND)
            http_problem(r, 503,
                         "the subscription was closed or deleted before the change was "
                         "durable");
        else
            http_problem(r, 500, "the subscription's state could not be made durable: %s",
                         hd_strerror(err));
    }
}

static void durable_abort(http_req_t *r)
{
    durable_answer_t *da = r->state;
    broker_waiter_cancel(&da->w);
    json_decref(da->body);
    da->body = NULL;
}

/* Answers status + body (stolen) once s's state log is durable up to at. */
static void answer_when_durable(http_req_t *r, delivery_sub_t *s, int64_t at, int status,
                                json_t *body)
{
    durable_answer_t *da = hd_arena_alloc(&r->arena, sizeof *da);
    memset(da, 0, sizeof *da);
    da->r = r;
    da->status = status;
    da->body = body;
    da->w.cb = on_durable;
    da->w.ctx = da;
    r->state = da;
    r->on_abort = durable_abort;
    delivery_sub_wait(s, at, &da->w);
}

/* ---- create, list, get, delete ---- */

static const char *const CREATE_MEMBERS[] = {
    "name",    "topic",  "partitions", "ack_timeout_ms", "max_deliveries",
    "backoff", "filter", "ordering",   "start",          "dead_letter_topic",
    NULL};
static const char *const BACKOFF_MEMBERS[] = {"initial_ms", "multiplier", "max_ms", "jitter", NULL};
static const char *const FILTER_MEMBERS[] = {"type", "key", NULL};

/* Fills st from the body; answers 400 and returns false on a bad member. */
static bool parse_settings(http_req_t *r, json_t *j, delivery_settings_t *st, int32_t *parts)
{
    delivery_settings_defaults(st);
    if (!only_members(r, j, "", CREATE_MEMBERS))
        return false;
    if (!member_str(r, j, "", "name", &st->name) || !member_str(r, j, "", "topic", &st->topic))
        return false;
    if (!st->name || !st->topic) {
        http_problem(r, 400, "name and topic are required");
        return false;
    }
    json_t *pa = json_object_get(j, "partitions");
    if (pa && !json_is_null(pa)) {
        if (!json_is_array(pa) || json_array_size(pa) == 0 ||
            json_array_size(pa) > DELIVERY_MAX_PARTITIONS) {
            http_problem(r, 400, "partitions must be an array of 1 to %d partition numbers",
                         DELIVERY_MAX_PARTITIONS);
            return false;
        }
        for (size_t i = 0; i < json_array_size(pa); i++) {
            json_t *x = json_array_get(pa, i);
            if (!json_is_integer(x) || json_integer_value(x) < 0 ||
                json_integer_value(x) >= DELIVERY_MAX_PARTITIONS) {
                http_problem(r, 400, "partitions[%zu] must be an integer in [0, %d)", i,
                             DELIVERY_MAX_PARTITIONS);
                return false;
            }
            parts[i] = (int32_t)json_integer_value(x);
        }
        st->partitions = parts;
        st->npartitions = (int)json_array_size(pa);
    }
    int64_t maxd = st->max_deliveries;
    if (!member_int(r, j, "", "ack_timeout_ms", 100, 12 * 3600 * 1000, &st->ack_timeout_ms) ||
        !member_int(r, j, "", "max_deliveries", 0, 1000000, &maxd))
        return false;
    st->max_deliveries = (int32_t)maxd;
    json_t *b = json_object_get(j, "backoff");
    if (b && !json_is_null(b)) {
        if (!json_is_object(b)) {
            http_problem(r, 400, "backoff must be an object");
            return false;
        }
        if (!only_members(r, b, "backoff.", BACKOFF_MEMBERS) ||
            !member_int(r, b, "backoff.", "initial_ms", 0, 86400000, &st->backoff.initial_ms) ||
            !member_real(r, b, "backoff.", "multiplier", 1, 100, &st->backoff.multiplier) ||
            !member_int(r, b, "backoff.", "max_ms", 0, 86400000, &st->backoff.max_ms) ||
            !member_real(r, b, "backoff.", "jitter", 0, 1, &st->backoff.jitter))
            return false;
        if (!json_object_get(b, "max_ms") && st->backoff.max_ms < st->backoff.initial_ms)
            st->backoff.max_ms = st->backoff.initial_ms;
    }
    if (!member_str(r, j, "", "dead_letter_topic", &st->dead_letter_topic))
        return false;
    json_t *f = json_object_get(j, "filter");
    if (f && !json_is_null(f)) {
        if (!json_is_object(f)) {
            http_problem(r, 400, "filter must be an object");
            return false;
        }
        if (!only_members(r, f, "filter.", FILTER_MEMBERS) ||
            !member_str(r, f, "filter.", "type", &st->filter_type) ||
            !member_str(r, f, "filter.", "key", &st->filter_key))
            return false;
    }
    const char *ord = NULL, *start = NULL;
    if (!member_str(r, j, "", "ordering", &ord) || !member_str(r, j, "", "start", &start))
        return false;
    if (ord && strcmp(ord, "none") && strcmp(ord, "key")) {
        http_problem(r, 400, "ordering must be \"none\" or \"key\"");
        return false;
    }
    st->ordering = ord && !strcmp(ord, "key") ? DELIVERY_ORDER_KEY : DELIVERY_ORDER_NONE;
    if (start && strcmp(start, "latest") && strcmp(start, "earliest")) {
        http_problem(r, 400, "start must be \"latest\" or \"earliest\"");
        return false;
    }
    st->start =
        start && !strcmp(start, "earliest") ? DELIVERY_START_EARLIEST : DELIVERY_START_LATEST;
    return true;
}

void http__subs_create(http_req_t *r)
{
    delivery_t *d = engine(r);
    if (!d)
        return;
    json_t *j = http_req_json(r);
    if (!j)
        return;
    if (!json_is_object(j)) {
        http_problem(r, 400, "expected a JSON object");
        json_decref(j);
        return;
    }
    int32_t *parts = hd_arena_alloc(&r->arena, sizeof(int32_t) * DELIVERY_MAX_PARTITIONS);
    delivery_settings_t st;
    if (!parts || !parse_settings(r, j, &st, parts)) {
        if (!parts)
            http_problem(r, 500, "out of request memory");
        json_decref(j);
        return;
    }
    delivery_sub_t *s;
    int64_t at;
    const char *why = "invalid settings";
    int rc = delivery_sub_create(d, &st, &s, &at, &why);
    if (rc == HD_EEXIST)
        http_problem(r, 409, "subscription '%s' already exists", st.name);
    else if (rc == HD_ENOTFOUND)
        http_problem(r, 404, "topic '%s' does not exist", st.topic);
    else if (rc == HD_EINVAL)
        http_problem(r, 400, "%s", why);
    else if (rc < 0)
        http_problem(r, 500, "creating subscription '%s' failed: %s (%s)", st.name, why,
                     hd_strerror(rc));
    else {
        char loc[300];
        snprintf(loc, sizeof loc, "/subscriptions/%s", st.name);
        http_req_add_header(r, "Location", loc);
        answer_when_durable(r, s, at, 201, sub_json(s, false));
    }
    json_decref(j);
}

void http__subs_list(http_req_t *r)
{
    delivery_t *d = engine(r);
    if (!d)
        return;
    json_t *arr = json_array();
    for (int i = 0; i < delivery_sub_count(d); i++)
        json_array_append_new(arr, sub_json(delivery_sub_at(d, i), false));
    json_t *j = json_object();
    json_object_set_new(j, "subscriptions", arr);
    http_respond_json(r, 200, j);
}

void http__sub_get(http_req_t *r)
{
    delivery_sub_t *s = find_sub(r);
    if (s)
        http_respond_json(r, 200, sub_json(s, true));
}

void http__sub_delete(http_req_t *r)
{
    delivery_sub_t *s = find_sub(r);
    if (!s)
        return;
    int rc = delivery_sub_delete(r->srv->delivery, r->params[0]);
    if (rc < 0) {
        http_problem(r, 500, "deleting subscription '%s' failed: %s", r->params[0],
                     hd_strerror(rc));
        return;
    }
    http_respond(r, 204, NULL, NULL, 0);
}

/* ---- receive ---- */

typedef struct recv_state {
    http_req_t *r;
    delivery_sub_t *s;
    delivery_waiter_t w;
    json_t *msgs;
    int max;
    int64_t max_ts; /* newest timestamp leased by this step, or -1 */
} recv_state_t;

static void add_msg(void *ctx, const delivery_msg_t *m)
{
    recv_state_t *st = ctx;
    json_t *o = http__record_json(m->partition, m->rec);
    json_object_set_new(o, "receipt", json_string(m->receipt));
    json_object_set_new(o, "delivery_count", json_integer(m->delivery_count));
    json_array_append_new(st->msgs, o);
    if (m->rec->timestamp > st->max_ts)
        st->max_ts = m->rec->timestamp;
    obs_trace_ctx_t tc;
    if (obs_otlp_on && obs_record_trace(m->rec, &tc)) {
        const delivery_settings_t *set = delivery_sub_settings(st->s);
        obs_span_op_t op = {.deliver = true,
                            .via = "subscription",
                            .topic = set->topic,
                            .partition = m->partition,
                            .subscription = set->name,
                            .start_ns = st->r->t0_ns,
                            .base_offset = -1};
        obs_trace_span(&op, &tc, m->rec->offset, 1);
    }
}

static void recv_answer(recv_state_t *st)
{
    delivery_waiter_cancel(&st->w);
    json_t *j = json_object();
    json_object_set_new(j, "messages", st->msgs);
    st->msgs = NULL;
    http_respond_json(st->r, 200, j);
}

static void on_recv_wake(delivery_waiter_t *w, int err);

/* Leases what there is; answers when something came, when final, or on error; else waits. */
static void recv_step(recv_state_t *st, bool final)
{
    st->max_ts = -1;
    int n = delivery_receive(st->s, st->max, add_msg, st);
    if (st->max_ts >= 0)
        obs_e2e_observe(OBS_DELIVERY_SUBSCRIPTION, delivery_sub_settings(st->s)->name, st->max_ts);
    if (n == HD_ENOTFOUND) {
        json_decref(st->msgs);
        st->msgs = NULL;
        http_problem(st->r, 404, "the topic of subscription '%s' does not exist",
                     delivery_sub_settings(st->s)->name);
        return;
    }
    if (n > 0 || final) {
        recv_answer(st);
        return;
    }
    st->w.cb = on_recv_wake;
    st->w.ctx = st;
    delivery_waiter_add(st->s, &st->w);
}

static void on_recv_wake(delivery_waiter_t *w, int err)
{
    recv_state_t *st = w->ctx;
    if (err) {
        json_decref(st->msgs);
        st->msgs = NULL;
        http_problem(st->r, err == HD_ENOTFOUND ? 404 : 503,
                     "the subscription was %s while waiting",
                     err == HD_ENOTFOUND ? "deleted" : "closed");
        return;
    }
    recv_step(st, false);
}

static void recv_timer(http_req_t *r)
{
    recv_state_t *st = r->state;
    delivery_waiter_cancel(&st->w);
    recv_step(st, true);
}

static void recv_abort(http_req_t *r)
{
    recv_state_t *st = r->state;
    delivery_waiter_cancel(&st->w);
    json_decref(st->msgs);
    st->msgs = NULL;
}

void http__sub_receive(http_req_t *r)
{
    delivery_sub_t *s = find_sub(r);
    if (!s)
        return;
    json_t *j = optional_body(r);
    if (!j)
        return;
    static const char *const members[] = {"max", "wait_ms", NULL};
    int64_t max = 1, wait = 0;
    bool ok = only_members(r, j, "", members) &&
              member_int(r, j, "", "max", 1, RECEIVE_MAX, &max) &&
              member_int(r, j, "", "wait_ms", 0, RECEIVE_MAX_WAIT_MS, &wait);
    json_decref(j);
    if (!ok)
        return;
    recv_state_t *st = hd_arena_alloc(&r->arena, sizeof *st);
    memset(st, 0, sizeof *st);
    st->r = r;
    st->s = s;
    st->max = (int)max;
    st->msgs = json_array();
    r->state = st;
    r->on_abort = recv_abort;
    r->on_timer = recv_timer;
    if (wait > 0)
        http_req_arm_timer(r, wait);
    recv_step(st, wait == 0);
}

/* ---- ack, nack, extend ---- */

typedef enum { SETTLE_ACK, SETTLE_NACK, SETTLE_EXTEND } settle_t;

static void settle(http_req_t *r, settle_t op)
{
    delivery_sub_t *s = find_sub(r);
    if (!s)
        return;
    json_t *j = http_req_json(r);
    if (!j)
        return;
    static const char *const ack_m[] = {"receipts", NULL};
    static const char *const nack_m[] = {"receipts", "delay_ms", "error", NULL};
    static const char *const ext_m[] = {"receipts", "ms", NULL};
    json_t *arr = json_is_object(j) ? json_object_get(j, "receipts") : NULL;
    int64_t delay = -1, ms = -1;
    const char *error = NULL;
    if (!json_is_object(j)) {
        http_problem(r, 400, "expected a JSON object");
        goto out;
    }
    if (!only_members(r, j, "", op == SETTLE_ACK ? ack_m : op == SETTLE_NACK ? nack_m : ext_m))
        goto out;
    if (!json_is_array(arr) || json_array_size(arr) == 0 ||
        json_array_size(arr) > SETTLE_MAX_RECEIPTS) {
        http_problem(r, 400, "receipts must be an array of 1 to %d receipt strings",
                     SETTLE_MAX_RECEIPTS);
        goto out;
    }
    if (op == SETTLE_NACK && (!member_int(r, j, "", "delay_ms", 0, 86400000, &delay) ||
                              !member_str(r, j, "", "error", &error)))
        goto out;
    if (op == SETTLE_EXTEND) {
        if (!json_object_get(j, "ms")) {
            http_problem(r, 400, "ms is required");
            goto out;
        }
        if (!member_int(r, j, "", "ms", 1, 12 * 3600 * 1000, &ms))
            goto out;
    }
    size_t n = json_array_size(arr);
    const char **receipts = hd_arena_alloc(&r->arena, sizeof *receipts * n);
    int *results = hd_arena_alloc(&r->arena, sizeof *results * n);
    if (!receipts || !results) {
        http_problem(r, 413, "too many receipts in one request");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        receipts[i] = json_string_value(json_array_get(arr, i));
        if (!receipts[i]) {
            http_problem(r, 400, "receipts[%zu] must be a string", i);
            goto out;
        }
    }
    int64_t at;
    if (op == SETTLE_ACK)
        delivery_ack(s, receipts, (int)n, results, &at);
    else if (op == SETTLE_NACK)
        delivery_nack(s, receipts, (int)n, delay, error, results, &at);
    else
        delivery_extend(s, receipts, (int)n, ms, results, &at);
    json_t *res = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "receipt", json_string(receipts[i]));
        json_object_set_new(o, "status", json_string(delivery_result_name(results[i])));
        json_array_append_new(res, o);
    }
    json_t *body = json_object();
    json_object_set_new(body, "results", res);
    answer_when_durable(r, s, at, 200, body);
out:
    json_decref(j);
}

void http__sub_ack(http_req_t *r) { settle(r, SETTLE_ACK); }
void http__sub_nack(http_req_t *r) { settle(r, SETTLE_NACK); }
void http__sub_extend(http_req_t *r) { settle(r, SETTLE_EXTEND); }

/* ---- dead letters ---- */

void http__sub_redrive(http_req_t *r)
{
    delivery_sub_t *s = find_sub(r);
    if (!s)
        return;
    json_t *j = optional_body(r);
    if (!j)
        return;
    static const char *const members[] = {"from_offset", "to_offset", NULL};
    int64_t from = 0, to = -1;
    bool ok = only_members(r, j, "", members) &&
              member_int(r, j, "", "from_offset", 0, INT64_MAX, &from) &&
              member_int(r, j, "", "to_offset", 0, INT64_MAX, &to);
    json_decref(j);
    if (!ok)
        return;
    if (to >= 0 && to < from) {
        http_problem(r, 400, "to_offset must not be below from_offset");
        return;
    }
    if (!delivery_sub_settings(s)->dead_letter_topic) {
        http_problem(r, 409, "subscription '%s' has no dead-letter topic",
                     delivery_sub_settings(s)->name);
        return;
    }
    delivery_redrive_result_t res;
    int64_t at;
    int rc = delivery_redrive(s, from, to, &res, &at);
    if (rc < 0) {
        http_problem(r, 500, "redrive failed: %s", hd_strerror(rc));
        return;
    }
    json_t *body = json_object();
    json_object_set_new(body, "redriven", json_integer(res.redriven));
    json_object_set_new(body, "missing", json_integer(res.missing));
    json_object_set_new(body, "next_offset",
                        res.next_offset >= 0 ? json_integer(res.next_offset) : json_null());
    answer_when_durable(r, s, at, 200, body);
}

void http__sub_purge(http_req_t *r)
{
    delivery_sub_t *s = find_sub(r);
    if (!s)
        return;
    int64_t dropped, at;
    int rc = delivery_purge(s, &dropped, &at);
    if (rc < 0) {
        http_problem(r, 500, "purge failed: %s", hd_strerror(rc));
        return;
    }
    json_t *body = json_object();
    json_object_set_new(body, "purged", json_integer(dropped));
    answer_when_durable(r, s, at, 200, body);
}
