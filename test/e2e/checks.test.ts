import { join } from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import {
  requires,
  runTbuild,
  startTbuildService,
  useBuildRoot,
  writeContext,
  type CliResult,
  tarOfFiles,
} from '../harness/index.js';

/**
 * Dockerfile build checks and `--call` through the built CLI, as docker buildx:
 * `--check` (text, JSON, exit codes), `--call=targets` and `--call=outline`, the
 * warnings listed after a normal build, `# check=error=true` failing before any
 * step, and the `# syntax=` directive.
 */
let root = '';
let work = '';
useBuildRoot('tbuild-e2e-checks-', (dirs) => {
  ({ root, work } = dirs);
});

let contexts = 0;

async function tbuild(dockerfile: string, args: readonly string[]): Promise<CliResult> {
  const dir = await writeContext(join(work, `ctx-${String(++contexts)}`), {
    Dockerfile: dockerfile,
  });
  return runTbuild(['build', ...args, dir], { root });
}

function needs(ctx: TestContext): void {
  requires(ctx, 'root', 'overlay', 'busybox');
}

const WARNED = 'FROM busybox\nMAINTAINER me\nCMD echo hi\n';

const DESCRIBED = `# syntax=docker/dockerfile:1

# VERSION sets the version to build
ARG VERSION=1.2

# base is the stage with the tools
FROM busybox AS base
# LEVEL sets the log level
ARG LEVEL=info
RUN --mount=type=secret,id=token,required=true true

# release is the image to ship
FROM base AS release
ARG VERSION
`;

