"""A real Apache Kafka 4.x broker in KRaft mode for the compatibility tests: one process that is
both broker and controller, run from the jars `make compat-kafka` copies into
$HERALD_COMPAT_DIR/kafka/lib, on free 127.0.0.1 ports with its storage in a temporary directory.
The storage is formatted with a random cluster id; the broker is stopped by pid. Every wait is
bounded."""
import base64
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

from compat import COMPAT_DIR, require
from conftest import free_port, port_open

KAFKA_LIB = COMPAT_DIR / "kafka" / "lib"

LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.file.ref = file
"""


def classpath():
    require(KAFKA_LIB / "kafka_2.13-4.4.0.jar", "Apache Kafka's jars")
    return str(KAFKA_LIB / "*")


def java_argv(main, *args, heap="256m", log4j=None):
    """A java command line running main from Kafka's jars."""
    argv = ["java", "-Xms64m", "-Xmx" + heap, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-Xshare:auto", "-cp", classpath()]
    if log4j:
        argv.append("-Dlog4j2.configurationFile=%s" % log4j)
    return argv + [main] + [str(a) for a in args]


class KafkaBroker:
    """One kafka.Kafka process (process.roles=broker,controller, node.id=1). Like conftest's
    Broker it has .addr and .port; restart() stops it and starts it again on the same ports and
    storage."""

    kind = "kafka"

    def __init__(self, tmp_dir):
        self.tmp_dir = Path(tmp_dir)
        self.port = free_port()
        self.controller_port = free_port()
        self.addr = "127.0.0.1:%d" % self.port
        self.log_path = self.tmp_dir / "kafka.log"
        self.out_path = self.tmp_dir / "kafka.out"
        self.props = self.tmp_dir / "server.properties"
        self.log4j = self.tmp_dir / "log4j2.properties"
        self.proc = None
        # One that starts with "-" would be read as an option by the storage tool (1 in 64).
        self.cluster_id = "-"
        while self.cluster_id.startswith("-"):
            self.cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")

    def configure(self):
        self.props.write_text("\n".join([
            "process.roles=broker,controller",
            "node.id=1",
            "controller.quorum.voters=1@127.0.0.1:%d" % self.controller_port,
            "listeners=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d" %
            (self.port, self.controller_port),
            "advertised.listeners=PLAINTEXT://127.0.0.1:%d" % self.port,
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs=%s" % (self.tmp_dir / "data"),
            "num.partitions=1",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=4",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=true",
            # Tests write records with fixed timestamps years old (BASE_TS): Kafka's default
            # retention by time would delete them under a test that reads them back, whenever
            # its check (every five minutes) happens to run in between.
            "log.retention.ms=-1",
            "",
        ]))
        self.log4j.write_text(LOG4J2.format(log=self.log_path, level="INFO"))

    def format(self):
        self.configure()
        r = subprocess.run(java_argv("kafka.tools.StorageTool", "format", "-t", self.cluster_id,
                                     "-c", self.props, log4j=self.log4j),
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, "kafka-storage format failed:\n%s\n%s" % (r.stdout, r.stderr)

    def start(self, timeout=90.0):
        assert self.proc is None
        try:
            self.log_mark = self.log_path.stat().st_size
        except FileNotFoundError:
            self.log_mark = 0
        with open(self.out_path, "ab") as out:
            self.proc = subprocess.Popen(
                java_argv("kafka.Kafka", self.props, heap="768m", log4j=self.log4j),
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                rc, self.proc = self.proc.returncode, None
                raise AssertionError("kafka exited with %s during startup\n%s" %
                                     (rc, self.log_tail()))
            if port_open(self.port) and self._ready():
                return self
            time.sleep(0.2)
        self.stop()
        raise AssertionError("kafka did not start within %.0f s\n%s" % (timeout,
                                                                          self.log_tail()))

    def _ready(self):
        """The server says it started, in the log written since this start."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_mark)
                text = f.read()
        except FileNotFoundError:
            return False
        return b"[KafkaRaftServer nodeId=1] Kafka Server started" in text

    def stop(self, timeout=30.0):
        if self.proc is None:
            return
        p, self.proc = self.proc, None
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)

    def restart(self):
        self.stop()
        return self.start()

    def log_tail(self, lines=60):
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            text = ""
        try:
            text += "\n--- stdout ---\n" + self.out_path.read_text(errors="replace")[-3000:]
        except FileNotFoundError:
            pass
        return "----- kafka log tail (%s) -----\n%s" % (
            self.log_path, "\n".join(text.splitlines()[-lines:]))


TOOLS_LOG4J2 = """\
status = warn
appender.err.type = Console
appender.err.name = err
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = err
"""


def run_tool(tmp_dir, main, *args, input=None, timeout=60):
    """Runs one of Kafka's command-line tools (its main class, as bin/kafka-*.sh do) with its
    warnings on stderr; returns the CompletedProcess (text)."""
    cfg = Path(tmp_dir) / "tools-log4j2.properties"
    if not cfg.exists():
        cfg.write_text(TOOLS_LOG4J2)
    return subprocess.run(java_argv(main, *args, log4j=cfg), input=input, capture_output=True,
                          text=True, timeout=timeout)


def start_kafka(tmp_dir, attempts=3):
    """A formatted, started broker. Its two ports are probed free before Kafka binds them
    seconds later; when another test process took one in between, Kafka exits with "Address
    already in use" and a new broker is made in a new directory on new ports."""
    for attempt in range(1, attempts + 1):
        k = KafkaBroker(Path(tmp_dir) / ("try%d" % attempt) if attempt > 1 else tmp_dir)
        k.tmp_dir.mkdir(parents=True, exist_ok=True)
        k.format()
        try:
            return k.start()
        except AssertionError as e:
            try:
                log = k.log_path.read_text(errors="replace") + k.out_path.read_text(
                    errors="replace")
            except FileNotFoundError:
                log = str(e)
            if attempt == attempts or "Address already in use" not in log:
                raise


if __name__ == "__main__":  # manual check: python3 kafka_broker.py <dir>
    import sys
    k = start_kafka(sys.argv[1])
    print("kafka up at", k.addr, "cluster", k.cluster_id, flush=True)
    try:
        time.sleep(float(os.environ.get("HOLD", "5")))
    finally:
        k.stop()
