"""Pipelined requests on one connection: answers come back complete and in request order, also
when more requests are buffered than the broker handles at once, and when an earlier request
(acks=all Produce, a long-polling Fetch) is still waiting."""

import struct

from kafkaraw import Conn, i16, i32, record_batch, produce_body


def read_all(conn, n):
    out = []
    for _ in range(n):
        corr, r = conn.recv()
        out.append((corr, r))
    return out


def test_many_pipelined_requests_in_one_write_all_answered_in_order(broker):
    with Conn(broker.addr, timeout=10) as c:
        frames = []
        for corr in range(1, 501):
            msg = i16(18) + i16(0) + i32(corr) + i16(-1)  # ApiVersions v0, null client id
            frames.append(i32(len(msg)) + msg)
        c.send_raw(b"".join(frames))
        got = [corr for corr, _ in read_all(c, 500)]
        assert got == list(range(1, 501))


def test_answers_queue_behind_a_parked_fetch(broker):
    with Conn(broker.addr, timeout=10) as c:
        batch = record_batch([(b"k", b"v")])
        c.request(0, 3, produce_body("pipe", 0, batch))  # auto-creates the topic
        # A Fetch at the end of the log waits up to 700 ms; an ApiVersions behind it must
        # still be answered after it, not before.
        fetch_body = (i32(-1) + i32(700) + i32(1) + i32(1 << 20) + struct.pack(">b", 0)
                      + i32(1) + i16(4) + b"pipe" + i32(1) + i32(0) + i64(1) + i32(1 << 20))
        f = c.send(1, 4, fetch_body)
        a = c.send(18, 0, b"")
        first, _ = c.recv()
        second, _ = c.recv()
        assert (first, second) == (f, a)


def i64(v):
    return struct.pack(">q", v)


def test_delete_topic_queued_behind_parked_produces(broker):
    # More acks=all Produce requests than a connection handles at once, then a DeleteTopics of
    # the same topic: it is handled only when a Produce completes, that is from inside the
    # broker's durability callbacks, while it is still firing the partition's waiters. Every
    # request must be answered, in order, and the broker must stay up.
    from kafkaraw import string, array
    with Conn(broker.addr, timeout=20) as c:
        batch = record_batch([(b"k", b"v" * 100)])
        c.request(0, 3, produce_body("doomed", 0, batch))  # auto-creates the topic
        sent = [c.send(0, 3, produce_body("doomed", 0, batch)) for _ in range(300)]
        d = c.send(20, 0, array([string("doomed")]) + i32(5000))
        a = c.send(18, 0, b"")
        got = read_all(c, len(sent) + 2)
        assert [corr for corr, _ in got] == sent + [d, a]
        errors = set()
        for _, r in got[:len(sent)]:
            r.array(lambda r: (r.string(), r.array(lambda r: errors.add((r.i32(), r.i16())))))
        # Produced before the delete (0), or found the topic gone (3, UNKNOWN_TOPIC_OR_PARTITION).
        assert {e for _, e in errors} <= {0, 3}
        r = got[len(sent)][1]
        assert r.array(lambda r: (r.string(), r.i16())) == [("doomed", 0)]
    # Still serving.
    with Conn(broker.addr, timeout=10) as c:
        c.request(18, 0, b"")
