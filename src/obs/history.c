/* The console's short memory: every interval (10 s by default) a sample of each topic's
 * records per second in and out, each consumer group's total lag and each subscription's
 * backlog and dead letters, kept in a ring of the last
 * OBS_HISTORY_SLOTS samples (an hour at 10 s); and the overview of topics and groups now. Both
 * are read from broker/ when sampled or asked, so nothing here runs per record.
 *
 * Memory is bounded: at most HISTORY_MAX_SERIES topics and groups are followed (the first
 * seen), each with two float arrays of OBS_HISTORY_SLOTS. A series that no longer exists (a
 * deleted topic or group) holds NaN, shown as null, and is forgotten once it has been absent
 * for a whole ring. Loop thread only. */
#include "obs/obs.h"
#include "broker/group.h"
#include "obs/obs_int.h"
#include "util/mem.h"
#include "util/monotime.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HISTORY_MAX_SERIES 256
#define HISTORY_MIN_INTERVAL_MS 1000

enum {
    SERIES_TOPIC = OBS__SERIES_TOPIC,
    SERIES_GROUP = OBS__SERIES_GROUP,
    SERIES_SUB = OBS__SERIES_SUB
};

typedef struct series {
    char *name;
    int kind;
    uint64_t prev_in, prev_out; /* topic counters at the previous sample */
    int absent;                 /* consecutive samples without the topic or group */
    bool seen;                  /* present in the sample being taken */
    float a[OBS_HISTORY_SLOTS]; /* topics: records/s in; groups: lag; subscriptions: backlog */
    float b[OBS_HISTORY_SLOTS]; /* topics: records/s out; subscriptions: dead letters */
} series_t;

static struct {
    int64_t interval_ms;
    int64_t last_ms; /* wall clock of the last sample; 0 before the first */
    int64_t times[OBS_HISTORY_SLOTS];
    int head; /* the slot the next sample goes to */
    int count;
    series_t *series[HISTORY_MAX_SERIES];
    int nseries;
    obs_sub_source_t subs;
} h = {.interval_ms = 10000};

void obs_history_set_subs(const obs_sub_source_t *src)
{
    if (src)
        h.subs = *src;
    else
        memset(&h.subs, 0, sizeof h.subs);
}

void obs_history_init(int64_t interval_ms)
{
    h.interval_ms = interval_ms < HISTORY_MIN_INTERVAL_MS ? HISTORY_MIN_INTERVAL_MS : interval_ms;
}

static series_t *series_get(const char *name, int kind)
{
    for (int i = 0; i < h.nseries; i++)
        if (h.series[i]->kind == kind && strcmp(h.series[i]->name, name) == 0)
            return h.series[i];
    if (h.nseries >= HISTORY_MAX_SERIES)
        return NULL;
    series_t *s = hd_calloc(1, sizeof *s);
    s->name = hd_strdup(name);
    s->kind = kind;
    for (int i = 0; i < OBS_HISTORY_SLOTS; i++)
        s->a[i] = s->b[i] = NAN;
    h.series[h.nseries++] = s;
    return s;
}

typedef struct lag_sum {
    broker_t *b;
    int64_t lag;
} lag_sum_t;

static int lag_sum_cb(void *ctx, const char *topic, int32_t partition, const broker_offset_t *o)
{
    lag_sum_t *l = ctx;
    broker_topic_t *t = broker_topic_find(l->b, topic);
    broker_partition_t *p = t ? broker_topic_partition(t, partition) : NULL;
    if (!p)
        return 0;
    int64_t hwm = broker_partition_hwm(p);
    int64_t lag = o->offset < 0 ? hwm - broker_partition_start(p) : hwm - o->offset;
    l->lag += lag > 0 ? lag : 0;
    return 0;
}

static int64_t group_lag(broker_t *b, const char *group)
{
    lag_sum_t l = {b, 0};
    broker_offsets_each(b, group, lag_sum_cb, &l);
    return l.lag;
}

