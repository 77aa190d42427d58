/* Topics and partitions: creation, loading at start, deletion, their definition files (the
 * settings themselves are in topic_config.c), appends (with recompression for a topic's
 * compression.type), DeleteRecords' log start, and the durable-offset waiters that Produce
 * (acks=all) and long-polling Fetch park on.
 *
 * On disk, under the data directory:
 *   cluster.id                 one line: the cluster id reported in Metadata (random, made once)
 *   producer_ids               one line "next=N": producer ids below N may have been handed out;
 *                              ids are reserved in blocks of 1000 so a restart never reuses one
 *   topics/<topic>.topic       the topic's definition, a properties file written atomically
 *                              (tmp + fsync + rename + fsync dir): `partitions=N` and one line per
 *                              config override (`retention.ms=...`)
 *   topics/<topic>-<n>/        partition n's log (see log/), and `log-start-offset` once
 *                              DeleteRecords moved the log start: one line "offset=N", written
 *                              atomically like the topic file; offsets below N are gone even
 *                              where their segment remains
 * A topic exists iff its .topic file exists; partition directories without one are removed at
 * start (a deletion or creation interrupted by a crash). */
#include "broker/broker_int.h"
#include "broker/topic_config.h"
#include "util/crc32c.h"
#include "util/err.h"
#include "util/fileio.h"
#include "util/mem.h"
#include "util/monotime.h"
#include "util/say.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define PID_BLOCK 1000
/* In a partition's directory: the log start offset DeleteRecords set ("offset=N"). */
#define LOG_START_FILE "log-start-offset"
/* Present only between a clean shutdown and the next start (see broker_open()). */
#define CLEAN_MARKER "clean-shutdown"

/* ---- small file helpers ---- */

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = hd_malloc(n);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

static int mkdir_p(const char *path)
{
    char *tmp = hd_strdup(path);
    for (char *s = tmp + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST) {
                int e = -errno;
                free(tmp);
                return e;
            }
            *s = '/';
        }
    }
    int rc = (mkdir(tmp, 0755) < 0 && errno != EEXIST) ? -errno : 0;
    free(tmp);
    return rc;
}

/* Reads a small file into a NUL-terminated heap string. */
static int read_small(const char *path, char **out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char buf[8192];
    ssize_t n = hd_io_pread_full(fd, buf, sizeof buf - 1, 0);
    close(fd);
    if (n < 0)
        return (int)n;
    buf[n] = '\0';
    *out = hd_strdup(buf);
    return 0;
}

/* Replaces `path` atomically and durably with `text`. */
static int write_atomic(const char *dir, const char *path, const char *text)
{
    size_t n = strlen(path) + 5;
    char *tmp = hd_malloc(n);
    snprintf(tmp, n, "%s.tmp", path);
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        goto fail;
    }
    rc = hd_io_pwrite_all(fd, text, strlen(text), 0);
    if (rc == 0)
        rc = hd_io.fdatasync(fd);
    close(fd);
    if (rc < 0)
        goto fail;
    if (rename(tmp, path) < 0) {
        rc = -errno;
        goto fail;
    }
    rc = hd_io_fsync_dir(dir);
fail:
    if (rc < 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

static int rm_rf(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *p = path_join(path, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rm_rf(p);
        else
            unlink(p);
        free(p);
    }
    closedir(d);
    return rmdir(path) < 0 ? -errno : 0;
}

char *broker__path_join(const char *a, const char *b) { return path_join(a, b); }
int broker__mkdir_p(const char *path) { return mkdir_p(path); }
int broker__read_small(const char *path, char **out) { return read_small(path, out); }
int broker__write_atomic(const char *dir, const char *path, const char *text)
{
    return write_atomic(dir, path, text);
}

/* ---- accessors ---- */

const char *broker_cluster_id(const broker_t *b) { return b->cluster_id; }

const hd_config_t *broker_config(const broker_t *b) { return b->cfg; }

int broker_topic_count(const broker_t *b) { return b->ntopics; }

broker_topic_t *broker_topic_at(broker_t *b, int i)
{
    return (i >= 0 && i < b->ntopics) ? b->topics[i] : NULL;
}

const char *broker_topic_name(const broker_topic_t *t) { return t->name; }

const uint8_t *broker_topic_id(const broker_topic_t *t) { return t->id; }

broker_topic_t *broker_topic_find_id(broker_t *b, const uint8_t id[16])
{
    for (int i = 0; i < b->ntopics; i++)
        if (!memcmp(b->topics[i]->id, id, 16))
            return b->topics[i];
    return NULL;
}

/* A random version-4 UUID, as Kafka's Uuid.randomUuid() makes them. */
static void random_topic_id(uint8_t id[16])
{
    if (getrandom(id, 16, 0) != 16) {
        uint64_t x = (uint64_t)hd_mono_ns() ^ (uint64_t)getpid() << 32;
        for (int i = 0; i < 16; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            id[i] = (uint8_t)x;
        }
    }
    id[6] = (uint8_t)((id[6] & 0x0f) | 0x40);
    id[8] = (uint8_t)((id[8] & 0x3f) | 0x80);
}

void broker_topic_id_hex(const uint8_t id[16], char out[33])
{
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", id[i]);
}

bool broker_topic_id_parse(const char *s, uint8_t id[16])
{
    if (strlen(s) != 32)
        return false;
    for (int i = 0; i < 16; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return false;
        id[i] = (uint8_t)v;
    }
    return true;
}

int32_t broker_topic_partitions(const broker_topic_t *t) { return t->nparts; }

broker_partition_t *broker_topic_partition(broker_topic_t *t, int32_t index)
{
    return (index >= 0 && index < t->nparts) ? t->parts[index] : NULL;
}

const broker_topic_config_t *broker_topic_config(const broker_topic_t *t) { return &t->cfg; }

int64_t broker_partition_hwm(const broker_partition_t *p)
{
    log_partition_t *l = broker__partition_log((broker_partition_t *)p);
    return l ? log_partition_durable_offset(l) : 0;
}

int64_t broker_partition_start(const broker_partition_t *p)
{
    log_partition_t *l = broker__partition_log((broker_partition_t *)p);
    if (!l)
        return 0;
    int64_t start = log_partition_start_offset(l);
    return p->log_start > start ? p->log_start : start;
}

int64_t broker_partition_end(const broker_partition_t *p)
{
    log_partition_t *l = broker__partition_log((broker_partition_t *)p);
    return l ? log_partition_end_offset(l) : 0;
}

broker_topic_t *broker_partition_topic(broker_partition_t *p) { return p->topic; }

int32_t broker_partition_index(const broker_partition_t *p) { return p->index; }

/* ---- topic configuration ---- */

bool broker_topic_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 249 || !strcmp(name, ".") || !strcmp(name, ".."))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

