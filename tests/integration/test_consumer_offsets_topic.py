"""__consumer_offsets as Kafka exposes it: an internal topic in Kafka's own record format
(OffsetCommitKey/Value, GroupMetadataKey/Value), partitioned by the hash of the group id, readable
and read-only. Read by Kafka's console consumer with its offsets and group-metadata formatters, by
Debian's Burrow (a lag checker that consumes the topic), and byte for byte here. Cases that can
run against Apache Kafka itself (kafka_target) do."""
import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest

import kafkaraw as kr
from conftest import free_port, port_open, unique, wait_until
from kafka_broker import run_tool

CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"
OFFSETS_FORMATTER = "org.apache.kafka.tools.consumer.OffsetsMessageFormatter"
GROUP_FORMATTER = "org.apache.kafka.tools.consumer.GroupMetadataMessageFormatter"
TOPIC = "__consumer_offsets"

OFFSET_COMMIT, FIND_COORDINATOR, JOIN_GROUP, SYNC_GROUP, HEARTBEAT, LEAVE_GROUP = 8, 10, 11, 14, \
    12, 13
DELETE_TOPICS, DELETE_RECORDS, CREATE_TOPICS, CREATE_PARTITIONS = 20, 21, 19, 37
ALTER_CONFIGS, OFFSET_DELETE = 33, 47
INVALID_TOPIC_EXCEPTION, TOPIC_ALREADY_EXISTS = 17, 36


def partition_for(group, nparts):
    """Kafka's partition of a group: abs(Java String.hashCode()) % partitions."""
    h = 0
    units = group.encode("utf-16-be")
    for i in range(0, len(units), 2):
        h = (31 * h + struct.unpack(">H", units[i:i + 2])[0]) & 0xFFFFFFFF
    if h >= 1 << 31:
        h -= 1 << 32
    return 0 if h == -(1 << 31) else abs(h) % nparts


def test_partition_for_matches_java():
    # Known values of Java's "...".hashCode(): "g1" is 3242; "polygenelubricants" hashes to
    # Integer.MIN_VALUE, which Kafka's Utils.abs maps to 0.
    assert partition_for("g1", 4) == 3242 % 4
    assert partition_for("polygenelubricants", 50) == 0
    assert partition_for("\U0001F600", 7) == ((0xD83D * 31 + 0xDE00) % 7)


def nstring(s):
    return kr.i16(-1) if s is None else kr.string(s)


def find_coordinator(addr, group):
    """Kafka makes __consumer_offsets on the first FindCoordinator; wait until it answers."""
    with kr.Conn(addr) as c:
        def ready():
            r = c.request(FIND_COORDINATOR, 0, kr.string(group))
            return r.i16() == 0
        wait_until(ready, 60, interval=0.3, what="the group coordinator")


def commit(addr, group, topic, parts):
    """OffsetCommit v6 outside any generation: parts is [(partition, offset, epoch, metadata)].
    Returns the per-partition error codes."""
    body = (kr.string(group) + kr.i32(-1) + kr.string("") +
            kr.array([kr.string(topic) + kr.array(
                [kr.i32(p) + kr.i64(o) + kr.i32(e) + nstring(m) for p, o, e, m in parts])]))
    with kr.Conn(addr) as c:
        for _ in range(100):
            r = c.request(OFFSET_COMMIT, 6, body)
            r.i32()
            (_n, errs), = r.array(lambda r: (r.string(), r.array(lambda r: (r.i32(), r.i16()))))
            if all(e not in (14, 15, 16) for _p, e in errs):  # coordinator loading or moving
                return [e for _p, e in errs]
            time.sleep(0.2)
    raise AssertionError("the coordinator did not take the commit")


def offset_delete(addr, group, topic, partition):
    body = kr.string(group) + kr.array([kr.string(topic) + kr.array([kr.i32(partition)])])
    with kr.Conn(addr) as c:
        r = c.request(OFFSET_DELETE, 0, body)
        top = r.i16()
        r.i32()
        (_n, ((_p, err),)), = r.array(lambda r: (r.string(), r.array(
            lambda r: (r.i32(), r.i16()))))
        return top, err


