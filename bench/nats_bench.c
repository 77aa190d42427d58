/* NATS JetStream driver with the same modes, sizes and in-flight limits as herald_bench.
 *
 * A Kafka partition maps to one JetStream stream (file storage, one replica) with one subject, so
 * --partitions T creates T streams. Publishing is cnats's pipelined js_PublishAsync with
 * PublishAsync.MaxPending = --inflight per producer connection; a publish counts once its PubAck
 * arrives. Consumers are ordered push consumers (ephemeral, AckNone, DeliverAll, flow control),
 * NATS's idiomatic way for one reader to see a whole stream, one per stream per consumer.
 *
 * Durability note: nats-server acknowledges a publish once the message is written to its file
 * store; it fsyncs in the background (sync_interval, 2 min by default; `sync_interval: always`
 * only exists from nats-server 2.10). bench/run.sh writes this next to the numbers. */
#include "common/bench_common.h"

#include <nats/nats.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MODES "produce latency fanout catchup"

/* Read-only after main() sets it up. */
typedef struct run {
    const bench_opts_t *o;
    char base[96];
    char **streams, **subjects; /* one per partition */
    const uint8_t *payload;
} run_t;

typedef struct producer {
    run_t *run;
    int idx;
    int64_t to_send;
    _Atomic int64_t failed; /* updated on the PubAck handler thread */
    natsStatus first_err;
    pthread_t thread;
} producer_t;

/* Counters are updated on cnats's subscription threads (one per stream) and read by main(). */
typedef struct consumer {
    run_t *run;
    _Atomic int64_t got, bytes;
    int64_t warm_ns;
    bool want_lat;
    pthread_mutex_t lat_mu;
    bench_samples_t lat;
    natsConnection *nc;
    jsCtx *js;
    natsSubscription **subs;
} consumer_t;

static void die(const char *what, natsStatus s)
{
    fprintf(stderr, "nats_bench: %s: %s (%s)\n", what, natsStatus_GetText(s),
            nats_GetLastError(NULL) ? nats_GetLastError(NULL) : "");
    exit(2);
}

static void connect_js(const run_t *run, natsConnection **nc, jsCtx **js, jsOptions *jo)
{
    natsOptions *opts;
    natsStatus s = natsOptions_Create(&opts);
    if (s == NATS_OK)
        s = natsOptions_SetURL(opts, run->o->addr);
    /* Consumers must never drop messages as "slow": the whole point is to read everything. */
    if (s == NATS_OK)
        s = natsOptions_SetMaxPendingMsgs(opts, 10000000);
    if (s == NATS_OK)
        s = natsConnection_Connect(nc, opts);
    natsOptions_Destroy(opts);
    if (s != NATS_OK)
        die("connect", s);
    s = natsConnection_JetStream(js, *nc, jo);
    if (s != NATS_OK)
        die("JetStream context", s);
}

static void on_pub_err(jsCtx *js, jsPubAckErr *pae, void *closure)
{
    (void)js;
    producer_t *p = closure;
    if (atomic_fetch_add(&p->failed, 1) == 0)
        fprintf(stderr, "nats_bench: publish failed: %s (%s)\n", natsStatus_GetText(pae->Err),
                pae->ErrText ? pae->ErrText : "");
}

static void new_producer(producer_t *p, natsConnection **nc, jsCtx **js)
{
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = p->run->o->inflight;
    jo.PublishAsync.StallWait = (int64_t)(p->run->o->timeout * 1000);
    jo.PublishAsync.ErrHandler = on_pub_err;
    jo.PublishAsync.ErrHandlerClosure = p;
    jo.Wait = (int64_t)(p->run->o->timeout * 1000);
    connect_js(p->run, nc, js, &jo);
}

static void publish(producer_t *p, jsCtx *js, int part, const void *data, int len)
{
    natsStatus s = js_PublishAsync(js, p->run->subjects[part], data, len, NULL);
    if (s != NATS_OK)
        die("js_PublishAsync", s);
}

