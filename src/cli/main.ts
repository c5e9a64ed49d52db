#!/usr/bin/env node
// main.ts: the `peercache` executable (see cli.ts for the commands).
import { runCli } from './cli.js';

const code = await runCli(process.argv.slice(2));
process.exit(code);
