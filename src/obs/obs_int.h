/* Private to obs/: what its files share. Loop thread only. */
#ifndef OBS_INT_H
#define OBS_INT_H

#include <stdint.h>

/* catalog.c, called by obs_tick(): updates every type's rate (records per second since the
 * previous call). */
void obs__catalog_rates(int64_t now_ms);

#endif
