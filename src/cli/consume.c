/* `herald consume TOPIC`: prints records to stdout, one per line. Without --group it assigns the
 * partitions itself (never committing); with --group it subscribes as a member of the group and
 * commits the offsets of the records it has printed when it stops. */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include "util/mem.h"
#include "util/monotime.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PRINTED_HEADERS 256

static const char usage[] =
    "usage: herald consume TOPIC [options]\n"
    "\n"
    "Prints records, one per line, until interrupted (or --exit / --count).\n"
    "  -p, --partition N          read only partition N (not with --group)\n"
    "  -o, --from POS             beginning | end | OFFSET | @TIMESTAMP_MS (default end);\n"
    "                             with --group only beginning|end, used when nothing is committed\n"
    "  -n, --count N              stop after N records\n"
    "  -g, --group G              consume as a member of group G and commit what was printed\n"
    "  -f, --format value|json    print the value only (default), or one JSON object per record\n"
    "  -e, --exit                 stop at the end of all partitions\n" CLI_COMMON_HELP;

typedef enum { FORMAT_VALUE, FORMAT_JSON } format_t;

typedef struct consume_opts {
    cli_common_t
        c; /* first, so librdkafka's opaque serves both the error and rebalance callbacks */
    const char *topic;
    int32_t partition; /* -1: all */
    bool has_from;
    cli_from_t from;
    int64_t count; /* 0: unlimited */
    const char *group;
    format_t format;
    bool exit_at_end;
    /* Run state, owned by the main thread. eof[p] is set when partition p is at its end. */
    bool *eof;
    int32_t npartitions;
} consume_opts_t;

static void eof_clear(consume_opts_t *o)
{
    if (o->eof)
        memset(o->eof, 0, (size_t)o->npartitions * sizeof *o->eof);
}

/* Group mode: takes what the coordinator hands out, and forgets end-of-partition marks, since a
 * partition may come back at another offset. */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    consume_opts_t *o = opaque;
    bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    eof_clear(o);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (cooperative) {
            rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, parts);
            if (e)
                rd_kafka_error_destroy(e);
        } else {
            rd_kafka_assign(rk, parts);
        }
    } else {
        if (cooperative) {
            rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
            if (e)
                rd_kafka_error_destroy(e);
        } else {
            rd_kafka_assign(rk, NULL);
        }
    }
}

/* True when every currently assigned partition has reached its end. */
static bool all_at_end(consume_opts_t *o, rd_kafka_t *rk)
{
    rd_kafka_topic_partition_list_t *a = NULL;
    if (rd_kafka_assignment(rk, &a) != RD_KAFKA_RESP_ERR_NO_ERROR || !a)
        return false;
    bool done = a->cnt > 0;
    for (int i = 0; done && i < a->cnt; i++) {
        int32_t p = a->elems[i].partition;
        if (p < 0 || p >= o->npartitions || !o->eof[p])
            done = false;
    }
    rd_kafka_topic_partition_list_destroy(a);
    return done;
}

static void print_record(consume_opts_t *o, const rd_kafka_message_t *m)
{
    if (o->format == FORMAT_VALUE) {
        if (m->payload)
            fwrite(m->payload, 1, m->len, stdout);
        putchar('\n');
        return;
    }
    cli_header_t hs[MAX_PRINTED_HEADERS];
    size_t nh = 0;
    rd_kafka_headers_t *rh = NULL;
    if (rd_kafka_message_headers(m, &rh) == RD_KAFKA_RESP_ERR_NO_ERROR && rh) {
        const char *name;
        const void *val;
        size_t size;
        for (size_t i = 0;
             nh < MAX_PRINTED_HEADERS && rd_kafka_header_get_all(rh, i, &name, &val, &size) == 0;
             i++) {
            hs[nh].name = name;
            hs[nh].name_len = strlen(name);
            hs[nh].value = hd_slice(val, val ? size : 0);
            nh++;
        }
    }
    rd_kafka_timestamp_type_t tstype;
    cli_record_t r = {
        .topic = rd_kafka_topic_name(m->rkt),
        .partition = m->partition,
        .offset = m->offset,
        .timestamp = rd_kafka_message_timestamp(m, &tstype),
        .key = hd_slice(m->key, m->key ? m->key_len : 0),
        .value = hd_slice(m->payload, m->payload ? m->len : 0),
        .headers = hs,
        .nheaders = nh,
    };
    char *json = cli__record_format_json(&r);
    fputs(json, stdout);
    putchar('\n');
    free(json);
}

