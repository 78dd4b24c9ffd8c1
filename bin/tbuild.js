#!/usr/bin/env node
// The `tbuild` command. The TypeScript sources are compiled to dist/ by `npm ci`
// (the `prepare` script); run `npm run build` after editing them.
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
