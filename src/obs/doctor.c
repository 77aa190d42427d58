/* The architecture check (GET /health/architecture, `herald doctor`, the console's Health
 * page): measures the classic mistakes of event-driven systems from what the broker already
 * knows — the event catalog, the topics' counters and configs, the console's history of lag,
 * backlog and dead letters, and the schema registry's refusals — and names the topics, types,
 * groups, subscriptions and producers behind each finding.
 *
 * Checks, by category (thresholds below; docs/doctor.md explains each):
 *   event_explosion    unconsumed_type   a type on a topic that no consumer reads
 *                      overproduced_type a type on a topic produced DOCTOR_OVERPRODUCED_RATIO
 *                                        times more than read out of it
 *   weak_contracts     unschematized_type a type without a registered schema
 *                      unvalidated_topic records produced to a topic without validation
 *                      breaking_change   incompatible registrations refused (409)
 *   observability      untraced_type     a type whose records mostly lack trace context
 *   fragile_consumers  growing_lag       a group whose lag grew in each recent sample
 *                      growing_backlog   the same for a subscription's backlog
 *                      dead_letters      a subscription with dead letters (rising: error)
 *   coupling           fail_together     consumers whose trouble rises in the same samples
 *
 * Nothing here runs per record: the check is computed when asked, in one pass over the
 * catalog and the history ring. The only state is the count of refused registrations per
 * subject (at most DOCTOR_MAX_SUBJECTS). Loop thread only. */
#include "obs/obs.h"
#include "obs/obs_int.h"
#include "broker/group.h"
#include "util/mem.h"
#include "util/monotime.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Types with fewer records are not judged by the ratio checks (too little to tell). */
#define DOCTOR_MIN_RECORDS 10
/* overproduced_type: records in >= this many times the records out, with at least
 * DOCTOR_OVERPRODUCED_MIN records in. */
#define DOCTOR_OVERPRODUCED_RATIO 10
#define DOCTOR_OVERPRODUCED_MIN 1000
/* untraced_type: this share (or more) of a type's records carry no trace context. */
#define DOCTOR_UNTRACED_SHARE 0.5
/* growing_lag / growing_backlog: grew in each of the last DOCTOR_GROWTH_STEPS sample intervals
 * (warning), or in each of the last DOCTOR_GROWTH_ERROR_STEPS (error). */
#define DOCTOR_GROWTH_STEPS 3
#define DOCTOR_GROWTH_ERROR_STEPS 30
/* dead_letters: "rising" means more now than DOCTOR_WINDOW samples ago. */
#define DOCTOR_WINDOW 30
/* fail_together: over the last DOCTOR_COUPLING_WINDOW samples, two consumers that each rose in
 * at least DOCTOR_COUPLING_MIN_STEPS intervals, with at least DOCTOR_COUPLING_OVERLAP of those
 * intervals shared (intersection over union). */
#define DOCTOR_COUPLING_WINDOW 60
#define DOCTOR_COUPLING_MIN_STEPS 3
#define DOCTOR_COUPLING_OVERLAP 0.6
/* Consumers compared for coupling (the first ones of the history). */
#define DOCTOR_COUPLING_MAX 128
#define DOCTOR_MAX_SUBJECTS 1024

static struct {
    char **subject;
    uint64_t *count;
    int n;
} brk;

void obs_doctor_incompatible(const char *subject)
{
    for (int i = 0; i < brk.n; i++)
        if (strcmp(brk.subject[i], subject) == 0) {
            brk.count[i]++;
            return;
        }
    if (brk.n >= DOCTOR_MAX_SUBJECTS)
        return;
    brk.subject = hd_realloc(brk.subject, sizeof *brk.subject * (size_t)(brk.n + 1));
    brk.count = hd_realloc(brk.count, sizeof *brk.count * (size_t)(brk.n + 1));
    brk.subject[brk.n] = hd_strdup(subject);
    brk.count[brk.n] = 1;
    brk.n++;
}

void obs_doctor_free(void)
{
    for (int i = 0; i < brk.n; i++)
        free(brk.subject[i]);
    free(brk.subject);
    free(brk.count);
    memset(&brk, 0, sizeof brk);
}

