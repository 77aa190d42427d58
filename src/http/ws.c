/* WebSocket (RFC 6455): GET /topics/{topic}/ws, a live stream of the topic's records read by
 * stream.c, framed by wslay's event API.
 *
 * The handshake is checked before anything else: GET, HTTP/1.1, Upgrade: websocket (else 426
 * naming it), Connection: upgrade, Sec-WebSocket-Version: 13 (else 426 with
 * Sec-WebSocket-Version: 13), and a Sec-WebSocket-Key that is the base64 of 16 bytes (else
 * 400). Then the stream's parameters (as SSE's: partition, from, type, key, and
 * ?last_event_id= in the SSE id syntax) are checked, so an unknown topic is a 404 problem, not
 * an upgrade. The answer is 101 with Sec-WebSocket-Accept = base64(SHA-1(key + the RFC's GUID));
 * no subprotocol and no extension is agreed.
 *
 * Server to client: one text message per record, the JSON object of http__record_json (plus
 * "cloudevent" when the record is a CloudEvent) with an "id" member, the SSE event id. A ping
 * (empty) after http.stream.heartbeat.ms of silence. Client to server: pings are answered
 * with pongs (by wslay), text messages are ignored, binary ones are refused with close 1003,
 * messages over 64 KiB with 1009, protocol errors with 1002 (wslay).
 *
 * Closing: the client's close is answered with the same code (1000 for a normal close), then
 * the connection closes. The server closes with 1001 when it stops, 1011 when the topic is
 * deleted or the log cannot be read (then waits up to 2 s for the client's close), and 1008
 * "client too slow" when the client accepted nothing for http.stream.stall.timeout.ms. */
#include "http/http_int.h"
#include "obs/obs.h"
#include "util/base64.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/sha1.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <wslay/wslay.h>

#define WS_MAX_CLIENT_MSG (64u << 10)
/* Unsent bytes beyond the stream buffer a client may cause by sending (pongs to its pings)
 * before it is cut off. */
#define WS_MAX_REPLY_BACKLOG (1u << 20)

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

typedef struct ws {
    wslay_event_context_ptr ctx;
    http_stream_t *s;
    const uint8_t *in; /* client bytes not yet taken by wslay */
    size_t in_len;
    size_t max_pending; /* unsent bytes above which the client's input is not answered */
} ws_t;

/* ---- wslay's callbacks ---- */

static ssize_t ws_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
    (void)flags;
    ws_t *ws = user;
    if (ws->in_len == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < ws->in_len ? len : ws->in_len;
    memcpy(buf, ws->in, n);
    ws->in += n;
    ws->in_len -= n;
    return (ssize_t)n;
}

static ssize_t ws_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user)
{
    (void)ctx;
    (void)flags;
    ws_t *ws = user;
    hd_buf_put(http__stream_out(ws->s), data, len);
    return (ssize_t)len;
}

static void ws_on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                      void *user)
{
    (void)user;
    if (arg->opcode == WSLAY_BINARY_FRAME) {
        static const char why[] = "binary messages are not accepted";
        wslay_event_queue_close(ctx, WSLAY_CODE_UNSUPPORTED_DATA, (const uint8_t *)why,
                                sizeof why - 1);
    }
    /* Text messages have no meaning yet; pings and closes are handled by wslay. */
}

static const struct wslay_event_callbacks ws_callbacks = {
    .recv_callback = ws_recv,
    .send_callback = ws_send,
    .on_msg_recv_callback = ws_on_msg,
};

/* Frames what wslay queued into the stream's buffer; ends the stream once both closes have
 * passed. */
static void ws_send_queued(ws_t *ws)
{
    if (wslay_event_send(ws->ctx) != 0) {
        http__stream_abort(ws->s, "websocket send failed");
        return;
    }
    if (!wslay_event_want_read(ws->ctx) && !wslay_event_want_write(ws->ctx))
        http__stream_done(ws->s);
}

static void ws_queue_close(ws_t *ws, uint16_t code, const char *reason)
{
    wslay_event_queue_close(ws->ctx, code, (const uint8_t *)reason, strlen(reason));
}

/* ---- the stream's protocol ---- */

static void ws_record(http_stream_t *s, const char *id, json_t *data)
{
    ws_t *ws = http__stream_proto_ctx(s);
    json_object_set_new(data, "id", json_string(id));
    hd_buf_t text;
    hd_buf_init(&text);
    http__json_dump(data, &text);
    struct wslay_event_msg msg = {WSLAY_TEXT_FRAME, text.p, text.len};
    if (wslay_event_queue_msg(ws->ctx, &msg) == 0)
        wslay_event_send(ws->ctx);
    hd_buf_deinit(&text);
}

static void ws_heartbeat(http_stream_t *s)
{
    ws_t *ws = http__stream_proto_ctx(s);
    struct wslay_event_msg msg = {WSLAY_PING, NULL, 0};
    if (wslay_event_queue_msg(ws->ctx, &msg) == 0)
        wslay_event_send(ws->ctx);
}

static bool ws_end(http_stream_t *s, int why, const char *reason)
{
    ws_t *ws = http__stream_proto_ctx(s);
    if (why == HD_ECLOSED) {
        ws_queue_close(ws, WSLAY_CODE_GOING_AWAY, "server shutting down");
    } else if (why == HD_ETOOBIG) {
        ws_queue_close(ws, WSLAY_CODE_POLICY_VIOLATION, "client too slow");
    } else {
        ws_queue_close(ws, WSLAY_CODE_INTERNAL_SERVER_ERROR, reason);
    }
    wslay_event_send(ws->ctx);
    /* Wait for the client's close, unless the server is going or the client is not reading. */
    return why != HD_ECLOSED && why != HD_ETOOBIG && wslay_event_want_read(ws->ctx);
}

