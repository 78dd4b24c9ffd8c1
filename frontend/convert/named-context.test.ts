import { describe, expect, it } from 'vitest';
import { topologicalOrder, type Vertex } from '../../solver/ir/index.js';
import { parseDockerfile } from '../dockerfile/index.js';
import { emptyImageResolver } from './empty-resolver.js';
import { lowerDockerfile } from './lower.js';
import type { NamedContext } from './types.js';

const signal = AbortSignal.timeout(10_000);

async function sources(text: string, named: Record<string, NamedContext>): Promise<unknown[]> {
  const lowered = await lowerDockerfile(parseDockerfile(text, { file: 'Dockerfile' }), {
    resolver: emptyImageResolver,
    session: 's1',
    namedContexts: new Map(Object.entries(named)),
    signal,
  });
  const root: Vertex | undefined = lowered.root;
  return root === undefined
    ? []
    : topologicalOrder([root]).flatMap((vertex) =>
        vertex.op.kind === 'source' ? [vertex.op.source] : [],
      );
}

describe('named contexts (--build-context)', () => {
  it('replaces the image of FROM, COPY --from and RUN --mount=from', async () => {
    const found = await sources(
      'FROM alpine\nCOPY --from=tools /t /t\nRUN --mount=from=docs,target=/d cat /d/x\n',
      {
        'docker.io/library/alpine:latest': { kind: 'image', ref: 'docker.io/library/busybox:1' },
        tools: { kind: 'local', name: 'named:tools' },
        docs: { kind: 'image', ref: 'docker.io/library/docs:2' },
      },
    );
    expect(found).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'image', ref: 'docker.io/library/busybox:1' }),
        expect.objectContaining({ type: 'image', ref: 'docker.io/library/docs:2' }),
        { type: 'local', name: 'named:tools', session: 's1', excludePatterns: [], followPaths: [] },
      ]),
    );
    expect(JSON.stringify(found)).not.toContain('alpine');
  });

  it('replaces a stage of the same name, and can be the base of a stage', async () => {
    const found = await sources(
      'FROM busybox AS base\nRUN never\nFROM base\nCOPY --from=base /a /a\n',
      { base: { kind: 'local', name: 'named:base' } },
    );
    expect(found).toEqual([
      { type: 'local', name: 'named:base', session: 's1', excludePatterns: [], followPaths: [] },
    ]);
  });

  it('leaves names it does not know alone', async () => {
    const found = await sources('FROM busybox AS b\nFROM alpine\nCOPY --from=b /a /a\n', {
      other: { kind: 'local', name: 'named:other' },
    });
    expect(JSON.stringify(found)).toContain('alpine');
    expect(JSON.stringify(found)).toContain('busybox');
  });
});
