/* Committed-offset metadata through the Java client, for Herald's integration tests: a consumer
 * of a group (no subscription) commits one offset per partition with the given metadata and reads
 * it back with committed(); the Admin client reads it back too (listConsumerGroupOffsets). The
 * metadata strings travel hex-encoded (UTF-8) so that any byte survives the tab-separated command
 * line. */
package herald.compat;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

final class OffsetCommands {
    private OffsetCommands() {}

    static String hex(String s) {
        StringBuilder b = new StringBuilder();
        for (byte x : s.getBytes(StandardCharsets.UTF_8))
            b.append(String.format("%02x", x & 0xff));
        return b.toString();
    }

    /** commit-metadata bootstrap group topic hexMetadata...: partition i gets offset 10 + i and
     *  metadata i; answers {"committed": [hex...], "admin": [hex...]} in partition order. */
    static Map<String, Object> commitMetadata(String bootstrap, String group, String topic,
                                              String[] hexMetadata) throws Exception {
        Properties p = Driver.consumerProps(bootstrap, "java-metadata");
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        Map<TopicPartition, OffsetAndMetadata> offsets = new LinkedHashMap<>();
        for (int i = 0; i < hexMetadata.length; i++) {
            String md = new String(Driver.unhex(hexMetadata[i]), StandardCharsets.UTF_8);
            offsets.put(new TopicPartition(topic, i), new OffsetAndMetadata(10 + i, md));
        }
        List<Object> committed = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c =
                 new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            c.commitSync(offsets, Duration.ofSeconds(15));
            Map<TopicPartition, OffsetAndMetadata> got =
                c.committed(new HashSet<>(offsets.keySet()), Duration.ofSeconds(15));
            for (TopicPartition tp : offsets.keySet()) {
                OffsetAndMetadata om = got.get(tp);
                committed.add(om == null ? null : List.of(om.offset(), hex(om.metadata())));
            }
        }
        Properties ap = new Properties();
        ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        ap.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        ap.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) Driver.ADMIN_TIMEOUT_MS);
        List<Object> viaAdmin = new ArrayList<>();
        try (Admin admin = Admin.create(ap)) {
            Map<TopicPartition, OffsetAndMetadata> got =
                admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(
                    Driver.ADMIN_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            for (TopicPartition tp : offsets.keySet()) {
                OffsetAndMetadata om = got.get(tp);
                viaAdmin.add(om == null ? null : List.of(om.offset(), hex(om.metadata())));
            }
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("committed", committed);
        out.put("admin", viaAdmin);
        return out;
    }
}
