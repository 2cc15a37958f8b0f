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
  return { demo, ports };
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

    await page.locator(`.card[data-port="${leader}"] button.kill`).click();

    // the killed node shows as down, another one as the (only) leader
    const nextHandle = await page.waitForFunction(
      (old) => {
        const dead = document.querySelector(`.card[data-port="${old}"]`);
        const leaders = [...document.querySelectorAll('.card')].filter((c) => c.dataset.role === 'LEADER');
        return dead.dataset.proc === 'down' && leaders.length === 1 && leaders[0].dataset.port !== old && leaders[0].dataset.port;
      },
      leader,
      { timeout: 30_000, polling: 100 },
    );
    const next = await nextHandle.jsonValue();
    assert.notEqual(next, leader);
    assert.match(await page.locator(`.card[data-port="${leader}"] .proc`).innerText(), /down \(SIGKILL\)/);

    // the timeline tells the story: the kill, then the new leader
    await page.waitForFunction(
      ([old, now]) => {
        const items = [...document.querySelectorAll('#timeline li')].map((li) => li.textContent).reverse();
        const k = items.findIndex((s) => s.includes(`kill -9 ${old}`));
        return k >= 0 && items.slice(k).some((s) => s.includes(`${now} became leader`));
      },
      [leader, next],
      { timeout: 10_000, polling: 100 },
    );

    // everything came over the one event stream: no polling from the page
    const calls = requests.filter((r) => !/^GET \/(|app\.js|style\.css|favicon\.ico)$/.test(r));
    assert.deepEqual(calls, ['GET /events', `POST /api/node/${leader}/kill`], `the page's requests: ${requests.join(', ')}`);
    assert.deepEqual(pageErrors, []);
  } catch (err) {
    t.diagnostic(`demo output:\n${demo.output()}`);
    throw err;
  } finally {
    if (context) await withTimeout(context.close(), 10_000);
    await stopDemo(demo);
  }
});
