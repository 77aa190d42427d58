/* Drives Apache Kafka's Java client for Herald's integration tests. One JVM serves a whole test
 * module: it reads one command per line on stdin (fields separated by tabs) and answers each with
 * one JSON line on stdout, {"ok": true, ...} or {"ok": false, "error": "..."}; the client's logs
 * go to stderr. Consumer groups opened by `group-open` live across commands until `group-close`,
 * so a test can step members through joins, polls and commits.
 *
 * Records written by `produce` are deterministic so that the tests can check them byte for byte:
 * record i has key "k-i" (null when i % 10 == 9), value "v-i-<codec>-" followed by i % 50 copies
 * of "abc", headers [("idx", "i"), ("codec", codec)], partition i % partitions and timestamp
 * BASE_TS + i. */
package herald.compat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.AlterConfigsOptions;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.DeletedRecords;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.DescribeTopicsOptions;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.SubscriptionPattern;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class Driver {
    static final long BASE_TS = 1_700_000_000_000L;
    static final long ADMIN_TIMEOUT_MS = 20_000;

    private final Map<String, Group> groups = new HashMap<>();
    private final ShareCommands shares = new ShareCommands();

    /** Members of one consumer group opened by group-open, polled in turn by this thread. */
    private static final class Group {
        final List<KafkaConsumer<byte[], byte[]>> members = new ArrayList<>();
        final List<List<Map<String, Object>>> received = new ArrayList<>();
        final List<String> clientIds = new ArrayList<>();
        /* Rebalance callbacks of every member in the order they ran (all on this thread):
         * [clientId, "assigned"|"revoked"|"lost", [partitions]]. */
        final List<Object> events = new ArrayList<>();
        int next;
    }

    public static void main(String[] args) throws Exception {
        /* Keep stdout for answers only: anything else a library prints goes to stderr. */
        PrintStream answers = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        System.setOut(System.err);
        Driver d = new Driver();
        BufferedReader in =
            new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isBlank())
                continue;
            String[] f = line.split("\t", -1);
            Map<String, Object> out;
            try {
                out = d.run(f);
                out.put("ok", true);
            } catch (Throwable t) {
                out = new LinkedHashMap<>();
                out.put("ok", false);
                out.put("error", describe(t));
            }
            answers.println(Json.write(out));
        }
        d.closeAll();
    }

    /** The exception's class and message, unwrapped from ExecutionException. */
    static String describe(Throwable t) {
        if (t instanceof ExecutionException && t.getCause() != null)
            t = t.getCause();
        return t.getClass().getSimpleName() + ": " + t.getMessage();
    }

    private Map<String, Object> run(String[] f) throws Exception {
        return switch (f[0]) {
        case "produce" -> produce(f[1], f[2], f[3], Integer.parseInt(f[4]),
                                  Integer.parseInt(f[5]));
        case "consume" -> consume(f[1], f[2], Integer.parseInt(f[3]), Long.parseLong(f[4]),
                                  Arrays.copyOfRange(f, 5, f.length));
        case "group-open" -> groupOpen(f[1], f[2], f[3], f[4], Integer.parseInt(f[5]),
                                       f.length > 6 ? f[6] : "classic");
        case "group-add" -> groupAdd(f[1], f[2], f[3], f[4], f[5], f.length > 6 ? f[6] : null);
        case "group-crash" -> groupRemove(f[1], Integer.parseInt(f[2]), false);
        case "group-leave" -> groupRemove(f[1], Integer.parseInt(f[2]), true);
        case "group-wait" -> groupWait(f[1], Integer.parseInt(f[2]), Long.parseLong(f[3]));
        case "group-poll" -> groupPoll(f[1], Integer.parseInt(f[2]), Long.parseLong(f[3]));
        case "group-close" -> groupClose(f[1]);
        case "send" -> send(f[1], f[2], Integer.parseInt(f[3]), Arrays.copyOfRange(f, 4, f.length));
        case "admin" -> admin(f[1], f[2], Arrays.copyOfRange(f, 3, f.length));
        case "share-open", "share-poll", "share-close", "share-describe" -> shares.run(f);
        case "commit-metadata" -> OffsetCommands.commitMetadata(f[1], f[2], f[3],
                                                                Arrays.copyOfRange(f, 4, f.length));
        default -> throw new IllegalArgumentException("unknown command " + f[0]);
        };
    }

    /* ---- producing and consuming ---- */

    static byte[] utf8(String s) {
        return s == null ? null : s.getBytes(StandardCharsets.UTF_8);
    }

    static String str(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    private Map<String, Object> produce(String bootstrap, String topic, String codec, int count,
                                        int partitions) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 20);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 15_000);
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "java-producer-" + codec);
        /* enable.idempotence and acks=all are the defaults; they are not set here on purpose. */
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        try (KafkaProducer<byte[], byte[]> prod =
                 new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            for (int i = 0; i < count; i++) {
                String key = i % 10 == 9 ? null : "k-" + i;
                String value = "v-" + i + "-" + codec + "-" + "abc".repeat(i % 50);
                ProducerRecord<byte[], byte[]> r = new ProducerRecord<>(
                    topic, i % partitions, BASE_TS + i, utf8(key), utf8(value));
                r.headers().add("idx", utf8(Integer.toString(i)));
                r.headers().add("codec", utf8(codec));
                sent.add(prod.send(r));
            }
            prod.flush();
            List<Object> offsets = new ArrayList<>();
            for (Future<RecordMetadata> fu : sent) {
                RecordMetadata md = fu.get(30, TimeUnit.SECONDS);
                offsets.add(List.of(md.partition(), md.offset()));
            }
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("offsets", offsets);
            return out;
        }
    }

    /** Sends the hex-encoded values to one partition in one batch (idempotent producer, no
     *  retries of refused batches); each result is {offset} or {error}. */
    private Map<String, Object> send(String bootstrap, String topic, int partition,
                                     String[] hexValues) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 200);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 15_000);
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        try (KafkaProducer<byte[], byte[]> prod =
                 new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            for (String hex : hexValues)
                sent.add(prod.send(new ProducerRecord<>(topic, partition, null, unhex(hex))));
            prod.flush();
            List<Object> results = new ArrayList<>();
            for (Future<RecordMetadata> fu : sent) {
                Map<String, Object> m = new LinkedHashMap<>();
                try {
                    m.put("offset", fu.get(30, TimeUnit.SECONDS).offset());
                } catch (ExecutionException e) {
                    m.put("error", describe(e));
                }
                results.add(m);
            }
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("results", results);
            return out;
        }
    }

    static byte[] unhex(String s) {
        byte[] b = new byte[s.length() / 2];
        for (int i = 0; i < b.length; i++)
            b[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        return b;
    }

    static Map<String, Object> recordJson(ConsumerRecord<byte[], byte[]> r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("t", r.topic());
        m.put("p", r.partition());
        m.put("o", r.offset());
        m.put("k", str(r.key()));
        m.put("v", str(r.value()));
        m.put("ts", r.timestamp());
        List<Object> hs = new ArrayList<>();
        for (Header h : r.headers())
            hs.add(Arrays.asList(h.key(), str(h.value())));
        m.put("h", hs);
        return m;
    }

    static Properties consumerProps(String bootstrap, String clientId) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 20_000);
        p.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 100);
        return p;
    }

    /** Reads every partition of topic from the start, without a group, until count records;
     *  extra consumer settings come as key=value. */
    private Map<String, Object> consume(String bootstrap, String topic, int count, long timeoutMs,
                                        String[] settings) {
        List<Object> recs = new ArrayList<>();
        Properties props = consumerProps(bootstrap, "java-reader");
        for (String kv : settings) {
            String[] p = kv.split("=", 2);
            props.put(p[0], p[1]);
        }
        try (KafkaConsumer<byte[], byte[]> c =
                 new KafkaConsumer<>(props, new ByteArrayDeserializer(),
                                     new ByteArrayDeserializer())) {
            List<TopicPartition> tps = new ArrayList<>();
            c.partitionsFor(topic).forEach(pi -> tps.add(new TopicPartition(topic, pi.partition())));
            c.assign(tps);
            c.seekToBeginning(tps);
            long deadline = System.currentTimeMillis() + timeoutMs;
            while (recs.size() < count && System.currentTimeMillis() < deadline)
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200)))
                    recs.add(recordJson(r));
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("records", recs);
        return out;
    }

    /* ---- consumer groups (classic and consumer protocols) ---- */

    private Map<String, Object> groupOpen(String name, String bootstrap, String groupId,
                                          String topic, int members, String protocol) {
        if (groups.containsKey(name))
            throw new IllegalStateException("group handle " + name + " is open");
        Group g = new Group();
        groups.put(name, g);
        for (int i = 0; i < members; i++)
            addMember(g, name, bootstrap, groupId, topic, protocol, null);
        return new LinkedHashMap<>();
    }

    /** One more member (client id <name>-<n>) on the protocol "classic" or "consumer", static
     * when instanceId is not null. `topic` is a topic name, or "re2:<regex>" for a regex the
     * broker evaluates (subscribe(SubscriptionPattern), consumer protocol only), or
     * "pattern:<regex>" for a java.util.regex.Pattern the client evaluates against metadata
     * (refreshed every second here, so new topics are seen soon). */
    private static void addMember(Group g, String name, String bootstrap, String groupId,
                                  String topic, String protocol, String instanceId) {
        String clientId = name + "-" + g.next++;
        Properties p = consumerProps(bootstrap, clientId);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        if (instanceId != null)
            p.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, instanceId);
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
        if (protocol.equals("classic")) {
            p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 10_000);
            p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 500);
        }
        if (topic.startsWith("pattern:"))
            p.put(ConsumerConfig.METADATA_MAX_AGE_CONFIG, 1000);
        KafkaConsumer<byte[], byte[]> c =
            new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        ConsumerRebalanceListener listener = new ConsumerRebalanceListener() {
            private void log(String what, Collection<TopicPartition> tps) {
                List<Integer> ps = new ArrayList<>();
                tps.forEach(tp -> ps.add(tp.partition()));
                ps.sort(null);
                g.events.add(List.of(clientId, what, ps));
            }

            @Override
            public void onPartitionsRevoked(Collection<TopicPartition> tps) {
                log("revoked", tps);
            }

            @Override
            public void onPartitionsAssigned(Collection<TopicPartition> tps) {
                log("assigned", tps);
            }

            @Override
            public void onPartitionsLost(Collection<TopicPartition> tps) {
                log("lost", tps);
            }
        };
        if (topic.startsWith("re2:"))
            c.subscribe(new SubscriptionPattern(topic.substring(4)), listener);
        else if (topic.startsWith("pattern:"))
            c.subscribe(Pattern.compile(topic.substring(8)), listener);
        else
            c.subscribe(List.of(topic), listener);
        g.members.add(c);
        g.received.add(new ArrayList<>());
        g.clientIds.add(clientId);
    }

    private Map<String, Object> groupAdd(String name, String bootstrap, String groupId,
                                         String topic, String protocol, String instanceId) {
        addMember(group(name), name, bootstrap, groupId, topic, protocol, instanceId);
        return new LinkedHashMap<>();
    }

    /** Closes member i: leaving the group, or remaining in it (a static member's "back soon":
     * it keeps its partitions until its session ends; a dynamic member leaves anyway). */
    private Map<String, Object> groupRemove(String name, int i, boolean leave) {
        Group g = group(name);
        KafkaConsumer<byte[], byte[]> c = g.members.remove(i);
        g.received.remove(i);
        g.clientIds.remove(i);
        CloseOptions o = CloseOptions.timeout(Duration.ofSeconds(10));
        if (!leave)
            o = o.withGroupMembershipOperation(CloseOptions.GroupMembershipOperation.REMAIN_IN_GROUP);
        c.close(o);
        return new LinkedHashMap<>();
    }

    private Group group(String name) {
        Group g = groups.get(name);
        if (g == null)
            throw new IllegalStateException("no group handle " + name);
        return g;
    }

    /** Polls every member once; records are kept per member. */
    private static void pollRound(Group g) {
        for (int i = 0; i < g.members.size(); i++)
            for (ConsumerRecord<byte[], byte[]> r : g.members.get(i).poll(Duration.ofMillis(100)))
                g.received.get(i).add(recordJson(r));
    }

    /** Each member's assignment as sorted "topic:partition" strings. */
    private static List<Object> topicAssignments(Group g) {
        List<Object> out = new ArrayList<>();
        for (KafkaConsumer<byte[], byte[]> c : g.members) {
            List<String> tps = new ArrayList<>();
            c.assignment().forEach(tp -> tps.add(tp.topic() + ":" + tp.partition()));
            tps.sort(null);
            out.add(tps);
        }
        return out;
    }

    private static List<Object> assignments(Group g) {
        List<Object> out = new ArrayList<>();
        for (KafkaConsumer<byte[], byte[]> c : g.members) {
            List<Integer> ps = new ArrayList<>();
            c.assignment().forEach(tp -> ps.add(tp.partition()));
            ps.sort(null);
            out.add(ps);
        }
        return out;
    }

    /** Polls until the members together own npartitions distinct partitions, each at least one. */
    private Map<String, Object> groupWait(String name, int npartitions, long timeoutMs) {
        Group g = group(name);
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (true) {
            pollRound(g);
            Set<TopicPartition> all = new HashSet<>();
            int total = 0;
            boolean everyone = true;
            for (KafkaConsumer<byte[], byte[]> c : g.members) {
                Set<TopicPartition> a = c.assignment();
                everyone &= !a.isEmpty();
                total += a.size();
                all.addAll(a);
            }
            if (everyone && total == npartitions && all.size() == npartitions)
                break;
            if (System.currentTimeMillis() > deadline)
                throw new IllegalStateException("no full assignment within " + timeoutMs +
                                                " ms: " + Json.write(assignments(g)));
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("assignments", assignments(g));
        out.put("topicAssignments", topicAssignments(g));
        out.put("clients", new ArrayList<>(g.clientIds));
        out.put("events", new ArrayList<>(g.events));
        g.events.clear();
        return out;
    }

    /** Polls until the members received count records in all, then commits each synchronously
     * and answers the records per member (which are then forgotten). */
    private Map<String, Object> groupPoll(String name, int count, long timeoutMs) {
        Group g = group(name);
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (g.received.stream().mapToInt(List::size).sum() < count &&
               System.currentTimeMillis() < deadline)
            pollRound(g);
        for (KafkaConsumer<byte[], byte[]> c : g.members)
            c.commitSync(Duration.ofSeconds(15));
        Map<String, Object> out = new LinkedHashMap<>();
        List<Object> records = new ArrayList<>();
        for (List<Map<String, Object>> l : g.received) {
            records.add(new ArrayList<>(l));
            l.clear();
        }
        out.put("records", records);
        out.put("assignments", assignments(g));
        out.put("topicAssignments", topicAssignments(g));
        out.put("clients", new ArrayList<>(g.clientIds));
        out.put("events", new ArrayList<>(g.events));
        g.events.clear();
        return out;
    }

    private Map<String, Object> groupClose(String name) {
        Group g = groups.remove(name);
        if (g != null)
            for (KafkaConsumer<byte[], byte[]> c : g.members)
                c.close(CloseOptions.timeout(Duration.ofSeconds(10)));
        return new LinkedHashMap<>();
    }

    private void closeAll() {
        for (String name : new ArrayList<>(groups.keySet()))
            groupClose(name);
        shares.closeAll();
    }

    /* ---- the AdminClient ---- */

    /** Sorted names of a set of ACL operations, or null. */
    static List<String> opNames(Set<AclOperation> ops) {
        if (ops == null)
            return null;
        List<String> names = new ArrayList<>();
        for (AclOperation op : ops)
            names.add(op.name());
        names.sort(null);
        return names;
    }

    private Map<String, Object> admin(String bootstrap, String op, String[] a) throws Exception {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) ADMIN_TIMEOUT_MS);
        Map<String, Object> out = new LinkedHashMap<>();
        try (Admin admin = Admin.create(p)) {
            switch (op) {
            case "create-topic" -> {
                /* name partitions [config=value ...] */
                NewTopic t = new NewTopic(a[0], Integer.parseInt(a[1]), (short) 1);
                Map<String, String> cfg = new HashMap<>();
                for (int i = 2; i < a.length; i++) {
                    String[] kv = a[i].split("=", 2);
                    cfg.put(kv[0], kv[1]);
                }
                t.configs(cfg);
                admin.createTopics(List.of(t)).all().get(ADMIN_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            }
            case "delete-topic" -> admin.deleteTopics(List.of(a[0])).all().get(
                ADMIN_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            case "list-topics" -> out.put("topics", new TreeMap<>(admin.listTopics().namesToListings().get(
                ADMIN_TIMEOUT_MS, TimeUnit.MILLISECONDS)).keySet());
            case "describe-topic" -> {
                /* name [--ops]: with --ops, the authorized operations too */
                boolean ops = a.length > 1 && a[1].equals("--ops");
                TopicDescription d =
                    admin.describeTopics(List.of(a[0]),
                                         new DescribeTopicsOptions().includeAuthorizedOperations(ops))
                        .allTopicNames()
                        .get(ADMIN_TIMEOUT_MS, TimeUnit.MILLISECONDS)
                        .get(a[0]);
                out.put("name", d.name());
                if (ops)
                    out.put("authorizedOperations", opNames(d.authorizedOperations()));
                out.put("internal", d.isInternal());
                List<Object> parts = new ArrayList<>();
                for (TopicPartitionInfo pi : d.partitions()) {
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("partition", pi.partition());
                    m.put("leader", pi.leader() == null ? null : pi.leader().id());
                    m.put("replicas", pi.replicas().stream().map(Node::id).toList());
                    m.put("isr", pi.isr().stream().map(Node::id).toList());
                    parts.add(m);
                }
                out.put("partitions", parts);
            }
            case "describe-configs" -> {
                /* topic|broker name */
                ConfigResource.Type type = a[0].equals("topic") ? ConfigResource.Type.TOPIC
                                                                : ConfigResource.Type.BROKER;
                ConfigResource res = new ConfigResource(type, a[1]);
                Config c = admin.describeConfigs(List.of(res)).all().get(
                    ADMIN_TIMEOUT_MS, TimeUnit.MILLISECONDS).get(res);
                Map<String, Object> entries = new TreeMap<>();
                for (ConfigEntry e : c.entries()) {
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("value", e.value());
                    m.put("source", e.source().name());
                    m.put("readOnly", e.isReadOnly());
                    m.put("sensitive", e.isSensitive());
                    entries.put(e.name(), m);
                }
                out.put("configs", entries);
            }
            case "alter-configs" -> {
                /* topic|broker name [--validate-only] op... (incrementalAlterConfigs), each op
                 * config=value (SET), -config (DELETE), +config=value (APPEND) or
                 * ~config=value (SUBTRACT) */
                ConfigResource res = new ConfigResource(
                    a[0].equals("broker") ? ConfigResource.Type.BROKER : ConfigResource.Type.TOPIC,
                    a[1]);
                List<AlterConfigOp> ops = new ArrayList<>();
                boolean validateOnly = false;
                for (int i = 2; i < a.length; i++) {
                    String s = a[i];
                    if (s.equals("--validate-only")) {
                        validateOnly = true;
                        continue;
                    }
                    AlterConfigOp.OpType type = AlterConfigOp.OpType.SET;
                    if (s.startsWith("-")) {
                        ops.add(new AlterConfigOp(new ConfigEntry(s.substring(1), null),
                                                  AlterConfigOp.OpType.DELETE));
                        continue;
                    }
                    if (s.startsWith("+") || s.startsWith("~")) {
                        type = s.startsWith("+") ? AlterConfigOp.OpType.APPEND
                                                 : AlterConfigOp.OpType.SUBTRACT;
                        s = s.substring(1);
                    }
                    String[] kv = s.split("=", 2);
                    ops.add(new AlterConfigOp(new ConfigEntry(kv[0], kv[1]), type));
                }
                admin.incrementalAlterConfigs(Map.of(res, ops),
                                              new AlterConfigsOptions().validateOnly(validateOnly))
                    .all()
                    .get(ADMIN_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            }
            case "create-partitions" -> admin.createPartitions(
                Map.of(a[0], NewPartitions.increaseTo(Integer.parseInt(a[1])))).all().get(
                ADMIN_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            case "list-offsets" -> {
                /* topic spec: earliest | latest | max-timestamp | <timestamp> */
                OffsetSpec spec = switch (a[1]) {
                case "earliest" -> OffsetSpec.earliest();
                case "latest" -> OffsetSpec.latest();
                case "max-timestamp" -> OffsetSpec.maxTimestamp();
                default -> OffsetSpec.forTimestamp(Long.parseLong(a[1]));
                };
                TopicDescription d = admin.describeTopics(List.of(a[0])).allTopicNames()
                                         .get(ADMIN_TIMEOUT_MS, TimeUnit.MILLISECONDS)
                                         .get(a[0]);
                Map<TopicPartition, OffsetSpec> req = new HashMap<>();
                for (TopicPartitionInfo pi : d.partitions())
                    req.put(new TopicPartition(a[0], pi.partition()), spec);
                Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> res =
                    admin.listOffsets(req).all().get(ADMIN_TIMEOUT_MS, TimeUnit.MILLISECONDS);
                Map<String, Object> offs = new TreeMap<>();
                res.forEach((tp, info) -> offs.put(Integer.toString(tp.partition()),
                                                   List.of(info.offset(), info.timestamp())));
                out.put("offsets", offs);
            }
            case "delete-records" -> {
                /* topic partition beforeOffset: the new low watermark */
                TopicPartition tp = new TopicPartition(a[0], Integer.parseInt(a[1]));
                DeletedRecords dr =
                    admin.deleteRecords(
                             Map.of(tp, RecordsToDelete.beforeOffset(Long.parseLong(a[2]))))
                        .lowWatermarks()
                        .get(tp)
                        .get(ADMIN_TIMEOUT_MS, TimeUnit.MILLISECONDS);
                out.put("lowWatermark", dr.lowWatermark());
            }
            case "describe-cluster" -> {
                /* [--ops]: with the authorized operations */
                boolean ops = a.length > 0 && a[0].equals("--ops");
                DescribeClusterResult r = admin.describeCluster(
                    new DescribeClusterOptions().includeAuthorizedOperations(ops));
                if (ops)
                    out.put("authorizedOperations", opNames(r.authorizedOperations().get(
                                                        ADMIN_TIMEOUT_MS, TimeUnit.MILLISECONDS)));
                out.put("clusterId", r.clusterId().get(ADMIN_TIMEOUT_MS, TimeUnit.MILLISECONDS));
                out.put("controller",
                        r.controller().get(ADMIN_TIMEOUT_MS, TimeUnit.MILLISECONDS).id());
                List<Object> nodes = new ArrayList<>();
                for (Node n : r.nodes().get(ADMIN_TIMEOUT_MS, TimeUnit.MILLISECONDS))
                    nodes.add(List.of(n.id(), n.host(), n.port()));
                out.put("nodes", nodes);
            }
            case "list-groups" -> {
                List<Object> gs = new ArrayList<>();
                Collection<GroupListing> ls =
                    admin.listGroups().all().get(ADMIN_TIMEOUT_MS, TimeUnit.MILLISECONDS);
                for (GroupListing gl : ls) {
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("groupId", gl.groupId());
                    m.put("type", gl.type().map(Object::toString).orElse(null));
                    m.put("protocol", gl.protocol());
                    m.put("state", gl.groupState().map(Object::toString).orElse(null));
                    gs.add(m);
                }
                out.put("groups", gs);
            }
            case "describe-group" -> {
                ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(a[0]))
                                                 .all()
                                                 .get(ADMIN_TIMEOUT_MS, TimeUnit.MILLISECONDS)
                                                 .get(a[0]);
                out.put("groupId", d.groupId());
                out.put("state", d.groupState().toString());
                out.put("type", d.type().toString());
                out.put("assignor", d.partitionAssignor());
                out.put("simple", d.isSimpleConsumerGroup());
                out.put("coordinator", d.coordinator() == null ? null : d.coordinator().id());
                out.put("groupEpoch", d.groupEpoch().orElse(null));
                out.put("targetAssignmentEpoch", d.targetAssignmentEpoch().orElse(null));
                List<Object> ms = new ArrayList<>();
                for (MemberDescription md : d.members()) {
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("clientId", md.clientId());
                    m.put("memberId", md.consumerId());
                    List<Integer> parts = new ArrayList<>();
                    md.assignment().topicPartitions().forEach(tp -> parts.add(tp.partition()));
                    parts.sort(null);
                    m.put("partitions", parts);
                    List<Integer> target = new ArrayList<>();
                    md.targetAssignment().ifPresent(
                        t -> t.topicPartitions().forEach(tp -> target.add(tp.partition())));
                    target.sort(null);
                    m.put("target", target);
                    m.put("epoch", md.memberEpoch().orElse(null));
                    m.put("upgraded", md.upgraded().orElse(null));
                    ms.add(m);
                }
                out.put("members", ms);
            }
            case "delete-group" -> admin.deleteConsumerGroups(List.of(a[0])).all().get(
                ADMIN_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            case "group-offsets" -> {
                Map<TopicPartition, OffsetAndMetadata> offs =
                    admin.listConsumerGroupOffsets(a[0]).partitionsToOffsetAndMetadata().get(
                        ADMIN_TIMEOUT_MS, TimeUnit.MILLISECONDS);
                Map<String, Object> m = new TreeMap<>();
                offs.forEach((tp, om) -> m.put(tp.topic() + ":" + tp.partition(),
                                               om == null ? null : om.offset()));
                out.put("offsets", m);
            }
            default -> throw new IllegalArgumentException("unknown admin op " + op);
            }
        }
        return out;
    }
}
