/* Live streams of a topic's records: the engine shared by Server-Sent Events (sse.c) and
 * WebSocket (ws.c). It parses what a stream asks for (partitions, start position, filters),
 * reads the log as fast as the client accepts bytes, parks on the partitions' waiters when
 * caught up, sends heartbeats on quiet streams and closes streams whose client stopped reading.
 *
 * Event ids (the SSE `id:` field, the WebSocket message's "id" member, and what Last-Event-ID
 * and ?last_event_id= take back) are ASCII:
 *
 *     id    = pos *( "," pos )        pos = partition ":" offset
 *     partition = 1*DIGIT             offset = [ "-" ] 1*DIGIT  (-1 or more)
 *
 * A stream of one partition (?partition=P) gives each record the id "P:O", its own partition
 * and offset. A stream of every partition gives "P:O" of the record followed by ",Q:N" for each
 * other partition of the stream, in partition order, where N is the last offset that stream has
 * passed on Q (delivered, or skipped by a filter), or the start offset minus one when nothing
 * yet: "1:42,0:17,2:-1". Every pair is exclusive: resuming from an id continues after O on P and
 * after N on Q, so a multi-partition stream resumes exactly where it was. Partitions a resumed
 * id does not name start where ?from says. An id names each partition at most once.
 *
 * Start positions: ?from=earliest (the log start), latest (the high watermark, the default),
 * an offset, or an RFC 3339 timestamp (the first record at or after it, per partition; the
 * high watermark when there is none). ?from is inclusive, ids are exclusive. Offsets outside
 * [log start, high watermark] are clamped into it, as retention may have removed what a client
 * last saw, or the topic was re-created.
 *
 * Filters: ?type= keeps CloudEvents of that type (a trailing '*' matches a prefix, so "*" alone
 * keeps every CloudEvent; records that are not CloudEvents never match), ?key= keeps records
 * whose key is exactly that UTF-8 string (never a null key).
 * Records filtered out still move the stream's position on.
 *
 * Flow control: the engine reads at most STEP_BYTES of batches per step, and steps only while
 * the connection's unsent bytes are below http.stream.buffer.bytes; it continues when they
 * drain. While the buffer stays full and the client accepts no byte for
 * http.stream.stall.timeout.ms, the stream is closed (the client resumes from its last id).
 * Scratch buffers live for one step, so an idle stream holds only this struct, one waiter per
 * partition, and its connection. Every partition always has a waiter registered outside a step
 * (a target beyond any offset while the buffer is full), so a topic deletion is always seen. */
#include "http/http_int.h"
#include "obs/obs.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/monotime.h"
#include "util/say.h"
#include "util/utf8.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEP_BYTES (64u << 10)      /* batches read from the log per step */
#define STEP_OUT_BYTES (256u << 10) /* a step stops once it has queued this much */
#define MAX_INFLATE (64u << 20)     /* a compressed batch may inflate to this */
#define FINISH_GRACE_MS 2000        /* a closing stream waits this long for its client */
#define NO_TARGET INT64_MAX         /* a waiter that only fires on deletion or close */
#define MAX_FILTER_BYTES 1024

typedef struct stream_part {
    broker_waiter_t w;
    broker_partition_t *p; /* valid while the stream is not ending: a deletion fires w */
    http_stream_t *s;
    int64_t next; /* the next offset to pass on */
    int32_t index;
} stream_part_t;

struct http_stream {
    http_conn_t *conn; /* NULL before start and once closed */
    const http_stream_proto_t *proto;
    void *pctx;
    const hd_config_t *cfg;
    uv_timer_t timer; /* heartbeat, stall check, and the grace period of a closing stream */
    hd_buf_t out;     /* this step's bytes; written, and freed, at the end of it */
    char *topic;
    char *type; /* filters, or NULL */
    size_t type_len;
    bool type_prefix;
    char *key;
    size_t key_len;
    char *client; /* the client's id (http__client_id), or NULL */
    int64_t last_write_ms;
    int64_t stall_since_ms;
    size_t stall_queued; /* libuv's unsent bytes when the stall clock last restarted */
    int32_t nparts;
    int32_t rr;     /* the partition to try first in the next step */
    int depth;      /* pump() nesting */
    bool started;   /* the timer is initialised */
    bool multi;     /* every partition of the topic: ids carry every position */
    bool blocked;   /* the buffer is full: wait for on_drain */
    bool woken;     /* a waiter fired inside pump() */
    bool ending;    /* no more records */
    bool finishing; /* the timer forces the close */
    bool closed;
    stream_part_t parts[];
};

