/* HOST:PORT parsing. */
#ifndef HD_ADDR_H
#define HD_ADDR_H

/* Splits "HOST:PORT" (an optional "PLAINTEXT://" prefix and [v6] brackets allowed; an empty host
 * means 0.0.0.0). Returns 0 or HD_EINVAL. host must have room for 256 bytes. */
int hd_parse_hostport(const char *addr, char *host, int *port);

#endif
