import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createAdminTokenVerifier, mintAdminToken } from '../../api/admin/admin-token';
import { signAccessJwt } from '../../api/tokens/access-token';
import type { PublicJwk } from '../../api/tokens/key-cache';
import { thumbprint } from '../../api/tokens/signing-keys';
import type { AppError } from '../../common/errors';

/** A P-256 key as the key cache holds it: the private half signs, the JWK is published. */
function key() {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' }) as { crv: 'P-256'; x: string; y: string };
  const kid = thumbprint(jwk);
  return { kid, privateKey, jwk: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, kid, alg: 'ES256', use: 'sig' } as PublicJwk };
}

const config = { JWT_ISSUER: 'cfd-broker-auth', ADMIN_TOKEN_TTL_S: 900, ACCESS_TOKEN_CLOCK_SKEW_S: 60 };
const published = key();
const verify = createAdminTokenVerifier({ config, signingKeys: { published: () => [published.jwk] } });

const codeOf = (token: string, now?: number): string => {
  try {
    verify(token, now);
    return 'OK';
  } catch (err) {
    return (err as AppError).code;
  }
};
const claims = (over: Record<string, unknown> = {}) => {
  const iat = Math.floor(Date.now() / 1000);
  return { iss: config.JWT_ISSUER, sub: 'admin:ada', aud: 'cfd-admin', role: 'admin', iat, exp: iat + 900, jti: randomUUID(), ...over };
};
const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('admin tokens', () => {
  it('a minted token names its operator, within its lifetime and clock skew', () => {
    const now = Date.now();
    const { token, jti } = mintAdminToken(config, published, 'ada', now);
    expect(verify(token, now)).toEqual({ actor: 'admin:ada', tokenId: jti });
    expect(codeOf(token, now + 900_000 + 59_000)).toBe('OK');
    expect(codeOf(token, now + 900_000 + 61_000)).toBe('UNAUTHENTICATED');
    expect(codeOf(token, now - 61_000)).toBe('UNAUTHENTICATED');
  });

  it('names outside a-z 0-9 . _ - (1 to 64) are refused at minting', () => {
    for (const name of ['', 'Ada', 'a b', 'a:b', 'x'.repeat(65), '-ada']) expect(() => mintAdminToken(config, published, name)).toThrow();
  });

  it('not ours is 401: another key, another issuer, alg none, an unknown kid, a broken token', () => {
    const stranger = key();
    expect(codeOf(signAccessJwt(stranger, claims()))).toBe('UNAUTHENTICATED');
    expect(codeOf(signAccessJwt({ kid: published.kid, privateKey: stranger.privateKey }, claims()))).toBe('UNAUTHENTICATED');
    expect(codeOf(signAccessJwt(published, claims({ iss: 'someone-else' })))).toBe('UNAUTHENTICATED');
    expect(codeOf(`${b64({ alg: 'none', kid: published.kid })}.${b64(claims())}.`)).toBe('UNAUTHENTICATED');
    for (const broken of ['', 'a.b', 'a.b.c', '..', `${b64({ alg: 'ES256', kid: published.kid })}.e30.AAAA`]) expect(codeOf(broken)).toBe('UNAUTHENTICATED');
  });

  it('ours but not an admin token is 403: another audience, no role, a user as subject', () => {
    expect(codeOf(signAccessJwt(published, claims({ aud: 'trading' })))).toBe('FORBIDDEN');
    expect(codeOf(signAccessJwt(published, claims({ aud: ['cfd-admin', 'trading'] })))).toBe('FORBIDDEN');
    expect(codeOf(signAccessJwt(published, claims({ role: undefined })))).toBe('FORBIDDEN');
    expect(codeOf(signAccessJwt(published, claims({ role: 'user' })))).toBe('FORBIDDEN');
    expect(codeOf(signAccessJwt(published, claims({ sub: randomUUID() })))).toBe('FORBIDDEN');
    expect(codeOf(signAccessJwt(published, claims()))).toBe('OK');
  });
});
