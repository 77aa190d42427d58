/* librdkafka, loaded at run time: only the client commands need it, so `herald serve` does not
 * map it (nor the OpenSSL and SASL libraries it pulls in). Every librdkafka function the CLI
 * calls is listed here once; in CLI sources its name stands for a pointer that
 * cli__rdk_load() fills with dlsym(). Add a function here when the CLI starts using it. */
#ifndef CLI_RDK_H
#define CLI_RDK_H

#include <librdkafka/rdkafka.h>

#define CLI_RDK_FUNCS(X)                                                                           \
    X(rd_kafka_AdminOptions_destroy)                                                               \
    X(rd_kafka_AdminOptions_new)                                                                   \
    X(rd_kafka_AdminOptions_set_operation_timeout)                                                 \
    X(rd_kafka_AdminOptions_set_request_timeout)                                                   \
    X(rd_kafka_AlterConsumerGroupOffsets)                                                          \
    X(rd_kafka_AlterConsumerGroupOffsets_destroy)                                                  \
    X(rd_kafka_AlterConsumerGroupOffsets_new)                                                      \
    X(rd_kafka_AlterConsumerGroupOffsets_result_groups)                                            \
    X(rd_kafka_ConfigEntry_is_default)                                                             \
    X(rd_kafka_ConfigEntry_is_read_only)                                                           \
    X(rd_kafka_ConfigEntry_is_sensitive)                                                           \
    X(rd_kafka_ConfigEntry_name)                                                                   \
    X(rd_kafka_ConfigEntry_source)                                                                 \
    X(rd_kafka_ConfigEntry_value)                                                                  \
    X(rd_kafka_ConfigResource_configs)                                                             \
    X(rd_kafka_ConfigResource_destroy)                                                             \
    X(rd_kafka_ConfigResource_error)                                                               \
    X(rd_kafka_ConfigResource_error_string)                                                        \
    X(rd_kafka_ConfigResource_new)                                                                 \
    X(rd_kafka_ConsumerGroupDescription_coordinator)                                               \
    X(rd_kafka_ConsumerGroupDescription_error)                                                     \
    X(rd_kafka_ConsumerGroupDescription_member)                                                    \
    X(rd_kafka_ConsumerGroupDescription_member_count)                                              \
    X(rd_kafka_ConsumerGroupDescription_partition_assignor)                                        \
    X(rd_kafka_ConsumerGroupDescription_state)                                                     \
    X(rd_kafka_ConsumerGroupListing_group_id)                                                      \
    X(rd_kafka_ConsumerGroupListing_state)                                                         \
    X(rd_kafka_CreateTopics)                                                                       \
    X(rd_kafka_CreateTopics_result_topics)                                                         \
    X(rd_kafka_DeleteGroup_destroy)                                                                \
    X(rd_kafka_DeleteGroup_new)                                                                    \
    X(rd_kafka_DeleteGroups)                                                                       \
    X(rd_kafka_DeleteGroups_result_groups)                                                         \
    X(rd_kafka_DeleteTopic_destroy)                                                                \
    X(rd_kafka_DeleteTopic_new)                                                                    \
    X(rd_kafka_DeleteTopics)                                                                       \
    X(rd_kafka_DeleteTopics_result_topics)                                                         \
    X(rd_kafka_DescribeConfigs)                                                                    \
    X(rd_kafka_DescribeConfigs_result_resources)                                                   \
    X(rd_kafka_DescribeConsumerGroups)                                                             \
    X(rd_kafka_DescribeConsumerGroups_result_groups)                                               \
    X(rd_kafka_ListConsumerGroupOffsets)                                                           \
    X(rd_kafka_ListConsumerGroupOffsets_destroy)                                                   \
    X(rd_kafka_ListConsumerGroupOffsets_new)                                                       \
    X(rd_kafka_ListConsumerGroupOffsets_result_groups)                                             \
    X(rd_kafka_ListConsumerGroups)                                                                 \
    X(rd_kafka_ListConsumerGroups_result_errors)                                                   \
    X(rd_kafka_ListConsumerGroups_result_valid)                                                    \
    X(rd_kafka_MemberAssignment_partitions)                                                        \
    X(rd_kafka_MemberDescription_assignment)                                                       \
    X(rd_kafka_MemberDescription_client_id)                                                        \
    X(rd_kafka_MemberDescription_consumer_id)                                                      \
    X(rd_kafka_MemberDescription_host)                                                             \
    X(rd_kafka_NewTopic_destroy)                                                                   \
    X(rd_kafka_NewTopic_new)                                                                       \
    X(rd_kafka_NewTopic_set_config)                                                                \
    X(rd_kafka_Node_host)                                                                          \
    X(rd_kafka_Node_id)                                                                            \
    X(rd_kafka_Node_port)                                                                          \
    X(rd_kafka_assign)                                                                             \
    X(rd_kafka_assignment)                                                                         \
    X(rd_kafka_conf_destroy)                                                                       \
    X(rd_kafka_conf_new)                                                                           \
    X(rd_kafka_conf_set)                                                                           \
    X(rd_kafka_conf_set_dr_msg_cb)                                                                 \
    X(rd_kafka_conf_set_error_cb)                                                                  \
    X(rd_kafka_conf_set_log_cb)                                                                    \
    X(rd_kafka_conf_set_opaque)                                                                    \
    X(rd_kafka_conf_set_rebalance_cb)                                                              \
    X(rd_kafka_consumer_close_queue)                                                               \
    X(rd_kafka_consumer_closed)                                                                    \
    X(rd_kafka_consumer_group_state_name)                                                          \
    X(rd_kafka_consumer_poll)                                                                      \
    X(rd_kafka_destroy)                                                                            \
    X(rd_kafka_destroy_flags)                                                                      \
    X(rd_kafka_err2str)                                                                            \
    X(rd_kafka_error_code)                                                                         \
    X(rd_kafka_error_destroy)                                                                      \
    X(rd_kafka_error_string)                                                                       \
    X(rd_kafka_event_AlterConsumerGroupOffsets_result)                                             \
    X(rd_kafka_event_CreateTopics_result)                                                          \
    X(rd_kafka_event_DeleteGroups_result)                                                          \
    X(rd_kafka_event_DeleteTopics_result)                                                          \
    X(rd_kafka_event_DescribeConfigs_result)                                                       \
    X(rd_kafka_event_DescribeConsumerGroups_result)                                                \
    X(rd_kafka_event_ListConsumerGroupOffsets_result)                                              \
    X(rd_kafka_event_ListConsumerGroups_result)                                                    \
    X(rd_kafka_event_destroy)                                                                      \
    X(rd_kafka_event_error)                                                                        \
    X(rd_kafka_event_error_string)                                                                 \
    X(rd_kafka_event_topic_partition_list)                                                         \
    X(rd_kafka_event_type)                                                                         \
    X(rd_kafka_flush)                                                                              \
    X(rd_kafka_group_result_error)                                                                 \
    X(rd_kafka_group_result_partitions)                                                            \
    X(rd_kafka_header_add)                                                                         \
    X(rd_kafka_header_get_all)                                                                     \
    X(rd_kafka_headers_destroy)                                                                    \
    X(rd_kafka_headers_new)                                                                        \
    X(rd_kafka_incremental_assign)                                                                 \
    X(rd_kafka_incremental_unassign)                                                               \
    X(rd_kafka_message_destroy)                                                                    \
    X(rd_kafka_message_headers)                                                                    \
    X(rd_kafka_message_timestamp)                                                                  \
    X(rd_kafka_metadata)                                                                           \
    X(rd_kafka_metadata_destroy)                                                                   \
    X(rd_kafka_new)                                                                                \
    X(rd_kafka_offsets_for_times)                                                                  \
    X(rd_kafka_offsets_store)                                                                      \
    X(rd_kafka_opaque)                                                                             \
    X(rd_kafka_outq_len)                                                                           \
    X(rd_kafka_poll)                                                                               \
    X(rd_kafka_poll_set_consumer)                                                                  \
    X(rd_kafka_producev)                                                                           \
    X(rd_kafka_query_watermark_offsets)                                                            \
    X(rd_kafka_queue_destroy)                                                                      \
    X(rd_kafka_queue_new)                                                                          \
    X(rd_kafka_queue_poll)                                                                         \
    X(rd_kafka_rebalance_protocol)                                                                 \
    X(rd_kafka_subscribe)                                                                          \
    X(rd_kafka_topic_name)                                                                         \
    X(rd_kafka_topic_partition_list_add)                                                           \
    X(rd_kafka_topic_partition_list_copy)                                                          \
    X(rd_kafka_topic_partition_list_destroy)                                                       \
    X(rd_kafka_topic_partition_list_find)                                                          \
    X(rd_kafka_topic_partition_list_new)                                                           \
    X(rd_kafka_topic_partition_list_sort)                                                          \
    X(rd_kafka_topic_result_error)                                                                 \
    X(rd_kafka_topic_result_error_string)                                                          \
    X(rd_kafka_topic_result_name)

