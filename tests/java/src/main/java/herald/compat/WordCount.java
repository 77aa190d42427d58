/* A Kafka Streams application for Herald's integration tests: the classic word count, at least
 * once. Lines from the input topic are split into lower-case words, regrouped by word (through
 * the internal repartition topic <application.id>-words-repartition) and counted in a state store
 * backed by the compacted changelog topic <application.id>-counts-changelog; every new count goes
 * to the output topic (key: the word, value: the count as an 8-byte big-endian long).
 *
 * Usage: WordCount bootstrap application-id input-topic output-topic state-dir
 * It runs until stdin closes, then closes the Streams instance and exits; it prints one line
 * "state <NEW_STATE>" on stdout for each state change, so that a test can wait for RUNNING. */
package herald.compat;

import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;

public final class WordCount {
    private WordCount() {}

    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, args[1]);
        p.put(StreamsConfig.STATE_DIR_CONFIG, args[4]);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 200);
        /* No record cache: every count update reaches the output topic and the changelog. */
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG), 100);
        /* Streams' consumer does not leave the group on close: a restarted instance waits for
         * the old member's session to expire (45 s by default; 6 s is Kafka's minimum). */
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), 6000);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG), 1000);

        StreamsBuilder b = new StreamsBuilder();
        b.stream(args[2], Consumed.with(Serdes.String(), Serdes.String()))
            .flatMapValues(line -> Arrays.asList(line.toLowerCase(Locale.ROOT).split("\\W+")))
            .filter((k, w) -> !w.isEmpty())
            .groupBy((k, w) -> w, Grouped.with("words", Serdes.String(), Serdes.String()))
            .count(Materialized.as("counts"))
            .toStream()
            .to(args[3], Produced.with(Serdes.String(), Serdes.Long()));

        try (KafkaStreams streams = new KafkaStreams(b.build(), p)) {
            streams.setStateListener((now, before) -> {
                System.out.println("state " + now);
                System.out.flush();
            });
            streams.start();
            /* Runs until the test closes stdin. */
            while (System.in.read() >= 0) {
            }
            streams.close(Duration.ofSeconds(20));
        }
    }
}
