/* Kafka connections: read frames, hand each to kafka/, and write the answers back strictly in
 * the order the requests arrived (clients match responses by position, kafka-python even fails
 * on reordering). Requests are pipelined: later requests are handled while an earlier one waits
 * for fsync or long-polls, but their answers queue behind it. Reading pauses when too many
 * requests are in flight or too many bytes wait to be written (backpressure on slow readers).
 *
 * A request with work for other threads (Produce to a topic with schema validation) is prepared
 * on libuv's worker pool, in parts run at once. Requests run in arrival order all the same: one
 * that arrives while an earlier one is still being prepared is decoded at once (and its own
 * preparation started, so that consecutive requests are checked in parallel), its body kept,
 * and it runs when every earlier one has (`gate`). A request that waits or is prepared keeps
 * its frame where it arrived, in the input buffer, without a copy: it holds a reference on the
 * buffer (inblk_t), and once the frames in hand are handled the connection lets that buffer go
 * to its holders and reads on into a new one, taking along only the bytes of frames not yet
 * complete. The last holder frees the old buffer once it has run. Kept buffers are bounded
 * (MAX_HELD_BYTES). A request whose parts still run when its connection closes is freed by its
 * last part, and the connection once none runs. */
#include "kafka/kafka.h"
#include "obs/obs.h"
#include "server/server_int.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/say.h"
#include "util/sched.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>

#define MAX_INFLIGHT 128
#define MAX_WRITE_BYTES (16u << 20)
#define READ_CHUNK (64u << 10)
#define MAX_HELD_BYTES (64u << 20)

typedef struct prep_job {
    uv_work_t w;
    creq_t *q;
} prep_job_t;

static void process_input(conn_t *c);

static void maybe_resume(conn_t *c)
{
    if (c->closing || c->reading || c->srv->stopping)
        return;
    if (c->nreqs >= MAX_INFLIGHT || c->write_bytes > MAX_WRITE_BYTES ||
        c->held_bytes > MAX_HELD_BYTES)
        return;
    server__start_read(c);
}

static void timer_close_cb(uv_handle_t *h) { free(h); }

/* q no longer needs its frame: drops its reference on the input buffer. */
static void creq_release_input(creq_t *q)
{
    inblk_t *b = q->blk;
    if (!b)
        return;
    q->blk = NULL;
    if (--b->refs > 0)
        return;
    q->conn->held_bytes -= b->held;
    free(b->p);
    free(b);
}

/* q's frame stays where it is, in the input buffer, until q has run. */
static void creq_hold_input(conn_t *c, creq_t *q)
{
    if (!c->in_blk) {
        c->in_blk = hd_calloc(1, sizeof *c->in_blk);
        c->in_blk->refs = 1; /* the connection's */
        c->in_blk->p = c->in.p;
        c->in_blk->cap = c->in.cap;
    }
    c->in_blk->refs++;
    q->blk = c->in_blk;
}

/* After the frames in hand are handled: the bytes not yet handled go to a new input buffer
 * if requests hold the current one, which becomes theirs; else they move to its front. */
static void input_compact(conn_t *c)
{
    inblk_t *b = c->in_blk;
    c->in_blk = NULL;
    if (b && b->refs == 1) {
        free(b); /* every holder is done already: the buffer stays the connection's */
        b = NULL;
    }
    if (!b) {
        if (c->in_pos > 0)
            hd_buf_consume(&c->in, c->in_pos);
        c->in_pos = 0;
        return;
    }
    /* The new buffer as large as the old: what the peer's frames needed so far, so that the
     * next ones do not grow it again step by step (each step a copy). */
    size_t rest = c->in.len - c->in_pos;
    hd_buf_t nb;
    hd_buf_init(&nb);
    hd_buf_ensure(&nb, b->cap > rest ? b->cap : rest);
    if (rest)
        memcpy(nb.p, c->in.p + c->in_pos, rest);
    nb.len = rest;
    c->in = nb;
    c->in_pos = 0;
    b->held = b->cap;
    c->held_bytes += b->held;
    b->refs--; /* the connection's; its holders free it */
}

