import { randomUUID } from 'node:crypto';
import type { Activities } from '../../activities';
import { restoreAccountUpdate, type AccountClosureLimits } from '../../workflows/account-closure.contract';
import type { accountClosureWorkflow } from '../../workflows/account-closure.workflow';
import { runToClose, useTimeSkipping } from '../support/time-skipping';

/** The closure's grace period in virtual time: 7 days, then erasure unless restored. */
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const LIMITS: AccountClosureLimits = { graceMs: 7 * DAY, maxAttempts: 5, emailBudgetMs: 6 * HOUR, emailMaxAttempts: 60 };
const DIGEST = 'd'.repeat(64);

/** What the flow did to the account, in order. */
class Recorder {
  steps: string[] = [];
  activities(): Activities {
    const step = (name: string, result?: unknown) => async () => {
      this.steps.push(name);
      return result;
    };
    return {
      closeAccount: step('close'),
      reopenAccount: step('reopen'),
      eraseAccount: step('erase', { erased: true }),
      revokeSessions: step('revoke', { revoked: 0 }),
      createUndoToken: step('token', { digest: DIGEST }),
      sendAccountClosingNotice: step('mail', { attempts: 1 }),
    } as unknown as Activities;
  }
}

describe('account closure grace period in virtual time', () => {
  const ts = useTimeSkipping();
  const withClosure = <T>(rec: Recorder, body: (flow: Awaited<ReturnType<typeof start>>) => Promise<T>): Promise<T> =>
    ts.withWorker(rec.activities(), async (taskQueue) => body(await start(taskQueue)));
  const start = (taskQueue: string) =>
    ts.env.client.workflow.start<typeof accountClosureWorkflow>('accountClosureWorkflow', {
      taskQueue,
      workflowId: `account-closure-${randomUUID()}`,
      args: [{ userId: randomUUID(), emailSealed: 'v1.sealed', limits: LIMITS }],
    });
  const restore = (flow: Awaited<ReturnType<typeof start>>, tokenDigest = DIGEST) => flow.executeUpdate(restoreAccountUpdate, { args: [{ tokenDigest }] });

  it('a restore an hour before the 7 days are up reopens the account, and nothing is erased', async () => {
    const rec = new Recorder();
    const result = await withClosure(rec, async (flow) => {
      await ts.env.sleep(LIMITS.graceMs - HOUR);
      expect(await restore(flow)).toEqual({ ok: true });
      return flow.result();
    });
    expect(result).toEqual({ status: 'restored' });
    expect(rec.steps).toEqual(['close', 'revoke', 'token', 'mail', 'reopen']);
  });

  it('without a restore the account is erased when the 7 days are up, not before', async () => {
    const rec = new Recorder();
    const outcome = await withClosure(rec, (flow) => runToClose(flow, DAY));
    expect(outcome.result).toEqual({ status: 'erased' });
    expect(outcome.elapsed).toBeGreaterThanOrEqual(7);
    expect(outcome.elapsed).toBeLessThan(7.01);
    expect(rec.steps).toEqual(['close', 'revoke', 'token', 'mail', 'erase', 'revoke']);
  });

  it('wrong tokens count; after maxAttempts even the right one is refused, and the account is erased', async () => {
    const rec = new Recorder();
    const result = await withClosure(rec, async (flow) => {
      for (let i = 0; i < LIMITS.maxAttempts; i++) expect(await restore(flow, 'e'.repeat(64))).toEqual({ ok: false, code: 'INVALID_TOKEN' });
      expect(await restore(flow)).toEqual({ ok: false, code: 'INVALID_TOKEN' });
      return flow.result();
    });
    expect(result).toEqual({ status: 'erased' });
    expect(rec.steps).not.toContain('reopen');
  });
});
