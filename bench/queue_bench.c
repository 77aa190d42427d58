/* Work-queue driver: receive+ack throughput of competing workers against Herald subscriptions,
 * RabbitMQ quorum queues and NATS JetStream work-queue streams (bench/queues.sh runs all three).
 *
 * One run: create the queue, preload --records messages of --size bytes, then start --workers
 * worker threads, each on its own connection, that receive and acknowledge until every message
 * is acknowledged. The clock runs from the workers' start to the last acknowledgement. Every
 * worker holds at most --max-unacked messages unacknowledged, and acknowledges what it has read
 * whenever its input runs dry (one ack for the batch, where the protocol has one):
 *
 *   herald    GET /subscriptions/{name}/ws?max_unacked=K (a WebSocket, raw sockets here); one
 *             {"ack": [receipts]} frame per batch. A message counts once its ack is answered
 *             "ok" (the answer comes once the acknowledgement is fsynced).
 *   rabbitmq  a quorum queue (x-queue-type=quorum; a new one per run, deleted after it),
 *             persistent messages published with confirms, basic.consume with
 *             manual acks and basic.qos prefetch K; one basic.ack multiple=true per batch (AMQP
 *             acks are not answered: a message counts when its ack is sent).
 *   nats      a JetStream stream with work-queue retention (file storage) and one durable pull
 *             consumer with explicit acks (MaxAckPending = workers x K) shared by the workers;
 *             each Fetch()es up to K and acks every message (JetStream has no batch ack for
 *             explicit acks; natsMsg_Ack is not answered: a message counts when it is sent).
 *             Fetch waits up to 5 s: with short fetch timeouts, cnats 3.4 overran its message
 *             list when a timed-out pull request's messages arrived late (heap corruption).
 *
 * Prints one JSON line: {"system", "mode": "queue", "workers", "records", "size", "max_unacked",
 * "acked", "redelivered", "errors", "secs", "msgs_per_sec", "preload_secs"}.
 *
 * Usage: queue_bench --system herald|rabbitmq|nats --addr A [--workers N] [--records M]
 *        [--size S] [--max-unacked K] [--timeout SECS]
 *   herald: A is the HTTP host:port; rabbitmq: host:port (guest/guest); nats: a NATS URL. */
#include "common/bench_common.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define QNAME "qbench"

typedef struct cfg {
    const char *system, *addr;
    int workers, size, max_unacked;
    int64_t records;
    double timeout;
    char *payload; /* size printable bytes, NUL-terminated */
} cfg_t;

static char RQ[64]; /* the RabbitMQ queue: unique per run, deleted at the end */
static cfg_t C = {
    .workers = 1, .size = 1024, .max_unacked = 100, .records = 100000, .timeout = 120};
static _Atomic int64_t g_acked, g_redelivered, g_errors;
static _Atomic bool g_stop;

static void die(const char *fmt, const char *what)
{
    fprintf(stderr, "queue_bench: ");
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\n");
    exit(2);
}

static double secs_since(int64_t t0) { return (double)(bench_now_ns() - t0) / 1e9; }

/* ---- plain sockets (herald) ---- */

static int tcp_connect(const char *hostport)
{
    char host[256];
    snprintf(host, sizeof host, "%s", hostport);
    char *colon = strrchr(host, ':');
    if (!colon)
        die("bad address %s", hostport);
    *colon = '\0';
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        die("bad IPv4 address %s", hostport);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        die("cannot connect to %s", hostport);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("write failed: %s", strerror(errno));
        c += w;
        n -= (size_t)w;
    }
}

