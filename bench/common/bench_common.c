/* Option parsing, clocks, payloads, latency samples and JSON result lines shared by the load
 * generators. The result line is the only interface to bench/report.py: keep its keys stable. */
#include "bench_common.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Quantiles of the latency distribution written to each latency result line. */
#define BENCH_QUANTILES                                                                            \
    0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999, 1.0

enum {
    OPT_MODE = 1,
    OPT_ADDR,
    OPT_SYSTEM,
    OPT_TOPIC,
    OPT_RECORDS,
    OPT_SIZE,
    OPT_INFLIGHT,
    OPT_PARTITIONS,
    OPT_PRODUCERS,
    OPT_CONSUMERS,
    OPT_RATE,
    OPT_DURATION,
    OPT_WARMUP,
    OPT_LINGER,
    OPT_CONNECTIONS,
    OPT_HOLD,
    OPT_TIMEOUT,
    OPT_HELP,
};

static const struct option long_opts[] = {
    {"mode", required_argument, NULL, OPT_MODE},
    {"addr", required_argument, NULL, OPT_ADDR},
    {"system", required_argument, NULL, OPT_SYSTEM},
    {"topic", required_argument, NULL, OPT_TOPIC},
    {"records", required_argument, NULL, OPT_RECORDS},
    {"size", required_argument, NULL, OPT_SIZE},
    {"inflight", required_argument, NULL, OPT_INFLIGHT},
    {"partitions", required_argument, NULL, OPT_PARTITIONS},
    {"producers", required_argument, NULL, OPT_PRODUCERS},
    {"consumers", required_argument, NULL, OPT_CONSUMERS},
    {"rate", required_argument, NULL, OPT_RATE},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"linger-ms", required_argument, NULL, OPT_LINGER},
    {"connections", required_argument, NULL, OPT_CONNECTIONS},
    {"hold", required_argument, NULL, OPT_HOLD},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

void bench_opts_usage(FILE *f, const char *prog, const char *modes)
{
    fprintf(f,
            "usage: %s --mode MODE [options]\n"
            "modes: %s\n"
            "  --addr A          server address\n"
            "  --system NAME     label for the result line\n"
            "  --topic NAME      topic/stream/key prefix (default: unique per run)\n"
            "  --records N       records to produce (default 100000)\n"
            "  --size S          value bytes per record (default 1024)\n"
            "  --inflight K      unacknowledged records per producer (default 1000)\n"
            "  --partitions T    partitions / streams / keys (default 1)\n"
            "  --producers P     producer connections (default 1)\n"
            "  --consumers G     consumers in fanout mode (default 5)\n"
            "  --rate R          records/s in latency mode (default 5000)\n"
            "  --duration D      seconds of sending in latency mode (default 10)\n"
            "  --warmup W        seconds of latency samples to drop (default 1)\n"
            "  --linger-ms L     Kafka linger.ms (default 1)\n"
            "  --connections C   idle connections (herald_bench connections mode, default 1000)\n"
            "  --hold H          seconds to hold them (default 0: until SIGTERM)\n"
            "  --timeout S       seconds without progress before giving up (default 60)\n"
            "  --help            this text\n",
            prog, modes);
}

