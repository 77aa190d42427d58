/* The engine and its subscriptions: settings, creation, loading at start, deletion, stats, and
 * the tick that drives timers, the delay store and compaction.
 *
 * On disk, under the data directory:
 *   __subscriptions/<name>/state/    the state log (state.c)
 *   __subscriptions/<name>/delays/   the delay store (delay.c)
 * A subscription exists iff its state log holds its settings. Creation writes them first and
 * answers once they are durable; a directory left without them by a crash is removed at start.
 * Deletion closes both logs, renames the directory to "<name>#deleting" ('#' is never in a
 * name), and then removes it; a start removes any such directory left by a crash.
 *
 * A topic deleted and created again under the same name is another topic (another id): the
 * offsets of a subscription's state mean nothing there. When a subscription finds its topic's id
 * changed (at each lookup and each tick), it starts over: its state is closed and its directory
 * renamed to "<name>#resetting", the subscription is created again with the same settings at
 * the new topic's beginning, and the old directory is removed once the new state is durable. A
 * start that finds "<name>#resetting" removes it if "<name>" loads, and otherwise (a crash
 * before the new state was durable) puts it back, so the subscription is never lost: the old
 * state then finds the changed id again and starts over again. */
#include "delivery/delivery_int.h"
#include "util/err.h"
#include "util/fileio.h"
#include "util/mem.h"
#include "util/monotime.h"
#include "util/say.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define SUBS_DIR "__subscriptions"
#define DELETING_SUFFIX "#deleting"
#define RESETTING_SUFFIX "#resetting"
#define STATE_SEGMENT_BYTES (16 << 20)
#define DELAY_SEGMENT_BYTES (16 << 20)

/* ---- settings ---- */

void delivery_settings_defaults(delivery_settings_t *s)
{
    memset(s, 0, sizeof *s);
    s->ack_timeout_ms = 30000;
    s->max_deliveries = 0;
    s->backoff.initial_ms = 1000;
    s->backoff.multiplier = 2.0;
    s->backoff.max_ms = 60000;
    s->backoff.jitter = 0.2;
    s->ordering = DELIVERY_ORDER_NONE;
    s->start = DELIVERY_START_LATEST;
}

