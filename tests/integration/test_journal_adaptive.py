"""The journal's adaptive write path (log.journal.direct.bytes; src/log/partition.c, "Direct
writes"): partitions switch between journaled batches and batches written straight to their
segments while producers run, and kill -9 must never lose an acknowledged record; recovery after
direct writes scans only what the last checkpoint did not cover. Each crash test prints its seed;
HERALD_CRASH_SEED=<seed> replays the same kill times."""
import re
import time

import pytest

import kafkaraw
from clients import create_topic
from test_journal_crash import BUSY_JOURNAL, check_acknowledged, crash_rounds, seeded_rng


@pytest.mark.slow
def test_kill9_while_every_partition_switches_mode_at_every_batch(broker_factory):
    """Every partition alternates journal and direct at each batch (the test mode -2), so each
    switch writes the pending journaled bytes before a direct write, and each round mixes
    journal-covered and segment-synced partitions; checkpoints and rotations run all along."""
    rng = seeded_rng("alternating modes")
    b = broker_factory(*BUSY_JOURNAL, "--journal-direct-bytes", "-2")
    create_topic(b.addr, "flip", partitions=40)
    acknowledged = crash_rounds(b, "flip", 40, 5, rng, "alternating modes")
    # A few more batches (each partition flips at each), then a clean stop, at which the journal
    # logs how its rounds synced the partitions; then everything is still there.
    with kafkaraw.Conn(b.addr) as c:
        for rep in range(3):
            for part in range(40):
                err, _base = kafkaraw.produce(c, "flip", part,
                                              kafkaraw.record_batch([(b"k", b"after-%d" % rep)]))
                assert err == 0
    b.stop()
    log = b.log_text()
    assert re.search(r"partitions synced by their segments [1-9]\d* times, by the journal "
                     r"[1-9]\d* times", log), "both kinds of rounds ran"
    b.start()
    check_acknowledged(b.addr, "flip", acknowledged, "after a clean restart")


@pytest.mark.slow
def test_kill9_while_one_hot_partition_alternates_with_many(broker_factory):
    """The adaptive rule itself: phases of one hot partition (large rounds: direct) and of 200
    partitions (small rounds: journaled) alternate during produce."""
    rng = seeded_rng("hot and wide phases")
    b = broker_factory(*BUSY_JOURNAL)
    create_topic(b.addr, "phases", partitions=200)
    crash_rounds(b, "phases", 200, 4, rng, "hot and wide phases", phase=3000)


@pytest.mark.slow
def test_kill9_with_every_batch_direct(broker_factory):
    rng = seeded_rng("always direct")
    b = broker_factory(*BUSY_JOURNAL, "--journal-direct-bytes", "0")
    create_topic(b.addr, "straight", partitions=8)
    crash_rounds(b, "straight", 8, 3, rng, "always direct")


def test_recovery_after_direct_writes_scans_only_since_the_checkpoint(broker_factory):
    """Direct bytes count towards the checkpoint's byte trigger (1 MiB here; the time trigger is
    a day away), so after 8 MiB of direct writes and a small tail, the restart scans about the
    tail, not the log."""
    b = broker_factory("--journal", "--journal-direct-bytes", "0",
                       "--checkpoint-interval-ms", "86400000",
                       "--checkpoint-interval-bytes", "1048576")
    create_topic(b.addr, "bounded", partitions=1)
    acknowledged = {}
    value = b"v" * 1000
    with kafkaraw.Conn(b.addr) as c:
        n = 0
        for _ in range(256):  # 256 batches of 32 records: about 8.5 MB
            recs = [(b"%d" % (n + i), value + b"%d" % (n + i)) for i in range(32)]
            err, base = kafkaraw.produce(c, "bounded", 0, kafkaraw.record_batch(recs))
            assert (err, base) == (0, n)
            for i, (_k, v) in enumerate(recs):
                acknowledged[(0, n + i)] = v
            n += 32
    # The checkpoint thread polls every 50 ms: let it cover what was written.
    marker = next(b.data_dir.rglob("bounded-0/clean-shutdown"), None)
    for _ in range(100):
        if marker is not None and marker.stat().st_size:
            break
        time.sleep(0.05)
        marker = next(b.data_dir.rglob("bounded-0/clean-shutdown"), None)
    assert marker is not None, "no checkpoint wrote the partition's marker"
    time.sleep(0.5)
    with kafkaraw.Conn(b.addr) as c:
        for i in range(4):
            recs = [(b"t%d" % i, b"tail-%d" % i)]
            err, base = kafkaraw.produce(c, "bounded", 0, kafkaraw.record_batch(recs))
            assert (err, base) == (0, n)
            acknowledged[(0, n)] = b"tail-%d" % i
            n += 1
    b.kill9()
    b.start(timeout=60)
    check_acknowledged(b.addr, "bounded", acknowledged, "after direct writes")
    scans = [int(m) for m in re.findall(r"bounded-0: recovered after an unclean shutdown: .*?"
                                        r"\((\d+) bytes scanned\)", b.log_text())]
    assert scans, "the partition was recovered by a scan"
    # The tail (4 small batches) and at most one checkpoint interval, never the 8.5 MB.
    assert 0 < scans[-1] <= 1048576 + 65536, scans
