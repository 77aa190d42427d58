/* say_*: diagnostics on stderr, one line per event, as text or as JSON.
 *
 * Text: "2026-01-02T03:04:05.678Z info  message: k=v k2=\"v 2\"" (the colon only when there
 * are fields).
 * JSON (log.format=json): one object per line, {"ts": "2026-01-02T03:04:05.678Z", "level":
 * "info", "msg": "message", "k": "v", "n": 12}: the fields of say_kv() follow msg, a value made
 * only of decimal digits (with an optional minus sign, at most 18 digits) as a JSON number, any
 * other as a string. Control characters, DEL and bytes that are not valid UTF-8 are escaped
 * (\u00XX), so one event is always one line of valid JSON whatever peer bytes it quotes. A line is
 * at most SAY_LINE_MAX bytes; longer messages are cut (the JSON object stays well formed). */
#include "util/say.h"
#include "util/monotime.h"
#include "util/utf8.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SAY_LINE_MAX 2048

int say_level = SAY_INFO;
int say_format = SAY_FORMAT_TEXT;

static const char *const names[] = {"error", "warn", "info", "debug"};

int say_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

int say_format_parse(const char *s)
{
    if (!strcmp(s, "text"))
        return SAY_FORMAT_TEXT;
    if (!strcmp(s, "json"))
        return SAY_FORMAT_JSON;
    return -1;
}

/* A line under construction; appends past the end are dropped. */
typedef struct line {
    char p[SAY_LINE_MAX];
    size_t len;
} line_t;

static void put(line_t *l, const char *s, size_t n)
{
    /* Keep room for the closing brace of a JSON object and the newline. */
    size_t room = sizeof l->p - 3 - l->len;
    if (n > room)
        n = room;
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

static void puts_(line_t *l, const char *s) { put(l, s, strlen(s)); }

/* The length of the valid UTF-8 sequence at s (2..4 bytes), or 0. */
static size_t utf8_seq(const char *s)
{
    unsigned char c = (unsigned char)*s;
    size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    for (size_t i = 1; i < n; i++)
        if (!s[i])
            return 0;
    return n && hd_utf8_valid(s, n) ? n : 0;
}

/* Appends s as the inside of a JSON string: valid UTF-8 as is, control characters, DEL and
 * bytes that are not UTF-8 as \u00XX. */
static void put_json(line_t *l, const char *s)
{
    /* Stop short of the end so that the closing quote and brace always fit, and never cut an
     * escape or a UTF-8 sequence. */
    while (*s && l->len < SAY_LINE_MAX - 64) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        size_t n;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(l, esc, 2);
        } else if (c >= 0x80 && (n = utf8_seq(s)) > 0) {
            put(l, s, n);
            s += n;
            continue;
        } else if (c < 0x20 || c >= 0x7f) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            put(l, esc, 6);
        } else {
            put(l, s, 1);
        }
        s++;
    }
}

static bool is_number(const char *v)
{
    const char *d = v[0] == '-' ? v + 1 : v;
    size_t n = strlen(d);
    if (n == 0 || n > 18 || (d[0] == '0' && n > 1))
        return false;
    for (size_t i = 0; i < n; i++)
        if (d[i] < '0' || d[i] > '9')
            return false;
    return true;
}

static void put_head(line_t *l, int level)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char head[64];
    snprintf(head, sizeof head, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    l->len = 0;
    if (say_format == SAY_FORMAT_JSON) {
        puts_(l, "{\"ts\":\"");
        puts_(l, head);
        puts_(l, "\",\"level\":\"");
        puts_(l, names[level]);
        puts_(l, "\",\"msg\":\"");
    } else {
        char lv[16];
        snprintf(lv, sizeof lv, " %-5s ", names[level]);
        puts_(l, head);
        puts_(l, lv);
    }
}

static void put_msg(line_t *l, const char *msg)
{
    if (say_format == SAY_FORMAT_JSON) {
        put_json(l, msg);
        puts_(l, "\"");
    } else {
        puts_(l, msg);
    }
}

static void put_field(line_t *l, const char *k, const char *v)
{
    if (l->len > SAY_LINE_MAX - 128)
        return; /* no room left: the field is left out whole */
    if (say_format == SAY_FORMAT_JSON) {
        puts_(l, ",\"");
        put_json(l, k);
        puts_(l, "\":");
        if (is_number(v)) {
            puts_(l, v);
        } else {
            puts_(l, "\"");
            put_json(l, v);
            puts_(l, "\"");
        }
        return;
    }
    puts_(l, " ");
    puts_(l, k);
    puts_(l, "=");
    bool quote = !*v || strpbrk(v, " \"=") != NULL;
    if (quote)
        puts_(l, "\"");
    for (const char *c = v; *c; c++)
        if (*c == '"')
            puts_(l, "\\\"");
        else
            put(l, c, 1);
    if (quote)
        puts_(l, "\"");
}

static void finish(line_t *l)
{
    if (say_format == SAY_FORMAT_JSON)
        l->p[l->len++] = '}';
    l->p[l->len++] = '\n';
    fwrite(l->p, 1, l->len, stderr);
}

void say_emit(int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    line_t l;
    put_head(&l, level);
    put_msg(&l, msg);
    finish(&l);
}

void say_emit_kv(int level, const char *msg, ...)
{
    line_t l;
    put_head(&l, level);
    put_msg(&l, msg);
    va_list ap;
    va_start(ap, msg);
    bool first = true;
    for (const char *k = va_arg(ap, const char *); k; k = va_arg(ap, const char *)) {
        const char *v = va_arg(ap, const char *);
        if (first && say_format == SAY_FORMAT_TEXT)
            puts_(&l, ":");
        first = false;
        put_field(&l, k, v ? v : "");
    }
    va_end(ap);
    finish(&l);
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
