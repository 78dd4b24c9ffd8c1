import { TbuildError } from '../../core/index.js';

/** An IPv4 subnet: its first address as an unsigned 32-bit number, and its prefix length. */
export interface Subnet {
  readonly base: number;
  readonly prefix: number;
}

/** The steps' addresses: one /31 per running step, 32768 at once; apart from Docker's 172.17/16 and Podman's 10.88/16. */
export const DEFAULT_SUBNET = '10.213.0.0/16';

export function parseSubnet(text: string): Subnet {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text);
  const octets = match?.slice(1, 5).map(Number) ?? [];
  const prefix = Number(match?.[5]);
  if (match === null || octets.some((octet) => octet > 255) || prefix < 8 || prefix > 30) {
    throw new TbuildError(
      'TB_RUNTIME_NETWORK',
      `invalid build subnet "${text}": use a.b.c.d/len with len 8 to 30`,
    );
  }
  const address = octets.reduce((sum, octet) => sum * 256 + octet, 0);
  return { base: maskOf(address, prefix), prefix };
}

export function formatSubnet(subnet: Subnet): string {
  return `${formatAddress(subnet.base)}/${String(subnet.prefix)}`;
}

export function formatAddress(address: number): string {
  return [24, 16, 8, 0].map((shift) => String(Math.floor(address / 2 ** shift) % 256)).join('.');
}

/** `address` with its host bits (past `prefix`) cleared. */
function maskOf(address: number, prefix: number): number {
  const size = 2 ** (32 - prefix);
  return address - (address % size);
}

/** Whether two subnets share an address (one contains the other). */
export function overlaps(a: Subnet, b: Subnet): boolean {
  const shorter = Math.min(a.prefix, b.prefix);
  return maskOf(a.base, shorter) === maskOf(b.base, shorter);
}
