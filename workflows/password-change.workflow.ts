import { allHandlersFinished, condition, isCancellation, log, setHandler, workflowInfo } from '@temporalio/workflow';
import { applyNewPassword, failureType, flowStatus, mailBudget, mailFailureReason } from './account-flow';
import { passwordAppliedUpdate, type PasswordApplied, type PasswordChangeInput, type PasswordChangeOutcome } from './password-change.contract';

/**
 * A signed-in user's password change, already authorised by the API (current password checked):
 * writes the new password, revokes every other session, answers the `applied` update, then mails
 * the "password changed" notice within the flow's mail budget.
 */
export async function passwordChangeWorkflow(input: PasswordChangeInput): Promise<PasswordChangeOutcome> {
  const flowId = workflowInfo().workflowId;
  const status = flowStatus('applying');
  let applied: PasswordApplied | undefined;
  setHandler(passwordAppliedUpdate, async () => {
    await condition(() => applied !== undefined);
    return applied!;
  });

  try {
    await applyNewPassword({ flowId, userId: input.userId, passwordSealed: input.passwordSealed, keepSessionId: input.keepSessionId });
    applied = { ok: true };
  } catch (err) {
    if (isCancellation(err)) throw err;
    log.error('the new password could not be applied', { failure: failureType(err) ?? 'timeout' });
    applied = { ok: false, code: 'UNAVAILABLE' };
    status.set('failed');
    await condition(allHandlersFinished);
    return { status: 'failed', reason: 'apply_failed' };
  }

  status.set('notifying');
  let outcome: PasswordChangeOutcome = { status: 'completed' };
  try {
    await mailBudget(input.limits).send((acts) => acts.sendPasswordChangedNotice({ flowId, emailSealed: input.emailSealed, dedupKey: workflowInfo().runId }));
  } catch (err) {
    if (isCancellation(err)) throw err;
    log.error('the password change notice could not be delivered', { failure: failureType(err) ?? 'unknown' });
    outcome = { status: 'mail_failed', reason: mailFailureReason(err) };
  }
  status.set(outcome.status);
  await condition(allHandlersFinished);
  return outcome;
}
