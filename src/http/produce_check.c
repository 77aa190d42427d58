/* Schema validation of records produced over HTTP (POST /topics/{t}/records and /events to a
 * topic with confluent.value.schema.validation or confluent.key.schema.validation), on libuv's
 * worker pool rather than the event loop, so that a big validated batch does not hold up the
 * other connections, Kafka's or HTTP's.
 *
 * The request's records are already decoded (into its arena, its body, or its JSON document).
 * They are cut into parts as the Kafka path cuts a batch (kafka/produce_check.c): fewer than
 * 2 * SPLIT_MIN records go whole to one part, more into contiguous ranges of at least SPLIT_MIN
 * records, up to MAX_PARTS. A job per validation thread (schema.validation.threads, uv_queue_work
 * on the server's loop) claims the next unclaimed part until none is left; when no other check is
 * running, the loop thread claims parts too, up to HERE_MAX_BYTES of records, while the jobs wake
 * up, and jobs not yet started once every part is claimed are cancelled. A part reads only the
 * records and the schema registry, inside registry_read_begin/end on a worker (released every
 * LOCK_SPAN records, so that a registration never waits long; the loop thread, where the
 * registry changes, needs no lock), and writes only its own result, in its own arena. In reject
 * mode a part stops at its first bad record, or as soon as another part found an earlier one.
 *
 * When every part is done, the verdict is applied on the loop thread, as it was when the check
 * ran there: in reject mode the first bad record is named in a 422 problem and nothing is
 * appended; in dlq mode the bad records go to the dead-letter topic and the good ones are
 * produced (http__produce_append). A topic deleted meanwhile is answered 404; one recreated, or
 * whose validation settings changed, has its records checked again, on the loop thread, by its
 * settings of now.
 *
 * Order: a connection handles one request at a time (conn.c: the bytes of pipelined requests
 * stay unparsed until the answer is queued), so what a client sends behind a request being
 * checked is answered, and takes effect, after it.
 *
 * Lifetimes: a check is its own allocation, freed when its last part is done. When the
 * connection closes first (the request's on_abort), the check takes over the request's arena and
 * body, where the records are, and it always holds a reference on the records' JSON document,
 * so that parts still running read valid memory; such a check appends nothing. The server waits
 * for running checks (http_checks_running) before it closes the registry.
 *
 * Test hook: with the environment variable HERALD_TEST_VALIDATION_GATE set to a path P, the
 * first job of the process's k-th check (k = 1, 2, ... in the order the requests arrived) opens
 * "P.k" and, when it is a FIFO, waits there for one byte (or the writer's close) before claiming
 * anything, outside the registry's lock. With the hook set, that job is the check's only one (the
 * loop thread claims no part and the job is not cancelled), so no record is checked before the
 * gate opens. A test that creates P.k can so hold that one check in progress for as long as it
 * likes, and knows for certain when it is held (its own open of the FIFO for writing, without
 * blocking, succeeds once the reader is there). When P.k does not
 * exist, check k waits for nothing. */
#include "http/http_int.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/say.h"
#include "util/sched.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Batches of fewer than twice this many records go whole to one part. */
#define SPLIT_MIN 128
/* Parts of one check, at most: a few per thread, so that the threads' shares even out. */
#define MAX_PARTS 8
/* Records the loop thread may check itself of one request (see the top), as the Kafka path. */
#define HERE_MAX_BYTES (384 * 1024)
/* Records validated between two releases of the registry's read lock. */
#define LOCK_SPAN 256

typedef struct check check_t;

/* One part: records [lo, hi) and the bad ones among them, in order. Written by its thread only
 * until it is done. */
typedef struct part {
    check_t *ck;
    int32_t lo, hi;
    size_t bytes; /* the records' keys and values */
    hd_arena_t a;
    int n, cap;
    int32_t *bad;
    char **why;
} part_t;

/* A worker thread's share of a check: it claims parts until none is left. */
typedef struct job {
    uv_work_t w;
    check_t *ck;
    bool first; /* waits at the test hook's gate first */
} job_t;

/* A request's check. Owned by the loop thread; its parts' threads read it (never the request)
 * and write only their own part_t. */
