/* hd_arena_t: chunks of at least 4 KiB, bump allocation, zeroed memory. */
#include "util/arena.h"
#include "util/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct hd_arena_chunk {
    hd_arena_chunk_t *next;
    size_t size;
    size_t used;
    _Alignas(16) uint8_t data[];
};

#define CHUNK_MIN 4096

void hd_arena_init(hd_arena_t *a, size_t limit)
{
    a->_head = NULL;
    a->_used = 0;
    a->_limit = limit;
}

void hd_arena_deinit(hd_arena_t *a)
{
    hd_arena_chunk_t *c = a->_head;
    while (c) {
        hd_arena_chunk_t *n = c->next;
        free(c);
        c = n;
    }
    a->_head = NULL;
    a->_used = 0;
}

void hd_arena_reset(hd_arena_t *a)
{
    hd_arena_chunk_t *c = a->_head;
    hd_arena_chunk_t *keep = NULL;
    while (c) {
        hd_arena_chunk_t *n = c->next;
        if (!n && c->size == CHUNK_MIN) {
            keep = c;
        } else {
            free(c);
        }
        c = n;
    }
    if (keep) {
        keep->used = 0;
        keep->next = NULL;
    }
    a->_head = keep;
    a->_used = 0;
}

void *hd_arena_alloc(hd_arena_t *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    if (a->_limit && (n > a->_limit || a->_used > a->_limit - n))
        return NULL;
    hd_arena_chunk_t *c = a->_head;
    if (!c || c->size - c->used < n) {
        size_t size = n > CHUNK_MIN ? n : CHUNK_MIN;
        c = hd_malloc(sizeof *c + size);
        c->size = size;
        c->used = 0;
        if (a->_head && size > CHUNK_MIN) {
            /* Keep the partly used chunk at the head so small allocations keep filling it. */
            c->next = a->_head->next;
            a->_head->next = c;
        } else {
            c->next = a->_head;
            a->_head = c;
        }
    }
    void *p = c->data + c->used;
    c->used += n;
    a->_used += n;
    memset(p, 0, n);
    return p;
}

char *hd_arena_strndup(hd_arena_t *a, const char *s, size_t n)
{
    char *p = hd_arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