#define CLI_RDK_DECLARE(f) extern __typeof__(f) *cli__rdk_##f;
CLI_RDK_FUNCS(CLI_RDK_DECLARE)
#undef CLI_RDK_DECLARE

/* Loads librdkafka and resolves every function above, once. Returns 0, or -1 after printing
 * why to stderr (a client command then exits with an error). */
int cli__rdk_load(void);

#ifndef CLI_RDK_NO_REDIRECT
#define rd_kafka_AdminOptions_destroy(...) (*cli__rdk_rd_kafka_AdminOptions_destroy)(__VA_ARGS__)
#define rd_kafka_AdminOptions_new(...) (*cli__rdk_rd_kafka_AdminOptions_new)(__VA_ARGS__)
#define rd_kafka_AdminOptions_set_operation_timeout                                                \
    (*cli__rdk_rd_kafka_AdminOptions_set_operation_timeout)
#define rd_kafka_AdminOptions_set_request_timeout                                                  \
    (*cli__rdk_rd_kafka_AdminOptions_set_request_timeout)
#define rd_kafka_AlterConsumerGroupOffsets(...)                                                    \
    (*cli__rdk_rd_kafka_AlterConsumerGroupOffsets)(__VA_ARGS__)
#define rd_kafka_AlterConsumerGroupOffsets_destroy                                                 \
    (*cli__rdk_rd_kafka_AlterConsumerGroupOffsets_destroy)
