import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  missingRequirements,
  requires,
  startRegistry,
  type TestRegistry,
} from '../../harness/index.js';
import {
  RegistryClient,
  getManifest,
  parseReference,
  pushImage,
} from '../../../registry-client/index.js';
import { errorText } from './capture-logger.js';
import { randomImage } from './image-fixture.js';

const signal = new AbortController().signal;
const canRun = missingRequirements(['docker-registry']).length === 0;

describe('registry over HTTPS with a self-signed certificate', () => {
  let registry: TestRegistry | undefined;
  beforeAll(async () => {
    if (canRun) registry = await startRegistry({ tls: true });
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('is refused unless configured insecure, then works over https', async (ctx) => {
    requires(ctx, 'docker-registry');
    const host = (registry as TestRegistry).host;
    const ref = parseReference(`${host}/tls/app:v1`);

    const strict = new RegistryClient({ retry: { attempts: 1 } });
    const refused = await pushImage(strict, ref, randomImage([10]).input, ['v1'], { signal }).catch(
      (e: unknown) => e,
    );
    strict.close();
    expect(refused).toMatchObject({ code: 'TB_REGISTRY_HTTP' });
    expect(errorText(refused)).toContain(host);
    expect((refused as { hint?: string }).hint).toMatch(
      /certificate .* not trusted: mark it "insecure"/,
    );

    const insecure = new RegistryClient({ hosts: { [host]: { insecure: true } } });
    const pushed = await pushImage(insecure, ref, randomImage([1000]).input, ['v1'], { signal });
    expect((await getManifest(insecure, ref, signal)).digest).toBe(pushed.digest);
    insecure.close();

    // http: true means plain HTTP only, which a TLS registry does not speak.
    const plain = new RegistryClient({ hosts: { [host]: { http: true } }, retry: { attempts: 1 } });
    await expect(getManifest(plain, ref, signal)).rejects.toMatchObject({
      code: 'TB_REGISTRY_HTTP',
    });
    plain.close();
  });
});
