// console.test.ts: the web console in a real browser (Debian's chromium) against a real
// 3-node CLI cluster with the demo loader: members and ring shares, live counters and
// charts, the key inspector, remove, the API token gate, and a member killed with SIGKILL.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { buildConsole } from '../../scripts/build-console.js';
import type { ClusterView, KeyView } from '../../src/api/console.js';
import { createRing, type RingKind } from '../../src/ring/owner-ring.js';
import { CLI_ARGS, REPO_ROOT } from '../support/cli.js';
import {
  cleanupAfter,
  freePorts,
  type ManagedProcess,
  startProcess,
  waitFor,
} from '../support/process.js';
import { type Browser, launchBrowser } from './browser.js';

/** startNode runs `peercache node` with the demo loader (no --loader) and its API. */
async function startNode(
  self: string,
  api: string,
  peers: string[],
  registry: ReturnType<typeof cleanupAfter>,
  extra: string[] = [],
): Promise<ManagedProcess> {
  const args = ['node', '--self', self, '--api', api, '--log-level', 'warn', ...extra];
  if (peers.length > 0) args.push('--peers', peers.join(','));
  return startProcess(process.execPath, [...CLI_ARGS, ...args], {
    cwd: REPO_ROOT,
    readyLine: `ready ${self}`,
    timeoutMs: 60_000,
    registry,
  });
}

async function json<T>(url: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(url, init);
  assert.equal(res.status, 200, `${url}: ${res.status}`);
  return (await res.json()) as T;
}

const DEMO_KEYS = ['Tom', 'Jack', 'Sam'];

/**
 * until polls the page's state (read through playwright locators) until `check`
 * holds; the page's own CSP forbids the string-evaluated waitForFunction.
 */
function until(check: () => Promise<boolean>, message: string): Promise<boolean> {
  return waitFor(check, { timeoutMs: 15_000, intervalMs: 50, message });
}