static void finish_publishing(producer_t *p, jsCtx *js)
{
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = (int64_t)(p->run->o->timeout * 1000) + 60000;
    natsStatus s = js_PublishAsyncComplete(js, &po);
    if (s != NATS_OK)
        die("js_PublishAsyncComplete", s);
}

static void *producer_main(void *arg)
{
    producer_t *p = arg;
    const run_t *run = p->run;
    natsConnection *nc;
    jsCtx *js;
    new_producer(p, &nc, &js);
    int nprod = run->o->producers, parts = run->o->partitions;
    for (int64_t i = 0; i < p->to_send; i++)
        publish(p, js, (int)((i * nprod + p->idx) % parts), run->payload, run->o->size);
    finish_publishing(p, js);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return NULL;
}

static double run_producers(void *arg, int64_t records, int64_t *acked, int64_t *failed)
{
    run_t *run = arg;
    const bench_opts_t *o = run->o;
    producer_t *ps = calloc((size_t)o->producers, sizeof(*ps));
    int64_t t0 = bench_now_ns();
    for (int i = 0; i < o->producers; i++) {
        ps[i].run = run;
        ps[i].idx = i;
        ps[i].to_send = records / o->producers + (i < records % o->producers);
        pthread_create(&ps[i].thread, NULL, producer_main, &ps[i]);
    }
    for (int i = 0; i < o->producers; i++)
        pthread_join(ps[i].thread, NULL);
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    *failed = 0;
    for (int i = 0; i < o->producers; i++)
        *failed += atomic_load(&ps[i].failed);
    *acked = records - *failed;
    free(ps);
    return secs;
}

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    consumer_t *c = closure;
    int len = natsMsg_GetDataLength(msg);
    if (c->want_lat) {
        int64_t now = bench_now_ns();
        int64_t t = bench_stamp_get(natsMsg_GetData(msg), (size_t)len);
        if (t >= c->warm_ns) {
            pthread_mutex_lock(&c->lat_mu);
            bench_samples_add(&c->lat, now - t);
            pthread_mutex_unlock(&c->lat_mu);
        }
    }
    atomic_fetch_add(&c->bytes, len);
    atomic_fetch_add(&c->got, 1);
    natsMsg_Destroy(msg);
}

static void consumer_start(consumer_t *c, run_t *run)
{
    memset(c, 0, sizeof(*c));
    c->run = run;
    pthread_mutex_init(&c->lat_mu, NULL);
    bench_samples_init(&c->lat);
    connect_js(run, &c->nc, &c->js, NULL);
    int parts = run->o->partitions;
    c->subs = calloc((size_t)parts, sizeof(*c->subs));
    for (int i = 0; i < parts; i++) {
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = run->streams[i];
        so.Ordered = true;
        so.Config.DeliverPolicy = js_DeliverAll;
        jsErrCode jerr = 0;
        natsStatus s =
            js_Subscribe(&c->subs[i], c->js, run->subjects[i], on_msg, c, NULL, &so, &jerr);
        if (s != NATS_OK)
            die("js_Subscribe", s);
        natsSubscription_SetPendingLimits(c->subs[i], -1, -1);
    }
}

static void consumer_stop(consumer_t *c)
{
    for (int i = 0; i < c->run->o->partitions; i++) {
        natsSubscription_Unsubscribe(c->subs[i]);
        natsSubscription_Destroy(c->subs[i]);
    }
    free(c->subs);
    jsCtx_Destroy(c->js);
    natsConnection_Destroy(c->nc);
    bench_samples_deinit(&c->lat);
    pthread_mutex_destroy(&c->lat_mu);
}

/* Waits until every consumer has `expected` records or none made progress for --timeout s.
 * Returns the time the last one finished. */
