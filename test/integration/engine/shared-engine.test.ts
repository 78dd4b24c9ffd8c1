import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { neverAborted as signal, type ProgressEvent } from '../../../core/index.js';
import {
  dockerignoreExcluder,
  runBuild,
  type BuildInputs,
  type BuildOptions,
} from '../../../builder/index.js';
import { openEngine, type Engine } from '../../../worker/index.js';
import { requires, useBuildRoot } from '../../harness/index.js';

/**
 * Builds that share one engine (as the service runs them) each see only their
 * own session: their context directory and their secrets, even when their
 * Dockerfiles are the same text and they run at the same time.
 */
let root = '';
let work = '';

useBuildRoot('tbuild-shared-engine-', (dirs) => {
  ({ root, work } = dirs);
});

const OPTIONS: BuildOptions = {
  tags: [],
  buildArgs: new Map(),
  noCache: false,
  pull: false,
  outputs: [],
  labels: new Map(),
  secrets: [],
  ssh: [],
  network: 'none',
  allow: [],
  addHosts: [],
  platform: { os: 'linux', architecture: 'amd64' },
};

async function context(name: string, dockerfile: string, files: Record<string, string>) {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'Dockerfile'), dockerfile);
  for (const [file, content] of Object.entries(files)) await writeFile(join(dir, file), content);
  const inputs: BuildInputs = {
    contextDir: dir,
    dockerfileName: join(dir, 'Dockerfile'),
    dockerfileText: dockerfile,
    dockerignore: [],
  };
  return { dir, inputs };
}

function build(
  engine: Engine,
  inputs: BuildInputs,
  out: string,
  secrets: ReadonlyMap<string, () => Promise<Uint8Array>> = new Map(),
  noCache = false,
) {
  const events: ProgressEvent[] = [];
  return runBuild({
    engine,
    options: {
      ...OPTIONS,
      noCache,
      outputs: [
        { type: 'local', dest: out, names: [], push: false, compression: 'gzip', tar: true },
      ],
    },
    inputs,
    secrets,
    sshSockets: new Map(),
    progress: (event) => events.push(event),
    signal,
  });
}

describe('builds sharing one engine', () => {
  it('see their own context, not another running build’s', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    const dockerfile = 'FROM busybox\nCOPY message /message\nRUN cat /message > /seen\n';
    const one = await context('one', dockerfile, { message: 'from one\n' });
    const two = await context('two', dockerfile, { message: 'from two\n' });
    const engine = await openEngine({ root, excluder: dockerignoreExcluder });
    try {
      await Promise.all([
        build(engine, one.inputs, join(work, 'out-one')),
        build(engine, two.inputs, join(work, 'out-two')),
      ]);
    } finally {
      await engine.close();
    }
    expect(await readFile(join(work, 'out-one', 'seen'), 'utf8')).toBe('from one\n');
    expect(await readFile(join(work, 'out-two', 'seen'), 'utf8')).toBe('from two\n');
  });

  it('mount their own secrets, and a build without the secret does not get another’s', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    const dockerfile =
      'FROM busybox\nRUN --mount=type=secret,id=token,required=false ' +
      '(cat /run/secrets/token 2>/dev/null || echo none) > /token-seen\n';
    const withSecret = await context('with-secret', dockerfile, {});
    const without = await context('without-secret', dockerfile, {});
    const engine = await openEngine({ root, excluder: dockerignoreExcluder });
    const secret = new Map([['token', () => Promise.resolve(Buffer.from('s3cr3t'))]]);
    try {
      await Promise.all([
        // --no-cache: a secret's value is not part of a step's key (as in BuildKit), so a
        // cached result of one would be the other's result; here each must run its own.
        build(engine, withSecret.inputs, join(work, 'out-with'), secret, true),
        build(engine, without.inputs, join(work, 'out-without'), new Map(), true),
      ]);
    } finally {
      await engine.close();
    }
    expect(await readFile(join(work, 'out-with', 'token-seen'), 'utf8')).toBe('s3cr3t');
    expect(await readFile(join(work, 'out-without', 'token-seen'), 'utf8')).toBe('none\n');
  });
});
