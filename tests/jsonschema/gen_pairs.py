"""Generates random JSON Schemas (draft-07 and draft 2020-12) with instances for each, for the
differential test against python3-jsonschema (tests/integration/test_jsonschema_differential.py).

Schemas are drawn from a grammar over every validation keyword both validators read the same
way; instances are drawn from the schema (so most come close to valid) and then mutated. What
is left out on purpose, because the two validators are meant to differ there: ECMA-262 against
Python regular expressions beyond plain classes and anchors (no \\d, no newlines in strings),
draft-04 boolean exclusive bounds, decimal multipleOf values that are not binary fractions, and
format assertion.

    gen_pairs.py SEED COUNT > pairs.json
"""
import json
import random
import sys

S2020 = "https://json-schema.org/draft/2020-12/schema"
S07 = "http://json-schema.org/draft-07/schema#"

NAMES = ["a", "b", "c", "id", "name", "x-1", "é"]
PATTERNS = ["^a", "b$", "^[a-c]+$", "[0-9]", "^x-", "^.{2}$", "é", "^(a|b)c?$"]
STRINGS = ["", "a", "ab", "abc", "b", "x-1", "é", "éé", "c1", "ac", "bc", "aaaa", "0", "😀"]
TYPES = ["null", "boolean", "object", "array", "number", "string", "integer"]


