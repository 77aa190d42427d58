/* libFuzzer target: arbitrary bytes as the client side of one HTTP connection, end to end
 * through the parser, the limits, the router, JSON decoding and the handlers, against a real
 * broker in a temp dir (topics "orders" with 3 partitions and "events" with 1).
 *
 * Per input: a fresh detached HTTP server, one end of a socketpair served by it, the input
 * written to the other end in chunks (interleaved with loop turns, so large inputs cannot
 * deadlock on full socket buffers), then a half-close. The loop runs until the server closes
 * the connection; a connection still open after QUIESCE_MS is quiesced (long polls answer at
 * once), and one still open after HANG_MS is a finding.
 *
 * The bytes that came back must be a sequence of well-formed HTTP/1.1 responses: a status
 * line, header lines, then exactly Content-Length body bytes (none for 1xx, 204, 304 and for
 * answers to HEAD). Which requests were HEAD is learnt by running a second http-parser over the
 * input. A problem+json body must be a JSON object whose "status" is the status code, and any
 * other JSON body must parse. Nothing follows a "Connection: close" answer, and there are never
 * more final answers than requests (plus one for a rejected one). A 101 hands the connection to
 * a stream, whose bytes are not HTTP responses: checking stops there.
 *
 * Between inputs, topics the input created are deleted, deleted ones are recreated, and a
 * topic that grew large is recreated empty, so state stays small and inputs stay independent
 * enough to reproduce. */
#include "broker/broker.h"
#include "fuzz_check.h"
#include "http/http_int.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/monotime.h"
#include "util/say.h"

#include <errno.h>
#include <ftw.h>
#include <http_parser.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define QUIESCE_MS 50
#define HANG_MS 10000
/* Answers larger than this are not plausible for a 64 KiB input. */
#define MAX_OUTPUT (64u << 20)
/* Recreate a fixed topic once this many records were produced to it. */
#define MAX_RECORDS 20000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
    const char *name;
    int32_t partitions;
} fixed_topics[] = {{"orders", 3}, {"events", 1}};
#define NFIXED (sizeof fixed_topics / sizeof fixed_topics[0])

static uv_loop_t *loop;
static uv_async_t durable_async;
static uv_timer_t tick; /* keeps UV_RUN_ONCE from blocking for long */
static hd_config_t cfg;
static broker_t *broker;
static char data_dir[64];

/* ---- the broker, opened once ---- */

static void on_durable_notify(void *ctx)
{
    (void)ctx;
    /* Flusher thread: wake the loop, as the server does. */
    uv_async_send(&durable_async);
}

static void on_durable_async(uv_async_t *a)
{
    (void)a;
    broker_on_durable(broker);
}

static void on_tick(uv_timer_t *t) { (void)t; }

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void at_exit(void)
{
    broker_close(broker);
    broker = NULL;
    nftw(data_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void init_once(void)
{
    signal(SIGPIPE, SIG_IGN);
    say_level = SAY_ERROR;
    loop = uv_default_loop();
    strcpy(data_dir, "/tmp/herald-fuzz-http-XXXXXX");
    CHECK(mkdtemp(data_dir) != NULL);
    hd_config_init(&cfg);
    free(cfg.data_dir);
    cfg.data_dir = strdup(data_dir);
    cfg.preallocate = false;
    cfg.http_max_request_bytes = 1 << 20;
    uv_async_init(loop, &durable_async, on_durable_async);
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, on_tick, 5, 5);
    CHECK(broker_open(&cfg, on_durable_notify, NULL, &broker) == 0);
    atexit(at_exit);
}

static int64_t topic_records(broker_topic_t *t)
{
    int64_t n = 0;
    for (int32_t i = 0; i < broker_topic_partitions(t); i++)
        n += broker_partition_end(broker_topic_partition(t, i));
    return n;
}

/* Deletes every topic an input created, and (re)creates the fixed ones. */
static void reset_topics(void)
{
    for (int i = broker_topic_count(broker) - 1; i >= 0; i--) {
        broker_topic_t *t = broker_topic_at(broker, i);
        const char *name = broker_topic_name(t);
        bool keep = false;
        for (size_t k = 0; k < NFIXED; k++)
            if (strcmp(name, fixed_topics[k].name) == 0)
                keep = broker_topic_partitions(t) == fixed_topics[k].partitions &&
                       topic_records(t) < MAX_RECORDS;
        if (!keep) {
            char copy[256];
            snprintf(copy, sizeof copy, "%s", name);
            CHECK(broker_topic_delete(broker, copy) == 0);
            i = broker_topic_count(broker); /* the order of topics changed */
        }
    }
    for (size_t k = 0; k < NFIXED; k++) {
        if (broker_topic_find(broker, fixed_topics[k].name))
            continue;
        const char *why = NULL;
        CHECK(broker_topic_create(broker, fixed_topics[k].name, fixed_topics[k].partitions, NULL, 0,
                                  false, NULL, &why) == 0);
    }
}

/* ---- which requests were HEAD: a second parser over the input ---- */

typedef struct shadow {
    bool *head; /* per request whose header section was complete */
    size_t n, cap;
} shadow_t;

static int shadow_headers_complete(http_parser *p)
{
    shadow_t *s = p->data;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->head = realloc(s->head, s->cap * sizeof *s->head);
        CHECK(s->head != NULL);
    }
    s->head[s->n++] = p->method == HTTP_HEAD;
    return 0;
}