#define rd_kafka_AlterConsumerGroupOffsets_new(...)                                                \
    (*cli__rdk_rd_kafka_AlterConsumerGroupOffsets_new)(__VA_ARGS__)
#define rd_kafka_AlterConsumerGroupOffsets_result_groups                                           \
    (*cli__rdk_rd_kafka_AlterConsumerGroupOffsets_result_groups)
#define rd_kafka_ConfigEntry_is_default(...)                                                       \
    (*cli__rdk_rd_kafka_ConfigEntry_is_default)(__VA_ARGS__)
#define rd_kafka_ConfigEntry_is_read_only(...)                                                     \
    (*cli__rdk_rd_kafka_ConfigEntry_is_read_only)(__VA_ARGS__)
#define rd_kafka_ConfigEntry_is_sensitive(...)                                                     \
    (*cli__rdk_rd_kafka_ConfigEntry_is_sensitive)(__VA_ARGS__)
#define rd_kafka_ConfigEntry_name(...) (*cli__rdk_rd_kafka_ConfigEntry_name)(__VA_ARGS__)
#define rd_kafka_ConfigEntry_source(...) (*cli__rdk_rd_kafka_ConfigEntry_source)(__VA_ARGS__)
#define rd_kafka_ConfigEntry_value(...) (*cli__rdk_rd_kafka_ConfigEntry_value)(__VA_ARGS__)
#define rd_kafka_ConfigResource_configs(...)                                                       \
    (*cli__rdk_rd_kafka_ConfigResource_configs)(__VA_ARGS__)
#define rd_kafka_ConfigResource_destroy(...)                                                       \
    (*cli__rdk_rd_kafka_ConfigResource_destroy)(__VA_ARGS__)
#define rd_kafka_ConfigResource_error(...) (*cli__rdk_rd_kafka_ConfigResource_error)(__VA_ARGS__)
#define rd_kafka_ConfigResource_error_string(...)                                                  \
    (*cli__rdk_rd_kafka_ConfigResource_error_string)(__VA_ARGS__)