bool broker_topic_name_reserved(const char *name)
{
    static const char *const reserved[] = {"__consumer_offsets", "__transaction_state",
                                           "__share_group_state", "__cluster_metadata"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (!strcmp(name, reserved[i]))
            return true;
    return false;
}

/* ---- partitions and topics in memory ---- */

static char *partition_dir(broker_t *b, const char *topic, int32_t index)
{
    size_t n = strlen(b->topics_dir) + strlen(topic) + 16;
    char *p = hd_malloc(n);
    snprintf(p, n, "%s/%s-%" PRId32, b->topics_dir, topic, index);
    return p;
}

static char *topic_file(broker_t *b, const char *topic)
{
    size_t n = strlen(b->topics_dir) + strlen(topic) + 8;
    char *p = hd_malloc(n);
    snprintf(p, n, "%s/%s.topic", b->topics_dir, topic);
    return p;
}

log_partition_t *broker__partition_log(broker_partition_t *p)
{
    if (p->log)
        return p->log;
    log_config_t lc;
    broker__log_config_of(&p->topic->cfg, &lc);
    lc.journal = p->topic->broker->journal;
    int rc = log_partition_open(p->dir, &lc, &p->log);
    if (rc < 0) {
        p->log = NULL;
        say_warn_every(5, "partition %s: cannot open: %s", p->dir, hd_strerror(rc));
        return NULL;
    }
    /* The log start offset DeleteRecords moved, if it did. */
    char *file = path_join(p->dir, LOG_START_FILE);
    char *text = NULL;
    if (read_small(file, &text) == 0) {
        int64_t v = strncmp(text, "offset=", 7) ? -1 : strtoll(text + 7, NULL, 10);
        if (v < 0)
            say_warn("partition %s: ignoring a malformed %s", p->dir, LOG_START_FILE);
        p->log_start = v < 0 ? 0 : v;
        free(text);
    }
    free(file);
    return p->log;
}

int broker_partition_delete_records(broker_partition_t *p, int64_t offset, int64_t *low)
{
    log_partition_t *log = broker__partition_log(p);
    if (!log)
        return -EIO;
    int64_t hwm = broker_partition_hwm(p);
    if (offset == -1)
        offset = hwm;
    if (offset < 0 || offset > hwm)
        return HD_ERANGE;
    int64_t start = broker_partition_start(p);
    if (offset <= start) {
        *low = start;
        return 0;
    }
    char text[40];
    snprintf(text, sizeof text, "offset=%" PRId64 "\n", offset);
    char *file = path_join(p->dir, LOG_START_FILE);
    int rc = write_atomic(p->dir, file, text);
    free(file);
    if (rc < 0)
        return rc;
    p->log_start = offset;
    int n = log_partition_delete_before(log, offset);
    say_info("partition %s: log start moved to %" PRId64 " (%d segment(s) deleted)", p->dir, offset,
             n < 0 ? 0 : n);
    *low = offset;
    return 0;
}

/* Makes the partition; its log is opened now (`eager`, so that recovery runs at start) or on
 * first use. */
static int partition_open(broker_topic_t *t, int32_t index, bool eager, broker_partition_t **out)
{
    broker_partition_t *p = hd_calloc(1, sizeof *p);
    p->topic = t;
    p->index = index;
    p->dir = partition_dir(t->broker, t->name, index);
    if (eager && !broker__partition_log(p)) {
        say_error("partition %s: cannot open", p->dir);
        free(p->dir);
        free(p);
        return HD_ECORRUPT;
    }
    *out = p;
    return 0;
}

static void fire_all(broker_partition_t *p, int err)
{
    while (p->waiters) {
        broker_waiter_t *w = p->waiters;
        broker_waiter_cancel(w);
        w->cb(w, err);
    }
}

static void partition_free(broker_partition_t *p, bool destroy)
{
    if (!p)
        return;
    broker_t *b = p->topic->broker;
    fire_all(p, destroy ? HD_ENOTFOUND : HD_ECLOSED);
    if (destroy)
        log_partition_forget(p->log); /* a journal must not replay it into a new topic */
    log_partition_close(p->log);
    p->log = NULL;
    if (destroy)
        log_partition_destroy_dir(p->dir);
    broker__producers_free(p);
    free(p->dir);
    p->dir = NULL;
    if (b->firing) {
        /* A waiter's callback deleted the topic (a DeleteTopics queued behind the request it
         * answered): broker_on_durable() may still hold p, so it is freed after the firing. */
        p->dead = true;
        p->topic = NULL;
        p->grave_next = b->graveyard;
        b->graveyard = p;
        return;
    }
    free(p);
}

static void topic_free(broker_topic_t *t, bool destroy)
{
    broker_t *b = t->broker;
    /* Drop it from the active list before freeing partitions. */
    broker_partition_t **pp = &b->active;
    while (*pp) {
        if ((*pp)->topic == t) {
            (*pp)->active = false;
            *pp = (*pp)->active_next;
        } else {
            pp = &(*pp)->active_next;
        }
    }
    for (int32_t i = 0; i < t->nparts; i++)
        partition_free(t->parts[i], destroy);
    for (int i = 0; i < t->noverrides; i++) {
        free(t->override_names[i]);
        free(t->override_values[i]);
    }
    free(t->parts);
    free(t->name);
    free(t);
}

int broker__internal_topic_open(broker_t *b, const char *name, const char *dir,
                                const log_config_t *lc, broker_topic_t **out)
{
    broker_topic_t *t = hd_calloc(1, sizeof *t);
    t->broker = b;
    t->name = hd_strdup(name);
    t->internal = true;
    broker__topic_config_defaults(b->cfg, &t->cfg);
    broker_partition_t *p = hd_calloc(1, sizeof *p);
    p->topic = t;
    p->dir = hd_strdup(dir);
    log_config_t jlc = *lc;
    jlc.journal = b->journal;
    int rc = log_partition_open(p->dir, &jlc, &p->log);
    if (rc < 0) {
        say_error("partition %s: cannot open: %s", p->dir, hd_strerror(rc));
        free(p->dir);
        free(p);
        free(t->name);
        free(t);
        return rc;
    }
    t->nparts = 1;
    t->parts = hd_malloc(sizeof *t->parts);
    t->parts[0] = p;
    *out = t;
    return 0;
}

void broker__internal_topic_free(broker_topic_t *t)
{
    if (t)
        topic_free(t, false);
}

int broker_internal_log_open(broker_t *b, const char *name, broker_partition_t **out)
{
    size_t n = strlen(name);
    if (n < 3 || n > 64 || strncmp(name, "__", 2) || !strcmp(name, "__consumer_offsets"))
        return HD_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              name[i] == '_' || name[i] == '.' || name[i] == '-'))
            return HD_EINVAL;
    for (int i = 0; i < b->ninternal; i++)
        if (!strcmp(b->internal[i]->name, name)) {
            *out = b->internal[i]->parts[0];
            return 0;
        }
    char *dir = path_join(b->data_dir, name);
    log_config_t lc;
    log_config_defaults(&lc);
    lc.preallocate = false;
    broker_topic_t *t;
    int rc = broker__internal_topic_open(b, name, dir, &lc, &t);
    free(dir);
    if (rc < 0)
        return rc;
    t->cfg.max_message_bytes = BROKER_INTERNAL_MAX_BATCH;
    t->cfg.log_append_time = false;
    b->internal = hd_realloc(b->internal, sizeof *b->internal * (size_t)(b->ninternal + 1));
    b->internal[b->ninternal++] = t;
    *out = t->parts[0];
    return 0;
}

