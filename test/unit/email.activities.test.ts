import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import type Redis from 'ioredis';
import { createCodeActivities } from '../../activities/code.activities';
import { createEmailActivities } from '../../activities/email.activities';
import { deriveKeys, seal, SealContext } from '../../common/crypto';
import { Failure } from '../../common/failures';

/** Just enough of Redis for these two modules. */
class FakeRedis {
  store = new Map<string, string>();
  async get(k: string) {
    return this.store.get(k) ?? null;
  }
  async set(k: string, v: string) {
    this.store.set(k, v);
    return 'OK';
  }
  async exists(k: string) {
    return this.store.has(k) ? 1 : 0;
  }
  async del(k: string) {
    return this.store.delete(k) ? 1 : 0;
  }
  async eval(script: string, _n: number, k1: string, k2OrArg: string, ...args: string[]) {
    if (script.includes("'NX'")) {
      if (this.store.has(k2OrArg)) return 0;
      this.store.set(k2OrArg, args[1]);
      this.store.set(k1, args[0]);
      return 1;
    }
    if (this.store.get(k1) === k2OrArg) {
      this.store.delete(k1);
      return 1;
    }
    return 0;
  }
}

const keys = deriveKeys({ HMAC_KEY: 'k'.repeat(40), SEALING_KEY: 's'.repeat(40) });
const signupId = 'signup-test';
const emailSealed = seal(keys, 'ada@example.com', SealContext.email(signupId));

function setup(sendMail: (m: any) => Promise<unknown>) {
  const redis = new FakeRedis();
  const sent: any[] = [];
  const transport = { sendMail: async (m: any) => { await sendMail(m); sent.push(m); } };
  const deps = { redis: redis as unknown as Redis, keys, mailer: { transport: transport as any, from: 'x@y.z' } };
  return { redis, sent, code: createCodeActivities(deps), email: createEmailActivities(deps) };
}

describe('email activities', () => {
  const env = new MockActivityEnvironment();

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

  it('the code is consumed once: the right digest succeeds, then the same digest finds nothing', async () => {
    const t = setup(async () => undefined);
    await env.run(t.code.issueCode, { signupId, seq: 1, ttlMs: 600_000 });
    await env.run(t.email.sendCodeEmail, { signupId, emailSealed, seq: 1, ttlMs: 600_000 });
    const code = /\b(\d{6})\b/.exec(t.sent[0].text)![1];
    const { codeDigest } = await import('../../common/crypto');
    const wrong = codeDigest(keys, signupId, code === '000000' ? '000001' : '000000');
    expect(await env.run(t.code.consumeCode, { signupId, digest: wrong })).toBe('mismatch');
    expect(await env.run(t.code.consumeCode, { signupId, digest: codeDigest(keys, signupId, code) })).toBe('ok');
    expect(await env.run(t.code.consumeCode, { signupId, digest: codeDigest(keys, signupId, code) })).toBe('missing');
  });
});
