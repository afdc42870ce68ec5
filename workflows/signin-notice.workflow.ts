import { isCancellation, log, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { failureType, flowStatus, mailBudget, mailFailureReason } from './account-flow';
import type { SigninNoticeInput, SigninNoticeOutcome } from './signin-notice.contract';

/** mailBudget's proxy takes any activity; its type names the older flows' mails (account-flow.ts is in their releases). */
type NoticeMail = Pick<Activities, 'sendNewSigninNotice'>;

/** Mails the "new sign-in" notice within a mail budget, so an SMTP outage delays it instead of losing it. */
export async function signinNoticeWorkflow(input: SigninNoticeInput): Promise<SigninNoticeOutcome> {
  const flowId = workflowInfo().workflowId;
  const status = flowStatus('notifying');
  try {
    await mailBudget(input.limits).send((acts) =>
      (acts as unknown as NoticeMail).sendNewSigninNotice({ flowId, emailSealed: input.emailSealed, detailsSealed: input.detailsSealed, at: input.at }),
    );
  } catch (err) {
    if (isCancellation(err)) throw err;
    log.error('the new sign-in notice could not be delivered', { failure: failureType(err) ?? 'unknown' });
    status.set('mail_failed');
    return { status: 'mail_failed', reason: mailFailureReason(err) };
  }
  status.set('completed');
  return { status: 'completed' };
}
