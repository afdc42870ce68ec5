import Redis from 'ioredis';
import { relyingParty } from '../../api/passkeys/passkeys.use-case';
import { createAccount } from '../../testkit/accounts';
import { withDb } from '../../testkit/db';
import { ApiClient, sessionIdOf } from '../../testkit/http';
import { codeOf, mailWithSubject } from '../../testkit/maildev';
import { useSystem, type System } from '../../testkit/system';
import { eventually } from '../../testkit/wait';
import { accountWithPasskey, authenticatorFor, passkeySignin } from '../support/passkeys';
import { SoftAuthenticator } from '../support/soft-authenticator';

const PASSWORD = 'a sturdy test passphrase';
const ADDED_SUBJECT = 'A passkey was added to your CFD Broker account';
const REMOVED_SUBJECT = 'A passkey was removed from your CFD Broker account';
/** The second-factor budget of this system: small, so the parallel test overruns it many times over. */
const MFA_LIMIT = 3;

const sidOf = sessionIdOf;

describe('passkeys: registration, sign-in alone and as the second step', () => {
  let sys: System;
  let redis: Redis;
  useSystem({ env: { RATE_MFA_FAIL_PER_USER_15MIN: String(MFA_LIMIT) } }, (s) => {
    sys = s;
    redis = new Redis(s.config.REDIS_URL);
  });
  afterAll(() => redis?.disconnect());

  it('registration needs a signed-in full session: none is 401 UNAUTHENTICATED, a partial one 401 MFA_REQUIRED', async () => {
    const anonymous = new ApiClient(sys.apiUrl);
    expect(await anonymous.post('/passkeys/register/options')).toMatchObject({ status: 401, body: { code: 'UNAUTHENTICATED' } });
    expect(await anonymous.get('/passkeys')).toMatchObject({ status: 401, body: { code: 'UNAUTHENTICATED' } });
    const owner = await accountWithPasskey(sys, 'pk-partial');
    const partial = new ApiClient(sys.apiUrl);
    expect((await partial.post('/signin', { email: owner.email, password: PASSWORD })).body).toMatchObject({ mfaRequired: true, methods: ['passkey'] });
    expect(await partial.post('/passkeys/register/options')).toMatchObject({ status: 401, body: { code: 'MFA_REQUIRED' } });
    expect(await partial.get('/passkeys')).toMatchObject({ status: 401, body: { code: 'MFA_REQUIRED' } });
    expect(await partial.del(`/passkeys/${owner.passkeyId}`)).toMatchObject({ status: 401, body: { code: 'MFA_REQUIRED' } });
  });

  it('register, list and delete: a notice for each; while the passkey exists, the password alone no longer signs in', async () => {
    const owner = await createAccount(sys.apiUrl, 'pk-lifecycle', PASSWORD);
    expect((await owner.client.get('/passkeys')).body).toEqual({ passkeys: [] });
    const authenticator = authenticatorFor(sys);
    const options = await owner.client.post('/passkeys/register/options');
    expect(options.body).toMatchObject({ rp: { id: relyingParty(sys.config).rpID }, attestation: 'none', authenticatorSelection: { residentKey: 'required' } });
    const { response } = authenticator.create(options.body);
    const registered = await owner.client.post('/passkeys/register', { response, label: 'Work laptop' });
    expect(registered).toMatchObject({ status: 201, body: { passkey: { id: expect.any(String), label: 'Work laptop', lastUsedAt: null } } });
    await mailWithSubject(owner.email, ADDED_SUBJECT);
    const listed = await owner.client.get('/passkeys');
    expect(listed.body.passkeys).toEqual([registered.body.passkey]);
    // The same authenticator is excluded from registering again.
    const again = await owner.client.post('/passkeys/register/options');
    expect(again.body.excludeCredentials).toEqual([expect.objectContaining({ id: response.id })]);

    expect((await new ApiClient(sys.apiUrl).post('/signin', { email: owner.email, password: PASSWORD })).body).toMatchObject({ mfaRequired: true, methods: ['passkey'] });

    expect((await owner.client.del(`/passkeys/${registered.body.passkey.id}`)).status).toBe(204);
    await mailWithSubject(owner.email, REMOVED_SUBJECT);
    expect((await owner.client.get('/passkeys')).body).toEqual({ passkeys: [] });
    expect((await new ApiClient(sys.apiUrl).post('/signin', { email: owner.email, password: PASSWORD })).body.user.id).toBe(owner.user.id);
    // A removed passkey signs in no more.
    expect(await passkeySignin(new ApiClient(sys.apiUrl), authenticator)).toMatchObject({ status: 400, body: { code: 'PASSKEY_INVALID' } });

    const events = await withDb(sys.config.DATABASE_URL, (sql) => sql("select payload->>'type' as type, payload->'data' as data from outbox where message_key = ? and payload->>'type' like 'passkey.%' order by created_at", [owner.user.id]));
    expect(events).toEqual([
      { type: 'passkey.registered', data: { passkeyId: registered.body.passkey.id } },
      { type: 'passkey.removed', data: { passkeyId: registered.body.passkey.id } },
    ]);
  });

  it('a passkey alone signs in (no email typed): the options list no credentials, and the session records swk mfa', async () => {
    const owner = await accountWithPasskey(sys, 'pk-passwordless');
    const client = new ApiClient(sys.apiUrl);
    const options = await client.post('/passkeys/authenticate/options');
    expect(options.status).toBe(200);
    expect(options.body.allowCredentials ?? []).toEqual([]);
    expect(options.body.userVerification).toBe('required');
    const done = await client.post('/passkeys/authenticate', { response: owner.authenticator.get(options.body) });
    expect(done).toMatchObject({ status: 200, body: { user: { id: owner.user.id, email: owner.email } } });
    expect(await client.get('/me')).toMatchObject({ status: 200, body: { user: { id: owner.user.id } } });
    expect(await redis.hmget(`sess:${sidOf(client)}`, 'amr', 'stage')).toEqual(['swk mfa', 'full']);
    expect((await owner.client.get('/passkeys')).body.passkeys[0].lastUsedAt).toEqual(expect.any(String));
    // Alone, the passkey must have verified its user (PIN, biometric).
    expect(await passkeySignin(new ApiClient(sys.apiUrl), owner.authenticator, { userVerified: false })).toMatchObject({ status: 400, body: { code: 'PASSKEY_INVALID' } });
  });

  it('as the second step: the password gives a partial session, the passkey the full one (pwd swk), and the partial session ends', async () => {
    const owner = await accountWithPasskey(sys, 'pk-second');
    const client = new ApiClient(sys.apiUrl);
    const step = await client.post('/signin', { email: owner.email, password: PASSWORD });
    expect(step.body).toEqual({ mfaRequired: true, methods: ['passkey'], message: expect.any(String) });
    expect(await client.get('/me')).toMatchObject({ status: 401, body: { code: 'MFA_REQUIRED' } });
    const partialSid = sidOf(client);
    const options = await client.post('/passkeys/authenticate/options');
    expect(options.body.allowCredentials).toEqual([expect.objectContaining({ id: owner.credential.id.toString('base64url') })]);
    const done = await client.post('/passkeys/authenticate', { response: owner.authenticator.get(options.body) });
    expect(done).toMatchObject({ status: 200, body: { user: { id: owner.user.id } } });
    expect(sidOf(client)).not.toBe(partialSid);
    expect(await redis.exists(`sess:${partialSid}`)).toBe(0);
    expect(await redis.hmget(`sess:${sidOf(client)}`, 'amr', 'stage')).toEqual(['pwd swk', 'full']);
  });

  it('a password reset never skips the passkey: the account gets the partial session', async () => {
    const owner = await accountWithPasskey(sys, 'pk-reset');
    const client = new ApiClient(sys.apiUrl);
    await client.post('/password/forgot', { email: owner.email });
    const code = codeOf(await mailWithSubject(owner.email, 'Your CFD Broker password reset code'));
    const reset = await client.post('/password/reset', { email: owner.email, code, password: 'a brand new sturdy passphrase' });
    expect(reset).toMatchObject({ status: 200, body: { mfaRequired: true, methods: ['passkey'] } });
    expect(await client.get('/me')).toMatchObject({ status: 401, body: { code: 'MFA_REQUIRED' } });
    expect((await passkeySignin(client, owner.authenticator)).status).toBe(200);
    expect((await client.get('/me')).status).toBe(200);
  });

  it("another account's passkey cannot finish a partial session", async () => {
    const owner = await accountWithPasskey(sys, 'pk-second-owner');
    const other = await accountWithPasskey(sys, 'pk-second-other');
    const client = new ApiClient(sys.apiUrl);
    await client.post('/signin', { email: owner.email, password: PASSWORD });
    const options = await client.post('/passkeys/authenticate/options');
    const answer = await client.post('/passkeys/authenticate', { response: other.authenticator.get(options.body, { credential: other.credential }) });
    expect(answer).toMatchObject({ status: 400, body: { code: 'PASSKEY_INVALID' } });
    expect(await client.get('/me')).toMatchObject({ status: 401, body: { code: 'MFA_REQUIRED' } });
  });

  it('a challenge is good once: a replayed assertion and a reused registration are refused', async () => {
    const owner = await createAccount(sys.apiUrl, 'pk-replay', PASSWORD);
    const authenticator = authenticatorFor(sys);
    const { response } = authenticator.create((await owner.client.post('/passkeys/register/options')).body);
    expect((await owner.client.post('/passkeys/register', { response })).status).toBe(201);
    expect(await owner.client.post('/passkeys/register', { response })).toMatchObject({ status: 400, body: { code: 'PASSKEY_INVALID' } });

    // Counter 0 (synced passkeys keep it there): only the challenge can stop the replay.
    const client = new ApiClient(sys.apiUrl);
    const options = await client.post('/passkeys/authenticate/options');
    const assertion = authenticator.get(options.body, { counter: 0 });
    expect((await client.post('/passkeys/authenticate', { response: assertion })).status).toBe(200);
    const thief = new ApiClient(sys.apiUrl);
    expect(await thief.post('/passkeys/authenticate', { response: assertion })).toMatchObject({ status: 400, body: { code: 'PASSKEY_INVALID' } });
    expect(await thief.get('/me')).toMatchObject({ status: 401 });
  });

  it('a registration challenge belongs to the session that asked for it', async () => {
    const first = await createAccount(sys.apiUrl, 'pk-bound-a', PASSWORD);
    const second = await createAccount(sys.apiUrl, 'pk-bound-b', PASSWORD);
    const options = await first.client.post('/passkeys/register/options');
    const { response } = authenticatorFor(sys).create(options.body);
    expect(await second.client.post('/passkeys/register', { response })).toMatchObject({ status: 400, body: { code: 'PASSKEY_INVALID' } });
  });

  it('an answer signed for another origin is refused, at registration and at sign-in', async () => {
    const owner = await accountWithPasskey(sys, 'pk-origin');
    const options = await owner.client.post('/passkeys/register/options');
    const phished = authenticatorFor(sys).create(options.body, { origin: 'https://cfd-broker.example.evil' });
    expect(await owner.client.post('/passkeys/register', { response: phished.response })).toMatchObject({ status: 400, body: { code: 'PASSKEY_INVALID' } });
    const client = new ApiClient(sys.apiUrl);
    expect(await passkeySignin(client, owner.authenticator, { origin: 'https://cfd-broker.example.evil' })).toMatchObject({ status: 400, body: { code: 'PASSKEY_INVALID' } });
    expect(await client.get('/me')).toMatchObject({ status: 401 });
  });

  it('a signature counter that does not move forward is refused (a cloned authenticator)', async () => {
    const owner = await accountWithPasskey(sys, 'pk-counter');
    expect((await passkeySignin(new ApiClient(sys.apiUrl), owner.authenticator, { counter: 5 })).status).toBe(200);
    expect(await passkeySignin(new ApiClient(sys.apiUrl), owner.authenticator, { counter: 3 })).toMatchObject({ status: 400, body: { code: 'PASSKEY_INVALID' } });
    expect(await passkeySignin(new ApiClient(sys.apiUrl), owner.authenticator, { counter: 5 })).toMatchObject({ status: 400, body: { code: 'PASSKEY_INVALID' } });
    expect((await passkeySignin(new ApiClient(sys.apiUrl), owner.authenticator, { counter: 6 })).status).toBe(200);
  });

  it("another account's passkey cannot be deleted (404), and still works after the attempt", async () => {
    const owner = await accountWithPasskey(sys, 'pk-delete-owner');
    const other = await createAccount(sys.apiUrl, 'pk-delete-other', PASSWORD);
    expect(await other.client.del(`/passkeys/${owner.passkeyId}`)).toMatchObject({ status: 404, body: { code: 'PASSKEY_NOT_FOUND' } });
    expect(await other.client.del('/passkeys/not-a-uuid')).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
    expect((await owner.client.get('/passkeys')).body.passkeys).toHaveLength(1);
    expect((await passkeySignin(new ApiClient(sys.apiUrl), owner.authenticator)).status).toBe(200);
  });

  it(`parallel second-step guesses: at most ${MFA_LIMIT} are checked, the rest get 429; then even a right passkey waits`, async () => {
    const owner = await accountWithPasskey(sys, 'pk-guesses');
    const client = new ApiClient(sys.apiUrl);
    await client.post('/signin', { email: owner.email, password: PASSWORD });
    const forged = await Promise.all(
      Array.from({ length: 12 }, async () => {
        const assertion = owner.authenticator.get((await client.post('/passkeys/authenticate/options')).body);
        const signature = Buffer.from(assertion.response.signature, 'base64url');
        signature[signature.length - 1] ^= 0xff;
        return { ...assertion, response: { ...assertion.response, signature: signature.toString('base64url') } };
      }),
    );
    const answers = await Promise.all(forged.map((response) => client.post('/passkeys/authenticate', { response })));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s !== 400 && s !== 429)).toEqual([]);
    expect(statuses.filter((s) => s === 400).length).toBeLessThanOrEqual(MFA_LIMIT);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(await passkeySignin(client, owner.authenticator)).toMatchObject({ status: 429, body: { code: 'RATE_LIMITED' } });
  });

  it('garbage answers are 400, never 5xx', async () => {
    const owner = await accountWithPasskey(sys, 'pk-garbage');
    const notJson = Buffer.from('not json at all').toString('base64url');
    const zeros = 'AAAAAAAAAAAAAAAAAAAAAAAA';
    type Assertion = ReturnType<SoftAuthenticator['get']>;
    const mutations: ((a: Assertion) => Assertion)[] = [
      (a) => ({ ...a, response: { ...a.response, clientDataJSON: notJson } }),
      (a) => ({ ...a, response: { ...a.response, authenticatorData: zeros } }),
      (a) => ({ ...a, response: { ...a.response, signature: zeros } }),
      (a) => ({ ...a, response: { ...a.response, userHandle: zeros } }),
      (a) => ({ ...a, id: zeros, rawId: zeros }),
    ];
    for (const mutate of mutations) {
      const client = new ApiClient(sys.apiUrl);
      const options = (await client.post('/passkeys/authenticate/options')).body;
      const answer = await client.post('/passkeys/authenticate', { response: mutate(owner.authenticator.get(options)) });
      expect({ mutate: mutate.toString(), answer }).toMatchObject({ answer: { status: 400, body: { code: 'PASSKEY_INVALID' } } });
    }
    expect(await owner.client.post('/passkeys/authenticate', { response: { id: 'x' } })).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
    const options = (await owner.client.post('/passkeys/register/options')).body;
    const { response } = authenticatorFor(sys).create(options);
    const bad = { ...response, response: { ...response.response, attestationObject: zeros } };
    expect(await owner.client.post('/passkeys/register', { response: bad })).toMatchObject({ status: 400, body: { code: 'PASSKEY_INVALID' } });
    // None of that counted as a use of the passkey.
    expect((await owner.client.get('/passkeys')).body.passkeys).toEqual([expect.objectContaining({ lastUsedAt: null })]);
  });
});

