import { trace } from '@opentelemetry/api';
import { EnvelopeSecurity, SECURITY_HEADERS, TRACE_HEADERS, traceContextOf } from '../../common/kafka/envelope-security';
import { TOPICS } from '../../common/kafka/topics';

const secret = (c: string) => c.repeat(8) + '0123456789abcdefghijklmnopqrstuv';
const make = (over: Partial<ConstructorParameters<typeof EnvelopeSecurity>[0]> = {}) =>
  new EnvelopeSecurity({
    requestMacKeys: `k2:${secret('a')},k1:${secret('b')}`,
    replyMacKeys: `k1:${secret('c')}`,
    payloadKeys: `p2:${secret('d')},p1:${secret('e')}`,
    messageKeySecret: secret('f'),
    maxAgeMs: 300_000,
    ...over,
  });

describe('Kafka envelope security', () => {
  const sec = make();
  const msg = (key: string, value: string, headers: Record<string, string>) => ({ key: Buffer.from(key), value: Buffer.from(value), headers });

  it('verifies what it signed, with the current key id', () => {
    const headers = sec.sign('request', TOPICS.dbRequests, 'k', 'v');
    expect(headers[SECURITY_HEADERS.kid]).toBe('k2');
    expect(sec.verify('request', TOPICS.dbRequests, msg('k', 'v', headers))).toMatchObject({ ok: true, messageId: headers[SECURITY_HEADERS.id] });
  });

  describe('trace headers', () => {
    const parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const traced = { [TRACE_HEADERS.parent]: parent, [TRACE_HEADERS.state]: 'vendor=x' };

    it('are covered by the MAC: a changed, added or removed trace header fails verification', () => {
      const h = sec.sign('request', TOPICS.dbRequests, 'k', 'v', traced);
      const checked = sec.verify('request', TOPICS.dbRequests, msg('k', 'v', h));
      expect(checked).toMatchObject({ ok: true, trace: { parent, state: 'vendor=x' } });
      expect(trace.getSpanContext(traceContextOf(checked))?.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
      const other = '00-1af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      expect(sec.verify('request', TOPICS.dbRequests, msg('k', 'v', { ...h, [TRACE_HEADERS.parent]: other }))).toEqual({ ok: false, reason: 'mac_invalid' });
      expect(sec.verify('request', TOPICS.dbRequests, msg('k', 'v', { ...h, [TRACE_HEADERS.state]: 'vendor=y' }))).toEqual({ ok: false, reason: 'mac_invalid' });
      const { [TRACE_HEADERS.parent]: _p, [TRACE_HEADERS.state]: _s, ...stripped } = h;
      expect(sec.verify('request', TOPICS.dbRequests, msg('k', 'v', stripped))).toEqual({ ok: false, reason: 'mac_invalid' });
      const untraced = sec.sign('request', TOPICS.dbRequests, 'k', 'v');
      expect(sec.verify('request', TOPICS.dbRequests, msg('k', 'v', { ...untraced, [TRACE_HEADERS.parent]: parent }))).toEqual({ ok: false, reason: 'mac_invalid' });
    });

    it('a message without them verifies as before and continues no trace; the unsigned traceparent is ignored', () => {
      const h = sec.sign('request', TOPICS.dbRequests, 'k', 'v');
      const checked = sec.verify('request', TOPICS.dbRequests, msg('k', 'v', { ...h, traceparent: parent }));
      expect(checked).toEqual({ ok: true, messageId: h[SECURITY_HEADERS.id], timestamp: Number(h[SECURITY_HEADERS.ts]) });
      expect(trace.getSpanContext(traceContextOf(checked))).toBeUndefined();
    });
  });

  it('refuses a change of any covered part: topic, key, value, timestamp, id, key id, direction', () => {
    const h = sec.sign('request', TOPICS.dbRequests, 'k', 'v');
    const reason = (topic: string, key: string, value: string, headers: Record<string, string>, dir: 'request' | 'reply' = 'request') => {
      const r = sec.verify(dir, topic, msg(key, value, headers));
      return r.ok ? 'ok' : r.reason;
    };
    expect(reason(TOPICS.dbReplies, 'k', 'v', h)).toBe('mac_invalid');
    expect(reason(TOPICS.dbRequests, 'K', 'v', h)).toBe('mac_invalid');
    expect(reason(TOPICS.dbRequests, 'k', 'w', h)).toBe('mac_invalid');
    expect(reason(TOPICS.dbRequests, 'k', 'v', { ...h, [SECURITY_HEADERS.ts]: String(Number(h[SECURITY_HEADERS.ts]) + 1) })).toBe('mac_invalid');
    expect(reason(TOPICS.dbRequests, 'k', 'v', { ...h, [SECURITY_HEADERS.id]: '00000000-0000-4000-8000-000000000000' })).toBe('mac_invalid');
    expect(reason(TOPICS.dbRequests, 'k', 'v', { ...h, [SECURITY_HEADERS.kid]: 'k1' })).toBe('mac_invalid');
    expect(reason(TOPICS.dbRequests, 'k', 'v', { ...h, [SECURITY_HEADERS.kid]: 'k9' })).toBe('unknown_key_id');
    expect(reason(TOPICS.dbRequests, 'k', 'v', h, 'reply')).toBe('unknown_key_id');
    const { [SECURITY_HEADERS.mac]: _mac, ...noMac } = h;
    expect(reason(TOPICS.dbRequests, 'k', 'v', noMac)).toBe('mac_missing');
  });

  it('accepts the previous key during a rotation and refuses a stale or future timestamp', () => {
    const old = make({ requestMacKeys: `k1:${secret('b')}` });
    expect(sec.verify('request', 't', msg('k', 'v', old.sign('request', 't', 'k', 'v')))).toMatchObject({ ok: true });
    const past = make({ now: () => Date.now() - 301_000 });
    const future = make({ now: () => Date.now() + 301_000 });
    expect(sec.verify('request', 't', msg('k', 'v', past.sign('request', 't', 'k', 'v')))).toEqual({ ok: false, reason: 'stale' });
    expect(sec.verify('request', 't', msg('k', 'v', future.sign('request', 't', 'k', 'v')))).toEqual({ ok: false, reason: 'stale' });
  });

  it('encrypts under the current key id, decrypts with a previous one, and binds the ciphertext to its message', () => {
    const sealed = sec.encrypt('request', ['user.find', 'c1', 'r1'], { email: 'ada@example.com' });
    expect(sealed.startsWith('p2.')).toBe(true);
    expect(sealed).not.toContain('ada');
    expect(sec.decrypt('request', ['user.find', 'c1', 'r1'], sealed)).toEqual({ email: 'ada@example.com' });
    expect(() => sec.decrypt('request', ['user.find', 'c2', 'r1'], sealed)).toThrow('does not open');
    expect(() => sec.decrypt('reply', ['user.find', 'c1', 'r1'], sealed)).toThrow('does not open');
    const previous = make({ payloadKeys: `p1:${secret('e')}` }).encrypt('reply', ['c', 'r'], 1);
    expect(sec.decrypt('reply', ['c', 'r'], previous)).toBe(1);
    const [kid, iv, tag, ct] = sealed.split('.');
    expect(() => sec.decrypt('request', ['user.find', 'c1', 'r1'], [kid, iv, tag.slice(0, 8), ct].join('.'))).toThrow('wrong length');
  });

  it('hashes message keys: stable per email, not the email', () => {
    expect(sec.messageKey('ada@example.com')).toBe(sec.messageKey('ada@example.com'));
    expect(sec.messageKey('ada@example.com')).not.toContain('ada');
    expect(sec.messageKey('ada@example.com')).not.toBe(sec.messageKey('bob@example.com'));
  });
});
