import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { formatError, isTbuildError } from '../../core/index.js';
import { main } from '../main.js';
import { runGraph, type GraphIo } from './graph.js';

const EXAMPLES = path.join(import.meta.dirname, '..', '..', 'Dockerfile.examples');

interface Captured extends GraphIo {
  out: string;
  err: string;
}

function capture(stdin = ''): Captured {
  const io: Captured = {
    out: '',
    err: '',
    stdout: (text) => {
      io.out += text;
    },
    stderr: (text) => {
      io.err += text;
    },
    readStdin: () => Promise.resolve(stdin),
  };
  return io;
}

interface GraphJson {
  root: string | null;
  vertices: { digest: string; name: string; op: { kind: string }; inputs: string[] }[];
  contextPaths: string[];
  image: { config: Record<string, unknown> };
}

describe('tbuild graph on Dockerfile.examples', async () => {
  const examples = (await readdir(EXAMPLES, { withFileTypes: true })).filter((entry) =>
    entry.isDirectory(),
  );

  it('has the examples the README and e2e tests use', () => {
    expect(examples.map((entry) => entry.name).sort()).toEqual(
      expect.arrayContaining([
        'cache-mount',
        'copy-link',
        'heredoc',
        'multi-stage',
        'non-root',
        'secret',
      ]),
    );
  });

  for (const example of examples) {
    it(`lowers ${example.name} to a connected DAG`, async () => {
      const io = capture();
      const dir = path.join(EXAMPLES, example.name);
      expect(await runGraph(['-f', path.join(dir, 'Dockerfile'), dir], io)).toBe(0);
      const graph = JSON.parse(io.out) as GraphJson;
      expect(graph.root).toBe(graph.vertices.at(-1)?.digest);
      const known = new Set<string>();
      for (const vertex of graph.vertices) {
        for (const input of vertex.inputs)
          expect(known.has(input), `${vertex.name} input`).toBe(true);
        known.add(vertex.digest);
      }
      expect(graph.vertices[0]?.op.kind).toBe('source');
    });
  }

  it('shows the multi-stage example as the README promises', async () => {
    const io = capture();
    const dir = path.join(EXAMPLES, 'multi-stage');
    expect(await runGraph(['-f', path.join(dir, 'Dockerfile'), dir], io)).toBe(0);
    const graph = JSON.parse(io.out) as GraphJson;
    const names = graph.vertices.map((vertex) => vertex.name);
    expect(names).toContain('[build 3/4] COPY src/ ./');
    expect(names).toContain('[stage-2 2/2] COPY --from=build /out/greet /usr/local/bin/greet');
    expect(names.some((name) => name.startsWith('[test'))).toBe(false);
    expect(graph.contextPaths).toEqual(['src']);
    const context = graph.vertices.find(
      (vertex) => vertex.name === '[internal] load build context',
    );
    expect(context?.op).toMatchObject({
      source: { excludePatterns: ['README.md', '*.tmp'], followPaths: ['src'] },
    });
    expect(graph.image.config['Entrypoint']).toEqual(['/usr/local/bin/greet']);
  });

  it('builds another target with --target and --build-arg', async () => {
    const io = capture();
    const dir = path.join(EXAMPLES, 'multi-stage');
    const argv = [
      '--target',
      'test',
      '--build-arg',
      'BASE=busybox:1.36',
      '-f',
      path.join(dir, 'Dockerfile'),
      dir,
    ];
    expect(await runGraph(argv, io)).toBe(0);
    const graph = JSON.parse(io.out) as GraphJson;
    expect(graph.vertices.map((vertex) => vertex.name)).toContain(
      '[test 3/3] RUN greet tbuild | grep -q "hello, tbuild"',
    );
    expect(io.out).toContain('docker.io/library/busybox:1.36');
  });

  it('prints Graphviz dot', async () => {
    const io = capture();
    const dir = path.join(EXAMPLES, 'copy-link');
    expect(await runGraph(['--format', 'dot', dir], io)).toBe(0);
    expect(io.out.startsWith('digraph build {')).toBe(true);
    expect(io.out).toContain('LINK COPY --link site/ /srv/www/');
    expect(io.out).toMatch(/"[0-9a-f]{12}" -> "[0-9a-f]{12}";/);
  });
});