describe('--check', () => {
  it('says so and exits 0 when there is nothing to say', async (ctx) => {
    needs(ctx);
    const result = await tbuild('FROM busybox\nCMD ["true"]\n', ['--check']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('Check complete, no warnings found.\n');
  });

  it('prints each warning with its rule, URL and lines, and exits 1', async (ctx) => {
    needs(ctx);
    const result = await tbuild(WARNED, ['--check']);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toMatch(/^Check complete, 2 warnings have been found!\n\n/);
    expect(result.stdout).toContain(
      'WARNING: MaintainerDeprecated - https://docs.docker.com/go/dockerfile/rule/maintainer-deprecated/\n' +
        'Maintainer instruction is deprecated in favor of using label\n',
    );
    expect(result.stdout).toContain(
      'WARNING: JSONArgsRecommended - https://docs.docker.com/go/dockerfile/rule/json-args-recommended/\n',
    );
    expect(result.stdout).toContain('Dockerfile:2\n--------------------\n');
    expect(result.stdout).toContain('   2 | >>> MAINTAINER me\n');
  });

  it('gives the lint results as JSON with --call=check,format=json', async (ctx) => {
    needs(ctx);
    const result = await tbuild(WARNED, ['--call=check,format=json']);
    expect(result.code, result.stderr).toBe(1);
    const parsed = JSON.parse(result.stdout) as {
      warnings: { ruleName: string; detail: string; location: unknown }[];
      sources: { data: string }[];
    };
    expect(parsed.warnings.map((warning) => warning.ruleName)).toEqual([
      'MaintainerDeprecated',
      'JSONArgsRecommended',
    ]);
    expect(parsed.warnings[0]?.location).toEqual({
      ranges: [{ start: { line: 2 }, end: { line: 2 } }],
    });
    expect(Buffer.from(parsed.sources[0]?.data ?? '', 'base64').toString()).toBe(WARNED);
  });

  it('skips what # check=skip= names', async (ctx) => {
    needs(ctx);
    const result = await tbuild(
      `# check=skip=MaintainerDeprecated,JSONArgsRecommended\n${WARNED}`,
      ['--check'],
    );
    expect(result.code, result.stdout).toBe(0);
  });
});

describe('--call=targets and --call=outline', () => {
  it('lists the stages with their descriptions and the default', async (ctx) => {
    needs(ctx);
    const text = await tbuild(DESCRIBED, ['--call=targets']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toBe(
      'TARGET            DESCRIPTION\n' +
        'base              is the stage with the tools\n' +
        'release (default) is the image to ship\n',
    );
    const json = await tbuild(DESCRIBED, ['--call=targets,format=json']);
    const list = JSON.parse(json.stdout) as { targets: { name: string; default?: boolean }[] };
    expect(list.targets.map((target) => [target.name, target.default])).toEqual([
      ['base', undefined],
      ['release', true],
    ]);
  });

  it("outlines the target's build args and secrets", async (ctx) => {
    needs(ctx);
    const text = await tbuild(DESCRIBED, ['--call=outline']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toBe(
      'TARGET:      release\n' +
        'DESCRIPTION: is the image to ship\n\n' +
        'BUILD ARG   VALUE   DESCRIPTION\n' +
        'VERSION     1.2     sets the version to build\n' +
        'LEVEL       info    sets the log level\n\n' +
        'SECRET   REQUIRED\n' +
        'token    true\n\n',
    );
    const json = await tbuild(DESCRIBED, ['--call=outline,format=json', '--target=base']);
    const outline = JSON.parse(json.stdout) as { name: string; args: { name: string }[] };
    expect(outline.name).toBe('base');
    expect(outline.args.map((arg) => arg.name)).toEqual(['LEVEL']);
  });
});

describe('checks in a build', () => {
  it('lists the warnings after the build in plain progress', async (ctx) => {
    needs(ctx);
    const result = await tbuild('FROM busybox\nMAINTAINER me\nRUN true\n', [
      '--progress=plain',
      '-t',
      'checks-warned',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(
      /DONE [\d.]+s\n\n 1 warning found \(use docker --debug to expand\):\n - MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label \(line 2\)\n$/,
    );
  });

  it('fails before any step with # check=error=true, naming the rules', async (ctx) => {
    needs(ctx);
    const result = await tbuild('# check=error=true\nFROM busybox\nMAINTAINER me\nRUN true\n', [
      '--progress=plain',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('lint violation found for rules: MaintainerDeprecated');
    expect(result.stderr).toContain('error code: TB_DOCKERFILE_CHECK');
    expect(result.stderr).not.toContain('RUN true');
  });

  it('takes --build-arg BUILDKIT_DOCKERFILE_CHECK over the directive', async (ctx) => {
    needs(ctx);
    const result = await tbuild('# check=error=true\nFROM busybox\nMAINTAINER me\n', [
      '--progress=plain',
      '-t',
      'checks-skipped',
      '--build-arg',
      'BUILDKIT_DOCKERFILE_CHECK=skip=all',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toContain('warning');
  });

  it('accepts # syntax=docker/dockerfile:1 silently and warns about another frontend', async (ctx) => {
    needs(ctx);
    const ours = await tbuild('# syntax=docker/dockerfile:1.7-labs\nFROM busybox\n', [
      '--progress=plain',
      '-t',
      'checks-syntax',
    ]);
    expect(ours.code, ours.stderr).toBe(0);
    expect(ours.stderr).not.toContain('WARNING');
    const other = await tbuild('# syntax=example.com/frontend:2\nFROM busybox\n', [
      '--progress=plain',
      '-t',
      'checks-syntax',
    ]);
    expect(other.code, other.stderr).toBe(0);
    expect(other.stderr).toContain(
      'WARNING: the syntax directive names the frontend image "example.com/frontend:2": tbuild builds with its own Dockerfile frontend',
    );
  });
});

describe('checks in a build of the service', () => {
  it('records the warnings in its events and its log', async (ctx) => {
    needs(ctx);
    const service = await startTbuildService({ root });
    try {
      const response = await fetch(`${service.url}/v1/builds?tag=checks/svc:1`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-tar' },
        body: await tarOfFiles({ Dockerfile: 'FROM busybox\nMAINTAINER me\n' }),
      });
      expect(response.status).toBe(202);
      const { id } = (await response.json()) as { id: string };
      // The event stream ends with the build.
      const events = await (await fetch(`${service.url}/v1/builds/${id}/events`)).text();
      const warnings = events
        .split('\n')
        .filter((line) => line.startsWith('data: {'))
        .flatMap(
          (line) =>
            (JSON.parse(line.slice('data: '.length)) as { warnings?: { url?: string }[] })
              .warnings ?? [],
        );
      expect(warnings.map((warning) => warning.url)).toContain(
        'https://docs.docker.com/go/dockerfile/rule/maintainer-deprecated/',
      );
      const log = await (await fetch(`${service.url}/v1/builds/${id}/logs`)).text();
      expect(log).toContain(
        ' 1 warning found (use docker --debug to expand):\n - MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label (line 2)\n',
      );
    } finally {
      await service.stop();
    }
  });
});
