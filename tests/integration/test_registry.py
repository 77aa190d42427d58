"""The schema registry against the real binary: every REST endpoint and its error codes in
Confluent's shapes, ids shared across subjects, soft and permanent deletes, compatibility levels
and verbose messages, references, the registry's own listener, restarts and kill -9 right after
an answer; then validation on produce with records in the Confluent wire format over Kafka and
over HTTP, in reject and dead-letter modes."""
import base64
import json
import struct
import time

import pytest
import requests
from confluent_kafka import KafkaException

from clients import consume, create_topic, make_producer
from conftest import free_port

SR = "application/vnd.schemaregistry.v1+json"

REC1 = {"type": "record", "name": "Order", "namespace": "shop",
        "fields": [{"name": "id", "type": "int"}, {"name": "note", "type": "string"}]}
# v2: int promoted to long, a field added with a default: backward compatible.
REC2 = {"type": "record", "name": "Order", "namespace": "shop",
        "fields": [{"name": "id", "type": "long"}, {"name": "note", "type": "string"},
                   {"name": "qty", "type": "int", "default": 1}]}
# A new field without a default: not backward compatible with REC1.
BAD = {"type": "record", "name": "Order", "namespace": "shop",
       "fields": [{"name": "id", "type": "int"}, {"name": "note", "type": "string"},
                  {"name": "price", "type": "double"}]}


def call(broker, method, path, body=None, base=None, **params):
    headers = {"Content-Type": SR, "Accept": SR}
    r = requests.request(method, (base or broker.http) + path, headers=headers,
                         data=None if body is None else json.dumps(body), params=params,
                         timeout=10)
    return r


def ok(r, status=200):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"] == SR
    return r.json()


