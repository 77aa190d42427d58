/* Plumbing shared by the client commands: common options, librdkafka handle setup with bounded
 * timeouts, error lines, admin request waiting and signal handling. Everything runs on the
 * command's main thread; librdkafka callbacks are served from our own poll calls. */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include "util/err.h"
#include "util/monotime.h"

#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli__common_init(cli_common_t *c, const char *prog)
{
    memset(c, 0, sizeof *c);
    c->prog = prog;
    const char *env = getenv("HERALD_BOOTSTRAP");
    c->bootstrap = env && *env ? env : CLI_DEFAULT_BOOTSTRAP;
    c->timeout_ms = CLI_DEFAULT_TIMEOUT_MS;
}

int cli__common_opt(cli_common_t *c, int opt, const char *arg)
{
    const char *why = NULL;
    int64_t v;
    switch (opt) {
    case 'b':
        if (!*arg) {
            cli__usage_error(c, "--bootstrap needs HOST:PORT");
            return -1;
        }
        c->bootstrap = arg;
        return 1;
    case 'X':
        if (!strchr(arg, '=') || arg[0] == '=') {
            cli__usage_error(c, "-X '%s': expected KEY=VALUE", arg);
            return -1;
        }
        if (c->nprops == CLI_MAX_PROPS) {
            cli__usage_error(c, "too many -X options (at most %d)", CLI_MAX_PROPS);
            return -1;
        }
        c->props[c->nprops++] = arg;
        return 1;
    case CLI_OPT_TIMEOUT:
        if (cli__int_parse(arg, 1, INT32_MAX, &v, &why) != 0) {
            cli__usage_error(c, "--timeout '%s': %s (milliseconds >= 1)", arg, why);
            return -1;
        }
        c->timeout_ms = (int)v;
        return 1;
    case 'v':
        c->verbose = true;
        return 1;
    default:
        return 0;
    }
}

int cli__getopt_error(const cli_common_t *c, int opt, char **argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "?";
    if (opt == ':')
        return cli__usage_error(c, "option '%s' needs a value", arg);
    if (optopt)
        return cli__usage_error(c, "unknown option '-%c'", optopt);
    return cli__usage_error(c, "unknown option '%s'", arg);
}

void cli__fail(const cli_common_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", c->prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void cli__fail_rk(const cli_common_t *c, const char *what, rd_kafka_resp_err_t err)
{
    if (c->last_error[0])
        fprintf(stderr, "%s: %s: %s (last error: %s)\n", c->prog, what, rd_kafka_err2str(err),
                c->last_error);
    else
        fprintf(stderr, "%s: %s: %s\n", c->prog, what, rd_kafka_err2str(err));
}

void cli__fail_error(const cli_common_t *c, const char *what, const rd_kafka_error_t *e)
{
    rd_kafka_resp_err_t code = rd_kafka_error_code(e);
    bool network = code == RD_KAFKA_RESP_ERR__TIMED_OUT || code == RD_KAFKA_RESP_ERR__TRANSPORT;
    if (network && c->last_error[0])
        fprintf(stderr, "%s: %s: %s (last error: %s)\n", c->prog, what, rd_kafka_error_string(e),
                c->last_error);
    else
        fprintf(stderr, "%s: %s: %s\n", c->prog, what, rd_kafka_error_string(e));
}

int cli__usage_error(const cli_common_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", c->prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see %s --help)\n", c->prog);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

/* Keeps the latest error so that a later failure (usually a timeout) can say why. librdkafka
 * reports unreachable brokers here, once per broker and again as "all brokers down". */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    cli_common_t *c = opaque;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        c->brokers_down = true;
        if (c->last_error[0])
            return;
    } /* the per-broker reason is more useful than the summary */
    snprintf(c->last_error, sizeof c->last_error, "%s", reason);
    if (c->verbose)
        fprintf(stderr, "%s: librdkafka error: %s\n", c->prog, reason);
}

