/**
 * Auth events and the audit trail on the real stack: what an account's life publishes on
 * auth.events.v1 (signed, valid, keyed by user id, nothing personal), that a change whose
 * transaction fails is neither committed nor published (and a retried change publishes once), and
 * that the database keeps audit_event append-only.
 */
import { randomUUID } from 'node:crypto';
import bcrypt from 'bcrypt';
import { MikroORM } from '@mikro-orm/postgresql';
import { accountClosureWorkflowId, deriveKeys, seal, SealContext } from '../../common/crypto';
import { AuthEvent } from '../../common/events/auth-events';
import { EventSigner, verifyAuthEventMessage } from '../../common/events/event-signing';
import { EnvelopeSecurity } from '../../common/kafka/envelope-security';
import { KafkaRequester, RemoteError } from '../../common/kafka/request-reply';
import { TOPICS } from '../../common/kafka/topics';
import { ormConfig } from '../../entities/mikro-orm.config';
import { createAccount } from '../../testkit/accounts';
import { withDb } from '../../testkit/db';
import { quietLogger, uniqueEmail } from '../../testkit/env';
import { codeOf, mailWithSubject } from '../../testkit/maildev';
import { fromNewSource } from '../../testkit/http';
import { useSystem, type System } from '../../testkit/system';
import { Authenticator } from '../../testkit/totp';
import { eventually } from '../../testkit/wait';
import { rawKafka, tap, type Seen } from '../support/kafka';

const PASSWORD = 'an evented account passphrase';
const NEW_PASSWORD = 'a second evented passphrase';

