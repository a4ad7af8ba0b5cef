#!/usr/bin/env node
// Writes src/generated.ts from the AsyncAPI document of the GISBI server.
//
//   node scripts/generate.mjs [asyncapi.yaml] [--out file] [--check]
//
// The document path defaults to ../../docs/asyncapi.yaml (the repository's).
// --check writes nothing: it fails when the file on disk differs from what
// the document generates, so CI catches a document changed without a
// regeneration.
//
// The document follows the project's conventions (docs/asyncapi.yaml):
// channels `ws` and `socket`; every message's `name` is its wire type and
// its `payload` the whole frame; `action: receive` operations are frames a
// client sends (with `reply` naming the answers, in the order they come),
// `action: send` operations are frames the server pushes; payload models
// live in components/schemas; `ErrorCode` is a string enum and `CloseCode`
// an integer enum with `x-close-codes`.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');

export class DocError extends Error {}

/** Reads the document and answers everything the generated file is made of. */
export function loadModel(path) {
  const doc = parse(readFileSync(path, 'utf8'));
  return buildModel(doc);
}

export function buildModel(doc) {
  if (!doc || typeof doc !== 'object') throw new DocError('not a YAML mapping');
  if (!String(doc.asyncapi ?? '').startsWith('3.')) throw new DocError(`asyncapi: want 3.x, got ${doc.asyncapi}`);
  const schemas = doc.components?.schemas ?? {};
  const ops = doc.operations ?? {};

  const deref = (node, seen = new Set()) => {
    while (node && typeof node === 'object' && typeof node.$ref === 'string') {
      if (seen.has(node.$ref)) throw new DocError(`$ref cycle at ${node.$ref}`);
      seen.add(node.$ref);
      node = pointer(doc, node.$ref);
    }
    return node;
  };

  // The message's wire name and the schema of its frame's payload (or, on
  // /socket, its data), found through $ref and allOf.
  const messageOf = (ref) => {
    const msg = deref(ref);
    if (!msg || typeof msg.name !== 'string') throw new DocError(`message ${ref?.$ref ?? '?'} has no name`);
    const frame = msg.payload;
    return { name: msg.name, ref: ref.$ref ?? null, frame };
  };

  const channelKey = (ch) => {
    const ref = ch?.$ref;
    if (typeof ref !== 'string' || !ref.startsWith('#/channels/')) throw new DocError(`operation channel must be a $ref to #/channels/…, got ${JSON.stringify(ch)}`);
    return unescapePointer(ref.slice('#/channels/'.length));
  };

  const dialects = {
    ws: { commands: new Map(), events: new Map(), field: 'payload' },
    socket: { commands: new Map(), events: new Map(), field: 'data' },
  };

  for (const [opId, op] of Object.entries(ops)) {
    const ch = channelKey(op.channel);
    const d = dialects[ch];
    if (!d) throw new DocError(`operation ${opId}: unknown channel ${ch}`);
    const msgs = (op.messages ?? []).map(messageOf);
    if (op.action === 'receive') {
      const replies = (deref(op.reply)?.messages ?? []).map(messageOf).filter((m) => m.name !== 'error');
      for (const m of msgs) {
        const entry = d.commands.get(m.name) ?? { frames: [], replies: [] };
        entry.frames.push(m.frame);
        for (const r of replies) if (!entry.replies.some((x) => x.name === r.name)) entry.replies.push(r);
        d.commands.set(m.name, entry);
      }
    } else if (op.action === 'send') {
      for (const m of msgs) {
        const entry = d.events.get(m.name) ?? { frames: [] };
        entry.frames.push(m.frame);
        d.events.set(m.name, entry);
      }
    } else {
      throw new DocError(`operation ${opId}: action must be send or receive, got ${op.action}`);
    }
  }

  const errorCodes = enumOf(schemas.ErrorCode, 'ErrorCode', 'string');
  const closeCodes = enumOf(schemas.CloseCode, 'CloseCode', 'integer');
  const rules = schemas.CloseCode?.['x-close-codes'] ?? {};
  const closeRules = closeCodes.map((code) => {
    const r = rules[code] ?? rules[String(code)];
    if (!r) throw new DocError(`x-close-codes has no entry for ${code}`);
    const reconnect = String(r.reconnect);
    if (!['yes', 'after-auth', 'no'].includes(reconnect)) throw new DocError(`x-close-codes ${code}: reconnect must be yes, after-auth or no, got ${r.reconnect}`);
    return { code, meaning: String(r.meaning ?? ''), reconnect };
  });
  for (const k of Object.keys(rules)) {
    if (!closeCodes.includes(Number(k))) throw new DocError(`x-close-codes names ${k}, which is not in the CloseCode enum`);
  }

  return { doc, deref, schemas, dialects, errorCodes, closeCodes, closeRules };
}

