/* Fetch (v4-11) and ListOffsets (v1-7).
 *
 * Behaviour notes:
 * - Consumers only see durable records: the high watermark is the fsynced offset, and reads stop
 *   there. LastStableOffset = high watermark (no transactions); AbortedTransactions is empty.
 * - Whole batches only, starting with the batch that contains FetchOffset (clients skip records
 *   below it). Partitions are filled in request order up to PartitionMaxBytes each and MaxBytes
 *   in all, except that the first batch of the first non-empty partition is always sent whole
 *   (KIP-74), so a consumer can always make progress.
 * - Long poll: when fewer than MinBytes are available the request parks on its partitions and is
 *   answered when the high watermark of any of them moves, or after MaxWaitMs. Errors (unknown
 *   partition, OFFSET_OUT_OF_RANGE) answer at once.
 * - Fetch sessions (KIP-227) are not kept: SessionId 0 is always returned, every request is a
 *   full fetch, and an incremental request naming a session gets FETCH_SESSION_ID_NOT_FOUND.
 * - ListOffsets: -1 latest (the high watermark), -2 earliest (the log start), -3 (v7+, KIP-734)
 *   the first record with the largest timestamp, t >= 0 the first record whose timestamp is >= t
 *   (compressed batches are inflated to find the exact record), or offset -1 when there is none.
 *   LeaderEpoch (v4+) is this broker's epoch 0 for a found offset; CurrentLeaderEpoch is checked
 *   as in Fetch. */
#include "kafka/handler_int.h"
#include "obs/obs.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/monotime.h"
#include "util/say.h"

#include <stdlib.h>
#include <string.h>

typedef struct fetch_state fetch_state_t;

typedef struct fwait {
    broker_waiter_t w;
    fetch_state_t *st;
    broker_partition_t *part;
} fwait_t;

struct fetch_state {
    const kafka__deferred_t *ops; /* first member */
    kafka_req_t *r;
    kafka_FetchRequest_t *req;
    kafka_FetchResponse_t *resp;
    hd_buf_t data;
    size_t *offs; /* per response partition: offset of its records in data */
    fwait_t *waits;
    int nwaits;
    int registered;
    int64_t deadline;
    bool finished;
    bool registering;
    bool woken;
};

static void fetch_cancel(fetch_state_t *st)
{
    for (int i = 0; i < st->registered; i++)
        broker_waiter_cancel(&st->waits[i].w);
    st->registered = 0;
}

static void fetch_abort(kafka_req_t *r)
{
    fetch_state_t *st = r->_state;
    fetch_cancel(st);
    if (r->stop_timer)
        r->stop_timer(r);
}

static void fetch_free(kafka_req_t *r)
{
    fetch_state_t *st = r->_state;
    fetch_cancel(st);
    hd_buf_deinit(&st->data);
}

static void fetch_timeout(kafka_req_t *r);
static const kafka__deferred_t fetch_ops = {fetch_abort, fetch_timeout, fetch_free};

/* Fills the response from the logs. Returns the bytes of records gathered; *any_error is set
 * when some partition has an error (which answers at once). */
