"""Schema validation on worker threads (schema.validation.threads): a Produce request to a
validating topic is checked off the event loop, its records split over several threads, and yet
every request of a connection still runs in arrival order, the answers name the bad records in
record order, registry changes during validation are safe, and a connection or the broker going
away while records are being checked loses or leaks nothing."""
import random
import struct
import threading
import time

import kafkaraw as kr
import pytest
import requests
from test_produce_errors import answer_v8
from test_registry import REC1, REC2, avro_order, call, mk_topic, ok, register, wire

INVALID_RECORD = 87
INCREMENTAL_ALTER_CONFIGS = 44


def produce_v8(conn, topic, batch):
    """Sends a Produce v8 and returns its correlation id (the answer is read by answer_v8)."""
    return conn.send(kr.PRODUCE, 8, kr.produce_body(topic, 0, batch))


def alter_topic_config(conn, topic, name, value):
    """IncrementalAlterConfigs v0, one SET; returns the correlation id."""
    body = (kr.i32(1) + kr.i8(2) + kr.string(topic)
            + kr.i32(1) + kr.string(name) + kr.i8(0) + kr.string(value)
            + kr.i8(0))
    return conn.send(INCREMENTAL_ALTER_CONFIGS, 0, body)


def alter_answer(r):
    r.i32()  # throttle
    (err, msg, rtype, rname), = r.array(
        lambda r: (r.i16(), r.string(), r.i8(), r.string()))
    assert r.remaining() == 0
    return err, rname


def validating(broker, topic):
    sid = ok(register(broker, topic + "-value", REC1))["id"]
    mk_topic(broker, topic, **{"confluent.value.schema.validation": "true"})
    return sid


def values(sid, n, bad=(), tag="v"):
    out = []
    for i in range(n):
        if i in bad:
            out.append(b"plain text %d" % i)  # not in the wire format
        else:
            out.append(wire(sid, avro_order(i, "%s%d" % (tag, i))))
    return out


def batch(vals):
    return kr.record_batch([(None, v) for v in vals])


def read_values(broker, topic):
    return [rec[3] for b in kr.fetch_all_batches(broker.addr, topic, 0) for rec in b.records()]


@pytest.mark.parametrize("threads", ["1", "3"])
def test_split_batch_names_bad_records_in_order(broker_factory, threads):
    # A batch of 700 records is cut into ten ranges of 70 (a range per 64 records), which the
    # threads (and the event loop, the pool being idle) claim one at a time; bad records sit on
    # the ranges' edges, and a few inside them.
    broker = broker_factory("--validation-threads", threads)
    sid = validating(broker, "vsplit")
    edges = [e for k in range(10) for e in (70 * k, 70 * k + 69)]
    bad = sorted(set(edges) | {35, 233, 350, 466})
    with kr.Conn(broker.addr) as c:
        produce_v8(c, "vsplit", batch(values(sid, 700, bad)))
        _, r = c.recv()
        p = answer_v8(r, "vsplit")
        assert (p["error"], p["base"]) == (INVALID_RECORD, -1)
        assert [i for i, _ in p["record_errors"]] == bad
        assert all("not in the schema registry wire format" in m for _, m in p["record_errors"])
        assert p["message"].startswith("record 0: value is not in the schema registry wire")
        # Every record bad: the answer names the first 1,000, in order.
        produce_v8(c, "vsplit", batch([b"x%d" % i for i in range(2500)]))
        _, r = c.recv()
        p = answer_v8(r, "vsplit")
        assert p["error"] == INVALID_RECORD
        assert [i for i, _ in p["record_errors"]] == list(range(1000))
        # Nothing of either batch was appended; a good batch lands whole, byte for byte.
        good = values(sid, 700)
        produce_v8(c, "vsplit", batch(good))
        _, r = c.recv()
        p = answer_v8(r, "vsplit")
        assert (p["error"], p["base"], p["record_errors"]) == (0, 0, [])
    assert read_values(broker, "vsplit") == good


