'use strict';
// The dashboard page: one EventSource (/events) brings the cluster's state and the timeline as
// they change; the buttons POST to /api/... Nothing here polls the server.

const $ = (sel, root = document) => root.querySelector(sel);
const cards = new Map(); // port -> card element
let state = null;
let skew = 0; // server clock - page clock, from the last state frame
const pending = new Set(); // ports with an action under way (their buttons wait for it)

function short(value, max = 160) {
  const text = value === undefined ? 'undefined' : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}

function ago(at) {
  if (!at) return '—';
  const ms = Math.max(0, Date.now() + skew - at);
  return ms < 1000 ? `${Math.round(ms)} ms ago` : `${(ms / 1000).toFixed(1)} s ago`;
}

const version = (v) => (v ? `term ${v.term}, index ${v.index}` : '—');

function card(port) {
  let el = cards.get(port);
  if (el) return el;
  el = $('#card').content.firstElementChild.cloneNode(true);
  el.dataset.port = port;
  $('.port', el).textContent = port;
  for (const b of el.querySelectorAll('button')) {
    b.addEventListener('click', () => nodeAction(port, b.dataset.action === 'cut' && el.classList.contains('cut') ? 'heal' : b.dataset.action));
  }
  $('#nodes').appendChild(el);
  cards.set(port, el);
  return el;
}

function renderNode(n) {
  const el = card(n.port);
  const role = n.role || 'DOWN';
  el.className = `card ${n.role || ''} ${n.proc === 'down' ? 'down' : ''} ${n.cut ? 'cut' : ''}`;
  el.dataset.role = role;
  el.dataset.proc = n.proc;
  $('.role', el).textContent = n.role ? n.role.toLowerCase() : n.proc;
  $('.role', el).className = `role badge ${n.role || ''}`;
  let proc;
  if (n.proc === 'down') {
    const e = n.exit;
    proc = e ? `down (${e.signal || `exit ${e.code}`})` : 'down';
  } else {
    proc = `pid ${n.pid}${n.proc !== 'up' ? ` · ${n.proc}` : ''}${n.answering ? '' : ' · not answering'}`;
  }
  if (n.cut) proc = `CUT OFF · ${proc}`;
  $('.proc', el).textContent = proc;
  $('.term', el).textContent = n.term ?? '—';
  $('.leader', el).textContent = n.leader ?? (n.answering ? 'none known' : '—');
  $('.voted', el).textContent = n.votedFor ?? (n.answering ? 'nobody' : '—');
  $('.version', el).textContent = version(n.version);
  $('.commit', el).textContent = version(n.commit);
  $('.value', el).textContent = n.answering ? short(n.data) : '—';
  renderContact(el, n);
  const p = n.persisted;
  const pel = $('.persisted', el);
  if (!p) pel.textContent = 'no file yet';
  else if (p.error) pel.textContent = `unreadable: ${p.error}`;
  else {
    const dv = p.dataTerm !== undefined ? `, data t${p.dataTerm}/i${p.dataIndex}` : '';
    pel.innerHTML = '';
    pel.append(`term ${p.term}, voted ${p.votedFor ?? 'nobody'}${dv}, `);
    const when = document.createElement('span');
    when.className = 'persisted-at';
    when.dataset.at = p.at;
    when.textContent = `written ${ago(p.at)}`;
    pel.append(when);
    const v = document.createElement('div');
    v.className = 'mono';
    v.textContent = short(p.data, 100);
    pel.append(v);
  }
  const running = n.proc !== 'down';
  const busy = pending.has(n.port);
  $('.stop', el).disabled = busy || !running;
  $('.kill', el).disabled = busy || !running;
  $('.restart', el).disabled = busy;
  $('.cut', el).disabled = busy || !n.answering;
  $('.cut', el).textContent = n.cut ? 'heal' : 'cut off';
}