/* ---- parsing ---- */

/* A decimal integer, optionally negative, the whole of [p, p+n). */
static bool parse_i64(const char *p, size_t n, int64_t *out)
{
    bool neg = n > 0 && p[0] == '-';
    size_t i = neg ? 1 : 0;
    if (i == n || n - i > 19)
        return false;
    int64_t v = 0;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        int d = p[i] - '0';
        if (v > (INT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = neg ? -v : v;
    return true;
}

/* Parses an event id into pos[partition] = the last offset passed (pos[] holds nparts entries,
 * INT64_MIN when not named). Returns false when malformed; *why says how. */
static bool parse_event_id(const char *id, int32_t nparts, int64_t *pos, const char **why)
{
    for (int32_t i = 0; i < nparts; i++)
        pos[i] = INT64_MIN;
    const char *p = id;
    for (;;) {
        const char *colon = strchr(p, ':');
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (!colon || (size_t)(colon - p) >= len) {
            *why = "each position must be PARTITION:OFFSET";
            return false;
        }
        int64_t part, off;
        if (!parse_i64(p, (size_t)(colon - p), &part) || part < 0 ||
            !parse_i64(colon + 1, len - (size_t)(colon - p) - 1, &off) || off < -1) {
            *why = "partitions and offsets must be integers (offsets -1 or more)";
            return false;
        }
        if (part >= nparts) {
            *why = "it names a partition the topic does not have";
            return false;
        }
        if (pos[part] != INT64_MIN) {
            *why = "it names a partition twice";
            return false;
        }
        pos[part] = off;
        if (!comma)
            return true;
        p = comma + 1;
    }
}

static int digits(const char *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* An RFC 3339 date-time ("2024-05-01T12:00:00.250Z", "...+02:00") as milliseconds since the
 * epoch. A space where the offset's '+' belongs is taken as '+': an unencoded '+' in a query
 * string arrives as a space. */
static bool parse_rfc3339(const char *s, int64_t *ms)
{
    size_t n = strlen(s);
    if (n < 20)
        return false;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    int h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 ||
        sec > 60 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        s[16] != ':')
        return false;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] + (mo == 2 && leap))
        return false;
    const char *p = s + 19;
    int frac_ms = 0;
    if (*p == '.') {
        p++;
        int nd = 0;
        while (p[nd] >= '0' && p[nd] <= '9')
            nd++;
        if (nd == 0 || nd > 9)
            return false;
        for (int i = 0; i < 3; i++)
            frac_ms = frac_ms * 10 + (i < nd ? p[i] - '0' : 0);
        p += nd;
    }
    int64_t off_min = 0;
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        off_min = 0;
    } else if ((*p == '+' || *p == '-' || *p == ' ') && strlen(p) == 6 && p[3] == ':') {
        int oh = digits(p + 1, 2), om = digits(p + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return false;
        off_min = (oh * 60 + om) * (*p == '-' ? -1 : 1);
    } else {
        return false;
    }
    if (sec == 60)
        sec = 59; /* a leap second: the epoch has none */
    int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off_min * 60;
    *ms = t * 1000 + frac_ms;
    return true;
}

static int64_t clamp_offset(broker_partition_t *p, int64_t off)
{
    int64_t start = broker_partition_start(p), hwm = broker_partition_hwm(p);
    return off < start ? start : off > hwm ? hwm : off;
}

/* ---- opening ---- */

/* A filter value, or NULL; answers 400 (returning false) when it is not usable. */
static bool filter_param(http_req_t *r, const char *name, const char **out)
{
    const char *v = http_query(r, name);
    *out = v;
    if (!v)
        return true;
    size_t n = strlen(v);
    if (n > MAX_FILTER_BYTES || !hd_utf8_valid(v, n)) {
        http_problem(r, 400, "query parameter '%s' must be UTF-8 of at most %u bytes", name,
                     MAX_FILTER_BYTES);
        return false;
    }
    return true;
}

