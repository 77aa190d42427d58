#!/usr/bin/python3
"""Drivers of bench/http.sh for Herald's HTTP API. Each command prints one JSON result line.

  topic    --http URL --topic T [--partitions P]
           create a topic over HTTP (an existing one is fine).
  latency  --http URL --kafka HOST:PORT --herald-bench BIN --topic T [--rate R --duration D ...]
           end-to-end latency from a Kafka produce to live readers, all in the same run:
           herald_bench --mode latency produces at R records/s for D seconds (each value starts
           with its *intended* send time, CLOCK_MONOTONIC ns, little-endian; its own librdkafka
           consumer reports as "kafka_c"), while separate processes read the same records as a
           WebSocket client (GET /topics/T/ws?from=latest), an SSE client (GET /topics/T/events
           with Accept: text/event-stream, from=latest) and a Kafka consumer (confluent-kafka,
           assign() at the high watermark). Each computes receipt - intended send per record.
  streams  --http URL --pid PID --topic T [--count N --kinds sse,ws]
           VmRSS of the broker process (from /proc/PID/status) idle, then with N streams of each
           kind open, after one record was delivered to all of them, and after they closed.
  client   one reader of `latency` (internal).

Clients run in their own processes so that one reader's work never delays another's. Nothing here
judges a timing; counts are reported so the caller can tell a partial run from a full one.
"""
import argparse
import asyncio
import base64
import json
import os
import resource
import selectors
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

QUANTILES = (0.5, 0.9, 0.99, 0.999)


def http_json(method, url, body=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def create_topic(http, topic, partitions):
    status, body = http_json("POST", http + "/topics", {"name": topic, "partitions": partitions})
    if status not in (200, 201, 409):
        raise SystemExit("http_tools: creating topic %s: %s %s" % (topic, status, body))


def host_port(url):
    u = urllib.parse.urlsplit(url)
    return u.hostname, u.port or 80


# ---- latency readers ----

def stamp_of_bytes(b):
    return int.from_bytes(b[:8], "little", signed=True) if len(b) >= 8 else None


def stamp_of_record(rec):
    """The intended send time at the start of a record's value, as the HTTP API shows it."""
    if "value_b64" in rec:
        return stamp_of_bytes(base64.b64decode(rec["value_b64"][:12]))
    v = rec.get("value")
    if isinstance(v, str):
        return stamp_of_bytes(v.encode())
    return None


class Samples:
    """Latency samples of one reader: receipt - intended send, for records stamped at or after
    the first stamp seen + warmup."""

    def __init__(self, kind, expect, warmup_s):
        self.kind, self.expect, self.warmup_ns = kind, expect, int(warmup_s * 1e9)
        self.lat = []
        self.received = 0
        self.bad = 0
        self.offsets = set()
        self.first_stamp = None

    def add(self, stamp, now, offset_key=None):
        self.received += 1
        if offset_key is not None:
            self.offsets.add(offset_key)
        if stamp is None:
            self.bad += 1
            return
        if self.first_stamp is None:
            self.first_stamp = stamp
        if stamp >= self.first_stamp + self.warmup_ns:
            self.lat.append(now - stamp)

    def result(self, note=""):
        s = sorted(self.lat)
        n = len(s)

        def q(x):
            return s[min(n - 1, int(x * n))] / 1e6 if n else 0.0

        distinct = len(self.offsets) if self.offsets else self.received
        return {"client": self.kind, "expected": self.expect, "received": self.received,
                "distinct": distinct, "samples": n, "unstamped": self.bad,
                "errors": (self.expect - distinct) + self.bad + (self.received - distinct),
                "p50_ms": q(0.5), "p90_ms": q(0.9), "p99_ms": q(0.99), "p999_ms": q(0.999),
                "max_ms": s[-1] / 1e6 if n else 0.0,
                "mean_ms": sum(s) / n / 1e6 if n else 0.0, "note": note}


stop_requested = False


def on_term(sig, frame):
    global stop_requested
    stop_requested = True


def ready():
    print("ready", flush=True)


def client_kafka(a, smp):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": a.kafka, "group.id": "http-bench-latency",
                  "enable.auto.commit": False, "fetch.wait.max.ms": 100, "fetch.min.bytes": 1,
                  "enable.partition.eof": False, "log_level": 3})
    md = c.list_topics(a.topic, timeout=10)
    parts = sorted(md.topics[a.topic].partitions)
    tps = []
    for p in parts:
        _, hi = c.get_watermark_offsets(TopicPartition(a.topic, p), timeout=10)
        tps.append(TopicPartition(a.topic, p, hi))
    c.assign(tps)
    ready()
    deadline = time.monotonic() + a.deadline
    while smp.received < smp.expect and not stop_requested and time.monotonic() < deadline:
        # Waits for one message, then takes what is already queued: consume() with a timeout
        # would wait for a full batch.
        first = c.poll(0.2)
        if first is None:
            continue
        now = time.monotonic_ns()
        for m in [first] + c.consume(num_messages=1000, timeout=0):
            if m.error():
                smp.bad += 1
                continue
            smp.add(stamp_of_bytes(m.value() or b""), now, (m.partition(), m.offset()))
    c.close()


