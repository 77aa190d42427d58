/* `herald serve`: opens the broker, listens for Kafka clients, runs the loop, and shuts down
 * cleanly on SIGINT/SIGTERM (stop accepting and reading, let owed answers go out for up to
 * two seconds, then close connections and the broker, which syncs and marks logs clean). */
#include "server/server_int.h"
#include "broker/group.h"
#include "obs/obs.h"
#include "registry/registry.h"
#include "util/addr.h"
#include "util/err.h"
#include "util/fdlimit.h"
#include "util/monotime.h"
#include "util/say.h"

#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STOP_GRACE_MS 2000
/* How often group sessions, pending members and rebalance deadlines are checked. */
#define GROUP_TICK_MS 50
/* How often subscriptions' leases, retries and delays are looked at. */
#define DELIVERY_TICK_MS 20

static void on_durable_notify(void *ctx)
{
    /* Flusher thread: wake the loop. uv_async_send coalesces. */
    server_t *s = ctx;
    uv_async_send(&s->durable_async);
}

static void on_durable_async(uv_async_t *a)
{
    server_t *s = a->data;
    broker_on_durable(s->broker);
}

static void on_retention(uv_timer_t *t)
{
    server_t *s = t->data;
    broker_run_retention(s->broker, hd_wall_ms());
}

static void on_group_tick(uv_timer_t *t)
{
    server_t *s = t->data;
    broker_group_tick(s->broker);
    kafka_shares_tick(s->shares);
    obs_tick(s->broker, hd_wall_ms());
}

static void on_delivery_tick(uv_timer_t *t)
{
    server_t *s = t->data;
    delivery_tick(s->delivery);
}

/* The history's view of the subscriptions (obs/ does not call delivery/). */
/* Raises the open files limit to the hard one (util/fdlimit.h): each used partition holds its
 * segment files open, and each client its connection. */
static void open_files_limit(void)
{
    long before = 0, now = hd_fdlimit_raise(&before);
    if (now == HD_FDLIMIT_NONE)
        say_info("open files: no limit");
    else if (now != before)
        say_info("open files: limit %ld (raised from %ld)", now, before);
    else
        say_info("open files: limit %ld", now);
}

static int subs_count(void *ctx) { return delivery_sub_count(ctx); }

static void subs_at(void *ctx, int i, obs_sub_sample_t *out)
{
    delivery_sub_t *sub = delivery_sub_at(ctx, i);
    const delivery_settings_t *st = delivery_sub_settings(sub);
    delivery_stats_t ds;
    delivery_sub_stats(sub, &ds);
    out->name = st->name;
    out->topic = st->topic;
    out->backlog = ds.backlog;
    out->dead_lettered = ds.dead_lettered;
}

