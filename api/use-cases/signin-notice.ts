import type { Client } from '@temporalio/client';
import type { Config } from '../../common/config';
import { seal, SealContext, signinNoticeWorkflowId, type Keys } from '../../common/crypto';
import { AccountFlowStatusKey, AccountFlowStatusSinceKey } from '../../temporal-config/account-flows';
import type { signinNoticeWorkflow } from '../../workflows/signin-notice.workflow';
import type { RequestContext } from './context';
import { boundedCall } from './temporal-calls';

/** The "new sign-in" notice: a sign-in from a device without this account's device cookie. */
export function createSigninNotices(deps: { temporal: Client; taskQueue: string; config: Config; keys: Keys }) {
  const { temporal, taskQueue, config, keys } = deps;
  const limits = { emailBudgetMs: config.EMAIL_RETRY_BUDGET_S * 1000, emailMaxAttempts: config.EMAIL_RETRY_MAX_ATTEMPTS };
  return {
    /**
     * Starts the notice's workflow and returns at once: the sign-in never waits for Temporal. When
     * the start fails (Temporal unreachable) the notice is lost and the failure logged.
     */
    newDevice(email: string, sessionId: string, ctx: RequestContext): void {
      const workflowId = signinNoticeWorkflowId(keys, sessionId);
      const details = JSON.stringify({ ip: ctx.ip, userAgent: ctx.userAgent });
      void boundedCall(temporal, config.TEMPORAL_CALL_TIMEOUT_MS, () =>
        temporal.workflow.start<typeof signinNoticeWorkflow>('signinNoticeWorkflow', {
          workflowId,
          taskQueue,
          args: [{
            emailSealed: seal(keys, email, SealContext.email(workflowId)),
            detailsSealed: seal(keys, details, SealContext.signinDetails(workflowId)),
            at: new Date().toISOString(),
            limits,
          }],
          typedSearchAttributes: [
            { key: AccountFlowStatusKey, value: 'notifying' },
            { key: AccountFlowStatusSinceKey, value: new Date() },
          ],
        }),
      ).catch((err: unknown) => {
        ctx.logger.warn({ event: 'signin_notice_not_started', workflowId, error: (err as Error).name }, 'the new sign-in notice could not be started');
      });
    },
  };
}
export type SigninNotices = ReturnType<typeof createSigninNotices>;
