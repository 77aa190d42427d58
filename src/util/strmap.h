/* hd_strmap_t: a hash index from C strings to pointers (open addressing, linear probing).
 * Keys are not copied: a key must stay valid, and unchanged, while it is in the map (it is
 * usually the name stored in the value itself). */
#ifndef HD_STRMAP_H
#define HD_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct hd_strmap_slot {
    const char *key; /* NULL: never used; hd_strmap_tomb: deleted */
    void *val;
    uint32_t hash;
} hd_strmap_slot_t;

typedef struct hd_strmap {
    hd_strmap_slot_t *slots;
    size_t cap;  /* 0 or a power of two */
    size_t n;    /* live entries */
    size_t used; /* live entries and deleted slots */
} hd_strmap_t;

void hd_strmap_init(hd_strmap_t *m);
void hd_strmap_deinit(hd_strmap_t *m);
/* The value stored under key, or NULL (also for a NULL key). */
void *hd_strmap_get(const hd_strmap_t *m, const char *key);
/* Stores val under key, replacing any value there; val must not be NULL. */
void hd_strmap_put(hd_strmap_t *m, const char *key, void *val);
/* Removes key; returns its value, or NULL if it was not there (or key is NULL). */
void *hd_strmap_del(hd_strmap_t *m, const char *key);

#endif
