/* The server: the libuv loop, the Kafka listener, connections, signals and timers. */
#ifndef SERVER_H
#define SERVER_H

#include "util/config.h"

/* Runs `herald serve` until SIGINT or SIGTERM. Returns 0 after a clean shutdown, or a negative
 * error when startup failed (already logged). */
int server_run(const hd_config_t *cfg);

#endif
