import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requires } from '../../harness/index.js';
import { openSandbox, type Sandbox } from './fixture.js';

let sandbox: Sandbox;
beforeAll(() => {
  sandbox = openSandbox();
});
afterAll(() => {
  sandbox.close();
});

describe('runtime behaviour', () => {
  it('reports exit codes', async (ctx) => {
    requires(ctx, 'root', 'overlay', 'busybox');
    const result = await sandbox.sh('echo out; echo err >&2; exit 42');
    expect(result.exitCode).toBe(42);
    expect(result.signal).toBeUndefined();
    expect(result.stdout).toBe('out\n');
    expect(result.stderr).toBe('err\n');
  });
});
