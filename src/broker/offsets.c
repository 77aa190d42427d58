/* Committed offsets: a hash table per group in memory, and the internal offsets log that makes
 * them durable, DATA_DIR/__consumer_offsets/ (a log/ partition, not a user-visible topic).
 *
 * Every change is appended as a RecordBatch v2 (magic 2, uncompressed, producer id -1, one
 * record per change) and made durable by the flusher; OffsetCommit is answered through a waiter
 * once the log's durable offset has passed the batch. The in-memory table is updated at append
 * time, in log order, so that it always equals what a replay of the log would build (waiters
 * fire in no particular order, so applying at durability could reorder two commits).
 *
 * Record key (all integers big-endian, strings as i16 length + bytes):
 *   i16 type
 *   type 0, offset:          str group, str topic, i32 partition
 *   type 1, group deleted:   str group
 *   type 2, snapshot start:  (nothing) - forget everything before this record
 * Record value of type 0 (a null value deletes that one offset):
 *   i16 version (0), i64 offset, i32 leader_epoch, i64 commit_ms, str metadata (the client's
 *   bytes exactly, NUL bytes included)
 * Types 1 and 2 have a null value. Records that do not parse are skipped with a warning.
 *
 * Startup replays every batch from the log start. Recovery (log/) has already cut a torn or
 * corrupt tail, so a commit that was never acknowledged may be lost, an acknowledged one never.
 *
 * Compaction: once the log is larger than offsets.topic.segment.bytes and twice the last
 * snapshot, every live offset is written as ONE batch that begins with a snapshot-start record
 * (a batch is atomic: torn, it is cut whole by recovery and the older records still hold).
 * When that batch is durable, the segments lying wholly before it are deleted. */
#include "broker/broker_int.h"
#include "util/crc32c.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/monotime.h"
#include "util/reader.h"
#include "util/say.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { REC_OFFSET = 0, REC_GROUP_DELETE = 1, REC_SNAPSHOT = 2 };

/* A batch is flushed to the log once it holds this much, so one commit of many partitions
 * becomes several batches well below the segment size. */
#define BATCH_SOFT_MAX (1 << 20)
#define REPLAY_READ_BYTES (8 << 20)
/* How often expired offsets are looked for (offsets.retention.minutes). */
#define EXPIRY_CHECK_MS 60000

/* ---- the in-memory table ---- */

static uint32_t hash_tp(const char *topic, int32_t partition)
{
    uint32_t h = 2166136261u;
    for (const char *c = topic; *c; c++)
        h = (h ^ (uint8_t)*c) * 16777619u;
    h = (h ^ (uint32_t)partition) * 16777619u;
    return h;
}

static broker__offset_t **slot_of(broker_group_t *g, const char *topic, int32_t partition,
                                  uint32_t h)
{
    if (!g->nobuckets)
        return NULL;
    broker__offset_t **pp = &g->obuckets[h & (g->nobuckets - 1)];
    while (*pp &&
           ((*pp)->hash != h || (*pp)->partition != partition || strcmp((*pp)->topic, topic)))
        pp = &(*pp)->next;
    return pp;
}

static void grow(broker_group_t *g)
{
    uint32_t n = g->nobuckets ? g->nobuckets * 2 : 16;
    broker__offset_t **nb = hd_calloc(n, sizeof *nb);
    for (uint32_t i = 0; i < g->nobuckets; i++) {
        broker__offset_t *o = g->obuckets[i];
        while (o) {
            broker__offset_t *next = o->next;
            o->next = nb[o->hash & (n - 1)];
            nb[o->hash & (n - 1)] = o;
            o = next;
        }
    }
    free(g->obuckets);
    g->obuckets = nb;
    g->nobuckets = n;
}

static void offset_free(broker__offset_t *o)
{
    free(o->topic);
    free(o->metadata);
    free(o);
}

