/* Topic settings: their defaults (the broker's config), parsing and validation of Kafka's topic
 * config names, DescribeConfigs' view, and altering them on a live topic (AlterConfigs and
 * IncrementalAlterConfigs). A topic's explicit overrides are kept as name=value pairs in
 * broker_topic (and in its definition file, see broker.c); its broker_topic_config_t is the
 * defaults with the overrides applied in order. Loop thread only. */
#include "broker/broker_int.h"
#include "broker/topic_config.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/say.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* compression.type values, indexed by codec + 1 (producer = -1). */
static const char *const compression_names[] = {"producer", "uncompressed", "gzip",
                                                "snappy",   "lz4",          "zstd"};

void broker__topic_config_defaults(const hd_config_t *c, broker_topic_config_t *tc)
{
    memset(tc, 0, sizeof *tc);
    tc->retention_ms = c->retention_ms;
    tc->retention_bytes = c->retention_bytes;
    tc->segment_bytes = c->segment_bytes;
    tc->segment_ms = c->roll_ms;
    tc->max_message_bytes = c->message_max_bytes;
    tc->index_interval_bytes = c->index_interval_bytes;
    tc->preallocate = c->preallocate;
    tc->log_append_time = false;
    tc->compression = -1;
    snprintf(tc->cleanup_policy, sizeof tc->cleanup_policy, "delete");
    tc->cleanup_delete = true;
}

/* cleanup.policy: a comma-separated list of "delete" and "compact" (spaces around items
 * allowed, as Kafka's list parser does); stored normalized, e.g. "compact,delete". */
static int cleanup_policy_set(broker_topic_config_t *tc, const char *value, const char **why)
{
    bool del = false, compact = false;
    const char *p = value;
    for (;;) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, ",");
        size_t m = n;
        while (m > 0 && p[m - 1] == ' ')
            m--;
        if (m == 6 && !strncmp(p, "delete", 6))
            del = true;
        else if (m == 7 && !strncmp(p, "compact", 7))
            compact = true;
        else {
            *why = "cleanup.policy must be a list of 'delete' and 'compact'";
            return HD_EINVAL;
        }
        if (!p[n])
            break;
        p += n + 1;
    }
    snprintf(tc->cleanup_policy, sizeof tc->cleanup_policy, "%s",
             compact && del ? "compact,delete"
             : compact      ? "compact"
                            : "delete");
    tc->cleanup_delete = del;
    return 0;
}

static int parse_i64(const char *s, int64_t *out)
{
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno)
        return HD_EINVAL;
    *out = v;
    return 0;
}

