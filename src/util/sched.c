#include "util/sched.h"

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
