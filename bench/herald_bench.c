/* Kafka-protocol load generator on librdkafka, for Herald or any Kafka address.
 *
 * Modes (one JSON result line each, see bench/common/bench_common.c):
 *   produce   P producers send N records of S bytes round-robin over T partitions, acks=all,
 *             idempotence off, at most K unacknowledged records per producer.
 *   latency   one producer paced at R records/s for D seconds; each value starts with the intended
 *             send time (CLOCK_MONOTONIC), so a stalled producer shows up as latency instead of
 *             being hidden (no coordinated omission). A consumer in this process records
 *             intended-send -> receipt.
 *   fanout    G consumers, each assign()ed to every partition from the beginning, all read the N
 *             records one producer sends. Reports deliveries/s summed over consumers.
 *   catchup   fill a backlog of N records (untimed), then one consumer reads it from the start.
 * Helpers for bench/run.sh's footprint measurements:
 *   create    create a topic with T partitions and write one record to each of them.
 *   connections  open C idle TCP connections and hold them.
 *   waitport  print the CLOCK_REALTIME at which the address first accepts a TCP connection.
 * --addr mock runs against librdkafka's built-in mock cluster, to smoke-test this file without a
 * broker. -X key=value sets a librdkafka property on every client (security settings for a real
 * cluster, or client tuning), after the defaults described here.
 *
 * --values FILE (produce mode only) sends given values instead of random bytes of --size: FILE
 * holds one or more values, each a 4-byte big-endian length and that many bytes, and the
 * producers send them in turn (record i of the run, over all producers, carries value
 * i mod count). The result's "size" is then the values' mean length, rounded, and "bytes" the sum
 * of the acknowledged values' lengths. bench/registry.sh uses it for schema-registry wire-format
 * records (magic byte 0, a 4-byte schema id, the JSON or Avro payload). */
#include "common/bench_common.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MODES "produce latency fanout catchup create connections waitport"

/* The values of --values FILE, read once before the producers start; read-only afterwards. */
typedef struct values {
    uint8_t *buf;        /* the file's bytes */
    const uint8_t **val; /* val[i] points into buf */
    size_t *len;
    int64_t n;
    int64_t total; /* sum of len[] */
} values_t;

/* Settings shared by all threads of one run; read-only once the threads start. */
typedef struct run {
    const bench_opts_t *o;
    char topic[128];
    int partitions;
    const uint8_t *payload;  /* o->size bytes, shared by every producer (sent without copying) */
    rd_kafka_t *mock_holder; /* keeps the mock cluster alive in --addr mock */
    char mock_addr[256];
    const values_t *values;      /* --values: sent in turn instead of `payload`; else NULL */
    _Atomic int64_t acked_bytes; /* value bytes acknowledged, summed over producers */
} run_t;

/* One producer thread's state. Delivery callbacks run on that thread, inside rd_kafka_poll(). */
typedef struct producer {
    run_t *run;
    int idx;
    int64_t to_send;
    int64_t inflight, acked, failed;
    int64_t acked_bytes;
    rd_kafka_resp_err_t first_err;
    rd_kafka_t *rk;
    pthread_t thread;
    bench_samples_t *ack; /* latency mode: producer timestamp to acknowledgement */
    int64_t ack_from;     /* records stamped before this are not sampled */
} producer_t;

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "herald_bench: %s: %s\n", what, detail ? detail : "");
    exit(2);
}

static void set_conf(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char err[256];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK)
        die(k, err);
}

/* Client properties given with -X, set after the driver's own so that they override them. */
#define MAX_USER_CONF 64
static char *user_conf[MAX_USER_CONF][2];
static int n_user_conf;

static rd_kafka_conf_t *with_user_conf(rd_kafka_conf_t *conf)
{
    for (int i = 0; i < n_user_conf; i++)
        set_conf(conf, user_conf[i][0], user_conf[i][1]);
    return conf;
}

