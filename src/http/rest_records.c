/* REST: records of a topic. POST /topics/{topic}/records produces (answered once durable);
 * GET /topics/{topic}/records?partition&offset&limit&timeout_ms reads one partition from an
 * offset, long-polling up to timeout_ms when nothing is there yet. Compressed batches written by
 * Kafka clients are inflated to show their records. */
#include "http/http_int.h"
#include "obs/obs.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/say.h"

#include <stdio.h>
#include <string.h>

#define FETCH_MAX_LIMIT 10000
#define FETCH_MAX_TIMEOUT_MS 60000
/* Bytes of stored batches read per answer, and the bound on inflating one batch. */
#define FETCH_MAX_BYTES (4u << 20)
#define FETCH_MAX_INFLATED (64u << 20)

/* ---- produce ---- */

void http__records_produce(http_req_t *r)
{
    broker_topic_t *t = broker_topic_find(r->broker, r->params[0]);
    if (!t) {
        http_problem(r, 404, "topic '%s' does not exist", r->params[0]);
        return;
    }
    /* The one-pass decoder handles well-formed bodies; the general path below gives the
     * precise answer to everything else. */
    const char *media = http_req_media_type(r);
    http_produce_rec_t *fast;
    int nfast;
    if ((media[0] == '\0' || strcmp(media, "application/json") == 0) &&
        http__produce_parse_fast(r, &fast, &nfast) == 0) {
        http__produce(r, t, fast, nfast, NULL);
        return;
    }
    json_t *body = http_req_json(r);
    if (!body)
        return;
    json_t *arr = json_object_get(body, "records");
    if (!json_is_object(body) || !json_is_array(arr) || json_array_size(arr) == 0) {
        http_problem(r, 400, "expected {\"records\": [ ... ]} with at least one record");
        goto out;
    }
    size_t n = json_array_size(arr);
    http_produce_rec_t *recs = hd_arena_alloc(&r->arena, sizeof *recs * n);
    if (!recs) {
        http_problem(r, 413, "too many records in one request");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const char *why = "invalid record";
        if (http__record_from_json(r, json_array_get(arr, i), &recs[i].rec, &recs[i].partition,
                                   &why) < 0) {
            http_problem(r, 400, "records[%zu]: %s", i, why);
            goto out;
        }
    }
    /* The records borrow strings from `body`: http__produce keeps a reference while needed. */
    http__produce(r, t, recs, (int)n, body);
out:
    json_decref(body);
}

/* ---- fetch ---- */

typedef struct fetch_state {
    http_req_t *r;
    broker_waiter_t w;
    broker_partition_t *p;
    int32_t partition;
    int64_t offset;
    int64_t limit;
    bool registering;
    bool woken;
} fetch_state_t;

typedef struct collect {
    json_t *arr;
    int32_t partition;
    int64_t from;
    int64_t limit;
    int64_t next;
    int64_t max_ts; /* newest timestamp collected, or -1 */
    obs_span_op_t op;
} collect_t;

static int collect_one(void *ctx, const broker_record_t *rec)
{
    collect_t *c = ctx;
    if (rec->offset < c->from)
        return 0;
    if ((int64_t)json_array_size(c->arr) >= c->limit)
        return 1;
    json_array_append_new(c->arr, http__record_json(c->partition, rec));
    c->next = rec->offset + 1;
    if (rec->timestamp > c->max_ts)
        c->max_ts = rec->timestamp;
    obs_trace_ctx_t tc;
    if (obs_otlp_on && obs_record_trace(rec, &tc))
        obs_trace_span(&c->op, &tc, rec->offset, 1);
    return 0;
}

/* Reads records at and after st->offset, up to the limit and the high watermark. Returns the
 * JSON array (new reference) and the next offset, or NULL on a storage error (answered). */
static json_t *read_records(fetch_state_t *st, int64_t *next)
{
    http_req_t *r = st->r;
    collect_t c = {json_array(), st->partition, st->offset, st->limit, st->offset, -1, {0}};
    c.op = (obs_span_op_t){.deliver = true,
                           .via = "http",
                           .topic = r->params[0],
                           .partition = st->partition,
                           .start_ns = r->t0_ns,
                           .base_offset = -1};
    hd_buf_t data, scratch;
    hd_buf_init(&data);
    hd_buf_init(&scratch);
    size_t budget = FETCH_MAX_BYTES;
    while ((int64_t)json_array_size(c.arr) < c.limit && c.next < broker_partition_hwm(st->p) &&
           budget > 0) {
        hd_buf_reset(&data);
        ssize_t n = broker_partition_read(st->p, c.next, budget, &data);
        if (n == 0)
            break;
        if (n < 0) {
            json_decref(c.arr);
            c.arr = NULL;
            if (n == HD_ERANGE)
                http_problem(r, 416, "offset %lld is no longer in partition %d (log start %lld)",
                             (long long)c.next, st->partition,
                             (long long)broker_partition_start(st->p));
            else
                http_problem(r, 500, "reading partition %d failed: %s", st->partition,
                             hd_strerror((int)n));
            break;
        }
        budget = (size_t)n >= budget ? 0 : budget - (size_t)n;
        int64_t before = c.next;
        size_t pos = 0;
        while (pos + BROKER_BATCH_HEADER_LEN <= data.len) {
            broker_batch_hdr_t h;
            broker_batch_hdr_decode(data.p + pos, &h);
            size_t blen = (size_t)h.batch_length + 12;
            if (h.batch_length < 0 || pos + blen > data.len)
                break;
            int64_t batch_end = h.base_offset + h.last_offset_delta + 1;
            if (!(h.attributes & BROKER_ATTR_CONTROL)) {
                int rc = broker_batch_for_each(hd_slice(data.p + pos, blen), FETCH_MAX_INFLATED,
                                               &scratch, collect_one, &c);
                hd_buf_reset(&scratch);
                if (rc < 0) {
                    say_warn_every(5, "http: partition %d batch at %lld unreadable: %s",
                                   st->partition, (long long)h.base_offset, hd_strerror(rc));
                }
                if (rc != 0)
                    break;
            }
            if ((int64_t)json_array_size(c.arr) < c.limit && batch_end > c.next)
                c.next = batch_end; /* nothing more below the batch's end */
            pos += blen;
        }
        if (c.next == before)
            break; /* no progress: do not spin */
    }
    hd_buf_deinit(&data);
    hd_buf_deinit(&scratch);
    if (c.arr && c.max_ts >= 0)
        obs_e2e_observe(OBS_DELIVERY_HTTP_READ, "", c.max_ts);
    *next = c.next;
    return c.arr;
}

