import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import Redis from 'ioredis';
import { createAccount } from '../../testkit/accounts';
import { uniqueIp } from '../../testkit/env';
import { ApiClient } from '../../testkit/http';
import { ensureSigningKey } from '../../testkit/signing-keys';
import { startSystem, type System } from '../../testkit/system';

/** The session id inside a session cookie (`auth_token=<jwt>`). */
const sidOf = (cookie: string) => decodeJwt(cookie.slice(cookie.indexOf('=') + 1)).sid as string;

describe('access tokens for the broker’s services (POST /token, /.well-known/jwks.json)', () => {
  let sys: System;
  let jwksUrl: URL;
  let redis: Redis;

  beforeAll(async () => {
    sys = await startSystem({});
    await ensureSigningKey(sys.config);
    jwksUrl = new URL('/.well-known/jwks.json', sys.api.url);
    redis = new Redis(sys.config.REDIS_URL);
  });
  afterAll(async () => {
    redis?.disconnect();
    await sys?.close();
  });

  const signin = async (email: string, password: string) => {
    const c = new ApiClient(sys.apiUrl, { 'x-forwarded-for': uniqueIp() });
    const r = await c.post('/signin', { email, password });
    expect(r.status).toBe(200);
    return c;
  };

  const verify = (token: string, audience: string) =>
    jwtVerify(token, createRemoteJWKSet(jwksUrl), { issuer: sys.config.JWT_ISSUER, audience, algorithms: ['ES256'], typ: 'at+jwt' });

  it('a signed-in session gets an ES256 token for a configured service, and it verifies through the JWKS', async () => {
    const acct = await createAccount(sys.apiUrl, 'token');
    const c = await signin(acct.email, acct.password);
    const r = await c.post('/token', { audience: 'trading' });
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 300 });

    const { payload, protectedHeader } = await verify(r.body.access_token, 'trading');
    expect(protectedHeader).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: expect.any(String) });
    expect(payload).toEqual({
      iss: sys.config.JWT_ISSUER,
      sub: acct.user.id,
      aud: 'trading',
      iat: expect.any(Number),
      exp: payload.iat! + 300,
      jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
      sid: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/),
      amr: ['pwd'],
      auth_time: expect.any(Number),
      email_verified: true,
    });
    expect(payload.auth_time).toBeLessThanOrEqual(payload.iat!);
    await expect(verify(r.body.access_token, 'payments')).rejects.toThrow(/aud/);

    // Two tokens of one session: one sid, two jti.
    const again = decodeJwt((await c.post('/token', { audience: 'kyc' })).body.access_token);
    expect(again.sid).toBe(payload.sid);
    expect(again.jti).not.toBe(payload.jti);
  });

  it('a token carries no personal data: no email, no name, not the session id itself', async () => {
    const acct = await createAccount(sys.apiUrl, 'token-pii');
    const r = await acct.client.post('/token', { audience: 'payments' });
    expect(r.status).toBe(200);
    const [header, payload] = r.body.access_token.split('.').slice(0, 2).map((part: string) => Buffer.from(part, 'base64url').toString('utf8'));
    const claims = JSON.parse(payload);
    expect(Object.keys(claims).sort()).toEqual(['amr', 'aud', 'auth_time', 'email_verified', 'exp', 'iat', 'iss', 'jti', 'sid', 'sub']);
    const localPart = acct.email.split('@')[0]!;
    for (const text of [header, payload]) {
      expect(text).not.toContain(localPart);
      expect(text).not.toContain(acct.user.name);
      expect(text).not.toContain(sidOf(acct.client.cookie!));
    }
    // The account was made by verify: the emailed code is how this session authenticated.
    expect(claims.amr).toEqual(['otp']);
  });

  it('an audience that is not configured gets 400 UNKNOWN_AUDIENCE, a malformed one 400 VALIDATION_FAILED', async () => {
    const acct = await createAccount(sys.apiUrl, 'token-aud');
    const unknown = await acct.client.post('/token', { audience: 'casino' });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toEqual({ code: 'UNKNOWN_AUDIENCE', message: expect.any(String) });
    const malformed = await acct.client.post('/token', { audience: 'Trading Desk' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe('VALIDATION_FAILED');
    expect((await acct.client.post('/token', {})).body.code).toBe('VALIDATION_FAILED');
  });

  it('no token without a session, and none once the session is logged out or revoked (401)', async () => {
    const anonymous = await new ApiClient(sys.apiUrl).post('/token', { audience: 'trading' });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.code).toBe('UNAUTHENTICATED');

    const acct = await createAccount(sys.apiUrl, 'token-revoked');
    const cookie = acct.client.cookie!;
    expect((await acct.client.post('/token', { audience: 'trading' })).status).toBe(200);
    expect((await acct.client.post('/logout', {})).status).toBe(204);
    const afterLogout = await new ApiClient(sys.apiUrl).post('/token', { audience: 'trading' }, { cookie });
    expect(afterLogout.status).toBe(401);
    expect(afterLogout.body).toEqual({ code: 'UNAUTHENTICATED', message: expect.any(String) });

    // An access token is not a session: this API takes only its own session tokens.
    const access = (await (await signin(acct.email, acct.password)).post('/token', { audience: 'trading' })).body.access_token;
    expect((await new ApiClient(sys.apiUrl).get('/me', { authorization: `Bearer ${access}` })).status).toBe(401);
    expect((await new ApiClient(sys.apiUrl).post('/token', { audience: 'trading' }, { authorization: `Bearer ${access}` })).status).toBe(401);

    const other = await signin(acct.email, acct.password);
    const second = await signin(acct.email, acct.password);
    expect((await second.del(`/sessions/${sidOf(other.cookie!)}`)).status).toBe(204);
    expect((await other.post('/token', { audience: 'kyc' })).status).toBe(401);
    expect((await second.post('/token', { audience: 'kyc' })).status).toBe(200);
  });

  it('a session made before methods were recorded still works and gets a token with an empty amr', async () => {
    const acct = await createAccount(sys.apiUrl, 'token-legacy');
    await redis.hdel(`sess:${sidOf(acct.client.cookie!)}`, 'amr');
    expect((await acct.client.get('/me')).status).toBe(200);
    const r = await acct.client.post('/token', { audience: 'trading' });
    expect(r.status).toBe(200);
    const { payload } = await verify(r.body.access_token, 'trading');
    expect(payload.amr).toEqual([]);
    expect(payload.auth_time).toEqual(expect.any(Number));
  });

  it('the JWKS publishes public keys only, with kid, alg and use, cacheable for a quarter of the publication lead', async () => {
    const res = await fetch(jwksUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe(`public, max-age=${Math.floor(sys.config.SIGNING_KEY_PUBLISH_LEAD_S / 4)}`);
    const { keys } = (await res.json()) as { keys: Record<string, string>[] };
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) {
      expect(k).toEqual({ kty: 'EC', crv: 'P-256', x: expect.any(String), y: expect.any(String), kid: expect.any(String), alg: 'ES256', use: 'sig' });
    }
    const acct = await createAccount(sys.apiUrl, 'token-kid');
    const token = (await acct.client.post('/token', { audience: 'trading' })).body.access_token;
    expect(keys.map((k) => k.kid)).toContain(decodeProtectedHeader(token).kid);
  });
});
