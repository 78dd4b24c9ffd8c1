import { isIP } from 'node:net';
import { TbuildError } from '../core/index.js';

/** Where the service listens: `tcp://HOST:PORT` or `unix:///PATH`, as dockerd's `-H`. */
export type ListenAddress =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string };

export const DEFAULT_LISTEN: readonly string[] = [
  'unix:///run/tbuild/tbuild.sock',
  'tcp://127.0.0.1:8085',
];

export function parseListenAddress(text: string, where: string): ListenAddress {
  if (text.startsWith('unix://')) {
    const path = text.slice('unix://'.length);
    if (!path.startsWith('/'))
      throw invalid(text, where, 'a unix socket needs an absolute path: unix:///run/tbuild.sock');
    return { kind: 'unix', path };
  }
  if (text.startsWith('tcp://')) {
    const rest = text.slice('tcp://'.length);
    const match = /^(\[[^\]]+\]|[^:/]+):(\d{1,5})$/.exec(rest);
    const port = Number(match?.[2]);
    const host = match?.[1]?.replace(/^\[(.*)\]$/, '$1');
    if (host === undefined || !Number.isInteger(port) || port > 65535)
      throw invalid(text, where, 'expected tcp://HOST:PORT (port 0 picks a free one)');
    return { kind: 'tcp', host, port };
  }
  throw invalid(text, where, 'use tcp://HOST:PORT or unix:///PATH');
}

/** Loopback addresses reach only this machine; anything else needs TLS (docs/config.md). */
export function isLoopback(address: ListenAddress): boolean {
  if (address.kind === 'unix') return true;
  const host = address.host;
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

export function formatListenAddress(address: ListenAddress): string {
  if (address.kind === 'unix') return `unix://${address.path}`;
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `tcp://${host}:${String(address.port)}`;
}

function invalid(text: string, where: string, hint: string): TbuildError {
  return new TbuildError('TB_SERVICE_CONFIG', `invalid listen address "${text}" in ${where}`, {
    hint,
  });
}