static void sample(broker_t *b, int64_t now_ms)
{
    double dt = h.last_ms ? (double)(now_ms - h.last_ms) / 1000.0 : 0;
    int slot = h.head;
    h.times[slot] = now_ms;
    for (int i = 0; i < h.nseries; i++) {
        h.series[i]->seen = false;
        h.series[i]->a[slot] = h.series[i]->b[slot] = NAN;
    }
    int nt = broker_topic_count(b);
    for (int i = 0; i < nt; i++) {
        broker_topic_t *t = broker_topic_at(b, i);
        series_t *s = series_get(broker_topic_name(t), SERIES_TOPIC);
        if (!s)
            continue;
        broker_topic_stats_t st;
        broker_topic_stats(t, &st);
        /* Counters start at 0 when the topic is created (or the broker starts), so a new
         * series counts from 0; a topic created again restarts its counters. */
        if (st.records_in < s->prev_in || st.records_out < s->prev_out)
            s->prev_in = s->prev_out = 0;
        if (dt > 0) {
            s->a[slot] = (float)((double)(st.records_in - s->prev_in) / dt);
            s->b[slot] = (float)((double)(st.records_out - s->prev_out) / dt);
        }
        s->prev_in = st.records_in;
        s->prev_out = st.records_out;
        s->seen = true;
    }
    int ng = broker_group_count(b);
    for (int i = 0; i < ng; i++) {
        const char *id = broker_group_id(broker_group_at(b, i));
        series_t *s = series_get(id, SERIES_GROUP);
        if (!s)
            continue;
        s->a[slot] = (float)group_lag(b, id);
        s->seen = true;
    }
    int nsub = h.subs.count ? h.subs.count(h.subs.ctx) : 0;
    for (int i = 0; i < nsub; i++) {
        obs_sub_sample_t ss;
        h.subs.at(h.subs.ctx, i, &ss);
        series_t *s = series_get(ss.name, SERIES_SUB);
        if (!s)
            continue;
        s->a[slot] = (float)ss.backlog;
        s->b[slot] = (float)ss.dead_lettered;
        s->seen = true;
    }
    for (int i = 0; i < h.nseries;) {
        series_t *s = h.series[i];
        if (!s->seen && ++s->absent >= OBS_HISTORY_SLOTS) {
            free(s->name);
            free(s);
            h.series[i] = h.series[--h.nseries];
            continue;
        }
        if (s->seen)
            s->absent = 0;
        i++;
    }
    h.head = (h.head + 1) % OBS_HISTORY_SLOTS;
    if (h.count < OBS_HISTORY_SLOTS)
        h.count++;
    h.last_ms = now_ms;
}

void obs_tick(broker_t *b, int64_t now_ms)
{
    if (h.last_ms && now_ms - h.last_ms < h.interval_ms)
        return;
    sample(b, now_ms);
    obs__catalog_rates(now_ms);
}

static json_t *num(float v)
{
    if (isnan(v))
        return json_null();
    /* Two decimals are plenty for a chart and keep the document small. */
    return json_real(round((double)v * 100.0) / 100.0);
}

json_t *obs_history_json(void)
{
    int first = (h.head - h.count + OBS_HISTORY_SLOTS) % OBS_HISTORY_SLOTS;
    json_t *times = json_array();
    for (int k = 0; k < h.count; k++)
        json_array_append_new(times, json_integer(h.times[(first + k) % OBS_HISTORY_SLOTS]));
    json_t *topics = json_object(), *groups = json_object(), *subs = json_object();
    for (int i = 0; i < h.nseries; i++) {
        const series_t *s = h.series[i];
        json_t *a = json_array(), *bb = json_array();
        for (int k = 0; k < h.count; k++) {
            int slot = (first + k) % OBS_HISTORY_SLOTS;
            json_array_append_new(a, num(s->a[slot]));
            if (s->kind != SERIES_GROUP)
                json_array_append_new(bb, num(s->b[slot]));
        }
        json_t *o = json_object();
        if (s->kind == SERIES_TOPIC) {
            json_object_set_new(o, "in", a);
            json_object_set_new(o, "out", bb);
            json_object_set_new(topics, s->name, o);
        } else if (s->kind == SERIES_SUB) {
            json_object_set_new(o, "backlog", a);
            json_object_set_new(o, "dead_letters", bb);
            json_object_set_new(subs, s->name, o);
        } else {
            json_decref(bb);
            json_object_set_new(o, "lag", a);
            json_object_set_new(groups, s->name, o);
        }
    }
    json_t *j = json_object();
    json_object_set_new(j, "interval_ms", json_integer(h.interval_ms));
    json_object_set_new(j, "slots", json_integer(OBS_HISTORY_SLOTS));
    json_object_set_new(j, "times", times);
    json_object_set_new(j, "topics", topics);
    json_object_set_new(j, "groups", groups);
    json_object_set_new(j, "subscriptions", subs);
    return j;
}

int obs__history_samples(void) { return h.count; }

int64_t obs__history_interval_ms(void) { return h.interval_ms; }

int obs__history_nseries(void) { return h.nseries; }

const char *obs__history_series(int i, int *kind)
{
    *kind = h.series[i]->kind;
    return h.series[i]->name;
}

int obs__history_tail(int i, bool b, int n, double *out)
{
    if (n > h.count)
        n = h.count;
    const series_t *s = h.series[i];
    for (int k = 0; k < n; k++) {
        int slot = (h.head - n + k + 2 * OBS_HISTORY_SLOTS) % OBS_HISTORY_SLOTS;
        out[k] = (double)(b ? s->b[slot] : s->a[slot]);
    }
    return n;
}

