"""Share groups (KIP-932) with Apache Kafka's own KafkaShareConsumer (kafka-clients 4.x,
tests/java) against the real herald: a share group is the subscription share.<group>.<topic>
(docs/queues.md), so records go one at a time to the group's members, come back when released
or when their acquisition lock expires, and go to the subscription's dead-letter topic when
rejected or delivered too often."""
import time

import kafkaraw
import pytest
import requests

from compat import JavaDriver
from conftest import wait_until

T = 10  # seconds, for every HTTP call


@pytest.fixture(scope="module")
def java(tmp_path_factory):
    d = JavaDriver(tmp_path_factory.mktemp("java") / "driver.log")
    yield d
    d.close()


def mk_topic(b, name, partitions=1):
    r = requests.post(b.http + "/topics", json={"name": name, "partitions": partitions},
                      timeout=T)
    assert r.status_code == 201, r.text


def produce(b, topic, values, partitions=1):
    """Record i goes to partition i % partitions with key k-i; returns {value: (p, offset)}."""
    recs = [{"key": "k-%d" % i, "value": v, "partition": i % partitions}
            for i, v in enumerate(values)]
    r = requests.post(b.http + "/topics/%s/records" % topic, json={"records": recs}, timeout=T)
    assert r.status_code == 200, r.text
    offs = r.json()["offsets"]
    return {v: (o["partition"], o["offset"]) for v, o in zip(values, offs)}


def read_records(b, topic):
    r = requests.get(b.http + "/topics/%s/records" % topic,
                     params={"partition": 0, "offset": 0, "limit": 100}, timeout=T)
    assert r.status_code == 200, r.text
    return r.json()["records"]


def sub_stats(b, name):
    r = requests.get(b.http + "/subscriptions/" + name, timeout=T)
    assert r.status_code == 200, r.text
    return r.json()


