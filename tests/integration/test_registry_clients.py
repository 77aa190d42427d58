"""confluent-kafka's SchemaRegistryClient with its AvroSerializer and JSONSerializer, round
trips through Herald's registry and a topic that validates what they produce. They need a
current confluent-kafka (Debian's 1.7 lacks the serializers' dependencies): `make sr-venv`
builds one and `make integration` passes it in HERALD_SR_PYTHON; without it the tests skip."""
import json
import os
import subprocess
from pathlib import Path

import pytest
import requests

SR_PYTHON = os.environ.get("HERALD_SR_PYTHON") or str(
    Path(__file__).resolve().parents[2] / "build" / "sr-venv" / "bin" / "python")
SCRIPT = Path(__file__).resolve().parent / "sr_client_roundtrip.py"

pytestmark = pytest.mark.skipif(not os.path.exists(SR_PYTHON),
                                reason="no current confluent-kafka (make sr-venv)")


def roundtrip(broker, kind, topic):
    r = requests.post(broker.http + "/topics", json={
        "name": topic, "partitions": 1,
        "config": {"confluent.value.schema.validation": "true"}}, timeout=10)
    assert r.status_code == 201, r.text
    out = subprocess.run([SR_PYTHON, str(SCRIPT), broker.addr, broker.http, topic, kind],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["errors"] == []
    assert res["bad"] == ["INVALID_RECORD"]
    assert res["got"] == res["sent"]
    assert res["subjects"] == [topic + "-value"]
    return res


def test_avro_serializer_roundtrip(broker):
    res = roundtrip(broker, "avro", "payments")
    assert res["id"] == 1
    v = requests.get(broker.http + "/subjects/payments-value/versions/1", timeout=10).json()
    assert json.loads(v["schema"])["name"] == "Payment" and "schemaType" not in v


def test_json_serializer_roundtrip(broker):
    types = requests.get(broker.http + "/schemas/types", timeout=10).json()
    if "JSON" not in types:
        pytest.skip("JSON Schema support is not built in yet")
    res = roundtrip(broker, "json", "payments-json")
    v = requests.get(broker.http + "/subjects/payments-json-value/versions/1", timeout=10).json()
    assert v["schemaType"] == "JSON" and v["id"] == res["id"]