static void ws_read(http_stream_t *s, const uint8_t *p, size_t n)
{
    ws_t *ws = http__stream_proto_ctx(s);
    if (http__stream_pending(s) > ws->max_pending) {
        http__stream_abort(s, "client sends without reading");
        return;
    }
    ws->in = p;
    ws->in_len = n;
    int rc = wslay_event_recv(ws->ctx);
    ws->in = NULL;
    ws->in_len = 0;
    if (rc != 0) {
        http__stream_abort(s, "websocket receive failed");
        return;
    }
    ws_send_queued(ws);
    http__stream_flush(s);
}

static void ws_free(http_stream_t *s)
{
    ws_t *ws = http__stream_proto_ctx(s);
    if (!ws)
        return;
    wslay_event_context_free(ws->ctx);
    free(ws);
}

static const http_stream_proto_t ws_proto = {
    .name = "websocket",
    .record = ws_record,
    .heartbeat = ws_heartbeat,
    .end = ws_end,
    .read = ws_read,
    .free = ws_free,
    .obs_kind = OBS_DELIVERY_WS,
};

/* ---- the handshake ---- */

/* Whether a comma-separated header (any of its occurrences) lists tok, case-insensitively. */
static bool header_has_token(const http_req_t *r, const char *name, const char *tok)
{
    size_t tl = strlen(tok);
    for (int i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i].name, name) != 0)
            continue;
        const char *v = r->headers[i].value;
        while (*v) {
            while (*v == ' ' || *v == '\t' || *v == ',')
                v++;
            size_t n = strcspn(v, ",");
            size_t m = n;
            while (m > 0 && (v[m - 1] == ' ' || v[m - 1] == '\t'))
                m--;
            if (m == tl && strncasecmp(v, tok, tl) == 0)
                return true;
            v += n;
        }
    }
    return false;
}

bool http__ws_check_upgrade(http_req_t *r, const char **key)
{
    /* Whatever follows a refused upgrade request cannot be read as HTTP: close after it. */
    if (r->conn->upgrade)
        r->conn->keep_alive = false;
    if (r->head) {
        http_problem(r, 400, "a WebSocket handshake must be a GET request");
        return false;
    }
    if (!header_has_token(r, "upgrade", "websocket")) {
        http_req_add_header(r, "Upgrade", "websocket");
        http_problem(r, 426, "%s is a WebSocket endpoint: send Upgrade: websocket", r->path);
        return false;
    }
    const http_parser *p = &r->conn->parser;
    if (p->http_major < 1 || (p->http_major == 1 && p->http_minor < 1)) {
        http_problem(r, 400, "a WebSocket handshake needs HTTP/1.1");
        return false;
    }
    if (!header_has_token(r, "connection", "upgrade")) {
        http_problem(r, 400, "a WebSocket handshake needs Connection: Upgrade");
        return false;
    }
    const char *version = http_req_header(r, "sec-websocket-version");
    if (!version || strcmp(version, "13") != 0) {
        http_req_add_header(r, "Sec-WebSocket-Version", "13");
        http_problem(r, 426, "unsupported Sec-WebSocket-Version '%.20s' (this server speaks 13)",
                     version ? version : "");
        return false;
    }
    const char *k = http_req_header(r, "sec-websocket-key");
    hd_buf_t raw;
    hd_buf_init(&raw);
    bool ok = k && strlen(k) == 24 &&
              hd_base64_decode(hd_slice((const uint8_t *)k, 24), &raw) == 0 && raw.len == 16;
    hd_buf_deinit(&raw);
    if (!ok) {
        http_problem(r, 400, "Sec-WebSocket-Key must be the base64 of 16 bytes");
        return false;
    }
    *key = k;
    return true;
}

int http__ws_accept_head(const char *key, hd_buf_t *head)
{
    char cat[64];
    int n = snprintf(cat, sizeof cat, "%s%s", key, ws_guid);
    if (n < 0 || (size_t)n >= sizeof cat)
        return HD_EINVAL;
    uint8_t md[HD_SHA1_LEN];
    hd_sha1(cat, (size_t)n, md);
    static const char h1[] = "HTTP/1.1 101 Switching Protocols\r\n"
                             "Upgrade: websocket\r\n"
                             "Connection: Upgrade\r\n"
                             "Sec-WebSocket-Accept: ";
    hd_buf_put(head, h1, sizeof h1 - 1);
    hd_base64_encode(hd_slice(md, sizeof md), head);
    hd_buf_put(head, "\r\n\r\n", 4);
    return 0;
}

void http__ws_start(http_req_t *r)
{
    const char *key;
    if (!http__ws_check_upgrade(r, &key))
        return;
    http_stream_t *s = http__stream_open(r, http_query(r, "last_event_id"));
    if (!s)
        return;
    hd_buf_t head;
    hd_buf_init(&head);
    if (http__ws_accept_head(key, &head) < 0) {
        hd_buf_deinit(&head);
        http__stream_free(s);
        http_problem(r, 500, "SHA-1 is not available");
        return;
    }

    ws_t *ws = hd_calloc(1, sizeof *ws);
    ws->s = s;
    ws->max_pending = (size_t)r->cfg->http_stream_buffer_bytes + WS_MAX_REPLY_BACKLOG;
    if (wslay_event_context_server_init(&ws->ctx, &ws_callbacks, ws) != 0) {
        free(ws);
        hd_buf_deinit(&head);
        http__stream_free(s);
        http_problem(r, 500, "out of memory");
        return;
    }
    wslay_event_config_set_max_recv_msg_length(ws->ctx, WS_MAX_CLIENT_MSG);
    http__stream_start(s, r, head.p, head.len, &ws_proto, ws);
    hd_buf_deinit(&head);
}
