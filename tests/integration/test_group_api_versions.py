"""The group APIs at the versions Kafka 4.4 answers, and requests for versions a broker does not
serve, sent by hand (kafkaraw) to herald and to Apache Kafka (kafka_target) with the same
assertions: DescribeGroups v0-6 (v6: GROUP_ID_NOT_FOUND and an ErrorMessage for unknown and
consumer-protocol groups, KIP-1043), DeleteGroups v0-3, ConsumerGroupDescribe v0-1 (v1: the
member type, KIP-1099), ListGroups' filters; ApiVersions at an unsupported version (the v0-format
UNSUPPORTED_VERSION answer that lists ApiVersions' own range, KIP-511) and any other API at an
unsupported version or an unknown key (the connection is closed, and herald logs what it was)."""
import time

import pytest

import kafkaraw
from conftest import unique
from kafkaraw import Conn, array, i16, i32, i64, string, uvarint
from test_consumer_protocol import carray, cstr, heartbeat, rcarray, rcstr, skip_tags

DESCRIBE_GROUPS, LIST_GROUPS, DELETE_GROUPS, CGD, FIND_COORDINATOR = 15, 16, 42, 69, 10
GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP, INVALID_GROUP_ID = 69, 68, 24
ALL_GROUP_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8) | (1 << 10) | (1 << 11)


def coordinator_ready(addr, group):
    """Kafka creates __consumer_offsets on the first FindCoordinator; wait until it answers, and
    until ListGroups does (every partition of it is loaded, so any group id has a coordinator)."""
    deadline = time.monotonic() + 30
    while True:
        with Conn(addr) as c:
            r = c.request(FIND_COORDINATOR, 0, string(group))
            ok = r.i16() == 0
            if ok:
                ok = c.request(LIST_GROUPS, 0, b"").i16() == 0
        if ok:
            return
        assert time.monotonic() < deadline, "no coordinator for %s" % group
        time.sleep(0.3)


def join_consumer_group(conn, group, member, topic):
    """A consumer-protocol member joins (retried while Kafka still loads its coordinator)."""
    deadline = time.monotonic() + 30
    while True:
        err = heartbeat(conn, group, member, 0, topics=[topic], owned={}, rebalance_ms=30000)[0]
        if err not in (14, 15, 16) or time.monotonic() > deadline:
            return err
        time.sleep(0.3)


def describe_groups(addr, version, groups, ops=False):
    """[(error, message, group id, state, protocol type, protocol data, members, operations)]."""
    flex = version >= 5
    with Conn(addr) as c:
        if flex:
            body = carray(groups, cstr) + (b"\x01" if ops else b"\x00") + b"\x00"
            r = c.request(DESCRIBE_GROUPS, version, body, flexible=True)
            skip_tags(r)
        else:
            body = array(groups, string) + ((b"\x01" if ops else b"\x00") if version >= 3 else b"")
            r = c.request(DESCRIBE_GROUPS, version, body)
        if version >= 1:
            r.i32()
        s = rcstr if flex else kafkaraw.Reader.string

        def member(r):
            m = (s(r), s(r) if version >= 4 else None, s(r), s(r))
            (r.take(r.uvarint() - 1) if flex else r.bytes())
            (r.take(r.uvarint() - 1) if flex else r.bytes())
            if flex:
                skip_tags(r)
            return m

        def group(r):
            err = r.i16()
            msg = rcstr(r) if version >= 6 else None
            g = (err, msg, s(r), s(r), s(r), s(r),
                 rcarray(r, member) if flex else r.array(member),
                 r.i32() if version >= 3 else None)
            if flex:
                skip_tags(r)
            return g

        out = rcarray(r, group) if flex else r.array(group)
        assert r.remaining() == (1 if flex else 0)
        return out