http_stream_t *http__stream_open(http_req_t *r, const char *last_event_id)
{
    const char *name = r->params[0];
    broker_topic_t *t = broker_topic_find(r->broker, name);
    if (!t) {
        http_problem(r, 404, "topic '%s' does not exist", name);
        return NULL;
    }
    int32_t tparts = broker_topic_partitions(t);
    int64_t only = -1;
    if (http_query(r, "partition")) {
        if (http_query_int(r, "partition", -1, 0, INT32_MAX, &only) < 0)
            return NULL;
        if (only >= tparts) {
            http_problem(r, 404, "topic '%s' has no partition %lld (it has %d)", name,
                         (long long)only, (int)tparts);
            return NULL;
        }
    }
    const char *type, *key;
    if (!filter_param(r, "type", &type) || !filter_param(r, "key", &key))
        return NULL;
    /* ?type= and ?type=* keep every CloudEvent (and only CloudEvents). */
    bool any_ce = type && (type[0] == '\0' || strcmp(type, "*") == 0);
    if (any_ce)
        type = NULL;

    /* Where each partition starts: ?from first, then the id's positions over it. */
    const char *from = http_query(r, "from");
    int mode = 0; /* 0 latest, 1 earliest, 2 offset, 3 time */
    int64_t from_v = 0;
    if (!from || strcmp(from, "latest") == 0) {
        mode = 0;
    } else if (strcmp(from, "earliest") == 0) {
        mode = 1;
    } else if (parse_i64(from, strlen(from), &from_v) && from_v >= 0) {
        mode = 2;
    } else if (parse_rfc3339(from, &from_v)) {
        mode = 3;
    } else {
        http_problem(r, 400,
                     "query parameter 'from' must be earliest, latest, an offset (0 or more) "
                     "or an RFC 3339 timestamp");
        return NULL;
    }
    int64_t *pos = hd_arena_alloc(&r->arena, sizeof *pos * (size_t)tparts);
    for (int32_t i = 0; i < tparts; i++)
        pos[i] = INT64_MIN;
    if (last_event_id && last_event_id[0]) {
        const char *why;
        if (strlen(last_event_id) > HTTP_MAX_HEADER_BYTES ||
            !parse_event_id(last_event_id, tparts, pos, &why)) {
            http_problem(r, 400, "malformed last event id '%.200s': %s", last_event_id,
                         strlen(last_event_id) > HTTP_MAX_HEADER_BYTES ? "too long" : why);
            return NULL;
        }
    }

    int32_t n = only >= 0 ? 1 : tparts;
    http_stream_t *s = hd_calloc(1, sizeof *s + sizeof s->parts[0] * (size_t)n);
    s->cfg = r->cfg;
    s->nparts = n;
    s->multi = only < 0 && n > 1;
    s->topic = hd_strdup(name);
    const char *client = http__client_id(r);
    s->client = client ? hd_strdup(client) : NULL;
    hd_buf_init(&s->out);
    if (type) {
        size_t tl = strlen(type);
        s->type_prefix = type[tl - 1] == '*';
        s->type_len = s->type_prefix ? tl - 1 : tl;
        s->type = hd_strndup(type, s->type_len);
    } else if (any_ce) {
        s->type = hd_strdup("");
        s->type_prefix = true;
    }
    if (key) {
        s->key_len = strlen(key);
        s->key = hd_strdup(key);
    }
    for (int32_t i = 0; i < n; i++) {
        stream_part_t *sp = &s->parts[i];
        sp->index = only >= 0 ? (int32_t)only : i;
        sp->p = broker_topic_partition(t, sp->index);
        sp->s = s;
        int64_t off;
        if (pos[sp->index] != INT64_MIN) {
            off = pos[sp->index] == INT64_MAX ? INT64_MAX : pos[sp->index] + 1;
        } else if (mode == 1) {
            off = broker_partition_start(sp->p);
        } else if (mode == 2) {
            off = from_v;
        } else if (mode == 3) {
            int64_t ts;
            int rc = broker_partition_offset_for_time(sp->p, from_v, &off, &ts);
            if (rc == HD_ENOTFOUND) {
                off = broker_partition_hwm(sp->p);
            } else if (rc < 0) {
                http_problem(r, 500, "partition %d: finding the time failed: %s", sp->index,
                             hd_strerror(rc));
                http__stream_free(s);
                return NULL;
            }
        } else {
            off = broker_partition_hwm(sp->p);
        }
        sp->next = clamp_offset(sp->p, off);
    }
    return s;
}