int broker_internal_open(broker_t *b, const char *relpath, int64_t segment_bytes,
                         broker_partition_t **out)
{
    if (strncmp(relpath, "__", 2) || strstr(relpath, "..") || strstr(relpath, "//") ||
        !strncmp(relpath, "__consumer_offsets", 18))
        return HD_EINVAL;
    char *dir = path_join(b->data_dir, relpath);
    int rc = mkdir_p(dir);
    if (rc < 0) {
        free(dir);
        return rc;
    }
    log_config_t lc;
    log_config_defaults(&lc);
    lc.segment_bytes = segment_bytes;
    lc.preallocate = false;
    broker_topic_t *t;
    rc = broker__internal_topic_open(b, relpath, dir, &lc, &t);
    free(dir);
    if (rc < 0)
        return rc;
    *out = t->parts[0];
    return 0;
}

void broker_internal_close(broker_partition_t *p, bool destroy)
{
    if (p)
        topic_free(p->topic, destroy);
}

int broker_internal_append(broker_partition_t *p, uint8_t *batch, size_t len, int64_t *end)
{
    if (len < BROKER_BATCH_HEADER_LEN)
        return HD_EMALFORMED;
    broker_batch_hdr_t h;
    broker_batch_hdr_decode(batch, &h);
    int64_t base;
    int rc = log_partition_append(p->log, batch, len, &base);
    if (rc < 0)
        return rc;
    *end = base + h.last_offset_delta + 1;
    log_flusher_mark_dirty(p->topic->broker->flusher, p->log);
    return 0;
}

int broker_internal_delete_before(broker_partition_t *p, int64_t offset)
{
    return log_partition_delete_before(p->log, offset);
}

static void topics_push(broker_t *b, broker_topic_t *t)
{
    if (b->ntopics == b->cap_topics) {
        b->cap_topics = b->cap_topics ? b->cap_topics * 2 : 16;
        b->topics = hd_realloc(b->topics, (size_t)b->cap_topics * sizeof *b->topics);
    }
    b->topics[b->ntopics++] = t;
    b->topics_gen++;
    hd_strmap_put(&b->topic_index, t->name, t);
}

broker_topic_t *broker_topic_find(broker_t *b, const char *name)
{
    return hd_strmap_get(&b->topic_index, name);
}

/* Text of the .topic file: the partition count, the topic id and the overrides. */
static char *topic_file_text(const broker_topic_t *t, int32_t partitions)
{
    hd_buf_t out;
    hd_buf_init(&out);
    char line[512], hex[33];
    broker_topic_id_hex(t->id, hex);
    int n = snprintf(line, sizeof line,
                     "# herald topic definition\npartitions=%" PRId32 "\ntopic.id=%s\n", partitions,
                     hex);
    hd_buf_put(&out, line, (size_t)n);
    for (int i = 0; i < t->noverrides; i++) {
        hd_buf_put(&out, t->override_names[i], strlen(t->override_names[i]));
        hd_buf_put_u8(&out, '=');
        hd_buf_put(&out, t->override_values[i], strlen(t->override_values[i]));
        hd_buf_put_u8(&out, '\n');
    }
    hd_buf_put_u8(&out, '\0');
    return (char *)out.p;
}

int broker__topic_save(broker_t *b, const broker_topic_t *t, int32_t partitions)
{
    char *text = topic_file_text(t, partitions);
    char *file = topic_file(b, t->name);
    int rc = write_atomic(b->topics_dir, file, text);
    free(text);
    free(file);
    return rc;
}

/* Builds a topic (no files) from its definition. */
static int topic_define(broker_t *b, const char *name, const broker_config_kv_t *configs,
                        int nconfigs, broker_topic_t **out, const char **why)
{
    if (nconfigs > BROKER_MAX_OVERRIDES) {
        *why = "too many config overrides";
        return HD_EINVAL;
    }
    broker_topic_t *t = hd_calloc(1, sizeof *t);
    t->broker = b;
    t->name = hd_strdup(name);
    broker__topic_config_defaults(b->cfg, &t->cfg);
    for (int i = 0; i < nconfigs; i++) {
        int rc = broker__topic_config_set(&t->cfg, configs[i].name, configs[i].value, why);
        if (rc < 0) {
            topic_free(t, false);
            return rc;
        }
        int k = 0;
        while (k < t->noverrides && strcmp(t->override_names[k], configs[i].name))
            k++;
        if (k == t->noverrides) {
            t->override_names[t->noverrides++] = hd_strdup(configs[i].name);
        } else {
            free(t->override_values[k]);
        }
        t->override_values[k] = hd_strdup(configs[i].value);
    }
    *out = t;
    return 0;
}

