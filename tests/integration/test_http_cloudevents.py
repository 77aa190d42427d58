"""CloudEvents over HTTP against the real binary: events POSTed in structured, batched and binary
mode are stored as the Kafka binding's binary mode (a Kafka consumer sees ce_* headers,
content-type, the data bytes and the partitionkey as key), events produced by Kafka clients in
binary or structured mode come back from GET /topics/{t}/events as proper CloudEvents, long
polls wait and wake, and bad events get precise problem+json answers."""
import base64
import json
import socket
import threading
import time

import requests

from clients import consume, create_topic, produce_all

PROBLEM = "application/problem+json"
STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"


def problem(resp, status, *words):
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["Content-Type"] == PROBLEM
    body = resp.json()
    assert body["status"] == status and body["detail"]
    for w in words:
        assert w in body["detail"], (w, body["detail"])
    return body


def mk_topic(broker, name, partitions=1):
    r = requests.post(broker.http + "/topics", json={"name": name, "partitions": partitions},
                      timeout=10)
    assert r.status_code == 201, r.text


def post(broker, topic, body, content_type, headers=None):
    h = {"Content-Type": content_type}
    h.update(headers or {})
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post("%s/topics/%s/events" % (broker.http, topic), data=data, headers=h,
                         timeout=10)


def get_events(broker, topic, **params):
    r = requests.get("%s/topics/%s/events" % (broker.http, topic), params=params, timeout=40)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == BATCH
    return r.json(), int(r.headers["Herald-Next-Offset"])


def kafka_records(broker, topic, n, partitions=(0,)):
    got = consume(broker.addr, topic, list(partitions), n, timeout=20)
    assert len(got) == n
    return [(m.key(), dict(m.headers() or []), m.value(), [h[0] for h in m.headers() or []])
            for m in got]


def event(i, **extra):
    e = {"specversion": "1.0", "id": "e-%d" % i, "source": "/shop/orders", "type":
         "com.example.order.created"}
    e.update(extra)
    return e


def test_structured_post_is_stored_in_binary_mode(broker):
    mk_topic(broker, "orders")
    ev = event(1, subject="order-17", time="2024-05-01T12:30:00.5+02:00",
               dataschema="https://example.com/order.json", partitionkey="cust-9",
               comexamplecount=42, comexampleflag=True, datacontenttype="application/json",
               data={"order": 17, "total": 9.99, "items": ["a", "b"]})
    r = post(broker, "orders", ev, STRUCTURED)
    assert r.status_code == 200, r.text
    assert r.json() == {"offsets": [{"partition": 0, "offset": 0}]}
    [(key, hdrs, value, names)] = kafka_records(broker, "orders", 1)
    assert key == b"cust-9"
    assert names[:4] == ["ce_specversion", "ce_id", "ce_source", "ce_type"]
    assert hdrs == {
        "ce_specversion": b"1.0", "ce_id": b"e-1", "ce_source": b"/shop/orders",
        "ce_type": b"com.example.order.created", "ce_subject": b"order-17",
        "ce_time": b"2024-05-01T12:30:00.5+02:00",
        "ce_dataschema": b"https://example.com/order.json", "ce_partitionkey": b"cust-9",
        "ce_comexamplecount": b"42", "ce_comexampleflag": b"true",
        "content-type": b"application/json"}
    # The data's JSON text, reals written as sent.
    assert value == b'{"order":17,"total":9.99,"items":["a","b"]}'
    evs, nxt = get_events(broker, "orders")
    assert nxt == 1
    assert evs == [{"specversion": "1.0", "id": "e-1", "source": "/shop/orders",
                    "type": "com.example.order.created", "subject": "order-17",
                    "time": "2024-05-01T12:30:00.5+02:00",
                    "dataschema": "https://example.com/order.json", "partitionkey": "cust-9",
                    "comexamplecount": "42", "comexampleflag": "true",
                    "datacontenttype": "application/json",
                    "data": {"order": 17, "total": 9.99, "items": ["a", "b"]}}]


