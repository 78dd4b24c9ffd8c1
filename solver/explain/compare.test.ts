import { describe, expect, it } from 'vitest';
import { sha256Digest, type Digest } from '../../core/index.js';
import { explainMiss, FILES_LISTED, type InputNow } from './compare.js';
import { changedPaths } from './files.js';
import { EXPLANATION_VERSION, isStepExplanation, type StepExplanation } from './record.js';

const d = (text: string): Digest => sha256Digest(text);

function explanation(overrides: Partial<StepExplanation> = {}): StepExplanation {
  return {
    version: EXPLANATION_VERSION,
    step: 'Dockerfile#stage 0 step 2',
    key: d('key'),
    instruction: 'RUN make',
    vars: { 'ARG VERSION': d('1'), 'ENV PATH': d('/bin') },
    op: d('op'),
    inputs: [{ key: d('parent') }],
    ...overrides,
  };
}

const parent: InputNow = {
  vertex: d('v-parent'),
  name: '[1/2] COPY . /src',
  ran: false,
  image: false,
};

describe('explainMiss', () => {
  it('names the instruction when its text changed', () => {
    const now = explanation({ key: d('k2'), op: d('op2'), instruction: 'RUN make all' });
    expect(explainMiss(explanation(), now, [parent]).reasons).toEqual([
      { kind: 'instruction', before: 'RUN make', after: 'RUN make all' },
    ]);
  });

  it('names a changed, added or removed build arg and ENV by name only', () => {
    const now = explanation({
      key: d('k2'),
      op: d('op2'),
      vars: { 'ARG VERSION': d('2'), 'ENV PATH': d('/bin'), 'ENV HOME': d('/root') },
    });
    const { reasons, components } = explainMiss(explanation(), now, [parent]);
    expect(reasons).toEqual([
      { kind: 'arg', names: ['VERSION'] },
      { kind: 'env', names: ['HOME'] },
    ]);
    // The comparison shows whether a variable changed, never a digest of its value.
    expect(components.find((row) => row.component === 'ARG VERSION')).toEqual({
      component: 'ARG VERSION',
      same: false,
    });
    expect(components.find((row) => row.component === 'ENV HOME')).toEqual({
      component: 'ENV HOME',
      same: false,
      before: 'unset',
    });
    expect(JSON.stringify(components)).not.toContain(d('2'));
  });

  it("names the base image behind FROM with both image IDs when the FROM step's own definition changed", () => {
    const before = explanation({
      instruction: 'FROM base',
      vars: {},
      origin: d('image-a'),
      inputs: [],
    });
    const now = { ...before, key: d('k2'), op: d('chain-b'), origin: d('image-b') };
    expect(explainMiss(before, now, []).reasons).toEqual([
      { kind: 'base-image', before: d('image-a'), after: d('image-b') },
    ]);
  });

  it('names the base image for a step on a FROM that did not run again, its parent when it did', () => {
    const before = explanation({ inputs: [{ key: d('chain-a'), origin: d('image-a') }] });
    const now = explanation({
      key: d('k2'),
      inputs: [{ key: d('chain-b'), origin: d('image-b') }],
    });
    const image = { ...parent, image: true };
    expect(explainMiss(before, now, [image]).reasons).toEqual([
      { kind: 'base-image', before: d('image-a'), after: d('image-b') },
    ]);
    expect(explainMiss(before, now, [{ ...image, ran: true }]).reasons).toEqual([
      { kind: 'parent', vertex: parent.vertex, name: parent.name, ran: true },
    ]);
  });

  it('names a parent whose key changed, and says whether it ran in this build', () => {
    const now = explanation({ key: d('k2'), inputs: [{ key: d('parent2') }] });
    expect(explainMiss(explanation(), now, [{ ...parent, ran: true }]).reasons).toEqual([
      { kind: 'parent', vertex: parent.vertex, name: parent.name, ran: true },
    ]);
    expect(explainMiss(explanation(), now, [parent]).reasons).toEqual([
      { kind: 'parent', vertex: parent.vertex, name: parent.name, ran: false },
    ]);
  });

  it('lists the context files that changed, at most FILES_LISTED of them, and counts all', () => {
    const names = Array.from(
      { length: FILES_LISTED + 5 },
      (_, index) => `src/f${String(index).padStart(2, '0')}`,
    );
    const files = (version: string) => ({
      digests: Object.fromEntries([
        ['src', d(`dir${version}`)],
        ...names.map((name): [string, string] => [name, d(`${name}${version}`)]),
        ['README', d('readme')],
      ]),
      listed: ['src'],
    });
    const before = explanation({
      inputs: [{ key: d('parent') }, { content: d('c1'), files: files('1') }],
    });
    const now = explanation({
      key: d('k2'),
      inputs: [{ key: d('parent') }, { content: d('c2'), files: files('2') }],
    });
    const [reason] = explainMiss(before, now, [parent, parent]).reasons;
    expect(reason).toEqual({
      kind: 'files',
      paths: names.slice(0, FILES_LISTED),
      count: names.length,
    });
  });

  it('says context files changed without paths when no listing was kept', () => {
    const before = explanation({ inputs: [{ content: d('c1') }] });
    const now = explanation({ key: d('k2'), inputs: [{ content: d('c2') }] });
    expect(explainMiss(before, now, [parent]).reasons).toEqual([
      { kind: 'files', paths: [], count: 0 },
    ]);
  });

  it('reports every first cause at once', () => {
    const now = explanation({
      key: d('k2'),
      op: d('op2'),
      instruction: 'RUN make all',
      inputs: [{ key: d('parent2') }],
    });
    expect(
      explainMiss(explanation(), now, [{ ...parent, ran: true }]).reasons.map((r) => r.kind),
    ).toEqual(['instruction', 'parent']);
  });

  it('blames the settings when the definition changed in nothing the Dockerfile shows', () => {
    const now = explanation({ key: d('k2'), op: d('op2') });
    expect(explainMiss(explanation(), now, [parent]).reasons).toEqual([{ kind: 'settings' }]);
  });

  it('says the result was removed when the key is the one recorded', () => {
    expect(explainMiss(explanation(), explanation(), [parent]).reasons).toEqual([
      { kind: 'evicted' },
    ]);
  });

  it('compares every component', () => {
    const now = explanation({ key: d('k2'), inputs: [{ key: d('parent2') }] });
    const rows = explainMiss(explanation(), now, [parent]).components;
    expect(rows.map((row) => [row.component, row.same])).toEqual([
      ['instruction', true],
      ['ARG VERSION', true],
      ['ENV PATH', true],
      ['settings', true],
      ['input 0 ([1/2] COPY . /src)', false],
    ]);
  });
});

