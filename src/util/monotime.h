/* Clocks: monotonic for timeouts, wall clock for record timestamps. */
#ifndef HD_MONOTIME_H
#define HD_MONOTIME_H

#include <stdint.h>

int64_t hd_mono_ns(void);
int64_t hd_mono_ms(void);
/* Milliseconds since the Unix epoch. */
int64_t hd_wall_ms(void);

#endif
