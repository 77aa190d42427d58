/* Committed offsets and classic-group state: a hash table per group in memory, and
 * __consumer_offsets, the internal topic that makes them durable and that Kafka clients may
 * read (Metadata, ListOffsets, Fetch; every write path refuses it). Its records are Apache
 * Kafka's own (offsets_format.c documents them and the partitioning), so lag checkers and
 * Kafka's console consumer with its offsets formatter read it as they read Kafka's.
 *
 * On disk, DATA_DIR/__consumer_offsets/:
 *   partitions     "partitions=N\nid=<32 hex digits>\n", written atomically when the directory
 *                  is made: the partition count (offsets.topic.num.partitions then; fixed from
 *                  then on, as Kafka's topic is) and the topic id
 *   <p>/           partition p's log (log/): RecordBatch v2 frames, magic 2, uncompressed,
 *                  producer id -1, one record per change, timestamps the append time
 *   *.log, ...     the format before (one partition, directly in this directory): replayed
 *                  once at start, rewritten into the partitions as one snapshot per partition,
 *                  synced, then removed
 *
 * Every commit is appended to its group's partition and made durable by the flusher;
 * OffsetCommit is answered through a waiter once that partition's durable offset has passed
 * the batch. The in-memory table is updated at append time, in log order, so that it always
 * equals what a replay of the log would build (waiters fire in no particular order, so
 * applying at durability could reorder two commits). A classic group's GroupMetadata record
 * is appended when it completes a rebalance or becomes Empty (group.c), not waited for.
 *
 * Startup replays every partition from its log start: each record replaces the state of its
 * key (last wins, a null value deletes), as Kafka's coordinator loads the topic; classic groups
 * come back with their members, generation and assignments. Recovery (log/) has already cut a
 * torn or corrupt tail, so a commit that was never acknowledged may be lost, an acknowledged one
 * never.
 *
 * Compaction, per partition: once a partition is larger than offsets.topic.segment.bytes and
 * twice its last snapshot, every live record of its groups is written again as ONE batch (a
 * batch is atomic: torn, it is cut whole by recovery and the older records still hold). When
 * that batch is durable, the segments lying wholly before it are deleted. What stays before
 * the snapshot is a contiguous suffix of the log, and replaying any suffix followed by the
 * snapshot yields the snapshot's state: a key whose last record precedes the snapshot and is
 * not in it was deleted, and its tombstone, being later, is in any suffix holding the key. */
#include "broker/broker_int.h"
#include "util/crc32c.h"
#include "util/err.h"
#include "util/fileio.h"
#include "util/mem.h"
#include "util/monotime.h"
#include "util/reader.h"
#include "util/say.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define PARTS_FILE "partitions"

/* A batch is flushed to the log once it holds this much, so one commit of many partitions
 * becomes several batches well below the segment size. */
#define BATCH_SOFT_MAX (1 << 20)
#define REPLAY_READ_BYTES (8 << 20)
/* How often expired offsets are looked for (offsets.retention.minutes). */
#define EXPIRY_CHECK_MS 60000

static broker__opart_t *opart_of(broker_t *b, const char *group)
{
    return &b->oparts[broker__offsets_partition_for(group, b->noparts)];
}

broker_topic_t *broker_internal_topic_find(broker_t *b, const char *name)
{
    return name && !strcmp(name, "__consumer_offsets") ? b->offsets_topic : NULL;
}

