import { randomUUID } from 'node:crypto';
import { WithStartWorkflowOperation, type Client } from '@temporalio/client';
import bcrypt from 'bcrypt';
import type { Config } from '../../common/config';
import { codeDigest, emailHash, passwordChangeWorkflowId, passwordResetWorkflowId, seal, SealContext, sourceHash, type Keys } from '../../common/crypto';
import { AppError, unavailable } from '../../common/errors';
import { timeBcrypt } from '../../common/metrics';
import type { KafkaRequester } from '../../common/kafka/request-reply';
import { AccountFlowStatusKey, AccountFlowStatusSinceKey, type AccountFlowStatus } from '../../temporal-config/account-flows';
import { passwordAppliedUpdate } from '../../workflows/password-change.contract';
import type { passwordChangeWorkflow } from '../../workflows/password-change.workflow';
import { requestResetCodeSignal, resetPasswordUpdate, type PasswordResetLimits } from '../../workflows/password-reset.contract';
import type { passwordResetWorkflow } from '../../workflows/password-reset.workflow';
import { passwordProblem } from '../security/password-policy';
import type { RateLimits } from '../security/rate-limits';
import { sourceKey } from '../security/source-key';
import type { SessionProfile } from '../sessions/session.store';
import type { MfaMethod } from '../mfa/mfa.use-case';
import type { RequestContext } from './context';
import { createAccountLookups } from './current-password';
import type { IssuedSession, SessionIssuer } from './sessions.use-case';
import { boundedCall, codeAttempt, invalidCode } from './temporal-calls';

export const resetAccepted = (config: Config) =>
  `If an account uses this email, a password reset code is on its way. It expires in ${Math.round(config.CODE_TTL_S / 60)} minutes.`;

export function passwordResetLimits(config: Config): PasswordResetLimits {
  return {
    codeTtlMs: config.CODE_TTL_S * 1000,
    windowMs: config.PASSWORD_RESET_WINDOW_S * 1000,
    resendCooldownMs: config.RESEND_COOLDOWN_S * 1000,
    resendMaxPerHour: config.RESEND_MAX_PER_HOUR,
    maxAttempts: config.MAX_CODE_ATTEMPTS,
    emailBudgetMs: config.EMAIL_RETRY_BUDGET_S * 1000,
    emailMaxAttempts: config.EMAIL_RETRY_MAX_ATTEMPTS,
  };
}

const statusAttributes = (status: AccountFlowStatus) => [
  { key: AccountFlowStatusKey, value: status },
  { key: AccountFlowStatusSinceKey, value: new Date() },
];

/** What every account flow's use-cases need: Temporal, the settings, the keys, the limits and the DB processor. */
export interface AccountFlowDeps {
  temporal: Client;
  taskQueue: string;
  config: Config;
  keys: Keys;
  limits: RateLimits;
  requester: KafkaRequester;
}

export interface PasswordDeps extends AccountFlowDeps {
  issueSession: SessionIssuer;
}

