// refused-body.ts: what to do with the rest of a request body answered with 413.
import type { IncomingMessage } from 'node:http';

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
