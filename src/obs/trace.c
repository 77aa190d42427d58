/* Trace context and end-to-end latency.
 *
 * Trace context is W3C Trace Context (https://www.w3.org/TR/trace-context/), carried in record
 * headers exactly as the HTTP headers of the same name:
 *
 *   traceparent  "vv-tttttttttttttttttttttttttttttttt-pppppppppppppppp-ff"
 *                version (2 hex), trace-id (32 hex, not all zero), parent-id (16 hex, not all
 *                zero), trace-flags (2 hex; bit 0 = sampled); lowercase hex, '-' separators,
 *                55 characters for version 00. Version ff is invalid.
 *   tracestate   vendor list "key=value,key2=value2", at most 32 members; carried as is.
 *
 * A CloudEvent's distributed-tracing extension is the same pair of strings as the attributes
 * traceparent and tracestate (record headers ce_traceparent / ce_tracestate in the Kafka
 * binding). The broker never rewrites a record's own trace context; it only adds one taken from
 * an HTTP request to records that have none (http/produce.c).
 *
 * End-to-end latency is the time from a record's timestamp to its delivery, observed once per
 * delivered batch or answer with the newest timestamp among the records delivered (so it is the
 * freshest record's latency, and costs one histogram update, not one per record). Series are
 * (kind, group); a bounded table holds them, and groups beyond it share group="_other". Loop
 * thread only. */
#include "obs/obs.h"
#include "util/mem.h"
#include "util/monotime.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- traceparent / tracestate ---- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* uppercase is invalid in traceparent */
}

/* Decodes n bytes of lowercase hex from s into out. Returns false on a bad digit or when every
 * byte is zero (when nonzero is set). */
static bool hex_bytes(const char *s, uint8_t *out, size_t n, bool nonzero)
{
    uint8_t any = 0;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
        any |= out[i];
    }
    return !nonzero || any != 0;
}

bool obs_traceparent_parse(const char *s, size_t n, obs_trace_ctx_t *out)
{
    if (!s || n < OBS_TRACEPARENT_LEN)
        return false;
    uint8_t version;
    if (!hex_bytes(s, &version, 1, false) || version == 0xff)
        return false;
    if (version == 0 && n != OBS_TRACEPARENT_LEN)
        return false;
    if (version > 0 && n > OBS_TRACEPARENT_LEN && s[OBS_TRACEPARENT_LEN] != '-')
        return false;
    if (s[2] != '-' || s[35] != '-' || s[52] != '-')
        return false;
    obs_trace_ctx_t tc;
    if (!hex_bytes(s + 3, tc.trace_id, 16, true) || !hex_bytes(s + 36, tc.parent_id, 8, true) ||
        !hex_bytes(s + 53, &tc.flags, 1, false))
        return false;
    if (out)
        *out = tc;
    return true;
}

bool obs_tracestate_valid(const char *s, size_t n)
{
    if (!s || n == 0 || n > OBS_TRACESTATE_MAX)
        return false;
    int members = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && (s[i] < 0x20 || s[i] > 0x7e))
            return false;
        if (i < n && s[i] != ',')
            continue;
        /* One list member s[start..i), with optional spaces around it. */
        size_t a = start, b = i;
        while (a < b && s[a] == ' ')
            a++;
        while (b > a && s[b - 1] == ' ')
            b--;
        if (a < b) {
            const char *eq = memchr(s + a, '=', b - a);
            if (!eq || eq == s + a || eq == s + b - 1)
                return false;
            if (++members > 32)
                return false;
        }
        start = i + 1;
    }
    return true;
}

bool obs_record_trace(const broker_record_t *rec, obs_trace_ctx_t *out)
{
    hd_slice_t area = rec->headers;
    bool have_ce = false;
    obs_trace_ctx_t ce;
    for (int32_t i = 0; i < rec->headers_count; i++) {
        broker_header_t h;
        if (broker_header_next(&area, &h) < 0)
            break;
        if (h.value_null)
            continue;
        if (hd_slice_eq_str(h.name, "traceparent")) {
            if (obs_traceparent_parse((const char *)h.value.p, h.value.len, out))
                return true;
        } else if (!have_ce && hd_slice_eq_str(h.name, "ce_traceparent")) {
            have_ce = obs_traceparent_parse((const char *)h.value.p, h.value.len, &ce);
        }
    }
    if (have_ce && out)
        *out = ce;
    return have_ce;
}

/* ---- end-to-end latency ---- */

#define E2E_SLOTS 1024 /* open addressing, at most half full */
#define E2E_MAX_SERIES 512
#define E2E_OTHER "_other"

