/* `herald group list|describe|delete|reset-offsets`: consumer group administration through
 * librdkafka's Admin API (ListConsumerGroups, DescribeConsumerGroups, DeleteGroups,
 * ListConsumerGroupOffsets, AlterConsumerGroupOffsets) plus watermark and timestamp lookups. */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include "util/mem.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: herald group list\n"
    "       herald group describe GROUP\n"
    "       herald group delete GROUP\n"
    "       herald group reset-offsets GROUP --topic T --to POS [--partition N] [--dry-run]\n"
    "\n"
    "  -t, --topic T             topic whose committed offsets to reset\n"
    "      --to POS              earliest | latest | OFFSET | @TIMESTAMP_MS\n"
    "  -p, --partition N         reset only partition N (default: all)\n"
    "      --dry-run             print the new offsets without committing them\n"
    "The group must have no active members while its offsets are reset.\n" CLI_COMMON_HELP;

enum { OPT_TO = CLI_OPT_FIRST_LOCAL, OPT_DRY_RUN };

typedef struct group_opts {
    cli_common_t c;
    const char *topic;
    bool has_to;
    cli_from_t to;
    int32_t partition;
    bool dry_run;
} group_opts_t;

static rd_kafka_t *admin_new(group_opts_t *o)
{
    rd_kafka_conf_t *conf = cli__conf_new(&o->c);
    return conf ? cli__client_new(&o->c, RD_KAFKA_PRODUCER, conf) : NULL;
}

static int group_list(group_opts_t *o)
{
    int rc = CLI_EXIT_FAIL;
    rd_kafka_t *rk = admin_new(o);
    if (!rk)
        return CLI_EXIT_FAIL;
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *ao =
        cli__admin_options_new(&o->c, rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS);
    rd_kafka_ListConsumerGroups(rk, ao, q);
    rd_kafka_event_t *ev = cli__admin_wait(&o->c, rk, q, "list groups");
    if (ev) {
        const rd_kafka_ListConsumerGroups_result_t *res =
            rd_kafka_event_ListConsumerGroups_result(ev);
        size_t n, nerr;
        const rd_kafka_ConsumerGroupListing_t **gl =
            rd_kafka_ListConsumerGroups_result_valid(res, &n);
        const rd_kafka_error_t **errs = rd_kafka_ListConsumerGroups_result_errors(res, &nerr);
        for (size_t i = 0; i < n; i++)
            printf("%s\t%s\n", rd_kafka_ConsumerGroupListing_group_id(gl[i]),
                   rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupListing_state(gl[i])));
        /* A broker that failed to answer makes the list incomplete: say so and fail. */
        for (size_t i = 0; i < nerr; i++)
            cli__fail_error(&o->c, "list groups", errs[i]);
        rc = nerr ? CLI_EXIT_FAIL : CLI_EXIT_OK;
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}