def test_describe_groups_each_version(kafka_target):
    a = kafka_target.addr
    topic, classic, consumer = unique("dg-t"), unique("dg-classic"), unique("dg-consumer")
    nope = unique("dg-nope")
    coordinator_ready(a, classic)
    with Conn(a) as c:
        kafkaraw.metadata_v1(c, [topic])
    time.sleep(1)  # Kafka makes the auto-created topic's partition ready
    with Conn(a) as c:
        # An Empty classic group: only a commit (OffsetCommit v2, a "simple consumer").
        body = (string(classic) + i32(-1) + string("") + i64(-1) +
                array([string(topic) + array([i32(0) + i64(5) + string("m")])]))
        deadline = time.monotonic() + 20
        while True:
            r = c.request(8, 2, body)
            (_, ((_, err),)), = r.array(lambda r: (r.string(), r.array(
                lambda r: (r.i32(), r.i16()))))
            if err == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert err == 0
        # A consumer-protocol group with one member.
        member = "m-" + consumer + "-0123456789"
        assert join_consumer_group(c, consumer, member, topic) == 0

    for v in range(0, 7):
        got = describe_groups(a, v, [classic, nope, consumer, ""], ops=v >= 3)
        ops = ALL_GROUP_OPERATIONS if v >= 3 else None
        empty = (0, None, classic, "Empty", "", "", [], ops)
        if v < 6:
            want = [empty, (0, None, nope, "Dead", "", "", [], ops),
                    (0, None, consumer, "Dead", "", "", [], ops),
                    (0, None, "", "Dead", "", "", [], ops)]
        else:
            want = [empty,
                    (GROUP_ID_NOT_FOUND, "Group %s not found." % nope, nope, "Dead", "", "",
                     [], -2 ** 31),
                    (GROUP_ID_NOT_FOUND, "Group %s is not a classic group." % consumer,
                     consumer, "Dead", "", "", [], -2 ** 31),
                    (GROUP_ID_NOT_FOUND, "Group  not found.", "", "Dead", "", "", [],
                     -2 ** 31)]
        # Kafka answers in the order of its coordinator partitions, not the request's.
        assert sorted(got, key=lambda g: g[2]) == sorted(want, key=lambda g: g[2]), v
        if v < 3:
            assert [g[7] for g in got] == [None] * 4

    # ConsumerGroupDescribe v0-1: the classic group is not a consumer group; v1 adds MemberType.
    for v in (0, 1):
        with Conn(a) as c:
            r = c.request(CGD, v, carray([classic, nope, "", consumer], cstr) + b"\x01\x00",
                          flexible=True)
        skip_tags(r)
        r.i32()
        groups = []
        for _ in range(r.uvarint() - 1):
            err, msg, gid, state = r.i16(), rcstr(r), rcstr(r), rcstr(r)
            r.i32()
            r.i32()
            rcstr(r)

            def mem(r):
                mid = rcstr(r)
                rcstr(r)
                rcstr(r)
                r.i32()
                rcstr(r)
                rcstr(r)
                topics = rcarray(r, rcstr)
                regex = rcstr(r)
                for _ in range(2):
                    rcarray(r, lambda r: (r.take(16), rcstr(r), rcarray(r, kafkaraw.Reader.i32),
                                          skip_tags(r)))
                    skip_tags(r)
                mtype = r.i8() if v >= 1 else None
                skip_tags(r)
                return mid, topics, regex, mtype

            members = rcarray(r, mem)
            ops = r.i32()
            skip_tags(r)
            groups.append((err, msg, gid, state, members, ops))
        groups.sort(key=lambda g: (g[2] != classic, g[2] != nope, g[2] != "", g[2]))
        assert groups[:3] == [
            (GROUP_ID_NOT_FOUND, "Group %s is not a consumer group." % classic, classic, "", [],
             -2 ** 31),
            (GROUP_ID_NOT_FOUND, "Group %s not found." % nope, nope, "", [], -2 ** 31),
            (INVALID_GROUP_ID, None, "", "", [], -2 ** 31)], v
        err, msg, gid, state, members, ops = groups[3]
        assert (err, msg, gid, ops) == (0, None, consumer, ALL_GROUP_OPERATIONS)
        assert members == [(member, [topic], "", 1 if v >= 1 else None)]


