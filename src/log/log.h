/* log/: the partition log. Stores RecordBatch v2 frames verbatim in segment files with sparse
 * offset and time indexes, recovers after a crash, applies retention, and group-commits fsyncs on
 * a flusher thread. Knows nothing of Kafka requests. */
#ifndef LOG_LOG_H
#define LOG_LOG_H

#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Size of the fixed RecordBatch v2 header. */
#define LOG_BATCH_HEADER_LEN 61

/* --- Configuration --- */

typedef struct log_config {
    int64_t segment_bytes;        /* log.segment.bytes, default 1 GiB (at most INT32_MAX) */
    int64_t segment_ms;           /* log.roll.ms, default 7 days; roll when the active segment's
                                     first batch is older */
    int64_t retention_ms;         /* log.retention.ms, -1 = keep forever */
    int64_t retention_bytes;      /* log.retention.bytes, -1 = unlimited */
    int32_t index_interval_bytes; /* log.index.interval.bytes, default 4096 */
    bool preallocate;             /* preallocate segment files to segment_bytes */
} log_config_t;

void log_config_defaults(log_config_t *cfg);

/* Owned by the loop thread, except the functions marked thread-safe. */
typedef struct log_partition log_partition_t;

/* --- Lifecycle --- */

int log_partition_open(const char *dir, const log_config_t *cfg, log_partition_t **out);
void log_partition_close(log_partition_t *p);
void log_partition_close_dirty(log_partition_t *p);
int log_partition_destroy_dir(const char *dir);
void log_partition_ref(log_partition_t *p);
void log_partition_unref(log_partition_t *p);

/* --- Writing --- */

int log_partition_append(log_partition_t *p, uint8_t *batch, size_t len, int64_t *base_offset);
int log_partition_apply_retention(log_partition_t *p, int64_t now_ms);
int log_partition_sync(log_partition_t *p);

/* --- State --- */

int64_t log_partition_end_offset(const log_partition_t *p);
int64_t log_partition_start_offset(const log_partition_t *p);
int64_t log_partition_durable_offset(const log_partition_t *p);
int64_t log_partition_size_bytes(const log_partition_t *p);
/* Number of segments (for tests and metrics). Loop thread. */
size_t log_partition_segment_count(const log_partition_t *p);

/* --- Reading --- */

ssize_t log_partition_read(log_partition_t *p, int64_t offset, int64_t max_offset, size_t max_bytes,
                           hd_buf_t *out);
int log_partition_find_time(log_partition_t *p, int64_t ts, int64_t max_offset,
                            int64_t *base_offset, hd_buf_t *out);

typedef int (*log_scan_cb)(void *ctx, const uint8_t hdr[61], int64_t base_offset);
int log_partition_scan(log_partition_t *p, int64_t from_offset, log_scan_cb cb, void *ctx);

/* --- Group-commit flusher --- */

typedef struct log_flusher log_flusher_t;

int log_flusher_start(void (*notify)(void *ctx), void *ctx, log_flusher_t **out);
void log_flusher_mark_dirty(log_flusher_t *f, log_partition_t *p);
void log_flusher_stop(log_flusher_t *f);

#endif