describe('tbuild graph input and errors', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tbuild-graph-'));
    await writeFile(path.join(dir, 'Dockerfile'), 'FROM busybox\nCOPY a /a\n');
    await writeFile(path.join(dir, '.dockerignore'), '# comment\n\n*.log\n');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the Dockerfile from stdin with -f -', async () => {
    const io = capture('FROM scratch\nCOPY b /b\n');
    expect(await runGraph(['-f', '-', dir], io)).toBe(0);
    const graph = JSON.parse(io.out) as GraphJson;
    expect(graph.contextPaths).toEqual(['b']);
    expect(graph.vertices[0]?.op).toMatchObject({ source: { excludePatterns: ['*.log'] } });
  });

  it('warns about unused build args', async () => {
    const io = capture();
    expect(await runGraph(['--build-arg', 'NOPE=1', dir], io)).toBe(0);
    expect(io.err).toContain('[NOPE] were not consumed');
  });

  it('prints help', async () => {
    const io = capture();
    expect(await runGraph(['--help'], io)).toBe(0);
    expect(io.out).toContain('Usage: tbuild graph [OPTIONS] CONTEXT');
    expect(io.out).toContain('--build-arg');
  });

  it('rejects bad usage with TB_USAGE', async () => {
    for (const argv of [[], [dir, dir], ['--format', 'svg', dir], ['--bogus', dir]]) {
      const error: unknown = await runGraph(argv, capture()).catch((e: unknown) => e);
      expect(isTbuildError(error, 'TB_USAGE'), argv.join(' ')).toBe(true);
    }
  });

  it('reports Dockerfile errors with a code frame', async () => {
    const bad = path.join(dir, 'Bad.Dockerfile');
    await writeFile(
      bad,
      'FROM busybox AS base\nCOPY --from=missing-stage-5 /x /y\nEXPOSE 80/nope\n',
    );
    const error: unknown = await runGraph(['-f', bad, dir], capture()).catch((e: unknown) => e);
    expect(isTbuildError(error, 'TB_DOCKERFILE_ARGUMENTS')).toBe(true);
    if (!isTbuildError(error)) return;
    expect(formatError(error)).toContain(`${bad}:3`);
    expect(formatError(error)).toContain('>>> EXPOSE 80/nope');
  });

  it('honours --build-context: a directory, an image, an OCI layout and a git URL', async () => {
    const named = path.join(dir, 'named');
    await mkdir(named, { recursive: true });
    await writeFile(path.join(named, '.dockerignore'), 'secret.txt\n');
    const layout = path.join(dir, 'layout');
    await mkdir(layout, { recursive: true });
    const manifest = `sha256:${'ab'.repeat(32)}`;
    await writeFile(
      path.join(layout, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: manifest,
            size: 100,
            annotations: { 'org.opencontainers.image.ref.name': 'v1' },
          },
        ],
      }),
    );
    const dockerfile = path.join(dir, 'Named.Dockerfile');
    await writeFile(
      dockerfile,
      [
        'FROM base',
        'COPY --from=files / /files/',
        'COPY --from=layout /etc/os-release /os-release',
        'COPY --from=repo / /repo/',
      ].join('\n'),
    );
    const io = capture();
    const argv = [
      '--build-context',
      'base=docker-image://alpine:3.20',
      '--build-context',
      `files=${named}`,
      '--build-context',
      `layout=oci-layout://${layout}:v1`,
      '--build-context',
      'repo=https://example.com/repo.git#main',
      '-f',
      dockerfile,
      dir,
    ];
    expect(await runGraph(argv, io)).toBe(0);
    const graph = JSON.parse(io.out) as GraphJson;
    const sources = graph.vertices
      .filter((vertex) => vertex.op.kind === 'source')
      .map((vertex) => (vertex.op as unknown as { source: Record<string, unknown> }).source);
    expect(sources).toContainEqual(
      expect.objectContaining({ type: 'image', ref: 'docker.io/library/alpine:3.20' }),
    );
    expect(sources).toContainEqual(
      expect.objectContaining({ type: 'image', ref: `docker.io/tbuild/oci-layout@${manifest}` }),
    );
    expect(sources).toContainEqual(
      expect.objectContaining({
        type: 'local',
        name: 'named:files',
        excludePatterns: ['secret.txt'],
      }),
    );
    expect(sources).toContainEqual(expect.objectContaining({ type: 'local', name: 'named:repo' }));
    // Without the flags the same Dockerfile names an image "base" and stages that do not exist.
    expect(io.out).not.toContain('docker.io/library/base');
  });

  it('refuses a bad or missing --build-context', async () => {
    for (const [value, code] of [
      ['nameonly', 'TB_USAGE'],
      [`x=${path.join(dir, 'no-such-dir')}`, 'TB_FILE_READ'],
      [`x=oci-layout://${path.join(dir, 'no-layout')}`, 'TB_FILE_READ'],
    ] as const) {
      const error: unknown = await runGraph(['--build-context', value, dir], capture()).catch(
        (e: unknown) => e,
      );
      expect(isTbuildError(error, code), value).toBe(true);
    }
    const twice: unknown = await runGraph(
      ['--build-context', 'a=docker-image://x', '--build-context', 'a=docker-image://y', dir],
      capture(),
    ).catch((e: unknown) => e);
    expect(isTbuildError(twice, 'TB_USAGE')).toBe(true);
  });

  it('exits 2 on usage errors and 1 on Dockerfile errors through main', async () => {
    const spy = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(await main(['graph'])).toBe(2);
      const bad = path.join(dir, 'Cycle.Dockerfile');
      await writeFile(
        bad,
        'FROM busybox AS a\nCOPY --from=b /x /x\nFROM busybox AS b\nCOPY --from=a /y /y\n',
      );
      expect(await main(['graph', '-f', bad, dir])).toBe(1);
      expect(String(spy.mock.calls.at(-1)?.[0])).toContain('circular dependency between stages');
      expect(await main(['graph', '-f', path.join(dir, 'missing'), dir])).toBe(1);
    } finally {
      spy.mockRestore();
    }
  });
});