def test_delete_groups_each_version(kafka_target):
    a = kafka_target.addr
    topic, busy = unique("del-t"), unique("del-busy")
    coordinator_ready(a, busy)
    with Conn(a) as c:
        kafkaraw.metadata_v1(c, [topic])
        assert join_consumer_group(c, busy, "m-" + busy + "-0123456789", topic) == 0
    for v in range(0, 4):
        nope = unique("del-nope")
        with Conn(a) as c:
            if v >= 2:
                r = c.request(DELETE_GROUPS, v, carray([nope, busy, ""], cstr) + b"\x00",
                              flexible=True)
                skip_tags(r)
            else:
                r = c.request(DELETE_GROUPS, v, array([nope, busy, ""], string))
            r.i32()
            n = r.uvarint() - 1 if v >= 2 else r.i32()
            got = {}
            for _ in range(n):
                gid = rcstr(r) if v >= 2 else r.string()
                err = r.i16()
                msg = rcstr(r) if v >= 3 else None
                if v >= 2:
                    skip_tags(r)
                got[gid] = (err, msg)
        assert got == {nope: (GROUP_ID_NOT_FOUND, None), busy: (NON_EMPTY_GROUP, None),
                       "": (GROUP_ID_NOT_FOUND, None)}, v


def test_list_groups_filters_ignore_case(kafka_target):
    a = kafka_target.addr
    topic, group = unique("lg-t"), unique("lg-consumer")
    coordinator_ready(a, group)
    with Conn(a) as c:
        kafkaraw.metadata_v1(c, [topic])
        assert join_consumer_group(c, group, "m-" + group + "-0123456789", topic) == 0

    def listed(states, types):
        # Kafka answers NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS until every partition of
        # a new __consumer_offsets is loaded.
        deadline = time.monotonic() + 30
        while True:
            with Conn(a) as c:
                r = c.request(LIST_GROUPS, 5, carray(states, cstr) + carray(types, cstr) +
                              b"\x00", flexible=True)
            skip_tags(r)
            r.i32()
            err = r.i16()
            if err == 0:
                break
            assert err in (14, 16) and time.monotonic() < deadline, err
            time.sleep(0.3)
        gs = rcarray(r, lambda r: (rcstr(r), rcstr(r), rcstr(r), rcstr(r), skip_tags(r))[:4])
        return {g[0]: g[1:] for g in gs if g[0] == group}

    want = {group: ("consumer", "Stable", "consumer")}
    assert listed([], []) == want
    assert listed(["STABLE"], ["Consumer"]) == want
    assert listed(["stable", "empty"], []) == want
    assert listed([], ["classic"]) == {}
    assert listed(["Empty"], []) == {}


def apiversions_raw(addr, version, body=b"", flexible=False):
    with Conn(addr) as c:
        c.send(18, version, body, flexible)
        _, r = c.recv()
        err = r.i16()
        keys = r.array(lambda r: (r.i16(), r.i16(), r.i16()))
        return err, keys, r.remaining()


@pytest.mark.parametrize("version", [-1, 99, 32767])
def test_apiversions_at_an_unsupported_version(kafka_target, version):
    """v0 body whatever the version: UNSUPPORTED_VERSION and only ApiVersions' own range, no
    throttle time; the client then retries with that version."""
    flexible = version >= 3
    body = (cstr("herald-it") + cstr("1.0") + b"\x00") if flexible else b""
    err, keys, left = apiversions_raw(kafka_target.addr, version, body, flexible)
    assert err == kafkaraw.UNSUPPORTED_VERSION and left == 0
    ((key, lo, hi),) = keys
    assert (key, lo) == (18, 0) and hi >= 3
    # The connection stays usable: the version it names works.
    with Conn(kafka_target.addr) as c:
        assert kafkaraw.api_versions(c, 0)[0] == 0


@pytest.mark.parametrize("key,version,what", [
    (3, 99, "unsupported version 99 of Metadata"),
    (3, -1, "unsupported version -1 of Metadata"),
    (15, 7, "unsupported version 7 of DescribeGroups"),
    (8, 11, "unsupported version 11 of OffsetCommit"),
    (58, 0, "unsupported API Envelope (key 58"),
    (999, 0, "unknown API key 999"),
])
def test_unsupported_version_closes_the_connection(kafka_target, key, version, what):
    with Conn(kafka_target.addr) as c:
        c.send(key, version, b"\x00" * 16)
        assert c.closed_by_peer()
    if kafka_target.kind == "herald":
        assert what in kafka_target.log_text()
        if key != 999:
            assert "unknown API key %d" % key not in kafka_target.log_text()