struct check {
    http_req_t *r; /* NULL once the connection closed: nothing is appended then */
    registry_t *reg;
    uint8_t topic_id[16];
    registry_target_t tg;
    bool dlq;
    http_produce_rec_t *recs;
    int n;
    part_t *parts;
    int nparts;
    atomic_int next; /* the next part to claim */
    job_t *jobs;
    int running;               /* jobs queued and not done */
    _Atomic int32_t first_bad; /* reject mode: the lowest bad record found so far */
    json_t *doc;               /* a reference on the records' JSON document, or NULL */
    char *gate;                /* the test hook's FIFO for this check, or NULL */
    bool owns;                 /* arena and body were taken from the aborted request */
    hd_arena_t arena;
    hd_buf_t body;
};

/* Loop thread only. */
static int checks_running;
static const char *gate;
static bool gate_read;
static unsigned long long checks_started;

int http_checks_running(void) { return checks_running; }

static void keep_bad(part_t *p, int32_t i, const char *why)
{
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 16;
        int32_t *bad = hd_arena_alloc(&p->a, sizeof *bad * (size_t)cap);
        char **whys = hd_arena_alloc(&p->a, sizeof *whys * (size_t)cap);
        HD_ASSERT(bad && whys);
        if (p->n) {
            memcpy(bad, p->bad, sizeof *bad * (size_t)p->n);
            memcpy(whys, p->why, sizeof *whys * (size_t)p->n);
        }
        p->bad = bad;
        p->why = whys;
        p->cap = cap;
    }
    p->bad[p->n] = i;
    p->why[p->n] = hd_arena_strndup(&p->a, why, strlen(why));
    HD_ASSERT(p->why[p->n]);
    p->n++;
}

/* Lowers ck->first_bad to i. */
static void note_first_bad(check_t *ck, int32_t i)
{
    int32_t cur = atomic_load_explicit(&ck->first_bad, memory_order_relaxed);
    while (i < cur && !atomic_compare_exchange_weak_explicit(
                          &ck->first_bad, &cur, i, memory_order_relaxed, memory_order_relaxed))
        ;
}

/* Checks part p. On a worker thread (locked) the registry's read lock is taken and released
 * every LOCK_SPAN records; the loop thread needs no lock. */
static void check_part(check_t *ck, part_t *p, bool locked)
{
    char why[800];
    int since = 0;
    if (locked)
        registry_read_begin(ck->reg);
    for (int32_t i = p->lo; i < p->hi; i++) {
        if (!ck->dlq && i > atomic_load_explicit(&ck->first_bad, memory_order_relaxed))
            break; /* an earlier record already fails the request */
        const broker_record_in_t *rec = &ck->recs[i].rec;
        registry_ce_t ce;
        registry_ce_from_headers(rec->headers, rec->nheaders, &ce);
        if (registry_validate_target(ck->reg, &ck->tg, rec, &ce, why, sizeof why) < 0) {
            keep_bad(p, i, why);
            if (!ck->dlq) {
                note_first_bad(ck, i);
                break;
            }
        }
        if (locked && ++since == LOCK_SPAN) {
            registry_read_end(ck->reg); /* lets a waiting change in */
            registry_read_begin(ck->reg);
            since = 0;
        }
    }
    if (locked)
        registry_read_end(ck->reg);
}

/* The test hook (see the top). */
static void wait_gate(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISFIFO(st.st_mode))
        return;
    int fd;
    do
        fd = open(path, O_RDONLY | O_CLOEXEC); /* waits for the writer */
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return;
    char b;
    ssize_t n;
    do
        n = read(fd, &b, 1);
    while (n < 0 && errno == EINTR);
    close(fd);
}

/* Claims the next unclaimed part of ck and checks it; false when none was left. Relaxed: the
 * parts were made before the threads started, and are read after they are joined. */
static bool claim_part(check_t *ck, bool locked)
{
    int k = atomic_fetch_add_explicit(&ck->next, 1, memory_order_relaxed);
    if (k >= ck->nparts)
        return false;
    check_part(ck, &ck->parts[k], locked);
    return true;
}

static void part_work(uv_work_t *w)
{
    job_t *j = w->data;
    hd_sched_background(); /* never preempts the loop thread (util/sched.h) */
    if (j->first && j->ck->gate)
        wait_gate(j->ck->gate);
    while (claim_part(j->ck, true))
        ;
}

static void parts_free(check_t *ck)
{
    for (int k = 0; k < ck->nparts; k++)
        hd_arena_deinit(&ck->parts[k].a);
    free(ck->parts);
    ck->parts = NULL;
    ck->nparts = 0;
}

static void check_free(check_t *ck)
{
    parts_free(ck);
    free(ck->jobs);
    json_decref(ck->doc);
    free(ck->gate);
    if (ck->owns) {
        hd_arena_deinit(&ck->arena);
        hd_buf_deinit(&ck->body);
    }
    free(ck);
    checks_running--;
}