static void table_set(broker_group_t *g, const char *topic, int32_t partition, int64_t offset,
                      int32_t epoch, int64_t commit_ms, const char *meta, size_t meta_len)
{
    uint32_t h = hash_tp(topic, partition);
    if ((uint32_t)g->noffsets >= g->nobuckets)
        grow(g);
    broker__offset_t **pp = slot_of(g, topic, partition, h);
    broker__offset_t *o = *pp;
    if (!o) {
        o = hd_calloc(1, sizeof *o);
        o->topic = hd_strdup(topic);
        o->partition = partition;
        o->hash = h;
        *pp = o;
        g->noffsets++;
    }
    /* Kept byte for byte, NUL bytes included (confluent-kafka sends its metadata with the C
     * string's terminator, and reads back exactly what it sent). */
    free(o->metadata);
    if (!meta)
        meta_len = 0;
    o->metadata = hd_malloc(meta_len + 1);
    if (meta_len)
        memcpy(o->metadata, meta, meta_len);
    o->metadata[meta_len] = '\0';
    o->metadata_len = meta_len;
    o->offset = offset;
    o->leader_epoch = epoch;
    o->commit_ms = commit_ms;
}

static void table_del(broker_group_t *g, const char *topic, int32_t partition)
{
    broker__offset_t **pp = slot_of(g, topic, partition, hash_tp(topic, partition));
    if (pp && *pp) {
        broker__offset_t *o = *pp;
        *pp = o->next;
        offset_free(o);
        g->noffsets--;
    }
}

void broker__offsets_free_group(broker_group_t *g)
{
    for (uint32_t i = 0; i < g->nobuckets; i++) {
        broker__offset_t *o = g->obuckets[i];
        while (o) {
            broker__offset_t *next = o->next;
            offset_free(o);
            o = next;
        }
    }
    free(g->obuckets);
    g->obuckets = NULL;
    g->nobuckets = 0;
    g->noffsets = 0;
}

/* ---- batch building ---- */

typedef struct batch {
    hd_buf_t *buf;
    int n;
    int64_t ts;
    hd_buf_t rec;
} batch_t;

static void put_str(hd_buf_t *b, const char *s)
{
    size_t n = strlen(s);
    hd_buf_put_i16be(b, (int16_t)n);
    hd_buf_put(b, s, n);
}

static void batch_begin(batch_t *bt, hd_buf_t *buf, int64_t ts)
{
    bt->buf = buf;
    bt->n = 0;
    bt->ts = ts;
    hd_buf_reset(buf);
    hd_buf_init(&bt->rec);
    hd_buf_put_i64be(buf, 0);  /* baseOffset (the log assigns it) */
    hd_buf_put_i32be(buf, 0);  /* batchLength, patched */
    hd_buf_put_i32be(buf, 0);  /* partitionLeaderEpoch */
    hd_buf_put_u8(buf, 2);     /* magic */
    hd_buf_put_u32be(buf, 0);  /* crc, patched */
    hd_buf_put_i16be(buf, 0);  /* attributes */
    hd_buf_put_i32be(buf, 0);  /* lastOffsetDelta, patched */
    hd_buf_put_i64be(buf, ts); /* baseTimestamp */
    hd_buf_put_i64be(buf, ts); /* maxTimestamp */
    hd_buf_put_i64be(buf, -1); /* producerId */
    hd_buf_put_i16be(buf, -1); /* producerEpoch */
    hd_buf_put_i32be(buf, -1); /* baseSequence */
    hd_buf_put_i32be(buf, 0);  /* recordsCount, patched */
}

/* key and value are complete encodings; value NULL = null. */
static void batch_add(batch_t *bt, const hd_buf_t *key, const hd_buf_t *value)
{
    hd_buf_t *r = &bt->rec;
    hd_buf_reset(r);
    hd_buf_put_u8(r, 0);     /* attributes */
    hd_buf_put_varint(r, 0); /* timestampDelta */
    hd_buf_put_varint(r, bt->n);
    hd_buf_put_varint(r, (int64_t)key->len);
    hd_buf_put(r, key->p, key->len);
    if (value) {
        hd_buf_put_varint(r, (int64_t)value->len);
        hd_buf_put(r, value->p, value->len);
    } else {
        hd_buf_put_varint(r, -1);
    }
    hd_buf_put_varint(r, 0); /* headers */
    hd_buf_put_varint(bt->buf, (int64_t)r->len);
    hd_buf_put(bt->buf, r->p, r->len);
    bt->n++;
}

