import { request } from 'node:http';
import { uniqueEmail, uniqueIp } from '../../testkit/env';
import { ApiClient, fromNewSource } from '../../testkit/http';
import { useSystem, type System } from '../../testkit/system';

describe('bad input gets a clear 4xx, never a 5xx', () => {
  let sys: System;
  let api: ApiClient;
  useSystem({ env: { RATE_SIGNUP_PER_EMAIL_HOUR: '2' } }, (started, client) => ((sys = started), (api = client)));

  const expectError = (r: { status: number; body: any }, status: number, code: string) => {
    expect({ status: r.status, code: r.body?.code }).toEqual({ status, code });
    expect(typeof r.body.message).toBe('string');
  };

  it('malformed JSON → 400 MALFORMED_JSON', async () => {
    expectError(await api.post('/signup', '{"email": '), 400, 'MALFORMED_JSON');
  });

  it('a body that is not JSON → 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    expectError(await api.post('/signup', 'email=a@b.c', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectError(await api.post('/signup', 'x', { 'content-type': 'text/plain' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('arrays, scalars, unknown fields and __proto__ keys → 400', async () => {
    expectError(await api.post('/signup', '[{"email":"a@b.co"}]'), 400, 'VALIDATION_FAILED');
    expectError(await api.post('/signup', '"a@b.co"'), 400, 'MALFORMED_JSON');
    expectError(await api.post('/signup', '42'), 400, 'MALFORMED_JSON');
    expectError(await api.post('/signup', { email: 'a@b.co', admin: true }), 400, 'VALIDATION_FAILED');
    expectError(await api.post('/signup', '{"email":"a@b.co","__proto__":{"admin":true}}'), 400, 'VALIDATION_FAILED');
    expectError(await api.post('/verify', '{"email":"a@b.co","otp":"123456","password":"x","name":{"constructor":{"prototype":{}}}}'), 400, 'VALIDATION_FAILED');
  });

  it('field errors list each path', async () => {
    const r = await api.post('/verify', { email: 'not-an-email', otp: '12ab', password: '', name: 'bad\u0007name' });
    expectError(r, 400, 'VALIDATION_FAILED');
    const paths = r.body.errors.map((e: { path: string }) => e.path).sort();
    expect(paths).toEqual(expect.arrayContaining(['email', 'name', 'otp', 'password']));
  });

  it('a body over 16 KB → 413 PAYLOAD_TOO_LARGE', async () => {
    expectError(await api.post('/signup', { email: 'a'.repeat(17 * 1024) }), 413, 'PAYLOAD_TOO_LARGE');
  });

  /** A raw request (fetch refuses TRACE): status, Allow header and error code. */
  const raw = (method: string, path: string, body?: string, contentType?: string) =>
    new Promise<{ status: number; allow?: string; code?: string }>((resolve, reject) => {
      const req = request(path.startsWith('http') ? path : sys.apiUrl + path, { method, headers: contentType ? { 'content-type': contentType } : {} }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, allow: res.headers.allow, code: JSON.parse(text || '{}').code }));
      });
      req.on('error', reject);
      req.end(body);
    });

  it('a known path with a method it does not serve → 405 with Allow, whatever the body', async () => {
    expect(await raw('TRACE', '/logout')).toEqual({ status: 405, allow: 'OPTIONS, POST', code: 'METHOD_NOT_ALLOWED' });
    expect(await raw('PUT', '/sessions/abcdefghijklmnopqrstuvwxyz', 'x', 'text/plain')).toEqual({ status: 405, allow: 'DELETE, OPTIONS', code: 'METHOD_NOT_ALLOWED' });
    expect(await raw('PATCH', '/signup', '{"email": ', 'application/json')).toEqual({ status: 405, allow: 'OPTIONS, POST', code: 'METHOD_NOT_ALLOWED' });
    expect(await raw('PUT', '/me')).toEqual({ status: 405, allow: 'DELETE, GET, HEAD, OPTIONS', code: 'METHOD_NOT_ALLOWED' });
    expect(await raw('GET', '/me/restore')).toEqual({ status: 405, allow: 'OPTIONS, POST', code: 'METHOD_NOT_ALLOWED' });
    expect(await raw('TRACE', '/nope')).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    expect(await raw('POST', `${sys.api.url}/.well-known/jwks.json`, '{}', 'application/json')).toEqual({ status: 405, allow: 'GET, HEAD, OPTIONS', code: 'METHOD_NOT_ALLOWED' });
  });

  it('unknown routes → 404 JSON', async () => {
    expectError(await api.get('/nope'), 404, 'NOT_FOUND');
    expectError(await new ApiClient(sys.api.url).get('/admin'), 404, 'NOT_FOUND');
  });

  it('a foreign Origin is refused with 403; the configured web origin and no Origin pass', async () => {
    const email = uniqueEmail('origin');
    expectError(await api.post('/signup', { email }, { origin: 'https://evil.example' }), 403, 'FORBIDDEN_ORIGIN');
    const allowed = await api.post('/signup', { email }, { origin: sys.config.WEB_ORIGINS[0] });
    expect(allowed.status).toBe(202);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(sys.config.WEB_ORIGINS[0]);
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
    expect(allowed.headers.get('access-control-expose-headers')).toMatch(/retry-after/i);
  });

  it("helmet's headers are set", async () => {
    const r = await api.get('/me');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('content-security-policy')).toBeTruthy();
    expect(r.headers.get('x-powered-by')).toBeNull();
  });

  it('signup per email is rate limited: 429 RATE_LIMITED with Retry-After', async () => {
    const email = uniqueEmail('ratelimit');
    const ip = { 'x-forwarded-for': uniqueIp() };
    expect((await api.post('/signup', { email }, ip)).status).toBe(202);
    expect((await api.post('/resend', { email }, ip)).status).toBe(202);
    const third = await api.post('/signup', { email }, ip);
    expectError(third, 429, 'RATE_LIMITED');
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('OpenAPI document', () => {
  let sys: System;
  useSystem({ withWorker: false }, (started) => (sys = started));

  it('documents every mounted route, and every status it documents is one the route gives', async () => {
    const doc = await new ApiClient(sys.api.url).get('/api/v1/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.body.paths as Record<string, Record<string, any>>).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    const expected = ['POST /signup', 'POST /resend', 'POST /verify', 'POST /signin', 'GET /me', 'POST /logout', 'POST /logout-all', 'GET /sessions', 'DELETE /sessions/{id}', 'POST /password/forgot', 'POST /password/reset', 'POST /password/change', 'POST /email/change', 'POST /email/verify', 'POST /email/undo', 'DELETE /me', 'POST /me/restore', 'POST /token',
      'GET /mfa', 'POST /mfa/totp/setup', 'POST /mfa/totp/enable', 'POST /mfa/totp/disable', 'POST /mfa/recovery-codes', 'POST /signin/mfa', 'POST /reauth',
      'GET /passkeys', 'POST /passkeys/register/options', 'POST /passkeys/register', 'DELETE /passkeys/{id}', 'POST /passkeys/authenticate/options', 'POST /passkeys/authenticate'];
    // The admin API (on in test, README "Admin API"); its own tests provoke its statuses (admin-api.test.ts).
    const admin = ['GET /users/{id}', 'GET /audit', 'POST /users/{id}/revoke-sessions', 'POST /users/{id}/lock', 'POST /users/{id}/unlock'].map((e) => e.replace(' /', ' /api/v1/admin/'));
    expect(documented.sort()).toEqual([...expected.map((e) => e.replace(' /', ' /api/v1/auth/')), ...admin, 'GET /.well-known/jwks.json'].sort());

    // Each documented status, provoked for real where it needs no broken dependency.
    const c = new ApiClient(sys.apiUrl);
    const adminApi = new ApiClient(`${sys.api.url}/api/v1/admin`);
    const observed: Record<string, number[]> = {
      'POST /api/v1/auth/signin': [(await c.post('/signin', { email: 'x@y.co', password: 'p' })).status, (await c.post('/signin', { email: 1 })).status],
      'GET /api/v1/auth/me': [(await c.get('/me')).status],
      'GET /api/v1/auth/sessions': [(await c.get('/sessions')).status],
      'POST /api/v1/auth/logout': [(await c.post('/logout', {})).status],
      'DELETE /api/v1/auth/sessions/{id}': [(await c.del('/sessions/abcdefghijklmnopqrstuvwxyz')).status],
      'POST /api/v1/auth/signup': [(await c.post('/signup', { email: 'x' })).status, (await c.post('/signup', {}, { origin: 'https://evil.example' })).status],
      'POST /api/v1/auth/password/forgot': [(await c.post('/password/forgot', { email: 'x' })).status],
      'POST /api/v1/auth/password/reset': [(await c.post('/password/reset', { email: 'x@y.co', code: '12345', password: 'p' })).status, (await c.post('/password/reset', 'x', { 'content-type': 'text/plain' })).status],
      'POST /api/v1/auth/password/change': [(await c.post('/password/change', { currentPassword: 'a', newPassword: 'b' })).status],
      'POST /api/v1/auth/email/change': [(await c.post('/email/change', { newEmail: 'a@b.co', password: 'p' })).status],
      'POST /api/v1/auth/email/verify': [(await c.post('/email/verify', { code: '123456' })).status],
      'POST /api/v1/auth/email/undo': [(await c.post('/email/undo', { token: 'email-undo-x.y' })).status, (await c.post('/email/undo', { token: 1 })).status],
      'DELETE /api/v1/auth/me': [(await c.call('DELETE', '/me', { password: 'p' })).status],
      'POST /api/v1/auth/token': [(await c.post('/token', { audience: 'trading' })).status, (await c.post('/token', 'x', { 'content-type': 'text/plain' })).status],
      'GET /.well-known/jwks.json': [(await new ApiClient(sys.api.url).get('/.well-known/jwks.json')).status],
      'POST /api/v1/auth/me/restore': [(await c.post('/me/restore', { token: 'account-closure-x.y' })).status, (await c.post('/me/restore', { token: 1 })).status],
      'GET /api/v1/auth/mfa': [(await c.get('/mfa')).status],
      'POST /api/v1/auth/mfa/totp/setup': [(await c.post('/mfa/totp/setup')).status, (await c.post('/mfa/totp/setup', { x: 1 })).status],
      'POST /api/v1/auth/mfa/totp/enable': [(await c.post('/mfa/totp/enable', { code: '123456' })).status, (await c.post('/mfa/totp/enable', { code: '12' })).status],
      'POST /api/v1/auth/mfa/totp/disable': [(await c.post('/mfa/totp/disable', { password: 'p', code: '123456' })).status],
      'POST /api/v1/auth/mfa/recovery-codes': [(await c.post('/mfa/recovery-codes')).status],
      'POST /api/v1/auth/signin/mfa': [(await c.post('/signin/mfa', { code: '123456' })).status, (await c.post('/signin/mfa', { code: '123456', recoveryCode: 'abcde-fghij' })).status],
      'POST /api/v1/auth/reauth': [(await c.post('/reauth', { password: 'p' })).status],
      'GET /api/v1/auth/passkeys': [(await c.get('/passkeys')).status],
      'POST /api/v1/auth/passkeys/register/options': [(await c.post('/passkeys/register/options')).status],
      'POST /api/v1/auth/passkeys/register': [(await c.post('/passkeys/register', { response: {} })).status],
      'DELETE /api/v1/auth/passkeys/{id}': [(await c.del('/passkeys/00000000-0000-4000-8000-000000000000')).status],
      'POST /api/v1/auth/passkeys/authenticate/options': [(await c.post('/passkeys/authenticate/options')).status, (await c.post('/passkeys/authenticate/options', { x: 1 })).status],
      'GET /api/v1/admin/users/{id}': [(await adminApi.get('/users/00000000-0000-4000-8000-000000000000')).status, (await adminApi.get('/users/x', { authorization: 'Bearer x' })).status],
      'GET /api/v1/admin/audit': [(await adminApi.get('/audit')).status],
      'POST /api/v1/auth/passkeys/authenticate': [(await c.post('/passkeys/authenticate', { response: {} })).status, (await c.post('/passkeys/authenticate', { response: { id: 'AAAAAAAAAAAAAAAAAAAAAA', rawId: 'AAAAAAAAAAAAAAAAAAAAAA', type: 'public-key', response: { clientDataJSON: 'AAAAAAAAAAAAAAAAAAAAAA', authenticatorData: 'AAAAAAAAAAAAAAAAAAAAAA', signature: 'AAAAAAAAAAAAAAAAAAAAAA' } } })).status],
    };
    for (const [route, statuses] of Object.entries(observed)) {
      const [method, p] = route.split(' ');
      const documentedStatuses = Object.keys(doc.body.paths[p][method.toLowerCase()].responses).map(Number);
      for (const s of statuses) expect({ route, status: s, documented: documentedStatuses.includes(s) }).toEqual({ route, status: s, documented: true });
    }
  });
});

describe('per-source caps over HTTP', () => {
  let sys: System;
  useSystem({ env: { RATE_SIGNUP_PER_IP_HOUR: '3' } }, (started) => (sys = started));

  it('signup from one source past RATE_SIGNUP_PER_IP_HOUR is 429 with Retry-After, whatever the email; another source goes on', async () => {
    const source = fromNewSource(sys.apiUrl);
    for (let i = 0; i < 3; i++) expect((await source.post('/signup', { email: uniqueEmail('ipcap') })).status).toBe(202);
    const over = await source.post('/signup', { email: uniqueEmail('ipcap') });
    expect(over.status).toBe(429);
    expect(over.body.code).toBe('RATE_LIMITED');
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    const other = fromNewSource(sys.apiUrl);
    expect((await other.post('/signup', { email: uniqueEmail('ipcap') })).status).toBe(202);
  });
});