#define rd_kafka_ConfigResource_new(...) (*cli__rdk_rd_kafka_ConfigResource_new)(__VA_ARGS__)
#define rd_kafka_ConsumerGroupDescription_coordinator                                              \
    (*cli__rdk_rd_kafka_ConsumerGroupDescription_coordinator)
#define rd_kafka_ConsumerGroupDescription_error(...)                                               \
    (*cli__rdk_rd_kafka_ConsumerGroupDescription_error)(__VA_ARGS__)
#define rd_kafka_ConsumerGroupDescription_member                                                   \
    (*cli__rdk_rd_kafka_ConsumerGroupDescription_member)
#define rd_kafka_ConsumerGroupDescription_member_count                                             \
    (*cli__rdk_rd_kafka_ConsumerGroupDescription_member_count)
#define rd_kafka_ConsumerGroupDescription_partition_assignor                                       \
    (*cli__rdk_rd_kafka_ConsumerGroupDescription_partition_assignor)
#define rd_kafka_ConsumerGroupDescription_state(...)                                               \
    (*cli__rdk_rd_kafka_ConsumerGroupDescription_state)(__VA_ARGS__)
#define rd_kafka_ConsumerGroupListing_group_id(...)                                                \
    (*cli__rdk_rd_kafka_ConsumerGroupListing_group_id)(__VA_ARGS__)
#define rd_kafka_ConsumerGroupListing_state(...)                                                   \
    (*cli__rdk_rd_kafka_ConsumerGroupListing_state)(__VA_ARGS__)
#define rd_kafka_CreateTopics(...) (*cli__rdk_rd_kafka_CreateTopics)(__VA_ARGS__)
#define rd_kafka_CreateTopics_result_topics(...)                                                   \
    (*cli__rdk_rd_kafka_CreateTopics_result_topics)(__VA_ARGS__)
#define rd_kafka_DeleteGroup_destroy(...) (*cli__rdk_rd_kafka_DeleteGroup_destroy)(__VA_ARGS__)
#define rd_kafka_DeleteGroup_new(...) (*cli__rdk_rd_kafka_DeleteGroup_new)(__VA_ARGS__)
#define rd_kafka_DeleteGroups(...) (*cli__rdk_rd_kafka_DeleteGroups)(__VA_ARGS__)
#define rd_kafka_DeleteGroups_result_groups(...)                                                   \
    (*cli__rdk_rd_kafka_DeleteGroups_result_groups)(__VA_ARGS__)
#define rd_kafka_DeleteTopic_destroy(...) (*cli__rdk_rd_kafka_DeleteTopic_destroy)(__VA_ARGS__)
#define rd_kafka_DeleteTopic_new(...) (*cli__rdk_rd_kafka_DeleteTopic_new)(__VA_ARGS__)
#define rd_kafka_DeleteTopics(...) (*cli__rdk_rd_kafka_DeleteTopics)(__VA_ARGS__)
#define rd_kafka_DeleteTopics_result_topics(...)                                                   \
    (*cli__rdk_rd_kafka_DeleteTopics_result_topics)(__VA_ARGS__)
#define rd_kafka_DescribeConfigs(...) (*cli__rdk_rd_kafka_DescribeConfigs)(__VA_ARGS__)
#define rd_kafka_DescribeConfigs_result_resources                                                  \
    (*cli__rdk_rd_kafka_DescribeConfigs_result_resources)
#define rd_kafka_DescribeConsumerGroups(...)                                                       \
    (*cli__rdk_rd_kafka_DescribeConsumerGroups)(__VA_ARGS__)
#define rd_kafka_DescribeConsumerGroups_result_groups                                              \
    (*cli__rdk_rd_kafka_DescribeConsumerGroups_result_groups)
#define rd_kafka_ListConsumerGroupOffsets(...)                                                     \
    (*cli__rdk_rd_kafka_ListConsumerGroupOffsets)(__VA_ARGS__)
#define rd_kafka_ListConsumerGroupOffsets_destroy                                                  \
    (*cli__rdk_rd_kafka_ListConsumerGroupOffsets_destroy)