/* The latest rate of a topic ("in" or "out"), or null before two samples. */
static json_t *latest_rate(const char *topic, bool in)
{
    if (h.count == 0)
        return json_null();
    int slot = (h.head - 1 + OBS_HISTORY_SLOTS) % OBS_HISTORY_SLOTS;
    for (int i = 0; i < h.nseries; i++) {
        const series_t *s = h.series[i];
        if (s->kind == SERIES_TOPIC && strcmp(s->name, topic) == 0)
            return num(in ? s->a[slot] : s->b[slot]);
    }
    return json_null();
}

typedef struct lag_rows {
    broker_t *b;
    json_t *rows;
    int64_t total;
} lag_rows_t;

static int lag_row_cb(void *ctx, const char *topic, int32_t partition, const broker_offset_t *o)
{
    lag_rows_t *l = ctx;
    broker_topic_t *t = broker_topic_find(l->b, topic);
    broker_partition_t *p = t ? broker_topic_partition(t, partition) : NULL;
    json_t *r = json_object();
    json_object_set_new(r, "topic", json_string(topic));
    json_object_set_new(r, "partition", json_integer(partition));
    json_object_set_new(r, "committed", json_integer(o->offset));
    if (p) {
        int64_t hwm = broker_partition_hwm(p);
        int64_t lag = o->offset < 0 ? hwm - broker_partition_start(p) : hwm - o->offset;
        if (lag < 0)
            lag = 0;
        json_object_set_new(r, "end", json_integer(hwm));
        json_object_set_new(r, "lag", json_integer(lag));
        l->total += lag;
    } else {
        json_object_set_new(r, "end", json_null());
        json_object_set_new(r, "lag", json_null());
    }
    json_array_append_new(l->rows, r);
    return 0;
}

json_t *obs_overview_json(broker_t *b)
{
    json_t *topics = json_array();
    int nt = broker_topic_count(b);
    for (int i = 0; i < nt; i++) {
        broker_topic_t *t = broker_topic_at(b, i);
        const char *name = broker_topic_name(t);
        broker_topic_stats_t st;
        broker_topic_stats(t, &st);
        int64_t stored = 0, size = 0, end = 0;
        for (int32_t k = 0; k < broker_topic_partitions(t); k++) {
            broker_partition_t *p = broker_topic_partition(t, k);
            stored += broker_partition_hwm(p) - broker_partition_start(p);
            end += broker_partition_hwm(p);
            size += broker_partition_size_bytes(p);
        }
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(name));
        json_object_set_new(o, "partitions", json_integer(broker_topic_partitions(t)));
        json_object_set_new(o, "records", json_integer(stored));
        json_object_set_new(o, "end_offsets", json_integer(end));
        json_object_set_new(o, "size_bytes", json_integer(size));
        json_object_set_new(o, "records_in", json_integer((json_int_t)st.records_in));
        json_object_set_new(o, "records_out", json_integer((json_int_t)st.records_out));
        json_object_set_new(o, "bytes_in", json_integer((json_int_t)st.bytes_in));
        json_object_set_new(o, "bytes_out", json_integer((json_int_t)st.bytes_out));
        json_object_set_new(o, "in_rate", latest_rate(name, true));
        json_object_set_new(o, "out_rate", latest_rate(name, false));
        json_array_append_new(topics, o);
    }
    json_t *groups = json_array();
    int ng = broker_group_count(b);
    for (int i = 0; i < ng; i++) {
        broker_group_t *g = broker_group_at(b, i);
        lag_rows_t l = {b, json_array(), 0};
        broker_offsets_each(b, broker_group_id(g), lag_row_cb, &l);
        json_t *members = json_array();
        for (int k = 0; k < broker_group_member_count(g); k++) {
            broker_member_info_t mi;
            broker_group_member(g, k, &mi);
            json_t *m = json_object();
            json_object_set_new(m, "member_id", json_string(mi.member_id));
            json_object_set_new(m, "client_id", json_string(mi.client_id ? mi.client_id : ""));
            json_object_set_new(m, "host", json_string(mi.client_host ? mi.client_host : ""));
            json_array_append_new(members, m);
        }
        json_t *o = json_object();
        json_object_set_new(o, "group", json_string(broker_group_id(g)));
        json_object_set_new(o, "state", json_string(broker_group_state(g)));
        json_object_set_new(o, "protocol", json_string(broker_group_protocol(g)));
        json_object_set_new(o, "members", members);
        json_object_set_new(o, "lag", json_integer(l.total));
        json_object_set_new(o, "partitions", l.rows);
        json_array_append_new(groups, o);
    }
    json_t *j = json_object();
    json_object_set_new(j, "time", json_integer(hd_wall_ms()));
    json_object_set_new(j, "sample_interval_ms", json_integer(h.interval_ms));
    json_object_set_new(j, "topics", topics);
    json_object_set_new(j, "groups", groups);
    return j;
}
