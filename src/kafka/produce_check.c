/* Schema validation of Produce batches, away from the loop thread.
 *
 * A Produce request that writes to a topic with schema validation is planned when it is decoded
 * (kafka_req_start): each validating partition's batch becomes a check. The records are read
 * where they arrived when the caller keeps the frame body for the request (body_kept: the
 * connection hands its input buffer over, see server/conn.c); otherwise every partition's
 * records are first copied out of the body, so that the request no longer refers to it. The
 * checks' records are split into parts: a batch of at least SPLIT_MIN records is cut into one
 * range of records per part, smaller or compressed batches go whole to one part, in turn. There
 * are more parts than threads (up to MAX_PARTS): every thread that checks the request (the
 * connection's workers, and the loop thread itself when the pool is idle, see
 * kafka_req_prepare_next) claims the next unclaimed part until none is left, so the work
 * spreads over whichever threads get a core, and none waits for a worker that has not started.
 * A part only reads the records and the schema registry (inside registry_read_begin/end,
 * released every LOCK_SPAN records so that a registration never waits long) and writes its own
 * results, with its own arena. When every part is done, the request runs on the loop thread as
 * any other, and the
 * Produce handler applies each partition's verdict (kafka__produce_validate): nothing of a batch
 * with a bad record is appended in reject mode; in dlq mode the good records are appended and
 * the bad ones dead-lettered (an idempotent producer's good records in a batch that keeps its
 * sequence range and offsets, see split_to_dlq()).
 *
 * A partition whose topic was not planned (created, recreated or reconfigured in between) is
 * checked on the spot, on the loop thread, with the same code. */
#include "kafka/handler_int.h"
#include "broker/records.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/say.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bad records named in one partition's answer, at most. */
#define MAX_RECORD_ERRORS 1000
/* Batches with fewer records go whole to one part. */
#define SPLIT_MIN 64
/* Parts of one request, at most: several per thread, so that the threads' shares even out (a
 * librdkafka request of about 970 1 KiB records makes 15 parts of 65 records, about 65 us of
 * checks each; with 7 parts of 140, one thread often ran a part after the other had finished).
 * A part passes over the records before its range by their lengths, from where an earlier part
 * found its own first record (presult.start1). */
#define MAX_PARTS 16
/* Per-part results of one request (checks times parts), at most, beyond max_parts parts: a
 * request to many partitions gets fewer parts. */
#define MAX_RESULTS 2048
/* Records validated between two releases of the registry's read lock. */
#define LOCK_SPAN 256
/* A part's walk stops once past its range. */
#define WALK_STOP 1

/* What one part found in one batch: records [lo, hi) checked. */
typedef struct presult {
    int32_t lo, hi;
    int nbad;
    bool malformed;  /* the records' framing is broken: the append refuses the batch itself */
    bool header_bad; /* header or CRC refused (by the part that checks record 0) */
    int n, cap;      /* bad records kept, in order (reject mode: the first MAX_RECORD_ERRORS) */
    /* Byte position + 1 of record lo in the batch's records, once the part's walk reached it
     * (0: not yet): a later part passes over the records from here, not from the first. */
    atomic_size_t start1;
    int32_t *idx;
    char **why;
} presult_t;

typedef struct kafka__pcheck {
    registry_target_t tg;
    uint8_t topic_id[16];
    hd_slice_t batch; /* in the plan's copy, or in the request for a check on the spot */
    int32_t count;    /* records, from the header; 0: no usable header (the append refuses it) */
    bool dlq;         /* dead-letter mode and not transactional: bad records go to the DLQ */
    size_t max_inflated;
    presult_t *res; /* one per part */
} kafka__pcheck_t;

typedef struct kafka__pplan {
    int nparts;
    atomic_int next; /* the next part to claim */
    int nchecks;
    kafka__pcheck_t *checks;
    kafka__pcheck_t **of; /* per request partition, in order (topic by topic): its check or NULL */
    int32_t *first;       /* per topic: its first partition's position in `of` */
    hd_arena_t *arenas;   /* one per part, used only by that part's thread */
    uint8_t *copy;        /* every partition's records, out of the request body; NULL when the
                           * caller keeps the body (body_kept) */
} kafka__pplan_t;

