import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { MikroORM } from '@mikro-orm/postgresql';
import { mintAdminToken } from '../../api/admin/admin-token';
import { SigningKeyCache } from '../../api/tokens/key-cache';
import { signAccessJwt } from '../../api/tokens/access-token';
import { publishedKeys } from '../../api/tokens/signing-keys';
import { deriveKeys } from '../../common/crypto';
import { ormConfig } from '../../entities/mikro-orm.config';
import { createAccount } from '../../testkit/accounts';
import { withDb } from '../../testkit/db';
import { quietLogger, uniqueIp } from '../../testkit/env';
import { ApiClient } from '../../testkit/http';
import { codeOf, mailWithSubject } from '../../testkit/maildev';
import { ensureSigningKey } from '../../testkit/signing-keys';
import { startSystem, type System } from '../../testkit/system';
import { eventually } from '../../testkit/wait';
import { accountWithPasskey, passkeySignin } from '../support/passkeys';

const ROOT = path.resolve(__dirname, '../..');
const NEW_PASSWORD = 'a brand new sturdy passphrase';
const run = promisify(execFile);

interface AuditRow {
  actor: string;
  action: string;
  subject_user_id: string | null;
  request_id: string | null;
  source_ip: string | null;
  outcome: string;
}

/**
 * The admin API (api/admin, README "For service owners"): bearer admin tokens only, every call
 * audited before it answers, the lock kept by the DB processor and enforced at sign-in and on
 * sessions.
 */