describe('changedPaths', () => {
  it('descends where both listings went, and stops at a directory only one listed', () => {
    const before = {
      digests: {
        src: d('s1'),
        'src/a.c': d('a1'),
        'src/b.h': d('b'),
        lib: d('l1'),
        'lib/x': d('x1'),
      },
      listed: ['src', 'lib'],
    };
    const after = {
      digests: {
        src: d('s2'),
        'src/a.c': d('a2'),
        'src/b.h': d('b'),
        'src/new.c': d('n'),
        lib: d('l2'),
      },
      listed: ['src'],
    };
    expect(changedPaths(before, after)).toEqual(['lib', 'src/a.c', 'src/new.c']);
  });

  it('names removed files, and a directory whose own entry alone changed', () => {
    const before = { digests: { '': d('r1'), a: d('a'), gone: d('g'), d: d('d1') }, listed: [''] };
    const after = { digests: { '': d('r2'), a: d('a'), d: d('d2') }, listed: ['', 'd'] };
    expect(changedPaths(before, after)).toEqual(['d', 'gone']);
    const modeOnly = { digests: { '': d('r3'), a: d('a'), d: d('d1') }, listed: [''] };
    expect(
      changedPaths({ digests: { '': d('r1'), a: d('a'), d: d('d1') }, listed: [''] }, modeOnly),
    ).toEqual(['']);
  });
});

describe('isStepExplanation', () => {
  it('accepts an explanation and refuses anything else', () => {
    expect(isStepExplanation(JSON.parse(JSON.stringify(explanation())))).toBe(true);
    expect(isStepExplanation({ ...explanation(), version: 'tbuild.explain.v0' })).toBe(false);
    expect(isStepExplanation({ ...explanation(), inputs: [{ content: 'nope' }] })).toBe(false);
    expect(isStepExplanation(null)).toBe(false);
  });
});