#define rd_kafka_ListConsumerGroupOffsets_new(...)                                                 \
    (*cli__rdk_rd_kafka_ListConsumerGroupOffsets_new)(__VA_ARGS__)
#define rd_kafka_ListConsumerGroupOffsets_result_groups                                            \
    (*cli__rdk_rd_kafka_ListConsumerGroupOffsets_result_groups)
#define rd_kafka_ListConsumerGroups(...) (*cli__rdk_rd_kafka_ListConsumerGroups)(__VA_ARGS__)
#define rd_kafka_ListConsumerGroups_result_errors                                                  \
    (*cli__rdk_rd_kafka_ListConsumerGroups_result_errors)
#define rd_kafka_ListConsumerGroups_result_valid                                                   \
    (*cli__rdk_rd_kafka_ListConsumerGroups_result_valid)
#define rd_kafka_MemberAssignment_partitions(...)                                                  \
    (*cli__rdk_rd_kafka_MemberAssignment_partitions)(__VA_ARGS__)
#define rd_kafka_MemberDescription_assignment(...)                                                 \
    (*cli__rdk_rd_kafka_MemberDescription_assignment)(__VA_ARGS__)
#define rd_kafka_MemberDescription_client_id(...)                                                  \
    (*cli__rdk_rd_kafka_MemberDescription_client_id)(__VA_ARGS__)
#define rd_kafka_MemberDescription_consumer_id(...)                                                \
    (*cli__rdk_rd_kafka_MemberDescription_consumer_id)(__VA_ARGS__)
#define rd_kafka_MemberDescription_host(...)                                                       \
    (*cli__rdk_rd_kafka_MemberDescription_host)(__VA_ARGS__)
#define rd_kafka_NewTopic_destroy(...) (*cli__rdk_rd_kafka_NewTopic_destroy)(__VA_ARGS__)
#define rd_kafka_NewTopic_new(...) (*cli__rdk_rd_kafka_NewTopic_new)(__VA_ARGS__)
#define rd_kafka_NewTopic_set_config(...) (*cli__rdk_rd_kafka_NewTopic_set_config)(__VA_ARGS__)
#define rd_kafka_Node_host(...) (*cli__rdk_rd_kafka_Node_host)(__VA_ARGS__)
#define rd_kafka_Node_id(...) (*cli__rdk_rd_kafka_Node_id)(__VA_ARGS__)
#define rd_kafka_Node_port(...) (*cli__rdk_rd_kafka_Node_port)(__VA_ARGS__)
#define rd_kafka_assign(...) (*cli__rdk_rd_kafka_assign)(__VA_ARGS__)
#define rd_kafka_assignment(...) (*cli__rdk_rd_kafka_assignment)(__VA_ARGS__)
#define rd_kafka_conf_destroy(...) (*cli__rdk_rd_kafka_conf_destroy)(__VA_ARGS__)
#define rd_kafka_conf_new(...) (*cli__rdk_rd_kafka_conf_new)(__VA_ARGS__)
#define rd_kafka_conf_set(...) (*cli__rdk_rd_kafka_conf_set)(__VA_ARGS__)
#define rd_kafka_conf_set_dr_msg_cb(...) (*cli__rdk_rd_kafka_conf_set_dr_msg_cb)(__VA_ARGS__)
#define rd_kafka_conf_set_error_cb(...) (*cli__rdk_rd_kafka_conf_set_error_cb)(__VA_ARGS__)
#define rd_kafka_conf_set_log_cb(...) (*cli__rdk_rd_kafka_conf_set_log_cb)(__VA_ARGS__)
#define rd_kafka_conf_set_opaque(...) (*cli__rdk_rd_kafka_conf_set_opaque)(__VA_ARGS__)
#define rd_kafka_conf_set_rebalance_cb(...) (*cli__rdk_rd_kafka_conf_set_rebalance_cb)(__VA_ARGS__)
#define rd_kafka_consumer_close_queue(...) (*cli__rdk_rd_kafka_consumer_close_queue)(__VA_ARGS__)
#define rd_kafka_consumer_closed(...) (*cli__rdk_rd_kafka_consumer_closed)(__VA_ARGS__)
#define rd_kafka_consumer_group_state_name(...)                                                    \
    (*cli__rdk_rd_kafka_consumer_group_state_name)(__VA_ARGS__)