function renderContact(el, n) {
  const c = $('.contact', el);
  if (!n.lastContact) {
    c.textContent = '—';
    return;
  }
  const peers = Object.entries(n.lastContact).sort(([a], [b]) => a.localeCompare(b));
  if (peers.length === 0) {
    c.textContent = 'nobody yet';
    return;
  }
  // the node's clock and the dashboard's are the same machine's; ages are recomputed locally
  c.innerHTML = '';
  for (const [peer, at] of peers) {
    const row = document.createElement('div');
    row.className = 'contact-row';
    row.dataset.at = at;
    row.dataset.peer = peer;
    row.textContent = `${peer}${String(peer) === String(n.leader) ? ' (leader)' : ''}: ${ago(at)}`;
    c.append(row);
  }
}

function tickAges() {
  for (const row of document.querySelectorAll('.contact-row')) {
    row.textContent = row.textContent.replace(/: .*$/, `: ${ago(Number(row.dataset.at))}`);
  }
  for (const s of document.querySelectorAll('.persisted-at')) s.textContent = `written ${ago(Number(s.dataset.at))}`;
}

function renderSummary() {
  const up = state.nodes.filter((n) => n.answering);
  const leaders = up.filter((n) => n.role === 'LEADER');
  const s = $('#summary');
  s.dataset.leader = leaders.length === 1 ? leaders[0].port : '';
  if (leaders.length === 1) {
    const l = leaders[0];
    const agree = up.filter((n) => String(n.leader) === l.port).length;
    s.textContent = `leader ${l.port}, term ${l.term} · ${agree} of ${state.nodes.length} nodes follow it`;
  } else if (leaders.length === 0) {
    s.textContent = `no leader right now · ${up.length} of ${state.nodes.length} nodes answering`;
  } else {
    s.textContent = `${leaders.length} nodes say they lead (${leaders.map((l) => `${l.port} term ${l.term}`).join(', ')})`;
  }
  $('#autowrite').checked = state.autoWrite;
}

function render() {
  if (!state) return;
  for (const n of state.nodes) renderNode(n);
  renderSummary();
}

function addTimeline(entry) {
  const li = document.createElement('li');
  li.className = entry.kind;
  const t = document.createElement('span');
  t.className = 't';
  t.textContent = `${entry.t.toFixed(1)} s`;
  const text = document.createElement('span');
  text.textContent = entry.text;
  li.append(t, text);
  const list = $('#timeline');
  list.prepend(li);
  while (list.children.length > 500) list.lastElementChild.remove();
}

async function post(url, body) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body || {}) });
  return res.json();
}

async function nodeAction(port, action) {
  pending.add(port);
  render();
  try {
    const r = await post(`/api/node/${port}/${action}`);
    if (!r.ok) $('#write-result').textContent = `${action} ${port}: ${r.error || 'failed'}`;
  } catch (err) {
    $('#write-result').textContent = `${action} ${port}: ${err.message}`;
  } finally {
    pending.delete(port);
    render();
  }
}

$('#write-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const raw = $('#write-value').value;
  let value;
  try {
    value = JSON.parse(raw);
  } catch {
    value = raw;
  }
  $('#write-result').textContent = 'writing…';
  try {
    const r = await post('/api/write', { value });
    $('#write-result').textContent = r.ok
      ? `committed by ${r.leader} at term ${r.commit.term}, index ${r.commit.index}`
      : `not committed: ${r.error || 'no leader right now'}`;
  } catch (err) {
    $('#write-result').textContent = err.message;
  }
});

$('#autowrite').addEventListener('change', (e) => post('/api/autowrite', { on: e.target.checked }));
$('#show-writes').addEventListener('change', (e) => $('#timeline').classList.toggle('hide-writes', !e.target.checked));

const source = new EventSource('/events');
source.addEventListener('open', () => {
  $('#feed').textContent = 'live';
  $('#feed').classList.remove('off');
});
source.addEventListener('error', () => {
  $('#feed').textContent = 'offline (reconnecting)';
  $('#feed').classList.add('off');
});
source.addEventListener('hello', (e) => {
  const { state: s, history } = JSON.parse(e.data);
  $('#timeline').innerHTML = '';
  for (const entry of history) addTimeline(entry);
  state = s;
  skew = s.now - Date.now();
  render();
});
source.addEventListener('state', (e) => {
  state = JSON.parse(e.data);
  skew = state.now - Date.now();
  render();
});
source.addEventListener('timeline', (e) => addTimeline(JSON.parse(e.data)));
setInterval(tickAges, 500);
