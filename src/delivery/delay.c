/* The delay store: where a subscription keeps records that asked to be delivered later
 * (headers herald-deliver-at, epoch milliseconds, or herald-delay-ms, counted from the record's
 * timestamp), so that a million of them cost disk, not memory.
 *
 * The choice: the cursor never waits on a delayed record. One due within DL_PARK_MIN_MS stays
 * in memory (an entry in the window, due then; after a restart the cursor finds it again in the
 * log). One due later is parked: a PARK record goes to the subscription's delay log, an
 * internal log at DATA_DIR/__subscriptions/<name>/delays/, and once that is durable the state
 * log marks the offset settled (DONE, reason 2), so the window and the floor move on. The
 * records behind a parked one are never held up.
 *
 * Memory per parked record is one bit: the delay log is cut into chunks of DL_CHUNK offsets, and
 * each chunk keeps only the earliest due time of its records not yet handed back, their count,
 * and a bitmap of those handed back. When a chunk's earliest due time comes within
 * DL_HORIZON_MS, the chunk is read back from disk and every record due within the horizon is
 * handed back to the subscription as a scheduled entry (a RETRY record with delivery count 0 in
 * the state log, due at its time); at most DL_ENTRIES_MAX entries are held, the rest wait for
 * the next tick. Once that RETRY is durable, a TAKEN record in the delay log says so. Leading
 * chunks with nothing left are deleted with their segments.
 *
 * Delay log records (RecordBatch v2 like the state log, null key), value:
 *   u8 type, then (big-endian)
 *   1 PARK   i32 partition, i64 offset, i64 due_ms
 *   2 TAKEN  i64 delay_log_offset of the PARK record handed back
 * Replay reads the log twice: TAKEN records first (to set the bits), then the PARK records not
 * taken (to rebuild each chunk's count and earliest due time).
 *
 * Crash safety: a PARK is durable before the offset is settled in the state log; a hand-back is
 * durable in the state log before its TAKEN is written. A crash in between delivers the record
 * twice at worst (at-least-once), never loses it. */
#include "delivery/delivery_int.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/reader.h"
#include "util/say.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

enum { DR_PARK = 1, DR_TAKEN = 2 };

/* ---- chunks ---- */

static dl_chunk_t *chunk_of(delivery_sub_t *s, int64_t off, bool create)
{
    int64_t k = off / DL_CHUNK;
    if (s->nchunks == 0) {
        if (!create)
            return NULL;
        s->chunk0 = k;
    }
    if (k < s->chunk0)
        return NULL;
    if (k >= s->chunk0 + s->nchunks) {
        if (!create)
            return NULL;
        int32_t n = (int32_t)(k - s->chunk0 + 1);
        s->chunks = hd_realloc(s->chunks, sizeof *s->chunks * (size_t)n);
        for (int32_t i = s->nchunks; i < n; i++) {
            memset(&s->chunks[i], 0, sizeof s->chunks[i]);
            s->chunks[i].min_due = INT64_MAX;
        }
        s->nchunks = n;
    }
    return &s->chunks[k - s->chunk0];
}

static bool chunk_taken(const dl_chunk_t *c, int64_t off)
{
    size_t i = (size_t)(off % DL_CHUNK);
    return (c->taken[i / 64] >> (i % 64)) & 1;
}

static void chunk_take(dl_chunk_t *c, int64_t off)
{
    size_t i = (size_t)(off % DL_CHUNK);
    c->taken[i / 64] |= 1ull << (i % 64);
}

int64_t dl__delay_remaining(const delivery_sub_t *s) { return s->delay_remaining; }

/* ---- parking ---- */

