/* Allocation wrappers: out-of-memory is fatal, because every peer-supplied size is bounded first.
 */
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Noreturn void oom(size_t n)
{
    fprintf(stderr, "herald: out of memory allocating %zu bytes\n", n);
    abort();
}

void *hd_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *hd_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        oom(count * size);
    return p;
}

void *hd_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *hd_strdup(const char *s) { return hd_strndup(s, strlen(s)); }

char *hd_strndup(const char *s, size_t n)
{
    char *p = hd_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void hd_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "herald: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}
