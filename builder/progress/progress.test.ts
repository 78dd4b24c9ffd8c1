import { describe, expect, it } from 'vitest';
import { sha256Digest, type ProgressEvent } from '../../core/index.js';
import { PlainDisplay } from './plain.js';
import { RawJsonDisplay } from './rawjson.js';
import { ProgressState } from './state.js';
import { renderTty } from './tty.js';

const build = sha256Digest('build');
const copy = sha256Digest('copy');
const run = sha256Digest('run');

function capture(): { out: { write: (text: string) => void }; text: () => string } {
  const chunks: string[] = [];
  return { out: { write: (text) => chunks.push(text) }, text: () => chunks.join('') };
}

function log(
  vertex: typeof build,
  at: number,
  text: string,
  stream: 'stdout' | 'stderr' = 'stdout',
): ProgressEvent {
  return { type: 'vertex.log', vertex, at, stream, data: Buffer.from(text) };
}

/** A build with a cached step, a step that logs, and a failing step interleaved with it. */
const events: ProgressEvent[] = [
  { type: 'vertex.cached', vertex: copy, name: '[build 1/3] COPY . /src', at: 1000 },
  { type: 'vertex.started', vertex: build, name: '[build 2/3] RUN make', inputs: [copy], at: 1000 },
  log(build, 1123, 'compiling a\ncompil'),
  { type: 'vertex.started', vertex: run, name: '[build 3/3] RUN ./test', inputs: [], at: 1200 },
  log(run, 1300, 'test failed\n', 'stderr'),
  {
    type: 'vertex.error',
    vertex: run,
    at: 1400,
    error: {
      code: 'TB_INTERNAL',
      message: 'process "/bin/sh -c ./test" did not complete successfully: exit code: 1',
    },
  },
  log(build, 1500, 'ing b\n'),
  { type: 'vertex.completed', vertex: build, at: 2400 },
];

