/* HOST:PORT parsing for listener and advertised addresses. */
#include "util/addr.h"
#include "util/err.h"

#include <stdlib.h>
#include <string.h>

int hd_parse_hostport(const char *addr, char *host, int *port)
{
    const char *a = addr;
    const char *sep = strstr(a, "://");
    if (sep)
        a = sep + 3;
    const char *colon;
    size_t hlen;
    if (*a == '[') {
        const char *rb = strchr(a, ']');
        if (!rb || rb[1] != ':')
            return HD_EINVAL;
        hlen = (size_t)(rb - a - 1);
        a++;
        colon = rb + 1;
    } else {
        colon = strrchr(a, ':');
        if (!colon)
            return HD_EINVAL;
        hlen = (size_t)(colon - a);
    }
    if (hlen >= 256)
        return HD_EINVAL;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || p < 0 || p > 65535)
        return HD_EINVAL;
    memcpy(host, a, hlen);
    host[hlen] = '\0';
    if (hlen == 0)
        strcpy(host, "0.0.0.0");
    *port = (int)p;
    return 0;
}
