/** worker/sources: what ADD reads besides the context: URLs, git repositories, and local archives it extracts. */
export { fetchHttp, type FetchHttpOptions, type FetchHttpResult } from './http-fetch.js';
export {
  HTTP_CACHE_KEY_ENCODING,
  httpCacheKey,
  httpPinnedCacheKey,
  type HttpCacheKeyMaterial,
} from './http-cache-key.js';
export { downloadFileName, safeFileName } from './http-filename.js';
export { fetchGit, type FetchGitOptions, type FetchGitResult } from './git-fetch.js';
export { GIT_CACHE_KEY_ENCODING, gitCacheKey } from './git-cache-key.js';
export { unpackArchive, type UnpackOptions } from './unpack-archive.js';
export { extractTar, type ExtractOptions, type ExtractResult } from './archive-extract.js';
export { redactCredentialsIn, redactUrl } from './redact.js';
export { resolveGitCommit, type ResolveGitOptions } from './git-resolve.js';
