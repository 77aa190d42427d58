"""Abuse on one connection must not hurt the broker: bad frames close that connection, bad
batches get error codes, and a fresh client still produces and consumes afterwards."""
import random
import socket
import struct
import time

import pytest

import kafkaraw as kr
from clients import roundtrip


def still_serving(broker, tag):
    assert broker.running(), "herald died"
    roundtrip(broker.addr, topic="alive-" + tag, n=3)


def test_negative_size_closes(broker):
    with kr.Conn(broker.addr) as c:
        c.send_raw(struct.pack(">i", -5) + b"\x00" * 16)
        assert c.closed_by_peer(), "connection stayed open after a negative size"
    still_serving(broker, "neg")


def test_huge_size_claim_closes_without_allocating(broker):
    with kr.Conn(broker.addr) as c:
        c.send_raw(struct.pack(">i", 0x7FFFFFFF) + b"\x00\x03\x00\x01")
        assert c.closed_by_peer(), "connection stayed open after a 2 GiB size claim"
    # Just above socket.request.max.bytes (100 MiB) is refused too.
    with kr.Conn(broker.addr) as c:
        c.send_raw(struct.pack(">i", 100 * 1024 * 1024 + 1))
        assert c.closed_by_peer()
    still_serving(broker, "huge")


def test_truncated_frame_then_close(broker):
    for n in (1, 3, 10):
        with kr.Conn(broker.addr) as c:
            frame = c.header(kr.METADATA, 1, 1) + kr.array(["t"], kr.string)
            c.send_raw(struct.pack(">i", len(frame) + 50) + frame[:n])
    # A complete size field and header, but a body that ends mid-field.
    with kr.Conn(broker.addr) as c:
        body = c.header(kr.PRODUCE, 3, 7) + kr.string(None) + kr.i16(-1)  # no timeout, topics
        c.send_raw(struct.pack(">i", len(body)) + body)
        assert c.closed_by_peer(), "truncated Produce body was not rejected"
    still_serving(broker, "trunc")


def test_unknown_api_key_closes(broker):
    with kr.Conn(broker.addr) as c:
        c.send(999, 0, b"")
        assert c.closed_by_peer()
    with kr.Conn(broker.addr) as c:
        c.send(kr.METADATA, 99, kr.array([]))
        assert c.closed_by_peer(), "Metadata v99 was not refused"
    with kr.Conn(broker.addr) as c:
        _e, apis = kr.api_versions(c)
    with kr.Conn(broker.addr) as c:
        c.send(kr.FETCH, apis[kr.FETCH][0] - 1, b"")  # below the advertised minimum
        assert c.closed_by_peer(), "Fetch below the advertised minimum was not refused"
    with kr.Conn(broker.addr) as c:
        c.send(kr.METADATA, apis[kr.METADATA][1] + 1, kr.array([]))  # one above the maximum
        assert c.closed_by_peer(), "Metadata above the advertised maximum was not refused"
    still_serving(broker, "unknown")


def test_api_versions_too_new_answers_v0_error(broker):
    with kr.Conn(broker.addr) as c:
        # v99 would use the flexible header (v2): client id, then an empty tag buffer.
        c.send(kr.API_VERSIONS, 99, b"\x00", flexible=True)
        corr, r = c.recv()
        assert corr == c.corr
        err = r.i16()
        keys = r.array(lambda r: (r.i16(), r.i16(), r.i16()))
        assert err == kr.UNSUPPORTED_VERSION
        assert any(k == 18 and lo == 0 and hi >= 3 for k, lo, hi in keys), keys
        assert r.remaining() == 0, "v0 format has no throttle field"
        # The connection stays usable: the client retries with a version it knows.
        err, apis = kr.api_versions(c, 0)
        assert err == 0
    assert apis[kr.API_VERSIONS][0] == 0 and apis[kr.API_VERSIONS][1] >= 3
    assert apis[kr.PRODUCE][0] <= 3 <= 7 <= apis[kr.PRODUCE][1]
    assert apis[kr.FETCH][0] <= 4 and apis[kr.FETCH][1] >= 11
    assert apis[kr.METADATA][0] == 0
    still_serving(broker, "apiv")


def test_api_versions_v3_flexible(broker):
    with kr.Conn(broker.addr) as c:
        body = b"\x0aherald-it" + b"\x040.1" + b"\x00"  # compact strings, tag buffer
        c.send(kr.API_VERSIONS, 3, body, flexible=True)
        corr, r = c.recv()  # response header stays v0: no tag buffer before the body
        assert corr == c.corr
        assert r.i16() == 0
        n = r.uvarint() - 1
        keys = {}
        for _ in range(n):
            k, lo, hi = r.i16(), r.i16(), r.i16()
            assert r.uvarint() == 0
            keys[k] = (lo, hi)
        r.i32()  # throttle
        assert r.uvarint() == 0 and r.remaining() == 0
        # Produce 0-2 may be advertised for librdkafka's feature probe; 3, 7 and 9 (the
        # flexible version with per-record errors) must be in.
        assert keys[kr.PRODUCE][0] <= 3 and keys[kr.PRODUCE][1] == 9
        assert keys[kr.METADATA] == (0, 8) and keys[kr.FETCH] == (4, 11)