def metadata(addr, topics):
    """Metadata v1: {name: (error, is_internal, partition count)}."""
    with kr.Conn(addr) as c:
        body = kr.i32(-1) if topics is None else kr.array(topics, kr.string)
        r = c.request(3, 1, body)
        r.array(lambda r: (r.i32(), r.string(), r.i32(), r.string()))
        r.i32()
        out = r.array(lambda r: (r.i16(), r.string(), r.bool(), r.array(
            lambda r: (r.i16(), r.i32(), r.i32(), r.array(lambda r: r.i32()),
                       r.array(lambda r: r.i32())))))
    return {name: (err, internal, len(parts)) for err, name, internal, parts in out}


def create_topic(addr, topic, partitions):
    with kr.Conn(addr) as c:
        body = kr.array([kr.string(topic) + kr.i32(partitions) + kr.i16(1) + kr.i32(0) +
                         kr.i32(0)]) + kr.i32(15000) + kr.i8(0)
        r = c.request(CREATE_TOPICS, 2, body)
        r.i32()
        (name, err, msg), = r.array(lambda r: (r.string(), r.i16(), r.string()))
        return err, msg


def produce(addr, topic, partition, n):
    with kr.Conn(addr) as c:
        err, _base = kr.produce(c, topic, partition,
                                kr.record_batch([(None, b"v%d" % i) for i in range(n)]))
        assert err == 0


def offsets_records(addr, group):
    """Every record of the group in __consumer_offsets, read with raw Fetch from every partition:
    {partition: [(offset, timestamp, key, value)]} (only partitions that hold some)."""
    nparts = metadata(addr, [TOPIC])[TOPIC][2]
    out = {}
    for p in range(nparts):
        for b in kr.fetch_all_batches(addr, TOPIC, p):
            assert b.magic == 2 and b.crc_ok and b.codec == 0 and b.producer_id == -1
            for off, ts, key, value, headers in b.records():
                assert headers == []
                if group.encode() in key:
                    out.setdefault(p, []).append((off, ts, key, value))
    return nparts, out


def offset_key(group, topic, partition):
    return kr.i16(1) + kr.string(group) + kr.string(topic) + kr.i32(partition)


def offset_value(offset, epoch, meta, ts):
    return kr.i16(3) + kr.i64(offset) + kr.i32(epoch) + kr.string(meta) + kr.i64(ts)


def test_committed_offsets_decode_byte_for_byte(kafka_target):
    addr = kafka_target.addr
    t, g = unique("co-raw"), unique("co-raw-group")
    assert create_topic(addr, t, 2)[0] == 0
    find_coordinator(addr, g)
    t0 = int(time.time() * 1000)
    assert commit(addr, g, t, [(0, 3, -1, "       Hello"), (1, 7, 5, "")]) == [0, 0]
    assert commit(addr, g, t, [(0, 4, -1, None)]) == [0]
    assert offset_delete(addr, g, t, 1) == (0, 0)
    t1 = int(time.time() * 1000)

    def got():
        nparts, recs = offsets_records(addr, g)
        return (nparts, recs) if sum(map(len, recs.values())) >= 4 else None
    nparts, recs = wait_until(got, 20, what="the group's records")
    # All of the group's records are in the partition Kafka's partitioner names.
    assert list(recs) == [partition_for(g, nparts)], (list(recs), nparts)
    (p, rows), = recs.items()
    keys = [k for _o, _ts, k, _v in rows]
    assert keys == [offset_key(g, t, 0), offset_key(g, t, 1), offset_key(g, t, 0),
                    offset_key(g, t, 1)]
    values = [v for _o, _ts, _k, v in rows]
    assert values[3] is None  # the deleted offset's tombstone
    decoded = [decode_offset_value(v) for v in values[:3]]
    stamps = [d.pop("commitTimestamp") for d in decoded]
    assert all(t0 <= s <= t1 for s in stamps), (t0, stamps, t1)
    if kafka_target.kind == "herald":
        # Herald writes value version 3, which lag checkers of every age decode.
        assert values[:3] == [offset_value(3, -1, "       Hello", stamps[0]),
                              offset_value(7, 5, "", stamps[1]),
                              offset_value(4, -1, "", stamps[2])]
    else:
        # Kafka 4.4 writes version 4: flexible, with the topic id as a tagged field.
        ids = [d.pop("topicId") for d in decoded]
        assert len(set(ids)) == 1 and ids[0] != bytes(16)
    v = 3 if kafka_target.kind == "herald" else 4
    assert decoded == [{"version": v, "offset": 3, "leaderEpoch": -1, "metadata": "       Hello"},
                       {"version": v, "offset": 7, "leaderEpoch": 5, "metadata": ""},
                       {"version": v, "offset": 4, "leaderEpoch": -1, "metadata": ""}]
    assert [o for o, _ts, _k, _v in rows] == sorted(o for o, _ts, _k, _v in rows)


