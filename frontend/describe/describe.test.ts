import { describe, expect, it } from 'vitest';
import { parseDockerfile } from '../dockerfile/index.js';
import { listTargets } from './targets.js';
import { outlineTarget } from './outline.js';

const DOCKERFILE = `# syntax=docker/dockerfile:1

# GO_VERSION sets the Go version for the build
ARG GO_VERSION=1.22
ARG UNUSED=1

# base-builder is the base stage for building the project
FROM golang:\${GO_VERSION} AS base-builder
# CGO sets whether cgo is used
ARG CGO=0
RUN --mount=type=secret,id=token,required=true --mount=type=ssh true

FROM base-builder AS test
ARG LEVEL
RUN --mount=type=secret,target=/run/secrets/npmrc true

# release is the image to ship
FROM scratch AS release
COPY --from=base-builder /out /
`;
const parsed = parseDockerfile(DOCKERFILE, { file: 'Dockerfile' });

describe('--call=targets', () => {
  it('lists every stage with its description and the default', () => {
    const list = listTargets(parsed, DOCKERFILE);
    expect(list.targets.map((t) => [t.name, t.description, t.default])).toEqual([
      ['base-builder', 'is the base stage for building the project', undefined],
      ['test', undefined, undefined],
      ['release', 'is the image to ship', true],
    ]);
    expect(list.targets[0]?.base).toBe('golang:${GO_VERSION}');
    expect(list.targets[0]?.location).toEqual({
      ranges: [{ start: { line: 8 }, end: { line: 8 } }],
    });
    expect(Buffer.from(list.sources[0] ?? '', 'base64').toString()).toBe(DOCKERFILE);
  });
});

describe('--call=outline', () => {
  it('gives the args, secrets and ssh of the default target through the stages it reads', () => {
    const outline = outlineTarget(parsed, { buildArgs: new Map() }, DOCKERFILE);
    expect(outline.name).toBe('release');
    expect(outline.description).toBe('is the image to ship');
    expect(outline.args).toEqual([
      {
        name: 'GO_VERSION',
        description: 'sets the Go version for the build',
        value: '1.22',
        location: { ranges: [{ start: { line: 4 }, end: { line: 4 } }] },
      },
      {
        name: 'CGO',
        description: 'sets whether cgo is used',
        value: '0',
        location: { ranges: [{ start: { line: 10 }, end: { line: 10 } }] },
      },
    ]);
    expect(outline.secrets?.map((s) => [s.name, s.required])).toEqual([['token', true]]);
    expect(outline.ssh?.map((s) => s.name)).toEqual(['default']);
  });

  it('follows --target and build args', () => {
    const outline = outlineTarget(
      parsed,
      { target: 'test', buildArgs: new Map([['GO_VERSION', '1.23']]) },
      DOCKERFILE,
    );
    expect(outline.name).toBe('test');
    expect(outline.args?.map((a) => [a.name, a.value])).toEqual([
      ['GO_VERSION', '1.23'],
      ['CGO', '0'],
      ['LEVEL', undefined],
    ]);
    expect(outline.secrets?.map((s) => s.name)).toEqual(['token', 'npmrc']);
  });
});
