import { randomUUID } from 'node:crypto';
import type { Activities } from '../../activities';
import { requestResetCodeSignal, resetPasswordUpdate, resetStateQuery, type PasswordResetLimits, type ResetPasswordInput } from '../../workflows/password-reset.contract';
import type { passwordResetWorkflow } from '../../workflows/password-reset.workflow';
import { runToClose, useTimeSkipping } from '../support/time-skipping';

/**
 * The password reset's timer rules in virtual time (Temporal's time-skipping test server): the
 * code TTL, the cooldown and the window. Activities are stubs that record what the workflow asked.
 */
const MIN = 60_000;
const HOUR = 60 * MIN;
const LIMITS: PasswordResetLimits = {
  codeTtlMs: 10 * MIN,
  windowMs: HOUR,
  resendCooldownMs: MIN,
  resendMaxPerHour: 5,
  maxAttempts: 5,
  emailBudgetMs: 6 * HOUR,
  emailMaxAttempts: 60,
};
const RESET: ResetPasswordInput = { codeDigest: 'a'.repeat(64), passwordSealed: 'v1.sealed-hash-stub', source: 'b'.repeat(32) };

class Recorder {
  issued = 0;
  consumed = 0;
  passwordsSet = 0;
  notices = 0;
  activities(): Activities {
    const self = this;
    return {
      async findAccount() {
        return { userId: randomUUID() };
      },
      async issueCode() {
        self.issued += 1;
      },
      async consumeCode() {
        self.consumed += 1;
        return 'ok' as const;
      },
      async sendCodeEmail() {
        return { attempts: 1 };
      },
      async setPassword() {
        self.passwordsSet += 1;
      },
      async revokeSessions() {
        return { revoked: 0 };
      },
      async sendPasswordChangedNotice() {
        self.notices += 1;
        return { attempts: 1 };
      },
    } as unknown as Activities;
  }
}

describe('password reset timer rules in virtual time', () => {
  const ts = useTimeSkipping();
  const run = <T>(rec: Recorder, body: (h: Awaited<ReturnType<typeof start>>) => Promise<T>): Promise<T> =>
    ts.withWorker(rec.activities(), async (taskQueue) => body(await start(taskQueue)));
  function start(taskQueue: string) {
    return ts.env.client.workflow.start<typeof passwordResetWorkflow>('passwordResetWorkflow', {
      taskQueue,
      workflowId: `password-reset-${randomUUID()}`,
      args: [{ emailSealed: 'v1.sealed-email-stub', limits: LIMITS }],
    });
  }
  const untilCodeSent = async (h: Awaited<ReturnType<typeof start>>) => {
    for (let i = 0; i < 100 && (await h.query(resetStateQuery)).status !== 'awaiting_code'; i++) await ts.env.sleep(100);
  };

  it('a code is good until its TTL; past it the answer is CODE_EXPIRED and the code is not even compared', async () => {
    const inTime = new Recorder();
    await run(inTime, async (h) => {
      await untilCodeSent(h);
      await ts.env.sleep(LIMITS.codeTtlMs - 1000);
      expect(await h.executeUpdate(resetPasswordUpdate, { args: [RESET] })).toEqual({ ok: true, userId: expect.any(String) });
      expect(await h.result()).toEqual({ status: 'completed' });
    });
    expect({ passwordsSet: inTime.passwordsSet, notices: inTime.notices }).toEqual({ passwordsSet: 1, notices: 1 });

    const late = new Recorder();
    await run(late, async (h) => {
      await untilCodeSent(h);
      await ts.env.sleep(LIMITS.codeTtlMs + 1000);
      expect(await h.executeUpdate(resetPasswordUpdate, { args: [RESET] })).toEqual({ ok: false, code: 'CODE_EXPIRED' });
      await h.cancel();
      await h.result().catch(() => undefined);
    });
    expect({ consumed: late.consumed, passwordsSet: late.passwordsSet }).toEqual({ consumed: 0, passwordsSet: 0 });
  });

  it('a new code only after the 60 s cooldown; it gets a full TTL of its own', async () => {
    const rec = new Recorder();
    await run(rec, async (h) => {
      await untilCodeSent(h);
      await ts.env.sleep(30_000);
      await h.signal(requestResetCodeSignal);
      await ts.env.sleep(1000);
      expect((await h.query(resetStateQuery)).codesIssued).toBe(1);
      await ts.env.sleep(LIMITS.codeTtlMs);
      await h.signal(requestResetCodeSignal);
      await untilCodeSent(h);
      expect((await h.query(resetStateQuery)).codesIssued).toBe(2);
      await ts.env.sleep(LIMITS.codeTtlMs - 1000);
      expect(await h.executeUpdate(resetPasswordUpdate, { args: [RESET] })).toMatchObject({ ok: true });
      // Closed while its worker still runs: no activity is left started to hold the test server's clock.
      expect(await h.result()).toEqual({ status: 'completed' });
    });
  });

  it('a reset nobody completes ends expired when its window closes, not before', async () => {
    const rec = new Recorder();
    const outcome = await run(rec, (h) => runToClose(h, HOUR));
    expect(outcome.result).toEqual({ status: 'expired' });
    expect(outcome.elapsed).toBeGreaterThanOrEqual(1);
    expect(outcome.elapsed).toBeLessThan(1.01);
    expect(rec.passwordsSet).toBe(0);
  });
});