static size_t fetch_run(fetch_state_t *st, bool *any_error)
{
    kafka_req_t *r = st->r;
    kafka_FetchRequest_t *req = st->req;
    kafka_FetchResponse_t *resp = st->resp;
    broker_t *b = r->broker;
    hd_buf_reset(&st->data);
    st->nwaits = 0;
    *any_error = false;
    size_t total = 0;
    size_t max_total = req->MaxBytes > 0 ? (size_t)req->MaxBytes : SIZE_MAX;
    bool have_first = false;
    int idx = 0;
    for (int32_t i = 0; i < resp->Responses_n; i++) {
        kafka_FetchRequest_FetchTopic_t *ft = &req->Topics[i];
        kafka_FetchResponse_FetchableTopicResponse_t *tr = &resp->Responses[i];
        broker_topic_t *t = broker_topic_find(b, tr->Topic);
        if (!t)
            t = broker_internal_topic_find(b, tr->Topic); /* __consumer_offsets is readable */
        for (int32_t k = 0; k < tr->Partitions_n; k++, idx++) {
            kafka_FetchRequest_FetchPartition_t *fp = &ft->Partitions[k];
            kafka_FetchResponse_PartitionData_t *pd = &tr->Partitions[k];
            st->offs[idx] = st->data.len;
            pd->PartitionIndex = fp->Partition;
            pd->HighWatermark = -1;
            pd->LastStableOffset = -1;
            pd->LogStartOffset = -1;
            pd->PreferredReadReplica = -1;
            pd->AbortedTransactions_n = 0;
            pd->Records.is_null = false;
            pd->Records.v = hd_slice(NULL, 0);
            broker_partition_t *p = t ? broker_topic_partition(t, fp->Partition) : NULL;
            if (!p) {
                pd->ErrorCode = KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                *any_error = true;
                continue;
            }
            int64_t hwm = broker_partition_hwm(p);
            pd->HighWatermark = hwm;
            pd->LastStableOffset = hwm;
            pd->LogStartOffset = broker_partition_start(p);
            if (r->api_version >= 9 && fp->CurrentLeaderEpoch != -1 &&
                fp->CurrentLeaderEpoch != 0) {
                pd->ErrorCode = fp->CurrentLeaderEpoch > 0 ? KAFKA_ERR_UNKNOWN_LEADER_EPOCH
                                                           : KAFKA_ERR_FENCED_LEADER_EPOCH;
                *any_error = true;
                continue;
            }
            pd->ErrorCode = 0;
            fwait_t *fw = &st->waits[st->nwaits++];
            fw->part = p;
            fw->st = st;
            fw->w.target = hwm + 1;
            if (total >= max_total && have_first)
                continue;
            size_t limit = fp->PartitionMaxBytes > 0 ? (size_t)fp->PartitionMaxBytes : 0;
            if (have_first && max_total - total < limit)
                limit = max_total - total;
            if (limit == 0 && have_first)
                continue;
            size_t before = st->data.len;
            ssize_t n = broker_partition_read(p, fp->FetchOffset, limit ? limit : 1, &st->data);
            if (n == HD_ERANGE) {
                pd->ErrorCode = KAFKA_ERR_OFFSET_OUT_OF_RANGE;
                *any_error = true;
                st->nwaits--;
                continue;
            }
            if (n < 0) {
                say_warn_every(5, "partition %s-%d: read failed: %s", tr->Topic, fp->Partition,
                               hd_strerror((int)n));
                pd->ErrorCode = KAFKA_ERR_KAFKA_STORAGE_ERROR;
                *any_error = true;
                st->nwaits--;
                continue;
            }
            if (n > 0 && have_first && (size_t)n > limit) {
                /* Only the first partition's first batch may exceed the limits. */
                st->data.len = before;
                n = 0;
            }
            if (n > 0)
                have_first = true;
            total += (size_t)n;
        }
    }
    return total;
}

/* Sets each partition's records and reports the delivery: one end-to-end latency observation
 * per partition with records (its newest batch), and spans when export is on. */
static void set_record_slices(fetch_state_t *st, int nparts)
{
    kafka_FetchResponse_t *resp = st->resp;
    kafka_req_t *r = st->r;
    const char *group = NULL;
    int idx = 0;
    for (int32_t i = 0; i < resp->Responses_n; i++) {
        kafka_FetchResponse_FetchableTopicResponse_t *tr = &resp->Responses[i];
        for (int32_t k = 0; k < tr->Partitions_n; k++, idx++) {
            size_t start = st->offs[idx];
            size_t end = idx + 1 < nparts ? st->offs[idx + 1] : st->data.len;
            hd_slice_t recs = hd_slice(st->data.p + start, end - start);
            tr->Partitions[k].Records.v = recs;
            if (recs.len == 0)
                continue;
            if (!group)
                group = kafka__group_of(r);
            obs_e2e_observe_batches(OBS_DELIVERY_KAFKA, group, recs);
            if (obs_otlp_on) {
                obs_span_op_t op = {.deliver = true,
                                    .via = "kafka",
                                    .topic = tr->Topic,
                                    .partition = tr->Partitions[k].PartitionIndex,
                                    .client_id = r->client_id,
                                    .group = group,
                                    .start_ns = r->_t0_ns,
                                    .base_offset = -1,
                                    .from_offset = st->req->Topics[i].Partitions[k].FetchOffset};
                obs_trace_batches(&op, recs);
            }
        }
    }
}