/* Describes one group. Returns the event holding *desc (caller destroys) or NULL after printing. */
static rd_kafka_event_t *describe_group(group_opts_t *o, rd_kafka_t *rk, const char *group,
                                        const rd_kafka_ConsumerGroupDescription_t **desc)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *ao =
        cli__admin_options_new(&o->c, rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
    const char *groups[1] = {group};
    rd_kafka_DescribeConsumerGroups(rk, groups, 1, ao, q);
    rd_kafka_event_t *ev = cli__admin_wait(&o->c, rk, q, "describe group");
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_queue_destroy(q);
    if (!ev)
        return NULL;
    size_t n;
    const rd_kafka_ConsumerGroupDescription_t **d = rd_kafka_DescribeConsumerGroups_result_groups(
        rd_kafka_event_DescribeConsumerGroups_result(ev), &n);
    const rd_kafka_error_t *err = n ? rd_kafka_ConsumerGroupDescription_error(d[0]) : NULL;
    if (n < 1 || err) {
        char what[300];
        snprintf(what, sizeof what, "describe group '%s'", group);
        if (err)
            cli__fail_error(&o->c, what, err);
        else
            cli__fail(&o->c, "%s: empty response", what);
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    *desc = d[0];
    return ev;
}

/* Fetches the committed offsets of the group (all partitions). Returns a list the caller
 * destroys, or NULL after printing. */
static rd_kafka_topic_partition_list_t *committed_offsets(group_opts_t *o, rd_kafka_t *rk,
                                                          const char *group)
{
    rd_kafka_topic_partition_list_t *out = NULL;
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *ao =
        cli__admin_options_new(&o->c, rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
    rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(group, NULL);
    rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, ao, q);
    rd_kafka_event_t *ev = cli__admin_wait(&o->c, rk, q, "list committed offsets");
    if (ev) {
        size_t n;
        const rd_kafka_group_result_t **gr = rd_kafka_ListConsumerGroupOffsets_result_groups(
            rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
        const rd_kafka_error_t *err = n ? rd_kafka_group_result_error(gr[0]) : NULL;
        if (n < 1 || err) {
            char what[300];
            snprintf(what, sizeof what, "committed offsets of '%s'", group);
            if (err)
                cli__fail_error(&o->c, what, err);
            else
                cli__fail(&o->c, "%s: empty response", what);
        } else
            out = rd_kafka_topic_partition_list_copy(rd_kafka_group_result_partitions(gr[0]));
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_queue_destroy(q);
    return out;
}

/* The member that owns topic/partition, or NULL. */
static const rd_kafka_MemberDescription_t *owner_of(const rd_kafka_ConsumerGroupDescription_t *d,
                                                    const char *topic, int32_t partition)
{
    size_t n = rd_kafka_ConsumerGroupDescription_member_count(d);
    for (size_t i = 0; i < n; i++) {
        const rd_kafka_MemberDescription_t *m = rd_kafka_ConsumerGroupDescription_member(d, i);
        const rd_kafka_topic_partition_list_t *a =
            rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(m));
        if (a && rd_kafka_topic_partition_list_find(a, topic, partition))
            return m;
    }
    return NULL;
}

static int group_describe(group_opts_t *o, const char *group)
{
    int rc = CLI_EXIT_FAIL;
    const rd_kafka_ConsumerGroupDescription_t *d;
    rd_kafka_topic_partition_list_t *rows = NULL;
    rd_kafka_t *rk = admin_new(o);
    if (!rk)
        return CLI_EXIT_FAIL;
    rd_kafka_event_t *ev = describe_group(o, rk, group, &d);
    if (!ev)
        goto done;
    rows = committed_offsets(o, rk, group);
    if (!rows)
        goto done;

    rd_kafka_consumer_group_state_t state = rd_kafka_ConsumerGroupDescription_state(d);
    const rd_kafka_Node_t *coord = rd_kafka_ConsumerGroupDescription_coordinator(d);
    size_t nmembers = rd_kafka_ConsumerGroupDescription_member_count(d);
    const char *assignor = rd_kafka_ConsumerGroupDescription_partition_assignor(d);
    printf("group %s: state %s, %zu member%s", group, rd_kafka_consumer_group_state_name(state),
           nmembers, nmembers == 1 ? "" : "s");
    if (assignor && *assignor)
        printf(", assignor %s", assignor);
    if (coord)
        printf(", coordinator %d (%s:%u)", rd_kafka_Node_id(coord), rd_kafka_Node_host(coord),
               (unsigned)rd_kafka_Node_port(coord));
    putchar('\n');
    if (nmembers) {
        printf("%-40s %-20s %-20s %s\n", "MEMBER", "CLIENT-ID", "HOST", "ASSIGNMENT");
        for (size_t i = 0; i < nmembers; i++) {
            const rd_kafka_MemberDescription_t *m = rd_kafka_ConsumerGroupDescription_member(d, i);
            const rd_kafka_topic_partition_list_t *a =
                rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(m));
            printf("%-40s %-20s %-20s ", rd_kafka_MemberDescription_consumer_id(m),
                   rd_kafka_MemberDescription_client_id(m), rd_kafka_MemberDescription_host(m));
            for (int k = 0; a && k < a->cnt; k++)
                printf("%s%s:%d", k ? "," : "", a->elems[k].topic, (int)a->elems[k].partition);
            if (!a || !a->cnt)
                printf("-");
            putchar('\n');
            /* Assigned partitions without a commit still belong in the lag table. */
            for (int k = 0; a && k < a->cnt; k++)
                if (!rd_kafka_topic_partition_list_find(rows, a->elems[k].topic,
                                                        a->elems[k].partition))
                    rd_kafka_topic_partition_list_add(rows, a->elems[k].topic,
                                                      a->elems[k].partition)
                        ->offset = RD_KAFKA_OFFSET_INVALID;
        }
    }
    rd_kafka_topic_partition_list_sort(rows, NULL, NULL);
    rc = CLI_EXIT_OK;
    if (rows->cnt) {
        printf("%-30s %-10s %-12s %-12s %-10s %s\n", "TOPIC", "PARTITION", "COMMITTED", "HIGH",
               "LAG", "MEMBER");
    }
    for (int i = 0; i < rows->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &rows->elems[i];
        int64_t lo, hi;
        rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(rk, p->topic, p->partition, &lo, &hi, o->c.timeout_ms);
        char committed[32] = "-", high[32] = "-", lag[32] = "-";
        if (p->offset >= 0)
            snprintf(committed, sizeof committed, "%lld", (long long)p->offset);
        if (!err) {
            snprintf(high, sizeof high, "%lld", (long long)hi);
            /* With no commit the group would start per auto.offset.reset, so lag is unknown. */
            if (p->offset >= 0)
                snprintf(lag, sizeof lag, "%lld", (long long)(hi > p->offset ? hi - p->offset : 0));
        } else {
            cli__fail_rk(&o->c, "high watermark", err);
            rc = CLI_EXIT_FAIL;
        }
        const rd_kafka_MemberDescription_t *m = owner_of(d, p->topic, p->partition);
        printf("%-30s %-10d %-12s %-12s %-10s %s\n", p->topic, (int)p->partition, committed, high,
               lag, m ? rd_kafka_MemberDescription_consumer_id(m) : "-");
    }
done:
    if (rows)
        rd_kafka_topic_partition_list_destroy(rows);
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_destroy(rk);
    return rc;
}

static int group_delete(group_opts_t *o, const char *group)
{
    int rc = CLI_EXIT_FAIL;
    rd_kafka_t *rk = admin_new(o);
    if (!rk)
        return CLI_EXIT_FAIL;
    rd_kafka_DeleteGroup_t *dg = rd_kafka_DeleteGroup_new(group);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *ao = cli__admin_options_new(&o->c, rk, RD_KAFKA_ADMIN_OP_DELETEGROUPS);
    rd_kafka_DeleteGroups(rk, &dg, 1, ao, q);
    rd_kafka_event_t *ev = cli__admin_wait(&o->c, rk, q, "delete group");
    if (ev) {
        size_t n;
        const rd_kafka_group_result_t **gr =
            rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev), &n);
        const rd_kafka_error_t *err = n ? rd_kafka_group_result_error(gr[0]) : NULL;
        if (n < 1 || err) {
            char what[300];
            snprintf(what, sizeof what, "cannot delete group '%s'", group);
            if (err)
                cli__fail_error(&o->c, what, err);
            else
                cli__fail(&o->c, "%s: empty response", what);
        } else {
            printf("deleted group %s\n", group);
            rc = CLI_EXIT_OK;
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_queue_destroy(q);
    rd_kafka_DeleteGroup_destroy(dg);
    rd_kafka_destroy(rk);
    return rc;
}

/* Fills each element's offset with the target of --to. Returns 0 or -1 after printing. */
static int resolve_targets(group_opts_t *o, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *l)
{
    if (o->to.kind == CLI_FROM_TIMESTAMP) {
        for (int i = 0; i < l->cnt; i++)
            l->elems[i].offset = o->to.value;
        rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, l, o->c.timeout_ms);
        if (err) {
            cli__fail_rk(&o->c, "cannot look up offsets for the timestamp", err);
            return -1;
        }
    }
    for (int i = 0; i < l->cnt; i++) {
        rd_kafka_topic_partition_t *p = &l->elems[i];
        if (o->to.kind == CLI_FROM_TIMESTAMP && p->err) {
            cli__fail(&o->c, "offset for timestamp, partition %d: %s", (int)p->partition,
                      rd_kafka_err2str(p->err));
            return -1;
        }
        if (o->to.kind == CLI_FROM_TIMESTAMP && p->offset >= 0)
            continue;
        int64_t lo, hi;
        rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(rk, p->topic, p->partition, &lo, &hi, o->c.timeout_ms);
        if (err) {
            char what[64];
            snprintf(what, sizeof what, "watermarks of partition %d", (int)p->partition);
            cli__fail_rk(&o->c, what, err);
            return -1;
        }
        switch (o->to.kind) {
        case CLI_FROM_BEGINNING:
            p->offset = lo;
            break;
        case CLI_FROM_END:
        case CLI_FROM_TIMESTAMP: /* no record at or after the timestamp */
            p->offset = hi;
            break;
        case CLI_FROM_OFFSET:
            /* Like Kafka's own tool: an offset outside the log is moved to its nearest end. */
            p->offset = o->to.value < lo ? lo : o->to.value > hi ? hi : o->to.value;
            break;
        }
    }
    return 0;
}

