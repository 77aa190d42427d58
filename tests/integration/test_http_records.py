"""The HTTP API's topics and records resources against the real binary: topics made over HTTP
are Kafka topics, records produced over HTTP are read by Kafka clients byte for byte and the
reverse (compressed batches too), keys land where the Java client's partitioner puts them, long
polls wait and wake, and bad input gets precise problem+json answers."""
import base64
import json
import socket
import threading
import time

import pytest
import requests

from clients import consume, create_topic, make_consumer, produce_all
from confluent_kafka import TopicPartition

PROBLEM = "application/problem+json"


def problem(resp, status):
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["Content-Type"] == PROBLEM
    body = resp.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def mk_topic(broker, name, partitions=1, **config):
    r = requests.post(broker.http + "/topics", json={"name": name, "partitions": partitions,
                                                     "config": config}, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()


def test_topics_crud_is_shared_with_kafka(broker):
    body = mk_topic(broker, "orders", 3, **{"retention.ms": 3600000})
    assert [p["partition"] for p in body["partitions"]] == [0, 1, 2]
    assert body["config"]["retention.ms"] == "3600000"
    # Kafka clients see the topic with its partitions.
    c = make_consumer(broker.addr)
    md = c.list_topics("orders", timeout=10)
    assert sorted(md.topics["orders"].partitions) == [0, 1, 2]
    c.close()
    create_topic(broker.addr, "payments", partitions=2)
    r = requests.get(broker.http + "/topics", timeout=10)
    assert r.status_code == 200
    assert sorted((t["name"], t["partitions"]) for t in r.json()["topics"]) == \
        [("orders", 3), ("payments", 2)]
    got = requests.get(broker.http + "/topics/payments", timeout=10).json()
    assert got["name"] == "payments"
    assert got["partitions"] == [{"partition": i, "log_start_offset": 0, "high_watermark": 0}
                                 for i in range(2)]
    problem(requests.post(broker.http + "/topics", json={"name": "orders"}, timeout=10), 409)
    problem(requests.post(broker.http + "/topics", json={"name": "bad/name"}, timeout=10), 400)
    problem(requests.post(broker.http + "/topics", json={"name": "x", "partitions": 0},
                          timeout=10), 400)
    problem(requests.post(broker.http + "/topics", json={"name": "x", "config": {"nope": 1}},
                          timeout=10), 400)
    r = requests.delete(broker.http + "/topics/payments", timeout=10)
    assert r.status_code == 204 and r.content == b""
    problem(requests.get(broker.http + "/topics/payments", timeout=10), 404)
    problem(requests.delete(broker.http + "/topics/payments", timeout=10), 404)


def test_http_produce_is_read_by_kafka_consumer_exactly(broker):
    mk_topic(broker, "t1", 1)
    recs = [
        {"key": "o-1", "value": {"total": 12, "items": ["a", "b"]}, "headers": {"source": "web"}},
        {"key": "o-2", "value": "plain text"},
        {"key_b64": base64.b64encode(b"\x00\xffk").decode(),
         "value_b64": base64.b64encode(b"\xff\xfe\x00bin").decode()},
        {"value": None, "headers": {"n": None, "u": "\u00e9t\u00e9"}},
        {"value": 42, "timestamp": 1700000000123},
    ]
    r = requests.post(broker.http + "/topics/t1/records", json={"records": recs}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json() == {"offsets": [{"partition": 0, "offset": i} for i in range(5)]}
    msgs = consume(broker.addr, "t1", [0], 5)
    got = [(m.offset(), m.key(), m.value(), m.headers()) for m in msgs]
    assert got[0] == (0, b"o-1", b'{"total":12,"items":["a","b"]}', [("source", b"web")])
    assert got[1] == (1, b"o-2", b"plain text", None)
    assert got[2] == (2, b"\x00\xffk", b"\xff\xfe\x00bin", None)
    assert got[3][:3] == (3, None, None)
    assert sorted(got[3][3]) == [("n", None), ("u", "\u00e9t\u00e9".encode())]
    assert got[4][2] == b"42" and msgs[4].timestamp()[1] == 1700000000123


def test_kafka_produce_is_read_over_http(broker):
    mk_topic(broker, "t2", 1)
    produce_all(broker.addr, [
        {"topic": "t2", "partition": 0, "key": b"k1", "value": b'{"a":1}',
         "headers": [("h1", b"v1"), ("bin", b"\xff\x00")]},
        {"topic": "t2", "partition": 0, "key": None, "value": b"\x80\x81"},
        {"topic": "t2", "partition": 0, "key": b"k3", "value": b""},
    ])
    r = requests.get(broker.http + "/topics/t2/records", params={"partition": 0, "offset": 0},
                     timeout=10)
    assert r.status_code == 200
    body = r.json()
    assert body["next_offset"] == 3 and body["high_watermark"] == 3
    recs = body["records"]
    assert [x["offset"] for x in recs] == [0, 1, 2]
    assert recs[0]["key"] == "k1" and recs[0]["value"] == {"a": 1}
    assert recs[0]["headers"] == {"h1": "v1"}
    assert base64.b64decode(recs[0]["headers_b64"]["bin"]) == b"\xff\x00"
    assert recs[1]["key"] is None and base64.b64decode(recs[1]["value_b64"]) == b"\x80\x81"
    assert "value" not in recs[1]
    assert recs[2]["value"] == ""
    # limit and next_offset page through the partition.
    r = requests.get(broker.http + "/topics/t2/records", params={"offset": 1, "limit": 1},
                     timeout=10).json()
    assert [x["offset"] for x in r["records"]] == [1] and r["next_offset"] == 2


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_compressed_kafka_batches_are_readable_over_http(broker, codec):
    mk_topic(broker, "z", 1)
    msgs = [{"topic": "z", "partition": 0, "key": b"k%d" % i,
             "value": json.dumps({"n": i, "pad": "x" * 50}).encode()} for i in range(50)]
    produce_all(broker.addr, msgs, compression_type=codec, linger_ms=50)
    recs = []
    offset = 0
    while len(recs) < 50:
        r = requests.get(broker.http + "/topics/z/records",
                         params={"offset": offset, "limit": 20}, timeout=10).json()
        assert r["records"], r
        recs += r["records"]
        offset = r["next_offset"]
    assert [(x["offset"], x["key"], x["value"]["n"]) for x in recs] == \
        [(i, "k%d" % i, i) for i in range(50)]


def test_keys_land_where_kafka_clients_put_them(broker):
    mk_topic(broker, "keyed", 7)
    keys = ["o-%d" % i for i in range(60)] + ["", "\u00fcber", "a" * 300]
    r = requests.post(broker.http + "/topics/keyed/records",
                      json={"records": [{"key": k, "value": i} for i, k in enumerate(keys)]},
                      timeout=10)
    assert r.status_code == 200, r.text
    http_parts = [o["partition"] for o in r.json()["offsets"]]
    # librdkafka's murmur2_random is the Java client's default partitioner for keyed records.
    reps = produce_all(broker.addr, [{"topic": "keyed", "key": k.encode(), "value": b"x"}
                                     for k in keys], partitioner="murmur2_random")
    assert http_parts == [rep["partition"] for rep in reps]
    assert len(set(http_parts)) > 3


def test_keyless_records_are_spread_over_requests(broker):
    mk_topic(broker, "spread", 4)
    parts = set()
    for i in range(8):
        r = requests.post(broker.http + "/topics/spread/records",
                          json={"records": [{"value": i}, {"value": i}]}, timeout=10)
        offs = r.json()["offsets"]
        assert offs[0]["partition"] == offs[1]["partition"]  # one batch per request
        parts.add(offs[0]["partition"])
    assert parts == {0, 1, 2, 3}


def test_long_poll_waits_for_the_next_record(broker):
    mk_topic(broker, "lp", 1)
    start = time.monotonic()
    r = requests.get(broker.http + "/topics/lp/records",
                     params={"offset": 0, "timeout_ms": 300}, timeout=10)
    waited = time.monotonic() - start
    assert r.status_code == 200 and r.json()["records"] == [] and r.json()["next_offset"] == 0
    assert waited >= 0.25

    def later():
        time.sleep(0.5)
        requests.post(broker.http + "/topics/lp/records",
                      json={"records": [{"key": "late", "value": 1}]}, timeout=10)

    t = threading.Thread(target=later)
    t.start()
    r = requests.get(broker.http + "/topics/lp/records",
                     params={"offset": 0, "timeout_ms": 10000}, timeout=20)
    t.join()
    body = r.json()
    assert [(x["offset"], x["key"]) for x in body["records"]] == [(0, "late")]
    assert body["next_offset"] == 1


def test_long_poll_ends_when_the_topic_is_deleted(broker):
    mk_topic(broker, "gone", 1)
    t = threading.Timer(0.3, lambda: requests.delete(broker.http + "/topics/gone", timeout=10))
    t.start()
    r = requests.get(broker.http + "/topics/gone/records", params={"timeout_ms": 10000},
                     timeout=20)
    t.join()
    problem(r, 404)


def test_records_errors_are_precise(broker_factory):
    b = broker_factory("--http-max-request-bytes", "2048")
    mk_topic(b, "e", 2)
    url = b.http + "/topics/e/records"
    problem(requests.post(b.http + "/topics/nope/records", json={"records": [{"value": 1}]},
                          timeout=10), 404)
    problem(requests.get(b.http + "/topics/nope/records", timeout=10), 404)
    problem(requests.post(url, data=b'{"records": [', timeout=10,
                          headers={"Content-Type": "application/json"}), 400)
    problem(requests.post(url, data=b'<xml/>', timeout=10,
                          headers={"Content-Type": "application/xml"}), 415)
    problem(requests.post(url, json={"records": []}, timeout=10), 400)
    problem(requests.post(url, json={"records": [{"value": 1, "partition": 2}]}, timeout=10), 400)
    problem(requests.post(url, json={"records": [{"value_b64": "not base64!"}]}, timeout=10), 400)
    problem(requests.post(url, json={"records": [{"value": 1, "value_b64": "AA=="}]},
                          timeout=10), 400)
    problem(requests.post(url, json={"records": [{"headers": {"h": 1}}]}, timeout=10), 400)
    body = problem(requests.post(url, json={"records": [{"value": "x" * 4000}]}, timeout=10), 413)
    assert "http.max.request.bytes" in body["detail"]
    problem(requests.get(url, params={"partition": 5}, timeout=10), 404)
    problem(requests.get(url, params={"offset": 1}, timeout=10), 416)
    problem(requests.get(url, params={"limit": 0}, timeout=10), 400)
    problem(requests.get(url, params={"timeout_ms": "soon"}, timeout=10), 400)
    r = requests.put(url, json={}, timeout=10)
    problem(r, 405)
    assert r.headers["Allow"] == "POST, GET, HEAD"
    # Nothing was stored by the refused requests.
    for p in (0, 1):
        r = requests.get(b.http + "/topics/e", timeout=10).json()
        assert r["partitions"][p]["high_watermark"] == 0


def test_record_over_max_message_bytes_is_413(broker):
    mk_topic(broker, "small", 1, **{"max.message.bytes": 1024})
    problem(requests.post(broker.http + "/topics/small/records",
                          json={"records": [{"value": "y" * 2000}]}, timeout=10), 413)
    # Many small records are split into several batches under the limit.
    r = requests.post(broker.http + "/topics/small/records",
                      json={"records": [{"value": "v%03d" % i + "z" * 100} for i in range(40)]},
                      timeout=10)
    assert r.status_code == 200, r.text
    assert [o["offset"] for o in r.json()["offsets"]] == list(range(40))
    msgs = consume(broker.addr, "small", [0], 40)
    assert [m.value()[:4] for m in msgs] == [b"v%03d" % i for i in range(40)]


def raw_exchange(port, data, expect_responses, timeout=10):
    """Sends raw bytes and reads until expect_responses full answers arrived (Content-Length
    framed). Returns [(status line, headers dict, body)]."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    buf = b""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < expect_responses and time.monotonic() < deadline:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
        while b"\r\n\r\n" in buf:
            head, rest = buf.split(b"\r\n\r\n", 1)
            lines = head.decode().split("\r\n")
            hdrs = {k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
            n = int(hdrs.get("content-length", "0"))
            if len(rest) < n:
                break
            out.append((lines[0], hdrs, rest[:n]))
            buf = rest[n:]
    s.close()
    return out


def test_keep_alive_and_pipelining_answer_in_order(broker):
    mk_topic(broker, "pipe", 1)
    body = json.dumps({"records": [{"value": "p"}]}).encode()
    post = (b"POST /topics/pipe/records HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    get = b"GET /topics/pipe/records?offset=0 HTTP/1.1\r\nHost: x\r\n\r\n"
    missing = b"GET /topics/none HTTP/1.1\r\nHost: x\r\n\r\n"
    out = raw_exchange(broker.http_port, post + post + missing + get, 4)
    assert [o[0] for o in out] == ["HTTP/1.1 200 OK"] * 2 + ["HTTP/1.1 404 Not Found",
                                                             "HTTP/1.1 200 OK"]
    assert json.loads(out[0][2])["offsets"] == [{"partition": 0, "offset": 0}]
    assert json.loads(out[1][2])["offsets"] == [{"partition": 0, "offset": 1}]
    assert [r["offset"] for r in json.loads(out[3][2])["records"]] == [0, 1]


def test_head_has_headers_and_no_body(broker):
    mk_topic(broker, "h", 1)
    r = requests.head(broker.http + "/topics/h", timeout=10)
    assert r.status_code == 200 and r.content == b""
    assert int(r.headers["Content-Length"]) > 0


def test_reals_are_stored_and_shown_with_their_shortest_digits(broker):
    mk_topic(broker, "reals", 1)
    r = requests.post(broker.http + "/topics/reals/records",
                      data=b'{"records":[{"value":{"total":9.99,"n":0.1,"big":1e300,"one":1.0}}]}',
                      headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 200, r.text
    (m,) = consume(broker.addr, "reals", [0], 1)
    assert m.value() == b'{"total":9.99,"n":0.1,"big":1e+300,"one":1.0}'
    r = requests.get(broker.http + "/topics/reals/records", timeout=10)
    assert b'"total":9.99,' in r.content and b'"n":0.1,' in r.content


def test_malformed_query_escapes_are_400(broker):
    mk_topic(broker, "q", 1)
    import http.client
    for q in ("offset=%zz", "offset=%4", "partition=%00", "%g1=2"):
        # http.client sends the target as given (requests would re-quote the bad escapes).
        conn = http.client.HTTPConnection("127.0.0.1", broker.http_port, timeout=10)
        conn.request("GET", "/topics/q/records?" + q)
        resp = conn.getresponse()
        body = json.loads(resp.read())
        conn.close()
        assert resp.status == 400 and body["status"] == 400, (q, body)
    r = requests.get(broker.http + "/topics/q/records?offset=%30", timeout=10)
    assert r.status_code == 200 and r.json()["next_offset"] == 0
