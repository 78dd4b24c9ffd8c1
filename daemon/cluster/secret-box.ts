import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TbuildError } from '../../core/index.js';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Seals a build's secrets for the trip through Redis: AES-256-GCM with a key
 * every node derives (SHA-256) from the same key file, the build id as
 * additional data (a sealed box moved to another build does not open). Redis
 * only ever holds the ciphertext; the values are opened in the memory of the
 * node that runs the build.
 */
export class SecretBox {
  readonly #key: Buffer;

  private constructor(key: Buffer) {
    this.#key = key;
  }

  static fromFile(path: string): SecretBox {
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (error) {
      throw new TbuildError('TB_SERVICE_CONFIG', `cannot read queue.secretKeyFile ${path}`, {
        hint: 'make one on one node and copy it to every node: head -c 32 /dev/urandom > FILE',
        cause: error,
      });
    }
    if (bytes.length < 16)
      throw new TbuildError('TB_SERVICE_CONFIG', `queue.secretKeyFile ${path} is too short`, {
        hint: 'use at least 16 random bytes: head -c 32 /dev/urandom > FILE',
      });
    return new SecretBox(createHash('sha256').update(bytes).digest());
  }

  seal(buildId: string, secrets: ReadonlyMap<string, Uint8Array>): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(buildId));
    const plain = JSON.stringify(
      Object.fromEntries(
        [...secrets].map(([id, value]) => [id, Buffer.from(value).toString('base64')]),
      ),
    );
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
  }

  open(buildId: string, sealed: string): Map<string, Uint8Array> {
    const bytes = Buffer.from(sealed, 'base64');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, bytes.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(buildId));
      decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
      const values = JSON.parse(plain) as Record<string, string>;
      return new Map(
        Object.entries(values).map(([id, value]) => [id, Buffer.from(value, 'base64')]),
      );
    } catch (error) {
      throw new TbuildError('TB_SERVICE_CONFIG', "cannot open the build's sealed secrets", {
        hint: 'every node needs the same queue.secretKeyFile',
        cause: error,
      });
    }
  }
}
