"""The web console (served at / to browsers) in headless Chromium, driven by playwright-core
(js/console.js): with known traffic on two topics (CloudEvents over HTTP and Kafka, two consumer
groups that commit, a subscription with a dead letter), every page must load without console
errors and show the real values: topics with their counts and rates, groups with their lag,
the subscription's backlog and dead letters (and Redrive must hand the dead letter back), the
catalog's types, producers and consumers and its lineage graph, the charts of the last samples;
and a record produced while the live tail is open must appear in it. The screenshots are docs/img/console-*.png (rewritten
when HERALD_UPDATE_SCREENSHOTS=1 or when missing)."""
import json
import os
import shutil
import time
from pathlib import Path

import pytest
import requests
from confluent_kafka import Consumer, Producer, TopicPartition

from test_http_browser import CHROMIUM, Node, png_size

REPO = Path(__file__).resolve().parents[2]
DOC_IMG = REPO / "docs" / "img"
PAGES = ("topics", "groups", "subscriptions", "catalog", "charts", "health", "tail")
TIMEOUT = 10


def ce(type_, id_):
    return [("ce_specversion", b"1.0"), ("ce_id", id_.encode()), ("ce_source", b"/shop"),
            ("ce_type", type_.encode()), ("content-type", b"application/json")]


def commit(broker, group, topic, offsets):
    c = Consumer({"bootstrap.servers": broker.addr, "group.id": group, "client.id": group,
                  "enable.auto.commit": False})
    c.commit(offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()],
             asynchronous=False)
    c.close()