describe('plain progress', () => {
  it('prints steps like BuildKit, with every log line and a failure block', () => {
    const { out, text } = capture();
    const display = new PlainDisplay(out, () => 0);
    for (const event of events) display.sink(event);
    display.finish();
    expect(text()).toBe(
      [
        '#1 [build 1/3] COPY . /src',
        '#1 CACHED',
        '',
        '#2 [build 2/3] RUN make',
        '#2 0.123 compiling a',
        '#2 ...',
        '',
        '#3 [build 3/3] RUN ./test',
        '#3 0.100 test failed',
        '#3 ERROR: process "/bin/sh -c ./test" did not complete successfully: exit code: 1',
        '',
        '#2 [build 2/3] RUN make',
        '#2 0.500 compiling b',
        '#2 DONE 1.4s',
        '',
        '------',
        ' > [build 3/3] RUN ./test:',
        '0.100 test failed',
        '------',
        '',
      ].join('\n'),
    );
  });

  it('never clips long logs', () => {
    const { out, text } = capture();
    const display = new PlainDisplay(out, () => 0);
    display.sink({ type: 'vertex.started', vertex: run, name: 'RUN seq', inputs: [], at: 0 });
    const many = Array.from({ length: 5000 }, (_, index) => `line ${String(index)}\n`).join('');
    display.sink(log(run, 10, many));
    display.sink({ type: 'vertex.completed', vertex: run, at: 20 });
    expect(text().match(/^#1 0\.010 line \d+$/gm)).toHaveLength(5000);
  });
});

describe('tty progress', () => {
  it('renders a header, one row per step and the tail of running steps', () => {
    const state = new ProgressState(0);
    for (const event of events.slice(0, 5)) state.apply(event);
    const frame = renderTty(state, 3200, { finished: false, columns: 60, rows: 40 });
    expect(frame[0]).toBe('[+] Building 3.2s (1/3)');
    expect(frame[1]).toMatch(/^ => CACHED \[build 1\/3\] COPY \. \/src +0\.0s$/);
    expect(frame[2]).toMatch(/^ => \[build 2\/3\] RUN make +2\.2s$/);
    expect(frame[3]).toBe(' => => # compiling a');
    expect(frame[4]).toMatch(/^ => \[build 3\/3\] RUN \.\/test +2\.0s$/);
    expect(frame[5]).toBe(' => => # test failed');
    expect(frame.every((line) => line.length <= 60)).toBe(true);
  });

  it('names the imported cache a CACHED step came from; a local hit stays plain CACHED', () => {
    const state = new ProgressState(0);
    const remote = sha256Digest('remote hit');
    const local = sha256Digest('local hit');
    state.apply({
      type: 'vertex.cached',
      vertex: remote,
      name: '[2/3] RUN make',
      from: 'registry.example/app:cache',
      at: 0,
    });
    state.apply({ type: 'vertex.cached', vertex: local, name: '[1/3] COPY . /src', at: 0 });
    const frame = renderTty(state, 100, { finished: true, columns: 80, rows: 40 });
    expect(frame[1]).toMatch(
      /^ => CACHED \[2\/3\] RUN make \(from registry\.example\/app:cache\) +0\.0s$/,
    );
    expect(frame[2]).toMatch(/^ => CACHED \[1\/3\] COPY \. \/src +0\.0s$/);
  });

  it('marks the end and failed steps', () => {
    const state = new ProgressState(0);
    for (const event of events) state.apply(event);
    const frame = renderTty(state, 2500, { finished: true, columns: 80, rows: 40 });
    expect(frame[0]).toBe('[+] Building 2.5s (3/3) FINISHED');
    expect(frame.some((line) => line.startsWith(' => ERROR [build 3/3] RUN ./test'))).toBe(true);
  });
});

/** An export step as builder/export-progress.ts sends it: a vertex with sub-task statuses. */
const exporting = sha256Digest('export');
function task(id: string, at: number, completed: boolean): ProgressEvent {
  return { type: 'vertex.status', vertex: exporting, id, current: 0, completed, at };
}
const exportEvents: ProgressEvent[] = [
  { type: 'vertex.started', vertex: exporting, name: 'exporting to image', inputs: [], at: 0 },
  task('exporting layers', 0, false),
  task('exporting layers', 400, true),
  task('naming to docker.io/library/app:1', 400, false),
  task('naming to docker.io/library/app:1', 410, true),
  { type: 'vertex.completed', vertex: exporting, at: 500 },
];

describe('export steps', () => {
  it('plain: sub-tasks with their time when they took any, and done', () => {
    const { out, text } = capture();
    const display = new PlainDisplay(out, () => 0);
    for (const event of exportEvents) display.sink(event);
    display.finish();
    expect(text()).toBe(
      [
        '#1 exporting to image',
        '#1 exporting layers',
        '#1 exporting layers 0.4s done',
        '#1 naming to docker.io/library/app:1',
        '#1 naming to docker.io/library/app:1 done',
        '#1 DONE 0.5s',
        '',
        '',
      ].join('\n'),
    );
  });

  it('tty: a `=> =>` row per sub-task with its time', () => {
    const state = new ProgressState(0);
    for (const event of exportEvents) state.apply(event);
    const frame = renderTty(state, 600, { finished: true, columns: 60, rows: 40 });
    expect(frame.slice(1)).toEqual([
      expect.stringMatching(/^ => exporting to image +0\.5s$/),
      expect.stringMatching(/^ => => exporting layers +0\.4s$/),
      expect.stringMatching(/^ => => naming to docker\.io\/library\/app:1 +0\.0s$/),
    ]);
  });
});

describe('rawjson progress', () => {
  it('writes one SolveStatus-shaped object per event', () => {
    const { out, text } = capture();
    const display = new RawJsonDisplay(out);
    for (const event of events) display.sink(event);
    const lines = text()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(events.length);
    expect(lines[0]).toMatchObject({ vertexes: [{ digest: copy, cached: true }] });
    expect(lines[2]).toMatchObject({
      logs: [
        { vertex: build, stream: 1, data: Buffer.from('compiling a\ncompil').toString('base64') },
      ],
    });
    expect(lines[5]).toMatchObject({
      vertexes: [{ digest: run, error: expect.stringContaining('exit code: 1') as unknown }],
    });
  });
});

/** The C0, DEL and C1 controls in `text`, except those in `allowed`. */
function rawControls(text: string, allowed: string): string[] {
  const found: string[] = [];
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    const char = text.charAt(index);
    if ((code < 0x20 || (code >= 0x7f && code <= 0x9f)) && !allowed.includes(char))
      found.push(char);
  }
  return found;
}

describe('progress of hostile output', () => {
  const ESC = '\u001b';
  const BEL = '\u0007';
  const hostile = `${ESC}]0;pwned${BEL}${ESC}[2J\n`;
  const long = `${'x'.repeat(5 * 1024 * 1024)}\n`;
  const failing: ProgressEvent[] = [
    { type: 'vertex.started', vertex: run, name: `RUN evil ${ESC}[31m`, inputs: [], at: 0 },
    log(run, 10, hostile),
    log(run, 20, long),
    log(run, 30, 'tab\there, 10%\r100%\r\n'),
    {
      type: 'vertex.error',
      vertex: run,
      at: 40,
      error: { code: 'TB_INTERNAL', message: `exit code: 1 ${ESC}[2J` },
    },
    { type: 'warning', message: `careful ${BEL}`, at: 50 },
  ];

  it('plain shows controls, keeps \\r and tabs, and quotes a long line cut, once', () => {
    const { out, text } = capture();
    const display = new PlainDisplay(out, () => 0);
    for (const event of failing) display.sink(event);
    display.finish();
    const printed = text();
    expect(rawControls(printed, '\n\t\r')).toEqual([]);
    expect(printed).toContain('#1 RUN evil ^[[31m');
    expect(printed).toContain('#1 0.010 ^[]0;pwned^G^[[2J\n');
    expect(printed).toContain('#1 0.030 tab\there, 10%\r100%\n');
    expect(printed).toContain('#1 ERROR: exit code: 1 ^[[2J');
    expect(printed).toContain('WARNING: careful ^G');
    // The live log quotes 4 KB of it; the failure block a shorter reminder.
    expect(printed.match(/x{4096}… \(\d+ more bytes\)/g)).toHaveLength(1);
    expect(printed.match(/more bytes\)/g)).toHaveLength(2);
    expect(printed).toMatch(/\n0\.020 x{1024}… \(\d+ more bytes\)\n/);
    expect(printed.length).toBeLessThan(16 * 1024);
  });

  it('tty rows show controls, the last state of a redrawn line, and stay one row each', () => {
    const state = new ProgressState(0);
    for (const event of failing.slice(0, 4)) state.apply(event);
    const frame = renderTty(state, 100, { finished: false, columns: 60, rows: 40 });
    expect(rawControls(frame.join('\n'), '\n')).toEqual([]);
    expect(frame[1]).toMatch(/^ => RUN evil \^\[\[31m +0\.1s$/);
    expect(frame[2]).toBe(' => => # ^[]0;pwned^G^[[2J');
    expect(frame[3]).toMatch(/^ => => # x+\.\.\.$/);
    expect(frame[4]).toBe(' => => # 100%');
    expect(frame.every((line) => line.length <= 60)).toBe(true);
  });

  it('rawjson passes the bytes through exactly (JSON escapes them)', () => {
    const { out, text } = capture();
    const display = new RawJsonDisplay(out);
    for (const event of failing) display.sink(event);
    const lines = text().trim().split('\n');
    expect(rawControls(text(), '\n')).toEqual([]);
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(parsed[0]).toMatchObject({ vertexes: [{ name: `RUN evil ${ESC}[31m` }] });
    expect(parsed[1]).toMatchObject({
      logs: [{ data: Buffer.from(hostile).toString('base64') }],
    });
    expect(parsed[2]).toMatchObject({ logs: [{ data: Buffer.from(long).toString('base64') }] });
    expect(parsed[4]).toMatchObject({ vertexes: [{ error: `exit code: 1 ${ESC}[2J` }] });
  });
});
