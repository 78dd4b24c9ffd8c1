import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import { requires, rootWithBusybox, runTbuild } from '../harness/index.js';

/**
 * Issue #17: bytes that are not UTF-8. In a Dockerfile line they reach a RUN's
 * shell byte for byte (BuildKit keeps them in Go strings), not as U+FFFD; a file
 * name that is not UTF-8 fails the COPY with a hint to leave it out with
 * .dockerignore, and a pattern such as `bad*` or `*utf8` then does.
 */
const STRAY = Buffer.from([0x62, 0xff, 0xfe, 0x61, 0x64]); // b \xff \xfe a d

async function setup(ctx: TestContext): Promise<{ root: string; work: string }> {
  requires(ctx, 'root', 'overlay', 'busybox');
  const root = await rootWithBusybox();
  const work = await mkdtemp(join(tmpdir(), 'tbuild-raw-bytes-'));
  ctx.onTestFinished(async () => {
    await rm(root, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  });
  return { root, work };
}

describe('bytes that are not UTF-8', () => {
  it('reach a RUN from the Dockerfile unchanged', async (ctx) => {
    const { root, work } = await setup(ctx);
    const context = join(work, 'context');
    await mkdir(context);
    await writeFile(
      join(context, 'Dockerfile'),
      Buffer.concat([
        Buffer.from("FROM busybox\nRUN printf '%s' '"),
        STRAY,
        Buffer.from("' > /x\nRUN <<EOF\nprintf '%s' '"),
        STRAY,
        Buffer.from("' > /h\nEOF\n"),
      ]),
    );
    const out = join(work, 'out');
    const result = runTbuild(
      ['build', '--progress=plain', '-o', `type=local,dest=${out}`, context],
      { root },
    );
    expect(result.stderr).not.toMatch(/ERROR/);
    expect(result.code).toBe(0);
    expect([...(await readFile(join(out, 'x')))]).toEqual([...STRAY]);
    expect([...(await readFile(join(out, 'h')))]).toEqual([...STRAY]);
  });

  it('in a file name: the COPY fails with the hint, and a .dockerignore pattern leaves it out', async (ctx) => {
    const { root, work } = await setup(ctx);
    const context = join(work, 'context');
    await mkdir(context);
    await writeFile(join(context, 'Dockerfile'), 'FROM busybox\nCOPY . /c\n');
    await writeFile(join(context, 'good'), 'g');
    await writeFile(
      Buffer.concat([Buffer.from(`${context}/bad`), Buffer.from([0xff]), Buffer.from('utf8')]),
      'x',
    );
    const build = (name: string) =>
      runTbuild(
        ['build', '--progress=plain', '-o', `type=local,dest=${join(work, name)}`, context],
        { root },
      );

    const refused = build('refused');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/not valid UTF-8/);
    expect(refused.stderr).toMatch(/\.dockerignore/);

    for (const pattern of ['bad*', '*utf8']) {
      await writeFile(join(context, '.dockerignore'), `${pattern}\n`);
      const out = `out-${pattern.replace('*', 'star')}`;
      const result = build(out);
      expect(result.stderr, pattern).not.toMatch(/ERROR/);
      expect(result.code, pattern).toBe(0);
      expect((await readdir(join(work, out, 'c'))).sort(), pattern).toEqual([
        '.dockerignore',
        'Dockerfile',
        'good',
      ]);
    }
  });
});
