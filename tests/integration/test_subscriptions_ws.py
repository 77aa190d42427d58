"""The WebSocket consumer of a subscription (GET /subscriptions/{name}/ws) against the real
binary, with python3-websockets: messages as POST .../receive renders them, ack/nack/extend
frames answered per receipt in order, flow control (never more than max_unacked outstanding),
competing WebSocket workers, redelivery after a nack, a dropped socket's leases redelivered at
once, handshake problems and close codes."""
import asyncio
import json

import pytest
import requests
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatusCode

from test_subscriptions import T, mk_sub, mk_topic, problem, produce, stats


def ws_url(b, name, query=""):
    return b.http.replace("http://", "ws://") + "/subscriptions/%s/ws%s" % (
        name, "?" + query if query else "")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def recv_json(ws, timeout=10):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_msgs(ws, n, timeout=10):
    """n record messages (fails on anything else)."""
    out = []
    for _ in range(n):
        m = await recv_json(ws, timeout)
        assert "receipt" in m, m
        out.append(m)
    return out


async def nothing_for(ws, seconds):
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(ws.recv(), seconds)


async def request(ws, **req):
    """Sends a request; returns its answer (fails on a record message in between)."""
    await ws.send(json.dumps(req))
    return await recv_json(ws)


async def request_and_msgs(ws, n, **req):
    """Sends a request, returns (its answer, n record messages): records freed by the request
    may come before its answer, which waits for durability."""
    await ws.send(json.dumps(req))
    res, msgs = None, []
    while res is None or len(msgs) < n:
        m = await recv_json(ws)
        if "receipt" in m:
            msgs.append(m)
        else:
            assert res is None, m
            res = m
    return res, msgs


def test_ws_messages_ack_results_and_bad_frames(broker):
    b = broker
    mk_topic(b, "wsq", 1)
    mk_sub(b, name="wsq-sub", topic="wsq", start="earliest")
    produce(b, "wsq", [{"key": "k%d" % i, "value": {"n": i}, "headers": {"h": "v%d" % i}}
                       for i in range(5)])

    async def go():
        async with websockets.connect(ws_url(b, "wsq-sub", "max_unacked=10")) as ws:
            msgs = await recv_msgs(ws, 5)
            assert [m["offset"] for m in msgs] == [0, 1, 2, 3, 4]
            for i, m in enumerate(msgs):
                assert m["partition"] == 0 and m["key"] == "k%d" % i
                assert m["value"] == {"n": i} and m["headers"] == {"h": "v%d" % i}
                assert m["delivery_count"] == 1 and m["timestamp"] > 0
            receipts = [m["receipt"] for m in msgs]
            res = await request(ws, id=7, ack=receipts[:3] + ["bogus"])
            assert res == {"id": 7, "op": "ack", "results": [
                {"receipt": r, "status": s}
                for r, s in zip(receipts[:3] + ["bogus"], ["ok", "ok", "ok", "invalid"])]}
            res = await request(ws, ack=receipts[:1])
            assert res["results"] == [{"receipt": receipts[0], "status": "stale"}]
            assert "id" not in res
            # Malformed requests are answered with an error frame; the socket stays usable.
            for bad, why in [("{", "malformed JSON"), ("[1]", "expected a JSON object"),
                             ('{"id": "x"}', "one of ack"),
                             ('{"ack": ["a"], "nack": ["b"]}', "exactly one"),
                             ('{"ack": []}', "1 to 10000"),
                             ('{"ack": ["a"], "ms": 5}', "go with"),
                             ('{"extend": ["a"]}', "ms must be"),
                             ('{"nack": ["a"], "delay_ms": -1}', "delay_ms must be"),
                             ('{"ack": [1]}', "must be a string"),
                             ('{"ack": ["a"], "what": 1}', "unknown member what")]:
                await ws.send(bad)
                res = await recv_json(ws)
                assert why in res["error"], (bad, res)
            s = stats(b, "wsq-sub")
            assert s["in_flight"] == 2 and s["backlog"] == 2
            res = await request(ws, id="a", ack=receipts[3:])
            assert [x["status"] for x in res["results"]] == ["ok", "ok"] and res["id"] == "a"
            assert stats(b, "wsq-sub")["backlog"] == 0
            pong = await ws.ping()
            await asyncio.wait_for(pong, 5)
        assert ws.close_code == 1000
        async with websockets.connect(ws_url(b, "wsq-sub")) as ws:
            await ws.send(b"\x00binary")
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
            assert ws.close_code == 1003

    run(go())


