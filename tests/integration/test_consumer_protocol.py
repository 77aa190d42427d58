"""KIP-848 consumer groups on the wire: ConsumerGroupHeartbeat and ConsumerGroupDescribe sent by
hand (kafkaraw), their error codes and epochs, OffsetCommit v9's member-epoch check, ListGroups'
group type, and a hand-driven member that joins beside Apache Kafka's Java consumer, takes its
share of the partitions once the Java member has revoked them, then goes silent: its partitions
return to the Java member only after its session timeout."""
import time

import pytest

import kafkaraw
from kafkaraw import Conn, Reader, i16, i32, uvarint

CGH, CGD, OFFSET_COMMIT, OFFSET_FETCH, LIST_GROUPS, METADATA = 68, 69, 8, 9, 16, 3
UNKNOWN_MEMBER_ID, GROUP_ID_NOT_FOUND, FENCED_MEMBER_EPOCH = 25, 69, 110
UNSUPPORTED_ASSIGNOR, STALE_MEMBER_EPOCH, INVALID_REQUEST = 112, 113, 42
SESSION_S = 3
ARGS = ("--group-consumer-heartbeat-interval-ms", "200",
        "--group-consumer-session-timeout-ms", str(SESSION_S * 1000), "--num-partitions", "3")


def cstr(s):
    """Compact (nullable) string."""
    if s is None:
        return b"\x00"
    b = s.encode()
    return uvarint(len(b) + 1) + b


def carray(items, enc):
    if items is None:
        return b"\x00"
    return uvarint(len(items) + 1) + b"".join(enc(x) for x in items)


def rcstr(r):
    n = r.uvarint() - 1
    return None if n < 0 else r.take(n).decode()


def rcarray(r, fn):
    n = r.uvarint() - 1
    return None if n < 0 else [fn(r) for _ in range(n)]


def skip_tags(r):
    for _ in range(r.uvarint()):
        r.uvarint()
        r.take(r.uvarint())


def flexible_request(conn, key, version, body):
    """Sends a flexible request and returns a Reader past the response header's tag buffer."""
    r = conn.request(key, version, body, flexible=True)
    skip_tags(r)
    return r


def topic_parts(r):
    tid = r.take(16)
    ps = rcarray(r, lambda r: r.i32())
    skip_tags(r)
    return tid, ps


def heartbeat(conn, group, member, epoch, topics=None, owned=None, instance=None,
              assignor=None, rebalance_ms=-1, version=1):
    """owned: {topic_id: [partitions]} or None. Returns (error, member_id, epoch, interval,
    assignment {topic_id: [partitions]} or None)."""
    body = (cstr(group) + cstr(member) + i32(epoch) + cstr(instance) + cstr(None) +
            i32(rebalance_ms) + carray(topics, cstr) +
            (cstr(None) if version >= 1 else b"") + cstr(assignor) +
            carray(None if owned is None else sorted(owned.items()),
                   lambda tp: tp[0] + carray(tp[1], i32) + b"\x00") + b"\x00")
    r = flexible_request(conn, CGH, version, body)
    r.i32()
    err = r.i16()
    rcstr(r)
    mid = rcstr(r)
    ep = r.i32()
    interval = r.i32()
    assignment = None
    if r.i8() >= 0:
        assignment = dict(rcarray(r, topic_parts))
        skip_tags(r)
    skip_tags(r)
    assert r.remaining() == 0
    return err, mid, ep, interval, assignment


def join(conn, group, member, topics, **kw):
    return heartbeat(conn, group, member, 0, topics=topics, owned={}, rebalance_ms=30000, **kw)


def topic_id(conn, name):
    """The topic id from Metadata v12."""
    body = carray([name], lambda n: b"\x00" * 16 + cstr(n) + b"\x00") + b"\x01\x00\x00\x00"
    r = flexible_request(conn, METADATA, 12, body)
    r.i32()
    rcarray(r, lambda r: (r.i32(), rcstr(r), r.i32(), rcstr(r), skip_tags(r)))
    rcstr(r)
    r.i32()

    def topic(r):
        err, tname, tid = r.i16(), rcstr(r), r.take(16)
        r.i8()
        rcarray(r, lambda r: (r.i16(), r.i32(), r.i32(), r.i32(), rcarray(r, Reader.i32),
                              rcarray(r, Reader.i32), rcarray(r, Reader.i32), skip_tags(r)))
        r.i32()
        skip_tags(r)
        return err, tname, tid

    (err, tname, tid), = rcarray(r, topic)
    assert (err, tname) == (0, name) and tid != b"\x00" * 16
    return tid