broker_partition_t *broker__offsets_part_of(broker_t *b, const char *group)
{
    return opart_of(b, group)->part;
}

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
static void batch_add(batch_t *bt, hd_slice_t key, const hd_slice_t *value)
{
    hd_buf_t *r = &bt->rec;
    hd_buf_reset(r);
    hd_buf_put_u8(r, 0);     /* attributes */
    hd_buf_put_varint(r, 0); /* timestampDelta */
    hd_buf_put_varint(r, bt->n);
    hd_buf_put_varint(r, (int64_t)key.len);
    hd_buf_put(r, key.p, key.len);
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

static void batch_add_buf(batch_t *bt, const hd_buf_t *key, const hd_buf_t *value)
{
    hd_slice_t v = value ? hd_buf_slice(value) : hd_slice(NULL, 0);
    batch_add(bt, hd_buf_slice(key), value ? &v : NULL);
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

/* Appends the sealed batch to the partition; returns 0 and the log end after it, or an error. */
static int append_batch(broker_t *b, broker__opart_t *op, batch_t *bt, int64_t *end)
{
    batch_seal(bt);
    log_partition_t *log = broker__partition_log(op->part);
    if (!log)
        return -EIO;
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
    if (strlen(group_id) > BROKER_GROUP_ID_MAX)
        return HD_EINVAL;
    int64_t now = broker__wall(b);
    broker__opart_t *op = opart_of(b, group_id);
    int64_t end = broker_partition_end(op->part);
    if (n <= 0) {
        *durable_at = end;
        return 0;
    }
    hd_buf_t k, v;
    hd_buf_init(&k);
    hd_buf_init(&v);
    batch_t bt;
    int rc = 0, first = 0;
    broker_group_t *g = broker__group_get(b, group_id, true);
    batch_begin(&bt, &b->obatch, now);
    for (int i = 0; i < n; i++) {
        broker__okey_offset(&k, group_id, c[i].topic, c[i].partition);
        broker__oval_offset(&v, c[i].offset, c[i].leader_epoch, c[i].metadata,
                            c[i].metadata ? c[i].metadata_len : 0, now);
        batch_add_buf(&bt, &k, &v);
        if (b->obatch.len < BATCH_SOFT_MAX && i != n - 1)
            continue;
        if ((rc = append_batch(b, op, &bt, &end)) < 0)
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

void broker_offsets_wait(broker_t *b, const char *group_id, int64_t durable_at, broker_waiter_t *w)
{
    w->target = durable_at;
    broker_waiter_add(opart_of(b, group_id)->part, w);
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
    broker__opart_t *op = opart_of(b, group_id);
    *durable_at = broker_partition_end(op->part);
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
    broker__okey_offset(&k, group_id, topic, partition);
    batch_add_buf(&bt, &k, NULL);
    int rc = append_batch(b, op, &bt, durable_at);
    hd_buf_deinit(&k);
    if (rc < 0)
        return BROKER_GERR_KAFKA_STORAGE_ERROR;
    table_del(g, topic, partition);
    broker__group_maybe_drop(b, g);
    return BROKER_GERR_NONE;
}

typedef bool (*offset_pred)(const broker_group_t *g, const broker__offset_t *o, const void *ctx);

/* Appends tombstones for the offsets of g that `pred` selects (all with pred NULL), plus the
 * group's GroupMetadata tombstone with `group_too`, in batches split at BATCH_SOFT_MAX, and
 * drops the table entries once their batch is in the log. Returns 0 or the append error (what
 * was not written stays, as the log says). */
static int tombstone_offsets(broker_t *b, broker_group_t *g, offset_pred pred, const void *ctx,
                             bool group_too, int64_t *end)
{
    broker__opart_t *op = opart_of(b, g->id);
    int64_t now = broker__wall(b);
    *end = broker_partition_end(op->part);
    broker__offset_t **all = sorted_offsets(g);
    int n = 0, rc = 0;
    for (int i = 0; i < g->noffsets; i++)
        if (!pred || pred(g, all[i], ctx))
            all[n++] = all[i];
    hd_buf_t k;
    hd_buf_init(&k);
    batch_t bt;
    int total = n + (group_too ? 1 : 0);
    for (int i = 0, first = 0; i < total; i++) {
        if (i == first)
            batch_begin(&bt, &b->obatch, now);
        if (i < n)
            broker__okey_offset(&k, g->id, all[i]->topic, all[i]->partition);
        else
            broker__okey_group(&k, g->id);
        batch_add_buf(&bt, &k, NULL);
        if (b->obatch.len < BATCH_SOFT_MAX && i != total - 1)
            continue;
        if ((rc = append_batch(b, op, &bt, end)) < 0)
            break;
        for (; first <= i; first++) { /* each entry's own topic string, freed with it */
            if (first < n) {
                table_del(g, all[first]->topic, all[first]->partition);
            } else {
                free(g->meta_rec);
                g->meta_rec = NULL;
                g->meta_len = 0;
            }
        }
    }
    hd_buf_deinit(&k);
    free(all);
    return rc;
}

/* Deletes, in every group, the offsets `pred` selects. A group left with nothing is dropped. */
static void delete_offsets_where(broker_t *b, offset_pred pred, const void *ctx)
{
    int64_t end;
    /* Backwards: a group left empty is removed from b->groups, which shifts the later ones. */
    for (int gi = b->ngroups; gi-- > 0;) {
        broker_group_t *g = b->groups[gi];
        bool any = false;
        for (uint32_t j = 0; j < g->nobuckets && !any; j++)
            for (broker__offset_t *o = g->obuckets[j]; o && !any; o = o->next)
                any = pred(g, o, ctx);
        if (any)
            tombstone_offsets(b, g, pred, ctx, false, &end);
        broker__group_maybe_drop(b, g);
    }
}

static bool of_topic(const broker_group_t *g, const broker__offset_t *o, const void *topic)
{
    (void)g;
    return !strcmp(o->topic, topic);
}

void broker__offsets_drop_topic(broker_t *b, const char *topic)
{
    if (b->oparts)
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
    int rc = tombstone_offsets(b, g, NULL, NULL, g->meta_rec != NULL, durable_at);
    if (rc < 0)
        return rc;
    broker__offsets_free_group(g);
    return 0;
}

/* ---- group metadata ---- */

static int64_t append_group_record(broker_t *b, broker_group_t *g, const hd_buf_t *value)
{
    broker__opart_t *op = opart_of(b, g->id);
    hd_buf_t k;
    hd_buf_init(&k);
    broker__okey_group(&k, g->id);
    batch_t bt;
    int64_t end;
    batch_begin(&bt, &b->obatch, broker__wall(b));
    batch_add_buf(&bt, &k, value);
    int rc = append_batch(b, op, &bt, &end);
    hd_buf_deinit(&k);
    if (rc < 0)
        return rc; /* the log keeps the previous record; so does the group */
    free(g->meta_rec);
    g->meta_rec = NULL;
    g->meta_len = 0;
    if (value) {
        g->meta_rec = hd_malloc(value->len ? value->len : 1);
        memcpy(g->meta_rec, value->p, value->len);
        g->meta_len = value->len;
    }
    return end;
}

int64_t broker__offsets_write_group(broker_t *b, broker_group_t *g)
{
    if (!b->oparts || b->oreplaying)
        return 0;
    broker__gmeta_t m;
    broker__group_meta(b, g, &m);
    hd_buf_t v;
    hd_buf_init(&v);
    broker__gmeta_encode(&v, &m);
    free(m.members);
    int64_t end = append_group_record(b, g, &v);
    hd_buf_deinit(&v);
    return end;
}

void broker__offsets_forget_group(broker_t *b, broker_group_t *g)
{
    if (g->meta_rec && b->oparts && !b->oreplaying)
        append_group_record(b, g, NULL);
    free(g->meta_rec);
    g->meta_rec = NULL;
    g->meta_len = 0;
}

/* ---- replay ---- */

typedef struct replay {
    broker_t *b;
    bool legacy;
    int64_t applied, skipped;
} replay_t;

static void drop_all_offsets(broker_t *b)
{
    for (int i = b->ngroups; i-- > 0;) {
        broker_group_t *g = b->groups[i];
        broker__offsets_free_group(g);
        broker__group_maybe_drop(b, g);
    }
}

static void apply_group(replay_t *rp, const char *group, const broker__orec_t *o)
{
    broker_t *b = rp->b;
    if (o->tombstone) {
        broker_group_t *g = broker__group_get(b, group, false);
        if (!g)
            return;
        if (rp->legacy) /* the old format's group deletion took its offsets along */
            broker__offsets_free_group(g);
        else
            broker__group_restore(b, g, NULL);
        free(g->meta_rec);
        g->meta_rec = NULL;
        g->meta_len = 0;
        broker__group_maybe_drop(b, g);
        return;
    }
    broker__gmeta_t m;
    if (broker__gmeta_decode(o->value, &m) < 0) {
        rp->skipped++;
        say_warn_every(10, "offsets log: group %s: unreadable group metadata, skipped", group);
        return;
    }
    broker_group_t *g = broker__group_get(b, group, true);
    broker__group_restore(b, g, &m);
    broker__gmeta_free(&m);
    free(g->meta_rec);
    g->meta_rec = hd_malloc(o->value.len ? o->value.len : 1);
    memcpy(g->meta_rec, o->value.p, o->value.len);
    g->meta_len = o->value.len;
    broker__group_maybe_drop(b, g);
}

static int replay_record(void *ctx, const broker_record_t *rec)
{
    replay_t *rp = ctx;
    broker__orec_t o;
    int rc = rp->legacy ? broker__orec_parse_legacy(rec, &o) : broker__orec_parse(rec, &o);
    if (rc < 0) {
        rp->skipped++;
        say_warn_every(10, "offsets log: skipping an unreadable record at offset %" PRId64,
                       rec->offset);
        return 0;
    }
    rp->applied++;
    if (o.type == BROKER__OREC_OTHER)
        return 0;
    if (o.type == BROKER__OREC_SNAPSHOT) {
        drop_all_offsets(rp->b);
        return 0;
    }
    char *group = hd_strndup((const char *)o.group.p, o.group.len);
    if (o.type == BROKER__OREC_GROUP) {
        apply_group(rp, group, &o);
    } else if (o.tombstone) {
        broker_group_t *g = broker__group_get(rp->b, group, false);
        char *topic = hd_strndup((const char *)o.topic.p, o.topic.len);
        if (g) {
            table_del(g, topic, o.partition);
            broker__group_maybe_drop(rp->b, g);
        }
        free(topic);
    } else {
        char *topic = hd_strndup((const char *)o.topic.p, o.topic.len);
        table_set(broker__group_get(rp->b, group, true), topic, o.partition, o.offset,
                  o.leader_epoch, o.commit_ms, (const char *)o.metadata.p, o.metadata.len);
        free(topic);
    }
    free(group);
    return 0;
}

/* Records of stored batches are bounded by the segment size; inflating is bounded too, in case
 * a batch on disk claims a codec (Herald writes none). */
#define REPLAY_MAX_INFLATED (64 << 20)

static int apply_batch(replay_t *rp, hd_slice_t batch, hd_buf_t *scratch)
{
    return broker_batch_for_each(batch, REPLAY_MAX_INFLATED, scratch, replay_record, rp);
}

int broker__offsets_apply(broker_t *b, hd_slice_t batch, bool legacy)
{
    hd_buf_t scratch;
    hd_buf_init(&scratch);
    replay_t rp = {b, legacy, 0, 0};
    bool was = b->oreplaying;
    b->oreplaying = true;
    int rc = apply_batch(&rp, batch, &scratch);
    b->oreplaying = was;
    hd_buf_deinit(&scratch);
    return rc;
}

static int replay_log(replay_t *rp, log_partition_t *log)
{
    int64_t off = log_partition_start_offset(log), end = log_partition_end_offset(log);
    hd_buf_t buf, scratch;
    hd_buf_init(&buf);
    hd_buf_init(&scratch);
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
                rc = apply_batch(rp, hd_slice(buf.p + pos, blen), &scratch);
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
    return rc;
}

/* ---- open, close, compaction ---- */

static void hex_id(const uint8_t id[16], char out[33])
{
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", id[i]);
}

/* Reads (or, for a new directory, writes) the partitions file: the count and the topic id. */
static int load_layout(broker_t *b, const char *dir, int32_t *nparts, uint8_t id[16])
{
    char *file = broker__path_join(dir, PARTS_FILE);
    char *text = NULL;
    int rc = broker__read_small(file, &text);
    if (rc == 0) {
        long n = strncmp(text, "partitions=", 11) ? -1 : strtol(text + 11, NULL, 10);
        const char *ids = strstr(text, "\nid=");
        bool ok = n >= 1 && n <= 100000 && ids && strlen(ids + 4) >= 32;
        for (int i = 0; ok && i < 16; i++) {
            unsigned v;
            ok = sscanf(ids + 4 + 2 * i, "%2x", &v) == 1;
            id[i] = (uint8_t)v;
        }
        free(text);
        free(file);
        if (!ok) {
            say_error("offsets log: %s/%s is malformed", dir, PARTS_FILE);
            return HD_ECORRUPT;
        }
        *nparts = (int32_t)n;
        if (*nparts != b->cfg->offsets_topic_num_partitions)
            say_warn("offsets log: __consumer_offsets keeps its %d partitions "
                     "(offsets.topic.num.partitions=%" PRId64 " applies to new data directories)",
                     *nparts, (int64_t)b->cfg->offsets_topic_num_partitions);
        return 0;
    }
    *nparts = (int32_t)b->cfg->offsets_topic_num_partitions;
    if (getrandom(id, 16, 0) != 16)
        for (int i = 0; i < 16; i++)
            id[i] = (uint8_t)(hd_mono_ns() >> (i % 8));
    id[0] |= 1; /* never all zero */
    char hex[33], line[80];
    hex_id(id, hex);
    snprintf(line, sizeof line, "partitions=%d\nid=%s\n", *nparts, hex);
    rc = broker__write_atomic(dir, file, line);
    free(file);
    return rc;
}

/* Opens DATA_DIR/__consumer_offsets/<p>/ for every partition as the internal topic. */
static int open_topic(broker_t *b, const char *dir, int32_t nparts, const uint8_t id[16])
{
    broker_topic_t *t = hd_calloc(1, sizeof *t);
    t->broker = b;
    t->name = hd_strdup("__consumer_offsets");
    t->internal = true;
    memcpy(t->id, id, 16);
    broker__topic_config_defaults(b->cfg, &t->cfg);
    /* What DescribeConfigs shows, as Kafka's own settings of the topic. */
    char seg[24];
    snprintf(seg, sizeof seg, "%" PRId64, (int64_t)b->cfg->offsets_segment_bytes);
    const char *names[] = {"cleanup.policy", "segment.bytes"}, *values[] = {"compact", seg};
    for (int i = 0; i < 2; i++) {
        const char *why;
        if (broker__topic_config_set(&t->cfg, names[i], values[i], &why) == 0) {
            t->override_names[t->noverrides] = hd_strdup(names[i]);
            t->override_values[t->noverrides++] = hd_strdup(values[i]);
        }
    }
    t->cfg.segment_bytes = b->cfg->offsets_segment_bytes; /* below the topic minimum in tests */
    t->cfg.preallocate = false;
    t->parts = hd_calloc((size_t)nparts, sizeof *t->parts);
    b->offsets_topic = t;
    b->oparts = hd_calloc((size_t)nparts, sizeof *b->oparts);
    b->noparts = nparts;
    for (int32_t i = 0; i < nparts; i++) {
        char sub[16];
        snprintf(sub, sizeof sub, "%d", i);
        broker_partition_t *p = hd_calloc(1, sizeof *p);
        p->topic = t;
        p->index = i;
        p->dir = broker__path_join(dir, sub);
        t->parts[i] = p;
        t->nparts = i + 1;
        b->oparts[i].part = p;
        /* A partition that was never written has no directory: it is made on first use
         * (broker__partition_log), so a new data directory starts without 50 empty logs. */
        struct stat st;
        if (stat(p->dir, &st) == 0 && !broker__partition_log(p)) {
            say_error("partition %s: cannot open", p->dir);
            return HD_ECORRUPT;
        }
    }
    return 0;
}

static bool has_legacy_segments(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        found = n > 4 && !strcmp(e->d_name + n - 4, ".log");
    }
    closedir(d);
    return found;
}

/* Removes the files (not the partition directories) of the old one-partition log. */
static void remove_legacy_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, PARTS_FILE) ||
            strspn(e->d_name, "0123456789") == strlen(e->d_name))
            continue;
        char *p = broker__path_join(dir, e->d_name);
        unlink(p);
        free(p);
    }
    closedir(d);
    hd_io_fsync_dir(dir);
}