/* One HTTP/1.1 request with Connection: close; returns the status. */
static int http_call(const char *method, const char *path, const char *body, size_t blen)
{
    int fd = tcp_connect(C.addr);
    char head[512];
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     method, path, C.addr, blen);
    write_all(fd, head, (size_t)n);
    if (blen)
        write_all(fd, body, blen);
    char buf[4096];
    size_t got = 0;
    ssize_t r;
    while ((r = read(fd, buf + got, sizeof buf - 1 - got)) > 0 && got < sizeof buf - 1)
        got += (size_t)r;
    buf[got] = '\0';
    close(fd);
    int status = 0;
    if (sscanf(buf, "HTTP/1.1 %d", &status) != 1)
        die("bad HTTP answer to %s", path);
    if (status >= 300)
        fprintf(stderr, "queue_bench: %s %s: %s\n", method, path, buf);
    return status;
}

static void herald_setup(void)
{
    char body[512];
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"partitions\":1}", QNAME);
    if (http_call("POST", "/topics", body, strlen(body)) != 201)
        die("%s", "cannot create the topic");
    snprintf(body, sizeof body,
             "{\"name\":\"%s\",\"topic\":\"%s\",\"start\":\"earliest\",\"ack_timeout_ms\":60000}",
             QNAME, QNAME);
    if (http_call("POST", "/subscriptions", body, strlen(body)) != 201)
        die("%s", "cannot create the subscription");
    /* Preload in requests of 100 records (as bench/http.sh produces):
     * {"records":[{"value":"..."},...]} */
    const int per = 100;
    size_t cap = (size_t)per * ((size_t)C.size + 16) + 64;
    char *b = malloc(cap);
    for (int64_t done = 0; done < C.records;) {
        int k = C.records - done < per ? (int)(C.records - done) : per;
        size_t len = 0;
        len += (size_t)sprintf(b + len, "{\"records\":[");
        for (int i = 0; i < k; i++)
            len += (size_t)sprintf(b + len, "%s{\"value\":\"%s\"}", i ? "," : "", C.payload);
        len += (size_t)sprintf(b + len, "]}");
        if (http_call("POST", "/topics/" QNAME "/records", b, len) != 200)
            die("%s", "preloading failed");
        done += k;
    }
    free(b);
}

