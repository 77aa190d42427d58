/* Kafka's murmur2 hash and its default key partitioner, so that keys sent over HTTP land in the
 * same partition as keys sent by Apache Kafka's Java client (and librdkafka's murmur2_random). */
#ifndef HD_MURMUR2_H
#define HD_MURMUR2_H

#include <stddef.h>
#include <stdint.h>

/* MurmurHash2, 32-bit, seed 0x9747b28c, exactly as org.apache.kafka.common.utils.Utils.murmur2
 * (returned as the same bits, so a negative Java int is a large uint32_t). */
uint32_t hd_murmur2(const void *key, size_t len);
/* The partition of a non-null key: (murmur2(key) & 0x7fffffff) % partitions. partitions > 0. */
int32_t hd_murmur2_partition(const void *key, size_t len, int32_t partitions);

#endif
