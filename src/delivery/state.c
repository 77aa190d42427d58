/* A subscription's durable state: the state log, an internal log (broker_internal_open) at
 * DATA_DIR/__subscriptions/<name>/state/, replayed at start, group-committed by the flusher, and
 * compacted into snapshots.
 *
 * Every change is one record in a RecordBatch v2 as Kafka stores it (magic 2, uncompressed,
 * producer id -1, CRC-32C over attributes..end), so the log's recovery cuts a torn or corrupt
 * tail batch whole; a batch is the unit of atomicity. Each record has a null key and a value:
 *
 *   u8 type, then by type (integers big-endian, two's complement):
 *   1 CONFIG    the settings as JSON text (the rest of the value):
 *               {"name","topic","partitions"?:[i],"ack_timeout_ms","max_deliveries",
 *                "backoff":{"initial_ms","multiplier","max_ms","jitter"},"dead_letter_topic"?,
 *                "filter":{"type"?,"key"?},"ordering":"none"|"key","topic_id"?}
 *               topic_id: the topic's id (32 hex digits) the state refers to; absent in state
 *               written before ids were kept
 *   2 SNAPSHOT  (nothing): forget every floor, entry, counter and range before this record
 *   3 FLOOR     i32 partition, i64 floor: every offset below floor is settled; bits reset
 *   4 WINDOW    i32 partition, i64 base, i32 nbits (<= 16384), ceil(nbits/8) bytes: offset
 *               base+i is settled when bit i (byte i/8, bit i%8 from the least significant) is set
 *   5 LEASE     i32 partition, i64 offset, i32 delivery_count, i64 deadline_ms, u64 token,
 *               u64 key_hash: the record is leased until deadline under receipt token
 *   6 RETRY     i32 partition, i64 offset, i32 delivery_count, i64 due_ms, u64 token,
 *               u64 key_hash, i16 error_len (-1: none), error bytes (UTF-8, <= 512): the record
 *               waits until due (after a failed lease, or handed back by the delay store or a
 *               redrive with count 0)
 *   7 DONE      i32 partition, i64 offset, u8 reason (0 acknowledged, 1 dead-lettered, 2 moved
 *               to the delay store, 3 gone from the log): settled
 *   8 COUNTERS  i64 dead_lettered
 *   9 REMOVED   i32 dlq_partition, i64 lo, i64 hi: dead-letter offsets [lo, hi) no longer count
 *               (redriven or purged)
 * Unknown types and records that do not parse are skipped with a warning.
 *
 * Replay applies the records in order from the log start. Leases and retries rebuild entries
 * (receipts stay valid across restarts); DONE sets the window bit. Offsets that the cursor had
 * looked at without writing anything (filtered out, delayed in memory, blocked behind a key,
 * leased but whose LEASE was not durable) are simply looked at again: the cursor restarts at the
 * floor. So a crash loses no acknowledgement that was answered (answers wait for the DONE
 * record to be durable) and redelivers at most what was not acknowledged.
 *
 * Compaction: once more than DL_COMPACT_BYTES, and twice the last snapshot, were written since
 * that snapshot, the whole state is written as ONE batch that starts with SNAPSHOT; when it is
 * durable, the segments wholly before it are deleted. */
#include "delivery/delivery_int.h"
#include "util/crc32c.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/reader.h"
#include "util/say.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define DL_COMPACT_BYTES (4 << 20)
#define REPLAY_READ_BYTES (8 << 20)
#define REPLAY_MAX_INFLATED (64 << 20)
/* A batch is appended once it holds this much. */
#define BATCH_SOFT_MAX (1 << 20)

/* ---- batches ---- */

