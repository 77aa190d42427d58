"""kill -9 durability: whatever herald acknowledged with acks=all must survive a crash, exactly
once and at the acknowledged offset."""
import os
import random
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

import kafkaraw
from clients import consume, produce_all
from conftest import wait_until

HERE = Path(__file__).resolve().parent


@pytest.fixture(autouse=True, params=["segments", "journal", "journal-only"])
def storage(request, monkeypatch):
    """Every test here runs three times: partitions synced on their own, with the journal (its
    adaptive write path: partitions with large rounds write straight to their segments), and with
    every batch journaled (log.journal.direct.bytes -1)."""
    # All explicit, whichever is the default.
    monkeypatch.setenv("HERALD_LOG_JOURNAL_ENABLE", "0" if request.param == "segments" else "1")
    monkeypatch.setenv("HERALD_LOG_JOURNAL_DIRECT_BYTES",
                       "-1" if request.param == "journal-only" else "-3")
    return request.param


def read_acks(path):
    """{n: offset} from complete lines of the child's ack file."""
    acks = {}
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return acks
    for line in text.split("\n")[:-1]:  # the last piece may be a partial line
        n, off = line.split()
        acks[int(n)] = int(off)
    return acks


def read_log(addr, topic):
    """{offset: value} of partition 0, asserting offsets are contiguous from 0."""
    records = {}
    for b in kafkaraw.fetch_all_batches(addr, topic, 0, timeout=60):
        assert b.crc_ok, "batch at %d has a bad CRC after recovery" % b.base_offset
        for off, _ts, _key, value, _h in b.records():
            assert off not in records, "offset %d served twice" % off
            records[off] = value
    assert sorted(records) == list(range(len(records))), "offsets are not contiguous"
    return records


@pytest.mark.slow
def test_kill9_during_acks_all_produce(broker, tmp_path):
    topic = "crashy"
    rng = random.Random(os.getpid() ^ int(time.time()))
    acknowledged = {}  # value -> offset, over all rounds
    for rnd in range(5):
        ack_file = tmp_path / ("acks-%d.txt" % rnd)
        prefix = "r%d" % rnd
        child = subprocess.Popen([sys.executable, str(HERE / "crash_producer.py"), broker.addr,
                                  topic, prefix, "200000", str(ack_file)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_until(lambda: len(read_acks(ack_file)) > 0, 30,
                       what="first acknowledgement in round %d" % rnd)
            time.sleep(rng.uniform(0.0, 1.5))
            broker.kill9()
            time.sleep(1.0)  # let the child record acknowledgements already received
        finally:
            child.kill()
            child.wait(10)
        acks = read_acks(ack_file)
        assert acks, "round %d: nothing acknowledged" % rnd
        for n, off in acks.items():
            acknowledged[b"%s-%d" % (prefix.encode(), n)] = off

        broker.start()
        log = read_log(broker.addr, topic)
        seen = {}
        for off, value in log.items():
            seen.setdefault(value, []).append(off)
        bad = [(v, off, seen.get(v)) for v, off in acknowledged.items() if seen.get(v) != [off]]
        assert not bad, ("round %d: %d of %d acknowledged records missing, moved or duplicated, "
                         "e.g. %r" % (rnd, len(bad), len(acknowledged), bad[:5]))

    # The recovered log still takes writes at its end.
    end = len(read_log(broker.addr, topic))
    reps = produce_all(broker.addr, [{"topic": topic, "value": b"after", "partition": 0}])
    assert reps[0]["offset"] == end


@pytest.mark.slow
def test_produce_kill9_restart_recovers(broker):
    msgs = [{"topic": "rec", "key": b"%d" % i, "value": b"v" * (i % 50) + b"%d" % i,
             "partition": i % 2} for i in range(200)]
    # Two partitions: auto-create with the default of 1 would not do, so make the topic first.
    from clients import create_topic
    create_topic(broker.addr, "rec", partitions=2)
    reps = produce_all(broker.addr, msgs, compression_type="lz4")
    before = len(broker.log_text())
    broker.kill9()
    broker.start()
    wait_until(lambda: "herald serving" in broker.log_text()[before:], 10, what="startup line")
    got = consume(broker.addr, "rec", [0, 1], 200, timeout=30)
    assert sorted((m.partition(), m.offset(), m.key(), m.value()) for m in got) == sorted(
        (r["partition"], r["offset"], m["key"], m["value"]) for r, m in zip(reps, msgs))
    reps2 = produce_all(broker.addr, [{"topic": "rec", "value": b"next", "partition": 1}])
    assert reps2[0]["offset"] == 100
    assert "recover" in broker.log_text()[before:].lower(), "no recovery logged after kill -9"


def data_end(path):
    """Byte position just after the last whole batch of a segment file (which may be
    preallocated with zeros after it)."""
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while len(data) - pos >= 12:
        length = struct.unpack(">i", data[pos + 8:pos + 12])[0]
        if length <= 0 or pos + 12 + length > len(data):
            break
        pos += 12 + length
    return pos


@pytest.mark.parametrize("damage", ["torn", "bad-crc", "garbage"])
def test_torn_tail_is_truncated_on_restart(broker_factory, damage):
    """A crash in the middle of a write (power loss) leaves part of a batch at the end of the
    active segment: recovery must cut it and keep every whole batch before it."""
    b = broker_factory("--segment-bytes", "1048576")
    topic = "torn"
    value = bytes(range(256)) * 64  # 16 KiB records: about 64 per segment
    with kafkaraw.Conn(b.addr) as c:
        kafkaraw.metadata_v1(c, [topic])
        for i in range(150):
            batch = kafkaraw.record_batch([(b"%d" % i, value)])
            assert kafkaraw.produce(c, topic, 0, batch) == (0, i)
    b.kill9()
    part = b.data_dir / "topics" / (topic + "-0")
    segs = sorted(part.glob("*.log"))
    assert len(segs) >= 2, "expected the log to have rolled: %s" % segs
    active = segs[-1]
    end = data_end(active)
    assert end > 0
    extra = kafkaraw.record_batch([(b"torn", b"t" * 5000)], base_offset=150)
    if damage == "torn":
        tail = extra[:len(extra) // 2]
    elif damage == "bad-crc":
        tail = bytearray(extra)
        tail[-1] ^= 0x55
        tail = bytes(tail)
    else:
        tail = bytes(random.Random(7).getrandbits(8) for _ in range(3000))
    with open(active, "r+b") as f:
        f.seek(end)
        f.write(tail)
    before = len(b.log_text())
    b.start()
    log = read_log(b.addr, topic)
    assert len(log) == 150
    assert all(log[i] == value for i in range(150))
    with kafkaraw.Conn(b.addr) as c:
        assert kafkaraw.list_offsets_v1(c, topic, 0, -1)[2] == 150
        assert kafkaraw.produce(c, topic, 0, kafkaraw.record_batch([(b"n", b"next")])) == \
            (0, 150)
    assert damage == "garbage" or "truncat" in b.log_text()[before:], \
        "the cut tail was not logged"
    b.restart()
    assert len(read_log(b.addr, topic)) == 151
