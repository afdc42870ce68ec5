import { readFileSync } from 'node:fs';
import { AUTH_EVENT_TYPES, AuthEvent, authEventJsonSchema, newAuthEvent } from '../../common/events/auth-events';
import { truncateIp } from '../../common/events/audit';
import { EventSigner, verifyAuthEventMessage } from '../../common/events/event-signing';
import { EVENT_SCHEMA_PATH, renderEventSchema } from '../../scripts/export-event-schemas';

const USER = '6f1c2a52-3c8e-4f0e-9a43-1f0d3f5e8b11';

/** Every property name anywhere in a JSON Schema, and whether every object schema is closed. */
function walk(schema: unknown, names: Set<string>, open: string[], path = '#'): void {
  if (Array.isArray(schema)) return schema.forEach((s, i) => walk(s, names, open, `${path}/${i}`));
  if (!schema || typeof schema !== 'object') return;
  const s = schema as Record<string, unknown>;
  if (s.type === 'object' && s.additionalProperties !== false) open.push(path);
  if (s.properties && typeof s.properties === 'object') Object.keys(s.properties).forEach((k) => names.add(k));
  for (const [k, v] of Object.entries(s)) walk(v, names, open, `${path}/${k}`);
}

describe('auth events: one schema, published as JSON Schema', () => {
  it('docs/events/auth-events.v1.schema.json is the export of the zod schemas (npx tsx scripts/export-event-schemas.ts)', () => {
    expect(readFileSync(EVENT_SCHEMA_PATH, 'utf8')).toBe(renderEventSchema());
  });

  it('no event can carry personal data: every object is closed and the only fields are these', () => {
    const names = new Set<string>();
    const open: string[] = [];
    walk(authEventJsonSchema(), names, open);
    expect(open).toEqual([]);
    // The user id is the only personal datum; a new field here is a decision, not an accident.
    expect([...names].sort()).toEqual(['count', 'data', 'eventId', 'method', 'occurredAt', 'origin', 'passkeyId', 'reason', 'requestId', 'type', 'undo', 'userId', 'v'].sort());
  });

  it('an event with an email (or any field not listed) is refused', () => {
    const event = newAuthEvent({ type: 'user.registered', userId: USER, data: {} });
    expect(AuthEvent.safeParse({ ...event, email: 'a@b.example' }).success).toBe(false);
    expect(AuthEvent.safeParse({ ...event, data: { email: 'a@b.example' } }).success).toBe(false);
    expect(() => newAuthEvent({ type: 'password.changed', userId: USER, data: { name: 'x' } as never })).toThrow();
  });

  it('every type has a unique id, the version, the time, and a user id (signin.failed may lack one)', () => {
    const ids = new Set<string>();
    for (const type of AUTH_EVENT_TYPES) {
      const data = type === 'session.created' ? { origin: 'signin' } : type === 'session.revoked' ? { reason: 'logout', count: 1 } : type === 'signin.failed' ? { reason: 'invalid_credentials' } : type === 'email.changed' ? { undo: false } : type === 'mfa.enabled' || type === 'mfa.disabled' ? { method: 'totp' } : type === 'passkey.registered' || type === 'passkey.removed' ? { passkeyId: USER } : {};
      const e = newAuthEvent({ type, userId: USER, data } as never);
      expect(e).toMatchObject({ v: 1, type, userId: USER, requestId: null });
      ids.add(e.eventId);
    }
    expect(ids.size).toBe(AUTH_EVENT_TYPES.length);
    expect(newAuthEvent({ type: 'signin.failed', userId: null, data: { reason: 'invalid_credentials' } }).userId).toBeNull();
    expect(() => newAuthEvent({ type: 'password.changed', userId: null as never, data: {} })).toThrow();
  });
});

describe('event signatures (Ed25519): consumers verify with public keys only', () => {
  const signer = new EventSigner(`k1:${Buffer.alloc(32, 7).toString('base64url')},k0:${Buffer.alloc(32, 3).toString('base64url')}`);
  const value = JSON.stringify(newAuthEvent({ type: 'user.registered', userId: USER, data: {} }));
  const headers = signer.sign('auth.events.v1', USER, value, 'id');
  const msg = { key: Buffer.from(USER), value: Buffer.from(value), headers };

  it('verifies under the published key and fails on any change of value, key, topic or key id', () => {
    const keys = signer.publicKeys();
    expect(keys.map((k) => k.kid)).toEqual(['k1', 'k0']);
    expect(JSON.stringify(keys)).not.toMatch(/"d"/);
    expect(verifyAuthEventMessage('auth.events.v1', msg, keys)).toBe(true);
    expect(verifyAuthEventMessage('auth.events.v1', { ...msg, value: Buffer.from(value.replace('user.registered', 'account.closed')) }, keys)).toBe(false);
    expect(verifyAuthEventMessage('auth.events.v1', { ...msg, key: Buffer.from('another') }, keys)).toBe(false);
    expect(verifyAuthEventMessage('auth.events.v2', msg, keys)).toBe(false);
    expect(verifyAuthEventMessage('auth.events.v1', { ...msg, headers: { ...headers, 'x-sig-kid': 'k0' } }, keys)).toBe(false);
    expect(verifyAuthEventMessage('auth.events.v1', { ...msg, headers: {} }, keys)).toBe(false);
  });
});

describe('audit: source addresses are truncated', () => {
  it.each([
    ['203.0.113.77', '203.0.113.0/24'],
    ['::ffff:198.51.100.9', '198.51.100.0/24'],
    ['2001:db8:abcd:12:1::5', '2001:db8:abcd::/48'],
    ['2001:db8::1%eth0', '2001:db8:0::/48'],
    ['not an ip', null],
  ])('%s → %s', (ip, want) => {
    expect(truncateIp(ip)).toBe(want);
  });
});
