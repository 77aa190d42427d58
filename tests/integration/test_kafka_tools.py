"""Apache Kafka's own command-line tools (kafka-tools and kafka_2.13 4.x, built by
`make compat-kafka`), run through their main classes as bin/kafka-*.sh do: kafka-topics,
kafka-console-producer and -consumer, kafka-consumer-groups, kafka-get-offsets,
kafka-producer-perf-test, kafka-verifiable-producer and kafka-verifiable-consumer. Each case runs
against herald and against Apache Kafka itself (kafka_target) and asserts the same output."""
import json
import re

from conftest import unique
from kafka_broker import run_tool

TOPICS = "org.apache.kafka.tools.TopicCommand"
PRODUCER = "org.apache.kafka.tools.ConsoleProducer"
CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"
GROUPS = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
OFFSETS = "org.apache.kafka.tools.GetOffsetShell"
PERF = "org.apache.kafka.tools.ProducerPerformance"
VPRODUCER = "org.apache.kafka.tools.VerifiableProducer"
VCONSUMER = "org.apache.kafka.tools.VerifiableConsumer"


def tool(tmp_path, target, main, *args, ok=True, **kw):
    r = run_tool(tmp_path, main, "--bootstrap-server", target.addr, *args, **kw)
    if ok:
        assert r.returncode == 0, "%s %s failed (%d):\n%s\n%s" % (
            main.rsplit(".", 1)[1], " ".join(map(str, args)), r.returncode, r.stdout[-2000:],
            r.stderr[-3000:])
    return r


def topics(tmp_path, target, *args, **kw):
    return tool(tmp_path, target, TOPICS, *args, **kw)


def describe(tmp_path, target, topic):
    """kafka-topics --describe as (summary fields, partition lines), without the fields herald
    does not have (docs/kafka-compat.md): TopicId and the ELR lists."""
    out = topics(tmp_path, target, "--describe", "--topic", topic).stdout
    # Elr/LastKnownElr (KIP-966) come from DescribeTopicPartitions, which herald does not
    # answer: the tool prints "N/A" there and empty lists on Kafka. Both are left out.
    out = re.sub(r"\tElr: .*$", "", out, flags=re.M)
    lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
    summary = dict(f.split(": ", 1) for f in lines[0].split("\t") if not f.startswith("TopicId"))
    return summary, lines[1:]


def events(stdout):
    return [json.loads(ln) for ln in stdout.splitlines() if ln.startswith("{")]


def test_kafka_topics(kafka_target, tmp_path):
    t = unique("cli-topic")
    out = topics(tmp_path, kafka_target, "--create", "--topic", t, "--partitions", 3,
                 "--replication-factor", 1, "--config", "retention.ms=3600000",
                 "--config", "max.message.bytes=2000000").stdout
    assert out.strip() == "Created topic %s." % t
    r = topics(tmp_path, kafka_target, "--create", "--topic", t, "--partitions", 1, ok=False)
    assert r.returncode == 1 and "TopicExistsException" in r.stderr, r.stderr
    r = topics(tmp_path, kafka_target, "--create", "--topic", unique("cli-bad"), "--partitions",
               1, "--config", "no.such.config=1", ok=False)
    assert r.returncode == 1 and "InvalidConfigurationException" in r.stdout + r.stderr, r
    assert t in topics(tmp_path, kafka_target, "--list").stdout.split()

    summary, parts = describe(tmp_path, kafka_target, t)
    # Configs lists what is not a default. Kafka 4 with eligible leader replicas (KIP-966) also
    # lists the cluster-wide min.insync.replicas=1 its controller sets at bootstrap.
    configs = set(summary.pop("Configs").split(",")) - {"min.insync.replicas=1"}
    assert configs == {"max.message.bytes=2000000", "retention.ms=3600000"}, configs
    assert summary == {"Topic": t, "PartitionCount": "3", "ReplicationFactor": "1"}, summary
    node = re.search(r"Leader: (\d+)", parts[0]).group(1)
    assert parts == ["Topic: %s\tPartition: %d\tLeader: %s\tReplicas: %s\tIsr: %s" %
                     (t, p, node, node, node) for p in range(3)]

    topics(tmp_path, kafka_target, "--alter", "--topic", t, "--partitions", 5)
    assert describe(tmp_path, kafka_target, t)[0]["PartitionCount"] == "5"
    topics(tmp_path, kafka_target, "--delete", "--topic", t)
    assert t not in topics(tmp_path, kafka_target, "--list").stdout.split()