def decode_offset_value(v):
    """An OffsetCommitValue of version 3 (i16 string) or 4 (compact string, tagged fields)."""
    r = kr.Reader(v)
    ver = r.i16()
    d = {"version": ver, "offset": r.i64(), "leaderEpoch": r.i32()}
    if ver >= 4:
        d["metadata"] = r.take(r.uvarint() - 1).decode()
    else:
        d["metadata"] = r.string()
    d["commitTimestamp"] = r.i64()
    if ver >= 4:
        for _ in range(r.uvarint()):
            tag, size = r.uvarint(), r.uvarint()
            assert tag == 0 and size == 16
            d["topicId"] = r.take(16)
    assert r.pos == len(v), "trailing bytes"
    return d


def console_consume(tmp_path, addr, formatter, timeout_ms=6000):
    r = run_tool(tmp_path, CONSUMER, "--bootstrap-server", addr, "--topic", TOPIC,
                 "--from-beginning", "--formatter", formatter, "--timeout-ms", timeout_ms,
                 "--command-property", "exclude.internal.topics=false", timeout=120)
    assert "Processed a total of" in r.stderr, r.stderr[-3000:]
    return [json.loads(x) for x in json_objects(r.stdout)]


def json_objects(text):
    """The formatters print one JSON object per record without a separator."""
    dec = json.JSONDecoder()
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        obj, end = dec.raw_decode(text, pos)
        out.append(json.dumps(obj))
        pos = end
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def test_offsets_formatter_prints_commits_and_metadata(kafka_target, tmp_path):
    addr = kafka_target.addr
    t, g = unique("co-fmt"), unique("co-fmt-group")
    assert create_topic(addr, t, 2)[0] == 0
    find_coordinator(addr, g)
    t0 = int(time.time() * 1000)
    assert commit(addr, g, t, [(0, 3, -1, "       Hello"), (1, 7, 5, "")]) == [0, 0]
    assert offset_delete(addr, g, t, 1) == (0, 0)
    t1 = int(time.time() * 1000)
    recs = [r for r in console_consume(tmp_path, addr, OFFSETS_FORMATTER)
            if r["key"]["data"]["group"] == g]
    version = 3 if kafka_target.kind == "herald" else 4  # Kafka 4.4 writes v4 (flexible)
    for r in recs[:2]:
        ts = r["value"]["data"].pop("commitTimestamp")
        assert t0 <= ts <= t1
        assert r["value"]["version"] == version
        r["value"]["version"] = 3
        if version == 4:
            assert len(r["value"]["data"].pop("topicId")) == 22  # base64 of 16 bytes
    assert recs == [
        {"key": {"type": 1, "data": {"group": g, "topic": t, "partition": 0}},
         "value": {"version": 3, "data": {"offset": 3, "leaderEpoch": -1,
                                          "metadata": "       Hello"}}},
        {"key": {"type": 1, "data": {"group": g, "topic": t, "partition": 1}},
         "value": {"version": 3, "data": {"offset": 7, "leaderEpoch": 5, "metadata": ""}}},
        {"key": {"type": 1, "data": {"group": g, "topic": t, "partition": 1}}, "value": None},
    ], recs