void *http__stream_proto_ctx(http_stream_t *s) { return s->pctx; }
hd_buf_t *http__stream_out(http_stream_t *s) { return &s->out; }

const char *http__stream_peer(const http_stream_t *s)
{
    return s->conn ? http_conn_peer(s->conn) : "(closed)";
}

size_t http__stream_pending(const http_stream_t *s)
{
    return s->conn ? http_conn_pending(s->conn) : 0;
}

static void free_now(http_stream_t *s)
{
    if (s->started)
        obs_catalog_stream(s->topic, s->client, s->proto->name, -1);
    if (s->proto && s->proto->free)
        s->proto->free(s);
    free(s->client);
    hd_buf_deinit(&s->out);
    free(s->topic);
    free(s->type);
    free(s->key);
    free(s);
}

void http__stream_free(http_stream_t *s)
{
    if (!s)
        return;
    HD_ASSERT(!s->started);
    free_now(s);
}

/* ---- writing ---- */

void http__stream_flush(http_stream_t *s)
{
    if (s->out.len == 0)
        return;
    if (!s->conn) {
        hd_buf_reset(&s->out);
        return;
    }
    s->last_write_ms = hd_mono_ms();
    http_conn_write_buf(s->conn, &s->out); /* may close the connection: see on_close */
    hd_buf_deinit(&s->out);
}

/* ---- waiters ---- */

static void on_wake(broker_waiter_t *w, int err);

static void cancel_all(http_stream_t *s)
{
    for (int32_t i = 0; i < s->nparts; i++)
        broker_waiter_cancel(&s->parts[i].w);
}

/* Registers every partition's waiter: for the next record, or (while the buffer is full) only
 * for a deletion. A waiter whose target is already reached fires inside this call. */
static void park(http_stream_t *s)
{
    for (int32_t i = 0; i < s->nparts && !s->ending; i++) {
        stream_part_t *sp = &s->parts[i];
        sp->w.target = s->blocked ? NO_TARGET : sp->next + 1;
        sp->w.cb = on_wake;
        sp->w.ctx = sp;
        broker_waiter_add(sp->p, &sp->w);
    }
}

/* ---- reading ---- */

static void end_stream(http_stream_t *s, int why, const char *reason);

typedef struct step_ctx {
    http_stream_t *s;
    stream_part_t *sp;
    hd_buf_t ce_scratch;
    hd_buf_t id;
    int64_t max_ts; /* newest timestamp delivered in this step, or -1 */
    obs_span_op_t op;
} step_ctx_t;

static bool matches(http_stream_t *s, step_ctx_t *st, const broker_record_t *rec)
{
    if (s->key && (rec->key_null || rec->key.len != s->key_len ||
                   memcmp(rec->key.p, s->key, s->key_len) != 0))
        return false;
    if (s->type) {
        hd_slice_t type;
        hd_buf_reset(&st->ce_scratch);
        if (!http__record_ce_type(rec, &st->ce_scratch, &type))
            return false;
        if (s->type_prefix ? type.len < s->type_len : type.len != s->type_len)
            return false;
        if (memcmp(type.p, s->type, s->type_len) != 0)
            return false;
    }
    return true;
}

