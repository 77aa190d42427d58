/* The topic-level settings Herald supports, as one X-macro table (Kafka's topic config names).
 * X(name, kind, member, broker-default expression) where kind is INT, BOOL, or a fixed string set
 * handled by hand (cleanup.policy, compression.type, message.timestamp.type, min.insync.replicas).
 */
#ifndef BROKER_TOPIC_CONFIG_H
#define BROKER_TOPIC_CONFIG_H

#define BROKER_TOPIC_INT_CONFIGS(X)                                                                \
    X("retention.ms", retention_ms, retention_ms, -1)                                              \
    X("retention.bytes", retention_bytes, retention_bytes, -1)                                     \
    X("segment.bytes", segment_bytes, segment_bytes, 1048576)                                      \
    X("segment.ms", segment_ms, roll_ms, 1)                                                        \
    X("max.message.bytes", max_message_bytes, message_max_bytes, 64)                               \
    X("index.interval.bytes", index_interval_bytes, index_interval_bytes, 1)

#endif
