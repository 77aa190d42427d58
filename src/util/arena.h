/* hd_arena_t: a per-request bump allocator, freed in one call. */
#ifndef HD_ARENA_H
#define HD_ARENA_H

#include <stddef.h>

typedef struct hd_arena_chunk hd_arena_chunk_t;

typedef struct hd_arena {
    hd_arena_chunk_t *_head;
    size_t _used;  /* bytes handed out, across chunks */
    size_t _limit; /* 0 = unlimited */
} hd_arena_t;

/* limit bounds the total handed out; an allocation past it returns NULL. */
void hd_arena_init(hd_arena_t *a, size_t limit);
void hd_arena_deinit(hd_arena_t *a);
/* Frees everything but keeps the first chunk for reuse. */
void hd_arena_reset(hd_arena_t *a);
/* Returns zeroed, 16-byte aligned memory, or NULL when the limit would be passed. */
void *hd_arena_alloc(hd_arena_t *a, size_t n);
char *hd_arena_strndup(hd_arena_t *a, const char *s, size_t n);

#endif
