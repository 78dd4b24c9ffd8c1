import type { NetworkMode } from './types.js';

/** /etc/hosts as BuildKit writes it (executor/oci/hosts.go), plus `--add-host` entries. */
export function hostsFile(
  hostname: string,
  extraHosts: readonly { readonly host: string; readonly ip: string }[] = [],
): string {
  const lines = [`127.0.0.1\tlocalhost ${hostname}`, '::1\tlocalhost ip6-localhost ip6-loopback'];
  for (const { host, ip } of extraHosts) lines.push(`${ip}\t${host}`);
  return lines.join('\n') + '\n';
}

const FALLBACK_NAMESERVERS = ['8.8.8.8', '8.8.4.4'];

/**
 * The sandbox's resolv.conf (BuildKit util/resolvconf): the host's file as it is when
 * the step shares the host's network namespace (`host`, and `default`, which tbuild
 * implements as the host namespace); otherwise loopback nameservers are dropped
 * (they would point into the empty namespace), falling back to Google's servers.
 */
export function resolvConf(hostFile: string, network: NetworkMode): string {
  if (network !== 'none')
    return hostFile.endsWith('\n') || hostFile === '' ? hostFile : hostFile + '\n';
  const kept: string[] = [];
  let nameservers = 0;
  for (const line of hostFile.split('\n')) {
    const match = /^\s*nameserver\s+(\S+)/.exec(line);
    if (match?.[1] !== undefined) {
      if (match[1].startsWith('127.') || match[1] === '::1') continue;
      nameservers++;
    }
    if (line.trim() !== '') kept.push(line);
  }
  if (nameservers === 0) kept.push(...FALLBACK_NAMESERVERS.map((ip) => `nameserver ${ip}`));
  return kept.join('\n') + '\n';
}