void dl__delay_park(delivery_sub_t *s, dl_entry_t *e, int64_t due)
{
    uint8_t v[21];
    v[0] = DR_PARK;
    for (int i = 0; i < 4; i++)
        v[1 + i] = (uint8_t)((uint32_t)e->partition >> (24 - 8 * i));
    for (int i = 0; i < 8; i++) {
        v[5 + i] = (uint8_t)((uint64_t)e->offset >> (56 - 8 * i));
        v[13 + i] = (uint8_t)((uint64_t)due >> (56 - 8 * i));
    }
    if (s->dn == 0)
        dl__batch_begin(&s->dbatch, dl__now(s->d));
    dl__batch_add(&s->dbatch, &s->wrec, s->dn++, v, sizeof v);
    e->state = E_PARKING;
    e->when = due; /* replaced by the store position at the flush */
    e->qnext = NULL;
    e->token = 0;
    if (s->park_tail)
        s->park_tail->qnext = e;
    else
        s->park_head = e;
    s->park_tail = e;
}

static void on_parked(broker_waiter_t *w, int err);

static void arm_park(delivery_sub_t *s)
{
    dl_entry_t *e = s->park_head;
    if (!e || s->park_w._part || e->token == 0)
        return; /* nothing flushed is waiting */
    s->park_w.target = e->when;
    s->park_w.cb = on_parked;
    s->park_w.ctx = s;
    broker_waiter_add(s->delays, &s->park_w);
}

void dl__delay_flush(delivery_sub_t *s)
{
    if (s->dn == 0)
        return;
    int n = s->dn;
    s->dn = 0;
    dl__batch_seal(&s->dbatch, n);
    int64_t end;
    int rc = broker_internal_append(s->delays, s->dbatch.p, s->dbatch.len, &end);
    /* The last n entries of the parking list are the ones in this batch (token 0: unflushed). */
    dl_entry_t *first = s->park_head;
    while (first && first->token != 0)
        first = first->qnext;
    int i = 0;
    for (dl_entry_t *e = first; e; e = e->qnext, i++) {
        if (rc < 0) {
            /* Not stored: keep it in memory, due at its time (the cursor finds it again after a
             * restart). It leaves the parking list below. */
            e->token = 1;
            e->count = -1;
            continue;
        }
        int64_t off = end - n + i;
        dl_chunk_t *c = chunk_of(s, off, true);
        if (e->when < c->min_due)
            c->min_due = e->when;
        c->remaining++;
        s->delay_remaining++;
        e->when = end; /* the store position that makes this PARK durable */
        e->token = 1;  /* flushed */
    }
    if (rc < 0) {
        say_warn_every(5, "subscription %s: delay log append failed: %s", s->set.name,
                       hd_strerror(rc));
        /* Unlink the failed ones and keep them as in-memory delays. */
        dl_entry_t **pp = &s->park_head, *prev = NULL;
        while (*pp) {
            dl_entry_t *e = *pp;
            if (e->count == -1) {
                *pp = e->qnext;
                e->qnext = NULL;
                e->count = 0;
                e->token = 0;
                e->state = E_DELAYED;
                dl__heap_set(s, e, dl__now(s->d) + 1000);
                continue;
            }
            prev = e;
            pp = &e->qnext;
        }
        s->park_tail = prev;
    }
    arm_park(s);
}

static void on_parked(broker_waiter_t *w, int err)
{
    delivery_sub_t *s = w->ctx;
    if (err)
        return; /* closing or deleted: the entries go with the subscription */
    int64_t hwm = broker_partition_hwm(s->delays);
    int done = 0;
    while (s->park_head && s->park_head->token != 0 && s->park_head->when <= hwm) {
        dl_entry_t *e = s->park_head;
        s->park_head = e->qnext;
        if (!s->park_head)
            s->park_tail = NULL;
        e->qnext = NULL;
        if (e->when > s->delay_settled)
            s->delay_settled = e->when;
        dl__st_done(s, e->partition, e->offset, DONE_PARKED);
        e->state = E_RETRY; /* not in any list: dl__settle only frees it */
        dl__settle(s, e);
        done++;
    }
    if (done) {
        dl__st_flush(s);
        dl__wake(s);
    }
    arm_park(s);
}