void dl__batch_begin(hd_buf_t *b, int64_t ts)
{
    hd_buf_reset(b);
    hd_buf_put_i64be(b, 0);  /* baseOffset (the log assigns it) */
    hd_buf_put_i32be(b, 0);  /* batchLength, patched */
    hd_buf_put_i32be(b, 0);  /* partitionLeaderEpoch */
    hd_buf_put_u8(b, 2);     /* magic */
    hd_buf_put_u32be(b, 0);  /* crc, patched */
    hd_buf_put_i16be(b, 0);  /* attributes */
    hd_buf_put_i32be(b, 0);  /* lastOffsetDelta, patched */
    hd_buf_put_i64be(b, ts); /* baseTimestamp */
    hd_buf_put_i64be(b, ts); /* maxTimestamp */
    hd_buf_put_i64be(b, -1); /* producerId */
    hd_buf_put_i16be(b, -1); /* producerEpoch */
    hd_buf_put_i32be(b, -1); /* baseSequence */
    hd_buf_put_i32be(b, 0);  /* recordsCount, patched */
}

void dl__batch_add(hd_buf_t *b, hd_buf_t *r, int n, const void *value, size_t len)
{
    hd_buf_reset(r);
    hd_buf_put_u8(r, 0);     /* attributes */
    hd_buf_put_varint(r, 0); /* timestampDelta */
    hd_buf_put_varint(r, n); /* offsetDelta */
    hd_buf_put_varint(r, -1);
    hd_buf_put_varint(r, (int64_t)len);
    hd_buf_put(r, value, len);
    hd_buf_put_varint(r, 0); /* headers */
    hd_buf_put_varint(b, (int64_t)r->len);
    hd_buf_put(b, r->p, r->len);
}

void dl__batch_seal(hd_buf_t *b, int n)
{
    hd_buf_patch_i32be(b, 8, (int32_t)(b->len - 12));
    hd_buf_patch_i32be(b, 23, n - 1);
    hd_buf_patch_i32be(b, 57, n);
    uint32_t crc = hd_crc32c(0, b->p + 21, b->len - 21);
    hd_buf_patch_i32be(b, 17, (int32_t)crc);
}

int dl__scan(broker_partition_t *p, int64_t from, int64_t to, broker_record_cb fn, void *ctx)
{
    int64_t start = broker_partition_start(p), end = broker_partition_hwm(p);
    if (from < start)
        from = start;
    if (to > end)
        to = end;
    hd_buf_t buf, scratch;
    hd_buf_init(&buf);
    hd_buf_init(&scratch);
    int64_t off = from;
    int rc = 0;
    while (off < to && rc == 0) {
        hd_buf_reset(&buf);
        ssize_t n = broker_partition_read_quiet(p, off, REPLAY_READ_BYTES, &buf);
        if (n <= 0) {
            rc = (int)n;
            break;
        }
        size_t pos = 0;
        int64_t next = off;
        while (pos + BROKER_BATCH_HEADER_LEN <= buf.len && rc == 0) {
            broker_batch_hdr_t h;
            broker_batch_hdr_decode(buf.p + pos, &h);
            size_t blen = (size_t)h.batch_length + 12;
            if (h.batch_length < 49 || pos + blen > buf.len || h.last_offset_delta < 0) {
                rc = HD_ECORRUPT;
                break;
            }
            if (h.base_offset >= to)
                break;
            if (!(h.attributes & BROKER_ATTR_CONTROL)) {
                int r = broker_batch_for_each(hd_slice(buf.p + pos, blen), REPLAY_MAX_INFLATED,
                                              &scratch, fn, ctx);
                hd_buf_reset(&scratch);
                if (r < 0)
                    say_warn_every(5, "partition scan: batch at %" PRId64 " unreadable: %s",
                                   h.base_offset, hd_strerror(r));
                else if (r > 0)
                    rc = r;
            }
            next = h.base_offset + h.last_offset_delta + 1;
            pos += blen;
        }
        if (next <= off)
            break;
        off = next;
    }
    hd_buf_deinit(&buf);
    hd_buf_deinit(&scratch);
    return rc;
}

typedef struct each_ctx {
    dl_value_cb fn;
    void *ctx;
    int64_t from, to;
} each_ctx_t;

static int each_record(void *ctx, const broker_record_t *rec)
{
    each_ctx_t *c = ctx;
    if (rec->offset < c->from)
        return 0;
    if (rec->offset >= c->to)
        return 1;
    if (rec->value_null)
        return 0;
    return c->fn(c->ctx, rec->offset, rec->value);
}