static int topic_open_partitions(broker_topic_t *t, int32_t from, int32_t to, bool eager)
{
    t->parts = hd_realloc(t->parts, (size_t)to * sizeof *t->parts);
    for (int32_t i = from; i < to; i++) {
        int rc = partition_open(t, i, eager, &t->parts[i]);
        if (rc < 0) {
            for (int32_t k = from; k < i; k++)
                partition_free(t->parts[k], false);
            return rc;
        }
    }
    t->nparts = to;
    return 0;
}

int broker_topic_create(broker_t *b, const char *name, int32_t partitions,
                        const broker_config_kv_t *configs, int nconfigs, bool validate_only,
                        broker_topic_t **out, const char **why)
{
    if (!broker_topic_name_valid(name)) {
        *why = "topic names use [a-zA-Z0-9._-], 1 to 249 characters, not '.' or '..'";
        return HD_EINVAL;
    }
    if (broker_topic_name_reserved(name)) {
        *why = "the name is reserved for an internal topic";
        return HD_EINVAL;
    }
    if (broker_topic_find(b, name)) {
        *why = "topic already exists";
        return HD_EEXIST;
    }
    if (partitions < 1 || partitions > 100000) {
        *why = "partition count must be between 1 and 100000";
        return HD_ERANGE;
    }
    int rc = broker_fd_budget(b, partitions, why);
    if (rc < 0)
        return rc;
    broker_topic_t *t;
    rc = topic_define(b, name, configs, nconfigs, &t, why);
    if (rc < 0)
        return rc;
    if (validate_only) {
        topic_free(t, false);
        return 0;
    }
    random_topic_id(t->id);
    rc = broker__topic_save(b, t, partitions);
    if (rc == 0) {
        rc = topic_open_partitions(t, 0, partitions, false);
        if (rc < 0) {
            char *file = topic_file(b, name);
            unlink(file);
            free(file);
        }
    }
    if (rc < 0) {
        *why = "storage error creating the topic";
        topic_free(t, false);
        return rc;
    }
    topics_push(b, t);
    broker__precreate_start(b, t);
    if (SAY_INFO <= say_level) {
        char np[16];
        snprintf(np, sizeof np, "%" PRId32, partitions);
        say_kv(SAY_INFO, "topic created", "topic", name, "partitions", np);
    }
    if (out)
        *out = t;
    return 0;
}

int broker_topic_delete(broker_t *b, const char *name)
{
    broker_topic_t *t = hd_strmap_get(&b->topic_index, name);
    if (!t)
        return HD_ENOTFOUND;
    char *file = topic_file(b, name);
    int rc = unlink(file) < 0 ? -errno : 0;
    free(file);
    if (rc < 0)
        return rc;
    hd_io_fsync_dir(b->topics_dir);
    int i = 0;
    while (b->topics[i] != t)
        i++;
    b->topics[i] = b->topics[--b->ntopics];
    b->topics_gen++;
    hd_strmap_del(&b->topic_index, t->name);
    /* name may be t->name: the offsets go first, while it is still valid. */
    broker__offsets_drop_topic(b, name);
    say_kv(SAY_INFO, "topic deleted", "topic", name);
    broker__precreate_topic_gone(t); /* before its directories are removed */
    topic_free(t, true);
    return 0;
}

int broker_topic_add_partitions(broker_t *b, broker_topic_t *t, int32_t total, bool validate_only,
                                const char **why)
{
    if (total <= t->nparts) {
        *why = "the new partition count must be larger than the current one";
        return HD_EINVAL;
    }
    if (total > 100000) {
        *why = "partition count must be at most 100000";
        return HD_EINVAL;
    }
    int rc = broker_fd_budget(b, total - t->nparts, why);
    if (rc < 0 || validate_only)
        return rc;
    /* Rewrite the definition with the new count, keeping the overrides. */
    rc = broker__topic_save(b, t, total);
    if (rc == 0)
        rc = topic_open_partitions(t, t->nparts, total, false);
    if (rc < 0) {
        *why = "storage error adding partitions";
        return rc;
    }
    say_info("topic %s: now %" PRId32 " partitions", t->name, total);
    return 0;
}

/* Loads topics/<name>.topic. */
static int topic_load(broker_t *b, const char *name)
{
    char *file = topic_file(b, name);
    char *text = NULL;
    int rc = read_small(file, &text);
    free(file);
    if (rc < 0)
        return rc;
    int32_t parts = 0;
    uint8_t id[16];
    bool has_id = false;
    broker_config_kv_t kv[BROKER_MAX_OVERRIDES];
    int nkv = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (*line == '#' || *line == '\0')
            continue;
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        if (!strcmp(line, "partitions"))
            parts = (int32_t)atoi(eq + 1);
        else if (!strcmp(line, "topic.id"))
            has_id = broker_topic_id_parse(eq + 1, id);
        else if (nkv < BROKER_MAX_OVERRIDES)
            kv[nkv++] = (broker_config_kv_t){line, eq + 1};
    }
    const char *why = "";
    broker_topic_t *t = NULL;
    if (parts < 1) {
        say_error("topic %s: definition has no valid partition count; skipped", name);
        rc = HD_ECORRUPT;
    } else {
        rc = topic_define(b, name, kv, nkv, &t, &why);
        if (rc < 0)
            say_error("topic %s: bad definition (%s); skipped", name, why);
    }
    if (rc == 0 && has_id) {
        memcpy(t->id, id, 16);
    } else if (rc == 0) {
        /* A definition written before topics had ids: give it one, kept from now on. */
        random_topic_id(t->id);
        if (broker__topic_save(b, t, parts) < 0)
            say_warn("topic %s: could not store its new topic id", name);
    }
    if (rc == 0) {
        rc = topic_open_partitions(t, 0, parts, !b->clean_start);
        if (rc < 0)
            topic_free(t, false);
        else
            topics_push(b, t);
    }
    free(text);
    return rc;
}

