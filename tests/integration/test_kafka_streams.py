"""A Kafka Streams application (kafka-streams 4.x, herald.compat.WordCount in tests/java: word
count, at least once) against herald and against Apache Kafka itself (kafka_target). Streams
creates its internal topics itself: the repartition topic of the regrouping and the compacted
changelog of the count store. The second run starts without local state, so the store is
restored from the changelog before it counts on."""
import collections
import re
import shutil
import struct
import subprocess
import time

from confluent_kafka import TopicPartition
from confluent_kafka.admin import ConfigResource

from clients import admin, create_topic, make_consumer, produce_all
from compat import JAVA_DIR, require
from conftest import unique

LINES_A = ["the quick brown fox", "jumps over the lazy dog", "The dog sleeps",
           "a fox, a dog and THE end"] * 5
LINES_B = ["fox again", "and the dog again", "new words arrive"] * 3


def words(lines):
    return collections.Counter(w for ln in lines for w in re.split(r"\W+", ln.lower()) if w)


class WordCountApp:
    def __init__(self, tmp_path, addr, app_id, inp, out):
        require(JAVA_DIR / "herald-java-compat.jar", "the Java client driver")
        self.state_dir = tmp_path / "state"
        self.log_path = tmp_path / ("%s.log" % app_id)
        cp = "%s:%s" % (JAVA_DIR / "herald-java-compat.jar", JAVA_DIR / "lib" / "*")
        self.argv = ["java", "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                     "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", cp,
                     "herald.compat.WordCount", addr, app_id, inp, out, str(self.state_dir)]
        self.proc = None

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True)
        return self

    def wait_running(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()  # the app prints state changes only
            if not line:
                break
            if line.strip() == "state RUNNING":
                return
            if line.strip() in ("state ERROR", "state PENDING_ERROR"):
                break
        raise AssertionError("the Streams app did not reach RUNNING\n%s" % self.log_tail())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError("the Streams app did not close\n%s" % self.log_tail())
        self.log.close()
        return self.proc.returncode

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def log_tail(self):
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-40:])


def latest_counts(addr, topic, want, timeout=90):
    """Reads the output topic from the start until the newest count of every word equals want
    (or timeout); returns the newest counts seen."""
    c = make_consumer(addr)
    c.assign([TopicPartition(topic, p, -2) for p in range(3)])
    counts = {}
    deadline = time.monotonic() + timeout
    try:
        while counts != want and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None:
                continue
            assert not m.error(), m.error()
            counts[m.key().decode()] = struct.unpack(">q", m.value())[0]
    finally:
        c.close()
    return counts


def topic_configs(addr, topic):
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    ac = admin(addr)  # kept alive until the answer is in
    cfg = ac.describe_configs([res])[res].result(20)
    return {k: v.value for k, v in cfg.items()}


def test_word_count_with_repartition_and_changelog(kafka_target, tmp_path):
    a = kafka_target.addr
    app_id, inp, out = unique("wordcount"), unique("wc-lines"), unique("wc-counts")
    create_topic(a, inp, 3)
    create_topic(a, out, 3)
    produce_all(a, [{"topic": inp, "key": b"line-%d" % i, "value": ln.encode()}
                    for i, ln in enumerate(LINES_A)])

    app = WordCountApp(tmp_path, a, app_id, inp, out).start()
    try:
        app.wait_running()
        want = dict(words(LINES_A))
        assert latest_counts(a, out, want) == want
        assert app.stop() == 0, app.log_tail()
    finally:
        app.kill()

    # The internal topics, created by Streams with its own configs (the input has 3 partitions).
    ac = admin(a)
    md = ac.list_topics(timeout=20).topics
    changelog, repartition = app_id + "-counts-changelog", app_id + "-words-repartition"
    assert len(md[changelog].partitions) == 3 and len(md[repartition].partitions) == 3
    cfg = topic_configs(a, changelog)
    assert cfg["cleanup.policy"] == "compact", cfg
    cfg = topic_configs(a, repartition)
    assert (cfg["cleanup.policy"], cfg["retention.ms"]) == ("delete", "-1"), cfg
    assert cfg["segment.bytes"] == str(50 * 1024 * 1024)

    # Without its local state the next run restores the counts from the changelog.
    shutil.rmtree(app.state_dir)
    produce_all(a, [{"topic": inp, "key": b"more-%d" % i, "value": ln.encode()}
                    for i, ln in enumerate(LINES_B)])
    app = WordCountApp(tmp_path, a, app_id, inp, out).start()
    try:
        app.wait_running()
        want = dict(words(LINES_A) + words(LINES_B))
        assert latest_counts(a, out, want) == want
        assert app.stop() == 0, app.log_tail()
    finally:
        app.kill()
