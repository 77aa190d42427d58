#include "util/sched.h"

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>

void hd_sched_background(void)
{
#ifdef SCHED_BATCH
    static _Thread_local bool done;
    if (done)
        return;
    done = true;
    struct sched_param sp = {.sched_priority = 0};
    (void)sched_setscheduler(0, SCHED_BATCH, &sp); /* 0: the calling thread */
#endif
}

void hd_thread_name(const char *name) { (void)pthread_setname_np(pthread_self(), name); }
