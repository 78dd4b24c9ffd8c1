import { describe, expect, it } from 'vitest';
import { isTbuildError } from '../../core/index.js';
import { parseDockerfile } from '../dockerfile/index.js';
import { checkOptionsFor, syntaxWarning } from './config.js';
import { Linter } from './linter.js';
import { parseCheckOptions } from './options.js';
import { RULES } from './rules.js';
import { lint } from './lint-harness.js';

describe('check options', () => {
  it('reads skip, error and experimental joined with ;', () => {
    const options = parseCheckOptions(
      ' skip=JSONArgsRecommended, StageNameCasing;error=true ',
      'x',
    );
    expect([...options.skip]).toEqual(['JSONArgsRecommended', 'StageNameCasing']);
    expect(options.error).toBe(true);
    expect(options.skipAll).toBe(false);
    expect(parseCheckOptions('skip=all', 'x').skipAll).toBe(true);
    expect(parseCheckOptions('experimental=all', 'x').experimentalAll).toBe(true);
    expect(parseCheckOptions('', 'x').error).toBe(false);
  });

  it('refuses what BuildKit refuses', () => {
    for (const text of ['skip', 'error=maybe', 'color=red']) {
      let caught: unknown;
      try {
        parseCheckOptions(text, 'check options');
      } catch (error) {
        caught = error;
      }
      expect(isTbuildError(caught, 'TB_DOCKERFILE_CHECK_OPTIONS')).toBe(true);
    }
  });

  it('takes the build arg over the directive', () => {
    const parsed = parseDockerfile('# check=skip=all\nFROM scratch\n', { file: 'Dockerfile' });
    expect(checkOptionsFor(parsed.directives, new Map()).skipAll).toBe(true);
    const fromArg = checkOptionsFor(
      parsed.directives,
      new Map([['BUILDKIT_DOCKERFILE_CHECK', 'error=true']]),
    );
    expect(fromArg.skipAll).toBe(false);
    expect(fromArg.error).toBe(true);
  });

  it('skips rules named by the directive, and all with skip=all', async () => {
    const text = 'FROM scratch AS Build\nMAINTAINER me\n';
    expect(await lint(`# check=skip=StageNameCasing\n${text}`)).toEqual([
      'MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label (line 3)',
    ]);
    expect(await lint(`# check=skip=all\n${text}`)).toEqual([]);
  });

  it('reads a # check= comment above one instruction for that instruction only', async () => {
    const text =
      'FROM scratch\n# check=skip=MaintainerDeprecated\nMAINTAINER a\nMAINTAINER b\n# check=skip=all\nlabel a=1\n';
    expect(await lint(text)).toEqual([
      'MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label (line 4)',
      // Instruction casing is checked across the file: a comment above one does not skip it.
      "ConsistentInstructionCasing: Command 'label' should match the case of the command majority (uppercase) (line 6)",
    ]);
  });

  it('turns warnings into an error naming the rules with error=true', () => {
    const linter = new Linter(parseCheckOptions('error=true', 'x'));
    expect(linter.error('Dockerfile')).toBeUndefined();
    linter.run(RULES.MaintainerDeprecated, { startLine: 2, endLine: 2 });
    linter.run(RULES.MaintainerDeprecated, { startLine: 3, endLine: 3 });
    const error = linter.error('Dockerfile');
    expect(error?.code).toBe('TB_DOCKERFILE_CHECK');
    expect(error?.message).toBe('Dockerfile: lint violation found for rules: MaintainerDeprecated');
  });
});

describe('syntax directive', () => {
  const directives = (syntax: string) =>
    parseDockerfile(`# syntax=${syntax}\nFROM scratch\n`, { file: 'Dockerfile' }).directives;

  it('accepts docker/dockerfile:1 in every 1.x spelling', () => {
    for (const syntax of [
      'docker/dockerfile:1',
      'docker/dockerfile:1.7',
      'docker/dockerfile:1-labs',
      'docker/dockerfile:1.7-labs',
      'docker.io/docker/dockerfile:1.4.3',
      `docker/dockerfile:1@sha256:${'a'.repeat(64)}`,
    ])
      expect(syntaxWarning(directives(syntax))).toBeUndefined();
  });

  it('warns once about any other frontend image', () => {
    expect(syntaxWarning(directives('docker/dockerfile:0.9'))).toContain('"docker/dockerfile:0.9"');
    expect(syntaxWarning(directives('example.com/frontend:2'))).toContain(
      'tbuild builds with its own Dockerfile frontend',
    );
  });
});
