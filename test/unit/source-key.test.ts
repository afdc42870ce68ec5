import { sourceKey } from '../../api/security/source-key';

describe('rate-limit source keys', () => {
  it('IPv6 addresses are grouped by /64, in any spelling', () => {
    const k = sourceKey('2001:db8:1:2::1');
    expect(k).toBe('2001:db8:1:2::/64');
    for (const a of ['2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:0DB8:0001:0002:0000:0000:0000:0002', '2001:db8:1:2:a:b:c:d', 'fe80::1%eth0'.replace('fe80::1', '2001:db8:1:2::9')]) {
      expect(sourceKey(a)).toBe(k);
    }
    expect(sourceKey('2001:db8:1:3::1')).not.toBe(k);
    expect(sourceKey('2001:db8:2:2::1')).not.toBe(k);
  });

  it('IPv4 stays per address, also when mapped into IPv6', () => {
    expect(sourceKey('10.1.2.3')).toBe('10.1.2.3');
    expect(sourceKey('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(sourceKey('10.1.2.4')).not.toBe(sourceKey('10.1.2.3'));
  });

  it('an IPv4-mapped address is its IPv4 address in every spelling: dotted or hex tail, any case, a zone', () => {
    for (const a of ['::ffff:192.168.255.1', '::FFFF:192.168.255.1', '::ffff:c0a8:ff01', '0:0:0:0:0:ffff:c0a8:ff01', '0000:0000:0000:0000:0000:FFFF:C0A8:FF01', '::ffff:192.168.255.1%eth0']) {
      expect(sourceKey(a)).toBe('192.168.255.1');
    }
    // Each octet lands in its place (the tail is two 16-bit groups, high byte first).
    expect(sourceKey('::ffff:1.2.3.4')).toBe('1.2.3.4');
    expect(sourceKey('::ffff:4.3.2.1')).toBe('4.3.2.1');
    expect(sourceKey('::ffff:0.0.0.0')).toBe('0.0.0.0');
    expect(sourceKey('::ffff:255.255.255.255')).toBe('255.255.255.255');
    expect(sourceKey('::ffff:10.200.30.4')).toBe(sourceKey('10.200.30.4'));
  });

  it('only ::ffff:0:0/96 is mapped: other addresses with an IPv4 tail are IPv6 and keyed by their /64', () => {
    // Not mapped: a non-zero group before ffff, another marker than ffff, the deprecated IPv4-compatible form.
    expect(sourceKey('1::ffff:10.1.2.3')).toBe('1:0:0:0::/64');
    expect(sourceKey('0:0:0:0:1:ffff:a01:203')).toBe('0:0:0:0::/64');
    expect(sourceKey('::fffe:10.1.2.3')).toBe('0:0:0:0::/64');
    expect(sourceKey('::10.1.2.3')).toBe('0:0:0:0::/64');
    // NAT64 and any other prefix with a dotted tail: the same /64 as the hex spelling of that address.
    expect(sourceKey('64:ff9b::1.2.3.4')).toBe('64:ff9b:0:0::/64');
    expect(sourceKey('64:ff9b::1.2.3.4')).toBe(sourceKey('64:ff9b::102:304'));
    expect(sourceKey('2001:db8:1:2::1.2.3.4')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8:1:2:3:4:1.2.3.4')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8:a:b:c:d:255.255.255.255')).toBe('2001:db8:a:b::/64');
    // An IPv4 tail that is no IPv4 address makes the whole address something else.
    expect(sourceKey('::ffff:1.2.3.256')).toBe('other:::ffff:1.2.3.256');
  });

  it('the /64 is read correctly wherever the :: stands', () => {
    expect(sourceKey('::')).toBe('0:0:0:0::/64');
    expect(sourceKey('::1')).toBe('0:0:0:0::/64');
    expect(sourceKey('2001:db8::')).toBe('2001:db8:0:0::/64');
    expect(sourceKey('1:2:3:4:5:6:7::')).toBe('1:2:3:4::/64');
    expect(sourceKey('::2:3:4:5:6:7:8')).toBe('0:2:3:4::/64');
    expect(sourceKey('1:2::7:8')).toBe('1:2:0:0::/64');
    expect(sourceKey('1::3:4:5:6:7:8')).toBe('1:0:3:4::/64');
    expect(sourceKey('ABCD:EF01:0:0a::1')).toBe('abcd:ef01:0:a::/64');
  });

  it('anything else is kept apart and bounded', () => {
    expect(sourceKey('unknown')).toBe('other:unknown');
    expect(sourceKey('x'.repeat(500))).toBe(`other:${'x'.repeat(64)}`);
    expect(sourceKey(':::')).toBe('other::::');
    expect(sourceKey('1.2.3.4.5')).toBe('other:1.2.3.4.5');
  });
});