static int64_t wait_consumers(consumer_t *cs, int g, int64_t expected, double timeout)
{
    int64_t last_total = -1, last_change = bench_now_ns();
    for (;;) {
        int64_t total = 0;
        bool done = true;
        for (int i = 0; i < g; i++) {
            int64_t got = atomic_load(&cs[i].got);
            total += got;
            done = done && got >= expected;
        }
        int64_t now = bench_now_ns();
        if (done)
            return now;
        if (total != last_total) {
            last_total = total;
            last_change = now;
        } else if ((double)(now - last_change) > timeout * 1e9) {
            return last_change;
        }
        usleep(200);
    }
}

static int mode_latency(run_t *run)
{
    const bench_opts_t *o = run->o;
    int64_t n = (int64_t)(o->rate * o->duration);
    int size = o->size < 8 ? 8 : o->size;
    consumer_t c;
    consumer_start(&c, run);
    c.want_lat = true;
    producer_t p = {.run = run};
    natsConnection *nc;
    jsCtx *js;
    new_producer(&p, &nc, &js);
    uint8_t *buf = calloc(1, (size_t)size);
    memcpy(buf, run->payload, (size_t)o->size < (size_t)size ? (size_t)o->size : (size_t)size);

    int64_t t0 = bench_now_ns() + 200000000;
    c.warm_ns = t0 + (int64_t)(o->warmup * 1e9);
    double interval = 1e9 / o->rate;
    for (int64_t i = 0; i < n; i++) {
        int64_t due = t0 + (int64_t)((double)i * interval);
        bench_sleep_until_ns(due);
        bench_stamp_put(buf, due);
        publish(&p, js, (int)(i % o->partitions), buf, size);
    }
    finish_publishing(&p, js);
    int64_t end = wait_consumers(&c, 1, n, o->timeout);
    bench_result_t r = {.opts = o, .partitions = o->partitions};
    r.records = n - atomic_load(&p.failed);
    r.deliveries = atomic_load(&c.got);
    r.bytes = atomic_load(&c.bytes);
    r.secs = (double)(end - t0) / 1e9;
    r.errors = atomic_load(&p.failed) + (n - r.deliveries);
    pthread_mutex_lock(&c.lat_mu);
    r.lat = &c.lat;
    if (r.deliveries < n)
        r.note = "consumer stopped before receiving every record";
    bench_result_print(&r);
    pthread_mutex_unlock(&c.lat_mu);
    consumer_stop(&c);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    free(buf);
    return r.errors ? 1 : 0;
}

static int mode_fanout(run_t *run)
{
    const bench_opts_t *o = run->o;
    int g = o->consumers;
    consumer_t *cs = calloc((size_t)g, sizeof(*cs));
    int64_t t0 = bench_now_ns();
    for (int i = 0; i < g; i++)
        consumer_start(&cs[i], run);
    bench_result_t r = {.opts = o, .partitions = o->partitions};
    int64_t failed;
    run_producers(run, o->records, &r.records, &failed);
    int64_t end = wait_consumers(cs, g, r.records, o->timeout);
    for (int i = 0; i < g; i++) {
        r.deliveries += atomic_load(&cs[i].got);
        r.bytes += atomic_load(&cs[i].bytes);
    }
    r.secs = (double)(end - t0) / 1e9;
    r.errors = failed + (g * o->records - r.deliveries);
    if (r.deliveries < g * o->records)
        r.note = "a consumer stopped before receiving every record";
    bench_result_print(&r);
    for (int i = 0; i < g; i++)
        consumer_stop(&cs[i]);
    free(cs);
    return r.errors ? 1 : 0;
}

