"""kill -9 durability: whatever herald acknowledged with acks=all must survive a crash, exactly
once and at the acknowledged offset."""
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

import kafkaraw
from clients import consume, produce_all
from conftest import wait_until

HERE = Path(__file__).resolve().parent


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
    assert "recover" in broker.log_text()[before:].lower(), "no recovery logged after kill -9"
    got = consume(broker.addr, "rec", [0, 1], 200, timeout=30)
    assert sorted((m.partition(), m.offset(), m.key(), m.value()) for m in got) == sorted(
        (r["partition"], r["offset"], m["key"], m["value"]) for r, m in zip(reps, msgs))
    reps2 = produce_all(broker.addr, [{"topic": "rec", "value": b"next", "partition": 1}])
    assert reps2[0]["offset"] == 100
