/* Scheduling hints and names for helper threads. */
#ifndef HD_SCHED_H
#define HD_SCHED_H

/* Marks the calling thread as background work (SCHED_BATCH), once per thread; a refusal is
 * ignored. A batch thread that is woken does not preempt the thread running on the core it is
 * woken on (the scheduler's tick or that thread's next sleep lets it in). For the worker pool's
 * checks of a request: the event loop wakes one worker per job, and a worker that preempted it
 * used to hold it off until every part was checked, so the loop neither woke the next worker
 * nor checked its own share while the other core stayed idle. */
void hd_sched_background(void);

/* Names the calling thread (at most 15 bytes are kept), so that `top -H`, `ps -L`, `perf` and
 * /proc/<pid>/task/<tid>/comm tell Herald's threads apart. A refusal is ignored. */
void hd_thread_name(const char *name);

#endif
