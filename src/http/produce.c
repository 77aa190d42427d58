/* Producing from HTTP: records are placed on partitions (explicitly, by key with Kafka's
 * murmur2 partitioner, or keyless records together on one partition per request, moving on
 * with every request, as Kafka's sticky partitioner does per batch), encoded as uncompressed
 * RecordBatches (split so that none exceeds the topic's max.message.bytes), appended, and
 * answered once every batch is durable, as acks=all.
 *
 * Records for a topic with schema validation are checked first, on the validation threads
 * (produce_check.c), which then call http__produce_append.
 *
 * Everything is checked before anything is appended. Appending itself can still fail part-way
 * (a full disk): batches appended before the failure stay, as with a Kafka producer whose
 * request spans several partitions. HTTP producers are not idempotent: a client that retries
 * after a lost answer may store a record twice.
 *
 * Trace context: when the request carries a valid W3C traceparent header (obs/trace.c checks
 * it strictly; an invalid one is ignored), every record without a traceparent header of its own
 * gets it as record header "traceparent", and the request's tracestate, when it is valid too, as
 * "tracestate", so Kafka consumers and OpenTelemetry instrumentations see the producer's trace.
 * A record's own traceparent (or a CloudEvent's ce_traceparent) is never changed. */
#include "http/http_int.h"
#include "obs/obs.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/murmur2.h"
#include "util/say.h"

#include <errno.h>
#include <string.h>

/* The Produce version whose rules a built batch follows (any codec; ours is uncompressed). */
#define HTTP_PRODUCE_API_VERSION 9
/* Room for a record's framing beyond its bytes: length, attributes, deltas, lengths. */
#define RECORD_OVERHEAD 40
#define HEADER_OVERHEAD 10

typedef struct pwait {
    broker_waiter_t w;
    struct produce_state *st;
    broker_partition_t *part;
} pwait_t;

typedef struct produce_state {
    http_req_t *r;
    int64_t *offsets;    /* per record, in input order */
    int32_t *partitions; /* per record */
    int n;
    pwait_t *waits;
    int nwaits;
    int pending;
    int err;
    bool registering;
} produce_state_t;

static uint32_t sticky_next;

static bool has_header(const broker_record_in_t *rec, const char *name)
{
    for (int32_t i = 0; i < rec->nheaders; i++)
        if (hd_slice_eq_str(rec->headers[i].name, name))
            return true;
    return false;
}

/* Adds the request's trace context to the records that have none (see the top). */
static void add_trace_context(http_req_t *r, http_produce_rec_t *recs, int n)
{
    const char *tp = http_req_header(r, "traceparent");
    if (!tp || !obs_traceparent_parse(tp, strlen(tp), NULL))
        return;
    const char *ts = http_req_header(r, "tracestate");
    if (ts && !obs_tracestate_valid(ts, strlen(ts)))
        ts = NULL;
    for (int i = 0; i < n; i++) {
        broker_record_in_t *rec = &recs[i].rec;
        if (has_header(rec, "traceparent"))
            continue;
        int32_t nh = rec->nheaders + (ts && !has_header(rec, "tracestate") ? 2 : 1);
        broker_header_t *h = hd_arena_alloc(&r->arena, sizeof *h * (size_t)nh);
        if (!h)
            return; /* the arena is exhausted: the records go as they came */
        if (rec->nheaders > 0)
            memcpy(h, rec->headers, sizeof *h * (size_t)rec->nheaders);
        h[rec->nheaders] = (broker_header_t){hd_slice_str("traceparent"), hd_slice_str(tp), false};
        if (nh == rec->nheaders + 2)
            h[rec->nheaders + 1] =
                (broker_header_t){hd_slice_str("tracestate"), hd_slice_str(ts), false};
        rec->headers = h;
        rec->nheaders = nh;
    }
}

static size_t record_estimate(const broker_record_in_t *rec)
{
    size_t n = RECORD_OVERHEAD + rec->key.len + rec->value.len;
    for (int32_t i = 0; i < rec->nheaders; i++)
        n += HEADER_OVERHEAD + rec->headers[i].name.len + rec->headers[i].value.len;
    return n;
}

static void produce_cancel(produce_state_t *st)
{
    for (int i = 0; i < st->nwaits; i++)
        broker_waiter_cancel(&st->waits[i].w);
}

static void produce_abort(http_req_t *r) { produce_cancel(r->state); }

static void produce_answer(produce_state_t *st)
{
    http_req_t *r = st->r;
    produce_cancel(st);
    if (st->err) {
        if (st->err == HD_ENOTFOUND)
            http_problem(r, 404, "the topic was deleted before the records were durable");
        else if (st->err == HD_ECLOSED)
            http_problem(r, 503, "the server is shutting down; the records may not be durable");
        else
            http_problem(r, 500, "waiting for durability failed: %s", hd_strerror(st->err));
        return;
    }
    json_t *arr = json_array();
    for (int i = 0; i < st->n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "partition", json_integer(st->partitions[i]));
        json_object_set_new(o, "offset", json_integer(st->offsets[i]));
        json_array_append_new(arr, o);
    }
    json_t *j = json_object();
    json_object_set_new(j, "offsets", arr);
    http_respond_json(r, 200, j);
}

static void on_durable(broker_waiter_t *w, int err)
{
    pwait_t *pw = w->ctx;
    produce_state_t *st = pw->st;
    if (err && !st->err)
        st->err = err;
    st->pending--;
    if (st->pending == 0 && !st->registering)
        produce_answer(st);
}

