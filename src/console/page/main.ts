// main.ts: the console page: polls its API server once a second and renders the cluster,
// the groups with live charts, the hot keys and the key inspector.
import type { ClusterView, KeyView, MemberView } from '../../api/console.js';
import type { GroupReport } from '../../core/node-stats.js';
import * as api from './api.js';
import { LiveChart } from './chart.js';
import * as fmt from './format.js';
import { History } from './history.js';
import './style.css';

const POLL_MS = 1_000;

/** $ finds an element of the page by id. */
function $<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`no #${id}`);
  return el as T;
}

/** el makes an element with text and attributes; text is never parsed as HTML. */
function el(tag: string, text = '', attrs: Record<string, string> = {}): HTMLElement {
  const e = document.createElement(tag);
  e.textContent = text;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function row(
  cells: (string | HTMLElement)[],
  attrs: Record<string, string> = {},
): HTMLTableRowElement {
  const tr = el('tr', '', attrs) as HTMLTableRowElement;
  cells.forEach((c, i) => {
    const cell = typeof c === 'string' ? el(i === 0 ? 'th' : 'td', c) : c;
    if (i === 0 && cell.tagName === 'TH') cell.setAttribute('scope', 'row');
    tr.append(cell);
  });
  return tr;
}

const history = new History();
let charts: { gets: LiveChart; ratio: LiveChart } | undefined;
let last: ClusterView | undefined;
let timer: number | undefined;

function showLogin(message = ''): void {
  $('data').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message;
  $('node-line').textContent = 'sign in to see the cluster';
  $<HTMLInputElement>('token').focus();
}

function status(text: string, bad = false): void {
  const s = $('status');
  s.textContent = text;
  s.className = bad ? 'error' : 'muted';
}

async function poll(): Promise<void> {
  try {
    const view = await api.cluster();
    last = view;
    $('login').hidden = true;
    $('data').hidden = false;
    render(view);
    status(`updated ${new Date(view.now).toLocaleTimeString()}`);
  } catch (err) {
    if (err instanceof api.Unauthorized) {
      stop();
      showLogin(api.token() === null ? '' : 'That token was refused.');
      return;
    }
    status(`cannot reach the API: ${(err as Error).message}`, true);
  }
  timer = window.setTimeout(() => void poll(), POLL_MS);
}

function stop(): void {
  if (timer !== undefined) window.clearTimeout(timer);
  timer = undefined;
}

function healthOf(m: MemberView): { text: string; cls: string; state: string } {
  if (m.noStats) return { text: 'Go groupcache peer, no stats', cls: 'warn', state: 'nostats' };
  if (!m.answering) return { text: 'not answering', cls: 'bad', state: 'down' };
  if (!m.ringHealthy)
    return { text: 'answering (avoided by the ring)', cls: 'warn', state: 'avoided' };
  return { text: 'answering', cls: 'ok', state: 'up' };
}

function render(view: ClusterView): void {
  const role = view.member ? 'member' : 'client-only gateway';
  $('node-line').textContent = `${view.self} · ${role} · transport ${view.transport}`;
  $('membership').textContent =
    `Membership: ${view.source}, last changed ${new Date(view.updatedAt).toLocaleString()}`;
  renderMembers(view);
  renderGroupSelect(view);
  renderGroup(view);
}

function renderMembers(view: ClusterView): void {
  const body = $('members');
  body.replaceChildren();
  let total = 0;
  for (const m of view.members) {
    total += m.share;
    const h = healthOf(m);
    const health = el('td', h.text, { class: h.cls, 'data-testid': 'health' });
    const share = el('td', fmt.percent(m.share), { class: 'num', 'data-share': String(m.share) });
    const name = el('th', m.self ? `${m.url} (this node)` : m.url, { scope: 'row' });
    const uptime = m.stats === undefined ? '–' : fmt.duration(m.stats.now - m.stats.startedAt);
    body.append(
      row([name, health, share, m.stats?.version ?? '–', uptime, m.error ?? ''], {
        'data-testid': 'member',
        'data-url': m.url,
        'data-health': h.state,
      }),
    );
  }
  $('share-total').textContent = fmt.percent(total);
  $('share-total').dataset.share = String(total);
}

function groupNames(view: ClusterView): string[] {
  const names = new Set<string>();
  for (const m of view.members) for (const g of Object.keys(m.stats?.groups ?? {})) names.add(g);
  return [...names].sort();
}

function renderGroupSelect(view: ClusterView): void {
  const select = $<HTMLSelectElement>('group');
  const names = groupNames(view);
  const have = [...select.options].map((o) => o.value);
  if (have.join('\u0000') === names.join('\u0000')) return;
  const chosen = select.value;
  select.replaceChildren(...names.map((n) => el('option', n, { value: n })));
  if (names.includes(chosen)) select.value = chosen;
}

function num(text: string, testid?: string): HTMLElement {
  return el('td', text, {
    class: 'num',
    ...(testid === undefined ? {} : { 'data-testid': testid }),
  });
}

function renderGroup(view: ClusterView): void {
  const group = $<HTMLSelectElement>('group').value;
  const body = $('group-rows');
  body.replaceChildren();
  const sum = {
    gets: 0,
    hits: 0,
    loads: 0,
    local: 0,
    peer: 0,
    errors: 0,
    main: 0,
    hot: 0,
    budget: 0,
    items: 0,
    evictions: 0,
  };
  let getsRate: number | null = null;
  let loadsRate: number | null = null;
  const hot = new Map<string, { total: number; by: string[] }>();
  /** The slowest node's peer-get p50 and p99: the cluster row's (quantiles do not add up). */
  const slowest: (number | undefined)[] = [undefined, undefined];
  for (const m of view.members) {
    const g: GroupReport | undefined = m.stats?.groups[group];
    if (m.stats === undefined || g === undefined) {
      body.append(
        row([
          m.url,
          num('–'),
          num('–'),
          num('–'),
          num('–'),
          num('–'),
          num('–'),
          num('–'),
          num('–'),
          num('–'),
          num('–'),
          num('–'),
        ]),
      );
      continue;
    }
    const r = history.rates(m.url, group, m.stats);
    if (r.gets !== null) getsRate = (getsRate ?? 0) + r.gets;
    if (r.loads !== null) loadsRate = (loadsRate ?? 0) + r.loads;
    const s = g.stats;
    sum.gets += s.gets;
    sum.hits += s.cacheHits;
    sum.loads += s.loads;
    sum.local += s.localLoads;
    sum.peer += s.peerLoads;
    sum.errors += s.peerErrors;
    sum.main += g.main.bytes;
    sum.hot += g.hot.bytes;
    sum.budget += g.cacheBytes;
    sum.items += g.main.items + g.hot.items;
    sum.evictions += g.main.evictions + g.hot.evictions;
    // This group's gets from peers on this node (a node before the per-group figure: all groups').
    const latency = g.peerGets ?? m.stats.peerGets;
    body.append(
      row([
        m.url,
        num(fmt.rate(r.gets)),
        num(fmt.percent(s.gets === 0 ? null : s.cacheHits / s.gets)),
        num(fmt.rate(r.loads)),
        num(fmt.count(s.gets)),
        num(fmt.count(s.localLoads)),
        num(fmt.count(s.peerLoads)),
        num(fmt.count(s.peerErrors)),
        num(`${fmt.bytes(g.main.bytes)} / ${fmt.bytes(g.cacheBytes)}`),
        num(fmt.bytes(g.hot.bytes)),
        num(fmt.count(g.main.items + g.hot.items)),
        num(fmt.count(g.main.evictions + g.hot.evictions)),
        num(fmt.ms(latency?.p50Ms ?? null)),
        num(fmt.ms(latency?.p99Ms ?? null)),
      ]),
    );
    for (const [i, v] of [latency?.p50Ms, latency?.p99Ms].entries()) {
      if (typeof v === 'number') slowest[i] = Math.max(slowest[i] ?? 0, v);
    }
    const name = m.url.replace(/^https?:\/\//, '');
    for (const k of g.hotKeys) {
      const h = hot.get(k.key) ?? { total: 0, by: [] };
      h.total += k.count;
      h.by.push(`${name}: ${fmt.count(k.count)}`);
      hot.set(k.key, h);
    }
  }
  const ratio = sum.gets === 0 ? null : sum.hits / sum.gets;
  body.append(
    row(
      [
        'Cluster',
        num(fmt.rate(getsRate), 'cluster-gets-rate'),
        num(fmt.percent(ratio), 'cluster-ratio'),
        num(fmt.rate(loadsRate)),
        num(fmt.count(sum.gets), 'cluster-gets'),
        num(fmt.count(sum.local)),
        num(fmt.count(sum.peer)),
        num(fmt.count(sum.errors)),
        num(`${fmt.bytes(sum.main)} / ${fmt.bytes(sum.budget)}`),
        num(fmt.bytes(sum.hot)),
        num(fmt.count(sum.items)),
        num(fmt.count(sum.evictions)),
        num(fmt.ms(slowest[0] ?? null)),
        num(fmt.ms(slowest[1] ?? null)),
      ],
      { class: 'total' },
    ),
  );
  history.record(group, view.now, getsRate, ratio);
  charts ??= {
    gets: new LiveChart($('chart-gets'), 'gets/s', (v) => fmt.rate(v)),
    ratio: new LiveChart($('chart-ratio'), 'hit ratio', (v) => fmt.percent(v, 0), [0, 1]),
  };
  const [t, gets, ratios] = history.samples(group);
  charts.gets.set(t, gets);
  charts.ratio.set(t, ratios);
  const hotRows = $('hot-rows');
  hotRows.replaceChildren(
    ...[...hot.entries()]
      .sort((a, b) => b[1].total - a[1].total)
      .slice(0, 20)
      .map(([key, h]) =>
        row([key, num(fmt.count(h.total)), h.by.join(', ')], { 'data-testid': 'hot-key' }),
      ),
  );
  if (hotRows.childElementCount === 0) hotRows.append(row(['no gets in the last minute', '', '']));
}

function held(k: KeyView['members'][number]['key']): string {
  if (k === undefined) return '–';
  if (!k.exists) return 'no such group';
  const parts: string[] = [];
  if (k.main !== undefined) parts.push('main');
  if (k.hot !== undefined) parts.push('hot');
  if (k.notFound) parts.push('cached not-found');
  return parts.length === 0 ? 'not held' : parts.join(' + ');
}

function ttl(expireAt: number | undefined, now: number): string {
  if (expireAt === undefined) return '–';
  if (expireAt === 0) return 'never expires';
  return fmt.duration(expireAt - now);
}

async function inspectKey(): Promise<void> {
  const key = $<HTMLInputElement>('key').value;
  if (key === '') return;
  const group = $<HTMLSelectElement>('group').value;
  const out = $('key-result');
  try {
    const view = await api.inspect(group, key);
    const now = Date.now();
    const owner = el('p', '');
    owner.append('Owner on the ring: ', el('strong', view.owner, { 'data-testid': 'owner' }));
    const table = el('table', '', { 'data-testid': 'key-members' });
    table.append(el('caption', `Copies of ${key} in ${view.group}`, { class: 'sr' }));
    const head = el('thead');
    head.append(
      row(['Member', 'Holds', 'Size', 'TTL left'].map((h) => el('th', h, { scope: 'col' }))),
    );
    const body = el('tbody');
    let previewB64: string | undefined;
    for (const m of view.members) {
      const copy = m.key?.main ?? m.key?.hot;
      previewB64 ??= m.key?.preview;
      body.append(
        row(
          [
            m.url === view.owner ? `${m.url} (owner)` : m.url,
            el('td', m.answering ? held(m.key) : `not answering: ${m.error ?? ''}`, {
              'data-testid': 'held',
            }),
            num(copy === undefined ? '–' : fmt.bytes(copy.bytes)),
            el('td', ttl(copy?.expireAt, now)),
          ],
          { 'data-testid': 'key-member', 'data-url': m.url },
        ),
      );
    }
    table.append(head, body);
    const parts: HTMLElement[] = [owner, el('div', '', { class: 'scroll' })];
    parts[1]?.append(table);
    if (previewB64 !== undefined) {
      const p = fmt.preview(previewB64);
      parts.push(
        el('h3', p.kind === 'text' ? 'Value (UTF-8, first 4 KiB)' : 'Value (hex, first 4 KiB)'),
      );
      parts.push(el('pre', p.text, { 'data-testid': 'preview' }));
    }
    out.replaceChildren(...parts);
  } catch (err) {
    if (err instanceof api.Unauthorized) return showLogin('That token was refused.');
    out.replaceChildren(el('p', (err as Error).message, { class: 'error', role: 'alert' }));
  }
}

async function keyAction(action: 'load' | 'remove'): Promise<void> {
  const key = $<HTMLInputElement>('key').value;
  if (key === '') {
    $<HTMLInputElement>('key').reportValidity();
    return;
  }
  const group = $<HTMLSelectElement>('group').value;
  try {
    if (action === 'load') {
      const n = await api.load(group, key);
      status(`loaded ${key}: ${fmt.bytes(n)}`);
    } else {
      await api.remove(group, key);
      status(`removed ${key} everywhere`);
    }
  } catch (err) {
    if (err instanceof api.Unauthorized) return showLogin('That token was refused.');
    status(`${action} ${key} failed: ${(err as Error).message}`, true);
  }
  await inspectKey();
}

function start(): void {
  $('login').addEventListener('submit', (e) => {
    e.preventDefault();
    api.setToken($<HTMLInputElement>('token').value);
    $<HTMLInputElement>('token').value = '';
    stop();
    void poll();
  });
  $('inspect').addEventListener('submit', (e) => {
    e.preventDefault();
    void inspectKey();
  });
  $('load').addEventListener('click', () => void keyAction('load'));
  $('remove').addEventListener('click', () => void keyAction('remove'));
  $('group').addEventListener('change', () => {
    if (last !== undefined) renderGroup(last);
  });
  void poll();
}

start();