/* Removes partition directories whose topic has no definition. */
static void sweep_orphans(broker_t *b)
{
    DIR *d = opendir(b->topics_dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *dash = strrchr(e->d_name, '-');
        if (e->d_name[0] == '.' || !dash || strstr(e->d_name, ".topic"))
            continue;
        char *topic = hd_strndup(e->d_name, (size_t)(dash - e->d_name));
        char *idx_end;
        long idx = strtol(dash + 1, &idx_end, 10);
        broker_topic_t *t = broker_topic_find(b, topic);
        if (*idx_end == '\0' && (!t || idx >= t->nparts)) {
            char *p = path_join(b->topics_dir, e->d_name);
            say_warn("partition directory %s has no topic definition; removing", e->d_name);
            rm_rf(p);
            free(p);
        }
        free(topic);
    }
    closedir(d);
}

static int load_cluster_id(broker_t *b)
{
    char *path = path_join(b->data_dir, "cluster.id");
    char *text = NULL;
    int rc = read_small(path, &text);
    if (rc == 0) {
        size_t n = strcspn(text, "\r\n");
        if (n > 0 && n < sizeof b->cluster_id) {
            memcpy(b->cluster_id, text, n);
            b->cluster_id[n] = '\0';
        } else {
            rc = HD_ECORRUPT;
        }
        free(text);
    }
    if (rc < 0) {
        static const char alphabet[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        uint8_t raw[22];
        if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
            for (size_t i = 0; i < sizeof raw; i++)
                raw[i] = (uint8_t)(hd_mono_ns() >> (i % 8));
        }
        for (size_t i = 0; i < sizeof raw; i++)
            b->cluster_id[i] = alphabet[raw[i] & 63];
        b->cluster_id[sizeof raw] = '\0';
        char line[64];
        snprintf(line, sizeof line, "%s\n", b->cluster_id);
        rc = write_atomic(b->data_dir, path, line);
    }
    free(path);
    return rc;
}

static int reserve_pids(broker_t *b)
{
    char *path = path_join(b->data_dir, "producer_ids");
    char line[64];
    snprintf(line, sizeof line, "next=%" PRId64 "\n", b->pid_limit + PID_BLOCK);
    int rc = write_atomic(b->data_dir, path, line);
    free(path);
    if (rc == 0)
        b->pid_limit += PID_BLOCK;
    return rc;
}

int broker_producer_id_next(broker_t *b, int64_t *pid)
{
    if (b->next_pid >= b->pid_limit) {
        int rc = reserve_pids(b);
        if (rc < 0)
            return rc;
    }
    *pid = b->next_pid++;
    return 0;
}

static int load_pids(broker_t *b)
{
    char *path = path_join(b->data_dir, "producer_ids");
    char *text = NULL;
    int64_t next = 1000;
    if (read_small(path, &text) == 0) {
        if (strncmp(text, "next=", 5) == 0)
            next = strtoll(text + 5, NULL, 10);
        free(text);
    }
    free(path);
    if (next < 1000)
        next = 1000;
    /* The first InitProducerId reserves a block (one small fsync); start-up writes nothing. */
    b->next_pid = b->pid_limit = next;
    return 0;
}

int broker_open(const hd_config_t *cfg, void (*notify)(void *ctx), void *notify_ctx, broker_t **out)
{
    broker_t *b = hd_calloc(1, sizeof *b);
    hd_strmap_init(&b->topic_index);
    hd_strmap_init(&b->group_index);
    b->cfg = cfg;
    b->data_dir = hd_strdup(cfg->data_dir);
    b->topics_dir = path_join(cfg->data_dir, "topics");
    hd_buf_init(&b->scratch);
    hd_buf_init(&b->zbuf);
    int rc = mkdir_p(b->topics_dir);
    if (rc < 0) {
        say_error("data dir %s: cannot create: %s", cfg->data_dir, hd_strerror(rc));
        goto fail;
    }
    if ((rc = load_cluster_id(b)) < 0 || (rc = load_pids(b)) < 0) {
        say_error("data dir %s: cannot write metadata: %s", cfg->data_dir, hd_strerror(rc));
        goto fail;
    }
    if (cfg->journal) {
        /* Replays the journal into the partitions before anything else opens them. */
        log_journal_config_t jc = {cfg->journal_file_bytes, cfg->checkpoint_interval_ms,
                                   cfg->checkpoint_interval_bytes, cfg->journal_direct_bytes};
        if ((rc = log_journal_open(b->data_dir, &jc, &b->journal)) < 0)
            goto fail;
    }
    b->notify = notify;
    b->notify_ctx = notify_ctx;
    rc = log_flusher_start(notify, notify_ctx, &b->flusher);
    if (rc < 0)
        goto fail;
    if (b->journal)
        log_flusher_set_journal(b->flusher, b->journal);
    /* After a clean shutdown every partition log is whole, so logs are opened on first use and
     * start-up does not depend on the number of partitions. After a crash all are opened (and
     * recovered) now. The marker is removed before anything else is written. */
    char *marker = path_join(b->data_dir, CLEAN_MARKER);
    b->clean_start = unlink(marker) == 0;
    free(marker);
    if (b->clean_start)
        hd_io_fsync_dir(b->data_dir);
    DIR *d = opendir(b->topics_dir);
    if (!d) {
        rc = -errno;
        goto fail;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 6 && !strcmp(e->d_name + n - 6, ".topic")) {
            char *name = hd_strndup(e->d_name, n - 6);
            if (broker_topic_name_valid(name))
                topic_load(b, name);
            free(name);
        }
    }
    closedir(d);
    sweep_orphans(b);
    if ((rc = broker__offsets_open(b)) < 0)
        goto fail;
    b->open_ok = true;
    *out = b;
    return 0;
fail:
    broker_close(b);
    return rc;
}

typedef struct log_list {
    log_partition_t **v;
    size_t n, cap;
} log_list_t;

/* Moves p's open log (if any) to l: the partition is then freed without closing a log. */
static void take_log(log_list_t *l, broker_partition_t *p)
{
    if (!p || !p->log)
        return;
    if (l->n == l->cap)
        l->v = hd_realloc(l->v, (l->cap = l->cap ? 2 * l->cap : 16) * sizeof *l->v);
    l->v[l->n++] = p->log;
    p->log = NULL;
}