/* ---- building findings ---- */

enum { SEV_INFO, SEV_WARNING, SEV_ERROR };
static const char *const sev_names[] = {"info", "warning", "error"};

typedef struct check_def {
    const char *check, *category, *title;
} check_def_t;

static const check_def_t checks[] = {
    {"unconsumed_type", "event_explosion", "Event types nobody consumes"},
    {"overproduced_type", "event_explosion", "Event types produced far more than consumed"},
    {"unschematized_type", "weak_contracts", "Event types without a registered schema"},
    {"unvalidated_topic", "weak_contracts", "Records that skip validation"},
    {"breaking_change", "weak_contracts", "Breaking schema changes attempted"},
    {"untraced_type", "observability", "Records without trace context"},
    {"growing_lag", "fragile_consumers", "Consumer groups with growing lag"},
    {"growing_backlog", "fragile_consumers", "Subscriptions with a growing backlog"},
    {"dead_letters", "fragile_consumers", "Subscriptions with dead letters"},
    {"fail_together", "coupling", "Consumers that fail together"},
};
#define NCHECKS (int)(sizeof checks / sizeof checks[0])

typedef struct doc {
    json_t *findings;
    int counts[3];
    int per_check[NCHECKS];
} doc_t;

static int check_index(const char *check)
{
    for (int i = 0; i < NCHECKS; i++)
        if (strcmp(checks[i].check, check) == 0)
            return i;
    HD_UNREACHABLE();
}

