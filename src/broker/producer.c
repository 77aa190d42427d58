/* Idempotent-producer sequence checks, as Kafka does them (ProducerStateManager):
 * per (partition, producer id) the epoch and the last five batches are kept. A retried batch
 * whose sequence range matches a kept one is answered with its original offsets and not
 * appended again. State is rebuilt from the stored batch headers the first time a partition
 * sees an idempotent batch after start, so it survives restarts (skipping segments older than
 * producer.id.expiration.ms). Producers are found by hash, and are forgotten after
 * producer.id.expiration.ms without a batch. */
#include "broker/broker_int.h"
#include "util/buf.h"
#include "util/crc32c.h"
#include "util/err.h"
#include "util/fileio.h"
#include "util/mem.h"
#include "util/monotime.h"
#include "util/reader.h"
#include "util/say.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static size_t pid_hash(int64_t pid)
{
    uint64_t x = (uint64_t)pid; /* splitmix64's finalizer: ids are sequential */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return (size_t)x;
}

static broker__producer_t *find(broker_partition_t *p, int64_t pid)
{
    if (!p->pidx_cap)
        return NULL;
    size_t mask = p->pidx_cap - 1;
    for (size_t i = pid_hash(pid) & mask;; i = (i + 1) & mask) {
        int32_t v = p->pidx[i];
        if (v == 0)
            return NULL;
        if (p->producers[v - 1].pid == pid)
            return &p->producers[v - 1];
    }
}

static void index_put(broker_partition_t *p, int slot)
{
    size_t mask = p->pidx_cap - 1;
    size_t i = pid_hash(p->producers[slot].pid) & mask;
    while (p->pidx[i])
        i = (i + 1) & mask;
    p->pidx[i] = slot + 1;
}

static void reindex(broker_partition_t *p)
{
    size_t want = 8;
    while (want < 2 * (size_t)p->cap_producers)
        want *= 2;
    if (want != p->pidx_cap) {
        free(p->pidx);
        p->pidx = hd_malloc(want * sizeof *p->pidx);
        p->pidx_cap = want;
    }
    memset(p->pidx, 0, p->pidx_cap * sizeof *p->pidx);
    for (int i = 0; i < p->nproducers; i++)
        index_put(p, i);
}

/* Forgets producers last seen before `before` (ms), as Kafka does after
 * producer.id.expiration.ms: their next batch starts tracking afresh. */
static void expire(broker_partition_t *p, int64_t before)
{
    int w = 0;
    for (int i = 0; i < p->nproducers; i++)
        if (p->producers[i].last_ms >= before)
            p->producers[w++] = p->producers[i];
    if (w != p->nproducers) {
        p->nproducers = w;
        reindex(p);
    }
}

static int64_t expiry_ms(const broker_partition_t *p)
{
    return broker_config(p->topic->broker)->producer_id_expiration_ms;
}

/* Starts tracking pid, seen `now`. */
static broker__producer_t *add(broker_partition_t *p, int64_t pid, int64_t now)
{
    if (p->nproducers == p->cap_producers) {
        /* Full: forget expired producers first, and grow unless that freed a quarter. Doing
         * this only when full keeps adding a producer O(1) amortized. */
        if (p->nproducers >= 64)
            expire(p, now - expiry_ms(p));
        if (p->nproducers == p->cap_producers || p->nproducers > p->cap_producers / 4 * 3) {
            p->cap_producers = p->cap_producers ? p->cap_producers * 2 : 4;
            p->producers =
                hd_realloc(p->producers, (size_t)p->cap_producers * sizeof *p->producers);
            reindex(p);
        }
    }
    broker__producer_t *e = &p->producers[p->nproducers];
    memset(e, 0, sizeof *e);
    e->pid = pid;
    e->last_ms = now;
    index_put(p, p->nproducers++);
    return e;
}

/* The producer's state, or NULL when it has none or it has expired (then it starts afresh). */
static broker__producer_t *live(broker_partition_t *p, int64_t pid, int64_t now)
{
    broker__producer_t *e = find(p, pid);
    return e && now - e->last_ms < expiry_ms(p) ? e : NULL;
}