static void finish_stop(server_t *s)
{
    while (s->conns)
        server__conn_close(s->conns);
    http_server_close(s->http);
    s->http = NULL;
    http_server_close(s->registry_http);
    s->registry_http = NULL;
    uv_timer_stop(&s->stop_timer);
    uv_timer_stop(&s->retention_timer);
    uv_timer_stop(&s->group_timer);
    uv_timer_stop(&s->delivery_timer);
    uv_close((uv_handle_t *)&s->delivery_timer, NULL);
    uv_close((uv_handle_t *)&s->stop_timer, NULL);
    uv_close((uv_handle_t *)&s->group_timer, NULL);
    uv_close((uv_handle_t *)&s->retention_timer, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    /* The async handle stays open until the flusher has stopped (broker_close), because the
     * flusher thread may still signal it. */
    uv_stop(s->loop);
}

static void on_stop_tick(uv_timer_t *t)
{
    server_t *s = t->data;
    int pending = server__pending_requests(s) + (s->http ? http_server_pending(s->http) : 0) +
                  (s->registry_http ? http_server_pending(s->registry_http) : 0);
    if (pending == 0 || hd_mono_ms() >= s->stop_deadline)
        finish_stop(s);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    server_t *s = sig->data;
    if (s->stopping) {
        say_warn("second signal: stopping now");
        finish_stop(s);
        return;
    }
    say_info("received %s: shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    s->stopping = true;
    uv_close((uv_handle_t *)&s->listener, NULL);
    server__conns_quiesce(s);
    if (s->http)
        http_server_quiesce(s->http);
    if (s->registry_http)
        http_server_quiesce(s->registry_http);
    s->stop_deadline = hd_mono_ms() + STOP_GRACE_MS;
    uv_timer_start(&s->stop_timer, on_stop_tick, 0, 10);
}

int server_run(const hd_config_t *cfg)
{
    int64_t t0 = hd_mono_ns();
    obs_init(hd_wall_ms());
    server_t s;
    memset(&s, 0, sizeof s);
    s.cfg = cfg;
    /* A write to a peer that has gone away must fail with EPIPE, not kill the broker. */
    signal(SIGPIPE, SIG_IGN);
    /* Fetch and produce buffers of a few MiB come and go with every request. By default glibc
     * maps such blocks afresh and unmaps them on free, so every response paid for page faults
     * on all of its pages (a third of the broker's time when consumers catch up). Keep them in
     * the heap instead, and give memory back only above a generous amount of free space. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    /* Schema validation runs on libuv's worker pool, sized before its first use. */
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    s.prep_parts = cfg->validation_threads > 0 ? (int)cfg->validation_threads
                                               : (int)(ncpu < 1   ? 1
                                                       : ncpu > 8 ? 8
                                                                  : ncpu);
    char nthreads[16];
    snprintf(nthreads, sizeof nthreads, "%d", s.prep_parts);
    setenv("UV_THREADPOOL_SIZE", nthreads, 1);
    s.loop = uv_default_loop();
    char host[256];
    int port;
    if (hd_parse_hostport(cfg->kafka_addr, host, &port) < 0) {
        say_error("listeners: cannot parse '%s' (want HOST:PORT)", cfg->kafka_addr);
        return HD_EINVAL;
    }
    if (cfg->advertised_addr[0]) {
        char ah[256];
        int ap;
        if (hd_parse_hostport(cfg->advertised_addr, ah, &ap) < 0) {
            say_error("advertised.listeners: cannot parse '%s' (want HOST:PORT)",
                      cfg->advertised_addr);
            return HD_EINVAL;
        }
    }
    uv_async_init(s.loop, &s.durable_async, on_durable_async);
    s.durable_async.data = &s;
    open_files_limit();
    int rc = broker_open(cfg, on_durable_notify, &s, &s.broker);
    if (rc < 0) {
        say_error("startup failed: %s", hd_strerror(rc));
        uv_close((uv_handle_t *)&s.durable_async, NULL);
        uv_run(s.loop, UV_RUN_DEFAULT);
        uv_loop_close(s.loop);
        return rc;
    }
    const char *fd_why = NULL;
    if (broker_fd_budget(s.broker, 0, &fd_why) < 0)
        say_warn("open files: %s", fd_why);
    obs_catalog_init(s.broker, cfg->catalog_enable);
    obs_history_init(cfg->console_sample_interval_ms);
    obs_tick(s.broker, hd_wall_ms()); /* the history's first sample: counters start here */
    rc = delivery_open(s.broker, &s.delivery);
    if (rc < 0) {
        say_error("subscriptions: cannot open: %s", hd_strerror(rc));
        goto fail;
    }
    obs_sub_source_t subs = {subs_count, subs_at, s.delivery};
    obs_history_set_subs(&subs);
    s.shares = kafka_shares_new(s.broker, s.delivery, cfg);
    struct sockaddr_storage sa;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&sa) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&sa) != 0) {
        say_error("listeners: '%s' is not an IP address", host);
        rc = HD_EINVAL;
        goto fail;
    }
    uv_tcp_init(s.loop, &s.listener);
    s.listener.data = &s;
    rc = uv_tcp_bind(&s.listener, (struct sockaddr *)&sa, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s.listener, 1024, server__on_connection);
    if (rc < 0) {
        say_error("listeners: cannot listen on %s: %s", cfg->kafka_addr, uv_strerror(rc));
        uv_close((uv_handle_t *)&s.listener, NULL);
        goto fail;
    }
    if ((rc = registry_open(s.broker, &s.registry)) < 0) {
        uv_close((uv_handle_t *)&s.listener, NULL);
        goto fail;
    }
    if (cfg->http_addr[0]) {
        rc = http_server_start(s.loop, s.broker, cfg, &s.http);
        if (rc < 0) {
            uv_close((uv_handle_t *)&s.listener, NULL);
            goto fail;
        }
        http_server_set_delivery(s.http, s.delivery);
        http_server_set_registry(s.http, s.registry);
        http_server_set_validation_threads(s.http, s.prep_parts);
    }
    if (cfg->registry_addr[0]) {
        rc = http_server_start_at(s.loop, s.broker, cfg, cfg->registry_addr, "registry.listeners",
                                  &s.registry_http);
        if (rc < 0) {
            uv_close((uv_handle_t *)&s.listener, NULL);
            http_server_close(s.http);
            goto fail;
        }
        http_server_set_registry(s.registry_http, s.registry);
        http_server_set_validation_threads(s.registry_http, s.prep_parts);
    }
    const char *why = NULL;
    if ((rc = obs_otlp_start(cfg, &why)) < 0) {
        say_error("%s", why);
        uv_close((uv_handle_t *)&s.listener, NULL);
        http_server_close(s.http);
        http_server_close(s.registry_http);
        goto fail;
    }
    uv_signal_init(s.loop, &s.sigint);
    uv_signal_init(s.loop, &s.sigterm);
    s.sigint.data = s.sigterm.data = &s;
    uv_signal_start(&s.sigint, on_signal, SIGINT);
    uv_signal_start(&s.sigterm, on_signal, SIGTERM);
    uv_timer_init(s.loop, &s.retention_timer);
    uv_timer_init(s.loop, &s.stop_timer);
    uv_timer_init(s.loop, &s.group_timer);
    uv_timer_init(s.loop, &s.delivery_timer);
    s.retention_timer.data = s.stop_timer.data = s.group_timer.data = &s;
    s.delivery_timer.data = &s;
    uv_timer_start(&s.delivery_timer, on_delivery_tick, DELIVERY_TICK_MS, DELIVERY_TICK_MS);
    uv_timer_start(&s.group_timer, on_group_tick, GROUP_TICK_MS, GROUP_TICK_MS);
    uv_timer_start(&s.retention_timer, on_retention, (uint64_t)cfg->retention_check_ms,
                   (uint64_t)cfg->retention_check_ms);
    int parts = 0;
    for (int i = 0; i < broker_topic_count(s.broker); i++)
        parts += broker_topic_partitions(broker_topic_at(s.broker, i));
    char http_desc[300] = "off";
    if (s.http)
        snprintf(http_desc, sizeof http_desc, "%s", cfg->http_addr);
    if (s.registry_http)
        snprintf(http_desc + strlen(http_desc), sizeof http_desc - strlen(http_desc),
                 " registry=%s", cfg->registry_addr);
    char ntopics[16], nparts[16], pid[16], started[32];
    snprintf(ntopics, sizeof ntopics, "%d", broker_topic_count(s.broker));
    snprintf(nparts, sizeof nparts, "%d", parts);
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    snprintf(started, sizeof started, "%.1fms", (double)(hd_mono_ns() - t0) / 1e6);
    say_kv(SAY_INFO, "herald serving", "kafka", cfg->kafka_addr, "http", http_desc, "advertised",
           cfg->advertised_addr[0] ? cfg->advertised_addr : "(listener)", "data-dir", cfg->data_dir,
           "topics", ntopics, "partitions", nparts, "cluster", broker_cluster_id(s.broker), "pid",
           pid, "started-in", started);
    uv_run(s.loop, UV_RUN_DEFAULT);
    uv_run(s.loop, UV_RUN_NOWAIT); /* let close callbacks run */
    /* Requests of closed connections still being checked (Kafka's and HTTP's). */
    while (s.jobs > 0 || http_checks_running() > 0)
        uv_run(s.loop, UV_RUN_ONCE);
    obs_otlp_stop();
    obs_history_set_subs(NULL);
    kafka_shares_free(s.shares);
    delivery_close(s.delivery);
    registry_close(s.registry);
    obs_catalog_free(s.broker);
    obs_doctor_free();
    broker_close(s.broker);
    uv_close((uv_handle_t *)&s.durable_async, NULL);
    uv_run(s.loop, UV_RUN_DEFAULT);
    uv_loop_close(s.loop);
    say_info("herald stopped cleanly");
    return 0;
fail:
    obs_history_set_subs(NULL);
    kafka_shares_free(s.shares);
    delivery_close(s.delivery);
    registry_close(s.registry);
    obs_catalog_free(s.broker);
    obs_doctor_free();
    broker_close(s.broker);
    uv_close((uv_handle_t *)&s.durable_async, NULL);
    uv_run(s.loop, UV_RUN_DEFAULT);
    uv_loop_close(s.loop);
    return rc;
}
