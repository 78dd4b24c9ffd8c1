import { describe, expect, it } from 'vitest';
import { clashingRoute, defaultRouteInterface, parseRouteTable } from './host-routes.js';
import { formatSubnet, parseSubnet } from './subnet.js';

// /proc/net/route as this kind of host has it, plus a step's veth and a clashing VPN route.
const TABLE = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
tbuild7\t0E00D50A\t00000000\t0001\t0\t0\t0\tFEFFFFFF\t0\t0\t0
`;

describe('host routes', () => {
  it('reads destinations and prefixes from /proc/net/route', () => {
    const routes = parseRouteTable(TABLE);
    expect(routes.map((route) => `${formatSubnet(route.destination)} ${route.iface}`)).toEqual([
      '0.0.0.0/0 eth0',
      '172.17.0.0/16 docker0',
      '192.0.2.0/24 eth0',
      '10.213.0.14/31 tbuild7',
    ]);
    expect(defaultRouteInterface(routes)).toBe('eth0');
  });

  it("finds a route the build subnet would shadow, but not the default one or steps' own", () => {
    const routes = parseRouteTable(TABLE);
    expect(clashingRoute(routes, parseSubnet('10.213.0.0/16'), 'tbuild')).toBeUndefined();
    expect(clashingRoute(routes, parseSubnet('172.16.0.0/12'), 'tbuild')).toBe(
      '172.17.0.0/16 dev docker0',
    );
    const vpn = parseRouteTable(
      TABLE + 'tun0\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n',
    );
    expect(clashingRoute(vpn, parseSubnet('10.213.0.0/16'), 'tbuild')).toBe('10.0.0.0/8 dev tun0');
  });
});
