/* The event catalog: which event types flow through each topic, who produces them and who
 * consumes them. Built in memory from the traffic itself (nothing is stored: after a restart
 * it fills again as records arrive).
 *
 * Every appended batch reaches observe_batch() through the broker's append observer, on the
 * loop thread. Each record is classified by a scan of its header area and the first bytes of
 * its value, without allocating:
 *   - a "ce_type" header: a binary-mode CloudEvent of that type;
 *   - a "content-type" header starting "application/cloudevents+json": a structured-mode
 *     CloudEvent; the type is the top-level "type" member of the JSON value (its raw text
 *     between the quotes; escapes are not decoded);
 *   - a value of at least 5 bytes starting with byte 0: the Confluent wire format, whose next 4
 *     bytes are the registry schema id (big-endian);
 *   - anything else: "(untyped)".
 * Compressed batches would have to be inflated a second time, so at most one per topic per
 * second is; the records of the others are counted under the type last seen in a compressed
 * batch of that topic (an estimate, said so in docs/catalog.md).
 *
 * Memory is bounded: CAT_MAX_TOPICS topics, CAT_MAX_TYPES types per topic and
 * CAT_MAX_TYPES_TOTAL in all (records of further types are counted as "other"), CAT_MAX_PRODUCERS
 * producers per type, CAT_MAX_STREAMS stream clients per topic, a sample of at most
 * CAT_SAMPLE_MAX bytes per type. Memory is allocated only when a topic, type, producer or
 * stream client is first seen. Loop thread only. */
#include "obs/obs.h"
#include "obs/obs_int.h"
#include "broker/group.h"
#include "util/base64.h"
#include "util/mem.h"
#include "util/monotime.h"
#include "util/strmap.h"
#include "util/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CAT_MAX_TOPICS 4096
#define CAT_MAX_TYPES 32
#define CAT_MAX_TYPES_TOTAL 4096
#define CAT_MAX_PRODUCERS 8
#define CAT_MAX_STREAMS 16
#define CAT_TYPE_MAX OBS__TYPE_MAX
#define CAT_CLIENT_MAX 127
#define CAT_CTYPE_MAX 127
#define CAT_SAMPLE_MAX 1024
/* A type's sample is replaced by a newer record at most this often. */
#define CAT_SAMPLE_REFRESH_MS 10000
/* At most one compressed batch per topic is inflated in this period. */
#define CAT_INFLATE_EVERY_MS 1000
#define CAT_MAX_INFLATED (64u << 20)

enum {
    KIND_UNTYPED = OBS__KIND_UNTYPED,
    KIND_CLOUDEVENT = OBS__KIND_CLOUDEVENT,
    KIND_SCHEMA = OBS__KIND_SCHEMA
};
static const char *const kind_names[] = {"untyped", "cloudevents", "schema"};

typedef struct cat_producer {
    char id[CAT_CLIENT_MAX + 1];
    uint64_t records;
    int64_t last_ms;
} cat_producer_t;

typedef struct cat_type {
    int kind;
    int32_t schema_id; /* KIND_SCHEMA */
    uint16_t name_len;
    char name[CAT_TYPE_MAX + 1];
    uint64_t records, bytes;
    /* Records classified one by one (not estimated from an uninflated compressed batch), and
     * those of them with trace context: the share without it is untraced / classified. */
    uint64_t classified, traced;
    int64_t first_ms, last_ms;
    uint64_t rate_records; /* records at the last rate update */
    int64_t rate_ms;
    double rate; /* records per second between the last two updates */
    cat_producer_t *producers[CAT_MAX_PRODUCERS];
    int nproducers;
    uint64_t other_producer_records; /* from producers beyond the cap */
    /* The sample: the value of a recent record (truncated), its content type, when seen. */
    int64_t sample_ms;
    int64_t sample_offset;
    int32_t sample_partition;
    uint32_t sample_len;
    bool sample_truncated, sample_null;
    char ctype[CAT_CTYPE_MAX + 1];
    uint8_t sample[CAT_SAMPLE_MAX];
} cat_type_t;

