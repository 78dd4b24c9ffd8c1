import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TbuildError } from '../../core/index.js';
import { findStaticDir } from './static-dir.js';

const REPO = new URL('../../', import.meta.url);

describe('findStaticDir', () => {
  it('finds the page from the source, from dist/ and from the CLI bundle alike', () => {
    const expected = join(new URL('daemon/web/static', REPO).pathname);
    for (const running of [
      'daemon/web/register-web-view.ts',
      'dist/daemon/web/register-web-view.js',
      'dist/bundle/cli/main.js',
    ])
      expect(findStaticDir(new URL(running, REPO).href)).toBe(expected);
    expect(existsSync(join(expected, 'index.html'))).toBe(true);
  });

  it('says the files are missing outside a tbuild package', () => {
    let caught: unknown;
    try {
      findStaticDir(pathToFileURL('/nowhere/tbuild/main.js').href);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(TbuildError);
    expect((caught as TbuildError).code).toBe('TB_INTERNAL');
  });
});
