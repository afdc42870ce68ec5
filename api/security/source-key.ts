import { isIPv4, isIPv6 } from 'node:net';
import { ipv6Groups } from '../../common/ip';

/**
 * The key of a request's source for rate limits: an IPv4 address as is, an IPv6 address by its
 * /64 (one subscriber usually gets a whole /64, so per-address limits would be trivial to dodge),
 * an IPv4-mapped IPv6 address as the IPv4 address it carries.
 */
export function sourceKey(ip: string): string {
  const address = ip.split('%')[0];
  if (isIPv4(address)) return address;
  if (!isIPv6(address)) return `other:${address.slice(0, 64)}`;
  const g = ipv6Groups(address);
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    return [g[6] >> 8, g[6] & 255, g[7] >> 8, g[7] & 255].join('.');
  }
  return `${g.slice(0, 4).map((x) => x.toString(16)).join(':')}::/64`;
}
