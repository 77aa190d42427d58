"""Schema validation of records produced over HTTP runs on the validation threads
(schema.validation.threads), not on the event loop: big batches are split over the threads, the
answers are those of a check on the loop (exact offsets, the exact 422 problem, dead letters),
requests of one keep-alive connection are answered and take effect in order, other connections
(Kafka's and HTTP's) are served while a check runs, and a client closing, the broker stopping or
the registry or topic changing while records are checked lose, leak or half-append nothing.

Several tests hold a check in progress with the broker's test hook HERALD_TEST_VALIDATION_GATE:
the first part of every check opens that FIFO and reads one byte before checking anything, so
the test knows for certain that a check is running (its open for writing succeeds) and decides
when it ends (it writes the byte)."""
import base64
import errno
import json
import os
import signal
import socket
import struct
import threading
import time

import kafkaraw as kr
import pytest
import requests
from test_produce_errors import answer_v8
from test_registry import REC1, avro_order, call, ok, register, wire
from test_validation_workers import alter_topic_config, alter_answer

WIRE_MSG = ("value is not in the schema registry wire format (magic byte 0 and a 4-byte "
            "schema id) and is not a CloudEvent with a dataschema")


def mk_topic(broker, name, partitions=1, **config):
    r = requests.post(broker.http + "/topics", json={"name": name, "partitions": partitions,
                                                     "config": config}, timeout=10)
    assert r.status_code == 201, r.text


def validating(broker, topic, **config):
    sid = ok(register(broker, topic + "-value", REC1))["id"]
    mk_topic(broker, topic, **{"confluent.value.schema.validation": "true"}, **config)
    return sid


def values(sid, n, bad=(), tag="v"):
    return [b"plain text %d" % i if i in bad else wire(sid, avro_order(i, "%s%d" % (tag, i)))
            for i in range(n)]


def records_body(vals):
    return json.dumps({"records": [{"value_b64": base64.b64encode(v).decode()}
                                   for v in vals]}).encode()


def post(broker, topic, vals):
    return requests.post(broker.http + "/topics/%s/records" % topic, data=records_body(vals),
                         headers={"Content-Type": "application/json"}, timeout=30)


def read_values(broker, topic, partition=0):
    return [rec[3] for b in kr.fetch_all_batches(broker.addr, topic, partition)
            for rec in b.records()]