/* The path given with --values, or NULL. */
static const char *values_path;

/* Takes this driver's own options out of argv: every "-X key=value" (into user_conf) and
 * "--values FILE" (or --values=FILE, into values_path). Returns the remaining argc. */
static int take_driver_opts(int argc, char **argv)
{
    int out = 1;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--values=", 9)) {
            values_path = argv[i] + 9;
            continue;
        }
        if (!strcmp(argv[i], "--values")) {
            if (i + 1 == argc)
                die("--values", "expects a file");
            values_path = argv[++i];
            continue;
        }
        if (strcmp(argv[i], "-X") != 0) {
            argv[out++] = argv[i];
            continue;
        }
        char *kv = i + 1 < argc ? argv[++i] : NULL;
        char *eq = kv ? strchr(kv, '=') : NULL;
        if (!eq || eq == kv)
            die("-X", "expects key=value");
        if (n_user_conf == MAX_USER_CONF)
            die("-X", "too many properties");
        *eq = '\0';
        user_conf[n_user_conf][0] = kv;
        user_conf[n_user_conf][1] = eq + 1;
        n_user_conf++;
    }
    argv[out] = NULL;
    return out;
}

static rd_kafka_conf_t *base_conf(const run_t *run)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set_conf(conf, "bootstrap.servers", run->mock_addr[0] ? run->mock_addr : run->o->addr);
    set_conf(conf, "client.id", "herald_bench");
    set_conf(conf, "log_level", "3");
    return conf;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    producer_t *p = opaque;
    p->inflight--;
    if (m->err) {
        if (!p->failed)
            p->first_err = m->err;
        p->failed++;
    } else {
        p->acked++;
        p->acked_bytes += (int64_t)m->len;
        int64_t stamp = p->ack ? bench_stamp_get(m->payload, m->len) : 0;
        if (p->ack && stamp >= p->ack_from)
            bench_samples_add(p->ack, bench_now_ns() - stamp);
    }
}

static rd_kafka_t *new_producer(run_t *run, producer_t *p)
{
    const bench_opts_t *o = run->o;
    char v[32], err[512];
    rd_kafka_conf_t *conf = base_conf(run);
    set_conf(conf, "acks", "all");
    set_conf(conf, "enable.idempotence", "false");
    snprintf(v, sizeof(v), "%g", o->linger_ms);
    set_conf(conf, "linger.ms", v);
    /* The in-flight limit is enforced here, per record, so it means the same as NATS's max
     * pending and the Redis pipeline depth; librdkafka's own queue is only made big enough. */
    snprintf(v, sizeof(v), "%d", o->inflight + 16);
    set_conf(conf, "queue.buffering.max.messages", v);
    set_conf(conf, "max.in.flight.requests.per.connection", "5");
    set_conf(conf, "message.timeout.ms", "120000");
    set_conf(conf, "compression.type", "none");
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, with_user_conf(conf), err, sizeof(err));
    if (!rk)
        die("rd_kafka_new(producer)", err);
    return rk;
}

/* Sends one record, waiting for acknowledgements while `p` is at its in-flight limit. */
static void produce_one(producer_t *p, int32_t partition, const void *val, size_t len, int flags)
{
    while (p->inflight >= p->run->o->inflight)
        rd_kafka_poll(p->rk, 100);
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            p->rk, RD_KAFKA_V_TOPIC(p->run->topic), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_VALUE((void *)val, len), RD_KAFKA_V_MSGFLAGS(flags), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            die("produce", rd_kafka_err2str(err));
        rd_kafka_poll(p->rk, 10);
    }
    p->inflight++;
    rd_kafka_poll(p->rk, 0);
}

static void producer_drain(producer_t *p)
{
    rd_kafka_flush(p->rk, (int)(p->run->o->timeout * 1000) + 60000);
}

