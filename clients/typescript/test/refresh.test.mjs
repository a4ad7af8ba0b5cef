// Access tokens that live 6 s: the client refreshes before expiry and
// extends the open socket with session.refresh; without a refresh token the
// server closes with 4001 and the client, told "after auth" by the close
// code table, gives up.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestServer, within } from './server.mjs';

const ttlMs = 6_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('token refresh', () => {
  const server = new TestServer({ GISBI_ACCESS_TTL: `${ttlMs / 1000}s` });

  before(() => server.start());
  after(() => server.close());

  it('refreshes the access token on the open socket before it expires', async () => {
    const issued = [];
    const { client, login } = await server.user('rita', { onTokens: (t) => issued.push(t) });
    const states = [];
    client.on('state', (s) => states.push(s));
    try {
      await within(client.connect(), 15_000, 'bootstrap');
      // Past two lifetimes of the first token: without a working
      // session.refresh the server would have closed the socket with 4001.
      await sleep(2 * ttlMs + 1_000);
      assert.ok(issued.length >= 2, `refreshed ${issued.length} times`);
      assert.notEqual(issued[0].accessToken, login.accessToken);
      assert.notEqual(issued[0].refreshToken, login.refreshToken);
      assert.deepEqual(client.tokens, issued[issued.length - 1]);
      assert.deepEqual(states.map((s) => s.state), ['connecting', 'open'], 'the socket never dropped');
      const history = await client.request('chat.history.fetch', {});
      assert.deepEqual(history.messages, []);
      // The first refresh token was spent by the rotation.
      await assert.rejects(server.rest().refresh(login.refreshToken), (err) => err.status === 401);
    } finally {
      client.close();
    }
  });

  it('stops after 4001 when it has no refresh token', async () => {
    const { client } = await server.user('tom', { refreshToken: undefined });
    const closed = client.once('state', (s) => s.state === 'closed');
    await within(client.connect(), 15_000, 'bootstrap');
    const s = await within(closed, ttlMs + 10_000, 'the 4001 close');
    assert.equal(s.code, 4001);
    assert.equal(s.rule, 'after-auth');
    assert.equal(client.state, 'closed');
    await assert.rejects(client.request('chat.history.fetch', {}), (err) => err.code === 'closed');
  });
});

describe('close codes', () => {
  const server = new TestServer({ GISBI_ACCESS_TTL: `${ttlMs / 1000}s` });

  before(() => server.start());
  after(() => server.close());

  it('refreshes and reconnects after 4001', async () => {
    const issued = [];
    const { client } = await server.user('una', { autoRefresh: false, onTokens: (t) => issued.push(t), reconnectDelayMs: 200 });
    const states = [];
    client.on('state', (s) => states.push(s));
    const bootstraps = [];
    client.on('bootstrap', (b) => bootstraps.push(b));
    try {
      await within(client.connect(), 15_000, 'bootstrap');
      const back = client.once('bootstrap');
      await within(back, ttlMs + 15_000, 'the session after 4001');
      const cut = states.find((s) => s.state === 'reconnecting');
      assert.equal(cut.code, 4001);
      assert.equal(cut.rule, 'after-auth');
      assert.equal(issued.length, 1, 'one refresh, before the reconnect');
      assert.equal(client.state, 'open');
      assert.equal(bootstraps.length, 2);
      await client.request('chat.history.fetch', {});
    } finally {
      client.close();
    }
  });

  it('stops after 4003 when the account is deleted, telling why first', async () => {
    const { client } = await server.user('dora');
    const errors = [];
    client.on('error', (e) => errors.push(e));
    const closed = client.once('state', (s) => s.state === 'closed');
    await within(client.connect(), 15_000, 'bootstrap');
    await client.rest.deleteAccount('testing');
    const s = await within(closed, 15_000, 'the 4003 close');
    assert.equal(s.code, 4003);
    assert.equal(s.rule, 'no');
    assert.deepEqual(errors.map((e) => e.code), ['account_deleted']);
  });
});