static void shadow_parse(const uint8_t *data, size_t size, shadow_t *s)
{
    static const http_parser_settings settings = {.on_headers_complete = shadow_headers_complete};
    http_parser p;
    http_parser_init(&p, HTTP_REQUEST);
    p.data = s;
    size_t off = 0;
    while (off < size) {
        size_t n = http_parser_execute(&p, &settings, (const char *)data + off, size - off);
        off += n;
        /* After an upgrade request the parser stops; the server goes on with the next one. */
        if (HTTP_PARSER_ERRNO(&p) != HPE_OK || n == 0)
            break;
    }
}

/* ---- checking the answers ---- */

static bool is_tchar(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* The line at p (before CRLF); returns its length or -1 when no CRLF follows. */
static ssize_t line_len(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++)
        if (p[i] == '\r' && p[i + 1] == '\n')
            return (ssize_t)i;
    return -1;
}

static void check_json_body(int status, const char *ctype, const uint8_t *body, size_t len)
{
    if (!ctype ||
        (strcmp(ctype, "application/problem+json") != 0 && strcmp(ctype, "application/json") != 0))
        return;
    json_error_t err;
    json_t *j = json_loadb((const char *)body, len, JSON_ALLOW_NUL, &err);
    if (!j) {
        fprintf(stderr, "answer %d: body is not JSON: %s\n", status, err.text);
        CHECK(j != NULL);
    }
    if (strcmp(ctype, "application/problem+json") == 0) {
        CHECK(json_is_object(j));
        CHECK(json_integer_value(json_object_get(j, "status")) == status);
        CHECK(json_is_string(json_object_get(j, "title")));
        CHECK(status >= 400);
    }
    json_decref(j);
}

/* Checks the whole output. `complete` is false when the connection had to be forced closed,
 * in which case the last answer may be cut short. */
static void check_output(const uint8_t *p, size_t n, const shadow_t *sh, bool complete)
{
    size_t pos = 0, finals = 0;
    bool closed = false;
    while (pos < n) {
        CHECK(!closed); /* nothing after Connection: close */
        size_t start = pos;
        ssize_t ll = line_len(p + pos, n - pos);
        if (ll < 0 && !complete)
            return;
        CHECK(ll >= 13);
        CHECK(memcmp(p + pos, "HTTP/1.1 ", 9) == 0);
        int status = 0;
        for (int i = 9; i < 12; i++) {
            CHECK(p[pos + i] >= '0' && p[pos + i] <= '9');
            status = status * 10 + (p[pos + i] - '0');
        }
        CHECK(status >= 100 && status <= 599);
        CHECK(p[pos + 12] == ' ');
        char reason[64];
        CHECK(ll - 13 < (ssize_t)sizeof reason);
        memcpy(reason, p + pos + 13, (size_t)ll - 13);
        reason[ll - 13] = '\0';
        CHECK(strcmp(reason, http_status_text(status)) == 0);
        pos += (size_t)ll + 2;

        long long clen = -1;
        char ctype[128] = "";
        bool has_ctype = false;
        for (int nh = 0;; nh++) {
            CHECK(nh < 64);
            ll = line_len(p + pos, n - pos);
            if (ll < 0 && !complete)
                return;
            CHECK(ll >= 0);
            const uint8_t *h = p + pos;
            pos += (size_t)ll + 2;
            if (ll == 0)
                break;
            const uint8_t *colon = memchr(h, ':', (size_t)ll);
            CHECK(colon && colon > h);
            for (const uint8_t *q = h; q < colon; q++)
                CHECK(is_tchar(*q));
            CHECK(colon + 1 < h + ll && colon[1] == ' ');
            for (const uint8_t *q = colon + 2; q < h + ll; q++)
                CHECK(*q >= 0x20 && *q != 0x7f); /* no control bytes in a value */
            size_t nlen = (size_t)(colon - h);
            const char *v = (const char *)colon + 2;
            size_t vlen = (size_t)(h + ll - (colon + 2));
            if (nlen == 14 && strncasecmp((const char *)h, "Content-Length", 14) == 0) {
                CHECK(clen < 0); /* once */
                CHECK(vlen > 0 && vlen < 20);
                clen = 0;
                for (size_t i = 0; i < vlen; i++) {
                    CHECK(v[i] >= '0' && v[i] <= '9');
                    clen = clen * 10 + (v[i] - '0');
                }
            } else if (nlen == 12 && strncasecmp((const char *)h, "Content-Type", 12) == 0) {
                CHECK(!has_ctype && vlen < sizeof ctype);
                has_ctype = true;
                memcpy(ctype, v, vlen);
                ctype[vlen] = '\0';
            } else if (nlen == 10 && strncasecmp((const char *)h, "Connection", 10) == 0) {
                if (vlen == 5 && strncasecmp(v, "close", 5) == 0)
                    closed = true;
            }
        }
        if (status == 101)
            return; /* a stream took the connection over */
        if (status == 200 && clen < 0 && has_ctype && strcmp(ctype, "text/event-stream") == 0)
            return; /* an SSE stream: its body runs until the connection closes */
        if (status >= 100 && status < 200) {
            CHECK(status == 100 && clen < 0 && pos - start == 25);
            continue;
        }
        if (status == 204 || status == 304) {
            CHECK(clen < 0);
            finals++;
            continue;
        }
        CHECK(clen >= 0);
        /* The answer to request `finals`. A request rejected before its header section was
         * complete is answered with a body even when the second parser saw it as HEAD; it is
         * the last answer then. */
        bool head = finals < sh->n && sh->head[finals];
        finals++;
        CHECK(finals <= sh->n + 1);
        if (head && !(closed && status >= 400 && n - pos == (size_t)clen && clen > 0))
            continue;
        if (n - pos < (size_t)clen) {
            CHECK(!complete);
            return;
        }
        check_json_body(status, has_ctype ? ctype : NULL, p + pos, (size_t)clen);
        pos += (size_t)clen;
    }
}

