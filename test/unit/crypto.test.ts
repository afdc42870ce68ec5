import { codeDigest, deriveKeys, emailHash, generateCode, normaliseEmail, seal, SealError, signupWorkflowId, unseal } from '../../common/crypto';

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
    expect(emailHash(keys, 'ada@example.com')).not.toContain('ada');
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
});
