import Redis from 'ioredis';
import { createAccount } from '../../testkit/accounts';
import { ApiClient, sessionIdOf, type HttpResponse } from '../../testkit/http';
import { codeOf, mailWithSubject } from '../../testkit/maildev';
import { useSystem, type System } from '../../testkit/system';
import { Authenticator, totpCode } from '../../testkit/totp';
import { eventually } from '../../testkit/wait';

const PASSWORD = 'a sturdy test passphrase';
const ENABLED_SUBJECT = 'Two-step sign-in is on for your CFD Broker account';
const DISABLED_SUBJECT = 'Two-step sign-in is off for your CFD Broker account';
const CODES_SUBJECT = 'New recovery codes for your CFD Broker account';
/** The second-factor budget of these systems: small, so the parallel test overruns it many times over. */
const MFA_LIMIT = 3;

const sidOf = sessionIdOf;

/** A signed-in account with TOTP turned on: its authenticator and its recovery codes. */
async function accountWithTotp(sys: System, tag: string) {
  const owner = await createAccount(sys.apiUrl, tag, PASSWORD);
  const setup = await owner.client.post('/mfa/totp/setup');
  expect(setup.status).toBe(200);
  const authenticator = new Authenticator(setup.body.secret);
  const enabled = await owner.client.post('/mfa/totp/enable', { code: await authenticator.code() });
  expect(enabled.status).toBe(200);
  return { ...owner, secret: setup.body.secret as string, authenticator, recoveryCodes: enabled.body.recoveryCodes as string[] };
}

/** A new client through the password step: it holds the partial session. */
async function passwordStep(sys: System, email: string): Promise<{ client: ApiClient; answer: HttpResponse }> {
  const client = new ApiClient(sys.apiUrl);
  const answer = await client.post('/signin', { email, password: PASSWORD });
  return { client, answer };
}

