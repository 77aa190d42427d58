/* Produce (v3-9).
 *
 * Behaviour notes:
 * - Each partition's records field must hold exactly one RecordBatch v2; it is validated (CRC-32C,
 *   counts, every record's framing, inflating compressed batches) and appended verbatim with the
 *   broker's offsets written into its header.
 * - acks=-1 ("all"): the answer waits until the flusher has fsynced every partition's batch (the
 *   high watermark has passed it). acks=1: answered after the write, before fsync. acks=0: no
 *   answer at all; on any error the connection is closed, as Kafka does, so the client refreshes.
 * - Unknown topics are created when auto.create.topics.enable is on.
 * - Idempotent retries (same producer, epoch and sequence range as one of the last five batches)
 *   are answered with the original base offset and not appended again.
 * - Versions 0-2 carry the old message formats (magic 0 and 1), which Herald does not store:
 *   every partition gets UNSUPPORTED_FOR_MESSAGE_FORMAT. They are advertised anyway because
 *   librdkafka before 2.10 only compresses with gzip, snappy or lz4 when the broker's Produce
 *   range includes v0; every client Herald targets sends v3 or later.
 * - Topics with schema validation (confluent.value.schema.validation and friends) have every
 *   record checked against the schema registry before anything is appended. In reject mode one
 *   bad record fails its partition's whole batch with INVALID_RECORD; from v8 the answer names
 *   each bad record (RecordErrors: its index in the batch and the failing rule, at most
 *   1,000 of them) and ErrorMessage says why (the reason is logged too). In dlq mode the good
 *   records are appended (as a new uncompressed batch) and each bad one goes to the dead-letter
 *   topic. An idempotent producer's batch keeps its sequence numbers and offsets, as Kafka's log
 *   compaction keeps batches: the batch appended instead has the producer's id, epoch, base
 *   sequence and lastOffsetDelta, and holds the good records at their own offset deltas, so the
 *   bad records' offsets are gaps (an all-bad batch leaves an empty batch, recordsCount 0). The
 *   answer is the batch's base offset; the producer's next batch follows in sequence, and a
 *   retry of this one is a duplicate (answered with the same base offset, nothing appended or
 *   dead-lettered again). Transactional batches are refused anyway (no transactions). The
 *   records are checked on worker threads before the request runs (produce_check.c).
 * - From v8 every refused partition carries ErrorMessage, the broker's reason. */
#include "kafka/handler_int.h"
#include "obs/obs.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/say.h"

#include <string.h>

typedef struct produce_state produce_state_t;

typedef struct pwait {
    broker_waiter_t w;
    kafka_ProduceResponse_PartitionProduceResponse_t *pr;
    produce_state_t *st;
    broker_partition_t *part;
} pwait_t;

struct produce_state {
    const kafka__deferred_t *ops; /* first member, see kafka_req_deinit() */
    kafka_req_t *r;
    int pending;
    pwait_t *waits;
    int nwaits;
};

static void cancel_all(produce_state_t *st)
{
    for (int i = 0; i < st->nwaits; i++)
        broker_waiter_cancel(&st->waits[i].w);
}

static void produce_abort(kafka_req_t *r) { cancel_all(r->_state); }

static const kafka__deferred_t produce_ops = {produce_abort, NULL, produce_abort};

static void on_durable(broker_waiter_t *w, int err)
{
    pwait_t *pw = w->ctx;
    produce_state_t *st = pw->st;
    if (err) {
        pw->pr->ErrorCode = err == HD_ENOTFOUND ? KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION
                                                : KAFKA_ERR_REQUEST_TIMED_OUT;
        pw->pr->BaseOffset = -1;
    }
    if (--st->pending == 0)
        kafka__finish(st->r);
}

static int16_t produce_error(int rc)
{
    switch (rc) {
    case HD_ECORRUPT:
        return KAFKA_ERR_CORRUPT_MESSAGE;
    case HD_EMALFORMED:
        return KAFKA_ERR_INVALID_RECORD;
    case HD_ETOOBIG:
        return KAFKA_ERR_MESSAGE_TOO_LARGE;
    case HD_EUNSUPPORTED:
        return KAFKA_ERR_UNSUPPORTED_COMPRESSION_TYPE;
    case HD_ESEQUENCE:
        return KAFKA_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    case HD_EFENCED:
        return KAFKA_ERR_INVALID_PRODUCER_EPOCH;
    default:
        return KAFKA_ERR_KAFKA_STORAGE_ERROR;
    }
}

