/* Span export as OTLP/HTTP with the JSON encoding (OpenTelemetry protocol, ExportTraceService
 * request) to otel.exporter.otlp.endpoint + "/v1/traces".
 *
 * Threads: the loop thread makes spans (obs_trace_batches, obs_trace_span) and pushes them into
 * a bounded ring under a mutex held only to copy one span in; the exporter thread takes up to
 * OTLP_BATCH spans at a time, encodes them and POSTs them with libcurl, so a slow or absent
 * collector never stalls the loop. A full ring drops the new span (counted). The loop thread
 * also limits how many spans it makes: a token bucket of otel.spans.per.second (bursts up to
 * one second's worth); a run of records found while the bucket is empty is dropped (counted),
 * and batches met while it is empty are not even examined (counted). Examining itself is
 * budgeted too, at OTLP_SCAN_RECORDS_PER_SEC records, since batches without trace context cost
 * a header walk (and inflation when compressed) but take no span token. So the cost of tracing
 * is bounded whatever the record rate.
 *
 * Spans: only sampled trace context (trace-flags bit 0) is exported, as a parent-based sampler
 * would. Each span is a child of the record's traceparent (traceId = its trace-id,
 * parentSpanId = its parent-id) and has a fresh random spanId; kind SERVER (the broker serving
 * a produce or a fetch); name "send <topic>" for produced records and "receive <topic>" for
 * delivered ones, as the messaging semantic conventions name spans "{operation} {destination}".
 * Attributes: messaging.system "kafka", messaging.destination.name, messaging.destination.
 * partition.id, messaging.operation.type ("send" / "receive"), messaging.operation.name
 * ("produce", "fetch", "read", "sse", "ws", "subscription"), messaging.kafka.offset (the first
 * record's),
 * messaging.batch.message_count (when the span covers more than one record),
 * messaging.client.id, messaging.consumer.group.name and messaging.destination.subscription.name
 * when known, network.protocol.name
 * ("kafka" or "http"). The span starts when the request arrived and ends when it was made. */
#include "obs/obs.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/monotime.h"
#include "util/say.h"
#include "util/sched.h"

#include "util/curl_dl.h"
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define OTLP_QUEUE 4096
#define OTLP_BATCH 256
#define OTLP_LINGER_MS 200 /* wait this long for a fuller batch */
#define OTLP_TIMEOUT_MS 3000
#define OTLP_STOP_MS 3000 /* time left to send what is queued at shutdown */
#define OTLP_MAX_INFLATED (8u << 20)
#define OTLP_STR 256
/* Records examined for trace context per second (Kafka batches), whatever spans they yield:
 * bounds the header walks and inflation done on the loop thread when most records carry no
 * trace context. */
#define OTLP_SCAN_RECORDS_PER_SEC 200000.0

typedef struct span {
    uint8_t trace_id[16];
    uint8_t parent_id[8];
    uint8_t span_id[8];
    bool deliver;
    int32_t partition;
    int32_t count;
    int64_t offset;
    int64_t start_unix_ns;
    int64_t end_unix_ns;
    char via[16];
    char topic[OTLP_STR];
    char client_id[OTLP_STR];
    char group[OTLP_STR];
    char subscription[OTLP_STR];
} span_t;

bool obs_otlp_on;

static struct {
    /* Set before the thread starts, then read-only. */
    const hd_curl_t *cu;
    char *url;
    int64_t rate;
    pthread_t thread;
    /* Guarded by mu. */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    span_t *ring;
    size_t head, count;
    bool stop;
    /* Loop thread. */
    double tokens;
    int64_t refill_ns;
    double scan_tokens;
    int64_t scan_refill_ns;
    uint64_t rng;
    hd_buf_t scratch;
    uint64_t dropped_rate, dropped_queue, skipped_batches, made;
    /* Exporter thread, read by the loop thread when rendering. */
    _Atomic uint64_t exported, failed, posts_ok, posts_failed;
} x = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

/* ---- the loop thread's side ---- */

static uint64_t rng_next(void)
{
    /* xorshift64*: span ids need to be unique, not secret. */
    x.rng ^= x.rng >> 12;
    x.rng ^= x.rng << 25;
    x.rng ^= x.rng >> 27;
    return x.rng * 2685821657736338717ull;
}

