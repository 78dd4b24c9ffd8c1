import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The build scenarios of issue #4's benchmark, each a context directory with a Dockerfile. */
export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** Creates the context (an edit, if the scenario has one, is a separate function). */
  prepare(dir: string): void;
  /** Builds FROM the Debian minbase image (scripts/make-debian-image.sh), not only busybox. */
  readonly needsDebian?: boolean;
}

export const wide: Scenario = {
  name: 'wide',
  description: '6 independent stages, each RUN sleep 1',
  prepare(dir) {
    const stages = Array.from(
      { length: 6 },
      (_, i) =>
        `FROM busybox AS s${String(i)}\nRUN sleep 1 && echo ${String(i)} > /out${String(i)}\n`,
    );
    const final = [
      'FROM busybox',
      ...Array.from({ length: 6 }, (_, i) => `COPY --from=s${String(i)} /out${String(i)} /`),
    ].join('\n');
    writeFileSync(join(dir, 'Dockerfile'), `${stages.join('\n')}\n${final}\n`);
  },
};

export const chain: Scenario = {
  name: 'chain',
  description: 'a chain of 40 trivial RUNs',
  prepare(dir) {
    const runs = Array.from({ length: 40 }, (_, i) => `RUN echo ${String(i)} > /step${String(i)}`);
    writeFileSync(join(dir, 'Dockerfile'), ['FROM busybox', ...runs].join('\n') + '\n');
  },
};

/** 20k files, 120 MB: 200 directories of 100 files of 6 KB (deterministic content). */
export const context: Scenario = {
  name: 'context',
  description: 'COPY of a generated 20k-file 120 MB context',
  prepare(dir) {
    writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox\nCOPY src /src\nRUN ls /src | wc -l\n');
    for (let d = 0; d < 200; d++) {
      const sub = join(dir, 'src', `d${String(d)}`);
      mkdirSync(sub, { recursive: true });
      for (let f = 0; f < 100; f++) {
        const block = Buffer.alloc(6000, `${String(d)}-${String(f)}-`);
        writeFileSync(join(sub, `f${String(f)}.txt`), block);
      }
    }
  },
};

/** Changes one byte of one file of the context scenario. */
export function editOneFile(dir: string, round: number): void {
  writeFileSync(join(dir, 'src/d7/f7.txt'), Buffer.alloc(6000, `edit-${String(round)}-`));
}

export function freshDir(root: string, name: string): string {
  const dir = join(root, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}
