/* Prometheus metrics: counters reported by the protocol modules (requests, connections), and
 * state read from broker/ at scrape time (topics, partitions, consumer groups, sync latency).
 *
 * Names follow Prometheus conventions with the herald_ prefix: counters end in _total, sizes in
 * _bytes, durations are histograms in seconds. Label values are escaped as the text format
 * requires (backslash, double quote, newline). */
#include "obs/obs.h"
#include "broker/group.h"
#include "util/fdlimit.h"
#include "util/hist.h"
#include "util/mem.h"
#include "util/monotime.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KAFKA_APIS 128
#define HTTP_SERIES 256
#define HTTP_HISTS 64
/* Lag in seconds needs a read of the oldest unconsumed batch; at most this many per scrape. */
#define LAG_SECONDS_MAX_READS 256

static const char *const listener_names[OBS_LISTENER_COUNT] = {"kafka", "http"};

typedef struct http_series {
    const char *route;
    const char *method;
    int status;
    uint64_t count;
} http_series_t;

typedef struct http_hist {
    const char *route;
    const char *method;
    hd_hist_t hist;
} http_hist_t;

static struct {
    int64_t conns[OBS_LISTENER_COUNT];
    uint64_t accepted[OBS_LISTENER_COUNT];
    const char *kafka_names[KAFKA_APIS];
    uint64_t kafka_count[KAFKA_APIS];
    hd_hist_t kafka_hist[KAFKA_APIS];
    http_series_t http[HTTP_SERIES];
    int nhttp;
    http_hist_t http_hist[HTTP_HISTS];
    int nhttp_hist;
    int64_t start_wall_ms;
} m;

void obs_init(int64_t start_wall_ms) { m.start_wall_ms = start_wall_ms; }

void obs_conn_opened(int listener)
{
    if (listener < 0 || listener >= OBS_LISTENER_COUNT)
        return;
    m.conns[listener]++;
    m.accepted[listener]++;
}

void obs_conn_closed(int listener)
{
    if (listener < 0 || listener >= OBS_LISTENER_COUNT)
        return;
    m.conns[listener]--;
}

void obs_kafka_request(int16_t api_key, const char *api_name, int64_t ns)
{
    if (api_key < 0 || api_key >= KAFKA_APIS || !api_name)
        return;
    m.kafka_names[api_key] = api_name;
    m.kafka_count[api_key]++;
    hd_hist_observe(&m.kafka_hist[api_key], ns);
}

void obs_http_request(const char *route, const char *method, int status, int64_t ns)
{
    /* Routes and methods are static strings: compare pointers first, then text. */
    http_series_t *s = NULL;
    for (int i = 0; i < m.nhttp; i++) {
        http_series_t *x = &m.http[i];
        if (x->status == status && (x->route == route || !strcmp(x->route, route)) &&
            (x->method == method || !strcmp(x->method, method))) {
            s = x;
            break;
        }
    }
    if (!s && m.nhttp < HTTP_SERIES) {
        s = &m.http[m.nhttp++];
        s->route = route;
        s->method = method;
        s->status = status;
    }
    if (s)
        s->count++;
    http_hist_t *h = NULL;
    for (int i = 0; i < m.nhttp_hist; i++) {
        http_hist_t *x = &m.http_hist[i];
        if ((x->route == route || !strcmp(x->route, route)) &&
            (x->method == method || !strcmp(x->method, method))) {
            h = x;
            break;
        }
    }
    if (!h && m.nhttp_hist < HTTP_HISTS) {
        h = &m.http_hist[m.nhttp_hist++];
        h->route = route;
        h->method = method;
    }
    if (h)
        hd_hist_observe(&h->hist, ns);
}

/* ---- rendering ---- */

static void put(hd_buf_t *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(hd_buf_t *out, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        hd_buf_put(out, tmp, (size_t)n);
        return;
    }
    char *big = hd_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    hd_buf_put(out, big, (size_t)n);
    free(big);
}