static void format_id(http_stream_t *s, step_ctx_t *st, int64_t offset)
{
    char tmp[48];
    hd_buf_reset(&st->id);
    int n = snprintf(tmp, sizeof tmp, "%d:%lld", (int)st->sp->index, (long long)offset);
    hd_buf_put(&st->id, tmp, (size_t)n);
    if (s->multi)
        for (int32_t i = 0; i < s->nparts; i++) {
            stream_part_t *q = &s->parts[i];
            if (q == st->sp)
                continue;
            n = snprintf(tmp, sizeof tmp, ",%d:%lld", (int)q->index, (long long)(q->next - 1));
            hd_buf_put(&st->id, tmp, (size_t)n);
        }
    hd_buf_put_u8(&st->id, 0);
}

static int on_record(void *ctx, const broker_record_t *rec)
{
    step_ctx_t *st = ctx;
    http_stream_t *s = st->s;
    if (rec->offset < st->sp->next)
        return 0; /* before the position: the batch started earlier */
    if (s->out.len >= STEP_OUT_BYTES)
        return 1; /* enough for one step; the rest is read again next time */
    st->sp->next = rec->offset + 1;
    if (!matches(s, st, rec))
        return 0;
    format_id(s, st, rec->offset);
    json_t *j = http__record_json(st->sp->index, rec);
    json_t *ce = http__record_ce_json(rec);
    if (ce)
        json_object_set_new(j, "cloudevent", ce);
    s->proto->record(s, (const char *)st->id.p, j);
    json_decref(j);
    if (rec->timestamp > st->max_ts)
        st->max_ts = rec->timestamp;
    obs_trace_ctx_t tc;
    if (obs_otlp_on && obs_record_trace(rec, &tc))
        obs_trace_span(&st->op, &tc, rec->offset, 1);
    return s->ending ? 1 : 0;
}

/* Reads one bounded run of batches of sp and passes its records on. Returns 0 or an error that
 * ends the stream. */
static int step(http_stream_t *s, stream_part_t *sp)
{
    hd_buf_t data, scratch;
    hd_buf_init(&data);
    hd_buf_init(&scratch);
    step_ctx_t st = {.s = s, .sp = sp, .max_ts = -1};
    st.op = (obs_span_op_t){.deliver = true,
                            .via = s->proto->obs_kind == OBS_DELIVERY_WS ? "ws" : "sse",
                            .topic = s->topic,
                            .partition = sp->index,
                            .start_ns = hd_mono_ns(),
                            .base_offset = -1};
    hd_buf_init(&st.ce_scratch);
    hd_buf_init(&st.id);
    int rc = 0;
    ssize_t n = broker_partition_read(sp->p, sp->next, STEP_BYTES, &data);
    if (n == HD_ERANGE) {
        /* Retention removed what was next: skip to what is left. */
        int64_t to = clamp_offset(sp->p, sp->next);
        say_debug("http %s: stream of %s-%d skips from %lld to %lld", http__stream_peer(s),
                  s->topic, (int)sp->index, (long long)sp->next, (long long)to);
        sp->next = to;
        goto out;
    }
    if (n < 0) {
        say_warn_every(5, "http %s: reading %s-%d at %lld failed: %s", http__stream_peer(s),
                       s->topic, (int)sp->index, (long long)sp->next, hd_strerror((int)n));
        rc = (int)n;
        goto out;
    }
    size_t pos = 0;
    while (pos + BROKER_BATCH_HEADER_LEN <= data.len && !s->ending) {
        broker_batch_hdr_t h;
        broker_batch_hdr_decode(data.p + pos, &h);
        size_t size = 12 + (size_t)(h.batch_length < 0 ? 0 : h.batch_length);
        if (size < BROKER_BATCH_HEADER_LEN || size > data.len - pos || h.last_offset_delta < 0) {
            rc = HD_ECORRUPT;
            goto out;
        }
        int64_t last = h.base_offset + h.last_offset_delta;
        if (last >= sp->next) {
            int r = broker_batch_for_each(hd_slice(data.p + pos, size), MAX_INFLATE, &scratch,
                                          on_record, &st);
            if (r == 1)
                break; /* the step is full, or the stream ended */
            if (r < 0)
                say_warn_every(5, "http %s: stream of %s-%d skips the batch at %lld: %s",
                               http__stream_peer(s), s->topic, (int)sp->index,
                               (long long)h.base_offset, hd_strerror(r));
            if (last + 1 > sp->next)
                sp->next = last + 1;
        }
        pos += size;
    }
out:
    if (st.max_ts >= 0)
        obs_e2e_observe(s->proto->obs_kind, "", st.max_ts);
    hd_buf_deinit(&data);
    hd_buf_deinit(&scratch);
    hd_buf_deinit(&st.ce_scratch);
    hd_buf_deinit(&st.id);
    return rc;
}

