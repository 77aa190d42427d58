"""Kafka admin behaviours that operations tools rely on: reserved internal topic names,
AlterConfigs / IncrementalAlterConfigs, DeleteRecords, DescribeCluster and authorized operations,
checked with raw requests and confluent_kafka's AdminClient."""
import pytest
from confluent_kafka.admin import NewPartitions, NewTopic

import kafkaraw as kr
from clients import admin, error_code

INVALID_TOPIC_EXCEPTION = 17
INVALID_REQUEST = 42


def create_topics_v4(conn, name, partitions=1, configs=()):
    body = (kr.array([kr.string(name) + kr.i32(partitions) + kr.i16(1) + kr.array([])
                      + kr.array([kr.string(k) + kr.string(v) for k, v in configs])])
            + kr.i32(10000) + kr.i8(0))
    r = conn.request(kr.CREATE_TOPICS, 4, body)
    r.i32()  # throttle
    (res,) = r.array(lambda r: (r.string(), r.i16(), r.string()))
    return res


# ---- reserved names ----


# __consumer_offsets exists as Kafka's internal topic, readable and read-only:
# test_consumer_offsets_topic.py.
@pytest.mark.parametrize("name", ["__transaction_state"])
def test_reserved_names_are_never_user_topics(broker, name):
    with kr.Conn(broker.addr) as c:
        # Metadata v1 (auto-creation on): the name is not created, the answer says so.
        _b, _ctrl, topics = kr.metadata_v1(c, [name])
        assert topics[name][0] == kr.UNKNOWN_TOPIC_OR_PARTITION
        # Metadata v4 allowing auto-creation: the same.
        r = c.request(kr.METADATA, 4, kr.array([name], kr.string) + b"\x01")
        r.i32()
        r.array(lambda r: (r.i32(), r.string(), r.i32(), r.string()))
        r.string(), r.i32()
        (err, got, internal, parts), = r.array(
            lambda r: (r.i16(), r.string(), r.bool(), r.array(lambda r: None)))
        assert (err, got, internal, parts) == (kr.UNKNOWN_TOPIC_OR_PARTITION, name, True, [])
        # Produce is refused as Kafka refuses appends to internal topics, and creates nothing.
        err, _ = kr.produce(c, name, 0, kr.record_batch([(None, b"x")]))
        assert err == INVALID_TOPIC_EXCEPTION
        # CreateTopics refuses the name.
        got, err, msg = create_topics_v4(c, name, 3)
        assert (got, err) == (name, INVALID_REQUEST) and "internal" in msg
        _b, _ctrl, topics = kr.metadata_v1(c, None)
        assert name not in topics
    a = admin(broker.addr)
    fs = a.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
    with pytest.raises(Exception) as e:
        fs[name].result(15)
    assert error_code(e.value) == INVALID_REQUEST
    assert name not in a.list_topics(timeout=10).topics
    assert broker.running()


# ---- AlterConfigs and IncrementalAlterConfigs ----

ALTER_CONFIGS, INCREMENTAL_ALTER_CONFIGS = 33, 44
INVALID_CONFIG = 40
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3
TOPIC, BROKER = 2, 4


def describe_configs_v0(conn, rtype, name):
    """{config: (value, is_default)} of one resource, or the error code."""
    r = conn.request(kr.DESCRIBE_CONFIGS, 0,
                     kr.array([kr.i8(rtype) + kr.string(name) + kr.i32(-1)]))
    r.i32()
    (err, _msg, _t, _n, cfgs), = r.array(lambda r: (
        r.i16(), r.string(), r.i8(), r.string(),
        r.array(lambda r: (r.string(), r.string(), r.bool(), r.bool(), r.bool()))))
    if err:
        return err
    return {n: (v, d) for n, v, _ro, d, _s in cfgs}


