/* HTTP/1.1 connections: reading and parsing requests (http-parser), one at a time in arrival
 * order, writing answers, keep-alive and pipelining, limits and timeouts, and handing the
 * connection over to a stream (SSE, WebSocket).
 *
 * Limits: the request line and headers together at most HTTP_MAX_HEADER_BYTES (431 above), at
 * most HTTP_MAX_HEADERS headers (431), a target of at most HTTP_MAX_URL bytes (414), a body of
 * at most http.max.request.bytes (413, checked against Content-Length before the body is read,
 * and while reading a chunked body). A request must arrive whole within http.idle.timeout.ms of
 * its first byte (the deadline moves while body bytes keep arriving), and a keep-alive
 * connection idle that long is closed. A rejected request is answered with a problem and the
 * connection is closed after the answer, because the rest of its bytes cannot be trusted. That
 * close lingers: after the answer the server half-closes and reads and discards what the client
 * still sends, until the client closes too or for at most LINGER_MS. Closing with unread input
 * would reset the connection, and a client still sending its (say, too large) body would then
 * often lose the answer that explains why.
 *
 * Pipelining: the parser pauses at the end of each request; the bytes after it stay in the
 * input buffer until the answer is queued, so answers always leave in request order. Reading
 * stops while more than 1 MiB of unparsed input or HTTP_MAX_WRITE_BYTES of unsent answers wait
 * (backpressure on clients that send without reading). */
#include "http/http_int.h"
#include "obs/obs.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/monotime.h"
#include "util/say.h"

#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define READ_CHUNK (64u << 10)
#define MAX_UNPARSED (1u << 20)
/* Longest lingering close (shorter when http.idle.timeout.ms is). */
#define LINGER_MS 2000

typedef struct wreq {
    uv_write_t w;
    http_conn_t *c;
    size_t len;
    uint8_t *mem;
} wreq_t;

static void process_input(http_conn_t *c);
static void conn_handle_closed(uv_handle_t *h);
static void linger_start(http_conn_t *c);

/* ---- requests ---- */

static http_req_t *req_new(http_conn_t *c)
{
    http_req_t *r = hd_calloc(1, sizeof *r);
    r->conn = c;
    r->srv = c->srv;
    r->broker = c->srv->broker;
    r->cfg = c->srv->cfg;
    hd_arena_init(&r->arena, 0);
    hd_buf_init(&r->body);
    hd_buf_init(&r->extra);
    return r;
}

static void req_free(http_req_t *r)
{
    if (!r)
        return;
    hd_arena_deinit(&r->arena);
    hd_buf_deinit(&r->body);
    hd_buf_deinit(&r->extra);
    free(r);
}

/* ---- writing ---- */

static void maybe_resume(http_conn_t *c);

static void on_write(uv_write_t *w, int status)
{
    wreq_t *wr = (wreq_t *)w;
    http_conn_t *c = wr->c;
    c->writes--;
    c->write_bytes -= wr->len;
    free(wr->mem);
    free(wr);
    if (c->closing)
        return;
    if (status < 0) {
        say_debug("http %s: write failed: %s", c->peer, uv_strerror(status));
        http_conn_close(c);
        return;
    }
    if (c->end_after_flush && c->writes == 0) {
        if (c->lingering)
            linger_start(c);
        else
            http_conn_close(c);
        return;
    }
    if (c->stream && c->stream->on_drain &&
        c->write_bytes < (size_t)c->srv->cfg->http_stream_buffer_bytes) {
        c->stream->on_drain(c->stream_ctx);
        return;
    }
    maybe_resume(c);
}

/* Queues `mem` (taken) of len bytes. */
static int write_mem(http_conn_t *c, uint8_t *mem, size_t len)
{
    if (c->closing) {
        free(mem);
        return HD_ECLOSED;
    }
    if (len == 0) {
        free(mem);
        return 0;
    }
    wreq_t *wr = hd_malloc(sizeof *wr);
    wr->c = c;
    wr->len = len;
    wr->mem = mem;
    uv_buf_t b = uv_buf_init((char *)mem, (unsigned)len);
    int rc = uv_write(&wr->w, &c->io.stream, &b, 1, on_write);
    if (rc < 0) {
        free(mem);
        free(wr);
        say_debug("http %s: write failed: %s", c->peer, uv_strerror(rc));
        http_conn_close(c);
        return HD_ECLOSED;
    }
    c->writes++;
    c->write_bytes += len;
    return 0;
}

