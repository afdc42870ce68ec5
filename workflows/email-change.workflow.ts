import { ParentClosePolicy, allHandlersFinished, condition, isCancellation, log, setHandler, startChild, workflowInfo } from '@temporalio/workflow';
import { Failure } from '../common/failures';
import { accountDb, codeCheck, codeIssue, failureType, flowStatus, mailBudget, mailFailureReason } from './account-flow';
import {
  emailChangeStateQuery,
  undoEmailChangeUpdate,
  verifyEmailChangeUpdate,
  type EmailChangeInput,
  type EmailChangeOutcome,
  type EmailUndoInput,
  type EmailUndoOutcome,
  type UndoEmailChangeResult,
  type VerifyEmailChangeInput,
  type VerifyEmailChangeResult,
} from './email-change.contract';

/**
 * A signed-in user's change of email, already authorised by the API (password checked). A code
 * goes to the new address unless another account has it (then a code is issued but never mailed,
 * so every answer is the same); the right code moves the account (DB processor; the unique index
 * decides), revokes every other session, and opens the undo window.
 */
export async function emailChangeWorkflow(input: EmailChangeInput): Promise<EmailChangeOutcome> {
  const { limits: L } = input;
  const flowId = workflowInfo().workflowId;
  const runId = workflowInfo().runId;
  const status = flowStatus('checking');
  let taken = false;
  let codeIssuedAt = 0;
  let seq = 0;
  let busy = false;
  let done: EmailChangeOutcome | undefined;
  const wrong = new Map<string, number>();

  setHandler(emailChangeStateQuery, () => ({ status: status.get(), codesIssued: seq }));
  setHandler(verifyEmailChangeUpdate, (v) => verify(v), {
    validator: (v: VerifyEmailChangeInput) => {
      if (!v || typeof v !== 'object') throw new Error('input must be an object');
      if (typeof v.codeDigest !== 'string' || !/^[0-9a-f]{64}$/.test(v.codeDigest)) throw new Error('codeDigest malformed');
      if (typeof v.keepSessionId !== 'string' || !/^[A-Za-z0-9_-]{16,64}$/.test(v.keepSessionId)) throw new Error('keepSessionId malformed');
      if (v.source !== undefined && (typeof v.source !== 'string' || !/^[0-9a-f]{1,64}$/.test(v.source))) throw new Error('source malformed');
    },
  });

  async function verify(v: VerifyEmailChangeInput): Promise<VerifyEmailChangeResult> {
    while (busy) await condition(() => !busy);
    busy = true;
    try {
      return await verifyOnce(v);
    } finally {
      busy = false;
    }
  }

  async function verifyOnce(v: VerifyEmailChangeInput): Promise<VerifyEmailChangeResult> {
    const key = `${seq}:${v.source ?? '-'}`;
    const left = () => Math.max(0, L.maxAttempts - (wrong.get(key) ?? 0));
    if (done || seq === 0 || Date.now() >= codeIssuedAt + L.codeTtlMs) return { ok: false, code: 'CODE_EXPIRED' };
    if (left() === 0) return { ok: false, code: 'TOO_MANY_ATTEMPTS' };
    let outcome: 'ok' | 'mismatch' | 'missing';
    try {
      outcome = await codeCheck.consumeCode({ signupId: flowId, digest: v.codeDigest });
    } catch (err) {
      if (isCancellation(err)) throw err;
      return { ok: false, code: 'UNAVAILABLE' };
    }
    if (outcome === 'missing') return { ok: false, code: 'CODE_EXPIRED' };
    // A taken address never got its code: even a lucky guess only counts as wrong.
    if (outcome === 'mismatch' || taken) {
      wrong.set(key, (wrong.get(key) ?? 0) + 1);
      return left() > 0 ? { ok: false, code: 'INVALID_CODE', attemptsLeft: left() } : { ok: false, code: 'TOO_MANY_ATTEMPTS' };
    }
    status.set('applying');
    try {
      await accountDb.changeEmail({ flowId, userId: input.userId, fromSealed: input.oldEmailSealed, toSealed: input.newEmailSealed });
      await accountDb.revokeSessions({ userId: input.userId, keepSessionId: v.keepSessionId });
    } catch (err) {
      if (isCancellation(err)) throw err;
      const takenNow = failureType(err) === Failure.emailTaken;
      log.error('the email change could not be applied', { failure: failureType(err) ?? 'timeout' });
      done = { status: 'failed', reason: takenNow ? 'email_taken' : 'apply_failed' };
      status.set('failed');
      return { ok: false, code: takenNow ? 'EMAIL_TAKEN' : 'UNAVAILABLE' };
    }
    await startChild(emailUndoWorkflow, {
      workflowId: input.undo.workflowId,
      args: [{ userId: input.userId, oldEmailSealed: input.undo.oldEmailSealed, newEmailSealed: input.undo.newEmailSealed, limits: L }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
    done = { status: 'completed' };
    status.set('completed');
    return { ok: true };
  }

  try {
    taken = await accountDb.isEmailRegistered({ signupId: flowId, emailSealed: input.newEmailSealed });
  } catch (err) {
    if (isCancellation(err)) throw err;
    status.set('failed');
    return { status: 'failed', reason: 'database_unavailable' };
  }
  await codeIssue.issueCode({ signupId: flowId, seq: 1, ttlMs: L.codeTtlMs, run: runId });
  seq = 1;
  codeIssuedAt = Date.now();
  if (!taken) {
    status.set('sending_code');
    try {
      await mailBudget(L).send((acts) => acts.sendCodeEmail({ signupId: flowId, emailSealed: input.newEmailSealed, seq, ttlMs: L.codeTtlMs, run: runId, purpose: 'email-change' }));
    } catch (err) {
      if (isCancellation(err)) throw err;
      status.set('mail_failed');
      return { status: 'mail_failed', reason: mailFailureReason(err) };
    }
  }
  status.set(taken ? 'no_account' : 'awaiting_code');
  // The code phase lasts as long as its one code.
  await condition(() => done !== undefined, Math.max(0, codeIssuedAt + L.codeTtlMs - Date.now()));
  await condition(() => !busy);
  await condition(allHandlersFinished);
  if (done) return done;
  status.set('expired');
  return { status: 'expired' };
}

/**
 * The undo window of an applied email change: mails the old address a one-time link and, for
 * `undoWindowMs` (72 h), lets it move the account back and revoke every session.
 */
export async function emailUndoWorkflow(input: EmailUndoInput): Promise<EmailUndoOutcome> {
  const flowId = workflowInfo().workflowId;
  const runId = workflowInfo().runId;
  const status = flowStatus('notifying');
  const closesAt = Date.now() + input.limits.undoWindowMs;
  let digest: string | undefined;
  let undone = false;
  let busy = false;
  let wrong = 0;

  setHandler(undoEmailChangeUpdate, async ({ tokenDigest }): Promise<UndoEmailChangeResult> => {
    // Registered before the token exists, so an early call waits for it instead of finding no handler.
    await condition(() => digest !== undefined);
    while (busy) await condition(() => !busy);
    busy = true;
    try {
      if (undone || wrong >= input.limits.maxAttempts || tokenDigest !== digest) {
        if (!undone) wrong += 1;
        return { ok: false, code: 'INVALID_TOKEN' };
      }
      status.set('applying');
      try {
        await accountDb.changeEmail({ flowId, userId: input.userId, fromSealed: input.newEmailSealed, toSealed: input.oldEmailSealed });
        await accountDb.revokeSessions({ userId: input.userId });
      } catch (err) {
        if (isCancellation(err)) throw err;
        log.error('the email change could not be undone', { failure: failureType(err) ?? 'timeout' });
        status.set('undo_window');
        return { ok: false, code: 'UNAVAILABLE' };
      }
      undone = true;
      return { ok: true };
    } finally {
      busy = false;
    }
  }, {
    validator: ({ tokenDigest }) => {
      if (typeof tokenDigest !== 'string' || !/^[0-9a-f]{64}$/.test(tokenDigest)) throw new Error('tokenDigest malformed');
    },
  });

  digest = (await accountDb.createUndoToken({ flowId, run: runId, ttlMs: input.limits.undoWindowMs })).digest;
  try {
    await mailBudget(input.limits).send((acts) => acts.sendEmailChangedNotice({ flowId, emailSealed: input.oldEmailSealed, run: runId, undoTtlMs: input.limits.undoWindowMs }));
  } catch (err) {
    if (isCancellation(err)) throw err;
    // The link could not be delivered; the window stays open all the same (support can still act).
    log.error('the email change notice could not be delivered', { failure: failureType(err) ?? 'unknown' });
  }
  status.set('undo_window');
  await condition(() => undone, Math.max(0, closesAt - Date.now()));
  await condition(() => !busy);
  await condition(allHandlersFinished);
  status.set(undone ? 'undone' : 'completed');
  return { status: undone ? 'undone' : 'completed' };
}
