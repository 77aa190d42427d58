/* Handing records out and taking them back: receive (leases, redeliveries first, then the
 * cursor over the log with filters, delays and key ordering), ack / nack / extend by receipt,
 * lease expiry and retries with backoff, dead letters, redrive and purge.
 *
 * A receipt is "<partition>-<offset>-<token>", the token 16 hex digits drawn at random for each
 * lease: a receipt names one lease of one record, so a receipt whose lease has ended and whose
 * record went to another consumer is recognised as stale. */
#include "delivery/delivery_int.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/say.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Delays due sooner than this stay in memory; later ones go to the delay store. */
#define DL_PARK_MIN_MS 2000
#define READ_BYTES (1u << 20)
#define PULL_MIN_BYTES (64u << 10)
#define PULL_BYTES_PER_RECORD 2048u
#define MAX_INFLATED (64u << 20)
/* How long a dead letter waits before trying again when its topic cannot take it. */
#define DEAD_RETRY_MS 1000
#define MAX_HEADERS 4096

struct dl_dead {
    broker_waiter_t w;
    delivery_sub_t *s;
    dl_entry_t *e;
    dl_dead_t *next, *prev;
};

/* ---- receipts ---- */

static void receipt_fmt(char *out, int32_t p, int64_t off, uint64_t token)
{
    snprintf(out, DELIVERY_RECEIPT_MAX, "%" PRId32 "-%" PRId64 "-%016" PRIx64, p, off, token);
}

static bool receipt_parse(const char *r, int32_t *p, int64_t *off, uint64_t *token)
{
    if (!r || strlen(r) >= DELIVERY_RECEIPT_MAX)
        return false;
    char *end;
    errno = 0;
    long long pp = strtoll(r, &end, 10);
    if (end == r || *end != '-' || pp < 0 || pp >= DELIVERY_MAX_PARTITIONS || errno)
        return false;
    const char *q = end + 1;
    long long oo = strtoll(q, &end, 10);
    if (end == q || *end != '-' || oo < 0 || errno)
        return false;
    q = end + 1;
    if (strlen(q) != 16)
        return false;
    unsigned long long t = strtoull(q, &end, 16);
    if (*end || errno)
        return false;
    *p = (int32_t)pp;
    *off = oo;
    *token = t;
    return true;
}

const char *delivery_result_name(int result)
{
    switch (result) {
    case DELIVERY_OK:
        return "ok";
    case DELIVERY_STALE:
        return "stale";
    default:
        return "invalid";
    }
}

/* ---- waking consumers ---- */

void dl__wake(delivery_sub_t *s)
{
    delivery_waiter_t *list = s->waiters;
    s->waiters = NULL;
    while (list) {
        delivery_waiter_t *w = list;
        list = w->_next;
        if (list)
            list->_prev = NULL;
        w->_next = w->_prev = NULL;
        w->_sub = NULL;
        w->cb(w, 0);
    }
}

static void on_part_wake(broker_waiter_t *w, int err)
{
    dl_part_t *dp = w->ctx;
    (void)err;
    dl__wake(dp->sub);
}

void delivery_waiter_add(delivery_sub_t *s, delivery_waiter_t *w)
{
    w->_sub = s;
    w->_prev = NULL;
    w->_next = s->waiters;
    if (s->waiters)
        s->waiters->_prev = w;
    s->waiters = w;
    /* New records wake the waiters: watch each partition whose cursor has reached its end. */
    broker_topic_t *t = broker_topic_find(s->d->b, s->set.topic);
    int32_t np = t ? broker_topic_partitions(t) : 0;
    for (int32_t p = 0; p < np; p++) {
        dl_part_t *dp = dl__part(s, p);
        if (!dp || dp->w._part)
            continue;
        broker_partition_t *bp = broker_topic_partition(t, p);
        int64_t hwm = broker_partition_hwm(bp);
        if (dp->next < hwm)
            continue;
        dp->w.target = hwm + 1;
        dp->w.cb = on_part_wake;
        dp->w.ctx = dp;
        broker_waiter_add(bp, &dp->w);
    }
}

void delivery_waiter_cancel(delivery_waiter_t *w)
{
    delivery_sub_t *s = w->_sub;
    if (!s)
        return;
    if (w->_prev)
        w->_prev->_next = w->_next;
    else
        s->waiters = w->_next;
    if (w->_next)
        w->_next->_prev = w->_prev;
    w->_next = w->_prev = NULL;
    w->_sub = NULL;
}

