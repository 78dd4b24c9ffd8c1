/** Parsing of ADD --checksum values: a sha256 digest for URLs, a hex commit for git. */
import { TbuildError, isDigest, type Digest } from '../../core/index.js';

/** `sha256:<64 hex>`; any other algorithm is refused since only sha256 is computed. */
export function parseHttpChecksum(value: string, shownUrl: string): Digest {
  const normalized = value.trim().toLowerCase();
  if (isDigest(normalized)) return normalized;
  throw new TbuildError(
    'TB_CHECKSUM_INVALID',
    `invalid checksum ${JSON.stringify(value)} for ${shownUrl}`,
    { hint: 'use --checksum=sha256:<64 hex digits>', details: { checksum: value } },
  );
}

/**
 * A hex commit id or a prefix of one (at least 7 digits, as `git log --oneline` prints);
 * 40 digits for SHA-1 repositories, 64 for SHA-256 ones.
 */
export function parseGitChecksum(value: string): string {
  const normalized = value.trim().toLowerCase();
  if (/^[0-9a-f]{7,64}$/.test(normalized)) return normalized;
  throw new TbuildError(
    'TB_CHECKSUM_INVALID',
    `invalid checksum ${JSON.stringify(value)} for a git source: expected a hex commit id`,
    {
      hint: 'use --checksum=<commit>, e.g. the output of git rev-parse',
      details: { checksum: value },
    },
  );
}
