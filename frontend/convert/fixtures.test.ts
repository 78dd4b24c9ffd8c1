import { describe, expect, it } from 'vitest';
import { isTbuildError } from '../../core/index.js';
import { describeGraph, fixtureNames, lowerFixture, readFixture } from './fixture-harness.js';

/**
 * Each testdata/<case>/ holds a Dockerfile and case.json; `expect` lists only
 * the parts that matter: error (code, message fragment, line), image (partial
 * config), history (created_by texts of the whole history), vertices (the DAG
 * in topological order, each partial), contextPaths, warnings, stages, resolved
 * (which images the resolver was asked for).
 */
describe('Dockerfile lowering fixtures', () => {
  const names = fixtureNames();
  it('has the fixture corpus', () => {
    expect(names.length).toBeGreaterThanOrEqual(80);
  });

  for (const name of names) {
    it(name, async () => {
      const { dockerfile, spec } = readFixture(name);
      const expected = spec.expect;
      const calls: string[] = [];
      const outcome = await lowerFixture(dockerfile, spec, calls).then(
        (build) => ({ build }),
        (error: unknown) => ({ error }),
      );
      if ('error' in outcome) {
        const error = outcome.error;
        if (expected['error'] === undefined) throw error;
        if (!isTbuildError(error)) throw error;
        const want = expected['error'] as {
          code: string;
          message: string;
          line?: number;
          hint?: string;
        };
        expect(error.code).toBe(want.code);
        expect(error.message).toContain(want.message);
        if (want.line !== undefined) expect(error.source?.startLine).toBe(want.line);
        if (want.hint !== undefined) expect(error.hint).toContain(want.hint);
        return;
      }
      const build = outcome.build;
      expect(expected['error'], 'expected an error').toBeUndefined();
      if (expected['image'] !== undefined)
        expect(build.image).toMatchObject(expected['image'] as object);
      if (expected['config'] !== undefined) expect(build.image.config).toEqual(expected['config']);
      if (expected['history'] !== undefined) {
        expect(build.image.history?.map((entry) => entry.created_by)).toEqual(expected['history']);
      }
      if (expected['emptyLayers'] !== undefined) {
        expect(build.image.history?.map((entry) => entry.empty_layer === true)).toEqual(
          expected['emptyLayers'],
        );
      }
      if (expected['vertices'] !== undefined) {
        expect(describeGraph(build.root)).toMatchObject(expected['vertices'] as object[]);
      }
      if (expected['root'] === null) expect(build.root).toBeUndefined();
      if (expected['contextPaths'] !== undefined)
        expect(build.contextPaths).toEqual(expected['contextPaths']);
      if (expected['warnings'] !== undefined) expect(build.warnings).toEqual(expected['warnings']);
      if (expected['stages'] !== undefined)
        expect(build.stages).toMatchObject(expected['stages'] as object[]);
      if (expected['resolved'] !== undefined)
        expect([...calls].sort()).toEqual(expected['resolved']);
    });
  }
});
