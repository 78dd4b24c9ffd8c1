import type { Platform } from '../../solver/ir/index.js';
import { lowerError } from './errors.js';

export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

const ARCH_ALIASES: Readonly<Record<string, string>> = {
  x86_64: 'amd64',
  'x86-64': 'amd64',
  aarch64: 'arm64',
  armhf: 'arm',
  armel: 'arm',
  i386: '386',
};

/** Parses `os[/arch[/variant]]` and normalises it as containerd does (arm64/v8 → arm64, arm → arm/v7). */
export function parsePlatform(text: string): Platform {
  const parts = text.trim().toLowerCase().split('/');
  const [os, rawArch, rawVariant] = parts;
  if (parts.length > 3 || os === undefined || os === '' || parts.some((part) => part === '')) {
    throw lowerError(
      'TB_DOCKERFILE_PLATFORM',
      `invalid platform "${text}": expected os/arch[/variant]`,
    );
  }
  if (!/^[a-z0-9_-]+$/.test(parts.join(''))) {
    throw lowerError('TB_DOCKERFILE_PLATFORM', `invalid platform "${text}": unexpected characters`);
  }
  const architecture = ARCH_ALIASES[rawArch ?? 'amd64'] ?? rawArch ?? 'amd64';
  let variant = rawVariant;
  if (rawArch === 'armhf' && variant === undefined) variant = 'v7';
  if (rawArch === 'armel' && variant === undefined) variant = 'v6';
  if (architecture === 'arm64' && (variant === 'v8' || variant === '8')) variant = undefined;
  if (architecture === 'arm' && variant === undefined) variant = 'v7';
  if (variant !== undefined && /^\d+$/.test(variant)) variant = `v${variant}`;
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

export function formatPlatform(platform: Platform): string {
  const base = `${platform.os}/${platform.architecture}`;
  return platform.variant === undefined ? base : `${base}/${platform.variant}`;
}

/** The automatic platform ARGs, in BuildKit's global scope. */
export function platformArgs(target: Platform, build: Platform): [string, string][] {
  return [
    ['BUILDPLATFORM', formatPlatform(build)],
    ['BUILDOS', build.os],
    ['BUILDARCH', build.architecture],
    ['BUILDVARIANT', build.variant ?? ''],
    ['TARGETPLATFORM', formatPlatform(target)],
    ['TARGETOS', target.os],
    ['TARGETARCH', target.architecture],
    ['TARGETVARIANT', target.variant ?? ''],
  ];
}

/** Build args that configure proxies: usable without ARG, passed to RUN, kept out of history and cache keys. */
export const PROXY_ARGS: ReadonlySet<string> = new Set([
  'HTTP_PROXY',
  'http_proxy',
  'HTTPS_PROXY',
  'https_proxy',
  'FTP_PROXY',
  'ftp_proxy',
  'NO_PROXY',
  'no_proxy',
  'ALL_PROXY',
  'all_proxy',
]);