/* Upper bounds in milliseconds: 1 ms .. 1 h. */
static const int64_t e2e_bounds_ms[] = {1,     2,     5,     10,     25,     50,
                                        100,   250,   500,   1000,   2500,   5000,
                                        10000, 30000, 60000, 300000, 900000, 3600000};
#define E2E_BUCKETS ((int)(sizeof e2e_bounds_ms / sizeof e2e_bounds_ms[0]))

static const char *const kind_names[OBS_DELIVERY_KINDS] = {"kafka", "http_read", "sse", "ws",
                                                           "subscription"};

typedef struct e2e_series {
    char *group; /* NULL: free slot */
    int kind;
    uint64_t buckets[E2E_BUCKETS + 1];
    uint64_t count;
    double sum_s;
} e2e_series_t;

static struct {
    e2e_series_t slots[E2E_SLOTS];
    int used;
    int order[E2E_MAX_SERIES + OBS_DELIVERY_KINDS]; /* slot indexes in order of creation */
} e2e;

static uint32_t fnv(const char *s, int kind)
{
    uint32_t h = 2166136261u ^ (uint32_t)kind;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static e2e_series_t *series_find(int kind, const char *group, bool create)
{
    uint32_t i = fnv(group, kind) % E2E_SLOTS;
    for (;;) {
        e2e_series_t *s = &e2e.slots[i];
        if (!s->group)
            break;
        if (s->kind == kind && !strcmp(s->group, group))
            return s;
        i = (i + 1) % E2E_SLOTS;
    }
    if (!create)
        return NULL;
    e2e_series_t *s = &e2e.slots[i];
    s->group = hd_slice_dup(hd_slice_str(group));
    s->kind = kind;
    e2e.order[e2e.used++] = (int)i;
    return s;
}

void obs_e2e_observe(int kind, const char *group, int64_t max_ts_ms)
{
    if (kind < 0 || kind >= OBS_DELIVERY_KINDS || max_ts_ms < 0)
        return;
    if (!group)
        group = "";
    e2e_series_t *s = series_find(kind, group, false);
    /* Past the limit, new groups share one series per kind (the table keeps room for those). */
    if (!s && e2e.used >= E2E_MAX_SERIES)
        s = series_find(kind, E2E_OTHER, true);
    else if (!s)
        s = series_find(kind, group, true);
    int64_t ms = hd_wall_ms() - max_ts_ms;
    if (ms < 0)
        ms = 0;
    int b = 0;
    while (b < E2E_BUCKETS && ms > e2e_bounds_ms[b])
        b++;
    s->buckets[b]++;
    s->count++;
    s->sum_s += (double)ms / 1000.0;
}

void obs_e2e_observe_batches(int kind, const char *group, hd_slice_t batches)
{
    int64_t max_ts = -1;
    size_t pos = 0;
    while (pos + BROKER_BATCH_HEADER_LEN <= batches.len) {
        broker_batch_hdr_t h;
        broker_batch_hdr_decode(batches.p + pos, &h);
        if (h.batch_length <= 0)
            break;
        if (!(h.attributes & BROKER_ATTR_CONTROL) && h.max_timestamp > max_ts)
            max_ts = h.max_timestamp;
        pos += (size_t)h.batch_length + 12;
    }
    if (max_ts >= 0)
        obs_e2e_observe(kind, group, max_ts);
}

/* ---- rendering ---- */

static void put(hd_buf_t *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(hd_buf_t *out, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        hd_buf_put(out, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void e2e_labels(hd_buf_t *out, const e2e_series_t *s)
{
    put(out, "kind=\"%s\",group=\"", kind_names[s->kind]);
    obs__label(out, s->group);
    hd_buf_put_u8(out, '"');
}

void obs__trace_render(hd_buf_t *out)
{
    const char *name = "herald_e2e_latency_seconds";
    obs__family(out, name, "histogram",
                "Time from a record's timestamp to its delivery, observed once per delivered "
                "batch with its newest record, per delivery kind and consumer group.");
    for (int k = 0; k < e2e.used; k++) {
        const e2e_series_t *s = &e2e.slots[e2e.order[k]];
        uint64_t cum = 0;
        for (int b = 0; b <= E2E_BUCKETS; b++) {
            cum += s->buckets[b];
            put(out, "%s_bucket{", name);
            e2e_labels(out, s);
            if (b < E2E_BUCKETS)
                put(out, ",le=\"%.9g\"} %llu\n", (double)e2e_bounds_ms[b] / 1000.0,
                    (unsigned long long)cum);
            else
                put(out, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
        }
        put(out, "%s_sum{", name);
        e2e_labels(out, s);
        put(out, "} %.9g\n", s->sum_s);
        put(out, "%s_count{", name);
        e2e_labels(out, s);
        put(out, "} %llu\n", (unsigned long long)cum);
    }
    obs__otlp_render(out);
}
