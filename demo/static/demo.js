// The GISBI demo: one tab is one user. Everything here speaks the public
// protocol (REST for login and the BLE token, /ws for the rest); the only
// thing simulated is the radio, by a BroadcastChannel between tabs.
const $ = (id) => document.getElementById(id);
const ble = new BroadcastChannel('gisbi-demo-ble');
// Paced for a server clock at speed 1: well inside the 15 s heartbeat
// timeout, and above the limit of one heartbeat per second.
const HEARTBEAT_MS = 2000;
const RSSI = -60;
const ticker = new Worker('/demo/tick.js');

const state = {
  token: '', me: null, ws: null, seq: 0, pending: new Map(),
  nearby: [], connectionId: '', partner: null,
  myBle: '', partnerBle: '', scanning: false, run: 'none',
};

function log(dir, text) {
  const el = $('log');
  el.textContent = `${new Date().toISOString().slice(11, 23)} ${dir} ${text}\n` + el.textContent.slice(0, 20000);
}

function setSocket(s) {
  $('socket-state').textContent = s;
  $('socket-state').dataset.state = s;
}

// request sends a command and resolves with its answer (the frame with the
// same requestId), or rejects with the error frame's payload.
function request(type, payload) {
  const requestId = `r${++state.seq}`;
  const frame = JSON.stringify({ type, payload, requestId });
  log('→', frame);
  state.ws.send(frame);
  return new Promise((resolve, reject) => state.pending.set(requestId, { resolve, reject }));
}