static bool take_token(void)
{
    int64_t now = hd_mono_ns();
    x.tokens += (double)(now - x.refill_ns) * (double)x.rate / 1e9;
    x.refill_ns = now;
    if (x.tokens > (double)x.rate)
        x.tokens = (double)x.rate;
    if (x.tokens < 1.0)
        return false;
    x.tokens -= 1.0;
    return true;
}

static bool have_token(void)
{
    int64_t now = hd_mono_ns();
    return x.tokens + (double)(now - x.refill_ns) * (double)x.rate / 1e9 >= 1.0;
}

/* Takes n records from the scan budget; false when it cannot cover them. */
static bool take_scan(int32_t n)
{
    int64_t now = hd_mono_ns();
    x.scan_tokens += (double)(now - x.scan_refill_ns) * OTLP_SCAN_RECORDS_PER_SEC / 1e9;
    x.scan_refill_ns = now;
    if (x.scan_tokens > OTLP_SCAN_RECORDS_PER_SEC)
        x.scan_tokens = OTLP_SCAN_RECORDS_PER_SEC;
    if (x.scan_tokens < (double)n)
        return false;
    x.scan_tokens -= (double)n;
    return true;
}

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void copy_str(char *dst, const char *src) { snprintf(dst, OTLP_STR, "%s", src ? src : ""); }

static void push(const obs_span_op_t *op, const obs_trace_ctx_t *tc, int64_t first_offset, int n)
{
    if (!(tc->flags & 1))
        return; /* not sampled upstream */
    if (!take_token()) {
        x.dropped_rate++;
        return;
    }
    span_t sp;
    memcpy(sp.trace_id, tc->trace_id, 16);
    memcpy(sp.parent_id, tc->parent_id, 8);
    uint64_t id;
    do
        id = rng_next();
    while (id == 0);
    memcpy(sp.span_id, &id, 8);
    sp.deliver = op->deliver;
    sp.partition = op->partition;
    sp.count = n;
    sp.offset = first_offset;
    int64_t now_unix = wall_ns();
    int64_t age = hd_mono_ns() - op->start_ns;
    sp.end_unix_ns = now_unix;
    sp.start_unix_ns = age > 0 && age < now_unix ? now_unix - age : now_unix;
    snprintf(sp.via, sizeof sp.via, "%s", op->via);
    copy_str(sp.topic, op->topic);
    copy_str(sp.client_id, op->client_id);
    copy_str(sp.group, op->group);
    copy_str(sp.subscription, op->subscription);
    pthread_mutex_lock(&x.mu);
    bool full = x.count == OTLP_QUEUE;
    if (!full) {
        x.ring[(x.head + x.count) % OTLP_QUEUE] = sp;
        x.count++;
        /* Wake the exporter for the first span (it then lingers for more) and for a full
         * batch (it stops lingering). */
        if (x.count == 1 || x.count == OTLP_BATCH)
            pthread_cond_signal(&x.cond);
    }
    pthread_mutex_unlock(&x.mu);
    if (full)
        x.dropped_queue++;
    else
        x.made++;
}

void obs_trace_span(const obs_span_op_t *op, const obs_trace_ctx_t *tc, int64_t first_offset, int n)
{
    if (obs_otlp_on && n > 0)
        push(op, tc, first_offset, n);
}

typedef struct scan {
    const obs_span_op_t *op;
    int64_t shift; /* added to each record's offset */
    bool in_run;
    obs_trace_ctx_t run;
    int64_t run_first;
    int run_n;
} scan_t;

static void scan_flush(scan_t *sc)
{
    if (sc->in_run)
        push(sc->op, &sc->run, sc->run_first, sc->run_n);
    sc->in_run = false;
}

static int scan_record(void *ctx, const broker_record_t *rec)
{
    scan_t *sc = ctx;
    int64_t offset = rec->offset + sc->shift;
    if (offset < sc->op->from_offset)
        return 0;
    obs_trace_ctx_t tc;
    if (!obs_record_trace(rec, &tc)) {
        scan_flush(sc);
        return 0;
    }
    if (sc->in_run && !memcmp(tc.trace_id, sc->run.trace_id, 16) &&
        !memcmp(tc.parent_id, sc->run.parent_id, 8)) {
        sc->run_n++;
        return 0;
    }
    scan_flush(sc);
    sc->in_run = true;
    sc->run = tc;
    sc->run_first = offset;
    sc->run_n = 1;
    return 0;
}