@pytest.mark.slow
def test_console_in_chromium(broker_factory, js_dir, tmp_path):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail("%s is missing: `make deps` installs Debian's chromium" % CHROMIUM)
    broker = broker_factory("--console-sample-interval-ms", "1000")
    h = broker.http
    for name, parts in (("orders", 2), ("payments", 1)):
        r = requests.post(h + "/topics", json={"name": name, "partitions": parts},
                          timeout=TIMEOUT)
        assert r.status_code == 201, r.text

    # A subscription on orders that dead-letters a record at its first refusal.
    r = requests.post(h + "/subscriptions", timeout=TIMEOUT, json={
        "name": "mailer", "topic": "orders", "max_deliveries": 1, "start": "earliest"})
    assert r.status_code == 201, r.text

    # A few seconds of traffic, so the charts have samples with rates and lag.
    warehouse = Producer({"bootstrap.servers": broker.addr, "client.id": "warehouse",
                          "linger.ms": 0, "acks": "all"})
    billing = Producer({"bootstrap.servers": broker.addr, "client.id": "billing",
                        "linger.ms": 0, "acks": "all"})
    n_orders = n_pay = 0
    for second in range(5):
        for i in range(2 + second):
            r = requests.post(h + "/topics/orders/events", timeout=TIMEOUT, json={
                "specversion": "1.0", "id": "p-%d-%d" % (second, i), "source": "/shop",
                "type": "com.example.order.placed", "partitionkey": "o-%d" % i,
                "data": {"order_id": "o-%d" % i, "total": 10 + i}},
                headers={"Content-Type": "application/cloudevents+json",
                         "Herald-Client-Id": "web-shop"})
            assert r.status_code == 200, r.text
            n_orders += 1
        warehouse.produce("orders", key=b"o-0", value=b'{"order_id": "o-0"}', partition=0,
                          headers=ce("com.example.order.shipped", "s-%d" % second))
        n_orders += 1
        for i in range(3):
            billing.produce("payments", value=b'{"amount": 12.5}',
                            headers=ce("com.example.payment.captured", "c-%d-%d" % (second, i)))
            n_pay += 1
        assert warehouse.flush(TIMEOUT) == 0 and billing.flush(TIMEOUT) == 0
        # shipping falls behind on orders; audit keeps up with payments.
        commit(broker, "shipping", "orders", {0: second, 1: second})
        commit(broker, "audit", "payments", {0: n_pay})
        time.sleep(1.0)
    r = requests.post(h + "/subscriptions/mailer/receive", json={"max": 1}, timeout=TIMEOUT)
    assert r.status_code == 200 and len(r.json()["messages"]) == 1, r.text
    receipt = r.json()["messages"][0]["receipt"]
    r = requests.post(h + "/subscriptions/mailer/nack", json={"receipts": [receipt]},
                      timeout=TIMEOUT)
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "ok", r.text
    deadline = time.monotonic() + TIMEOUT
    while True:
        ends = requests.get(h + "/console/api/overview", timeout=TIMEOUT).json()
        if ends["subscriptions"][0]["dead_lettered"] == 1:
            break
        assert time.monotonic() < deadline, ends["subscriptions"]
        time.sleep(0.1)
    lag = {g["group"]: g["lag"] for g in ends["groups"]}
    assert lag == {"shipping": n_orders - 8, "audit": 0}, lag

    mark = "console-mark-%d" % os.getpid()
    node = Node(["node", str(js_dir / "console.js"), h, str(tmp_path), "orders", mark, "30000"],
                cwd=js_dir)
    delivered = []
    try:
        ready = node.next_event(120)
        assert ready["event"] == "ready", json.dumps(ready, indent=1)
        warehouse.produce("orders", key=b"o-9", partition=1,
                          value=json.dumps({"order_id": "o-9", "note": mark}).encode(),
                          headers=ce("com.example.order.delivered", "d-1"),
                          on_delivery=lambda err, msg: delivered.append((err, msg)))
        assert warehouse.flush(TIMEOUT) == 0
        done = node.next_event(60)
    finally:
        node.stop()
    (tmp_path / "console.json").write_text(json.dumps(done, indent=1))  # for a failing run
    assert done["event"] == "done", json.dumps(done, indent=1)[:4000]
    assert done["console_errors"] == []
    pages = done["pages"]
    assert pages["content_type"].startswith("text/html")

    # Topics: counts as stored, and the rate cards.
    topics = pages["topics"]
    assert topics["nav"] == ["topics", "groups", "subscriptions", "catalog", "tail", "charts",
                            "health"]
    assert topics["cards"]["topics"] == "3" and topics["cards"]["groups"] == "2"
    rows = {r["topic"]: r for r in topics["rows"]}
    assert (rows["orders"]["partitions"], rows["orders"]["records"],
            rows["orders"]["records_in"]) == ("2", str(n_orders), str(n_orders))
    assert (rows["payments"]["records"], rows["payments"]["records_in"]) == (str(n_pay),) * 2
    assert rows["payments"]["records_out"] == "0"

    # Groups: lag per group, and per partition once opened.
    groups = {g["group"]: g for g in pages["groups"]["rows"]}
    assert groups["shipping"]["lag"] == str(n_orders - 8)
    assert groups["audit"]["lag"] == "0"
    assert groups["shipping"]["topics"] == "orders" and groups["shipping"]["members"] == []
    assert groups["shipping"]["state"] == "Empty"
    parts = pages["groups"]["partitions"]
    assert sum(int(p["lag"]) for p in parts) in (0, n_orders - 8)  # the group opened first

    # Subscriptions: the dead letter, then Redrive hands it back (backlog + 1).
    before, = pages["subscriptions"]["before"]
    assert (before["name"], before["dead_lettered"], before["in_flight"]) == ("mailer", "1", "0")
    assert before["backlog"] == str(n_orders - 1) and before["redrive_enabled"]
    after, = pages["subscriptions"]["after"]
    assert (after["dead_lettered"], after["backlog"]) == ("0", str(n_orders))
    assert after["redrive_result"] == "redriven 1" and not after["redrive_enabled"]
    sub = requests.get(h + "/subscriptions/mailer", timeout=TIMEOUT).json()["stats"]
    assert (sub["dead_lettered"], sub["backlog"]) == (0, n_orders + 1)  # + the tail's record

    # Catalog: every type, with its producers and the topic's consumers, and the lineage.
    types = {(t["topic"], t["type"]): t for t in pages["catalog"]["types"]}
    assert set(types) == {("orders", "com.example.order.placed"),
                          ("orders", "com.example.order.shipped"),
                          ("payments", "com.example.payment.captured"),
                          ("mailer-dlq", "com.example.order.placed")}
    placed = types[("orders", "com.example.order.placed")]
    assert placed["records"] == str(n_orders - 5) and placed["producers"] == ["web-shop"]
    assert placed["consumers"] == ["shipping", "mailer"]
    assert types[("orders", "com.example.order.shipped")]["producers"] == ["warehouse"]
    pay = types[("payments", "com.example.payment.captured")]
    assert (pay["records"], pay["producers"], pay["consumers"]) == \
        (str(n_pay), ["billing"], ["audit"])
    dead = types[("mailer-dlq", "com.example.order.placed")]
    assert (dead["records"], dead["producers"]) == ("1", ["herald (subscription mailer)"])
    nodes = {(n["kind"], n["id"]) for n in pages["catalog"]["nodes"]}
    assert nodes == {("producer", "web-shop"), ("producer", "warehouse"),
                     ("producer", "billing"), ("producer", "herald (subscription mailer)"),
                     ("type", "com.example.order.placed"),
                     ("type", "com.example.order.shipped"),
                     ("type", "com.example.payment.captured"),
                     ("consumer", "shipping"), ("consumer", "audit"), ("consumer", "mailer")}
    assert len(pages["catalog"]["nodes"]) == 11  # order.placed twice: orders and mailer-dlq
    edges = {tuple(e) for e in pages["catalog"]["edges"]}
    assert ("producer:web-shop", "type:orders/com.example.order.placed") in edges
    assert ("type:orders/com.example.order.shipped", "consumer:group:shipping") in edges
    assert ("type:orders/com.example.order.placed", "consumer:subscription:mailer") in edges
    assert ("type:payments/com.example.payment.captured", "consumer:group:audit") in edges
    assert len(edges) == 9

    # Charts: a line per topic and per group over the samples taken.
    charts = pages["charts"]
    assert sorted(s["name"] for s in charts["in"]) == ["mailer-dlq", "orders", "payments"]
    assert all(s["points"] >= 4 for s in charts["in"] if s["name"] != "mailer-dlq"), charts
    assert sorted(s["name"] for s in charts["lag"]) == ["audit", "shipping"]

    # Health: a panel per category; the untyped-contract and trace findings name their type
    # and producers (no record here has a schema or a traceparent).
    health = pages["health"]
    assert health["categories"] == ["event_explosion", "weak_contracts", "observability",
                                    "fragile_consumers", "coupling"]
    assert health["status"] in ("warning", "error")
    found = {(f["check"], f["message"].split(" ")[0]): f for f in health["findings"]}
    f = found[("unschematized_type", "com.example.order.placed")]
    assert f["severity"] == "warning" and f["category"] == "weak_contracts"
    assert {"topic orders", "type com.example.order.placed", "producer web-shop"} <= \
        set(f["subjects"]), f
    f = found[("untraced_type", "com.example.payment.captured")]
    assert {"topic payments", "producer billing"} <= set(f["subjects"]), f
    assert ("unconsumed_type", "com.example.order.placed") not in found  # shipping reads it

    # Live tail: the record produced while it was open, once, where it was stored.
    tail = done["tail"]
    assert tail["state"] == "live" and tail["topic"] == "orders"
    (err, msg), = delivered
    assert err is None
    assert len(tail["records"]) == 1, tail
    rec = tail["records"][0]
    assert (rec["partition"], rec["offset"]) == (msg.partition(), msg.offset())
    assert json.loads(rec["value"]) == {"order_id": "o-9", "note": mark}
    assert "com.example.order.delivered" in rec["text"]

    for name in PAGES:
        shot = tmp_path / ("console-%s.png" % name)
        width, height = png_size(shot)
        assert width == 1280 and height >= 800, (name, width, height)
        doc = DOC_IMG / shot.name
        if os.environ.get("HERALD_UPDATE_SCREENSHOTS") == "1" or not doc.exists():
            DOC_IMG.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, doc)