/* Closes every open log with one syncfs rather than syncs per file (seconds with 1,000 active
 * partitions). */
static void close_logs(broker_t *b)
{
    log_list_t l = {0};
    for (int i = 0; i < b->ntopics; i++)
        for (int32_t k = 0; k < b->topics[i]->nparts; k++) {
            /* The log end the snapshot records must be final: the flusher has stopped. */
            broker__producers_save(b->topics[i]->parts[k]);
            take_log(&l, b->topics[i]->parts[k]);
        }
    for (int32_t i = 0; b->offsets_topic && i < b->offsets_topic->nparts; i++)
        take_log(&l, b->offsets_topic->parts[i]);
    for (int i = 0; i < b->ninternal; i++)
        take_log(&l, b->internal[i]->parts[0]);
    log_partition_close_many(l.v, l.n);
    free(l.v);
}

void broker_close(broker_t *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->ntopics; i++)
        for (int32_t k = 0; k < b->topics[i]->nparts; k++)
            fire_all(b->topics[i]->parts[k], HD_ECLOSED);
    for (int32_t i = 0; b->offsets_topic && i < b->offsets_topic->nparts; i++)
        fire_all(b->offsets_topic->parts[i], HD_ECLOSED);
    for (int i = 0; i < b->ninternal; i++)
        fire_all(b->internal[i]->parts[0], HD_ECLOSED);
    broker__groups_free(b);
    broker__precreate_stop(b);
    /* The flusher's final round syncs everything; closing the logs then marks them clean. */
    if (b->flusher)
        log_flusher_stop(b->flusher);
    close_logs(b);
    for (int i = 0; i < b->ntopics; i++)
        topic_free(b->topics[i], false);
    broker__offsets_close(b);
    for (int i = 0; i < b->ninternal; i++)
        topic_free(b->internal[i], false);
    free(b->internal);
    log_journal_close(b->journal); /* after every log is closed */
    if (b->open_ok) {
        /* Every log is closed (and marked clean by log/): the next start may open lazily. */
        char *marker = path_join(b->data_dir, CLEAN_MARKER);
        int fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
            hd_io.fdatasync(fd);
            close(fd);
            hd_io_fsync_dir(b->data_dir);
        }
        free(marker);
    }
    free(b->topics);
    hd_strmap_deinit(&b->topic_index);
    hd_buf_deinit(&b->scratch);
    hd_buf_deinit(&b->zbuf);
    free(b->data_dir);
    free(b->topics_dir);
    free(b);
}

/* ---- produce, read ---- */

static void set_log_append_time(uint8_t *batch, size_t len, int64_t now)
{
    uint16_t attr = (uint16_t)(((uint16_t)batch[21] << 8) | batch[22]);
    attr |= BROKER_ATTR_LOG_APPEND_TIME;
    batch[21] = (uint8_t)(attr >> 8);
    batch[22] = (uint8_t)attr;
    for (int i = 0; i < 8; i++)
        batch[35 + i] = (uint8_t)((uint64_t)now >> (56 - 8 * i));
    uint32_t crc = hd_crc32c(0, batch + 21, len - 21);
    for (int i = 0; i < 4; i++)
        batch[17 + i] = (uint8_t)(crc >> (24 - 8 * i));
}

void broker_set_append_observer(broker_t *b, broker_append_observer_fn fn, void *ctx)
{
    b->append_observer = fn;
    b->append_observer_ctx = ctx;
}

int broker_partition_append(broker_partition_t *p, uint8_t *batch, size_t len, int16_t api_version,
                            broker_append_t *res, const char **why)
{
    return broker_partition_append_as(p, batch, len, api_version, NULL, res, why);
}

size_t broker_append_max_inflated(const broker_partition_t *p)
{
    return (size_t)p->topic->cfg.max_message_bytes * 16 + (1 << 20);
}

/* What an append checks of the batch. */
typedef enum {
    APPEND_PRODUCED, /* a producer's batch: checked in full */
    APPEND_CHECKED,  /* a producer's batch the caller checked in full */
    APPEND_KEPT,     /* the broker's own batch of some of a producer's records (gaps allowed) */
} append_kind_t;

static int append(broker_partition_t *p, uint8_t *batch, size_t len, int16_t api_version,
                  const char *client_id, append_kind_t kind, broker_append_t *res,
                  const char **why);

void broker_appends_begin(broker_t *b)
{
    if (b->flusher)
        log_flusher_hold(b->flusher);
}

void broker_appends_end(broker_t *b)
{
    if (b->flusher)
        log_flusher_release(b->flusher);
}

void broker_partition_prefetch(const broker_partition_t *p, int level)
{
    if (!p)
        return;
    if (level == 0) {
        __builtin_prefetch(p, 1);
        __builtin_prefetch((const char *)p + 64, 1);
        return;
    }
    if (!p->log) /* opened at the first append */
        return;
    log_partition_prefetch(p->log, level - 1);
    if (level == 1 && p->pidx)
        __builtin_prefetch(p->pidx, 0);
    if (level == 2 && p->producers)
        __builtin_prefetch(p->producers, 1);
}

int broker_partition_append_as(broker_partition_t *p, uint8_t *batch, size_t len,
                               int16_t api_version, const char *client_id, broker_append_t *res,
                               const char **why)
{
    return append(p, batch, len, api_version, client_id, APPEND_PRODUCED, res, why);
}

int broker_partition_append_checked(broker_partition_t *p, uint8_t *batch, size_t len,
                                    int16_t api_version, const char *client_id,
                                    broker_append_t *res, const char **why)
{
    return append(p, batch, len, api_version, client_id, APPEND_CHECKED, res, why);
}

int broker_partition_append_kept(broker_partition_t *p, uint8_t *batch, size_t len,
                                 int16_t api_version, const char *client_id, broker_append_t *res,
                                 const char **why)
{
    return append(p, batch, len, api_version, client_id, APPEND_KEPT, res, why);
}

int broker_partition_producer_check(broker_partition_t *p, const broker_batch_hdr_t *h,
                                    broker_append_t *dup, const char **why)
{
    dup->duplicate = false;
    if (h->producer_id < 0)
        return 0;
    return broker__producer_check(p, h, dup, why);
}

