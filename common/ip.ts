/**
 * Expands an IPv6 address to its eight 16-bit groups. The address was checked by `isIPv6` (and
 * has no zone), so it needs no further validation here.
 */
export function ipv6Groups(address: string): number[] {
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
