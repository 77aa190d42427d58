/* `herald sub create|list|describe|delete|redrive|purge`: subscriptions (docs/queues.md) from the
 * command line, over Herald's HTTP API with libcurl (cli/http.h). Problems are printed as
 * "herald sub: <detail> (HTTP <status>)" and exit 1. */
#include "cli/cli.h"
#include "cli/http.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARTS 1024

static const char usage[] =
    "usage: herald sub create NAME --topic T [options below]\n"
    "       herald sub list                      NAME<TAB>TOPIC per subscription\n"
    "       herald sub describe NAME             settings and stats, as JSON\n"
    "       herald sub delete NAME\n"
    "       herald sub redrive NAME [--from O] [--to O]   dead letters back (default: all)\n"
    "       herald sub purge NAME                forget its dead letters\n"
    "\n"
    "  -u, --url URL              Herald's HTTP API (default $HERALD_HTTP_URL or\n"
    "                             http://127.0.0.1:8080)\n"
    "create:\n"
    "  -t, --topic T              the topic to consume (required)\n"
    "  -p, --partitions LIST      e.g. 0,1 (default: all, also ones added later)\n"
    "      --ack-timeout MS       lease length (default 30000)\n"
    "      --max-deliveries N     dead-letter after N deliveries (default 0: never)\n"
    "      --dead-letter-topic T  (default NAME-dlq when --max-deliveries is given)\n"
    "      --backoff-initial MS, --backoff-multiplier X, --backoff-max MS, --backoff-jitter X\n"
    "                             retry delays (default 1000, 2, 60000, 0.2)\n"
    "      --filter-type TYPE     only CloudEvents of this type\n"
    "      --filter-key KEY       only records with this key\n"
    "      --ordering none|key    key: one key's records never in flight twice\n"
    "      --start latest|earliest  where a new subscription begins (default latest)\n"
    "redrive:\n"
    "      --from O, --to O       dead-letter-topic offsets [O, O) to move back\n";

enum {
    OPT_ACK_TIMEOUT = 256,
    OPT_MAX_DELIVERIES,
    OPT_DLQ,
    OPT_B_INITIAL,
    OPT_B_MULT,
    OPT_B_MAX,
    OPT_B_JITTER,
    OPT_F_TYPE,
    OPT_F_KEY,
    OPT_ORDERING,
    OPT_START,
    OPT_FROM,
    OPT_TO,
};

typedef struct opts {
    const char *url;
    json_t *create;  /* members of the create body given by options */
    json_t *backoff; /* members of "backoff" */
    json_t *filter;  /* members of "filter" */
    long long from, to;
} opts_t;