static int compact_part(broker_t *b, int32_t pi, bool force);

/* Converts the old one-partition format: replays it, writes every partition's state as a
 * snapshot, syncs them, then removes the old files. A crash in between converts again. */
static int convert_legacy(broker_t *b, const char *dir, replay_t *rp)
{
    log_config_t lc;
    log_config_defaults(&lc);
    lc.preallocate = false;
    lc.journal = b->journal;
    log_partition_t *old;
    int rc = log_partition_open(dir, &lc, &old);
    if (rc < 0)
        return rc;
    rp->legacy = true;
    rc = replay_log(rp, old);
    rp->legacy = false;
    log_partition_forget(old);
    log_partition_close(old);
    if (rc < 0)
        return rc;
    b->oreplaying = false;
    for (int32_t i = 0; i < b->noparts; i++) {
        if ((rc = compact_part(b, i, true)) < 0)
            return rc;
        b->oparts[i].compact_pending = false;
        if (b->oparts[i].part->log && (rc = log_partition_sync(b->oparts[i].part->log)) < 0)
            return rc;
    }
    b->oreplaying = true;
    remove_legacy_files(dir);
    say_info("offsets log: converted the old one-partition log into %d partitions of Kafka's "
             "record format",
             b->noparts);
    return 0;
}

int broker__offsets_open(broker_t *b)
{
    hd_buf_init(&b->obatch);
    char *dir = broker__path_join(b->data_dir, "__consumer_offsets");
    int32_t nparts = 0;
    uint8_t id[16];
    int rc = broker__mkdir_p(dir);
    if (rc == 0)
        rc = load_layout(b, dir, &nparts, id);
    if (rc == 0)
        rc = open_topic(b, dir, nparts, id);
    replay_t rp = {b, false, 0, 0};
    b->oreplaying = true;
    for (int32_t i = 0; rc == 0 && i < b->noparts; i++)
        if (b->oparts[i].part->log)
            rc = replay_log(&rp, b->oparts[i].part->log);
    if (rc == 0 && has_legacy_segments(dir))
        rc = convert_legacy(b, dir, &rp);
    b->oreplaying = false;
    free(dir);
    if (rc < 0) {
        say_error("offsets log: replay failed: %s", hd_strerror(rc));
        return rc;
    }
    say_info("offsets log: replayed %" PRId64 " records (%" PRId64 " skipped), %d groups",
             rp.applied, rp.skipped, b->ngroups);
    /* Empty groups without offsets whose record replay kept: tombstoned and dropped now. */
    for (int i = b->ngroups; i-- > 0;)
        broker__group_maybe_drop(b, b->groups[i]);
    broker_offsets_compact(b, false);
    return 0;
}