static void creq_free(creq_t *q)
{
    creq_release_input(q);
    kafka_req_deinit(&q->k);
    if (q->timer) {
        uv_timer_stop(q->timer);
        q->timer->data = NULL;
        uv_close((uv_handle_t *)q->timer, timer_close_cb);
    }
    free(q);
}

/* Total bytes of a request's answer: the encoded buffer plus the spliced records. */
static size_t answer_len(const creq_t *q) { return q->k.out.len + q->k.splices.total; }

static void on_write(uv_write_t *wr, int status)
{
    creq_t *q = wr->data;
    conn_t *c = q->conn;
    c->writing--;
    c->write_bytes -= answer_len(q);
    if (status < 0 && status != UV_ECANCELED)
        say_debug("conn %s: write failed: %s", c->peer, uv_strerror(status));
    creq_free(q);
    if (c->closing) {
        return;
    }
    if (status < 0) {
        server__conn_close(c);
        return;
    }
    maybe_resume(c);
}

/* Fills `bufs` with the answer's pieces from byte `skip` on: slices of the encoded buffer
 * alternating with spliced records. Returns the count (at most 2 * splices + 1). */
static unsigned answer_bufs(const creq_t *q, size_t skip, uv_buf_t *bufs)
{
    const kafka_req_t *k = &q->k;
    unsigned n = 0;
    size_t at = 0; /* position in out */
    for (int i = 0; i <= k->splices.n; i++) {
        size_t end = i < k->splices.n ? k->splices.v[i].at : k->out.len;
        size_t len = end - at;
        if (skip >= len) {
            skip -= len;
        } else {
            bufs[n++] = uv_buf_init((char *)k->out.p + at + skip, (unsigned)(len - skip));
            skip = 0;
        }
        at = end;
        if (i == k->splices.n)
            break;
        const kafka_splice_t *sp = &k->splices.v[i];
        if (skip >= sp->len) {
            skip -= sp->len;
        } else {
            bufs[n++] = uv_buf_init((char *)sp->p + skip, (unsigned)(sp->len - skip));
            skip = 0;
        }
    }
    return n;
}

/* Writes every finished request at the head of the queue. */
static void flush_out(conn_t *c)
{
    while (c->head && c->head->k.done && !c->closing) {
        creq_t *q = c->head;
        c->head = q->next;
        if (!c->head)
            c->tail = NULL;
        c->nreqs--;
        size_t total = answer_len(q);
        if (!q->k.has_response || total == 0) {
            creq_free(q);
            continue;
        }
        uv_buf_t local[9], *bufs = local;
        size_t nmax = 2 * (size_t)q->k.splices.n + 1;
        if (nmax > HD_ARRAY_LEN(local))
            bufs = hd_malloc(nmax * sizeof *bufs);
        unsigned nb = answer_bufs(q, 0, bufs);
        size_t done = 0;
        if (c->writing == 0) {
            int n = uv_try_write((uv_stream_t *)&c->tcp, bufs, nb);
            if (n < 0 && n != UV_EAGAIN) {
                if (bufs != local)
                    free(bufs);
                creq_free(q);
                server__conn_close(c);
                return;
            }
            done = n < 0 ? 0 : (size_t)n;
            if (done == total) {
                if (bufs != local)
                    free(bufs);
                creq_free(q);
                continue;
            }
            nb = answer_bufs(q, done, bufs);
        }
        /* The request (and so every buffer) stays alive until the write callback. */
        q->wr.data = q;
        c->writing++;
        c->write_bytes += total;
        int rc = uv_write(&q->wr, (uv_stream_t *)&c->tcp, bufs, nb, on_write);
        if (bufs != local)
            free(bufs); /* libuv copies the buffer descriptors */
        if (rc < 0) {
            c->writing--;
            c->write_bytes -= total;
            creq_free(q);
            server__conn_close(c);
            return;
        }
        if (c->write_bytes > MAX_WRITE_BYTES && c->reading) {
            uv_read_stop((uv_stream_t *)&c->tcp);
            c->reading = false;
        }
    }
    if (c->close_after_flush && !c->head && !c->closing)
        server__conn_close(c);
}