void dl__parts_disarm(delivery_sub_t *s)
{
    for (int32_t p = 0; p < s->nparts; p++)
        if (s->parts[p])
            broker_waiter_cancel(&s->parts[p]->w);
}

/* ---- settling ---- */

void dl__settle(delivery_sub_t *s, dl_entry_t *e)
{
    dl_part_t *dp = dl__part(s, e->partition);
    if (dp)
        dl_window_set(&dp->win, e->offset);
    dl__entry_free(s, e);
}

/* Reads the record at (p, off) into the subscription's read buffers. Returns 0 with *out, or
 * HD_ERANGE (below the log start: gone) or HD_ENOTFOUND (no such record). */
typedef struct find {
    int64_t off;
    broker_record_t *out;
    bool found;
} find_t;

static int find_cb(void *ctx, const broker_record_t *rec)
{
    find_t *f = ctx;
    if (rec->offset != f->off)
        return 0;
    *f->out = *rec;
    f->found = true;
    return 1;
}

static int read_at(delivery_sub_t *s, broker_partition_t *bp, int32_t p, int64_t off,
                   broker_record_t *out)
{
    if (off < broker_partition_start(bp))
        return HD_ERANGE;
    if (off >= broker_partition_hwm(bp))
        return HD_ENOTFOUND;
    if (!(s->rpart == p && off >= s->rbase && off < s->rend)) {
        hd_buf_reset(&s->rbuf);
        ssize_t n = broker_partition_read_quiet(bp, off, READ_BYTES, &s->rbuf);
        s->rpart = -1;
        if (n <= 0)
            return n == 0 ? HD_ENOTFOUND : (int)n;
        broker_batch_hdr_t h;
        broker_batch_hdr_decode(s->rbuf.p, &h);
        s->rbase = h.base_offset;
        s->rend = h.base_offset;
        size_t pos = 0;
        while (pos + BROKER_BATCH_HEADER_LEN <= s->rbuf.len) {
            broker_batch_hdr_decode(s->rbuf.p + pos, &h);
            if (h.batch_length < 49 || pos + (size_t)h.batch_length + 12 > s->rbuf.len)
                break;
            s->rend = h.base_offset + h.last_offset_delta + 1;
            pos += (size_t)h.batch_length + 12;
        }
        s->rpart = p;
    }
    size_t pos = 0;
    while (pos + BROKER_BATCH_HEADER_LEN <= s->rbuf.len) {
        broker_batch_hdr_t h;
        broker_batch_hdr_decode(s->rbuf.p + pos, &h);
        size_t blen = (size_t)h.batch_length + 12;
        if (h.batch_length < 49 || pos + blen > s->rbuf.len)
            break;
        if (off >= h.base_offset && off <= h.base_offset + h.last_offset_delta) {
            if (h.attributes & BROKER_ATTR_CONTROL)
                return HD_ENOTFOUND;
            find_t f = {off, out, false};
            hd_buf_reset(&s->rscratch);
            broker_batch_for_each(hd_slice(s->rbuf.p + pos, blen), MAX_INFLATED, &s->rscratch,
                                  find_cb, &f);
            return f.found ? 0 : HD_ENOTFOUND;
        }
        pos += blen;
    }
    return HD_ENOTFOUND;
}

static broker_partition_t *source_part(delivery_sub_t *s, int32_t p)
{
    broker_topic_t *t = broker_topic_find(s->d->b, s->set.topic);
    return t ? broker_topic_partition(t, p) : NULL;
}

/* ---- dead letters ---- */

static void on_dead_durable(broker_waiter_t *w, int err);

static void dead_unlink(delivery_sub_t *s, dl_dead_t *dd)
{
    if (dd->prev)
        dd->prev->next = dd->next;
    else
        s->dead_head = dd->next;
    if (dd->next)
        dd->next->prev = dd->prev;
}

void dl__dead_cancel_all(delivery_sub_t *s)
{
    while (s->dead_head) {
        dl_dead_t *dd = s->dead_head;
        broker_waiter_cancel(&dd->w);
        dead_unlink(s, dd);
        free(dd);
    }
}

static void retry_later(delivery_sub_t *s, dl_entry_t *e, int64_t ms)
{
    e->state = E_RETRY;
    dl__heap_set(s, e, dl__now(s->d) + ms);
}

static void put_hdr(broker_header_t *h, const char *name, const char *value)
{
    h->name = hd_slice(name, strlen(name));
    h->value = hd_slice(value, strlen(value));
    h->value_null = false;
}

/* Appends e's record to the dead-letter topic (created if missing) and settles it once that is
 * durable. */