def poll_all(java, name, member, action, want, timeout=20.0):
    """Polls member until `want` records came (each acknowledged per action)."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        out = java.ok("share-poll", name, member, 2000, action)
        assert all(e is None for e in out["commit"].values()), out["commit"]
        got += out["records"]
    return got


def test_accept_shares_records_between_two_members(java, broker_factory):
    b = broker_factory("--group-share-start-earliest", "true")
    mk_topic(b, "sg-orders", 3)
    values = ["order-%d" % i for i in range(300)]
    where = produce(b, "sg-orders", values, 3)
    java.ok("share-open", "two", b.addr, "workers", "sg-orders", 2)
    got = []
    deadline = time.monotonic() + 40
    while len(got) < 300 and time.monotonic() < deadline:
        for m in (0, 1):
            out = java.ok("share-poll", "two", m, 1000, "accept")
            assert all(e is None for e in out["commit"].values()), out["commit"]
            got += [dict(r, m=m) for r in out["records"]]
    d = java.ok("share-describe", b.addr, "workers")
    assert (d["state"], len(d["members"])) == ("Stable", 2)
    assert sorted(m["client"] for m in d["members"]) == ["two-0", "two-1"]
    for m in d["members"]:
        assert m["assignment"] == ["sg-orders-0", "sg-orders-1", "sg-orders-2"]
        assert m["host"] == "/127.0.0.1" and m["epoch"] >= 1
    assert d["listed"] == [{"id": "workers", "type": "Share", "protocol": "share",
                            "state": "Stable"}]
    java.ok("share-close", "two")
    # Once they left the group is empty (and stays listed).
    d = java.ok("share-describe", b.addr, "workers")
    assert (d["state"], d["members"]) == ("Empty", [])
    # Both members took part (a fetch hands out at most max.poll.records = 100) and no record
    # went to both: every record exactly once, with its key, where it was written, on its first delivery.
    assert sorted(r["v"] for r in got) == sorted(values)
    assert {r["m"] for r in got} == {0, 1}
    for r in got:
        assert (r["p"], r["o"]) == where[r["v"]]
        assert r["k"] == "k-%d" % values.index(r["v"])
        assert r["dc"] == 1
    st = sub_stats(b, "share.workers.sg-orders")
    assert st["topic"] == "sg-orders"
    assert st["stats"]["backlog"] == 0 and st["stats"]["in_flight"] == 0


def test_held_records_are_not_given_to_another_member_until_released(java, broker_factory):
    b = broker_factory("--group-share-start-earliest", "true")
    mk_topic(b, "sg-rel", 1)
    values = ["r-%d" % i for i in range(10)]
    where = produce(b, "sg-rel", values)
    java.ok("share-open", "rel", b.addr, "relg", "sg-rel", 2)
    first = java.ok("share-poll", "rel", 0, 10000, "none")["records"]
    assert sorted(r["v"] for r in first) == sorted(values)
    # One partition, all of it held by member 0: member 1 gets nothing meanwhile.
    assert java.ok("share-poll", "rel", 1, 3000, "accept")["records"] == []
    assert sub_stats(b, "share.relg.sg-rel")["stats"]["in_flight"] == 10
    # Member 0 leaves: what it held is released and goes to member 1, second delivery.
    java.ok("share-close", "rel", 0)
    again = poll_all(java, "rel", 1, "accept", 10)
    assert sorted(r["v"] for r in again) == sorted(values)
    assert all(r["dc"] == 2 and (r["p"], r["o"]) == where[r["v"]] for r in again)
    java.ok("share-close", "rel")
    wait_until(lambda: sub_stats(b, "share.relg.sg-rel")["stats"]["backlog"] == 0, 10,
               what="backlog 0")


def test_release_redelivers_and_the_limit_dead_letters(java, broker_factory):
    b = broker_factory("--group-share-start-earliest", "true",
                       "--group-share-delivery-count-limit", "3")
    mk_topic(b, "sg-lim", 1)
    values = ["ok-1", "flaky", "ok-2"]
    where = produce(b, "sg-lim", values)
    java.ok("share-open", "lim", b.addr, "limg", "sg-lim", 1)
    seen = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        out = java.ok("share-poll", "lim", 0, 1500, "accept,release-if=flaky")
        assert all(e is None for e in out["commit"].values()), out["commit"]
        seen += out["records"]
        if [r["dc"] for r in seen if r["v"] == "flaky"] == [1, 2, 3]:
            break
    # The released record came back with a growing delivery count, the others once; after
    # the third release (the limit) it is not delivered again but dead-lettered.
    assert sorted(r["v"] for r in seen if r["v"] != "flaky") == ["ok-1", "ok-2"]
    assert [r["dc"] for r in seen if r["v"] == "flaky"] == [1, 2, 3]
    assert java.ok("share-poll", "lim", 0, 2000, "accept")["records"] == []
    java.ok("share-close", "lim")
    st = sub_stats(b, "share.limg.sg-lim")
    assert st["dead_letter_topic"] == "share.limg.sg-lim-dlq"
    wait_until(lambda: sub_stats(b, "share.limg.sg-lim")["stats"]["dead_lettered"] == 1, 10,
               what="one dead letter")
    dl = read_records(b, "share.limg.sg-lim-dlq")
    assert len(dl) == 1 and dl[0]["value"] == "flaky" and dl[0]["key"] == "k-1"
    h = dl[0]["headers"]
    assert h["herald-dlq-topic"] == "sg-lim"
    assert h["herald-dlq-offset"] == str(where["flaky"][1])
    assert h["herald-dlq-delivery-count"] == "3"
    assert h["herald-dlq-subscription"] == "share.limg.sg-lim"


def test_reject_goes_to_the_dead_letter_topic_at_once(java, broker_factory):
    b = broker_factory("--group-share-start-earliest", "true")
    mk_topic(b, "sg-rej", 2)
    values = ["good-%d" % i for i in range(8)] + ["poison"]
    produce(b, "sg-rej", values, 2)
    java.ok("share-open", "rej", b.addr, "rejg", "sg-rej", 1)
    got = poll_all(java, "rej", 0, "accept,reject-if=poison", 9)
    assert sorted(r["v"] for r in got) == sorted(values)
    assert all(r["dc"] == 1 for r in got)
    assert java.ok("share-poll", "rej", 0, 2000, "accept")["records"] == []
    java.ok("share-close", "rej")
    wait_until(lambda: sub_stats(b, "share.rejg.sg-rej")["stats"]["dead_lettered"] == 1, 10,
               what="one dead letter")
    dl = read_records(b, "share.rejg.sg-rej-dlq")
    assert [r["value"] for r in dl] == ["poison"]
    h = dl[0]["headers"]
    assert h["herald-dlq-delivery-count"] == "1"
    assert h["herald-dlq-error"] == "rejected by a share consumer"
    assert sub_stats(b, "share.rejg.sg-rej")["stats"]["backlog"] == 0


def test_expired_acquisition_lock_redelivers_to_another_member(java, broker_factory):
    b = broker_factory("--group-share-start-earliest", "true",
                       "--group-share-record-lock-duration-ms", "3000")
    mk_topic(b, "sg-lock", 1)
    values = ["l-%d" % i for i in range(5)]
    produce(b, "sg-lock", values)
    java.ok("share-open", "lock", b.addr, "lockg", "sg-lock", 2)
    held = java.ok("share-poll", "lock", 0, 10000, "none")["records"]
    assert sorted(r["v"] for r in held) == sorted(values)
    t0 = time.monotonic()
    # Member 0 keeps them without acknowledging; once the 3 s lock expires member 1 gets them.
    again = poll_all(java, "lock", 1, "accept", 5, timeout=15)
    assert time.monotonic() - t0 >= 2.0
    assert sorted(r["v"] for r in again) == sorted(values)
    assert all(r["dc"] == 2 for r in again)
    java.ok("share-close", "lock")
    st = sub_stats(b, "share.lockg.sg-lock")
    assert st["stats"]["backlog"] == 0 and st["ack_timeout_ms"] == 3000


def test_http_workers_and_share_consumers_use_one_subscription(java, broker_factory):
    b = broker_factory()
    mk_topic(b, "sg-mixed", 1)
    # Made over HTTP under the group's name, starting at the earliest offset.
    r = requests.post(b.http + "/subscriptions",
                      json={"name": "share.mixg.sg-mixed", "topic": "sg-mixed",
                            "ack_timeout_ms": 30000, "max_deliveries": 5, "start": "earliest"},
                      timeout=T)
    assert r.status_code == 201, r.text
    values = ["x-%d" % i for i in range(20)]
    produce(b, "sg-mixed", values)
    r = requests.post(b.http + "/subscriptions/share.mixg.sg-mixed/receive",
                      json={"max": 5, "wait_ms": 2000}, timeout=T)
    assert r.status_code == 200, r.text
    http_got = r.json()["messages"]
    assert len(http_got) == 5
    java.ok("share-open", "mix", b.addr, "mixg", "sg-mixed", 1)
    kafka_got = poll_all(java, "mix", 0, "accept", 15)
    java.ok("share-close", "mix")
    # The HTTP worker holds 5; the share consumer got exactly the other 15.
    assert sorted([m["value"] for m in http_got] + [x["v"] for x in kafka_got]) == \
        sorted(values)
    r = requests.post(b.http + "/subscriptions/share.mixg.sg-mixed/ack",
                      json={"receipts": [m["receipt"] for m in http_got]}, timeout=T)
    assert r.status_code == 200, r.text
    assert sub_stats(b, "share.mixg.sg-mixed")["stats"]["backlog"] == 0


def cstr(s):
    """A compact (flexible) nullable string."""
    if s is None:
        return kafkaraw.uvarint(0)
    b = s.encode()
    return kafkaraw.uvarint(len(b) + 1) + b


def carr(items, enc):
    return kafkaraw.uvarint(len(items) + 1) + b"".join(enc(x) for x in items)


def rstr(r):
    n = r.uvarint()
    return None if n == 0 else r.take(n - 1).decode()


def heartbeat(c, group, member, epoch, topics):
    body = cstr(group) + cstr(member) + kafkaraw.i32(epoch) + cstr(None)
    body += kafkaraw.uvarint(0) if topics is None else carr(topics, cstr)
    r = c.request(76, 1, body + b"\x00", flexible=True)
    r.uvarint()  # response header tags
    r.i32()  # throttle
    err, msg, mid, epoch, interval = r.i16(), rstr(r), rstr(r), r.i32(), r.i32()
    asg = None
    if r.i8() == 1:
        asg = {}
        for _ in range(r.uvarint() - 1):
            tid = r.take(16)
            asg[tid] = [r.i32() for _ in range(r.uvarint() - 1)]
            r.uvarint()
        r.uvarint()
    return err, msg, mid, epoch, interval, asg


def share_fetch(c, group, member, session_epoch, topics=(), wait_ms=0, full=False):
    """ShareFetch v1 of topics {topic id: [partitions]}; returns the top-level error, or with
    full (error, {(partition, offset): delivery count} of the acquired records,
    {(topic id, partition): error} of the partitions with one)."""
    def part(p):
        return kafkaraw.i32(p) + carr([], None) + b"\x00"

    def topic(t):
        return t[0] + carr(t[1], part) + b"\x00"

    body = cstr(group) + cstr(member) + kafkaraw.i32(session_epoch) + kafkaraw.i32(wait_ms) + \
        kafkaraw.i32(1) + kafkaraw.i32(1 << 20) + kafkaraw.i32(100) + kafkaraw.i32(100) + \
        carr(list(dict(topics).items()), topic) + carr([], None) + b"\x00"
    r = c.request(78, 1, body, flexible=True)
    r.uvarint()
    r.i32()
    err = r.i16()
    if not full:
        return err
    rstr(r)
    r.i32()
    acquired, errs = {}, {}
    for _ in range(r.uvarint() - 1):
        tid = r.take(16)
        for _ in range(r.uvarint() - 1):
            p = r.i32()
            perr, _, aerr, _ = r.i16(), rstr(r), r.i16(), rstr(r)
            if perr or aerr:
                errs[(tid, p)] = (perr, aerr)
            r.i32(), r.i32(), r.uvarint()  # leader, its tags
            n = r.uvarint()
            if n > 1:
                r.take(n - 1)
            for _ in range(r.uvarint() - 1):
                first, last, dc = r.i64(), r.i64(), r.i16()
                r.uvarint()
                for o in range(first, last + 1):
                    acquired[(p, o)] = dc
            r.uvarint()
        r.uvarint()
    return err, acquired, errs


def share_ack(c, group, member, session_epoch, tid, partition, first, last, types):
    """ShareAcknowledge v1 of one batch; returns (top-level error, partition error)."""
    batch = kafkaraw.i64(first) + kafkaraw.i64(last) + carr(types, kafkaraw.i8) + b"\x00"
    part = kafkaraw.i32(partition) + carr([batch], lambda x: x) + b"\x00"
    topic = tid + carr([part], lambda x: x) + b"\x00"
    body = cstr(group) + cstr(member) + kafkaraw.i32(session_epoch) + \
        carr([topic], lambda x: x) + b"\x00"
    r = c.request(79, 1, body, flexible=True)
    r.uvarint()
    r.i32()
    err = r.i16()
    rstr(r)
    perr = None
    for _ in range(r.uvarint() - 1):
        r.take(16)
        for _ in range(r.uvarint() - 1):
            r.i32()
            perr = r.i16()
            rstr(r)
            r.i32(), r.i32(), r.uvarint()
            r.uvarint()
        r.uvarint()
    return err, perr


def test_share_wire_heartbeat_fetch_and_describe(broker_factory):
    b = broker_factory()
    mk_topic(b, "sg-wire", 2)
    with kafkaraw.Conn(b.addr) as c:
        err, versions = kafkaraw.api_versions(c)
        assert err == 0
        for key in (76, 77, 78, 79):
            assert versions[key] == (1, 1)
        # Joining: epoch 1, every partition of the topic, as a topic id.
        err, msg, mid, epoch, interval, asg = heartbeat(c, "wg", "m-1", 0, ["sg-wire"])
        assert (err, mid, epoch, interval) == (0, "m-1", 1, 5000)
        assert list(asg.values()) == [[0, 1]]
        # Same epoch, nothing changed: no assignment sent.
        err, _, _, epoch, _, asg = heartbeat(c, "wg", "m-1", 1, None)
        assert (err, epoch, asg) == (0, 1, None)
        # A second topic appears in the subscription: epoch 2 with both topics.
        mk_topic(b, "sg-wire2", 1)
        err, _, _, epoch, _, asg = heartbeat(c, "wg", "m-1", 1, ["sg-wire", "sg-wire2"])
        assert (err, epoch) == (0, 2) and sorted(asg.values()) == [[0], [0, 1]]
        # Errors: unknown member, bad group id, missing member id.
        assert heartbeat(c, "wg", "nobody", 3, None)[0] == 25
        assert heartbeat(c, "bad group!", "m-1", 0, ["sg-wire"])[0] == 42
        assert heartbeat(c, "wg", "", 0, ["sg-wire"])[0] == 42
        # Share sessions: unknown member, no session yet, wrong epoch, then a good sequence.
        assert share_fetch(c, "wg", "nobody", 0) == 25
        assert share_fetch(c, "wg", "m-1", 1) == 122
        assert share_fetch(c, "wg", "m-1", 0) == 0
        assert share_fetch(c, "wg", "m-1", 5) == 123
        assert share_fetch(c, "wg", "m-1", 1) == 0
        assert share_fetch(c, "wg", "m-1", 2) == 0
        # Partitions of unknown topics, or beyond a topic's partitions, answer an error each.
        tid = next(iter(asg))
        nobody = bytes(range(16))
        err, acquired, errs = share_fetch(c, "wg", "m-1", 3, {tid: [0, 7], nobody: [0]},
                                          full=True)
        assert (err, acquired) == (0, {})
        assert errs == {(tid, 7): (3, 0), (nobody, 0): (100, 0)}
        # Acknowledging records this member does not hold: INVALID_RECORD_STATE; a bad type or
        # a types array that fits neither the range nor one type: INVALID_REQUEST.
        assert share_ack(c, "wg", "m-1", 4, tid, 0, 0, 4, [1]) == (0, 121)
        assert share_ack(c, "wg", "m-1", 5, tid, 0, 0, 1, [9]) == (0, 42)
        assert share_ack(c, "wg", "m-1", 6, tid, 0, 0, 4, [1, 1]) == (0, 42)
        assert share_ack(c, "wg", "m-1", 0, tid, 0, 0, 0, [1]) == (123, None)
        # The group's subscriptions exist, one per topic.
        for t in ("sg-wire", "sg-wire2"):
            assert sub_stats(b, "share.wg." + t)["topic"] == t
        # ShareGroupDescribe: the member with its assignment; unknown groups GROUP_ID_NOT_FOUND.
        body = carr(["wg", "nope"], cstr) + b"\x00" + b"\x00"
        r = c.request(77, 1, body, flexible=True)
        r.uvarint()
        r.i32()
        groups = []
        for _ in range(r.uvarint() - 1):
            g = {"err": r.i16(), "msg": rstr(r), "id": rstr(r), "state": rstr(r),
                 "epoch": r.i32(), "aepoch": r.i32(), "assignor": rstr(r), "members": []}
            for _ in range(r.uvarint() - 1):
                m = {"id": rstr(r), "rack": rstr(r), "epoch": r.i32(), "client": rstr(r),
                     "host": rstr(r), "topics": [rstr(r) for _ in range(r.uvarint() - 1)]}
                m["assignment"] = {}
                for _ in range(r.uvarint() - 1):
                    r.take(16)
                    name = rstr(r)
                    m["assignment"][name] = [r.i32() for _ in range(r.uvarint() - 1)]
                    r.uvarint()
                r.uvarint()
                r.uvarint()
                g["members"].append(m)
            r.i32()
            r.uvarint()
            groups.append(g)
        assert [g["err"] for g in groups] == [0, 69]
        g = groups[0]
        assert (g["id"], g["state"]) == ("wg", "Stable")
        assert len(g["members"]) == 1
        m = g["members"][0]
        assert (m["id"], m["epoch"], m["client"], m["host"]) == ("m-1", 2, "herald-it",
                                                                 "/127.0.0.1")
        assert m["topics"] == ["sg-wire", "sg-wire2"]
        assert m["assignment"] == {"sg-wire": [0, 1], "sg-wire2": [0]}
        # Leaving: epoch -1; then the member is unknown.
        assert heartbeat(c, "wg", "m-1", -1, None)[:4] == (0, None, "m-1", -1)
        assert heartbeat(c, "wg", "m-1", 2, None)[0] == 25


def test_silent_member_times_out_and_its_records_go_to_another(java, broker_factory):
    b = broker_factory("--group-share-start-earliest", "true",
                       "--group-share-session-timeout-ms", "2000",
                       "--group-share-heartbeat-interval-ms", "300")
    mk_topic(b, "sg-crash", 2)
    values = ["c-%d" % i for i in range(12)]
    where = produce(b, "sg-crash", values, 2)
    with kafkaraw.Conn(b.addr) as c:
        err, _, _, epoch, _, asg = heartbeat(c, "crashg", "silent", 0, ["sg-crash"])
        assert err == 0 and list(asg.values()) == [[0, 1]]
        err, acquired, errs = share_fetch(c, "crashg", "silent", 0, asg, wait_ms=2000, full=True)
        assert err == 0 and errs == {}
        assert acquired == {where[v]: 1 for v in values}
        # The silent member holds all; with a 30 s lock only its session timeout frees them.
        java.ok("share-open", "crash", b.addr, "crashg", "sg-crash", 1)
        t0 = time.monotonic()
        again = poll_all(java, "crash", 0, "accept", 12, timeout=20)
        java.ok("share-close", "crash")
    assert time.monotonic() - t0 >= 1.0
    assert sorted(r["v"] for r in again) == sorted(values)
    assert all(r["dc"] == 2 for r in again)
