/* Open files against the process's limit (broker_fd_budget). A partition's log opens on its first
 * use, so a topic of 2,000 partitions costs nothing when it is created and its descriptors when it
 * is written: without this check a limit of 1,024 (most systems' default for a process) let such a
 * topic be created, then failed its appends one by one with "Too many open files", and with them
 * the journal's checkpoints, which need descriptors too. The server raises the limit to the hard
 * one at start (util/fdlimit.h); this refuses what would still not fit, when the topic is made. */
#include "broker/broker_int.h"
#include "util/err.h"
#include "util/fdlimit.h"

#include <inttypes.h>
#include <stdio.h>

/* Partitions whose log is not open yet: each will need descriptors on first use. */
static int64_t unopened(const broker_t *b)
{
    int64_t n = 0;
    for (int i = 0; i < b->ntopics; i++) {
        const broker_topic_t *t = b->topics[i];
        for (int32_t k = 0; k < t->nparts; k++)
            n += t->parts[k]->log == NULL;
    }
    return n;
}

int broker_fd_budget(broker_t *b, int64_t more, const char **why)
{
    long limit = hd_fdlimit_get();
    long open_now = hd_fds_open();
    if (limit == HD_FDLIMIT_NONE || open_now < 0)
        return 0;
    int64_t later = unopened(b) + more;
    int64_t need = (int64_t)open_now + later * BROKER_FDS_PER_PARTITION + BROKER_FD_RESERVE;
    if (need <= (int64_t)limit)
        return 0;
    snprintf(b->fd_why, sizeof b->fd_why,
             "the open files limit is %ld: %ld files are open, and %" PRId64
             " partitions not opened yet (the new ones included) need about %d each, plus %d kept "
             "for connections; raise the limit (ulimit -n, or LimitNOFILE= for a systemd "
             "service) to at least %" PRId64,
             limit, open_now, later, BROKER_FDS_PER_PARTITION, BROKER_FD_RESERVE, need);
    *why = b->fd_why;
    return HD_ERANGE;
}
