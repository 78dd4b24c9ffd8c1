import { describe, expect, it } from 'vitest';
import { isTbuildError, TbuildError } from '../../core/index.js';
import { topologicalOrder } from '../../solver/ir/index.js';
import { parseDockerfile } from '../dockerfile/index.js';
import { emptyImageResolver } from './empty-resolver.js';
import { lowerDockerfile } from './lower.js';
import type { LowerOptions } from './types.js';

const signal = AbortSignal.timeout(10_000);

async function lower(text: string, options: Partial<LowerOptions> = {}) {
  return lowerDockerfile(parseDockerfile(text, { file: 'Dockerfile' }), {
    resolver: emptyImageResolver,
    signal,
    ...options,
  });
}

type Root = Parameters<typeof topologicalOrder>[0][number] | undefined;

function digests(root: Root): string[] {
  return root === undefined ? [] : topologicalOrder([root]).map((vertex) => vertex.digest);
}

function vertices(root: Root) {
  return root === undefined ? [] : topologicalOrder([root]);
}

const MULTI = `FROM busybox AS build
WORKDIR /src
COPY . .
RUN make
RUN make install
FROM busybox
COPY --from=build /usr/local/bin/app /app
RUN /app --version
`;

describe('lowerDockerfile identities', () => {
  it('gives identical digests for identical input', async () => {
    const first = await lower(MULTI);
    const second = await lower(MULTI);
    expect(first.root?.digest).toBeDefined();
    expect(digests(first.root)).toEqual(digests(second.root));
  });

  it('changing one RUN changes only that vertex and its descendants', async () => {
    const before = await lower(MULTI);
    const after = await lower(MULTI.replace('RUN make install', 'RUN make install PREFIX=/opt'));
    const beforeByName = new Map(vertices(before.root).map((v) => [v.meta.name, v.digest]));
    const afterByName = new Map(vertices(after.root).map((v) => [v.meta.name, v.digest]));
    const unchanged = [
      '[build 1/5] FROM docker.io/library/busybox:latest',
      '[build 2/5] WORKDIR /src',
      '[build 3/5] COPY . .',
      '[build 4/5] RUN make',
      '[stage-1 1/3] FROM docker.io/library/busybox:latest',
      '[internal] load build context',
    ];
    for (const name of unchanged) expect(afterByName.get(name), name).toBe(beforeByName.get(name));
    expect(afterByName.get('[build 5/5] RUN make install PREFIX=/opt')).toBeDefined();
    for (const name of [
      '[stage-1 2/3] COPY --from=build /usr/local/bin/app /app',
      '[stage-1 3/3] RUN /app --version',
    ]) {
      expect(afterByName.get(name), name).not.toBe(beforeByName.get(name));
    }
  });

  it('keeps step names and source lines out of digests', async () => {
    const plain = await lower('FROM busybox\nRUN echo hi\n');
    const shifted = await lower('FROM busybox\n\n# a comment\nRUN echo hi\n');
    expect(shifted.root?.digest).toBe(plain.root?.digest);
    expect(shifted.root?.meta.source).toEqual({ file: 'Dockerfile', startLine: 4, endLine: 4 });
  });

  it('puts build args into the RUN environment, so a new value changes the step', async () => {
    const text = 'FROM busybox\nARG VERSION=1\nRUN echo $VERSION\n';
    const one = await lower(text);
    const two = await lower(text, { buildArgs: new Map([['VERSION', '2']]) });
    expect(two.root?.digest).not.toBe(one.root?.digest);
    expect(two.root?.inputs[0]?.digest).toBe(one.root?.inputs[0]?.digest);
  });

  it('gives RUN the build network and extra hosts unless the step says otherwise', async () => {
    const built = await lower('FROM busybox\nRUN a\nRUN --network=none b\n', {
      network: 'host',
      extraHosts: ['db:10.0.0.2'],
    });
    const runs = vertices(built.root).flatMap((vertex) =>
      vertex.op.kind === 'exec' ? [vertex.op] : [],
    );
    expect(runs.map((op) => [op.args.at(-1), op.network, op.extraHosts])).toEqual([
      ['a', 'host', ['db:10.0.0.2']],
      ['b', 'none', ['db:10.0.0.2']],
    ]);
  });

  it('gives every RUN the build --shm-size and --ulimit, which change the step', async () => {
    const text = 'FROM busybox\nRUN a\nRUN b\n';
    const plain = await lower(text);
    const limited = await lower(text, {
      shmSize: 128 * 1024 * 1024,
      ulimits: [{ name: 'nofile', soft: 1024, hard: 2048 }],
    });
    const runs = vertices(limited.root).flatMap((vertex) =>
      vertex.op.kind === 'exec' ? [vertex.op] : [],
    );
    expect(runs.map((op) => [op.shmSize, op.ulimits])).toEqual([
      [134217728, [{ name: 'nofile', soft: 1024, hard: 2048 }]],
      [134217728, [{ name: 'nofile', soft: 1024, hard: 2048 }]],
    ]);
    expect(limited.root?.digest).not.toBe(plain.root?.digest);
    const plainOp = plain.root?.op;
    expect(plainOp?.kind === 'exec' && 'shmSize' in plainOp).toBe(false);
    expect(plainOp?.kind === 'exec' && 'ulimits' in plainOp).toBe(false);
  });

  it('keeps proxy args out of env and history but gives them to RUN', async () => {
    const result = await lower('FROM busybox\nRUN apk add curl\n', {
      buildArgs: new Map([['HTTPS_PROXY', 'http://proxy:3128']]),
    });
    const op = result.root?.op;
    expect(op?.kind === 'exec' ? op.proxyEnv : undefined).toEqual([
      'HTTPS_PROXY=http://proxy:3128',
    ]);
    expect(op?.kind === 'exec' ? op.env.join(' ') : '').not.toContain('PROXY');
    expect(JSON.stringify(result.image.history)).not.toContain('proxy');
    expect(result.warnings).toEqual([]);
  });

  it('marks every vertex ignoreCache with noCache', async () => {
    const result = await lower('FROM busybox\nCOPY a /a\nRUN true\n', { noCache: true });
    const metas = vertices(result.root).map((vertex) => vertex.meta.ignoreCache);
    expect(metas.length).toBe(4);
    expect(metas.filter((value) => value !== true)).toEqual([]);
  });

  it('names the context source and keeps .dockerignore patterns in order', async () => {
    const result = await lower('FROM busybox\nCOPY src /src\n', {
      contextName: 'ctx',
      dockerignore: ['**/*.tmp', '!keep.tmp'],
    });
    const context = vertices(result.root).find(
      (vertex) => vertex.op.kind === 'source' && vertex.op.source.type === 'local',
    );
    expect(context?.op).toEqual({
      kind: 'source',
      source: {
        type: 'local',
        name: 'ctx',
        excludePatterns: ['**/*.tmp', '!keep.tmp'],
        followPaths: ['src'],
      },
    });
  });

  it('resolves each base image once, in parallel, and only for needed stages', async () => {
    const calls: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const resolver = {
      async resolve(ref: string) {
        calls.push(ref);
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 20));
        inFlight -= 1;
        return { ref };
      },
    };
    await lower(
      'FROM alpine AS a\nFROM debian AS b\nFROM golang AS unused\nFROM alpine\nCOPY --from=a /x /x\nCOPY --from=b /y /y\n',
      { resolver },
    );
    expect(calls.sort()).toEqual([
      'docker.io/library/alpine:latest',
      'docker.io/library/debian:latest',
    ]);
    expect(maxInFlight).toBe(2);
  });

  it('stops when the signal is aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const error: unknown = await lower('FROM scratch\n', { signal: controller.signal }).catch(
      (e: unknown) => e,
    );
    expect(isTbuildError(error, 'TB_CANCELED')).toBe(true);
  });

  it('points errors at the instruction with a code frame source', async () => {
    const error: unknown = await lower('FROM scratch\nLABEL a=b\nEXPOSE 80/bogus\n').catch(
      (e: unknown) => e,
    );
    expect(isTbuildError(error, 'TB_DOCKERFILE_ARGUMENTS')).toBe(true);
    if (!isTbuildError(error)) return;
    expect(error.source).toEqual({
      file: 'Dockerfile',
      startLine: 3,
      endLine: 3,
      lines: ['EXPOSE 80/bogus'],
    });
  });

  it('suggests the stage a failed --from image was one typo away from, keeping the image hint', async () => {
    // A registry that has none of these images and says so with its own hint.
    const resolver = {
      resolve(ref: string) {
        if (ref === 'docker.io/library/busybox:latest') return Promise.resolve({ ref });
        return Promise.reject(
          new TbuildError('TB_IMAGE_NOT_FOUND', `image ${ref} not found`, {
            hint: 'check the image name and tag',
            details: { image: ref },
          }),
        );
      },
    };
    const failure = async (text: string): Promise<unknown> =>
      lower(text, { resolver }).catch((e: unknown) => e);
    const stages = 'FROM busybox AS builder\nRUN make\nFROM busybox\n';
    for (const line of ['COPY --from=buidler /x /x', 'RUN --mount=from=buidler,target=/b true']) {
      const error = await failure(`${stages}${line}\n`);
      expect(isTbuildError(error, 'TB_IMAGE_NOT_FOUND'), line).toBe(true);
      if (!isTbuildError(error)) return;
      expect(error.message).toContain('docker.io/library/buidler:latest');
      expect(error.hint).toBe('did you mean stage "builder"? (else: check the image name and tag)');
      expect(error.details).toMatchObject({ suggestion: 'builder' });
      expect(error.source?.lines).toEqual([line]);
    }
    // A name nowhere near a stage keeps the image's own hint alone.
    const far = await failure(`${stages}COPY --from=postgres /x /x\n`);
    expect(isTbuildError(far) ? far.hint : far).toBe('check the image name and tag');
  });
});