/* Cuts [0, n) into nparts ranges (see the top). */
static void parts_make(check_t *ck, int nparts)
{
    ck->nparts = nparts;
    ck->parts = hd_calloc((size_t)nparts, sizeof *ck->parts);
    int64_t chunk = ((int64_t)ck->n + nparts - 1) / nparts;
    for (int k = 0; k < nparts; k++) {
        part_t *p = &ck->parts[k];
        int64_t lo = chunk * k, hi = lo + chunk;
        p->ck = ck;
        p->lo = (int32_t)(lo < ck->n ? lo : ck->n);
        p->hi = (int32_t)(hi < ck->n ? hi : ck->n);
        for (int32_t i = p->lo; i < p->hi; i++)
            p->bytes += ck->recs[i].rec.key.len + ck->recs[i].rec.value.len;
        hd_arena_init(&p->a, 0);
    }
    atomic_store(&ck->first_bad, INT32_MAX);
    atomic_store(&ck->next, 0);
}

static void target_take(check_t *ck, broker_topic_t *t)
{
    memcpy(ck->topic_id, broker_topic_id(t), sizeof ck->topic_id);
    registry_target_of(t, &ck->tg);
    ck->dlq = broker_topic_config(t)->validation_dlq;
}

static bool target_same(const check_t *ck, broker_topic_t *t)
{
    if (memcmp(ck->topic_id, broker_topic_id(t), sizeof ck->topic_id) != 0 ||
        ck->dlq != broker_topic_config(t)->validation_dlq)
        return false;
    registry_target_t now;
    registry_target_of(t, &now);
    return now.value == ck->tg.value && now.key == ck->tg.key &&
           !strcmp(now.value_subject, ck->tg.value_subject) &&
           !strcmp(now.key_subject, ck->tg.key_subject);
}

/* Every part is done: the verdict (loop thread). */
static void finish(check_t *ck)
{
    http_req_t *r = ck->r;
    if (!r) {
        check_free(ck);
        return;
    }
    r->state = NULL;
    r->on_abort = NULL;
    broker_topic_t *t = broker_topic_find(r->broker, r->params[0]);
    if (!t) {
        check_free(ck);
        http_problem(r, 404, "topic '%s' was deleted while its records were being checked",
                     r->params[0]);
        return;
    }
    if (!target_same(ck, t)) {
        /* Recreated or reconfigured meanwhile: checked again, here, by its settings of now. */
        parts_free(ck);
        target_take(ck, t);
        if (broker_topic_config(t)->schema_validation) {
            parts_make(ck, 1);
            check_part(ck, &ck->parts[0], false);
        } /* else no parts: no bad record */
    }
    int nbad = 0;
    for (int k = 0; k < ck->nparts; k++)
        nbad += ck->parts[k].n;
    if (nbad == 0) {
        http_produce_rec_t *recs = ck->recs;
        int n = ck->n;
        json_t *doc = ck->doc; /* the records may point into it until they are encoded */
        ck->doc = NULL;
        check_free(ck);
        http__produce_append(r, t, recs, n);
        json_decref(doc);
        return;
    }
    if (!ck->dlq) {
        for (int k = 0; k < ck->nparts; k++) {
            part_t *p = &ck->parts[k];
            if (p->n == 0)
                continue;
            say_debug("http %s: produce to %s refused by schema validation: records[%d]: %s",
                      http_conn_peer(r->conn), r->params[0], p->bad[0], p->why[0]);
            http_problem(r, 422,
                         "records[%d] was refused by schema validation: %s (nothing was "
                         "written)",
                         p->bad[0], p->why[0]);
            check_free(ck);
            return;
        }
        HD_UNREACHABLE();
    }
    /* dlq mode: the bad records to the dead-letter topic, the good ones kept in order. */
    broker_record_in_t *bad = hd_arena_alloc(&r->arena, sizeof *bad * (size_t)nbad);
    const char **whys = hd_arena_alloc(&r->arena, sizeof *whys * (size_t)nbad);
    if (!bad || !whys) {
        check_free(ck);
        http_problem(r, 413, "too many records in one request");
        return;
    }
    int kept = 0, nb = 0;
    int k = 0, j = 0; /* the next bad record: parts[k].bad[j] */
    for (int i = 0; i < ck->n; i++) {
        while (k < ck->nparts && j >= ck->parts[k].n) {
            k++;
            j = 0;
        }
        if (k < ck->nparts && ck->parts[k].bad[j] == i) {
            bad[nb] = ck->recs[i].rec;
            whys[nb++] = ck->parts[k].why[j++];
        } else {
            ck->recs[kept++] = ck->recs[i];
        }
    }
    int rc = registry_dead_letter(ck->reg, t, -1, bad, whys, nb);
    http_produce_rec_t *recs = ck->recs;
    json_t *doc = ck->doc;
    ck->doc = NULL;
    check_free(ck);
    if (rc < 0) {
        json_decref(doc);
        http_problem(r, 500,
                     "%d records failed validation and could not be written to the "
                     "dead-letter topic: %s",
                     nb, hd_strerror(rc));
        return;
    }
    char v[16];
    snprintf(v, sizeof v, "%d", nb);
    http_req_add_header(r, "Herald-Dead-Lettered", v);
    http__produce_append(r, t, recs, kept);
    json_decref(doc);
}