/* Applies one topic config; returns 0 or HD_EINVAL with *why. */
int broker__topic_config_set(broker_topic_config_t *tc, const char *name, const char *value,
                             const char **why)
{
    if (!value) {
        *why = "config value must not be null";
        return HD_EINVAL;
    }
    for (const char *c = value; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            /* The definition file holds one setting per line. */
            *why = "config values must not contain control characters";
            return HD_EINVAL;
        }
    int64_t v;
#define SET_INT(key, member, bmember, lo)                                                          \
    if (!strcmp(name, key)) {                                                                      \
        if (parse_i64(value, &v) < 0 || v < (lo) ||                                                \
            (!strcmp(key, "segment.bytes") && v > INT32_MAX)) {                                    \
            *why = "invalid value for " key;                                                       \
            return HD_EINVAL;                                                                      \
        }                                                                                          \
        tc->member = v;                                                                            \
        return 0;                                                                                  \
    }
    BROKER_TOPIC_INT_CONFIGS(SET_INT)
#undef SET_INT
    if (!strcmp(name, "preallocate")) {
        if (strcmp(value, "true") && strcmp(value, "false")) {
            *why = "preallocate must be true or false";
            return HD_EINVAL;
        }
        tc->preallocate = !strcmp(value, "true");
        return 0;
    }
    if (!strcmp(name, "message.timestamp.type")) {
        if (!strcmp(value, "CreateTime"))
            tc->log_append_time = false;
        else if (!strcmp(value, "LogAppendTime"))
            tc->log_append_time = true;
        else {
            *why = "message.timestamp.type must be CreateTime or LogAppendTime";
            return HD_EINVAL;
        }
        return 0;
    }
    if (!strcmp(name, "cleanup.policy"))
        return cleanup_policy_set(tc, value, why);
    if (!strcmp(name, "compression.type")) {
        for (int i = 0; i < (int)(sizeof compression_names / sizeof compression_names[0]); i++)
            if (!strcmp(value, compression_names[i])) {
                tc->compression = (int8_t)(i - 1);
                return 0;
            }
        *why = "compression.type must be producer, uncompressed, gzip, snappy, lz4 or zstd";
        return HD_EINVAL;
    }
    if (!strcmp(name, "confluent.value.schema.validation") ||
        !strcmp(name, "confluent.key.schema.validation")) {
        if (strcmp(value, "true") && strcmp(value, "false")) {
            *why = "schema validation settings must be true or false";
            return HD_EINVAL;
        }
        if (name[10] == 'v')
            tc->value_schema_validation = !strcmp(value, "true");
        else
            tc->key_schema_validation = !strcmp(value, "true");
        tc->schema_validation = tc->value_schema_validation || tc->key_schema_validation;
        return 0;
    }
    if (!strcmp(name, "herald.schema.validation.mode")) {
        if (strcmp(value, "reject") && strcmp(value, "dlq")) {
            *why = "herald.schema.validation.mode must be reject or dlq";
            return HD_EINVAL;
        }
        tc->validation_dlq = !strcmp(value, "dlq");
        return 0;
    }
    if (!strcmp(name, "herald.value.schema.subject") ||
        !strcmp(name, "herald.key.schema.subject")) {
        char *dst = name[7] == 'v' ? tc->value_subject : tc->key_subject;
        size_t n = strlen(value);
        if (n == 0 || n >= sizeof tc->value_subject) {
            *why = "a schema subject is 1 to 255 bytes";
            return HD_EINVAL;
        }
        memcpy(dst, value, n + 1);
        return 0;
    }
    if (!strcmp(name, "herald.dead.letter.topic")) {
        if (!broker_topic_name_valid(value)) {
            *why = "herald.dead.letter.topic must be a valid topic name";
            return HD_EINVAL;
        }
        snprintf(tc->dead_letter_topic, sizeof tc->dead_letter_topic, "%s", value);
        return 0;
    }
    if (!strcmp(name, "min.insync.replicas")) {
        if (strcmp(value, "1")) {
            *why = "min.insync.replicas must be 1 on a single broker";
            return HD_EINVAL;
        }
        return 0;
    }
    *why = "unknown topic config";
    return HD_EINVAL;
}

static int override_index(const broker_topic_t *t, const char *key)
{
    for (int i = 0; i < t->noverrides; i++)
        if (!strcmp(t->override_names[i], key))
            return i;
    return -1;
}

static bool is_override(const broker_topic_t *t, const char *key)
{
    return override_index(t, key) >= 0;
}

int broker_topic_describe_config(const broker_topic_t *t, broker_config_entry_t *out, int max)
{
    int n = 0;
    const broker_topic_config_t *tc = &t->cfg;
#define IS_OVERRIDE(key) is_override(t, key)
#define ADD(key, fmt, val)                                                                         \
    if (n < max) {                                                                                 \
        out[n].name = key;                                                                         \
        snprintf(out[n].value, sizeof out[n].value, fmt, val);                                     \
        out[n].is_default = !is_override(t, key);                                                  \
        n++;                                                                                       \
    }
#define ADD_INT(key, member, bmember, lo) ADD(key, "%" PRId64, tc->member)
    BROKER_TOPIC_INT_CONFIGS(ADD_INT)
#undef ADD_INT
    ADD("preallocate", "%s", tc->preallocate ? "true" : "false");
    ADD("message.timestamp.type", "%s", tc->log_append_time ? "LogAppendTime" : "CreateTime");
    ADD("cleanup.policy", "%s", tc->cleanup_policy);
    ADD("compression.type", "%s", compression_names[tc->compression + 1]);
    ADD("min.insync.replicas", "%s", "1");
    ADD("confluent.value.schema.validation", "%s", tc->value_schema_validation ? "true" : "false");
    ADD("confluent.key.schema.validation", "%s", tc->key_schema_validation ? "true" : "false");
    ADD("herald.schema.validation.mode", "%s", tc->validation_dlq ? "dlq" : "reject");
    ADD("herald.value.schema.subject", "%s", tc->value_subject);
    ADD("herald.key.schema.subject", "%s", tc->key_subject);
    ADD("herald.dead.letter.topic", "%s", tc->dead_letter_topic);
#undef ADD
#undef IS_OVERRIDE
    return n;
}

