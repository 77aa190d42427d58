"""GET /health: the broker's own health, for probes and alerts, in the Health Check Response
Format: 200 while it can make writes durable, 503 once a failed sync left it unable to. A disk
that starts failing is simulated by tests/shim/failsync_shim.c (fdatasync, fsync and syncfs fail
with EIO while a trigger file exists)."""
import os

import requests
from confluent_kafka import KafkaError

from clients import consume, make_producer, produce_all
from conftest import HERALD_BIN, wait_until
from test_http_docs import check


def spec(b):
    return requests.get(b.http + "/openapi.json", timeout=10).json()

SHIM = os.path.join(os.path.dirname(HERALD_BIN), "failsync_shim.so")


def health(b):
    r = requests.get(b.http + "/health", timeout=10)
    assert r.headers["Content-Type"].startswith("application/health+json"), r.headers
    return r.status_code, r.json()


def failing_broker(broker_factory, tmp_path, *args):
    trigger = tmp_path / "fail-syncs"
    env = {"LD_PRELOAD": SHIM, "HERALD_TEST_FAIL_SYNC_FILE": str(trigger),
           # The shim is preloaded ahead of the sanitizer's runtime in the ASan build.
           "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:verify_asan_link_order=0"}
    return broker_factory(*args, env=env), trigger


def produce_one(b, topic, value):
    """Returns the delivery error of one record (None when acknowledged)."""
    p = make_producer(b.addr, **{"message.timeout.ms": 4000, "retries": 0})
    errs = []
    p.produce(topic, value, partition=0, on_delivery=lambda err, msg: errs.append(err))
    p.flush(10)
    assert len(errs) == 1
    return errs[0]


def test_healthy_broker_passes(broker):
    produce_all(broker.addr, [{"topic": "h", "value": b"x"}])
    status, body = health(broker)
    assert status == 200 and body["status"] == "pass", body
    checks = body["checks"]
    assert checks["journal:writes"][0]["status"] == "pass"
    assert checks["journal:checkpoints"][0] == {"status": "pass", "observedValue": 0,
                                                "observedUnit": "failures"}
    assert checks["partitions:syncs"][0] == {"status": "pass", "observedValue": 0,
                                             "observedUnit": "partitions"}
    files = checks["process:open-files"][0]
    assert files["status"] == "pass" and files["observedUnit"] == "files"
    assert files["observedValue"] > 5


def test_failed_journal_sync_fails_health_until_restart(broker_factory, tmp_path):
    b, trigger = failing_broker(broker_factory, tmp_path, "--journal-direct-bytes", "-1")
    assert produce_one(b, "hj", b"before") is None
    assert health(b)[0] == 200

    trigger.touch()
    err = produce_one(b, "hj", b"during")
    assert err is not None and err.code() in (KafkaError.KAFKA_STORAGE_ERROR,
                                              KafkaError._MSG_TIMED_OUT), err
    status, body = health(b)
    assert status == 503 and body["status"] == "fail", body
    check(spec(b), "Health", body)
    writes = body["checks"]["journal:writes"][0]
    assert writes["status"] == "fail"
    assert "Input/output error" in writes["output"] and "restart" in writes["output"]

    # The disk recovers, the journal stays refusing until the broker restarts.
    trigger.unlink()
    assert health(b)[0] == 503
    assert produce_one(b, "hj", b"after") is not None
    b.kill9()
    b.start()
    status, body = health(b)
    assert status == 200 and body["status"] == "pass", body
    assert produce_one(b, "hj", b"restarted") is None
    values = [m.value() for m in consume(b.addr, "hj", [0], 4, timeout=10)]
    assert values[0] == b"before" and values[-1] == b"restarted", values
    assert b"after" not in values


def test_failed_partition_sync_names_the_partition(broker_factory, tmp_path):
    b, trigger = failing_broker(broker_factory, tmp_path, "--journal", "false")
    assert produce_one(b, "hp", b"ok") is None
    trigger.touch()
    assert produce_one(b, "hp", b"lost") is not None
    status, body = health(b)
    assert status == 503, body
    syncs = body["checks"]["partitions:syncs"][0]
    assert syncs["status"] == "fail" and syncs["observedValue"] == 1
    assert "hp-0 (Input/output error)" in syncs["output"]
    assert "journal:writes" not in body["checks"]  # no journal
    trigger.unlink()
    b.kill9()
    b.start()
    wait_until(lambda: health(b)[0] == 200, 10, what="a healthy broker after the restart")
