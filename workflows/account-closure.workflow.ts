import { allHandlersFinished, condition, isCancellation, log, proxyActivities, setHandler, workflowInfo, type RetryPolicy } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { AccountFailure } from '../common/account-failures';
import { Failure } from '../common/failures';
import { failureType, flowStatus, mailBudget } from './account-flow';
import {
  accountClosureStateQuery,
  restoreAccountUpdate,
  type AccountClosureInput,
  type AccountClosureOutcome,
  type RestoreAccountResult,
} from './account-closure.contract';

type ClosureActivities = Pick<Activities, 'closeAccount' | 'reopenAccount' | 'eraseAccount' | 'revokeSessions' | 'createUndoToken'>;
const retry: RetryPolicy = { initialInterval: '500 ms', backoffCoefficient: 2, maximumInterval: '5 minutes', nonRetryableErrorTypes: [Failure.invalidRequest, AccountFailure.accountGone] };

/** Closing and erasing were promised by a 202: they retry until the database takes them. */
const closure = proxyActivities<ClosureActivities>({ startToCloseTimeout: '15 seconds', retry });

/** A restore answers a waiting HTTP call: it gives up after a minute, and the link keeps working. */
const restoreDb = proxyActivities<Pick<Activities, 'reopenAccount'>>({ startToCloseTimeout: '15 seconds', scheduleToCloseTimeout: '1 minute', retry });

/** mailBudget's proxy takes any activity; its type names the older flows' mails (account-flow.ts is in their releases). */
type ClosureMail = Pick<Activities, 'sendAccountClosingNotice'>;

/**
 * Account closure with a grace period. The account is closed (sign-in and password reset no longer
 * find it; its address stays taken) and every session revoked; the old address gets a restore
 * link. A valid link within `graceMs` reopens the account; otherwise the user row is erased and the
 * address is free for a new signup.
 */
export async function accountClosureWorkflow(input: AccountClosureInput): Promise<AccountClosureOutcome> {
  const { limits } = input;
  const flowId = workflowInfo().workflowId;
  const runId = workflowInfo().runId;
  const status = flowStatus('applying');
  const closesAt = Date.now() + limits.graceMs;
  let digest: string | undefined;
  let restored = false;
  let ending = false;
  let busy = false;
  let wrong = 0;

  setHandler(accountClosureStateQuery, () => ({ status: status.get(), closesAt }));
  setHandler(restoreAccountUpdate, async ({ tokenDigest }): Promise<RestoreAccountResult> => {
    // Registered before the token exists, so an early call waits for it instead of finding no handler.
    await condition(() => digest !== undefined || ending);
    while (busy) await condition(() => !busy);
    busy = true;
    try {
      if (restored || ending || wrong >= limits.maxAttempts || tokenDigest !== digest) {
        if (!restored && !ending) wrong += 1;
        return { ok: false, code: 'INVALID_TOKEN' };
      }
      status.set('applying');
      try {
        await restoreDb.reopenAccount({ userId: input.userId });
      } catch (err) {
        if (isCancellation(err)) throw err;
        log.error('the account could not be reopened', { failure: failureType(err) ?? 'timeout' });
        status.set('undo_window');
        return { ok: false, code: 'UNAVAILABLE' };
      }
      restored = true;
      return { ok: true };
    } finally {
      busy = false;
    }
  }, {
    validator: ({ tokenDigest }) => {
      if (typeof tokenDigest !== 'string' || !/^[0-9a-f]{64}$/.test(tokenDigest)) throw new Error('tokenDigest malformed');
    },
  });

  try {
    await closure.closeAccount({ userId: input.userId });
  } catch (err) {
    if (isCancellation(err)) throw err;
    ending = true;
    status.set('failed');
    await condition(allHandlersFinished);
    return { status: 'failed', reason: failureType(err) === AccountFailure.accountGone ? 'account_gone' : 'close_failed' };
  }
  // After the close: a sign-in that slipped in before it cannot keep a session.
  await closure.revokeSessions({ userId: input.userId });
  digest = (await closure.createUndoToken({ flowId, run: runId, ttlMs: limits.graceMs })).digest;

  status.set('notifying');
  try {
    await mailBudget(limits).send((acts) =>
      (acts as unknown as ClosureMail).sendAccountClosingNotice({ flowId, emailSealed: input.emailSealed, run: runId, graceMs: limits.graceMs }),
    );
  } catch (err) {
    if (isCancellation(err)) throw err;
    // The link could not be delivered; the account still waits out its grace period (support can restore it).
    log.error('the closure notice could not be delivered', { failure: failureType(err) ?? 'unknown' });
  }
  status.set('undo_window');
  await condition(() => restored, Math.max(0, closesAt - Date.now()));
  await condition(() => !busy);
  if (restored) {
    status.set('undone');
    await condition(allHandlersFinished);
    return { status: 'restored' };
  }

  ending = true;
  status.set('applying');
  await closure.eraseAccount({ userId: input.userId });
  await closure.revokeSessions({ userId: input.userId });
  status.set('completed');
  await condition(allHandlersFinished);
  return { status: 'erased' };
}
