// The generator on a fixture written to the document's conventions, and the
// committed src/generated.ts against the real document, read here by a
// separate walk so a generator bug cannot hide itself.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { buildModel, render, DocError } from '../scripts/generate.mjs';
import * as generated from '../dist/generated.js';
import { packageDir } from './server.mjs';

const fixture = resolve(packageDir, 'test/fixtures/conventions.yaml');
const docPath = resolve(process.env.GISBI_ASYNCAPI ?? resolve(packageDir, '../../docs/asyncapi.yaml'));

describe('generator on the conventions fixture', () => {
  const doc = parse(readFileSync(fixture, 'utf8'));
  const model = buildModel(doc);
  const ts = render(model);

  it('maps commands to their replies in order, without error', () => {
    const c = model.dialects.ws.commands;
    assert.deepEqual([...c.keys()].sort(), ['chat.message.created', 'presence.location_update', 'session.start']);
    assert.deepEqual(c.get('presence.location_update').replies.map((r) => r.name), ['presence.updated', 'radar.nearby.updated']);
    assert.deepEqual(c.get('session.start').replies.map((r) => r.name), ['session.connected', 'session.bootstrap']);
    assert.match(ts, /"session\.start": \{\n {4}payload: SessionStart;\n {4}replies: \["session\.connected", "session\.bootstrap"\];\n {4}reply: Bootstrap;/);
    assert.match(ts, /"chat\.message\.created": \{\n {4}payload: ChatMessageSend;\n {4}replies: \["chat\.message\.created"\];\n {4}reply: Message;/);
  });

  it('keeps a command and an event of the same name apart', () => {
    assert.match(ts, /export interface ServerEvents \{\n {2}"chat\.message\.created": Message;\n {2}"error": ErrorPayload;\n {2}"radar\.nearby\.updated": \{/);
    assert.deepEqual([...model.dialects.socket.commands.keys()], ['typing-started']);
    assert.deepEqual([...model.dialects.socket.events.keys()].sort(), ['typing-started', 'validation-failed']);
  });

  it('renders schemas: nullable, optional, enums, maps, odd keys', () => {
    assert.match(ts, /export interface User \{\n {2}id: string;\n {2}name: string;\n {2}age: number \| null;\n\}/);
    assert.match(ts, /readAt: string \| null;/);
    assert.match(ts, /"x-weird key"\?: boolean;/);
    assert.match(ts, /conversations: Record<string, Conversation>;/);
    assert.match(ts, /lastMessage\?: Message \| null;/);
    assert.match(ts, /export type CloseCode = 1000 \| 1001 \| 4001 \| 4003;/);
    assert.match(ts, /4001: \{ code: 4001, meaning: "access token expired and not refreshed", reconnect: "after-auth" \}/);
  });

  it('is deterministic', () => {
    assert.equal(render(buildModel(parse(readFileSync(fixture, 'utf8')))), ts);
  });

  it('compiles under strict tsc', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gisbi-gen-'));
    try {
      writeFileSync(join(dir, 'generated.ts'), ts);
      execFileSync(process.execPath, [resolve(packageDir, 'node_modules/typescript/bin/tsc'), '--noEmit', '--strict', '--target', 'ES2022', join(dir, 'generated.ts')], { stdio: 'pipe' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses documents that break the conventions', () => {
    const broken = (edit) => {
      const d = structuredClone(doc);
      edit(d);
      return () => render(buildModel(d));
    };
    assert.throws(broken((d) => delete d.components.schemas.ErrorCode), DocError);
    assert.throws(broken((d) => delete d.components.schemas.CloseCode['x-close-codes'][4003]), /no entry for 4003/);
    assert.throws(broken((d) => { d.components.schemas.CloseCode['x-close-codes'][1001].reconnect = 'maybe'; }), /reconnect must be/);
    assert.throws(broken((d) => { d.components.schemas.CloseCode['x-close-codes'][4999] = { meaning: 'x', reconnect: 'no' }; }), /not in the CloseCode enum/);
    assert.throws(broken((d) => delete d.components.messages.wsSessionBootstrap.name), /has no name/);
    assert.throws(broken((d) => { d.operations.wsSessionStart.channel = { $ref: '#/channels/nope' }; }), DocError);
    assert.throws(broken((d) => { d.components.messages.wsChatMessageCreated.payload.properties = {}; }), /no payload property/);
  });
});

// An independent reading of the document: every message an operation names,
// by channel and direction.
function names(doc) {
  const get = (ref) => ref.slice(2).split('/').map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~')).reduce((n, k) => n?.[k], doc);
  const msg = (m) => {
    while (m?.$ref) m = get(m.$ref);
    return m.name;
  };
  const out = { ws: { receive: new Set(), send: new Set() }, socket: { receive: new Set(), send: new Set() } };
  for (const op of Object.values(doc.operations ?? {})) {
    const ch = op.channel.$ref.split('/').pop();
    for (const m of op.messages ?? []) out[ch][op.action].add(msg(m));
  }
  const sorted = (s) => [...s].sort();
  const schemas = doc.components?.schemas ?? {};
  return {
    clientCommandTypes: sorted(out.ws.receive),
    serverEventTypes: sorted(out.ws.send),
    legacyClientEventTypes: sorted(out.socket.receive),
    legacyServerEventTypes: sorted(out.socket.send),
    schemaNames: Object.keys(schemas).sort(),
    errorCodes: schemas.ErrorCode?.enum ?? [],
    closeCodes: schemas.CloseCode?.enum ?? [],
    reconnect: Object.fromEntries(Object.entries(schemas.CloseCode?.['x-close-codes'] ?? {}).map(([k, v]) => [k, v.reconnect])),
  };
}

describe(`src/generated.ts against ${docPath}`, () => {
  const want = names(parse(readFileSync(docPath, 'utf8')));

  for (const key of ['clientCommandTypes', 'serverEventTypes', 'legacyClientEventTypes', 'legacyServerEventTypes', 'schemaNames', 'errorCodes', 'closeCodes']) {
    it(`has the document's ${key}`, () => {
      assert.deepEqual([...generated[key]], want[key]);
    });
  }

  it("has the document's reconnect rules", () => {
    const have = Object.fromEntries(Object.entries(generated.closeRules).map(([k, v]) => [k, v.reconnect]));
    assert.deepEqual(have, want.reconnect);
  });

  it('answers every command with the last reply the document lists', () => {
    for (const t of generated.clientCommandTypes) assert.ok(Array.isArray(generated.commandReplies[t]), t);
    assert.deepEqual(Object.keys(generated.commandReplies).sort(), want.clientCommandTypes);
  });
});
