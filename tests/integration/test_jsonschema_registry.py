"""JSON Schema through the registry and the produce path: schemas refused with the keyword and
location that is wrong, references to another subject's schema by name, compatibility checks
with Herald's JSON Schema rules and their verbose reasons, and records validated on produce
(one record breaking a keyword rejects its batch, and the broker log names the keyword)."""
import json

import requests

from clients import make_producer
from test_registry import call, err, mk_topic, ok, read_values, register, wire

ADDRESS = {"$id": "address.json", "type": "object",
           "properties": {"city": {"type": "string", "minLength": 1}}, "required": ["city"]}
ORDER = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
         "properties": {"id": {"type": "integer", "minimum": 1},
                        "ship": {"$ref": "address.json"},
                        "tags": {"type": "array", "items": {"type": "string"}}},
         "required": ["id", "ship"], "additionalProperties": False}
REF = [{"name": "address.json", "subject": "address", "version": 1}]


def register_json(broker, subject, schema, **extra):
    return register(broker, subject, schema, schemaType="JSON", **extra)


def test_invalid_json_schema_names_the_keyword(broker):
    e = err(register_json(broker, "bad", {"properties": {"a": {"type": "strnig"}}}), 422, 42201)
    assert "#/properties/a/type" in e["message"], e
    e = err(register_json(broker, "bad", {"pattern": "(unclosed"}), 422, 42201)
    assert "#/pattern" in e["message"], e
    # A reference name that no reference provides.
    e = err(register_json(broker, "bad", ORDER), 422, 42201)
    assert "address.json" in e["message"], e


def test_references_and_compatibility(broker):
    assert ok(register_json(broker, "address", ADDRESS)) == {"id": 1}
    assert ok(register_json(broker, "order", ORDER, references=REF)) == {"id": 2}
    v = ok(call(broker, "GET", "/subjects/order/versions/1"))
    assert v["schemaType"] == "JSON" and v["references"] == REF
    # BACKWARD (the default): a new required property breaks old data.
    stricter = json.loads(json.dumps(ORDER))
    stricter["properties"]["note"] = {"type": "string"}
    stricter["required"].append("note")
    chk = ok(call(broker, "POST", "/compatibility/subjects/order/versions/latest",
                  {"schema": json.dumps(stricter), "schemaType": "JSON", "references": REF},
                  verbose="true"))
    assert chk["is_compatible"] is False
    assert any('BACKWARD: #: required property "note" added without a default' in m
               for m in chk["messages"]), chk
    e = err(register_json(broker, "order", stricter, references=REF), 409, 409)
    assert "note" in e["message"]
    # An optional property with a closed old model is backward compatible, and widening
    # minimum is too.
    looser = json.loads(json.dumps(ORDER))
    looser["properties"]["note"] = {"type": "string"}
    looser["properties"]["id"]["minimum"] = 0
    assert ok(register_json(broker, "order", looser, references=REF)) == {"id": 3}
    # FORWARD: the old schema must read new data, so widening the type of tags breaks it.
    ok(call(broker, "PUT", "/config/order", {"compatibility": "FORWARD"}))
    wider = json.loads(json.dumps(looser))
    wider["properties"]["tags"]["items"] = {"type": ["string", "integer"]}
    e = err(register_json(broker, "order", wider, references=REF), 409, 409)
    assert "FORWARD: #/properties/tags/items: type narrowed: integer" in e["message"], e


def test_produce_validates_json_records(broker):
    ok(register_json(broker, "address", ADDRESS))
    sid = ok(register_json(broker, "jorders-value", ORDER, references=REF))["id"]
    mk_topic(broker, "jorders", **{"confluent.value.schema.validation": "true"})
    p = make_producer(broker.addr, **{"linger.ms": 50, "retries": 0})
    reports = []

    def cb(e, m):
        reports.append(e)

    good = [wire(sid, json.dumps({"id": i, "ship": {"city": "Oslo"}, "tags": ["a"]}).encode())
            for i in range(1, 4)]
    for v in good:
        p.produce("jorders", v, partition=0, on_delivery=cb)
    assert p.flush(15) == 0 and reports == [None] * 3
    # One record with an empty city (minLength, inside the referenced schema) fails its batch.
    reports.clear()
    bad = wire(sid, json.dumps({"id": 9, "ship": {"city": ""}}).encode())
    for v in good[:1] + [bad] + good[1:]:
        p.produce("jorders", v, partition=0, on_delivery=cb)
    assert p.flush(15) == 0
    assert len(reports) == 4 and all(e is not None and e.name() == "INVALID_RECORD"
                                     for e in reports), reports
    log = broker.log_text()
    assert "record 1" in log and "minLength" in log and "/ship/city" in log, log[-2000:]
    r = requests.get(broker.http + "/topics/jorders", timeout=10).json()
    assert r["partitions"][0]["high_watermark"] == 3
    assert read_values(broker, "jorders", 3) == good