int dl__log_each(broker_partition_t *p, int64_t from, int64_t to, dl_value_cb fn, void *ctx)
{
    each_ctx_t c = {fn, ctx, from, to};
    int rc = dl__scan(p, from, to, each_record, &c);
    return rc < 0 ? rc : 0;
}

/* ---- writing records ---- */

static void add(delivery_sub_t *s, const hd_buf_t *v)
{
    if (s->wn == 0)
        dl__batch_begin(&s->wbatch, dl__now(s->d));
    dl__batch_add(&s->wbatch, &s->wrec, s->wn++, v->p, v->len);
    if (s->wbatch.len >= BATCH_SOFT_MAX)
        dl__st_flush(s);
}

int64_t dl__st_flush(delivery_sub_t *s)
{
    if (s->wn == 0 || !s->state)
        return s->state ? broker_partition_end(s->state) : 0;
    dl__batch_seal(&s->wbatch, s->wn);
    int n = s->wn;
    s->wn = 0;
    int64_t end;
    int rc = broker_internal_append(s->state, s->wbatch.p, s->wbatch.len, &end);
    if (rc < 0) {
        say_warn_every(5, "subscription %s: state log append of %d records failed: %s", s->set.name,
                       n, hd_strerror(rc));
        /* Nothing better to answer with than a position that never becomes durable here: the
         * caller's wait then ends with the subscription. Keep going in memory. */
        return INT64_MAX;
    }
    return end;
}

static void put_entry_head(hd_buf_t *v, int type, const dl_entry_t *e)
{
    hd_buf_put_u8(v, (uint8_t)type);
    hd_buf_put_i32be(v, e->partition);
    hd_buf_put_i64be(v, e->offset);
    hd_buf_put_i32be(v, e->count);
    hd_buf_put_i64be(v, e->when);
    hd_buf_put_i64be(v, (int64_t)e->token);
    hd_buf_put_i64be(v, (int64_t)e->key);
}

static void enc_lease(hd_buf_t *v, const dl_entry_t *e)
{
    hd_buf_reset(v);
    put_entry_head(v, ST_LEASE, e);
}

static void enc_retry(hd_buf_t *v, const dl_entry_t *e, int64_t due)
{
    hd_buf_reset(v);
    dl_entry_t c = *e;
    c.when = due;
    put_entry_head(v, ST_RETRY, &c);
    if (e->error) {
        size_t n = strlen(e->error);
        hd_buf_put_i16be(v, (int16_t)n);
        hd_buf_put(v, e->error, n);
    } else {
        hd_buf_put_i16be(v, -1);
    }
}

void dl__st_lease(delivery_sub_t *s, const dl_entry_t *e)
{
    hd_buf_t v;
    hd_buf_init(&v);
    enc_lease(&v, e);
    add(s, &v);
    hd_buf_deinit(&v);
}

void dl__st_retry(delivery_sub_t *s, const dl_entry_t *e)
{
    hd_buf_t v;
    hd_buf_init(&v);
    enc_retry(&v, e, e->when);
    add(s, &v);
    hd_buf_deinit(&v);
}

void dl__st_done(delivery_sub_t *s, int32_t p, int64_t off, int reason)
{
    hd_buf_t v;
    hd_buf_init(&v);
    hd_buf_put_u8(&v, ST_DONE);
    hd_buf_put_i32be(&v, p);
    hd_buf_put_i64be(&v, off);
    hd_buf_put_u8(&v, (uint8_t)reason);
    add(s, &v);
    hd_buf_deinit(&v);
}

void dl__st_floor(delivery_sub_t *s, int32_t p, int64_t floor)
{
    hd_buf_t v;
    hd_buf_init(&v);
    hd_buf_put_u8(&v, ST_FLOOR);
    hd_buf_put_i32be(&v, p);
    hd_buf_put_i64be(&v, floor);
    add(s, &v);
    hd_buf_deinit(&v);
}

static void enc_removed(hd_buf_t *v, const dl_range_t *r)
{
    hd_buf_reset(v);
    hd_buf_put_u8(v, ST_REMOVED);
    hd_buf_put_i32be(v, r->partition);
    hd_buf_put_i64be(v, r->lo);
    hd_buf_put_i64be(v, r->hi);
}

