// redis.ts: the remote benchmark's Redis anchor: finds (or, as root, installs from
// Debian) redis-server and runs a private, persistence-free instance on loopback.
import { spawnSync } from 'node:child_process';
import {
  freePort,
  type ManagedProcess,
  type ProcessRegistry,
  startProcess,
} from '../../test/support/process.js';

/** RedisServer is a running redis-server started by {@link startRedis}. */
export interface RedisServer {
  /** RedisServer.port is its TCP port on 127.0.0.1. */
  readonly port: number;
  /** RedisServer.process is the running redis-server. */
  readonly process: ManagedProcess;
}

function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * ensureRedisServer returns undefined when `redis-server` is on the PATH, installing
 * it with `apt-get install -y redis-server` first when missing and running as root
 * (with RUNLEVEL=1 so the package does not start a system-wide service). Otherwise
 * it returns the reason it is unavailable.
 */
export function ensureRedisServer(): string | undefined {
  if (hasRedisServer()) return undefined;
  if (process.getuid?.() !== 0) return 'redis-server not installed and not root to apt-get it';
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', RUNLEVEL: '1' };
  const install = () =>
    spawnSync('apt-get', ['install', '-y', 'redis-server'], { env, stdio: 'ignore' }).status;
  if (install() !== 0) {
    spawnSync('apt-get', ['update'], { env, stdio: 'ignore' });
    if (install() !== 0) return 'apt-get install -y redis-server failed';
  }
  return hasRedisServer() ? undefined : 'redis-server still missing after apt-get install';
}

/**
 * startRedis runs redis-server on a free port of 127.0.0.1 without persistence
 * (`--save '' --appendonly no`) and resolves once it accepts connections.
 */
export async function startRedis(registry: ProcessRegistry): Promise<RedisServer> {
  const port = await freePort();
  const args = ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'];
  const proc = await startProcess('redis-server', args, {
    readyLine: /Ready to accept connections/,
    registry,
    timeoutMs: 10_000,
  });
  return { port, process: proc };
}
