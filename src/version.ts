// version.ts: peercache's version, as a constant so bundled builds need not find package.json.

/** VERSION is peercache's version; a test keeps it equal to package.json's. */
export const VERSION = '0.1.0';
