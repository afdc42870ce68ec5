import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { createCodeActivities } from '../../activities/code.activities';
import { createEmailActivities } from '../../activities/email.activities';
import { codeDigest, deriveKeys, seal, SealContext } from '../../common/crypto';
import { Failure } from '../../common/failures';

const keys = deriveKeys({ HMAC_KEY: 'k'.repeat(40), SEALING_KEY: 's'.repeat(40) });
// Real Redis (the Lua scripts are what is under test); the SMTP transport is a recording stub.
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
let signupId = '';
let emailSealed = '';

function setup(sendMail: (m: any) => Promise<unknown>) {
  const sent: any[] = [];
  const transport = { sendMail: async (m: any) => { await sendMail(m); sent.push(m); } };
  const deps = { redis, keys, mailer: { transport: transport as any, from: 'x@y.z' } };
  return { sent, code: createCodeActivities(deps), email: createEmailActivities(deps) };
}

describe('code and mail activities on real Redis', () => {
  const env = new MockActivityEnvironment();
  beforeEach(() => {
    signupId = `signup-test-${randomUUID()}`;
    emailSealed = seal(keys, 'ada@example.com', SealContext.email(signupId));
  });
  afterAll(() => redis.disconnect());

  it('mails the issued code in text and HTML with its expiry, and never twice for one code', async () => {
    const t = setup(async () => undefined);
    await env.run(t.code.issueCode, { signupId, seq: 1, ttlMs: 600_000 });
    await env.run(t.email.sendCodeEmail, { signupId, emailSealed, seq: 1, ttlMs: 600_000 });
    await env.run(t.email.sendCodeEmail, { signupId, emailSealed, seq: 1, ttlMs: 600_000 });
    expect(t.sent).toHaveLength(1);
    expect(t.sent[0].to).toBe('ada@example.com');
    expect(t.sent[0].text).toMatch(/\b\d{6}\b[\s\S]*10 minutes/);
    expect(t.sent[0].html).toContain(/\b(\d{6})\b/.exec(t.sent[0].text)![1]);
  });

  it('an SMTP 5xx is a non-retryable failure; a connection error is retryable', async () => {
    const perm = setup(async () => Promise.reject(Object.assign(new Error('no such user'), { responseCode: 550 })));
    await env.run(perm.code.issueCode, { signupId, seq: 1, ttlMs: 600_000 });
    const e1 = await env.run(perm.email.sendCodeEmail, { signupId, emailSealed, seq: 1, ttlMs: 600_000 }).catch((e) => e);
    expect(e1).toBeInstanceOf(ApplicationFailure);
    expect(e1).toMatchObject({ type: Failure.smtpPermanent, nonRetryable: true });

    const down = setup(async () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ESOCKET' })));
    await env.run(down.code.issueCode, { signupId, seq: 1, ttlMs: 600_000 });
    const e2 = await env.run(down.email.sendCodeEmail, { signupId, emailSealed, seq: 1, ttlMs: 600_000 }).catch((e) => e);
    expect(e2).toMatchObject({ type: Failure.smtpUnavailable, nonRetryable: false });
  });

  it('a code that expired before it could be mailed is reported, not resent blindly', async () => {
    const t = setup(async () => undefined);
    const err = await env.run(t.email.sendCodeEmail, { signupId, emailSealed, seq: 7, ttlMs: 600_000 }).catch((e) => e);
    expect(err).toMatchObject({ type: Failure.codeGone, nonRetryable: true });
    expect(t.sent).toHaveLength(0);
  });

  /** Issues code `seq`, mails it through the test sender, and returns its digest. */
  async function issued(t: ReturnType<typeof setup>, seq = 1): Promise<string> {
    await env.run(t.code.issueCode, { signupId, seq, ttlMs: 600_000 });
    await env.run(t.email.sendCodeEmail, { signupId, emailSealed, seq, ttlMs: 600_000 });
    return codeDigest(keys, signupId, /\b(\d{6})\b/.exec(t.sent[t.sent.length - 1].text)![1]);
  }

  // Single use is the workflow's rule (it checks a code only while it has no account, one
  // verification at a time: signup-rules.test.ts, "10 concurrent verifications"). The activity
  // consumes atomically and, for the code it consumed last, keeps answering 'ok': the workflow only
  // asks again when the consume never made it into its history.
  it('a wrong digest is a mismatch; the right one is consumed, and only that code counts afterwards', async () => {
    const t = setup(async () => undefined);
    const digest = await issued(t);
    const wrong = codeDigest(keys, signupId, '000000') === digest ? codeDigest(keys, signupId, '000001') : codeDigest(keys, signupId, '000000');
    expect(await env.run(t.code.consumeCode, { signupId, digest: wrong })).toBe('mismatch');
    expect(await env.run(t.code.consumeCode, { signupId, digest, consumer: 'update-1' })).toBe('ok');
    expect(await redis.get(`otp:${signupId}`)).toBeNull();
    expect(await env.run(t.code.consumeCode, { signupId, digest: wrong, consumer: 'update-2' })).toBe('missing');
  });

  it('the consumed code is ok again for the same update (worker crash) and for a new one (update lost with the server)', async () => {
    const t = setup(async () => undefined);
    const digest = await issued(t);
    expect(await env.run(t.code.consumeCode, { signupId, digest, consumer: 'update-1' })).toBe('ok');
    // A worker that crashed after consuming runs the same update's local activity again.
    expect(await env.run(t.code.consumeCode, { signupId, digest, consumer: 'update-1' })).toBe('ok');
    // The Temporal server lost update-1 (never accepted in history): the client's retry is update-2.
    expect(await env.run(t.code.consumeCode, { signupId, digest, consumer: 'update-2' })).toBe('ok');
  });

  it('a new code forgets the consumed one: the old code never counts again', async () => {
    const t = setup(async () => undefined);
    const first = await issued(t, 1);
    expect(await env.run(t.code.consumeCode, { signupId, digest: first, consumer: 'update-1' })).toBe('ok');
    const second = await issued(t, 2);
    expect(await env.run(t.code.consumeCode, { signupId, digest: first, consumer: 'update-2' })).toBe('mismatch');
    expect(await env.run(t.code.consumeCode, { signupId, digest: second, consumer: 'update-3' })).toBe('ok');
    expect(await env.run(t.code.consumeCode, { signupId, digest: first, consumer: 'update-4' })).toBe('missing');
  });

  it('a new code forgets the consumed one also when the new code expires unused', async () => {
    const t = setup(async () => undefined);
    const first = await issued(t, 1);
    expect(await env.run(t.code.consumeCode, { signupId, digest: first, consumer: 'update-1' })).toBe('ok');
    await issued(t, 2);
    await redis.del(`otp:${signupId}`); // code 2 expired in Redis
    expect(await env.run(t.code.consumeCode, { signupId, digest: first, consumer: 'update-2' })).toBe('missing');
  });

  it('the consumed record names the update that consumed the code, for the operator (empty when none was given)', async () => {
    const t = setup(async () => undefined);
    const digest = await issued(t, 1);
    expect(await env.run(t.code.consumeCode, { signupId, digest, consumer: 'update-1' })).toBe('ok');
    expect(await redis.get(`otp-consumed:${signupId}`)).toBe(`update-1|1:${digest}`);
    const next = await issued(t, 2);
    expect(await env.run(t.code.consumeCode, { signupId, digest: next })).toBe('ok');
    expect(await redis.get(`otp-consumed:${signupId}`)).toBe(`|2:${next}`);
  });

  it('a discarded code (a locked signup of release v2) is gone: the right digest finds nothing', async () => {
    const t = setup(async () => undefined);
    const digest = await issued(t, 1);
    await env.run(t.code.discardCode, { signupId });
    expect(await env.run(t.code.consumeCode, { signupId, digest, consumer: 'update-1' })).toBe('missing');
  });

  it('two racing consumers of the right code: the code is deleted once, and one consumer is recorded', async () => {
    const t = setup(async () => undefined);
    const digest = await issued(t);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => env.run(t.code.consumeCode, { signupId, digest, consumer: `u-${i}` })));
    expect(results).toEqual(Array(10).fill('ok'));
    expect(await redis.get(`otp:${signupId}`)).toBeNull();
    expect(await redis.get(`otp-consumed:${signupId}`)).toMatch(new RegExp(`^u-\\d\\|1:${digest}$`));
  });

  it('a retry while an earlier attempt is still sending does not send a second copy', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    const t = setup(() => (++calls === 1 ? gate : Promise.resolve()));
    await env.run(t.code.issueCode, { signupId, seq: 1, ttlMs: 600_000 });
    const first = env.run(t.email.sendCodeEmail, { signupId, emailSealed, seq: 1, ttlMs: 600_000 });
    await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 20 && !(await redis.exists(`otp-sent:${signupId}:1:sending`)); i++) await new Promise((r) => setTimeout(r, 10));
    const retry = await env.run(t.email.sendCodeEmail, { signupId, emailSealed, seq: 1, ttlMs: 600_000 }).catch((e) => e);
    expect(retry).toMatchObject({ type: Failure.sendInProgress, nonRetryable: false });
    release();
    await first;
    await env.run(t.email.sendCodeEmail, { signupId, emailSealed, seq: 1, ttlMs: 600_000 });
    expect(t.sent).toHaveLength(1);
  });
});
