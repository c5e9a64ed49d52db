// console-screenshot.ts: `npm run console:screenshot`: runs `peercache demo` from the
// sources, sends it some traffic, and saves the console as it shows it to docs/console.png.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { launchBrowser } from '../test/console/browser.js';
import { buildConsole } from './build-console.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

await buildConsole();
const api = `http://127.0.0.1:${await freePort()}`;
const demo = spawn(
  process.execPath,
  ['--import', 'tsx', 'src/cli/main.ts', 'demo', '--api', api.slice('http://'.length)],
  { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
);
try {
  const lines = createInterface({ input: demo.stdout });
  for await (const line of lines) if (line.trim() === `ready ${api}`) break;
  const browser = await launchBrowser({ width: 1280, height: 1000 });
  try {
    const page = await browser.context.newPage();
    await page.goto(`${api}/console/`);
    // A minute of uneven traffic over the demo keys, so the charts and hot keys have a story.
    const keys = ['Tom', 'Tom', 'Tom', 'Jack', 'Jack', 'Sam', 'Amy', 'Zed'];
    for (let second = 0; second < 40; second++) {
      const n = 50 + 40 * Math.sin(second / 5) ** 2;
      for (let i = 0; i < n; i++)
        await (await fetch(`${api}/api?key=${keys[i % keys.length]}`)).arrayBuffer();
      await sleep(1000);
    }
    await page.getByLabel('Key', { exact: true }).fill('Tom');
    await page.getByTestId('inspect').click();
    await page.getByTestId('owner').waitFor();
    await page.screenshot({ path: join(ROOT, 'docs', 'console.png'), fullPage: true });
    console.log('wrote docs/console.png');
  } finally {
    await browser.close();
  }
} finally {
  demo.kill('SIGTERM');
  await once(demo, 'exit');
}