describe('admin API (/api/v1/admin)', () => {
  let sys: System;
  let orm: MikroORM;
  let cache: SigningKeyCache;
  let adminUrl: string;

  beforeAll(async () => {
    sys = await startSystem({});
    await ensureSigningKey(sys.config);
    adminUrl = `${sys.api.url}/api/v1/admin`;
    orm = await MikroORM.init(ormConfig(sys.config.DATABASE_URL, { pool: { min: 0, max: 2 } }));
    cache = new SigningKeyCache(() => publishedKeys(orm.em.fork()), deriveKeys(sys.config), { refreshMs: 60_000, maxStaleMs: 60_000, logger: quietLogger() });
    await cache.refresh();
  });
  afterAll(async () => {
    await orm?.close(true);
    await sys?.close();
  });

  /** A token for operator `name`, minted as the CLI does (the CLI itself is tested below). */
  const adminToken = (name = 'tester', now = Date.now()) => mintAdminToken(sys.config, cache.signingKey(), name, now).token;

  const call = async (method: 'GET' | 'POST', p: string, headers: Record<string, string> = {}) => {
    const res = await fetch(adminUrl + p, { method, headers: { 'x-forwarded-for': '10.20.30.40', ...headers } });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, body: text ? JSON.parse(text) : undefined };
  };
  const asAdmin = (method: 'GET' | 'POST', p: string, token = adminToken(), requestId = `adm-${randomUUID()}`) =>
    call(method, p, { authorization: `Bearer ${token}`, 'x-request-id': requestId }).then((r) => ({ ...r, requestId }));

  const auditOf = (requestId: string) =>
    withDb(sys.config.DATABASE_URL, (sql) => sql('select actor, action, subject_user_id, request_id, source_ip, outcome from audit_event where request_id = ? order by occurred_at', [requestId])) as Promise<AuditRow[]>;

  const signin = async (email: string, password: string) => {
    const c = new ApiClient(sys.apiUrl, { 'x-forwarded-for': uniqueIp() });
    const r = await c.post('/signin', { email, password });
    return { client: c, r };
  };

  describe('who may call', () => {
    it('no token: 401 UNAUTHENTICATED with WWW-Authenticate: Bearer', async () => {
      const r = await call('GET', `/users/${randomUUID()}`);
      expect(r.status).toBe(401);
      expect(r.body.code).toBe('UNAUTHENTICATED');
      expect(r.headers.get('www-authenticate')).toBe('Bearer realm="cfd-admin"');
      expect(r.headers.get('cache-control')).toBe('no-store');
    });

    it("a user's session (cookie, or its token as a bearer) is no admin: 401", async () => {
      const acct = await createAccount(sys.apiUrl, 'admin-cookie');
      const { client } = await signin(acct.email, acct.password);
      const sessionToken = client.cookie!.slice(client.cookie!.indexOf('=') + 1);
      const attempts: Record<string, string>[] = [{ cookie: client.cookie! }, { authorization: `Bearer ${sessionToken}` }, { cookie: client.cookie!, authorization: 'Bearer x' }];
      for (const headers of attempts) {
        for (const [method, p] of [['GET', `/users/${acct.user.id}`], ['POST', `/users/${acct.user.id}/lock`]] as const) {
          const r = await call(method, p, headers);
          expect({ headers: Object.keys(headers), p, status: r.status, code: r.body.code }).toEqual({ headers: Object.keys(headers), p, status: 401, code: 'UNAUTHENTICATED' });
        }
      }
      // The account was not locked by any of it.
      expect((await client.get('/me')).status).toBe(200);
    });

    it("a valid access token of ours that is not an admin's (a user's token for a service): 403 FORBIDDEN", async () => {
      const acct = await createAccount(sys.apiUrl, 'admin-user-token');
      const { client } = await signin(acct.email, acct.password);
      const minted = await client.post('/token', { audience: 'payments' });
      expect(minted.status).toBe(200);
      const r = await call('GET', `/users/${acct.user.id}`, { authorization: `Bearer ${minted.body.access_token}` });
      expect(r.status).toBe(403);
      expect(r.body.code).toBe('FORBIDDEN');
      // Our key and issuer, the admin audience, but no admin role: 403 as well.
      const noRole = signAccessJwt(cache.signingKey(), { iss: sys.config.JWT_ISSUER, sub: 'admin:mallory', aud: 'cfd-admin', iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 60, jti: randomUUID() });
      expect((await call('GET', `/users/${acct.user.id}`, { authorization: `Bearer ${noRole}` })).status).toBe(403);
    });

    it('an expired, forged or tampered admin token: 401', async () => {
      const expired = adminToken('tester', Date.now() - 2 * 3600_000);
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const forged = signAccessJwt({ kid: cache.signingKey().kid, privateKey }, { iss: sys.config.JWT_ISSUER, sub: 'admin:mallory', aud: 'cfd-admin', role: 'admin', iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 60, jti: randomUUID() });
      const good = adminToken();
      const [h, p, s] = good.split('.');
      const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
      const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'admin:root' })).toString('base64url')}.${s}`;
      for (const [label, token] of [['expired', expired], ['forged', forged], ['tampered', tampered], ['garbage', 'a.b.c']]) {
        const r = await call('GET', `/users/${randomUUID()}`, { authorization: `Bearer ${token}` });
        expect({ label, status: r.status, code: r.body.code, challenge: r.headers.get('www-authenticate') }).toEqual({ label, status: 401, code: 'UNAUTHENTICATED', challenge: 'Bearer realm="cfd-admin", error="invalid_token"' });
      }
      expect((await call('GET', `/users/${randomUUID()}`, { authorization: `Bearer ${good}` })).status).toBe(404);
    });
  });

  it('GET /users/:id: state, factors, sessions and locks, ids only; audited with actor, subject, request id and truncated IP', async () => {
    const acct = await createAccount(sys.apiUrl, 'admin-read');
    await signin(acct.email, acct.password);
    const r = await asAdmin('GET', `/users/${acct.user.id}`, adminToken('ada'));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      user: {
        id: acct.user.id,
        state: 'active',
        createdAt: expect.any(String),
        verified: true,
        factors: { password: true, totp: { enabled: false, enabledAt: null, recoveryCodesLeft: 0 }, passkeys: { count: 0 } },
        // The verify's session and the sign-in's.
        sessions: { count: 2 },
        locks: { admin: { locked: false, since: null }, rateLimits: { signin: { locked: false, retryAfterSeconds: null }, secondFactor: { locked: false, retryAfterSeconds: null } } },
        closedAt: null,
      },
    });
    expect(r.text).not.toContain(acct.email);
    expect(r.text).not.toContain(acct.user.name);
    // Written before the answer: no waiting.
    expect(await auditOf(r.requestId)).toEqual([{ actor: 'admin:ada', action: 'admin.user_read', subject_user_id: acct.user.id, request_id: r.requestId, source_ip: '10.20.30.0/24', outcome: 'success' }]);

    const unknown = randomUUID();
    const missing = await asAdmin('GET', `/users/${unknown}`, adminToken('ada'));
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('USER_NOT_FOUND');
    expect(await auditOf(missing.requestId)).toEqual([expect.objectContaining({ action: 'admin.user_read', subject_user_id: unknown, outcome: 'failure' })]);

    const bad = await asAdmin('GET', '/users/not-a-uuid');
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('VALIDATION_FAILED');
  });

  it('POST /users/:id/revoke-sessions ends every session of the user; audited', async () => {
    const acct = await createAccount(sys.apiUrl, 'admin-revoke');
    const a = await signin(acct.email, acct.password);
    const b = await signin(acct.email, acct.password);
    const other = await createAccount(sys.apiUrl, 'admin-revoke-other');
    const r = await asAdmin('POST', `/users/${acct.user.id}/revoke-sessions`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ userId: acct.user.id, sessionsRevoked: 3 });
    for (const c of [acct.client, a.client, b.client]) expect((await c.get('/me')).status).toBe(401);
    expect((await other.client.get('/me')).status).toBe(200);
    expect(await auditOf(r.requestId)).toEqual(expect.arrayContaining([expect.objectContaining({ actor: 'admin:tester', action: 'admin.sessions_revoked', subject_user_id: acct.user.id, outcome: 'success' })]));
    // Signing in again works: revoking is not locking.
    expect((await signin(acct.email, acct.password)).r.status).toBe(200);
    expect((await asAdmin('POST', `/users/${randomUUID()}/revoke-sessions`)).body.code).toBe('USER_NOT_FOUND');
  });

  it('a lock holds for passkeys too: a passkey alone answers 403 ACCOUNT_LOCKED (to its holder only), and signs in again after unlock; the view counts the passkeys', async () => {
    const owner = await accountWithPasskey(sys, 'admin-lock-pk');
    expect((await asAdmin('GET', `/users/${owner.user.id}`)).body.user.factors.passkeys).toEqual({ count: 1 });
    expect((await asAdmin('POST', `/users/${owner.user.id}/lock`)).status).toBe(200);
    const client = new ApiClient(sys.apiUrl, { 'x-forwarded-for': uniqueIp() });
    const refused = await passkeySignin(client, owner.authenticator);
    expect({ status: refused.status, code: refused.body.code, cookie: client.cookie }).toEqual({ status: 403, code: 'ACCOUNT_LOCKED', cookie: undefined });
    expect((await asAdmin('POST', `/users/${owner.user.id}/unlock`)).status).toBe(200);
    const again = await passkeySignin(client, owner.authenticator);
    expect(again.status).toBe(200);
    expect((await client.get('/me')).status).toBe(200);
  });

  it('a lock ends every session and stops sign-in (403 ACCOUNT_LOCKED for the right password only); unlock restores sign-in; both through the DB processor with their events', async () => {
    const acct = await createAccount(sys.apiUrl, 'admin-lock');
    const { client } = await signin(acct.email, acct.password);
    expect((await client.get('/me')).status).toBe(200);

    const locked = await asAdmin('POST', `/users/${acct.user.id}/lock`, adminToken('bob'));
    expect(locked.status).toBe(200);
    // Existing sessions are gone.
    expect((await client.get('/me')).status).toBe(401);
    expect((await acct.client.get('/me')).status).toBe(401);
    expect(locked.body).toEqual({ userId: acct.user.id, locked: true, changed: true, sessionsRevoked: 2 });

    // The right password learns of the lock; a wrong one is answered like any wrong password.
    const right = await signin(acct.email, acct.password);
    expect(right.r.status).toBe(403);
    expect(right.r.body).toEqual({ code: 'ACCOUNT_LOCKED', message: expect.any(String) });
    expect(right.client.cookie).toBeUndefined();
    const wrong = await signin(acct.email, 'not the passphrase at all');
    const nobody = await signin(`nobody.${randomUUID()}@test.example.com`, 'not the passphrase at all');
    expect({ status: wrong.r.status, body: wrong.r.body }).toEqual({ status: nobody.r.status, body: nobody.r.body });
    expect(wrong.r.status).toBe(401);

    const view = await asAdmin('GET', `/users/${acct.user.id}`);
    expect(view.body.user).toMatchObject({ state: 'locked', sessions: { count: 0 }, locks: { admin: { locked: true, since: expect.any(String) } } });

    // A password reset (the mailbox proves the address) changes the password but opens no session.
    const resetter = new ApiClient(sys.apiUrl, { 'x-forwarded-for': uniqueIp() });
    expect((await resetter.post('/password/forgot', { email: acct.email })).status).toBe(202);
    const code = codeOf(await mailWithSubject(acct.email, 'Your CFD Broker password reset code'));
    const reset = await resetter.post('/password/reset', { email: acct.email, code, password: NEW_PASSWORD });
    expect({ status: reset.status, code: reset.body.code, cookie: resetter.cookie }).toEqual({ status: 403, code: 'ACCOUNT_LOCKED', cookie: undefined });
    expect((await signin(acct.email, NEW_PASSWORD)).r.status).toBe(403);

    // Locking again changes nothing in the row.
    expect((await asAdmin('POST', `/users/${acct.user.id}/lock`)).body).toEqual({ userId: acct.user.id, locked: true, changed: false, sessionsRevoked: 0 });

    const unlocked = await asAdmin('POST', `/users/${acct.user.id}/unlock`, adminToken('bob'));
    expect(unlocked.body).toEqual({ userId: acct.user.id, locked: false, changed: true, sessionsRevoked: 0 });
    const again = await signin(acct.email, NEW_PASSWORD);
    expect(again.r.status).toBe(200);
    expect((await again.client.get('/me')).status).toBe(200);

    // The admin rows (before the answers), the change rows and the events (in the change's transaction).
    expect(await auditOf(locked.requestId)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ actor: 'admin:bob', action: 'account.locked', subject_user_id: acct.user.id, outcome: 'success' }),
        expect.objectContaining({ actor: 'admin:bob', action: 'admin.user_locked', subject_user_id: acct.user.id, source_ip: '10.20.30.0/24', outcome: 'success' }),
      ]),
    );
    expect(await auditOf(unlocked.requestId)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ actor: 'admin:bob', action: 'account.unlocked', subject_user_id: acct.user.id }),
        expect.objectContaining({ actor: 'admin:bob', action: 'admin.user_unlocked', subject_user_id: acct.user.id, outcome: 'success' }),
      ]),
    );
    const events = await withDb(sys.config.DATABASE_URL, (sql) => sql(`select payload->>'type' as type, payload->>'requestId' as "requestId" from outbox where message_key = ? and payload->>'type' like 'account.%lock%' order by id`, [acct.user.id]));
    expect(events).toEqual([
      { type: 'account.locked', requestId: locked.requestId },
      { type: 'account.unlocked', requestId: unlocked.requestId },
    ]);
    expect((await asAdmin('POST', `/users/${randomUUID()}/lock`)).body.code).toBe('USER_NOT_FOUND');
  });

  it('GET /audit pages through the filtered trail, newest first, with an opaque cursor; bad input is 400', async () => {
    const acct = await createAccount(sys.apiUrl, 'admin-audit');
    for (let i = 0; i < 3; i++) await signin(acct.email, acct.password);
    await signin(acct.email, 'a wrong passphrase here');
    // The sign-ins' rows are sent in the background: wait until they are all there.
    const expected = await eventually(async () => {
      const rows = await withDb(sys.config.DATABASE_URL, (sql) => sql('select id from audit_event where subject_user_id = ? order by occurred_at desc, id desc', [acct.user.id]));
      return rows.length >= 6 ? rows.map((r) => r.id as string) : undefined;
    }, 30_000, "the sign-ins' audit rows");

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await asAdmin('GET', `/audit?userId=${acct.user.id}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.status).toBe(200);
      expect(r.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...r.body.items.map((i: { id: string }) => i.id));
      cursor = r.body.nextCursor;
      pages++;
    } while (cursor && pages < 20);
    // Each page's own admin.audit_read row names this user too, so later pages may hold newer rows: every expected row appears once.
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining(expected));

    const failed = await asAdmin('GET', `/audit?userId=${acct.user.id}&action=signin.failed`);
    expect(failed.body.items).toEqual([
      { id: expect.any(String), occurredAt: expect.any(String), actor: 'anonymous', action: 'signin.failed', subjectUserId: acct.user.id, requestId: expect.any(String), sourceIp: expect.stringMatching(/\/24$/), outcome: 'failure' },
    ]);
    expect(failed.body.nextCursor).toBeNull();
    const at = failed.body.items[0].occurredAt as string;
    const window = await asAdmin('GET', `/audit?userId=${acct.user.id}&from=${encodeURIComponent(at)}&to=${encodeURIComponent(new Date(Date.parse(at) + 1).toISOString())}`);
    expect(window.body.items.map((i: { id: string }) => i.id)).toContain(failed.body.items[0].id);
    expect(window.body.items.every((i: { occurredAt: string }) => i.occurredAt === at)).toBe(true);
    const before = await asAdmin('GET', `/audit?userId=${acct.user.id}&action=signin.failed&to=${encodeURIComponent(at)}`);
    expect(before.body.items).toEqual([]);

    // The reads were audited too, with the filter's user as subject.
    expect(await auditOf(failed.requestId)).toEqual([expect.objectContaining({ actor: 'admin:tester', action: 'admin.audit_read', subject_user_id: acct.user.id, outcome: 'success' })]);

    for (const q of ['limit=0', 'limit=201', 'limit=x', 'action=nope', 'userId=42', 'from=yesterday', 'from=2026-02-30T00:00:00Z', 'cursor=%21%21', 'surprise=1', 'limit=1&limit=2']) {
      const r = await asAdmin('GET', `/audit?${q}`);
      expect({ q, status: r.status, code: r.body.code }).toEqual({ q, status: 400, code: 'VALIDATION_FAILED' });
    }
    // Well-formed, but no cursor this listing gave out.
    for (const cursor of [Buffer.from('{"t":"x"}').toString('base64url'), 'AAAA', Buffer.from(JSON.stringify({ t: 'never', id: randomUUID() })).toString('base64url'), Buffer.from(JSON.stringify({ t: '2026-02-30T10:00:00.000000Z', id: randomUUID() })).toString('base64url')]) {
      const r = await asAdmin('GET', `/audit?cursor=${cursor}`);
      expect({ cursor, status: r.status, code: r.body.code }).toEqual({ cursor, status: 400, code: 'INVALID_CURSOR' });
    }
    // An empty window is no error.
    expect((await asAdmin('GET', `/audit?from=${encodeURIComponent(at)}&to=${encodeURIComponent(at)}`)).body).toEqual({ items: [], nextCursor: null });
    const defaults = await asAdmin('GET', '/audit');
    expect(defaults.body.items.length).toBeLessThanOrEqual(50);
  });

  it('npm run admin -- token --name <who> prints a working token on stdout alone, and audits the minting', async () => {
    const name = `cli-${Date.now().toString(36)}`;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/admin-cli.ts', 'token', '--name', name], { cwd: ROOT, env: { ...process.env, NODE_ENV: 'test', DATABASE_URL: sys.config.DATABASE_URL } });
    const token = stdout.trim();
    expect(stdout).toBe(`${token}\n`);
    expect(token.split('.')).toHaveLength(3);
    const jti = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti as string;
    expect(await auditOf(jti)).toEqual([{ actor: `admin:${name}`, action: 'admin.token_minted', subject_user_id: null, request_id: jti, source_ip: null, outcome: 'success' }]);

    const acct = await createAccount(sys.apiUrl, 'admin-cli');
    const r = await asAdmin('GET', `/users/${acct.user.id}`, token);
    expect(r.status).toBe(200);
    expect(await auditOf(r.requestId)).toEqual([expect.objectContaining({ actor: `admin:${name}`, action: 'admin.user_read' })]);

    await expect(run(process.execPath, ['--import', 'tsx', 'scripts/admin-cli.ts', 'token', '--name', 'Not A Name'], { cwd: ROOT, env: { ...process.env, NODE_ENV: 'test' } })).rejects.toMatchObject({ code: 2, stdout: '' });
  });
});

describe('ADMIN_API=off', () => {
  let sys: System;
  beforeAll(async () => {
    sys = await startSystem({ env: { ADMIN_API: 'off' }, withWorker: false, withDbProcessor: false });
  });
  afterAll(async () => {
    await sys?.close();
  });

  it('the admin paths do not exist, whatever the token, and the document does not list them', async () => {
    const r = await fetch(`${sys.api.url}/api/v1/admin/users/${randomUUID()}`, { headers: { authorization: 'Bearer x.y.z' } });
    expect(r.status).toBe(404);
    expect(((await r.json()) as { code: string }).code).toBe('NOT_FOUND');
    const doc = (await (await fetch(`${sys.api.url}/api/v1/openapi.json`)).json()) as { paths: Record<string, unknown>; components: { securitySchemes: Record<string, unknown> } };
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/api/v1/admin'))).toEqual([]);
    expect(doc.components.securitySchemes.adminBearer).toBeUndefined();
  });
});
