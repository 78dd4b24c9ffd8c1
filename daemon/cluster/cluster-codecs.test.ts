import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBuildOptions } from '../../builder/index.js';
import type { ProgressEvent } from '../../core/index.js';
import { optionsFromJson, optionsToJson } from './options-json.js';
import { progressFromJson, progressToJson } from './progress-json.js';
import { parseQueueConfig, QUEUE_DEFAULTS } from './queue-config.js';
import { SecretBox } from './secret-box.js';
import { SlotGate } from './slot-gate.js';

const dir = mkdtempSync(join(tmpdir(), 'tbuild-cluster-unit-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('what a job carries to another node', () => {
  it('keeps build options whole, Maps included', () => {
    const lists: Record<string, string[]> = {
      tag: ['app:1'],
      'build-arg': ['A=1', 'B=two'],
      label: ['team=ci'],
      'cache-from': ['type=registry,ref=127.0.0.1:5000/cache/app'],
    };
    const options = parseBuildOptions(
      { list: (name) => lists[name] ?? [], string: () => undefined, boolean: () => undefined },
      {},
    );
    const back = optionsFromJson(optionsToJson(options));
    expect(back).toEqual(options);
    expect(back.buildArgs.get('B')).toBe('two');
  });

  it('keeps a log event’s bytes', () => {
    const event: ProgressEvent = {
      type: 'vertex.log',
      vertex: 'sha256:00' as never,
      at: 5,
      stream: 'stderr',
      data: Uint8Array.from([0, 255, 10]),
    };
    const back = progressFromJson(progressToJson(event));
    expect(back).toMatchObject({ type: 'vertex.log', stream: 'stderr', at: 5 });
    expect([...(back as { data: Uint8Array }).data]).toEqual([0, 255, 10]);
  });

  it('seals secrets so that only the same key and build open them', () => {
    writeFileSync(join(dir, 'key'), 'a key of thirty-two bytes, or so');
    writeFileSync(join(dir, 'other'), 'another key of thirty-two bytes!');
    const box = SecretBox.fromFile(join(dir, 'key'));
    const sealed = box.seal('build1', new Map([['npm', Buffer.from('token-value')]]));
    expect(Buffer.from(sealed, 'base64').includes(Buffer.from('token-value'))).toBe(false);
    expect(Buffer.from(box.open('build1', sealed).get('npm') ?? []).toString()).toBe('token-value');
    expect(() => box.open('build2', sealed)).toThrow(/sealed secrets/);
    expect(() => SecretBox.fromFile(join(dir, 'other')).open('build1', sealed)).toThrow(
      /sealed secrets/,
    );
    writeFileSync(join(dir, 'short'), 'short');
    expect(() => SecretBox.fromFile(join(dir, 'short'))).toThrow(/too short/);
  });
});

describe('queue config', () => {
  it('is absent without a URL, takes --queue over the file, and checks its keys', () => {
    expect(parseQueueConfig(undefined, undefined, 'f')).toBeUndefined();
    expect(parseQueueConfig({ url: 'redis://h:1', node: 'n1' }, 'redis://other:2', 'f')).toEqual({
      url: 'redis://other:2',
      node: 'n1',
      ...QUEUE_DEFAULTS,
    });
    expect(() => parseQueueConfig({ node: 'n1' }, undefined, 'f')).toThrow(/needs a "url"/);
    expect(() => parseQueueConfig({ url: 'http://h' }, undefined, 'f')).toThrow(/redis:\/\//);
    expect(() => parseQueueConfig({ url: 'redis://h', nodes: 'x' }, undefined, 'f')).toThrow(
      /unknown key "queue.nodes"/,
    );
    expect(() => parseQueueConfig({ url: 'redis://h', node: 'a:b' }, undefined, 'f')).toThrow(
      /queue.node/,
    );
    expect(() => parseQueueConfig({ url: 'redis://h', lockSeconds: 0 }, undefined, 'f')).toThrow(
      /positive integer/,
    );
  });
});

describe('SlotGate', () => {
  it('lets `size` holders in and the next waiter in as one leaves', async () => {
    const gate = new SlotGate(2);
    const first = await gate.acquire();
    await gate.acquire();
    let third = false;
    const waiting = gate.acquire().then((release) => {
      third = true;
      return release;
    });
    await Promise.resolve();
    expect(third).toBe(false);
    first();
    first(); // a second release of the same slot changes nothing
    (await waiting)();
    expect(third).toBe(true);
    expect(gate.held).toBe(1);
  });
});
