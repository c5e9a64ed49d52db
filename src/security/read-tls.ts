// read-tls.ts: readTlsFiles for the core entry: it imports the TLS module (node:tls,
// node:crypto) when called, not when the entry loads.
import type { TlsFiles, TlsOptions } from './tls.js';

/**
 * readTlsFiles reads the PEM files `files` names into {@link TlsOptions}.
 * Rejects with the file system's error for a file it cannot read, and with
 * InvalidArgumentError for contents that are no usable PEM.
 */
export async function readTlsFiles(files: TlsFiles): Promise<TlsOptions> {
  const tls = await import('./tls.js');
  return tls.readTlsFiles(files);
}