typedef struct cat_stream {
    char client[CAT_CLIENT_MAX + 1];
    const char *kind;
    int open;
    int64_t since_ms;
} cat_stream_t;

typedef struct cat_topic {
    char *name;
    const broker_topic_t *topic; /* the topic observed (NULL: only streams seen so far) */
    cat_type_t *types[CAT_MAX_TYPES];
    int ntypes;
    int last; /* index of the type last matched: the next record is most likely the same */
    uint64_t other_records; /* records of types beyond the caps */
    int64_t inflated_ms;    /* when a compressed batch was last inflated */
    int compressed_type;    /* type of the last record of that batch, -1 before */
    cat_stream_t *streams[CAT_MAX_STREAMS];
    int nstreams;
} cat_topic_t;

static struct {
    bool enabled;
    hd_strmap_t index; /* name -> cat_topic_t */
    cat_topic_t **topics;
    int ntopics, cap;
    int ntypes_total;
    hd_buf_t scratch; /* inflated records */
} cat;

/* One batch being observed. */
typedef struct observe {
    cat_topic_t *t;
    int32_t partition;
    int64_t now_ms;
    uint32_t touched; /* bit per type index: records of it in this batch */
    uint64_t counts[CAT_MAX_TYPES];
    int last_type; /* of the batch's last record, -1 when none */
} observe_t;

/* ---- finding things ---- */

static cat_topic_t *topic_get(const char *name, bool create)
{
    cat_topic_t *t = hd_strmap_get(&cat.index, name);
    if (t || !create || cat.ntopics >= CAT_MAX_TOPICS)
        return t;
    t = hd_calloc(1, sizeof *t);
    t->name = hd_strdup(name);
    t->compressed_type = -1;
    if (cat.ntopics == cat.cap) {
        cat.cap = cat.cap ? cat.cap * 2 : 16;
        cat.topics = hd_realloc(cat.topics, sizeof *cat.topics * (size_t)cat.cap);
    }
    cat.topics[cat.ntopics++] = t;
    hd_strmap_put(&cat.index, t->name, t);
    return t;
}

static void types_clear(cat_topic_t *t)
{
    for (int i = 0; i < t->ntypes; i++) {
        for (int k = 0; k < t->types[i]->nproducers; k++)
            free(t->types[i]->producers[k]);
        free(t->types[i]);
    }
    cat.ntypes_total -= t->ntypes;
    t->ntypes = 0;
    t->last = 0;
    t->other_records = 0;
    t->compressed_type = -1;
}

static void topic_free(cat_topic_t *t)
{
    types_clear(t);
    for (int i = 0; i < t->nstreams; i++)
        free(t->streams[i]);
    free(t->name);
    free(t);
}

static bool type_is(const cat_type_t *ty, int kind, hd_slice_t name, int32_t sid)
{
    if (ty->kind != kind)
        return false;
    if (kind == KIND_SCHEMA)
        return ty->schema_id == sid;
    return ty->name_len == name.len && memcmp(ty->name, name.p, name.len) == 0;
}

/* The index of the type, created when new; -1 when the caps are reached. */
static int type_find(cat_topic_t *t, int kind, hd_slice_t name, int32_t sid, int64_t now_ms)
{
    if (t->last < t->ntypes && type_is(t->types[t->last], kind, name, sid))
        return t->last;
    for (int i = 0; i < t->ntypes; i++)
        if (type_is(t->types[i], kind, name, sid))
            return t->last = i;
    if (t->ntypes >= CAT_MAX_TYPES || cat.ntypes_total >= CAT_MAX_TYPES_TOTAL)
        return -1;
    cat_type_t *ty = hd_calloc(1, sizeof *ty);
    ty->kind = kind;
    ty->schema_id = sid;
    if (kind == KIND_SCHEMA) {
        ty->name_len = (uint16_t)snprintf(ty->name, sizeof ty->name, "schema-id:%d", (int)sid);
    } else {
        ty->name_len = (uint16_t)name.len;
        memcpy(ty->name, name.p, name.len);
    }
    ty->first_ms = now_ms;
    ty->rate_ms = now_ms;
    ty->sample_ms = INT64_MIN;
    t->types[t->ntypes] = ty;
    cat.ntypes_total++;
    return t->last = t->ntypes++;
}