static void on_req_done(kafka_req_t *k)
{
    creq_t *q = (creq_t *)k;
    conn_t *c = q->conn;
    k->done = true;
    flush_out(c);
    if (!c->closing && !c->in_process) {
        process_input(c);
        maybe_resume(c);
    }
}

static void on_timer(uv_timer_t *t)
{
    creq_t *q = t->data;
    if (q)
        kafka_req_timeout(&q->k);
}

static void arm_timer(kafka_req_t *k, int64_t ms)
{
    creq_t *q = (creq_t *)k;
    if (!q->timer) {
        q->timer = hd_malloc(sizeof *q->timer);
        uv_timer_init(q->conn->srv->loop, q->timer);
        q->timer->data = q;
    }
    uv_timer_start(q->timer, on_timer, ms < 0 ? 0 : (uint64_t)ms, 0);
}

static void stop_timer(kafka_req_t *k)
{
    creq_t *q = (creq_t *)k;
    if (q->timer)
        uv_timer_stop(q->timer);
}

static void req_setup(creq_t *q)
{
    conn_t *c = q->conn;
    server_t *s = c->srv;
    kafka_req_init(&q->k);
    q->k.broker = s->broker;
    q->k.registry = s->registry;
    q->k.shares = s->shares;
    q->k.cfg = s->cfg;
    q->k.max_parts = s->prep_parts;
    q->k.body_kept = true; /* creq_hold_input() when it does not run at once */
    q->k.conn = c;
    q->k.peer = c->peer;
    q->k.on_done = on_req_done;
    q->k.arm_timer = arm_timer;
    q->k.stop_timer = stop_timer;
}

/* Records what kafka_req_run() (or kafka_req_start()) returned. */
static void settle(conn_t *c, creq_t *q, int res)
{
    if (res == KAFKA_REQ_DONE) {
        q->k.done = true;
    } else if (res == KAFKA_REQ_CLOSE) {
        q->k.done = true;
        c->close_after_flush = true;
    }
}

static void conn_free(conn_t *c)
{
    HD_ASSERT(!c->in_blk); /* let go at the end of every process_input() */
    hd_buf_deinit(&c->in);
    free(c);
}

/* Runs the held requests at the gate whose parts are done, in order. */
static void run_held(conn_t *c)
{
    bool outer = !c->in_process;
    c->in_process = true;
    while (c->gate && !c->closing) {
        creq_t *q = c->gate;
        if (q->jobs > 0)
            break;
        creq_t *n = q->next;
        while (n && !n->held)
            n = n->next;
        c->gate = n;
        q->held = false;
        if (c->drop_held) {
            /* An earlier held request broke the protocol: the later ones are dropped
             * unanswered, as they would not have been read. */
            q->k.has_response = false;
            q->k.done = true;
            creq_release_input(q);
            continue;
        }
        int res = kafka_req_run(&q->k);
        creq_release_input(q); /* a request that ran no longer reads its frame */
        c->drop_held = res == KAFKA_REQ_CLOSE;
        settle(c, q, res);
    }
    c->in_process = !outer;
    if (outer && !c->closing) {
        process_input(c);
        maybe_resume(c);
    }
}

static void part_work(uv_work_t *w)
{
    prep_job_t *j = w->data;
    hd_sched_background(); /* never preempts the loop thread (util/sched.h) */
    while (kafka_req_prepare_next(&j->q->k))
        ;
}