/* Assigns the partitions ourselves at the --from position. Returns 0 or -1 after printing. */
static int assign_partitions(consume_opts_t *o, rd_kafka_t *rk)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(o->npartitions);
    int64_t start = RD_KAFKA_OFFSET_END;
    if (o->has_from) {
        switch (o->from.kind) {
        case CLI_FROM_BEGINNING:
            start = RD_KAFKA_OFFSET_BEGINNING;
            break;
        case CLI_FROM_END:
            start = RD_KAFKA_OFFSET_END;
            break;
        case CLI_FROM_OFFSET:
        case CLI_FROM_TIMESTAMP: /* offsets_for_times takes the timestamp in the offset field */
            start = o->from.value;
            break;
        }
    }
    for (int32_t p = 0; p < o->npartitions; p++)
        if (o->partition < 0 || o->partition == p)
            rd_kafka_topic_partition_list_add(l, o->topic, p)->offset = start;
    if (o->has_from && o->from.kind == CLI_FROM_TIMESTAMP) {
        rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, l, o->c.timeout_ms);
        if (err) {
            cli__fail_rk(&o->c, "cannot look up offsets for the timestamp", err);
            goto fail;
        }
        for (int i = 0; i < l->cnt; i++) {
            if (l->elems[i].err) {
                cli__fail(&o->c, "offset for timestamp, partition %d: %s",
                          (int)l->elems[i].partition, rd_kafka_err2str(l->elems[i].err));
                goto fail;
            }
            /* -1: no record at or after the timestamp, so start at the end. */
            if (l->elems[i].offset < 0)
                l->elems[i].offset = RD_KAFKA_OFFSET_END;
        }
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(rk, l);
    if (err) {
        cli__fail_rk(&o->c, "cannot assign partitions", err);
        goto fail;
    }
    rd_kafka_topic_partition_list_destroy(l);
    return 0;
fail:
    rd_kafka_topic_partition_list_destroy(l);
    return -1;
}

/* Records that the message was printed, so the group commits past it on close (group mode). */
static void offset_store(rd_kafka_t *rk, const rd_kafka_message_t *m)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(m->rkt), m->partition)->offset =
        m->offset + 1;
    rd_kafka_offsets_store(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
}

/* Leaves the group (committing stored offsets) within --timeout, then frees the handle. */
static void consumer_close(consume_opts_t *o, rd_kafka_t *rk)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_error_t *e = rd_kafka_consumer_close_queue(rk, q);
    if (e) {
        cli__fail(&o->c, "closing the consumer: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    } else {
        int64_t deadline = hd_mono_ms() + o->c.timeout_ms;
        while (!rd_kafka_consumer_closed(rk) && hd_mono_ms() < deadline) {
            rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 100);
            if (!ev)
                continue;
            if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
                on_rebalance(rk, rd_kafka_event_error(ev), rd_kafka_event_topic_partition_list(ev),
                             o);
            rd_kafka_event_destroy(ev);
        }
        if (!rd_kafka_consumer_closed(rk))
            cli__fail(&o->c, "consumer did not close within %d ms; offsets may not be committed",
                      o->c.timeout_ms);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

static int run(consume_opts_t *o)
{
    const struct rd_kafka_metadata *md = NULL;
    int rc = CLI_EXIT_FAIL;
    rd_kafka_conf_t *conf = cli__conf_new(&o->c);
    if (!conf)
        return CLI_EXIT_FAIL;
    /* Without --group the consumer still needs a group.id for rd_kafka_assign(), but it never
     * joins or commits. */
    bool ok = cli__conf_set(&o->c, conf, "group.id", o->group ? o->group : "herald-cli") == 0 &&
              cli__conf_set(&o->c, conf, "enable.partition.eof",
                            o->exit_at_end ? "true" : "false") == 0 &&
              cli__conf_set(&o->c, conf, "enable.auto.commit", o->group ? "true" : "false") == 0 &&
              cli__conf_set(&o->c, conf, "enable.auto.offset.store", "false") == 0;
    if (ok && o->group && o->has_from)
        ok = cli__conf_set(&o->c, conf, "auto.offset.reset",
                           o->from.kind == CLI_FROM_BEGINNING ? "earliest" : "latest") == 0;
    if (!ok) {
        rd_kafka_conf_destroy(conf);
        return CLI_EXIT_FAIL;
    }
    if (o->group)
        rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_opaque(conf, o);
    rd_kafka_t *rk = cli__client_new(&o->c, RD_KAFKA_CONSUMER, conf);
    if (!rk)
        return CLI_EXIT_FAIL;
    rd_kafka_poll_set_consumer(rk);

    /* Metadata first: it proves the broker is reachable and the topic exists, within --timeout. */
    if (cli__metadata_get(&o->c, rk, &md) != 0)
        goto done_unjoined;
    const rd_kafka_metadata_topic_t *t = cli__metadata_topic(md, o->topic);
    if (!t || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        cli__fail(&o->c, "topic '%s' does not exist", o->topic);
        goto done_unjoined;
    }
    if (t->err) {
        cli__fail(&o->c, "topic '%s': %s", o->topic, rd_kafka_err2str(t->err));
        goto done_unjoined;
    }
    o->npartitions = t->partition_cnt;
    rd_kafka_metadata_destroy(md);
    md = NULL;
    if (o->partition >= o->npartitions) {
        cli__fail(&o->c, "topic '%s' has no partition %d (it has %d)", o->topic, (int)o->partition,
                  (int)o->npartitions);
        goto done_unjoined;
    }
    o->eof = hd_calloc((size_t)o->npartitions + 1, sizeof *o->eof);

    if (o->group) {
        rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(sub, o->topic, RD_KAFKA_PARTITION_UA);
        rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, sub);
        rd_kafka_topic_partition_list_destroy(sub);
        if (err) {
            cli__fail_rk(&o->c, "cannot subscribe", err);
            goto done;
        }
    } else if (assign_partitions(o, rk) != 0) {
        goto done;
    }

    cli__signals_install();
    int64_t printed = 0;
    int64_t started = hd_mono_ms();
    bool ever_assigned = !o->group;
    rc = CLI_EXIT_OK;
    while (!cli__signals_stop() && (o->count == 0 || printed < o->count)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (o->c.brokers_down) {
            /* librdkafka reconnects forever; give the brokers --timeout to come back. */
            o->c.brokers_down = false;
            if (cli__metadata_get(&o->c, rk, &md) != 0) {
                if (m)
                    rd_kafka_message_destroy(m);
                rc = CLI_EXIT_FAIL;
                break;
            }
            rd_kafka_metadata_destroy(md);
            md = NULL;
        }
        if (!m) {
            fflush(stdout);
            if (!ever_assigned) {
                rd_kafka_topic_partition_list_t *a = NULL;
                if (rd_kafka_assignment(rk, &a) == 0 && a && a->cnt > 0)
                    ever_assigned = true;
                if (a)
                    rd_kafka_topic_partition_list_destroy(a);
                /* --exit promises to return: a group that never hands out partitions (or a
                 * broker without group support) must not keep it waiting forever. */
                if (!ever_assigned && o->exit_at_end && hd_mono_ms() - started > o->c.timeout_ms) {
                    cli__fail_rk(&o->c, "no partitions assigned by the group coordinator",
                                 RD_KAFKA_RESP_ERR__TIMED_OUT);
                    rc = CLI_EXIT_FAIL;
                    break;
                }
            }
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->partition >= 0 && m->partition < o->npartitions)
                o->eof[m->partition] = true;
            rd_kafka_message_destroy(m);
            if (all_at_end(o, rk))
                break;
            continue;
        }
        if (m->err) {
            char what[128];
            snprintf(what, sizeof what, "consume error (partition %d)", (int)m->partition);
            cli__fail_rk(&o->c, what, m->err);
            rd_kafka_message_destroy(m);
            rc = CLI_EXIT_FAIL;
            break;
        }
        print_record(o, m);
        printed++;
        if (m->partition >= 0 && m->partition < o->npartitions)
            o->eof[m->partition] = false;
        if (o->group)
            offset_store(rk, m);
        rd_kafka_message_destroy(m);
    }
    fflush(stdout);
    cli__signals_restore();
