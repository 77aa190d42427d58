/* Diagnostics logging: one line per event, subject first, level checked before formatting, as
 * text or JSON (say_format; the formats are described in say.c). */
#ifndef HD_SAY_H
#define HD_SAY_H

#include <stddef.h>
#include <stdint.h>

enum { SAY_ERROR = 0, SAY_WARN = 1, SAY_INFO = 2, SAY_DEBUG = 3 };

enum { SAY_FORMAT_TEXT = 0, SAY_FORMAT_JSON = 1 };

extern int say_level;
/* Set once at startup, before any thread starts. */
extern int say_format;

/* Parses "error", "warn", "info" or "debug"; returns the level or -1. */
int say_level_parse(const char *s);
/* Parses "text" or "json"; returns the format or -1. */
int say_format_parse(const char *s);
void say_emit(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Emits msg (not a format) followed by fields: (const char *key, const char *value) pairs,
 * ended by a NULL key. Use through say_kv(), which adds the NULL. */
void say_emit_kv(int level, const char *msg, ...);

#define say_at(lvl, ...)                                                                           \
    do {                                                                                           \
        if ((lvl) <= say_level)                                                                    \
            say_emit((lvl), __VA_ARGS__);                                                          \
    } while (0)
/* say_kv(SAY_INFO, "topic created", "topic", name, "partitions", "3"): an event with fields. */
#define say_kv(lvl, msg, ...)                                                                      \
    do {                                                                                           \
        if ((lvl) <= say_level)                                                                    \
            say_emit_kv((lvl), (msg), __VA_ARGS__, (const char *)NULL);                            \
    } while (0)
#define say_error(...) say_at(SAY_ERROR, __VA_ARGS__)
#define say_warn(...) say_at(SAY_WARN, __VA_ARGS__)
#define say_info(...) say_at(SAY_INFO, __VA_ARGS__)
#define say_debug(...) say_at(SAY_DEBUG, __VA_ARGS__)
/* Emits at most once per `secs` seconds from this call site. */
#define say_warn_every(secs, ...)                                                                  \
    do {                                                                                           \
        static int64_t say_last_;                                                                  \
        if (say_ratelimit(&say_last_, (secs)))                                                     \
            say_warn(__VA_ARGS__);                                                                 \
    } while (0)

int say_ratelimit(int64_t *last_ms, int secs);

/* Copies peer bytes into out (size n) as printable text, escaping the rest as \xNN. */
const char *say_escape(char *out, size_t n, const void *p, size_t len);

#endif