def test_structured_data_kinds(broker):
    mk_topic(broker, "kinds")
    xml = '<much wow="xml"/>'
    evs = [event(0, data="just a string"),  # no datacontenttype: JSON implied
           event(1, datacontenttype="application/xml", data=xml),
           event(2, datacontenttype="text/plain; charset=utf-8", data="héllo"),
           event(3),  # no data at all
           event(4, datacontenttype="application/json", data=None)]
    r = post(broker, "kinds", evs, BATCH)
    assert r.status_code == 200, r.text
    assert [o["offset"] for o in r.json()["offsets"]] == [0, 1, 2, 3, 4]
    recs = kafka_records(broker, "kinds", 5)
    assert [(k, h.get("content-type"), v) for k, h, v, _ in recs] == [
        (None, b"application/json", b'"just a string"'),
        (None, b"application/xml", xml.encode()),
        (None, b"text/plain; charset=utf-8", "héllo".encode()),
        (None, None, None),
        (None, b"application/json", b"null")]
    got, nxt = get_events(broker, "kinds")
    assert nxt == 5
    assert got[0]["data"] == "just a string" and got[0]["datacontenttype"] == "application/json"
    assert got[1]["data"] == xml and got[1]["datacontenttype"] == "application/xml"
    assert got[2]["data"] == "héllo"
    assert "data" not in got[3] and "data_base64" not in got[3] and \
        "datacontenttype" not in got[3]
    assert "data" in got[4] and got[4]["data"] is None


def test_data_base64_round_trip_with_non_utf8_bytes(broker):
    mk_topic(broker, "bin")
    raw = bytes([0xff, 0x00, 0xfe, 0x80, 0x41, 0xc0, 0xaf])
    ev = event(7, datacontenttype="application/octet-stream",
               data_base64=base64.b64encode(raw).decode())
    r = post(broker, "bin", ev, STRUCTURED)
    assert r.status_code == 200, r.text
    [(key, hdrs, value, _)] = kafka_records(broker, "bin", 1)
    assert value == raw
    assert hdrs["content-type"] == b"application/octet-stream"
    [got], _ = get_events(broker, "bin")
    assert "data" not in got
    assert base64.b64decode(got["data_base64"]) == raw
    assert got["datacontenttype"] == "application/octet-stream"


def test_batched_post_keys_and_partitions(broker):
    mk_topic(broker, "batch", partitions=3)
    evs = [event(i, partitionkey="k%d" % (i % 2), data={"n": i}) for i in range(6)]
    r = post(broker, "batch", evs, BATCH)
    assert r.status_code == 200, r.text
    offs = r.json()["offsets"]
    assert len(offs) == 6
    # The same partitionkey lands on the same partition, as a Kafka key does.
    assert len({offs[i]["partition"] for i in (0, 2, 4)}) == 1
    assert len({offs[i]["partition"] for i in (1, 3, 5)}) == 1
    recs = kafka_records(broker, "batch", 6, partitions=(0, 1, 2))
    by_id = {h["ce_id"]: (k, v) for k, h, v, _ in recs}
    assert by_id == {b"e-%d" % i: (b"k%d" % (i % 2), b'{"n":%d}' % i) for i in range(6)}
    # Read every partition back over HTTP.
    seen = []
    for o in offs:
        evs_p, _ = get_events(broker, "batch", partition=o["partition"], offset=o["offset"],
                              limit=1)
        seen.append(evs_p[0]["id"])
    assert seen == ["e-%d" % i for i in range(6)]
    # An empty batch is valid and stores nothing.
    r = post(broker, "batch", [], BATCH)
    assert r.status_code == 200 and r.json() == {"offsets": []}


def test_binary_post_percent_decoding_and_data_as_is(broker):
    mk_topic(broker, "binmode")
    body = b'{"id": 5,  "spaced": true}'
    h = {"ce-specversion": "1.0", "ce-id": "b-1", "ce-source": "/devices/7",
         "CE-Type": "com.example.reading", "ce-subject": "Euro%20%E2%82%AC%20%F0%9F%98%80",
         "ce-time": "2024-01-01T00:00:00Z", "ce-partitionkey": "dev-7",
         "ce-comexamplequoted": '"a \\"quoted\\" value"'}
    r = post(broker, "binmode", body, "application/json; charset=utf-8", h)
    assert r.status_code == 200, r.text
    [(key, hdrs, value, names)] = kafka_records(broker, "binmode", 1)
    assert key == b"dev-7"
    assert value == body  # binary mode stores the body as it came
    assert names[:4] == ["ce_specversion", "ce_id", "ce_source", "ce_type"]
    assert hdrs["ce_subject"] == "Euro € 😀".encode()
    assert hdrs["ce_type"] == b"com.example.reading"
    assert hdrs["ce_comexamplequoted"] == b'a "quoted" value'
    assert hdrs["content-type"] == b"application/json; charset=utf-8"
    [got], _ = get_events(broker, "binmode")
    assert got["subject"] == "Euro € 😀"
    assert got["data"] == {"id": 5, "spaced": True}
    assert got["datacontenttype"] == "application/json; charset=utf-8"
    # Raw bytes in binary mode come back as data_base64.
    raw = bytes(range(256))
    h2 = dict(h, **{"ce-id": "b-2"})
    r = post(broker, "binmode", raw, "application/octet-stream", h2)
    assert r.status_code == 200, r.text
    evs, nxt = get_events(broker, "binmode", offset=1)
    assert nxt == 2 and base64.b64decode(evs[0]["data_base64"]) == raw


