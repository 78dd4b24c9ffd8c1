import { describe, expect, it } from 'vitest';
import { isTbuildError } from '../../core/index.js';
import { topologicalOrder } from '../../solver/ir/index.js';
import { parseDockerfile } from '../dockerfile/index.js';
import { emptyImageResolver } from './empty-resolver.js';
import { lowerDockerfile } from './lower.js';

/**
 * Inputs deep enough to overflow a recursive walk (found while fuzzing, issue #17):
 * each must lower, or fail with a TbuildError, never a RangeError.
 */
async function lower(text: string) {
  return lowerDockerfile(parseDockerfile(text, { file: 'Dockerfile' }), {
    resolver: emptyImageResolver,
    signal: AbortSignal.timeout(120_000),
  });
}

describe('deep inputs', () => {
  it('lowers a chain of 20,000 RUN steps', async () => {
    const lowered = await lower(`FROM busybox\n${'RUN x\n'.repeat(20_000)}`);
    expect(lowered.root === undefined ? 0 : topologicalOrder([lowered.root]).length).toBe(20_001);
  }, 120_000);

  it('lowers 3,000 stages each copying from the one before', async () => {
    const stages = Array.from({ length: 3000 }, (_, index) =>
      index === 0
        ? 'FROM busybox AS s0'
        : `FROM busybox AS s${String(index)}\nCOPY --from=s${String(index - 1)} / /`,
    );
    const lowered = await lower(`${stages.join('\n')}\n`);
    expect(lowered.root).toBeDefined();
  }, 120_000);

  it('refuses substitutions nested 20,000 deep with TB_DOCKERFILE_EXPANSION on their line', async () => {
    const word = `${'${a:-'.repeat(20_000)}x${'}'.repeat(20_000)}`;
    const error: unknown = await lower(`FROM busybox\nENV A=${word}\n`).catch((e: unknown) => e);
    expect(isTbuildError(error, 'TB_DOCKERFILE_EXPANSION')).toBe(true);
    expect(isTbuildError(error) ? error.source?.startLine : undefined).toBe(2);
    // 150 deep is still expanded.
    const fine = `${'${a:-'.repeat(150)}x${'}'.repeat(150)}`;
    const lowered = await lower(`FROM busybox\nENV A=${fine}\n`);
    expect(lowered.image.config.Env).toContain('A=x');
  }, 120_000);
});
