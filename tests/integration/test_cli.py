"""The herald client commands (topic, produce, consume) against a running broker: what they
print, what they store, and their exit codes."""

import json
import subprocess
import time

from confluent_kafka import Consumer, TopicPartition

from conftest import HERALD_BIN


def herald(broker, *args, stdin=None, timeout=60):
    r = subprocess.run([HERALD_BIN, *args, "-b", broker.addr, "--timeout", "10000"],
                       input=stdin, capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def test_topic_create_list_describe_delete(broker):
    rc, out, err = herald(broker, "topic", "create", "cli-t", "--partitions", "3",
                          "--config", "retention.ms=3600000")
    assert rc == 0, err
    rc, out, err = herald(broker, "topic", "list")
    assert rc == 0 and "cli-t" in out.split()
    rc, out, err = herald(broker, "topic", "describe", "cli-t", "--json")
    assert rc == 0, err
    d = json.loads(out)
    assert d["partition_count"] == 3 and [p["partition"] for p in d["partitions"]] == [0, 1, 2]
    cfg = {c["name"]: c for c in d["configs"]}
    assert (cfg["retention.ms"]["value"], cfg["retention.ms"]["default"]) == ("3600000", False)
    assert (cfg["segment.bytes"]["default"], cfg["cleanup.policy"]["value"]) == (True, "delete")
    rc, out, err = herald(broker, "topic", "create", "cli-t")
    assert rc == 1 and "exists" in err.lower()
    rc, out, err = herald(broker, "topic", "delete", "cli-t")
    assert rc == 0, err
    rc, out, err = herald(broker, "topic", "list")
    assert "cli-t" not in out.split()


def test_produce_lines_with_keys_and_headers_then_consume_json(broker):
    lines = b"o-1:{\"total\":12}\no-2:{\"total\":7}\n:no-key\n"
    rc, out, err = herald(broker, "produce", "cli-p", "--key-delim", ":", "-H", "source=web",
                          "--acks", "all", stdin=lines)
    assert rc == 0, err
    rc, out, err = herald(broker, "consume", "cli-p", "--from", "beginning", "--exit",
                          "--format", "json")
    assert rc == 0, err
    recs = [json.loads(l) for l in out.splitlines()]
    assert [(r["offset"], r["key"], r["value"]) for r in recs] == [
        (0, "o-1", '{"total":12}'), (1, "o-2", '{"total":7}'), (2, "", "no-key")]
    assert all(r["headers"] == [{"key": "source", "value": "web"}] for r in recs)
    assert all(r["partition"] == 0 and r["topic"] == "cli-p" for r in recs)
    # What the CLI stored is what a Kafka client reads.
    c = Consumer({"bootstrap.servers": broker.addr, "group.id": "x", "enable.auto.commit": False})
    c.assign([TopicPartition("cli-p", 0, 1)])
    m = c.poll(10)
    c.close()
    assert m is not None and m.error() is None
    assert (m.offset(), m.key(), m.value(), m.headers()) == (1, b"o-2", b'{"total":7}',
                                                             [("source", b"web")])


def test_consume_from_offset_count_and_timestamp(broker):
    rc, _, err = herald(broker, "produce", "cli-c", stdin=b"a\nb\nc\nd\n")
    assert rc == 0, err
    rc, out, err = herald(broker, "consume", "cli-c", "--from", "2", "--exit")
    assert rc == 0, err
    assert out.splitlines() == ["c", "d"]
    rc, out, err = herald(broker, "consume", "cli-c", "--from", "beginning", "-n", "3")
    assert rc == 0, err
    assert out.splitlines() == ["a", "b", "c"]
    rc, out, _ = herald(broker, "consume", "cli-c", "--from", "beginning", "--exit",
                        "--format", "json")
    ts = [json.loads(l)["timestamp"] for l in out.splitlines()]
    time.sleep(0.01)
    rc, _, err = herald(broker, "produce", "cli-c", stdin=b"later\n")
    assert rc == 0, err
    rc, out, _ = herald(broker, "consume", "cli-c", "--from", "@%d" % (max(ts) + 1), "--exit")
    assert out.splitlines() == ["later"]


def test_clear_errors_and_exit_codes(broker):
    rc, out, err = herald(broker, "topic", "describe", "no-such-topic")
    assert rc == 1 and "no-such-topic" in err
    rc, out, err = herald(broker, "consume", "cli-x", "--from", "nonsense")
    assert rc == 2 and err.strip()
    r = subprocess.run([HERALD_BIN, "topic", "list", "-b", "127.0.0.1:1", "--timeout", "1500"],
                       capture_output=True, timeout=30)
    assert r.returncode == 1 and r.stderr.strip()
