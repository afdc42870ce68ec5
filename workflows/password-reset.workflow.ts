import {
  CancellationScope,
  allHandlersFinished,
  condition,
  currentUpdateInfo,
  isCancellation,
  log,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { Failure } from '../common/failures';
import { accountDb, applyNewPassword, codeCheck, codeIssue, failureType, flowStatus, mailBudget, mailFailureReason } from './account-flow';
import {
  requestResetCodeSignal,
  resetPasswordUpdate,
  resetStateQuery,
  type PasswordResetInput,
  type PasswordResetOutcome,
  type ResetPasswordInput,
  type ResetPasswordResult,
} from './password-reset.contract';

const HOUR_MS = 3_600_000;

/**
 * One password reset per normalised email (the workflow id is a keyed hash of it). Looks the
 * account up, issues a code and mails it to an existing account only (an unknown email gets a
 * code that is never mailed, so every later answer matches), answers `resetPassword` updates
 * until the window closes, and after a reset mails the "password changed" notice.
 */
export async function passwordResetWorkflow(input: PasswordResetInput): Promise<PasswordResetOutcome> {
  const { limits: L, emailSealed } = input;
  const flowId = workflowInfo().workflowId;
  const runId = workflowInfo().runId;
  const status = flowStatus('checking');
  const deadline = Date.now() + L.windowMs;
  const mail = mailBudget(L);

  let userId: string | null = null;
  let seq = 0;
  let codeIssuedAt = 0;
  const issuedAt: number[] = [];
  let resendRequested = false;
  let busy = false;
  let resetDone = false;
  let acceptedDigest: string | undefined;
  let ended: PasswordResetOutcome | undefined;
  let mailFailure: PasswordResetOutcome | undefined;
  /** Wrong codes per `${seq}:${source}`: someone else's guesses never use up the owner's tries. */
  const wrong = new Map<string, number>();
  const answered = new Map<string, ResetPasswordResult>();
  let sender: CancellationScope | undefined;
  let sending = false;

  setHandler(resetStateQuery, () => ({ status: status.get(), codesIssued: seq }));
  setHandler(requestResetCodeSignal, () => {
    resendRequested = true;
  });
  setHandler(resetPasswordUpdate, (v) => reset(v), {
    validator: (v: ResetPasswordInput) => {
      if (!v || typeof v !== 'object') throw new Error('reset input must be an object');
      if (typeof v.codeDigest !== 'string' || !/^[0-9a-f]{64}$/.test(v.codeDigest)) throw new Error('codeDigest malformed');
      if (typeof v.passwordSealed !== 'string' || v.passwordSealed.length < 10 || v.passwordSealed.length > 1024) throw new Error('passwordSealed malformed');
      if (v.source !== undefined && (typeof v.source !== 'string' || !/^[0-9a-f]{1,64}$/.test(v.source))) throw new Error('source malformed');
    },
  });

  async function reset(v: ResetPasswordInput): Promise<ResetPasswordResult> {
    const updateId = currentUpdateInfo()?.id ?? '';
    while (busy) await condition(() => !busy);
    busy = true;
    try {
      const earlier = answered.get(updateId);
      if (earlier) return earlier;
      const result = await resetOnce(v, updateId);
      if (updateId && !(!result.ok && result.code === 'UNAVAILABLE')) answered.set(updateId, result);
      return result;
    } finally {
      busy = false;
    }
  }

  async function resetOnce(v: ResetPasswordInput, updateId: string): Promise<ResetPasswordResult> {
    const key = `${seq}:${v.source ?? '-'}`;
    const left = () => Math.max(0, L.maxAttempts - (wrong.get(key) ?? 0));
    // A used code never opens a second session: a client retrying after a timeout is told to sign in.
    if (resetDone) return acceptedDigest === v.codeDigest ? { ok: false, code: 'PASSWORD_ALREADY_RESET' } : { ok: false, code: 'INVALID_CODE', attemptsLeft: left() };
    if (ended || seq === 0 || Date.now() >= codeIssuedAt + L.codeTtlMs) return { ok: false, code: 'CODE_EXPIRED' };
    if (left() === 0) return { ok: false, code: 'TOO_MANY_ATTEMPTS' };

    let outcome: 'ok' | 'mismatch' | 'missing';
    try {
      outcome = await codeCheck.consumeCode({ signupId: flowId, digest: v.codeDigest, consumer: updateId });
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.warn('code check failed; the attempt does not count', { failure: failureType(err) ?? (err as Error).name });
      return { ok: false, code: 'UNAVAILABLE' };
    }
    if (outcome === 'missing') return { ok: false, code: 'CODE_EXPIRED' };
    // The code of an unknown email was never mailed: even a lucky guess only counts as wrong.
    if (outcome === 'mismatch' || userId === null) {
      wrong.set(key, (wrong.get(key) ?? 0) + 1);
      return left() > 0 ? { ok: false, code: 'INVALID_CODE', attemptsLeft: left() } : { ok: false, code: 'TOO_MANY_ATTEMPTS' };
    }

    acceptedDigest = v.codeDigest;
    status.set('applying');
    try {
      await applyNewPassword({ flowId, userId, passwordSealed: v.passwordSealed });
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.error('the new password could not be applied', { failure: failureType(err) ?? 'timeout' });
      ended = { status: 'failed', reason: 'apply_failed' };
      status.set('failed');
      return { ok: false, code: 'CODE_EXPIRED' };
    }
    resetDone = true;
    return { ok: true, userId };
  }

  const canIssue = () => {
    const now = Date.now();
    return now - codeIssuedAt >= L.resendCooldownMs && issuedAt.filter((t) => now - t < HOUR_MS).length < L.resendMaxPerHour;
  };

  /** Issues a fresh code (it replaces the previous one) and mails it to an existing account. */
  async function sendCode(): Promise<void> {
    for (;;) {
      const next = seq + 1;
      await codeIssue.issueCode({ signupId: flowId, seq: next, ttlMs: L.codeTtlMs, run: runId });
      seq = next;
      codeIssuedAt = Date.now();
      issuedAt.push(codeIssuedAt);
      if (userId === null) return;
      status.set('sending_code');
      try {
        await mail.send((acts) => acts.sendCodeEmail({ signupId: flowId, emailSealed, seq, ttlMs: L.codeTtlMs, run: runId, purpose: 'password-reset' }));
        status.set('awaiting_code');
        return;
      } catch (err) {
        if (failureType(err) !== Failure.codeGone) throw err;
        log.info('code expired before delivery; issuing a new one');
      }
    }
  }

  function startSending(): void {
    resendRequested = false;
    sending = true;
    sender = new CancellationScope();
    sender
      .run(sendCode)
      .catch((err: unknown) => {
        if (isCancellation(err)) return;
        log.error('the reset code could not be delivered', { failure: failureType(err) ?? 'unknown' });
        mailFailure = { status: 'mail_failed', reason: mailFailureReason(err) };
      })
      .finally(() => {
        sending = false;
      });
  }

  async function run(): Promise<PasswordResetOutcome> {
    try {
      userId = (await accountDb.findAccount({ flowId, emailSealed }))?.userId ?? null;
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.error('the account lookup gave up', { failure: failureType(err) ?? 'timeout' });
      status.set('failed');
      return { status: 'failed', reason: 'database_unavailable' };
    }
    status.set(userId ? 'sending_code' : 'no_account');
    startSending();
    for (;;) {
      const woke = await condition(() => resetDone || ended !== undefined || mailFailure !== undefined || (resendRequested && !sending), Math.max(0, deadline - Date.now()));
      if (resetDone || ended) return ended ?? { status: 'completed' };
      if (mailFailure) {
        status.set('mail_failed');
        return mailFailure;
      }
      if (!woke) {
        await condition(() => !busy);
        if (resetDone || ended) return ended ?? { status: 'completed' };
        status.set('expired');
        return { status: 'expired' };
      }
      if (canIssue()) startSending();
      else resendRequested = false;
    }
  }

  let outcome: PasswordResetOutcome;
  try {
    outcome = await run();
  } finally {
    await CancellationScope.nonCancellable(async () => {
      if (sending) sender?.cancel();
      await condition(() => !sending);
    });
  }
  if (resetDone) outcome = await notify();
  await condition(allHandlersFinished);
  return outcome;

  /** The "your password was changed" notice, within what is left of the flow's mail budget. */
  async function notify(): Promise<PasswordResetOutcome> {
    status.set('notifying');
    try {
      await mail.send((acts) => acts.sendPasswordChangedNotice({ flowId, emailSealed, dedupKey: runId }));
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.error('the password change notice could not be delivered', { failure: failureType(err) ?? 'unknown' });
      status.set('mail_failed');
      return { status: 'mail_failed', reason: mailFailureReason(err) };
    }
    status.set('completed');
    return { status: 'completed' };
  }
}
