import { describe, expect, it } from 'vitest';
import { isTbuildError, TbuildError } from '../core/index.js';
import { parseCallSpec, type CallResult } from './call.js';
import { codeFrame, formatCallResult, goJson, tabulate } from './call-output.js';

describe('--call and --check', () => {
  it('reads the method and its options as buildx', () => {
    expect(parseCallSpec(undefined, undefined)).toBeUndefined();
    expect(parseCallSpec('build', undefined)).toBeUndefined();
    expect(parseCallSpec(undefined, true)).toEqual({
      name: 'check',
      format: 'text',
      ignoreStatus: false,
    });
    expect(parseCallSpec('check,format=json', undefined)).toEqual({
      name: 'check',
      format: 'json',
      ignoreStatus: false,
    });
    expect(parseCallSpec('lint,ignorestatus=true', undefined)?.ignoreStatus).toBe(true);
    expect(parseCallSpec('outline', undefined)?.name).toBe('outline');
    expect(parseCallSpec('targets,format=json', undefined)?.format).toBe('json');
  });

  it('refuses unknown methods and fields', () => {
    for (const text of ['describe', 'check,colour=red', 'check,format=yaml', 'check,outline']) {
      let caught: unknown;
      try {
        parseCallSpec(text, undefined);
      } catch (error) {
        caught = error;
      }
      expect(isTbuildError(caught, 'TB_USAGE')).toBe(true);
    }
  });
});

const TEXT = 'FROM scratch\nMAINTAINER me\nCMD run\nLABEL a=1\n';
const warning = {
  rule: 'MaintainerDeprecated',
  description:
    'The MAINTAINER instruction is deprecated, use a label instead to define an image author',
  url: 'https://docs.docker.com/go/dockerfile/rule/maintainer-deprecated/',
  message: 'Maintainer instruction is deprecated in favor of using label',
  range: { startLine: 2, endLine: 2 },
};
const check = (result: Partial<CallResult & { name: 'check' }>): CallResult => ({
  name: 'check',
  file: 'Dockerfile',
  text: TEXT,
  warnings: [],
  ...result,
});
const text = { name: 'check', format: 'text', ignoreStatus: false } as const;

describe('check output', () => {
  it('says so when clean, exit 0', () => {
    expect(formatCallResult(text, check({}))).toEqual({
      stdout: 'Check complete, no warnings found.\n',
      exitCode: 0,
    });
  });

  it('prints each warning with its rule, URL and lines, exit 1', () => {
    const output = formatCallResult(text, check({ warnings: [warning] }));
    expect(output.exitCode).toBe(1);
    expect(output.stdout).toBe(
      'Check complete, 1 warning has been found!\n' +
        '\nWARNING: MaintainerDeprecated - https://docs.docker.com/go/dockerfile/rule/maintainer-deprecated/\n' +
        'Maintainer instruction is deprecated in favor of using label\n' +
        'Dockerfile:2\n--------------------\n' +
        '   1 |     FROM scratch\n   2 | >>> MAINTAINER me\n   3 |     CMD run\n   4 |     LABEL a=1\n' +
        '--------------------\n',
    );
    expect(
      formatCallResult({ ...text, ignoreStatus: true }, check({ warnings: [warning] })).exitCode,
    ).toBe(0);
  });

  it('gives BuildKit lint results as JSON', () => {
    const output = formatCallResult({ ...text, format: 'json' }, check({ warnings: [warning] }));
    expect(JSON.parse(output.stdout)).toEqual({
      warnings: [
        {
          ruleName: 'MaintainerDeprecated',
          description: warning.description,
          url: warning.url,
          detail: warning.message,
          location: { ranges: [{ start: { line: 2 }, end: { line: 2 } }] },
        },
      ],
      sources: [
        {
          filename: 'Dockerfile',
          data: Buffer.from(TEXT).toString('base64'),
          language: 'Dockerfile',
        },
      ],
    });
    expect(output.exitCode).toBe(1);
    const clean = JSON.parse(formatCallResult({ ...text, format: 'json' }, check({})).stdout) as {
      warnings: unknown;
    };
    expect(clean.warnings).toBeNull();
  });

  it('ends with the Dockerfile error it ran into', () => {
    const error = new TbuildError('TB_DOCKERFILE_STAGE', 'Dockerfile:3: bad', {
      source: { file: 'Dockerfile', startLine: 3, endLine: 3, lines: ['CMD run'] },
    });
    const output = formatCallResult(text, check({ error }));
    expect(output.exitCode).toBe(1);
    expect(output.error).toContain('Dockerfile:3: bad\nDockerfile:3\n--------------------\n');
  });
});

describe('text helpers', () => {
  it('frames one line with two lines of context each side, as BuildKit', () => {
    const lines = Array.from({ length: 10 }, (_, i) => `line${String(i + 1)}`).join('\n');
    expect(codeFrame('f', lines, { startLine: 5, endLine: 5 }).split('\n').slice(2, 7)).toEqual([
      '   3 |     line3',
      '   4 |     line4',
      '   5 | >>> line5',
      '   6 |     line6',
      '   7 |     line7',
    ]);
  });

  it('aligns columns as Go tabwriter', () => {
    expect(
      tabulate(
        [
          ['BUILD ARG', 'VALUE', 'DESCRIPTION'],
          ['GO_VERSION', '1.22', ''],
        ],
        3,
      ),
    ).toBe('BUILD ARG    VALUE   DESCRIPTION\nGO_VERSION   1.22    \n');
  });

  it('escapes JSON as Go does', () => {
    expect(goJson({ a: '<b>&' })).toBe('{\n  "a": "\\u003cb\\u003e\\u0026"\n}\n');
  });
});

describe('targets and outline output', () => {
  it('prints targets with the default marked', () => {
    const output = formatCallResult(
      { name: 'targets', format: 'text', ignoreStatus: false },
      {
        name: 'targets',
        list: {
          targets: [
            { name: 'base', description: 'is the base stage' },
            { name: 'release', default: true, description: 'ships' },
          ],
          sources: [],
        },
      },
    );
    expect(output.stdout).toBe(
      'TARGET            DESCRIPTION\nbase              is the base stage\nrelease (default) ships\n',
    );
  });

  it('prints the outline in sections', () => {
    const output = formatCallResult(
      { name: 'outline', format: 'text', ignoreStatus: false },
      {
        name: 'outline',
        outline: {
          name: 'release',
          description: 'ships',
          args: [{ name: 'GO_VERSION', value: '1.22', description: 'sets Go' }],
          secrets: [{ name: 'token', required: true }],
        },
      },
    );
    expect(output.stdout).toBe(
      'TARGET:      release\nDESCRIPTION: ships\n\n' +
        'BUILD ARG    VALUE   DESCRIPTION\nGO_VERSION   1.22    sets Go\n\n' +
        'SECRET   REQUIRED\ntoken    true\n\n',
    );
  });
});