describe('auth events on auth.events.v1 and the audit trail', () => {
  let sys: System;
  // Short enough to see the erasure (account.closed), long enough to restore within it.
  useSystem({ env: { ACCOUNT_CLOSURE_GRACE_S: '15' } }, (started) => {
    sys = started;
  });
  let topic: Awaited<ReturnType<typeof tap>>;
  beforeAll(async () => {
    topic = await tap(rawKafka(sys.config, 'auth-events'), TOPICS.authEvents);
  });
  afterAll(async () => {
    await topic?.consumer.disconnect();
  });

  const eventsOf = (userId: string): { seen: Seen; event: AuthEvent }[] =>
    topic.seen.filter((m) => m.key === userId).map((seen) => ({ seen, event: JSON.parse(seen.value!.toString('utf8')) as AuthEvent }));
  const typesOf = (userId: string) => eventsOf(userId).map((e) => e.event.type).sort();
  const sql = (q: string, params: unknown[] = []) => withDb(sys.config.DATABASE_URL, (run) => run(q, params));

  it("an account's life is published once per change: signed, valid, keyed by user id, with nothing personal", async () => {
    const owner = await createAccount(sys.apiUrl, 'events-life', PASSWORD);
    const uid = owner.user.id;
    const stranger = fromNewSource(sys.apiUrl);
    expect((await stranger.post('/signin', { email: owner.email, password: 'not the passphrase' })).status).toBe(401);
    const device = fromNewSource(sys.apiUrl);
    expect((await device.post('/signin', { email: owner.email, password: PASSWORD })).status).toBe(200);
    expect((await device.post('/logout')).status).toBe(204);
    expect((await owner.client.post('/password/change', { currentPassword: PASSWORD, newPassword: NEW_PASSWORD })).status).toBe(204);
    expect((await owner.client.call('DELETE', '/me', { password: NEW_PASSWORD })).status).toBe(202);

    const expected = [
      'account.closed', // the grace period's end
      'account.closure_requested',
      'password.changed',
      'session.created', // verify
      'session.created', // sign-in
      'session.revoked', // logout
      'signin.failed',
      'user.registered',
    ];
    await eventually(async () => (typesOf(uid).length >= expected.length ? true : undefined), 60_000, `events of ${uid}: ${typesOf(uid).join(', ')}`);
    expect(typesOf(uid)).toEqual(expected);

    const signer = EventSigner.fromConfig(sys.config);
    for (const { seen, event } of eventsOf(uid)) {
      expect(AuthEvent.safeParse(event).success).toBe(true);
      expect(verifyAuthEventMessage(TOPICS.authEvents, { key: seen.keyBytes, value: seen.value, headers: seen.headers }, signer.publicKeys())).toBe(true);
      expect(seen.headers['x-event-id']).toBe(event.eventId);
      const raw = `${seen.value!.toString('utf8')} ${JSON.stringify(seen.headers)}`.toLowerCase();
      for (const secret of [owner.email, owner.email.split('@')[0], owner.user.name, PASSWORD, NEW_PASSWORD]) expect(raw).not.toContain(secret.toLowerCase());
    }
    expect(new Set(eventsOf(uid).map((e) => e.event.eventId)).size).toBe(expected.length);
    // What an HTTP request did carries its request id; the sign-in's session names its origin.
    const byType = (t: string) => eventsOf(uid).filter((e) => e.event.type === t).map((e) => e.event);
    expect(byType('signin.failed')[0]).toMatchObject({ userId: uid, requestId: expect.any(String), data: { reason: 'invalid_credentials' } });
    expect(byType('session.created').map((e) => (e.data as { origin: string }).origin).sort()).toEqual(['signin', 'signup_verified']);
    expect(byType('session.revoked')[0].data).toEqual({ reason: 'logout', count: 1 });

    // The audit trail has the same actions, with the source truncated to its network.
    const rows = await eventually(async () => {
      const r = await sql('select action, actor, outcome, source_ip, request_id from audit_event where subject_user_id = ? order by occurred_at', [uid]);
      return r.length >= expected.length ? r : undefined;
    }, 30_000, 'audit rows');
    expect(rows.map((r) => r.action).sort()).toEqual(expected);
    expect(rows.find((r) => r.action === 'account.closed')).toMatchObject({ actor: 'system', source_ip: null });
    expect(rows.find((r) => r.action === 'signin.failed')).toMatchObject({ actor: 'anonymous', outcome: 'failure', source_ip: expect.stringMatching(/\.0\/24$|::\/48$/) });
    for (const r of rows) expect(String(r.source_ip ?? '')).not.toMatch(/^\d+\.\d+\.\d+\.(?!0\/24)/);
  });

  it('a password reset, an email change and its undo publish password.reset, email.changed (undo false, then true) and their sessions', async () => {
    const owner = await createAccount(sys.apiUrl, 'events-flows', PASSWORD);
    const uid = owner.user.id;
    const stranger = fromNewSource(sys.apiUrl);
    expect((await stranger.post('/password/forgot', { email: owner.email })).status).toBe(202);
    const code = codeOf(await mailWithSubject(owner.email, 'Your CFD Broker password reset code'));
    expect((await stranger.post('/password/reset', { email: owner.email, code, password: NEW_PASSWORD })).status).toBe(200);

    const newEmail = uniqueEmail('events-flows-new');
    expect((await stranger.post('/email/change', { newEmail, password: NEW_PASSWORD })).status).toBe(202);
    expect((await stranger.post('/email/verify', { code: codeOf(await mailWithSubject(newEmail, 'Confirm your new CFD Broker email')) })).status).toBe(200);
    const notice = await mailWithSubject(owner.email, 'Your CFD Broker email address was changed');
    const token = /token=([A-Za-z0-9._-]+)/.exec(notice.text)![1];
    expect((await fromNewSource(sys.apiUrl).post('/email/undo', { token })).status).toBe(200);

    const expected = ['email.changed', 'email.changed', 'password.reset', 'session.created', 'session.created', 'session.created', 'user.registered'];
    await eventually(async () => (typesOf(uid).length >= expected.length ? true : undefined), 60_000, `events of ${uid}: ${typesOf(uid).join(', ')}`);
    expect(typesOf(uid)).toEqual(expected);
    const events = eventsOf(uid).map((e) => e.event);
    expect(events.filter((e) => e.type === 'email.changed').map((e) => e.data)).toEqual([{ undo: false }, { undo: true }]);
    expect(events.filter((e) => e.type === 'session.created').map((e) => (e.data as { origin: string }).origin).sort()).toEqual(['email_change', 'password_reset', 'signup_verified']);
    for (const { seen } of eventsOf(uid)) {
      const raw = seen.value!.toString('utf8').toLowerCase();
      for (const secret of [owner.email, newEmail, owner.user.name]) expect(raw).not.toContain(secret.toLowerCase());
    }
  });

  it('turning the second factor on, renewing its recovery codes and turning it off publish mfa.enabled, mfa.recovery_codes_renewed and mfa.disabled once each', async () => {
    const owner = await createAccount(sys.apiUrl, 'events-mfa', PASSWORD);
    const uid = owner.user.id;
    const setup = await owner.client.post('/mfa/totp/setup');
    expect(setup.status).toBe(200);
    const authenticator = new Authenticator(setup.body.secret);
    expect((await owner.client.post('/mfa/totp/enable', { code: await authenticator.code() })).status).toBe(200);
    // A second enable of the same secret changes nothing (409 or 400): no second event.
    expect((await owner.client.post('/mfa/totp/enable', { code: await authenticator.code() })).status).toBeGreaterThanOrEqual(400);
    expect((await owner.client.post('/mfa/recovery-codes')).status).toBe(200);
    expect((await owner.client.post('/mfa/totp/disable', { password: PASSWORD, code: await authenticator.code() })).status).toBe(204);
    const expected = ['mfa.disabled', 'mfa.enabled', 'mfa.recovery_codes_renewed', 'session.created', 'user.registered'];
    await eventually(async () => (typesOf(uid).length >= expected.length ? true : undefined), 60_000, `events of ${uid}: ${typesOf(uid).join(', ')}`);
    expect(typesOf(uid)).toEqual(expected);
    const byType = (t: string) => eventsOf(uid).filter((e) => e.event.type === t).map((e) => e.event);
    expect(byType('mfa.enabled')[0].data).toEqual({ method: 'totp' });
    expect(byType('mfa.disabled')[0].data).toEqual({ method: 'totp' });
    const raw = eventsOf(uid).map((e) => e.seen.value!.toString('utf8')).join(' ');
    expect(raw).not.toContain(setup.body.secret);
    const rows = await eventually(async () => {
      const r = await sql("select action from audit_event where subject_user_id = ? and action like 'mfa.%'", [uid]);
      return r.length >= 3 ? r : undefined;
    }, 30_000, 'mfa audit rows');
    expect(rows.map((r) => r.action).sort()).toEqual(['mfa.disabled', 'mfa.enabled', 'mfa.recovery_codes_renewed']);
  });

  it('a closure restored within the grace period publishes account.closure_requested and account.restored, and no account.closed', async () => {
    const owner = await createAccount(sys.apiUrl, 'events-restore', PASSWORD);
    const uid = owner.user.id;
    expect((await owner.client.call('DELETE', '/me', { password: PASSWORD })).status).toBe(202);
    const notice = await mailWithSubject(owner.email, 'Your CFD Broker account was closed');
    const token = /\/account\/restore\?token=([A-Za-z0-9._-]+)/.exec(notice.text)![1];
    expect((await fromNewSource(sys.apiUrl).post('/me/restore', { token })).status).toBe(200);
    // The closure workflow has ended (restored: it erases nothing), and
    // a later event of this user shows everything before it is out.
    await sys.temporal.workflow.getHandle(accountClosureWorkflowId(deriveKeys(sys.config), uid)).result();
    expect((await fromNewSource(sys.apiUrl).post('/signin', { email: owner.email, password: 'not the passphrase' })).status).toBe(401);
    await eventually(async () => (typesOf(uid).includes('signin.failed') ? true : undefined), 30_000, 'the later event');
    expect(typesOf(uid)).toEqual(['account.closure_requested', 'account.restored', 'session.created', 'signin.failed', 'user.registered']);
  });

  it('a change whose transaction fails is neither committed nor published; retried, it is published once', async () => {
    const owner = await createAccount(sys.apiUrl, 'events-rollback', PASSWORD);
    const uid = owner.user.id;
    const hashOf = async () => (await sql('select password_hash from users where id = ?', [uid]))[0].password_hash as string;
    const before = await hashOf();
    // Refuses, at commit (after the change and its outbox row are written), the outbox rows of this user.
    const name = `test_refuse_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    await sql(`create function ${name}() returns trigger language plpgsql as $$ begin raise exception 'refused by the test'; end $$`);
    await sql(`create constraint trigger ${name} after insert on outbox deferrable initially deferred for each row when (new.message_key = '${uid}') execute function ${name}()`);

    const keys = deriveKeys(sys.config);
    const requester = new KafkaRequester(rawKafka(sys.config, 'events-rollback'), { role: 'test', timeoutMs: 20_000, logger: quietLogger(), security: EnvelopeSecurity.fromConfig(sys.config) });
    await requester.start();
    const newHash = await bcrypt.hash(NEW_PASSWORD, 4);
    const setPassword = () =>
      requester.request('user.set-password', { userId: uid, passwordSealed: seal(keys, newHash, SealContext.newPasswordHashForUser(uid)), cause: 'change' }, { key: uid });
    try {
      const failed = await setPassword().catch((e: Error) => e);
      expect(failed).toBeInstanceOf(RemoteError);
      expect((failed as RemoteError).code).toBe('UNAVAILABLE');
      expect(await hashOf()).toBe(before);
      expect(await sql("select count(*)::int as n from outbox where message_key = ? and payload->>'type' = 'password.changed'", [uid])).toEqual([{ n: 0 }]);

      await sql(`drop trigger ${name} on outbox`);
      // Twice, as a requester whose reply was lost retries: one change, one event.
      expect(await setPassword()).toEqual({ updated: true });
      expect(await setPassword()).toEqual({ updated: true });
    } finally {
      await requester.close();
      await sql(`drop trigger if exists ${name} on outbox`);
      await sql(`drop function if exists ${name}()`);
    }
    expect(await hashOf()).not.toBe(before);
    // The relay publishes in commit order: once the session of a later sign-in is out, nothing earlier is still coming.
    expect((await fromNewSource(sys.apiUrl).post('/signin', { email: owner.email, password: PASSWORD })).status).toBe(401);
    await eventually(async () => (typesOf(uid).includes('signin.failed') ? true : undefined), 30_000, 'the later event');
    expect(typesOf(uid).filter((t) => t === 'password.changed')).toEqual(['password.changed']);
  });

  describe('audit_event is append-only, enforced by the database', () => {
    let orm: MikroORM;
    beforeAll(async () => {
      orm = await MikroORM.init(ormConfig(sys.config.DATABASE_URL, { pool: { min: 0, max: 2 } }));
    });
    afterAll(async () => {
      await orm?.close(true);
    });
    const codeOf = async (run: () => Promise<unknown>) => ((await run().then(() => undefined, (e: { code?: string }) => e)) as { code?: string } | undefined)?.code;

    it('the application role may insert and read, but UPDATE, DELETE and TRUNCATE are refused for lack of privilege', async () => {
      const id = randomUUID();
      const em = orm.em.fork();
      await em.execute("insert into audit_event (id, actor, action, outcome) values (?, 'system', 'rate_limited', 'refused')", [id], 'run');
      expect(await em.execute('select action from audit_event where id = ?', [id])).toEqual([{ action: 'rate_limited' }]);
      expect(await codeOf(() => em.execute("update audit_event set outcome = 'success' where id = ?", [id], 'run'))).toBe('42501');
      expect(await codeOf(() => em.execute('delete from audit_event where id = ?', [id], 'run'))).toBe('42501');
      expect(await codeOf(() => em.execute('truncate audit_event', [], 'run'))).toBe('42501');
      expect(await em.execute('select outcome from audit_event where id = ?', [id])).toEqual([{ outcome: 'refused' }]);
    });

    it('a role that holds UPDATE and DELETE anyway (an owner granting them back) is refused by the trigger', async () => {
      const id = randomUUID();
      await orm.em.fork().execute("insert into audit_event (id, actor, action, outcome) values (?, 'system', 'rate_limited', 'refused')", [id], 'run');
      for (const statement of [`update audit_event set outcome = 'success' where id = '${id}'`, `delete from audit_event where id = '${id}'`, 'truncate audit_event']) {
        const code = await codeOf(() =>
          orm.em.fork().transactional(async (tx) => {
            await tx.execute('grant update, delete, truncate on audit_event to current_user', [], 'run');
            await tx.execute(statement, [], 'run');
            // Never commit the grant (nor the statement, should it pass).
            throw Object.assign(new Error('rolled back by the test'), { code: 'went through' });
          }),
        );
        expect({ statement, code }).toEqual({ statement, code: 'P0A01' });
      }
      expect(await orm.em.fork().execute('select outcome from audit_event where id = ?', [id])).toEqual([{ outcome: 'refused' }]);
    });
  });
});