static void dead_letter(delivery_sub_t *s, dl_entry_t *e)
{
    delivery_t *d = s->d;
    dl__heap_remove(s, e);
    e->state = E_DEAD;
    broker_partition_t *bp = source_part(s, e->partition);
    broker_record_t rec;
    int rc = bp ? read_at(s, bp, e->partition, e->offset, &rec) : HD_ERANGE;
    if (rc == HD_ERANGE || rc == HD_ENOTFOUND) {
        dl__st_done(s, e->partition, e->offset, DONE_GONE);
        dl__settle(s, e);
        return;
    }
    if (rc < 0) {
        retry_later(s, e, DEAD_RETRY_MS);
        return;
    }
    const char *why = NULL;
    broker_topic_t *t = broker_topic_find(d->b, s->set.dead_letter_topic);
    if (!t &&
        broker_topic_create(d->b, s->set.dead_letter_topic, 1, NULL, 0, false, &t, &why) < 0) {
        say_warn_every(5, "subscription %s: dead-letter topic %s cannot be created: %s",
                       s->set.name, s->set.dead_letter_topic, why ? why : "error");
        retry_later(s, e, DEAD_RETRY_MS);
        return;
    }
    int32_t n = rec.headers_count < 0 ? 0 : rec.headers_count;
    if (n > MAX_HEADERS)
        n = MAX_HEADERS;
    broker_header_t *hs = hd_calloc((size_t)n + 6, sizeof *hs);
    hd_slice_t area = rec.headers;
    int32_t nh = 0;
    while (nh < n && broker_header_next(&area, &hs[nh]) == 0)
        nh++;
    char part[16], off[24], count[16];
    snprintf(part, sizeof part, "%" PRId32, e->partition);
    snprintf(off, sizeof off, "%" PRId64, e->offset);
    snprintf(count, sizeof count, "%" PRId32, e->count);
    put_hdr(&hs[nh++], DELIVERY_HDR_SUBSCRIPTION, s->set.name);
    put_hdr(&hs[nh++], DELIVERY_HDR_TOPIC, s->set.topic);
    put_hdr(&hs[nh++], DELIVERY_HDR_PARTITION, part);
    put_hdr(&hs[nh++], DELIVERY_HDR_OFFSET, off);
    put_hdr(&hs[nh++], DELIVERY_HDR_COUNT, count);
    put_hdr(&hs[nh++], DELIVERY_HDR_ERROR, e->error ? e->error : "");
    broker_record_in_t in = {rec.key, rec.key_null, rec.value,    rec.value_null,
                             hs,      nh,           rec.timestamp};
    const broker_topic_config_t *tc = broker_topic_config(t);
    hd_buf_t batch;
    hd_buf_init(&batch);
    ssize_t blen = broker_batch_build(&in, 1, (size_t)tc->max_message_bytes, &batch);
    free(hs);
    broker_partition_t *dp = broker_topic_partition(t, e->partition % broker_topic_partitions(t));
    broker_append_t res;
    /* The event catalog names the dead letters' producer after the subscription. */
    char who[DELIVERY_NAME_MAX + 32];
    snprintf(who, sizeof who, "herald (subscription %s)", s->set.name);
    rc = blen < 0 ? (int)blen
                  : broker_partition_append_as(dp, batch.p, batch.len, 7, who, &res, &why);
    hd_buf_deinit(&batch);
    if (rc < 0) {
        say_warn_every(5, "subscription %s: dead letter %d/%" PRId64 " not appended to %s: %s",
                       s->set.name, e->partition, e->offset, s->set.dead_letter_topic,
                       hd_strerror(rc));
        if (rc == HD_ETOOBIG) { /* it never will fit: count it as dead-lettered anyway */
            dl__st_done(s, e->partition, e->offset, DONE_DEAD);
            s->dead_lettered++;
            dl__settle(s, e);
            return;
        }
        retry_later(s, e, DEAD_RETRY_MS);
        return;
    }
    dl_dead_t *dd = hd_calloc(1, sizeof *dd);
    dd->s = s;
    dd->e = e;
    dd->next = s->dead_head;
    if (s->dead_head)
        s->dead_head->prev = dd;
    s->dead_head = dd;
    dd->w.target = res.end_offset;
    dd->w.cb = on_dead_durable;
    dd->w.ctx = dd;
    broker_waiter_add(dp, &dd->w);
}

