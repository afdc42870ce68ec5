/**
 * A verification whose update the Temporal server lost (it went down after the worker had consumed
 * the code in Redis but before the update was written to history; found by `npm run chaos`,
 * temporal-outage) must not burn the code: the client's retry is a new update with the same code,
 * and it creates the account. A new code still replaces the old one for good.
 */
import Redis from 'ioredis';
import { codeDigest, deriveKeys, signupWorkflowId } from '../../common/crypto';
import { createCodeActivities } from '../../activities/code.activities';
import { ApiClient } from '../../testkit/http';
import { waitForCode } from '../../testkit/maildev';
import { startSystem, type System } from '../../testkit/system';
import { uniqueEmail } from '../../testkit/env';

const PASSWORD = 'lost update, kept code';

describe('a verification lost with the Temporal server does not burn the code', () => {
  let sys: System;
  let api: ApiClient;
  let redis: Redis;

  beforeAll(async () => {
    sys = await startSystem({ env: { RESEND_COOLDOWN_S: '1' } });
    api = new ApiClient(sys.apiUrl);
    redis = new Redis(sys.config.REDIS_URL);
  });
  afterAll(async () => {
    redis?.disconnect();
    await sys?.close();
  });

  /** What the worker did for an update that never reached history: it consumed the code. */
  async function consumeAsLostUpdate(email: string, otp: string) {
    const keys = deriveKeys(sys.config);
    const signupId = signupWorkflowId(keys, email);
    const codes = createCodeActivities({ redis, keys });
    expect(await codes.consumeCode({ signupId, digest: codeDigest(keys, signupId, otp), consumer: 'update-lost-with-the-server' })).toBe('ok');
  }

  it('the retried verification with the same code creates the account', async () => {
    const email = uniqueEmail('lost-update');
    expect((await api.post('/signup', { email })).status).toBe(202);
    const otp = await waitForCode(email);
    await consumeAsLostUpdate(email, otp);
    const retry = await api.post('/verify', { email, otp, password: PASSWORD, name: 'Lost Update' });
    expect({ status: retry.status, code: retry.body.code }).toEqual({ status: 201, code: undefined });
    expect((await new ApiClient(sys.apiUrl).post('/signin', { email, password: PASSWORD })).status).toBe(200);
  });

  it('after a resend the consumed old code does not count, the new one does', async () => {
    const email = uniqueEmail('lost-update-resend');
    await api.post('/signup', { email });
    const old = await waitForCode(email);
    await consumeAsLostUpdate(email, old);
    await new Promise((r) => setTimeout(r, 1100)); // the resend cooldown (1 s here)
    expect((await api.post('/resend', { email })).status).toBe(202);
    const fresh = await waitForCode(email, 2);
    if (fresh !== old) {
      const stale = await api.post('/verify', { email, otp: old, password: PASSWORD, name: 'Old Code' });
      expect(stale.body.code).toBe('INVALID_CODE');
    }
    expect((await api.post('/verify', { email, otp: fresh, password: PASSWORD, name: 'New Code' })).status).toBe(201);
  });
});
