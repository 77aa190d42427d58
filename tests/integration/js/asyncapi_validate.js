// Validates an AsyncAPI document with the official parser (@asyncapi/parser, with the Avro
// schema parser registered so Avro payloads are checked too) for test_catalog.py.
//
//   node asyncapi_validate.js FILE
//
// Prints one JSON object on stdout: {"errors": [...], "warnings": [...], "channels": [...],
// "messages": {channel: [message names]}, "operations": [{id, action, channel}]}, where each
// diagnostic is {code, message, path}. The exit status is 0 when the parser found no errors.
"use strict";

const fs = require("fs");
const { Parser } = require("@asyncapi/parser");
const { AvroSchemaParser } = require("@asyncapi/avro-schema-parser");

async function main() {
  const file = process.argv[2];
  if (!file) {
    console.error("usage: node asyncapi_validate.js FILE");
    process.exit(2);
  }
  const parser = new Parser();
  parser.registerSchemaParser(AvroSchemaParser());
  const { document, diagnostics } = await parser.parse(fs.readFileSync(file, "utf8"));
  const diag = (d) => ({ code: String(d.code), message: d.message, path: (d.path || []).join("/") });
  // Severity 0 is an error, 1 a warning (Spectral's levels).
  const out = {
    errors: diagnostics.filter((d) => d.severity === 0).map(diag),
    warnings: diagnostics.filter((d) => d.severity === 1).map(diag),
    channels: [],
    messages: {},
    operations: [],
  };
  if (document) {
    for (const ch of document.allChannels()) {
      out.channels.push(ch.address());
      out.messages[ch.address()] = ch.messages().all().map((m) => m.name());
    }
    for (const op of document.allOperations()) {
      out.operations.push({ id: op.id(), action: op.action(), channel: op.channels().all().map((c) => c.address()) });
    }
  }
  process.stdout.write(JSON.stringify(out) + "\n");
  process.exit(out.errors.length === 0 && document ? 0 : 1);
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(3);
});