def test_console_producer_consumer_and_consumer_groups(kafka_target, tmp_path):
    t, g = unique("cli-console"), unique("cli-group")
    topics(tmp_path, kafka_target, "--create", "--topic", t, "--partitions", 3)
    lines = ["k%d:value %d" % (i, i) for i in range(12)]
    tool(tmp_path, kafka_target, PRODUCER, "--topic", t, "--reader-property", "parse.key=true",
         "--reader-property", "key.separator=:", "--command-property", "acks=all",
         input="\n".join(lines) + "\n")

    r = tool(tmp_path, kafka_target, CONSUMER, "--topic", t, "--group", g, "--from-beginning",
             "--max-messages", 12, "--timeout-ms", 30000, "--formatter-property",
             "print.key=true", "--formatter-property", "print.partition=true",
             "--formatter-property", "print.offset=true", timeout=90)
    assert "Processed a total of 12 messages" in r.stderr, r.stderr
    got = [ln.split("\t") for ln in r.stdout.splitlines() if ln.startswith("Partition:")]
    assert len(got) == 12
    # The default partitioner hashes keys with murmur2, so both brokers hold the same layout.
    by_part = {}
    for part, off, key, value in got:
        by_part.setdefault(int(part.split(":")[1]), []).append((int(off.split(":")[1]), key,
                                                                value))
    for p, recs in by_part.items():
        assert [o for o, _, _ in recs] == list(range(len(recs))), (p, recs)
    assert sorted("%s:%s" % (k, v) for recs in by_part.values() for _, k, v in recs) == \
        sorted(lines)
    layout = {p: [k for _, k, _ in recs] for p, recs in sorted(by_part.items())}
    assert layout == {0: ["k2", "k5", "k11"], 1: ["k3", "k4", "k6", "k7", "k10"],
                      2: ["k0", "k1", "k8", "k9"]}, layout

    assert g in tool(tmp_path, kafka_target, GROUPS, "--list").stdout.split()

    def offsets():
        out = tool(tmp_path, kafka_target, GROUPS, "--describe", "--group", g).stdout
        rows = [ln.split() for ln in out.splitlines() if ln.startswith(g + " ")]
        return {int(r[2]): (int(r[3]), int(r[4]), int(r[5]), r[6]) for r in rows}

    assert offsets() == {p: (len(layout[p]), len(layout[p]), 0, "-") for p in range(3)}
    r = tool(tmp_path, kafka_target, GROUPS, "--reset-offsets", "--group", g, "--topic", t,
             "--to-earliest", "--execute")
    assert sorted(ln.split()[1:4] for ln in r.stdout.splitlines() if ln.startswith(g + " ")) == \
        [[t, str(p), "0"] for p in range(3)], r.stdout
    assert offsets() == {p: (0, len(layout[p]), len(layout[p]), "-") for p in range(3)}
    r = tool(tmp_path, kafka_target, GROUPS, "--delete", "--group", g)
    assert "Deletion of requested consumer groups ('%s') was successful." % g in r.stdout, r.stdout
    assert g not in tool(tmp_path, kafka_target, GROUPS, "--list").stdout.split()


def test_producer_perf_test_and_get_offsets(kafka_target, tmp_path):
    t = unique("cli-perf")
    topics(tmp_path, kafka_target, "--create", "--topic", t, "--partitions", 2)
    r = run_tool(tmp_path, PERF, "--topic", t, "--num-records", 3000, "--record-size", 200,
                 "--throughput", -1, "--command-property", "bootstrap.servers=" + kafka_target.addr,
                 "acks=all", "linger.ms=5",
                 timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    m = re.search(r"^3000 records sent, [\d.]+ records/sec \([\d.]+ MB/sec\), [\d.]+ ms avg "
                  r"latency", r.stdout, re.M)
    assert m, r.stdout
    out = tool(tmp_path, kafka_target, OFFSETS, "--topic", t).stdout
    ends = dict(ln.rsplit(":", 1) for ln in out.split())
    assert set(ends) == {"%s:0" % t, "%s:1" % t} and sum(map(int, ends.values())) == 3000, out
    out = tool(tmp_path, kafka_target, OFFSETS, "--topic", t, "--time", -2).stdout
    assert sorted(out.split()) == ["%s:0:0" % t, "%s:1:0" % t]


def test_verifiable_producer_and_consumer(kafka_target, tmp_path):
    t, g = unique("cli-verifiable"), unique("cli-vgroup")
    topics(tmp_path, kafka_target, "--create", "--topic", t, "--partitions", 3)
    r = tool(tmp_path, kafka_target, VPRODUCER, "--topic", t, "--max-messages", 60, "--acks", -1,
             "--value-prefix", 7)
    ev = events(r.stdout)
    assert ev[0]["name"] == "startup_complete" and ev[-1]["name"] == "tool_data"
    assert (ev[-1]["sent"], ev[-1]["acked"]) == (60, 60)
    sends = [e for e in ev if e["name"] == "producer_send_success"]
    assert sorted(e["value"] for e in sends) == sorted("7.%d" % i for i in range(60))
    per_part = {}
    for e in sends:
        assert e["topic"] == t and e["key"] is None
        per_part.setdefault(e["partition"], []).append(e["offset"])
    for p, offs in per_part.items():
        assert offs == list(range(len(offs))), (p, offs)
    assert not [e for e in ev if e["name"] == "producer_send_error"]

    r = tool(tmp_path, kafka_target, VCONSUMER, "--topic", t, "--group-id", g, "--max-messages",
             60, "--reset-policy", "earliest", "--session-timeout", 10000, timeout=90)
    ev = events(r.stdout)
    names = [e["name"] for e in ev]
    assert names[0] == "startup_complete" and "shutdown_complete" in names, names
    assigned = [e for e in ev if e["name"] == "partitions_assigned"]
    assert sorted(p["partition"] for p in assigned[0]["partitions"]) == [0, 1, 2]
    consumed = {}
    for e in ev:
        if e["name"] == "records_consumed":
            for p in e["partitions"]:
                consumed.setdefault(p["partition"], []).append((p["minOffset"], p["maxOffset"],
                                                                p["count"]))
    assert sum(c for runs in consumed.values() for _, _, c in runs) == 60
    committed = {}
    for e in ev:
        if e["name"] == "offsets_committed":
            assert e["success"] is True, e
            for o in e["offsets"]:
                committed[o["partition"]] = o["offset"]
    assert committed == {p: len(offs) for p, offs in per_part.items()}, committed