int http_conn_write(http_conn_t *c, const void *p, size_t n)
{
    if (c->closing)
        return HD_ECLOSED;
    uint8_t *mem = hd_malloc(n ? n : 1);
    memcpy(mem, p, n);
    return write_mem(c, mem, n);
}

int http_conn_write_buf(http_conn_t *c, hd_buf_t *b)
{
    uint8_t *mem = b->p;
    size_t len = b->len;
    b->p = NULL;
    b->len = b->cap = 0;
    return write_mem(c, mem, len);
}

size_t http_conn_pending(const http_conn_t *c) { return c->write_bytes; }
const char *http_conn_peer(const http_conn_t *c) { return c->peer; }
broker_t *http_conn_broker(const http_conn_t *c) { return c->srv->broker; }
const hd_config_t *http_conn_config(const http_conn_t *c) { return c->srv->cfg; }
uv_loop_t *http_conn_loop(const http_conn_t *c) { return c->srv->loop; }

void http_conn_end(http_conn_t *c)
{
    if (c->closing)
        return;
    if (c->writes == 0) {
        http_conn_close(c);
        return;
    }
    c->end_after_flush = true;
    if (c->reading) {
        uv_read_stop(&c->io.stream);
        c->reading = false;
    }
}

/* ---- answers ---- */

static void on_conn_timer(uv_timer_t *t);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void on_linger_shutdown(uv_shutdown_t *req, int status)
{
    http_conn_t *c = req->handle->data;
    /* UV_ECANCELED when the connection closed first (c is freed only after this call). */
    if (status < 0 && !c->closing)
        http_conn_close(c);
}

/* The answer is written: half-close, and go on reading (on_read discards) until the client
 * closes or the deadline set by conn_linger passes. */
static void linger_start(http_conn_t *c)
{
    if (uv_shutdown(&c->shutdown_req, &c->io.stream, on_linger_shutdown) < 0) {
        http_conn_close(c);
        return;
    }
    if (!c->reading && uv_read_start(&c->io.stream, on_alloc, on_read) == 0)
        c->reading = true;
}

/* Closes after the answer, lingering (see the top of the file). The deadline covers writing
 * the answer too, so a client that reads nothing cannot hold the connection. */
static void conn_linger(http_conn_t *c)
{
    c->lingering = true;
    c->end_after_flush = true;
    int64_t ms = c->srv->cfg->http_idle_timeout_ms < LINGER_MS ? c->srv->cfg->http_idle_timeout_ms
                                                               : LINGER_MS;
    uv_timer_start(&c->timer, on_conn_timer, (uint64_t)ms, 0);
    if (c->writes == 0)
        linger_start(c);
}

/* The method's name, static, for metrics. */
static const char *request_method(const http_req_t *r)
{
    return r->head ? "HEAD" : http_method_str((enum http_method)r->method);
}

static void arm_idle(http_conn_t *c)
{
    uv_timer_start(&c->timer, on_conn_timer, (uint64_t)c->srv->cfg->http_idle_timeout_ms, 0);
}

void http_respond(http_req_t *r, int status, const char *content_type, const void *body, size_t len)
{
    http_conn_t *c = r->conn;
    HD_ASSERT(!r->answered && c->req == r);
    r->answered = true;
    obs_http_request(r->route ? r->route : "", request_method(r), status,
                     r->t0_ns ? hd_mono_ns() - r->t0_ns : 0);
    bool keep = c->keep_alive && !c->srv->stopping && !c->reject_status && status != 413;
    hd_buf_t out;
    hd_buf_init(&out);
    bool no_body = r->head || status == 204 || status == 304 || (status >= 100 && status < 200);
    char line[256];
    int n = snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\n", status, http_status_text(status));
    hd_buf_put(&out, line, (size_t)n);
    if (content_type) {
        n = snprintf(line, sizeof line, "Content-Type: %s\r\n", content_type);
        hd_buf_put(&out, line, (size_t)n);
    }
    if (status != 204 && status != 304) {
        n = snprintf(line, sizeof line, "Content-Length: %zu\r\n", len);
        hd_buf_put(&out, line, (size_t)n);
    }
    if (!keep)
        hd_buf_put(&out, "Connection: close\r\n", 19);
    else if (c->parser.http_major == 1 && c->parser.http_minor == 0)
        /* An HTTP/1.0 client that asked for keep-alive reuses the connection only when the
         * answer confirms it. (The parser still holds this request's version: the next one is
         * not parsed before this answer.) */
        hd_buf_put(&out, "Connection: keep-alive\r\n", 24);
    hd_buf_put(&out, r->extra.p, r->extra.len);
    hd_buf_put(&out, "\r\n", 2);
    if (!no_body && len)
        hd_buf_put(&out, body, len);
    uv_timer_stop(&c->timer);
    req_free(r);
    c->req = NULL;
    c->req_complete = false;
    http_conn_write_buf(c, &out);
    hd_buf_deinit(&out);
    if (c->closing)
        return;
    if (!keep) {
        if (c->reject_status)
            conn_linger(c); /* the rest of the request may still be on its way */
        else
            http_conn_end(c);
        return;
    }
    arm_idle(c);
    if (!c->in_process)
        process_input(c);
    maybe_resume(c);
}

