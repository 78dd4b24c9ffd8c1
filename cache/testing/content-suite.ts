import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { isTbuildError, neverAborted, sha256Digest, type Digest } from '../../core/index.js';
import type { ContentStore } from '../content/types.js';

/**
 * The content store's conformance suite, after containerd's
 * core/content/testsuite: named checks run against any implementation.
 * `corrupt` damages a stored blob the way a disk would (flips a byte).
 */
export interface ContentSuiteSubject {
  readonly store: ContentStore;
  readonly corrupt: (digest: Digest) => Promise<void>;
  readonly cleanup?: () => Promise<void>;
}

const signal = neverAborted;

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return isTbuildError(error) ? error.code : `not a TbuildError: ${String(error)}`;
  }
}

export function contentStoreSuite(name: string, factory: () => Promise<ContentSuiteSubject>): void {
  const check = (title: string, body: (subject: ContentSuiteSubject) => Promise<void>): void => {
    it(title, async () => {
      const subject = await factory();
      try {
        await body(subject);
      } finally {
        await subject.cleanup?.();
      }
    });
  };

  describe(`content store conformance: ${name}`, () => {
    check('writes a buffer and reads it back by digest', async ({ store }) => {
      const data = Buffer.from('hello blob');
      const result = await store.writeBuffer(data, { signal });
      expect(result).toEqual({ digest: sha256Digest(data), size: data.length, created: true });
      expect(await store.readBuffer(result.digest, { signal })).toEqual(data);
      expect(await readAll(await store.readStream(result.digest, { signal }))).toEqual(data);
      expect(await store.info(result.digest)).toMatchObject({
        digest: result.digest,
        size: data.length,
      });
    });

    check('writes a stream in many chunks', async ({ store }) => {
      const parts = Array.from({ length: 50 }, (_, i) => Buffer.alloc(10_000, i));
      const whole = Buffer.concat(parts);
      const result = await store.writeStream(Readable.from(parts), { signal });
      expect(result.digest).toBe(sha256Digest(whole));
      expect(result.size).toBe(whole.length);
      expect((await store.readBuffer(result.digest, { signal })).equals(whole)).toBe(true);
    });

    check('treats writing an existing blob as a normal outcome', async ({ store }) => {
      const data = Buffer.from('twice');
      await store.writeBuffer(data, { signal });
      const again = await store.writeBuffer(data, {
        signal,
        expected: { digest: sha256Digest(data) },
      });
      expect(again.created).toBe(false);
      const viaStream = await store.writeStream(Readable.from([data]), {
        signal,
        expected: { digest: sha256Digest(data), size: data.length },
      });
      expect(viaStream).toMatchObject({ digest: sha256Digest(data), created: false });
    });

    check(
      'rejects bytes that do not match the expected digest and stores nothing',
      async ({ store }) => {
        const data = Buffer.from('actual');
        const claimed = sha256Digest('claimed');
        const code = await codeOf(
          store.writeStream(Readable.from([data]), { signal, expected: { digest: claimed } }),
        );
        expect(code).toBe('TB_CONTENT_UNEXPECTED');
        expect(await store.info(claimed)).toBeUndefined();
        expect(await store.info(sha256Digest(data))).toBeUndefined();
      },
    );

    check('rejects a size mismatch', async ({ store }) => {
      const data = Buffer.from('sized');
      expect(await codeOf(store.writeBuffer(data, { signal, expected: { size: 3 } }))).toBe(
        'TB_CONTENT_UNEXPECTED',
      );
      expect(await store.info(sha256Digest(data))).toBeUndefined();
    });

    check('reports a missing blob as TB_CONTENT_NOT_FOUND', async ({ store }) => {
      const missing = sha256Digest('never written');
      expect(await store.info(missing)).toBeUndefined();
      expect(await codeOf(store.readBuffer(missing, { signal }))).toBe('TB_CONTENT_NOT_FOUND');
      expect(await codeOf(store.readStream(missing, { signal }))).toBe('TB_CONTENT_NOT_FOUND');
    });

    check('detects a corrupted blob on a buffer read and drops it', async ({ store, corrupt }) => {
      const { digest } = await store.writeBuffer(Buffer.from('precious bytes'), { signal });
      await corrupt(digest);
      expect(await codeOf(store.readBuffer(digest, { signal }))).toBe('TB_CONTENT_CORRUPT');
      expect(await store.info(digest)).toBeUndefined();
    });

    check('fails a streaming read of a corrupted blob at the end', async ({ store, corrupt }) => {
      const { digest } = await store.writeBuffer(Buffer.alloc(200_000, 7), { signal });
      await corrupt(digest);
      expect(await codeOf(store.readStream(digest, { signal }).then(readAll))).toBe(
        'TB_CONTENT_CORRUPT',
      );
      expect(await store.info(digest)).toBeUndefined();
    });

    check('verify() tells good blobs from corrupted ones', async ({ store, corrupt }) => {
      const good = await store.writeBuffer(Buffer.from('good'), { signal });
      const bad = await store.writeBuffer(Buffer.from('bad'), { signal });
      await corrupt(bad.digest);
      expect(await store.verify(good.digest, { signal })).toBe(true);
      expect(await store.verify(bad.digest, { signal })).toBe(false);
    });

    check('rewriting a corrupted blob repairs it', async ({ store, corrupt }) => {
      const data = Buffer.from('repair me');
      const { digest } = await store.writeBuffer(data, { signal });
      await corrupt(digest);
      await store.writeBuffer(data, { signal });
      expect(await store.readBuffer(digest, { signal })).toEqual(data);
    });

    check('deletes and walks', async ({ store }) => {
      const a = await store.writeBuffer(Buffer.from('a'), { signal });
      const b = await store.writeBuffer(Buffer.from('b'), { signal });
      const seen: Digest[] = [];
      await store.walk((info) => void seen.push(info.digest), { signal });
      expect(seen.sort()).toEqual([a.digest, b.digest].sort());
      expect(await store.delete(a.digest)).toBe(true);
      expect(await store.delete(a.digest)).toBe(false);
      expect(await store.info(a.digest)).toBeUndefined();
    });

    check('concurrent writers of one blob all succeed with one copy', async ({ store }) => {
      const data = Buffer.alloc(100_000, 3);
      const digest = sha256Digest(data);
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          i % 2 === 0
            ? store.writeBuffer(data, { signal, expected: { digest } })
            : store.writeStream(Readable.from([data.subarray(0, 50_000), data.subarray(50_000)]), {
                signal,
                expected: { digest },
              }),
        ),
      );
      expect(results.every((r) => r.digest === digest)).toBe(true);
      expect(results.filter((r) => r.created).length).toBeGreaterThanOrEqual(1);
      expect((await store.readBuffer(digest, { signal })).equals(data)).toBe(true);
    });

    check('calls beforeCommit with the digest before the blob is visible', async ({ store }) => {
      const data = Buffer.from('leased');
      const seen: Array<{ digest: Digest; visible: boolean }> = [];
      await store.writeBuffer(data, {
        signal,
        beforeCommit: async (digest) => {
          seen.push({ digest, visible: (await store.info(digest)) !== undefined });
        },
      });
      expect(seen).toEqual([{ digest: sha256Digest(data), visible: false }]);
    });

    check('honours an aborted signal', async ({ store }) => {
      const aborted = AbortSignal.abort(new Error('stop'));
      expect(await codeOf(store.writeBuffer(Buffer.from('x'), { signal: aborted }))).toBe(
        'TB_CANCELED',
      );
    });
  });
}
