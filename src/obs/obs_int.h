/* Private to obs/: what its files share. Loop thread only. */
#ifndef OBS_INT_H
#define OBS_INT_H

#include "broker/records.h"

#include <stdbool.h>

#include <stdint.h>

/* catalog.c, called by obs_tick(): updates every type's rate (records per second since the
 * previous call). */
void obs__catalog_rates(int64_t now_ms);

/* catalog.c: how the catalog classifies one record (see the top of catalog.c); exposed for
 * tests and the fuzz target. name points into the record (or is the static "(untyped)"); a
 * CloudEvents name is 1..OBS__TYPE_MAX bytes. ctype is the content-type header (empty when
 * none). */
enum { OBS__KIND_UNTYPED, OBS__KIND_CLOUDEVENT, OBS__KIND_SCHEMA };
#define OBS__TYPE_MAX 255
typedef struct obs__classified {
    int kind;
    hd_slice_t name;
    int32_t schema_id; /* OBS__KIND_SCHEMA */
    hd_slice_t ctype;
    bool traced; /* a valid "traceparent" or "ce_traceparent" header */
} obs__classified_t;
void obs__classify(const broker_record_t *rec, obs__classified_t *out);

/* history.c: the ring, read by the architecture check (doctor.c). Series kinds: */
enum { OBS__SERIES_TOPIC, OBS__SERIES_GROUP, OBS__SERIES_SUB };
int obs__history_samples(void); /* samples kept, at most OBS_HISTORY_SLOTS */
int64_t obs__history_interval_ms(void);
int obs__history_nseries(void);
/* Series i's name and kind (OBS__SERIES_*). */
const char *obs__history_series(int i, int *kind);
/* The last n samples of series i, oldest first, into out: its first value (topics: records/s
 * in; groups: lag; subscriptions: backlog) or, with b, its second (topics: records/s out;
 * subscriptions: dead letters). NaN where the series did not exist. Returns how many (at most
 * the samples kept). */
int obs__history_tail(int i, bool b, int n, double *out);

#endif