static int32_t last_seq_of(const broker_batch_hdr_t *h)
{
    /* Sequences wrap from INT32_MAX to 0. */
    return (int32_t)(((int64_t)h->base_sequence + h->last_offset_delta) % ((int64_t)INT32_MAX + 1));
}

static void push(broker__producer_t *e, const broker_batch_hdr_t *h, int64_t base_offset)
{
    broker__pbatch_t pb = {h->base_sequence, last_seq_of(h), base_offset,
                           base_offset + h->last_offset_delta + 1};
    if (e->n < BROKER_PRODUCER_BATCHES) {
        e->b[(e->head + e->n) % BROKER_PRODUCER_BATCHES] = pb;
        e->n++;
    } else {
        e->b[e->head] = pb;
        e->head = (e->head + 1) % BROKER_PRODUCER_BATCHES;
    }
}

typedef struct rebuild {
    broker_partition_t *p;
    int64_t now;
} rebuild_t;

/* Replays one stored batch into the producer state. Rebuilt producers count as seen at the
 * rebuild: batch timestamps come from clients' clocks, so they only decide which whole
 * segments are too old to replay. */
static int rebuild_cb(void *ctx, const uint8_t hdr[61], int64_t base_offset)
{
    rebuild_t *r = ctx;
    broker_partition_t *p = r->p;
    broker_batch_hdr_t h;
    broker_batch_hdr_decode(hdr, &h);
    if (h.producer_id < 0 || (h.attributes & BROKER_ATTR_CONTROL))
        return 0;
    broker__producer_t *e = find(p, h.producer_id);
    if (!e)
        e = add(p, h.producer_id, r->now);
    if (h.producer_epoch != e->epoch) {
        e->epoch = h.producer_epoch;
        e->n = 0;
        e->head = 0;
    }
    push(e, &h, base_offset);
    return 0;
}

/* ---- snapshots ----
 * At a clean shutdown each partition with loaded state writes it to producers.snapshot:
 *   magic u32 "HDPS" | version u16 (1) | offset i64 (the log end it describes) | count u32 |
 *   count x (pid i64 | epoch i16 | last_ms i64 | n u8 | n x (first_seq i32 | last_seq i32 |
 *            base_offset i64 | end_offset i64), oldest batch first) | crc32c u32 of all before.
 * The next rebuild starts from it and replays only the batches from `offset` on, if the log
 * still holds that offset. It is written without fsync: a torn or missing file fails its checks
 * and the rebuild scans the log instead. */
#define SNAP_FILE "producers.snapshot"
#define SNAP_MAGIC 0x48445053u
#define SNAP_VERSION 1
#define SNAP_HEADER_LEN 18
#define SNAP_ENTRY_LEN 19
#define SNAP_MAX_BYTES (256u << 20)

int broker__producers_parse(const uint8_t *b, size_t len, int64_t *offset, broker__producer_t **out,
                            int *count)
{
    *out = NULL;
    *count = 0;
    if (len < SNAP_HEADER_LEN + 4)
        return HD_ECORRUPT;
    hd_reader_t crc_r = hd_reader_init(hd_slice(b + len - 4, 4));
    if (hd_crc32c(0, b, len - 4) != hd_read_u32(&crc_r))
        return HD_ECORRUPT;
    hd_reader_t r = hd_reader_init(hd_slice(b, len - 4));
    uint32_t magic = hd_read_u32(&r);
    int16_t version = hd_read_i16(&r);
    *offset = hd_read_i64(&r);
    uint32_t n = hd_read_u32(&r);
    if (magic != SNAP_MAGIC || version != SNAP_VERSION || *offset < 0 ||
        n > hd_reader_left(&r) / SNAP_ENTRY_LEN)
        return HD_ECORRUPT;
    broker__producer_t *v = n ? hd_calloc(n, sizeof *v) : NULL;
    for (uint32_t i = 0; i < n && !r.err; i++) {
        broker__producer_t *e = &v[i];
        e->pid = hd_read_i64(&r);
        e->epoch = hd_read_i16(&r);
        e->last_ms = hd_read_i64(&r);
        e->n = (uint8_t)hd_read_i8(&r);
        if (e->pid < 0 || e->n > BROKER_PRODUCER_BATCHES)
            hd_reader_fail(&r, HD_ECORRUPT);
        for (int k = 0; k < e->n && !r.err; k++) {
            broker__pbatch_t *pb = &e->b[k];
            pb->first_seq = hd_read_i32(&r);
            pb->last_seq = hd_read_i32(&r);
            pb->base_offset = hd_read_i64(&r);
            pb->end_offset = hd_read_i64(&r);
            if (pb->first_seq < 0 || pb->last_seq < 0 || pb->base_offset < 0 ||
                pb->end_offset <= pb->base_offset)
                hd_reader_fail(&r, HD_ECORRUPT);
        }
    }
    if (r.err || hd_reader_left(&r) != 0) {
        free(v);
        return HD_ECORRUPT;
    }
    *out = v;
    *count = (int)n;
    return 0;
}