static void *producer_main(void *arg)
{
    producer_t *p = arg;
    const run_t *run = p->run;
    int nprod = run->o->producers;
    const values_t *vs = run->values;
    for (int64_t i = 0; i < p->to_send; i++) {
        int64_t k = i * nprod + p->idx; /* the record's index in the whole run */
        int32_t part = (int32_t)(k % run->partitions);
        if (vs)
            produce_one(p, part, vs->val[k % vs->n], vs->len[k % vs->n], 0);
        else
            produce_one(p, part, run->payload, (size_t)run->o->size, 0);
    }
    producer_drain(p);
    return NULL;
}

/* A consumer reading every partition from the beginning. It uses the simple (legacy) consumer
 * API, which needs no group.id, so it means the same as the peers' independent readers (NATS
 * ordered consumers, Redis XREAD): no group coordination or commits in the measurement. All
 * partitions feed one queue, which consumer_main() polls. */
static rd_kafka_t *new_consumer(run_t *run, rd_kafka_topic_t **rkt_out, rd_kafka_queue_t **q_out)
{
    char err[512];
    rd_kafka_conf_t *conf = base_conf(run);
    set_conf(conf, "fetch.wait.max.ms", "100");
    set_conf(conf, "fetch.min.bytes", "1");
    set_conf(conf, "enable.partition.eof", "false");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, with_user_conf(conf), err, sizeof(err));
    if (!rk)
        die("rd_kafka_new(consumer)", err);
    rd_kafka_topic_conf_t *tconf = rd_kafka_topic_conf_new();
    if (rd_kafka_topic_conf_set(tconf, "auto.offset.reset", "earliest", err, sizeof(err)))
        die("auto.offset.reset", err);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, run->topic, tconf);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    for (int i = 0; i < run->partitions; i++)
        if (rd_kafka_consume_start_queue(rkt, i, RD_KAFKA_OFFSET_BEGINNING, q) < 0)
            die("consume_start", rd_kafka_err2str(rd_kafka_last_error()));
    *rkt_out = rkt;
    *q_out = q;
    return rk;
}

static void consumer_close(run_t *run, rd_kafka_t *rk, rd_kafka_topic_t *rkt, rd_kafka_queue_t *q)
{
    for (int i = 0; i < run->partitions; i++)
        rd_kafka_consume_stop(rkt, i);
    rd_kafka_queue_destroy(q);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
}

/* Waits for one message, then takes whatever else is already queued with
 * rd_kafka_consume_batch_queue() and a zero timeout: one queue lock per up to CONSUME_BATCH
 * messages when there is a backlog, and no waiting for a batch to fill when there is not (that
 * call with a timeout waits for a full batch, which would distort latency). */
#define CONSUME_BATCH 1024

static void *consumer_main(void *arg)
{
    bench_reader_t *c = arg;
    rd_kafka_topic_t *rkt;
    rd_kafka_queue_t *q;
    run_t *run = c->run;
    rd_kafka_t *rk = new_consumer(run, &rkt, &q);
    rd_kafka_message_t **ms = calloc(CONSUME_BATCH, sizeof *ms);
    int64_t last_progress = bench_now_ns();
    int64_t idle_limit = (int64_t)(run->o->timeout * 1e9);
    while (atomic_load(&c->got) < c->expected) {
        ms[0] = rd_kafka_consume_queue(q, 100);
        int64_t now = bench_now_ns();
        if (!ms[0]) {
            if (now - last_progress > idle_limit)
                break;
            continue;
        }
        ssize_t more = rd_kafka_consume_batch_queue(q, 0, ms + 1, CONSUME_BATCH - 1);
        ssize_t n = 1 + (more > 0 ? more : 0);
        int64_t got = 0;
        for (ssize_t i = 0; i < n; i++) {
            rd_kafka_message_t *m = ms[i];
            if (m->err) {
                if (c->errors++ == 0)
                    fprintf(stderr, "herald_bench: consumer: %s\n", rd_kafka_message_errstr(m));
            } else {
                if (c->want_lat) {
                    int64_t t = bench_stamp_get(m->payload, m->len);
                    if (t >= c->warm_ns)
                        bench_samples_add(&c->lat, now - t);
                }
                c->bytes += (int64_t)m->len;
                got++;
            }
            rd_kafka_message_destroy(m);
        }
        if (got) {
            atomic_fetch_add(&c->got, got);
            last_progress = now;
        }
    }
    c->done_ns = bench_now_ns();
    free(ms);
    consumer_close(run, rk, rkt, q);
    return NULL;
}

