"""Consumer groups against herald with real clients: librdkafka (confluent-kafka 1.7.0, kcat),
kafka-python 2.0.2 and kafkajs 2.2.4. Members that must be stopped or killed run as separate
processes (group_worker.py). Session timeouts are 6000 ms (the minimum allowed); every wait is
bounded and every process is stopped by pid."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

import kafkaraw as kr
from clients import admin, create_topic, make_producer, produce_all
from conftest import HERALD_BIN, wait_until

HERE = Path(__file__).resolve().parent
PY = "/usr/bin/python3"

JOIN_GROUP, HEARTBEAT, SYNC_GROUP, OFFSET_COMMIT, OFFSET_FETCH = 11, 12, 14, 8, 9


class Worker:
    """A group_worker.py process and the events it logged."""

    def __init__(self, tmp, addr, group, topic, name, *extra, py=PY):
        self.out = Path(tmp) / ("%s-%s.log" % (group, name))
        self.argv = [str(py), str(HERE / "group_worker.py"), addr, group, topic, str(self.out)]
        self.argv += list(extra)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL,
                                     stderr=open(str(self.out) + ".err", "ab"))
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def lines(self):
        try:
            return self.out.read_text().splitlines()
        except FileNotFoundError:
            return []

    def records(self):
        return [ln.split(" ", 3)[3] for ln in self.lines() if ln.startswith("R ")]

    def assignment(self):
        """Current partitions (eager: last A line; cooperative: + and - applied in order)."""
        cur = set()
        for ln in self.lines():
            if ln.startswith("A"):
                cur = {int(p) for p in ln[2:].split(",") if p.strip()}
            elif ln[:1] in "+-":
                ps = {int(p) for p in ln[2:].split(",") if p.strip()}
                cur = cur | ps if ln[0] == "+" else cur - ps
        return cur


@pytest.fixture
def workers():
    ws = []
    yield ws
    for w in ws:
        w.kill()


def produce_range(addr, topic, start, n, partitions=6):
    msgs = [{"topic": topic, "value": b"%d" % i, "partition": i % partitions}
            for i in range(start, start + n)]
    produce_all(addr, msgs)
    return {str(i) for i in range(start, start + n)}


def test_two_consumers_split_leave_and_crash(broker, tmp_path, workers):
    create_topic(broker.addr, "orders", 6)
    expected = produce_range(broker.addr, "orders", 0, 600)
    w1 = Worker(tmp_path, broker.addr, "pay", "orders", "w1").start()
    w2 = Worker(tmp_path, broker.addr, "pay", "orders", "w2").start()
    workers += [w1, w2]
    wait_until(lambda: len(w1.assignment()) == 3 and len(w2.assignment()) == 3, 30,
               what="a 3/3 split")
    wait_until(lambda: set(w1.records()) | set(w2.records()) >= expected, 30, what="600 records")

    # A clean leave: the survivor takes every partition.
    t0 = time.time()
    w2.stop()
    wait_until(lambda: len(w1.assignment()) == 6, 20, what="w1 owns all after leave")
    leave_s = time.time() - t0
    expected |= produce_range(broker.addr, "orders", 600, 120)
    wait_until(lambda: set(w1.records()) >= expected - set(w2.records()), 30, what="tail 1")

    # A crash without leaving: expelled after the 6 s session timeout.
    w3 = Worker(tmp_path, broker.addr, "pay", "orders", "w3").start()
    workers.append(w3)
    wait_until(lambda: len(w1.assignment()) == 3 and len(w3.assignment()) == 3, 30,
               what="a 3/3 split with w3")
    expected |= produce_range(broker.addr, "orders", 720, 120)
    wait_until(lambda: set(w1.records() + w2.records() + w3.records()) >= expected, 30,
               what="tail 2")
    t0 = time.time()
    w3.kill()
    wait_until(lambda: len(w1.assignment()) == 6, 30, what="w1 owns all after the crash")
    crash_s = time.time() - t0
    expected |= produce_range(broker.addr, "orders", 840, 120)
    all_records = lambda: w1.records() + w2.records() + w3.records()
    wait_until(lambda: set(all_records()) >= expected, 30, what="every record")
    got = all_records()
    assert set(got) == expected
    # Commits follow processing, so the only repeats are the uncommitted tail of the crashed
    # member: at most one record per partition it held.
    dups = len(got) - len(set(got))
    assert dups <= 3, "%d records processed twice" % dups
    # The session runs from the member's last heartbeat (every 0.5 s), which may precede the
    # kill by up to one interval.
    assert 6.0 - 0.5 <= crash_s < 15.0, crash_s
    assert leave_s < 5.0, leave_s
    print("\nrebalance after leave %.2f s, after kill %.2f s" % (leave_s, crash_s))


def test_cooperative_sticky_keeps_untouched_partitions(broker, tmp_path, workers):
    create_topic(broker.addr, "coop", 6)
    w1 = Worker(tmp_path, broker.addr, "coop-g", "coop", "w1",
                "--assignor", "cooperative-sticky").start()
    workers.append(w1)
    wait_until(lambda: len(w1.assignment()) == 6, 30, what="w1 owns all")
    w2 = Worker(tmp_path, broker.addr, "coop-g", "coop", "w2",
                "--assignor", "cooperative-sticky").start()
    workers.append(w2)
    wait_until(lambda: len(w1.assignment()) == 3 and len(w2.assignment()) == 3, 30,
               what="a 3/3 cooperative split")
    kept = w1.assignment()
    revoked = set()
    for ln in w1.lines():
        if ln.startswith("- "):
            revoked |= {int(p) for p in ln[2:].split(",") if p.strip()}
    # Only the partitions that moved were revoked; the kept ones never were.
    assert revoked == {0, 1, 2, 3, 4, 5} - kept
    assert not (kept & w2.assignment())
    expected = produce_range(broker.addr, "coop", 0, 60)
    wait_until(lambda: set(w1.records()) | set(w2.records()) >= expected, 30, what="records")


def group_consumer(addr, group, **extra):
    conf = {"bootstrap.servers": addr, "group.id": group, "auto.offset.reset": "earliest",
            "enable.auto.commit": False, "session.timeout.ms": 6000,
            "fetch.wait.max.ms": 100}
    conf.update(extra)
    return Consumer(conf)


def consume_n(c, n, timeout=30.0, commit=True):
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is None or m.error():
            continue
        got.append(m.value().decode())
        if commit:
            c.commit(message=m, asynchronous=False)
    return got


@pytest.mark.parametrize("how", ["restart", "kill9"])
def test_group_resumes_from_commits_across_broker_restart(broker, how):
    create_topic(broker.addr, "resume", 3)
    produce_range(broker.addr, "resume", 0, 90, partitions=3)
    c = group_consumer(broker.addr, "resumer")
    c.subscribe(["resume"])
    assert len(consume_n(c, 90)) == 90
    c.close()
    if how == "restart":
        broker.restart()
    else:
        broker.kill9()
        broker.start()
    expected = produce_range(broker.addr, "resume", 90, 30, partitions=3)
    c = group_consumer(broker.addr, "resumer")
    c.subscribe(["resume"])
    got = consume_n(c, 30)
    time.sleep(1.0)
    extra = consume_n(c, 1, timeout=1.0)
    c.close()
    assert set(got) == expected and not extra
    # The committed offsets are what OffsetFetch reports after the restart.
    c = group_consumer(broker.addr, "resumer")
    tps = c.committed([TopicPartition("resume", p) for p in range(3)], timeout=10)
    c.close()
    assert [tp.offset for tp in tps] == [40, 40, 40]


def test_fan_out_and_fault_isolation(broker, tmp_path, workers):
    create_topic(broker.addr, "events", 6)
    groups = ["payment", "inventory", "notify", "analytics", "audit"]
    ws = {g: Worker(tmp_path, broker.addr, g, "events", "a").start() for g in groups}
    workers += list(ws.values())
    wait_until(lambda: all(len(w.assignment()) == 6 for w in ws.values()), 30,
               what="every group assigned")
    total = 1200
    produced = []
    errors = []

    def producer():
        p = make_producer(broker.addr)
        for i in range(total):
            p.produce("events", b"%d" % i, partition=i % 6,
                      on_delivery=lambda err, m: errors.append(err) if err else None)
            p.poll(0)
            if i % 100 == 99:
                time.sleep(0.15)
        p.flush(30)
        produced.append(time.time())

    t = threading.Thread(target=producer)
    t0 = time.time()
    t.start()
    wait_until(lambda: len(ws["notify"].records()) >= 300, 30, what="notify mid-way")
    ws["notify"].kill()  # the notification service crashes mid-stream
    t.join(60)
    assert produced and not errors
    produce_s = produced[0] - t0
    expected = {str(i) for i in range(total)}
    others = [g for g in groups if g != "notify"]
    wait_until(lambda: all(set(ws[g].records()) >= expected for g in others), 30,
               what="the other four groups")
    for g in others:
        got = ws[g].records()
        assert len(got) == total and set(got) == expected, g  # exactly once each
    stopped_at = len(ws["notify"].records())
    assert stopped_at < total
    # Restarted, notify catches up from its committed offsets with nothing missing.
    again = Worker(tmp_path, broker.addr, "notify", "events", "b").start()
    workers.append(again)
    wait_until(lambda: set(ws["notify"].records()) | set(again.records()) >= expected, 40,
               what="notify caught up")
    dups = len(ws["notify"].records()) + len(again.records()) - total
    assert 0 <= dups <= 6, dups
    assert produce_s < 20, produce_s


def test_kafka_python_group_consumer(broker):
    from kafka import KafkaConsumer, KafkaProducer
    create_topic(broker.addr, "kp", 2)
    p = KafkaProducer(bootstrap_servers=broker.addr)
    for i in range(40):
        p.send("kp", b"%d" % i, partition=i % 2)
    p.flush(10)
    p.close()

    def run():
        c = KafkaConsumer("kp", bootstrap_servers=broker.addr, group_id="kpg",
                          auto_offset_reset="earliest", enable_auto_commit=False,
                          session_timeout_ms=6000, heartbeat_interval_ms=1000,
                          consumer_timeout_ms=4000)
        got = [m.value for m in c]
        c.commit()
        c.close()
        return got

    assert sorted(run(), key=int) == [b"%d" % i for i in range(40)]
    assert run() == []  # resumed from the committed offsets
    c = group_consumer(broker.addr, "kpg")
    tps = c.committed([TopicPartition("kp", 0), TopicPartition("kp", 1)], timeout=10)
    c.close()
    assert [tp.offset for tp in tps] == [20, 20]


def test_kafkajs_group_with_two_members(broker, js_dir):
    create_topic(broker.addr, "kjs", 4)
    r = subprocess.run(["node", str(js_dir / "group.js"), broker.addr, "kjs", "kjs-g", "200"],
                       capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["total"] == 200 and res["distinct"] == 200
    assert res["members"][0] > 0 and res["members"][1] > 0, res


def test_static_member_rejoins_without_rebalance(broker, tmp_path, workers):
    create_topic(broker.addr, "static", 4)
    ws = [Worker(tmp_path, broker.addr, "st", "static", "w%d" % i, "--instance", "i%d" % i,
                 "--client-id", "w%d" % i).start() for i in (1, 2)]
    workers += ws
    wait_until(lambda: all(len(w.assignment()) == 2 for w in ws), 30, what="a 2/2 split")
    time.sleep(1.0)
    # Restart the follower (a static leader's return rebalances, as in Kafka).
    leader = 1 if "leader w1-" in broker.log_text() else 2
    keep, bounce = (ws[0], 2) if leader == 1 else (ws[1], 1)
    gens = broker.log_text().count("stable at generation")
    before = keep.lines()
    had = ws[bounce - 1].assignment()
    ws[bounce - 1].kill()
    back = Worker(tmp_path, broker.addr, "st", "static", "w%db" % bounce, "--instance",
                  "i%d" % bounce, "--client-id", "w%d" % bounce).start()
    workers.append(back)
    wait_until(lambda: back.assignment() == had, 20, what="the instance back with its partitions")
    time.sleep(1.0)
    assert "static member i%d rejoined" % bounce in broker.log_text()
    assert broker.log_text().count("stable at generation") == gens  # no rebalance
    assert keep.lines()[:len(before)] == before
    assert not [ln for ln in keep.lines()[len(before):] if ln.startswith("A")]


def test_group_error_codes_over_the_wire(broker):
    create_topic(broker.addr, "raw", 1)
    with kr.Conn(broker.addr) as c:
        def join(session, member=b"", group="rg", version=1):
            body = (kr.string(group) + kr.i32(session) + kr.i32(session) + kr.string(member) +
                    kr.string("consumer") + kr.i32(1) + kr.string("range") + kr.bytes_(b"x"))
            r = c.request(JOIN_GROUP, version, body)
            return r.i16(), r.i32(), r.string(), r.string(), r.string()

        assert join(1000)[0] == 26  # INVALID_SESSION_TIMEOUT
        assert join(6000, group="")[0] == 24  # INVALID_GROUP_ID
        assert join(6000, member=b"nobody")[0] == 25  # UNKNOWN_MEMBER_ID
        err, gen, proto, leader, member = join(6000)
        assert err == 0 and gen == 1 and proto == "range" and leader == member

        def heartbeat(gen, member):
            r = c.request(HEARTBEAT, 0, kr.string("rg") + kr.i32(gen) + kr.string(member))
            return r.i16()

        assert heartbeat(gen + 5, member) == 22  # ILLEGAL_GENERATION
        assert heartbeat(gen, "ghost") == 25  # UNKNOWN_MEMBER_ID
        r = c.request(SYNC_GROUP, 0, kr.string("rg") + kr.i32(gen) + kr.string(member) +
                      kr.i32(1) + kr.string(member) + kr.bytes_(b"assignment"))
        assert (r.i16(), r.bytes()) == (0, b"assignment")
        assert heartbeat(gen, member) == 0

        def commit(meta, gen=gen, member=member):
            body = (kr.string("rg") + kr.i32(gen) + kr.string(member) + kr.i64(-1) +
                    kr.i32(1) + kr.string("raw") + kr.i32(2) +
                    kr.i32(0) + kr.i64(5) + kr.string(meta) +
                    kr.i32(7) + kr.i64(5) + kr.string(""))
            r = c.request(OFFSET_COMMIT, 2, body)
            r.i32()
            r.string()
            r.i32()
            return [(r.i32(), r.i16()), (r.i32(), r.i16())]

        assert commit("m" * 5000) == [(0, 12), (7, 3)]  # too large; unknown partition
        assert commit("meta") == [(0, 0), (7, 3)]
        assert commit("meta", gen=gen + 1)[0] == (0, 22)
        r = c.request(OFFSET_FETCH, 1, kr.string("rg") + kr.i32(1) + kr.string("raw") +
                      kr.i32(2) + kr.i32(0) + kr.i32(3))
        r.i32()
        r.string()
        r.i32()
        assert (r.i32(), r.i64(), r.string(), r.i16()) == (0, 5, "meta", 0)
        assert (r.i32(), r.i64(), r.string(), r.i16()) == (3, -1, "", 0)


def run_cli(broker, *args, timeout=30):
    r = subprocess.run([HERALD_BIN, "group"] + list(args) + ["-b", broker.addr],
                       capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout + r.stderr


def test_group_cli_and_kcat(broker):
    create_topic(broker.addr, "cli", 2)
    produce_range(broker.addr, "cli", 0, 20, partitions=2)
    r = subprocess.run(["kcat", "-b", broker.addr, "-G", "kc", "cli", "-c", "10", "-q",
                        "-X", "session.timeout.ms=6000", "-X", "auto.offset.reset=earliest",
                        "-X", "enable.auto.commit=true", "-X", "auto.commit.interval.ms=100"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.split()) == 10
    rc, out = run_cli(broker, "list")
    assert rc == 0 and "kc" in out, out
    rc, out = run_cli(broker, "describe", "kc")
    assert rc == 0 and "Empty" in out and "cli" in out, out
    rc, out = run_cli(broker, "reset-offsets", "kc", "--topic", "cli", "--to", "earliest")
    assert rc == 0, out
    c = group_consumer(broker.addr, "kc")
    tps = c.committed([TopicPartition("cli", 0), TopicPartition("cli", 1)], timeout=10)
    assert [tp.offset for tp in tps] == [0, 0]
    rc, out = run_cli(broker, "reset-offsets", "kc", "--topic", "cli", "--to", "latest")
    assert rc == 0, out
    tps = c.committed([TopicPartition("cli", 0), TopicPartition("cli", 1)], timeout=10)
    assert [tp.offset for tp in tps] == [10, 10]
    rc, out = run_cli(broker, "reset-offsets", "kc", "--topic", "cli", "--to", "3",
                      "--partition", "1")
    assert rc == 0, out
    tps = c.committed([TopicPartition("cli", 1)], timeout=10)
    assert tps[0].offset == 3
    # By time: nothing before the epoch's first millisecond, nothing after the far future.
    rc, out = run_cli(broker, "reset-offsets", "kc", "--topic", "cli", "--to", "@1")
    assert rc == 0, out
    tps = c.committed([TopicPartition("cli", 0), TopicPartition("cli", 1)], timeout=10)
    assert [tp.offset for tp in tps] == [0, 0]
    rc, out = run_cli(broker, "reset-offsets", "kc", "--topic", "cli", "--to", "@%d" % 2**50)
    assert rc == 0, out
    tps = c.committed([TopicPartition("cli", 0), TopicPartition("cli", 1)], timeout=10)
    assert [tp.offset for tp in tps] == [10, 10]
    c.close()
    # A live group cannot be deleted; an empty one can.
    live = group_consumer(broker.addr, "kc-live")
    live.subscribe(["cli"])
    assert len(consume_n(live, 20)) == 20
    rc, out = run_cli(broker, "describe", "kc-live")
    assert rc == 0 and "Stable" in out and "rdkafka" in out, out
    rc, out = run_cli(broker, "delete", "kc-live")
    assert rc != 0 and "not empty" in out, out
    live.close()
    rc, out = run_cli(broker, "delete", "kc")
    assert rc == 0, out
    rc, out = run_cli(broker, "list")
    assert "kc\t" not in out and "kc-live" in out, out


def test_admin_clients_list_and_describe_groups(broker):
    """confluent-kafka's legacy list_groups (ListGroups v0 + DescribeGroups v0) and
    kafka-python's KafkaAdminClient (ListGroups and DescribeGroups at their max versions)."""
    from confluent_kafka.admin import AdminClient
    from kafka.admin import KafkaAdminClient
    from kafka.structs import TopicPartition as TopicPartitionKP
    create_topic(broker.addr, "adm", 2)
    create_topic(broker.addr, "adm2", 3)
    produce_range(broker.addr, "adm", 0, 10, partitions=2)
    live = group_consumer(broker.addr, "adm-live", **{"client.id": "adm-client"})
    live.subscribe(["adm"])
    assert len(consume_n(live, 10)) == 10
    # An Empty group that only holds offsets is listed too.
    simple = group_consumer(broker.addr, "adm-offsets-only")
    simple.commit(offsets=[TopicPartition("adm", 0, 4), TopicPartition("adm2", 2, 9),
                           TopicPartition("adm2", 0, 1)], asynchronous=False)
    simple.close()

    groups = {g.id: g for g in AdminClient({"bootstrap.servers": broker.addr})
              .list_groups(timeout=10)}
    assert groups["adm-live"].state == "Stable" and groups["adm-live"].protocol == "range"
    assert [m.client_id for m in groups["adm-live"].members] == ["adm-client"]
    assert groups["adm-offsets-only"].state == "Empty"

    ka = KafkaAdminClient(bootstrap_servers=broker.addr)
    try:
        listed = dict(ka.list_consumer_groups())
        assert "adm-live" in listed and "adm-offsets-only" in listed
        (d,) = ka.describe_consumer_groups(["adm-live"])
        assert d.state == "Stable" and len(d.members) == 1
        assert d.members[0].client_id == "adm-client"
        offs = ka.list_consumer_group_offsets("adm-offsets-only")
        assert {(tp.topic, tp.partition): o.offset for tp, o in offs.items()} == \
            {("adm", 0): 4, ("adm2", 0): 1, ("adm2", 2): 9}
    finally:
        ka.close()
        live.close()



