// limits-testing.ts: test helpers for server limits: raw client sockets and a logger that records.
import { connect, type Socket } from 'node:net';
import type { Logger } from '../core/logger.js';

/** RawClient is a plain TCP connection to a server under test. */
export interface RawClient {
  readonly socket: Socket;
  /** text is everything the server has sent so far. */
  text(): string;
  /** closed resolves once the server (or the network) has closed the connection. */
  readonly closed: Promise<void>;
}

/** rawConnect opens a TCP connection to 127.0.0.1:`port` and resolves once it is connected. */
export async function rawConnect(port: number): Promise<RawClient> {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    text += chunk;
  });
  // A refused connection may be reset: that is a close too.
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('close', () => reject(new Error('closed before connecting')));
  });
  return { socket, text: () => text, closed };
}

/** LogLine is one recorded log call. */
export interface LogLine {
  level: string;
  fields: Record<string, unknown>;
  message: string;
}

/** recordingLogger returns a logger that keeps every line in `lines`. */
export function recordingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: string) =>
    (fields: Record<string, unknown>, message: string): void => {
      lines.push({ level, fields, message });
    };
  return {
    logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') },
    lines,
  };
}

/**
 * until polls `check` every few ms until it is true (for states a test cannot
 * await directly); it throws after `timeoutMs` (default 15,000) so that a
 * broken promise fails its test instead of hanging it.
 */
export async function until(check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
