/* Redis Streams driver with the same modes, sizes and in-flight limits as herald_bench.
 *
 * A Kafka partition maps to one stream key (`<base>:<i>`). Producers pipeline `XADD key * d
 * <value>` with at most --inflight commands unanswered per connection. How durable an answer is
 * depends on the server: bench/run.sh runs it with `appendonly yes` and `appendfsync always` (Redis
 * writes and fsyncs the AOF before sending the replies of each event-loop turn) and again with
 * `appendfsync everysec` (replies before the fsync); --system names which one a line measured.
 * Consumers are independent readers: `XREAD COUNT 1000 BLOCK 100 STREAMS key... id...`, one
 * request outstanding at a time, each continuing after the last id it saw. */
#include "common/bench_common.h"

#include <hiredis/hiredis.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MODES "produce latency fanout catchup"
#define XREAD_COUNT "1000"

/* Read-only after main() sets it up. */
typedef struct run {
    const bench_opts_t *o;
    char host[128];
    int port;
    char **keys; /* one per partition */
    const uint8_t *payload;
} run_t;

/* One pipelined producer connection; owned by its thread. */
typedef struct producer {
    run_t *run;
    int idx;
    int64_t to_send;
    int64_t outstanding, acked, failed;
    redisContext *c;
    pthread_t thread;
} producer_t;

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "redis_bench: %s: %s\n", what, detail ? detail : "");
    exit(2);
}

static redisContext *connect_redis(const run_t *run)
{
    struct timeval tv = {.tv_sec = 10};
    redisContext *c = redisConnectWithTimeout(run->host, run->port, tv);
    if (!c || c->err)
        die("connect", c ? c->errstr : "out of memory");
    return c;
}

static void append_xadd(producer_t *p, int part, const void *val, size_t len)
{
    const char *argv[] = {"XADD", p->run->keys[part], "*", "d", val};
    size_t lens[] = {4, strlen(p->run->keys[part]), 1, 1, len};
    if (redisAppendCommandArgv(p->c, 5, argv, lens) != REDIS_OK)
        die("XADD", p->c->errstr);
    p->outstanding++;
}

/* Sends everything buffered on `p`'s connection, then waits up to `timeout_ns` (-1: until one
 * arrives) for replies and accounts for every reply already received. */
static void pump(producer_t *p, int64_t timeout_ns)
{
    redisContext *c = p->c;
    int done = 0;
    while (!done)
        if (redisBufferWrite(c, &done) != REDIS_OK)
            die("write", c->errstr);
    for (bool waited = false;;) {
        void *rep;
        int n = 0;
        while (redisGetReplyFromReader(c, &rep) == REDIS_OK && rep) {
            redisReply *r = rep;
            if (r->type == REDIS_REPLY_ERROR) {
                if (p->failed++ == 0)
                    fprintf(stderr, "redis_bench: XADD: %s\n", r->str);
            } else {
                p->acked++;
            }
            p->outstanding--;
            freeReplyObject(rep);
            n++;
        }
        if (c->err)
            die("reply", c->errstr);
        if (n > 0 || waited || p->outstanding == 0)
            return;
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        struct timespec ts = {.tv_sec = timeout_ns / 1000000000,
                              .tv_nsec = timeout_ns % 1000000000};
        int rc = ppoll(&pfd, 1, timeout_ns < 0 ? NULL : &ts, NULL);
        if (rc < 0 && errno != EINTR)
            die("poll", strerror(errno));
        if (rc > 0 && redisBufferRead(c) != REDIS_OK)
            die("read", c->errstr);
        waited = true;
    }
}

static void *producer_main(void *arg)
{
    producer_t *p = arg;
    const run_t *run = p->run;
    int64_t limit = run->o->inflight, sent = 0;
    int nprod = run->o->producers, parts = run->o->partitions;
    while (sent < p->to_send || p->outstanding > 0) {
        while (p->outstanding < limit && sent < p->to_send) {
            append_xadd(p, (int)((sent * nprod + p->idx) % parts), run->payload,
                        (size_t)run->o->size);
            sent++;
        }
        pump(p, -1);
    }
    return NULL;
}

