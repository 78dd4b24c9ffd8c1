import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { TbuildError, type ImageConfig } from '../../core/index.js';
import { topologicalOrder, type Vertex } from '../../solver/ir/index.js';
import { parseDockerfile } from '../dockerfile/index.js';
import { lowerDockerfile } from './lower.js';
import { parsePlatform } from './platform.js';
import type { Entitlement, ImageMetaResolver, LoweredBuild } from './types.js';

/**
 * Fixture cases in testdata/<case>/: a Dockerfile and case.json with the
 * inputs (build args, target, platform, known images) and the expected parts
 * of the result. Shared by the fixture test and nothing else.
 */
export interface FixtureCase {
  readonly description?: string;
  readonly buildArgs?: Readonly<Record<string, string>>;
  readonly target?: string;
  readonly platform?: string;
  readonly buildPlatform?: string;
  readonly dockerignore?: readonly string[];
  readonly sourceDateEpoch?: number;
  readonly noCache?: boolean;
  readonly entitlements?: readonly Entitlement[];
  /** Images the resolver knows, by normalised reference. */
  readonly images?: Readonly<
    Record<string, { readonly ref?: string; readonly config: ImageConfig }>
  >;
  /** Unknown images fail to resolve (otherwise they resolve without a config). */
  readonly strictImages?: boolean;
  readonly expect: Readonly<Record<string, unknown>>;
}

export const TESTDATA = path.join(import.meta.dirname, 'testdata');

export function fixtureNames(): string[] {
  return readdirSync(TESTDATA, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

export function readFixture(name: string): { dockerfile: string; spec: FixtureCase } {
  const dir = path.join(TESTDATA, name);
  return {
    dockerfile: readFileSync(path.join(dir, 'Dockerfile'), 'utf8'),
    spec: JSON.parse(readFileSync(path.join(dir, 'case.json'), 'utf8')) as FixtureCase,
  };
}

/** A resolver over a fixed table that records what it was asked. */
export function tableResolver(spec: FixtureCase, calls: string[]): ImageMetaResolver {
  return {
    resolve(ref, { platform }) {
      calls.push(`${ref} ${platform.os}/${platform.architecture}`);
      const known = spec.images?.[ref];
      if (known !== undefined)
        return Promise.resolve({ ref: known.ref ?? ref, config: known.config });
      if (spec.strictImages === true) {
        return Promise.reject(new TbuildError('TB_IMAGE_NOT_FOUND', `image ${ref} not found`));
      }
      return Promise.resolve({ ref });
    },
  };
}

export async function lowerFixture(
  dockerfile: string,
  spec: FixtureCase,
  calls: string[] = [],
): Promise<LoweredBuild> {
  const parsed = parseDockerfile(dockerfile, { file: 'Dockerfile' });
  return lowerDockerfile(parsed, {
    file: 'Dockerfile',
    buildArgs: new Map(Object.entries(spec.buildArgs ?? {})),
    ...(spec.target === undefined ? {} : { target: spec.target }),
    ...(spec.platform === undefined ? {} : { platform: parsePlatform(spec.platform) }),
    ...(spec.buildPlatform === undefined
      ? {}
      : { buildPlatform: parsePlatform(spec.buildPlatform) }),
    ...(spec.dockerignore === undefined ? {} : { dockerignore: spec.dockerignore }),
    ...(spec.sourceDateEpoch === undefined ? {} : { sourceDateEpoch: spec.sourceDateEpoch }),
    ...(spec.noCache === undefined ? {} : { noCache: spec.noCache }),
    ...(spec.entitlements === undefined ? {} : { entitlements: spec.entitlements }),
    resolver: tableResolver(spec, calls),
    signal: AbortSignal.timeout(10_000),
  });
}

/** The DAG as plain data: vertices in topological order, inputs as positions in that order. */
export function describeGraph(
  root: Vertex | undefined,
): { name: string; op: unknown; inputs: number[] }[] {
  if (root === undefined) return [];
  const order = topologicalOrder([root]);
  const position = new Map(order.map((vertex, index) => [vertex.digest, index]));
  return order.map((vertex) => ({
    name: vertex.meta.name,
    op: vertex.op,
    inputs: vertex.inputs.map((input) => position.get(input.digest) ?? -1),
  }));
}
