// Two users against one live server: bootstrap, radar, a connection request
// accepted, a chat message both ways, and refused commands.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GisbiError } from '../dist/index.js';
import { TestServer, within } from './server.mjs';

const wait = 15_000;

describe('GisbiClient against a live server', () => {
  const server = new TestServer();
  let ada, bob;

  before(async () => {
    await server.start();
    ada = await server.user('ada');
    bob = await server.user('bob');
  });

  after(async () => {
    ada?.client.close();
    bob?.client.close();
    await server.close();
  });

  it('logs in with a dev handle and bootstraps', async () => {
    const me = await server.rest(ada.login.accessToken).me();
    assert.equal(me.name, 'ada');
    assert.equal(me.id, ada.id);

    const states = [];
    ada.client.on('state', (s) => states.push(s.state));
    const bootstrap = await within(ada.client.connect(), wait, 'ada bootstrap');
    assert.equal(bootstrap.currentUser.id, ada.id);
    assert.equal(bootstrap.currentUser.name, 'ada');
    assert.deepEqual(bootstrap.activeConnections, []);
    assert.deepEqual(states, ['connecting', 'open']);
    assert.equal(ada.client.state, 'open');
    assert.ok(ada.client.lastSeenAt, 'the bootstrap frame sets lastSeenAt');

    await within(bob.client.connect(), wait, 'bob bootstrap');
  });

  it('pushes radar.nearby.updated when a nearby user moves', async () => {
    const adaSeesBob = ada.client.once('radar.nearby.updated', (p) => p.nearbyUsers.some((n) => n.user.id === bob.id));
    const mine = await ada.client.request('presence.location_update', { lat: 48.8566, lng: 2.3522 });
    assert.ok(Array.isArray(mine.nearbyUsers), 'the answer is the radar');
    const bobs = await bob.client.request('presence.location_update', { lat: 48.8567, lng: 2.3523 });
    assert.ok(bobs.nearbyUsers.some((n) => n.user.id === ada.id), "bob's answer shows ada");
    const pushed = await within(adaSeesBob, wait, 'radar push to ada');
    const near = pushed.nearbyUsers.find((n) => n.user.id === bob.id);
    assert.ok(near.distance > 0 && near.distance < 50, `distance ${near.distance}`);
  });

  it('sends a connection request and accepts it', async () => {
    const incoming = bob.client.once('connection.request.send', (p) => p.request.fromUserId === ada.id);
    const sent = await ada.client.request('connection.request.send', { userId: bob.id });
    assert.equal(sent.request.toUserId, bob.id);
    assert.equal(sent.request.status, 'pending');
    const ev = await within(incoming, wait, 'request event to bob');
    assert.equal(ev.request.requestId, sent.request.requestId);
    assert.equal(ev.request.direction, 'incoming');

    const accepted = ada.client.once('connection.request.accept', (p) => p.requestId === sent.request.requestId);
    const answer = await bob.client.request('connection.request.accept', { requestId: sent.request.requestId });
    assert.equal(answer.request.status, 'accepted');
    assert.ok(answer.connection.connectionId);
    const adaSide = await within(accepted, wait, 'accept event to ada');
    assert.equal(adaSide.connection.connectionId, answer.connection.connectionId);
  });

  it('round-trips a chat message with typed events', async () => {
    const received = bob.client.once('chat.message.created', (m) => m.senderId === ada.id);
    const ack = await ada.client.request('chat.message.created', { recipientId: bob.id, content: '  hello bob ', clientMessageId: 'cm-1' });
    assert.equal(ack.content, 'hello bob');
    assert.equal(ack.clientMessageId, 'cm-1');
    assert.equal(ack.readAt, null);
    const msg = await within(received, wait, 'message to bob');
    assert.equal(msg.messageId, ack.messageId);
    assert.equal(msg.content, 'hello bob');
    assert.equal(msg.clientMessageId, undefined, 'the recipient never sees the key');

    const read = ada.client.once('chat.message.read', (r) => r.messageId === ack.messageId);
    const answer = await bob.client.request('chat.message.read', { messageId: ack.messageId });
    assert.equal(answer.messageId, ack.messageId);
    const ev = await within(read, wait, 'read receipt to ada');
    assert.equal(ev.readAt, answer.readAt);
    assert.ok(ev.readAt);
  });

  it('rejects a refused command with a typed GisbiError', async () => {
    await assert.rejects(ada.client.request('connection.request.send', { userId: ada.id }), (err) => {
      assert.ok(err instanceof GisbiError);
      assert.equal(err.code, 'self_request');
      assert.equal(err.domain, 'connections');
      assert.ok(err.requestId);
      return true;
    });
    await assert.rejects(ada.client.request('no.such.type', {}), (err) => err instanceof GisbiError && err.code === 'unknown_type');
    await assert.rejects(ada.client.request('presence.location_update', { lat: 91, lng: 0 }), (err) => err instanceof GisbiError && err.code === 'invalid_location');
    // The socket stays open and serves the next command.
    const history = await ada.client.request('chat.history.fetch', {});
    assert.equal(history.messages.length, 1);
    assert.equal(ada.client.state, 'open');
  });

  it('rejects REST errors with the server code and status', async () => {
    await assert.rejects(server.rest('not-a-token').me(), (err) => err instanceof GisbiError && err.code === 'unauthorized' && err.status === 401);
    await assert.rejects(ada.client.rest.updateProfile({ nope: 1 }), (err) => err.code === 'invalid_payload' && err.status === 400);
    const score = await ada.client.rest.score();
    assert.equal(typeof score.totalScore, 'number');
  });
});