def test_requests_of_a_connection_run_in_arrival_order(broker_factory):
    broker = broker_factory("--validation-threads", "2")
    sid = validating(broker, "vorder")
    big, small = values(sid, 1500, tag="big"), values(sid, 1, tag="small")
    with_bad = values(sid, 1500, bad={1200}, tag="bad")
    with kr.Conn(broker.addr) as c:
        # Sent before any answer is read: the broker has them all at once. The big batch takes
        # longer to check than the small one behind it, and the config change behind the third
        # must not apply before the third has run.
        sent = [("p", produce_v8(c, "vorder", batch(big))),
                ("p", produce_v8(c, "vorder", batch(small))),
                ("p", produce_v8(c, "vorder", batch(with_bad))),
                ("a", alter_topic_config(c, "vorder", "confluent.value.schema.validation",
                                         "false")),
                ("p", produce_v8(c, "vorder", batch(with_bad))),
                ("p", produce_v8(c, "vorder", batch(small)))]
        got = []
        for kind, corr in sent:
            corr_got, r = c.recv()
            assert corr_got == corr
            got.append(answer_v8(r, "vorder") if kind == "p" else alter_answer(r))
    assert [(g["error"], g["base"]) for g in got[:3]] == [(0, 0), (0, 1500), (INVALID_RECORD, -1)]
    assert [i for i, _ in got[2]["record_errors"]] == [1200]
    assert got[3] == (0, "vorder")
    assert [(g["error"], g["base"]) for g in got[4:]] == [(0, 1501), (0, 3001)]
    assert read_values(broker, "vorder") == big + small + with_bad + small


def test_registry_changes_while_records_are_checked(broker_factory):
    broker = broker_factory("--validation-threads", "2")
    sid = validating(broker, "vreg")
    stop = threading.Event()
    errors = []

    def register_loop():
        n = 0
        try:
            while not stop.is_set() and n < 400:
                subject = "churn-%d" % (n % 40)
                schema = {"type": "record", "name": "C%d" % n,
                          "fields": [{"name": "f", "type": "int"}]}
                ok(call(broker, "PUT", "/config/%s" % subject, {"compatibility": "NONE"}))
                ok(register(broker, subject, schema))
                if n % 3 == 0:
                    ok(call(broker, "DELETE", "/subjects/%s" % subject))
                    ok(call(broker, "DELETE", "/subjects/%s?permanent=true" % subject))
                n += 1
            # A compatible second version of the topic's own subject, mid-stream.
            ok(register(broker, "vreg-value", REC2))
        except Exception as e:  # reported by the main thread
            errors.append(e)

    t = threading.Thread(target=register_loop)
    t.start()
    answers = []
    try:
        with kr.Conn(broker.addr, timeout=30) as c:
            for k in range(40):
                vals = values(sid, 500, bad={k * 7 % 500}, tag="r%d-" % k)
                produce_v8(c, "vreg", batch(vals))
                produce_v8(c, "vreg", batch(values(sid, 500, tag="g%d-" % k)))
                for _ in range(2):
                    answers.append(answer_v8(c.recv()[1], "vreg"))
    finally:
        stop.set()
        t.join(30)
    assert not errors, errors
    assert [a["error"] for a in answers] == [INVALID_RECORD, 0] * 40
    assert [a["record_errors"][0][0] for a in answers[0::2]] == [k * 7 % 500 for k in range(40)]
    assert [a["base"] for a in answers[1::2]] == [500 * k for k in range(40)]
    assert len(read_values(broker, "vreg")) == 20000


def test_connections_closed_mid_check_and_shutdown(broker_factory):
    broker = broker_factory("--validation-threads", "2")
    sid = validating(broker, "vclose")
    vals = [values(sid, 3000, tag="c%d-" % i) for i in range(3)]
    frames = [batch(v) for v in vals]
    for _ in range(15):
        with kr.Conn(broker.addr) as c:
            for f in frames:
                produce_v8(c, "vclose", f)
        # closed at once, with parts of its requests still running
    with kr.Conn(broker.addr) as c:
        produce_v8(c, "vclose", batch(values(sid, 2)))
        p = answer_v8(c.recv()[1], "vclose")
        assert p["error"] == 0
    # The acknowledged records are there once. Requests that were never answered may or may not
    # have landed (before the broker saw the close), but only whole, and in any order with
    # respect to the other connection's.
    got = read_values(broker, "vclose")
    last = values(sid, 2)
    at = [i for i in range(len(got) - 1) if got[i:i + 2] == last]
    assert len(at) == 1
    rest = got[:at[0]] + got[at[0] + 2:]
    assert len(rest) % 3000 == 0
    assert all(rest[i:i + 3000] in vals for i in range(0, len(rest), 3000))
    # SIGTERM while a connection's requests are being checked: a clean exit.
    c = kr.Conn(broker.addr)
    for f in frames * 3:
        produce_v8(c, "vclose", f)
    time.sleep(0.05)
    assert broker.stop() == 0
    c.close()
    assert "herald stopped cleanly" in broker.log_text()


