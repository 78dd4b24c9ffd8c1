import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { TbuildError } from '../core/index.js';

const PROTO_FILE = join('proto', 'tbuild', 'v1', 'builder.proto');

/**
 * The .proto of the remote builder API, found by walking up from this file:
 * it lies at the repository's top, and this file runs from remote/ (tests),
 * dist/remote/ or dist/bundle/cli/ (the installed bin), all below it.
 */
export function protoPath(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(directory, PROTO_FILE);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(directory);
    if (parent === directory)
      throw new TbuildError('TB_INTERNAL', `${PROTO_FILE} is missing from this installation`, {
        hint: 'reinstall tbuild: the proto/ directory ships beside dist/',
      });
    directory = parent;
  }
}

let loaded: grpc.ServiceClientConstructor | undefined;

/** The `tbuild.v1.Builder` service: its definition (server) and client constructor. */
export function builderService(): grpc.ServiceClientConstructor {
  if (loaded !== undefined) return loaded;
  const definition = loadSync(protoPath(), {
    keepCase: true,
    longs: Number,
    bytes: Buffer,
    defaults: true,
    oneofs: true,
  });
  const root = grpc.loadPackageDefinition(definition) as unknown as {
    tbuild: { v1: { Builder: grpc.ServiceClientConstructor } };
  };
  loaded = root.tbuild.v1.Builder;
  return loaded;
}