void dl__st_removed(delivery_sub_t *s, const dl_range_t *r)
{
    hd_buf_t v;
    hd_buf_init(&v);
    enc_removed(&v, r);
    add(s, &v);
    hd_buf_deinit(&v);
}

static void enc_counters(hd_buf_t *v, const delivery_sub_t *s)
{
    hd_buf_reset(v);
    hd_buf_put_u8(v, ST_COUNTERS);
    hd_buf_put_i64be(v, s->dead_lettered);
}

void dl__st_counters(delivery_sub_t *s)
{
    hd_buf_t v;
    hd_buf_init(&v);
    enc_counters(&v, s);
    add(s, &v);
    hd_buf_deinit(&v);
}

/* ---- settings as JSON ---- */

static json_t *settings_json(const delivery_sub_t *s)
{
    const delivery_settings_t *st = &s->set;
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
    if (st->dead_letter_topic)
        json_object_set_new(j, "dead_letter_topic", json_string(st->dead_letter_topic));
    json_t *f = json_object();
    if (st->filter_type)
        json_object_set_new(f, "type", json_string(st->filter_type));
    if (st->filter_key)
        json_object_set_new(f, "key", json_string(st->filter_key));
    json_object_set_new(j, "filter", f);
    json_object_set_new(j, "ordering",
                        json_string(st->ordering == DELIVERY_ORDER_KEY ? "key" : "none"));
    if (s->has_topic_id) {
        char hex[33];
        broker_topic_id_hex(s->topic_id, hex);
        json_object_set_new(j, "topic_id", json_string(hex));
    }
    return j;
}

void dl__st_config(delivery_sub_t *s)
{
    json_t *j = settings_json(s);
    char *txt = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    hd_buf_t v;
    hd_buf_init(&v);
    hd_buf_put_u8(&v, ST_CONFIG);
    hd_buf_put(&v, txt, strlen(txt));
    free(txt);
    add(s, &v);
    hd_buf_deinit(&v);
}

void dl__settings_free(delivery_sub_t *s)
{
    free(s->name_buf);
    free(s->topic_buf);
    free(s->dlq_buf);
    free(s->ftype_buf);
    free(s->fkey_buf);
    free(s->parts_buf);
    s->name_buf = s->topic_buf = s->dlq_buf = s->ftype_buf = s->fkey_buf = NULL;
    s->parts_buf = NULL;
}

static char *dup_or_null(const char *v) { return v && v[0] ? hd_strdup(v) : NULL; }

void dl__settings_copy(delivery_sub_t *s, const delivery_settings_t *in)
{
    char *name = hd_strdup(in->name), *topic = hd_strdup(in->topic);
    char *dlq = dup_or_null(in->dead_letter_topic), *ft = dup_or_null(in->filter_type);
    char *fk = in->filter_key ? hd_strdup(in->filter_key) : NULL;
    int32_t *parts = NULL;
    if (in->partitions) {
        parts = hd_malloc(sizeof *parts * (size_t)(in->npartitions ? in->npartitions : 1));
        memcpy(parts, in->partitions, sizeof *parts * (size_t)in->npartitions);
    }
    dl__settings_free(s);
    s->set = *in;
    s->set.name = s->name_buf = name;
    s->set.topic = s->topic_buf = topic;
    s->set.dead_letter_topic = s->dlq_buf = dlq;
    s->set.filter_type = s->ftype_buf = ft;
    s->set.filter_key = s->fkey_buf = fk;
    s->set.partitions = s->parts_buf = parts;
}

static bool get_int(json_t *o, const char *k, int64_t *out)
{
    json_t *v = json_object_get(o, k);
    if (!v)
        return true;
    if (!json_is_integer(v))
        return false;
    *out = json_integer_value(v);
    return true;
}

static bool get_real(json_t *o, const char *k, double *out)
{
    json_t *v = json_object_get(o, k);
    if (!v)
        return true;
    if (!json_is_number(v))
        return false;
    *out = json_number_value(v);
    return true;
}

