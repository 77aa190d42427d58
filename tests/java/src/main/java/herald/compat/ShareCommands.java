/* The Driver's share-group commands (KIP-932, KafkaShareConsumer). Members of a share group live
 * across commands until share-close, all driven from the Driver's thread:
 *
 *   share-open  NAME BOOTSTRAP GROUP TOPIC N        N members, explicit acknowledgement mode
 *   share-poll  NAME MEMBER TIMEOUT_MS ACTION [MAX] polls until records come (or the timeout),
 *                                                   acknowledges them per ACTION, commits
 *   share-close NAME [MEMBER]                       closes one member, or all
 *
 * ACTION is accept, release, reject or none (keep them unacknowledged: the member must then be
 * closed before it polls again), optionally followed by ",<type>-if=<value>" rules that apply
 * another type to records whose value equals <value> (e.g. "accept,reject-if=poison").
 * share-poll answers {"records": [{"p", "o", "k", "v", "dc"}], "commit": {"topic-p": error or
 * null}} with dc the delivery count the broker gave. */
package herald.compat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicIdPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

final class ShareCommands {
    private final Map<String, List<KafkaShareConsumer<byte[], byte[]>>> groups = new HashMap<>();

    Map<String, Object> run(String[] f) throws Exception {
        return switch (f[0]) {
        case "share-open" -> open(f[1], f[2], f[3], f[4], Integer.parseInt(f[5]));
        case "share-poll" -> poll(f[1], Integer.parseInt(f[2]), Long.parseLong(f[3]), f[4],
                                  f.length > 5 ? Integer.parseInt(f[5]) : Integer.MAX_VALUE);
        case "share-close" -> close(f[1], f.length > 2 ? Integer.parseInt(f[2]) : -1);
        default -> throw new IllegalArgumentException("unknown command " + f[0]);
        };
    }

    private Map<String, Object> open(String name, String bootstrap, String group, String topic,
                                     int n) {
        List<KafkaShareConsumer<byte[], byte[]>> members = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Properties p = new Properties();
            p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
            p.put(ConsumerConfig.CLIENT_ID_CONFIG, name + "-" + i);
            p.put("share.acknowledgement.mode", "explicit");
            p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 100);
            KafkaShareConsumer<byte[], byte[]> c = new KafkaShareConsumer<>(
                p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
            c.subscribe(List.of(topic));
            members.add(c);
        }
        groups.put(name, members);
        return new LinkedHashMap<>();
    }

    private static AcknowledgeType type(String s) {
        return switch (s) {
        case "accept" -> AcknowledgeType.ACCEPT;
        case "release" -> AcknowledgeType.RELEASE;
        case "reject" -> AcknowledgeType.REJECT;
        case "none" -> null;
        default -> throw new IllegalArgumentException("unknown acknowledgement " + s);
        };
    }

    private Map<String, Object> poll(String name, int member, long timeoutMs, String action,
                                     int max) {
        KafkaShareConsumer<byte[], byte[]> c = groups.get(name).get(member);
        String[] rules = action.split(",");
        AcknowledgeType dflt = type(rules[0]);
        Map<String, AcknowledgeType> byValue = new HashMap<>();
        for (int i = 1; i < rules.length; i++) {
            String[] kv = rules[i].split("-if=", 2);
            byValue.put(kv[1], type(kv[0]));
        }
        List<Object> recs = new ArrayList<>();
        long deadline = System.currentTimeMillis() + timeoutMs;
        boolean acked = false;
        while (recs.isEmpty() && System.currentTimeMillis() < deadline) {
            ConsumerRecords<byte[], byte[]> got = c.poll(Duration.ofMillis(200));
            for (ConsumerRecord<byte[], byte[]> r : got) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("p", r.partition());
                m.put("o", r.offset());
                m.put("k", Driver.str(r.key()));
                m.put("v", Driver.str(r.value()));
                Optional<Short> dc = r.deliveryCount();
                m.put("dc", dc.isPresent() ? (int) dc.get() : -1);
                recs.add(m);
                AcknowledgeType t = byValue.getOrDefault(Driver.str(r.value()), dflt);
                if (t != null) {
                    c.acknowledge(r, t);
                    acked = true;
                }
            }
            if (recs.size() >= max)
                break;
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("records", recs);
        Map<String, Object> commit = new LinkedHashMap<>();
        if (acked) {
            Map<TopicIdPartition, Optional<KafkaException>> res =
                c.commitSync(Duration.ofSeconds(15));
            for (Map.Entry<TopicIdPartition, Optional<KafkaException>> e : res.entrySet())
                commit.put(e.getKey().topic() + "-" + e.getKey().partition(),
                           e.getValue().map(x -> x.getClass().getSimpleName()).orElse(null));
        }
        out.put("commit", commit);
        return out;
    }

    private Map<String, Object> close(String name, int member) {
        List<KafkaShareConsumer<byte[], byte[]>> members = groups.get(name);
        if (member >= 0) {
            KafkaShareConsumer<byte[], byte[]> c = members.get(member);
            if (c != null)
                c.close(Duration.ofSeconds(10));
            members.set(member, null);
        } else {
            for (KafkaShareConsumer<byte[], byte[]> c : members)
                if (c != null)
                    c.close(Duration.ofSeconds(10));
            groups.remove(name);
        }
        return new LinkedHashMap<>();
    }

    void closeAll() {
        for (String name : new ArrayList<>(groups.keySet()))
            close(name, -1);
    }
}
