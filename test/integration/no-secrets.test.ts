import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createKafka } from '../../common/kafka/client';
import { EnvelopeSecurity } from '../../common/kafka/envelope-security';
import { TOPICS } from '../../common/kafka/topics';
import { withDb } from '../../testkit/db';
import { quietLogger, uniqueEmail } from '../../testkit/env';
import { eventually, sleep } from '../../testkit/wait';
import { ApiClient, fromNewSource } from '../../testkit/http';
import { waitForCode, waitForMail } from '../../testkit/maildev';
import { createAccount } from '../../testkit/accounts';
import { startSystem, type System } from '../../testkit/system';
import { Authenticator } from '../../testkit/totp';
import { relyingParty } from '../../api/passkeys/passkeys.use-case';
import { SoftAuthenticator } from '../support/soft-authenticator';

describe('secrets stay out of logs and Kafka payloads', () => {
  const lines: string[] = [];
  const kafkaMessages: string[] = [];
  const kafkaKeys: string[] = [];
  let sys: System;
  let stopConsumer: () => Promise<void>;

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        cb();
      },
    });
    sys = await startSystem({ logger: pino({ level: 'info', base: { process: 'test' } }, sink) });
    const consumer = createKafka(sys.config, quietLogger(), 'admin', 'no-secrets').consumer({ groupId: `no-secrets-${randomUUID()}`, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topics: [TOPICS.dbRequests, TOPICS.dbReplies], fromBeginning: false });
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.run({ eachMessage: async ({ message }) => {
      kafkaMessages.push(message.value?.toString() ?? '');
      kafkaKeys.push(message.key?.toString() ?? '');
    } });
    await joined;
    await sleep(1000);
    stopConsumer = () => consumer.disconnect();
  });
  afterAll(async () => {
    await stopConsumer?.();
    await sys?.close();
  });

  it('a full journey logs each auth event with a request id and hashed emails, and no secret', async () => {
    const email = uniqueEmail('nosecret');
    const password = 'do not log this passphrase';
    const api = new ApiClient(sys.apiUrl);
    await api.post('/signup', { email });
    const otp = await waitForCode(email);
    await api.post('/verify', { email, otp: otp === '000000' ? '000001' : '000000', password, name: 'Quiet' });
    expect((await api.post('/verify', { email, otp, password, name: 'Quiet' })).status).toBe(201);
    const token = api.cookie!.split('=')[1];
    const other = fromNewSource(sys.apiUrl);
    expect((await other.post('/signin', { email, password: 'wrong guess here' })).status).toBe(401);
    expect((await other.post('/signin', { email, password })).status).toBe(200);
    expect((await api.post('/logout', {})).status).toBe(204);
    // The journey's last log line is the logout: every line before it has been written by then.
    await eventually(async () => (lines.some((l) => l.includes('"event":"logout"')) ? true : undefined), 10_000, 'the logout log line');

    const [{ password_hash: hash }] = await withDb(sys.config.DATABASE_URL, (sql) => sql('select password_hash from users where email = ?', [email]));
    const logText = lines.join('\n');
    for (const secret of [password, otp, hash, token, email]) expect(logText).not.toContain(secret);

    const events = lines.map((l) => JSON.parse(l).event).filter(Boolean);
    for (const e of ['signup_requested', 'verify_failed', 'verified', 'signin_failed', 'signin_succeeded', 'logout']) expect(events).toContain(e);
    for (const l of lines.map((x) => JSON.parse(x)).filter((x) => x.event)) expect(l.requestId).toEqual(expect.any(String));

    // Requests are keyed by a keyed hash of the email (the address itself is not on the topic).
    const key = EnvelopeSecurity.fromConfig(sys.config).messageKey(email);
    // Four requests carry it (exists, create, two finds); the tap may read them a moment after.
    await eventually(async () => (kafkaKeys.filter((k) => k === key).length >= 4 ? true : undefined), 10_000, 'the journey’s requests on the tap');
    const kafkaText = [...kafkaMessages, ...kafkaKeys].join('\n');
    for (const secret of [password, otp, hash, email]) expect(kafkaText).not.toContain(secret);
    expect(kafkaText).not.toMatch(/\$2[aby]\$\d\d\$/);
  });

  it('a password reset and a password change log their events and leak no password, code, hash, token or address', async () => {
    const { client, email, password } = await createAccount(sys.apiUrl, 'nosecret-reset', 'the first quiet passphrase');
    const resetPassword = 'reset passphrase never logged';
    const changedPassword = 'changed passphrase never logged';
    const from = lines.length;
    const kafkaFrom = kafkaMessages.length;
    const api = fromNewSource(sys.apiUrl);
    expect((await api.post('/password/forgot', { email })).status).toBe(202);
    const code = await waitForCode(email, 2);
    expect((await api.post('/password/reset', { email, code: code === '000000' ? '000001' : '000000', password: resetPassword })).status).toBe(400);
    expect((await api.post('/password/reset', { email, code, password: resetPassword })).status).toBe(200);
    expect((await api.post('/password/change', { currentPassword: 'a wrong current one', newPassword: changedPassword })).status).toBe(400);
    expect((await api.post('/password/change', { currentPassword: resetPassword, newPassword: changedPassword })).status).toBe(204);
    expect((await client.get('/me')).status).toBe(401);
    await waitForMail(email, 4);

    const [{ password_hash: hash }] = await withDb(sys.config.DATABASE_URL, (sql) => sql('select password_hash from users where email = ?', [email]));
    const token = api.cookie!.split('=')[1];
    const logText = lines.slice(from).join('\n');
    for (const secret of [password, resetPassword, changedPassword, code, hash, token, email]) expect(logText).not.toContain(secret);
    const events = lines.slice(from).map((l) => JSON.parse(l).event).filter(Boolean);
    for (const e of ['password_reset_requested', 'password_reset_failed', 'password_reset', 'password_change_failed', 'password_changed']) expect(events).toContain(e);
    const kafkaText = kafkaMessages.slice(kafkaFrom).join('\n');
    expect(kafkaMessages.length).toBeGreaterThan(kafkaFrom);
    for (const secret of [resetPassword, changedPassword, code, hash, email]) expect(kafkaText).not.toContain(secret);
    expect(kafkaText).not.toMatch(/\$2[aby]\$\d\d\$/);
  });
  it('a second factor turned on, used, renewed and turned off: no TOTP secret, code or recovery code in logs, or in Kafka payloads even decrypted', async () => {
    const { client, email, password } = await createAccount(sys.apiUrl, 'nosecret-mfa', 'the quiet second factor passphrase');
    const from = lines.length;
    const kafkaFrom = kafkaMessages.length;
    const setup = await client.post('/mfa/totp/setup');
    const secret: string = setup.body.secret;
    const authenticator = new Authenticator(secret);
    const enableCode = await authenticator.code();
    const enabled = await client.post('/mfa/totp/enable', { code: enableCode });
    expect(enabled.status).toBe(200);
    const signin = fromNewSource(sys.apiUrl);
    expect((await signin.post('/signin', { email, password })).body.mfaRequired).toBe(true);
    const partialToken = signin.cookie!.split('=')[1];
    const signinCode = await authenticator.code();
    expect((await signin.post('/signin/mfa', { code: signinCode })).status).toBe(200);
    const recovery = fromNewSource(sys.apiUrl);
    await recovery.post('/signin', { email, password });
    expect((await recovery.post('/signin/mfa', { recoveryCode: enabled.body.recoveryCodes[0] })).status).toBe(200);
    const renewed = await client.post('/mfa/recovery-codes');
    expect(renewed.status).toBe(200);
    expect((await client.post('/mfa/totp/disable', { password, code: renewed.body.recoveryCodes[0] })).status).toBe(204);
    await eventually(async () => (lines.slice(from).some((l) => l.includes('"event":"totp_disabled"')) ? true : undefined), 10_000, 'the disable log line');

    const secrets = [secret, enableCode, signinCode, partialToken, signin.cookie!.split('=')[1], email, password, ...enabled.body.recoveryCodes, ...renewed.body.recoveryCodes];
    const compact = (c: string) => c.replace('-', '');
    const withCompact = [...secrets, ...[...enabled.body.recoveryCodes, ...renewed.body.recoveryCodes].map(compact)];
    const logText = lines.slice(from).join('\n');
    for (const s of withCompact) expect(logText).not.toContain(s);
    const events = lines.slice(from).map((l) => JSON.parse(l).event).filter(Boolean);
    for (const e of ['totp_setup_started', 'totp_enabled', 'signin_mfa_required', 'signin_succeeded', 'recovery_codes_replaced', 'totp_disabled']) expect(events).toContain(e);

    // Every request and reply of the journey, opened with the payload keys: the secret travels sealed for its user.
    await eventually(async () => (kafkaMessages.length >= kafkaFrom + 12 ? true : undefined), 10_000, 'the journey’s messages on the tap');
    const security = EnvelopeSecurity.fromConfig(sys.config);
    const opened = kafkaMessages.slice(kafkaFrom).map((raw) => {
      const m = JSON.parse(raw);
      if ('payload' in m) return JSON.stringify(security.openRequestPayload(m));
      return m.ok ? JSON.stringify(security.openReplyResult(m)) : raw;
    });
    expect(opened.some((o) => o.includes('secretSealed'))).toBe(true);
    const kafkaText = [...kafkaMessages.slice(kafkaFrom), ...opened].join('\n');
    for (const s of withCompact.filter((x) => x !== email)) expect(kafkaText).not.toContain(s);
  });

  it('a passkey registered, used alone and as the second step, then removed: no label, credential, key, address or token in logs, nor in Kafka messages as they travel', async () => {
    const { client, email, password } = await createAccount(sys.apiUrl, 'nosecret-passkey', 'the quiet passkey passphrase');
    const from = lines.length;
    const kafkaFrom = kafkaMessages.length;
    const { rpID, origins } = relyingParty(sys.config);
    const authenticator = new SoftAuthenticator(origins[0]!, rpID);
    const label = `Ada Lovelace's laptop ${randomUUID().slice(0, 8)}`;
    const { response, credential } = authenticator.create((await client.post('/passkeys/register/options')).body);
    const registered = await client.post('/passkeys/register', { response, label });
    expect(registered.status).toBe(201);
    const alone = fromNewSource(sys.apiUrl);
    expect((await alone.post('/passkeys/authenticate', { response: authenticator.get((await alone.post('/passkeys/authenticate/options')).body) })).status).toBe(200);
    const second = fromNewSource(sys.apiUrl);
    expect((await second.post('/signin', { email, password })).body.methods).toEqual(['passkey']);
    expect((await second.post('/passkeys/authenticate', { response: authenticator.get((await second.post('/passkeys/authenticate/options')).body) })).status).toBe(200);
    expect((await client.del(`/passkeys/${registered.body.passkey.id}`)).status).toBe(204);
    await eventually(async () => (lines.slice(from).some((l) => l.includes('"event":"passkey_removed"')) ? true : undefined), 10_000, 'the removal log line');

    // What the passkeys row holds (the COSE key, base64url), gone with the row by now.
    const publicKey = credential.cosePublicKey.toString('base64url');
    const secrets = [label, email, password, publicKey, response.id, alone.cookie!.split('=')[1], second.cookie!.split('=')[1]];
    const logText = lines.slice(from).join('\n');
    for (const x of secrets) expect(logText).not.toContain(x);
    const events = lines.slice(from).map((l) => JSON.parse(l).event).filter(Boolean);
    for (const e of ['passkey_registered', 'signin_succeeded', 'signin_mfa_required', 'passkey_removed']) expect(events).toContain(e);

    await eventually(async () => (kafkaMessages.length >= kafkaFrom + 10 ? true : undefined), 10_000, 'the journey’s messages on the tap');
    const kafkaText = [...kafkaMessages.slice(kafkaFrom), ...kafkaKeys.slice(kafkaFrom)].join('\n');
    for (const x of secrets) expect(kafkaText).not.toContain(x);
  });
});