/* librdkafka logs connection failures on its own; the commands report them once, in their own
 * error line, so the log is shown only with --verbose. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const cli_common_t *c = rd_kafka_opaque(rk);
    if (c && c->verbose)
        fprintf(stderr, "%s: librdkafka %d %s: %s\n", c->prog, level, fac, buf);
}

int cli__conf_set(cli_common_t *c, rd_kafka_conf_t *conf, const char *key, const char *value)
{
    char errstr[512];
    if (rd_kafka_conf_set(conf, key, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        cli__fail(c, "property %s=%s: %s", key, value, errstr);
        return -1;
    }
    return 0;
}

rd_kafka_conf_t *cli__conf_new(cli_common_t *c)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char num[32];
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_log_cb(conf, on_log);
    if (cli__conf_set(c, conf, "bootstrap.servers", c->bootstrap) != 0)
        goto fail;
    if (cli__conf_set(c, conf, "client.id", "herald-cli") != 0)
        goto fail;
    /* Keep every network wait within --timeout; librdkafka's defaults are 30-60 s. */
    snprintf(num, sizeof num, "%d", c->timeout_ms);
    if (cli__conf_set(c, conf, "socket.timeout.ms", num) != 0)
        goto fail;
    for (size_t i = 0; i < c->nprops; i++) {
        const char *why;
        char *key;
        const char *value;
        if (cli__kv_parse(c->props[i], &key, &value, &why) != 0) {
            cli__fail(c, "-X '%s': %s", c->props[i], why);
            goto fail;
        }
        int rc = cli__conf_set(c, conf, key, value);
        free(key);
        if (rc != 0)
            goto fail;
    }
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

rd_kafka_t *cli__client_new(cli_common_t *c, rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        cli__fail(c, "cannot create client: %s", errstr);
        return NULL;
    }
    return rk;
}

int cli__metadata_get(cli_common_t *c, rd_kafka_t *rk, const struct rd_kafka_metadata **md)
{
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, md, c->timeout_ms);
    if (err) {
        rd_kafka_poll(rk, 0); /* collect the broker errors behind the failure */
        char what[128];
        snprintf(what, sizeof what, "cannot get metadata from %s", c->bootstrap);
        cli__fail_rk(c, what, err);
        return -1;
    }
    return 0;
}

const rd_kafka_metadata_topic_t *cli__metadata_topic(const struct rd_kafka_metadata *md,
                                                     const char *topic)
{
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, topic) == 0)
            return &md->topics[i];
    return NULL;
}

rd_kafka_AdminOptions_t *cli__admin_options_new(cli_common_t *c, rd_kafka_t *rk,
                                                rd_kafka_admin_op_t op)
{
    char errstr[256];
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, op);
    rd_kafka_AdminOptions_set_request_timeout(o, c->timeout_ms, errstr, sizeof errstr);
    if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS)
        rd_kafka_AdminOptions_set_operation_timeout(o, c->timeout_ms, errstr, sizeof errstr);
    return o;
}

rd_kafka_event_t *cli__admin_wait(cli_common_t *c, rd_kafka_t *rk, rd_kafka_queue_t *q,
                                  const char *what)
{
    /* The request times out by itself after request_timeout; the extra second is a backstop. */
    int64_t deadline = hd_mono_ms() + c->timeout_ms + 1000;
    rd_kafka_event_t *ev = NULL;
    while (!ev) {
        int64_t left = deadline - hd_mono_ms();
        if (left <= 0) {
            cli__fail_rk(c, what, RD_KAFKA_RESP_ERR__TIMED_OUT);
            return NULL;
        }
        ev = rd_kafka_queue_poll(q, left < 100 ? (int)left : 100);
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
    if (err) {
        if (c->last_error[0] && err == RD_KAFKA_RESP_ERR__TIMED_OUT)
            cli__fail_rk(c, what, err);
        else
            cli__fail(c, "%s: %s", what, rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    return ev;
}

static volatile sig_atomic_t stop_requested;
static struct sigaction old_int, old_term;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

void cli__signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    stop_requested = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
}

void cli__signals_restore(void)
{
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
}

bool cli__signals_stop(void) { return stop_requested != 0; }