class Gen:
    def __init__(self, rnd, draft):
        self.r = rnd
        self.draft = draft
        self.defs = []

    def pick(self, seq):
        return self.r.choice(seq)

    def scalar(self):
        return self.pick([None, True, False, 0, 1, -1, 2, 2.5, 0.5, 10, 1.0, "a", "b", "", "é"])

    def schema(self, depth):
        r = self.r
        if depth <= 0 or r.random() < 0.12:
            return self.pick([True, False, {}, {"type": self.pick(TYPES)}])
        s = {}
        for _ in range(r.randint(1, 4)):
            kw = self.pick(self.keywords())
            getattr(self, "kw_" + kw.replace("$", "dollar_"))(s, depth - 1)
        return s

    def keywords(self):
        common = ["type", "type", "enum", "const", "numeric", "numeric", "multipleOf", "length",
                  "pattern", "items", "contains", "count_items", "uniqueItems", "props", "props",
                  "patternProperties", "additionalProperties", "required", "count_props",
                  "propertyNames", "if", "allOf", "anyOf", "oneOf", "not", "ref", "format"]
        if self.draft == 2020:
            return common + ["prefixItems", "unevaluatedProperties", "unevaluatedItems",
                             "dependentRequired", "dependentSchemas", "minContains"]
        return common + ["dependencies", "tupleItems"]

    def kw_type(self, s, d):
        if self.r.random() < 0.7:
            s["type"] = self.pick(TYPES)
        else:
            s["type"] = self.r.sample(TYPES, self.r.randint(1, 3))

    def kw_enum(self, s, d):
        s["enum"] = [self.value(None, 1) for _ in range(self.r.randint(1, 4))]

    def kw_const(self, s, d):
        s["const"] = self.value(None, 1)

    def kw_numeric(self, s, d):
        kw = self.pick(["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"])
        s[kw] = self.pick([0, 1, 2, -1, 1.5, 10, 0.5])

    def kw_multipleOf(self, s, d):
        s["multipleOf"] = self.pick([1, 2, 3, 0.5, 0.25, 1.5])

    def kw_length(self, s, d):
        s[self.pick(["minLength", "maxLength"])] = self.r.randint(0, 3)

    def kw_pattern(self, s, d):
        s["pattern"] = self.pick(PATTERNS)

    def kw_format(self, s, d):
        s["format"] = self.pick(["date-time", "email", "ipv4", "uuid", "uri"])

    def kw_items(self, s, d):
        s["items"] = self.schema(d)

    def kw_tupleItems(self, s, d):
        s["items"] = [self.schema(d) for _ in range(self.r.randint(1, 3))]
        if self.r.random() < 0.6:
            s["additionalItems"] = self.schema(d)

    def kw_prefixItems(self, s, d):
        s["prefixItems"] = [self.schema(d) for _ in range(self.r.randint(1, 3))]

    def kw_contains(self, s, d):
        s["contains"] = self.schema(d)

    def kw_minContains(self, s, d):
        s["contains"] = self.schema(d)
        if self.r.random() < 0.6:
            s["minContains"] = self.r.randint(0, 3)
        if self.r.random() < 0.6:
            s["maxContains"] = self.r.randint(0, 3)

    def kw_count_items(self, s, d):
        s[self.pick(["minItems", "maxItems"])] = self.r.randint(0, 3)

    def kw_uniqueItems(self, s, d):
        s["uniqueItems"] = self.r.random() < 0.8

    def kw_props(self, s, d):
        s["properties"] = {n: self.schema(d) for n in self.r.sample(NAMES, self.r.randint(1, 3))}

    def kw_patternProperties(self, s, d):
        s["patternProperties"] = {p: self.schema(d)
                                  for p in self.r.sample(PATTERNS, self.r.randint(1, 2))}

    def kw_additionalProperties(self, s, d):
        # python3-jsonschema 4.10 collects annotations for unevaluatedProperties from an object
        # under additionalProperties as if it were a properties map: keep 2020-12 to booleans.
        s["additionalProperties"] = self.schema(d) if self.draft == 7 else self.r.random() < 0.5

    def kw_unevaluatedProperties(self, s, d):
        s["unevaluatedProperties"] = self.r.random() < 0.5

    def kw_unevaluatedItems(self, s, d):
        s["unevaluatedItems"] = self.schema(d)

    def kw_required(self, s, d):
        s["required"] = self.r.sample(NAMES, self.r.randint(0, 3))

    def kw_count_props(self, s, d):
        s[self.pick(["minProperties", "maxProperties"])] = self.r.randint(0, 3)

    def kw_dependencies(self, s, d):
        deps = {}
        for n in self.r.sample(NAMES, self.r.randint(1, 2)):
            deps[n] = self.r.sample(NAMES, self.r.randint(0, 2)) if self.r.random() < 0.5 \
                else self.schema(d)
        s["dependencies"] = deps

    def kw_dependentRequired(self, s, d):
        s["dependentRequired"] = {n: self.r.sample(NAMES, self.r.randint(0, 2))
                                  for n in self.r.sample(NAMES, self.r.randint(1, 2))}

    def kw_dependentSchemas(self, s, d):
        s["dependentSchemas"] = {n: self.schema(d)
                                 for n in self.r.sample(NAMES, self.r.randint(1, 2))}

    def kw_propertyNames(self, s, d):
        s["propertyNames"] = self.pick([{"maxLength": 1}, {"pattern": "^[a-c]"},
                                        {"enum": ["a", "b", "id"]}, {"minLength": 2}])

    def kw_if(self, s, d):
        s["if"] = self.schema(d)
        if self.r.random() < 0.8:
            s["then"] = self.schema(d)
        if self.r.random() < 0.8:
            s["else"] = self.schema(d)

    def kw_allOf(self, s, d):
        s["allOf"] = [self.schema(d) for _ in range(self.r.randint(1, 3))]

    def kw_anyOf(self, s, d):
        s["anyOf"] = [self.schema(d) for _ in range(self.r.randint(1, 3))]

    def kw_oneOf(self, s, d):
        s["oneOf"] = [self.schema(d) for _ in range(self.r.randint(1, 3))]

    def kw_not(self, s, d):
        s["not"] = self.schema(d)

    def kw_ref(self, s, d):
        # A reference to a definition, possibly recursive (the definition may refer back).
        name = "d%d" % self.r.randint(0, 2)
        s["$ref"] = ("#/$defs/" if self.draft == 2020 else "#/definitions/") + name
        if name not in self.defs:
            self.defs.append(name)

    def value(self, schema, depth):
        """A value drawn near `schema` (any value when schema is None)."""
        r = self.r
        if isinstance(schema, dict) and r.random() < 0.7:
            for kw in ("const", "enum"):
                if kw in schema:
                    return schema[kw] if kw == "const" else r.choice(schema[kw] or [None])
            t = schema.get("type")
            if isinstance(t, list) and t:
                t = r.choice(t)
            if t == "object" or "properties" in schema:
                names = list(schema.get("properties", {})) + r.sample(NAMES, r.randint(0, 2))
                return {n: self.value(schema.get("properties", {}).get(n), depth - 1)
                        for n in names if depth > 0}
            if t == "array" or "items" in schema or "prefixItems" in schema:
                return [self.value(None, depth - 1) for _ in range(r.randint(0, 4))
                        if depth > 0]
        kind = r.random()
        if depth <= 0 or kind < 0.55:
            return r.choice([None, True, False, 0, 1, -1, 2, 3, 2.5, 0.5, 1.5, 4.5, 10, 1.0, 0.25,
                             -2, 6] + STRINGS)
        if kind < 0.8:
            return {n: self.value(None, depth - 1) for n in r.sample(NAMES, r.randint(0, 3))}
        return [self.value(None, depth - 1) for _ in range(r.randint(0, 4))]

    def document(self):
        root = self.schema(3)
        if not isinstance(root, dict):
            root = {"allOf": [root]}
        defs = {}
        i = 0
        while i < len(self.defs):  # definitions may add references to further definitions
            defs[self.defs[i]] = self.schema(2)
            i += 1
        if defs:
            root["$defs" if self.draft == 2020 else "definitions"] = defs
        root["$schema"] = S2020 if self.draft == 2020 else S07
        return root


def generate(seed, count):
    rnd = random.Random(seed)
    out = []
    for i in range(count):
        g = Gen(rnd, 2020 if i % 2 == 0 else 7)
        schema = g.document()
        instances = [g.value(schema, 3) for _ in range(8)]
        out.append({"schema": schema, "instances": instances})
    return out


if __name__ == "__main__":
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    json.dump(generate(seed, count), sys.stdout, ensure_ascii=False)
