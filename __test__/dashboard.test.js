'use strict';
// The live dashboard of `npm run demo`, driven in a real headless browser (Debian's Chromium,
// driven by playwright-core): open the page, wait for a leader on it, click kill -9 on the
// leader's card, and wait until the page shows that node down and another node as leader. The
// page must get all this from its one server-sent-events stream: besides loading itself it may
// only make the one POST the click makes (no polling).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { freePorts, tempDir, spawnLogged, withTimeout, ROOT } = require('./_helpers');

const CHROMIUM = '/usr/bin/chromium';
// where the screenshots go (the test prints their names)
const SHOTS = process.env.RAFTQ_SCREENSHOTS || path.join(require('node:os').tmpdir(), 'raftq-dashboard-screenshots');
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Start examples/demo.js in its own process group (so its nodes can be killed with it). */
async function startDemo(extraEnv = {}) {
  const [d, ...ports] = (await freePorts(5)).map(String);
  const demo = spawnLogged(process.execPath, [path.join(ROOT, 'examples', 'demo.js')], {
    env: {
      ...process.env,
      RAFTQ_PORTS: ports.join(','),
      RAFTQ_DASHBOARD_PORT: d,
      RAFTQ_DIR: tempDir('raftq-dash-test-'),
      RAFTQ_DEMO_FAILOVER: '0',
      ...extraEnv,
    },
    detached: true,
  });
  return { demo, ports: extraEnv.RAFTQ_PORTS ? extraEnv.RAFTQ_PORTS.split(',') : ports };
}

/** Stop the demo (its nodes with it), whatever state it is in. */
async function stopDemo(demo) {
  demo.kill('SIGTERM'); // the demo stops its nodes gracefully...
  await withTimeout(demo.exited, 5000);
  try {
    process.kill(-demo.child.pid, 'SIGKILL'); // ...and whatever is left of its group goes now
  } catch {
    /* the group is gone already */
  }
}