static bool name_valid(const char *n, size_t max)
{
    size_t len = n ? strlen(n) : 0;
    if (len == 0 || len > max || !strcmp(n, ".") || !strcmp(n, ".."))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

int delivery_settings_check(const delivery_settings_t *s, const char **why)
{
    if (!name_valid(s->name, DELIVERY_NAME_MAX)) {
        *why = "name must be 1-200 characters of [a-zA-Z0-9._-] (not . or ..)";
        return HD_EINVAL;
    }
    if (!s->topic || !broker_topic_name_valid(s->topic)) {
        *why = "topic is not a valid topic name";
        return HD_EINVAL;
    }
    if (s->partitions) {
        if (s->npartitions < 1 || s->npartitions > DELIVERY_MAX_PARTITIONS) {
            *why = "partitions must list 1 to 1024 partitions";
            return HD_EINVAL;
        }
        for (int i = 0; i < s->npartitions; i++)
            if (s->partitions[i] < 0 || s->partitions[i] >= DELIVERY_MAX_PARTITIONS) {
                *why = "partitions must be in [0, 1024)";
                return HD_EINVAL;
            }
    }
    if (s->ack_timeout_ms < 100 || s->ack_timeout_ms > 12 * 3600 * 1000) {
        *why = "ack_timeout_ms must be in [100, 43200000]";
        return HD_EINVAL;
    }
    if (s->max_deliveries < 0 || s->max_deliveries > 1000000) {
        *why = "max_deliveries must be in [0, 1000000] (0: unlimited)";
        return HD_EINVAL;
    }
    const delivery_backoff_t *b = &s->backoff;
    if (b->initial_ms < 0 || b->initial_ms > 86400000 || b->max_ms < b->initial_ms ||
        b->max_ms > 86400000) {
        *why = "backoff needs 0 <= initial_ms <= max_ms <= 86400000";
        return HD_EINVAL;
    }
    if (!(b->multiplier >= 1.0 && b->multiplier <= 100.0)) {
        *why = "backoff.multiplier must be in [1, 100]";
        return HD_EINVAL;
    }
    if (!(b->jitter >= 0.0 && b->jitter <= 1.0)) {
        *why = "backoff.jitter must be in [0, 1]";
        return HD_EINVAL;
    }
    if (s->dead_letter_topic && s->dead_letter_topic[0]) {
        if (!broker_topic_name_valid(s->dead_letter_topic)) {
            *why = "dead_letter_topic is not a valid topic name";
            return HD_EINVAL;
        }
        if (!strcmp(s->dead_letter_topic, s->topic)) {
            *why = "dead_letter_topic must differ from topic";
            return HD_EINVAL;
        }
    }
    if (s->filter_type && strlen(s->filter_type) > 255) {
        *why = "filter.type is longer than 255 bytes";
        return HD_EINVAL;
    }
    if (s->filter_key && strlen(s->filter_key) > 4096) {
        *why = "filter.key is longer than 4096 bytes";
        return HD_EINVAL;
    }
    if (s->ordering != DELIVERY_ORDER_NONE && s->ordering != DELIVERY_ORDER_KEY) {
        *why = "ordering must be none or key";
        return HD_EINVAL;
    }
    return 0;
}

/* ---- small helpers ---- */

int64_t dl__now(delivery_t *d) { return d->now_ms ? d->now_ms() : hd_wall_ms(); }

uint64_t dl__rand64(delivery_t *d)
{
    /* xorshift64*: receipts only need to be unguessable by accident, not by an attacker who
     * can already ack on this subscription. */
    uint64_t x = d->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    d->rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

double dl__rand01(delivery_t *d) { return (double)(dl__rand64(d) >> 11) / 9007199254740992.0; }

void delivery_set_clock(delivery_t *d, int64_t (*now_ms)(void)) { d->now_ms = now_ms; }

bool dl__part_selected(const delivery_sub_t *s, int32_t p)
{
    if (p < 0 || p >= DELIVERY_MAX_PARTITIONS)
        return false;
    if (!s->set.partitions)
        return true;
    for (int i = 0; i < s->set.npartitions; i++)
        if (s->set.partitions[i] == p)
            return true;
    return false;
}

dl_part_t *dl__part(delivery_sub_t *s, int32_t p)
{
    if (!dl__part_selected(s, p))
        return NULL;
    if (p >= s->nparts) {
        s->parts = hd_realloc(s->parts, sizeof *s->parts * (size_t)(p + 1));
        for (int32_t i = s->nparts; i <= p; i++)
            s->parts[i] = NULL;
        s->nparts = p + 1;
    }
    if (!s->parts[p]) {
        dl_part_t *dp = hd_calloc(1, sizeof *dp);
        dl_window_init(&dp->win, 0);
        dp->sub = s;
        s->parts[p] = dp;
    }
    return s->parts[p];
}

static char *subs_path(delivery_t *d, const char *rel)
{
    const char *dd = broker_config(d->b)->data_dir;
    size_t n = strlen(dd) + strlen(rel) + 2;
    char *p = hd_malloc(n);
    snprintf(p, n, "%s/%s", dd, rel);
    return p;
}

/* Removes dir and everything below it (two levels: the logs' directories and their files). */
static void remove_tree(const char *dir)
{
    DIR *dh = opendir(dir);
    if (!dh)
        return;
    struct dirent *e;
    while ((e = readdir(dh))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        char *p = hd_malloc(n);
        snprintf(p, n, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(p);
        else
            unlink(p);
        free(p);
    }
    closedir(dh);
    rmdir(dir);
}

/* ---- lifecycle of one subscription ---- */

static delivery_sub_t *sub_alloc(delivery_t *d)
{
    delivery_sub_t *s = hd_calloc(1, sizeof *s);
    s->d = d;
    s->rpart = -1;
    hd_buf_init(&s->wbatch);
    hd_buf_init(&s->wrec);
    hd_buf_init(&s->dbatch);
    hd_buf_init(&s->rbuf);
    hd_buf_init(&s->rscratch);
    return s;
}

static int sub_open_logs(delivery_sub_t *s, const char *name)
{
    size_t n = strlen(SUBS_DIR) + strlen(name) + 16;
    s->dir = hd_malloc(n);
    snprintf(s->dir, n, "%s/%s", SUBS_DIR, name);
    char *st = hd_malloc(n), *dl = hd_malloc(n);
    snprintf(st, n, "%s/state", s->dir);
    snprintf(dl, n, "%s/delays", s->dir);
    int rc = broker_internal_open(s->d->b, st, STATE_SEGMENT_BYTES, &s->state);
    if (rc == 0)
        rc = broker_internal_open(s->d->b, dl, DELAY_SEGMENT_BYTES, &s->delays);
    free(st);
    free(dl);
    return rc;
}

/* Frees everything; waiters fire with err. Logs are closed (destroyed with destroy). */
static void sub_free(delivery_sub_t *s, int err, bool destroy)
{
    if (!s)
        return;
    s->deleted = true;
    while (s->waiters) {
        delivery_waiter_t *w = s->waiters;
        delivery_waiter_cancel(w);
        w->cb(w, err);
    }
    dl__parts_disarm(s);
    dl__dead_cancel_all(s);
    broker_waiter_cancel(&s->compact_w);
    if (!destroy && s->delays) {
        /* A clean close syncs the delay store, which makes every PARK durable: settle the
         * parked records now, so that the next start does not park them twice. */
        dl__delay_flush(s);
        broker_waiter_cancel(&s->park_w);
        broker_internal_close(s->delays, false);
        s->delays = NULL;
        dl__delay_close_parks(s);
    }
    dl__delay_deinit(s);
    if (!destroy)
        dl__st_flush(s);
    broker_internal_close(s->state, destroy);
    broker_internal_close(s->delays, destroy);
    s->state = s->delays = NULL;
    dl__entries_free_all(s);
    for (int32_t i = 0; i < s->nparts; i++)
        free(s->parts[i]);
    free(s->parts);
    free(s->removed);
    dl__settings_free(s);
    hd_buf_deinit(&s->wbatch);
    hd_buf_deinit(&s->wrec);
    hd_buf_deinit(&s->dbatch);
    hd_buf_deinit(&s->rbuf);
    hd_buf_deinit(&s->rscratch);
    free(s->dir);
    free(s);
}

static void subs_push(delivery_t *d, delivery_sub_t *s)
{
    if (d->nsubs == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->subs = hd_realloc(d->subs, sizeof *d->subs * (size_t)d->cap);
    }
    d->subs[d->nsubs++] = s;
}

static void sub_load(delivery_t *d, const char *name)
{
    delivery_sub_t *s = sub_alloc(d);
    int rc = sub_open_logs(s, name);
    if (rc == 0)
        rc = dl__st_replay(s);
    if (rc == 0)
        rc = dl__delay_replay(s);
    if (rc == 0 && strcmp(s->set.name, name)) {
        say_warn("subscription %s: its settings name %s; ignored", name, s->set.name);
        rc = HD_ECORRUPT;
    }
    if (rc < 0) {
        say_warn("subscription %s: cannot load (%s); %s", name, hd_strerror(rc),
                 rc == HD_ENOTFOUND ? "removing its unfinished creation" : "left as it is");
        char *dir = s->dir ? hd_strdup(s->dir) : NULL;
        sub_free(s, HD_ECLOSED, false);
        if (rc == HD_ENOTFOUND && dir) {
            char *full = subs_path(d, dir);
            remove_tree(full);
            free(full);
        }
        free(dir);
        return;
    }
    subs_push(d, s);
}

/* delivery_sub_find() without its check of the topic's id. */
static delivery_sub_t *find_raw(delivery_t *d, const char *name)
{
    for (int i = 0; i < d->nsubs; i++)
        if (!strcmp(d->subs[i]->set.name, name))
            return d->subs[i];
    return NULL;
}

/* The full path of "<name>#resetting". */
static char *resetting_path(delivery_t *d, const char *name)
{
    size_t n = strlen(SUBS_DIR) + strlen(name) + sizeof RESETTING_SUFFIX + 2;
    char *rel = hd_malloc(n);
    snprintf(rel, n, "%s/%s%s", SUBS_DIR, name, RESETTING_SUFFIX);
    char *full = subs_path(d, rel);
    free(rel);
    return full;
}

/* "<name>#resetting" found at start (see the top of the file). */
static void reset_recover(delivery_t *d, const char *name)
{
    size_t n = strlen(SUBS_DIR) + strlen(name) + 2;
    char *rel = hd_malloc(n);
    snprintf(rel, n, "%s/%s", SUBS_DIR, name);
    char *dir = subs_path(d, rel), *old = resetting_path(d, name);
    if (find_raw(d, name)) {
        remove_tree(old);
    } else if (rename(old, dir) == 0) {
        char *root = subs_path(d, SUBS_DIR);
        hd_io_fsync_dir(root);
        free(root);
        say_warn("subscription %s: its start-over was interrupted; the previous state is back",
                 name);
        sub_load(d, name);
    } else {
        say_warn("subscription %s: cannot put back %s: %s", name, old, strerror(errno));
    }
    free(rel);
    free(dir);
    free(old);
}

/* ---- the engine ---- */

int delivery_open(broker_t *b, delivery_t **out)
{
    delivery_t *d = hd_calloc(1, sizeof *d);
    d->b = b;
    if (getrandom(&d->rng, sizeof d->rng, 0) != sizeof d->rng || d->rng == 0)
        d->rng = (uint64_t)hd_wall_ms() * 2654435761u + (uint64_t)getpid();
    if (d->rng == 0)
        d->rng = 1;
    char *root = subs_path(d, SUBS_DIR);
    DIR *dh = opendir(root);
    if (dh) {
        struct dirent *e;
        char **names = NULL;
        size_t n = 0;
        while ((e = readdir(dh))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            names = hd_realloc(names, sizeof *names * (n + 1));
            names[n++] = hd_strdup(e->d_name);
        }
        closedir(dh);
        for (size_t i = 0; i < n; i++) {
            size_t l = strlen(names[i]), sl = strlen(DELETING_SUFFIX);
            if (l > sl && !strcmp(names[i] + l - sl, DELETING_SUFFIX)) {
                char *full = hd_malloc(strlen(root) + l + 2);
                sprintf(full, "%s/%s", root, names[i]);
                remove_tree(full);
                free(full);
            } else if (name_valid(names[i], DELIVERY_NAME_MAX)) {
                sub_load(d, names[i]);
            }
        }
        /* After every load: a start-over that a crash interrupted. */
        for (size_t i = 0; i < n; i++) {
            size_t l = strlen(names[i]), sl = strlen(RESETTING_SUFFIX);
            if (l > sl && !strcmp(names[i] + l - sl, RESETTING_SUFFIX)) {
                names[i][l - sl] = '\0';
                if (name_valid(names[i], DELIVERY_NAME_MAX))
                    reset_recover(d, names[i]);
            }
            free(names[i]);
        }
        free(names);
    }
    free(root);
    if (d->nsubs)
        say_info("delivery: %d subscriptions loaded", d->nsubs);
    *out = d;
    return 0;
}

void delivery_close(delivery_t *d)
{
    if (!d)
        return;
    for (int i = 0; i < d->nsubs; i++)
        sub_free(d->subs[i], HD_ECLOSED, false);
    free(d->subs);
    for (int i = 0; i < d->nresets; i++)
        free(d->resets[i].name);
    free(d->resets);
    free(d);
}

/* ---- starting over on a recreated topic (see the top of the file) ---- */

static void resets_note(delivery_t *d, const char *name, int64_t at)
{
    for (int i = 0; i < d->nresets; i++)
        if (!strcmp(d->resets[i].name, name)) {
            d->resets[i].at = at;
            return;
        }
    d->resets = hd_realloc(d->resets, sizeof *d->resets * (size_t)(d->nresets + 1));
    d->resets[d->nresets++] = (dl_reset_t){hd_strdup(name), at};
}

/* Removes the previous state of each start-over whose new state is durable. A subscription
 * deleted meanwhile took it along (delivery_sub_delete). */
static void resets_tick(delivery_t *d)
{
    for (int i = 0; i < d->nresets;) {
        dl_reset_t *r = &d->resets[i];
        delivery_sub_t *s = find_raw(d, r->name);
        if (s && s->state && broker_partition_hwm(s->state) < r->at) {
            i++;
            continue;
        }
        if (s) {
            char *old = resetting_path(d, r->name);
            remove_tree(old);
            free(old);
        }
        free(r->name);
        d->resets[i] = d->resets[--d->nresets];
    }
}

/* s's topic was deleted and created again: s is closed and created anew, at the new topic's
 * beginning. Returns the new subscription, or NULL (logged) when it could not be created; its
 * previous state then stays in "<name>#resetting" and comes back at the next start. */
static delivery_sub_t *sub_start_over(delivery_t *d, delivery_sub_t *s)
{
    /* The settings outlive s: take its copies of them. */
    delivery_settings_t set = s->set;
    set.start = DELIVERY_START_EARLIEST;
    char *bufs[] = {s->name_buf, s->topic_buf, s->dlq_buf, s->ftype_buf, s->fkey_buf};
    int32_t *parts = s->parts_buf;
    s->name_buf = s->topic_buf = s->dlq_buf = s->ftype_buf = s->fkey_buf = NULL;
    s->parts_buf = NULL;
    int i = 0;
    while (d->subs[i] != s)
        i++;
    memmove(d->subs + i, d->subs + i + 1, sizeof *d->subs * (size_t)(d->nsubs - i - 1));
    d->nsubs--;
    char *dir = subs_path(d, s->dir), *old = resetting_path(d, set.name);
    sub_free(s, HD_ENOTFOUND, false);
    struct stat st;
    if (stat(old, &st) == 0) {
        /* An earlier start-over's previous state, not yet removed: the one to fall back on. */
        remove_tree(dir);
    } else if (rename(dir, old) == 0) {
        char *root = subs_path(d, SUBS_DIR);
        hd_io_fsync_dir(root);
        free(root);
    } else {
        say_warn("subscription %s: cannot keep its previous state (%s); starting over without",
                 set.name, strerror(errno));
    }
    delivery_sub_t *n = NULL;
    int64_t at = 0;
    const char *why = "";
    int rc = delivery_sub_create(d, &set, &n, &at, &why);
    if (rc < 0) {
        say_error("subscription %s: topic %s was created again, and the subscription cannot "
                  "start over on it (%s: %s); its previous state comes back at the next start",
                  set.name, set.topic, hd_strerror(rc), why);
    } else {
        resets_note(d, set.name, at);
        say_warn("subscription %s: topic %s was deleted and created again; the subscription "
                 "starts over at its beginning",
                 set.name, set.topic);
    }
    for (size_t k = 0; k < sizeof bufs / sizeof *bufs; k++)
        free(bufs[k]);
    free(parts);
    free(dir);
    free(old);
    return n;
}

/* s, or what it became if its topic was created again since (NULL if that failed). A state
 * written before topic ids were kept adopts the topic's id. */
static delivery_sub_t *check_topic(delivery_t *d, delivery_sub_t *s)
{
    broker_topic_t *t = broker_topic_find(d->b, s->set.topic);
    if (!t || (s->has_topic_id && !memcmp(s->topic_id, broker_topic_id(t), sizeof s->topic_id)))
        return s;
    if (s->has_topic_id)
        return sub_start_over(d, s);
    memcpy(s->topic_id, broker_topic_id(t), sizeof s->topic_id);
    s->has_topic_id = true;
    dl__st_config(s);
    return s;
}

void delivery_tick(delivery_t *d)
{
    int64_t now = dl__now(d);
    for (int i = 0; i < d->nsubs;) {
        delivery_sub_t *s = d->subs[i];
        if (check_topic(d, s) != s)
            continue; /* s left the list at i; what it became is last */
        dl__timers(s, now);
        dl__delay_tick(s, now);
        dl__st_maybe_compact(s, false);
        dl__st_flush(s);
        i++;
    }
    resets_tick(d);
}

/* ---- subscriptions ---- */

delivery_sub_t *delivery_sub_find(delivery_t *d, const char *name)
{
    delivery_sub_t *s = find_raw(d, name);
    return s ? check_topic(d, s) : NULL;
}

int delivery_sub_count(const delivery_t *d) { return d->nsubs; }
delivery_sub_t *delivery_sub_at(delivery_t *d, int i)
{
    return i >= 0 && i < d->nsubs ? d->subs[i] : NULL;
}
const delivery_settings_t *delivery_sub_settings(const delivery_sub_t *s) { return &s->set; }

int delivery_sub_create(delivery_t *d, const delivery_settings_t *in, delivery_sub_t **out,
                        int64_t *durable_at, const char **why)
{
    int rc = delivery_settings_check(in, why);
    if (rc < 0)
        return rc;
    if (find_raw(d, in->name)) {
        *why = "a subscription of that name exists";
        return HD_EEXIST;
    }
    broker_topic_t *t = broker_topic_find(d->b, in->topic);
    if (!t) {
        *why = "no such topic";
        return HD_ENOTFOUND;
    }
    delivery_settings_t set = *in;
    char dlq[DELIVERY_NAME_MAX + 8];
    if (set.max_deliveries > 0 && !(set.dead_letter_topic && set.dead_letter_topic[0])) {
        snprintf(dlq, sizeof dlq, "%s-dlq", set.name);
        set.dead_letter_topic = dlq;
        if (!strcmp(dlq, set.topic)) {
            *why = "the default dead-letter topic <name>-dlq is the topic itself";
            return HD_EINVAL;
        }
    }
    if (set.dead_letter_topic && set.dead_letter_topic[0] &&
        !broker_topic_find(d->b, set.dead_letter_topic)) {
        broker_topic_t *dt;
        rc = broker_topic_create(d->b, set.dead_letter_topic, 1, NULL, 0, false, &dt, why);
        if (rc < 0 && rc != HD_EEXIST)
            return rc;
    }
    /* A directory left behind (by a crash during a creation or deletion) goes first. */
    char rel[DELIVERY_NAME_MAX + 32];
    snprintf(rel, sizeof rel, "%s/%s", SUBS_DIR, set.name);
    char *full = subs_path(d, rel);
    remove_tree(full);
    free(full);
    delivery_sub_t *s = sub_alloc(d);
    dl__settings_copy(s, &set);
    rc = sub_open_logs(s, set.name);
    if (rc < 0) {
        *why = "cannot create its state in the data directory";
        sub_free(s, HD_ECLOSED, true);
        return rc;
    }
    memcpy(s->topic_id, broker_topic_id(t), sizeof s->topic_id);
    s->has_topic_id = true;
    dl__st_config(s);
    int32_t np = broker_topic_partitions(t);
    for (int32_t p = 0; p < np; p++) {
        dl_part_t *dp = dl__part(s, p);
        if (!dp)
            continue;
        broker_partition_t *bp = broker_topic_partition(t, p);
        int64_t floor = set.start == DELIVERY_START_EARLIEST ? broker_partition_start(bp)
                                                             : broker_partition_hwm(bp);
        dl_window_init(&dp->win, floor);
        dp->next = floor;
        dp->known = true;
        dl__st_floor(s, p, floor);
    }
    dl__st_counters(s);
    *durable_at = dl__st_flush(s);
    subs_push(d, s);
    *out = s;
    return 0;
}

int delivery_sub_delete(delivery_t *d, const char *name)
{
    int i = 0;
    while (i < d->nsubs && strcmp(d->subs[i]->set.name, name))
        i++;
    if (i == d->nsubs)
        return HD_ENOTFOUND;
    delivery_sub_t *s = d->subs[i];
    memmove(d->subs + i, d->subs + i + 1, sizeof *d->subs * (size_t)(d->nsubs - i - 1));
    d->nsubs--;
    char *dir = subs_path(d, s->dir);
    /* The state a start-over left to fall back on would otherwise come back at the next start. */
    char *old = resetting_path(d, s->set.name);
    sub_free(s, HD_ENOTFOUND, false);
    size_t n = strlen(dir) + sizeof DELETING_SUFFIX;
    char *gone = hd_malloc(n);
    snprintf(gone, n, "%s%s", dir, DELETING_SUFFIX);
    int rc = 0;
    if (rename(dir, gone) == 0) {
        char *root = subs_path(d, SUBS_DIR);
        hd_io_fsync_dir(root);
        free(root);
        remove_tree(gone);
    } else {
        rc = -errno;
        remove_tree(dir);
    }
    remove_tree(old);
    free(old);
    free(dir);
    free(gone);
    return rc == -ENOENT ? 0 : rc;
}

void delivery_sub_wait(delivery_sub_t *s, int64_t durable_at, broker_waiter_t *w)
{
    if (!s->state || durable_at == INT64_MAX) {
        w->_part = NULL;
        w->cb(w, -EIO);
        return;
    }
    w->target = durable_at;
    broker_waiter_add(s->state, w);
}

/* ---- stats ---- */

static int first_ts(void *ctx, const broker_record_t *rec)
{
    *(int64_t *)ctx = rec->timestamp;
    return 1;
}

void delivery_sub_stats(delivery_sub_t *s, delivery_stats_t *out)
{
    memset(out, 0, sizeof *out);
    int64_t now = dl__now(s->d);
    broker_topic_t *t = broker_topic_find(s->d->b, s->set.topic);
    int32_t np = t ? broker_topic_partitions(t) : 0;
    int64_t oldest = INT64_MAX;
    for (int32_t p = 0; p < np && p < DELIVERY_MAX_PARTITIONS; p++) {
        dl_part_t *dp = dl__part(s, p);
        if (!dp)
            continue;
        broker_partition_t *bp = broker_topic_partition(t, p);
        int64_t hwm = broker_partition_hwm(bp), floor = dp->win.floor;
        if (floor < broker_partition_start(bp))
            floor = broker_partition_start(bp);
        if (hwm <= floor)
            continue;
        int64_t settled = floor == dp->win.floor ? dl_window_count(&dp->win) : 0;
        out->backlog += hwm - floor - settled;
        int64_t ts = INT64_MAX;
        dl__scan(bp, floor, floor + 1, first_ts, &ts);
        if (ts < oldest)
            oldest = ts;
    }
    out->in_flight = s->leased;
    /* Parked records count once they are in the delay store (their park is then finishing). */
    out->scheduled = (int64_t)s->nheap - s->leased + dl__delay_remaining(s);
    for (dl_entry_t *e = s->ready_head; e; e = e->qnext)
        if (e->count > 0)
            out->scheduled++; /* due redeliveries not handed out yet */
    /* Records settled in the window but not done: parked in the delay store, or handed back
     * below the floor (by the store or a redrive). */
    int64_t parking = 0; /* in the delay store already, and still unsettled in the window */
    for (dl_entry_t *e = s->park_head; e; e = e->qnext)
        parking += e->token != 0;
    out->backlog += dl__delay_remaining(s) - parking;
    for (uint32_t b = 0; b < s->nbuckets; b++)
        for (dl_entry_t *e = s->buckets[b]; e; e = e->hnext) {
            dl_part_t *dp = e->partition < s->nparts ? s->parts[e->partition] : NULL;
            if (dp && e->offset < dp->win.floor)
                out->backlog++;
        }
    out->dead_lettered = s->dead_lettered;
    out->oldest_unacked_ms = oldest == INT64_MAX || oldest > now ? 0 : now - oldest;
}
