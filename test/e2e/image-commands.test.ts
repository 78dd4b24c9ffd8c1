import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { humanSize } from '../../cli/commands/units.js';
import { requires, runTbuild, useBuildRoot, writeContext } from '../harness/index.js';

let root = '';
let work = '';
useBuildRoot('tbuild-image-cmds-', (dirs) => {
  ({ root, work } = dirs);
});

interface DuRow {
  readonly ID: string;
  readonly Size: number;
  readonly Shared: boolean;
  readonly Reclaimable: boolean;
}

/** `tbuild image …`, `rmi`, `tag`, `du` and `prune` through the built CLI, as docker's. */
describe('tbuild image ls|tag|inspect|history|rm, du and prune', () => {
  it('manages names like docker image, and du and prune add up', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    const context = await writeContext(join(work, 'ctx'), {
      Dockerfile:
        'FROM busybox\nRUN --mount=type=cache,target=/c echo hi > /c/x && echo a > /a\n' +
        'RUN echo "a rather long command line that docker cuts at forty-five" > /b\n',
    });
    const iidfile = join(work, 'iid');
    const built = runTbuild(['build', '-q', '--iidfile', iidfile, '-t', 'demo/app:v1', context], {
      root,
    });
    expect(built.code, built.stderr).toBe(0);
    const configDigest = await readFile(iidfile, 'utf8');
    // -q prints the image ID too, as buildx.
    expect(built.stdout.trim()).toBe(configDigest);

    // tag, then ls shows both names with the same ID.
    expect(runTbuild(['image', 'tag', 'demo/app:v1', 'demo/other'], { root }).code).toBe(0);
    const ls = runTbuild(['image', 'ls', '--format', '{{json .}}'], { root });
    expect(ls.code, ls.stderr).toBe(0);
    const rows = ls.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, string>);
    const ours = rows.filter((row) => row['Repository']?.startsWith('demo/'));
    expect(ours.map((row) => `${row['Repository'] ?? ''}:${row['Tag'] ?? ''}`).sort()).toEqual([
      'demo/app:v1',
      'demo/other:latest',
    ]);
    expect(new Set(ours.map((row) => row['ID']))).toEqual(new Set([configDigest.slice(7, 19)]));
    expect(
      runTbuild(['images', '--format', '{{.Repository}}:{{.Tag}}', 'demo/other'], { root }).stdout,
    ).toBe('demo/other:latest\n');
    expect(runTbuild(['tag', 'nope:1', 'x'], { root }).code).toBe(1);
    expect(runTbuild(['tag', 'demo/app:v1', 'Bad Name'], { root }).code).toBe(2);

    // inspect: a JSON array as docker's, by name or by ID.
    const inspect = runTbuild(['image', 'inspect', 'demo/other', configDigest.slice(7, 19)], {
      root,
    });
    expect(inspect.code, inspect.stderr).toBe(0);
    const [first, second] = JSON.parse(inspect.stdout) as Record<string, unknown>[];
    expect(first).toMatchObject({
      Id: configDigest,
      RepoTags: ['demo/app:v1', 'demo/other:latest'],
      // As docker's for an image built here and never pushed: no manifest, so no digest.
      RepoDigests: [],
      Architecture: 'amd64',
      Os: 'linux',
      Config: { Cmd: ['sh'] },
      RootFS: { Type: 'layers' },
    });
    expect((first?.['RootFS'] as { Layers: string[] }).Layers).toHaveLength(3);
    expect(second?.['Id']).toBe(configDigest);
    expect(runTbuild(['image', 'inspect', '-f', '{{.Id}}', 'demo/app:v1'], { root }).stdout).toBe(
      `${configDigest}\n`,
    );
    expect(runTbuild(['image', 'inspect', 'nope'], { root }).code).toBe(1);

    // history: newest first, CREATED BY cut at 45 characters without --no-trunc.
    const history = runTbuild(['image', 'history', 'demo/app:v1'], { root });
    expect(history.code, history.stderr).toBe(0);
    const lines = history.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^IMAGE {10}CREATED +CREATED BY +SIZE +COMMENT$/);
    expect(lines[1]).toMatch(
      new RegExp(
        `^${configDigest.slice(7, 19)} .*RUN /bin/sh -c echo "a rather long command l… +\\d+B +buildkit.dockerfile.v0$`,
      ),
    );
    expect(lines.slice(2).every((line) => line.startsWith('<missing> '))).toBe(true);
    const full = runTbuild(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'demo/app:v1'], {
      root,
    });
    expect(full.stdout).toContain('forty-five" > /b # buildkit\n');

    // du: the rows add up to the totals, each byte counted once.
    const du = runTbuild(['du'], { root });
    expect(du.code, du.stderr).toBe(0);
    const duRows = runTbuild(['du', '--format', 'json'], { root })
      .stdout.trim()
      .split('\n')
      .map((line) => JSON.parse(line) as DuRow);
    expect(duRows.some((row) => row.Shared)).toBe(true);
    const sum = (chosen: DuRow[]): string => humanSize(chosen.reduce((t, row) => t + row.Size, 0));
    expect(du.stdout).toContain(`Total:         ${sum(duRows)}\n`);
    expect(du.stdout).toContain(`Shared:        ${sum(duRows.filter((row) => row.Shared))}\n`);
    expect(du.stdout).toContain(`Private:       ${sum(duRows.filter((row) => !row.Shared))}\n`);
    expect(du.stdout).toContain(`Reclaimable:   ${sum(duRows.filter((row) => row.Reclaimable))}\n`);
    expect(
      du.stdout.split('\n').filter((line) => /^[0-9a-z]{25}\*? +(true|false) /.test(line)),
    ).toHaveLength(duRows.length);

    // rm by an ID with two names must be forced; by name it untags one.
    const conflict = runTbuild(['rmi', configDigest.slice(7, 19)], { root });
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toContain('must be forced');
    const untag = runTbuild(['image', 'rm', 'demo/other'], { root });
    expect(untag.stdout).toBe('Untagged: demo/other:latest\n');
    const removed = runTbuild(['rmi', '-f', 'demo/app:v1', 'nope'], { root });
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toBe(`Untagged: demo/app:v1\nDeleted: ${configDigest}\n`);
    expect(runTbuild(['images', '-q', 'demo/app'], { root }).stdout).toBe('');
    expect(runTbuild(['rmi', 'demo/app:v1'], { root }).code).toBe(1);

    // prune lists every record it removed, then what it freed.
    const pruned = runTbuild(['prune', '--all', '--force'], { root });
    expect(pruned.code, pruned.stderr).toBe(0);
    const prunedLines = pruned.stdout.trim().split('\n');
    expect(prunedLines[0]).toMatch(/^ID +RECLAIMABLE +SIZE +LAST ACCESSED$/);
    const prunedIds = prunedLines.slice(1, -1).map((line) => line.split(' ')[0]);
    expect(prunedIds.sort()).toEqual(duRows.map((row) => row.ID).sort());
    expect(prunedLines.at(-1)).toMatch(/^Total:\t[\d.]+[kMG]?B$/);
    expect(prunedLines.at(-1)).not.toBe('Total:\t0B');
    const again = runTbuild(['prune', '--all', '--force'], { root });
    expect(again.stdout).toBe('Total:\t0B\n');
  }, 120_000);

  it('has help and usage errors', (ctx) => {
    requires(ctx, 'root', 'busybox');
    for (const command of [['image'], ['image', 'history'], ['rmi'], ['tag', 'a']]) {
      expect(runTbuild(command).code).toBe(2);
    }
    for (const sub of ['ls', 'rm', 'tag', 'inspect', 'history']) {
      expect(runTbuild(['image', sub, '--help']).stdout).toContain(`tbuild image ${sub}`);
    }
    expect(runTbuild(['image', 'lss']).stderr).toContain('did you mean ls');
    expect(runTbuild(['images', '--format', '{{.Nope}}'], { root }).code).toBe(2);
  });
});