describe('passkey changes are sensitive: a sign-in older than the re-authentication window must re-authenticate', () => {
  let sys: System;
  useSystem({ env: { REAUTH_WINDOW_S: '3' } }, (s) => {
    sys = s;
  });

  it('register options, register and delete answer 401 REAUTH_REQUIRED once the window passed; /reauth opens them again', async () => {
    const owner = await createAccount(sys.apiUrl, 'pk-stepup', PASSWORD);
    const authenticator = authenticatorFor(sys);
    const { response } = authenticator.create((await owner.client.post('/passkeys/register/options')).body);
    await eventually(async () => ((await owner.client.post('/passkeys/register/options')).body.code === 'REAUTH_REQUIRED' ? true : undefined), 20_000, 'the re-authentication window to pass');
    expect(await owner.client.post('/passkeys/register', { response })).toMatchObject({ status: 401, body: { code: 'REAUTH_REQUIRED' } });
    expect(await owner.client.del('/passkeys/00000000-0000-4000-8000-000000000000')).toMatchObject({ status: 401, body: { code: 'REAUTH_REQUIRED' } });
    // Not sensitive: the list.
    expect((await owner.client.get('/passkeys')).status).toBe(200);
    expect((await owner.client.post('/reauth', { password: PASSWORD })).status).toBe(204);
    const fresh = authenticator.create((await owner.client.post('/passkeys/register/options')).body);
    const registered = await owner.client.post('/passkeys/register', { response: fresh.response });
    expect(registered.status).toBe(201);
    expect((await owner.client.del(`/passkeys/${registered.body.passkey.id}`)).status).toBe(204);
  });
});
