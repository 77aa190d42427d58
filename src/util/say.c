/* say_*: timestamped log lines on stderr. */
#include "util/say.h"
#include "util/monotime.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int say_level = SAY_INFO;

static const char *const names[] = {"error", "warn", "info", "debug"};

int say_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

void say_emit(int level, const char *fmt, ...)
{
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, names[level]);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line)
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
}

int say_ratelimit(int64_t *last_ms, int secs)
{
    int64_t now = hd_mono_ms();
    if (*last_ms != 0 && now - *last_ms < (int64_t)secs * 1000)
        return 0;
    *last_ms = now;
    return 1;
}

const char *say_escape(char *out, size_t n, const void *data, size_t len)
{
    const uint8_t *p = data;
    size_t o = 0;
    if (n == 0)
        return out;
    for (size_t i = 0; i < len && o + 5 < n; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
            out[o++] = (char)p[i];
        else
            o += (size_t)snprintf(out + o, n - o, "\\x%02x", p[i]);
    }
    out[o] = '\0';
    return out;
}
