"""The order board example (examples/orders/) in a real browser: headless Chromium, driven by
playwright-core (js/orders_board.js), opens the page as Herald serves it while this test produces
order events with a Kafka client (and over the REST API), then checks what the page shows:
one card per order with its latest status on the WebSocket-fed board, every event in the
SSE-fed activity feed, and no console errors. The screenshot it takes is docs/img/orders-board.png
(rewritten when HERALD_UPDATE_SCREENSHOTS=1 or when missing)."""
import json
import os
import queue
import shutil
import signal
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests
from confluent_kafka import Producer

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("HERALD_CHROMIUM", "/usr/bin/chromium")
DOC_SCREENSHOT = REPO / "docs" / "img" / "orders-board.png"
TIMEOUT = 10


class Node:
    """The browser driver: a node process whose stdout lines are JSON events."""

    def __init__(self, argv, cwd):
        self.proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.lines = queue.Queue()
        self.stderr = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines.put),
                         daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr.append),
                         daemon=True).start()

    @staticmethod
    def _pump(stream, put):
        for line in stream:
            put(line)

    def next_event(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no event from the browser driver within %.0f s; stderr:\n%s"
                                     % (timeout, "".join(self.stderr)[-3000:]))
            try:
                line = self.lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    raise AssertionError("the browser driver exited with %s; stderr:\n%s" %
                                         (self.proc.returncode, "".join(self.stderr)[-3000:]))
                continue
            try:
                return json.loads(line)
            except ValueError:
                continue  # not one of ours

    def stop(self):
        """SIGTERM lets playwright close Chromium; the group kill is the last resort."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)


def png_size(path):
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def by_id(cards):
    return {c["id"]: c for c in cards}


def feed_of(page, order):
    """The statuses the activity feed lists for one order, oldest first."""
    return [f["status"] for f in reversed(page["feed"]) if f["order"] == order]


# Errors Chromium itself logs while the server is down (a refused connection); the page logs
# nothing of its own.
RECONNECT_NOISE = ("ERR_CONNECTION_REFUSED", "WebSocket connection to")


@pytest.mark.slow
def test_order_board_in_chromium(broker, js_dir, tmp_path):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail("%s is missing: `make deps` installs Debian's chromium" % CHROMIUM)
    r = requests.post(broker.http + "/topics", json={"name": "orders", "partitions": 3},
                      timeout=TIMEOUT)
    assert r.status_code == 201, r.text

    shot = tmp_path / "orders-board.png"
    stages = [{"board": {"o-1": "shipped", "o-2": "paid", "o-3": "placed"}, "feed": 6},
              {"board": {"o-1": "shipped", "o-2": "delivered", "o-3": "packed"}, "feed": 8}]
    node = Node(["node", str(js_dir / "orders_board.js"), broker.http + "/examples/orders/",
                 str(shot), json.dumps(stages), "60000"], cwd=js_dir)
    delivered = []

    def send(key, value, headers=None):
        # murmur2, as the REST API: every order's events land in one partition, in order.
        p = Producer({"bootstrap.servers": broker.addr, "linger.ms": 0, "acks": "all",
                      "partitioner": "murmur2_random"})
        p.produce("orders", key=key, value=json.dumps(value), headers=headers,
                  on_delivery=lambda err, msg: delivered.append((err, key, msg)))
        assert p.flush(TIMEOUT) == 0

    def send_rest(key, value):
        r = requests.post(broker.http + "/topics/orders/records", timeout=TIMEOUT,
                          json={"records": [{"key": key, "value": value}]})
        assert r.status_code == 200, r.text
        return r.json()["offsets"][0]

    try:
        ev = node.next_event(90)
        assert ev["event"] == "ready", ev

        # The page is live on both streams: now the orders move.
        send("o-1", {"order_id": "o-1", "status": "placed", "customer": "Ada Lovelace",
                     "total": 12.5, "eta": "2026-05-01T16:00:00Z"})
        send("o-2", {"order_id": "o-2", "status": "placed", "customer": "Grace Hopper",
                     "total": 40})
        send("o-1", {"order_id": "o-1", "status": "paid"})
        send("o-1", {"order_id": "o-1", "status": "shipped"})
        # A binary-mode CloudEvent: the status comes from its type.
        send("o-2", {"order_id": "o-2"}, headers=[
            ("ce_specversion", b"1.0"), ("ce_id", b"evt-5"), ("ce_source", b"/shop"),
            ("ce_type", b"com.example.order.paid"), ("content-type", b"application/json")])
        assert len(delivered) == 5 and all(err is None for err, _, _ in delivered), delivered
        # One order over the REST API, read back by the same page.
        o3 = send_rest("o-3", {"order_id": "o-3", "status": "placed", "customer": "Alan Turing",
                               "total": 7.25})
        first = node.next_event(90)
        assert first["event"] == "stage", json.dumps(first, indent=1)

        # The server restarts; two orders move while the page is cut off. Both streams must
        # reconnect by themselves and pick up exactly what they missed.
        broker.restart()
        send("o-2", {"order_id": "o-2", "status": "delivered"})
        o3 = send_rest("o-3", {"order_id": "o-3", "status": "packed"})
        last = node.next_event(90)
    finally:
        node.stop()

    # ---- what the page showed before the restart ----
    page = first["page"]
    assert first["console_errors"] == []
    assert page["ws_state"] == "live" and page["sse_state"] == "live"
    assert page["notice"] is None
    assert (page["ws_messages"], page["sse_messages"]) == (6, 6)
    # The board (WebSocket): one card per order, latest status, fields kept across events.
    cards = by_id(page["cards"])
    assert [c["id"] for c in page["cards"]] == ["o-1", "o-2", "o-3"]
    assert [c["status"] for c in page["cards"]] == ["shipped", "paid", "placed"]
    assert (cards["o-1"]["customer"], cards["o-1"]["total"]) == ("Ada Lovelace", "12.50")
    assert cards["o-1"]["eta"].startswith("ETA 5/1/2026")
    assert (cards["o-2"]["customer"], cards["o-2"]["total"]) == ("Grace Hopper", "40.00")
    assert (cards["o-3"]["customer"], cards["o-3"]["total"]) == ("Alan Turing", "7.25")
    assert [cards[o]["steps_done"] for o in ("o-1", "o-2", "o-3")] == [4, 2, 1]
    # Each card names where its latest event is stored.
    where = {key: (msg.partition(), msg.offset()) for _, key, msg in delivered[:5]}
    for o in ("o-1", "o-2"):
        assert "partition %d · offset %d ·" % where[o] in cards[o]["text"], cards[o]
    assert page["tally"] == ["placed 1", "paid 1", "packed 0", "shipped 1", "delivered 0"]
    # The activity feed (SSE): every event once, newest first; per order in produce order
    # (orders may live in different partitions, so only each order's own events are ordered).
    assert len(page["feed"]) == 6 and page["activity_count"] == "6 events"
    assert feed_of(page, "o-1") == ["placed", "paid", "shipped"]
    assert feed_of(page, "o-2") == ["placed", "paid"]
    assert feed_of(page, "o-3") == ["placed"]
    assert any(f["text"].startswith(tuple("0123456789")) and "o-2 → paid" in f["text"]
               for f in page["feed"])

    # ---- after the restart: resumed, nothing missed, nothing twice ----
    assert last["event"] == "done", json.dumps(last, indent=1)
    page = last["page"]
    assert page["ws_state"] == "live" and page["sse_state"] == "live"
    cards = by_id(page["cards"])
    assert [(c["id"], c["status"]) for c in page["cards"]] == \
        [("o-1", "shipped"), ("o-2", "delivered"), ("o-3", "packed")]
    assert (cards["o-2"]["customer"], cards["o-2"]["steps_done"]) == ("Grace Hopper", 5)
    assert (cards["o-3"]["customer"], cards["o-3"]["steps_done"]) == ("Alan Turing", 3)
    o2 = delivered[5][2]
    assert "partition %d · offset %d ·" % (o2.partition(), o2.offset()) in cards["o-2"]["text"]
    assert "partition %d · offset %d ·" % (o3["partition"], o3["offset"]) in cards["o-3"]["text"]
    assert page["tally"] == ["placed 0", "paid 0", "packed 1", "shipped 1", "delivered 1"]
    assert len(page["feed"]) == 8 and page["activity_count"] == "8 events"
    # Both streams resumed after the last event they had (not from the start again).
    assert (page["ws_messages"], page["ws_repeats"]) == (8, 0)
    assert (page["sse_messages"], page["sse_repeats"]) == (8, 0)
    assert feed_of(page, "o-1") == ["placed", "paid", "shipped"]
    assert feed_of(page, "o-2") == ["placed", "paid", "delivered"]
    assert feed_of(page, "o-3") == ["placed", "packed"]
    noise = [e for e in last["console_errors"] if not any(n in e for n in RECONNECT_NOISE)]
    assert noise == []

    width, height = png_size(shot)
    assert width == 1200 and height >= 720
    if os.environ.get("HERALD_UPDATE_SCREENSHOTS") == "1" or not DOC_SCREENSHOT.exists():
        DOC_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, DOC_SCREENSHOT)