async function rest(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { 'content-type': 'application/json', ...(state.token ? { authorization: `Bearer ${state.token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({}));
  log('⇄', `${method} ${path} ${res.status}`);
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${data.code || ''} ${data.detail || ''}`);
  return data;
}

async function login(name) {
  const out = await rest('POST', '/auth/social-login', { provider: 'dev', idToken: name });
  state.token = out.accessToken;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${scheme}://${location.host}/ws?access_token=${encodeURIComponent(state.token)}`);
  state.ws = ws;
  setSocket('connecting');
  ws.onopen = () => {
    setSocket('open');
    request('session.start', {}).catch(showError);
  };
  ws.onclose = (e) => { setSocket(`closed ${e.code}`); stopScanning(); };
  ws.onmessage = (e) => {
    log('←', e.data);
    const f = JSON.parse(e.data);
    const waiting = f.requestId && state.pending.get(f.requestId);
    if (waiting && f.type !== 'session.connected') {
      state.pending.delete(f.requestId);
      if (f.type === 'error') waiting.reject(f.payload); else waiting.resolve(f.payload);
    }
    if (f.type !== 'error') handle(f.type, f.payload || {});
  };
}

function showError(e) {
  log('!', e && (e.code ? `${e.code}: ${e.message}` : String(e.message || e)));
}

// handle applies every server frame but errors, answers included (an
// answer and the matching event carry the same shapes, so one place keeps
// the page in step with either).
function handle(type, p) {
  switch (type) {
    case 'session.bootstrap': {
      state.me = p.currentUser;
      $('me').textContent = `Logged in as ${p.currentUser.name} (${p.currentUser.id})`;
      $('me').dataset.userId = p.currentUser.id;
      for (const id of ['set-location', 'nudge']) $(id).disabled = false;
      setNearby(p.nearbyUsers || []);
      for (const r of p.incomingRequests || []) addIncoming(r);
      const c = (p.activeConnections || [])[0];
      if (c) {
        setConnection(c.connectionId, c.user);
        for (const m of p.messages || []) if (m.senderId === c.user.id || m.recipientId === c.user.id) addMessage(m);
      }
      break;
    }
    case 'radar.nearby.updated': setNearby(p.nearbyUsers || []); break;
    case 'connection.request.send':
      if (p.request && p.request.toUserId === state.me.id) addIncoming(p.request);
      else if (p.request) $('sent-status').textContent = `Request sent to ${p.request.name || p.request.toUserId}.`;
      break;
    case 'connection.request.accept':
      if (p.connection) setConnection(p.connection.connectionId, p.connection.user);
      document.querySelector(`#incoming [data-request-id="${p.requestId}"]`)?.remove();
      break;
    case 'connection.request.reject':
    case 'connection.request.cancel':
    case 'connection.request.missed':
      document.querySelector(`#incoming [data-request-id="${p.requestId}"]`)?.remove();
      if (p.fromUserId === state.me.id) $('sent-status').textContent = `Request ${p.status || 'closed'}.`;
      break;
    case 'connection.close':
      if (p.connectionId === state.connectionId) closeConnection(p.closureReason);
      break;
    case 'chat.message.created': addMessage(p); break;
    case 'proximity.token.rotate':
      if (p.connectionId === state.connectionId) setMyToken(p.token);
      break;
    case 'proximity.session.start':
      // A repeated start in a paused run answers inactive too; it waits.
      setRun(p.sessionActive ? 'active' : 'waiting');
      break;
    case 'proximity.partner.confirmed': setRun('active'); break;
    case 'proximity.session.updated':
      if (p.connectionId !== state.connectionId) break;
      setRun(p.status || (p.sessionActive ? 'active' : 'paused'));
      setTogether(p.accumulatedSeconds);
      break;
    case 'proximity.heartbeat':
      setTogether(p.accumulatedSeconds);
      setRun(p.sessionActive ? 'active' : 'paused');
      break;
    case 'proximity.milestone.reached': {
      if (p.connectionId !== state.connectionId) break;
      const li = document.createElement('li');
      li.dataset.milestone = String(p.milestone);
      li.textContent = `${p.milestone} min (gift tier ${p.giftTier}): ${p.message || ''}`;
      $('milestones').append(li);
      break;
    }
  }
}

function setNearby(users) {
  state.nearby = users;
  const list = $('nearby');
  list.replaceChildren();
  for (const n of users) {
    const li = document.createElement('li');
    li.dataset.userId = n.user.id;
    li.textContent = `${n.user.name} — ${Math.round(n.distance)} m at ${Math.round(n.angle)}° `;
    if (n.user.id === state.partner?.id) {
      li.append('(connected)');
    } else {
      const b = document.createElement('button');
      b.textContent = 'Connect';
      b.className = 'connect';
      b.onclick = () => request('connection.request.send', { userId: n.user.id }).catch(showError);
      li.append(b);
    }
    list.append(li);
  }
  drawRadar();
}

// drawRadar places each nearby user by distance (scaled to the farthest,
// at least 100 m) and bearing (clockwise from north, up).
function drawRadar() {
  const c = $('radar');
  const g = c.getContext('2d');
  const r = c.width / 2 - 16;
  const cx = c.width / 2, cy = c.height / 2;
  g.clearRect(0, 0, c.width, c.height);
  const range = Math.max(100, ...state.nearby.map((n) => n.distance));
  g.strokeStyle = '#2f4a6d'; g.fillStyle = '#7f95b3'; g.font = '10px system-ui';
  for (let i = 1; i <= 3; i++) {
    g.beginPath(); g.arc(cx, cy, (r * i) / 3, 0, 2 * Math.PI); g.stroke();
    g.fillText(`${Math.round((range * i) / 3)} m`, cx + 3, cy - (r * i) / 3 + 11);
  }
  g.fillStyle = '#4fd18b';
  g.beginPath(); g.arc(cx, cy, 5, 0, 2 * Math.PI); g.fill();
  let drawn = 0;
  for (const n of state.nearby) {
    const d = (n.distance / range) * r, a = (n.angle * Math.PI) / 180;
    const x = cx + d * Math.sin(a), y = cy - d * Math.cos(a);
    g.fillStyle = '#ffb347';
    g.beginPath(); g.arc(x, y, 6, 0, 2 * Math.PI); g.fill();
    g.fillStyle = '#fff'; g.fillText(n.user.name, x + 8, y + 4);
    drawn++;
  }
  c.dataset.drawn = String(drawn);
}

function addIncoming(r) {
  if (document.querySelector(`#incoming [data-request-id="${r.requestId}"]`)) return;
  const li = document.createElement('li');
  li.dataset.requestId = r.requestId;
  li.textContent = `${r.name || r.fromUserId} wants to connect `;
  const b = document.createElement('button');
  b.textContent = 'Accept';
  b.className = 'accept';
  b.onclick = () => request('connection.request.accept', { requestId: r.requestId }).catch(showError);
  li.append(b);
  $('incoming').append(li);
}

async function setConnection(connectionId, user) {
  if (state.connectionId === connectionId) return;
  state.connectionId = connectionId;
  state.partner = user;
  $('connection').textContent = `Connected with ${user.name}.`;
  $('connection').dataset.connectionId = connectionId;
  for (const id of ['chat-input', 'chat-send']) $(id).disabled = false;
  setNearby(state.nearby); // the partner's entry loses its Connect button
  try {
    const t = await rest('POST', `/connections/${connectionId}/proximity/token`);
    setMyToken(t.token);
  } catch (e) { showError(e); }
  ble.postMessage({ ask: connectionId }); // the partner's tab answers with its token
}

function addMessage(m) {
  const li = document.createElement('li');
  li.dataset.messageId = m.messageId;
  li.className = m.senderId === state.me.id ? 'mine' : 'theirs';
  li.textContent = `${m.sender?.name || m.senderId}: ${m.content}`;
  if (!document.querySelector(`#messages [data-message-id="${m.messageId}"]`)) $('messages').append(li);
}

function setMyToken(token) {
  state.myBle = token;
  $('ble-token').textContent = token;
  advertise();
}

// advertise is the simulated radio: tabs of this origin hear it.
function advertise() {
  if (state.myBle && state.me) ble.postMessage({ from: state.me.id, connectionId: state.connectionId, token: state.myBle });
}

ble.onmessage = ({ data }) => {
  if (data.ask && data.ask === state.connectionId) { advertise(); return; }
  if (!data.token || data.connectionId !== state.connectionId || !state.me || data.from === state.me.id) return;
  state.partnerBle = data.token;
  $('partner-token').textContent = data.token;
  if (!state.scanning) $('scan').disabled = false;
};

function closeConnection(reason) {
  stopScanning();
  state.connectionId = '';
  state.partner = null;
  state.myBle = state.partnerBle = '';
  $('connection').textContent = `Connection closed (${reason || 'closed'}).`;
  $('connection').dataset.connectionId = '';
  $('ble-token').textContent = $('partner-token').textContent = '—';
  for (const id of ['chat-input', 'chat-send', 'scan']) $(id).disabled = true;
  setRun('none');
  setNearby(state.nearby);
}

function setRun(s) { state.run = s; $('run-status').textContent = s; $('run-status').dataset.status = s; }
function setTogether(sec) {
  if (typeof sec !== 'number') return;
  $('together').textContent = `${sec} s`;
  $('together').dataset.seconds = String(sec);
}

// scan starts the run with the partner's token as heard, then keeps
// "seeing" the partner on every tick, with the token heard last: a
// heartbeat while the run is active, else another start, as a phone that
// keeps scanning would. A start resumes a paused run, and once a run has
// ended (the other tab stopped, a socket dropped) starts from both tabs
// begin a new one.
function scan() {
  state.scanning = true;
  $('scan').textContent = 'Scanning…';
  $('scan').disabled = true;
  tick();
  ticker.postMessage(HEARTBEAT_MS);
}

function tick() {
  if (!state.scanning || !state.connectionId || !state.partnerBle) return;
  const type = state.run === 'active' ? 'proximity.heartbeat' : 'proximity.session.start';
  request(type, { connectionId: state.connectionId, token: state.partnerBle, rssi: RSSI }).catch(showError);
}

function stopScanning() {
  state.scanning = false;
  ticker.postMessage(0);
  $('scan').textContent = 'Scan partner';
}

ticker.onmessage = tick;

// One tab is one user: log in once, reload to be someone else.
$('login-form').onsubmit = (e) => {
  e.preventDefault();
  $('login').disabled = true;
  login($('handle').value.trim()).catch((err) => { $('login').disabled = false; showError(err); });
};
$('location-form').onsubmit = (e) => {
  e.preventDefault();
  request('presence.location_update', { lat: Number($('lat').value), lng: Number($('lng').value) }).catch(showError);
};
$('nudge').onclick = () => {
  $('lat').value = (Number($('lat').value) + 0.0002).toFixed(6);
  $('location-form').requestSubmit();
};
$('chat-form').onsubmit = (e) => {
  e.preventDefault();
  const content = $('chat-input').value.trim();
  if (!content || !state.partner) return;
  request('chat.message.created', { recipientId: state.partner.id, content }).then((m) => { addMessage(m); $('chat-input').value = ''; }, showError);
};
$('scan').onclick = scan;

// Two tabs start about 30-60 m apart around the same point.
$('lat').value = (52.52 + Math.random() * 0.0004).toFixed(6);
$('lng').value = (13.405 + Math.random() * 0.0004).toFixed(6);
drawRadar();