def incremental_v0(conn, resources, validate_only=False):
    """resources: [(type, name, [(config, op, value)])] -> [(error, message)] in order."""
    body = kr.array([kr.i8(t) + kr.string(n)
                     + kr.array([kr.string(c) + kr.i8(op) + kr.string(v) for c, op, v in ops])
                     for t, n, ops in resources]) + kr.i8(1 if validate_only else 0)
    r = conn.request(INCREMENTAL_ALTER_CONFIGS, 0, body)
    r.i32()
    out = r.array(lambda r: (r.i16(), r.string(), r.i8(), r.string()))
    assert [(t, n) for _e, _m, t, n in out] == [(t, n) for t, n, _ in resources]
    return [(e, m) for e, m, _t, _n in out]


def test_incremental_alter_configs_raw(broker):
    with kr.Conn(broker.addr) as c:
        got, err, _ = create_topics_v4(c, "cfg-i", 1, [("retention.ms", "3600000")])
        assert err == 0
        before = describe_configs_v0(c, TOPIC, "cfg-i")
        assert before["retention.ms"] == ("3600000", False)
        assert before["max.message.bytes"][1] is True

        # SET two settings and DELETE one, in one request.
        assert incremental_v0(c, [(TOPIC, "cfg-i", [
            ("max.message.bytes", SET, "200"), ("retention.bytes", SET, "5000000"),
            ("retention.ms", DELETE, None)])]) == [(0, None)]
        d = describe_configs_v0(c, TOPIC, "cfg-i")
        assert d["max.message.bytes"] == ("200", False)
        assert d["retention.bytes"] == ("5000000", False)
        assert d["retention.ms"] == ("604800000", True)  # back to the broker default (7 days)
        # The new max.message.bytes applies at once.
        big = kr.record_batch([(None, b"x" * 400)])
        err, _ = kr.produce(c, "cfg-i", 0, big)
        assert err == kr.MESSAGE_TOO_LARGE
        err, _ = kr.produce(c, "cfg-i", 0, kr.record_batch([(None, b"ok")]))
        assert err == 0

        # APPEND / SUBTRACT: list settings only; cleanup.policy holds delete and compact.
        assert incremental_v0(c, [(TOPIC, "cfg-i", [("cleanup.policy", APPEND, "delete")])]) \
            == [(0, None)]
        assert describe_configs_v0(c, TOPIC, "cfg-i")["cleanup.policy"] == ("delete", False)
        assert incremental_v0(c, [(TOPIC, "cfg-i", [("cleanup.policy", APPEND, "compact")])]) \
            == [(0, None)]
        assert describe_configs_v0(c, TOPIC, "cfg-i")["cleanup.policy"] == ("compact,delete",
                                                                           False)
        assert incremental_v0(c, [(TOPIC, "cfg-i", [("cleanup.policy", SUBTRACT,
                                                     "compact")])]) == [(0, None)]
        assert describe_configs_v0(c, TOPIC, "cfg-i")["cleanup.policy"] == ("delete", False)
        (err, msg), = incremental_v0(c, [(TOPIC, "cfg-i", [("cleanup.policy", APPEND,
                                                            "compacted")])])
        assert err == INVALID_CONFIG and "cleanup.policy" in msg
        (err, msg), = incremental_v0(c, [(TOPIC, "cfg-i", [("retention.ms", APPEND, "5")])])
        assert err == INVALID_CONFIG and "list" in msg

        # Errors, each leaving everything unchanged (all or nothing per resource).
        snapshot = describe_configs_v0(c, TOPIC, "cfg-i")
        (err, _), = incremental_v0(c, [(TOPIC, "cfg-i", [("segment.ms", SET, "1000"),
                                                         ("retention.ms", SET, "abc")])])
        assert err == INVALID_CONFIG
        (err, msg), = incremental_v0(c, [(TOPIC, "cfg-i", [("no.such.config", SET, "1")])])
        assert err == INVALID_CONFIG and "unknown" in msg
        (err, _), = incremental_v0(c, [(TOPIC, "cfg-i", [("segment.ms", SET, "1000"),
                                                         ("segment.ms", SET, "2000")])])
        assert err == INVALID_REQUEST
        (err, _), = incremental_v0(c, [(TOPIC, "cfg-i", [("segment.ms", SET, "1000")])],
                                   validate_only=True)
        assert err == 0
        assert describe_configs_v0(c, TOPIC, "cfg-i") == snapshot

        # Unknown topics; a resource named twice; the broker's settings are read-only.
        assert incremental_v0(c, [(TOPIC, "cfg-nope", [("retention.ms", SET, "1")])])[0][0] \
            == kr.UNKNOWN_TOPIC_OR_PARTITION
        res = incremental_v0(c, [(TOPIC, "cfg-i", [("segment.ms", SET, "1")]),
                                 (TOPIC, "cfg-i", [("segment.ms", SET, "2")])])
        assert [e for e, _ in res] == [INVALID_REQUEST, INVALID_REQUEST]
        (err, msg), = incremental_v0(c, [(BROKER, "1", [("log.retention.ms", SET, "1")])])
        assert err == INVALID_REQUEST and "dynamically" in msg
        assert incremental_v0(c, [(BROKER, "", [])]) == [(0, None)]
        (err, _), = incremental_v0(c, [(BROKER, "7", [])])
        assert err == INVALID_REQUEST
        assert describe_configs_v0(c, TOPIC, "cfg-i") == snapshot

    # Durable: the altered settings survive a restart.
    broker.restart()
    with kr.Conn(broker.addr) as c:
        assert describe_configs_v0(c, TOPIC, "cfg-i") == snapshot
        err, _ = kr.produce(c, "cfg-i", 0, big)
        assert err == kr.MESSAGE_TOO_LARGE


