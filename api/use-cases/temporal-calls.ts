import { WorkflowNotFoundError } from '@temporalio/common';
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { codeDigest, type Keys } from '../../common/crypto';
import { AppError, unavailable, type ErrorCode } from '../../common/errors';
import { metrics } from '../../common/metrics';
import type { RestoreAccountResult } from '../../workflows/account-closure.contract';
import type { UndoEmailChangeResult, VerifyEmailChangeResult } from '../../workflows/email-change.contract';
import type { PasswordApplied } from '../../workflows/password-change.contract';
import type { ResetPasswordResult } from '../../workflows/password-reset.contract';
import type { VerifyResult } from '../../workflows/signup.contract';
import type { RateLimits } from '../security/rate-limits';

/**
 * The failure codes workflow updates answer with are spelled in their contracts (workflow sources,
 * frozen per release), and each must be a code of the one catalog in common/errors.ts: a code
 * that is not fails to compile here.
 */
type UpdateFailureCode = Extract<VerifyResult | ResetPasswordResult | VerifyEmailChangeResult | UndoEmailChangeResult | RestoreAccountResult | PasswordApplied, { ok: false }>['code'];
export const updateFailureCodesAreCatalogued: [UpdateFailureCode] extends [ErrorCode] ? true : never = true;

/**
 * True for a workflow that is not running (never started, completed, expired): nothing pending.
 * The client turns the server's NOT_FOUND ("workflow execution already completed" included) into
 * WorkflowNotFoundError.
 */
export function isNotRunning(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError;
}

/** A call to a flow that has nothing pending for this email: answered like a wrong code. */
export const noPendingFlow = (err: unknown) => isNotRunning(err) || err instanceof WorkflowUpdateFailedError;

/** Bounds a Temporal call: an unreachable server or a queue without workers becomes a 503. */
export async function boundedCall<T>(temporal: Client, ms: number, fn: () => Promise<T>): Promise<T> {
  try {
    return await temporal.withDeadline(Date.now() + ms, fn);
  } catch (err) {
    if (noPendingFlow(err)) throw err;
    throw unavailable('temporal', err);
  }
}

export const invalidCode = (attemptsLeft: number) =>
  new AppError('INVALID_CODE', `The code is not valid. ${attemptsLeft} ${attemptsLeft === 1 ? 'attempt' : 'attempts'} left.`, { attemptsLeft });

/**
 * One code attempt against a flow's update, under the per-email cap across every run (taken
 * before the code is compared, so parallel guesses cannot overrun it; a right code or our own
 * failure gives the point back). An email with no pending flow counts down like a wrong code, so
 * the answers cannot tell it from one that has a flow. `onMissing` logs that case. Every check
 * counts in cfd_code_checks_total under `flow` (a flow that could not check, UNAVAILABLE, does not).
 */
export async function codeAttempt<R extends { ok: boolean; code?: string }>(
  flow: 'signup' | 'password-reset',
  limits: RateLimits,
  emailKey: string,
  onMissing: () => void,
  call: () => Promise<R>,
): Promise<R> {
  await limits.consumeVerifyEmailAttempt(emailKey);
  let result: R;
  try {
    result = await call();
  } catch (err) {
    if (noPendingFlow(err)) {
      metrics.codeChecks.inc({ flow, result: 'NO_PENDING_FLOW' });
      onMissing();
      const attemptsLeft = await limits.verifyMissed(emailKey);
      if (attemptsLeft === 0) throw new AppError('TOO_MANY_ATTEMPTS');
      throw invalidCode(attemptsLeft);
    }
    await limits.refundVerifyEmailAttempt(emailKey);
    throw err;
  }
  if (result.code !== 'UNAVAILABLE') metrics.codeChecks.inc({ flow, result: result.ok ? 'accepted' : String(result.code) });
  if (result.ok || result.code === 'UNAVAILABLE') await limits.refundVerifyEmailAttempt(emailKey);
  return result;
}

/** What a one-time link's update answers (an email change's undo, a closure's restore). */
export type LinkResult = { ok: true } | { ok: false; code: 'INVALID_TOKEN' | 'UNAVAILABLE' };

/**
 * Redeems a one-time link: its token is the flow's workflow id, a dot and a secret (`pattern`
 * captures both); the secret's keyed digest goes to the flow's update. A malformed token, a flow
 * that is not running and a refusal are all INVALID_TOKEN; a flow that could not apply is a 503.
 * Answers the workflow id, for the caller's log.
 */
export async function redeemLink(
  deps: { temporal: Client; keys: Keys; timeoutMs: number },
  pattern: RegExp,
  token: string,
  update: UpdateDefinition<LinkResult, [{ tokenDigest: string }]>,
  onRefused: (workflowId: string, reason: string) => void,
): Promise<string> {
  const m = pattern.exec(token);
  if (!m) throw new AppError('INVALID_TOKEN');
  const [, workflowId, secret] = m;
  let result: LinkResult;
  try {
    result = await boundedCall(deps.temporal, deps.timeoutMs, () =>
      deps.temporal.workflow.getHandle(workflowId).executeUpdate(update, { args: [{ tokenDigest: codeDigest(deps.keys, workflowId, secret) }] }),
    );
  } catch (err) {
    if (noPendingFlow(err)) throw new AppError('INVALID_TOKEN');
    throw err;
  }
  if (!result.ok) {
    onRefused(workflowId, result.code);
    if (result.code === 'UNAVAILABLE') throw unavailable('worker');
    throw new AppError('INVALID_TOKEN');
  }
  return workflowId;
}