/* Creates the topic with CreateTopics (an existing topic is fine), then waits until Metadata
 * lists it and records how many partitions it really has. */
static void create_topic(run_t *run)
{
    const bench_opts_t *o = run->o;
    if (run->mock_holder) {
        rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(run->mock_holder);
        rd_kafka_mock_topic_create(mc, run->topic, o->partitions, 1);
    }
    char err[512];
    rd_kafka_t *rk =
        rd_kafka_new(RD_KAFKA_PRODUCER, with_user_conf(base_conf(run)), err, sizeof(err));
    if (!rk)
        die("rd_kafka_new(admin)", err);
    if (!run->mock_holder) {
        rd_kafka_NewTopic_t *nt =
            rd_kafka_NewTopic_new(run->topic, o->partitions, 1, err, sizeof(err));
        if (!nt)
            die("NewTopic", err);
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_AdminOptions_set_operation_timeout(ao, 30000, err, sizeof(err));
        rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 60000);
        if (!ev)
            die("CreateTopics", "no answer within 60 s");
        if (rd_kafka_event_error(ev)) {
            fprintf(stderr, "herald_bench: CreateTopics: %s (relying on auto-create)\n",
                    rd_kafka_event_error_string(ev));
        } else {
            size_t n;
            const rd_kafka_topic_result_t **res =
                rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
            for (size_t i = 0; i < n; i++) {
                rd_kafka_resp_err_t te = rd_kafka_topic_result_error(res[i]);
                if (te && te != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                    fprintf(stderr, "herald_bench: CreateTopics %s: %s\n", run->topic,
                            rd_kafka_err2str(te));
            }
        }
        rd_kafka_event_destroy(ev);
        rd_kafka_AdminOptions_destroy(ao);
        rd_kafka_NewTopic_destroy(nt);
        rd_kafka_queue_destroy(q);
    }
    /* Metadata for the topic (this also triggers auto-creation on brokers that do it). */
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, run->topic, NULL);
    int64_t deadline = bench_now_ns() + 60 * (int64_t)1000000000;
    run->partitions = 0;
    while (bench_now_ns() < deadline) {
        const rd_kafka_metadata_t *md;
        if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (md->topic_cnt == 1 && !md->topics[0].err)
                run->partitions = md->topics[0].partition_cnt;
            rd_kafka_metadata_destroy(md);
            if (run->partitions >= o->partitions)
                break;
        }
        usleep(200000);
    }
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    if (run->partitions < 1)
        die("metadata", "topic did not appear within 60 s");
    if (run->partitions != o->partitions)
        fprintf(stderr, "herald_bench: topic %s has %d partitions, asked for %d\n", run->topic,
                run->partitions, o->partitions);
}

/* Loads the topic's metadata into a new client before the clock starts: librdkafka otherwise
 * waits up to a second before its first metadata query for a topic, on any broker. */
static void warm_metadata(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const rd_kafka_metadata_t *md;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
}

