import { isIPv4, isIPv6 } from 'node:net';

/**
 * Expands an IPv6 address to its eight 16-bit groups. The address was checked by `isIPv6` (and
 * has no zone), so it needs no further validation here.
 */
function ipv6Groups(address: string): number[] {
  // An embedded IPv4 tail (::ffff:1.2.3.4, 64:ff9b::1.2.3.4; isIPv6 allows it only at the end) is
  // written as its two hex groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)/.exec(address);
  const text = v4 ? `${address.slice(0, v4.index)}${((+v4[1] << 8) | +v4[2]).toString(16)}:${((+v4[3] << 8) | +v4[4]).toString(16)}` : address;
  const [head, rest] = text.split('::');
  const parse = (s: string | undefined) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const left = parse(head);
  const right = parse(rest);
  return [...left, ...Array(8 - left.length - right.length).fill(0), ...right];
}

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