test('dashboard: the page shows a leader, kill -9 on its card, the page shows another leader', { timeout: 150_000 }, async (t) => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing (apt-get install chromium; .ci/run does it)`);
  const { chromium } = require('playwright-core');

  const { demo, ports } = await startDemo();
  let context = null;
  try {
    const first = await demo.waitForLine(/.*/, 20_000);
    const m = first.text.match(/^dashboard: (http:\/\/127\.0\.0\.1:\d+\/)$/);
    assert.ok(m, `the first line is the page's URL: ${first.text}`);
    const url = m[1];

    context = await chromium.launchPersistentContext(tempDir('raftq-dash-chromium-'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
    });
    const page = context.pages()[0] || (await context.newPage());
    const requests = [];
    page.on('request', (r) => requests.push(`${r.method()} ${new URL(r.url()).pathname}`));
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(url);

    // a leader on the page: exactly one card says LEADER, and the summary names it
    const leaderHandle = await page.waitForFunction(
      (n) => {
        const cards = [...document.querySelectorAll('.card')];
        const leaders = cards.filter((c) => c.dataset.role === 'LEADER');
        const summary = document.querySelector('#summary').dataset.leader;
        return cards.length === n && leaders.length === 1 && summary === leaders[0].dataset.port && leaders[0].dataset.port;
      },
      ports.length,
      { timeout: 30_000, polling: 100 },
    );
    const leader = await leaderHandle.jsonValue();
    assert.ok(ports.includes(leader), `the leader ${leader} is one of ${ports}`);
    assert.match(await page.locator(`.card[data-port="${leader}"] .term`).innerText(), /^\d+$/);

    // the ring: one server per node, the leader marked, messages moving, followers' timers
    const ringNow = () =>
      page.evaluate(() => {
        const svg = document.querySelector('#ring');
        const servers = [...svg.querySelectorAll('g.server')];
        return {
          servers: servers.map((g) => ({ port: g.dataset.port, cls: g.getAttribute('class'), term: g.querySelector('.term-label').textContent })),
          leaders: servers.filter((g) => g.classList.contains('LEADER')).map((g) => g.dataset.port),
          msgs: svg.querySelectorAll('circle.msg').length,
          timers: [...svg.querySelectorAll('path.timer')].filter((p) => (p.getAttribute('d') || '').startsWith('M')).length,
          paused: svg.dataset.paused,
        };
      });
    await page.waitForFunction(
      (n) => {
        const l = document.querySelector('#summary').dataset.leader;
        const svg = document.querySelector('#ring');
        const leaders = [...svg.querySelectorAll('g.server.LEADER')];
        const timers = [...svg.querySelectorAll('path.timer')].filter((p) => (p.getAttribute('d') || '').startsWith('M'));
        return svg.querySelectorAll('g.server').length === n && leaders.length === 1 && leaders[0].dataset.port === l &&
          svg.querySelectorAll('circle.msg.syncData').length > 0 && svg.querySelectorAll('circle.msg.dataResponse').length > 0 && timers.length >= 1;
      },
      ports.length,
      { timeout: 10_000, polling: 50 },
    );
    // (checked inside the wait above: on a loaded machine the leader may change right after)
    const before = await ringNow();
    assert.equal(before.servers.length, ports.length);
    assert.ok(before.servers.every((s) => /^(term \d+|down|…)$/.test(s.term)), JSON.stringify(before));

    // a follower hears only the leader: the other followers' silence is shown as normal
    await page.waitForFunction(
      () => {
        const l = document.querySelector('#summary').dataset.leader;
        const cards = [...document.querySelectorAll('.card')].filter((c) => c.dataset.role === 'FOLLOWER');
        return cards.length > 0 && cards.every((c) => {
          const rows = [...c.querySelectorAll('.contact-row')];
          const lead = rows.find((r) => r.dataset.peer === l);
          const others = rows.filter((r) => r.dataset.peer !== l);
          return lead && !lead.classList.contains('quiet') && others.every((r) => r.classList.contains('quiet') && /followers talk only in elections/.test(r.textContent));
        });
      },
      null,
      { timeout: 30_000, polling: 100 },
    );

    // pause freezes the picture (the dots stay where they are), play resumes it
    await page.locator('#ring-pause').click();
    const frozen = await page.evaluate(() => [...document.querySelectorAll('#ring circle.msg')].map((c) => `${c.getAttribute('cx')},${c.getAttribute('cy')}`).join(' '));
    await page.waitForTimeout(400);
    const still = await page.evaluate(() => ({ paused: document.querySelector('#ring').dataset.paused, dots: [...document.querySelectorAll('#ring circle.msg')].map((c) => `${c.getAttribute('cx')},${c.getAttribute('cy')}`).join(' '), label: document.querySelector('#ring-pause').textContent }));
    assert.deepEqual(still, { paused: 'true', dots: frozen, label: 'play' });
    await page.locator('#ring-pause').click();
    assert.equal((await ringNow()).paused, 'false');

    fs.mkdirSync(SHOTS, { recursive: true });
    const shot = async (name) => {
      const file = path.join(SHOTS, name);
      await page.screenshot({ path: file, fullPage: true });
      t.diagnostic(`screenshot: ${file}`);
      return file;
    };
    await shot('1-leader.png');

    // the leader now (it may have changed while the checks above ran, on a loaded machine)
    const victim = await (await page.waitForFunction(() => document.querySelector('#summary').dataset.leader, null, { timeout: 30_000, polling: 50 })).jsonValue();
    const termAtKill = await page.evaluate((v) => Number(document.querySelector(`#ring g.server[data-port="${v}"] .term-label`).textContent.replace('term ', '')), victim);
    assert.ok(termAtKill >= 1, `the leader's term label: ${termAtKill}`);
    await page.locator(`.card[data-port="${victim}"] button.kill`).click();

    // during the failover: the dead server drawn down, vote requests on their way
    await page.waitForFunction(
      (old) => {
        const svg = document.querySelector('#ring');
        const dead = svg.querySelector(`g.server[data-port="${old}"]`);
        // an election under way: vote requests on their way (or a candidate, if the dots are between frames)
        return dead.classList.contains('DOWN') && (svg.querySelectorAll('circle.msg.voteRequest').length > 0 || svg.querySelector('g.server.CANDIDATE'));
      },
      victim,
      { timeout: 30_000, polling: 20 },
    );
    await shot('2-failover-votes.png');

    // the killed node shows as down, another one as the (only) leader
    const nextHandle = await page.waitForFunction(
      (old) => {
        const dead = document.querySelector(`.card[data-port="${old}"]`);
        const leaders = [...document.querySelectorAll('.card')].filter((c) => c.dataset.role === 'LEADER');
        return dead.dataset.proc === 'down' && leaders.length === 1 && leaders[0].dataset.port !== old && leaders[0].dataset.port;
      },
      victim,
      { timeout: 30_000, polling: 100 },
    );
    const next = await nextHandle.jsonValue();
    assert.notEqual(next, victim);
    assert.match(await page.locator(`.card[data-port="${victim}"] .proc`).innerText(), /down \(SIGKILL\)/);

    // the ring agrees: the new leader marked, its term label past the old one
    await page.waitForFunction(
      ([n, tb]) => {
        const g = [...document.querySelectorAll('#ring g.server.LEADER')];
        return g.length === 1 && g[0].dataset.port === n && Number(g[0].querySelector('.term-label').textContent.replace('term ', '')) > tb;
      },
      [next, termAtKill],
      { timeout: 10_000, polling: 50 },
    );
    await shot('3-new-leader.png');

    // a narrow screen (420 px): nothing sticks out sideways, the write box included
    await page.setViewportSize({ width: 420, height: 900 });
    await page.waitForTimeout(200);
    const narrow = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      width: window.innerWidth,
      write: Math.ceil(document.querySelector('#write-value').getBoundingClientRect().right),
      button: Math.ceil(document.querySelector('#write-button').getBoundingClientRect().right),
      ring: Math.ceil(document.querySelector('#ring').getBoundingClientRect().right),
    }));
    assert.ok(narrow.scroll <= narrow.width && narrow.write <= narrow.width && narrow.button <= narrow.width && narrow.ring <= narrow.width, `420 px layout: ${JSON.stringify(narrow)}`);
    await shot('4-narrow-420px.png');

    // the timeline tells the story: the kill, then the new leader
    await page.waitForFunction(
      ([old, now]) => {
        const items = [...document.querySelectorAll('#timeline li')].map((li) => li.textContent).reverse();
        const k = items.findIndex((s) => s.includes(`kill -9 ${old}`));
        return k >= 0 && items.slice(k).some((s) => s.includes(`${now} became leader`));
      },
      [victim, next],
      { timeout: 10_000, polling: 100 },
    );

    // everything came over the one event stream: no polling from the page
    const calls = requests.filter((r) => !/^GET \/(|app\.js|style\.css|favicon\.ico)$/.test(r));
    assert.deepEqual(calls, ['GET /events', `POST /api/node/${victim}/kill`], `the page's requests: ${requests.join(', ')}`);
    assert.deepEqual(pageErrors, []);
  } catch (err) {
    t.diagnostic(`demo output:\n${demo.output()}`);
    throw err;
  } finally {
    if (context) await withTimeout(context.close(), 10_000);
    await stopDemo(demo);
  }
});