int dl__settings_decode(delivery_sub_t *s, hd_slice_t txt, const char **why)
{
    json_error_t err;
    json_t *j = json_loadb((const char *)txt.p, txt.len, JSON_REJECT_DUPLICATES, &err);
    *why = "settings are not a JSON object";
    if (!json_is_object(j)) {
        json_decref(j);
        return HD_EINVAL;
    }
    delivery_settings_t st;
    delivery_settings_defaults(&st);
    int32_t parts[DELIVERY_MAX_PARTITIONS];
    int rc = HD_EINVAL;
    st.name = json_string_value(json_object_get(j, "name"));
    st.topic = json_string_value(json_object_get(j, "topic"));
    json_t *pa = json_object_get(j, "partitions");
    if (pa) {
        if (!json_is_array(pa) || json_array_size(pa) > DELIVERY_MAX_PARTITIONS)
            goto out;
        for (size_t i = 0; i < json_array_size(pa); i++) {
            json_t *x = json_array_get(pa, i);
            if (!json_is_integer(x) || json_integer_value(x) < 0 ||
                json_integer_value(x) >= DELIVERY_MAX_PARTITIONS)
                goto out;
            parts[i] = (int32_t)json_integer_value(x);
        }
        st.partitions = parts;
        st.npartitions = (int)json_array_size(pa);
    }
    int64_t maxd = st.max_deliveries;
    json_t *b = json_object_get(j, "backoff");
    json_t *f = json_object_get(j, "filter");
    if (!get_int(j, "ack_timeout_ms", &st.ack_timeout_ms) || !get_int(j, "max_deliveries", &maxd) ||
        (b && (!json_is_object(b) || !get_int(b, "initial_ms", &st.backoff.initial_ms) ||
               !get_real(b, "multiplier", &st.backoff.multiplier) ||
               !get_int(b, "max_ms", &st.backoff.max_ms) ||
               !get_real(b, "jitter", &st.backoff.jitter))) ||
        (f && !json_is_object(f)) || maxd < 0 || maxd > INT32_MAX)
        goto out;
    st.max_deliveries = (int32_t)maxd;
    st.dead_letter_topic = json_string_value(json_object_get(j, "dead_letter_topic"));
    if (f) {
        st.filter_type = json_string_value(json_object_get(f, "type"));
        st.filter_key = json_string_value(json_object_get(f, "key"));
    }
    const char *ord = json_string_value(json_object_get(j, "ordering"));
    st.ordering = ord && !strcmp(ord, "key") ? DELIVERY_ORDER_KEY : DELIVERY_ORDER_NONE;
    if ((rc = delivery_settings_check(&st, why)) < 0)
        goto out;
    /* A subscription's name and topic never change: a later settings record that says
     * otherwise is damage, not a rename. */
    if (s->set.name && (strcmp(s->set.name, st.name) || strcmp(s->set.topic, st.topic))) {
        *why = "name or topic differs from the subscription's own";
        rc = HD_ECORRUPT;
        goto out;
    }
    json_t *tid = json_object_get(j, "topic_id");
    uint8_t id[16];
    if (tid && !(json_is_string(tid) && broker_topic_id_parse(json_string_value(tid), id))) {
        *why = "topic_id is not 32 hexadecimal digits";
        rc = HD_EINVAL;
        goto out;
    }
    dl__settings_copy(s, &st);
    if (tid) {
        memcpy(s->topic_id, id, sizeof id);
        s->has_topic_id = true;
    }
    rc = 0;
out:
    json_decref(j);
    return rc;
}

/* ---- replay ---- */

typedef struct replay {
    delivery_sub_t *s;
    int64_t applied, skipped, superseded;
    bool configured;
} replay_t;

static void forget_all(delivery_sub_t *s)
{
    dl__entries_free_all(s);
    for (int32_t i = 0; i < s->nparts; i++)
        if (s->parts[i]) {
            dl_window_init(&s->parts[i]->win, 0);
            s->parts[i]->next = 0;
            s->parts[i]->known = false;
        }
    s->dead_lettered = 0;
    s->nremoved = 0;
}