static void batch_seal(batch_t *bt)
{
    hd_buf_t *b = bt->buf;
    hd_buf_patch_i32be(b, 8, (int32_t)(b->len - 12));
    hd_buf_patch_i32be(b, 23, bt->n - 1);
    hd_buf_patch_i32be(b, 57, bt->n);
    uint32_t crc = hd_crc32c(0, b->p + 21, b->len - 21);
    hd_buf_patch_i32be(b, 17, (int32_t)crc);
    hd_buf_deinit(&bt->rec);
}

static void key_offset(hd_buf_t *k, const char *group, const char *topic, int32_t partition)
{
    hd_buf_reset(k);
    hd_buf_put_i16be(k, REC_OFFSET);
    put_str(k, group);
    put_str(k, topic);
    hd_buf_put_i32be(k, partition);
}

static void value_offset(hd_buf_t *v, int64_t offset, int32_t epoch, int64_t ts, const char *meta,
                         size_t meta_len)
{
    hd_buf_reset(v);
    hd_buf_put_i16be(v, 0);
    hd_buf_put_i64be(v, offset);
    hd_buf_put_i32be(v, epoch);
    hd_buf_put_i64be(v, ts);
    hd_buf_put_i16be(v, (int16_t)(meta ? meta_len : 0));
    if (meta && meta_len)
        hd_buf_put(v, meta, meta_len);
}

/* Appends the sealed batch; returns 0 and the log end after it, or an error. */
static int append_batch(broker_t *b, batch_t *bt, int64_t *end)
{
    batch_seal(bt);
    log_partition_t *log = b->offsets_part->log;
    int64_t base;
    int rc = log_partition_append(log, b->obatch.p, b->obatch.len, &base);
    if (rc < 0) {
        say_warn_every(5, "offsets log: append failed: %s", hd_strerror(rc));
        return rc;
    }
    *end = base + bt->n;
    log_flusher_mark_dirty(b->flusher, log);
    return 0;
}

/* ---- public: commits and lookups ---- */

int broker_offsets_commit(broker_t *b, const char *group_id, const broker_offset_commit_t *c, int n,
                          int64_t *durable_at)
{
    int64_t now = broker__wall(b);
    int64_t end = broker_partition_end(b->offsets_part);
    if (n <= 0) {
        *durable_at = end;
        return 0;
    }
    if (strlen(group_id) > BROKER_GROUP_ID_MAX)
        return HD_EINVAL;
    hd_buf_t k, v;
    hd_buf_init(&k);
    hd_buf_init(&v);
    batch_t bt;
    int rc = 0, first = 0;
    broker_group_t *g = broker__group_get(b, group_id, true);
    batch_begin(&bt, &b->obatch, now);
    for (int i = 0; i < n; i++) {
        key_offset(&k, group_id, c[i].topic, c[i].partition);
        value_offset(&v, c[i].offset, c[i].leader_epoch, now, c[i].metadata, c[i].metadata_len);
        batch_add(&bt, &k, &v);
        if (b->obatch.len < BATCH_SOFT_MAX && i != n - 1)
            continue;
        if ((rc = append_batch(b, &bt, &end)) < 0)
            goto fail;
        /* Each batch is applied once it is in the log, so the table always equals a replay. */
        for (; first <= i; first++) {
            table_set(g, c[first].topic, c[first].partition, c[first].offset, c[first].leader_epoch,
                      now, c[first].metadata, c[first].metadata_len);
        }
        if (i != n - 1)
            batch_begin(&bt, &b->obatch, now);
    }
    hd_buf_deinit(&k);
    hd_buf_deinit(&v);
    *durable_at = end;
    return 0;
fail:
    hd_buf_deinit(&k);
    hd_buf_deinit(&v);
    broker__group_maybe_drop(b, g);
    return rc;
}