test('dashboard: a node whose port another process holds shows why on its card; restart is not offered until the port is free, then works', { timeout: 150_000 }, async (t) => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing (apt-get install chromium; .ci/run does it)`);
  const { chromium } = require('playwright-core');
  const http = require('node:http');
  const fixed = (await freePorts(4)).map(String);
  const taken = fixed[2];
  const foreign = http.createServer((req, res) => res.end('{}'));
  await new Promise((r) => foreign.listen(Number(taken), '127.0.0.1', r));
  let foreignOpen = true;
  const { demo } = await startDemo({ RAFTQ_PORTS: fixed.join(',') });
  let context = null;
  try {
    const first = await demo.waitForLine(/.*/, 20_000);
    const url = first.text.match(/^dashboard: (http:\/\/127\.0\.0\.1:\d+\/)$/)[1];
    context = await chromium.launchPersistentContext(tempDir('raftq-dash-chromium-'), { executablePath: CHROMIUM, headless: true, args: ARGS });
    const page = context.pages()[0] || (await context.newPage());
    await page.goto(url);
    const card = `.card[data-port="${taken}"]`;
    await page.waitForFunction(
      (sel) => {
        const c = document.querySelector(sel);
        return c && c.dataset.proc === 'down' && /EADDRINUSE/.test(c.querySelector('.proc').textContent) && c.querySelector('button.restart').disabled;
      },
      card,
      { timeout: 30_000, polling: 100 },
    );
    assert.match(await page.locator(`${card} .proc`).innerText(), new RegExp(`down \\(exit 1: cannot listen on 127\\.0\\.0\\.1:${taken}: EADDRINUSE\\)`));
    assert.match(await page.locator(`${card} button.restart`).getAttribute('title'), /taken by another process/);
    assert.match(demo.output(), new RegExp(`${taken} exited \\(code 1\\): cannot listen on 127\\.0\\.0\\.1:${taken}: EADDRINUSE`), 'the terminal says why too');
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, '5-port-taken.png'), fullPage: true });
    t.diagnostic(`screenshot: ${path.join(SHOTS, '5-port-taken.png')}`);

    // the other process lets go: restart is offered again, and works
    await new Promise((r) => {
      foreign.close(r);
      foreign.closeAllConnections(); // the demo's nodes keep connections to it alive
    });
    foreignOpen = false;
    await page.waitForFunction((sel) => !document.querySelector(`${sel} button.restart`).disabled, card, { timeout: 15_000, polling: 100 });
    await page.locator(`${card} button.restart`).click();
    await page.waitForFunction((sel) => ['FOLLOWER', 'LEADER'].includes(document.querySelector(sel).dataset.role), card, { timeout: 30_000, polling: 100 });
  } catch (err) {
    t.diagnostic(`demo output:\n${demo.output()}`);
    throw err;
  } finally {
    if (context) await withTimeout(context.close(), 10_000);
    await stopDemo(demo);
    if (foreignOpen) {
      foreign.close();
      foreign.closeAllConnections();
    }
  }
});
