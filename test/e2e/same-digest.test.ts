import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  requires,
  runTbuild,
  useBuildRoot,
  writeContext,
  type CliResult,
} from '../harness/index.js';

/**
 * A fully cached rebuild names the same image, without SOURCE_DATE_EPOCH: CI
 * compares digests to skip deploys. Times come from when each step's result
 * was first made (as BuildKit takes them from its cache records).
 */
let root = '';
let work = '';

useBuildRoot('tbuild-e2e-digest-', (dirs) => {
  ({ root, work } = dirs);
});

/** The build's environment without SOURCE_DATE_EPOCH, whatever the test runner has. */
const env = { SOURCE_DATE_EPOCH: '' };

function build(dir: string, tag: string): CliResult {
  const result = runTbuild(['build', '-q', '-t', tag, dir], { root, env });
  expect(result.code, result.stderr).toBe(0);
  return result;
}

interface Config {
  readonly created?: string;
  readonly history?: { readonly created?: string; readonly created_by?: string }[];
}

/** The config of an image ID (what -q prints), from the root's content store. */
async function configOf(imageId: string): Promise<Config> {
  const blob = (digest: string): Promise<string> =>
    readFile(join(root, 'v1/blobs/sha256', digest.replace('sha256:', '')), 'utf8');
  return JSON.parse(await blob(imageId)) as Config;
}

describe('image digests without SOURCE_DATE_EPOCH', () => {
  it('a cached rebuild gives the same digest, every history entry has created, a changed step a new one', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    const files = {
      'data.txt': 'one\n',
      Dockerfile:
        'FROM busybox\nENV A=1\nRUN echo made > /made.txt\nCOPY data.txt /data.txt\nLABEL b=2\nCMD ["cat", "/data.txt"]\n',
    };
    const dir = await writeContext(join(work, 'ctx'), files);
    const first = build(dir, 'e2e/digest:one').stdout.trim();
    expect(first).toMatch(/^sha256:[0-9a-f]{64}$/);
    const second = build(dir, 'e2e/digest:two').stdout.trim();
    expect(second).toBe(first);

    const config = await configOf(first);
    const history = config.history ?? [];
    expect(history.length).toBeGreaterThan(4);
    for (const entry of history) expect(entry.created, entry.created_by).toMatch(/^\d{4}-/);
    // The config's time is the last step's, not the export's.
    expect(config.created).toBe(history.at(-1)?.created);

    await writeContext(dir, { ...files, 'data.txt': 'two\n' });
    const changed = build(dir, 'e2e/digest:three').stdout.trim();
    expect(changed).not.toBe(first);
    const changedHistory = (await configOf(changed)).history ?? [];
    // Steps before the change keep their times; the changed COPY has a new one.
    const copyIndex = history.findIndex((entry) => entry.created_by?.startsWith('COPY') === true);
    expect(changedHistory[copyIndex - 1]?.created).toBe(history[copyIndex - 1]?.created);
    expect(changedHistory[copyIndex]?.created).not.toBe(history[copyIndex]?.created);
  });
});