def test_kafka_produced_cloudevents_read_over_http(broker):
    create_topic(broker.addr, "fromkafka")
    structured = {"specversion": "1.0", "id": "s-1", "source": "/kafka", "type": "t.structured",
                  "datacontenttype": "application/json", "data": {"x": [1, 2]}}
    msgs = [
        {"topic": "fromkafka", "partition": 0, "key": b"k1", "value": b'{"a":1}',
         "headers": [("ce_specversion", b"1.0"), ("ce_id", b"k-1"), ("ce_source", b"/kafka"),
                     ("ce_type", b"t.binary"), ("ce_partitionkey", b"k1"),
                     ("content-type", b"application/json")]},
        {"topic": "fromkafka", "partition": 0, "value": b"plain, not an event"},
        {"topic": "fromkafka", "partition": 0, "value": json.dumps(structured).encode(),
         "headers": [("content-type", b"application/cloudevents+json; charset=UTF-8")]},
        {"topic": "fromkafka", "partition": 0, "value": b"hello text",
         "headers": [("ce_specversion", b"1.0"), ("ce_id", b"k-2"), ("ce_source", b"/kafka"),
                     ("ce_type", b"t.text"), ("content-type", b"text/plain")]},
        # Missing ce_type: not a CloudEvent.
        {"topic": "fromkafka", "partition": 0, "value": b"x",
         "headers": [("ce_specversion", b"1.0"), ("ce_id", b"k-3"), ("ce_source", b"/kafka")]},
    ]
    produce_all(broker.addr, msgs, compression_type="gzip", linger_ms=50)
    evs, nxt = get_events(broker, "fromkafka")
    assert nxt == 5
    assert evs == [
        {"specversion": "1.0", "id": "k-1", "source": "/kafka", "type": "t.binary",
         "partitionkey": "k1", "datacontenttype": "application/json", "data": {"a": 1}},
        structured,
        {"specversion": "1.0", "id": "k-2", "source": "/kafka", "type": "t.text",
         "datacontenttype": "text/plain", "data": "hello text"}]
    # limit counts events, and the next offset is after the last record examined.
    evs, nxt = get_events(broker, "fromkafka", limit=1)
    assert [e["id"] for e in evs] == ["k-1"] and nxt == 1
    evs, nxt = get_events(broker, "fromkafka", offset=1, limit=1)
    assert [e["id"] for e in evs] == ["s-1"] and nxt == 3
    evs, nxt = get_events(broker, "fromkafka", offset=4)
    assert evs == [] and nxt == 5


def test_long_poll_waits_for_an_event(broker):
    mk_topic(broker, "poll")
    t0 = time.monotonic()
    evs, nxt = get_events(broker, "poll", timeout_ms=300)
    assert evs == [] and nxt == 0 and time.monotonic() - t0 >= 0.25
    result = {}

    def poll():
        result["r"] = get_events(broker, "poll", timeout_ms=10000)

    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.3)
    assert th.is_alive()
    r = post(broker, "poll", event(1, data=1), STRUCTURED)
    assert r.status_code == 200
    th.join(10)
    assert not th.is_alive()
    evs, nxt = result["r"]
    assert [e["id"] for e in evs] == ["e-1"] and nxt == 1