def client_ws(a, smp):
    import websockets

    url = a.http.replace("http://", "ws://", 1) + "/topics/%s/ws?from=latest" % \
        urllib.parse.quote(a.topic, safe="")

    async def run():
        async with websockets.connect(url, max_size=None, compression=None, ping_interval=None,
                                      open_timeout=10, close_timeout=2) as ws:
            ready()

            async def loop():
                while smp.received < smp.expect:
                    msg = await ws.recv()
                    now = time.monotonic_ns()
                    rec = json.loads(msg)
                    smp.add(stamp_of_record(rec), now, (rec.get("partition"), rec.get("offset")))

            task = asyncio.ensure_future(loop())
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
            try:
                await asyncio.wait_for(task, a.deadline)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                pass

    asyncio.run(run())


def open_stream(http, path, kind, timeout=10):
    """Opens one SSE or WebSocket stream over a raw socket and reads the response head.
    Returns (socket, status, bytes after the head)."""
    host, port = host_port(http)
    s = socket.create_connection((host, port), timeout=timeout)
    if kind == "sse":
        req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n\r\n"
               % (path, host, port))
    else:
        key = base64.b64encode(os.urandom(16)).decode()
        req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, host, port, key))
    s.sendall(req.encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            s.close()
            raise ConnectionError("closed before the response head")
        buf += chunk
        if len(buf) > 65536:
            s.close()
            raise ConnectionError("response head too long")
    head, rest = buf.split(b"\r\n\r\n", 1)
    status = int(head.split(b" ", 2)[1])
    return s, status, head, rest


class SseParser:
    """Events out of an SSE byte stream (chunked transfer coding undone when the head says so)."""

    def __init__(self, chunked):
        self.chunked = chunked
        self.raw = b""
        self.text = b""

    def feed(self, data):
        if self.chunked:
            self.raw += data
            while True:
                i = self.raw.find(b"\r\n")
                if i < 0:
                    break
                size = int(self.raw[:i].split(b";")[0] or b"0", 16)
                if len(self.raw) < i + 2 + size + 2:
                    break
                self.text += self.raw[i + 2:i + 2 + size]
                self.raw = self.raw[i + 2 + size + 2:]
        else:
            self.text += data
        events = []
        self.text = self.text.replace(b"\r\n", b"\n")
        while b"\n\n" in self.text:
            block, self.text = self.text.split(b"\n\n", 1)
            data_lines = [l[5:].lstrip(b" ") for l in block.split(b"\n") if l.startswith(b"data:")]
            if data_lines:
                events.append(b"\n".join(data_lines))
        return events


def client_sse(a, smp):
    path = "/topics/%s/events?from=latest" % urllib.parse.quote(a.topic, safe="")
    s, status, head, rest = open_stream(a.http, path, "sse")
    if status != 200:
        raise ConnectionError("SSE answered %d" % status)
    parser = SseParser(b"transfer-encoding: chunked" in head.lower())
    ready()
    s.settimeout(0.2)
    deadline = time.monotonic() + a.deadline
    data = rest
    while smp.received < smp.expect and not stop_requested and time.monotonic() < deadline:
        if not data:
            try:
                data = s.recv(262144)
            except socket.timeout:
                continue
            if not data:
                break
        now = time.monotonic_ns()
        for ev in parser.feed(data):
            rec = json.loads(ev)
            smp.add(stamp_of_record(rec), now, (rec.get("partition"), rec.get("offset")))
        data = b""
    s.close()


def cmd_client(a):
    signal.signal(signal.SIGTERM, on_term)
    smp = Samples(a.kind, a.expect, a.warmup)
    note = ""
    try:
        {"kafka": client_kafka, "ws": client_ws, "sse": client_sse}[a.kind](a, smp)
    except Exception as e:  # report what was measured, and why it stopped
        note = "%s: %s" % (type(e).__name__, e)
    if smp.received < smp.expect and not note:
        note = "stopped before receiving every record"
    print(json.dumps(smp.result(note)), flush=True)


def cmd_latency(a):
    create_topic(a.http, a.topic, 1)
    expect = int(a.rate * a.duration)
    clients = {}
    me = os.path.abspath(__file__)
    for kind in a.clients.split(","):
        clients[kind] = subprocess.Popen(
            [sys.executable, me, "client", "--kind", kind, "--http", a.http, "--kafka", a.kafka,
             "--topic", a.topic, "--expect", str(expect), "--warmup", str(a.warmup),
             "--deadline", str(a.duration + a.warmup + 60)],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    out = {"rate": a.rate, "duration": a.duration, "warmup": a.warmup, "size": a.size,
           "expected": expect}
    sel = selectors.DefaultSelector()
    for kind, p in clients.items():
        sel.register(p.stdout, selectors.EVENT_READ, kind)
    waiting, deadline, early = set(clients), time.monotonic() + 30, {}
    while waiting and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            line = key.fileobj.readline()
            sel.unregister(key.fileobj)
            waiting.discard(key.data)
            if line.strip() != b"ready":  # it failed first and printed its result
                early[key.data] = line
    if waiting:
        out.setdefault("client_errors", []).append("not ready in 30 s: %s" % sorted(waiting))
    cmd = [a.herald_bench, "--mode", "latency", "--addr", a.kafka, "--system", "herald",
           "--topic", a.topic, "--rate", str(a.rate), "--duration", str(a.duration),
           "--warmup", str(a.warmup), "--size", str(a.size), "--linger-ms", str(a.linger_ms),
           "--timeout", "30"]
    out["cmd"] = " ".join([os.path.basename(cmd[0])] + cmd[1:])
    r = subprocess.run(cmd, stdout=subprocess.PIPE, timeout=a.duration + 300)
    lines = [l for l in r.stdout.decode().splitlines() if l.startswith("{")]
    out["kafka_c"] = json.loads(lines[-1]) if lines else {"errors": expect, "note": "no result"}
    # Readers get a few seconds past the producer's end, then are told to report what they have.
    grace = time.monotonic() + 10
    for kind, p in clients.items():
        try:
            p.wait(max(0.1, grace - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGTERM)
    for kind, p in clients.items():
        try:
            rest, _ = p.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            rest, _ = p.communicate()
        rest = early.get(kind, b"") + rest
        lines = [l for l in rest.decode().splitlines() if l.startswith("{")]
        out[kind] = json.loads(lines[-1]) if lines else {"errors": expect,
                                                         "note": "exited %s" % p.returncode}
    out["errors"] = sum(out[k].get("errors", 0) for k in ["kafka_c"] + list(clients))
    print(json.dumps(out), flush=True)
    return 0 if out["errors"] == 0 else 1


# ---- memory of open streams ----

def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def raise_fd_limit(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = need if hard == resource.RLIM_INFINITY else min(need, hard)
    if soft == resource.RLIM_INFINITY or soft >= want:
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def streams_of(a, kind):
    """Opens a.count streams of one kind, delivers one record to all of them, closes them."""
    pid = a.pid
    res = {"kind": kind, "count": a.count}
    time.sleep(a.settle)
    res["rss_before_kib"] = rss_kib(pid)
    path = "/topics/%s/%s?from=latest" % (urllib.parse.quote(a.topic, safe=""),
                                          "events" if kind == "sse" else "ws")
    socks, first_err = [], ""
    t0 = time.monotonic()
    for _ in range(a.count):
        try:
            s, status, head, rest = open_stream(a.http, path, kind)
        except OSError as e:
            first_err = first_err or "%s: %s" % (type(e).__name__, e)
            break
        if status != (200 if kind == "sse" else 101):
            first_err = first_err or "status %d" % status
            s.close()
            continue
        s.setblocking(False)
        socks.append([s, rest])
    res["opened"] = len(socks)
    res["open_secs"] = round(time.monotonic() - t0, 3)
    res["first_error"] = first_err
    time.sleep(a.settle)
    res["rss_open_kib"] = rss_kib(pid)
    # One record to every stream: each must see its unique value.
    marker = "rss-probe-%d-%s" % (os.getpid(), kind)
    status, body = http_json("POST", "%s/topics/%s/records" % (a.http, urllib.parse.quote(a.topic)),
                             {"records": [{"value": marker}]})
    res["probe_status"] = status
    sel = selectors.DefaultSelector()
    for i, (s, _) in enumerate(socks):
        sel.register(s, selectors.EVENT_READ, i)
    got = [marker.encode() in rest for _, rest in socks]
    for i, g in enumerate(got):
        if g:
            sel.unregister(socks[i][0])
    left, deadline = got.count(False), time.monotonic() + 15
    while left and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            i = key.data
            try:
                data = socks[i][0].recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            socks[i][1] = socks[i][1][-256:] + data
            if marker.encode() in socks[i][1] or not data:
                got[i] = bool(data)
                sel.unregister(socks[i][0])
                left -= 1
    res["delivered"] = got.count(True)
    res["rss_delivered_kib"] = rss_kib(pid)
    for s, _ in socks:
        s.close()
    time.sleep(a.settle)
    res["rss_closed_kib"] = rss_kib(pid)
    n = res["opened"]
    res["per_stream_kib"] = (res["rss_open_kib"] - res["rss_before_kib"]) / n if n else 0.0
    res["per_stream_delivered_kib"] = (res["rss_delivered_kib"] - res["rss_before_kib"]) / n if n else 0.0
    res["errors"] = (a.count - res["opened"]) + (res["opened"] - res["delivered"])
    return res


def cmd_streams(a):
    raise_fd_limit(a.count + 256)
    create_topic(a.http, a.topic, 1)
    time.sleep(a.settle)
    out = {"pid_rss_idle_kib": rss_kib(a.pid), "count": a.count}
    for kind in a.kinds.split(","):
        out[kind] = streams_of(a, kind)
    out["errors"] = sum(out[k]["errors"] for k in a.kinds.split(","))
    print(json.dumps(out), flush=True)
    return 0 if out["errors"] == 0 else 1


def cmd_topic(a):
    create_topic(a.http, a.topic, a.partitions)
    status, body = http_json("GET", "%s/topics/%s" % (a.http, urllib.parse.quote(a.topic)))
    print(json.dumps(body))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("topic")
    p.add_argument("--http", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--partitions", type=int, default=1)
    p = sub.add_parser("latency")
    p.add_argument("--http", required=True)
    p.add_argument("--kafka", required=True)
    p.add_argument("--herald-bench", required=True)
    p.add_argument("--topic", default="http-latency")
    p.add_argument("--rate", type=float, default=1000)
    p.add_argument("--duration", type=float, default=15)
    p.add_argument("--warmup", type=float, default=1)
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--linger-ms", type=float, default=0.5)
    p.add_argument("--clients", default="ws,sse,kafka")
    p = sub.add_parser("client")
    p.add_argument("--kind", choices=["ws", "sse", "kafka"], required=True)
    p.add_argument("--http", required=True)
    p.add_argument("--kafka", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--expect", type=int, required=True)
    p.add_argument("--warmup", type=float, default=1)
    p.add_argument("--deadline", type=float, default=120)
    p = sub.add_parser("streams")
    p.add_argument("--http", required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--topic", default="http-streams")
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--kinds", default="sse,ws")
    p.add_argument("--settle", type=float, default=1.0)
    a = ap.parse_args()
    return {"topic": cmd_topic, "latency": cmd_latency, "client": cmd_client,
            "streams": cmd_streams}[a.cmd](a) or 0


if __name__ == "__main__":
    sys.exit(main())