static char *snap_path(const broker_partition_t *p, const char *suffix)
{
    size_t n = strlen(p->dir) + sizeof SNAP_FILE + strlen(suffix) + 1;
    char *path = hd_malloc(n);
    snprintf(path, n, "%s/%s%s", p->dir, SNAP_FILE, suffix);
    return path;
}

void broker__producers_save(broker_partition_t *p)
{
    if (!p->producers_loaded || !p->log)
        return;
    hd_buf_t b;
    hd_buf_init(&b);
    hd_buf_put_u32be(&b, SNAP_MAGIC);
    hd_buf_put_i16be(&b, SNAP_VERSION);
    hd_buf_put_i64be(&b, log_partition_end_offset(p->log));
    hd_buf_put_u32be(&b, (uint32_t)p->nproducers);
    for (int i = 0; i < p->nproducers; i++) {
        const broker__producer_t *e = &p->producers[i];
        hd_buf_put_i64be(&b, e->pid);
        hd_buf_put_i16be(&b, e->epoch);
        hd_buf_put_i64be(&b, e->last_ms);
        hd_buf_put_u8(&b, (uint8_t)e->n);
        for (int k = 0; k < e->n; k++) {
            const broker__pbatch_t *pb = &e->b[(e->head + k) % BROKER_PRODUCER_BATCHES];
            hd_buf_put_i32be(&b, pb->first_seq);
            hd_buf_put_i32be(&b, pb->last_seq);
            hd_buf_put_i64be(&b, pb->base_offset);
            hd_buf_put_i64be(&b, pb->end_offset);
        }
    }
    hd_buf_put_u32be(&b, hd_crc32c(0, b.p, b.len));
    char *tmp = snap_path(p, ".tmp"), *path = snap_path(p, "");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = fd < 0 ? -errno : hd_io_pwrite_all(fd, b.p, b.len, 0);
    if (fd >= 0 && close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0) {
        say_warn("partition %s: cannot write %s: %s (the next start rescans the log)", p->dir,
                 SNAP_FILE, hd_strerror(rc));
        unlink(tmp);
    }
    free(tmp);
    free(path);
    hd_buf_deinit(&b);
}

/* Loads the partition's snapshot into the (empty) state; returns the offset to replay from, or
 * -1 when there is no usable snapshot. */
static int64_t load_snapshot(broker_partition_t *p, log_partition_t *log, int64_t now)
{
    char *path = snap_path(p, "");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0)
        return -1;
    struct stat st;
    uint8_t *buf = NULL;
    ssize_t got = -1, want = 0;
    if (fstat(fd, &st) == 0 && st.st_size > 0 && (uint64_t)st.st_size <= SNAP_MAX_BYTES) {
        want = (ssize_t)st.st_size;
        buf = hd_malloc((size_t)want);
        got = hd_io_pread_full(fd, buf, (size_t)want, 0);
    }
    close(fd);
    int64_t offset = -1;
    broker__producer_t *v = NULL;
    int n = 0;
    if (!buf || got != want || broker__producers_parse(buf, (size_t)got, &offset, &v, &n) < 0 ||
        offset < log_partition_start_offset(log) || offset > log_partition_end_offset(log)) {
        if (buf)
            say_warn("partition %s: %s unusable, rebuilding from the log", p->dir, SNAP_FILE);
        free(buf);
        free(v);
        return -1;
    }
    free(buf);
    for (int i = 0; i < n; i++) {
        if (now - v[i].last_ms >= expiry_ms(p) || find(p, v[i].pid))
            continue;
        broker__producer_t *e = add(p, v[i].pid, now);
        *e = v[i];
        e->head = 0;
    }
    free(v);
    return offset;
}