def test_alter_configs_replaces_overrides_confluent(broker):
    from confluent_kafka.admin import ConfigResource
    a = admin(broker.addr)
    fs = a.create_topics([NewTopic("cfg-l", num_partitions=1, replication_factor=1,
                                   config={"retention.ms": "3600000",
                                           "max.message.bytes": "100000"})])
    fs["cfg-l"].result(15)
    # AlterConfigs (KIP-133) replaces the whole set of overrides.
    res = ConfigResource("topic", "cfg-l", set_config={"message.timestamp.type": "LogAppendTime",
                                                       "segment.bytes": "2097152"})
    for f in a.alter_configs([res]).values():
        f.result(15)

    def described():
        (f,) = a.describe_configs([ConfigResource("topic", "cfg-l")]).values()
        return {k: (v.value, v.is_default) for k, v in f.result(15).items()}

    d = described()
    assert d["message.timestamp.type"] == ("LogAppendTime", False)
    assert d["segment.bytes"] == ("2097152", False)
    assert d["retention.ms"] == ("604800000", True)
    assert d["max.message.bytes"][1] is True
    # LogAppendTime applies to the next produce: the broker stamps the batch.
    with kr.Conn(broker.addr) as c:
        err, base = kr.produce(c, "cfg-l", 0, kr.record_batch([(None, b"v")], base_timestamp=5))
        assert (err, base) == (0, 0)
        (b,) = kr.fetch_all_batches(broker.addr, "cfg-l", 0)
        assert b.attributes & 0x08 and b.max_timestamp > 1_600_000_000_000
    # A bad value fails the resource with INVALID_CONFIG and changes nothing.
    bad = ConfigResource("topic", "cfg-l", set_config={"retention.ms": "soon"})
    with pytest.raises(Exception) as e:
        for f in a.alter_configs([bad]).values():
            f.result(15)
    assert error_code(e.value) == INVALID_CONFIG
    assert described() == d
    broker.restart()
    a = admin(broker.addr)
    assert described() == d