def test_dead_letter_mode_over_split_batches(broker_factory):
    broker = broker_factory("--validation-threads", "3")
    sid = ok(register(broker, "vdlq-value", REC1))["id"]
    mk_topic(broker, "vdlq", **{"confluent.value.schema.validation": "true",
                                "herald.schema.validation.mode": "dlq"})
    bad = [3, 400, 650]
    vals = values(sid, 700, bad)
    with kr.Conn(broker.addr) as c:
        produce_v8(c, "vdlq", batch(vals))
        p = answer_v8(c.recv()[1], "vdlq")
    assert (p["error"], p["base"], p["record_errors"]) == (0, 0, [])
    assert read_values(broker, "vdlq") == [v for i, v in enumerate(vals) if i not in bad]
    dead = [rec for b in kr.fetch_all_batches(broker.addr, "vdlq.dlq", 0) for rec in b.records()]
    assert [rec[3] for rec in dead] == [vals[i] for i in bad]
    for rec in dead:
        h = dict(rec[4])
        assert h["herald.dlq.topic"] == b"vdlq" and h["herald.dlq.partition"] == b"0"
        assert h["herald.dlq.reason"].startswith(b"value is not in the schema registry wire")


def recrc(b):
    """A batch with its CRC-32C recomputed after an edit."""
    return b[:17] + struct.pack(">I", kr.crc32c(b[21:])) + b[21:]


def test_damaged_batches_keep_the_appends_answers(broker_factory):
    # What the checking threads do not vouch for is checked again by the append, which gives
    # its own answer, and nothing is stored.
    broker = broker_factory("--validation-threads", "3")
    sid = validating(broker, "vdamage")
    good = batch(values(sid, 700))
    bad_crc = good[:-1] + bytes([good[-1] ^ 1])
    # A count one short (the last record is left over) and one too many (framing runs out).
    short = recrc(good[:57] + struct.pack(">i", 699) + good[61:])
    extra = recrc(good[:57] + struct.pack(">i", 701) + good[61:])
    with kr.Conn(broker.addr) as c:
        for b, want in ((bad_crc, kr.CORRUPT_MESSAGE), (short, INVALID_RECORD),
                        (extra, INVALID_RECORD)):
            produce_v8(c, "vdamage", b)
            p = answer_v8(c.recv()[1], "vdamage")
            assert (p["error"], p["base"]) == (want, -1)
            assert p["message"] and p["record_errors"] == []
        produce_v8(c, "vdamage", good)
        p = answer_v8(c.recv()[1], "vdamage")
        assert (p["error"], p["base"]) == (0, 0)
    assert read_values(broker, "vdamage") == values(sid, 700)


def test_protocol_errors_behind_a_checked_request(broker_factory):
    broker = broker_factory("--validation-threads", "2")
    sid = validating(broker, "vproto")
    first, last = values(sid, 1500, tag="first"), values(sid, 3, tag="last")
    # An unknown API behind a request being checked: the earlier request is still answered,
    # then the connection closes.
    with kr.Conn(broker.addr) as c:
        corr = produce_v8(c, "vproto", batch(first))
        c.send_raw(kr.i32(10) + kr.i16(999) + kr.i16(0) + kr.i32(99) + kr.i16(-1))
        got, r = c.recv()
        assert got == corr and answer_v8(r, "vproto")["base"] == 0
        assert c.closed_by_peer()
    # An acks=0 produce that fails closes the connection when it runs (as Kafka does); a
    # request sent behind it is not run, though it was read and checked meanwhile.
    with kr.Conn(broker.addr) as c:
        corr = produce_v8(c, "vproto", batch(first))
        c.send(kr.PRODUCE, 8, kr.produce_body("vproto", 7, batch(last), acks=0))
        produce_v8(c, "vproto", batch(last))
        got, r = c.recv()
        assert got == corr and answer_v8(r, "vproto")["base"] == 1500
        assert c.closed_by_peer()
    assert read_values(broker, "vproto") == first + first