/* ---- the request's timer ---- */

void http_req_arm_timer(http_req_t *r, int64_t ms)
{
    uv_timer_start(&r->conn->timer, on_conn_timer, (uint64_t)(ms < 0 ? 0 : ms), 0);
}

void http_req_stop_timer(http_req_t *r) { uv_timer_stop(&r->conn->timer); }

static void on_conn_timer(uv_timer_t *t)
{
    http_conn_t *c = t->data;
    if (c->closing || c->stream)
        return;
    if (c->lingering) {
        http_conn_close(c);
        return;
    }
    http_req_t *r = c->req;
    if (r && c->req_complete) {
        if (r->on_timer && !r->answered)
            r->on_timer(r);
        return;
    }
    if (r && !c->req_complete) {
        /* A request started and did not arrive in time. Any started request counts (c->req
         * exists from its first byte on), not only one whose head is still arriving: a body
         * that stalls gets its 408 too, and so do the first bytes of a method. */
        c->reject_status = 408;
        c->keep_alive = false;
        r->method = HTTP_GET;
        r->path = r->path ? r->path : "/";
        http_problem(r, 408, "the request did not arrive within %lld ms",
                     (long long)c->srv->cfg->http_idle_timeout_ms);
        return;
    }
    say_debug("http %s: idle, closing", c->peer);
    http_conn_close(c);
}

/* ---- parsing ---- */

static int reject(http_conn_t *c, int status, const char *why)
{
    if (!c->reject_status) {
        c->reject_status = status;
        c->reject_why = why;
    }
    return -1;
}

/* The buffer's bytes as a string in the arena. An empty value ("X-Empty:") may never have
 * allocated its buffer, and memcpy from NULL is undefined even for 0 bytes. */
static char *buf_strdup(hd_arena_t *a, const hd_buf_t *b)
{
    return hd_arena_strndup(a, b->len ? (const char *)b->p : "", b->len);
}

static int commit_header(http_conn_t *c)
{
    c->hstate = 0;
    if (c->nheaders >= HTTP_MAX_HEADERS)
        return reject(c, 431, "too many header fields");
    http_req_t *r = c->req;
    http_header_t *h = &c->hdrs[c->nheaders++];
    h->name = buf_strdup(&r->arena, &c->hname);
    h->value = buf_strdup(&r->arena, &c->hvalue);
    /* Trailing whitespace of a value is not part of it (RFC 9110 5.5). */
    char *v = (char *)h->value;
    size_t vl = strlen(v);
    while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        v[--vl] = '\0';
    hd_buf_reset(&c->hname);
    hd_buf_reset(&c->hvalue);
    return 0;
}

static int on_message_begin(http_parser *p)
{
    http_conn_t *c = p->data;
    if (!c->req)
        c->req = req_new(c);
    hd_buf_reset(&c->url);
    hd_buf_reset(&c->hname);
    hd_buf_reset(&c->hvalue);
    c->nheaders = 0;
    c->hstate = 0;
    c->header_bytes = 0;
    c->req_complete = false;
    c->expect_continue = false;
    /* The request must arrive whole within the timeout of its first byte. */
    arm_idle(c);
    return 0;
}