def join_sync(c, group, topic, assignment=b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"):
    """A classic member joins with JoinGroup v5 (after MEMBER_ID_REQUIRED) and, as leader,
    assigns itself: (generation, member id, subscription bytes)."""
    sub = kr.i16(0) + kr.array([topic], kr.string) + kr.bytes_(b"")

    def join(member):
        body = (kr.string(group) + kr.i32(10000) + kr.i32(20000) + kr.string(member) +
                kr.i16(-1) + kr.string("consumer") +
                kr.array([kr.string("range") + kr.bytes_(sub)]))
        r = c.request(JOIN_GROUP, 5, body)
        r.i32()
        return r.i16(), r.i32(), r.string(), r.string(), r.string()
    err, gen, proto, leader, member = join("")
    if err == 79:  # MEMBER_ID_REQUIRED
        err, gen, proto, leader, member = join(member)
    assert err == 0 and leader == member and proto == "range", (err, proto)
    body = (kr.string(group) + kr.i32(gen) + kr.string(member) + kr.i16(-1) +
            kr.array([kr.string(member) + kr.bytes_(assignment)]))
    r = c.request(SYNC_GROUP, 3, body)
    r.i32()
    assert (r.i16(), r.bytes()) == (0, assignment)
    return gen, member, sub


def heartbeat(c, group, gen, member):
    r = c.request(HEARTBEAT, 3, kr.string(group) + kr.i32(gen) + kr.string(member) + kr.i16(-1))
    r.i32()
    return r.i16()


def leave(c, group, member):
    r = c.request(LEAVE_GROUP, 3, kr.string(group) + kr.array(
        [kr.string(member) + kr.i16(-1)]))
    r.i32()
    return r.i16()


def test_group_metadata_formatter_prints_rebalances(kafka_target, tmp_path):
    addr = kafka_target.addr
    t, g = unique("co-gm"), unique("co-gm-group")
    assert create_topic(addr, t, 1)[0] == 0
    find_coordinator(addr, g)
    with kr.Conn(addr, client_id="gm-client") as c:
        gen, member, sub = join_sync(c, g, t)
        assert leave(c, g, member) == 0
    def mine():
        recs = [r for r in console_consume(tmp_path, addr, GROUP_FORMATTER)
                if r["key"]["data"]["group"] == g]
        return recs if len(recs) >= 2 else None
    recs = wait_until(mine, 60, interval=1, what="the group's metadata records")
    if kafka_target.kind == "kafka" and recs[0]["value"]["data"]["generation"] == 0:
        # Kafka also writes the group when a JoinGroup creates it; Herald does not.
        assert recs[0]["value"]["data"]["members"] == []
        recs = recs[1:]
    assert [r["key"] for r in recs] == [{"type": 2, "data": {"group": g}}] * len(recs)
    # Herald deletes an empty group without offsets at once (a tombstone follows); Kafka keeps
    # it until its offsets-retention check (docs/kafka-compat.md).
    extra = [r["value"] for r in recs[2:]]
    if kafka_target.kind == "herald":
        assert extra == [None]
    else:  # Kafka may write the Empty state more than once
        for e in extra:
            e["data"].pop("currentStateTimestamp")
        assert extra == [{"version": 3, "data": {"protocolType": "consumer",
                                                  "generation": gen + 1, "protocol": None,
                                                  "leader": None, "members": []}}] * len(extra)
    stable, empty = recs[0]["value"], recs[1]["value"]
    assert stable["version"] == 3 and empty["version"] == 3
    assert stable["data"].pop("currentStateTimestamp") > 0
    assert empty["data"].pop("currentStateTimestamp") > 0
    (m,), = [stable["data"].pop("members")]
    assert stable["data"] == {"protocolType": "consumer", "generation": gen,
                              "protocol": "range", "leader": member}
    assert m == {"memberId": member, "groupInstanceId": None, "clientId": "gm-client",
                 "clientHost": "/127.0.0.1", "rebalanceTimeout": 20000, "sessionTimeout": 10000,
                 "subscription": base64.b64encode(sub).decode(),
                 "assignment": base64.b64encode(b"\x00" * 10).decode()}
    assert empty["data"] == {"protocolType": "consumer", "generation": gen + 1,
                             "protocol": None, "leader": None, "members": []}


def test_writes_to_the_offsets_topic_are_refused(kafka_target):
    addr = kafka_target.addr
    g = unique("co-ro")
    find_coordinator(addr, g)
    md = metadata(addr, [TOPIC])
    assert md[TOPIC][:2] == (0, True) and md[TOPIC][2] >= 1
    assert TOPIC in metadata(addr, None)
    with kr.Conn(addr) as c:
        assert kr.produce(c, TOPIC, 0, kr.record_batch([(b"k", b"v")]))[0] == \
            INVALID_TOPIC_EXCEPTION
        # DeleteRecords v0.
        r = c.request(DELETE_RECORDS, 0, kr.array([kr.string(TOPIC) + kr.array(
            [kr.i32(0) + kr.i64(0)])]) + kr.i32(10000))
        r.i32()
        (_n, ((_p, _low, err),)), = r.array(lambda r: (r.string(), r.array(
            lambda r: (r.i32(), r.i64(), r.i16()))))
        assert err == INVALID_TOPIC_EXCEPTION
    assert create_topic(addr, TOPIC, 1)[0] == TOPIC_ALREADY_EXISTS
    # ListOffsets and Fetch work: the earliest offset of partition 0 is 0 on a fresh topic.
    with kr.Conn(addr) as c:
        assert kr.list_offsets_v1(c, TOPIC, 0, -2)[:1] == (0,)


def test_herald_refuses_deleting_altering_and_growing_it(broker):
    with kr.Conn(broker.addr) as c:
        r = c.request(DELETE_TOPICS, 1, kr.array([TOPIC], kr.string) + kr.i32(10000))
        r.i32()
        assert r.array(lambda r: (r.string(), r.i16())) == [(TOPIC, kr.INVALID_REQUEST)]
        r = c.request(CREATE_PARTITIONS, 0, kr.array([kr.string(TOPIC) + kr.i32(60) +
                                                      kr.i32(-1)]) + kr.i32(10000) + kr.i8(0))
        r.i32()
        assert r.array(lambda r: (r.string(), r.i16(), r.string())) == \
            [(TOPIC, kr.INVALID_REQUEST, "the internal topic __consumer_offsets is read-only")]
        r = c.request(ALTER_CONFIGS, 0, kr.array([kr.i8(2) + kr.string(TOPIC) + kr.array(
            [kr.string("retention.ms") + kr.string("1000")])]) + kr.i8(0))
        r.i32()
        assert r.array(lambda r: (r.i16(), r.string(), r.i8(), r.string())) == \
            [(kr.INVALID_REQUEST, "the internal topic __consumer_offsets is read-only", 2, TOPIC)]
    assert metadata(broker.addr, [TOPIC])[TOPIC] == (0, True, 50)


def test_classic_group_state_survives_a_restart(broker):
    t, g = "co-restart", "co-restart-group"
    assert create_topic(broker.addr, t, 1)[0] == 0
    with kr.Conn(broker.addr) as c:
        gen, member, _sub = join_sync(c, g, t)
        assert commit(broker.addr, g, t, [(0, 0, -1, "m")]) == [25]  # members commit in gen
    broker.stop()
    broker.start()
    with kr.Conn(broker.addr) as c:
        # The member is still known, at its generation, with nothing to rejoin for.
        assert heartbeat(c, g, gen, member) == 0
        assert heartbeat(c, g, gen, "someone-else") == 25
        assert leave(c, g, member) == 0
    assert "group %s: empty at generation %d" % (g, gen + 1) in broker.log_text()
    broker.stop()
    broker.start()
    with kr.Conn(broker.addr) as c:
        assert heartbeat(c, g, gen, member) == 25  # gone: the group was empty, then dropped


# ---- Burrow ----

BURROW_CONFIG = """\
[general]
pidfile="{dir}/burrow.pid"
[logging]
filename="{dir}/burrow.log"
level="info"
[zookeeper]
servers=["127.0.0.1:{zk}"]
timeout=6
root-path="/burrow"
[client-profile.herald]
client-id="burrow"
kafka-version="2.1.0"
[cluster.herald]
class-name="kafka"
servers=["{kafka}"]
client-profile="herald"
topic-refresh=1
offset-refresh=1
[consumer.herald]
class-name="kafka"
cluster="herald"
servers=["{kafka}"]
client-profile="herald"
offsets-topic="__consumer_offsets"
start-latest=false
[httpserver.default]
address="127.0.0.1:{http}"
[storage.default]
class-name="inmemory"
workers=2
intervals=10
expire-group=604800
min-distance=1
"""


def start_java_zookeeper(tmp_path):
    """A standalone ZooKeeper (Debian's), which Burrow needs for its own coordination."""
    jar = Path("/usr/share/java/zookeeper.jar")
    if not jar.exists():
        pytest.fail("ZooKeeper not found: run `make deps` (Debian package zookeeper)",
                    pytrace=False)
    port = free_port()
    d = tmp_path / "zk"
    d.mkdir()
    log = open(tmp_path / "zk.log", "wb")
    p = subprocess.Popen(["java", "-Xmx128m", "-XX:TieredStopAtLevel=1",
                          "-Dzookeeper.admin.enableServer=false",
                          "-Dzookeeper.4lw.commands.whitelist=srvr", "-cp", str(jar),
                          "org.apache.zookeeper.server.ZooKeeperServerMain", str(port), str(d)],
                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_until(lambda: zk_serving(port), 30, interval=0.2, what="ZooKeeper")
    except AssertionError:
        stop(p)
        raise
    return p, port


def zk_serving(port):
    """ZooKeeper accepts connections before it serves sessions: ask it with `srvr`."""
    if not port_open(port):
        return False
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"srvr")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        return b"Mode: standalone" in data
    except OSError:
        return False


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)


