import jwt from 'jsonwebtoken';
import { uniqueIp } from '../../testkit/env';
import { ApiClient } from '../../testkit/http';
import { createAccount } from '../../testkit/accounts';
import { useSystem, type System } from '../../testkit/system';

describe('signin, /me, logout and revocable sessions', () => {
  let sys: System;
  useSystem({ env: { RATE_SIGNIN_FAIL_PER_EMAIL_IP: '3' } }, (started) => (sys = started));

  const signin = (email: string, password: string, headers: Record<string, string> = {}) => {
    const c = new ApiClient(sys.apiUrl, { 'x-forwarded-for': uniqueIp(), ...headers });
    return c.post('/signin', { email, password }).then((r) => ({ r, c }));
  };

  it('signs in with the right password and sets a hardened cookie', async () => {
    const acct = await createAccount(sys.apiUrl, 'signin');
    const { r, c } = await signin(acct.email, acct.password);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ message: expect.any(String), user: acct.user });
    const cookie = r.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^auth_token=[^;]+/);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).toMatch(/Path=\//);
    expect(cookie).toMatch(new RegExp(`Max-Age=${sys.config.SESSION_ABSOLUTE_TTL_S}`));
    expect(cookie).not.toMatch(/Secure/i); // Secure only in production
    const me = await c.get('/me');
    expect(me.status).toBe(200);
    expect(me.body.user).toMatchObject(acct.user);
  });

  it('a wrong password and an unknown email get byte-identical answers', async () => {
    const acct = await createAccount(sys.apiUrl, 'enum');
    const wrong = (await signin(acct.email, 'not the password at all')).r;
    const unknown = (await signin(`nobody.${Date.now()}@test.example.com`, 'not the password at all')).r;
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.text).toBe(unknown.text);
    expect(JSON.parse(wrong.text).code).toBe('INVALID_CREDENTIALS');
    expect(wrong.headers.get('set-cookie')).toBeNull();
  });

  it('refuses passwords over 72 bytes instead of truncating them', async () => {
    const acct = await createAccount(sys.apiUrl, 'long', 'x'.repeat(72));
    const longer = (await signin(acct.email, 'x'.repeat(73))).r;
    expect(longer.status).toBe(400);
    expect((await signin(acct.email, 'x'.repeat(72))).r.status).toBe(200);
  });

  it('each signin makes a new session; logout revokes it server-side and the old cookie gets 401', async () => {
    const acct = await createAccount(sys.apiUrl, 'logout');
    const a = (await signin(acct.email, acct.password)).c;
    const b = (await signin(acct.email, acct.password)).c;
    expect(a.cookie).not.toBe(b.cookie);
    const oldCookie = a.cookie!;
    const out = await a.post('/logout', {});
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/auth_token=;/);
    const replay = await new ApiClient(sys.apiUrl).get('/me', { cookie: oldCookie });
    expect(replay.status).toBe(401);
    expect(replay.body.code).toBe('UNAUTHENTICATED');
    expect((await b.get('/me')).status).toBe(200);
    expect((await new ApiClient(sys.apiUrl).post('/logout', {}, { cookie: oldCookie })).status).toBe(204);
  });

  it('lists sessions, revokes one, refuses to revoke another user’s, and logout-all ends them all', async () => {
    const acct = await createAccount(sys.apiUrl, 'list');
    const second = (await signin(acct.email, acct.password, { 'user-agent': 'second-device' })).c;
    const list = await acct.client.get('/sessions');
    expect(list.status).toBe(200);
    expect(list.body.sessions).toHaveLength(2);
    const current = list.body.sessions.filter((s: any) => s.current);
    expect(current).toHaveLength(1);
    const other = list.body.sessions.find((s: any) => !s.current);
    expect(other).toMatchObject({ userAgent: 'second-device', createdAt: expect.any(String), lastSeenAt: expect.any(String) });

    const stranger = await createAccount(sys.apiUrl, 'stranger');
    const steal = await stranger.client.del(`/sessions/${other.id}`);
    expect(steal.status).toBe(404);
    expect((await second.get('/me')).status).toBe(200);

    expect((await acct.client.del(`/sessions/${other.id}`)).status).toBe(204);
    expect((await second.get('/me')).status).toBe(401);

    const third = (await signin(acct.email, acct.password)).c;
    expect((await acct.client.post('/logout-all', {})).status).toBe(204);
    expect((await third.get('/me')).status).toBe(401);
    expect((await acct.client.get('/me')).status).toBe(401);
  });

  it('tampered, alg:none, expired and foreign tokens get 401', async () => {
    const acct = await createAccount(sys.apiUrl, 'jwt');
    const token = acct.client.cookie!.split('=')[1];
    const claims = jwt.decode(token) as jwt.JwtPayload;
    const { config } = sys;
    const base = { issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE, subject: claims.sub! };
    const [h, p, s] = token.split('.');
    const tampered = `${h}.${p}.${s.slice(0, -2)}${s.endsWith('AA') ? 'BB' : 'AA'}`;
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`;
    const expired = jwt.sign({ sid: claims.sid, exp: Math.floor(Date.now() / 1000) - 10 }, config.JWT_SECRET, { algorithm: 'HS256', issuer: base.issuer, audience: base.audience, subject: base.subject });
    const otherKey = jwt.sign({ sid: claims.sid }, 'x'.repeat(48), { algorithm: 'HS256', ...base, expiresIn: 600 });
    const wrongAud = jwt.sign({ sid: claims.sid }, config.JWT_SECRET, { algorithm: 'HS256', ...base, audience: 'someone-else', expiresIn: 600 });
    const hs512 = jwt.sign({ sid: claims.sid }, config.JWT_SECRET, { algorithm: 'HS512', ...base, expiresIn: 600 });
    for (const bad of [tampered, none, expired, otherKey, wrongAud, hs512, 'garbage']) {
      const r = await new ApiClient(sys.apiUrl).get('/me', { cookie: `auth_token=${bad}` });
      expect(r.status).toBe(401);
    }
    const good = await new ApiClient(sys.apiUrl).get('/me', { authorization: `Bearer ${token}` });
    expect(good.status).toBe(200);
  });

  it('after repeated failures from one IP signin is rate limited with Retry-After; another IP still signs in', async () => {
    const acct = await createAccount(sys.apiUrl, 'ratelimit');
    const attackerIp = uniqueIp();
    const attacker = new ApiClient(sys.apiUrl, { 'x-forwarded-for': attackerIp });
    for (let i = 0; i < 3; i++) expect((await attacker.post('/signin', { email: acct.email, password: 'guess guess guess' })).status).toBe(401);
    const limited = await attacker.post('/signin', { email: acct.email, password: acct.password });
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.body.retryAfterSeconds).toBe(Number(limited.headers.get('retry-after')));
    const owner = (await signin(acct.email, acct.password)).r;
    expect(owner.status).toBe(200);
  });
});
