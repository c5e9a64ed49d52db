// module.ts: the `--loader MODULE` loader, an ES module whose default export loads keys.
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { LoadFn } from '../core/group.js';
import { InvalidArgumentError } from '../errors.js';

/**
 * moduleUrl tells what `import()` should load for `spec`: a `file:` URL when
 * `spec` is a path (absolute, starting with `.`, or naming a file that exists
 * relative to `cwd`), else `spec` itself as a package specifier (resolved from
 * peercache's own location) or URL.
 */
export function moduleUrl(spec: string, cwd: string = process.cwd()): string {
  if (spec === '') throw new InvalidArgumentError('loader module must not be empty');
  const looksLikePath = isAbsolute(spec) || spec.startsWith('./') || spec.startsWith('../');
  const path = resolve(cwd, spec);
  if (looksLikePath || existsSync(path)) return pathToFileURL(path).href;
  return spec;
}

/**
 * importLoader imports the ES module `spec` (see {@link moduleUrl}) and returns
 * its default export, which must be a function
 * `async (key, { group, signal }) => string | Uint8Array | null | undefined`
 * (null or undefined: not found). Throws InvalidArgumentError when the module
 * cannot be imported or its default export is not a function.
 */
export async function importLoader(spec: string, cwd: string = process.cwd()): Promise<LoadFn> {
  const url = moduleUrl(spec, cwd);
  let mod: { default?: unknown };
  try {
    mod = (await import(url)) as { default?: unknown };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new InvalidArgumentError(`cannot import loader ${spec}: ${why.split('\n')[0]}`, {
      cause: err,
    });
  }
  const load = mod.default;
  if (typeof load !== 'function') {
    throw new InvalidArgumentError(
      `loader ${spec} must have a default export that is a function, got ${typeof load}`,
    );
  }
  return load as LoadFn;
}
