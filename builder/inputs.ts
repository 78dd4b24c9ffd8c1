import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeRawText, TbuildError, wellFormedText } from '../core/index.js';
import { chooseDockerignore, parseDockerignore } from '../frontend/index.js';

/** The Dockerfile and .dockerignore of a build, read from disk (or stdin) once. */
export interface BuildInputs {
  readonly contextDir: string;
  /** As shown in errors: the path given, or `Dockerfile` for stdin. */
  readonly dockerfileName: string;
  readonly dockerfileText: string;
  /** Patterns of the .dockerignore that applies, in order, with `!` kept. */
  readonly dockerignore: readonly string[];
}

export async function readBuildInputs(options: {
  readonly contextDir: string;
  readonly dockerfile: string | undefined;
  readonly readStdin: () => Promise<string>;
}): Promise<BuildInputs> {
  const { contextDir } = options;
  if (!existsSync(contextDir)) {
    throw new TbuildError(
      'TB_FILE_READ',
      `unable to prepare context: path "${contextDir}" not found`,
    );
  }
  const dockerfilePath = options.dockerfile ?? join(contextDir, 'Dockerfile');
  const dockerfileText =
    dockerfilePath === '-'
      ? await options.readStdin()
      : await readText(dockerfilePath, 'Dockerfile');
  const ignoreFile = chooseDockerignore({ dockerfilePath, contextDir, exists: existsSync });
  const dockerignore =
    ignoreFile === undefined
      ? []
      : parseDockerignore(await readText(ignoreFile, '.dockerignore'), ignoreFile).map(
          // File names that are not UTF-8 reach the matcher with U+FFFD for their bad
          // bytes (readdir's decoding), so a pattern's bad bytes are read the same way.
          (rule) => `${rule.negate ? '!' : ''}${wellFormedText(rule.pattern)}`,
        );
  return {
    contextDir,
    dockerfileName: dockerfilePath === '-' ? 'Dockerfile' : dockerfilePath,
    dockerfileText,
    dockerignore,
  };
}

/**
 * Reads a Dockerfile or .dockerignore as raw text (core/raw-text.ts): bytes that are
 * not UTF-8 are kept, so a RUN gets them as BuildKit passes them, byte for byte, and
 * a pattern can name a file whose name is not UTF-8.
 */
export async function readText(file: string, what: string): Promise<string> {
  try {
    return decodeRawText(await readFile(file));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new TbuildError('TB_FILE_READ', `cannot read ${what} ${file}: ${code}`, { cause: error });
  }
}
