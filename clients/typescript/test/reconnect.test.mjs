// The server restarts (SIGTERM: sockets close with 1001) on the same port
// and data dir. One client reconnects at once and sends a message; the
// other is held off until then, and on its reconnect session.start with
// lastSeenAt replays the message it missed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { TestServer, within } from './server.mjs';

const wait = 20_000;

describe('reconnect', () => {
  const server = new TestServer();
  // While the gate is shut, bob's sockets dial a closed port, so his
  // reconnect attempts fail as they would on a dead network.
  let gateOpen = true;
  class GatedWebSocket extends WebSocket {
    constructor(url) {
      super(gateOpen ? url : url.replace(/^ws:\/\/127\.0\.0\.1:\d+/, 'ws://127.0.0.1:1'));
    }
  }
  let ada, bob;

  before(async () => {
    await server.start();
    ada = await server.user('ada', { reconnectDelayMs: 200, maxReconnectDelayMs: 1_000 });
    bob = await server.user('bob', { WebSocket: GatedWebSocket, reconnectDelayMs: 200, maxReconnectDelayMs: 1_000 });
  });

  after(async () => {
    ada?.client.close();
    bob?.client.close();
    await server.close();
  });

  it('replays a message sent while it was away', async () => {
    await within(ada.client.connect(), wait, 'ada bootstrap');
    await within(bob.client.connect(), wait, 'bob bootstrap');
    const sent = await ada.client.request('connection.request.send', { userId: bob.id });
    await bob.client.request('connection.request.accept', { requestId: sent.request.requestId });

    const bobStates = [];
    bob.client.on('state', (s) => bobStates.push(s));
    const received = [];
    bob.client.on('chat.message.created', (m) => received.push(m));
    const bootstraps = [];
    bob.client.on('bootstrap', (b) => bootstraps.push(b));

    gateOpen = false;
    const adaDown = ada.client.once('state', (s) => s.state === 'reconnecting');
    await server.stop('SIGTERM');
    const down = await within(adaDown, wait, 'ada reconnecting');
    assert.equal(down.code, 1001);
    assert.equal(down.rule, 'yes');

    await server.start();
    const adaBack = ada.client.state === 'open' ? Promise.resolve() : ada.client.once('state', (s) => s.state === 'open');
    await within(adaBack, wait, 'ada back');
    const msg = await ada.client.request('chat.message.created', { recipientId: bob.id, content: 'while you were out', clientMessageId: 'away-1' });
    assert.notEqual(bob.client.state, 'open', 'bob is still away');
    assert.equal(received.length, 0);

    const replayed = bob.client.once('chat.message.created', (m) => m.messageId === msg.messageId);
    gateOpen = true;
    const m = await within(replayed, wait, 'the replayed message');
    assert.equal(m.content, 'while you were out');
    assert.equal(m.senderId, ada.id);
    assert.equal(bootstraps.length, 1, 'replay follows the new bootstrap');
    assert.equal(bob.client.state, 'open');

    const first = bobStates.find((s) => s.state === 'reconnecting');
    assert.equal(first.code, 1001);
    assert.equal(first.rule, 'yes');
    assert.ok(bobStates.filter((s) => s.state === 'reconnecting').length >= 2, 'held-off attempts were retried');
    assert.equal(bobStates[bobStates.length - 1].state, 'open');

    // Older messages are not replayed again, and nothing is delivered twice.
    await bob.client.request('chat.history.fetch', {});
    assert.deepEqual(received.map((x) => x.messageId), [msg.messageId]);
  });
});
