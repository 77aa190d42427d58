/* `herald produce TOPIC`: sends one record per stdin line and waits for every delivery report.
 * A line is the bytes up to '\n' (which is dropped); with --key-delim the bytes before the first
 * delimiter are the key. Lines may contain any other byte, including NUL. */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include "util/mem.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEADERS 64
#define MAX_REPORTED_FAILURES 5

static const char usage[] =
    "usage: herald produce TOPIC [options] < records\n"
    "\n"
    "Sends one record per stdin line and waits until every record is acknowledged.\n"
    "  -p, --partition N          send to partition N (default: the partitioner picks)\n"
    "  -k, --key KEY              use KEY as the key of every record\n"
    "  -K, --key-delim C          the part of each line before the first C is the key\n"
    "  -H, --header NAME=VALUE    add a header to every record (repeatable)\n"
    "      --acks all|1|0         acknowledgements to wait for (default all)\n"
    "      --compression CODEC    none|gzip|snappy|lz4|zstd (default none)\n"
    "      --idempotent           enable the idempotent producer\n" CLI_COMMON_HELP;

enum { OPT_ACKS = CLI_OPT_FIRST_LOCAL, OPT_COMPRESSION, OPT_IDEMPOTENT };

typedef struct produce_opts {
    cli_common_t c;
    const char *topic;
    int32_t partition;
    const char *key;
    bool has_delim;
    char delim;
    const char *headers[MAX_HEADERS];
    size_t nheaders;
    const char *acks;
    const char *compression;
    bool idempotent;
    /* Delivery report counters, updated from rd_kafka_poll() on this thread. */
    long delivered;
    long failed;
} produce_opts_t;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    produce_opts_t *o = opaque;
    if (!m->err) {
        o->delivered++;
        return;
    }
    o->failed++;
    if (o->failed <= MAX_REPORTED_FAILURES) {
        char what[64];
        snprintf(what, sizeof what, "delivery failed (partition %d)", (int)m->partition);
        cli__fail_rk(&o->c, what, m->err);
    }
}

/* Builds the headers for one record: librdkafka takes ownership on a successful send. */
static rd_kafka_headers_t *headers_new(const produce_opts_t *o)
{
    if (!o->nheaders)
        return NULL;
    rd_kafka_headers_t *hs = rd_kafka_headers_new(o->nheaders);
    for (size_t i = 0; i < o->nheaders; i++) {
        const char *eq = strchr(o->headers[i], '=');
        rd_kafka_header_add(hs, o->headers[i], eq - o->headers[i], eq + 1, (ssize_t)strlen(eq + 1));
    }
    return hs;
}

/* Queues one record, waiting for room while the local queue is full. Returns 0 or -1. */
static int send_line(produce_opts_t *o, rd_kafka_t *rk, const char *line, size_t len)
{
    const char *key = o->key;
    size_t key_len = key ? strlen(key) : 0;
    const char *value = line;
    size_t value_len = len;
    if (o->has_delim) {
        const char *d = memchr(line, o->delim, len);
        if (d) {
            key = line;
            key_len = (size_t)(d - line);
            value = d + 1;
            value_len = len - key_len - 1;
        }
    }
    for (;;) {
        rd_kafka_headers_t *hs = headers_new(o);
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(o->topic), RD_KAFKA_V_PARTITION(o->partition),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE((void *)value, value_len),
            RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_HEADERS(hs), RD_KAFKA_V_END);
        if (!err)
            return 0;
        if (hs)
            rd_kafka_headers_destroy(hs);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            cli__fail_rk(&o->c, "cannot send record", err);
            return -1;
        }
        rd_kafka_poll(rk, 100);
    }
}

