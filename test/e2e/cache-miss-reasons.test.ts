import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { requires, rootWithBusybox, runTbuild, writeContext } from '../harness/index.js';

/**
 * A step that runs although an earlier build of the same Dockerfile had its
 * result says why, under its own number in plain progress: the first cause
 * on its step, `its parent step #N ran again` on the steps above it. Each
 * test builds once as it is (the step's last result is then that one), then
 * again with one thing changed.
 */
let work = '';
let root = '';
let context = '';
let baseContext = '';

const SOURCES = ['a.c', 'b.h', 'c.c', 'd.c', 'e.c', 'f.c', 'g.c', 'h.c', 'i.c', 'j.c'];

function dockerfile(options: { mode?: string; last?: string } = {}): string {
  return [
    'FROM mybase',
    'ARG VERSION=1',
    `ENV MODE=${options.mode ?? 'fast'}`,
    'COPY src /src',
    'RUN cat /src/* > /all && echo "$VERSION $MODE" > /v',
    options.last ?? 'RUN wc -c /all > /size',
    '',
  ].join('\n');
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) return;
  work = await mkdtemp(join(tmpdir(), 'tbuild-miss-reasons-'));
  root = await rootWithBusybox();
  baseContext = await writeContext(join(work, 'base'), {
    Dockerfile: 'FROM busybox\nRUN echo one > /base\n',
  });
  context = await writeContext(join(work, 'app'), {
    Dockerfile: dockerfile(),
    ...Object.fromEntries(SOURCES.map((name) => [`src/${name}`, `${name} 1\n`])),
    'Dockerfile.secret':
      'FROM busybox\nRUN --mount=type=secret,id=tok wc -c /run/secrets/tok > /n\n',
  });
});

afterAll(async () => {
  for (const dir of [work, root]) if (dir !== '') await rm(dir, { recursive: true, force: true });
});

function tbuild(args: readonly string[]): string {
  const result = runTbuild(args, { root });
  expect(result.code, result.stderr).toBe(0);
  return result.stderr;
}

function build(args: readonly string[] = []): Plain {
  return new Plain(tbuild(['build', '--progress=plain', ...args, context]));
}

function buildBase(command: string): void {
  writeFileSync(join(baseContext, 'Dockerfile'), `FROM busybox\nRUN ${command}\n`);
  tbuild(['build', '--progress=plain', '-t', 'mybase', baseContext]);
}

/** Plain progress, read back: each step's number, and its `cache miss:` line. */
class Plain {
  readonly text: string;
  readonly #names = new Map<number, string>();
  readonly #misses = new Map<number, string>();

