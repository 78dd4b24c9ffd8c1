import { describe, expect, it } from 'vitest';
import { TbuildError } from '../core/index.js';
import {
  addOutputAnnotation,
  mergeAnnotations,
  NO_ANNOTATIONS,
  parseAnnotationFlags,
} from './annotations.js';
import { parseOutput } from './options.js';

function usageError(run: () => unknown): TbuildError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(TbuildError);
    expect((error as TbuildError).code).toBe('TB_USAGE');
    return error as TbuildError;
  }
  throw new Error('expected a usage error');
}

describe('--annotation', () => {
  it('puts KEY=VALUE and manifest:KEY=VALUE on the manifest', () => {
    expect(parseAnnotationFlags(['org.example.a=1', 'manifest:org.example.b=x=y'])).toEqual({
      manifest: { 'org.example.a': '1', 'org.example.b': 'x=y' },
      manifestDescriptor: {},
    });
  });

  it('puts manifest-descriptor:KEY=VALUE on the descriptor, and a,b: on both', () => {
    expect(
      parseAnnotationFlags(['manifest-descriptor:d=1', 'manifest,manifest-descriptor:both=2']),
    ).toEqual({ manifest: { both: '2' }, manifestDescriptor: { d: '1', both: '2' } });
  });

  it('takes the platform tbuild builds, and refuses another', () => {
    expect(parseAnnotationFlags(['manifest[linux/amd64]:p=1']).manifest).toEqual({ p: '1' });
    expect(usageError(() => parseAnnotationFlags(['manifest[linux/arm64]:p=1'])).message).toContain(
      'no platform linux/arm64',
    );
  });

  it('refuses index annotations: tbuild writes no image index', () => {
    for (const text of ['index:a=1', 'index-descriptor:a=1', 'manifest,index:a=1']) {
      expect(usageError(() => parseAnnotationFlags([text])).message).toContain(
        'index annotations not supported for single platform export',
      );
    }
  });

  it('refuses unknown types and values without =', () => {
    const error = usageError(() => parseAnnotationFlags(['config:a=1']));
    expect(error.message).toContain('unknown annotation type "config"');
    expect(error.hint).toContain('manifest-descriptor');
    expect(usageError(() => parseAnnotationFlags(['novalue'])).message).toContain('--annotation');
    expect(usageError(() => parseAnnotationFlags(['a b=1'])).message).toContain('--annotation');
  });
});

describe('-o annotation options', () => {
  it('reads annotation., annotation-manifest. and annotation-manifest-descriptor.', () => {
    const output = parseOutput(
      'type=oci,dest=out.tar,annotation.a=1,annotation-manifest.b=2,annotation-manifest-descriptor.c=3,annotation-manifest[linux/amd64].d=4',
    );
    expect(output.annotations).toEqual({
      manifest: { a: '1', b: '2', d: '4' },
      manifestDescriptor: { c: '3' },
    });
  });

  it('leaves annotations out when there are none', () => {
    expect(parseOutput('type=oci,dest=out.tar').annotations).toBeUndefined();
  });

  it('refuses index annotations and unknown types', () => {
    expect(usageError(() => parseOutput('type=image,annotation-index.a=1')).message).toContain(
      'index annotations',
    );
    expect(usageError(() => parseOutput('type=image,annotation-config.a=1')).message).toContain(
      'unknown annotation type',
    );
    expect(addOutputAnnotation(NO_ANNOTATIONS, 'name', 'x')).toBeUndefined();
  });

  it('lets --annotation win over -o for the same key', () => {
    const output = parseOutput('type=image,annotation.a=from-o,annotation.b=kept');
    expect(mergeAnnotations(output.annotations, parseAnnotationFlags(['a=from-flag']))).toEqual({
      manifest: { a: 'from-flag', b: 'kept' },
      manifestDescriptor: {},
    });
  });
});
