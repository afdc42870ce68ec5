import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { buildKeyring, codeDigest, digestsEqual, deriveKeys, emailHash, generateCode, normaliseEmail, seal, SealError, signupWorkflowId, unseal } from '../../common/crypto';

const keys = deriveKeys({ HMAC_KEY: 'k'.repeat(40), SEALING_KEY: 's'.repeat(40) });
const other = deriveKeys({ HMAC_KEY: 'o'.repeat(40), SEALING_KEY: 'p'.repeat(40) });

describe('crypto helpers', () => {
  it('normalises emails by trimming and lower-casing', () => {
    expect(normaliseEmail('  Ada@Example.COM ')).toBe('ada@example.com');
  });

  it('workflow ids are keyed hashes: stable, key-dependent, free of the address', () => {
    const id = signupWorkflowId(keys, 'ada@example.com');
    expect(id).toMatch(/^signup-[0-9a-f]{32}$/);
    expect(signupWorkflowId(keys, 'ada@example.com')).toBe(id);
    expect(signupWorkflowId(other, 'ada@example.com')).not.toBe(id);
    // Keyed: neither the plain digest of the address (a dictionary reverses that) nor another key's.
    const digest = emailHash(keys, 'ada@example.com');
    expect(digest).toMatch(/^[0-9a-f]{32}$/);
    expect(digest).not.toBe(createHash('sha256').update('ada@example.com').digest('hex').slice(0, 32));
    expect(digest).not.toBe(emailHash(other, 'ada@example.com'));
    expect(emailHash(keys, 'ada@example.com')).toBe(digest);
  });

  it('codes are 6 digits from the CSPRNG and cover the whole range', () => {
    const codes = Array.from({ length: 5000 }, generateCode);
    expect(codes.every((c) => /^\d{6}$/.test(c))).toBe(true);
    expect(new Set(codes).size).toBeGreaterThan(4900);
    expect(new Set(codes.map((c) => c[0])).size).toBe(10);
  });

  it('a code digest is bound to its signup', () => {
    expect(codeDigest(keys, 'signup-a', '123456')).not.toBe(codeDigest(keys, 'signup-b', '123456'));
    expect(codeDigest(keys, 'signup-a', '123456')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('sealed values open only with the same key and context', () => {
    const sealed = seal(keys, '$2b$12$hash', 'password-hash:ada@example.com');
    expect(sealed).not.toContain('hash');
    expect(unseal(keys, sealed, 'password-hash:ada@example.com')).toBe('$2b$12$hash');
    expect(() => unseal(keys, sealed, 'password-hash:eve@example.com')).toThrow(SealError);
    expect(() => unseal(other, sealed, 'password-hash:ada@example.com')).toThrow(SealError);
    expect(() => unseal(keys, 'v1.garbage', 'x')).toThrow(SealError);
    expect(seal(keys, 'same', 'c')).not.toBe(seal(keys, 'same', 'c'));
  });

  it('sealed values carry the key id; previous keys still open them after a rotation', () => {
    const old = deriveKeys({ HMAC_KEY: 'k'.repeat(40), SEALING_KEY: 'old'.repeat(14) });
    const rotated = deriveKeys({ HMAC_KEY: 'k'.repeat(40), SEALING_KEY: 'new'.repeat(14), SEALING_PREVIOUS_KEYS: 'old'.repeat(14) });
    const sealedOld = seal(old, 'secret', 'ctx');
    expect(sealedOld.split('.')[1]).toBe(old.sealRing.current.id);
    expect(unseal(rotated, sealedOld, 'ctx')).toBe('secret');
    const sealedNew = seal(rotated, 'secret', 'ctx');
    expect(sealedNew.split('.')[1]).toBe(rotated.sealRing.current.id);
    expect(sealedNew.split('.')[1]).not.toBe(old.sealRing.current.id);
    // The old key alone does not know the new key id.
    expect(() => unseal(old, sealedNew, 'ctx')).toThrow(/not in the keyring/);
  });

  it('v1 values (sealed before key ids) still open, under the current or a previous key', () => {
    const v1 = (secretKeys: typeof keys, plaintext: string, context: string) => {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', secretKeys.seal, iv);
      c.setAAD(Buffer.from(context));
      const ct = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
      return ['v1', iv.toString('base64url'), c.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
    };
    expect(unseal(keys, v1(keys, 'legacy', 'ctx'), 'ctx')).toBe('legacy');
    const rotated = deriveKeys({ HMAC_KEY: 'k'.repeat(40), SEALING_KEY: 'n'.repeat(40), SEALING_PREVIOUS_KEYS: 's'.repeat(40) });
    expect(unseal(rotated, v1(keys, 'legacy', 'ctx'), 'ctx')).toBe('legacy');
    expect(() => unseal(other, v1(keys, 'legacy', 'ctx'), 'ctx')).toThrow(SealError);
  });

  it('a sealed value with a truncated GCM tag is refused (tag length pinned to 16 bytes)', () => {
    const sealed = seal(keys, 'secret', 'ctx');
    const parts = sealed.split('.');
    // Forging gets easier the shorter the tag: a 4-byte prefix of the genuine tag must not verify.
    for (const n of [4, 8, 12, 15]) {
      const short = [...parts.slice(0, 3), Buffer.from(parts[3], 'base64url').subarray(0, n).toString('base64url'), parts[4]].join('.');
      expect(() => unseal(keys, short, 'ctx')).toThrow(SealError);
    }
    expect(unseal(keys, sealed, 'ctx')).toBe('secret');
  });

  it('key ids: stable for a secret, different per purpose and per secret', () => {
    const a = buildKeyring('seal', 'x'.repeat(40));
    expect(buildKeyring('seal', 'x'.repeat(40)).current.id).toBe(a.current.id);
    expect(buildKeyring('mac', 'x'.repeat(40)).current.id).not.toBe(a.current.id);
    expect(buildKeyring('seal', 'y'.repeat(40)).current.id).not.toBe(a.current.id);
    const ring = buildKeyring('seal', 'y'.repeat(40), ['x'.repeat(40)]);
    expect([...ring.byId.keys()]).toEqual([ring.current.id, a.current.id]);
  });

  it('digests compare equal only when they are the same, whatever their lengths', () => {
    expect(digestsEqual('a1b2', 'a1b2')).toBe(true);
    expect(digestsEqual('a1b2', 'a1b3')).toBe(false);
    expect(digestsEqual('a1b2', 'a1b2c3')).toBe(false);
    expect(digestsEqual('', 'a')).toBe(false);
  });

  it('a sealed value of the wrong shape for its version is refused as malformed', () => {
    const [, kid, iv, tag, ct] = seal(keys, 'x', 'c').split('.');
    for (const value of [`v2.${kid}.${iv}.${tag}`, `v1.${kid}.${iv}.${tag}.${ct}`, `v3.${kid}.${iv}.${tag}.${ct}`, `v2.${kid}.${iv}.${tag}.${ct}.extra`]) {
      expect(() => unseal(keys, value, 'c')).toThrow(/malformed/);
    }
    expect(unseal(keys, `v2.${kid}.${iv}.${tag}.${ct}`, 'c')).toBe('x');
  });
});
