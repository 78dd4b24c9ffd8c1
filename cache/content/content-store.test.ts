import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noopLogger, type Digest } from '../../core/index.js';
import { blobPath, storeLayout } from '../layout.js';
import { openStore } from '../store.js';
import { MemoryContentStore } from './memory-store.js';
import { contentStoreSuite } from '../testing/content-suite.js';

contentStoreSuite('fs', async () => {
  const root = await mkdtemp(join(tmpdir(), 'tbuild-content-'));
  const store = await openStore({ root, logger: noopLogger, durable: false });
  return {
    store: store.content,
    corrupt: async (digest: Digest) => {
      const handle = await open(blobPath(storeLayout(root), digest), 'r+');
      try {
        const byte = Buffer.alloc(1);
        await handle.read(byte, 0, 1, 0);
        byte[0] = (byte[0] ?? 0) ^ 0x01;
        await handle.write(byte, 0, 1, 0);
      } finally {
        await handle.close();
      }
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

contentStoreSuite('memory', () => {
  const store = new MemoryContentStore();
  return Promise.resolve({
    store,
    corrupt: (digest: Digest) => {
      store.corrupt(digest);
      return Promise.resolve();
    },
  });
});
