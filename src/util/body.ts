// body.ts: reading request bodies under a size limit, and what to do with the
// rest of a body answered with 413.
import type { IncomingMessage } from 'node:http';
import type { ByteBudget } from './byte-budget.js';

/** How long the rest of a refused body is read and thrown away before the connection is cut. */
const refusedBodyLingerMs = 2_000;

/**
 * lingerOnRefusedBody keeps reading (and discarding) a body already answered
 * with 413, for a bounded time, then cuts the connection. Closing the socket
 * while the client still sends would make the kernel reset the connection,
 * which can destroy the answer before the client reads it.
 */
export function lingerOnRefusedBody(req: IncomingMessage): void {
  if (req.readableEnded) return;
  const socket = req.socket;
  const cut = setTimeout(() => socket.destroy(), refusedBodyLingerMs);
  cut.unref();
  const done = () => clearTimeout(cut);
  req.once('end', done);
  req.once('close', done);
  req.resume();
}

/** BudgetedBody is what {@link readBudgetedBody} read, and how many bytes of its budget it holds. */
export interface BudgetedBody {
  /** The body, or why there is none: over the limit, over the budget, or broken off. */
  body: Uint8Array | 'too-large' | 'over-budget' | 'aborted';
  /** Bytes reserved from the budget; give them back with `budget.release(held)` once done with the body. */
  held: number;
}

/**
 * readBudgetedBody reads a request body as {@link readRequestBody} does, under
 * `limit`, reserving its bytes from the server-wide `budget`: a declared
 * Content-Length is reserved before a byte is read, a body without one
 * reserves each chunk as it arrives. When the budget cannot cover it, it stops
 * at once with `over-budget` (nothing more is read); the caller answers 503.
 * Over `limit` is `too-large`, checked first. Whatever the outcome, the caller
 * releases `held`.
 */
export async function readBudgetedBody(
  req: IncomingMessage,
  limit: number,
  budget: ByteBudget,
): Promise<BudgetedBody> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared > limit) return { body: 'too-large', held: 0 };
  if (Number.isSafeInteger(declared) && declared >= 0 && !req.readableEnded) {
    if (!budget.tryReserve(declared)) return { body: 'over-budget', held: 0 };
    // A declared length bounds the body: Node's parser never yields more.
    return { body: await readRequestBody(req, limit), held: declared };
  }
  let held = 0;
  const body = await readRequestBody(req, limit, (bytes) => {
    if (!budget.tryReserve(bytes)) return false;
    held += bytes;
    return true;
  });
  return { body, held };
}

/**
 * readRequestBody reads a request body into one buffer of its own, giving up as
 * soon as it is known to pass `limit` (from Content-Length or while reading).
 */
export function readRequestBody(
  req: IncomingMessage,
  limit: number,
): Promise<Uint8Array | 'too-large' | 'aborted'>;
/**
 * readRequestBody with `admit` asks it for every chunk before keeping it; a
 * chunk it refuses stops the reading at once with `over-budget`.
 */
export function readRequestBody(
  req: IncomingMessage,
  limit: number,
  admit: (bytes: number) => boolean,
): Promise<Uint8Array | 'too-large' | 'over-budget' | 'aborted'>;
export function readRequestBody(
  req: IncomingMessage,
  limit: number,
  admit?: (bytes: number) => boolean,
): Promise<Uint8Array | 'too-large' | 'over-budget' | 'aborted'> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared > limit) return Promise.resolve('too-large');
  // A framework may have read the body already (e.g. express.raw()).
  const parsed = (req as { body?: unknown }).body;
  if (parsed instanceof Uint8Array) {
    return Promise.resolve(parsed.byteLength > limit ? 'too-large' : parsed);
  }
  if (req.readableEnded) return Promise.resolve(new Uint8Array(0));
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const finish = (result: Uint8Array | 'too-large' | 'over-budget' | 'aborted') => {
      req.removeListener('data', onData);
      req.removeListener('end', onEnd);
      req.removeListener('error', onAbort);
      req.removeListener('close', onAbort);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      total += chunk.byteLength;
      if (total > limit) {
        req.pause();
        finish('too-large');
        return;
      }
      if (admit !== undefined && !admit(chunk.byteLength)) {
        req.pause();
        finish('over-budget');
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      const out = new Uint8Array(total);
      let offset = 0;
      for (const chunk of chunks) {
        out.set(chunk, offset);
        offset += chunk.byteLength;
      }
      finish(out);
    };
    const onAbort = () => finish('aborted');
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onAbort);
    req.once('close', onAbort);
  });
}
