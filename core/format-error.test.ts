import { describe, expect, it } from 'vitest';
import { TbuildError } from './errors.js';
import { formatError } from './format-error.js';
import { LINE_LIMIT_BYTES } from './terminal-text.js';

describe('formatError', () => {
  it('shows the escapes of a message, a code frame and a hint instead of sending them', () => {
    const error = new TbuildError('TB_DOCKERFILE_SYNTAX', 'bad \u001b]0;pwned\u0007 title', {
      hint: 'no \u009b2J here',
      source: { file: 'Dockerfile', startLine: 2, endLine: 2, lines: ['RUN echo \u001b[2J\r'] },
    });
    const text = formatError(error);
    expect(text).toBe(
      [
        'ERROR: bad ^[]0;pwned^G title',
        'Dockerfile:2',
        '-'.repeat(20),
        ' 2 | >>> RUN echo ^[[2J',
        '-'.repeat(20),
        'hint: no M-^[2J here',
      ].join('\n'),
    );
  });

  it('quotes a long line cut, in the message and in the code frame', () => {
    const long = `RUN echo ${'x'.repeat(5 * 1024 * 1024)}`;
    const error = new TbuildError('TB_DOCKERFILE_SYNTAX', `process "${long}" failed`, {
      source: { file: 'Dockerfile', startLine: 1, endLine: 1, lines: [long] },
    });
    const lines = formatError(error).split('\n');
    expect(lines[0]).toMatch(/… \(\d+ more bytes\)$/);
    expect(lines[3]).toMatch(/… \(\d+ more bytes\)$/);
    for (const line of lines) expect(line.length).toBeLessThan(LINE_LIMIT_BYTES + 64);
  });
});