def burrow_lag(http, group):
    import urllib.request
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/v3/kafka/herald/consumer/%s/lag" %
                                    (http, group), timeout=5) as r:
            return json.load(r)
    except OSError:
        return None


def test_burrow_reports_a_groups_lag(broker, tmp_path):
    if not shutil.which("Burrow"):
        pytest.fail("Burrow not found: run `make deps` (Debian package burrow)", pytrace=False)
    t, g = "co-burrow", "lagging-group"
    assert create_topic(broker.addr, t, 2)[0] == 0
    produce(broker.addr, t, 0, 10)
    produce(broker.addr, t, 1, 6)
    assert commit(broker.addr, g, t, [(0, 4, -1, ""), (1, 6, -1, "")]) == [0, 0]
    zk, zk_port = start_java_zookeeper(tmp_path)
    burrow = None
    try:
        http = free_port()
        d = tmp_path / "burrow"
        d.mkdir()
        (d / "burrow.toml").write_text(BURROW_CONFIG.format(dir=d, zk=zk_port, kafka=broker.addr,
                                                            http=http))
        out = open(tmp_path / "burrow.out", "wb")
        burrow = subprocess.Popen(["Burrow", "-config-dir", str(d)], stdout=out,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

        def lag():
            doc = burrow_lag(http, g)
            st = doc and doc.get("status")
            if not st or st.get("partition_count") != 2 or len(st.get("partitions", [])) != 2:
                return None
            parts = {p["partition"]: (p["end"]["offset"], p["current_lag"])
                     for p in st["partitions"]}
            return st if parts == {0: (4, 6), 1: (6, 0)} else None
        st = wait_until(lag, 60, interval=0.5, what="Burrow's lag of %s" % g)
        assert st["totallag"] == 6 and st["maxlag"]["partition"] == 0
        assert st["maxlag"]["current_lag"] == 6
        # A later commit moves the lag.
        assert commit(broker.addr, g, t, [(0, 10, -1, "")]) == [0]

        def caught_up():
            doc = burrow_lag(http, g)
            st = doc and doc.get("status")
            return st and st.get("totallag") == 0 and \
                {p["partition"]: p["end"]["offset"] for p in st["partitions"]} == {0: 10, 1: 6}
        wait_until(caught_up, 60, interval=0.5, what="Burrow to see the new commit")
        assert broker.running()
    finally:
        if burrow:
            stop(burrow)
        stop(zk)