/* Appends a label value, escaped. */
static void put_label(hd_buf_t *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            hd_buf_put(out, "\\\\", 2);
        else if (*v == '"')
            hd_buf_put(out, "\\\"", 2);
        else if (*v == '\n')
            hd_buf_put(out, "\\n", 2);
        else
            hd_buf_put_u8(out, (uint8_t)*v);
    }
}

static void family(hd_buf_t *out, const char *name, const char *type, const char *help)
{
    put(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample: name{labels} value. labels is "k","v",... pairs, NULL-terminated. */
static void sample(hd_buf_t *out, const char *name, double value, ...)
{
    hd_buf_put(out, name, strlen(name));
    va_list ap;
    va_start(ap, value);
    const char *k = va_arg(ap, const char *);
    if (k) {
        hd_buf_put_u8(out, '{');
        bool first = true;
        for (; k; k = va_arg(ap, const char *)) {
            const char *v = va_arg(ap, const char *);
            if (!first)
                hd_buf_put_u8(out, ',');
            first = false;
            hd_buf_put(out, k, strlen(k));
            hd_buf_put(out, "=\"", 2);
            put_label(out, v);
            hd_buf_put_u8(out, '"');
        }
        hd_buf_put_u8(out, '}');
    }
    va_end(ap);
    /* Counts print exactly; fractions (seconds) with nine significant digits. */
    if (value == (double)(int64_t)value && value > -9007199254740992.0 &&
        value < 9007199254740992.0)
        put(out, " %lld\n", (long long)value);
    else
        put(out, " %.9g\n", value);
}

/* A family of one sample without labels. */
static void single(hd_buf_t *out, const char *name, const char *type, const char *help, double v)
{
    family(out, name, type, help);
    sample(out, name, v, NULL);
}

/* A histogram's buckets, sum and count, with up to two labels before le. */
static void histogram(hd_buf_t *out, const char *name, const hd_hist_t *h, const char *k1,
                      const char *v1, const char *k2, const char *v2)
{
    char bname[160], le[32];
    snprintf(bname, sizeof bname, "%s_bucket", name);
    uint64_t cum = 0;
    for (int i = 0; i <= HD_HIST_BUCKETS; i++) {
        cum += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        if (i < HD_HIST_BUCKETS)
            snprintf(le, sizeof le, "%.9g", (double)hd_hist_bound_ns(i) / 1e9);
        else
            snprintf(le, sizeof le, "+Inf");
        if (k2)
            sample(out, bname, (double)cum, k1, v1, k2, v2, "le", le, NULL);
        else if (k1)
            sample(out, bname, (double)cum, k1, v1, "le", le, NULL);
        else
            sample(out, bname, (double)cum, "le", le, NULL);
    }
    char sname[160], cname[160];
    snprintf(sname, sizeof sname, "%s_sum", name);
    snprintf(cname, sizeof cname, "%s_count", name);
    double sum = (double)atomic_load_explicit(&h->sum_ns, memory_order_relaxed) / 1e9;
    double count = (double)atomic_load_explicit(&h->count, memory_order_relaxed);
    /* The count must equal the +Inf bucket; take it from the buckets read above. */
    (void)count;
    if (k2) {
        sample(out, sname, sum, k1, v1, k2, v2, NULL);
        sample(out, cname, (double)cum, k1, v1, k2, v2, NULL);
    } else if (k1) {
        sample(out, sname, sum, k1, v1, NULL);
        sample(out, cname, (double)cum, k1, v1, NULL);
    } else {
        sample(out, sname, sum, NULL);
        sample(out, cname, (double)cum, NULL);
    }
}

static void render_process(hd_buf_t *out)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    long page = sysconf(_SC_PAGESIZE);
    single(out, "herald_memory_resident_bytes", "gauge", "Resident memory of the broker process.",
           (double)resident * (double)page);
    single(out, "herald_memory_virtual_bytes", "gauge", "Virtual memory of the broker process.",
           (double)pages * (double)page);
    single(out, "herald_start_time_seconds", "gauge",
           "When the broker started, in seconds since the epoch.",
           (double)m.start_wall_ms / 1000.0);
    long open_fds = hd_fds_open(), max_fds = hd_fdlimit_get();
    if (open_fds >= 0) {
        single(out, "herald_open_fds", "gauge",
               "Open file descriptors: segment files, indexes, connections, the journal.",
               (double)open_fds);
    }
    if (max_fds != HD_FDLIMIT_NONE) {
        single(out, "herald_max_fds", "gauge", "The process's open files limit (soft).",
               (double)max_fds);
    }
}

static void render_conns(hd_buf_t *out)
{
    family(out, "herald_connections", "gauge", "Open client connections per listener.");
    for (int i = 0; i < OBS_LISTENER_COUNT; i++)
        sample(out, "herald_connections", (double)m.conns[i], "listener", listener_names[i], NULL);
    family(out, "herald_connections_accepted_total", "counter",
           "Client connections accepted per listener.");
    for (int i = 0; i < OBS_LISTENER_COUNT; i++)
        sample(out, "herald_connections_accepted_total", (double)m.accepted[i], "listener",
               listener_names[i], NULL);
}

static void render_requests(hd_buf_t *out)
{
    family(out, "herald_kafka_requests_total", "counter", "Kafka protocol requests per API.");
    for (int i = 0; i < KAFKA_APIS; i++)
        if (m.kafka_names[i])
            sample(out, "herald_kafka_requests_total", (double)m.kafka_count[i], "api",
                   m.kafka_names[i], NULL);
    family(out, "herald_kafka_request_duration_seconds", "histogram",
           "Time from a Kafka request's arrival to its answer, per API.");
    for (int i = 0; i < KAFKA_APIS; i++)
        if (m.kafka_names[i])
            histogram(out, "herald_kafka_request_duration_seconds", &m.kafka_hist[i], "api",
                      m.kafka_names[i], NULL, NULL);
    family(out, "herald_http_requests_total", "counter",
           "HTTP requests per route, method and status code.");
    for (int i = 0; i < m.nhttp; i++) {
        char code[16];
        snprintf(code, sizeof code, "%d", m.http[i].status);
        sample(out, "herald_http_requests_total", (double)m.http[i].count, "route", m.http[i].route,
               "method", m.http[i].method, "code", code, NULL);
    }
    family(out, "herald_http_request_duration_seconds", "histogram",
           "Time from an HTTP request's arrival to its answer (streams: to their start).");
    for (int i = 0; i < m.nhttp_hist; i++)
        histogram(out, "herald_http_request_duration_seconds", &m.http_hist[i].hist, "route",
                  m.http_hist[i].route, "method", m.http_hist[i].method);
}

static void render_topics(hd_buf_t *out, broker_t *b)
{
    int nt = broker_topic_count(b);
    static const struct {
        const char *name, *help;
        size_t off;
    } counters[] = {
        {"herald_records_in_total", "Records appended to the topic.",
         offsetof(broker_topic_stats_t, records_in)},
        {"herald_bytes_in_total", "Bytes of record batches appended to the topic.",
         offsetof(broker_topic_stats_t, bytes_in)},
        {"herald_records_out_total",
         "Records read out of the topic in whole batches (Kafka fetches, HTTP reads, streams).",
         offsetof(broker_topic_stats_t, records_out)},
        {"herald_bytes_out_total", "Bytes of record batches read out of the topic.",
         offsetof(broker_topic_stats_t, bytes_out)},
    };
    for (size_t c = 0; c < HD_ARRAY_LEN(counters); c++) {
        family(out, counters[c].name, "counter", counters[c].help);
        for (int i = 0; i < nt; i++) {
            broker_topic_t *t = broker_topic_at(b, i);
            broker_topic_stats_t st;
            broker_topic_stats(t, &st);
            uint64_t v = *(const uint64_t *)((const char *)&st + counters[c].off);
            sample(out, counters[c].name, (double)v, "topic", broker_topic_name(t), NULL);
        }
    }
    single(out, "herald_topics", "gauge", "Topics.", nt);
    static const char *const pfams[][2] = {
        {"herald_partition_high_watermark", "The durable end offset consumers may read up to."},
        {"herald_partition_log_start_offset", "The first offset still stored."},
        {"herald_log_size_bytes", "Bytes of the partition's segment files."},
    };
    for (size_t f = 0; f < HD_ARRAY_LEN(pfams); f++) {
        family(out, pfams[f][0], "gauge", pfams[f][1]);
        for (int i = 0; i < nt; i++) {
            broker_topic_t *t = broker_topic_at(b, i);
            for (int32_t k = 0; k < broker_topic_partitions(t); k++) {
                broker_partition_t *p = broker_topic_partition(t, k);
                char part[16];
                snprintf(part, sizeof part, "%d", k);
                double v = f == 0   ? (double)broker_partition_hwm(p)
                           : f == 1 ? (double)broker_partition_start(p)
                                    : (double)broker_partition_size_bytes(p);
                sample(out, pfams[f][0], v, "topic", broker_topic_name(t), "partition", part, NULL);
            }
        }
    }
}

typedef struct lag_ctx {
    broker_t *b;
    hd_buf_t *out;
    const char *group;
    bool seconds; /* second pass: lag in seconds */
    int reads;
    int64_t now_ms;
} lag_ctx_t;

typedef struct first_ts {
    int64_t from;
    int64_t ts;
    bool found;
} first_ts_t;

static int first_ts_cb(void *ctx, const broker_record_t *rec)
{
    first_ts_t *f = ctx;
    if (rec->offset < f->from)
        return 0;
    f->ts = rec->timestamp;
    f->found = true;
    return 1;
}

/* The timestamp of the first record at or after offset, or -1. */
static int64_t record_time(broker_partition_t *p, int64_t offset)
{
    hd_buf_t data, scratch;
    hd_buf_init(&data);
    hd_buf_init(&scratch);
    first_ts_t f = {offset, -1, false};
    ssize_t n = broker_partition_read_quiet(p, offset, 1, &data);
    if (n >= BROKER_BATCH_HEADER_LEN)
        broker_batch_for_each(hd_slice(data.p, (size_t)n), 64u << 20, &scratch, first_ts_cb, &f);
    hd_buf_deinit(&data);
    hd_buf_deinit(&scratch);
    return f.found ? f.ts : -1;
}

static int lag_cb(void *ctx, const char *topic, int32_t partition, const broker_offset_t *o)
{
    int64_t offset = o->offset;
    lag_ctx_t *l = ctx;
    broker_topic_t *t = broker_topic_find(l->b, topic);
    broker_partition_t *p = t ? broker_topic_partition(t, partition) : NULL;
    if (!p)
        return 0;
    int64_t hwm = broker_partition_hwm(p);
    int64_t lag = offset < 0 ? hwm - broker_partition_start(p) : hwm - offset;
    if (lag < 0)
        lag = 0;
    char part[16];
    snprintf(part, sizeof part, "%d", partition);
    if (!l->seconds) {
        sample(l->out, "herald_consumer_group_lag_records", (double)lag, "group", l->group, "topic",
               topic, "partition", part, NULL);
        return 0;
    }
    double secs = 0;
    if (lag > 0 && offset >= broker_partition_start(p)) {
        if (l->reads >= LAG_SECONDS_MAX_READS)
            return 0;
        l->reads++;
        int64_t ts = record_time(p, offset);
        if (ts < 0)
            return 0;
        secs = ts < l->now_ms ? (double)(l->now_ms - ts) / 1000.0 : 0;
    }
    sample(l->out, "herald_consumer_group_lag_seconds", secs, "group", l->group, "topic", topic,
           "partition", part, NULL);
    return 0;
}

static void render_groups(hd_buf_t *out, broker_t *b)
{
    int ng = broker_group_count(b);
    family(out, "herald_consumer_group_members", "gauge", "Members of each consumer group.");
    for (int i = 0; i < ng; i++) {
        broker_group_t *g = broker_group_at(b, i);
        sample(out, "herald_consumer_group_members", broker_group_member_count(g), "group",
               broker_group_id(g), NULL);
    }
    lag_ctx_t l = {b, out, NULL, false, 0, hd_wall_ms()};
    family(out, "herald_consumer_group_lag_records", "gauge",
           "Records between a group's committed offset and the high watermark.");
    for (int i = 0; i < ng; i++) {
        l.group = broker_group_id(broker_group_at(b, i));
        broker_offsets_each(b, l.group, lag_cb, &l);
    }
    l.seconds = true;
    family(out, "herald_consumer_group_lag_seconds", "gauge",
           "Age of the oldest record a group has not committed past (0 when caught up).");
    for (int i = 0; i < ng; i++) {
        l.group = broker_group_id(broker_group_at(b, i));
        broker_offsets_each(b, l.group, lag_cb, &l);
    }
}

static void render_journal(hd_buf_t *out, const broker_t *b)
{
    log_journal_stats_t js;
    if (!broker_journal_stats(b, &js))
        return;
    single(out, "herald_journal_rounds_total", "counter",
           "Group-commit rounds of the write-ahead journal.", (double)js.rounds);
    family(out, "herald_journal_bytes_total", "counter",
           "Bytes made durable through the journal (path=journal) or written straight to their "
           "segments and synced there (path=direct).");
    sample(out, "herald_journal_bytes_total", (double)js.bytes_journaled, "path", "journal", NULL);
    sample(out, "herald_journal_bytes_total", (double)js.bytes_direct, "path", "direct", NULL);
    single(out, "herald_journal_sync_estimate_seconds", "gauge",
           "What the write path's cost model takes one fdatasync on this disk to cost.",
           (double)js.sync_estimate_ns / 1e9);
    single(out, "herald_journal_checkpoints_total", "counter",
           "Checkpoints that made segment bytes durable and moved the replay start.",
           (double)js.checkpoints);
    single(out, "herald_journal_checkpoint_failures_total", "counter",
           "Checkpoints that failed (the journal keeps its files until one succeeds).",
           (double)js.checkpoint_failures);
    family(out, "herald_journal_checkpoint_duration_seconds", "histogram",
           "Duration of each checkpoint: segment writeback, syncs and markers.");
    histogram(out, "herald_journal_checkpoint_duration_seconds", js.checkpoint_hist, NULL, NULL,
              NULL, NULL);
    single(out, "herald_journal_recovery_seconds", "gauge",
           "How long the journal's recovery took at the last start.", (double)js.replay_ns / 1e9);
    single(out, "herald_journal_recovered_batches", "gauge",
           "Batches the recovery at start put back into their segments.",
           (double)js.replayed_batches);
}

void obs_metrics_render(broker_t *b, hd_buf_t *out)
{
    render_process(out);
    render_conns(out);
    render_requests(out);
    const hd_hist_t *sync = broker_sync_hist(b);
    if (sync) {
        family(out, "herald_fsync_duration_seconds", "histogram",
               "Duration of each group-commit sync round (what acks=all producers wait for).");
        histogram(out, "herald_fsync_duration_seconds", sync, NULL, NULL, NULL, NULL);
    }
    render_journal(out, b);
    render_topics(out, b);
    render_groups(out, b);
    obs__trace_render(out);
}

void obs__family(hd_buf_t *out, const char *name, const char *type, const char *help)
{
    family(out, name, type, help);
}

void obs__label(hd_buf_t *out, const char *v) { put_label(out, v); }