def commit_v9(conn, group, member, epoch, topic, partition, offset, version=9):
    body = (cstr(group) + i32(epoch) + cstr(member) + cstr(None) +
            carray([topic], lambda t: cstr(t) + carray(
                [partition], lambda p: i32(p) + kafkaraw.i64(offset) + i32(-1) + cstr("") +
                b"\x00") + b"\x00") + b"\x00")
    if version < 8:
        pytest.fail("flexible versions only")
    r = flexible_request(conn, OFFSET_COMMIT, version, body)
    r.i32()
    (name, ((p, err),)), = rcarray(r, lambda r: (rcstr(r), rcarray(
        r, lambda r: (r.i32(), r.i16(), skip_tags(r))[:2]), skip_tags(r))[:2])
    return err


def fetch_v9(conn, group, member, epoch, topic, partitions):
    """OffsetFetch v9 for one group: (group error, {partition: offset})."""
    body = (carray([group], lambda g: cstr(g) + cstr(member) + i32(epoch) + carray(
        [topic], lambda t: cstr(t) + carray(partitions, i32) + b"\x00") + b"\x00") +
        b"\x00" + b"\x00")
    r = flexible_request(conn, OFFSET_FETCH, 9, body)
    r.i32()

    def part(r):
        p, off, _, _, err = r.i32(), r.i64(), r.i32(), rcstr(r), r.i16()
        skip_tags(r)
        assert err == 0
        return p, off

    def grp(r):
        gid = rcstr(r)
        topics = rcarray(r, lambda r: (rcstr(r), rcarray(r, part), skip_tags(r))[:2])
        err = r.i16()
        skip_tags(r)
        return gid, topics, err

    ((gid, topics, err),) = rcarray(r, grp)
    assert gid == group
    return err, {p: o for _, ps in topics for p, o in ps}


def list_groups(conn):
    r = flexible_request(conn, LIST_GROUPS, 5, b"\x01\x01\x00")
    r.i32()
    assert r.i16() == 0
    gs = rcarray(r, lambda r: (rcstr(r), rcstr(r), rcstr(r), rcstr(r), skip_tags(r))[:4])
    return {g[0]: g[1:] for g in gs}


def describe(conn, group):
    r = flexible_request(conn, CGD, 0, carray([group], cstr) + b"\x00" + b"\x00")
    r.i32()

    def assignment(r):
        tps = rcarray(r, lambda r: (r.take(16), rcstr(r), rcarray(r, Reader.i32),
                                    skip_tags(r))[:3])
        skip_tags(r)
        return tps

    def member(r):
        m = {"id": rcstr(r), "instance": rcstr(r), "rack": rcstr(r), "epoch": r.i32(),
             "client": rcstr(r), "host": rcstr(r), "topics": rcarray(r, rcstr),
             "regex": rcstr(r), "assigned": assignment(r), "target": assignment(r)}
        skip_tags(r)
        return m

    def grp(r):
        g = {"error": r.i16(), "message": rcstr(r), "id": rcstr(r), "state": rcstr(r),
             "epoch": r.i32(), "assignment_epoch": r.i32(), "assignor": rcstr(r),
             "members": rcarray(r, member), "ops": r.i32()}
        skip_tags(r)
        return g

    (g,) = rcarray(r, grp)
    return g