/* Parses a number with strtod and checks it lies in [lo, hi]. */
static int parse_num(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int bench_opts_parse(bench_opts_t *o, int argc, char **argv, const char *default_addr,
                     const char **why)
{
    memset(o, 0, sizeof(*o));
    o->addr = default_addr;
    o->records = 100000;
    o->size = 1024;
    o->inflight = 1000;
    o->partitions = 1;
    o->producers = 1;
    o->consumers = 5;
    o->rate = 5000;
    o->duration = 10;
    o->warmup = 1;
    o->linger_ms = 1;
    o->connections = 1000;
    o->timeout = 60;

    int c;
    double v;
    bool help = false;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        const char *arg = optarg;
        switch (c) {
        case OPT_HELP:
            help = true;
            continue;
        case OPT_MODE:
            o->mode = arg;
            continue;
        case OPT_ADDR:
            o->addr = arg;
            continue;
        case OPT_SYSTEM:
            o->system = arg;
            continue;
        case OPT_TOPIC:
            o->topic = arg;
            continue;
        default:
            break;
        }
        if (c == '?') {
            *why = "unknown option";
            return -1;
        }
        if (parse_num(arg, 0, 1e12, &v) < 0) {
            *why = "a numeric option is out of range or not a number";
            return -1;
        }
        switch (c) {
        case OPT_RECORDS:
            o->records = (int64_t)v;
            break;
        case OPT_SIZE:
            o->size = (int)(v > 64 << 20 ? 64 << 20 : v);
            break;
        case OPT_INFLIGHT:
            o->inflight = (int)(v > 1e6 ? 1e6 : v);
            break;
        case OPT_PARTITIONS:
            o->partitions = (int)(v > 100000 ? 100000 : v);
            break;
        case OPT_PRODUCERS:
            o->producers = (int)(v > 1024 ? 1024 : v);
            break;
        case OPT_CONSUMERS:
            o->consumers = (int)(v > 1024 ? 1024 : v);
            break;
        case OPT_RATE:
            o->rate = (int)(v > 1e7 ? 1e7 : v);
            break;
        case OPT_DURATION:
            o->duration = v;
            break;
        case OPT_WARMUP:
            o->warmup = v;
            break;
        case OPT_LINGER:
            o->linger_ms = v > 1e6 ? 1e6 : v;
            break;
        case OPT_CONNECTIONS:
            o->connections = (int)(v > 1e6 ? 1e6 : v);
            break;
        case OPT_HOLD:
            o->hold = v;
            break;
        case OPT_TIMEOUT:
            o->timeout = v;
            break;
        default:
            *why = "unknown option";
            return -1;
        }
    }
    if (help)
        return 1;
    if (!o->mode) {
        *why = "--mode is required";
        return -1;
    }
    if (optind != argc) {
        *why = "unexpected positional argument";
        return -1;
    }
    if (o->records < 1 || o->size < 1 || o->inflight < 1 || o->partitions < 1 || o->producers < 1 ||
        o->consumers < 1 || o->rate < 1) {
        *why = "counts and sizes must be at least 1";
        return -1;
    }
    return 0;
}

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t bench_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void bench_sleep_until_ns(int64_t t)
{
    struct timespec ts = {.tv_sec = t / 1000000000, .tv_nsec = t % 1000000000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

void bench_payload_fill(uint8_t *p, size_t n, uint64_t seed)
{
    /* xorshift64*: cheap and incompressible enough that no layer can shortcut the bytes. */
    uint64_t x = seed | 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        p[i] = (uint8_t)((x * 0x2545F4914F6CDD1DULL) >> 56);
    }
}

void bench_unique_name(char *buf, size_t len, const char *prefix, const char *mode)
{
    snprintf(buf, len, "%s%s-%ld-%lld", prefix, mode, (long)getpid(),
             (long long)(bench_wall_ns() / 1000000 % 100000000));
}

void bench_stamp_put(uint8_t *p, int64_t t_ns) { memcpy(p, &t_ns, sizeof(t_ns)); }

int64_t bench_stamp_get(const void *p, size_t len)
{
    int64_t t = 0;
    if (len >= sizeof(t))
        memcpy(&t, p, sizeof(t));
    return t;
}

void bench_samples_init(bench_samples_t *s) { memset(s, 0, sizeof(*s)); }

void bench_samples_deinit(bench_samples_t *s)
{
    free(s->v);
    memset(s, 0, sizeof(*s));
}

void bench_samples_add(bench_samples_t *s, int64_t ns)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        int64_t *v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            abort(); /* a benchmark that cannot hold its samples has no result to report */
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = ns;
    s->sorted = false;
}