static void part_done(uv_work_t *w, int status)
{
    (void)status; /* UV_ECANCELED: the other threads claimed every part before it started */
    prep_job_t *j = w->data;
    creq_t *q = j->q;
    conn_t *c = q->conn;
    c->srv->jobs--;
    c->jobs--;
    if (--q->jobs > 0)
        return;
    free(q->jobv);
    q->jobv = NULL;
    if (q->orphan) {
        creq_free(q);
        if (c->handle_closed && c->jobs == 0)
            conn_free(c);
        return;
    }
    run_held(c);
}

/* Starts checking q's parts: on the worker pool, and on this thread too when the pool has
 * nothing else to do. */
static void start_parts(conn_t *c, creq_t *q)
{
    server_t *s = c->srv;
    int n = q->k.prep_parts;
    /* The loop thread claims parts only when no other request's parts are running (they would
     * otherwise keep every core busy already), and at most prep_here of them: it claims them
     * while the workers wake up, instead of waiting for them idle. */
    int here = s->jobs == 0 ? q->k.prep_here : 0;
    int workers = here >= n ? 0 : n - here < s->prep_parts ? n - here : s->prep_parts;
    if (workers > 0)
        q->jobv = hd_calloc((size_t)workers, sizeof *q->jobv);
    for (int i = 0; i < workers; i++) {
        prep_job_t *j = &q->jobv[q->jobs];
        j->q = q;
        j->w.data = j;
        if (uv_queue_work(s->loop, &j->w, part_work, part_done) == 0) {
            q->jobs++;
            c->jobs++;
            s->jobs++;
        }
    }
    if (q->jobs == 0)
        here = n; /* no pool: every part here */
    for (int i = 0; i < here && kafka_req_prepare_next(&q->k); i++)
        ;
    if (q->jobs == 0) {
        free(q->jobv);
        q->jobv = NULL;
    } else if (kafka_req_prepare_claimed(&q->k)) {
        /* Workers that have not started have nothing left to do (their part_done still runs,
         * with UV_ECANCELED). */
        for (int i = 0, queued = q->jobs; i < queued; i++)
            uv_cancel((uv_req_t *)&q->jobv[i].w);
    }
}

/* Handles every complete frame in the input buffer, within the in-flight limit. */
static void process_input(conn_t *c)
{
    server_t *s = c->srv;
    c->in_process = true;
    while (!c->closing && !c->close_after_flush) {
        if (c->held_bytes > MAX_HELD_BYTES)
            break; /* resumed as the held requests run */
        if (c->nreqs >= MAX_INFLIGHT) {
            /* Answers that are ready make room; without this, frames already buffered would
             * wait for the next read event, which a client awaiting answers never sends. */
            flush_out(c);
            if (c->closing || c->nreqs >= MAX_INFLIGHT)
                break;
        }
        hd_slice_t avail = hd_slice(c->in.p + c->in_pos, c->in.len - c->in_pos);
        hd_slice_t body;
        size_t consumed;
        int rc = kafka_frame_decode(avail, (size_t)s->cfg->request_max_bytes, &body, &consumed);
        if (rc == HD_EINCOMPLETE)
            break;
        if (rc < 0) {
            say_warn("conn %s: bad request frame (%s); closing", c->peer, hd_strerror(rc));
            c->close_after_flush = true;
            break;
        }
        creq_t *q = hd_calloc(1, sizeof *q);
        q->conn = c;
        req_setup(q);
        /* Queue first, so that a request completing synchronously inside handle() (a waiter
         * that is already satisfied) finds itself in order. */
        if (c->tail)
            c->tail->next = q;
        else
            c->head = q;
        c->tail = q;
        c->nreqs++;
        uint8_t *bp = c->in.p + c->in_pos + (body.p - avail.p);
        int res = kafka_req_start(&q->k, bp, body.len);
        c->in_pos += consumed;
        if (res == KAFKA_REQ_PREPARE || (res == KAFKA_REQ_READY && c->gate)) {
            /* It runs after the input has moved on: its frame stays in the input buffer. */
            creq_hold_input(c, q);
            q->held = true;
            if (!c->gate)
                c->gate = q;
            if (res == KAFKA_REQ_PREPARE)
                start_parts(c, q);
            if (c->gate == q && q->jobs == 0)
                run_held(c); /* prepared here already (no worker pool) */
            continue;
        }
        if (res == KAFKA_REQ_READY)
            res = kafka_req_run(&q->k);
        settle(c, q, res);
    }
    c->in_process = false;
    /* Compact the input buffer once per batch of frames (or hand it over). */
    input_compact(c);
    flush_out(c);
    if ((c->nreqs >= MAX_INFLIGHT || c->held_bytes > MAX_HELD_BYTES) && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    conn_t *c = h->data;
    uint8_t *p = hd_buf_ensure(&c->in, READ_CHUNK);
    *buf = uv_buf_init((char *)p, (unsigned)(c->in.cap - c->in.len));
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    conn_t *c = st->data;
    if (n < 0) {
        if (n != UV_EOF)
            say_debug("conn %s: read error: %s", c->peer, uv_strerror((int)n));
        /* Answers still owed are dropped: the peer is gone. */
        server__conn_close(c);
        return;
    }
    c->in.len += (size_t)n;
#ifdef TCP_QUICKACK
    /* Acknowledge at once: a client with Nagle on (librdkafka's default) holds its next small
     * request until our ACK, and a delayed ACK would add tens of milliseconds to it. Linux
     * clears the flag after use, so it is set again on every read. */
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
    }
#endif
    process_input(c);
}