const dl_range_t *dl__removed_add(delivery_sub_t *s, const dl_range_t *r)
{
    /* Merge with a range it touches, else append. */
    for (int i = 0; i < s->nremoved; i++) {
        dl_range_t *x = &s->removed[i];
        if (x->partition == r->partition && r->lo <= x->hi && r->hi >= x->lo) {
            if (r->lo < x->lo)
                x->lo = r->lo;
            if (r->hi > x->hi)
                x->hi = r->hi;
            return x;
        }
    }
    if (s->nremoved == s->capremoved) {
        s->capremoved = s->capremoved ? s->capremoved * 2 : 8;
        s->removed = hd_realloc(s->removed, sizeof *s->removed * (size_t)s->capremoved);
    }
    s->removed[s->nremoved] = *r;
    return &s->removed[s->nremoved++];
}

/* An entry rebuilt from a LEASE or RETRY record. */
static void apply_entry(delivery_sub_t *s, int type, int32_t p, int64_t off, int32_t count,
                        int64_t when, uint64_t token, uint64_t key, hd_slice_t err, bool has_err)
{
    if (!dl__part(s, p))
        return;
    dl_entry_t *e = dl__entry_find(s, p, off);
    if (!e)
        e = dl__entry_new(s, p, off);
    if (e->state == E_READY || e->state == E_BLOCKED) {
        /* Not possible in a replay (nothing is made ready), but keep the lists sound. */
        dl__entry_free(s, e);
        e = dl__entry_new(s, p, off);
    }
    if (e->state == E_LEASED && type != ST_LEASE)
        s->leased--;
    if (e->state != E_LEASED && type == ST_LEASE)
        s->leased++;
    e->state = type == ST_LEASE ? E_LEASED : E_RETRY;
    e->count = count;
    e->token = token;
    if (e->key != key && e->busy)
        dl__key_release(s, e);
    e->key = s->set.ordering == DELIVERY_ORDER_KEY ? key : 0;
    dl__key_hold(s, e);
    if (has_err) {
        free(e->error);
        e->error = hd_strndup((const char *)err.p, err.len);
    }
    dl__heap_set(s, e, when);
}