void broker__offsets_close(broker_t *b)
{
    broker__internal_topic_free(b->offsets_topic);
    b->offsets_topic = NULL;
    free(b->oparts);
    b->oparts = NULL;
    b->noparts = 0;
    hd_buf_deinit(&b->obatch);
}

int64_t broker_offsets_log_bytes(const broker_t *b)
{
    int64_t n = 0;
    for (int32_t i = 0; i < b->noparts; i++)
        if (b->oparts[i].part->log)
            n += log_partition_size_bytes(b->oparts[i].part->log);
    return n;
}

static int compact_part(broker_t *b, int32_t pi, bool force)
{
    broker__opart_t *op = &b->oparts[pi];
    if (op->compact_pending)
        return 0;
    /* A partition never written has no log yet; a forced snapshot of its groups makes one. */
    int64_t size = op->part->log ? log_partition_size_bytes(op->part->log) : 0;
    if (!force && (size <= b->cfg->offsets_segment_bytes || size <= 2 * op->snapshot_bytes))
        return 0;
    hd_buf_t k, v;
    hd_buf_init(&k);
    hd_buf_init(&v);
    batch_t bt;
    batch_begin(&bt, &b->obatch, broker__wall(b));
    for (int i = 0; i < b->ngroups; i++) {
        broker_group_t *g = b->groups[i];
        if (broker__offsets_partition_for(g->id, b->noparts) != pi)
            continue;
        if (g->meta_rec) {
            broker__okey_group(&k, g->id);
            hd_slice_t mv = hd_slice(g->meta_rec, g->meta_len);
            batch_add(&bt, hd_buf_slice(&k), &mv);
        }
        broker__offset_t **all = sorted_offsets(g);
        for (int j = 0; j < g->noffsets; j++) {
            broker__offset_t *o = all[j];
            broker__okey_offset(&k, g->id, o->topic, o->partition);
            broker__oval_offset(&v, o->offset, o->leader_epoch, o->metadata, o->metadata_len,
                                o->commit_ms);
            batch_add_buf(&bt, &k, &v);
        }
        free(all);
    }
    hd_buf_deinit(&k);
    hd_buf_deinit(&v);
    if (!bt.n) {
        hd_buf_deinit(&bt.rec);
        if (!size)
            return 0;
        /* Nothing is live: the whole log may go once it is durable. */
        op->snapshot_bytes = 0;
        op->compact_pending = true;
        op->compact_base = op->compact_end = broker_partition_end(op->part);
        return 1;
    }
    size_t snap = b->obatch.len;
    op->snapshot_bytes = (int64_t)snap;
    int64_t base = broker_partition_end(op->part), end;
    int rc = append_batch(b, op, &bt, &end);
    if (rc < 0) {
        say_warn("offsets log: snapshot of %zu bytes not written: %s", snap, hd_strerror(rc));
        return rc;
    }
    say_info("offsets log: partition %d: %" PRId64 " bytes compacted into a %zu-byte snapshot at "
             "%" PRId64,
             pi, size, snap, base);
    op->compact_pending = true;
    op->compact_base = base;
    op->compact_end = end;
    return 1;
}

int broker_offsets_compact(broker_t *b, bool force)
{
    int done = 0;
    for (int32_t i = 0; i < b->noparts; i++) {
        int rc = compact_part(b, i, force);
        if (rc < 0)
            return rc;
        done |= rc;
    }
    return done;
}

void broker__offsets_tick(broker_t *b)
{
    if (!b->oparts)
        return;
    int64_t now = broker__wall(b);
    if (now >= b->next_expiry_ms) {
        b->next_expiry_ms = now + EXPIRY_CHECK_MS;
        expiry_t e = {now, b->cfg->offsets_retention_minutes * 60000};
        delete_offsets_where(b, expired, &e);
    }
    for (int32_t i = 0; i < b->noparts; i++) {
        broker__opart_t *op = &b->oparts[i];
        if (op->compact_pending && broker_partition_hwm(op->part) >= op->compact_end) {
            op->compact_pending = false;
            log_partition_delete_before(op->part->log, op->compact_base);
        }
    }
    broker_offsets_compact(b, false);
}
