import { randomUUID } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Activities } from '../../activities';
import { Failure } from '../../common/failures';
import { requestCodeSignal, stateQuery, verifyUpdate, type SignupInput, type SignupLimits, type VerifyInput } from '../../workflows/signup.contract';
import type { signupWorkflow } from '../../workflows/signup.workflow';
import { runToClose, useTimeSkipping } from '../support/time-skipping';

/**
 * Every timer rule of the signup workflow, in virtual time on Temporal's time-skipping test
 * server: hours pass in milliseconds, no sleeps. Activities are stubs that record what the
 * workflow asked for (this tests the workflow module alone).
 */

const MIN = 60_000;
const HOUR = 60 * MIN;
const LIMITS: SignupLimits = {
  codeTtlMs: 10 * MIN,
  windowMs: 24 * HOUR,
  resendCooldownMs: MIN,
  resendMaxPerHour: 5,
  maxAttempts: 5,
  lockoutMs: 15 * MIN,
  emailBudgetMs: 6 * HOUR,
  emailMaxAttempts: 1000,
};
const VERIFY: VerifyInput = { codeDigest: 'a'.repeat(64), nameSealed: 'v1.sealed-name-stub', passwordSealed: 'v1.sealed-hash-stub', source: 'b'.repeat(32) };

type Mail = 'ok' | 'unavailable' | 'refused' | 'gone-after-ttl';

class Recorder {
  issued: { seq: number; at: number }[] = [];
  mailAttempts: { seq: number; attempt: number; at: number }[] = [];
  consumed = 0;
  /** The server's (virtual) clock, read when an attempt starts. */
  static clock: () => Promise<number>;
  constructor(public mail: Mail = 'ok', public registered = false) {}

  activities(): Activities {
    const self = this;
    return {
      async isEmailRegistered() {
        return self.registered;
      },
      async issueCode(input: { seq: number }) {
        self.issued.push({ seq: input.seq, at: Date.now() });
      },
      async consumeCode() {
        self.consumed += 1;
        return 'ok' as const;
      },
      async discardCode() {},
      async sendCodeEmail(input: { seq: number }) {
        const info = Context.current().info;
        self.mailAttempts.push({ seq: input.seq, attempt: info.attempt, at: await Recorder.clock() });
        if (self.mail === 'refused') throw ApplicationFailure.create({ type: Failure.smtpPermanent, nonRetryable: true, details: [info.attempt] });
        if (self.mail === 'gone-after-ttl' && info.currentAttemptScheduledTimestampMs - info.scheduledTimestampMs >= LIMITS.codeTtlMs) {
          throw ApplicationFailure.create({ type: Failure.codeGone, nonRetryable: true, details: [info.attempt] });
        }
        if (self.mail !== 'ok') throw ApplicationFailure.create({ type: Failure.smtpUnavailable, details: [info.attempt] });
        return { attempts: info.attempt };
      },
      async sendExistingAccountNotice() {
        return { attempts: 1 };
      },
      async createUser() {
        return { id: randomUUID(), createdAt: new Date().toISOString() };
      },
    } as unknown as Activities;
  }
}

