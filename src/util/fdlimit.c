#include "util/fdlimit.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

static long as_limit(rlim_t v) { return v == RLIM_INFINITY ? HD_FDLIMIT_NONE : (long)v; }

/* /proc/sys/fs/nr_open: the most a process's limit may be raised to; 0 if unknown. */
static rlim_t nr_open(void)
{
    FILE *f = fopen("/proc/sys/fs/nr_open", "r");
    unsigned long v = 0;
    if (f) {
        if (fscanf(f, "%lu", &v) != 1)
            v = 0;
        fclose(f);
    }
    return (rlim_t)v;
}

long hd_fdlimit_raise(long *before)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        *before = HD_FDLIMIT_NONE;
        return HD_FDLIMIT_NONE;
    }
    *before = as_limit(rl.rlim_cur);
    if (rl.rlim_cur == RLIM_INFINITY)
        return HD_FDLIMIT_NONE;
    rlim_t want = rl.rlim_max;
    rlim_t cap = nr_open();
    if (want == RLIM_INFINITY || (cap && want > cap))
        want = cap ? cap : rl.rlim_cur;
    if (want > rl.rlim_cur) {
        struct rlimit next = {want, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &next) == 0)
            return as_limit(want);
    }
    return as_limit(rl.rlim_cur);
}

long hd_fdlimit_get(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return HD_FDLIMIT_NONE;
    return as_limit(rl.rlim_cur);
}

long hd_fds_open(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) /* out of descriptors: every one the limit allows is open */
        return errno == EMFILE ? hd_fdlimit_get() : -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}