function enumOf(schema, name, type) {
  if (!schema) throw new DocError(`components/schemas/${name} is missing`);
  if (schema.type !== type || !Array.isArray(schema.enum)) throw new DocError(`components/schemas/${name} must be a ${type} enum`);
  return [...schema.enum];
}

function unescapePointer(s) {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

function pointer(doc, ref) {
  if (!ref.startsWith('#')) throw new DocError(`only local $refs are supported, got ${ref}`);
  let node = doc;
  for (const raw of ref.slice(1).split('/').slice(1)) {
    const key = decodeURIComponent(unescapePointer(raw));
    if (node == null || typeof node !== 'object' || !(key in node)) throw new DocError(`$ref ${ref} does not resolve`);
    node = node[key];
  }
  return node;
}

// ---- JSON Schema to TypeScript ----

const schemaRef = /^#\/components\/schemas\/([^/]+)$/;
const ident = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function tsName(name) {
  const n = String(name).replace(/[^A-Za-z0-9_$]/g, '_');
  return /^[0-9]/.test(n) ? `_${n}` : n;
}

function propKey(k) {
  return ident.test(k) ? k : JSON.stringify(k);
}

function comment(text, pad) {
  if (!text) return '';
  const lines = String(text).trim().split('\n').map((l) => l.replace(/\*\//g, '*\\/').trimEnd());
  if (lines.length === 1) return `${pad}/** ${lines[0]} */\n`;
  return `${pad}/**\n${lines.map((l) => `${pad} *${l ? ' ' + l : ''}`).join('\n')}\n${pad} */\n`;
}

function paren(t) {
  return /[|&]/.test(t) && !/^\{[\s\S]*\}$/.test(t) ? `(${t})` : t;
}

function unionOf(types) {
  const out = [];
  for (const t of types) if (!out.includes(t)) out.push(t);
  if (out.includes('unknown')) return 'unknown';
  return out.length ? out.join(' | ') : 'never';
}

/** The TypeScript type of a schema; refs to components/schemas become names. */
export function tsType(model, schema, pad = '') {
  if (schema === undefined || schema === true) return 'unknown';
  if (schema === false) return 'never';
  if (typeof schema !== 'object' || schema === null) return 'unknown';
  if (typeof schema.$ref === 'string') {
    const m = schemaRef.exec(schema.$ref);
    if (m) return tsName(unescapePointer(m[1]));
    return tsType(model, model.deref(schema), pad);
  }
  let t = baseType(model, schema, pad);
  if (schema.nullable === true && !/\bnull\b/.test(t)) t = unionOf([t, 'null']);
  return t;
}

function baseType(model, s, pad) {
  if ('const' in s) return JSON.stringify(s.const);
  if (Array.isArray(s.enum)) return unionOf(s.enum.map((v) => JSON.stringify(v)));
  const parts = [];
  if (Array.isArray(s.allOf)) {
    const own = { ...s };
    delete own.allOf;
    const members = s.allOf.map((x) => paren(tsType(model, x, pad)));
    if (hasShape(own)) members.push(paren(baseType(model, own, pad)));
    return members.join(' & ');
  }
  for (const key of ['oneOf', 'anyOf']) {
    if (Array.isArray(s[key])) {
      const own = { ...s };
      delete own[key];
      const alts = unionOf(s[key].map((x) => tsType(model, x, pad)));
      if (hasShape(own)) return `${paren(baseType(model, own, pad))} & ${paren(alts)}`;
      return alts;
    }
  }
  let types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  if (!types.length) {
    if (s.properties || s.additionalProperties !== undefined || s.required) types = ['object'];
    else if (s.items || s.prefixItems) types = ['array'];
    else return 'unknown';
  }
  for (const ty of types) {
    switch (ty) {
      case 'string': parts.push('string'); break;
      case 'number': case 'integer': parts.push('number'); break;
      case 'boolean': parts.push('boolean'); break;
      case 'null': parts.push('null'); break;
      case 'array': parts.push(arrayType(model, s, pad)); break;
      case 'object': parts.push(objectType(model, s, pad)); break;
      default: throw new DocError(`unknown schema type ${ty}`);
    }
  }
  return unionOf(parts);
}

function hasShape(s) {
  return ['type', 'properties', 'items', 'additionalProperties', 'enum', 'const', 'required'].some((k) => k in s);
}

function arrayType(model, s, pad) {
  if (Array.isArray(s.prefixItems)) {
    const items = s.prefixItems.map((x) => tsType(model, x, pad));
    if (s.items === false) return `[${items.join(', ')}]`;
    return `[${[...items, `...${paren(tsType(model, s.items, pad))}[]`].join(', ')}]`;
  }
  return `${paren(tsType(model, s.items, pad))}[]`;
}

function objectType(model, s, pad) {
  const props = s.properties ?? {};
  const required = new Set(s.required ?? []);
  const inner = pad + '  ';
  const lines = [];
  for (const [k, v] of Object.entries(props)) {
    const d = v && typeof v === 'object' ? v.description : undefined;
    lines.push(`${comment(d, inner)}${inner}${propKey(k)}${required.has(k) ? '' : '?'}: ${tsType(model, v, inner)};`);
  }
  const ap = s.additionalProperties;
  if (ap !== undefined && ap !== false) {
    const at = ap === true ? 'unknown' : tsType(model, ap, inner);
    if (!lines.length) return `Record<string, ${at}>`;
    lines.push(`${inner}[key: string]: unknown;`);
  }
  if (!lines.length) return ap === false ? 'Record<string, never>' : 'Record<string, unknown>';
  return `{\n${lines.join('\n')}\n${pad}}`;
}

// ---- the file ----

/** The schema of a frame's `payload` (or `data`), found through $ref and allOf. */
function frameField(model, frame, field, where) {
  const seen = new Set();
  const walk = (s) => {
    if (!s || typeof s !== 'object') return undefined;
    if (typeof s.$ref === 'string') {
      if (seen.has(s.$ref)) return undefined;
      seen.add(s.$ref);
      return walk(model.deref(s));
    }
    // A multi-format schema object: {schemaFormat, schema}.
    if (s.schemaFormat !== undefined && s.schema !== undefined) return walk(s.schema);
    if (s.properties && field in s.properties) return s.properties[field];
    for (const key of ['allOf', 'oneOf', 'anyOf']) {
      // Later members refine earlier ones: a generic envelope's `payload`
      // comes first, the frame's own last.
      for (const x of [...(s[key] ?? [])].reverse()) {
        const f = walk(x);
        if (f !== undefined) return f;
      }
    }
    return undefined;
  };
  const f = walk(frame);
  if (f === undefined) throw new DocError(`${where}: the frame schema has no ${field} property`);
  return f;
}

function payloadType(model, frames, field, where) {
  return unionOf(frames.map((fr) => tsType(model, frameField(model, fr, field, where), '  ')));
}

function sortedKeys(map) {
  return [...map.keys()].sort();
}

export function render(model) {
  const out = [];
  const w = (s = '') => out.push(s);
  w('// Code generated by scripts/generate.mjs from the AsyncAPI document (docs/asyncapi.yaml). DO NOT EDIT.');
  w('// Regenerate with `npm run generate`; `npm run check` fails when this file is stale.');
  w('/* eslint-disable */');
  w();
  w('// ---- components/schemas ----');
  w();
  const schemaNames = Object.keys(model.schemas).sort();
  for (const name of schemaNames) {
    const s = model.schemas[name] ?? {};
    // A schema that is only a $ref aliases the other one; a $ref with
    // siblings (allowed in 2020-12) means both.
    const { $ref, ...rest } = s;
    const t = typeof $ref === 'string'
      ? (hasShape(rest) || rest.allOf ? tsType(model, { ...rest, allOf: [{ $ref }, ...(rest.allOf ?? [])] }) : tsType(model, { $ref }))
      : tsType(model, s);
    const doc = comment(s.description ?? s.title, '');
    if (doc) w(doc.trimEnd());
    if (t.startsWith('{\n')) w(`export interface ${tsName(name)} ${t}`);
    else w(`export type ${tsName(name)} = ${t};`);
    w();
  }

  const ws = model.dialects.ws;
  const socket = model.dialects.socket;

  w('// ---- /ws ----');
  w();
  w('/** Every frame type a client sends on /ws: its payload, the frame types that answer it in order, and the last of them (what `request` resolves with). */');
  w('export interface ClientCommands {');
  for (const name of sortedKeys(ws.commands)) {
    const c = ws.commands.get(name);
    const payload = payloadType(model, c.frames, 'payload', `/ws command ${name}`);
    const last = c.replies[c.replies.length - 1];
    const reply = last ? payloadType(model, [last.frame], 'payload', `/ws reply ${last.name} of ${name}`) : 'never';
    w(`  ${JSON.stringify(name)}: {`);
    w(`    payload: ${payload.replace(/\n/g, '\n  ')};`);
    w(`    replies: [${c.replies.map((r) => JSON.stringify(r.name)).join(', ')}];`);
    w(`    reply: ${reply.replace(/\n/g, '\n  ')};`);
    w('  };');
  }
  w('}');
  w();
  w('/** Every frame type the server pushes on /ws, with its payload. */');
  w('export interface ServerEvents {');
  for (const name of sortedKeys(ws.events)) {
    w(`  ${JSON.stringify(name)}: ${payloadType(model, ws.events.get(name).frames, 'payload', `/ws event ${name}`)};`);
  }
  w('}');
  w();
  w('export type ClientCommandType = keyof ClientCommands;');
  w('export type ServerEventType = keyof ServerEvents;');
  w();
  w('// ---- /socket (legacy dialect) ----');
  w();
  w('/** Every event a legacy client emits on /socket, with its data. */');
  w('export interface LegacyClientEvents {');
  for (const name of sortedKeys(socket.commands)) {
    w(`  ${JSON.stringify(name)}: ${payloadType(model, socket.commands.get(name).frames, 'data', `/socket event ${name}`)};`);
  }
  w('}');
  w();
  w('/** Every event the server emits on /socket, with its data. */');
  w('export interface LegacyServerEvents {');
  for (const name of sortedKeys(socket.events)) {
    w(`  ${JSON.stringify(name)}: ${payloadType(model, socket.events.get(name).frames, 'data', `/socket event ${name}`)};`);
  }
  w('}');
  w();
  w('// ---- codes ----');
  w();
  w('/** How a client reacts to a close code: reconnect, get a fresh access token first, or stay closed. */');
  w("export type Reconnect = 'yes' | 'after-auth' | 'no';");
  w();
  w('export interface CloseRule {');
  w('  code: CloseCode;');
  w('  meaning: string;');
  w('  reconnect: Reconnect;');
  w('}');
  w();
  const json = (v) => JSON.stringify(v);
  w('// ---- runtime lists of the names above ----');
  w();
  w(`export const schemaNames = ${json(schemaNames.map(tsName))} as const;`);
  w(`export const clientCommandTypes: readonly ClientCommandType[] = ${json(sortedKeys(ws.commands))};`);
  w(`export const serverEventTypes: readonly ServerEventType[] = ${json(sortedKeys(ws.events))};`);
  w(`export const legacyClientEventTypes: readonly (keyof LegacyClientEvents)[] = ${json(sortedKeys(socket.commands))};`);
  w(`export const legacyServerEventTypes: readonly (keyof LegacyServerEvents)[] = ${json(sortedKeys(socket.events))};`);
  w(`export const errorCodes: readonly ErrorCode[] = ${json(model.errorCodes)};`);
  w(`export const closeCodes: readonly CloseCode[] = ${json(model.closeCodes)};`);
  w();
  w('/** The frame types that answer each /ws command, in the order they come. */');
  w('export const commandReplies: { readonly [K in ClientCommandType]: ClientCommands[K]["replies"] } = {');
  for (const name of sortedKeys(ws.commands)) {
    w(`  ${json(name)}: [${ws.commands.get(name).replies.map((r) => json(r.name)).join(', ')}],`);
  }
  w('};');
  w();
  w('/** x-close-codes of the CloseCode schema: what each close code means and whether to reconnect. */');
  w('export const closeRules: { readonly [code: number]: CloseRule } = {');
  for (const r of model.closeRules) w(`  ${r.code}: { code: ${r.code}, meaning: ${json(r.meaning)}, reconnect: ${json(r.reconnect)} },`);
  w('};');
  return out.join('\n') + '\n';
}

export function generate(docPath) {
  return render(loadModel(docPath));
}

function main(argv) {
  let docPath = resolve(root, '../../docs/asyncapi.yaml');
  let outPath = resolve(root, 'src/generated.ts');
  let check = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--check') check = true;
    else if (a === '--out') outPath = resolve(argv[++i]);
    else if (a.startsWith('-')) throw new Error(`unknown flag ${a}`);
    else docPath = resolve(a);
  }
  const text = generate(docPath);
  if (check) {
    let have = '';
    try { have = readFileSync(outPath, 'utf8'); } catch { /* missing reads as stale */ }
    if (have !== text) {
      process.stderr.write(`${relative(process.cwd(), outPath)} is stale: run npm run generate (from ${docPath})\n`);
      process.exit(1);
    }
    process.stdout.write(`${relative(process.cwd(), outPath)} is up to date with ${docPath}\n`);
    return;
  }
  writeFileSync(outPath, text);
  process.stdout.write(`wrote ${relative(process.cwd(), outPath)} from ${docPath}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`generate: ${e.message}\n`);
    process.exit(1);
  }
}