void dl__delay_close_parks(delivery_sub_t *s)
{
    while (s->park_head && s->park_head->token != 0) {
        dl_entry_t *e = s->park_head;
        s->park_head = e->qnext;
        if (!s->park_head)
            s->park_tail = NULL;
        e->qnext = NULL;
        dl__st_done(s, e->partition, e->offset, DONE_PARKED);
        e->state = E_RETRY;
        dl__settle(s, e);
    }
}

/* ---- handing back ---- */

static void on_taken_durable(broker_waiter_t *w, int err);

static void arm_taken(delivery_sub_t *s)
{
    if (s->ntaken == 0 || s->taken_w._part)
        return;
    s->taken_w.target = s->taken_target;
    s->taken_w.cb = on_taken_durable;
    s->taken_w.ctx = s;
    broker_waiter_add(s->state, &s->taken_w);
}

/* The hand-backs are durable in the state log: record them as TAKEN in the delay log. */
static void on_taken_durable(broker_waiter_t *w, int err)
{
    delivery_sub_t *s = w->ctx;
    if (err)
        return;
    int n = 0;
    hd_buf_t batch, rec;
    hd_buf_init(&batch);
    hd_buf_init(&rec);
    dl__batch_begin(&batch, dl__now(s->d));
    for (int i = 0; i < s->ntaken; i++) {
        uint8_t v[9];
        v[0] = DR_TAKEN;
        for (int k = 0; k < 8; k++)
            v[1 + k] = (uint8_t)((uint64_t)s->taken_pending[i] >> (56 - 8 * k));
        dl__batch_add(&batch, &rec, n++, v, sizeof v);
    }
    s->ntaken = 0;
    if (n) {
        dl__batch_seal(&batch, n);
        int64_t end;
        int rc = broker_internal_append(s->delays, batch.p, batch.len, &end);
        if (rc < 0)
            say_warn_every(5, "subscription %s: delay log append failed: %s", s->set.name,
                           hd_strerror(rc));
    }
    hd_buf_deinit(&batch);
    hd_buf_deinit(&rec);
}

typedef struct scan {
    delivery_sub_t *s;
    dl_chunk_t *c;
    int64_t now, horizon, min_due;
    int handed;
} scan_t;

static int scan_value(void *ctx, int64_t off, hd_slice_t value)
{
    scan_t *sc = ctx;
    delivery_sub_t *s = sc->s;
    hd_reader_t r = hd_reader_init(value);
    int type = (uint8_t)hd_read_i8(&r);
    if (type != DR_PARK)
        return 0;
    int32_t p = hd_read_i32(&r);
    int64_t o = hd_read_i64(&r);
    int64_t due = hd_read_i64(&r);
    if (r.err || chunk_taken(sc->c, off))
        return 0;
    if (due > sc->horizon || s->nentries >= DL_ENTRIES_MAX) {
        if (due < sc->min_due)
            sc->min_due = due;
        return 0;
    }
    chunk_take(sc->c, off);
    sc->c->remaining--;
    s->delay_remaining--;
    if (s->ntaken == s->captaken) {
        s->captaken = s->captaken ? s->captaken * 2 : 64;
        s->taken_pending = hd_realloc(s->taken_pending, sizeof(int64_t) * (size_t)s->captaken);
    }
    s->taken_pending[s->ntaken++] = off;
    if (!dl__part(s, p) || o < 0 || dl__entry_find(s, p, o))
        return 0; /* already in hand (or no longer ours): just mark it taken */
    dl_entry_t *e = dl__entry_new(s, p, o);
    e->state = E_RETRY;
    e->count = 0;
    dl__heap_set(s, e, due);
    dl__st_retry(s, e);
    sc->handed++;
    return 0;
}

#define DL_HORIZON_MS 1000