void obs_trace_batches(const obs_span_op_t *op, hd_slice_t batches)
{
    if (!obs_otlp_on)
        return;
    scan_t sc = {.op = op};
    size_t pos = 0;
    bool first = true;
    while (pos + BROKER_BATCH_HEADER_LEN <= batches.len) {
        broker_batch_hdr_t h;
        broker_batch_hdr_decode(batches.p + pos, &h);
        if (h.batch_length <= 0 || pos + 12 + (size_t)h.batch_length > batches.len)
            break; /* a fetch may end with part of a batch */
        hd_slice_t b = hd_slice(batches.p + pos, 12 + (size_t)h.batch_length);
        pos += b.len;
        sc.shift = first && op->base_offset >= 0 ? op->base_offset - h.base_offset : 0;
        first = false;
        if (h.attributes & BROKER_ATTR_CONTROL ||
            h.base_offset + sc.shift + h.last_offset_delta < op->from_offset)
            continue;
        if (!have_token() || !take_scan(h.records_count > 0 ? h.records_count : 1)) {
            x.skipped_batches++;
            continue;
        }
        hd_buf_reset(&x.scratch);
        broker_batch_for_each(b, OTLP_MAX_INFLATED, &x.scratch, scan_record, &sc);
        scan_flush(&sc);
    }
    if (x.scratch.cap > OTLP_MAX_INFLATED / 4) {
        hd_buf_deinit(&x.scratch);
        hd_buf_init(&x.scratch);
    }
}

/* ---- the exporter thread ---- */

static void hex(char *out, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static void attr_str(json_t *attrs, const char *k, const char *v)
{
    json_t *val = json_object();
    json_object_set_new(val, "stringValue", json_string(v));
    json_t *a = json_object();
    json_object_set_new(a, "key", json_string(k));
    json_object_set_new(a, "value", val);
    json_array_append_new(attrs, a);
}

static void attr_int(json_t *attrs, const char *k, int64_t v)
{
    char s[24];
    snprintf(s, sizeof s, "%lld", (long long)v);
    json_t *val = json_object();
    json_object_set_new(val, "intValue", json_string(s)); /* int64 is a string in proto3 JSON */
    json_t *a = json_object();
    json_object_set_new(a, "key", json_string(k));
    json_object_set_new(a, "value", val);
    json_array_append_new(attrs, a);
}

static const char *op_name(const span_t *s)
{
    if (!s->deliver)
        return "produce";
    if (!strcmp(s->via, "kafka"))
        return "fetch";
    if (!strcmp(s->via, "http"))
        return "read";
    return s->via;
}

static json_t *span_json(const span_t *s)
{
    char tid[33], pid[17], sid[17], name[OTLP_STR + 16], t[24];
    hex(tid, s->trace_id, 16);
    hex(pid, s->parent_id, 8);
    hex(sid, s->span_id, 8);
    json_t *j = json_object();
    json_object_set_new(j, "traceId", json_string(tid));
    json_object_set_new(j, "spanId", json_string(sid));
    json_object_set_new(j, "parentSpanId", json_string(pid));
    snprintf(name, sizeof name, "%s %s", s->deliver ? "receive" : "send", s->topic);
    json_object_set_new(j, "name", json_string(name));
    json_object_set_new(j, "kind", json_integer(2)); /* SPAN_KIND_SERVER */
    snprintf(t, sizeof t, "%lld", (long long)s->start_unix_ns);
    json_object_set_new(j, "startTimeUnixNano", json_string(t));
    snprintf(t, sizeof t, "%lld", (long long)s->end_unix_ns);
    json_object_set_new(j, "endTimeUnixNano", json_string(t));
    json_t *attrs = json_array();
    attr_str(attrs, "messaging.system", "kafka");
    attr_str(attrs, "messaging.destination.name", s->topic);
    char part[16];
    snprintf(part, sizeof part, "%d", s->partition);
    attr_str(attrs, "messaging.destination.partition.id", part);
    attr_str(attrs, "messaging.operation.type", s->deliver ? "receive" : "send");
    attr_str(attrs, "messaging.operation.name", op_name(s));
    attr_int(attrs, "messaging.kafka.offset", s->offset);
    if (s->count > 1)
        attr_int(attrs, "messaging.batch.message_count", s->count);
    if (s->client_id[0])
        attr_str(attrs, "messaging.client.id", s->client_id);
    if (s->group[0])
        attr_str(attrs, "messaging.consumer.group.name", s->group);
    if (s->subscription[0])
        attr_str(attrs, "messaging.destination.subscription.name", s->subscription);
    attr_str(attrs, "network.protocol.name", !strcmp(s->via, "kafka") ? "kafka" : "http");
    json_object_set_new(j, "attributes", attrs);
    return j;
}

static char *encode(const span_t *spans, size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, span_json(&spans[i]));
    json_t *scope = json_object();
    json_object_set_new(scope, "name", json_string("herald"));
    json_t *ss = json_object();
    json_object_set_new(ss, "scope", scope);
    json_object_set_new(ss, "spans", list);
    json_t *rattrs = json_array();
    attr_str(rattrs, "service.name", "herald");
    json_t *res = json_object();
    json_object_set_new(res, "attributes", rattrs);
    json_t *rs = json_object();
    json_object_set_new(rs, "resource", res);
    json_object_set_new(rs, "scopeSpans", json_pack("[o]", ss));
    json_t *root = json_pack("{s:[o]}", "resourceSpans", rs);
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return text;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

static void post(CURL *curl, struct curl_slist *hdrs, const span_t *spans, size_t n)
{
    char *body = encode(spans, n);
    if (!body) {
        atomic_fetch_add(&x.failed, n);
        return;
    }
    x.cu->easy_setopt(curl, CURLOPT_URL, x.url);
    x.cu->easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    x.cu->easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    x.cu->easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    x.cu->easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)OTLP_TIMEOUT_MS);
    x.cu->easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
    x.cu->easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    x.cu->easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = x.cu->easy_perform(curl);
    long status = 0;
    if (rc == CURLE_OK)
        x.cu->easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    free(body);
    if (rc == CURLE_OK && status >= 200 && status < 300) {
        atomic_fetch_add(&x.exported, n);
        atomic_fetch_add(&x.posts_ok, 1);
        return;
    }
    atomic_fetch_add(&x.failed, n);
    atomic_fetch_add(&x.posts_failed, 1);
    if (rc != CURLE_OK)
        say_warn_every(60, "otlp export to %s failed: %s", x.url, x.cu->easy_strerror(rc));
    else
        say_warn_every(60, "otlp export to %s failed: HTTP %ld", x.url, status);
}

