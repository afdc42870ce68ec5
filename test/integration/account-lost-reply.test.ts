/**
 * Lost answers of account changes. A DB processor killed after it committed an account change but before its reply reached the
 * worker: the activity times out and Temporal retries it, so the DB processor sees the same request
 * a second time, with the change already in Postgres. That retry must be answered "applied" (not
 * EMAIL_TAKEN or ACCOUNT_GONE against the user's own row), and the flow must finish exactly once:
 * one row, one session, one notice.
 *
 * Deterministic: the first attempt is the flow's own request sent by the test through the real
 * activity (the same sealed inputs the workflow carries, a real Kafka round trip to the real DB
 * processor, which commits it); its reply goes to the test, never to the workflow. The workflow's
 * own attempt, when the client then verifies, is the retry.
 *
 * The same for the API's answer to the client: a verify whose change was applied but whose answer
 * was lost (a 503) is retried by the client with the same code, and answered as applied.
 */
import bcrypt from 'bcrypt';
import Redis from 'ioredis';
import { createAccountActivities } from '../../activities/account.activities';
import { SessionStore } from '../../api/sessions/session.store';
import { codeDigest, deriveKeys, emailChangeWorkflowId, passwordResetWorkflowId, seal, SealContext, type Keys } from '../../common/crypto';
import { EnvelopeSecurity } from '../../common/kafka/envelope-security';
import { KafkaRequester } from '../../common/kafka/request-reply';
import { createAccount } from '../../testkit/accounts';
import { withDb } from '../../testkit/db';
import { quietLogger, uniqueEmail, uniqueIp } from '../../testkit/env';
import { ApiClient } from '../../testkit/http';
import { codeOf, mailsTo, type Mail } from '../../testkit/maildev';
import { startSystem, type System } from '../../testkit/system';
import { eventually, sleep } from '../../testkit/wait';
import { verifyEmailChangeUpdate } from '../../workflows/email-change.contract';
import { rawKafka } from '../support/kafka';

const PASSWORD = 'a lost reply passphrase';
const NEW_PASSWORD = 'the reset passphrase after a lost reply';
const SUBJECT = {
  resetCode: 'Your CFD Broker password reset code',
  passwordNotice: 'Your CFD Broker password was changed',
  emailCode: 'Confirm your new CFD Broker email',
  emailNotice: 'Your CFD Broker email address was changed',
};