/* Runs P producers over o->records records; returns elapsed seconds and fills the totals. */
static double run_producers(void *arg, int64_t records, int64_t *acked, int64_t *failed)
{
    run_t *run = arg;
    const bench_opts_t *o = run->o;
    producer_t *ps = calloc((size_t)o->producers, sizeof(*ps));
    for (int i = 0; i < o->producers; i++) {
        ps[i].run = run;
        ps[i].idx = i;
        ps[i].to_send = records / o->producers + (i < records % o->producers);
        ps[i].rk = new_producer(run, &ps[i]);
        warm_metadata(ps[i].rk, run->topic);
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
        *failed += ps[i].failed + ps[i].inflight;
        atomic_fetch_add(&run->acked_bytes, ps[i].acked_bytes);
        if (ps[i].failed)
            fprintf(stderr, "herald_bench: producer %d: %lld failed, first: %s\n", i,
                    (long long)ps[i].failed, rd_kafka_err2str(ps[i].first_err));
        rd_kafka_destroy(ps[i].rk);
    }
    free(ps);
    return secs;
}

/* Reads a --values file (see the top of this file) into `vs`; dies on anything malformed. Each
 * value is at most 64 MiB, the file at most 1 GiB. */
#define VALUES_MAX_FILE ((int64_t)1 << 30)
#define VALUE_MAX_LEN ((uint32_t)64 << 20)

static void values_load(values_t *vs, const char *path)
{
    memset(vs, 0, sizeof(*vs));
    FILE *f = fopen(path, "rb");
    if (!f)
        die(path, strerror(errno));
    if (fseek(f, 0, SEEK_END) < 0)
        die(path, strerror(errno));
    long size = ftell(f);
    if (size < 0 || size > VALUES_MAX_FILE)
        die(path, "unreadable, or larger than 1 GiB");
    rewind(f);
    vs->buf = malloc(size ? (size_t)size : 1);
    if (!vs->buf || fread(vs->buf, 1, (size_t)size, f) != (size_t)size)
        die(path, "could not read the file");
    fclose(f);
    /* Two passes: count the values, then point at them. */
    for (int pass = 0; pass < 2; pass++) {
        size_t at = 0;
        int64_t n = 0;
        while (at < (size_t)size) {
            if ((size_t)size - at < 4)
                die(path, "truncated length prefix");
            const uint8_t *b = vs->buf + at;
            uint32_t len = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
            if (len > VALUE_MAX_LEN || len > (size_t)size - at - 4)
                die(path, "a value is longer than 64 MiB or than the rest of the file");
            if (pass == 1) {
                vs->val[n] = b + 4;
                vs->len[n] = len;
                vs->total += len;
            }
            at += 4 + (size_t)len;
            n++;
        }
        if (n == 0)
            die(path, "holds no value");
        if (pass == 0) {
            vs->n = n;
            vs->val = calloc((size_t)n, sizeof(*vs->val));
            vs->len = calloc((size_t)n, sizeof(*vs->len));
            if (!vs->val || !vs->len)
                die(path, "out of memory");
        }
    }
}

static void values_free(values_t *vs)
{
    free(vs->buf);
    free(vs->val);
    free(vs->len);
}

/* produce mode with --values: as bench_mode_produce(), with the bytes the values really had. */
static int mode_produce_values(run_t *run)
{
    bench_result_t r = {.opts = run->o, .partitions = run->partitions};
    r.secs = run_producers(run, run->o->records, &r.records, &r.errors);
    r.bytes = atomic_load(&run->acked_bytes);
    bench_result_print(&r);
    return r.errors ? 1 : 0;
}

