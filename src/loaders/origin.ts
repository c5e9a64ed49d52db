// origin.ts: the `--origin URL` loader, which reads each value over HTTP from `{URL}/{group}/{key}`.

import { Agent, type Dispatcher } from 'undici';
import type { LoadFn } from '../core/group.js';
import {
  abortError,
  DeadlineExceededError,
  InternalError,
  InvalidArgumentError,
  isCacheError,
  TooLargeError,
  UnavailableError,
} from '../errors.js';
import { DEFAULT_MAX_VALUE_BYTES } from '../limits.js';
import { escapePathSegment } from '../util/path-escape.js';

/** OriginLoaderOptions configure {@link createOriginLoader}. */
export interface OriginLoaderOptions {
  /** timeoutMs bounds each request, on top of the load's own signal. Default 10,000. */
  timeoutMs?: number;
  /** maxValueBytes is the largest response body accepted. Default 64 MiB. */
  maxValueBytes?: number;
  /** dispatcher sends the requests; it is not closed by `close()`. Default: an undici Agent of the loader's own. */
  dispatcher?: Dispatcher;
}

/** OriginLoader is a loader backed by an HTTP origin, with its connections to close. */
export interface OriginLoader {
  /** load is the LoadFn to give a group. */
  load: LoadFn;
  /** close closes the loader's own connections (not a dispatcher it was given). */
  close(): Promise<void>;
}

/**
 * createOriginLoader returns a loader that GETs `{origin}/{group}/{key}`, the
 * group and key each percent-encoded as one path segment. 2xx: the body is the
 * value; 404: not found; 5xx and 429: UnavailableError; other statuses:
 * InternalError. A refused or broken connection is UnavailableError, the
 * timeout DeadlineExceededError. Throws InvalidArgumentError if `origin` is
 * not an http(s) URL without query or fragment.
 */
export function createOriginLoader(
  origin: string,
  options: OriginLoaderOptions = {},
): OriginLoader {
  const base = parseOrigin(origin);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
  const own = options.dispatcher === undefined ? new Agent({ connections: 64 }) : undefined;
  const dispatcher = options.dispatcher ?? (own as Agent);

  const load: LoadFn = async (key, { group, signal }) => {
    // Dispatcher.request takes the path as is: a URL string would be normalized
    // (a key `..`, even escaped as `%2E%2E`, would climb a segment).
    const path = `${base.pathname}/${segment(group)}/${segment(key)}`;
    const url = `${base.origin}${path}`;
    const timeout = AbortSignal.timeout(timeoutMs);
    const both = AbortSignal.any([signal, timeout]);
    let res: Dispatcher.ResponseData;
    try {
      res = await dispatcher.request({ origin: base.origin, path, method: 'GET', signal: both });
    } catch (err) {
      throw failure(err, signal, timeout, url);
    }
    // Destroying an unread body emits an error; it is handled where it matters.
    res.body.on('error', () => {});
    try {
      if (res.statusCode === 404) return null;
      if (res.statusCode < 200 || res.statusCode > 299) {
        const text = await readBody(res.body, 512, true);
        const why = `origin ${url} answered ${res.statusCode}: ${Buffer.from(text).toString('utf8').trim()}`;
        throw res.statusCode >= 500 || res.statusCode === 429
          ? new UnavailableError(why)
          : new InternalError(why);
      }
      const declared = Number(res.headers['content-length'] ?? Number.NaN);
      if (declared > maxValueBytes) throw tooLarge(url, maxValueBytes);
      const body = await readBody(res.body, maxValueBytes, false);
      if (body === undefined) throw tooLarge(url, maxValueBytes);
      return body;
    } catch (err) {
      throw failure(err, signal, timeout, url);
    } finally {
      if (!res.body.readableEnded) res.body.destroy();
    }
  };

  return {
    load,
    close: async () => {
      await own?.close();
    },
  };
}

function parseOrigin(origin: string): { origin: string; pathname: string } {
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    throw new InvalidArgumentError(`origin ${JSON.stringify(origin)} is not a URL`);
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.search !== '' || u.hash !== '') {
    throw new InvalidArgumentError(
      `origin ${JSON.stringify(origin)} must be an http(s) URL without query or fragment`,
    );
  }
  return { origin: u.origin, pathname: u.pathname.replace(/\/+$/, '') };
}

/** segment escapes one path segment; `.` and `..` are escaped too, so no URL parser folds them. */
function segment(s: string): string {
  const escaped = escapePathSegment(s);
  return escaped === '.' || escaped === '..' ? escaped.replaceAll('.', '%2E') : escaped;
}

function tooLarge(url: string, limit: number): TooLargeError {
  return new TooLargeError(`origin ${url}: value is over the limit of ${limit} bytes`);
}

/** failure turns what a request threw into the CacheError the loader reports. */
function failure(err: unknown, signal: AbortSignal, timeout: AbortSignal, url: string): Error {
  if (signal.aborted) return abortError(signal);
  if (timeout.aborted) return new DeadlineExceededError(`origin ${url}: timed out`);
  if (isCacheError(err)) return err;
  if (
    err instanceof Error &&
    'code' in err &&
    typeof err.code === 'string' &&
    !('statusCode' in err)
  ) {
    if (err.code.startsWith('UND_ERR') || err.code.startsWith('E')) {
      return new UnavailableError(`origin ${url}: ${err.message}`, { cause: err });
    }
  }
  return err instanceof Error ? err : new InternalError(String(err));
}

/**
 * readBody collects a body up to `limit` bytes. Past the limit it returns what
 * it has when `truncate` is set, else undefined.
 */
async function readBody(
  body: Dispatcher.ResponseData['body'],
  limit: number,
  truncate: true,
): Promise<Uint8Array>;
async function readBody(
  body: Dispatcher.ResponseData['body'],
  limit: number,
  truncate: false,
): Promise<Uint8Array | undefined>;
async function readBody(
  body: Dispatcher.ResponseData['body'],
  limit: number,
  truncate: boolean,
): Promise<Uint8Array | undefined> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (total + chunk.byteLength > limit) {
      if (!truncate) return undefined;
      chunks.push(chunk.subarray(0, limit - total));
      total = limit;
      break;
    }
    chunks.push(chunk);
    total += chunk.byteLength;
  }
  // A plain Uint8Array of its own (not a pooled Buffer slice), safe to keep.
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
