import { describe, expect, it } from 'vitest';
import { sha256Digest, type ProgressEvent, type VertexCacheMiss } from '../../core/index.js';
import { cacheMissLine } from './cache-miss.js';
import { PlainDisplay } from './plain.js';
import { RawJsonDisplay } from './rawjson.js';
import { ProgressState } from './state.js';
import { renderTty } from './tty.js';

const copy = sha256Digest('copy');
const run = sha256Digest('run');
const imageA = sha256Digest('image a');
const imageB = sha256Digest('image b');

function capture(): { out: { write: (text: string) => void }; text: () => string } {
  const chunks: string[] = [];
  return { out: { write: (text) => chunks.push(text) }, text: () => chunks.join('') };
}

function miss(reasons: VertexCacheMiss['reasons'], vertex = run): VertexCacheMiss {
  return {
    type: 'vertex.cache-miss',
    vertex,
    at: 1100,
    reasons,
    components: [
      { component: 'instruction', same: true, before: 'RUN make', after: 'RUN make' },
      { component: 'ARG VERSION', same: false },
      { component: 'input 0', same: false, before: imageA, after: imageB },
    ],
  };
}

const none = (): undefined => undefined;

describe('cache miss lines', () => {
  it('say each kind of reason in a few words', () => {
    expect(cacheMissLine(miss([{ kind: 'instruction', before: 'a', after: 'b' }]), none)).toBe(
      'cache miss: the instruction changed',
    );
    expect(
      cacheMissLine(
        miss([
          { kind: 'arg', names: ['VERSION'] },
          { kind: 'env', names: ['A', 'B'] },
        ]),
        none,
      ),
    ).toBe('cache miss: ARG VERSION changed; ENV A, B changed');
    expect(cacheMissLine(miss([{ kind: 'base-image', before: imageA, after: imageB }]), none)).toBe(
      `cache miss: the base image changed (${imageA.slice(0, 19)} → ${imageB.slice(0, 19)})`,
    );
    expect(
      cacheMissLine(miss([{ kind: 'parent', vertex: copy, name: 'COPY', ran: true }]), () => 4),
    ).toBe('cache miss: its parent step #4 ran again');
    expect(cacheMissLine(miss([{ kind: 'evicted' }]), none)).toContain('removed');
    expect(cacheMissLine(miss([{ kind: 'settings' }]), none)).toContain('settings');
  });

  it('name the first changed paths and count the rest', () => {
    const paths = ['src/a.c', 'src/b.h', 'src/c.c', 'src/d.c', 'with\nnewline'];
    expect(cacheMissLine(miss([{ kind: 'files', paths, count: 7 }]), none)).toBe(
      'cache miss: context files changed: src/a.c, src/b.h, src/c.c (+4 more)',
    );
    expect(cacheMissLine(miss([{ kind: 'files', paths: [''], count: 1 }]), none)).toBe(
      'cache miss: context files changed: .',
    );
    expect(cacheMissLine(miss([{ kind: 'files', paths: ['x\ny'], count: 1 }]), none)).toBe(
      'cache miss: context files changed: "x\\ny"',
    );
  });
});

const events: ProgressEvent[] = [
  { type: 'vertex.cached', vertex: copy, name: '[1/2] COPY . /src', at: 1000 },
  { type: 'vertex.started', vertex: run, name: '[2/2] RUN make', inputs: [copy], at: 1000 },
  miss([{ kind: 'parent', vertex: copy, name: '[1/2] COPY . /src', ran: false }]),
  { type: 'vertex.completed', vertex: run, at: 1500 },
];

describe('displays', () => {
  it('plain prints the line under its step, and the components with --explain only', () => {
    const plain = capture();
    const display = new PlainDisplay(plain.out, () => 0);
    for (const event of events) display.sink(event);
    expect(plain.text()).toContain('#2 cache miss: its parent step #1 has another result\n#2 DONE');
    const explained = capture();
    const verbose = new PlainDisplay(explained.out, () => 0, { explain: true });
    for (const event of events) verbose.sink(event);
    expect(explained.text()).toContain(
      [
        '#2 cache miss: its parent step #1 has another result',
        '#2   instruction: same',
        '#2   ARG VERSION: changed',
        `#2   input 0: changed: ${imageA.slice(0, 19)} → ${imageB.slice(0, 19)}`,
        '#2 DONE',
      ].join('\n'),
    );
  });

  it('tty shows the line dimmed under its step', () => {
    const state = new ProgressState(0);
    for (const event of events) state.apply(event);
    const rows = renderTty(state, 2000, { finished: true, columns: 100, rows: 20 });
    expect(rows).toContain(
      '\x1b[2m => => cache miss: its parent step #1 has another result\x1b[22m',
    );
  });

  it('rawjson carries the reasons and components as a structured object', () => {
    const { out, text } = capture();
    const display = new RawJsonDisplay(out);
    for (const event of events) display.sink(event);
    const lines = text()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const found = lines.find((line) => 'cacheMisses' in line);
    expect(found).toEqual({
      cacheMisses: [
        {
          vertex: run,
          reasons: [{ kind: 'parent', vertex: copy, name: '[1/2] COPY . /src', ran: false }],
          components: miss([]).components,
          timestamp: new Date(1100).toISOString(),
        },
      ],
    });
  });
});
