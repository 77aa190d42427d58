/* The engine's data structures, free of I/O: the window of settled offsets above a partition's
 * ack floor, the backoff formula, and a subscription's entries (a hash table by partition and
 * offset, a timer heap, the ready queue, and the per-key ordering slots). */
#include "delivery/delivery_int.h"
#include "util/mem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- window ---- */

#define WBITS DELIVERY_WINDOW

static inline size_t widx(int64_t off) { return (size_t)((uint64_t)off % WBITS); }

void dl_window_init(dl_window_t *w, int64_t floor)
{
    memset(w->bits, 0, sizeof w->bits);
    w->floor = floor;
}

bool dl_window_test(const dl_window_t *w, int64_t offset)
{
    if (offset < w->floor)
        return true;
    if (offset - w->floor >= WBITS)
        return false;
    size_t i = widx(offset);
    return (w->bits[i / 64] >> (i % 64)) & 1;
}

static void advance(dl_window_t *w)
{
    for (;;) {
        size_t i = widx(w->floor);
        uint64_t word = w->bits[i / 64] >> (i % 64);
        if (!(word & 1))
            return;
        /* Skip the run of set bits from here to the end of this word at once. */
        int run = ~word == 0 ? 64 : __builtin_ctzll(~word);
        uint64_t mask = run == 64 ? ~0ull : ((1ull << run) - 1) << (i % 64);
        w->bits[i / 64] &= ~mask;
        w->floor += run;
    }
}

bool dl_window_set(dl_window_t *w, int64_t offset)
{
    if (offset < w->floor || offset - w->floor >= WBITS)
        return false;
    size_t i = widx(offset);
    w->bits[i / 64] |= 1ull << (i % 64);
    if (offset == w->floor)
        advance(w);
    return true;
}

void dl_window_raise(dl_window_t *w, int64_t to)
{
    if (to <= w->floor)
        return;
    if (to - w->floor >= WBITS) {
        memset(w->bits, 0, sizeof w->bits);
    } else {
        for (int64_t o = w->floor; o < to; o++) {
            size_t i = widx(o);
            w->bits[i / 64] &= ~(1ull << (i % 64));
        }
    }
    w->floor = to;
    advance(w);
}

int64_t dl_window_count(const dl_window_t *w)
{
    int64_t n = 0;
    for (size_t i = 0; i < WBITS / 64; i++)
        n += __builtin_popcountll(w->bits[i]);
    return n;
}

/* ---- backoff ---- */

int64_t delivery_backoff_ms(const delivery_backoff_t *b, int32_t n, double r)
{
    if (n < 1)
        n = 1;
    double d = (double)b->initial_ms;
    double m = b->multiplier < 1.0 ? 1.0 : b->multiplier;
    for (int32_t i = 1; i < n && d < (double)b->max_ms; i++)
        d *= m;
    if (d > (double)b->max_ms)
        d = (double)b->max_ms;
    double j = b->jitter < 0 ? 0 : b->jitter > 1 ? 1 : b->jitter;
    if (r < 0)
        r = 0;
    if (r >= 1)
        r = 0.999999;
    d -= d * j * r;
    return d < 0 ? 0 : (int64_t)llround(d);
}

/* ---- entries: hash table ---- */

static uint32_t hash_po(int32_t p, int64_t off)
{
    uint64_t h =
        (uint64_t)off * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uint32_t)p * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 29;
    return (uint32_t)h;
}

dl_entry_t *dl__entry_find(delivery_sub_t *s, int32_t p, int64_t off)
{
    if (!s->nbuckets)
        return NULL;
    dl_entry_t *e = s->buckets[hash_po(p, off) & (s->nbuckets - 1)];
    while (e && (e->partition != p || e->offset != off))
        e = e->hnext;
    return e;
}

static void grow(delivery_sub_t *s)
{
    uint32_t n = s->nbuckets ? s->nbuckets * 2 : 64;
    dl_entry_t **nb = hd_calloc(n, sizeof *nb);
    for (uint32_t i = 0; i < s->nbuckets; i++) {
        dl_entry_t *e = s->buckets[i];
        while (e) {
            dl_entry_t *next = e->hnext;
            uint32_t h = hash_po(e->partition, e->offset) & (n - 1);
            e->hnext = nb[h];
            nb[h] = e;
            e = next;
        }
    }
    free(s->buckets);
    s->buckets = nb;
    s->nbuckets = n;
}