static int run(produce_opts_t *o)
{
    char num[32];
    long sent = 0;
    int rc;
    rd_kafka_conf_t *conf = cli__conf_new(&o->c);
    if (!conf)
        return CLI_EXIT_FAIL;
    /* A record that cannot be delivered within --timeout fails instead of being retried for
     * librdkafka's default of five minutes, unless -X sets the delivery timeout explicitly. */
    snprintf(num, sizeof num, "%d", o->c.timeout_ms);
    bool user_timeout = false;
    for (size_t i = 0; i < o->c.nprops; i++)
        if (strncmp(o->c.props[i], "message.timeout.ms=", 19) == 0 ||
            strncmp(o->c.props[i], "delivery.timeout.ms=", 20) == 0)
            user_timeout = true;
    if (!user_timeout && cli__conf_set(&o->c, conf, "message.timeout.ms", num) != 0)
        goto fail_conf;
    if (o->acks && cli__conf_set(&o->c, conf, "acks", o->acks) != 0)
        goto fail_conf;
    if (o->compression && cli__conf_set(&o->c, conf, "compression.codec", o->compression) != 0)
        goto fail_conf;
    if (o->idempotent && cli__conf_set(&o->c, conf, "enable.idempotence", "true") != 0)
        goto fail_conf;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    /* The delivery callback needs the counters; the error callback gets &o->c, which is the
     * first member, so both callbacks can share one opaque. */
    rd_kafka_conf_set_opaque(conf, o);
    rd_kafka_t *rk = cli__client_new(&o->c, RD_KAFKA_PRODUCER, conf);
    if (!rk)
        return CLI_EXIT_FAIL;

    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    bool send_failed = false;
    while ((n = getline(&line, &cap, stdin)) != -1) {
        size_t len = (size_t)n;
        if (len && line[len - 1] == '\n')
            len--;
        if (send_line(o, rk, line, len) != 0) {
            send_failed = true;
            break;
        }
        sent++;
        rd_kafka_poll(rk, 0);
    }
    free(line);
    if (ferror(stdin)) {
        cli__fail(&o->c, "error reading stdin");
        send_failed = true;
    }
    /* Every queued record gets a delivery report within message.timeout.ms; the margin covers
     * the request in flight when that expires. */
    int64_t wait_ms = (int64_t)o->c.timeout_ms + 5000;
    rd_kafka_flush(rk, (int)(wait_ms > INT32_MAX ? INT32_MAX : wait_ms));
    int left = rd_kafka_outq_len(rk);
    long undelivered = sent - o->delivered - o->failed;
    if (o->failed > MAX_REPORTED_FAILURES)
        cli__fail(&o->c, "%ld more delivery failures not shown", o->failed - MAX_REPORTED_FAILURES);
    if (undelivered > 0 || left > 0)
        cli__fail(&o->c, "%ld records still unacknowledged after %lld ms", undelivered,
                  (long long)wait_ms);
    fprintf(stderr, "produced %ld record%s to %s", o->delivered, o->delivered == 1 ? "" : "s",
            o->topic);
    if (o->failed || undelivered > 0)
        fprintf(stderr, " (%ld failed, %ld unacknowledged)", o->failed,
                undelivered > 0 ? undelivered : 0);
    fputc('\n', stderr);
    rc = (send_failed || o->failed || undelivered > 0) ? CLI_EXIT_FAIL : CLI_EXIT_OK;
    rd_kafka_destroy(rk);
    return rc;
fail_conf:
    rd_kafka_conf_destroy(conf);
    return CLI_EXIT_FAIL;
}

int cli_produce_main(int argc, char **argv)
{
    if (cli__rdk_load() < 0)
        return CLI_EXIT_FAIL;
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"partition", required_argument, NULL, 'p'},
        {"key", required_argument, NULL, 'k'},
        {"key-delim", required_argument, NULL, 'K'},
        {"header", required_argument, NULL, 'H'},
        {"acks", required_argument, NULL, OPT_ACKS},
        {"compression", required_argument, NULL, OPT_COMPRESSION},
        {"idempotent", no_argument, NULL, OPT_IDEMPOTENT},
        {NULL, 0, NULL, 0},
    };
    produce_opts_t o;
    memset(&o, 0, sizeof o);
    cli__common_init(&o.c, "herald produce");
    o.partition = RD_KAFKA_PARTITION_UA;
    int opt;
    int64_t v;
    const char *why;
    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":" CLI_COMMON_SHORTOPTS "p:k:K:H:", longopts, NULL)) !=
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
        case 'p':
            if (cli__int_parse(optarg, 0, INT32_MAX, &v, &why) != 0)
                return cli__usage_error(&o.c, "--partition '%s': %s", optarg, why);
            o.partition = (int32_t)v;
            break;
        case 'k':
            o.key = optarg;
            break;
        case 'K':
            if (cli__delim_parse(optarg, &o.delim, &why) != 0)
                return cli__usage_error(&o.c, "--key-delim '%s': %s", optarg, why);
            o.has_delim = true;
            break;
        case 'H': {
            char *key;
            const char *value;
            if (cli__kv_parse(optarg, &key, &value, &why) != 0)
                return cli__usage_error(&o.c, "--header '%s': %s", optarg, why);
            free(key);
            if (o.nheaders == MAX_HEADERS)
                return cli__usage_error(&o.c, "too many --header options");
            o.headers[o.nheaders++] = optarg;
            break;
        }
        case OPT_ACKS:
            if (cli__acks_parse(optarg, &o.acks, &why) != 0)
                return cli__usage_error(&o.c, "--acks '%s': %s", optarg, why);
            break;
        case OPT_COMPRESSION:
            if (cli__compression_parse(optarg, &why) != 0)
                return cli__usage_error(&o.c, "--compression '%s': %s", optarg, why);
            o.compression = optarg;
            break;
        case OPT_IDEMPOTENT:
            o.idempotent = true;
            break;
        default:
            return cli__getopt_error(&o.c, opt, argv);
        }
    }
    if (argc - optind != 1)
        return cli__usage_error(&o.c, argc - optind < 1 ? "missing TOPIC" : "expected one TOPIC");
    o.topic = argv[optind];
    if (!o.topic[0])
        return cli__usage_error(&o.c, "empty topic name");
    if (o.key && o.has_delim)
        return cli__usage_error(&o.c, "--key and --key-delim cannot be used together");
    if (o.idempotent && o.acks && strcmp(o.acks, "all") != 0)
        return cli__usage_error(&o.c, "--idempotent needs --acks all");
    return run(&o);
}
