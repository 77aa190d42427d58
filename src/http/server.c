/* The HTTP listener's lifecycle: listen, accept (conn.c takes over), quiesce and close. */
#include "http/http_int.h"
#include "util/addr.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/say.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static void listener_closed(uv_handle_t *h)
{
    http_server_t *s = h->data;
    http__handle_closed(s);
}

void http__handle_closed(http_server_t *s)
{
    if (--s->open_handles == 0 && s->closed)
        free(s);
}

int http_server_start(uv_loop_t *loop, broker_t *b, const hd_config_t *cfg, http_server_t **out)
{
    return http_server_start_at(loop, b, cfg, cfg->http_addr, "http.listeners", out);
}

void http_server_set_registry(http_server_t *s, registry_t *reg) { s->registry = reg; }

void http_server_set_validation_threads(http_server_t *s, int n) { s->validation_threads = n; }

int http_server_start_at(uv_loop_t *loop, broker_t *b, const hd_config_t *cfg, const char *addr,
                         const char *what, http_server_t **out)
{
    char host[256];
    int port;
    if (hd_parse_hostport(addr, host, &port) < 0) {
        say_error("%s: cannot parse '%s' (want HOST:PORT)", what, addr);
        return HD_EINVAL;
    }
    struct sockaddr_storage sa;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&sa) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&sa) != 0) {
        say_error("%s: '%s' is not an IP address", what, host);
        return HD_EINVAL;
    }
    http_server_t *s = hd_calloc(1, sizeof *s);
    s->loop = loop;
    s->broker = b;
    s->cfg = cfg;
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    s->open_handles = 1;
    int rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&sa, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, 1024, http__on_connection);
    if (rc < 0) {
        say_error("%s: cannot listen on %s: %s", what, addr, uv_strerror(rc));
        s->closed = true;
        uv_close((uv_handle_t *)&s->listener, listener_closed);
        return rc;
    }
    s->listening = true;
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    s->port = port;
    if (uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &blen) == 0) {
        if (bound.ss_family == AF_INET)
            s->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
        else if (bound.ss_family == AF_INET6)
            s->port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
    }
    *out = s;
    return 0;
}

http_server_t *http__server_new_detached(uv_loop_t *loop, broker_t *b, const hd_config_t *cfg)
{
    http_server_t *s = hd_calloc(1, sizeof *s);
    s->loop = loop;
    s->broker = b;
    s->cfg = cfg;
    return s;
}

int http_server_port(const http_server_t *s) { return s->port; }

void http_server_set_delivery(http_server_t *s, delivery_t *d) { s->delivery = d; }

void http_server_quiesce(http_server_t *s)
{
    if (s->stopping)
        return;
    s->stopping = true;
    if (s->listening) {
        s->listening = false;
        uv_close((uv_handle_t *)&s->listener, listener_closed);
    }
    http_conn_t *c = s->conns;
    while (c) {
        http_conn_t *next = c->next; /* c may close and unlink itself */
        http__conn_quiesce(c);
        c = next;
    }
}

int http_server_pending(const http_server_t *s)
{
    int n = 0;
    for (const http_conn_t *c = s->conns; c; c = c->next)
        n += (c->req && c->req_complete ? 1 : 0) + c->writes;
    return n;
}

void http_server_close(http_server_t *s)
{
    if (!s)
        return;
    s->stopping = true;
    while (s->conns)
        http_conn_close(s->conns);
    if (s->listening) {
        s->listening = false;
        uv_close((uv_handle_t *)&s->listener, listener_closed);
    }
    s->closed = true;
    if (s->open_handles == 0)
        free(s);
}