dl_entry_t *dl__entry_new(delivery_sub_t *s, int32_t p, int64_t off)
{
    if (s->nentries >= s->nbuckets)
        grow(s);
    dl_entry_t *e = hd_calloc(1, sizeof *e);
    e->partition = p;
    e->offset = off;
    e->heap_idx = -1;
    e->state = E_NEW;
    uint32_t h = hash_po(p, off) & (s->nbuckets - 1);
    e->hnext = s->buckets[h];
    s->buckets[h] = e;
    s->nentries++;
    return e;
}

static void ready_unlink(delivery_sub_t *s, dl_entry_t *e)
{
    dl_entry_t **pp = &s->ready_head, *prev = NULL;
    while (*pp && *pp != e) {
        prev = *pp;
        pp = &(*pp)->qnext;
    }
    if (!*pp)
        return;
    *pp = e->qnext;
    if (s->ready_tail == e)
        s->ready_tail = prev;
    e->qnext = NULL;
}

static void blocked_unlink(delivery_sub_t *s, dl_entry_t *e)
{
    dl_key_t *k = dl__key(s, e->key, false);
    if (!k)
        return;
    dl_entry_t **pp = &k->head, *prev = NULL;
    while (*pp && *pp != e) {
        prev = *pp;
        pp = &(*pp)->qnext;
    }
    if (!*pp)
        return;
    *pp = e->qnext;
    if (k->tail == e)
        k->tail = prev;
    e->qnext = NULL;
}

void dl__entry_free(delivery_sub_t *s, dl_entry_t *e)
{
    dl_entry_t **pp = &s->buckets[hash_po(e->partition, e->offset) & (s->nbuckets - 1)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    s->nentries--;
    dl__heap_remove(s, e);
    if (e->state == E_READY)
        ready_unlink(s, e);
    else if (e->state == E_BLOCKED)
        blocked_unlink(s, e);
    if (e->state == E_LEASED)
        s->leased--;
    if (e->busy)
        dl__key_release(s, e);
    free(e->error);
    free(e);
}

void dl__entries_free_all(delivery_sub_t *s)
{
    for (uint32_t i = 0; i < s->nbuckets; i++) {
        dl_entry_t *e = s->buckets[i];
        while (e) {
            dl_entry_t *next = e->hnext;
            free(e->error);
            free(e);
            e = next;
        }
    }
    free(s->buckets);
    s->buckets = NULL;
    s->nbuckets = s->nentries = 0;
    free(s->heap);
    s->heap = NULL;
    s->nheap = s->capheap = 0;
    free(s->keys);
    s->keys = NULL;
    s->nkeys = s->capkeys = 0;
    s->ready_head = s->ready_tail = NULL;
    s->leased = 0;
}

/* ---- timer heap (min on when) ---- */

static void heap_swap(delivery_sub_t *s, uint32_t a, uint32_t b)
{
    dl_entry_t *t = s->heap[a];
    s->heap[a] = s->heap[b];
    s->heap[b] = t;
    s->heap[a]->heap_idx = (int32_t)a;
    s->heap[b]->heap_idx = (int32_t)b;
}

static void sift_up(delivery_sub_t *s, uint32_t i)
{
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (s->heap[p]->when <= s->heap[i]->when)
            break;
        heap_swap(s, p, i);
        i = p;
    }
}

static void sift_down(delivery_sub_t *s, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->nheap && s->heap[l]->when < s->heap[m]->when)
            m = l;
        if (r < s->nheap && s->heap[r]->when < s->heap[m]->when)
            m = r;
        if (m == i)
            return;
        heap_swap(s, i, m);
        i = m;
    }
}

void dl__heap_set(delivery_sub_t *s, dl_entry_t *e, int64_t when)
{
    e->when = when;
    if (e->heap_idx < 0) {
        if (s->nheap == s->capheap) {
            s->capheap = s->capheap ? s->capheap * 2 : 64;
            s->heap = hd_realloc(s->heap, s->capheap * sizeof *s->heap);
        }
        e->heap_idx = (int32_t)s->nheap;
        s->heap[s->nheap++] = e;
        sift_up(s, (uint32_t)e->heap_idx);
        return;
    }
    sift_up(s, (uint32_t)e->heap_idx);
    sift_down(s, (uint32_t)e->heap_idx);
}

