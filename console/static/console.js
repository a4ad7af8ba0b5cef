// The GISBI operator console. Plain JavaScript with no dependencies: the
// page's Content-Security-Policy admits only this file, and everything
// shown is built with textContent, never HTML strings, because reports
// and names are text users typed.
'use strict';

(function () {
  // The admin token lives here and nowhere else: not in storage, not in
  // a cookie, not in the URL. A reload forgets it by design. epoch counts
  // sign-outs: the answer to a request sent before the last one is
  // dropped, so nothing of a closed session reappears on the page.
  const session = { token: '', operator: '', epoch: 0 };

  const $ = (id) => document.getElementById(id);

  // el builds an element: props are assigned (className, type, …), data-*
  // go through dataset, children are nodes or strings (as text).
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === 'data') Object.assign(node.dataset, v);
      else if (k === 'text') node.textContent = v;
      else if (k === 'role') node.setAttribute('role', v);
      else node[k] = v;
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : String(c));
    }
    return node;
  }

  function show(node, text) {
    if (text !== undefined) node.textContent = text;
    node.hidden = false;
  }
  function hide(...nodes) { for (const n of nodes) n.hidden = true; }

  function fmtTime(s) {
    if (!s) return '—';
    const d = new Date(s);
    return isNaN(d) ? s : d.toLocaleString();
  }
  function timeCell(s) {
    return el('td', { text: fmtTime(s), title: s || '' });
  }

  // ApiError carries the server's {detail, code} so messages can say
  // what went wrong rather than just that something did.
  class ApiError extends Error {
    constructor(status, code, detail) {
      super(detail);
      this.status = status;
      this.code = code;
    }
  }

  // SignedOut is what a request answers when the session it belonged to
  // has ended meanwhile; it is not shown.
  class SignedOut extends Error {}

  function describe(err) {
    if (!(err instanceof ApiError)) return 'Something went wrong in the console: ' + err.message;
    switch (err.code) {
      case 'network': return err.message;
      case 'rate_limited': return 'Too many wrong tokens came from this address, so the server refuses every token for now. Wait a little, then try again. (' + err.message + ')';
      default: return err.message + ' (' + err.code + ', HTTP ' + err.status + ')';
    }
  }

  // request calls the operator API with a token; api calls it as the
  // signed-in operator and signs out when the token stops working.
  async function request(token, method, path, body) {
    const headers = { 'Accept': 'application/json', 'Authorization': 'Bearer ' + token };
    if (session.operator) headers['X-Operator'] = session.operator;
    const init = { method, headers, cache: 'no-store', credentials: 'omit', redirect: 'error' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, 'network', 'The server could not be reached (' + e.message + '). Check that it is running, then try again.');
    }
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (!res.ok) {
      const code = (data && data.code) || 'http_' + res.status;
      const detail = (data && data.detail) || res.statusText || 'HTTP ' + res.status;
      throw new ApiError(res.status, code, detail);
    }
    return data;
  }

  async function api(method, path, body) {
    if (!session.token) throw new SignedOut(); // a late step of an ended session
    const epoch = session.epoch;
    let data;
    try {
      data = await request(session.token, method, path, body);
    } catch (e) {
      if (epoch !== session.epoch) throw new SignedOut();
      if (e instanceof ApiError && e.status === 401) {
        signOut('The server no longer accepts this admin token (' + e.message + '). Sign in again.');
        throw new SignedOut();
      }
      throw e;
    }
    if (epoch !== session.epoch) throw new SignedOut();
    return data;
  }

  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== '' && v !== undefined && v !== null) q.set(k, v);
    const s = q.toString();
    return s ? '?' + s : '';
  }

  // A notice or error shown inline in a section; a new action clears them.
  function notice(prefix, text) { show($(prefix + '-notice'), text); }
  function showError(node, err) {
    if (!(err instanceof SignedOut)) show(node, describe(err));
  }
  function failed(prefix, err) { showError($(prefix + '-error'), err); }
  function clearMessages(prefix) {
    for (const s of ['-notice', '-error']) { const n = $(prefix + s); if (n) hide(n); }
  }

  // busy disables a button while its request runs, so a double click
  // cannot terminate or resolve twice.
  async function busy(button, fn) {
    button.disabled = true;
    try { return await fn(); } finally { button.disabled = false; }
  }

  // pager shows one page of a cursor-paged list. The cursors of the pages
  // seen so far are kept so Previous can go back; the server gives only
  // the next one.
  function pager(prefix, load, render) {
    const rows = $(prefix + '-rows'), table = $(prefix + '-table'), empty = $(prefix + '-empty');
    const prev = $(prefix + '-prev'), next = $(prefix + '-next'), page = $(prefix + '-page');
    let cursors = [''], index = 0, nextCursor = '', seq = 0;
    async function refresh() {
      const mine = ++seq;
      hide($(prefix + '-error'));
      prev.disabled = next.disabled = true;
      try {
        const { items, cursor } = await load(cursors[index]);
        if (mine !== seq) return; // a newer load answered first
        rows.replaceChildren(...items.map(render));
        table.hidden = items.length === 0;
        empty.hidden = items.length !== 0;
        nextCursor = cursor || '';
        page.textContent = 'Page ' + (index + 1);
      } catch (e) {
        if (mine !== seq) return;
        failed(prefix, e);
      }
      prev.disabled = index === 0;
      next.disabled = !nextCursor;
    }
    prev.addEventListener('click', () => { if (index > 0) { index--; refresh(); } });
    next.addEventListener('click', () => {
      if (!nextCursor) return;
      cursors = cursors.slice(0, index + 1).concat(nextCursor);
      index++;
      refresh();
    });
    return {
      refresh,
      first() { cursors = ['']; index = 0; nextCursor = ''; return refresh(); },
      clear() { seq++; rows.replaceChildren(); hide(table, empty); page.textContent = ''; },
    };
  }

  // An inline confirmation row under a table row: a text field and a
  // button that runs onConfirm(text). Only one is open per table.
  function confirmRow(tr, cols, opts) {
    const tbody = tr.parentNode;
    for (const open of tbody.querySelectorAll('tr.confirm')) open.remove();
    // The server takes at most 1000 characters for a resolution or a reason.
    const input = el('input', { type: 'text', className: 'reason', placeholder: opts.placeholder, maxLength: 1000, spellcheck: true });
    const id = 'confirm-' + Math.random().toString(36).slice(2);
    input.id = id;
    const err = el('p', { className: 'error', role: 'alert', hidden: true });
    const ok = el('button', { type: 'submit', className: opts.danger ? 'danger confirm-action' : 'confirm-action', text: opts.button });
    const cancel = el('button', { type: 'button', className: 'secondary', text: 'Cancel' });
    const form = el('form', { className: 'confirm-form' },
      el('p', { text: opts.question }),
      el('label', { htmlFor: id, text: opts.label }), input, err, el('div', { className: 'actions' }, ok, cancel));
    const row = el('tr', { className: 'confirm', data: { for: tr.dataset.key } }, el('td', { colSpan: cols }, form));
    cancel.addEventListener('click', () => row.remove());
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const text = input.value.trim();
      if (opts.required && !text) { show(err, opts.label + ' is required.'); input.focus(); return; }
      hide(err);
      busy(ok, async () => {
        try { await opts.onConfirm(text); row.remove(); } catch (e) { showError(err, e); }
      });
    });
    tr.after(row);
    input.focus();
  }

  // ---- Reports ----

  const reports = pager('reports', async (cursor) => {
    const r = await api('GET', '/admin/reports' + query({
      status: $('reports-status').value,
      sort: $('reports-worst').checked ? 'worst' : '',
      cursor, limit: 25,
    }));
    return { items: (r && r.reports) || [], cursor: r && r.nextCursor };
  }, renderReport);

  function renderReport(r) {
    const tr = el('tr', { data: { key: r.reportId, reportId: r.reportId, status: r.status, reportedUserId: r.reportedUserId } });
    const find = el('button', { type: 'button', className: 'link', text: r.reportedUserId, title: 'Find this account' });
    find.addEventListener('click', () => { $('users-q').value = r.reportedUserId; showView('users'); searchUsers(); });
    const open = r.openReportsAgainstUser;
    tr.append(
      timeCell(r.createdAt),
      el('td', {}, find, open ? el('span', { className: 'badge', text: open + ' open', title: 'Open reports against this account' }) : null),
      el('td', { className: 'mono', text: r.reporterId }),
      el('td', { className: 'reason', text: r.reason }),
      el('td', {}, el('span', { className: 'status status-' + r.status, text: r.status })),
      el('td', {}, r.status === 'resolved'
        ? el('span', { text: (r.resolution || '(no note)') + (r.resolvedBy ? ' — ' + r.resolvedBy : '') + (r.resolvedAt ? ', ' + fmtTime(r.resolvedAt) : '') })
        : '—'),
    );
    const actions = el('td', { className: 'actions' });
    if (r.status === 'open') {
      const b = el('button', { type: 'button', className: 'secondary mark-reviewing', text: 'Mark reviewing' });
      b.addEventListener('click', () => busy(b, async () => {
        clearMessages('reports');
        try {
          await api('PATCH', '/admin/reports/' + encodeURIComponent(r.reportId), { status: 'reviewing' });
          notice('reports', 'Report ' + r.reportId + ' is now being reviewed.');
          await reports.refresh();
        } catch (e) { failed('reports', e); }
      }));
      actions.append(b);
    }
    if (r.status === 'resolved') {
      const b = el('button', { type: 'button', className: 'secondary reopen', text: 'Reopen' });
      b.addEventListener('click', () => busy(b, async () => {
        clearMessages('reports');
        try {
          await api('PATCH', '/admin/reports/' + encodeURIComponent(r.reportId), { status: 'open' });
          notice('reports', 'Report ' + r.reportId + ' is open again.');
          await reports.refresh();
        } catch (e) { failed('reports', e); }
      }));
      actions.append(b);
    } else {
      const b = el('button', { type: 'button', className: 'resolve', text: 'Resolve…' });
      b.addEventListener('click', () => confirmRow(tr, 7, {
        question: 'Resolve the report against ' + r.reportedUserId + '?',
        label: 'Resolution', placeholder: 'What was done, e.g. "warned the user"', button: 'Resolve report',
        onConfirm: async (text) => {
          const body = { status: 'resolved' };
          if (text) body.resolution = text;
          await api('PATCH', '/admin/reports/' + encodeURIComponent(r.reportId), body);
          clearMessages('reports');
          notice('reports', 'Report ' + r.reportId + ' resolved.');
          await reports.refresh();
        },
      }));
      actions.append(b);
    }
    tr.append(actions);
    return tr;
  }

  $('reports-filter').addEventListener('submit', (ev) => { ev.preventDefault(); clearMessages('reports'); reports.first(); });

  // ---- Users ----

  function userState(u) {
    if (u.terminatedAt) return 'terminated';
    if (u.deletedAt) return 'deleted';
    return 'active';
  }

  let userSearchSeq = 0;
  async function searchUsers() {
    const q = $('users-q').value.trim();
    const mine = ++userSearchSeq;
    clearMessages('users');
    hide($('users-empty'));
    if (!q) { show($('users-idle')); hide($('users-table')); $('users-rows').replaceChildren(); return; }
    hide($('users-idle'));
    try {
      const r = await api('GET', '/admin/users' + query({ q }));
      if (mine !== userSearchSeq) return;
      const users = (r && r.users) || [];
      $('users-rows').replaceChildren(...users.map(renderUser));
      $('users-table').hidden = users.length === 0;
      $('users-empty').hidden = users.length !== 0;
    } catch (e) {
      if (mine === userSearchSeq) failed('users', e);
    }
  }

  function renderUser(u) {
    const state = userState(u);
    const tr = el('tr', { data: { key: u.id, userId: u.id, state } });
    let stateText = state;
    if (state === 'terminated') stateText = 'terminated ' + fmtTime(u.terminatedAt);
    if (state === 'deleted') stateText = 'deleted ' + fmtTime(u.deletedAt);
    tr.append(
      el('td', { text: u.name || '—' }),
      el('td', { text: u.username ? '@' + u.username : '—' }),
      el('td', { className: 'mono', text: u.id }),
      timeCell(u.createdAt),
      el('td', {}, el('span', { className: 'status status-' + state, text: stateText })),
      el('td', { className: 'num', text: String(u.openReportsAgainstUser || 0) }),
    );
    const actions = el('td', { className: 'actions' });
    if (state !== 'terminated') {
      const b = el('button', { type: 'button', className: 'danger terminate', text: 'Terminate…' });
      const who = u.name || u.username || u.id;
      b.addEventListener('click', () => confirmRow(tr, 7, {
        question: 'Terminate ' + who + ' (' + u.id + ')? The account is signed out for good and its ' +
          (u.openReportsAgainstUser || 0) + ' open report(s) are resolved. This cannot be undone.',
        label: 'Reason', placeholder: 'Why, for the audit log', button: 'Terminate account', danger: true, required: true,
        onConfirm: async (reason) => {
          const r = await api('POST', '/admin/users/' + encodeURIComponent(u.id) + '/terminate', { reason });
          const updated = Object.assign({}, u, (r && r.user) || {});
          if (!updated.terminatedAt) updated.terminatedAt = new Date().toISOString();
          tr.replaceWith(renderUser(updated));
          clearMessages('users');
          const n = (r && r.resolvedReports) || 0;
          notice('users', 'Account ' + who + ' terminated. ' + (n === 1 ? '1 report against it was' : n + ' reports against it were') + ' resolved.');
        },
      }));
      actions.append(b);
    }
    tr.append(actions);
    return tr;
  }

  $('users-search').addEventListener('submit', (ev) => { ev.preventDefault(); searchUsers(); });

  // ---- Campaigns ----

  // Campaigns name their brand by id only; brands created in this tab
  // are remembered so the list can show their names.
  const brandNames = new Map();

  async function loadCampaigns() {
    hide($('campaigns-error'));
    try {
      const r = await api('GET', '/admin/campaigns');
      const list = ((r && r.campaigns) || []).slice().reverse(); // newest first
      $('campaigns-rows').replaceChildren(...list.map(renderCampaign));
      $('campaigns-table').hidden = list.length === 0;
      $('campaigns-empty').hidden = list.length !== 0;
      const ids = new Set(list.map((c) => c.brandId));
      for (const id of brandNames.keys()) ids.add(id);
      $('campaign-brands').replaceChildren(...[...ids].map((id) => el('option', { value: id, text: brandNames.get(id) || '' })));
    } catch (e) {
      failed('campaigns', e);
    }
  }

  function renderCampaign(c) {
    const tr = el('tr', { data: { key: c.campaignId, campaignId: c.campaignId, status: c.status } });
    const trigger = c.triggerType === 'proximityMilestone'
      ? c.milestoneMinutes + ' min together'
      : (c.triggerType === 'connectionAccepted' ? 'connection accepted' : c.triggerType);
    const brand = brandNames.get(c.brandId);
    tr.append(
      el('td', { text: c.title, title: c.description }),
      el('td', { className: brand ? '' : 'mono', text: brand || c.brandId, title: c.brandId }),
      el('td', { text: trigger }),
      el('td', {}, el('span', { className: 'status status-' + c.status, text: c.status })),
      el('td', { className: 'num', text: String(c.granted) }),
      el('td', { className: 'num', text: String(c.redeemed) }),
      el('td', { className: 'num', text: c.remaining === null || c.remaining === undefined ? 'unlimited' : String(c.remaining) }),
    );
    const actions = el('td', { className: 'actions' });
    const next = { active: ['paused', 'Pause', 'pause'], paused: ['active', 'Resume', 'resume'] }[c.status];
    if (next) {
      const b = el('button', { type: 'button', className: 'secondary ' + next[2], text: next[1] });
      b.addEventListener('click', () => busy(b, async () => {
        clearMessages('campaigns');
        try {
          const v = await api('PATCH', '/admin/campaigns/' + encodeURIComponent(c.campaignId), { status: next[0] });
          tr.replaceWith(renderCampaign(v));
          notice('campaigns', 'Campaign "' + c.title + '" is now ' + v.status + '.');
        } catch (e) { failed('campaigns', e); }
      }));
      actions.append(b);
    }
    tr.append(actions);
    return tr;
  }

  $('campaigns-refresh').addEventListener('click', () => { clearMessages('campaigns'); loadCampaigns(); });

  $('brand-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = $('brand-name').value.trim(), category = $('brand-category').value.trim();
    hide($('brand-error'), $('brand-created'));
    if (!name) { show($('brand-error'), 'A brand needs a name.'); return; }
    const body = { name };
    if (category) body.category = category;
    busy(ev.submitter || $('brand-form').querySelector('button'), async () => {
      try {
        const b = await api('POST', '/admin/brands', body);
        brandNames.set(b.brandId, b.name);
        $('brand-created-name').textContent = b.name;
        $('brand-created-id').textContent = b.brandId;
        $('brand-created-key').textContent = b.sponsorKey;
        show($('brand-created'));
        $('brand-name').value = $('brand-category').value = '';
        $('campaign-brand').value = b.brandId;
        $('campaign-brands').append(el('option', { value: b.brandId, text: b.name }));
      } catch (e) { showError($('brand-error'), e); }
    });
  });

  $('campaign-trigger').addEventListener('change', () => {
    $('campaign-milestone-row').hidden = $('campaign-trigger').value !== 'proximityMilestone';
  });

  // intField reads an optional whole number; undefined when empty.
  function intField(id, label) {
    const s = $(id).value.trim();
    if (s === '') return undefined;
    const n = Number(s);
    if (!Number.isInteger(n)) throw new Error(label + ' must be a whole number.');
    return n;
  }

  $('campaign-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const errNode = $('campaign-error');
    hide(errNode);
    let body;
    try {
      body = {
        brandId: $('campaign-brand').value.trim(),
        title: $('campaign-title').value.trim(),
        description: $('campaign-description').value.trim(),
        terms: $('campaign-terms').value.trim(),
        triggerType: $('campaign-trigger').value,
        minTotalTogetherMinutes: intField('campaign-min-total', 'Min. total minutes') ?? 0,
        minDistinctQualifyingDays: intField('campaign-min-days', 'Min. qualifying days') ?? 0,
        requireActiveProximityForClaim: $('campaign-require-active').checked,
        rewardTtl: $('campaign-reward-ttl').value.trim(),
        codeTtl: $('campaign-code-ttl').value.trim(),
      };
      const optional = {
        milestoneMinutes: body.triggerType === 'proximityMilestone' ? intField('campaign-milestone', 'Milestone') : undefined,
        minDailyTogetherMinutes: intField('campaign-min-daily', 'Min. minutes per day'),
        stock: intField('campaign-stock', 'Stock'),
      };
      for (const [k, v] of Object.entries(optional)) if (v !== undefined) body[k] = v;
    } catch (e) {
      show(errNode, e.message);
      return;
    }
    if (!body.brandId) { show(errNode, 'Choose a brand: create one above or paste its id.'); return; }
    if (!body.title || !body.description) { show(errNode, 'A campaign needs a title and a description.'); return; }
    busy(ev.submitter || $('campaign-form').querySelector('button[type=submit]'), async () => {
      try {
        const c = await api('POST', '/admin/campaigns', body);
        for (const id of ['campaign-title', 'campaign-description', 'campaign-terms']) $(id).value = '';
        clearMessages('campaigns');
        notice('campaigns', 'Campaign "' + c.title + '" created and active.');
        await loadCampaigns();
      } catch (e) { showError(errNode, e); }
    });
  });

  // ---- Audit log ----

  const audit = pager('audit', async (cursor) => {
    const r = await api('GET', '/admin/audit' + query({ cursor, limit: 50 }));
    return { items: (r && r.entries) || [], cursor: r && r.nextCursor };
  }, (e) => {
    let detail = e.detail;
    if (detail !== null && typeof detail === 'object') detail = JSON.stringify(detail);
    return el('tr', { data: { key: String(e.id), entryId: String(e.id), action: e.action || '', operator: e.operator || '', target: e.target || '' } },
      timeCell(e.at),
      el('td', { text: e.operator || '—' }),
      el('td', { text: e.action }),
      el('td', { className: 'mono', text: e.target || '—' }),
      el('td', { className: 'reason', text: detail === undefined || detail === null || detail === '' ? '—' : String(detail) }));
  });
  $('audit-refresh').addEventListener('click', () => audit.first());

  // ---- Health ----

  // parseMetrics reads Prometheus' text format into name → summed value,
  // plus name → [labels, value] for the series wanted by label.
  function parseMetrics(text) {
    const sums = new Map(), series = new Map();
    for (const line of text.split('\n')) {
      if (!line || line[0] === '#') continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (!m) continue;
      const v = Number(m[3]);
      if (!Number.isFinite(v)) continue;
      sums.set(m[1], (sums.get(m[1]) || 0) + v);
      if (!series.has(m[1])) series.set(m[1], []);
      series.get(m[1]).push([m[2] || '', v]);
    }
    return { sums, series };
  }

  function label(labels, name) {
    const m = new RegExp(name + '="((?:[^"\\\\]|\\\\.)*)"').exec(labels);
    return m ? m[1] : '';
  }

  function count(n) { return n === undefined ? 'not reported' : Math.round(n).toLocaleString(); }

  // loadHealth reads /readyz and /metrics; the section's data-state says
  // whether the figures shown are fresh, being refreshed or stale.
  async function loadHealth() {
    const epoch = session.epoch;
    const stale = () => epoch !== session.epoch;
    const section = $('view-health');
    section.dataset.state = 'loading';
    hide($('health-error'));
    const ready = $('health-ready');
    try {
      const res = await fetch('/readyz', { cache: 'no-store', credentials: 'omit' });
      let status = 'HTTP ' + res.status;
      try { status = (await res.json()).status || status; } catch (e) { /* keep the HTTP status */ }
      if (stale()) return;
      ready.textContent = status;
      ready.dataset.state = res.ok ? 'ready' : 'not-ready';
    } catch (e) {
      if (stale()) return;
      ready.textContent = 'unreachable';
      ready.dataset.state = 'unreachable';
    }
    try {
      const res = await fetch('/metrics', { cache: 'no-store', credentials: 'omit' });
      if (!res.ok) throw new ApiError(res.status, 'http_' + res.status, 'GET /metrics failed');
      const { sums, series } = parseMetrics(await res.text());
      if (stale()) return;
      $('health-sockets').textContent = count(sums.get('gisbi_sockets_open'));
      $('health-goroutines').textContent = count(sums.get('go_goroutines'));
      const rss = sums.get('process_resident_memory_bytes');
      $('health-memory').textContent = rss === undefined ? 'not reported' : (rss / 1048576).toFixed(1) + ' MiB';
      $('health-errors').textContent = count(sums.get('gisbi_errors_total') || 0);
      $('health-activations').textContent = count(sums.get('gisbi_grain_activations_total') || 0);
      const byCode = (series.get('gisbi_errors_total') || [])
        .map(([labels, v]) => [label(labels, 'code') || '(none)', v])
        .filter(([, v]) => v > 0)
        .sort((a, b) => b[1] - a[1]);
      $('health-errors-rows').replaceChildren(...byCode.map(([code, v]) =>
        el('tr', { data: { code } }, el('td', { className: 'mono', text: code }), el('td', { className: 'num', text: count(v) }))));
      $('health-errors-table').hidden = byCode.length === 0;
      $('health-errors-empty').hidden = byCode.length !== 0;
      $('health-at').textContent = 'As of ' + new Date().toLocaleTimeString();
      section.dataset.state = 'loaded';
    } catch (e) {
      if (stale()) return;
      show($('health-error'), 'Metrics unavailable: ' + describe(e));
      section.dataset.state = 'failed';
    }
  }
  $('health-refresh').addEventListener('click', loadHealth);

  // ---- Navigation and sign-in ----

  const views = {
    reports: () => reports.first(),
    users: () => {},
    campaigns: loadCampaigns,
    audit: () => audit.first(),
    health: loadHealth,
  };

  function showView(name) {
    for (const b of document.querySelectorAll('nav.tabs button')) {
      if (b.dataset.view === name) b.setAttribute('aria-current', 'page');
      else b.removeAttribute('aria-current');
    }
    for (const v of document.querySelectorAll('section.view')) v.hidden = v.id !== 'view-' + name;
  }

  for (const b of document.querySelectorAll('nav.tabs button')) {
    b.addEventListener('click', () => { showView(b.dataset.view); views[b.dataset.view](); });
  }

  // An operator name goes in a header, which carries only ASCII safely.
  const operatorName = /^[\x20-\x7e]{1,64}$/;

  $('sign-in-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const errNode = $('sign-in-error');
    hide(errNode);
    const operator = $('sign-in-operator').value.trim();
    const token = $('sign-in-token').value.trim();
    if (!operator) { show(errNode, 'Enter your name: the audit log records who acted.'); $('sign-in-operator').focus(); return; }
    if (!operatorName.test(operator)) { show(errNode, 'Use ASCII letters, digits, spaces and punctuation for your name, at most 64 characters.'); return; }
    if (!token) { show(errNode, 'Enter the admin token.'); $('sign-in-token').focus(); return; }
    busy($('sign-in-submit'), async () => {
      session.operator = operator;
      try {
        // A cheap read proves the token before the console opens.
        await request(token, 'GET', '/admin/campaigns');
      } catch (e) {
        session.operator = '';
        if (e instanceof ApiError && e.status === 401) {
          show(errNode, 'The server refused this admin token. Check it and try again. (' + e.message + ')');
        } else if (e instanceof ApiError && e.status === 404) {
          show(errNode, 'The server has no operator API: it runs without GISBI_ADMIN_TOKEN.');
        } else {
          show(errNode, describe(e));
        }
        $('sign-in-token').select();
        return;
      }
      session.token = token;
      $('sign-in-token').value = ''; // the token leaves the page's DOM
      $('who-name').textContent = operator;
      hide($('sign-in'));
      show($('whoami'));
      show($('app'));
      showView('reports');
      views.reports();
    });
  });

  function signOut(message) {
    session.token = '';
    session.operator = '';
    session.epoch++;
    // Nothing seen while signed in stays on the page.
    reports.clear();
    audit.clear();
    for (const id of ['users-rows', 'campaigns-rows', 'health-errors-rows']) $(id).replaceChildren();
    for (const dd of document.querySelectorAll('#view-health dd')) { dd.textContent = '—'; dd.dataset.state = ''; }
    $('health-at').textContent = '';
    $('brand-created-key').textContent = ''; // a sponsor key is a secret too
    $('view-health').dataset.state = '';
    for (const n of document.querySelectorAll('#reports-page, #audit-page')) n.textContent = '';
    for (const p of ['reports', 'users', 'campaigns', 'audit', 'health', 'brand', 'campaign']) {
      for (const s of ['-notice', '-error', '-created', '-empty', '-table']) { const n = $(p + s); if (n) hide(n); }
    }
    show($('users-idle'));
    $('users-q').value = '';
    hide($('app'), $('whoami'));
    show($('sign-in'));
    if (message) show($('sign-in-error'), message);
    else hide($('sign-in-error'));
    $('sign-in-operator').focus();
  }
  $('sign-out').addEventListener('click', () => signOut(''));

  hide($('loading'));
  if (document.body.dataset.operatorApi === 'on') {
    show($('sign-in'));
    $('sign-in-operator').focus();
  } else {
    show($('api-off'));
  }
})();