static void on_dead_durable(broker_waiter_t *w, int err)
{
    dl_dead_t *dd = w->ctx;
    delivery_sub_t *s = dd->s;
    dl_entry_t *e = dd->e;
    dead_unlink(s, dd);
    free(dd);
    if (err == HD_ECLOSED)
        return; /* closing: the entry goes with the subscription; a restart retries */
    if (err) {
        retry_later(s, e, DEAD_RETRY_MS);
        return;
    }
    dl__st_done(s, e->partition, e->offset, DONE_DEAD);
    s->dead_lettered++;
    dl__settle(s, e);
    dl__st_flush(s);
    dl__wake(s);
}

/* ---- failures and timers ---- */

static void set_error(dl_entry_t *e, const char *error)
{
    if (!error)
        return;
    free(e->error);
    size_t n = strlen(error);
    if (n > DELIVERY_ERROR_MAX) {
        n = DELIVERY_ERROR_MAX;
        while (n > 0 && ((uint8_t)error[n] & 0xC0) == 0x80)
            n--; /* do not cut a UTF-8 sequence */
    }
    e->error = hd_strndup(error, n);
}

void dl__fail(delivery_sub_t *s, dl_entry_t *e, int64_t delay_ms, const char *error)
{
    int64_t now = dl__now(s->d);
    int64_t base = e->state == E_LEASED && e->when < now ? e->when : now;
    if (e->state == E_LEASED)
        s->leased--;
    set_error(e, error);
    e->state = E_RETRY;
    int64_t due;
    if (s->set.max_deliveries > 0 && e->count >= s->set.max_deliveries)
        due = now; /* out of deliveries: dead-lettered when due */
    else if (delay_ms >= 0)
        due = now + delay_ms;
    else
        due = base + delivery_backoff_ms(&s->set.backoff, e->count, dl__rand01(s->d));
    e->when = due;
    dl__st_retry(s, e);
    dl__heap_set(s, e, due);
}

void dl__timers(delivery_sub_t *s, int64_t now)
{
    bool woke = false;
    dl_entry_t *e;
    while ((e = dl__heap_top(s)) && e->when <= now) {
        switch (e->state) {
        case E_LEASED:
            dl__fail(s, e, -1, "lease expired");
            break;
        case E_RETRY:
            if (e->reject || (s->set.max_deliveries > 0 && e->count >= s->set.max_deliveries))
                dead_letter(s, e);
            else
                dl__ready_push(s, e);
            woke = true;
            break;
        case E_DELAYED:
            dl__ready_push(s, e);
            woke = true;
            break;
        default:
            dl__heap_remove(s, e);
        }
    }
    if (woke)
        dl__wake(s);
}

/* ---- receiving ---- */

typedef struct recv {
    delivery_sub_t *s;
    dl_part_t *dp;
    int32_t partition;
    int64_t now;
    int want, got;
    bool stop;
    delivery_msg_cb cb;
    void *ctx;
    broker_topic_t *topic; /* the subscription's topic: deliveries are counted out of it */
} recv_t;

static void lease(recv_t *rv, dl_entry_t *e, const broker_record_t *rec)
{
    delivery_sub_t *s = rv->s;
    e->state = E_LEASED;
    e->count++;
    do
        e->token = dl__rand64(s->d);
    while (e->token == 0 || e->token == 1);
    s->leased++;
    dl__key_hold(s, e);
    dl__heap_set(s, e, rv->now + s->set.ack_timeout_ms);
    dl__st_lease(s, e);
    delivery_msg_t m;
    m.partition = e->partition;
    m.rec = rec;
    m.delivery_count = e->count;
    m.lease_deadline_ms = e->when;
    receipt_fmt(m.receipt, e->partition, e->offset, e->token);
    /* Each delivery counts once as records out of the topic (the engine's reads do not: it
     * reads a batch again for every few records it leases). Bytes: key, value and headers. */
    broker_topic_count_out(rv->topic, 1,
                           (uint64_t)(rec->key_null ? 0 : rec->key.len) +
                               (rec->value_null ? 0 : rec->value.len) + rec->headers.len);
    rv->got++;
    rv->cb(rv->ctx, &m);
}

static bool header_is(const broker_header_t *h, const char *name)
{
    size_t n = strlen(name);
    return h->name.len == n && !memcmp(h->name.p, name, n);
}

static bool parse_i64(hd_slice_t v, int64_t *out)
{
    char tmp[24];
    if (v.len == 0 || v.len >= sizeof tmp)
        return false;
    memcpy(tmp, v.p, v.len);
    tmp[v.len] = '\0';
    char *end;
    errno = 0;
    long long x = strtoll(tmp, &end, 10);
    if (*end || errno)
        return false;
    *out = x;
    return true;
}