describe('second factor: TOTP, recovery codes, the sign-in second step and step-up', () => {
  let sys: System;
  let redis: Redis;
  useSystem({ env: { RATE_MFA_FAIL_PER_USER_15MIN: String(MFA_LIMIT) } }, (s) => {
    sys = s;
    redis = new Redis(s.config.REDIS_URL);
  });
  afterAll(() => redis?.disconnect());

  it('setup answers a secret, its otpauth URL and a QR code, and turns nothing on until a code confirms it', async () => {
    const owner = await createAccount(sys.apiUrl, 'mfa-setup', PASSWORD);
    expect((await owner.client.get('/mfa')).body).toEqual({ totp: false, recoveryCodesLeft: 0 });
    const setup = await owner.client.post('/mfa/totp/setup');
    expect(setup.status).toBe(200);
    expect(setup.body.secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(setup.body.otpauthUrl).toMatch(/^otpauth:\/\/totp\/.+secret=[A-Z2-7]{32}/);
    expect(setup.body.qrSvg).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
    // Not enabled yet: the password alone still signs in.
    expect((await passwordStep(sys, owner.email)).answer.body.user.id).toBe(owner.user.id);
    const wrong = await owner.client.post('/mfa/totp/enable', { code: totpCode(setup.body.secret, 10) });
    expect(wrong).toMatchObject({ status: 400, body: { code: 'INVALID_MFA_CODE' } });
    expect((await passwordStep(sys, owner.email)).answer.body.user.id).toBe(owner.user.id);

    const enabled = await owner.client.post('/mfa/totp/enable', { code: totpCode(setup.body.secret) });
    expect(enabled.status).toBe(200);
    expect(enabled.body.recoveryCodes).toHaveLength(10);
    expect(new Set(enabled.body.recoveryCodes).size).toBe(10);
    expect((await owner.client.get('/mfa')).body).toEqual({ totp: true, recoveryCodesLeft: 10 });
    for (const c of enabled.body.recoveryCodes) expect(c).toMatch(/^[0-9a-z]{5}-[0-9a-z]{5}$/);
    await mailWithSubject(owner.email, ENABLED_SUBJECT);
    expect((await passwordStep(sys, owner.email)).answer.body).toMatchObject({ mfaRequired: true, methods: ['totp', 'recovery_code'] });
    // A second setup while one is on is refused.
    expect(await owner.client.post('/mfa/totp/setup')).toMatchObject({ status: 409, body: { code: 'MFA_ALREADY_ENABLED' } });
  });

  it('a sign-in with a second factor: the password gives a partial session that reaches nothing but POST /signin/mfa; the code gives the full session recording both factors', async () => {
    const owner = await accountWithTotp(sys, 'mfa-signin');
    const { client, answer } = await passwordStep(sys, owner.email);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ mfaRequired: true, methods: ['totp', 'recovery_code'], message: expect.any(String) });
    expect(answer.body.user).toBeUndefined();
    expect(await client.get('/me')).toMatchObject({ status: 401, body: { code: 'MFA_REQUIRED' } });
    expect(await client.get('/sessions')).toMatchObject({ status: 401, body: { code: 'MFA_REQUIRED' } });
    expect(await client.post('/password/change', { currentPassword: PASSWORD, newPassword: 'another sturdy passphrase' })).toMatchObject({ status: 401, body: { code: 'MFA_REQUIRED' } });
    expect(await client.post('/mfa/recovery-codes')).toMatchObject({ status: 401, body: { code: 'MFA_REQUIRED' } });
    expect(await client.post('/reauth', { password: PASSWORD })).toMatchObject({ status: 401, body: { code: 'MFA_REQUIRED' } });
    expect(await client.call('DELETE', '/me', { password: PASSWORD })).toMatchObject({ status: 401, body: { code: 'MFA_REQUIRED' } });
    const partialSid = sidOf(client);
    expect(await redis.hget(`sess:${partialSid}`, 'amr')).toBe('pwd');

    const done = await client.post('/signin/mfa', { code: await owner.authenticator.code() });
    expect(done.status).toBe(200);
    expect(done.body.user).toEqual({ id: owner.user.id, email: owner.email, name: owner.user.name });
    expect(await client.get('/me')).toMatchObject({ status: 200, body: { user: { id: owner.user.id } } });
    // A new session id; the partial one is gone.
    expect(sidOf(client)).not.toBe(partialSid);
    expect(await redis.exists(`sess:${partialSid}`)).toBe(0);
    const full = await redis.hmget(`sess:${sidOf(client)}`, 'amr', 'authTime', 'stage');
    expect(full[0]!.split(' ')).toEqual(['pwd', 'otp']);
    expect(Number(full[1])).toBeGreaterThan(0);
    expect(full[2]).toBe('full');
    // A full session cannot take the second step again.
    expect(await client.post('/signin/mfa', { code: totpCode(owner.secret) })).toMatchObject({ status: 401, body: { code: 'UNAUTHENTICATED' } });
  });

  it('a TOTP code is accepted once: the same code again, in its window, is refused', async () => {
    const owner = await accountWithTotp(sys, 'mfa-replay');
    const code = await owner.authenticator.code();
    const first = await passwordStep(sys, owner.email);
    expect((await first.client.post('/signin/mfa', { code })).status).toBe(200);
    const second = await passwordStep(sys, owner.email);
    expect(await second.client.post('/signin/mfa', { code })).toMatchObject({ status: 400, body: { code: 'INVALID_MFA_CODE' } });
    expect(await second.client.get('/me')).toMatchObject({ status: 401, body: { code: 'MFA_REQUIRED' } });
  });

  it('two requests with the same TOTP code at once: exactly one signs in', async () => {
    const owner = await accountWithTotp(sys, 'mfa-replay-race');
    const code = await owner.authenticator.code();
    const steps = await Promise.all([passwordStep(sys, owner.email), passwordStep(sys, owner.email)]);
    const answers = await Promise.all(steps.map((s) => s.client.post('/signin/mfa', { code })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 400]);
  });

  it('a code two steps away (past or future) is refused: only ±1 step counts', async () => {
    const owner = await accountWithTotp(sys, 'mfa-window');
    const { client } = await passwordStep(sys, owner.email);
    const now = totpCode(owner.secret, 0);
    for (const steps of [-2, 2]) {
      const code = totpCode(owner.secret, steps);
      if (code === now) continue; // one chance in a million: the far step shows today's code
      expect(await client.post('/signin/mfa', { code })).toMatchObject({ status: 400, body: { code: 'INVALID_MFA_CODE' } });
    }
    expect((await client.post('/signin/mfa', { code: await owner.authenticator.code() })).status).toBe(200);
  });

  it('a recovery code signs in once (any case, with or without its dash); used again it is refused', async () => {
    const owner = await accountWithTotp(sys, 'mfa-recovery');
    const [code] = owner.recoveryCodes;
    const first = await passwordStep(sys, owner.email);
    const done = await first.client.post('/signin/mfa', { recoveryCode: code.toUpperCase().replace('-', ' ') });
    expect(done.status).toBe(200);
    expect((await redis.hget(`sess:${sidOf(first.client)}`, 'amr'))!.split(' ')).toEqual(['pwd', 'rc']);
    const again = await passwordStep(sys, owner.email);
    expect(await again.client.post('/signin/mfa', { recoveryCode: code })).toMatchObject({ status: 400, body: { code: 'INVALID_MFA_CODE' } });
    // Another, unused code still works.
    expect((await again.client.post('/signin/mfa', { recoveryCode: owner.recoveryCodes[1] })).status).toBe(200);
  });

  it('new recovery codes replace the old ones: an old code stops working, a new one works', async () => {
    const owner = await accountWithTotp(sys, 'mfa-regenerate');
    const fresh = await owner.client.post('/mfa/recovery-codes');
    expect(fresh.status).toBe(200);
    expect(fresh.body.recoveryCodes).toHaveLength(10);
    expect(fresh.body.recoveryCodes).not.toContain(owner.recoveryCodes[0]);
    await mailWithSubject(owner.email, CODES_SUBJECT);
    const step = await passwordStep(sys, owner.email);
    expect(await step.client.post('/signin/mfa', { recoveryCode: owner.recoveryCodes[0] })).toMatchObject({ status: 400, body: { code: 'INVALID_MFA_CODE' } });
    expect((await step.client.post('/signin/mfa', { recoveryCode: fresh.body.recoveryCodes[0] })).status).toBe(200);
  });

  it(`parallel second-factor guesses: at most ${MFA_LIMIT} are checked, the rest get 429; then even the right code waits`, async () => {
    const owner = await accountWithTotp(sys, 'mfa-guesses');
    const { client } = await passwordStep(sys, owner.email);
    const right = totpCode(owner.secret);
    const guesses = Array.from({ length: 20 }, (_, i) => String((Number(right) + 1 + i * 7919) % 1_000_000).padStart(6, '0'))
      .filter((g) => ![-1, 0, 1].some((s) => totpCode(owner.secret, s) === g));
    const answers = await Promise.all(guesses.map((code) => client.post('/signin/mfa', { code })));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s !== 400 && s !== 429)).toEqual([]);
    expect(statuses.filter((s) => s === 400).length).toBeLessThanOrEqual(MFA_LIMIT);
    for (const r of answers.filter((a) => a.status === 429)) expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await client.post('/signin/mfa', { code: await owner.authenticator.code() })).toMatchObject({ status: 429, body: { code: 'RATE_LIMITED' } });
  });

  it('a password reset never skips the second factor: the account gets the partial session', async () => {
    const owner = await accountWithTotp(sys, 'mfa-reset');
    const client = new ApiClient(sys.apiUrl);
    await client.post('/password/forgot', { email: owner.email });
    const code = codeOf(await mailWithSubject(owner.email, 'Your CFD Broker password reset code'));
    const reset = await client.post('/password/reset', { email: owner.email, code, password: 'a brand new sturdy passphrase' });
    expect(reset.status).toBe(200);
    expect(reset.body).toMatchObject({ mfaRequired: true, methods: ['totp', 'recovery_code'] });
    expect(reset.body.user).toBeUndefined();
    expect(await client.get('/me')).toMatchObject({ status: 401, body: { code: 'MFA_REQUIRED' } });
    expect((await client.post('/signin/mfa', { code: await owner.authenticator.code() })).status).toBe(200);
    expect((await client.get('/me')).status).toBe(200);
  });

  it('re-authentication with a second factor on needs the code too; disabling needs password and code, then the password alone signs in', async () => {
    const owner = await accountWithTotp(sys, 'mfa-disable');
    expect(await owner.client.post('/reauth', { password: PASSWORD })).toMatchObject({ status: 400, body: { code: 'INVALID_MFA_CODE' } });
    expect(await owner.client.post('/reauth', { password: 'not the password', code: totpCode(owner.secret) })).toMatchObject({ status: 400, body: { code: 'INVALID_CURRENT_PASSWORD' } });
    expect((await owner.client.post('/reauth', { password: PASSWORD, code: await owner.authenticator.code() })).status).toBe(204);
    expect(await owner.client.post('/mfa/totp/disable', { password: PASSWORD, code: '000000' === totpCode(owner.secret) ? '000001' : '000000' })).toMatchObject({ status: 400, body: { code: 'INVALID_MFA_CODE' } });
    expect((await owner.client.post('/mfa/totp/disable', { password: PASSWORD, code: owner.recoveryCodes[3] })).status).toBe(204);
    await mailWithSubject(owner.email, DISABLED_SUBJECT);
    expect((await passwordStep(sys, owner.email)).answer.body.user.id).toBe(owner.user.id);
    expect(await owner.client.post('/mfa/recovery-codes')).toMatchObject({ status: 409, body: { code: 'MFA_NOT_ENABLED' } });
    // The recovery codes went with the factor: turning it on again gives new ones.
    const again = await owner.client.post('/mfa/totp/setup');
    const enabled = await owner.client.post('/mfa/totp/enable', { code: totpCode(again.body.secret) });
    expect(enabled.status).toBe(200);
    const step = await passwordStep(sys, owner.email);
    expect(await step.client.post('/signin/mfa', { recoveryCode: owner.recoveryCodes[4] })).toMatchObject({ status: 400, body: { code: 'INVALID_MFA_CODE' } });
  });

  it('the TOTP secret is stored sealed, and recovery codes as keyed digests only', async () => {
    const owner = await accountWithTotp(sys, 'mfa-at-rest');
    const pg = new (await import('pg')).Client({ connectionString: sys.config.DATABASE_URL });
    await pg.connect();
    try {
      const { rows } = await pg.query('select totp_secret_sealed from users where id = $1', [owner.user.id]);
      expect(rows[0].totp_secret_sealed).toMatch(/^v2\./);
      expect(rows[0].totp_secret_sealed).not.toContain(owner.secret);
      const codes = await pg.query('select digest from recovery_codes where user_id = $1', [owner.user.id]);
      expect(codes.rows).toHaveLength(10);
      const stored = codes.rows.map((r: { digest: string }) => r.digest).join(' ');
      for (const c of owner.recoveryCodes) {
        expect(stored).not.toContain(c);
        expect(stored).not.toContain(c.replace('-', ''));
      }
    } finally {
      await pg.end();
    }
  });
});

