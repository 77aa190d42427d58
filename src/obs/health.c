/* GET /health: whether this broker can still take writes and make them durable, for load
 * balancers, orchestrators (a readiness or liveness probe) and alerts. The architecture check of
 * the event system is another thing (doctor.c, GET /health/architecture).
 *
 * Checks (each pass, warn or fail, with what it saw):
 * - journal:writes: a failed journal write or sync leaves the journal refusing every append
 *   (log_journal_error) until the broker restarts: fail.
 * - journal:checkpoints: the last checkpoint failed (the journal keeps its files and grows, and
 *   a recovery would replay more): warn.
 * - partitions:syncs: partitions whose fdatasync failed acknowledge nothing more until a restart
 *   (log_partition_error): fail, naming the first few.
 * - process:open-files: more than 90 % of the open files limit in use: warn.
 * Reading them costs a walk over the opened partitions and over /proc/self/fd: cheap enough
 * for a probe every few seconds. */
#include "obs/obs.h"
#include "util/err.h"
#include "util/fdlimit.h"

#include <stdio.h>
#include <string.h>

#define HEALTH_FAILED_NAMES 8

enum { PASS, WARN, FAIL };
static const char *const status_names[] = {"pass", "warn", "fail"};

/* Adds checks[name] = [{status, observedValue, observedUnit, output}]; returns status. */
static int check(json_t *checks, const char *name, int status, json_t *value, const char *unit,
                 const char *output)
{
    json_t *c = json_object();
    json_object_set_new(c, "status", json_string(status_names[status]));
    if (value)
        json_object_set_new(c, "observedValue", value);
    if (unit)
        json_object_set_new(c, "observedUnit", json_string(unit));
    if (output)
        json_object_set_new(c, "output", json_string(output));
    json_t *arr = json_array();
    json_array_append_new(arr, c);
    json_object_set_new(checks, name, arr);
    return status;
}

static int worse(int a, int b) { return a > b ? a : b; }

static int check_journal(json_t *checks, broker_t *b)
{
    log_journal_stats_t js;
    if (!broker_journal_stats(b, &js))
        return PASS;
    char out[200];
    if (js.error)
        snprintf(out, sizeof out,
                 "appends are refused after a failed journal write or sync (%s); restart the "
                 "broker once the disk is fixed",
                 hd_strerror(js.error));
    int writes =
        check(checks, "journal:writes", js.error ? FAIL : PASS, NULL, NULL, js.error ? out : NULL);
    int ckpts =
        check(checks, "journal:checkpoints", js.checkpoint_failing ? WARN : PASS,
              json_integer(js.checkpoint_failures), "failures",
              js.checkpoint_failing ? "the last checkpoint failed: the journal keeps its "
                                      "files and grows until one succeeds (the log says why)"
                                    : NULL);
    return worse(writes, ckpts);
}

static int check_partitions(json_t *checks, broker_t *b)
{
    int64_t failed = 0;
    char out[512] = "";
    size_t used = 0;
    for (int i = 0; i < broker_topic_count(b); i++) {
        broker_topic_t *t = broker_topic_at(b, i);
        for (int32_t k = 0; k < broker_topic_partitions(t); k++) {
            int err = broker_partition_error(broker_topic_partition(t, k));
            if (!err)
                continue;
            if (failed < HEALTH_FAILED_NAMES && used < sizeof out) {
                int n = snprintf(out + used, sizeof out - used, "%s%s-%d (%s)", failed ? ", " : "",
                                 broker_topic_name(t), (int)k, hd_strerror(err));
                used += n > 0 ? (size_t)n : 0;
            }
            failed++;
        }
    }
    char msg[640];
    if (failed)
        snprintf(msg, sizeof msg,
                 "%lld partition(s) acknowledge nothing more after a failed fdatasync until the "
                 "broker restarts: %s%s",
                 (long long)failed, out, failed > HEALTH_FAILED_NAMES ? ", ..." : "");
    return check(checks, "partitions:syncs", failed ? FAIL : PASS, json_integer(failed),
                 "partitions", failed ? msg : NULL);
}

static int check_files(json_t *checks)
{
    long open_now = hd_fds_open(), limit = hd_fdlimit_get();
    if (open_now < 0)
        return PASS;
    bool near = limit != HD_FDLIMIT_NONE && open_now * 10 > limit * 9;
    char out[200];
    if (near)
        snprintf(out, sizeof out,
                 "%ld of the open files limit of %ld in use: raise it (ulimit -n, or LimitNOFILE= "
                 "for a systemd service)",
                 open_now, limit);
    return check(checks, "process:open-files", near ? WARN : PASS, json_integer(open_now), "files",
                 near ? out : NULL);
}

json_t *obs_health_json(broker_t *b, bool *fail)
{
    json_t *checks = json_object();
    int worst = worse(check_journal(checks, b), check_partitions(checks, b));
    worst = worse(worst, check_files(checks));
    json_t *j = json_object();
    json_object_set_new(j, "status", json_string(status_names[worst]));
    json_object_set_new(j, "checks", checks);
    *fail = worst == FAIL;
    return j;
}
