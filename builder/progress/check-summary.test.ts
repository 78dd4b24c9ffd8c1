import { describe, expect, it } from 'vitest';
import { sha256Digest, type ProgressEvent } from '../../core/index.js';
import { createProgressDisplay } from './index.js';
import { PlainDisplay } from './plain.js';
import { RawJsonDisplay } from './rawjson.js';
import { TtyDisplay } from './tty.js';

const step = sha256Digest('step');

function capture(): { out: { write: (text: string) => void }; text: () => string } {
  const chunks: string[] = [];
  return { out: { write: (text) => chunks.push(text) }, text: () => chunks.join('') };
}

function checkWarning(rule: string, message: string, line: number): ProgressEvent {
  return {
    type: 'warning',
    at: 1000,
    message: `${rule}: ${message} (line ${String(line)})`,
    check: {
      rule,
      description: `${rule} description`,
      url: `https://docs.docker.com/go/dockerfile/rule/${rule.toLowerCase()}/`,
      file: 'Dockerfile',
      startLine: line,
      endLine: line,
    },
  };
}

const events: ProgressEvent[] = [
  checkWarning('MaintainerDeprecated', 'Maintainer instruction is deprecated', 2),
  { type: 'warning', at: 1000, message: 'something else' },
  checkWarning('JSONArgsRecommended', 'JSON arguments recommended for CMD', 3),
  { type: 'vertex.started', vertex: step, name: '[1/1] RUN true', inputs: [], at: 1000 },
  { type: 'vertex.completed', vertex: step, at: 1100 },
];

describe('build-check warnings in progress output', () => {
  it('plain lists them after the build, as buildx', () => {
    const { out, text } = capture();
    const display = new PlainDisplay(out, () => 1000);
    for (const event of events) display.sink(event);
    display.finish();
    expect(text()).toBe(
      'WARNING: something else\n' +
        '#1 [1/1] RUN true\n#1 DONE 0.1s\n\n' +
        ' 2 warnings found (use docker --debug to expand):\n' +
        ' - MaintainerDeprecated: Maintainer instruction is deprecated (line 2)\n' +
        ' - JSONArgsRecommended: JSON arguments recommended for CMD (line 3)\n',
    );
  });

  it('tty lists them after the last frame, the count in yellow', () => {
    const { out, text } = capture();
    const display = new TtyDisplay(out, { now: () => 1000, autoRepaint: false });
    display.sink(events[0] as ProgressEvent);
    display.finish();
    expect(text()).toContain(
      '\n \x1b[33m1 warning found (use docker --debug to expand):\n\x1b[0m - MaintainerDeprecated: Maintainer instruction is deprecated (line 2)\n',
    );
  });

  it('rawjson gives them as BuildKit warnings with detail, url and range', () => {
    const { out, text } = capture();
    const display = new RawJsonDisplay(out);
    display.sink(events[0] as ProgressEvent);
    const status = JSON.parse(text()) as { warnings: Record<string, unknown>[] };
    expect(status.warnings[0]).toEqual({
      level: 1,
      short: Buffer.from(
        'MaintainerDeprecated: Maintainer instruction is deprecated (line 2)',
      ).toString('base64'),
      detail: [Buffer.from('MaintainerDeprecated description').toString('base64')],
      url: 'https://docs.docker.com/go/dockerfile/rule/maintainerdeprecated/',
      sourceInfo: { filename: 'Dockerfile', language: 'Dockerfile' },
      range: [{ start: { line: 2 }, end: { line: 2 } }],
    });
  });

  it('quiet leaves them out, as buildx -q', () => {
    const { out, text } = capture();
    const display = createProgressDisplay('quiet', out);
    for (const event of events) display.sink(event);
    display.finish();
    expect(text()).toBe('WARNING: something else\n');
  });
});
