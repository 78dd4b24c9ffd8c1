#!/usr/bin/env -S node --max-semi-space-size=4
// The `tbuild` command. The TypeScript sources are compiled to dist/ by `npm ci`
// (the `prepare` script); run `npm run build` after editing them. The CLI runs
// from one bundled file (dist/bundle/cli/main.js, plus chunks loaded on use such
// as the service's): loading ~250 ES modules one by one took ~120 ms of every command.
//
// --max-semi-space-size=4 (MiB): a build allocates fast (a tree walk, tar headers),
// and V8 then grows the young generation to its 16 MiB default semi-spaces, ~45 MB
// of peak RSS on a 20k-file COPY for no measurable speed (bench/README.md). It must
// be a flag at startup (v8.setFlagsFromString comes too late), so `node
// bin/tbuild.js` runs without it: run the file itself, as npx and PATH do.
import { main } from '../dist/bundle/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
