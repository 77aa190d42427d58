"""The event catalog (GET /catalog), its AsyncAPI export (GET /asyncapi.json, validated with the
official @asyncapi/parser through js/asyncapi_validate.js), and the console's JSON (GET
/console/api/overview and /console/api/history), checked against known traffic: CloudEvents
over HTTP (binary and structured mode) and over Kafka (binary and structured mode), records in
the schema registry's wire format, untyped records, a consumer group that commits, and an SSE
stream."""
import asyncio
import json
import struct
import subprocess
import time

import pytest
import requests
import websockets
from confluent_kafka import Consumer, Producer, TopicPartition

TIMEOUT = 10

ORDER_SCHEMA = {"type": "record", "name": "Payment", "namespace": "com.example",
                "fields": [{"name": "order_id", "type": "string"},
                           {"name": "amount", "type": "double"}]}


def create(broker, name, partitions=1):
    r = requests.post(broker.http + "/topics", json={"name": name, "partitions": partitions},
                      timeout=TIMEOUT)
    assert r.status_code == 201, r.text


def kafka_send(broker, client_id, topic, records, compression="none"):
    """records: (key, value bytes, headers) tuples, all to partition 0."""
    p = Producer({"bootstrap.servers": broker.addr, "client.id": client_id, "linger.ms": 0,
                  "acks": "all", "compression.type": compression})
    errs = []
    for key, value, headers in records:
        p.produce(topic, key=key, value=value, headers=headers, partition=0,
                  on_delivery=lambda err, msg: errs.append(err))
    assert p.flush(TIMEOUT) == 0
    assert errs == [None] * len(records)


def ce_headers(type_, id_):
    return [("ce_specversion", b"1.0"), ("ce_id", id_.encode()), ("ce_source", b"/billing"),
            ("ce_type", type_.encode()), ("content-type", b"application/json")]


def by_topic(cat):
    return {t["topic"]: t for t in cat["topics"]}


def by_type(topic):
    return {t["type"]: t for t in topic["types"]}


def producers(ty):
    return {p["client_id"]: p["records"] for p in ty["producers"]}


