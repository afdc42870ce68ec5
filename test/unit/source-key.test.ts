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

  it('anything else is kept apart and bounded', () => {
    expect(sourceKey('unknown')).toBe('other:unknown');
    expect(sourceKey('x'.repeat(500)).length).toBeLessThanOrEqual(70);
  });
});