static int mode_catchup(run_t *run)
{
    const bench_opts_t *o = run->o;
    int64_t acked, failed;
    double fill = run_producers(run, o->records, &acked, &failed);
    fprintf(stderr, "nats_bench: backlog of %lld records written in %.2f s\n", (long long)acked,
            fill);
    consumer_t c;
    int64_t t0 = bench_now_ns();
    consumer_start(&c, run);
    int64_t end = wait_consumers(&c, 1, acked, o->timeout);
    bench_result_t r = {.opts = o, .partitions = o->partitions, .records = acked};
    r.deliveries = atomic_load(&c.got);
    r.bytes = atomic_load(&c.bytes);
    r.secs = (double)(end - t0) / 1e9;
    r.errors = failed + (acked - r.deliveries);
    if (r.deliveries < acked)
        r.note = "consumer stopped before reading the whole backlog";
    bench_result_print(&r);
    consumer_stop(&c);
    return r.errors ? 1 : 0;
}

/* Creates one file-storage stream per partition (or reuses existing ones). */
static void create_streams(run_t *run)
{
    natsConnection *nc;
    jsCtx *js;
    connect_js(run, &nc, &js, NULL);
    int parts = run->o->partitions;
    run->streams = calloc((size_t)parts, sizeof(char *));
    run->subjects = calloc((size_t)parts, sizeof(char *));
    for (int i = 0; i < parts; i++) {
        char name[160];
        snprintf(name, sizeof(name), "%s_%d", run->base, i);
        run->streams[i] = strdup(name);
        snprintf(name, sizeof(name), "%s.%d", run->base, i);
        run->subjects[i] = strdup(name);
        jsStreamConfig sc;
        jsStreamConfig_Init(&sc);
        sc.Name = run->streams[i];
        const char *subj = run->subjects[i];
        sc.Subjects = &subj;
        sc.SubjectsLen = 1;
        sc.Storage = js_FileStorage;
        sc.Replicas = 1;
        jsStreamInfo *si = NULL;
        jsErrCode jerr = 0;
        natsStatus s = js_AddStream(&si, js, &sc, NULL, &jerr);
        if (s != NATS_OK && jerr != JSStreamNameExistErr)
            die("js_AddStream", s);
        jsStreamInfo_Destroy(si);
    }
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
}

int main(int argc, char **argv)
{
    bench_opts_t o;
    const char *why;
    int prc = bench_opts_parse(&o, argc, argv, "nats://127.0.0.1:4222", &why);
    if (prc > 0) {
        bench_opts_usage(stdout, "nats_bench", MODES);
        return 0;
    }
    if (prc < 0) {
        fprintf(stderr, "nats_bench: %s\n", why);
        bench_opts_usage(stderr, "nats_bench", MODES);
        return 2;
    }
    if (!o.system)
        o.system = "nats";
    natsStatus s = nats_Open(-1);
    if (s != NATS_OK)
        die("nats_Open", s);
    run_t run = {.o = &o};
    if (o.topic)
        snprintf(run.base, sizeof(run.base), "%s", o.topic);
    else
        bench_unique_name(run.base, sizeof(run.base), "bench-", o.mode);
    uint8_t *payload = malloc((size_t)o.size);
    bench_payload_fill(payload, (size_t)o.size, 42);
    run.payload = payload;
    bench_driver_t driver = {"nats_bench", &o, &run, o.partitions, NULL, run_producers};
    create_streams(&run);

    int rc;
    if (!strcmp(o.mode, "produce"))
        rc = bench_mode_produce(&driver);
    else if (!strcmp(o.mode, "latency"))
        rc = mode_latency(&run);
    else if (!strcmp(o.mode, "fanout"))
        rc = mode_fanout(&run);
    else if (!strcmp(o.mode, "catchup"))
        rc = mode_catchup(&run);
    else {
        fprintf(stderr, "nats_bench: unknown mode %s\n", o.mode);
        rc = 2;
    }
    for (int i = 0; i < o.partitions; i++) {
        free(run.streams[i]);
        free(run.subjects[i]);
    }
    free(run.streams);
    free(run.subjects);
    free(payload);
    nats_Close();
    return rc;
}