static int alter_offsets(group_opts_t *o, rd_kafka_t *rk, const char *group,
                         const rd_kafka_topic_partition_list_t *l)
{
    int rc = -1;
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *ao =
        cli__admin_options_new(&o->c, rk, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS);
    rd_kafka_AlterConsumerGroupOffsets_t *req = rd_kafka_AlterConsumerGroupOffsets_new(group, l);
    rd_kafka_AlterConsumerGroupOffsets(rk, &req, 1, ao, q);
    rd_kafka_event_t *ev = cli__admin_wait(&o->c, rk, q, "commit offsets");
    if (ev) {
        size_t n;
        const rd_kafka_group_result_t **gr = rd_kafka_AlterConsumerGroupOffsets_result_groups(
            rd_kafka_event_AlterConsumerGroupOffsets_result(ev), &n);
        const rd_kafka_error_t *err = n ? rd_kafka_group_result_error(gr[0]) : NULL;
        if (n < 1 || err) {
            char what[300];
            snprintf(what, sizeof what, "cannot commit offsets for '%s'", group);
            if (err)
                cli__fail_error(&o->c, what, err);
            else
                cli__fail(&o->c, "%s: empty response", what);
        } else {
            const rd_kafka_topic_partition_list_t *res = rd_kafka_group_result_partitions(gr[0]);
            rc = 0;
            for (int i = 0; res && i < res->cnt; i++) {
                if (res->elems[i].err) {
                    cli__fail(&o->c, "commit %s:%d: %s", res->elems[i].topic,
                              (int)res->elems[i].partition, rd_kafka_err2str(res->elems[i].err));
                    rc = -1;
                }
            }
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AlterConsumerGroupOffsets_destroy(req);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_queue_destroy(q);
    return rc;
}

static int group_reset_offsets(group_opts_t *o, const char *group)
{
    int rc = CLI_EXIT_FAIL;
    const rd_kafka_ConsumerGroupDescription_t *d;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_partition_list_t *l = NULL;
    rd_kafka_t *rk = admin_new(o);
    if (!rk)
        return CLI_EXIT_FAIL;
    rd_kafka_event_t *ev = describe_group(o, rk, group, &d);
    if (!ev)
        goto done;
    /* Committing under active members would race with their own commits. Dead means the group
     * does not exist yet, which is fine: committing creates it. */
    rd_kafka_consumer_group_state_t state = rd_kafka_ConsumerGroupDescription_state(d);
    if ((state != RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY &&
         state != RD_KAFKA_CONSUMER_GROUP_STATE_DEAD) ||
        rd_kafka_ConsumerGroupDescription_member_count(d) > 0) {
        cli__fail(&o->c, "group '%s' is %s with %zu member(s); stop its consumers first", group,
                  rd_kafka_consumer_group_state_name(state),
                  rd_kafka_ConsumerGroupDescription_member_count(d));
        goto done;
    }
    if (cli__metadata_get(&o->c, rk, &md) != 0)
        goto done;
    const rd_kafka_metadata_topic_t *t = cli__metadata_topic(md, o->topic);
    if (!t || t->err) {
        cli__fail(&o->c, "topic '%s': %s", o->topic,
                  t ? rd_kafka_err2str(t->err) : "does not exist");
        goto done;
    }
    if (o->partition >= t->partition_cnt) {
        cli__fail(&o->c, "topic '%s' has no partition %d", o->topic, (int)o->partition);
        goto done;
    }
    l = rd_kafka_topic_partition_list_new(t->partition_cnt);
    for (int32_t p = 0; p < t->partition_cnt; p++)
        if (o->partition < 0 || o->partition == p)
            rd_kafka_topic_partition_list_add(l, o->topic, p);
    if (resolve_targets(o, rk, l) != 0)
        goto done;
    if (!o->dry_run && alter_offsets(o, rk, group, l) != 0)
        goto done;
    printf("%-30s %-10s %s\n", "TOPIC", "PARTITION",
           o->dry_run ? "NEW-OFFSET (dry run)" : "NEW-OFFSET");
    for (int i = 0; i < l->cnt; i++)
        printf("%-30s %-10d %lld\n", l->elems[i].topic, (int)l->elems[i].partition,
               (long long)l->elems[i].offset);
    rc = CLI_EXIT_OK;
done:
    if (l)
        rd_kafka_topic_partition_list_destroy(l);
    if (md)
        rd_kafka_metadata_destroy(md);
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_destroy(rk);
    return rc;
}

int cli_group_main(int argc, char **argv)
{
    if (cli__rdk_load() < 0)
        return CLI_EXIT_FAIL;
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"topic", required_argument, NULL, 't'},
        {"to", required_argument, NULL, OPT_TO},
        {"partition", required_argument, NULL, 'p'},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {NULL, 0, NULL, 0},
    };
    group_opts_t o;
    memset(&o, 0, sizeof o);
    cli__common_init(&o.c, "herald group");
    o.partition = -1;
    int opt;
    int64_t v;
    const char *why;
    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":" CLI_COMMON_SHORTOPTS "t:p:", longopts, NULL)) != -1) {
        int handled = cli__common_opt(&o.c, opt, optarg);
        if (handled < 0)
            return CLI_EXIT_USAGE;
        if (handled)
            continue;
        switch (opt) {
        case CLI_OPT_HELP:
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        case 't':
            if (!optarg[0])
                return cli__usage_error(&o.c, "empty --topic");
            o.topic = optarg;
            break;
        case OPT_TO:
            if (cli__from_parse(optarg, &o.to, &why) != 0)
                return cli__usage_error(&o.c, "--to '%s': %s", optarg, why);
            o.has_to = true;
            break;
        case 'p':
            if (cli__int_parse(optarg, 0, INT32_MAX, &v, &why) != 0)
                return cli__usage_error(&o.c, "--partition '%s': %s", optarg, why);
            o.partition = (int32_t)v;
            break;
        case OPT_DRY_RUN:
            o.dry_run = true;
            break;
        default:
            return cli__getopt_error(&o.c, opt, argv);
        }
    }
    int npos = argc - optind;
    char **pos = argv + optind;
    if (npos < 1)
        return cli__usage_error(&o.c,
                                "missing subcommand (list, describe, delete or reset-offsets)");
    const char *sub = pos[0];
    bool is_reset = strcmp(sub, "reset-offsets") == 0;
    if (!is_reset && (o.topic || o.has_to || o.partition >= 0 || o.dry_run))
        return cli__usage_error(&o.c, "--topic, --to, --partition and --dry-run are for "
                                      "reset-offsets");
    if (strcmp(sub, "list") == 0) {
        if (npos != 1)
            return cli__usage_error(&o.c, "list takes no arguments");
        return group_list(&o);
    }
    if (!is_reset && strcmp(sub, "describe") != 0 && strcmp(sub, "delete") != 0)
        return cli__usage_error(&o.c, "unknown subcommand '%s'", sub);
    if (npos != 2)
        return cli__usage_error(&o.c, "%s needs exactly one GROUP", sub);
    if (!pos[1][0])
        return cli__usage_error(&o.c, "empty group name");
    if (is_reset) {
        if (!o.topic || !o.has_to)
            return cli__usage_error(&o.c, "reset-offsets needs --topic and --to");
        return group_reset_offsets(&o, pos[1]);
    }
    if (strcmp(sub, "describe") == 0)
        return group_describe(&o, pos[1]);
    return group_delete(&o, pos[1]);
}