static int count_header_bytes(http_conn_t *c, size_t n)
{
    c->header_bytes += n;
    if (c->header_bytes > HTTP_MAX_HEADER_BYTES)
        return reject(c, 431, "request line and header fields larger than 16 KiB");
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    http_conn_t *c = p->data;
    if (c->url.len + n > HTTP_MAX_URL)
        return reject(c, 414, "request target longer than 8 KiB");
    if (count_header_bytes(c, n))
        return -1;
    hd_buf_put(&c->url, at, n);
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    http_conn_t *c = p->data;
    if (count_header_bytes(c, n))
        return -1;
    if (c->hstate == 2 && commit_header(c))
        return -1;
    c->hstate = 1;
    hd_buf_put(&c->hname, at, n);
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    http_conn_t *c = p->data;
    if (count_header_bytes(c, n))
        return -1;
    c->hstate = 2;
    hd_buf_put(&c->hvalue, at, n);
    return 0;
}

/* Splits the target into path and query. Absolute-form targets keep only their path. */
static int set_target(http_conn_t *c, http_req_t *r)
{
    const char *u = (const char *)c->url.p;
    size_t n = c->url.len;
    if (n == 0)
        return reject(c, 400, "empty request target");
    if (u[0] != '/') {
        struct http_parser_url pu;
        http_parser_url_init(&pu);
        if (http_parser_parse_url(u, n, 0, &pu) != 0 || !(pu.field_set & (1 << UF_PATH)))
            return reject(c, 400, "request target is not a path");
        u += pu.field_data[UF_PATH].off;
        n -= pu.field_data[UF_PATH].off;
    }
    /* A fragment (which clients should not send) ends the target, so a '?' after the '#'
     * starts no query. Cutting it off first keeps the query's length inside the target. */
    const char *hash = memchr(u, '#', n);
    if (hash)
        n = (size_t)(hash - u);
    const char *q = memchr(u, '?', n);
    size_t plen = q ? (size_t)(q - u) : n;
    r->path = hd_arena_strndup(&r->arena, u, plen);
    if (q)
        r->query = hd_arena_strndup(&r->arena, q + 1, n - plen - 1);
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    http_conn_t *c = p->data;
    http_req_t *r = c->req;
    if (c->hstate == 2 && commit_header(c))
        return -1;
    r->method = p->method;
    if (p->method == HTTP_HEAD) {
        r->head = true;
        r->method = HTTP_GET;
    }
    if (set_target(c, r))
        return -1;
    r->nheaders = c->nheaders;
    r->headers = hd_arena_alloc(&r->arena, sizeof *r->headers * (size_t)(c->nheaders + 1));
    memcpy(r->headers, c->hdrs, sizeof *r->headers * (size_t)c->nheaders);
    uint64_t max = (uint64_t)c->srv->cfg->http_max_request_bytes;
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > max)
        return reject(c, 413, "request body larger than http.max.request.bytes");
    const char *expect = http_req_header(r, "expect");
    if (expect && strcasecmp(expect, "100-continue") == 0 && p->http_major == 1 &&
        p->http_minor >= 1)
        c->expect_continue = true;
    if (c->expect_continue && !p->upgrade) {
        c->expect_continue = false;
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        http_conn_write(c, cont, sizeof cont - 1);
    }
    /* Trailers of a chunked body are counted afresh. Body bytes may arrive slowly but
     * steadily: on_body restarts the deadline as they do. */
    c->header_bytes = 0;
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    http_conn_t *c = p->data;
    http_req_t *r = c->req;
    if (r->body.len + n > (size_t)c->srv->cfg->http_max_request_bytes)
        return reject(c, 413, "request body larger than http.max.request.bytes");
    hd_buf_put(&r->body, at, n);
    arm_idle(c);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    http_conn_t *c = p->data;
    c->req_complete = true;
    c->keep_alive = http_should_keep_alive(p) != 0;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- dispatch ---- */

static void answer_reject(http_conn_t *c)
{
    if (!c->req)
        c->req = req_new(c);
    http_req_t *r = c->req;
    if (!r->path)
        r->path = "/";
    c->keep_alive = false;
    c->req_complete = true;
    http_problem(r, c->reject_status, "%s", c->reject_why ? c->reject_why : "malformed request");
}

static void dispatch(http_conn_t *c)
{
    http_req_t *r = c->req;
    r->t0_ns = hd_mono_ns();
    uv_timer_stop(&c->timer);
    if (c->srv->stopping)
        c->keep_alive = false;
    http__route(r);
}

