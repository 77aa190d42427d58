/* `herald topic create|list|describe|delete`: topic administration through librdkafka's Admin API
 * (CreateTopics, DeleteTopics, DescribeConfigs) and Metadata requests. */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include "util/mem.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOPIC_CONFIGS 64

static const char usage[] =
    "usage: herald topic create NAME [--partitions N] [--replication-factor R] [--config K=V ...]\n"
    "       herald topic list [--json]\n"
    "       herald topic describe NAME [--json]\n"
    "       herald topic delete NAME\n"
    "\n"
    "  -P, --partitions N          partitions of a new topic (default: the broker's "
    "num.partitions)\n"
    "  -r, --replication-factor R  replicas of a new topic (default: the broker's default)\n"
    "  -c, --config K=V            topic config of a new topic (repeatable)\n"
    "      --json                  print list/describe output as JSON\n" CLI_COMMON_HELP;

enum { OPT_JSON = CLI_OPT_FIRST_LOCAL };

typedef struct topic_opts {
    cli_common_t c;
    int partitions;
    int replication;
    bool json;
    const char *configs[MAX_TOPIC_CONFIGS];
    size_t nconfigs;
} topic_opts_t;

/* Creates an admin client (a producer handle that never produces). */
static rd_kafka_t *admin_new(topic_opts_t *o)
{
    rd_kafka_conf_t *conf = cli__conf_new(&o->c);
    return conf ? cli__client_new(&o->c, RD_KAFKA_PRODUCER, conf) : NULL;
}

/* Prints the first per-topic error of a Create/DeleteTopics result, or returns 0. */
static int check_topic_results(topic_opts_t *o, const rd_kafka_topic_result_t **res, size_t n,
                               const char *verb)
{
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t err = rd_kafka_topic_result_error(res[i]);
        if (err) {
            const char *msg = rd_kafka_topic_result_error_string(res[i]);
            cli__fail(&o->c, "cannot %s topic '%s': %s", verb, rd_kafka_topic_result_name(res[i]),
                      msg && *msg ? msg : rd_kafka_err2str(err));
            return -1;
        }
    }
    return 0;
}