static void on_fetch_wake(broker_waiter_t *w, int err);

/* Runs the fetch; answers or parks. Returns true when answered. */
static bool fetch_step(fetch_state_t *st, bool final)
{
    kafka_req_t *r = st->r;
    int nparts = 0;
    for (int32_t i = 0; i < st->resp->Responses_n; i++)
        nparts += st->resp->Responses[i].Partitions_n;
    size_t min_bytes = st->req->MinBytes > 0 ? (size_t)st->req->MinBytes : 1;
    for (;;) {
        bool any_error;
        size_t total = fetch_run(st, &any_error);
        if (final || any_error || st->req->MaxWaitMs <= 0 || total >= min_bytes ||
            hd_mono_ms() >= st->deadline || st->nwaits == 0) {
            set_record_slices(st, nparts);
            st->finished = true;
            fetch_cancel(st);
            if (r->stop_timer)
                r->stop_timer(r);
            kafka__finish(r);
            return true;
        }
        /* Park on every partition. The high watermark can move on the flusher thread between
         * the read and the registration, so a waiter may fire at once: then read again. */
        st->registering = true;
        st->woken = false;
        st->registered = 0;
        for (int i = 0; i < st->nwaits; i++) {
            fwait_t *fw = &st->waits[i];
            fw->w.cb = on_fetch_wake;
            fw->w.ctx = fw;
            st->registered++;
            broker_waiter_add(fw->part, &fw->w);
        }
        st->registering = false;
        if (!st->woken)
            return false;
        fetch_cancel(st);
    }
}

static void on_fetch_wake(broker_waiter_t *w, int err)
{
    fwait_t *fw = w->ctx;
    fetch_state_t *st = fw->st;
    if (st->finished)
        return;
    if (st->registering) {
        st->woken = true;
        return;
    }
    fetch_cancel(st);
    fetch_step(st, err != 0);
}

static void fetch_timeout(kafka_req_t *r)
{
    fetch_state_t *st = r->_state;
    if (st->finished)
        return;
    fetch_cancel(st);
    fetch_step(st, true);
}

int kafka__handle_Fetch(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_FetchRequest_t *req = req_;
    kafka_FetchResponse_t *resp = resp_;
    resp->ThrottleTimeMs = 0;
    resp->ErrorCode = 0;
    resp->SessionId = 0;
    if (r->api_version >= 7 && req->SessionId != 0 && req->SessionEpoch > 0) {
        resp->ErrorCode = KAFKA_ERR_FETCH_SESSION_ID_NOT_FOUND;
        resp->Responses_n = 0;
        return KAFKA_REQ_DONE;
    }
    int32_t nt = req->Topics_n < 0 ? 0 : req->Topics_n;
    int nparts = 0;
    resp->Responses_n = nt;
    resp->Responses = kafka__alloc(r, sizeof *resp->Responses * (size_t)(nt ? nt : 1));
    for (int32_t i = 0; i < nt; i++) {
        int32_t np = req->Topics[i].Partitions_n < 0 ? 0 : req->Topics[i].Partitions_n;
        resp->Responses[i].Topic = req->Topics[i].Topic ? req->Topics[i].Topic : "";
        resp->Responses[i].Partitions_n = np;
        resp->Responses[i].Partitions =
            kafka__alloc(r, sizeof *resp->Responses[i].Partitions * (size_t)(np ? np : 1));
        nparts += np;
    }
    fetch_state_t *st = kafka__alloc(r, sizeof *st);
    st->ops = &fetch_ops;
    st->r = r;
    st->req = req;
    st->resp = resp;
    hd_buf_init(&st->data);
    st->offs = kafka__alloc(r, sizeof *st->offs * (size_t)(nparts ? nparts : 1));
    st->waits = kafka__alloc(r, sizeof *st->waits * (size_t)(nparts ? nparts : 1));
    st->deadline = hd_mono_ms() + (req->MaxWaitMs > 0 ? req->MaxWaitMs : 0);
    r->_state = st;
    if (fetch_step(st, false))
        return KAFKA_REQ_PENDING; /* answered already; the dispatcher sees r->done */
    r->arm_timer(r, req->MaxWaitMs);
    return KAFKA_REQ_PENDING;
}

