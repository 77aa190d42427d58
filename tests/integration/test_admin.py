"""Topic administration with the confluent AdminClient, kafka-python's KafkaAdminClient and raw
Metadata requests."""
import time

import pytest
from confluent_kafka import KafkaError
from confluent_kafka.admin import ConfigResource, NewPartitions, NewTopic
from kafka import KafkaAdminClient
from kafka.admin import NewTopic as KpNewTopic
from kafka.errors import TopicAlreadyExistsError

import kafkaraw as kr
from kafkaraw import i16, i32, string
from clients import admin, consume, error_code, produce_all


def create(a, topics, timeout=15):
    fs = a.create_topics(topics, request_timeout=timeout)
    out = {}
    for name, f in fs.items():
        try:
            f.result(timeout)
            out[name] = None
        except Exception as e:  # KafkaException carrying a KafkaError
            out[name] = error_code(e)
    return out


def test_create_describe_list_grow_delete(broker):
    a = admin(broker.addr)
    res = create(a, [NewTopic("adm-a", num_partitions=4, replication_factor=1,
                              config={"retention.ms": "3600000", "cleanup.policy": "delete"}),
                     NewTopic("adm-b", num_partitions=1, replication_factor=1)])
    assert res == {"adm-a": None, "adm-b": None}

    md = a.list_topics(timeout=10)
    assert {"adm-a", "adm-b"} <= set(md.topics)
    assert sorted(md.topics["adm-a"].partitions) == [0, 1, 2, 3]
    p0 = md.topics["adm-a"].partitions[0]
    assert p0.leader == 1 and p0.replicas == [1] and p0.isrs == [1]
    assert list(md.brokers) == [1] and md.brokers[1].port == broker.port
    assert md.controller_id == 1

    # Duplicates and replication factors a single node cannot have.
    assert create(a, [NewTopic("adm-a", num_partitions=1, replication_factor=1)]) == \
        {"adm-a": KafkaError.TOPIC_ALREADY_EXISTS}
    assert create(a, [NewTopic("adm-rf", num_partitions=1, replication_factor=2)]) == \
        {"adm-rf": KafkaError.INVALID_REPLICATION_FACTOR}
    assert create(a, [NewTopic("adm-zero", num_partitions=0, replication_factor=1)]) == \
        {"adm-zero": KafkaError.INVALID_PARTITIONS}
    assert create(a, [NewTopic("adm-cfg", num_partitions=1, replication_factor=1,
                               config={"no.such.setting": "1"})]) == \
        {"adm-cfg": KafkaError.INVALID_CONFIG}
    assert "adm-rf" not in a.list_topics(timeout=10).topics

    # DescribeConfigs: the override and the defaults, with their sources.
    res = ConfigResource(ConfigResource.Type.TOPIC, "adm-a")
    cfg = a.describe_configs([res], request_timeout=10)[res].result(10)
    assert cfg["retention.ms"].value == "3600000"
    assert not cfg["retention.ms"].is_default
    for key in ("cleanup.policy", "retention.bytes", "segment.bytes", "max.message.bytes",
                "compression.type", "message.timestamp.type", "min.insync.replicas"):
        assert key in cfg, key
    assert cfg["retention.bytes"].value == "-1" and cfg["retention.bytes"].is_default
    assert cfg["max.message.bytes"].value == "1048588"
    res_b = ConfigResource(ConfigResource.Type.TOPIC, "adm-b")
    cfg_b = a.describe_configs([res_b], request_timeout=10)[res_b].result(10)
    assert cfg_b["retention.ms"].value == "604800000" and cfg_b["retention.ms"].is_default

    # CreatePartitions grows a topic; the new partition takes records.
    fs = a.create_partitions([NewPartitions("adm-b", 3)], request_timeout=10)
    fs["adm-b"].result(10)
    assert sorted(a.list_topics("adm-b", timeout=10).topics["adm-b"].partitions) == [0, 1, 2]
    reps = produce_all(broker.addr, [{"topic": "adm-b", "value": b"p2", "partition": 2}])
    assert (reps[0]["partition"], reps[0]["offset"]) == (2, 0)
    # Shrinking is refused.
    with pytest.raises(Exception) as ei:
        a.create_partitions([NewPartitions("adm-b", 2)], request_timeout=10)["adm-b"].result(10)
    assert error_code(ei.value) == KafkaError.INVALID_PARTITIONS

    # DeleteTopics removes it; a second delete is UNKNOWN_TOPIC_OR_PARTITION.
    fs = a.delete_topics(["adm-b"], request_timeout=10)
    fs["adm-b"].result(10)
    deadline = time.monotonic() + 10
    while "adm-b" in a.list_topics(timeout=10).topics and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "adm-b" not in a.list_topics(timeout=10).topics
    with pytest.raises(Exception) as ei:
        a.delete_topics(["adm-b"], request_timeout=10)["adm-b"].result(10)
    assert error_code(ei.value) == KafkaError.UNKNOWN_TOPIC_OR_PART

    # Re-created under the same name, it starts empty at offset 0.
    assert create(a, [NewTopic("adm-b", num_partitions=1, replication_factor=1)]) == \
        {"adm-b": None}
    reps = produce_all(broker.addr, [{"topic": "adm-b", "value": b"fresh", "partition": 0}])
    assert reps[0]["offset"] == 0
    assert [m.value() for m in consume(broker.addr, "adm-b", [0], 1)] == [b"fresh"]