static int apply_value(void *ctx, int64_t offset, hd_slice_t value)
{
    replay_t *rp = ctx;
    delivery_sub_t *s = rp->s;
    hd_reader_t r = hd_reader_init(value);
    int type = (uint8_t)hd_read_i8(&r);
    if (r.err)
        goto bad;
    if (type == ST_CONFIG) {
        const char *why;
        if (dl__settings_decode(s, hd_slice(value.p + 1, value.len - 1), &why) < 0) {
            say_warn("subscription state: settings at %" PRId64 " unreadable: %s", offset, why);
            goto bad;
        }
        rp->configured = true;
        goto ok;
    }
    if (!rp->configured) {
        /* Before the first settings of the log: the tail of a segment that a later snapshot
         * superseded (segments go whole). Nothing there still counts. */
        rp->superseded++;
        return 0;
    }
    switch (type) {
    case ST_SNAPSHOT:
        forget_all(s);
        goto ok;
    case ST_FLOOR: {
        int32_t p = hd_read_i32(&r);
        int64_t floor = hd_read_i64(&r);
        if (r.err || floor < 0)
            goto bad;
        dl_part_t *dp = dl__part(s, p);
        if (dp) {
            dl_window_init(&dp->win, floor);
            dp->next = floor;
            dp->known = true;
        }
        goto ok;
    }
    case ST_WINDOW: {
        int32_t p = hd_read_i32(&r);
        int64_t base = hd_read_i64(&r);
        int32_t nbits = hd_read_i32(&r);
        if (r.err || nbits < 0 || nbits > DELIVERY_WINDOW || base < 0)
            goto bad;
        hd_slice_t bits = hd_read_bytes(&r, ((size_t)nbits + 7) / 8);
        if (r.err)
            goto bad;
        dl_part_t *dp = dl__part(s, p);
        if (dp)
            for (int32_t i = 0; i < nbits; i++)
                if (bits.p[i / 8] >> (i % 8) & 1)
                    dl_window_set(&dp->win, base + i);
        goto ok;
    }
    case ST_LEASE:
    case ST_RETRY: {
        int32_t p = hd_read_i32(&r);
        int64_t off = hd_read_i64(&r);
        int32_t count = hd_read_i32(&r);
        int64_t when = hd_read_i64(&r);
        uint64_t token = (uint64_t)hd_read_i64(&r);
        uint64_t key = (uint64_t)hd_read_i64(&r);
        hd_slice_t err = {0};
        bool has_err = false;
        if (type == ST_RETRY) {
            int16_t n = hd_read_i16(&r);
            if (n > DELIVERY_ERROR_MAX)
                goto bad;
            if (n >= 0) {
                err = hd_read_bytes(&r, (size_t)n);
                has_err = true;
            }
        }
        if (r.err || off < 0 || count < 0)
            goto bad;
        apply_entry(s, type, p, off, count, when, token, key, err, has_err);
        goto ok;
    }
    case ST_DONE: {
        int32_t p = hd_read_i32(&r);
        int64_t off = hd_read_i64(&r);
        int reason = (uint8_t)hd_read_i8(&r);
        if (r.err || off < 0)
            goto bad;
        dl_part_t *dp = dl__part(s, p);
        if (!dp)
            goto ok;
        dl_entry_t *e = dl__entry_find(s, p, off);
        if (e)
            dl__entry_free(s, e);
        dl_window_set(&dp->win, off);
        if (dp->next < dp->win.floor)
            dp->next = dp->win.floor;
        if (reason == DONE_DEAD)
            s->dead_lettered++;
        goto ok;
    }
    case ST_COUNTERS: {
        int64_t dead = hd_read_i64(&r);
        if (r.err)
            goto bad;
        s->dead_lettered = dead < 0 ? 0 : dead;
        goto ok;
    }
    case ST_REMOVED: {
        dl_range_t rr;
        rr.partition = hd_read_i32(&r);
        rr.lo = hd_read_i64(&r);
        rr.hi = hd_read_i64(&r);
        if (r.err || rr.partition < 0 || rr.lo < 0 || rr.hi < rr.lo || s->nremoved >= 65536)
            goto bad;
        dl__removed_add(s, &rr);
        goto ok;
    }
    default:
        goto bad;
    }
ok:
    rp->applied++;
    return 0;
bad:
    rp->skipped++;
    say_warn_every(10, "subscription state: skipping an unreadable record at %" PRId64, offset);
    return 0;
}

static int replay_batch_record(void *ctx, const broker_record_t *rec)
{
    if (rec->value_null)
        return 0;
    return apply_value(ctx, rec->offset, rec->value);
}

int dl__st_apply(delivery_sub_t *s, hd_slice_t batch)
{
    hd_buf_t scratch;
    hd_buf_init(&scratch);
    replay_t rp = {s, 0, 0, 0, s->set.name != NULL};
    int rc = broker_batch_for_each(batch, REPLAY_MAX_INFLATED, &scratch, replay_batch_record, &rp);
    hd_buf_deinit(&scratch);
    return rc;
}

int dl__st_replay(delivery_sub_t *s)
{
    replay_t rp = {s, 0, 0, 0, false};
    int rc = dl__log_each(s->state, 0, INT64_MAX, apply_value, &rp);
    if (rc < 0)
        return rc;
    if (!rp.configured)
        return HD_ENOTFOUND;
    for (int32_t i = 0; i < s->nparts; i++)
        if (s->parts[i] && s->parts[i]->next < s->parts[i]->win.floor)
            s->parts[i]->next = s->parts[i]->win.floor;
    say_info("subscription %s: replayed %" PRId64 " state records (%" PRId64 " skipped, %" PRId64
             " superseded), %u entries",
             s->set.name, rp.applied, rp.skipped, rp.superseded, s->nentries);
    return 0;
}

/* ---- compaction ---- */

static void snap_add(delivery_sub_t *s, int *n, const hd_buf_t *v)
{
    dl__batch_add(&s->wbatch, &s->wrec, (*n)++, v->p, v->len);
}