void broker__log_config_of(const broker_topic_config_t *tc, log_config_t *lc)
{
    log_config_defaults(lc);
    lc->segment_bytes = tc->segment_bytes;
    lc->segment_ms = tc->segment_ms;
    /* Without "delete" in cleanup.policy nothing expires (see broker_topic_config_t). */
    lc->retention_ms = tc->cleanup_delete ? tc->retention_ms : -1;
    lc->retention_bytes = tc->cleanup_delete ? tc->retention_bytes : -1;
    lc->index_interval_bytes = (int32_t)tc->index_interval_bytes;
    lc->preallocate = tc->preallocate;
}

/* ---- altering a live topic's settings ---- */

/* The value a setting has among the pending overrides, or NULL (then its default applies). */
static const char *pending_value(char *const *names, char *const *values, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name))
            return values[i];
    return NULL;
}

/* Whether DescribeConfigs lists the setting: exactly those can be altered. */
static bool known_setting(const broker_topic_t *t, const char *name)
{
    broker_config_entry_t ents[40];
    int m = broker_topic_describe_config(t, ents, (int)(sizeof ents / sizeof ents[0]));
    for (int i = 0; i < m; i++)
        if (!strcmp(ents[i].name, name))
            return true;
    return false;
}

/* Kafka's list-type topic settings among those Herald knows, for APPEND and SUBTRACT. */
static bool is_list_config(const char *name) { return !strcmp(name, "cleanup.policy"); }

/* Whether the comma-separated list holds item. */
static bool list_has(const char *list, const char *item, size_t len)
{
    for (const char *s = list; *s;) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == len && !strncmp(s, item, len))
            return true;
        s = e ? e + 1 : s + n;
    }
    return false;
}

/* APPEND (add the items of `arg` not yet in `cur`) or SUBTRACT (drop them) on a list value;
 * returns a heap string. */
static char *list_edit(const char *cur, const char *arg, bool append)
{
    hd_buf_t out;
    hd_buf_init(&out);
    for (const char *s = cur; *s;) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n && (append || !list_has(arg, s, n))) {
            if (out.len)
                hd_buf_put_u8(&out, ',');
            hd_buf_put(&out, s, n);
        }
        s = e ? e + 1 : s + n;
    }
    if (append)
        for (const char *s = arg; *s;) {
            const char *e = strchr(s, ',');
            size_t n = e ? (size_t)(e - s) : strlen(s);
            hd_buf_put_u8(&out, '\0');
            out.len--;
            if (n && !list_has((const char *)out.p, s, n)) {
                if (out.len)
                    hd_buf_put_u8(&out, ',');
                hd_buf_put(&out, s, n);
            }
            s = e ? e + 1 : s + n;
        }
    hd_buf_put_u8(&out, '\0');
    return (char *)out.p;
}

static void free_pairs(char **names, char **values, int n)
{
    for (int i = 0; i < n; i++) {
        free(names[i]);
        free(values[i]);
    }
}