def test_missing_and_bad_attributes(broker):
    mk_topic(broker, "bad")
    for attr in ("specversion", "id", "source", "type"):
        ev = event(1)
        del ev[attr]
        problem(post(broker, "bad", ev, STRUCTURED), 400, "'%s'" % attr, "missing")
    problem(post(broker, "bad", event(1, specversion="0.3"), STRUCTURED), 400, "'specversion'")
    problem(post(broker, "bad", event(1, time="yesterday"), STRUCTURED), 400, "'time'",
            "RFC 3339")
    problem(post(broker, "bad", event(1, time="2024-02-30T00:00:00Z"), STRUCTURED), 400,
            "'time'")
    problem(post(broker, "bad", event(1, BadName="x"), STRUCTURED), 400, "'BadName'")
    problem(post(broker, "bad", event(1, id=5), STRUCTURED), 400, "'id'", "string")
    problem(post(broker, "bad", event(1, ext={"a": 1}), STRUCTURED), 400, "'ext'")
    problem(post(broker, "bad", event(1, data=1, data_base64="AA=="), STRUCTURED), 400,
            "data_base64")
    problem(post(broker, "bad", event(1, data_base64="not base64!"), STRUCTURED), 400,
            "'data_base64'")
    problem(post(broker, "bad", event(1, datacontenttype="text/plain", data={"a": 1}),
                 STRUCTURED), 400, "'data'")
    problem(post(broker, "bad", [1, 2], STRUCTURED), 400, "object")
    problem(post(broker, "bad", b'{"specversion": ', STRUCTURED), 400, "malformed JSON")
    # In a batch, the problem names the event's index; nothing is stored.
    evs = [event(0), event(1), {"specversion": "1.0", "id": "x", "source": "/s"}]
    problem(post(broker, "bad", evs, BATCH), 400, "event 2", "'type'")
    problem(post(broker, "bad", event(0), BATCH), 400, "array")
    # Binary mode.
    h = {"ce-specversion": "1.0", "ce-id": "1", "ce-source": "/s"}
    problem(post(broker, "bad", b"x", "text/plain", h), 400, "binary mode", "'type'")
    h2 = {"ce-id": "1", "ce-source": "/s", "ce-type": "t"}
    problem(post(broker, "bad", b"x", "text/plain", h2), 400, "'specversion'")
    h3 = dict(h, **{"ce-type": "t", "ce-subject": "bad%zzescape"})
    problem(post(broker, "bad", b"x", "text/plain", h3), 400, "'subject'")
    h4 = dict(h, **{"ce-type": "t", "ce-subject": "%C0%A0"})  # overlong UTF-8
    problem(post(broker, "bad", b"x", "text/plain", h4), 400, "'subject'")
    r = requests.get(broker.http + "/topics/bad", timeout=10).json()
    assert r["partitions"][0]["high_watermark"] == 0


def test_media_types_topics_and_offsets(broker):
    mk_topic(broker, "mt", partitions=2)
    # No ce- headers and no CloudEvents media type: 415.
    problem(post(broker, "mt", b"hello", "text/plain"), 415, "application/cloudevents+json")
    problem(post(broker, "mt", event(1), "application/json"), 415)
    problem(post(broker, "mt", b"<e/>", "application/cloudevents+xml"), 415)
    # Unknown topic: 404, never created.
    problem(post(broker, "nope", event(1), STRUCTURED), 404, "nope")
    r = requests.get(broker.http + "/topics/nope/events", timeout=10)
    problem(r, 404)
    assert requests.get(broker.http + "/topics/nope", timeout=10).status_code == 404
    # Reads: bad partition, offsets out of range, bad parameters.
    problem(requests.get(broker.http + "/topics/mt/events?partition=2", timeout=10), 404)
    problem(requests.get(broker.http + "/topics/mt/events?offset=1", timeout=10), 416)
    problem(requests.get(broker.http + "/topics/mt/events?limit=0", timeout=10), 400, "limit")
    problem(requests.get(broker.http + "/topics/mt/events?limit=1001", timeout=10), 400)
    problem(requests.get(broker.http + "/topics/mt/events?timeout_ms=30001", timeout=10), 400)
    problem(requests.get(broker.http + "/topics/mt/events?offset=x", timeout=10), 400)
    r = requests.put(broker.http + "/topics/mt/events", timeout=10)
    problem(r, 405)
    assert "POST" in r.headers["Allow"] and "GET" in r.headers["Allow"]


def test_long_poll_ends_cleanly_on_disconnect_and_topic_deletion(broker):
    mk_topic(broker, "gone")
    # A client that leaves mid-poll: its waiter is cancelled, the next event finds nobody.
    s = socket.create_connection(("127.0.0.1", broker.http_port), timeout=5)
    s.sendall(b"GET /topics/gone/events?timeout_ms=20000 HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.3)
    s.close()
    time.sleep(0.2)
    assert post(broker, "gone", event(1), STRUCTURED).status_code == 200
    # A poll parked on a topic that is then deleted is answered 404 at once.
    result = {}

    def poll():
        result["r"] = requests.get(broker.http + "/topics/gone/events",
                                   params={"offset": 1, "timeout_ms": 20000}, timeout=30)

    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    assert requests.delete(broker.http + "/topics/gone", timeout=10).status_code == 204
    th.join(10)
    assert not th.is_alive() and time.monotonic() - t0 < 5
    problem(result["r"], 404, "deleted")