PYPI_INCREMENTAL = r'''
import json, sys
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   NewTopic)
a = AdminClient({"bootstrap.servers": sys.argv[1]})
a.create_topics([NewTopic("cfg-p", 1, 1, config={"retention.ms": "3600000"})])["cfg-p"].result(15)
def alter(*ops, validate=False):
    res = ConfigResource("topic", "cfg-p", incremental_configs=[
        ConfigEntry(n, v, incremental_operation=getattr(AlterConfigOpType, op))
        for op, n, v in ops])
    try:
        for f in a.incremental_alter_configs([res], validate_only=validate).values():
            f.result(15)
        return 0
    except Exception as e:
        return e.args[0].code()
def described():
    (f,) = a.describe_configs([ConfigResource("topic", "cfg-p")]).values()
    return {k: [v.value, v.is_default] for k, v in f.result(15).items()}
out = {}
out["set"] = alter(("SET", "segment.ms", "70000"), ("DELETE", "retention.ms", None),
                   ("APPEND", "cleanup.policy", "delete"))
out["after_set"] = described()
out["validate"] = alter(("SET", "segment.ms", "1"), validate=True)
out["bad"] = alter(("SET", "retention.ms", "x"))
out["subtract_int"] = alter(("SUBTRACT", "retention.ms", "1"))
out["final"] = described()
print(json.dumps(out))
'''