describe('signup timer rules in virtual time', () => {
  const ts = useTimeSkipping();
  beforeAll(() => {
    Recorder.clock = async () => Number(await ts.env.currentTimeMs());
  });
  const run = <T>(rec: Recorder, limits: Partial<SignupLimits>, body: (h: Awaited<ReturnType<typeof start>>) => Promise<T>): Promise<T> =>
    ts.withWorker(rec.activities(), async (taskQueue) => body(await start(taskQueue, { ...LIMITS, ...limits })));
  function start(taskQueue: string, limits: SignupLimits) {
    const input: SignupInput = { emailSealed: 'v1.sealed-email-stub', limits };
    return ts.env.client.workflow.start<typeof signupWorkflow>('signupWorkflow', { taskQueue, workflowId: `signup-${randomUUID()}`, args: [input] });
  }
  /** Cancels and waits until the workflow has closed, while its worker still runs: no activity is left started. */
  const cancelAndWait = async (h: Awaited<ReturnType<typeof start>>) => {
    await h.cancel();
    await h.result().catch(() => undefined);
  };
  const untilCodeSent = async (h: Awaited<ReturnType<typeof start>>) => {
    for (let i = 0; i < 100 && (await h.query(stateQuery)).status !== 'awaiting_code'; i++) await ts.env.sleep(100);
  };

  it('a code older than its TTL answers CODE_EXPIRED without being compared', async () => {
    const rec = new Recorder();
    await run(rec, {}, async (h) => {
      await untilCodeSent(h);
      await ts.env.sleep(LIMITS.codeTtlMs - 1000);
      expect(await h.executeUpdate(verifyUpdate, { args: [{ ...VERIFY, source: 'c1' }], updateId: 'u1' })).toEqual({ ok: true, user: expect.any(Object) });
    });
    const late = new Recorder();
    await run(late, {}, async (h) => {
      await untilCodeSent(h);
      await ts.env.sleep(LIMITS.codeTtlMs + 1000);
      expect(await h.executeUpdate(verifyUpdate, { args: [VERIFY] })).toEqual({ ok: false, code: 'CODE_EXPIRED' });
      await cancelAndWait(h);
    });
    expect(late.consumed).toBe(0);
  });

  it('a resend inside the cooldown issues nothing; after it a fresh code, at most 5 an hour', async () => {
    const rec = new Recorder();
    await run(rec, {}, async (h) => {
      await untilCodeSent(h);
      await ts.env.sleep(30_000);
      await h.signal(requestCodeSignal);
      expect((await h.query(stateQuery)).codesIssued).toBe(1);
      await ts.env.sleep(31_000);
      await h.signal(requestCodeSignal);
      await untilCodeSent(h);
      expect((await h.query(stateQuery)).codesIssued).toBe(2);
      for (let i = 0; i < 6; i++) {
        await ts.env.sleep(61_000);
        await h.signal(requestCodeSignal);
        await untilCodeSent(h);
      }
      // Eight requests in about eight minutes: the hourly cap (5) holds.
      expect((await h.query(stateQuery)).codesIssued).toBe(5);
      await cancelAndWait(h);
    });
  });

  it('a signup nobody verifies ends expired when its window closes, not before', async () => {
    const rec = new Recorder();
    const outcome = await run(rec, {}, (h) => runToClose(h, HOUR));
    expect(outcome.result).toEqual({ status: 'expired' });
    expect(outcome.elapsed).toBeGreaterThanOrEqual(24);
    expect(outcome.elapsed).toBeLessThan(24.1);
  });

  it('SMTP retries back off exponentially: 2 s, 4 s, 8 s, 16 s … capped at 5 min', async () => {
    const rec = new Recorder('unavailable');
    await run(rec, {}, async (h) => {
      await ts.env.sleep(2 * HOUR);
      await cancelAndWait(h);
    });
    const firstCode = rec.mailAttempts.filter((a) => a.seq === 1);
    const gaps = firstCode.slice(1).map((a, i) => Math.round((a.at - firstCode[i].at) / 1000));
    expect(gaps.slice(0, 5)).toEqual([2, 4, 8, 16, 32]);
    expect(Math.max(...gaps)).toBe(300);
  });

  it('one mail budget holds across code cycles: an unreachable SMTP fails the signup after 6 h, not at 24 h', async () => {
    const rec = new Recorder('gone-after-ttl');
    const outcome = await run(rec, {}, (h) => runToClose(h, HOUR));
    expect(outcome.result).toEqual({ status: 'mail_failed', reason: 'email_undeliverable' });
    // Several codes were issued (each died before delivery), all inside the one budget.
    expect(rec.issued.length).toBeGreaterThan(5);
    // Temporal gives up as soon as the next retry could not start inside the budget.
    expect(outcome.elapsed).toBeGreaterThan(5.5);
    expect(outcome.elapsed).toBeLessThanOrEqual(6.01);
  });

  it('the attempt budget holds across code cycles too', async () => {
    const rec = new Recorder('gone-after-ttl');
    const result = await run(rec, { emailMaxAttempts: 20 }, (h) => h.result());
    expect(result).toEqual({ status: 'mail_failed', reason: 'email_undeliverable' });
    expect(rec.mailAttempts.length).toBe(20);
  });

  it('a hard bounce (SMTP 5xx) fails the mail at once, without retries', async () => {
    const rec = new Recorder('refused');
    const result = await run(rec, {}, (h) => h.result());
    expect(result).toEqual({ status: 'mail_failed', reason: 'email_refused' });
    expect(rec.mailAttempts).toHaveLength(1);
  });

  it('the sender stops when the signup ends: no mail attempt after the account exists', async () => {
    const rec = new Recorder();
    await run(rec, {}, async (h) => {
      await untilCodeSent(h);
      rec.mail = 'unavailable';
      await ts.env.sleep(61_000);
      await h.signal(requestCodeSignal);
      await ts.env.sleep(10_000);
      expect(await h.executeUpdate(verifyUpdate, { args: [VERIFY] })).toMatchObject({ ok: true });
      expect(await h.result()).toEqual({ status: 'completed' });
    });
    const attemptsAtEnd = rec.mailAttempts.length;
    expect(attemptsAtEnd).toBeGreaterThan(1);
    await ts.env.sleep(HOUR);
    expect(rec.mailAttempts.length).toBe(attemptsAtEnd);
  });
});