static double run_producers(void *arg, int64_t records, int64_t *acked, int64_t *failed)
{
    run_t *run = arg;
    const bench_opts_t *o = run->o;
    producer_t *ps = calloc((size_t)o->producers, sizeof(*ps));
    for (int i = 0; i < o->producers; i++) {
        ps[i].run = run;
        ps[i].idx = i;
        ps[i].to_send = records / o->producers + (i < records % o->producers);
        ps[i].c = connect_redis(run);
    }
    int64_t t0 = bench_now_ns();
    for (int i = 0; i < o->producers; i++)
        pthread_create(&ps[i].thread, NULL, producer_main, &ps[i]);
    for (int i = 0; i < o->producers; i++)
        pthread_join(ps[i].thread, NULL);
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    *acked = *failed = 0;
    for (int i = 0; i < o->producers; i++) {
        *acked += ps[i].acked;
        *failed += ps[i].failed;
        redisFree(ps[i].c);
    }
    free(ps);
    return secs;
}

/* The partition index is the number after the key's last ':'. */
static int key_index(const char *key, int parts)
{
    const char *colon = strrchr(key, ':');
    int i = colon ? atoi(colon + 1) : -1;
    return i >= 0 && i < parts ? i : -1;
}

static void *consumer_main(void *arg)
{
    bench_reader_t *c = arg;
    const run_t *run = c->run;
    int parts = run->o->partitions;
    redisContext *rc = connect_redis(run);
    int argc = 6 + 2 * parts;
    const char **argv = calloc((size_t)argc, sizeof(*argv));
    size_t *lens = calloc((size_t)argc, sizeof(*lens));
    char(*ids)[48] = calloc((size_t)parts, sizeof(*ids));
    const char *head[] = {"XREAD", "COUNT", XREAD_COUNT, "BLOCK", "100", "STREAMS"};
    for (int i = 0; i < 6; i++)
        argv[i] = head[i];
    for (int i = 0; i < parts; i++) {
        argv[6 + i] = run->keys[i];
        snprintf(ids[i], sizeof(ids[i]), "0-0");
        argv[6 + parts + i] = ids[i];
    }
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);

    int64_t last_progress = bench_now_ns(), idle_limit = (int64_t)(run->o->timeout * 1e9);
    while (atomic_load(&c->got) < c->expected) {
        redisReply *r = redisCommandArgv(rc, argc, argv, lens);
        int64_t now = bench_now_ns();
        if (!r)
            die("XREAD", rc->errstr);
        if (r->type == REDIS_REPLY_ERROR) {
            if (c->errors++ == 0)
                fprintf(stderr, "redis_bench: XREAD: %s\n", r->str);
        } else if (r->type == REDIS_REPLY_ARRAY) {
            for (size_t s = 0; s < r->elements; s++) {
                redisReply *stream = r->element[s];
                if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2)
                    continue;
                int k = key_index(stream->element[0]->str, parts);
                redisReply *entries = stream->element[1];
                for (size_t e = 0; e < entries->elements; e++) {
                    redisReply *ent = entries->element[e];
                    if (ent->elements != 2 || ent->element[1]->elements < 2)
                        continue;
                    redisReply *val = ent->element[1]->element[1];
                    if (c->want_lat) {
                        int64_t t = bench_stamp_get(val->str, val->len);
                        if (t >= c->warm_ns)
                            bench_samples_add(&c->lat, now - t);
                    }
                    c->bytes += (int64_t)val->len;
                    atomic_fetch_add(&c->got, 1);
                    if (k >= 0 && e + 1 == entries->elements) {
                        snprintf(ids[k], sizeof(ids[k]), "%s", ent->element[0]->str);
                        lens[6 + parts + k] = strlen(ids[k]);
                    }
                }
            }
            last_progress = now;
        }
        freeReplyObject(r);
        if (now - last_progress > idle_limit)
            break;
    }
    c->done_ns = bench_now_ns();
    free(argv);
    free(lens);
    free(ids);
    redisFree(rc);
    return NULL;
}