static void process_input(http_conn_t *c)
{
    if (c->in_process)
        return;
    c->in_process = true;
    while (!c->closing && !c->stream && !(c->req && c->req_complete) && !c->end_after_flush) {
        size_t avail = c->in.len - c->in_pos;
        if (avail == 0)
            break;
        const char *at = (const char *)c->in.p + c->in_pos;
        size_t n = http_parser_execute(&c->parser, &parser_settings, at, avail);
        c->in_pos += n;
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (e == HPE_PAUSED) {
            http_parser_pause(&c->parser, 0);
        } else if (e != HPE_OK || c->reject_status) {
            if (!c->reject_status) {
                c->reject_status = 400;
                c->reject_why = http_errno_description(e);
            }
            answer_reject(c);
            break;
        }
        if (c->req && c->req_complete) {
            if (c->parser.upgrade)
                c->upgrade = true;
            dispatch(c);
            continue;
        }
        if (n == avail)
            break;
    }
    if (!c->closing && c->stream && c->in.len > c->in_pos && c->stream->on_read) {
        /* Bytes that followed the upgrade request belong to the stream. */
        size_t left = c->in.len - c->in_pos;
        uint8_t *copy = hd_malloc(left);
        memcpy(copy, c->in.p + c->in_pos, left);
        c->in_pos = c->in.len;
        c->stream->on_read(c->stream_ctx, copy, left);
        free(copy);
    }
    if (!c->closing) {
        if (c->in_pos == c->in.len) {
            hd_buf_reset(&c->in);
            c->in_pos = 0;
        } else if (c->in_pos > 0) {
            hd_buf_consume(&c->in, c->in_pos);
            c->in_pos = 0;
        }
    }
    c->in_process = false;
}

/* ---- reading ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    http_conn_t *c = h->data;
    uint8_t *p = hd_buf_ensure(&c->in, READ_CHUNK);
    *buf = uv_buf_init((char *)p, READ_CHUNK);
}

static void stop_reading(http_conn_t *c)
{
    if (c->reading) {
        uv_read_stop(&c->io.stream);
        c->reading = false;
    }
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    http_conn_t *c = s->data;
    if (n == 0 || c->closing)
        return;
    if (c->lingering) {
        /* Discarded; EOF or an error ends the lingering close. */
        if (n < 0)
            http_conn_close(c);
        else
            hd_buf_reset(&c->in);
        return;
    }
    if (n < 0) {
        if (n != UV_EOF)
            say_debug("http %s: read failed: %s", c->peer, uv_strerror((int)n));
        stop_reading(c);
        if (c->stream || n != UV_EOF || !c->req || !c->req_complete)
            http_conn_close(c);
        else
            c->keep_alive = false; /* half-closed: answer what was asked, then close */
        return;
    }
    if (c->stream) {
        const uint8_t *p = c->in.p + c->in.len;
        if (c->stream->on_read)
            c->stream->on_read(c->stream_ctx, p, (size_t)n);
        if (!c->closing)
            hd_buf_reset(&c->in);
        return;
    }
    c->in.len += (size_t)n;
    process_input(c);
    maybe_resume(c);
}

static void maybe_resume(http_conn_t *c)
{
    if (c->closing || c->end_after_flush)
        return;
    bool want = !c->srv->stopping && c->in.len - c->in_pos < MAX_UNPARSED &&
                c->write_bytes < HTTP_MAX_WRITE_BYTES;
    if (c->stream)
        want = true;
    if (want && !c->reading) {
        if (uv_read_start(&c->io.stream, on_alloc, on_read) == 0)
            c->reading = true;
    } else if (!want) {
        stop_reading(c);
    }
}

/* ---- streams ---- */

http_conn_t *http_conn_takeover(http_req_t *r, const http_stream_ops_t *ops, void *ctx)
{
    http_conn_t *c = r->conn;
    HD_ASSERT(c->req == r && !r->answered);
    r->answered = true;
    r->taken_over = true;
    obs_http_request(r->route ? r->route : "", request_method(r), c->upgrade ? 101 : 200,
                     hd_mono_ns() - r->t0_ns);
    uv_timer_stop(&c->timer);
    c->stream = ops;
    c->stream_ctx = ctx;
    req_free(r);
    c->req = NULL;
    c->req_complete = false;
    /* Parsing state is not needed any more: give its memory back. */
    hd_buf_deinit(&c->url);
    hd_buf_deinit(&c->hname);
    hd_buf_deinit(&c->hvalue);
    maybe_resume(c);
    return c;
}