def test_bad_crc_gets_corrupt_message(broker):
    topic = "crc"
    with kr.Conn(broker.addr) as c:
        kr.metadata_v1(c, [topic])
        batch = bytearray(kr.record_batch([(b"k", b"v" * 100)]))
        batch[-5] ^= 0xFF  # a record byte, covered by the CRC
        err, _ = kr.produce(c, topic, 0, bytes(batch))
        assert err == kr.CORRUPT_MESSAGE
        # The same connection keeps working, and nothing was appended.
        assert kr.produce(c, topic, 0, kr.record_batch([(b"k", b"good")])) == (0, 0)
        assert kr.list_offsets_v1(c, topic, 0, -1)[2] == 1
    still_serving(broker, "crc")


def test_batch_above_message_max_bytes(broker):
    topic = "big"
    with kr.Conn(broker.addr, timeout=30) as c:
        kr.metadata_v1(c, [topic])
        big = kr.record_batch([(None, b"x" * 1_100_000)])
        assert len(big) > 1048588
        err, _ = kr.produce(c, topic, 0, big)
        assert err == kr.MESSAGE_TOO_LARGE
        ok = kr.record_batch([(None, b"y" * 1_000_000)])
        assert kr.produce(c, topic, 0, ok) == (0, 0)
    still_serving(broker, "big")


def test_message_max_bytes_flag(broker_factory):
    b = broker_factory("--message-max-bytes", "2000")
    with kr.Conn(b.addr) as c:
        kr.metadata_v1(c, ["small"])
        assert kr.produce(c, "small", 0, kr.record_batch([(None, b"z" * 2100)]))[0] == \
            kr.MESSAGE_TOO_LARGE
        assert kr.produce(c, "small", 0, kr.record_batch([(None, b"z" * 1500)])) == (0, 0)


def test_produce_to_unknown_partition(broker):
    with kr.Conn(broker.addr) as c:
        kr.metadata_v1(c, ["onepart"])
        err, _ = kr.produce(c, "onepart", 5, kr.record_batch([(None, b"v")]))
        assert err == kr.UNKNOWN_TOPIC_OR_PARTITION


def test_bad_magic_and_count_mismatch(broker):
    with kr.Conn(broker.addr) as c:
        kr.metadata_v1(c, ["badbatch"])
        # recordsCount says 2 but lastOffsetDelta says 0 (one record): INVALID_RECORD or
        # CORRUPT_MESSAGE, but never stored.
        b = bytearray(kr.record_batch([(None, b"one")]))
        b[57:61] = struct.pack(">i", 2)
        b[17:21] = struct.pack(">I", kr.crc32c(bytes(b[21:])))
        err, _ = kr.produce(c, "badbatch", 0, bytes(b))
        assert err in (kr.INVALID_RECORD, kr.CORRUPT_MESSAGE), err
        assert kr.list_offsets_v1(c, "badbatch", 0, -1)[2] == 0
    still_serving(broker, "magic")


def test_garbage_bytes(broker):
    rng = random.Random(1234)
    for i in range(20):
        try:
            with kr.Conn(broker.addr, timeout=2) as c:
                data = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 600)))
                if i % 2:  # a plausible size field followed by noise
                    data = struct.pack(">i", len(data)) + data
                c.send_raw(data)
                c.closed_by_peer(timeout=0.3)
        except (ConnectionError, AssertionError, socket.timeout):
            pass  # whatever happens to this connection, the broker must survive
    still_serving(broker, "garbage")


def test_many_idle_connections_and_half_close(broker):
    socks = []
    try:
        for _ in range(50):
            socks.append(socket.create_connection(("127.0.0.1", broker.port), timeout=5))
        for s in socks[::2]:
            s.shutdown(socket.SHUT_WR)
        still_serving(broker, "idle")
    finally:
        for s in socks:
            s.close()
    time.sleep(0.2)
    still_serving(broker, "idle2")


def reset_close(conn):
    """Closes with an RST (SO_LINGER 0), so a later write by the broker fails with EPIPE."""
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def test_client_vanishes_before_its_answer(broker):
    """Writing an answer to a client that has gone must not kill the broker (SIGPIPE)."""
    topic = "vanish"
    with kr.Conn(broker.addr, timeout=30) as c:
        kr.metadata_v1(c, [topic])
        for _ in range(4):
            assert kr.produce(c, topic, 0, kr.record_batch([(None, b"v" * 900_000)]))[0] == 0
    fetch_all = (kr.i32(-1) + kr.i32(0) + kr.i32(1) + kr.i32(50 << 20) + kr.i8(0)
                 + kr.array([kr.string(topic) + kr.array([kr.i32(0) + kr.i64(0)
                                                          + kr.i32(50 << 20)])]))
    parked = (kr.i32(-1) + kr.i32(300) + kr.i32(1) + kr.i32(1 << 20) + kr.i8(0)
              + kr.array([kr.string(topic) + kr.array([kr.i32(0) + kr.i64(4)
                                                       + kr.i32(1 << 20)])]))
    for i in range(10):
        c = kr.Conn(broker.addr)
        c.send(kr.FETCH, 4, fetch_all)  # a ~3.6 MB answer
        time.sleep(0.02)
        reset_close(c)
        c = kr.Conn(broker.addr)
        c.send(kr.FETCH, 4, parked)  # answered empty after 300 ms, to nobody
        reset_close(c)
        # A parked fetch with more requests pipelined behind it, then a plain close: the
        # answers are written after the peer is gone, the second one to a reset socket.
        c = kr.Conn(broker.addr)
        c.send(kr.FETCH, 4, parked)
        for _ in range(3):
            c.send(kr.API_VERSIONS, 0, b"")
            c.send(kr.FETCH, 4, fetch_all)
        c.close()
    time.sleep(1.0)
    assert broker.running(), "herald died writing to closed connections:\n" + broker.log_tail()
    still_serving(broker, "vanish")