/* ---- ListOffsets ---- */

int kafka__handle_ListOffsets(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_ListOffsetsRequest_t *req = req_;
    kafka_ListOffsetsResponse_t *resp = resp_;
    broker_t *b = r->broker;
    int32_t nt = req->Topics_n < 0 ? 0 : req->Topics_n;
    resp->ThrottleTimeMs = 0;
    resp->Topics_n = nt;
    resp->Topics = kafka__alloc(r, sizeof *resp->Topics * (size_t)(nt ? nt : 1));
    for (int32_t i = 0; i < nt; i++) {
        kafka_ListOffsetsRequest_ListOffsetsTopic_t *lt = &req->Topics[i];
        kafka_ListOffsetsResponse_ListOffsetsTopicResponse_t *tr = &resp->Topics[i];
        int32_t np = lt->Partitions_n < 0 ? 0 : lt->Partitions_n;
        tr->Name = lt->Name ? lt->Name : "";
        tr->Partitions_n = np;
        tr->Partitions = kafka__alloc(r, sizeof *tr->Partitions * (size_t)(np ? np : 1));
        broker_topic_t *t = broker_topic_find(b, tr->Name);
        if (!t)
            t = broker_internal_topic_find(b, tr->Name);
        for (int32_t k = 0; k < np; k++) {
            kafka_ListOffsetsRequest_ListOffsetsPartition_t *lp = &lt->Partitions[k];
            kafka_ListOffsetsResponse_ListOffsetsPartitionResponse_t *pr = &tr->Partitions[k];
            pr->PartitionIndex = lp->PartitionIndex;
            pr->Timestamp = -1;
            pr->Offset = -1;
            pr->OldStyleOffsets_n = 0;
            broker_partition_t *p = t ? broker_topic_partition(t, lp->PartitionIndex) : NULL;
            if (!p) {
                pr->ErrorCode = KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            pr->ErrorCode = 0;
            pr->LeaderEpoch = -1;
            if (lp->CurrentLeaderEpoch != -1 && lp->CurrentLeaderEpoch != 0) {
                pr->ErrorCode = lp->CurrentLeaderEpoch > 0 ? KAFKA_ERR_UNKNOWN_LEADER_EPOCH
                                                           : KAFKA_ERR_FENCED_LEADER_EPOCH;
                continue;
            }
            if (lp->Timestamp == -1) {
                pr->Offset = broker_partition_hwm(p);
            } else if (lp->Timestamp == -2) {
                pr->Offset = broker_partition_start(p);
            } else if (lp->Timestamp >= 0 || lp->Timestamp == -3) {
                int64_t off, ts;
                int rc = lp->Timestamp == -3
                             ? broker_partition_offset_for_max_time(p, &off, &ts)
                             : broker_partition_offset_for_time(p, lp->Timestamp, &off, &ts);
                if (rc == 0) {
                    pr->Offset = off;
                    pr->Timestamp = ts;
                } else if (rc != HD_ENOTFOUND) {
                    pr->ErrorCode = KAFKA_ERR_KAFKA_STORAGE_ERROR;
                }
            } else {
                pr->ErrorCode = KAFKA_ERR_INVALID_REQUEST;
            }
            if (pr->ErrorCode == 0 && pr->Offset >= 0)
                pr->LeaderEpoch = 0;
            if (r->api_version == 0) {
                /* v0 answers a list of at most MaxNumOffsets offsets: the one found, if any. */
                pr->OldStyleOffsets = kafka__alloc(r, sizeof *pr->OldStyleOffsets);
                pr->OldStyleOffsets[0] = pr->Offset;
                pr->OldStyleOffsets_n = pr->Offset >= 0 && lp->MaxNumOffsets > 0 ? 1 : 0;
            }
        }
    }
    return KAFKA_REQ_DONE;
}