static int mode_latency(run_t *run)
{
    const bench_opts_t *o = run->o;
    int64_t n = (int64_t)(o->rate * o->duration);
    size_t size = o->size < 8 ? 8 : (size_t)o->size;
    bench_reader_t c;
    bench_reader_init(&c, run, n);
    c.want_lat = true;
    bench_samples_t ack;
    bench_samples_init(&ack);
    producer_t p = {.run = run, .ack = &ack};
    p.rk = new_producer(run, &p);
    uint8_t *buf = malloc(size);
    memcpy(buf, run->payload, size < (size_t)o->size ? size : (size_t)o->size);

    int64_t t0 = bench_now_ns() + 500000000; /* give the consumer time to connect */
    c.warm_ns = t0 + (int64_t)(o->warmup * 1e9);
    p.ack_from = c.warm_ns;
    pthread_create(&c.thread, NULL, consumer_main, &c);
    double interval = 1e9 / o->rate;
    for (int64_t i = 0; i < n; i++) {
        int64_t due = t0 + (int64_t)((double)i * interval);
        if (bench_now_ns() < due) {
            rd_kafka_poll(p.rk, 0);
            bench_sleep_until_ns(due);
        }
        bench_stamp_put(buf, due);
        produce_one(&p, (int32_t)(i % run->partitions), buf, size, RD_KAFKA_MSG_F_COPY);
    }
    producer_drain(&p);
    pthread_join(c.thread, NULL);
    bench_result_t r = {.opts = o, .partitions = run->partitions, .records = p.acked};
    r.deliveries = atomic_load(&c.got);
    r.bytes = c.bytes;
    r.secs = (double)(c.done_ns - t0) / 1e9;
    r.errors = p.failed + p.inflight + c.errors + (n - r.deliveries);
    r.lat = &c.lat;
    if (r.deliveries < n)
        r.note = "consumer stopped before receiving every record";
    bench_result_print(&r);
    fprintf(stderr, "herald_bench: acknowledgement latency p50 %.3f p99 %.3f p99.9 %.3f ms\n",
            bench_samples_quantile_ms(&ack, 0.5), bench_samples_quantile_ms(&ack, 0.99),
            bench_samples_quantile_ms(&ack, 0.999));
    bench_samples_deinit(&ack);
    bench_samples_deinit(&c.lat);
    rd_kafka_destroy(p.rk);
    free(buf);
    return r.errors ? 1 : 0;
}

static int mode_create(run_t *run)
{
    /* One record per partition, so each partition has a segment on disk. */
    int64_t acked, failed;
    bench_opts_t o1 = *run->o;
    o1.records = run->partitions;
    o1.producers = 1;
    const bench_opts_t *saved = run->o;
    run->o = &o1;
    double secs = run_producers(run, run->partitions, &acked, &failed);
    run->o = saved;
    bench_result_t r = {.opts = run->o, .partitions = run->partitions, .records = acked};
    r.secs = secs;
    r.errors = failed;
    r.bytes = acked * run->o->size;
    bench_result_print(&r);
    return failed ? 1 : 0;
}

static int resolve(const char *addr, struct addrinfo **res)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= sizeof(host))
        return -1;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = 0;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    return getaddrinfo(host, colon + 1, &hints, res) ? -1 : 0;
}

static int tcp_connect(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0)
        return -errno;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    (void)sig;
    got_signal = 1;
}

static int mode_connections(const bench_opts_t *o)
{
    struct addrinfo *ai;
    if (resolve(o->addr, &ai) < 0)
        die("resolve", o->addr);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    int *fds = calloc((size_t)o->connections, sizeof(int));
    int n = 0, err = 0;
    for (; n < o->connections; n++) {
        fds[n] = tcp_connect(ai);
        if (fds[n] < 0) {
            err = -fds[n];
            break;
        }
    }
    printf("{\"mode\":\"connections\",\"opened\":%d,\"error\":\"%s\"}\n", n,
           err ? strerror(err) : "");
    fflush(stdout);
    int64_t end = bench_now_ns() + (int64_t)(o->hold * 1e9);
    while (!got_signal && (o->hold <= 0 || bench_now_ns() < end))
        usleep(50000);
    for (int i = 0; i < n; i++)
        close(fds[i]);
    free(fds);
    freeaddrinfo(ai);
    return n == o->connections ? 0 : 1;
}