/* A masked (with a zero key) client text frame. */
static void ws_send_text(int fd, const char *p, size_t n)
{
    uint8_t h[14];
    size_t hl = 0;
    h[hl++] = 0x81;
    if (n < 126) {
        h[hl++] = (uint8_t)(0x80 | n);
    } else if (n < 65536) {
        h[hl++] = 0x80 | 126;
        h[hl++] = (uint8_t)(n >> 8);
        h[hl++] = (uint8_t)n;
    } else {
        h[hl++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            h[hl++] = (uint8_t)(n >> (8 * i));
    }
    memset(h + hl, 0, 4);
    hl += 4;
    char *all = malloc(hl + n);
    memcpy(all, h, hl);
    memcpy(all + hl, p, n);
    write_all(fd, all, hl + n);
    free(all);
}

static int64_t count_sub(const char *p, size_t n, const char *needle)
{
    int64_t c = 0;
    size_t nl = strlen(needle);
    const char *end = p + n;
    while ((p = memmem(p, (size_t)(end - p), needle, nl)) != NULL) {
        c++;
        p += nl;
    }
    return c;
}

static void *herald_worker(void *arg)
{
    (void)arg;
    int fd = tcp_connect(C.addr);
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /subscriptions/%s/ws?max_unacked=%d HTTP/1.1\r\nHost: %s\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     QNAME, C.max_unacked, C.addr);
    write_all(fd, req, (size_t)n);
    size_t cap = 1 << 20, len = 0;
    uint8_t *in = malloc(cap);
    /* the 101 head */
    for (;;) {
        ssize_t r = read(fd, in + len, cap - len);
        if (r <= 0)
            die("%s", "the WebSocket handshake failed");
        len += (size_t)r;
        uint8_t *e = memmem(in, len, "\r\n\r\n", 4);
        if (e) {
            if (memcmp(in, "HTTP/1.1 101", 12) != 0)
                die("%s", "the WebSocket upgrade was refused");
            size_t hl = (size_t)(e + 4 - in);
            memmove(in, in + hl, len - hl);
            len -= hl;
            break;
        }
    }
    size_t acap = (size_t)C.max_unacked * 64 + 64, alen;
    char *ack = malloc(acap);
    int nack = 0;
    alen = (size_t)sprintf(ack, "{\"ack\":[");
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    while (!atomic_load(&g_stop)) {
        /* parse complete frames */
        size_t pos = 0;
        for (;;) {
            if (len - pos < 2)
                break;
            uint8_t op = in[pos] & 0x0f;
            uint64_t pl = in[pos + 1] & 0x7f;
            size_t hl = 2;
            if (pl == 126) {
                if (len - pos < 4)
                    break;
                pl = ((uint64_t)in[pos + 2] << 8) | in[pos + 3];
                hl = 4;
            } else if (pl == 127) {
                if (len - pos < 10)
                    break;
                pl = 0;
                for (int i = 0; i < 8; i++)
                    pl = (pl << 8) | in[pos + 2 + i];
                hl = 10;
            }
            if (len - pos < hl + pl)
                break;
            const char *p = (const char *)in + pos + hl;
            if (op == 1) {
                const char *rc = memmem(p, pl, "\"receipt\":\"", 11);
                if (rc && pl > 0 && p[0] == '{' && p[1] == '"' && p[2] == 'p') {
                    rc += 11;
                    const char *q = memchr(rc, '"', (size_t)(p + pl - rc));
                    if (nack && alen + (size_t)(q - rc) + 8 > acap)
                        break;
                    alen += (size_t)sprintf(ack + alen, "%s\"%.*s\"", nack ? "," : "",
                                            (int)(q - rc), rc);
                    nack++;
                    if (!memmem(p, pl, "\"delivery_count\":1}", 19))
                        atomic_fetch_add(&g_redelivered, 1);
                } else {
                    int64_t ok = count_sub(p, pl, "\"status\":\"ok\"");
                    int64_t bad = count_sub(p, pl, "\"status\":\"");
                    atomic_fetch_add(&g_acked, ok);
                    atomic_fetch_add(&g_errors, bad - ok);
                    if (memmem(p, pl, "\"error\"", 7))
                        atomic_fetch_add(&g_errors, 1);
                }
            } else if (op == 9) {
                uint8_t pong[6] = {0x8a, 0x80, 0, 0, 0, 0}; /* empty pong */
                write_all(fd, pong, sizeof pong);
            } else if (op == 8) {
                atomic_fetch_add(&g_errors, 1);
                goto out;
            }
            pos += hl + pl;
        }
        memmove(in, in + pos, len - pos);
        len -= pos;
        if (len == cap) {
            cap *= 2;
            in = realloc(in, cap);
        }
        /* Input ran dry (or the ack is full): acknowledge the batch. */
        bool more = poll(&pfd, 1, 0) > 0;
        if (nack && (!more || alen + 100 > acap)) {
            alen += (size_t)sprintf(ack + alen, "]}");
            ws_send_text(fd, ack, alen);
            nack = 0;
            alen = (size_t)sprintf(ack, "{\"ack\":[");
        }
        if (!more && poll(&pfd, 1, 100) <= 0)
            continue;
        ssize_t r = read(fd, in + len, cap - len);
        if (r <= 0) {
            atomic_fetch_add(&g_errors, 1);
            break;
        }
        len += (size_t)r;
    }
out:
    close(fd);
    free(in);
    free(ack);
    return NULL;
}

/* ---- RabbitMQ ---- */

static void amqp_check(amqp_rpc_reply_t r, const char *what)
{
    if (r.reply_type != AMQP_RESPONSE_NORMAL)
        die("rabbitmq: %s failed", what);
}

