import { describe, expect, it } from 'vitest';
import { formatError, isTbuildError } from '../../core/index.js';
import { parseDockerfile, parseInstruction } from './index.js';

function thrown(work: () => unknown): unknown {
  try {
    work();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('parseInstruction (ONBUILD triggers from an image config)', () => {
  it('re-parses a stored trigger with a heredoc into the same instruction', () => {
    const parsed = parseDockerfile('FROM scratch\nONBUILD RUN <<-EOF\n\techo $HOME\n\tEOF\n', {
      file: 'Dockerfile',
    });
    const onbuild = parsed.stages[0]?.instructions[0];
    expect(onbuild?.kind).toBe('ONBUILD');
    if (onbuild?.kind !== 'ONBUILD') return;
    const again = parseInstruction(onbuild.expression, { file: 'base image', escape: '\\' });
    expect(again.kind).toBe('RUN');
    if (again.kind !== 'RUN' || onbuild.trigger.kind !== 'RUN') return;
    expect(again.command).toEqual(onbuild.trigger.command);
    expect(again.heredocs).toEqual(onbuild.trigger.heredocs);
    expect(again.heredocs[0]?.content).toBe('echo $HOME\n');
  });

  it('uses the escape character it is given', () => {
    const instruction = parseInstruction('ENV A=x`\n  y=1', { file: 't', escape: '`' });
    expect(instruction).toMatchObject({
      kind: 'ENV',
      variables: [
        { key: 'A', value: 'x' },
        { key: 'y', value: '1' },
      ],
    });
  });

  it('refuses what Docker refuses as a trigger, and several instructions', () => {
    for (const [text, code] of [
      ['FROM alpine', 'TB_DOCKERFILE_ARGUMENTS'],
      ['ONBUILD RUN x', 'TB_DOCKERFILE_ARGUMENTS'],
      ['RUN a\nRUN b', 'TB_DOCKERFILE_SYNTAX'],
      ['', 'TB_DOCKERFILE_SYNTAX'],
      ['RUNN x', 'TB_DOCKERFILE_UNKNOWN_INSTRUCTION'],
    ] as const) {
      const error = thrown(() => parseInstruction(text, { file: 'trigger', escape: '\\' }));
      expect(isTbuildError(error, code), text).toBe(true);
    }
  });
});

describe('errors', () => {
  it('carry every line of a multi-line instruction for the code frame', () => {
    const text =
      'FROM scratch\nRUN --mount=type=cache,target=/x \\\n    --mount=type=bnid,target=/y \\\n    make\n';
    const error = thrown(() => parseDockerfile(text, { file: 'ctx/Dockerfile' }));
    expect(isTbuildError(error, 'TB_DOCKERFILE_FLAG_VALUE')).toBe(true);
    if (!isTbuildError(error)) return;
    expect(error.message).toBe(
      'ctx/Dockerfile:2: unsupported mount type "bnid" (did you mean bind?)',
    );
    expect(error.source).toEqual({
      file: 'ctx/Dockerfile',
      startLine: 2,
      endLine: 4,
      lines: [
        'RUN --mount=type=cache,target=/x \\',
        '    --mount=type=bnid,target=/y \\',
        '    make',
      ],
    });
    expect(formatError(error)).toContain(' 3 | >>>     --mount=type=bnid,target=/y \\');
  });

  it('report a heredoc left open from its opening line to the end of the file', () => {
    const error = thrown(() =>
      parseDockerfile('FROM scratch\nCOPY <<EOF /x\nline\n', { file: 'Dockerfile' }),
    );
    expect(isTbuildError(error, 'TB_DOCKERFILE_SYNTAX')).toBe(true);
    if (!isTbuildError(error)) return;
    expect(error.source?.startLine).toBe(2);
    expect(error.source?.endLine).toBe(3);
    expect(error.hint).toContain('EOF');
  });
});

describe('parseDockerfile', () => {
  it('keeps the file lines without carriage returns for code frames', () => {
    const parsed = parseDockerfile('FROM scratch\r\nCMD x\r\n', { file: 'Dockerfile' });
    expect(parsed.lines).toEqual(['FROM scratch', 'CMD x']);
  });
});
