"""The open files limit: Herald raises it to the hard limit at start, reports it in /metrics, and
refuses topics and partitions that would not fit it with a clear error instead of failing their
appends later with "Too many open files"."""
import os
import re
import socket
import time

import pytest
import requests
from confluent_kafka import KafkaError
from confluent_kafka.admin import NewPartitions, NewTopic

from clients import admin, consume, create_topic, error_code, make_producer, produce_all


def metric(broker, name):
    text = requests.get(broker.http + "/metrics", timeout=10).text
    m = re.search(r"^%s (\S+)$" % name, text, re.M)
    assert m, "%s missing from /metrics" % name
    return float(m.group(1))


def create(a, topic, partitions, validate_only=False):
    fs = a.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)],
                         request_timeout=15, validate_only=validate_only)
    try:
        fs[topic].result(15)
        return None
    except Exception as e:  # KafkaException carrying a KafkaError
        return e


def test_limit_raised_to_the_hard_limit_for_many_partitions(broker_factory):
    # A soft limit of 256 cannot hold 300 partitions' files; the hard limit of 4096 can.
    b = broker_factory(nofile=(256, 4096))
    assert "open files: limit 4096 (raised from 256)" in b.log_text()
    assert metric(b, "herald_max_fds") == 4096
    a = admin(b.addr)
    assert create(a, "fd-many", 300) is None
    reports = produce_all(b.addr, [{"topic": "fd-many", "partition": p, "value": b"v%d" % p}
                                   for p in range(300)], timeout=60)
    assert [(r["partition"], r["offset"]) for r in reports] == [(p, 0) for p in range(300)]
    got = consume(b.addr, "fd-many", range(300), 300, timeout=60)
    assert sorted((m.partition(), m.offset(), m.value()) for m in got) == \
        [(p, 0, b"v%d" % p) for p in range(300)]
    # Every partition holds its segment open now: more than the soft limit it started with.
    assert metric(b, "herald_open_fds") > 300


def test_partitions_that_do_not_fit_the_limit_are_refused(broker_factory):
    b = broker_factory("--num-partitions", "200", nofile=(512, 512))
    assert "open files: limit 512\n" in b.log_text()
    a = admin(b.addr)

    # 200 partitions need about 3 files each next to the 256 kept for connections.
    for validate_only in (True, False):
        e = create(a, "fd-big", 200, validate_only=validate_only)
        assert e is not None and error_code(e) == KafkaError.INVALID_PARTITIONS, e
        msg = e.args[0].str()
        assert "the open files limit is 512" in msg and "ulimit -n" in msg, msg
    assert "fd-big" not in a.list_topics(timeout=10).topics

    r = requests.post(b.http + "/topics", json={"name": "fd-big", "partitions": 200}, timeout=10)
    assert r.status_code == 507, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert "the open files limit is 512" in r.json()["detail"]

    # What fits is created and works.
    assert create(a, "fd-ok", 50) is None
    reports = produce_all(b.addr, [{"topic": "fd-ok", "partition": p, "value": b"x"}
                                   for p in range(50)])
    assert sorted(r["partition"] for r in reports) == list(range(50))

    # Growing it past the limit is refused the same way, and the topic keeps its partitions.
    fs = a.create_partitions([NewPartitions("fd-ok", 200)], request_timeout=15)
    try:
        fs["fd-ok"].result(15)
        raise AssertionError("CreatePartitions to 200 succeeded under a limit of 512")
    except Exception as e:  # KafkaException carrying a KafkaError
        assert error_code(e) == KafkaError.INVALID_PARTITIONS, e
        assert "the open files limit is 512" in e.args[0].str()
    assert len(a.list_topics(timeout=10).topics["fd-ok"].partitions) == 50

    # An auto-created topic (num.partitions 200) is refused the same way, and the log says why.
    p = make_producer(b.addr, **{"message.timeout.ms": 3000})
    errs = []
    p.produce("fd-auto", b"x", on_delivery=lambda err, msg: errs.append(err))
    p.flush(10)
    assert len(errs) == 1 and errs[0] is not None, errs
    assert "fd-auto" not in a.list_topics(timeout=10).topics
    assert "topic fd-auto: auto-create failed: the open files limit is 512" in b.log_text()

    # Restarted under a limit its partitions do not fit, the broker says so at start.
    b.stop()
    b.nofile = (300, 300)
    b.start()
    assert "open files: the open files limit is 300: " \
        in b.log_text()


def open_fds(b):
    return len(os.listdir("/proc/%d/fd" % b.proc.pid))


def send_one(p, topic, value):
    """Produces one record and waits for its report: (error or None, offset)."""
    res = []
    p.produce(topic, value=value, partition=0,
              on_delivery=lambda err, msg: res.append((err, msg.offset())))
    p.flush(15)
    assert res, "no delivery report"
    return res[0]


@pytest.mark.parametrize("journal", ["true", "false"])
def test_running_out_of_descriptors_is_not_a_failed_sync(broker_factory, journal):
    """A roll that takes the last descriptor leaves none to open the partition's directory with
    for its sync: that sync goes through a file already open (syncfs), and the partition keeps
    acknowledging once descriptors are free again, instead of failing every later write as after
    a failed fdatasync. With the journal, the partition's large batches are written direct, and
    synced by the flusher as without it."""
    b = broker_factory("--journal", journal)
    create_topic(b.addr, "fd-roll", 1, config={"segment.bytes": "1048576"})
    b.stop()
    b.nofile = (64, 64)  # below what the budget asks for: a restart only warns
    b.start()
    p = make_producer(b.addr, linger_ms=0, message_timeout_ms=10000, retries=0)
    value = b"r" * 700000  # a roll for every record: a new segment file, its directory synced
    assert send_one(p, "fd-roll", value) == (None, 0)
    # Idle connections take every descriptor but one: the next roll takes that.
    before = open_fds(b)
    idle = []
    try:
        while len(idle) < 64:
            n = open_fds(b)
            if n >= 63:
                break
            idle.append(socket.create_connection(("127.0.0.1", b.port), timeout=5))
            deadline = time.monotonic() + 5  # one at a time: the broker accepts each first
            while open_fds(b) == n and time.monotonic() < deadline:
                time.sleep(0.005)
        assert open_fds(b) == 63, open_fds(b)
        err, off = send_one(p, "fd-roll", value)
        if err is not None:  # the roll itself found no descriptor: refused, nothing stored
            assert err.code() == KafkaError.KAFKA_STORAGE_ERROR, err
    finally:
        for s in idle:
            s.close()
    deadline = time.monotonic() + 10
    while open_fds(b) > before + 2 and time.monotonic() < deadline:  # + the new segment
        time.sleep(0.05)
    acked = [0] + ([off] if err is None else [])
    for _ in range(3):
        err2, off2 = send_one(p, "fd-roll", value)
        assert err2 is None, err2
        acked.append(off2)
    assert acked == list(range(len(acked)))
    got = consume(b.addr, "fd-roll", [0], len(acked), timeout=30)
    assert [(m.offset(), len(m.value())) for m in got] == [(o, 700000) for o in acked]
    assert "fdatasync failed" not in b.log_text()
