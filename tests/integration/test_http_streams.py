"""Live streams over HTTP against the real binary: Server-Sent Events (raw sockets and curl) and
WebSocket (python3-websockets) deliver records produced by Kafka clients, with exact ids and
JSON, resume exactly (Last-Event-ID, ?from=), filter by CloudEvents type and key, send
heartbeats and pings, close cleanly (1000, 1001 on shutdown, topic deletion), refuse bad
handshakes and unknown topics before streaming, cut off clients that stop reading without
growing the broker's memory, and keep idle streams cheap."""
import asyncio
import base64
import datetime
import json
import os
import socket
import subprocess
import time

import pytest
import requests
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatusCode

from clients import create_topic, produce_all
from conftest import wait_until

PROBLEM = "application/problem+json"


# ---- helpers ----

class SSE:
    """A raw-socket SSE client: sends the request, reads the response head, then parses
    events (id/event/data fields, dispatched on blank lines) and comment lines."""

    def __init__(self, broker, topic, query="", headers=None, timeout=10.0, rcvbuf=None,
                 path=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", broker.http_port))
        hdrs = {"Host": "127.0.0.1", "Accept": "text/event-stream"}
        hdrs.update(headers or {})
        target = path or "/topics/%s/events%s" % (topic, ("?" + query) if query else "")
        req = "GET %s HTTP/1.1\r\n%s\r\n" % (
            target, "".join("%s: %s\r\n" % kv for kv in hdrs.items()))
        self.sock.sendall(req.encode())
        self.buf = b""
        self.eof = False
        self.comments = []
        self.retry = None
        head = self._until(b"\r\n\r\n", timeout)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        self.body_prefix = b""
        if "content-length" in self.headers:
            n = int(self.headers["content-length"])
            while len(self.buf) < n and self._fill(timeout):
                pass
            self.body_prefix = self.buf[:n]

    def json_body(self):
        return json.loads(self.body_prefix)

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        try:
            d = self.sock.recv(65536)
        except (socket.timeout, BlockingIOError):
            return False
        except ConnectionResetError:
            d = b""
        if not d:
            self.eof = True
            return False
        self.buf += d
        return True

    def _until(self, sep, timeout):
        deadline = time.monotonic() + timeout
        while sep not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or (not self._fill(left) and (self.eof or time.monotonic() >= deadline)):
                raise AssertionError("no %r within %.1f s (got %r)" % (sep, timeout,
                                                                       self.buf[-300:]))
        i = self.buf.index(sep)
        out, self.buf = self.buf[:i], self.buf[i + len(sep):]
        return out

    def next_block(self, timeout=10.0):
        """The next block of lines up to a blank line, parsed: dict or None for comments."""
        raw = self._until(b"\n\n", timeout).decode()
        ev = {}
        for ln in raw.split("\n"):
            if ln.startswith(":"):
                self.comments.append(ln)
                continue
            k, _, v = ln.partition(":")
            v = v[1:] if v.startswith(" ") else v
            if k == "retry":
                self.retry = int(v)
            elif k == "data":
                ev["data"] = ev["data"] + "\n" + v if "data" in ev else v
            else:
                ev[k] = v
        return ev

    def events(self, n, timeout=10.0):
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            ev = self.next_block(max(0.05, deadline - time.monotonic()))
            if "data" in ev:
                ev["json"] = json.loads(ev["data"])
                out.append(ev)
        return out

    def no_event(self, wait):
        """Asserts no event arrives within wait seconds (comments are fine)."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                ev = self.next_block(deadline - time.monotonic())
            except AssertionError:
                return
            assert "data" not in ev, "unexpected event %r" % ev

    def close(self):
        self.sock.close()


def mk(broker, topic, partitions=1):
    create_topic(broker.addr, topic, partitions=partitions)


def produce(broker, topic, recs):
    """recs: dicts with key/value/partition/headers/timestamp (str values are encoded)."""
    msgs = []
    for r in recs:
        m = {"topic": topic}
        for k, v in r.items():
            m[k] = v.encode() if isinstance(v, str) and k in ("key", "value") else v
        msgs.append(m)
    return produce_all(broker.addr, msgs)


def ce_headers(ce_type, i):
    return [("ce_specversion", b"1.0"), ("ce_id", b"id-%d" % i), ("ce_source", b"/test"),
            ("ce_type", ce_type.encode()), ("content-type", b"application/json")]


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    raise AssertionError("no VmRSS")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def ws_url(broker, topic, query=""):
    return "ws://127.0.0.1:%d/topics/%s/ws%s" % (broker.http_port, topic,
                                                 ("?" + query) if query else "")


def raw_http(broker, request, timeout=10.0):
    """Sends raw request bytes; returns (status, headers, body) of the answer."""
    with socket.create_connection(("127.0.0.1", broker.http_port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            d = s.recv(65536)
            if not d:
                break
            data += d
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        while len(body) < n:
            d = s.recv(65536)
            if not d:
                break
            body += d
        return int(lines[0].split()[1]), headers, body


def ws_request(topic, extra=None, drop=(), version="13", key=None, query=""):
    key = key or base64.b64encode(os.urandom(16)).decode()
    hdrs = {"Host": "127.0.0.1", "Upgrade": "websocket", "Connection": "Upgrade",
            "Sec-WebSocket-Version": version, "Sec-WebSocket-Key": key}
    hdrs.update(extra or {})
    for d in drop:
        hdrs.pop(d, None)
    return ("GET /topics/%s/ws%s HTTP/1.1\r\n%s\r\n" % (
        topic, ("?" + query) if query else "", "".join("%s: %s\r\n" % kv for kv in hdrs.items()))).encode()


# ---- SSE ----

def test_sse_delivers_kafka_records_with_ids_and_json(broker):
    mk(broker, "orders", 1)
    s = SSE(broker, "orders")
    assert s.status == 200
    assert s.headers["content-type"] == "text/event-stream"
    assert s.headers["cache-control"] == "no-cache"
    assert "content-length" not in s.headers and "transfer-encoding" not in s.headers
    produce(broker, "orders", [
        {"key": "o-1", "value": '{"total":12}', "headers": [("source", b"web")],
         "timestamp": 1700000000123},
        {"key": "o-2", "value": "plain text"},
        {"value": b"\xff\x00bin"},
    ])
    evs = s.events(3)
    assert s.retry == 1000
    assert [e["id"] for e in evs] == ["0:0", "0:1", "0:2"]
    d0, d1, d2 = (e["json"] for e in evs)
    assert d0 == {"partition": 0, "offset": 0, "timestamp": 1700000000123, "key": "o-1",
                  "value": {"total": 12}, "headers": {"source": "web"}}
    assert (d1["key"], d1["value"], d1["offset"]) == ("o-2", "plain text", 1)
    assert d2["key"] is None and base64.b64decode(d2["value_b64"]) == b"\xff\x00bin"
    # Every data field is one line of JSON.
    assert all("\n" not in e["data"] for e in evs)
    s.close()


def test_sse_with_curl_and_heartbeats(broker_factory):
    b = broker_factory("--http-stream-heartbeat-ms", "200")
    mk(b, "hb", 1)
    produce(b, "hb", [{"key": "k", "value": "v"}])
    p = subprocess.run(["curl", "-sN", "--max-time", "1.5", "-H", "Accept: text/event-stream",
                        "%s/topics/hb/events?from=earliest" % b.http],
                       capture_output=True, timeout=20)
    out = p.stdout.decode()
    assert p.returncode == 28, (p.returncode, out)  # curl's "timed out": the stream stays open
    assert out.startswith("retry: 1000\n\nid: 0:0\ndata: {"), out
    assert json.loads(out.split("data: ", 1)[1].split("\n", 1)[0])["value"] == "v"
    # About one heartbeat per 200 ms of silence: at least 4 in 1.5 s, not a flood.
    assert 4 <= out.count("\n: heartbeat\n") <= 12, out


def test_sse_last_event_id_resumes_single_partition_exclusive(broker):
    mk(broker, "one", 2)
    produce(broker, "one", [{"key": "k%d" % i, "value": "v%d" % i, "partition": 1}
                            for i in range(6)])
    s = SSE(broker, "one", "partition=1&from=earliest")
    evs = s.events(3)
    assert [e["id"] for e in evs] == ["1:0", "1:1", "1:2"]
    s.close()
    s = SSE(broker, "one", "partition=1", headers={"Last-Event-ID": evs[-1]["id"]})
    evs = s.events(3)
    assert [e["id"] for e in evs] == ["1:3", "1:4", "1:5"]
    assert [e["json"]["value"] for e in evs] == ["v3", "v4", "v5"]
    s.no_event(0.3)
    s.close()


def test_sse_last_event_id_resumes_multi_partition_exactly(broker):
    mk(broker, "multi", 3)
    recs = [{"key": "p%d-%d" % (i % 3, i), "value": "v%d" % i, "partition": i % 3}
            for i in range(30)]
    produce(broker, "multi", recs)
    want = sorted((r["partition"], r["key"]) for r in recs)
    s = SSE(broker, "multi", "from=earliest")
    first = s.events(11)
    s.close()
    # Each id holds this record's position and every other partition's.
    last = first[-1]["id"]
    pairs = dict(tuple(map(int, p.split(":"))) for p in last.split(","))
    assert sorted(pairs) == [0, 1, 2]
    assert last.startswith("%d:%d," % (first[-1]["json"]["partition"],
                                       first[-1]["json"]["offset"]))
    s = SSE(broker, "multi", "", headers={"Last-Event-ID": last})
    rest = s.events(30 - 11)
    s.no_event(0.3)
    s.close()
    got = sorted((e["json"]["partition"], e["json"]["key"]) for e in first + rest)
    assert got == want  # nothing lost, nothing twice
    # A hand-made id: after offset 7 of partition 0, after 8 of 1, nothing of 2 (-1).
    s = SSE(broker, "multi", "", headers={"Last-Event-ID": "0:7,1:8,2:-1"})
    evs = s.events(2 + 1 + 10)
    s.no_event(0.3)
    s.close()
    got = sorted((e["json"]["partition"], e["json"]["offset"]) for e in evs)
    assert got == sorted([(0, 8), (0, 9), (1, 9)] + [(2, o) for o in range(10)])


def test_sse_from_earliest_offset_and_timestamp_are_inclusive(broker):
    mk(broker, "ts", 1)
    base = 1700000000000
    produce(broker, "ts", [{"value": "v%d" % i, "timestamp": base + i * 1000}
                           for i in range(5)])
    s = SSE(broker, "ts", "from=earliest")
    assert [e["id"] for e in s.events(5)] == ["0:%d" % i for i in range(5)]
    s.close()
    s = SSE(broker, "ts", "from=3")
    assert [e["json"]["value"] for e in s.events(2)] == ["v3", "v4"]
    s.no_event(0.2)
    s.close()
    # The first record at or after the time; an offset with '+' encoded, and in another zone.
    for stamp in ["2023-11-14T22:13:22Z", "2023-11-14T22:13:22.000%2B00:00",
                  "2023-11-14T23:13:22%2B01:00", "2023-11-14T22:13:21.5Z"]:
        s = SSE(broker, "ts", "from=" + stamp)
        evs = s.events(3)
        assert [e["json"]["timestamp"] for e in evs] == [base + 2000, base + 3000,
                                                         base + 4000], stamp
        s.close()
    # latest (the default) sends only what comes next.
    s = SSE(broker, "ts", "from=latest")
    s.no_event(0.3)
    produce(broker, "ts", [{"value": "new"}])
    assert [e["id"] for e in s.events(1)] == ["0:5"]
    s.close()


def test_sse_filters_by_cloudevents_type_and_key(broker):
    mk(broker, "ce", 2)
    recs = [
        {"key": "k1", "value": "{}", "headers": ce_headers("order.created", 0), "partition": 0},
        {"key": "k2", "value": "{}", "headers": ce_headers("order.paid", 1), "partition": 0},
        {"key": "k1", "value": "{}", "headers": ce_headers("invoice.sent", 2), "partition": 0},
        {"key": "k1", "value": "not a cloudevent", "partition": 0},
        {"key": "k1", "value": "{}", "headers": ce_headers("order.created", 4), "partition": 1},
    ]
    produce(broker, "ce", recs)
    s = SSE(broker, "ce", "from=earliest&partition=0&type=order.created")
    evs = s.events(1)
    s.no_event(0.3)
    assert [e["id"] for e in evs] == ["0:0"]
    assert evs[0]["json"]["cloudevent"]["type"] == "order.created"
    s.close()
    s = SSE(broker, "ce", "from=earliest&partition=0&type=order.*")
    assert [e["id"] for e in s.events(2)] == ["0:0", "0:1"]
    s.no_event(0.3)
    s.close()
    s = SSE(broker, "ce", "from=earliest&partition=0&key=k1")
    evs = s.events(3)
    assert [e["id"] for e in evs] == ["0:0", "0:2", "0:3"]
    assert "cloudevent" not in evs[2]["json"]
    s.no_event(0.3)
    s.close()
    # Both filters, both partitions: ids carry the position filtered records moved on.
    s = SSE(broker, "ce", "from=earliest&type=order.created&key=k1")
    evs = s.events(2)
    s.no_event(0.3)
    s.close()
    assert [e["id"] for e in evs] == ["0:0,1:-1", "1:0,0:3"]
    # Resuming after either event skips the filtered records, which moved the position.
    s = SSE(broker, "ce", "type=order.created&key=k1", headers={"Last-Event-ID": "1:0,0:3"})
    s.no_event(0.3)
    s.close()
    s = SSE(broker, "ce", "type=order.created&key=k1", headers={"Last-Event-ID": "0:0,1:-1"})
    assert [e["id"] for e in s.events(1)] == ["1:0,0:3"]
    s.no_event(0.3)
    s.close()


def test_sse_refuses_unknown_topic_partition_and_bad_positions(broker):
    mk(broker, "here", 2)
    s = SSE(broker, "nope")
    assert s.status == 404 and s.headers["content-type"] == PROBLEM
    assert "nope" in s.json_body()["detail"]
    s.close()
    s = SSE(broker, "here", "partition=2")
    assert s.status == 404 and s.headers["content-type"] == PROBLEM
    s.close()
    for q in ["from=yesterday", "from=-1", "from=2023-13-01T00:00:00Z", "from=2023-02-29T00:00Z",
              "partition=x", "partition=-1"]:
        s = SSE(broker, "here", q)
        assert s.status == 400, q
        assert s.headers["content-type"] == PROBLEM
        s.close()
    for bad in ["x", "0", "0:", ":1", "0:1,", "0:1,0:2", "5:1", "0:-2", "0:1;1:2", "a:b",
                "0:99999999999999999999"]:
        s = SSE(broker, "here", headers={"Last-Event-ID": bad})
        assert s.status == 400, bad
        assert "last event id" in s.json_body()["detail"]
        s.close()
    # Positions beyond the log are clamped to it: the stream waits for what comes next.
    s = SSE(broker, "here", headers={"Last-Event-ID": "0:9223372036854775807,1:5"})
    assert s.status == 200
    produce(broker, "here", [{"value": "next", "partition": 0}])
    assert [e["id"] for e in s.events(1)] == ["0:0,1:-1"]
    s.close()


def test_sse_topic_deleted_ends_the_stream_with_an_error_event(broker):
    mk(broker, "doomed", 2)
    s = SSE(broker, "doomed")
    produce(broker, "doomed", [{"value": "x", "partition": 1}])
    assert s.events(1)[0]["id"] == "1:0,0:-1"
    r = requests.delete(broker.http + "/topics/doomed", timeout=10)
    assert r.status_code == 204
    ev = s.next_block(5)
    assert ev["event"] == "error" and json.loads(ev["data"])["reason"] == "topic deleted"
    wait_until(lambda: not s._fill(0.2) and s.eof, 5, what="the stream to close")
    s.close()


# ---- WebSocket ----

def test_ws_messages_in_order_with_ids_ping_and_normal_close(broker):
    mk(broker, "live", 2)

    async def go():
        async with websockets.connect(ws_url(broker, "live", "from=earliest"),
                                      close_timeout=5) as ws:
            produce(broker, "live", [{"key": "k%d" % i, "value": '{"n":%d}' % i,
                                      "partition": 0} for i in range(5)])
            msgs = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(5)]
            assert [m["id"] for m in msgs] == ["0:%d,1:-1" % i for i in range(5)]
            assert [m["value"] for m in msgs] == [{"n": i} for i in range(5)]
            assert [m["key"] for m in msgs] == ["k%d" % i for i in range(5)]
            pong = await ws.ping(b"hello")
            await asyncio.wait_for(pong, 5)
        assert ws.close_code == 1000

        # Resume with ?last_event_id= (SSE syntax), one partition.
        async with websockets.connect(ws_url(broker, "live",
                                             "partition=0&last_event_id=0:2")) as ws:
            msgs = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(2)]
            assert [m["id"] for m in msgs] == ["0:3", "0:4"]
            assert [m["key"] for m in msgs] == ["k3", "k4"]

    run(go())


def test_ws_close_1001_on_shutdown(broker_factory):
    b = broker_factory()
    mk(b, "bye", 1)

    async def go():
        async with websockets.connect(ws_url(b, "bye")) as ws:
            await asyncio.sleep(0.1)
            b.proc.send_signal(15)
            with pytest.raises(ConnectionClosed) as ei:
                await asyncio.wait_for(ws.recv(), 10)
            assert ei.value.rcvd is not None and ei.value.rcvd.code == 1001
            assert ei.value.rcvd.reason == "server shutting down"

    run(go())
    rc = b.proc.wait(10)
    b.proc = None
    assert rc == 0
    assert "herald stopped cleanly" in b.log_text()


def test_ws_heartbeat_ping_reaches_the_client(broker_factory):
    b = broker_factory("--http-stream-heartbeat-ms", "150")
    mk(b, "quiet", 1)
    req = ws_request("quiet")
    with socket.create_connection(("127.0.0.1", b.http_port), timeout=5) as s:
        s.sendall(req)
        data = b""
        deadline = time.monotonic() + 5
        while data.count(b"\x89\x00") < 2 and time.monotonic() < deadline:
            data += s.recv(4096)
        head, _, frames = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 ")
        assert frames.count(b"\x89\x00") >= 2  # unmasked, empty pings


def test_ws_handshake_is_checked(broker):
    mk(broker, "hs", 1)
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    st, h, body = raw_http(broker, ws_request("hs", key=key), timeout=5)
    assert st == 101
    # RFC 6455's own example.
    assert h["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert h["upgrade"].lower() == "websocket" and h["connection"].lower() == "upgrade"
    st, h, body = raw_http(broker, ws_request("hs", drop=["Sec-WebSocket-Key"]))
    assert st == 400 and h["content-type"] == PROBLEM and "Key" in json.loads(body)["detail"]
    st, h, body = raw_http(broker, ws_request("hs", key="c2hvcnQ="))
    assert st == 400
    st, h, body = raw_http(broker, ws_request("hs", version="12"))
    assert st == 426 and h["sec-websocket-version"] == "13" and h["content-type"] == PROBLEM
    st, h, body = raw_http(broker, ws_request("hs", drop=["Upgrade"]))
    assert st == 426 and h["upgrade"] == "websocket"
    st, h, body = raw_http(broker, ws_request("hs", extra={"Connection": "keep-alive"}))
    assert st == 400
    # Unknown topic or partition: 404 before any upgrade.
    st, h, body = raw_http(broker, ws_request("missing"))
    assert st == 404 and h["content-type"] == PROBLEM and "missing" in json.loads(body)["detail"]

    async def go():
        with pytest.raises(InvalidStatusCode) as ei:
            async with websockets.connect(ws_url(broker, "missing")):
                pass
        assert ei.value.status_code == 404
        with pytest.raises(InvalidStatusCode) as ei:
            async with websockets.connect(ws_url(broker, "hs", "partition=1")):
                pass
        assert ei.value.status_code == 404
        with pytest.raises(InvalidStatusCode) as ei:
            async with websockets.connect(ws_url(broker, "hs", "last_event_id=zz")):
                pass
        assert ei.value.status_code == 400

    run(go())


def test_ws_bad_client_frames_get_close_codes(broker):
    mk(broker, "frames", 1)

    async def go():
        async with websockets.connect(ws_url(broker, "frames"), max_size=None) as ws:
            await ws.send(b"\x00binary")
            with pytest.raises(ConnectionClosed) as ei:
                await asyncio.wait_for(ws.recv(), 10)
            assert ei.value.rcvd.code == 1003
        async with websockets.connect(ws_url(broker, "frames"), max_size=None) as ws:
            await ws.send("x" * (65 << 10))
            with pytest.raises(ConnectionClosed) as ei:
                await asyncio.wait_for(ws.recv(), 10)
            assert ei.value.rcvd.code == 1009
        # A small text message is ignored; the stream goes on.
        async with websockets.connect(ws_url(broker, "frames")) as ws:
            await ws.send("hello")
            produce(broker, "frames", [{"value": "after"}])
            m = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert (m["id"], m["value"]) == ("0:0", "after")

    run(go())


def test_ws_topic_deleted_closes_1011(broker):
    mk(broker, "gone", 1)

    async def go():
        async with websockets.connect(ws_url(broker, "gone")) as ws:
            await asyncio.sleep(0.1)
            r = requests.delete(broker.http + "/topics/gone", timeout=10)
            assert r.status_code == 204
            with pytest.raises(ConnectionClosed) as ei:
                await asyncio.wait_for(ws.recv(), 10)
            assert ei.value.rcvd.code == 1011 and ei.value.rcvd.reason == "topic deleted"

    run(go())


# ---- memory ----

# Under AddressSanitizer freed blocks wait in a quarantine, so RSS would count every byte ever
# allocated; without it RSS measures what is live, as in a release build.
NO_QUARANTINE = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:quarantine_size_mb=0:"
                                 "thread_local_quarantine_size_kb=0"}


def test_slow_client_is_cut_off_and_memory_stays_bounded(broker_factory):
    b = broker_factory("--http-stream-buffer-bytes", "65536",
                       "--http-stream-stall-timeout-ms", "800", env=NO_QUARANTINE)
    mk(b, "big", 1)
    value = "x" * 10000
    total = 0
    for chunk in range(6):
        produce(b, "big", [{"value": value} for _ in range(500)])
        total += 500 * len(value)
    assert total >= 30_000_000
    pid = b.proc.pid
    rss0 = rss_kib(pid)
    s = SSE(b, "big", "from=earliest", rcvbuf=4096)
    assert s.status == 200
    peak = rss0
    t0 = time.monotonic()
    closed = False
    while time.monotonic() - t0 < 15:
        peak = max(peak, rss_kib(pid))
        if "closed: the client accepted no bytes" in b.log_text():
            closed = True
            break
        time.sleep(0.1)
    assert closed, "the stalled stream was not closed"
    assert time.monotonic() - t0 >= 0.7
    # The broker queued a bounded amount for the client, far below the 30 MB it was offered.
    got = len(s.buf)
    while s._fill(2):
        got += len(s.buf)
        s.buf = b""
    assert s.eof
    assert got < 12_000_000, got
    print("slow client: RSS %d -> peak %d KiB, %d bytes reached the client" % (rss0, peak, got))
    assert peak - rss0 < 24 * 1024, (rss0, peak)
    s.close()
    # The broker still serves streams.
    s = SSE(b, "big", "from=2999")
    assert s.events(1)[0]["id"] == "0:2999"
    s.close()


def test_ws_slow_client_is_cut_off(broker_factory):
    b = broker_factory("--http-stream-buffer-bytes", "65536",
                       "--http-stream-stall-timeout-ms", "500")
    mk(b, "bigws", 1)
    produce(b, "bigws", [{"value": "y" * 10000} for _ in range(1500)])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", b.http_port))
    sock.sendall(ws_request("bigws", query="from=earliest"))
    wait_until(lambda: "closed: the client accepted no bytes" in b.log_text(), 15,
               what="the stalled websocket to be closed")
    got = 0
    try:
        while True:
            d = sock.recv(65536)
            if not d:
                break
            got += len(d)
    except ConnectionResetError:
        pass
    sock.close()
    assert got < 15_000_000


def test_idle_sse_streams_cost_kilobytes(broker_factory):
    broker = broker_factory(env=NO_QUARANTINE)
    mk(broker, "idle", 1)
    pid = broker.proc.pid
    # Warm up: the first streams pay for one-off allocations.
    warm = [SSE(broker, "idle") for _ in range(20)]
    time.sleep(0.3)
    rss0 = rss_kib(pid)
    n = 500
    streams = [SSE(broker, "idle") for _ in range(n)]
    assert all(s.status == 200 for s in streams)
    time.sleep(0.5)
    rss1 = rss_kib(pid)
    per_stream = (rss1 - rss0) / n
    print("idle SSE streams: %.1f KiB each" % per_stream)
    assert per_stream < 64, "%.1f KiB per idle stream" % per_stream
    # They are live: one record reaches every one of them.
    produce(broker, "idle", [{"value": "ping"}])
    for s in streams[::50] + warm[:1]:
        assert s.events(1)[0]["json"]["value"] == "ping"
    for s in streams + warm:
        s.close()
