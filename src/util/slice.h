/* hd_slice_t: borrowed bytes. A slice never owns memory; it lives as long as the buffer behind it.
 */
#ifndef HD_SLICE_H
#define HD_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct hd_slice {
    const uint8_t *p;
    size_t len;
} hd_slice_t;

static inline hd_slice_t hd_slice(const void *p, size_t len)
{
    hd_slice_t s = {(const uint8_t *)p, len};
    return s;
}

static inline hd_slice_t hd_slice_str(const char *s) { return hd_slice(s, strlen(s)); }

static inline bool hd_slice_eq(hd_slice_t a, hd_slice_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static inline bool hd_slice_eq_str(hd_slice_t a, const char *s)
{
    return hd_slice_eq(a, hd_slice_str(s));
}

/* Returns a NUL-terminated heap copy (hd_malloc; caller frees). */
char *hd_slice_dup(hd_slice_t s);

#endif