def test_hostile_group_requests_get_errors_not_crashes(broker):
    """Nulls where Kafka allows them only in other versions, negative and huge numbers, unknown
    ids, and random bodies: every request gets an error code or a closed connection, and the
    broker keeps serving."""
    import random
    from clients import roundtrip
    create_topic(broker.addr, "hostile", 1)
    S, A = kr.string, kr.array
    proto = kr.i32(1) + S("range") + kr.bytes_(b"")
    cases = [
        (JOIN_GROUP, 0, S("h") + kr.i32(6000) + S("") + S("consumer") + kr.i32(0)),
        (JOIN_GROUP, 1, S("h") + kr.i32(6000) + kr.i32(-5) + S("") + S("consumer") + proto),
        (JOIN_GROUP, 1, S("h") + kr.i32(2**31 - 1) + kr.i32(0) + S("") + S("") + proto),
        (JOIN_GROUP, 1, S("x" * 2000) + kr.i32(6000) + kr.i32(6000) + S("") + S("c") + proto),
        (JOIN_GROUP, 5, S("h") + kr.i32(6000) + kr.i32(6000) + S("") + S("") + S("c") + proto),
        (SYNC_GROUP, 0, S("h") + kr.i32(-1) + S("") + kr.i32(0)),
        (SYNC_GROUP, 0, S("nogroup") + kr.i32(7) + S("m") +
         A([S("m") + kr.bytes_(b""), S("zz") + kr.bytes_(b"x")])),
        (HEARTBEAT, 0, S("") + kr.i32(-1) + S("")),
        (13, 0, S("h") + S("")),  # LeaveGroup v0, unknown member
        (13, 3, S("h") + A([S("") + S(None), S("m") + S("i")])),
        (OFFSET_COMMIT, 2, S("h") + kr.i32(-1) + S("") + kr.i64(-7) +
         A([S("hostile") + A([kr.i32(-3) + kr.i64(-9) + S(None), kr.i32(0) + kr.i64(2**62) +
                              S(None)])])),
        (OFFSET_COMMIT, 0, S("") + kr.i32(0)),
        (OFFSET_FETCH, 2, S("h") + kr.i32(-1)),
        (OFFSET_FETCH, 1, S("nogroup") + A([S("hostile") + A([kr.i32(-1), kr.i32(9)])])),
        (15, 0, A([S(""), S("h"), S("nogroup")])),  # DescribeGroups
        (16, 0, b""),  # ListGroups
        (42, 0, A([S(""), S("nogroup"), S("h")])),  # DeleteGroups
        (47, 0, S("h") + A([S("hostile") + A([kr.i32(-1), kr.i32(0)])])),  # OffsetDelete
        (47, 0, S("") + kr.i32(0)),
    ]
    nstructured = len(cases)
    rng = random.Random(7)
    for key in (JOIN_GROUP, SYNC_GROUP, HEARTBEAT, 13, OFFSET_COMMIT, OFFSET_FETCH, 15, 42, 47):
        for _ in range(30):
            cases.append((key, rng.randint(0, 2),
                          bytes(rng.randrange(256) for _ in range(rng.randint(0, 60)))))
    answered = 0
    for i, (key, version, body) in enumerate(cases):
        with kr.Conn(broker.addr, timeout=5.0) as c:
            try:
                c.request(key, version, body)
                answered += 1
            except (ConnectionError, OSError):
                # A malformed body closes the connection, as Kafka does; the structured cases
                # are all well-formed and must be answered.
                assert i >= nstructured, "no answer to case %d (key %d v%d)" % (i, key, version)
    assert answered >= nstructured
    assert broker.running()
    roundtrip(broker.addr)