def test_created_topic_has_its_partition_files_when_answered(broker):
    """CreateTopics answers once every partition's directory and first segment's files exist
    (made off the loop thread); nothing is written to them until a record arrives, the first
    write opens them as a new log, and a topic deleted right after creation leaves no
    directory."""
    a = admin(broker.addr)
    assert create(a, [NewTopic("pre-a", num_partitions=300, replication_factor=1)]) == \
        {"pre-a": None}
    topics = broker.data_dir / "topics"
    for i in range(300):
        seg = topics / ("pre-a-%d" % i) / ("0" * 20 + ".log")
        assert seg.is_file() and seg.stat().st_size == 0, seg
        # The index files too, empty: the first index write opens them instead of creating
        # them on the loop thread.
        for ext in (".index", ".timeindex"):
            idx = topics / ("pre-a-%d" % i) / ("0" * 20 + ext)
            assert idx.is_file() and idx.stat().st_size == 0, idx
    reps = produce_all(broker.addr, [{"topic": "pre-a", "value": b"v%d" % i, "partition": i}
                                     for i in (0, 7, 299)])
    assert sorted((r["partition"], r["offset"]) for r in reps) == [(0, 0), (7, 0), (299, 0)]
    assert [m.value() for m in consume(broker.addr, "pre-a", [7], 1)] == [b"v7"]
    assert "recovered after an unclean shutdown" not in broker.log_text()

    # Created and deleted at once, many times: no directory of it is left behind, and the
    # name can be created again.
    for k in range(5):
        res = create(a, [NewTopic("pre-b", num_partitions=200, replication_factor=1)])
        assert res == {"pre-b": None}
        a.delete_topics(["pre-b"], request_timeout=10)["pre-b"].result(10)
        assert not any(d.name.startswith("pre-b-") for d in topics.iterdir()), k
    assert create(a, [NewTopic("pre-b", num_partitions=2, replication_factor=1)]) == \
        {"pre-b": None}
    reps = produce_all(broker.addr, [{"topic": "pre-b", "value": b"x", "partition": 1}])
    assert (reps[0]["partition"], reps[0]["offset"]) == (1, 0)


def test_topic_deleted_while_its_files_are_made_leaves_none(broker):
    """A DeleteTopics pipelined right behind the CreateTopics of a large topic is handled while
    the partition files are still being made: both succeed, the create is answered first, and no
    directory of the topic is left (the maker stops at the deletion)."""
    topics = broker.data_dir / "topics"
    for k in range(3):
        name = "pre-c%d" % k
        create_body = (i32(1) + string(name) + i32(3000) + i16(1) + i32(0) + i32(0)
                       + i32(30000))
        delete_body = i32(1) + string(name) + i32(30000)
        with kr.Conn(broker.addr, timeout=60) as c:
            cc = c.send(19, 0, create_body)
            dc = c.send(20, 0, delete_body)
            corr, r = c.recv()
            assert corr == cc
            assert r.i32() == 1 and r.string() == name and r.i16() == 0
            corr, r = c.recv()
            assert corr == dc
            assert r.i32() == 1 and r.string() == name and r.i16() == 0
        left = [d.name for d in topics.iterdir() if d.name.startswith(name + "-")]
        assert left == [], (k, len(left))
    assert "pre-c0" not in admin(broker.addr).list_topics(timeout=10).topics