static void *exporter_main(void *arg)
{
    (void)arg;
    hd_thread_name("hd-otlp");
    CURL *curl = x.cu->easy_init();
    struct curl_slist *hdrs = x.cu->slist_append(NULL, "Content-Type: application/json");
    span_t *batch = hd_malloc(sizeof *batch * OTLP_BATCH);
    int64_t stop_by = 0;
    pthread_mutex_lock(&x.mu);
    for (;;) {
        while (x.count == 0 && !x.stop)
            pthread_cond_wait(&x.cond, &x.mu);
        if (x.count == 0)
            break; /* stopping, nothing left */
        if (x.count < OTLP_BATCH && !x.stop) {
            struct timespec ts;
            hd_mono_deadline(&ts, OTLP_LINGER_MS);
            pthread_cond_timedwait(&x.cond, &x.mu, &ts);
        }
        if (x.stop && !stop_by)
            stop_by = hd_mono_ms() + OTLP_STOP_MS;
        if (stop_by && hd_mono_ms() > stop_by)
            break;
        size_t n = x.count < OTLP_BATCH ? x.count : OTLP_BATCH;
        for (size_t i = 0; i < n; i++)
            batch[i] = x.ring[(x.head + i) % OTLP_QUEUE];
        x.head = (x.head + n) % OTLP_QUEUE;
        x.count -= n;
        pthread_mutex_unlock(&x.mu);
        if (curl)
            post(curl, hdrs, batch, n);
        else
            atomic_fetch_add(&x.failed, n);
        pthread_mutex_lock(&x.mu);
    }
    pthread_mutex_unlock(&x.mu);
    free(batch);
    x.cu->slist_free_all(hdrs);
    x.cu->easy_cleanup(curl);
    return NULL;
}

/* ---- start, stop, metrics ---- */

