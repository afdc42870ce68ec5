import { isCancellation, log, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { failureType, flowStatus, mailBudget, mailFailureReason } from './account-flow';
import type { MfaNoticeInput, MfaNoticeOutcome } from './mfa-notice.contract';

/** mailBudget's proxy takes any activity; its type names the older flows' mails (account-flow.ts is in their releases). */
type NoticeMail = Pick<Activities, 'sendMfaNotice'>;

/** Mails the "your second factor changed" notice within a mail budget: an SMTP outage delays it, never loses it. */
export async function mfaNoticeWorkflow(input: MfaNoticeInput): Promise<MfaNoticeOutcome> {
  const flowId = workflowInfo().workflowId;
  const status = flowStatus('notifying');
  try {
    await mailBudget(input.limits).send((acts) => (acts as unknown as NoticeMail).sendMfaNotice({ flowId, emailSealed: input.emailSealed, event: input.event, at: input.at }));
  } catch (err) {
    if (isCancellation(err)) throw err;
    log.error('the second-factor notice could not be delivered', { failure: failureType(err) ?? 'unknown' });
    status.set('mail_failed');
    return { status: 'mail_failed', reason: mailFailureReason(err) };
  }
  status.set('completed');
  return { status: 'completed' };
}