def test_describe_broker_config(broker):
    a = admin(broker.addr)
    res = ConfigResource(ConfigResource.Type.BROKER, "1")
    cfg = a.describe_configs([res], request_timeout=10)[res].result(10)
    assert cfg["num.partitions"].value == "1"
    assert cfg["message.max.bytes"].value == "1048588"
    assert cfg["auto.create.topics.enable"].value in ("true", "1")


def test_kafka_python_admin(broker):
    a = KafkaAdminClient(bootstrap_servers=broker.addr, request_timeout_ms=15000,
                         api_version_auto_timeout_ms=10000)
    try:
        a.create_topics([KpNewTopic("kp-adm", num_partitions=2, replication_factor=1,
                                    topic_configs={"retention.ms": "7200000"})],
                        timeout_ms=10000)
        with pytest.raises(TopicAlreadyExistsError):
            a.create_topics([KpNewTopic("kp-adm", num_partitions=2, replication_factor=1)],
                            timeout_ms=10000)
        assert "kp-adm" in a.list_topics()
        from kafka.admin import ConfigResource as KpConfigResource, ConfigResourceType
        resp = a.describe_configs([KpConfigResource(ConfigResourceType.TOPIC, "kp-adm")])
        entries = {e[0]: e[1] for e in resp[0].resources[0][4]}
        assert entries["retention.ms"] == "7200000"
        a.delete_topics(["kp-adm"], timeout_ms=10000)
        deadline = time.monotonic() + 10
        while "kp-adm" in a.list_topics() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "kp-adm" not in a.list_topics()
    finally:
        a.close()


def test_metadata_without_auto_create(broker_factory):
    b = broker_factory("--auto-create-topics", "false")
    with kr.Conn(b.addr) as c:
        for version in (0, 1, 4):
            body = kr.array(["nope"], kr.string)
            if version >= 4:
                body += b"\x01"  # allow_auto_topic_creation: the broker setting still wins
            r = c.request(kr.METADATA, version, body)
            if version >= 3:
                r.i32()  # throttle
            brokers = r.array(lambda r: (r.i32(), r.string(), r.i32()) +
                              ((r.string(),) if version >= 1 else ()))
            assert [(n, h, p) for n, h, p, *_ in brokers] == [(1, "127.0.0.1", b.port)]
            if version >= 2:
                r.string()
            if version >= 1:
                assert r.i32() == 1  # controller id
            assert r.i32() == 1  # one topic
            err, name = r.i16(), r.string()
            assert (err, name) == (kr.UNKNOWN_TOPIC_OR_PARTITION, "nope"), version
    # Produce to it fails at the broker with UNKNOWN_TOPIC_OR_PARTITION too.
    with kr.Conn(b.addr) as c:
        err, _ = kr.produce(c, "nope", 0, kr.record_batch([(None, b"x")]))
        assert err == kr.UNKNOWN_TOPIC_OR_PARTITION
    a = admin(b.addr)
    assert "nope" not in a.list_topics(timeout=10).topics


def test_metadata_auto_create_and_all_topics(broker):
    with kr.Conn(broker.addr) as c:
        _b, _ctrl, topics = kr.metadata_v1(c, ["auto-x"])
        assert topics["auto-x"][0] == 0 and len(topics["auto-x"][1]) == 1
        _b, _ctrl, topics = kr.metadata_v1(c, None)  # null: all topics, creates nothing
        assert "auto-x" in topics
        _b, _ctrl, topics = kr.metadata_v1(c, [])  # empty in v1+: no topics
        assert topics == {}
        _b, _ctrl, topics = kr.metadata_v1(c, ["bad/name"])
        assert topics["bad/name"][0] == 17  # INVALID_TOPIC_EXCEPTION