static void check_init(kafka__pcheck_t *c, broker_topic_t *t, broker_partition_t *p,
                       hd_slice_t batch)
{
    const broker_topic_config_t *tc = broker_topic_config(t);
    registry_target_of(t, &c->tg);
    memcpy(c->topic_id, broker_topic_id(t), sizeof c->topic_id);
    c->batch = batch;
    c->max_inflated = broker_append_max_inflated(p);
    c->count = 0;
    if (batch.len >= BROKER_BATCH_HEADER_LEN) {
        broker_batch_hdr_t h;
        broker_batch_hdr_decode(batch.p, &h);
        c->count = h.records_count > 0 ? h.records_count : 0;
        c->dlq = tc->validation_dlq && !(h.attributes & BROKER_ATTR_TRANSACTIONAL);
    }
}

/* Splits check i's records over the parts (see the top of the file). */
static void check_split(kafka__pcheck_t *c, int i, int nparts, hd_arena_t *a)
{
    c->res = hd_arena_alloc(a, sizeof *c->res * (size_t)nparts);
    HD_ASSERT(c->res);
    for (int k = 0; k < nparts; k++)
        atomic_init(&c->res[k].start1, 0);
    bool compressed = c->batch.len >= BROKER_BATCH_HEADER_LEN &&
                      (c->batch.p[22] & BROKER_ATTR_CODEC_MASK) != BROKER_CODEC_NONE;
    if (nparts == 1 || compressed || c->count < SPLIT_MIN) {
        /* hi INT32_MAX: the whole batch, whatever its header says. */
        c->res[i % nparts].lo = 0;
        c->res[i % nparts].hi = INT32_MAX;
        return;
    }
    /* The count is the producer's claim: 64-bit arithmetic, and the last range open-ended. */
    int64_t chunk = ((int64_t)c->count + nparts - 1) / nparts;
    for (int k = 0; k < nparts; k++) {
        int64_t lo = chunk * k, hi = lo + chunk;
        c->res[k].lo = (int32_t)(lo < c->count ? lo : c->count);
        c->res[k].hi = k == nparts - 1 ? INT32_MAX : (int32_t)(hi < c->count ? hi : c->count);
    }
}

static bool validating(const kafka_req_t *r, const broker_topic_t *t)
{
    return t && r->registry && broker_topic_config(t)->schema_validation;
}

int kafka__produce_plan(kafka_req_t *r, kafka_ProduceRequest_t *req, int max_parts)
{
    if (!r->registry || r->api_version < 3)
        return 0;
    int32_t nt = req->TopicData_n < 0 ? 0 : req->TopicData_n;
    int nchecks = 0, total = 0;
    size_t bytes = 0;
    int64_t records = 0;
    for (int32_t i = 0; i < nt; i++) {
        kafka_ProduceRequest_TopicProduceData_t *td = &req->TopicData[i];
        int32_t np = td->PartitionData_n < 0 ? 0 : td->PartitionData_n;
        broker_topic_t *t = td->Name ? broker_topic_find(r->broker, td->Name) : NULL;
        bool v = validating(r, t);
        for (int32_t k = 0; k < np; k++) {
            kafka_bytes_t *rec = &td->PartitionData[k].Records;
            total++;
            if (rec->is_null || rec->v.len == 0)
                continue;
            bytes += rec->v.len;
            if (v && broker_topic_partition(t, td->PartitionData[k].Index)) {
                nchecks++;
                if (rec->v.len >= BROKER_BATCH_HEADER_LEN) {
                    broker_batch_hdr_t h;
                    broker_batch_hdr_decode(rec->v.p, &h);
                    records += h.records_count > 0 ? h.records_count : 0;
                }
            }
        }
    }
    if (nchecks == 0)
        return 0;
    kafka__pplan_t *pl = kafka__alloc(r, sizeof *pl);
    int64_t want = records / SPLIT_MIN > nchecks ? records / SPLIT_MIN : nchecks;
    int cap = nchecks > MAX_RESULTS / MAX_PARTS ? MAX_RESULTS / nchecks : MAX_PARTS;
    cap = cap > max_parts ? cap : max_parts;
    pl->nparts = (int)(want < cap ? want : cap);
    if (pl->nparts < 1)
        pl->nparts = 1;
    atomic_init(&pl->next, 0);
    /* The parts split the records about evenly; the caller's thread may check as many of them
     * as KAFKA_PREP_HERE_MAX_BYTES holds. */
    size_t per = bytes / (size_t)pl->nparts;
    size_t here = per ? KAFKA_PREP_HERE_MAX_BYTES / per : (size_t)pl->nparts;
    r->prep_here = here < (size_t)pl->nparts ? (int)here : pl->nparts;
    pl->checks = kafka__alloc(r, sizeof *pl->checks * (size_t)nchecks);
    pl->of = kafka__alloc(r, sizeof *pl->of * (size_t)(total ? total : 1));
    pl->first = kafka__alloc(r, sizeof *pl->first * (size_t)(nt ? nt : 1));
    pl->arenas = kafka__alloc(r, sizeof *pl->arenas * (size_t)pl->nparts);
    for (int k = 0; k < pl->nparts; k++)
        hd_arena_init(&pl->arenas[k], 0);
    pl->copy = r->body_kept ? NULL : hd_malloc(bytes ? bytes : 1);
    r->_plan = pl;
    /* Copy every partition's records unless the body stays (the request must not refer to
     * the body once planned otherwise), and make the checks. */
    size_t at = 0;
    int pos = 0;
    for (int32_t i = 0; i < nt; i++) {
        kafka_ProduceRequest_TopicProduceData_t *td = &req->TopicData[i];
        int32_t np = td->PartitionData_n < 0 ? 0 : td->PartitionData_n;
        broker_topic_t *t = td->Name ? broker_topic_find(r->broker, td->Name) : NULL;
        bool v = validating(r, t);
        pl->first[i] = pos;
        for (int32_t k = 0; k < np; k++, pos++) {
            kafka_bytes_t *rec = &td->PartitionData[k].Records;
            if (rec->is_null || rec->v.len == 0)
                continue;
            if (pl->copy) {
                memcpy(pl->copy + at, rec->v.p, rec->v.len);
                rec->v.p = pl->copy + at;
                at += rec->v.len;
            }
            broker_partition_t *p =
                v ? broker_topic_partition(t, td->PartitionData[k].Index) : NULL;
            if (!p)
                continue;
            kafka__pcheck_t *c = &pl->checks[pl->nchecks];
            check_init(c, t, p, rec->v);
            check_split(c, pl->nchecks, pl->nparts, &r->arena);
            pl->of[pos] = c;
            pl->nchecks++;
        }
    }
    return pl->nparts;
}

