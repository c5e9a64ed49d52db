// api.ts: how the page talks to its own API server: JSON reads and key calls, with the
// API token (kept in the tab's sessionStorage, sent as a bearer header, never in a URL).
import type { ClusterView, KeyView } from '../../api/console.js';

const TOKEN_KEY = 'peercache-api-token';

/** Unauthorized is thrown when the API wants a token the page does not have (or a wrong one). */
export class Unauthorized extends Error {}

/** token is the token kept for this tab, if any. */
export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** setToken keeps `value` for this tab. */
export function setToken(value: string): void {
  sessionStorage.setItem(TOKEN_KEY, value);
}

/** clearToken forgets the tab's token. */
export function clearToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

function headers(): HeadersInit {
  const t = token();
  return t === null ? {} : { Authorization: `Bearer ${t}` };
}

/** call makes one request to the API; a 401 is {@link Unauthorized}, another failure an Error with the answer's text. */
async function call(path: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(path, { ...init, headers: headers(), cache: 'no-store' });
  if (res.status === 401) throw new Unauthorized('the API token is missing or wrong');
  if (!res.ok) throw new Error(`${res.status}: ${(await res.text()).trim()}`);
  return res;
}

/** cluster reads the cluster view. */
export async function cluster(): Promise<ClusterView> {
  return (await call('api/cluster')).json() as Promise<ClusterView>;
}

function query(group: string, key: string): string {
  const q = new URLSearchParams({ key });
  if (group !== '') q.set('group', group);
  return q.toString();
}

/** inspect reads what every member holds of `key`. */
export async function inspect(group: string, key: string): Promise<KeyView> {
  return (await call(`api/key?${query(group, key)}`)).json() as Promise<KeyView>;
}

/** load gets `key` through the API (loading it if needed) and returns its size in bytes. */
export async function load(group: string, key: string): Promise<number> {
  const res = await call(`../api?${query(group, key)}`);
  return (await res.arrayBuffer()).byteLength;
}

/** remove removes `key` everywhere through the API. */
export async function remove(group: string, key: string): Promise<void> {
  await call(`../api?${query(group, key)}`, { method: 'DELETE' });
}
