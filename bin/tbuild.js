#!/usr/bin/env node
// The `tbuild` command. The TypeScript sources are compiled to dist/ by `npm ci`
// (the `prepare` script); run `npm run build` after editing them. The CLI runs
// from one bundled file (dist/bundle/cli/main.js): loading ~250 ES modules one
// by one took ~120 ms of every command.
import { main } from '../dist/bundle/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