/* A new finding (added to d; the caller fills the subjects behind it). */
static json_t *finding(doc_t *d, const char *check, int sev, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static json_t *finding(doc_t *d, const char *check, int sev, const char *fmt, ...)
{
    int ci = check_index(check);
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *f = json_object();
    json_object_set_new(f, "check", json_string(checks[ci].check));
    json_object_set_new(f, "category", json_string(checks[ci].category));
    json_object_set_new(f, "severity", json_string(sev_names[sev]));
    json_object_set_new(f, "message", json_string(msg));
    json_array_append_new(d->findings, f);
    d->counts[sev]++;
    d->per_check[ci]++;
    return f;
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static int64_t jint(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

/* The producers of a catalog type, as an array of client ids. */
static json_t *producer_ids(const json_t *ty)
{
    json_t *arr = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(ty, "producers"), i, p)
        json_array_append_new(arr, json_string(jstr(p, "client_id")));
    return arr;
}

/* Records Herald appended itself (dead letters) are produced by "herald (...)": such types
 * are the symptom of another finding, not a design of their own. */
static bool only_herald(const json_t *ty)
{
    const json_t *ps = json_object_get(ty, "producers");
    if (json_array_size(ps) == 0)
        return false;
    size_t i;
    json_t *p;
    json_array_foreach(ps, i,
                       p) if (strncmp(jstr(p, "client_id"), "herald (", 8) != 0) return false;
    return true;
}

/* Whether consumer c reads records of type `type` (a subscription may filter on a type). */
static bool consumes(const json_t *c, const char *type)
{
    const char *f = json_string_value(json_object_get(c, "filter_type"));
    return !f || strcmp(f, type) == 0;
}

/* ---- per topic and type ---- */

typedef struct topic_ctx {
    doc_t *d;
    broker_t *b;
    obs_subject_exists_fn has_subject;
    void *hctx;
    uint64_t records, traced, classified; /* totals over all judged types */
} topic_ctx_t;

static bool type_has_schema(topic_ctx_t *tc, const broker_topic_t *bt, const json_t *ty)
{
    const char *kind = jstr(ty, "kind");
    if (strcmp(kind, "schema") == 0)
        return json_object_get(json_object_get(ty, "schema"), "subject") != NULL;
    if (strcmp(kind, "cloudevents") != 0 || !tc->has_subject)
        return false;
    /* A CloudEvent's type has a contract when a subject is registered under its own name or
     * under the subject the topic validates values against. */
    if (tc->has_subject(tc->hctx, jstr(ty, "type")))
        return true;
    const broker_topic_config_t *cfg = broker_topic_config(bt);
    char subj[300];
    if (cfg->value_subject[0])
        snprintf(subj, sizeof subj, "%s", cfg->value_subject);
    else
        snprintf(subj, sizeof subj, "%s-value", broker_topic_name(bt));
    return tc->has_subject(tc->hctx, subj);
}

static void check_topic(topic_ctx_t *tc, const json_t *t)
{
    doc_t *d = tc->d;
    const char *topic = jstr(t, "topic");
    broker_topic_t *bt = broker_topic_find(tc->b, topic);
    if (!bt)
        return;
    broker_topic_stats_t st;
    broker_topic_stats(bt, &st);
    const json_t *consumers = json_object_get(t, "consumers");
    bool any_user_type = false;
    uint64_t user_records = 0;
    json_t *user_producers = json_array();
    size_t i;
    json_t *ty;
    json_array_foreach(json_object_get(t, "types"), i, ty)
    {
        if (only_herald(ty))
            continue;
        const char *type = jstr(ty, "type");
        int64_t records = jint(ty, "records");
        if (records <= 0)
            continue;
        any_user_type = true;
        user_records += (uint64_t)records;
        size_t pi;
        json_t *p;
        json_array_foreach(json_object_get(ty, "producers"), pi, p)
        {
            const char *id = jstr(p, "client_id");
            bool have = false;
            size_t k;
            json_t *x;
            json_array_foreach(user_producers, k, x) have |= strcmp(json_string_value(x), id) == 0;
            if (!have)
                json_array_append_new(user_producers, json_string(id));
        }

        /* event explosion */
        json_t *readers = json_array();
        size_t ci;
        json_t *c;
        json_array_foreach(consumers, ci, c) if (consumes(c, type))
            json_array_append_new(readers, json_string(jstr(c, "id")));
        if (json_array_size(readers) == 0) {
            json_t *f = finding(d, "unconsumed_type", SEV_WARNING,
                                "%s on %s: %lld records, no group, subscription or stream reads "
                                "them",
                                type, topic, (long long)records);
            json_object_set_new(f, "topic", json_string(topic));
            json_object_set_new(f, "type", json_string(type));
            json_object_set_new(f, "records", json_integer(records));
            json_object_set_new(f, "producers", producer_ids(ty));
        } else if (st.records_in >= DOCTOR_OVERPRODUCED_MIN &&
                   st.records_in >= DOCTOR_OVERPRODUCED_RATIO * st.records_out &&
                   (uint64_t)records * 10 >= st.records_in) {
            /* Only types that are a tenth of the topic or more: the small ones are not what
             * makes it grow. */
            json_t *f =
                finding(d, "overproduced_type", SEV_WARNING,
                        "%s on %s: the topic took %llu records in and gave %llu out", type, topic,
                        (unsigned long long)st.records_in, (unsigned long long)st.records_out);
            json_object_set_new(f, "topic", json_string(topic));
            json_object_set_new(f, "type", json_string(type));
            json_object_set_new(f, "records", json_integer(records));
            json_object_set_new(f, "records_in", json_integer((json_int_t)st.records_in));
            json_object_set_new(f, "records_out", json_integer((json_int_t)st.records_out));
            json_object_set_new(f, "producers", producer_ids(ty));
            json_object_set(f, "consumers", readers);
        }
        json_decref(readers);

        /* weak contracts */
        if (!type_has_schema(tc, bt, ty)) {
            json_t *f = finding(d, "unschematized_type", SEV_WARNING,
                                "%s on %s has no schema in the registry", type, topic);
            json_object_set_new(f, "topic", json_string(topic));
            json_object_set_new(f, "type", json_string(type));
            json_object_set_new(f, "kind", json_string(jstr(ty, "kind")));
            json_object_set_new(f, "records", json_integer(records));
            json_object_set_new(f, "producers", producer_ids(ty));
        }

        /* observability */
        int64_t classified = jint(ty, "records_classified");
        int64_t traced = jint(ty, "records_traced");
        tc->records += (uint64_t)records;
        tc->classified += (uint64_t)classified;
        tc->traced += (uint64_t)traced;
        double untraced = classified > 0 ? (double)(classified - traced) / (double)classified : 0;
        if (classified >= DOCTOR_MIN_RECORDS && untraced >= DOCTOR_UNTRACED_SHARE) {
            json_t *f = finding(d, "untraced_type", SEV_WARNING,
                                "%s on %s: %.0f%% of its records carry no traceparent", type, topic,
                                untraced * 100.0);
            json_object_set_new(f, "topic", json_string(topic));
            json_object_set_new(f, "type", json_string(type));
            json_object_set_new(f, "records", json_integer(classified));
            json_object_set_new(f, "untraced", json_integer(classified - traced));
            json_object_set_new(f, "share", json_real(round(untraced * 1000.0) / 1000.0));
            json_object_set_new(f, "producers", producer_ids(ty));
        }
    }
    const broker_topic_config_t *cfg = broker_topic_config(bt);
    if (any_user_type && !cfg->schema_validation) {
        char subj[300];
        if (cfg->value_subject[0])
            snprintf(subj, sizeof subj, "%s", cfg->value_subject);
        else
            snprintf(subj, sizeof subj, "%s-value", topic);
        bool has = tc->has_subject && tc->has_subject(tc->hctx, subj);
        /* A registered contract nobody enforces is worse than none. */
        json_t *f = finding(d, "unvalidated_topic", has ? SEV_WARNING : SEV_INFO,
                            has ? "%s: %llu records skipped validation although subject %s is "
                                  "registered (confluent.value.schema.validation is off)"
                                : "%s: %llu records skipped validation (no validation configured)",
                            topic, (unsigned long long)user_records, subj);
        json_object_set_new(f, "topic", json_string(topic));
        json_object_set_new(f, "records", json_integer((json_int_t)user_records));
        json_object_set_new(f, "subject", has ? json_string(subj) : json_null());
        json_object_set(f, "producers", user_producers);
    }
    json_decref(user_producers);
}

/* ---- from the history ---- */

/* Consecutive rises at the end of v[0..n) (NaN breaks the run). */
static int trailing_rises(const double *v, int n)
{
    int k = 0;
    for (int i = n - 1; i > 0; i--) {
        if (isnan(v[i]) || isnan(v[i - 1]) || !(v[i] > v[i - 1]))
            break;
        k++;
    }
    return k;
}

typedef struct trouble {
    const char *name;
    const char *kind; /* "group", "subscription" */
    uint64_t rose;    /* bit per interval of the coupling window (bit 0 the oldest) */
    int nrose;
} trouble_t;

static uint64_t rises_mask(const double *v, int n)
{
    uint64_t m = 0;
    for (int i = 1; i < n && i <= 64; i++)
        if (!isnan(v[i]) && !isnan(v[i - 1]) && v[i] > v[i - 1])
            m |= 1ull << (i - 1);
    return m;
}

static void check_history(doc_t *d, broker_t *b, obs_sub_topic_fn sub_topic, void *sctx)
{
    static double v[OBS_HISTORY_SLOTS], w[OBS_HISTORY_SLOTS];
    trouble_t tr[DOCTOR_COUPLING_MAX];
    int ntr = 0;
    int64_t interval = obs__history_interval_ms();
    int ns = obs__history_nseries();
    for (int i = 0; i < ns; i++) {
        int kind;
        const char *name = obs__history_series(i, &kind);
        if (kind == OBS__SERIES_TOPIC)
            continue;
        bool group = kind == OBS__SERIES_GROUP;
        if (group && !broker_group_find(b, name))
            continue;
        const char *topic = group ? NULL : sub_topic ? sub_topic(sctx, name) : NULL;
        if (!group && !topic)
            continue; /* deleted since */
        int n = obs__history_tail(i, false, OBS_HISTORY_SLOTS, v);
        int rises = trailing_rises(v, n);
        if (rises >= DOCTOR_GROWTH_STEPS) {
            int sev = rises >= DOCTOR_GROWTH_ERROR_STEPS ? SEV_ERROR : SEV_WARNING;
            json_t *f =
                group ? finding(d, "growing_lag", sev,
                                "group %s: lag grew in each of the last %d samples, from %.0f to "
                                "%.0f records",
                                name, rises, v[n - 1 - rises], v[n - 1])
                      : finding(d, "growing_backlog", sev,
                                "subscription %s: backlog grew in each of the last %d samples, "
                                "from %.0f to %.0f records",
                                name, rises, v[n - 1 - rises], v[n - 1]);
            json_object_set_new(f, group ? "group" : "subscription", json_string(name));
            if (topic)
                json_object_set_new(f, "topic", json_string(topic));
            json_object_set_new(f, "samples", json_integer(rises));
            json_object_set_new(f, "from", json_integer((json_int_t)v[n - 1 - rises]));
            json_object_set_new(f, "to", json_integer((json_int_t)v[n - 1]));
            json_object_set_new(f, "seconds", json_integer(rises * interval / 1000));
        }
        /* The trouble signal for coupling: lag for groups, dead letters (or, when none, the
         * backlog) for subscriptions. */
        const double *sig = v;
        int nw = n;
        if (!group) {
            nw = obs__history_tail(i, true, OBS_HISTORY_SLOTS, w);
            double last = nw ? w[nw - 1] : NAN;
            if (!isnan(last) && last > 0) {
                /* The oldest value within the window (the series may be younger). */
                int back = nw > DOCTOR_WINDOW ? DOCTOR_WINDOW : nw - 1;
                while (back > 0 && isnan(w[nw - 1 - back]))
                    back--;
                double before = w[nw - 1 - back];
                bool rising = !isnan(before) && last > before;
                json_t *f =
                    rising ? finding(d, "dead_letters", SEV_ERROR,
                                     "subscription %s: %.0f dead letters, %.0f more in the last "
                                     "%lld s",
                                     name, last, last - before, (long long)(back * interval / 1000))
                           : finding(d, "dead_letters", SEV_WARNING,
                                     "subscription %s: %.0f dead letters", name, last);
                json_object_set_new(f, "subscription", json_string(name));
                json_object_set_new(f, "topic", json_string(topic));
                json_object_set_new(f, "dead_letters", json_integer((json_int_t)last));
                json_object_set_new(f, "rising", json_boolean(rising));
            }
            bool any_dead = false;
            for (int k = 1; k < nw; k++)
                any_dead |= !isnan(w[k]) && !isnan(w[k - 1]) && w[k] > w[k - 1];
            if (any_dead)
                sig = w;
        }
        if (ntr < DOCTOR_COUPLING_MAX) {
            int take = n > DOCTOR_COUPLING_WINDOW ? DOCTOR_COUPLING_WINDOW : n;
            uint64_t m = rises_mask(sig + (n - take), take);
            tr[ntr].name = name;
            tr[ntr].kind = group ? "group" : "subscription";
            tr[ntr].rose = m;
            tr[ntr].nrose = __builtin_popcountll(m);
            ntr++;
        }
    }
    for (int a = 0; a < ntr; a++) {
        if (tr[a].nrose < DOCTOR_COUPLING_MIN_STEPS)
            continue;
        for (int c = a + 1; c < ntr; c++) {
            if (tr[c].nrose < DOCTOR_COUPLING_MIN_STEPS)
                continue;
            int inter = __builtin_popcountll(tr[a].rose & tr[c].rose);
            int uni = __builtin_popcountll(tr[a].rose | tr[c].rose);
            double overlap = uni ? (double)inter / (double)uni : 0;
            if (overlap < DOCTOR_COUPLING_OVERLAP)
                continue;
            json_t *f = finding(d, "fail_together", SEV_WARNING,
                                "%s %s and %s %s got worse together in %d of %d troubled samples",
                                tr[a].kind, tr[a].name, tr[c].kind, tr[c].name, inter, uni);
            json_t *who = json_array();
            for (int k = 0; k < 2; k++) {
                const trouble_t *x = k == 0 ? &tr[a] : &tr[c];
                json_t *o = json_object();
                json_object_set_new(o, "kind", json_string(x->kind));
                json_object_set_new(o, "id", json_string(x->name));
                json_array_append_new(who, o);
            }
            json_object_set_new(f, "consumers", who);
            json_object_set_new(f, "shared_samples", json_integer(inter));
            json_object_set_new(f, "overlap", json_real(round(overlap * 1000.0) / 1000.0));
        }
    }
}

/* ---- the document ---- */

static json_t *thresholds(void)
{
    json_t *t = json_object();
    json_object_set_new(t, "min_records", json_integer(DOCTOR_MIN_RECORDS));
    json_object_set_new(t, "overproduced_ratio", json_integer(DOCTOR_OVERPRODUCED_RATIO));
    json_object_set_new(t, "overproduced_min_records", json_integer(DOCTOR_OVERPRODUCED_MIN));
    json_object_set_new(t, "untraced_share", json_real(DOCTOR_UNTRACED_SHARE));
    json_object_set_new(t, "growth_samples", json_integer(DOCTOR_GROWTH_STEPS));
    json_object_set_new(t, "growth_error_samples", json_integer(DOCTOR_GROWTH_ERROR_STEPS));
    json_object_set_new(t, "dead_letter_window_samples", json_integer(DOCTOR_WINDOW));
    json_object_set_new(t, "coupling_window_samples", json_integer(DOCTOR_COUPLING_WINDOW));
    json_object_set_new(t, "coupling_min_samples", json_integer(DOCTOR_COUPLING_MIN_STEPS));
    json_object_set_new(t, "coupling_overlap", json_real(DOCTOR_COUPLING_OVERLAP));
    return t;
}

json_t *obs_doctor_json(broker_t *b, const json_t *catalog, obs_subject_exists_fn has_subject,
                        void *hctx, obs_sub_topic_fn sub_topic, void *sctx)
{
    doc_t d = {json_array(), {0}, {0}};
    topic_ctx_t tc = {&d, b, has_subject, hctx, 0, 0, 0};
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(catalog, "topics"), i, t) check_topic(&tc, t);
    for (int k = 0; k < brk.n; k++) {
        json_t *f = finding(&d, "breaking_change", SEV_WARNING,
                            "subject %s: %llu incompatible registrations refused", brk.subject[k],
                            (unsigned long long)brk.count[k]);
        json_object_set_new(f, "subject", json_string(brk.subject[k]));
        json_object_set_new(f, "attempts", json_integer((json_int_t)brk.count[k]));
    }
    check_history(&d, b, sub_topic, sctx);

    json_t *j = json_object();
    const char *status = d.counts[SEV_ERROR] ? "error" : d.counts[SEV_WARNING] ? "warning" : "ok";
    json_object_set_new(j, "status", json_string(status));
    json_object_set_new(j, "time", json_integer(hd_wall_ms()));
    json_object_set_new(j, "catalog", json_incref(json_object_get(catalog, "enabled")));
    json_object_set_new(j, "sample_interval_ms", json_integer(obs__history_interval_ms()));
    json_object_set_new(j, "samples", json_integer(obs__history_samples()));
    json_t *counts = json_object();
    for (int s = 0; s < 3; s++)
        json_object_set_new(counts, sev_names[s], json_integer(d.counts[s]));
    json_object_set_new(j, "counts", counts);
    json_t *tr = json_object();
    json_object_set_new(tr, "records", json_integer((json_int_t)tc.classified));
    json_object_set_new(tr, "traced", json_integer((json_int_t)tc.traced));
    json_object_set_new(tr, "untraced_share",
                        tc.classified ? json_real(round((double)(tc.classified - tc.traced) *
                                                        1000.0 / (double)tc.classified) /
                                                  1000.0)
                                      : json_null());
    json_object_set_new(j, "trace_context", tr);
    json_t *cs = json_array();
    for (int k = 0; k < NCHECKS; k++) {
        json_t *c = json_object();
        json_object_set_new(c, "check", json_string(checks[k].check));
        json_object_set_new(c, "category", json_string(checks[k].category));
        json_object_set_new(c, "title", json_string(checks[k].title));
        json_object_set_new(c, "findings", json_integer(d.per_check[k]));
        json_array_append_new(cs, c);
    }
    json_object_set_new(j, "checks", cs);
    json_object_set_new(j, "thresholds", thresholds());
    json_object_set_new(j, "findings", d.findings);
    return j;
}
