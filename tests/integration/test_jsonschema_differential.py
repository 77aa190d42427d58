"""Differential test of Herald's JSON Schema validator against python3-jsonschema: a few thousand
generated draft-07 and draft 2020-12 schemas (tests/jsonschema/gen_pairs.py, fixed seeds) with
eight instances each; jsonschema_tool (built next to the herald binary) and Python must give the
same verdict for every instance.

Cases where python3-jsonschema 4.10 cannot answer are left out and counted: a RecursionError
(a schema whose $ref loops back to itself without consuming input, which Herald reports as a
cycle or answers from a keyword it checks before the $ref) and a TypeError (it fails while
wording an unevaluatedItems message over items of mixed types)."""
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from conftest import HERALD_BIN, REPO

sys.path.insert(0, str(REPO / "tests" / "jsonschema"))
import gen_pairs  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import jsonschema  # noqa: E402
    from jsonschema.validators import validator_for  # noqa: E402

TOOL = Path(HERALD_BIN).parent / "jsonschema_tool"


def python_verdict(validator, instance):
    try:
        return "1" if validator.is_valid(instance) else "0"
    except (RecursionError, TypeError):
        return None


def tool_verdicts(tmp_path, pairs):
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps(pairs))
    out = subprocess.run([str(TOOL), "pairs", str(path)], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    return out.split("\n")


@pytest.mark.parametrize("seed", [1, 2])
def test_verdicts_match_python_jsonschema(tmp_path, seed):
    if not TOOL.exists():
        pytest.fail("jsonschema_tool not found next to %s" % HERALD_BIN)
    pairs = gen_pairs.generate(seed, 2000)
    lines = tool_verdicts(tmp_path, pairs)
    assert len(lines) >= len(pairs)
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(2000)
    compared = skipped = 0
    verdicts = {"0": 0, "1": 0}
    mismatches = []
    try:
        for i, pair in enumerate(pairs):
            schema = pair["schema"]
            validator = validator_for(schema)(schema)
            assert len(lines[i]) == len(pair["instances"]), (i, lines[i])
            for k, instance in enumerate(pair["instances"]):
                want = python_verdict(validator, instance)
                if want is None:
                    skipped += 1
                    continue
                compared += 1
                verdicts[want] += 1
                if lines[i][k] != want:
                    mismatches.append((schema, instance, want, lines[i][k]))
    finally:
        sys.setrecursionlimit(old_limit)
    assert not mismatches, "%d mismatches; first: schema=%s instance=%s python=%s herald=%s" % (
        len(mismatches), json.dumps(mismatches[0][0]), json.dumps(mismatches[0][1]),
        mismatches[0][2], mismatches[0][3])
    # The generator must exercise both answers, and nearly every case must be comparable.
    assert compared > 15000 and skipped < compared // 50, (compared, skipped)
    assert verdicts["0"] > compared // 4 and verdicts["1"] > compared // 4, verdicts


def test_tool_reports_refused_schema(tmp_path):
    pairs = [{"schema": {"type": 5}, "instances": [1]},
             {"schema": {"$ref": "#/$defs/missing"}, "instances": [1]},
             {"schema": {"minimum": 2}, "instances": [1, 2, "x"]}]
    assert tool_verdicts(tmp_path, pairs)[:3] == ["E", "E", "011"]