void kafka__produce_plan_free(kafka_req_t *r)
{
    kafka__pplan_t *pl = r->_plan;
    if (!pl)
        return;
    for (int k = 0; k < pl->nparts; k++)
        hd_arena_deinit(&pl->arenas[k]);
    free(pl->copy);
    r->_plan = NULL;
}

/* ---- one part's walk (any thread) ---- */

typedef struct walk {
    registry_t *reg;
    kafka__pcheck_t *c;
    presult_t *res;
    hd_arena_t *a;
    int32_t i;      /* index of the next record */
    int since_lock; /* records since the read lock was taken; -1: on the loop thread, no lock */
    broker_rec_pos_t at; /* where record res->lo starts, set before its callback */
} walk_t;

static void keep_bad(walk_t *w, int32_t i, const char *why)
{
    presult_t *res = w->res;
    if (!w->c->dlq && res->n >= MAX_RECORD_ERRORS)
        return;
    if (res->n == res->cap) {
        int cap = res->cap ? 2 * res->cap : 16;
        int32_t *idx = hd_arena_alloc(w->a, sizeof *idx * (size_t)cap);
        char **whys = hd_arena_alloc(w->a, sizeof *whys * (size_t)cap);
        HD_ASSERT(idx && whys);
        if (res->n) {
            memcpy(idx, res->idx, sizeof *idx * (size_t)res->n);
            memcpy(whys, res->why, sizeof *whys * (size_t)res->n);
        }
        res->idx = idx;
        res->why = whys;
        res->cap = cap;
    }
    res->idx[res->n] = i;
    res->why[res->n] = hd_arena_strndup(w->a, why, strlen(why));
    HD_ASSERT(res->why[res->n]);
    res->n++;
}

static int walk_cb(void *ctx, const broker_record_t *rec)
{
    walk_t *w = ctx;
    int32_t i = w->i++;
    if (i < w->res->lo)
        return 0;
    if (i >= w->res->hi)
        return WALK_STOP;
    if (i == w->res->lo && w->at.index == i) /* release: the position was found by this thread */
        atomic_store_explicit(&w->res->start1, w->at.pos + 1, memory_order_release);
    broker_record_in_t in = {rec->key, rec->key_null, rec->value, rec->value_null, NULL,
                             0,        rec->timestamp};
    registry_ce_t ce;
    registry_ce_from_area(rec->headers, rec->headers_count, &ce);
    char why[700];
    if (registry_validate_target(w->reg, &w->c->tg, &in, &ce, why, sizeof why) < 0) {
        w->res->nbad++;
        keep_bad(w, i, why);
    }
    if (w->since_lock >= 0 && ++w->since_lock == LOCK_SPAN) {
        registry_read_end(w->reg); /* lets a waiting change in */
        registry_read_begin(w->reg);
        w->since_lock = 0;
    }
    return 0;
}