/* ---- classifying a record ---- */

static bool slice_is(hd_slice_t s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.p, lit, n) == 0;
}

/* Whether s starts with lit, ignoring ASCII case. */
static bool starts_nocase(hd_slice_t s, const char *lit)
{
    size_t n = strlen(lit);
    if (s.len < n)
        return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s.p[i];
        if (c >= 'A' && c <= 'Z')
            c = (uint8_t)(c - 'A' + 'a');
        if (c != (uint8_t)lit[i])
            return false;
    }
    return true;
}

static size_t skip_ws(const uint8_t *p, size_t n, size_t i)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    return i;
}

/* Skips a JSON string starting at p[i] == '"'; returns the index after its closing quote, or
 * n when unterminated. */
static size_t skip_string(const uint8_t *p, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        if (p[i] == '\\')
            i++;
        else if (p[i] == '"')
            return i + 1;
    }
    return n;
}

/* The raw text of the top-level "type" string member of a JSON object, found by a scan that
 * skips nested values without parsing them. False when there is none (or the text is not an
 * object). Malformed JSON at worst yields a wrong name, never a read out of bounds. */
static bool json_top_type(hd_slice_t v, hd_slice_t *out)
{
    const uint8_t *p = v.p;
    size_t n = v.len, i = skip_ws(p, n, 0);
    if (i >= n || p[i] != '{')
        return false;
    i++;
    for (;;) {
        i = skip_ws(p, n, i);
        if (i >= n || p[i] != '"')
            return false;
        size_t ks = i + 1, ke = skip_string(p, n, i);
        if (ke >= n)
            return false;
        bool is_type = ke - 1 - ks == 4 && memcmp(p + ks, "type", 4) == 0;
        i = skip_ws(p, n, ke);
        if (i >= n || p[i] != ':')
            return false;
        i = skip_ws(p, n, i + 1);
        if (i >= n)
            return false;
        if (is_type) {
            if (p[i] != '"')
                return false;
            size_t e = skip_string(p, n, i);
            if (e > n || e == n)
                return false;
            *out = hd_slice(p + i + 1, e - i - 2);
            return true;
        }
        /* Skip the value: strings whole, brackets by depth, scalars to the next , or }. */
        int depth = 0;
        while (i < n) {
            uint8_t c = p[i];
            if (c == '"') {
                i = skip_string(p, n, i);
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if (c == '}' || c == ']') {
                if (depth == 0)
                    break;
                depth--;
            } else if (c == ',' && depth == 0) {
                break;
            }
            i++;
        }
        if (i >= n || p[i] != ',')
            return false;
        i++;
    }
}

void obs__classify(const broker_record_t *rec, obs__classified_t *c)
{
    c->kind = KIND_UNTYPED;
    c->name = hd_slice(NULL, 0);
    c->schema_id = 0;
    c->ctype = hd_slice(NULL, 0);
    c->traced = false;
    hd_slice_t area = rec->headers;
    hd_slice_t ce_type = {NULL, 0};
    bool have_ce = false;
    for (int32_t i = 0; i < rec->headers_count; i++) {
        broker_header_t h;
        if (broker_header_next(&area, &h) < 0)
            break;
        if (h.value_null)
            continue;
        if (slice_is(h.name, "ce_type")) {
            ce_type = h.value;
            have_ce = true;
        } else if (h.name.len == 12 && starts_nocase(h.name, "content-type")) {
            c->ctype = h.value;
        } else if (!c->traced &&
                   (slice_is(h.name, "traceparent") || slice_is(h.name, "ce_traceparent"))) {
            c->traced = obs_traceparent_parse((const char *)h.value.p, h.value.len, NULL);
        }
    }
    if (have_ce && ce_type.len > 0 && ce_type.len <= CAT_TYPE_MAX) {
        c->kind = KIND_CLOUDEVENT;
        c->name = ce_type;
        return;
    }
    hd_slice_t t;
    if (!rec->value_null && starts_nocase(c->ctype, "application/cloudevents+json") &&
        json_top_type(rec->value, &t) && t.len > 0 && t.len <= CAT_TYPE_MAX) {
        c->kind = KIND_CLOUDEVENT;
        c->name = t;
        return;
    }
    if (!rec->value_null && rec->value.len >= 5 && rec->value.p[0] == 0) {
        const uint8_t *p = rec->value.p;
        c->kind = KIND_SCHEMA;
        c->schema_id = (int32_t)((uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 |
                                 (uint32_t)p[4]);
        return;
    }
    c->name = hd_slice((const uint8_t *)"(untyped)", 9);
}

/* ---- observing ---- */

static void keep_sample(cat_type_t *ty, const observe_t *o, const broker_record_t *rec,
                        const obs__classified_t *c)
{
    ty->sample_ms = o->now_ms;
    ty->sample_offset = rec->offset;
    ty->sample_partition = o->partition;
    ty->sample_null = rec->value_null;
    size_t n = rec->value_null ? 0 : rec->value.len;
    ty->sample_truncated = n > CAT_SAMPLE_MAX;
    if (n > CAT_SAMPLE_MAX)
        n = CAT_SAMPLE_MAX;
    if (n)
        memcpy(ty->sample, rec->value.p, n);
    ty->sample_len = (uint32_t)n;
    size_t cl = c->ctype.len > CAT_CTYPE_MAX ? CAT_CTYPE_MAX : c->ctype.len;
    if (cl)
        memcpy(ty->ctype, c->ctype.p, cl);
    ty->ctype[cl] = '\0';
}

static int observe_record(void *ctx, const broker_record_t *rec)
{
    observe_t *o = ctx;
    obs__classified_t c;
    obs__classify(rec, &c);
    int i = type_find(o->t, c.kind, c.name, c.schema_id, o->now_ms);
    o->last_type = i;
    if (i < 0) {
        o->t->other_records++;
        return 0;
    }
    cat_type_t *ty = o->t->types[i];
    ty->records++;
    ty->classified++;
    ty->traced += c.traced;
    ty->bytes += rec->value_null ? 0 : rec->value.len;
    ty->last_ms = o->now_ms;
    o->touched |= 1u << i;
    o->counts[i]++;
    if (ty->sample_ms == INT64_MIN || o->now_ms - ty->sample_ms >= CAT_SAMPLE_REFRESH_MS)
        keep_sample(ty, o, rec, &c);
    return 0;
}

static void copy_id(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Credits n records of ty to the producing client. */
static void credit(cat_type_t *ty, const char *client, uint64_t n, int64_t now_ms)
{
    size_t cl = strlen(client);
    if (cl > CAT_CLIENT_MAX)
        cl = CAT_CLIENT_MAX;
    for (int i = 0; i < ty->nproducers; i++) {
        cat_producer_t *pr = ty->producers[i];
        if (strncmp(pr->id, client, cl) == 0 && pr->id[cl] == '\0') {
            pr->records += n;
            pr->last_ms = now_ms;
            return;
        }
    }
    if (ty->nproducers >= CAT_MAX_PRODUCERS) {
        ty->other_producer_records += n;
        return;
    }
    cat_producer_t *pr = hd_calloc(1, sizeof *pr);
    copy_id(pr->id, sizeof pr->id, client);
    pr->records = n;
    pr->last_ms = now_ms;
    ty->producers[ty->nproducers++] = pr;
}

static void observe_batch(void *ctx, broker_partition_t *p, hd_slice_t batch,
                          const broker_batch_hdr_t *h, const char *client_id)
{
    (void)ctx;
    broker_topic_t *bt = broker_partition_topic(p);
    cat_topic_t *t = topic_get(broker_topic_name(bt), true);
    if (!t)
        return;
    if (t->topic != bt) {
        /* First records, or the topic was deleted and created again: start afresh. */
        if (t->topic)
            types_clear(t);
        t->topic = bt;
    }
    observe_t o;
    o.t = t;
    o.partition = broker_partition_index(p);
    o.now_ms = hd_wall_ms();
    o.touched = 0;
    o.last_type = -1;
    if ((h->attributes & BROKER_ATTR_CODEC_MASK) != BROKER_CODEC_NONE) {
        if (o.now_ms - t->inflated_ms < CAT_INFLATE_EVERY_MS) {
            /* Not inflated: the records go to the type last seen compressed. */
            uint64_t n = h->records_count > 0 ? (uint64_t)h->records_count : 0;
            int i = t->compressed_type;
            if (i < 0 || i >= t->ntypes) {
                t->other_records += n;
                return;
            }
            cat_type_t *ty = t->types[i];
            ty->records += n;
            ty->last_ms = o.now_ms;
            credit(ty, client_id ? client_id : "(unknown)", n, o.now_ms);
            return;
        }
        t->inflated_ms = o.now_ms;
    }
    memset(o.counts, 0, sizeof o.counts);
    hd_buf_reset(&cat.scratch);
    broker_batch_for_each(batch, CAT_MAX_INFLATED, &cat.scratch, observe_record, &o);
    /* A large inflated batch is not kept around between batches. */
    if (cat.scratch.cap > (4u << 20))
        hd_buf_deinit(&cat.scratch);
    if ((h->attributes & BROKER_ATTR_CODEC_MASK) != BROKER_CODEC_NONE)
        t->compressed_type = o.last_type;
    for (uint32_t m = o.touched; m; m &= m - 1) {
        int i = __builtin_ctz(m);
        credit(t->types[i], client_id ? client_id : "(unknown)", o.counts[i], o.now_ms);
    }
}

void obs_catalog_init(broker_t *b, bool enable)
{
    cat.enabled = enable;
    hd_strmap_init(&cat.index);
    hd_buf_init(&cat.scratch);
    if (enable)
        broker_set_append_observer(b, observe_batch, NULL);
}

void obs_catalog_free(broker_t *b)
{
    if (b)
        broker_set_append_observer(b, NULL, NULL);
    for (int i = 0; i < cat.ntopics; i++)
        topic_free(cat.topics[i]);
    free(cat.topics);
    hd_strmap_deinit(&cat.index);
    hd_buf_deinit(&cat.scratch);
    memset(&cat, 0, sizeof cat);
}

void obs_catalog_stream(const char *topic, const char *client, const char *kind, int delta)
{
    if (!cat.enabled)
        return;
    cat_topic_t *t = topic_get(topic, delta > 0);
    if (!t)
        return;
    const char *id = client ? client : "(unknown)";
    char cut[CAT_CLIENT_MAX + 1];
    copy_id(cut, sizeof cut, id);
    for (int i = 0; i < t->nstreams; i++) {
        cat_stream_t *s = t->streams[i];
        if (s->kind == kind && strcmp(s->client, cut) == 0) {
            s->open += delta;
            if (s->open < 0)
                s->open = 0;
            if (delta > 0)
                s->since_ms = hd_wall_ms();
            return;
        }
    }
    if (delta <= 0)
        return;
    /* Full: a client whose streams all closed makes room. */
    if (t->nstreams >= CAT_MAX_STREAMS) {
        for (int i = 0; i < t->nstreams; i++)
            if (t->streams[i]->open == 0) {
                free(t->streams[i]);
                t->streams[i] = t->streams[--t->nstreams];
                break;
            }
        if (t->nstreams >= CAT_MAX_STREAMS)
            return;
    }
    cat_stream_t *s = hd_calloc(1, sizeof *s);
    copy_id(s->client, sizeof s->client, id);
    s->kind = kind;
    s->open = delta;
    s->since_ms = hd_wall_ms();
    t->streams[t->nstreams++] = s;
}

void obs__catalog_rates(int64_t now_ms)
{
    for (int i = 0; i < cat.ntopics; i++) {
        cat_topic_t *t = cat.topics[i];
        for (int k = 0; k < t->ntypes; k++) {
            cat_type_t *ty = t->types[k];
            int64_t dt = now_ms - ty->rate_ms;
            if (dt <= 0)
                continue;
            ty->rate = (double)(ty->records - ty->rate_records) * 1000.0 / (double)dt;
            ty->rate_records = ty->records;
            ty->rate_ms = now_ms;
        }
    }
}

/* ---- rendering ---- */

static json_t *time_json(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char buf[96];
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    return json_string(buf);
}

/* A sample value: embedded JSON, else a string (UTF-8), else base64. */
static void sample_json(json_t *o, const cat_type_t *ty)
{
    if (ty->sample_ms == INT64_MIN)
        return;
    json_t *s = json_object();
    json_object_set_new(s, "partition", json_integer(ty->sample_partition));
    json_object_set_new(s, "offset", json_integer(ty->sample_offset));
    json_object_set_new(s, "seen", time_json(ty->sample_ms));
    if (ty->sample_truncated)
        json_object_set_new(s, "truncated", json_true());
    json_t *v = NULL;
    if (ty->sample_null) {
        v = json_null();
    } else if (!ty->sample_truncated && ty->kind != KIND_SCHEMA) {
        v = json_loadb((const char *)ty->sample, ty->sample_len, JSON_DECODE_ANY, NULL);
    }
    if (!v && !ty->sample_null && ty->kind != KIND_SCHEMA &&
        hd_utf8_valid(ty->sample, ty->sample_len))
        v = json_stringn((const char *)ty->sample, ty->sample_len);
    if (v) {
        json_object_set_new(s, "value", v);
    } else {
        hd_buf_t b64;
        hd_buf_init(&b64);
        hd_base64_encode(hd_slice(ty->sample, ty->sample_len), &b64);
        json_object_set_new(s, "value_b64", json_stringn((const char *)b64.p, b64.len));
        hd_buf_deinit(&b64);
    }
    json_object_set_new(o, "sample", s);
}

static json_t *type_json(const cat_type_t *ty, obs_schema_resolver_fn resolve, void *rctx)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_stringn(ty->name, ty->name_len));
    json_object_set_new(o, "kind", json_string(kind_names[ty->kind]));
    if (ty->kind == KIND_SCHEMA) {
        json_t *s = json_object();
        json_object_set_new(s, "id", json_integer(ty->schema_id));
        obs_schema_info_t info;
        if (resolve && resolve(rctx, ty->schema_id, &info)) {
            /* The subject names the type: that is what producers registered it as. */
            json_object_set_new(o, "type", json_string(info.subject));
            json_object_set_new(s, "subject", json_string(info.subject));
            json_object_set_new(s, "version", json_integer(info.version));
            json_object_set_new(s, "schemaType", json_string(info.type));
            json_t *parsed = json_loads(info.text, JSON_DECODE_ANY, NULL);
            json_object_set_new(s, "schema", parsed ? parsed : json_string(info.text));
        }
        json_object_set_new(o, "schema", s);
    }
    if (ty->ctype[0])
        json_object_set_new(o, "content_type", json_string(ty->ctype));
    json_object_set_new(o, "records", json_integer((json_int_t)ty->records));
    json_object_set_new(o, "bytes", json_integer((json_int_t)ty->bytes));
    json_object_set_new(o, "records_classified", json_integer((json_int_t)ty->classified));
    json_object_set_new(o, "records_traced", json_integer((json_int_t)ty->traced));
    json_object_set_new(o, "rate", json_real(ty->rate));
    json_object_set_new(o, "first_seen", time_json(ty->first_ms));
    json_object_set_new(o, "last_seen", time_json(ty->last_ms));
    json_t *prods = json_array();
    for (int i = 0; i < ty->nproducers; i++) {
        const cat_producer_t *pr = ty->producers[i];
        json_t *x = json_object();
        json_object_set_new(x, "client_id", json_string(pr->id));
        json_object_set_new(x, "records", json_integer((json_int_t)pr->records));
        json_object_set_new(x, "last_seen", time_json(pr->last_ms));
        json_array_append_new(prods, x);
    }
    json_object_set_new(o, "producers", prods);
    if (ty->other_producer_records)
        json_object_set_new(o, "other_producers_records",
                            json_integer((json_int_t)ty->other_producer_records));
    sample_json(o, ty);
    return o;
}

typedef struct group_scan {
    broker_t *b;
    const char *topic;
    int64_t lag;
    int partitions;
} group_scan_t;

static int group_topic_cb(void *ctx, const char *topic, int32_t partition, const broker_offset_t *o)
{
    group_scan_t *g = ctx;
    if (strcmp(topic, g->topic) != 0)
        return 0;
    g->partitions++;
    broker_topic_t *t = broker_topic_find(g->b, topic);
    broker_partition_t *p = t ? broker_topic_partition(t, partition) : NULL;
    if (p) {
        int64_t hwm = broker_partition_hwm(p);
        int64_t lag = o->offset < 0 ? hwm - broker_partition_start(p) : hwm - o->offset;
        g->lag += lag > 0 ? lag : 0;
    }
    return 0;
}

/* Consumers of a topic: groups that committed offsets on it, and stream clients. */
static json_t *consumers_json(broker_t *b, const char *topic, const cat_topic_t *t)
{
    json_t *arr = json_array();
    int ng = broker_group_count(b);
    for (int i = 0; i < ng; i++) {
        broker_group_t *g = broker_group_at(b, i);
        group_scan_t gs = {b, topic, 0, 0};
        broker_offsets_each(b, broker_group_id(g), group_topic_cb, &gs);
        if (gs.partitions == 0)
            continue;
        json_t *x = json_object();
        json_object_set_new(x, "kind", json_string("group"));
        json_object_set_new(x, "id", json_string(broker_group_id(g)));
        json_object_set_new(x, "state", json_string(broker_group_state(g)));
        json_object_set_new(x, "members", json_integer(broker_group_member_count(g)));
        json_object_set_new(x, "partitions", json_integer(gs.partitions));
        json_object_set_new(x, "lag", json_integer(gs.lag));
        json_array_append_new(arr, x);
    }
    for (int i = 0; t && i < t->nstreams; i++) {
        const cat_stream_t *s = t->streams[i];
        json_t *x = json_object();
        json_object_set_new(x, "kind", json_string("stream"));
        json_object_set_new(x, "id", json_string(s->client));
        json_object_set_new(x, "protocol", json_string(s->kind));
        json_object_set_new(x, "open", json_integer(s->open));
        json_object_set_new(x, "since", time_json(s->since_ms));
        json_array_append_new(arr, x);
    }
    return arr;
}

json_t *obs_catalog_json(broker_t *b, obs_schema_resolver_fn resolve, void *ctx)
{
    /* Forget topics that were deleted (their catalog entry would describe a dead topic). */
    for (int i = 0; i < cat.ntopics;) {
        cat_topic_t *t = cat.topics[i];
        broker_topic_t *bt = broker_topic_find(b, t->name);
        if (!bt || (t->topic && t->topic != bt)) {
            hd_strmap_del(&cat.index, t->name);
            topic_free(t);
            cat.topics[i] = cat.topics[--cat.ntopics];
            continue;
        }
        i++;
    }
    json_t *topics = json_array();
    int nt = broker_topic_count(b);
    for (int i = 0; i < nt; i++) {
        broker_topic_t *bt = broker_topic_at(b, i);
        const char *name = broker_topic_name(bt);
        const cat_topic_t *t = hd_strmap_get(&cat.index, name);
        json_t *o = json_object();
        json_object_set_new(o, "topic", json_string(name));
        json_object_set_new(o, "partitions", json_integer(broker_topic_partitions(bt)));
        json_t *types = json_array();
        uint64_t total = 0;
        for (int k = 0; t && k < t->ntypes; k++) {
            json_array_append_new(types, type_json(t->types[k], resolve, ctx));
            total += t->types[k]->records;
        }
        if (t && t->other_records) {
            json_object_set_new(o, "other_records", json_integer((json_int_t)t->other_records));
            total += t->other_records;
        }
        json_object_set_new(o, "records_seen", json_integer((json_int_t)total));
        json_object_set_new(o, "types", types);
        json_object_set_new(o, "consumers", consumers_json(b, name, t));
        json_array_append_new(topics, o);
    }
    json_t *j = json_object();
    json_object_set_new(j, "enabled", json_boolean(cat.enabled));
    json_object_set_new(j, "topics", topics);
    return j;
}