@pytest.fixture
def traffic(broker_factory):
    """A broker with known traffic on orders (CloudEvents), payments (registry wire format) and
    notes (untyped), a group that consumed part of orders, and an open SSE stream on orders."""
    broker = broker_factory("--console-sample-interval-ms", "1000")
    create(broker, "orders", 2)
    create(broker, "payments")
    create(broker, "notes")
    h = broker.http
    # HTTP, structured mode, named by Herald-Client-Id.
    for i in range(2):
        r = requests.post(h + "/topics/orders/events", timeout=TIMEOUT,
                          headers={"Content-Type": "application/cloudevents+json",
                                   "Herald-Client-Id": "web-shop"},
                          data=json.dumps({"specversion": "1.0", "id": "p-%d" % i,
                                           "source": "/shop", "partitionkey": "o-%d" % i,
                                           "type": "com.example.order.placed",
                                           "data": {"order_id": "o-%d" % i, "total": 10 + i}}))
        assert r.status_code == 200, r.text
    # HTTP, binary mode, named by its User-Agent.
    r = requests.post(h + "/topics/orders/events", data=b'{"order_id": "o-0"}', timeout=TIMEOUT,
                      headers={"ce-specversion": "1.0", "ce-id": "pay-0", "ce-source": "/pay",
                               "ce-type": "com.example.order.paid",
                               "Content-Type": "application/json",
                               "User-Agent": "payments-gateway/2.1"})
    assert r.status_code == 200, r.text
    # Kafka, binary mode (ce_type header), three records.
    kafka_send(broker, "kafka-warehouse", "orders",
               [(b"o-%d" % i, b'{"order_id": "o-%d"}' % i,
                 ce_headers("com.example.order.shipped", "s-%d" % i)) for i in range(3)])
    # Kafka, structured mode: the type is inside the value; a nested "type" comes first.
    ev = {"data": {"type": "not-this-one", "n": [1, {"type": "nor-this"}]},
          "specversion": "1.0", "id": "r-1", "source": "/returns",
          "type": "com.example.order.returned"}
    kafka_send(broker, "kafka-returns", "orders",
               [(b"o-1", json.dumps(ev).encode(),
                 [("content-type", b"application/cloudevents+json; charset=utf-8")])])
    # The schema registry's wire format: magic 0, schema id, Avro body.
    r = requests.post(h + "/subjects/payments-value/versions", timeout=TIMEOUT,
                      json={"schema": json.dumps(ORDER_SCHEMA)})
    assert r.status_code == 200, r.text
    sid = r.json()["id"]
    body = b"\x06o-1" + struct.pack("<d", 12.5)  # Avro: string (zigzag length 3), double
    kafka_send(broker, "pay-svc", "payments",
               [(b"o-1", b"\x00" + struct.pack(">i", sid) + body, None)] * 2, "lz4")
    # Untyped records, over Kafka and HTTP (no client id given: the User-Agent of requests).
    kafka_send(broker, "note-taker", "notes", [(None, b"just text", None)])
    r = requests.post(h + "/topics/notes/records", json={"records": [{"value": "hello"}]},
                      headers={"User-Agent": "notes-cli"}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text

    # A group consumes 4 of the 7 records of orders and commits (partition 0 and 1).
    c = Consumer({"bootstrap.servers": broker.addr, "group.id": "shipping",
                  "client.id": "shipper", "enable.auto.commit": False,
                  "auto.offset.reset": "earliest"})
    ends = {}
    for p in (0, 1):
        _, hi = c.get_watermark_offsets(TopicPartition("orders", p), timeout=TIMEOUT)
        ends[p] = hi
    assert sum(ends.values()) == 7, ends
    commit = [TopicPartition("orders", 0, min(ends[0], 4)),
              TopicPartition("orders", 1, max(0, 4 - min(ends[0], 4)))]
    c.commit(offsets=commit, asynchronous=False)
    c.close()

    # An SSE stream stays open on orders while the catalog is read.
    stream = requests.get(h + "/topics/orders/events", stream=True, timeout=TIMEOUT,
                          headers={"Accept": "text/event-stream",
                                   "Herald-Client-Id": "dashboard"})
    assert stream.status_code == 200
    yield broker, sid
    stream.close()


def test_catalog_lists_types_producers_and_consumers(traffic):
    broker, sid = traffic
    r = requests.get(broker.http + "/catalog", timeout=TIMEOUT)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    cat = r.json()
    assert cat["enabled"] is True
    topics = by_topic(cat)
    assert set(topics) == {"orders", "payments", "notes"}

    orders = topics["orders"]
    assert orders["partitions"] == 2 and orders["records_seen"] == 7
    types = by_type(orders)
    assert set(types) == {"com.example.order.placed", "com.example.order.paid",
                          "com.example.order.shipped", "com.example.order.returned"}
    assert {t: types[t]["records"] for t in types} == {
        "com.example.order.placed": 2, "com.example.order.paid": 1,
        "com.example.order.shipped": 3, "com.example.order.returned": 1}
    assert all(t["kind"] == "cloudevents" for t in types.values())
    assert producers(types["com.example.order.placed"]) == {"web-shop": 2}
    assert producers(types["com.example.order.paid"]) == {"payments-gateway/2.1": 1}
    assert producers(types["com.example.order.shipped"]) == {"kafka-warehouse": 3}
    assert producers(types["com.example.order.returned"]) == {"kafka-returns": 1}
    shipped = types["com.example.order.shipped"]
    assert shipped["content_type"] == "application/json"
    assert shipped["sample"]["value"] == {"order_id": "o-0"}
    assert shipped["sample"]["partition"] == 0 and shipped["sample"]["offset"] >= 0
    assert shipped["first_seen"].endswith("Z") and shipped["last_seen"] >= shipped["first_seen"]
    assert shipped["bytes"] == 3 * len(b'{"order_id": "o-0"}')
    paid = types["com.example.order.paid"]
    assert paid["sample"]["value"] == {"order_id": "o-0"}

    consumers = {(c["kind"], c["id"]): c for c in orders["consumers"]}
    assert set(consumers) == {("group", "shipping"), ("stream", "dashboard")}
    g = consumers[("group", "shipping")]
    assert (g["lag"], g["partitions"]) == (3, 2)
    s = consumers[("stream", "dashboard")]
    assert (s["protocol"], s["open"]) == ("sse", 1)

    payments = by_type(topics["payments"])
    assert list(payments) == ["payments-value"]
    p = payments["payments-value"]
    assert p["kind"] == "schema" and p["records"] == 2
    assert p["schema"]["id"] == sid and p["schema"]["subject"] == "payments-value"
    assert p["schema"]["version"] == 1 and p["schema"]["schemaType"] == "AVRO"
    assert p["schema"]["schema"]["name"] == "Payment"
    assert producers(p) == {"pay-svc": 2}
    assert "value" not in p["sample"] and p["sample"]["value_b64"]
    assert topics["payments"]["consumers"] == []

    notes = by_type(topics["notes"])
    assert list(notes) == ["(untyped)"]
    assert notes["(untyped)"]["kind"] == "untyped" and notes["(untyped)"]["records"] == 2
    assert producers(notes["(untyped)"]) == {"note-taker": 1, "notes-cli": 1}


def test_stream_consumers_are_counted_while_open(traffic):
    broker, _ = traffic
    h = broker.http

    def streams():
        cat = requests.get(h + "/catalog", timeout=TIMEOUT).json()
        return {c["id"]: c["open"] for c in by_topic(cat)["orders"]["consumers"]
                if c["kind"] == "stream"}
    assert streams() == {"dashboard": 1}
    second = requests.get(h + "/topics/orders/events", stream=True, timeout=TIMEOUT,
                          headers={"Accept": "text/event-stream", "Herald-Client-Id": "dashboard"})
    assert streams() == {"dashboard": 2}
    second.close()
    deadline = time.monotonic() + TIMEOUT
    while streams() != {"dashboard": 1}:
        assert time.monotonic() < deadline, streams()
        time.sleep(0.05)


def test_deleted_topic_leaves_the_catalog(traffic):
    broker, _ = traffic
    assert requests.delete(broker.http + "/topics/notes", timeout=TIMEOUT).status_code == 204
    cat = requests.get(broker.http + "/catalog", timeout=TIMEOUT).json()
    assert set(by_topic(cat)) == {"orders", "payments"}
    create(broker, "notes")
    cat = requests.get(broker.http + "/catalog", timeout=TIMEOUT).json()
    assert by_topic(cat)["notes"]["types"] == []


def test_asyncapi_document_is_valid_and_complete(traffic, js_dir, tmp_path):
    broker, sid = traffic
    r = requests.get(broker.http + "/asyncapi.json", timeout=TIMEOUT)
    assert r.status_code == 200
    doc = r.json()
    assert doc["asyncapi"] == "3.0.0"
    assert doc["servers"]["kafka"] == {"host": broker.addr, "protocol": "kafka",
                                       "description": "Herald's Kafka listener"}
    assert doc["servers"]["http"]["host"] == broker.http.split("//")[1]
    assert set(doc["channels"]) == {"orders", "payments", "notes"}
    orders = doc["channels"]["orders"]
    assert orders["address"] == "orders"
    assert orders["bindings"]["kafka"]["partitions"] == 2
    msgs = doc["components"]["messages"]
    placed = msgs["orders.com.example.order.placed"]
    assert placed["name"] == "com.example.order.placed"
    assert placed["headers"]["properties"]["ce_type"]["const"] == "com.example.order.placed"
    assert placed["x-herald"]["records"] == 2
    pay = msgs["payments.payments-value"]
    assert pay["payload"]["schemaFormat"].startswith("application/vnd.apache.avro+json")
    assert pay["payload"]["schema"] == ORDER_SCHEMA and pay["x-herald"]["schema_id"] == sid
    ops = doc["operations"]
    assert ops["orders.send"]["action"] == "send"
    assert sorted(ops["orders.send"]["x-herald-producers"]) == [
        "kafka-returns", "kafka-warehouse", "payments-gateway/2.1", "web-shop"]
    assert ops["orders.receive"]["action"] == "receive"
    assert ops["orders.receive"]["bindings"]["kafka"]["groupId"]["enum"] == ["shipping"]
    assert "payments.receive" not in ops and "payments.send" in ops

    # The official parser accepts it, Avro payload included, and reads the same structure.
    f = tmp_path / "asyncapi.json"
    f.write_text(r.text)
    res = subprocess.run(["node", str(js_dir / "asyncapi_validate.js"), str(f)], cwd=js_dir,
                         capture_output=True, text=True, timeout=60)
    assert res.stdout, res.stderr
    out = json.loads(res.stdout)
    assert out["errors"] == [], out["errors"]
    assert res.returncode == 0, res.stderr
    assert sorted(out["channels"]) == ["notes", "orders", "payments"]
    assert sorted(out["messages"]["orders"]) == sorted([
        "com.example.order.placed", "com.example.order.paid", "com.example.order.shipped",
        "com.example.order.returned"])
    assert {(o["id"], o["action"]) for o in out["operations"]} == {
        ("orders.send", "send"), ("orders.receive", "receive"), ("payments.send", "send"),
        ("notes.send", "send")}


def test_asyncapi_parser_rejects_a_broken_document(traffic, js_dir, tmp_path):
    """The validation is real: a dangling message reference is an error."""
    broker, _ = traffic
    doc = requests.get(broker.http + "/asyncapi.json", timeout=TIMEOUT).json()
    doc["operations"]["orders.send"]["messages"].append(
        {"$ref": "#/channels/orders/messages/nope"})
    f = tmp_path / "broken.json"
    f.write_text(json.dumps(doc))
    res = subprocess.run(["node", str(js_dir / "asyncapi_validate.js"), str(f)], cwd=js_dir,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 1 and json.loads(res.stdout)["errors"], res.stdout


def test_overview_and_history(traffic):
    broker, _ = traffic
    h = broker.http
    ov = requests.get(h + "/console/api/overview", timeout=TIMEOUT).json()
    topics = {t["name"]: t for t in ov["topics"]}
    assert (topics["orders"]["records"], topics["orders"]["records_in"]) == (7, 7)
    assert topics["payments"]["records"] == 2 and topics["notes"]["partitions"] == 1
    groups = {g["group"]: g for g in ov["groups"]}
    assert groups["shipping"]["lag"] == 3
    rows = {(p["topic"], p["partition"]): p for p in groups["shipping"]["partitions"]}
    assert sum(p["lag"] for p in rows.values()) == 3
    assert all(p["end"] - p["committed"] == p["lag"] for p in rows.values())
    assert ov["features"] == {"catalog": True, "registry": True, "subscriptions": True,
                              "webhooks": False}
    assert ov["subscriptions"] == []
    assert ov["sample_interval_ms"] == 1000
    # Samples every second: the traffic shows as a rate, and the group's lag as 3.
    deadline = time.monotonic() + TIMEOUT
    while True:
        hist = requests.get(h + "/console/api/history", timeout=TIMEOUT).json()
        lag = [v for v in hist["groups"].get("shipping", {}).get("lag", []) if v is not None]
        if len(hist["times"]) >= 3 and lag:
            break
        assert time.monotonic() < deadline, hist
        time.sleep(0.2)
    assert hist["interval_ms"] == 1000 and hist["slots"] == 360
    assert hist["times"] == sorted(hist["times"])
    n = len(hist["times"])
    assert all(len(s["in"]) == n and len(s["out"]) == n for s in hist["topics"].values())
    assert lag[-1] == 3
    # All 7 records of orders arrived after the first sample: the rates add up to them.
    rates = hist["topics"]["orders"]["in"]
    steps = [(hist["times"][i] - hist["times"][i - 1]) / 1000 for i in range(1, n)]
    total = sum((r or 0) * dt for r, dt in zip(rates[1:], steps))
    assert abs(total - 7) < 0.2, (rates, steps)


def test_root_serves_the_console_to_browsers_and_json_to_others(broker):
    h = broker.http
    r = requests.get(h + "/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
                     timeout=TIMEOUT)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "<title>Herald console</title>" in r.text and r.headers["Vary"] == "Accept"
    assert r.text == requests.get(h + "/console/", timeout=TIMEOUT).text
    for accept in ("application/json", "*/*", None):
        r = requests.get(h + "/", headers={"Accept": accept} if accept else {}, timeout=TIMEOUT)
        assert r.status_code == 200 and r.json()["links"]["console"] == "/console/"
    r = requests.get(h + "/console/app.js", timeout=TIMEOUT)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/javascript")
    assert requests.get(h + "/console/nope.js", timeout=TIMEOUT).status_code == 404


def test_catalog_can_be_turned_off(broker_factory):
    broker = broker_factory("--catalog-enable", "false")
    create(broker, "quiet")
    kafka_send(broker, "x", "quiet", [(None, b"v", ce_headers("t.one", "1"))])
    cat = requests.get(broker.http + "/catalog", timeout=TIMEOUT).json()
    assert cat["enabled"] is False
    assert by_topic(cat)["quiet"]["types"] == [] and by_topic(cat)["quiet"]["records_seen"] == 0


def test_type_cap_bounds_memory(broker):
    """At most 32 types per topic; the records of further types are counted as other."""
    create(broker, "many")
    recs = [(None, b"{}", ce_headers("t.%d" % i, str(i))) for i in range(40)]
    kafka_send(broker, "spammer", "many", recs)
    t = by_topic(requests.get(broker.http + "/catalog", timeout=TIMEOUT).json())["many"]
    assert len(t["types"]) == 32 and t["other_records"] == 8 and t["records_seen"] == 40


def test_json_schema_types_and_websocket_consumers(broker, js_dir, tmp_path):
    """A JSON Schema registered in the registry becomes the message's payload (and the parser
    accepts it); a WebSocket client is listed as a consumer while connected."""
    create(broker, "shipments")
    schema = {"type": "object", "properties": {"id": {"type": "string"}},
              "required": ["id"]}
    r = requests.post(broker.http + "/subjects/shipments-value/versions", timeout=TIMEOUT,
                      json={"schemaType": "JSON", "schema": json.dumps(schema)})
    assert r.status_code == 200, r.text
    sid = r.json()["id"]
    kafka_send(broker, "shipper", "shipments",
               [(None, b"\x00" + struct.pack(">i", sid) + b'{"id": "s-1"}', None)])

    async def with_socket():
        url = broker.http.replace("http://", "ws://") + "/topics/shipments/ws"
        async with websockets.connect(url, extra_headers={"Herald-Client-Id": "tracker"},
                                      open_timeout=TIMEOUT):
            return requests.get(broker.http + "/catalog", timeout=TIMEOUT).json()
    cat = asyncio.run(with_socket())
    t = by_topic(cat)["shipments"]
    assert [(c["kind"], c["id"], c["protocol"], c["open"]) for c in t["consumers"]] == \
        [("stream", "tracker", "websocket", 1)]
    ty = by_type(t)["shipments-value"]
    assert (ty["schema"]["schemaType"], ty["schema"]["schema"]) == ("JSON", schema)

    doc = requests.get(broker.http + "/asyncapi.json", timeout=TIMEOUT).json()
    payload = doc["components"]["messages"]["shipments.shipments-value"]["payload"]
    assert payload == {"schemaFormat": "application/schema+json;version=draft-07",
                       "schema": schema}
    f = tmp_path / "asyncapi.json"
    f.write_text(json.dumps(doc))
    res = subprocess.run(["node", str(js_dir / "asyncapi_validate.js"), str(f)], cwd=js_dir,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and json.loads(res.stdout)["errors"] == [], res.stdout + res.stderr
    # Closed: the client stays listed with no stream open.
    deadline = time.monotonic() + TIMEOUT
    while True:
        t = by_topic(requests.get(broker.http + "/catalog", timeout=TIMEOUT).json())["shipments"]
        if t["consumers"][0]["open"] == 0:
            break
        assert time.monotonic() < deadline, t["consumers"]
        time.sleep(0.05)


def test_subscriptions_are_consumers(broker):
    create(broker, "jobs")
    r = requests.post(broker.http + "/subscriptions", timeout=TIMEOUT, json={
        "name": "workers", "topic": "jobs", "max_deliveries": 3, "start": "earliest"})
    assert r.status_code == 201, r.text
    kafka_send(broker, "scheduler", "jobs", [(None, b'{"job": %d}' % i, ce_headers("job.due", str(i)))
                                              for i in range(4)])
    r = requests.post(broker.http + "/subscriptions/workers/receive", json={"max": 1},
                      timeout=TIMEOUT)
    assert len(r.json()["messages"]) == 1
    t = by_topic(requests.get(broker.http + "/catalog", timeout=TIMEOUT).json())["jobs"]
    assert t["consumers"] == [{"kind": "subscription", "id": "workers", "backlog": 4,
                               "in_flight": 1, "dead_lettered": 0}]
    ov = requests.get(broker.http + "/console/api/overview", timeout=TIMEOUT).json()
    sub, = ov["subscriptions"]
    assert (sub["name"], sub["topic"], sub["backlog"], sub["in_flight"], sub["scheduled"],
            sub["dead_lettered"], sub["max_deliveries"], sub["dead_letter_topic"],
            sub["ordering"]) == ("workers", "jobs", 4, 1, 0, 0, 3, "workers-dlq", "none")
    doc = requests.get(broker.http + "/asyncapi.json", timeout=TIMEOUT).json()
    assert doc["operations"]["jobs.receive"]["x-herald-consumers"][0]["id"] == "workers"


def test_answers_match_the_openapi_schemas(traffic):
    from test_http_docs import check
    broker, _ = traffic
    h = broker.http
    spec = requests.get(h + "/openapi.json", timeout=TIMEOUT).json()
    r = requests.post(h + "/subscriptions", json={"name": "s", "topic": "orders"},
                      timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    check(spec, "Catalog", requests.get(h + "/catalog", timeout=TIMEOUT).json())
    check(spec, "ConsoleOverview",
          requests.get(h + "/console/api/overview", timeout=TIMEOUT).json())
    time.sleep(1.2)  # a second sample, so the history has rates
    check(spec, "ConsoleHistory",
          requests.get(h + "/console/api/history", timeout=TIMEOUT).json())
    check(spec, "Index", requests.get(h + "/", timeout=TIMEOUT).json())