void broker_offsets_wait(broker_t *b, int64_t durable_at, broker_waiter_t *w)
{
    w->target = durable_at;
    broker_waiter_add(b->offsets_part, w);
}

bool broker_offsets_get(broker_t *b, const char *group_id, const char *topic, int32_t partition,
                        broker_offset_t *out)
{
    broker_group_t *g = broker__group_get(b, group_id, false);
    if (!g)
        return false;
    broker__offset_t **pp = slot_of(g, topic, partition, hash_tp(topic, partition));
    if (!pp || !*pp)
        return false;
    out->offset = (*pp)->offset;
    out->leader_epoch = (*pp)->leader_epoch;
    out->commit_ms = (*pp)->commit_ms;
    out->metadata = (*pp)->metadata;
    out->metadata_len = (*pp)->metadata_len;
    return true;
}

static int cmp_offset(const void *a, const void *b)
{
    const broker__offset_t *x = *(broker__offset_t *const *)a, *y = *(broker__offset_t *const *)b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

/* Every offset of the group, sorted by topic and partition; the caller frees the array. */
static broker__offset_t **sorted_offsets(broker_group_t *g)
{
    broker__offset_t **all = hd_malloc(sizeof *all * (size_t)(g->noffsets ? g->noffsets : 1));
    int n = 0;
    for (uint32_t i = 0; i < g->nobuckets; i++)
        for (broker__offset_t *o = g->obuckets[i]; o; o = o->next)
            all[n++] = o;
    qsort(all, (size_t)n, sizeof *all, cmp_offset);
    return all;
}

void broker_offsets_each(broker_t *b, const char *group_id, broker_offset_cb cb, void *ctx)
{
    broker_group_t *g = broker__group_get(b, group_id, false);
    if (!g || !g->noffsets)
        return;
    broker__offset_t **all = sorted_offsets(g);
    int n = g->noffsets;
    for (int i = 0; i < n; i++) {
        broker_offset_t o = {all[i]->offset, all[i]->leader_epoch, all[i]->commit_ms,
                             all[i]->metadata, all[i]->metadata_len};
        if (cb(ctx, all[i]->topic, all[i]->partition, &o))
            break;
    }
    free(all);
}

int16_t broker_offsets_delete(broker_t *b, const char *group_id, const char *topic,
                              int32_t partition, int64_t *durable_at)
{
    *durable_at = broker_partition_end(b->offsets_part);
    broker_group_t *g = broker__group_get(b, group_id, false);
    if (!g)
        return BROKER_GERR_GROUP_ID_NOT_FOUND;
    if (broker__group_subscribes(g, topic))
        return BROKER_GERR_GROUP_SUBSCRIBED_TO_TOPIC;
    broker__offset_t **pp = slot_of(g, topic, partition, hash_tp(topic, partition));
    if (!pp || !*pp)
        return BROKER_GERR_NONE;
    hd_buf_t k;
    hd_buf_init(&k);
    batch_t bt;
    batch_begin(&bt, &b->obatch, broker__wall(b));
    key_offset(&k, group_id, topic, partition);
    batch_add(&bt, &k, NULL);
    int rc = append_batch(b, &bt, durable_at);
    hd_buf_deinit(&k);
    if (rc < 0)
        return BROKER_GERR_KAFKA_STORAGE_ERROR;
    table_del(g, topic, partition);
    broker__group_maybe_drop(b, g);
    return BROKER_GERR_NONE;
}

typedef bool (*offset_pred)(const broker_group_t *g, const broker__offset_t *o, const void *ctx);

/* Deletes, in every group, the offsets `pred` selects: tombstones in the offsets log (a batch per
 * group, split at BATCH_SOFT_MAX like commits), then the table entries once their batch is in
 * the log. A group left with nothing is dropped. */
static void delete_offsets_where(broker_t *b, offset_pred pred, const void *ctx)
{
    int64_t now = broker__wall(b), end;
    hd_buf_t k;
    hd_buf_init(&k);
    /* Backwards: a group left empty is removed from b->groups, which shifts the later ones. */
    for (int gi = b->ngroups; gi-- > 0;) {
        broker_group_t *g = b->groups[gi];
        broker__offset_t **all = sorted_offsets(g);
        int n = 0;
        for (int i = 0; i < g->noffsets; i++)
            if (pred(g, all[i], ctx))
                all[n++] = all[i];
        batch_t bt;
        for (int i = 0, first = 0; i < n; i++) {
            if (i == first)
                batch_begin(&bt, &b->obatch, now);
            key_offset(&k, g->id, all[i]->topic, all[i]->partition);
            batch_add(&bt, &k, NULL);
            if (b->obatch.len < BATCH_SOFT_MAX && i != n - 1)
                continue;
            if (append_batch(b, &bt, &end) < 0)
                break;                  /* the offsets stay, as the log says */
            for (; first <= i; first++) /* each entry's own topic string, freed with it */
                table_del(g, all[first]->topic, all[first]->partition);
        }
        free(all);
        broker__group_maybe_drop(b, g);
    }
    hd_buf_deinit(&k);
}

static bool of_topic(const broker_group_t *g, const broker__offset_t *o, const void *topic)
{
    (void)g;
    return !strcmp(o->topic, topic);
}

void broker__offsets_drop_topic(broker_t *b, const char *topic)
{
    if (b->offsets_part)
        delete_offsets_where(b, of_topic, topic);
}

typedef struct expiry {
    int64_t now, retention_ms;
} expiry_t;

/* KIP-211: offsets of a group with members never expire; in an empty group each one expires
 * retention after the later of its commit and the moment the group became empty. */
static bool expired(const broker_group_t *g, const broker__offset_t *o, const void *ctx)
{
    const expiry_t *e = ctx;
    if (g->state != BROKER__EMPTY || g->nmembers || g->npending)
        return false;
    int64_t from = o->commit_ms > g->empty_since_ms ? o->commit_ms : g->empty_since_ms;
    return e->now - from >= e->retention_ms;
}

int broker__offsets_delete_group(broker_t *b, broker_group_t *g, int64_t *durable_at)
{
    hd_buf_t k;
    hd_buf_init(&k);
    hd_buf_put_i16be(&k, REC_GROUP_DELETE);
    put_str(&k, g->id);
    batch_t bt;
    batch_begin(&bt, &b->obatch, broker__wall(b));
    batch_add(&bt, &k, NULL);
    int rc = append_batch(b, &bt, durable_at);
    hd_buf_deinit(&k);
    if (rc < 0)
        return rc;
    broker__offsets_free_group(g);
    return 0;
}

/* ---- replay ---- */

typedef struct replay {
    broker_t *b;
    int64_t applied, skipped;
} replay_t;

static char *read_str(hd_reader_t *r)
{
    int16_t n = hd_read_i16(r);
    if (n < 0) {
        hd_reader_fail(r, HD_EMALFORMED);
        return NULL;
    }
    hd_slice_t s = hd_read_bytes(r, (size_t)n);
    if (r->err)
        return NULL;
    return hd_strndup((const char *)s.p, s.len);
}

static void drop_all_offsets(broker_t *b)
{
    for (int i = b->ngroups; i-- > 0;) {
        broker_group_t *g = b->groups[i];
        broker__offsets_free_group(g);
        broker__group_maybe_drop(b, g);
    }
}

static int replay_record(void *ctx, const broker_record_t *rec)
{
    replay_t *rp = ctx;
    hd_reader_t r = hd_reader_init(rec->key);
    int16_t type = rec->key_null ? -1 : hd_read_i16(&r);
    char *group = NULL, *topic = NULL;
    if (type == REC_SNAPSHOT) {
        drop_all_offsets(rp->b);
        rp->applied++;
        return 0;
    }
    if (type != REC_OFFSET && type != REC_GROUP_DELETE)
        goto bad;
    group = read_str(&r);
    if (r.err || !group[0])
        goto bad;
    if (type == REC_GROUP_DELETE) {
        broker_group_t *g = broker__group_get(rp->b, group, false);
        if (g) {
            broker__offsets_free_group(g);
            broker__group_maybe_drop(rp->b, g);
        }
        goto done;
    }
    topic = read_str(&r);
    int32_t partition = hd_read_i32(&r);
    if (r.err)
        goto bad;
    if (rec->value_null) {
        broker_group_t *g = broker__group_get(rp->b, group, false);
        if (g) {
            table_del(g, topic, partition);
            broker__group_maybe_drop(rp->b, g);
        }
        goto done;
    }
    hd_reader_t v = hd_reader_init(rec->value);
    int16_t ver = hd_read_i16(&v);
    int64_t offset = hd_read_i64(&v);
    int32_t epoch = hd_read_i32(&v);
    int64_t ts = hd_read_i64(&v);
    int16_t meta_len = hd_read_i16(&v);
    hd_slice_t m = meta_len >= 0 ? hd_read_bytes(&v, (size_t)meta_len) : hd_slice(NULL, 0);
    if (v.err || ver != 0 || meta_len < 0)
        goto bad;
    table_set(broker__group_get(rp->b, group, true), topic, partition, offset, epoch, ts,
              (const char *)m.p, m.len);
done:
    rp->applied++;
    free(group);
    free(topic);
    return 0;
bad:
    rp->skipped++;
    say_warn_every(10, "offsets log: skipping an unreadable record at offset %" PRId64,
                   rec->offset);
    free(group);
    free(topic);
    return 0;
}

/* Records of stored batches are bounded by the segment size; inflating is bounded too, in case
 * a batch on disk claims a codec (Herald writes none). */
#define REPLAY_MAX_INFLATED (64 << 20)

static int apply_batch(replay_t *rp, hd_slice_t batch, hd_buf_t *scratch)
{
    return broker_batch_for_each(batch, REPLAY_MAX_INFLATED, scratch, replay_record, rp);
}

int broker__offsets_apply(broker_t *b, hd_slice_t batch)
{
    hd_buf_t scratch;
    hd_buf_init(&scratch);
    replay_t rp = {b, 0, 0};
    int rc = apply_batch(&rp, batch, &scratch);
    hd_buf_deinit(&scratch);
    return rc;
}

static int replay(broker_t *b)
{
    log_partition_t *log = b->offsets_part->log;
    int64_t off = log_partition_start_offset(log), end = log_partition_end_offset(log);
    hd_buf_t buf, scratch;
    hd_buf_init(&buf);
    hd_buf_init(&scratch);
    replay_t rp = {b, 0, 0};
    int rc = 0;
    while (off < end) {
        hd_buf_reset(&buf);
        ssize_t n = log_partition_read(log, off, end, REPLAY_READ_BYTES, &buf);
        if (n < 0) {
            rc = (int)n;
            break;
        }
        if (n == 0)
            break;
        size_t pos = 0;
        int64_t next = off;
        while (pos + BROKER_BATCH_HEADER_LEN <= buf.len) {
            broker_batch_hdr_t h;
            broker_batch_hdr_decode(buf.p + pos, &h);
            size_t blen = (size_t)h.batch_length + 12;
            if (h.batch_length < 49 || pos + blen > buf.len) {
                rc = HD_ECORRUPT;
                break;
            }
            if (h.base_offset + h.last_offset_delta >= off) {
                rc = apply_batch(&rp, hd_slice(buf.p + pos, blen), &scratch);
                if (rc < 0)
                    say_warn("offsets log: batch at %" PRId64 " unreadable: %s", h.base_offset,
                             hd_strerror(rc));
                rc = 0;
            }
            next = h.base_offset + h.last_offset_delta + 1;
            pos += blen;
        }
        if (rc < 0 || next <= off)
            break;
        off = next;
    }
    hd_buf_deinit(&buf);
    hd_buf_deinit(&scratch);
    int ngroups = b->ngroups;
    say_info("offsets log: replayed %" PRId64 " records (%" PRId64 " skipped), %d groups",
             rp.applied, rp.skipped, ngroups);
    return rc;
}

/* ---- open, close, compaction ---- */

int broker__offsets_open(broker_t *b)
{
    hd_buf_init(&b->obatch);
    size_t n = strlen(b->data_dir) + 32;
    char *dir = hd_malloc(n);
    snprintf(dir, n, "%s/__consumer_offsets", b->data_dir);
    log_config_t lc;
    log_config_defaults(&lc);
    lc.segment_bytes = b->cfg->offsets_segment_bytes;
    lc.preallocate = false;
    int rc = broker__internal_topic_open(b, "__consumer_offsets", dir, &lc, &b->offsets_topic);
    free(dir);
    if (rc < 0)
        return rc;
    b->offsets_part = b->offsets_topic->parts[0];
    rc = replay(b);
    if (rc < 0) {
        say_error("offsets log: replay failed: %s", hd_strerror(rc));
        return rc;
    }
    broker_offsets_compact(b, false);
    return 0;
}

void broker__offsets_close(broker_t *b)
{
    broker__internal_topic_free(b->offsets_topic);
    b->offsets_topic = NULL;
    b->offsets_part = NULL;
    hd_buf_deinit(&b->obatch);
}

int64_t broker_offsets_log_bytes(const broker_t *b)
{
    return b->offsets_part ? log_partition_size_bytes(b->offsets_part->log) : 0;
}

int broker_offsets_compact(broker_t *b, bool force)
{
    if (!b->offsets_part || b->compact_pending)
        return 0;
    int64_t size = broker_offsets_log_bytes(b);
    if (!force && (size <= b->cfg->offsets_segment_bytes || size <= 2 * b->offsets_snapshot_bytes))
        return 0;
    hd_buf_t k, v;
    hd_buf_init(&k);
    hd_buf_init(&v);
    batch_t bt;
    batch_begin(&bt, &b->obatch, broker__wall(b));
    hd_buf_put_i16be(&k, REC_SNAPSHOT);
    batch_add(&bt, &k, NULL);
    for (int i = 0; i < b->ngroups; i++) {
        broker_group_t *g = b->groups[i];
        for (uint32_t j = 0; j < g->nobuckets; j++)
            for (broker__offset_t *o = g->obuckets[j]; o; o = o->next) {
                key_offset(&k, g->id, o->topic, o->partition);
                value_offset(&v, o->offset, o->leader_epoch, o->commit_ms, o->metadata,
                             o->metadata_len);
                batch_add(&bt, &k, &v);
            }
    }
    hd_buf_deinit(&k);
    hd_buf_deinit(&v);
    size_t snap = b->obatch.len;
    b->offsets_snapshot_bytes = (int64_t)snap;
    int64_t base = broker_partition_end(b->offsets_part), end;
    int rc = append_batch(b, &bt, &end);
    if (rc < 0) {
        say_warn("offsets log: snapshot of %zu bytes not written: %s", snap, hd_strerror(rc));
        return rc;
    }
    say_info("offsets log: %" PRId64 " bytes compacted into a %zu-byte snapshot at %" PRId64, size,
             snap, base);
    b->compact_pending = true;
    b->compact_base = base;
    b->compact_end = end;
    return 1;
}

void broker__offsets_tick(broker_t *b)
{
    if (!b->offsets_part)
        return;
    int64_t now = broker__wall(b);
    if (now >= b->next_expiry_ms) {
        b->next_expiry_ms = now + EXPIRY_CHECK_MS;
        expiry_t e = {now, b->cfg->offsets_retention_minutes * 60000};
        delete_offsets_where(b, expired, &e);
    }
    if (b->compact_pending && broker_partition_hwm(b->offsets_part) >= b->compact_end) {
        b->compact_pending = false;
        log_partition_delete_before(b->offsets_part->log, b->compact_base);
    }
    broker_offsets_compact(b, false);
}
