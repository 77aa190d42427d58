/* Private to delivery/: the engine's structs and the helpers its files share. Loop thread only.
 *
 * The model, per subscription and partition: every offset below `floor` is settled; offsets in
 * [floor, next) have been looked at by the cursor and are each either settled (a bit in the
 * window), or owned by an entry (leased, waiting for a retry or a delay, blocked behind its key,
 * on its way to the dead-letter topic or to the delay store); offsets from `next` up to the high
 * watermark are the untouched backlog, which costs nothing. next - floor never exceeds
 * DELIVERY_WINDOW, so the entries of a partition are bounded by the window. Entries below the
 * floor exist too: records handed back by the delay store or a redrive. */
#ifndef DELIVERY_INT_H
#define DELIVERY_INT_H

#include "delivery/delivery.h"
#include "util/buf.h"

#include <stdbool.h>
#include <stdint.h>

/* ---- the window of settled bits (window.c, pure) ---- */

/* Bits for offsets [floor, floor + DELIVERY_WINDOW), a ring indexed by offset modulo the size. */
typedef struct dl_window {
    int64_t floor;
    uint64_t bits[DELIVERY_WINDOW / 64];
} dl_window_t;

void dl_window_init(dl_window_t *w, int64_t floor);
/* Whether offset is settled: below the floor, or its bit is set. Offsets at or above the
 * window's end are not. */
bool dl_window_test(const dl_window_t *w, int64_t offset);
/* Marks offset settled and advances the floor over every settled offset from it. Offsets
 * outside [floor, floor + DELIVERY_WINDOW) are ignored (false returned). */
bool dl_window_set(dl_window_t *w, int64_t offset);
/* Moves the floor up to `to` (bits below it dropped), then over settled offsets. */
void dl_window_raise(dl_window_t *w, int64_t to);
/* Settled offsets at or above the floor. */
int64_t dl_window_count(const dl_window_t *w);

/* ---- entries ---- */

enum {
    E_LEASED,  /* handed out; when = lease deadline */
    E_RETRY,   /* waiting for when (a retry, or a delay handed back by the store) */
    E_READY,   /* due: in the ready queue */
    E_DELAYED, /* a delayed record inside the window, due at when (not stored) */
    E_BLOCKED, /* waiting behind another record of its key (ordering key) */
    E_PARKING, /* written to the delay store, waiting for it to be durable */
    E_DEAD,    /* appended to the dead-letter topic, waiting for it to be durable */
    E_NEW,     /* just made, not yet placed */
};

typedef struct dl_entry dl_entry_t;
struct dl_entry {
    dl_entry_t *hnext; /* hash chain */
    dl_entry_t *qnext; /* ready queue, blocked list or parking list */
    int32_t partition;
    int32_t count; /* deliveries so far */
    int64_t offset;
    int64_t when;
    uint64_t token;   /* of the current (or last) lease; 0 if never leased */
    uint64_t key;     /* hash of the record key with ordering "key"; 0: none */
    int32_t heap_idx; /* -1 when not in the timer heap */
    uint8_t state;
    bool busy;   /* counted as busy on its key */
    bool reject; /* refused for good: dead-lettered when due, whatever its count */
    char *error; /* last error, or NULL */
};

/* A key's ordering state: records of it in flight, and those waiting (in offset order). */
typedef struct dl_key {
    uint64_t hash; /* 0: empty slot */
    int32_t busy;
    dl_entry_t *head, *tail;
} dl_key_t;

/* One dead letter on its way: the entry waits for the dead-letter partition to be durable. */
typedef struct dl_dead dl_dead_t;

/* A range of dead-letter-topic offsets that no longer count as this subscription's dead
 * letters (redriven or purged). */
typedef struct dl_range {
    int32_t partition;
    int64_t lo, hi;
} dl_range_t;

/* A chunk of the delay store: its PARK records not yet handed back (delay.c). */
#define DL_CHUNK 4096
typedef struct dl_chunk {
    int64_t min_due; /* INT64_MAX when nothing remains */
    int32_t remaining;
    uint64_t taken[DL_CHUNK / 64];
} dl_chunk_t;

typedef struct dl_part {
    dl_window_t win;
    int64_t next;
    bool known;        /* the partition has state (floor set) */
    broker_waiter_t w; /* armed while consumers wait and the cursor is at the high watermark */
    delivery_sub_t *sub;
} dl_part_t;

