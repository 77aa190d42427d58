/* Kafka ErrorCodes (AK Errors.java) as one X-macro table. They are response data (int16_t),
 * never return codes; broker return codes are mapped to them once, in kafka_err_from_rc(). */
#ifndef KAFKA_ERRORS_H
#define KAFKA_ERRORS_H

#include <stdint.h>

#define KAFKA_ERRORS(X)                                                                            \
    X(UNKNOWN_SERVER_ERROR, -1)                                                                    \
    X(NONE, 0)                                                                                     \
    X(OFFSET_OUT_OF_RANGE, 1)                                                                      \
    X(CORRUPT_MESSAGE, 2)                                                                          \
    X(UNKNOWN_TOPIC_OR_PARTITION, 3)                                                               \
    X(LEADER_NOT_AVAILABLE, 5)                                                                     \
    X(NOT_LEADER_OR_FOLLOWER, 6)                                                                   \
    X(REQUEST_TIMED_OUT, 7)                                                                        \
    X(MESSAGE_TOO_LARGE, 10)                                                                       \
    X(OFFSET_METADATA_TOO_LARGE, 12)                                                               \
    X(COORDINATOR_LOAD_IN_PROGRESS, 14)                                                            \
    X(COORDINATOR_NOT_AVAILABLE, 15)                                                               \
    X(NOT_COORDINATOR, 16)                                                                         \
    X(INVALID_TOPIC_EXCEPTION, 17)                                                                 \
    X(INVALID_REQUIRED_ACKS, 21)                                                                   \
    X(ILLEGAL_GENERATION, 22)                                                                      \
    X(INCONSISTENT_GROUP_PROTOCOL, 23)                                                             \
    X(INVALID_GROUP_ID, 24)                                                                        \
    X(UNKNOWN_MEMBER_ID, 25)                                                                       \
    X(INVALID_SESSION_TIMEOUT, 26)                                                                 \
    X(REBALANCE_IN_PROGRESS, 27)                                                                   \
    X(GROUP_AUTHORIZATION_FAILED, 30)                                                              \
    X(INVALID_TIMESTAMP, 32)                                                                       \
    X(UNSUPPORTED_VERSION, 35)                                                                     \
    X(TOPIC_ALREADY_EXISTS, 36)                                                                    \
    X(INVALID_PARTITIONS, 37)                                                                      \
    X(INVALID_REPLICATION_FACTOR, 38)                                                              \
    X(INVALID_REPLICA_ASSIGNMENT, 39)                                                              \
    X(INVALID_CONFIG, 40)                                                                          \
    X(NOT_CONTROLLER, 41)                                                                          \
    X(INVALID_REQUEST, 42)                                                                         \
    X(UNSUPPORTED_FOR_MESSAGE_FORMAT, 43)                                                          \
    X(POLICY_VIOLATION, 44)                                                                        \
    X(OUT_OF_ORDER_SEQUENCE_NUMBER, 45)                                                            \
    X(DUPLICATE_SEQUENCE_NUMBER, 46)                                                               \
    X(INVALID_PRODUCER_EPOCH, 47)                                                                  \
    X(TRANSACTIONAL_ID_AUTHORIZATION_FAILED, 53)                                                   \
    X(KAFKA_STORAGE_ERROR, 56)                                                                     \
    X(SASL_AUTHENTICATION_FAILED, 58)                                                              \
    X(UNKNOWN_PRODUCER_ID, 59)                                                                     \
    X(NON_EMPTY_GROUP, 68)                                                                         \
    X(GROUP_ID_NOT_FOUND, 69)                                                                      \
    X(FETCH_SESSION_ID_NOT_FOUND, 70)                                                              \
    X(INVALID_FETCH_SESSION_EPOCH, 71)                                                             \
    X(FENCED_LEADER_EPOCH, 74)                                                                     \
    X(UNKNOWN_LEADER_EPOCH, 75)                                                                    \
    X(UNSUPPORTED_COMPRESSION_TYPE, 76)                                                            \
    X(MEMBER_ID_REQUIRED, 79)                                                                      \
    X(GROUP_MAX_SIZE_REACHED, 81)                                                                  \
    X(FENCED_INSTANCE_ID, 82)                                                                      \
    X(GROUP_SUBSCRIBED_TO_TOPIC, 86)                                                               \
    X(INVALID_RECORD, 87)                                                                          \
    X(UNKNOWN_TOPIC_ID, 100)                                                                       \
    X(FENCED_MEMBER_EPOCH, 110)                                                                    \
    X(UNRELEASED_INSTANCE_ID, 111)                                                                 \
    X(UNSUPPORTED_ASSIGNOR, 112)                                                                   \
    X(STALE_MEMBER_EPOCH, 113)                                                                     \
    X(INVALID_RECORD_STATE, 121)                                                                   \
    X(SHARE_SESSION_NOT_FOUND, 122)                                                                \
    X(INVALID_SHARE_SESSION_EPOCH, 123)                                                            \
    X(INVALID_REGULAR_EXPRESSION, 128)

enum {
#define KAFKA_ERR_ENUM(name, code) KAFKA_ERR_##name = (code),
    KAFKA_ERRORS(KAFKA_ERR_ENUM)
#undef KAFKA_ERR_ENUM
};

/* Returns the Kafka name of an error code ("UNKNOWN_TOPIC_OR_PARTITION"), or "UNKNOWN_CODE". */
const char *kafka_err_name(int16_t code);

/* Maps a broker return code (0, HD_* or -errno) to the Kafka ErrorCode a response carries. */
int16_t kafka_err_from_rc(int rc);

#endif
