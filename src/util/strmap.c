/* hd_strmap_t: see strmap.h. The table doubles when live and deleted slots reach 3/4 of it
 * (rebuilding drops the deleted ones), so a probe sequence always ends at an empty slot. */
#include "util/strmap.h"

#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

/* Marks a deleted slot: probing continues past it, and put may reuse it. */
static const char tomb_mark;
#define TOMB (&tomb_mark)

/* FNV-1a, 32 bits. */
static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 16777619u;
    }
    return h;
}

void hd_strmap_init(hd_strmap_t *m) { memset(m, 0, sizeof *m); }

void hd_strmap_deinit(hd_strmap_t *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* The slot holding key, or NULL. */
static hd_strmap_slot_t *find(const hd_strmap_t *m, const char *key, uint32_t h)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        hd_strmap_slot_t *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->key != TOMB && s->hash == h && !strcmp(s->key, key))
            return s;
    }
}

void *hd_strmap_get(const hd_strmap_t *m, const char *key)
{
    if (!key)
        return NULL;
    hd_strmap_slot_t *s = find(m, key, hash_str(key));
    return s ? s->val : NULL;
}

static void rebuild(hd_strmap_t *m, size_t cap)
{
    hd_strmap_slot_t *old = m->slots;
    size_t old_cap = m->cap;
    m->slots = hd_calloc(cap, sizeof *m->slots);
    m->cap = cap;
    m->used = m->n;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].key || old[i].key == TOMB)
            continue;
        size_t j = old[i].hash & (cap - 1);
        while (m->slots[j].key)
            j = (j + 1) & (cap - 1);
        m->slots[j] = old[i];
    }
    free(old);
}

void hd_strmap_put(hd_strmap_t *m, const char *key, void *val)
{
    uint32_t h = hash_str(key);
    hd_strmap_slot_t *s = find(m, key, h);
    if (s) {
        s->key = key;
        s->val = val;
        return;
    }
    if ((m->used + 1) * 4 > m->cap * 3) {
        size_t cap = m->cap ? m->cap : 16;
        while ((m->n + 1) * 4 > cap * 3 / 2) /* at most 3/8 full after growing */
            cap *= 2;
        rebuild(m, cap);
    }
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    while (m->slots[i].key && m->slots[i].key != TOMB)
        i = (i + 1) & mask;
    if (!m->slots[i].key)
        m->used++;
    m->slots[i] = (hd_strmap_slot_t){.key = key, .val = val, .hash = h};
    m->n++;
}

void *hd_strmap_del(hd_strmap_t *m, const char *key)
{
    if (!key)
        return NULL;
    hd_strmap_slot_t *s = find(m, key, hash_str(key));
    if (!s)
        return NULL;
    void *val = s->val;
    s->key = TOMB;
    s->val = NULL;
    m->n--;
    return val;
}