static int mode_latency(run_t *run)
{
    const bench_opts_t *o = run->o;
    int64_t n = (int64_t)(o->rate * o->duration);
    size_t size = o->size < 8 ? 8 : (size_t)o->size;
    bench_reader_t c;
    bench_reader_init(&c, run, n);
    c.want_lat = true;
    producer_t p = {.run = run, .c = connect_redis(run)};
    uint8_t *buf = calloc(1, size);
    memcpy(buf, run->payload, (size_t)o->size < size ? (size_t)o->size : size);

    int64_t t0 = bench_now_ns() + 200000000;
    c.warm_ns = t0 + (int64_t)(o->warmup * 1e9);
    pthread_create(&c.thread, NULL, consumer_main, &c);
    double interval = 1e9 / o->rate;
    int64_t i = 0;
    while (i < n || p.outstanding > 0) {
        int64_t now = bench_now_ns();
        for (; i < n && t0 + (int64_t)((double)i * interval) <= now; i++) {
            if (p.outstanding >= o->inflight)
                break;
            bench_stamp_put(buf, t0 + (int64_t)((double)i * interval));
            append_xadd(&p, (int)(i % o->partitions), buf, size);
        }
        int64_t next = i < n ? t0 + (int64_t)((double)i * interval) - now : 1000000000;
        if (p.outstanding >= o->inflight)
            next = -1;
        if (p.outstanding == 0 && i < n)
            bench_sleep_until_ns(now + next); /* nothing to wait for but the clock */
        else
            pump(&p, next);
    }
    pthread_join(c.thread, NULL);
    bench_result_t r = {.opts = o, .partitions = o->partitions, .records = p.acked};
    r.deliveries = atomic_load(&c.got);
    r.bytes = c.bytes;
    r.secs = (double)(c.done_ns - t0) / 1e9;
    r.errors = p.failed + c.errors + (n - r.deliveries);
    r.lat = &c.lat;
    if (r.deliveries < n)
        r.note = "consumer stopped before receiving every record";
    bench_result_print(&r);
    bench_samples_deinit(&c.lat);
    redisFree(p.c);
    free(buf);
    return r.errors ? 1 : 0;
}

int main(int argc, char **argv)
{
    bench_opts_t o;
    const char *why;
    int prc = bench_opts_parse(&o, argc, argv, "127.0.0.1:6379", &why);
    if (prc > 0) {
        bench_opts_usage(stdout, "redis_bench", MODES);
        return 0;
    }
    if (prc < 0) {
        fprintf(stderr, "redis_bench: %s\n", why);
        bench_opts_usage(stderr, "redis_bench", MODES);
        return 2;
    }
    if (!o.system)
        o.system = "redis";
    run_t run = {.o = &o};
    const char *colon = strrchr(o.addr, ':');
    if (!colon || (size_t)(colon - o.addr) >= sizeof(run.host))
        die("--addr must be HOST:PORT", o.addr);
    memcpy(run.host, o.addr, (size_t)(colon - o.addr));
    run.port = atoi(colon + 1);

    char base[96];
    if (o.topic)
        snprintf(base, sizeof(base), "%s", o.topic);
    else
        bench_unique_name(base, sizeof(base), "bench-", o.mode);
    run.keys = calloc((size_t)o.partitions, sizeof(char *));
    for (int i = 0; i < o.partitions; i++) {
        char key[160];
        snprintf(key, sizeof(key), "%s:%d", base, i);
        run.keys[i] = strdup(key);
    }
    uint8_t *payload = malloc((size_t)o.size);
    bench_payload_fill(payload, (size_t)o.size, 42);
    run.payload = payload;
    bench_driver_t driver = {"redis_bench", &o, &run, o.partitions, consumer_main, run_producers};

    int rc;
    if (!strcmp(o.mode, "produce"))
        rc = bench_mode_produce(&driver);
    else if (!strcmp(o.mode, "latency"))
        rc = mode_latency(&run);
    else if (!strcmp(o.mode, "fanout"))
        rc = bench_mode_fanout(&driver);
    else if (!strcmp(o.mode, "catchup"))
        rc = bench_mode_catchup(&driver);
    else
        die("unknown mode", o.mode);
    for (int i = 0; i < o.partitions; i++)
        free(run.keys[i]);
    free(run.keys);
    free(payload);
    return rc;
}