void bench_samples_merge(bench_samples_t *dst, const bench_samples_t *src)
{
    for (size_t i = 0; i < src->n; i++)
        bench_samples_add(dst, src->v[i]);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

double bench_samples_quantile_ms(bench_samples_t *s, double q)
{
    if (!s || s->n == 0)
        return 0;
    if (!s->sorted) {
        qsort(s->v, s->n, sizeof(*s->v), cmp_i64);
        s->sorted = true;
    }
    /* Nearest rank: the smallest sample with at least q of all samples at or below it. */
    size_t rank = (size_t)(q * (double)s->n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > s->n)
        rank = s->n;
    return (double)s->v[rank - 1] / 1e6;
}

void bench_result_print(const bench_result_t *r)
{
    const bench_opts_t *o = r->opts;
    double secs = r->secs > 0 ? r->secs : 1e-9;
    int64_t moved = r->deliveries ? r->deliveries : r->records;
    printf("{\"system\":\"%s\",\"mode\":\"%s\",\"size\":%d,\"partitions\":%d,\"producers\":%d,"
           "\"consumers\":%d,\"inflight\":%d,\"rate\":%d,\"records\":%lld,\"deliveries\":%lld,"
           "\"bytes\":%lld,\"secs\":%.6f,\"records_per_s\":%.1f,\"mb_per_s\":%.3f,"
           "\"errors\":%lld,\"samples\":%zu,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,"
           "\"max_ms\":%.3f,\"note\":\"%s\",\"quantiles_ms\":[",
           o->system ? o->system : "unknown", o->mode, o->size, r->partitions, o->producers,
           o->consumers, o->inflight, o->rate, (long long)r->records, (long long)r->deliveries,
           (long long)r->bytes, r->secs, (double)moved / secs, (double)r->bytes / 1e6 / secs,
           (long long)r->errors, r->lat ? r->lat->n : 0, bench_samples_quantile_ms(r->lat, 0.50),
           bench_samples_quantile_ms(r->lat, 0.99), bench_samples_quantile_ms(r->lat, 0.999),
           bench_samples_quantile_ms(r->lat, 1.0), r->note ? r->note : "");
    /* The latency distribution for plots, at BENCH_QUANTILES. Empty outside latency mode. */
    static const double qs[] = {BENCH_QUANTILES};
    for (size_t i = 0; r->lat && r->lat->n && i < sizeof(qs) / sizeof(qs[0]); i++)
        printf("%s[%g,%.3f]", i ? "," : "", qs[i], bench_samples_quantile_ms(r->lat, qs[i]));
    printf("]}\n");
    fflush(stdout);
}

void bench_reader_init(bench_reader_t *c, void *run, int64_t expected)
{
    memset(c, 0, sizeof(*c));
    c->run = run;
    c->expected = expected;
    bench_samples_init(&c->lat);
}

int bench_mode_produce(const bench_driver_t *d)
{
    bench_result_t r = {.opts = d->o, .partitions = d->partitions};
    r.secs = d->produce(d->run, d->o->records, &r.records, &r.errors);
    r.bytes = r.records * d->o->size;
    bench_result_print(&r);
    return r.errors ? 1 : 0;
}

int bench_mode_fanout(const bench_driver_t *d)
{
    const bench_opts_t *o = d->o;
    int g = o->consumers;
    bench_reader_t *cs = calloc((size_t)g, sizeof(*cs));
    for (int i = 0; i < g; i++)
        bench_reader_init(&cs[i], d->run, o->records);
    int64_t t0 = bench_now_ns();
    for (int i = 0; i < g; i++)
        pthread_create(&cs[i].thread, NULL, d->reader_main, &cs[i]);
    bench_result_t r = {.opts = o, .partitions = d->partitions};
    int64_t failed;
    d->produce(d->run, o->records, &r.records, &failed);
    int64_t last = t0;
    for (int i = 0; i < g; i++) {
        pthread_join(cs[i].thread, NULL);
        r.deliveries += atomic_load(&cs[i].got);
        r.bytes += cs[i].bytes;
        r.errors += cs[i].errors;
        if (cs[i].done_ns > last)
            last = cs[i].done_ns;
        bench_samples_deinit(&cs[i].lat);
    }
    r.errors += failed + (g * o->records - r.deliveries);
    r.secs = (double)(last - t0) / 1e9;
    if (r.deliveries < g * o->records)
        r.note = "a consumer stopped before receiving every record";
    bench_result_print(&r);
    free(cs);
    return r.errors ? 1 : 0;
}

int bench_mode_catchup(const bench_driver_t *d)
{
    const bench_opts_t *o = d->o;
    int64_t acked, failed;
    double fill = d->produce(d->run, o->records, &acked, &failed);
    fprintf(stderr, "%s: backlog of %lld records written in %.2f s\n", d->name, (long long)acked,
            fill);
    bench_reader_t c;
    bench_reader_init(&c, d->run, acked);
    int64_t t0 = bench_now_ns();
    d->reader_main(&c);
    bench_result_t r = {.opts = o, .partitions = d->partitions, .records = acked};
    r.deliveries = atomic_load(&c.got);
    r.bytes = c.bytes;
    r.secs = (double)(c.done_ns - t0) / 1e9;
    r.errors = failed + c.errors + (acked - r.deliveries);
    if (r.deliveries < acked)
        r.note = "consumer stopped before reading the whole backlog";
    bench_result_print(&r);
    bench_samples_deinit(&c.lat);
    return r.errors ? 1 : 0;
}
