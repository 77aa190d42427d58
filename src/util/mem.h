/* Allocation that aborts on out-of-memory, and the assertion macros. */
#ifndef HD_MEM_H
#define HD_MEM_H

#include <stddef.h>

void *hd_malloc(size_t n);
void *hd_calloc(size_t count, size_t size);
void *hd_realloc(void *p, size_t n);
char *hd_strdup(const char *s);
char *hd_strndup(const char *s, size_t n);

/* Aborts with file:line. Stays on in release builds. */
_Noreturn void hd_assert_fail(const char *expr, const char *file, int line);

#define HD_ASSERT(x) ((x) ? (void)0 : hd_assert_fail(#x, __FILE__, __LINE__))
#ifdef NDEBUG
#define HD_DEBUG_ASSERT(x) ((void)0)
#else
#define HD_DEBUG_ASSERT(x) HD_ASSERT(x)
#endif
#define HD_UNREACHABLE() hd_assert_fail("unreachable", __FILE__, __LINE__)
#define HD_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
