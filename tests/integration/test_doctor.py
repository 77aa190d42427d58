"""The architecture check: GET /health/architecture and `herald doctor`, against situations
built with real traffic — a type nobody consumes, a type without a schema, records without
trace context, a subject whose incompatible registration was refused, two groups whose lag
grows in the same samples, a subscription whose dead letters rise — each finding checked for
the topics, types, groups, subscriptions and producers it names. Also: subscription deliveries
count once in herald_records_out_total."""
import json
import subprocess
import time

import pytest
import requests
from confluent_kafka import Consumer, Producer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from conftest import HERALD_BIN

TIMEOUT = 10
TRACEPARENT = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
SCHEMA = {"type": "record", "name": "Order", "fields": [{"name": "id", "type": "string"}]}
BREAKING = {"type": "record", "name": "Order", "fields": [{"name": "id", "type": "int"}]}


def create(broker, name, partitions=1):
    r = requests.post(broker.http + "/topics", json={"name": name, "partitions": partitions},
                      timeout=TIMEOUT)
    assert r.status_code == 201, r.text


def send(broker, client_id, topic, n, type_, traced=False):
    p = Producer({"bootstrap.servers": broker.addr, "client.id": client_id, "linger.ms": 5,
                  "acks": "all"})
    headers = [("ce_specversion", b"1.0"), ("ce_id", b"x"), ("ce_source", b"/t"),
               ("ce_type", type_.encode())]
    if traced:
        headers.append(("traceparent", TRACEPARENT))
    for i in range(n):
        p.produce(topic, value=b'{"n": %d}' % i, headers=headers, partition=0)
    assert p.flush(TIMEOUT) == 0


def commit(broker, group, topic, offset):
    c = Consumer({"bootstrap.servers": broker.addr, "group.id": group,
                  "enable.auto.commit": False})
    c.commit(offsets=[TopicPartition(topic, 0, offset)], asynchronous=False)
    c.close()


