import { ApplicationFailure, proxyActivities, proxyLocalActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { AccountFailure } from '../common/account-failures';
import { Failure } from '../common/failures';
import { AccountFlowStatusKey, AccountFlowStatusSinceKey, type AccountFlowStatus } from '../temporal-config/account-flows';

/**
 * What the account flows (password reset and change, email change) share inside the workflow sandbox:
 * activity proxies, the status search attributes, the mail budget and "apply a new password".
 * The signup workflow keeps its own copies: changing them would be a signup release.
 */

/** Code checks answer inside the API's deadline: two short attempts (see the signup's verify). */
export const codeCheck = proxyLocalActivities<Pick<Activities, 'consumeCode'>>({
  startToCloseTimeout: '2 seconds',
  retry: { initialInterval: '100 ms', backoffCoefficient: 2, maximumInterval: '1 second', maximumAttempts: 2 },
});

export const codeIssue = proxyActivities<Pick<Activities, 'issueCode'>>({
  startToCloseTimeout: '5 seconds',
  scheduleToCloseTimeout: '1 hour',
  retry: { initialInterval: '500 ms', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

/** Database and session writes: one attempt lasts at most a Kafka request deadline; permanent refusals stop. */
export const accountDb = proxyActivities<Pick<Activities, 'findAccount' | 'isEmailRegistered' | 'setPassword' | 'changeEmail' | 'createUndoToken' | 'revokeSessions'>>({
  startToCloseTimeout: '15 seconds',
  scheduleToCloseTimeout: '1 hour',
  retry: { initialInterval: '500 ms', backoffCoefficient: 2, maximumInterval: '30 seconds', nonRetryableErrorTypes: [Failure.invalidRequest, Failure.emailTaken, AccountFailure.accountGone] },
});

/** The flow's status as search attributes, so stuck or failed flows show in Temporal UI and the CLI. */
export function flowStatus(initial: AccountFlowStatus) {
  let current = initial;
  return {
    get: () => current,
    set(next: AccountFlowStatus) {
      current = next;
      upsertSearchAttributes([
        { key: AccountFlowStatusKey, value: next },
        { key: AccountFlowStatusSinceKey, value: new Date(Date.now()) },
      ]);
    },
  };
}

/** The ApplicationFailure in an error's cause chain (activity failures wrap the activity's own). */
export function failureType(err: unknown): string | undefined {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) if (e instanceof ApplicationFailure) return e.type ?? undefined;
  return undefined;
}

/** SMTP attempts a failed mail activity made (reported by the activity; 1 when unknown). */
function attemptsOf(err: unknown): number {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if (e instanceof ApplicationFailure) {
      const n = Number(e.details?.[0]);
      return Number.isInteger(n) && n > 0 ? n : 1;
    }
  }
  return 1;
}

type MailActivities = Pick<Activities, 'sendCodeEmail' | 'sendPasswordChangedNotice' | 'sendEmailChangedNotice'>;

/**
 * One flow's mail budget: every mail of the flow (codes and notices) shares one deadline and one
 * count of SMTP attempts, like a signup's. `send` throws MAIL_BUDGET_SPENT once it is spent.
 */
export function mailBudget(limits: { emailBudgetMs: number; emailMaxAttempts: number }) {
  const deadline = Date.now() + limits.emailBudgetMs;
  let attempts = 0;
  return {
    async send(fn: (acts: MailActivities) => Promise<{ attempts: number } | undefined>): Promise<void> {
      const remainingMs = deadline - Date.now();
      const remainingAttempts = limits.emailMaxAttempts - attempts;
      if (remainingMs <= 0 || remainingAttempts <= 0) {
        throw ApplicationFailure.create({ type: Failure.mailBudgetSpent, message: 'the mail budget of this flow is spent', nonRetryable: true });
      }
      const acts = proxyActivities<MailActivities>({
        startToCloseTimeout: '30 seconds',
        scheduleToCloseTimeout: Math.max(1000, remainingMs),
        retry: {
          initialInterval: '2 seconds',
          backoffCoefficient: 2,
          maximumInterval: '5 minutes',
          maximumAttempts: Math.max(1, remainingAttempts),
          nonRetryableErrorTypes: [Failure.smtpPermanent, Failure.codeGone],
        },
      });
      try {
        attempts += (await fn(acts))?.attempts ?? 1;
      } catch (err) {
        attempts += attemptsOf(err);
        throw err;
      }
    },
  };
}

/** Why a flow's mail failed, for its outcome. */
export const mailFailureReason = (err: unknown) => (failureType(err) === Failure.smtpPermanent ? 'email_refused' : 'email_undeliverable');

/**
 * Writes the new password (DB processor over Kafka) and revokes the user's other sessions. The
 * password is written first: a crash between the two steps retries the revocation, never leaves
 * old sessions alive under a new password for longer than the retry.
 */
export async function applyNewPassword(input: { flowId: string; userId: string; passwordSealed: string; keepSessionId?: string }): Promise<void> {
  await accountDb.setPassword({ flowId: input.flowId, userId: input.userId, passwordSealed: input.passwordSealed });
  await accountDb.revokeSessions({ userId: input.userId, keepSessionId: input.keepSessionId });
}
