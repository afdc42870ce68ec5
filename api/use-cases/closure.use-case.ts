import type { Config } from '../../common/config';
import { inWords } from '../../common/durations';
import { accountClosureWorkflowId, seal, SealContext } from '../../common/crypto';
import { ACCOUNT_CLOSURE_WORKFLOW_ID_PREFIX } from '../../temporal-config/account-closure';
import { AccountFlowStatusKey, AccountFlowStatusSinceKey } from '../../temporal-config/account-flows';
import { restoreAccountUpdate, type AccountClosureLimits } from '../../workflows/account-closure.contract';
import type { accountClosureWorkflow } from '../../workflows/account-closure.workflow';
import type { SessionProfile, SessionStore } from '../sessions/session.store';
import type { RequestContext } from './context';
import { createAccountLookups } from './current-password';
import { boundedCall, redeemLink } from './temporal-calls';
import type { AccountFlowDeps } from './password.use-case';

export function accountClosureLimits(config: Config): AccountClosureLimits {
  return {
    graceMs: config.ACCOUNT_CLOSURE_GRACE_S * 1000,
    maxAttempts: config.MAX_CODE_ATTEMPTS,
    emailBudgetMs: config.EMAIL_RETRY_BUDGET_S * 1000,
    emailMaxAttempts: config.EMAIL_RETRY_MAX_ATTEMPTS,
  };
}

/** A restore link's token: the closure's workflow id, a dot, and the secret. */
const RESTORE_TOKEN = new RegExp(`^(${ACCOUNT_CLOSURE_WORKFLOW_ID_PREFIX}[0-9a-f]{32})\\.([A-Za-z0-9_-]{43})$`);

export interface ClosureDeps extends AccountFlowDeps {
  sessions: SessionStore;
}

export function createClosureUseCases(deps: ClosureDeps) {
  const { temporal, taskQueue, config, keys, limits, requester, sessions } = deps;
  const flowLimits = accountClosureLimits(config);
  const { checkCurrentPassword } = createAccountLookups({ requester, keys, limits });

  return {
    /**
     * DELETE /me: after the password, the closure starts (durable: the account is closed and, after
     * the grace period, erased) and every session ends before the answer. Two calls at once start one
     * closure.
     */
    async close(password: string, auth: { uid: string; sid: string; profile: SessionProfile }, ctx: RequestContext): Promise<string> {
      await checkCurrentPassword(password, auth, ctx, 'account_close_failed');
      const workflowId = accountClosureWorkflowId(keys, auth.uid);
      await boundedCall(temporal, config.TEMPORAL_CALL_TIMEOUT_MS, () =>
        temporal.workflow.start<typeof accountClosureWorkflow>('accountClosureWorkflow', {
          workflowId,
          taskQueue,
          workflowIdConflictPolicy: 'USE_EXISTING',
          args: [{ userId: auth.uid, emailSealed: seal(keys, auth.profile.email, SealContext.email(workflowId)), limits: flowLimits }],
          typedSearchAttributes: [
            { key: AccountFlowStatusKey, value: 'applying' },
            { key: AccountFlowStatusSinceKey, value: new Date() },
          ],
        }),
      );
      // The workflow revokes them too, after the account is closed (a sign-in can slip in before that).
      const revoked = await sessions.revokeAll(auth.uid);
      ctx.logger.info({ event: 'account_closed', userId: auth.uid, ip: ctx.ip, workflowId, revoked }, 'account closed, every session revoked');
      return `Your account is closed and every session was signed out. It will be erased in ${inWords(flowLimits.graceMs)}; the link we emailed you restores it until then.`;
    },

    /** POST /me/restore: the link from the closure notice opens the account again. */
    async restore(token: string, ctx: RequestContext): Promise<string> {
      await limits.consumeVerifySource(ctx.ip);
      const workflowId = await redeemLink({ temporal, keys, timeoutMs: config.VERIFY_TIMEOUT_MS }, RESTORE_TOKEN, token, restoreAccountUpdate, (id, reason) =>
        ctx.logger.info({ event: 'account_restore_failed', reason, ip: ctx.ip, workflowId: id }, 'account restore failed'),
      );
      ctx.logger.info({ event: 'account_restored', ip: ctx.ip, workflowId }, 'account restored');
      return 'Your account is open again. Sign in with your email and password.';
    },
  };
}
export type ClosureUseCases = ReturnType<typeof createClosureUseCases>;