def test_ws_handshake_problems(broker):
    b = broker
    mk_topic(b, "wsh", 1)
    mk_sub(b, name="wsh-sub", topic="wsh")

    async def go():
        for name, query, status in [("missing", "", 404), ("wsh-sub", "max_unacked=0", 400),
                                    ("wsh-sub", "max_unacked=10001", 400),
                                    ("wsh-sub", "max_unacked=x", 400)]:
            with pytest.raises(InvalidStatusCode) as ei:
                async with websockets.connect(ws_url(b, name, query)):
                    pass
            assert ei.value.status_code == status, (name, query)

    run(go())
    r = requests.get(b.http + "/subscriptions/wsh-sub/ws", timeout=T)
    problem(r, 426)
    assert r.headers["Upgrade"] == "websocket"


def test_ws_flow_control_never_more_than_max_unacked(broker):
    b = broker
    mk_topic(b, "wsf", 2)
    mk_sub(b, name="wsf-sub", topic="wsf", start="earliest")
    produce(b, "wsf", [{"value": i, "partition": i % 2} for i in range(40)])

    async def go():
        async with websockets.connect(ws_url(b, "wsf-sub", "max_unacked=5")) as ws:
            held = await recv_msgs(ws, 5)
            await nothing_for(ws, 0.6)
            assert stats(b, "wsf-sub")["in_flight"] == 5
            seen = {(m["partition"], m["offset"]) for m in held}
            while len(seen) < 40:
                # Ack two: exactly two more come (no more than 5 outstanding at any time).
                want = min(2, 40 - len(seen))
                res, more = await request_and_msgs(ws, want,
                                                   ack=[m["receipt"] for m in held[:2]])
                assert [x["status"] for x in res["results"]] == ["ok", "ok"]
                held = held[2:]
                held += more
                seen |= {(m["partition"], m["offset"]) for m in more}
                assert len(held) <= 5
                if len(seen) < 40:
                    await nothing_for(ws, 0.05)
            assert len(seen) == 40
            await request(ws, ack=[m["receipt"] for m in held])
            s = stats(b, "wsf-sub")
            assert s["backlog"] == 0 and s["in_flight"] == 0

    run(go())


def test_ws_competing_workers_share_the_work_without_overlap(broker):
    b = broker
    mk_topic(b, "wsc", 3)
    mk_sub(b, name="wsc-sub", topic="wsc", start="earliest", ack_timeout_ms=60000)
    n = 600
    for i in range(0, n, 200):
        produce(b, "wsc", [{"value": j, "partition": j % 3} for j in range(i, i + 200)])

    async def worker(got):
        async with websockets.connect(ws_url(b, "wsc-sub", "max_unacked=20")) as ws:
            while True:
                try:
                    m = await recv_json(ws, 1.5)
                except asyncio.TimeoutError:
                    return
                if "receipt" not in m:
                    assert [x["status"] for x in m["results"]] == ["ok"], m
                    continue
                got.append((m["partition"], m["offset"], m["value"]))
                await asyncio.sleep(0.001)  # a little work, so the others get some
                await ws.send(json.dumps({"ack": [m["receipt"]]}))

    async def go():
        gots = [[] for _ in range(4)]
        await asyncio.gather(*(worker(g) for g in gots))
        return gots

    gots = run(go())
    every = [x for g in gots for x in g]
    assert len(every) == n and len(set(every)) == n  # each record once, to one worker
    assert sorted(v for _, _, v in every) == list(range(n))
    assert sum(1 for g in gots if g) >= 2, [len(g) for g in gots]
    s = stats(b, "wsc-sub")
    assert s["backlog"] == 0 and s["in_flight"] == 0