static int append(broker_partition_t *p, uint8_t *batch, size_t len, int16_t api_version,
                  const char *client_id, append_kind_t kind, broker_append_t *res, const char **why)
{
    const broker_topic_config_t *tc = &p->topic->cfg;
    res->duplicate = false;
    res->log_append_time = -1;
    if ((int64_t)len > tc->max_message_bytes) {
        *why = "record batch is larger than max.message.bytes";
        return HD_ETOOBIG;
    }
    broker_batch_hdr_t h;
    /* Records are checked in full (inflating compressed ones) so that nothing a consumer cannot
     * parse is ever stored. The inflated size is bounded to stop decompression bombs. */
    size_t max_inflated = broker_append_max_inflated(p);
    int rc = 0;
    if (kind == APPEND_CHECKED)
        broker_batch_hdr_decode(batch, &h);
    else if (kind == APPEND_KEPT)
        rc = broker_batch_validate_kept(hd_slice(batch, len), max_inflated, &h, why);
    else
        rc = broker_batch_validate(hd_slice(batch, len), true, max_inflated, &h, why);
    if (rc < 0)
        return rc;
    if ((h.attributes & BROKER_ATTR_CODEC_MASK) == BROKER_CODEC_ZSTD && api_version < 7) {
        *why = "zstd needs Produce version 7 or later";
        return HD_EUNSUPPORTED;
    }
    if (h.attributes & BROKER_ATTR_TRANSACTIONAL) {
        *why = "transactional batches are not supported";
        return HD_EMALFORMED;
    }
    if (h.producer_id >= 0) {
        rc = broker__producer_check(p, &h, res, why);
        if (rc < 0 || res->duplicate)
            return rc;
    }
    if (tc->compression >= 0 && (h.attributes & BROKER_ATTR_CODEC_MASK) != tc->compression &&
        h.records_count > 0) {
        /* The topic's compression.type: the batch is stored with that codec instead. Producer
         * fields stay, so the sequence bookkeeping below is unchanged. An empty batch (a kept
         * batch of no record) has nothing to compress. */
        broker_t *b = p->topic->broker;
        b->zbuf.len = 0;
        rc = broker_batch_recompress(hd_slice(batch, len), tc->compression, max_inflated,
                                     &b->scratch, &b->zbuf);
        if (rc < 0) {
            *why = "records could not be recompressed with the topic's compression.type";
            return rc == HD_ETOOBIG ? rc : HD_EMALFORMED;
        }
        if ((int64_t)b->zbuf.len > tc->max_message_bytes) {
            *why = "record batch is larger than max.message.bytes once recompressed";
            return HD_ETOOBIG;
        }
        batch = b->zbuf.p;
        len = b->zbuf.len;
        broker_batch_hdr_decode(batch, &h); /* the header as stored, for the observer */
    }
    if (tc->log_append_time) {
        res->log_append_time = hd_wall_ms();
        set_log_append_time(batch, len, res->log_append_time);
    }
    int64_t base;
    log_partition_t *log = broker__partition_log(p);
    rc = log ? log_partition_append(log, batch, len, &base) : -EIO;
    if (rc < 0) {
        say_warn_every(5, "partition %s: append failed: %s", p->dir, hd_strerror(rc));
        *why = "storage error";
        return rc;
    }
    if (h.producer_id >= 0)
        broker__producer_record(p, &h, base);
    res->base_offset = base;
    /* The batch's offsets end at its lastOffsetDelta, not its count: a kept batch has gaps. */
    res->end_offset = base + h.last_offset_delta + 1;
    p->topic->stats.records_in += (uint64_t)h.records_count;
    p->topic->stats.bytes_in += len;
    broker_t *b = p->topic->broker;
    log_flusher_mark_dirty(b->flusher, log);
    if (b->append_observer && !p->topic->internal)
        b->append_observer(b->append_observer_ctx, p, hd_slice(batch, len), &h, client_id);
    return 0;
}

ssize_t broker_partition_read_quiet(broker_partition_t *p, int64_t offset, size_t max_bytes,
                                    hd_buf_t *out)
{
    int64_t hwm = broker_partition_hwm(p);
    if (offset < broker_partition_start(p) || offset > hwm)
        return HD_ERANGE;
    if (offset == hwm)
        return 0;
    log_partition_t *log = broker__partition_log(p);
    return log ? log_partition_read(log, offset, hwm, max_bytes, out) : -EIO;
}

void broker_topic_count_out(broker_topic_t *t, uint64_t records, uint64_t bytes)
{
    t->stats.records_out += records;
    t->stats.bytes_out += bytes;
}

ssize_t broker_partition_read(broker_partition_t *p, int64_t offset, size_t max_bytes,
                              hd_buf_t *out)
{
    int64_t hwm = broker_partition_hwm(p);
    if (offset < broker_partition_start(p) || offset > hwm)
        return HD_ERANGE;
    if (offset == hwm)
        return 0;
    log_partition_t *log = broker__partition_log(p);
    size_t before = out->len;
    ssize_t n = log ? log_partition_read(log, offset, hwm, max_bytes, out) : -EIO;
    if (n > 0) {
        /* Count what goes out: the bytes, and the records of every whole batch read. */
        broker_topic_stats_t *st = &p->topic->stats;
        st->bytes_out += (uint64_t)n;
        size_t pos = before;
        while (pos + BROKER_BATCH_HEADER_LEN <= out->len) {
            broker_batch_hdr_t h;
            broker_batch_hdr_decode(out->p + pos, &h);
            if (h.batch_length <= 0 || h.records_count < 0)
                break;
            st->records_out += (uint64_t)h.records_count;
            pos += (size_t)h.batch_length + 12;
        }
    }
    return n;
}

void broker_topic_stats(const broker_topic_t *t, broker_topic_stats_t *out) { *out = t->stats; }

int64_t broker_partition_size_bytes(const broker_partition_t *p)
{
    log_partition_t *log = broker__partition_log((broker_partition_t *)p);
    return log ? log_partition_size_bytes(log) : 0;
}

const hd_hist_t *broker_sync_hist(const broker_t *b)
{
    return b->flusher ? log_flusher_sync_hist(b->flusher) : NULL;
}

int broker_partition_error(const broker_partition_t *p)
{
    return p->log ? log_partition_error(p->log) : 0;
}

