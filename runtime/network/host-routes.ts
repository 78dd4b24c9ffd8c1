import { formatSubnet, overlaps, type Subnet } from './subnet.js';

/** One IPv4 route of the host's main table, as /proc/net/route lists it. */
export interface HostRoute {
  readonly iface: string;
  readonly destination: Subnet;
}

/**
 * Parses /proc/net/route: a header line, then tab-separated columns where the
 * destination and mask are the address bytes in the kernel's (little-endian) order, as hex.
 */
export function parseRouteTable(text: string): HostRoute[] {
  const routes: HostRoute[] = [];
  for (const line of text.split('\n').slice(1)) {
    const columns = line.trim().split(/\s+/);
    const [iface, destination, , , , , , mask] = columns;
    if (iface === undefined || destination === undefined || mask === undefined) continue;
    const base = littleEndianAddress(destination);
    const maskValue = littleEndianAddress(mask);
    if (base === undefined || maskValue === undefined) continue;
    routes.push({ iface, destination: { base, prefix: prefixOf(maskValue) } });
  }
  return routes;
}

function littleEndianAddress(hex: string): number | undefined {
  if (!/^[0-9A-Fa-f]{8}$/.test(hex)) return undefined;
  const bytes = Buffer.from(hex, 'hex');
  return bytes.readUInt32LE(0);
}

function prefixOf(mask: number): number {
  let prefix = 0;
  for (let bit = 31; bit >= 0 && Math.floor(mask / 2 ** bit) % 2 === 1; bit--) prefix++;
  return prefix;
}

/** The interface of the default route (the one NAT sends steps' traffic out of), if any. */
export function defaultRouteInterface(routes: readonly HostRoute[]): string | undefined {
  return routes.find((route) => route.destination.prefix === 0)?.iface;
}

/**
 * A host route (not the default one, not a step's own) whose addresses the build subnet
 * would shadow: the host could no longer reach them while a step holds one.
 */
export function clashingRoute(
  routes: readonly HostRoute[],
  subnet: Subnet,
  stepInterfacePrefix: string,
): string | undefined {
  const clash = routes.find(
    (route) =>
      route.destination.prefix > 0 &&
      !route.iface.startsWith(stepInterfacePrefix) &&
      overlaps(route.destination, subnet),
  );
  return clash === undefined ? undefined : `${formatSubnet(clash.destination)} dev ${clash.iface}`;
}