/* ---- driving one connection ---- */

static void drain(int fd, hd_buf_t *out, bool *eof)
{
    for (;;) {
        uint8_t *dst = hd_buf_ensure(out, 65536);
        ssize_t r = read(fd, dst, 65536);
        if (r > 0) {
            out->len += (size_t)r;
            CHECK(out->len < MAX_OUTPUT);
            continue;
        }
        if (r == 0 || (errno != EAGAIN && errno != EINTR))
            *eof = true;
        if (r == 0 || errno != EINTR)
            return;
    }
}

/* A chunk size derived from the input, so that request boundaries fall at varied places, but
 * never so small that a large input takes thousands of loop turns. */
static size_t chunk_size(const uint8_t *data, size_t size)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size && i < 64; i++)
        h = (h ^ data[i]) * 16777619u;
    size_t c = 1 + h % 2048;
    if (c < size / 128)
        c = size / 128;
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool inited;
    if (!inited) {
        init_once();
        inited = true;
    }
    reset_topics();

    http_server_t *srv = http__server_new_detached(loop, broker, &cfg);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK(http__conn_open_fd(srv, sv[0]) == 0);
    int fd = sv[1];
    hd_buf_t out;
    hd_buf_init(&out);
    bool eof = false;

    size_t off = 0, chunk = chunk_size(data, size);
    while (off < size && srv->nconns > 0) {
        size_t want = size - off < chunk ? size - off : chunk;
        ssize_t w = send(fd, data + off, want, MSG_NOSIGNAL);
        if (w > 0)
            off += (size_t)w;
        else if (w < 0 && errno != EAGAIN && errno != EINTR)
            break; /* the server closed its end */
        uv_run(loop, UV_RUN_NOWAIT);
        drain(fd, &out, &eof);
    }
    shutdown(fd, SHUT_WR);

    int64_t t0 = hd_mono_ms();
    bool quiesced = false;
    while (srv->nconns > 0 || !eof) {
        uv_run(loop, UV_RUN_ONCE);
        drain(fd, &out, &eof);
        int64_t waited = hd_mono_ms() - t0;
        if (!quiesced && waited > QUIESCE_MS) {
            http_server_quiesce(srv);
            quiesced = true;
        }
        if (waited > HANG_MS) {
            fprintf(stderr, "the connection is still open after %d ms\n", HANG_MS);
            CHECK(0);
        }
    }
    /* Close callbacks of the connection's handles. */
    while (srv->open_handles > 0)
        uv_run(loop, UV_RUN_ONCE);
    http_server_close(srv);
    close(fd);

    /* HTTP_FUZZ_DUMP=1 shows what came back, to understand a finding. */
    if (getenv("HTTP_FUZZ_DUMP"))
        fwrite(out.p, 1, out.len, stderr);
    shadow_t sh = {0};
    shadow_parse(data, size, &sh);
    check_output(out.p, out.len, &sh, true);
    free(sh.head);
    hd_buf_deinit(&out);
    return 0;
}