describe('an account change the DB processor committed but whose reply was lost is applied once', () => {
  let sys: System;
  let keys: Keys;
  let redis: Redis;
  let requester: KafkaRequester;
  let acts: ReturnType<typeof createAccountActivities>;

  beforeAll(async () => {
    sys = await startSystem();
    keys = deriveKeys(sys.config);
    redis = new Redis(sys.config.REDIS_URL);
    requester = new KafkaRequester(rawKafka(sys.config, 'lost-reply'), { role: 'test', timeoutMs: 15_000, logger: quietLogger(), security: EnvelopeSecurity.fromConfig(sys.config) });
    await requester.start();
    const sessions = new SessionStore(redis, { absoluteMs: sys.config.SESSION_ABSOLUTE_TTL_S * 1000, idleMs: sys.config.SESSION_IDLE_TTL_S * 1000 });
    acts = createAccountActivities({ requester, keys, sessions, redis });
  });
  afterAll(async () => {
    await requester?.close();
    redis?.disconnect();
    await sys?.close();
  });

  const fromNewSource = () => new ApiClient(sys.apiUrl, { 'x-forwarded-for': uniqueIp() });
  const mailsWith = async (email: string, subject: string) => (await mailsTo(email)).filter((m: Mail) => m.subject === subject);
  const mailWith = (email: string, subject: string) => eventually(async () => (await mailsWith(email, subject))[0], 30_000, `"${subject}" to ${email}`);
  const rowsOf = (userId: string, ...emails: string[]) =>
    withDb(sys.config.DATABASE_URL, (sql) => sql('select id, email from users where id = ? or email in (?)', [userId, emails]));

  it('email change and its undo: the retried change finds its own row moved and answers applied', async () => {
    const owner = await createAccount(sys.apiUrl, 'lost-reply-email', PASSWORD);
    const otherDevice = fromNewSource();
    expect((await otherDevice.post('/signin', { email: owner.email, password: PASSWORD })).status).toBe(200);
    const newEmail = uniqueEmail('lost-reply-email-new');
    expect((await owner.client.post('/email/change', { newEmail, password: PASSWORD })).status).toBe(202);
    const code = codeOf(await mailWith(newEmail, SUBJECT.emailCode));

    // The flow's change, committed by the DB processor; the workflow never hears of it.
    const flowId = emailChangeWorkflowId(keys, owner.user.id);
    await acts.changeEmail({ flowId, userId: owner.user.id, fromSealed: seal(keys, owner.email, SealContext.otherEmail(flowId)), toSealed: seal(keys, newEmail, SealContext.email(flowId)) });

    const verified = await owner.client.post('/email/verify', { code });
    expect({ status: verified.status, code: verified.body.code, email: verified.body.user?.email }).toEqual({ status: 200, code: undefined, email: newEmail });
    expect(await rowsOf(owner.user.id, owner.email, newEmail)).toEqual([{ id: owner.user.id, email: newEmail }]);
    expect((await otherDevice.get('/me')).status).toBe(401);
    expect((await fromNewSource().post('/signin', { email: newEmail, password: PASSWORD })).status).toBe(200);

    // The undo's change back, committed; its reply lost too. The link still works, once.
    const token = /token=([A-Za-z0-9._-]+)/.exec((await mailWith(owner.email, SUBJECT.emailNotice)).text)![1];
    const undoId = token.split('.')[0];
    await acts.changeEmail({ flowId: undoId, userId: owner.user.id, fromSealed: seal(keys, newEmail, SealContext.otherEmail(undoId)), toSealed: seal(keys, owner.email, SealContext.email(undoId)) });
    const undo = await fromNewSource().post('/email/undo', { token });
    expect({ status: undo.status, code: undo.body.code }).toEqual({ status: 200, code: undefined });
    expect(await rowsOf(owner.user.id, owner.email, newEmail)).toEqual([{ id: owner.user.id, email: owner.email }]);
    expect((await owner.client.get('/me')).status).toBe(401);
    expect((await fromNewSource().post('/signin', { email: owner.email, password: PASSWORD })).status).toBe(200);
    expect((await fromNewSource().post('/signin', { email: newEmail, password: PASSWORD })).status).toBe(401);

    await sleep(2_000); // a second notice, if one were coming, arrives within this
    expect((await mailsWith(owner.email, SUBJECT.emailNotice)).length).toBe(1);
    expect((await mailsWith(newEmail, SUBJECT.emailCode)).length).toBe(1);
  });

  it('password reset: the retried write of the new password answers applied; one session, one notice', async () => {
    const owner = await createAccount(sys.apiUrl, 'lost-reply-reset', PASSWORD);
    const otherDevice = fromNewSource();
    expect((await otherDevice.post('/signin', { email: owner.email, password: PASSWORD })).status).toBe(200);
    const stranger = fromNewSource();
    expect((await stranger.post('/password/forgot', { email: owner.email })).status).toBe(202);
    const code = codeOf(await mailWith(owner.email, SUBJECT.resetCode));

    const flowId = passwordResetWorkflowId(keys, owner.email);
    await acts.setPassword({ flowId, userId: owner.user.id, passwordSealed: seal(keys, await bcrypt.hash(NEW_PASSWORD, 10), SealContext.newPasswordHashForFlow(flowId)) });

    const reset = await stranger.post('/password/reset', { email: owner.email, code, password: NEW_PASSWORD });
    expect({ status: reset.status, code: reset.body.code, user: reset.body.user }).toEqual({ status: 200, code: undefined, user: owner.user });
    const sessions = await stranger.get('/sessions');
    expect({ status: sessions.status, n: sessions.body.sessions?.length }).toEqual({ status: 200, n: 1 });
    expect((await owner.client.get('/me')).status).toBe(401);
    expect((await otherDevice.get('/me')).status).toBe(401);
    expect((await fromNewSource().post('/signin', { email: owner.email, password: NEW_PASSWORD })).status).toBe(200);
    expect((await fromNewSource().post('/signin', { email: owner.email, password: PASSWORD })).status).toBe(401);
    await mailWith(owner.email, SUBJECT.passwordNotice);
    await sleep(2_000);
    expect((await mailsWith(owner.email, SUBJECT.passwordNotice)).length).toBe(1);
  });

  it("email verify: a retry whose first answer was lost after the change was applied is answered as applied, with one renewed session", async () => {
    const owner = await createAccount(sys.apiUrl, 'lost-answer-email', PASSWORD);
    const otherDevice = fromNewSource();
    expect((await otherDevice.post('/signin', { email: owner.email, password: PASSWORD })).status).toBe(200);
    const newEmail = uniqueEmail('lost-answer-email-new');
    expect((await owner.client.post('/email/change', { newEmail, password: PASSWORD })).status).toBe(202);
    const code = codeOf(await mailWith(newEmail, SUBJECT.emailCode));

    // What the API sent for this session's verify before its answer was lost (a 503 to the client).
    const before = owner.client.cookie!;
    const sid = JSON.parse(Buffer.from(before.split('=')[1].split('.')[1], 'base64url').toString('utf8')).sid as string;
    const flowId = emailChangeWorkflowId(keys, owner.user.id);
    expect(await sys.temporal.workflow.getHandle(flowId).executeUpdate(verifyEmailChangeUpdate, { args: [{ codeDigest: codeDigest(keys, flowId, code), keepSessionId: sid }] })).toEqual({ ok: true });

    const retry = await owner.client.post('/email/verify', { code });
    expect({ status: retry.status, code: retry.body.code, email: retry.body.user?.email }).toEqual({ status: 200, code: undefined, email: newEmail });
    expect(owner.client.cookie).not.toBe(before);
    expect((await owner.client.get('/me')).body.user.email).toBe(newEmail);
    expect((await owner.client.get('/sessions')).body.sessions.length).toBe(1);
    expect((await new ApiClient(sys.apiUrl).get('/me', { cookie: before })).status).toBe(401);
    expect((await otherDevice.get('/me')).status).toBe(401);
    expect(await rowsOf(owner.user.id, owner.email, newEmail)).toEqual([{ id: owner.user.id, email: newEmail }]);
    await mailWith(owner.email, SUBJECT.emailNotice);
    await sleep(2_000);
    expect((await mailsWith(owner.email, SUBJECT.emailNotice)).length).toBe(1);
  });
});
