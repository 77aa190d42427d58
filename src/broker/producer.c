/* Idempotent-producer sequence checks, as Kafka does them (ProducerStateManager):
 * per (partition, producer id) the epoch and the last five batches are kept. A retried batch
 * whose sequence range matches a kept one is answered with its original offsets and not
 * appended again. State is rebuilt from the stored batch headers the first time a partition
 * sees an idempotent batch after start, so it survives restarts. */
#include "broker/broker_int.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/monotime.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static broker__producer_t *find(broker_partition_t *p, int64_t pid)
{
    for (int i = 0; i < p->nproducers; i++)
        if (p->producers[i].pid == pid)
            return &p->producers[i];
    return NULL;
}

static broker__producer_t *add(broker_partition_t *p, int64_t pid, int64_t now)
{
    const hd_config_t *cfg = broker_config(p->topic->broker);
    if (p->nproducers >= 64) {
        /* Forget producers idle for longer than producer.id.expiration.ms. */
        int w = 0;
        for (int i = 0; i < p->nproducers; i++)
            if (now - p->producers[i].last_ms < cfg->producer_id_expiration_ms)
                p->producers[w++] = p->producers[i];
        p->nproducers = w;
    }
    if (p->nproducers == p->cap_producers) {
        p->cap_producers = p->cap_producers ? p->cap_producers * 2 : 4;
        p->producers = hd_realloc(p->producers, (size_t)p->cap_producers * sizeof *p->producers);
    }
    broker__producer_t *e = &p->producers[p->nproducers++];
    memset(e, 0, sizeof *e);
    e->pid = pid;
    e->last_ms = now;
    return e;
}

static int32_t last_seq_of(const broker_batch_hdr_t *h)
{
    /* Sequences wrap from INT32_MAX to 0. */
    return (int32_t)(((int64_t)h->base_sequence + h->last_offset_delta) % ((int64_t)INT32_MAX + 1));
}

static void push(broker__producer_t *e, const broker_batch_hdr_t *h, int64_t base_offset)
{
    broker__pbatch_t pb = {h->base_sequence, last_seq_of(h), base_offset,
                           base_offset + h->last_offset_delta + 1};
    if (e->n < BROKER_PRODUCER_BATCHES) {
        e->b[(e->head + e->n) % BROKER_PRODUCER_BATCHES] = pb;
        e->n++;
    } else {
        e->b[e->head] = pb;
        e->head = (e->head + 1) % BROKER_PRODUCER_BATCHES;
    }
}

static int rebuild_cb(void *ctx, const uint8_t hdr[61], int64_t base_offset)
{
    broker_partition_t *p = ctx;
    broker_batch_hdr_t h;
    broker_batch_hdr_decode(hdr, &h);
    if (h.producer_id < 0 || (h.attributes & BROKER_ATTR_CONTROL))
        return 0;
    broker__producer_t *e = find(p, h.producer_id);
    if (!e)
        e = add(p, h.producer_id, hd_wall_ms());
    if (h.producer_epoch != e->epoch) {
        e->epoch = h.producer_epoch;
        e->n = 0;
        e->head = 0;
    }
    push(e, &h, base_offset);
    return 0;
}

int broker__producer_check(broker_partition_t *p, const broker_batch_hdr_t *h, broker_append_t *dup,
                           const char **why)
{
    if (!p->producers_loaded) {
        p->producers_loaded = true;
        log_partition_t *log = broker__partition_log(p);
        int rc =
            log ? log_partition_scan(log, log_partition_start_offset(log), rebuild_cb, p) : -EIO;
        if (rc < 0)
            return rc;
    }
    broker__producer_t *e = find(p, h->producer_id);
    if (!e)
        return 0; /* unknown producer: any sequence starts tracking */
    if (h->producer_epoch < e->epoch) {
        *why = "producer epoch is older than the current one";
        return HD_EFENCED;
    }
    if (h->producer_epoch > e->epoch) {
        if (h->base_sequence != 0) {
            *why = "a new producer epoch must start at sequence 0";
            return HD_ESEQUENCE;
        }
        return 0;
    }
    int32_t last = last_seq_of(h);
    for (int i = 0; i < e->n; i++) {
        const broker__pbatch_t *b = &e->b[i];
        if (b->first_seq == h->base_sequence && b->last_seq == last) {
            dup->base_offset = b->base_offset;
            dup->end_offset = b->end_offset;
            dup->duplicate = true;
            return 0;
        }
    }
    if (e->n == 0)
        return 0;
    const broker__pbatch_t *newest = &e->b[(e->head + e->n - 1) % BROKER_PRODUCER_BATCHES];
    int32_t expect = newest->last_seq == INT32_MAX ? 0 : newest->last_seq + 1;
    if (h->base_sequence != expect) {
        *why = "sequence number out of order";
        return HD_ESEQUENCE;
    }
    return 0;
}

void broker__producer_record(broker_partition_t *p, const broker_batch_hdr_t *h,
                             int64_t base_offset)
{
    int64_t now = hd_wall_ms();
    broker__producer_t *e = find(p, h->producer_id);
    if (!e)
        e = add(p, h->producer_id, now);
    if (h->producer_epoch != e->epoch) {
        e->epoch = h->producer_epoch;
        e->n = 0;
        e->head = 0;
    }
    e->last_ms = now;
    push(e, h, base_offset);
}

void broker__producers_free(broker_partition_t *p)
{
    free(p->producers);
    p->producers = NULL;
    p->nproducers = p->cap_producers = 0;
}