/* ---- lifecycle ---- */

static void conn_handle_closed(uv_handle_t *h)
{
    http_conn_t *c = h->data;
    if (--c->handles > 0)
        return;
    http_server_t *s = c->srv;
    hd_buf_deinit(&c->in);
    hd_buf_deinit(&c->url);
    hd_buf_deinit(&c->hname);
    hd_buf_deinit(&c->hvalue);
    free(c);
    http__handle_closed(s);
}

void http_conn_close(http_conn_t *c)
{
    if (c->closing)
        return;
    c->closing = true;
    http_server_t *s = c->srv;
    http_req_t *r = c->req;
    c->req = NULL;
    if (r) {
        if (!r->answered && r->on_abort)
            r->on_abort(r);
        req_free(r);
    }
    if (c->stream) {
        const http_stream_ops_t *ops = c->stream;
        c->stream = NULL;
        if (ops->on_close)
            ops->on_close(c->stream_ctx);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    obs_conn_closed(OBS_LISTENER_HTTP);
    say_debug("http %s: closed", c->peer);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
    uv_close(&c->io.handle, conn_handle_closed);
}

void http__conn_quiesce(http_conn_t *c)
{
    if (c->closing)
        return;
    if (c->stream) {
        if (c->stream->on_shutdown)
            c->stream->on_shutdown(c->stream_ctx);
        else
            http_conn_end(c);
        return;
    }
    http_req_t *r = c->req;
    if (!r || !c->req_complete) {
        http_conn_end(c); /* idle, or a request still arriving */
        return;
    }
    c->keep_alive = false;
    stop_reading(c);
    if (!r->answered && r->on_timer) {
        uv_timer_stop(&c->timer);
        r->on_timer(r);
    }
}

static http_conn_t *conn_new(http_server_t *s)
{
    http_conn_t *c = hd_calloc(1, sizeof *c);
    c->srv = s;
    hd_buf_init(&c->in);
    hd_buf_init(&c->url);
    hd_buf_init(&c->hname);
    hd_buf_init(&c->hvalue);
    uv_timer_init(s->loop, &c->timer);
    c->timer.data = c;
    c->handles = 2;
    s->open_handles++;
    obs_conn_opened(OBS_LISTENER_HTTP);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    /* Linked first, so that every path out goes through http_conn_close. */
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    return c;
}

static void conn_start(http_conn_t *c)
{
    http_server_t *s = c->srv;
    if (s->stopping || s->nconns > s->cfg->max_connections) {
        say_warn_every(5, "http listener: refusing %s (%s)", c->peer,
                       s->stopping ? "shutting down" : "max.connections reached");
        http_conn_close(c);
        return;
    }
    say_debug("http %s: accepted", c->peer);
    arm_idle(c);
    maybe_resume(c);
}

int http__conn_open_fd(http_server_t *s, int fd)
{
    http_conn_t *c = conn_new(s);
    uv_pipe_init(s->loop, &c->io.pipe, 0);
    c->io.handle.data = c;
    snprintf(c->peer, sizeof c->peer, "fd %d", fd);
    int rc = uv_pipe_open(&c->io.pipe, fd);
    if (rc < 0) {
        http_conn_close(c);
        return rc;
    }
    conn_start(c);
    return 0;
}

void http__on_connection(uv_stream_t *listener, int status)
{
    http_server_t *s = listener->data;
    if (status < 0) {
        say_warn_every(5, "http listener: accept error: %s", uv_strerror(status));
        return;
    }
    http_conn_t *c = conn_new(s);
    uv_tcp_init(s->loop, &c->io.tcp);
    c->io.handle.data = c;
    if (uv_accept(listener, &c->io.stream) < 0) {
        http_conn_close(c);
        return;
    }
    struct sockaddr_storage sa;
    int salen = sizeof sa;
    char ip[64] = "?";
    int port = 0;
    if (uv_tcp_getpeername(&c->io.tcp, (struct sockaddr *)&sa, &salen) == 0) {
        if (sa.ss_family == AF_INET) {
            uv_ip4_name((struct sockaddr_in *)&sa, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
        } else if (sa.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&sa, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
        }
    }
    snprintf(c->peer, sizeof c->peer, "%s:%d", ip, port);
    uv_tcp_nodelay(&c->io.tcp, 1);
    conn_start(c);
}