void dl__heap_remove(delivery_sub_t *s, dl_entry_t *e)
{
    if (e->heap_idx < 0)
        return;
    uint32_t i = (uint32_t)e->heap_idx;
    e->heap_idx = -1;
    s->nheap--;
    if (i == s->nheap)
        return;
    s->heap[i] = s->heap[s->nheap];
    s->heap[i]->heap_idx = (int32_t)i;
    sift_up(s, i);
    sift_down(s, (uint32_t)s->heap[i]->heap_idx);
}

dl_entry_t *dl__heap_top(delivery_sub_t *s) { return s->nheap ? s->heap[0] : NULL; }

/* ---- ready queue ---- */

void dl__ready_push(delivery_sub_t *s, dl_entry_t *e)
{
    dl__heap_remove(s, e);
    e->state = E_READY;
    e->qnext = NULL;
    if (s->ready_tail)
        s->ready_tail->qnext = e;
    else
        s->ready_head = e;
    s->ready_tail = e;
}

dl_entry_t *dl__ready_pop(delivery_sub_t *s)
{
    dl_entry_t *e = s->ready_head;
    if (!e)
        return NULL;
    s->ready_head = e->qnext;
    if (!s->ready_head)
        s->ready_tail = NULL;
    e->qnext = NULL;
    return e;
}

/* ---- keys (open addressing on the 64-bit hash; slots are never removed until empty of
 * everything, then reused by tombstone-free rebuild on growth) ---- */

uint64_t dl__key_hash(hd_slice_t key)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < key.len; i++)
        h = (h ^ key.p[i]) * 1099511628211ull;
    return h ? h : 1; /* 0 means "no key" */
}

/* Rebuilds the table with only the keys in use (idle ones are dropped here, never one by one,
 * so probe chains have no holes), at a capacity of four times their number. */
static void keys_rebuild(delivery_sub_t *s)
{
    dl_key_t *old = s->keys;
    uint32_t oldcap = s->capkeys, live = 0;
    for (uint32_t i = 0; i < oldcap; i++)
        if (old[i].hash && (old[i].busy || old[i].head))
            live++;
    uint32_t cap = 64;
    while (cap < 4 * (live + 1))
        cap *= 2;
    s->keys = hd_calloc(cap, sizeof *s->keys);
    s->capkeys = cap;
    s->nkeys = 0;
    for (uint32_t i = 0; i < oldcap; i++) {
        dl_key_t *k = &old[i];
        if (!k->hash || (!k->busy && !k->head))
            continue;
        uint32_t j = (uint32_t)k->hash & (cap - 1);
        while (s->keys[j].hash)
            j = (j + 1) & (cap - 1);
        s->keys[j] = *k;
        s->nkeys++;
    }
    free(old);
}

dl_key_t *dl__key(delivery_sub_t *s, uint64_t hash, bool create)
{
    if (!hash)
        return NULL;
    if (s->capkeys) {
        uint32_t j = (uint32_t)hash & (s->capkeys - 1);
        while (s->keys[j].hash) {
            if (s->keys[j].hash == hash)
                return &s->keys[j];
            j = (j + 1) & (s->capkeys - 1);
        }
    }
    if (!create)
        return NULL;
    if ((s->nkeys + 1) * 2 > s->capkeys)
        keys_rebuild(s);
    uint32_t j = (uint32_t)hash & (s->capkeys - 1);
    while (s->keys[j].hash)
        j = (j + 1) & (s->capkeys - 1);
    s->keys[j].hash = hash;
    s->nkeys++;
    return &s->keys[j];
}

void dl__key_hold(delivery_sub_t *s, dl_entry_t *e)
{
    if (!e->key || e->busy)
        return;
    dl__key(s, e->key, true)->busy++;
    e->busy = true;
}

void dl__key_release(delivery_sub_t *s, dl_entry_t *e)
{
    if (!e->busy)
        return;
    e->busy = false;
    dl_key_t *k = dl__key(s, e->key, false);
    if (!k)
        return;
    if (--k->busy > 0)
        return;
    dl_entry_t *b = k->head;
    if (b) {
        k->head = b->qnext;
        if (!k->head)
            k->tail = NULL;
        b->qnext = NULL;
        k->busy++;
        b->busy = true;
        dl__ready_push(s, b);
        return;
    }
}