def batch_with_bad_record(vals, bad_at):
    """A batch whose record bad_at has a byte past its last header (its framing is broken, its
    length and the CRC are consistent)."""
    ts = int(time.time() * 1000)
    recs = []
    for i, v in enumerate(vals):
        r = kr.encode_record(i, 0, None, v)
        if i == bad_at:
            n = kr.Reader(r).varint()
            body = r[len(r) - n:] + b"\x00"
            r = kr.varint(len(body)) + body
        recs.append(r)
    n = len(vals)
    after_crc = (kr.i16(0) + kr.i32(n - 1) + kr.i64(ts) + kr.i64(ts) + kr.i64(-1) + kr.i16(-1)
                 + kr.i32(-1) + kr.i32(n) + b"".join(recs))
    tail = kr.i32(0) + kr.i8(2) + struct.pack(">I", kr.crc32c(after_crc)) + after_crc
    return kr.i64(0) + kr.i32(len(tail)) + tail


def test_broken_records_in_any_part_are_refused(broker_factory):
    # Three threads, 900 records: each part checks the framing of its own range only.
    broker = broker_factory("--validation-threads", "3")
    sid = validating(broker, "vframe")
    vals = values(sid, 900)
    with kr.Conn(broker.addr) as c:
        for bad_at in (5, 450, 899):
            produce_v8(c, "vframe", batch_with_bad_record(vals, bad_at))
            p = answer_v8(c.recv()[1], "vframe")
            assert (p["error"], p["base"], p["record_errors"]) == (INVALID_RECORD, -1, [])
            assert p["message"]
        produce_v8(c, "vframe", batch(vals))
        assert answer_v8(c.recv()[1], "vframe")["base"] == 0
    assert read_values(broker, "vframe") == vals


def test_many_connections_closing_midway_lose_no_acknowledged_record(broker_factory):
    # Seeded, bounded in time: producers on four connections at once send batches of 1 to 1,200
    # records (a few bad) to four partitions, half of them closing before reading the answers,
    # while subjects are registered and deleted. Every acknowledged batch must be in the log,
    # at its offset, byte for byte; the fixture fails the test on any sanitizer report.
    broker = broker_factory("--validation-threads", "3")
    sid = ok(register(broker, "vmany-value", REC1))["id"]
    r = requests.post(broker.http + "/topics", json={
        "name": "vmany", "partitions": 4,
        "config": {"confluent.value.schema.validation": "true"}}, timeout=10)
    assert r.status_code == 201, r.text
    deadline = time.monotonic() + 6
    acked, errors = [], []

    def producer(seed):
        rnd = random.Random(seed)
        try:
            while time.monotonic() < deadline:
                with kr.Conn(broker.addr, timeout=20) as c:
                    sent = []
                    for _ in range(rnd.randint(1, 5)):
                        part = rnd.randint(0, 3)
                        n = rnd.choice([1, 40, 300, 1200])
                        tag = "s%d-%d-" % (seed, rnd.randint(0, 1 << 30))
                        vals = [b"bad" if rnd.random() < 0.002 else
                                wire(sid, avro_order(i, tag + str(i))) for i in range(n)]
                        c.send(kr.PRODUCE, 8, kr.produce_body("vmany", part, batch(vals)))
                        sent.append((part, vals))
                    if rnd.random() < 0.5:
                        continue  # closed with its answers unread
                    for part, vals in sent:
                        p = answer_v8(c.recv()[1], "vmany")
                        if p["error"] == 0:
                            acked.append((part, p["base"], vals))
        except Exception as e:  # reported below
            errors.append(repr(e))

    def churn():
        i = 0
        while time.monotonic() < deadline:
            register(broker, "churn%d-value" % (i % 10), REC1)
            if i % 3 == 0:
                call(broker, "DELETE", "/subjects/churn%d-value" % (i % 10))
            i += 1

    threads = [threading.Thread(target=producer, args=(s,)) for s in range(4)]
    threads.append(threading.Thread(target=churn))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]
    assert len(acked) > 10
    logs = {p: [rec for b in kr.fetch_all_batches(broker.addr, "vmany", p) for rec in b.records()]
            for p in range(4)}
    for part, base, vals in acked:
        got = [rec[3] for rec in logs[part] if base <= rec[0] < base + len(vals)]
        assert got == vals, (part, base)