/* The CloudEvents type of a record: its ce_type header (binary mode), or the "type" member of a
 * structured-mode value. Writes into tmp. */
static bool ce_type(const broker_record_t *rec, char *tmp, size_t cap)
{
    hd_slice_t area = rec->headers;
    broker_header_t h;
    bool structured = false;
    for (int32_t i = 0; i < rec->headers_count && broker_header_next(&area, &h) == 0; i++) {
        if (header_is(&h, "ce_type") && !h.value_null && h.value.len < cap) {
            memcpy(tmp, h.value.p, h.value.len);
            tmp[h.value.len] = '\0';
            return true;
        }
        if (header_is(&h, "content-type") && !h.value_null && h.value.len >= 28 &&
            !memcmp(h.value.p, "application/cloudevents+json", 28))
            structured = true;
    }
    if (!structured || rec->value_null)
        return false;
    json_t *j = json_loadb((const char *)rec->value.p, rec->value.len, 0, NULL);
    const char *t = json_string_value(json_object_get(j, "type"));
    bool ok = t && strlen(t) < cap;
    if (ok)
        snprintf(tmp, cap, "%s", t);
    json_decref(j);
    return ok;
}

static bool filtered_out(const delivery_sub_t *s, const broker_record_t *rec)
{
    const delivery_settings_t *st = &s->set;
    if (st->filter_key) {
        size_t n = strlen(st->filter_key);
        if (rec->key_null || rec->key.len != n || memcmp(rec->key.p, st->filter_key, n))
            return true;
    }
    if (st->filter_type) {
        char t[256];
        if (!ce_type(rec, t, sizeof t) || strcmp(t, st->filter_type))
            return true;
    }
    return false;
}

/* When the record asks to be delivered: herald-deliver-at (epoch ms) or herald-delay-ms after
 * its timestamp; 0 when it does not ask. */
static int64_t due_of(const broker_record_t *rec)
{
    hd_slice_t area = rec->headers;
    broker_header_t h;
    int64_t due = 0, v;
    for (int32_t i = 0; i < rec->headers_count && broker_header_next(&area, &h) == 0; i++) {
        if (h.value_null)
            continue;
        if (header_is(&h, DELIVERY_HDR_DELIVER_AT) && parse_i64(h.value, &v))
            due = v;
        else if (header_is(&h, DELIVERY_HDR_DELAY_MS) && parse_i64(h.value, &v) && v > 0 &&
                 v < INT64_MAX - rec->timestamp)
            due = rec->timestamp + v;
    }
    return due;
}

static int pull_record(void *ctx, const broker_record_t *rec)
{
    recv_t *rv = ctx;
    delivery_sub_t *s = rv->s;
    dl_part_t *dp = rv->dp;
    int64_t o = rec->offset;
    if (o < dp->next)
        return 0;
    if (rv->got >= rv->want || o - dp->win.floor >= DELIVERY_WINDOW) {
        rv->stop = true;
        return 1;
    }
    /* Offsets skipped inside a batch hold no record (a batch kept without a producer's invalid
     * records, see broker_batch_build_kept()): settled at once, or the ack floor stops there. */
    for (int64_t g = dp->next; g < o; g++)
        if (!dl__entry_find(s, rv->partition, g))
            dl_window_set(&dp->win, g);
    dp->next = o + 1;
    if (dl_window_test(&dp->win, o) || dl__entry_find(s, rv->partition, o))
        return 0;
    if (filtered_out(s, rec)) {
        dl_window_set(&dp->win, o);
        return 0;
    }
    int64_t due = due_of(rec);
    if (due > rv->now) {
        dl_entry_t *e = dl__entry_new(s, rv->partition, o);
        if (due - rv->now > DL_PARK_MIN_MS) {
            dl__delay_park(s, e, due);
        } else {
            e->state = E_DELAYED;
            dl__heap_set(s, e, due);
        }
        return 0;
    }
    dl_entry_t *e = dl__entry_new(s, rv->partition, o);
    if (s->set.ordering == DELIVERY_ORDER_KEY && !rec->key_null) {
        e->key = dl__key_hash(rec->key);
        dl_key_t *k = dl__key(s, e->key, true);
        if (k->busy > 0) {
            e->state = E_BLOCKED;
            e->qnext = NULL;
            if (k->tail)
                k->tail->qnext = e;
            else
                k->head = e;
            k->tail = e;
            return 0;
        }
    }
    lease(rv, e, rec);
    return 0;
}

