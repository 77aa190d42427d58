/* Clocks: monotonic for timeouts, wall clock for record timestamps. */
#ifndef HD_MONOTIME_H
#define HD_MONOTIME_H

#include <stdint.h>

struct timespec;

int64_t hd_mono_ns(void);
int64_t hd_mono_ms(void);
/* The CLOCK_MONOTONIC time ms from now, for pthread_cond_timedwait on a condition variable
 * whose clock is CLOCK_MONOTONIC. */
void hd_mono_deadline(struct timespec *ts, int64_t ms);
/* Milliseconds since the Unix epoch. */
int64_t hd_wall_ms(void);

#endif
