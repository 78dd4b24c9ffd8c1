import { basename, dirname, join } from 'node:path';

/**
 * `<Dockerfile name>.dockerignore` beside the Dockerfile wins over
 * <context>/.dockerignore (BuildKit's dockerfile frontend and buildx). Pure:
 * the caller says which files exist.
 */
export function chooseDockerignore(options: {
  dockerfilePath: string;
  contextDir: string;
  exists: (path: string) => boolean;
}): string | undefined {
  const { dockerfilePath, contextDir, exists } = options;
  // A Dockerfile read from stdin has no name, so only the context's file can apply.
  if (dockerfilePath !== '' && dockerfilePath !== '-') {
    const specific = join(dirname(dockerfilePath), `${basename(dockerfilePath)}.dockerignore`);
    if (exists(specific)) return specific;
  }
  const general = join(contextDir, '.dockerignore');
  return exists(general) ? general : undefined;
}