/* Checks part `res` of batch c. */
static void walk(registry_t *reg, kafka__pcheck_t *c, presult_t *res, hd_arena_t *a, bool worker,
                 hd_buf_t *scratch)
{
    if (res->lo == 0) {
        /* Header and CRC first, as the append checks them: a batch it refuses keeps the
         * append's reason. The records' framing is checked by the walk. */
        broker_batch_hdr_t h;
        const char *bwhy = "";
        if (broker_batch_validate(c->batch, false, c->max_inflated, &h, &bwhy) < 0) {
            res->header_bad = true;
            return;
        }
    } else if (res->lo >= res->hi) {
        return;
    }
    /* Each part checks its own records' framing (the records before its range are passed
     * over by their length); the last part reaches the batch's end, where the count and the
     * trailing bytes are checked. */
    walk_t w = {
        .reg = reg, .c = c, .res = res, .a = a, .i = res->lo, .since_lock = worker ? 0 : -1};
    /* Parts are claimed in order, so the part before this one has usually found its start. */
    broker_rec_pos_t from = {.index = 0, .pos = 0};
    for (presult_t *p = res; p-- > c->res;) {
        size_t s1 = atomic_load_explicit(&p->start1, memory_order_acquire);
        if (s1) {
            from = (broker_rec_pos_t){.index = p->lo, .pos = s1 - 1};
            break;
        }
    }
    hd_buf_reset(scratch);
    int rc = broker_batch_for_each_from(c->batch, res->lo, &from, &w.at, c->max_inflated, scratch,
                                        walk_cb, &w);
    if (rc < 0)
        res->malformed = true;
}

bool kafka__produce_prepare_next(kafka_req_t *r)
{
    kafka__pplan_t *pl = r->_plan;
    if (!pl)
        return false;
    /* Relaxed: what a part reads was written before the threads were started, and what it
     * writes is read after they are joined. */
    int part = atomic_fetch_add_explicit(&pl->next, 1, memory_order_relaxed);
    if (part >= pl->nparts)
        return false;
    hd_buf_t scratch;
    hd_buf_init(&scratch);
    registry_read_begin(r->registry);
    for (int i = 0; i < pl->nchecks; i++) {
        presult_t *res = &pl->checks[i].res[part];
        if (res->hi > 0)
            walk(r->registry, &pl->checks[i], res, &pl->arenas[part], true, &scratch);
    }
    registry_read_end(r->registry);
    hd_buf_deinit(&scratch);
    return true;
}

bool kafka__produce_claimed(const kafka_req_t *r)
{
    kafka__pplan_t *pl = r->_plan;
    return !pl || atomic_load_explicit(&pl->next, memory_order_relaxed) >= pl->nparts;
}

/* ---- verdicts (loop thread) ---- */

/* The bad-record list of check c, merged over its parts in record order. */
typedef struct merged {
    int nbad;
    bool header_bad, malformed;
    int n;
    int32_t *idx;
    char **why;
} merged_t;

static void merge(kafka_req_t *r, const kafka__pcheck_t *c, int nparts, merged_t *m)
{
    memset(m, 0, sizeof *m);
    int kept = 0;
    for (int k = 0; k < nparts; k++) {
        m->nbad += c->res[k].nbad;
        m->header_bad |= c->res[k].header_bad;
        m->malformed |= c->res[k].malformed;
        kept += c->res[k].n;
    }
    m->idx = kafka__alloc(r, sizeof *m->idx * (size_t)(kept ? kept : 1));
    m->why = kafka__alloc(r, sizeof *m->why * (size_t)(kept ? kept : 1));
    /* Parts hold ascending ranges; a whole batch is in one part. */
    for (int k = 0; k < nparts; k++)
        for (int j = 0; j < c->res[k].n; j++) {
            m->idx[m->n] = c->res[k].idx[j];
            m->why[m->n++] = c->res[k].why[j];
        }
}