def doctor(broker):
    r = requests.get(broker.http + "/health/architecture", timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()


def find(doc, check, **where):
    return [f for f in doc["findings"] if f["check"] == check and
            all(f.get(k) == v for k, v in where.items())]


@pytest.fixture
def troubled(broker_factory):
    """A broker where every check has something to find."""
    b = broker_factory("--console-sample-interval-ms", "1000")
    h = b.http
    for t in ("audit", "orders", "clicks", "emails"):
        create(b, t)
    # audit: a type nobody reads, without schema or trace context.
    send(b, "auditor", "audit", 12, "audit.logged")
    # orders: a registered subject, traced records, a group that reads them.
    r = requests.post(h + "/subjects/orders-value/versions", json={"schema": json.dumps(SCHEMA)},
                      timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    send(b, "shop", "orders", 12, "order.placed", traced=True)
    commit(b, "billing", "orders", 12)
    # A breaking change attempted, refused with 409.
    r = requests.post(h + "/subjects/orders-value/versions",
                      json={"schema": json.dumps(BREAKING)}, timeout=TIMEOUT)
    assert r.status_code == 409, r.text
    # emails: a subscription that dead-letters its one record after a first sample without.
    r = requests.post(h + "/subscriptions", timeout=TIMEOUT, json={
        "name": "mailer", "topic": "emails", "max_deliveries": 1, "start": "earliest"})
    assert r.status_code == 201, r.text
    send(b, "crm", "emails", 1, "email.requested", traced=True)
    # clicks: two groups stuck at 0 while records keep coming: lag grows in every sample.
    commit(b, "slow", "clicks", 0)
    commit(b, "slower", "clicks", 0)
    time.sleep(1.2)
    r = requests.post(h + "/subscriptions/mailer/receive", json={"max": 1, "wait_ms": 5000},
                      timeout=TIMEOUT)
    m, = r.json()["messages"]
    r = requests.post(h + "/subscriptions/mailer/nack", timeout=TIMEOUT,
                      json={"receipts": [m["receipt"]], "error": "smtp down"})
    assert r.status_code == 200, r.text
    # One producer, records every 0.2 s: every 1 s sample sees more of them.
    p = Producer({"bootstrap.servers": b.addr, "client.id": "tracker", "linger.ms": 0,
                  "acks": "all"})
    headers = [("ce_type", b"page.clicked"), ("traceparent", TRACEPARENT)]
    end = time.time() + 5.5
    while time.time() < end:
        for i in range(10):
            p.produce("clicks", value=b'{"n": %d}' % i, headers=headers, partition=0)
        assert p.flush(TIMEOUT) == 0
        time.sleep(0.2)
    return b


def test_findings_name_what_is_behind_them(troubled):
    doc = doctor(troubled)
    assert doc["status"] == "error"
    assert doc["catalog"] is True and doc["samples"] >= 5

    # event explosion
    f, = find(doc, "unconsumed_type", topic="audit")
    assert (f["type"], f["records"], f["producers"], f["severity"], f["category"]) == \
        ("audit.logged", 12, ["auditor"], "warning", "event_explosion")
    assert not find(doc, "unconsumed_type", topic="orders")
    assert not find(doc, "unconsumed_type", topic="clicks")

    # weak contracts
    f, = find(doc, "unschematized_type", topic="audit")
    assert (f["type"], f["kind"], f["producers"]) == ("audit.logged", "cloudevents", ["auditor"])
    assert not find(doc, "unschematized_type", topic="orders")  # orders-value is registered
    f, = find(doc, "unvalidated_topic", topic="orders")
    assert (f["severity"], f["subject"], f["records"], f["producers"]) == \
        ("warning", "orders-value", 12, ["shop"])
    f, = find(doc, "unvalidated_topic", topic="audit")
    assert (f["severity"], f["subject"]) == ("info", None)
    f, = find(doc, "breaking_change")
    assert (f["subject"], f["attempts"], f["severity"]) == ("orders-value", 1, "warning")

    # observability: audit's records carry no traceparent, the others do
    f, = find(doc, "untraced_type")
    assert (f["topic"], f["type"], f["records"], f["untraced"], f["share"]) == \
        ("audit", "audit.logged", 12, 12, 1.0)
    tc = doc["trace_context"]
    assert tc["traced"] == tc["records"] - 12 and tc["records"] > 12 + 12 + 1

    # fragile consumers
    for g in ("slow", "slower"):
        f, = find(doc, "growing_lag", group=g)
        assert f["severity"] == "warning" and f["samples"] >= 3 and f["to"] > f["from"]
    assert not find(doc, "growing_lag", group="billing")
    f, = find(doc, "dead_letters", subscription="mailer")
    assert (f["topic"], f["dead_letters"], f["rising"], f["severity"]) == \
        ("emails", 1, True, "error")

    # coupling: the two stuck groups got worse in the same samples
    f, = find(doc, "fail_together")
    assert sorted(c["id"] for c in f["consumers"]) == ["slow", "slower"]
    assert f["overlap"] >= 0.6

    assert doc["counts"] == {s: sum(1 for x in doc["findings"] if x["severity"] == s)
                             for s in ("error", "warning", "info")}
    by_check = {c["check"]: c["findings"] for c in doc["checks"]}
    assert by_check["unconsumed_type"] == 1 and by_check["dead_letters"] == 1

    from test_http_docs import check
    spec = requests.get(troubled.http + "/openapi.json", timeout=TIMEOUT).json()
    check(spec, "ArchitectureHealth", doc)


def test_cli_prints_the_report_and_exits_3_on_errors(troubled):
    r = subprocess.run([HERALD_BIN, "doctor", "--http", troubled.http], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 3, r.stderr
    out = r.stdout
    assert out.startswith("Architecture health of %s: error" % troubled.http)
    for heading in ("Event explosion", "Weak contracts", "Observability", "Fragile consumers",
                    "Coupling"):
        assert "\n" + heading + "\n" in out
    assert "ERROR    subscription mailer: 1 dead letters" in out
    assert "topic audit · type audit.logged · producers auditor" in out
    r = subprocess.run([HERALD_BIN, "doctor", "--http", troubled.http, "--json"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 3
    assert json.loads(r.stdout)["status"] == "error"


def test_healthy_broker_exits_0_and_unreachable_exits_1(broker):
    r = subprocess.run([HERALD_BIN, "doctor", "--http", broker.http], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[0].endswith(": ok (0 errors, 0 warnings, 0 info)")
    assert r.stdout.count("\n  ok\n") == 5
    r = subprocess.run([HERALD_BIN, "doctor", "--http", broker.http, "--strict"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    r = subprocess.run([HERALD_BIN, "doctor", "--http", "http://127.0.0.1:1"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and r.stderr.startswith("herald doctor: GET http://127.0.0.1:1/")
    r = subprocess.run([HERALD_BIN, "doctor", "extra"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 2


def test_warnings_fail_only_with_strict(broker):
    create(broker, "lonely")
    send(broker, "writer", "lonely", 1, "note.written", traced=True)
    r = subprocess.run([HERALD_BIN, "doctor", "--http", broker.http], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stdout
    assert "WARNING  note.written on lonely: 1 records, no group" in r.stdout
    r = subprocess.run([HERALD_BIN, "doctor", "--http", broker.http, "--strict"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 3


def records_out(broker, topic):
    text = requests.get(broker.http + "/metrics", timeout=TIMEOUT).text
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == "herald_records_out_total" and s.labels.get("topic") == topic:
                return s.value
    raise AssertionError("no herald_records_out_total for " + topic)


def test_subscription_deliveries_count_once_in_records_out(broker):
    create(broker, "jobs")
    r = requests.post(broker.http + "/subscriptions", timeout=TIMEOUT,
                      json={"name": "w", "topic": "jobs", "start": "earliest"})
    assert r.status_code == 201, r.text
    # One batch of 10 records, handed out one by one: the engine reads the batch each time.
    p = Producer({"bootstrap.servers": broker.addr, "linger.ms": 100, "acks": "all"})
    for i in range(10):
        p.produce("jobs", value=b"job-%d" % i, partition=0)
    assert p.flush(TIMEOUT) == 0
    assert records_out(broker, "jobs") == 0
    for i in range(10):
        r = requests.post(broker.http + "/subscriptions/w/receive",
                          json={"max": 1, "wait_ms": 5000}, timeout=TIMEOUT)
        m, = r.json()["messages"]
        assert requests.post(broker.http + "/subscriptions/w/ack", timeout=TIMEOUT,
                             json={"receipts": [m["receipt"]]}).status_code == 200
    assert records_out(broker, "jobs") == 10
    # A redelivery is a delivery too.
    p.produce("jobs", value=b"again", partition=0)
    assert p.flush(TIMEOUT) == 0
    m, = requests.post(broker.http + "/subscriptions/w/receive", json={"max": 1, "wait_ms": 5000},
                       timeout=TIMEOUT).json()["messages"]
    requests.post(broker.http + "/subscriptions/w/nack", timeout=TIMEOUT,
                  json={"receipts": [m["receipt"]], "delay_ms": 0})
    m, = requests.post(broker.http + "/subscriptions/w/receive", json={"max": 1, "wait_ms": 2000},
                       timeout=TIMEOUT).json()["messages"]
    assert records_out(broker, "jobs") == 12