struct delivery_sub {
    delivery_t *d;
    delivery_settings_t set;
    char *name_buf, *topic_buf, *dlq_buf, *ftype_buf, *fkey_buf;
    int32_t *parts_buf;
    char *dir; /* relative to the data dir: __subscriptions/<name> */
    broker_partition_t *state, *delays;
    bool deleted;
    /* The id of the topic the state refers to: a topic deleted and created again under the same
     * name has another, and the subscription then starts over (sub.c). has_topic_id is false
     * for state written before ids were kept, which adopts the topic's id when next checked. */
    uint8_t topic_id[16];
    bool has_topic_id;

    dl_part_t **parts; /* by partition index; NULL when not (yet) used */
    int32_t nparts;
    int32_t rr; /* round-robin start among partitions */

    dl_entry_t **buckets;
    uint32_t nbuckets, nentries;
    dl_entry_t **heap;
    uint32_t nheap, capheap;
    dl_entry_t *ready_head, *ready_tail;
    dl_key_t *keys;
    uint32_t nkeys, capkeys;
    int64_t leased; /* entries in E_LEASED */

    int64_t dead_lettered;
    dl_range_t *removed;
    int nremoved, capremoved;
    dl_dead_t *dead_head;

    delivery_waiter_t *waiters;

    /* The state log's batch under construction (state.c). */
    hd_buf_t wbatch, wrec;
    int wn;
    int64_t snapshot_bytes;
    int64_t size_after_snapshot; /* state log size right after the last snapshot (0: none) */
    bool compact_pending;
    int64_t compact_base, compact_end;
    broker_waiter_t compact_w;

    /* The delay store (delay.c). */
    hd_buf_t dbatch;
    int dn;
    dl_entry_t *park_head, *park_tail; /* E_PARKING, in append order; when = store target */
    broker_waiter_t park_w;
    int64_t delay_settled; /* store offsets below this are PARK records whose park finished */
    dl_chunk_t *chunks;
    int64_t chunk0; /* index of chunks[0] (store offset / DL_CHUNK) */
    int32_t nchunks;
    int64_t delay_remaining;
    int64_t *taken_pending; /* store offsets handed back, CONSUMED not yet written */
    int ntaken, captaken;
    int64_t taken_target; /* state-log position that makes them durable */
    broker_waiter_t taken_w;
    bool taken_armed;

    /* Last batch read (read-through for redeliveries). */
    hd_buf_t rbuf, rscratch;
    int32_t rpart;
    int64_t rbase, rend;
};

/* A subscription that started over (sub.c): its previous state directory is removed once the
 * new state is durable from `at` on. */
typedef struct dl_reset {
    char *name;
    int64_t at;
} dl_reset_t;

struct delivery {
    broker_t *b;
    delivery_sub_t **subs;
    int nsubs, cap;
    dl_reset_t *resets;
    int nresets;
    int64_t (*now_ms)(void);
    uint64_t rng;
};

/* Entries a subscription holds at most before it stops taking records back from the delay store
 * or a redrive (the window bounds the others). */
#define DL_ENTRIES_MAX 200000

/* ---- shared helpers ---- */

int64_t dl__now(delivery_t *d);
uint64_t dl__rand64(delivery_t *d);
double dl__rand01(delivery_t *d);
/* The partition's state, created (floor = its log start) when first used; NULL when p is not
 * one of the subscription's partitions. */
dl_part_t *dl__part(delivery_sub_t *s, int32_t p);
bool dl__part_selected(const delivery_sub_t *s, int32_t p);

/* entries (window.c) */
dl_entry_t *dl__entry_find(delivery_sub_t *s, int32_t p, int64_t off);
dl_entry_t *dl__entry_new(delivery_sub_t *s, int32_t p, int64_t off);
/* Unlinks from the hash, the heap and the key, and frees. Does not touch the window. */
void dl__entry_free(delivery_sub_t *s, dl_entry_t *e);
void dl__heap_set(delivery_sub_t *s, dl_entry_t *e, int64_t when);
void dl__heap_remove(delivery_sub_t *s, dl_entry_t *e);
dl_entry_t *dl__heap_top(delivery_sub_t *s);
void dl__ready_push(delivery_sub_t *s, dl_entry_t *e);
dl_entry_t *dl__ready_pop(delivery_sub_t *s);
/* Key ordering: the key's slot (created when create). */
dl_key_t *dl__key(delivery_sub_t *s, uint64_t hash, bool create);
void dl__key_hold(delivery_sub_t *s, dl_entry_t *e);
/* Drops e's hold on its key; when the key becomes free, its first blocked record is made
 * ready. */