int broker_topic_alter_config(broker_t *b, broker_topic_t *t, const broker_config_op_t *ops,
                              int nops, bool replace, bool validate_only, const char **why)
{
    char *names[BROKER_MAX_OVERRIDES], *values[BROKER_MAX_OVERRIDES];
    int n = 0, rc = 0;
    if (!replace)
        for (; n < t->noverrides; n++) {
            names[n] = hd_strdup(t->override_names[n]);
            values[n] = hd_strdup(t->override_values[n]);
        }
    broker_topic_config_t tc;
    for (int i = 0; i < nops; i++) {
        const broker_config_op_t *op = &ops[i];
        /* Every op names a known setting, whatever it does. */
        if (!op->name || !known_setting(t, op->name)) {
            *why = "unknown topic config";
            rc = HD_EINVAL;
            goto fail;
        }
        int at = -1;
        for (int k = 0; k < n; k++)
            if (!strcmp(names[k], op->name))
                at = k;
        char *nv = NULL;
        switch (op->op) {
        case BROKER_CONFIG_SET:
            if (!op->value) {
                *why = "config value must not be null";
                rc = HD_EINVAL;
                goto fail;
            }
            nv = hd_strdup(op->value);
            break;
        case BROKER_CONFIG_DELETE:
            if (at >= 0) {
                free(names[at]);
                free(values[at]);
                memmove(names + at, names + at + 1, sizeof *names * (size_t)(n - at - 1));
                memmove(values + at, values + at + 1, sizeof *values * (size_t)(n - at - 1));
                n--;
            }
            continue;
        case BROKER_CONFIG_APPEND:
        case BROKER_CONFIG_SUBTRACT: {
            if (!is_list_config(op->name)) {
                *why = "APPEND and SUBTRACT apply only to list-type configs";
                rc = HD_EINVAL;
                goto fail;
            }
            if (!op->value) {
                *why = "config value must not be null";
                rc = HD_EINVAL;
                goto fail;
            }
            const char *cur = pending_value(names, values, n, op->name);
            nv = list_edit(cur ? cur : "delete", op->value, op->op == BROKER_CONFIG_APPEND);
            break;
        }
        default:
            *why = "unknown config operation";
            rc = HD_EINVAL;
            goto fail;
        }
        if (at >= 0) {
            free(values[at]);
            values[at] = nv;
        } else if (n == BROKER_MAX_OVERRIDES) {
            free(nv);
            *why = "too many config overrides";
            rc = HD_EINVAL;
            goto fail;
        } else {
            names[n] = hd_strdup(op->name);
            values[n++] = nv;
        }
    }
    /* The resulting settings must all be valid before anything changes. */
    broker__topic_config_defaults(b->cfg, &tc);
    for (int i = 0; i < n; i++)
        if ((rc = broker__topic_config_set(&tc, names[i], values[i], why)) < 0)
            goto fail;
    log_config_t lc;
    broker__log_config_of(&tc, &lc);
    if (lc.segment_bytes < LOG_BATCH_HEADER_LEN) {
        *why = "invalid value for segment.bytes";
        rc = HD_EINVAL;
        goto fail;
    }
    if (validate_only)
        goto fail; /* not a failure: frees the new pairs, rc is 0 */

    /* Swap the overrides in, write the definition durably, and only then apply. */
    char *old_names[BROKER_MAX_OVERRIDES], *old_values[BROKER_MAX_OVERRIDES];
    int old_n = t->noverrides;
    memcpy(old_names, t->override_names, sizeof old_names);
    memcpy(old_values, t->override_values, sizeof old_values);
    memcpy(t->override_names, names, sizeof names);
    memcpy(t->override_values, values, sizeof values);
    t->noverrides = n;
    if ((rc = broker__topic_save(b, t, t->nparts)) < 0) {
        memcpy(t->override_names, old_names, sizeof old_names);
        memcpy(t->override_values, old_values, sizeof old_values);
        t->noverrides = old_n;
        *why = "storage error writing the topic definition";
        goto fail;
    }
    free_pairs(old_names, old_values, old_n);
    t->cfg = tc;
    for (int32_t i = 0; i < t->nparts; i++)
        if (t->parts[i]->log)
            (void)log_partition_set_config(t->parts[i]->log, &lc); /* validated above */
    say_info("topic %s: configs altered (%d override(s))", t->name, n);
    return 0;
fail:
    free_pairs(names, values, n);
    return rc;
}
