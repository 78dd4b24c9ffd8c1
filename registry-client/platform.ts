import { TbuildError } from '../core/index.js';
import type { Descriptor, ImageIndex, Platform } from './manifest-types.js';

/**
 * Platform matching after containerd/platforms: both sides are normalised (x86_64 →
 * amd64, aarch64 → arm64, arm64/v8 ≡ arm64, arm → arm/v7, …), exact matches first, then
 * compatible fallbacks (arm/v7 runs v6 and v5; amd64/v3 runs v2, v1 and plain amd64).
 */

export interface PlatformSpec {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

export const LINUX_AMD64: PlatformSpec = { os: 'linux', architecture: 'amd64' };

export function normalisePlatform(platform: PlatformSpec): PlatformSpec {
  const os = platform.os.toLowerCase() === 'macos' ? 'darwin' : platform.os.toLowerCase();
  let architecture = platform.architecture.toLowerCase();
  let variant = platform.variant?.toLowerCase();
  switch (architecture) {
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      architecture = 'amd64';
      if (variant === 'v1') variant = undefined;
      break;
    case 'aarch64':
    case 'arm64':
      architecture = 'arm64';
      if (variant === '8' || variant === 'v8') variant = undefined;
      break;
    case 'i386':
    case 'i686':
      architecture = '386';
      variant = undefined;
      break;
    case 'armhf':
      architecture = 'arm';
      variant = 'v7';
      break;
    case 'armel':
      architecture = 'arm';
      variant = 'v6';
      break;
    case 'arm':
      if (variant === undefined || variant === '') variant = 'v7';
      else if (/^[5-8]$/.test(variant)) variant = `v${variant}`;
      break;
    default:
      break;
  }
  return { os, architecture, ...(variant === undefined || variant === '' ? {} : { variant }) };
}

export function formatPlatform(platform: PlatformSpec): string {
  return [platform.os, platform.architecture, platform.variant]
    .filter((p) => p !== undefined)
    .join('/');
}

/** Parses `linux/arm64/v8`-style strings. */
export function parsePlatform(text: string): PlatformSpec {
  const [os, architecture, variant, extra] = text.split('/');
  if (
    os === undefined ||
    os === '' ||
    architecture === undefined ||
    architecture === '' ||
    extra !== undefined
  ) {
    throw new TbuildError('TB_REGISTRY_MANIFEST', `invalid platform "${text}"`, {
      hint: 'use os/arch[/variant], e.g. linux/amd64',
    });
  }
  return normalisePlatform({ os, architecture, ...(variant === undefined ? {} : { variant }) });
}

/** Variants `want` can run, best first (itself first). */
function acceptableVariants(want: PlatformSpec): (string | undefined)[] {
  const n = Number(want.variant?.slice(1));
  if (want.architecture === 'arm' && Number.isInteger(n)) {
    return Array.from({ length: n - 4 }, (_, i) => `v${String(n - i)}`);
  }
  if (want.architecture === 'amd64' && Number.isInteger(n)) {
    return [...Array.from({ length: n - 1 }, (_, i) => `v${String(n - i)}`), undefined];
  }
  return [want.variant];
}

function rank(candidate: Platform | undefined, want: PlatformSpec): number {
  if (candidate === undefined) return -1;
  const have = normalisePlatform(candidate);
  if (have.os !== want.os || have.architecture !== want.architecture) return -1;
  return acceptableVariants(want).indexOf(have.variant);
}

/** The manifest of `index` for `want`: the best-ranked match, the first among equals. */
export function selectPlatform(index: ImageIndex, wanted: PlatformSpec, what: string): Descriptor {
  const want = normalisePlatform(wanted);
  let best: Descriptor | undefined;
  let bestRank = Number.POSITIVE_INFINITY;
  for (const entry of index.manifests) {
    const r = rank(entry.platform, want);
    if (r >= 0 && r < bestRank) {
      best = entry;
      bestRank = r;
    }
  }
  if (best !== undefined) return best;
  const available = index.manifests
    .map((m) =>
      m.platform === undefined ? 'unknown' : formatPlatform(normalisePlatform(m.platform)),
    )
    .filter((p) => p !== 'unknown/unknown');
  throw new TbuildError(
    'TB_REGISTRY_MANIFEST',
    `${what} has no manifest for ${formatPlatform(want)}`,
    {
      hint: `available platforms: ${available.join(', ') || 'none'}`,
      details: { platform: formatPlatform(want), available },
    },
  );
}