def test_deleting_a_topic_deletes_its_committed_offsets(broker):
    # Offsets committed for a topic go with it: a topic created again under the same name must
    # not resume consumers from positions in a log that no longer exists.
    create_topic(broker.addr, "gone", 2)
    create_topic(broker.addr, "stays", 1)
    c = group_consumer(broker.addr, "td")
    c.commit(offsets=[TopicPartition("gone", 0, 5), TopicPartition("gone", 1, 6),
                      TopicPartition("stays", 0, 7)], asynchronous=False)
    a = admin(broker.addr)
    a.delete_topics(["gone"], request_timeout=15)["gone"].result(15)
    create_topic(broker.addr, "gone", 2)
    tps = c.committed([TopicPartition("gone", 0), TopicPartition("gone", 1),
                       TopicPartition("stays", 0)], timeout=10)
    assert [(t.topic, t.partition, t.offset) for t in tps] == \
        [("gone", 0, -1001), ("gone", 1, -1001), ("stays", 0, 7)]
    c.close()
    broker.restart()
    c = group_consumer(broker.addr, "td")
    tps = c.committed([TopicPartition("gone", 0), TopicPartition("stays", 0)], timeout=10)
    assert [(t.topic, t.offset) for t in tps] == [("gone", -1001), ("stays", 7)]
    c.close()