static void part_done(uv_work_t *w, int status)
{
    (void)status; /* UV_ECANCELED: every part was claimed before the job started */
    job_t *j = w->data;
    check_t *ck = j->ck;
    if (--ck->running == 0)
        finish(ck);
}

/* The connection closed while the parts run: keep what they read (see the top). */
static void check_abort(http_req_t *r)
{
    check_t *ck = r->state;
    ck->r = NULL;
    ck->owns = true;
    ck->arena = r->arena;
    hd_arena_init(&r->arena, 0);
    ck->body = r->body;
    hd_buf_init(&r->body);
}

void http__produce_check(http_req_t *r, broker_topic_t *t, http_produce_rec_t *recs, int n,
                         json_t *doc)
{
    registry_t *reg = r->srv->registry;
    if (!reg) {
        http_problem(r, 503,
                     "topic '%s' validates records against the schema registry, which "
                     "this listener does not serve",
                     broker_topic_name(t));
        return;
    }
    if (!gate_read) {
        gate_read = true;
        gate = getenv("HERALD_TEST_VALIDATION_GATE");
    }
    check_t *ck = hd_calloc(1, sizeof *ck);
    checks_running++;
    ck->r = r;
    ck->reg = reg;
    ck->recs = recs;
    ck->n = n;
    ck->doc = doc ? json_incref(doc) : NULL;
    checks_started++;
    if (gate) {
        size_t len = strlen(gate) + 24;
        ck->gate = hd_malloc(len);
        snprintf(ck->gate, len, "%s.%llu", gate, checks_started);
    }
    hd_arena_init(&ck->arena, 0);
    hd_buf_init(&ck->body);
    target_take(ck, t);
    int threads = r->srv->validation_threads > 0 ? r->srv->validation_threads : 1;
    int want = n / SPLIT_MIN;
    parts_make(ck, want < 1 ? 1 : want < MAX_PARTS ? want : MAX_PARTS);
    r->state = ck;
    r->on_abort = check_abort;
    /* The parts this thread may claim: none when another check runs (the pool is busy then)
     * or with the test hook (its check must wait at the gate). */
    int here = 0;
    for (size_t bytes = 0; !ck->gate && checks_running == 1 && here < ck->nparts &&
                           bytes + ck->parts[here].bytes <= HERE_MAX_BYTES;
         here++)
        bytes += ck->parts[here].bytes;
    if (ck->gate)
        threads = 1; /* the test hook: one job, after the gate */
    int njobs = here >= ck->nparts ? 0 : ck->nparts - here < threads ? ck->nparts - here : threads;
    if (njobs > 0)
        ck->jobs = hd_calloc((size_t)njobs, sizeof *ck->jobs);
    for (int k = 0; k < njobs; k++) {
        job_t *j = &ck->jobs[ck->running];
        j->ck = ck;
        j->first = ck->running == 0;
        j->w.data = j;
        if (uv_queue_work(r->srv->loop, &j->w, part_work, part_done) == 0)
            ck->running++;
    }
    if (ck->running == 0)
        here = ck->nparts; /* no pool: every part here */
    for (int k = 0; k < here && claim_part(ck, false); k++)
        ;
    if (ck->running == 0) {
        finish(ck);
    } else if (!ck->gate && atomic_load_explicit(&ck->next, memory_order_relaxed) >= ck->nparts) {
        for (int k = 0, queued = ck->running; k < queued; k++)
            uv_cancel((uv_req_t *)&ck->jobs[k].w);
    }
}
