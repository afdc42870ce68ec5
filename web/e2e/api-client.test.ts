/**
 * The web client's API module (web/lib/api.ts) against a fake API on a local port: what it sends, and the message
 * a person sees for every error shape of the contract. No browser and no backend needed.
 */
import http from 'node:http';
import net from 'node:net';
import { api, ApiError, apiBaseUrl, NETWORK_MESSAGE } from '../lib/api';

interface Seen {
  method: string;
  url: string;
  contentType?: string;
  body: string;
}

type Reply = { status: number; body?: unknown; headers?: Record<string, string>; raw?: string };

let server: http.Server;
let base = '';
let seen: Seen[] = [];
let reply: Reply = { status: 204 };

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', contentType: req.headers['content-type'], body });
      const headers: Record<string, string> = { ...(reply.headers ?? {}) };
      if (reply.body !== undefined) headers['content-type'] = 'application/json';
      res.writeHead(reply.status, headers);
      res.end(reply.raw ?? (reply.body === undefined ? '' : JSON.stringify(reply.body)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/api/v1/auth`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  delete process.env.NEXT_PUBLIC_API_URL;
});

beforeEach(() => {
  seen = [];
  reply = { status: 204 };
  process.env.NEXT_PUBLIC_API_URL = `${base}/`;
});

async function failure(call: () => Promise<unknown>): Promise<ApiError> {
  try {
    await call();
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    return err as ApiError;
  }
  throw new Error('the call did not fail');
}

describe('requests', () => {
  it('uses NEXT_PUBLIC_API_URL without its trailing slash', () => {
    expect(apiBaseUrl()).toBe(base);
  });

  it('posts JSON, including an empty object for logout and logout-all', async () => {
    reply = { status: 202, body: { message: 'sent' } };
    await expect(api.signup('ada@example.com')).resolves.toEqual({ message: 'sent' });
    reply = { status: 204 };
    await api.logout();
    await api.logoutAll();
    expect(seen.map((s) => [s.method, s.url, s.contentType, s.body])).toEqual([
      ['POST', '/api/v1/auth/signup', 'application/json', '{"email":"ada@example.com"}'],
      ['POST', '/api/v1/auth/logout', 'application/json', '{}'],
      ['POST', '/api/v1/auth/logout-all', 'application/json', '{}'],
    ]);
  });

  it('reads /me and /sessions and deletes a session by its encoded id', async () => {
    const user = { id: 'u1', email: 'ada@example.com', name: 'Ada', createdAt: '2026-01-01T00:00:00.000Z' };
    reply = { status: 200, body: { user } };
    await expect(api.me()).resolves.toEqual(user);
    reply = { status: 200, body: { sessions: [] } };
    await expect(api.sessions()).resolves.toEqual([]);
    reply = { status: 204 };
    await expect(api.revokeSession('a/b')).resolves.toBeUndefined();
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'GET /api/v1/auth/me',
      'GET /api/v1/auth/sessions',
      'DELETE /api/v1/auth/sessions/a%2Fb',
    ]);
  });

  it('posts the password and email changes, the account closure (DELETE with a body) and the link tokens', async () => {
    reply = { status: 204 };
    await expect(api.changePassword({ currentPassword: 'old pw', newPassword: 'new passphrase' })).resolves.toBeUndefined();
    reply = { status: 202, body: { message: 'on its way' } };
    await expect(api.changeEmail({ newEmail: 'ada@example.org', password: 'pw' })).resolves.toEqual({ message: 'on its way' });
    const user = { id: 'u1', email: 'ada@example.org', name: 'Ada' };
    reply = { status: 200, body: { message: 'changed', user } };
    await expect(api.verifyEmailChange('123456')).resolves.toEqual({ message: 'changed', user });
    reply = { status: 200, body: { message: 'undone' } };
    await expect(api.undoEmailChange('flow.secret')).resolves.toEqual({ message: 'undone' });
    reply = { status: 202, body: { message: 'closed' } };
    await expect(api.closeAccount('pw')).resolves.toEqual({ message: 'closed' });
    reply = { status: 200, body: { message: 'open again' } };
    await expect(api.restoreAccount('flow.secret')).resolves.toEqual({ message: 'open again' });
    expect(seen.map((s) => [s.method, s.url, s.contentType, s.body])).toEqual([
      ['POST', '/api/v1/auth/password/change', 'application/json', '{"currentPassword":"old pw","newPassword":"new passphrase"}'],
      ['POST', '/api/v1/auth/email/change', 'application/json', '{"newEmail":"ada@example.org","password":"pw"}'],
      ['POST', '/api/v1/auth/email/verify', 'application/json', '{"code":"123456"}'],
      ['POST', '/api/v1/auth/email/undo', 'application/json', '{"token":"flow.secret"}'],
      ['DELETE', '/api/v1/auth/me', 'application/json', '{"password":"pw"}'],
      ['POST', '/api/v1/auth/me/restore', 'application/json', '{"token":"flow.secret"}'],
    ]);
  });
});

describe('error messages', () => {
  const verify = () => api.verify({ email: 'ada@example.com', otp: '123456', password: 'pw', name: 'Ada' });

  it.each([
    [400, { code: 'INVALID_CODE', message: 'x', attemptsLeft: 3 }, 'That code is wrong. 3 attempts left.'],
    [400, { code: 'INVALID_CODE', message: 'x', attemptsLeft: 1 }, 'That code is wrong. 1 attempt left.'],
    [429, { code: 'TOO_MANY_ATTEMPTS', message: 'x' }, 'Too many wrong codes. Request a new code.'],
    [410, { code: 'CODE_EXPIRED', message: 'x' }, 'That code has expired. Request a new one.'],
    [429, { code: 'RATE_LIMITED', message: 'x', retryAfterSeconds: 42 }, 'Too many attempts. Try again in 42 s.'],
    [400, { code: 'WEAK_PASSWORD', message: 'This password is too common.' }, 'This password is too common.'],
    [401, { code: 'INVALID_CREDENTIALS', message: 'x' }, 'Email or password is wrong.'],
    [409, { code: 'EMAIL_TAKEN', message: 'x' }, 'An account with this email already exists. Sign in instead.'],
    [503, { code: 'UNAVAILABLE', message: 'x' }, 'The service is temporarily unavailable. Try again shortly.'],
    [400, { code: 'INVALID_CURRENT_PASSWORD', message: 'x' }, 'Your current password is wrong.'],
    [400, { code: 'INVALID_TOKEN', message: 'x' }, 'This link is not valid or has expired. It may have been used already.'],
  ])('%i %j', async (status, body, message) => {
    reply = { status, body };
    const err = await failure(verify);
    expect(err.code).toBe(body.code);
    expect(err.status).toBe(status);
    expect(err.message).toBe(message);
  });

  it('keeps attemptsLeft and retryAfterSeconds, taking Retry-After when the body has no number', async () => {
    reply = { status: 400, body: { code: 'INVALID_CODE', message: 'x', attemptsLeft: 2 } };
    expect((await failure(verify)).attemptsLeft).toBe(2);
    reply = { status: 429, body: { code: 'RATE_LIMITED', message: 'x' }, headers: { 'Retry-After': '17' } };
    const err = await failure(verify);
    expect(err.retryAfterSeconds).toBe(17);
    expect(err.message).toBe('Too many attempts. Try again in 17 s.');
  });

  it('gives per-field messages for VALIDATION_FAILED', async () => {
    reply = {
      status: 400,
      body: {
        code: 'VALIDATION_FAILED',
        message: 'The request is not valid.',
        errors: [
          { path: 'otp', message: 'the code is 6 digits' },
          { path: 'name', message: 'too long' },
        ],
      },
    };
    const err = await failure(verify);
    expect(err.fieldErrors).toEqual([
      { field: 'otp', message: 'The code is 6 digits.' },
      { field: 'name', message: 'Too long.' },
    ]);
    expect(err.message).toBe('The code is 6 digits. Name: Too long.');

    reply = {
      status: 400,
      body: { code: 'VALIDATION_FAILED', message: 'x', errors: [{ path: ['currentPassword'], message: 'the password is 1 to 72 characters' }] },
    };
    const change = await failure(() => api.changePassword({ currentPassword: '', newPassword: 'new passphrase' }));
    expect(change.fieldErrors).toEqual([{ field: 'currentPassword', message: 'The password is 1 to 72 characters.' }]);
    expect(change.message).toBe('Current password: The password is 1 to 72 characters.');
  });

  it('treats a proxy error page as the service being unavailable', async () => {
    reply = { status: 502, raw: '<html>Bad gateway</html>', headers: { 'content-type': 'text/html' } };
    const err = await failure(() => api.me());
    expect(err.code).toBe('UNAVAILABLE');
    expect(err.message).toBe('The service is temporarily unavailable. Try again shortly.');
  });

  it('says the server cannot be reached when nothing listens', async () => {
    const closed = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as net.AddressInfo;
        s.close(() => resolve(port));
      });
    });
    process.env.NEXT_PUBLIC_API_URL = `http://127.0.0.1:${closed}/api/v1/auth`;
    const err = await failure(() => api.signin({ email: 'ada@example.com', password: 'pw' }));
    expect(err.code).toBe('NETWORK');
    expect(err.status).toBe(0);
    expect(err.message).toBe(NETWORK_MESSAGE);
    expect(NETWORK_MESSAGE).toBe("Can't reach the server. Check your connection and try again.");
  });
});