/* Dead-letter mode: decodes every record with its headers, to split the batch. */
typedef struct split {
    kafka_req_t *r;
    const merged_t *m;
    int at; /* next entry of m */
    int32_t i;
    int64_t base; /* the batch's base offset: a record's offsetDelta is its offset - base */
    broker_record_in_t *good, *bad;
    int32_t *deltas; /* of the good records */
    const char **whys;
    int ng, nb, cap;
    bool header_fail;
} split_t;

static int split_cb(void *ctx, const broker_record_t *rec)
{
    split_t *s = ctx;
    int32_t i = s->i++;
    broker_header_t *hs = kafka__alloc(s->r, sizeof *hs * (size_t)(rec->headers_count + 1));
    hd_slice_t area = rec->headers;
    for (int32_t j = 0; j < rec->headers_count; j++)
        if (broker_header_next(&area, &hs[j]) < 0) {
            s->header_fail = true;
            return HD_EMALFORMED;
        }
    broker_record_in_t in = {rec->key, rec->key_null,      rec->value,    rec->value_null,
                             hs,       rec->headers_count, rec->timestamp};
    if (s->ng + s->nb == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        broker_record_in_t *g = kafka__alloc(s->r, sizeof *g * (size_t)cap);
        broker_record_in_t *b = kafka__alloc(s->r, sizeof *b * (size_t)cap);
        const char **w = kafka__alloc(s->r, sizeof *w * (size_t)cap);
        int32_t *d = kafka__alloc(s->r, sizeof *d * (size_t)cap);
        if (s->ng) {
            memcpy(g, s->good, sizeof *g * (size_t)s->ng);
            memcpy(d, s->deltas, sizeof *d * (size_t)s->ng);
        }
        if (s->nb) {
            memcpy(b, s->bad, sizeof *b * (size_t)s->nb);
            memcpy(w, s->whys, sizeof *w * (size_t)s->nb);
        }
        s->good = g;
        s->deltas = d;
        s->bad = b;
        s->whys = w;
        s->cap = cap;
    }
    if (s->at < s->m->n && s->m->idx[s->at] == i) {
        s->whys[s->nb] = s->m->why[s->at++];
        s->bad[s->nb++] = in;
    } else {
        s->deltas[s->ng] = (int32_t)(rec->offset - s->base);
        s->good[s->ng++] = in;
    }
    return 0;
}

/* Refuses the batch: RecordErrors (the first MAX_RECORD_ERRORS) and ErrorMessage. */
static int refuse(kafka_req_t *r, broker_topic_t *t, broker_partition_t *p, const merged_t *m,
                  kafka_ProduceResponse_PartitionProduceResponse_t *pr)
{
    int n = m->n < MAX_RECORD_ERRORS ? m->n : MAX_RECORD_ERRORS;
    kafka_ProduceResponse_BatchIndexAndErrorMessage_t *errs =
        kafka__alloc(r, sizeof *errs * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        errs[i].BatchIndex = m->idx[i];
        errs[i].BatchIndexErrorMessage = m->why[i];
    }
    char msg[800];
    snprintf(msg, sizeof msg, "record %d: %s", m->n ? m->idx[0] : 0, m->n ? m->why[0] : "?");
    say_warn_every(1, "conn %s: produce to %s-%d refused by schema validation: %s", r->peer,
                   broker_topic_name(t), broker_partition_index(p), msg);
    pr->RecordErrors = errs;
    pr->RecordErrors_n = n;
    pr->ErrorMessage = kafka__strdup(r, msg);
    return HD_EMALFORMED;
}

/* Dead-letter mode, a batch with bad records: dead-letters them and leaves the good ones in
 * *batch. A producer's batch without a producer id gives a new batch of the good records. An
 * idempotent producer's batch must keep its sequence numbers, or the producer's next batch is
 * out of order and its retries are not recognized: it gives the kept batch
 * (broker_batch_build_kept(), as Kafka's log compaction keeps batches), with the producer's
 * sequence range and offsets, the good records at their own offsets and gaps at the bad ones',
 * empty when every record was bad. A retry of a batch already appended, or a batch the
 * producer's state refuses, is left as it is (nothing dead-lettered): its append answers with
 * the original offsets, or refuses it. */