#define rd_kafka_consumer_poll(...) (*cli__rdk_rd_kafka_consumer_poll)(__VA_ARGS__)
#define rd_kafka_destroy(...) (*cli__rdk_rd_kafka_destroy)(__VA_ARGS__)
#define rd_kafka_destroy_flags(...) (*cli__rdk_rd_kafka_destroy_flags)(__VA_ARGS__)
#define rd_kafka_err2str(...) (*cli__rdk_rd_kafka_err2str)(__VA_ARGS__)
#define rd_kafka_error_code(...) (*cli__rdk_rd_kafka_error_code)(__VA_ARGS__)
#define rd_kafka_error_destroy(...) (*cli__rdk_rd_kafka_error_destroy)(__VA_ARGS__)
#define rd_kafka_error_string(...) (*cli__rdk_rd_kafka_error_string)(__VA_ARGS__)
#define rd_kafka_event_AlterConsumerGroupOffsets_result                                            \
    (*cli__rdk_rd_kafka_event_AlterConsumerGroupOffsets_result)
#define rd_kafka_event_CreateTopics_result(...)                                                    \
    (*cli__rdk_rd_kafka_event_CreateTopics_result)(__VA_ARGS__)
#define rd_kafka_event_DeleteGroups_result(...)                                                    \
    (*cli__rdk_rd_kafka_event_DeleteGroups_result)(__VA_ARGS__)
#define rd_kafka_event_DeleteTopics_result(...)                                                    \
    (*cli__rdk_rd_kafka_event_DeleteTopics_result)(__VA_ARGS__)
#define rd_kafka_event_DescribeConfigs_result(...)                                                 \
    (*cli__rdk_rd_kafka_event_DescribeConfigs_result)(__VA_ARGS__)
#define rd_kafka_event_DescribeConsumerGroups_result                                               \
    (*cli__rdk_rd_kafka_event_DescribeConsumerGroups_result)
#define rd_kafka_event_ListConsumerGroupOffsets_result                                             \
    (*cli__rdk_rd_kafka_event_ListConsumerGroupOffsets_result)
#define rd_kafka_event_ListConsumerGroups_result                                                   \
    (*cli__rdk_rd_kafka_event_ListConsumerGroups_result)
#define rd_kafka_event_destroy(...) (*cli__rdk_rd_kafka_event_destroy)(__VA_ARGS__)
#define rd_kafka_event_error(...) (*cli__rdk_rd_kafka_event_error)(__VA_ARGS__)
#define rd_kafka_event_error_string(...) (*cli__rdk_rd_kafka_event_error_string)(__VA_ARGS__)
#define rd_kafka_event_topic_partition_list(...)                                                   \
    (*cli__rdk_rd_kafka_event_topic_partition_list)(__VA_ARGS__)
#define rd_kafka_event_type(...) (*cli__rdk_rd_kafka_event_type)(__VA_ARGS__)
#define rd_kafka_flush(...) (*cli__rdk_rd_kafka_flush)(__VA_ARGS__)
#define rd_kafka_group_result_error(...) (*cli__rdk_rd_kafka_group_result_error)(__VA_ARGS__)
#define rd_kafka_group_result_partitions(...)                                                      \
    (*cli__rdk_rd_kafka_group_result_partitions)(__VA_ARGS__)