def err(r, status, code):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"] == SR
    body = r.json()
    assert body["error_code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return body


def register(broker, subject, schema, **extra):
    body = {"schema": json.dumps(schema) if not isinstance(schema, str) else schema}
    body.update(extra)
    return call(broker, "POST", "/subjects/%s/versions" % subject, body)


def test_register_ids_versions_and_reads(broker):
    assert ok(call(broker, "GET", "/schemas/types"))[0] == "AVRO"
    assert ok(call(broker, "GET", "/subjects")) == []
    assert ok(register(broker, "orders-value", REC1)) == {"id": 1}
    # The same schema again, with other whitespace: the same id, no new version.
    spaced = json.dumps(REC1, indent=4)
    assert ok(register(broker, "orders-value", spaced)) == {"id": 1}
    # Under another subject the id is shared.
    assert ok(register(broker, "audit-value", REC1)) == {"id": 1}
    assert ok(register(broker, "orders-value", REC2)) == {"id": 2}
    assert ok(call(broker, "GET", "/subjects")) == ["audit-value", "orders-value"]
    assert ok(call(broker, "GET", "/subjects/orders-value/versions")) == [1, 2]
    v = ok(call(broker, "GET", "/subjects/orders-value/versions/latest"))
    assert v["subject"] == "orders-value" and v["version"] == 2 and v["id"] == 2
    assert json.loads(v["schema"]) == REC2 and "schemaType" not in v
    v1 = ok(call(broker, "GET", "/subjects/orders-value/versions/1"))
    assert v1["id"] == 1 and json.loads(v1["schema"]) == REC1
    assert ok(call(broker, "GET", "/subjects/orders-value/versions/-1"))["version"] == 2
    raw = call(broker, "GET", "/subjects/orders-value/versions/1/schema")
    assert raw.status_code == 200 and json.loads(raw.text) == REC1
    assert json.loads(ok(call(broker, "GET", "/schemas/ids/2"))["schema"]) == REC2
    assert ok(call(broker, "GET", "/schemas/ids/1/versions")) == [
        {"subject": "audit-value", "version": 1}, {"subject": "orders-value", "version": 1}]
    assert ok(call(broker, "GET", "/schemas/ids/1/subjects")) == ["audit-value", "orders-value"]
    # Lookup by schema.
    found = ok(call(broker, "POST", "/subjects/orders-value", {"schema": json.dumps(REC2)}))
    assert found["version"] == 2 and found["id"] == 2 and found["subject"] == "orders-value"
    # Error codes of reads.
    err(call(broker, "GET", "/subjects/nope/versions"), 404, 40401)
    err(call(broker, "GET", "/subjects/nope/versions/1"), 404, 40401)
    err(call(broker, "GET", "/subjects/orders-value/versions/9"), 404, 40402)
    err(call(broker, "GET", "/subjects/orders-value/versions/abc"), 422, 42202)
    err(call(broker, "GET", "/subjects/orders-value/versions/0"), 422, 42202)
    err(call(broker, "GET", "/schemas/ids/99"), 404, 40403)
    err(call(broker, "POST", "/subjects/orders-value", {"schema": json.dumps(BAD)}), 404, 40403)
    err(call(broker, "POST", "/subjects/nope", {"schema": json.dumps(REC1)}), 404, 40401)


def test_invalid_schemas_and_bodies(broker):
    err(register(broker, "s", "{not json"), 422, 42201)
    err(register(broker, "s", {"type": "record", "name": "R"}), 422, 42201)  # no fields
    err(register(broker, "s", {"type": "nosuch"}), 422, 42201)
    dup = {"type": "record", "name": "R",
           "fields": [{"name": "a", "type": "int"}, {"name": "a", "type": "int"}]}
    assert "two fields named 'a'" in err(register(broker, "s", dup), 422, 42201)["message"]
    bad_default = {"type": "record", "name": "R",
                   "fields": [{"name": "a", "type": "int", "default": "x"}]}
    err(register(broker, "s", bad_default), 422, 42201)
    err(register(broker, "s", '"string"', schemaType="PROTOBUF"), 422, 42201)
    err(register(broker, "s", '"string"', schemaType="XML"), 422, 42201)
    err(call(broker, "POST", "/subjects/s/versions", {"schemaType": "AVRO"}), 422, 42201)
    r = requests.post(broker.http + "/subjects/s/versions", data="{oops",
                      headers={"Content-Type": SR}, timeout=10)
    err(r, 400, 400)
    r = requests.post(broker.http + "/subjects/s/versions", data="x",
                      headers={"Content-Type": "text/plain"}, timeout=10)
    err(r, 415, 415)
    assert ok(call(broker, "GET", "/subjects")) == []
    # application/json works as well as the registry's own type.
    r = requests.post(broker.http + "/subjects/s/versions", json={"schema": '"string"'},
                      timeout=10)
    assert r.status_code == 200 and r.json() == {"id": 1}


def test_compatibility_levels_and_checks(broker):
    ok(register(broker, "c", REC1))
    e = err(register(broker, "c", BAD), 409, 409)
    assert "READER_FIELD_MISSING_DEFAULT_VALUE" in e["message"] and "price" in e["message"]
    chk = ok(call(broker, "POST", "/compatibility/subjects/c/versions/latest",
                  {"schema": json.dumps(BAD)}, verbose="true"))
    assert chk["is_compatible"] is False
    assert any("READER_FIELD_MISSING_DEFAULT_VALUE" in m for m in chk["messages"])
    assert ok(call(broker, "POST", "/compatibility/subjects/c/versions/1",
                   {"schema": json.dumps(REC2)})) == {"is_compatible": True}
    assert ok(call(broker, "POST", "/compatibility/subjects/c/versions",
                   {"schema": json.dumps(BAD)})) == {"is_compatible": False}
    err(call(broker, "POST", "/compatibility/subjects/c/versions/7",
             {"schema": json.dumps(REC2)}), 404, 40402)
    err(call(broker, "POST", "/compatibility/subjects/zz/versions/latest",
             {"schema": json.dumps(REC2)}), 404, 40401)
    # Config: global default, per subject, invalid levels, 40408.
    assert ok(call(broker, "GET", "/config")) == {"compatibilityLevel": "BACKWARD"}
    err(call(broker, "GET", "/config/c"), 404, 40408)
    assert ok(call(broker, "GET", "/config/c", defaultToGlobal="true")) == {
        "compatibilityLevel": "BACKWARD"}
    err(call(broker, "PUT", "/config/c", {"compatibility": "SIDEWAYS"}), 422, 42203)
    assert ok(call(broker, "PUT", "/config/c", {"compatibility": "NONE"})) == {
        "compatibility": "NONE"}
    assert ok(call(broker, "GET", "/config/c")) == {"compatibilityLevel": "NONE"}
    assert ok(register(broker, "c", BAD)) == {"id": 2}
    # FORWARD: the old schema must read the new; removing a field without default fails.
    assert ok(call(broker, "PUT", "/config", {"compatibility": "FORWARD"}))["compatibility"] == \
        "FORWARD"
    assert ok(call(broker, "GET", "/config")) == {"compatibilityLevel": "FORWARD"}
    ok(register(broker, "f", REC1))
    only_id = {"type": "record", "name": "Order", "namespace": "shop",
               "fields": [{"name": "id", "type": "int"}]}
    err(register(broker, "f", only_id), 409, 409)
    # FULL_TRANSITIVE on one subject checks every version.
    ok(call(broker, "PUT", "/config/f", {"compatibility": "FULL_TRANSITIVE"}))
    with_default = dict(REC1, fields=REC1["fields"] + [{"name": "x", "type": "int",
                                                         "default": 0}])
    ok(register(broker, "f", with_default))
    int_to_long = dict(with_default, fields=[{"name": "id", "type": "long"}] +
                       with_default["fields"][1:])
    e = err(register(broker, "f", int_to_long), 409, 409)  # long cannot be read as int
    assert "TYPE_MISMATCH" in e["message"]
    assert ok(call(broker, "DELETE", "/config/f")) == {"compatibilityLevel": "FULL_TRANSITIVE"}
    err(call(broker, "GET", "/config/f"), 404, 40408)
    assert ok(call(broker, "DELETE", "/config")) == {"compatibilityLevel": "FORWARD"}
    assert ok(call(broker, "GET", "/config")) == {"compatibilityLevel": "BACKWARD"}
    assert ok(call(broker, "GET", "/mode")) == {"mode": "READWRITE"}


def test_soft_and_permanent_deletes(broker):
    ok(register(broker, "d", REC1))
    ok(register(broker, "d", REC2))
    err(call(broker, "DELETE", "/subjects/d/versions/1", permanent="true"), 404, 40407)
    assert ok(call(broker, "DELETE", "/subjects/d/versions/1")) == 1
    err(call(broker, "DELETE", "/subjects/d/versions/1"), 404, 40406)
    assert ok(call(broker, "GET", "/subjects/d/versions")) == [2]
    assert ok(call(broker, "GET", "/subjects/d/versions", deleted="true")) == [1, 2]
    err(call(broker, "GET", "/subjects/d/versions/1"), 404, 40402)
    assert ok(call(broker, "GET", "/subjects/d/versions/1", deleted="true"))["id"] == 1
    assert ok(call(broker, "DELETE", "/subjects/d/versions/1", permanent="true")) == 1
    assert ok(call(broker, "GET", "/subjects/d/versions", deleted="true")) == [2]
    err(call(broker, "DELETE", "/subjects/d", permanent="true"), 404, 40405)
    assert ok(call(broker, "DELETE", "/subjects/d")) == [2]
    err(call(broker, "DELETE", "/subjects/d"), 404, 40404)
    assert ok(call(broker, "GET", "/subjects")) == []
    assert ok(call(broker, "GET", "/subjects", deleted="true")) == ["d"]
    assert ok(call(broker, "DELETE", "/subjects/d", permanent="true")) == [2]
    assert ok(call(broker, "GET", "/subjects", deleted="true")) == []
    err(call(broker, "DELETE", "/subjects/d"), 404, 40401)
    err(call(broker, "GET", "/schemas/ids/1"), 404, 40403)
    # Ids are never reused; the same schema registered again keeps its old id.
    assert ok(register(broker, "d", REC2)) == {"id": 2}
    assert ok(call(broker, "GET", "/subjects/d/versions")) == [1]


def test_references(broker):
    addr = {"type": "record", "name": "Address", "namespace": "shop",
            "fields": [{"name": "city", "type": "string"}]}
    ok(register(broker, "address", addr))
    cust = {"type": "record", "name": "Customer", "namespace": "shop",
            "fields": [{"name": "name", "type": "string"}, {"name": "home", "type": "Address"}]}
    ref = [{"name": "shop.Address", "subject": "address", "version": 1}]
    err(register(broker, "customer", cust), 422, 42201)  # without the reference
    err(register(broker, "customer", cust,
                 references=[{"name": "shop.Address", "subject": "address", "version": 5}]),
        422, 42201)
    assert ok(register(broker, "customer", cust, references=ref)) == {"id": 2}
    v = ok(call(broker, "GET", "/subjects/customer/versions/1"))
    assert v["references"] == ref
    assert ok(call(broker, "GET", "/schemas/ids/2"))["references"] == ref
    # A referenced version cannot be deleted.
    err(call(broker, "DELETE", "/subjects/address/versions/1"), 422, 42206)
    err(call(broker, "DELETE", "/subjects/address"), 422, 42206)


def test_registry_listener_restart_and_kill9(broker_factory):
    port = free_port()
    b = broker_factory("--registry-addr", "127.0.0.1:%d" % port)
    base = "http://127.0.0.1:%d" % port
    assert ok(register(b, "r", REC1)) == {"id": 1}
    assert ok(call(b, "GET", "/subjects", base=base)) == ["r"]
    assert ok(call(b, "PUT", "/config/r", {"compatibility": "NONE"}, base=base))
    assert ok(call(b, "DELETE", "/subjects/r/versions/1", base=base)) == 1
    assert ok(register(b, "r", BAD)) == {"id": 2}
    b.restart()
    assert ok(call(b, "GET", "/subjects/r/versions", base=base, deleted="true")) == [1, 2]
    assert ok(call(b, "GET", "/subjects/r/versions", base=base)) == [2]
    assert ok(call(b, "GET", "/config/r", base=base)) == {"compatibilityLevel": "NONE"}
    assert json.loads(ok(call(b, "GET", "/schemas/ids/2"))["schema"]) == BAD
    # A registration answered just before a crash is kept.
    assert ok(register(b, "k", REC2)) == {"id": 3}
    b.kill9()
    b.start()
    v = ok(call(b, "GET", "/subjects/k/versions/latest"))
    assert v["id"] == 3 and v["version"] == 1 and json.loads(v["schema"]) == REC2
    assert ok(register(b, "k2", REC1)) == {"id": 1}


# ---- validation on produce ----

def zigzag(n):
    n = (n << 1) ^ (n >> 63)
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def avro_order(i, note):
    n = note.encode()
    return zigzag(i) + zigzag(len(n)) + n


def wire(schema_id, payload):
    return b"\x00" + struct.pack(">i", schema_id) + payload


def mk_topic(broker, name, **config):
    r = requests.post(broker.http + "/topics", json={"name": name, "partitions": 1,
                                                     "config": config}, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()


def read_values(broker, topic, count):
    return [m.value() for m in consume(broker.addr, topic, [0], count, timeout=15)]


def test_validation_over_kafka_rejects_the_bad_batch(broker):
    sid = ok(register(broker, "orders-value", REC1))["id"]
    t = mk_topic(broker, "orders", **{"confluent.value.schema.validation": "true"})
    assert t["config"]["confluent.value.schema.validation"] == "true"
    assert t["config"]["herald.schema.validation.mode"] == "reject"
    p = make_producer(broker.addr, **{"linger.ms": 50, "retries": 0})
    good = [wire(sid, avro_order(i, "n%d" % i)) for i in range(3)]
    reports = []

    def cb(e, m):
        reports.append((e, m.value() if m else None))

    for v in good:
        p.produce("orders", v, partition=0, on_delivery=cb)
    assert p.flush(15) == 0
    assert all(e is None for e, _ in reports), reports
    # One bad record (a truncated payload) among good ones: the whole batch fails.
    reports.clear()
    batch = good[:2] + [wire(sid, avro_order(7, "x")[:-1])] + good[2:]
    for v in batch:
        p.produce("orders", v, partition=0, on_delivery=cb)
    assert p.flush(15) == 0
    assert len(reports) == 4 and all(e is not None for e, _ in reports), reports
    assert all(e.name() == "INVALID_RECORD" for e, _ in reports)
    # An unknown id and a plain value are refused too.
    for bad in (wire(sid + 40, avro_order(1, "a")), b"plain text"):
        reports.clear()
        p.produce("orders", bad, partition=0, on_delivery=cb)
        p.flush(15)
        assert reports[0][0] is not None and reports[0][0].name() == "INVALID_RECORD"
    assert "refused by schema validation: record 2: value does not match schema" in \
        broker.log_text()
    # Only the first three records landed.
    r = requests.get(broker.http + "/topics/orders", timeout=10).json()
    assert r["partitions"][0]["high_watermark"] == 3
    assert read_values(broker, "orders", 3) == good


def test_validation_over_http_and_dead_letters(broker):
    sid = ok(register(broker, "pay-value", REC1))["id"]
    mk_topic(broker, "pay", **{"confluent.value.schema.validation": "true"})

    def post(topic, values):
        recs = [{"value_b64": base64.b64encode(v).decode()} for v in values]
        return requests.post(broker.http + "/topics/%s/records" % topic,
                             json={"records": recs}, timeout=10)

    good = [wire(sid, avro_order(i, "p%d" % i)) for i in range(2)]
    r = post("pay", good)
    assert r.status_code == 200, r.text
    r = post("pay", good + [wire(sid, b"\x02\x08ab")])  # length 4, only 2 bytes
    assert r.status_code == 422, r.text
    body = r.json()
    assert r.headers["Content-Type"] == "application/problem+json"
    assert "records[2]" in body["detail"] and "schema %d" % sid in body["detail"]
    assert requests.get(broker.http + "/topics/pay", timeout=10).json()[
        "partitions"][0]["high_watermark"] == 2
    # dlq mode, with a subject named by config.
    ok(register(broker, "shared", REC1))
    sid2 = ok(call(broker, "GET", "/subjects/shared/versions/1"))["id"]
    mk_topic(broker, "ship", **{"confluent.value.schema.validation": "true",
                                "herald.value.schema.subject": "shared",
                                "herald.schema.validation.mode": "dlq"})
    bad = b"\x00\x00\x00\x00\x63junk"
    r = post("ship", [wire(sid2, avro_order(1, "a")), bad, wire(sid2, avro_order(2, "b"))])
    assert r.status_code == 200, r.text
    assert r.headers["Herald-Dead-Lettered"] == "1"
    assert [o["offset"] for o in r.json()["offsets"]] == [0, 1]
    dl = consume(broker.addr, "ship.dlq", [0], 1, timeout=15)
    assert dl[0].value() == bad
    h = dict(dl[0].headers())
    assert b"schema id 99" in h["herald.dlq.reason"] and h["herald.dlq.topic"] == b"ship"
    # Over Kafka in dlq mode: good records land, the bad one is dead-lettered.
    p = make_producer(broker.addr, **{"linger.ms": 50})
    for v in (wire(sid2, avro_order(3, "c")), b"nope", wire(sid2, avro_order(4, "d"))):
        p.produce("ship", v, partition=0)
    assert p.flush(15) == 0
    vals = read_values(broker, "ship", 4)
    assert vals[2:] == [wire(sid2, avro_order(3, "c")), wire(sid2, avro_order(4, "d"))]
    dl = consume(broker.addr, "ship.dlq", [0], 2, timeout=15)
    assert dl[1].value() == b"nope"
    assert b"not in the schema registry wire format" in dict(dl[1].headers())[
        "herald.dlq.reason"]


def test_cloudevents_binary_mode_dataschema(broker):
    sid = ok(register(broker, "ev-value", REC1))["id"]
    mk_topic(broker, "ev", **{"confluent.value.schema.validation": "true"})
    p = make_producer(broker.addr)
    errs = []
    p.produce("ev", avro_order(5, "ce"), partition=0,
              headers=[("ce_dataschema", b"http://reg/schemas/ids/%d" % sid)],
              on_delivery=lambda e, m: errs.append(e))
    p.flush(15)  # a batch of its own: the next, bad one fails its whole batch
    p.produce("ev", b"\x01", partition=0,
              headers=[("ce_dataschema", b"http://reg/subjects/ev-value/versions/1")],
              on_delivery=lambda e, m: errs.append(e))
    p.flush(15)
    assert errs[0] is None and errs[1] is not None and errs[1].name() == "INVALID_RECORD"
    assert [m.value() for m in consume(broker.addr, "ev", [0], 1, timeout=15)] == [
        avro_order(5, "ce")]


# ---- herald schema (the CLI) ----

def cli(broker, *args, stdin=None):
    import subprocess
    from conftest import HERALD_BIN
    return subprocess.run([HERALD_BIN, "schema"] + list(args) + ["--registry", broker.http],
                          input=stdin, capture_output=True, text=True, timeout=30)


def test_schema_cli(broker, tmp_path):
    f = tmp_path / "order.avsc"
    f.write_text(json.dumps(REC1, indent=2))
    r = cli(broker, "register", "cli-value", "--file", str(f))
    assert r.returncode == 0 and r.stdout == "1\n", r.stderr
    r = cli(broker, "register", "cli-value", "--schema", json.dumps(REC2))
    assert r.returncode == 0 and r.stdout == "2\n", r.stderr
    r = cli(broker, "list")
    assert r.returncode == 0 and r.stdout == "cli-value\n"
    assert cli(broker, "list", "cli-value").stdout == "1\n2\n"
    r = cli(broker, "get", "cli-value", "1")
    assert r.returncode == 0 and json.loads(r.stdout) == REC1
    assert "version 1 id 1" in r.stderr
    assert json.loads(cli(broker, "get", "--id", "2").stdout) == REC2
    r = cli(broker, "check", "cli-value", "--schema", json.dumps(BAD))
    assert r.returncode == 3 and r.stdout.startswith("incompatible\n")
    assert "READER_FIELD_MISSING_DEFAULT_VALUE" in r.stdout
    r = cli(broker, "check", "cli-value", "--file", "-", "--version", "1",
            stdin=json.dumps(REC2))
    assert r.returncode == 0 and r.stdout == "compatible\n"
    r = cli(broker, "register", "cli-value", "--schema", json.dumps(BAD))
    assert r.returncode == 1 and "(error 409)" in r.stderr
    r = cli(broker, "get", "nope")
    assert r.returncode == 1 and "Subject 'nope' not found. (error 40401)" in r.stderr
    assert cli(broker, "delete", "cli-value", "1").stdout == "1\n"
    assert cli(broker, "delete", "cli-value").stdout == "2\n"
    assert cli(broker, "delete", "cli-value", "--permanent").stdout == "1\n2\n"
    assert cli(broker, "list", "--deleted").stdout == ""
    r = cli(broker, "register", "x", "--schema", "{}", "--ref", "bad")
    assert r.returncode == 2 and "NAME=SUBJECT:VERSION" in r.stderr
    assert cli(broker, "register").returncode == 2