static int topic_create(topic_opts_t *o, const char *name)
{
    char errstr[512];
    int rc = CLI_EXIT_FAIL;
    rd_kafka_queue_t *q = NULL;
    rd_kafka_AdminOptions_t *ao = NULL;
    rd_kafka_event_t *ev = NULL;
    rd_kafka_NewTopic_t *nt = NULL;
    rd_kafka_t *rk = admin_new(o);
    if (!rk)
        return CLI_EXIT_FAIL;
    nt = rd_kafka_NewTopic_new(name, o->partitions, o->replication, errstr, sizeof errstr);
    if (!nt) {
        cli__fail(&o->c, "topic '%s': %s", name, errstr);
        goto done;
    }
    for (size_t i = 0; i < o->nconfigs; i++) {
        char *key;
        const char *value, *why;
        if (cli__kv_parse(o->configs[i], &key, &value, &why) != 0) {
            cli__fail(&o->c, "--config '%s': %s", o->configs[i], why);
            goto done;
        }
        rd_kafka_resp_err_t err = rd_kafka_NewTopic_set_config(nt, key, value);
        free(key);
        if (err) {
            cli__fail(&o->c, "--config '%s': %s", o->configs[i], rd_kafka_err2str(err));
            goto done;
        }
    }
    q = rd_kafka_queue_new(rk);
    ao = cli__admin_options_new(&o->c, rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
    ev = cli__admin_wait(&o->c, rk, q, "create topic");
    if (!ev)
        goto done;
    size_t n;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    if (check_topic_results(o, res, n, "create") != 0)
        goto done;
    printf("created topic %s\n", name);
    rc = CLI_EXIT_OK;
done:
    if (ev)
        rd_kafka_event_destroy(ev);
    if (ao)
        rd_kafka_AdminOptions_destroy(ao);
    if (q)
        rd_kafka_queue_destroy(q);
    if (nt)
        rd_kafka_NewTopic_destroy(nt);
    rd_kafka_destroy(rk);
    return rc;
}

static int topic_delete(topic_opts_t *o, const char *name)
{
    int rc = CLI_EXIT_FAIL;
    rd_kafka_t *rk = admin_new(o);
    if (!rk)
        return CLI_EXIT_FAIL;
    rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(name);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *ao = cli__admin_options_new(&o->c, rk, RD_KAFKA_ADMIN_OP_DELETETOPICS);
    rd_kafka_DeleteTopics(rk, &dt, 1, ao, q);
    rd_kafka_event_t *ev = cli__admin_wait(&o->c, rk, q, "delete topic");
    if (ev) {
        size_t n;
        const rd_kafka_topic_result_t **res =
            rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
        if (check_topic_results(o, res, n, "delete") == 0) {
            printf("deleted topic %s\n", name);
            rc = CLI_EXIT_OK;
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_queue_destroy(q);
    rd_kafka_DeleteTopic_destroy(dt);
    rd_kafka_destroy(rk);
    return rc;
}

static int cmp_topic_name(const void *a, const void *b)
{
    const rd_kafka_metadata_topic_t *const *x = a, *const *y = b;
    return strcmp((*x)->topic, (*y)->topic);
}

static int topic_list(topic_opts_t *o)
{
    const struct rd_kafka_metadata *md;
    rd_kafka_t *rk = admin_new(o);
    if (!rk)
        return CLI_EXIT_FAIL;
    if (cli__metadata_get(&o->c, rk, &md) != 0) {
        rd_kafka_destroy(rk);
        return CLI_EXIT_FAIL;
    }
    size_t n = (size_t)md->topic_cnt;
    const rd_kafka_metadata_topic_t **sorted = hd_calloc(n ? n : 1, sizeof *sorted);
    for (size_t i = 0; i < n; i++)
        sorted[i] = &md->topics[i];
    qsort(sorted, n, sizeof *sorted, cmp_topic_name);
    json_t *arr = o->json ? json_array() : NULL;
    for (size_t i = 0; i < n; i++) {
        if (arr) {
            json_array_append_new(arr, json_pack("{s:s, s:i}", "name", sorted[i]->topic,
                                                 "partitions", sorted[i]->partition_cnt));
        } else {
            printf("%s\n", sorted[i]->topic);
        }
    }
    if (arr) {
        json_dumpf(arr, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(arr);
    }
    free(sorted);
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return CLI_EXIT_OK;
}

static const char *config_source_name(rd_kafka_ConfigSource_t s)
{
    switch (s) {
    case RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG:
        return "topic";
    case RD_KAFKA_CONFIG_SOURCE_DYNAMIC_BROKER_CONFIG:
        return "dynamic-broker";
    case RD_KAFKA_CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG:
        return "dynamic-default-broker";
    case RD_KAFKA_CONFIG_SOURCE_STATIC_BROKER_CONFIG:
        return "static-broker";
    case RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG:
        return "default";
    default:
        return "unknown";
    }
}

/* Runs DescribeConfigs for the topic. Returns the event (caller destroys) and its entries. */
static rd_kafka_event_t *describe_configs(topic_opts_t *o, rd_kafka_t *rk, const char *name,
                                          const rd_kafka_ConfigEntry_t ***entries, size_t *n)
{
    rd_kafka_ConfigResource_t *cr = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *ao =
        cli__admin_options_new(&o->c, rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_DescribeConfigs(rk, &cr, 1, ao, q);
    rd_kafka_event_t *ev = cli__admin_wait(&o->c, rk, q, "describe configs");
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_queue_destroy(q);
    rd_kafka_ConfigResource_destroy(cr);
    if (!ev)
        return NULL;
    size_t nres;
    const rd_kafka_ConfigResource_t **res =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &nres);
    if (nres < 1 || rd_kafka_ConfigResource_error(res[0])) {
        const char *msg = nres ? rd_kafka_ConfigResource_error_string(res[0]) : NULL;
        cli__fail(&o->c, "describe configs of '%s': %s", name,
                  msg && *msg ? msg
                              : rd_kafka_err2str(nres ? rd_kafka_ConfigResource_error(res[0])
                                                      : RD_KAFKA_RESP_ERR__BAD_MSG));
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    *entries = (const rd_kafka_ConfigEntry_t **)rd_kafka_ConfigResource_configs(res[0], n);
    return ev;
}

static json_t *int_array(const int32_t *v, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_integer(v[i]));
    return a;
}

static void print_int_list(const int32_t *v, int n)
{
    for (int i = 0; i < n; i++)
        printf("%s%d", i ? "," : "", (int)v[i]);
}

static int topic_describe(topic_opts_t *o, const char *name)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_event_t *ev = NULL;
    int rc = CLI_EXIT_FAIL;
    rd_kafka_t *rk = admin_new(o);
    if (!rk)
        return CLI_EXIT_FAIL;
    /* Metadata for all topics, not just this one, so that describing a missing topic never
     * creates it on a broker with auto.create.topics.enable. */
    if (cli__metadata_get(&o->c, rk, &md) != 0)
        goto done;
    const rd_kafka_metadata_topic_t *t = cli__metadata_topic(md, name);
    if (!t || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        cli__fail(&o->c, "topic '%s' does not exist", name);
        goto done;
    }
    if (t->err) {
        cli__fail(&o->c, "topic '%s': %s", name, rd_kafka_err2str(t->err));
        goto done;
    }
    const rd_kafka_ConfigEntry_t **entries = NULL;
    size_t nentries = 0;
    ev = describe_configs(o, rk, name, &entries, &nentries);
    if (!ev)
        goto done;

    if (o->json) {
        json_t *parts = json_array();
        for (int i = 0; i < t->partition_cnt; i++) {
            const rd_kafka_metadata_partition_t *p = &t->partitions[i];
            json_array_append_new(parts, json_pack("{s:i, s:i, s:o, s:o}", "partition", p->id,
                                                   "leader", p->leader, "replicas",
                                                   int_array(p->replicas, p->replica_cnt), "isr",
                                                   int_array(p->isrs, p->isr_cnt)));
        }
        json_t *cfgs = json_array();
        for (size_t i = 0; i < nentries; i++) {
            const rd_kafka_ConfigEntry_t *e = entries[i];
            const char *v = rd_kafka_ConfigEntry_value(e);
            json_array_append_new(cfgs,
                                  json_pack("{s:s, s:o, s:s, s:b, s:b, s:b}", "name",
                                            rd_kafka_ConfigEntry_name(e), "value",
                                            v ? json_string(v) : json_null(), "source",
                                            config_source_name(rd_kafka_ConfigEntry_source(e)),
                                            "default", rd_kafka_ConfigEntry_is_default(e),
                                            "read_only", rd_kafka_ConfigEntry_is_read_only(e),
                                            "sensitive", rd_kafka_ConfigEntry_is_sensitive(e)));
        }
        json_t *obj = json_pack("{s:s, s:i, s:o, s:o}", "name", name, "partition_count",
                                t->partition_cnt, "partitions", parts, "configs", cfgs);
        json_dumpf(obj, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(obj);
    } else {
        printf("topic %s: %d partition%s\n", name, t->partition_cnt,
               t->partition_cnt == 1 ? "" : "s");
        printf("%-10s %-8s %-16s %s\n", "PARTITION", "LEADER", "REPLICAS", "ISR");
        for (int i = 0; i < t->partition_cnt; i++) {
            const rd_kafka_metadata_partition_t *p = &t->partitions[i];
            printf("%-10d %-8d ", (int)p->id, (int)p->leader);
            print_int_list(p->replicas, p->replica_cnt);
            printf("%*s", p->replica_cnt * 2 < 17 ? 17 - p->replica_cnt * 2 : 1, "");
            print_int_list(p->isrs, p->isr_cnt);
            putchar('\n');
        }
        printf("configs:\n");
        for (size_t i = 0; i < nentries; i++) {
            const rd_kafka_ConfigEntry_t *e = entries[i];
            const char *v = rd_kafka_ConfigEntry_value(e);
            printf("  %s=%s%s\n", rd_kafka_ConfigEntry_name(e),
                   rd_kafka_ConfigEntry_is_sensitive(e) ? "<sensitive>" : (v ? v : ""),
                   rd_kafka_ConfigEntry_is_default(e) ? " (default)" : "");
        }
    }
    rc = CLI_EXIT_OK;
done:
    if (ev)
        rd_kafka_event_destroy(ev);
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return rc;
}

int cli_topic_main(int argc, char **argv)
{
    if (cli__rdk_load() < 0)
        return CLI_EXIT_FAIL;
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"partitions", required_argument, NULL, 'P'},
        {"replication-factor", required_argument, NULL, 'r'},
        {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    topic_opts_t o;
    memset(&o, 0, sizeof o);
    cli__common_init(&o.c, "herald topic");
    o.partitions = -1;
    o.replication = -1;
    int opt;
    int64_t v;
    const char *why;
    optind = 0; /* glibc: full re-initialisation, so the entry point can run more than once */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":" CLI_COMMON_SHORTOPTS "P:r:c:", longopts, NULL)) !=
           -1) {
        int handled = cli__common_opt(&o.c, opt, optarg);
        if (handled < 0)
            return CLI_EXIT_USAGE;
        if (handled)
            continue;
        switch (opt) {
        case CLI_OPT_HELP:
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        case 'P':
            if (cli__int_parse(optarg, 1, INT32_MAX, &v, &why) != 0)
                return cli__usage_error(&o.c, "--partitions '%s': %s", optarg, why);
            o.partitions = (int)v;
            break;
        case 'r':
            if (cli__int_parse(optarg, 1, INT16_MAX, &v, &why) != 0)
                return cli__usage_error(&o.c, "--replication-factor '%s': %s", optarg, why);
            o.replication = (int)v;
            break;
        case 'c': {
            char *key;
            const char *value;
            if (cli__kv_parse(optarg, &key, &value, &why) != 0)
                return cli__usage_error(&o.c, "--config '%s': %s", optarg, why);
            free(key);
            if (o.nconfigs == MAX_TOPIC_CONFIGS)
                return cli__usage_error(&o.c, "too many --config options");
            o.configs[o.nconfigs++] = optarg;
            break;
        }
        case OPT_JSON:
            o.json = true;
            break;
        default:
            return cli__getopt_error(&o.c, opt, argv);
        }
    }
    int npos = argc - optind;
    char **pos = argv + optind;
    if (npos < 1)
        return cli__usage_error(&o.c, "missing subcommand (create, list, describe or delete)");
    const char *sub = pos[0];
    if (strcmp(sub, "list") == 0) {
        if (npos != 1)
            return cli__usage_error(&o.c, "list takes no arguments");
        return topic_list(&o);
    }
    bool is_create = strcmp(sub, "create") == 0;
    if (!is_create && strcmp(sub, "describe") != 0 && strcmp(sub, "delete") != 0)
        return cli__usage_error(&o.c, "unknown subcommand '%s'", sub);
    if (npos != 2)
        return cli__usage_error(&o.c, "%s needs exactly one topic NAME", sub);
    if (!pos[1][0])
        return cli__usage_error(&o.c, "empty topic name");
    if (!is_create && (o.partitions != -1 || o.replication != -1 || o.nconfigs))
        return cli__usage_error(&o.c,
                                "--partitions, --replication-factor and --config are for create");
    if (is_create)
        return topic_create(&o, pos[1]);
    if (strcmp(sub, "describe") == 0)
        return topic_describe(&o, pos[1]);
    return topic_delete(&o, pos[1]);
}
