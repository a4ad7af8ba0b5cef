// Validates an AsyncAPI document with the AsyncAPI initiative's own parser
// (schema validation plus its Spectral ruleset). Errors fail; warnings and
// hints are printed, since the ruleset's style advice is not the contract.
import { readFile } from 'node:fs/promises';
import { Parser, fromFile } from '@asyncapi/parser';

const path = process.argv[2];
if (!path) {
  console.error('usage: node asyncapi.mjs <asyncapi.yaml>');
  process.exit(2);
}
await readFile(path); // a missing file is a plain error, not a parser diagnostic
const severities = ['error', 'warning', 'info', 'hint'];
const { document, diagnostics } = await fromFile(new Parser(), path).parse();
let errors = 0;
for (const d of diagnostics) {
  const where = d.path.length ? d.path.join('.') : '(document)';
  console.log(`${path}: ${severities[d.severity]} ${d.code}: ${d.message} at ${where}`);
  if (d.severity === 0) errors++;
}
if (!document || errors) {
  console.error(`${path}: ${errors} error(s)`);
  process.exit(1);
}
const channels = document.channels().length;
const messages = document.allMessages().length;
const operations = document.operations().length;
console.log(`${path}: valid AsyncAPI ${document.version()} (${channels} channels, ${operations} operations, ${messages} messages)`);
