/* Private to broker/: the structs shared by its files. Loop thread only. */
#ifndef BROKER_INT_H
#define BROKER_INT_H

#include "broker/broker.h"

#define BROKER_PRODUCER_BATCHES 5

typedef struct broker__pbatch {
    int32_t first_seq;
    int32_t last_seq;
    int64_t base_offset;
    int64_t end_offset;
} broker__pbatch_t;

/* Idempotent-producer state of one producer on one partition: its epoch and the last five
 * batches, newest at b[(head + n - 1) % 5]. */
typedef struct broker__producer {
    int64_t pid;
    int16_t epoch;
    int n;
    int head;
    int64_t last_ms;
    broker__pbatch_t b[BROKER_PRODUCER_BATCHES];
} broker__producer_t;

struct broker_partition {
    broker_topic_t *topic;
    int32_t index;
    char *dir;
    log_partition_t *log;
    broker_waiter_t *waiters; /* doubly linked, unordered */
    broker_partition_t *active_next;
    bool active;
    bool producers_loaded;
    broker__producer_t *producers;
    int nproducers, cap_producers;
};

#define BROKER_MAX_OVERRIDES 16

struct broker_topic {
    broker_t *broker;
    char *name;
    int32_t nparts;
    broker_partition_t **parts;
    broker_topic_config_t cfg;
    /* Explicit overrides as given at creation, for DescribeConfigs' is_default. */
    char *override_names[BROKER_MAX_OVERRIDES];
    int noverrides;
};

struct broker {
    const hd_config_t *cfg;
    char *data_dir;
    char *topics_dir;
    char cluster_id[40];
    broker_topic_t **topics;
    int ntopics, cap_topics;
    log_flusher_t *flusher;
    broker_partition_t *active; /* partitions with waiters */
    int64_t next_pid, pid_limit;
    hd_buf_t scratch;
};

/* producer.c */
int broker__producer_check(broker_partition_t *p, const broker_batch_hdr_t *h, broker_append_t *dup,
                           const char **why);
void broker__producer_record(broker_partition_t *p, const broker_batch_hdr_t *h,
                             int64_t base_offset);
void broker__producers_free(broker_partition_t *p);

#endif