def test_heartbeat_on_the_wire(broker_factory):
    broker = broker_factory(*ARGS)
    with Conn(broker.addr) as c:
        kafkaraw.metadata_v1(c, ["wire"])  # auto-creates it, with 3 partitions
        tid = topic_id(c, "wire")

        # v0 join without a member id: Herald makes one; the answer carries everything.
        err, mid, ep, interval, asg = join(c, "wg", "", ["wire"], version=0)
        assert (err, ep, interval) == (0, 1, 200) and len(mid) == 22
        parts = asg[tid]
        assert parts == [0, 1, 2]
        # Unchanged: no assignment in the answer.
        assert heartbeat(c, "wg", mid, 1, owned={tid: parts}) == (0, mid, 1, 200, None)
        # Wrong epochs, unknown members, bad requests.
        # An error answer has a null member id, as Kafka's.
        assert heartbeat(c, "wg", mid, 5)[:2] == (FENCED_MEMBER_EPOCH, None)
        assert heartbeat(c, "wg", "who", 1)[:2] == (UNKNOWN_MEMBER_ID, None)
        assert join(c, "wg2", "m", ["wire"], assignor="best")[0] == UNSUPPORTED_ASSIGNOR
        assert heartbeat(c, "wg", mid, 0, topics=["wire"], owned={}, rebalance_ms=-1)[0] == \
            INVALID_REQUEST
        # v1: a client-made id; its partitions are still the first member's.
        err, mid2, ep2, _, asg2 = join(c, "wg", "client-made-id-2", ["wire"])
        assert (err, mid2, ep2, asg2) == (0, "client-made-id-2", 2, {})

        # OffsetCommit v9 carries the member epoch.
        assert commit_v9(c, "wg", mid, 1, "wire", 0, 7) == 0
        assert commit_v9(c, "wg", mid, 0, "wire", 0, 7) == STALE_MEMBER_EPOCH
        assert commit_v9(c, "wg", mid, 1, "wire", 0, 7, version=8) == kafkaraw.UNSUPPORTED_VERSION
        assert commit_v9(c, "wg", "x", 1, "wire", 0, 7) == UNKNOWN_MEMBER_ID
        # OffsetFetch v9 checks the member epoch too; an admin tool (no member, -1) may read.
        assert fetch_v9(c, "wg", mid, 1, "wire", [0, 1]) == (0, {0: 7, 1: -1})
        assert fetch_v9(c, "wg", mid, 0, "wire", [0])[0] == STALE_MEMBER_EPOCH
        assert fetch_v9(c, "wg", "x", 1, "wire", [0])[0] == UNKNOWN_MEMBER_ID
        assert fetch_v9(c, "wg", None, -1, "wire", [0]) == (0, {0: 7})

        assert list_groups(c)["wg"] == ("consumer", "Reconciling", "consumer")
        d = describe(c, "wg")
        assert (d["error"], d["state"], d["epoch"], d["assignment_epoch"], d["assignor"]) == \
            (0, "Reconciling", 2, 2, "uniform")
        ms = {m["id"]: m for m in d["members"]}
        assert ms[mid]["epoch"] == 1 and ms[mid]["topics"] == ["wire"]
        assert ms[mid]["host"] == "/127.0.0.1" and ms[mid]["client"] == "herald-it"
        assert ms[mid]["assigned"] == [(tid, "wire", parts)]
        assert describe(c, "nope")["error"] == GROUP_ID_NOT_FOUND

        # Leaving: the other member gets everything once it asks.
        assert heartbeat(c, "wg", mid, -1)[:3] == (0, mid, -1)
        err, _, ep, _, asg = heartbeat(c, "wg", mid2, 2, owned={})
        assert err == 0 and asg[tid] == parts and ep == 3


def test_silent_member_loses_its_partitions_to_java(java_driver, broker_factory):
    """A hand-driven member beside a Java consumer: partitions reach it only after the Java
    member revoked them, and come back only once its session has expired."""
    java = java_driver
    broker = broker_factory(*ARGS)
    java.ok("admin", broker.addr, "create-topic", "mix", 4)
    java.ok("group-open", "j", broker.addr, "mixg", "mix", 1, "consumer")
    w = java.ok("group-wait", "j", 4, 30000, timeout=45)
    assert w["assignments"] == [[0, 1, 2, 3]]
    with Conn(broker.addr) as c:
        tid = topic_id(c, "mix")
        err, mid, ep, _, asg = join(c, "mixg", "raw-member", ["mix"])
        assert err == 0 and asg == {}, "the Java member still owns everything"
        owned, deadline, revoked = [], time.monotonic() + 20, set()
        while len(owned) < 2 and time.monotonic() < deadline:
            out = java.ok("group-poll", "j", 1, 150)  # polls: the Java member revokes in poll()
            revoked |= {p for e in out["events"] if e[1] == "revoked" for p in e[2]}
            err, _, ep, _, asg = heartbeat(c, "mixg", mid, ep, owned={tid: owned})
            assert err == 0
            if asg is not None:
                owned = asg.get(tid, [])
                # Handed over only after the Java member's revocation callback ran.
                assert set(owned) <= revoked, (owned, revoked)
            time.sleep(0.1)
        assert len(owned) == 2, owned
        out = java.ok("group-poll", "j", 1, 150)
        java_parts = out["assignments"][0]
        assert sorted(java_parts + owned) == [0, 1, 2, 3]
        # The raw member goes silent; the Java member gets its partitions after the session.
        t0 = time.monotonic()
        w = java.ok("group-wait", "j", 4, 30000, timeout=45)
        assert time.monotonic() - t0 >= SESSION_S - 1
        assert w["assignments"] == [[0, 1, 2, 3]]
        assert heartbeat(c, "mixg", mid, ep, owned={tid: owned})[0] == UNKNOWN_MEMBER_ID
    java.ok("group-close", "j")


@pytest.fixture(scope="module")
def java_driver(tmp_path_factory):
    from compat import JavaDriver
    d = JavaDriver(tmp_path_factory.mktemp("java") / "driver.log")
    yield d
    d.close()