export function createPasswordUseCases(deps: PasswordDeps) {
  const { temporal, taskQueue, config, keys, limits, requester, issueSession } = deps;
  const resetLimits = passwordResetLimits(config);
  const bounded = <T>(ms: number, fn: () => Promise<T>) => boundedCall(temporal, ms, fn);
  const weak = (password: string, email: string) => {
    const problem = passwordProblem(password, email);
    if (problem) throw new AppError('WEAK_PASSWORD', problem);
  };

  const { findUser, checkCurrentPassword } = createAccountLookups({ requester, keys, limits });

  return {
    /** POST /password/forgot: start the reset for this email, or ask the running one for a new code. */
    async forgot(email: string, ctx: RequestContext): Promise<string> {
      const eh = emailHash(keys, email);
      ctx.audit = { ...ctx.audit, emailHash: eh };
      await limits.codeRequested(eh, ctx.ip);
      const workflowId = passwordResetWorkflowId(keys, email);
      await bounded(config.TEMPORAL_CALL_TIMEOUT_MS, () =>
        temporal.workflow.signalWithStart<typeof passwordResetWorkflow>('passwordResetWorkflow', {
          workflowId,
          taskQueue,
          args: [{ emailSealed: seal(keys, email, SealContext.email(workflowId)), limits: resetLimits }],
          signal: requestResetCodeSignal,
          signalArgs: [],
          typedSearchAttributes: statusAttributes('checking'),
        }),
      );
      ctx.logger.info({ event: 'password_reset_requested', emailHash: eh, ip: ctx.ip, workflowId }, 'password reset requested');
      return resetAccepted(config);
    },

    /** POST /password/reset: the code (as a keyed digest) and the sealed new hash go to the reset workflow. */
    async reset(input: { email: string; code: string; password: string }, ctx: RequestContext): Promise<{ user: SessionProfile; session: IssuedSession; mfaRequired: boolean; methods: MfaMethod[] }> {
      const eh = emailHash(keys, input.email);
      ctx.audit = { ...ctx.audit, emailHash: eh };
      await limits.consumeVerifySource(ctx.ip);
      weak(input.password, input.email);
      const workflowId = passwordResetWorkflowId(keys, input.email);
      const args = {
        codeDigest: codeDigest(keys, workflowId, input.code),
        passwordSealed: seal(keys, await timeBcrypt('hash', () => bcrypt.hash(input.password, config.BCRYPT_COST)), SealContext.newPasswordHashForFlow(workflowId)),
        source: sourceHash(keys, sourceKey(ctx.ip)),
      };
      const result = await codeAttempt(
        'password-reset',
        limits,
        eh,
        () => ctx.logger.info({ event: 'password_reset_failed', reason: 'no_pending_reset', emailHash: eh, ip: ctx.ip }, 'password reset failed'),
        () => bounded(config.VERIFY_TIMEOUT_MS, () => temporal.workflow.getHandle(workflowId).executeUpdate(resetPasswordUpdate, { args: [args] })),
      );
      if (!result.ok) {
        ctx.logger.info({ event: 'password_reset_failed', reason: result.code, emailHash: eh, ip: ctx.ip, workflowId }, 'password reset failed');
        if (result.code === 'INVALID_CODE') throw invalidCode(result.attemptsLeft);
        if (result.code === 'UNAVAILABLE') throw unavailable('worker');
        // The reset's contract answers an expired code 410 Gone (signup's verify keeps 400).
        if (result.code === 'CODE_EXPIRED') throw new AppError('CODE_EXPIRED');
        throw new AppError(result.code);
      }
      // Every session of the user was revoked by the workflow; this one starts after that.
      const found = await findUser(input.email);
      if (!found || found.profile.id !== result.userId) throw unavailable('db-processor');
      // The mailbox proves the address, but an operator's lock still keeps every session out.
      if (found.locked) throw new AppError('ACCOUNT_LOCKED');
      // The mailbox proves the email, not the second factor: an account with one gets the partial session.
      const partial = found.methods.length > 0;
      const session = await issueSession(found.profile, ctx, { amr: ['otp'], origin: 'password_reset', partial });
      ctx.logger.info({ event: 'password_reset', userId: result.userId, ip: ctx.ip, workflowId, mfaRequired: partial }, 'password reset, other sessions revoked');
      return { user: found.profile, session, mfaRequired: partial, methods: found.methods };
    },

    /**
     * POST /password/change: the current password is checked like a sign-in (and counts against
     * the same limits), then a password change workflow writes the new one and revokes every
     * other session before this answers.
     */
    async change(input: { currentPassword: string; newPassword: string }, auth: { uid: string; sid: string; profile: SessionProfile }, ctx: RequestContext): Promise<void> {
      const { email } = auth.profile;
      weak(input.newPassword, email);
      await checkCurrentPassword(input.currentPassword, auth, ctx, 'password_change_failed');

      const workflowId = passwordChangeWorkflowId(keys, auth.uid, randomUUID());
      const start = new WithStartWorkflowOperation<typeof passwordChangeWorkflow>('passwordChangeWorkflow', {
        workflowId,
        taskQueue,
        workflowIdConflictPolicy: 'FAIL',
        args: [{
          userId: auth.uid,
          emailSealed: seal(keys, email, SealContext.email(workflowId)),
          passwordSealed: seal(keys, await timeBcrypt('hash', () => bcrypt.hash(input.newPassword, config.BCRYPT_COST)), SealContext.newPasswordHashForFlow(workflowId)),
          keepSessionId: auth.sid,
          limits: { emailBudgetMs: resetLimits.emailBudgetMs, emailMaxAttempts: resetLimits.emailMaxAttempts },
        }],
        typedSearchAttributes: statusAttributes('applying'),
      });
      const applied = await bounded(config.VERIFY_TIMEOUT_MS, () => temporal.workflow.executeUpdateWithStart(passwordAppliedUpdate, { startWorkflowOperation: start }));
      if (!applied.ok) throw unavailable('worker');
      ctx.logger.info({ event: 'password_changed', userId: auth.uid, ip: ctx.ip, workflowId }, 'password changed, other sessions revoked');
    },
  };
}
export type PasswordUseCases = ReturnType<typeof createPasswordUseCases>;