#define rd_kafka_header_add(...) (*cli__rdk_rd_kafka_header_add)(__VA_ARGS__)
#define rd_kafka_header_get_all(...) (*cli__rdk_rd_kafka_header_get_all)(__VA_ARGS__)
#define rd_kafka_headers_destroy(...) (*cli__rdk_rd_kafka_headers_destroy)(__VA_ARGS__)
#define rd_kafka_headers_new(...) (*cli__rdk_rd_kafka_headers_new)(__VA_ARGS__)
#define rd_kafka_incremental_assign(...) (*cli__rdk_rd_kafka_incremental_assign)(__VA_ARGS__)
#define rd_kafka_incremental_unassign(...) (*cli__rdk_rd_kafka_incremental_unassign)(__VA_ARGS__)
#define rd_kafka_message_destroy(...) (*cli__rdk_rd_kafka_message_destroy)(__VA_ARGS__)
#define rd_kafka_message_headers(...) (*cli__rdk_rd_kafka_message_headers)(__VA_ARGS__)
#define rd_kafka_message_timestamp(...) (*cli__rdk_rd_kafka_message_timestamp)(__VA_ARGS__)
#define rd_kafka_metadata(...) (*cli__rdk_rd_kafka_metadata)(__VA_ARGS__)
#define rd_kafka_metadata_destroy(...) (*cli__rdk_rd_kafka_metadata_destroy)(__VA_ARGS__)
#define rd_kafka_new(...) (*cli__rdk_rd_kafka_new)(__VA_ARGS__)
#define rd_kafka_offsets_for_times(...) (*cli__rdk_rd_kafka_offsets_for_times)(__VA_ARGS__)
#define rd_kafka_offsets_store(...) (*cli__rdk_rd_kafka_offsets_store)(__VA_ARGS__)
#define rd_kafka_opaque(...) (*cli__rdk_rd_kafka_opaque)(__VA_ARGS__)
#define rd_kafka_outq_len(...) (*cli__rdk_rd_kafka_outq_len)(__VA_ARGS__)
#define rd_kafka_poll(...) (*cli__rdk_rd_kafka_poll)(__VA_ARGS__)
#define rd_kafka_poll_set_consumer(...) (*cli__rdk_rd_kafka_poll_set_consumer)(__VA_ARGS__)
#define rd_kafka_producev(...) (*cli__rdk_rd_kafka_producev)(__VA_ARGS__)
#define rd_kafka_query_watermark_offsets(...)                                                      \
    (*cli__rdk_rd_kafka_query_watermark_offsets)(__VA_ARGS__)
#define rd_kafka_queue_destroy(...) (*cli__rdk_rd_kafka_queue_destroy)(__VA_ARGS__)
#define rd_kafka_queue_new(...) (*cli__rdk_rd_kafka_queue_new)(__VA_ARGS__)
#define rd_kafka_queue_poll(...) (*cli__rdk_rd_kafka_queue_poll)(__VA_ARGS__)
#define rd_kafka_rebalance_protocol(...) (*cli__rdk_rd_kafka_rebalance_protocol)(__VA_ARGS__)
#define rd_kafka_subscribe(...) (*cli__rdk_rd_kafka_subscribe)(__VA_ARGS__)
#define rd_kafka_topic_name(...) (*cli__rdk_rd_kafka_topic_name)(__VA_ARGS__)
#define rd_kafka_topic_partition_list_add(...)                                                     \
    (*cli__rdk_rd_kafka_topic_partition_list_add)(__VA_ARGS__)
#define rd_kafka_topic_partition_list_copy(...)                                                    \
    (*cli__rdk_rd_kafka_topic_partition_list_copy)(__VA_ARGS__)
#define rd_kafka_topic_partition_list_destroy(...)                                                 \
    (*cli__rdk_rd_kafka_topic_partition_list_destroy)(__VA_ARGS__)
#define rd_kafka_topic_partition_list_find(...)                                                    \
    (*cli__rdk_rd_kafka_topic_partition_list_find)(__VA_ARGS__)
#define rd_kafka_topic_partition_list_new(...)                                                     \
    (*cli__rdk_rd_kafka_topic_partition_list_new)(__VA_ARGS__)
#define rd_kafka_topic_partition_list_sort(...)                                                    \
    (*cli__rdk_rd_kafka_topic_partition_list_sort)(__VA_ARGS__)
#define rd_kafka_topic_result_error(...) (*cli__rdk_rd_kafka_topic_result_error)(__VA_ARGS__)
#define rd_kafka_topic_result_error_string(...)                                                    \
    (*cli__rdk_rd_kafka_topic_result_error_string)(__VA_ARGS__)
#define rd_kafka_topic_result_name(...) (*cli__rdk_rd_kafka_topic_result_name)(__VA_ARGS__)
#endif

#endif
