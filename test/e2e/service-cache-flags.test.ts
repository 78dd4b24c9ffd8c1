import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  requires,
  rootWithBusybox,
  startRegistry,
  startTbuildService,
  type TestRegistry,
  type TestService,
  tarOfFiles,
} from '../harness/index.js';

/**
 * `cache-to` / `cache-from` as query parameters of `POST /v1/builds`: one
 * `tbuild serve` on an empty root exports its build to a registry, a second one
 * on another empty root imports it and runs no step.
 */
let registry: TestRegistry | undefined;
const roots: string[] = [];

beforeAll(async () => {
  if (process.getuid?.() !== 0) return;
  registry = await startRegistry();
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

interface BuildView {
  readonly status: string;
  readonly steps: readonly { readonly name: string; readonly cached: boolean }[];
  readonly error?: { code: string; message: string };
}

/** Builds `files` on a new service with an empty root; the query as `?name=value&…`. */
async function buildOnNewService(
  files: Record<string, string>,
  query: URLSearchParams,
): Promise<BuildView> {
  const root = await rootWithBusybox();
  roots.push(root);
  const service: TestService = await startTbuildService({ root });
  try {
    const response = await fetch(`${service.url}/v1/builds?${query.toString()}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-tar' },
      body: await tarOfFiles(files),
    });
    const body = (await response.json()) as { id: string };
    expect(response.status, JSON.stringify(body)).toBe(202);
    for (;;) {
      const build = (await (
        await fetch(`${service.url}/v1/builds/${body.id}`)
      ).json()) as BuildView;
      if (['succeeded', 'failed', 'cancelled'].includes(build.status)) return build;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    await service.stop();
  }
}

describe('the service API takes cache-to and cache-from', () => {
  it('one service exports its cache to a registry; another, with an empty store, imports it and runs nothing', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox', 'docker-registry');
    const ref = `${registry?.host ?? ''}/service/cache:flags`;
    const files = {
      Dockerfile: 'FROM busybox\nCOPY c.txt /c.txt\nRUN cat /c.txt > /made\n',
      'c.txt': `service cache ${String(Date.now())}\n`,
    };
    const run = (build: BuildView) => build.steps.find((step) => step.name.includes('RUN cat'));

    const exported = await buildOnNewService(
      files,
      new URLSearchParams([['cache-to', `type=registry,ref=${ref},mode=max`]]),
    );
    expect(exported.status, JSON.stringify(exported.error)).toBe('succeeded');
    expect(run(exported)).toMatchObject({ cached: false });

    const imported = await buildOnNewService(files, new URLSearchParams([['cache-from', ref]]));
    expect(imported.status, JSON.stringify(imported.error)).toBe('succeeded');
    expect(run(imported)).toMatchObject({ cached: true });
  }, 300_000);
});