def frame(c, api_key, version, body):
    """One request frame of connection c, not sent yet; returns (correlation id, bytes)."""
    c.corr += 1
    msg = c.header(api_key, version, c.corr) + body
    return c.corr, kr.i32(len(msg)) + msg


def test_requests_keep_their_frames_in_the_input_buffer(broker_factory):
    # Requests checked on the threads, and requests waiting behind them, keep their frames where
    # they arrived, in the connection's input buffer; the connection reads on into a new one,
    # taking along the start of a frame not yet complete. Many frames in one write, the last
    # one cut at a different place each round (in its header, its length, its records), with
    # requests to an unvalidated topic between the checked ones: every answer comes in order,
    # and every record lands byte for byte, at the offset answered.
    broker = broker_factory("--validation-threads", "2")
    sid = validating(broker, "vkeep")
    mk_topic(broker, "vplain")
    want = {"vkeep": [], "vplain": []}
    rnd = random.Random(14)
    with kr.Conn(broker.addr, timeout=30) as c:
        for rnd_no, cut in enumerate((1, 3, 4, 9, 40, 200, 2000, -1)):
            frames, expect = [], []
            for k in range(6):
                topic = "vplain" if k % 3 == 2 else "vkeep"
                vals = values(sid, rnd.choice((1, 5, 300, 700)), tag="k%d-%d-" % (rnd_no, k))
                corr, f = frame(c, kr.PRODUCE, 8, kr.produce_body(topic, 0, batch(vals)))
                frames.append(f)
                expect.append((corr, topic, vals))
            data = b"".join(frames)
            at = len(data) - len(frames[-1]) + (cut if cut > 0 else len(frames[-1]) - 1)
            c.send_raw(data[:at])
            time.sleep(0.05)  # the broker handles what it has before the rest comes
            c.send_raw(data[at:])
            for corr, topic, vals in expect:
                got, r = c.recv()
                assert got == corr
                p = answer_v8(r, topic)
                assert (p["error"], p["base"]) == (0, len(want[topic]))
                want[topic] += vals
    assert read_values(broker, "vkeep") == want["vkeep"]
    assert read_values(broker, "vplain") == want["vplain"]


def test_connection_closed_with_frames_held_in_its_input_buffer(broker_factory):
    # Frames held by requests still being checked when the peer goes away, with part of the
    # next frame read: the buffers are freed by the last request that holds them (the ASan
    # build finds a leak or a use after free), and the broker answers the next connection.
    broker = broker_factory("--validation-threads", "2")
    sid = validating(broker, "vgone")
    vals = values(sid, 1500)
    for _ in range(10):
        with kr.Conn(broker.addr) as c:
            data = b"".join(frame(c, kr.PRODUCE, 8, kr.produce_body("vgone", 0, batch(vals)))[1]
                            for _ in range(4))
            c.send_raw(data[:len(data) - 100])
    with kr.Conn(broker.addr) as c:
        produce_v8(c, "vgone", batch(values(sid, 2, tag="last")))
        assert answer_v8(c.recv()[1], "vgone")["error"] == 0
    got = read_values(broker, "vgone")
    assert got[-2:] == values(sid, 2, tag="last")
    assert len(got) % 1500 == 2 and all(got[i:i + 1500] == vals
                                        for i in range(0, len(got) - 2, 1500))
    assert broker.stop() == 0
