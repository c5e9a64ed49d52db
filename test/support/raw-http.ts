// raw-http.ts: HTTP/1.1 requests written byte for byte on a TCP socket, for tests that send
// what fetch and node:http refuse to (raw non-ASCII paths, lying Content-Length, endless bodies).

import { connect, type Socket } from 'node:net';

/** RawAnswer is a parsed HTTP response: status, lower-cased headers and the body. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** text is the body as UTF-8. */
  text: string;
}

/** RawRequest is what {@link rawRequest} sends. */
export interface RawRequest {
  /** Origin to connect to, e.g. `http://127.0.0.1:41234`. */
  origin: string;
  method: string;
  /** The request target exactly as sent, e.g. `/_groupcache/scores/%zz`. */
  target: string;
  /** Extra header lines, e.g. `{ 'content-length': '100' }`. Default: none. */
  headers?: Record<string, string>;
  /** A body sent as is after the head. Default: none. */
  body?: Uint8Array;
  /**
   * streamBytes sends a chunked body of this many bytes, stopping early once the server
   * answers or closes. Default: none.
   */
  streamBytes?: number;
}

function parse(raw: Buffer): RawAnswer {
  const end = raw.indexOf('\r\n\r\n');
  if (end === -1) throw new Error(`no complete response head in ${raw.length} bytes`);
  const [statusLine = '', ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!m) throw new Error(`bad status line ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0)
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = raw.subarray(end + 4);
  const length = headers['content-length'];
  if (length !== undefined) body = body.subarray(0, Number(length));
  return { status: Number(m[1]), headers, body, text: body.toString('utf8') };
}

/** hasFullResponse tells whether `raw` holds a head and (by Content-Length) the whole body. */
function hasFullResponse(raw: Buffer): boolean {
  const end = raw.indexOf('\r\n\r\n');
  if (end === -1) return false;
  const m = /\r\ncontent-length:\s*(\d+)/i.exec(raw.subarray(0, end).toString('latin1'));
  return m !== null && raw.length - (end + 4) >= Number(m[1]);
}

/** writable resolves once `socket` drains, gets data or closes. */
function writable(socket: Socket): Promise<void> {
  return new Promise((ok) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('data', done);
      socket.off('close', done);
      ok();
    };
    socket.on('drain', done);
    socket.on('data', done);
    socket.on('close', done);
  });
}

/**
 * rawRequest sends one request with `Connection: close` and resolves with the response,
 * read until the server closes the connection or a Content-Length body is complete.
 */
export function rawRequest(req: RawRequest): Promise<RawAnswer> {
  const url = new URL(req.origin);
  const headers: Record<string, string> = { host: url.host, connection: 'close', ...req.headers };
  if (req.streamBytes !== undefined) headers['transfer-encoding'] = 'chunked';
  const head = `${req.method} ${req.target} HTTP/1.1\r\n${Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')}\r\n`;

  return new Promise((resolve, reject) => {
    const socket: Socket = connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    let answered = false;
    let settled = false;
    const timer = setTimeout(() => finish(new Error('no response within 30 s')), 30_000);
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const raw = Buffer.concat(chunks);
      if (raw.length > 0) {
        try {
          resolve(parse(raw));
          return;
        } catch (parseErr) {
          err ??= parseErr as Error;
        }
      }
      reject(err ?? new Error('connection closed without a response'));
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      answered = true;
      if (hasFullResponse(Buffer.concat(chunks))) finish();
    });
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    // Writes after the server gave up on the body fail with EPIPE/ECONNRESET: what was
    // read before still counts.
    socket.on('error', (err) => finish(err));
    socket.on('connect', async () => {
      socket.write(head);
      if (req.body) socket.write(req.body);
      if (req.streamBytes === undefined) return;
      // A server that refuses a body answers and closes while we still send; once it has
      // closed, a write fails (EPIPE) and destroys the socket with the answer unread. So:
      // one chunk in flight at a time, and before each, a turn of the event loop (I/O
      // first) to notice an answer.
      const size = 256 * 1024;
      const frame = Buffer.concat([
        Buffer.from(`${size.toString(16)}\r\n`),
        Buffer.alloc(size, 0x61),
        Buffer.from('\r\n'),
      ]);
      for (let sent = 0; sent < req.streamBytes; sent += size) {
        await new Promise((ok) => setImmediate(ok));
        if (answered || settled) return;
        if (!socket.write(frame)) await writable(socket);
      }
      await new Promise((ok) => setImmediate(ok));
      if (!answered && !settled) socket.write('0\r\n\r\n');
    });
  });
}