def test_incremental_alter_configs_confluent_pypi(broker):
    """confluent-kafka 2.x (librdkafka 2.1x) from PyPI: incremental_alter_configs."""
    import json
    import subprocess

    from compat import VENV_PY, require
    require(VENV_PY, "the PyPI confluent-kafka virtualenv")
    p = subprocess.run([str(VENV_PY), "-c", PYPI_INCREMENTAL, broker.addr], capture_output=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    out = json.loads(p.stdout)
    assert out["set"] == 0
    d = out["after_set"]
    assert d["segment.ms"] == ["70000", False]
    assert d["retention.ms"] == ["604800000", True]
    assert d["cleanup.policy"] == ["delete", False]
    assert (out["validate"], out["bad"], out["subtract_int"]) == (0, INVALID_CONFIG,
                                                                   INVALID_CONFIG)
    assert out["final"] == d


# ---- DeleteRecords, DescribeCluster, authorized operations ----

DELETE_RECORDS, DESCRIBE_CLUSTER = 21, 60
TOPIC_OPS = sum(1 << op for op in (3, 4, 5, 6, 7, 8, 10, 11))  # READ..DESCRIBE, *_CONFIGS
CLUSTER_OPS = sum(1 << op for op in (5, 7, 8, 9, 10, 11, 12))
NOT_REQUESTED = -2 ** 31


def delete_records_v0(conn, topic, parts):
    """parts: {partition: offset} -> {partition: (low watermark, error)}"""
    body = kr.array([kr.string(topic) + kr.array([kr.i32(p) + kr.i64(o)
                                                  for p, o in parts.items()])]) + kr.i32(5000)
    r = conn.request(DELETE_RECORDS, 0, body)
    r.i32()
    (name, res), = r.array(lambda r: (r.string(), r.array(lambda r: (r.i32(), r.i64(),
                                                                     r.i16()))))
    assert name == topic
    return {p: (low, err) for p, low, err in res}


def compact_string(r):
    n = r.uvarint() - 1
    return None if n < 0 else r.take(n).decode()


def describe_cluster(conn, version, include_ops):
    body = kr.i8(1 if include_ops else 0) + (kr.i8(1) if version >= 1 else b"") + b"\x00"
    r = conn.request(DESCRIBE_CLUSTER, version, body, flexible=True)
    assert r.uvarint() == 0  # response header tags
    out = {"throttle": r.i32(), "error": r.i16(), "message": compact_string(r)}
    if version >= 1:
        out["endpoint_type"] = r.i8()
    out["cluster_id"], out["controller"] = compact_string(r), r.i32()
    brokers = []
    for _ in range(r.uvarint() - 1):
        brokers.append((r.i32(), compact_string(r), r.i32(), compact_string(r)))
        assert r.uvarint() == 0
    out["brokers"], out["ops"] = brokers, r.i32()
    assert r.uvarint() == 0 and r.remaining() == 0
    return out


def metadata_v8(conn, topics, cluster_ops, topic_ops):
    body = kr.array(topics, kr.string) + b"\x00" + kr.i8(cluster_ops) + kr.i8(topic_ops)
    r = conn.request(kr.METADATA, 8, body)
    r.i32()
    r.array(lambda r: (r.i32(), r.string(), r.i32(), r.string()))
    r.string(), r.i32()
    topics = r.array(lambda r: (r.i16(), r.string(), r.bool(),
                                r.array(lambda r: (r.i16(), r.i32(), r.i32(), r.i32(),
                                                   r.array(kr.Reader.i32), r.array(kr.Reader.i32),
                                                   r.array(kr.Reader.i32))),
                                r.i32()))
    cluster = r.i32()
    assert r.remaining() == 0
    return topics, cluster


def test_delete_records_raw_durable(broker):
    with kr.Conn(broker.addr) as c:
        assert create_topics_v4(c, "dr", 2)[1] == 0
        for i in range(4):  # four batches of five records: offsets 0-19
            recs = [(None, b"r%d" % (i * 5 + k)) for k in range(5)]
            assert kr.produce(c, "dr", 0, kr.record_batch(recs)) == (0, i * 5)
        # Mid-batch: offset 7 is the third record of the second batch.
        assert delete_records_v0(c, "dr", {0: 7, 1: 0, 5: 1}) == {
            0: (7, 0), 1: (0, 0), 5: (-1, kr.UNKNOWN_TOPIC_OR_PARTITION)}
        assert kr.list_offsets_v1(c, "dr", 0, -2)[2] == 7
        assert kr.fetch(c, "dr", 0, 6)["error"] == kr.OFFSET_OUT_OF_RANGE
        d = kr.fetch(c, "dr", 0, 7, version=11)
        assert d["error"] == 0 and d["log_start_offset"] == 7
        assert kr.split_batches(d["records"])[0].base_offset == 5  # the batch holding 7
        # Offsets above the high watermark are refused; -1 means the high watermark.
        assert delete_records_v0(c, "dr", {0: 21})[0] == (-1, kr.OFFSET_OUT_OF_RANGE)
        assert delete_records_v0(c, "dr", {0: 3})[0] == (7, 0)  # below the start: unchanged
    broker.restart()
    with kr.Conn(broker.addr) as c:
        assert kr.list_offsets_v1(c, "dr", 0, -2)[2] == 7
        assert kr.fetch(c, "dr", 0, 6)["error"] == kr.OFFSET_OUT_OF_RANGE
        assert delete_records_v0(c, "dr", {0: -1})[0] == (20, 0)
        assert kr.list_offsets_v1(c, "dr", 0, -2)[2] == 20
        # Appends go on from the end.
        assert kr.produce(c, "dr", 0, kr.record_batch([(None, b"next")])) == (0, 20)
    broker.kill9()
    broker.start()
    with kr.Conn(broker.addr) as c:
        assert kr.list_offsets_v1(c, "dr", 0, -2)[2] == 20


def test_describe_cluster_and_metadata_authorized_operations(broker):
    with kr.Conn(broker.addr) as c:
        assert create_topics_v4(c, "ops", 1)[1] == 0
        for version in (0, 1):
            d = describe_cluster(c, version, include_ops=False)
            assert (d["error"], d["message"], d["controller"]) == (0, None, 1)
            assert d["brokers"] == [(1, "127.0.0.1", broker.port, None)]
            assert d["cluster_id"] and d["ops"] == NOT_REQUESTED
            if version:
                assert d["endpoint_type"] == 1
            assert describe_cluster(c, version, include_ops=True)["ops"] == CLUSTER_OPS
        topics, cluster = metadata_v8(c, ["ops", "nope-x"], False, False)
        assert cluster == NOT_REQUESTED
        (err, name, internal, parts, ops), missing = topics
        assert (err, name, internal, ops) == (0, "ops", False, NOT_REQUESTED)
        assert parts == [(0, 0, 1, 0, [1], [1], [])]  # leader epoch 0
        assert missing[:2] == (kr.UNKNOWN_TOPIC_OR_PARTITION, "nope-x")  # no auto-creation asked
        topics, cluster = metadata_v8(c, ["ops"], True, True)
        assert cluster == CLUSTER_OPS and topics[0][4] == TOPIC_OPS


# ---- topic ids beside authorized operations (Metadata v10+) ----


def metadata_flexible(conn, version, name, cluster_ops, topic_ops):
    """Metadata v10-12 for one topic by name: (error, topic id, partition count, topic ops,
    cluster ops, or None from v11 where the field is gone)."""
    body = (kr.uvarint(2) + b"\x00" * 16 + kr.uvarint(len(name) + 1) + name.encode() + b"\x00"
            + b"\x00"  # AllowAutoTopicCreation
            + (kr.i8(cluster_ops) if version <= 10 else b"") + kr.i8(topic_ops) + b"\x00")
    r = conn.request(kr.METADATA, version, body, flexible=True)
    assert r.uvarint() == 0  # response header tags
    r.i32()
    for _ in range(r.uvarint() - 1):
        r.i32(), compact_string(r), r.i32(), compact_string(r)
        assert r.uvarint() == 0
    compact_string(r), r.i32()
    assert r.uvarint() - 1 == 1
    err, got, tid, _internal = r.i16(), compact_string(r), r.take(16), r.bool()
    nparts = r.uvarint() - 1
    for _ in range(nparts):
        r.i16(), r.i32(), r.i32(), r.i32()
        for _ in range(3):
            [r.i32() for _ in range(r.uvarint() - 1)]
        assert r.uvarint() == 0
    ops = r.i32()
    assert r.uvarint() == 0 and got == name
    cluster = r.i32() if version <= 10 else None
    assert r.uvarint() == 0 and r.remaining() == 0
    return err, tid, nparts, ops, cluster


def test_topic_id_kept_by_config_and_partition_changes(broker):
    """The topic id lives in the topic's definition file: IncrementalAlterConfigs and
    CreatePartitions rewrite that file and keep it, and so does a restart; Metadata v10-12 report
    it beside the authorized operations (the cluster's only up to v10)."""
    def check(c, nparts):
        err, tid, n, ops, cluster = metadata_flexible(c, 10, "tid", True, True)
        assert (err, n, ops, cluster) == (0, nparts, TOPIC_OPS, CLUSTER_OPS)
        assert tid != b"\x00" * 16
        assert metadata_flexible(c, 10, "tid", False, False) == \
            (0, tid, nparts, NOT_REQUESTED, NOT_REQUESTED)
        for version in (11, 12):
            assert metadata_flexible(c, version, "tid", False, True) == \
                (0, tid, nparts, TOPIC_OPS, None)
        return tid

    topic_file = broker.data_dir / "topics" / "tid.topic"
    with kr.Conn(broker.addr) as c:
        assert create_topics_v4(c, "tid", 2, [("retention.ms", "3600000")])[1] == 0
        tid = check(c, 2)
        assert "topic.id=%s\n" % tid.hex() in topic_file.read_text()
        assert incremental_v0(c, [(TOPIC, "tid", [("segment.ms", SET, "90000"),
                                                  ("retention.ms", DELETE, None)])]) == [(0, None)]
        assert check(c, 2) == tid
    a = admin(broker.addr)
    a.create_partitions([NewPartitions("tid", 3)])["tid"].result(15)
    text = topic_file.read_text()
    assert "topic.id=%s\n" % tid.hex() in text and "partitions=3\n" in text
    assert "segment.ms=90000\n" in text and "retention.ms" not in text
    broker.restart()
    with kr.Conn(broker.addr) as c:
        assert check(c, 3) == tid
        assert describe_configs_v0(c, TOPIC, "tid")["segment.ms"] == ("90000", False)