  constructor(text: string) {
    this.text = text;
    for (const [, number, rest] of text.matchAll(/^#(\d+) (.*)$/gm)) {
      const step = Number(number);
      if (rest?.startsWith('[') === true && !this.#names.has(step)) this.#names.set(step, rest);
      if (rest?.startsWith('cache miss: ') === true)
        this.#misses.set(step, rest.slice('cache miss: '.length));
    }
  }

  /** The number of the step whose name starts with `prefix` (e.g. `[3/4]`). */
  number(prefix: string): number {
    const found = [...this.#names].find(([, name]) => name.startsWith(prefix));
    expect(found, `no step ${prefix} in:\n${this.text}`).toBeDefined();
    return found?.[0] ?? -1;
  }

  miss(prefix: string): string | undefined {
    return this.#misses.get(this.number(prefix));
  }

  get missCount(): number {
    return this.#misses.size;
  }
}

/** The explanation records under the root, with their modification times. */
function explanationFiles(): Map<string, number> {
  const dir = join(root, 'v1/explain/steps');
  return new Map(readdirSync(dir).map((name) => [name, statSync(join(dir, name)).mtimeMs]));
}

function setup(ctx: TestContext): void {
  requires(ctx, 'root', 'overlay', 'busybox');
  buildBase('echo one > /base');
  writeFileSync(join(context, 'Dockerfile'), dockerfile());
}

describe('why a step missed the cache', () => {
  it('says nothing on a fully cached rebuild, nor when only a secret changed', (ctx) => {
    setup(ctx);
    build();
    const records = explanationFiles();
    expect(records.size).toBeGreaterThan(0);
    const rebuilt = build();
    expect(rebuilt.missCount, rebuilt.text).toBe(0);
    expect(rebuilt.text).not.toContain('cache miss');
    // A rebuild that runs nothing writes no explanation record either.
    expect(explanationFiles()).toEqual(records);

    const secret = join(work, 'token');
    const withSecret = (value: string): Plain => {
      writeFileSync(secret, value);
      return new Plain(
        tbuild([
          'build',
          '--progress=plain',
          '-f',
          join(context, 'Dockerfile.secret'),
          '--secret',
          `id=tok,src=${secret}`,
          context,
        ]),
      );
    };
    withSecret('first-secret-value');
    // Secrets are never part of a key: another value is no miss at all.
    const again = withSecret('another-secret-value-longer');
    expect(again.text).toContain('CACHED');
    expect(again.text).not.toContain('cache miss');
  });

  it('names a changed build arg on its step and the parent on the step above', (ctx) => {
    setup(ctx);
    build();
    const changed = build(['--build-arg', 'VERSION=value-never-shown']);
    expect(changed.miss('[3/4]')).toBe('ARG VERSION changed');
    expect(changed.miss('[4/4]')).toBe(
      `its parent step #${String(changed.number('[3/4]'))} ran again`,
    );
    expect(changed.miss('[2/4]')).toBeUndefined();
    expect(changed.text).not.toContain('value-never-shown');
  });

  it('names an ENV changed above the step', (ctx) => {
    setup(ctx);
    build();
    writeFileSync(join(context, 'Dockerfile'), dockerfile({ mode: 'slow' }));
    const changed = build();
    expect(changed.miss('[3/4]')).toBe('ENV MODE changed');
    expect(changed.miss('[4/4]')).toMatch(/^its parent step #\d+ ran again$/);
  });

  it('says the instruction changed', (ctx) => {
    setup(ctx);
    build();
    writeFileSync(join(context, 'Dockerfile'), dockerfile({ last: 'RUN wc -l /all > /size' }));
    const changed = build();
    expect(changed.miss('[4/4]')).toBe('the instruction changed');
    expect(changed.miss('[3/4]')).toBeUndefined();
  });

  it('lists the context files that changed, and how many more', (ctx) => {
    setup(ctx);
    build();
    const edit = (names: readonly string[], version: string): void => {
      for (const name of names) writeFileSync(join(context, 'src', name), `${name} ${version}\n`);
    };
    edit(['a.c', 'b.h'], '2');
    const two = build();
    expect(two.miss('[2/4]')).toBe('context files changed: src/a.c, src/b.h');
    expect(two.miss('[3/4]')).toBe(`its parent step #${String(two.number('[2/4]'))} ran again`);

    edit(['c.c', 'd.c', 'e.c', 'f.c', 'g.c', 'h.c'], '3');
    const six = build();
    expect(six.miss('[2/4]')).toBe('context files changed: src/c.c, src/d.c, src/e.c (+3 more)');
  });

  it('names the base image when the image behind FROM changed', (ctx) => {
    setup(ctx);
    build();
    buildBase('echo two > /base');
    const changed = build();
    const from = changed.miss('[1/4]');
    expect(from).toMatch(/^the base image changed \(sha256:[0-9a-f]{12} → sha256:[0-9a-f]{12}\)$/);
    const [, before, after] = /\((\S+) → (\S+)\)/.exec(from ?? '') ?? [];
    expect(before).not.toBe(after);
    expect(changed.miss('[2/4]')).toBe(
      `its parent step #${String(changed.number('[1/4]'))} ran again`,
    );
  });

  it('rawjson carries the reasons and the compared components as a structured object', (ctx) => {
    setup(ctx);
    build();
    const output = tbuild(['build', '--progress=rawjson', '--build-arg', 'VERSION=3', context]);
    const misses = output
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as { cacheMisses?: { reasons: unknown[]; components: unknown[] }[] },
      )
      .flatMap((status) => status.cacheMisses ?? []);
    expect(misses.map((miss) => miss.reasons)).toContainEqual([
      { kind: 'arg', names: ['VERSION'] },
    ]);
    expect(misses.flatMap((miss) => miss.components)).toContainEqual({
      component: 'ARG VERSION',
      same: false,
    });
  });

  it('--explain lists every component of the key under the miss', (ctx) => {
    setup(ctx);
    build();
    const explained = build(['--explain', '--build-arg', 'VERSION=4']);
    const step = String(explained.number('[3/4]'));
    expect(explained.text).toContain(`#${step} cache miss: ARG VERSION changed\n`);
    expect(explained.text).toContain(`#${step}   instruction: same\n`);
    expect(explained.text).toContain(`#${step}   ARG VERSION: changed\n`);
    expect(explained.text).toContain(`#${step}   ENV MODE: same\n`);
  });
});