describe('web console in chromium', { timeout: 180_000 }, () => {
  const registry = cleanupAfter();
  let browser: Browser;
  let page: Page;
  let urls: string[];
  let apis: string[];
  const nodes: ManagedProcess[] = [];

  before(async () => {
    await buildConsole();
    const ports = await freePorts(6);
    urls = ports.slice(0, 3).map((p) => `http://127.0.0.1:${p}`);
    apis = ports.slice(3).map((p) => `127.0.0.1:${p}`);
    nodes.push(
      ...(await Promise.all(
        urls.map((self, i) => startNode(self, apis[i] as string, urls, registry)),
      )),
    );
    browser = await launchBrowser();
    page = await browser.context.newPage();
    await page.goto(`http://${apis[0]}/console/`);
  });
  after(async () => {
    await browser?.close();
  });

  it('lists the 3 members, answering, with ring shares that sum to 100%', async () => {
    const rows = page.getByTestId('member');
    await rows.nth(2).waitFor();
    assert.equal(await rows.count(), 3);
    assert.deepEqual(
      (await rows.evaluateAll((r) => r.map((e) => e.getAttribute('data-url')))).sort(),
      [...urls].sort(),
    );
    for (const url of urls) await page.locator(`[data-url="${url}"][data-health="up"]`).waitFor();
    const shares = await page
      .locator('[data-testid="member"] [data-share]')
      .evaluateAll((cells) => cells.map((c) => Number(c.getAttribute('data-share'))));
    assert.equal(shares.length, 3);
    for (const s of shares) assert.ok(s > 0.1 && s < 0.6, `share ${s}`);
    assert.ok(Math.abs(shares.reduce((a, b) => a + b, 0) - 1) < 1e-9);
    assert.equal(await page.getByTestId('share-total').textContent(), '100.0%');
  });

  it('after 1,000 gets through the API the counters and hit ratio move and the chart has points', async () => {
    const before = await json<ClusterView>(`http://${apis[0]}/console/api/cluster`);
    const getsBefore = before.members.reduce(
      (n, m) => n + (m.stats?.groups.scores?.stats.gets ?? 0),
      0,
    );
    for (let i = 0; i < 1000; i++) {
      const key = DEMO_KEYS[i % DEMO_KEYS.length] as string;
      const res = await fetch(`http://${apis[i % 3]}/api?key=${key}`);
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    // The page polls once a second: wait (with playwright's auto-waiting) until it shows them.
    const shown = page.getByTestId('cluster-gets');
    await until(
      async () => Number((await shown.textContent())?.replaceAll(',', '')) >= getsBefore + 1000,
      'the page shows the 1,000 gets',
    );
    const ratio = await page.getByTestId('cluster-ratio').textContent();
    assert.match(ratio ?? '', /^\d+\.\d%$/);
    assert.ok(Number.parseFloat(ratio ?? '0') > 90, `hit ratio ${ratio}: repeated keys are hits`);
    const chart = page.getByTestId('chart-gets');
    await until(
      async () => Number(await chart.getAttribute('data-points')) >= 2,
      'the chart has points',
    );
    assert.ok((await page.locator('[data-testid="chart-gets"] canvas').count()) >= 1);
    // The hot keys are the demo keys.
    const hot = await page.getByTestId('hot-key').locator('th').allTextContents();
    assert.deepEqual(hot.slice(0, 3).sort(), [...DEMO_KEYS].sort());
  });

  it('the key inspector names the owner that /peers and the ring name', async () => {
    const peers = await json<{ peers: string[]; ring: RingKind }>(`http://${apis[0]}/peers`);
    // The cluster's own ring kind (the CLI's default for its transport).
    const ring = createRing({ kind: peers.ring });
    ring.set(peers.peers);
    await page.getByLabel('Key', { exact: true }).fill('Tom');
    await page.getByTestId('inspect').click();
    const owner = page.getByTestId('owner');
    await owner.waitFor();
    assert.equal(await owner.textContent(), ring.get('Tom'));
    const ownerRow = page.locator(`[data-testid="key-member"][data-url="${ring.get('Tom')}"]`);
    assert.match((await ownerRow.getByTestId('held').textContent()) ?? '', /main/);
    assert.equal(await page.getByTestId('preview').textContent(), '630');
  });

  it('remove empties the key everywhere', async () => {
    await page.getByTestId('remove').click();
    const held = page.locator('[data-testid="key-member"] [data-testid="held"]');
    await until(async () => {
      const cells = await held.allTextContents();
      return cells.length === 3 && cells.every((c) => c === 'not held');
    }, 'no member holds the key');
    const view = await json<KeyView>(`http://${apis[1]}/console/api/key?key=Tom`);
    for (const m of view.members) {
      assert.equal(m.key?.main, undefined, `${m.url} main`);
      assert.equal(m.key?.hot, undefined, `${m.url} hot`);
    }
  });

  it('reads on a phone-sized screen, light or dark, and works from the keyboard', async () => {
    const phone = await browser.context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`http://${apis[0]}/console/`);
    await phone.getByTestId('member').nth(2).waitFor();
    const overflow = await phone.evaluate<number>(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth',
    );
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
    // Light and dark follow the system's preference.
    const background = () =>
      phone.evaluate<string>('getComputedStyle(document.body).backgroundColor');
    await phone.emulateMedia({ colorScheme: 'light' });
    const light = await background();
    await phone.emulateMedia({ colorScheme: 'dark' });
    const dark = await background();
    assert.equal(light, 'rgb(246, 247, 249)');
    assert.equal(dark, 'rgb(13, 17, 23)');
    // Keyboard: the key field is reachable by Tab and Enter inspects the key.
    await phone.getByTestId('key').focus();
    await phone.keyboard.type('Jack');
    await phone.keyboard.press('Enter');
    await phone.getByTestId('owner').waitFor();
    await phone.close();
  });

  it('shows a member killed with SIGKILL as not answering within 5 s', async () => {
    const victim = urls[2] as string;
    await nodes[2]?.kill();
    await page
      .locator(`[data-testid="member"][data-url="${victim}"][data-health="down"]`)
      .waitFor({ timeout: 5_000 });
    for (const url of urls.slice(0, 2)) {
      const row = page.locator(`[data-testid="member"][data-url="${url}"]`);
      assert.equal(await row.getAttribute('data-health'), 'up');
    }
  });

  it('with --api-token, shows no data until the token is entered', async () => {
    const [peerPort, apiPort] = await freePorts(2);
    const api = `127.0.0.1:${apiPort}`;
    const self = `http://127.0.0.1:${peerPort}`;
    await startNode(self, api, [], registry, ['--api-token', 'sesame-42']);
    const gated = await browser.context.newPage();
    await gated.goto(`http://${api}/console/`);
    await gated.getByTestId('login').waitFor();
    assert.equal(await gated.locator('#data').isVisible(), false);
    assert.equal(await gated.getByTestId('member').count(), 0);
    assert.equal((await fetch(`http://${api}/console/api/cluster`)).status, 401);
    // A wrong token is refused, and still shows nothing.
    await gated.getByLabel('Token').fill('wrong');
    await gated.getByLabel('Token').press('Enter');
    await gated.getByText('That token was refused.').waitFor();
    assert.equal(await gated.getByTestId('member').count(), 0);
    await gated.getByLabel('Token').fill('sesame-42');
    await gated.getByRole('button', { name: 'Sign in' }).click();
    await gated.locator(`[data-testid="member"][data-url="${self}"]`).waitFor();
    // The token stays out of every URL the page used.
    assert.ok(!gated.url().includes('sesame'));
    await gated.close();
  });
});