static int parse_int(const char *opt, const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0) {
        fprintf(stderr, "herald sub: %s wants a non-negative integer, got '%s'\n", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_real(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end) {
        fprintf(stderr, "herald sub: %s wants a number, got '%s'\n", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

static json_t *parse_parts(const char *s)
{
    json_t *a = json_array();
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno || end == p || v < 0 || (*end && *end != ',') ||
            json_array_size(a) >= MAX_PARTS) {
            fprintf(stderr, "herald sub: --partitions wants numbers like 0,1,2, got '%s'\n", s);
            json_decref(a);
            return NULL;
        }
        json_array_append_new(a, json_integer(v));
        p = *end ? end + 1 : end;
    }
    if (json_array_size(a) == 0) {
        fprintf(stderr, "herald sub: --partitions is empty\n");
        json_decref(a);
        return NULL;
    }
    return a;
}

/* Performs a request; on an error answer prints its detail. Returns 0 with the parsed answer
 * (NULL for an empty body) in *out, or CLI_EXIT_FAIL. */
static int call(const opts_t *o, const char *method, const char *path, json_t *body, json_t **out)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    cli_resp_t r;
    int rc = cli_http_call("sub", o->url, method, path, "application/json", "application/json",
                           text ? text : (strcmp(method, "POST") ? NULL : ""), &r);
    free(text);
    *out = NULL;
    if (rc < 0)
        return CLI_EXIT_FAIL;
    json_t *j = r.body ? json_loads(r.body, 0, NULL) : NULL;
    if (r.status >= 300) {
        const char *d = json_string_value(json_object_get(j, "detail"));
        if (d)
            fprintf(stderr, "herald sub: %s (HTTP %ld)\n", d, r.status);
        else
            fprintf(stderr, "herald sub: HTTP %ld: %.200s\n", r.status, r.body ? r.body : "");
        json_decref(j);
        free(r.body);
        return CLI_EXIT_FAIL;
    }
    if (r.body && r.len && !j) {
        fprintf(stderr, "herald sub: the answer is not JSON: %.200s\n", r.body);
        free(r.body);
        return CLI_EXIT_FAIL;
    }
    free(r.body);
    *out = j;
    return CLI_EXIT_OK;
}

static char *sub_path(const char *name, const char *suffix)
{
    char *n = cli_http_seg(name);
    size_t len = strlen(n) + strlen(suffix) + 32;
    char *p = malloc(len);
    if (!p)
        abort();
    snprintf(p, len, "/subscriptions/%s%s", n, suffix);
    free(n);
    return p;
}

static int cmd_create(opts_t *o, const char *name)
{
    if (!json_object_get(o->create, "topic")) {
        fprintf(stderr, "herald sub: create needs --topic\n");
        return CLI_EXIT_USAGE;
    }
    json_object_set_new(o->create, "name", json_string(name));
    if (json_object_size(o->backoff))
        json_object_set(o->create, "backoff", o->backoff);
    if (json_object_size(o->filter))
        json_object_set(o->create, "filter", o->filter);
    json_t *j;
    int rc = call(o, "POST", "/subscriptions", o->create, &j);
    if (rc == CLI_EXIT_OK) {
        printf("created subscription %s on topic %s\n", name,
               json_string_value(json_object_get(o->create, "topic")));
        json_decref(j);
    }
    return rc;
}

static int cmd_list(const opts_t *o)
{
    json_t *j;
    int rc = call(o, "GET", "/subscriptions", NULL, &j);
    if (rc != CLI_EXIT_OK)
        return rc;
    json_t *arr = json_object_get(j, "subscriptions");
    size_t i;
    json_t *s;
    json_array_foreach(arr, i, s)
    {
        printf("%s\t%s\n", json_string_value(json_object_get(s, "name")),
               json_string_value(json_object_get(s, "topic")));
    }
    json_decref(j);
    return CLI_EXIT_OK;
}

static int cmd_describe(const opts_t *o, const char *name)
{
    char *p = sub_path(name, "");
    json_t *j;
    int rc = call(o, "GET", p, NULL, &j);
    free(p);
    if (rc != CLI_EXIT_OK)
        return rc;
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    printf("%s\n", text ? text : "{}");
    free(text);
    json_decref(j);
    return CLI_EXIT_OK;
}

static int cmd_delete(const opts_t *o, const char *name)
{
    char *p = sub_path(name, "");
    json_t *j;
    int rc = call(o, "DELETE", p, NULL, &j);
    free(p);
    if (rc == CLI_EXIT_OK)
        printf("deleted subscription %s\n", name);
    json_decref(j);
    return rc;
}

/* Moves dead letters back, calling again while the server stops at its per-call limit. */
static int cmd_redrive(const opts_t *o, const char *name)
{
    char *p = sub_path(name, "/redrive");
    long long redriven = 0, missing = 0, from = o->from;
    int rc;
    for (;;) {
        json_t *body = json_object();
        if (from >= 0)
            json_object_set_new(body, "from_offset", json_integer(from));
        if (o->to >= 0)
            json_object_set_new(body, "to_offset", json_integer(o->to));
        json_t *j;
        rc = call(o, "POST", p, body, &j);
        json_decref(body);
        if (rc != CLI_EXIT_OK)
            break;
        redriven += json_integer_value(json_object_get(j, "redriven"));
        missing += json_integer_value(json_object_get(j, "missing"));
        json_t *next = json_object_get(j, "next_offset");
        bool more = json_is_integer(next) && (o->to < 0 || json_integer_value(next) < o->to) &&
                    json_integer_value(next) > from;
        if (more)
            from = json_integer_value(next);
        json_decref(j);
        if (!more)
            break;
    }
    free(p);
    if (rc == CLI_EXIT_OK)
        printf("redriven %lld, missing %lld\n", redriven, missing);
    return rc;
}

static int cmd_purge(const opts_t *o, const char *name)
{
    char *p = sub_path(name, "/purge");
    json_t *j;
    int rc = call(o, "POST", p, NULL, &j);
    free(p);
    if (rc == CLI_EXIT_OK)
        printf("purged %lld\n", (long long)json_integer_value(json_object_get(j, "purged")));
    json_decref(j);
    return rc;
}

/* Parses one option into o; returns 0, or CLI_EXIT_USAGE after printing why. */
static int take_opt(opts_t *o, int c, const char *name, const char *arg)
{
    long long v;
    double x;
    switch (c) {
    case 'u':
        o->url = arg;
        return 0;
    case 't':
        json_object_set_new(o->create, "topic", json_string(arg));
        return 0;
    case 'p': {
        json_t *a = parse_parts(arg);
        if (!a)
            return CLI_EXIT_USAGE;
        json_object_set_new(o->create, "partitions", a);
        return 0;
    }
    case OPT_ACK_TIMEOUT:
    case OPT_MAX_DELIVERIES:
    case OPT_B_INITIAL:
    case OPT_B_MAX:
    case OPT_FROM:
    case OPT_TO:
        if (parse_int(name, arg, &v) < 0)
            return CLI_EXIT_USAGE;
        if (c == OPT_ACK_TIMEOUT)
            json_object_set_new(o->create, "ack_timeout_ms", json_integer(v));
        else if (c == OPT_MAX_DELIVERIES)
            json_object_set_new(o->create, "max_deliveries", json_integer(v));
        else if (c == OPT_B_INITIAL)
            json_object_set_new(o->backoff, "initial_ms", json_integer(v));
        else if (c == OPT_B_MAX)
            json_object_set_new(o->backoff, "max_ms", json_integer(v));
        else if (c == OPT_FROM)
            o->from = v;
        else
            o->to = v;
        return 0;
    case OPT_B_MULT:
    case OPT_B_JITTER:
        if (parse_real(name, arg, &x) < 0)
            return CLI_EXIT_USAGE;
        json_object_set_new(o->backoff, c == OPT_B_MULT ? "multiplier" : "jitter", json_real(x));
        return 0;
    case OPT_DLQ:
        json_object_set_new(o->create, "dead_letter_topic", json_string(arg));
        return 0;
    case OPT_F_TYPE:
        json_object_set_new(o->filter, "type", json_string(arg));
        return 0;
    case OPT_F_KEY:
        json_object_set_new(o->filter, "key", json_string(arg));
        return 0;
    case OPT_ORDERING:
        json_object_set_new(o->create, "ordering", json_string(arg));
        return 0;
    case OPT_START:
        json_object_set_new(o->create, "start", json_string(arg));
        return 0;
    default:
        fprintf(stderr, "herald sub: unknown or incomplete option '%s'\n%s", name, usage);
        return CLI_EXIT_USAGE;
    }
}

int cli_sub_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"url", required_argument, NULL, 'u'},
        {"topic", required_argument, NULL, 't'},
        {"partitions", required_argument, NULL, 'p'},
        {"ack-timeout", required_argument, NULL, OPT_ACK_TIMEOUT},
        {"max-deliveries", required_argument, NULL, OPT_MAX_DELIVERIES},
        {"dead-letter-topic", required_argument, NULL, OPT_DLQ},
        {"backoff-initial", required_argument, NULL, OPT_B_INITIAL},
        {"backoff-multiplier", required_argument, NULL, OPT_B_MULT},
        {"backoff-max", required_argument, NULL, OPT_B_MAX},
        {"backoff-jitter", required_argument, NULL, OPT_B_JITTER},
        {"filter-type", required_argument, NULL, OPT_F_TYPE},
        {"filter-key", required_argument, NULL, OPT_F_KEY},
        {"ordering", required_argument, NULL, OPT_ORDERING},
        {"start", required_argument, NULL, OPT_START},
        {"from", required_argument, NULL, OPT_FROM},
        {"to", required_argument, NULL, OPT_TO},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    if (argc < 2) {
        fputs(usage, stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        fputs(usage, stdout);
        return CLI_EXIT_OK;
    }
    opts_t o = {0};
    o.url = getenv("HERALD_HTTP_URL");
    if (!o.url || !*o.url)
        o.url = "http://127.0.0.1:8080";
    o.from = o.to = -1;
    o.create = json_object();
    o.backoff = json_object();
    o.filter = json_object();
    argc--;
    argv++;
    optind = 1;
    opterr = 0;
    int c, rc = CLI_EXIT_USAGE;
    while ((c = getopt_long(argc, argv, "u:t:p:h", longopts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            rc = CLI_EXIT_OK;
            goto out;
        }
        if (take_opt(&o, c, argv[optind - 1], optarg) != 0)
            goto out;
    }
    int nargs = argc - optind;
    char **args = argv + optind;
    bool creating = !strcmp(cmd, "create");
    if (!creating &&
        (json_object_size(o.create) || json_object_size(o.backoff) || json_object_size(o.filter))) {
        fprintf(stderr, "herald sub: those options go with create\n");
        goto out;
    }
    if (strcmp(cmd, "redrive") && (o.from >= 0 || o.to >= 0)) {
        fprintf(stderr, "herald sub: --from and --to go with redrive\n");
        goto out;
    }
    if (creating && nargs == 1)
        rc = cmd_create(&o, args[0]);
    else if (!strcmp(cmd, "list") && nargs == 0)
        rc = cmd_list(&o);
    else if (!strcmp(cmd, "describe") && nargs == 1)
        rc = cmd_describe(&o, args[0]);
    else if (!strcmp(cmd, "delete") && nargs == 1)
        rc = cmd_delete(&o, args[0]);
    else if (!strcmp(cmd, "redrive") && nargs == 1)
        rc = cmd_redrive(&o, args[0]);
    else if (!strcmp(cmd, "purge") && nargs == 1)
        rc = cmd_purge(&o, args[0]);
    else
        fprintf(stderr, "herald sub: bad arguments for '%s'\n%s", cmd, usage);
out:
    json_decref(o.create);
    json_decref(o.backoff);
    json_decref(o.filter);
    return rc;
}