void dl__st_maybe_compact(delivery_sub_t *s, bool force)
{
    if (!s->state)
        return;
    if (s->compact_pending) {
        if (broker_partition_hwm(s->state) < s->compact_end)
            return;
        s->compact_pending = false;
        broker_internal_delete_before(s->state, s->compact_base);
    }
    /* Compact once the records written since the last snapshot outweigh it (and a floor):
     * the log itself shrinks only as its segments roll and fall below a snapshot. */
    int64_t size = broker_partition_size_bytes(s->state), grown = size - s->size_after_snapshot;
    if (!force && (grown <= DL_COMPACT_BYTES || grown <= 2 * s->snapshot_bytes))
        return;
    dl__st_flush(s);
    int n = 0;
    hd_buf_t v;
    hd_buf_init(&v);
    dl__batch_begin(&s->wbatch, dl__now(s->d));
    hd_buf_put_u8(&v, ST_SNAPSHOT);
    snap_add(s, &n, &v);
    json_t *j = settings_json(s);
    char *txt = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    hd_buf_reset(&v);
    hd_buf_put_u8(&v, ST_CONFIG);
    hd_buf_put(&v, txt, strlen(txt));
    free(txt);
    snap_add(s, &n, &v);
    enc_counters(&v, s);
    snap_add(s, &n, &v);
    for (int i = 0; i < s->nremoved; i++) {
        enc_removed(&v, &s->removed[i]);
        snap_add(s, &n, &v);
    }
    for (int32_t p = 0; p < s->nparts; p++) {
        dl_part_t *dp = s->parts[p];
        if (!dp || !dp->known)
            continue;
        hd_buf_reset(&v);
        hd_buf_put_u8(&v, ST_FLOOR);
        hd_buf_put_i32be(&v, p);
        hd_buf_put_i64be(&v, dp->win.floor);
        snap_add(s, &n, &v);
        int32_t nbits = (int32_t)(dp->next - dp->win.floor);
        if (nbits > DELIVERY_WINDOW)
            nbits = DELIVERY_WINDOW;
        if (nbits > 0 && dl_window_count(&dp->win) > 0) {
            hd_buf_reset(&v);
            hd_buf_put_u8(&v, ST_WINDOW);
            hd_buf_put_i32be(&v, p);
            hd_buf_put_i64be(&v, dp->win.floor);
            hd_buf_put_i32be(&v, nbits);
            size_t at = v.len, nb = ((size_t)nbits + 7) / 8;
            uint8_t *bits = hd_buf_ensure(&v, nb);
            memset(bits, 0, nb);
            v.len += nb;
            for (int32_t i = 0; i < nbits; i++)
                if (dl_window_test(&dp->win, dp->win.floor + i))
                    v.p[at + (size_t)i / 8] |= (uint8_t)(1u << (i % 8));
            snap_add(s, &n, &v);
        }
    }
    for (uint32_t b = 0; b < s->nbuckets; b++)
        for (dl_entry_t *e = s->buckets[b]; e; e = e->hnext) {
            if (e->state == E_LEASED)
                enc_lease(&v, e);
            else if (e->state == E_RETRY || e->state == E_READY || e->state == E_DEAD)
                enc_retry(&v, e, e->state == E_RETRY ? e->when : dl__now(s->d));
            else
                continue;
            snap_add(s, &n, &v);
        }
    hd_buf_deinit(&v);
    dl__batch_seal(&s->wbatch, n);
    size_t snap = s->wbatch.len;
    int64_t base = broker_partition_end(s->state), end;
    int rc = broker_internal_append(s->state, s->wbatch.p, s->wbatch.len, &end);
    s->snapshot_bytes = (int64_t)snap;
    if (rc < 0) {
        say_warn("subscription %s: snapshot of %zu bytes not written: %s", s->set.name, snap,
                 hd_strerror(rc));
        return;
    }
    say_info("subscription %s: %" PRId64 " bytes of state compacted into a %zu-byte snapshot",
             s->set.name, size, snap);
    s->compact_pending = true;
    s->compact_base = base;
    s->compact_end = end;
    s->size_after_snapshot = broker_partition_size_bytes(s->state);
}