/* Leases new records of one partition from its cursor. */
static void pull(recv_t *rv, broker_partition_t *bp)
{
    delivery_sub_t *s = rv->s;
    dl_part_t *dp = rv->dp;
    int64_t start = broker_partition_start(bp), hwm = broker_partition_hwm(bp);
    if (dp->win.floor < start)
        dl_window_raise(&dp->win, start); /* retention removed records never settled */
    if (dp->win.floor > hwm) {
        say_warn_every(60, "subscription %s: partition %d is behind its ack floor (recreated?)",
                       s->set.name, rv->partition);
        return;
    }
    if (dp->next < dp->win.floor)
        dp->next = dp->win.floor;
    hd_buf_t buf, scratch;
    hd_buf_init(&buf);
    hd_buf_init(&scratch);
    rv->stop = false;
    while (!rv->stop && rv->got < rv->want && dp->next < hwm &&
           dp->next - dp->win.floor < DELIVERY_WINDOW) {
        hd_buf_reset(&buf);
        /* Read about what is wanted (a consumer that asks for a few records at a time must not
         * copy a megabyte each time); the first batch comes whole whatever the limit. */
        size_t want_bytes = (size_t)(rv->want - rv->got) * PULL_BYTES_PER_RECORD;
        if (want_bytes < PULL_MIN_BYTES)
            want_bytes = PULL_MIN_BYTES;
        if (want_bytes > READ_BYTES)
            want_bytes = READ_BYTES;
        ssize_t n = broker_partition_read_quiet(bp, dp->next, want_bytes, &buf);
        if (n <= 0)
            break;
        int64_t before = dp->next;
        size_t pos = 0;
        while (!rv->stop && pos + BROKER_BATCH_HEADER_LEN <= buf.len) {
            broker_batch_hdr_t h;
            broker_batch_hdr_decode(buf.p + pos, &h);
            size_t blen = (size_t)h.batch_length + 12;
            if (h.batch_length < 49 || pos + blen > buf.len)
                break;
            int64_t last = h.base_offset + h.last_offset_delta;
            pos += blen;
            if (last < dp->next)
                continue;
            if (h.attributes & BROKER_ATTR_CONTROL) {
                for (int64_t o = dp->next; o <= last && o - dp->win.floor < DELIVERY_WINDOW; o++) {
                    dl_window_set(&dp->win, o);
                    dp->next = o + 1;
                }
                continue;
            }
            int rc = broker_batch_for_each(hd_slice(buf.p + pos - blen, blen), MAX_INFLATED,
                                           &scratch, pull_record, rv);
            hd_buf_reset(&scratch);
            if (rc < 0) {
                say_warn_every(5,
                               "subscription %s: partition %d batch at %" PRId64 " unreadable: %s",
                               s->set.name, rv->partition, h.base_offset, hd_strerror(rc));
            }
            /* Offsets at the end of the batch without a record (a kept batch's gaps, see
             * pull_record()) are settled. */
            if (!rv->stop && dp->next <= last && last - dp->win.floor < DELIVERY_WINDOW) {
                for (int64_t o = dp->next; o <= last; o++)
                    if (!dl__entry_find(s, rv->partition, o))
                        dl_window_set(&dp->win, o);
                dp->next = last + 1;
            }
        }
        if (dp->next == before)
            break;
    }
    hd_buf_deinit(&buf);
    hd_buf_deinit(&scratch);
}

int delivery_receive(delivery_sub_t *s, int max, delivery_msg_cb cb, void *ctx)
{
    if (s->deleted)
        return HD_ENOTFOUND;
    broker_topic_t *t = broker_topic_find(s->d->b, s->set.topic);
    if (!t)
        return HD_ENOTFOUND;
    int64_t now = dl__now(s->d);
    dl__timers(s, now);
    recv_t rv = {s, NULL, 0, now, max, 0, false, cb, ctx, t};
    /* Redeliveries (and records freed by their key) first. */
    dl_entry_t *e;
    while (rv.got < max && (e = dl__ready_pop(s))) {
        broker_partition_t *bp = broker_topic_partition(t, e->partition);
        broker_record_t rec;
        int rc = bp ? read_at(s, bp, e->partition, e->offset, &rec) : HD_ERANGE;
        if (rc == HD_ERANGE || rc == HD_ENOTFOUND) {
            e->state = E_RETRY; /* already off the ready queue */
            dl__st_done(s, e->partition, e->offset, DONE_GONE);
            dl__settle(s, e);
            continue;
        }
        if (rc < 0) {
            retry_later(s, e, DEAD_RETRY_MS);
            continue;
        }
        lease(&rv, e, &rec);
    }
    /* Then new records, partitions in turn from a rotating start. */
    int32_t np = broker_topic_partitions(t);
    if (np > DELIVERY_MAX_PARTITIONS)
        np = DELIVERY_MAX_PARTITIONS;
    for (int32_t i = 0; i < np && rv.got < max; i++) {
        int32_t p = (s->rr + i) % np;
        dl_part_t *dp = dl__part(s, p);
        if (!dp)
            continue;
        rv.dp = dp;
        rv.partition = p;
        pull(&rv, broker_topic_partition(t, p));
    }
    if (np)
        s->rr = (s->rr + 1) % np;
    dl__delay_flush(s);
    dl__st_flush(s);
    return rv.got;
}

