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

/** Where systemd-resolved lists the servers it forwards to, when /etc/resolv.conf names its stub. */
export const SYSTEMD_RESOLVED_UPSTREAM = '/run/systemd/resolve/resolv.conf';

const isLoopback = (ip: string): boolean => ip.startsWith('127.') || ip === '::1';

function nameserversOf(file: string): string[] {
  const servers: string[] = [];
  for (const line of file.split('\n')) {
    const match = /^\s*nameserver\s+(\S+)/.exec(line);
    if (match?.[1] !== undefined) servers.push(match[1]);
  }
  return servers;
}

/**
 * The sandbox's resolv.conf (BuildKit util/resolvconf, Docker's libnetwork): the host's
 * file as it is for `host`, which shares the host's network namespace. Otherwise the
 * step has a namespace of its own (`none`; `default`, behind NAT), where a loopback
 * nameserver would point at the step itself: those are dropped, and when none is left
 * the servers systemd-resolved forwards to are used (`upstream`, the content of
 * {@link SYSTEMD_RESOLVED_UPSTREAM}, as Docker does), else Google's.
 */
export function resolvConf(hostFile: string, network: NetworkMode, upstream = ''): string {
  if (network === 'host')
    return hostFile.endsWith('\n') || hostFile === '' ? hostFile : hostFile + '\n';
  const kept: string[] = [];
  let nameservers = 0;
  for (const line of hostFile.split('\n')) {
    const server = nameserversOf(line)[0];
    if (server !== undefined) {
      if (isLoopback(server)) continue;
      nameservers++;
    }
    if (line.trim() !== '') kept.push(line);
  }
  if (nameservers === 0) {
    const forwarded = nameserversOf(upstream).filter((server) => !isLoopback(server));
    const servers = forwarded.length > 0 ? forwarded : FALLBACK_NAMESERVERS;
    kept.push(...servers.map((ip) => `nameserver ${ip}`));
  }
  return kept.join('\n') + '\n';
}