bool broker_journal_stats(const broker_t *b, log_journal_stats_t *out)
{
    if (!b->journal)
        return false;
    log_journal_stats(b->journal, out);
    return true;
}

typedef struct time_find {
    int64_t ts;
    int64_t min_offset; /* the log start: records below it are gone */
    int64_t offset;
    int64_t timestamp;
} time_find_t;

static int time_find_cb(void *ctx, const broker_record_t *rec)
{
    time_find_t *tf = ctx;
    if (rec->timestamp >= tf->ts && rec->offset >= tf->min_offset) {
        tf->offset = rec->offset;
        tf->timestamp = rec->timestamp;
        return 1;
    }
    return 0;
}

int broker_partition_offset_for_time(broker_partition_t *p, int64_t ts, int64_t *offset,
                                     int64_t *timestamp)
{
    log_partition_t *log = broker__partition_log(p);
    if (!log)
        return -EIO;
    hd_buf_t batch;
    hd_buf_init(&batch);
    int64_t base;
    /* The first batch whose max timestamp reaches ts holds the answer: its first record at or
     * after ts. */
    int rc = log_partition_find_time(log, ts, broker_partition_hwm(p), &base, &batch);
    if (rc == 0) {
        time_find_t tf = {ts, broker_partition_start(p), -1, -1};
        if (broker_batch_for_each(hd_buf_slice(&batch), 256u << 20, &p->topic->broker->scratch,
                                  time_find_cb, &tf) == 1) {
            *offset = tf.offset;
            *timestamp = tf.timestamp;
        } else {
            /* Records that cannot be read one by one: the batch header's answer. */
            broker_batch_hdr_t h;
            broker_batch_hdr_decode(batch.p, &h);
            int64_t start = broker_partition_start(p);
            *offset = h.base_offset < start ? start : h.base_offset;
            *timestamp = h.max_timestamp;
        }
    }
    hd_buf_deinit(&batch);
    return rc;
}

int broker_partition_offset_for_max_time(broker_partition_t *p, int64_t *offset, int64_t *timestamp)
{
    log_partition_t *log = broker__partition_log(p);
    if (!log)
        return -EIO;
    int64_t max_ts;
    int rc = log_partition_max_time(log, broker_partition_hwm(p), &max_ts);
    if (rc < 0)
        return rc;
    /* The first record whose timestamp reaches the largest one is that record. */
    return broker_partition_offset_for_time(p, max_ts, offset, timestamp);
}

/* ---- waiters ---- */

static void activate(broker_partition_t *p)
{
    if (p->active)
        return;
    broker_t *b = p->topic->broker;
    p->active = true;
    p->active_next = b->active;
    b->active = p;
}

/* Links w at the head of p's waiters. */
static void link_head(broker_partition_t *p, broker_waiter_t *w)
{
    w->_part = p;
    w->_prev = NULL;
    w->_next = p->waiters;
    if (p->waiters)
        p->waiters->_prev = w;
    p->waiters = w;
}

void broker_waiter_add(broker_partition_t *p, broker_waiter_t *w)
{
    if (broker_partition_hwm(p) >= w->target) {
        w->_part = NULL;
        w->cb(w, 0);
        return;
    }
    link_head(p, w);
    activate(p);
}

void broker_waiter_cancel(broker_waiter_t *w)
{
    broker_partition_t *p = w->_part;
    if (!p)
        return;
    if (w->_prev)
        w->_prev->_next = w->_next;
    else
        p->waiters = w->_next;
    if (w->_next)
        w->_next->_prev = w->_prev;
    w->_part = NULL;
    w->_next = w->_prev = NULL;
}

static void cursor_cb(broker_waiter_t *w, int err)
{
    (void)w;
    (void)err;
}

static void link_after(broker_waiter_t *at, broker_waiter_t *w)
{
    w->_part = at->_part;
    w->_prev = at;
    w->_next = at->_next;
    if (at->_next)
        at->_next->_prev = w;
    at->_next = w;
}

/* Fires every waiter of p with target <= hwm, in one pass. A callback may cancel or add
 * waiters anywhere in the list, or delete the partition (see partition_free), so the walk keeps
 * its place with a cursor linked into the list itself: cancelling a neighbour of the cursor
 * relinks it like any waiter, and waiters added during the walk go in at the head, behind it.
 * (Rescanning from the head after each callback cost O(waiters) per due waiter.) */
static void fire_due(broker_partition_t *p, int64_t hwm)
{
    broker_waiter_t cur = {.target = INT64_MAX, .cb = cursor_cb};
    link_head(p, &cur);
    for (;;) {
        broker_waiter_t *w = cur._next;
        while (w && w->target > hwm)
            w = w->_next;
        if (!w)
            break;
        broker_waiter_cancel(&cur);
        link_after(w, &cur);
        broker_waiter_cancel(w);
        w->cb(w, 0);
        if (p->dead)
            return; /* the cursor went with the other waiters (fire_all) */
        /* Only fire_all unlinks the cursor, and p is dead by then; should that ever change,
         * start over from the head. */
        if (!cur._part)
            link_head(p, &cur);
    }
    broker_waiter_cancel(&cur);
}

void broker_on_durable(broker_t *b)
{
    broker__precreate_drain(b);
    broker_partition_t *list = b->active;
    b->active = NULL;
    b->firing++;
    while (list) {
        broker_partition_t *p = list;
        list = p->active_next;
        p->active = false;
        if (p->dead)
            continue;
        fire_due(p, broker_partition_hwm(p));
        if (!p->dead && p->waiters)
            activate(p);
    }
    if (--b->firing == 0)
        while (b->graveyard) {
            broker_partition_t *p = b->graveyard;
            b->graveyard = p->grave_next;
            free(p);
        }
}

void broker_run_retention(broker_t *b, int64_t now_ms)
{
    for (int i = 0; i < b->ntopics; i++) {
        broker_topic_t *t = b->topics[i];
        for (int32_t k = 0; k < t->nparts; k++) {
            log_partition_t *log = broker__partition_log(t->parts[k]);
            int n = log ? log_partition_apply_retention(log, now_ms) : 0;
            if (n > 0)
                say_info("partition %s: retention removed %d segment(s), log start now %" PRId64,
                         t->parts[k]->dir, n, log_partition_start_offset(log));
        }
    }
}