describe('short windows: the partial session and the re-authentication expire', () => {
  let sys: System;
  // Seconds, so expiry is observed by polling, never by sleeping through real minutes.
  useSystem({ env: { MFA_PARTIAL_TTL_S: '2', REAUTH_WINDOW_S: '3' } }, (s) => {
    sys = s;
  });

  it('an expired partial session cannot finish the sign-in, even with the right code', async () => {
    const owner = await accountWithTotp(sys, 'mfa-partial-expiry');
    const { client } = await passwordStep(sys, owner.email);
    expect(await client.get('/me')).toMatchObject({ status: 401, body: { code: 'MFA_REQUIRED' } });
    await eventually(async () => ((await client.get('/me')).body.code === 'UNAUTHENTICATED' ? true : undefined), 20_000, 'the partial session to expire');
    expect(await client.post('/signin/mfa', { code: await owner.authenticator.code() })).toMatchObject({ status: 401, body: { code: 'UNAUTHENTICATED' } });
  });

  it('sensitive actions answer 401 REAUTH_REQUIRED once the sign-in is older than the window; /reauth opens them again', async () => {
    const owner = await createAccount(sys.apiUrl, 'mfa-stepup', PASSWORD);
    // Fresh from the sign-in (the verify): allowed. Setup changes nothing, so it can be asked again and again.
    await eventually(async () => ((await owner.client.post('/mfa/totp/setup')).body.code === 'REAUTH_REQUIRED' ? true : undefined), 20_000, 'the re-authentication window to pass');
    for (const [method, path, body] of [
      ['POST', '/password/change', { currentPassword: PASSWORD, newPassword: 'another sturdy passphrase' }],
      ['POST', '/email/change', { newEmail: 'someone.else@example.com', password: PASSWORD }],
      ['DELETE', '/me', { password: PASSWORD }],
      ['POST', '/mfa/recovery-codes', {}],
      ['POST', '/mfa/totp/enable', { code: '123456' }],
      ['POST', '/mfa/totp/disable', { password: PASSWORD, code: '123456' }],
    ] as const) {
      expect({ path, answer: await owner.client.call(method, path, body) }).toMatchObject({ path, answer: { status: 401, body: { code: 'REAUTH_REQUIRED' } } });
    }
    // A token for trading moves money: step-up too; one for payments does not ask for it.
    expect(await owner.client.post('/token', { audience: 'trading' })).toMatchObject({ status: 401, body: { code: 'REAUTH_REQUIRED' } });
    expect((await owner.client.post('/token', { audience: 'payments' })).status).toBe(200);
    // Not sensitive: still answered.
    expect((await owner.client.get('/me')).status).toBe(200);
    expect(await owner.client.post('/reauth', { password: 'not the password' })).toMatchObject({ status: 400, body: { code: 'INVALID_CURRENT_PASSWORD' } });
    expect((await owner.client.post('/reauth', { password: PASSWORD })).status).toBe(204);
    expect((await owner.client.post('/mfa/totp/setup')).status).toBe(200);
    expect((await owner.client.post('/token', { audience: 'trading' })).status).toBe(200);
  });
});