static int mode_waitport(const bench_opts_t *o)
{
    struct addrinfo *ai;
    if (resolve(o->addr, &ai) < 0)
        die("resolve", o->addr);
    int64_t deadline = bench_now_ns() + (int64_t)(o->timeout * 1e9);
    while (bench_now_ns() < deadline) {
        int fd = tcp_connect(ai);
        if (fd >= 0) {
            close(fd);
            printf("{\"mode\":\"waitport\",\"wall_ns\":%lld}\n", (long long)bench_wall_ns());
            freeaddrinfo(ai);
            return 0;
        }
        usleep(1000);
    }
    freeaddrinfo(ai);
    fprintf(stderr, "herald_bench: %s did not accept connections in time\n", o->addr);
    return 1;
}

static void usage(FILE *f)
{
    bench_opts_usage(f, "herald_bench", MODES);
    fprintf(f, "  -X key=value      librdkafka property for every client this run creates\n"
               "                    (repeatable; overrides the settings above)\n"
               "  --values FILE     produce mode: send these values in turn instead of --size\n"
               "                    random bytes (each a 4-byte big-endian length, then the\n"
               "                    bytes); the result's size is their mean length\n");
}

int main(int argc, char **argv)
{
    bench_opts_t o;
    const char *why;
    argc = take_driver_opts(argc, argv);
    int prc = bench_opts_parse(&o, argc, argv, "127.0.0.1:9092", &why);
    if (prc > 0) {
        usage(stdout);
        return 0;
    }
    if (prc < 0) {
        fprintf(stderr, "herald_bench: %s\n", why);
        usage(stderr);
        return 2;
    }
    if (!o.system)
        o.system = "kafka";
    if (!strcmp(o.mode, "connections"))
        return mode_connections(&o);
    if (!strcmp(o.mode, "waitport"))
        return mode_waitport(&o);

    values_t values;
    if (values_path) {
        if (strcmp(o.mode, "produce") != 0)
            die("--values", "is for produce mode only");
        values_load(&values, values_path);
        o.size = (int)((values.total + values.n / 2) / values.n);
        if (o.size < 1)
            o.size = 1;
    }
    run_t run = {.o = &o, .partitions = o.partitions, .values = values_path ? &values : NULL};
    if (o.topic)
        snprintf(run.topic, sizeof(run.topic), "%s", o.topic);
    else
        bench_unique_name(run.topic, sizeof(run.topic), "bench-", o.mode);
    uint8_t *payload = malloc((size_t)o.size);
    bench_payload_fill(payload, (size_t)o.size, 42);
    run.payload = payload;

    if (!strcmp(o.addr, "mock")) {
        char err[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        set_conf(conf, "test.mock.num.brokers", "1");
        set_conf(conf, "log_level", "3");
        run.mock_holder = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
        if (!run.mock_holder)
            die("mock cluster", err);
        snprintf(run.mock_addr, sizeof(run.mock_addr), "%s",
                 rd_kafka_mock_cluster_bootstraps(rd_kafka_handle_mock_cluster(run.mock_holder)));
    }
    create_topic(&run);
    bench_driver_t driver = {"herald_bench", &o,           &run, run.partitions,
                             consumer_main,  run_producers};

    int rc = 1;
    if (!strcmp(o.mode, "produce"))
        rc = run.values ? mode_produce_values(&run) : bench_mode_produce(&driver);
    else if (!strcmp(o.mode, "latency"))
        rc = mode_latency(&run);
    else if (!strcmp(o.mode, "fanout"))
        rc = bench_mode_fanout(&driver);
    else if (!strcmp(o.mode, "catchup"))
        rc = bench_mode_catchup(&driver);
    else if (!strcmp(o.mode, "create"))
        rc = mode_create(&run);
    else
        die("unknown mode", o.mode);

    if (run.mock_holder)
        rd_kafka_destroy(run.mock_holder);
    free(payload);
    if (run.values)
        values_free(&values);
    return rc;
}
