"""kill -9 with the write-ahead journal on (log.journal.enable): whatever herald acknowledged with
acks=all must survive, exactly once and at its offset, when the crash hits produce to many
partitions, a checkpoint, a journal rotation, or the recovery of an earlier crash. Each test
prints its seed; HERALD_CRASH_SEED=<seed> replays the same kill times."""
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

import kafkaraw
from clients import create_topic
from conftest import wait_until

HERE = Path(__file__).resolve().parent

# Checkpoints every 100 ms and 1 MiB, journal files of 1 MiB: kills land in checkpoints and
# rotations all the time.
BUSY_JOURNAL = ("--journal", "--checkpoint-interval-ms", "100",
                "--checkpoint-interval-bytes", "1048576", "--journal-file-bytes", "1048576")


def seeded_rng(name):
    seed = int(os.environ.get("HERALD_CRASH_SEED") or (os.getpid() ^ int(time.time() * 1000)))
    print("%s: seed %d (HERALD_CRASH_SEED=%d to replay)" % (name, seed, seed))
    return random.Random(seed)


def read_acks(path):
    """{(partition, offset): value} from complete lines of the child's ack file."""
    acks = {}
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return acks
    for line in text.split("\n")[:-1]:  # the last piece may be a partial line
        n, part, off = line.split()
        acks[(int(part), int(off))] = int(n)
    return acks


def read_partition(addr, topic, part):
    """{offset: value}, asserting every batch's CRC and contiguous offsets from 0."""
    records = {}
    for b in kafkaraw.fetch_all_batches(addr, topic, part, timeout=60):
        assert b.crc_ok, "%s-%d: batch at %d has a bad CRC" % (topic, part, b.base_offset)
        for off, _ts, _key, value, _h in b.records():
            assert off not in records, "%s-%d: offset %d served twice" % (topic, part, off)
            records[off] = value
    assert sorted(records) == list(range(len(records))), \
        "%s-%d: offsets are not contiguous" % (topic, part)
    return records


def check_acknowledged(addr, topic, acknowledged, what):
    """Every acknowledged (partition, offset) holds its value after recovery."""
    by_part = {}
    for (part, off), value in acknowledged.items():
        by_part.setdefault(part, {})[off] = value
    bad = []
    for part, want in sorted(by_part.items()):
        got = read_partition(addr, topic, part)
        bad += [(part, off, v, got.get(off)) for off, v in want.items() if got.get(off) != v]
    assert not bad, "%s: %d of %d acknowledged records missing or changed, e.g. %r" % (
        what, len(bad), len(acknowledged), bad[:5])


def crash_rounds(b, topic, nparts, rounds, rng, name, kill_during_recovery=False, phase=0):
    """Kills b at a random moment of each round of produce (crash_producer_many.py; `phase`
    alternates one hot partition and all of them) and checks every acknowledged record."""
    acknowledged = {}
    for rnd in range(rounds):
        ack_file = b.tmp_dir / ("acks-%d.txt" % rnd)
        prefix = "r%d" % rnd
        child = subprocess.Popen([sys.executable, str(HERE / "crash_producer_many.py"), b.addr,
                                  topic, prefix, "2000000", str(nparts), str(ack_file),
                                  str(phase)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_until(lambda: len(read_acks(ack_file)) > 0, 60,
                       what="first acknowledgement in round %d" % rnd)
            time.sleep(rng.uniform(0.1, 2.0))
            b.kill9()
            time.sleep(1.0)  # let the child record acknowledgements already received
        finally:
            child.kill()
            child.wait(10)
        acks = read_acks(ack_file)
        assert acks, "round %d: nothing acknowledged" % rnd
        for key, n in acks.items():
            acknowledged[key] = b"%s-%d" % (prefix.encode(), n) + b"x" * 200
        if kill_during_recovery:
            # Crash the recovery itself, once or twice, at a random moment of it.
            for _ in range(rng.randint(1, 2)):
                b.proc = subprocess.Popen(b.argv(), stdout=open(b.log_path, "ab"),
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
                time.sleep(rng.uniform(0.0, 0.3))
                b.kill9()
        b.start(timeout=60)
        check_acknowledged(b.addr, topic, acknowledged, "%s round %d" % (name, rnd))
    return acknowledged


@pytest.mark.slow
def test_kill9_during_produce_to_1000_partitions(broker_factory):
    rng = seeded_rng("produce to 1000 partitions")
    b = broker_factory("--journal")
    create_topic(b.addr, "wide", partitions=1000)
    crash_rounds(b, "wide", 1000, 3, rng, "1000 partitions")
    assert "journal" in b.log_text() and "replayed" in b.log_text()


@pytest.mark.slow
def test_kill9_during_checkpoints_and_rotations(broker_factory):
    rng = seeded_rng("checkpoints and rotations")
    b = broker_factory(*BUSY_JOURNAL)
    create_topic(b.addr, "busy", partitions=50)
    crash_rounds(b, "busy", 50, 5, rng, "checkpoints and rotations")
    # The rounds did rotate and checkpoint (debug log) before being killed.
    assert "checkpoint at" in b.log_text()


@pytest.mark.slow
def test_kill9_during_recovery_recovers_again(broker_factory):
    rng = seeded_rng("recovery")
    b = broker_factory(*BUSY_JOURNAL)
    create_topic(b.addr, "again", partitions=200)
    crash_rounds(b, "again", 200, 4, rng, "crash during recovery", kill_during_recovery=True)


@pytest.mark.slow
def test_journal_and_segments_agree_after_clean_restart(broker_factory):
    """A clean stop after a crash-recovery leaves nothing to replay, and the recovered log
    keeps taking writes at its end."""
    rng = seeded_rng("clean restart")
    b = broker_factory(*BUSY_JOURNAL)
    create_topic(b.addr, "calm", partitions=20)
    acknowledged = crash_rounds(b, "calm", 20, 1, rng, "clean restart")
    b.restart()
    check_acknowledged(b.addr, "calm", acknowledged, "after a clean restart")
    ends = {p: len(read_partition(b.addr, "calm", p)) for p in range(20)}
    with kafkaraw.Conn(b.addr) as c:
        for p in range(20):
            assert kafkaraw.produce(c, "calm", p, kafkaraw.record_batch([(b"k", b"v")])) == \
                (0, ends[p])