/* The next partition with records to read, round robin, or NULL. */
static stream_part_t *next_ready(http_stream_t *s)
{
    for (int32_t k = 0; k < s->nparts; k++) {
        int32_t i = (s->rr + k) % s->nparts;
        stream_part_t *sp = &s->parts[i];
        if (sp->next < broker_partition_hwm(sp->p) || sp->next < broker_partition_start(sp->p)) {
            s->rr = (i + 1) % s->nparts;
            return sp;
        }
    }
    return NULL;
}

static void arm_timer(http_stream_t *s);

/* Reads while the client keeps up, then parks. Re-entrant calls (a waiter firing inside park)
 * only ask the running call to go round again. */
static void pump(http_stream_t *s)
{
    if (s->depth > 0) {
        s->woken = true;
        return;
    }
    if (s->closed || s->ending)
        return;
    s->depth++;
    cancel_all(s);
    size_t limit = (size_t)s->cfg->http_stream_buffer_bytes;
    for (;;) {
        s->woken = false;
        while (!s->closed && !s->ending) {
            if (http_conn_pending(s->conn) >= limit) {
                if (!s->blocked) {
                    s->blocked = true;
                    s->stall_since_ms = hd_mono_ms();
                    s->stall_queued = uv_stream_get_write_queue_size(&s->conn->io.stream);
                }
                break;
            }
            s->blocked = false;
            stream_part_t *sp = next_ready(s);
            if (!sp)
                break;
            int rc = step(s, sp);
            http__stream_flush(s);
            if (rc < 0 && !s->closed)
                end_stream(s, rc, "reading the log failed");
        }
        if (s->closed || s->ending)
            break;
        park(s);
        if (!s->woken)
            break;
        cancel_all(s);
    }
    s->depth--;
    if (!s->closed && !s->ending)
        arm_timer(s);
}

static void on_wake(broker_waiter_t *w, int err)
{
    stream_part_t *sp = w->ctx;
    http_stream_t *s = sp->s;
    if (s->closed || s->ending)
        return;
    if (err) {
        /* Only a deletion or the broker closing fire with an error, never inside park(). */
        end_stream(s, err, err == HD_ENOTFOUND ? "topic deleted" : "server shutting down");
        return;
    }
    pump(s);
}

/* ---- timer: heartbeats, stalled clients, closing ---- */

static void on_timer(uv_timer_t *t);

static void arm_timer(http_stream_t *s)
{
    int64_t now = hd_mono_ms();
    int64_t due;
    if (s->blocked) {
        int64_t check = s->cfg->http_stream_stall_timeout_ms / 4;
        due = check < 10 ? 10 : check > 1000 ? 1000 : check;
    } else {
        due = s->last_write_ms + s->cfg->http_stream_heartbeat_ms - now;
        if (due < 0)
            due = 0;
    }
    uv_timer_start(&s->timer, on_timer, (uint64_t)due, 0);
}

static void on_timer(uv_timer_t *t)
{
    http_stream_t *s = t->data;
    if (s->closed)
        return;
    if (s->finishing) {
        say_debug("http %s: stream of %s closed after its grace period", http__stream_peer(s),
                  s->topic);
        http_conn_close(s->conn);
        return;
    }
    if (s->ending)
        return;
    int64_t now = hd_mono_ms();
    if (s->blocked) {
        size_t queued = uv_stream_get_write_queue_size(&s->conn->io.stream);
        if (queued < s->stall_queued) {
            s->stall_queued = queued;
            s->stall_since_ms = now;
        } else if (now - s->stall_since_ms >= s->cfg->http_stream_stall_timeout_ms) {
            say_info("http %s: stream of %s closed: the client accepted no bytes for %lld ms "
                     "with %zu bytes buffered",
                     http__stream_peer(s), s->topic, (long long)(now - s->stall_since_ms),
                     http_conn_pending(s->conn));
            end_stream(s, HD_ETOOBIG, "client too slow");
            return;
        }
        arm_timer(s);
        return;
    }
    if (now - s->last_write_ms >= s->cfg->http_stream_heartbeat_ms) {
        s->proto->heartbeat(s);
        http__stream_flush(s);
        if (s->closed)
            return;
        s->last_write_ms = now;
    }
    arm_timer(s);
}