/* ---- ack, nack, extend ---- */

typedef enum { OP_ACK, OP_NACK, OP_EXTEND, OP_REJECT } op_t;

static void settle_many(delivery_sub_t *s, op_t op, const char *const *receipts, int n, int64_t arg,
                        const char *error, int *results, int64_t *durable_at)
{
    int64_t now = dl__now(s->d);
    bool changed = false;
    for (int i = 0; i < n; i++) {
        int32_t p;
        int64_t off;
        uint64_t token;
        if (!receipt_parse(receipts[i], &p, &off, &token) || !dl__part_selected(s, p)) {
            results[i] = DELIVERY_INVALID;
            continue;
        }
        dl_entry_t *e = dl__entry_find(s, p, off);
        bool live = e && e->token == token && e->state == E_LEASED;
        /* An ack of a lease that expired is still taken while nobody else holds the record. */
        bool late = e && e->token == token && (e->state == E_RETRY || e->state == E_READY);
        if (!(live || (op == OP_ACK && late))) {
            results[i] = DELIVERY_STALE;
            continue;
        }
        results[i] = DELIVERY_OK;
        changed = true;
        switch (op) {
        case OP_ACK:
            dl__st_done(s, p, off, DONE_ACK);
            dl__settle(s, e);
            break;
        case OP_NACK:
            dl__fail(s, e, arg, error ? error : "refused");
            break;
        case OP_EXTEND:
            dl__heap_set(s, e, now + arg);
            dl__st_lease(s, e);
            break;
        case OP_REJECT:
            if (!s->set.dead_letter_topic || !s->set.dead_letter_topic[0]) {
                dl__st_done(s, p, off, DONE_ACK); /* nowhere to park it: it is done */
                dl__settle(s, e);
                break;
            }
            e->reject = true;
            dl__fail(s, e, 0, error ? error : "rejected");
            break;
        }
    }
    *durable_at = dl__st_flush(s);
    if (changed && op != OP_EXTEND) {
        dl__timers(s, now); /* a nack with no delay is due at once */
        dl__wake(s);
    }
}

void delivery_ack(delivery_sub_t *s, const char *const *receipts, int n, int *results,
                  int64_t *durable_at)
{
    settle_many(s, OP_ACK, receipts, n, 0, NULL, results, durable_at);
}

void delivery_nack(delivery_sub_t *s, const char *const *receipts, int n, int64_t delay_ms,
                   const char *error, int *results, int64_t *durable_at)
{
    settle_many(s, OP_NACK, receipts, n, delay_ms, error, results, durable_at);
}

void delivery_reject(delivery_sub_t *s, const char *const *receipts, int n, const char *error,
                     int *results, int64_t *durable_at)
{
    settle_many(s, OP_REJECT, receipts, n, 0, error, results, durable_at);
}

void delivery_extend(delivery_sub_t *s, const char *const *receipts, int n, int64_t ms,
                     int *results, int64_t *durable_at)
{
    settle_many(s, OP_EXTEND, receipts, n, ms, NULL, results, durable_at);
}

/* ---- redrive and purge ---- */

static bool removed(const delivery_sub_t *s, int32_t q, int64_t off)
{
    for (int i = 0; i < s->nremoved; i++)
        if (s->removed[i].partition == q && off >= s->removed[i].lo && off < s->removed[i].hi)
            return true;
    return false;
}

typedef struct redrive {
    delivery_sub_t *s;
    int32_t q;
    int64_t stop_at; /* INT64_MAX unless stopped at the limit */
    delivery_redrive_result_t *res;
} redrive_t;