static int storage_status(int rc)
{
    if (rc == -ENOSPC || rc == -EDQUOT)
        return 507;
    return 500;
}

void http__produce(http_req_t *r, broker_topic_t *t, http_produce_rec_t *recs, int n, json_t *doc)
{
    if (broker_topic_config(t)->schema_validation)
        http__produce_check(r, t, recs, n, doc); /* then http__produce_append */
    else
        http__produce_append(r, t, recs, n);
}

void http__produce_append(http_req_t *r, broker_topic_t *t, http_produce_rec_t *recs, int n)
{
    if (n == 0) { /* validation sent every record to the dead-letter topic */
        json_t *j = json_object();
        json_object_set_new(j, "offsets", json_array());
        http_respond_json(r, 200, j);
        return;
    }
    add_trace_context(r, recs, n);
    int32_t np = broker_topic_partitions(t);
    int64_t max_batch = broker_topic_config(t)->max_message_bytes;
    produce_state_t *st = hd_arena_alloc(&r->arena, sizeof *st);
    st->r = r;
    st->n = n;
    st->offsets = hd_arena_alloc(&r->arena, sizeof *st->offsets * (size_t)n);
    st->partitions = hd_arena_alloc(&r->arena, sizeof *st->partitions * (size_t)n);
    int32_t sticky = (int32_t)(sticky_next++ % (uint32_t)np);
    for (int i = 0; i < n; i++) {
        http_produce_rec_t *pr = &recs[i];
        if (pr->partition >= np) {
            http_problem(r, 400, "records[%d]: partition %d does not exist (topic '%s' has %d)", i,
                         pr->partition, broker_topic_name(t), np);
            return;
        }
        if (pr->partition < 0)
            pr->partition = pr->rec.key_null
                                ? sticky
                                : hd_murmur2_partition(pr->rec.key.p, pr->rec.key.len, np);
        st->partitions[i] = pr->partition;
        if (record_estimate(&pr->rec) + BROKER_BATCH_HEADER_LEN > (size_t)max_batch) {
            http_problem(r, 413, "records[%d] is larger than the topic's max.message.bytes (%lld)",
                         i, (long long)max_batch);
            return;
        }
    }
    /* One pass per partition that has records, in partition order; records keep their order
     * within a partition. Batches are cut before they would pass max.message.bytes. */
    int *idx = hd_arena_alloc(&r->arena, sizeof *idx * (size_t)n);
    broker_record_in_t *batch_recs = hd_arena_alloc(&r->arena, sizeof *batch_recs * (size_t)n);
    st->waits = hd_arena_alloc(&r->arena, sizeof *st->waits * (size_t)n);
    if (!idx || !batch_recs || !st->waits || !st->offsets || !st->partitions) {
        http_problem(r, 413, "too many records in one request");
        return;
    }
    const char *client = http__client_id(r);
    hd_buf_t buf;
    hd_buf_init(&buf);
    for (int32_t part = 0; part < np; part++) {
        int cnt = 0;
        for (int i = 0; i < n; i++)
            if (recs[i].partition == part)
                idx[cnt++] = i;
        int at = 0;
        while (at < cnt) {
            size_t size = BROKER_BATCH_HEADER_LEN;
            int k = 0;
            while (at + k < cnt) {
                size_t e = record_estimate(&recs[idx[at + k]].rec);
                if (k > 0 && size + e > (size_t)max_batch)
                    break;
                batch_recs[k] = recs[idx[at + k]].rec;
                size += e;
                k++;
            }
            hd_buf_reset(&buf);
            ssize_t len = broker_batch_build(batch_recs, k, (size_t)max_batch, &buf);
            broker_partition_t *p = broker_topic_partition(t, part);
            broker_append_t res;
            const char *why = NULL;
            int rc = len < 0
                         ? (int)len
                         : broker_partition_append_as(p, buf.p, (size_t)len,
                                                      HTTP_PRODUCE_API_VERSION, client, &res, &why);
            if (rc < 0) {
                hd_buf_deinit(&buf);
                if (rc == HD_ETOOBIG)
                    http_problem(r, 413,
                                 "a batch of records for partition %d is larger than "
                                 "max.message.bytes",
                                 part);
                else if (rc == HD_EMALFORMED || rc == HD_EINVAL)
                    http_problem(r, 400, "partition %d refused the records: %s", part,
                                 why ? why : hd_strerror(rc));
                else
                    http_problem(r, storage_status(rc), "appending to partition %d failed: %s",
                                 part, why ? why : hd_strerror(rc));
                return;
            }
            for (int j = 0; j < k; j++)
                st->offsets[idx[at + j]] = res.base_offset + j;
            if (obs_otlp_on) {
                obs_span_op_t op = {.via = "http",
                                    .topic = broker_topic_name(t),
                                    .partition = part,
                                    .start_ns = r->t0_ns,
                                    .base_offset = res.base_offset};
                obs_trace_batches(&op, hd_slice(buf.p, (size_t)len));
            }
            pwait_t *pw = &st->waits[st->nwaits++];
            pw->st = st;
            pw->w.target = res.end_offset;
            pw->w.cb = on_durable;
            pw->w.ctx = pw;
            pw->part = p;
            at += k;
        }
    }
    hd_buf_deinit(&buf);
    r->state = st;
    r->on_abort = produce_abort;
    st->pending = st->nwaits;
    st->registering = true;
    for (int i = 0; i < st->nwaits; i++)
        broker_waiter_add(st->waits[i].part, &st->waits[i].w);
    st->registering = false;
    if (st->pending == 0)
        produce_answer(st);
}