def test_ws_nack_redelivers_and_extend(broker):
    b = broker
    mk_topic(b, "wsn", 1)
    mk_sub(b, name="wsn-sub", topic="wsn", start="earliest", ack_timeout_ms=60000,
           backoff={"initial_ms": 100, "multiplier": 2, "max_ms": 1000, "jitter": 0})
    produce(b, "wsn", [{"value": "a"}, {"value": "b"}])

    async def go():
        async with websockets.connect(ws_url(b, "wsn-sub", "max_unacked=2")) as ws:
            a, bb = await recv_msgs(ws, 2)
            res = await request(ws, id=1, extend=[bb["receipt"]], ms=30000)
            assert res == {"id": 1, "op": "extend",
                           "results": [{"receipt": bb["receipt"], "status": "ok"}]}
            res, (again,) = await request_and_msgs(ws, 1, nack=[a["receipt"]], error="boom")
            assert res["results"] == [{"receipt": a["receipt"], "status": "ok"}]
            assert again["offset"] == 0 and again["delivery_count"] == 2
            assert again["receipt"] != a["receipt"]
            res, (third,) = await request_and_msgs(ws, 1, nack=[again["receipt"]], delay_ms=0)
            assert third["offset"] == 0 and third["delivery_count"] == 3
            res = await request(ws, ack=[a["receipt"], third["receipt"], bb["receipt"]])
            assert [x["status"] for x in res["results"]] == ["stale", "ok", "ok"]
            assert stats(b, "wsn-sub")["backlog"] == 0

    run(go())


def test_ws_dropped_socket_leases_are_redelivered_at_once(broker):
    b = broker
    mk_topic(b, "wsd", 1)
    mk_sub(b, name="wsd-sub", topic="wsd", start="earliest", ack_timeout_ms=600000)
    produce(b, "wsd", [{"value": i} for i in range(10)])

    async def go():
        a = await websockets.connect(ws_url(b, "wsd-sub", "max_unacked=4"))
        held = await recv_msgs(a, 4)
        _, more = await request_and_msgs(a, 1, ack=[held[0]["receipt"]])
        held = held[1:] + more
        assert stats(b, "wsd-sub")["in_flight"] == 4
        a.transport.abort()  # no close handshake: the worker died
        async with websockets.connect(ws_url(b, "wsd-sub", "max_unacked=100")) as w:
            got = await recv_msgs(w, 9, timeout=5)
            await nothing_for(w, 0.3)
            dropped = {m["offset"]: m for m in got if m["delivery_count"] == 2}
            assert sorted(dropped) == sorted(m["offset"] for m in held)
            assert sorted(m["offset"] for m in got) == list(range(1, 10))
            assert all(m["delivery_count"] == 1 for m in got if m["offset"] not in dropped)
            await request(w, ack=[m["receipt"] for m in got])
        assert stats(b, "wsd-sub")["backlog"] == 0

    run(go())


def test_ws_closes_1011_when_the_subscription_is_deleted(broker):
    b = broker
    mk_topic(b, "wsx", 1)
    mk_sub(b, name="wsx-sub", topic="wsx")

    async def go():
        async with websockets.connect(ws_url(b, "wsx-sub")) as ws:
            await asyncio.sleep(0.1)
            r = await asyncio.get_running_loop().run_in_executor(
                None, lambda: requests.delete(b.http + "/subscriptions/wsx-sub", timeout=T))
            assert r.status_code == 204
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
            assert ws.close_code == 1011

    run(go())