int obs_otlp_start(const hd_config_t *cfg, const char **why)
{
    const char *e = cfg->otlp_endpoint;
    if (!e || !e[0])
        return 0;
    size_t scheme = !strncmp(e, "http://", 7) ? 7 : !strncmp(e, "https://", 8) ? 8 : 0;
    if (!scheme || !e[scheme] || e[scheme] == '/' || strlen(e) > 1024) {
        *why = "otel.exporter.otlp.endpoint must be http://HOST:PORT (or https://)";
        return HD_EINVAL;
    }
    x.cu = hd_curl(why);
    if (!x.cu)
        return HD_EUNSUPPORTED;
    size_t n = strlen(e);
    while (n > scheme && e[n - 1] == '/')
        n--;
    const char *suffix = "/v1/traces";
    size_t sl = strlen(suffix);
    bool has = n >= sl && !memcmp(e + n - sl, suffix, sl);
    x.url = hd_malloc(n + sl + 1);
    memcpy(x.url, e, n);
    memcpy(x.url + n, has ? "" : suffix, has ? 1 : sl + 1);
    x.url[has ? n : n + sl] = '\0';
    x.rate = cfg->otlp_spans_per_second;
    x.tokens = (double)x.rate;
    x.refill_ns = hd_mono_ns();
    x.scan_tokens = OTLP_SCAN_RECORDS_PER_SEC;
    x.scan_refill_ns = x.refill_ns;
    x.rng = ((uint64_t)hd_wall_ms() << 20) ^ (uint64_t)getpid() ^ (uint64_t)hd_mono_ns();
    if (!x.rng)
        x.rng = 1;
    x.ring = hd_malloc(sizeof *x.ring * OTLP_QUEUE);
    x.head = x.count = 0;
    x.stop = false;
    hd_buf_init(&x.scratch);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_destroy(&x.cond);
    pthread_cond_init(&x.cond, &ca);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&x.thread, NULL, exporter_main, NULL);
    if (rc != 0) {
        free(x.ring);
        free(x.url);
        x.ring = NULL;
        x.url = NULL;
        *why = "cannot start the span exporter thread";
        return -rc;
    }
    obs_otlp_on = true;
    say_kv(SAY_INFO, "exporting spans", "endpoint", x.url);
    return 0;
}

void obs_otlp_stop(void)
{
    if (!obs_otlp_on)
        return;
    obs_otlp_on = false;
    pthread_mutex_lock(&x.mu);
    x.stop = true;
    pthread_cond_signal(&x.cond);
    pthread_mutex_unlock(&x.mu);
    pthread_join(x.thread, NULL);
    free(x.ring);
    free(x.url);
    x.ring = NULL;
    x.url = NULL;
    hd_buf_deinit(&x.scratch);
}

void obs__otlp_render(hd_buf_t *out)
{
    char line[160];
    obs__family(out, "herald_otlp_spans_total", "counter",
                "Spans for export by outcome: queued (made and queued), exported, failed (the "
                "collector refused them or was unreachable), dropped_rate (over "
                "otel.spans.per.second), dropped_queue (the exporter's queue was full).");
    const struct {
        const char *k;
        uint64_t v;
    } rows[] = {
        {"queued", x.made},
        {"exported", atomic_load(&x.exported)},
        {"failed", atomic_load(&x.failed)},
        {"dropped_rate", x.dropped_rate},
        {"dropped_queue", x.dropped_queue},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int n = snprintf(line, sizeof line, "herald_otlp_spans_total{outcome=\"%s\"} %llu\n",
                         rows[i].k, (unsigned long long)rows[i].v);
        hd_buf_put(out, line, (size_t)n);
    }
    obs__family(out, "herald_otlp_batches_skipped_total", "counter",
                "Record batches not examined for trace context because the span budget "
                "(otel.spans.per.second) or the scan budget (200000 records/s) was spent.");
    int n = snprintf(line, sizeof line, "herald_otlp_batches_skipped_total %llu\n",
                     (unsigned long long)x.skipped_batches);
    hd_buf_put(out, line, (size_t)n);
    obs__family(out, "herald_otlp_exports_total", "counter",
                "OTLP/HTTP export requests by result (ok: 2xx; error: anything else).");
    n = snprintf(line, sizeof line, "herald_otlp_exports_total{result=\"ok\"} %llu\n",
                 (unsigned long long)atomic_load(&x.posts_ok));
    hd_buf_put(out, line, (size_t)n);
    n = snprintf(line, sizeof line, "herald_otlp_exports_total{result=\"error\"} %llu\n",
                 (unsigned long long)atomic_load(&x.posts_failed));
    hd_buf_put(out, line, (size_t)n);
}
