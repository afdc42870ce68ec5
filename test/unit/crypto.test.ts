import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import * as nodeCrypto from 'node:crypto';

// generateCode's draws can be chosen by a test; every other caller gets the real CSPRNG.
jest.mock('node:crypto', () => {
  const actual = jest.requireActual<typeof import('node:crypto')>('node:crypto');
  return { ...actual, randomBytes: jest.fn(actual.randomBytes) };
});
import {
  accountClosureWorkflowId, buildKeyring, codeDigest, digestsEqual, deriveKeys, emailChangeWorkflowId, emailHash, emailUndoWorkflowId, gcmOpen, generateCode, keyId,
  normaliseEmail, parseSecretList, passwordChangeWorkflowId, passwordResetWorkflowId, seal, SealContext, SealError, signinNoticeWorkflowId, signupWorkflowId, sourceHash, unseal,
} from '../../common/crypto';

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

  describe('every id is a keyed hash that stays the same from release to release', () => {
    // Running workflows are found again by these ids (a second DELETE /me, a resend, a restore
    // link): a release that changed how one is derived would lose the flows in flight. The values
    // below were taken from the release that introduced them, with the fixed test keys above.
    const USER = 'user-1';
    const REQUEST = 'req-1';
    const USER_HASH = 'b66df3c0fd1d3a5bf74d93fe05088f13';
    const EMAIL_HASH = '24f4fbe788a2cbb47437555c28314dbc';

    it('has the value it had when released, for every id function', () => {
      expect(emailHash(keys, 'ada@example.com')).toBe(EMAIL_HASH);
      expect(signupWorkflowId(keys, 'ada@example.com')).toBe(`signup-${EMAIL_HASH}`);
      expect(passwordResetWorkflowId(keys, 'ada@example.com')).toBe(`password-reset-${EMAIL_HASH}`);
      expect(passwordChangeWorkflowId(keys, USER, REQUEST)).toBe(`password-change-${USER_HASH}-${REQUEST}`);
      expect(emailChangeWorkflowId(keys, USER)).toBe(`email-change-${USER_HASH}`);
      expect(accountClosureWorkflowId(keys, USER)).toBe(`account-closure-${USER_HASH}`);
      expect(emailUndoWorkflowId(keys, USER, REQUEST)).toBe(`email-undo-${USER_HASH}-${REQUEST}`);
      expect(signinNoticeWorkflowId(keys, 'session-1')).toBe('signin-notice-abbc3ba7a8ade370483e18d86ed9157a');
      expect(sourceHash(keys, '10.1.2.3')).toBe('15a79111d1292f95bd71f85d116b9517');
      expect(codeDigest(keys, 'signup-a', '123456')).toBe('78238d6d208d52b75fd30aa6648522437eff6b1d43a7703089dcf19ce68eb7fb');
      expect(keys.sealRing.current.id).toBe('cbQaByIR');
      expect(keyId(Buffer.alloc(32, 1), 'mac')).toBe('q71OAHY7');
    });

    it('differs per user, per key and per kind of input, and never shows its input', () => {
      const byUser = [accountClosureWorkflowId, emailChangeWorkflowId];
      for (const id of byUser) {
        expect(id(keys, 'user-2')).not.toBe(id(keys, USER));
        expect(id(other, USER)).not.toBe(id(keys, USER));
        expect(id(keys, USER)).not.toContain(USER);
      }
      for (const id of [passwordChangeWorkflowId, emailUndoWorkflowId]) {
        expect(id(keys, 'user-2', REQUEST)).not.toBe(id(keys, USER, REQUEST));
        expect(id(keys, USER, 'req-2')).not.toBe(id(keys, USER, REQUEST));
        expect(id(other, USER, REQUEST)).not.toBe(id(keys, USER, REQUEST));
      }
      expect(passwordResetWorkflowId(other, 'ada@example.com')).not.toBe(passwordResetWorkflowId(keys, 'ada@example.com'));
      expect(passwordResetWorkflowId(keys, 'bob@example.com')).not.toBe(passwordResetWorkflowId(keys, 'ada@example.com'));
      expect(signinNoticeWorkflowId(keys, 'session-2')).not.toBe(signinNoticeWorkflowId(keys, 'session-1'));
      expect(signinNoticeWorkflowId(other, 'session-1')).not.toBe(signinNoticeWorkflowId(keys, 'session-1'));
      expect(sourceHash(keys, '10.1.2.4')).not.toBe(sourceHash(keys, '10.1.2.3'));
      expect(sourceHash(other, '10.1.2.3')).not.toBe(sourceHash(keys, '10.1.2.3'));
      expect(codeDigest(keys, 'signup-a', '123457')).not.toBe(codeDigest(keys, 'signup-a', '123456'));
      expect(codeDigest(other, 'signup-a', '123456')).not.toBe(codeDigest(keys, 'signup-a', '123456'));
      // The same string as a user, a session, a source or an email gives unrelated hashes (domain separation).
      const same = 'x-1';
      const hashes = [accountClosureWorkflowId(keys, same).slice(-32), signinNoticeWorkflowId(keys, same).slice(-32), sourceHash(keys, same), emailHash(keys, same)];
      expect(new Set(hashes).size).toBe(4);
      // Code digests use a key of their own: not the email-id key's HMAC of the same text.
      expect(codeDigest(keys, 'a', 'b')).not.toBe(nodeCrypto.createHmac('sha256', keys.emailId).update('a:b').digest('hex'));
    });
  });

  describe('keyrings', () => {
    it('parses a secret list, trimming and ignoring empty entries', () => {
      expect(parseSecretList(' a , ,b,,')).toEqual(['a', 'b']);
      expect(parseSecretList('')).toEqual([]);
      expect(parseSecretList(undefined)).toEqual([]);
    });

    it('a secret listed twice (or the current one again among the previous) is one key, and the current one wins its id', () => {
      let made = 0;
      const derive = (secret: string) => ({ secret, n: made++ });
      const ring = buildKeyring('mac', 'cur'.repeat(12), ['old'.repeat(12), 'cur'.repeat(12), 'old'.repeat(12)], derive);
      expect(ring.byId.size).toBe(2);
      expect(ring.byId.get(ring.current.id)).toBe(ring.current.key);
      expect(ring.current.key).toEqual({ secret: 'cur'.repeat(12), n: 0 });
      expect([...ring.byId.values()]).toEqual([{ secret: 'cur'.repeat(12), n: 0 }, { secret: 'old'.repeat(12), n: 1 }]);
    });

    it('the id comes from the material function, so two secrets with the same material share one entry', () => {
      const ring = buildKeyring('mac', 'a'.repeat(40), ['b'.repeat(40)], (s) => s, () => Buffer.alloc(32, 7));
      expect(ring.current.id).toBe(keyId(Buffer.alloc(32, 7), 'mac'));
      expect([...ring.byId.entries()]).toEqual([[ring.current.id, 'a'.repeat(40)]]);
    });

    it('is frozen: nobody swaps the current key at run time', () => {
      const ring = buildKeyring('seal', 'x'.repeat(40));
      expect([...ring.byId.keys()]).toEqual([ring.current.id]);
      expect(Object.isFrozen(ring)).toBe(true);
      expect(Object.isFrozen(ring.current)).toBe(true);
      expect(Object.isFrozen(keys)).toBe(true);
    });

    it('previous sealing keys given as a string or as a list make the same ring', () => {
      const fromString = deriveKeys({ HMAC_KEY: 'k'.repeat(40), SEALING_KEY: 'n'.repeat(40), SEALING_PREVIOUS_KEYS: ' p1p1p1p1p1p1p1p1p1p1p1p1p1p1p1p1, p2p2p2p2p2p2p2p2p2p2p2p2p2p2p2p2 ' });
      const fromList = deriveKeys({ HMAC_KEY: 'k'.repeat(40), SEALING_KEY: 'n'.repeat(40), SEALING_PREVIOUS_KEYS: ['p1p1p1p1p1p1p1p1p1p1p1p1p1p1p1p1', 'p2p2p2p2p2p2p2p2p2p2p2p2p2p2p2p2'] });
      expect([...fromString.sealRing.byId.keys()]).toEqual([...fromList.sealRing.byId.keys()]);
      expect(fromString.sealRing.byId.size).toBe(3);
      expect(deriveKeys({ HMAC_KEY: 'k'.repeat(40), SEALING_KEY: 'n'.repeat(40) }).sealRing.byId.size).toBe(1);
      expect(fromString.seal).toBe(fromString.sealRing.current.key);
      // One secret, separate subkeys per purpose.
      expect(fromString.code.equals(fromString.emailId)).toBe(false);
    });
  });

  describe('codes without modulo bias', () => {
    const draws = (...values: number[]) => {
      const spy = nodeCrypto.randomBytes as unknown as jest.Mock<Buffer, [number]>;
      spy.mockClear();
      for (const v of values) {
        const b = Buffer.alloc(4);
        b.writeUInt32BE(v);
        spy.mockImplementationOnce(() => b);
      }
      return spy;
    };

    it('a draw at or above 4,294,000,000 (the last, incomplete million of 2^32) is drawn again', () => {
      const spy = draws(4_294_000_000, 0xffffffff, 4_293_999_999);
      expect(generateCode()).toBe('999999');
      expect(spy).toHaveBeenCalledTimes(3);
    });

    it('keeps leading zeros: six digits always', () => {
      draws(5);
      expect(generateCode()).toBe('000005');
      draws(1_000_042);
      expect(generateCode()).toBe('000042');
    });
  });

  it('a GCM iv of another length than 12 bytes is refused before decryption', () => {
    const key = keys.seal;
    const tag = Buffer.alloc(16);
    expect(() => gcmOpen(key, Buffer.alloc(16), tag, Buffer.alloc(1), Buffer.alloc(0))).toThrow(/iv must be 12 bytes/);
    expect(() => gcmOpen(key, Buffer.alloc(12), Buffer.alloc(8), Buffer.alloc(1), Buffer.alloc(0))).toThrow(/tag must be 16 bytes/);
    const sealed = seal(keys, 'v', 'c').split('.');
    sealed[2] = Buffer.alloc(16).toString('base64url');
    expect(() => unseal(keys, sealed.join('.'), 'c')).toThrow(SealError);
  });

  it('a value that does not open says why, and keeps the cause', () => {
    const sealed = seal(keys, 'v', 'c');
    const err = (() => {
      try {
        unseal(keys, sealed, 'another');
      } catch (e) {
        return e as SealError;
      }
    })();
    expect(err).toBeInstanceOf(SealError);
    expect(err?.name).toBe('SealError');
    expect(err?.message).toMatch(/does not open/);
    expect((err?.cause as Error | undefined)?.message).toMatch(/authenticate/);
  });

  it('sealing contexts (the AAD) keep their wire form, so values sealed by one release open in the next', () => {
    expect([
      SealContext.email('s'), SealContext.name('s'), SealContext.passwordHash('a@b.c'), SealContext.pendingCode('s', 2),
      SealContext.passwordHashForSignup('r'), SealContext.passwordHashForUser('u'), SealContext.otherEmail('f'), SealContext.undoSecret('f'),
      SealContext.signinDetails('f'), SealContext.newPasswordHashForFlow('f'), SealContext.newPasswordHashForUser('u'),
    ]).toEqual([
      'email:s', 'name:s', 'password-hash:a@b.c', 'code:s:2',
      'password-hash:signup:r', 'password-hash:user:u', 'email:other:f', 'undo-secret:f',
      'signin-details:f', 'password-hash:flow:f', 'password-hash:set:u',
    ]);
  });
});