void dl__delay_tick(delivery_sub_t *s, int64_t now)
{
    int64_t horizon = now + DL_HORIZON_MS;
    int handed = 0;
    bool any = false;
    /* One round of hand-backs at a time: the next waits until the last one's TAKEN records are
     * written (each round's RETRY records must be durable first). */
    for (int32_t i = 0;
         i < s->nchunks && s->nentries < DL_ENTRIES_MAX && s->ntaken == 0 && !s->taken_w._part;
         i++) {
        dl_chunk_t *c = &s->chunks[i];
        if (c->remaining <= 0 || c->min_due > horizon)
            continue;
        int64_t lo = (s->chunk0 + i) * DL_CHUNK, hi = lo + DL_CHUNK;
        bool cut = hi > s->delay_settled;
        if (cut)
            hi = s->delay_settled;
        scan_t sc = {s, c, now, horizon, INT64_MAX, 0};
        if (lo < hi)
            dl__log_each(s->delays, lo, hi, scan_value, &sc);
        /* Records past the settled end were not seen: look again soon. */
        c->min_due = cut && sc.min_due > now ? now : sc.min_due;
        if (c->remaining <= 0)
            c->min_due = INT64_MAX;
        handed += sc.handed;
        any = true;
        if (s->ntaken)
            break;
    }
    if (any && s->ntaken) {
        s->taken_target = dl__st_flush(s);
        arm_taken(s);
    }
    (void)handed;
    /* Leading chunks with nothing left, all settled and all hand-backs durable: drop them and
     * the segments below them. */
    if (s->ntaken == 0 && !s->taken_w._part) {
        int32_t k = 0;
        while (k < s->nchunks - 1 && s->chunks[k].remaining <= 0 &&
               (s->chunk0 + k + 1) * DL_CHUNK <= s->delay_settled)
            k++;
        if (k > 0) {
            memmove(s->chunks, s->chunks + k, sizeof *s->chunks * (size_t)(s->nchunks - k));
            s->nchunks -= k;
            s->chunk0 += k;
            broker_internal_delete_before(s->delays, s->chunk0 * DL_CHUNK);
        }
    }
}

/* ---- replay ---- */

static int replay_taken(void *ctx, int64_t off, hd_slice_t value)
{
    delivery_sub_t *s = ctx;
    (void)off;
    hd_reader_t r = hd_reader_init(value);
    if ((uint8_t)hd_read_i8(&r) != DR_TAKEN)
        return 0;
    int64_t taken = hd_read_i64(&r);
    if (r.err || taken < 0)
        return 0;
    dl_chunk_t *c = chunk_of(s, taken, false);
    if (c)
        chunk_take(c, taken);
    return 0;
}

static int replay_park(void *ctx, int64_t off, hd_slice_t value)
{
    delivery_sub_t *s = ctx;
    hd_reader_t r = hd_reader_init(value);
    if ((uint8_t)hd_read_i8(&r) != DR_PARK)
        return 0;
    hd_read_i32(&r);
    hd_read_i64(&r);
    int64_t due = hd_read_i64(&r);
    if (r.err)
        return 0;
    dl_chunk_t *c = chunk_of(s, off, false);
    if (!c || chunk_taken(c, off))
        return 0;
    c->remaining++;
    s->delay_remaining++;
    if (due < c->min_due)
        c->min_due = due;
    return 0;
}

int dl__delay_replay(delivery_sub_t *s)
{
    int64_t start = broker_partition_start(s->delays), end = broker_partition_end(s->delays);
    s->delay_settled = end;
    if (end <= start)
        return 0;
    /* Chunks for every offset of the log, so TAKEN bits have somewhere to go. */
    chunk_of(s, start, true);
    chunk_of(s, end - 1, true);
    int rc = dl__log_each(s->delays, start, end, replay_taken, s);
    if (rc == 0)
        rc = dl__log_each(s->delays, start, end, replay_park, s);
    if (s->delay_remaining)
        say_info("subscription %s: %" PRId64 " delayed records in the delay store", s->set.name,
                 s->delay_remaining);
    return rc;
}

void dl__delay_deinit(delivery_sub_t *s)
{
    broker_waiter_cancel(&s->park_w);
    broker_waiter_cancel(&s->taken_w);
    free(s->chunks);
    s->chunks = NULL;
    s->nchunks = 0;
    free(s->taken_pending);
    s->taken_pending = NULL;
    s->ntaken = s->captaken = 0;
}