/* ---- ending ---- */

static void finish_after(http_stream_t *s, int64_t ms)
{
    s->finishing = true;
    uv_timer_start(&s->timer, on_timer, (uint64_t)ms, 0);
}

static void end_stream(http_stream_t *s, int why, const char *reason)
{
    if (s->ending || s->closed)
        return;
    s->ending = true;
    cancel_all(s);
    bool linger = s->proto->end(s, why, reason);
    http__stream_flush(s);
    if (s->closed)
        return;
    if (why == HD_ETOOBIG) {
        /* The goodbye waits behind a full buffer: give it a moment, then drop it all. */
        http_conn_end(s->conn);
        if (!s->closed)
            finish_after(s, 1000);
        return;
    }
    if (!linger)
        http_conn_end(s->conn);
    if (!s->closed)
        finish_after(s, FINISH_GRACE_MS);
}

void http__stream_done(http_stream_t *s)
{
    if (s->closed)
        return;
    s->ending = true;
    cancel_all(s);
    http__stream_flush(s);
    if (s->closed)
        return;
    http_conn_end(s->conn);
    if (!s->closed && !s->finishing)
        finish_after(s, FINISH_GRACE_MS);
}

void http__stream_abort(http_stream_t *s, const char *why)
{
    if (s->closed)
        return;
    say_debug("http %s: stream of %s aborted: %s", http__stream_peer(s), s->topic, why);
    s->ending = true;
    cancel_all(s);
    http_conn_close(s->conn);
}

/* ---- the connection's callbacks ---- */

static void on_conn_read(void *ctx, const uint8_t *p, size_t n)
{
    http_stream_t *s = ctx;
    if (s->proto->read && !s->closed)
        s->proto->read(s, p, n);
}

static void on_drain(void *ctx)
{
    http_stream_t *s = ctx;
    if (s->blocked && !s->ending && !s->closed) {
        s->blocked = false;
        pump(s);
    }
}

static void on_shutdown(void *ctx)
{
    http_stream_t *s = ctx;
    end_stream(s, HD_ECLOSED, "server shutting down");
}

static void on_timer_closed(uv_handle_t *h) { free_now(h->data); }

static void on_close(void *ctx)
{
    http_stream_t *s = ctx;
    s->closed = true;
    s->ending = true;
    s->conn = NULL;
    cancel_all(s);
    hd_buf_deinit(&s->out);
    uv_timer_stop(&s->timer);
    /* Freed once the timer's handle is closed, so a caller up the stack still sees s. */
    uv_close((uv_handle_t *)&s->timer, on_timer_closed);
}

static const http_stream_ops_t stream_ops = {
    .on_read = on_conn_read,
    .on_drain = on_drain,
    .on_shutdown = on_shutdown,
    .on_close = on_close,
};

void http__stream_start(http_stream_t *s, http_req_t *r, const void *head, size_t head_len,
                        const http_stream_proto_t *proto, void *proto_ctx)
{
    s->proto = proto;
    s->pctx = proto_ctx;
    uv_timer_init(r->srv->loop, &s->timer);
    s->timer.data = s;
    s->started = true;
    obs_catalog_stream(s->topic, s->client, proto->name, 1);
    s->last_write_ms = hd_mono_ms();
    say_debug("http %s: streaming %s (%d partition%s)", http_conn_peer(r->conn), s->topic,
              (int)s->nparts, s->nparts == 1 ? "" : "s");
    s->conn = http_conn_takeover(r, &stream_ops, s);
    http_conn_write(s->conn, head, head_len);
    pump(s);
}
