"""Trace context, span export, end-to-end latency and structured logs against the real binary:
W3C traceparent/tracestate carried unchanged between HTTP, Kafka record headers, CloudEvents and
streams; OTLP/HTTP JSON spans received by a local collector stand-in (trace and parent ids, names,
messaging attributes, the span budget and its drop counters, an unreachable collector);
herald_e2e_latency_seconds per delivery kind and consumer group; --log-format json."""
import asyncio
import json
import subprocess
import threading
import time
from pathlib import Path
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import websockets
from prometheus_client.parser import text_string_to_metric_families

from clients import consume, create_topic, make_consumer, produce_all
from conftest import free_port, wait_until

TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"
TP = "00-%s-%s-01" % (TRACE, PARENT)
TP2 = "00-11111111111111111111111111111111-2222222222222222-01"
TS = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"


# ---- helpers ----

class Collector:
    """Stands in for an OpenTelemetry collector: stores the JSON bodies POSTed to /v1/traces
    and answers 200 (or `status`)."""

    def __init__(self, status=200):
        self.bodies = []
        self.paths = []
        self.types = []
        self.status = status
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                outer.paths.append(self.path)
                outer.types.append(self.headers.get("Content-Type"))
                outer.bodies.append(json.loads(body))
                self.send_response(outer.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def spans(self):
        out = []
        for b in list(self.bodies):
            for rs in b["resourceSpans"]:
                res = {a["key"]: a["value"] for a in rs["resource"]["attributes"]}
                assert res["service.name"] == {"stringValue": "herald"}
                for ss in rs["scopeSpans"]:
                    out.extend(ss["spans"])
        return out

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def collector():
    c = Collector()
    yield c
    c.close()


def attrs(span):
    out = {}
    for a in span["attributes"]:
        v = a["value"]
        out[a["key"]] = v.get("stringValue", v.get("intValue"))
    return out


def scrape(broker):
    r = requests.get(broker.http + "/metrics", timeout=10)
    assert r.status_code == 200
    return {f.name: f for f in text_string_to_metric_families(r.text)}


def sample(fams, family, name, **labels):
    hits = [s.value for s in fams[family].samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    return hits[0] if len(hits) == 1 else None


def kafka_records(broker, topic, n, partitions=(0,)):
    got = consume(broker.addr, topic, list(partitions), n)
    assert len(got) == n
    return sorted(got, key=lambda m: (m.partition(), m.offset()))


def headers_of(msg):
    return {k: v.decode() for k, v in (msg.headers() or [])}


def http_topic(broker, name, partitions=1):
    r = requests.post(broker.http + "/topics", json={"name": name, "partitions": partitions},
                      timeout=10)
    assert r.status_code == 201, r.text


# ---- trace context propagation ----

def test_http_produce_adds_the_request_traceparent_to_records_without_one(broker):
    http_topic(broker, "tp")
    r = requests.post(broker.http + "/topics/tp/records", timeout=10,
                      headers={"traceparent": TP, "tracestate": TS},
                      json={"records": [
                          {"value": "plain"},
                          {"value": "own", "headers": {"traceparent": TP2, "x": "1"}},
                          {"value": "hdr", "headers": {"app": "a"}},
                      ]})
    assert r.status_code == 200, r.text
    recs = kafka_records(broker, "tp", 3)
    assert recs[0].value() == b"plain"
    assert headers_of(recs[0]) == {"traceparent": TP, "tracestate": TS}
    # A record's own traceparent is never rewritten, nor given the request's tracestate.
    assert headers_of(recs[1]) == {"traceparent": TP2, "x": "1"}
    assert headers_of(recs[2]) == {"app": "a", "traceparent": TP, "tracestate": TS}
    # The HTTP read shows the same headers.
    r = requests.get(broker.http + "/topics/tp/records?partition=0&offset=0", timeout=10)
    assert [x["headers"] for x in r.json()["records"]] == [
        {"traceparent": TP, "tracestate": TS}, {"traceparent": TP2, "x": "1"},
        {"app": "a", "traceparent": TP, "tracestate": TS}]


@pytest.mark.parametrize("bad", [
    "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",  # uppercase
    "00-00000000000000000000000000000000-b7ad6b7169203331-01",  # zero trace id
    "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",  # zero parent id
    "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  # version ff
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01",
    "garbage",
])
def test_invalid_request_traceparent_is_ignored(broker, bad):
    http_topic(broker, "bad")
    r = requests.post(broker.http + "/topics/bad/records", timeout=10,
                      headers={"traceparent": bad, "tracestate": TS},
                      json={"records": [{"value": "v"}]})
    assert r.status_code == 200, r.text
    assert headers_of(kafka_records(broker, "bad", 1)[0]) == {}


def test_invalid_tracestate_is_dropped_and_traceparent_kept(broker):
    http_topic(broker, "ts")
    r = requests.post(broker.http + "/topics/ts/records", timeout=10,
                      headers={"traceparent": TP, "tracestate": "no-equals-sign"},
                      json={"records": [{"value": "v"}]})
    assert r.status_code == 200
    assert headers_of(kafka_records(broker, "ts", 1)[0]) == {"traceparent": TP}


def test_cloudevents_keep_their_tracing_extension_and_get_the_request_traceparent(broker):
    http_topic(broker, "ce")
    # Binary mode: ce-traceparent is the event's extension; traceparent is the request's.
    r = requests.post(broker.http + "/topics/ce/events", timeout=10, data=b'{"n":1}', headers={
        "ce-specversion": "1.0", "ce-id": "e1", "ce-source": "/s", "ce-type": "t.one",
        "ce-traceparent": TP2, "traceparent": TP, "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    # Structured mode with the extension as members, and no request traceparent.
    r = requests.post(broker.http + "/topics/ce/events", timeout=10,
                      headers={"Content-Type": "application/cloudevents+json"},
                      data=json.dumps({"specversion": "1.0", "id": "e2", "source": "/s",
                                       "type": "t.two", "traceparent": TP, "tracestate": TS}))
    assert r.status_code == 200, r.text
    # Structured mode without the extension, with a request traceparent.
    r = requests.post(broker.http + "/topics/ce/events", timeout=10,
                      headers={"Content-Type": "application/cloudevents+json",
                               "traceparent": TP2},
                      data=json.dumps({"specversion": "1.0", "id": "e3", "source": "/s",
                                       "type": "t.three"}))
    assert r.status_code == 200, r.text
    recs = kafka_records(broker, "ce", 3)
    h = [headers_of(m) for m in recs]
    assert h[0]["ce_traceparent"] == TP2 and h[0]["traceparent"] == TP
    assert h[1]["ce_traceparent"] == TP and h[1]["ce_tracestate"] == TS
    assert "traceparent" not in h[1]
    assert h[2]["traceparent"] == TP2 and "ce_traceparent" not in h[2]
    # Read back as CloudEvents: the extension is the event's own, or the record's traceparent.
    r = requests.get(broker.http + "/topics/ce/events?partition=0&offset=0&limit=3", timeout=10)
    evs = r.json()
    assert [e["id"] for e in evs] == ["e1", "e2", "e3"]
    assert evs[0]["traceparent"] == TP2
    assert evs[1]["traceparent"] == TP and evs[1]["tracestate"] == TS
    assert evs[2]["traceparent"] == TP2


def test_kafka_traceparent_reaches_http_reads_and_sse_unchanged(broker):
    create_topic(broker.addr, "kt")
    produce_all(broker.addr, [{"topic": "kt", "value": b"v", "partition": 0,
                               "headers": [("traceparent", TP.encode()),
                                           ("tracestate", TS.encode())]}])
    r = requests.get(broker.http + "/topics/kt/records?partition=0&offset=0", timeout=10)
    assert r.json()["records"][0]["headers"] == {"traceparent": TP, "tracestate": TS}
    with requests.get(broker.http + "/topics/kt/events?partition=0&from=earliest", stream=True,
                      headers={"Accept": "text/event-stream"}, timeout=10) as s:
        assert s.status_code == 200
        data = None
        for line in s.iter_lines(chunk_size=1, decode_unicode=True):
            if line.startswith("data:"):
                data = json.loads(line[5:])
                break
    assert data["headers"] == {"traceparent": TP, "tracestate": TS}
    f = "herald_e2e_latency_seconds"
    assert sample(scrape(broker), f, f + "_count", kind="sse", group="") == 1


def test_websocket_messages_show_trace_context_and_cloudevent_extension(broker):
    create_topic(broker.addr, "wst")
    produce_all(broker.addr, [{"topic": "wst", "value": b'{"n":1}', "partition": 0, "headers": [
        ("ce_specversion", b"1.0"), ("ce_id", b"w1"), ("ce_source", b"/s"), ("ce_type", b"t"),
        ("traceparent", TP.encode())]}])

    async def go():
        url = "ws://127.0.0.1:%d/topics/wst/ws?from=earliest" % broker.http_port
        async with websockets.connect(url, close_timeout=5) as ws:
            return json.loads(await asyncio.wait_for(ws.recv(), 10))
    m = asyncio.run(asyncio.wait_for(go(), 30))
    assert m["headers"]["traceparent"] == TP
    # A Kafka producer's traceparent becomes the event's distributed-tracing extension.
    assert m["cloudevent"]["id"] == "w1" and m["cloudevent"]["traceparent"] == TP
    f = "herald_e2e_latency_seconds"
    assert sample(scrape(broker), f, f + "_count", kind="ws", group="") >= 1


# ---- span export ----

def test_spans_for_produce_and_delivery_reach_the_collector(broker_factory, collector):
    b = broker_factory("--otlp-endpoint", collector.url, "--group-initial-rebalance-delay-ms", "0")
    wait_until(lambda: "exporting spans" in b.log_text(), 10, what="the exporter's start line")
    http_topic(b, "orders")
    r = requests.post(b.http + "/topics/orders/records", headers={"traceparent": TP}, timeout=10,
                      json={"records": [{"value": "a"}, {"value": "b"}]})
    assert r.status_code == 200
    produce_all(b.addr, [{"topic": "orders", "value": b"k", "partition": 0,
                          "headers": [("traceparent", TP2.encode())]}], client_id="shop-api")
    # Unsampled context (flags 00) makes no span.
    unsampled = "00-33333333333333333333333333333333-4444444444444444-00"
    r = requests.post(b.http + "/topics/orders/records", headers={"traceparent": unsampled},
                      json={"records": [{"value": "u"}]}, timeout=10)
    assert r.status_code == 200
    c = make_consumer(b.addr, group_id="billing", client_id="billing-svc")
    c.subscribe(["orders"])
    got = []
    deadline = time.monotonic() + 30
    while len(got) < 4 and time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is not None and not m.error():
            got.append(m)
    c.close()
    assert len(got) == 4

    def have_all():
        names = [s["name"] for s in collector.spans()]
        return names.count("send orders") >= 2 and names.count("receive orders") >= 2
    wait_until(have_all, 10, what="spans at the collector")
    assert set(collector.paths) == {"/v1/traces"}
    assert set(collector.types) == {"application/json"}
    spans = collector.spans()
    assert not [s for s in spans if s["traceId"] == "3" * 32]
    sends = {s["traceId"]: s for s in spans if s["name"] == "send orders"}
    recvs = {s["traceId"]: s for s in spans if s["name"] == "receive orders"}
    assert set(sends) == {TRACE, "1" * 32} and set(recvs) == {TRACE, "1" * 32}
    # The HTTP request's two records share one trace context: one span covering both.
    s = sends[TRACE]
    assert s["parentSpanId"] == PARENT and s["kind"] == 2
    assert len(s["spanId"]) == 16 and s["spanId"] != PARENT
    a = attrs(s)
    assert a["messaging.system"] == "kafka"
    assert a["messaging.destination.name"] == "orders"
    assert a["messaging.destination.partition.id"] == "0"
    assert a["messaging.operation.type"] == "send"
    assert a["messaging.kafka.offset"] == "0"
    assert a["messaging.batch.message_count"] == "2"
    assert a["network.protocol.name"] == "http"
    assert int(s["startTimeUnixNano"]) <= int(s["endTimeUnixNano"])
    assert abs(int(s["endTimeUnixNano"]) / 1e9 - time.time()) < 60
    k = sends["1" * 32]
    assert k["parentSpanId"] == "2" * 16
    assert attrs(k)["messaging.client.id"] == "shop-api"
    assert attrs(k)["network.protocol.name"] == "kafka"
    assert attrs(k)["messaging.kafka.offset"] == "2"
    d = recvs["1" * 32]
    assert d["parentSpanId"] == "2" * 16
    da = attrs(d)
    assert da["messaging.operation.type"] == "receive"
    assert da["messaging.operation.name"] == "fetch"
    assert da["messaging.consumer.group.name"] == "billing"
    assert da["messaging.client.id"] == "billing-svc"
    assert da["messaging.kafka.offset"] == "2"
    fams = scrape(b)
    assert sample(fams, "herald_otlp_spans", "herald_otlp_spans_total", outcome="exported") >= 4
    assert sample(fams, "herald_otlp_exports", "herald_otlp_exports_total", result="ok") >= 1


def test_span_budget_drops_and_counts(broker_factory, collector):
    b = broker_factory("--otlp-endpoint", collector.url + "/", "--otlp-spans-per-second", "2")
    http_topic(b, "burst")
    recs = [{"value": "v%d" % i,
             "headers": {"traceparent": "00-%032x-%016x-01" % (i + 1, i + 1)}}
            for i in range(50)]
    r = requests.post(b.http + "/topics/burst/records", json={"records": recs}, timeout=10)
    assert r.status_code == 200
    wait_until(lambda: len(collector.spans()) >= 2, 10, what="the budget's spans")
    time.sleep(0.5)
    # One second's budget, or two when the burst happened to straddle a second boundary.
    n = len(collector.spans())
    assert n in (2, 4), n
    assert set(collector.paths) == {"/v1/traces"}  # a trailing slash on the endpoint is fine
    fams = scrape(b)
    assert sample(fams, "herald_otlp_spans", "herald_otlp_spans_total",
                  outcome="dropped_rate") == 50 - n
    assert sample(fams, "herald_otlp_spans", "herald_otlp_spans_total", outcome="queued") == n


def test_unreachable_collector_counts_failures_and_the_broker_keeps_serving(broker_factory):
    port = free_port()  # nothing listens there
    b = broker_factory("--otlp-endpoint", "http://127.0.0.1:%d" % port)
    http_topic(b, "lost")
    for i in range(5):  # each answered (within the request timeout) despite the dead collector
        r = requests.post(b.http + "/topics/lost/records", headers={"traceparent": TP},
                          json={"records": [{"value": i}]}, timeout=10)
        assert r.status_code == 200
    wait_until(lambda: (sample(scrape(b), "herald_otlp_spans", "herald_otlp_spans_total",
                               outcome="failed") or 0) >= 5, 15, what="failed spans counted")
    fams = scrape(b)
    assert sample(fams, "herald_otlp_exports", "herald_otlp_exports_total", result="error") >= 1
    assert b.stop() == 0


def test_bad_otlp_endpoint_is_refused_at_startup(broker_factory):
    b = broker_factory("--otlp-endpoint", "127.0.0.1:4318", start=False)
    p = subprocess.run(b.argv(), capture_output=True, timeout=20)
    assert p.returncode != 0
    assert b"otel.exporter.otlp.endpoint must be http://HOST:PORT" in p.stderr


# ---- end-to-end latency ----

def test_e2e_latency_per_kind_and_group(broker_factory):
    b = broker_factory("--group-initial-rebalance-delay-ms", "0")
    create_topic(b.addr, "lat", 2)
    old = int(time.time() * 1000) - 7000  # records stamped 7 s ago
    produce_all(b.addr, [{"topic": "lat", "value": b"x", "partition": p, "timestamp": old}
                         for p in (0, 1) for _ in range(3)])
    # A group consumer (its group requests go on the coordinator connection).
    c = make_consumer(b.addr, group_id="ledger")
    c.subscribe(["lat"])
    got = []
    deadline = time.monotonic() + 30
    while len(got) < 6 and time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is not None and not m.error():
            got.append(m)
    c.close()
    assert len(got) == 6
    # A groupless reader, and an HTTP read.
    assert len(consume(b.addr, "lat", [0], 3, client_id="loner")) == 3
    r = requests.get(b.http + "/topics/lat/records?partition=1&offset=0", timeout=10)
    assert len(r.json()["records"]) == 3
    fams = scrape(b)
    f = "herald_e2e_latency_seconds"
    n = sample(fams, f, f + "_count", kind="kafka", group="ledger")
    assert n is not None and 1 <= n <= 2 * 2  # one per partition chunk delivered, not per record
    assert sample(fams, f, f + "_sum", kind="kafka", group="ledger") >= 7 * n - 0.5
    assert sample(fams, f, f + "_bucket", kind="kafka", group="ledger", le="5") == 0
    assert sample(fams, f, f + "_bucket", kind="kafka", group="ledger", le="10") == n
    assert sample(fams, f, f + "_count", kind="kafka", group="") >= 1
    assert sample(fams, f, f + "_count", kind="http_read", group="") == 1
    assert 7 <= sample(fams, f, f + "_sum", kind="http_read", group="") < 60


# ---- logs ----

def test_json_logs_one_object_per_line_and_no_per_request_lines(broker_factory):
    b = broker_factory("--log-format", "json", "--log-level", "info")
    http_topic(b, "logs")
    before = len(b.log_text().splitlines())
    for i in range(30):
        assert requests.post(b.http + "/topics/logs/records", json={"records": [{"value": i}]},
                             timeout=10).status_code == 200
        assert requests.get(b.http + "/topics/logs/records?partition=0&offset=0",
                            timeout=10).status_code == 200
    produce_all(b.addr, [{"topic": "logs", "value": b"v"} for _ in range(30)])
    assert len(consume(b.addr, "logs", [0], 60)) == 60
    assert len(b.log_text().splitlines()) == before  # nothing logged per request at info
    assert b.stop() == 0
    objs = [json.loads(ln) for ln in b.log_text().splitlines()
            if ln and not ln.startswith("=====")]
    assert objs
    for o in objs:
        assert set(o) >= {"ts", "level", "msg"}
        assert o["level"] in ("error", "warn", "info", "debug")
        assert o["ts"].endswith("Z") and "T" in o["ts"]
    serving = [o for o in objs if o["msg"] == "herald serving"][0]
    assert serving["kafka"] == b.addr and isinstance(serving["partitions"], int)
    created = [o for o in objs if o["msg"] == "topic created"][0]
    assert created["topic"] == "logs" and created["partitions"] == 1
    assert any(o["msg"] == "herald stopped cleanly" for o in objs)


def test_text_logs_carry_fields_as_key_value(broker_factory):
    b = broker_factory("--log-level", "info")
    http_topic(b, "kv")
    assert "info  topic created: topic=kv partitions=1" in b.log_text()


def test_bad_log_format_is_refused(broker_factory):
    b = broker_factory(start=False)
    p = subprocess.run(b.argv() + ["--log-format", "xml"], capture_output=True, timeout=20)
    assert p.returncode == 2 and b"log.format must be text or json" in p.stderr


def test_compressed_kafka_batches_make_one_span_per_run_of_equal_context(broker_factory, collector):
    b = broker_factory("--otlp-endpoint", collector.url)
    create_topic(b.addr, "zipped")
    tp3 = "00-%s-%s-01" % ("ab" * 16, "cd" * 8)
    msgs = [{"topic": "zipped", "partition": 0, "value": b"x" * 200,
             "headers": [("traceparent", (tp3 if i < 10 else TP2).encode())]} for i in range(15)]
    msgs.insert(10, {"topic": "zipped", "partition": 0, "value": b"untraced"})
    produce_all(b.addr, msgs, compression_type="lz4", linger_ms=50)

    def covered(trace):
        return sum(int(attrs(s).get("messaging.batch.message_count", "1"))
                   for s in collector.spans() if s["traceId"] == trace and s["name"] == "send zipped")
    wait_until(lambda: covered("ab" * 16) == 10 and covered("1" * 32) == 5, 10,
               what="spans covering every traced record")
    first = min((s for s in collector.spans() if s["traceId"] == "ab" * 16),
                key=lambda s: int(attrs(s)["messaging.kafka.offset"]))
    assert attrs(first)["messaging.kafka.offset"] == "0"
    assert first["parentSpanId"] == "cd" * 8
    later = [s for s in collector.spans() if s["traceId"] == "1" * 32]
    assert min(int(attrs(s)["messaging.kafka.offset"]) for s in later) == 11


def test_subscription_deliveries_carry_trace_context_spans_and_latency(broker_factory, collector):
    b = broker_factory("--otlp-endpoint", collector.url)
    http_topic(b, "jobs")
    r = requests.post(b.http + "/subscriptions", json={"name": "workers", "topic": "jobs",
                                                         "start": "earliest"}, timeout=10)
    assert r.status_code == 201, r.text
    old = int(time.time() * 1000) - 3000
    r = requests.post(b.http + "/topics/jobs/records", headers={"traceparent": TP}, timeout=10,
                      json={"records": [{"value": "j", "timestamp": old}]})
    assert r.status_code == 200, r.text
    r = requests.post(b.http + "/subscriptions/workers/receive", json={"max": 5, "wait_ms": 2000},
                      timeout=10)
    msgs = r.json()["messages"]
    assert len(msgs) == 1 and msgs[0]["headers"]["traceparent"] == TP
    wait_until(lambda: any(s["name"] == "receive jobs" for s in collector.spans()), 10,
               what="the subscription's delivery span")
    d = [s for s in collector.spans() if s["name"] == "receive jobs"][0]
    assert d["traceId"] == TRACE and d["parentSpanId"] == PARENT
    assert attrs(d)["messaging.destination.subscription.name"] == "workers"
    assert attrs(d)["messaging.operation.name"] == "subscription"
    f = "herald_e2e_latency_seconds"
    fams = scrape(b)
    assert sample(fams, f, f + "_count", kind="subscription", group="workers") == 1
    assert sample(fams, f, f + "_sum", kind="subscription", group="workers") >= 3


def mapped_libraries(b):
    return {Path(line.split()[-1]).name for line in
            Path("/proc/%d/maps" % b.proc.pid).read_text().splitlines()
            if ".so" in line.split()[-1]}


def test_libcurl_is_loaded_only_to_export_spans(broker_factory, collector):
    """libcurl and its twenty libraries are mapped only by a broker that exports spans."""
    plain = broker_factory()
    libs = mapped_libraries(plain)
    assert any(n.startswith("libuv.so") for n in libs), libs
    assert not any(n.startswith("libcurl") for n in libs), sorted(libs)
    exporting = broker_factory("--otlp-endpoint", collector.url)
    assert any(n.startswith("libcurl") for n in mapped_libraries(exporting))