void server__start_read(conn_t *c)
{
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = true;
}

static void on_close(uv_handle_t *h)
{
    conn_t *c = h->data;
    c->handle_closed = true;
    if (c->jobs == 0)
        conn_free(c);
}

void server__conn_close(conn_t *c)
{
    if (c->closing)
        return;
    c->closing = true;
    server_t *s = c->srv;
    while (c->head) {
        creq_t *q = c->head;
        c->head = q->next;
        if (q->jobs > 0) {
            q->orphan = true; /* its last part frees it */
            continue;
        }
        kafka_req_abort(&q->k);
        creq_free(q);
    }
    c->tail = NULL;
    c->gate = NULL;
    c->nreqs = 0;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    obs_conn_closed(OBS_LISTENER_KAFKA);
    say_debug("conn %s: closed", c->peer);
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

void server__on_connection(uv_stream_t *listener, int status)
{
    server_t *s = listener->data;
    if (status < 0) {
        say_warn_every(5, "listener: accept error: %s", uv_strerror(status));
        return;
    }
    conn_t *c = hd_calloc(1, sizeof *c);
    c->srv = s;
    hd_buf_init(&c->in);
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0) {
        c->closing = true;
        uv_close((uv_handle_t *)&c->tcp, on_close);
        return;
    }
    struct sockaddr_storage sa;
    int salen = sizeof sa;
    char ip[64] = "?";
    int port = 0;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &salen) == 0) {
        if (sa.ss_family == AF_INET) {
            uv_ip4_name((struct sockaddr_in *)&sa, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
        } else if (sa.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&sa, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
        }
    }
    snprintf(c->peer, sizeof c->peer, "%s:%d", ip, port);
    if (s->stopping || s->nconns >= s->cfg->max_connections) {
        say_warn_every(5, "listener: refusing %s (%s)", c->peer,
                       s->stopping ? "shutting down" : "max.connections reached");
        c->closing = true;
        uv_close((uv_handle_t *)&c->tcp, on_close);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    obs_conn_opened(OBS_LISTENER_KAFKA);
    say_debug("conn %s: accepted", c->peer);
    server__start_read(c);
}

void server__conns_quiesce(server_t *s)
{
    for (conn_t *c = s->conns; c; c = c->next)
        if (c->reading) {
            uv_read_stop((uv_stream_t *)&c->tcp);
            c->reading = false;
        }
}

int server__pending_requests(server_t *s)
{
    int n = 0;
    for (conn_t *c = s->conns; c; c = c->next)
        n += c->nreqs + c->writing;
    return n;
}