static int split_to_dlq(kafka_req_t *r, broker_topic_t *t, broker_partition_t *p,
                        kafka__pcheck_t *c, const merged_t *m, uint8_t **batch, size_t *len,
                        kafka__append_how_t *how,
                        kafka_ProduceResponse_PartitionProduceResponse_t *pr)
{
    broker_batch_hdr_t h;
    broker_batch_hdr_decode(c->batch.p, &h);
    bool idempotent = h.producer_id >= 0;
    if (idempotent) {
        broker_append_t dup;
        const char *why = "";
        if (broker_partition_producer_check(p, &h, &dup, &why) < 0 || dup.duplicate)
            return 0;
    }
    split_t s = {.r = r, .m = m, .base = h.base_offset};
    hd_buf_t scratch, out;
    hd_buf_init(&scratch);
    hd_buf_init(&out);
    int rc = broker_batch_for_each(c->batch, c->max_inflated, &scratch, split_cb, &s);
    if (rc < 0) {
        /* A record's headers cannot be kept for rebuilding: refused whole. */
        rc = s.header_fail ? refuse(r, t, p, m, pr) : 0;
        goto out;
    }
    /* The good records' batch is built first: one that does not fit max.message.bytes (the
     * producer's was compressed) is refused before anything is dead-lettered. */
    size_t max = (size_t)broker_topic_config(t)->max_message_bytes;
    ssize_t n = 0;
    if (idempotent)
        n = broker_batch_build_kept(&h, s.good, s.deltas, s.ng, max, &out);
    else if (s.ng > 0)
        n = broker_batch_build(s.good, s.ng, max, &out);
    if (n < 0) {
        pr->ErrorMessage = "the valid records do not fit max.message.bytes uncompressed";
        rc = HD_ETOOBIG;
        goto out;
    }
    rc = registry_dead_letter(r->registry, t, broker_partition_index(p), s.bad, s.whys, s.nb);
    if (rc < 0)
        say_warn_every(5, "topic %s: %d dead letters not written: %s", broker_topic_name(t), s.nb,
                       hd_strerror(rc));
    rc = 0;
    *len = 0;
    *how = idempotent ? KAFKA_APPEND_KEPT : KAFKA_APPEND_AS;
    if (n > 0) {
        *batch = kafka__alloc(r, (size_t)n);
        memcpy(*batch, out.p, (size_t)n);
        *len = (size_t)n;
    }
out:
    hd_buf_deinit(&out);
    hd_buf_deinit(&scratch);
    return rc;
}

static int verdict(kafka_req_t *r, broker_topic_t *t, broker_partition_t *p, kafka__pcheck_t *c,
                   int nparts, uint8_t **batch, size_t *len, kafka__append_how_t *how,
                   kafka_ProduceResponse_PartitionProduceResponse_t *pr)
{
    merged_t m;
    merge(r, c, nparts, &m);
    /* Every record's framing was checked by the part whose range holds it, the count and the
     * end of the batch by the last part, the header and CRC by the first: the append need not
     * check them again. */
    *how = !m.header_bad && !m.malformed && m.nbad == 0 &&
                   c->max_inflated == broker_append_max_inflated(p)
               ? KAFKA_APPEND_CHECKED
               : KAFKA_APPEND_AS;
    /* A batch the append refuses keeps the append's reason. */
    if (m.header_bad || m.malformed || m.nbad == 0)
        return 0;
    if (!c->dlq)
        return refuse(r, t, p, &m, pr);
    return split_to_dlq(r, t, p, c, &m, batch, len, how, pr);
}

int kafka__produce_validate(kafka_req_t *r, int32_t ti, int32_t k, broker_topic_t *t,
                            broker_partition_t *p, uint8_t **batch, size_t *len,
                            kafka__append_how_t *how,
                            kafka_ProduceResponse_PartitionProduceResponse_t *pr)
{
    kafka__pplan_t *pl = r->_plan;
    kafka__pcheck_t *c = pl ? pl->of[pl->first[ti] + k] : NULL;
    if (c && memcmp(c->topic_id, broker_topic_id(t), sizeof c->topic_id) == 0) {
        registry_target_t now;
        registry_target_of(t, &now);
        if (now.value == c->tg.value && now.key == c->tg.key &&
            !strcmp(now.value_subject, c->tg.value_subject) &&
            !strcmp(now.key_subject, c->tg.key_subject))
            return verdict(r, t, p, c, pl->nparts, batch, len, how, pr);
    }
    /* Not planned, or the topic changed since: checked now, on this thread. */
    kafka__pcheck_t now;
    check_init(&now, t, p, hd_slice(*batch, *len));
    check_split(&now, 0, 1, &r->arena);
    hd_buf_t scratch;
    hd_buf_init(&scratch);
    walk(r->registry, &now, &now.res[0], &r->arena, false, &scratch);
    hd_buf_deinit(&scratch);
    return verdict(r, t, p, &now, 1, batch, len, how, pr);
}
