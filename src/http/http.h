/* The HTTP listener: REST (topics, records, CloudEvents), Server-Sent Events and WebSocket
 * streams, on the server's libuv loop. Everything here runs on the loop thread. */
#ifndef HTTP_H
#define HTTP_H

#include "broker/broker.h"
#include "registry/registry.h"
#include "delivery/delivery.h"
#include "util/config.h"

#include <uv.h>

typedef struct http_server http_server_t;

/* Listens on cfg->http_addr. Returns 0, HD_EINVAL (bad address) or a libuv error (negative
 * errno) when it cannot listen; the error is logged. The broker and the config must outlive
 * the server. */
int http_server_start(uv_loop_t *loop, broker_t *b, const hd_config_t *cfg, http_server_t **out);
/* The same on another address (addr, named `what` in errors), e.g. registry.listeners. */
int http_server_start_at(uv_loop_t *loop, broker_t *b, const hd_config_t *cfg, const char *addr,
                         const char *what, http_server_t **out);
/* Serves the schema registry's routes from reg (which must outlive the server). */
void http_server_set_registry(http_server_t *s, registry_t *reg);
/* Records produced to a validating topic are checked on libuv's worker pool in at most n parts
 * at once (schema.validation.threads, resolved; the default is 1). */
void http_server_set_validation_threads(http_server_t *s, int n);
/* Checks of produced records still running on the worker pool, over every HTTP server; they
 * read the registry, so it is closed only once this is 0 (keep running the loop until then). */
int http_checks_running(void);
/* Shutdown, first step: stops accepting, closes idle keep-alive connections and streams, and
 * answers long polls at once with what they have. Requests waiting for durability finish. */
void http_server_quiesce(http_server_t *s);
/* Requests still owed an answer. */
int http_server_pending(const http_server_t *s);
/* Closes every connection (aborting what is left) and the listener. The struct is freed by the
 * loop once every handle is closed. NULL is a no-op. */
void http_server_close(http_server_t *s);
/* Serves the subscriptions of this engine under /subscriptions (without one, those routes
 * answer 503). The engine must outlive the server. */
void http_server_set_delivery(http_server_t *s, delivery_t *d);
/* The port actually bound (useful with port 0). */
int http_server_port(const http_server_t *s);

#endif