static amqp_connection_state_t rmq_connect(void)
{
    char host[256];
    snprintf(host, sizeof host, "%s", C.addr);
    char *colon = strrchr(host, ':');
    if (!colon)
        die("bad address %s", C.addr);
    *colon = '\0';
    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_t *s = amqp_tcp_socket_new(c);
    if (!s || amqp_socket_open(s, host, atoi(colon + 1)) != AMQP_STATUS_OK)
        die("rabbitmq: cannot connect to %s", C.addr);
    amqp_check(amqp_login(c, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest"), "login");
    amqp_channel_open(c, 1);
    amqp_check(amqp_get_rpc_reply(c), "channel.open");
    return c;
}

static void rmq_close(amqp_connection_state_t c)
{
    amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(c, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(c);
}

static void rmq_setup(void)
{
    amqp_connection_state_t c = rmq_connect();
    amqp_table_entry_t e = {
        .key = amqp_cstring_bytes("x-queue-type"),
        .value = {.kind = AMQP_FIELD_KIND_UTF8, .value.bytes = amqp_cstring_bytes("quorum")}};
    amqp_table_t args = {.num_entries = 1, .entries = &e};
    snprintf(RQ, sizeof RQ, "%s-%d-%lld", QNAME, (int)getpid(), (long long)bench_wall_ns());
    amqp_queue_declare(c, 1, amqp_cstring_bytes(RQ), 0, 1, 0, 0, args);
    amqp_check(amqp_get_rpc_reply(c), "queue.declare");
    /* Preload with publisher confirms, up to 1000 unconfirmed. */
    amqp_confirm_select(c, 1);
    amqp_check(amqp_get_rpc_reply(c), "confirm.select");
    amqp_basic_properties_t props = {._flags = AMQP_BASIC_DELIVERY_MODE_FLAG, .delivery_mode = 2};
    amqp_bytes_t body = {.len = (size_t)C.size, .bytes = C.payload};
    int64_t sent = 0, confirmed = 0;
    while (confirmed < C.records) {
        while (sent < C.records && sent - confirmed < 1000) {
            if (amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes(RQ), 0, 0, &props,
                                   body) != AMQP_STATUS_OK)
                die("%s", "rabbitmq: publish failed");
            sent++;
        }
        amqp_frame_t f;
        if (amqp_simple_wait_frame(c, &f) != AMQP_STATUS_OK)
            die("%s", "rabbitmq: waiting for confirms failed");
        if (f.frame_type == AMQP_FRAME_METHOD && f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
            amqp_basic_ack_t *a = f.payload.method.decoded;
            confirmed = a->multiple ? (int64_t)a->delivery_tag : confirmed + 1;
        } else if (f.frame_type == AMQP_FRAME_METHOD) {
            die("%s", "rabbitmq: a publish was refused");
        }
    }
    rmq_close(c);
}

static void *rmq_worker(void *arg)
{
    (void)arg;
    amqp_connection_state_t c = rmq_connect();
    amqp_basic_qos(c, 1, 0, (uint16_t)C.max_unacked, 0);
    amqp_check(amqp_get_rpc_reply(c), "basic.qos");
    amqp_basic_consume(c, 1, amqp_cstring_bytes(RQ), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    amqp_check(amqp_get_rpc_reply(c), "basic.consume");
    uint64_t last = 0;
    int64_t pending = 0;
    while (!atomic_load(&g_stop)) {
        amqp_envelope_t env;
        struct timeval tv = {0, 100000};
        amqp_maybe_release_buffers(c);
        amqp_rpc_reply_t r = amqp_consume_message(c, &env, &tv, 0);
        const amqp_rpc_reply_t *rp = &r;
        if (rp->reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            rp->library_error == AMQP_STATUS_TIMEOUT)
            continue;
        if (r.reply_type != AMQP_RESPONSE_NORMAL) {
            atomic_fetch_add(&g_errors, 1);
            break;
        }
        last = env.delivery_tag;
        if (env.redelivered)
            atomic_fetch_add(&g_redelivered, 1);
        pending++;
        amqp_destroy_envelope(&env);
        if (!amqp_data_in_buffer(c) && !amqp_frames_enqueued(c)) {
            amqp_basic_ack(c, 1, last, 1);
            atomic_fetch_add(&g_acked, pending);
            pending = 0;
        }
    }
    rmq_close(c);
    return NULL;
}

/* ---- NATS JetStream ---- */

static void nats_check(natsStatus s, const char *what)
{
    if (s != NATS_OK)
        die("nats: %s failed", what);
}

static void nats_setup(void)
{
    natsConnection *nc;
    jsCtx *js;
    nats_check(natsConnection_ConnectTo(&nc, C.addr), "connect");
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = 1000;
    /* A loaded machine may keep 1,000 publishes unanswered longer than the default 200 ms, which
     * would fail the publish. */
    jo.PublishAsync.StallWait = 30000;
    nats_check(natsConnection_JetStream(&js, nc, &jo), "jetstream");
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = "QBENCH";
    const char *subj[] = {QNAME};
    sc.Subjects = subj;
    sc.SubjectsLen = 1;
    sc.Retention = js_WorkQueuePolicy;
    sc.Storage = js_FileStorage;
    jsStreamInfo *si = NULL;
    nats_check(js_AddStream(&si, js, &sc, NULL, NULL), "add stream");
    jsStreamInfo_Destroy(si);
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = "workers";
    cc.AckPolicy = js_AckExplicit;
    cc.AckWait = (int64_t)60 * 1000000000;
    cc.MaxAckPending = (int64_t)C.workers * C.max_unacked;
    jsConsumerInfo *ci = NULL;
    nats_check(js_AddConsumer(&ci, js, "QBENCH", &cc, NULL, NULL), "add consumer");
    jsConsumerInfo_Destroy(ci);
    for (int64_t i = 0; i < C.records; i++)
        nats_check(js_PublishAsync(js, QNAME, C.payload, C.size, NULL), "publish");
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 120000;
    nats_check(js_PublishAsyncComplete(js, &po), "publish complete");
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
}

static void *nats_worker(void *arg)
{
    (void)arg;
    natsConnection *nc;
    jsCtx *js;
    nats_check(natsConnection_ConnectTo(&nc, C.addr), "connect");
    nats_check(natsConnection_JetStream(&js, nc, NULL), "jetstream");
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = "QBENCH";
    so.Consumer = "workers";
    natsSubscription *sub;
    nats_check(js_PullSubscribe(&sub, js, QNAME, "workers", NULL, &so, NULL), "pull subscribe");
    while (!atomic_load(&g_stop)) {
        natsMsgList list = {0};
        natsStatus s = natsSubscription_Fetch(&list, sub, C.max_unacked, 5000, NULL);
        if (s == NATS_TIMEOUT)
            continue;
        if (s != NATS_OK) {
            atomic_fetch_add(&g_errors, 1);
            break;
        }
        for (int i = 0; i < list.Count; i++) {
            uint64_t delivered = 0;
            jsMsgMetaData *md = NULL;
            if (natsMsg_GetMetaData(&md, list.Msgs[i]) == NATS_OK) {
                delivered = md->NumDelivered;
                jsMsgMetaData_Destroy(md);
            }
            if (delivered > 1)
                atomic_fetch_add(&g_redelivered, 1);
            if (natsMsg_Ack(list.Msgs[i], NULL) != NATS_OK)
                atomic_fetch_add(&g_errors, 1);
        }
        atomic_fetch_add(&g_acked, list.Count);
        natsMsgList_Destroy(&list);
    }
    natsSubscription_Destroy(sub);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return NULL;
}

/* ---- main ---- */

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"system", required_argument, NULL, 's'},  {"addr", required_argument, NULL, 'a'},
        {"workers", required_argument, NULL, 'w'}, {"records", required_argument, NULL, 'n'},
        {"size", required_argument, NULL, 'z'},    {"max-unacked", required_argument, NULL, 'k'},
        {"timeout", required_argument, NULL, 't'}, {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 's':
            C.system = optarg;
            break;
        case 'a':
            C.addr = optarg;
            break;
        case 'w':
            C.workers = atoi(optarg);
            break;
        case 'n':
            C.records = atoll(optarg);
            break;
        case 'z':
            C.size = atoi(optarg);
            break;
        case 'k':
            C.max_unacked = atoi(optarg);
            break;
        case 't':
            C.timeout = atof(optarg);
            break;
        default:
            fprintf(stderr, "usage: queue_bench --system herald|rabbitmq|nats --addr A "
                            "[--workers N] [--records M] [--size S] [--max-unacked K] "
                            "[--timeout SECS]\n");
            return 2;
        }
    }
    if (!C.system || !C.addr || C.workers < 1 || C.workers > 256 || C.records < 1 || C.size < 1 ||
        C.size > (1 << 20) || C.max_unacked < 1 || C.max_unacked > 10000)
        die("%s", "bad arguments (see the usage at the top of bench/queue_bench.c)");
    C.payload = malloc((size_t)C.size + 1);
    for (int i = 0; i < C.size; i++)
        C.payload[i] = (char)('a' + i % 26);
    C.payload[C.size] = '\0';
    void *(*worker)(void *);
    int64_t t0 = bench_now_ns();
    if (!strcmp(C.system, "herald")) {
        herald_setup();
        worker = herald_worker;
    } else if (!strcmp(C.system, "rabbitmq")) {
        rmq_setup();
        worker = rmq_worker;
    } else if (!strcmp(C.system, "nats")) {
        nats_setup();
        worker = nats_worker;
    } else {
        die("unknown system %s", C.system);
        return 2;
    }
    double preload = secs_since(t0);
    fprintf(stderr, "queue_bench: preloaded %lld in %.1f s; %d workers start\n",
            (long long)C.records, preload, C.workers);
    pthread_t *th = calloc((size_t)C.workers, sizeof *th);
    int64_t start = bench_now_ns();
    for (int i = 0; i < C.workers; i++)
        pthread_create(&th[i], NULL, worker, NULL);
    int64_t last = -1, last_change = bench_now_ns();
    bool timed_out = false;
    while (atomic_load(&g_acked) < C.records) {
        usleep(1000);
        int64_t a = atomic_load(&g_acked);
        if (a != last) {
            last = a;
            last_change = bench_now_ns();
        } else if (secs_since(last_change) > C.timeout) {
            timed_out = true;
            break;
        }
    }
    double secs = secs_since(start);
    atomic_store(&g_stop, true);
    for (int i = 0; i < C.workers; i++)
        pthread_join(th[i], NULL);
    int64_t acked = atomic_load(&g_acked);
    printf("{\"system\":\"%s\",\"mode\":\"queue\",\"workers\":%d,\"records\":%lld,\"size\":%d,"
           "\"max_unacked\":%d,\"acked\":%lld,\"redelivered\":%lld,\"errors\":%lld,"
           "\"secs\":%.6f,\"msgs_per_sec\":%.1f,\"preload_secs\":%.3f%s}\n",
           C.system, C.workers, (long long)C.records, C.size, C.max_unacked, (long long)acked,
           (long long)atomic_load(&g_redelivered), (long long)atomic_load(&g_errors), secs,
           (double)acked / secs, preload, timed_out ? ",\"timed_out\":true" : "");
    if (!strcmp(C.system, "rabbitmq")) {
        amqp_connection_state_t rc = rmq_connect();
        amqp_queue_delete(rc, 1, amqp_cstring_bytes(RQ), 0, 0);
        rmq_close(rc);
    }
    free(th);
    free(C.payload);
    return timed_out || acked < C.records ? 1 : 0;
}