def test_offset_delete_and_list_groups_state_filter(broker):
    create_topic(broker.addr, "od", 2)
    c = group_consumer(broker.addr, "od-simple")
    c.commit(offsets=[TopicPartition("od", 0, 5), TopicPartition("od", 1, 6)], asynchronous=False)
    c.close()
    live = group_consumer(broker.addr, "od-live")
    live.subscribe(["od"])
    wait_until(lambda: live.poll(0.2) is None and live.assignment(), 20, what="od-live assigned")
    S, A = kr.string, kr.array
    with kr.Conn(broker.addr) as conn:
        def offset_delete(group):
            r = conn.request(47, 0, S(group) + A([S("od") + A([kr.i32(0)])]))
            err, _ = r.i16(), r.i32()
            parts = r.array(lambda r: (r.string(), r.array(lambda r: (r.i32(), r.i16()))))
            return err, parts

        assert offset_delete("od-simple") == (0, [("od", [(0, 0)])])
        assert offset_delete("od-live") == (0, [("od", [(0, 86)])])  # GROUP_SUBSCRIBED_TO_TOPIC
        assert offset_delete("od-none")[0] == 69  # GROUP_ID_NOT_FOUND
        r = conn.request(OFFSET_FETCH, 1, S("od-simple") + A([S("od") + A([kr.i32(0), kr.i32(1)])]))
        r.i32()
        r.string()
        r.i32()
        assert [(r.i32(), r.i64(), r.string(), r.i16()) for _ in range(2)] == \
            [(0, -1, "", 0), (1, 6, "", 0)]

        def compact_strs(items):
            return kr.uvarint(len(items) + 1) + b"".join(
                kr.uvarint(len(s) + 1) + s.encode() for s in items)

        def list_groups(states, types=None):
            """ListGroups v4, or v5 (KIP-848 group types) when types is given."""
            body = compact_strs(states) + (compact_strs(types) if types is not None else b"")
            r = conn.request(16, 4 if types is None else 5, body + b"\x00", flexible=True)
            r.uvarint()  # response header tag buffer
            r.i32()
            assert r.i16() == 0
            out = []
            for _ in range(r.uvarint() - 1):
                g = tuple(r.take(r.uvarint() - 1).decode() for _ in range(3 + (types is not None)))
                assert r.uvarint() == 0
                out.append(g)
            return sorted(out)

        assert list_groups(["Stable"]) == [("od-live", "consumer", "Stable")]
        assert list_groups(["empty"]) == [("od-simple", "", "Empty")]
        assert len(list_groups([])) == 2
        assert list_groups(["Stable"], []) == [("od-live", "consumer", "Stable", "classic")]
        assert list_groups([], ["Classic"]) == [("od-live", "consumer", "Stable", "classic"),
                                                ("od-simple", "", "Empty", "classic")]
        assert list_groups([], ["consumer"]) == []
    live.close()