int kafka__handle_Produce(kafka_req_t *r, void *req_, void *resp_)
{
    kafka_ProduceRequest_t *req = req_;
    kafka_ProduceResponse_t *resp = resp_;
    broker_t *b = r->broker;
    int16_t acks = req->Acks;
    bool bad_acks = acks != -1 && acks != 0 && acks != 1;
    bool old_format = r->api_version < 3;
    if (old_format)
        say_warn_every(10,
                       "conn %s: Produce v%d (message format v0/v1) is not supported; the "
                       "client must use Produce v3 or later",
                       r->peer, r->api_version);
    bool any_error = false;
    int32_t nt = req->TopicData_n < 0 ? 0 : req->TopicData_n;
    int total_parts = 0;
    for (int32_t i = 0; i < nt; i++)
        total_parts +=
            req->TopicData[i].PartitionData_n < 0 ? 0 : req->TopicData[i].PartitionData_n;

    produce_state_t *st = kafka__alloc(r, sizeof *st);
    st->ops = &produce_ops;
    st->r = r;
    st->waits = kafka__alloc(r, sizeof *st->waits * (size_t)(total_parts ? total_parts : 1));
    r->_state = st;

    resp->ThrottleTimeMs = 0;
    resp->Responses_n = nt;
    resp->Responses = kafka__alloc(r, sizeof *resp->Responses * (size_t)(nt ? nt : 1));
    /* One round for the whole request (broker_appends_begin); ended right after the loop. */
    bool grouped = total_parts > 1;
    if (grouped)
        broker_appends_begin(b);
    for (int32_t i = 0; i < nt; i++) {
        kafka_ProduceRequest_TopicProduceData_t *td = &req->TopicData[i];
        kafka_ProduceResponse_TopicProduceResponse_t *tr = &resp->Responses[i];
        const char *name = td->Name ? td->Name : "";
        int32_t np = td->PartitionData_n < 0 ? 0 : td->PartitionData_n;
        tr->Name = name;
        tr->PartitionResponses_n = np;
        tr->PartitionResponses =
            kafka__alloc(r, sizeof *tr->PartitionResponses * (size_t)(np ? np : 1));
        broker_topic_t *t = broker_topic_find(b, name);
        if (!t && !bad_acks && !old_format && r->cfg->auto_create_topics &&
            broker_topic_name_valid(name)) {
            const char *why = "";
            int rc = broker_topic_create(b, name, (int32_t)r->cfg->num_partitions, NULL, 0, false,
                                         &t, &why);
            if (rc < 0) {
                say_warn_every(5, "topic %s: auto-create failed: %s (%s)", name, why,
                               hd_strerror(rc));
                t = NULL;
            }
        }
        bool reserved = broker_topic_name_reserved(name);
        for (int32_t k = 0; k < np; k++) {
            kafka_ProduceRequest_PartitionProduceData_t *pd = &td->PartitionData[k];
            /* A request for many partitions touches each one's state once, from cold memory:
             * fetch the next ones' ahead while this one is appended. */
            for (int level = 0; t && np > 8 && level < 3; level++) {
                int32_t ahead = k + 6 - 2 * level;
                if (ahead < np)
                    broker_partition_prefetch(
                        broker_topic_partition(t, td->PartitionData[ahead].Index), level);
            }
            kafka_ProduceResponse_PartitionProduceResponse_t *pr = &tr->PartitionResponses[k];
            pr->Index = pd->Index;
            pr->BaseOffset = -1;
            pr->LogAppendTimeMs = -1;
            pr->LogStartOffset = -1;
            if (reserved) {
                /* Kafka refuses appends to its internal topics from clients. */
                pr->ErrorCode = KAFKA_ERR_INVALID_TOPIC_EXCEPTION;
                any_error = true;
                continue;
            }
            if (old_format) {
                pr->ErrorCode = KAFKA_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT;
                any_error = true;
                continue;
            }
            if (bad_acks) {
                pr->ErrorCode = KAFKA_ERR_INVALID_REQUIRED_ACKS;
                any_error = true;
                continue;
            }
            broker_partition_t *p = t ? broker_topic_partition(t, pd->Index) : NULL;
            if (!p) {
                pr->ErrorCode = KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                any_error = true;
                continue;
            }
            if (pd->Records.is_null || pd->Records.v.len == 0) {
                pr->ErrorCode = KAFKA_ERR_INVALID_RECORD;
                any_error = true;
                continue;
            }
            const char *why = "";
            broker_append_t res;
            /* The records slice points into the connection's own input buffer (or, for a request
             * planned for validation whose caller did not keep the body, into the plan's copy),
             * which the broker may modify in place (offsets are written into the batch header). */
            uint8_t *batch = (uint8_t *)(uintptr_t)pd->Records.v.p;
            size_t blen = pd->Records.v.len;
            kafka__append_how_t how = KAFKA_APPEND_AS;
            if (broker_topic_config(t)->schema_validation && r->registry) {
                int vrc = kafka__produce_validate(r, i, k, t, p, &batch, &blen, &how, pr);
                if (vrc < 0) {
                    pr->ErrorCode =
                        vrc == HD_EMALFORMED ? KAFKA_ERR_INVALID_RECORD : produce_error(vrc);
                    pr->LogStartOffset = broker_partition_start(p);
                    any_error = true;
                    continue;
                }
                if (blen == 0) { /* every record went to the dead-letter topic */
                    pr->ErrorCode = 0;
                    pr->BaseOffset = broker_partition_end(p);
                    pr->LogStartOffset = broker_partition_start(p);
                    continue;
                }
            }
            int rc;
            if (how == KAFKA_APPEND_KEPT)
                rc = broker_partition_append_kept(p, batch, blen, r->api_version, r->client_id,
                                                  &res, &why);
            else if (how == KAFKA_APPEND_CHECKED)
                rc = broker_partition_append_checked(p, batch, blen, r->api_version, r->client_id,
                                                     &res, &why);
            else
                rc = broker_partition_append_as(p, batch, blen, r->api_version, r->client_id, &res,
                                                &why);
            pr->LogStartOffset = broker_partition_start(p);
            if (rc < 0) {
                pr->ErrorCode = produce_error(rc);
                pr->ErrorMessage = why && *why ? why : NULL;
                any_error = true;
                say_warn_every(5, "conn %s: produce to %s-%d rejected: %s", r->peer, name,
                               pd->Index, why);
                continue;
            }
            pr->ErrorCode = 0;
            pr->BaseOffset = res.base_offset;
            pr->LogAppendTimeMs = res.log_append_time;
            if (obs_otlp_on) {
                obs_span_op_t op = {.via = "kafka",
                                    .topic = name,
                                    .partition = pd->Index,
                                    .client_id = r->client_id,
                                    .start_ns = r->_t0_ns,
                                    .base_offset = res.base_offset};
                obs_trace_batches(&op, hd_slice(batch, blen));
            }
            if (acks == -1) {
                pwait_t *pw = &st->waits[st->nwaits++];
                pw->pr = pr;
                pw->st = st;
                pw->part = p;
                pw->w.target = res.end_offset;
                pw->w.cb = on_durable;
                pw->w.ctx = pw;
            }
        }
    }
    if (grouped)
        broker_appends_end(b);
    if (acks == 0) {
        r->has_response = false;
        return any_error ? KAFKA_REQ_CLOSE : KAFKA_REQ_DONE;
    }
    if (st->nwaits == 0)
        return KAFKA_REQ_DONE;
    /* Count every waiter before registering any (one may fire synchronously), plus one held
     * until all are registered. */
    st->pending = st->nwaits + 1;
    for (int i = 0; i < st->nwaits; i++)
        broker_waiter_add(st->waits[i].part, &st->waits[i].w);
    if (--st->pending == 0) {
        kafka__finish(r);
        return KAFKA_REQ_DONE;
    }
    return KAFKA_REQ_PENDING;
}
