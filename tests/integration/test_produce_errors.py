"""Produce v8+ per-record errors (KIP-467): a refused batch names each bad record (RecordErrors)
and the reason (ErrorMessage), in the classic (v8) and flexible (v9) encodings, and the Java
producer and librdkafka surface them to the application."""
import json
import subprocess

import kafkaraw as kr
from compat import VENV_PY, JavaDriver, require
from test_registry import REC1, avro_order, mk_topic, ok, register, wire

INVALID_RECORD = 87


def produce_v8(conn, topic, batch):
    return answer_v8(conn.request(kr.PRODUCE, 8, kr.produce_body(topic, 0, batch)), topic)


def answer_v8(r, topic):
    """The one partition's answer of a Produce v8 response to one topic."""

    def part(r):
        return {"index": r.i32(), "error": r.i16(), "base": r.i64(), "append_time": r.i64(),
                "log_start": r.i64(),
                "record_errors": r.array(lambda r: (r.i32(), r.string())),
                "message": r.string()}

    (name, (p,)), = r.array(lambda r: (r.string(), r.array(part)))
    assert name == topic and r.i32() == 0 and r.remaining() == 0
    return p


def cstring(s):
    if s is None:
        return kr.uvarint(0)
    b = s.encode()
    return kr.uvarint(len(b) + 1) + b


def read_cstring(r):
    n = r.uvarint() - 1
    return None if n < 0 else r.take(n).decode()


def read_carray(r, fn):
    n = r.uvarint() - 1
    return None if n < 0 else [fn(r) for _ in range(n)]


def produce_v9(conn, topic, batch):
    """Flexible Produce: compact strings, arrays and bytes, tag buffers everywhere."""
    body = (cstring(None) + kr.i16(-1) + kr.i32(10000)
            + kr.uvarint(2) + cstring(topic)
            + kr.uvarint(2) + kr.i32(0) + kr.uvarint(len(batch) + 1) + batch + b"\x00"
            + b"\x00" + b"\x00")
    r = conn.request(kr.PRODUCE, 9, body, flexible=True)
    assert r.uvarint() == 0  # response header tags

    def record_error(r):
        e = (r.i32(), read_cstring(r))
        assert r.uvarint() == 0
        return e

    def part(r):
        p = {"index": r.i32(), "error": r.i16(), "base": r.i64(), "append_time": r.i64(),
             "log_start": r.i64(), "record_errors": read_carray(r, record_error),
             "message": read_cstring(r)}
        assert r.uvarint() == 0
        return p

    def topic_resp(r):
        t = (read_cstring(r), read_carray(r, part))
        assert r.uvarint() == 0
        return t

    (name, (p,)), = read_carray(r, topic_resp)
    assert name == topic and r.i32() == 0 and r.uvarint() == 0 and r.remaining() == 0
    return p


def validated_topic(broker, name):
    sid = ok(register(broker, name + "-value", REC1))["id"]
    mk_topic(broker, name, **{"confluent.value.schema.validation": "true"})
    good = [wire(sid, avro_order(i, "n%d" % i)) for i in range(4)]
    return good, wire(sid, avro_order(9, "x")[:-1]), b"plain text"


def test_record_errors_raw_v8_and_v9(broker):
    good, truncated, plain = validated_topic(broker, "rerr")
    values = [good[0], truncated, good[1], plain]
    with kr.Conn(broker.addr) as c:
        for produce in (produce_v8, produce_v9):
            p = produce(c, "rerr", kr.record_batch([(None, v) for v in values]))
            assert (p["error"], p["base"], p["log_start"]) == (INVALID_RECORD, -1, 0)
            assert [i for i, _ in p["record_errors"]] == [1, 3]
            assert all(m for _, m in p["record_errors"])
            assert "does not match" in p["record_errors"][0][1]
            assert p["message"].startswith("record 1: ")
        # A good batch: no errors, nulls where nothing is to be said.
        for n, produce in enumerate((produce_v8, produce_v9)):
            p = produce(c, "rerr", kr.record_batch([(None, v) for v in good]))
            assert (p["error"], p["base"], p["record_errors"], p["message"]) == (0, 4 * n, [],
                                                                                 None)
        # Errors other than validation carry the broker's reason.
        p = produce_v9(c, "rerr", kr.record_batch([(None, good[0])])[:-3])
        assert p["error"] in (INVALID_RECORD, kr.CORRUPT_MESSAGE) and p["message"]


JAVA_AND_PYPI_VALUES = ["good0", "truncated", "good1"]


def test_record_errors_java_producer(broker, tmp_path):
    good, truncated, _plain = validated_topic(broker, "rerr-j")
    java = JavaDriver(tmp_path / "driver.log")
    try:
        res = java.ok("send", broker.addr, "rerr-j", 0,
                      *(v.hex() for v in (good[0], truncated, good[1])))["results"]
    finally:
        java.close()
    assert len(res) == 3 and all("error" in r for r in res), res
    # The bad record learns why; the others that it was in a batch with a bad one.
    assert "InvalidRecordException" in res[1]["error"] and "does not match" in res[1]["error"]
    assert "does not match" not in res[0]["error"]


PYPI_SEND = r'''
import json, sys
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1], "linger.ms": 200, "retries": 0})
out = [None] * (len(sys.argv) - 3)
def cb(i):
    def f(err, msg):
        out[i] = [msg.offset()] if err is None else [err.name(), err.str()]
    return f
for i, v in enumerate(sys.argv[3:]):
    p.produce(sys.argv[2], bytes.fromhex(v), partition=0, on_delivery=cb(i))
p.flush(20)
print(json.dumps(out))
'''


def test_record_errors_librdkafka_pypi(broker):
    """librdkafka 2.1x speaks Produce v9 here: it decodes the refusal as INVALID_RECORD for the
    batch (its Python binding has no per-record message) and the next batch goes through."""
    require(VENV_PY, "the PyPI confluent-kafka virtualenv")
    good, truncated, _plain = validated_topic(broker, "rerr-p")

    def send(*values):
        p = subprocess.run([str(VENV_PY), "-c", PYPI_SEND, broker.addr, "rerr-p",
                            *(v.hex() for v in values)], capture_output=True, timeout=60)
        assert p.returncode == 0, p.stderr.decode()[-2000:]
        return json.loads(p.stdout)

    out = send(good[0], truncated, good[1])
    assert [e[0] for e in out] == ["INVALID_RECORD"] * 3, out
    assert send(good[0], good[1]) == [[0], [1]]
