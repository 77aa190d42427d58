/* The Driver's share-group commands (KIP-932, KafkaShareConsumer). Members of a share group live
 * across commands until share-close, all driven from the Driver's thread:
 *
 *   share-open  NAME BOOTSTRAP GROUP TOPIC N        N members, explicit acknowledgement mode
 *   share-poll  NAME MEMBER TIMEOUT_MS ACTION [MAX] polls until records come (or the timeout),
 *                                                   acknowledges them per ACTION, commits
 *   share-close NAME [MEMBER]                       closes one member, or all
 *   share-describe BOOTSTRAP GROUP                  Admin.describeShareGroups and
 *                                                   Admin.listGroups(forShareGroups())
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
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.ListGroupsOptions;
import org.apache.kafka.clients.admin.ShareGroupDescription;
import org.apache.kafka.clients.admin.ShareMemberDescription;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicIdPartition;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

final class ShareCommands {
    private final Map<String, List<KafkaShareConsumer<byte[], byte[]>>> groups = new HashMap<>();

    Map<String, Object> run(String[] f) throws Exception {
        return switch (f[0]) {
        case "share-open" -> open(f[1], f[2], f[3], f[4], Integer.parseInt(f[5]));
        case "share-poll" -> poll(f[1], Integer.parseInt(f[2]), Long.parseLong(f[3]), f[4],
                                  f.length > 5 ? Integer.parseInt(f[5]) : Integer.MAX_VALUE);
        case "share-close" -> close(f[1], f.length > 2 ? Integer.parseInt(f[2]) : -1);
        case "share-describe" -> describe(f[1], f[2]);
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

    private Map<String, Object> describe(String bootstrap, String group) throws Exception {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 20_000);
        Map<String, Object> out = new LinkedHashMap<>();
        try (Admin admin = Admin.create(p)) {
            ShareGroupDescription d =
                admin.describeShareGroups(List.of(group)).all().get().get(group);
            out.put("state", d.groupState().toString());
            out.put("epoch", d.groupEpoch());
            List<Object> members = new ArrayList<>();
            for (ShareMemberDescription m : d.members()) {
                Map<String, Object> mm = new LinkedHashMap<>();
                mm.put("client", m.clientId());
                mm.put("host", m.host());
                mm.put("epoch", m.memberEpoch());
                List<String> tps = new ArrayList<>();
                for (TopicPartition tp : m.assignment().topicPartitions())
                    tps.add(tp.topic() + "-" + tp.partition());
                tps.sort(null);
                mm.put("assignment", tps);
                members.add(mm);
            }
            out.put("members", members);
            List<Object> listed = new ArrayList<>();
            for (GroupListing g : admin.listGroups(ListGroupsOptions.forShareGroups()).all().get()) {
                Map<String, Object> gm = new LinkedHashMap<>();
                gm.put("id", g.groupId());
                gm.put("type", g.type().map(Object::toString).orElse(null));
                gm.put("protocol", g.protocol());
                gm.put("state", g.groupState().map(Object::toString).orElse(null));
                listed.add(gm);
            }
            out.put("listed", listed);
        }
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
