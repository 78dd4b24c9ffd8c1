import { describe, expect, it } from 'vitest';
import { isTbuildError, TbuildError } from '../../core/index.js';
import { imagePullError, layerPullError, loginCommand } from './registry-access.js';

const IMAGE = 'reg.example:5000/team/app:v1';

describe('imagePullError', () => {
  it('turns a registry 404 into TB_IMAGE_NOT_FOUND naming the image and the codes', () => {
    const error = imagePullError(
      new TbuildError('TB_REGISTRY_NOT_FOUND', 'pulling manifest …: answered 404', {
        details: { status: 404, registryCodes: ['NAME_UNKNOWN'] },
      }),
      IMAGE,
      'reg.example:5000',
    );
    expect(isTbuildError(error, 'TB_IMAGE_NOT_FOUND')).toBe(true);
    expect(error).toMatchObject({
      message: `image ${IMAGE} not found: registry reg.example:5000 has no such repository or tag (NAME_UNKNOWN)`,
      details: { image: IMAGE, registry: 'reg.example:5000', status: 404 },
    });
  });

  it('hints at tbuild login on a refusal, keeping a more specific hint', () => {
    const anonymous = imagePullError(
      new TbuildError('TB_REGISTRY_AUTH', 'denied', { hint: 'log in to reg.example:5000' }),
      IMAGE,
      'reg.example:5000',
    );
    expect(anonymous).toMatchObject({
      code: 'TB_REGISTRY_AUTH',
      message: `pulling ${IMAGE}: denied`,
      hint: 'run "tbuild login reg.example:5000" (or docker login) if the image is private',
    });
    const wrongPassword = imagePullError(
      new TbuildError('TB_REGISTRY_AUTH', 'refused', { hint: 'check the user name' }),
      'docker.io/library/busybox:latest',
      'docker.io',
    );
    expect(wrongPassword).toMatchObject({
      hint: 'check the user name; run "tbuild login" to store new credentials',
    });
  });

  it('names an unreachable registry and leaves other errors alone', () => {
    expect(
      imagePullError(
        new TbuildError('TB_REGISTRY_HTTP', 'cannot reach registry h:1'),
        IMAGE,
        'h:1',
      ),
    ).toMatchObject({
      message: `pulling ${IMAGE}: cannot reach registry h:1`,
      hint: 'check that registry h:1 is running and reachable from this machine',
    });
    const canceled = new TbuildError('TB_CANCELED', 'canceled');
    expect(imagePullError(canceled, IMAGE, 'h:1')).toBe(canceled);
    const plain = new Error('x');
    expect(imagePullError(plain, IMAGE, 'h:1')).toBe(plain);
  });
});

describe('layerPullError', () => {
  it('adds a resume hint to transport failures only', () => {
    expect(layerPullError(new TbuildError('TB_REGISTRY_HTTP', 'aborted'), IMAGE)).toMatchObject({
      hint: expect.stringContaining('run the build again') as unknown,
      details: { image: IMAGE },
    });
    const mismatch = new TbuildError('TB_REGISTRY_DIGEST_MISMATCH', 'bad');
    expect(layerPullError(mismatch, IMAGE)).toBe(mismatch);
  });
});

it('loginCommand needs no argument for Docker Hub', () => {
  expect(loginCommand('docker.io')).toBe('tbuild login');
  expect(loginCommand('h:5000')).toBe('tbuild login h:5000');
});
