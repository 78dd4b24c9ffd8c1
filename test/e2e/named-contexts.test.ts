import { execFileSync } from 'node:child_process';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBuildQuery } from '../../daemon/http/build-query.js';
import {
  requires,
  runTbuild,
  startGitDaemon,
  useBuildRoot,
  writeContext,
  type TestGitDaemon,
} from '../harness/index.js';

let root = '';
let work = '';
useBuildRoot('tbuild-named-ctx-', (dirs) => {
  ({ root, work } = dirs);
});
let daemon: TestGitDaemon | undefined;
afterAll(async () => {
  await daemon?.stop();
});

async function contents(dir: string): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isFile()) found[entry.name] = await readFile(join(dir, entry.name), 'utf8');
  }
  return found;
}

/** `--build-context NAME=…` through the built CLI, as buildx: it replaces the stage or image NAME. */
describe('--build-context', () => {
  it('serves directories, images and git repositories to FROM, COPY --from and RUN --mount=from', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox', 'git');
    const tools = await writeContext(join(work, 'tools'), {
      'tool.txt': 'from the tools dir\n',
      'secret.txt': 'left out by its .dockerignore\n',
      '.dockerignore': 'secret.txt\n',
    });
    const stage = await writeContext(join(work, 'stage'), { 's.txt': 'replaced stage\n' });
    const repo = await writeContext(join(work, 'repo'), { 'src/code.txt': 'from git\n' });
    const git = (...args: string[]): void => {
      execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@e', ...args]);
    };
    git('init', '--quiet', '-b', 'main');
    git('add', '.');
    git('commit', '--quiet', '-m', 'one');
    await mkdir(join(work, 'served'));
    execFileSync('git', ['clone', '--quiet', '--bare', repo, join(work, 'served/repo.git')]);
    daemon = await startGitDaemon(join(work, 'served'));
    const context = await writeContext(join(work, 'ctx'), {
      Dockerfile: [
        'FROM busybox AS stage',
        'RUN echo never > /s.txt',
        'FROM alpine AS img',
        'RUN --mount=from=tools,target=/m cat /m/tool.txt > /mounted.txt',
        'FROM tools AS fromdir',
        'FROM scratch',
        'COPY --from=img /mounted.txt /mounted.txt',
        'COPY --from=fromdir /tool.txt /fromdir.txt',
        'COPY --from=tools /tool.txt /copied.txt',
        'COPY --from=stage /s.txt /stage.txt',
        'COPY --from=src /code.txt /git.txt',
        'COPY --from=tools / /all/',
        '',
      ].join('\n'),
    });
    const out = join(work, 'out');
    const built = runTbuild(
      [
        'build',
        '--progress=plain',
        '--build-context',
        `tools=${tools}`,
        '--build-context',
        `stage=${stage}`,
        // alpine is not in the store and there is no registry: only the named context can serve it.
        '--build-context',
        'alpine=docker-image://busybox',
        '--build-context',
        `src=${daemon.url}/repo.git#main:src`,
        '-o',
        `type=local,dest=${out}`,
        context,
      ],
      { root },
    );
    expect(built.code, built.stderr).toBe(0);
    expect(built.stderr).toContain('[context tools] load from client');
    expect(built.stderr).not.toContain('never');
    expect((await readdir(join(out, 'all'))).sort()).toEqual(['.dockerignore', 'tool.txt']);
    expect(await contents(out)).toEqual({
      'copied.txt': 'from the tools dir\n',
      'fromdir.txt': 'from the tools dir\n',
      'git.txt': 'from git\n',
      'mounted.txt': 'from the tools dir\n',
      'stage.txt': 'replaced stage\n',
    });

    const missing = runTbuild(
      ['build', '--build-context', `tools=${join(work, 'nope')}`, context],
      {
        root,
      },
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(
      `--build-context tools=${join(work, 'nope')}: no such directory`,
    );
    expect(runTbuild(['build', '--build-context', 'novalue', context], { root }).code).toBe(2);
    expect(runTbuild(['build', '--build-context', 'a=ftp://x', context], { root }).code).toBe(2);
  }, 180_000);

  it('reads an image from an OCI layout directory by tag or digest', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    const maker = await writeContext(join(work, 'maker'), {
      Dockerfile: 'FROM busybox\nRUN echo in-layout > /layout.txt\n',
    });
    const layout = join(work, 'layout');
    const metadataFile = join(work, 'layout-metadata.json');
    const made = runTbuild(
      [
        'build',
        '-q',
        '--metadata-file',
        metadataFile,
        '-t',
        'lay:1',
        '-o',
        `type=oci,tar=false,dest=${layout}`,
        maker,
      ],
      { root },
    );
    expect(made.code, made.stderr).toBe(0);
    // The layout's manifest (-q prints the image ID, the config's digest).
    const digest = String(
      (JSON.parse(await readFile(metadataFile, 'utf8')) as Record<string, unknown>)[
        'containerimage.digest'
      ],
    );
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    // Nothing but the layout holds the image now: the build below must read it from there.
    expect(runTbuild(['prune', '--all', '--force'], { root }).code).toBe(0);
    const user = await writeContext(join(work, 'user'), {
      Dockerfile:
        'FROM base\nRUN cat /layout.txt > /seen.txt\nFROM scratch\nCOPY --from=0 /seen.txt /\n',
    });
    for (const value of [`oci-layout://${layout}:1`, `oci-layout://${layout}@${digest}`]) {
      const out = join(work, `out-${String(value.length)}`);
      const built = runTbuild(
        ['build', '-q', '--build-context', `base=${value}`, '-o', `type=local,dest=${out}`, user],
        { root },
      );
      expect(built.code, built.stderr).toBe(0);
      expect(await contents(out)).toEqual({ 'seen.txt': 'in-layout\n' });
    }
    const wrongTag = runTbuild(
      ['build', '--build-context', `base=oci-layout://${layout}:2`, user],
      {
        root,
      },
    );
    expect(wrongTag.code).toBe(1);
    expect(wrongTag.stderr).toContain('has no image tagged "2"');
  }, 180_000);

  it('is refused by the service for paths of the server, accepted for images and URLs', () => {
    const config = {} as Parameters<typeof parseBuildQuery>[1];
    for (const value of ['base=/etc', 'base=oci-layout:///srv/layout']) {
      expect(() => parseBuildQuery({ 'build-context': value }, config)).toThrow(
        /names a path on the server/,
      );
    }
    const accepted = parseBuildQuery(
      { 'build-context': ['a=docker-image://alpine', 'b=https://example.com/x.tar'] },
      config,
    );
    expect(accepted.options.buildContexts?.map((spec) => spec.kind)).toEqual(['image', 'url']);
  });
});
