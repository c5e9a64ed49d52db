// workload-db.ts: the workload benchmark's "database": one server per measured system,
// run by the harness on loopback, holding a version per key. A read answers the key's
// version after a fixed delay (the query's cost) and is counted per key; a write bumps
// the version after the same delay and answers the new one. The app processes reach it
// with a small pipelined line protocol: `<id> r|w <key index>\n` → `<id> <version>\n`.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/**
 * batched returns a function that collects lines and hands them to `write` joined,
 * once per turn of the event loop, so many requests cost one socket write.
 */
function batched(write: (text: string) => void): (line: string) => void {
  let pending = '';
  const flush = () => {
    const text = pending;
    pending = '';
    write(text);
  };
  return (line) => {
    if (pending === '') setImmediate(flush);
    pending += line;
  };
}

/** WorkloadDb is a running database server started by {@link startWorkloadDb}. */
export interface WorkloadDb {
  /** WorkloadDb.port is its TCP port on 127.0.0.1. */
  readonly port: number;
  /** WorkloadDb.readsPerKey is a copy of the reads counted per key index so far. */
  readsPerKey(): Uint32Array;
  /** WorkloadDb.writes is the number of writes served so far. */
  writes(): number;
  /**
   * WorkloadDb.repeatReads counts the reads of a key that arrived less than `ttlMs`
   * after its previous read with no write committed between them: loads a cache
   * that loads each key once per TTL would not have made (a herd's extra loads).
   */
  repeatReads(): number;
  /** WorkloadDb.close stops the server and drops its connections. */
  close(): Promise<void>;
}

/** WorkloadDbOptions configure {@link startWorkloadDb}. */
export interface WorkloadDbOptions {
  /** Number of keys (indexes 0..keys-1); each starts at version 1. */
  keys: number;
  /** How long each read and write takes, in ms. */
  delayMs: number;
  /** The caches' TTL, in ms, for {@link WorkloadDb.repeatReads}. */
  ttlMs: number;
}

/**
 * startWorkloadDb serves a database of `keys` versions on a free port of 127.0.0.1.
 * A read takes its snapshot of the version when it arrives (a query sees the data as
 * of its start) and answers `delayMs` later; a write commits `delayMs` after it
 * arrives. Malformed lines close the connection.
 */
export async function startWorkloadDb(options: WorkloadDbOptions): Promise<WorkloadDb> {
  const versions = new Uint32Array(options.keys).fill(1);
  const reads = new Uint32Array(options.keys);
  /** When each key was last read and last written (performance.now()), 0 for never. */
  const lastRead = new Float64Array(options.keys);
  const lastWrite = new Float64Array(options.keys);
  let writes = 0;
  let repeats = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setNoDelay(true);
    const send = batched((text) => socket.write(text));
    let partial = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const [id, op, index] = line.split(' ');
        const i = Number(index);
        if (id === undefined || !Number.isInteger(i) || i < 0 || i >= versions.length) {
          socket.destroy();
          return;
        }
        if (op === 'r') {
          reads[i]!++;
          const now = performance.now();
          const last = lastRead[i]!;
          if (last > 0 && now - last < options.ttlMs && lastWrite[i]! < last) repeats++;
          lastRead[i] = now;
          const version = versions[i]!;
          setTimeout(() => send(`${id} ${version}\n`), options.delayMs);
        } else if (op === 'w') {
          setTimeout(() => {
            writes++;
            lastWrite[i] = performance.now();
            const version = ++versions[i]!;
            send(`${id} ${version}\n`);
          }, options.delayMs);
        } else {
          socket.destroy();
          return;
        }
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('database has no port');
  return {
    port: address.port,
    readsPerKey: () => reads.slice(),
    writes: () => writes,
    repeatReads: () => repeats,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** WorkloadDbClient is one connection to a {@link WorkloadDb}, shared by every request. */
export interface WorkloadDbClient {
  /** WorkloadDbClient.read resolves with the version of key `i` (one counted read). */
  read(i: number): Promise<number>;
  /** WorkloadDbClient.write bumps the version of key `i` and resolves with the new one. */
  write(i: number): Promise<number>;
  /** WorkloadDbClient.close drops the connection; requests waiting on it reject. */
  close(): void;
}

/** connectWorkloadDb opens a {@link WorkloadDbClient} to the database on 127.0.0.1:`port`. */
export async function connectWorkloadDb(port: number): Promise<WorkloadDbClient> {
  const socket = createConnection({ host: '127.0.0.1', port });
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const waiting = new Map<number, { resolve: (v: number) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let partial = '';
  const failAll = (err: Error) => {
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  };
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const space = line.indexOf(' ');
      const id = Number(line.slice(0, space));
      const w = waiting.get(id);
      if (w === undefined) continue;
      waiting.delete(id);
      w.resolve(Number(line.slice(space + 1)));
    }
  });
  socket.on('error', (err) => failAll(err));
  socket.on('close', () => failAll(new Error('database connection closed')));
  const write = batched((text) => socket.write(text));
  const send = (op: 'r' | 'w', i: number) =>
    new Promise<number>((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, { resolve, reject });
      write(`${id} ${op} ${i}\n`);
    });
  return {
    read: (i) => send('r', i),
    write: (i) => send('w', i),
    close: () => socket.destroy(),
  };
}