int broker__producer_check(broker_partition_t *p, const broker_batch_hdr_t *h, broker_append_t *dup,
                           const char **why)
{
    int64_t now = hd_wall_ms();
    if (!p->producers_loaded) {
        /* First idempotent batch since start: rebuild from the stored batch headers. Inactive
         * segments whose newest batch is older than producer.id.expiration.ms are skipped: a
         * producer last seen there has expired (Kafka's rule, by batch timestamps). */
        p->producers_loaded = true;
        log_partition_t *log = broker__partition_log(p);
        rebuild_t r = {p, now};
        int rc = -EIO;
        if (log) {
            /* From the last clean shutdown's snapshot, replaying every batch after it (no
             * segment is skipped then: the snapshot's state must be carried forward exactly). */
            int64_t from = load_snapshot(p, log, now);
            rc = from >= 0 ? log_partition_scan(log, from, -1, rebuild_cb, &r)
                           : log_partition_scan(log, log_partition_start_offset(log),
                                                now - expiry_ms(p), rebuild_cb, &r);
        }
        if (rc < 0) {
            /* Partial state would wrongly accept or reject sequences: drop it, and rebuild
             * again at the next idempotent batch. */
            p->nproducers = 0;
            reindex(p);
            p->producers_loaded = false;
            return rc;
        }
    }
    broker__producer_t *e = live(p, h->producer_id, now);
    if (!e)
        return 0; /* unknown producer: any sequence starts tracking */
    if (h->producer_epoch < e->epoch) {
        *why = "producer epoch is older than the current one";
        return HD_EFENCED;
    }
    if (h->producer_epoch > e->epoch) {
        if (h->base_sequence != 0) {
            *why = "a new producer epoch must start at sequence 0";
            return HD_ESEQUENCE;
        }
        return 0;
    }
    int32_t last = last_seq_of(h);
    for (int i = 0; i < e->n; i++) {
        const broker__pbatch_t *b = &e->b[i];
        if (b->first_seq == h->base_sequence && b->last_seq == last) {
            dup->base_offset = b->base_offset;
            dup->end_offset = b->end_offset;
            dup->duplicate = true;
            return 0;
        }
    }
    if (e->n == 0)
        return 0;
    const broker__pbatch_t *newest = &e->b[(e->head + e->n - 1) % BROKER_PRODUCER_BATCHES];
    int32_t expect = newest->last_seq == INT32_MAX ? 0 : newest->last_seq + 1;
    if (h->base_sequence != expect) {
        *why = "sequence number out of order";
        return HD_ESEQUENCE;
    }
    return 0;
}

void broker__producer_record(broker_partition_t *p, const broker_batch_hdr_t *h,
                             int64_t base_offset)
{
    int64_t now = hd_wall_ms();
    broker__producer_t *e = find(p, h->producer_id);
    if (!e) {
        e = add(p, h->producer_id, now);
    } else if (now - e->last_ms >= expiry_ms(p)) {
        e->n = e->head = 0; /* expired: tracked afresh from this batch */
        e->epoch = h->producer_epoch;
    }
    if (h->producer_epoch != e->epoch) {
        e->epoch = h->producer_epoch;
        e->n = 0;
        e->head = 0;
    }
    e->last_ms = now;
    push(e, h, base_offset);
}

void broker__producers_free(broker_partition_t *p)
{
    free(p->producers);
    p->producers = NULL;
    p->nproducers = p->cap_producers = 0;
    free(p->pidx);
    p->pidx = NULL;
    p->pidx_cap = 0;
}
