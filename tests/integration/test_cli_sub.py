"""`herald sub` against a running broker over its HTTP API: what create stores, what list and
describe print, redrive and purge of real dead letters, delete, and the exit codes of bad
arguments, problems and an unreachable server."""
import json
import subprocess

import requests

from conftest import HERALD_BIN, wait_until
from test_subscriptions import T, mk_topic, produce, receive, settle, stats


def sub(broker, *args, url=None):
    r = subprocess.run([HERALD_BIN, "sub", *args, "--url", url or broker.http],
                       capture_output=True, timeout=60)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def test_sub_create_list_describe_delete(broker):
    b = broker
    mk_topic(b, "cli-orders", 3)
    rc, out, err = sub(b, "create", "cli-pay", "--topic", "cli-orders", "--partitions", "0,2",
                       "--ack-timeout", "5000", "--max-deliveries", "4",
                       "--backoff-initial", "200", "--backoff-multiplier", "3",
                       "--backoff-max", "9000", "--backoff-jitter", "0.1",
                       "--filter-key", "eu", "--ordering", "key", "--start", "earliest")
    assert (rc, out, err) == (0, "created subscription cli-pay on topic cli-orders\n", "")
    rc, out, _ = sub(b, "create", "cli-other", "-t", "cli-orders")
    assert rc == 0
    s = requests.get(b.http + "/subscriptions/cli-pay", timeout=T).json()
    assert s["topic"] == "cli-orders" and s["partitions"] == [0, 2]
    assert s["ack_timeout_ms"] == 5000 and s["max_deliveries"] == 4
    assert s["backoff"] == {"initial_ms": 200, "multiplier": 3, "max_ms": 9000, "jitter": 0.1}
    assert s["dead_letter_topic"] == "cli-pay-dlq" and s["ordering"] == "key"
    assert s["filter"] == {"key": "eu"}

    rc, out, _ = sub(b, "list")
    assert rc == 0 and sorted(out.splitlines()) == ["cli-other\tcli-orders",
                                                    "cli-pay\tcli-orders"]
    produce(b, "cli-orders", [{"key": "eu", "value": 1, "partition": 0}])
    rc, out, _ = sub(b, "describe", "cli-pay")
    d = json.loads(out)
    assert rc == 0 and d["name"] == "cli-pay" and d["stats"]["backlog"] == 1
    assert out.startswith("{\n  ")  # indented for people

    rc, out, err = sub(b, "delete", "cli-other")
    assert (rc, out) == (0, "deleted subscription cli-other\n")
    rc, out, err = sub(b, "describe", "cli-other")
    assert rc == 1 and out == ""
    assert err == "herald sub: subscription 'cli-other' does not exist (HTTP 404)\n"
    rc, out, err = sub(b, "create", "cli-pay", "--topic", "cli-orders")
    assert rc == 1 and "already exists (HTTP 409)" in err
    rc, out, err = sub(b, "create", "x", "--topic", "cli-orders", "--ordering", "random")
    assert rc == 1 and "ordering must be" in err and "(HTTP 400)" in err


def test_sub_redrive_and_purge_real_dead_letters(broker):
    b = broker
    mk_topic(b, "cli-jobs", 1)
    assert sub(b, "create", "cli-w", "--topic", "cli-jobs", "--max-deliveries", "1")[0] == 0
    produce(b, "cli-jobs", [{"value": "job%d" % i} for i in range(3)])
    msgs = receive(b, "cli-w", max=10)
    assert [m["value"] for m in msgs] == ["job0", "job1", "job2"]
    assert settle(b, "cli-w", "nack", [m["receipt"] for m in msgs], error="bad") == ["ok"] * 3
    # Dead-lettering follows the nacks: the records are appended to the DLQ topic and made durable.
    wait_until(lambda: stats(b, "cli-w")["dead_lettered"] == 3, 10, what="three dead letters")

    r = requests.get(b.http + "/topics/cli-w-dlq/records?partition=0&offset=1&limit=1",
                     timeout=T)
    at1 = r.json()["records"][0]
    assert at1["headers"]["herald-dlq-error"] == "bad"

    rc, out, err = sub(b, "redrive", "cli-w", "--from", "1", "--to", "2")
    assert (rc, out, err) == (0, "redriven 1, missing 0\n", "")
    again = receive(b, "cli-w", max=10, wait_ms=2000)
    assert [m["value"] for m in again] == [at1["value"]] and again[0]["delivery_count"] == 1
    assert settle(b, "cli-w", "ack", [again[0]["receipt"]]) == ["ok"]
    wait_until(lambda: stats(b, "cli-w")["dead_lettered"] == 2, 10, what="two dead letters")
    rc, out, _ = sub(b, "purge", "cli-w")
    assert (rc, out) == (0, "purged 2\n")
    assert stats(b, "cli-w")["dead_lettered"] == 0
    rc, out, _ = sub(b, "redrive", "cli-w")
    assert (rc, out) == (0, "redriven 0, missing 0\n")


def test_sub_usage_and_connection_errors(broker):
    b = broker
    rc, out, _ = sub(b, "--help")
    assert rc == 0 and "herald sub create NAME --topic T" in out
    for args in [("create", "x"), ("create",), ("list", "extra"), ("describe",),
                 ("frob", "x"), ("describe", "x", "--topic", "t"), ("purge", "x", "--from", "1"),
                 ("create", "x", "-t", "t", "--partitions", "1,a"),
                 ("create", "x", "-t", "t", "--ack-timeout", "-5"), ("list", "--bogus")]:
        rc, out, err = sub(b, *args)
        assert rc == 2 and out == "" and err.startswith("herald sub: "), (args, rc, err)
    rc, out, err = sub(b, "list", url="http://127.0.0.1:1")
    assert rc == 1 and err.startswith("herald sub: GET http://127.0.0.1:1/subscriptions: ")
