/* Private to kafka/: the handler table and helpers shared by the handle_*.c files. */
#ifndef KAFKA_HANDLER_INT_H
#define KAFKA_HANDLER_INT_H

#include "kafka/handler.h"
#include "kafka/kafka.h"

/* Fills `resp` (zeroed, arena-owned) from `req`. Returns KAFKA_REQ_DONE, KAFKA_REQ_PENDING (the
 * handler calls kafka__finish() later) or KAFKA_REQ_CLOSE. */
typedef int (*kafka__handler_fn)(kafka_req_t *r, void *req, void *resp);

typedef struct kafka__handler {
    int16_t key;
    kafka__handler_fn fn;
} kafka__handler_t;

/* The APIs Herald answers; ApiVersions advertises exactly these. */
extern const kafka__handler_t kafka__handlers[];
extern const int kafka__nhandlers;

/* Per-request state hooks for deferred handlers. */
typedef struct kafka__deferred {
    void (*abort)(kafka_req_t *r);
    void (*timeout)(kafka_req_t *r);
    void (*free)(kafka_req_t *r);
} kafka__deferred_t;

/* Arena helpers that never fail for small sizes: the arena limit only bounds decoding, so
 * response building uses a separate unlimited allowance. */
void *kafka__alloc(kafka_req_t *r, size_t n);
char *kafka__strdup(kafka_req_t *r, const char *s);
/* Where clients should connect: the advertised address, else the listener, with a wildcard
 * host replaced by this machine's name. */
void kafka__advertised(const hd_config_t *cfg, char *host, size_t hostlen, int32_t *port);

/* The authorized operations of a group as Kafka reports them without an authorizer: every
 * operation a group supports (READ 3, DELETE 6, DESCRIBE 8, DESCRIBE_CONFIGS 10, ALTER_CONFIGS
 * 11, as bits of AK's AclOperation codes). */
#define KAFKA_GROUP_AUTHORIZED_OPS ((1 << 3) | (1 << 6) | (1 << 8) | (1 << 10) | (1 << 11))

/* produce_check.c: schema validation of Produce batches, prepared on worker threads. */
/* Plans the validation of a decoded Produce request: when a partition's topic validates, copies
 * every partition's records out of the request body (unless body_kept) and returns how many
 * parts the records are cut into (at least max_parts when there are records enough); 0:
 * nothing to prepare. Sets r->prep_here. */
int kafka__produce_plan(kafka_req_t *r, kafka_ProduceRequest_t *req, int max_parts);
/* Claims the plan's next unclaimed part and checks it; false when every part was claimed
 * already (any thread, concurrently). */
bool kafka__produce_prepare_next(kafka_req_t *r);
/* Every part has been claimed (though perhaps not finished). */
bool kafka__produce_claimed(const kafka_req_t *r);
void kafka__produce_plan_free(kafka_req_t *r);
/* How the batch a verdict leaves is appended. */
typedef enum {
    KAFKA_APPEND_AS,      /* broker_partition_append_as(): checked by the append */
    KAFKA_APPEND_CHECKED, /* broker_partition_append_checked(): checked in full already */
    KAFKA_APPEND_KEPT,    /* broker_partition_append_kept(): the broker's batch of the good
                           * records of an idempotent producer's batch (offsets with gaps) */
} kafka__append_how_t;
/* The verdict on partition k of topic ti (position in the request) of validating topic t:
 * returns 0 (append *batch as *how says, which may be a rebuilt batch of the good records;
 * *len 0: nothing left to append), HD_EMALFORMED (refused; pr's RecordErrors and ErrorMessage
 * say why) or HD_ETOOBIG (the good records do not fit max.message.bytes once rebuilt). */
int kafka__produce_validate(kafka_req_t *r, int32_t ti, int32_t k, broker_topic_t *t,
                            broker_partition_t *p, uint8_t **batch, size_t *len,
                            kafka__append_how_t *how,
                            kafka_ProduceResponse_PartitionProduceResponse_t *pr);

/* group_seen.c: the consumer group a client last named in a group request, for attributing its
 * fetches ("" when none). */
void kafka__group_note(kafka_req_t *r, const char *group);
const char *kafka__group_of(const kafka_req_t *r);

int kafka__handle_ApiVersions(kafka_req_t *r, void *req, void *resp);
int kafka__handle_Metadata(kafka_req_t *r, void *req, void *resp);
int kafka__handle_CreateTopics(kafka_req_t *r, void *req, void *resp);
int kafka__handle_DeleteTopics(kafka_req_t *r, void *req, void *resp);
int kafka__handle_DeleteRecords(kafka_req_t *r, void *req, void *resp);
int kafka__handle_DescribeCluster(kafka_req_t *r, void *req, void *resp);
int kafka__handle_CreatePartitions(kafka_req_t *r, void *req, void *resp);
int kafka__handle_DescribeConfigs(kafka_req_t *r, void *req, void *resp);
int kafka__handle_AlterConfigs(kafka_req_t *r, void *req, void *resp);
int kafka__handle_IncrementalAlterConfigs(kafka_req_t *r, void *req, void *resp);
int kafka__handle_InitProducerId(kafka_req_t *r, void *req, void *resp);
int kafka__handle_FindCoordinator(kafka_req_t *r, void *req, void *resp);
int kafka__handle_Produce(kafka_req_t *r, void *req, void *resp);
int kafka__handle_Fetch(kafka_req_t *r, void *req, void *resp);
int kafka__handle_ListOffsets(kafka_req_t *r, void *req, void *resp);
int kafka__handle_JoinGroup(kafka_req_t *r, void *req, void *resp);
int kafka__handle_SyncGroup(kafka_req_t *r, void *req, void *resp);
int kafka__handle_Heartbeat(kafka_req_t *r, void *req, void *resp);
int kafka__handle_LeaveGroup(kafka_req_t *r, void *req, void *resp);
int kafka__handle_OffsetCommit(kafka_req_t *r, void *req, void *resp);
int kafka__handle_OffsetFetch(kafka_req_t *r, void *req, void *resp);
int kafka__handle_DescribeGroups(kafka_req_t *r, void *req, void *resp);
int kafka__handle_ListGroups(kafka_req_t *r, void *req, void *resp);
int kafka__handle_DeleteGroups(kafka_req_t *r, void *req, void *resp);
int kafka__handle_OffsetDelete(kafka_req_t *r, void *req, void *resp);
int kafka__handle_ConsumerGroupHeartbeat(kafka_req_t *r, void *req, void *resp);
int kafka__handle_ConsumerGroupDescribe(kafka_req_t *r, void *req, void *resp);
/* Share groups (handle_share.c), for ListGroups: how many, and the id and state ("Stable" or
 * "Empty") of the i-th. sh may be NULL (none). */
int kafka__share_group_count(const kafka_shares_t *sh);
const char *kafka__share_group_at(const kafka_shares_t *sh, int i, const char **state);
int kafka__handle_ShareGroupHeartbeat(kafka_req_t *r, void *req, void *resp);
int kafka__handle_ShareGroupDescribe(kafka_req_t *r, void *req, void *resp);
int kafka__handle_ShareFetch(kafka_req_t *r, void *req, void *resp);
int kafka__handle_ShareAcknowledge(kafka_req_t *r, void *req, void *resp);

#endif
