// vitest.config.ts: vitest runs only the suites written for it (Keyv's adapter suite);
// every other test runs under node:test.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.vitest.ts'],
    fileParallelism: false,
  },
});
