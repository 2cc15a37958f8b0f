'use strict';
// The dashboard page: one EventSource (/events) brings the cluster's state and the timeline as
// they change; the buttons POST to /api/... Nothing here polls the server.

const $ = (sel, root = document) => root.querySelector(sel);
const cards = new Map(); // port -> card element
let state = null;
let skew = 0; // server clock - page clock, from the last state frame
const pending = new Set(); // ports with an action under way (their buttons wait for it)

// ---------------------------------------------------------------------------------------------
// The ring (after RaftScope): the servers on a circle, each raft message the nodes send as a dot
// travelling from sender to receiver (slowed down to be seen: TRAVEL ms a hop), each follower's
// election timer as an arc that a heartbeat from the leader resets, the term in each server,
// whom it voted for, and the votes a candidate has been granted. Messages, roles, terms and
// votes are the nodes' own (their `msg` and state events); the timers are drawn from the
// heartbeats each follower is seen to receive and the nodes' configured election range.
const SVG = 'http://www.w3.org/2000/svg';
const TRAVEL = 350;
const ring = (() => {
  const svg = document.getElementById('ring');
  const C = 210;
  const R = 150;
  const servers = new Map(); // port -> { g, x, y, timer, term, vote, granted, lastReset, role }
  const dots = new Set(); // { el, from, to, start, msg }
  let paused = false;
  let pausedAt = 0;
  let timing = { minimumElectionTime: 200, maximumElectionTime: 800 };
  let last = null;

  const el = (name, attrs, parent) => {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (parent) parent.appendChild(e);
    return e;
  };
  const now = () => (paused ? pausedAt : performance.now());

  function layout(ports) {
    if (servers.size === ports.length && ports.every((p) => servers.has(p))) return;
    for (const s of servers.values()) s.g.remove();
    servers.clear();
    ports.forEach((port, i) => {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / ports.length;
      const x = C + R * Math.cos(a);
      const y = C + R * Math.sin(a);
      const g = el('g', { class: 'server', 'data-port': port, transform: `translate(${x.toFixed(1)},${y.toFixed(1)})` }, svg.querySelector('.servers'));
      el('circle', { class: 'timer-track', r: 40 }, g);
      const timer = el('path', { class: 'timer', d: '' }, g);
      el('circle', { class: 'body', r: 32 }, g);
      const name = el('text', { class: 'port-label', y: -8 }, g);
      name.textContent = port;
      const term = el('text', { class: 'term-label', y: 9 }, g);
      const vote = el('text', { class: 'vote-label', y: 56 }, g);
      const granted = el('g', { class: 'granted' }, g);
      servers.set(port, { g, x, y, timer, term, vote, granted, lastReset: performance.now(), role: null, termNo: null });
    });
  }

  /** The arc of a follower's election timer: elapsed / maximumElectionTime of a full circle. */
  function arc(frac) {
    const f = Math.max(0, Math.min(0.9999, frac));
    if (f <= 0) return '';
    const a0 = -Math.PI / 2;
    const a1 = a0 + f * 2 * Math.PI;
    const r = 40;
    const large = f > 0.5 ? 1 : 0;
    return `M ${(r * Math.cos(a0)).toFixed(2)} ${(r * Math.sin(a0)).toFixed(2)} A ${r} ${r} 0 ${large} 1 ${(r * Math.cos(a1)).toFixed(2)} ${(r * Math.sin(a1)).toFixed(2)}`;
  }

  function update(st) {
    last = st;
    layout(st.nodes.map((n) => n.port));
    for (const n of st.nodes) {
      const s = servers.get(n.port);
      if (n.timing) timing = n.timing;
      const role = n.answering ? n.role : n.proc === 'down' ? 'DOWN' : 'STARTING';
      if (role !== s.role) {
        // a new role restarts the election timer (a candidate's new round, a fresh follower)
        s.lastReset = now();
        if (role !== 'CANDIDATE') s.granted.replaceChildren();
      }
      s.role = role;
      s.g.setAttribute('class', `server ${role}${n.cut ? ' cut' : ''}`);
      if (n.term !== null && n.term !== undefined && n.term !== s.termNo) {
        if (s.termNo !== null && n.term > s.termNo) s.granted.replaceChildren();
        s.termNo = n.term;
      }
      s.term.textContent = n.answering ? `term ${n.term}` : n.proc === 'down' ? 'down' : '…';
      s.vote.textContent = n.answering && n.votedFor != null && role !== 'LEADER' ? `voted ${n.votedFor}` : '';
      s.g.dataset.term = n.answering ? n.term : '';
    }
  }

  function message(m) {
    if (paused || document.hidden) return;
    const a = servers.get(String(m.from));
    const b = servers.get(String(m.to));
    if (!a || !b) return;
    let cls = `msg ${m.ch}`;
    if (m.pre) cls += ' pre';
    if (m.granted === true || m.success === true) cls += ' ok';
    if (m.granted === false || m.success === false) cls += ' refused';
    if (m.data) cls += ' data';
    const r = m.ch === 'syncData' && m.data ? 8 : m.ch === 'voteRequest' || m.ch === 'voteResponse' ? 6 : m.ch === 'syncData' ? 5 : 4;
    const dot = { el: el('circle', { class: cls, r, cx: a.x, cy: a.y, 'data-ch': m.ch, 'data-from': m.from, 'data-to': m.to }, svg.querySelector('.msgs')), from: a, to: b, start: now(), msg: m };
    dots.add(dot);
  }

  function arrive(d) {
    const m = d.msg;
    const s = servers.get(String(m.to));
    if (!s) return;
    // a follower's timer restarts when it hears the leader (or grants a real vote)
    if (m.ch === 'syncData' || (m.ch === 'voteRequest' && !m.pre)) s.lastReset = now();
    if (m.ch === 'voteResponse' && m.granted && !m.pre && s.role === 'CANDIDATE' && s.granted.childElementCount < 8) {
      const k = s.granted.childElementCount;
      el('circle', { class: 'vote-dot', r: 3.5, cx: -14 + k * 9, cy: 22, 'data-from': m.from }, s.granted);
    }
  }

  function frame() {
    const t = now();
    for (const d of dots) {
      const f = (t - d.start) / TRAVEL;
      if (f >= 1) {
        d.el.remove();
        dots.delete(d);
        arrive(d);
        continue;
      }
      d.el.setAttribute('cx', (d.from.x + (d.to.x - d.from.x) * f).toFixed(1));
      d.el.setAttribute('cy', (d.from.y + (d.to.y - d.from.y) * f).toFixed(1));
    }
    for (const s of servers.values()) {
      const running = s.role === 'FOLLOWER' || s.role === 'CANDIDATE';
      s.timer.setAttribute('d', running ? arc((t - s.lastReset) / timing.maximumElectionTime) : '');
    }
    svg.dataset.messages = String(dots.size);
    if (!paused) requestAnimationFrame(frame);
  }
  requestAnimationFrame(frame);

  function toggle() {
    paused = !paused;
    const b = document.getElementById('ring-pause');
    if (paused) {
      pausedAt = performance.now();
    } else {
      // resume where it stopped: shift every start by the pause
      const gap = performance.now() - pausedAt;
      for (const d of dots) d.start += gap;
      for (const s of servers.values()) s.lastReset += gap;
      requestAnimationFrame(frame);
      if (last) update(last);
    }
    svg.dataset.paused = String(paused);
    b.textContent = paused ? 'play' : 'pause';
    b.setAttribute('aria-pressed', String(paused));
  }

  return { update: (st) => (paused ? (last = st) : update(st)), message, toggle };
})();

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
    proc = e ? `down (${e.signal || `exit ${e.code}`}${e.reason ? `: ${e.reason}` : ''})` : 'down';
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
  // a node whose port another process holds cannot be restarted: say so instead of offering it
  $('.restart', el).disabled = busy || n.canRestart === false;
  $('.restart', el).title = n.canRestart === false
    ? `port ${n.port} is taken by another process: restart it once that one lets go`
    : 'start it again: it rejoins from its persisted file';
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
  // a leader hears from every follower each heartbeat; a follower hears from the leader only
  // (followers talk to each other only in elections): their silence is normal, not a fault
  const follower = n.role !== 'LEADER' && n.leader != null;
  for (const [peer, at] of peers) {
    const row = document.createElement('div');
    const isLeader = String(peer) === String(n.leader);
    const quiet = follower && !isLeader;
    row.className = `contact-row${quiet ? ' quiet' : ''}`;
    row.dataset.at = at;
    row.dataset.peer = peer;
    row.dataset.suffix = quiet ? ' (followers talk only in elections)' : '';
    row.textContent = `${peer}${isLeader ? ' (leader)' : ''}: ${ago(at)}${row.dataset.suffix}`;
    c.append(row);
  }
}

function tickAges() {
  for (const row of document.querySelectorAll('.contact-row')) {
    row.textContent = row.textContent.replace(/: .*$/, `: ${ago(Number(row.dataset.at))}${row.dataset.suffix || ''}`);
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
  ring.update(state);
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
source.addEventListener('msg', (e) => ring.message(JSON.parse(e.data)));
$('#ring-pause').addEventListener('click', () => ring.toggle());
setInterval(tickAges, 500);
