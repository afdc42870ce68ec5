import { deriveKeys } from '../../common/crypto';
import { AppError } from '../../common/errors';
import type { SigningKey } from '../../entities/signing-key.entity';
import { SigningKeyCache } from '../../api/tokens/key-cache';
import { generateSigningKey, keyState } from '../../api/tokens/signing-keys';
import { quietLogger } from '../../testkit/env';

const keys = deriveKeys({ HMAC_KEY: 'unit-hmac-key-0123456789abcdef0123', SEALING_KEY: 'unit-sealing-key-0123456789abcdef01' });
const base = Date.now();
const t = (s: number) => new Date(base + s * 1000);

/** Three keys of one rotation history: old (retired), current, and next (published, not yet signing). */
function history(): SigningKey[] {
  const old = generateSigningKey(keys, t(-1000), t(-1000));
  old.retiresAt = t(-10);
  const current = generateSigningKey(keys, t(-500), t(-500));
  current.retiresAt = t(200);
  const next = generateSigningKey(keys, t(0), t(100));
  return [old, current, next];
}

describe('signing key cache: which key signs and which are published, from the stored times', () => {
  it('the pending key is published before it signs, and signs from its activation; a retired key is neither', async () => {
    const [old, current, next] = history();
    const cache = new SigningKeyCache(async () => [old!, current!, next!], keys, { refreshMs: 1000, maxStaleMs: Number.MAX_SAFE_INTEGER, logger: quietLogger() });
    await cache.refresh();
    expect(cache.published(t(50).getTime()).map((k) => k.kid)).toEqual([current!.kid, next!.kid]);
    expect(cache.signingKey(t(50).getTime()).kid).toBe(current!.kid);
    expect(cache.signingKey(t(100).getTime()).kid).toBe(next!.kid);
    expect(cache.published(t(200).getTime()).map((k) => k.kid)).toEqual([next!.kid]);
    expect(cache.published(t(50).getTime())[0]).toEqual({ kty: 'EC', crv: 'P-256', x: expect.any(String), y: expect.any(String), kid: current!.kid, alg: 'ES256', use: 'sig' });
    expect([old, current, next].map((k) => keyState(k!, [old!, current!, next!], t(150)))).toEqual(['retired', 'retiring', 'signing']);
  });

  it('keys not refreshed for longer than allowed are not used: 503 UNAVAILABLE, until a refresh succeeds', async () => {
    const rows = history().slice(0, 2); // old and current: current signs now
    let failing = false;
    const cache = new SigningKeyCache(async () => {
      if (failing) throw new Error('connection refused');
      return rows;
    }, keys, { refreshMs: 1000, maxStaleMs: 5000, logger: quietLogger() });
    const unavailable = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return err instanceof AppError && err.code === 'UNAVAILABLE';
      }
      return false;
    };
    expect(unavailable(() => cache.signingKey())).toBe(true); // never loaded
    await cache.refresh();
    const loadedAt = Date.now();
    failing = true;
    await expect(cache.refresh()).rejects.toThrow('connection refused');
    expect(unavailable(() => cache.signingKey(loadedAt + 4000))).toBe(false);
    expect(unavailable(() => cache.signingKey(loadedAt + 6000))).toBe(true);
    expect(unavailable(() => cache.published(loadedAt + 6000))).toBe(true);
    failing = false;
    await cache.refresh();
    expect(unavailable(() => cache.published(Date.now() + 4000))).toBe(false);
  });
});