def hwm(broker, topic):
    r = requests.get(broker.http + "/topics/" + topic, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["partitions"][0]["high_watermark"]


def wait_for(cond, what, timeout=20.0):
    """Polls cond() until true; bounded, not a timing assertion."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    pytest.fail("timed out waiting for " + what)


# ---- a raw HTTP/1.1 client: pipelining, closing mid-request ----

def http_request(method, path, body=b"", ctype="application/json"):
    return ("%s %s HTTP/1.1\r\nHost: t\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
            % (method, path, ctype, len(body))).encode() + body


class RawHttp:
    def __init__(self, broker, timeout=30.0):
        self.s = socket.create_connection(("127.0.0.1", broker.http_port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def _fill(self):
        chunk = self.s.recv(65536)
        if not chunk:
            raise EOFError("connection closed by the broker")
        self.buf += chunk

    def response(self):
        """(status, headers, body) of the next answer."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
        n = int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body

    def nothing_yet(self):
        """True when no answer byte has arrived (checked without waiting)."""
        timeout = self.s.gettimeout()
        self.s.setblocking(False)
        try:
            self.s.recv(1, socket.MSG_PEEK)  # a byte, or b"" at a close: something came
            return False
        except BlockingIOError:
            return True
        finally:
            self.s.settimeout(timeout)

    def local_port(self):
        return self.s.getsockname()[1]

    def reset(self):
        """Closes with a RST (SO_LINGER 0), as a client that goes away abruptly."""
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.s.close()

    def close(self):
        self.s.close()


# ---- the gate ----

class Gate:
    """The broker's test hook: check k (1, 2, ... in the order the broker received the
    requests) waits at the FIFO <path>.k when it exists."""

    def __init__(self, tmp_path):
        self.path = str(tmp_path / "validation-gate")
        self.fds = {}

    def env(self):
        return {"HERALD_TEST_VALIDATION_GATE": self.path}

    def arm(self, k):
        """Check k will wait (call before the broker receives its request)."""
        os.mkfifo("%s.%d" % (self.path, k))

    def hold(self, k, timeout=20.0):
        """Returns once check k is waiting at its gate."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.fds[k] = os.open("%s.%d" % (self.path, k), os.O_WRONLY | os.O_NONBLOCK)
                return
            except OSError as e:
                if e.errno != errno.ENXIO or time.monotonic() > deadline:
                    pytest.fail("check %d did not reach its gate: %s" % (k, e))
                time.sleep(0.01)

    def release(self, k):
        fd = self.fds.pop(k)
        os.write(fd, b"x")
        os.close(fd)


# ---- answers as on the loop: offsets, the 422 problem, dead letters ----

def test_split_batch_lands_with_exact_offsets(broker_factory):
    broker = broker_factory("--validation-threads", "3")
    sid = validating(broker, "hgood")
    vals = values(sid, 1000)  # three parts at once
    r = post(broker, "hgood", vals)
    assert r.status_code == 200, r.text
    assert r.json() == {"offsets": [{"partition": 0, "offset": i} for i in range(1000)]}
    r = post(broker, "hgood", vals[:5])  # one part
    assert r.json() == {"offsets": [{"partition": 0, "offset": 1000 + i} for i in range(5)]}
    assert read_values(broker, "hgood") == vals + vals[:5]


def test_bad_records_reject_with_the_exact_problem(broker_factory):
    broker = broker_factory("--validation-threads", "3")
    sid = validating(broker, "hbad")
    for bad, first in (([700, 990], 700), ([5, 400, 999], 5), ([999], 999)):
        r = post(broker, "hbad", values(sid, 1000, bad))
        assert r.status_code == 422, r.text
        assert r.headers["Content-Type"] == "application/problem+json"
        assert r.json() == {
            "type": "about:blank", "title": "Unprocessable Content", "status": 422,
            "detail": "records[%d] was refused by schema validation: %s (nothing was written)"
                      % (first, WIRE_MSG),
            "instance": "/topics/hbad/records"}
    # A payload that does not decode with its schema names the schema.
    r = post(broker, "hbad", [wire(sid, avro_order(1, "a")), wire(sid, b"\x02\x08ab")])
    assert r.status_code == 422
    assert r.json()["detail"].startswith(
        "records[1] was refused by schema validation: value does not match schema %d (AVRO)"
        % sid)
    assert hwm(broker, "hbad") == 0
    # CloudEvents (batched, structured) to a validating topic: the same rules and answers.
    ev = {"specversion": "1.0", "id": "1", "source": "/t", "type": "t.x", "data": {"a": 1}}
    r = requests.post(broker.http + "/topics/hbad/events", data=json.dumps([ev, ev]),
                      headers={"Content-Type": "application/cloudevents-batch+json"},
                      timeout=10)
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("records[0] was refused by schema validation: value ")
    assert hwm(broker, "hbad") == 0


def test_dead_letter_mode_over_split_batches(broker_factory):
    broker = broker_factory("--validation-threads", "3")
    sid = validating(broker, "hdlq", **{"herald.schema.validation.mode": "dlq"})
    # 1,000 records are cut into seven parts of 143, which the threads claim one at a time;
    # some bad records sit on the parts' edges.
    bad = [3, 142, 143, 400, 650, 857, 858, 999]
    vals = values(sid, 1000, bad)
    r = post(broker, "hdlq", vals)
    assert r.status_code == 200, r.text
    assert r.headers["Herald-Dead-Lettered"] == "8"
    assert r.json()["offsets"] == [{"partition": 0, "offset": i} for i in range(992)]
    assert read_values(broker, "hdlq") == [v for i, v in enumerate(vals) if i not in bad]
    dead = [rec for b in kr.fetch_all_batches(broker.addr, "hdlq.dlq", 0) for rec in b.records()]
    assert [rec[3] for rec in dead] == [vals[i] for i in bad]
    for rec in dead:
        h = dict(rec[4])
        assert h["herald.dlq.topic"] == b"hdlq" and h["herald.dlq.partition"] == b"-1"
        assert h["herald.dlq.reason"] == WIRE_MSG.encode()
    # Every record bad: nothing lands, all are dead-lettered.
    r = post(broker, "hdlq", [b"x", b"y"])
    assert (r.status_code, r.json(), r.headers["Herald-Dead-Lettered"]) == (
        200, {"offsets": []}, "2")
    assert hwm(broker, "hdlq") == 992


def test_registry_churn_while_http_batches_are_checked(broker_factory):
    broker = broker_factory("--validation-threads", "2")
    sid = validating(broker, "hchurn")
    stop = threading.Event()
    errors = []

    def churn():
        n = 0
        try:
            while not stop.is_set() and n < 300:
                subject = "churn-%d" % (n % 30)
                ok(call(broker, "PUT", "/config/%s" % subject, {"compatibility": "NONE"}))
                ok(register(broker, subject, {"type": "record", "name": "C%d" % n,
                                              "fields": [{"name": "f", "type": "int"}]}))
                if n % 3 == 0:
                    ok(call(broker, "DELETE", "/subjects/%s" % subject))
                    ok(call(broker, "DELETE", "/subjects/%s?permanent=true" % subject))
                n += 1
        except Exception as e:  # reported by the main thread
            errors.append(e)

    t = threading.Thread(target=churn)
    t.start()
    try:
        for k in range(20):
            r = post(broker, "hchurn", values(sid, 500, bad={k * 7 % 500}, tag="r%d-" % k))
            assert r.status_code == 422, r.text
            assert r.json()["detail"].startswith("records[%d] was" % (k * 7 % 500))
            r = post(broker, "hchurn", values(sid, 500, tag="g%d-" % k))
            assert r.status_code == 200, r.text
            assert r.json()["offsets"][0]["offset"] == 500 * k
    finally:
        stop.set()
        t.join(30)
    assert not errors, errors
    assert len(read_values(broker, "hchurn")) == 10000


# ---- held checks: order, other connections, closes, shutdown, changes ----

def test_pipelined_requests_answer_and_apply_in_order(broker_factory, tmp_path):
    gate = Gate(tmp_path)
    broker = broker_factory("--validation-threads", "2", env=gate.env())
    sid = validating(broker, "hpipe")
    big, small = values(sid, 600, tag="big"), values(sid, 1, tag="small")
    gate.arm(1)
    gate.arm(2)
    c = RawHttp(broker)
    try:
        # Three requests in one write: two produces, then the topic's deletion.
        c.send(http_request("POST", "/topics/hpipe/records", records_body(big))
               + http_request("POST", "/topics/hpipe/records", records_body(small))
               + http_request("DELETE", "/topics/hpipe"))
        gate.hold(1)  # the first produce is being checked
        # The requests behind it wait: the topic is still there, and nothing was answered.
        assert hwm(broker, "hpipe") == 0
        assert c.nothing_yet()
        gate.release(1)
        st, _, body = c.response()
        assert st == 200 and json.loads(body)["offsets"] == [
            {"partition": 0, "offset": i} for i in range(600)]
        gate.hold(2)  # the second produce is being checked; the deletion waits
        assert hwm(broker, "hpipe") == 600
        assert c.nothing_yet()
        gate.release(2)
        st, _, body = c.response()
        assert st == 200 and json.loads(body)["offsets"] == [{"partition": 0, "offset": 600}]
        st, _, _ = c.response()
        assert st in (200, 204)
    finally:
        c.close()
    assert requests.get(broker.http + "/topics/hpipe", timeout=10).status_code == 404


def test_a_check_in_progress_does_not_stall_other_connections(broker_factory, tmp_path):
    gate = Gate(tmp_path)
    broker = broker_factory("--validation-threads", "2", env=gate.env())
    sid = validating(broker, "hslow")
    mk_topic(broker, "plain")
    vals = values(sid, 3000)
    gate.arm(1)
    c = RawHttp(broker)
    try:
        c.send(http_request("POST", "/topics/hslow/records", records_body(vals)))
        gate.hold(1)
        # While the batch is being checked: a Kafka produce and fetch on other connections,
        # and an HTTP produce and read on another HTTP connection, all answered.
        with kr.Conn(broker.addr) as k:
            k.send(kr.PRODUCE, 8, kr.produce_body("plain", 0, kr.record_batch([(b"k", b"v")])))
            p = answer_v8(k.recv()[1], "plain")
            assert (p["error"], p["base"]) == (0, 0)
        assert read_values(broker, "plain") == [b"v"]
        r = requests.post(broker.http + "/topics/plain/records",
                          json={"records": [{"value": "w"}]}, timeout=10)
        assert r.json() == {"offsets": [{"partition": 0, "offset": 1}]}
        # ... and the checked batch is still unanswered, none of it appended.
        assert c.nothing_yet()
        assert hwm(broker, "hslow") == 0
        gate.release(1)
        st, _, body = c.response()
        assert st == 200, body
        assert json.loads(body)["offsets"] == [{"partition": 0, "offset": i}
                                               for i in range(3000)]
    finally:
        c.close()
    assert read_values(broker, "hslow") == vals


def closed_in_log(broker, port):
    return ("http 127.0.0.1:%d: closed" % port) in broker.log_text()


def test_client_gone_mid_check(broker_factory, tmp_path):
    gate = Gate(tmp_path)
    broker = broker_factory("--validation-threads", "3", env=gate.env())
    sid = validating(broker, "hgone")
    vals = values(sid, 2000, tag="gone")
    # Reset mid-check: the request is dropped, nothing of it appended, nothing leaked.
    gate.arm(1)
    c = RawHttp(broker)
    c.send(http_request("POST", "/topics/hgone/records", records_body(vals)))
    gate.hold(1)
    port = c.local_port()
    c.reset()
    wait_for(lambda: closed_in_log(broker, port), "the broker to see the reset")
    gate.release(1)
    kept = values(sid, 3, tag="kept")
    r = post(broker, "hgone", kept)
    assert r.status_code == 200 and r.json()["offsets"][0]["offset"] == 0
    assert read_values(broker, "hgone") == kept


def test_client_half_close_mid_check_still_lands_whole(broker_factory, tmp_path):
    gate = Gate(tmp_path)
    broker = broker_factory("--validation-threads", "3", env=gate.env())
    sid = validating(broker, "hhalf")
    vals = values(sid, 2000)
    gate.arm(1)
    c = RawHttp(broker)
    c.send(http_request("POST", "/topics/hhalf/records", records_body(vals)))
    gate.hold(1)
    c.s.shutdown(socket.SHUT_WR)  # asked, and waiting for the answer
    gate.release(1)
    st, _, body = c.response()
    c.close()
    assert st == 200
    assert len(json.loads(body)["offsets"]) == 2000
    assert read_values(broker, "hhalf") == vals


def test_sigterm_mid_check_finishes_the_request_within_the_grace(broker_factory, tmp_path):
    gate = Gate(tmp_path)
    broker = broker_factory("--validation-threads", "2", env=gate.env())
    sid = validating(broker, "hterm")
    vals = values(sid, 1500)
    gate.arm(1)
    c = RawHttp(broker)
    c.send(http_request("POST", "/topics/hterm/records", records_body(vals)))
    gate.hold(1)
    broker.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: "received SIGTERM" in broker.log_text(), "the broker to see SIGTERM")
    gate.release(1)
    st, headers, body = c.response()
    c.close()
    assert st == 200 and headers["connection"] == "close"
    assert len(json.loads(body)["offsets"]) == 1500
    broker.proc.wait(20)
    assert broker.stop() == 0
    assert "herald stopped cleanly" in broker.log_text()
    broker.start()
    assert read_values(broker, "hterm") == vals


def test_sigterm_mid_check_past_the_grace_appends_nothing(broker_factory, tmp_path):
    gate = Gate(tmp_path)
    broker = broker_factory("--validation-threads", "2", env=gate.env())
    sid = validating(broker, "hkill")
    gate.arm(1)
    c = RawHttp(broker)
    c.send(http_request("POST", "/topics/hkill/records", records_body(values(sid, 1500))))
    gate.hold(1)
    broker.proc.send_signal(signal.SIGTERM)
    # The grace passes with the check held: the broker closes the connection unanswered ...
    with pytest.raises(EOFError):
        c.response()
    c.close()
    # ... and waits for the check before it closes the registry and exits.
    assert broker.proc.poll() is None
    gate.release(1)
    broker.proc.wait(20)
    assert broker.stop() == 0
    assert "herald stopped cleanly" in broker.log_text()
    broker.start()
    assert hwm(broker, "hkill") == 0


def test_registry_and_topic_changes_while_a_check_is_held(broker_factory, tmp_path):
    gate = Gate(tmp_path)
    broker = broker_factory("--validation-threads", "2", env=gate.env())
    sid = validating(broker, "hchg")
    vals = values(sid, 300)

    seq = [0]  # checks so far

    def held(topic, change, vals=vals):
        seq[0] += 1
        gate.arm(seq[0])
        c = RawHttp(broker)
        try:
            c.send(http_request("POST", "/topics/%s/records" % topic, records_body(vals)))
            gate.hold(seq[0])
            change()  # served on the loop while the check waits
            gate.release(seq[0])
            st, _, body = c.response()
            return st, json.loads(body)
        finally:
            c.close()

    # The subject deleted meanwhile: the records name a schema that is no longer a version.
    def delete_subject():
        ok(call(broker, "DELETE", "/subjects/hchg-value"))
        ok(call(broker, "DELETE", "/subjects/hchg-value?permanent=true"))

    st, body = held("hchg", delete_subject)
    assert st == 422, body
    assert body["detail"] == (
        "records[0] was refused by schema validation: value has schema id %d, which is not a "
        "version of subject 'hchg-value' (nothing was written)" % sid)
    # Registered again: records naming its id pass.
    sid = ok(register(broker, "hchg-value", REC1))["id"]
    vals = values(sid, 300)
    assert post(broker, "hchg", vals).status_code == 200
    seq[0] += 1
    # The topic switched to dlq mode meanwhile: checked again by its settings of now.
    bad_vals = values(sid, 300, bad={10})

    def to_dlq():
        with kr.Conn(broker.addr) as k:
            alter_topic_config(k, "hchg", "herald.schema.validation.mode", "dlq")
            assert alter_answer(k.recv()[1]) == (0, "hchg")

    st, body = held("hchg", to_dlq, bad_vals)
    assert st == 200, body
    assert body["offsets"] == [{"partition": 0, "offset": 300 + i} for i in range(299)]
    assert read_values(broker, "hchg") == vals + [v for i, v in enumerate(bad_vals) if i != 10]
    # Validation turned off meanwhile: every record lands, the bad one too.
    off_vals = values(sid, 300, bad={20}, tag="off")

    def turn_off():
        with kr.Conn(broker.addr) as k:
            alter_topic_config(k, "hchg", "confluent.value.schema.validation", "false")
            assert alter_answer(k.recv()[1]) == (0, "hchg")

    st, body = held("hchg", turn_off, off_vals)
    assert st == 200, body
    assert body["offsets"] == [{"partition": 0, "offset": 599 + i} for i in range(300)]
    assert read_values(broker, "hchg")[599:] == off_vals
    with kr.Conn(broker.addr) as k:
        alter_topic_config(k, "hchg", "confluent.value.schema.validation", "true")
        assert alter_answer(k.recv()[1]) == (0, "hchg")
    # The topic deleted meanwhile.
    st, body = held("hchg", lambda: requests.delete(broker.http + "/topics/hchg", timeout=10))
    assert st == 404, body
    assert body["detail"] == "topic 'hchg' was deleted while its records were being checked"