void dl__key_release(delivery_sub_t *s, dl_entry_t *e);
void dl__entries_free_all(delivery_sub_t *s);
uint64_t dl__key_hash(hd_slice_t key);

/* RecordBatch v2 building for the internal logs (state.c): records have a null key and the
 * given value; rec is scratch. */
void dl__batch_begin(hd_buf_t *batch, int64_t ts);
void dl__batch_add(hd_buf_t *batch, hd_buf_t *rec, int n, const void *value, size_t len);
void dl__batch_seal(hd_buf_t *batch, int n);
/* Calls fn for every record at offsets [from, to) of p (clamped to its start and high watermark),
 * skipping control batches; fn returns non-zero to stop (returned when positive). */
int dl__scan(broker_partition_t *p, int64_t from, int64_t to, broker_record_cb fn, void *ctx);
/* Calls fn for every record value of the internal log p from its start to its end. */
typedef int (*dl_value_cb)(void *ctx, int64_t offset, hd_slice_t value);
int dl__log_each(broker_partition_t *p, int64_t from, int64_t to, dl_value_cb fn, void *ctx);

/* state log (state.c) */
enum {
    ST_CONFIG = 1,
    ST_SNAPSHOT = 2,
    ST_FLOOR = 3,
    ST_WINDOW = 4,
    ST_LEASE = 5,
    ST_RETRY = 6,
    ST_DONE = 7,
    ST_COUNTERS = 8,
    ST_REMOVED = 9,
};
enum { DONE_ACK = 0, DONE_DEAD = 1, DONE_PARKED = 2, DONE_GONE = 3 };
void dl__st_lease(delivery_sub_t *s, const dl_entry_t *e);
void dl__st_retry(delivery_sub_t *s, const dl_entry_t *e);
void dl__st_done(delivery_sub_t *s, int32_t p, int64_t off, int reason);
void dl__st_floor(delivery_sub_t *s, int32_t p, int64_t floor);
void dl__st_removed(delivery_sub_t *s, const dl_range_t *r);
/* Adds r to the removed ranges, merged with one it touches; returns the range now stored. */
const dl_range_t *dl__removed_add(delivery_sub_t *s, const dl_range_t *r);
void dl__st_counters(delivery_sub_t *s);
void dl__st_config(delivery_sub_t *s);
/* Appends the pending records as one batch; returns the state-log position that makes them
 * durable (the current end when nothing was pending). */
int64_t dl__st_flush(delivery_sub_t *s);
/* Applies one state-log batch to the subscription (replay; also the fuzz target's entry). */
int dl__st_apply(delivery_sub_t *s, hd_slice_t batch);
/* Replays the whole state log. Returns 0 or an error. */
int dl__st_replay(delivery_sub_t *s);
/* Writes a snapshot when the log has grown enough (or force); deletes what it replaces once
 * durable. */
void dl__st_maybe_compact(delivery_sub_t *s, bool force);
/* Parses the settings of a CONFIG record into s (owned copies). */
int dl__settings_decode(delivery_sub_t *s, hd_slice_t json, const char **why);
void dl__settings_free(delivery_sub_t *s);
void dl__settings_copy(delivery_sub_t *s, const delivery_settings_t *in);

/* delay store (delay.c) */
void dl__delay_park(delivery_sub_t *s, dl_entry_t *e, int64_t due);
/* Appends the pending PARK records and arms the wait for them. */
void dl__delay_flush(delivery_sub_t *s);
int dl__delay_replay(delivery_sub_t *s);
/* At a clean close, after the delay log was closed (synced): settles every flushed park. */
void dl__delay_close_parks(delivery_sub_t *s);
/* Hands back parked records due within the horizon (tick). */
void dl__delay_tick(delivery_sub_t *s, int64_t now);
int64_t dl__delay_remaining(const delivery_sub_t *s);
void dl__delay_deinit(delivery_sub_t *s);

/* dispatch (dispatch.c) */
/* A lease ended without an ack (expired or refused): schedule a retry or dead-letter. */
void dl__fail(delivery_sub_t *s, dl_entry_t *e, int64_t delay_ms, const char *error);
/* Settles e: window bit, key, entry freed (the DONE record is the caller's). */
void dl__settle(delivery_sub_t *s, dl_entry_t *e);
void dl__wake(delivery_sub_t *s);
void dl__dead_cancel_all(delivery_sub_t *s);
/* Promotes due timers: expired leases fail, due retries become ready. */
void dl__timers(delivery_sub_t *s, int64_t now);
void dl__parts_disarm(delivery_sub_t *s);

#endif