static int redrive_record(void *ctx, const broker_record_t *rec)
{
    redrive_t *rd = ctx;
    delivery_sub_t *s = rd->s;
    if (removed(s, rd->q, rec->offset))
        return 0;
    hd_slice_t area = rec->headers;
    broker_header_t h;
    bool mine = false;
    int64_t p = -1, off = -1;
    size_t nl = strlen(s->set.name);
    for (int32_t i = 0; i < rec->headers_count && broker_header_next(&area, &h) == 0; i++) {
        if (h.value_null)
            continue;
        if (header_is(&h, DELIVERY_HDR_SUBSCRIPTION))
            mine = h.value.len == nl && !memcmp(h.value.p, s->set.name, nl);
        else if (header_is(&h, DELIVERY_HDR_PARTITION))
            parse_i64(h.value, &p);
        else if (header_is(&h, DELIVERY_HDR_OFFSET))
            parse_i64(h.value, &off);
    }
    if (!mine)
        return 0;
    if (rd->res->redriven + rd->res->missing >= DELIVERY_REDRIVE_MAX ||
        s->nentries >= DL_ENTRIES_MAX) {
        rd->stop_at = rec->offset;
        return 1;
    }
    broker_partition_t *bp =
        p >= 0 && p < DELIVERY_MAX_PARTITIONS ? source_part(s, (int32_t)p) : NULL;
    if (!bp || off < broker_partition_start(bp) || off >= broker_partition_hwm(bp) ||
        !dl__part(s, (int32_t)p)) {
        rd->res->missing++;
        return 0;
    }
    rd->res->redriven++;
    if (dl__entry_find(s, (int32_t)p, off))
        return 0;
    dl_entry_t *e = dl__entry_new(s, (int32_t)p, off);
    e->state = E_RETRY;
    e->count = 0;
    dl__heap_set(s, e, dl__now(s->d));
    dl__st_retry(s, e);
    return 0;
}

static void add_range(delivery_sub_t *s, int32_t q, int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return;
    dl_range_t r = {q, lo, hi};
    dl__st_removed(s, dl__removed_add(s, &r));
}

int delivery_redrive(delivery_sub_t *s, int64_t from, int64_t to, delivery_redrive_result_t *res,
                     int64_t *durable_at)
{
    memset(res, 0, sizeof *res);
    res->next_offset = to;
    if (!s->set.dead_letter_topic)
        return HD_EINVAL;
    broker_topic_t *t = broker_topic_find(s->d->b, s->set.dead_letter_topic);
    int32_t nq = t ? broker_topic_partitions(t) : 0;
    if (from < 0)
        from = 0;
    int64_t reached = to < 0 ? INT64_MAX : to;
    for (int32_t q = 0; q < nq; q++) {
        broker_partition_t *bp = broker_topic_partition(t, q);
        int64_t lo = from, hi = to < 0 ? broker_partition_hwm(bp) : to;
        if (hi > broker_partition_hwm(bp))
            hi = broker_partition_hwm(bp);
        redrive_t rd = {s, q, INT64_MAX, res};
        if (lo < hi)
            dl__scan(bp, lo, hi, redrive_record, &rd);
        if (rd.stop_at < hi) {
            hi = rd.stop_at;
            if (hi < reached)
                reached = hi;
        }
        add_range(s, q, lo, hi);
        if (rd.stop_at != INT64_MAX)
            break;
    }
    res->next_offset = reached == INT64_MAX ? to : reached;
    s->dead_lettered -= res->redriven + res->missing;
    if (s->dead_lettered < 0)
        s->dead_lettered = 0;
    dl__st_counters(s);
    *durable_at = dl__st_flush(s);
    if (res->redriven)
        dl__timers(s, dl__now(s->d));
    return 0;
}

int delivery_purge(delivery_sub_t *s, int64_t *dropped, int64_t *durable_at)
{
    *dropped = s->dead_lettered;
    broker_topic_t *t =
        s->set.dead_letter_topic ? broker_topic_find(s->d->b, s->set.dead_letter_topic) : NULL;
    int32_t nq = t ? broker_topic_partitions(t) : 0;
    for (int32_t q = 0; q < nq; q++) {
        /* Every range of q collapses into one covering everything written so far. */
        int j = 0;
        for (int i = 0; i < s->nremoved; i++)
            if (s->removed[i].partition != q)
                s->removed[j++] = s->removed[i];
        s->nremoved = j;
        add_range(s, q, 0, broker_partition_end(broker_topic_partition(t, q)));
    }
    s->dead_lettered = 0;
    dl__st_counters(s);
    *durable_at = dl__st_flush(s);
    return 0;
}