static void fetch_answer(fetch_state_t *st, json_t *arr, int64_t next)
{
    json_t *j = json_object();
    json_object_set_new(j, "records", arr);
    json_object_set_new(j, "next_offset", json_integer(next));
    json_object_set_new(j, "high_watermark", json_integer(broker_partition_hwm(st->p)));
    json_object_set_new(j, "log_start_offset", json_integer(broker_partition_start(st->p)));
    broker_waiter_cancel(&st->w);
    http_respond_json(st->r, 200, j);
}

static void on_fetch_wake(broker_waiter_t *w, int err);

/* Reads; answers when there is something, the wait is over (final) or on error; else parks. */
static void fetch_step(fetch_state_t *st, bool final)
{
    for (;;) {
        int64_t next;
        json_t *arr = read_records(st, &next);
        if (!arr)
            return; /* answered */
        if (json_array_size(arr) > 0 || final) {
            fetch_answer(st, arr, next);
            return;
        }
        json_decref(arr);
        st->registering = true;
        st->woken = false;
        st->w.target = broker_partition_hwm(st->p) + 1;
        st->w.cb = on_fetch_wake;
        st->w.ctx = st;
        broker_waiter_add(st->p, &st->w);
        st->registering = false;
        if (!st->woken)
            return;
    }
}

static void on_fetch_wake(broker_waiter_t *w, int err)
{
    fetch_state_t *st = w->ctx;
    if (st->registering) {
        st->woken = true;
        return;
    }
    if (err == HD_ENOTFOUND) {
        http_problem(st->r, 404, "the topic was deleted while waiting");
        return;
    }
    /* Answering stops the request's timer; a wake with nothing to show parks again. */
    fetch_step(st, err != 0);
}

static void fetch_timer(http_req_t *r)
{
    fetch_state_t *st = r->state;
    broker_waiter_cancel(&st->w);
    fetch_step(st, true);
}

static void fetch_abort(http_req_t *r)
{
    fetch_state_t *st = r->state;
    broker_waiter_cancel(&st->w);
}

void http__records_fetch(http_req_t *r)
{
    broker_topic_t *t = broker_topic_find(r->broker, r->params[0]);
    if (!t) {
        http_problem(r, 404, "topic '%s' does not exist", r->params[0]);
        return;
    }
    int64_t partition, offset, limit, timeout;
    if (http_query_int(r, "partition", 0, 0, INT32_MAX, &partition) < 0)
        return;
    broker_partition_t *p = broker_topic_partition(t, (int32_t)partition);
    if (!p) {
        http_problem(r, 404, "partition %lld of topic '%s' does not exist (it has %d)",
                     (long long)partition, r->params[0], broker_topic_partitions(t));
        return;
    }
    if (http_query_int(r, "offset", broker_partition_start(p), 0, INT64_MAX, &offset) < 0 ||
        http_query_int(r, "limit", 100, 1, FETCH_MAX_LIMIT, &limit) < 0 ||
        http_query_int(r, "timeout_ms", 0, 0, FETCH_MAX_TIMEOUT_MS, &timeout) < 0)
        return;
    int64_t start = broker_partition_start(p), hwm = broker_partition_hwm(p);
    if (offset < start || offset > hwm) {
        char range[64];
        snprintf(range, sizeof range, "offsets %lld-%lld", (long long)start, (long long)hwm);
        http_req_add_header(r, "Content-Range", range);
        http_problem(r, 416,
                     "offset %lld is out of range for partition %lld: readable offsets are "
                     "[%lld, %lld] (the high watermark is the next offset to be written)",
                     (long long)offset, (long long)partition, (long long)start, (long long)hwm);
        return;
    }
    fetch_state_t *st = hd_arena_alloc(&r->arena, sizeof *st);
    st->r = r;
    st->p = p;
    st->partition = (int32_t)partition;
    st->offset = offset;
    st->limit = limit;
    r->state = st;
    r->on_abort = fetch_abort;
    r->on_timer = fetch_timer;
    if (timeout > 0)
        http_req_arm_timer(r, timeout);
    fetch_step(st, timeout == 0);
}