done:
    consumer_close(o, rk);
    free(o->eof);
    return rc;
done_unjoined:
    if (md)
        rd_kafka_metadata_destroy(md);
    consumer_close(o, rk);
    return rc;
}

int cli_consume_main(int argc, char **argv)
{
    if (cli__rdk_load() < 0)
        return CLI_EXIT_FAIL;
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"partition", required_argument, NULL, 'p'},
        {"from", required_argument, NULL, 'o'},
        {"count", required_argument, NULL, 'n'},
        {"group", required_argument, NULL, 'g'},
        {"format", required_argument, NULL, 'f'},
        {"exit", no_argument, NULL, 'e'},
        {NULL, 0, NULL, 0},
    };
    consume_opts_t o;
    memset(&o, 0, sizeof o);
    cli__common_init(&o.c, "herald consume");
    o.partition = -1;
    int opt;
    int64_t v;
    const char *why;
    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":" CLI_COMMON_SHORTOPTS "p:o:n:g:f:e", longopts,
                              NULL)) != -1) {
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
        case 'o':
            if (cli__from_parse(optarg, &o.from, &why) != 0)
                return cli__usage_error(&o.c, "--from '%s': %s", optarg, why);
            o.has_from = true;
            break;
        case 'n':
            if (cli__int_parse(optarg, 1, INT64_MAX, &v, &why) != 0)
                return cli__usage_error(&o.c, "--count '%s': %s (at least 1)", optarg, why);
            o.count = v;
            break;
        case 'g':
            if (!optarg[0])
                return cli__usage_error(&o.c, "empty --group");
            o.group = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "value") == 0)
                o.format = FORMAT_VALUE;
            else if (strcmp(optarg, "json") == 0)
                o.format = FORMAT_JSON;
            else
                return cli__usage_error(&o.c, "--format '%s': expected value or json", optarg);
            break;
        case 'e':
            o.exit_at_end = true;
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
    if (o.group && o.partition >= 0)
        return cli__usage_error(&o.c, "--partition cannot be used with --group");
    if (o.group && o.has_from && o.from.kind != CLI_FROM_BEGINNING && o.from.kind != CLI_FROM_END)
        return cli__usage_error(&o.c, "with --group, --from must be beginning or end (use "
                                      "'herald group reset-offsets' to move a group)");
    return run(&o);
}
